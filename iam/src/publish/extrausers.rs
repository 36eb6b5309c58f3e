//! Publishes IAM users and groups to the host through Debian's
//! `libnss-extrausers` (`/var/lib/extrausers/passwd` and `group`), so
//! `getpwnam()` succeeds for IAM users before PAM runs.
//!
//! Layout:
//! - `passwd`: `name:x:uid:uid:GECOS:home:shell` for every IAM user whose name
//!   is a valid Linux login name (others are skipped: they cannot log in).
//!   The GECOS field is `IAM user PATHNAME` (`IAM user /ops/eve`): the ARN
//!   itself cannot be used, its colons are the field separator. No secret
//!   is ever written (the password field is `x`; there is no shadow file).
//! - `group`: each such user's private group (same name, gid == uid), then
//!   each IAM group whose name is a valid Linux name, with gid its own
//!   allocated id and its loginable members. An IAM group whose name equals a
//!   user's name is skipped (the private group wins; both would otherwise
//!   claim the name).
//!
//! Never published: an IAM user or group whose name or id collides with a
//! local account or a reserved system name ([`crate::local_accounts`]),
//! whatever its case. A user and its private group go together: if either
//! would collide, neither is written (sshd then does not find the user, who
//! cannot log in: the safe result), and the user is left out of every
//! group's member list. The rest is published; [`SyncReport::shadowing`]
//! names what was left out.
//!
//! Both files are written mode 0644 with [`super::write_atomic`].

use crate::directory::Directory;
use crate::local_accounts::{IamAccountKind, LocalAccounts, Shadowing};
use crate::names::is_linux_login_name;
use crate::store::{StoreError, User};
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ExtrausersError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid {what} {value:?}: {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: &'static str,
    },
}

/// What [`sync_extrausers`] wrote, and what it had to leave out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub users: usize,
    pub groups: usize,
    /// Names not published, each with the reason.
    pub skipped: Vec<String>,
    /// Users and groups not published because they would shadow a local
    /// account or a reserved name.
    pub shadowing: Vec<Shadowing>,
}

/// The rendered files, before writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub passwd: String,
    pub group: String,
    pub report: SyncReport,
}

/// Removes what would break the colon-separated format.
fn sanitize_field(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == ':' || c == '\n' || c == '\r' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn check_template(what: &'static str, value: &str) -> Result<(), ExtrausersError> {
    let bad = value.is_empty()
        || !value.starts_with('/')
        || value.chars().any(|c| c == ':' || c.is_control());
    if bad {
        return Err(ExtrausersError::Invalid {
            what,
            value: value.to_owned(),
            why: "must be an absolute path without ':' or control characters",
        });
    }
    Ok(())
}

/// Why a user is not published as a Linux account.
pub(crate) enum Unpublished {
    Shadowing(Shadowing),
    NotLoginName,
}

/// Whether `user` is published as a Linux account (the one rule: sshd's
/// authorized keys are published for exactly these users, so a key never
/// opens a local account of the same name).
pub(crate) fn unpublished(local: &LocalAccounts, user: &User) -> Option<Unpublished> {
    let name = user.name.as_str();
    if let Some(shadowing) = local.shadowing(IamAccountKind::User, name, user.uid) {
        return Some(Unpublished::Shadowing(shadowing));
    }
    if !is_linux_login_name(name) {
        return Some(Unpublished::NotLoginName);
    }
    None
}

/// Renders `passwd` and `group` from the store, leaving out every user and
/// group that collides with `local`. `home_template` expands `%u` to the
/// user name (as `[accounts] home = "/home/%u"`).
pub fn render(
    store: &dyn Directory,
    local: &LocalAccounts,
    shell: &str,
    home_template: &str,
) -> Result<Rendered, ExtrausersError> {
    check_template("shell", shell)?;
    check_template("home", home_template)?;
    // One snapshot of users, groups and memberships.
    let (users, groups, memberships) = store.published()?;
    let mut report = SyncReport::default();
    let mut passwd = String::new();
    let mut group = String::new();
    // Published users (the members groups may list), and every user's
    // name, published or not (no IAM group may take it).
    let mut user_names = BTreeSet::new();
    let mut claimed = BTreeSet::new();
    for u in &users {
        let name = u.name.as_str();
        claimed.insert(name.to_owned());
        match unpublished(local, u) {
            Some(Unpublished::Shadowing(shadowing)) => {
                report.shadowing.push(shadowing);
                continue;
            }
            Some(Unpublished::NotLoginName) => {
                report
                    .skipped
                    .push(format!("user {name}: not a valid Linux login name"));
                continue;
            }
            None => {}
        }
        let home = home_template.replace("%u", name);
        passwd.push_str(&format!(
            "{name}:x:{uid}:{uid}:{gecos}:{home}:{shell}\n",
            uid = u.uid,
            gecos = sanitize_field(&format!("IAM user {}{}", u.path, u.name)),
        ));
        group.push_str(&format!("{name}:x:{}:\n", u.uid));
        user_names.insert(name.to_owned());
        report.users += 1;
    }
    for g in &groups {
        let name = g.name.as_str();
        if let Some(shadowing) = local.shadowing(IamAccountKind::Group, name, g.gid) {
            report.shadowing.push(shadowing);
            continue;
        }
        if !is_linux_login_name(name) {
            report
                .skipped
                .push(format!("group {name}: not a valid Linux group name"));
            continue;
        }
        if claimed.contains(name) {
            report.skipped.push(format!(
                "group {name}: a user's private group has that name"
            ));
            continue;
        }
        let members: Vec<&str> = memberships
            .iter()
            .filter(|(_, gn)| gn == &g.name)
            .map(|(un, _)| un.as_str())
            .filter(|un| user_names.contains(*un))
            .collect();
        group.push_str(&format!("{name}:x:{}:{}\n", g.gid, members.join(",")));
        report.groups += 1;
    }
    Ok(Rendered {
        passwd,
        group,
        report,
    })
}

/// Rewrites `dir/passwd` and `dir/group` from the store, atomically, with
/// nothing that collides with `local` (read it fresh: `LocalAccounts::read_host`).
/// Call it after every change to users or groups.
///
/// Runs under the store's write lock, so concurrent syncs (several `iamctl`
/// processes) happen one after another and the last one to run has seen
/// every committed change: an older rendering never replaces a newer one.
pub fn sync_extrausers(
    store: &dyn Directory,
    local: &LocalAccounts,
    dir: &Path,
    shell: &str,
    home_template: &str,
) -> Result<SyncReport, ExtrausersError> {
    let mut outcome = None;
    store.serialized(&mut |s| {
        outcome = Some(render(s, local, shell, home_template).and_then(|r| {
            write_atomically(&dir.join("passwd"), r.passwd.as_bytes())?;
            write_atomically(&dir.join("group"), r.group.as_bytes())?;
            Ok(r.report)
        }));
        Ok(())
    })?;
    outcome.unwrap_or_else(|| Ok(SyncReport::default()))
}

/// Published world-readable (NSS answers every local user), atomically.
fn write_atomically(path: &Path, content: &[u8]) -> Result<(), ExtrausersError> {
    super::write_atomic(path, content, 0o644, None).map_err(|source| ExtrausersError::Io {
        path: path.display().to_string(),
        source,
    })
}
