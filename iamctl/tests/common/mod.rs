//! Shared harness: run the BUILT iamctl against a temp config and store.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const ACCOUNT: &str = "123456789012";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_iamctl")
}

/// These tests need root (root-owned config, useradd, setuid). Not root:
/// skip with a notice, unless CI=true, where skipping would hide a gap.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} needs root and CI=true: refusing to skip");
    }
    eprintln!("SKIPPED {test}: needs root");
    false
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Env {
    /// A fresh directory with an initialized config and store.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("iamctl-test")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("iam.toml");
        let env = Self { dir, config };
        env.ok(&["init", "--account-id", ACCOUNT]);
        env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db(&self) -> PathBuf {
        self.path("iam.db")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--config").arg(&self.config).args(args);
        c
    }

    pub fn run_with(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
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
        let out: Output = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, "")
    }

    /// Runs, asserts success, parses stdout as JSON (Null when empty).
    pub fn ok_with(&self, args: &[&str], stdin: &str) -> Value {
        let r = self.run_with(args, stdin);
        assert_eq!(r.code, 0, "iamctl {args:?} failed: {}", r.stderr);
        if r.stdout.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&r.stdout)
                .unwrap_or_else(|e| panic!("iamctl {args:?}: not JSON ({e}): {}", r.stdout))
        }
    }

    pub fn ok(&self, args: &[&str]) -> Value {
        self.ok_with(args, "")
    }

    /// Runs, asserts a non-zero exit and ONE AWS-style error line
    /// (`Code: message`); returns it.
    pub fn fail_with(&self, args: &[&str], stdin: &str) -> String {
        let r = self.run_with(args, stdin);
        assert_ne!(
            r.code, 0,
            "iamctl {args:?} unexpectedly succeeded: {}",
            r.stdout
        );
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "iamctl {args:?}: expected one error line, got {:?}",
            r.stderr
        );
        let line = lines[0].to_owned();
        let (code, message) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("not `Code: message`: {line}"));
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric()),
            "bad error code in {line}"
        );
        assert!(!message.is_empty());
        assert!(r.stdout.is_empty(), "stdout on error: {}", r.stdout);
        line
    }

    pub fn fail(&self, args: &[&str]) -> String {
        self.fail_with(args, "")
    }

    /// The whole database as SQL text, to prove a failed call changed nothing.
    pub fn dump(&self) -> String {
        dump(&self.db())
    }

    pub fn write(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        format!("file://{}", p.display())
    }
}

pub fn dump(db: &Path) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(".dump")
        .output()
        .unwrap();
    assert!(out.status.success(), "sqlite3 .dump failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `oathtool --totp -b SEED --now T`: an independent TOTP implementation.
pub fn oathtool(seed: &str, unix: i64) -> String {
    let now = chrono::DateTime::from_timestamp(unix, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    let out = Command::new("oathtool")
        .args(["--totp", "-b", seed, "--now", &now])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "oathtool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Two consecutive codes ending at the current step, as enable-mfa-device wants.
pub fn two_codes(seed: &str) -> (String, String) {
    let now = clear_of_step_end(3);
    (oathtool(seed, now - 30), oathtool(seed, now))
}

/// Now, at least `seconds` before the current 30 s step ends (waiting into
/// the next step if need be), so that codes computed now belong to the
/// steps meant when the command using them runs.
pub fn clear_of_step_end(seconds: i64) -> i64 {
    let now = chrono::Utc::now().timestamp();
    if 30 - now % 30 > seconds {
        return now;
    }
    std::thread::sleep(std::time::Duration::from_secs(seconds as u64));
    chrono::Utc::now().timestamp()
}

pub const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

pub fn trust_for(user: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:user/{user}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}
