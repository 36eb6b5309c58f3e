//! iam-server: the fleet's directory of record, administered with AWS's own
//! tools. See docs/ARCHITECTURE.md, "iam-server".

mod access_keys;
mod config;
mod keyring;
mod query;
mod sigv4;
mod tls;

fn main() {}
