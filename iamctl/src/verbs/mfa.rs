//! Virtual MFA devices, enrolled as AWS does: create the device (seed shown
//! once, as a QR code or base32), then enable it for a user with two
//! consecutive codes.

use super::{parse_path, parse_tags, parse_user, user_or_caller};
use crate::cli::{self, AssignmentStatus, BootstrapMethod};
use crate::ctx::{Ctx, Origin};
use crate::error::CliError;
use crate::{qr, shapes};
use iam::names::{MfaDeviceName, UserName, mfa_arn};
use iam::recovery_codes::{CODES_PER_SET, RecoveryCodes};
use iam::secret::SecretString;
use iam::store::{EntityKind, StoreError};
use iam::totp;
use serde_json::{Value, json};

pub fn create_virtual_mfa_device(
    ctx: &mut Ctx,
    a: &cli::CreateVirtualMfaDeviceArgs,
) -> Result<Value, CliError> {
    let name = MfaDeviceName::parse(&a.virtual_mfa_device_name)?;
    let path = parse_path(a.path.as_deref())?;
    if !parse_tags(ctx, &a.tags.tags)?.is_empty() {
        return Err(CliError::invalid_input(
            "tags on MFA devices are not supported by this store",
        ));
    }
    ctx.authorize(&mfa_arn(&ctx.account, &path, &name))?;
    let secret =
        totp::generate_secret().map_err(|e| CliError::new("ServiceFailure", e.to_string()))?;
    let device = ctx.commit(
        |_| json!({"virtualMFADeviceName": name.as_str(), "path": path.as_str()}),
        |s| s.create_virtual_mfa_device(&name, &path, &secret, ctx.now),
    )?;
    let uri = totp::otpauth_uri(
        &format!("IAM {}", ctx.account),
        &format!("{name}@{}", ctx.account),
        &secret,
    );
    if ctx.origin == Origin::Api {
        // AWS's API: the seed in the response, as base32 text and as a QR
        // code (blobs, base64 on the wire).
        use base64::Engine as _;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        return Ok(json!({"VirtualMFADevice": {
            "SerialNumber": device.serial_number,
            "Base32StringSeed": b64(totp::secret_base32(&secret).expose().as_bytes()),
            "QRCodePNG": b64(&qr::png(uri.expose())?),
        }}));
    }
    match (&a.outfile, a.bootstrap_method) {
        (Some(out), Some(BootstrapMethod::QrCodePng)) => qr::write_png(uri.expose(), out)?,
        (Some(out), Some(BootstrapMethod::Base32StringSeed)) => {
            qr::write_private(out, totp::secret_base32(&secret).expose().as_bytes())?
        }
        _ => {
            // No file: enrol from the terminal. The seed goes to stderr so
            // stdout stays the device JSON.
            crate::say!("{}", qr::terminal(uri.expose())?);
            crate::say!("{}", uri.expose());
        }
    }
    Ok(json!({"VirtualMFADevice": {"SerialNumber": device.serial_number}}))
}

pub fn enable_mfa_device(ctx: &mut Ctx, a: &cli::MfaCodesArgs) -> Result<Value, CliError> {
    let user = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&user))?;
    ctx.store.get_user(&user)?;
    let device = ctx.store.get_mfa_device(&a.serial_number)?;
    let code1 = SecretString::from(a.authentication_code1.as_str());
    let code2 = SecretString::from(a.authentication_code2.as_str());
    let step = totp::verify_consecutive(
        &device.secret,
        &code1,
        &code2,
        ctx.now,
        ctx.config.totp.skew_steps,
    )
    .ok_or(StoreError::InvalidAuthenticationCode)?;
    ctx.commit(
        |_| json!({"userName": user.as_str(), "serialNumber": a.serial_number}),
        |s| s.enable_mfa_device(&user, &a.serial_number, step, ctx.now),
    )?;
    Ok(Value::Null)
}

/// `ResyncMFADevice`: two consecutive codes of a device whose clock
/// drifted, searched within `totp::RESYNC_WINDOW_STEPS`; the drift found is
/// kept with the device and every later check applies it. Wrong codes are
/// refused with AWS's `InvalidAuthenticationCode` and nothing changes.
pub fn resync_mfa_device(ctx: &mut Ctx, a: &cli::MfaCodesArgs) -> Result<Value, CliError> {
    let user = parse_user(&a.user_name)?;
    ctx.authorize(&ctx.user_arn(&user))?;
    let device = ctx.store.get_mfa_device(&a.serial_number)?;
    if device.user.as_ref() != Some(&user) {
        return Err(StoreError::NoSuchEntity {
            kind: EntityKind::MfaDevice,
            name: a.serial_number.clone(),
        }
        .into());
    }
    let parameters = || json!({"userName": user.as_str(), "serialNumber": a.serial_number});
    let code1 = SecretString::from(a.authentication_code1.as_str());
    let code2 = SecretString::from(a.authentication_code2.as_str());
    let Some((drift, step)) = totp::resync(&device.secret, &code1, &code2, ctx.now) else {
        let refused = StoreError::InvalidAuthenticationCode;
        ctx.audit_refused(parameters(), refused.aws_code(), &refused.to_string());
        return Err(refused.into());
    };
    ctx.commit(
        |_| parameters(),
        |s| s.resync_mfa_device(&user, &a.serial_number, drift, step),
    )?;
    Ok(Value::Null)
}

pub fn deactivate_mfa_device(
    ctx: &mut Ctx,
    a: &cli::DeactivateMfaDeviceArgs,
) -> Result<Value, CliError> {
    let Some(user) = user_or_caller(ctx, a.user_name.as_ref())? else {
        return Err(CliError::invalid_input(
            "--user-name is required when the caller is not an IAM user",
        ));
    };
    ctx.authorize(&ctx.user_arn(&user))?;
    ctx.commit(
        |_| json!({"userName": user.as_str(), "serialNumber": a.serial_number}),
        |s| s.deactivate_mfa_device(&user, &a.serial_number),
    )?;
    Ok(Value::Null)
}

pub fn delete_virtual_mfa_device(ctx: &mut Ctx, a: &cli::SerialNumber) -> Result<Value, CliError> {
    ctx.authorize(&a.serial_number)?;
    ctx.commit(
        |_| json!({"serialNumber": a.serial_number}),
        |s| s.delete_virtual_mfa_device(&a.serial_number),
    )?;
    Ok(Value::Null)
}

pub fn list_mfa_devices(ctx: &mut Ctx, a: &cli::OptUserName) -> Result<Value, CliError> {
    let Some(user) = user_or_caller(ctx, a.user_name.as_ref())? else {
        // Root and role sessions have no virtual MFA device on a host.
        return Ok(json!({"MFADevices": []}));
    };
    ctx.authorize(&ctx.user_arn(&user))?;
    let devices = ctx.store.list_mfa_devices(&user)?;
    Ok(json!({"MFADevices": devices.iter().map(shapes::mfa_device).collect::<Vec<_>>()}))
}

pub fn list_virtual_mfa_devices(
    ctx: &mut Ctx,
    a: &cli::ListVirtualMfaDevicesArgs,
) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    let assigned = match a.assignment_status {
        AssignmentStatus::Assigned => Some(true),
        AssignmentStatus::Unassigned => Some(false),
        AssignmentStatus::Any => None,
    };
    let mut list = Vec::new();
    for d in ctx.store.list_virtual_mfa_devices(assigned)? {
        let user = match &d.user {
            Some(u) => Some(ctx.store.get_user(u)?),
            None => None,
        };
        list.push(shapes::virtual_mfa_device(&d, user.as_ref()));
    }
    Ok(json!({"VirtualMFADevices": list}))
}

/// The caller's own user, or the one named; root and role sessions have no
/// recovery codes of their own.
fn recovery_codes_user(ctx: &Ctx, a: &cli::OptUserName) -> Result<UserName, CliError> {
    user_or_caller(ctx, a.user_name.as_ref())?.ok_or_else(|| {
        CliError::invalid_input("--user-name is required when the caller is not an IAM user")
    })
}

/// `create-recovery-codes` (ours): ten single-use codes, printed once;
/// only their keyed hashes are stored (`iam::recovery_codes`), and the set
/// replaces any earlier one. Authorized as `iam:CreateRecoveryCodes` on
/// the user's ARN, so a policy can let users make their own.
pub fn create_recovery_codes(ctx: &mut Ctx, a: &cli::OptUserName) -> Result<Value, CliError> {
    let user = recovery_codes_user(ctx, a)?;
    ctx.authorize(&ctx.user_arn(&user))?;
    let new = RecoveryCodes::generate(ctx.now.timestamp())
        .map_err(|e| CliError::new("ServiceFailure", e.to_string()))?;
    ctx.commit(
        |_| json!({"userName": user.as_str()}),
        |s| s.put_recovery_codes(&user, &new.set),
    )?;
    Ok(json!({"RecoveryCodes": {
        "UserName": user.as_str(),
        "CreateDate": shapes::date(new.set.create_date),
        "Codes": new.codes.iter().map(|c| c.expose()).collect::<Vec<_>>(),
    }}))
}

/// `get-recovery-codes-status` (ours): how many of the user's recovery
/// codes are left (`iam:GetRecoveryCodesStatus` on the user's ARN).
pub fn get_recovery_codes_status(ctx: &mut Ctx, a: &cli::OptUserName) -> Result<Value, CliError> {
    let user = recovery_codes_user(ctx, a)?;
    ctx.authorize(&ctx.user_arn(&user))?;
    let Some(set) = ctx.store.recovery_codes(&user)? else {
        return Ok(json!({"RecoveryCodesStatus": {"UserName": user.as_str(), "Remaining": 0}}));
    };
    let used = ctx.store.ledger().recovery_codes_used(&set.set_id)?;
    Ok(json!({"RecoveryCodesStatus": {
        "UserName": user.as_str(),
        "CreateDate": shapes::date(set.create_date),
        "Remaining": CODES_PER_SET.saturating_sub(used),
    }}))
}
