//! `pam_sm_setcred`, `pam_sm_open_session`, `pam_sm_close_session`.

use chrono::{DateTime, Utc};

use super::account::{Login, decide_login};
use super::*;
use crate::audit::{PamEvent, UserIdentity};
use crate::store::LoginSession;

/// `pam_sm_setcred`: the local groups `[group_map]` grants for the user's
/// IAM groups. The PAM glue adds them to the process's groups.
pub fn local_groups(
    conv: &mut dyn Conversation,
    options: &Options,
) -> Result<Vec<String>, Outcome> {
    let (host, name, _, user) = Host::begin(conv, options)?
        .known(conv, OnUnknown::RefuseQuietly)?
        .into_parts();
    let groups = host.directory().groups_for_user(&user.name).map_err(|e| {
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

/// `pam_sm_open_session`: the last gate of an sshd login (how it got in,
/// proven: `ssh`), then the `Login` audit event and a login-session record
/// (`iamctl list-sessions`, `aws:MultiFactorAuthAge` later on).
pub fn open_session(conv: &mut dyn Conversation, options: &Options, now: DateTime<Utc>) -> Outcome {
    let (host, name, origin, user) = match Host::begin_known(conv, options, now) {
        Ok(begun) => begun.into_parts(),
        Err(outcome) => return outcome,
    };
    let record = match host.auth_record(conv, &user, &origin, Stage::Session, now) {
        Ok(record) => record,
        Err(outcome) => return outcome,
    };
    let mfa_time = record.as_ref().and_then(|r| r.mfa_time);
    // sshd has listed every method by now (not always in the account
    // stage: see `ssh`): a key must be an active IAM key of the user, and
    // an sshd login must have shown one, or pam_iam's authentication, or
    // the session does not start.
    let identity = UserIdentity::iam_user(host.account_id(), &user.arn, &name);
    let KeyLogin { keys, how } =
        match host.key_login(conv, &user, &identity, &origin, record.as_ref(), now) {
            Ok(login) => login,
            Err(outcome) => return outcome,
        };
    let method = match how {
        HowIn::Shown(method) => method,
        HowIn::Unproven => {
            let reason = "sshd let this login in by a method pam_iam cannot verify (neither a pam_iam authentication nor an SSH public key of this IAM user: hostbased, GSSAPI)";
            host.login_denied(conv, &identity, &origin, reason, &[], now);
            return Outcome::PermissionDenied;
        }
    };
    // A key login without pam_iam: acct_mgmt could not see the key, so
    // host:Login is decided here, with the method sshd has now proven.
    if record.is_none() && !keys.is_empty() {
        let shown = Login {
            user: &user,
            identity: &identity,
            origin: &origin,
            mfa_time,
            method: method.as_deref(),
            keys: &keys,
        };
        if let Err(outcome) = decide_login(&host, conv, &shown, now) {
            return outcome;
        }
    }
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
    if let Err(e) = host.db.ledger().open_login_session(&session) {
        host.report(&format!(
            "open_session: cannot record the session of {name}: {e}"
        ));
        return Outcome::Unavailable;
    }
    let mfa_used = mfa_time.is_some();
    host.audit(
        PamEvent::LoginSucceeded {
            mfa_used,
            auth_method: method.as_deref(),
            ssh_key: key_evidence(&keys),
        },
        &identity,
        &origin,
        now,
    );
    Outcome::Success
}

/// `pam_sm_close_session`: ends the login-session record, audits `Logout`.
pub fn close_session(
    conv: &mut dyn Conversation,
    options: &Options,
    now: DateTime<Utc>,
) -> Outcome {
    let (host, name, origin, user) = match Host::begin_known(conv, options, now) {
        Ok(begun) => begun.into_parts(),
        Err(outcome) => return outcome,
    };
    if let Err(e) = host.db.ledger().close_login_session_for(
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
    host.audit(PamEvent::Logout, &identity, &origin, now);
    Outcome::Success
}
