//! Roles: trust policy, session duration, tags, boundary.

use super::sql::{Connection, OptionalExtension, Row, params};
use super::users::{
    corrupt, load_tags, merge_tags, parse_tags, remove_tags, store_tags, tags_json,
};
use super::{EntityKind, NewRole, Result, Role, Store, StoreError, check_policy, to_u32};
use crate::names::{
    IamPath, RoleName, Tag, TagKey, UniqueIdKind, check_tags, new_unique_id, role_arn,
};
use crate::policy::PolicyKind;
use chrono::{DateTime, Utc};

const ROLE_COLUMNS: &str = "name, path, unique_id, create_date, trust_policy, description, max_session_duration, tags, permissions_boundary, id";

/// AWS's default and bounds for `MaxSessionDuration`, in seconds.
pub const DEFAULT_MAX_SESSION_DURATION: u32 = 3600;
const MAX_SESSION_DURATION_RANGE: std::ops::RangeInclusive<u32> = 3600..=43200;

fn check_role_fields(description: Option<&str>, max_session: Option<u32>) -> Result<()> {
    if let Some(d) = max_session {
        if !MAX_SESSION_DURATION_RANGE.contains(&d) {
            return Err(StoreError::InvalidInput(format!(
                "Invalid MaxSessionDuration {d}: must be between 3600 and 43200 seconds."
            )));
        }
    }
    if description.is_some_and(|d| d.chars().count() > 1000) {
        return Err(StoreError::InvalidInput(
            "Description must be at most 1000 characters.".into(),
        ));
    }
    Ok(())
}

impl Store {
    /// `CreateRole`: the trust policy is validated; at most
    /// `limits.max_roles` roles.
    pub fn create_role(&self, new: &NewRole, now: DateTime<Utc>) -> Result<Role> {
        let unique_id = new_unique_id(UniqueIdKind::Role)?;
        self.create_role_with(new, &unique_id, now.timestamp())
    }

    pub(crate) fn create_role_with(
        &self,
        new: &NewRole,
        unique_id: &str,
        created: i64,
    ) -> Result<Role> {
        self.write(|c| {
            let bindings = self.resolve_trust(c, &new.assume_role_policy_document)?;
            let id = self.insert_role(new, unique_id, created)?;
            self.record_trust(c, id, &bindings)?;
            self.role_in(c, &new.name)
        })
    }

    /// The role's row, its trust policy validated but not yet bound
    /// ([`Store::bind_trust`]): an import binds after all its roles exist.
    pub(crate) fn insert_role(&self, new: &NewRole, unique_id: &str, created: i64) -> Result<i64> {
        check_tags(&new.tags)?;
        check_role_fields(new.description.as_deref(), new.max_session_duration)?;
        check_policy(
            new.name.as_str(),
            &new.assume_role_policy_document,
            PolicyKind::Trust,
        )?;
        self.write(|c| {
            if find_role_id(c, &new.name)?.is_some() {
                return Err(StoreError::exists(EntityKind::Role, &new.name));
            }
            let n: u32 = c.query_row("SELECT count(*) FROM roles", (), |r| r.get(0))?;
            if n >= self.limits.max_roles {
                return Err(StoreError::LimitExceeded(format!(
                    "Cannot exceed quota for RolesPerAccount: {}",
                    self.limits.max_roles
                )));
            }
            if let Some(arn) = &new.permissions_boundary {
                self.policy_id_by_arn(c, arn)?;
            }
            Ok(c.query_row(
                "INSERT INTO roles (name, path, unique_id, create_date, trust_policy, description, max_session_duration, tags, permissions_boundary)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
                params![
                    new.name.as_str(),
                    new.path.as_str(),
                    unique_id,
                    created,
                    new.assume_role_policy_document,
                    new.description,
                    new.max_session_duration.unwrap_or(DEFAULT_MAX_SESSION_DURATION),
                    tags_json(&new.tags)?,
                    new.permissions_boundary,
                ],
                |r| r.get(0),
            )?)
        })
    }

    /// `GetRole`.
    pub fn get_role(&self, name: &RoleName) -> Result<Role> {
        self.read(|c| self.role_in(c, name))
    }

    /// `ListRoles`, sorted by name, optionally under a path prefix.
    pub fn list_roles(&self, path_prefix: Option<&str>) -> Result<Vec<Role>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {ROLE_COLUMNS} FROM roles ORDER BY name COLLATE NOCASE"
            ))?;
            let rows = st.query_map((), |r| Ok(self.role_from_row(c, r)))?;
            let mut out = Vec::new();
            for row in rows {
                let role = row??;
                if path_prefix.is_none_or(|p| role.path.has_prefix(p)) {
                    out.push(role);
                }
            }
            Ok(out)
        })
    }

    /// `DeleteRole`: refused while it has inline or attached policies or
    /// an instance profile holds it.
    pub fn delete_role(&self, name: &RoleName) -> Result<()> {
        self.write(|c| {
            let id = role_id(c, name)?;
            let count = |sql: &str| -> Result<i64> { Ok(c.query_row(sql, [id], |r| r.get(0))?) };
            if count("SELECT count(*) FROM inline_policies WHERE entity_kind = 'role' AND entity_id = ?1")? > 0
                || count("SELECT count(*) FROM attachments WHERE entity_kind = 'role' AND entity_id = ?1")? > 0
            {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            if count(
                "SELECT count(*) FROM instance_profiles p JOIN roles r ON r.unique_id = p.role_id
                 WHERE r.id = ?1",
            )? > 0
            {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must remove roles from instance profile first.".into(),
                ));
            }
            c.execute("DELETE FROM trust_bindings WHERE role_id = ?1", [id])?;
            c.execute("DELETE FROM roles WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// `UpdateRole`: description (`Some(None)` clears it) and/or
    /// `MaxSessionDuration`.
    pub fn update_role(
        &self,
        name: &RoleName,
        description: Option<Option<&str>>,
        max_session_duration: Option<u32>,
    ) -> Result<Role> {
        check_role_fields(description.flatten(), max_session_duration)?;
        self.write(|c| {
            let id = role_id(c, name)?;
            if let Some(d) = description {
                c.execute(
                    "UPDATE roles SET description = ?1 WHERE id = ?2",
                    params![d, id],
                )?;
            }
            if let Some(m) = max_session_duration {
                c.execute(
                    "UPDATE roles SET max_session_duration = ?1 WHERE id = ?2",
                    params![m, id],
                )?;
            }
            self.role_in(c, name)
        })
    }

    /// `UpdateAssumeRolePolicy`: validated as a trust policy and bound to
    /// the principals it names now.
    pub fn update_assume_role_policy(&self, name: &RoleName, document: &str) -> Result<()> {
        check_policy(name.as_str(), document, PolicyKind::Trust)?;
        self.write(|c| {
            let id = role_id(c, name)?;
            c.execute(
                "UPDATE roles SET trust_policy = ?1 WHERE id = ?2",
                params![document, id],
            )?;
            self.bind_trust(c, id, document)
        })
    }

    /// `TagRole`.
    pub fn tag_role(&self, name: &RoleName, tags: &[Tag]) -> Result<()> {
        self.write(|c| {
            let id = role_id(c, name)?;
            let current = load_tags(c, "roles", id)?;
            store_tags(c, "roles", id, merge_tags(current, tags))
        })
    }

    /// `UntagRole`.
    pub fn untag_role(&self, name: &RoleName, keys: &[TagKey]) -> Result<()> {
        self.write(|c| {
            let id = role_id(c, name)?;
            let current = load_tags(c, "roles", id)?;
            store_tags(c, "roles", id, remove_tags(current, keys))
        })
    }

    /// `PutRolePermissionsBoundary` (`Some`) / `DeleteRolePermissionsBoundary` (`None`).
    pub fn set_role_permissions_boundary(
        &self,
        name: &RoleName,
        policy_arn: Option<&str>,
    ) -> Result<()> {
        self.write(|c| {
            let id = role_id(c, name)?;
            if let Some(arn) = policy_arn {
                self.policy_id_by_arn(c, arn)?;
            }
            c.execute(
                "UPDATE roles SET permissions_boundary = ?1 WHERE id = ?2",
                params![policy_arn, id],
            )?;
            Ok(())
        })
    }

    pub(crate) fn role_in(&self, c: &Connection, name: &RoleName) -> Result<Role> {
        c.query_row(
            &format!("SELECT {ROLE_COLUMNS} FROM roles WHERE name = ?1"),
            [name.as_str()],
            |r| Ok(self.role_from_row(c, r)),
        )
        .optional()?
        .ok_or_else(|| StoreError::no_such(EntityKind::Role, name))?
    }

    fn role_from_row(&self, c: &Connection, r: &Row<'_>) -> Result<Role> {
        let name = RoleName::parse(&r.get::<_, String>(0)?).map_err(corrupt)?;
        let path = IamPath::parse(&r.get::<_, String>(1)?).map_err(corrupt)?;
        let (shown, trust) = self.load_trust(c, r.get(9)?, r.get(4)?)?;
        Ok(Role {
            arn: role_arn(&self.account, &path, &name),
            id: r.get(2)?,
            create_date: r.get(3)?,
            assume_role_policy_document: shown,
            trust,
            description: r.get(5)?,
            max_session_duration: to_u32(r.get(6)?, "max_session_duration")?,
            tags: parse_tags(&r.get::<_, String>(7)?)?,
            permissions_boundary: r.get(8)?,
            name,
            path,
        })
    }
}

pub(crate) fn find_role_id(c: &Connection, name: &RoleName) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT id FROM roles WHERE name = ?1",
        [name.as_str()],
        |r| r.get(0),
    )
    .optional()?)
}

pub(crate) fn role_id(c: &Connection, name: &RoleName) -> Result<i64> {
    find_role_id(c, name)?.ok_or_else(|| StoreError::no_such(EntityKind::Role, name))
}
