//! Publishes IAM users' active SSH public keys for sshd: one file per user,
//! `DIR/UID` (`[accounts] authorized_keys_dir`, default `/var/lib/iam-ssh`),
//! which `iamctl setup-host --ssh` names in sshd's `AuthorizedKeysFile`
//! (`/var/lib/iam-ssh/%U`). Named by uid, not by name: IAM uids are never
//! handed out again, so a local account made later under an IAM user's
//! name (another uid) never reads that user's file. sshd reads it per
//! connection like any authorized_keys file; the store stays private
//! (docs/SECURITY.md). Each line is the key in OpenSSH's form with its
//! `SSHPublicKeyId` as the comment. No secret is written.
//!
//! Published for exactly the users `extrausers` publishes: a user that
//! shadows a local account gets no file, so an IAM key never opens a local
//! account. A user without an active key has no file: a key made inactive
//! or deleted is gone from sshd's next lookup once this runs (after every
//! directory change). PAM checks the key sshd accepted against the
//! directory as well (`crate::login`), so a stale file opens nothing.
//!
//! The directory must pass the one trust rule (`crate::trust`): root's, and
//! nobody else may write it. Files are written mode 0644 with
//! [`super::write_atomic`], only when their content changes, and start
//! with our mark: only files that do are ever removed, so whatever else
//! an administrator keeps there is left alone (and the files of the
//! earlier by-name layout go on the next full sync).

use super::extrausers::unpublished;
use crate::directory::Directory;
use crate::local_accounts::LocalAccounts;
use crate::names::UserName;
use crate::store::{AccessKeyStatus, SshPublicKey, StoreError, User};
use crate::trust::TrustError;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// How every published file's first line begins and ends: the mark by
/// which a sync (and the package's postrm) knows a file as its own to
/// replace or remove. The by-name files of before had it too.
const MARK_START: &str = "# IAM user ";
const MARK_END: &str = "published by pam_iam. Do not edit.";

#[derive(Debug, thiserror::Error)]
pub enum SshKeysError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The directory is not root's alone: sshd would read what another
    /// user put there.
    #[error(transparent)]
    Untrusted(#[from] TrustError),
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

/// The files to publish: file name (the uid) → content, from one read.
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
            file_of(local, user, &keys).map(|content| (file_name(user), content))
        })
        .collect())
}

/// The file of `user`: its uid, which sshd's `%U` expands to.
fn file_name(user: &User) -> String {
    user.uid.to_string()
}

/// Whether `path` is a file this module published (its first line is
/// marked so); a symlink or anything else is not.
fn published_by_us(path: &Path) -> Result<bool, SshKeysError> {
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        // A symlink (ELOOP) or a FIFO without a writer is not ours.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)) => {
            return Ok(false);
        }
        Err(e) => return Err(io(path)(e)),
    };
    if !file.metadata().map_err(io(path))?.is_file() {
        return Ok(false);
    }
    // The longest first line we wrote: the mark around a name or a uid.
    let mut first = Vec::new();
    BufReader::new(file.take(256))
        .read_until(b'\n', &mut first)
        .map_err(io(path))?;
    let first = String::from_utf8_lossy(&first);
    let first = first.trim_end_matches('\n');
    Ok(first.starts_with(MARK_START) && first.ends_with(MARK_END))
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
    // No name: a rename leaves the file as it is.
    let mut file = format!(
        "{MARK_START}with uid {}: its active SSH public keys, {MARK_END}\n",
        user.uid
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
/// written (if it differs, or per `compare`), every other file we
/// published removed (files without our mark are left alone).
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
                        } else if published_by_us(&entry.path())? {
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
        // A user that is gone has no file to name: the next full sync
        // (after every change to users) removes it.
        let Some(found) = s.find_user(user)? else {
            outcome = Some(Ok(SyncReport::default()));
            return Ok(());
        };
        let content = file_of(local, &found, &s.ssh_public_keys(user)?);
        let mut report = SyncReport::default();
        outcome =
            Some(put(dir, &file_name(&found), content.as_deref(), &mut report).map(|()| report));
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

/// Traversable by all: sshd reads the files as the logging-in user. An
/// existing directory must be trusted ([`crate::trust::check_directory`]).
fn make_dir(dir: &Path) -> Result<(), SshKeysError> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(io(dir))?;
    }
    Ok(crate::trust::check_directory(dir)?)
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
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::PathBuf;

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

    /// The file sshd reads for `name`: `DIR/%U`.
    fn file_of_user(s: &Store, dir: &Path, name: &str) -> PathBuf {
        let uid = s.find_user(&user(name)).unwrap().unwrap().uid;
        dir.join(uid.to_string())
    }

    /// A keys directory of this test's own (0755: `trust` refuses more).
    fn keys_dir(d: &tempfile::TempDir) -> PathBuf {
        let out = d.path().join("keys");
        std::fs::create_dir(&out).unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
        out
    }

    #[test]
    fn active_keys_are_published_per_user_and_withdrawn_when_inactive() {
        let (d, s) = store_with(&["alice", "bob", "carol"]);
        let a1 = upload(&s, "alice", 1);
        let a2 = upload(&s, "alice", 2);
        let b1 = upload(&s, "bob", 3);
        let out = keys_dir(&d);
        let local = LocalAccounts::default();
        let report = sync_ssh_keys(&s, &local, &out, Compare::Contents).unwrap();
        assert_eq!(
            report,
            SyncReport {
                written: 2,
                removed: 0
            }
        );
        let alice_file = file_of_user(&s, &out, "alice");
        let alice = std::fs::read_to_string(&alice_file).unwrap();
        let lines: Vec<&str> = alice.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            vec![
                format!("ssh-ed25519 AAAAkey1 {a1}"),
                format!("ssh-ed25519 AAAAkey2 {a2}")
            ]
        );
        assert_eq!(
            std::fs::metadata(&alice_file).unwrap().mode() & 0o7777,
            0o644
        );
        assert!(!file_of_user(&s, &out, "carol").exists());
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
        let alice = std::fs::read_to_string(&alice_file).unwrap();
        assert!(!alice.contains(&a1), "{alice}");
        assert!(alice.contains(&a2), "{alice}");
        assert!(!file_of_user(&s, &out, "bob").exists());

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
        assert!(!alice_file.exists());
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

        // A rename changes nothing sshd reads: the uid names the file.
        s.update_user(&user("alice"), Some(&user("erin")), None)
            .unwrap();
        for compare in [Compare::Names, Compare::Contents] {
            assert_eq!(
                sync_ssh_keys(&s, &local, &out, compare).unwrap(),
                SyncReport::default()
            );
        }
        assert_eq!(file_of_user(&s, &out, "erin"), alice_file);
    }

    #[test]
    fn files_are_named_by_uid_so_a_later_local_account_of_the_same_name_reads_none() {
        let (d, s) = store_with(&["dave"]);
        upload(&s, "dave", 1);
        let out = keys_dir(&d);
        sync_ssh_keys(&s, &LocalAccounts::default(), &out, Compare::Contents).unwrap();
        let uid = s.find_user(&user("dave")).unwrap().unwrap().uid;
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        // sshd expands `%U` to the uid of the account logging in: a local
        // `dave` (another uid) has no file here; `%u` would have read dave's.
        assert_eq!(names, vec![uid.to_string()]);
        assert!(!out.join("dave").exists());
    }

    #[test]
    fn a_user_that_shadows_a_local_account_gets_no_keys_file() {
        let (d, s) = store_with(&["dave"]);
        upload(&s, "dave", 1);
        let out = keys_dir(&d);
        // dave became a local account after the IAM user was made.
        let local = LocalAccounts::parse("dave:x:1001:1001::/home/dave:/bin/sh\n", "");
        sync_ssh_keys(&s, &local, &out, Compare::Contents).unwrap();
        assert!(!file_of_user(&s, &out, "dave").exists());
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    }

    #[test]
    fn a_full_sync_removes_only_files_it_published_and_migrates_by_name_files() {
        let (d, s) = store_with(&["alice"]);
        upload(&s, "alice", 1);
        let out = keys_dir(&d);
        // An administrator's own file, one without our mark that looks like
        // a uid, a symlink, and a by-name file of the earlier layout.
        std::fs::write(out.join("README"), "keys of the backup robot\n").unwrap();
        std::fs::write(out.join("4242"), "ssh-ed25519 AAAAadmin root@backup\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", out.join("link")).unwrap();
        let legacy = out.join("alice");
        std::fs::write(
            &legacy,
            "# IAM user alice: its active SSH public keys, published by pam_iam. Do not edit.\nssh-ed25519 AAAAkey1 APKAOLD\n",
        )
        .unwrap();
        let report = sync_ssh_keys(&s, &LocalAccounts::default(), &out, Compare::Contents).unwrap();
        assert_eq!(
            report,
            SyncReport {
                written: 1,
                removed: 1
            }
        );
        assert!(!legacy.exists(), "the by-name file stays readable by %u");
        assert!(file_of_user(&s, &out, "alice").exists());
        for kept in ["README", "4242", "link"] {
            assert!(
                std::fs::symlink_metadata(out.join(kept)).is_ok(),
                "{kept} removed"
            );
        }
        // Names only (after a change to users): the same.
        std::fs::write(
            &legacy,
            "# IAM user alice: its active SSH public keys, published by pam_iam. Do not edit.\n",
        )
        .unwrap();
        sync_ssh_keys(&s, &LocalAccounts::default(), &out, Compare::Names).unwrap();
        assert!(!legacy.exists());
        assert!(out.join("README").exists() && out.join("4242").exists());
    }

    #[test]
    fn a_keys_directory_others_may_write_is_refused_and_nothing_is_written() {
        let (d, s) = store_with(&["alice"]);
        upload(&s, "alice", 1);
        let out = keys_dir(&d);
        for mode in [0o775, 0o777, 0o1777] {
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode)).unwrap();
            for result in [
                sync_ssh_keys(&s, &LocalAccounts::default(), &out, Compare::Contents),
                sync_user_ssh_keys(&s, &LocalAccounts::default(), &out, &user("alice")),
            ] {
                let err = result.unwrap_err();
                assert!(
                    matches!(
                        &err,
                        SshKeysError::Untrusted(TrustError::Untrusted {
                            problem: crate::trust::Problem::Writable { .. },
                            ..
                        })
                    ),
                    "{err}"
                );
                assert!(
                    err.to_string().contains("group- or world-writable"),
                    "{err}"
                );
            }
            assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
        }
        if nix::unistd::geteuid().is_root() {
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::os::unix::fs::chown(&out, Some(65534), None).unwrap();
            let err =
                sync_ssh_keys(&s, &LocalAccounts::default(), &out, Compare::Contents).unwrap_err();
            assert!(err.to_string().contains("owned by uid 65534"), "{err}");
        }
    }
}
