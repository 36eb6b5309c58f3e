//! CloudTrail's `LookupEvents` over AWS's JSON 1.1 protocol (`X-Amz-Target:
//! CloudTrail_20131101.LookupEvents`), answered from the directory's events
//! table (`iam::store::Store::lookup_events`), so `aws cloudtrail
//! lookup-events --endpoint-url …` shows who changed what. Parameters and
//! output as botocore's cloudtrail 2013-11-01 model has them.

use crate::api_error::ApiError;
use crate::app::{App, Authenticated};
use chrono::{DateTime, Utc};
use iam::store::{EventCursor, EventFilter, EventQuery, Store, StoredEvent};
use iamctl::input::Secrets;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The `X-Amz-Target` prefix of CloudTrail's operations; botocore's
/// current model qualifies it with [`TARGET_NAMESPACE`].
pub const TARGET_PREFIX: &str = "CloudTrail_20131101.";
pub const TARGET_NAMESPACE: &str = "com.amazonaws.cloudtrail.v20131101.";

/// The SigV4 service CloudTrail requests are signed for.
pub const SERVICE: &str = "cloudtrail";

/// The one operation served.
pub const LOOKUP_EVENTS: &str = "LookupEvents";

/// AWS's page size limit and default.
const MAX_RESULTS: u32 = 50;

/// CloudTrail's refusals, by variant; `code` gives the `__type`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailError {
    #[error("{0}")]
    InvalidLookupAttributes(String),
    #[error("Start time must be less than or equal to end time.")]
    InvalidTimeRange,
    #[error("Max results must be between 1 and {MAX_RESULTS}.")]
    InvalidMaxResults,
    #[error(
        "Invalid NextToken: pass back the NextToken of the previous page with the same parameters."
    )]
    InvalidNextToken,
    #[error("Event category must be 'insight'.")]
    InvalidEventCategory,
    /// A body that is not the operation's JSON (details not echoed).
    #[error("The request body is not valid JSON for {LOOKUP_EVENTS}: {0}")]
    Serialization(String),
    #[error("The operation {0} is not supported by this server.")]
    UnknownOperation(String),
}

impl TrailError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidLookupAttributes(_) => "InvalidLookupAttributesException",
            Self::InvalidTimeRange => "InvalidTimeRangeException",
            Self::InvalidMaxResults => "InvalidMaxResultsException",
            Self::InvalidNextToken => "InvalidNextTokenException",
            Self::InvalidEventCategory => "InvalidEventCategoryException",
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation(_) => "UnknownOperationException",
        }
    }
}

/// The request, as botocore's `LookupEventsRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LookupEventsRequest {
    #[serde(default)]
    pub lookup_attributes: Vec<LookupAttribute>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub event_category: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct LookupAttribute {
    pub attribute_key: String,
    pub attribute_value: String,
}

/// JSON 1.1 timestamps are epoch seconds; an ISO 8601 string is accepted
/// too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Timestamp {
    Epoch(f64),
    Text(String),
}

impl Timestamp {
    fn seconds(&self, what: &str) -> Result<i64, ApiError> {
        let bad = || TrailError::Serialization(format!("{what} is not a timestamp"));
        match self {
            // Whole seconds: events are stored to the second.
            #[allow(clippy::cast_possible_truncation)]
            Self::Epoch(s) if s.is_finite() => Ok(s.floor() as i64),
            Self::Epoch(_) => Err(bad().into()),
            Self::Text(t) => DateTime::parse_from_rfc3339(t)
                .map(|t| t.timestamp())
                .map_err(|_| bad().into()),
        }
    }
}

/// The operation named by an `X-Amz-Target` header, if it is CloudTrail's.
pub fn operation(target: &str) -> Result<&str, TrailError> {
    let unqualified = target.strip_prefix(TARGET_NAMESPACE).unwrap_or(target);
    unqualified
        .strip_prefix(TARGET_PREFIX)
        .filter(|op| *op == LOOKUP_EVENTS)
        .ok_or_else(|| TrailError::UnknownOperation(target.chars().take(128).collect()))
}

/// Decodes a `LookupEvents` body.
pub fn decode(body: &[u8]) -> Result<LookupEventsRequest, TrailError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(LookupEventsRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field, never echoes a value.
        TrailError::Serialization(e.to_string().chars().take(200).collect())
    })
}

/// Runs `LookupEvents` for an authenticated caller: authorized as
/// `cloudtrail:LookupEvents` on `*`, like any call.
pub fn run(
    app: &App,
    store: Store,
    who: Authenticated,
    input: &LookupEventsRequest,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let ctx = app.context(
        store,
        who,
        LOOKUP_EVENTS.to_owned(),
        Secrets::Given(Vec::new()),
        now,
    );
    ctx.authorize_with(&format!("{SERVICE}:{LOOKUP_EVENTS}"), "*", |_| {})?;
    let query = query(input)?;
    // Insights are a CloudTrail feature this server has no events of.
    if input.event_category.is_some() {
        return Ok(json!({"Events": []}));
    }
    let (events, next) = ctx.store.lookup_events(&query)?;
    let mut output = json!({"Events": events.iter().map(event).collect::<Vec<_>>()});
    if let Some(cursor) = next {
        output["NextToken"] = json!(token(&query, cursor));
    }
    Ok(output)
}

/// The store query `input` asks for, checked as AWS checks it.
fn query(input: &LookupEventsRequest) -> Result<EventQuery, ApiError> {
    if let Some(category) = &input.event_category {
        if category != "insight" {
            return Err(TrailError::InvalidEventCategory.into());
        }
    }
    let filter = match input.lookup_attributes.as_slice() {
        [] => None,
        [one] => Some(filter(one)?),
        _ => {
            return Err(TrailError::InvalidLookupAttributes(
                "You cannot use more than one lookup attribute.".into(),
            )
            .into());
        }
    };
    let start = input
        .start_time
        .as_ref()
        .map(|t| t.seconds("StartTime"))
        .transpose()?;
    let end = input
        .end_time
        .as_ref()
        .map(|t| t.seconds("EndTime"))
        .transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(TrailError::InvalidTimeRange.into());
        }
    }
    let limit = match input.max_results {
        None => MAX_RESULTS,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_RESULTS).contains(n))
            .ok_or(TrailError::InvalidMaxResults)?,
    };
    let mut query = EventQuery {
        filter,
        start,
        end,
        limit,
        after: None,
    };
    if let Some(t) = &input.next_token {
        query.after = Some(cursor(&query, t)?);
    }
    Ok(query)
}

fn filter(attribute: &LookupAttribute) -> Result<EventFilter, TrailError> {
    let value = attribute.attribute_value.clone();
    let invalid = |m: String| TrailError::InvalidLookupAttributes(m);
    if value.is_empty() || value.len() > 2000 {
        return Err(invalid(
            "AttributeValue must be 1 to 2000 characters.".into(),
        ));
    }
    Ok(match attribute.attribute_key.as_str() {
        "EventId" => EventFilter::EventId(value),
        "EventName" => EventFilter::EventName(value),
        "ReadOnly" => match value.as_str() {
            "true" => EventFilter::ReadOnly(true),
            "false" => EventFilter::ReadOnly(false),
            _ => return Err(invalid("ReadOnly must be 'true' or 'false'.".into())),
        },
        "Username" => EventFilter::Username(value),
        "ResourceType" => EventFilter::ResourceType(value),
        "ResourceName" => EventFilter::ResourceName(value),
        "EventSource" => EventFilter::EventSource(value),
        "AccessKeyId" => EventFilter::AccessKeyId(value),
        other => {
            return Err(invalid(format!(
                "Invalid AttributeKey {}: use EventId, EventName, ReadOnly, Username, \
                 ResourceType, ResourceName, EventSource or AccessKeyId.",
                other.chars().take(64).collect::<String>()
            )));
        }
    })
}

/// A page's `NextToken`: where it ended, bound to the query's parameters
/// (AWS refuses a token used with other parameters).
fn token(query: &EventQuery, cursor: EventCursor) -> String {
    format!(
        "{}.{}.{}",
        cursor.event_time,
        cursor.seq,
        parameters_digest(query)
    )
}

fn cursor(query: &EventQuery, token: &str) -> Result<EventCursor, TrailError> {
    let mut parts = token.splitn(3, '.');
    let (Some(time), Some(seq), Some(digest)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(TrailError::InvalidNextToken);
    };
    let (Ok(event_time), Ok(seq)) = (time.parse(), seq.parse()) else {
        return Err(TrailError::InvalidNextToken);
    };
    if digest != parameters_digest(query) {
        return Err(TrailError::InvalidNextToken);
    }
    Ok(EventCursor { event_time, seq })
}

fn parameters_digest(query: &EventQuery) -> String {
    let canonical = format!("{:?}|{:?}|{:?}", query.filter, query.start, query.end);
    Sha256::digest(canonical.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One event in botocore's `Event` shape.
fn event(e: &StoredEvent) -> Value {
    let mut out = json!({
        "EventId": e.event_id,
        "EventName": e.event_name,
        "ReadOnly": if e.read_only { "true" } else { "false" },
        "EventTime": e.event_time,
        "EventSource": e.event_source,
        "Resources": e.resources.iter().map(|r| json!({
            "ResourceType": r.resource_type,
            "ResourceName": r.resource_name,
        })).collect::<Vec<_>>(),
        "CloudTrailEvent": e.event,
    });
    if let Some(u) = &e.username {
        out["Username"] = json!(u);
    }
    if let Some(k) = &e.access_key_id {
        out["AccessKeyId"] = json!(k);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn request(body: &str) -> LookupEventsRequest {
        decode(body.as_bytes()).unwrap()
    }

    fn refused(body: &str) -> String {
        match query(&request(body)) {
            Err(e) => e.code().to_owned(),
            Ok(q) => panic!("accepted: {q:?}"),
        }
    }

    #[test]
    fn parameters_are_checked_as_aws_checks_them() {
        let q = query(&request(
            r#"{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"bob"}],
                "StartTime":1700000000.5,"EndTime":"2030-01-01T00:00:00Z","MaxResults":3}"#,
        ))
        .unwrap();
        assert_eq!(q.filter, Some(EventFilter::Username("bob".into())));
        assert_eq!(q.start, Some(1_700_000_000));
        assert_eq!(q.limit, 3);
        assert_eq!(query(&request("")).unwrap().limit, 50);
        let two = r#"{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"a"},
                      {"AttributeKey":"EventName","AttributeValue":"b"}]}"#;
        assert_eq!(refused(two), "InvalidLookupAttributesException");
        let key = r#"{"LookupAttributes":[{"AttributeKey":"Colour","AttributeValue":"a"}]}"#;
        assert_eq!(refused(key), "InvalidLookupAttributesException");
        assert_eq!(
            refused(r#"{"StartTime":20,"EndTime":10}"#),
            "InvalidTimeRangeException"
        );
        assert_eq!(
            refused(r#"{"MaxResults":51}"#),
            "InvalidMaxResultsException"
        );
        assert_eq!(refused(r#"{"MaxResults":0}"#), "InvalidMaxResultsException");
        assert_eq!(refused(r#"{"NextToken":"x"}"#), "InvalidNextTokenException");
        assert_eq!(
            refused(r#"{"EventCategory":"data"}"#),
            "InvalidEventCategoryException"
        );
        assert!(matches!(
            decode(b"{\"Bogus\":1}"),
            Err(TrailError::Serialization(_))
        ));
    }

    #[test]
    fn a_token_works_only_with_the_parameters_it_was_issued_for() {
        let q = query(&request(r#"{"StartTime":10}"#)).unwrap();
        let t = token(
            &q,
            EventCursor {
                event_time: 99,
                seq: 7,
            },
        );
        assert_eq!(cursor(&q, &t).unwrap().seq, 7);
        let other = query(&request(r#"{"StartTime":11}"#)).unwrap();
        assert_eq!(cursor(&other, &t), Err(TrailError::InvalidNextToken));
    }

    #[test]
    fn only_lookup_events_is_served() {
        assert_eq!(
            operation("CloudTrail_20131101.LookupEvents").unwrap(),
            "LookupEvents"
        );
        assert_eq!(
            operation("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents")
                .unwrap(),
            "LookupEvents"
        );
        assert!(operation("CloudTrail_20131101.DeleteTrail").is_err());
    }
}
