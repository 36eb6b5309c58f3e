//! `iamctl setup-host [--ssh] [--require-mfa] [--dry-run] [--join URL …]`
//! (ours): enrols the host first when asked (`crate::enrol`), reads the
//! host's files, asks `crate::hostsetup` what to change, prints each change
//! and applies it (atomic writes; pam-auth-update for the PAM stack).

use crate::cli::SetupHostArgs;
use crate::error::CliError;
use crate::hostsetup::{self, Change, HostState, SetupOptions, UserSummary};
use crate::setuid::Invoker;
use iam::config::HostConfig;
use iam::store::{Store, UserStatus};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where setup-host keeps what the package's postrm needs to undo it.
const STATE_DIR: &str = "/var/lib/iam/setup-host";

pub fn run(invoker: Invoker, config_path: &Path, a: &SetupHostArgs) -> Result<Value, CliError> {
    require_root(invoker, "setup-host")?;
    crate::enrol::setup(config_path, a)?;
    let state = gather(config_path)?;
    let opts = SetupOptions {
        ssh: a.ssh,
        require_mfa: a.require_mfa,
    };
    let changes = hostsetup::plan_setup(&state, opts).map_err(|refusals| {
        let mut msg = String::from("refusing to change this host:");
        for r in refusals {
            msg.push_str("\n  - ");
            msg.push_str(&r);
        }
        CliError::new("LockoutRisk", msg)
    })?;
    if changes.is_empty() {
        println!("nothing to change: this host is already set up");
        return Ok(Value::Null);
    }
    for change in &changes {
        let prefix = if a.dry_run { "would " } else { "" };
        println!("{prefix}{change}");
        if !a.dry_run {
            apply(change, config_path)?;
        }
    }
    if !a.dry_run {
        // The stacks as PAM will read them now, checked as doctor does.
        for service in ["sshd", "login"] {
            let read = |name: &str| read_opt(&Path::new("/etc/pam.d").join(name));
            if read(service).is_none() {
                continue;
            }
            match hostsetup::expand_pam_service(service, &read) {
                Ok(lines) => hostsetup::check_pam_stack(service, &lines)
                    .iter()
                    .filter(|c| c.status != hostsetup::Status::Ok)
                    .for_each(|c| println!("{c}")),
                Err(e) => println!("FAIL {e}"),
            }
        }
        println!("done; run `iamctl doctor` to check everything a login needs");
    }
    Ok(Value::Null)
}

pub fn require_root(invoker: Invoker, verb: &str) -> Result<(), CliError> {
    if invoker.is_root() {
        Ok(())
    } else {
        Err(CliError::new(
            "AccessDenied",
            format!("iamctl {verb} must be run by root"),
        ))
    }
}

fn gather(config_path: &Path) -> Result<HostState, CliError> {
    let config = read_opt(config_path);
    let loaded = HostConfig::load(config_path).map_err(|e| e.to_string());
    let users = match &loaded {
        Ok(cfg) => user_summaries(cfg).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let authorized_keys_dir = match &loaded {
        Ok(cfg) => cfg.accounts.authorized_keys_dir.clone(),
        Err(_) => PathBuf::from("/var/lib/iam-ssh"),
    };
    Ok(HostState {
        nsswitch: read_opt(Path::new("/etc/nsswitch.conf")).unwrap_or_default(),
        common_auth: read_opt(Path::new("/etc/pam.d/common-auth")),
        config,
        config_valid: loaded.map(|_| ()),
        users,
        module_installed: module_path().is_some(),
        profile_installed: Path::new("/usr/share/pam-configs")
            .join(hostsetup::PAM_PROFILE)
            .is_file(),
        sshd_config: read_opt(Path::new("/etc/ssh/sshd_config")),
        sshd_dropin: read_opt(Path::new(hostsetup::SSHD_DROPIN_PATH)),
        sshd_keys: sshd_authorized_keys(),
        authorized_keys_published: authorized_keys_dir.is_dir(),
        authorized_keys_dir,
        admin_iam_user: login_user_name(),
    })
}

/// The `AuthorizedKeysFile` sshd uses now, as `sshd -T` reports it (the
/// effective value, wherever it was set; sshd's default if unset).
fn sshd_authorized_keys() -> Result<String, String> {
    let sshd_t = run_cmd(Command::new("sshd").arg("-T")).map_err(|e| e.to_string())?;
    Ok(hostsetup::sshd_setting(&sshd_t, "authorizedkeysfile")
        .unwrap_or_else(|| hostsetup::SSHD_DEFAULT_AUTHORIZED_KEYS.to_owned()))
}

/// Every IAM user with what the lockout guard needs to know.
pub fn user_summaries(cfg: &HostConfig) -> Result<Vec<UserSummary>, CliError> {
    let store = Store::open(&cfg.database)?;
    Ok(store
        .credential_report()?
        .into_iter()
        .map(|row| UserSummary {
            name: row.user.as_str().to_owned(),
            active: row.status == UserStatus::Active,
            password: row.password_enabled,
            mfa: row.mfa_active,
        })
        .collect())
}

/// The installed module, in a multiarch (or plain) PAM module directory.
pub fn module_path() -> Option<PathBuf> {
    let mut dirs = Vec::new();
    for lib in ["/usr/lib", "/lib"] {
        if let Ok(entries) = fs::read_dir(lib) {
            dirs.extend(
                entries
                    .flatten()
                    .map(|e| e.path().join("security"))
                    .filter(|p| p.is_dir()),
            );
        }
        dirs.push(Path::new(lib).join("security"));
    }
    dirs.into_iter()
        .map(|d| d.join(hostsetup::PAM_MODULE))
        .find(|p| p.is_file())
}

/// The name behind the audit login uid (who logged in to start this admin
/// session, whatever sudo or su did since); `None` for root or unset.
fn login_user_name() -> Option<String> {
    let uid: u32 = fs::read_to_string("/proc/self/loginuid")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if uid == 0 || uid == u32::MAX {
        return None;
    }
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
}

pub fn read_opt(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

fn fail(what: impl std::fmt::Display) -> CliError {
    CliError::new("ServiceFailure", what.to_string())
}

fn apply(change: &Change, config_path: &Path) -> Result<(), CliError> {
    match change {
        Change::WriteFile {
            path,
            content,
            mode,
            ..
        } => {
            let path = if path == iam::config::DEFAULT_CONFIG_PATH {
                config_path
            } else {
                Path::new(path)
            };
            if path == Path::new("/etc/nsswitch.conf") {
                keep_original(path, "nsswitch.conf.orig")?;
            }
            write_keeping_mode(path, content, *mode)
        }
        Change::EnablePamProfile => {
            run_cmd(
                Command::new("pam-auth-update")
                    .args(["--package", "--enable", hostsetup::PAM_PROFILE])
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )?;
            let auth = read_opt(Path::new("/etc/pam.d/common-auth")).unwrap_or_default();
            if hostsetup::pam_profile_enabled(&auth) {
                Ok(())
            } else {
                Err(fail(
                    "pam-auth-update did not add pam_iam to /etc/pam.d/common-auth (it leaves locally edited common-* files alone); review them, then run: pam-auth-update --force --enable pam_iam",
                ))
            }
        }
        Change::PublishSshKeys(dir) => {
            // Traversable by all: sshd reads a user's file as that user.
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
            let config = HostConfig::load(config_path).map_err(fail)?;
            let store = Store::open(&config.database)?;
            let local = iam::local_accounts::LocalAccounts::read_host().map_err(fail)?;
            crate::ctx::publish_ssh_keys(
                &config,
                &store,
                &local,
                iam::publish::ssh_keys::Compare::Contents,
            )
        }
        Change::ReloadSshd => reload_sshd(),
    }
}

/// Copies `path` into the state dir once, before our first edit: the
/// record the package's postrm uses to know the edit was ours.
fn keep_original(path: &Path, name: &str) -> Result<(), CliError> {
    let dir = Path::new(STATE_DIR);
    fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create {STATE_DIR}: {e}")))?;
    let dest = dir.join(name);
    if dest.exists() {
        return Ok(());
    }
    fs::copy(path, &dest)
        .map(|_| ())
        .map_err(|e| fail(format!("cannot keep a copy of {}: {e}", path.display())))
}

/// Readers see the old or the new file, never half of one
/// (`iam::publish::write_atomic`). An existing file keeps its mode and owner.
fn write_keeping_mode(path: &Path, content: &str, new_mode: u32) -> Result<(), CliError> {
    let io = |e: std::io::Error| fail(format!("cannot write {}: {e}", path.display()));
    let dir = path
        .parent()
        .ok_or_else(|| fail(format!("{}: no directory", path.display())))?;
    fs::create_dir_all(dir).map_err(io)?;
    let (mode, owner) = match fs::symlink_metadata(path) {
        Ok(m) => (m.mode() & 0o7777, Some((m.uid(), m.gid()))),
        Err(_) => (new_mode, None),
    };
    iam::publish::write_atomic(path, content.as_bytes(), mode, owner).map_err(io)
}

fn run_cmd(cmd: &mut Command) -> Result<String, CliError> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| fail(format!("cannot run {shown}: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(fail(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Validates the whole sshd configuration with the drop-in in place; if
/// sshd rejects it, the drop-in is removed again so a restart cannot fail.
/// Then reloads a running sshd.
fn reload_sshd() -> Result<(), CliError> {
    if let Err(e) = run_cmd(Command::new("sshd").arg("-t")) {
        let _ = fs::remove_file(hostsetup::SSHD_DROPIN_PATH);
        return Err(fail(format!(
            "sshd rejects the configuration, {} removed again: {e}",
            hostsetup::SSHD_DROPIN_PATH
        )));
    }
    if Path::new("/run/systemd/system").is_dir() {
        run_cmd(Command::new("systemctl").args(["try-reload-or-restart", "ssh.service"]))?;
        return Ok(());
    }
    match read_opt(Path::new("/run/sshd.pid")).and_then(|p| p.trim().parse::<i32>().ok()) {
        Some(pid) => nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGHUP,
        )
        .map_err(|e| fail(format!("cannot signal sshd (pid {pid}): {e}"))),
        None => {
            println!("  sshd is not running; the settings apply when it starts");
            Ok(())
        }
    }
}
