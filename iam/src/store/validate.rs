//! Policy documents are validated on write, before anything is stored.
//!
//! Temporary shim until the policy engine (`crate::policy::Policy::parse`)
//! lands: checks that the document is a JSON object with a `Statement`.

use super::{Result, StoreError};

/// Which rules apply to a document (mirrors `policy::PolicyKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocKind {
    UserInline,
    GroupInline,
    RoleInline,
    Managed,
    Trust,
}

pub(crate) fn check_policy(name: &str, document: &str, kind: DocKind) -> Result<()> {
    let _ = kind;
    let malformed = |why: String| StoreError::MalformedPolicyDocument(format!("{name}: {why}"));
    let v: serde_json::Value =
        serde_json::from_str(document).map_err(|e| malformed(format!("invalid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| malformed("the document must be a JSON object".into()))?;
    if !obj.contains_key("Statement") {
        return Err(malformed("missing required field Statement".into()));
    }
    Ok(())
}
