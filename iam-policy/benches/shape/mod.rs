//! The benchmark policy shape of issue 3 (10 managed policies × 20
//! statements, a condition on each) and the best-of-batches rate, shared by
//! the criterion bench and the `iam-bench` table so both measure the same
//! thing.

use iam_policy::{Context, Policy, PolicyKind, PolicySet, Request, authorize};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Instant;

const SERVICES: [&str; 10] = [
    "ec2", "s3", "iam", "logs", "host", "sts", "kms", "dynamodb", "sqs", "sns",
];

pub fn condition(k: usize) -> Value {
    match k % 6 {
        0 => json!({"StringEquals": {"aws:PrincipalTag/team": ["ops", "sre"]}}),
        1 => {
            json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]}})
        }
        2 => json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        3 => json!({"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}),
        4 => json!({"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),
        _ => {
            json!({"StringLike": {"host:Hostname": ["web-*", "app-*"]}, "StringEquals": {"aws:ResourceTag/env": "prod"}})
        }
    }
}

/// Hosts are named by role; a host statement covers one prefix.
const HOST_PREFIXES: [&str; 5] = ["web", "app", "db", "build", "bastion"];

pub fn statement(p: usize, s: usize, all_hosts: bool) -> Value {
    let svc = SERVICES[(p + s) % SERVICES.len()];
    let (actions, resource) = if svc == "host" {
        let prefix = if all_hosts {
            "web"
        } else {
            HOST_PREFIXES[(p / 2 + s) % HOST_PREFIXES.len()]
        };
        (
            json!(["host:Login", "host:RunAs"]),
            json!(format!("arn:aws:host::123456789012:host/{prefix}-*")),
        )
    } else {
        (
            json!([
                format!("{svc}:Get*"),
                format!("{svc}:Describe*"),
                format!("{svc}:List*")
            ]),
            json!(format!("arn:aws:{svc}:*:123456789012:thing/{p}-{s}/*")),
        )
    };
    let effect = if s % 5 == 4 { "Deny" } else { "Allow" };
    let mut st = json!({
        "Sid": format!("P{p}S{s}"),
        "Effect": effect,
        "Action": actions,
        "Resource": resource,
        "Condition": condition(p * 20 + s),
    });
    if effect == "Deny" {
        // Guard rails: deny from outside the LAN, on every host.
        st["Condition"] = json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}});
        if svc == "host" {
            st["Resource"] = json!("arn:aws:host::123456789012:host/*");
        }
    }
    st
}

/// 10 managed policies of 20 statements, services mixed across them, a
/// condition on every statement. `all_hosts`: every host statement covers
/// the requested host (the stress case: 20 statements apply).
pub fn policies(all_hosts: bool) -> PolicySet {
    let identity = (0..10)
        .map(|p| {
            let doc = json!({
                "Version": "2012-10-17",
                "Statement": (0..20).map(|s| statement(p, s, all_hosts)).collect::<Vec<_>>(),
            })
            .to_string();
            Policy::parse_unlimited(&format!("Managed{p}"), &doc, PolicyKind::Managed).unwrap()
        })
        .collect();
    PolicySet {
        identity,
        ..PolicySet::default()
    }
}

pub fn context() -> Context {
    let mut ctx = Context::new();
    ctx.set("aws:username", "alice");
    ctx.set("aws:PrincipalArn", "arn:aws:iam::123456789012:user/alice");
    ctx.set("aws:PrincipalTag/team", "ops");
    ctx.set("aws:SourceIp", "10.1.2.3");
    ctx.set("aws:CurrentTime", "2026-11-25T12:00:00Z");
    ctx.set("aws:EpochTime", "1795608000");
    ctx.set("aws:MultiFactorAuthPresent", "true");
    ctx.set("aws:MultiFactorAuthAge", "42");
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:ResourceTag/env", "prod");
    ctx.set("host:Service", "sshd");
    ctx.set("host:Hostname", "web-1");
    ctx
}

/// Decisions per second of the fastest of many short batches: on a shared,
/// loaded machine the fastest batch is the one that ran without being
/// preempted, which is what "per core" means. Criterion's wall-clock
/// figures below include the waiting.
pub fn best_rate(req: &Request<'_>, set: &PolicySet) -> f64 {
    const BATCH: u32 = 2_000;
    let mut best = f64::MAX;
    for _ in 0..300 {
        let start = Instant::now();
        for _ in 0..BATCH {
            black_box(authorize(black_box(req), black_box(set)));
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    f64::from(BATCH) / best
}
