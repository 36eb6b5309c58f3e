//! Every way a call fails, as AWS reports it: one place that turns each
//! failure into AWS's error code, HTTP status and Sender/Receiver fault.

use crate::query::QueryError;
use crate::sigv4::SigError;
use iam::principal::PrincipalError;
use iam::store::StoreError;
use iamctl::error::CliError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Signature(#[from] SigError),
    /// CloudTrail's own refusals (`InvalidLookupAttributesException`, …).
    #[error(transparent)]
    Trail(#[from] crate::trail::TrailError),
    /// An unknown or inactive key, or a session token that is not the one
    /// issued with it: AWS says the same for all of them.
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// A verb's own refusal (AccessDenied, NoSuchEntity, …), already in
    /// AWS's words.
    #[error("{}", .0.message)]
    Verb(CliError),
    /// The directory cannot be used right now (retryable, as the CLI
    /// expects of `ServiceUnavailable`).
    #[error("the directory is unavailable: {0}")]
    Unavailable(String),
    /// A server bug or a corrupt directory: the details are logged, the
    /// client gets a generic message.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<CliError> for ApiError {
    fn from(e: CliError) -> Self {
        Self::Verb(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { .. } => Self::Unavailable(e.to_string()),
            // What a verb would say of the same failure (NoSuchEntity, …).
            other => CliError::from(other).into(),
        }
    }
}

impl From<crate::keyring::KeyringError> for ApiError {
    fn from(e: crate::keyring::KeyringError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<iam::names::NameError> for ApiError {
    fn from(e: iam::names::NameError) -> Self {
        CliError::from(e).into()
    }
}

impl From<PrincipalError> for ApiError {
    fn from(e: PrincipalError) -> Self {
        CliError::from(e).into()
    }
}

impl ApiError {
    pub fn code(&self) -> &str {
        match self {
            Self::Query(e) => e.code(),
            Self::Signature(e) => e.aws_code(),
            Self::Trail(e) => e.code(),
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::ExpiredToken => "ExpiredToken",
            Self::Verb(e) if e.code == "ServiceFailure" => "ServiceFailure",
            Self::Verb(e) => &e.code,
            Self::Unavailable(_) => "ServiceUnavailable",
            Self::Internal(_) => "InternalFailure",
        }
    }

    /// The `__type` of an error in AWS's JSON 1.1 protocol (CloudTrail):
    /// the same failure, under the names JSON services give it.
    pub fn json_code(&self) -> &str {
        match self.code() {
            "InvalidClientTokenId" => "UnrecognizedClientException",
            "SignatureDoesNotMatch" => "InvalidSignatureException",
            "IncompleteSignature" => "IncompleteSignatureException",
            "MissingAuthenticationToken" => "MissingAuthenticationTokenException",
            "ExpiredToken" => "ExpiredTokenException",
            "AccessDenied" => "AccessDeniedException",
            "ValidationError" => "ValidationException",
            "ServiceUnavailable" => "ServiceUnavailableException",
            other => other,
        }
    }

    /// The message the client sees: never a server-side detail.
    pub fn client_message(&self) -> String {
        match self {
            Self::Unavailable(_) => "Service is unable to handle request.".to_owned(),
            e if e.is_internal() => {
                "The request processing has failed because of an unknown error.".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// Whether this is the server's fault, to be logged with its details.
    pub fn is_internal(&self) -> bool {
        match self {
            Self::Internal(_) | Self::Unavailable(_) => true,
            Self::Verb(e) => e.code == "ServiceFailure",
            Self::Query(e) => !e.sender_fault(),
            _ => false,
        }
    }

    pub fn sender_fault(&self) -> bool {
        match self {
            Self::Query(e) => e.sender_fault(),
            _ => self.status() < 500,
        }
    }

    /// The HTTP status AWS's IAM and STS give each code (botocore's error
    /// shapes; 400 for the rest).
    pub fn status(&self) -> u16 {
        match self {
            Self::Query(e) if !e.sender_fault() => 500,
            Self::Signature(e) => e.status().as_u16(),
            Self::InvalidClientTokenId | Self::ExpiredToken => 403,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
            _ => match self.code() {
                "AccessDenied" | "InvalidAuthenticationCode" | "InvalidJoinToken" => 403,
                "NoSuchEntity" => 404,
                "EntityAlreadyExists"
                | "DeleteConflict"
                | "LimitExceeded"
                | "EntityTemporarilyUnmodifiable"
                | "ConcurrentModification" => 409,
                "ServiceFailure" => 500,
                _ => 400,
            },
        }
    }
}
