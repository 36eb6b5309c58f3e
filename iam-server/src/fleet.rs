//! What hosts ask of the directory of record (docs/ARCHITECTURE.md,
//! "Replicas"): a snapshot of the replicated tables and the changes after
//! a change number (directory data flows down), and what their ledgers
//! report (flows up): TOTP steps claimed, failures counted, audit events.
//! AWS's JSON 1.1 protocol under our own target prefix, signed with SigV4
//! for service `host` like any call, each operation authorized as its
//! `host:` action on the caller's host by the engine: a host's role
//! session may what its role's policies allow, nothing else.
//!
//! These calls are not recorded as events: every host asks every few
//! seconds (CloudTrail likewise leaves high-volume data events off by
//! default). What they report is: the hosts' own events, and a
//! `ReplayDetected` event for a TOTP step two hosts accepted.

use crate::api_error::ApiError;
use crate::app::{App, Authenticated, LongPoll};
use chrono::{DateTime, Utc};
use iam::audit::{AuditEvent, EventSource, UserIdentity};
use iam::ledger::Outgoing;
use iam::store::Store;
use iam::store::replica::Changes;
use iamctl::ctx::Caller;
use iamctl::error::CliError;
use iamctl::input::Secrets;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The SigV4 service hosts sign for.
pub const SERVICE: &str = "host";

/// The longest a `GetDirectoryChanges` call waits for a change.
pub const MAX_WAIT: Duration = Duration::from_secs(25);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GetDirectorySnapshot,
    GetDirectoryChanges,
    PutLedgerEntries,
}

impl Operation {
    const ALL: [Self; 3] = [
        Self::GetDirectorySnapshot,
        Self::GetDirectoryChanges,
        Self::PutLedgerEntries,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::GetDirectorySnapshot => "GetDirectorySnapshot",
            Self::GetDirectoryChanges => "GetDirectoryChanges",
            Self::PutLedgerEntries => "PutLedgerEntries",
        }
    }

    /// The action it is authorized as: reading the directory is one
    /// permission, reporting a ledger another.
    pub fn action(self) -> &'static str {
        match self {
            Self::GetDirectorySnapshot | Self::GetDirectoryChanges => "host:SyncDirectory",
            Self::PutLedgerEntries => "host:PutLedgerEntries",
        }
    }
}

/// The operation `target` names, if it is one of this API's.
pub fn operation(target: &str) -> Option<Operation> {
    let name = target.strip_prefix(crate::hosts::TARGET_PREFIX)?;
    Operation::ALL.into_iter().find(|op| op.name() == name)
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
    let host = host_name(&who.caller);
    let resource = format!("arn:aws:host::{}:host/{host}", store.account_id());
    let identity = who.caller.principal().map(UserIdentity::of_principal);
    let ctx = app.context(
        store,
        who,
        operation.name().to_owned(),
        Secrets::Given(Vec::new()),
        now,
    );
    ctx.authorize_with(operation.action(), &resource, |_| {})?;
    match operation {
        Operation::PutLedgerEntries => Ok(Answer {
            output: put_ledger_entries(&ctx.store, &decode(body)?, &host, identity, now)?,
            wait: None,
        }),
        Operation::GetDirectorySnapshot => Ok(Answer {
            output: to_json(&ctx.store.directory_snapshot()?)?,
            wait: None,
        }),
        Operation::GetDirectoryChanges => {
            let input: ChangesRequest = decode(body)?;
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
/// (decided by its credentials, never by what it sends); for a user's
/// access key, the user's name.
fn host_name(caller: &Caller) -> String {
    match caller {
        Caller::AssumedRole(p) => p.id.split_once(':').map_or("*", |(_, s)| s).to_owned(),
        Caller::User(p) => p.name.clone(),
        Caller::Root => "*".to_owned(),
    }
}

/// A call's JSON body; an empty body is the input's defaults.
fn decode<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the member, never echoes a value.
        CliError::new(
            "ValidationError",
            e.to_string().chars().take(200).collect::<String>(),
        )
        .into()
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LedgerEntries {
    #[serde(default)]
    pub entries: Vec<LedgerEntry>,
    #[serde(default)]
    pub events: Vec<HostEvent>,
}

/// One directory-bound entry of a host's outbox, with its id there.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LedgerEntry {
    pub id: i64,
    pub entry: Outgoing,
}

/// One audit event of a host's outbox (its JSON line), with its id there.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct HostEvent {
    pub id: i64,
    pub event: String,
}

/// Takes a host's report in: each TOTP step claimed (a step another host
/// claimed first is a `ReplayDetected` event), each failure counted,
/// forgiven or reset, each audit event into the central event store.
/// Password changes are not taken from a host: a host cannot prove the
/// user asked (`chauthtok` refuses on a replica), so they are dropped.
/// Answers the ids it took, for the host to forget.
fn put_ledger_entries(
    store: &Store,
    input: &LedgerEntries,
    host: &str,
    reporter: Option<UserIdentity>,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let mut taken = Vec::new();
    let mut replays = 0;
    for LedgerEntry { id, entry } in &input.entries {
        match entry {
            // A recovery code is a one-time factor like a step: claimed
            // under its set's id (a set is replaced whole, never reused).
            Outgoing::TotpStep { serial, step } => {
                let step = i64::try_from(*step)
                    .map_err(|_| CliError::new("ValidationError", "Step is out of range"))?;
                replays += report_one_time(store, serial, step, host, &reporter, now)?;
            }
            Outgoing::RecoveryCodeUsed { set_id, code, .. } => {
                let serial = format!("recovery-codes:{set_id}");
                replays += report_one_time(store, &serial, i64::from(*code), host, &reporter, now)?;
            }
            Outgoing::Failure { user, at } => store.record_fleet_failure(user, host, *at)?,
            Outgoing::FailureForgiven { user, at } => {
                store.forgive_fleet_failure(user, host, *at)?
            }
            Outgoing::FailuresReset { user } => store.reset_fleet_failures(user)?,
            Outgoing::Password { .. } => {}
        }
        taken.push(*id);
    }
    let mut events = Vec::with_capacity(input.events.len());
    for HostEvent { id, event } in &input.events {
        let mut parsed: AuditEvent = serde_json::from_str(event.trim_end())
            .map_err(|e| CliError::new("ValidationError", format!("Events[{id}]: {e}")))?;
        // Whatever it says, the event comes from this host.
        parsed.host = host.to_owned();
        events.push(parsed);
        taken.push(*id);
    }
    store.record_host_events(&events)?;
    Ok(json!({"Acknowledged": taken, "ReplaysDetected": replays}))
}

/// Records that `host` accepted one-time `step` of `serial`; 1 (and a
/// `ReplayDetected` event) when another host accepted it first.
fn report_one_time(
    store: &Store,
    serial: &str,
    step: i64,
    host: &str,
    reporter: &Option<UserIdentity>,
    now: DateTime<Utc>,
) -> Result<u32, ApiError> {
    let Some(first) = store.report_fleet_step(serial, step, host, now)? else {
        return Ok(0);
    };
    let identity = reporter
        .clone()
        .unwrap_or_else(|| UserIdentity::root(store.account_id().as_str()));
    let event = AuditEvent::builder(EventSource::Pam, "ReplayDetected", identity, host, now)
        .additional_event_data(json!({
            "serialNumber": serial,
            "step": step,
            "firstClaimedBy": first,
            "claimedAgainBy": host,
        }))
        .error_if(Some((
            "ReplayDetected",
            "one one-time code was accepted by two hosts",
        )))
        .build()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    store.record_event(&event)?;
    Ok(1)
}

fn to_json(v: &impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(e.to_string()))
}
