//! Managed policies and their versions, inline policies, attachments, and
//! the assembled policy set of a principal.

use super::change_one;
use super::groups::group_id;
use super::roles::role_id;
use super::sql::{Connection, OptionalExtension, Row, params};
use super::users::{corrupt, user_id};
use super::{
    AttachedPolicy, Entity, EntityKind, InlinePolicy, MAX_MANAGED_POLICIES_PER_ENTITY,
    MAX_POLICY_VERSIONS, ManagedPolicy, PolicyDocument, PolicySource, PolicyVersion,
    PrincipalPolicies, Result, Store, StoreError, check_policy, to_u32,
};
use crate::names::{
    GroupName, IamPath, PolicyName, RoleName, UniqueIdKind, UserName, aws_managed_policy_arn,
    new_unique_id, policy_arn,
};
use crate::policy::{PolicyKind, policy_chars};
use chrono::{DateTime, Utc};

const POLICY_COLUMNS: &str = "p.id, p.name, p.path, p.unique_id, p.description, p.create_date, p.update_date, p.default_version,
    (SELECT count(*) FROM attachments a WHERE a.policy_id = p.id), p.aws_managed";

impl Entity {
    fn kind_str(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::Group(_) => "group",
            Self::Role(_) => "role",
        }
    }

    fn inline_kind(&self) -> (EntityKind, PolicyKind) {
        match self {
            Self::User(_) => (EntityKind::UserPolicy, PolicyKind::UserInline),
            Self::Group(_) => (EntityKind::GroupPolicy, PolicyKind::GroupInline),
            Self::Role(_) => (EntityKind::RolePolicy, PolicyKind::RoleInline),
        }
    }

    /// The kind an inline policy of this entity is parsed (and validated)
    /// as: it decides the size limit.
    pub fn inline_policy_kind(&self) -> PolicyKind {
        self.inline_kind().1
    }

    fn name(&self) -> &str {
        match self {
            Self::User(n) => n.as_str(),
            Self::Group(n) => n.as_str(),
            Self::Role(n) => n.as_str(),
        }
    }

    fn row_id(&self, c: &Connection) -> Result<i64> {
        match self {
            Self::User(n) => user_id(c, n),
            Self::Group(n) => group_id(c, n),
            Self::Role(n) => role_id(c, n),
        }
    }

    /// AWS's quota name for managed policies on this kind of entity.
    fn quota_name(&self) -> &'static str {
        match self {
            Self::User(_) => "PoliciesPerUser",
            Self::Group(_) => "PoliciesPerGroup",
            Self::Role(_) => "PoliciesPerRole",
        }
    }
}

fn version_id(v: i64) -> String {
    format!("v{v}")
}

fn parse_version_id(s: &str) -> Result<i64> {
    s.strip_prefix('v')
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            StoreError::InvalidInput(format!(
                "Invalid VersionId {s:?}: must be v followed by a positive number."
            ))
        })
}

impl Store {
    /// `CreatePolicy`: validated, stored as version v1 (the default).
    pub fn create_policy(
        &self,
        name: &PolicyName,
        path: &IamPath,
        description: Option<&str>,
        document: &str,
        now: DateTime<Utc>,
    ) -> Result<ManagedPolicy> {
        check_policy(name.as_str(), document, PolicyKind::Managed)?;
        if description.is_some_and(|d| d.chars().count() > 1000) {
            return Err(StoreError::InvalidInput(
                "Description must be at most 1000 characters.".into(),
            ));
        }
        let unique_id = new_unique_id(UniqueIdKind::Policy)?;
        self.write(|c| {
            let id =
                self.insert_policy(c, name, path, description, &unique_id, now.timestamp())?;
            c.execute(
                "INSERT INTO policy_versions (policy_id, version, document, create_date) VALUES (?1, 1, ?2, ?3)",
                params![id, document, now.timestamp()],
            )?;
            self.policy_by_row_id(c, id)
        })
    }

    fn insert_policy(
        &self,
        c: &Connection,
        name: &PolicyName,
        path: &IamPath,
        description: Option<&str>,
        unique_id: &str,
        created: i64,
    ) -> Result<i64> {
        let exists: Option<i64> = c
            .query_row(
                "SELECT id FROM policies WHERE name = ?1",
                [name.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::exists(EntityKind::Policy, name));
        }
        Ok(c.query_row(
            "INSERT INTO policies (name, path, unique_id, description, create_date, update_date, default_version, next_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 1, 2) RETURNING id",
            params![name.as_str(), path.as_str(), unique_id, description, created],
            |r| r.get(0),
        )?)
    }

    /// `GetPolicy` by ARN.
    pub fn get_policy(&self, arn: &str) -> Result<ManagedPolicy> {
        self.read(|c| {
            let id = self.policy_id_by_arn(c, arn)?;
            self.policy_by_row_id(c, id)
        })
    }

    /// `ListPolicies --scope Local`, sorted by name; `only_attached` as AWS's flag.
    pub fn list_policies(
        &self,
        path_prefix: Option<&str>,
        only_attached: bool,
    ) -> Result<Vec<ManagedPolicy>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {POLICY_COLUMNS} FROM policies p ORDER BY p.name COLLATE NOCASE"
            ))?;
            let rows = st.query_map((), |r| Ok(self.policy_from_row(c, r)))?;
            let mut out = Vec::new();
            for row in rows {
                let p = row??;
                if path_prefix.is_none_or(|pre| p.path.has_prefix(pre))
                    && (!only_attached || p.attachment_count > 0)
                {
                    out.push(p);
                }
            }
            Ok(out)
        })
    }

    /// `DeletePolicy`: refused while attached or used as a boundary.
    pub fn delete_policy(&self, arn: &str) -> Result<()> {
        self.write(|c| {
            let id = self.policy_id_by_arn(c, arn)?;
            let p = self.policy_by_row_id(c, id)?;
            if p.attachment_count > 0 || p.permissions_boundary_usage_count > 0 {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete a policy attached to entities.".into(),
                ));
            }
            c.execute("DELETE FROM policies WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// `CreatePolicyVersion`: at most 5 versions per policy.
    pub fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_as_default: bool,
        now: DateTime<Utc>,
    ) -> Result<PolicyVersion> {
        self.write(|c| {
            let id = self.policy_id_by_arn(c, arn)?;
            let name: String =
                c.query_row("SELECT name FROM policies WHERE id = ?1", [id], |r| r.get(0))?;
            check_policy(&name, document, PolicyKind::Managed)?;
            let n: u32 = c.query_row(
                "SELECT count(*) FROM policy_versions WHERE policy_id = ?1",
                [id],
                |r| r.get(0),
            )?;
            if n >= MAX_POLICY_VERSIONS {
                return Err(StoreError::LimitExceeded(format!(
                    "A managed policy can have up to {MAX_POLICY_VERSIONS} versions. Before you create a new version, you must delete an existing version."
                )));
            }
            let v: i64 = c.query_row(
                "SELECT next_version FROM policies WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?;
            c.execute(
                "INSERT INTO policy_versions (policy_id, version, document, create_date) VALUES (?1, ?2, ?3, ?4)",
                params![id, v, document, now.timestamp()],
            )?;
            c.execute(
                "UPDATE policies SET next_version = ?1, update_date = ?2 WHERE id = ?3",
                params![v + 1, now.timestamp(), id],
            )?;
            if set_as_default {
                c.execute(
                    "UPDATE policies SET default_version = ?1 WHERE id = ?2",
                    params![v, id],
                )?;
            }
            policy_version_in(c, arn, id, v)
        })
    }

    /// `GetPolicyVersion`.
    pub fn get_policy_version(&self, arn: &str, version_id: &str) -> Result<PolicyVersion> {
        let v = parse_version_id(version_id)?;
        self.read(|c| {
            let id = self.policy_id_by_arn(c, arn)?;
            policy_version_in(c, arn, id, v)
        })
    }

    /// `ListPolicyVersions`, newest first.
    pub fn list_policy_versions(&self, arn: &str) -> Result<Vec<PolicyVersion>> {
        self.read(|c| {
            let id = self.policy_id_by_arn(c, arn)?;
            list_versions(c, id)
        })
    }

    /// `DeletePolicyVersion`: the default version cannot be deleted.
    pub fn delete_policy_version(&self, arn: &str, version_id: &str) -> Result<()> {
        let v = parse_version_id(version_id)?;
        self.write(|c| {
            let id = self.policy_id_by_arn(c, arn)?;
            let default: i64 = c.query_row(
                "SELECT default_version FROM policies WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?;
            if default == v {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete the default version of a policy.".into(),
                ));
            }
            change_one(
                c,
                "DELETE FROM policy_versions WHERE policy_id = ?1 AND version = ?2",
                params![id, v],
                || StoreError::no_such(EntityKind::PolicyVersion, format!("{arn} {version_id}")),
            )
        })
    }

    /// `SetDefaultPolicyVersion`.
    pub fn set_default_policy_version(
        &self,
        arn: &str,
        version_id: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let v = parse_version_id(version_id)?;
        self.write(|c| {
            let id = self.policy_id_by_arn(c, arn)?;
            policy_version_in(c, arn, id, v)?;
            c.execute(
                "UPDATE policies SET default_version = ?1, update_date = ?2 WHERE id = ?3",
                params![v, now.timestamp(), id],
            )?;
            Ok(())
        })
    }

    // ---- attachments ---------------------------------------------------

    /// `Attach{User,Group,Role}Policy`: idempotent, at most 10 per entity.
    pub fn attach_policy(&self, entity: &Entity, policy_arn: &str) -> Result<()> {
        self.write(|c| {
            let eid = entity.row_id(c)?;
            let pid = self.policy_id_by_arn(c, policy_arn)?;
            let kind = entity.kind_str();
            let already: Option<i64> = c
                .query_row(
                    "SELECT 1 FROM attachments WHERE entity_kind = ?1 AND entity_id = ?2 AND policy_id = ?3",
                    params![kind, eid, pid],
                    |r| r.get(0),
                )
                .optional()?;
            if already.is_some() {
                return Ok(());
            }
            let n: u32 = c.query_row(
                "SELECT count(*) FROM attachments WHERE entity_kind = ?1 AND entity_id = ?2",
                params![kind, eid],
                |r| r.get(0),
            )?;
            if n >= MAX_MANAGED_POLICIES_PER_ENTITY {
                return Err(StoreError::LimitExceeded(format!(
                    "Cannot exceed quota for {}: {MAX_MANAGED_POLICIES_PER_ENTITY}",
                    entity.quota_name()
                )));
            }
            c.execute(
                "INSERT INTO attachments (entity_kind, entity_id, policy_id) VALUES (?1, ?2, ?3)",
                params![kind, eid, pid],
            )?;
            Ok(())
        })
    }

    /// `Detach{User,Group,Role}Policy`.
    pub fn detach_policy(&self, entity: &Entity, policy_arn: &str) -> Result<()> {
        self.write(|c| {
            let eid = entity.row_id(c)?;
            let pid = self.policy_id_by_arn(c, policy_arn)?;
            change_one(
                c,
                "DELETE FROM attachments WHERE entity_kind = ?1 AND entity_id = ?2 AND policy_id = ?3",
                params![entity.kind_str(), eid, pid],
                || StoreError::no_such(EntityKind::Policy, format!("{policy_arn} (not attached)")),
            )
        })
    }

    /// `ListAttached{User,Group,Role}Policies`, sorted by name.
    pub fn list_attached_policies(&self, entity: &Entity) -> Result<Vec<AttachedPolicy>> {
        self.read(|c| {
            let eid = entity.row_id(c)?;
            self.attached_in(c, entity.kind_str(), eid)
        })
    }

    /// `ListEntitiesForPolicy`.
    pub fn list_entities_for_policy(&self, policy_arn: &str) -> Result<Vec<Entity>> {
        self.read(|c| {
            let pid = self.policy_id_by_arn(c, policy_arn)?;
            let mut st = c.prepare_cached(
                "SELECT a.entity_kind, coalesce(u.name, g.name, r.name) FROM attachments a
                 LEFT JOIN users u ON a.entity_kind = 'user' AND u.id = a.entity_id
                 LEFT JOIN groups g ON a.entity_kind = 'group' AND g.id = a.entity_id
                 LEFT JOIN roles r ON a.entity_kind = 'role' AND r.id = a.entity_id
                 WHERE a.policy_id = ?1 ORDER BY 1, 2",
            )?;
            let rows = st.query_map([pid], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (kind, name) = row?;
                out.push(match kind.as_str() {
                    "user" => Entity::User(UserName::parse(&name).map_err(corrupt)?),
                    "group" => Entity::Group(GroupName::parse(&name).map_err(corrupt)?),
                    _ => Entity::Role(RoleName::parse(&name).map_err(corrupt)?),
                });
            }
            Ok(out)
        })
    }

    // ---- inline policies -----------------------------------------------

    /// `Put{User,Group,Role}Policy`: validated; replaces one of the same name.
    /// AWS's quota is on the aggregate of an entity's inline policies
    /// (2,048 characters for a user, 5,120 for a group, 10,240 for a role,
    /// whitespace not counted), checked in the write's transaction.
    pub fn put_inline_policy(
        &self,
        entity: &Entity,
        name: &PolicyName,
        document: &str,
    ) -> Result<()> {
        let kind = entity.inline_kind().1;
        check_policy(name.as_str(), document, kind)?;
        self.write(|c| {
            let eid = entity.row_id(c)?;
            let others: usize = inline_in(c, entity.kind_str(), eid)?
                .iter()
                // The same name (case-insensitively, as the table keys it)
                // is the policy being replaced.
                .filter(|p| !p.name.as_str().eq_ignore_ascii_case(name.as_str()))
                .map(|p| policy_chars(&p.document))
                .sum();
            let total = others + policy_chars(document);
            if total > kind.max_chars() {
                return Err(StoreError::LimitExceeded(format!(
                    "Maximum policy size of {} bytes exceeded for {} {}: its inline policies would total {total} characters without whitespace.",
                    kind.max_chars(),
                    entity.kind_str(),
                    entity.name()
                )));
            }
            c.execute(
                "INSERT INTO inline_policies (entity_kind, entity_id, name, document) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (entity_kind, entity_id, name) DO UPDATE SET name = excluded.name, document = excluded.document",
                params![entity.kind_str(), eid, name.as_str(), document],
            )?;
            Ok(())
        })
    }

    /// `Get{User,Group,Role}Policy`.
    pub fn get_inline_policy(&self, entity: &Entity, name: &PolicyName) -> Result<InlinePolicy> {
        self.read(|c| {
            let eid = entity.row_id(c)?;
            c.query_row(
                "SELECT name, document FROM inline_policies WHERE entity_kind = ?1 AND entity_id = ?2 AND name = ?3",
                params![entity.kind_str(), eid, name.as_str()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .map(|(n, document)| {
                Ok(InlinePolicy {
                    name: PolicyName::parse(&n).map_err(corrupt)?,
                    document,
                })
            })
            .ok_or_else(|| StoreError::no_such(entity.inline_kind().0, name))?
        })
    }

    /// `Delete{User,Group,Role}Policy`.
    pub fn delete_inline_policy(&self, entity: &Entity, name: &PolicyName) -> Result<()> {
        self.write(|c| {
            let eid = entity.row_id(c)?;
            change_one(
                c,
                "DELETE FROM inline_policies WHERE entity_kind = ?1 AND entity_id = ?2 AND name = ?3",
                params![entity.kind_str(), eid, name.as_str()],
                || StoreError::no_such(entity.inline_kind().0, name),
            )
        })
    }

    /// `List{User,Group,Role}Policies` with documents, sorted by name.
    pub fn list_inline_policies(&self, entity: &Entity) -> Result<Vec<InlinePolicy>> {
        self.read(|c| {
            let eid = entity.row_id(c)?;
            inline_in(c, entity.kind_str(), eid)
        })
    }

    // ---- assembled policy sets -----------------------------------------

    /// Everything the engine needs to decide for user `name`, in one
    /// snapshot: its inline and attached policies, each group's inline and
    /// attached policies, and its permissions boundary.
    pub fn policies_for_user(&self, name: &UserName) -> Result<PrincipalPolicies> {
        self.read(|c| {
            let (uid, boundary) = id_and_boundary(c, "users", EntityKind::User, name.as_str())?;
            let mut identity = Vec::new();
            self.own_policies(
                c,
                "user",
                uid,
                PolicySource::UserInline,
                None,
                &mut identity,
            )?;
            let mut st = c.prepare_cached(
                "SELECT g.id, g.name FROM groups g JOIN group_members m ON m.group_id = g.id
                 WHERE m.user_id = ?1 ORDER BY g.name COLLATE NOCASE",
            )?;
            let groups = st
                .query_map([uid], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                .collect::<crate::store::sql::SqlResult<Vec<_>>>()?;
            for (gid, gname) in groups {
                let gname = GroupName::parse(&gname).map_err(corrupt)?;
                let inline = PolicySource::GroupInline {
                    group: gname.clone(),
                };
                self.own_policies(c, "group", gid, inline, Some(&gname), &mut identity)?;
            }
            Ok(PrincipalPolicies {
                identity,
                boundary: self.boundary_doc(c, boundary.as_deref())?,
            })
        })
    }

    /// Everything the engine needs for role `name`: its inline and attached
    /// policies (not the trust policy) and its permissions boundary.
    pub fn policies_for_role(&self, name: &RoleName) -> Result<PrincipalPolicies> {
        self.read(|c| {
            let (rid, boundary) = id_and_boundary(c, "roles", EntityKind::Role, name.as_str())?;
            let mut identity = Vec::new();
            self.own_policies(
                c,
                "role",
                rid,
                PolicySource::RoleInline,
                None,
                &mut identity,
            )?;
            Ok(PrincipalPolicies {
                identity,
                boundary: self.boundary_doc(c, boundary.as_deref())?,
            })
        })
    }

    /// Appends the inline (as `inline`) and then the attached policies of
    /// entity `eid` of `kind` (`group`: the group they come through).
    fn own_policies(
        &self,
        c: &Connection,
        kind: &str,
        eid: i64,
        inline: PolicySource,
        group: Option<&GroupName>,
        out: &mut Vec<PolicyDocument>,
    ) -> Result<()> {
        for p in inline_in(c, kind, eid)? {
            out.push(PolicyDocument {
                name: p.name.into(),
                document: p.document,
                source: inline.clone(),
            });
        }
        self.managed_for(c, kind, eid, group, out)
    }

    fn managed_for(
        &self,
        c: &Connection,
        kind: &str,
        eid: i64,
        group: Option<&GroupName>,
        out: &mut Vec<PolicyDocument>,
    ) -> Result<()> {
        let mut st = c.prepare_cached(
            "SELECT p.name, p.path, v.document, p.aws_managed FROM attachments a
             JOIN policies p ON p.id = a.policy_id
             JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.default_version
             WHERE a.entity_kind = ?1 AND a.entity_id = ?2 ORDER BY p.name COLLATE NOCASE",
        )?;
        let rows = st.query_map(params![kind, eid], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        for row in rows {
            let (name, path, document, aws_managed) = row?;
            let pname = PolicyName::parse(&name).map_err(corrupt)?;
            let ppath = IamPath::parse(&path).map_err(corrupt)?;
            out.push(PolicyDocument {
                source: PolicySource::Managed {
                    arn: self.managed_policy_arn(aws_managed, &ppath, &pname),
                    group: group.cloned(),
                },
                name,
                document,
            });
        }
        Ok(())
    }

    fn boundary_doc(&self, c: &Connection, arn: Option<&str>) -> Result<Option<PolicyDocument>> {
        let Some(arn) = arn else { return Ok(None) };
        let pid = self.policy_id_by_arn(c, arn)?;
        let (name, document): (String, String) = c.query_row(
            "SELECT p.name, v.document FROM policies p
             JOIN policy_versions v ON v.policy_id = p.id AND v.version = p.default_version
             WHERE p.id = ?1",
            [pid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Some(PolicyDocument {
            name,
            document,
            source: PolicySource::Managed {
                arn: arn.to_owned(),
                group: None,
            },
        }))
    }

    // ---- helpers -------------------------------------------------------

    /// A managed policy's ARN: this account's, or AWS's for an AWS managed
    /// policy brought in by an import (never re-homed).
    fn managed_policy_arn(&self, aws_managed: bool, path: &IamPath, name: &PolicyName) -> String {
        if aws_managed {
            aws_managed_policy_arn(path, name)
        } else {
            policy_arn(&self.account, path, name)
        }
    }

    /// Resolves a policy ARN (this account's, or an imported AWS managed
    /// policy's) to its row id.
    pub(crate) fn policy_id_by_arn(&self, c: &Connection, arn: &str) -> Result<i64> {
        self.id_by_arn(c, EntityKind::Policy, arn)
    }

    pub(crate) fn policy_by_row_id(&self, c: &Connection, id: i64) -> Result<ManagedPolicy> {
        c.query_row(
            &format!("SELECT {POLICY_COLUMNS} FROM policies p WHERE p.id = ?1"),
            [id],
            |r| Ok(self.policy_from_row(c, r)),
        )?
    }

    fn policy_from_row(&self, c: &Connection, r: &Row<'_>) -> Result<ManagedPolicy> {
        let name = PolicyName::parse(&r.get::<_, String>(1)?).map_err(corrupt)?;
        let path = IamPath::parse(&r.get::<_, String>(2)?).map_err(corrupt)?;
        let aws_managed: bool = r.get(9)?;
        let arn = self.managed_policy_arn(aws_managed, &path, &name);
        let boundary_uses: i64 = c.query_row(
            "SELECT (SELECT count(*) FROM users WHERE permissions_boundary = ?1)
                  + (SELECT count(*) FROM roles WHERE permissions_boundary = ?1)",
            [&arn],
            |r| r.get(0),
        )?;
        Ok(ManagedPolicy {
            id: r.get(3)?,
            description: r.get(4)?,
            create_date: r.get(5)?,
            update_date: r.get(6)?,
            default_version_id: version_id(r.get(7)?),
            attachment_count: to_u32(r.get(8)?, "attachment count")?,
            permissions_boundary_usage_count: to_u32(boundary_uses, "boundary count")?,
            aws_managed,
            arn,
            name,
            path,
        })
    }

    pub(crate) fn attached_in(
        &self,
        c: &Connection,
        kind: &str,
        eid: i64,
    ) -> Result<Vec<AttachedPolicy>> {
        let mut st = c.prepare_cached(
            "SELECT p.name, p.path, p.aws_managed FROM attachments a JOIN policies p ON p.id = a.policy_id
             WHERE a.entity_kind = ?1 AND a.entity_id = ?2 ORDER BY p.name COLLATE NOCASE",
        )?;
        let rows = st.query_map(params![kind, eid], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, path, aws_managed) = row?;
            let name = PolicyName::parse(&name).map_err(corrupt)?;
            let path = IamPath::parse(&path).map_err(corrupt)?;
            out.push(AttachedPolicy {
                arn: self.managed_policy_arn(aws_managed, &path, &name),
                name,
            });
        }
        Ok(out)
    }
}

/// Row id and permissions boundary ARN of `name` in `table` (users, roles).
fn id_and_boundary(
    c: &Connection,
    table: &str,
    kind: EntityKind,
    name: &str,
) -> Result<(i64, Option<String>)> {
    c.query_row(
        &format!("SELECT id, permissions_boundary FROM {table} WHERE name = ?1"),
        [name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?
    .ok_or_else(|| StoreError::no_such(kind, name))
}

pub(crate) fn inline_in(c: &Connection, kind: &str, eid: i64) -> Result<Vec<InlinePolicy>> {
    let mut st = c.prepare_cached(
        "SELECT name, document FROM inline_policies WHERE entity_kind = ?1 AND entity_id = ?2
         ORDER BY name COLLATE NOCASE",
    )?;
    let rows = st.query_map(params![kind, eid], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, document) = row?;
        out.push(InlinePolicy {
            name: PolicyName::parse(&name).map_err(corrupt)?,
            document,
        });
    }
    Ok(out)
}

pub(crate) fn list_versions(c: &Connection, id: i64) -> Result<Vec<PolicyVersion>> {
    let mut st = c.prepare_cached(
        "SELECT v.version, v.document, v.create_date, v.version = p.default_version
         FROM policy_versions v JOIN policies p ON p.id = v.policy_id
         WHERE v.policy_id = ?1 ORDER BY v.version DESC",
    )?;
    let rows = st.query_map([id], |r| {
        Ok(PolicyVersion {
            version_id: version_id(r.get(0)?),
            document: r.get(1)?,
            create_date: r.get(2)?,
            is_default_version: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<crate::store::sql::SqlResult<Vec<_>>>()?)
}

fn policy_version_in(c: &Connection, arn: &str, id: i64, v: i64) -> Result<PolicyVersion> {
    c.query_row(
        "SELECT v.version, v.document, v.create_date, v.version = p.default_version
         FROM policy_versions v JOIN policies p ON p.id = v.policy_id
         WHERE v.policy_id = ?1 AND v.version = ?2",
        params![id, v],
        |r| {
            Ok(PolicyVersion {
                version_id: version_id(r.get(0)?),
                document: r.get(1)?,
                create_date: r.get(2)?,
                is_default_version: r.get(3)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| {
        StoreError::no_such(
            EntityKind::PolicyVersion,
            format!("{arn} {}", version_id(v)),
        )
    })
}
