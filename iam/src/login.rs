//! The login flow: what `pam_iam.so` does at each PAM stage.
//!
//! Written against the small [`Conversation`] trait (the PAM handle seen from
//! here) with the clock as a parameter, so every rule is tested without
//! libpam: unit tests drive it with a scripted conversation, real SQLite
//! stores and a fixed clock; the end-to-end tests drive the built module
//! through pamtester and sshd.
//!
//! Decisions a PAM administrator may want to know:
//! - Unknown users under `unknown_user = "ignore"` are not prompted at all
//!   (`PAM_IGNORE` at once), so pam_unix asks local users as usual. Under
//!   `"deny"` they get exactly the prompts, answers and argon2 work of a
//!   user with an MFA device.
//! - The prompts depend on the mode alone: in `password+totp` every user
//!   (with or without an MFA device, unknown, locked, disabled) is asked
//!   `Password: ` then `Verification code: `, so they tell a guesser
//!   nothing (not whether the password was right, not who exists or has a
//!   device). A combined `password123456` first answer still logs in; the
//!   second answer is then ignored (it may be empty), as is the code of a
//!   user without a device. The code is checked (its step taken) only after
//!   the password passed: a wrong password burns no code.
//! - Every wrong password counts, wherever it was typed and whether or not
//!   the conversation finishes: in `password+totp` it is counted and
//!   audited before the code prompt (a client that hangs up there has
//!   spent a guess); `chauthtok` and `iamctl change-password` count wrong
//!   current passwords under the same rule.
//! - A locked-out user (pam_faillock semantics) fails even with the right
//!   factors, with the answer a wrong password or an unknown user gets
//!   (`PAM_AUTH_ERR`); only the audit log says "locked".
//! - `authenticate` hands the id of its authentication record (random, 160
//!   bits) to the later stages of the same login only: in PAM module data
//!   and in the PAM environment (`IAM_AUTH_ID`, which sshd carries from its
//!   keyboard-interactive child to its monitor). `acct_mgmt` uses the
//!   record up; `open_session` takes its MFA time and removes the variable,
//!   so it never reaches the user's session. Another connection of the same
//!   user from the same address (NAT, bastion), say by publickey alone,
//!   has no id and gets no MFA credit.
//! - `chauthtok` asks `Current password: ` as pam_unix does, also on the
//!   expired-password path (sshd's `PAM_CHANGE_EXPIRED_AUTHTOK`); only root
//!   changing someone's password outside that path skips it.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::{
    AuditEvent, AuditEventBuilder, AuditLog, DecidingStatement, EventSource, UserIdentity,
};
use crate::config::{DEFAULT_CONFIG_PATH, HostConfig, UnknownUser};
use crate::names::UserName;
use crate::password::{self, PasswordPolicy};
use crate::policy::{Context, Decision, Effect, Response};
use crate::principal::Principal;
use crate::secret::SecretString;
use crate::store::{
    AttemptResult, AuthRecord, AuthState, LockoutRule, LoginProfile, LoginSession, MfaDevice,
    Settled, Store, StoreError, User, UserStatus,
};
use crate::totp;

/// What a PAM stage may ask of the application, and nothing more.
pub trait Conversation {
    /// `PAM_USER`, prompting for it if the application has not set it.
    fn user(&mut self) -> Result<String, ConversationError>;
    /// `PAM_SERVICE` (the name of the /etc/pam.d file).
    fn service(&self) -> Option<String>;
    /// `PAM_RHOST`: the remote host, absent on the console.
    fn rhost(&self) -> Option<String>;
    /// `PAM_TTY`.
    fn tty(&self) -> Option<String>;
    /// Asks for a secret without echo.
    fn prompt_secret(&mut self, prompt: &str) -> Result<SecretString, ConversationError>;
    /// Asks for a non-secret answer, echoed.
    fn prompt_visible(&mut self, prompt: &str) -> Result<String, ConversationError>;
    /// Tells the user something.
    fn info(&mut self, text: &str);
    /// Tells the user something went wrong.
    fn error(&mut self, text: &str);
    /// `PAM_AUTHTOK` as an earlier module in the stack left it
    /// (`use_first_pass`, `try_first_pass`).
    fn stacked_password(&mut self) -> Option<SecretString>;
    /// Leaves the password in `PAM_AUTHTOK` for later modules, as pam_unix does.
    fn set_stacked_password(&mut self, password: &SecretString);
    /// Module data of ours in this PAM handle (`pam_get_data`): seen by the
    /// later stages of this login in the same process only.
    fn data(&self, key: &str) -> Option<String>;
    /// Sets module data (`pam_set_data`).
    fn set_data(&mut self, key: &str, value: &str);
    /// A variable of the PAM environment (`pam_getenv`). sshd carries the
    /// PAM environment from its authentication child to its monitor, and
    /// from there into the user's session.
    fn env(&self, name: &str) -> Option<String>;
    /// Sets (`Some`) or removes (`None`) a PAM environment variable.
    fn set_env(&mut self, name: &str, value: Option<&str>);
}

/// The application could not ask or did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the PAM conversation failed")]
pub struct ConversationError;

/// Options from the module's line in /etc/pam.d.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `config=PATH`.
    pub config: PathBuf,
    pub mode: Mode,
    pub first_pass: FirstPass,
    /// `debug`: more detail (never a secret) to syslog.
    pub debug: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            config: PathBuf::from(DEFAULT_CONFIG_PATH),
            mode: Mode::PasswordTotp,
            first_pass: FirstPass::Prompt,
            debug: false,
        }
    }
}

/// Which factors `authenticate` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `mode=password+totp` (default): password, then a code (ignored for a
    /// user without an MFA device); `password123456` in one answer is
    /// accepted too, the second answer then ignored.
    PasswordTotp,
    /// `mode=totp`: only the code, as the second factor after an SSH key.
    Totp,
    /// `mode=password`: only the password.
    Password,
}

/// Whether to reuse the password an earlier module collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPass {
    /// Always ask.
    Prompt,
    /// `try_first_pass`: use `PAM_AUTHTOK` if set, else ask.
    Try,
    /// `use_first_pass`: use `PAM_AUTHTOK`, never ask.
    Use,
}

/// How a stage ended. `pam_iam` maps this to a PAM code in exactly one
/// place; only [`Outcome::Success`] becomes `PAM_SUCCESS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every check of this stage passed.
    Success,
    /// Not an IAM user and `unknown_user = "ignore"`: other modules decide.
    Ignore,
    /// Not an IAM user and `unknown_user = "deny"` (account stages; the
    /// authentication stage answers [`Outcome::AuthFailed`] so that unknown
    /// and known users look alike).
    UserUnknown,
    /// A factor was wrong, missing or replayed.
    AuthFailed,
    /// Config or store missing, corrupt or unsafe, or a bad module option:
    /// fail closed.
    Unavailable,
    /// The application's conversation failed.
    ConversationFailed,
    /// The user is disabled, or its password expired beyond self-service.
    AccountDisabled,
    /// Policy (or `require_mfa`) does not allow this login.
    PermissionDenied,
    /// The user's password must be changed before logging in.
    NewPasswordRequired,
    /// `chauthtok`: the new password was refused (policy, mismatch, reuse).
    PasswordRejected,
}

/// Where failures of names the directory does not know are counted (not a
/// valid IAM name, so no user can have it).
const UNKNOWN_USERS: &str = "(unknown users)";

/// The one line a refused user sees; the reason goes to the audit log.
pub const DENIED: &str = "Access denied";

/// TOTP codes are this many digits (the combined `password123456` answer).
const CODE_DIGITS: usize = 6;

/// The module data key that carries this login's authentication record id
/// from `authenticate` to the later stages in the same process.
pub const AUTH_ID_DATA: &str = "pam_iam_auth_id";
/// The PAM environment variable that carries it too: sshd runs
/// keyboard-interactive authentication (and `acct_mgmt`) in a child and
/// imports the child's PAM environment, not its module data, into the
/// monitor that opens the session.
pub const AUTH_ID_ENV: &str = "IAM_AUTH_ID";

const PASSWORD_PROMPT: &str = "Password: ";
const CODE_PROMPT: &str = "Verification code: ";
const CURRENT_PASSWORD_PROMPT: &str = "Current password: ";
const NEW_PASSWORD_PROMPT: &str = "New password: ";
const RETYPE_PASSWORD_PROMPT: &str = "Retype new password: ";

/// `pam_sm_authenticate`: asks for the factors `options.mode` requires and
/// checks them. The prompts depend on the mode only: in `password+totp`
/// every user (with or without a device, unknown, locked, disabled) is
/// asked `Password: ` then `Verification code: `. Known and unknown users
/// cost the same argon2 work and the same store writes; only the audit log
/// tells them apart.
///
/// The lockout rule decides in the write transaction that records each
/// step ([`Store::settle_attempt`]), after the prompts that step needed:
/// whatever the lock state was when the conversation started, a user
/// locked by then fails, and the code's TOTP step is taken in that
/// transaction (a locked attempt burns no code). In `password+totp` the
/// password is settled before the code is asked for: a wrong one is
/// counted and audited then, so a client that hangs up at the code prompt
/// has still spent a guess; a right one is only noted (the attempt's row),
/// the same store work, so the code prompt comes no sooner or later for
/// it. A client that hangs up after a right password leaves nothing to
/// count.
pub fn authenticate(conv: &mut dyn Conversation, options: &Options, now: DateTime<Utc>) -> Outcome {
    let host = match Host::open(options) {
        Ok(host) => host,
        Err(outcome) => return outcome,
    };
    let Ok(name) = conv.user() else {
        return Outcome::ConversationFailed;
    };
    let origin = Origin::of(conv);
    let user = match host.user(&name) {
        Ok(user) => user,
        Err(outcome) => return outcome,
    };
    if user.is_none() && host.ignores(&name) {
        // No prompts: the rest of the stack (pam_unix) asks local users.
        host.debug(&format!(
            "authenticate: {name:?} is not an IAM user; ignored"
        ));
        return Outcome::Ignore;
    }
    // What an earlier authentication in this handle left is not this one's.
    forget_auth_id(conv);
    let account = match user.map(|u| host.credentials(u)).transpose() {
        Ok(account) => account,
        Err(outcome) => return outcome,
    };
    let account = account.as_ref();
    let mut attempt = match Attempt::start(&host, account, &name, origin, now) {
        Ok(attempt) => attempt,
        Err(outcome) => return outcome,
    };

    // The password, in the modes that ask for one.
    let password = match options.mode {
        Mode::Totp => None,
        _ => match password_answer(conv, options) {
            Ok(answer) => Some(check_password(account, answer.as_ref(), options.mode)),
            Err(outcome) => return outcome,
        },
    };
    // Settled now, before the code prompt (the only other answer to come).
    let mut password_passed = true;
    if options.mode == Mode::PasswordTotp {
        let result = match &password {
            Some(Err(failure)) => Err(*failure),
            _ => Ok(None),
        };
        password_passed = match host.settle(&mut attempt, false, now, |_| Ok(result)) {
            Ok(passed) => passed,
            Err(outcome) => return outcome,
        };
    }
    let code = match options.mode {
        Mode::Password => None,
        _ => {
            let Ok(answer) = conv.prompt_secret(CODE_PROMPT) else {
                return Outcome::ConversationFailed;
            };
            // A combined `password123456` answer brought its code along:
            // the second answer is ignored.
            let appended = password
                .as_ref()
                .and_then(|p| p.as_ref().ok()?.code.clone());
            Some(appended.unwrap_or(answer))
        }
    };

    let passed = if password_passed {
        let verified = password.as_ref().and_then(|p| p.as_ref().ok());
        host.settle(&mut attempt, true, now, |store| {
            let result = check_code(&host, store, options.mode, account, &password, code, now)?;
            if let (Ok(_), Some(account), Some(_)) = (&result, account, verified) {
                store.record_password_used(&account.user.name, now)?;
            }
            Ok(result)
        })
    } else {
        // Already refused (counted and audited): the row moves on like any
        // attempt's last step, with the same store work.
        host.close_refused(&mut attempt).map(|()| false)
    };
    match passed {
        Ok(true) => {}
        // Locked or not, the same answer (only the audit log says which):
        // a locked user must not look different from a wrong password or
        // an unknown user.
        Ok(false) => {
            conv.error(DENIED);
            return Outcome::AuthFailed;
        }
        Err(outcome) => return outcome,
    }
    if let Some(Ok(verified)) = &password {
        conv.set_stacked_password(&verified.password);
    }
    hand_on_auth_id(conv, &attempt.record.id);
    host.debug(&format!(
        "authenticate: {name} succeeded (mfa: {})",
        attempt.record.mfa_time.is_some()
    ));
    Outcome::Success
}

/// The last check of an attempt, inside its deciding transaction: what the
/// password came to (modes without a code prompt), the account (`mode=totp`)
/// and the code, whose step is taken here. In `password+totp` a user
/// without an MFA device passes on the password alone (policy and
/// `require_mfa` decide in the account stage) and the code answer is
/// ignored.
fn check_code(
    host: &Host,
    store: &Store,
    mode: Mode,
    account: Option<&Credentials>,
    password: &Option<Result<Verified, Failure>>,
    code: Option<SecretString>,
    now: DateTime<Utc>,
) -> Result<Result<Option<i64>, Failure>, StoreError> {
    if let Some(Err(failure)) = password {
        return Ok(Err(*failure));
    }
    if let Some(failure) = account_failure(account) {
        return Ok(Err(failure));
    }
    let Some(code) = code else {
        return Ok(Ok(None));
    };
    let Some(device) = account.and_then(|a| a.device.as_ref()) else {
        return Ok(match mode {
            Mode::Totp => Err(Failure::NoMfaDevice),
            _ => Ok(None),
        });
    };
    Ok(match host.take_code(store, device, &code, now)? {
        CodeCheck::Accepted => Ok(Some(now.timestamp())),
        CodeCheck::Wrong => Err(Failure::WrongCode),
        CodeCheck::Replayed => Err(Failure::ReplayedCode),
    })
}

/// One authentication attempt: its row in the store (the authentication
/// record, under a fresh random id), who it is for and where from.
struct Attempt {
    record: AuthRecord,
    identity: UserIdentity,
    origin: Origin,
}

impl Attempt {
    /// Failures of unknown users are counted under [`UNKNOWN_USERS`], and
    /// their rows carry that name: no user can find them.
    fn start(
        host: &Host,
        account: Option<&Credentials>,
        name: &str,
        origin: Origin,
        now: DateTime<Utc>,
    ) -> Result<Self, Outcome> {
        let id = AuthRecord::new_id().map_err(|e| {
            host.report(&format!("authenticate: no random id for {name}: {e}"));
            Outcome::Unavailable
        })?;
        let (user, identity) = match account {
            Some(account) => (account.user.name.to_string(), account.identity(host)),
            None => (UNKNOWN_USERS.to_owned(), UserIdentity::unknown(name)),
        };
        Ok(Self {
            record: AuthRecord {
                id,
                user,
                service: origin.service.clone(),
                rhost: origin.rhost_key().to_owned(),
                tty: origin.tty.clone().unwrap_or_default(),
                time: now.timestamp(),
                mfa_time: None,
                state: AuthState::Pending,
            },
            identity,
            origin,
        })
    }
}

/// A verified password.
struct Verified {
    /// Without an appended code, for PAM_AUTHTOK.
    password: SecretString,
    /// The code of a combined `password123456` answer.
    code: Option<SecretString>,
}

/// Which factor failed, for the audit log (never for the user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    UnknownUser,
    NoStackedPassword,
    Disabled,
    NoLoginProfile,
    WrongPassword,
    NoMfaDevice,
    WrongCode,
    ReplayedCode,
}

impl Failure {
    fn reason(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown user",
            Self::NoStackedPassword => "use_first_pass: no password from an earlier module",
            Self::Disabled => "user is disabled",
            Self::NoLoginProfile => "user has no login profile (password)",
            Self::WrongPassword => "wrong password",
            Self::NoMfaDevice => "user has no MFA device",
            Self::WrongCode => "wrong verification code",
            Self::ReplayedCode => "replayed verification code",
        }
    }

    /// Whether it counts towards the lockout: every guess does; a disabled
    /// user is refused without one.
    fn counts(self) -> bool {
        self != Self::Disabled
    }
}

/// Why this account cannot authenticate whatever it answers, if it cannot.
fn account_failure(account: Option<&Credentials>) -> Option<Failure> {
    match account {
        None => Some(Failure::UnknownUser),
        Some(a) if a.user.status == UserStatus::Disabled => Some(Failure::Disabled),
        Some(_) => None,
    }
}

/// Verifies the password answer (`None`: `use_first_pass` found none).
/// `account` is `None` for an unknown user, who costs the same argon2 work:
/// the answer is verified against a dummy hash, and so is its prefix when
/// it ends in six digits (a combined `password123456` answer, tried in
/// `password+totp` for every user alike). A disabled user's hash is not
/// consulted either.
fn check_password(
    account: Option<&Credentials>,
    answer: Option<&SecretString>,
    mode: Mode,
) -> Result<Verified, Failure> {
    let refused = account_failure(account);
    let Some(answer) = answer else {
        return Err(refused.unwrap_or(Failure::NoStackedPassword));
    };
    let profile = account.and_then(|a| a.profile.as_ref());
    let hash = profile
        .filter(|_| refused.is_none())
        .map(|p| p.password_hash.as_str());
    let combined = (mode == Mode::PasswordTotp)
        .then(|| split_combined(answer))
        .flatten();
    let whole_ok = verify_or_dummy(hash, answer);
    let prefix_ok = combined
        .as_ref()
        .is_some_and(|(password, _)| verify_or_dummy(hash, password));
    if let Some(failure) = refused {
        return Err(failure);
    }
    match (whole_ok, prefix_ok, combined) {
        (true, _, _) => Ok(Verified {
            password: answer.clone(),
            code: None,
        }),
        (false, true, Some((password, code))) => Ok(Verified {
            password,
            code: Some(code),
        }),
        _ if profile.is_none() => Err(Failure::NoLoginProfile),
        _ => Err(Failure::WrongPassword),
    }
}

/// The password answer per `use_first_pass` / `try_first_pass`; `None` when
/// `use_first_pass` finds no password from an earlier module.
fn password_answer(
    conv: &mut dyn Conversation,
    options: &Options,
) -> Result<Option<SecretString>, Outcome> {
    let stacked = match options.first_pass {
        FirstPass::Prompt => None,
        FirstPass::Try | FirstPass::Use => conv.stacked_password(),
    };
    match (stacked, options.first_pass) {
        (Some(password), _) => Ok(Some(password)),
        (None, FirstPass::Use) => Ok(None),
        (None, _) => conv
            .prompt_secret(PASSWORD_PROMPT)
            .map(Some)
            .map_err(|_| Outcome::ConversationFailed),
    }
}

/// `password123456` → (`password`, `123456`), when the answer ends in a
/// TOTP code and something precedes it.
fn split_combined(answer: &SecretString) -> Option<(SecretString, SecretString)> {
    let text = answer.expose();
    let cut = text.len().checked_sub(CODE_DIGITS)?;
    let (password, code) = (text.get(..cut)?, text.get(cut..)?);
    (!password.is_empty() && code.bytes().all(|b| b.is_ascii_digit()))
        .then(|| (SecretString::from(password), SecretString::from(code)))
}

/// Verifies against `hash`, or spends the same work on a dummy hash.
fn verify_or_dummy(hash: Option<&str>, candidate: &SecretString) -> bool {
    match hash {
        Some(hash) => password::verify_password(candidate, hash),
        None => {
            password::verify_dummy(candidate);
            false
        }
    }
}

/// A TOTP code against a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeCheck {
    Accepted,
    Wrong,
    /// Right code, but its step was already used (here or on a host sharing
    /// the store).
    Replayed,
}

/// `pam_sm_acct_mgmt`: may this IAM user log in here, now, from there?
/// Decided by `host:Login` on this host's ARN with the DESIGN §3 context;
/// then `require_mfa` and password expiry.
pub fn account(conv: &mut dyn Conversation, options: &Options, now: DateTime<Utc>) -> Outcome {
    let host = match Host::open(options) {
        Ok(host) => host,
        Err(outcome) => return outcome,
    };
    let Ok(name) = conv.user() else {
        return Outcome::ConversationFailed;
    };
    let origin = Origin::of(conv);
    let user = match host.user(&name) {
        Ok(Some(user)) => user,
        Ok(None) => return host.unknown_user(conv, &name, &origin, now),
        Err(outcome) => return outcome,
    };
    let identity = UserIdentity::iam_user(host.account_id(), &user.arn, &name);
    if user.status == UserStatus::Disabled {
        host.login_denied(conv, &identity, &origin, "user is disabled", &[], now);
        return Outcome::AccountDisabled;
    }
    let mfa_time = match host.mfa_time(conv, &user, &origin, Stage::Account, now) {
        Ok(mfa_time) => mfa_time,
        Err(outcome) => return outcome,
    };
    let principal = match Principal::for_user(&host.store, host.store.account_id(), &user.name) {
        Ok(principal) => principal,
        Err(e) => {
            // A stored policy that no longer parses fails closed.
            host.report(&format!(
                "acct_mgmt: cannot load the policies of {name}: {e}"
            ));
            return Outcome::Unavailable;
        }
    };
    let context = login_context(&principal, &host.config, &origin, mfa_time, now);
    let resource = host.config.host_arn();
    let response = principal.authorize(LOGIN_ACTION, &resource, &context);
    if response.decision != Decision::Allowed {
        let deciding = deciding_statements(&response);
        let reason = match response.decision {
            Decision::ExplicitDeny => format!("{LOGIN_ACTION} on {resource}: explicitly denied"),
            _ => format!("{LOGIN_ACTION} on {resource}: no statement allows it (implicit deny)"),
        };
        host.login_denied(conv, &identity, &origin, &reason, &deciding, now);
        return Outcome::PermissionDenied;
    }
    if host.config.login.require_mfa && mfa_time.is_none() {
        let reason = "require_mfa: this login did not pass an MFA check";
        host.login_denied(conv, &identity, &origin, reason, &[], now);
        return Outcome::PermissionDenied;
    }
    match host.password_state(&user, now) {
        Ok(PasswordState::Current) => Outcome::Success,
        Ok(PasswordState::MustChange) => {
            conv.error("Your password has expired. Choose a new one now.");
            Outcome::NewPasswordRequired
        }
        Ok(PasswordState::HardExpired) => {
            let reason = "password expired (HardExpiry: an administrator must reset it)";
            host.login_denied(conv, &identity, &origin, reason, &[], now);
            Outcome::AccountDisabled
        }
        Err(outcome) => outcome,
    }
}

/// The action every login asks for.
pub const LOGIN_ACTION: &str = "host:Login";

/// The request context of `host:Login` (DESIGN §3).
fn login_context(
    principal: &Principal,
    config: &HostConfig,
    origin: &Origin,
    mfa_time: Option<i64>,
    now: DateTime<Utc>,
) -> Context {
    // Identity keys, principal tags, aws:CurrentTime and aws:EpochTime.
    let mut context = principal.base_context(now);
    if let Some(ip) = origin.source_ip() {
        context.set("aws:SourceIp", ip.to_string());
    }
    context.set("aws:MultiFactorAuthPresent", mfa_time.is_some().to_string());
    if let Some(at) = mfa_time {
        context.set(
            "aws:MultiFactorAuthAge",
            (now.timestamp() - at).max(0).to_string(),
        );
    }
    context.set("aws:SecureTransport", origin.secure_transport().to_string());
    for (key, value) in &config.host_tags {
        context.set(&format!("aws:ResourceTag/{key}"), value.clone());
    }
    context.set("host:Service", origin.service.clone());
    if let Some(tty) = &origin.tty {
        context.set("host:Tty", tty.clone());
    }
    context.set("host:Hostname", config.hostname.clone());
    context
}

/// The statements that decided a refusal: the Deny statements that matched,
/// for an explicit deny; none for an implicit one.
fn deciding_statements(response: &Response) -> Vec<DecidingStatement> {
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

/// `pam_sm_setcred`: the local groups `[group_map]` grants for the user's
/// IAM groups. The PAM glue adds them to the process's groups.
pub fn local_groups(
    conv: &mut dyn Conversation,
    options: &Options,
) -> Result<Vec<String>, Outcome> {
    let host = Host::open(options)?;
    let name = conv.user().map_err(|_| Outcome::ConversationFailed)?;
    let Some(user) = host.user(&name)? else {
        return Err(match host.ignores(&name) {
            true => Outcome::Ignore,
            false => Outcome::UserUnknown,
        });
    };
    let groups = host.store.groups_for_user(&user.name).map_err(|e| {
        host.report(&format!("setcred: cannot read the groups of {name}: {e}"));
        Outcome::Unavailable
    })?;
    let mut local: Vec<String> = Vec::new();
    for group in groups {
        for mapped in host
            .config
            .group_map
            .get(group.name.as_str())
            .into_iter()
            .flatten()
        {
            if !local.contains(mapped) {
                local.push(mapped.clone());
            }
        }
    }
    Ok(local)
}

/// `pam_sm_open_session`: the `Login` audit event and a login-session record
/// (`iamctl list-sessions`, `aws:MultiFactorAuthAge` later on).
pub fn open_session(conv: &mut dyn Conversation, options: &Options, now: DateTime<Utc>) -> Outcome {
    let host = match Host::open(options) {
        Ok(host) => host,
        Err(outcome) => return outcome,
    };
    let Ok(name) = conv.user() else {
        return Outcome::ConversationFailed;
    };
    let origin = Origin::of(conv);
    let user = match host.user(&name) {
        Ok(Some(user)) => user,
        Ok(None) => return host.unknown_user(conv, &name, &origin, now),
        Err(outcome) => return outcome,
    };
    let mfa_time = match host.mfa_time(conv, &user, &origin, Stage::Session, now) {
        Ok(mfa_time) => mfa_time,
        Err(outcome) => return outcome,
    };
    // Not into the user's session environment (sshd copies the PAM
    // environment there); the record is gone anyway.
    forget_auth_id(conv);
    let session = LoginSession {
        id: 0,
        user: name.clone(),
        service: origin.service.clone(),
        rhost: origin.rhost_key().to_owned(),
        tty: origin.tty.clone().unwrap_or_default(),
        // This process (sshd's per-connection process, login(1)) is an
        // ancestor of the user's processes: iamctl finds the session so.
        pid: Some(std::process::id()),
        started: now.timestamp(),
        ended: None,
        mfa_time,
    };
    if let Err(e) = host.store.open_login_session(&session) {
        host.report(&format!(
            "open_session: cannot record the session of {name}: {e}"
        ));
        return Outcome::Unavailable;
    }
    let identity = UserIdentity::iam_user(host.account_id(), &user.arn, &name);
    let event = host
        .event("Login", identity, &origin, now)
        .response_elements(json!({ "Login": "Success" }))
        .additional_event_data(json!({ "MFAUsed": if mfa_time.is_some() { "Yes" } else { "No" } }));
    host.write(event);
    Outcome::Success
}

/// `pam_sm_close_session`: ends the login-session record, audits `Logout`.
pub fn close_session(
    conv: &mut dyn Conversation,
    options: &Options,
    now: DateTime<Utc>,
) -> Outcome {
    let host = match Host::open(options) {
        Ok(host) => host,
        Err(outcome) => return outcome,
    };
    let Ok(name) = conv.user() else {
        return Outcome::ConversationFailed;
    };
    let origin = Origin::of(conv);
    let user = match host.user(&name) {
        Ok(Some(user)) => user,
        Ok(None) => return host.unknown_user(conv, &name, &origin, now),
        Err(outcome) => return outcome,
    };
    if let Err(e) = host.store.close_login_session_for(
        &name,
        &origin.service,
        origin.tty.as_deref().unwrap_or(""),
        now,
    ) {
        host.report(&format!(
            "close_session: cannot end the session of {name}: {e}"
        ));
    }
    let identity = UserIdentity::iam_user(host.account_id(), &user.arn, &name);
    host.write(host.event("Logout", identity, &origin, now));
    Outcome::Success
}

/// How `pam_chauthtok` called us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordChange {
    /// `PAM_PRELIM_CHECK`: only say whether a change is possible.
    pub preliminary: bool,
    /// `PAM_CHANGE_EXPIRED_AUTHTOK`: change only an expired password.
    pub expired_only: bool,
    /// The calling process runs as root (e.g. `passwd USER` by root).
    pub by_root: bool,
}

/// `pam_sm_chauthtok`: the user sets a new password meeting the account
/// password policy (length, classes, reuse).
///
/// Like pam_unix, the current password is asked (`Current password: `)
/// unless root changes it outside the expired-password path; the login
/// that hit an expired password asks it again too, so a session left open
/// on a terminal cannot be used to take over the account.
pub fn change_password(
    conv: &mut dyn Conversation,
    options: &Options,
    change: PasswordChange,
    now: DateTime<Utc>,
) -> Outcome {
    let host = match Host::open(options) {
        Ok(host) => host,
        Err(outcome) => return outcome,
    };
    let Ok(name) = conv.user() else {
        return Outcome::ConversationFailed;
    };
    let origin = Origin::of(conv);
    let user = match host.user(&name) {
        Ok(Some(user)) => user,
        Ok(None) => return host.unknown_user(conv, &name, &origin, now),
        Err(outcome) => return outcome,
    };
    let identity = UserIdentity::iam_user(host.account_id(), &user.arn, &name);
    let profile = match host.store.get_login_profile(&user.name) {
        Ok(profile) => profile,
        Err(StoreError::NoSuchEntity { .. }) => {
            conv.error(DENIED);
            host.password_event(&identity, &origin, Some("user has no login profile"), now);
            return Outcome::PermissionDenied;
        }
        Err(e) => {
            host.report(&format!(
                "chauthtok: cannot read the login profile of {name}: {e}"
            ));
            return Outcome::Unavailable;
        }
    };
    let policy = match host.store.get_password_policy() {
        Ok(policy) => policy.unwrap_or_default(),
        Err(e) => {
            host.report(&format!("chauthtok: cannot read the password policy: {e}"));
            return Outcome::Unavailable;
        }
    };
    let state = password_state(&profile, &policy, now);
    if change.expired_only && state == PasswordState::Current {
        return Outcome::Success;
    }
    let as_root = change.by_root && !change.expired_only;
    let may_change = as_root
        || state == PasswordState::MustChange
        || (policy.allow_users_to_change_password && state == PasswordState::Current);
    if !may_change {
        conv.error(DENIED);
        let reason = "the account password policy does not let users change passwords";
        host.password_event(&identity, &origin, Some(reason), now);
        return Outcome::PermissionDenied;
    }
    if change.preliminary {
        return Outcome::Success;
    }
    if !as_root {
        let current = match conv.prompt_secret(CURRENT_PASSWORD_PROMPT) {
            Ok(current) => current,
            Err(_) => return Outcome::ConversationFailed,
        };
        let checked = check_current_password(
            &host.store,
            &host.config,
            &user.name,
            &profile.password_hash,
            &current,
            now,
        );
        let refusal = match checked {
            Ok(CurrentPassword::Right) => None,
            Ok(refused) => Some(refused.reason()),
            Err(e) => {
                host.report(&format!(
                    "chauthtok: cannot check the current password of {name}: {e}"
                ));
                return Outcome::Unavailable;
            }
        };
        if let Some(reason) = refusal {
            conv.error(DENIED);
            host.password_event(&identity, &origin, Some(reason), now);
            return Outcome::AuthFailed;
        }
    }
    let (new, again) = match (
        conv.prompt_secret(NEW_PASSWORD_PROMPT),
        conv.prompt_secret(RETYPE_PASSWORD_PROMPT),
    ) {
        (Ok(new), Ok(again)) => (new, again),
        _ => return Outcome::ConversationFailed,
    };
    if new != again {
        conv.error("Sorry, passwords do not match.");
        host.password_event(&identity, &origin, Some("new passwords did not match"), now);
        return Outcome::PasswordRejected;
    }
    let mut previous = vec![profile.password_hash.clone()];
    let history = policy.password_reuse_prevention.unwrap_or(0);
    match host.store.password_history(&user.name, history) {
        Ok(hashes) => previous.extend(hashes),
        Err(e) => {
            host.report(&format!(
                "chauthtok: cannot read the password history of {name}: {e}"
            ));
            return Outcome::Unavailable;
        }
    }
    let reuse_window = previous.len().min(history as usize);
    if let Err(violation) = policy.check(&new, &name, &previous[..reuse_window]) {
        // The rule broken is policy, not secret: the user needs it to retry.
        conv.error(&format!("Password refused: {violation}"));
        host.password_event(&identity, &origin, Some(&violation.to_string()), now);
        return Outcome::PasswordRejected;
    }
    let stored = password::hash_password(&new)
        .map_err(|e| e.to_string())
        .and_then(|hash| {
            host.store
                .set_password(&user.name, &hash, false, history, now)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = stored {
        host.report(&format!(
            "chauthtok: cannot store the new password of {name}: {e}"
        ));
        return Outcome::Unavailable;
    }
    host.password_event(&identity, &origin, None, now);
    Outcome::Success
}

/// What a current password came to ([`check_current_password`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentPassword {
    Right,
    /// Wrong, and counted; `locked_now`: that failure locked the user.
    Wrong {
        locked_now: bool,
    },
    /// The user is locked out: nothing was checked or counted.
    Locked,
}

impl CurrentPassword {
    /// For the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Right => "right current password",
            Self::Wrong { locked_now: false } => "wrong current password",
            Self::Wrong { locked_now: true } => "wrong current password; user now locked out",
            Self::Locked => "user is locked out",
        }
    }
}

/// A user's current password, checked under the login's lockout rule
/// ([`Store::settle_attempt`], `[lockout]` of `config`) wherever it is
/// typed: PAM `chauthtok` and `iamctl change-password` (issue 11, item 7: a
/// shell as the user used to guess there without limit). A locked user is
/// refused and nothing is checked; a wrong password counts as a login
/// failure does. A right one forgets no failure: it is one factor, and
/// letting it reset the count would let a password holder guess codes at
/// the login without limit.
///
/// The guess is counted before it is checked and taken back when it proves
/// right: `passwd` and a setuid `iamctl` run with the user's real uid, so
/// the user may kill them between the check and the count; this way a kill
/// anywhere after the count leaves the guess counted.
pub fn check_current_password(
    store: &Store,
    config: &HostConfig,
    user: &UserName,
    hash: &str,
    candidate: &SecretString,
    now: DateTime<Utc>,
) -> Result<CurrentPassword, StoreError> {
    let rule = crate::elevation::lockout_rule(&config.lockout);
    let counted = store.settle_attempt(user.as_str(), &rule, now, |_| {
        Ok(AttemptResult::Fail { count: true })
    })?;
    let Settled::Failed { state, .. } = counted else {
        // Locked (a failing verdict never passes).
        return Ok(CurrentPassword::Locked);
    };
    if password::verify_password(candidate, hash) {
        store.forgive_failure(user.as_str(), now)?;
        return Ok(CurrentPassword::Right);
    }
    Ok(CurrentPassword::Wrong {
        locked_now: state.locked,
    })
}

/// Whether a login profile's password is still good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PasswordState {
    Current,
    /// Reset required by an administrator, or older than `MaxPasswordAge`.
    MustChange,
    /// Older than `MaxPasswordAge` with `HardExpiry`: only an administrator
    /// can help.
    HardExpired,
}

fn password_state(
    profile: &LoginProfile,
    policy: &PasswordPolicy,
    now: DateTime<Utc>,
) -> PasswordState {
    let changed = DateTime::from_timestamp(profile.password_changed, 0).unwrap_or(now);
    match (policy.is_expired(changed, now), policy.hard_expiry) {
        (true, true) => PasswordState::HardExpired,
        (true, false) => PasswordState::MustChange,
        (false, _) if profile.password_reset_required => PasswordState::MustChange,
        (false, _) => PasswordState::Current,
    }
}

/// A bad module option: logged, and the call fails closed.
pub fn refuse_options(problem: &str) -> Outcome {
    syslog(
        LOG_ERR,
        &format!("refusing to run: {problem} on the pam_iam.so line"),
    );
    Outcome::Unavailable
}

/// Which stage asks for the authentication record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Account,
    Session,
}

/// Hands the record id on to the later stages of this login: module data
/// (same process) and the PAM environment (sshd's monitor).
fn hand_on_auth_id(conv: &mut dyn Conversation, id: &str) {
    conv.set_data(AUTH_ID_DATA, id);
    conv.set_env(AUTH_ID_ENV, Some(id));
}

/// The record id this login's `authenticate` handed on: module data first,
/// else the PAM environment. Only the shape of an id is accepted (other
/// modules can write the environment; the store decides the rest).
fn handed_on_auth_id(conv: &dyn Conversation) -> Option<String> {
    conv.data(AUTH_ID_DATA)
        .filter(|id| AuthRecord::is_id(id))
        .or_else(|| conv.env(AUTH_ID_ENV).filter(|id| AuthRecord::is_id(id)))
}

fn forget_auth_id(conv: &mut dyn Conversation) {
    conv.set_data(AUTH_ID_DATA, "");
    conv.set_env(AUTH_ID_ENV, None);
}

/// Where a login comes from, as the PAM items say.
#[derive(Debug, Clone)]
struct Origin {
    service: String,
    rhost: Option<String>,
    tty: Option<String>,
}

impl Origin {
    fn of(conv: &dyn Conversation) -> Self {
        Self {
            service: conv.service().unwrap_or_default(),
            rhost: conv.rhost().filter(|r| !r.is_empty()),
            tty: conv.tty().filter(|t| !t.is_empty()),
        }
    }

    /// `aws:SourceIp`: only when PAM_RHOST is an address (sshd with
    /// `UseDNS no`, the default); a host name is not evidence of anything.
    fn source_ip(&self) -> Option<IpAddr> {
        self.rhost.as_deref()?.parse().ok()
    }

    /// `aws:SecureTransport`: sshd services (`sshd`, `sshd-*`) are encrypted;
    /// the console and `su` are not transports at all.
    fn secure_transport(&self) -> bool {
        self.service == "sshd" || self.service.starts_with("sshd-")
    }

    /// The store keys console logins (no PAM_RHOST) by the empty string.
    fn rhost_key(&self) -> &str {
        self.rhost.as_deref().unwrap_or("")
    }
}

/// What `authenticate` needs to know about a known user.
struct Credentials {
    user: User,
    profile: Option<LoginProfile>,
    /// The enabled MFA device (AWS allows one virtual device per user here).
    device: Option<MfaDevice>,
}

impl Credentials {
    fn identity(&self, host: &Host) -> UserIdentity {
        UserIdentity::iam_user(host.account_id(), &self.user.arn, self.user.name.as_str())
    }
}

/// The host as one PAM call sees it: config, store and audit log, opened for
/// this call only (a PAM handle may live for days inside sshd).
struct Host {
    config: HostConfig,
    store: Store,
    audit: AuditLog,
    debug: bool,
}

impl Host {
    /// Fails closed (logged to syslog) when the config or store is missing,
    /// corrupt or writable by others.
    fn open(options: &Options) -> Result<Self, Outcome> {
        let config = HostConfig::load(&options.config).map_err(|e| {
            syslog(LOG_ERR, &format!("refusing to run: {e}"));
            Outcome::Unavailable
        })?;
        if let Err(reason) = check_private(&config.database, &options.config) {
            syslog(
                LOG_ERR,
                &format!("refusing to run: {}: {reason}", config.database.display()),
            );
            return Err(Outcome::Unavailable);
        }
        let store = Store::open(&config.database).map_err(|e| {
            syslog(LOG_ERR, &format!("refusing to run: store: {e}"));
            Outcome::Unavailable
        })?;
        let audit = AuditLog::new(config.audit_log.clone());
        Ok(Self {
            config,
            store,
            audit,
            debug: options.debug,
        })
    }

    fn account_id(&self) -> &str {
        &self.config.account_id
    }

    /// The IAM user named like the PAM user; `None` if there is none (a name
    /// that is not even a valid IAM name is simply unknown).
    fn user(&self, name: &str) -> Result<Option<User>, Outcome> {
        let Ok(name) = UserName::parse(name) else {
            return Ok(None);
        };
        let user = self.store.find_user(&name).map_err(|e| {
            self.report(&format!("cannot look up user {name}: {e}"));
            Outcome::Unavailable
        })?;
        let Some(user) = user else { return Ok(None) };
        // An IAM user that shadows a local account is not published and is
        // nobody here: the PAM user is the local account, whatever stack
        // (with or without the pam_localuser guard) led here.
        let local = crate::local_accounts::LocalAccounts::read_host().map_err(|e| {
            self.report(&format!("cannot read the local accounts: {e}"));
            Outcome::Unavailable
        })?;
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
    fn credentials(&self, user: User) -> Result<Credentials, Outcome> {
        let failed = |what: &str, e: StoreError| {
            self.report(&format!("cannot read the {what} of {}: {e}", user.name));
            Outcome::Unavailable
        };
        let profile = match self.store.get_login_profile(&user.name) {
            Ok(profile) => Some(profile),
            Err(StoreError::NoSuchEntity { .. }) => None,
            Err(e) => return Err(failed("login profile", e)),
        };
        let device = self
            .store
            .list_mfa_devices(&user.name)
            .map_err(|e| failed("MFA devices", e))?
            .into_iter()
            .next();
        Ok(Credentials {
            user,
            profile,
            device,
        })
    }

    fn lockout_rule(&self) -> LockoutRule {
        crate::elevation::lockout_rule(&self.config.lockout)
    }

    /// Verifies `code` and takes its step with a compare-and-set in the
    /// store, so the same code never works twice, here or on another host.
    fn take_code(
        &self,
        store: &Store,
        device: &MfaDevice,
        code: &SecretString,
        now: DateTime<Utc>,
    ) -> Result<CodeCheck, StoreError> {
        let skew = self.config.totp.skew_steps;
        Ok(
            match totp::verify(&device.secret, code, now, skew, device.last_step) {
                Some(step) => match store.accept_totp_step(&device.serial_number, step)? {
                    true => CodeCheck::Accepted,
                    // Another login took this step (or a later one) meanwhile.
                    false => CodeCheck::Replayed,
                },
                None if totp::verify(&device.secret, code, now, skew, None).is_some() => {
                    CodeCheck::Replayed
                }
                None => CodeCheck::Wrong,
            },
        )
    }

    /// Decides one step of `attempt` through the lockout rule
    /// ([`Store::settle_attempt`], under the user's name or
    /// [`UNKNOWN_USERS`]) and writes the attempt's row, in one transaction.
    /// `check` runs inside it only when the user is not locked:
    /// `Ok(mfa_time)` passes, `Err(failure)` fails. `complete`: the last
    /// step (the row becomes `authenticated` or `failed`; a pass forgets the
    /// user's failures); otherwise the row stays `pending` whatever
    /// happened. A failure is audited at once. `Ok(true)`: passed.
    fn settle(
        &self,
        attempt: &mut Attempt,
        complete: bool,
        now: DateTime<Utc>,
        check: impl FnOnce(&Store) -> Result<Result<Option<i64>, Failure>, StoreError>,
    ) -> Result<bool, Outcome> {
        let rule = self.lockout_rule();
        let mut failure = None;
        let record = &mut attempt.record;
        let settled = self.store.atomically(|store| {
            let mut mfa_time = None;
            let settled = store.settle_attempt(&record.user, &rule, now, |store| {
                Ok(match check(store)? {
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
            store.put_auth_record(record)?;
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
        self.audit_login_failure(&attempt.identity, &attempt.origin, &reason, now);
        Ok(false)
    }

    /// The last step of an attempt refused at its first: its row becomes
    /// `failed`. One write, as every attempt's last step is.
    fn close_refused(&self, attempt: &mut Attempt) -> Result<(), Outcome> {
        attempt.record.state = AuthState::Failed;
        match self.store.put_auth_record(&attempt.record) {
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

    /// When this login passed its MFA check, per the record whose id this
    /// login's `authenticate` handed on (none after a publickey-only login:
    /// no id). `acct_mgmt` uses the record up; `open_session` removes it.
    fn mfa_time(
        &self,
        conv: &dyn Conversation,
        user: &User,
        origin: &Origin,
        stage: Stage,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, Outcome> {
        let Some(id) = handed_on_auth_id(conv) else {
            return Ok(None);
        };
        let (name, service, rhost) = (user.name.as_str(), &origin.service, origin.rhost_key());
        let record = match stage {
            Stage::Account => self
                .store
                .consume_auth_record(&id, name, service, rhost, now),
            Stage::Session => self.store.take_auth_record(&id, name, service, rhost, now),
        };
        match record {
            Ok(record) => Ok(record.and_then(|r| r.mfa_time)),
            Err(e) => {
                self.report(&format!(
                    "cannot read the authentication record of {}: {e}",
                    user.name
                ));
                Err(Outcome::Unavailable)
            }
        }
    }

    fn password_state(&self, user: &User, now: DateTime<Utc>) -> Result<PasswordState, Outcome> {
        let profile = match self.store.get_login_profile(&user.name) {
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
        match self.store.get_password_policy() {
            Ok(policy) => Ok(password_state(&profile, &policy.unwrap_or_default(), now)),
            Err(e) => {
                self.report(&format!("cannot read the password policy: {e}"));
                Err(Outcome::Unavailable)
            }
        }
    }

    /// Whether a name that is no IAM user here is left to the rest of the
    /// stack: always for a local account (in /etc/passwd: root and its
    /// peers are never ours to refuse, whatever `unknown_user` says, so no
    /// pam_localuser guard is needed in front of pam_iam), else as
    /// `[login] unknown_user` says. Unreadable local accounts count as
    /// local: refusing root is never the safe side.
    fn ignores(&self, name: &str) -> bool {
        self.config.login.unknown_user == UnknownUser::Ignore
            || crate::local_accounts::LocalAccounts::read_host().map_or(true, |local| {
                matches!(
                    local.name_collision(name),
                    Some(crate::local_accounts::Collision::LocalUser(_))
                )
            })
    }

    /// A user the directory does not know, at an account or session stage.
    fn unknown_user(
        &self,
        conv: &mut dyn Conversation,
        name: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Outcome {
        match self.ignores(name) {
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

    fn event(
        &self,
        name: &str,
        identity: UserIdentity,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> AuditEventBuilder {
        let mut parameters = json!({ "service": origin.service });
        if let Some(tty) = &origin.tty {
            parameters["tty"] = json!(tty);
        }
        let builder =
            AuditEvent::builder(EventSource::Pam, name, identity, &self.config.hostname, now)
                .request_parameters(parameters);
        match &origin.rhost {
            Some(rhost) => builder.source_ip(rhost),
            None => builder,
        }
    }

    /// A failed authentication, for the audit log (the user is told
    /// [`DENIED`] when the prompts are over).
    fn audit_login_failure(
        &self,
        identity: &UserIdentity,
        origin: &Origin,
        reason: &str,
        now: DateTime<Utc>,
    ) {
        let event = self
            .event("Login", identity.clone(), origin, now)
            .response_elements(json!({ "Login": "Failure" }))
            .error("AuthenticationFailed", reason);
        self.write(event);
    }

    /// A refused login (account stage): the generic line to the user, the
    /// reason and deciding statements to the audit log.
    fn login_denied(
        &self,
        conv: &mut dyn Conversation,
        identity: &UserIdentity,
        origin: &Origin,
        reason: &str,
        deciding: &[DecidingStatement],
        now: DateTime<Utc>,
    ) {
        conv.error(DENIED);
        let mut event = self
            .event("Login", identity.clone(), origin, now)
            .response_elements(json!({ "Login": "Failure" }))
            .error("AccessDenied", reason);
        for statement in deciding {
            event = event.decided_by(statement.clone());
        }
        self.write(event);
    }

    /// `ChangePassword`, refused when `refusal` says why.
    fn password_event(
        &self,
        identity: &UserIdentity,
        origin: &Origin,
        refusal: Option<&str>,
        now: DateTime<Utc>,
    ) {
        let event = self.event("ChangePassword", identity.clone(), origin, now);
        self.write(match refusal {
            Some(reason) => event.error("AccessDenied", reason),
            None => event,
        });
    }

    fn write(&self, event: AuditEventBuilder) {
        let written = event.build().and_then(|event| self.audit.append(&event));
        if let Err(e) = written {
            syslog(LOG_ERR, &format!("cannot write the audit log: {e}"));
        }
    }

    /// Something is wrong with the host (not the user): syslog it.
    fn report(&self, message: &str) {
        syslog(LOG_ERR, message);
    }

    fn debug(&self, message: &str) {
        if self.debug {
            syslog(LOG_DEBUG, message);
        }
    }
}

/// The store holds password hashes and TOTP seeds: refuse one that others
/// could read or write (DESIGN §4: 0600 root). Its owner must be root or
/// whoever owns the config file, which `HostConfig::load` has vetted.
fn check_private(path: &Path, config: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot stat: {e}"))?;
    if !meta.file_type().is_file() {
        return Err("not a regular file".into());
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "mode {:o} lets others in; want 0600",
            meta.mode() & 0o777
        ));
    }
    let trusted = std::fs::metadata(config)
        .map_err(|e| format!("cannot stat the config: {e}"))?
        .uid();
    if meta.uid() != 0 && meta.uid() != trusted {
        return Err(format!("owned by uid {}, not root", meta.uid()));
    }
    Ok(())
}

const LOG_ERR: u8 = 3;
const LOG_DEBUG: u8 = 7;
/// syslog facility `authpriv` (10), shifted as RFC 3164's PRI wants.
const LOG_AUTHPRIV: u8 = 10 << 3;

/// One line to syslog `authpriv` on a non-blocking datagram socket: dropped
/// if the journal is slow or absent, because a login never waits on logging.
/// Used for host problems before (or instead of) the audit log.
fn syslog(severity: u8, message: &str) {
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    if socket.set_nonblocking(true).is_err() {
        return;
    }
    let line = format!(
        "<{}>pam_iam[{}]: {message}",
        LOG_AUTHPRIV | severity,
        std::process::id()
    );
    let _ = socket.send_to(line.as_bytes(), "/dev/log");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{AccountId, GroupName, IamPath, MfaDeviceName, PolicyName};
    use crate::secret::SecretBytes;
    use crate::store::{Entity, NewUser};
    use argon2::password_hash::PasswordHasher;
    use chrono::TimeZone;
    use std::collections::{HashMap, VecDeque};
    use std::os::unix::fs::PermissionsExt;
    use std::sync::mpsc;

    /// The fixed clock: 2026-11-25T12:00:00Z.
    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn at(seconds_after_t0: i64) -> DateTime<Utc> {
        t0() + chrono::TimeDelta::seconds(seconds_after_t0)
    }

    const ALLOW_LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Login","Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

    #[derive(Debug)]
    enum Step {
        Secret(&'static str, String),
        Error(&'static str),
        /// Parks at this prompt: says so on the sender, then answers what
        /// the receiver brings (a client that answers late).
        Park(&'static str, mpsc::Sender<()>, mpsc::Receiver<String>),
        /// The client hangs up at this prompt.
        Hangup(&'static str),
    }

    /// A conversation that plays a script: every prompt and message must be
    /// the next expected step, and every step must have happened by drop.
    /// `data` and `env` stand for the PAM handle's module data and
    /// environment.
    struct Script {
        user: String,
        service: String,
        rhost: Option<String>,
        steps: VecDeque<Step>,
        stacked: Option<SecretString>,
        data: HashMap<String, String>,
        env: HashMap<String, String>,
    }

    impl Script {
        fn new(user: &str, steps: Vec<Step>) -> Self {
            Self {
                user: user.to_owned(),
                service: "sshd".to_owned(),
                rhost: Some("192.0.2.10".to_owned()),
                steps: steps.into(),
                stacked: None,
                data: HashMap::new(),
                env: HashMap::new(),
            }
        }

        fn from(mut self, rhost: Option<&str>) -> Self {
            self.rhost = rhost.map(str::to_owned);
            self
        }

        /// The next stage of the same login in the same process (one PAM
        /// handle): module data and environment carry over.
        fn then(&self, steps: Vec<Step>) -> Self {
            let mut next = Self::new(&self.user, steps).from(self.rhost.as_deref());
            next.data = self.data.clone();
            next.env = self.env.clone();
            next
        }

        /// The next stage in sshd's monitor: only the PAM environment came
        /// over from the authentication child, not its module data.
        fn in_monitor(&self, steps: Vec<Step>) -> Self {
            let mut next = Self::new(&self.user, steps).from(self.rhost.as_deref());
            next.env = self.env.clone();
            next
        }

        /// The authentication record id this handle carries.
        fn auth_id(&self) -> Option<String> {
            handed_on_auth_id(self)
        }
    }

    impl Conversation for Script {
        fn user(&mut self) -> Result<String, ConversationError> {
            Ok(self.user.clone())
        }
        fn service(&self) -> Option<String> {
            Some(self.service.clone())
        }
        fn rhost(&self) -> Option<String> {
            self.rhost.clone()
        }
        fn tty(&self) -> Option<String> {
            Some("ssh".to_owned())
        }
        fn prompt_secret(&mut self, prompt: &str) -> Result<SecretString, ConversationError> {
            match self.steps.pop_front() {
                Some(Step::Secret(text, answer)) if text == prompt => Ok(answer.into()),
                Some(Step::Park(text, parked, answer)) if text == prompt => {
                    parked.send(()).unwrap();
                    Ok(answer.recv().unwrap().into())
                }
                Some(Step::Hangup(text)) if text == prompt => Err(ConversationError),
                other => panic!("unexpected secret prompt {prompt:?}; script expected {other:?}"),
            }
        }
        fn prompt_visible(&mut self, prompt: &str) -> Result<String, ConversationError> {
            panic!("unexpected visible prompt {prompt:?}")
        }
        fn info(&mut self, text: &str) {
            panic!("unexpected info {text:?}")
        }
        fn error(&mut self, text: &str) {
            match self.steps.pop_front() {
                Some(Step::Error(expected)) if text.starts_with(expected) => {}
                other => panic!("unexpected error message {text:?}; script expected {other:?}"),
            }
        }
        fn stacked_password(&mut self) -> Option<SecretString> {
            self.stacked.clone()
        }
        fn set_stacked_password(&mut self, password: &SecretString) {
            self.stacked = Some(password.clone());
        }
        fn data(&self, key: &str) -> Option<String> {
            self.data.get(key).cloned()
        }
        fn set_data(&mut self, key: &str, value: &str) {
            self.data.insert(key.to_owned(), value.to_owned());
        }
        fn env(&self, name: &str) -> Option<String> {
            self.env.get(name).cloned()
        }
        fn set_env(&mut self, name: &str, value: Option<&str>) {
            match value {
                Some(value) => self.env.insert(name.to_owned(), value.to_owned()),
                None => self.env.remove(name),
            };
        }
    }

    impl Drop for Script {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                assert!(self.steps.is_empty(), "steps never taken: {:?}", self.steps);
            }
        }
    }

    fn password(answer: &str) -> Step {
        Step::Secret(PASSWORD_PROMPT, answer.to_owned())
    }

    fn code(answer: &str) -> Step {
        Step::Secret(CODE_PROMPT, answer.to_owned())
    }

    fn denied() -> Step {
        Step::Error(DENIED)
    }

    /// A temporary host: iam.toml, a real SQLite store and the audit log.
    struct Fixture {
        dir: tempfile::TempDir,
        options: Options,
        store: Store,
    }

    impl Fixture {
        fn new(extra_toml: &str) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let config = dir.path().join("iam.toml");
            std::fs::write(
                &config,
                format!(
                    "account_id = \"123456789012\"\nhostname = \"web-1\"\n\
                     database = \"iam.db\"\naudit_log = \"audit.log\"\n{extra_toml}\n"
                ),
            )
            .unwrap();
            let account = AccountId::parse("123456789012").unwrap();
            let store = Store::create(&dir.path().join("iam.db"), &account).unwrap();
            let options = Options {
                config,
                ..Options::default()
            };
            Self {
                dir,
                options,
                store,
            }
        }

        fn with_mode(mut self, mode: Mode) -> Self {
            self.options.mode = mode;
            self
        }

        /// A user allowed to log in, with a password when `pw` is given.
        fn user(&self, name: &str, pw: Option<&str>) {
            let name = UserName::parse(name).unwrap();
            self.store
                .create_user(&NewUser::new(name.clone()), t0())
                .unwrap();
            if let Some(pw) = pw {
                self.store
                    .create_login_profile(&name, &cheap_hash(pw), false, t0())
                    .unwrap();
            }
            self.policy(name.as_str(), "AllowLogin", ALLOW_LOGIN);
        }

        fn policy(&self, user: &str, policy: &str, document: &str) {
            let entity = Entity::User(UserName::parse(user).unwrap());
            self.store
                .put_inline_policy(&entity, &PolicyName::parse(policy).unwrap(), document)
                .unwrap();
        }

        /// Enables a TOTP device for `user`; its last step lies in the past.
        fn mfa(&self, user: &str) -> SecretBytes {
            let secret = SecretBytes::new(b"12345678901234567890".to_vec());
            let device = MfaDeviceName::parse(&format!("{user}-phone")).unwrap();
            let created = self
                .store
                .create_virtual_mfa_device(&device, &IamPath::root(), &secret, t0())
                .unwrap();
            let last_step = totp::step_at(t0()).unwrap() - 10;
            self.store
                .enable_mfa_device(
                    &UserName::parse(user).unwrap(),
                    &created.serial_number,
                    last_step,
                    t0(),
                )
                .unwrap();
            secret
        }

        fn events(&self) -> Vec<serde_json::Value> {
            std::fs::read_to_string(self.dir.path().join("audit.log"))
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }

        fn last_event(&self) -> serde_json::Value {
            self.events().pop().expect("an audit event")
        }
    }

    /// A cheap argon2id hash: tests verify many times; the cost bound, not
    /// the cost, is what `verify_password` checks.
    fn cheap_hash(pw: &str) -> String {
        let params = argon2::Params::new(64, 1, 1, None).unwrap();
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        argon
            .hash_password_with_salt(pw.as_bytes(), b"0123456789abcdef")
            .unwrap()
            .to_string()
    }

    fn code_at(secret: &SecretBytes, when: DateTime<Utc>) -> String {
        totp::code_at(secret, when.timestamp() as u64)
            .expose()
            .to_owned()
    }

    #[test]
    fn password_then_code_succeeds_and_records_mfa() {
        let f = Fixture::new("");
        f.user("alice", Some("correct horse"));
        let secret = f.mfa("alice");
        let mut conv = Script::new(
            "alice",
            vec![password("correct horse"), code(&code_at(&secret, t0()))],
        );
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
        assert_eq!(
            conv.stacked.as_ref().map(|p| p.expose().to_owned()),
            Some("correct horse".into())
        );
        let id = conv.auth_id().expect("an id handed on");
        assert_eq!(conv.env.get(AUTH_ID_ENV), Some(&id));
        let record = f.store.get_auth_record(&id).unwrap().unwrap();
        assert_eq!(record.mfa_time, Some(t0().timestamp()));
        assert_eq!(record.state, AuthState::Authenticated);

        let mut next = conv.then(vec![]);
        assert_eq!(account(&mut next, &f.options, at(5)), Outcome::Success);
    }

    #[test]
    fn wrong_password_still_asks_for_the_code_and_counts_a_failure() {
        let f = Fixture::new("");
        f.user("alice", Some("correct horse"));
        let secret = f.mfa("alice");
        let mut conv = Script::new(
            "alice",
            vec![password("wrong"), code(&code_at(&secret, t0())), denied()],
        );
        assert_eq!(
            authenticate(&mut conv, &f.options, t0()),
            Outcome::AuthFailed
        );
        let event = f.last_event();
        assert_eq!(event["eventName"], "Login");
        assert_eq!(event["errorCode"], "AuthenticationFailed");
        assert_eq!(event["errorMessage"], "wrong password");
        assert!(
            !event.to_string().contains("wrong\""),
            "no secret in the audit log"
        );
        assert_eq!(
            f.store
                .lock_state("alice", &lockout(5), t0())
                .unwrap()
                .failures,
            1
        );
        // The code was not consumed by the failed attempt.
        let mut conv = Script::new(
            "alice",
            vec![password("correct horse"), code(&code_at(&secret, t0()))],
        );
        assert_eq!(authenticate(&mut conv, &f.options, at(1)), Outcome::Success);
    }

    fn lockout(deny: u32) -> LockoutRule {
        LockoutRule {
            deny,
            fail_interval: 900,
            unlock_time: 900,
        }
    }

    #[test]
    fn wrong_replayed_and_stale_codes_are_refused() {
        let f = Fixture::new("");
        f.user("alice", Some("pw-alice-1"));
        let secret = f.mfa("alice");
        let attempt =
            |answer: String, now: DateTime<Utc>, expect: Outcome, reason: Option<&str>| {
                let mut steps = vec![password("pw-alice-1"), code(&answer)];
                if expect != Outcome::Success {
                    steps.push(denied());
                }
                let mut conv = Script::new("alice", steps);
                assert_eq!(
                    authenticate(&mut conv, &f.options, now),
                    expect,
                    "{reason:?}"
                );
                if let Some(reason) = reason {
                    assert_eq!(f.last_event()["errorMessage"], reason);
                }
            };
        attempt(
            "000000".into(),
            t0(),
            Outcome::AuthFailed,
            Some("wrong verification code"),
        );
        attempt(
            "12345".into(),
            t0(),
            Outcome::AuthFailed,
            Some("wrong verification code"),
        );
        // ±2 steps is outside skew_steps = 1.
        attempt(
            code_at(&secret, at(-60)),
            t0(),
            Outcome::AuthFailed,
            Some("wrong verification code"),
        );
        attempt(
            code_at(&secret, at(60)),
            t0(),
            Outcome::AuthFailed,
            Some("wrong verification code"),
        );
        // One step back is within the skew, once.
        attempt(code_at(&secret, at(-30)), t0(), Outcome::Success, None);
        attempt(
            code_at(&secret, at(-30)),
            at(1),
            Outcome::AuthFailed,
            Some("replayed verification code"),
        );
        // Nor an older step after a newer one was used.
        attempt(code_at(&secret, t0()), at(2), Outcome::Success, None);
        attempt(
            code_at(&secret, at(-30)),
            at(3),
            Outcome::AuthFailed,
            Some("replayed verification code"),
        );
    }

    #[test]
    fn combined_password_and_code_in_one_answer() {
        let f = Fixture::new("");
        f.user("alice", Some("pw-alice-1"));
        let secret = f.mfa("alice");
        let combined = format!("pw-alice-1{}", code_at(&secret, t0()));
        // The code prompt comes all the same; its answer is ignored.
        let mut conv = Script::new("alice", vec![password(&combined), code("")]);
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
        // PAM_AUTHTOK holds the password alone.
        assert_eq!(
            conv.stacked.as_ref().map(|p| p.expose().to_owned()),
            Some("pw-alice-1".into())
        );
        // A wrong appended code fails, whatever the second answer says.
        let right = code_at(&secret, at(30));
        let mut conv = Script::new(
            "alice",
            vec![password("pw-alice-1000000"), code(&right), denied()],
        );
        assert_eq!(
            authenticate(&mut conv, &f.options, at(30)),
            Outcome::AuthFailed
        );
        assert_eq!(f.last_event()["errorMessage"], "wrong verification code");
        // A user without a device may append six digits or not: the
        // password decides.
        f.user("bob", Some("pw-bob-1"));
        let mut conv = Script::new("bob", vec![password("pw-bob-1123456"), code("")]);
        assert_eq!(
            authenticate(&mut conv, &f.options, at(30)),
            Outcome::Success
        );
        // Not in mode=password.
        let f = f.with_mode(Mode::Password);
        let combined = format!("pw-alice-1{}", code_at(&secret, at(60)));
        let mut conv = Script::new("alice", vec![password(&combined), denied()]);
        assert_eq!(
            authenticate(&mut conv, &f.options, at(60)),
            Outcome::AuthFailed
        );
    }

    #[test]
    fn unknown_users_get_the_same_prompts_or_are_ignored() {
        let f = Fixture::new("[login]\nunknown_user = \"deny\"\n");
        let mut conv = Script::new("mallory", vec![password("x"), code("123456"), denied()]);
        assert_eq!(
            authenticate(&mut conv, &f.options, t0()),
            Outcome::AuthFailed
        );
        let event = f.last_event();
        assert_eq!(event["errorMessage"], "unknown user");
        assert_eq!(event["userIdentity"]["userName"], "mallory");
        let mut conv = Script::new("mallory", vec![denied()]);
        assert_eq!(account(&mut conv, &f.options, t0()), Outcome::UserUnknown);

        let f = Fixture::new("");
        let mut conv = Script::new("localuser", vec![]);
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Ignore);
        let mut conv = Script::new("localuser", vec![]);
        assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Ignore);
        assert!(f.events().is_empty());
    }

    #[test]
    fn lockout_after_deny_failures_until_unlock_time() {
        let f =
            Fixture::new("[lockout]\ndeny = 2\nfail_interval = \"15m\"\nunlock_time = \"10m\"\n");
        f.user("alice", Some("pw-alice-1"));
        let secret = f.mfa("alice");
        for i in 0..2 {
            let mut conv = Script::new("alice", vec![password("nope"), code("000000"), denied()]);
            assert_eq!(
                authenticate(&mut conv, &f.options, at(i)),
                Outcome::AuthFailed
            );
        }
        assert!(
            f.last_event()["errorMessage"]
                .as_str()
                .unwrap()
                .contains("now locked out")
        );
        let mut conv = Script::new(
            "alice",
            vec![
                password("pw-alice-1"),
                code(&code_at(&secret, at(10))),
                denied(),
            ],
        );
        assert_eq!(
            authenticate(&mut conv, &f.options, at(10)),
            Outcome::AuthFailed
        );
        assert_eq!(f.last_event()["errorMessage"], "user is locked out");
        // After unlock_time the right factors work again.
        let later = at(11 * 60);
        let mut conv = Script::new(
            "alice",
            vec![password("pw-alice-1"), code(&code_at(&secret, later))],
        );
        assert_eq!(authenticate(&mut conv, &f.options, later), Outcome::Success);
    }

    /// Issue 11, item 6: the lock state decides where the result is
    /// recorded, not where the conversation began. Conversations parked at
    /// the prompts (a guesser opens many at once) are answered with the
    /// right factors only after `deny` wrong answers were committed: none
    /// of them gets in, none is counted, and none burns the code.
    #[test]
    fn conversations_parked_at_the_prompts_cannot_outrun_the_lockout() {
        const DENY: u32 = 3;
        const PARKED: usize = 8;
        let f = Fixture::new(&format!(
            "[lockout]\ndeny = {DENY}\nfail_interval = \"15m\"\nunlock_time = \"15m\"\n"
        ));
        f.user("alice", Some("pw-alice-1"));
        let secret = f.mfa("alice");
        let right = code_at(&secret, t0());
        let options = &f.options;
        let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
            let mut parked = Vec::new();
            let mut answers = Vec::new();
            let mut handles = Vec::new();
            for i in 0..PARKED {
                let (parked_tx, parked_rx) = mpsc::channel();
                let (answer_tx, answer_rx) = mpsc::channel();
                // Half wait at the password prompt, half at the code
                // prompt with the right password already given.
                let (steps, answer) = if i % 2 == 0 {
                    let park = Step::Park(PASSWORD_PROMPT, parked_tx, answer_rx);
                    (vec![park, code(&right), denied()], "pw-alice-1")
                } else {
                    let park = Step::Park(CODE_PROMPT, parked_tx, answer_rx);
                    (vec![password("pw-alice-1"), park, denied()], right.as_str())
                };
                handles.push(scope.spawn(move || {
                    let mut conv = Script::new("alice", steps);
                    let outcome = authenticate(&mut conv, options, t0());
                    if outcome == Outcome::Success {
                        // No "Access denied" then; the test fails below.
                        conv.steps.clear();
                    }
                    outcome
                }));
                parked.push(parked_rx);
                answers.push((answer_tx, answer));
            }
            for rx in &parked {
                rx.recv().unwrap();
            }
            // Meanwhile a guesser's wrong answers lock the user.
            for i in 0..DENY {
                let mut conv =
                    Script::new("alice", vec![password("nope"), code("000000"), denied()]);
                let when = at(i64::from(i) + 1);
                assert_eq!(authenticate(&mut conv, options, when), Outcome::AuthFailed);
            }
            for (tx, answer) in answers {
                tx.send(answer.to_owned()).unwrap();
            }
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(
            outcomes.iter().all(|o| *o != Outcome::Success),
            "a right answer got in while the user was locked: {outcomes:?}"
        );
        let locked = f
            .events()
            .iter()
            .filter(|e| e["errorMessage"] == "user is locked out")
            .count();
        assert_eq!(locked, PARKED);
        let state = f.store.lock_state("alice", &lockout(DENY), at(10)).unwrap();
        assert_eq!((state.failures, state.locked), (DENY, true));
        // The code was not used up by the locked attempts.
        f.store.reset_failures("alice").unwrap();
        let mut conv = Script::new("alice", vec![password("pw-alice-1"), code(&right)]);
        assert_eq!(authenticate(&mut conv, options, at(11)), Outcome::Success);
    }

    /// Issue 11, items 7 and 10: the prompts never depend on a secret or on
    /// the user. In `password+totp` everyone is asked for a password and a
    /// code: a user with a device, one without, one that is disabled, one
    /// that is locked, one that does not exist; and everyone who fails is
    /// told the same.
    #[test]
    fn every_user_gets_the_same_prompts() {
        let f = Fixture::new(
            "[login]\nunknown_user = \"deny\"\n[lockout]\ndeny = 2\nunlock_time = \"15m\"\n",
        );
        f.user("alice", Some("pw-alice-1"));
        let secret = f.mfa("alice");
        f.user("bob", Some("pw-bob-1"));
        f.user("carol", Some("pw-carol-1"));
        f.store
            .set_user_status(&UserName::parse("carol").unwrap(), UserStatus::Disabled)
            .unwrap();
        f.user("dave", Some("pw-dave-1"));
        f.mfa("dave");
        for i in 0..2 {
            f.store.record_failure("dave", &lockout(2), at(i)).unwrap();
        }
        let attempt = |user: &str, pw: &str, code_answer: &str, ok: bool, reason: &str| {
            let mut steps = vec![password(pw), code(code_answer)];
            if !ok {
                steps.push(denied());
            }
            let mut conv = Script::new(user, steps);
            let expect = if ok {
                Outcome::Success
            } else {
                Outcome::AuthFailed
            };
            let got = authenticate(&mut conv, &f.options, at(5));
            assert_eq!(got, expect, "{user}");
            if !reason.is_empty() {
                assert_eq!(f.last_event()["errorMessage"], reason, "{user}");
            }
        };
        attempt("alice", "pw-alice-1", &code_at(&secret, at(5)), true, "");
        attempt("alice", "wrong", "000000", false, "wrong password");
        attempt("bob", "pw-bob-1", "", true, "");
        attempt("bob", "wrong", "", false, "wrong password");
        attempt("carol", "pw-carol-1", "", false, "user is disabled");
        attempt("dave", "pw-dave-1", "123456", false, "user is locked out");
        attempt("mallory", "pw-mallory-1", "123456", false, "unknown user");
    }

    /// Issue 11, item 7: a wrong password counts as soon as it is known to
    /// be wrong, before the code prompt. A client that hangs up at
    /// `Verification code:` has spent its guess and left an audit event; a
    /// right password before a hang-up leaves nothing to count.
    #[test]
    fn a_wrong_password_counts_even_if_the_client_hangs_up_at_the_code_prompt() {
        let f = Fixture::new("[login]\nunknown_user = \"deny\"\n");
        f.user("alice", Some("pw-alice-1"));
        f.mfa("alice");
        let failures = |user: &str| {
            f.store
                .lock_state(user, &lockout(5), at(10))
                .unwrap()
                .failures
        };
        let mut conv = Script::new("alice", vec![password("guess"), Step::Hangup(CODE_PROMPT)]);
        assert_eq!(
            authenticate(&mut conv, &f.options, t0()),
            Outcome::ConversationFailed
        );
        assert_eq!(failures("alice"), 1);
        let event = f.last_event();
        assert_eq!(event["errorCode"], "AuthenticationFailed");
        assert_eq!(event["errorMessage"], "wrong password");
        // The right password, then a hang-up: nothing counted, nothing
        // audited (nothing was refused).
        let events = f.events().len();
        let mut conv = Script::new(
            "alice",
            vec![password("pw-alice-1"), Step::Hangup(CODE_PROMPT)],
        );
        assert_eq!(
            authenticate(&mut conv, &f.options, at(1)),
            Outcome::ConversationFailed
        );
        assert_eq!(failures("alice"), 1);
        assert_eq!(f.events().len(), events);
        // An unknown user's guess counts the same way (under the name no
        // IAM user can have).
        let mut conv = Script::new(
            "mallory",
            vec![password("guess"), Step::Hangup(CODE_PROMPT)],
        );
        authenticate(&mut conv, &f.options, at(2));
        assert_eq!(failures(UNKNOWN_USERS), 1);
        assert_eq!(f.last_event()["errorMessage"], "unknown user");
    }

    /// The store work of an attempt does not depend on the password being
    /// right: before the code prompt, one write either way (the attempt's
    /// row; a wrong password adds its failure to the same transaction).
    #[test]
    fn each_step_of_an_attempt_writes_its_row() {
        let f = Fixture::new("");
        f.user("alice", Some("pw-alice-1"));
        f.mfa("alice");
        for pw in ["pw-alice-1", "wrong"] {
            let mut conv = Script::new("alice", vec![password(pw), Step::Hangup(CODE_PROMPT)]);
            authenticate(&mut conv, &f.options, t0());
        }
        let rows: i64 = {
            let c = rusqlite::Connection::open(f.dir.path().join("iam.db")).unwrap();
            c.query_row(
                "SELECT count(*) FROM auth_records WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(rows, 2);
    }

    #[test]
    fn modes_and_missing_factors() {
        let f = Fixture::new("").with_mode(Mode::Totp);
        f.user("keyonly", None);
        let secret = f.mfa("keyonly");
        let mut conv = Script::new("keyonly", vec![code(&code_at(&secret, t0()))]);
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);

        // Users without a login profile cannot use a password mode.
        let f = f.with_mode(Mode::PasswordTotp);
        let mut conv = Script::new(
            "keyonly",
            vec![
                password("anything"),
                code(&code_at(&secret, at(30))),
                denied(),
            ],
        );
        assert_eq!(
            authenticate(&mut conv, &f.options, at(30)),
            Outcome::AuthFailed
        );
        assert_eq!(
            f.last_event()["errorMessage"],
            "user has no login profile (password)"
        );

        // A user without MFA is asked for a code too; the answer is ignored.
        f.user("bob", Some("pw-bob-1"));
        let mut conv = Script::new("bob", vec![password("pw-bob-1"), code("whatever")]);
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
        // mode=password asks no code.
        let f = f.with_mode(Mode::Password);
        let mut conv = Script::new("bob", vec![password("pw-bob-1")]);
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
        let f = f.with_mode(Mode::Totp);
        let mut conv = Script::new("bob", vec![code("123456"), denied()]);
        assert_eq!(
            authenticate(&mut conv, &f.options, t0()),
            Outcome::AuthFailed
        );
        assert_eq!(f.last_event()["errorMessage"], "user has no MFA device");
    }

    #[test]
    fn first_pass_options() {
        let mut f = Fixture::new("").with_mode(Mode::Password);
        f.user("bob", Some("pw-bob-1"));
        f.options.first_pass = FirstPass::Use;
        let mut conv = Script::new("bob", vec![]);
        conv.stacked = Some("pw-bob-1".into());
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
        let mut conv = Script::new("bob", vec![denied()]);
        assert_eq!(
            authenticate(&mut conv, &f.options, t0()),
            Outcome::AuthFailed
        );
        f.options.first_pass = FirstPass::Try;
        let mut conv = Script::new("bob", vec![password("pw-bob-1")]);
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    }

    #[test]
    fn account_stage_decides_host_login_by_policy() {
        let f = Fixture::new("[host_tags]\nenv = \"prod\"\n");
        f.user("alice", None);
        let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoProd","Effect":"Deny",
            "Action":"host:Login","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}}]}"#;
        f.policy("alice", "NoProd", deny);
        let mut conv = Script::new("alice", vec![denied()]);
        assert_eq!(
            account(&mut conv, &f.options, t0()),
            Outcome::PermissionDenied
        );
        let event = f.last_event();
        assert_eq!(event["errorCode"], "AccessDenied");
        assert_eq!(event["decidedBy"][0]["policy"], "NoProd");
        assert_eq!(event["decidedBy"][0]["sid"], "NoProd");

        f.user("bob", None);
        let office = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Office","Effect":"Deny",
            "Action":"host:Login","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}"#;
        f.policy("bob", "OfficeOnly", office);
        let mut conv = Script::new("bob", vec![]).from(Some("192.0.2.77"));
        assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Success);
        let mut conv = Script::new("bob", vec![denied()]).from(Some("198.51.100.1"));
        assert_eq!(
            account(&mut conv, &f.options, t0()),
            Outcome::PermissionDenied
        );

        f.user("carol", None);
        let window = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Until","Effect":"Deny",
            "Action":"host:Login","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-11-25T13:00:00Z"}}}]}"#;
        f.policy("carol", "Until", window);
        let mut conv = Script::new("carol", vec![]);
        assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Success);
        let mut conv = Script::new("carol", vec![denied()]);
        assert_eq!(
            account(&mut conv, &f.options, at(7200)),
            Outcome::PermissionDenied
        );

        // No statement at all: implicit deny.
        let name = UserName::parse("dave").unwrap();
        f.store.create_user(&NewUser::new(name), t0()).unwrap();
        let mut conv = Script::new("dave", vec![denied()]);
        assert_eq!(
            account(&mut conv, &f.options, t0()),
            Outcome::PermissionDenied
        );
        assert!(
            f.last_event()["errorMessage"]
                .as_str()
                .unwrap()
                .contains("implicit deny")
        );
    }

    #[test]
    fn mfa_in_the_context_and_require_mfa() {
        let f = Fixture::new("[login]\nrequire_mfa = true\n");
        f.user("alice", Some("pw-alice-1"));
        let secret = f.mfa("alice");
        // A publickey-only login: no authenticate, no record, no MFA.
        let mut conv = Script::new("alice", vec![denied()]);
        assert_eq!(
            account(&mut conv, &f.options, t0()),
            Outcome::PermissionDenied
        );
        assert!(
            f.last_event()["errorMessage"]
                .as_str()
                .unwrap()
                .contains("require_mfa")
        );

        // Policies see the MFA and its age.
        let young = r#"{"Version":"2012-10-17","Statement":[{"Sid":"FreshMfa","Effect":"Deny",
            "Action":"host:Login","Resource":"*","Condition":{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"60"}}}]}"#;
        f.policy("alice", "FreshMfa", young);
        let login = |when: DateTime<Utc>, rhost: &str| {
            let mut conv = Script::new(
                "alice",
                vec![password("pw-alice-1"), code(&code_at(&secret, when))],
            )
            .from(Some(rhost));
            assert_eq!(authenticate(&mut conv, &f.options, when), Outcome::Success);
            conv
        };
        let conv = login(t0(), "192.0.2.10");
        let mut next = conv.then(vec![]);
        assert_eq!(account(&mut next, &f.options, at(10)), Outcome::Success);
        let conv = login(at(30), "192.0.2.10");
        let mut next = conv.then(vec![denied()]);
        assert_eq!(
            account(&mut next, &f.options, at(130)),
            Outcome::PermissionDenied
        );
        assert_eq!(f.last_event()["decidedBy"][0]["sid"], "FreshMfa");
        // A record applies only where it was made: not from another host.
        let conv = login(at(60), "192.0.2.10");
        let mut elsewhere = conv.then(vec![denied()]).from(Some("203.0.113.9"));
        assert_eq!(
            account(&mut elsewhere, &f.options, at(61)),
            Outcome::PermissionDenied
        );

        // A user without an MFA device cannot log in here at all.
        f.user("bob", Some("pw-bob-1"));
        let mut conv = Script::new("bob", vec![password("pw-bob-1"), code("")]);
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
        let mut next = conv.then(vec![denied()]);
        assert_eq!(
            account(&mut next, &f.options, at(1)),
            Outcome::PermissionDenied
        );
    }

    /// Issue 11, item 8: the MFA of one login is evidence for that login
    /// only. Another connection of the same user from the same address
    /// (NAT, a bastion), say by publickey alone, gets none of it.
    #[test]
    fn mfa_evidence_is_bound_to_the_login_that_earned_it() {
        let f = Fixture::new("");
        f.user("alice", Some("pw-alice-1"));
        let secret = f.mfa("alice");
        let with_mfa = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LoginWithMfa",
            "Effect":"Allow","Action":"host:Login","Resource":"*",
            "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
        f.policy("alice", "AllowLogin", with_mfa);
        let mut first = Script::new(
            "alice",
            vec![password("pw-alice-1"), code(&code_at(&secret, t0()))],
        );
        assert_eq!(authenticate(&mut first, &f.options, t0()), Outcome::Success);
        let id = first.auth_id().unwrap();

        // A second connection, same user, same address, no authenticate.
        let mut second = Script::new("alice", vec![denied()]);
        assert_eq!(
            account(&mut second, &f.options, at(1)),
            Outcome::PermissionDenied
        );
        assert!(
            f.last_event()["errorMessage"]
                .as_str()
                .unwrap()
                .contains("implicit deny")
        );
        // Nor with an id it made up, or one of the right shape it guessed.
        let mut forged = Script::new("alice", vec![denied()]);
        forged.env.insert(AUTH_ID_ENV.into(), "A".repeat(32));
        assert_eq!(
            account(&mut forged, &f.options, at(1)),
            Outcome::PermissionDenied
        );
        // Another user's transaction carrying the id: not theirs.
        f.user("bob", Some("pw-bob-1"));
        f.policy("bob", "AllowLogin", with_mfa);
        let mut bob = Script::new("bob", vec![denied()]);
        bob.env.insert(AUTH_ID_ENV.into(), id.clone());
        assert_eq!(
            account(&mut bob, &f.options, at(1)),
            Outcome::PermissionDenied
        );

        // The login itself, in sshd's monitor (only the PAM environment
        // came over from the authentication child): MFA present.
        let mut monitor = first.in_monitor(vec![]);
        assert_eq!(account(&mut monitor, &f.options, at(2)), Outcome::Success);
        assert_eq!(
            f.store.get_auth_record(&id).unwrap().unwrap().state,
            AuthState::Consumed
        );
        // Used up: the same id does not pass acct_mgmt twice.
        let mut again = first.in_monitor(vec![denied()]);
        assert_eq!(
            account(&mut again, &f.options, at(3)),
            Outcome::PermissionDenied
        );
        // The session takes the MFA time and removes the variable, so it
        // never reaches the user's session environment.
        let mut session = monitor.then(vec![]);
        assert_eq!(
            open_session(&mut session, &f.options, at(4)),
            Outcome::Success
        );
        assert_eq!(f.last_event()["additionalEventData"]["MFAUsed"], "Yes");
        assert_eq!(session.env.get(AUTH_ID_ENV), None);
        assert_eq!(f.store.get_auth_record(&id).unwrap(), None);
        let sessions = f.store.list_login_sessions(Some("alice"), true).unwrap();
        assert_eq!(sessions[0].mfa_time, Some(t0().timestamp()));

        // Module data wins over the environment (console logins: one
        // process); an id in data that is not a record gives no MFA even
        // if the environment holds a good one.
        let mut third = Script::new(
            "alice",
            vec![password("pw-alice-1"), code(&code_at(&secret, at(30)))],
        );
        assert_eq!(
            authenticate(&mut third, &f.options, at(30)),
            Outcome::Success
        );
        let mut mixed = third.then(vec![denied()]);
        mixed.data.insert(AUTH_ID_DATA.into(), "B".repeat(32));
        assert_eq!(
            account(&mut mixed, &f.options, at(31)),
            Outcome::PermissionDenied
        );
    }

    #[test]
    fn disabled_users_are_refused() {
        let f = Fixture::new("");
        f.user("alice", Some("pw-alice-1"));
        f.store
            .set_user_status(&UserName::parse("alice").unwrap(), UserStatus::Disabled)
            .unwrap();
        let mut conv = Script::new("alice", vec![password("pw-alice-1"), code(""), denied()]);
        assert_eq!(
            authenticate(&mut conv, &f.options, t0()),
            Outcome::AuthFailed
        );
        assert_eq!(f.last_event()["errorMessage"], "user is disabled");
        let mut conv = Script::new("alice", vec![denied()]);
        assert_eq!(
            account(&mut conv, &f.options, t0()),
            Outcome::AccountDisabled
        );
    }

    #[test]
    fn expired_passwords_must_be_changed_within_the_policy() {
        let f = Fixture::new("");
        f.user("alice", Some("Old-password-1"));
        let alice = UserName::parse("alice").unwrap();
        f.store.set_password_reset_required(&alice, true).unwrap();
        let mut conv = Script::new("alice", vec![Step::Error("Your password has expired")]);
        assert_eq!(
            account(&mut conv, &f.options, t0()),
            Outcome::NewPasswordRequired
        );

        let change = PasswordChange {
            preliminary: false,
            expired_only: true,
            by_root: true,
        };
        let prelim = PasswordChange {
            preliminary: true,
            ..change
        };
        let mut conv = Script::new("alice", vec![]);
        assert_eq!(
            change_password(&mut conv, &f.options, prelim, t0()),
            Outcome::Success
        );
        let new = |s: &str| Step::Secret(NEW_PASSWORD_PROMPT, s.to_owned());
        let again = |s: &str| Step::Secret(RETYPE_PASSWORD_PROMPT, s.to_owned());
        let current = |s: &str| Step::Secret(CURRENT_PASSWORD_PROMPT, s.to_owned());
        // Too short for the default policy (8).
        let mut conv = Script::new(
            "alice",
            vec![
                current("Old-password-1"),
                new("short"),
                again("short"),
                Step::Error("Password refused"),
            ],
        );
        assert_eq!(
            change_password(&mut conv, &f.options, change, t0()),
            Outcome::PasswordRejected
        );
        // Mismatch.
        let mut conv = Script::new(
            "alice",
            vec![
                current("Old-password-1"),
                new("New-password-1"),
                again("New-password-2"),
                Step::Error("Sorry"),
            ],
        );
        assert_eq!(
            change_password(&mut conv, &f.options, change, t0()),
            Outcome::PasswordRejected
        );
        // Wrong current password.
        let mut conv = Script::new("alice", vec![current("guess"), denied()]);
        assert_eq!(
            change_password(&mut conv, &f.options, change, t0()),
            Outcome::AuthFailed
        );
        // Reuse of the current password, when the policy forbids reuse.
        let mut policy = PasswordPolicy {
            password_reuse_prevention: Some(3),
            ..PasswordPolicy::default()
        };
        f.store.set_password_policy(&policy).unwrap();
        let mut conv = Script::new(
            "alice",
            vec![
                current("Old-password-1"),
                new("Old-password-1"),
                again("Old-password-1"),
                Step::Error("Password refused"),
            ],
        );
        assert_eq!(
            change_password(&mut conv, &f.options, change, t0()),
            Outcome::PasswordRejected
        );
        // A good one.
        let mut conv = Script::new(
            "alice",
            vec![
                current("Old-password-1"),
                new("New-password-1"),
                again("New-password-1"),
            ],
        );
        assert_eq!(
            change_password(&mut conv, &f.options, change, t0()),
            Outcome::Success
        );
        let mut conv = Script::new("alice", vec![]);
        assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Success);
        assert_eq!(f.last_event()["eventName"], "ChangePassword");

        // Max age: 30 days later the password is expired again.
        policy.max_password_age = Some(30);
        f.store.set_password_policy(&policy).unwrap();
        let mut conv = Script::new("alice", vec![Step::Error("Your password has expired")]);
        assert_eq!(
            account(&mut conv, &f.options, at(31 * 86400)),
            Outcome::NewPasswordRequired
        );
        policy.hard_expiry = true;
        f.store.set_password_policy(&policy).unwrap();
        let mut conv = Script::new("alice", vec![denied()]);
        assert_eq!(
            account(&mut conv, &f.options, at(31 * 86400)),
            Outcome::AccountDisabled
        );
    }

    /// Issue 11, item 7: `chauthtok` counts wrong current passwords under
    /// the login's lockout rule and refuses a locked user, even with the
    /// right current password; the lock is the login's too. A right current
    /// password forgets no failure (it is one factor).
    #[test]
    fn wrong_current_passwords_count_and_a_locked_user_cannot_change_it() {
        let f = Fixture::new("[lockout]\ndeny = 3\nunlock_time = \"15m\"\n");
        f.user("alice", Some("Old-password-1"));
        let policy = PasswordPolicy {
            allow_users_to_change_password: true,
            ..PasswordPolicy::default()
        };
        f.store.set_password_policy(&policy).unwrap();
        let change = PasswordChange {
            preliminary: false,
            expired_only: false,
            by_root: false,
        };
        let current = |s: &str| Step::Secret(CURRENT_PASSWORD_PROMPT, s.to_owned());
        let new = |s: &str| Step::Secret(NEW_PASSWORD_PROMPT, s.to_owned());
        let again = |s: &str| Step::Secret(RETYPE_PASSWORD_PROMPT, s.to_owned());
        let failures = || {
            f.store
                .lock_state("alice", &lockout(3), at(10))
                .unwrap()
                .failures
        };
        // One wrong, then the right one: counted, and not forgotten.
        let mut conv = Script::new("alice", vec![current("guess-0"), denied()]);
        assert_eq!(
            change_password(&mut conv, &f.options, change, t0()),
            Outcome::AuthFailed
        );
        assert_eq!(f.last_event()["errorMessage"], "wrong current password");
        let mut conv = Script::new(
            "alice",
            vec![
                current("Old-password-1"),
                new("New-password-1"),
                again("New-password-1"),
            ],
        );
        assert_eq!(
            change_password(&mut conv, &f.options, change, at(1)),
            Outcome::Success
        );
        assert_eq!(failures(), 1);
        // Two more wrong ones lock the user...
        for i in 2..4 {
            let mut conv = Script::new("alice", vec![current("guess"), denied()]);
            assert_eq!(
                change_password(&mut conv, &f.options, change, at(i)),
                Outcome::AuthFailed
            );
        }
        assert_eq!(
            f.last_event()["errorMessage"],
            "wrong current password; user now locked out"
        );
        // ...and then even the right current password is refused, here
        // and at the login.
        let mut conv = Script::new("alice", vec![current("New-password-1"), denied()]);
        assert_eq!(
            change_password(&mut conv, &f.options, change, at(4)),
            Outcome::AuthFailed
        );
        assert_eq!(f.last_event()["errorMessage"], "user is locked out");
        assert_eq!(failures(), 3);
        let mut conv = Script::new(
            "alice",
            vec![password("New-password-1"), code(""), denied()],
        );
        assert_eq!(
            authenticate(&mut conv, &f.options, at(5)),
            Outcome::AuthFailed
        );
    }

    #[test]
    fn setcred_maps_iam_groups_to_local_groups() {
        let f = Fixture::new("[group_map]\ndevelopers = [\"docker\", \"adm\"]\nops = [\"adm\"]\n");
        f.user("alice", None);
        let alice = UserName::parse("alice").unwrap();
        for group in ["developers", "ops", "unmapped"] {
            let group = GroupName::parse(group).unwrap();
            f.store
                .create_group(&group, &IamPath::root(), t0())
                .unwrap();
            f.store.add_user_to_group(&alice, &group).unwrap();
        }
        let mut conv = Script::new("alice", vec![]);
        let mut groups = local_groups(&mut conv, &f.options).unwrap();
        groups.sort();
        assert_eq!(groups, ["adm", "docker"]);
        let mut conv = Script::new("nobody-here", vec![]);
        assert_eq!(local_groups(&mut conv, &f.options), Err(Outcome::Ignore));
    }

    #[test]
    fn sessions_are_audited_and_recorded() {
        let f = Fixture::new("");
        f.user("alice", Some("pw-alice-1"));
        let secret = f.mfa("alice");
        let mut conv = Script::new(
            "alice",
            vec![password("pw-alice-1"), code(&code_at(&secret, t0()))],
        );
        assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
        let id = conv.auth_id().unwrap();
        let mut conv = conv.then(vec![]);
        assert_eq!(open_session(&mut conv, &f.options, at(2)), Outcome::Success);
        let login = f.last_event();
        assert_eq!(login["eventName"], "Login");
        assert_eq!(login["sourceIPAddress"], "192.0.2.10");
        assert_eq!(login["additionalEventData"]["MFAUsed"], "Yes");
        assert_eq!(login["requestParameters"]["service"], "sshd");
        let sessions = f.store.list_login_sessions(Some("alice"), true).unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].mfa_time, Some(t0().timestamp()));
        assert_eq!(sessions[0].pid, Some(std::process::id()));
        // The record is used up.
        assert_eq!(f.store.get_auth_record(&id).unwrap(), None);
        let mut conv = Script::new("alice", vec![]);
        assert_eq!(
            close_session(&mut conv, &f.options, at(60)),
            Outcome::Success
        );
        assert_eq!(f.last_event()["eventName"], "Logout");
        assert!(
            f.store
                .list_login_sessions(Some("alice"), true)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn fails_closed_on_a_missing_or_unsafe_host() {
        let f = Fixture::new("");
        f.user("alice", Some("pw-alice-1"));
        let mut missing = f.options.clone();
        missing.config = f.dir.path().join("nope.toml");
        let mut conv = Script::new("alice", vec![]);
        assert_eq!(
            authenticate(&mut conv, &missing, t0()),
            Outcome::Unavailable
        );

        let db = f.dir.path().join("iam.db");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut conv = Script::new("alice", vec![]);
        assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Unavailable);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();

        let garbage = f.dir.path().join("garbage.db");
        std::fs::write(&garbage, b"not a database at all, just bytes").unwrap();
        std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
        let good = std::fs::read_to_string(&f.options.config).unwrap();
        std::fs::write(&f.options.config, good.replace("iam.db", "garbage.db")).unwrap();
        let mut conv = Script::new("alice", vec![]);
        assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Unavailable);

        std::fs::write(
            &f.options.config,
            "account_id = \"123456789012\"\nbogus = 1\n",
        )
        .unwrap();
        let mut conv = Script::new("alice", vec![]);
        assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Unavailable);

        assert_eq!(refuse_options("unknown option \"x\""), Outcome::Unavailable);
    }

    #[test]
    fn combined_answers_split_only_on_six_trailing_digits() {
        let split = |s: &str| {
            split_combined(&s.into()).map(|(p, c)| (p.expose().to_owned(), c.expose().to_owned()))
        };
        assert_eq!(
            split("hunter2123456"),
            Some(("hunter2".into(), "123456".into()))
        );
        assert_eq!(split("123456"), None);
        assert_eq!(split("pw12345x"), None);
        assert_eq!(split("pwé123456"), Some(("pwé".into(), "123456".into())));
        assert_eq!(split("12345"), None);
    }
}
