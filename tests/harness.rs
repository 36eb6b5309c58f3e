//! Shared helpers for the end-to-end tests: where the built artifacts are,
//! temporary hosts (config + store), PAM service files, pamtester, TOTP codes
//! from oathtool, a real sshd, and the root check.
//!
//! Everything a test creates outside its temp dir (/etc/pam.d files, lines in
//! /var/lib/extrausers) is removed again by a Drop guard.
//!
//! Test support code: a failed setup step should stop the test loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Lets a user log in anywhere; tests add Deny statements on top.
pub const ALLOW_LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"AllowLogin","Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

/// Whether end-to-end tests can run. As non-root they are skipped with a
/// printed notice, except under `CI=true`, where skipping would hide a gap.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: end-to-end tests need root (CI=true)");
    }
    // Straight to the stream: libtest captures eprintln! of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: end-to-end tests need root"
    );
    false
}

/// The cargo target directory the workspace was built into.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
}

/// A built artifact of the profile this harness was built in: `target/debug`
/// for the tests (tests/run builds the workspace first), `target/release`
/// for iam-bench, which measures the release module through this harness.
pub fn artifact(name: &str) -> PathBuf {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let path = target_dir().join(profile).join(name);
    let path = path.canonicalize().unwrap_or(path);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` (tests/run does) first",
        path.display()
    );
    path
}

/// The built PAM module.
pub fn module() -> PathBuf {
    artifact("libpam_iam.so")
}

/// This crate's directory (for tests/sshd_driver.py).
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A PAM stack shipped in config/pam.d, with `pam_iam.so` replaced by
/// `@MODULE@` (the built module and this host's config; see [`PamService`]).
pub fn shipped_stack(name: &str) -> String {
    let path = tests_dir().join("../config/pam.d").join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.replace("pam_iam.so", "@MODULE@")
}

static SERIAL: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call: `prefix-PID-N`.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    )
}

/// A temporary host: iam.toml, store and audit log in one temp dir.
pub struct Host {
    pub dir: TempDir,
    pub config: PathBuf,
    pub account_id: String,
}

impl Host {
    /// Writes iam.toml with `extra` (TOML sections other than `[accounts]`)
    /// appended to the basics and creates the store (`iamctl init`).
    pub fn new(extra: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pam_iam-e2e-")
            .tempdir()
            .expect("temp dir");
        let account_id = "123456789012".to_owned();
        let config = dir.path().join("iam.toml");
        // Homes (pam_mkhomedir) and extrausers files stay in the temp dir.
        // UIDs come from a range of this host's own, far from the default
        // one: the accounts are published in the machine's real
        // /var/lib/extrausers, next to whatever else is there.
        let serial = u64::from(SERIAL.fetch_add(1, Ordering::Relaxed) % 64);
        let low = 1_000_000 + (u64::from(std::process::id()) % 50_000 * 64 + serial) * 100;
        let text = format!(
            "account_id = \"{account_id}\"\nhostname = \"e2e-host\"\n\
             database = \"iam.db\"\naudit_log = \"audit.log\"\n{extra}\n\
             [accounts]\nextrausers_dir = \"extrausers\"\nhome = \"{}/home/%u\"\n\
             authorized_keys_dir = \"authorized_keys\"\nuid_range = [{low}, {}]\n",
            dir.path().display(),
            low + 99
        );
        fs::write(&config, text).expect("write iam.toml");
        fs::create_dir_all(dir.path().join("extrausers")).expect("extrausers dir");
        // Where iamctl publishes IAM users' SSH public keys for sshd
        // (`AuthorizedKeysFile DIR/%U`, see [`Sshd::start_with_iam_keys`]).
        fs::create_dir_all(dir.path().join("authorized_keys")).expect("authorized_keys dir");
        let host = Self {
            dir,
            config,
            account_id,
        };
        host.iamctl(&["init"]);
        host
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// An IAM user (`iamctl create-user`), with a password when given
    /// (`create-login-profile`, the password on stdin). Not yet allowed to
    /// log in: see [`Host::allow_login`].
    pub fn add_user(&self, name: &str, password: Option<&str>) {
        self.iamctl(&["create-user", "--user-name", name]);
        if let Some(password) = password {
            self.iamctl_stdin(
                &["create-login-profile", "--user-name", name],
                &format!("{password}\n"),
            );
        }
    }

    /// `host:Login` allowed on every host (inline policy `AllowLogin`).
    pub fn allow_login(&self, user: &str) {
        self.put_user_policy(user, "AllowLogin", ALLOW_LOGIN);
    }

    /// `iamctl put-user-policy` with the document from a file.
    pub fn put_user_policy(&self, user: &str, policy: &str, document: &str) {
        let file = self.path().join(format!("{}.json", unique("policy")));
        fs::write(&file, document).expect("write policy");
        let uri = format!("file://{}", file.display());
        self.iamctl(&[
            "put-user-policy",
            "--user-name",
            user,
            "--policy-name",
            policy,
            "--policy-document",
            &uri,
        ]);
    }

    /// Enrols a virtual MFA device for `user` as an admin would
    /// (`create-virtual-mfa-device`, then `enable-mfa-device` with two
    /// consecutive codes from oathtool: the two steps before the current
    /// one, so a login in this step may use the current code). Returns the
    /// base32 seed.
    pub fn add_mfa(&self, user: &str) -> String {
        self.add_mfa_device(user, "phone")
    }

    /// [`Self::add_mfa`] for device `{user}-{name}` (a user may have
    /// several).
    pub fn add_mfa_device(&self, user: &str, name: &str) -> String {
        let device = format!("{user}-{name}");
        let seed_file = self.path().join(format!("{device}.seed"));
        let created = self.iamctl(&[
            "create-virtual-mfa-device",
            "--virtual-mfa-device-name",
            &device,
            "--outfile",
            &seed_file.display().to_string(),
            "--bootstrap-method",
            "Base32StringSeed",
        ]);
        let serial = created["VirtualMFADevice"]["SerialNumber"]
            .as_str()
            .expect("SerialNumber")
            .to_owned();
        let seed = fs::read_to_string(&seed_file).expect("seed file");
        let seed = seed.trim().to_owned();
        wait_for_fresh_step(3);
        let now = chrono::Utc::now().timestamp();
        self.iamctl(&[
            "enable-mfa-device",
            "--user-name",
            user,
            "--serial-number",
            &serial,
            "--authentication-code1",
            &oathtool_at(&seed, now - 60),
            "--authentication-code2",
            &oathtool_at(&seed, now - 30),
        ]);
        seed
    }

    /// An IAM group with `members`.
    pub fn add_group(&self, group: &str, members: &[&str]) {
        self.iamctl(&["create-group", "--group-name", group]);
        for member in members {
            self.iamctl(&[
                "add-user-to-group",
                "--user-name",
                member,
                "--group-name",
                group,
            ]);
        }
    }

    /// Runs the built iamctl against this host as root; panics on failure.
    pub fn iamctl(&self, args: &[&str]) -> Value {
        self.iamctl_stdin(args, "")
    }

    /// Runs iamctl with `stdin` (passwords, one per line); panics on failure.
    pub fn iamctl_stdin(&self, args: &[&str], stdin: &str) -> Value {
        let out = self.try_iamctl(args, stdin);
        assert!(
            out.status.success(),
            "iamctl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text.into_owned()))
        }
    }

    pub fn try_iamctl(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(artifact("iamctl"));
        cmd.arg("--config").arg(&self.config).args(args);
        run_with_stdin(cmd, stdin)
    }

    /// Every audit event written so far.
    pub fn audit_events(&self) -> Vec<Value> {
        let text = fs::read_to_string(self.path().join("audit.log")).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }

    /// The events for `user` named `event_name`, oldest first.
    pub fn events_for(&self, user: &str, event_name: &str) -> Vec<Value> {
        self.audit_events()
            .into_iter()
            .filter(|e| e["eventName"] == event_name && e["userIdentity"]["userName"] == user)
            .collect()
    }

    /// A PAM service file loading the built module with this host's config.
    pub fn service(&self, lines: &str) -> PamService {
        PamService::new(&self.config, lines)
    }
}

/// `/etc/pam.d/iamtest-PID-N` (and the files it includes, for
/// [`PamService::packaged_profile`]), removed on drop.
pub struct PamService {
    pub name: String,
    paths: Vec<PathBuf>,
}

impl PamService {
    /// `lines` is the stack with `@MODULE@` standing for
    /// `/abs/libpam_iam.so config=/tmp/…/iam.toml`.
    pub fn new(config: &Path, lines: &str) -> Self {
        Self::named(&unique("iamtest-"), config, lines)
    }

    /// A service with a chosen name (sshd takes it from its argv[0]).
    pub fn named(name: &str, config: &Path, lines: &str) -> Self {
        let path = PathBuf::from("/etc/pam.d").join(name);
        fs::write(&path, with_module(lines, config)).expect("write /etc/pam.d file");
        Self {
            name: name.to_owned(),
            paths: vec![path],
        }
    }

    /// Service `name` as a Debian host has it once the package's
    /// pam-auth-update profile (packaging/pam-configs/pam_iam) is enabled:
    /// this machine's `/etc/pam.d/sshd`, including the `common-*` files
    /// that `pam-auth-update --enable pam_iam` itself writes. It runs in a
    /// private mount namespace over copies of /etc/pam.d,
    /// /usr/share/pam-configs (with the profile added) and /var/lib/pam, so
    /// the machine's own stack is never touched; the results are installed
    /// as `NAME-common-*`, with `pam_iam.so` standing for the built module
    /// and `config`.
    pub fn packaged_profile(name: &str, config: &Path) -> Self {
        let work = tempfile::Builder::new()
            .prefix("pam_iam-profile-")
            .tempdir()
            .expect("temp dir");
        let (pam_d, configs, state) = (
            work.path().join("pam.d"),
            work.path().join("pam-configs"),
            work.path().join("var-lib-pam"),
        );
        for (from, to) in [
            ("/etc/pam.d", &pam_d),
            ("/usr/share/pam-configs", &configs),
            ("/var/lib/pam", &state),
        ] {
            let status = Command::new("cp")
                .arg("-a")
                .arg(from)
                .arg(to)
                .status()
                .expect("cp");
            assert!(status.success(), "cp -a {from}");
        }
        fs::copy(
            tests_dir().join("../packaging/pam-configs/pam_iam"),
            configs.join("pam_iam"),
        )
        .expect("the packaged profile");
        let script = format!(
            "mount --bind {pam_d} /etc/pam.d && mount --bind {configs} /usr/share/pam-configs \
             && mount --bind {state} /var/lib/pam && pam-auth-update --package --force --enable pam_iam",
            pam_d = pam_d.display(),
            configs = configs.display(),
            state = state.display(),
        );
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("unshare");
        assert!(
            out.status.success(),
            "pam-auth-update: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut paths = Vec::new();
        let mut service = fs::read_to_string("/etc/pam.d/sshd").expect("/etc/pam.d/sshd");
        for part in ["auth", "account", "session", "password"] {
            let common = format!("common-{part}");
            let text = fs::read_to_string(pam_d.join(&common)).expect("a common-* file");
            let ours = format!("{name}-{common}");
            let path = PathBuf::from("/etc/pam.d").join(&ours);
            fs::write(
                &path,
                with_module(&text.replace("pam_iam.so", "@MODULE@"), config),
            )
            .expect("write /etc/pam.d file");
            paths.push(path);
            service = service.replace(
                &format!("@include {common}\n"),
                &format!("@include {ours}\n"),
            );
        }
        let path = PathBuf::from("/etc/pam.d").join(name);
        fs::write(&path, service).expect("write /etc/pam.d file");
        paths.push(path);
        Self {
            name: name.to_owned(),
            paths,
        }
    }

    /// The text of the service's files, as written (for failure messages).
    pub fn text(&self) -> String {
        self.paths
            .iter()
            .map(|p| format!("--- {}\n{}", p.display(), read(p)))
            .collect()
    }
}

/// `@MODULE@` made the built module with `config`.
fn with_module(lines: &str, config: &Path) -> String {
    let module = format!("{} config={}", module().display(), config.display());
    lines.replace("@MODULE@", &module)
}

impl Drop for PamService {
    fn drop(&mut self) {
        for path in &self.paths {
            let _ = fs::remove_file(path);
        }
    }
}

/// What pamtester said and how it ended.
#[derive(Debug)]
pub struct PamResult {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl PamResult {
    /// pamtester's error line names the PAM code's text, e.g.
    /// "Authentication failure" or "Permission denied".
    pub fn failed_with(&self, text: &str) -> bool {
        !self.success && self.stderr.contains(text)
    }
}

/// Runs pamtester. `answers` are the conversation's replies, one per line:
/// pamtester's misc_conv reads them from stdin (not a tty: no echo games).
pub fn pamtester(
    service: &PamService,
    user: &str,
    rhost: Option<&str>,
    ops: &[&str],
    answers: &[&str],
) -> PamResult {
    let mut cmd = Command::new("pamtester");
    if let Some(rhost) = rhost {
        cmd.arg("-I").arg(format!("rhost={rhost}"));
    }
    cmd.arg("-I").arg("tty=pts/7");
    cmd.arg(&service.name).arg(user).args(ops);
    let mut stdin = answers.join("\n");
    stdin.push('\n');
    let out = run_with_stdin(cmd, &stdin);
    PamResult {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `cmd` with `stdin` on its standard input; its output, captured.
pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("wait")
}

/// A root-owned 0755 temp dir in /tmp (`prefix…`) holding `iamctl`, a
/// setuid-root copy of the built one, for running it as another uid.
pub fn setuid_iamctl(prefix: &str) -> (TempDir, PathBuf) {
    let root = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("temp dir");
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let bin = root.path().join("iamctl");
    fs::copy(artifact("iamctl"), &bin).expect("copy iamctl");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o4755)).expect("chmod 4755");
    (root, bin)
}

/// A TOTP code from oathtool (an oracle independent of our code), for the
/// 30 s step `offset_steps` away from now.
pub fn oathtool(secret_base32: &str, offset_steps: i64) -> String {
    let now = chrono::Utc::now().timestamp() + offset_steps * 30;
    oathtool_at(secret_base32, now)
}

/// A TOTP code from oathtool for unix time `at`.
pub fn oathtool_at(secret_base32: &str, at: i64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret_base32, &format!("--now=@{at}")])
        .output()
        .expect("oathtool (apt install oathtool)");
    assert!(out.status.success(), "oathtool failed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Seconds left in the current 30 s TOTP step; tests that need two codes
/// from distinct steps or one stable step wait when it is nearly over.
pub fn wait_for_fresh_step(min_left: u64) {
    let now = chrono::Utc::now().timestamp() as u64;
    let left = 30 - now % 30;
    if left < min_left {
        std::thread::sleep(Duration::from_secs(left + 1));
    }
}

/// Serializes tests that share host-wide state (/var/lib/extrausers,
/// /etc/nsswitch.conf, sshd) within this test binary; across binaries an
/// flock on /run/lock does.
pub fn host_lock() -> HostLock {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/run/lock/pam_iam-e2e.lock")
        .expect("lock file");
    let flock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("flock");
    HostLock {
        _flock: flock,
        _guard: guard,
    }
}

pub struct HostLock {
    _flock: nix::fcntl::Flock<fs::File>,
    _guard: MutexGuard<'static, ()>,
}

/// sshd and login need getpwnam() for IAM users before PAM runs: make sure
/// /etc/nsswitch.conf consults libnss-extrausers on its passwd and group
/// lines. Idempotent: a line that already names extrausers is left alone.
pub fn ensure_nsswitch_extrausers() {
    let path = Path::new("/etc/nsswitch.conf");
    let text = fs::read_to_string(path).unwrap_or_default();
    let mut changed = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let db = line.split(':').next().unwrap_or("").trim();
            if (db == "passwd" || db == "group") && !line.contains("extrausers") {
                changed = true;
                format!("{line} extrausers")
            } else {
                line.to_owned()
            }
        })
        .collect();
    if changed {
        fs::write(path, lines.join("\n") + "\n").expect("write /etc/nsswitch.conf");
    }
}

/// Copies a host's extrausers lines into the real /var/lib/extrausers (where
/// libnss-extrausers reads) and takes exactly those lines out again on drop,
/// leaving anyone else's entries alone. Hold a [`HostLock`] meanwhile.
pub struct PublishedAccounts {
    lines: Vec<(PathBuf, Vec<String>)>,
}

pub const SYSTEM_EXTRAUSERS: &str = "/var/lib/extrausers";

impl PublishedAccounts {
    pub fn publish(host: &Host) -> Self {
        fs::create_dir_all(SYSTEM_EXTRAUSERS).expect("extrausers dir");
        let mut lines = Vec::new();
        for file in ["passwd", "group"] {
            let ours =
                fs::read_to_string(host.path().join("extrausers").join(file)).unwrap_or_default();
            let ours: Vec<String> = ours.lines().map(str::to_owned).collect();
            for line in &ours {
                let id = line.split(':').nth(2).unwrap_or_default();
                let taken = Command::new("getent")
                    .args([file, id])
                    .output()
                    .is_ok_and(|o| o.status.success());
                assert!(!taken, "{file} id {id} is already in use on this machine");
            }
            let target = Path::new(SYSTEM_EXTRAUSERS).join(file);
            let mut existing = fs::read_to_string(&target).unwrap_or_default();
            for line in &ours {
                existing.push_str(line);
                existing.push('\n');
            }
            write_world_readable(&target, &existing);
            lines.push((target, ours));
        }
        Self { lines }
    }
}

impl Drop for PublishedAccounts {
    fn drop(&mut self) {
        for (target, ours) in &self.lines {
            let existing = fs::read_to_string(target).unwrap_or_default();
            let kept: String = existing
                .lines()
                .filter(|l| !ours.iter().any(|o| o == l))
                .map(|l| format!("{l}\n"))
                .collect();
            write_world_readable(target, &kept);
        }
    }
}

fn write_world_readable(path: &Path, text: &str) {
    let tmp = path.with_extension("e2e-tmp");
    fs::write(&tmp, text).expect("write extrausers file");
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).expect("chmod");
    fs::rename(&tmp, path).expect("rename extrausers file");
}

/// A real sshd on 127.0.0.1 with its own host key, config and PAM service.
/// Debian's OpenSSH takes the PAM service name from argv[0], so it runs
/// through a symlink named like the service. Killed on drop.
pub struct Sshd {
    pub port: u16,
    child: Child,
    pub dir: TempDir,
    pub log: PathBuf,
    _service: PamService,
}

impl Sshd {
    /// `pam_lines`: the service's stack (see [`PamService::new`]);
    /// `snippet`: the shipped sshd_config drop-in (config/sshd/NAME), which
    /// sets the authentication methods; the test adds only where to listen
    /// and which keys to use.
    pub fn start(host: &Host, pam_lines: &str, snippet: &str, authorized_keys: &str) -> Self {
        let service = PamService::named(&unique("sshd-iamtest"), &host.config, pam_lines);
        Self::start_with(service, snippet, |dir| {
            let keys = dir.join("authorized_keys");
            fs::write(&keys, authorized_keys).expect("authorized_keys");
            fs::set_permissions(&keys, fs::Permissions::from_mode(0o644)).expect("chmod");
            keys.display().to_string()
        })
    }

    /// As [`Sshd::start`], with sshd finding keys where `iamctl setup-host
    /// --ssh` points it: the IAM users' keys iamctl publishes in the host's
    /// `authorized_keys_dir`, one file per user, named by uid.
    pub fn start_with_iam_keys(host: &Host, pam_lines: &str, snippet: &str) -> Self {
        let service = PamService::named(&unique("sshd-iamtest"), &host.config, pam_lines);
        Self::start_with_service(host, service, snippet)
    }

    /// As [`Sshd::start_with_iam_keys`], with a PAM service made ready
    /// (e.g. [`PamService::packaged_profile`]).
    pub fn start_with_service(host: &Host, service: PamService, snippet: &str) -> Self {
        let published = host.path().join("authorized_keys");
        Self::start_with(service, snippet, |_| format!("{}/%U", published.display()))
    }

    fn start_with(
        service: PamService,
        snippet: &str,
        authorized_keys_file: impl FnOnce(&Path) -> String,
    ) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pam_iam-sshd-")
            .tempdir()
            .expect("temp dir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let name = service.name.clone();
        fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let key = dir.path().join("host_ed25519");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        let keys = authorized_keys_file(dir.path());
        let port = free_port();
        let config = dir.path().join("sshd_config");
        let snippet = tests_dir().join("../config/sshd").join(snippet);
        // sshd skips a missing Include silently: it must exist.
        let snippet = snippet.canonicalize().expect("shipped sshd snippet");
        fs::write(
            &config,
            format!(
                "Include {snippet}\nListenAddress 127.0.0.1\nHostKey {key}\nPidFile {pid}\n\
                 AuthorizedKeysFile {keys}\nStrictModes no\nMaxStartups 100:30:200\n\
                 MaxAuthTries 3\nLoginGraceTime 60\nLogLevel VERBOSE\nUseDNS no\n",
                snippet = snippet.display(),
                key = key.display(),
                pid = dir.path().join("sshd.pid").display(),
                keys = keys,
            ),
        )
        .expect("sshd_config");
        let link = dir.path().join(&name);
        std::os::unix::fs::symlink("/usr/sbin/sshd", &link).expect("symlink");
        let log = dir.path().join("sshd.log");
        let child = Command::new(&link)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .arg("-p")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log).expect("log"))
            .stderr(fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start sshd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not start: {}",
                read(&log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            port,
            child,
            dir,
            log,
            _service: service,
        }
    }

    /// sshd's log so far.
    pub fn log(&self) -> String {
        read(&self.log)
    }

    /// The listening sshd's process id (its reaped children's CPU time is
    /// in its `/proc/PID/stat`: iam-bench counts a login's cost there).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the listening sshd is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// One login through tests/sshd_driver.py.
    pub fn login(&self, login: &SshLogin) -> Value {
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(tests_dir().join("sshd_driver.py"))
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--user")
            .arg(&login.user);
        if let Some(p) = &login.password {
            cmd.arg("--password").arg(p);
        }
        if let Some(c) = &login.code {
            cmd.arg("--code").arg(c);
        }
        if let Some(p) = &login.new_password {
            cmd.arg("--new-password").arg(p);
        }
        if let Some(k) = &login.key {
            cmd.arg("--key").arg(k);
        }
        if let Some(c) = &login.command {
            cmd.arg("--command").arg(c);
        }
        let out = cmd.output().expect("python3 sshd_driver.py");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "driver output not JSON: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // A failing test (or E2E_VERBOSE=1) shows what sshd said.
        if std::thread::panicking() || std::env::var_os("E2E_VERBOSE").is_some() {
            eprintln!("--- sshd log ---\n{}", self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the SSH client offers.
#[derive(Debug, Clone, Default)]
pub struct SshLogin {
    pub user: String,
    pub password: Option<String>,
    pub code: Option<String>,
    /// The new password, if sshd asks for one (expired password).
    pub new_password: Option<String>,
    pub key: Option<PathBuf>,
    /// The command to run once logged in (default `id`).
    pub command: Option<String>,
}

/// A client key pair in `dir`: (private key path, public key line).
pub fn client_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let public = read(&key.with_extension("pub"));
    (key, public)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

// ---- cgroups delegated to a user ------------------------------------------

/// Where cgroup v2 is mounted (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified`
/// on a hybrid host).
pub fn cgroup2_root() -> PathBuf {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mounts: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            if post.split_whitespace().next() != Some("cgroup2") {
                return None;
            }
            pre.split_whitespace().nth(4).map(PathBuf::from)
        })
        .collect();
    mounts
        .iter()
        .find(|m| m.as_path() == Path::new("/sys/fs/cgroup"))
        .or(mounts.first())
        .cloned()
        .expect("a cgroup2 mount")
}

/// A cgroup delegated to a user the way systemd's `Delegate=` does for
/// `user@UID.service`: a directory chowned to the user together with the
/// files that let it manage its subtree (v2: cgroup.procs,
/// cgroup.subtree_control, cgroup.threads; v1: cgroup.procs, tasks).
/// Everything in it is thawed, killed and removed on drop.
pub struct Delegated {
    pub path: PathBuf,
    v1: bool,
}

impl Delegated {
    /// Under the cgroup2 root, for `uid:gid`.
    pub fn v2(uid: u32, gid: u32) -> Self {
        Self::make(&cgroup2_root(), uid, gid, false)
    }

    /// Under the mounted cgroup v1 hierarchy `controller`, if there is one.
    pub fn v1(controller: &str, uid: u32, gid: u32) -> Option<Self> {
        let root = Path::new("/sys/fs/cgroup").join(controller);
        root.join("tasks")
            .exists()
            .then(|| Self::make(&root, uid, gid, true))
    }

    fn make(root: &Path, uid: u32, gid: u32, v1: bool) -> Self {
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        let path = root.join(format!("iam-test-user-{}-{n}", std::process::id()));
        fs::create_dir(&path).unwrap();
        let files: &[&str] = if v1 {
            &["", "cgroup.procs", "tasks"]
        } else {
            &[
                "",
                "cgroup.procs",
                "cgroup.subtree_control",
                "cgroup.threads",
            ]
        };
        for f in files {
            let st = Command::new("chown")
                .arg(format!("{uid}:{gid}"))
                .arg(path.join(f))
                .status()
                .unwrap();
            assert!(st.success());
        }
        Self { path, v1 }
    }

    /// The shell line (run as root) that puts the shell itself in here, as
    /// systemd starts a user's processes inside its delegated cgroup.
    pub fn enter_line(&self) -> String {
        format!("echo $$ > {}/cgroup.procs || exit 97", self.path.display())
    }

    /// Every cgroup below and including this one, deepest first.
    fn tree(&self) -> Vec<PathBuf> {
        fn walk(p: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(d) = fs::read_dir(p) {
                for e in d.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        walk(&e.path(), out);
                    }
                }
            }
            out.push(p.to_path_buf());
        }
        let mut out = Vec::new();
        walk(&self.path, &mut out);
        out
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        for _ in 0..50 {
            let tree = self.tree();
            for dir in &tree {
                if self.v1 {
                    let _ = fs::write(dir.join("freezer.state"), "THAWED");
                    for pid in fs::read_to_string(dir.join("cgroup.procs"))
                        .unwrap_or_default()
                        .lines()
                    {
                        let _ = Command::new("kill").args(["-KILL", pid]).status();
                    }
                } else {
                    let _ = fs::write(dir.join("cgroup.freeze"), "0");
                    let _ = fs::write(dir.join("cgroup.kill"), "1");
                }
            }
            std::thread::sleep(Duration::from_millis(50));
            for dir in &tree {
                let _ = fs::remove_dir(dir);
            }
            if !self.path.exists() {
                return;
            }
        }
    }
}
