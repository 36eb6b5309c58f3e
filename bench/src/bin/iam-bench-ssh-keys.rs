//! The key lookup sshd runs per connection for an IAM user, side by side
//! with a plain `AuthorizedKeysFile` lookup of the same key, at 10,000
//! users (issue 15). Not a timed test: it prints one table.
//!
//! `cargo run --release -p iam-bench --bin iam-bench-ssh-keys [USERS]`
//!
//! A temporary store gets USERS (default 10,000) IAM users with one
//! Ed25519 key each, written through `iam::store::Store` in one
//! transaction, and published with `iam::publish::ssh_keys` (what iamctl
//! does after every change) into `DIR/%U` (by uid). The baseline is what sshd reads
//! without IAM: the same line in each user's own
//! `HOME/.ssh/authorized_keys`. Per connection, sshd opens the file its
//! `AuthorizedKeysFile` names for the user and looks for the offered key
//! among its lines; both lookups are timed here the same way, interleaved,
//! for random users. What pam_iam adds to a key login is timed beside it:
//! opening the store (file trust walk included) and finding the key among
//! the user's keys (`Directory::find_ssh_public_key`, in `open_session`).
//! Last, what iamctl's republishing costs at this size: after a key verb
//! (one user's file) and after a change to users (every file compared).

// Bench harness: a failed setup step should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::Utc;
use iam::directory::Directory;
use iam::local_accounts::LocalAccounts;
use iam::names::{AccountId, UniqueIdKind, UserName, new_unique_id};
use iam::publish::ssh_keys::{Compare, sync_ssh_keys, sync_user_ssh_keys};
use iam::store::{AccessKeyStatus, Limits, NewSshPublicKey, NewUser, Store};

fn main() {
    let users: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("USERS: a number"))
        .unwrap_or(10_000);
    let dir = tempfile::Builder::new()
        .prefix("iam-bench-ssh-")
        .tempdir()
        .expect("temp dir");
    // The store's trust rule wants a private, root-owned path.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
    let db = dir.path().join("iam.db");
    let mut store =
        Store::create(&db, &AccountId::parse("123456789012").unwrap()).expect("a store");
    store.set_limits(Limits {
        uid_range: (1_000_000, 1_999_999),
        ..store.limits()
    });
    let published = dir.path().join("authorized_keys");
    let homes = dir.path().join("home");
    fs::create_dir_all(&published).unwrap();
    let now = Utc::now();
    let started = Instant::now();
    let mut lines = Vec::with_capacity(users);
    store
        .atomically(|s| {
            for i in 0..users {
                let name = UserName::parse(&format!("ssh{i:06}")).unwrap();
                let uid = s.create_user(&NewUser::new(name.clone()), now)?.uid;
                let body = ed25519_line(i);
                let id = new_unique_id(UniqueIdKind::SshPublicKey).unwrap();
                let key = NewSshPublicKey {
                    body: body.clone(),
                    fingerprint: format!("{i:032x}"),
                };
                s.upload_ssh_public_key(&name, &id, &key, now)?;
                lines.push((name, body, uid));
            }
            Ok(())
        })
        .expect("seed users and keys");
    let seeded = started.elapsed();
    let local = LocalAccounts::default();
    let started = Instant::now();
    sync_ssh_keys(&store, &local, &published, Compare::Contents).expect("publish");
    let first_publish = started.elapsed();
    for (name, body, _) in &lines {
        let ssh = homes.join(name.as_str()).join(".ssh");
        fs::create_dir_all(&ssh).unwrap();
        fs::write(ssh.join("authorized_keys"), format!("{body} laptop\n")).unwrap();
    }

    // Per connection, interleaved: the projection, then the user's own file.
    let rounds = 20_000;
    let mut ours = Vec::with_capacity(rounds);
    let mut plain = Vec::with_capacity(rounds);
    let mut pick = Lcg(0x5eed);
    for _ in 0..rounds {
        let (name, body, uid) = &lines[pick.next(lines.len())];
        let offered = body.split(' ').nth(1).unwrap();
        let t = Instant::now();
        assert!(sshd_lookup(&published.join(uid.to_string()), offered));
        ours.push(t.elapsed());
        let t = Instant::now();
        let own = homes.join(name.as_str()).join(".ssh/authorized_keys");
        assert!(sshd_lookup(&own, offered));
        plain.push(t.elapsed());
    }

    // What pam_iam adds: its store, and the key among the user's keys.
    let mut open = Vec::new();
    let mut find = Vec::new();
    for _ in 0..200 {
        let (name, body, _) = &lines[pick.next(lines.len())];
        let t = Instant::now();
        let s = Store::open(&db).expect("open");
        open.push(t.elapsed());
        let t = Instant::now();
        let key = Directory::find_ssh_public_key(&s, name, body).expect("find");
        find.push(t.elapsed());
        assert!(key.is_some_and(|k| k.status == AccessKeyStatus::Active));
    }

    // Republishing after one change (iamctl does it after every change).
    // Republishing: after a change to one user's keys (the key verbs), and
    // after a change to users (every file compared).
    let mut one_user = Vec::new();
    let mut by_name = Vec::new();
    let mut by_content = Vec::new();
    for _ in 0..5 {
        let (name, _, _) = &lines[pick.next(lines.len())];
        let id = store.list_ssh_public_keys(name).unwrap()[0].id.clone();
        store
            .update_ssh_public_key(name, &id, AccessKeyStatus::Inactive)
            .unwrap();
        let t = Instant::now();
        let report = sync_user_ssh_keys(&store, &local, &published, name).expect("republish");
        one_user.push(t.elapsed());
        assert_eq!(report.removed, 1, "{report:?}");
        store
            .update_ssh_public_key(name, &id, AccessKeyStatus::Active)
            .unwrap();
        let t = Instant::now();
        let report = sync_ssh_keys(&store, &local, &published, Compare::Names).expect("republish");
        by_name.push(t.elapsed());
        assert_eq!(report.written, 1, "{report:?}");
        let t = Instant::now();
        let report =
            sync_ssh_keys(&store, &local, &published, Compare::Contents).expect("republish");
        by_content.push(t.elapsed());
        assert_eq!(report.written, 0, "{report:?}");
    }

    // What both republishing forms start with (extrausers reads the same).
    let mut read = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        drop(Directory::published(&store).expect("published"));
        read.push(t.elapsed());
    }

    println!("## sshd key lookup per connection, {users} IAM users (issue 15)\n");
    println!(
        "setup: {users} users + keys in one transaction {:.1} s; first publish {:.0} ms\n",
        seeded.as_secs_f64(),
        ms(first_publish)
    );
    println!("| measurement | pam_iam | baseline | ratio / note |");
    println!("|---|---|---|---|");
    println!(
        "| sshd's AuthorizedKeysFile lookup (open DIR/%U, find the key; n={rounds}, interleaved) | {} | ~/.ssh/authorized_keys: {} | {:.2}× |",
        timing(&ours),
        timing(&plain),
        median(&ours).as_secs_f64() / median(&plain).as_secs_f64()
    );
    println!(
        "| pam_iam's key check at open_session: open the store (trust walk) / find the key (n=200) | {} / {} | — | per key login, besides the lookup |",
        timing(&open),
        timing(&find)
    );
    println!(
        "| iamctl republishing after a key verb (one user's file) | {} | — | upload/update/delete-ssh-public-key |",
        timing(&one_user)
    );
    println!(
        "| iamctl republishing after a user change (which of {users} files exist) | {} | — | create/update/delete-user, groups |",
        timing(&by_name)
    );
    println!(
        "| of which: reading every user (`Directory::published`, as extrausers' render does) | {} | — | |",
        timing(&read)
    );
    println!(
        "| full republish, every file's content compared ({users} files) | {} | — | setup-host --ssh |",
        timing(&by_content)
    );
}

/// What sshd does with an AuthorizedKeysFile for one offered key: open the
/// file, read it, and compare each key line's data with the key offered.
fn sshd_lookup(path: &Path, offered: &str) -> bool {
    let Ok(text) = fs::read_to_string(path) else {
        return false;
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l.split_ascii_whitespace().nth(1) == Some(offered))
}

/// An Ed25519 public key line whose 32 key bytes are unique to `i`.
fn ed25519_line(i: usize) -> String {
    let mut blob = Vec::with_capacity(51);
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    let mut key = [0x5au8; 32];
    key[..8].copy_from_slice(&(i as u64).to_be_bytes());
    blob.extend_from_slice(&key);
    format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(&blob)
    )
}

/// A small deterministic generator for picking users.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize % n
    }
}

fn median(runs: &[Duration]) -> Duration {
    let mut v = runs.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn timing(runs: &[Duration]) -> String {
    let mut v = runs.to_vec();
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize];
    format!(
        "{} (p10 {}, p90 {})",
        fmt(median(&v)),
        fmt(at(0.1)),
        fmt(at(0.9))
    )
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", ms(d))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
