//! The policy engine: AWS IAM's policy language and evaluation logic.
//!
//! Shape follows Cedar: parse (and validate) once into a compiled [`Policy`],
//! then [`authorize`] a [`Request`] against a [`PolicySet`], getting a
//! [`Response`] that names the deciding statements. Pure: no clock,
//! filesystem or environment in here; the caller puts time into the context.

mod arn;
mod condition;
mod context;
mod document;
mod eval;
mod index;
mod position;
mod wildcard;

pub use context::{Context, ContextKeyType};
pub use document::{Effect, Policy, PolicyError, PolicyKind};
pub use eval::{
    Decision, MatchedStatement, PolicySet, PolicySource, Request, Response, authorize,
    missing_context_keys,
};
pub use position::Position;
