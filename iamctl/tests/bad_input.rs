//! Every bad input gives one AWS-style error line, a non-zero exit, and
//! leaves the store exactly as it was (compared with `sqlite3 .dump`).

#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;

/// Runs `args` (with `stdin`), expects failure with `code`, an error line
/// containing `needle`, and an unchanged store.
fn refused(env: &Env, args: &[&str], stdin: &str, code: &str, needle: &str) {
    let before = env.dump();
    let line = env.fail_with(args, stdin);
    assert!(
        line.starts_with(&format!("{code}: ")),
        "{args:?}: expected {code}, got: {line}"
    );
    assert!(
        line.contains(needle),
        "{args:?}: expected {needle:?} in: {line}"
    );
    assert_eq!(before, env.dump(), "{args:?} changed the store");
}

#[test]
fn bad_inputs_are_refused_without_changes() {
    if !require_root("bad_inputs_are_refused_without_changes") {
        return;
    }
    let env = Env::new();
    env.ok(&["create-user", "--user-name", "alice"]);
    env.ok(&["create-group", "--group-name", "devs"]);
    env.ok(&[
        "create-policy",
        "--policy-name",
        "all",
        "--policy-document",
        ALLOW_ALL,
    ]);
    let all = format!("arn:aws:iam::{ACCOUNT}:policy/all");
    let trust = trust_for("alice");
    env.ok(&[
        "create-role",
        "--role-name",
        "ops",
        "--assume-role-policy-document",
        &trust,
    ]);

    // Bad JSON and invalid policies, in every place a document is taken.
    refused(
        &env,
        &[
            "create-policy",
            "--policy-name",
            "p",
            "--policy-document",
            "{not json",
        ],
        "",
        "MalformedPolicyDocument",
        "JSON",
    );
    let bad_effect = r#"{"Version":"2012-10-17","Statement":[{"Sid":"S1","Effect":"Maybe","Action":"*","Resource":"*"}]}"#;
    refused(
        &env,
        &[
            "create-policy",
            "--policy-name",
            "p",
            "--policy-document",
            bad_effect,
        ],
        "",
        "MalformedPolicyDocument",
        "Effect",
    );
    let no_action = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}"#;
    refused(
        &env,
        &[
            "put-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "p",
            "--policy-document",
            no_action,
        ],
        "",
        "MalformedPolicyDocument",
        "Statement[0]",
    );
    refused(
        &env,
        &[
            "create-policy-version",
            "--policy-arn",
            &all,
            "--policy-document",
            bad_effect,
        ],
        "",
        "MalformedPolicyDocument",
        "Effect",
    );
    refused(
        &env,
        &[
            "create-role",
            "--role-name",
            "r2",
            "--assume-role-policy-document",
            ALLOW_ALL,
        ],
        "",
        "MalformedPolicyDocument",
        "Principal",
    );
    refused(
        &env,
        &[
            "update-assume-role-policy",
            "--role-name",
            "ops",
            "--policy-document",
            "[]",
        ],
        "",
        "MalformedPolicyDocument",
        "",
    );
    refused(
        &env,
        &[
            "create-policy",
            "--policy-name",
            "p",
            "--policy-document",
            "file:///nonexistent/p.json",
        ],
        "",
        "InvalidInput",
        "/nonexistent/p.json",
    );
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":[{}]}}]}}"#,
        (0..400)
            .map(|i| format!("\"arn:aws:s3:::bucket-{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    refused(
        &env,
        &[
            "put-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "big",
            "--policy-document",
            &huge,
        ],
        "",
        "LimitExceeded",
        "2048",
    );

    // Unknown entities.
    refused(
        &env,
        &["get-user", "--user-name", "nobody"],
        "",
        "NoSuchEntity",
        "nobody",
    );
    refused(
        &env,
        &["delete-user", "--user-name", "nobody"],
        "",
        "NoSuchEntity",
        "nobody",
    );
    refused(
        &env,
        &[
            "add-user-to-group",
            "--group-name",
            "devs",
            "--user-name",
            "nobody",
        ],
        "",
        "NoSuchEntity",
        "nobody",
    );
    refused(
        &env,
        &[
            "add-user-to-group",
            "--group-name",
            "nogroup",
            "--user-name",
            "alice",
        ],
        "",
        "NoSuchEntity",
        "nogroup",
    );
    refused(
        &env,
        &[
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &format!("arn:aws:iam::{ACCOUNT}:policy/none"),
        ],
        "",
        "NoSuchEntity",
        "none",
    );
    refused(
        &env,
        &["get-role", "--role-name", "none"],
        "",
        "NoSuchEntity",
        "none",
    );
    refused(
        &env,
        &["create-login-profile", "--user-name", "nobody"],
        "Str0ng!Passw0rd\n",
        "NoSuchEntity",
        "nobody",
    );

    // Duplicate names, case-insensitively.
    refused(
        &env,
        &["create-user", "--user-name", "ALICE"],
        "",
        "EntityAlreadyExists",
        "ALICE",
    );
    refused(
        &env,
        &["create-group", "--group-name", "Devs"],
        "",
        "EntityAlreadyExists",
        "Devs",
    );
    refused(
        &env,
        &[
            "create-policy",
            "--policy-name",
            "ALL",
            "--policy-document",
            ALLOW_ALL,
        ],
        "",
        "EntityAlreadyExists",
        "ALL",
    );
    refused(
        &env,
        &[
            "create-role",
            "--role-name",
            "OPS",
            "--assume-role-policy-document",
            &trust,
        ],
        "",
        "EntityAlreadyExists",
        "OPS",
    );

    // Invalid names and parameters.
    refused(
        &env,
        &["create-user", "--user-name", "bad name!"],
        "",
        "ValidationError",
        "UserName",
    );
    refused(
        &env,
        &["create-user", "--user-name", &"a".repeat(65)],
        "",
        "ValidationError",
        "UserName",
    );
    refused(
        &env,
        &["create-user", "--user-name", "x", "--path", "no-slash"],
        "",
        "ValidationError",
        "Path",
    );
    refused(
        &env,
        &["tag-user", "--user-name", "alice", "--tags", "team=ops"],
        "",
        "InvalidInput",
        "--tags",
    );
    refused(
        &env,
        &[
            "tag-user",
            "--user-name",
            "alice",
            "--tags",
            "Key=aws:x,Value=1",
        ],
        "",
        "ValidationError",
        "TagKey",
    );

    // Over a limit: 10 groups per user, 10 managed policies per entity, 5 versions.
    for i in 0..10 {
        env.ok(&["create-group", "--group-name", &format!("g{i}")]);
        env.ok(&[
            "add-user-to-group",
            "--group-name",
            &format!("g{i}"),
            "--user-name",
            "alice",
        ]);
        env.ok(&[
            "create-policy",
            "--policy-name",
            &format!("p{i}"),
            "--policy-document",
            ALLOW_ALL,
        ]);
        env.ok(&[
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &format!("arn:aws:iam::{ACCOUNT}:policy/p{i}"),
        ]);
    }
    refused(
        &env,
        &[
            "add-user-to-group",
            "--group-name",
            "devs",
            "--user-name",
            "alice",
        ],
        "",
        "LimitExceeded",
        "10",
    );
    refused(
        &env,
        &[
            "attach-user-policy",
            "--user-name",
            "alice",
            "--policy-arn",
            &all,
        ],
        "",
        "LimitExceeded",
        "10",
    );
    for _ in 0..4 {
        env.ok(&[
            "create-policy-version",
            "--policy-arn",
            &all,
            "--policy-document",
            ALLOW_ALL,
        ]);
    }
    refused(
        &env,
        &[
            "create-policy-version",
            "--policy-arn",
            &all,
            "--policy-document",
            ALLOW_ALL,
        ],
        "",
        "LimitExceeded",
        "5",
    );

    // Conflicts.
    refused(
        &env,
        &["delete-user", "--user-name", "alice"],
        "",
        "DeleteConflict",
        "",
    );
    refused(
        &env,
        &[
            "delete-policy-version",
            "--policy-arn",
            &all,
            "--version-id",
            "v1",
        ],
        "",
        "DeleteConflict",
        "",
    );

    // Weak passwords name the rule they break.
    env.ok(&[
        "update-account-password-policy",
        "--minimum-password-length",
        "12",
        "--require-symbols",
        "--require-numbers",
        "--require-uppercase-characters",
        "--require-lowercase-characters",
        "--password-reuse-prevention",
        "2",
    ]);
    let lp = ["create-login-profile", "--user-name", "alice"];
    refused(
        &env,
        &lp,
        "Sh0rt!\n",
        "PasswordPolicyViolation",
        "at least 12 characters",
    );
    refused(
        &env,
        &lp,
        "NoSymbolsHere123\n",
        "PasswordPolicyViolation",
        "symbol",
    );
    refused(
        &env,
        &lp,
        "no!upper!case!123\n",
        "PasswordPolicyViolation",
        "uppercase",
    );
    refused(
        &env,
        &lp,
        "NO!LOWER!CASE!123\n",
        "PasswordPolicyViolation",
        "lowercase",
    );
    refused(
        &env,
        &lp,
        "No!Numbers!Here!\n",
        "PasswordPolicyViolation",
        "number",
    );
    refused(&env, &lp, "", "InvalidInput", "no password");
    refused(
        &env,
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password",
            "Str0ng!Passw0rd",
        ],
        "",
        "InvalidInput",
        "never takes passwords from the command line",
    );
    env.ok_with(&lp, "Str0ng!Passw0rd\n");
    let up = ["update-login-profile", "--user-name", "alice", "--password"];
    refused(
        &env,
        &up,
        "Str0ng!Passw0rd\n",
        "PasswordPolicyViolation",
        "last 2 passwords",
    );
    refused(
        &env,
        &[
            "update-account-password-policy",
            "--minimum-password-length",
            "3",
        ],
        "",
        "ValidationError",
        "minimumPasswordLength",
    );

    // MFA: wrong codes are refused and the device stays unassigned.
    let seed_file = env.path("seed");
    env.ok(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "alice",
        "--outfile",
        seed_file.to_str().unwrap(),
        "--bootstrap-method",
        "Base32StringSeed",
    ]);
    let serial = format!("arn:aws:iam::{ACCOUNT}:mfa/alice");
    refused(
        &env,
        &[
            "enable-mfa-device",
            "--user-name",
            "alice",
            "--serial-number",
            &serial,
            "--authentication-code1",
            "123456",
            "--authentication-code2",
            "654321",
        ],
        "",
        "InvalidAuthenticationCode",
        "not valid",
    );

    // Import of a bad file is all-or-nothing.
    let bad = env.write(
        "bad.json",
        r#"{"UserDetailList":[{"UserName":"newbie"},{"UserName":"alice"}]}"#,
    );
    refused(
        &env,
        &["import-authorization-details", &bad],
        "",
        "EntityAlreadyExists",
        "alice",
    );
    let invalid = env.write("invalid.json", r#"{"Policies":[{"PolicyName":"x","PolicyVersionList":[{"VersionId":"v1","IsDefaultVersion":true,"Document":"%7B%22Statement%22%3A%5B%5D%7D"}]}]}"#);
    refused(
        &env,
        &["import-authorization-details", &invalid],
        "",
        "MalformedPolicyDocument",
        "policy x",
    );
    assert!(
        env.fail(&["get-user", "--user-name", "newbie"])
            .starts_with("NoSuchEntity")
    );
    // Issue 11 item 10: the import file was read unbounded (/dev/zero until
    // the setuid process ran out of memory); it is bounded like file://.
    refused(
        &env,
        &["import-authorization-details", "/dev/zero"],
        "",
        "InvalidInput",
        "larger than 64 MiB",
    );
}

#[test]
fn argument_errors_exit_non_zero() {
    // clap's own usage errors (unknown flag, missing required flag).
    for args in [
        &["create-user"][..],
        &["create-user", "--username", "x"],
        &["no-such-verb"],
    ] {
        let out = std::process::Command::new(bin())
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
    }
}

/// A store someone else could have written (planted policies) is refused.
#[test]
fn an_untrusted_store_is_refused() {
    if !require_root("an_untrusted_store_is_refused") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let set = |mode: u32| {
        std::fs::set_permissions(env.db(), std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set(0o666);
    assert!(env.fail(&["list-users"]).contains("refusing to use"));
    set(0o600);
    nix::unistd::chown(&env.db(), Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    assert!(env.fail(&["list-users"]).contains("owned by uid 65534"));
    nix::unistd::chown(&env.db(), Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
    env.ok(&["list-users"]);
}
