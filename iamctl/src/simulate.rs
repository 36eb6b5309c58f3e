//! `simulate-custom-policy` (and later `simulate-principal-policy`): the
//! policy engine's test port, with the AWS CLI's flags and output.

use crate::error::CliError;

#[derive(Debug, clap::Args)]
pub struct CustomArgs {}

pub fn run_custom(_args: &CustomArgs) -> Result<serde_json::Value, CliError> {
    Err(CliError::new("ServiceFailure", "not built yet"))
}
