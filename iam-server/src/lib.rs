//! iam-server: the fleet's directory of record, administered with AWS's own
//! tools (the `aws` CLI, boto3) over the IAM and STS Query APIs. See
//! docs/ARCHITECTURE.md, "iam-server".

pub mod access_keys;
pub mod config;
pub mod keyring;
pub mod query;
pub mod sigv4;
pub mod tls;
