//! `assume-role`, `list-sessions`, `revoke-session`: the glue between the
//! AWS CLI surface, the store, and the supervisor. Every rule is in
//! `iam::elevation`.

mod supervisor;
mod sys;
