//! The whole directory out (`get-account-authorization-details`) and in
//! (`import-authorization-details`, one transaction).

use super::sql::{Connection, OptionalExtension, params};
use super::{
    AuthorizationDetails, Entity, EntityKind, GroupDetail, ImportDetails, ImportSummary,
    PolicyDetail, Result, RoleDetail, Store, StoreError, UserDetail, check_policy,
};
use crate::names::{
    AWS_MANAGED_ACCOUNT, IamArn, UniqueIdKind, aws_managed_policy_arn, check_tags, new_unique_id,
    policy_arn,
};
use crate::policy::{Policy, PolicyKind};
use chrono::{DateTime, Utc};

impl Store {
    /// Every user, group, role and managed policy with their policies, in
    /// one snapshot.
    pub fn authorization_details(&self) -> Result<AuthorizationDetails> {
        self.read(|_| {
            let mut out = AuthorizationDetails::default();
            for user in self.list_users(None)? {
                let entity = Entity::User(user.name.clone());
                out.users.push(UserDetail {
                    groups: self
                        .groups_for_user(&user.name)?
                        .into_iter()
                        .map(|g| g.name)
                        .collect(),
                    inline_policies: self.list_inline_policies(&entity)?,
                    attached_policies: self.list_attached_policies(&entity)?,
                    user,
                });
            }
            for group in self.list_groups(None)? {
                let entity = Entity::Group(group.name.clone());
                out.groups.push(GroupDetail {
                    inline_policies: self.list_inline_policies(&entity)?,
                    attached_policies: self.list_attached_policies(&entity)?,
                    group,
                });
            }
            for role in self.list_roles(None)? {
                let entity = Entity::Role(role.name.clone());
                out.roles.push(RoleDetail {
                    inline_policies: self.list_inline_policies(&entity)?,
                    attached_policies: self.list_attached_policies(&entity)?,
                    role,
                });
            }
            for policy in self.list_policies(None, false)? {
                let versions = self.list_policy_versions(&policy.arn)?;
                out.policies.push(PolicyDetail { policy, versions });
            }
            Ok(out)
        })
    }

    /// Imports a directory in one transaction: all of it or nothing. An
    /// entity that already exists is an error (`EntityAlreadyExists`).
    /// Policies are created first, then groups, users (with memberships) and
    /// roles; attachments name policies by ARN, of which only path and name
    /// are used for a customer managed policy (so an export from another
    /// account imports here), while an AWS managed policy keeps its
    /// `arn:aws:iam::aws:policy/…` ARN. Boundaries likewise.
    pub fn import(&self, details: &ImportDetails, now: DateTime<Utc>) -> Result<ImportSummary> {
        let ts = now.timestamp();
        self.write(|c| {
            for p in &details.policies {
                if p.versions.is_empty() {
                    return Err(StoreError::InvalidInput(format!(
                        "Policy {} has no versions.",
                        p.name
                    )));
                }
                let unique_id = unique_or_new(p.id.as_deref(), UniqueIdKind::Policy)?;
                let created = p.create_date.unwrap_or(ts);
                self.insert_policy_row(c, p, &unique_id, created)?;
            }
            for g in &details.groups {
                let group = self.create_group(&g.name, &g.path, now)?;
                fix_identity(
                    c,
                    "groups",
                    g.name.as_str(),
                    g.id.as_deref(),
                    g.create_date,
                    UniqueIdKind::Group,
                )?;
                let entity = Entity::Group(group.name);
                self.import_policies(&entity, &g.inline_policies, &g.attached_policy_arns)?;
            }
            for u in &details.users {
                check_tags(&u.tags)?;
                let mut new = super::NewUser::new(u.name.clone());
                new.path = u.path.clone();
                new.tags = u.tags.clone();
                new.permissions_boundary = u
                    .permissions_boundary
                    .as_deref()
                    .map(|arn| self.local_policy_arn(arn))
                    .transpose()?;
                self.create_user(&new, now)?;
                fix_identity(
                    c,
                    "users",
                    u.name.as_str(),
                    u.id.as_deref(),
                    u.create_date,
                    UniqueIdKind::User,
                )?;
                for g in &u.groups {
                    self.add_user_to_group(&u.name, g)?;
                }
                let entity = Entity::User(u.name.clone());
                self.import_policies(&entity, &u.inline_policies, &u.attached_policy_arns)?;
            }
            let mut role_ids = Vec::with_capacity(details.roles.len());
            for r in &details.roles {
                let mut new = r.role.clone();
                new.permissions_boundary = new
                    .permissions_boundary
                    .as_deref()
                    .map(|arn| self.local_policy_arn(arn))
                    .transpose()?;
                let unique_id = unique_or_new(r.id.as_deref(), UniqueIdKind::Role)?;
                refuse_bound_id(c, &unique_id)?;
                role_ids.push(self.insert_role(&new, &unique_id, r.create_date.unwrap_or(ts))?);
                let entity = Entity::Role(new.name.clone());
                self.import_policies(&entity, &r.inline_policies, &r.attached_policy_arns)?;
            }
            // Bound once every role exists: a trust policy may name any of
            // them (itself included).
            for (r, id) in details.roles.iter().zip(role_ids) {
                self.bind_trust(c, id, &r.role.assume_role_policy_document)?;
            }
            Ok(ImportSummary {
                users: details.users.len(),
                groups: details.groups.len(),
                roles: details.roles.len(),
                policies: details.policies.len(),
            })
        })
    }

    fn insert_policy_row(
        &self,
        c: &Connection,
        p: &super::ImportPolicy,
        unique_id: &str,
        created: i64,
    ) -> Result<()> {
        let mut default = None;
        let mut max_v = 0;
        let mut parsed = Vec::new();
        for (vid, doc, is_default) in &p.versions {
            let v = vid
                .strip_prefix('v')
                .and_then(|n| n.parse::<i64>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    StoreError::InvalidInput(format!(
                        "Policy {}: invalid VersionId {vid:?}.",
                        p.name
                    ))
                })?;
            if p.aws_managed {
                Policy::parse_stored(p.name.as_str(), doc, PolicyKind::Managed)
                    .map_err(StoreError::MalformedPolicyDocument)?;
            } else {
                check_policy(p.name.as_str(), doc, PolicyKind::Managed)?;
            }
            if *is_default {
                default = Some(v);
            }
            max_v = max_v.max(v);
            parsed.push((v, doc));
        }
        if parsed.len() > super::MAX_POLICY_VERSIONS as usize {
            return Err(StoreError::LimitExceeded(format!(
                "Policy {}: a managed policy can have up to {} versions.",
                p.name,
                super::MAX_POLICY_VERSIONS
            )));
        }
        let default = default.ok_or_else(|| {
            StoreError::InvalidInput(format!("Policy {} has no default version.", p.name))
        })?;
        if c.query_row(
            "SELECT 1 FROM policies WHERE name = ?1",
            [p.name.as_str()],
            |_| Ok(()),
        )
        .is_ok()
        {
            return Err(StoreError::exists(EntityKind::Policy, &p.name));
        }
        let id: i64 = c.query_row(
            "INSERT INTO policies (name, path, unique_id, description, create_date, update_date, default_version, next_version, aws_managed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8) RETURNING id",
            params![p.name.as_str(), p.path.as_str(), unique_id, p.description, created, default, max_v + 1, p.aws_managed],
            |r| r.get(0),
        )?;
        for (v, doc) in parsed {
            c.execute(
                "INSERT INTO policy_versions (policy_id, version, document, create_date) VALUES (?1, ?2, ?3, ?4)",
                params![id, v, doc, created],
            )
            .map_err(|e| {
                if e.is_constraint_violation() {
                    StoreError::InvalidInput(format!("Policy {}: duplicate version v{v}.", p.name))
                } else {
                    e.into()
                }
            })?;
        }
        Ok(())
    }

    fn import_policies(
        &self,
        entity: &Entity,
        inline: &[super::InlinePolicy],
        attached: &[String],
    ) -> Result<()> {
        for p in inline {
            self.put_inline_policy(entity, &p.name, &p.document)?;
        }
        for arn in attached {
            self.attach_policy(entity, &self.local_policy_arn(arn)?)?;
        }
        Ok(())
    }

    /// Rewrites a customer managed policy's ARN from any account into this
    /// account; an AWS managed policy's ARN stays AWS's.
    fn local_policy_arn(&self, arn: &str) -> Result<String> {
        let parsed = IamArn::parse("PolicyArn", arn)?;
        let name = crate::names::PolicyName::parse(&parsed.name)?;
        Ok(if parsed.account == AWS_MANAGED_ACCOUNT {
            aws_managed_policy_arn(&parsed.path, &name)
        } else {
            policy_arn(&self.account, &parsed.path, &name)
        })
    }
}

fn unique_or_new(id: Option<&str>, kind: UniqueIdKind) -> Result<String> {
    match id {
        Some(id) => {
            let ok = id.len() >= 16
                && id.len() <= 128
                && id.starts_with(kind.prefix())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !ok {
                return Err(StoreError::InvalidInput(format!(
                    "Invalid unique id {id:?}: must start with {} and be uppercase letters and digits.",
                    kind.prefix()
                )));
            }
            Ok(id.to_owned())
        }
        None => Ok(new_unique_id(kind)?),
    }
}

/// AWS never hands a unique id out twice. One that a trust policy here is
/// bound to (`store/bindings.rs`) was held by a principal of this account,
/// now gone or not: a new principal given it would be trusted in its place.
fn refuse_bound_id(c: &Connection, id: &str) -> Result<()> {
    let role: Option<String> = c
        .query_row(
            "SELECT r.name FROM trust_bindings b JOIN roles r ON r.id = b.role_id
             WHERE b.unique_id = ?1 ORDER BY r.name LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    match role {
        Some(role) => Err(StoreError::InvalidInput(format!(
            "Unique id {id} is bound in the trust policy of role {role}: it belonged to a principal of this account, and a unique id is never reused. Leave it out of the import to get a new one."
        ))),
        None => Ok(()),
    }
}

/// Keeps an imported entity's unique id and creation date.
fn fix_identity(
    c: &Connection,
    table: &str,
    name: &str,
    id: Option<&str>,
    created: Option<i64>,
    kind: UniqueIdKind,
) -> Result<()> {
    if let Some(id) = id {
        let id = unique_or_new(Some(id), kind)?;
        refuse_bound_id(c, &id)?;
        c.execute(
            &format!("UPDATE {table} SET unique_id = ?1 WHERE name = ?2"),
            params![id, name],
        )
        .map_err(|e| {
            if e.is_constraint_violation() {
                StoreError::InvalidInput(format!("Duplicate unique id {id}."))
            } else {
                e.into()
            }
        })?;
    }
    if let Some(t) = created {
        c.execute(
            &format!("UPDATE {table} SET create_date = ?1 WHERE name = ?2"),
            params![t, name],
        )?;
    }
    Ok(())
}
