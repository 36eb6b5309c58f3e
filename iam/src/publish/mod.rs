//! Publishing: the projections of the directory a host serves to programs
//! that know nothing of IAM: NSS through `libnss-extrausers`, and sshd's
//! authorized keys. Each is rendered from one read of the store and
//! written with [`write_atomic`], so its readers see the old file or the
//! new one, never half of one. Nothing published holds a secret.

pub mod extrausers;
pub mod ssh_keys;

use crate::config::HostConfig;
use crate::local_accounts::{LocalAccounts, LocalAccountsError};
use crate::store::Store;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Replaces `path` with `content`: a temp file in the same directory (never
/// following a symlink) given the final `mode` and, when set, `owner`
/// (uid, gid), then fsync, rename over `path`, fsync the directory. On
/// failure the temp file is removed and `path` is untouched.
pub fn write_atomic(
    path: &Path,
    content: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
    let invalid = || std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(invalid)?.to_string_lossy();
    let suffix =
        crate::names::random_base32(8).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(content)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
        }
        // After the chown (which clears set-id bits), and whatever the umask.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Why a host's projections could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot create {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    LocalAccounts(#[from] LocalAccountsError),
    #[error("cannot publish Linux accounts: {0}")]
    Accounts(#[from] extrausers::ExtrausersError),
    #[error("cannot publish SSH public keys: {0}")]
    SshKeys(#[from] ssh_keys::SshKeysError),
}

/// Every projection of this host, after any change to its directory (an
/// iamctl change, a replica's apply): IAM users and groups as Linux
/// accounts into `extrausers_dir`, and users' active SSH keys into
/// `authorized_keys_dir` once `setup-host --ssh` has made it. Returns
/// warnings for the operator (what was not published, and why).
pub fn publish_host(config: &HostConfig, store: &Store) -> Result<Vec<String>, PublishError> {
    let dir = &config.accounts.extrausers_dir;
    if !dir.exists() {
        // Readable by all, as NSS in every process reads it.
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)))
            .map_err(|source| PublishError::Directory {
                path: dir.display().to_string(),
                source,
            })?;
    }
    let shell = config.accounts.shell.to_string_lossy();
    // Read now, not at open: what is published must not shadow what the
    // host has at this moment.
    let local = LocalAccounts::read_host()?;
    let report = extrausers::sync_extrausers(store, &local, dir, &shell, &config.accounts.home)?;
    let mut warnings: Vec<String> = report
        .skipped
        .iter()
        .map(|s| format!("not published as a Linux account: {s}"))
        .collect();
    warnings.extend(report.shadowing.iter().map(|s| {
        format!(
            "not published as a Linux account: {s}; rename or delete the IAM {} \
             (local privileges are granted only through [group_map])",
            s.kind.as_str()
        )
    }));
    // After a change to users: which files exist (each key verb rewrote
    // its user's file).
    let keys = &config.accounts.authorized_keys_dir;
    if keys.is_dir() {
        ssh_keys::sync_ssh_keys(store, &local, keys, ssh_keys::Compare::Names)?;
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn replaces_the_file_with_the_final_mode_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(&path, "old\n").unwrap();
        write_atomic(&path, b"new\n", 0o644, None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o644);
        write_atomic(&path, b"private\n", 0o600, None).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_failed_write_leaves_the_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), "").unwrap();
        // Renaming a file over a non-empty directory fails.
        assert!(write_atomic(&path, b"new\n", 0o644, None).is_err());
        assert!(path.is_dir());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let missing = dir.path().join("no/such/dir/file");
        assert!(write_atomic(&missing, b"x", 0o644, None).is_err());
    }
}
