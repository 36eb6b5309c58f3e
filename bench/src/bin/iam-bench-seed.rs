//! Seeds an iam-server directory with N users before the server starts
//! (bench/server/run.sh): the directory is opened from the server's own
//! server.toml the way iam-server opens it (`iam_server::directory::
//! Directory`: the SQLite file, or PostgreSQL when `[postgres]` is set), and
//! the users are written in one transaction through `iam::store::Store`,
//! the same code path `CreateUser` ends in, minus HTTP and SigV4. Users are
//! `bench-u000000`… at path `/`.
//!
//! `iam-bench-seed SERVER_TOML USERS [POLICIES]`
//!
//! With POLICIES (the fleet benchmark, bench/fleet/run.sh), that many
//! managed policies `bench-p00000`… are created too, policy i attached to
//! user i (a snapshot then carries documents, versions and attachments).
//!
//! The seeded users take Linux ids from 1,000,000 up, outside the default
//! `uid_range` the server allocates from (200,000–299,999: 100,000 ids,
//! and server.toml cannot widen it yet), so the benchmark's `CreateUser`
//! calls still find free ids in a 100,000-user directory.

// Bench harness: a failed setup step should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use iam::names::{IamPath, PolicyName, UserName};
use iam::store::{Entity, Limits, NewUser};
use iam_server::config::ServerConfig;
use iam_server::directory::Directory;

/// Where the seeded users' Linux ids come from (see the module docs).
const SEED_UID_RANGE: (u32, u32) = (1_000_000, 1_999_999);

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(config), Some(users)) = (args.next(), args.next()) else {
        eprintln!("usage: iam-bench-seed SERVER_TOML USERS [POLICIES]");
        std::process::exit(2);
    };
    let policies: usize = args
        .next()
        .map_or(0, |p| p.parse().expect("POLICIES: a number"));
    let config = ServerConfig::load(&PathBuf::from(config)).expect("server.toml");
    let users: usize = users.parse().expect("USERS: a number");
    let backend = if config.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let started = Instant::now();
    let directory = Directory::open(&config).expect("open the directory");
    let mut store = directory.store().expect("a store");
    store.set_limits(Limits {
        uid_range: SEED_UID_RANGE,
        ..store.limits()
    });
    let now = Utc::now();
    store
        .atomically(|s| {
            for i in 0..users {
                let name = UserName::parse(&format!("bench-u{i:06}")).expect("a valid name");
                s.create_user(&NewUser::new(name), now)?;
            }
            for i in 0..policies {
                let name = PolicyName::parse(&format!("bench-p{i:05}")).expect("a valid name");
                let document = format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Login{i}","Effect":"Allow","Action":"host:Login","Resource":"arn:aws:host::*:host/web-{i}","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}}]}}"#
                );
                let policy = s.create_policy(&name, &IamPath::root(), None, &document, now)?;
                if users > 0 {
                    let user = UserName::parse(&format!("bench-u{:06}", i % users))
                        .expect("a valid name");
                    s.attach_policy(&Entity::User(user), &policy.arn)?;
                }
            }
            Ok(())
        })
        .expect("seed users");
    let seeded = started.elapsed();
    // What every call pays in the store before anything else, and the two
    // ListUsers pages the benchmark asks for: median of 5.
    let open = median_ms(|| drop(directory.store().expect("a store")));
    let first = median_ms(|| drop(store.list_users_page(None, None, Some(101)).expect("page")));
    let mid = format!("bench-u{:06}", users / 2);
    let later = median_ms(|| {
        drop(
            store
                .list_users_page(None, Some(&mid), Some(101))
                .expect("page"),
        );
    });
    let one = UserName::parse(&mid).expect("a valid name");
    let get = median_ms(|| drop(store.get_user(&one).expect("get_user")));
    println!(
        "seeded {users} users and {policies} policies into {backend} in one transaction in {:.1} s (in-process: \
         a store {open:.2} ms, ListUsers page of 101 {first:.2} ms first / {later:.2} ms later, \
         get_user {get:.3} ms)",
        seeded.as_secs_f64()
    );
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[2]
}
