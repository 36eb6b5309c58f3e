//! The `iam` crate: every rule of pam_iam that its programs share lives
//! here; the policy language is its own crate, `iam-policy` (re-exported as
//! [`policy`]).
//!
//! `pam_iam` (the PAM module) and `iamctl` (the CLI) are thin glue over this
//! crate. Nothing here links libpam, parses argv or touches the process
//! environment; the clock is always a parameter, so every rule is testable
//! unprivileged.
#![forbid(unsafe_code)]

pub mod access;
pub mod audit;
pub mod config;
pub mod directory;
pub mod elevation;
pub mod factors;
pub mod ledger;
pub mod local_accounts;
pub mod login;
pub mod names;
pub mod password;
pub mod principal;
pub mod publish;
pub mod recovery_codes;
pub mod request;
pub mod secret;
pub mod store;
pub mod syslog;
pub mod totp;
pub mod trust;

/// The policy engine lives in its own crate; `iam::policy` keeps the
/// paths the rest of the code base uses.
pub use iam_policy as policy;
