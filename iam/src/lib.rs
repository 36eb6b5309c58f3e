//! The `iam` crate: every rule of pam_iam lives here.
//!
//! `pam_iam` (the PAM module) and `iamctl` (the CLI) are thin glue over this
//! crate. Nothing here links libpam, parses argv or touches the process
//! environment; the clock is always a parameter, so every rule is testable
//! unprivileged.
#![forbid(unsafe_code)]

pub mod audit;
pub mod config;
pub mod elevation;
pub mod extrausers;
pub mod hostsetup;
pub mod local_accounts;
pub mod login;
pub mod names;
pub mod password;
pub mod policy;
pub mod principal;
pub mod request;
pub mod secret;
pub mod store;
pub mod syslog;
pub mod totp;
