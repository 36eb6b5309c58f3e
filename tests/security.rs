//! The attackers of docs/SECURITY.md against the built `libpam_iam.so`
//! (pamtester) and a setuid-root copy of the built `iamctl`: a remote
//! password guesser, a holder of a stolen code, a local unprivileged user,
//! a malicious policy author. Each test is named in the threat model.
//!
//! As root (skipped with a notice otherwise, failed under `CI=true`).
//!
//! Test code: a failed step should stop the test loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use e2e::{Host, artifact, oathtool, pamtester, require_root, unique, wait_for_fresh_step};

const AUTH_ONLY: &str = "auth required @MODULE@\naccount required @MODULE@\n";

fn run(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).ok();
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---- remote password guesser ------------------------------------------

#[test]
fn guesser_is_locked_out_after_deny_failures() {
    if !require_root("guesser_is_locked_out_after_deny_failures") {
        return;
    }
    let host = Host::new("[lockout]\ndeny = 3\nfail_interval = \"15m\"\nunlock_time = \"15m\"\n");
    let service = host.service(AUTH_ONLY);
    let user = unique("bf");
    let password = format!("pw-{user}-Secret1");
    host.add_user(&user, Some(&password));
    host.allow_login(&user);
    let auth = |answer: &str| {
        pamtester(
            &service,
            &user,
            Some("203.0.113.7"),
            &["authenticate"],
            &[answer],
        )
    };
    // deny - 1 failures, then the owner logs in: the counter resets.
    assert!(!auth("guess-1").success);
    assert!(!auth("guess-2").success);
    assert!(auth(&password).success, "locked before deny failures");
    // deny failures lock: now even the right password is refused.
    for i in 0..3 {
        assert!(!auth(&format!("guess-{i}")).success);
    }
    let r = auth(&password);
    assert!(!r.success, "right password accepted while locked: {r:?}");
    let last = host.events_for(&user, "Login").pop().unwrap();
    assert!(
        last["errorMessage"].as_str().unwrap().contains("locked"),
        "{last}"
    );
    // The guesser was told nothing more than any failure says.
    assert!(r.stdout.matches("Access denied").count() <= 1);
    // Only the admin lifts it.
    host.iamctl(&["unlock-user", "--user-name", &user]);
    assert!(auth(&password).success, "unlock-user");
}

// ---- holder of a stolen code --------------------------------------------

#[test]
fn stolen_code_is_refused_replayed_or_without_the_password() {
    if !require_root("stolen_code_is_refused_replayed_or_without_the_password") {
        return;
    }
    wait_for_fresh_step(8);
    let host = Host::new("");
    let user = unique("sc");
    let password = format!("pw-{user}-Secret1");
    host.add_user(&user, Some(&password));
    host.allow_login(&user);
    let seed = host.add_mfa(&user);
    // Two services (say sshd and login) sharing one store.
    let ssh = host.service(AUTH_ONLY);
    let console = host.service(AUTH_ONLY);
    let code = oathtool(&seed, 0);
    // The code alone, with a guessed password: refused.
    let r = pamtester(
        &ssh,
        &user,
        Some("203.0.113.7"),
        &["authenticate"],
        &["guess", &code],
    );
    assert!(!r.success);
    // The owner uses it; the thief replays it on another service: refused.
    let r = pamtester(
        &ssh,
        &user,
        Some("192.0.2.1"),
        &["authenticate"],
        &[&password, &code],
    );
    assert!(r.success, "owner: {r:?}");
    let r = pamtester(
        &console,
        &user,
        None,
        &["authenticate"],
        &[&password, &code],
    );
    assert!(!r.success, "replayed code accepted");
    let last = host.events_for(&user, "Login").pop().unwrap();
    let reason = last["errorMessage"].as_str().unwrap().to_lowercase();
    assert!(
        reason.contains("replay") || reason.contains("already"),
        "{last}"
    );
    // An older code (the step before) is refused too, once a newer was used.
    let older = oathtool(&seed, -1);
    let r = pamtester(
        &console,
        &user,
        None,
        &["authenticate"],
        &[&password, &older],
    );
    assert!(!r.success, "older code accepted after a newer one");
}

// ---- secrets at rest ------------------------------------------------------

#[test]
fn secrets_are_never_world_readable() {
    if !require_root("secrets_are_never_world_readable") {
        return;
    }
    wait_for_fresh_step(5);
    let host = Host::new("");
    let user = unique("sr");
    let password = format!("pw-{user}-Secret1");
    host.add_user(&user, Some(&password));
    host.allow_login(&user);
    let seed = host.add_mfa(&user);
    let service = host.service(AUTH_ONLY);
    let r = pamtester(
        &service,
        &user,
        None,
        &["authenticate"],
        &[&password, &oathtool(&seed, 0)],
    );
    assert!(r.success, "{r:?}");
    for name in ["iam.db", "iam.db-wal", "iam.db-shm", "audit.log"] {
        let path = host.path().join(name);
        if let Ok(meta) = fs::metadata(&path) {
            assert_eq!(
                meta.mode() & 0o077,
                0,
                "{name} mode {:o}",
                meta.mode() & 0o777
            );
            assert_eq!(meta.uid(), 0, "{name} owner");
        } else {
            assert!(
                name.ends_with("-wal") || name.ends_with("-shm"),
                "{name} missing"
            );
        }
    }
    // The published account files are world-readable and hold no secret.
    let store = fs::read(host.path().join("iam.db")).unwrap();
    assert!(
        String::from_utf8_lossy(&store).contains("$argon2id$"),
        "the check below would prove nothing"
    );
    for file in ["passwd", "group"] {
        let path = host.path().join("extrausers").join(file);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(&user), "{file} publishes {user}");
        assert!(!text.contains("$argon2"), "{file} holds a password hash");
        assert!(!text.contains(&seed), "{file} holds the TOTP seed");
        assert!(!text.contains(&password), "{file} holds the password");
        for line in text.lines() {
            assert_eq!(line.split(':').nth(1), Some("x"), "{file}: {line}");
        }
    }
    // Nor does the audit log.
    let audit = fs::read_to_string(host.path().join("audit.log")).unwrap();
    assert!(!audit.contains(&password) && !audit.contains(&seed) && !audit.contains("$argon2"));
}

// ---- local unprivileged user vs setuid iamctl ----------------------------

/// A Linux account for the test, removed again on drop.
struct LinuxUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl LinuxUser {
    fn create(name: &str) -> Self {
        let st = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", name])
            .status()
            .unwrap();
        assert!(st.success(), "useradd {name}");
        let u = nix::unistd::User::from_name(name).unwrap().unwrap();
        Self {
            name: name.to_owned(),
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
        }
    }

    /// `argv` as this user (setpriv), outside any namespace.
    fn run(&self, argv: &[&str], stdin: &str) -> Output {
        run(
            Command::new("setpriv")
                .arg(format!("--reuid={}", self.uid))
                .arg(format!("--regid={}", self.gid))
                .arg("--clear-groups")
                .args(argv),
            stdin,
        )
    }
}

impl Drop for LinuxUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

/// A setuid-root copy of the built iamctl (4755) and a config directory
/// that stands in for /etc/iam inside a private mount namespace.
struct Setuid {
    _root: tempfile::TempDir,
    etc: PathBuf,
    bin: PathBuf,
}

impl Setuid {
    fn new() -> Self {
        fs::create_dir_all("/etc/iam").unwrap();
        let root = tempfile::Builder::new()
            .prefix("iam-sec-")
            .tempdir_in("/tmp")
            .unwrap();
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let etc = root.path().join("etc-iam");
        let bin = root.path().join("iamctl");
        fs::copy(artifact("iamctl"), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o4755)).unwrap();
        let s = Self {
            _root: root,
            etc,
            bin,
        };
        s.admin(&["init", "--account-id", "123456789012"], "");
        s
    }

    fn admin(&self, args: &[&str], stdin: &str) -> String {
        let out = run(
            Command::new(artifact("iamctl"))
                .arg("--config")
                .arg(self.etc.join("iam.toml"))
                .args(args),
            stdin,
        );
        assert!(
            out.status.success(),
            "root iamctl {args:?}: {}",
            stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The setuid copy as `user`, with /etc/iam = our config dir.
    fn as_user(&self, user: &LinuxUser, args: &[&str], stdin: &str) -> Output {
        let mut line = format!(
            "mount --bind {} /etc/iam && exec setpriv --reuid={} --regid={} --clear-groups {}",
            self.etc.display(),
            user.uid,
            user.gid,
            self.bin.display()
        );
        for a in args {
            line.push_str(&format!(" '{}'", a.replace('\'', "'\\''")));
        }
        run(
            Command::new("unshare").args(["-m", "sh", "-c", &line]),
            stdin,
        )
    }
}

fn access_denied(out: &Output) -> bool {
    !out.status.success() && stderr(out).starts_with("AccessDenied: ")
}

#[test]
fn unprivileged_user_cannot_read_the_store_or_change_another_user() {
    if !require_root("unprivileged_user_cannot_read_the_store_or_change_another_user") {
        return;
    }
    let s = Setuid::new();
    let mallory = LinuxUser::create(&format!("iamsec{}", std::process::id() % 100_000));
    // mallory is an IAM user without any policy; alice is another user.
    s.admin(&["create-user", "--user-name", &mallory.name], "");
    s.admin(&["create-user", "--user-name", "alice"], "");
    s.admin(
        &["create-login-profile", "--user-name", "alice"],
        "Alice-Secret-1\n",
    );
    let db = s.etc.join("iam.db");

    // The store file itself: not readable, not writable.
    let db_path = db.display().to_string();
    assert!(!mallory.run(&["cat", &db_path], "").status.success());
    assert!(
        !mallory
            .run(&["sh", "-c", &format!(": >> {db_path}")], "")
            .status
            .success()
    );

    // Through the setuid binary: every verb is authorized by policy.
    for args in [
        vec!["get-user", "--user-name", "alice"],
        vec!["list-users"],
        vec!["get-account-authorization-details"],
        vec!["delete-login-profile", "--user-name", "alice"],
        vec![
            "tag-user",
            "--user-name",
            "alice",
            "--tags",
            "Key=owned,Value=yes",
        ],
        vec![
            "attach-user-policy",
            "--user-name",
            &mallory.name,
            "--policy-arn",
            "arn:aws:iam::aws:policy/AdministratorAccess",
        ],
        vec!["unlock-user", "--user-name", "alice"],
    ] {
        let out = s.as_user(&mallory, &args, "");
        assert!(access_denied(&out), "{args:?}: {}", stderr(&out));
    }
    let out = s.as_user(
        &mallory,
        &["update-login-profile", "--user-name", "alice"],
        "Mallory-Owns-1\n",
    );
    assert!(access_denied(&out), "{}", stderr(&out));

    // --config is ignored for a non-root caller: a config of mallory's
    // own (a store she created, where she would be root) is not used.
    let evil = tempfile::tempdir().unwrap();
    fs::set_permissions(evil.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let evil_config = evil.path().join("iam.toml");
    fs::write(
        &evil_config,
        "account_id = \"123456789012\"\ndatabase = \"iam.db\"\naudit_log = \"audit.log\"\n",
    )
    .unwrap();
    nix::unistd::chown(
        &evil_config,
        Some(mallory.uid.into()),
        Some(mallory.gid.into()),
    )
    .unwrap();
    let out = s.as_user(
        &mallory,
        &[
            "--config",
            &evil_config.display().to_string(),
            "delete-user",
            "--user-name",
            "alice",
        ],
        "",
    );
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(
        !evil.path().join("iam.db").exists(),
        "the caller's config was used"
    );

    // Nothing changed for alice.
    let got = s.admin(&["get-login-profile", "--user-name", "alice"], "");
    assert!(got.contains("alice"));
    let tags = s.admin(&["list-user-tags", "--user-name", "alice"], "");
    assert!(!tags.contains("owned"), "{tags}");
    // The caller can still do what policy lets everyone do.
    let me = s.as_user(&mallory, &["get-caller-identity"], "");
    assert!(me.status.success(), "{}", stderr(&me));
}

#[test]
fn audit_log_cannot_be_forged_or_truncated_by_a_non_root_user() {
    if !require_root("audit_log_cannot_be_forged_or_truncated_by_a_non_root_user") {
        return;
    }
    let s = Setuid::new();
    let mallory = LinuxUser::create(&format!("iamaud{}", std::process::id() % 100_000));
    s.admin(&["create-user", "--user-name", &mallory.name], "");
    s.admin(&["create-user", "--user-name", "victim"], "");
    let audit = s.etc.join("audit.log");
    let before = fs::read_to_string(&audit).unwrap();
    assert!(!before.is_empty(), "admin calls are audited");
    let meta = fs::metadata(&audit).unwrap();
    assert_eq!(
        meta.mode() & 0o077,
        0,
        "audit log mode {:o}",
        meta.mode() & 0o777
    );
    let path = audit.display().to_string();
    let dir = s.etc.display().to_string();
    for script in [
        format!("echo '{{\"eventName\":\"Forged\"}}' >> {path}"),
        format!(": > {path}"),
        format!("truncate -s 0 {path}"),
        format!("rm -f {path}"),
        format!("mv {path} {dir}/old.log"),
        format!("ln -sf /dev/null {dir}/audit.log"),
        format!("cat {path}"),
    ] {
        let out = mallory.run(&["sh", "-c", &script], "");
        assert!(!out.status.success(), "{script} succeeded");
    }
    // A denied attempt through setuid iamctl is recorded, not lost.
    let out = s.as_user(&mallory, &["delete-user", "--user-name", "victim"], "");
    assert!(access_denied(&out), "{}", stderr(&out));
    let after = fs::read_to_string(&audit).unwrap();
    assert!(after.starts_with(&before), "earlier events were rewritten");
    assert!(!after.contains("Forged"));
    let new: Vec<serde_json::Value> = after[before.len()..]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        new.iter().any(|e| e["errorCode"] == "AccessDenied"
            && e["userIdentity"]["userName"] == mallory.name.as_str()),
        "the denial is not in the audit log: {new:?}"
    );
}

#[test]
fn user_supplied_strings_cannot_inject_audit_lines() {
    if !require_root("user_supplied_strings_cannot_inject_audit_lines") {
        return;
    }
    // A remote client chooses the user name and rhost PAM sees.
    let host = Host::new("[login]\nunknown_user = \"deny\"\n");
    let service = host.service(AUTH_ONLY);
    let before = host.audit_events().len();
    let forged = "x\n{\"eventName\":\"Login\",\"userIdentity\":{\"userName\":\"root\"}}";
    let r = pamtester(
        &service,
        forged,
        Some("1.2.3.4\n{\"forged\":1}"),
        &["authenticate"],
        &["pw"],
    );
    assert!(!r.success);
    let text = fs::read_to_string(host.path().join("audit.log")).unwrap();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).expect("every line is one JSON event");
        assert!(v.get("forged").is_none());
    }
    assert_eq!(host.audit_events().len(), before + 1, "one event, not two");
}

// ---- malicious policy author ----------------------------------------------

#[test]
fn oversized_policies_are_rejected() {
    if !require_root("oversized_policies_are_rejected") {
        return;
    }
    let host = Host::new("");
    host.add_user("author", None);
    let statement = r#"{"Effect":"Allow","Action":"host:Login","Resource":"*","Condition":{"StringLike":{"aws:username":"*a*b*c*d*e*f*"}}}"#;
    let many = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![statement; 10_000].join(",")
    );
    let megabyte = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"*","Resource":"*"}}]}}"#,
        "A".repeat(1 << 20)
    );
    for (what, doc) in [("10,000 statements", &many), ("1 MB", &megabyte)] {
        let file = host.path().join("big.json");
        fs::write(&file, doc).unwrap();
        let uri = format!("file://{}", file.display());
        for args in [
            vec![
                "put-user-policy",
                "--user-name",
                "author",
                "--policy-name",
                "Big",
                "--policy-document",
                &uri,
            ],
            vec![
                "create-policy",
                "--policy-name",
                "Big",
                "--policy-document",
                &uri,
            ],
        ] {
            let out = host.try_iamctl(&args, "");
            let err = stderr(&out);
            assert!(!out.status.success(), "{what} accepted by {}", args[0]);
            assert!(
                err.contains("LimitExceeded") || err.contains("MalformedPolicyDocument"),
                "{what}, {}: {err}",
                args[0]
            );
        }
    }
    let listed = host.iamctl(&["list-user-policies", "--user-name", "author"]);
    assert_eq!(listed["PolicyNames"], serde_json::json!([]));
}

// ---- a caller holding the store's write lock ------------------------------

impl Setuid {
    /// `script` run by `user` (`sh -c`, `$IAMCTL` is the setuid copy) in a
    /// mount namespace with /etc/iam = our config dir, after `root_prefix`
    /// ran as root.
    fn shell_as(&self, user: &LinuxUser, root_prefix: &str, script: &str) -> Command {
        let outer = format!(
            "mount --bind {} /etc/iam || exit 99\n{root_prefix}\nexec setpriv --reuid={} --regid={} --clear-groups sh -c \"$1\"",
            self.etc.display(),
            user.uid,
            user.gid,
        );
        let mut c = Command::new("unshare");
        c.args(["-m", "sh", "-c", &outer, "sh", script])
            .env("IAMCTL", &self.bin);
        c
    }
}

/// The process running `bin` that holds SQLite's WAL write lock (a POSIX
/// lock on byte 120 of the `-shm` file, WAL_WRITE_LOCK), from /proc/locks.
fn wal_writer(bin: &std::path::Path) -> Option<i32> {
    let locks = fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|l| {
        // "1: POSIX  ADVISORY  WRITE 1234 fd:00:5678 120 120"
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 8 || f[1] != "POSIX" || f[3] != "WRITE" || f[6] != "120" || f[7] != "120" {
            return None;
        }
        let pid: i32 = f[4].parse().ok()?;
        (fs::read_link(format!("/proc/{pid}/exe")).ok()? == bin).then_some(pid)
    })
}

/// Issue 11 item 9: a caller could SIGSTOP its own setuid iamctl, or freeze
/// it in a cgroup of its own (systemd delegates `user@UID.service` to the
/// user, with cgroup.freeze), inside a write transaction: SQLite's write
/// lock stayed held, and every login on the host (and on every host sharing
/// the store) failed after the 5 s busy timeout. Now iamctl is out of the
/// caller's reach before it opens the store.
#[test]
fn a_caller_cannot_hold_the_store_lock_by_stopping_or_freezing_iamctl() {
    if !require_root("a_caller_cannot_hold_the_store_lock_by_stopping_or_freezing_iamctl") {
        return;
    }
    let s = Setuid::new();
    let mallory = LinuxUser::create(&format!("iamfrz{}", std::process::id() % 100_000));
    s.admin(&["create-user", "--user-name", &mallory.name], "");
    let may_tag = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:TagUser","Resource":"arn:aws:iam::123456789012:user/{}"}}]}}"#,
        mallory.name
    );
    s.admin(
        &[
            "put-user-policy",
            "--user-name",
            &mallory.name,
            "--policy-name",
            "tag-self",
            "--policy-document",
            &may_tag,
        ],
        "",
    );
    let password = "Bob-Logs-In-1";
    s.admin(&["create-user", "--user-name", "bob"], "");
    s.admin(
        &["create-login-profile", "--user-name", "bob"],
        &format!("{password}\n"),
    );
    s.admin(
        &[
            "put-user-policy",
            "--user-name",
            "bob",
            "--policy-name",
            "login",
            "--policy-document",
            e2e::ALLOW_LOGIN,
        ],
        "",
    );
    let service = e2e::PamService::new(&s.etc.join("iam.toml"), AUTH_ONLY);
    let login = || {
        let start = std::time::Instant::now();
        let r = pamtester(&service, "bob", None, &["authenticate"], &[password]);
        (r, start.elapsed())
    };
    let (r, _) = login();
    assert!(r.success, "{r:?}");

    // SIGSTOP from the caller, while iamctl reads a document from a pipe
    // the caller holds open: refused.
    let out = run(
        &mut s.shell_as(
            &mallory,
            "",
            r#"sleep 3 | "$IAMCTL" put-user-policy --user-name nobody --policy-name p --policy-document file:///dev/stdin & p=$!
sleep 1
if kill -STOP "$p" 2>/dev/null; then echo stopped; kill -CONT "$p"; else echo refused; fi
wait"#,
        ),
        "",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "refused",
        "{}",
        stderr(&out)
    );

    // Freezing: the caller runs writes in a loop inside a cgroup of its own
    // (v2, and a v1 freezer where this host has one) and freezes it the
    // moment one of them holds the write lock. Logins go on.
    let v2 = e2e::Delegated::v2(mallory.uid, mallory.gid);
    let v1 = e2e::Delegated::v1("freezer", mallory.uid, mallory.gid);
    let mut cases = vec![(&v2, "cgroup.freeze", "1", "0")];
    if let Some(v1) = &v1 {
        cases.push((v1, "freezer.state", "FROZEN", "THAWED"));
    }
    for (delegated, file, freeze, thaw) in cases {
        let trap = delegated.path.join("trap");
        let script = format!(
            r#"mkdir {t} && echo $$ > {t}/cgroup.procs || exit 96
while :; do "$IAMCTL" tag-user --user-name {m} --tags Key=k,Value=v >/dev/null 2>&1; done"#,
            t = trap.display(),
            m = mallory.name
        );
        let mut writer = s
            .shell_as(&mallory, &delegated.enter_line(), &script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        while !trap.join(file).exists() {
            if let Some(st) = writer.try_wait().unwrap() {
                let mut err = String::new();
                let _ = std::io::Read::read_to_string(&mut writer.stderr.take().unwrap(), &mut err);
                panic!("{file}: the writer loop ended: {st:?} {err}");
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(10));
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut frozen_in_a_write = 0;
        let mut failure = None;
        while frozen_in_a_write < 20 && started.elapsed() < std::time::Duration::from_secs(60) {
            let Some(_) = wal_writer(&s.bin) else {
                continue;
            };
            fs::write(trap.join(file), freeze).unwrap();
            frozen_in_a_write += 1;
            let (r, took) = login();
            fs::write(trap.join(file), thaw).unwrap();
            if !r.success || took >= std::time::Duration::from_secs(5) {
                failure = Some(format!("{file}: login failed after {took:?}: {r:?}"));
                break;
            }
        }
        let _ = writer.kill();
        let _ = writer.wait();
        assert_eq!(failure, None);
        assert!(frozen_in_a_write > 0, "{file}: no write was ever seen");
    }
}
