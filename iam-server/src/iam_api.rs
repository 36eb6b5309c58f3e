//! The IAM API: each action runs the verb iamctl runs for the same AWS
//! operation (one home per rule: the same authorization, transaction,
//! audit and output), with the request as its input.

use crate::access_keys;
use crate::api_error::ApiError;
use crate::app::{App, Authenticated};
use crate::query::Call;
use chrono::{DateTime, Utc};
use iam::secret::SecretString;
use iam::store::Store;
use iamctl::cli::{Command, command_from_request};
use iamctl::input::{ParamFiles, Secret, Secrets};
use serde_json::Value;

pub fn run(
    app: &App,
    store: Store,
    who: Authenticated,
    call: &Call,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let mut input = match &call.input {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    // Passwords go to the verbs as secrets (zeroized, never audited), not
    // as parameters.
    let mut given = Vec::new();
    for secret in [Secret::Password, Secret::OldPassword, Secret::NewPassword] {
        if let Some(Value::String(v)) = input.remove(secret.parameter()) {
            given.push((secret, SecretString::new(v)));
        }
    }
    let mut ctx = app.context(store, who, call.action.clone(), Secrets::Given(given), now);
    if access_keys::ACTIONS.contains(&call.action.as_str()) {
        return Ok(access_keys::run(
            &mut ctx,
            &app.keyring,
            &call.action,
            &call.input,
        )?);
    }
    if call.action == "ListUsers" {
        // Paged in the store (query::KEYSET): the directory may hold
        // every user of a fleet.
        let (max_items, after) = crate::query::keyset_page(&call.input)?;
        let prefix = call.input.get("PathPrefix").and_then(Value::as_str);
        let (mut page, last) =
            iamctl::verbs::list_users_page(&mut ctx, prefix, after.as_deref(), max_items)?;
        if let Some(last) = last {
            page["Marker"] = Value::String(crate::query::keyset_marker(&last));
        }
        return Ok(page);
    }
    // The codec checked every parameter against botocore's model, so a
    // request the verbs' types refuse is a bug here, not bad input.
    let command = command_from_request(&call.action, input)
        .map_err(|e| ApiError::Internal(format!("{} does not map to a verb: {e}", call.action)))?;
    let output = match &command {
        Command::SimulatePrincipalPolicy(a) => iamctl::verbs::simulate_principal(&mut ctx, a)?,
        Command::SimulateCustomPolicy(a) => {
            // Free on a host (it reads nothing of the directory); here a
            // call like any other.
            ctx.authorize("*")?;
            iamctl::simulate::run_custom(a, ParamFiles::Literal)?
        }
        other => iamctl::verbs::run(&mut ctx, other)?,
    };
    Ok(output)
}
