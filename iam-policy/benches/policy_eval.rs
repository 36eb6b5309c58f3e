//! Decisions per second for a principal with 10 managed policies of 20
//! statements each, with conditions (issue 3's benchmark shape).
//!
//! Run: `cargo bench -p iam-policy --bench policy_eval`. One decision is one
//! `authorize` call; the figure is 1 / (time per iteration).

// Bench harness code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod shape;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use iam_policy::{Decision, Policy, PolicyKind, Request, authorize};
use shape::{best_rate, context, policies};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let set = policies(false);
    let stress = policies(true);
    let ctx = context();
    let login = Request {
        principal: "arn:aws:iam::123456789012:user/alice",
        action: "host:Login",
        resource: "arn:aws:host::123456789012:host/web-1",
        context: &ctx,
    };
    let allowed = authorize(&login, &set);
    assert_eq!(allowed.decision, Decision::Allowed);
    let stressed = authorize(&login, &stress);
    assert_eq!(stressed.decision, Decision::Allowed);
    println!(
        "deciding statements: typical {}, stress {}",
        allowed.matched.len(),
        stressed.matched.len()
    );
    let miss = Request {
        action: "ec2:RunInstances",
        resource: "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
        ..login
    };
    assert_eq!(authorize(&miss, &set).decision, Decision::ImplicitDeny);
    let denied_ctx = {
        let mut c = context();
        c.set("aws:SourceIp", "203.0.113.9");
        c
    };
    let denied = Request {
        context: &denied_ctx,
        ..login
    };
    assert_eq!(authorize(&denied, &set).decision, Decision::ExplicitDeny);

    for (name, req, set) in [
        ("host_login_allowed", &login, &set),
        ("host_login_denied", &denied, &set),
        ("implicit_deny", &miss, &set),
        ("stress_all_host_statements_apply", &login, &stress),
    ] {
        println!(
            "best-of-batches {name}: {:.0} decisions/s on one core",
            best_rate(req, set)
        );
    }

    let mut group = c.benchmark_group("authorize_10x20");
    group.throughput(Throughput::Elements(1));
    group.bench_function("host_login_allowed", |b| {
        b.iter(|| authorize(black_box(&login), black_box(&set)))
    });
    group.bench_function("host_login_denied", |b| {
        b.iter(|| authorize(black_box(&denied), black_box(&set)))
    });
    group.bench_function("implicit_deny", |b| {
        b.iter(|| authorize(black_box(&miss), black_box(&set)))
    });
    group.bench_function("stress_all_host_statements_apply", |b| {
        b.iter(|| authorize(black_box(&login), black_box(&stress)))
    });
    group.finish();

    let doc = set.identity[0].document().to_owned();
    c.bench_function("parse_20_statement_policy", |b| {
        b.iter(|| Policy::parse_unlimited("p", black_box(&doc), PolicyKind::Managed).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
