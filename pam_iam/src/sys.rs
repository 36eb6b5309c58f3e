//! Every `unsafe` block of pam_iam: the `PAM_AUTHTOK` item and the PAM
//! environment, which pam-bindings 0.4 does not expose, and reading our own
//! module data (its `get_data` is unsafe). Groups and uids go through `nix`.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};

use iam::login::Outcome;
use iam::secret::SecretString;
use nix::unistd::{Gid, Group, getgroups, getuid, setgroups};
use pam::module::PamHandle;
use zeroize::Zeroize;

/// Linux-PAM's item number for the authentication token (`_pam_types.h`).
const PAM_AUTHTOK: c_int = 6;
const PAM_SUCCESS: c_int = 0;

#[link(name = "pam")]
unsafe extern "C" {
    fn pam_get_item(pamh: *const PamHandle, item_type: c_int, item: *mut *const c_void) -> c_int;
    fn pam_set_item(pamh: *mut PamHandle, item_type: c_int, item: *const c_void) -> c_int;
    fn pam_getenv(pamh: *const PamHandle, name: *const c_char) -> *const c_char;
    fn pam_putenv(pamh: *mut PamHandle, name_value: *const c_char) -> c_int;
}

/// The password an earlier module in the stack stored, if any.
pub(crate) fn authtok(pamh: &PamHandle) -> Option<SecretString> {
    let mut item: *const c_void = std::ptr::null();
    // SAFETY: `pamh` is the live handle libpam passed to this hook; pam_get_item
    // only writes a pointer to libpam-owned memory into `item`.
    let rc = unsafe { pam_get_item(pamh, PAM_AUTHTOK, &mut item) };
    if rc != PAM_SUCCESS || item.is_null() {
        return None;
    }
    // SAFETY: PAM_AUTHTOK is a NUL-terminated string owned by libpam and valid
    // until the item is set again; we copy it before returning.
    let bytes = unsafe { CStr::from_ptr(item.cast()) }.to_bytes();
    std::str::from_utf8(bytes).ok().map(SecretString::from)
}

/// Leaves `password` in `PAM_AUTHTOK` for later modules (libpam copies it).
pub(crate) fn set_authtok(pamh: &mut PamHandle, password: &SecretString) {
    let Ok(c_password) = CString::new(password.expose()) else {
        return;
    };
    // SAFETY: `pamh` is the live handle of this hook and `c_password` a valid
    // NUL-terminated string that outlives the call; libpam stores a copy.
    unsafe { pam_set_item(pamh, PAM_AUTHTOK, c_password.as_ptr().cast()) };
    c_password.into_bytes_with_nul().zeroize();
}

/// Whether the process calling chauthtok is root (then, as with pam_unix,
/// the current password is not asked unless the token expired).
pub(crate) fn caller_is_root() -> bool {
    getuid().is_root()
}

/// Adds the local groups named in `names` to the process's supplementary
/// groups (sshd and login call setcred after initgroups and before dropping
/// privileges, as with pam_group). Names with no local group are skipped.
pub(crate) fn grant_groups(names: &[String]) -> Outcome {
    if names.is_empty() {
        return Outcome::Success;
    }
    let Ok(mut gids) = getgroups() else {
        return Outcome::Unavailable;
    };
    for name in names {
        if let Ok(Some(group)) = Group::from_name(name) {
            if !gids.contains(&group.gid) {
                gids.push(group.gid);
            }
        }
    }
    match setgroups(&gids as &[Gid]) {
        Ok(()) => Outcome::Success,
        Err(_) => Outcome::Unavailable,
    }
}

/// Our module data under `key`: only [`set_data`] stores under our keys,
/// always a `String`.
pub(crate) fn data(pamh: &PamHandle, key: &str) -> Option<String> {
    // SAFETY: every key pam_iam reads is one it writes only through
    // `set_data` below, which stores a `Box<String>`; `get_data` casts the
    // stored pointer back to that type. The reference is copied out before
    // the handle can change.
    let value: &String = unsafe { pamh.get_data::<String>(key) }.ok()?;
    Some(value.clone())
}

/// Stores `value` as our module data under `key` (libpam frees the
/// previous value through pam-bindings' cleanup).
pub(crate) fn set_data(pamh: &mut PamHandle, key: &str, value: &str) {
    let _ = pamh.set_data(key, Box::new(value.to_owned()));
}

/// A variable of the PAM environment (`pam_getenv`).
pub(crate) fn env(pamh: &PamHandle, name: &str) -> Option<String> {
    let name = CString::new(name).ok()?;
    // SAFETY: `pamh` is the live handle of this hook and `name` a valid
    // NUL-terminated string for the duration of the call; pam_getenv only
    // reads them (its C prototype takes a non-const handle it does not
    // modify) and returns NULL or a pointer into libpam's environment.
    let value = unsafe { pam_getenv(pamh, name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: a non-NULL result is a NUL-terminated string owned by libpam,
    // valid until the environment changes; it is copied before returning.
    let value = unsafe { CStr::from_ptr(value) };
    value.to_str().ok().map(str::to_owned)
}

/// Sets `name=value` in the PAM environment, or removes `name` (`None`).
pub(crate) fn set_env(pamh: &mut PamHandle, name: &str, value: Option<&str>) {
    let entry = match value {
        Some(value) => format!("{name}={value}"),
        // pam_putenv(3): a name without '=' deletes the variable.
        None => name.to_owned(),
    };
    let Ok(entry) = CString::new(entry) else {
        return;
    };
    // SAFETY: `pamh` is the live handle of this hook and `entry` a valid
    // NUL-terminated string that outlives the call; libpam copies it.
    unsafe { pam_putenv(pamh, entry.as_ptr()) };
}
