//! Users, their tags, boundaries, login profiles and Linux ids.

use super::change_one;
use super::sql::{Connection, OptionalExtension, Row, params};
use super::{
    EntityKind, LoginProfile, NewUser, Result, Store, StoreError, User, UserStatus, to_u32,
};
use crate::names::{
    IamPath, MAX_TAGS, Tag, TagKey, UniqueIdKind, UserName, check_tags, new_unique_id, user_arn,
};
use chrono::{DateTime, Utc};

/// A user's columns, with `PasswordLastUsed` from the ledger's `last_used`
/// (keyed by unique id), selected `FROM {USERS}`.
pub(crate) const USER_COLUMNS: &str = "users.name, users.path, users.unique_id,
    users.create_date, last_used.password, users.status, users.tags,
    users.permissions_boundary, users.uid";
/// The rows [`USER_COLUMNS`] are selected from: a join, not a subquery per
/// row (`list-users` reads them all).
pub(crate) const USERS: &str = "users LEFT JOIN last_used ON last_used.unique_id = users.unique_id";

impl Store {
    /// `CreateUser`: allocates a unique id and a never-used Linux uid.
    /// Refused if the name shadows a local account (its private group has
    /// the same name); see [`crate::local_accounts`].
    pub fn create_user(&self, new: &NewUser, now: DateTime<Utc>) -> Result<User> {
        check_tags(&new.tags)?;
        let unique_id = new_unique_id(UniqueIdKind::User)?;
        self.write(|c| {
            if find_user_id(c, &new.name)?.is_some() {
                return Err(StoreError::exists(EntityKind::User, &new.name));
            }
            self.check_linux_name(c, EntityKind::User, new.name.as_str())?;
            if let Some(arn) = &new.permissions_boundary {
                self.policy_id_by_arn(c, arn)?;
            }
            let uid = self.allocate_linux_id(c, "user", new.name.as_str(), now)?;
            c.execute(
                "INSERT INTO users (name, path, unique_id, create_date, status, tags, permissions_boundary, uid)
                 VALUES (?1, ?2, ?3, ?4, 'Active', ?5, ?6, ?7)",
                params![
                    new.name.as_str(),
                    new.path.as_str(),
                    unique_id,
                    now.timestamp(),
                    tags_json(&new.tags)?,
                    new.permissions_boundary,
                    uid
                ],
            )?;
            self.user_in(c, &new.name)
        })
    }

    /// `GetUser`.
    pub fn get_user(&self, name: &UserName) -> Result<User> {
        self.read(|c| self.user_in(c, name))
    }

    /// Like [`Store::get_user`], but an unknown user is `None` (PAM's case).
    pub fn find_user(&self, name: &UserName) -> Result<Option<User>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {USER_COLUMNS} FROM {USERS} WHERE users.name = ?1"),
                [name.as_str()],
                |r| Ok(self.user_from_row(r)),
            )
            .optional()?
            .transpose()
        })
    }

    /// Finds a user by Linux uid (for `iamctl`'s caller identity).
    pub fn find_user_by_uid(&self, uid: u32) -> Result<Option<User>> {
        self.read(|c| {
            c.query_row(
                &format!("SELECT {USER_COLUMNS} FROM {USERS} WHERE users.uid = ?1"),
                [uid],
                |r| Ok(self.user_from_row(r)),
            )
            .optional()?
            .transpose()
        })
    }

    /// `ListUsers`, sorted by name, optionally under a path prefix.
    pub fn list_users(&self, path_prefix: Option<&str>) -> Result<Vec<User>> {
        self.list_users_page(path_prefix, None, None)
    }

    /// One page of `ListUsers`: the users after `after` (a name; the order
    /// is by name, case-insensitively, the order names are unique in), at
    /// most `limit` of them. A page is read straight from the name index,
    /// so its cost does not grow with the directory.
    pub fn list_users_page(
        &self,
        path_prefix: Option<&str>,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<User>> {
        let limit = limit.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
        // A range on the name index when continuing (an OR would hide the
        // range from SQLite's planner and make every page a walk from the
        // first name).
        let from = match after {
            Some(_) => "users.name > CAST(?1 AS TEXT) COLLATE NOCASE",
            None => "CAST(?1 AS TEXT) IS NULL",
        };
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM {USERS}
                 WHERE {from}
                   AND (CAST(?2 AS TEXT) IS NULL
                        OR substr(users.path, 1, length(CAST(?2 AS TEXT))) = CAST(?2 AS TEXT))
                 ORDER BY users.name COLLATE NOCASE
                 LIMIT ?3"
            ))?;
            let rows = st.query_map(params![after, path_prefix, limit], |r| {
                Ok(self.user_from_row(r))
            })?;
            rows.map(|row| row?).collect()
        })
    }

    /// `DeleteUser`: refused (as AWS does) while the user still has a login
    /// profile, access keys, MFA devices, inline or attached policies, or groups. The uid
    /// stays allocated forever.
    pub fn delete_user(&self, name: &UserName) -> Result<()> {
        self.write(|c| {
            let id = user_id(c, name)?;
            let has = |sql: &str| -> Result<bool> {
                Ok(c.query_row(sql, [id], |r| r.get::<_, i64>(0))? > 0)
            };
            if has("SELECT count(*) FROM login_profiles WHERE user_id = ?1")? {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must delete login profile first.".into(),
                ));
            }
            if has("SELECT count(*) FROM access_keys k JOIN users u ON u.unique_id = k.user_id WHERE u.id = ?1")? {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must delete access keys first.".into(),
                ));
            }
            if has("SELECT count(*) FROM ssh_public_keys k JOIN users u ON u.unique_id = k.user_id WHERE u.id = ?1")? {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must delete SSH public keys first.".into(),
                ));
            }
            if has("SELECT count(*) FROM mfa_devices WHERE user_id = ?1")? {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must delete MFA device first.".into(),
                ));
            }
            if has("SELECT count(*) FROM inline_policies WHERE entity_kind = 'user' AND entity_id = ?1")?
                || has("SELECT count(*) FROM attachments WHERE entity_kind = 'user' AND entity_id = ?1")?
            {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            if has("SELECT count(*) FROM group_members WHERE user_id = ?1")? {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must remove user from all groups first.".into(),
                ));
            }
            c.execute("DELETE FROM users WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// `UpdateUser`: rename and/or move. The uid and unique id stay. A new
    /// name that shadows a local account is refused.
    pub fn update_user(
        &self,
        name: &UserName,
        new_name: Option<&UserName>,
        new_path: Option<&IamPath>,
    ) -> Result<User> {
        self.write(|c| {
            let id = user_id(c, name)?;
            if let Some(n) = new_name {
                if find_user_id(c, n)?.is_some_and(|other| other != id) {
                    return Err(StoreError::exists(EntityKind::User, n));
                }
                self.check_linux_name(c, EntityKind::User, n.as_str())?;
                c.execute(
                    "UPDATE users SET name = ?1 WHERE id = ?2",
                    params![n.as_str(), id],
                )?;
            }
            if let Some(p) = new_path {
                c.execute(
                    "UPDATE users SET path = ?1 WHERE id = ?2",
                    params![p.as_str(), id],
                )?;
            }
            self.user_in(c, new_name.unwrap_or(name))
        })
    }

    /// Enables or disables a user (a disabled user cannot log in).
    pub fn set_user_status(&self, name: &UserName, status: UserStatus) -> Result<()> {
        self.write(|c| {
            let id = user_id(c, name)?;
            c.execute(
                "UPDATE users SET status = ?1 WHERE id = ?2",
                params![status.as_str(), id],
            )?;
            Ok(())
        })
    }

    /// `TagUser`: adds tags, replacing values of existing keys
    /// (case-insensitively); at most 50 tags in all.
    pub fn tag_user(&self, name: &UserName, tags: &[Tag]) -> Result<()> {
        self.write(|c| {
            let id = user_id(c, name)?;
            let current = load_tags(c, "users", id)?;
            store_tags(c, "users", id, merge_tags(current, tags))
        })
    }

    /// `UntagUser`: removes the given keys (case-insensitively).
    pub fn untag_user(&self, name: &UserName, keys: &[TagKey]) -> Result<()> {
        self.write(|c| {
            let id = user_id(c, name)?;
            let current = load_tags(c, "users", id)?;
            store_tags(c, "users", id, remove_tags(current, keys))
        })
    }

    /// `PutUserPermissionsBoundary` (`Some`) / `DeleteUserPermissionsBoundary` (`None`).
    pub fn set_user_permissions_boundary(
        &self,
        name: &UserName,
        policy_arn: Option<&str>,
    ) -> Result<()> {
        self.write(|c| {
            let id = user_id(c, name)?;
            if let Some(arn) = policy_arn {
                self.policy_id_by_arn(c, arn)?;
            }
            c.execute(
                "UPDATE users SET permissions_boundary = ?1 WHERE id = ?2",
                params![policy_arn, id],
            )?;
            Ok(())
        })
    }

    // ---- login profiles ------------------------------------------------

    /// `CreateLoginProfile` with an argon2id PHC string.
    pub fn create_login_profile(
        &self,
        name: &UserName,
        password_hash: &str,
        password_reset_required: bool,
        now: DateTime<Utc>,
    ) -> Result<LoginProfile> {
        self.write(|c| {
            let id = user_id(c, name)?;
            let exists: Option<i64> = c
                .query_row(
                    "SELECT user_id FROM login_profiles WHERE user_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Err(StoreError::exists(EntityKind::LoginProfile, name));
            }
            c.execute(
                "INSERT INTO login_profiles (user_id, password_hash, password_reset_required, create_date, password_changed)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, password_hash, password_reset_required, now.timestamp()],
            )?;
            login_profile_in(c, name, id)
        })
    }

    /// `GetLoginProfile` (also how PAM gets the hash to verify).
    pub fn get_login_profile(&self, name: &UserName) -> Result<LoginProfile> {
        self.read(|c| {
            let id = user_id(c, name)?;
            login_profile_in(c, name, id)
        })
    }

    /// Sets a new password (`UpdateLoginProfile --password`, `ChangePassword`,
    /// PAM `chauthtok`). The old hash goes into the history; only the
    /// newest `keep_history` old hashes are kept.
    pub fn set_password(
        &self,
        name: &UserName,
        password_hash: &str,
        password_reset_required: bool,
        keep_history: u32,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|c| {
            let id = user_id(c, name)?;
            let old = login_profile_in(c, name, id)?;
            c.execute(
                "INSERT INTO password_history (user_id, seq, password_hash, retired_at)
                 VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM password_history WHERE user_id = ?1), ?2, ?3)",
                params![id, old.password_hash, now.timestamp()],
            )?;
            c.execute(
                "DELETE FROM password_history WHERE user_id = ?1 AND seq NOT IN
                   (SELECT seq FROM password_history WHERE user_id = ?1 ORDER BY seq DESC LIMIT ?2)",
                params![id, keep_history],
            )?;
            c.execute(
                "UPDATE login_profiles SET password_hash = ?1, password_reset_required = ?2, password_changed = ?3
                 WHERE user_id = ?4",
                params![password_hash, password_reset_required, now.timestamp(), id],
            )?;
            Ok(())
        })
    }

    /// `UpdateLoginProfile --[no-]password-reset-required` alone.
    pub fn set_password_reset_required(&self, name: &UserName, required: bool) -> Result<()> {
        self.write(|c| {
            let id = user_id(c, name)?;
            change_one(
                c,
                "UPDATE login_profiles SET password_reset_required = ?1 WHERE user_id = ?2",
                params![required, id],
                || StoreError::no_such(EntityKind::LoginProfile, name),
            )
        })
    }

    /// Previous password hashes, newest first (the current one excluded:
    /// it is in the login profile), at most `n`.
    pub fn password_history(&self, name: &UserName, n: u32) -> Result<Vec<String>> {
        self.read(|c| {
            let id = user_id(c, name)?;
            let mut st = c.prepare_cached(
                "SELECT password_hash FROM password_history WHERE user_id = ?1 ORDER BY seq DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![id, n], |r| r.get(0))?;
            Ok(rows.collect::<crate::store::sql::SqlResult<Vec<String>>>()?)
        })
    }

    /// `DeleteLoginProfile`: the user can no longer log in with a password.
    pub fn delete_login_profile(&self, name: &UserName) -> Result<()> {
        self.write(|c| {
            let id = user_id(c, name)?;
            change_one(
                c,
                "DELETE FROM login_profiles WHERE user_id = ?1",
                [id],
                || StoreError::no_such(EntityKind::LoginProfile, name),
            )
        })
    }

    // ---- helpers -------------------------------------------------------

    pub(crate) fn user_in(&self, c: &Connection, name: &UserName) -> Result<User> {
        c.query_row(
            &format!("SELECT {USER_COLUMNS} FROM {USERS} WHERE users.name = ?1"),
            [name.as_str()],
            |r| Ok(self.user_from_row(r)),
        )
        .optional()?
        .ok_or_else(|| StoreError::no_such(EntityKind::User, name))?
    }

    /// Maps a row selected with [`USER_COLUMNS`].
    pub(crate) fn user_from_row(&self, r: &Row<'_>) -> Result<User> {
        let name = UserName::parse(&r.get::<_, String>(0)?).map_err(corrupt)?;
        let path = IamPath::parse(&r.get::<_, String>(1)?).map_err(corrupt)?;
        let status = match r.get::<_, String>(5)?.as_str() {
            "Active" => UserStatus::Active,
            _ => UserStatus::Disabled,
        };
        Ok(User {
            arn: user_arn(&self.account, &path, &name),
            id: r.get(2)?,
            create_date: r.get(3)?,
            password_last_used: r.get(4)?,
            status,
            tags: parse_tags(&r.get::<_, String>(6)?)?,
            permissions_boundary: r.get(7)?,
            uid: to_u32(r.get(8)?, "uid")?,
            name,
            path,
        })
    }

    /// Hands out the next never-used Linux id in the configured range,
    /// skipping the host's local uids and gids (an IAM account must not
    /// own a local account's files).
    pub(crate) fn allocate_linux_id(
        &self,
        c: &Connection,
        kind: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<u32> {
        let (lo, hi) = self.limits.uid_range;
        if lo < 1000 || lo > hi || hi >= 0x7fff_ffff {
            return Err(StoreError::InvalidInput(format!(
                "uid_range [{lo}, {hi}] must satisfy 1000 <= lo <= hi < 2147483647"
            )));
        }
        // 65534/65535 are nobody/nogroup and the 16-bit "invalid" id.
        let usable = |id: i64| {
            id != 65534 && id != 65535 && u32::try_from(id).is_ok_and(|id| !self.local.id_taken(id))
        };
        let max: Option<i64> = c.query_row(
            "SELECT max(id) FROM linux_ids WHERE id BETWEEN ?1 AND ?2",
            params![lo, hi],
            |r| r.get(0),
        )?;
        let mut next = max.map_or(i64::from(lo), |m| m + 1);
        while next <= i64::from(hi) && !usable(next) {
            next += 1;
        }
        if next > i64::from(hi) {
            // Past the top: take the lowest usable id in range never handed
            // out (possible only if the range was widened downwards).
            let mut st = c.prepare_cached(
                "SELECT id FROM linux_ids WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
            )?;
            let taken =
                st.query_map(params![lo, hi], |r| r.get::<_, i64>(0))?
                    .collect::<crate::store::sql::SqlResult<std::collections::BTreeSet<i64>>>()?;
            next = (i64::from(lo)..=i64::from(hi))
                .find(|id| !taken.contains(id) && usable(*id))
                .ok_or_else(|| {
                    StoreError::LimitExceeded(format!(
                        "Cannot allocate a Linux id: uid_range [{lo}, {hi}] is exhausted."
                    ))
                })?;
        }
        c.execute(
            "INSERT INTO linux_ids (id, kind, owner, allocated_at) VALUES (?1, ?2, ?3, ?4)",
            params![next, kind, owner, now.timestamp()],
        )?;
        to_u32(next, "linux id")
    }
}

pub(crate) fn find_user_id(c: &Connection, name: &UserName) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT id FROM users WHERE name = ?1",
        [name.as_str()],
        |r| r.get(0),
    )
    .optional()?)
}

pub(crate) fn user_id(c: &Connection, name: &UserName) -> Result<i64> {
    find_user_id(c, name)?.ok_or_else(|| StoreError::no_such(EntityKind::User, name))
}

fn login_profile_in(c: &Connection, name: &UserName, id: i64) -> Result<LoginProfile> {
    c.query_row(
        "SELECT u.name, p.password_hash, p.password_reset_required, p.create_date, p.password_changed
         FROM login_profiles p JOIN users u ON u.id = p.user_id WHERE p.user_id = ?1",
        [id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        },
    )
    .optional()?
    .map(|(n, password_hash, password_reset_required, create_date, password_changed)| {
        Ok(LoginProfile {
            user: UserName::parse(&n).map_err(corrupt)?,
            password_hash,
            password_reset_required,
            create_date,
            password_changed,
        })
    })
    .ok_or_else(|| StoreError::no_such(EntityKind::LoginProfile, name))?
}

pub(crate) fn corrupt(e: crate::names::NameError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) fn tags_json(tags: &[Tag]) -> Result<String> {
    serde_json::to_string(tags).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn parse_tags(s: &str) -> Result<Vec<Tag>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("tags: {e}")))
}

/// `table` is `users`, `roles` or `instance_profiles` (a constant, never
/// user input).
pub(crate) fn load_tags(c: &Connection, table: &str, id: i64) -> Result<Vec<Tag>> {
    let s: String = c.query_row(
        &format!("SELECT tags FROM {table} WHERE id = ?1"),
        [id],
        |r| r.get(0),
    )?;
    parse_tags(&s)
}

pub(crate) fn store_tags(c: &Connection, table: &str, id: i64, tags: Vec<Tag>) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(StoreError::LimitExceeded(format!(
            "Cannot exceed quota for TagsPer{}: {MAX_TAGS}",
            match table {
                "roles" => "Role",
                "instance_profiles" => "InstanceProfile",
                _ => "User",
            }
        )));
    }
    check_tags(&tags)?;
    c.execute(
        &format!("UPDATE {table} SET tags = ?1 WHERE id = ?2"),
        params![tags_json(&tags)?, id],
    )?;
    Ok(())
}

pub(crate) fn merge_tags(mut current: Vec<Tag>, new: &[Tag]) -> Vec<Tag> {
    for t in new {
        match current
            .iter_mut()
            .find(|c| c.key.as_str().eq_ignore_ascii_case(t.key.as_str()))
        {
            Some(existing) => *existing = t.clone(),
            None => current.push(t.clone()),
        }
    }
    current
}

pub(crate) fn remove_tags(current: Vec<Tag>, keys: &[TagKey]) -> Vec<Tag> {
    current
        .into_iter()
        .filter(|t| {
            !keys
                .iter()
                .any(|k| k.as_str().eq_ignore_ascii_case(t.key.as_str()))
        })
        .collect()
}
