//! SSH public keys, AWS's `UploadSSHPublicKey` family: a user's keys for
//! logging in to this host (sshd reads the active ones from the published
//! projection, `iam::publish::ssh_keys`). Each verb is authorized on the
//! user's ARN, so `iam:UploadSSHPublicKey` on `${aws:username}` is
//! self-service, as in AWS's own example policy.

use super::{parse_user, user_or_caller};
use crate::cli::{self, KeyEncoding, KeyStatus};
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::{shapes, sshkey};
use iam::names::{UniqueIdKind, UserName, new_unique_id};
use iam::store::{AccessKeyStatus, NewSshPublicKey, SshPublicKey};
use serde_json::{Value, json};

pub fn upload_ssh_public_key(
    ctx: &mut Ctx,
    a: &cli::UploadSshPublicKeyArgs,
) -> Result<Value, CliError> {
    let user = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&user))?;
    let body = ctx.document(&a.ssh_public_key_body)?;
    let parsed = sshkey::parse(&body).inspect_err(|e| {
        let error = CliError::from(e.clone());
        ctx.audit_refused(
            json!({"userName": user.as_str()}),
            &error.code,
            &error.message,
        );
    })?;
    let key = NewSshPublicKey {
        body: parsed.openssh(),
        fingerprint: parsed.md5_fingerprint(),
    };
    let id = new_unique_id(UniqueIdKind::SshPublicKey)
        .map_err(|e| CliError::new("ServiceFailure", e.to_string()))?;
    let stored = ctx.commit(
        |k: &SshPublicKey| {
            json!({"userName": user.as_str(), "sSHPublicKeyId": k.id, "fingerprint": k.fingerprint})
        },
        |s| s.upload_ssh_public_key(&user, &id, &key, ctx.now),
    )?;
    ctx.publish_ssh_keys_of(&user)?;
    Ok(json!({"SSHPublicKey": shapes::ssh_public_key(&stored, &stored.body)}))
}

pub fn list_ssh_public_keys(ctx: &mut Ctx, a: &cli::OptUserName) -> Result<Value, CliError> {
    let Some(user) = user_or_caller(ctx, a.user_name.as_ref())? else {
        // Root and role sessions have no SSH public keys of their own.
        return Ok(json!({"SSHPublicKeys": [], "IsTruncated": false}));
    };
    ctx.authorize(&ctx.user_arn(&user))?;
    let keys = ctx.store.list_ssh_public_keys(&user)?;
    Ok(json!({
        "SSHPublicKeys": keys.iter().map(shapes::ssh_public_key_metadata).collect::<Vec<_>>(),
        "IsTruncated": false,
    }))
}

pub fn get_ssh_public_key(ctx: &mut Ctx, a: &cli::GetSshPublicKeyArgs) -> Result<Value, CliError> {
    let user = owner(ctx, &a.key)?;
    let key = ctx
        .store
        .get_ssh_public_key(&user, &a.key.ssh_public_key_id)?;
    let body = match a.encoding {
        KeyEncoding::Ssh => key.body.clone(),
        // Stored keys were parsed on upload; one that no longer parses is
        // a corrupt row.
        KeyEncoding::Pem => sshkey::parse(&key.body)
            .and_then(|k| k.pem())
            .map_err(|e| {
                CliError::new("ServiceFailure", format!("stored key {}: {e:?}", key.id))
            })?,
    };
    Ok(json!({"SSHPublicKey": shapes::ssh_public_key(&key, &body)}))
}

pub fn update_ssh_public_key(
    ctx: &mut Ctx,
    a: &cli::UpdateSshPublicKeyArgs,
) -> Result<Value, CliError> {
    let user = owner(ctx, &a.key)?;
    let status = match a.status {
        KeyStatus::Active => AccessKeyStatus::Active,
        KeyStatus::Inactive => AccessKeyStatus::Inactive,
    };
    ctx.commit(
        |_| {
            json!({"userName": user.as_str(), "sSHPublicKeyId": a.key.ssh_public_key_id,
                   "status": status.as_str()})
        },
        |s| s.update_ssh_public_key(&user, &a.key.ssh_public_key_id, status),
    )?;
    ctx.publish_ssh_keys_of(&user)?;
    Ok(Value::Null)
}

pub fn delete_ssh_public_key(
    ctx: &mut Ctx,
    a: &cli::SshPublicKeyIdArgs,
) -> Result<Value, CliError> {
    let user = owner(ctx, a)?;
    ctx.commit(
        |_| json!({"userName": user.as_str(), "sSHPublicKeyId": a.ssh_public_key_id}),
        |s| s.delete_ssh_public_key(&user, &a.ssh_public_key_id),
    )?;
    ctx.publish_ssh_keys_of(&user)?;
    Ok(Value::Null)
}

/// The user a key verb names, authorized on its ARN.
fn owner(ctx: &Ctx, a: &cli::SshPublicKeyIdArgs) -> Result<UserName, CliError> {
    let user = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&user))?;
    Ok(user)
}
