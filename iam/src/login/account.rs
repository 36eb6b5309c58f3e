//! `pam_sm_acct_mgmt`: the `host:Login` decision.

use chrono::{DateTime, Utc};

use super::*;
use crate::audit::UserIdentity;
use crate::policy::Decision;
use crate::principal::Principal;
use crate::request::{LoginRequest, login_context};
use crate::store::UserStatus;

/// `pam_sm_acct_mgmt`: may this IAM user log in here, now, from there?
/// Decided by `host:Login` on this host's ARN with its request context
/// ([`crate::request::login_context`], `host:AuthMethod` included); a key
/// login first needs the key sshd accepted to be an active IAM key of the
/// user. Then `require_mfa` and password expiry.
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
    // A key login: the key sshd accepted (when it has listed it) must be
    // an active IAM key of this user, whatever file sshd found it in.
    let KeyLogin { keys, method } =
        match host.key_login(conv, &user, &identity, &origin, record.as_ref(), now) {
            Ok(login) => login,
            Err(outcome) => return outcome,
        };
    // Denials say how the user got in and name the key when sshd has
    // listed it (after publickey alone it lists it only for the session).
    let with_key = |reason: String| match (key_evidence(&keys), method.as_deref()) {
        (Some((id, fingerprint)), _) => {
            format!("{reason} (SSH public key {id}, MD5 {fingerprint})")
        }
        (None, Some(method)) => format!("{reason} (host:AuthMethod {method})"),
        (None, None) => reason,
    };
    let principal =
        match Principal::for_user(host.directory(), host.directory().account_id(), &user.name) {
            Ok(principal) => principal,
            Err(e) => {
                // A stored policy that no longer parses fails closed.
                host.report(&format!(
                    "acct_mgmt: cannot load the policies of {name}: {e}"
                ));
                return Outcome::Unavailable;
            }
        };
    let context = login_context(
        &principal,
        &LoginRequest {
            now,
            mfa_at: mfa_time,
            source_ip: origin.source_ip(),
            secure_transport: origin.secure_transport(),
            service: &origin.service,
            tty: origin.tty.as_deref(),
            auth_method: method.as_deref(),
            hostname: &host.config.hostname,
            host_tags: &host.config.host_tags,
        },
    );
    let resource = host.config.host_arn();
    let response = principal.authorize(LOGIN_ACTION, &resource, &context);
    if response.decision != Decision::Allowed {
        let deciding = crate::audit::deciding_statements(&response);
        let reason = with_key(match response.decision {
            Decision::ExplicitDeny => format!("{LOGIN_ACTION} on {resource}: explicitly denied"),
            _ => format!("{LOGIN_ACTION} on {resource}: no statement allows it (implicit deny)"),
        });
        host.login_denied(conv, &identity, &origin, &reason, &deciding, now);
        return Outcome::PermissionDenied;
    }
    if host.config.login.require_mfa && mfa_time.is_none() {
        let reason = with_key("require_mfa: this login did not pass an MFA check".to_owned());
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

/// The action every login asks for.
pub const LOGIN_ACTION: &str = "host:Login";
