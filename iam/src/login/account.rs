//! `pam_sm_acct_mgmt`: the `host:Login` decision.

use chrono::{DateTime, Utc};

use super::*;
use crate::audit::UserIdentity;
use crate::policy::Decision;
use crate::principal::Principal;
use crate::request::{LoginRequest, login_context};
use crate::store::{AuthRecord, SshPublicKey, User, UserStatus};

/// `pam_sm_acct_mgmt`: may this IAM user log in here, now, from there?
/// Decided by `host:Login` on this host's ARN ([`decide_login`]) once the
/// login has shown how it got in ([`admit`]); a key login first needs the
/// key sshd accepted to be an active IAM key of the user. Then
/// `require_mfa` and password expiry.
pub fn account(conv: &mut dyn Conversation, options: &Options, now: DateTime<Utc>) -> Outcome {
    let (host, name, origin, user) = match Host::begin_known(conv, options, now) {
        Ok(begun) => begun.into_parts(),
        Err(outcome) => return outcome,
    };
    let identity = UserIdentity::iam_user(host.account_id(), &user.arn, &name);
    if user.status == UserStatus::Disabled {
        host.login_denied(conv, &identity, &origin, "user is disabled", &[], now);
        return Outcome::AccountDisabled;
    }
    let record = match host.auth_record(conv, &user, &origin, Stage::Account, now) {
        Ok(record) => record,
        Err(outcome) => return outcome,
    };
    let mfa_time = record.as_ref().and_then(|r| r.mfa_time);
    let Admitted { keys, method } = match admit(
        &host,
        conv,
        Stage::Account,
        &user,
        &origin,
        record.as_ref(),
        now,
    ) {
        Ok(admitted) => admitted,
        Err(outcome) => return outcome,
    };
    if host.config.login.require_mfa && mfa_time.is_none() {
        let reason = with_key(
            "require_mfa: this login did not pass an MFA check".to_owned(),
            &keys,
            method.as_deref(),
        );
        host.login_denied(conv, &identity, &origin, &reason, &[], now);
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

/// What [`admit`] found: the IAM keys sshd accepted, and
/// `host:AuthMethod` (none while unproven).
pub(super) struct Admitted {
    pub(super) keys: Vec<SshPublicKey>,
    pub(super) method: Option<String>,
}

/// How a login got in (`Host::key_login`: sshd's keys, each an active IAM
/// key of the user, and `ssh::how_in`), and the `host:Login` decision
/// where this `stage` is the one to make it: the one rule of which stage
/// decides. `acct_mgmt` decides every login that has shown how it got in,
/// and leaves an sshd login without evidence to `open_session` (publickey
/// alone is named to PAM only there); `open_session` refuses a login still
/// without evidence, and decides a key login pam_iam did not authenticate
/// (`acct_mgmt` could not see its key).
pub(super) fn admit(
    host: &Host,
    conv: &mut dyn Conversation,
    stage: Stage,
    user: &User,
    origin: &Origin,
    record: Option<&AuthRecord>,
    now: DateTime<Utc>,
) -> Result<Admitted, Outcome> {
    let identity = UserIdentity::iam_user(host.account_id(), &user.arn, user.name.as_str());
    let KeyLogin { keys, how } = host.key_login(conv, user, &identity, origin, record, now)?;
    let method = match (how, stage) {
        (HowIn::Shown(method), _) => method,
        (HowIn::Unproven, Stage::Account) => {
            host.debug(&format!(
                "acct_mgmt: {}: no method shown yet; host:Login is decided in open_session",
                user.name
            ));
            return Ok(Admitted { keys, method: None });
        }
        (HowIn::Unproven, Stage::Session) => {
            let reason = "sshd let this login in by a method pam_iam cannot verify (neither a pam_iam authentication nor an SSH public key of this IAM user: hostbased, GSSAPI)";
            host.login_denied(conv, &identity, origin, reason, &[], now);
            return Err(Outcome::PermissionDenied);
        }
    };
    let decides = match stage {
        Stage::Account => true,
        Stage::Session => record.is_none() && !keys.is_empty(),
    };
    if !decides {
        return Ok(Admitted { keys, method });
    }
    let login = Login {
        user,
        identity: &identity,
        origin,
        mfa_time: record.and_then(|r| r.mfa_time),
        method: method.as_deref(),
        keys: &keys,
    };
    decide_login(host, conv, &login, now)?;
    Ok(Admitted { keys, method })
}

/// What a login has shown by the stage that decides it.
struct Login<'a> {
    user: &'a User,
    identity: &'a UserIdentity,
    origin: &'a Origin,
    mfa_time: Option<i64>,
    /// `host:AuthMethod`.
    method: Option<&'a str>,
    /// The IAM keys sshd accepted.
    keys: &'a [SshPublicKey],
}

/// `host:Login` on this host's ARN with its request context
/// ([`crate::request::login_context`], `host:AuthMethod` included): the one
/// decision, in the stage [`admit`] says. A denial is audited with its
/// deciding statements.
fn decide_login(
    host: &Host,
    conv: &mut dyn Conversation,
    login: &Login<'_>,
    now: DateTime<Utc>,
) -> Result<(), Outcome> {
    let name = login.user.name.as_str();
    let principal = match Principal::for_user(
        host.directory(),
        host.directory().account_id(),
        &login.user.name,
    ) {
        Ok(principal) => principal,
        Err(e) => {
            // A stored policy that no longer parses fails closed.
            host.report(&format!("cannot load the policies of {name}: {e}"));
            return Err(Outcome::Unavailable);
        }
    };
    let origin = login.origin;
    let context = login_context(
        &principal,
        &LoginRequest {
            now,
            mfa_at: login.mfa_time,
            source_ip: origin.source_ip(),
            secure_transport: origin.secure_transport(),
            service: &origin.service,
            tty: origin.tty.as_deref(),
            auth_method: login.method,
            hostname: &host.config.hostname,
            host_tags: &host.config.host_tags,
        },
    );
    let resource = host.config.host_arn();
    let response = principal.authorize(LOGIN_ACTION, &resource, &context);
    if response.decision == Decision::Allowed {
        return Ok(());
    }
    let deciding = crate::audit::deciding_statements(&response);
    let reason = with_key(
        match response.decision {
            Decision::ExplicitDeny => format!("{LOGIN_ACTION} on {resource}: explicitly denied"),
            _ => format!("{LOGIN_ACTION} on {resource}: no statement allows it (implicit deny)"),
        },
        login.keys,
        login.method,
    );
    host.login_denied(conv, login.identity, origin, &reason, &deciding, now);
    Err(Outcome::PermissionDenied)
}

/// A denial says how the user got in and names the key when sshd has
/// listed it.
fn with_key(reason: String, keys: &[SshPublicKey], method: Option<&str>) -> String {
    match (key_evidence(keys), method) {
        (Some((id, fingerprint)), _) => {
            format!("{reason} (SSH public key {id}, MD5 {fingerprint})")
        }
        (None, Some(method)) => format!("{reason} (host:AuthMethod {method})"),
        (None, None) => reason,
    }
}

/// The action every login asks for.
pub const LOGIN_ACTION: &str = "host:Login";
