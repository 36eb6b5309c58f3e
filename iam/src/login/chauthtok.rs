//! `pam_sm_chauthtok`: a new password under the account password policy.

use chrono::{DateTime, Utc};

use super::*;
use crate::audit::{PamEvent, UserIdentity};
use crate::factors::{CurrentPassword, check_current_password};
use crate::ledger::Outgoing;
use crate::password::{self, PasswordPolicy};
use crate::store::{LoginProfile, StoreError};

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
    let (host, name, origin, user) = match Host::begin_known(conv, options, now) {
        Ok(begun) => begun.into_parts(),
        Err(outcome) => return outcome,
    };
    let identity = UserIdentity::iam_user(host.account_id(), &user.arn, &name);
    let audit_change = |refusal: Option<&str>| {
        host.audit(
            PamEvent::ChangePassword { refusal },
            &identity,
            &origin,
            now,
        );
    };
    let profile = match host.directory().get_login_profile(&user.name) {
        Ok(profile) => profile,
        Err(StoreError::NoSuchEntity { .. }) => {
            conv.error(DENIED);
            audit_change(Some("user has no login profile"));
            return Outcome::PermissionDenied;
        }
        Err(e) => {
            host.report(&format!(
                "chauthtok: cannot read the login profile of {name}: {e}"
            ));
            return Outcome::Unavailable;
        }
    };
    let policy = match host.directory().get_password_policy() {
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
        audit_change(Some(reason));
        return Outcome::PermissionDenied;
    }
    // A replica's directory is the fleet's: a password set here would be
    // overwritten by the next sync and never reach the other hosts.
    match host.db.is_replica() {
        Ok(false) => {}
        Ok(true) => {
            conv.error(
                "Passwords of this fleet are changed at its directory (iam-server), \
                 not on a host.",
            );
            audit_change(Some("the host's directory is a fleet replica"));
            return Outcome::PermissionDenied;
        }
        Err(e) => {
            host.report(&format!("chauthtok: cannot read the store: {e}"));
            return Outcome::Unavailable;
        }
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
            &host.db.ledger(),
            &host.config.lockout,
            user.name.as_str(),
            &profile.password_hash,
            &current,
            now,
        );
        host.drain();
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
            audit_change(Some(reason));
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
        audit_change(Some("new passwords did not match"));
        return Outcome::PasswordRejected;
    }
    let mut previous = vec![profile.password_hash.clone()];
    let history = policy.password_reuse_prevention.unwrap_or(0);
    match host.directory().password_history(&user.name, history) {
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
        audit_change(Some(&violation.to_string()));
        return Outcome::PasswordRejected;
    }
    // Queued in the ledger for the directory of record and drained at once:
    // on a single host that applies it to the local directory, so the new
    // password works at the next prompt.
    let stored = password::hash_password(&new)
        .map_err(|e| e.to_string())
        .and_then(|hash| {
            let change = Outgoing::Password {
                user: user.id.clone(),
                hash,
                reset_required: false,
                keep_history: history,
                at: now.timestamp(),
            };
            // Queued and drained in one transaction: a change that cannot
            // be applied now is not left queued to land later over what an
            // administrator did meanwhile.
            host.db
                .ledger()
                .atomically(|l| {
                    l.queue(&change)?;
                    host.db.drain().map(drop)
                })
                .map_err(|e| e.to_string())
        });
    if let Err(e) = stored {
        host.report(&format!(
            "chauthtok: cannot store the new password of {name}: {e}"
        ));
        return Outcome::Unavailable;
    }
    audit_change(None);
    Outcome::Success
}

/// Whether a login profile's password is still good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PasswordState {
    Current,
    /// Reset required by an administrator, or older than `MaxPasswordAge`.
    MustChange,
    /// Older than `MaxPasswordAge` with `HardExpiry`: only an administrator
    /// can help.
    HardExpired,
}

pub(super) fn password_state(
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
