//! The one error type of iamctl: an AWS error code and a message, printed as
//! one line (`NoSuchEntity: The user with name bob cannot be found.`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// AWS error code: `NoSuchEntity`, `EntityAlreadyExists`,
    /// `MalformedPolicyDocument`, `InvalidInput`, `LimitExceeded`,
    /// `AccessDenied`, `PasswordPolicyViolation`, `ServiceFailure`, …
    pub code: String,
    pub message: String,
}

impl CliError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    #[allow(dead_code)] // used by the verbs, which land with the store
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new("InvalidInput", message)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CliError {}
