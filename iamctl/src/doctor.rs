//! `iamctl doctor` (ours): checks everything an IAM login needs on this
//! host and prints one OK/WARN/FAIL line per check, with the fix. The rules
//! are `crate::hostsetup`'s (and, for the config, store and audit log,
//! `iam::trust`'s); this file only reads files and runs commands.

use crate::error::CliError;
use crate::hostsetup::{self, Check, FileMeta, HostFile, Status};
use crate::setuid::Invoker;
use crate::setup_host::{module_path, read_opt, require_root, user_summaries};
use iam::config::HostConfig;
use iam::local_accounts::{LocalAccounts, Shadowing, find_shadowing};
use iam::store::Store;
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

pub fn run(invoker: Invoker, config_path: &Path) -> Result<Value, CliError> {
    require_root(invoker, "doctor")?;
    let mut checks = Vec::new();
    let shown = config_path.display().to_string();
    let config_check = host_file(HostFile::Config, config_path);
    let config_trusted = config_check.status == Status::Ok;
    checks.push(config_check);
    // An untrusted config or store is not read: its FAIL line says why.
    let config = if !config_trusted {
        None
    } else {
        match HostConfig::load(config_path) {
            Ok(c) => {
                checks.push(Check::ok(format!(
                    "{shown}: valid, account {}",
                    c.account_id
                )));
                Some(c)
            }
            Err(e) => {
                checks.push(Check::fail(e.to_string(), format!("edit {shown}")));
                None
            }
        }
    };
    if let Some(cfg) = &config {
        let db = cfg.database.display().to_string();
        let store_check = host_file(HostFile::Store, &cfg.database);
        let store_trusted = store_check.status == Status::Ok;
        checks.push(store_check);
        checks.push(host_file(HostFile::AuditLog, &cfg.audit_log));
        if store_trusted {
            match user_summaries(cfg) {
                Ok(users) => {
                    checks.push(Check::ok(format!("{db}: store opens")));
                    checks.push(hostsetup::check_users(&users, cfg.login.require_mfa));
                    match shadowing(cfg) {
                        Ok(found) => checks.extend(hostsetup::check_shadowing(&found)),
                        Err(e) => checks.push(Check::fail(
                            format!("cannot check IAM names against local accounts: {e}"),
                            "make /etc/passwd and /etc/group readable",
                        )),
                    }
                    if let Some(u) = users.first() {
                        checks.push(nss_lookup(&u.name, cfg));
                    }
                }
                Err(e) => checks.push(Check::fail(format!("{db}: {e}"), "iamctl init")),
            }
        }
    }
    if let Some(cfg) = config
        .as_ref()
        .filter(|c| c.accounts.authorized_keys_dir.is_dir())
    {
        let dir = &cfg.accounts.authorized_keys_dir;
        checks.push(hostsetup::check_keys_dir(
            dir,
            iam::trust::check_directory(dir),
        ));
    }
    checks.push(match module_path() {
        Some(p) => Check::ok(format!("{}: installed", p.display())),
        None => Check::fail(
            format!(
                "{} not found in the PAM module directories",
                hostsetup::PAM_MODULE
            ),
            "apt-get install --reinstall pam-iam",
        ),
    });
    if let Ok(exe) = std::env::current_exe() {
        checks.push(hostsetup::check_iamctl_setuid(
            &exe.display().to_string(),
            meta(&exe),
        ));
    }
    let nsswitch = read_opt(Path::new("/etc/nsswitch.conf")).unwrap_or_default();
    checks.extend(hostsetup::check_nsswitch(&nsswitch));
    for service in ["sshd", "login"] {
        if !Path::new("/etc/pam.d").join(service).exists() {
            continue;
        }
        let read = |name: &str| read_opt(&Path::new("/etc/pam.d").join(name));
        match hostsetup::expand_pam_service(service, &read) {
            Ok(lines) => checks.extend(hostsetup::check_pam_stack(service, &lines)),
            Err(e) => checks.push(Check::fail(
                e,
                "reinstall libpam-runtime or fix the include",
            )),
        }
    }
    if Path::new("/usr/sbin/sshd").exists() {
        match Command::new("sshd").arg("-T").output() {
            Ok(out) if out.status.success() => {
                let sshd_t = String::from_utf8_lossy(&out.stdout);
                checks.extend(hostsetup::check_sshd_effective(&sshd_t));
                if let Some(cfg) = &config {
                    checks.extend(hostsetup::check_sshd_keys(
                        &sshd_t,
                        &cfg.accounts.authorized_keys_dir,
                        cfg.accounts.authorized_keys_dir.is_dir(),
                    ));
                }
            }
            Ok(out) => checks.push(Check::fail(
                format!("sshd -T: {}", String::from_utf8_lossy(&out.stderr).trim()),
                "fix the sshd configuration (sshd -t shows the error)",
            )),
            Err(e) => checks.push(Check::fail(
                format!("cannot run sshd -T: {e}"),
                "apt-get install openssh-server",
            )),
        }
    }
    let timedatectl = Command::new("timedatectl")
        .arg("show")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    checks.push(hostsetup::check_clock(timedatectl.as_deref()));

    for c in &checks {
        println!("{c}");
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed > 0 {
        return Err(CliError::new(
            "HostNotReady",
            format!("{failed} of {} checks failed", checks.len()),
        ));
    }
    Ok(Value::Null)
}

/// The IAM users and groups that collide with this host's accounts: the
/// rule publishing applies (`iam::local_accounts`).
fn shadowing(cfg: &HostConfig) -> Result<Vec<Shadowing>, String> {
    let local = LocalAccounts::read_host().map_err(|e| e.to_string())?;
    let store = Store::open(&cfg.database).map_err(|e| e.to_string())?;
    find_shadowing(&store, &local).map_err(|e| e.to_string())
}

/// The trust rule's verdict on one of the host's files (`iam::trust`).
fn host_file(file: HostFile, path: &Path) -> Check {
    hostsetup::check_host_file(file, path, iam::trust::check(path, file.contents()))
}

fn meta(path: &Path) -> Option<FileMeta> {
    std::fs::metadata(path).ok().map(|m| FileMeta {
        uid: m.uid(),
        mode: m.mode(),
    })
}

/// The end-to-end NSS check: `getpwnam()` of an IAM user, as sshd does it.
fn nss_lookup(name: &str, cfg: &HostConfig) -> Check {
    match nix::unistd::User::from_name(name) {
        Ok(Some(u)) => Check::ok(format!(
            "getpwnam({name}): uid {} (IAM users resolve)",
            u.uid
        )),
        _ => Check::fail(
            format!(
                "getpwnam({name}) fails: sshd will refuse IAM users before PAM runs (files in {})",
                cfg.accounts.extrausers_dir.display()
            ),
            "apt-get install libnss-extrausers && iamctl setup-host",
        ),
    }
}
