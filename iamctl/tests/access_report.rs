//! `iamctl access-report` on a directory whose answers are known by
//! construction (IAM User Guide, "Policy evaluation logic" and "Permissions
//! boundaries"; `sts:AssumeRole` needs the trust policy, and when it names
//! only the account, an identity Allow too):
//! - alice reaches root on web-1 without MFA: host:Login and
//!   sts:AssumeRole from her group's managed policy, the admin role's trust
//!   policy naming the account, the role's host:RunAs;
//! - bob has the same group but a permissions boundary that allows only
//!   host:Login: his path is closed by the boundary;
//! - carol is named by two trust policies that require MFA: root through
//!   breakglass and postgres through dba, both needing MFA;
//! - erin may log in only to db-1 (a host named in her policy) and only
//!   from 10.0.0.0/8; dave may do nothing.
//!
//! Then the page, in Debian's headless chromium: the graph is drawn and
//! alice's path is the highlighted one; its screenshot is the README's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

fn policy(statements: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#)
}

const WEB1: &str = "arn:aws:host::123456789012:host/web-1";

/// The scenario of the module comment, on a host named web-1 tagged
/// env=prod.
fn scenario() -> Env {
    let env = Env::new();
    let config = std::fs::read_to_string(&env.config).unwrap();
    let config = config
        .replacen(
            "account_id = \"123456789012\"\n",
            "account_id = \"123456789012\"\nhostname = \"web-1\"\n",
            1,
        )
        .replacen("[host_tags]", "[host_tags]\nenv = \"prod\"", 1);
    std::fs::write(&env.config, config).unwrap();

    for user in ["alice", "bob", "carol", "dave", "erin"] {
        env.ok(&["create-user", "--user-name", user]);
    }
    env.ok(&["create-group", "--group-name", "ops"]);
    for user in ["alice", "bob"] {
        env.ok(&[
            "add-user-to-group",
            "--group-name",
            "ops",
            "--user-name",
            user,
        ]);
    }
    let ops = env.write(
        "ops.json",
        &policy(&format!(
            r#"{{"Sid":"LoginWeb","Effect":"Allow","Action":"host:Login","Resource":"{WEB1}"}},
               {{"Sid":"BecomeAdmin","Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/admin"}}"#
        )),
    );
    let ops = env.ok(&[
        "create-policy",
        "--policy-name",
        "OpsAccess",
        "--policy-document",
        &ops,
    ]);
    let ops_arn = ops["Policy"]["Arn"].as_str().unwrap().to_owned();
    env.ok(&[
        "attach-group-policy",
        "--group-name",
        "ops",
        "--policy-arn",
        &ops_arn,
    ]);
    let login_only = env.write(
        "login-only.json",
        &policy(r#"{"Effect":"Allow","Action":"host:Login","Resource":"*"}"#),
    );
    let login_only = env.ok(&[
        "create-policy",
        "--policy-name",
        "LoginOnly",
        "--policy-document",
        &login_only,
    ]);
    env.ok(&[
        "put-user-permissions-boundary",
        "--user-name",
        "bob",
        "--permissions-boundary",
        login_only["Policy"]["Arn"].as_str().unwrap(),
    ]);
    let carol = env.write(
        "carol.json",
        &policy(&format!(
            r#"{{"Effect":"Allow","Action":"host:Login","Resource":"{WEB1}"}}"#
        )),
    );
    env.ok(&[
        "put-user-policy",
        "--user-name",
        "carol",
        "--policy-name",
        "CarolLogin",
        "--policy-document",
        &carol,
    ]);
    let erin = env.write(
        "erin.json",
        &policy(
            r#"{"Sid":"FromTheOffice","Effect":"Allow","Action":"host:Login","Resource":"arn:aws:host::123456789012:host/db-1",
                "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#,
        ),
    );
    env.ok(&[
        "put-user-policy",
        "--user-name",
        "erin",
        "--policy-name",
        "ErinLogin",
        "--policy-document",
        &erin,
    ]);

    let account_trust = env.write(
        "account-trust.json",
        &policy(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}"#,
        ),
    );
    let carol_mfa_trust = env.write(
        "carol-trust.json",
        &policy(
            r#"{"Sid":"CarolWithMfa","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/carol"},"Action":"sts:AssumeRole",
                "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}"#,
        ),
    );
    let run_as_anywhere = env.write(
        "run-as.json",
        &policy(r#"{"Sid":"RunAsHere","Effect":"Allow","Action":"host:RunAs","Resource":"*"}"#),
    );
    for (role, trust, tags) in [
        ("admin", &account_trust, None),
        ("breakglass", &carol_mfa_trust, None),
        (
            "dba",
            &carol_mfa_trust,
            Some("Key=host:RunAs,Value=postgres"),
        ),
    ] {
        let mut args = vec![
            "create-role",
            "--role-name",
            role,
            "--assume-role-policy-document",
            trust,
        ];
        if let Some(tags) = tags {
            args.extend(["--tags", tags]);
        }
        env.ok(&args);
        env.ok(&[
            "put-role-policy",
            "--role-name",
            role,
            "--policy-name",
            "RunAs",
            "--policy-document",
            &run_as_anywhere,
        ]);
    }
    env
}

fn user<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["Users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["UserName"] == name)
        .unwrap_or_else(|| panic!("no user {name} in {report:#}"))
}

/// (host, role, run-as, path MFA, root without MFA) of each elevation.
fn paths(u: &Value) -> Vec<(String, String, String, String, bool)> {
    u["Elevations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["Hostname"].as_str().unwrap().to_owned(),
                e["RoleName"].as_str().unwrap().to_owned(),
                e["RunAsUser"].as_str().unwrap().to_owned(),
                e["Mfa"].as_str().unwrap().to_owned(),
                e["RootWithoutMfa"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn logins(u: &Value) -> Vec<(String, String)> {
    u["Logins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["Hostname"].as_str().unwrap().to_owned(),
                l["Mfa"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn path(
    host: &str,
    role: &str,
    run_as: &str,
    mfa: &str,
    root_no_mfa: bool,
) -> (String, String, String, String, bool) {
    (
        host.into(),
        role.into(),
        run_as.into(),
        mfa.into(),
        root_no_mfa,
    )
}

fn grants(gate: &Value) -> Vec<(String, String)> {
    gate["GrantedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["PolicyName"].as_str().unwrap().to_owned(),
                g["AttachedVia"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn access_report_json_answers_who_can_become_root() {
    if !require_root("access_report_json_answers_who_can_become_root") {
        return;
    }
    let env = scenario();
    let report = env.ok(&["access-report"]);

    let hosts: Vec<_> = report["Hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["Hostname"].clone(), h["Source"].clone()))
        .collect();
    assert_eq!(
        hosts,
        [
            (json!("web-1"), json!("Local")),
            (json!("db-1"), json!("Policy"))
        ],
        "this host, then the hosts policies name"
    );

    // A path to root through a group policy and a role trust policy.
    let alice = user(&report, "alice");
    assert_eq!(logins(alice), [("web-1".into(), "NotRequired".into())]);
    assert_eq!(
        paths(alice),
        [path("web-1", "admin", "root", "NotRequired", true)]
    );
    let e = &alice["Elevations"][0];
    assert_eq!(
        grants(&e["AssumeRole"]),
        [
            ("OpsAccess".into(), "group ops".into()),
            ("admin-trust-policy".into(), "trust policy".into())
        ]
    );
    assert_eq!(e["AssumeRole"]["GrantedBy"][0]["Sid"], "BecomeAdmin");
    assert_eq!(grants(&e["RunAs"]), [("RunAs".into(), "role".into())]);
    assert_eq!(
        grants(&alice["Logins"][0]),
        [("OpsAccess".into(), "group ops".into())]
    );

    // The same grants, closed by a permissions boundary that allows only
    // host:Login: bob logs in and goes no further.
    let bob = user(&report, "bob");
    assert_eq!(logins(bob), [("web-1".into(), "NotRequired".into())]);
    assert_eq!(paths(bob), []);
    let via: Vec<_> = grants(&bob["Logins"][0]);
    assert_eq!(
        via,
        [
            ("OpsAccess".into(), "group ops".into()),
            ("LoginOnly".into(), "permissions boundary".into())
        ]
    );

    // Trust policies that require MFA: both of carol's paths need it.
    let carol = user(&report, "carol");
    assert_eq!(
        paths(carol),
        [
            path("web-1", "breakglass", "root", "Required", false),
            path("web-1", "dba", "postgres", "Required", false)
        ]
    );
    let trust = &carol["Elevations"][0]["AssumeRole"];
    assert_eq!(trust["Mfa"], "Required");
    assert_eq!(trust["Conditions"], json!(["MFA"]));
    assert_eq!(
        trust["GrantedBy"][0]["Condition"],
        json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    );
    assert_eq!(carol["HasMfaDevice"], false);

    // A login gated by the source network, on a host named by the policy.
    let erin = user(&report, "erin");
    assert_eq!(logins(erin), [("db-1".into(), "NotRequired".into())]);
    assert_eq!(erin["Logins"][0]["Conditions"], json!(["SourceNetwork"]));
    assert_eq!(
        erin["Logins"][0]["When"],
        json!([{"Key": "aws:SourceIp", "Value": "10.0.0.0"}])
    );
    assert_eq!(paths(erin), []);

    let dave = user(&report, "dave");
    assert_eq!(logins(dave), []);

    assert_eq!(
        report["Summary"],
        json!({"Users": 5, "Hosts": 2, "Roles": 3, "Logins": 4, "Elevations": 3,
               "PathsToRoot": 2, "PathsToRootWithoutMfa": 1})
    );

    // Stable: a second run differs only in its time.
    let again = env.ok(&["access-report"]);
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("GeneratedTime");
        v
    };
    assert_eq!(strip(report.clone()), strip(again));
}

#[test]
fn access_report_filters_and_text_table() {
    if !require_root("access_report_filters_and_text_table") {
        return;
    }
    let env = scenario();
    let only = env.ok(&["access-report", "--user", "carol", "--role", "dba"]);
    assert_eq!(only["Users"].as_array().unwrap().len(), 1);
    assert_eq!(
        paths(user(&only, "carol")),
        [path("web-1", "dba", "postgres", "Required", false)]
    );
    let db1 = env.ok(&["access-report", "--host", "db-1"]);
    let with_logins: Vec<_> = db1["Users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| !u["Logins"].as_array().unwrap().is_empty())
        .map(|u| u["UserName"].as_str().unwrap())
        .collect();
    assert_eq!(with_logins, ["erin"]);

    let text = env.run(&["--output", "text", "access-report"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let alice_row = text
        .stdout
        .lines()
        .find(|l| l.starts_with("alice "))
        .unwrap_or_else(|| panic!("no alice row in\n{}", text.stdout));
    let cells: Vec<_> = alice_row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "alice", "web-1", "no", "MFA", "admin", "root", "no", "MFA", "-", "!"
        ]
    );
    assert!(
        text.stdout.contains("2 paths to root, 1 without MFA"),
        "{}",
        text.stdout
    );

    // html is this verb's alone.
    let refused = env.fail(&["--output", "html", "list-users"]);
    assert!(refused.starts_with("ValidationError:"), "{refused}");
}

/// Debian's chromium, if installed.
fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn headless(profile: &Path) -> Command {
    let mut c = Command::new(chromium().unwrap());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn succeeded(command: &mut Command) -> std::process::Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn access_report_page_draws_the_graph_in_chromium() {
    if !require_root("access_report_page_draws_the_graph_in_chromium") {
        return;
    }
    if chromium().is_none() {
        eprintln!(
            "SKIPPED access_report_page_draws_the_graph_in_chromium: no chromium (apt-get install chromium)"
        );
        return;
    }
    let env = scenario();
    let page = env.run(&["--output", "html", "access-report"]);
    assert_eq!(page.code, 0, "{}", page.stderr);
    assert!(!page.stdout.contains("http://") || !page.stdout.contains("src=\"http"));
    for external in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(
            !page.stdout.contains(external),
            "external asset: {external}"
        );
    }
    let html = env.path("report.html");
    std::fs::write(&html, &page.stdout).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", html.display());

    let dom = succeeded(headless(profile.path()).arg("--dump-dom").arg(&url));
    let dom = String::from_utf8_lossy(&dom.stdout);
    // The script ran and drew every column's nodes and the edges.
    for node in [
        r#"class="node user" data-name="alice""#,
        r#"class="node host" data-name="web-1""#,
        r#"class="node role" data-name="admin""#,
        r#"class="node runas root root-nomfa" data-name="root@web-1""#,
        r#"class="node runas" data-name="postgres@web-1""#,
    ] {
        assert!(dom.contains(node), "{node} not drawn in\n{dom}");
    }
    // alice's path is the highlighted one, edge by edge; carol's is not.
    for edge in [
        r#"class="edge login nomfa root-nomfa" data-from="user:alice" data-to="host:web-1""#,
        r#"class="edge assume nomfa root-nomfa" data-from="host:web-1" data-to="role:admin""#,
        r#"class="edge runas nomfa root-nomfa" data-from="role:admin" data-to="runas:root@web-1""#,
        r#"class="edge assume mfa" data-from="host:web-1" data-to="role:breakglass""#,
    ] {
        assert!(dom.contains(edge), "{edge} not drawn in\n{dom}");
    }
    assert!(dom.contains(r#"id="root-without-mfa">1 path to root without MFA<"#));
    assert!(dom.contains(r#"<tr class="root-nomfa"><td>alice</td><td>web-1</td>"#));

    // The screenshot the README shows.
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/access-report.png");
    succeeded(
        headless(profile.path())
            .arg(format!("--screenshot={}", shot.display()))
            .arg("--window-size=1000,700")
            .arg(&url),
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}
