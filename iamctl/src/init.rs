//! `iamctl init` (ours): write a starter iam.toml if there is none, create
//! the store (0600) and publish the (empty) Linux account files. Idempotent:
//! run again, it changes nothing and reports the same.

use crate::cli::InitArgs;
use crate::error::CliError;
use crate::setuid::{Invoker, SYSTEM_CONFIG};
use iam::config::HostConfig;
use iam::names::AccountId;
use iam::store::Store;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub fn run(invoker: Invoker, config_path: &Path, a: &InitArgs) -> Result<Value, CliError> {
    if !invoker.is_root() {
        return Err(CliError::new(
            "AccessDenied",
            "iamctl init must be run by root",
        ));
    }
    let fail = |e: iam::config::ConfigError| CliError::new("ServiceFailure", e.to_string());
    let created = match std::fs::symlink_metadata(config_path) {
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let account = match &a.account_id {
                Some(id) => AccountId::parse(id)?,
                None => random_account_id()?,
            };
            let mut text = iam::config::starter_config(account.as_str()).map_err(fail)?;
            if config_path != Path::new(SYSTEM_CONFIG) {
                // A config elsewhere (tests, a second instance) keeps its
                // store, audit log and account files beside it.
                text = text.replacen(
                    &format!("account_id = \"{account}\"\n"),
                    &format!(
                        "account_id = \"{account}\"\ndatabase  = \"iam.db\"\naudit_log = \"audit.log\"\n"
                    ),
                    1,
                );
                text.push_str("extrausers_dir = \"extrausers\"\n");
                text.push_str("authorized_keys_dir = \"authorized_keys\"\n");
            }
            write_new(config_path, &text)?;
            true
        }
        Err(e) => {
            return Err(CliError::new(
                "ServiceFailure",
                format!("cannot stat {}: {e}", config_path.display()),
            ));
        }
    };
    let config = HostConfig::load(config_path).map_err(fail)?;
    let account = AccountId::parse(&config.account_id)?;
    if let Some(id) = &a.account_id {
        if id != account.as_str() {
            return Err(CliError::invalid_input(format!(
                "{} already names account {account}, not {id}",
                config_path.display()
            )));
        }
    }
    let store = Store::open_or_create(&config.database, &account)?;
    crate::ctx::publish_accounts(&config, &store)?;
    Ok(json!({
        "Config": config_path.display().to_string(),
        "ConfigCreated": created,
        "Database": config.database.display().to_string(),
        "AccountId": account.as_str(),
    }))
}

/// A new file, 0600, never through a symlink; its directory is made 0755.
fn write_new(path: &Path, text: &str) -> Result<(), CliError> {
    let io = |e: std::io::Error| {
        CliError::new(
            "ServiceFailure",
            format!("cannot write {}: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io)?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io)
}

/// Twelve random digits.
fn random_account_id() -> Result<AccountId, CliError> {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| CliError::new("ServiceFailure", format!("cannot read /dev/urandom: {e}")))?;
    let n = u64::from_le_bytes(bytes) % 1_000_000_000_000;
    Ok(AccountId::parse(&format!("{n:012}"))?)
}
