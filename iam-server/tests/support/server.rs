//! A running iam-server for end-to-end tests: server.toml in a temporary
//! directory (plus any extra lines, e.g. `[postgres]`), `bootstrap`, then
//! `serve`, driven with the real `aws` CLI. Reusable by any test crate:
//! `#[path = "support/server.rs"] mod server;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

pub const AWS: &str = "/opt/iam-venv/bin/aws";

pub struct Server {
    child: Child,
    pub port: u16,
    pub state: PathBuf,
    pub key: (String, String),
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes server.toml in `dir` (with `extra` appended) and returns its path.
pub fn write_config(dir: &Path, extra: &str) -> (PathBuf, u16) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "account_id = \"123456789012\"\nlisten = \"127.0.0.1:{port}\"\nstate_dir = {:?}\n{extra}",
            dir.join("state")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    (config, port)
}

/// `iam-server --config CONFIG ARGS…`, run to its end.
pub fn run(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iam-server"))
        .args(["--config", config.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

/// Bootstraps and serves a server configured in `dir` (see [`write_config`]).
pub fn start(dir: &Path, extra: &str) -> Server {
    let (config, port) = write_config(dir, extra);
    let out = run(&config, &["bootstrap"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let boot: Value = serde_json::from_slice(&out.stdout).unwrap();
    let field = |f: &str| boot["AccessKey"][f].as_str().unwrap().to_owned();
    let key = (field("AccessKeyId"), field("SecretAccessKey"));
    let child = Command::new(env!("CARGO_BIN_EXE_iam-server"))
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
        state: dir.join("state"),
        key,
    }
}

impl Server {
    /// Runs the `aws` CLI against this server (no retries: a test sees
    /// each answer); its JSON output, or its stderr.
    pub fn aws(&self, args: &[&str]) -> Result<Value, String> {
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
            .env("AWS_MAX_ATTEMPTS", "1")
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
}
