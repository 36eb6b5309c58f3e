//! The policy engine: AWS IAM's policy language and evaluation logic, as a
//! crate of its own (as Cedar keeps `cedar-policy-core` apart): it depends
//! on nothing of pam_iam, so the PAM module, the CLI and a server decide
//! with the same code (docs/ARCHITECTURE.md, "iam-policy").
//!
//! Shape follows Cedar: parse (and validate) once into a compiled [`Policy`],
//! then [`authorize`] a [`Request`] against a [`PolicySet`], getting a
//! [`Response`] that names the deciding statements; on a denial, [`explain`]
//! says which side decided, in AWS's words. Pure: no clock, filesystem or
//! environment in here; the caller puts time into the context.
//!
//! Where AWS's documentation leaves a choice, this engine decides so:
//! - A multivalued context key with a plain (not `ForAllValues:` /
//!   `ForAnyValue:`) operator matches when any value matches; a negated
//!   operator then requires that none does.
//! - An empty value list counts as an absent key; for `Null` and the set
//!   operators so does a key whose values are all empty strings (a null
//!   data set), while a plain operator compares the empty string.
//! - A policy variable that cannot be resolved (absent or multivalued key,
//!   no default) makes that one pattern or value match nothing.
//! - Policy values of typed operators (numbers, dates, addresses, base64,
//!   booleans) are checked when the policy is written, not at evaluation;
//!   one holding `${…}` is literal text there (AWS substitutes variables
//!   only in String and ARN operators) and matches nothing.
//!
//! Condition operator names, `Effect` values and element names are
//! case-sensitive, and a document repeating a key anywhere is refused, as
//! AWS's parser does.
//!
//! Module map: `json` (JSON with duplicate keys refused), `document`
//! (parse and validate into compiled statements),
//! `wildcard` (`*`/`?` patterns and policy variables), `arn` (resource
//! patterns and principals), `condition` (operators), `context` (request
//! keys), `value` (typed values: numbers, dates, addresses, booleans,
//! base64), `hash` (the key hash), `index` (statements by service), `eval`
//! (the decision), `explain` (why denied), `position` (where an element
//! sits in the text: the simulator's statement positions, a finding's
//! span), `validate` (Access Analyzer's policy checks), `access` (its
//! custom checks, CheckNoNewAccess and CheckAccessNotGranted). Imports run
//! one way, leaves first: `json`, `value`, `hash`, `position` ← `context` ←
//! `wildcard` ← `arn` ← `condition` ← `document` ← `eval` ← `explain`;
//! `document` ← `validate` ← `access`.
#![forbid(unsafe_code)]

mod access;
mod arn;
mod condition;
mod context;
mod document;
mod eval;
mod explain;
mod hash;
mod index;
mod json;
mod position;
mod validate;
mod value;
mod wildcard;

pub use access::{
    AccessCheck, CheckResult, HOST_ACTIONS, Reason, check_access_not_granted, check_no_new_access,
};
pub use arn::PrincipalBinding;
pub use context::{Context, ContextKeyType};
pub use document::{
    Effect, Fault, MAX_DOCUMENT_BYTES, Policy, PolicyError, PolicyKind, policy_chars,
};
pub use eval::{
    Decision, MatchedStatement, PolicySet, PolicySource, Request, Response, authorize,
    authorize_cross_account, condition_witnesses, missing_context_keys, simulate,
};
pub use explain::{Because, Explanation, NotAuthorized, explain};
pub use position::{PathStep, Position, Span, TextPosition};
pub use validate::{Finding, FindingType, Location, validate_policy};
