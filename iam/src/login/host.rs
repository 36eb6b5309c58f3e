//! The host as one PAM call sees it: config, store, audit log, syslog.

use chrono::{DateTime, Utc};

use super::*;
use crate::audit::{AuditEvent, AuditLog, DecidingStatement, PamEvent, PamOrigin, UserIdentity};
use crate::config::{HostConfig, UnknownUser};
use crate::directory::Directory;
use crate::ledger::{HostStore, Ledger};
use crate::local_accounts::{Collision, LocalAccounts};
use crate::names::UserName;
use crate::recovery_codes::RecoveryCodes;
use crate::store::{
    AccessKeyStatus, AttemptResult, AuthState, LoginProfile, MfaDevice, Settled, StoreError, User,
};

/// What `authenticate` needs to know about a known user.
pub(super) struct Credentials {
    pub(super) user: User,
    pub(super) profile: Option<LoginProfile>,
    /// The enabled MFA devices (AWS allows eight per user): a code of any
    /// of them passes.
    pub(super) devices: Vec<MfaDevice>,
    /// The recovery codes, which stand in for a device's code.
    pub(super) recovery: Option<RecoveryCodes>,
}

impl Credentials {
    pub(super) fn identity(&self, host: &Host) -> UserIdentity {
        UserIdentity::iam_user(host.account_id(), &self.user.arn, self.user.name.as_str())
    }
}

/// Where every stage starts ([`Host::begin`]): the host, the PAM user's
/// name, where the login comes from, and the IAM user (`U`: an
/// `Option<User>` until [`Begun::known`]).
pub(super) struct Begun<U> {
    pub(super) host: Host,
    pub(super) name: String,
    pub(super) origin: Origin,
    pub(super) user: U,
}

/// What a stage does with a name that is no IAM user here and not left to
/// the rest of the stack ([`Host::ignores`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum OnUnknown {
    /// Refused and audited (account and session stages, chauthtok).
    Refuse(DateTime<Utc>),
    /// Refused without an event (setcred).
    RefuseQuietly,
}

impl<U> Begun<U> {
    pub(super) fn into_parts(self) -> (Host, String, Origin, U) {
        (self.host, self.name, self.origin, self.user)
    }
}

impl Begun<Option<User>> {
    /// The prologue of the stages that need a known user: an unknown one
    /// ends the stage with [`Outcome::Ignore`] or [`Outcome::UserUnknown`].
    pub(super) fn known(
        self,
        conv: &mut dyn Conversation,
        on_unknown: OnUnknown,
    ) -> Result<Begun<User>, Outcome> {
        let Begun {
            host,
            name,
            origin,
            user,
        } = self;
        match (user, on_unknown) {
            (Some(user), _) => Ok(Begun {
                host,
                name,
                origin,
                user,
            }),
            (None, OnUnknown::Refuse(now)) => Err(host.unknown_user(conv, &name, &origin, now)),
            (None, OnUnknown::RefuseQuietly) => Err(match host.ignores() {
                true => Outcome::Ignore,
                false => Outcome::UserUnknown,
            }),
        }
    }
}

/// The host as one PAM call sees it: config, store and audit log, opened for
/// this call only (a PAM handle may live for days inside sshd). The store
/// is held as a [`HostStore`]: the directory to read, the ledger to write;
/// no directory write is reachable from login code (docs/ARCHITECTURE.md).
pub(super) struct Host {
    pub(super) config: HostConfig,
    pub(super) db: HostStore,
    pub(super) audit: AuditLog,
    pub(super) debug: bool,
}

impl Host {
    /// Fails closed (logged to syslog) when the config or store is missing,
    /// corrupt or not trusted (`crate::trust`: `HostConfig::load` and
    /// `Store::open` check; the audit log is checked at each append).
    pub(super) fn open(options: &Options) -> Result<Self, Outcome> {
        let config = HostConfig::load(&options.config).map_err(|e| {
            syslog(LOG_ERR, &format!("refusing to run: {e}"));
            Outcome::Unavailable
        })?;
        let db = HostStore::open(&config.database).map_err(|e| {
            syslog(LOG_ERR, &format!("refusing to run: store: {e}"));
            Outcome::Unavailable
        })?;
        let audit = AuditLog::new(config.audit_log.clone());
        Ok(Self {
            config,
            db,
            audit,
            debug: options.debug,
        })
    }

    /// The directory, read-only.
    pub(super) fn directory(&self) -> &dyn Directory {
        self.db.directory()
    }

    /// Hands what this call queued for the directory of record on
    /// ([`crate::ledger::drain`]); a failure leaves it queued for the next
    /// call and changes no outcome.
    pub(super) fn drain(&self) {
        if let Err(e) = self.db.drain() {
            self.report(&format!("cannot drain the ledger's outbox: {e}"));
        }
    }

    /// The prologue of every stage: open the host, ask the PAM user, read
    /// the origin, look the user up (`None`: no IAM user here).
    pub(super) fn begin(
        conv: &mut dyn Conversation,
        options: &Options,
    ) -> Result<Begun<Option<User>>, Outcome> {
        let name = conv.user().map_err(|_| Outcome::ConversationFailed)?;
        Self::begin_as(conv, options, name, LocalAccounts::read_host().ok())
    }

    /// [`Self::begin`] for `name`, given the local accounts (`None`: they
    /// could not be read).
    pub(super) fn begin_as(
        conv: &mut dyn Conversation,
        options: &Options,
        name: String,
        local: Option<LocalAccounts>,
    ) -> Result<Begun<Option<User>>, Outcome> {
        // Root and every /etc/passwd account are left to the rest of the
        // stack before pam_iam reads anything of its own: a broken config
        // or store can never lock them out, with or without a
        // pam_localuser guard (the packaged profile has none in auth).
        // Unreadable local accounts: root still is; anyone else is decided
        // by the directory below.
        let local_account = match &local {
            Some(local) => is_local_account(local, &name),
            None => name == "root",
        };
        if local_account {
            if options.debug {
                syslog(LOG_DEBUG, &format!("{name:?} is a local account; ignored"));
            }
            return Err(Outcome::Ignore);
        }
        let host = Self::open(options)?;
        let origin = Origin::of(conv);
        let user = host.user(&name, local.as_ref())?;
        if user.is_none() && local.is_none() {
            // Perhaps a local account: never ours to refuse.
            return Err(Outcome::Ignore);
        }
        Ok(Begun {
            host,
            name,
            origin,
            user,
        })
    }

    /// [`Self::begin`] then [`Begun::known`] with an audited refusal: the
    /// prologue of acct_mgmt, open/close_session and chauthtok.
    pub(super) fn begin_known(
        conv: &mut dyn Conversation,
        options: &Options,
        now: DateTime<Utc>,
    ) -> Result<Begun<User>, Outcome> {
        Self::begin(conv, options)?.known(conv, OnUnknown::Refuse(now))
    }

    pub(super) fn account_id(&self) -> &str {
        &self.config.account_id
    }

    /// The IAM user named like the PAM user; `None` if there is none (a name
    /// that is not even a valid IAM name is simply unknown).
    /// An IAM user that collides with a local account is nobody here; when
    /// the local accounts could not be read (`None`), a known IAM user
    /// fails closed.
    pub(super) fn user(
        &self,
        name: &str,
        local: Option<&LocalAccounts>,
    ) -> Result<Option<User>, Outcome> {
        let Ok(name) = UserName::parse(name) else {
            return Ok(None);
        };
        let user = self.directory().find_user(&name).map_err(|e| {
            self.report(&format!("cannot look up user {name}: {e}"));
            Outcome::Unavailable
        })?;
        let Some(user) = user else { return Ok(None) };
        // An IAM user that shadows a local account is not published and is
        // nobody here: the PAM user is the local account, whatever stack
        // (with or without the pam_localuser guard) led here.
        let Some(local) = local else {
            self.report(&format!(
                "cannot read the local accounts; refusing IAM user {name}"
            ));
            return Err(Outcome::Unavailable);
        };
        if let Some(collision) = local.collision(user.name.as_str(), user.uid) {
            self.debug(&format!(
                "{name}: IAM user {} collides with {collision}; not an IAM user here",
                user.name
            ));
            return Ok(None);
        }
        Ok(Some(user))
    }

    /// What `authenticate` reads before the prompts. Not the lock state:
    /// that is decided after them, where the result is recorded.
    pub(super) fn credentials(&self, user: User) -> Result<Credentials, Outcome> {
        let failed = |what: &str, e: StoreError| {
            self.report(&format!("cannot read the {what} of {}: {e}", user.name));
            Outcome::Unavailable
        };
        let profile = match self.directory().get_login_profile(&user.name) {
            Ok(profile) => Some(profile),
            Err(StoreError::NoSuchEntity { .. }) => None,
            Err(e) => return Err(failed("login profile", e)),
        };
        let devices = self
            .directory()
            .list_mfa_devices(&user.name)
            .map_err(|e| failed("MFA devices", e))?;
        let recovery = self
            .directory()
            .recovery_codes(&user.name)
            .map_err(|e| failed("recovery codes", e))?;
        Ok(Credentials {
            user,
            profile,
            devices,
            recovery,
        })
    }

    /// Decides one step of `attempt` through the lockout rule
    /// ([`Ledger::settle_attempt`], under the user's name or
    /// [`UNKNOWN_USERS`]) and writes the attempt's row, in one transaction.
    /// `check` runs inside it only when the user is not locked:
    /// `Ok(mfa_time)` passes, `Err(failure)` fails. `complete`: the last
    /// step (the row becomes `authenticated` or `failed`; a pass forgets the
    /// user's failures); otherwise the row stays `pending` whatever
    /// happened. A failure is audited at once. `Ok(true)`: passed.
    pub(super) fn settle(
        &self,
        attempt: &mut Attempt,
        complete: bool,
        now: DateTime<Utc>,
        check: impl FnOnce(&Ledger<'_>) -> Result<Result<Option<i64>, Failure>, StoreError>,
    ) -> Result<bool, Outcome> {
        let rule = crate::factors::lockout_rule(&self.config.lockout);
        let mut failure = None;
        let record = &mut attempt.record;
        let settled = self.db.ledger().atomically(|ledger| {
            let mut mfa_time = None;
            let settled = ledger.settle_attempt(&record.user, &rule, now, |ledger| {
                Ok(match check(ledger)? {
                    Ok(at) => {
                        mfa_time = at;
                        AttemptResult::Pass { reset: complete }
                    }
                    Err(f) => {
                        failure = Some(f);
                        AttemptResult::Fail { count: f.counts() }
                    }
                })
            })?;
            record.state = match (complete, settled) {
                (false, _) => AuthState::Pending,
                (true, Settled::Passed) => AuthState::Authenticated,
                (true, _) => AuthState::Failed,
            };
            if settled == Settled::Passed {
                record.mfa_time = mfa_time;
            }
            ledger.put_auth_record(record)?;
            // What this step queued (a TOTP step, a failure count) is
            // drained in the same transaction: on a single host no second
            // commit per login; a failed drain rolls back to its savepoint
            // and leaves the entries queued for the next one.
            self.drain();
            Ok(settled)
        });
        let reason = match settled {
            Ok(Settled::Passed) => return Ok(true),
            Ok(Settled::Failed { counted, state }) => {
                let reason = failure.map_or("failed", Failure::reason);
                match counted && state.locked {
                    true => format!("{reason}; user now locked out"),
                    false => reason.to_owned(),
                }
            }
            Ok(Settled::Locked(_)) => "user is locked out".to_owned(),
            Err(e) => {
                // Nothing was recorded, a failure not counted: fail closed.
                self.report(&format!(
                    "authenticate: cannot record the attempt of {}: {e}",
                    attempt.record.user
                ));
                return Err(Outcome::Unavailable);
            }
        };
        let failed = PamEvent::AuthenticationFailed { reason: &reason };
        self.audit(failed, &attempt.identity, &attempt.origin, now);
        Ok(false)
    }

    /// The last step of an attempt refused at its first: its row becomes
    /// `failed`. One write, as every attempt's last step is.
    pub(super) fn close_refused(&self, attempt: &mut Attempt) -> Result<(), Outcome> {
        attempt.record.state = AuthState::Failed;
        match self.db.ledger().put_auth_record(&attempt.record) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.report(&format!(
                    "authenticate: cannot record the attempt of {}: {e}",
                    attempt.record.user
                ));
                Err(Outcome::Unavailable)
            }
        }
    }

    /// The record whose id this login's `authenticate` handed on (none
    /// after a publickey-only login: no id): when it passed its MFA check,
    /// whether a password was asked. `acct_mgmt` uses the record up;
    /// `open_session` removes it.
    pub(super) fn auth_record(
        &self,
        conv: &dyn Conversation,
        user: &User,
        origin: &Origin,
        stage: Stage,
        now: DateTime<Utc>,
    ) -> Result<Option<AuthRecord>, Outcome> {
        let Some(id) = handed_on_auth_id(conv) else {
            return Ok(None);
        };
        let (name, service, rhost) = (user.name.as_str(), &origin.service, origin.rhost_key());
        let record = match stage {
            Stage::Account => self
                .db
                .ledger()
                .consume_auth_record(&id, name, service, rhost, now),
            Stage::Session => self
                .db
                .ledger()
                .take_auth_record(&id, name, service, rhost, now),
        };
        match record {
            Ok(record) => Ok(record),
            Err(e) => {
                self.report(&format!(
                    "cannot read the authentication record of {}: {e}",
                    user.name
                ));
                Err(Outcome::Unavailable)
            }
        }
    }

    /// What sshd says of this login ([`SshAuth`]) with the
    /// authentication `record`: how it got in ([`how_in`]) and the
    /// keys sshd accepted, each of which must be an active IAM key of
    /// `user`, or the stage refuses (audited). Keys are directory data,
    /// read here rather than trusted from the file sshd read, so a key made
    /// inactive or deleted (or one the user put in `~/.ssh/authorized_keys`
    /// itself) opens nothing.
    pub(super) fn key_login(
        &self,
        conv: &mut dyn Conversation,
        user: &User,
        identity: &UserIdentity,
        origin: &Origin,
        record: Option<&AuthRecord>,
        now: DateTime<Utc>,
    ) -> Result<KeyLogin, Outcome> {
        let ssh = SshAuth::of(conv);
        let mut keys = Vec::new();
        for body in &ssh.public_keys {
            let refusal = match self.directory().find_ssh_public_key(&user.name, body) {
                Ok(Some(key)) if key.status == AccessKeyStatus::Active => {
                    keys.push(key);
                    continue;
                }
                Ok(Some(key)) => KeyRefusal::Inactive(key),
                Ok(None) => KeyRefusal::NotIam,
                Err(e) => {
                    self.report(&format!(
                        "cannot read the SSH public keys of {}: {e}",
                        user.name
                    ));
                    return Err(Outcome::Unavailable);
                }
            };
            self.login_denied(conv, identity, origin, &refusal.reason(), &[], now);
            return Err(Outcome::PermissionDenied);
        }
        Ok(KeyLogin {
            how: how_in(&ssh, !keys.is_empty(), record),
            keys,
        })
    }

    pub(super) fn password_state(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<PasswordState, Outcome> {
        let profile = match self.directory().get_login_profile(&user.name) {
            Ok(profile) => profile,
            // Key-only users have no password to expire.
            Err(StoreError::NoSuchEntity { .. }) => return Ok(PasswordState::Current),
            Err(e) => {
                self.report(&format!(
                    "cannot read the login profile of {}: {e}",
                    user.name
                ));
                return Err(Outcome::Unavailable);
            }
        };
        match self.directory().get_password_policy() {
            Ok(policy) => Ok(password_state(&profile, &policy.unwrap_or_default(), now)),
            Err(e) => {
                self.report(&format!("cannot read the password policy: {e}"));
                Err(Outcome::Unavailable)
            }
        }
    }

    /// Whether a name that is no IAM user here is left to the rest of the
    /// stack, as `[login] unknown_user` says (local accounts never get this
    /// far: the prologue leaves them alone, [`is_local_account`]).
    pub(super) fn ignores(&self) -> bool {
        self.config.login.unknown_user == UnknownUser::Ignore
    }

    /// A user the directory does not know, at an account or session stage.
    pub(super) fn unknown_user(
        &self,
        conv: &mut dyn Conversation,
        name: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Outcome {
        match self.ignores() {
            true => {
                self.debug(&format!("{name:?} is not an IAM user; ignored"));
                Outcome::Ignore
            }
            false => {
                self.login_denied(
                    conv,
                    &UserIdentity::unknown(name),
                    origin,
                    "unknown user",
                    &[],
                    now,
                );
                Outcome::UserUnknown
            }
        }
    }

    /// Writes the audit event of `event` (a failure to write goes to
    /// syslog; the login goes on as decided).
    pub(super) fn audit(
        &self,
        event: PamEvent<'_>,
        identity: &UserIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) {
        let origin = PamOrigin {
            service: &origin.service,
            tty: origin.tty.as_deref(),
            rhost: origin.rhost.as_deref(),
        };
        let event = AuditEvent::pam(event, identity.clone(), &self.config.hostname, &origin, now);
        if let Err(e) = self.audit.write(event) {
            syslog(LOG_ERR, &format!("cannot write the audit log: {e}"));
        }
    }

    /// Queues `event` in the ledger's outbox, inside the transaction of the
    /// change it records; [`Self::deliver_audit`] writes it out after the
    /// commit.
    pub(super) fn queue_audit(
        &self,
        ledger: &Ledger<'_>,
        event: PamEvent<'_>,
        identity: &UserIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let origin = PamOrigin {
            service: &origin.service,
            tty: origin.tty.as_deref(),
            rhost: origin.rhost.as_deref(),
        };
        let event = AuditEvent::pam(event, identity.clone(), &self.config.hostname, &origin, now)
            .build()
            .map_err(|e| StoreError::Audit(e.to_string()))?;
        crate::audit::queue(ledger, &event)
    }

    /// Delivers the audit events queued in the ledger's outbox.
    pub(super) fn deliver_audit(&self) {
        if let Err(e) = self.audit.deliver_queued(&self.db.ledger()) {
            syslog(LOG_ERR, &format!("cannot write the audit log: {e}"));
        }
    }

    /// A refused login (account stage): the generic line to the user, the
    /// reason and deciding statements to the audit log.
    pub(super) fn login_denied(
        &self,
        conv: &mut dyn Conversation,
        identity: &UserIdentity,
        origin: &Origin,
        reason: &str,
        deciding: &[DecidingStatement],
        now: DateTime<Utc>,
    ) {
        conv.error(DENIED);
        self.audit(
            PamEvent::LoginDenied { reason, deciding },
            identity,
            origin,
            now,
        );
    }

    /// Something is wrong with the host (not the user): syslog it.
    pub(super) fn report(&self, message: &str) {
        syslog(LOG_ERR, message);
    }

    pub(super) fn debug(&self, message: &str) {
        if self.debug {
            syslog(LOG_DEBUG, message);
        }
    }
}

/// One line to syslog `authpriv`, tagged `pam_iam` (see [`crate::syslog`]:
/// dropped rather than waited on). Used for host problems before (or
/// instead of) the audit log.
pub(super) fn syslog(severity: crate::syslog::Severity, message: &str) {
    crate::syslog::send("pam_iam", severity, message);
}

pub(super) use crate::syslog::Severity::{Debug as LOG_DEBUG, Err as LOG_ERR};

/// Whether `name` is an account of `/etc/passwd`: root and its peers are
/// never ours to refuse, whatever `unknown_user` says.
fn is_local_account(local: &LocalAccounts, name: &str) -> bool {
    matches!(local.name_collision(name), Some(Collision::LocalUser(_)))
}
