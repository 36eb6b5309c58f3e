//! The evaluation corpus (iam-policy/tests/policy_cases) decided by the library,
//! the same way `iamctl simulate-custom-policy` decides it.
// Test harness code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/corpus.rs"]
mod corpus;

use iam_policy::{
    Context, Decision, Explanation, Policy, PolicyKind, PolicySet, Request, Response, authorize,
    authorize_cross_account, explain, simulate,
};

/// The account part of an ARN, when it has one.
fn account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The decision, its deciding statements, and whether `explain` agrees
/// with it (no explanation for an allow; the first Deny for an explicit
/// deny; a side that decided for an implicit one).
fn decide(case: &corpus::Case) -> (Decision, Vec<String>, bool) {
    let mut set = PolicySet::default();
    for (i, doc) in case.policies.iter().enumerate() {
        let name = format!("PolicyInputList.{}", i + 1);
        set.identity
            .push(Policy::parse_unlimited(&name, doc, PolicyKind::Managed).unwrap());
    }
    if let Some(boundary) = &case.boundary {
        set.boundary = Some(
            boundary
                .iter()
                .map(|d| Policy::parse_unlimited("Boundary", d, PolicyKind::Managed).unwrap())
                .collect(),
        );
    }
    if let Some(doc) = &case.resource_policy {
        let p = Policy::parse_unlimited("ResourcePolicy", doc, PolicyKind::Trust)
            .or_else(|_| Policy::parse_unlimited("ResourcePolicy", doc, PolicyKind::Resource))
            .unwrap();
        set.resource.push(p);
    }
    let mut context = Context::new();
    for (key, values, ty) in &case.context {
        match ty {
            Some(t) => context
                .insert_typed(key, values.clone(), t.parse().unwrap())
                .unwrap(),
            None => context.insert(key, values.clone()),
        }
    }
    let request = Request {
        principal: case.caller.as_deref().unwrap_or(""),
        action: &case.action,
        resource: &case.resource,
        context: &context,
    };
    // As the simulator decides: resource `*` stands for any resource, and a
    // resource ARN in another account than the caller's is cross-account.
    let cross_account = matches!(
        (account(&case.resource), case.caller.as_deref().and_then(account)),
        (Some(owner), Some(caller)) if owner != caller
    );
    let response = simulate(&request, &set, cross_account);
    // Explained from the statements alone (a forged implicit deny), the
    // explanation must still agree with the decision.
    let forged = Response {
        decision: Decision::ImplicitDeny,
        matched: Vec::new(),
    };
    // `explain` answers real requests; where the simulator's `*` decides
    // otherwise than a real request for a resource named `*`, it has
    // nothing to agree with.
    let real = if cross_account {
        authorize_cross_account(&request, &set)
    } else {
        authorize(&request, &set)
    };
    let explained = real.decision != response.decision
        || match (response.decision, explain(&request, &set, &response)) {
            (Decision::Allowed, None) => true,
            (Decision::ExplicitDeny, Some(Explanation::ExplicitDeny(m))) => {
                explain(&request, &set, &forged) == Some(Explanation::ExplicitDeny(m))
            }
            (Decision::ImplicitDeny, Some(why)) => !matches!(why, Explanation::ExplicitDeny(_)),
            _ => false,
        };
    let mut sids: Vec<String> = response
        .matched
        .iter()
        .map(|m| m.sid.clone().unwrap_or_else(|| format!("#{}", m.index)))
        .collect();
    sids.sort();
    (response.decision, sids, explained)
}

#[test]
fn corpus_decisions() {
    let cases = corpus::load();
    let mut failures = Vec::new();
    for case in &cases {
        let (decision, sids, explained) = decide(case);
        if !explained {
            failures.push(format!("{}: explain disagrees with {decision}", case.id));
        }
        if decision.as_aws_str() != case.expect {
            failures.push(format!(
                "{}: expected {}, got {decision}",
                case.id, case.expect
            ));
            continue;
        }
        if let Some(want) = &case.matched {
            let mut want = want.clone();
            want.sort();
            if want != sids {
                failures.push(format!(
                    "{}: deciding statements {sids:?}, expected {want:?}",
                    case.id
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 200, "only {} corpus cases", cases.len());
}
