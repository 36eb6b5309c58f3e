//! Faults and load against the built `iamctl` and `libpam_iam.so`:
//! kill -9 at random points during writes and authentications, a full disk,
//! a read-only store, and many authentications in parallel processes.
//!
//! As root (skipped with a notice otherwise, failed under `CI=true`). The
//! default sizes keep the whole file under two minutes; `IAM_FAULTS_FULL=1`
//! runs the sizes of issue 8 (200 parallel authentications, 50 at a time).
//! Randomness comes from a seed printed by each test (`IAM_FAULTS_SEED=N`
//! replays it).
//!
//! Test code: a failed step should stop the test loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use e2e::{Host, PamService, artifact, oathtool, require_root, unique, wait_for_fresh_step};

const AUTH_ONLY: &str = "auth required @MODULE@\naccount required @MODULE@\n";

fn full() -> bool {
    std::env::var("IAM_FAULTS_FULL").is_ok_and(|v| v == "1")
}

/// xorshift64*: enough to spread kill points; the seed is printed.
struct Rng(u64);

impl Rng {
    fn new(test: &str) -> Self {
        let seed = std::env::var("IAM_FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                t.as_nanos() as u64 ^ u64::from(std::process::id())
            });
        let _ = writeln!(std::io::stderr(), "{test}: IAM_FAULTS_SEED={seed}");
        Self(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// `sqlite3 DB SQL`, trimmed stdout.
fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .args(["-cmd", ".timeout 5000"])
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 (apt install sqlite3)");
    assert!(
        out.status.success(),
        "sqlite3 {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn assert_intact(db: &Path) {
    assert_eq!(
        sqlite(db, "PRAGMA integrity_check"),
        "ok",
        "integrity_check"
    );
    assert_eq!(
        sqlite(db, "PRAGMA foreign_key_check"),
        "",
        "foreign_key_check"
    );
}

fn iam_users(host: &Host) -> Vec<String> {
    let listed = host.iamctl(&["list-users"]);
    listed["Users"]
        .as_array()
        .expect("Users")
        .iter()
        .map(|u| u["UserName"].as_str().unwrap().to_owned())
        .collect()
}

/// extrausers files are replaced atomically: every line whole.
fn assert_extrausers_whole(host: &Host) {
    for (file, fields) in [("passwd", 7), ("group", 4)] {
        let text = fs::read_to_string(host.path().join("extrausers").join(file)).unwrap();
        for line in text.lines() {
            assert_eq!(
                line.split(':').count(),
                fields,
                "{file}: torn line {line:?}"
            );
        }
    }
}

/// Kills the process group `pgid` with SIGKILL.
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status();
}

/// A shell loop that echoes each finished step; killed -9 (the whole
/// process group) after `delay`. Returns the lines it printed before.
fn run_and_kill(script: &str, delay: Duration) -> Vec<String> {
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("sh");
    let pgid = child.id();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    std::thread::sleep(delay);
    kill_group(pgid);
    let _ = child.wait();
    // Every process of the group gone (their locks released) before the
    // store is inspected.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        assert!(
            Instant::now() < deadline,
            "process group {pgid} survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    reader.join().unwrap()
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn kill9_during_iamctl_writes_loses_no_committed_change() {
    if !require_root("kill9_during_iamctl_writes_loses_no_committed_change") {
        return;
    }
    let mut rng = Rng::new("kill9_during_iamctl_writes");
    let host = Host::new("");
    let db = host.path().join("iam.db");
    let iamctl = format!(
        "{} --config {}",
        sh_quote(&artifact("iamctl").display().to_string()),
        sh_quote(&host.config.display().to_string())
    );
    // The harness host has 100 uids: at most 6 users a round.
    let rounds = if full() { 16 } else { 12 };
    let mut committed: Vec<String> = Vec::new();
    for round in 0..rounds {
        // Each round: users created, tagged, grouped and given a password,
        // each step echoed once iamctl has exited 0 (committed).
        let script = format!(
            "for i in 1 2 3 4 5 6; do u=k{round}x$i; \
             {iamctl} create-user --user-name $u >/dev/null && echo user:$u && \
             {iamctl} tag-user --user-name $u --tags Key=team,Value=t$i >/dev/null && \
             echo tag:$u && printf 'Pw-%s-Secret1\\n' $u | \
             {iamctl} create-login-profile --user-name $u >/dev/null && echo profile:$u; done"
        );
        let delay = Duration::from_millis(20 + rng.below(400));
        let done = run_and_kill(&script, delay);
        assert_intact(&db);
        let users = iam_users(&host);
        for line in &done {
            let (what, user) = line.split_once(':').unwrap();
            match what {
                "user" => committed.push(user.to_owned()),
                "tag" => {
                    let tags = host.iamctl(&["list-user-tags", "--user-name", user]);
                    assert_eq!(tags["Tags"][0]["Key"], "team", "tag of {user} lost");
                }
                _ => {
                    host.iamctl(&["get-login-profile", "--user-name", user]);
                }
            }
        }
        for user in &committed {
            assert!(users.contains(user), "committed user {user} lost");
        }
        assert_extrausers_whole(&host);
    }
    // The store still takes writes.
    host.iamctl(&["create-user", "--user-name", "after-the-storm"]);
    assert_intact(&db);
    // No change committed without its audit event: each is queued in the
    // change's transaction, and any call delivers what a killed one left.
    let events = host.audit_events();
    let recorded = |name: &str, user: &str| {
        events
            .iter()
            .any(|e| e["eventName"] == name && e["requestParameters"]["userName"] == user)
    };
    for user in iam_users(&host) {
        assert!(
            recorded("CreateUser", &user),
            "{user} has no CreateUser event"
        );
        let tags = host.iamctl(&["list-user-tags", "--user-name", &user]);
        if tags["Tags"].as_array().is_some_and(|t| !t.is_empty()) {
            assert!(recorded("TagUser", &user), "{user} has no TagUser event");
        }
    }
    let queued = sqlite(&db, "SELECT count(*) FROM outbox");
    assert_eq!(queued, "0", "events left undelivered");
}

#[test]
fn kill9_during_pam_authentications_keeps_the_store_whole() {
    if !require_root("kill9_during_pam_authentications_keeps_the_store_whole") {
        return;
    }
    let mut rng = Rng::new("kill9_during_pam_authentications");
    let host = Host::new("[lockout]\ndeny = 1000\n");
    let db = host.path().join("iam.db");
    let user = unique("kp");
    let password = format!("pw-{user}-Secret1");
    host.add_user(&user, Some(&password));
    host.allow_login(&user);
    let service = host.service(AUTH_ONLY);
    let rounds = if full() { 40 } else { 10 };
    let count_failures = || -> usize {
        sqlite(
            &db,
            &format!("SELECT count(*) FROM login_failures WHERE user_name = '{user}'"),
        )
        .parse()
        .unwrap()
    };
    // The store keeps at most this many failures per user (store::login).
    const KEPT: usize = 64;
    let mut baseline = 0;
    for _ in 0..rounds {
        // Attempts echo "ok" or "fail" once pamtester has exited: the
        // store writes of those attempts are committed.
        let right: Vec<bool> = (0..8).map(|_| rng.below(2) == 0).collect();
        let mut script = String::new();
        for &r in &right {
            let answer = if r { password.as_str() } else { "wrong" };
            script.push_str(&format!(
                "if echo {} | pamtester {} {} authenticate >/dev/null 2>&1; \
                 then echo ok; else echo fail; fi; ",
                sh_quote(answer),
                service.name,
                user
            ));
        }
        let done = run_and_kill(&script, Duration::from_millis(30 + rng.below(600)));
        assert_intact(&db);
        // Replay the completed attempts on the count the store had: a
        // success resets it, a failure adds one.
        let mut expected = baseline;
        for (line, &r) in done.iter().zip(&right) {
            assert_eq!(
                line == "ok",
                r,
                "attempt outcome {line} (right password: {r})"
            );
            expected = if r { 0 } else { (expected + 1).min(KEPT) };
        }
        let counted = count_failures();
        // The attempt killed in flight may have committed, or not.
        let allowed = match right.get(done.len()) {
            None => vec![expected],
            Some(true) => vec![expected, 0],
            Some(false) => vec![expected, (expected + 1).min(KEPT)],
        };
        assert!(
            allowed.contains(&counted),
            "failure count {counted}, expected one of {allowed:?} after {done:?}"
        );
        if done.iter().any(|l| l == "ok") {
            let records: usize = sqlite(
                &db,
                &format!("SELECT count(*) FROM auth_records WHERE user_name = '{user}'"),
            )
            .parse()
            .unwrap();
            assert!(records >= 1, "the completed success left no auth record");
        }
        baseline = counted;
    }
    // Logins still work on the store afterwards.
    let r = e2e::pamtester(&service, &user, None, &["authenticate"], &[&password]);
    assert!(r.success, "{r:?}");
}

/// Runs `argv` in a private mount namespace where /dev/log is a datagram
/// socket of ours (this machine has no syslog daemon), and `read_only`
/// (if any) is a read-only bind mount. Returns the output and the syslog
/// lines the command sent.
fn in_namespace(argv: &[&str], stdin: &str, read_only: Option<&Path>) -> (Output, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let old_dev = dir.path().join("olddev");
    fs::create_dir(&old_dev).unwrap();
    let mut script = format!(
        "set -e; mount --rbind /dev {old}; mount -t tmpfs -o mode=755 devtmp /dev; \
         for n in null zero full random urandom tty; do touch /dev/$n; \
         mount --bind {old}/$n /dev/$n; done; \
         touch /dev/log; mount --bind {sock} /dev/log; ",
        old = sh_quote(&old_dev.display().to_string()),
        sock = sh_quote(&sock_path.display().to_string()),
    );
    if let Some(ro) = read_only {
        let ro = sh_quote(&ro.display().to_string());
        script.push_str(&format!(
            "mount --bind {ro} {ro}; mount -o remount,bind,ro {ro}; "
        ));
    }
    script.push_str("exec \"$@\"");
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .args(argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("unshare");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).ok();
    let out = child.wait_with_output().unwrap();
    let mut lines = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    (out, lines)
}

/// A host whose config, store and audit log live in `dir` (a small tmpfs).
fn host_in(dir: &Path) -> PathBuf {
    let config = dir.join("iam.toml");
    fs::write(
        &config,
        format!(
            "account_id = \"123456789012\"\nhostname = \"e2e-host\"\n\
             database = \"{d}/iam.db\"\naudit_log = \"{d}/audit.log\"\n\
             [accounts]\nextrausers_dir = \"{d}/extrausers\"\nhome = \"{d}/home/%u\"\n\
             uid_range = [3000000, 3000999]\n",
            d = dir.display()
        ),
    )
    .unwrap();
    fs::create_dir_all(dir.join("extrausers")).unwrap();
    config
}

fn iamctl_at(config: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(artifact("iamctl"))
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).ok();
    child.wait_with_output().unwrap()
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tmpfs mounted on a temp dir, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn new(size: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pam_iam-full-")
            .tempdir()
            .unwrap();
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=700"),
                "iamfull",
            ])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes zeros until the file system says ENOSPC.
    fn fill(&self) {
        let mut f = fs::File::create(self.path().join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            match f.write(&block) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = f.sync_all();
        // Fill the last partial block too.
        let mut small = fs::File::create(self.path().join("filler2")).unwrap();
        while small.write(&[0u8; 512]).is_ok_and(|n| n > 0) {}
    }

    fn free(&self) {
        let _ = fs::remove_file(self.path().join("filler"));
        let _ = fs::remove_file(self.path().join("filler2"));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn disk_full_fails_closed_and_corrupts_nothing() {
    if !require_root("disk_full_fails_closed_and_corrupts_nothing") {
        return;
    }
    let disk = SmallDisk::new("4m");
    let config = host_in(disk.path());
    let db = disk.path().join("iam.db");
    ok(&iamctl_at(&config, &["init"], ""), "init");
    ok(
        &iamctl_at(&config, &["create-user", "--user-name", "dora"], ""),
        "create-user",
    );
    ok(
        &iamctl_at(
            &config,
            &["create-login-profile", "--user-name", "dora"],
            "Dora-Secret-1\n",
        ),
        "create-login-profile",
    );
    let policy = disk.path().join("login.json");
    fs::write(&policy, e2e::ALLOW_LOGIN).unwrap();
    let uri = format!("file://{}", policy.display());
    ok(
        &iamctl_at(
            &config,
            &[
                "put-user-policy",
                "--user-name",
                "dora",
                "--policy-name",
                "Login",
                "--policy-document",
                &uri,
            ],
            "",
        ),
        "put-user-policy",
    );
    let service = PamService::new(&config, AUTH_ONLY);
    let r = e2e::pamtester(
        &service,
        "dora",
        None,
        &["authenticate"],
        &["Dora-Secret-1"],
    );
    assert!(r.success, "before the disk fills: {r:?}");
    // An empty WAL: any write now needs new space.
    sqlite(&db, "PRAGMA wal_checkpoint(TRUNCATE)");
    disk.fill();

    let (out, syslog) = in_namespace(
        &["pamtester", &service.name, "dora", "authenticate"],
        "Dora-Secret-1\n",
        None,
    );
    assert!(!out.status.success(), "a login on a full disk succeeded");
    let _ = writeln!(std::io::stderr(), "disk full, pam_iam syslog: {syslog:?}");
    assert!(
        syslog
            .iter()
            .any(|l| l.contains("pam_iam") && l.contains("file system") && l.contains("full?")),
        "no clear log line: {syslog:?}"
    );

    let out = iamctl_at(&config, &["create-user", "--user-name", "eve"], "");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = writeln!(std::io::stderr(), "disk full, iamctl: {stderr}");
    assert!(
        !out.status.success(),
        "create-user on a full disk succeeded"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one error line: {stderr}");
    assert!(stderr.contains("full?"), "the error says why: {stderr}");

    disk.free();
    assert_intact(&db);
    let listed = iamctl_at(&config, &["list-users"], "");
    ok(&listed, "list-users");
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains("dora") && !text.contains("\"eve\""), "{text}");
    let r = e2e::pamtester(
        &service,
        "dora",
        None,
        &["authenticate"],
        &["Dora-Secret-1"],
    );
    assert!(r.success, "after space is freed: {r:?}");
}

#[test]
fn read_only_store_fails_closed_and_corrupts_nothing() {
    if !require_root("read_only_store_fails_closed_and_corrupts_nothing") {
        return;
    }
    let host = Host::new("");
    let user = unique("ro");
    let password = format!("pw-{user}-Secret1");
    host.add_user(&user, Some(&password));
    host.allow_login(&user);
    let service = host.service(AUTH_ONLY);
    let db = host.path().join("iam.db");
    sqlite(&db, "PRAGMA wal_checkpoint(TRUNCATE)");
    let before = sqlite(&db, "SELECT count(*) FROM users");

    let (out, syslog) = in_namespace(
        &["pamtester", &service.name, &user, "authenticate"],
        &format!("{password}\n"),
        Some(host.path()),
    );
    let _ = writeln!(std::io::stderr(), "read-only, pam_iam syslog: {syslog:?}");
    assert!(
        !out.status.success(),
        "a login on a read-only store succeeded"
    );
    assert!(
        syslog
            .iter()
            .any(|l| l.contains("pam_iam") && l.contains("Read-only file system")),
        "no clear log line: {syslog:?}"
    );

    let iamctl = artifact("iamctl").display().to_string();
    let config = host.config.display().to_string();
    let (out, _) = in_namespace(
        &[
            &iamctl,
            "--config",
            &config,
            "create-user",
            "--user-name",
            "nope",
        ],
        "",
        Some(host.path()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = writeln!(std::io::stderr(), "read-only, iamctl: {stderr}");
    assert!(
        !out.status.success(),
        "create-user on a read-only store succeeded"
    );
    assert!(
        stderr.contains("Read-only file system"),
        "the error says why: {stderr}"
    );

    assert_intact(&db);
    assert_eq!(sqlite(&db, "SELECT count(*) FROM users"), before);
    let r = e2e::pamtester(&service, &user, None, &["authenticate"], &[&password]);
    assert!(r.success, "writable again: {r:?}");
}

/// One authentication in the parallel run.
#[derive(Clone)]
struct Attempt {
    user: String,
    answers: Vec<String>,
    kind: &'static str,
}

#[test]
fn parallel_authentications_one_store() {
    if !require_root("parallel_authentications_one_store") {
        return;
    }
    let (total, at_once) = if full() { (200, 50) } else { (60, 20) };
    let host = Host::new("[lockout]\ndeny = 1000\n");
    let service = host.service(AUTH_ONLY);
    let db = host.path().join("iam.db");
    let mfa_users: Vec<String> = (0..4).map(|_| unique("pm")).collect();
    let pw_users: Vec<String> = (0..4).map(|_| unique("pp")).collect();
    let guesser = unique("pg");
    let mut seeds = BTreeMap::new();
    for u in mfa_users.iter().chain(&pw_users).chain([&guesser]) {
        host.add_user(u, Some(&format!("pw-{u}-Secret1")));
        host.allow_login(u);
    }
    for u in &mfa_users {
        seeds.insert(u.clone(), host.add_mfa(u));
    }
    // All of it must happen within one TOTP step.
    wait_for_fresh_step(25);
    let mut attempts = Vec::new();
    for i in 0..total {
        let a = match i % 10 {
            0 | 1 => {
                // Several processes share each MFA user's current code.
                let u = &mfa_users[i % mfa_users.len()];
                Attempt {
                    user: u.clone(),
                    answers: vec![format!("pw-{u}-Secret1"), oathtool(&seeds[u], 0)],
                    kind: "shared-code",
                }
            }
            2..=6 => {
                let u = &pw_users[i % pw_users.len()];
                Attempt {
                    user: u.clone(),
                    answers: vec![format!("pw-{u}-Secret1")],
                    kind: "password",
                }
            }
            _ => Attempt {
                user: guesser.clone(),
                answers: vec![format!("guess-{i}")],
                kind: "guess",
            },
        };
        attempts.push(a);
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(Attempt, e2e::PamResult)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..at_once {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(a) = attempts.get(i) else { break };
                    let answers: Vec<&str> = a.answers.iter().map(String::as_str).collect();
                    let r = e2e::pamtester(&service, &a.user, None, &["authenticate"], &answers);
                    results.lock().unwrap().push((a.clone(), r));
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let results = results.into_inner().unwrap();
    let _ = writeln!(
        std::io::stderr(),
        "{total} authentications, {at_once} at a time: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(30), "outlived the TOTP step");
    for (a, r) in &results {
        assert!(
            !r.stderr.to_lowercase().contains("busy") && !r.stderr.contains("locked"),
            "{r:?}"
        );
        match a.kind {
            "password" => assert!(r.success, "{} with the right password: {r:?}", a.user),
            "guess" => assert!(!r.success),
            _ => {}
        }
    }
    for u in &mfa_users {
        let wins = results
            .iter()
            .filter(|(a, r)| &a.user == u && r.success)
            .count();
        assert_eq!(wins, 1, "{u}: one acceptance per TOTP step");
    }
    let guesses = results.iter().filter(|(a, _)| a.kind == "guess").count();
    let counted = sqlite(
        &db,
        &format!("SELECT count(*) FROM login_failures WHERE user_name = '{guesser}'"),
    );
    assert_eq!(counted, guesses.to_string(), "lockout counter exact");
    // Nothing reached the audit log as a store error.
    let audit = fs::read_to_string(host.path().join("audit.log")).unwrap();
    assert!(
        !audit.contains("database is locked"),
        "SQLITE_BUSY surfaced"
    );
    assert_intact(&db);
}
