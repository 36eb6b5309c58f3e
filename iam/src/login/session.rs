//! `pam_sm_setcred`, `pam_sm_open_session`, `pam_sm_close_session`.

use chrono::{DateTime, Utc};

use super::account::{Admitted, admit};
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
    // stage: see `ssh`): the last gate of an sshd login (`admit`).
    let identity = UserIdentity::iam_user(host.account_id(), &user.arn, &name);
    let Admitted { keys, method } = match admit(
        &host,
        conv,
        Stage::Session,
        &user,
        &origin,
        record.as_ref(),
        now,
    ) {
        Ok(admitted) => admitted,
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
