//! Publishes IAM users' active SSH public keys for sshd: one file per user,
//! `DIR/NAME` (`[accounts] authorized_keys_dir`, default
//! `/var/lib/iam-ssh`), which `iamctl setup-host --ssh` names in sshd's
//! `AuthorizedKeysFile` (`/var/lib/iam-ssh/%u`). sshd reads it per
//! connection like any authorized_keys file; the store stays private
//! (docs/SECURITY.md). Each line is the key in OpenSSH's form with its
//! `SSHPublicKeyId` as the comment. No secret is written.
//!
//! Published for exactly the users `extrausers` publishes: a user that
//! shadows a local account gets no file, so an IAM key never opens a local
//! account of the same name. A user without an active key has no file: a
//! key made inactive or deleted is gone from sshd's next lookup once this
//! runs (after every directory change). PAM's account stage checks the key
//! sshd accepted against the directory as well (`crate::login`), so a stale
//! file opens nothing.
//!
//! Files are written mode 0644 with [`super::write_atomic`], and only when
//! their content changes; files of users no longer published are removed.

use super::extrausers::unpublished;
use crate::directory::Directory;
use crate::local_accounts::LocalAccounts;
use crate::names::UserName;
use crate::store::{AccessKeyStatus, SshPublicKey, StoreError, User};
use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SshKeysError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What [`sync_ssh_keys`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Users whose file was written (new or changed).
    pub written: usize,
    /// Files removed (no active key, or the user is gone or unpublished).
    pub removed: usize,
}

/// The files to publish: user name → content, from one read.
pub fn render(
    store: &dyn Directory,
    local: &LocalAccounts,
) -> Result<BTreeMap<String, String>, StoreError> {
    let (users, _, _) = store.published()?;
    let users: BTreeMap<&str, &User> = users.iter().map(|u| (u.name.as_str(), u)).collect();
    let mut keys: BTreeMap<&str, Vec<SshPublicKey>> = BTreeMap::new();
    for key in store.active_ssh_public_keys()? {
        if let Some((name, _)) = users.get_key_value(key.user.as_str()) {
            keys.entry(name).or_default().push(key);
        }
    }
    Ok(keys
        .into_iter()
        .filter_map(|(name, keys)| {
            let user = users.get(name)?;
            file_of(local, user, &keys).map(|content| (name.to_owned(), content))
        })
        .collect())
}

/// One user's file: its active keys, if it is published and has any.
fn file_of(local: &LocalAccounts, user: &User, keys: &[SshPublicKey]) -> Option<String> {
    let active: Vec<&SshPublicKey> = keys
        .iter()
        .filter(|k| k.status == AccessKeyStatus::Active)
        .collect();
    if active.is_empty() || unpublished(local, user).is_some() {
        return None;
    }
    let name = user.name.as_str();
    let mut file = format!(
        "# IAM user {name}: its active SSH public keys, published by pam_iam. Do not edit.\n"
    );
    for key in active {
        // The body is OpenSSH's `type base64`, checked on upload: one line.
        file.push_str(&format!("{} {}\n", key.body, key.id));
    }
    Some(file)
}

/// How much of `dir` a full sync compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Every file's content (setup-host, and any doubt about the files).
    Contents,
    /// Which files exist: files of users that should have none go, missing
    /// ones are written; existing files are not read. Enough after a
    /// change to users (a rename, a user that now shadows a local
    /// account), since each change to a user's keys rewrote its file
    /// ([`sync_user_ssh_keys`]); one directory listing at any size.
    Names,
}

/// Brings `dir` in line with the directory: each published user's file
/// written (if it differs, or per `compare`), every other file removed.
/// Runs under the store's write lock, so concurrent syncs happen one after
/// another and the last one has seen every committed change. Call it after
/// every change to users ([`sync_user_ssh_keys`] is the one-user form, for
/// a change to one user's keys).
pub fn sync_ssh_keys(
    store: &dyn Directory,
    local: &LocalAccounts,
    dir: &Path,
    compare: Compare,
) -> Result<SyncReport, SshKeysError> {
    make_dir(dir)?;
    let mut outcome = None;
    store.serialized(&mut |s| {
        outcome = Some(
            render(s, local)
                .map_err(SshKeysError::from)
                .and_then(|files| {
                    let mut report = SyncReport::default();
                    let mut present = std::collections::BTreeSet::new();
                    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
                        let entry = entry.map_err(io(dir))?;
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if name.starts_with('.') {
                            continue;
                        }
                        if files.contains_key(&name) {
                            present.insert(name);
                        } else {
                            put(dir, &name, None, &mut report)?;
                        }
                    }
                    for (name, content) in &files {
                        if compare == Compare::Contents || !present.contains(name) {
                            put(dir, name, Some(content), &mut report)?;
                        }
                    }
                    Ok(report)
                }),
        );
        Ok(())
    })?;
    outcome.unwrap_or_else(|| Ok(SyncReport::default()))
}

/// [`sync_ssh_keys`] for one user whose keys changed: its file only,
/// whatever the directory's size.
pub fn sync_user_ssh_keys(
    store: &dyn Directory,
    local: &LocalAccounts,
    dir: &Path,
    user: &UserName,
) -> Result<SyncReport, SshKeysError> {
    make_dir(dir)?;
    let mut outcome = None;
    store.serialized(&mut |s| {
        let content = match s.find_user(user)? {
            Some(found) => file_of(local, &found, &s.ssh_public_keys(user)?),
            None => None,
        };
        let mut report = SyncReport::default();
        outcome = Some(put(dir, user.as_str(), content.as_deref(), &mut report).map(|()| report));
        Ok(())
    })?;
    outcome.unwrap_or_else(|| Ok(SyncReport::default()))
}

/// Makes `dir/name` hold `content` (written only if it differs), or not
/// exist (`None`).
fn put(
    dir: &Path,
    name: &str,
    content: Option<&str>,
    report: &mut SyncReport,
) -> Result<(), SshKeysError> {
    let path = dir.join(name);
    match content {
        None => match std::fs::remove_file(&path) {
            Ok(()) => report.removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        },
        Some(content) => {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(content) {
                super::write_atomic(&path, content.as_bytes(), 0o644, None).map_err(io(&path))?;
                report.written += 1;
            }
        }
    }
    Ok(())
}

/// Traversable by all: sshd reads the files as the logging-in user.
fn make_dir(dir: &Path) -> Result<(), SshKeysError> {
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(io(dir))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SshKeysError {
    let path = path.display().to_string();
    move |source| SshKeysError::Io { path, source }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::names::{UniqueIdKind, new_unique_id};
    use crate::store::test_support::{at, store_with, user};
    use crate::store::{AccessKeyStatus, NewSshPublicKey, Store};
    use std::os::unix::fs::MetadataExt;

    fn upload(s: &Store, name: &str, n: u8) -> String {
        let id = new_unique_id(UniqueIdKind::SshPublicKey).unwrap();
        let key = NewSshPublicKey {
            body: format!("ssh-ed25519 AAAAkey{n}"),
            fingerprint: "00".into(),
        };
        s.upload_ssh_public_key(&user(name), &id, &key, at(i64::from(n)))
            .unwrap();
        id
    }

    #[test]
    fn active_keys_are_published_per_user_and_withdrawn_when_inactive() {
        let (d, s) = store_with(&["alice", "bob", "carol"]);
        let a1 = upload(&s, "alice", 1);
        let a2 = upload(&s, "alice", 2);
        let b1 = upload(&s, "bob", 3);
        let out = d.path().join("keys");
        let local = LocalAccounts::default();
        let report = sync_ssh_keys(&s, &local, &out, Compare::Contents).unwrap();
        assert_eq!(
            report,
            SyncReport {
                written: 2,
                removed: 0
            }
        );
        let alice = std::fs::read_to_string(out.join("alice")).unwrap();
        let lines: Vec<&str> = alice.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            vec![
                format!("ssh-ed25519 AAAAkey1 {a1}"),
                format!("ssh-ed25519 AAAAkey2 {a2}")
            ]
        );
        assert_eq!(
            std::fs::metadata(out.join("alice")).unwrap().mode() & 0o7777,
            0o644
        );
        assert!(!out.join("carol").exists());
        // Unchanged files are not rewritten.
        assert_eq!(
            sync_ssh_keys(&s, &local, &out, Compare::Contents).unwrap(),
            SyncReport::default()
        );

        s.update_ssh_public_key(&user("alice"), &a1, AccessKeyStatus::Inactive)
            .unwrap();
        s.delete_ssh_public_key(&user("bob"), &b1).unwrap();
        let report = sync_ssh_keys(&s, &local, &out, Compare::Contents).unwrap();
        assert_eq!(
            report,
            SyncReport {
                written: 1,
                removed: 1
            }
        );
        let alice = std::fs::read_to_string(out.join("alice")).unwrap();
        assert!(!alice.contains(&a1), "{alice}");
        assert!(alice.contains(&a2), "{alice}");
        assert!(!out.join("bob").exists());

        // One user's change, one file: the others are not read.
        s.update_ssh_public_key(&user("alice"), &a2, AccessKeyStatus::Inactive)
            .unwrap();
        let report = sync_user_ssh_keys(&s, &local, &out, &user("alice")).unwrap();
        assert_eq!(
            report,
            SyncReport {
                written: 0,
                removed: 1
            }
        );
        assert!(!out.join("alice").exists());
        s.update_ssh_public_key(&user("alice"), &a2, AccessKeyStatus::Active)
            .unwrap();
        let report = sync_user_ssh_keys(&s, &local, &out, &user("alice")).unwrap();
        assert_eq!(
            report,
            SyncReport {
                written: 1,
                removed: 0
            }
        );
        assert_eq!(
            sync_ssh_keys(&s, &local, &out, Compare::Contents).unwrap(),
            SyncReport::default()
        );

        // A rename: by names only, the old file goes and the new one comes.
        s.update_user(&user("alice"), Some(&user("erin")), None)
            .unwrap();
        let report = sync_ssh_keys(&s, &local, &out, Compare::Names).unwrap();
        assert_eq!(
            report,
            SyncReport {
                written: 1,
                removed: 1
            }
        );
        assert!(out.join("erin").exists() && !out.join("alice").exists());
    }

    #[test]
    fn a_user_that_shadows_a_local_account_gets_no_keys_file() {
        let (d, s) = store_with(&["dave"]);
        upload(&s, "dave", 1);
        let out = d.path().join("keys");
        // dave became a local account after the IAM user was made.
        let local = LocalAccounts::parse("dave:x:1001:1001::/home/dave:/bin/sh\n", "");
        sync_ssh_keys(&s, &local, &out, Compare::Contents).unwrap();
        assert!(!out.join("dave").exists());
    }
}
