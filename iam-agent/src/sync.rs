//! Keeping the host's directory a replica of the server's
//! (docs/ARCHITECTURE.md, "Replicas"): a snapshot when the replica has
//! none (or the server cannot continue from it), then change sets, each
//! applied in one local transaction that also records its change number,
//! so a kill at any point leaves the replica at a change it can continue
//! from. After each apply the host's projections (extrausers, SSH keys)
//! are written again.

use crate::client::{Client, ClientError};
use iam::config::HostConfig;
use iam::store::replica::{ChangeSet, ReplicaError, Snapshot};
use iam::store::{Store, StoreError};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Server(#[from] ClientError),
    #[error("the replica: {0}")]
    Replica(#[from] ReplicaError),
    #[error("the replica: {0}")]
    Store(#[from] StoreError),
    #[error("publishing: {0}")]
    Publish(String),
}

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// The replica was replaced by a snapshot at this change number.
    Snapshot(i64),
    /// A change set brought it to this change number.
    Changes(i64),
    /// Nothing changed while the server waited.
    UpToDate(i64),
}

/// One round: a snapshot if needed, else the changes after the replica's
/// change number (waiting up to `wait` for one).
pub async fn round(
    client: &mut Client,
    config: &HostConfig,
    store: &Store,
    wait: Duration,
) -> Result<Round, SyncError> {
    let Some(at) = store.replica_change_no()? else {
        return snapshot(client, config, store).await;
    };
    let input = serde_json::json!({"Since": at, "WaitSeconds": wait.as_secs()});
    let answer = client.call("GetDirectoryChanges", &input, wait).await?;
    if answer.get("SnapshotNeeded").and_then(|v| v.as_bool()) == Some(true) {
        return snapshot(client, config, store).await;
    }
    let set: ChangeSet = serde_json::from_value(answer)
        .map_err(|e| ClientError::Answer(format!("GetDirectoryChanges: {e}")))?;
    if set.changes.is_empty() && set.change_no == at {
        return Ok(Round::UpToDate(at));
    }
    match store.apply_changes(&set) {
        Ok(()) => {}
        // Another agent (or a restore) moved the replica: start over.
        Err(ReplicaError::Gap { .. }) => return snapshot(client, config, store).await,
        Err(e) => return Err(e.into()),
    }
    publish(config, store)?;
    Ok(Round::Changes(set.change_no))
}

async fn snapshot(
    client: &mut Client,
    config: &HostConfig,
    store: &Store,
) -> Result<Round, SyncError> {
    let answer = client
        .call(
            "GetDirectorySnapshot",
            &serde_json::json!({}),
            Duration::ZERO,
        )
        .await?;
    let snapshot: Snapshot = serde_json::from_value(answer)
        .map_err(|e| ClientError::Answer(format!("GetDirectorySnapshot: {e}")))?;
    store.apply_snapshot(&snapshot)?;
    publish(config, store)?;
    Ok(Round::Snapshot(snapshot.change_no))
}

/// The most outbox entries one report carries.
const REPORT_BATCH: u32 = 500;

/// Takes what the host's ledger queued for the directory of record to it
/// (TOTP steps claimed, failures, audit events), batch by batch; each
/// batch is forgotten here once the server acknowledged it. Returns how
/// many entries went.
pub async fn report(client: &mut Client, store: &Store) -> Result<usize, SyncError> {
    let ledger = store.ledger();
    let mut sent = 0;
    loop {
        let iam::ledger::FleetOutbox {
            outgoing: entries,
            events,
        } = ledger.fleet_outbox(REPORT_BATCH)?;
        if entries.is_empty() && events.is_empty() {
            return Ok(sent);
        }
        let input = serde_json::json!({
            "Entries": entries.iter().map(|(id, e)| serde_json::json!({"Id": id, "Entry": e})).collect::<Vec<_>>(),
            "Events": events.iter().map(|e| serde_json::json!({"Id": e.id, "Event": e.line})).collect::<Vec<_>>(),
        });
        let answer = client
            .call("PutLedgerEntries", &input, Duration::ZERO)
            .await?;
        let taken: Vec<i64> = serde_json::from_value(answer["Acknowledged"].clone())
            .map_err(|e| ClientError::Answer(format!("PutLedgerEntries: {e}")))?;
        if taken.is_empty() {
            return Err(ClientError::Answer("PutLedgerEntries took nothing".to_owned()).into());
        }
        ledger.acknowledge(&taken)?;
        sent += taken.len();
    }
}

/// The host's projections of the replica, as after any directory change.
pub fn publish(config: &HostConfig, store: &Store) -> Result<(), SyncError> {
    let warnings =
        iam::publish::publish_host(config, store).map_err(|e| SyncError::Publish(e.to_string()))?;
    for warning in warnings {
        eprintln!("iam-agent: warning: {warning}");
    }
    Ok(())
}
