//! iam.toml of any bytes through `HostConfig::parse`: an error or a config,
//! never a panic; a parsed config yields a host ARN and home paths.
#![no_main]

use std::path::Path;

use iam::config::HostConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match HostConfig::parse(text, Path::new("/etc/iam/iam.toml")) {
        Ok(config) => {
            let arn = config.host_arn();
            assert!(arn.starts_with("arn:aws:host::"));
            let _ = config.accounts.home_for("alice");
            assert!(config.totp.skew_steps <= iam::config::MAX_SKEW_STEPS);
            assert!(config.lockout.deny >= 1);
        }
        // Errors render (they name key and line).
        Err(e) => drop(e.to_string()),
    }
});
