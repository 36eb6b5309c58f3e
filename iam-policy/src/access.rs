//! Access Analyzer's custom policy checks, over the host action space:
//! `CheckNoNewAccess` (does a changed policy allow anything the existing
//! one did not?) and `CheckAccessNotGranted` (may a policy allow any of
//! these actions or resources?).
//!
//! Method. The actions are a finite space: [`HOST_ACTIONS`], the caller's
//! known actions (iamctl's `iam:` verbs), every action either document
//! names literally, and for each wildcard pattern (and for `NotAction`) a
//! made-up action that only the pattern matches, standing for the actions
//! nobody listed. Each Allow statement grants, per action of the space it
//! lets through, its resource patterns under its conditions (and, in a
//! resource policy, to its principals). A new grant is covered when one
//! existing Allow statement lets the same action through, has a resource
//! pattern that includes the new one, the new principals among its own,
//! and each of its conditions among the new statement's (so it holds
//! whenever the new one does). Each existing Deny must likewise be kept by
//! a new Deny that covers it and has no condition the old one lacked.
//!
//! Soundness: PASS is only answered when every grant is covered, and every
//! comparison errs towards "not covered": pattern inclusion is decided
//! exactly for a literal pattern and otherwise recognized only for `*`,
//! equal text, or a literal prefix with one trailing `*`; conditions are
//! compared as written, not by meaning (a narrower but different
//! condition counts as new); a grant covered only by several existing
//! statements together, or narrowed only by a new Deny, counts as new.
//! So a change that widens access always FAILs; one that does not may
//! still FAIL, and the reasons say which statement to look at. Only the
//! action space above is examined: an action of another service matters
//! only through the made-up witness of a pattern that reaches it.
//!
//! `CheckAccessNotGranted` answers FAIL when some Allow statement lets a
//! listed action through on a listed resource (any resource when none is
//! listed) whatever its conditions say, unless an unconditional Deny
//! covers that action and resource: PASS means no request can be allowed.

use super::arn::{ArnPattern, PrincipalEntry, PrincipalSpec};
use super::condition::Condition;
use super::context::Context;
use super::document::{Effect, Policy, Statement};
use super::validate::{allows_action, pattern_covers};
use serde_json::Value as Json;

/// The actions a login or an elevation asks (docs/ARCHITECTURE.md's host
/// action space beside the `iam:` verbs).
pub const HOST_ACTIONS: [&str; 3] = ["host:Login", "host:RunAs", "sts:AssumeRole"];

/// A made-up action no real service has: what `NotAction` and a service
/// wildcard reach beyond the actions anyone listed.
const UNLISTED_ACTION: &str = "unlisted-service:UnlistedAction";

/// PASS or FAIL, as Access Analyzer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckResult {
    Pass,
    Fail,
}

impl CheckResult {
    pub fn as_aws_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
        }
    }
}

/// Why a check failed: which statement (of the new document, for
/// `CheckNoNewAccess`), and what it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub description: String,
    pub statement_index: Option<usize>,
    pub statement_id: Option<String>,
}

/// A custom policy check's answer: `result`, `message`, `reasons`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessCheck {
    pub result: CheckResult,
    pub message: String,
    pub reasons: Vec<Reason>,
}

/// A statement with the raw text of its resource and action entries, which
/// the compiled form keeps only as matchers.
struct Grant<'a> {
    index: usize,
    st: &'a Statement,
    /// Resource (or, with `not_resource`, NotResource) entries; `None`
    /// for a statement without either (a trust policy's).
    resources: Option<Vec<String>>,
    actions: Vec<String>,
}

fn grants(policy: &Policy) -> Vec<Grant<'_>> {
    let json: Json = serde_json::from_str(policy.document()).unwrap_or(Json::Null);
    let raw: Vec<&Json> = match json.get("Statement") {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let list = |v: Option<&Json>| -> Option<Vec<String>> {
        match v? {
            Json::String(s) => Some(vec![s.clone()]),
            Json::Array(items) => Some(
                items
                    .iter()
                    .filter_map(Json::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            _ => None,
        }
    };
    policy
        .statements
        .iter()
        .zip(raw)
        .enumerate()
        .map(|(index, (st, raw))| Grant {
            index,
            st,
            resources: list(raw.get("Resource").or_else(|| raw.get("NotResource"))),
            actions: list(raw.get("Action").or_else(|| raw.get("NotAction"))).unwrap_or_default(),
        })
        .collect()
}

/// One action of the space: the name matched against statements, and how
/// a reason names it (a made-up action by the pattern it stands for).
struct SpaceAction {
    name: String,
    label: String,
}

/// The action space of the documents: see the module's comment.
fn action_space(known: &[&str], grants: &[&Grant<'_>]) -> Vec<SpaceAction> {
    let mut space: Vec<SpaceAction> = HOST_ACTIONS
        .iter()
        .chain(known)
        .map(|a| SpaceAction {
            name: (*a).to_owned(),
            label: (*a).to_owned(),
        })
        .collect();
    space.push(SpaceAction {
        name: UNLISTED_ACTION.to_owned(),
        label: "actions no policy lists".to_owned(),
    });
    for g in grants {
        for a in &g.actions {
            // `host:*` → `host:Unlisted`, `host:Log?n` → `host:LogUn`:
            // an action only the pattern is known to reach.
            let witness = a.replace('*', "Unlisted").replace('?', "U");
            if !space.iter().any(|s| s.name.eq_ignore_ascii_case(&witness)) {
                let label = if witness == *a {
                    a.clone()
                } else {
                    format!("{a} actions no policy lists")
                };
                space.push(SpaceAction {
                    name: witness,
                    label,
                });
            }
        }
    }
    space
}

/// Whether resource pattern `outer` includes `inner` (conservative; see
/// [`pattern_covers`]); a literal `inner` is decided by the engine's own
/// ARN matching.
fn resource_covers(outer: &str, inner: &str) -> bool {
    if outer == "*" || outer == inner {
        return true;
    }
    if !inner.contains(['*', '?']) && !outer.contains("${") {
        return ArnPattern::resource(outer, false).is_ok_and(|p| p.matches(inner, &Context::new()));
    }
    // A trailing `*` spans colons only in the resource part, after the
    // fifth colon.
    outer
        .strip_suffix('*')
        .is_some_and(|prefix| prefix.matches(':').count() >= 5)
        && pattern_covers(outer, inner)
}

/// Whether `a` and `b` (patterns) may match a common text: not when their
/// literal beginnings (up to the first wildcard or variable) differ.
fn may_overlap(a: &str, b: &str) -> bool {
    let literal = |s: &str| -> String {
        s.chars()
            .take_while(|c| !matches!(c, '*' | '?' | '$'))
            .collect()
    };
    let (pa, pb) = (literal(a), literal(b));
    let whole = |s: &str, p: &str| s.len() == p.len();
    match (whole(a, &pa), whole(b, &pb)) {
        (true, true) => a == b,
        (true, false) => pa.starts_with(&pb),
        (false, true) => pb.starts_with(&pa),
        (false, false) => pa.starts_with(&pb) || pb.starts_with(&pa),
    }
}

/// Whether statement `outer`'s resources include every resource of
/// `inner`'s entry `r` (`None`: `inner` has no Resource, or a NotResource
/// taken as one unit).
fn covers_resource(outer: &Grant<'_>, inner: &Grant<'_>, r: Option<&str>) -> bool {
    let Some(list) = &outer.resources else {
        return inner.resources.is_none();
    };
    if inner.resources.is_none() {
        return false;
    }
    match (outer.st.not_resource, inner.st.not_resource, r) {
        (false, _, _) if list.iter().any(|p| p == "*") => true,
        (false, false, Some(r)) => list.iter().any(|p| resource_covers(p, r)),
        // Everything but `list` includes a literal resource none of its
        // entries (with no variable in them) matches.
        (true, false, Some(r)) => {
            !r.contains(['*', '?', '$'])
                && !list
                    .iter()
                    .any(|e| e.contains("${") || resource_covers(e, r))
        }
        (true, true, _) => not_resource_within(outer, inner),
        _ => false,
    }
}

/// Whether `outer`'s Principal includes every principal of `inner`'s.
fn covers_principal(outer: Option<&PrincipalSpec>, inner: Option<&PrincipalSpec>) -> bool {
    match (outer, inner) {
        (None, None) => true,
        (Some(o), Some(i)) => match (o.negated, i.negated) {
            (false, _) if o.entries.contains(&PrincipalEntry::Any) => true,
            (false, false) => i.entries.iter().all(|e| o.entries.contains(e)),
            (true, true) => o.entries.iter().all(|e| i.entries.contains(e)),
            _ => false,
        },
        _ => false,
    }
}

/// Whether every condition of `outer` is one of `inner`'s: `outer` then
/// holds whenever `inner` does.
fn conditions_within(outer: &[Condition], inner: &[Condition]) -> bool {
    outer.iter().all(|c| inner.contains(c))
}

/// One (action, resource) pair of a statement that nothing covers.
struct Uncovered<'a> {
    grant: &'a Grant<'a>,
    action: String,
    resource: Option<String>,
}

/// The pairs of each `from` statement of `effect` that no `by` statement
/// of the same effect covers, where `covered(by, from)` says whether `by`
/// holds whenever `from` does.
fn uncovered<'a>(
    from: &'a [Grant<'a>],
    by: &[Grant<'_>],
    effect: Effect,
    space: &[SpaceAction],
    conditions_ok: impl Fn(&Statement, &Statement) -> bool,
) -> Vec<Uncovered<'a>> {
    let mut out = Vec::new();
    for g in from.iter().filter(|g| g.st.effect == effect) {
        // A NotResource is covered as one unit: by Resource "*" or a
        // NotResource that excludes less.
        let resources: Vec<Option<&str>> = match &g.resources {
            Some(list) if !g.st.not_resource => list.iter().map(|r| Some(r.as_str())).collect(),
            _ => vec![None],
        };
        for action in space.iter().filter(|a| allows_action(g.st, &a.name)) {
            for r in &resources {
                let covered = by.iter().any(|o| {
                    o.st.effect == effect
                        && allows_action(o.st, &action.name)
                        && covers_resource(o, g, *r)
                        && covers_principal(o.st.principal.as_ref(), g.st.principal.as_ref())
                        && conditions_ok(o.st, g.st)
                });
                if !covered {
                    out.push(Uncovered {
                        grant: g,
                        action: action.label.clone(),
                        resource: r.map(str::to_owned).or_else(|| {
                            g.resources
                                .as_ref()
                                .map(|l| format!("everything but {}", l.join(", ")))
                        }),
                    });
                }
            }
        }
    }
    out
}

/// Two NotResource statements: `outer` excludes no more than `inner`.
fn not_resource_within(outer: &Grant<'_>, inner: &Grant<'_>) -> bool {
    match (&outer.resources, &inner.resources) {
        (Some(o), Some(i)) => o.iter().all(|e| i.contains(e)),
        _ => false,
    }
}

fn describe(u: &Uncovered<'_>) -> String {
    match &u.resource {
        Some(r) => format!("{} on {r}", u.action),
        None => u.action.clone(),
    }
}

/// Reasons, one per statement, naming up to three of its pairs.
fn reasons(
    list: &[Uncovered<'_>],
    sentence: impl Fn(usize, &str) -> String,
    index: bool,
) -> Vec<Reason> {
    let mut out: Vec<Reason> = Vec::new();
    let mut seen: Vec<usize> = Vec::new();
    for u in list {
        if seen.contains(&u.grant.index) {
            continue;
        }
        seen.push(u.grant.index);
        let pairs: Vec<String> = list
            .iter()
            .filter(|o| o.grant.index == u.grant.index)
            .map(describe)
            .collect();
        let mut shown = pairs.iter().take(3).cloned().collect::<Vec<_>>().join("; ");
        if pairs.len() > 3 {
            shown.push_str(&format!("; and {} more", pairs.len() - 3));
        }
        out.push(Reason {
            description: sentence(u.grant.index, &shown),
            statement_index: index.then_some(u.grant.index),
            statement_id: if index { u.grant.st.sid.clone() } else { None },
        });
    }
    out
}

/// `CheckNoNewAccess`: FAIL when `new` may allow a request `existing`
/// does not (see the module's comment for the method and its limits).
/// `known`: actions to examine beside [`HOST_ACTIONS`] and those the
/// documents name.
pub fn check_no_new_access(new: &Policy, existing: &Policy, known: &[&str]) -> AccessCheck {
    let new_grants = grants(new);
    let old_grants = grants(existing);
    let all: Vec<&Grant<'_>> = new_grants.iter().chain(&old_grants).collect();
    let space = action_space(known, &all);
    let widened = uncovered(&new_grants, &old_grants, Effect::Allow, &space, |o, n| {
        conditions_within(&o.conditions, &n.conditions)
    });
    let unkept = uncovered(&old_grants, &new_grants, Effect::Deny, &space, |n, o| {
        conditions_within(&n.conditions, &o.conditions)
    });
    let mut all_reasons = reasons(
        &widened,
        |i, what| {
            format!(
                "Statement {i} of the new policy allows access the existing policy does not: {what}."
            )
        },
        true,
    );
    all_reasons.extend(reasons(
        &unkept,
        |i, what| format!("The Deny of statement {i} of the existing policy is not kept by the new policy: {what}."),
        false,
    ));
    if all_reasons.is_empty() {
        AccessCheck {
            result: CheckResult::Pass,
            message:
                "The modified permissions do not grant new access compared to your existing policy."
                    .into(),
            reasons: Vec::new(),
        }
    } else {
        AccessCheck {
            result: CheckResult::Fail,
            message: "The modified permissions grant new access compared to your existing policy."
                .into(),
            reasons: all_reasons,
        }
    }
}

/// Whether the statement may let some action `action` (a pattern) stands
/// for through.
fn may_allow_action(g: &Grant<'_>, action: &str) -> bool {
    if !action.contains(['*', '?']) {
        return allows_action(g.st, action);
    }
    let action = action.to_ascii_lowercase();
    g.st.not_action
        || g.actions
            .iter()
            .any(|p| may_overlap(&p.to_ascii_lowercase(), &action))
}

/// Whether the Deny statement covers every action `action` stands for.
fn denies_action(d: &Grant<'_>, action: &str) -> bool {
    if !action.contains(['*', '?']) {
        return allows_action(d.st, action);
    }
    let action = action.to_ascii_lowercase();
    !d.st.not_action
        && d.actions
            .iter()
            .any(|p| pattern_covers(&p.to_ascii_lowercase(), &action))
}

/// `CheckAccessNotGranted`: FAIL when `policy` may allow one of `actions`
/// on one of `resources` (on anything, when `resources` is empty; every
/// action, when `actions` is empty).
pub fn check_access_not_granted(
    policy: &Policy,
    actions: &[String],
    resources: &[String],
) -> AccessCheck {
    let all = grants(policy);
    let any_action = [UNLISTED_ACTION.to_owned()];
    let actions: Vec<String> = if actions.is_empty() {
        HOST_ACTIONS
            .iter()
            .map(|a| (*a).to_owned())
            .chain(any_action)
            .collect()
    } else {
        actions.to_vec()
    };
    let targets: Vec<Option<&str>> = if resources.is_empty() {
        vec![None]
    } else {
        resources.iter().map(|r| Some(r.as_str())).collect()
    };
    let mut found = Vec::new();
    for g in all.iter().filter(|g| g.st.effect == Effect::Allow) {
        for action in actions.iter().filter(|a| may_allow_action(g, a)) {
            for r in &targets {
                let may_allow = match (r, &g.resources) {
                    (_, None) | (None, _) => true,
                    (Some(r), Some(list)) => {
                        let unknown = list.iter().any(|p| p.contains("${"));
                        if g.st.not_resource {
                            // Excluded only when an entry includes all of `r`.
                            unknown || !list.iter().any(|p| resource_covers(p, r))
                        } else {
                            unknown || list.iter().any(|p| may_overlap(p, r))
                        }
                    }
                };
                let denied = all.iter().any(|d| {
                    d.st.effect == Effect::Deny
                        && d.st.conditions.is_empty()
                        && denies_action(d, action)
                        && d.st
                            .principal
                            .as_ref()
                            .is_none_or(|p| !p.negated && p.entries.contains(&PrincipalEntry::Any))
                        && !d.st.not_resource
                        && d.resources.as_ref().is_none_or(|l| {
                            l.iter().any(|p| match r {
                                Some(r) => !p.contains("${") && resource_covers(p, r),
                                None => p == "*",
                            })
                        })
                });
                if may_allow && !denied {
                    found.push(Uncovered {
                        grant: g,
                        action: action.clone(),
                        resource: r.map(str::to_owned),
                    });
                }
            }
        }
    }
    if found.is_empty() {
        AccessCheck {
            result: CheckResult::Pass,
            message: "The policy document does not grant access to perform the listed actions or resources.".into(),
            reasons: Vec::new(),
        }
    } else {
        AccessCheck {
            result: CheckResult::Fail,
            message: "The policy document grants access to perform one or more of the listed actions or resources.".into(),
            reasons: reasons(
                &found,
                |i, what| format!("Statement {i} may allow {what}."),
                true,
            ),
        }
    }
}
