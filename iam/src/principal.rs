//! A principal as the policy engine sees it: who (ARN, id, name, tags) and
//! which policies apply (identity: own inline + managed and, for a user, its
//! groups' inline + managed; permissions boundary), loaded from the store in
//! one snapshot and compiled once.
//!
//! Used by `iamctl` (every non-root call, `simulate-principal-policy`), by
//! PAM `acct_mgmt` (`host:Login`) and by `assume-role` (`sts:AssumeRole`,
//! `host:RunAs`), so all three decide alike.

use crate::directory::Directory;
use crate::names::{AccountId, RoleName, RoleSessionName, Tag, UserName, assumed_role_arn};
use crate::policy::{self, Context, Policy, PolicyKind, PolicySet, Request, Response};
use crate::store::{PolicyDocument, PrincipalPolicies, Role, StoreError, User};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum PrincipalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored policy no longer parses (the engine got stricter, or the
    /// store was edited by hand). Failing closed beats ignoring it.
    #[error("stored policy {policy} is invalid: {source}")]
    InvalidStoredPolicy {
        policy: String,
        #[source]
        source: policy::PolicyError,
    },
}

/// `aws:PrincipalType`, with AWS's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    User,
    /// A role, or a session of it (`iamctl assume-role`).
    AssumedRole,
}

impl PrincipalType {
    pub fn as_aws_str(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::AssumedRole => "AssumedRole",
        }
    }
}

/// A loaded principal with its compiled policies.
#[derive(Debug, Clone)]
pub struct Principal {
    pub principal_type: PrincipalType,
    /// `arn:aws:iam::A:user/P/N`, `arn:aws:iam::A:role/P/N` or
    /// `arn:aws:sts::A:assumed-role/R/S`.
    pub arn: String,
    /// `aws:userid`: `AIDA…` for a user, `AROA…:SESSION` for a role session.
    pub id: String,
    /// The user or role name.
    pub name: String,
    pub account: AccountId,
    pub tags: Vec<Tag>,
    pub policies: PolicySet,
}

impl Principal {
    /// The IAM user `name`.
    pub fn for_user(
        store: &dyn Directory,
        account: &AccountId,
        name: &UserName,
    ) -> Result<Self, PrincipalError> {
        let user = store.get_user(name)?;
        let policies = store.policies_for_user(name)?;
        Self::of_user(user, account, &policies, &mut Compiled::default())
    }

    /// The IAM user `user` with `policies` (its [`Directory::policies_for_user`]),
    /// for a caller that keeps the documents too and compiles many users'
    /// (`crate::access` names where each grant comes from).
    pub fn of_user(
        user: User,
        account: &AccountId,
        policies: &PrincipalPolicies,
        compiled: &mut Compiled,
    ) -> Result<Self, PrincipalError> {
        Ok(Self {
            principal_type: PrincipalType::User,
            arn: user.arn,
            id: user.id,
            name: user.name.to_string(),
            account: account.clone(),
            tags: user.tags,
            policies: compile_with(policies, compiled)?,
        })
    }

    /// The role `name` itself (as `simulate-principal-policy` evaluates it).
    pub fn for_role(
        store: &dyn Directory,
        account: &AccountId,
        name: &RoleName,
    ) -> Result<Self, PrincipalError> {
        let role = store.get_role(name)?;
        let policies = store.policies_for_role(name)?;
        Self::of_role(role, account, &policies)
    }

    /// The role `role` with `policies` (its [`Directory::policies_for_role`]),
    /// for a caller that read both already.
    pub fn of_role(
        role: Role,
        account: &AccountId,
        policies: &PrincipalPolicies,
    ) -> Result<Self, PrincipalError> {
        Ok(Self {
            principal_type: PrincipalType::AssumedRole,
            arn: role.arn,
            id: role.id,
            name: role.name.to_string(),
            account: account.clone(),
            tags: role.tags,
            policies: compile(policies)?,
        })
    }

    /// A session of role `name`: the role's policies, the session's ARN and id.
    pub fn for_role_session(
        store: &dyn Directory,
        account: &AccountId,
        name: &RoleName,
        session: &RoleSessionName,
    ) -> Result<Self, PrincipalError> {
        Ok(Self::for_role(store, account, name)?.session(name, session))
    }

    /// This role's session `session`: the role's policies, the session's
    /// ARN and id.
    pub fn session(mut self, role: &RoleName, session: &RoleSessionName) -> Self {
        self.arn = assumed_role_arn(&self.account, role, session);
        self.id = format!("{}:{session}", self.id);
        self
    }

    /// `aws:PrincipalArn`: for a role session AWS gives the role's ARN.
    pub(crate) fn principal_arn(&self) -> String {
        match self
            .arn
            .strip_prefix(&format!("arn:aws:sts::{}:assumed-role/", self.account))
        {
            Some(rest) => {
                let role = rest.split('/').next().unwrap_or(rest);
                format!("arn:aws:iam::{}:role/{role}", self.account)
            }
            None => self.arn.clone(),
        }
    }

    /// Decides `action` on `resource` with this principal's identity
    /// policies and boundary (no resource policy).
    pub fn authorize(&self, action: &str, resource: &str, context: &Context) -> Response {
        policy::authorize(
            &Request {
                principal: &self.arn,
                action,
                resource,
                context,
            },
            &self.policies,
        )
    }
}

/// Parses the stored documents into a [`PolicySet`].
pub fn compile(policies: &PrincipalPolicies) -> Result<PolicySet, PrincipalError> {
    compile_with(policies, &mut Compiled::default())
}

/// Policies already compiled, by name, kind and document: a caller that
/// compiles the policies of many principals (the access report) parses a
/// group's or a managed policy's document once, not once per member.
#[derive(Debug, Default)]
pub struct Compiled {
    by_document: HashMap<(String, PolicyKind, String), Policy>,
}

/// [`compile`] through `compiled`.
pub fn compile_with(
    policies: &PrincipalPolicies,
    compiled: &mut Compiled,
) -> Result<PolicySet, PrincipalError> {
    let mut parse = |doc: &PolicyDocument| -> Result<Policy, PrincipalError> {
        let key = (doc.name.clone(), doc.source.kind(), doc.document.clone());
        if let Some(policy) = compiled.by_document.get(&key) {
            return Ok(policy.clone());
        }
        let policy = parse(doc)?;
        compiled.by_document.insert(key, policy.clone());
        Ok(policy)
    };
    let identity = policies
        .identity
        .iter()
        .map(&mut parse)
        .collect::<Result<Vec<_>, _>>()?;
    let boundary = match &policies.boundary {
        Some(b) => Some(vec![parse(b)?]),
        None => None,
    };
    Ok(PolicySet {
        identity,
        boundary,
        resource: Vec::new(),
    })
}

fn parse(doc: &PolicyDocument) -> Result<Policy, PrincipalError> {
    let kind: PolicyKind = doc.source.kind();
    // Stored documents passed the size limit when written; don't re-check
    // it so a later, stricter limit cannot lock everyone out silently.
    Policy::parse_unlimited(&doc.name, &doc.document, kind).map_err(|source| {
        PrincipalError::InvalidStoredPolicy {
            policy: doc.name.clone(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{IamPath, PolicyName, TagKey, TagValue};
    use crate::policy::Decision;
    use crate::store::{Entity, NewRole, NewUser, Store};
    use chrono::{TimeZone, Utc};

    fn store() -> (tempfile::TempDir, Store, AccountId) {
        let dir = tempfile::tempdir().unwrap();
        let account = AccountId::parse("123456789012").unwrap();
        let store = Store::create(&dir.path().join("iam.db"), &account).unwrap();
        (dir, store, account)
    }

    const SELF_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Own","Effect":"Allow",
        "Action":"iam:ChangePassword","Resource":"arn:aws:iam::*:user/${aws:username}"}]}"#;

    #[test]
    fn a_user_with_group_policies_and_context() {
        let (_d, store, account) = store();
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let bob = UserName::parse("bob").unwrap();
        let mut new = NewUser::new(bob.clone());
        new.tags = vec![Tag {
            key: TagKey::parse("team").unwrap(),
            value: TagValue::parse("ops").unwrap(),
        }];
        store.create_user(&new, now).unwrap();
        let g = crate::names::GroupName::parse("devs").unwrap();
        store.create_group(&g, &IamPath::root(), now).unwrap();
        store.add_user_to_group(&bob, &g).unwrap();
        store
            .put_inline_policy(
                &Entity::Group(g),
                &PolicyName::parse("own").unwrap(),
                SELF_ONLY,
            )
            .unwrap();

        let p = Principal::for_user(&store, &account, &bob).unwrap();
        assert_eq!(p.arn, "arn:aws:iam::123456789012:user/bob");
        assert!(p.id.starts_with("AIDA"));
        assert_eq!(p.policies.identity.len(), 1);
        let ctx = crate::request::principal_context(&p, now);
        let get = |k: &str| ctx.get(k).map(|v| v.join(","));
        assert_eq!(get("aws:username").as_deref(), Some("bob"));
        assert_eq!(get("aws:userid"), Some(p.id.clone()));
        assert_eq!(get("aws:PrincipalArn"), Some(p.arn.clone()));
        assert_eq!(get("aws:PrincipalAccount").as_deref(), Some("123456789012"));
        assert_eq!(get("aws:PrincipalType").as_deref(), Some("User"));
        assert_eq!(get("aws:principaltag/team").as_deref(), Some("ops"));
        assert_eq!(
            get("aws:CurrentTime").as_deref(),
            Some("2026-11-25T12:00:00Z")
        );
        assert_eq!(get("aws:EpochTime"), Some(now.timestamp().to_string()));

        // ${aws:username} resolves to bob: his own ARN only.
        let own = p.authorize("iam:ChangePassword", &p.arn, &ctx);
        assert_eq!(own.decision, Decision::Allowed);
        assert_eq!(own.matched[0].sid.as_deref(), Some("Own"));
        let other = p.authorize(
            "iam:ChangePassword",
            "arn:aws:iam::123456789012:user/alice",
            &ctx,
        );
        assert_eq!(other.decision, Decision::ImplicitDeny);
    }

    #[test]
    fn a_role_session() {
        let (_d, store, account) = store();
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let admin = RoleName::parse("admin").unwrap();
        store
            .create_role(
                &NewRole {
                    name: admin.clone(),
                    path: IamPath::root(),
                    assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                        "Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#
                        .into(),
                    description: None,
                    max_session_duration: None,
                    tags: Vec::new(),
                    permissions_boundary: None,
                },
                now,
            )
            .unwrap();
        let session = RoleSessionName::parse("bob").unwrap();
        let p = Principal::for_role_session(&store, &account, &admin, &session).unwrap();
        assert_eq!(p.arn, "arn:aws:sts::123456789012:assumed-role/admin/bob");
        assert!(p.id.starts_with("AROA") && p.id.ends_with(":bob"));
        let ctx = crate::request::principal_context(&p, now);
        assert_eq!(
            ctx.get("aws:username"),
            None,
            "a role session has no user name"
        );
        assert_eq!(
            ctx.get("aws:PrincipalArn").map(|v| v[0].as_str()),
            Some("arn:aws:iam::123456789012:role/admin")
        );
        assert_eq!(
            ctx.get("aws:PrincipalType").map(|v| v[0].as_str()),
            Some("AssumedRole")
        );
        assert!(
            matches!(
                Principal::for_user(&store, &account, &UserName::parse("ghost").unwrap()),
                Err(PrincipalError::Store(StoreError::NoSuchEntity { .. }))
            ),
            "unknown users are NoSuchEntity"
        );
    }
}
