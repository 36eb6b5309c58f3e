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

use e2e::{
    Host, artifact, oathtool, pamtester, require_root, setuid_iamctl, unique, wait_for_fresh_step,
};

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
    // The user has no MFA device: the code prompt's answer is ignored.
    let auth = |answer: &str| {
        pamtester(
            &service,
            &user,
            Some("203.0.113.7"),
            &["authenticate"],
            &[answer, ""],
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

/// An IAM user as the setuid iamctl sees it: a process running with the uid
/// the directory allocated (published in the host's extrausers files), with
/// no local account behind it.
struct IamUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl IamUser {
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

/// A local account (`useradd -M`), removed again on drop.
struct LocalAccount(String);

impl LocalAccount {
    fn create(name: &str) -> Self {
        let st = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", name])
            .status()
            .unwrap();
        assert!(st.success(), "useradd {name}");
        Self(name.to_owned())
    }
}

impl Drop for LocalAccount {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.0).status();
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
        let (root, bin) = setuid_iamctl("iam-sec-");
        let etc = root.path().join("etc-iam");
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
    /// A new IAM user (created by root) and the uid it was given.
    fn user(&self, name: &str) -> IamUser {
        self.admin(&["create-user", "--user-name", name], "");
        let passwd = fs::read_to_string(self.etc.join("extrausers/passwd")).unwrap();
        let line = passwd
            .lines()
            .find(|l| l.split(':').next() == Some(name))
            .unwrap_or_else(|| panic!("{name} is not published"));
        let id = |n: usize| line.split(':').nth(n).unwrap().parse().unwrap();
        IamUser {
            name: name.to_owned(),
            uid: id(2),
            gid: id(3),
        }
    }

    fn as_user(&self, user: &IamUser, args: &[&str], stdin: &str) -> Output {
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
    // mallory is an IAM user without any policy; alice is another user.
    let mallory = s.user("mallory");
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

/// Issue 11 item 3: the caller of the setuid iamctl is the IAM user whose
/// allocated uid it runs as; a local account named like an IAM user (or
/// holding its uid) is never that user.
#[test]
fn a_local_account_named_like_an_iam_user_is_not_that_user() {
    if !require_root("a_local_account_named_like_an_iam_user_is_not_that_user") {
        return;
    }
    let s = Setuid::new();
    let name = format!("iamloc{}", std::process::id() % 100_000);
    let iam = s.user(&name);
    // The IAM user may do everything to itself; root's policy says so.
    s.admin(
        &[
            "put-user-policy",
            "--user-name",
            &name,
            "--policy-name",
            "all",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
        ],
        "",
    );
    let local_account = LocalAccount::create(&name);
    let local_user = nix::unistd::User::from_name(&name).unwrap().unwrap();
    let local = IamUser {
        name: name.clone(),
        uid: local_user.uid.as_raw(),
        gid: local_user.gid.as_raw(),
    };
    let out = s.as_user(&local, &["create-user", "--user-name", "planted"], "");
    assert!(access_denied(&out), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not an IAM user"),
        "{}",
        stderr(&out)
    );
    let out = s.as_user(&local, &["get-caller-identity"], "");
    assert!(access_denied(&out), "{}", stderr(&out));
    // While the local account shadows it, the IAM user is nobody here
    // either (not published, not a caller); once it is gone, it is itself.
    let me = s.as_user(&iam, &["get-caller-identity"], "");
    assert!(access_denied(&me), "{}", stderr(&me));
    drop(local_account);
    let me = s.as_user(&iam, &["get-caller-identity"], "");
    assert!(me.status.success(), "{}", stderr(&me));
    assert!(String::from_utf8_lossy(&me.stdout).contains(&format!("user/{name}")));
}

/// Issue 11 item 5: a delegated IAM administrator, allowed `iam:*` but
/// denied a few actions on named resources, cannot dodge those Denies by
/// spelling the resource's ARN another way: only the stored, canonical
/// spelling resolves, so the call is decided on the ARN the Deny names.
#[test]
fn a_deny_on_an_arn_cannot_be_dodged_by_another_spelling() {
    if !require_root("a_deny_on_an_arn_cannot_be_dodged_by_another_spelling") {
        return;
    }
    let s = Setuid::new();
    let acct = "123456789012";
    let boundary = format!("arn:aws:iam::{acct}:policy/DevBoundary");
    let phone = format!("arn:aws:iam::{acct}:mfa/alice-phone");
    let admin = s.user("delegated");
    s.admin(&["create-user", "--user-name", "alice"], "");
    s.admin(
        &[
            "create-policy",
            "--policy-name",
            "DevBoundary",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        ],
        "",
    );
    s.admin(
        &[
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            "alice-phone",
            "--outfile",
            "/dev/null",
            "--bootstrap-method",
            "Base32StringSeed",
        ],
        "",
    );
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":"iam:*","Resource":"*"}},
            {{"Sid":"KeepTheBoundary","Effect":"Deny","Action":["iam:DeletePolicy","iam:CreatePolicyVersion","iam:DeletePolicyVersion"],"Resource":"{boundary}"}},
            {{"Sid":"KeepThePhone","Effect":"Deny","Action":"iam:DeleteVirtualMFADevice","Resource":"{phone}"}}]}}"#
    );
    s.admin(
        &[
            "put-user-policy",
            "--user-name",
            "delegated",
            "--policy-name",
            "admin",
            "--policy-document",
            &policy,
        ],
        "",
    );
    let dodges = [
        format!("arn:aws:iam::{acct}:policy//DevBoundary"),
        format!("arn:aws:iam::{acct}:policy/devboundary"),
        format!("arn:aws:iam::{acct}:policy/DEVBOUNDARY"),
    ];
    for arn in &dodges {
        let out = s.as_user(&admin, &["delete-policy", "--policy-arn", arn], "");
        assert!(!out.status.success(), "delete-policy {arn} succeeded");
        assert!(
            stderr(&out).starts_with("NoSuchEntity: "),
            "{arn}: {}",
            stderr(&out)
        );
        let out = s.as_user(
            &admin,
            &["create-policy-version", "--policy-arn", arn, "--set-as-default", "--policy-document",
              r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#],
            "",
        );
        assert!(
            !out.status.success(),
            "create-policy-version {arn} succeeded"
        );
    }
    let out = s.as_user(&admin, &["delete-policy", "--policy-arn", &boundary], "");
    assert!(access_denied(&out), "{}", stderr(&out));
    assert!(
        s.admin(&["get-policy", "--policy-arn", &boundary], "")
            .contains("\"v1\"")
    );

    for serial in [
        format!("arn:aws:iam::{acct}:mfa//alice-phone"),
        format!("arn:aws:iam::{acct}:mfa/ALICE-PHONE"),
    ] {
        let out = s.as_user(
            &admin,
            &["delete-virtual-mfa-device", "--serial-number", &serial],
            "",
        );
        assert!(
            !out.status.success(),
            "delete-virtual-mfa-device {serial} succeeded"
        );
    }
    let devices = s.admin(&["list-virtual-mfa-devices"], "");
    assert!(devices.contains(&phone), "{devices}");

    // A boundary is stored only in the canonical spelling, so one in use
    // cannot be deleted under a spelling the usage count does not see.
    for arn in &dodges {
        let out = s.as_user(
            &admin,
            &[
                "put-user-permissions-boundary",
                "--user-name",
                "alice",
                "--permissions-boundary",
                arn,
            ],
            "",
        );
        assert!(!out.status.success(), "boundary {arn} accepted");
    }
    s.admin(
        &[
            "put-user-permissions-boundary",
            "--user-name",
            "alice",
            "--permissions-boundary",
            &boundary,
        ],
        "",
    );
    let out = run(
        Command::new(artifact("iamctl"))
            .arg("--config")
            .arg(s.etc.join("iam.toml"))
            .args(["delete-policy", "--policy-arn", &boundary]),
        "",
    );
    assert!(
        stderr(&out).starts_with("DeleteConflict: "),
        "{}",
        stderr(&out)
    );

    // simulate-principal-policy on another spelling of a user ARN: not found.
    let out = s.as_user(
        &admin,
        &[
            "simulate-principal-policy",
            "--policy-source-arn",
            &format!("arn:aws:iam::{acct}:user//alice"),
            "--action-names",
            "iam:GetUser",
        ],
        "",
    );
    assert!(
        stderr(&out).starts_with("NoSuchEntity: "),
        "{}",
        stderr(&out)
    );
}

/// Issue 11, item 7: a shell as the user guessing the user's own password
/// through setuid `iamctl change-password` (which checks the old password)
/// is held to the login's lockout: every wrong guess counts and is
/// audited, a locked user is refused even with the right old password, and
/// the lock is the login's too.
#[test]
fn change_password_guesses_count_towards_the_lockout() {
    if !require_root("change_password_guesses_count_towards_the_lockout") {
        return;
    }
    let s = Setuid::new();
    let config = s.etc.join("iam.toml");
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.contains("# deny          = 5"), "{text}");
    fs::write(&config, text.replacen("# deny          = 5", "deny = 3", 1)).unwrap();
    let mallory = s.user(&format!("iampw{}", std::process::id() % 100_000));
    s.admin(
        &["create-login-profile", "--user-name", &mallory.name],
        "Mallory-Pass-1\n",
    );
    s.admin(
        &[
            "update-account-password-policy",
            "--allow-users-to-change-password",
        ],
        "",
    );
    let events = || -> Vec<serde_json::Value> {
        fs::read_to_string(s.etc.join("audit.log"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|e: &serde_json::Value| e["eventName"] == "ChangePassword")
            .collect()
    };
    for i in 0..3 {
        let out = s.as_user(
            &mallory,
            &["change-password"],
            &format!("guess-{i}\nNew-Pass-{i}x\n"),
        );
        assert!(
            !out.status.success() && stderr(&out).starts_with("InvalidInput: "),
            "{}",
            stderr(&out)
        );
    }
    let out = s.as_user(
        &mallory,
        &["change-password"],
        "Mallory-Pass-1\nMallory-New-2\n",
    );
    assert!(
        !out.status.success() && stderr(&out).starts_with("LimitExceeded: "),
        "the right old password worked while locked: {}",
        stderr(&out)
    );
    let refused: Vec<String> = events()
        .iter()
        .map(|e| format!("{}: {}", e["errorCode"], e["errorMessage"]))
        .collect();
    assert_eq!(
        refused,
        [
            "\"InvalidInput\": \"wrong current password\"",
            "\"InvalidInput\": \"wrong current password\"",
            "\"InvalidInput\": \"wrong current password; user now locked out\"",
            "\"LimitExceeded\": \"user is locked out\"",
        ],
    );
    assert!(
        !fs::read_to_string(s.etc.join("audit.log"))
            .unwrap()
            .contains("guess-")
    );

    // One rule: the login is locked as well, and the password never changed.
    let service = e2e::PamService::new(&config, "auth required @MODULE@ mode=password\n");
    let login = || {
        pamtester(
            &service,
            &mallory.name,
            None,
            &["authenticate"],
            &["Mallory-Pass-1"],
        )
    };
    assert!(!login().success, "login while locked");
    s.admin(&["unlock-user", "--user-name", &mallory.name], "");
    assert!(login().success, "the password changed while locked");
    let out = s.as_user(
        &mallory,
        &["change-password"],
        "Mallory-Pass-1\nMallory-New-2\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        events().last().unwrap()["errorCode"],
        serde_json::Value::Null
    );
}

#[test]
fn audit_log_cannot_be_forged_or_truncated_by_a_non_root_user() {
    if !require_root("audit_log_cannot_be_forged_or_truncated_by_a_non_root_user") {
        return;
    }
    let s = Setuid::new();
    let mallory = s.user("mallory");
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

/// The groups of `extrausers/group` whose name equals `name`, whatever its case.
fn published_groups(s: &Setuid, name: &str) -> Vec<String> {
    fs::read_to_string(s.etc.join("extrausers").join("group"))
        .unwrap()
        .lines()
        .filter(|l| {
            l.split(':')
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn iam_admin_cannot_publish_a_group_that_shadows_a_local_one() {
    if !require_root("iam_admin_cannot_publish_a_group_that_shadows_a_local_one") {
        return;
    }
    // The issue's attacker: an IAM administrator with no host:RunAs, only
    // allowed to manage groups. A group published as `sudo` would make
    // alice root through sudo's `%sudo` rule, on every host.
    let s = Setuid::new();
    let name = format!("iamgrp{}", std::process::id() % 100_000);
    let admin = s.user(&name);
    s.admin(
        &[
            "put-user-policy",
            "--user-name",
            &name,
            "--policy-name",
            "GroupAdmin",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"GroupAdmin","Effect":"Allow",
               "Action":["iam:CreateGroup","iam:UpdateGroup","iam:AddUserToGroup","iam:ListGroups"],
               "Resource":"*"}]}"#,
        ],
        "",
    );
    s.admin(&["create-user", "--user-name", "alice"], "");
    let groups_before = s.admin(&["list-groups"], "");

    for group in ["sudo", "Sudo", "SUDO", "wheel", "Wheel"] {
        let out = s.as_user(&admin, &["create-group", "--group-name", group], "");
        let err = stderr(&out);
        assert!(!out.status.success(), "create-group {group} succeeded");
        assert!(
            err.starts_with(&format!(
                "InvalidInput: The group name {group} collides with the "
            )) && err
                .trim_end()
                .ends_with("local privileges are granted only through [group_map]."),
            "{group}: {err}"
        );
        assert!(published_groups(&s, group).is_empty(), "{group} published");
    }
    // Root is refused too.
    let out = run(
        Command::new(artifact("iamctl"))
            .arg("--config")
            .arg(s.etc.join("iam.toml"))
            .args(["create-group", "--group-name", "sudo"]),
        "",
    );
    assert!(
        stderr(&out).starts_with("InvalidInput: The group name sudo collides"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        s.admin(&["list-groups"], ""),
        groups_before,
        "store changed"
    );

    // Nor by renaming a harmless group.
    let out = s.as_user(&admin, &["create-group", "--group-name", "devs"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = s.as_user(
        &admin,
        &[
            "update-group",
            "--group-name",
            "devs",
            "--new-group-name",
            "sudo",
        ],
        "",
    );
    assert!(
        stderr(&out).starts_with("InvalidInput: The group name sudo collides"),
        "{}",
        stderr(&out)
    );
    assert_eq!(published_groups(&s, "devs").len(), 1);

    // A group already in the store under such a name (an older version,
    // another host's directory) is never published, and doctor fails it.
    let db = s.etc.join("iam.db");
    let sql = Command::new("sqlite3")
        .arg(&db)
        .arg("UPDATE groups SET name = 'sudo' WHERE name = 'devs'")
        .status()
        .expect("sqlite3 (apt install sqlite3)");
    assert!(sql.success());
    let out = s.as_user(
        &admin,
        &[
            "add-user-to-group",
            "--group-name",
            "sudo",
            "--user-name",
            "alice",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("warning: not published as a Linux account: IAM group sudo collides with"),
        "{}",
        stderr(&out)
    );
    assert!(published_groups(&s, "sudo").is_empty(), "sudo published");
    assert!(
        published_groups(&s, "devs").is_empty(),
        "devs still published"
    );
    let group_file = fs::read_to_string(s.etc.join("extrausers").join("group")).unwrap();
    assert!(
        group_file.contains("alice:x:"),
        "the rest is published: {group_file}"
    );

    // A local account made later under the admin's name: reported too.
    let _local = LocalAccount::create(&name);
    let doctor = run(
        Command::new(artifact("iamctl"))
            .arg("--config")
            .arg(s.etc.join("iam.toml"))
            .arg("doctor"),
        "",
    );
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(!doctor.status.success());
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("FAIL IAM group sudo collides with")
                && l.ends_with(": not published")),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "FAIL IAM user {name} collides with the local user {name}"
        )),
        "{report}"
    );
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

/// Issue 11 item 9: a change never commits without its audit event. The
/// event is queued in the change's own transaction; when the log cannot
/// take it (here: a directory where the file should be) the change still
/// commits and the event waits in the store until a later call delivers it.
#[test]
fn a_change_is_never_committed_without_its_audit_event() {
    if !require_root("a_change_is_never_committed_without_its_audit_event") {
        return;
    }
    let host = Host::new("");
    let log = host.path().join("audit.log");
    let _ = fs::remove_file(&log);
    fs::create_dir(&log).unwrap();
    let out = host.try_iamctl(&["create-user", "--user-name", "quiet"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not yet delivered"),
        "{}",
        stderr(&out)
    );
    fs::remove_dir(&log).unwrap();
    host.iamctl(&["list-users"]);
    let created = host
        .audit_events()
        .into_iter()
        .filter(|e| e["eventName"] == "CreateUser" && e["requestParameters"]["userName"] == "quiet")
        .count();
    assert_eq!(created, 1, "the CreateUser event was lost or doubled");
}

/// A rename is authorized on the old and on the new ARN, as AWS does: a
/// delegated administrator of `temp-*` users cannot rename one out of its
/// reach (nor a group out of `team-*`).
#[test]
fn a_rename_needs_the_action_on_the_new_name_too() {
    if !require_root("a_rename_needs_the_action_on_the_new_name_too") {
        return;
    }
    let s = Setuid::new();
    let admin = s.user("renamer");
    s.admin(&["create-user", "--user-name", "temp-bob"], "");
    s.admin(&["create-group", "--group-name", "team-a"], "");
    s.admin(
        &[
            "put-user-policy",
            "--user-name",
            "renamer",
            "--policy-name",
            "temps",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"iam:UpdateUser","Resource":"arn:aws:iam::123456789012:user/temp-*"},
                {"Effect":"Allow","Action":"iam:UpdateGroup","Resource":"arn:aws:iam::123456789012:group/team-*"}]}"#,
        ],
        "",
    );
    let out = s.as_user(
        &admin,
        &[
            "update-user",
            "--user-name",
            "temp-bob",
            "--new-user-name",
            "admin-bob",
        ],
        "",
    );
    assert!(access_denied(&out), "{}", stderr(&out));
    let out = s.as_user(
        &admin,
        &[
            "update-group",
            "--group-name",
            "team-a",
            "--new-group-name",
            "ops",
        ],
        "",
    );
    assert!(access_denied(&out), "{}", stderr(&out));
    let out = s.as_user(
        &admin,
        &[
            "update-user",
            "--user-name",
            "temp-bob",
            "--new-user-name",
            "temp-robert",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `import-authorization-details` writes users, groups, roles, policies and
/// attachments in one call: a delegated administrator allowed `iam:*` but
/// denied creating roles would pass that Deny with it, so it is for the
/// account's root user only.
#[test]
fn a_delegated_administrator_cannot_import_past_its_denies() {
    if !require_root("a_delegated_administrator_cannot_import_past_its_denies") {
        return;
    }
    let s = Setuid::new();
    let admin = s.user("importer");
    s.admin(
        &[
            "put-user-policy",
            "--user-name",
            "importer",
            "--policy-name",
            "admin",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"iam:*","Resource":"*"},
                {"Effect":"Deny","Action":["iam:CreateRole","iam:PutRolePolicy"],"Resource":"*"}]}"#,
        ],
        "",
    );
    let file = s.etc.parent().unwrap().join("details.json");
    fs::write(
        &file,
        r#"{"RoleDetailList":[{"RoleName":"backdoor","Path":"/","AssumeRolePolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/importer"},"Action":"sts:AssumeRole"}]},"RolePolicyList":[{"PolicyName":"root","PolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:RunAs","Resource":"*"}]}}]}]}"#,
    )
    .unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let before = s.admin(&["list-roles"], "");
    let out = s.as_user(
        &admin,
        &[
            "import-authorization-details",
            &format!("file://{}", file.display()),
        ],
        "",
    );
    assert!(access_denied(&out), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("root user (uid 0) only"),
        "{}",
        stderr(&out)
    );
    assert_eq!(before, s.admin(&["list-roles"], ""), "a role was imported");
}

/// Tag condition keys of `iam:*` calls, as AWS sets them: `aws:TagKeys` and
/// `aws:RequestTag/K` of the request, `aws:ResourceTag/K` of the target. A
/// Deny on tagging `host:RunAs` keeps a delegated administrator from
/// pointing a role it may assume at root; before, these keys were never in
/// the context and such Denies never fired.
#[test]
fn tag_conditions_decide_iam_calls() {
    if !require_root("tag_conditions_decide_iam_calls") {
        return;
    }
    let s = Setuid::new();
    let admin = s.user("tagger");
    s.admin(
        &["create-role", "--role-name", "deploy", "--assume-role-policy-document",
          r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#,
          "--tags", "Key=host:RunAs,Value=deploy", "Key=team,Value=ops"],
        "",
    );
    s.admin(&["create-user", "--user-name", "vip"], "");
    s.admin(
        &[
            "tag-user",
            "--user-name",
            "vip",
            "--tags",
            "Key=protected,Value=yes",
        ],
        "",
    );
    s.admin(
        &[
            "put-user-policy", "--user-name", "tagger", "--policy-name", "admin", "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"iam:*","Resource":"*"},
                {"Sid":"NoRunAsTags","Effect":"Deny","Action":["iam:TagRole","iam:UntagRole","iam:CreateRole"],"Resource":"*",
                 "Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"host:RunAs"}}},
                {"Sid":"NoRootRunAs","Effect":"Deny","Action":"iam:TagUser","Resource":"*",
                 "Condition":{"StringEquals":{"aws:RequestTag/owner":"root"}}},
                {"Sid":"Protected","Effect":"Deny","Action":"iam:*","Resource":"*",
                 "Condition":{"StringEquals":{"aws:ResourceTag/protected":"yes"}}}]}"#,
        ],
        "",
    );
    for args in [
        vec![
            "tag-role",
            "--role-name",
            "deploy",
            "--tags",
            "Key=host:RunAs,Value=root",
        ],
        vec![
            "untag-role",
            "--role-name",
            "deploy",
            "--tag-keys",
            "host:RunAs",
        ],
        vec![
            "tag-user",
            "--user-name",
            "tagger",
            "--tags",
            "Key=owner,Value=root",
        ],
        vec!["delete-user", "--user-name", "vip"],
    ] {
        let out = s.as_user(&admin, &args, "");
        assert!(access_denied(&out), "{args:?}: {}", stderr(&out));
    }
    let tags = s.admin(&["list-role-tags", "--role-name", "deploy"], "");
    assert!(
        tags.contains("\"deploy\"") && !tags.contains("\"root\""),
        "{tags}"
    );
    // What the Denies do not name still works.
    let out = s.as_user(
        &admin,
        &[
            "tag-role",
            "--role-name",
            "deploy",
            "--tags",
            "Key=team,Value=dev",
        ],
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

// ---- a caller holding the store's write lock ------------------------------

impl Setuid {
    /// `script` run by `user` (`sh -c`, `$IAMCTL` is the setuid copy) in a
    /// mount namespace with /etc/iam = our config dir, after `root_prefix`
    /// ran as root.
    fn shell_as(&self, user: &IamUser, root_prefix: &str, script: &str) -> Command {
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
    let mallory = s.user(&format!("iamfrz{}", std::process::id() % 100_000));
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

/// The PAM module applies the local-accounts rule itself: an IAM user that
/// a local account shadows (created on another host sharing the store, or
/// before the local account) is nobody to pam_iam, even in a stack without
/// the pam_localuser guard. Before, its IAM password opened a session as
/// the local account (its uid, groups and sudo rights).
#[test]
fn pam_never_logs_in_an_iam_user_that_a_local_account_shadows() {
    if !require_root("pam_never_logs_in_an_iam_user_that_a_local_account_shadows") {
        return;
    }
    let host = Host::new("[login]\nunknown_user = \"deny\"\n");
    let service = host
        .service("auth required @MODULE@ mode=password\naccount required @MODULE@ mode=password\n");
    let user = unique("shd");
    let password = format!("pw-{user}-Secret1");
    host.add_user(&user, Some(&password));
    host.allow_login(&user);
    let login = || {
        pamtester(
            &service,
            &user,
            Some("203.0.113.9"),
            &["authenticate", "acct_mgmt"],
            &[&password],
        )
    };
    assert!(
        login().success,
        "the IAM user logs in while nothing shadows it"
    );
    let local = LocalAccount::create(&user);
    let r = login();
    assert!(!r.success, "a shadowed IAM user logged in: {r:?}");
    drop(local);
    assert!(
        login().success,
        "the IAM user again, once the local account is gone"
    );
}

/// The caller's scheduling settings do not follow it into the setuid
/// iamctl: an idle-class, niced, one-CPU, idle-I/O iamctl holding the
/// store's write lock would stretch every transaction until logins on
/// every host sharing the store time out.
#[test]
fn the_callers_scheduling_does_not_follow_it_into_iamctl() {
    if !require_root("the_callers_scheduling_does_not_follow_it_into_iamctl") {
        return;
    }
    let s = Setuid::new();
    let slow = s.user(&format!("iamnice{}", std::process::id() % 100_000));
    s.admin(
        &["create-login-profile", "--user-name", &slow.name],
        "Slow-Pass-1\n",
    );
    s.admin(
        &[
            "update-account-password-policy",
            "--allow-users-to-change-password",
        ],
        "",
    );
    // The prompt for the old password waits on a stdin we never write.
    let mut child = s
        .shell_as(
            &slow,
            "",
            r#"exec nice -n 19 taskset -c 0 chrt --idle 0 ionice -c3 "$IAMCTL" change-password"#,
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let target = fs::canonicalize(&s.bin).unwrap();
    let start = std::time::Instant::now();
    let pid = loop {
        let found = fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            (fs::read_link(format!("/proc/{pid}/exe")).ok()? == target
                && fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()?
                    .lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
            .then_some(pid)
        });
        if let Some(pid) = found {
            break pid;
        }
        assert!(start.elapsed().as_secs() < 10, "iamctl never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // Fields 19 (nice) and 41 (policy), counted from 1 with pid and comm.
    assert_eq!(fields[19 - 3], "0", "nice: {stat}");
    assert_eq!(fields[41 - 3], "0", "policy SCHED_OTHER: {stat}");
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_owned();
    let all = fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    assert_eq!(cpus, all.trim(), "affinity");
    let io = Command::new("ionice")
        .args(["-p", &pid.to_string()])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&io.stdout).contains("idle"),
        "ionice: {:?}",
        io
    );
    drop(child.stdin.take());
    let _ = child.wait();
}

/// A local account is never pam_iam's to refuse, whatever `unknown_user`
/// says: with `"deny"`, root's authenticate and setcred used to fail in a
/// stack without a pam_localuser guard, and the guard itself (whose setcred
/// succeeds for everyone) skipped pam_iam's setcred and with it the
/// `[group_map]` groups of IAM users.
#[test]
fn local_accounts_pass_through_pam_iam_even_when_unknown_users_are_denied() {
    if !require_root("local_accounts_pass_through_pam_iam_even_when_unknown_users_are_denied") {
        return;
    }
    let host = Host::new("[login]\nunknown_user = \"deny\"\n");
    let service = host.service(
        "auth [success=done ignore=ignore default=die] @MODULE@ mode=password\n\
         auth required pam_permit.so\n\
         account [success=done ignore=ignore default=die] @MODULE@\n\
         account required pam_permit.so\n",
    );
    let r = pamtester(
        &service,
        "root",
        None,
        &["authenticate", "setcred", "acct_mgmt"],
        &[],
    );
    assert!(r.success, "root refused by pam_iam: {r:?}");
    // An unknown name that is no local account is still denied.
    let r = pamtester(
        &service,
        "nosuchuser-xyz",
        None,
        &["authenticate"],
        &["x", ""],
    );
    assert!(!r.success, "an unknown user passed: {r:?}");
}
