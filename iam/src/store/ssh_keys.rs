//! Users' SSH public keys (issue 15): AWS's `UploadSSHPublicKey` family.
//!
//! Directory data, written by the administrator's verbs and replicated like
//! the rest; sshd sees the active ones through a published projection
//! (`crate::publish::ssh_keys`) and PAM checks the key sshd accepted
//! against them. Keys belong to the user's unique id, as access keys do: a
//! re-created user inherits none. The body is already parsed and checked by
//! the uploader (OpenSSH's one-line form); the store keeps AWS's limits.

use super::credentials::user_unique_id;
use super::sql::{OptionalExtension, Row, params};
use super::users::corrupt;
use super::{
    AccessKeyStatus, EntityKind, MAX_SSH_PUBLIC_KEYS_PER_USER, NewSshPublicKey, Result,
    SshPublicKey, Store, StoreError,
};
use crate::names::{UniqueIdKind, UserName};
use chrono::{DateTime, Utc};

const COLUMNS: &str = "k.ssh_public_key_id, u.name, k.body, k.fingerprint, k.status, k.upload_date";
const KEYS: &str = "ssh_public_keys k JOIN users u ON u.unique_id = k.user_id";

impl Store {
    /// `UploadSSHPublicKey`: `id` is fresh from
    /// `new_unique_id(UniqueIdKind::SshPublicKey)`. At most
    /// [`MAX_SSH_PUBLIC_KEYS_PER_USER`] keys per user and no key twice, as
    /// AWS.
    pub fn upload_ssh_public_key(
        &self,
        user: &UserName,
        id: &str,
        key: &NewSshPublicKey,
        now: DateTime<Utc>,
    ) -> Result<SshPublicKey> {
        if !UniqueIdKind::SshPublicKey.matches(id) {
            return Err(StoreError::InvalidInput(format!(
                "Invalid SSH public key id {:?}: must be APKA and 16 base32 characters.",
                id.chars().take(40).collect::<String>()
            )));
        }
        self.write(|c| {
            let owner = user_unique_id(c, user)?;
            let n: u32 = c.query_row(
                "SELECT count(*) FROM ssh_public_keys WHERE user_id = ?1",
                [&owner],
                |r| r.get(0),
            )?;
            if n >= MAX_SSH_PUBLIC_KEYS_PER_USER {
                return Err(StoreError::LimitExceeded(format!(
                    "Cannot exceed quota for PublicKeysPerUser: {MAX_SSH_PUBLIC_KEYS_PER_USER}"
                )));
            }
            let duplicate: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM ssh_public_keys WHERE user_id = ?1 AND body = ?2)",
                params![owner, key.body],
                |r| r.get(0),
            )?;
            if duplicate {
                return Err(StoreError::DuplicateSshPublicKey(user.to_string()));
            }
            c.execute(
                "INSERT INTO ssh_public_keys
                     (ssh_public_key_id, user_id, body, fingerprint, status, upload_date, seq)
                 VALUES (?1, ?2, ?3, ?4, 'Active', ?5,
                         (SELECT coalesce(max(seq), 0) + 1 FROM ssh_public_keys))",
                params![id, owner, key.body, key.fingerprint, now.timestamp()],
            )?;
            get_in(c, user, id)
        })
    }

    /// `ListSSHPublicKeys`: the user's keys, oldest first.
    pub fn list_ssh_public_keys(&self, user: &UserName) -> Result<Vec<SshPublicKey>> {
        self.read(|c| {
            let owner = user_unique_id(c, user)?;
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {KEYS} WHERE k.user_id = ?1
                 ORDER BY k.seq"
            ))?;
            let rows = st.query_map([owner], |r| Ok(from_row(r)))?;
            rows.map(|r| r?).collect::<Result<Vec<_>>>()
        })
    }

    /// `GetSSHPublicKey`: the key must be `user`'s.
    pub fn get_ssh_public_key(&self, user: &UserName, id: &str) -> Result<SshPublicKey> {
        self.read(|c| get_in(c, user, id))
    }

    /// `UpdateSSHPublicKey`: the key must be `user`'s.
    pub fn update_ssh_public_key(
        &self,
        user: &UserName,
        id: &str,
        status: AccessKeyStatus,
    ) -> Result<()> {
        self.write(|c| {
            let owner = user_unique_id(c, user)?;
            super::change_one(
                c,
                "UPDATE ssh_public_keys SET status = ?1 WHERE ssh_public_key_id = ?2 AND user_id = ?3",
                params![status.as_str(), id, owner],
                || StoreError::no_such(EntityKind::SshPublicKey, id),
            )
        })
    }

    /// `DeleteSSHPublicKey`: the key must be `user`'s.
    pub fn delete_ssh_public_key(&self, user: &UserName, id: &str) -> Result<()> {
        self.write(|c| {
            let owner = user_unique_id(c, user)?;
            super::change_one(
                c,
                "DELETE FROM ssh_public_keys WHERE ssh_public_key_id = ?1 AND user_id = ?2",
                params![id, owner],
                || StoreError::no_such(EntityKind::SshPublicKey, id),
            )
        })
    }

    /// `user`'s key whose body is `body` (OpenSSH's one-line form), active
    /// or not; `None` if it has none such (or there is no such user).
    pub fn find_ssh_public_key(&self, user: &UserName, body: &str) -> Result<Option<SshPublicKey>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM {KEYS} WHERE u.name = ?1 AND k.body = ?2"),
                params![user.as_str(), body],
                |r| Ok(from_row(r)),
            )
            .optional()?
            .transpose()
        })
    }

    /// Every active key of every user, by user name then upload date (what
    /// sshd's projection publishes).
    pub fn active_ssh_public_keys(&self) -> Result<Vec<SshPublicKey>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {KEYS} WHERE k.status = 'Active'
                 ORDER BY u.name, k.seq"
            ))?;
            let rows = st.query_map((), |r| Ok(from_row(r)))?;
            rows.map(|r| r?).collect::<Result<Vec<_>>>()
        })
    }
}

fn get_in(c: &super::sql::Connection, user: &UserName, id: &str) -> Result<SshPublicKey> {
    let owner = user_unique_id(c, user)?;
    c.query_row(
        &format!("SELECT {COLUMNS} FROM {KEYS} WHERE k.ssh_public_key_id = ?1 AND k.user_id = ?2"),
        params![id, owner],
        |r| Ok(from_row(r)),
    )
    .optional()?
    .ok_or_else(|| StoreError::no_such(EntityKind::SshPublicKey, id))?
}

/// Maps a row selected with [`COLUMNS`].
fn from_row(r: &Row<'_>) -> Result<SshPublicKey> {
    let status: String = r.get(4)?;
    Ok(SshPublicKey {
        id: r.get(0)?,
        user: UserName::parse(&r.get::<_, String>(1)?).map_err(corrupt)?,
        body: r.get(2)?,
        fingerprint: r.get(3)?,
        status: AccessKeyStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("SSH public key status {status}")))?,
        upload_date: r.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::names::new_unique_id;
    use crate::store::NewUser;
    use crate::store::test_support::{at, store_with, user};

    fn store() -> (tempfile::TempDir, Store) {
        store_with(&["alice", "bob"])
    }

    fn key(n: u8) -> NewSshPublicKey {
        NewSshPublicKey {
            body: format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{n:02}"),
            fingerprint: format!("{n:02x}:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00"),
        }
    }

    fn upload(s: &Store, name: &str, k: &NewSshPublicKey) -> Result<SshPublicKey> {
        let id = new_unique_id(UniqueIdKind::SshPublicKey).unwrap();
        s.upload_ssh_public_key(&user(name), &id, k, at(10))
    }

    #[test]
    fn keys_are_uploaded_listed_updated_and_deleted() {
        let (_d, s) = store();
        let k = upload(&s, "alice", &key(1)).unwrap();
        assert!(UniqueIdKind::SshPublicKey.matches(&k.id));
        assert_eq!(k.id.len(), 20);
        assert_eq!(k.status, AccessKeyStatus::Active);
        assert_eq!(k.upload_date, at(10).timestamp());
        assert_eq!(k.body, key(1).body);
        assert_eq!(
            s.list_ssh_public_keys(&user("alice")).unwrap(),
            vec![k.clone()]
        );
        assert!(s.list_ssh_public_keys(&user("bob")).unwrap().is_empty());
        assert_eq!(s.active_ssh_public_keys().unwrap(), vec![k.clone()]);
        assert_eq!(
            s.find_ssh_public_key(&user("alice"), &k.body).unwrap(),
            Some(k.clone())
        );
        assert_eq!(s.find_ssh_public_key(&user("bob"), &k.body).unwrap(), None);

        s.update_ssh_public_key(&user("alice"), &k.id, AccessKeyStatus::Inactive)
            .unwrap();
        let got = s.get_ssh_public_key(&user("alice"), &k.id).unwrap();
        assert_eq!(got.status, AccessKeyStatus::Inactive);
        assert!(s.active_ssh_public_keys().unwrap().is_empty());
        s.delete_ssh_public_key(&user("alice"), &k.id).unwrap();
        assert!(s.list_ssh_public_keys(&user("alice")).unwrap().is_empty());
        let e = s.get_ssh_public_key(&user("alice"), &k.id).unwrap_err();
        assert_eq!(e.aws_code(), "NoSuchEntity");
        assert_eq!(
            e.to_string(),
            format!("The Public Key with id {} cannot be found.", k.id)
        );
    }

    #[test]
    fn at_most_five_keys_per_user_and_a_sixth_changes_nothing() {
        let (_d, s) = store();
        for n in 0..5 {
            upload(&s, "alice", &key(n)).unwrap();
        }
        let before = s.list_ssh_public_keys(&user("alice")).unwrap();
        let e = upload(&s, "alice", &key(5)).unwrap_err();
        assert_eq!(e.aws_code(), "LimitExceeded");
        assert_eq!(
            e.to_string(),
            "Cannot exceed quota for PublicKeysPerUser: 5"
        );
        assert_eq!(s.list_ssh_public_keys(&user("alice")).unwrap(), before);
        // The quota is per user.
        upload(&s, "bob", &key(5)).unwrap();
    }

    #[test]
    fn the_same_key_twice_for_a_user_is_duplicate_but_another_user_may_have_it() {
        let (_d, s) = store();
        upload(&s, "alice", &key(1)).unwrap();
        let e = upload(&s, "alice", &key(1)).unwrap_err();
        assert_eq!(e.aws_code(), "DuplicateSSHPublicKey");
        assert_eq!(s.list_ssh_public_keys(&user("alice")).unwrap().len(), 1);
        upload(&s, "bob", &key(1)).unwrap();
    }

    #[test]
    fn a_key_is_seen_and_changed_only_through_its_owner() {
        let (_d, s) = store();
        let k = upload(&s, "alice", &key(1)).unwrap();
        for e in [
            s.get_ssh_public_key(&user("bob"), &k.id).unwrap_err(),
            s.update_ssh_public_key(&user("bob"), &k.id, AccessKeyStatus::Inactive)
                .unwrap_err(),
            s.delete_ssh_public_key(&user("bob"), &k.id).unwrap_err(),
        ] {
            assert_eq!(e.aws_code(), "NoSuchEntity");
        }
        let e = upload(&s, "carol", &key(2)).unwrap_err();
        assert_eq!(e.to_string(), "The user with name carol cannot be found.");
        let e = s
            .upload_ssh_public_key(&user("bob"), "AKIAIOSFODNN7EXAMPLE", &key(2), at(0))
            .unwrap_err();
        assert_eq!(e.aws_code(), "InvalidInput");
    }

    #[test]
    fn a_user_with_keys_cannot_be_deleted_and_keys_follow_a_rename() {
        let (_d, s) = store();
        let k = upload(&s, "alice", &key(1)).unwrap();
        let e = s.delete_user(&user("alice")).unwrap_err();
        assert_eq!(e.aws_code(), "DeleteConflict");
        assert_eq!(
            e.to_string(),
            "Cannot delete entity, must delete SSH public keys first."
        );
        s.update_user(&user("alice"), Some(&user("carol")), None)
            .unwrap();
        s.create_user(&NewUser::new(user("alice")), at(30)).unwrap();
        assert!(s.list_ssh_public_keys(&user("alice")).unwrap().is_empty());
        assert_eq!(
            s.get_ssh_public_key(&user("carol"), &k.id).unwrap().user,
            user("carol")
        );
        s.delete_ssh_public_key(&user("carol"), &k.id).unwrap();
        s.delete_user(&user("carol")).unwrap();
    }
}
