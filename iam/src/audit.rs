//! Audit trail: CloudTrail-shaped events, one JSON object per line,
//! appended to the audit log and copied to syslog `authpriv`
//! ([`crate::syslog`]). Every event is assembled here ([`AuditEvent::pam`]
//! for the PAM stages, [`AuditEvent::iamctl`] for iamctl's `iam` and `sts`
//! calls) and every deciding statement comes from [`deciding_statements`];
//! see docs/ARCHITECTURE.md, "Audit".
//!
//! Events are built from plain strings and `serde_json::Value`s; the secret
//! types in [`crate::secret`] do not implement `Serialize`, so a password or
//! TOTP secret cannot be put into an event without an explicit `expose()`
//! that a reviewer would see.

use std::fs::DirBuilder;
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ledger::Ledger;
use crate::policy::{Decision, Effect, Response};
use crate::principal::{Principal, PrincipalType};
use crate::request::ApiFacts;
use crate::store::StoreError;
use crate::syslog::Severity;
use crate::trust::{self, Contents, TrustError};

/// How audit records are tagged in syslog.
const SYSLOG_TAG: &str = "iam-audit";

/// The `userAgent` of every event iamctl writes.
pub const IAMCTL_USER_AGENT: &str = "iamctl";

/// CloudTrail's current record format version.
pub const EVENT_VERSION: &str = "1.08";

/// An event line longer than this has its request and response details
/// replaced by a note, so one huge request cannot bloat the log or split
/// into interleaved writes.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;

/// Something went wrong writing the audit trail. Names the file, never the
/// event's content.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot read random bytes for an event id: {0}")]
    Random(getrandom::Error),
    #[error("cannot encode audit event: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("audit event {event_name} is larger than {MAX_EVENT_BYTES} bytes even trimmed")]
    TooLarge { event_name: String },
    /// The log, or a directory on the way to it, is not trusted.
    #[error(transparent)]
    Untrusted(#[from] TrustError),
}

/// Why queued events could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// The service an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    /// Logins: the PAM module.
    Pam,
    /// Directory changes and reads: `iamctl`.
    Iam,
    /// Role sessions: `iamctl assume-role`; iam-server's STS API.
    Sts,
    /// iam-server's CloudTrail API (`LookupEvents`).
    Cloudtrail,
}

impl EventSource {
    /// The source of a call to iam-server signed for `service` (SigV4's
    /// credential scope).
    pub fn for_service(service: &str) -> Self {
        match service {
            "sts" => Self::Sts,
            "cloudtrail" => Self::Cloudtrail,
            _ => Self::Iam,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pam => "pam",
            Self::Iam => "iam",
            Self::Sts => "sts",
            Self::Cloudtrail => "cloudtrail",
        }
    }
}

/// CloudTrail's `userIdentity.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityType {
    #[serde(rename = "IAMUser")]
    IamUser,
    Root,
    AssumedRole,
    /// A name the directory does not know (failed logins of unknown users).
    Unknown,
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type")]
    pub identity_type: IdentityType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The access key that signed an iam-server request (never its secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
}

impl UserIdentity {
    /// An IAM user.
    pub fn iam_user(account_id: &str, arn: &str, user_name: &str) -> Self {
        Self {
            identity_type: IdentityType::IamUser,
            arn: Some(arn.to_owned()),
            account_id: Some(account_id.to_owned()),
            user_name: Some(user_name.to_owned()),
            access_key_id: None,
        }
    }

    /// The account root (real uid 0).
    pub fn root(account_id: &str) -> Self {
        Self {
            identity_type: IdentityType::Root,
            arn: Some(format!("arn:aws:iam::{account_id}:root")),
            account_id: Some(account_id.to_owned()),
            user_name: None,
            access_key_id: None,
        }
    }

    /// A role session; `arn` is the `assumed-role/ROLE/SESSION` ARN.
    pub fn assumed_role(account_id: &str, arn: &str) -> Self {
        Self {
            identity_type: IdentityType::AssumedRole,
            arn: Some(arn.to_owned()),
            account_id: Some(account_id.to_owned()),
            user_name: None,
            access_key_id: None,
        }
    }

    /// A name that is not in the directory, recorded as given.
    pub fn unknown(user_name: &str) -> Self {
        Self {
            identity_type: IdentityType::Unknown,
            arn: None,
            account_id: None,
            user_name: Some(user_name.to_owned()),
            access_key_id: None,
        }
    }

    /// The user or role session a principal is.
    pub fn of_principal(principal: &Principal) -> Self {
        let account = principal.account.as_str();
        match principal.principal_type {
            PrincipalType::User => Self::iam_user(account, &principal.arn, &principal.name),
            PrincipalType::AssumedRole => Self::assumed_role(account, &principal.arn),
        }
    }
}

/// A policy statement that decided a request: the answer to "why was I
/// denied" (or allowed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecidingStatement {
    /// Policy name or ARN.
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Position of the statement in the policy, for statements without Sid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// The statements that decided `response`: the Deny statements that
/// matched, for an explicit deny; every matched statement otherwise (the
/// granting ones of an allow; for an implicit deny, those that allowed in
/// one policy set but not the other).
pub fn deciding_statements(response: &Response) -> Vec<DecidingStatement> {
    response
        .matched
        .iter()
        .filter(|m| response.decision != Decision::ExplicitDeny || m.effect == Effect::Deny)
        .map(|m| DecidingStatement {
            policy: m.policy.clone(),
            sid: m.sid.clone(),
            index: Some(m.index),
        })
        .collect()
}

/// Where a PAM event comes from, as the PAM items say.
#[derive(Debug, Clone, Copy)]
pub struct PamOrigin<'a> {
    pub service: &'a str,
    pub tty: Option<&'a str>,
    /// `PAM_RHOST`, recorded as `sourceIPAddress` whatever it holds.
    pub rhost: Option<&'a str>,
}

/// What a PAM stage records; the event's name, response elements and error
/// code follow from it.
#[derive(Debug, Clone, Copy)]
pub enum PamEvent<'a> {
    /// `authenticate` refused the factors (wrong, replayed, locked out,
    /// unknown user): `Login`, `AuthenticationFailed`.
    AuthenticationFailed { reason: &'a str },
    /// The account stage (or an unknown user at a later stage) refused the
    /// login: `Login`, `AccessDenied`, with the deciding statements.
    LoginDenied {
        reason: &'a str,
        deciding: &'a [DecidingStatement],
    },
    /// `open_session`: `Login` succeeded, with or without MFA, by these
    /// factors (`host:AuthMethod`), with this SSH public key (id, MD5).
    LoginSucceeded {
        mfa_used: bool,
        auth_method: Option<&'a str>,
        ssh_key: Option<(&'a str, &'a str)>,
    },
    /// `close_session`.
    Logout,
    /// `chauthtok`: `ChangePassword`, refused when `refusal` says why.
    ChangePassword { refusal: Option<&'a str> },
    /// `authenticate` took a recovery code in place of a device's code
    /// (ours): `RecoveryCodeUsed`, with how many of the set are left.
    RecoveryCodeUsed { remaining: u32 },
}

/// One audit record, CloudTrail's field names plus `host` and `decidedBy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub event_version: String,
    /// ISO 8601 UTC, CloudTrail's `2026-11-25T12:00:00Z`.
    pub event_time: String,
    pub event_source: EventSource,
    /// `Login`, `Logout`, `CreateUser`, `AssumeRole`, `SessionExpired`, …
    pub event_name: String,
    pub user_identity: UserIdentity,
    /// The client address; absent for console logins and local commands.
    #[serde(
        rename = "sourceIPAddress",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The host that wrote the event.
    pub host: String,
    /// What was asked; CloudTrail writes `null` when nothing was.
    pub request_parameters: Option<Value>,
    pub response_elements: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decided_by: Vec<DecidingStatement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Random UUID v4.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// The iam-server request (its `x-amzn-RequestId`).
    #[serde(rename = "requestID", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_account_id: Option<String>,
}

impl AuditEvent {
    /// Starts an event; `now` is the event time, `host` this host's name.
    pub fn builder(
        source: EventSource,
        event_name: &str,
        user_identity: UserIdentity,
        host: &str,
        now: DateTime<Utc>,
    ) -> AuditEventBuilder {
        AuditEventBuilder {
            event: AuditEvent {
                event_version: EVENT_VERSION.to_owned(),
                event_time: now.to_rfc3339_opts(SecondsFormat::Secs, true),
                event_source: source,
                event_name: event_name.to_owned(),
                recipient_account_id: user_identity.account_id.clone(),
                user_identity,
                source_ip_address: None,
                user_agent: None,
                host: host.to_owned(),
                request_parameters: None,
                response_elements: None,
                additional_event_data: None,
                error_code: None,
                error_message: None,
                decided_by: Vec::new(),
                read_only: None,
                event_id: String::new(),
                request_id: None,
            },
        }
    }

    /// A PAM event: the service and tty as request parameters, PAM_RHOST
    /// as the source address.
    pub fn pam(
        event: PamEvent<'_>,
        identity: UserIdentity,
        host: &str,
        origin: &PamOrigin<'_>,
        now: DateTime<Utc>,
    ) -> AuditEventBuilder {
        let name = match event {
            PamEvent::ChangePassword { .. } => "ChangePassword",
            PamEvent::Logout => "Logout",
            PamEvent::RecoveryCodeUsed { .. } => "RecoveryCodeUsed",
            _ => "Login",
        };
        let mut parameters = serde_json::json!({ "service": origin.service });
        if let Some(tty) = origin.tty {
            parameters["tty"] = serde_json::json!(tty);
        }
        let mut builder = Self::builder(EventSource::Pam, name, identity, host, now)
            .request_parameters(parameters);
        if let Some(rhost) = origin.rhost {
            builder = builder.source_ip(rhost);
        }
        let failure = serde_json::json!({ "Login": "Failure" });
        match event {
            PamEvent::AuthenticationFailed { reason } => builder
                .response_elements(failure)
                .error("AuthenticationFailed", reason),
            PamEvent::LoginDenied { reason, deciding } => builder
                .response_elements(failure)
                .error("AccessDenied", reason)
                .decided_by_all(deciding),
            PamEvent::LoginSucceeded {
                mfa_used,
                auth_method,
                ssh_key,
            } => {
                let mut data =
                    serde_json::json!({ "MFAUsed": if mfa_used { "Yes" } else { "No" } });
                if let Some(method) = auth_method {
                    data["AuthMethod"] = method.into();
                }
                if let Some((id, fingerprint)) = ssh_key {
                    data["SSHPublicKeyId"] = id.into();
                    data["SSHPublicKeyFingerprint"] = fingerprint.into();
                }
                builder
                    .response_elements(serde_json::json!({ "Login": "Success" }))
                    .additional_event_data(data)
            }
            PamEvent::RecoveryCodeUsed { remaining } => builder.additional_event_data(
                serde_json::json!({ "MFAUsed": "Yes", "RecoveryCodesRemaining": remaining }),
            ),
            PamEvent::Logout | PamEvent::ChangePassword { refusal: None } => builder,
            PamEvent::ChangePassword {
                refusal: Some(reason),
            } => builder.error("AccessDenied", reason),
        }
    }

    /// An event of an iamctl call (`iam` or `sts`): what was asked, and the
    /// `iamctl` user agent.
    pub fn iamctl(
        source: EventSource,
        name: &str,
        identity: UserIdentity,
        host: &str,
        now: DateTime<Utc>,
        request_parameters: Value,
    ) -> AuditEventBuilder {
        Self::builder(source, name, identity, host, now)
            .request_parameters(request_parameters)
            .user_agent(IAMCTL_USER_AGENT)
    }

    /// An event of a call to iam-server: its source from the signing
    /// service, the client's address and user agent, the request id and
    /// the access key that signed it.
    pub fn api(
        facts: &ApiFacts,
        name: &str,
        mut identity: UserIdentity,
        host: &str,
        now: DateTime<Utc>,
        request_parameters: Value,
    ) -> AuditEventBuilder {
        identity.access_key_id = Some(facts.access_key_id.clone());
        let mut builder = Self::builder(
            EventSource::for_service(&facts.service),
            name,
            identity,
            host,
            now,
        )
        .request_parameters(request_parameters)
        .source_ip(&facts.source_ip.to_string())
        .read_only(read_only_operation(name));
        if let Some(agent) = &facts.user_agent {
            builder = builder.user_agent(agent);
        }
        builder.event.request_id = Some(facts.request_id.clone());
        builder
    }

    /// Whether the event records a refusal.
    pub fn is_denial(&self) -> bool {
        self.error_code.is_some()
    }

    /// The JSON line, at most [`MAX_EVENT_BYTES`] plus the newline.
    pub fn to_line(&self) -> Result<String, AuditError> {
        let mut line = serde_json::to_string(self)?;
        if line.len() > MAX_EVENT_BYTES {
            let mut trimmed = self.clone();
            let note = Value::String("omitted: event too large".into());
            trimmed.request_parameters = Some(note.clone());
            trimmed.response_elements = None;
            trimmed.additional_event_data = Some(note);
            trimmed.error_message = trimmed
                .error_message
                .map(|m| m.chars().take(1024).collect());
            trimmed.decided_by.truncate(16);
            line = serde_json::to_string(&trimmed)?;
            if line.len() > MAX_EVENT_BYTES {
                return Err(AuditError::TooLarge {
                    event_name: self.event_name.chars().take(64).collect(),
                });
            }
        }
        line.push('\n');
        Ok(line)
    }
}

/// Fills in an [`AuditEvent`]; `build` assigns the event id.
#[derive(Debug, Clone)]
pub struct AuditEventBuilder {
    event: AuditEvent,
}

impl AuditEventBuilder {
    pub fn source_ip(mut self, ip: &str) -> Self {
        self.event.source_ip_address = Some(ip.to_owned());
        self
    }

    pub fn user_agent(mut self, agent: &str) -> Self {
        self.event.user_agent = Some(agent.to_owned());
        self
    }

    /// Never put a secret here; see the module docs.
    pub fn request_parameters(mut self, params: Value) -> Self {
        self.event.request_parameters = Some(params);
        self
    }

    pub fn response_elements(mut self, elements: Value) -> Self {
        self.event.response_elements = Some(elements);
        self
    }

    /// E.g. `{"MFAUsed": "Yes"}`, as CloudTrail's ConsoleLogin.
    pub fn additional_event_data(mut self, data: Value) -> Self {
        self.event.additional_event_data = Some(data);
        self
    }

    /// Marks the event as a refusal, AWS-style: `AccessDenied`, `NoSuchEntity`, …
    pub fn error(mut self, code: &str, message: &str) -> Self {
        self.event.error_code = Some(code.to_owned());
        self.event.error_message = Some(message.to_owned());
        self
    }

    pub fn decided_by(mut self, statement: DecidingStatement) -> Self {
        self.event.decided_by.push(statement);
        self
    }

    /// Every statement that decided the request, in order.
    pub fn decided_by_all(mut self, statements: &[DecidingStatement]) -> Self {
        self.event.decided_by.extend_from_slice(statements);
        self
    }

    /// A refusal when `error` (code, message) is given; else unchanged.
    pub fn error_if(self, error: Option<(&str, &str)>) -> Self {
        match error {
            Some((code, message)) => self.error(code, message),
            None => self,
        }
    }

    pub fn read_only(mut self, read_only: bool) -> Self {
        self.event.read_only = Some(read_only);
        self
    }

    pub fn build(mut self) -> Result<AuditEvent, AuditError> {
        self.event.event_id = uuid_v4()?;
        Ok(self.event)
    }
}

/// Where events go: the JSON-lines file and, unless disabled, syslog.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    syslog: bool,
}

impl AuditLog {
    /// Appends to `path` and copies each event to syslog `authpriv`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            syslog: true,
        }
    }

    /// Appends to `path` only: for tests, which should not fill the host's
    /// journal.
    pub fn file_only(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            syslog: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` as one line with a single `write` on an `O_APPEND`
    /// descriptor (so concurrent writers never interleave), creating the
    /// directory (0700) and file (0600) if missing. Refuses a symlink, a
    /// non-regular file, a file writable by group or others, and one owned
    /// by anyone but root or us. Syslog is
    /// best effort and never blocks: its failure is not an error.
    pub fn append(&self, event: &AuditEvent) -> Result<(), AuditError> {
        self.deliver(&event.to_line()?, event.is_denial())
    }

    /// Builds `event` and appends it ([`Self::append`]).
    pub fn write(&self, event: AuditEventBuilder) -> Result<(), AuditError> {
        self.append(&event.build()?)
    }

    /// Appends an event line made by [`AuditEvent::to_line`] (as queued in
    /// the ledger's outbox), and copies it to syslog.
    fn deliver(&self, line: &str, denial: bool) -> Result<(), AuditError> {
        self.append_line(line)?;
        if self.syslog {
            let severity = match denial {
                true => Severity::Warning,
                false => Severity::Info,
            };
            crate::syslog::send(SYSLOG_TAG, severity, line.trim_end());
        }
        Ok(())
    }

    /// Delivers every audit event queued in the ledger's outbox, oldest first, and
    /// forgets each once it is in the log. Stops at the first failure: the
    /// rest stay queued for the next call.
    pub fn deliver_queued(&self, ledger: &Ledger<'_>) -> Result<usize, DeliveryError> {
        let queued = ledger.queued_audit()?;
        for event in &queued {
            self.deliver(&event.line, event.denial)?;
            ledger.delete_queued_audit(event.id)?;
        }
        Ok(queued.len())
    }

    fn append_line(&self, line: &str) -> Result<(), AuditError> {
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| AuditError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
        // A file planted by someone else would let them read or truncate
        // the trail; it names users and addresses, so it is private.
        let mut file = trust::open_append(&self.path, Contents::Private)?;
        file.write_all(line.as_bytes()).map_err(io)
    }
}

/// Whether an operation only reads (CloudTrail's `readOnly`): AWS's
/// `Get…`, `List…`, `Simulate…` and `Lookup…` calls.
pub fn read_only_operation(name: &str) -> bool {
    ["Get", "List", "Simulate", "Lookup", "Describe"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Queues `event` in the ledger's outbox: inside a transaction it commits
/// with the change it records; [`AuditLog::deliver_queued`] writes it out.
pub fn queue(ledger: &Ledger<'_>, event: &AuditEvent) -> Result<(), StoreError> {
    let line = event
        .to_line()
        .map_err(|e| StoreError::Audit(e.to_string()))?;
    ledger.queue_audit(&line, event.is_denial())
}

/// RFC 4122 version 4 UUID from the OS RNG.
fn uuid_v4() -> Result<String, AuditError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(AuditError::Random)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syslog::send_to;
    use chrono::TimeZone;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixDatagram;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn denied_login() -> AuditEvent {
        AuditEvent::builder(
            EventSource::Pam,
            "Login",
            UserIdentity::iam_user(
                "123456789012",
                "arn:aws:iam::123456789012:user/alice",
                "alice",
            ),
            "web-1",
            now(),
        )
        .source_ip("10.0.0.7")
        .request_parameters(json!({"service": "sshd", "tty": "ssh"}))
        .additional_event_data(json!({"MFAUsed": "Yes"}))
        .error("AccessDenied", "host:Login denied by an explicit deny")
        .decided_by(DecidingStatement {
            policy: "DenyProd".into(),
            sid: Some("NoProd".into()),
            index: Some(0),
        })
        .build()
        .unwrap()
    }

    #[test]
    fn cloudtrail_shape() {
        let e = denied_login();
        let v: Value = serde_json::from_str(&e.to_line().unwrap()).unwrap();
        assert_eq!(v["eventVersion"], "1.08");
        assert_eq!(v["eventTime"], "2026-11-25T12:00:00Z");
        assert_eq!(v["eventSource"], "pam");
        assert_eq!(v["eventName"], "Login");
        assert_eq!(v["userIdentity"]["type"], "IAMUser");
        assert_eq!(v["userIdentity"]["userName"], "alice");
        assert_eq!(v["userIdentity"]["accountId"], "123456789012");
        assert_eq!(v["sourceIPAddress"], "10.0.0.7");
        assert_eq!(v["host"], "web-1");
        assert_eq!(v["requestParameters"]["service"], "sshd");
        assert_eq!(v["responseElements"], Value::Null);
        assert_eq!(v["errorCode"], "AccessDenied");
        assert_eq!(v["decidedBy"][0]["policy"], "DenyProd");
        assert_eq!(v["decidedBy"][0]["sid"], "NoProd");
        assert_eq!(v["recipientAccountId"], "123456789012");
        let id = v["eventID"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        // Round trip for readers of the log.
        let back: AuditEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
        assert_ne!(denied_login().event_id, e.event_id);
    }

    #[test]
    fn pam_events_name_their_outcome() {
        let origin = PamOrigin {
            service: "sshd",
            tty: Some("ssh"),
            rhost: Some("10.0.0.7"),
        };
        let event = |e: PamEvent<'_>| {
            let ev = AuditEvent::pam(e, UserIdentity::unknown("bob"), "web-1", &origin, now())
                .build()
                .unwrap();
            serde_json::to_value(ev).unwrap()
        };
        let deciding = [DecidingStatement {
            policy: "DenyProd".into(),
            sid: None,
            index: Some(1),
        }];
        let v = event(PamEvent::LoginDenied {
            reason: "no",
            deciding: &deciding,
        });
        assert_eq!(v["eventName"], "Login");
        assert_eq!(v["eventSource"], "pam");
        assert_eq!(
            v["requestParameters"],
            json!({"service": "sshd", "tty": "ssh"})
        );
        assert_eq!(v["sourceIPAddress"], "10.0.0.7");
        assert_eq!(v["responseElements"], json!({"Login": "Failure"}));
        assert_eq!(v["errorCode"], "AccessDenied");
        assert_eq!(v["decidedBy"][0]["index"], 1);
        let v = event(PamEvent::AuthenticationFailed { reason: "locked" });
        assert_eq!(v["errorCode"], "AuthenticationFailed");
        let v = event(PamEvent::LoginSucceeded {
            mfa_used: true,
            auth_method: None,
            ssh_key: None,
        });
        assert_eq!(v["responseElements"], json!({"Login": "Success"}));
        assert_eq!(v["additionalEventData"], json!({"MFAUsed": "Yes"}));
        let v = event(PamEvent::LoginSucceeded {
            mfa_used: true,
            auth_method: Some("publickey+totp"),
            ssh_key: Some(("APKAEIBAERJR2EXAMPLE", "97:8f:1c:00")),
        });
        assert_eq!(
            v["additionalEventData"],
            json!({"MFAUsed": "Yes", "AuthMethod": "publickey+totp",
                   "SSHPublicKeyId": "APKAEIBAERJR2EXAMPLE", "SSHPublicKeyFingerprint": "97:8f:1c:00"})
        );
        assert!(v.get("errorCode").is_none());
        let v = event(PamEvent::Logout);
        assert_eq!(v["eventName"], "Logout");
        assert_eq!(v["responseElements"], Value::Null);
        let v = event(PamEvent::ChangePassword {
            refusal: Some("reuse"),
        });
        assert_eq!(v["eventName"], "ChangePassword");
        assert_eq!(v["errorMessage"], "reuse");
        assert!(
            event(PamEvent::ChangePassword { refusal: None })
                .get("errorCode")
                .is_none()
        );
        let v = event(PamEvent::RecoveryCodeUsed { remaining: 4 });
        assert_eq!(v["eventName"], "RecoveryCodeUsed");
        assert_eq!(
            v["additionalEventData"],
            json!({"MFAUsed": "Yes", "RecoveryCodesRemaining": 4})
        );
        assert!(v.get("errorCode").is_none());
    }

    #[test]
    fn identities() {
        let v = serde_json::to_value(UserIdentity::root("123456789012")).unwrap();
        assert_eq!(
            v,
            json!({"type": "Root", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"})
        );
        let v = serde_json::to_value(UserIdentity::unknown("mallory")).unwrap();
        assert_eq!(v, json!({"type": "Unknown", "userName": "mallory"}));
        let v = serde_json::to_value(UserIdentity::assumed_role(
            "123456789012",
            "arn:aws:sts::123456789012:assumed-role/ops/alice",
        ))
        .unwrap();
        assert_eq!(v["type"], "AssumedRole");
    }

    #[test]
    fn append_creates_private_dir_and_file_and_appends_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log/iam/audit.log");
        let log = AuditLog::file_only(&path);
        log.append(&denied_login()).unwrap();
        log.append(&denied_login()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for l in lines {
            let e: AuditEvent = serde_json::from_str(l).unwrap();
            assert_eq!(e.event_name, "Login");
        }
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }

    #[test]
    fn append_refuses_symlinks_fifos_and_writable_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("audit.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = AuditLog::file_only(&link)
            .append(&denied_login())
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");

        let fifo = dir.path().join("fifo.log");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let err = AuditLog::file_only(&fifo)
            .append(&denied_login())
            .unwrap_err();
        assert!(err.to_string().contains("regular file"), "{err}");

        let open = dir.path().join("open.log");
        std::fs::write(&open, "").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = AuditLog::file_only(&open)
            .append(&denied_login())
            .unwrap_err();
        assert!(err.to_string().contains("writable"), "{err}");
    }

    #[test]
    fn append_refuses_a_file_owned_by_someone_else() {
        if nix::unistd::geteuid().as_raw() != 0 {
            eprintln!("skipped: needs root to chown");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, "").unwrap();
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let err = AuditLog::file_only(&path)
            .append(&denied_login())
            .unwrap_err();
        assert!(err.to_string().contains("owned by uid 65534"), "{err}");
    }

    #[test]
    fn concurrent_appends_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let big = "y".repeat(MAX_EVENT_BYTES / 2);
        std::thread::scope(|scope| {
            for t in 0..8 {
                let (path, big) = (&path, &big);
                scope.spawn(move || {
                    let log = AuditLog::file_only(path);
                    for i in 0..50 {
                        let e = AuditEvent::builder(
                            EventSource::Iam,
                            "TagUser",
                            UserIdentity::root("123456789012"),
                            "web-1",
                            now(),
                        )
                        .request_parameters(json!({"t": t, "i": i, "pad": big}))
                        .build()
                        .unwrap();
                        log.append(&e).unwrap();
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let mut seen = std::collections::HashSet::new();
        for line in text.lines() {
            let e: AuditEvent = serde_json::from_str(line).unwrap();
            assert!(seen.insert(e.event_id));
        }
        assert_eq!(seen.len(), 400);
    }

    #[test]
    fn huge_events_are_trimmed_to_the_bound() {
        let big = "x".repeat(MAX_EVENT_BYTES * 2);
        let e = AuditEvent::builder(
            EventSource::Iam,
            "CreatePolicy",
            UserIdentity::root("123456789012"),
            "web-1",
            now(),
        )
        .request_parameters(json!({ "policyDocument": big }))
        .build()
        .unwrap();
        let line = e.to_line().unwrap();
        assert!(line.len() <= MAX_EVENT_BYTES + 1, "{}", line.len());
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["eventName"], "CreatePolicy");
        assert_eq!(v["requestParameters"], "omitted: event too large");
    }

    #[test]
    fn syslog_records_are_authpriv() {
        let dir = tempfile::tempdir().unwrap();
        let sock_path = dir.path().join("log.sock");
        let server = UnixDatagram::bind(&sock_path).unwrap();
        server.set_nonblocking(true).unwrap();
        send_to(
            &sock_path,
            SYSLOG_TAG,
            Severity::Warning,
            "{\"eventName\":\"Login\"}",
        );
        send_to(
            &sock_path,
            SYSLOG_TAG,
            Severity::Info,
            "{\"eventName\":\"Logout\"}",
        );
        let mut buf = [0u8; 4096];
        let n = server.recv(&mut buf).unwrap();
        let record = std::str::from_utf8(&buf[..n]).unwrap();
        // authpriv (10) * 8 + warning (4)
        assert!(record.starts_with("<84>"), "{record}");
        assert!(record.contains("iam-audit["), "{record}");
        assert!(record.ends_with("{\"eventName\":\"Login\"}"), "{record}");
        let n = server.recv(&mut buf).unwrap();
        assert!(std::str::from_utf8(&buf[..n]).unwrap().starts_with("<86>"));
        // Nobody listening: dropped silently, without blocking.
        drop(server);
        send_to(&sock_path, SYSLOG_TAG, Severity::Info, "x");
    }

    #[test]
    fn syslog_never_blocks_on_a_full_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock_path = dir.path().join("log.sock");
        let _server = UnixDatagram::bind(&sock_path).unwrap();
        let start = std::time::Instant::now();
        let line = "z".repeat(4000);
        for _ in 0..2000 {
            send_to(&sock_path, SYSLOG_TAG, Severity::Info, &line);
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn syslog_copy_never_fails_the_append() {
        // Whether or not /dev/log exists here, append succeeds.
        let dir = tempfile::tempdir().unwrap();
        AuditLog::new(dir.path().join("audit.log"))
            .append(&denied_login())
            .unwrap();
    }

    /// `SecretString`/`SecretBytes` must never become `Serialize`: that is
    /// what keeps them out of events. This fails to compile if they do
    /// (the trait resolution below becomes ambiguous).
    #[test]
    fn secrets_are_not_serializable() {
        trait NotSerialize<A> {
            fn check() {}
        }
        impl<T: ?Sized> NotSerialize<()> for T {}
        struct IsSerialize;
        impl<T: ?Sized + Serialize> NotSerialize<IsSerialize> for T {}
        <crate::secret::SecretString as NotSerialize<_>>::check();
        <crate::secret::SecretBytes as NotSerialize<_>>::check();
    }
}
