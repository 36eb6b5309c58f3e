//! A temporary host for the assume-role tests: a config and store in a temp
//! dir, the built iamctl copied there setuid root, IAM users (known to
//! iamctl by their allocated uids), and a way to run iamctl as one of them — inside a private
//! mount namespace where /etc/iam is the test's config directory, so the
//! setuid binary reads exactly what a real host's would.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "123456789012";

/// Whether to run: root runs; anyone else skips with a notice, except under
/// CI=true, where not being root is a failure.
pub fn root_or_skip(test: &str) -> bool {
    // /proc/self/status carries the effective uid (no libc needed).
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("");
    if euid == "0" {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: the assume-role tests need root (CI=true)"
    );
    eprintln!("skipped {test}: the assume-role tests need root");
    false
}

/// The built iamctl next to this test binary (target/<profile>/iamctl).
fn built_iamctl() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("iamctl");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (`cargo build -p iamctl`; tests/run does)",
        bin.display()
    );
    bin
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// An IAM user of the host, as a process sees it: the allocated uid/gid.
pub struct LinuxUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

pub struct Host {
    pub dir: PathBuf,
    pub iamctl: PathBuf,
    pub etc: PathBuf,
    pub audit: PathBuf,
}

impl Host {
    /// A fresh host named web-1 with tag env=prod; `test_min` sets the
    /// root-only `[elevation] test_min_duration_seconds`.
    pub fn new(test_min: Option<u32>) -> Self {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(format!("/tmp/iam-ar-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let etc = dir.join("etc-iam");
        fs::create_dir(&etc).unwrap();
        fs::set_permissions(&etc, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir(dir.join("extrausers")).unwrap();
        let audit = dir.join("audit.log");
        let mut config = format!(
            "account_id = \"{ACCOUNT}\"\nhostname = \"web-1\"\n\
             database = \"{db}\"\naudit_log = \"{audit}\"\n\n[host_tags]\nenv = \"prod\"\n\n\
             [accounts]\nextrausers_dir = \"{eu}\"\n",
            db = dir.join("iam.db").display(),
            audit = audit.display(),
            eu = dir.join("extrausers").display(),
        );
        if let Some(t) = test_min {
            config.push_str(&format!("\n[elevation]\ntest_min_duration_seconds = {t}\n"));
        }
        fs::write(etc.join("iam.toml"), config).unwrap();
        fs::set_permissions(etc.join("iam.toml"), fs::Permissions::from_mode(0o644)).unwrap();
        let iamctl = dir.join("iamctl");
        // Copied by install(1), not in-process: a writable descriptor of
        // ours, inherited by another test thread's fork, would make the exec
        // fail with ETXTBSY.
        let st = Command::new("install")
            .args(["-o", "root", "-g", "root", "-m", "4755"])
            .arg(built_iamctl())
            .arg(&iamctl)
            .status()
            .unwrap();
        assert!(st.success(), "install iamctl");
        fs::create_dir_all("/etc/iam").unwrap();
        let host = Self {
            dir,
            iamctl,
            etc,
            audit,
        };
        host.admin_ok(&["init"]);
        host
    }

    pub fn config(&self) -> PathBuf {
        self.etc.join("iam.toml")
    }

    /// iamctl as root (the account's root user) with this host's config.
    pub fn admin(&self, args: &[&str]) -> Output {
        Command::new(&self.iamctl)
            .arg("--config")
            .arg(self.config())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args);
        assert!(
            out.status.success(),
            "iamctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new IAM user (created by iamctl), with an inline policy when given.
    pub fn user(&mut self, policy: Option<&str>) -> LinuxUser {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let name = format!("iamar{}x{n}", std::process::id() % 100_000);
        self.admin_ok(&["create-user", "--user-name", &name]);
        if let Some(p) = policy {
            self.admin_ok(&[
                "put-user-policy",
                "--user-name",
                &name,
                "--policy-name",
                "assume",
                "--policy-document",
                p,
            ]);
        }
        // The caller is known by the uid the directory allocated (no
        // local account behind it): read it from the published passwd.
        let passwd = fs::read_to_string(self.dir.join("extrausers/passwd")).unwrap();
        let line = passwd
            .lines()
            .find(|l| l.split(':').next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("{name} is not published"));
        let id = |n: usize| -> u32 { line.split(':').nth(n).unwrap().parse().unwrap() };
        LinuxUser {
            uid: id(2),
            gid: id(3),
            name,
        }
    }

    /// iamctl run by `user` through the setuid copy, in a private mount
    /// namespace whose /etc/iam is this host's; `env` is added to a clean
    /// environment (the attacks).
    pub fn as_user(&self, user: &LinuxUser, args: &[&str], env: &[(&str, &str)]) -> Command {
        self.as_user_after(user, "", args, env)
    }

    /// Like [`Host::as_user`], with shell commands run just before iamctl
    /// (as root, then inherited through setpriv): the caller's hostile
    /// process state — ignored signals, resource limits.
    pub fn as_user_after(
        &self,
        user: &LinuxUser,
        prefix: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Command {
        let script = format!(
            r#"mount --bind "$1" /etc/iam || exit 99
u=$2; g=$3; bin=$4; shift 4
{prefix}
exec setpriv --reuid="$u" --regid="$g" --clear-groups "$bin" "$@""#
        );
        let mut c = Command::new("unshare");
        c.args(["-m", "sh", "-c", &script, "sh"])
            .arg(&self.etc)
            .arg(user.uid.to_string())
            .arg(user.gid.to_string())
            .arg(&self.iamctl)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .envs(env.iter().copied());
        c
    }

    pub fn run_as(&self, user: &LinuxUser, args: &[&str]) -> Output {
        self.as_user(user, args, &[])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn spawn_as(&self, user: &LinuxUser, prefix: &str, args: &[&str]) -> Child {
        self.as_user_after(user, prefix, args, &[])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn audit_log(&self) -> String {
        fs::read_to_string(&self.audit).unwrap_or_default()
    }

    /// A role with a trust policy, a permission policy and tags.
    pub fn role(&self, name: &str, trust: &str, permissions: &str, tags: &[&str]) {
        self.admin_ok(&[
            "create-role",
            "--role-name",
            name,
            "--assume-role-policy-document",
            trust,
        ]);
        self.admin_ok(&[
            "put-role-policy",
            "--role-name",
            name,
            "--policy-name",
            "permissions",
            "--policy-document",
            permissions,
        ]);
        if !tags.is_empty() {
            let mut args = vec!["tag-role", "--role-name", name, "--tags"];
            args.extend_from_slice(tags);
            self.admin_ok(&args);
        }
    }

    pub fn user_arn(user: &LinuxUser) -> String {
        format!("arn:aws:iam::{ACCOUNT}:user/{}", user.name)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A trust policy naming principals (`AWS`), with an optional condition.
pub fn trust(principals: &[&str], condition: &str) -> String {
    let list: Vec<String> = principals.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Trust","Effect":"Allow","Principal":{{"AWS":[{}]}},"Action":"sts:AssumeRole"{condition}}}]}}"#,
        list.join(",")
    )
}

pub const ACCOUNT_ROOT: &str = "arn:aws:iam::123456789012:root";

pub const ALLOW_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"MayAssume","Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/*"}]}"#;

pub const ALLOW_SELF_SESSIONS: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"MayAssume","Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/*"},{"Sid":"Own","Effect":"Allow","Action":["iam:ListSessions","iam:RevokeSession"],"Resource":"*"}]}"#;

/// host:RunAs on every host, or only where the condition holds.
pub fn run_as_policy(condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"RunHere","Effect":"Allow","Action":"host:RunAs","Resource":"arn:aws:host::123456789012:host/*"{condition}}}]}}"#
    )
}

/// The text of a JSON string field (first occurrence), without a JSON crate.
pub fn json_field(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\""))?;
    let rest = &text[at + key.len() + 2..];
    let rest = rest[rest.find(':')? + 1..].trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// The TOTP code for a base32 seed, `offset` seconds from now (oathtool).
pub fn totp(seed: &str, offset: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = Command::new("oathtool")
        .args(["--totp", "-b", "-N", &format!("@{}", now + offset), seed])
        .output()
        .unwrap();
    assert!(out.status.success(), "oathtool failed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Whether process `pid` still runs (a zombie counts as gone).
pub fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

/// Waits for a child with a bound; its exit status and stderr.
pub fn wait_bounded(
    child: &mut Child,
    limit: Duration,
) -> Option<(std::process::ExitStatus, String)> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return Some((st, err));
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Host {
    /// A shell script run as `user` (setpriv) in this host's mount
    /// namespace, after `root_prefix` ran as root; `$IAMCTL` is the setuid
    /// iamctl.
    pub fn user_shell(&self, user: &LinuxUser, root_prefix: &str, script: &str) -> Command {
        let outer = format!(
            r#"mount --bind "$1" /etc/iam || exit 99
u=$2; g=$3; shift 3
{root_prefix}
exec setpriv --reuid="$u" --regid="$g" --clear-groups sh -c "$1""#
        );
        let mut c = Command::new("unshare");
        c.args(["-m", "sh", "-c", &outer, "sh"])
            .arg(&self.etc)
            .arg(user.uid.to_string())
            .arg(user.gid.to_string())
            .arg(script)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("IAMCTL", &self.iamctl);
        c
    }
}
