//! One iamctl call: the host config, the open store, who is calling, the
//! clock, and the three things every verb does around its store call —
//! authorize, audit, republish the Linux accounts.

use crate::cli::Output;
use crate::error::CliError;
use crate::input::{ParamFiles, Secrets};
use crate::setuid::Invoker;
use chrono::{DateTime, Utc};
use iam::audit::{
    AuditEvent, AuditEventBuilder, AuditLog, DecidingStatement, EventSource, UserIdentity,
};
use iam::config::HostConfig;
use iam::local_accounts::LocalAccounts;
use iam::names::{AccountId, IamPath, UserName, root_arn, user_arn};
use iam::policy::{Context, Decision, NotAuthorized, Request, authorize, explain};
use iam::principal::Principal;
use iam::request::{ApiFacts, CallerFacts, LoginFacts};
use iam::store::{Limits, Store, StoreError};
use serde_json::{Value, json};
use std::path::Path;

/// Who is making the call.
pub enum Caller {
    /// Real uid 0: the account's root user; everything is allowed.
    Root,
    /// The IAM user named like the caller's Linux login.
    User(Box<Principal>),
    /// A process inside a role session (`iamctl assume-role`), whatever its
    /// uid (often 0): the assumed role, decided by the role's policies.
    AssumedRole(Box<Principal>),
}

impl Caller {
    /// The principal whose policies decide the call; `None` for root.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Self::Root => None,
            Self::User(p) | Self::AssumedRole(p) => Some(p),
        }
    }
}

/// Where a call comes from, which decides what it may touch besides the
/// directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `iamctl` on a host: reads `file://` arguments with its caller's
    /// rights, republishes the host's Linux accounts after a change.
    Host,
    /// A request to iam-server: everything comes in the request; no file is
    /// read and no Linux account published (the server is not a host).
    Api,
}

pub struct Ctx {
    pub origin: Origin,
    /// On iam-server, the settings a host would take from iam.toml (audit
    /// log, lockout, TOTP window), made from server.toml.
    pub config: HostConfig,
    pub account: AccountId,
    pub store: Store,
    pub caller: Caller,
    pub now: DateTime<Utc>,
    /// The AWS operation, e.g. `CreateUser` (action `iam:CreateUser`).
    pub operation: String,
    pub output: Output,
    pub secrets: Secrets,
    /// What the caller's login session (iamctl) or signed request
    /// (iam-server) adds to every request: MFA, source IP.
    pub facts: CallerFacts,
    /// What a successful call has to say besides its output (the findings
    /// of a policy it wrote): iamctl prints them on stderr after dropping
    /// privileges; iam-server has no place for them in AWS's responses.
    pub warnings: Vec<String>,
}

impl Ctx {
    /// Steps 4–5 of the setuid pipeline: open config (trusted path only for
    /// non-root) and store, then establish who is calling.
    pub fn open(
        invoker: Invoker,
        config_path: &Path,
        operation: String,
        output: Output,
    ) -> Result<Self, CliError> {
        let config = HostConfig::load(config_path)
            .map_err(|e| CliError::new("ServiceFailure", e.to_string()))?;
        let account = AccountId::parse(&config.account_id)?;
        let mut store = Store::open(&config.database)?;
        store.set_limits(Limits {
            uid_range: config.accounts.uid_range,
            ..store.limits()
        });
        // Names and ids of this host's accounts: no IAM user or group may
        // be created or renamed to shadow one (issue 11 item 4).
        store.set_local_accounts(host_accounts()?);
        let now = Utc::now();
        let mut login_user = None;
        // A role session first: inside one the caller is the assumed role,
        // even as uid 0 (sessions run as root by default). Found by cgroup
        // or supervisor ancestry, never by the environment.
        let session =
            crate::procs::session_principal(&store, &account, &invoker.caller_process(), now)?;
        let caller = if let Some((session, principal)) = session {
            login_user = Some(session.user.to_string());
            Caller::AssumedRole(Box::new(principal))
        } else if invoker.is_root() {
            Caller::Root
        } else {
            // Identified by the uid the directory allocated, never by a
            // login name: a local account named like an IAM user is not
            // that user (docs/SECURITY.md, "local accounts").
            let uid = invoker.uid.as_raw();
            // The login name only says who was refused.
            let login = nix::unistd::User::from_uid(invoker.uid)
                .ok()
                .flatten()
                .map_or_else(
                    || format!("uid {uid}"),
                    |u| format!("{} (uid {uid})", u.name),
                );
            let not_iam = || {
                CliError::new(
                    "AccessDenied",
                    format!("The Linux user {login} is not an IAM user of account {account}."),
                )
            };
            let user = match store.find_user_by_uid(uid)? {
                // A user that collides with a local account is not
                // published, and is nobody here (docs/SECURITY.md).
                Some(user)
                    if store
                        .local_accounts()
                        .collision(user.name.as_str(), uid)
                        .is_none() =>
                {
                    user
                }
                _ => {
                    let event = AuditEvent::builder(
                        EventSource::Iam,
                        &operation,
                        UserIdentity::unknown(&login),
                        &config.hostname,
                        now,
                    )
                    .error("AccessDenied", &not_iam().message);
                    let event = AuditLog::new(&config.audit_log).write(event);
                    if let Err(e) = event {
                        crate::say!("warning: audit event not written: {e}");
                    }
                    return Err(not_iam());
                }
            };
            let principal = Principal::for_user(&store, &account, &user.name)?;
            login_user = Some(principal.name.clone());
            Caller::User(Box::new(principal))
        };
        // A role session's login facts are those of the user who started
        // it: its login session is an ancestor of the session's processes.
        let login = match &login_user {
            Some(user) => crate::procs::login_facts_of_process(&store, user, std::process::id())?,
            None => LoginFacts::default(),
        };
        let ctx = Self {
            origin: Origin::Host,
            facts: CallerFacts::Login(login),
            warnings: Vec::new(),
            config,
            account,
            store,
            caller,
            now,
            operation,
            output,
            secrets: Secrets::prompt(),
        };
        // Events a caller killed after its commit left undelivered.
        ctx.deliver_audit();
        Ok(ctx)
    }

    /// A call to iam-server by an authenticated `caller`.
    #[allow(clippy::too_many_arguments)]
    pub fn for_api(
        config: HostConfig,
        store: Store,
        caller: Caller,
        operation: String,
        secrets: Secrets,
        facts: ApiFacts,
        now: DateTime<Utc>,
    ) -> Self {
        let mut store = store;
        // As `Ctx::open`: the configured id range (iam-server's server.toml).
        store.set_limits(Limits {
            uid_range: config.accounts.uid_range,
            ..store.limits()
        });
        Self {
            origin: Origin::Api,
            account: store.account_id().clone(),
            config,
            store,
            caller,
            now,
            operation,
            output: Output::Json,
            secrets,
            facts: CallerFacts::Api(facts),
            warnings: Vec::new(),
        }
    }

    /// Whether `file://` arguments are read (see [`Origin`]).
    pub fn param_files(&self) -> ParamFiles {
        match self.origin {
            Origin::Host => ParamFiles::Read,
            Origin::Api => ParamFiles::Literal,
        }
    }

    /// A document argument (policy, trust policy) as text.
    pub fn document(&self, arg: &str) -> Result<String, CliError> {
        crate::input::document(arg, self.param_files())
    }

    /// Keeps the validation findings of `document`, a policy of `kind`
    /// this call writes, for [`Ctx::warnings`] (on a host: AWS's API
    /// responses have no place for them, so iam-server skips the work).
    pub fn note_findings(&mut self, document: &str, kind: iam::policy::PolicyKind) {
        if self.origin == Origin::Host {
            self.warnings
                .extend(crate::analyzer::warning_lines(document, kind));
        }
    }

    /// The caller's login session (iamctl on a host); none for a request
    /// to iam-server.
    pub fn login(&self) -> Option<&LoginFacts> {
        match &self.facts {
            CallerFacts::Login(login) => Some(login),
            CallerFacts::Api(_) => None,
        }
    }

    pub fn caller_arn(&self) -> String {
        match self.caller.principal() {
            None => root_arn(&self.account),
            Some(principal) => principal.arn.clone(),
        }
    }

    /// The request context of the calling user or role session: its
    /// principal keys, the time, and what its login session says.
    pub fn request_context(&self) -> Option<Context> {
        let principal = self.caller.principal()?;
        Some(iam::request::caller_context(
            principal,
            self.now,
            &self.facts,
        ))
    }

    /// The caller's IAM user name, if it is an IAM user.
    pub fn caller_user(&self) -> Option<UserName> {
        match &self.caller {
            Caller::User(principal) => UserName::parse(&principal.name).ok(),
            Caller::Root | Caller::AssumedRole(_) => None,
        }
    }

    /// The ARN of user `name` as stored, or with path `/` if unknown (so an
    /// unauthorized caller learns nothing about which users exist).
    pub fn user_arn(&self, name: &UserName) -> String {
        match self.store.find_user(name) {
            Ok(Some(u)) => u.arn,
            _ => user_arn(&self.account, &IamPath::root(), name),
        }
    }

    /// What the engine says of `action` on `resource` for the caller, with
    /// nothing audited (root: allowed).
    pub fn decision(&self, action: &str, resource: &str) -> Decision {
        match (self.caller.principal(), self.request_context()) {
            (Some(principal), Some(context)) => {
                principal.authorize(action, resource, &context).decision
            }
            _ => Decision::Allowed,
        }
    }

    /// The tags of the user or role `resource` names (`aws:ResourceTag/K`
    /// of a call on it, as AWS sets them); none for other resources.
    fn resource_tags(&self, resource: &str) -> Vec<iam::names::Tag> {
        // An enrolled host's tags are its instance profile's (a host's
        // own iam.toml `[host_tags]` decide its logins, not the directory).
        let host = iam::names::host_arn(&self.account, "");
        if let Some(name) = resource.strip_prefix(host.as_str()) {
            return iam::names::HostName::parse(name)
                .ok()
                .and_then(|h| self.store.get_host(&h).ok())
                .map(|h| h.instance_profile.tags)
                .unwrap_or_default();
        }
        let Ok(arn) = iam::names::IamArn::parse("Resource", resource) else {
            return Vec::new();
        };
        let found = match arn.resource_type.as_str() {
            "user" => iam::names::UserName::parse(&arn.name)
                .ok()
                .and_then(|n| self.store.find_user(&n).ok().flatten())
                .filter(|u| u.arn == resource)
                .map(|u| u.tags),
            "role" => iam::names::RoleName::parse(&arn.name)
                .ok()
                .and_then(|n| self.store.get_role(&n).ok())
                .filter(|r| r.arn == resource)
                .map(|r| r.tags),
            "instance-profile" => iam::names::InstanceProfileName::parse(&arn.name)
                .ok()
                .and_then(|n| self.store.get_instance_profile(&n).ok())
                .filter(|p| p.arn == resource)
                .map(|p| p.tags),
            _ => None,
        };
        found.unwrap_or_default()
    }

    /// For verbs only the account's root user (real uid 0) may run; anyone
    /// else is refused, and the refusal audited.
    pub fn require_root(&self, why: &str) -> Result<(), CliError> {
        if matches!(self.caller, Caller::Root) {
            return Ok(());
        }
        let message = format!(
            "{} is for the account's root user (uid 0) only: {why}",
            self.operation
        );
        self.audit(json!({}), Some(("AccessDenied", &message)), &[]);
        Err(CliError::new("AccessDenied", message))
    }

    /// Authorizes `iam:<Operation>` on `resource`.
    pub fn authorize(&self, resource: &str) -> Result<(), CliError> {
        self.authorize_with(&format!("iam:{}", self.operation), resource, |_| {})
    }

    /// Authorizes `action` on `resource` with extra context keys (e.g.
    /// `iam:PolicyARN`). Root is always allowed; a denial is audited and
    /// reported in AWS's words.
    pub fn authorize_with(
        &self,
        action: &str,
        resource: &str,
        extra: impl FnOnce(&mut Context),
    ) -> Result<(), CliError> {
        let (Some(principal), Some(mut context)) =
            (self.caller.principal(), self.request_context())
        else {
            return Ok(());
        };
        extra(&mut context);
        iam::request::set_resource_tags(&mut context, &self.resource_tags(resource));
        let request = Request {
            principal: &principal.arn,
            action,
            resource,
            context: &context,
        };
        let response = authorize(&request, &principal.policies);
        // `None` exactly when the engine allowed the request.
        let Some(why) = explain(&request, &principal.policies, &response) else {
            return Ok(());
        };
        let message = NotAuthorized::of(&request, &why).to_string();
        let deciding = iam::audit::deciding_statements(&response);
        self.audit(
            json!({"action": action, "resource": resource}),
            Some(("AccessDenied", &message)),
            &deciding,
        );
        Err(CliError::new("AccessDenied", message))
    }

    /// Makes one change and records its audit event (request parameters
    /// made from the change's result) in the same store transaction, so a
    /// change never commits without its event, wherever the caller is
    /// killed. On a host the event is queued in the outbox, then delivered
    /// to the audit log; iam-server's events table is in the directory
    /// itself, so there the event is stored at once.
    pub fn commit<T>(
        &self,
        request_parameters: impl FnOnce(&T) -> Value,
        change: impl FnOnce(&Store) -> Result<T, StoreError>,
    ) -> Result<T, CliError> {
        if self.origin == Origin::Host && self.store.replica_change_no()?.is_some() {
            return Err(CliError::new(
                "ReplicaReadOnly",
                "this host's directory is a replica of the fleet's iam-server (iam-agent keeps it; see /etc/iam/agent.toml): make the change there, e.g. `aws --endpoint-url https://SERVER iam …`",
            ));
        }
        let value = self.store.atomically(|store| {
            let value = change(store)?;
            let event = self
                .event(request_parameters(&value), None, &[])
                .build()
                .map_err(|e| StoreError::Audit(e.to_string()))?;
            match self.origin {
                Origin::Host => iam::audit::queue(&store.ledger(), &event)?,
                Origin::Api => store.record_event(&event)?,
            }
            Ok(value)
        })?;
        if self.origin == Origin::Host {
            self.deliver_audit();
        }
        Ok(value)
    }

    /// Delivers queued audit events (this call's, and any a killed caller
    /// left behind) to the audit log.
    pub fn deliver_audit(&self) {
        // iam-server keeps its events in the directory's events table.
        let delivered = match self.origin {
            Origin::Host => AuditLog::new(&self.config.audit_log)
                .deliver_queued(&self.store.ledger())
                .map(drop)
                .map_err(|e| e.to_string()),
            Origin::Api => self
                .store
                .deliver_queued_events()
                .map(drop)
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = delivered {
            crate::say!("warning: audit events not yet delivered: {e}");
        }
        // What a change queued for the directory of record (a TOTP step at
        // enable-mfa-device, a failure count), handed on.
        if let Err(e) = iam::ledger::drain(&self.store) {
            crate::say!("warning: the ledger's outbox is not drained: {e}");
        }
    }

    /// Record a refused call: the AWS error code, and why (for the audit
    /// log; never a secret).
    pub fn audit_refused(&self, request_parameters: Value, code: &str, reason: &str) {
        self.audit(request_parameters, Some((code, reason)), &[]);
    }

    /// Audits a refusal: nothing changed, so there is no transaction to
    /// join and the event goes straight to the log.
    fn audit(
        &self,
        request_parameters: Value,
        error: Option<(&str, &str)>,
        deciding: &[DecidingStatement],
    ) {
        let event = self.event(request_parameters, error, deciding);
        let written = match self.origin {
            Origin::Host => AuditLog::new(&self.config.audit_log)
                .write(event)
                .map_err(|e| e.to_string()),
            Origin::Api => event
                .build()
                .map_err(|e| e.to_string())
                .and_then(|e| self.store.record_event(&e).map_err(|e| e.to_string())),
        };
        if let Err(e) = written {
            crate::say!("warning: audit event not written: {e}");
        }
    }

    /// This call's event: the caller, the operation, what was asked, and
    /// how it was refused.
    fn event(
        &self,
        request_parameters: Value,
        error: Option<(&str, &str)>,
        deciding: &[DecidingStatement],
    ) -> AuditEventBuilder {
        let identity = match self.caller.principal() {
            None => UserIdentity::root(self.account.as_str()),
            Some(principal) => UserIdentity::of_principal(principal),
        };
        let event = match &self.facts {
            CallerFacts::Api(api) => AuditEvent::api(
                api,
                &self.operation,
                identity,
                &self.config.hostname,
                self.now,
                request_parameters,
            ),
            CallerFacts::Login(_) => AuditEvent::iamctl(
                EventSource::Iam,
                &self.operation,
                identity,
                &self.config.hostname,
                self.now,
                request_parameters,
            ),
        };
        event.error_if(error).decided_by_all(deciding)
    }

    /// Rewrite `user`'s file of sshd's authorized keys after a change to
    /// its keys.
    pub fn publish_ssh_keys_of(&self, user: &UserName) -> Result<(), CliError> {
        let dir = &self.config.accounts.authorized_keys_dir;
        if self.origin == Origin::Api || !dir.is_dir() {
            return Ok(());
        }
        iam::publish::ssh_keys::sync_user_ssh_keys(&self.store, &host_accounts()?, dir, user)
            .map(drop)
            .map_err(ssh_keys_failure)
    }

    /// Rewrite the extrausers passwd/group files and sshd's authorized
    /// keys after an account change.
    pub fn publish_accounts(&self) -> Result<(), CliError> {
        if self.origin == Origin::Api {
            return Ok(());
        }
        publish_accounts(&self.config, &self.store)
    }
}

/// Publish the host's projections ([`iam::publish::publish_host`]),
/// saying what was not published.
pub fn publish_accounts(config: &HostConfig, store: &Store) -> Result<(), CliError> {
    let warnings = iam::publish::publish_host(config, store)
        .map_err(|e| CliError::new("ServiceFailure", e.to_string()))?;
    for warning in warnings {
        crate::say!("warning: {warning}");
    }
    Ok(())
}

/// Publish IAM users' active SSH public keys for sshd, into the config's
/// `authorized_keys_dir` once `setup-host --ssh` has made it (until then
/// sshd is not set up to read it).
pub fn publish_ssh_keys(
    config: &HostConfig,
    store: &Store,
    local: &LocalAccounts,
    compare: iam::publish::ssh_keys::Compare,
) -> Result<(), CliError> {
    let dir = &config.accounts.authorized_keys_dir;
    if !dir.is_dir() {
        return Ok(());
    }
    iam::publish::ssh_keys::sync_ssh_keys(store, local, dir, compare)
        .map(drop)
        .map_err(ssh_keys_failure)
}

fn ssh_keys_failure(e: iam::publish::ssh_keys::SshKeysError) -> CliError {
    CliError::new(
        "ServiceFailure",
        format!("cannot publish SSH public keys: {e}"),
    )
}

/// This host's `/etc/passwd` and `/etc/group`; unreadable fails the call
/// (no collision could be ruled out).
fn host_accounts() -> Result<LocalAccounts, CliError> {
    LocalAccounts::read_host().map_err(|e| CliError::new("ServiceFailure", e.to_string()))
}
