//! A policy document of any bytes through `Policy::parse`, and when it
//! parses, `authorize` with a request built from the rest of the input.
//!
//! Input: `DOCUMENT \0 ACTION \0 RESOURCE \0 PRINCIPAL (\0 KEY \0 VALUE)*`,
//! so the seed corpus is plain policy JSON with a request appended.
#![no_main]

use iam::policy::{Context, Decision, Effect, Policy, PolicyKind, PolicySet, Request, authorize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0).map(String::from_utf8_lossy);
    let Some(doc) = parts.next() else { return };
    let action = parts.next().unwrap_or_default();
    let resource = parts.next().unwrap_or_default();
    let principal = parts.next().unwrap_or_default();
    let mut context = Context::new();
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        context.insert(&k, v.split(',').map(str::to_owned).collect());
    }
    let request = Request {
        principal: &principal,
        action: &action,
        resource: &resource,
        context: &context,
    };
    for kind in [
        PolicyKind::Managed,
        PolicyKind::UserInline,
        PolicyKind::Trust,
    ] {
        // The size-limited parse must agree with the unlimited one.
        let limited = Policy::parse("fuzz", &doc, kind);
        let unlimited = Policy::parse_unlimited("fuzz", &doc, kind);
        if limited.is_ok() {
            assert!(
                unlimited.is_ok(),
                "limited parse accepts what unlimited refuses"
            );
        }
        let Ok(policy) = unlimited else { continue };
        // What parsed once parses again from its own text.
        assert!(Policy::parse_unlimited("again", policy.document(), kind).is_ok());
        let set = if kind == PolicyKind::Trust {
            PolicySet {
                resource: vec![policy.clone()],
                ..PolicySet::default()
            }
        } else {
            PolicySet {
                identity: vec![policy.clone()],
                ..PolicySet::default()
            }
        };
        let response = authorize(&request, &set);
        match response.decision {
            Decision::Allowed => {
                assert!(!response.matched.is_empty(), "allowed without a statement");
                assert!(response.matched.iter().all(|m| m.effect == Effect::Allow));
            }
            Decision::ExplicitDeny => {
                assert!(response.matched.iter().any(|m| m.effect == Effect::Deny));
            }
            Decision::ImplicitDeny => {
                assert!(response.matched.iter().all(|m| m.effect == Effect::Allow));
            }
        }
        if kind != PolicyKind::Trust {
            // The same policy as its own permissions boundary changes nothing.
            let bounded = PolicySet {
                identity: vec![policy.clone()],
                boundary: Some(vec![policy]),
                ..PolicySet::default()
            };
            assert_eq!(authorize(&request, &bounded).decision, response.decision);
        }
    }
});
