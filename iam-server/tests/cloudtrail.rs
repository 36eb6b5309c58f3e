//! CloudTrail end to end: the real `aws` CLI against a running iam-server
//! (bootstrap, serve), then `aws cloudtrail lookup-events` by user, event
//! name, time range and pages; no secret in any event.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

const AWS: &str = "/opt/iam-venv/bin/aws";

struct Server {
    child: Child,
    port: u16,
    state: PathBuf,
    key: (String, String),
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Server {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let state = dir.join("state");
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "account_id = \"123456789012\"\nlisten = \"127.0.0.1:{port}\"\nstate_dir = {:?}\n",
            state
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let bin = env!("CARGO_BIN_EXE_iam-server");
    let out = Command::new(bin)
        .args(["--config", config.to_str().unwrap(), "bootstrap"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let boot: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = (
        boot["AccessKey"]["AccessKeyId"]
            .as_str()
            .unwrap()
            .to_owned(),
        boot["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let child = Command::new(bin)
        .args(["--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        port,
        state,
        key,
    }
}

impl Server {
    fn aws(&self, args: &[&str]) -> Result<Value, String> {
        let out = Command::new(AWS)
            .args([
                "--endpoint-url",
                &format!("https://localhost:{}", self.port),
            ])
            .args(["--output", "json"])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.state.parent().unwrap())
            .env("AWS_ACCESS_KEY_ID", &self.key.0)
            .env("AWS_SECRET_ACCESS_KEY", &self.key.1)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CA_BUNDLE", self.state.join("tls/cert.pem"))
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        })
    }

    fn names(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["cloudtrail", "lookup-events"];
        all.extend_from_slice(args);
        let out = self.aws(&all).unwrap();
        out["Events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["EventName"].as_str().unwrap().to_owned())
            .collect()
    }
}

#[test]
fn lookup_events_with_the_aws_cli() {
    if !Path::new(AWS).exists() {
        eprintln!("skipped: no {AWS}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let password = "Sup3r-Secret-pw!";
    server
        .aws(&["iam", "create-user", "--user-name", "bob"])
        .unwrap();
    server
        .aws(&["iam", "get-user", "--user-name", "bob"])
        .unwrap();
    let again = server.aws(&["iam", "create-user", "--user-name", "bob"]);
    assert!(again.unwrap_err().contains("EntityAlreadyExists"));
    server
        .aws(&[
            "iam",
            "create-login-profile",
            "--user-name",
            "bob",
            "--password",
            password,
        ])
        .unwrap();
    let role_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;
    server
        .aws(&[
            "iam",
            "create-role",
            "--role-name",
            "ops",
            "--assume-role-policy-document",
            role_policy,
        ])
        .unwrap();
    let creds = server
        .aws(&[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::123456789012:role/ops",
            "--role-session-name",
            "night",
        ])
        .unwrap();
    let secret = creds["Credentials"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = creds["Credentials"]["SessionToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // One event per call, newest first, for the administrator.
    let mine = server.names(&[
        "--lookup-attributes",
        "AttributeKey=Username,AttributeValue=iam-admin",
    ]);
    assert_eq!(
        mine,
        [
            "AssumeRole",
            "CreateRole",
            "CreateLoginProfile",
            "CreateUser",
            "GetUser",
            "CreateUser"
        ]
    );
    let got = server
        .aws(&[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=EventName,AttributeValue=GetUser",
        ])
        .unwrap();
    let event = &got["Events"][0];
    assert_eq!(event["ReadOnly"], "true");
    assert_eq!(event["Resources"][0]["ResourceName"], "bob");
    assert_eq!(event["AccessKeyId"], server.key.0.as_str());
    let trail: Value = serde_json::from_str(event["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(trail["requestParameters"]["userName"], "bob");

    // AssumeRole names the role and the session.
    let assumed = server
        .aws(&[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=EventName,AttributeValue=AssumeRole",
        ])
        .unwrap();
    let trail = assumed["Events"][0]["CloudTrailEvent"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(trail.contains("arn:aws:iam::123456789012:role/ops") && trail.contains("night"));

    // A failed call is one event with its error code.
    let failed = server
        .aws(&[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=EventName,AttributeValue=CreateUser",
        ])
        .unwrap();
    let codes: Vec<Value> = failed["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str::<Value>(e["CloudTrailEvent"].as_str().unwrap()).unwrap()["errorCode"].clone())
        .collect();
    assert_eq!(codes, [Value::from("EntityAlreadyExists"), Value::Null]);

    // Time range: nothing before the run; everything within it.
    assert!(
        server
            .names(&[
                "--start-time",
                "2000-01-01T00:00:00Z",
                "--end-time",
                "2000-01-02T00:00:00Z"
            ])
            .is_empty()
    );
    assert!(
        server
            .names(&["--start-time", "2000-01-01T00:00:00Z"])
            .len()
            >= 6
    );

    // Pages of 2, through the CLI's paginator (NextToken) and by hand.
    // (Writes only: every lookup is itself a new read event.)
    let writes = "AttributeKey=ReadOnly,AttributeValue=false";
    let all = server.names(&["--page-size", "2", "--lookup-attributes", writes]);
    assert_eq!(
        all,
        [
            "AssumeRole",
            "CreateRole",
            "CreateLoginProfile",
            "CreateUser",
            "CreateUser"
        ]
    );
    let first = server
        .aws(&[
            "cloudtrail",
            "lookup-events",
            "--max-results",
            "2",
            "--no-paginate",
        ])
        .unwrap();
    assert_eq!(first["Events"].as_array().unwrap().len(), 2);
    let token_next = first["NextToken"].as_str().unwrap().to_owned();
    let bad = server.aws(&[
        "cloudtrail",
        "lookup-events",
        "--max-results",
        "2",
        "--no-paginate",
        "--next-token",
        &token_next,
        "--lookup-attributes",
        "AttributeKey=ReadOnly,AttributeValue=true",
    ]);
    assert!(bad.unwrap_err().contains("InvalidNextTokenException"));
    let two = server.aws(&[
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=x",
        "AttributeKey=Username,AttributeValue=y",
    ]);
    assert!(
        two.unwrap_err()
            .contains("InvalidLookupAttributesException")
    );

    // Never a secret in any event.
    let every = server
        .aws(&["cloudtrail", "lookup-events"])
        .unwrap()
        .to_string();
    for s in [password, &secret, &token, &server.key.1] {
        assert!(!every.contains(s), "a secret in the events");
    }
}
