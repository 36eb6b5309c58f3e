//! File trust (docs/SECURITY.md, "file trust"): the PAM module (pamtester
//! through the built `libpam_iam.so`), a setuid-root copy of the built
//! `iamctl` run as an IAM user, and `iamctl doctor` reach the same verdict
//! on every unsafe store and config: someone other than root owns it, others
//! may read the store or write either, a directory above it is a symlink, or
//! the file itself is one.
//!
//! As root (skipped with a notice otherwise, failed under `CI=true`).
//!
//! Test code: a failed step should stop the test loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e::{
    PamService, artifact, host_lock, pamtester, require_root, run_with_stdin, setuid_iamctl,
};

const STACK: &str = "auth required @MODULE@\naccount required @MODULE@\n";
const USER: &str = "trustee";
const PASSWORD: &str = "Trustee-Secret-1";
/// What pamtester prints for `PAM_AUTHINFO_UNAVAIL`: the module refused to
/// run, rather than refusing the password.
const UNAVAILABLE: &str = "Authentication service cannot retrieve authentication info";

/// The built iamctl as root with `--config config` and `args`.
fn root_iamctl(config: &Path, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(artifact("iamctl"));
    cmd.arg("--config").arg(config).args(args);
    run_with_stdin(cmd, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A host whose config directory stands in for /etc/iam: the store, the
/// audit log and the extrausers files beside the config, named by absolute
/// paths so the config can be reached (and moved) under other names. One
/// IAM user who may log in and read itself.
struct Site {
    root: tempfile::TempDir,
    /// The /etc/iam stand-in.
    etc: PathBuf,
    /// A setuid-root copy of the built iamctl.
    bin: PathBuf,
    uid: u32,
    gid: u32,
}

impl Site {
    fn new() -> Self {
        fs::create_dir_all("/etc/iam").unwrap();
        let (root, bin) = setuid_iamctl("iam-trust-");
        let etc = root.path().join("etc-iam");
        fs::create_dir(&etc).unwrap();
        chmod(&etc, 0o755);
        let mut site = Self {
            root,
            etc,
            bin,
            uid: 0,
            gid: 0,
        };
        site.write_config(&site.etc.join("iam.db"));
        site.admin(&["init", "--account-id", "123456789012"]);
        site.admin(&["create-user", "--user-name", USER]);
        site.admin_stdin(
            &["create-login-profile", "--user-name", USER],
            &format!("{PASSWORD}\n"),
        );
        let policy = site.root.path().join("policy.json");
        fs::write(
            &policy,
            format!(
                r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":"host:Login","Resource":"*"}},
                {{"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/{USER}"}}]}}"#
            ),
        )
        .unwrap();
        site.admin(&[
            "put-user-policy",
            "--user-name",
            USER,
            "--policy-name",
            "Trust",
            "--policy-document",
            &format!("file://{}", policy.display()),
        ]);
        let passwd = fs::read_to_string(site.etc.join("extrausers/passwd")).unwrap();
        let line = passwd
            .lines()
            .find(|l| l.split(':').next() == Some(USER))
            .unwrap();
        let id = |n: usize| line.split(':').nth(n).unwrap().parse().unwrap();
        site.uid = id(2);
        site.gid = id(3);
        site
    }

    fn config(&self) -> PathBuf {
        self.etc.join("iam.toml")
    }

    fn store(&self) -> PathBuf {
        self.etc.join("iam.db")
    }

    /// iam.toml naming `database`, written root 0644 as a package would.
    fn write_config(&self, database: &Path) {
        let low = 3_000_000 + std::process::id() % 50_000 * 100;
        let text = format!(
            "account_id = \"123456789012\"\nhostname = \"trust-host\"\n\
             database = \"{}\"\naudit_log = \"{}\"\n\n\
             [accounts]\nextrausers_dir = \"{}\"\nuid_range = [{low}, {}]\n",
            database.display(),
            self.etc.join("audit.log").display(),
            self.etc.join("extrausers").display(),
            low + 99,
        );
        let path = self.config();
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    }

    /// Root's iamctl with `--config`; panics on failure.
    fn admin(&self, args: &[&str]) {
        self.admin_stdin(args, "");
    }

    fn admin_stdin(&self, args: &[&str], stdin: &str) {
        let out = root_iamctl(&self.config(), args, stdin);
        assert!(
            out.status.success(),
            "iamctl {args:?}: {}",
            text(&out.stderr)
        );
    }

    /// The PAM module, config `config`: authenticate with the password,
    /// then the account stage.
    fn pam(&self, config: &Path) -> e2e::PamResult {
        let service = PamService::new(config, STACK);
        pamtester(
            &service,
            USER,
            Some("192.0.2.10"),
            &["authenticate", "acct_mgmt"],
            &[PASSWORD],
        )
    }

    /// The setuid copy as the IAM user, in a private mount namespace where
    /// `setup` (shell) has made /etc/iam what the case needs; by default a
    /// bind mount of our config directory.
    fn as_user(&self, setup: &str) -> Output {
        let line = format!(
            "{setup} && exec setpriv --reuid={} --regid={} --clear-groups {} get-user --user-name {USER}",
            self.uid,
            self.gid,
            self.bin.display()
        );
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c", &line]);
        run_with_stdin(cmd, "")
    }

    fn bind_etc(&self) -> String {
        format!("mount --bind {} /etc/iam", self.etc.display())
    }

    /// `iamctl doctor` as root; its stdout.
    fn doctor(&self, config: &Path) -> String {
        text(&root_iamctl(config, &["doctor"], "").stdout)
    }
}

/// PAM, the setuid iamctl and doctor all accept the site as it is.
fn all_accept(site: &Site, config: &Path, iamctl_setup: &str, path: &Path, case: &str) {
    let r = site.pam(config);
    assert!(r.success, "{case}: PAM refuses a sound host: {r:?}");
    let out = site.as_user(iamctl_setup);
    assert!(
        out.status.success(),
        "{case}: setuid iamctl refuses a sound host: {}",
        text(&out.stderr)
    );
    let doctor = site.doctor(config);
    let shown = path.display().to_string();
    assert!(
        !doctor
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains(&shown)),
        "{case}: doctor fails a sound file:\n{doctor}"
    );
}

/// PAM, the setuid iamctl and doctor all refuse, naming `culprit`.
fn all_refuse(
    site: &Site,
    config: &Path,
    iamctl_setup: &str,
    culprit: &Path,
    case: &str,
) -> (String, String) {
    let r = site.pam(config);
    assert!(r.failed_with(UNAVAILABLE), "{case}: PAM accepted: {r:?}");
    let out = site.as_user(iamctl_setup);
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "{case}: setuid iamctl accepted: {}",
        text(&out.stdout)
    );
    assert!(
        err.starts_with("ServiceFailure: ") && err.contains("refusing to use"),
        "{case}: setuid iamctl: {err}"
    );
    let doctor = site.doctor(config);
    let culprit = culprit.display().to_string();
    assert!(
        doctor.lines().any(|l| l.starts_with("FAIL")
            && l.contains(&culprit)
            && l.contains("refusing to use")),
        "{case}: doctor prints no FAIL for {culprit}:\n{doctor}"
    );
    (err, doctor)
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, uid: u32) {
    nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(uid)), None).unwrap();
}

#[test]
fn an_unsafe_store_is_refused_by_pam_iamctl_and_doctor() {
    if !require_root("an_unsafe_store_is_refused_by_pam_iamctl_and_doctor") {
        return;
    }
    let _lock = host_lock();
    let site = Site::new();
    let (config, store, bind) = (site.config(), site.store(), site.bind_etc());
    all_accept(&site, &config, &bind, &store, "sound store");

    chown(&store, 65534);
    let (err, _) = all_refuse(&site, &config, &bind, &store, "store owned by uid 65534");
    assert!(err.contains("owned by uid 65534"), "{err}");
    chown(&store, 0);

    for (mode, case) in [
        (0o640, "group-readable store"),
        (0o604, "world-readable store"),
        (0o620, "group-writable store"),
        (0o602, "world-writable store"),
    ] {
        chmod(&store, mode);
        all_refuse(&site, &config, &bind, &store, case);
        chmod(&store, 0o600);
    }
    all_accept(&site, &config, &bind, &store, "store restored");

    // A symlinked directory above the store: the config names it through
    // `via`, a link to the config directory.
    let via = site.root.path().join("via");
    symlink(&site.etc, &via).unwrap();
    site.write_config(&via.join("iam.db"));
    all_refuse(
        &site,
        &config,
        &bind,
        &via,
        "symlinked directory above the store",
    );

    // The store itself a symlink.
    let link = site.etc.join("link.db");
    symlink(&store, &link).unwrap();
    site.write_config(&link);
    all_refuse(&site, &config, &bind, &link, "store is a symlink");

    site.write_config(&store);
    all_accept(&site, &config, &bind, &store, "config restored");
}

#[test]
fn an_unsafe_config_is_refused_by_pam_iamctl_and_doctor() {
    if !require_root("an_unsafe_config_is_refused_by_pam_iamctl_and_doctor") {
        return;
    }
    let _lock = host_lock();
    let site = Site::new();
    let (config, bind) = (site.config(), site.bind_etc());
    all_accept(&site, &config, &bind, &config, "sound config");

    chown(&config, 65534);
    let (err, _) = all_refuse(&site, &config, &bind, &config, "config owned by uid 65534");
    assert!(err.contains("owned by uid 65534"), "{err}");
    chown(&config, 0);

    // Others may read the config (it holds no secret), never write it.
    for mode in [0o640, 0o604] {
        chmod(&config, mode);
        all_accept(
            &site,
            &config,
            &bind,
            &config,
            &format!("config mode {mode:o}"),
        );
    }
    for (mode, case) in [
        (0o664, "group-writable config"),
        (0o646, "world-writable config"),
    ] {
        chmod(&config, mode);
        all_refuse(&site, &config, &bind, &config, case);
    }
    chmod(&config, 0o644);

    // A symlinked directory above the config. The setuid iamctl reads only
    // /etc/iam/iam.toml, so in its namespace /etc is a directory of links
    // to the real /etc's entries, and `iam` a link to our config directory.
    let via = site.root.path().join("via");
    symlink(&site.etc, &via).unwrap();
    let real_etc = site.root.path().join("real-etc");
    let fake_etc = site.root.path().join("fake-etc");
    fs::create_dir(&real_etc).unwrap();
    fs::create_dir(&fake_etc).unwrap();
    chmod(&fake_etc, 0o755);
    for entry in fs::read_dir("/etc").unwrap() {
        let name = entry.unwrap().file_name();
        if name != "iam" {
            symlink(real_etc.join(&name), fake_etc.join(&name)).unwrap();
        }
    }
    symlink(&site.etc, fake_etc.join("iam")).unwrap();
    let linked_etc = format!(
        "mount --bind /etc {} && mount --bind {} /etc",
        real_etc.display(),
        fake_etc.display()
    );
    all_refuse(
        &site,
        &via.join("iam.toml"),
        &linked_etc,
        &via,
        "symlinked directory above the config",
    );
    // (PAM and doctor name /…/via; iamctl names /etc/iam.)

    // The config itself a symlink: /etc/iam/iam.toml links to the real one.
    let linked = site.root.path().join("etc-linked");
    fs::create_dir(&linked).unwrap();
    chmod(&linked, 0o755);
    symlink(&config, linked.join("iam.toml")).unwrap();
    all_refuse(
        &site,
        &linked.join("iam.toml"),
        &format!("mount --bind {} /etc/iam", linked.display()),
        &linked.join("iam.toml"),
        "config is a symlink",
    );
    all_accept(&site, &config, &bind, &config, "config restored");
}
