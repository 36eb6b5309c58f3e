//! Access keys and STS session credentials, for iam-server (issue 13).
//!
//! Secrets arrive sealed by the server's key (docs/SECURITY.md): the store
//! keeps ciphertext it cannot open, and of a session token only its
//! SHA-256. Access keys belong to a user's unique id and sessions to a
//! role's, so a re-created user or role inherits neither. When a key was
//! last used is the ledger's (`access_key_last_used`): written on
//! authenticated calls, at most once per [`ACCESS_KEY_USE_INTERVAL`].

use super::sql::{Connection, OptionalExtension, Row, params};
use super::users::{corrupt, user_id};
use super::{
    AccessKey, AccessKeyLastUsed, AccessKeyStatus, Credential, EntityKind,
    MAX_ACCESS_KEYS_PER_USER, Result, Sealed, Store, StoreError, StsSession, UserStatus,
};
use crate::names::{RoleName, RoleSessionName, UniqueIdKind, UserName};
use chrono::{DateTime, Utc};

/// Seconds between two last-used writes for one key: bounds the ledger's
/// write load to one write a minute per key, however busy it is.
pub const ACCESS_KEY_USE_INTERVAL: i64 = 60;

/// How long an expired session's row is kept: presenting it meanwhile is
/// `ExpiredToken`, as AWS answers, rather than an unknown key.
pub const STS_SESSION_PURGE_GRACE: i64 = 24 * 3600;

const KEY_COLUMNS: &str = "k.access_key_id, u.name, k.status, k.create_date,
    l.used_at, l.service, l.region";
const KEYS: &str = "access_keys k JOIN users u ON u.unique_id = k.user_id
    LEFT JOIN access_key_last_used l ON l.access_key_id = k.access_key_id";

impl Store {
    /// `CreateAccessKey`: `access_key_id` is fresh from
    /// `new_unique_id(UniqueIdKind::AccessKey)` and `sealed` its secret,
    /// sealed with the id as associated data. At most
    /// [`MAX_ACCESS_KEYS_PER_USER`] keys per user, as AWS.
    pub fn create_access_key(
        &self,
        user: &UserName,
        access_key_id: &str,
        sealed: &Sealed,
        now: DateTime<Utc>,
    ) -> Result<AccessKey> {
        check_key_id(UniqueIdKind::AccessKey, access_key_id)?;
        self.write(|c| {
            let owner = user_unique_id(c, user)?;
            let n: u32 = c.query_row(
                "SELECT count(*) FROM access_keys WHERE user_id = ?1",
                [&owner],
                |r| r.get(0),
            )?;
            if n >= MAX_ACCESS_KEYS_PER_USER {
                return Err(StoreError::LimitExceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
                )));
            }
            if key_exists(c, "access_keys", access_key_id)?
                || key_exists(c, "sts_sessions", access_key_id)?
            {
                return Err(StoreError::exists(EntityKind::AccessKey, access_key_id));
            }
            c.execute(
                "INSERT INTO access_keys (access_key_id, user_id, status, create_date, sealed_secret)
                 VALUES (?1, ?2, 'Active', ?3, ?4)",
                params![access_key_id, owner, now.timestamp(), sealed.0],
            )?;
            access_key_in(c, access_key_id)
        })
    }

    /// `ListAccessKeys`: the user's keys, oldest first (the credential
    /// report's `access_key_1` is the older).
    pub fn list_access_keys(&self, user: &UserName) -> Result<Vec<AccessKey>> {
        self.read(|c| {
            let owner = user_unique_id(c, user)?;
            let mut st = c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM {KEYS} WHERE k.user_id = ?1
                 ORDER BY k.create_date, k.access_key_id"
            ))?;
            let rows = st.query_map([owner], |r| Ok(access_key_from_row(r)))?;
            rows.map(|r| r?).collect::<Result<Vec<_>>>()
        })
    }

    /// One key with its owner and last use (`GetAccessKeyLastUsed`, which
    /// names no user: the caller authorizes on the owner it returns).
    pub fn get_access_key(&self, access_key_id: &str) -> Result<AccessKey> {
        self.read(|c| access_key_in(c, access_key_id))
    }

    /// `UpdateAccessKey`: the key must be `user`'s.
    pub fn update_access_key(
        &self,
        user: &UserName,
        access_key_id: &str,
        status: AccessKeyStatus,
    ) -> Result<()> {
        self.write(|c| {
            let owner = user_unique_id(c, user)?;
            super::change_one(
                c,
                "UPDATE access_keys SET status = ?1 WHERE access_key_id = ?2 AND user_id = ?3",
                params![status.as_str(), access_key_id, owner],
                || StoreError::no_such(EntityKind::AccessKey, access_key_id),
            )
        })
    }

    /// `DeleteAccessKey`: the key must be `user`'s. Its sealed secret is
    /// overwritten on disk (`secure_delete`); its last-used row is the
    /// ledger's and stays, unreachable (ids are never reused).
    pub fn delete_access_key(&self, user: &UserName, access_key_id: &str) -> Result<()> {
        self.write(|c| {
            let owner = user_unique_id(c, user)?;
            super::change_one(
                c,
                "DELETE FROM access_keys WHERE access_key_id = ?1 AND user_id = ?2",
                params![access_key_id, owner],
                || StoreError::no_such(EntityKind::AccessKey, access_key_id),
            )
        })
    }

    /// Records an authenticated call made with `access_key_id` (the
    /// ledger's write), unless one was recorded less than
    /// [`ACCESS_KEY_USE_INTERVAL`] ago: then nothing is written and no
    /// write lock taken. Returns whether it wrote.
    pub fn record_access_key_use(
        &self,
        access_key_id: &str,
        service: &str,
        region: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let now = now.timestamp();
        let recent: Option<i64> = self.read(|c| {
            Ok(c.query_row(
                "SELECT used_at FROM access_key_last_used WHERE access_key_id = ?1",
                [access_key_id],
                |r| r.get(0),
            )
            .optional()?)
        })?;
        if recent.is_some_and(|t| now < t + ACCESS_KEY_USE_INTERVAL) {
            return Ok(false);
        }
        self.write(|c| {
            // Re-checked under the write lock: a concurrent caller may have
            // recorded it meanwhile.
            let n = c.execute(
                "INSERT INTO access_key_last_used (access_key_id, used_at, service, region)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (access_key_id) DO UPDATE
                 SET used_at = excluded.used_at, service = excluded.service, region = excluded.region
                 WHERE access_key_last_used.used_at + ?5 <= excluded.used_at",
                params![access_key_id, now, service, region, ACCESS_KEY_USE_INTERVAL],
            )?;
            Ok(n > 0)
        })
    }

    /// What a SigV4 access key id stands for; `None` if nothing (an unknown
    /// key, a deleted one, a purged session, a session of a deleted role, a
    /// revoked host or one whose instance profile was deleted).
    pub fn find_credential(&self, access_key_id: &str) -> Result<Option<Credential>> {
        self.read(|c| {
            if UniqueIdKind::SessionKey.matches(access_key_id) {
                return sts_session_in(c, access_key_id).map(|s| s.map(Credential::RoleSession));
            }
            if UniqueIdKind::HostKey.matches(access_key_id) {
                return super::hosts::host_credential_in(c, access_key_id)
                    .map(|h| h.map(Credential::Host));
            }
            c.query_row(
                "SELECT u.name, u.status, k.status, k.sealed_secret
                 FROM access_keys k JOIN users u ON u.unique_id = k.user_id
                 WHERE k.access_key_id = ?1",
                [access_key_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                    ))
                },
            )
            .optional()?
            .map(|(user, user_status, status, sealed)| {
                Ok(Credential::AccessKey {
                    user: UserName::parse(&user).map_err(corrupt)?,
                    user_status: match user_status.as_str() {
                        "Active" => UserStatus::Active,
                        _ => UserStatus::Disabled,
                    },
                    status: parse_status(&status)?,
                    sealed: Sealed(sealed),
                })
            })
            .transpose()
        })
    }

    /// Stores `AssumeRole`'s credentials, and purges sessions expired more
    /// than [`STS_SESSION_PURGE_GRACE`] ago in the same transaction.
    /// Refused (`NoSuchEntity`) unless the role with `role_id` is still
    /// named `role`: the one the caller authorized.
    pub fn create_sts_session(&self, s: &StsSession) -> Result<()> {
        check_key_id(UniqueIdKind::SessionKey, &s.access_key_id)?;
        if s.expiration <= s.issued {
            return Err(StoreError::InvalidInput(
                "A session must expire after it is issued.".into(),
            ));
        }
        self.write(|c| {
            purge_in(c, s.issued)?;
            let role: Option<String> = c
                .query_row(
                    "SELECT name FROM roles WHERE unique_id = ?1",
                    [&s.role_id],
                    |r| r.get(0),
                )
                .optional()?;
            if role.as_deref() != Some(s.role.as_str()) {
                return Err(StoreError::no_such(EntityKind::Role, &s.role));
            }
            if key_exists(c, "sts_sessions", &s.access_key_id)?
                || key_exists(c, "access_keys", &s.access_key_id)?
            {
                return Err(StoreError::exists(EntityKind::AccessKey, &s.access_key_id));
            }
            c.execute(
                "INSERT INTO sts_sessions (access_key_id, sealed_secret, token_sha256, role_id,
                     session_name, source_arn, mfa_time, issued, expiration)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    s.access_key_id,
                    s.sealed.0,
                    s.token_sha256.as_slice(),
                    s.role_id,
                    s.session_name.as_str(),
                    s.source_arn,
                    s.mfa_time,
                    s.issued,
                    s.expiration
                ],
            )?;
            Ok(())
        })
    }

    /// Deletes sessions expired more than [`STS_SESSION_PURGE_GRACE`]
    /// before `now`; returns how many.
    pub fn purge_sts_sessions(&self, now: DateTime<Utc>) -> Result<usize> {
        self.write(|c| purge_in(c, now.timestamp()))
    }
}

fn purge_in(c: &Connection, now: i64) -> Result<usize> {
    Ok(c.execute(
        "DELETE FROM sts_sessions WHERE expiration + ?1 < ?2",
        params![STS_SESSION_PURGE_GRACE, now],
    )?)
}

fn check_key_id(kind: UniqueIdKind, id: &str) -> Result<()> {
    if kind.matches(id) {
        return Ok(());
    }
    Err(StoreError::InvalidInput(format!(
        "Invalid access key id {:?}: must be {} and 16 base32 characters.",
        id.chars().take(40).collect::<String>(),
        kind.prefix()
    )))
}

/// `table` is `access_keys` or `sts_sessions` (a constant).
fn key_exists(c: &Connection, table: &str, id: &str) -> Result<bool> {
    Ok(c.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE access_key_id = ?1)"),
        [id],
        |r| r.get(0),
    )?)
}

pub(super) fn user_unique_id(c: &Connection, user: &UserName) -> Result<String> {
    let id = user_id(c, user)?;
    Ok(
        c.query_row("SELECT unique_id FROM users WHERE id = ?1", [id], |r| {
            r.get(0)
        })?,
    )
}

fn access_key_in(c: &Connection, access_key_id: &str) -> Result<AccessKey> {
    c.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM {KEYS} WHERE k.access_key_id = ?1"),
        [access_key_id],
        |r| Ok(access_key_from_row(r)),
    )
    .optional()?
    .ok_or_else(|| StoreError::no_such(EntityKind::AccessKey, access_key_id))?
}

/// Maps a row selected with [`KEY_COLUMNS`].
fn access_key_from_row(r: &Row<'_>) -> Result<AccessKey> {
    let last_used = match r.get::<_, Option<i64>>(4)? {
        Some(date) => Some(AccessKeyLastUsed {
            date,
            service: r.get(5)?,
            region: r.get(6)?,
        }),
        None => None,
    };
    Ok(AccessKey {
        id: r.get(0)?,
        user: UserName::parse(&r.get::<_, String>(1)?).map_err(corrupt)?,
        status: parse_status(&r.get::<_, String>(2)?)?,
        create_date: r.get(3)?,
        last_used,
    })
}

fn parse_status(s: &str) -> Result<AccessKeyStatus> {
    AccessKeyStatus::parse(s).ok_or_else(|| StoreError::Corrupt(format!("access key status {s}")))
}

fn sts_session_in(c: &Connection, access_key_id: &str) -> Result<Option<StsSession>> {
    c.query_row(
        "SELECT s.access_key_id, s.sealed_secret, s.token_sha256, r.name, s.role_id,
                s.session_name, s.source_arn, s.mfa_time, s.issued, s.expiration
         FROM sts_sessions s JOIN roles r ON r.unique_id = s.role_id
         WHERE s.access_key_id = ?1",
        [access_key_id],
        |r| Ok(sts_session_from_row(r)),
    )
    .optional()?
    .transpose()
}

fn sts_session_from_row(r: &Row<'_>) -> Result<StsSession> {
    let digest: Vec<u8> = r.get(2)?;
    Ok(StsSession {
        access_key_id: r.get(0)?,
        sealed: Sealed(r.get(1)?),
        token_sha256: digest
            .try_into()
            .map_err(|_| StoreError::Corrupt("session token digest".into()))?,
        role: RoleName::parse(&r.get::<_, String>(3)?).map_err(corrupt)?,
        role_id: r.get(4)?,
        session_name: RoleSessionName::parse(&r.get::<_, String>(5)?).map_err(corrupt)?,
        source_arn: r.get(6)?,
        mfa_time: r.get(7)?,
        issued: r.get(8)?,
        expiration: r.get(9)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::names::new_unique_id;
    use crate::store::test_support::{at, store_with, user};
    use crate::store::{NewRole, NewUser};

    fn store() -> (tempfile::TempDir, Store) {
        store_with(&["alice", "bob"])
    }

    fn add_key(s: &Store, name: &str) -> AccessKey {
        let id = new_unique_id(UniqueIdKind::AccessKey).unwrap();
        s.create_access_key(&user(name), &id, &Sealed(vec![1, 2, 3]), at(10))
            .unwrap()
    }

    fn session(s: &Store, role_id: &str, issued: i64, expiration: i64) -> StsSession {
        let new = StsSession {
            access_key_id: new_unique_id(UniqueIdKind::SessionKey).unwrap(),
            sealed: Sealed(vec![9; 8]),
            token_sha256: [7; 32],
            role: RoleName::parse("deploy").unwrap(),
            role_id: role_id.to_owned(),
            session_name: RoleSessionName::parse("ci-run").unwrap(),
            source_arn: "arn:aws:iam::123456789012:user/alice".into(),
            mfa_time: Some(issued - 5),
            issued,
            expiration,
        };
        s.create_sts_session(&new).unwrap();
        new
    }

    fn new_role(s: &Store) -> String {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
        s.create_role(
            &NewRole {
                name: RoleName::parse("deploy").unwrap(),
                path: crate::names::IamPath::root(),
                assume_role_policy_document: trust.into(),
                description: None,
                max_session_duration: None,
                tags: Vec::new(),
                permissions_boundary: None,
            },
            at(0),
        )
        .unwrap()
        .id
    }

    #[test]
    fn keys_are_created_listed_updated_and_deleted() {
        let (_d, s) = store();
        let k = add_key(&s, "alice");
        assert!(UniqueIdKind::AccessKey.matches(&k.id));
        assert_eq!(k.user, user("alice"));
        assert_eq!(k.status, AccessKeyStatus::Active);
        assert_eq!(k.create_date, at(10).timestamp());
        assert_eq!(k.last_used, None);
        assert_eq!(s.list_access_keys(&user("alice")).unwrap(), vec![k.clone()]);
        assert!(s.list_access_keys(&user("bob")).unwrap().is_empty());

        s.update_access_key(&user("alice"), &k.id, AccessKeyStatus::Inactive)
            .unwrap();
        assert_eq!(
            s.get_access_key(&k.id).unwrap().status,
            AccessKeyStatus::Inactive
        );
        s.delete_access_key(&user("alice"), &k.id).unwrap();
        assert!(s.list_access_keys(&user("alice")).unwrap().is_empty());
        let e = s.get_access_key(&k.id).unwrap_err();
        assert_eq!(e.aws_code(), "NoSuchEntity");
        assert_eq!(
            e.to_string(),
            format!("The Access Key with id {} cannot be found.", k.id)
        );
        assert_eq!(s.find_credential(&k.id).unwrap(), None);
    }

    #[test]
    fn at_most_two_keys_per_user() {
        let (_d, s) = store();
        add_key(&s, "alice");
        add_key(&s, "alice");
        let id = new_unique_id(UniqueIdKind::AccessKey).unwrap();
        let e = s
            .create_access_key(&user("alice"), &id, &Sealed(vec![1]), at(20))
            .unwrap_err();
        assert_eq!(e.aws_code(), "LimitExceeded");
        assert_eq!(
            e.to_string(),
            "Cannot exceed quota for AccessKeysPerUser: 2"
        );
        assert_eq!(s.list_access_keys(&user("alice")).unwrap().len(), 2);
        add_key(&s, "bob");
    }

    #[test]
    fn a_key_is_changed_only_through_its_owner() {
        let (_d, s) = store();
        let k = add_key(&s, "alice");
        for e in [
            s.update_access_key(&user("bob"), &k.id, AccessKeyStatus::Inactive)
                .unwrap_err(),
            s.delete_access_key(&user("bob"), &k.id).unwrap_err(),
        ] {
            assert_eq!(e.aws_code(), "NoSuchEntity");
        }
        assert_eq!(
            s.get_access_key(&k.id).unwrap().status,
            AccessKeyStatus::Active
        );
        let e = s.list_access_keys(&user("carol")).unwrap_err();
        assert_eq!(e.to_string(), "The user with name carol cannot be found.");
    }

    #[test]
    fn ids_of_the_wrong_shape_or_taken_are_refused() {
        let (_d, s) = store();
        let k = add_key(&s, "alice");
        let sealed = Sealed(vec![1]);
        for bad in ["ASIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPL", "AKIA"] {
            let e = s
                .create_access_key(&user("bob"), bad, &sealed, at(0))
                .unwrap_err();
            assert_eq!(e.aws_code(), "InvalidInput", "{bad}");
        }
        let e = s
            .create_access_key(&user("bob"), &k.id, &sealed, at(0))
            .unwrap_err();
        assert_eq!(e.aws_code(), "EntityAlreadyExists");
    }

    #[test]
    fn a_user_with_keys_cannot_be_deleted() {
        let (_d, s) = store();
        let k = add_key(&s, "alice");
        let e = s.delete_user(&user("alice")).unwrap_err();
        assert_eq!(e.aws_code(), "DeleteConflict");
        assert_eq!(
            e.to_string(),
            "Cannot delete entity, must delete access keys first."
        );
        s.delete_access_key(&user("alice"), &k.id).unwrap();
        s.delete_user(&user("alice")).unwrap();
    }

    #[test]
    fn keys_follow_the_user_not_its_name() {
        let (_d, s) = store();
        let k = add_key(&s, "alice");
        s.update_user(&user("alice"), Some(&user("carol")), None)
            .unwrap();
        s.create_user(&NewUser::new(user("alice")), at(30)).unwrap();
        assert!(s.list_access_keys(&user("alice")).unwrap().is_empty());
        assert_eq!(s.get_access_key(&k.id).unwrap().user, user("carol"));
        match s.find_credential(&k.id).unwrap() {
            Some(Credential::AccessKey { user: u, .. }) => assert_eq!(u, user("carol")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn find_credential_gives_the_sealed_secret_and_both_statuses() {
        let (_d, s) = store();
        let k = add_key(&s, "alice");
        s.set_user_status(&user("alice"), UserStatus::Disabled)
            .unwrap();
        s.update_access_key(&user("alice"), &k.id, AccessKeyStatus::Inactive)
            .unwrap();
        assert_eq!(
            s.find_credential(&k.id).unwrap(),
            Some(Credential::AccessKey {
                user: user("alice"),
                user_status: UserStatus::Disabled,
                status: AccessKeyStatus::Inactive,
                sealed: Sealed(vec![1, 2, 3]),
            })
        );
        assert_eq!(s.find_credential("AKIAIOSFODNN7EXAMPLE").unwrap(), None);
        assert_eq!(s.find_credential("ASIAIOSFODNN7EXAMPLE").unwrap(), None);
        assert_eq!(s.find_credential("").unwrap(), None);
    }

    #[test]
    fn last_use_is_written_at_most_once_a_minute() {
        let (_d, s) = store();
        let k = add_key(&s, "alice");
        assert!(
            s.record_access_key_use(&k.id, "iam", "us-east-1", at(100))
                .unwrap()
        );
        assert!(
            !s.record_access_key_use(&k.id, "sts", "eu-west-1", at(159))
                .unwrap()
        );
        let used = s.get_access_key(&k.id).unwrap().last_used.unwrap();
        assert_eq!(
            used,
            AccessKeyLastUsed {
                date: at(100).timestamp(),
                service: "iam".into(),
                region: "us-east-1".into()
            }
        );
        assert!(
            s.record_access_key_use(&k.id, "sts", "eu-west-1", at(160))
                .unwrap()
        );
        let listed = s.list_access_keys(&user("alice")).unwrap();
        assert_eq!(listed[0].last_used.as_ref().unwrap().service, "sts");
        assert_eq!(
            listed[0].last_used.as_ref().unwrap().date,
            at(160).timestamp()
        );
    }

    #[test]
    fn sessions_are_found_until_purged_and_die_with_their_role() {
        let (_d, s) = store();
        let role_id = new_role(&s);
        let t = at(0).timestamp();
        let old = session(&s, &role_id, t, t + 3600);
        match s.find_credential(&old.access_key_id).unwrap() {
            Some(Credential::RoleSession(found)) => {
                assert_eq!(found, old);
                assert!(found.mfa_authenticated());
                assert!(!found.expired(t + 3599));
                assert!(found.expired(t + 3600));
            }
            other => panic!("{other:?}"),
        }
        // Expired, but within the grace: still found (ExpiredToken).
        let later = t + 3600 + STS_SESSION_PURGE_GRACE;
        let new = session(&s, &role_id, later, later + 900);
        assert!(s.find_credential(&old.access_key_id).unwrap().is_some());
        // Past it: purged by the next session's creation.
        let _third = session(&s, &role_id, later + 1, later + 900);
        assert_eq!(s.find_credential(&old.access_key_id).unwrap(), None);
        assert_eq!(
            s.purge_sts_sessions(at(0) + chrono::Duration::days(30))
                .unwrap(),
            2
        );

        let live = session(&s, &role_id, t, t + 3600);
        s.delete_role(&RoleName::parse("deploy").unwrap()).unwrap();
        assert_eq!(s.find_credential(&live.access_key_id).unwrap(), None);
        assert_eq!(s.find_credential(&new.access_key_id).unwrap(), None);
    }

    #[test]
    fn bad_sessions_are_refused() {
        let (_d, s) = store();
        let role_id = new_role(&s);
        let mut new = session(&s, &role_id, 100, 200);
        let e = s.create_sts_session(&new).unwrap_err();
        assert_eq!(e.aws_code(), "EntityAlreadyExists");
        new.access_key_id = new_unique_id(UniqueIdKind::AccessKey).unwrap();
        assert_eq!(
            s.create_sts_session(&new).unwrap_err().aws_code(),
            "InvalidInput"
        );
        new.access_key_id = new_unique_id(UniqueIdKind::SessionKey).unwrap();
        new.expiration = new.issued;
        assert_eq!(
            s.create_sts_session(&new).unwrap_err().aws_code(),
            "InvalidInput"
        );
        new.expiration = new.issued + 1;
        new.role_id = "AROAIOSFODNN7EXAMPLE1".into();
        assert_eq!(
            s.create_sts_session(&new).unwrap_err().aws_code(),
            "NoSuchEntity"
        );
    }
}
