//! Issue 15, MFA devices, through a real sshd (Debian's OpenSSH) loading the
//! built pam_iam.so, driven by paramiko keyboard-interactive
//! (tests/sshd_driver.py) with codes from oathtool: a second device's code
//! logs in, `resync-mfa-device` fixes a device whose clock drifted, and a
//! recovery code logs in once.
//!
//! Test code: a failed step should stop the test loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs;

use e2e::{
    Host, PublishedAccounts, SshLogin, Sshd, ensure_nsswitch_extrausers, host_lock, oathtool,
    require_root, shipped_stack, unique, wait_for_fresh_step,
};
use serde_json::Value;

/// An IAM user allowed to log in with password and one MFA device.
fn user(host: &Host, name: &str, password: &str) -> String {
    host.add_user(name, Some(password));
    host.allow_login(name);
    host.add_mfa(name)
}

fn login(sshd: &Sshd, name: &str, password: &str, code: &str) -> Value {
    sshd.login(&SshLogin {
        user: name.to_owned(),
        password: Some(password.into()),
        code: Some(code.into()),
        ..SshLogin::default()
    })
}

fn sshd(host: &Host) -> Sshd {
    Sshd::start(
        host,
        &shipped_stack("sshd-password-totp"),
        "password-totp.conf",
        "",
    )
}

/// AWS lets a user have several MFA devices; a code of any of them logs in,
/// each device with its own replay counter: the second device's code, then
/// the first device's code of the same 30 s step, both log in; the second
/// device's code again does not.
#[test]
fn a_second_mfa_devices_code_logs_in_over_ssh() {
    if !require_root("a_second_mfa_devices_code_logs_in_over_ssh") {
        return;
    }
    let _lock = host_lock();
    ensure_nsswitch_extrausers();
    let host = Host::new("");
    let name = unique("sshd2");
    let password = "pw-Secret-mfa-1";
    let phone = user(&host, &name, password);
    let key = host.add_mfa_device(&name, "key");
    let devices = host.iamctl(&["list-mfa-devices", "--user-name", &name]);
    assert_eq!(devices["MFADevices"].as_array().unwrap().len(), 2);
    let _accounts = PublishedAccounts::publish(&host);
    let sshd = sshd(&host);

    wait_for_fresh_step(12);
    let second = login(&sshd, &name, password, &oathtool(&key, 0));
    assert_eq!(second["ok"], true, "{second}\n{}", sshd.log());
    let first = login(&sshd, &name, password, &oathtool(&phone, 0));
    assert_eq!(first["ok"], true, "{first}\n{}", sshd.log());
    let again = login(&sshd, &name, password, &oathtool(&key, 0));
    assert_eq!(again["ok"], false, "a replayed code logged in: {again}");
    let logins = host.events_for(&name, "Login");
    let ok: Vec<&Value> = logins
        .iter()
        .filter(|e| e["additionalEventData"]["MFAUsed"] == "Yes")
        .collect();
    assert_eq!(ok.len(), 2, "{logins:?}");
    assert!(
        logins
            .iter()
            .any(|e| e["errorMessage"] == "replayed verification code")
    );
}

/// A phone whose clock runs ten minutes fast: its codes are refused until
/// `resync-mfa-device` (two consecutive codes, as AWS's) finds the drift;
/// then its next code logs in. A wrong pair is AWS's
/// `InvalidAuthenticationCode` and leaves the device as it was.
#[test]
fn resync_mfa_device_fixes_a_drifted_device_over_ssh() {
    if !require_root("resync_mfa_device_fixes_a_drifted_device_over_ssh") {
        return;
    }
    let _lock = host_lock();
    ensure_nsswitch_extrausers();
    let host = Host::new("");
    let name = unique("sshdr");
    let password = "pw-Secret-mfa-2";
    let seed = user(&host, &name, password);
    let serial = format!("arn:aws:iam::123456789012:mfa/{name}-phone");
    let _accounts = PublishedAccounts::publish(&host);
    let sshd = sshd(&host);

    wait_for_fresh_step(15);
    // Ten minutes fast: the code of the step 20 ahead.
    let refused = login(&sshd, &name, password, &oathtool(&seed, 20));
    assert_eq!(refused["ok"], false, "{refused}");
    let resync = |c1: &str, c2: &str| {
        host.try_iamctl(
            &[
                "resync-mfa-device",
                "--user-name",
                &name,
                "--serial-number",
                &serial,
                "--authentication-code1",
                c1,
                "--authentication-code2",
                c2,
            ],
            "",
        )
    };
    let wrong = resync(&oathtool(&seed, 20), &oathtool(&seed, 19));
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).starts_with("InvalidAuthenticationCode: "),
        "{wrong:?}"
    );
    let still = login(&sshd, &name, password, &oathtool(&seed, 21));
    assert_eq!(still["ok"], false, "{still}");
    let ok = resync(&oathtool(&seed, 19), &oathtool(&seed, 20));
    assert!(ok.status.success(), "{ok:?}");
    let after = login(&sshd, &name, password, &oathtool(&seed, 21));
    assert_eq!(after["ok"], true, "{after}\n{}", sshd.log());
    assert_eq!(
        host.events_for(&name, "Login").last().unwrap()["additionalEventData"]["MFAUsed"],
        "Yes"
    );
}

/// A recovery code (ours) at the `Verification code:` prompt logs in once,
/// counts as MFA, is audited as `RecoveryCodeUsed`; the same code again is
/// refused; `get-recovery-codes-status` shows nine left.
#[test]
fn a_recovery_code_logs_in_once_over_ssh() {
    if !require_root("a_recovery_code_logs_in_once_over_ssh") {
        return;
    }
    let _lock = host_lock();
    ensure_nsswitch_extrausers();
    let host = Host::new("[login]\nrequire_mfa = true\n");
    let name = unique("sshdc");
    let password = "pw-Secret-mfa-3";
    user(&host, &name, password);
    let made = host.iamctl(&["create-recovery-codes", "--user-name", &name]);
    let code = made["RecoveryCodes"]["Codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let _accounts = PublishedAccounts::publish(&host);
    let sshd = sshd(&host);

    let first = login(&sshd, &name, password, &code);
    assert_eq!(first["ok"], true, "{first}\n{}", sshd.log());
    assert_eq!(
        first["prompts"],
        serde_json::json!(["Password: ", "Verification code: "])
    );
    // The user is told how many are left by PAM's info message, which
    // OpenSSH shows as the login's message on an interactive session (not
    // on this exec); the scripted-conversation test checks its text.
    let used = host.events_for(&name, "RecoveryCodeUsed");
    assert_eq!(used.len(), 1);
    assert_eq!(used[0]["additionalEventData"]["RecoveryCodesRemaining"], 9);
    assert_eq!(used[0]["sourceIPAddress"], "127.0.0.1");
    let login_event = host.events_for(&name, "Login").pop().unwrap();
    assert_eq!(login_event["additionalEventData"]["MFAUsed"], "Yes");
    let audit = fs::read_to_string(host.path().join("audit.log")).unwrap();
    assert!(!audit.contains(&code) && !audit.contains(&code.replace('-', "")));

    let second = login(&sshd, &name, password, &code);
    assert_eq!(
        second["ok"], false,
        "a recovery code logged in twice: {second}"
    );
    assert_eq!(
        host.events_for(&name, "Login").pop().unwrap()["errorMessage"],
        "replayed verification code"
    );
    let status = host.iamctl(&["get-recovery-codes-status", "--user-name", &name]);
    assert_eq!(status["RecoveryCodesStatus"]["Remaining"], 9);
}
