//! AWS's evaluation logic within one account.

use super::arn::{ArnPattern, Caller, PrincipalMatch, split_concrete};
use super::context::Context;
use super::document::{Effect, Policy, PolicyKind, Statement};
use super::index::service_hash;
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

impl Statement {
    /// `action` is the request's action, already lowercased (the patterns
    /// are compiled lowercase).
    fn action_matches(&self, action: &[u8]) -> bool {
        self.actions.iter().any(|p| p.matches_bytes(action, false)) != self.not_action
    }

    fn resource_matches(&self, req: &Request<'_>, prep: &Prepared<'_>) -> bool {
        match &self.resources {
            // The simulator's `*` stands for any resource: a statement
            // naming some resource applies, one excluding every resource
            // (`NotResource: *`) does not.
            Some(r) if prep.any_resource => !self.not_resource || !r.contains(&ArnPattern::Any),
            Some(r) => {
                r.iter()
                    .any(|p| p.matches_split(req.resource, prep.parts.as_ref(), req.context))
                    != self.not_resource
            }
            None => true,
        }
    }

    fn conditions_hold(&self, req: &Request<'_>) -> bool {
        self.conditions.iter().all(|c| c.holds(req.context))
    }

    /// Whether the statement applies to the request, and how the caller
    /// matched its Principal (`Direct` when it has none). Cheapest tests
    /// first: most statements fail on the action.
    fn applies(&self, req: &Request<'_>, prep: &Prepared<'_>) -> PrincipalMatch {
        let how = self.applies_but_for_conditions(req, prep);
        if how == PrincipalMatch::No || !self.conditions_hold(req) {
            return PrincipalMatch::No;
        }
        how
    }

    /// Action, resource and principal: whether the statement applies when
    /// its conditions hold.
    fn applies_but_for_conditions(&self, req: &Request<'_>, prep: &Prepared<'_>) -> PrincipalMatch {
        if !self.action_matches(prep.action.as_bytes()) || !self.resource_matches(req, prep) {
            return PrincipalMatch::No;
        }
        match &self.principal {
            Some(spec) => spec.matches(&prep.caller),
            None => PrincipalMatch::Direct,
        }
    }
}

/// What a decision derives from the request once, for every statement.
struct Prepared<'r> {
    action: Lowered,
    parts: Option<[&'r str; 6]>,
    caller: Caller<'r>,
    /// A simulation of resource `*` (see [`simulate`]).
    any_resource: bool,
}

impl<'r> Prepared<'r> {
    fn of(request: &Request<'r>, simulated: bool) -> Self {
        Self {
            action: Lowered::new(request.action),
            parts: split_concrete(request.resource),
            caller: Caller {
                userid: match request.context.get("aws:userid") {
                    Some([one]) => Some(one.as_str()),
                    _ => None,
                },
                ..Caller::parse(request.principal)
            },
            any_resource: simulated && request.resource == "*",
        }
    }
}

/// The request's action lowercased, on the stack when it is short.
enum Lowered {
    Inline([u8; 96], usize),
    Heap(Vec<u8>),
}

impl Lowered {
    fn new(action: &str) -> Self {
        let bytes = action.as_bytes();
        if bytes.len() <= 96 {
            let mut buf = [0u8; 96];
            for (d, s) in buf.iter_mut().zip(bytes) {
                *d = s.to_ascii_lowercase();
            }
            Self::Inline(buf, bytes.len())
        } else {
            Self::Heap(bytes.to_ascii_lowercase())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline(buf, len) => &buf[..*len],
            Self::Heap(v) => v,
        }
    }
}

/// A statement that applied, before the decision picks the deciding ones.
pub(crate) struct Hit<'p> {
    policy: &'p Policy,
    index: usize,
    source: PolicySource,
    /// How the caller matched the statement's Principal.
    pub(crate) how: PrincipalMatch,
}

impl Hit<'_> {
    pub(crate) fn to_matched(&self) -> MatchedStatement {
        let st = &self.policy.statements[self.index];
        MatchedStatement {
            policy: self.policy.name().to_owned(),
            sid: st.sid.clone(),
            index: self.index,
            effect: st.effect,
            source: self.source,
        }
    }
}

/// The statements that apply to a request, by effect and side: what both a
/// decision and its explanation are made of.
#[derive(Default)]
pub(crate) struct Hits<'p> {
    pub(crate) deny: Vec<Hit<'p>>,
    pub(crate) identity: Vec<Hit<'p>>,
    pub(crate) boundary: Vec<Hit<'p>>,
    pub(crate) resource: Vec<Hit<'p>>,
    /// A permissions boundary is set and counts (`explain` asks what the
    /// answer would be without it).
    pub(crate) bounded: bool,
    /// The resource policies include a role's trust policy.
    pub(crate) trust: bool,
}

impl<'p> Hits<'p> {
    /// Every statement of `policies` that applies to `request`, by kind.
    /// `simulated`: the question is the simulator's, where resource `*`
    /// stands for any resource.
    pub(crate) fn of(request: &Request<'_>, policies: &'p PolicySet, simulated: bool) -> Self {
        let prep = Prepared::of(request, simulated);
        let boundary_set = policies.boundary.is_some();
        let mut hits = Hits {
            bounded: boundary_set,
            trust: policies
                .resource
                .iter()
                .any(|p| p.kind() == PolicyKind::Trust),
            ..Hits::default()
        };
        hits.collect(
            &policies.identity,
            PolicySource::Identity,
            request,
            &prep,
            boundary_set,
        );
        if let Some(boundary) = &policies.boundary {
            hits.collect(boundary, PolicySource::Boundary, request, &prep, false);
        }
        hits.collect(
            &policies.resource,
            PolicySource::Resource,
            request,
            &prep,
            boundary_set,
        );
        hits
    }

    /// No boundary counts, or one of its statements allows.
    pub(crate) fn boundary_ok(&self) -> bool {
        !self.bounded || !self.boundary.is_empty()
    }

    /// An identity policy allows, within the boundary.
    pub(crate) fn identity_ok(&self) -> bool {
        self.boundary_ok() && !self.identity.is_empty()
    }

    /// The resource-policy Allow statements that grant on their own terms
    /// (rule 3 of [`authorize`]; cross-account: only with an identity Allow).
    pub(crate) fn granting(&self, cross_account: bool) -> impl Iterator<Item = &Hit<'p>> {
        let (boundary_ok, identity_ok) = (self.boundary_ok(), self.identity_ok());
        self.resource.iter().filter(move |h| match h.how {
            _ if cross_account => identity_ok,
            PrincipalMatch::Direct => true,
            PrincipalMatch::Role => boundary_ok,
            PrincipalMatch::Account => identity_ok,
            PrincipalMatch::No => false,
        })
    }

    /// Whether the Allow statements grant the request (no Deny applying).
    pub(crate) fn allow(&self, cross_account: bool) -> bool {
        let granted = self.granting(cross_account).next().is_some();
        if self.trust || cross_account {
            granted
        } else {
            self.identity_ok() || granted
        }
    }

    fn collect(
        &mut self,
        policies: &'p [Policy],
        source: PolicySource,
        req: &Request<'_>,
        prep: &Prepared<'_>,
        boundary_set: bool,
    ) {
        let (service, hash) = service_hash(prep.action.as_bytes());
        for policy in policies {
            for index in policy.index.candidates(service, hash) {
                let st = &policy.statements[index];
                let mut how = st.applies(req, prep);
                // "The NotPrincipal element with a Deny effect will always
                // deny any IAM principal that has a permissions boundary
                // policy attached" (IAM User Guide, Permissions boundaries).
                if how == PrincipalMatch::No
                    && boundary_set
                    && st.effect == Effect::Deny
                    && st.principal.as_ref().is_some_and(|p| p.negated)
                    && st.action_matches(prep.action.as_bytes())
                    && st.resource_matches(req, prep)
                    && st.conditions_hold(req)
                {
                    how = PrincipalMatch::Direct;
                }
                if how == PrincipalMatch::No {
                    continue;
                }
                let hit = Hit {
                    policy,
                    index,
                    source,
                    how,
                };
                match (st.effect, source) {
                    (Effect::Deny, _) => self.deny.push(hit),
                    (Effect::Allow, PolicySource::Identity) => self.identity.push(hit),
                    (Effect::Allow, PolicySource::Boundary) => self.boundary.push(hit),
                    (Effect::Allow, PolicySource::Resource) => self.resource.push(hit),
                }
            }
        }
    }
}

/// Decides `request` against `policies` as AWS decides a request inside one
/// account (IAM User Guide, "Policy evaluation logic"):
///
/// 1. An applicable Deny in any policy (identity, boundary, resource) wins.
/// 2. An identity-policy Allow grants, when the boundary (if any) also
///    allows.
/// 3. A resource-policy Allow grants on its own when it names the caller
///    itself (user or session ARN, or `*`); when it names the role a session
///    belongs to, only if the boundary also allows; when it names only the
///    account, it delegates to the identity policies (rule 2).
/// 4. A role's trust policy is required for `sts:AssumeRole`: when the
///    resource policies include a trust policy, an identity Allow alone is
///    not enough.
/// 5. Otherwise: implicit deny.
pub fn authorize(request: &Request<'_>, policies: &PolicySet) -> Response {
    decide(request, policies, false, false)
}

/// Decides a request whose resource belongs to another account than the
/// caller's (IAM User Guide, "Cross-account policy evaluation logic"): an
/// applicable Deny anywhere wins; otherwise the caller's identity policies
/// (within its boundary) and the resource's policy must both allow. A
/// resource policy may name the caller's account, which is the usual way
/// to grant to another account.
pub fn authorize_cross_account(request: &Request<'_>, policies: &PolicySet) -> Response {
    decide(request, policies, true, false)
}

/// The policy simulator's answer (`simulate-custom-policy`,
/// `simulate-principal-policy`): [`authorize`], or
/// [`authorize_cross_account`] when the resource's owner is another
/// account, except that a request for resource `*` (the simulator's
/// default) stands for any resource, so a statement naming specific ARNs
/// applies to it, as in AWS's simulator. Never used for a real request,
/// where `*` is a resource name like any other.
pub fn simulate(request: &Request<'_>, policies: &PolicySet, cross_account: bool) -> Response {
    decide(request, policies, cross_account, true)
}

fn decide(
    request: &Request<'_>,
    policies: &PolicySet,
    cross_account: bool,
    simulated: bool,
) -> Response {
    let hits = Hits::of(request, policies, simulated);
    if !hits.deny.is_empty() {
        return Response {
            decision: Decision::ExplicitDeny,
            matched: hits.deny.iter().map(Hit::to_matched).collect(),
        };
    }
    if !hits.allow(cross_account) {
        return Response {
            decision: Decision::ImplicitDeny,
            matched: Vec::new(),
        };
    }
    let mut matched = Vec::new();
    if hits.identity_ok() {
        matched.extend(hits.identity.iter().map(Hit::to_matched));
    }
    if hits.bounded {
        matched.extend(hits.boundary.iter().map(Hit::to_matched));
    }
    matched.extend(hits.granting(cross_account).map(Hit::to_matched));
    Response {
        decision: Decision::Allowed,
        matched,
    }
}

/// Condition keys (as written in the policies) used by statements that
/// would apply to the request but that the context lacks: AWS's
/// `MissingContextValues` of a simulation.
pub fn missing_context_keys(request: &Request<'_>, policies: &PolicySet) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    let all = policies
        .identity
        .iter()
        .chain(policies.boundary.iter().flatten())
        .chain(&policies.resource);
    for policy in all {
        for st in policy.statements.iter() {
            if !st.action_matches(Lowered::new(request.action).as_bytes()) {
                continue;
            }
            for c in &st.conditions {
                if request.context.entry(&c.lookup).is_none()
                    && !missing.iter().any(|m| m.eq_ignore_ascii_case(&c.key))
                {
                    missing.push(c.key.to_string());
                }
            }
        }
    }
    missing
}

/// Values for context keys the request lacks under which statements of
/// `policies` that apply to it but for their conditions (action, resource,
/// principal) would apply (an Allow) or stop applying (a Deny): for each such statement one assignment of keys to values,
/// derived from its own conditions, then all of them together. Only keys
/// for which `free` says yes (what a caller cannot know in advance, such as
/// `aws:SourceIp`) are assigned; a statement whose conditions need a value
/// derived for none of them gives nothing. The caller decides each
/// assignment with [`authorize`]: this says where to look, never what is
/// allowed (`iamctl access-report` asks "allowed under some request?" so).
pub fn condition_witnesses<'p>(
    request: &Request<'_>,
    policies: impl IntoIterator<Item = &'p Policy>,
    free: impl Fn(&str) -> bool,
) -> Vec<Vec<(String, String)>> {
    let prep = Prepared::of(request, false);
    let mut found: Vec<Vec<(String, String)>> = Vec::new();
    for policy in policies {
        for st in policy.statements.iter() {
            if st.conditions.is_empty()
                || st.applies_but_for_conditions(request, &prep) == PrincipalMatch::No
            {
                continue;
            }
            let open = st
                .conditions
                .iter()
                .filter(|c| request.context.entry(&c.lookup).is_none() && free(&c.key));
            let assignment = match st.effect {
                // Every condition must hold.
                Effect::Allow => open
                    .map(|c| c.witness(true).map(|v| v.map(|v| (c.key.to_string(), v))))
                    .collect::<Option<Vec<_>>>()
                    .map(|vs| vs.into_iter().flatten().collect::<Vec<_>>()),
                // One failing condition is enough.
                Effect::Deny => open
                    .filter_map(|c| c.witness(false).map(|v| (c, v)))
                    .find_map(|(c, v)| v.map(|v| vec![(c.key.to_string(), v)])),
            };
            if let Some(a) = assignment.filter(|a| !a.is_empty())
                && !found.contains(&a)
            {
                found.push(a);
            }
        }
    }
    if found.len() > 1 {
        let mut all: Vec<(String, String)> = Vec::new();
        for (k, v) in found.iter().flatten() {
            if !all.iter().any(|(a, _)| a.eq_ignore_ascii_case(k)) {
                all.push((k.clone(), v.clone()));
            }
        }
        found.push(all);
    }
    found
}
