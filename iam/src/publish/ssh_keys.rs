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
use crate::store::StoreError;
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
    let keys = store.active_ssh_public_keys()?;
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for key in keys {
        let Some(user) = users.iter().find(|u| u.name == key.user) else {
            continue;
        };
        if unpublished(local, user).is_some() {
            continue;
        }
        let name = user.name.as_str();
        let file = files.entry(name.to_owned()).or_insert_with(|| {
            format!("# IAM user {name}: its active SSH public keys, published by pam_iam. Do not edit.\n")
        });
        // The body is OpenSSH's `type base64`, checked on upload: one line.
        file.push_str(&format!("{} {}\n", key.body, key.id));
    }
    Ok(files)
}

/// Brings `dir` in line with the directory: writes each published user's
/// file whose content differs, removes every other file. Runs under the
/// store's write lock, so concurrent syncs happen one after another and
/// the last one has seen every committed change. Call it after every
/// change to users or keys.
pub fn sync_ssh_keys(
    store: &dyn Directory,
    local: &LocalAccounts,
    dir: &Path,
) -> Result<SyncReport, SshKeysError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| SshKeysError::Io { path, source }
    };
    if !dir.exists() {
        // Traversable by all: sshd reads the files as the logging-in user.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(io(dir))?;
    }
    let mut outcome = None;
    store.serialized(&mut |s| {
        outcome = Some(
            render(s, local)
                .map_err(SshKeysError::from)
                .and_then(|files| {
                    let mut report = SyncReport::default();
                    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
                        let entry = entry.map_err(io(dir))?;
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if !name.starts_with('.') && !files.contains_key(&name) {
                            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
                            report.removed += 1;
                        }
                    }
                    for (name, content) in &files {
                        let path = dir.join(name);
                        if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str())
                        {
                            continue;
                        }
                        super::write_atomic(&path, content.as_bytes(), 0o644, None)
                            .map_err(io(&path))?;
                        report.written += 1;
                    }
                    Ok(report)
                }),
        );
        Ok(())
    })?;
    outcome.unwrap_or_else(|| Ok(SyncReport::default()))
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
        let report = sync_ssh_keys(&s, &local, &out).unwrap();
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
            sync_ssh_keys(&s, &local, &out).unwrap(),
            SyncReport::default()
        );

        s.update_ssh_public_key(&user("alice"), &a1, AccessKeyStatus::Inactive)
            .unwrap();
        s.delete_ssh_public_key(&user("bob"), &b1).unwrap();
        let report = sync_ssh_keys(&s, &local, &out).unwrap();
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
    }

    #[test]
    fn a_user_that_shadows_a_local_account_gets_no_keys_file() {
        let (d, s) = store_with(&["dave"]);
        upload(&s, "dave", 1);
        let out = d.path().join("keys");
        // dave became a local account after the IAM user was made.
        let local = LocalAccounts::parse("dave:x:1001:1001::/home/dave:/bin/sh\n", "");
        sync_ssh_keys(&s, &local, &out).unwrap();
        assert!(!out.join("dave").exists());
    }
}
