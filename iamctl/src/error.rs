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

impl From<iam::store::StoreError> for CliError {
    fn from(e: iam::store::StoreError) -> Self {
        Self::new(e.aws_code(), e.to_string())
    }
}

impl From<iam::names::NameError> for CliError {
    /// AWS's wording for a parameter that breaks its pattern.
    fn from(e: iam::names::NameError) -> Self {
        Self::new("ValidationError", e.to_string())
    }
}

impl From<iam::principal::PrincipalError> for CliError {
    fn from(e: iam::principal::PrincipalError) -> Self {
        match e {
            iam::principal::PrincipalError::Store(s) => s.into(),
            other => Self::new("ServiceFailure", other.to_string()),
        }
    }
}

/// A line on stderr that cannot panic (a closed or broken stderr is
/// ignored: the exit status still tells).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
