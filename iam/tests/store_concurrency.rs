//! Concurrency and crash safety: several threads and processes, each with
//! its own connection, writing one store file.
//!
//! The process tests re-run this test binary as workers: a worker is the
//! `worker` test with `IAM_STORE_WORKER` set in its environment.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use iam::names::*;
use iam::store::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn acct() -> AccountId {
    AccountId::parse("123456789012").unwrap()
}

fn user(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag {
        key: TagKey::parse(k).unwrap(),
        value: TagValue::parse(v).unwrap(),
    }
}

const WORKER_ENV: &str = "IAM_STORE_WORKER";

/// Entry point of worker processes; a no-op in a normal test run.
#[test]
fn worker() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.splitn(3, ':').collect();
    let (mode, n, path) = (parts[0], parts[1].parse::<usize>().unwrap(), parts[2]);
    let s = Store::open(Path::new(path)).unwrap();
    match mode {
        // Worker n creates 20 users and tags the shared user "shared".
        "users" => {
            for i in 0..20 {
                s.create_user(&NewUser::new(user(&format!("w{n}-u{i}"))), now())
                    .unwrap();
                s.tag_user(&user("shared"), &[tag(&format!("w{n}-{i}"), "x")])
                    .unwrap_or_else(|e| {
                        if !matches!(e, StoreError::LimitExceeded(_)) {
                            panic!("{e}")
                        }
                    });
            }
        }
        // Writes forever: each step one user + group + membership + policy.
        "crash" => {
            for i in 0.. {
                s.atomically(|s| {
                    let u = user(&format!("c{i}"));
                    let g = GroupName::parse(&format!("g{i}")).unwrap();
                    s.create_user(&NewUser::new(u.clone()), now())?;
                    s.create_group(&g, &IamPath::root(), now())?;
                    s.add_user_to_group(&u, &g)?;
                    s.put_inline_policy(
                        &Entity::User(u),
                        &PolicyName::parse("p").unwrap(),
                        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#,
                    )
                })
                .unwrap();
            }
        }
        other => panic!("unknown worker mode {other}"),
    }
}

fn spawn_worker(mode: &str, n: usize, path: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker", "--nocapture", "--test-threads=1"])
        .env(WORKER_ENV, format!("{mode}:{n}:{}", path.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn new_store_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.db");
    Store::create(&path, &acct()).unwrap();
    (dir, path)
}

#[test]
fn eight_processes_lose_no_update() {
    let (_d, path) = new_store_file();
    let s = Store::open(&path).unwrap();
    s.create_user(&NewUser::new(user("shared")), now()).unwrap();
    let children: Vec<Child> = (0..8).map(|n| spawn_worker("users", n, &path)).collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let users = s.list_users(None).unwrap();
    assert_eq!(users.len(), 8 * 20 + 1);
    let mut uids: Vec<u32> = users.iter().map(|u| u.uid).collect();
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), users.len(), "a uid was handed out twice");
    // The shared tag set is read-modify-written by all: none lost, up to
    // the 50-tag limit (beyond which writes are refused, not lost).
    let tags = s.get_user(&user("shared")).unwrap().tags;
    assert_eq!(tags.len(), 50);
}

#[test]
fn eight_threads_lose_no_update() {
    let (_d, path) = new_store_file();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|n| {
            let path = path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let s = Store::open(&path).unwrap();
                barrier.wait();
                for i in 0..25 {
                    s.create_user(&NewUser::new(user(&format!("t{n}-{i}"))), now())
                        .unwrap();
                    s.create_group(
                        &GroupName::parse(&format!("g{n}-{i}")).unwrap(),
                        &IamPath::root(),
                        now(),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.list_users(None).unwrap().len(), 200);
    assert_eq!(s.list_groups(None).unwrap().len(), 200);
    let mut ids: Vec<u32> = s.list_users(None).unwrap().iter().map(|u| u.uid).collect();
    ids.extend(s.list_groups(None).unwrap().iter().map(|g| g.gid));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 400);
}

#[test]
fn totp_step_has_exactly_one_winner() {
    let (_d, path) = new_store_file();
    let s = Store::open(&path).unwrap();
    let dev = s
        .create_virtual_mfa_device(
            &MfaDeviceName::parse("bob").unwrap(),
            &IamPath::root(),
            &iam::secret::SecretBytes::new(vec![9; 20]),
            now(),
        )
        .unwrap();
    for step in 100..110u64 {
        let barrier = Arc::new(Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (path, serial, barrier) =
                    (path.clone(), dev.serial_number.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let s = Store::open(&path).unwrap();
                    barrier.wait();
                    s.ledger().accept_totp_step(&serial, step).unwrap()
                })
            })
            .collect();
        let winners = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|w| *w)
            .count();
        assert_eq!(winners, 1, "step {step}");
    }
}

#[test]
fn kill_9_leaves_a_consistent_store() {
    let (_d, path) = new_store_file();
    let mut committed = 0;
    for round in 0..4 {
        let mut child = spawn_worker("crash", round, &path);
        std::thread::sleep(Duration::from_millis(150 + 70 * round as u64));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let s = Store::open(&path).unwrap();
        let ok: String = {
            let out = Command::new("sqlite3")
                .arg(&path)
                .arg("PRAGMA integrity_check; PRAGMA foreign_key_check;")
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        assert_eq!(ok, "ok");
        // Every user made it together with its group, membership and policy.
        let users = s.list_users(None).unwrap();
        committed += users.len();
        assert_eq!(users.len(), s.list_groups(None).unwrap().len());
        for u in &users {
            let groups = s.groups_for_user(&u.name).unwrap();
            assert_eq!(groups.len(), 1);
            assert_eq!(
                groups[0].name.as_str(),
                format!("g{}", &u.name.as_str()[1..])
            );
            assert_eq!(
                s.list_inline_policies(&Entity::User(u.name.clone()))
                    .unwrap()
                    .len(),
                1
            );
        }
        // Next round continues where this one stopped (names restart at
        // c0, so drop what exists first — through the store, as a user would).
        for u in users {
            let g = GroupName::parse(&format!("g{}", &u.name.as_str()[1..])).unwrap();
            s.atomically(|s| {
                s.remove_user_from_group(&u.name, &g)?;
                s.delete_inline_policy(
                    &Entity::User(u.name.clone()),
                    &PolicyName::parse("p").unwrap(),
                )?;
                s.delete_user(&u.name)?;
                s.delete_group(&g)
            })
            .unwrap();
        }
    }
    assert!(committed > 0, "the workers never committed anything");
}

/// A writer that holds the lock briefly makes others wait, not fail; one
/// that holds it past the busy timeout makes them fail cleanly, in bounded
/// time (PAM must never hang inside sshd).
#[test]
fn waiting_for_the_write_lock_is_bounded() {
    let (_d, path) = new_store_file();
    let hold = |secs: u64| {
        let path = path.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            let s = Store::open(&path).unwrap();
            s.atomically(|s| {
                s.create_user(&NewUser::new(user(&format!("holder{secs}"))), now())?;
                tx.send(()).unwrap();
                std::thread::sleep(Duration::from_secs(secs));
                Ok(())
            })
            .unwrap();
        });
        rx.recv().unwrap();
        h
    };
    let s = Store::open(&path).unwrap();

    let h = hold(1);
    let start = std::time::Instant::now();
    s.create_user(&NewUser::new(user("patient")), now())
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(500));
    h.join().unwrap();

    let h = hold(7);
    // WAL: readers see the last commit without waiting for the writer.
    let start = std::time::Instant::now();
    assert_eq!(s.list_users(None).unwrap().len(), 2);
    assert!(start.elapsed() < Duration::from_secs(1));
    let start = std::time::Instant::now();
    let e = s
        .create_user(&NewUser::new(user("impatient")), now())
        .unwrap_err();
    let waited = start.elapsed();
    assert!(matches!(e, StoreError::Busy), "{e}");
    assert_eq!(e.aws_code(), "ConcurrentModification");
    assert!(e.to_string().contains("nothing was changed"), "{e}");
    assert!(
        waited >= Duration::from_millis(4500) && waited < Duration::from_millis(6900),
        "{waited:?}"
    );
    h.join().unwrap();
    // Nothing half-done: the failed write left no trace.
    assert!(s.find_user(&user("impatient")).unwrap().is_none());
    assert_eq!(s.list_users(None).unwrap().len(), 3);
}
