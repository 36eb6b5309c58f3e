//! The cost of `iamctl access-report` (issue 16): a directory of 10,000
//! users, 500 groups, 1,000 managed policies and 200 roles (or k× fewer or
//! more: `iam-bench-access-report [SCALE]`, 1.0 by default), written through
//! `iam::store::Store` in one transaction, then the report built by
//! `iam::access::report` exactly as iamctl builds it, timed (median of 3).
//!
//! The directory's shape (deterministic, no randomness):
//! - 20 hosts, `h00`…`h19`; this host is `h00`;
//! - policy i: `host:Login` on two hosts (every fourth only with MFA), or
//!   `sts:AssumeRole` on two roles (every third from 10.0.0.0/8), or
//!   self-service `iam:*` on the caller's own user (noise the engine skips);
//! - group g has policies 2g and 2g+1; user u is in groups u mod 500 and
//!   (7u + 3) mod 500; every tenth user has a permissions boundary;
//! - role r: a trust policy naming the account (even r) or five users (odd
//!   r, every fifth with MFA); `host:RunAs` on every host; run-as root for
//!   r mod 3 ≠ 0, else `svc`.

// Bench harness: a failed setup step should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::Utc;
use iam::access::{LocalHost, Scope, report};
use iam::names::{
    AccountId, GroupName, IamPath, PolicyName, RoleName, Tag, TagKey, TagValue, UserName,
};
use iam::store::{Entity, NewRole, NewUser, Store};

const ACCOUNT: &str = "123456789012";
const HOSTS: usize = 20;

fn doc(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

fn host(i: usize) -> String {
    format!("arn:aws:host::{ACCOUNT}:host/h{:02}", i % HOSTS)
}

fn policy_document(i: usize, roles: usize) -> String {
    match i % 3 {
        0 => {
            let mfa = if i.is_multiple_of(4) {
                r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#
            } else {
                ""
            };
            doc(&format!(
                r#"{{"Sid":"Login{i}","Effect":"Allow","Action":"host:Login","Resource":["{}","{}"]{mfa}}}"#,
                host(i),
                host(i + 7)
            ))
        }
        1 => {
            let net = if i % 9 == 1 {
                r#","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#
            } else {
                ""
            };
            doc(&format!(
                r#"{{"Sid":"Assume{i}","Effect":"Allow","Action":"sts:AssumeRole","Resource":["arn:aws:iam::{ACCOUNT}:role/r{:03}","arn:aws:iam::{ACCOUNT}:role/r{:03}"]{net}}}"#,
                i % roles,
                (i * 7 + 1) % roles
            ))
        }
        _ => doc(&format!(
            r#"{{"Sid":"Self{i}","Effect":"Allow","Action":["iam:ChangePassword","iam:GetUser","iam:ListMFADevices"],"Resource":"arn:aws:iam::*:user/${{aws:username}}"}}"#
        )),
    }
}

fn seed(store: &Store, users: usize, groups: usize, policies: usize, roles: usize) {
    let now = Utc::now();
    let root = IamPath::root();
    store
        .atomically(|s| {
            let mut arns = Vec::with_capacity(policies);
            for i in 0..policies {
                let name = PolicyName::parse(&format!("p{i:04}")).unwrap();
                let p = s.create_policy(&name, &root, None, &policy_document(i, roles), now)?;
                arns.push(p.arn);
            }
            let boundary = s
                .create_policy(
                    &PolicyName::parse("boundary").unwrap(),
                    &root,
                    None,
                    &doc(r#"{"Effect":"Allow","Action":["host:Login","iam:*"],"Resource":"*"}"#),
                    now,
                )?
                .arn;
            for g in 0..groups {
                let name = GroupName::parse(&format!("g{g:03}")).unwrap();
                s.create_group(&name, &root, now)?;
                for p in [2 * g, 2 * g + 1] {
                    s.attach_policy(&Entity::Group(name.clone()), &arns[p % policies])?;
                }
            }
            for u in 0..users {
                let name = UserName::parse(&format!("u{u:05}")).unwrap();
                s.create_user(&NewUser::new(name.clone()), now)?;
                for g in [u % groups, (7 * u + 3) % groups] {
                    let group = GroupName::parse(&format!("g{g:03}")).unwrap();
                    s.add_user_to_group(&name, &group)?;
                }
                if u.is_multiple_of(10) {
                    s.set_user_permissions_boundary(&name, Some(&boundary))?;
                }
            }
            let run_as = doc(r#"{"Effect":"Allow","Action":"host:RunAs","Resource":"*"}"#);
            for r in 0..roles {
                let trust = if r.is_multiple_of(2) {
                    doc(&format!(
                        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}"#
                    ))
                } else {
                    let named: Vec<String> = (0..5)
                        .map(|k| format!("\"arn:aws:iam::{ACCOUNT}:user/u{:05}\"", (r * 37 + k * 101) % users))
                        .collect();
                    let mfa = if r % 5 == 1 {
                        r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#
                    } else {
                        ""
                    };
                    doc(&format!(
                        r#"{{"Effect":"Allow","Principal":{{"AWS":[{}]}},"Action":"sts:AssumeRole"{mfa}}}"#,
                        named.join(",")
                    ))
                };
                let name = RoleName::parse(&format!("r{r:03}")).unwrap();
                let tags = if r.is_multiple_of(3) {
                    vec![Tag {
                        key: TagKey::parse("host:RunAs").unwrap(),
                        value: TagValue::parse("svc").unwrap(),
                    }]
                } else {
                    Vec::new()
                };
                s.create_role(
                    &NewRole {
                        name: name.clone(),
                        path: root.clone(),
                        assume_role_policy_document: trust,
                        description: None,
                        max_session_duration: None,
                        tags,
                        permissions_boundary: None,
                    },
                    now,
                )?;
                s.put_inline_policy(&Entity::Role(name), &PolicyName::parse("run-as").unwrap(), &run_as)?;
            }
            Ok(())
        })
        .expect("seed the directory");
}

fn main() {
    let scale: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("SCALE: a number"))
        .unwrap_or(1.0);
    let n = |base: f64| ((base * scale).round() as usize).max(1);
    let (users, groups, policies, roles) = (n(10_000.0), n(500.0), n(1_000.0), n(200.0));
    let dir = tempfile::tempdir().expect("a temp dir");
    let account = AccountId::parse(ACCOUNT).unwrap();
    let store = Store::create(&dir.path().join("iam.db"), &account).expect("a store");
    let started = Instant::now();
    seed(&store, users, groups, policies, roles);
    println!(
        "seeded {users} users, {groups} groups, {policies} policies, {roles} roles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let tags = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
    let local = LocalHost {
        hostname: "h00",
        tags: &tags,
        require_mfa: false,
    };
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let t = Instant::now();
        let r = report(&store, &local, &Scope::default(), Utc::now()).expect("the report");
        times.push(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    times.sort_by(f64::total_cmp);
    let r = last.expect("one report");
    let t = Instant::now();
    let json = serde_json::to_vec_pretty(&r).expect("JSON");
    let written = t.elapsed().as_secs_f64();
    println!(
        "access-report: {:.2} s (median of 3; min {:.2} s, max {:.2} s): {} hosts, {} logins, \
         {} elevations, {} paths to root ({} without MFA); {:.1} MB of JSON in {:.2} s more",
        times[1],
        times[0],
        times[2],
        r.summary.hosts,
        r.summary.logins,
        r.summary.elevations,
        r.summary.paths_to_root,
        r.summary.paths_to_root_without_mfa,
        json.len() as f64 / 1e6,
        written
    );
}
