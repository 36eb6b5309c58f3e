//! iam-server's central event store: the `events` table (migration 7) and
//! the queries of CloudTrail's `LookupEvents`. Events reach it from the
//! ledger's outbox ([`Store::deliver_queued_events`]: the outbox row is
//! committed with the change it records, then moved here in one
//! transaction) or directly for calls that change nothing
//! ([`Store::record_event`]). A host delivers to its audit log instead
//! (docs/ARCHITECTURE.md, "Audit").

use super::sql::{Begin, Connection, OptionalExtension, SqlResult, ToSql, params};
use super::{Result, Store, StoreError};
use crate::audit::{AuditEvent, IdentityType};

/// Request parameters that name a resource, and CloudTrail's type for it.
const RESOURCE_PARAMETERS: &[(&str, &str)] = &[
    ("userName", "AWS::IAM::User"),
    ("newUserName", "AWS::IAM::User"),
    ("groupName", "AWS::IAM::Group"),
    ("newGroupName", "AWS::IAM::Group"),
    ("roleName", "AWS::IAM::Role"),
    ("roleArn", "AWS::IAM::Role"),
    ("policyArn", "AWS::IAM::Policy"),
    ("accessKeyId", "AWS::IAM::AccessKey"),
    ("serialNumber", "AWS::IAM::MfaDevice"),
    ("virtualMFADeviceName", "AWS::IAM::MfaDevice"),
];

/// A resource an event names (CloudTrail's `Resources`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventResource {
    pub resource_type: String,
    pub resource_name: String,
}

/// One stored event, as `LookupEvents` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub event_id: String,
    /// Unix seconds.
    pub event_time: i64,
    pub event_name: String,
    pub event_source: String,
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    pub read_only: bool,
    pub error_code: Option<String>,
    pub resources: Vec<EventResource>,
    /// The event's JSON (CloudTrail's `CloudTrailEvent`).
    pub event: String,
}

/// `LookupEvents`' one lookup attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    EventId(String),
    EventName(String),
    ReadOnly(bool),
    Username(String),
    ResourceType(String),
    ResourceName(String),
    /// `iam`, or AWS's spelling `iam.amazonaws.com`.
    EventSource(String),
    AccessKeyId(String),
}

/// Where a page ends: the last event returned (time, then sequence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    pub event_time: i64,
    pub seq: i64,
}

/// A page of events, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub filter: Option<EventFilter>,
    /// Inclusive bounds, unix seconds.
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub limit: u32,
    /// Events older than this (the previous page's end).
    pub after: Option<EventCursor>,
}

impl Store {
    /// Records `event` (a refusal, or a call that changed nothing); joins
    /// an enclosing transaction, else commits as [`Begin::Record`] does.
    /// An event already stored is kept as is.
    pub fn record_event(&self, event: &AuditEvent) -> Result<()> {
        if self.depth.get() > 0 {
            return self.write(|c| insert(c, event));
        }
        self.transaction(Begin::Record, |c| insert(c, event))
    }

    /// Moves every audit event queued in the outbox into the events table,
    /// in one transaction. Returns how many were moved.
    pub fn deliver_queued_events(&self) -> Result<usize> {
        // Almost always nothing is queued: look before taking the lock.
        if self.ledger().queued_audit()?.is_empty() {
            return Ok(0);
        }
        self.atomically(|store| {
            let ledger = store.ledger();
            let queued = ledger.queued_audit()?;
            for q in &queued {
                let event: AuditEvent = serde_json::from_str(q.line.trim_end())
                    .map_err(|e| StoreError::Corrupt(format!("outbox entry {}: {e}", q.id)))?;
                store.write(|c| insert(c, &event))?;
                ledger.delete_queued_audit(q.id)?;
            }
            Ok(queued.len())
        })
    }

    /// Records the events of iam-server's calls, each unless its verb
    /// recorded one for the same request (one event per call); first moves
    /// what the outbox holds, should a verb's delivery have failed. One
    /// transaction for all of them, committed as [`Begin::Record`] does.
    pub fn record_call_events(&self, calls: &[AuditEvent]) -> Result<()> {
        self.transaction(Begin::Record, |c| {
            // Moved under a relaxed commit too: lost, they are still queued.
            self.deliver_queued_events()?;
            for event in calls {
                let recorded: bool = c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM events WHERE request_id = ?1)",
                    [&event.request_id],
                    |r| r.get(0),
                )?;
                if !recorded {
                    insert(c, event)?;
                }
            }
            Ok(())
        })
    }

    /// Stores the audit events a fleet host reports, in one transaction; an
    /// event already stored (a report sent again) is not stored twice.
    pub fn record_host_events(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.write(|c| events.iter().try_for_each(|e| insert(c, e)))
    }

    /// One page of events matching `query`, newest first, and the cursor
    /// of the next page when there is one.
    pub fn lookup_events(
        &self,
        query: &EventQuery,
    ) -> Result<(Vec<StoredEvent>, Option<EventCursor>)> {
        let mut sql = String::from(
            "SELECT seq, event_id, event_time, event_name, event_source, username, \
             access_key_id, read_only, error_code, event FROM events WHERE 1 = 1",
        );
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        let mut bind = |sql: &mut String, clause: &str, value: Box<dyn ToSql>| {
            args.push(value);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        if let Some(filter) = &query.filter {
            let (clause, value): (&str, Box<dyn ToSql>) = match filter {
                EventFilter::EventId(v) => (" AND event_id = ?", Box::new(v.clone())),
                EventFilter::EventName(v) => (" AND event_name = ?", Box::new(v.clone())),
                EventFilter::ReadOnly(v) => (" AND read_only = ?", Box::new(*v)),
                EventFilter::Username(v) => (" AND username = ?", Box::new(v.clone())),
                EventFilter::AccessKeyId(v) => (" AND access_key_id = ?", Box::new(v.clone())),
                EventFilter::EventSource(v) => {
                    let short = v.strip_suffix(".amazonaws.com").unwrap_or(v);
                    (" AND event_source = ?", Box::new(short.to_owned()))
                }
                EventFilter::ResourceType(v) => (
                    " AND seq IN (SELECT seq FROM event_resources WHERE resource_type = ?)",
                    Box::new(v.clone()),
                ),
                EventFilter::ResourceName(v) => (
                    " AND seq IN (SELECT seq FROM event_resources WHERE resource_name = ?)",
                    Box::new(v.clone()),
                ),
            };
            bind(&mut sql, clause, value);
        }
        if let Some(start) = query.start {
            bind(&mut sql, " AND event_time >= ?", Box::new(start));
        }
        if let Some(end) = query.end {
            bind(&mut sql, " AND event_time <= ?", Box::new(end));
        }
        if let Some(after) = query.after {
            bind(&mut sql, " AND (event_time < ?", Box::new(after.event_time));
            bind(&mut sql, " OR (event_time = ?", Box::new(after.event_time));
            bind(&mut sql, " AND seq < ?))", Box::new(after.seq));
        }
        // One more than asked tells whether a next page exists.
        bind(
            &mut sql,
            " ORDER BY event_time DESC, seq DESC LIMIT ?",
            Box::new(i64::from(query.limit) + 1),
        );
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let params: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
            let rows = st.query_map(params.as_slice(), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    StoredEvent {
                        event_id: r.get(1)?,
                        event_time: r.get(2)?,
                        event_name: r.get(3)?,
                        event_source: r.get(4)?,
                        username: r.get(5)?,
                        access_key_id: r.get(6)?,
                        read_only: r.get(7)?,
                        error_code: r.get(8)?,
                        resources: Vec::new(),
                        event: r.get(9)?,
                    },
                ))
            })?;
            let mut page = rows.collect::<SqlResult<Vec<_>>>()?;
            let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
            let next = if page.len() > limit {
                page.truncate(limit);
                page.last().map(|(seq, e)| EventCursor {
                    event_time: e.event_time,
                    seq: *seq,
                })
            } else {
                None
            };
            let resources_sql = format!(
                "SELECT resource_type, resource_name FROM event_resources \
                 WHERE seq = ?1 ORDER BY {}",
                c.dialect().row_id()
            );
            let mut resources = c.prepare_cached(&resources_sql)?;
            let mut out = Vec::with_capacity(page.len());
            for (seq, mut event) in page {
                event.resources = resources
                    .query_map([seq], |r| {
                        Ok(EventResource {
                            resource_type: r.get(0)?,
                            resource_name: r.get(1)?,
                        })
                    })?
                    .collect::<SqlResult<Vec<_>>>()?;
                out.push(event);
            }
            Ok((out, next))
        })
    }
}

/// Stores `event` and the resources it names, unless its id is stored
/// already (delivery is at least once).
fn insert(c: &Connection, event: &AuditEvent) -> Result<()> {
    let time = chrono::DateTime::parse_from_rfc3339(&event.event_time)
        .map_err(|e| StoreError::Corrupt(format!("event {}: time: {e}", event.event_id)))?
        .timestamp();
    // A host's events carry no readOnly; CloudTrail always has one.
    let mut stored = event.clone();
    let read_only = *stored
        .read_only
        .get_or_insert_with(|| crate::audit::read_only_operation(&event.event_name));
    let json = serde_json::to_string(&stored).map_err(|e| StoreError::Audit(e.to_string()))?;
    let inserted: Option<i64> = c
        .query_row(
            "INSERT INTO events (event_id, event_time, event_name, event_source, \
         username, access_key_id, request_id, error_code, read_only, event) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT DO NOTHING RETURNING seq",
            params![
                event.event_id,
                time,
                event.event_name,
                event.event_source.as_str(),
                username(event),
                event.user_identity.access_key_id,
                event.request_id,
                event.error_code,
                read_only,
                json,
            ],
            |r| r.get(0),
        )
        .optional()?;
    let Some(seq) = inserted else {
        return Ok(());
    };
    for r in resources(event) {
        c.execute(
            "INSERT INTO event_resources (seq, resource_type, resource_name) VALUES (?1, ?2, ?3)",
            params![seq, r.resource_type, r.resource_name],
        )?;
    }
    Ok(())
}

/// CloudTrail's `Username`: the IAM user's name, a role session's name,
/// `root` for the account's root user.
fn username(event: &AuditEvent) -> Option<String> {
    let identity = &event.user_identity;
    match identity.identity_type {
        IdentityType::Root => Some("root".to_owned()),
        IdentityType::AssumedRole => identity
            .arn
            .as_deref()
            .and_then(|arn| arn.rsplit('/').next())
            .map(str::to_owned),
        IdentityType::IamUser | IdentityType::Unknown => identity.user_name.clone(),
    }
}

/// The resources an event's request parameters name; a refusal's
/// `resource` ARN by its type.
fn resources(event: &AuditEvent) -> Vec<EventResource> {
    let Some(serde_json::Value::Object(params)) = &event.request_parameters else {
        return Vec::new();
    };
    let mut out: Vec<EventResource> = RESOURCE_PARAMETERS
        .iter()
        .filter_map(|(key, kind)| {
            let name = params.get(*key)?.as_str()?;
            Some(EventResource {
                resource_type: (*kind).to_owned(),
                resource_name: name.to_owned(),
            })
        })
        .collect();
    if let Some(arn) = params.get("resource").and_then(|v| v.as_str()) {
        let kind = match arn.split(':').nth(5).and_then(|r| r.split('/').next()) {
            Some("user") => Some("AWS::IAM::User"),
            Some("group") => Some("AWS::IAM::Group"),
            Some("role") => Some("AWS::IAM::Role"),
            Some("policy") => Some("AWS::IAM::Policy"),
            _ => None,
        };
        if let Some(kind) = kind {
            out.push(EventResource {
                resource_type: kind.to_owned(),
                resource_name: arn.to_owned(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
