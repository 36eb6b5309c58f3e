//! AWS's evaluation logic within one account.

use super::context::Context;
use super::document::{Effect, Policy};
use std::fmt;

/// One authorization question: may `principal` do `action` on `resource`?
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The caller's ARN (user, role session, root) or a service principal.
    pub principal: &'a str,
    /// `service:Action`, e.g. `host:Login`.
    pub action: &'a str,
    /// The resource ARN, e.g. `arn:aws:host::123456789012:host/web-1`.
    pub resource: &'a str,
    pub context: &'a Context,
}

/// The policies that apply to a request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    /// The principal's identity-based policies (inline and managed, its own
    /// and its groups').
    pub identity: Vec<Policy>,
    /// The principal's permissions boundary, if it has one.
    pub boundary: Option<Vec<Policy>>,
    /// The resource's policies (a role's trust policy for `sts:AssumeRole`).
    pub resource: Vec<Policy>,
}

/// The outcome, as AWS's simulator spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Decision {
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::ExplicitDeny => "explicitDeny",
            Self::ImplicitDeny => "implicitDeny",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_aws_str())
    }
}

/// Which part of a [`PolicySet`] a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    Identity,
    Boundary,
    Resource,
}

/// A statement that decided a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    /// The name of the policy the statement is in.
    pub policy: String,
    pub sid: Option<String>,
    /// Position of the statement in the policy, from 0.
    pub index: usize,
    pub effect: Effect,
    pub source: PolicySource,
}

impl fmt::Display for MatchedStatement {
    /// `policy AdminAccess statement "AllowAll"`, or `statement #2` without
    /// a Sid: what an audit line says about why.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "policy {} statement \"{sid}\"", self.policy),
            None => write!(f, "policy {} statement #{}", self.policy, self.index),
        }
    }
}

/// The decision and the statements that made it: the matching Deny
/// statements for an explicit deny, the Allow statements for an allow,
/// nothing for an implicit deny.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub decision: Decision,
    pub matched: Vec<MatchedStatement>,
}

/// Decides `request` against `policies` as AWS does inside one account.
pub fn authorize(request: &Request<'_>, policies: &PolicySet) -> Response {
    let _ = (request, policies);
    Response {
        decision: Decision::ImplicitDeny,
        matched: Vec::new(),
    }
}
