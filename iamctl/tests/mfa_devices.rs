//! Issue 15, MFA devices: several virtual devices per user (AWS's limit of
//! eight), `resync-mfa-device` (AWS's parameters and errors) and recovery
//! codes (ours), through the built iamctl with codes from oathtool.

#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};

fn serial(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:mfa/{name}")
}

/// A virtual MFA device `name`; returns its base32 seed.
fn create_device(env: &Env, name: &str) -> String {
    let seed_file = env.path(&format!("{name}.seed"));
    env.ok(&[
        "create-virtual-mfa-device",
        "--virtual-mfa-device-name",
        name,
        "--outfile",
        seed_file.to_str().unwrap(),
        "--bootstrap-method",
        "Base32StringSeed",
    ]);
    std::fs::read_to_string(&seed_file)
        .unwrap()
        .trim()
        .to_owned()
}

fn enable(env: &Env, user: &str, name: &str, (c1, c2): (String, String)) -> Run {
    env.run(&[
        "enable-mfa-device",
        "--user-name",
        user,
        "--serial-number",
        &serial(name),
        "--authentication-code1",
        &c1,
        "--authentication-code2",
        &c2,
    ])
}

fn resync(env: &Env, user: &str, name: &str, (c1, c2): (&str, &str)) -> Run {
    env.run(&[
        "resync-mfa-device",
        "--user-name",
        user,
        "--serial-number",
        &serial(name),
        "--authentication-code1",
        c1,
        "--authentication-code2",
        c2,
    ])
}

fn listed(env: &Env, user: &str) -> Vec<String> {
    let m = env.ok(&["list-mfa-devices", "--user-name", user]);
    m["MFADevices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["SerialNumber"].as_str().unwrap().to_owned())
        .collect()
}

/// AWS: "You can register up to eight MFA devices of any combination of
/// the currently supported MFA types with your AWS account root user and
/// IAM users"; EnableMFADevice beyond that is `LimitExceeded`, and nothing
/// changes. `list-mfa-devices` shows all eight.
#[test]
fn a_ninth_mfa_device_is_refused_with_limit_exceeded() {
    if !require_root("a_ninth_mfa_device_is_refused_with_limit_exceeded") {
        return;
    }
    let env = Env::new();
    env.ok(&["create-user", "--user-name", "alice"]);
    let mut names = Vec::new();
    for i in 1..=8 {
        let name = format!("alice-{i}");
        let seed = create_device(&env, &name);
        let r = enable(&env, "alice", &name, two_codes(&seed));
        assert_eq!(r.code, 0, "device {i}: {}", r.stderr);
        names.push(serial(&name));
    }
    let mut shown = listed(&env, "alice");
    shown.sort();
    names.sort();
    assert_eq!(shown, names);
    let seed = create_device(&env, "alice-9");
    let before = env.dump();
    let r = enable(&env, "alice", "alice-9", two_codes(&seed));
    assert_ne!(r.code, 0);
    assert!(
        r.stderr
            .starts_with("LimitExceeded: Cannot exceed quota for MFADevicesPerUser: 8"),
        "{}",
        r.stderr
    );
    assert_eq!(
        before,
        env.dump(),
        "a refused ninth device changed the store"
    );
    // Deactivating one makes room again.
    env.ok(&[
        "deactivate-mfa-device",
        "--user-name",
        "alice",
        "--serial-number",
        &serial("alice-1"),
    ]);
    let r = enable(&env, "alice", "alice-9", two_codes(&seed));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(listed(&env, "alice").len(), 8);
}

/// ResyncMFADevice with two consecutive codes of a device whose clock runs
/// ten minutes fast: the drift is kept with the device. Codes that are not
/// the device's, not consecutive, or already used are refused with AWS's
/// `InvalidAuthenticationCode` and change nothing; another user's device
/// is `NoSuchEntity`.
#[test]
fn resync_mfa_device_keeps_the_drift_and_refuses_wrong_codes() {
    if !require_root("resync_mfa_device_keeps_the_drift_and_refuses_wrong_codes") {
        return;
    }
    let env = Env::new();
    env.ok(&["create-user", "--user-name", "alice"]);
    env.ok(&["create-user", "--user-name", "bob"]);
    let seed = create_device(&env, "alice");
    assert_eq!(enable(&env, "alice", "alice", two_codes(&seed)).code, 0);
    let now = clear_of_step_end(6);
    let fast = |t: i64| oathtool(&seed, t + 600);
    let (c1, c2) = (fast(now - 30), fast(now));
    let before = env.dump();
    for (a, b, why) in [
        (c2.as_str(), c1.as_str(), "reversed"),
        ("123456", "654321", "not the device's"),
        (c1.as_str(), c1.as_str(), "not consecutive"),
    ] {
        let r = resync(&env, "alice", "alice", (a, b));
        assert!(
            r.stderr.starts_with(
                "InvalidAuthenticationCode: Authentication code for device is not valid."
            ),
            "{why}: {}",
            r.stderr
        );
        assert_eq!(before, env.dump(), "{why}: the store changed");
    }
    let r = resync(&env, "bob", "alice", (&c1, &c2));
    assert!(r.stderr.starts_with("NoSuchEntity: "), "{}", r.stderr);
    assert_eq!(before, env.dump());

    let r = resync(&env, "alice", "alice", (&c1, &c2));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let drift = std::process::Command::new("sqlite3")
        .arg(env.db())
        .arg("SELECT drift_steps FROM mfa_devices WHERE name = 'alice'")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&drift.stdout).trim(), "20");
    // The later code's step is used up (no login with it); the ledger
    // keeps the last step used per device.
    let step = std::process::Command::new("sqlite3")
        .arg(env.db())
        .arg(format!(
            "SELECT step FROM totp_steps WHERE serial = '{}'",
            serial("alice")
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&step.stdout).trim(),
        ((now + 600) / 30).to_string()
    );
    let audit = std::fs::read_to_string(env.path("audit.log")).unwrap();
    let events: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let synced: Vec<&Value> = events
        .iter()
        .filter(|e| e["eventName"] == "ResyncMFADevice")
        .collect();
    assert!(synced.iter().any(|e| e.get("errorCode").is_none()
        && e["requestParameters"]
            == json!({"userName": "alice", "serialNumber": serial("alice")})));
    assert!(
        synced
            .iter()
            .any(|e| e["errorCode"] == "InvalidAuthenticationCode")
    );
    assert!(
        !audit.contains(&c1) && !audit.contains(&c2),
        "codes in the audit log"
    );
}

/// create-recovery-codes prints ten codes once; the store holds none of
/// them; a new set replaces the old; get-recovery-codes-status counts what
/// is left.
#[test]
fn recovery_codes_are_printed_once_and_only_their_hashes_kept() {
    if !require_root("recovery_codes_are_printed_once_and_only_their_hashes_kept") {
        return;
    }
    let env = Env::new();
    env.ok(&["create-user", "--user-name", "alice"]);
    let status = env.ok(&["get-recovery-codes-status", "--user-name", "alice"]);
    assert_eq!(
        status,
        json!({"RecoveryCodesStatus": {"UserName": "alice", "Remaining": 0}})
    );
    let made = env.ok(&["create-recovery-codes", "--user-name", "alice"]);
    let codes: Vec<String> = made["RecoveryCodes"]["Codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(made["RecoveryCodes"]["UserName"], "alice");
    let dump = env.dump();
    let audit = std::fs::read_to_string(env.path("audit.log")).unwrap();
    for code in &codes {
        assert!(
            code.len() == 19 && code.split('-').all(|g| g.len() == 4),
            "{code}"
        );
        let letters = code.replace('-', "");
        assert!(!dump.contains(&letters) && !dump.contains(code.as_str()));
        assert!(!audit.contains(&letters) && !audit.contains(code.as_str()));
    }
    let status = env.ok(&["get-recovery-codes-status", "--user-name", "alice"]);
    assert_eq!(status["RecoveryCodesStatus"]["Remaining"], 10);
    assert_eq!(
        status["RecoveryCodesStatus"]["CreateDate"],
        made["RecoveryCodes"]["CreateDate"]
    );
    let again = env.ok(&["create-recovery-codes", "--user-name", "alice"]);
    assert_ne!(
        again["RecoveryCodes"]["Codes"],
        made["RecoveryCodes"]["Codes"]
    );
    let sets = std::process::Command::new("sqlite3")
        .arg(env.db())
        .arg("SELECT count(*) FROM recovery_codes")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&sets.stdout).trim(), "1");
    let before = env.dump();
    let r = env.run(&["create-recovery-codes", "--user-name", "nobody"]);
    assert!(r.stderr.starts_with("NoSuchEntity: "), "{}", r.stderr);
    assert_eq!(before, env.dump());
    // Deleting the user takes the codes along (they are ours, not AWS's).
    env.ok(&["delete-user", "--user-name", "alice"]);
    let sets = std::process::Command::new("sqlite3")
        .arg(env.db())
        .arg("SELECT count(*) FROM recovery_codes")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&sets.stdout).trim(), "0");
}
