//! End-to-end tests of `iamctl assume-role`, `list-sessions` and
//! `revoke-session`: the built iamctl, setuid root in a temp dir, run by
//! temporary Linux users that are IAM users, against a temp config and
//! store mounted over /etc/iam in a private mount namespace.
//!
//! As root only; skipped with a notice otherwise (a failure under CI=true).
#![cfg(test)]

#[path = "elevate_support.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};
use support::*;

/// A host with the role `admin` (trusting the account, so identity policies
/// decide; host:RunAs everywhere) and a user allowed to assume roles.
fn admin_host(test_min: Option<u32>) -> (Host, LinuxUser) {
    let mut host = Host::new(test_min);
    host.role(
        "admin",
        &trust(&[ACCOUNT_ROOT], ""),
        &run_as_policy(""),
        &[],
    );
    let alice = host.user(Some(ALLOW_SELF_SESSIONS));
    (host, alice)
}

fn one_line_error(out: &std::process::Output) -> String {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected a refusal, got success");
    assert_eq!(out.status.code(), Some(254), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(
        out.stdout.is_empty(),
        "nothing ran: {:?}",
        text(&out.stdout)
    );
    err
}

#[test]
fn allowed_runs_as_root_and_is_audited() {
    if !root_or_skip("allowed_runs_as_root_and_is_audited") {
        return;
    }
    let (host, alice) = admin_host(None);
    let out = host.run_as(
        &alice,
        &["assume-role", "--role-name", "admin", "--", "id", "-u"],
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0\n");
    let log = host.audit_log();
    assert!(log.contains("\"eventName\":\"AssumeRole\""), "{log}");
    assert!(log.contains("\"eventName\":\"SessionStarted\""), "{log}");
    assert!(log.contains("\"eventName\":\"SessionEnded\""), "{log}");
    assert!(
        log.contains("MayAssume"),
        "the deciding statement is named: {log}"
    );

    // The session's environment: reset, and describing the session.
    let out = host.run_as(
        &alice,
        &[
            "assume-role",
            "--role-name",
            "admin",
            "--role-session-name",
            "e2e",
            "--",
            "env",
        ],
    );
    let env = text(&out.stdout);
    assert!(
        env.contains(&format!(
            "IAM_SESSION_ARN=arn:aws:sts::{ACCOUNT}:assumed-role/admin/e2e\n"
        )),
        "{env}"
    );
    assert!(env.contains(&format!("IAM_ROLE_ARN=arn:aws:iam::{ACCOUNT}:role/admin\n")));
    assert!(env.contains("IAM_SESSION_EXPIRATION=20"), "{env}");
    assert!(
        env.contains("USER=root\n") && env.contains("HOME=/root\n"),
        "{env}"
    );
    assert!(
        env.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"),
        "{env}"
    );

    // The session is over: listed as ended, nothing active.
    let out = host.run_as(&alice, &["list-sessions", "--all"]);
    let listed = text(&out.stdout);
    assert!(listed.contains("\"Status\": \"ended\""), "{listed}");
    let out = host.run_as(&alice, &["list-sessions"]);
    assert!(
        !text(&out.stdout).contains("SessionId"),
        "no active session"
    );
}

#[test]
fn denials_each_have_one_clear_line() {
    if !root_or_skip("denials_each_have_one_clear_line") {
        return;
    }
    let mut host = Host::new(None);
    host.role(
        "admin",
        &trust(&[ACCOUNT_ROOT], ""),
        &run_as_policy(""),
        &[],
    );
    let alice = host.user(Some(ALLOW_ASSUME));
    let bob = host.user(None);
    let carol = host.user(Some(ALLOW_ASSUME));
    host.role(
        "alice-only",
        &trust(&[&Host::user_arn(&alice)], ""),
        &run_as_policy(""),
        &[],
    );
    host.role(
        "dev-hosts",
        &trust(&[ACCOUNT_ROOT], ""),
        &run_as_policy(r#","Condition":{"StringEquals":{"aws:ResourceTag/env":"dev"}}"#),
        &[],
    );
    let cmd = |role: &str| -> Vec<String> {
        ["assume-role", "--role-name", role, "--", "id", "-u"]
            .map(String::from)
            .to_vec()
    };
    let run = |u: &LinuxUser, args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        host.run_as(u, &args)
    };

    // No identity policy allows sts:AssumeRole (the trust names the account).
    let err = one_line_error(&run(&bob, &cmd("admin")));
    assert!(
        err.starts_with("AccessDenied: User: arn:aws:iam::123456789012:user/")
            && err.contains("no identity-based policy allows the sts:AssumeRole action"),
        "{err}"
    );
    // The trust policy names someone else.
    let err = one_line_error(&run(&carol, &cmd("alice-only")));
    assert!(
        err.contains("the role's trust policy does not allow it"),
        "{err}"
    );
    // ... while naming the user suffices without an identity allow.
    let out = run(&alice, &cmd("alice-only"));
    assert_eq!(text(&out.stdout), "0\n", "{}", text(&out.stderr));
    // host:RunAs only on dev hosts; this one is env=prod.
    let err = one_line_error(&run(&alice, &cmd("dev-hosts")));
    assert!(
        err.contains("not authorized to perform: host:RunAs on resource: arn:aws:host::123456789012:host/web-1"),
        "{err}"
    );
    // Durations out of range.
    for (n, says) in [
        ("899", "greater than or equal to 900"),
        ("3601", "exceeds the MaxSessionDuration (3600)"),
        ("-1", "greater than or equal to 900"),
    ] {
        let out = host.run_as(
            &alice,
            &[
                "assume-role",
                "--role-name",
                "admin",
                "--duration-seconds",
                n,
                "--",
                "id",
            ],
        );
        let err = one_line_error(&out);
        assert!(
            err.starts_with("ValidationError: ") && err.contains(says),
            "{n}: {err}"
        );
    }
    // Unknown role, bad session name.
    let out = host.run_as(
        &alice,
        &[
            "assume-role",
            "--role-name",
            "admin",
            "--role-arn",
            "arn:aws:iam::123456789012:role/other",
            "--",
            "id",
        ],
    );
    assert!(one_line_error(&out).contains("is not the ARN of role admin"));
    let err = one_line_error(&run(&alice, &cmd("nosuchrole")));
    assert!(
        err.starts_with("AccessDenied: ") && err.contains("role/nosuchrole"),
        "{err}"
    );
    let out = host.run_as(
        &alice,
        &[
            "assume-role",
            "--role-name",
            "admin",
            "--role-session-name",
            "a b",
            "--",
            "id",
        ],
    );
    assert!(one_line_error(&out).starts_with("ValidationError: "));

    let log = host.audit_log();
    assert!(
        log.lines()
            .filter(|l| l.contains("\"eventName\":\"AssumeRole\"") && l.contains("AccessDenied"))
            .count()
            >= 3,
        "denials are audited: {log}"
    );
}

#[test]
fn mfa_required_by_trust_wrong_and_replayed_codes_fail() {
    if !root_or_skip("mfa_required_by_trust_wrong_and_replayed_codes_fail") {
        return;
    }
    let mut host = Host::new(None);
    let (alice, serial, seed) = secure_role_and_device(&mut host);
    let with_code = |code: &str| {
        host.run_as(
            &alice,
            &[
                "assume-role",
                "--role-name",
                "secure",
                "--serial-number",
                &serial,
                "--token-code",
                code,
                "--",
                "id",
                "-u",
            ],
        )
    };
    let now = totp(&seed, 0);
    let wrong = if now == "123456" { "654321" } else { "123456" };
    let err = one_line_error(&with_code(wrong));
    assert!(err.contains("invalid MFA one time pass code"), "{err}");

    // Without a code: asked for one on stdin (not a terminal here).
    let out = assume_secure_answering(&host, &alice, &now);
    assert_eq!(text(&out.stdout), "0\n", "stderr: {}", text(&out.stderr));

    // The same code again: a replay.
    let err = one_line_error(&with_code(&now));
    assert!(err.contains("already used"), "{err}");
    // No code at all and nothing on stdin: refused.
    let out = host.run_as(
        &alice,
        &["assume-role", "--role-name", "secure", "--", "id"],
    );
    let err = one_line_error(&out);
    assert!(
        err.starts_with("InvalidInput: ") || err.starts_with("AccessDenied: "),
        "{err}"
    );
}

/// AWS allows several MFA devices: without `--serial-number`, a code of any
/// of the user's enabled devices is the second factor the trust policy
/// asks for; with it, only that device's codes count.
#[test]
fn a_code_of_the_second_mfa_device_assumes_a_role_that_requires_mfa() {
    if !root_or_skip("a_code_of_the_second_mfa_device_assumes_a_role_that_requires_mfa") {
        return;
    }
    let mut host = Host::new(None);
    let (alice, phone, _) = secure_role_and_device(&mut host);
    let (_, key) = enrol_device(&host, &alice.name, &format!("{}-key", alice.name));
    // The second device's code, typed when asked.
    let out = assume_secure_answering(&host, &alice, &totp(&key, 0));
    assert_eq!(text(&out.stdout), "0\n", "stderr: {}", text(&out.stderr));
    // Naming the phone: the key's (unused) next code is no code of it.
    let out = host.run_as(
        &alice,
        &[
            "assume-role",
            "--role-name",
            "secure",
            "--serial-number",
            &phone,
            "--token-code",
            &totp(&key, 30),
            "--",
            "id",
            "-u",
        ],
    );
    let err = one_line_error(&out);
    assert!(err.contains("invalid MFA one time pass code"), "{err}");
}

/// `assume-role --role-name secure -- id -u` as `user`, answering the MFA
/// code it asks for on stdin (not a terminal here) with `code`.
fn assume_secure_answering(host: &Host, user: &LinuxUser, code: &str) -> std::process::Output {
    let mut child = host
        .as_user(
            user,
            &["assume-role", "--role-name", "secure", "--", "id", "-u"],
            &[],
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{code}").unwrap();
    }
    child.wait_with_output().unwrap()
}

/// A user allowed to assume roles, the role `secure` whose trust policy
/// wants MFA, and a virtual MFA device for the user, enabled with the codes
/// of the two previous steps so that the current code is still unused.
/// Returns the user, the device's serial and its Base32 seed.
fn secure_role_and_device(host: &mut Host) -> (LinuxUser, String, String) {
    let alice = host.user(Some(ALLOW_ASSUME));
    host.role(
        "secure",
        &trust(
            &[ACCOUNT_ROOT],
            r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
        ),
        &run_as_policy(""),
        &[],
    );
    let (serial, seed) = enrol_device(host, &alice.name, &alice.name);
    (alice, serial, seed)
}

/// A virtual MFA device `device` for `user`, enabled with the codes of the
/// two previous steps (the current code is still unused). Returns its
/// serial and Base32 seed.
fn enrol_device(host: &Host, user: &str, device: &str) -> (String, String) {
    let seed_file = host.dir.join(format!("{device}.seed"));
    let out = host.admin_ok(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        device,
        "--outfile",
        seed_file.to_str().unwrap(),
        "--bootstrap-method",
        "Base32StringSeed",
    ]);
    let serial = json_field(&out, "SerialNumber").expect("SerialNumber");
    let seed = std::fs::read_to_string(&seed_file)
        .unwrap()
        .trim()
        .to_owned();
    host.admin_ok(&[
        "enable-mfa-device",
        "--user-name",
        user,
        "--serial-number",
        &serial,
        "--authentication-code1",
        &totp(&seed, -60),
        "--authentication-code2",
        &totp(&seed, -30),
    ]);
    (serial, seed)
}

/// Starts `sleep 600` with a backgrounded child in a session; returns the
/// running iamctl and the child's pid (printed first by the session).
fn start_sleeper(host: &Host, user: &LinuxUser, extra: &[&str]) -> (std::process::Child, i32) {
    start_sleeper_after(host, user, "", extra)
}

/// [`start_sleeper`] with shell commands run first in iamctl's namespace.
fn start_sleeper_after(
    host: &Host,
    user: &LinuxUser,
    prefix: &str,
    extra: &[&str],
) -> (std::process::Child, i32) {
    let mut args = vec!["assume-role", "--role-name", "admin"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", "sleep 600 & echo $!; exec sleep 600"]);
    let mut child = host.spawn_as(user, prefix, &args);
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let bg: i32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no background pid: {line:?}"));
    assert!(alive(bg));
    (child, bg)
}

#[test]
fn revoke_session_ends_the_session_and_its_background_child() {
    if !root_or_skip("revoke_session_ends_the_session_and_its_background_child") {
        return;
    }
    let (mut host, alice) = admin_host(None);
    let bob = host.user(Some(ALLOW_ASSUME));
    let (mut child, bg) = start_sleeper(&host, &alice, &[]);
    let listed = text(&host.run_as(&alice, &["list-sessions"]).stdout);
    let id = json_field(&listed, "SessionId").expect("an active session is listed");
    assert!(listed.contains("\"Status\": \"active\""), "{listed}");
    // Someone else's session: not listed, and not revocable, without
    // iam:ListSessions / iam:RevokeSession.
    let theirs = host.run_as(&bob, &["list-sessions"]);
    assert!(
        !text(&theirs.stdout).contains(&id),
        "{}",
        text(&theirs.stdout)
    );
    let err = one_line_error(&host.run_as(&bob, &["revoke-session", &id]));
    assert!(
        err.starts_with("AccessDenied: ") && err.contains("iam:RevokeSession"),
        "{err}"
    );

    let start = Instant::now();
    let out = host.run_as(&alice, &["revoke-session", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, err) = wait_bounded(&mut child, Duration::from_secs(5)).expect("ended within 5 s");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!alive(bg), "the backgrounded child survived");
    assert!(err.contains("revoked"), "{err}");
    assert!(
        host.audit_log()
            .contains("\"eventName\":\"SessionRevoked\"")
    );
    // Not twice.
    assert!(one_line_error(&host.run_as(&alice, &["revoke-session", &id])).contains("not active"));

    // With iam:ListSessions and iam:RevokeSession, alice sees and ends
    // bob's session too.
    let (mut child, bg) = start_sleeper(&host, &bob, &["--role-session-name", "bobs"]);
    let listed = text(&host.run_as(&alice, &["list-sessions"]).stdout);
    assert!(listed.contains("assumed-role/admin/bobs"), "{listed}");
    let id = json_field(&listed, "SessionId").unwrap();
    let out = host.run_as(&alice, &["revoke-session", "--session-id", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_bounded(&mut child, Duration::from_secs(5)).expect("ended within 5 s");
    assert!(!alive(bg));
}

#[test]
fn a_short_session_ends_by_itself_on_time() {
    if !root_or_skip("a_short_session_ends_by_itself_on_time") {
        return;
    }
    let (host, alice) = admin_host(Some(2));
    let start = Instant::now();
    let (mut child, bg) = start_sleeper(&host, &alice, &["--duration-seconds", "3"]);
    let (_, err) = wait_bounded(&mut child, Duration::from_secs(12)).expect("session ended");
    let took = start.elapsed();
    // 3 s lifetime + 3 s grace between SIGHUP and SIGKILL (sleep dies at HUP).
    assert!(took >= Duration::from_secs(3), "{took:?}");
    assert!(took < Duration::from_secs(9), "{took:?}");
    assert!(!alive(bg), "the backgrounded child survived");
    assert!(err.contains("ends in ") && err.contains("expired"), "{err}");
    assert!(
        host.audit_log()
            .contains("\"eventName\":\"SessionExpired\"")
    );
}

#[test]
fn nested_assume_role_is_refused_naming_the_session() {
    if !root_or_skip("nested_assume_role_is_refused_naming_the_session") {
        return;
    }
    let (host, alice) = admin_host(None);
    let inner = host.iamctl.to_str().unwrap().to_owned();
    let out = host.run_as(
        &alice,
        &[
            "assume-role",
            "--role-name",
            "admin",
            "--role-session-name",
            "outer",
            "--",
            &inner,
            "assume-role",
            "--role-name",
            "admin",
            "--",
            "id",
            "-u",
        ],
    );
    let err = text(&out.stderr);
    assert!(text(&out.stdout).is_empty(), "the inner command ran");
    assert!(
        err.contains("Already in role session rs-") && err.contains("assumed-role/admin/outer"),
        "{err}"
    );
    // Forging the environment of a session outside one changes nothing.
    let out = host
        .as_user(
            &alice,
            &["assume-role", "--role-name", "admin", "--", "id", "-u"],
            &[
                (
                    "IAM_SESSION_ARN",
                    "arn:aws:sts::123456789012:assumed-role/admin/x",
                ),
                ("IAM_SESSION_ID", "rs-forged"),
            ],
        )
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "0\n", "{}", text(&out.stderr));
}

#[test]
fn environment_attacks_change_nothing() {
    if !root_or_skip("environment_attacks_change_nothing") {
        return;
    }
    let (host, alice) = admin_host(None);
    // A fake `id` and a preload library the caller controls.
    let evil = host.dir.join("evil");
    std::fs::create_dir(&evil).unwrap();
    std::fs::write(evil.join("id"), "#!/bin/sh\necho pwned\n").unwrap();
    std::fs::write(evil.join("env"), "#!/bin/sh\necho pwned\n").unwrap();
    for f in ["id", "env"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(evil.join(f), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let evil_path = format!("{}:/usr/bin:/bin", evil.display());
    let hostile = [
        ("LD_PRELOAD", "/tmp/nonexistent-evil.so"),
        ("LD_LIBRARY_PATH", evil.to_str().unwrap()),
        ("PATH", evil_path.as_str()),
        ("IFS", "/"),
        ("TERM", "../../../tmp/evil\u{1b}]0;x\u{7}"),
        ("ENV", "/tmp/evil.sh"),
        ("BASH_ENV", "/tmp/evil.sh"),
        ("SHELLOPTS", "xtrace"),
        ("PS4", "$(touch /tmp/pwned)"),
    ];
    let run = |cmd: &[&str]| {
        let mut args = vec!["assume-role", "--role-name", "admin", "--"];
        args.extend_from_slice(cmd);
        host.as_user(&alice, &args, &hostile)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["id", "-u"]);
    assert_eq!(text(&out.stdout), "0\n", "stderr: {}", text(&out.stderr));
    let out = run(&["env"]);
    let env = text(&out.stdout);
    for (k, _) in hostile {
        if k != "PATH" {
            assert!(!env.contains(&format!("{k}=")), "{k} leaked: {env}");
        }
    }
    assert!(
        !env.contains("pwned") && !env.contains(evil.to_str().unwrap()),
        "{env}"
    );

    // Closed stdin, stdout and stderr: iamctl reopens /dev/null; the
    // command still runs (and writes where it is told).
    let marker = host.dir.join("ran");
    let script = format!("id -u > {}", marker.display());
    let inner = host.iamctl.to_str().unwrap().to_owned();
    let status = std::process::Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            r#"mount --bind "$1" /etc/iam || exit 99
u=$2; g=$3; bin=$4; shift 4
exec setpriv --reuid="$u" --regid="$g" --clear-groups "$bin" "$@" <&- >&- 2>&-"#,
            "sh",
        ])
        .arg(&host.etc)
        .arg(alice.uid.to_string())
        .arg(alice.gid.to_string())
        .arg(&inner)
        .args([
            "assume-role",
            "--role-name",
            "admin",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "0\n");

    // A huge command line is refused before anything runs.
    let huge = "A".repeat(1000);
    let mut args = vec!["assume-role", "--role-name", "admin", "--", "echo"];
    args.extend(std::iter::repeat_n(huge.as_str(), 200));
    let out = host.run_as(&alice, &args);
    let err = one_line_error(&out);
    assert!(
        err.starts_with("ValidationError: The command is too long"),
        "{err}"
    );
}

#[test]
fn run_as_user_and_groups_come_from_role_tags() {
    if !root_or_skip("run_as_user_and_groups_come_from_role_tags") {
        return;
    }
    let mut host = Host::new(None);
    let alice = host.user(Some(ALLOW_ASSUME));
    // A local account: IAM users are known to NSS only where published.
    let runner = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let run_as = format!("Key=host:RunAs,Value={}", runner.name);
    host.role(
        "deploy",
        &trust(&[ACCOUNT_ROOT], ""),
        &run_as_policy(""),
        &[&run_as, "Key=host:Groups,Value=adm"],
    );
    let out = host.run_as(
        &alice,
        &[
            "assume-role",
            "--role-name",
            "deploy",
            "--",
            "sh",
            "-c",
            "id -u; id -Gn; echo $USER",
        ],
    );
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(
        lines.len(),
        3,
        "stdout {lines:?} stderr {}",
        text(&out.stderr)
    );
    assert_eq!(lines[0], runner.uid.as_raw().to_string());
    assert!(lines[1].split(' ').any(|g| g == "adm"), "{lines:?}");
    assert_eq!(lines[2], runner.name);
}

#[test]
fn a_terminal_gets_its_own_pty() {
    if !root_or_skip("a_terminal_gets_its_own_pty") {
        return;
    }
    let (host, alice) = admin_host(None);
    // script(1) gives iamctl a terminal; the session must get a new pty.
    let inner = format!(
        "unshare -m sh -c 'mount --bind {etc} /etc/iam && exec setpriv --reuid={u} --regid={g} --clear-groups {bin} assume-role --role-name admin -- sh -c \"tty; echo uid=\\$(id -u)\"'",
        etc = host.etc.display(),
        u = alice.uid,
        g = alice.gid,
        bin = host.iamctl.display(),
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(
        shown.contains("/dev/pts/"),
        "{shown:?} {}",
        text(&out.stderr)
    );
    // (script(1) may type its EOF character into the terminal meanwhile.)
    assert!(shown.contains("uid=0\r\n"), "{shown:?}");
}

#[test]
fn a_crashed_supervisor_leaves_no_active_record_and_no_processes() {
    if !root_or_skip("a_crashed_supervisor_leaves_no_active_record_and_no_processes") {
        return;
    }
    let (host, alice) = admin_host(None);
    let (mut child, bg) = start_sleeper(&host, &alice, &[]);
    let listed = text(&host.run_as(&alice, &["list-sessions"]).stdout);
    let id = json_field(&listed, "SessionId").unwrap();
    let pid = listed
        .split("\"SupervisorPid\":")
        .nth(1)
        .and_then(|r| r.trim_start().split([',', '\n', '}']).next())
        .and_then(|p| p.trim().parse::<i32>().ok())
        .expect("SupervisorPid");
    let st = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    // (Its stderr stays open in the orphaned session until it is reaped:
    // only wait for the process.)
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "kill -9 did not end it"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let listed = text(&host.run_as(&alice, &["list-sessions", "--all"]).stdout);
    assert!(
        listed.contains(&id) && listed.contains("\"Status\": \"ended\""),
        "{listed}"
    );
    assert!(!listed.contains("\"Status\": \"active\""), "{listed}");
    let start = Instant::now();
    while alive(bg) && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(bg), "a process of the crashed session survived");
}

#[test]
fn without_a_command_a_login_shell_runs_on_the_pty() {
    if !root_or_skip("without_a_command_a_login_shell_runs_on_the_pty") {
        return;
    }
    let (host, alice) = admin_host(None);
    let inner = format!(
        "unshare -m sh -c 'mount --bind {etc} /etc/iam && exec setpriv --reuid={u} --regid={g} --clear-groups {bin} assume-role --role-name admin --role-session-name shell'",
        etc = host.etc.display(),
        u = alice.uid,
        g = alice.gid,
        bin = host.iamctl.display(),
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        stdin
            .write_all(b"echo \"shell-$((6*7)) $0 $IAM_SESSION_ARN\"; exit\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
    }
    let (_, _) = wait_bounded(&mut child, Duration::from_secs(10)).expect("the shell exited");
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.contains("shell-42 -bash arn:aws:sts::123456789012:assumed-role/admin/shell"),
        "{out:?}"
    );
}

#[test]
fn hostile_signal_dispositions_and_limits_do_not_reach_the_session() {
    if !root_or_skip("hostile_signal_dispositions_and_limits_do_not_reach_the_session") {
        return;
    }
    let (host, alice) = admin_host(None);
    let run = |prefix: &str, script: &str| {
        host.as_user_after(
            &alice,
            prefix,
            &[
                "assume-role",
                "--role-name",
                "admin",
                "--",
                "sh",
                "-c",
                script,
            ],
            &[],
        )
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
    };
    // Ignored signals: the session ignores what a plain start does (libc's
    // reserved real-time signals may show), nothing the caller chose.
    let plain = run("", "grep SigIgn /proc/self/status");
    let out = run(
        "trap '' HUP INT TERM QUIT USR1 CHLD",
        "grep SigIgn /proc/self/status",
    );
    assert_eq!(
        text(&out.stdout),
        text(&plain.stdout),
        "{}",
        text(&out.stderr)
    );
    let mask = text(&out.stdout);
    let mask = u64::from_str_radix(mask.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(
        mask & 0x7fff_ffff,
        0,
        "a standard signal is ignored: {mask:x}"
    );
    // A tiny file size limit: the session writes a whole file anyway, and
    // iamctl is never killed halfway through its own writes: the soft limit
    // is raised; a lowered hard limit is raised too where iamctl may
    // (CAP_SYS_RESOURCE), else refused with one line.
    let file = host.dir.join("big");
    let write = format!(
        "head -c 100000 /dev/zero > {0} && wc -c < {0}",
        file.display()
    );
    let out = run("ulimit -S -f 1", &write);
    assert_eq!(text(&out.stdout).trim(), "100000", "{}", text(&out.stderr));
    let out = run("ulimit -f 1", &write);
    if out.status.success() {
        assert_eq!(text(&out.stdout).trim(), "100000");
    } else {
        assert!(
            one_line_error(&out).starts_with("ServiceFailure: The caller's file size limit"),
            "{:?}",
            out.status
        );
    }
}

#[test]
fn a_large_paste_reaches_the_session_whole() {
    if !root_or_skip("a_large_paste_reaches_the_session_whole") {
        return;
    }
    let (host, alice) = admin_host(None);
    let inner = format!(
        "unshare -m sh -c 'mount --bind {etc} /etc/iam && exec setpriv --reuid={u} --regid={g} --clear-groups {bin} assume-role --role-name admin -- sh -c \"stty -echo; head -n 3000 | wc -l\"'",
        etc = host.etc.display(),
        u = alice.uid,
        g = alice.gid,
        bin = host.iamctl.display(),
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        std::thread::sleep(Duration::from_millis(700));
        for i in 0..3000 {
            if writeln!(stdin, "line {i:>20} of a long paste").is_err() {
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(3));
    });
    let (_, _) = wait_bounded(&mut child, Duration::from_secs(20)).expect("the paste was read");
    writer.join().unwrap();
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains("3000"), "{out:?}");
}

/// In iamctl's mount namespace only, every cgroup2 mount read-only (a
/// per-mount flag: `bind`), as in a container: no session cgroup.
const NO_CGROUP: &str = r#"for m in $(awk '$9 == "cgroup2" {print $5}' /proc/self/mountinfo); do mount -o remount,bind,ro "$m" || exit 98; done"#;

#[test]
fn without_a_cgroup_sessions_still_end_whole() {
    if !root_or_skip("without_a_cgroup_sessions_still_end_whole") {
        return;
    }
    let (host, alice) = admin_host(None);
    let cgroup_of_session = |prefix: &str| {
        let out = host
            .as_user_after(
                &alice,
                prefix,
                &[
                    "assume-role",
                    "--role-name",
                    "admin",
                    "--",
                    "cat",
                    "/proc/self/cgroup",
                ],
                &[],
            )
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert!(!cgroup_of_session(NO_CGROUP).contains("iam/sessions"));
    // Revoked: the supervisor's descendant sweep.
    let (mut child, bg) = start_sleeper_after(&host, &alice, NO_CGROUP, &[]);
    let listed = text(&host.run_as(&alice, &["list-sessions"]).stdout);
    let id = json_field(&listed, "SessionId").unwrap();
    assert!(
        host.run_as(&alice, &["revoke-session", &id])
            .status
            .success()
    );
    wait_bounded(&mut child, Duration::from_secs(5)).expect("ended within 5 s");
    assert!(!alive(bg), "the backgrounded child survived");

    // Supervisor killed: the next iamctl call ends the Linux session it led.
    let (mut child, bg) = start_sleeper_after(&host, &alice, NO_CGROUP, &[]);
    let listed = text(&host.run_as(&alice, &["list-sessions"]).stdout);
    let pid = listed
        .split("\"SupervisorPid\":")
        .nth(1)
        .and_then(|r| r.trim_start().split([',', '\n', '}']).next())
        .and_then(|p| p.trim().parse::<i32>().ok())
        .expect("SupervisorPid");
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(50));
    }
    let listed = text(&host.run_as(&alice, &["list-sessions", "--all"]).stdout);
    assert!(!listed.contains("\"Status\": \"active\""), "{listed}");
    let start = Instant::now();
    while alive(bg) && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(bg), "a process of the crashed session survived");
}

/// Runs the host's iamctl (by absolute path: the session's PATH is the
/// secure one) as COMMAND of an assume-role of `role` by `user`.
fn iamctl_in_session(host: &Host, user: &LinuxUser, role: &str, script: &str) -> String {
    let out = host.run_as(
        user,
        &[
            "assume-role",
            "--role-name",
            role,
            "--role-session-name",
            "inside",
            "--",
            "sh",
            "-c",
            script,
            "sh",
            host.iamctl.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn inside_a_session_the_caller_is_the_assumed_role() {
    if !root_or_skip("inside_a_session_the_caller_is_the_assumed_role") {
        return;
    }
    let (host, alice) = admin_host(None);
    let shown = iamctl_in_session(&host, &alice, "admin", r#""$1" get-caller-identity; id -u"#);
    let arn = json_field(&shown, "Arn").unwrap_or_default();
    assert_eq!(
        arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/admin/inside"),
        "{shown}"
    );
    let user_id = json_field(&shown, "UserId").unwrap_or_default();
    assert!(
        user_id.starts_with("AROA") && user_id.ends_with(":inside"),
        "{shown}"
    );
    assert!(shown.ends_with("0\n"), "the session runs as root: {shown}");
    // Outside, root is the account's root user.
    let out = host.admin_ok(&["get-caller-identity"]);
    assert_eq!(json_field(&out, "Arn").unwrap(), ACCOUNT_ROOT);
}

#[test]
fn inside_a_session_calls_are_authorized_with_the_roles_policies() {
    if !root_or_skip("inside_a_session_calls_are_authorized_with_the_roles_policies") {
        return;
    }
    let mut host = Host::new(None);
    let alice = host.user(Some(ALLOW_ASSUME));
    host.role(
        "reader",
        &trust(&[ACCOUNT_ROOT], ""),
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"RunHere","Effect":"Allow","Action":"host:RunAs","Resource":"*"},{"Sid":"Read","Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}"#,
        &[],
    );
    // Root by uid inside the session, yet the role decides.
    let shown = iamctl_in_session(
        &host,
        &alice,
        "reader",
        r#"id -u; "$1" list-users >/dev/null && echo listed; "$1" create-user --user-name mallory 2>&1; echo "exit=$?""#,
    );
    let session_arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/reader/inside");
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 4, "{shown}");
    assert_eq!(lines[0], "0");
    assert_eq!(lines[1], "listed");
    assert!(
        lines[2].starts_with(&format!(
            "AccessDenied: User: {session_arn} is not authorized to perform: iam:CreateUser"
        )),
        "{shown}"
    );
    assert_eq!(lines[3], "exit=254");
    let out = host.admin_ok(&["list-users"]);
    assert!(!out.contains("mallory"), "{out}");
    // The denial is audited as the assumed role.
    let log = host.audit_log();
    let denial = log
        .lines()
        .find(|l| l.contains("\"eventName\":\"CreateUser\"") && l.contains("AccessDenied"))
        .unwrap_or_else(|| panic!("no CreateUser denial: {log}"));
    assert!(
        denial.contains("\"type\":\"AssumedRole\"") && denial.contains(&session_arn),
        "{denial}"
    );
}

#[test]
fn a_lowered_file_size_limit_cuts_no_write_of_any_verb() {
    if !root_or_skip("a_lowered_file_size_limit_cuts_no_write_of_any_verb") {
        return;
    }
    let (host, alice) = admin_host(None);
    // Root, with a soft limit of one block: the store write completes.
    let out = std::process::Command::new("sh")
        .args(["-c", r#"ulimit -S -f 1; exec "$@""#, "sh"])
        .arg(&host.iamctl)
        .arg("--config")
        .arg(host.config())
        .args(["create-user", "--user-name", "big-limit-user"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{:?} {}",
        out.status,
        text(&out.stderr)
    );
    assert!(
        host.admin_ok(&["get-user", "--user-name", "big-limit-user"])
            .contains("big-limit-user")
    );
    // A user's denied call: the audit line (past the limit) is whole.
    let before = host.audit_log().len();
    assert!(before > 1024, "the log is already past the limit");
    let out = host
        .as_user_after(
            &alice,
            "ulimit -S -f 1",
            &["create-user", "--user-name", "x1"],
            &[],
        )
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(one_line_error(&out).starts_with("AccessDenied: "));
    let log = host.audit_log();
    let last = log[before..].lines().last().unwrap_or_default();
    assert!(
        last.starts_with('{') && last.ends_with('}') && last.contains("AccessDenied"),
        "{last}"
    );
}

// ---- attacks through the caller's own cgroups, terminal and processes ----

/// Waits (bounded) for a file a session writes, and returns its content.
fn read_when_written(path: &std::path::Path, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        if let Ok(t) = std::fs::read_to_string(path)
            && t.ends_with('\n')
        {
            return t.trim().to_owned();
        }
        assert!(start.elapsed() < limit, "{} never written", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (bounded) for process `pid` to be gone; whether it is.
fn gone_within(pid: i32, limit: Duration) -> bool {
    let start = Instant::now();
    while alive(pid) && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

/// Issue 11 item 1: on a systemd host every user owns a delegated cgroup
/// subtree and can make `…/iam-sessions/<live id>` (or `…/iam/sessions/<id>/
/// command`) in it, move a shell there and ask iamctl who it is. Session ids
/// are no secret (any `/proc/PID/cgroup` shows them). Only the exact,
/// root-owned session cgroup counts, and only for the session's run-as uid.
#[test]
fn a_forged_session_cgroup_in_a_delegated_subtree_is_not_the_session() {
    if !root_or_skip("a_forged_session_cgroup_in_a_delegated_subtree_is_not_the_session") {
        return;
    }
    let (mut host, alice) = admin_host(None);
    let mallory = host.user(None);
    let (mut child, bg) = start_sleeper(&host, &alice, &[]);
    let listed = text(&host.run_as(&alice, &["list-sessions"]).stdout);
    let id = json_field(&listed, "SessionId").expect("an active session");
    let cg = std::fs::read_to_string(format!("/proc/{bg}/cgroup")).unwrap();
    assert!(cg.contains(&id), "any process can read a session id: {cg}");
    let delegated = e2e::Delegated::v2(mallory.uid, mallory.gid);
    let d = delegated.path.display().to_string();
    for forged in [
        format!("iam-sessions/{id}"),
        format!("iam/sessions/{id}/command"),
    ] {
        let script = format!(
            r#"mkdir -p {d}/{forged} && echo $$ > {d}/{forged}/cgroup.procs || exit 96
grep -q "/{forged}$" /proc/self/cgroup || exit 95
exec "$IAMCTL" get-caller-identity"#
        );
        let out = host
            .user_shell(&mallory, &delegated.enter_line(), &script)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let shown = text(&out.stdout);
        assert!(out.status.success(), "{forged}: {}", text(&out.stderr));
        assert_eq!(
            json_field(&shown, "Arn"),
            Some(Host::user_arn(&mallory)),
            "{forged}: {shown}"
        );
    }
    // The session itself is untouched by all this.
    assert!(alive(bg));
    assert!(
        host.run_as(&alice, &["revoke-session", &id])
            .status
            .success()
    );
    wait_bounded(&mut child, Duration::from_secs(5)).expect("ended within 5 s");
}

/// An iamctl call made inside a session stays in the session's cgroup (it
/// is root's alone, nothing the caller may freeze): it ends with the
/// session. Were it moved out, a call blocked on input from outside the
/// session (a FIFO) would finish after the session's end, as the role.
#[test]
fn an_iamctl_call_inside_a_session_ends_with_the_session() {
    if !root_or_skip("an_iamctl_call_inside_a_session_ends_with_the_session") {
        return;
    }
    let mut host = Host::new(None);
    let alice = host.user(Some(ALLOW_SELF_SESSIONS));
    // A local account: IAM users are known to NSS only where published.
    let runner = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    host.role(
        "deploy",
        &trust(&[ACCOUNT_ROOT], ""),
        &run_as_policy(""),
        &[&format!("Key=host:RunAs,Value={}", runner.name)],
    );
    let fifo = host.dir.join("doc.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .args(["-m", "666"])
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // A writer outside the session holds the FIFO open (and sends nothing).
    let writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let script = format!(
        r#""$1" put-user-policy --user-name {u} --policy-name p --policy-document file://{f} & echo $!; wait"#,
        u = alice.name,
        f = fifo.display()
    );
    let mut child = host.spawn_as(
        &alice,
        "",
        &[
            "assume-role",
            "--role-name",
            "deploy",
            "--",
            "sh",
            "-c",
            &script,
            "sh",
            host.iamctl.to_str().unwrap(),
        ],
    );
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let inner: i32 = line.trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(alive(inner), "the inner iamctl waits for its document");
    let listed = text(&host.run_as(&alice, &["list-sessions"]).stdout);
    let id = json_field(&listed, "SessionId").expect("an active session");
    assert!(
        host.run_as(&alice, &["revoke-session", &id])
            .status
            .success()
    );
    let ended = gone_within(inner, Duration::from_secs(5));
    drop(writer);
    wait_bounded(&mut child, Duration::from_secs(5)).expect("ended within 5 s");
    assert!(ended, "an iamctl call of the session outlived it");
}

/// Issue 11 item 2 (b): the supervisor used to stay in the caller's cgroup.
/// A caller with a delegated subtree moves everything there into a
/// sub-cgroup of its own and freezes it (or kills it): the clock must run
/// on, and the session end on time all the same.
#[test]
fn the_caller_cannot_freeze_or_kill_the_supervisor_through_its_cgroup() {
    if !root_or_skip("the_caller_cannot_freeze_or_kill_the_supervisor_through_its_cgroup") {
        return;
    }
    let (host, alice) = admin_host(Some(2));
    for attack in ["cgroup.freeze", "cgroup.kill"] {
        let delegated = e2e::Delegated::v2(alice.uid, alice.gid);
        let d = delegated.path.display().to_string();
        let pidfile = host.dir.join(format!("bg-{attack}"));
        let script = format!(
            r#""$IAMCTL" assume-role --role-name admin --duration-seconds 3 -- sh -c 'sleep 600 & echo $! > {pf}; exec sleep 600' &
while [ ! -s {pf} ]; do sleep 0.1; done
mkdir {d}/trap || exit 96
for p in $(cat {d}/cgroup.procs); do [ "$p" = $$ ] || echo "$p" > {d}/trap/cgroup.procs; done 2>/dev/null
echo 1 > {d}/trap/{attack} || exit 95
wait"#,
            pf = pidfile.display()
        );
        let mut child = host
            .user_shell(&alice, &delegated.enter_line(), &script)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let bg: i32 = read_when_written(&pidfile, Duration::from_secs(10))
            .parse()
            .unwrap();
        // 3 s lifetime + 3 s grace, and some slack for a loaded machine.
        let ended = gone_within(bg, Duration::from_secs(12));
        let done = wait_bounded(&mut child, Duration::from_secs(5));
        drop(delegated); // thaws and kills whatever is left there
        let _ = child.kill();
        assert!(ended, "{attack}: the session outlived its expiry");
        let (status, err) = done.expect("iamctl returned");
        assert!(err.contains("expired"), "{attack}: {status:?} {err}");
    }
    let listed = text(&host.run_as(&alice, &["list-sessions"]).stdout);
    assert!(!listed.contains("SessionId"), "{listed}");
}

/// Issue 11 item 2 (a): a caller who stops reading (`… | sleep 100000`)
/// used to stop the supervisor in a blocking write: no expiry, no revoke
/// poll, no kill. Output and notices must never block the clock, with a
/// terminal (relayed pty output) or without (notices on stderr).
#[test]
fn a_caller_who_stops_reading_cannot_hold_off_expiry() {
    if !root_or_skip("a_caller_who_stops_reading_cannot_hold_off_expiry") {
        return;
    }
    let (host, alice) = admin_host(Some(2));
    // Without a terminal: the command's output and iamctl's notices share
    // one pipe that nobody reads.
    let pidfile = host.dir.join("yes-plain");
    let cmd = format!("echo $$ > {}; exec yes", pidfile.display());
    let mut child = host
        .as_user_after(
            &alice,
            "exec 2>&1",
            &[
                "assume-role",
                "--role-name",
                "admin",
                "--duration-seconds",
                "3",
                "--",
                "sh",
                "-c",
                &cmd,
            ],
            &[],
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let yes: i32 = read_when_written(&pidfile, Duration::from_secs(10))
        .parse()
        .unwrap();
    let ended = gone_within(yes, Duration::from_secs(12));
    // The record follows within the bound on flushing output (2 s).
    let start = Instant::now();
    let listed = loop {
        let listed = text(&host.run_as(&alice, &["list-sessions", "--all"]).stdout);
        if listed.contains("\"Status\": \"expired\"") || start.elapsed() > Duration::from_secs(5) {
            break listed;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(child.stdout.take()); // now iamctl's writes fail and it can finish
    let done = wait_bounded(&mut child, Duration::from_secs(5));
    let _ = child.kill();
    assert!(ended, "without a terminal: the session outlived its expiry");
    assert!(listed.contains("\"Status\": \"expired\""), "{listed}");
    assert!(done.is_some(), "iamctl did not return");

    // With a terminal: the session's output is relayed from its pty to a
    // stdout that is a pipe into `sleep`.
    let pidfile = host.dir.join("yes-pty");
    let inner = host.dir.join("inner.sh");
    std::fs::write(
        &inner,
        format!(
            "mount --bind {etc} /etc/iam || exit 99\n\
             setpriv --reuid={u} --regid={g} --clear-groups {bin} assume-role --role-name admin \
             --duration-seconds 3 -- sh -c 'echo $$ > {pf}; exec yes' | sleep 60\n",
            etc = host.etc.display(),
            u = alice.uid,
            g = alice.gid,
            bin = host.iamctl.display(),
            pf = pidfile.display(),
        ),
    )
    .unwrap();
    let mut script = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("unshare -m sh {}", inner.display()),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let yes: i32 = read_when_written(&pidfile, Duration::from_secs(10))
        .parse()
        .unwrap();
    let ended = gone_within(yes, Duration::from_secs(12));
    let _ = script.kill();
    let _ = script.wait();
    if !ended {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &yes.to_string()])
            .status();
    }
    assert!(ended, "with a terminal: the session outlived its expiry");
}

/// Issue 11 item 2 (c): ending a session is persistent. The supervisor
/// used to send SIGKILL once, wait 5 s for the session to be empty and then
/// give up (a fork storm outran the one sweep; whatever survived ran on
/// unsupervised). A process that cannot die yet (here: frozen in a cgroup
/// v1 freezer, where SIGKILL waits for the thaw) must be killed again and
/// waited for, however long it takes.
#[test]
fn ending_a_session_does_not_give_up_until_nothing_is_left() {
    if !root_or_skip("ending_a_session_does_not_give_up_until_nothing_is_left") {
        return;
    }
    let freezer_root = std::path::Path::new("/sys/fs/cgroup/freezer");
    if !freezer_root.join("tasks").exists() {
        eprintln!("skipped: no cgroup v1 freezer on this host");
        return;
    }
    let (host, alice) = admin_host(Some(2));
    let freezer = freezer_root.join(format!("iam-test-frozen-{}", std::process::id()));
    let _ = std::fs::create_dir(&freezer);
    let start = Instant::now();
    let (mut child, bg) = start_sleeper(&host, &alice, &["--duration-seconds", "3"]);
    std::fs::write(freezer.join("cgroup.procs"), bg.to_string()).unwrap();
    std::fs::write(freezer.join("freezer.state"), "FROZEN").unwrap();
    // Expiry at 3 s, SIGKILL at 6 s: the old supervisor gave up at 11 s.
    std::thread::sleep(Duration::from_secs(14).saturating_sub(start.elapsed()));
    let returned_early = child.try_wait().unwrap().is_some();
    let frozen_alive = alive(bg);
    std::fs::write(freezer.join("freezer.state"), "THAWED").unwrap();
    let done = wait_bounded(&mut child, Duration::from_secs(5));
    let gone = gone_within(bg, Duration::from_secs(2));
    let _ = child.kill();
    let _ = std::fs::remove_dir(&freezer);
    assert!(frozen_alive, "the frozen process died before its thaw");
    let (_, err) = done.expect("once it could die, the session ended");
    assert!(
        !returned_early,
        "the supervisor gave up while a process of the session was left: {err}"
    );
    assert!(err.contains("expired"), "{err}");
    assert!(gone, "a process of the session survived");
}

/// Issue 11 item 10: the session's first process used to keep the caller's
/// session keyring (and so the keys in it). It gets a fresh one.
#[test]
fn a_session_gets_a_session_keyring_of_its_own() {
    if !root_or_skip("a_session_gets_a_session_keyring_of_its_own") {
        return;
    }
    let (host, alice) = admin_host(None);
    // keyctl(2) through python's ctypes (keyutils need not be installed):
    // 250 is SYS_keyctl on x86_64, 1 KEYCTL_JOIN_SESSION_KEYRING, 6
    // KEYCTL_DESCRIBE, -3 KEY_SPEC_SESSION_KEYRING.
    let keyctl = "import ctypes, os, sys\n\
        libc = ctypes.CDLL(None, use_errno=True)\n\
        def describe():\n\
        \x20   buf = ctypes.create_string_buffer(512)\n\
        \x20   n = libc.syscall(250, 6, -3, buf, 512)\n\
        \x20   return buf.value.decode() if n > 0 else 'error %d' % ctypes.get_errno()\n";
    let caller = host.dir.join("caller.py");
    std::fs::write(
        &caller,
        format!(
            "{keyctl}\
             assert libc.syscall(250, 1, b'iam-caller-ring') > 0, ctypes.get_errno()\n\
             assert describe().endswith(';iam-caller-ring'), describe()\n\
             os.execv(os.environ['IAMCTL'], ['iamctl', 'assume-role', '--role-name', 'admin', '--',\n\
             \x20   '/usr/bin/python3', '{inside}'])\n",
            inside = host.dir.join("inside.py").display()
        ),
    )
    .unwrap();
    std::fs::write(
        host.dir.join("inside.py"),
        format!("{keyctl}print(describe())\n"),
    )
    .unwrap();
    let out = host
        .user_shell(
            &alice,
            "",
            &format!("exec /usr/bin/python3 {}", caller.display()),
        )
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown} {}", text(&out.stderr));
    assert!(
        shown.starts_with("keyring;0;"),
        "a keyring of root's: {shown}"
    );
    assert!(
        !shown.contains("iam-caller-ring"),
        "the caller's keyring: {shown}"
    );
}

/// Every directory table, dumped in a fixed order (docs/ARCHITECTURE.md).
fn directory_dump(db: &std::path::Path) -> String {
    let tables = [
        "meta",
        "linux_ids",
        "users",
        "login_profiles",
        "password_history",
        "groups",
        "group_members",
        "policies",
        "policy_versions",
        "inline_policies",
        "attachments",
        "roles",
        "mfa_devices",
        "password_policy",
    ];
    let sql: String = tables
        .iter()
        .map(|t| format!("SELECT '== {t}'; SELECT * FROM {t} ORDER BY rowid;"))
        .collect();
    sqlite3(db, &sql)
}

fn sqlite3(db: &std::path::Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .args(["-cmd", ".timeout 5000"])
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 (apt install sqlite3)");
    assert!(out.status.success(), "sqlite3: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Issue 12's "done means", through the built iamctl: an assume-role with
/// a TOTP code writes role sessions, the step and its audit events to the
/// ledger only; the directory tables stay byte-identical, and the outbox
/// is empty afterwards.
#[test]
fn assume_role_with_a_code_writes_nothing_to_the_directory() {
    if !root_or_skip("assume_role_with_a_code_writes_nothing_to_the_directory") {
        return;
    }
    let mut host = Host::new(None);
    let (alice, serial, seed) = secure_role_and_device(&mut host);
    let db = host.dir.join("iam.db");
    let before = directory_dump(&db);
    let steps = sqlite3(&db, "SELECT * FROM totp_steps");
    let out = host.run_as(
        &alice,
        &[
            "assume-role",
            "--role-name",
            "secure",
            "--serial-number",
            &serial,
            "--token-code",
            &totp(&seed, 0),
            "--",
            "id",
            "-u",
        ],
    );
    assert_eq!(text(&out.stdout), "0\n", "stderr: {}", text(&out.stderr));
    assert_eq!(directory_dump(&db), before);
    assert_ne!(sqlite3(&db, "SELECT * FROM totp_steps"), steps);
    assert_eq!(sqlite3(&db, "SELECT count(*) FROM outbox"), "0\n");
}

/// AWS binds a trust policy's user ARN to the user's unique ID when it is
/// saved (User Guide, "IAM JSON policy elements: Principal"): a user deleted
/// and re-created under the trusted name is a new principal and cannot
/// assume the role, and the role's trust policy then shows the old unique
/// ID. Before, the namesake inherited every role trusting `user/NAME`.
#[test]
fn a_user_recreated_under_a_trusted_name_cannot_assume_the_role() {
    if !root_or_skip("a_user_recreated_under_a_trusted_name_cannot_assume_the_role") {
        return;
    }
    let mut host = Host::new(None);
    let bob = host.user(None);
    let old_id = json_field(
        &host.admin_ok(&["get-user", "--user-name", &bob.name]),
        "UserId",
    )
    .unwrap();
    host.role(
        "ops",
        &trust(&[&Host::user_arn(&bob)], ""),
        &run_as_policy(""),
        &[],
    );
    let out = host.run_as(
        &bob,
        &["assume-role", "--role-name", "ops", "--", "id", "-u"],
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));

    host.admin_ok(&["delete-user", "--user-name", &bob.name]);
    host.admin_ok(&["create-user", "--user-name", &bob.name]);
    // The namesake gets a new uid (uids are never reused).
    let passwd = std::fs::read_to_string(host.dir.join("extrausers/passwd")).unwrap();
    let line = passwd
        .lines()
        .find(|l| l.split(':').next() == Some(bob.name.as_str()))
        .unwrap();
    let id = |n: usize| -> u32 { line.split(':').nth(n).unwrap().parse().unwrap() };
    let namesake = LinuxUser {
        uid: id(2),
        gid: id(3),
        name: bob.name.clone(),
    };
    assert_ne!(namesake.uid, bob.uid);
    let out = host.run_as(
        &namesake,
        &["assume-role", "--role-name", "ops", "--", "id", "-u"],
    );
    let err = one_line_error(&out);
    assert!(
        err.contains("is not authorized to perform: sts:AssumeRole"),
        "{err}"
    );
    let role = host.admin_ok(&["get-role", "--role-name", "ops"]);
    assert!(role.contains(&format!("\"{old_id}\"")), "{role}");
}
