//! What hosts ask of the directory of record (docs/ARCHITECTURE.md,
//! "Replicas"): a snapshot of the replicated tables, and the changes after
//! a change number. AWS's JSON 1.1 protocol under our own target prefix,
//! signed with SigV4 for service `host` like any call, and authorized as
//! `host:SyncDirectory` on the caller's host by the engine: a host's role
//! session may, an administrator may if a policy says so, nothing else.
//!
//! These calls are not recorded as events: every host asks every few
//! seconds, and what they read is the directory's own content (CloudTrail
//! likewise leaves high-volume data events off by default).

use crate::api_error::ApiError;
use crate::app::{App, Authenticated, LongPoll};
use chrono::{DateTime, Utc};
use iam::store::Store;
use iam::store::replica::Changes;
use iamctl::ctx::Caller;
use iamctl::error::CliError;
use iamctl::input::Secrets;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// `X-Amz-Target: IamHost_20261203.<Operation>`.
pub const TARGET_PREFIX: &str = "IamHost_20261203.";

/// The SigV4 service hosts sign for.
pub const SERVICE: &str = "host";

/// The action every call of this API is authorized as.
pub const SYNC_ACTION: &str = "host:SyncDirectory";

/// The longest a `GetDirectoryChanges` call waits for a change.
pub const MAX_WAIT: Duration = Duration::from_secs(25);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetDirectorySnapshot,
    GetDirectoryChanges,
}

/// The operation `target` names, if it is one of this API's.
pub fn operation(target: &str) -> Option<Operation> {
    match target.strip_prefix(TARGET_PREFIX)? {
        "GetDirectorySnapshot" => Some(Operation::GetDirectorySnapshot),
        "GetDirectoryChanges" => Some(Operation::GetDirectoryChanges),
        _ => None,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ChangesRequest {
    /// The change number the replica is at.
    pub since: i64,
    /// How long to wait for a change when there is none yet (at most
    /// [`MAX_WAIT`]); 0 answers at once.
    #[serde(default)]
    pub wait_seconds: u64,
}

/// What a call answered, and whether the client is waiting for more.
pub struct Answer {
    pub output: Value,
    /// Nothing changed yet and the client asked to wait.
    pub wait: Option<LongPoll>,
}

/// Runs one call of this API for an authenticated caller.
pub fn run(
    app: &App,
    store: Store,
    who: Authenticated,
    operation: Operation,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Answer, ApiError> {
    let resource = host_arn(&who.caller, store.account_id().as_str());
    let name = match operation {
        Operation::GetDirectorySnapshot => "GetDirectorySnapshot",
        Operation::GetDirectoryChanges => "GetDirectoryChanges",
    };
    let ctx = app.context(store, who, name.to_owned(), Secrets::Given(Vec::new()), now);
    ctx.authorize_with(SYNC_ACTION, &resource, |_| {})?;
    match operation {
        Operation::GetDirectorySnapshot => Ok(Answer {
            output: to_json(&ctx.store.directory_snapshot()?)?,
            wait: None,
        }),
        Operation::GetDirectoryChanges => {
            let input: ChangesRequest = if body.iter().all(u8::is_ascii_whitespace) {
                ChangesRequest::default()
            } else {
                serde_json::from_slice(body).map_err(|e| {
                    // serde's message names the member, never echoes a value.
                    CliError::new(
                        "ValidationError",
                        e.to_string().chars().take(200).collect::<String>(),
                    )
                })?
            };
            Ok(match ctx.store.directory_changes(input.since)? {
                Changes::Set(set) => Answer {
                    output: to_json(&set)?,
                    wait: None,
                },
                Changes::SnapshotNeeded => Answer {
                    output: json!({"SnapshotNeeded": true}),
                    wait: None,
                },
                Changes::UpToDate => Answer {
                    output: json!({"Since": input.since, "ChangeNumber": input.since, "Changes": []}),
                    wait: Some(Duration::from_secs(input.wait_seconds).min(MAX_WAIT))
                        .filter(|w| !w.is_zero())
                        .map(|wait| LongPoll {
                            since: input.since,
                            wait,
                        }),
                },
            })
        }
    }
}

/// The host a call is about: the one a host's role session is named for
/// (decided by its credentials, never by what it sends), or any host for
/// other callers.
fn host_arn(caller: &Caller, account: &str) -> String {
    let host = match caller {
        Caller::AssumedRole(p) => p.id.split_once(':').map_or("*", |(_, session)| session),
        _ => "*",
    };
    format!("arn:aws:host::{account}:host/{host}")
}

fn to_json(v: &impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(e.to_string()))
}
