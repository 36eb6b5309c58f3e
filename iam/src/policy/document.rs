//! Policy documents: parsing and validation into a compiled [`Policy`].

use std::fmt;

/// What a policy document is attached as; decides the size limit and which
/// elements are required or forbidden (a trust policy needs `Principal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    UserInline,
    GroupInline,
    RoleInline,
    Managed,
    /// A role's trust policy (`AssumeRolePolicyDocument`).
    Trust,
    /// Any other resource-based policy (`--resource-policy` of the simulator).
    Resource,
}

impl PolicyKind {
    /// AWS's size limit in characters, whitespace not counted.
    pub fn max_chars(self) -> usize {
        match self {
            Self::UserInline => 2048,
            Self::GroupInline => 5120,
            Self::RoleInline => 10240,
            Self::Managed => 6144,
            Self::Trust => 2048,
            Self::Resource => 20480,
        }
    }

    /// Identity-based policies must not name a principal; resource-based
    /// ones must.
    pub fn is_resource_based(self) -> bool {
        matches!(self, Self::Trust | Self::Resource)
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UserInline => "user inline policy",
            Self::GroupInline => "group inline policy",
            Self::RoleInline => "role inline policy",
            Self::Managed => "managed policy",
            Self::Trust => "trust policy",
            Self::Resource => "resource policy",
        })
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        })
    }
}

/// Why a document is not a valid policy. Statement errors name the
/// statement (index from 0, and Sid when it has one) and the element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy document is not valid JSON: {0}")]
    Json(String),
    #[error(
        "policy document is {chars} characters long without whitespace; a {kind} may have at most {limit}"
    )]
    TooLarge {
        kind: PolicyKind,
        chars: usize,
        limit: usize,
    },
    #[error("{field}: {message}")]
    Document { field: String, message: String },
    #[error("Statement[{index}]{}, {field}: {message}", sid_suffix(.sid))]
    Statement {
        index: usize,
        sid: Option<String>,
        field: String,
        message: String,
    },
}

fn sid_suffix(sid: &Option<String>) -> String {
    match sid {
        Some(sid) => format!(" (Sid \"{sid}\")"),
        None => String::new(),
    }
}

/// A parsed, validated and compiled policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    name: String,
    document: String,
    kind: PolicyKind,
}

impl Policy {
    /// Parses and validates `document` as a policy of `kind`, enforcing the
    /// AWS size limit for that kind.
    pub fn parse(name: &str, document: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let chars = document.chars().filter(|c| !c.is_whitespace()).count();
        if chars > kind.max_chars() {
            return Err(PolicyError::TooLarge {
                kind,
                chars,
                limit: kind.max_chars(),
            });
        }
        Self::parse_unlimited(name, document, kind)
    }

    /// Like [`Policy::parse`] without the size limit: `simulate-custom-policy`
    /// takes documents of any size, as AWS's does.
    pub fn parse_unlimited(
        name: &str,
        document: &str,
        kind: PolicyKind,
    ) -> Result<Self, PolicyError> {
        let _value: serde_json::Value =
            serde_json::from_str(document).map_err(|e| PolicyError::Json(e.to_string()))?;
        Ok(Self {
            name: name.to_owned(),
            document: document.to_owned(),
            kind,
        })
    }

    /// The name this policy was parsed under (used in decisions and audit).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The original JSON text, for export.
    pub fn document(&self) -> &str {
        &self.document
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }
}
