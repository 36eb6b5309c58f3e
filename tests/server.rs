//! iam-server end to end: the built binary on a loopback port, driven by the
//! real `aws` CLI and boto3 (tests/server_scenario.py, run with the venv's
//! python), plus what needs a clock the server does not let a client set
//! (replay after 15 minutes, an expired session) through the library's
//! `App::call(&request, now)` with requests botocore signed.
//!
//! Every scenario takes a [`Backend`], so the same run covers PostgreSQL
//! once it exists. Needs root (server.toml must be root's) and the venv
//! (`$IAM_VENV`, else /opt/iam-venv, with awscli and boto3): skipped with a
//! notice without them, failed under `CI=true`.
//!
//! Test support code: a failed setup step should stop the test loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// PostgreSQL 15 for the `Backend::Postgres` runs (shared with
/// iam-server's own tests).
#[path = "../iam-server/tests/support/postgres.rs"]
mod postgres;

use bytes::Bytes;
use e2e::{artifact, require_root, run_with_stdin, tests_dir};
use iam_server::app::{ApiRequest, ApiResponse, App};
use iam_server::config::ServerConfig;
use serde_json::Value;
use tempfile::TempDir;

/// Where the server keeps its directory.
#[derive(Debug, Clone)]
enum Backend {
    /// The embedded SQLite file in `state_dir` (the default).
    Sqlite,
    /// A database of its own on the test process's PostgreSQL 15.
    Postgres { url: String },
}

impl Backend {
    /// A fresh PostgreSQL database; `None` (skipped, failed under CI=true)
    /// without PostgreSQL 15.
    fn postgres() -> Option<Self> {
        let pg = postgres::TestPostgres::shared()?;
        Some(Backend::Postgres {
            url: pg.new_database(),
        })
    }

    /// What this backend adds to server.toml.
    fn config_lines(&self) -> String {
        match self {
            Backend::Sqlite => String::new(),
            Backend::Postgres { url } => format!("[postgres]\nurl = {url:?}\n"),
        }
    }
}

/// The venv's python and aws CLI, or `None` (the test is skipped) when
/// this machine cannot run the test.
fn prerequisites(test: &str) -> Option<Venv> {
    if !require_root(test) {
        return None;
    }
    let dir = std::env::var_os("IAM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/iam-venv"));
    let venv = Venv {
        python: dir.join("bin/python"),
        aws: dir.join("bin/aws"),
    };
    if venv.python.exists() && venv.aws.exists() {
        return Some(venv);
    }
    let why = format!(
        "{test}: no venv with awscli and boto3 at {} (set IAM_VENV)",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why} (CI=true)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED {why}");
    None
}

#[derive(Debug, Clone)]
struct Venv {
    python: PathBuf,
    aws: PathBuf,
}

/// A running iam-server in a temp dir of its own (0700): server.toml
/// (0600), the state dir, its logs, and the first administrator's key.
struct Server {
    dir: TempDir,
    config: PathBuf,
    port: u16,
    child: Option<Child>,
    access_key_id: String,
    secret_access_key: String,
    venv: Venv,
}

impl Server {
    /// Writes the config, bootstraps the administrator, starts serving.
    fn start(backend: &Backend, venv: &Venv) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("iam-server-e2e-")
            .tempdir()
            .expect("temp dir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod 700");
        let port = free_port();
        let config = dir.path().join("server.toml");
        let text = format!(
            "account_id = \"123456789012\"\nlisten = \"127.0.0.1:{port}\"\n\
             state_dir = \"state\"\n{}",
            backend.config_lines()
        );
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&config)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("write server.toml");
        let out = Command::new(artifact("iam-server"))
            .arg("--config")
            .arg(&config)
            .args(["bootstrap", "--user-name", "iam-admin"])
            .output()
            .expect("run iam-server bootstrap");
        assert!(
            out.status.success(),
            "bootstrap: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: Value = serde_json::from_slice(&out.stdout).expect("bootstrap prints JSON");
        let key = &printed["AccessKey"];
        let mut server = Self {
            dir,
            config,
            port,
            child: None,
            access_key_id: key["AccessKeyId"].as_str().expect("AccessKeyId").to_owned(),
            secret_access_key: key["SecretAccessKey"]
                .as_str()
                .expect("SecretAccessKey")
                .to_owned(),
            venv: venv.clone(),
        };
        server.serve();
        server
    }

    /// Starts the process and waits until it says it listens.
    fn serve(&mut self) {
        let log = |name: &str| {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.path().join(name))
                .expect("log file")
        };
        let listening = || {
            let text = fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            let starts = text
                .matches(&format!("listening on https://127.0.0.1:{}", self.port))
                .count();
            (starts, text)
        };
        let (before, _) = listening();
        let mut child = Command::new(artifact("iam-server"))
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log("requests.log"))
            .stderr(log("server.log"))
            .spawn()
            .expect("start iam-server");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (starts, text) = listening();
            if starts > before {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("iam-server exited ({status}): {text}");
            }
            assert!(
                Instant::now() < deadline,
                "iam-server did not start: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    /// `kill -9`: no shutdown, no flush.
    fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// tests/server_scenario.py `scenario` with the administrator's key and
    /// nothing of this machine's AWS configuration.
    fn driver(&self, scenario: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.venv.python);
        cmd.arg(tests_dir().join("server_scenario.py"))
            .arg(scenario)
            .arg("--tmp")
            .arg(self.dir.path())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir.path())
            .env("IAM_ENDPOINT", self.endpoint())
            .env("IAM_AWS_CLI", &self.venv.aws)
            .env("AWS_CA_BUNDLE", self.dir.path().join("state/tls/cert.pem"))
            .env("AWS_ACCESS_KEY_ID", &self.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_access_key)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        cmd
    }

    /// Runs a scenario to its end; fails the test with its message and the
    /// server's log when it fails.
    fn run(&self, scenario: &str, args: &[&str], stdin: &str) -> Output {
        let out = run_with_stdin(self.driver(scenario, args), stdin);
        assert!(
            out.status.success(),
            "scenario {scenario} failed:\n{}\n--- server log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        out
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The library's view of the same server (its config, its directory).
    fn app(&self) -> App {
        App::open(ServerConfig::load(&self.config).expect("server.toml")).expect("App::open")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One scenario of the driver against a fresh server on `backend`.
fn scenario(backend: &Backend, test: &str, name: &str) {
    let Some(venv) = prerequisites(test) else {
        return;
    };
    let server = Server::start(backend, &venv);
    server.run(name, &[], "");
}

#[test]
fn administrator_scenario_with_the_aws_cli_and_boto3() {
    scenario(&Backend::Sqlite, "administrator_scenario", "admin");
}

#[test]
fn each_mistake_gets_the_aws_error_code_and_writes_nothing() {
    scenario(&Backend::Sqlite, "error_codes", "errors");
}

#[test]
fn ssh_public_keys_in_aws_shapes_with_aws_limits_and_errors() {
    scenario(&Backend::Sqlite, "ssh_public_keys", "ssh_keys");
}

/// Issue 14: instance profiles, join tokens, host credentials as the
/// profile's role session, a stolen host key's limits, revocation.
#[test]
fn hosts_enrol_once_act_as_their_role_session_and_stop_when_revoked() {
    hosts_scenario(&Backend::Sqlite, "hosts_enrol");
}

#[test]
fn hosts_enrol_and_are_revoked_on_postgresql() {
    if let Some(pg) = Backend::postgres() {
        hosts_scenario(&pg, "hosts_enrol_pg");
    }
}

fn hosts_scenario(backend: &Backend, test: &str) {
    let Some(venv) = prerequisites(test) else {
        return;
    };
    let server = Server::start(backend, &venv);
    let iam_server = artifact("iam-server");
    let policy = tests_dir().join("../config/policies/IamHostAgent.json");
    let args = [
        "--iam-server",
        iam_server.to_str().expect("path"),
        "--server-config",
        server.config.to_str().expect("path"),
        "--host-policy",
        policy.to_str().expect("path"),
    ];
    server.run("hosts", &args, "");
}

/// Issue 14: `iamctl setup-host --join` enrols over TLS pinned by the
/// server certificate's fingerprint (a wrong pin sends nothing), writes
/// agent.toml root-only and iam.toml's account and hostname, and the
/// credential it wrote is the profile's role session.
#[test]
fn setup_host_join_enrols_over_pinned_tls_and_writes_a_root_only_agent_toml() {
    let Some(venv) = prerequisites("setup_host_join") else {
        return;
    };
    let installed = ["/usr/lib", "/lib"].iter().any(|lib| {
        fs::read_dir(lib)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("security"))
            .chain([std::path::Path::new(lib).join("security")])
            .any(|dir| dir.join("pam_iam.so").exists())
    });
    if installed {
        // setup-host goes on to change this machine's PAM stack.
        eprintln!("skipped: pam_iam.so is installed on this machine");
        return;
    }
    let server = Server::start(&Backend::Sqlite, &venv);
    let config = ServerConfig::load(&server.config).expect("server.toml");
    let store = iam_server::directory::Directory::open(&config)
        .expect("directory")
        .store()
        .expect("store");
    let role = iam::names::RoleName::parse("web-host").expect("role name");
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let new_role = iam::store::NewRole {
        name: role.clone(),
        path: iam::names::IamPath::root(),
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: None,
        tags: Vec::new(),
        permissions_boundary: None,
    };
    let now = chrono::Utc::now();
    store.create_role(&new_role, now).expect("create role");
    let profile = iam::names::InstanceProfileName::parse("web").expect("profile name");
    let new_profile = iam::store::NewInstanceProfile {
        name: profile.clone(),
        path: iam::names::IamPath::root(),
        tags: Vec::new(),
    };
    store
        .create_instance_profile(&new_profile, now)
        .expect("create profile");
    store
        .add_role_to_instance_profile(&profile, &role)
        .expect("add role");
    let token = server.local(&["join-token", "--instance-profile-name", "web"]);
    let log = fs::read_to_string(server.dir.path().join("server.log")).expect("server.log");
    let fingerprint = log
        .split("TLS certificate SHA-256 fingerprint ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .expect("the fingerprint in the server's log")
        .to_owned();

    let host = tempfile::Builder::new()
        .prefix("iam-join-")
        .tempdir()
        .expect("temp dir");
    fs::set_permissions(host.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
    let iam_toml = host.path().join("iam.toml");
    let agent_toml = host.path().join("agent.toml");
    let url = format!("https://127.0.0.1:{}", server.port);
    let setup = |pin: &str, token: &str, stdin: &str| {
        let mut cmd = Command::new(artifact("iamctl"));
        cmd.arg("--config").arg(&iam_toml).args([
            "setup-host",
            "--join",
            &url,
            "--token",
            token,
            "--ca-fingerprint",
            pin,
            "--hostname",
            "web-7",
        ]);
        run_with_stdin(cmd, stdin)
    };

    // Another certificate's pin: refused in the handshake, the token
    // never sent (it still enrols below).
    let wrong = iam::names::CertFingerprint::of_der(b"another certificate").to_string();
    let out = setup(&wrong, &token, "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("not the one --ca-fingerprint names"),
        "{stderr}"
    );
    assert!(!agent_toml.exists() && !iam_toml.exists());

    // The right pin, the token from stdin (kept off argv).
    let out = setup(&fingerprint.to_lowercase(), "-", &format!("{token}\n"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("enrolled as arn:aws:sts::123456789012:assumed-role/web-host/web-7"),
        "{stdout}{stderr}"
    );
    // This machine has no pam_iam.so: the usual setup refuses after.
    assert!(stderr.contains("pam_iam.so is not installed"), "{stderr}");
    let meta = fs::metadata(&agent_toml).expect("agent.toml");
    assert_eq!(
        (
            meta.permissions().mode() & 0o7777,
            nix::unistd::getuid().as_raw()
        ),
        (0o600, 0)
    );
    let agent = iam::config::AgentConfig::load(&agent_toml).expect("agent.toml loads");
    assert_eq!(agent.hostname.as_str(), "web-7");
    assert_eq!(agent.server.as_str(), url);
    assert_eq!(agent.ca_fingerprint.to_string(), fingerprint);
    let host_config = iam::config::HostConfig::load(&iam_toml).expect("iam.toml loads");
    assert_eq!(
        (
            host_config.account_id.as_str(),
            host_config.hostname.as_str()
        ),
        ("123456789012", "web-7")
    );

    // The credential written is the profile's role session.
    let mut whoami = server.driver("whoami", &[]);
    whoami
        .env("AWS_ACCESS_KEY_ID", &agent.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", agent.secret_access_key.expose());
    let out = run_with_stdin(whoami, "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "arn:aws:sts::123456789012:assumed-role/web-host/web-7",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A re-run keeps the enrolment (the token is used up: no second call).
    let out = setup(&fingerprint, "used-up", "");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already enrolled as web-7"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        iam::config::AgentConfig::load(&agent_toml).expect("agent.toml"),
        agent
    );

    // Not root: refused before anything is read or sent.
    let (_bin_dir, setuid) = e2e::setuid_iamctl("iam-join-setuid-");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&setuid)
        .args([
            "setup-host",
            "--join",
            &url,
            "--token",
            "x",
            "--ca-fingerprint",
            &fingerprint,
        ])
        .output()
        .expect("setpriv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("iamctl setup-host must be run by root"),
        "{stderr}"
    );
}

#[test]
fn several_mfa_devices_and_resync_in_aws_shapes_with_aws_limits_and_errors() {
    scenario(&Backend::Sqlite, "mfa_devices", "mfa_devices");
}

#[test]
fn tampered_plain_oversized_and_malformed_requests_are_refused() {
    scenario(&Backend::Sqlite, "negative_requests", "negative");
}

#[test]
fn a_thousand_users_through_the_cli_paginator_and_query() {
    scenario(&Backend::Sqlite, "pagination", "paginate");
}

#[test]
fn fifty_parallel_clients_lose_and_duplicate_nothing() {
    scenario(&Backend::Sqlite, "concurrency", "concurrency");
}

#[test]
fn kill_9_during_writes_loses_no_acknowledged_write() {
    kill_9_during_writes(&Backend::Sqlite);
}

// The same scenarios on PostgreSQL, the fleet's directory of record: the
// whole administrator scenario, and the ones where concurrency and crashes
// are the database's to get right.

#[test]
fn administrator_scenario_on_postgresql() {
    if let Some(pg) = Backend::postgres() {
        scenario(&pg, "administrator_scenario_pg", "admin");
    }
}

#[test]
fn fifty_parallel_clients_on_postgresql() {
    if let Some(pg) = Backend::postgres() {
        scenario(&pg, "concurrency_pg", "concurrency");
    }
}

#[test]
fn kill_9_during_writes_on_postgresql() {
    if let Some(pg) = Backend::postgres() {
        kill_9_during_writes(&pg);
    }
}

fn kill_9_during_writes(backend: &Backend) {
    let Some(venv) = prerequisites("kill_9") else {
        return;
    };
    let mut server = Server::start(backend, &venv);
    let mut writer = server
        .driver("writes", &[])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the writer");
    let stdout = writer.stdout.take().expect("writer stdout");
    let (sent, acknowledged) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sent.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < 40 {
        assert!(
            Instant::now() < deadline,
            "only {} writes in 60 s",
            acked.len()
        );
        if let Ok(name) = acknowledged.recv_timeout(Duration::from_secs(5)) {
            acked.push(name);
        }
    }
    server.kill_9();
    let status = writer.wait().expect("writer exits once the server is gone");
    reader.join().expect("reader thread");
    acked.extend(acknowledged.try_iter());
    assert!(!status.success() || !acked.is_empty(), "writer: {status}");
    server.serve();
    let out = server.run("exists", &[], &(acked.join("\n") + "\n"));
    let checked: Value = serde_json::from_slice(&out.stdout).expect("exists prints JSON");
    assert_eq!(checked["checked"].as_u64(), Some(acked.len() as u64));
}

// --- the clock the server does not let a client set -------------------------

/// A request botocore signed (tests/server_scenario.py `sign`), as the front
/// end would hand it to [`App::call`].
fn captured(server: &Server, args: &[&str]) -> ApiRequest {
    let out = server.run("sign", args, "");
    let signed: Value = serde_json::from_slice(&out.stdout).expect("sign prints JSON");
    let mut builder = http::Request::builder().method("POST").uri("/");
    for (name, value) in signed["headers"].as_object().expect("headers") {
        builder = builder.header(name.as_str(), value.as_str().expect("header value"));
    }
    let (parts, ()) = builder.body(()).expect("request").into_parts();
    ApiRequest {
        parts,
        body: Bytes::from(signed["body"].as_str().expect("body").to_owned()),
        peer: "127.0.0.1".parse().expect("ip"),
    }
}

fn at(unix: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(unix, 0).expect("a time")
}

fn assert_refused(answer: &ApiResponse, status: u16, code: &str, what: &str) {
    assert_eq!(
        (answer.status, answer.error_code.as_deref()),
        (status, Some(code)),
        "{what}: {}",
        answer.body
    );
}

#[test]
fn a_request_replayed_after_15_minutes_is_refused() {
    let Some(venv) = prerequisites("replay") else {
        return;
    };
    let server = Server::start(&Backend::Sqlite, &venv);
    let signed_at = chrono::Utc::now().timestamp();
    let when = signed_at.to_string();
    let create = captured(
        &server,
        &[
            "--at",
            &when,
            "--params",
            "Action=CreateUser&Version=2010-05-08&UserName=replayed",
        ],
    );
    let list = captured(&server, &["--at", &when]);
    let app = server.app();
    let minutes = |m: i64| at(signed_at + m * 60);
    assert_refused(
        &app.call(&create, minutes(16)),
        403,
        "SignatureDoesNotMatch",
        "CreateUser 16 minutes later",
    );
    assert_refused(
        &app.call(&list, minutes(-16)),
        403,
        "SignatureDoesNotMatch",
        "a request dated 16 minutes ahead",
    );
    assert_eq!(app.call(&list, minutes(14)).status, 200, "14 minutes later");
    // Nothing was created by the refused replay; the same bytes at their
    // own time are fine.
    let listed = app.call(&list, minutes(0));
    assert_eq!(listed.status, 200);
    assert!(!listed.body.contains("replayed"), "{}", listed.body);
    let created = app.call(&create, minutes(0));
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("<UserName>replayed</UserName>"));
}

#[test]
fn an_expired_session_token_is_refused() {
    let Some(venv) = prerequisites("expired_session") else {
        return;
    };
    let server = Server::start(&Backend::Sqlite, &venv);
    let out = server.run("assume", &[], "");
    let session = String::from_utf8(out.stdout).expect("utf-8");
    let credentials: Value = serde_json::from_str(&session).expect("credentials");
    let expires = chrono::DateTime::parse_from_rfc3339(
        credentials["Expiration"].as_str().expect("Expiration"),
    )
    .expect("an RFC 3339 Expiration")
    .timestamp();
    let now = chrono::Utc::now().timestamp();
    assert!(
        (now + 850..=now + 900).contains(&expires),
        "a 900 s session"
    );
    let sign = |when: i64| {
        captured(
            &server,
            &[
                "--service",
                "sts",
                "--params",
                "Action=GetCallerIdentity&Version=2011-06-15",
                "--session",
                session.trim(),
                "--at",
                &when.to_string(),
            ],
        )
    };
    let app = server.app();
    let before = sign(expires - 60);
    let after = sign(expires + 60);
    let answer = app.call(&before, at(expires - 60));
    assert_eq!(
        answer.status, 200,
        "a minute before expiry: {}",
        answer.body
    );
    assert!(
        answer.body.contains("assumed-role/short/brief"),
        "{}",
        answer.body
    );
    assert_refused(
        &app.call(&after, at(expires + 60)),
        403,
        "ExpiredToken",
        "a minute after expiry",
    );
    // The secret never appears in what the server answers.
    let secret = credentials["SecretAccessKey"].as_str().expect("secret");
    assert!(!app.call(&after, at(expires + 60)).body.contains(secret));
}

// Fleet hosts (issue 14): each a temp host of the harness (iam.toml, its
// store as the replica, a PAM service loading the built module) with a
// real iam-agent following a real iam-server on PostgreSQL.

impl Server {
    /// The aws CLI with `key`; its output, whatever happened.
    fn aws_with(&self, key: (&str, &str), args: &[&str]) -> Output {
        Command::new(&self.venv.aws)
            .args(args)
            .args(["--endpoint-url", &self.endpoint(), "--output", "json"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.dir.path())
            .env("AWS_CA_BUNDLE", self.dir.path().join("state/tls/cert.pem"))
            .env("AWS_ACCESS_KEY_ID", key.0)
            .env("AWS_SECRET_ACCESS_KEY", key.1)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .stdin(Stdio::null())
            .output()
            .expect("run aws")
    }

    /// The aws CLI as the administrator; its JSON (`null` when it prints
    /// nothing). Fails the test when the call fails.
    fn aws(&self, args: &[&str]) -> Value {
        let out = self.aws_with((&self.access_key_id, &self.secret_access_key), args);
        assert!(
            out.status.success(),
            "aws {args:?}: {}\n--- server log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// The certificate fingerprint the server printed at start.
    fn fingerprint(&self) -> String {
        let text = fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        text.lines()
            .rev()
            .find_map(|l| l.split("SHA-256 fingerprint ").nth(1))
            .expect("the server prints its fingerprint")
            .trim()
            .to_owned()
    }

    /// The fleet's host role, allowed what config/policies/IamHostAgent.json
    /// allows (sync and report) and nothing else, in instance profile
    /// `fleet`.
    fn host_profile(&self) {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        self.aws(&[
            "iam",
            "create-role",
            "--role-name",
            "fleet-host",
            "--assume-role-policy-document",
            trust,
        ]);
        self.aws(&[
            "iam",
            "put-role-policy",
            "--role-name",
            "fleet-host",
            "--policy-name",
            "Agent",
            "--policy-document",
            include_str!("../config/policies/IamHostAgent.json"),
        ]);
        self.aws(&[
            "iam",
            "create-instance-profile",
            "--instance-profile-name",
            "fleet",
        ]);
        self.aws(&[
            "iam",
            "add-role-to-instance-profile",
            "--instance-profile-name",
            "fleet",
            "--role-name",
            "fleet-host",
        ]);
    }

    /// One of the server's local commands (`join-token`, `revoke-host`)
    /// on its config; what it printed, trimmed. Fails the test if it fails.
    fn local(&self, args: &[&str]) -> String {
        let out = Command::new(artifact("iam-server"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .expect("run iam-server");
        assert!(
            out.status.success(),
            "iam-server {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Enrols `hostname` in instance profile `fleet` as setup-host --join
    /// does: a one-time token from `iam-server join-token`, used up by the
    /// unsigned `JoinHost` call. The host's key.
    fn enrol(&self, hostname: &str) -> (String, String) {
        let token = self.local(&["join-token", "--instance-profile-name", "fleet"]);
        const JOIN: &str = "import json, ssl, sys, urllib.request\n\
            url, ca, token, host = sys.argv[1:]\n\
            body = json.dumps({'Token': token, 'Hostname': host}).encode()\n\
            req = urllib.request.Request(url, data=body, headers={\n\
                'X-Amz-Target': 'IamHost_20261203.JoinHost',\n\
                'Content-Type': 'application/x-amz-json-1.1'})\n\
            ctx = ssl.create_default_context(cafile=ca)\n\
            print(urllib.request.urlopen(req, context=ctx).read().decode())\n";
        let out = Command::new(&self.venv.python)
            .arg("-c")
            .arg(JOIN)
            .arg(self.endpoint())
            .arg(self.dir.path().join("state/tls/cert.pem"))
            .arg(&token)
            .arg(hostname)
            .output()
            .expect("JoinHost");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let joined: Value = serde_json::from_slice(&out.stdout).expect("JoinHost answer");
        (
            joined["AccessKeyId"].as_str().unwrap().to_owned(),
            joined["SecretAccessKey"].as_str().unwrap().to_owned(),
        )
    }
}

/// A host of the fleet: a harness host whose store is a replica kept by
/// its own iam-agent.
struct FleetHost {
    host: e2e::Host,
    agent_config: PathBuf,
    agent: Option<Child>,
}

impl FleetHost {
    /// A new harness host enrolled as `name` (see [`Server::enrol`]).
    fn join(server: &Server, name: &str) -> Self {
        let key = server.enrol(name);
        let host = e2e::Host::new("");
        let agent_config = host.path().join("agent.toml");
        let text = format!(
            "server = \"https://localhost:{}\"\nca_fingerprint = \"{}\"\nhostname = \"{name}\"\n\
             access_key_id = \"{}\"\nsecret_access_key = \"{}\"\n",
            server.port,
            server.fingerprint(),
            key.0,
            key.1
        );
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&agent_config)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("write agent.toml");
        Self {
            host,
            agent_config,
            agent: None,
        }
    }

    fn agent(&self) -> Command {
        let mut cmd = Command::new(artifact("iam-agent"));
        cmd.arg("--config")
            .arg(&self.agent_config)
            .arg("--iam-config")
            .arg(&self.host.config)
            .stdin(Stdio::null());
        cmd
    }

    /// One round of the agent, to its end.
    fn sync_once(&self) -> Output {
        self.agent().arg("--once").output().expect("run iam-agent")
    }

    /// The agent as a daemon, logging to agent.log.
    fn start_agent(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.host.path().join("agent.log"))
            .expect("agent log");
        self.agent = Some(
            self.agent()
                .arg("--wait-seconds")
                .arg("20")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start iam-agent"),
        );
    }

    fn agent_log(&self) -> String {
        fs::read_to_string(self.host.path().join("agent.log")).unwrap_or_default()
    }

    /// A password login (authenticate, then the account stage's policy).
    fn login(&self, service: &e2e::PamService, user: &str, password: &str) -> e2e::PamResult {
        e2e::pamtester(
            service,
            user,
            Some("10.0.0.7"),
            &["authenticate", "acct_mgmt"],
            &[password],
        )
    }

    fn users(&self) -> Vec<String> {
        let mut names: Vec<String> = self.host.iamctl(&["list-users"])["Users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["UserName"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for FleetHost {
    fn drop(&mut self) {
        if let Some(mut child) = self.agent.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

const PASSWORD_STACK: &str = "auth required @MODULE@ mode=password\naccount required @MODULE@\n";

/// Waits up to `limit` for `done`; how long it took, or `None`.
fn within(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// A server on PostgreSQL with the fleet's instance profile
/// ([`Server::host_profile`]), or `None` when this machine cannot run it.
fn fleet_server(test: &str) -> Option<Server> {
    let venv = prerequisites(test)?;
    let pg = Backend::postgres()?;
    let server = Server::start(&pg, &venv);
    server.host_profile();
    Some(server)
}

#[test]
fn a_central_change_reaches_every_replica_and_logins_follow_it() {
    let Some(server) = fleet_server("fleet_replicas") else {
        return;
    };
    let password = "Fleet-Passw0rd!";
    server.aws(&["iam", "create-user", "--user-name", "alice"]);
    server.aws(&[
        "iam",
        "create-login-profile",
        "--user-name",
        "alice",
        "--password",
        password,
        "--no-password-reset-required",
    ]);
    let policy = server.aws(&[
        "iam",
        "create-policy",
        "--policy-name",
        "Login",
        "--policy-document",
        e2e::ALLOW_LOGIN,
    ]);
    let policy_arn = policy["Policy"]["Arn"].as_str().unwrap().to_owned();
    server.aws(&[
        "iam",
        "attach-user-policy",
        "--user-name",
        "alice",
        "--policy-arn",
        &policy_arn,
    ]);

    let mut hosts = [
        FleetHost::join(&server, "web-1"),
        FleetHost::join(&server, "web-2"),
    ];
    for h in &hosts {
        let out = h.sync_once();
        assert!(
            out.status.success(),
            "first sync: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(h.users().contains(&"alice".to_owned()));
    }
    let services: Vec<_> = hosts
        .iter()
        .map(|h| h.host.service(PASSWORD_STACK))
        .collect();
    let r = hosts[1].login(&services[1], "alice", password);
    assert!(r.success, "login on web-2 from its replica: {r:?}");
    let r = hosts[1].login(&services[1], "alice", "wrong-password");
    assert!(!r.success);

    // Followed by agents: a new user is published on every host, a policy
    // detached denies the login on every host.
    for h in &mut hosts {
        h.start_agent();
    }
    server.aws(&["iam", "create-user", "--user-name", "bob"]);
    for h in &hosts {
        let published = within(Duration::from_secs(15), || {
            fs::read_to_string(h.host.path().join("extrausers/passwd"))
                .is_ok_and(|t| t.lines().any(|l| l.starts_with("bob:")))
        });
        assert!(published.is_some(), "bob on every host: {}", h.agent_log());
    }
    server.aws(&[
        "iam",
        "detach-user-policy",
        "--user-name",
        "alice",
        "--policy-arn",
        &policy_arn,
    ]);
    for (h, service) in hosts.iter().zip(&services) {
        let denied = within(Duration::from_secs(15), || {
            !h.login(service, "alice", password).success
        });
        assert!(
            denied.is_some(),
            "detached → denied on every host: {}",
            h.agent_log()
        );
    }

    // The host's credential reads the directory; it cannot change it.
    let key = server.enrol("web-3");
    let out = server.aws_with(
        (&key.0, &key.1),
        &["iam", "create-user", "--user-name", "mallory"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AccessDenied"));

    // The server gone: logins still follow the replica.
    server.aws(&[
        "iam",
        "attach-user-policy",
        "--user-name",
        "alice",
        "--policy-arn",
        &policy_arn,
    ]);
    let allowed = within(Duration::from_secs(15), || {
        hosts[0].login(&services[0], "alice", password).success
    });
    assert!(allowed.is_some(), "re-attached: {}", hosts[0].agent_log());
    let mut server = server;
    server.kill_9();
    let r = hosts[0].login(&services[0], "alice", password);
    assert!(r.success, "login with the server down: {r:?}");
}

#[test]
fn an_agent_killed_mid_sync_leaves_a_replica_it_continues_from() {
    let Some(server) = fleet_server("fleet_kill_9") else {
        return;
    };
    for i in 0..5 {
        server.aws(&["iam", "create-user", "--user-name", &format!("u{i:02}")]);
    }
    let host = FleetHost::join(&server, "web-1");
    // Killed at a different moment each time: before, during or after the
    // snapshot's transaction.
    for delay_ms in [5u64, 20, 40, 80, 160] {
        let mut child = host
            .agent()
            .arg("--once")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever the moment, the store opens and is at a change number
        // or none; the next round completes it.
        let out = host.sync_once();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        server.aws(&["iam", "create-user", "--user-name", &format!("k{delay_ms}")]);
    }
    let out = host.sync_once();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut central: Vec<String> = server.aws(&["iam", "list-users"])["Users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap().to_owned())
        .collect();
    central.sort();
    assert_eq!(host.users(), central);

    // A revoked host stops syncing at its next call.
    server.local(&["revoke-host", "web-1"]);
    let out = host.sync_once();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("UnrecognizedClientException"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn offline_hosts_accepting_one_code_are_reported_as_a_replay_when_the_server_returns() {
    let Some(mut server) = fleet_server("fleet_replay") else {
        return;
    };
    let password = "Fleet-Passw0rd!";
    server.aws(&["iam", "create-user", "--user-name", "carol"]);
    server.aws(&[
        "iam",
        "create-login-profile",
        "--user-name",
        "carol",
        "--password",
        password,
        "--no-password-reset-required",
    ]);
    server.aws(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "carol",
        "--policy-name",
        "Login",
        "--policy-document",
        e2e::ALLOW_LOGIN,
    ]);
    let seed_file = server.dir.path().join("carol.seed");
    let device = server.aws(&[
        "iam",
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        "carol-phone",
        "--outfile",
        &seed_file.display().to_string(),
        "--bootstrap-method",
        "Base32StringSeed",
    ]);
    let serial = device["VirtualMFADevice"]["SerialNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    let seed = fs::read_to_string(&seed_file).unwrap().trim().to_owned();
    e2e::wait_for_fresh_step(3);
    let now = chrono::Utc::now().timestamp();
    server.aws(&[
        "iam",
        "enable-mfa-device",
        "--user-name",
        "carol",
        "--serial-number",
        &serial,
        "--authentication-code1",
        &e2e::oathtool_at(&seed, now - 60),
        "--authentication-code2",
        &e2e::oathtool_at(&seed, now - 30),
    ]);
    let hosts = ["web-1", "web-2"].map(|name| FleetHost::join(&server, name));
    for h in &hosts {
        let out = h.sync_once();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    const MFA_STACK: &str = "auth required @MODULE@\naccount required @MODULE@\n";
    let services: Vec<_> = hosts.iter().map(|h| h.host.service(MFA_STACK)).collect();

    // The server is gone: each host is its own boundary, so one code gets
    // into both.
    server.kill_9();
    e2e::wait_for_fresh_step(5);
    let code = e2e::oathtool(&seed, 0);
    for service in &services {
        let r = e2e::pamtester(
            service,
            "carol",
            Some("10.0.0.7"),
            &["authenticate", "acct_mgmt"],
            &[password, &code],
        );
        assert!(r.success, "offline login on its replica: {r:?}");
        // And the code is spent on that host.
        let again = e2e::pamtester(
            service,
            "carol",
            Some("10.0.0.7"),
            &["authenticate"],
            &[password, &code],
        );
        assert!(!again.success);
    }
    // Back: each agent reports; the second report of the step is a replay,
    // and the hosts' own login events are in the central event store.
    server.serve();
    for h in &hosts {
        let out = h.sync_once();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let events = server.aws(&[
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=ReplayDetected",
    ]);
    let replays = events["Events"].as_array().unwrap();
    assert_eq!(replays.len(), 1, "{events}");
    let detail: Value =
        serde_json::from_str(replays[0]["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(
        detail["additionalEventData"]["serialNumber"],
        serial.as_str()
    );
    let logins = server.aws(&[
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=Username,AttributeValue=carol",
    ]);
    let hosts_seen: std::collections::BTreeSet<String> = logins["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["CloudTrailEvent"].as_str())
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter(|e| e["eventSource"] == "pam")
        .filter_map(|e| e["host"].as_str().map(str::to_owned))
        .collect();
    assert!(
        hosts_seen.contains("web-1") && hosts_seen.contains("web-2"),
        "{logins}"
    );
}
