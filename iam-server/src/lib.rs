//! iam-server: the fleet's directory of record, administered with AWS's own
//! tools (the `aws` CLI, boto3) over the IAM and STS Query APIs. See
//! docs/ARCHITECTURE.md, "iam-server".

pub mod access_keys;
pub mod api_error;
pub mod app;
pub mod bootstrap;
pub mod config;
pub mod directory;
pub mod fleet;
pub mod front;
pub mod hosts;
pub mod iam_api;
pub mod keyring;
pub mod pg;
pub mod query;
pub mod recorder;
pub mod sigv4;
pub mod sts;
pub mod tls;
pub mod trail;
