//! A full administration session as root, checked through get-*/list-*
//! output, then exported and imported into a fresh store.

#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};

fn names(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {v}"))
        .iter()
        .map(|e| e[field].as_str().unwrap().to_owned())
        .collect()
}

/// The store's import keeps entities' CreateDate but stamps policy
/// versions and the policy's UpdateDate with the import time.
fn without_policy_dates(mut v: Value) -> Value {
    for p in v["Policies"].as_array_mut().into_iter().flatten() {
        if let Some(m) = p.as_object_mut() {
            m.remove("UpdateDate");
        }
        for ver in p["PolicyVersionList"].as_array_mut().into_iter().flatten() {
            if let Some(m) = ver.as_object_mut() {
                m.remove("CreateDate");
            }
        }
    }
    v
}

#[test]
fn full_admin_scenario() {
    if !require_root("full_admin_scenario") {
        return;
    }
    let env = Env::new();
    let acct = ACCOUNT;
    let arn = |kind: &str, name: &str| format!("arn:aws:iam::{acct}:{kind}/{name}");

    // init is idempotent.
    let again = env.ok(&["init"]);
    assert_eq!(again["ConfigCreated"], json!(false));
    assert_eq!(again["AccountId"], json!(acct));

    // ---- users ------------------------------------------------------------
    let alice = env.ok(&[
        "create-user",
        "--user-name",
        "alice",
        "--tags",
        "Key=team,Value=ops",
        "Key=cc,Value=42",
    ]);
    assert_eq!(alice["User"]["Arn"], json!(arn("user", "alice")));
    assert!(
        alice["User"]["UserId"]
            .as_str()
            .unwrap()
            .starts_with("AIDA")
    );
    env.ok(&[
        "create-user",
        "--user-name",
        "bob",
        "--path",
        "/staff/",
        "--tags",
        r#"[{"Key":"team","Value":"dev"}]"#,
    ]);
    let bob = env.ok(&["get-user", "--user-name", "bob"]);
    assert_eq!(bob["User"]["Arn"], json!(arn("user", "staff/bob")));
    assert_eq!(
        bob["User"]["Tags"],
        json!([{"Key": "team", "Value": "dev"}])
    );
    assert_eq!(
        names(&env.ok(&["list-users"]), "Users", "UserName"),
        ["alice", "bob"]
    );
    assert_eq!(
        names(
            &env.ok(&["list-users", "--path-prefix", "/staff/"]),
            "Users",
            "UserName"
        ),
        ["bob"]
    );
    env.ok(&[
        "tag-user",
        "--user-name",
        "alice",
        "--tags",
        "Key=team,Value=sec",
    ]);
    env.ok(&["untag-user", "--user-name", "alice", "--tag-keys", "cc"]);
    assert_eq!(
        env.ok(&["list-user-tags", "--user-name", "alice"])["Tags"],
        json!([{"Key": "team", "Value": "sec"}])
    );
    // Published as Linux accounts.
    let passwd = std::fs::read_to_string(env.path("extrausers/passwd")).unwrap();
    for (p, mode) in [
        ("extrausers", 0o755),
        ("extrausers/passwd", 0o644),
        ("iam.db", 0o600),
        ("iam.toml", 0o600),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(env.path(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(m, mode, "mode of {p}");
    }
    assert!(
        passwd.lines().any(|l| l.starts_with("alice:x:")),
        "{passwd}"
    );

    // A valid IAM name that is not a Linux login name: created, with a warning.
    let r = env.run(&["create-user", "--user-name", "Carol.Smith@example"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("not a valid Linux login name"),
        "{}",
        r.stderr
    );
    env.ok(&["delete-user", "--user-name", "Carol.Smith@example"]);

    // ---- groups -----------------------------------------------------------
    env.ok(&["create-group", "--group-name", "devs"]);
    env.ok(&[
        "add-user-to-group",
        "--group-name",
        "devs",
        "--user-name",
        "alice",
    ]);
    env.ok(&[
        "add-user-to-group",
        "--group-name",
        "devs",
        "--user-name",
        "bob",
    ]);
    env.ok(&[
        "remove-user-from-group",
        "--group-name",
        "devs",
        "--user-name",
        "bob",
    ]);
    let g = env.ok(&["get-group", "--group-name", "devs"]);
    assert_eq!(g["Group"]["Arn"], json!(arn("group", "devs")));
    assert_eq!(names(&g, "Users", "UserName"), ["alice"]);
    assert_eq!(
        names(
            &env.ok(&["list-groups-for-user", "--user-name", "alice"]),
            "Groups",
            "GroupName"
        ),
        ["devs"]
    );
    assert_eq!(
        names(&env.ok(&["list-groups"]), "Groups", "GroupName"),
        ["devs"]
    );
    let group_file = std::fs::read_to_string(env.path("extrausers/group")).unwrap();
    assert!(
        group_file
            .lines()
            .any(|l| l.starts_with("devs:") && l.ends_with("alice")),
        "{group_file}"
    );
    // update-group renames: the Linux group follows the name, the gid stays.
    let gid_of = |file: &str, name: &str| {
        file.lines()
            .find(|l| l.split(':').next() == Some(name))
            .and_then(|l| l.split(':').nth(2).map(str::to_owned))
    };
    let gid = gid_of(&group_file, "devs").unwrap();
    env.ok(&[
        "update-group",
        "--group-name",
        "devs",
        "--new-group-name",
        "developers",
    ]);
    let renamed = std::fs::read_to_string(env.path("extrausers/group")).unwrap();
    assert_eq!(gid_of(&renamed, "developers"), Some(gid), "{renamed}");
    assert_eq!(gid_of(&renamed, "devs"), None, "{renamed}");
    env.ok(&[
        "update-group",
        "--group-name",
        "developers",
        "--new-group-name",
        "devs",
    ]);

    // ---- managed policies with versions ------------------------------------
    let v1 = env.write(
        "v1.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Login","Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#,
    );
    let v2 = env.write(
        "v2.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["host:Login","iam:Get*"],"Resource":"*"}]}"#,
    );
    let p = env.ok(&[
        "create-policy",
        "--policy-name",
        "login",
        "--policy-document",
        &v1,
        "--description",
        "may log in",
    ]);
    let parn = arn("policy", "login");
    assert_eq!(p["Policy"]["Arn"], json!(parn));
    assert_eq!(p["Policy"]["DefaultVersionId"], json!("v1"));
    let pv = env.ok(&[
        "create-policy-version",
        "--policy-arn",
        &parn,
        "--policy-document",
        &v2,
        "--set-as-default",
    ]);
    assert_eq!(pv["PolicyVersion"]["VersionId"], json!("v2"));
    assert_eq!(pv["PolicyVersion"]["IsDefaultVersion"], json!(true));
    assert_eq!(
        env.ok(&["get-policy", "--policy-arn", &parn])["Policy"]["DefaultVersionId"],
        json!("v2")
    );
    let got = env.ok(&[
        "get-policy-version",
        "--policy-arn",
        &parn,
        "--version-id",
        "v1",
    ]);
    assert_eq!(
        got["PolicyVersion"]["Document"]["Statement"][0]["Sid"],
        json!("Login")
    );
    assert_eq!(
        names(
            &env.ok(&["list-policy-versions", "--policy-arn", &parn]),
            "Versions",
            "VersionId"
        )
        .len(),
        2
    );
    env.ok(&[
        "set-default-policy-version",
        "--policy-arn",
        &parn,
        "--version-id",
        "v1",
    ]);
    env.ok(&[
        "delete-policy-version",
        "--policy-arn",
        &parn,
        "--version-id",
        "v2",
    ]);
    assert_eq!(
        names(
            &env.ok(&["list-policy-versions", "--policy-arn", &parn]),
            "Versions",
            "VersionId"
        ),
        ["v1"]
    );
    env.ok(&[
        "create-policy",
        "--policy-name",
        "admin",
        "--policy-document",
        ALLOW_ALL,
    ]);
    let admin_arn = arn("policy", "admin");
    assert_eq!(
        names(
            &env.ok(&["list-policies", "--scope", "Local"]),
            "Policies",
            "PolicyName"
        ),
        ["admin", "login"]
    );

    // ---- attachments and inline policies ------------------------------------
    env.ok(&[
        "attach-group-policy",
        "--group-name",
        "devs",
        "--policy-arn",
        &parn,
    ]);
    env.ok(&[
        "attach-user-policy",
        "--user-name",
        "bob",
        "--policy-arn",
        &parn,
    ]);
    env.ok(&[
        "detach-user-policy",
        "--user-name",
        "bob",
        "--policy-arn",
        &parn,
    ]);
    assert_eq!(
        env.ok(&["list-attached-group-policies", "--group-name", "devs"])["AttachedPolicies"],
        json!([{"PolicyName": "login", "PolicyArn": parn}])
    );
    assert_eq!(
        env.ok(&["list-attached-user-policies", "--user-name", "bob"])["AttachedPolicies"],
        json!([])
    );
    assert_eq!(
        env.ok(&["get-policy", "--policy-arn", &parn])["Policy"]["AttachmentCount"],
        json!(1)
    );
    let ents = env.ok(&["list-entities-for-policy", "--policy-arn", &parn]);
    assert_eq!(names(&ents, "PolicyGroups", "GroupName"), ["devs"]);
    let inline = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Self","Effect":"Allow","Action":"iam:ChangePassword","Resource":"arn:aws:iam::*:user/${aws:username}"}]}"#;
    env.ok(&[
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "self",
        "--policy-document",
        inline,
    ]);
    let got = env.ok(&[
        "get-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "self",
    ]);
    assert_eq!(got["UserName"], json!("alice"));
    assert_eq!(got["PolicyDocument"]["Statement"][0]["Sid"], json!("Self"));
    assert_eq!(
        env.ok(&["list-user-policies", "--user-name", "alice"])["PolicyNames"],
        json!(["self"])
    );
    env.ok(&[
        "put-group-policy",
        "--group-name",
        "devs",
        "--policy-name",
        "g",
        "--policy-document",
        &v1,
    ]);
    assert_eq!(
        env.ok(&["list-group-policies", "--group-name", "devs"])["PolicyNames"],
        json!(["g"])
    );
    env.ok(&[
        "delete-group-policy",
        "--group-name",
        "devs",
        "--policy-name",
        "g",
    ]);
    assert_eq!(
        env.ok(&["list-group-policies", "--group-name", "devs"])["PolicyNames"],
        json!([])
    );

    // ---- permissions boundary ----------------------------------------------
    env.ok(&[
        "put-user-permissions-boundary",
        "--user-name",
        "alice",
        "--permissions-boundary",
        &parn,
    ]);
    let a = env.ok(&["get-user", "--user-name", "alice"]);
    assert_eq!(
        a["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"],
        json!(parn)
    );
    // Boundary allows only host:Login: the inline ChangePassword is cut off.
    let sim = env.ok(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &arn("user", "alice"),
        "--action-names",
        "host:Login",
        "iam:ChangePassword",
        "--resource-arns",
        &arn("user", "alice"),
    ]);
    let decisions: Vec<&str> = sim["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["EvalDecision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allowed", "implicitDeny"], "{sim}");
    env.ok(&["delete-user-permissions-boundary", "--user-name", "alice"]);
    let sim = env.ok(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &arn("user", "alice"),
        "--action-names",
        "iam:ChangePassword",
        "--resource-arns",
        &arn("user", "alice"),
        &arn("user", "staff/bob"),
    ]);
    let decisions: Vec<&str> = sim["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["EvalDecision"].as_str().unwrap())
        .collect();
    assert_eq!(
        decisions,
        ["allowed", "implicitDeny"],
        "${{aws:username}} resolves to alice: {sim}"
    );
    assert_eq!(
        sim["EvaluationResults"][0]["MatchedStatements"][0]["SourcePolicyId"],
        json!("self")
    );

    // ---- roles -------------------------------------------------------------
    let trust = env.write("trust.json", &trust_for("alice"));
    let r = env.ok(&[
        "create-role",
        "--role-name",
        "admin",
        "--assume-role-policy-document",
        &trust,
        "--max-session-duration",
        "7200",
        "--description",
        "break glass",
        "--tags",
        "Key=host:RunAs,Value=root",
    ]);
    assert_eq!(r["Role"]["Arn"], json!(arn("role", "admin")));
    assert_eq!(r["Role"]["MaxSessionDuration"], json!(7200));
    env.ok(&[
        "update-role",
        "--role-name",
        "admin",
        "--max-session-duration",
        "3600",
        "--description",
        "admins",
    ]);
    env.ok(&[
        "update-assume-role-policy",
        "--role-name",
        "admin",
        "--policy-document",
        &trust_for("staff/bob"),
    ]);
    // A trust policy naming a user that does not exist (bob lives under
    // /staff/) is refused, as AWS refuses it.
    let err = env.fail(&[
        "update-assume-role-policy",
        "--role-name",
        "admin",
        "--policy-document",
        &trust_for("bob"),
    ]);
    assert!(
        err.starts_with("MalformedPolicyDocument")
            && err.contains(&format!(
                "Invalid principal in policy: \"AWS\":\"{}\"",
                arn("user", "bob")
            )),
        "{err}"
    );
    env.ok(&[
        "tag-role",
        "--role-name",
        "admin",
        "--tags",
        "Key=env,Value=prod",
    ]);
    env.ok(&[
        "attach-role-policy",
        "--role-name",
        "admin",
        "--policy-arn",
        &admin_arn,
    ]);
    env.ok(&[
        "put-role-policy",
        "--role-name",
        "admin",
        "--policy-name",
        "runas",
        "--policy-document",
        &v1,
    ]);
    env.ok(&[
        "put-role-permissions-boundary",
        "--role-name",
        "admin",
        "--permissions-boundary",
        &admin_arn,
    ]);
    let r = env.ok(&["get-role", "--role-name", "admin"]);
    assert_eq!(r["Role"]["MaxSessionDuration"], json!(3600));
    assert_eq!(r["Role"]["Description"], json!("admins"));
    assert_eq!(
        r["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"],
        json!(arn("user", "staff/bob"))
    );
    // The trust is bound to bob's unique id: it follows a rename, shown
    // under the current name as AWS shows it.
    let trusted = |env: &Env| {
        env.ok(&["get-role", "--role-name", "admin"])["Role"]["AssumeRolePolicyDocument"]
            ["Statement"][0]["Principal"]["AWS"]
            .clone()
    };
    env.ok(&[
        "update-user",
        "--user-name",
        "bob",
        "--new-user-name",
        "robert",
    ]);
    assert_eq!(trusted(&env), json!(arn("user", "staff/robert")));
    env.ok(&[
        "update-user",
        "--user-name",
        "robert",
        "--new-user-name",
        "bob",
    ]);
    assert_eq!(trusted(&env), json!(arn("user", "staff/bob")));
    assert_eq!(
        r["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"],
        json!(admin_arn)
    );
    assert_eq!(
        env.ok(&["list-role-tags", "--role-name", "admin"])["Tags"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        env.ok(&["list-role-policies", "--role-name", "admin"])["PolicyNames"],
        json!(["runas"])
    );
    assert_eq!(
        names(
            &env.ok(&["list-attached-role-policies", "--role-name", "admin"]),
            "AttachedPolicies",
            "PolicyName"
        ),
        ["admin"]
    );
    assert_eq!(
        names(&env.ok(&["list-roles"]), "Roles", "RoleName"),
        ["admin"]
    );
    let sim = env.ok(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &arn("role", "admin"),
        "--action-names",
        "host:Login",
        "host:RunAs",
    ]);
    assert_eq!(
        sim["EvaluationResults"][0]["EvalDecision"],
        json!("allowed"),
        "{sim}"
    );
    assert_eq!(
        sim["EvaluationResults"][1]["EvalDecision"],
        json!("allowed"),
        "admin policy allows *: {sim}"
    );
    env.ok(&[
        "create-role",
        "--role-name",
        "tmp",
        "--assume-role-policy-document",
        &trust,
    ]);
    env.ok(&["delete-role", "--role-name", "tmp"]);

    // ---- MFA with codes from oathtool ---------------------------------------
    let seed_file = env.path("alice.seed");
    let d = env.ok(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "alice",
        "--outfile",
        seed_file.to_str().unwrap(),
        "--bootstrap-method",
        "Base32StringSeed",
    ]);
    let serial = arn("mfa", "alice");
    assert_eq!(d["VirtualMFADevice"]["SerialNumber"], json!(serial));
    let seed = std::fs::read_to_string(&seed_file).unwrap();
    assert!(
        seed.len() >= 32
            && seed
                .chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)),
        "{seed}"
    );
    let (c1, c2) = two_codes(&seed);
    // Wrong order is refused; the right order is accepted.
    env.fail(&[
        "enable-mfa-device",
        "--user-name",
        "alice",
        "--serial-number",
        &serial,
        "--authentication-code1",
        &c2,
        "--authentication-code2",
        &c1,
    ]);
    env.ok(&[
        "enable-mfa-device",
        "--user-name",
        "alice",
        "--serial-number",
        &serial,
        "--authentication-code1",
        &c1,
        "--authentication-code2",
        &c2,
    ]);
    let m = env.ok(&["list-mfa-devices", "--user-name", "alice"]);
    assert_eq!(m["MFADevices"][0]["SerialNumber"], json!(serial));
    assert_eq!(m["MFADevices"][0]["UserName"], json!("alice"));
    let png = env.path("bob.png");
    env.ok(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "bob",
        "--outfile",
        png.to_str().unwrap(),
        "--bootstrap-method",
        "QRCodePNG",
    ]);
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    let assigned = env.ok(&[
        "list-virtual-mfa-devices",
        "--assignment-status",
        "Assigned",
    ]);
    assert_eq!(
        names(&assigned, "VirtualMFADevices", "SerialNumber"),
        [serial.as_str()]
    );
    assert_eq!(
        assigned["VirtualMFADevices"][0]["User"]["UserName"],
        json!("alice")
    );
    let unassigned = env.ok(&[
        "list-virtual-mfa-devices",
        "--assignment-status",
        "Unassigned",
    ]);
    assert_eq!(
        names(&unassigned, "VirtualMFADevices", "SerialNumber"),
        [arn("mfa", "bob")]
    );
    // Terminal enrolment: otpauth URI and a half-block QR code on stderr.
    let t = env.run(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "carol",
    ]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(t.stderr.contains("otpauth://totp/"), "{}", t.stderr);
    assert!(t.stderr.contains('▀') || t.stderr.contains('▄'));
    env.ok(&[
        "delete-virtual-mfa-device",
        "--serial-number",
        &arn("mfa", "carol"),
    ]);

    // ---- password policy and login profiles -----------------------------------
    env.ok(&[
        "update-account-password-policy",
        "--minimum-password-length",
        "12",
        "--require-symbols",
        "--require-numbers",
        "--require-uppercase-characters",
        "--require-lowercase-characters",
        "--allow-users-to-change-password",
        "--max-password-age",
        "90",
        "--password-reuse-prevention",
        "3",
    ]);
    let pp = env.ok(&["get-account-password-policy"])["PasswordPolicy"].clone();
    assert_eq!(pp["MinimumPasswordLength"], json!(12));
    assert_eq!(pp["RequireSymbols"], json!(true));
    assert_eq!(pp["MaxPasswordAge"], json!(90));
    assert_eq!(pp["ExpirePasswords"], json!(true));
    let lp = env.ok_with(
        &[
            "create-login-profile",
            "--user-name",
            "alice",
            "--password-reset-required",
        ],
        "Str0ng!Passw0rd\n",
    );
    assert_eq!(lp["LoginProfile"]["PasswordResetRequired"], json!(true));
    env.ok_with(
        &[
            "update-login-profile",
            "--user-name",
            "alice",
            "--no-password-reset-required",
        ],
        "",
    );
    assert_eq!(
        env.ok(&["get-login-profile", "--user-name", "alice"])["LoginProfile"]["PasswordResetRequired"],
        json!(false)
    );
    env.ok_with(
        &["update-login-profile", "--user-name", "alice", "--password"],
        "An0ther!Passw0rd\n",
    );
    // The password never reaches the store or the audit log in clear.
    let audit = std::fs::read_to_string(env.path("audit.log")).unwrap();
    assert!(!audit.contains("Str0ng!Passw0rd") && !audit.contains("An0ther!Passw0rd"));
    assert!(!env.dump().contains("An0ther!Passw0rd"));
    env.ok_with(
        &["create-login-profile", "--user-name", "bob"],
        "B0b!sPassword1\n",
    );
    env.ok(&["delete-login-profile", "--user-name", "bob"]);
    env.ok(&["unlock-user", "--user-name", "alice"]);

    // ---- credential report ---------------------------------------------------
    assert_eq!(
        env.ok(&["generate-credential-report"])["State"],
        json!("COMPLETE")
    );
    let rep = env.ok(&["get-credential-report"]);
    assert_eq!(rep["ReportFormat"], json!("text/csv"));
    let csv = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(rep["Content"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,\
         password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,\
         access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,\
         access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,\
         access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,\
         cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
    );
    assert!(lines.next().unwrap().starts_with("<root_account>,"));
    let alice_row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(alice_row.len(), 22);
    assert_eq!(&alice_row[..2], ["alice", &arn("user", "alice")]);
    assert_eq!(alice_row[3], "true", "password_enabled");
    assert_ne!(
        alice_row[6], "N/A",
        "password_next_rotation with MaxPasswordAge"
    );
    assert_eq!(alice_row[7], "true", "mfa_active");
    let bob_row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&bob_row[3..8], ["false", "N/A", "N/A", "N/A", "false"]);
    let text = env.run(&["get-credential-report", "--output", "text"]);
    assert_eq!(text.stdout, csv);

    // ---- identity, output formats, audit ---------------------------------------
    assert_eq!(
        env.ok(&["get-caller-identity"]),
        json!({"UserId": acct, "Account": acct, "Arn": format!("arn:aws:iam::{acct}:root")})
    );
    let t = env.run(&[
        "list-groups-for-user",
        "--user-name",
        "alice",
        "--output",
        "text",
    ]);
    let line: Vec<&str> = t.stdout.trim_end().split('\t').collect();
    assert_eq!(line[0], "GROUPS");
    assert_eq!(line[1], arn("group", "devs"));
    assert_eq!(line[4], "devs");
    let t = env.run(&["list-users", "--output", "table"]);
    assert!(
        t.stdout.contains("ListUsers") && t.stdout.contains("| alice"),
        "{}",
        t.stdout
    );
    let events: Vec<Value> = std::fs::read_to_string(env.path("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let created = events
        .iter()
        .find(|e| e["eventName"] == "CreateUser")
        .unwrap();
    assert_eq!(created["eventSource"], json!("iam"));
    assert_eq!(created["requestParameters"]["userName"], json!("alice"));
    assert!(events.iter().any(|e| e["eventName"] == "EnableMFADevice"));
    assert!(
        events.iter().all(|e| e["eventName"] != "ListUsers"),
        "reads are not audited"
    );

    // ---- export, import into a fresh store, compare ------------------------------
    let export = env.ok(&["get-account-authorization-details"]);
    assert_eq!(
        names(&export, "UserDetailList", "UserName"),
        ["alice", "bob"]
    );
    assert_eq!(export["UserDetailList"][0]["GroupList"], json!(["devs"]));
    assert_eq!(
        export["Policies"][1]["PolicyVersionList"][0]["Document"]["Statement"][0]["Sid"],
        json!("Login")
    );
    let file = env.path("export.json");
    std::fs::write(&file, serde_json::to_string_pretty(&export).unwrap()).unwrap();
    let fresh = Env::new();
    let summary = fresh.ok(&[
        "import-authorization-details",
        &format!("file://{}", file.display()),
    ]);
    assert_eq!(
        summary["Imported"],
        json!({"Users": 2, "Groups": 1, "Roles": 1, "Policies": 2})
    );
    assert_eq!(
        without_policy_dates(fresh.ok(&["get-account-authorization-details"])),
        without_policy_dates(export.clone())
    );
    let passwd = std::fs::read_to_string(fresh.path("extrausers/passwd")).unwrap();
    assert!(
        passwd.contains("alice:x:"),
        "import publishes accounts: {passwd}"
    );

    // ---- tear down in AWS's order ------------------------------------------------
    env.ok(&[
        "deactivate-mfa-device",
        "--user-name",
        "alice",
        "--serial-number",
        &serial,
    ]);
    env.ok(&["delete-virtual-mfa-device", "--serial-number", &serial]);
    env.ok(&["delete-login-profile", "--user-name", "alice"]);
    env.ok(&[
        "delete-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "self",
    ]);
    env.ok(&[
        "remove-user-from-group",
        "--group-name",
        "devs",
        "--user-name",
        "alice",
    ]);
    env.ok(&["delete-user", "--user-name", "alice"]);
    env.ok(&[
        "detach-group-policy",
        "--group-name",
        "devs",
        "--policy-arn",
        &parn,
    ]);
    env.ok(&["delete-group", "--group-name", "devs"]);
    env.ok(&["delete-account-password-policy"]);
    assert!(
        env.fail(&["get-account-password-policy"])
            .starts_with("NoSuchEntity: ")
    );
    assert_eq!(
        names(&env.ok(&["list-users"]), "Users", "UserName"),
        ["bob"]
    );
}

#[test]
fn completions_and_man_pages_come_from_the_command_tree() {
    let out = std::process::Command::new(bin())
        .args(["completion", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("create-virtual-mfa-device") && script.contains("--user-name"));
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .args(["man", "--out-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("iamctl.1").exists());
    let page = std::fs::read_to_string(dir.path().join("iamctl-create-login-profile.1")).unwrap();
    assert!(page.contains("password\\-reset\\-required"), "{page}");
}

/// A file shaped as `aws iam get-account-authorization-details` prints it
/// for another account (documents as objects and as URL-encoded strings, an
/// AWS managed policy, instance profiles, RoleLastUsed, a boundary on a
/// path) imports in one go and then works here.
#[test]
fn import_from_a_real_aws_export() {
    if !require_root("import_from_a_real_aws_export") {
        return;
    }
    let env = Env::new();
    let fixture = format!(
        "{}/tests/fixtures/aws-authorization-details.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let summary = env.ok(&["import-authorization-details", &fixture]);
    assert_eq!(
        summary["Imported"],
        json!({"Users": 2, "Groups": 1, "Roles": 1, "Policies": 2})
    );

    let alice = env.ok(&["get-user", "--user-name", "alice"])["User"].clone();
    assert_eq!(
        alice["Arn"],
        json!(format!("arn:aws:iam::{ACCOUNT}:user/alice"))
    );
    assert_eq!(
        alice["UserId"],
        json!("AIDACKCEVSQ6C2EXAMPLE"),
        "ids are kept"
    );
    assert_eq!(
        alice["CreateDate"],
        json!("2019-12-18T19:18:47+00:00"),
        "dates are kept"
    );
    let boundary = format!("arn:aws:iam::{ACCOUNT}:policy/boundaries/DevBoundary");
    assert_eq!(
        alice["PermissionsBoundary"]["PermissionsBoundaryArn"],
        json!(boundary)
    );
    assert_eq!(
        env.ok(&[
            "get-user-policy",
            "--user-name",
            "alice",
            "--policy-name",
            "own-password"
        ])["PolicyDocument"]["Statement"][0]["Action"],
        json!("iam:ChangePassword"),
        "URL-encoded documents are decoded"
    );
    assert_eq!(
        env.ok(&["get-policy", "--policy-arn", &boundary])["Policy"]["DefaultVersionId"],
        json!("v2")
    );
    let role = env.ok(&["get-role", "--role-name", "ops-admin"])["Role"].clone();
    assert_eq!(role["Path"], json!("/service-role/"));
    assert_eq!(role["MaxSessionDuration"], json!(7200));
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["Bool"]["aws:MultiFactorAuthPresent"],
        json!("true")
    );
    let attached = env.ok(&["list-attached-user-policies", "--user-name", "alice"]);
    assert_eq!(
        attached["AttachedPolicies"][0]["PolicyName"],
        json!("IAMUserChangePassword")
    );
    assert_eq!(
        env.ok(&["get-group", "--group-name", "Admins"])["Users"][0]["UserName"],
        json!("alice")
    );
    // The imported policies decide: her own inline policy and the AWS managed
    // IAMUserChangePassword allow her password change, her group's inline
    // policy host:Login, all within her boundary (v2: host:* and iam:*),
    // which leaves sts:AssumeRole out.
    let sim = env.ok(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        "--action-names",
        "iam:ChangePassword",
        "host:Login",
        "sts:AssumeRole",
        "--resource-arns",
        &format!("arn:aws:iam::{ACCOUNT}:user/alice"),
    ]);
    let decisions: Vec<&str> = sim["EvaluationResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["EvalDecision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allowed", "allowed", "implicitDeny"], "{sim}");
}

/// simulate-principal-policy on this host's ARN sees the host's tags, as
/// pam_iam's host:Login does.
#[test]
fn simulation_on_this_host_sees_its_tags() {
    if !require_root("simulation_on_this_host_sees_its_tags") {
        return;
    }
    let env = Env::new();
    let text = std::fs::read_to_string(&env.config).unwrap();
    let text = text
        .replacen("[host_tags]", "[host_tags]\nenv = \"prod\"", 1)
        .replacen(
            &format!("account_id = \"{ACCOUNT}\""),
            &format!("account_id = \"{ACCOUNT}\"\nhostname = \"web-1\""),
            1,
        );
    std::fs::write(&env.config, text).unwrap();
    env.ok(&["create-user", "--user-name", "dev"]);
    let prod_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*",
        "Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}}]}"#;
    env.ok(&[
        "put-user-policy",
        "--user-name",
        "dev",
        "--policy-name",
        "prod",
        "--policy-document",
        prod_only,
    ]);
    let decide = |resource: &str| {
        let sim = env.ok(&[
            "simulate-principal-policy",
            "--policy-source-arn",
            &format!("arn:aws:iam::{ACCOUNT}:user/dev"),
            "--action-names",
            "host:Login",
            "--resource-arns",
            resource,
        ]);
        sim["EvaluationResults"][0]["EvalDecision"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        decide(&format!("arn:aws:host::{ACCOUNT}:host/web-1")),
        "allowed"
    );
    assert_eq!(
        decide(&format!("arn:aws:host::{ACCOUNT}:host/other")),
        "implicitDeny"
    );
}

/// AWS managed policies such as ReadOnlyAccess are far over the 6,144
/// characters a customer managed policy may have; an AWS export carries
/// them, so import takes them (still validated) and they decide.
#[test]
fn import_takes_large_aws_managed_policies() {
    if !require_root("import_takes_large_aws_managed_policies") {
        return;
    }
    let env = Env::new();
    let actions: Vec<String> = (0..600).map(|i| format!("s3:GetThing{i:04}")).collect();
    let document = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": "*"}]})
    .to_string();
    assert!(document.len() > 6144);
    let export = json!({
        "UserDetailList": [{"UserName": "bigreader", "Path": "/",
            "AttachedManagedPolicies": [{"PolicyName": "HugeReadOnly",
                "PolicyArn": "arn:aws:iam::aws:policy/HugeReadOnly"}]}],
        "GroupDetailList": [], "RoleDetailList": [],
        "Policies": [{"PolicyName": "HugeReadOnly", "Path": "/",
            "Arn": "arn:aws:iam::aws:policy/HugeReadOnly", "DefaultVersionId": "v1",
            "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": true,
                "Document": document}]}]
    });
    let file = env.dir.path().join("aws-export.json");
    std::fs::write(&file, export.to_string()).unwrap();
    env.ok(&["import-authorization-details", file.to_str().unwrap()]);
    let sim = env.ok(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &format!("arn:aws:iam::{ACCOUNT}:user/bigreader"),
        "--action-names",
        "s3:GetThing0599",
        "s3:PutThing",
    ]);
    assert_eq!(
        sim["EvaluationResults"][0]["EvalDecision"],
        json!("allowed")
    );
    assert_eq!(
        sim["EvaluationResults"][1]["EvalDecision"],
        json!("implicitDeny")
    );

    // The same document as a customer policy is over the limit, as in AWS.
    let mut customer = export.clone();
    customer["Policies"][0]["Arn"] = json!("arn:aws:iam::111122223333:policy/HugeReadOnly");
    customer["UserDetailList"][0]["UserName"] = json!("other");
    customer["Policies"][0]["PolicyName"] = json!("HugeCustomer");
    std::fs::write(&file, customer.to_string()).unwrap();
    let err = env.fail(&["import-authorization-details", file.to_str().unwrap()]);
    assert!(err.contains("6144") || err.contains("6,144"), "{err}");
}

/// AWS managed policies keep their ARNs (`arn:aws:iam::aws:policy/…`; AWS
/// User Guide, "AWS managed policies"): an import of a real
/// `get-account-authorization-details` file (AWS managed policies attached
/// and as boundaries, groups, roles trusting users and roles, a customer
/// boundary with two versions, URL-encoded documents, an empty `Path`)
/// never re-homes them; they stay attachable by that ARN and are exported
/// under it; export → import → export is lossless and a fixed point.
#[test]
fn aws_managed_policies_keep_their_arns_through_export_and_import() {
    if !require_root("aws_managed_policies_keep_their_arns_through_export_and_import") {
        return;
    }
    let fixture = format!(
        "{}/tests/fixtures/aws-authorization-details-managed.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let first = Env::new();
    let summary = first.ok(&["import-authorization-details", &fixture]);
    assert_eq!(
        summary["Imported"],
        json!({"Users": 3, "Groups": 2, "Roles": 2, "Policies": 4})
    );
    let read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let power_user = "arn:aws:iam::aws:policy/PowerUserAccess";
    let alice = first.ok(&["get-user", "--user-name", "alice"])["User"].clone();
    assert_eq!(
        alice["PermissionsBoundary"]["PermissionsBoundaryArn"],
        json!(power_user)
    );
    assert_eq!(
        first.ok(&["list-attached-user-policies", "--user-name", "alice"])["AttachedPolicies"],
        json!([{"PolicyName": "ReadOnlyAccess", "PolicyArn": read_only}])
    );
    // An empty Path in the file is "/".
    assert_eq!(
        first.ok(&["get-user", "--user-name", "bob"])["User"]["Arn"],
        json!(format!("arn:aws:iam::{ACCOUNT}:user/bob"))
    );
    // Attachable by AWS's ARN; this account's spelling names nothing.
    first.ok(&[
        "attach-user-policy",
        "--user-name",
        "bob",
        "--policy-arn",
        read_only,
    ]);
    let rehomed = format!("arn:aws:iam::{ACCOUNT}:policy/ReadOnlyAccess");
    let err = first.fail(&["get-policy", "--policy-arn", &rehomed]);
    assert!(err.starts_with("NoSuchEntity"), "{err}");
    assert_eq!(
        first.ok(&["get-policy", "--policy-arn", read_only])["Policy"]["DefaultVersionId"],
        json!("v91")
    );
    let scoped = |scope: &str| {
        names(
            &first.ok(&["list-policies", "--scope", scope]),
            "Policies",
            "Arn",
        )
    };
    assert_eq!(
        scoped("AWS"),
        [
            "arn:aws:iam::aws:policy/IAMUserChangePassword",
            power_user,
            read_only
        ]
    );
    assert_eq!(
        scoped("Local"),
        [format!(
            "arn:aws:iam::{ACCOUNT}:policy/boundaries/DevBoundary"
        )]
    );
    // The imported AWS managed policy decides (within alice's boundary).
    let sim = first.ok(&[
        "simulate-principal-policy",
        "--policy-source-arn",
        &format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        "--action-names",
        "ec2:DescribeInstances",
        "ec2:RunInstances",
    ]);
    assert_eq!(
        names(&sim, "EvaluationResults", "EvalDecision"),
        ["allowed", "implicitDeny"],
        "{sim}"
    );

    let export = first.ok(&["get-account-authorization-details"]);
    let arns = names(&export, "Policies", "Arn");
    assert!(arns.iter().any(|a| a == read_only), "{arns:?}");
    let only_aws = first.ok(&[
        "get-account-authorization-details",
        "--filter",
        "AWSManagedPolicy",
    ]);
    assert_eq!(
        names(&only_aws, "Policies", "Arn"),
        [
            "arn:aws:iam::aws:policy/IAMUserChangePassword",
            power_user,
            read_only
        ]
    );
    assert!(only_aws.get("UserDetailList").is_none());

    // Export → import → export: the same file, however often.
    let mut previous = export;
    for round in 0..2 {
        let next = Env::new();
        let file = next.path("export.json");
        std::fs::write(&file, serde_json::to_string_pretty(&previous).unwrap()).unwrap();
        next.ok(&["import-authorization-details", file.to_str().unwrap()]);
        let again = next.ok(&["get-account-authorization-details"]);
        assert_eq!(again, previous, "round {round}");
        previous = again;
    }
}

/// A file whose members do not have the types of AWS's response is an
/// error naming the member, never an empty or partial import.
#[test]
fn an_export_of_the_wrong_shape_is_refused_naming_the_member() {
    if !require_root("an_export_of_the_wrong_shape_is_refused_naming_the_member") {
        return;
    }
    let env = Env::new();
    let refused = |text: &str, names: &str| {
        let file = env.write("shape.json", text);
        let err = env.fail(&["import-authorization-details", &file]);
        assert!(err.starts_with("MalformedInput"), "{err}");
        assert!(err.contains(names), "{names:?} not in {err}");
    };
    refused(
        r#"{"UserDetailList": 5}"#,
        "UserDetailList must be a list, not 5",
    );
    refused(
        r#"{"UserDetailList": [7]}"#,
        "UserDetailList[0] must be an object",
    );
    refused(
        r#"{"UserDetailList": [{"UserName": "a", "Tags": {"k": "v"}}]}"#,
        "UserDetailList[0].Tags must be a list",
    );
    refused(
        r#"{"UserDetailList": [{"UserName": "a", "GroupList": [1]}]}"#,
        "UserDetailList[0].GroupList[0] must be a group name",
    );
    refused(
        r#"{"UserDetailList": [{"UserName": 3}]}"#,
        "UserDetailList[0].UserName must be a string",
    );
    refused(
        r#"{"RoleDetailList": [{"RoleName": "r", "MaxSessionDuration": "1h",
            "AssumeRolePolicyDocument": {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}}]}"#,
        "RoleDetailList[0].MaxSessionDuration must be a number of seconds",
    );
    refused(
        r#"{"GroupDetailList": [{"GroupName": "g", "CreateDate": "yesterday"}]}"#,
        "GroupDetailList[0].CreateDate",
    );
    refused(r#"{"Users": []}"#, "unknown member \"Users\"");
    refused(
        r#"{"UserDetailList": [], "IsTruncated": true}"#,
        "IsTruncated",
    );
    assert_eq!(env.ok(&["list-users"])["Users"], json!([]));
}

/// AWS never reuses a unique id, and a trust policy is bound to the ids of
/// the principals it names (a deleted one's id stays in it). An import
/// that gives a new user or role such an id would be trusted in the
/// deleted principal's place: refused, nothing written; without the id it
/// gets a new one.
#[test]
fn import_refuses_a_unique_id_a_trust_policy_is_bound_to() {
    if !require_root("import_refuses_a_unique_id_a_trust_policy_is_bound_to") {
        return;
    }
    let env = Env::new();
    env.ok(&["create-user", "--user-name", "bob"]);
    env.ok(&[
        "create-role",
        "--role-name",
        "old-robot",
        "--assume-role-policy-document",
        &trust_for("bob"),
    ]);
    let bob_id = env.ok(&["get-user", "--user-name", "bob"])["User"]["UserId"]
        .as_str()
        .unwrap()
        .to_owned();
    let robot_id = env.ok(&["get-role", "--role-name", "old-robot"])["Role"]["RoleId"]
        .as_str()
        .unwrap()
        .to_owned();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":["arn:aws:iam::{ACCOUNT}:user/bob","arn:aws:iam::{ACCOUNT}:role/old-robot"]}},"Action":"sts:AssumeRole"}}]}}"#
    );
    env.ok(&[
        "create-role",
        "--role-name",
        "ops",
        "--assume-role-policy-document",
        &trust,
    ]);
    env.ok(&["delete-user", "--user-name", "bob"]);
    env.ok(&["delete-role", "--role-name", "old-robot"]);

    let user =
        |id: &str| json!({"UserDetailList": [{"Path": "/", "UserName": "mallory", "UserId": id}]});
    let role = json!({"RoleDetailList": [{"Path": "/", "RoleName": "new-robot", "RoleId": robot_id,
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}]});
    for (name, doc, id) in [("user", user(&bob_id), &bob_id), ("role", role, &robot_id)] {
        let file = env.write(&format!("{name}.json"), &doc.to_string());
        let before = env.dump();
        let line = env.fail(&["import-authorization-details", &file]);
        assert!(
            line.contains(id.as_str()) && line.contains("role ops"),
            "{line}"
        );
        assert!(line.contains("never reused"), "{line}");
        assert_eq!(before, env.dump(), "a refused import changed the store");
    }
    // Without the id: a new one, which the old binding does not match.
    let file = env.write(
        "fresh.json",
        &json!({"UserDetailList": [{"Path": "/", "UserName": "mallory"}]}).to_string(),
    );
    env.ok(&["import-authorization-details", &file]);
    let mallory = env.ok(&["get-user", "--user-name", "mallory"])["User"]["UserId"].clone();
    assert_ne!(mallory, json!(bob_id));
    let role = env.ok(&["get-role", "--role-name", "ops"])["Role"].clone();
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"][0],
        json!(bob_id),
        "the binding still shows the deleted user's id, as AWS does"
    );
}
