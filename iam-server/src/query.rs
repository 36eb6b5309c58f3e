//! The AWS Query protocol (form-encoded requests, XML responses), driven by
//! botocore's IAM and STS models embedded from model/ (see model/NOTICE), so
//! the aws CLI, boto3 and their paginators see what AWS would send. See
//! docs/ARCHITECTURE.md, "iam-server".
//!
//! Values inside the server are botocore's JSON shape, what a boto3 caller
//! passes or gets: PascalCase members, timestamps as ISO 8601 strings, blobs
//! as base64 strings.

mod decode;
mod encode;
mod model;
mod page;

use std::fmt;

pub use decode::{decode, parse_form};
pub use encode::{encode_error, encode_result};
pub use model::{Model, iam, sts};
pub use page::{KEYSET, keyset_marker, keyset_page, paginate};

/// A decoded request: the action and its input, validated against the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub action: String,
    pub input: serde_json::Value,
}

/// What the codec refuses, by variant; `code` gives AWS's error code.
///
/// Messages never hold a value of a member the model marks sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The body is not a well-formed form: not UTF-8, a repeated parameter,
    /// list members not numbered 1..N.
    MalformedQueryString(String),
    /// No `Action` parameter.
    MissingAction,
    /// An action the model does not have, or a `Version` other than the
    /// model's (`None`: no `Version` at all).
    InvalidAction {
        action: String,
        version: Option<String>,
    },
    /// Input that breaks the model's constraints, one entry per violation in
    /// AWS's wording ("Value 'x' at 'userName' failed to satisfy constraint: …").
    Validation(Vec<String>),
    /// A `Marker` this server did not hand out for this listing.
    InvalidMarker,
    /// Output the model does not allow, or a broken model: a server bug.
    Internal(String),
}

impl QueryError {
    /// AWS's error code.
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::MalformedQueryString(_) => "MalformedQueryString",
            QueryError::MissingAction => "MissingAction",
            QueryError::InvalidAction { .. } => "InvalidAction",
            QueryError::Validation(_) | QueryError::InvalidMarker => "ValidationError",
            QueryError::Internal(_) => "InternalFailure",
        }
    }

    /// `Sender` (the caller's mistake, HTTP 400) or `Receiver` (ours, 500).
    pub fn sender_fault(&self) -> bool {
        !matches!(self, QueryError::Internal(_))
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::MalformedQueryString(m) => f.write_str(m),
            QueryError::MissingAction => f.write_str("Missing Action"),
            QueryError::InvalidAction { action, version } => write!(
                f,
                "Could not find operation {action} for version {}",
                version.as_deref().unwrap_or("NO_VERSION_SPECIFIED")
            ),
            QueryError::Validation(errors) => write!(
                f,
                "{} validation error{} detected: {}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" },
                errors.join("; ")
            ),
            QueryError::InvalidMarker => {
                f.write_str("Invalid Marker: pass back the Marker of the previous page unchanged.")
            }
            QueryError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for QueryError {}
