//! Passwords: argon2id PHC hashes and the account password policy.
//!
//! (Skeleton: the auth-primitives work fills in hashing, verification and
//! policy checks. The `PasswordPolicy` shape is fixed here because the store
//! persists it and iamctl prints it.)

use serde::{Deserialize, Serialize};

/// The account password policy, with AWS's field names
/// (`aws iam get-account-password-policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PasswordPolicy {
    pub minimum_password_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    /// Days; `None` means passwords never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_password_age: Option<u32>,
    /// How many previous passwords may not be reused; `None` means no check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_reuse_prevention: Option<u32>,
    #[serde(default)]
    pub hard_expiry: bool,
}

impl Default for PasswordPolicy {
    /// AWS's default when no policy is set: 8 characters, no class rules.
    fn default() -> Self {
        Self {
            minimum_password_length: 8,
            require_symbols: false,
            require_numbers: false,
            require_uppercase_characters: false,
            require_lowercase_characters: false,
            allow_users_to_change_password: true,
            max_password_age: None,
            password_reuse_prevention: None,
            hard_expiry: false,
        }
    }
}
