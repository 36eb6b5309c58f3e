//! Virtual MFA devices, enrolled as AWS does: create the device (seed shown
//! once, as a QR code or base32), then enable it for a user with two
//! consecutive codes.

use super::{parse_path, parse_tags, parse_user, user_or_caller};
use crate::cli::{self, AssignmentStatus, BootstrapMethod};
use crate::ctx::{Ctx, Origin};
use crate::error::CliError;
use crate::{qr, shapes};
use iam::names::{MfaDeviceName, mfa_arn};
use iam::secret::SecretString;
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

pub fn enable_mfa_device(ctx: &mut Ctx, a: &cli::EnableMfaDeviceArgs) -> Result<Value, CliError> {
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
    .ok_or_else(|| {
        CliError::new(
            "InvalidAuthenticationCode",
            "Authentication code for device is not valid.",
        )
    })?;
    ctx.commit(
        |_| json!({"userName": user.as_str(), "serialNumber": a.serial_number}),
        |s| s.enable_mfa_device(&user, &a.serial_number, step, ctx.now),
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
