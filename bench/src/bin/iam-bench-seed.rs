//! Seeds an iam-server directory with N users before the server starts
//! (bench/server/run.sh): one transaction through `iam::store::Store`, the
//! same code path `CreateUser` ends in, minus HTTP and SigV4. Users are
//! `bench-u000000`… at path `/`.
//!
//! `iam-bench-seed DATABASE USERS`
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
use iam::names::UserName;
use iam::store::{Limits, NewUser, Store};

/// Where the seeded users' Linux ids come from (see the module docs).
const SEED_UID_RANGE: (u32, u32) = (1_000_000, 1_999_999);

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(database), Some(users)) = (args.next(), args.next()) else {
        eprintln!("usage: iam-bench-seed DATABASE USERS");
        std::process::exit(2);
    };
    let database = PathBuf::from(database);
    let users: usize = users.parse().expect("USERS: a number");
    let started = Instant::now();
    let mut store = Store::open(&database).expect("open the directory");
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
            Ok(())
        })
        .expect("seed users");
    let seeded = started.elapsed();
    // What every call, and ListUsers, pays in the store before anything
    // else (the profile in bench/README.md): median of 5.
    let open = median_ms(|| drop(Store::open(&database).expect("open")));
    let list = median_ms(|| drop(store.list_users(None).expect("list_users")));
    let one = UserName::parse(&format!("bench-u{:06}", users / 2)).expect("a valid name");
    let get = median_ms(|| drop(store.get_user(&one).expect("get_user")));
    println!(
        "seeded {users} users in one transaction in {:.1} s (in-process: Store::open {open:.2} ms, \
         list_users {list:.1} ms, get_user {get:.3} ms)",
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
