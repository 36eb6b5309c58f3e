//! A non-root caller of a setuid-root iamctl: a temporary Linux user that is
//! an IAM user, with AWS's self-service policies attached verbatim. The
//! binary is copied 4755 root into a temp dir and run as that user inside a
//! private mount namespace where /etc/iam is the test's config directory.

#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// An IAM user as the setuid iamctl sees it: a process with the uid the
/// directory allocated (from the host's extrausers file), no local account.
struct IamUser {
    uid: u32,
    gid: u32,
}

struct Setuid {
    root: tempfile::TempDir,
    etc: PathBuf,
    bin: PathBuf,
}

impl Setuid {
    fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("iamctl-suid")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let etc = root.path().join("etc-iam");
        let bin = root.path().join("iamctl");
        std::fs::copy(bin_path(), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o4755)).unwrap();
        let s = Self { root, etc, bin };
        s.admin_ok(&["init", "--account-id", ACCOUNT]);
        s
    }

    fn config(&self) -> PathBuf {
        self.etc.join("iam.toml")
    }

    /// As root (no namespace needed: root may point --config anywhere).
    fn admin(&self, args: &[&str], stdin: &str) -> Run {
        run(
            Command::new(bin_path())
                .arg("--config")
                .arg(self.config())
                .args(args),
            stdin,
        )
    }

    fn admin_ok(&self, args: &[&str]) -> Value {
        self.admin_ok_with(args, "")
    }

    fn admin_ok_with(&self, args: &[&str], stdin: &str) -> Value {
        let r = self.admin(args, stdin);
        assert_eq!(r.code, 0, "root iamctl {args:?}: {}", r.stderr);
        if r.stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&r.stdout).unwrap()
        }
    }

    /// As `user`, through the setuid copy, with /etc/iam = our config dir.
    fn user(&self, (uid, gid): (u32, u32), args: &[&str], stdin: &str) -> Run {
        let mut cmd_line = format!(
            "mount --bind {} /etc/iam && exec setpriv --reuid={} --regid={} --clear-groups {}",
            self.etc.display(),
            uid,
            gid,
            self.bin.display()
        );
        for a in args {
            cmd_line.push_str(&format!(" '{}'", a.replace('\'', "'\\''")));
        }
        run(
            Command::new("unshare").args(["-m", "sh", "-c", &cmd_line]),
            stdin,
        )
    }

    /// The uid and gid root's `create-user` gave `name`.
    fn iam_user(&self, name: &str) -> IamUser {
        let passwd = std::fs::read_to_string(self.etc.join("extrausers/passwd")).unwrap();
        let line = passwd
            .lines()
            .find(|l| l.split(':').next() == Some(name))
            .unwrap_or_else(|| panic!("{name} is not published"));
        let id = |n: usize| line.split(':').nth(n).unwrap().parse().unwrap();
        IamUser {
            uid: id(2),
            gid: id(3),
        }
    }

    fn dump(&self) -> String {
        dump(&self.etc.join("iam.db"))
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.etc.join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn bin_path() -> &'static Path {
    Path::new(bin())
}

fn run(cmd: &mut Command, stdin: &str) -> Run {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn policy_file(name: &str) -> String {
    format!(
        "file://{}/../config/policies/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn non_root_caller_is_authorized_by_policy() {
    if !require_root("non_root_caller_is_authorized_by_policy") {
        return;
    }
    if !Path::new("/etc/iam").exists() {
        std::fs::create_dir_all("/etc/iam").unwrap();
    }
    let s = Setuid::new();
    let name = format!("iamt{}", std::process::id() % 100_000);
    s.admin_ok(&["create-user", "--user-name", &name]);
    let user = s.iam_user(&name);
    let me = (user.uid, user.gid);
    let arn = |kind: &str, n: &str| format!("arn:aws:iam::{ACCOUNT}:{kind}/{n}");
    s.admin_ok(&["create-user", "--user-name", "alice"]);
    s.admin_ok_with(
        &["create-login-profile", "--user-name", &name],
        "First!Passw0rd\n",
    );
    s.admin_ok_with(
        &["create-login-profile", "--user-name", "alice"],
        "Alice!Passw0rd\n",
    );
    // AllowUsersToChangePassword lets every user change their own password
    // without a policy, as in AWS.
    s.admin_ok(&[
        "update-account-password-policy",
        "--minimum-password-length",
        "10",
        "--allow-users-to-change-password",
    ]);
    let r = s.user(
        (user.uid, user.gid),
        &["change-password"],
        "First!Passw0rd\nInterim!Passw0rd\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.user(
        (user.uid, user.gid),
        &["change-password"],
        "Interim!Passw0rd\nFirst!Passw0rd\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Without it, users may change passwords only through a policy.
    s.admin_ok(&[
        "update-account-password-policy",
        "--minimum-password-length",
        "10",
    ]);
    let r = s.user(
        (user.uid, user.gid),
        &["change-password"],
        "First!Passw0rd\nInterim!Passw0rd\n",
    );
    assert!(
        r.stderr.starts_with("AccessDenied: ") && r.stderr.contains("iam:ChangePassword"),
        "{}",
        r.stderr
    );
    for p in ["IAMUserChangePassword", "ManageOwnMFA"] {
        s.admin_ok(&[
            "create-policy",
            "--policy-name",
            p,
            "--policy-document",
            &policy_file(&format!("{p}.json")),
        ]);
    }
    s.admin_ok(&[
        "attach-user-policy",
        "--user-name",
        &name,
        "--policy-arn",
        &arn("policy", "IAMUserChangePassword"),
    ]);

    // Who am I: the IAM user of my Linux login, whatever --config says.
    let r = s.user(
        me,
        &["--config", "/nonexistent/iam.toml", "get-caller-identity"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ident: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(ident["Arn"], json!(arn("user", &name)));
    assert!(ident["UserId"].as_str().unwrap().starts_with("AIDA"));

    // Allowed by IAMUserChangePassword (${aws:username}): my own password.
    let r = s.user(
        me,
        &["change-password"],
        "First!Passw0rd\nSecond!Passw0rd\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.user(me, &["change-password"], "First!Passw0rd\nThird!Passw0rd\n");
    assert_eq!(
        r.stderr.trim(),
        "InvalidInput: The old password is incorrect."
    );
    let r = s.user(me, &["change-password"], "Second!Passw0rd\nshort\n");
    assert!(
        r.stderr.starts_with("PasswordPolicyViolation: "),
        "{}",
        r.stderr
    );
    let r = s.user(me, &["get-account-password-policy"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Denied: another user's password, creating users, reading others.
    let before = s.dump();
    let r = s.user(
        me,
        &["update-login-profile", "--user-name", "alice", "--password"],
        "Hacked!Passw0rd\n",
    );
    assert_ne!(r.code, 0);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "AccessDenied: User: {} is not authorized to perform: iam:UpdateLoginProfile on resource: {} \
             because no identity-based policy allows the iam:UpdateLoginProfile action",
            arn("user", &name),
            arn("user", "alice")
        )
    );
    let r = s.user(me, &["create-user", "--user-name", "mallory"], "");
    assert!(
        r.stderr.starts_with("AccessDenied: ") && r.stderr.contains("iam:CreateUser"),
        "{}",
        r.stderr
    );
    let r = s.user(me, &["list-users"], "");
    assert!(r.stderr.contains("iam:ListUsers"), "{}", r.stderr);
    assert_eq!(before, s.dump(), "denied calls changed the store");

    // Files named on the command line are opened with the caller's rights.
    let r = s.user(
        me,
        &[
            "create-policy",
            "--policy-name",
            "x",
            "--policy-document",
            "file:///etc/shadow",
        ],
        "",
    );
    assert!(
        r.stderr.starts_with("InvalidInput: ") && r.stderr.contains("denied"),
        "{}",
        r.stderr
    );

    // Verbs that need no privilege run without it.
    let r = s.user(
        me,
        &[
            "simulate-custom-policy",
            "--policy-input-list",
            "file:///etc/shadow",
            "--action-names",
            "host:Login",
        ],
        "",
    );
    assert!(
        r.code != 0 && r.stderr.contains("denied") && !r.stderr.contains("root:"),
        "{}",
        r.stderr
    );
    let r = s.user(
        me,
        &[
            "simulate-custom-policy",
            "--policy-input-list",
            ALLOW_ALL,
            "--action-names",
            "host:Login",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // So do Access Analyzer's checks: a file only root can read stays unread.
    for args in [
        &[
            "validate-policy",
            "--policy-document",
            "file:///etc/shadow",
            "--policy-type",
            "IDENTITY_POLICY",
        ][..],
        &[
            "check-no-new-access",
            "--new-policy-document",
            "file:///etc/shadow",
            "--existing-policy-document",
            ALLOW_ALL,
            "--policy-type",
            "IDENTITY_POLICY",
        ][..],
    ] {
        let r = s.user(me, args, "");
        assert!(
            r.code == 254
                && r.stderr.contains("denied")
                && !r.stderr.contains("root:")
                && !r.stdout.contains("root:"),
            "{}",
            r.stderr
        );
    }
    let r = s.user(
        me,
        &[
            "validate-policy",
            "--policy-document",
            ALLOW_ALL,
            "--policy-type",
            "IDENTITY_POLICY",
            "--fail-on",
            "NONE",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.user(me, &["man", "--out-dir", "/root/iamctl-man-test"], "");
    assert_ne!(r.code, 0);
    assert!(!Path::new("/root/iamctl-man-test").exists());

    // ManageOwnMFA, verbatim: without MFA in the session its Deny blocks
    // everything but enrolment, which works for my own device only.
    s.admin_ok(&[
        "attach-user-policy",
        "--user-name",
        &name,
        "--policy-arn",
        &arn("policy", "ManageOwnMFA"),
    ]);
    // A directory of mine for the seed (the config's ancestors must stay
    // root-only-writable, or iamctl refuses the config).
    let out = s.root.path().join("out");
    std::fs::create_dir(&out).unwrap();
    nix::unistd::chown(&out, Some(nix::unistd::Uid::from_raw(user.uid)), None).unwrap();
    let seed_file = out.join("seed");
    let r = s.user(
        me,
        &[
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            &name,
            "--outfile",
            seed_file.to_str().unwrap(),
            "--bootstrap-method",
            "Base32StringSeed",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let meta = std::fs::metadata(&seed_file).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        user.uid,
        "outfile written as the caller"
    );
    let seed = std::fs::read_to_string(&seed_file).unwrap();
    let (c1, c2) = two_codes(&seed);
    let r = s.user(
        me,
        &[
            "enable-mfa-device",
            "--user-name",
            &name,
            "--serial-number",
            &arn("mfa", &name),
            "--authentication-code1",
            &c1,
            "--authentication-code2",
            &c2,
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.user(
        me,
        &[
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            "alice",
        ],
        "",
    );
    assert!(r.stderr.starts_with("AccessDenied: "), "{}", r.stderr);
    let r = s.user(
        me,
        &["change-password"],
        "Second!Passw0rd\nFourth!Passw0rd\n",
    );
    assert!(
        r.stderr.starts_with("AccessDenied: ") && r.stderr.contains("explicit deny"),
        "BlockMostAccessUnlessSignedInWithMFA: {}",
        r.stderr
    );

    // Signed in with MFA (a login session pam_iam recorded for an ancestor
    // of the call, here this test process): the same policy now lets me
    // change my password and deactivate my MFA device.
    let store = iam::store::Store::open(&s.etc.join("iam.db")).unwrap();
    let now = chrono::Utc::now().timestamp();
    store
        .ledger()
        .open_login_session(&iam::store::LoginSession {
            id: 0,
            user: name.clone(),
            service: "sshd".into(),
            rhost: "10.1.2.3".into(),
            tty: "ssh".into(),
            pid: Some(std::process::id()),
            started: now,
            ended: None,
            mfa_time: Some(now),
        })
        .unwrap();
    let r = s.user(
        me,
        &["change-password"],
        "Second!Passw0rd\nFourth!Passw0rd\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.user(
        me,
        &[
            "deactivate-mfa-device",
            "--serial-number",
            &arn("mfa", &name),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    // IAMSelfReadOnly: my own user, not anyone else's.
    s.admin_ok(&[
        "create-policy",
        "--policy-name",
        "IAMSelfReadOnly",
        "--policy-document",
        &policy_file("IAMSelfReadOnly.json"),
    ]);
    s.admin_ok(&[
        "attach-user-policy",
        "--user-name",
        &name,
        "--policy-arn",
        &arn("policy", "IAMSelfReadOnly"),
    ]);
    let r = s.user(me, &["get-user"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&arn("user", &name)));
    let r = s.user(me, &["get-user", "--user-name", "alice"], "");
    assert!(
        r.stderr.starts_with("AccessDenied: ") && r.stderr.contains("iam:GetUser"),
        "{}",
        r.stderr
    );

    // A Linux user that is not an IAM user gets nothing.
    let r = s.user((65534, 65534), &["get-caller-identity"], "");
    assert!(
        r.stderr
            .starts_with("AccessDenied: The Linux user nobody (uid 65534) is not an IAM user"),
        "{}",
        r.stderr
    );

    // Every change and every denial was audited, with who and why.
    let events = s.audit();
    let changed = events
        .iter()
        .find(|e| e["eventName"] == "ChangePassword" && e["errorCode"].is_null())
        .unwrap();
    assert_eq!(changed["userIdentity"]["userName"], json!(name));
    let denied = events
        .iter()
        .find(|e| e["eventName"] == "UpdateLoginProfile")
        .unwrap();
    assert_eq!(denied["errorCode"], json!("AccessDenied"));
    let explicit = events
        .iter()
        .rfind(|e| e["eventName"] == "ChangePassword" && e["errorCode"] == "AccessDenied")
        .unwrap();
    assert!(
        explicit
            .to_string()
            .contains("BlockMostAccessUnlessSignedInWithMFA"),
        "{explicit}"
    );
    let all = events.iter().map(|e| e.to_string()).collect::<String>();
    assert!(
        !all.contains("Passw0rd"),
        "a password reached the audit log"
    );
}

/// Issue 15: AWS's own statement for managing one's SSH public keys
/// (`iam:*SSHPublicKey*` on `user/${aws:username}`) makes the key verbs
/// self-service: a user's own keys, never another's, and a refused call
/// changes nothing.
#[test]
fn own_ssh_public_keys_are_self_service_with_awss_example_statement() {
    if !require_root("own_ssh_public_keys_are_self_service_with_awss_example_statement") {
        return;
    }
    if !Path::new("/etc/iam").exists() {
        std::fs::create_dir_all("/etc/iam").unwrap();
    }
    let s = Setuid::new();
    let name = format!("iamk{}", std::process::id() % 100_000);
    s.admin_ok(&["create-user", "--user-name", &name]);
    s.admin_ok(&["create-user", "--user-name", "alice"]);
    let user = s.iam_user(&name);
    let me = (user.uid, user.gid);
    s.admin_ok(&[
        "put-user-policy",
        "--user-name",
        &name,
        "--policy-name",
        "own-keys",
        "--policy-document",
        &policy_file("ManageOwnSSHPublicKeys.json"),
    ]);
    // A key the user can read (file:// is read with the caller's rights).
    let key = s.root.path().join("laptop");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let public = format!("file://{}", key.with_extension("pub").display());

    let r = s.user(
        me,
        &[
            "upload-ssh-public-key",
            "--user-name",
            &name,
            "--ssh-public-key-body",
            &public,
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let uploaded: Value = serde_json::from_str(&r.stdout).unwrap();
    let id = uploaded["SSHPublicKey"]["SSHPublicKeyId"].as_str().unwrap();
    let r = s.user(me, &["list-ssh-public-keys"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let listed: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(listed["SSHPublicKeys"][0]["SSHPublicKeyId"], json!(id));

    let before = s.dump();
    for args in [
        vec![
            "upload-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-body",
            &public,
        ],
        vec!["list-ssh-public-keys", "--user-name", "alice"],
        vec![
            "update-ssh-public-key",
            "--user-name",
            "alice",
            "--ssh-public-key-id",
            id,
            "--status",
            "Inactive",
        ],
    ] {
        let r = s.user(me, &args, "");
        assert!(
            r.stderr.starts_with("AccessDenied: ") && r.stderr.contains("SSHPublicKey"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(s.dump(), before, "a refused call changed the store");
    let r = s.user(
        me,
        &[
            "delete-ssh-public-key",
            "--user-name",
            &name,
            "--ssh-public-key-id",
            id,
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Recovery codes are self-service by policy (ours: `iam:CreateRecoveryCodes`
/// and `iam:GetRecoveryCodesStatus` on `user/${aws:username}`): a user makes
/// and counts their own codes, never another's, and a refused call changes
/// nothing.
#[test]
fn own_recovery_codes_are_self_service_by_policy() {
    if !require_root("own_recovery_codes_are_self_service_by_policy") {
        return;
    }
    if !Path::new("/etc/iam").exists() {
        std::fs::create_dir_all("/etc/iam").unwrap();
    }
    let s = Setuid::new();
    let name = format!("iamr{}", std::process::id() % 100_000);
    s.admin_ok(&["create-user", "--user-name", &name]);
    s.admin_ok(&["create-user", "--user-name", "alice"]);
    let user = s.iam_user(&name);
    let me = (user.uid, user.gid);
    // Without a policy: refused.
    let before = s.dump();
    let r = s.user(me, &["create-recovery-codes"], "");
    assert!(
        r.stderr.starts_with("AccessDenied: ") && r.stderr.contains("iam:CreateRecoveryCodes"),
        "{}",
        r.stderr
    );
    assert_eq!(s.dump(), before);
    s.admin_ok(&[
        "put-user-policy",
        "--user-name",
        &name,
        "--policy-name",
        "own-codes",
        "--policy-document",
        &policy_file("ManageOwnRecoveryCodes.json"),
    ]);
    let r = s.user(me, &["create-recovery-codes"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let made: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(made["RecoveryCodes"]["UserName"], json!(name));
    assert_eq!(made["RecoveryCodes"]["Codes"].as_array().unwrap().len(), 10);
    let r = s.user(me, &["get-recovery-codes-status"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let status: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(status["RecoveryCodesStatus"]["Remaining"], 10);
    let before = s.dump();
    for args in [
        vec!["create-recovery-codes", "--user-name", "alice"],
        vec!["get-recovery-codes-status", "--user-name", "alice"],
    ] {
        let r = s.user(me, &args, "");
        assert!(
            r.stderr.starts_with("AccessDenied: "),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(s.dump(), before, "a refused call changed the store");
    assert!(
        s.audit()
            .iter()
            .any(|e| e["eventName"] == "CreateRecoveryCodes" && e.get("errorCode").is_none())
    );
}
