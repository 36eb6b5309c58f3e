//! Hosts as IAM principals (issue 14): one-time join tokens and the
//! credentials of enrolled hosts, for iam-server.
//!
//! Of a join token the store keeps only its SHA-256; `JoinHost` consumes it
//! in the transaction that stores the host's credential, so a token enrols
//! one host at most, and never after it expired. A host's secret arrives
//! sealed by the server's key, like an access key's. The credential is
//! bound to the instance profile's unique id: the host is a session of
//! whichever role the profile holds now, and is refused once it holds none,
//! once the profile is deleted or once `revoke_host` deleted the key.

use super::instance_profiles::profile_id;
use super::sql::{Connection, OptionalExtension, params};
use super::users::corrupt;
use super::{
    EnrolledHost, EntityKind, HostCredential, InstanceProfile, Result, Sealed, Store, StoreError,
};
use crate::names::{HostName, InstanceProfileName, RoleName, UniqueIdKind};
use chrono::{DateTime, Utc};

/// The longest a join token may live, in seconds: it is a bearer secret
/// that makes a host, so it should be used within the hour it is issued
/// for; a week bounds a forgotten one.
pub const JOIN_TOKEN_MAX_LIFETIME: i64 = 7 * 24 * 3600;

impl Store {
    /// Stores a join token for `profile` by its digest, expiring at
    /// `expiration` (after `now`, within [`JOIN_TOKEN_MAX_LIFETIME`]), and
    /// purges the expired ones in the same transaction.
    pub fn create_join_token(
        &self,
        profile: &InstanceProfileName,
        token_sha256: &[u8; 32],
        now: DateTime<Utc>,
        expiration: DateTime<Utc>,
    ) -> Result<InstanceProfile> {
        let (now, expiration) = (now.timestamp(), expiration.timestamp());
        if expiration <= now || expiration - now > JOIN_TOKEN_MAX_LIFETIME {
            return Err(StoreError::InvalidInput(format!(
                "A join token must expire within 1 second and {} days.",
                JOIN_TOKEN_MAX_LIFETIME / 86400
            )));
        }
        self.write(|c| {
            c.execute("DELETE FROM join_tokens WHERE expiration <= ?1", [now])?;
            let id = profile_id(c, profile)?;
            c.execute(
                "INSERT INTO join_tokens (token_sha256, instance_profile_id, created, expiration)
                 SELECT ?1, unique_id, ?2, ?3 FROM instance_profiles WHERE id = ?4",
                params![token_sha256.as_slice(), now, expiration, id],
            )?;
            self.instance_profile_in(c, profile)
        })
    }

    /// `JoinHost`: uses up the token whose digest is `token_sha256` (unknown,
    /// used and expired are one error) and stores the host's credential
    /// (`access_key_id` fresh from `new_unique_id(UniqueIdKind::HostKey)`,
    /// `sealed` its secret), in one transaction. A hostname enrolled
    /// already is refused (revoke it first), as is a profile holding no
    /// role: the host could make no call.
    pub fn join_host(
        &self,
        token_sha256: &[u8; 32],
        hostname: &HostName,
        access_key_id: &str,
        sealed: &Sealed,
        now: DateTime<Utc>,
    ) -> Result<EnrolledHost> {
        if !UniqueIdKind::HostKey.matches(access_key_id) {
            return Err(StoreError::InvalidInput(format!(
                "Invalid host key id: must be {} and 16 base32 characters.",
                UniqueIdKind::HostKey.prefix()
            )));
        }
        self.write(|c| {
            let profile_unique_id: String = c
                .query_row(
                    "DELETE FROM join_tokens WHERE token_sha256 = ?1 AND expiration > ?2
                     RETURNING instance_profile_id",
                    params![token_sha256.as_slice(), now.timestamp()],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(StoreError::InvalidJoinToken)?;
            let profile: String = c.query_row(
                "SELECT name FROM instance_profiles WHERE unique_id = ?1",
                [&profile_unique_id],
                |r| r.get(0),
            )?;
            let profile = InstanceProfileName::parse(&profile).map_err(corrupt)?;
            let profile = self.instance_profile_in(c, &profile)?;
            if profile.roles.is_empty() {
                return Err(StoreError::InvalidInput(format!(
                    "Instance profile {} holds no role: add one (add-role-to-instance-profile) \
                     and issue a new join token.",
                    profile.name
                )));
            }
            let enrolled: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM host_credentials WHERE hostname = ?1)",
                [hostname.as_str()],
                |r| r.get(0),
            )?;
            if enrolled {
                return Err(StoreError::exists(EntityKind::Host, hostname));
            }
            c.execute(
                "INSERT INTO host_credentials
                     (access_key_id, sealed_secret, instance_profile_id, hostname, create_date)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    access_key_id,
                    sealed.0,
                    profile_unique_id,
                    hostname.as_str(),
                    now.timestamp()
                ],
            )?;
            Ok(EnrolledHost {
                hostname: hostname.clone(),
                access_key_id: access_key_id.to_owned(),
                instance_profile: profile,
                create_date: now.timestamp(),
            })
        })
    }

    /// An enrolled host: its key id and the instance profile (role, tags)
    /// it was enrolled with.
    pub fn get_host(&self, hostname: &HostName) -> Result<EnrolledHost> {
        self.read(|c| {
            let (hostname, access_key_id, profile, create_date) = c
                .query_row(
                    "SELECT h.hostname, h.access_key_id, p.name, h.create_date
                     FROM host_credentials h
                     JOIN instance_profiles p ON p.unique_id = h.instance_profile_id
                     WHERE h.hostname = ?1",
                    [hostname.as_str()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    },
                )
                .optional()?
                .ok_or_else(|| StoreError::no_such(EntityKind::Host, hostname))?;
            let profile = InstanceProfileName::parse(&profile).map_err(corrupt)?;
            Ok(EnrolledHost {
                hostname: HostName::parse(&hostname).map_err(corrupt)?,
                access_key_id,
                instance_profile: self.instance_profile_in(c, &profile)?,
                create_date,
            })
        })
    }

    /// `iam-server revoke-host`: deletes the host's credential (its sealed
    /// secret overwritten on disk); its next call is refused.
    pub fn revoke_host(&self, hostname: &HostName) -> Result<()> {
        self.write(|c| {
            super::change_one(
                c,
                "DELETE FROM host_credentials WHERE hostname = ?1",
                [hostname.as_str()],
                || StoreError::no_such(EntityKind::Host, hostname),
            )
        })
    }
}

/// A host key's credential with the role its profile holds now; `None` for
/// an unknown or revoked key, or one whose profile was deleted.
pub(super) fn host_credential_in(
    c: &Connection,
    access_key_id: &str,
) -> Result<Option<HostCredential>> {
    c.query_row(
        "SELECT h.hostname, h.sealed_secret, p.name, r.name
         FROM host_credentials h
         JOIN instance_profiles p ON p.unique_id = h.instance_profile_id
         LEFT JOIN roles r ON r.unique_id = p.role_id
         WHERE h.access_key_id = ?1",
        [access_key_id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        },
    )
    .optional()?
    .map(|(hostname, sealed, profile, role)| {
        Ok(HostCredential {
            hostname: HostName::parse(&hostname).map_err(corrupt)?,
            sealed: Sealed(sealed),
            instance_profile: InstanceProfileName::parse(&profile).map_err(corrupt)?,
            role: role
                .map(|r| RoleName::parse(&r).map_err(corrupt))
                .transpose()?,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::names::{IamPath, Tag, TagKey, TagValue, new_unique_id};
    use crate::store::test_support::{at, store_with};
    use crate::store::{Credential, NewInstanceProfile, NewRole};

    fn profile_name(s: &str) -> InstanceProfileName {
        InstanceProfileName::parse(s).unwrap()
    }

    fn role(s: &str) -> RoleName {
        RoleName::parse(s).unwrap()
    }

    fn host(s: &str) -> HostName {
        HostName::parse(s).unwrap()
    }

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: TagKey::parse(k).unwrap(),
            value: TagValue::parse(v).unwrap(),
        }
    }

    /// A store with role `web-host` and profile `web` holding it.
    fn store() -> (tempfile::TempDir, Store) {
        let (d, s) = store_with(&[]);
        for name in ["web-host", "db-host"] {
            let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
            let new = NewRole {
                name: role(name),
                path: IamPath::root(),
                assume_role_policy_document: trust.into(),
                description: None,
                max_session_duration: None,
                tags: Vec::new(),
                permissions_boundary: None,
            };
            s.create_role(&new, at(0)).unwrap();
        }
        let new = NewInstanceProfile {
            name: profile_name("web"),
            path: IamPath::parse("/fleet/").unwrap(),
            tags: vec![tag("env", "prod")],
        };
        s.create_instance_profile(&new, at(1)).unwrap();
        s.add_role_to_instance_profile(&profile_name("web"), &role("web-host"))
            .unwrap();
        (d, s)
    }

    fn join(s: &Store, token: &[u8; 32], hostname: &str, when: i64) -> Result<EnrolledHost> {
        let id = new_unique_id(UniqueIdKind::HostKey).unwrap();
        s.join_host(token, &host(hostname), &id, &Sealed(vec![5; 8]), at(when))
    }

    #[test]
    fn an_instance_profile_has_aws_ids_arns_and_at_most_one_role() {
        let (_d, s) = store();
        let p = s.get_instance_profile(&profile_name("WEB")).unwrap();
        assert!(p.id.starts_with("AIPA") && p.id.len() == 21, "{}", p.id);
        assert_eq!(
            p.arn,
            "arn:aws:iam::123456789012:instance-profile/fleet/web"
        );
        assert_eq!(p.roles.len(), 1);
        assert_eq!(p.roles[0].name, role("web-host"));
        assert_eq!(p.tags, vec![tag("env", "prod")]);
        let e = s
            .add_role_to_instance_profile(&profile_name("web"), &role("db-host"))
            .unwrap_err();
        assert_eq!(e.aws_code(), "LimitExceeded");
        assert_eq!(
            e.to_string(),
            "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1"
        );
        let e = s
            .create_instance_profile(
                &NewInstanceProfile {
                    name: profile_name("Web"),
                    path: IamPath::root(),
                    tags: Vec::new(),
                },
                at(2),
            )
            .unwrap_err();
        assert_eq!(e.aws_code(), "EntityAlreadyExists");
        assert_eq!(
            s.list_instance_profiles_for_role(&role("web-host"))
                .unwrap()
                .len(),
            1
        );
        assert!(
            s.list_instance_profiles_for_role(&role("db-host"))
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.list_instance_profiles(Some("/fleet/")).unwrap().len(), 1);
        assert!(
            s.list_instance_profiles(Some("/other/"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_role_in_a_profile_and_a_profile_with_a_role_cannot_be_deleted() {
        let (_d, s) = store();
        let e = s.delete_role(&role("web-host")).unwrap_err();
        assert_eq!(e.aws_code(), "DeleteConflict");
        assert_eq!(
            e.to_string(),
            "Cannot delete entity, must remove roles from instance profile first."
        );
        let e = s.delete_instance_profile(&profile_name("web")).unwrap_err();
        assert_eq!(e.aws_code(), "DeleteConflict");
        let e = s
            .remove_role_from_instance_profile(&profile_name("web"), &role("db-host"))
            .unwrap_err();
        assert_eq!(e.aws_code(), "NoSuchEntity");
        s.remove_role_from_instance_profile(&profile_name("web"), &role("web-host"))
            .unwrap();
        s.delete_role(&role("web-host")).unwrap();
        s.delete_instance_profile(&profile_name("web")).unwrap();
        let e = s.get_instance_profile(&profile_name("web")).unwrap_err();
        assert_eq!(e.aws_code(), "NoSuchEntity");
        assert_eq!(e.to_string(), "Instance Profile web cannot be found.");
    }

    #[test]
    fn instance_profile_tags_follow_aws_tag_rules() {
        let (_d, s) = store();
        let name = profile_name("web");
        s.tag_instance_profile(&name, &[tag("ENV", "dev"), tag("tier", "web")])
            .unwrap();
        let tags = s.get_instance_profile(&name).unwrap().tags;
        assert_eq!(tags, vec![tag("ENV", "dev"), tag("tier", "web")]);
        s.untag_instance_profile(&name, &[TagKey::parse("Env").unwrap()])
            .unwrap();
        assert_eq!(
            s.get_instance_profile(&name).unwrap().tags,
            vec![tag("tier", "web")]
        );
        let many: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
        let e = s.tag_instance_profile(&name, &many).unwrap_err();
        assert_eq!(e.aws_code(), "LimitExceeded");
        assert_eq!(
            e.to_string(),
            "Cannot exceed quota for TagsPerInstanceProfile: 50"
        );
    }

    #[test]
    fn a_join_token_enrols_one_host_once_and_never_after_it_expired() {
        let (_d, s) = store();
        let token = [1u8; 32];
        s.create_join_token(&profile_name("web"), &token, at(10), at(3610))
            .unwrap();
        let enrolled = join(&s, &token, "web-1", 20).unwrap();
        assert_eq!(enrolled.instance_profile.name, profile_name("web"));
        assert_eq!(
            join(&s, &token, "web-2", 21).unwrap_err().aws_code(),
            "InvalidJoinToken"
        );
        match s.find_credential(&enrolled.access_key_id).unwrap() {
            Some(Credential::Host(h)) => {
                assert_eq!(h.hostname, host("web-1"));
                assert_eq!(h.role, Some(role("web-host")));
                assert_eq!(h.instance_profile, profile_name("web"));
                assert_eq!(h.sealed, Sealed(vec![5; 8]));
            }
            other => panic!("{other:?}"),
        }

        let expiring = [2u8; 32];
        s.create_join_token(&profile_name("web"), &expiring, at(10), at(70))
            .unwrap();
        assert_eq!(
            join(&s, &expiring, "web-3", 70).unwrap_err().aws_code(),
            "InvalidJoinToken"
        );
        assert_eq!(
            join(&s, &[3u8; 32], "web-3", 20).unwrap_err().aws_code(),
            "InvalidJoinToken"
        );
        for (from, to) in [(10, 10), (10, 5), (0, JOIN_TOKEN_MAX_LIFETIME + 1)] {
            let e = s
                .create_join_token(&profile_name("web"), &[4u8; 32], at(from), at(to))
                .unwrap_err();
            assert_eq!(e.aws_code(), "InvalidInput");
        }
    }

    #[test]
    fn a_hostname_is_enrolled_once_and_a_profile_without_role_enrols_nobody() {
        let (_d, s) = store();
        let token = [1u8; 32];
        s.create_join_token(&profile_name("web"), &token, at(0), at(600))
            .unwrap();
        join(&s, &token, "web-1", 1).unwrap();
        let again = [2u8; 32];
        s.create_join_token(&profile_name("web"), &again, at(0), at(600))
            .unwrap();
        let e = join(&s, &again, "WEB-1", 2).unwrap_err();
        assert_eq!(e.aws_code(), "EntityAlreadyExists");
        // Refused whole: the token is still there for the right host.
        join(&s, &again, "web-2", 3).unwrap();

        s.remove_role_from_instance_profile(&profile_name("web"), &role("web-host"))
            .unwrap();
        let empty = [3u8; 32];
        s.create_join_token(&profile_name("web"), &empty, at(0), at(600))
            .unwrap();
        let e = join(&s, &empty, "web-3", 4).unwrap_err();
        assert_eq!(e.aws_code(), "InvalidInput");
        assert!(e.to_string().contains("holds no role"), "{e}");
    }

    #[test]
    fn a_host_is_revoked_by_removing_the_role_deleting_the_profile_or_revoke_host() {
        let (_d, s) = store();
        let enrol = |t: u8, name: &str| {
            s.create_join_token(&profile_name("web"), &[t; 32], at(0), at(600))
                .unwrap();
            join(&s, &[t; 32], name, 1).unwrap().access_key_id
        };
        let one = enrol(1, "web-1");
        let two = enrol(2, "web-2");
        let found = s.get_host(&host("WEB-2")).unwrap();
        assert_eq!(found.access_key_id, two);
        assert_eq!(found.instance_profile.tags, vec![tag("env", "prod")]);
        s.revoke_host(&host("web-1")).unwrap();
        assert_eq!(s.find_credential(&one).unwrap(), None);
        assert_eq!(
            s.revoke_host(&host("web-1")).unwrap_err().aws_code(),
            "NoSuchEntity"
        );

        s.remove_role_from_instance_profile(&profile_name("web"), &role("web-host"))
            .unwrap();
        match s.find_credential(&two).unwrap() {
            Some(Credential::Host(h)) => assert_eq!(h.role, None),
            other => panic!("{other:?}"),
        }
        s.delete_instance_profile(&profile_name("web")).unwrap();
        assert_eq!(s.find_credential(&two).unwrap(), None);
        assert_eq!(
            s.get_host(&host("web-2")).unwrap_err().aws_code(),
            "NoSuchEntity"
        );
        // A new profile of the same name does not bring the host back.
        s.create_instance_profile(
            &NewInstanceProfile {
                name: profile_name("web"),
                path: IamPath::root(),
                tags: Vec::new(),
            },
            at(5),
        )
        .unwrap();
        s.add_role_to_instance_profile(&profile_name("web"), &role("web-host"))
            .unwrap();
        assert_eq!(s.find_credential(&two).unwrap(), None);
    }
}
