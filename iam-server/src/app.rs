//! One API call, start to end: the Query form → SigV4 → the caller from the
//! directory's credentials → the verb (IAM, STS) → AWS's XML. Synchronous:
//! it runs on a blocking thread with its own store connection, so the
//! async front end (`serve`) only moves bytes. See docs/ARCHITECTURE.md,
//! "iam-server".

use crate::api_error::ApiError;
use crate::config::ServerConfig;
use crate::directory::{Directory, DirectoryError};
use crate::keyring::{self, Keyring};
use crate::query::{self, Model};
use crate::recorder::Recorder;
use crate::sigv4;
use crate::{fleet, hosts, iam_api, sts, trail};
use chrono::{DateTime, Utc};
use iam::audit::{AuditEvent, UserIdentity};
use iam::config::HostConfig;
use iam::names::AccountId;
use iam::principal::Principal;
use iam::request::ApiFacts;
use iam::store::{AccessKeyStatus, Credential, Store, StoreError, UserStatus};
use iamctl::ctx::{Caller, Ctx};
use iamctl::input::Secrets;
use std::net::IpAddr;
use std::path::PathBuf;

/// What every call shares: settings, the server key, where the directory is.
pub struct App {
    pub config: ServerConfig,
    pub keyring: Keyring,
    /// The settings iamctl's verbs read from a host's iam.toml (lockout,
    /// TOTP window, audit log), at their defaults.
    pub verb_settings: HostConfig,
    pub database: PathBuf,
    /// Where each call's store comes from: SQLite or PostgreSQL.
    pub directory: Directory,
    /// Writes the events of calls that changed nothing, in groups.
    pub recorder: Recorder,
    /// The directory's latest change number, as last read: hosts waiting
    /// for a change wait on it (`front`), one reader keeps it fresh
    /// ([`App::watch_changes`]).
    pub change_no: tokio::sync::watch::Sender<i64>,
}

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("account_id: {0}")]
    Account(#[from] iam::names::NameError),
    #[error("the directory: {0}")]
    Store(#[from] iam::store::StoreError),
    #[error("{0}")]
    Directory(#[from] DirectoryError),
    #[error("the server key: {0}")]
    Keyring(#[from] crate::keyring::KeyringError),
    #[error("{0}")]
    Config(#[from] iam::config::ConfigError),
}

/// A request as the front end received it.
pub struct ApiRequest {
    pub parts: http::request::Parts,
    pub body: bytes::Bytes,
    pub peer: IpAddr,
}

/// What goes back: an HTTP status and AWS's XML (Query protocol) or JSON
/// (JSON 1.1 protocol).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub body: String,
    pub request_id: String,
    /// For the log line: the action, once known, and the error code.
    pub action: Option<String>,
    pub error_code: Option<String>,
    /// What the client was told of an error (for the call's event).
    pub error_message: Option<String>,
    pub protocol: Protocol,
    /// A host is up to date and asked to wait for a change (`front` waits,
    /// then asks again).
    pub long_poll: Option<LongPoll>,
}

/// What a waiting `GetDirectoryChanges` waits for.
#[derive(Debug, Clone, Copy)]
pub struct LongPoll {
    pub since: i64,
    pub wait: std::time::Duration,
}

/// The wire protocol of a call: IAM and STS speak Query, CloudTrail JSON 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Query,
    Json,
}

/// What the call's event needs, known once the caller is authenticated:
/// written by [`App::call`] when the verb wrote none (reads, refusals
/// before any check), so every authenticated call has exactly one event.
struct CallRecord {
    identity: UserIdentity,
    facts: ApiFacts,
    action: String,
    /// CloudTrail's `requestParameters`: never a secret.
    parameters: serde_json::Value,
}

/// An authenticated caller, as the verbs see it.
pub struct Authenticated {
    pub caller: Caller,
    pub facts: ApiFacts,
    /// The IAM user behind the credentials (for STS's MFA check): none for
    /// a role session.
    pub user: Option<iam::names::UserName>,
}

impl App {
    /// Opens what every call needs: the server key, and the directory
    /// (created on first start, for this server's account).
    pub fn open(config: ServerConfig) -> Result<Self, AppError> {
        AccountId::parse(&config.account_id)?;
        let database = config.directory_path();
        let directory = Directory::open(&config)?;
        let keyring = Keyring::open_or_create(&config.key_path())?;
        let hostname = iam::config::system_hostname().unwrap_or_else(|_| "iam-server".to_owned());
        let verb_settings = HostConfig::defaults(
            &config.account_id,
            &hostname,
            database.clone(),
            config.audit_log_path(),
        )?;
        // Ids are allocated here, for the whole fleet.
        let mut verb_settings = verb_settings;
        verb_settings.accounts.uid_range = config.uid_range;
        Ok(Self {
            config,
            keyring,
            verb_settings,
            database,
            directory,
            recorder: Recorder::default(),
            change_no: tokio::sync::watch::Sender::new(0),
        })
    }

    /// The verbs' context for one authenticated call (IAM, STS, CloudTrail
    /// alike): the settings, the caller and its request's facts.
    pub fn context(
        &self,
        store: Store,
        who: Authenticated,
        operation: String,
        secrets: Secrets,
        now: DateTime<Utc>,
    ) -> Ctx {
        Ctx::for_api(
            self.verb_settings.clone(),
            store,
            who.caller,
            operation,
            secrets,
            who.facts,
            now,
        )
    }

    /// Answers one request at `now` (injected: tests replay a captured
    /// request later): CloudTrail's JSON when it names an `X-Amz-Target`,
    /// else the IAM and STS Query APIs. Then the call's event, unless its
    /// verb recorded one.
    pub fn call(&self, request: &ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        let request_id = new_request_id();
        let mut record = None;
        let target = request
            .parts
            .headers
            .get("x-amz-target")
            .map(|v| v.to_str().unwrap_or_default());
        let response = match target {
            Some(target) => self.call_json(target, request, now, request_id, &mut record),
            None => self.call_query(request, now, request_id, &mut record),
        };
        if let Some(record) = record {
            self.record_call(&record, &response, now);
        }
        response
    }

    fn call_query(
        &self,
        request: &ApiRequest,
        now: DateTime<Utc>,
        request_id: String,
        record: &mut Option<CallRecord>,
    ) -> ApiResponse {
        // Which API the caller signed for decides the XML namespace of even
        // its errors; IAM when nothing can be told.
        let claim = sigv4::parse(&request.parts, now);
        let model = match claim.as_ref().map(|c| c.service.as_str()) {
            Ok("sts") => query::sts(),
            _ => query::iam(),
        };
        // The embedded models are checked by a unit test; should one not
        // load, nothing can be answered in AWS's shape.
        let model = match model {
            Ok(m) => m,
            Err(e) => {
                eprintln!("request {request_id}: internal error: {e}");
                return ApiResponse {
                    status: 500,
                    body: String::new(),
                    request_id,
                    action: None,
                    error_code: Some("InternalFailure".to_owned()),
                    error_message: None,
                    protocol: Protocol::Query,
                    long_poll: None,
                };
            }
        };
        let mut action = None;
        let answered = self
            .answer(model, claim, request, now, &request_id, &mut action, record)
            .and_then(|output| {
                let name = action.as_deref().unwrap_or_default();
                Ok(query::encode_result(model, name, &output, &request_id)?)
            });
        match answered {
            Ok(xml) => ApiResponse {
                status: 200,
                body: xml,
                request_id,
                action,
                error_code: None,
                error_message: None,
                protocol: Protocol::Query,
                long_poll: None,
            },
            Err(e) => {
                if e.is_internal() {
                    // The details go to the log, never to the client.
                    eprintln!("request {request_id}: internal error: {e}");
                }
                ApiResponse {
                    status: e.status(),
                    body: query::encode_error(
                        model,
                        e.code(),
                        &e.client_message(),
                        e.sender_fault(),
                        &request_id,
                    ),
                    request_id,
                    action,
                    error_code: Some(e.code().to_owned()),
                    error_message: Some(e.client_message()),
                    protocol: Protocol::Query,
                    long_poll: None,
                }
            }
        }
    }

    /// A call in AWS's JSON 1.1 protocol: CloudTrail's `LookupEvents`, or
    /// the host API's (enrolment: `crate::hosts`; the replicas' feed and
    /// ledger: `crate::fleet`).
    fn call_json(
        &self,
        target: &str,
        request: &ApiRequest,
        now: DateTime<Utc>,
        request_id: String,
        record: &mut Option<CallRecord>,
    ) -> ApiResponse {
        let answered =
            if target.starts_with(hosts::TARGET_PREFIX) && fleet::operation(target).is_none() {
                self.answer_host(target, request, now, &request_id, record)
                    .map(|output| (output, None))
            } else {
                self.answer_json(target, request, now, &request_id, record)
            };
        let action = record
            .as_ref()
            .map(|r| r.action.clone())
            .or_else(|| fleet::operation(target).map(|op| op.name().to_owned()));
        match answered {
            Ok((output, long_poll)) => ApiResponse {
                status: 200,
                body: output.to_string(),
                request_id,
                action,
                error_code: None,
                error_message: None,
                protocol: Protocol::Json,
                long_poll,
            },
            Err(e) => {
                if e.is_internal() {
                    eprintln!("request {request_id}: internal error: {e}");
                }
                let message = e.client_message();
                ApiResponse {
                    status: e.status(),
                    body: serde_json::json!({"__type": e.json_code(), "message": message})
                        .to_string(),
                    request_id,
                    action,
                    error_code: Some(e.json_code().to_owned()),
                    error_message: Some(message),
                    protocol: Protocol::Json,
                    long_poll: None,
                }
            }
        }
    }

    fn answer_host(
        &self,
        target: &str,
        request: &ApiRequest,
        now: DateTime<Utc>,
        request_id: &str,
        record: &mut Option<CallRecord>,
    ) -> Result<serde_json::Value, ApiError> {
        match hosts::operation(target)? {
            hosts::JOIN_HOST => {
                // The event is the new host's, stored in the enrolment's
                // transaction; the token is nowhere in it.
                let mut made = None;
                let mut event = |host: &iam::store::EnrolledHost| {
                    let account = AccountId::parse(&self.config.account_id)?;
                    let identity = UserIdentity::assumed_role(
                        account.as_str(),
                        &hosts::session_arn(&account, host).unwrap_or_default(),
                    );
                    let facts = self.facts(
                        request,
                        hosts::SERVICE,
                        &host.access_key_id,
                        request_id,
                        Some(None),
                    );
                    let parameters = serde_json::json!({
                        "hostname": host.hostname.as_str(),
                        "instanceProfileName": host.instance_profile.name.as_str(),
                    });
                    let event = AuditEvent::api(
                        &facts,
                        hosts::JOIN_HOST,
                        identity.clone(),
                        &self.verb_settings.hostname,
                        now,
                        parameters.clone(),
                    )
                    .build()
                    .map_err(|e| StoreError::Audit(e.to_string()))?;
                    // For the log line; App::call finds the event stored.
                    made = Some(CallRecord {
                        identity,
                        facts,
                        action: hosts::JOIN_HOST.to_owned(),
                        parameters,
                    });
                    Ok(event)
                };
                let joined = self.directory.run(|store| {
                    hosts::join(&store, &self.keyring, &request.body, now, &mut event)
                })?;
                *record = made;
                Ok(joined.output)
            }
            _ => {
                let claim = sigv4::parse(&request.parts, now)?;
                claim.check_service(hosts::SERVICE)?;
                self.directory.run(|store| {
                    let who = self.authenticate(&store, request, &claim, now, request_id)?;
                    *record = CallRecord::of(&who, hosts::DESCRIBE_HOST, serde_json::Value::Null);
                    let Some(Credential::Host(host)) =
                        store.find_credential(&claim.access_key_id)?
                    else {
                        return Err(iamctl::error::CliError::new(
                            "AccessDenied",
                            "DescribeHost answers an enrolled host about itself: \
                             sign it with the host's credential.",
                        )
                        .into());
                    };
                    let host = store.get_host(&host.hostname)?;
                    hosts::describe(store.account_id(), &host)
                })
            }
        }
    }

    /// The facts of a call's request as its condition keys and event see
    /// them.
    fn facts(
        &self,
        request: &ApiRequest,
        service: &str,
        access_key_id: &str,
        request_id: &str,
        session_mfa: Option<Option<i64>>,
    ) -> ApiFacts {
        ApiFacts {
            source_ip: request.peer,
            session_mfa,
            service: service.to_owned(),
            access_key_id: access_key_id.to_owned(),
            request_id: request_id.to_owned(),
            user_agent: request
                .parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect()),
        }
    }

    fn answer_json(
        &self,
        target: &str,
        request: &ApiRequest,
        now: DateTime<Utc>,
        request_id: &str,
        record: &mut Option<CallRecord>,
    ) -> Result<(serde_json::Value, Option<LongPoll>), ApiError> {
        let claim = sigv4::parse(&request.parts, now)?;
        if let Some(operation) = fleet::operation(target) {
            claim.check_service(fleet::SERVICE)?;
            return self.directory.run(|store| {
                let who = self.authenticate(&store, request, &claim, now, request_id)?;
                let answer = fleet::run(self, store, who, operation, &request.body, now)?;
                Ok((answer.output, answer.wait))
            });
        }
        claim.check_service(trail::SERVICE)?;
        self.directory.run(|store| {
            let who = self.authenticate(&store, request, &claim, now, request_id)?;
            // The events of the calls answered before this one are in (no
            // transaction of this store is open here).
            self.recorder.flush(&self.directory);
            let action = trail::operation(target)?;
            // Recorded once decoded: only the members CloudTrail knows, never
            // whatever else a caller put in the body.
            *record = CallRecord::of(&who, action, serde_json::Value::Null);
            let input = trail::decode(&request.body)?;
            let parameters = serde_json::from_slice(&request.body).unwrap_or_default();
            *record = CallRecord::of(&who, action, camel_case(parameters));
            Ok((trail::run(self, store, who, &input, now)?, None))
        })
    }

    /// Writes the call's event unless its verb did (one event per call).
    /// Best effort: a failure is logged, the answer stands.
    fn record_call(&self, record: &CallRecord, response: &ApiResponse, now: DateTime<Utc>) {
        let error = response
            .error_code
            .as_deref()
            .zip(response.error_message.as_deref());
        let event = AuditEvent::api(
            &record.facts,
            &record.action,
            record.identity.clone(),
            &self.verb_settings.hostname,
            now,
            record.parameters.clone(),
        )
        .error_if(error)
        .build();
        match event {
            Ok(event) => self.recorder.record(&self.directory, event),
            Err(e) => eprintln!(
                "request {}: the call's event is not recorded: {e}",
                record.facts.request_id
            ),
        }
    }

    /// The action's output (AWS's JSON shape); `action` is set once known.
    #[allow(clippy::too_many_arguments)]
    fn answer(
        &self,
        model: &Model,
        claim: Result<sigv4::Claim, sigv4::SigError>,
        request: &ApiRequest,
        now: DateTime<Utc>,
        request_id: &str,
        action: &mut Option<String>,
        record: &mut Option<CallRecord>,
    ) -> Result<serde_json::Value, ApiError> {
        let claim = claim?;
        // Signed for STS, or else for IAM: never for another service.
        if claim.service != "sts" {
            claim.check_service("iam")?;
        }
        let form = query::parse_form(&request.body)?;
        // The whole call is run again if its transaction lost to a
        // concurrent one (PostgreSQL only; see crate::directory).
        self.directory.run(|store| {
            let who = self.authenticate(&store, request, &claim, now, request_id)?;
            let call = query::decode(model, &form)?;
            *action = Some(call.action.clone());
            *record = CallRecord::of(
                &who,
                &call.action,
                model.request_parameters(&call.action, &call.input),
            );
            let output = match claim.service.as_str() {
                "sts" => sts::run(self, store, who, &call, now)?,
                _ => iam_api::run(self, store, who, &call, now)?,
            };
            Ok(query::paginate(model, &call.action, &call.input, output)?)
        })
    }

    /// The caller the signature proves: the access key's user, the role
    /// session whose temporary credentials signed, or the enrolled host's
    /// session of the role its instance profile holds now.
    fn authenticate(
        &self,
        store: &Store,
        request: &ApiRequest,
        claim: &sigv4::Claim,
        now: DateTime<Utc>,
        request_id: &str,
    ) -> Result<Authenticated, ApiError> {
        let account = store.account_id().clone();
        let facts = |session_mfa| {
            self.facts(
                request,
                &claim.service,
                &claim.access_key_id,
                request_id,
                session_mfa,
            )
        };
        let credential = store
            .find_credential(&claim.access_key_id)?
            .ok_or(ApiError::InvalidClientTokenId)?;
        let sealed = match &credential {
            Credential::AccessKey { sealed, .. } => sealed,
            Credential::RoleSession(session) => &session.sealed,
            Credential::Host(host) => &host.sealed,
        };
        let secret = self
            .keyring
            .open(&claim.access_key_id, sealed)
            .map_err(|_| ApiError::InvalidClientTokenId)?;
        sigv4::verify(&request.parts, &request.body, claim, &secret)?;
        match credential {
            Credential::AccessKey {
                user,
                user_status,
                status,
                ..
            } => {
                // A token with a long-term key, an inactive key, or a
                // disabled user's key: all invalid, as AWS says it.
                if claim.security_token.is_some()
                    || status != AccessKeyStatus::Active
                    || user_status != UserStatus::Active
                {
                    return Err(ApiError::InvalidClientTokenId);
                }
                store.record_access_key_use(
                    &claim.access_key_id,
                    &claim.service,
                    &claim.region,
                    now,
                )?;
                let principal = Principal::for_user(store, &account, &user)?;
                Ok(Authenticated {
                    caller: Caller::User(Box::new(principal)),
                    facts: facts(None),
                    user: Some(user),
                })
            }
            Credential::RoleSession(session) => {
                let token = claim
                    .security_token
                    .as_ref()
                    .ok_or(ApiError::InvalidClientTokenId)?;
                if !keyring::token_matches(token.expose(), &session.token_sha256) {
                    return Err(ApiError::InvalidClientTokenId);
                }
                if session.expired(now.timestamp()) {
                    return Err(ApiError::ExpiredToken);
                }
                let principal = Principal::for_role_session(
                    store,
                    &account,
                    &session.role,
                    &session.session_name,
                )?;
                Ok(Authenticated {
                    caller: Caller::AssumedRole(Box::new(principal)),
                    facts: facts(Some(session.mfa_time)),
                    user: None,
                })
            }
            Credential::Host(host) => {
                // A host key is long-term: no session token. Its profile
                // holding no role is a revoked host, refused as an unknown
                // key (AWS's answer for credentials that stand for nothing).
                if claim.security_token.is_some() {
                    return Err(ApiError::InvalidClientTokenId);
                }
                let role = host.role.ok_or(ApiError::InvalidClientTokenId)?;
                let principal = Principal::for_role_session(
                    store,
                    &account,
                    &role,
                    &host.hostname.session_name()?,
                )?;
                Ok(Authenticated {
                    caller: Caller::AssumedRole(Box::new(principal)),
                    facts: facts(Some(None)),
                    user: None,
                })
            }
        }
    }
}

/// The most request-parameter JSON one event records, in bytes.
const MAX_RECORDED_PARAMETERS: usize = 16 * 1024;

impl CallRecord {
    /// `None` for root, which never calls the API.
    fn of(who: &Authenticated, action: &str, parameters: serde_json::Value) -> Option<Self> {
        // An event is a record, not a copy of the request: a call's
        // parameters past MAX_RECORDED_PARAMETERS (a simulated policy of a
        // megabyte) are recorded as truncated, as CloudTrail truncates.
        let parameters = if parameters.to_string().len() > MAX_RECORDED_PARAMETERS {
            serde_json::json!({"truncated": true})
        } else {
            parameters
        };
        Some(Self {
            identity: UserIdentity::of_principal(who.caller.principal()?),
            facts: who.facts.clone(),
            action: action.to_owned(),
            parameters,
        })
    }
}

/// A JSON protocol body's top-level members as CloudTrail records them
/// (`LookupAttributes` → `lookupAttributes`).
fn camel_case(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(mut k, v)| {
                if let Some(first) = k.get_mut(..1) {
                    first.make_ascii_lowercase();
                }
                (k, v)
            })
            .collect(),
        _ => serde_json::Value::Null,
    }
}

/// AWS's request ids are UUIDs.
pub fn new_request_id() -> String {
    let mut b = [0u8; 16];
    // Only for matching a call with its log line and event: no secrecy
    // needed, and the kernel's generator does not fail once the system is up.
    let _ = getrandom::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
