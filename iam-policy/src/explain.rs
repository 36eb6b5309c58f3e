//! Why a request was denied, in AWS's words: which side decided (an
//! explicit Deny and its statement; no identity Allow; no boundary Allow;
//! a trust policy that does not admit the caller) and the sentence AWS's
//! `AccessDenied` says. The one home of that wording; callers add only who
//! they name in it.

use super::eval::{Decision, Hits, MatchedStatement, PolicySet, PolicySource, Request, Response};
use std::fmt;

/// Which side of a [`PolicySet`] left a request denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Explanation {
    /// A Deny applied; the first deciding statement (its `source` says
    /// whether identity, boundary or resource policy).
    ExplicitDeny(MatchedStatement),
    /// No identity-based policy allows the action.
    NoIdentityAllow,
    /// The identity policies allow it, the permissions boundary does not.
    NoBoundaryAllow,
    /// The role's trust policy does not admit the caller, not even through
    /// its account; `identity_allows` says whether the caller's own policies
    /// (within its boundary) would have allowed it.
    TrustDoesNotAdmit { identity_allows: bool },
    /// The trust policy admits the caller's account only, and no
    /// identity-based policy allows the action (as AWS, a trust naming the
    /// account delegates to the caller's identity policies).
    TrustAdmitsAccountOnly,
}

/// Explains why `policies` denied `request` with `response` (what
/// [`authorize`](crate::authorize) answered); `None` when it allowed it.
/// Follows `authorize` (one account); it re-collects the statements that
/// apply, so it costs a second decision, on the denial path only.
pub fn explain(
    request: &Request<'_>,
    policies: &PolicySet,
    response: &Response,
) -> Option<Explanation> {
    match response.decision {
        Decision::Allowed => None,
        Decision::ExplicitDeny | Decision::ImplicitDeny => Some(
            // A denial always has an answer; failing one, the plainest.
            deciding_side(request, policies, response).unwrap_or(Explanation::NoIdentityAllow),
        ),
    }
}

/// Which side denied; `None` if the statements allow the request.
fn deciding_side(
    request: &Request<'_>,
    policies: &PolicySet,
    response: &Response,
) -> Option<Explanation> {
    if let Some(deny) = response
        .matched
        .first()
        .filter(|_| response.decision == Decision::ExplicitDeny)
    {
        return Some(Explanation::ExplicitDeny(deny.clone()));
    }
    let mut hits = Hits::of(request, policies, false);
    if let Some(deny) = hits.deny.first() {
        return Some(Explanation::ExplicitDeny(deny.to_matched()));
    }
    if hits.allow(false) {
        return None;
    }
    if hits.trust {
        // A trust policy must admit the caller, whatever its identity
        // policies say: does it, at all?
        if hits.resource.is_empty() {
            return Some(Explanation::TrustDoesNotAdmit {
                identity_allows: hits.identity_ok(),
            });
        }
        return Some(if hits.identity.is_empty() || hits.boundary_ok() {
            Explanation::TrustAdmitsAccountOnly
        } else {
            Explanation::NoBoundaryAllow
        });
    }
    // Would it be allowed without the boundary? Then the boundary decided.
    hits.bounded = false;
    Some(if policies.boundary.is_some() && hits.allow(false) {
        Explanation::NoBoundaryAllow
    } else {
        Explanation::NoIdentityAllow
    })
}

impl Explanation {
    /// The reason clause of AWS's sentence for `action`, e.g. `because no
    /// identity-based policy allows the iam:CreateUser action`.
    pub fn because<'a>(&'a self, action: &'a str) -> Because<'a> {
        Because { why: self, action }
    }
}

/// [`Explanation::because`]: displays the reason clause.
#[derive(Debug, Clone, Copy)]
pub struct Because<'a> {
    why: &'a Explanation,
    action: &'a str,
}

impl fmt::Display for Because<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = self.action;
        match self.why {
            Explanation::ExplicitDeny(m) => {
                let side = match m.source {
                    PolicySource::Identity => "an identity-based policy",
                    PolicySource::Boundary => "a permissions boundary",
                    PolicySource::Resource => "a resource-based policy",
                };
                write!(f, "with an explicit deny in {m} ({side})")
            }
            Explanation::NoIdentityAllow => {
                write!(
                    f,
                    "because no identity-based policy allows the {action} action"
                )
            }
            Explanation::NoBoundaryAllow => {
                write!(
                    f,
                    "because no permissions boundary allows the {action} action"
                )
            }
            Explanation::TrustDoesNotAdmit {
                identity_allows: true,
            } => f.write_str("because the role's trust policy does not allow it"),
            Explanation::TrustDoesNotAdmit {
                identity_allows: false,
            } => write!(
                f,
                "because the role's trust policy does not allow it and no identity-based \
                 policy allows the {action} action"
            ),
            Explanation::TrustAdmitsAccountOnly => write!(
                f,
                "because no identity-based policy allows the {action} action (the trust \
                 policy trusts the account, not the user)"
            ),
        }
    }
}

/// AWS's `AccessDenied` sentence: `User: P is not authorized to perform: A
/// on resource: R`, then the reason clause when there is one to give.
#[derive(Debug, Clone, Copy)]
pub struct NotAuthorized<'a> {
    /// `User` (AWS says so for users and role sessions alike) or `Role`.
    pub who: &'a str,
    pub principal: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub why: Option<&'a Explanation>,
}

impl<'a> NotAuthorized<'a> {
    /// The sentence for `request` denied because of `why`.
    pub fn of(request: &Request<'a>, why: &'a Explanation) -> Self {
        Self {
            who: "User",
            principal: request.principal,
            action: request.action,
            resource: request.resource,
            why: Some(why),
        }
    }
}

impl fmt::Display for NotAuthorized<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} is not authorized to perform: {} on resource: {}",
            self.who, self.principal, self.action, self.resource
        )?;
        match self.why {
            Some(why) => write!(f, " {}", why.because(self.action)),
            None => Ok(()),
        }
    }
}
