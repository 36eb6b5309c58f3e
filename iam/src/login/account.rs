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
/// ([`crate::request::login_context`]);
/// then `require_mfa` and password expiry.
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
    let mfa_time = match host.mfa_time(conv, &user, &origin, Stage::Account, now) {
        Ok(mfa_time) => mfa_time,
        Err(outcome) => return outcome,
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
            hostname: &host.config.hostname,
            host_tags: &host.config.host_tags,
        },
    );
    let resource = host.config.host_arn();
    let response = principal.authorize(LOGIN_ACTION, &resource, &context);
    if response.decision != Decision::Allowed {
        let deciding = crate::audit::deciding_statements(&response);
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
