//! pam_iam's benchmark table (issue 8): everything measured side by side in
//! one run, so the ratios compare like with like on the same loaded machine.
//!
//! `cargo run --release -p iam-bench` (as root: it writes PAM service files
//! in /etc/pam.d and creates local test users, and removes both again).
//! It builds the release `iamctl` and `libpam_iam.so` first. Each process
//! measurement is one `pamtester`/`iamctl` run under `/usr/bin/time`, which
//! reports its peak RSS; times are wall-clock per process (median and
//! spread over N runs, baseline and pam_iam interleaved) and CPU time per
//! process (median, from `getrusage`).

// Bench harness: a failed setup step should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::fs;
use std::hint::black_box;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use iam::names::{AccountId, GroupName, IamPath, MfaDeviceName, PolicyName, UserName};
use iam::policy::{Decision, Policy, PolicyKind, Request, authorize};
use iam::secret::{SecretBytes, SecretString};
use iam::store::{Entity, NewUser, Store};

/// The policy shape of iam-policy/benches/policy_eval.rs, shared with it.
#[path = "../../iam-policy/benches/shape/mod.rs"]
mod shape;

const ACCOUNT: &str = "123456789012";

fn main() {
    if !nix_is_root() {
        eprintln!("iam-bench: run as root (PAM service files, local test users)");
        std::process::exit(2);
    }
    // IAM_BENCH_SCALE=k multiplies every run count by k.
    let scale: usize = std::env::var("IAM_BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let release = build_release();
    let mut table = Table::default();

    // 1. The policy engine alone.
    let (rate, rate_stress) = policy_rate();
    table.row(
        "policy decisions/s, one core (10 managed × 20 statements, conditions; best of batches)",
        format!("{rate:.0}"),
        "—".into(),
        format!("stress (all 20 host statements apply): {rate_stress:.0}/s"),
        "—".into(),
    );
    let (t_1mb, t_10k) = rejection_times();
    table.row(
        "reject a 1 MB policy / 10,000 statements (Policy::parse)",
        format!("{} / {}", ns(t_1mb), ns(t_10k)),
        "—".into(),
        "refused before JSON parsing".into(),
        "—".into(),
    );
    let (t_max, t_verify) = parse_and_hash_times();
    table.row(
        "parse the largest managed policy allowed (6 KB) / one argon2id verify, in-process",
        format!("{} / {}", us(t_max), ms(t_verify)),
        "—".into(),
        "the hash is the cost of a login".into(),
        "—".into(),
    );

    // 2. The big store: 10,000 users, 500 groups, 1,000 policies.
    let host = BenchHost::new(&release);
    let t = Instant::now();
    host.populate(10_000, 500, 1_000);
    let populated = t.elapsed();

    // acct_mgmt vs pam_permit.
    let acct = host.service("account required @MODULE@\n");
    let permit = host.service("account required pam_permit.so\n");
    let n = 60 * scale;
    let (iam_acct, permit_acct) = interleaved(n, |i| {
        let user = format!("u{}", (i * 7919) % 10_000);
        let run = |service: &Service| pamtester(service, &user, &["acct_mgmt"], &[], true);
        // ABBA: neither side always runs right after the other.
        match i % 2 {
            0 => {
                let a = run(&acct);
                (a, run(&permit))
            }
            _ => {
                let b = run(&permit);
                (run(&acct), b)
            }
        }
    });
    table.compare(
        "PAM acct_mgmt via pamtester (10k users, 500 groups, 1k policies)",
        &iam_acct,
        "pam_permit.so",
        &permit_acct,
    );

    // 3. password + TOTP authenticate vs pam_unix + pam_google_authenticator.
    let n_auth = 12 * scale;
    let iam_users = host.mfa_users(n_auth);
    let locals_sha = LocalUsers::create(&host.dir.path().join("home"), n_auth, "SHA512", "s");
    let locals_yes = LocalUsers::create(&host.dir.path().join("home"), n_auth, "YESCRYPT", "y");
    let iam_auth = host.service("auth required @MODULE@\n");
    let unix_ga =
        host.service("auth required pam_unix.so\nauth required pam_google_authenticator.so\n");
    let mut iam_t = Vec::new();
    let mut sha_t = Vec::new();
    let mut yes_t = Vec::new();
    for (i, (u, secret)) in iam_users.iter().enumerate() {
        let code = code_now(secret);
        iam_t.push(pamtester(
            &iam_auth,
            u,
            &["authenticate"],
            &[&password_of(u), &code],
            true,
        ));
        for (locals, out) in [(&locals_sha, &mut sha_t), (&locals_yes, &mut yes_t)] {
            if let Some(l) = locals.as_ref() {
                let (name, secret) = &l.users[i];
                let code = code_now(secret);
                out.push(pamtester(
                    &unix_ga,
                    name,
                    &["authenticate"],
                    &[&password_of(name), &code],
                    true,
                ));
            }
        }
    }
    let cost = format!(
        "argon2id m={} MiB t={} p={}",
        iam::password::ARGON2_M_COST_KIB / 1024,
        iam::password::ARGON2_T_COST,
        iam::password::ARGON2_P_COST
    );
    if locals_sha.is_some() {
        table.compare(
            &format!("authenticate password+TOTP ({cost})"),
            &iam_t,
            "pam_unix (sha512crypt, 5000 rounds) + pam_google_authenticator",
            &sha_t,
        );
    }
    if locals_yes.is_some() {
        table.compare(
            &format!("authenticate password+TOTP ({cost})"),
            &iam_t,
            "pam_unix (yescrypt, Debian 12's default cost 5) + pam_google_authenticator",
            &yes_t,
        );
    }
    // Password only, same users: the hash costs side by side.
    if let Some(locals) = locals_yes.as_ref() {
        let iam_pw = host.service("auth required @MODULE@ mode=password\n");
        let unix = host.service("auth required pam_unix.so\n");
        let (a, b) = interleaved(n_auth, |i| {
            let u = &iam_users[i].0;
            let l = &locals.users[i].0;
            (
                pamtester(&iam_pw, u, &["authenticate"], &[&password_of(u)], true),
                pamtester(&unix, l, &["authenticate"], &[&password_of(l)], true),
            )
        });
        table.compare(
            &format!("authenticate password only, mode=password ({cost})"),
            &a,
            "pam_unix.so (yescrypt, cost 5)",
            &b,
        );
    }
    drop(locals_sha);

    // A whole SSH login through a real sshd, both stacks side by side.
    match ssh_prerequisites() {
        Ok(()) if locals_yes.is_some() => ssh_logins(&mut table, &host, n_auth),
        Ok(()) => eprintln!("iam-bench: SSH rows skipped: no yescrypt local users"),
        Err(missing) => eprintln!("iam-bench: SSH rows skipped: {missing}"),
    }
    drop(locals_yes);

    // 4. Unknown vs known user: what a remote guesser could time.
    let n_timing = 60 * scale;
    let deny_host = BenchHost::with_toml(
        &release,
        "[login]\nunknown_user = \"deny\"\n[lockout]\ndeny = 1000\n",
    );
    deny_host.populate(50, 5, 10);
    let known = deny_host.mfa_users(1);
    let deny_auth = deny_host.service("auth required @MODULE@\n");
    let (known_t, unknown_t) = interleaved(n_timing, |i| {
        (
            pamtester(
                &deny_auth,
                &known[0].0,
                &["authenticate"],
                &["wrong-password", "000000"],
                false,
            ),
            pamtester(
                &deny_auth,
                &format!("nobody{i}"),
                &["authenticate"],
                &["wrong-password", "000000"],
                false,
            ),
        )
    });
    let (mk, sk) = mean_sd(&known_t);
    let (mu, su) = mean_sd(&unknown_t);
    let t_stat =
        (mk - mu) / ((sk * sk / known_t.len() as f64) + (su * su / unknown_t.len() as f64)).sqrt();
    table.row(
        "authenticate, wrong password: known user vs unknown user (mean ± sd; median)",
        format!(
            "known {:.1} ± {:.1} ms; {}",
            mk * 1e3,
            sk * 1e3,
            ms(median(&known_t))
        ),
        format!(
            "unknown {:.1} ± {:.1} ms; {}",
            mu * 1e3,
            su * 1e3,
            ms(median(&unknown_t))
        ),
        format!("Welch t = {t_stat:.2} (|t| < 2: no difference at ~95%), n = {n_timing} each"),
        format!("{} / {}", kib(&known_t), kib(&unknown_t)),
    );

    // 5. iamctl against the big store.
    let n_cli = 10 * scale;
    let list: Vec<Run> = (0..n_cli).map(|_| host.iamctl(&["list-users"])).collect();
    table.single("iamctl list-users (10,000 users, JSON out)", &list);
    let sim: Vec<Run> = (0..n_cli)
        .map(|i| {
            host.iamctl(&[
                "simulate-principal-policy",
                "--policy-source-arn",
                &format!("arn:aws:iam::{ACCOUNT}:user/u{}", (i * 7919) % 10_000),
                "--action-names",
                "host:Login",
                "s3:GetObject",
                "--resource-arns",
                &format!("arn:aws:host::{ACCOUNT}:host/web-1"),
            ])
        })
        .collect();
    table.single(
        "iamctl simulate-principal-policy (user in 3 groups, 11 policies)",
        &sim,
    );

    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("{}", table.render());
    println!(
        "machine: {} cores ({}), load average at the end: {}; store populated (10,000 users, 500 groups, 1,000 policies, one transaction) in {:.1} s; {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        cpu_model(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        populated.as_secs_f64(),
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
    );
}

fn nix_is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_owned()
}

// ---- artifacts ---------------------------------------------------------

struct Release {
    iamctl: PathBuf,
    module: PathBuf,
}

/// Builds (if needed) and finds the release iamctl and libpam_iam.so.
fn build_release() -> Release {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let st = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "-p", "iamctl", "-p", "pam_iam"])
        .status()
        .expect("cargo build");
    assert!(st.success(), "cargo build --release failed");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => root.join("target"),
    };
    Release {
        iamctl: target.join("release/iamctl").canonicalize().unwrap(),
        module: target.join("release/libpam_iam.so").canonicalize().unwrap(),
    }
}

// ---- the policy engine -----------------------------------------------------

fn policy_rate() -> (f64, f64) {
    let ctx = shape::context();
    let req = Request {
        principal: "arn:aws:iam::123456789012:user/alice",
        action: "host:Login",
        resource: "arn:aws:host::123456789012:host/web-1",
        context: &ctx,
    };
    let set = shape::policies(false);
    let stress = shape::policies(true);
    assert_eq!(authorize(&req, &set).decision, Decision::Allowed);
    assert_eq!(authorize(&req, &stress).decision, Decision::Allowed);
    (
        shape::best_rate(&req, &set),
        shape::best_rate(&req, &stress),
    )
}

fn parse_and_hash_times() -> (Duration, Duration) {
    let st = r#"{"Effect":"Allow","Action":"host:Login","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#;
    let n = (6144 - 40) / (st.len() + 1);
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![st; n].join(",")
    );
    let parse = (0..50)
        .map(|_| {
            let t = Instant::now();
            Policy::parse("max", black_box(&doc), PolicyKind::Managed).unwrap();
            t.elapsed()
        })
        .min()
        .unwrap();
    let pw = SecretString::from("Bench-Passw0rd!");
    let hash = iam::password::hash_password(&pw).unwrap();
    let verify = (0..10)
        .map(|_| {
            let t = Instant::now();
            assert!(iam::password::verify_password(&pw, black_box(&hash)));
            t.elapsed()
        })
        .min()
        .unwrap();
    (parse, verify)
}

fn rejection_times() -> (Duration, Duration) {
    let mb = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"*","Resource":"*"}}]}}"#,
        "A".repeat(1 << 20)
    );
    let st = r#"{"Effect":"Allow","Action":"host:Login","Resource":"*"}"#;
    let many = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![st; 10_000].join(",")
    );
    let time = |doc: &str| {
        (0..20)
            .map(|_| {
                let t = Instant::now();
                assert!(Policy::parse("big", black_box(doc), PolicyKind::Managed).is_err());
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    (time(&mb), time(&many))
}

// ---- hosts, stores, users -----------------------------------------------------

struct BenchHost {
    dir: tempfile::TempDir,
    config: PathBuf,
    release: Release,
}

impl BenchHost {
    fn new(release: &Release) -> Self {
        Self::with_toml(release, "")
    }

    fn with_toml(release: &Release, extra: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("iam-bench-")
            .tempdir()
            .unwrap();
        // Homes of the local test users live below: traversable.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let config = dir.path().join("iam.toml");
        fs::write(
            &config,
            format!(
                "account_id = \"{ACCOUNT}\"\nhostname = \"web-1\"\ndatabase = \"iam.db\"\n\
                 audit_log = \"audit.log\"\n{extra}\n[host_tags]\nenv = \"prod\"\n\
                 [accounts]\nextrausers_dir = \"extrausers\"\nuid_range = [5000000, 5099999]\n"
            ),
        )
        .unwrap();
        let account = AccountId::parse(ACCOUNT).unwrap();
        drop(Store::create(&dir.path().join("iam.db"), &account).unwrap());
        Self {
            dir,
            config,
            release: Release {
                iamctl: release.iamctl.clone(),
                module: release.module.clone(),
            },
        }
    }

    fn store(&self) -> Store {
        let mut s = Store::open(&self.dir.path().join("iam.db")).unwrap();
        s.set_limits(iam::store::Limits {
            uid_range: (5_000_000, 5_099_999),
            ..Default::default()
        });
        s
    }

    /// Users u0…, groups g0…, managed policies p0…: each user in 3 groups
    /// with 1 inline and 1 attached policy, each group with 1 inline and 2
    /// attached (the shape of iam/tests/store_scale.rs), one transaction.
    fn populate(&self, users: usize, groups: usize, policies: usize) {
        let s = self.store();
        let now = Utc::now();
        let doc = |i: usize| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"S{i}","Effect":"Allow","Action":["host:Login","s3:GetObject"],"Resource":"arn:aws:host::{ACCOUNT}:host/web-{i}","Condition":{{"IpAddress":{{"aws:SourceIp":"10.{}.0.0/16"}}}}}}]}}"#,
                i % 250
            )
        };
        let login = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Login","Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;
        let pname = |i: usize| PolicyName::parse(&format!("p{i}")).unwrap();
        let parn = |i: usize| format!("arn:aws:iam::{ACCOUNT}:policy/p{i}");
        s.atomically(|s| {
            for i in 0..policies {
                s.create_policy(&pname(i), &IamPath::root(), None, &doc(i), now)?;
            }
            for g in 0..groups {
                let name = GroupName::parse(&format!("g{g}")).unwrap();
                s.create_group(&name, &IamPath::root(), now)?;
                let e = Entity::Group(name);
                s.put_inline_policy(&e, &pname(g), &doc(g))?;
                s.attach_policy(&e, &parn(g % policies))?;
                s.attach_policy(&e, &parn((g + 1) % policies))?;
            }
            for u in 0..users {
                let name = UserName::parse(&format!("u{u}")).unwrap();
                s.create_user(&NewUser::new(name.clone()), now)?;
                for k in 0..3 {
                    let g = GroupName::parse(&format!("g{}", (u + k * 7) % groups)).unwrap();
                    s.add_user_to_group(&name, &g)?;
                }
                let e = Entity::User(name);
                s.put_inline_policy(&e, &PolicyName::parse("Login").unwrap(), login)?;
                s.attach_policy(&e, &parn(u % policies))?;
            }
            Ok(())
        })
        .unwrap();
    }

    /// `n` users with a real (full-cost) password hash and an MFA device.
    fn mfa_users(&self, n: usize) -> Vec<(String, SecretBytes)> {
        let s = self.store();
        let now = Utc::now();
        let step = iam::totp::step_at(now).unwrap();
        (0..n)
            .map(|i| {
                let user = format!("mfa{i}");
                let name = UserName::parse(&user).unwrap();
                s.create_user(&NewUser::new(name.clone()), now).unwrap();
                let hash = iam::password::hash_password(&SecretString::from(password_of(&user))).unwrap();
                s.create_login_profile(&name, &hash, false, now).unwrap();
                s.put_inline_policy(
                    &Entity::User(name.clone()),
                    &PolicyName::parse("Login").unwrap(),
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#,
                )
                .unwrap();
                let secret = iam::totp::generate_secret().unwrap();
                let device = MfaDeviceName::parse(&format!("{user}-phone")).unwrap();
                let created = s.create_virtual_mfa_device(&device, &IamPath::root(), &secret, now).unwrap();
                s.enable_mfa_device(&name, &created.serial_number, step - 10, now).unwrap();
                (user, secret)
            })
            .collect()
    }

    /// A PAM service; `@MODULE@` is the release module with this config.
    fn service(&self, lines: &str) -> Service {
        let name = format!("iam-bench-{}-{}", std::process::id(), next_serial());
        let module = format!(
            "{} config={}",
            self.release.module.display(),
            self.config.display()
        );
        let path = PathBuf::from("/etc/pam.d").join(&name);
        fs::write(&path, lines.replace("@MODULE@", &module)).unwrap();
        Service { name, path }
    }

    fn iamctl(&self, args: &[&str]) -> Run {
        let mut cmd = timed();
        cmd.arg(&self.release.iamctl)
            .arg("--config")
            .arg(&self.config)
            .args(args);
        let run = measure(cmd, "");
        assert!(run.ok, "iamctl {args:?} failed");
        run
    }
}

fn next_serial() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn password_of(user: &str) -> String {
    format!("Bench-{user}-Passw0rd!")
}

fn code_now(secret: &SecretBytes) -> String {
    iam::totp::code_at(secret, Utc::now().timestamp() as u64)
        .expose()
        .to_owned()
}

struct Service {
    name: String,
    path: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Local Linux users for pam_unix + pam_google_authenticator, removed on
/// drop: a password hashed with `method` and a ~/.google_authenticator with
/// a TOTP secret, ±1 step and DISALLOW_REUSE (pam_iam's defaults).
struct LocalUsers {
    users: Vec<(String, SecretBytes)>,
}

impl LocalUsers {
    fn create(homes: &Path, n: usize, method: &str, tag: &str) -> Option<Self> {
        fs::create_dir_all(homes).unwrap();
        fs::set_permissions(homes, fs::Permissions::from_mode(0o755)).unwrap();
        let mut made = Self { users: Vec::new() };
        for i in 0..n {
            let name = format!("iamb{}{tag}{i}", std::process::id() % 100_000);
            let home = homes.join(&name);
            let st = Command::new("useradd")
                .args(["-M", "-s", "/bin/sh", "-d"])
                .arg(&home)
                .arg(&name)
                .status()
                .unwrap();
            assert!(st.success(), "useradd {name}");
            made.users
                .push((name.clone(), iam::totp::generate_secret().unwrap()));
            let mut chpasswd = Command::new("chpasswd")
                .args(["-c", method])
                .stdin(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let line = format!("{name}:{}\n", password_of(&name));
            chpasswd
                .stdin
                .take()
                .unwrap()
                .write_all(line.as_bytes())
                .unwrap();
            if !chpasswd.wait().unwrap().success() {
                eprintln!("chpasswd -c {method} is not supported here: that row is skipped");
                return None;
            }
            fs::create_dir_all(&home).unwrap();
            let secret = &made.users[i].1;
            let file = home.join(".google_authenticator");
            fs::write(
                &file,
                format!(
                    "{}\n\" WINDOW_SIZE 3\n\" DISALLOW_REUSE\n\" TOTP_AUTH\n",
                    iam::totp::secret_base32(secret).expose()
                ),
            )
            .unwrap();
            fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
            let st = Command::new("chown")
                .arg("-R")
                .arg(&name)
                .arg(&home)
                .status()
                .unwrap();
            assert!(st.success());
        }
        Some(made)
    }
}

impl Drop for LocalUsers {
    fn drop(&mut self) {
        for (name, _) in &self.users {
            let _ = Command::new("userdel")
                .arg(name)
                .stderr(Stdio::null())
                .status();
        }
    }
}

// ---- SSH logins through a real sshd ------------------------------------------------

/// The Debian packages the SSH rows need besides pamtester (README,
/// "Benchmarks"); `Err` names the missing ones.
fn ssh_prerequisites() -> Result<(), String> {
    let missing: Vec<&str> = [
        "openssh-server",
        "python3-paramiko",
        "oathtool",
        "libnss-extrausers",
        "libpam-google-authenticator",
    ]
    .into_iter()
    .filter(|package| {
        !Command::new("dpkg-query")
            .args(["-W", "-f", "${Status}", package])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).ends_with(" installed"))
    })
    .collect();
    match missing.is_empty() {
        true => Ok(()),
        false => Err(format!("apt-get install {}", missing.join(" "))),
    }
}

/// `n` SSH logins per side, interleaved: keyboard-interactive password +
/// TOTP, then `id`, through tests/harness.rs's sshd (the shipped sshd
/// snippet and PAM stack) and its paramiko driver. pam_iam's users are IAM
/// users published through libnss-extrausers; the baseline's are local
/// users (yescrypt) with pam_google_authenticator, in the same stack with
/// pam_iam's lines taken out. Homes exist on both sides beforehand.
fn ssh_logins(table: &mut Table, bench: &BenchHost, n: usize) {
    let _lock = e2e::host_lock();
    e2e::ensure_nsswitch_extrausers();
    let host = e2e::Host::new("");
    let users: Vec<(String, String)> = (0..n)
        .map(|_| {
            let name = e2e::unique("sshb");
            host.add_user(&name, Some(&password_of(&name)));
            host.allow_login(&name);
            let seed = host.add_mfa(&name);
            (name, seed)
        })
        .collect();
    let _published = e2e::PublishedAccounts::publish(&host);
    for (name, _) in &users {
        make_home(name);
    }
    // Fresh local users: the authenticate rows used this step's codes.
    let locals = LocalUsers::create(&bench.dir.path().join("home"), n, "YESCRYPT", "h").unwrap();
    let shipped = e2e::shipped_stack("sshd-password-totp");
    let iam_sshd = e2e::Sshd::start(&host, &shipped, "password-totp.conf", "");
    let unix_sshd = e2e::Sshd::start(
        &host,
        &baseline_sshd_stack(&shipped),
        "password-totp.conf",
        "",
    );
    let login = |sshd: &e2e::Sshd, user: &str, code: String| {
        let start = Instant::now();
        let result = sshd.login(&e2e::SshLogin {
            user: user.to_owned(),
            password: Some(password_of(user)),
            code: Some(code),
            ..e2e::SshLogin::default()
        });
        let wall = start.elapsed();
        assert_eq!(
            result["ok"],
            true,
            "SSH login of {user}: {result}\n{}",
            sshd.log()
        );
        wall
    };
    let cpu_before = (children_cpu(iam_sshd.pid()), children_cpu(unix_sshd.pid()));
    let mut iam_t = Vec::new();
    let mut unix_t = Vec::new();
    for (i, ((user, seed), (local, secret))) in users.iter().zip(&locals.users).enumerate() {
        let mut pair = [
            (&iam_sshd, user, e2e::oathtool(seed, 0), &mut iam_t),
            (&unix_sshd, local, code_now(secret), &mut unix_t),
        ];
        if i % 2 == 1 {
            pair.reverse();
        }
        for (sshd, user, code, out) in pair {
            out.push(login(sshd, user, code));
        }
    }
    // The last session's sshd may still be closing.
    std::thread::sleep(Duration::from_millis(500));
    let cpu = |pid: u32, before: Duration| (children_cpu(pid) - before) / n as u32;
    let (iam_cpu, unix_cpu) = (
        cpu(iam_sshd.pid(), cpu_before.0),
        cpu(unix_sshd.pid(), cpu_before.1),
    );
    let runs = |walls: &[Duration], cpu: Duration| -> Vec<Run> {
        walls
            .iter()
            .map(|&wall| Run {
                wall,
                cpu,
                rss_kib: 0,
                ok: true,
            })
            .collect()
    };
    table.compare(
        "SSH login via a real sshd: keyboard-interactive password + TOTP, then `id` (paramiko client; CPU: sshd's processes, mean per login)",
        &runs(&iam_t, iam_cpu),
        "pam_unix (yescrypt, cost 5) + pam_google_authenticator",
        &runs(&unix_t, unix_cpu),
    );
}

/// The shipped sshd stack as a site without pam_iam writes it: pam_iam's
/// lines and their pam_localuser guards out, pam_google_authenticator after
/// pam_unix (`@include common-auth`).
fn baseline_sshd_stack(shipped: &str) -> String {
    shipped
        .lines()
        .filter(|l| !l.contains("@MODULE@") && !l.contains("pam_localuser.so"))
        .map(|l| match l {
            "@include common-auth" => {
                "@include common-auth\nauth       required     pam_google_authenticator.so\n"
                    .to_owned()
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

/// The home of a published IAM user, made as pam_mkhomedir would at the
/// first login (not what is measured).
fn make_home(name: &str) {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .unwrap();
    let entry = String::from_utf8_lossy(&out.stdout).into_owned();
    let home = entry.trim().split(':').nth(5).expect("passwd entry");
    fs::create_dir_all(home).unwrap();
    fs::set_permissions(home, fs::Permissions::from_mode(0o700)).unwrap();
    let st = Command::new("chown")
        .arg(format!("{name}:"))
        .arg(home)
        .status()
        .unwrap();
    assert!(st.success(), "chown {home}");
}

/// CPU time (user + system) of `pid`'s reaped children, from
/// `/proc/PID/stat` (clock ticks; 100 per second on Linux).
fn children_cpu(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised name; cutime and cstime are 16 and 17.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let ticks: u64 = rest
        .split_whitespace()
        .skip(13)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

// ---- measuring processes ------------------------------------------------------

/// One process run: wall time, CPU time (user + sys, 10 ms resolution),
/// peak RSS (KiB), success.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: Duration,
    cpu: Duration,
    rss_kib: u64,
    ok: bool,
}

/// `/usr/bin/time -f %M` reports the child's peak RSS to a file.
fn timed() -> Command {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "%M", "-o"]).arg(rss_file());
    cmd
}

/// CPU time (user + system) of every child this process has waited for,
/// to the microsecond: the difference around one run is that run's (the
/// `/usr/bin/time` wrapper's own ~constant share included), which other
/// load on the machine inflates far less than wall time.
fn children_cpu_self() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let micros = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    micros(usage.user_time()) + micros(usage.system_time())
}

fn rss_file() -> PathBuf {
    std::env::temp_dir().join(format!("iam-bench-rss-{}", std::process::id()))
}

fn measure(mut cmd: Command, stdin: &str) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let cpu_before = children_cpu_self();
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin.as_bytes());
    }
    let status = child.wait().expect("wait");
    let wall = start.elapsed();
    let cpu = children_cpu_self() - cpu_before;
    let report = fs::read_to_string(rss_file()).unwrap_or_default();
    let fields: Vec<f64> = report
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let rss_kib = fields.first().copied().unwrap_or(0.0) as u64;
    Run {
        wall,
        cpu,
        rss_kib,
        ok: status.success(),
    }
}

fn pamtester(
    service: &Service,
    user: &str,
    ops: &[&str],
    answers: &[&str],
    must_succeed: bool,
) -> Run {
    let mut cmd = timed();
    cmd.args(["pamtester", "-I", "rhost=10.1.2.3", &service.name, user])
        .args(ops);
    let mut stdin = answers.join("\n");
    stdin.push('\n');
    let run = measure(cmd, &stdin);
    if must_succeed {
        assert!(run.ok, "pamtester {} {user} {ops:?} failed", service.name);
    } else {
        assert!(
            !run.ok,
            "pamtester {} {user} {ops:?} succeeded",
            service.name
        );
    }
    run
}

/// `n` pairs, the two sides alternating so load changes hit both alike.
fn interleaved(n: usize, mut pair: impl FnMut(usize) -> (Run, Run)) -> (Vec<Run>, Vec<Run>) {
    let mut a = Vec::with_capacity(n);
    let mut b = Vec::with_capacity(n);
    for i in 0..n {
        let (x, y) = pair(i);
        a.push(x);
        b.push(y);
    }
    (a, b)
}

// ---- statistics and the table ---------------------------------------------------

fn median(runs: &[Run]) -> Duration {
    let mut w: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
    w.sort();
    w.get(w.len() / 2).copied().unwrap_or_default()
}

fn spread(runs: &[Run]) -> (Duration, Duration) {
    let mut w: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
    w.sort();
    let p = |q: f64| {
        w.get(((w.len() - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    (p(0.1), p(0.9))
}

fn mean_sd(runs: &[Run]) -> (f64, f64) {
    let xs: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn ns(d: Duration) -> String {
    format!("{} ns", d.as_nanos())
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// Peak RSS; "—" where none was measured (SSH logins).
fn kib(runs: &[Run]) -> String {
    match runs.iter().map(|r| r.rss_kib).max().unwrap_or(0) {
        0 => "—".to_owned(),
        peak => format!("{:.1} MiB", peak as f64 / 1024.0),
    }
}

fn median_cpu(runs: &[Run]) -> Duration {
    let mut cpu: Vec<Duration> = runs.iter().map(|r| r.cpu).collect();
    cpu.sort();
    cpu.get(cpu.len() / 2).copied().unwrap_or_default()
}

fn timing(runs: &[Run]) -> String {
    let (lo, hi) = spread(runs);
    format!(
        "{} (p10 {}, p90 {}, n={}; CPU {:.2} ms)",
        ms(median(runs)),
        ms(lo),
        ms(hi),
        runs.len(),
        median_cpu(runs).as_secs_f64() * 1e3
    )
}

#[derive(Default)]
struct Table {
    rows: Vec<[String; 5]>,
}

impl Table {
    fn row(&mut self, what: &str, iam: String, baseline: String, ratio: String, rss: String) {
        self.rows.push([what.to_owned(), iam, baseline, ratio, rss]);
    }

    fn compare(&mut self, what: &str, iam: &[Run], base_name: &str, base: &[Run]) {
        let ratio = median(iam).as_secs_f64() / median(base).as_secs_f64();
        let cpu_ratio = median_cpu(iam).as_secs_f64() / median_cpu(base).as_secs_f64();
        self.row(
            what,
            timing(iam),
            format!("{base_name}: {}", timing(base)),
            format!("{ratio:.2}× (CPU {cpu_ratio:.2}×)"),
            format!("{} / {}", kib(iam), kib(base)),
        );
    }

    fn single(&mut self, what: &str, runs: &[Run]) {
        self.row(
            what,
            timing(runs),
            "—".into(),
            "target < 100 ms".into(),
            kib(runs),
        );
    }

    fn render(&self) -> String {
        let mut out = String::from(
            "| measurement | pam_iam | baseline | ratio / note | peak RSS (pam_iam / baseline) |\n|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                r[0], r[1], r[2], r[3], r[4]
            );
        }
        out
    }
}
