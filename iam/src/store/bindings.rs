//! Trust policies bound to principals' unique IDs, as AWS binds them: when
//! a role's trust policy is saved, every user or role of this account it
//! names in `Principal` must exist, and is recorded with that principal's
//! unique ID (`AIDA…`, `AROA…`). Decisions match the ID
//! ([`Role::trust_policy`]), so a principal deleted and re-created under
//! the same name is not trusted, and a renamed one still is. Shown (`GetRole`
//! and the export), each bound ARN reads as its holder's current ARN, or as
//! the bare unique ID once the holder is gone, as AWS shows it.

use super::sql::{Connection, OptionalExtension, params};
use super::users::corrupt;
use super::{Result, Role, Store, StoreError};
use crate::names::{IamArn, IamPath, RoleName, UserName, role_arn, user_arn};
use crate::policy::{Fault, PolicyError, PrincipalBinding};
use serde_json::Value;

/// A user or role ARN of a saved trust policy and the unique ID of the
/// principal it named when the policy was saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustBinding {
    pub arn: String,
    pub unique_id: String,
}

/// A role's trust policy as saved, with its bindings: what decisions use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedTrust {
    pub document: String,
    pub bindings: Vec<TrustBinding>,
}

impl SavedTrust {
    /// What `arn`, an `AWS` principal of the saved document, stands for: the
    /// unique ID it was bound to; nobody for a user or role of `account`
    /// that was never bound; `None` (kept as written) for anything else.
    pub fn binding(&self, account: &str, arn: &str) -> Option<PrincipalBinding> {
        if let Some(b) = self.bindings.iter().find(|b| b.arn == arn) {
            return Some(PrincipalBinding::UniqueId(b.unique_id.clone()));
        }
        local_principal(account, arn).map(|_| PrincipalBinding::Nobody)
    }
}

/// The kind of a user or role ARN of `account`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Role,
}

fn local_principal(account: &str, arn: &str) -> Option<(Kind, IamArn)> {
    let parsed = IamArn::parse("Principal", arn).ok()?;
    if parsed.account != account {
        return None;
    }
    let kind = match parsed.resource_type.as_str() {
        "user" => Kind::User,
        "role" => Kind::Role,
        _ => return None,
    };
    Some((kind, parsed))
}

/// Every `AWS` principal value of the `Principal` elements of `doc` (a
/// string or a list of strings, in a statement object or a list of them),
/// with a way to replace it.
fn for_each_principal(doc: &mut Value, mut f: impl FnMut(&mut String)) {
    let statements: Vec<&mut Value> = match doc.get_mut("Statement") {
        Some(Value::Array(items)) => items.iter_mut().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    for statement in statements {
        let Some(aws) = statement
            .get_mut("Principal")
            .and_then(|p| p.get_mut("AWS"))
        else {
            continue;
        };
        match aws {
            Value::String(s) => f(s),
            Value::Array(items) => {
                for item in items {
                    if let Value::String(s) = item {
                        f(s);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Store {
    /// Binds the trust policy `document` of role `role_id`, replacing its
    /// earlier bindings, in the transaction that saves the document.
    pub(crate) fn bind_trust(&self, c: &Connection, role_id: i64, document: &str) -> Result<()> {
        let bindings = self.resolve_trust(c, document)?;
        self.record_trust(c, role_id, &bindings)
    }

    /// The bindings of trust policy `document`: every user or role of this
    /// account it names must exist now, else AWS's `Invalid principal in
    /// policy` (so a role cannot name itself before it exists, as in AWS).
    pub(crate) fn resolve_trust(
        &self,
        c: &Connection,
        document: &str,
    ) -> Result<Vec<TrustBinding>> {
        let mut doc: Value = serde_json::from_str(document)
            .map_err(|e| StoreError::MalformedPolicyDocument(PolicyError::Json(e.to_string())))?;
        let mut named = Vec::new();
        for_each_principal(&mut doc, |arn| named.push(arn.clone()));
        let mut bindings: Vec<TrustBinding> = Vec::new();
        for arn in named {
            let Some((kind, parsed)) = local_principal(self.account.as_str(), &arn) else {
                continue;
            };
            if bindings.iter().any(|b| b.arn == arn) {
                continue;
            }
            let unique_id = principal_id(c, kind, &parsed)?.ok_or_else(|| {
                StoreError::MalformedPolicyDocument(PolicyError::Document {
                    field: "Principal".into(),
                    fault: Fault::Invalid,
                    message: format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
                })
            })?;
            bindings.push(TrustBinding { arn, unique_id });
        }
        Ok(bindings)
    }

    /// Replaces the bindings of role `role_id`.
    pub(crate) fn record_trust(
        &self,
        c: &Connection,
        role_id: i64,
        bindings: &[TrustBinding],
    ) -> Result<()> {
        c.execute("DELETE FROM trust_bindings WHERE role_id = ?1", [role_id])?;
        for b in bindings {
            c.execute(
                "INSERT INTO trust_bindings (role_id, arn, unique_id) VALUES (?1, ?2, ?3)",
                params![role_id, b.arn, b.unique_id],
            )?;
        }
        Ok(())
    }

    /// The saved trust policy of role `role_id` and how AWS shows it: each
    /// bound ARN as its holder's current ARN, or as the unique ID when the
    /// holder is gone.
    pub(crate) fn load_trust(
        &self,
        c: &Connection,
        role_id: i64,
        document: String,
    ) -> Result<(String, SavedTrust)> {
        let mut st = c.prepare_cached(
            "SELECT arn, unique_id FROM trust_bindings WHERE role_id = ?1 ORDER BY arn",
        )?;
        let bindings = st
            .query_map([role_id], |r| {
                Ok(TrustBinding {
                    arn: r.get(0)?,
                    unique_id: r.get(1)?,
                })
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut shown_as = Vec::new();
        for b in &bindings {
            let now = self.holder_arn(c, &b.unique_id)?;
            if now.as_deref() != Some(b.arn.as_str()) {
                shown_as.push((b.arn.as_str(), now.unwrap_or_else(|| b.unique_id.clone())));
            }
        }
        let shown = match serde_json::from_str::<Value>(&document) {
            Ok(mut doc) if !shown_as.is_empty() => {
                for_each_principal(&mut doc, |arn| {
                    if let Some((_, to)) = shown_as.iter().find(|(from, _)| from == arn) {
                        *arn = to.clone();
                    }
                });
                doc.to_string()
            }
            _ => document.clone(),
        };
        Ok((shown, SavedTrust { document, bindings }))
    }

    /// The current ARN of the user or role with `unique_id`, if any.
    fn holder_arn(&self, c: &Connection, unique_id: &str) -> Result<Option<String>> {
        let row = |table: &str| -> Result<Option<(String, String)>> {
            Ok(c.query_row(
                &format!("SELECT path, name FROM {table} WHERE unique_id = ?1"),
                [unique_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        };
        if let Some((path, name)) = row("users")? {
            let path = IamPath::parse(&path).map_err(corrupt)?;
            let name = UserName::parse(&name).map_err(corrupt)?;
            return Ok(Some(user_arn(&self.account, &path, &name)));
        }
        if let Some((path, name)) = row("roles")? {
            let path = IamPath::parse(&path).map_err(corrupt)?;
            let name = RoleName::parse(&name).map_err(corrupt)?;
            return Ok(Some(role_arn(&self.account, &path, &name)));
        }
        Ok(None)
    }
}

impl Role {
    /// Compiles the trust policy (the resource policy of `sts:AssumeRole`)
    /// from the saved document, its user and role principals bound to the
    /// unique IDs they were saved with: the one home of that rule for
    /// `iamctl assume-role`, iam-server's STS and the simulator.
    pub fn trust_policy(&self) -> std::result::Result<crate::policy::Policy, PolicyError> {
        let account = IamArn::parse("RoleArn", &self.arn)
            .map(|a| a.account)
            .unwrap_or_default();
        let mut policy = crate::policy::Policy::parse_stored(
            &format!("{}-trust-policy", self.name),
            &self.trust.document,
            crate::policy::PolicyKind::Trust,
        )?;
        policy.bind_principals(|arn| self.trust.binding(&account, arn));
        Ok(policy)
    }
}

/// The unique ID of the user or role `arn` names, spelled as AWS prints it
/// (name in its stored case, path exact).
fn principal_id(c: &Connection, kind: Kind, arn: &IamArn) -> Result<Option<String>> {
    let table = match kind {
        Kind::User => "users",
        Kind::Role => "roles",
    };
    let row: Option<(String, String, String)> = c
        .query_row(
            &format!("SELECT unique_id, name, path FROM {table} WHERE name = ?1"),
            [&arn.name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(row
        .filter(|(_, name, path)| *name == arn.name && path == arn.path.as_str())
        .map(|(id, _, _)| id))
}
