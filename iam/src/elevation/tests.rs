use super::*;
use crate::names::{RoleSessionName, UserName};
use crate::policy::{Context, Decision, Explanation, Policy, PolicyKind, PolicySet};
use crate::request::{RequestFacts, assume_role_context, run_as_context};
use crate::store::{LockoutRule, Store};
use crate::totp;
use chrono::TimeZone;
use chrono::{DateTime, Utc};

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_764_072_000 + s, 0).unwrap()
}

#[test]
fn duration_defaults_to_an_hour_and_is_bounded_like_aws() {
    let b = DurationBounds::for_role(None, None);
    assert_eq!(
        b,
        DurationBounds {
            min: 900,
            max: 3600
        }
    );
    assert_eq!(b.duration(None), Ok(3600));
    assert_eq!(b.duration(Some(900)), Ok(900));
    assert_eq!(b.duration(Some(3600)), Ok(3600));
    assert_eq!(
        b.duration(Some(899)),
        Err(ElevationError::DurationTooShort {
            requested: 899,
            min: 900
        })
    );
    assert_eq!(
        b.duration(Some(3601)),
        Err(ElevationError::DurationTooLong {
            requested: 3601,
            max: 3600
        })
    );
    assert_eq!(b.duration(Some(-5)).unwrap_err().code(), "ValidationError");
    let long = DurationBounds::for_role(Some(43_200), None);
    assert_eq!(long.duration(Some(43_200)), Ok(43_200));
    assert!(long.duration(Some(43_201)).is_err());
    // A role record cannot push the ceiling past AWS's, nor below an hour.
    assert_eq!(DurationBounds::for_role(Some(10_000_000), None).max, 43_200);
    assert_eq!(DurationBounds::for_role(Some(60), None).max, 3600);
}

#[test]
fn test_minimum_only_lowers_the_floor() {
    let b = DurationBounds::for_role(None, Some(3));
    assert_eq!(b.duration(Some(3)), Ok(3));
    assert!(b.duration(Some(2)).is_err());
    assert_eq!(DurationBounds::for_role(None, Some(5000)).min, 900);
    assert_eq!(DurationBounds::for_role(None, Some(-1)).min, 1);
}

#[test]
fn session_names_follow_aws_rules() {
    for ok in ["ab", "alice", "a+b=c,d.e@f-g_h", &"x".repeat(64)] {
        assert!(session_name(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "a",
        "has space",
        "semi;colon",
        "sl/ash",
        "ünï",
        &"x".repeat(65),
    ] {
        assert_eq!(
            session_name(bad),
            Err(ElevationError::InvalidSessionName),
            "{bad}"
        );
    }
}

#[test]
fn default_session_name_is_valid_and_names_the_user() {
    let n = default_session_name("alice", t(0)).unwrap();
    assert_eq!(n.as_str(), "alice-1764072000");
    let long = default_session_name(&"u".repeat(64), t(0)).unwrap();
    assert_eq!(long.as_str().len(), 64);
    assert!(default_session_name("", t(0)).is_ok());
}

#[test]
fn expiration_prints_aws_style() {
    assert_eq!(iso8601(expiration(t(0), 900)), "2025-11-25T12:15:00+00:00");
}

#[test]
fn run_as_comes_from_role_tags() {
    assert_eq!(
        RunAs::from_tags([]).unwrap(),
        RunAs {
            user: "root".into(),
            groups: vec![]
        }
    );
    let r = RunAs::from_tags([
        ("Host:RunAs", "deploy"),
        ("host:Groups", " docker, adm ,docker,,"),
        ("env", "prod"),
    ])
    .unwrap();
    assert_eq!(r.user, "deploy");
    assert_eq!(r.groups, vec!["docker", "adm"]);
    assert_eq!(
        RunAs::from_tags([("host:RunAs", "../etc")]),
        Err(ElevationError::InvalidRunAs)
    );
    assert_eq!(
        RunAs::from_tags([("host:RunAs", "-o")]),
        Err(ElevationError::InvalidRunAs)
    );
    assert_eq!(
        RunAs::from_tags([("host:Groups", "ok,b ad")]),
        Err(ElevationError::InvalidGroup("b ad".into()))
    );
}

#[test]
fn commands_are_bounded() {
    assert!(check_command(&["id".into(), "-u".into()]).is_ok());
    assert_eq!(
        check_command(&vec!["x".repeat(100); 2000]),
        Err(ElevationError::CommandTooLong)
    );
    assert_eq!(
        check_command(&["y".repeat(MAX_COMMAND_BYTES)]),
        Err(ElevationError::CommandTooLong)
    );
    assert_eq!(
        check_command(&["a\0b".into()]),
        Err(ElevationError::CommandHasNul)
    );
}

const ACCT: &str = "123456789012";
const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
const ROLE: &str = "arn:aws:iam::123456789012:role/admin";
const HOST: &str = "arn:aws:host::123456789012:host/web-1";

fn policy(name: &str, kind: PolicyKind, json: &str) -> Policy {
    Policy::parse(name, json, kind).unwrap()
}

fn trust(principal: &str, condition: &str) -> Policy {
    policy(
        "trust",
        PolicyKind::Trust,
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Trust","Effect":"Allow",
            "Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"{condition}}}]}}"#
        ),
    )
}

fn identity(json: &str) -> PolicySet {
    PolicySet {
        identity: vec![policy("alice-policy", PolicyKind::UserInline, json)],
        boundary: None,
        resource: vec![],
    }
}

const ALLOW_ASSUME: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"MayAssume",
    "Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/*"}]}"#;
const NOTHING: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
    "Action":"s3:GetObject","Resource":"*"}]}"#;

fn role_policies(condition: &str) -> PolicySet {
    PolicySet {
        identity: vec![policy(
            "run-as",
            PolicyKind::RoleInline,
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"RunHere","Effect":"Allow",
                "Action":"host:RunAs","Resource":"arn:aws:host::123456789012:host/*"{condition}}}]}}"#
            ),
        )],
        boundary: None,
        resource: vec![],
    }
}

struct Case {
    caller: PolicySet,
    trust: Policy,
    role: PolicySet,
    mfa_at: Option<i64>,
    duration: i64,
    host_env: &'static str,
}

impl Case {
    fn new(caller: &str, trust_policy: Policy) -> Self {
        Self {
            caller: identity(caller),
            trust: trust_policy,
            role: role_policies(""),
            mfa_at: None,
            duration: 3600,
            host_env: "prod",
        }
    }

    /// Decides; returns the verdict, the message, and mfa_would_allow.
    fn run(&self) -> (Verdict, Option<String>, bool) {
        let name = RoleSessionName::parse("ops").unwrap();
        let facts = RequestFacts {
            now: t(0),
            mfa_at: self.mfa_at,
            source_ip: Some("192.0.2.7"),
            hostname: "web-1",
            duration_seconds: self.duration,
            session_name: &name,
        };
        let mut base = Context::new();
        base.set("aws:username", "alice");
        base.set("aws:PrincipalArn", ALICE);
        let assume = assume_role_context(&base, &facts, [("team", "ops")]);
        let mut role_base = Context::new();
        role_base.set("aws:PrincipalArn", ROLE);
        let run_as = run_as_context(&role_base, &facts, [("env", self.host_env)]);
        let session_arn = format!("arn:aws:sts::{ACCT}:assumed-role/admin/ops");
        let q = AssumeRoleQuestion {
            caller_arn: ALICE,
            caller: &self.caller,
            role_arn: ROLE,
            trust: &self.trust,
            assume_context: &assume,
            session_arn: &session_arn,
            role: &self.role,
            host_arn: HOST,
            run_as_context: &run_as,
        };
        let v = q.decide();
        let msg = q.denial_message(&v);
        (v, msg, q.mfa_would_allow())
    }
}

#[test]
fn trust_naming_the_user_suffices_naming_the_account_needs_identity() {
    let (v, msg, _) = Case::new(NOTHING, trust(ALICE, "")).run();
    assert!(v.is_allowed(), "{msg:?}");
    let (v, _, _) = Case::new(ALLOW_ASSUME, trust("arn:aws:iam::123456789012:root", "")).run();
    assert!(v.is_allowed());
    let (v, msg, _) = Case::new(NOTHING, trust("arn:aws:iam::123456789012:root", "")).run();
    assert!(matches!(
        v,
        Verdict::AssumeDenied {
            why: Explanation::TrustAdmitsAccountOnly,
            ..
        }
    ));
    assert!(
        msg.unwrap()
            .contains("no identity-based policy allows the sts:AssumeRole action")
    );
}

#[test]
fn a_trust_policy_naming_someone_else_denies() {
    let bob = "arn:aws:iam::123456789012:user/bob";
    let (v, msg, mfa) = Case::new(ALLOW_ASSUME, trust(bob, "")).run();
    assert!(matches!(
        v,
        Verdict::AssumeDenied {
            why: Explanation::TrustDoesNotAdmit { .. },
            ..
        }
    ));
    assert_eq!(
        msg.unwrap(),
        format!(
            "User: {ALICE} is not authorized to perform: sts:AssumeRole on resource: {ROLE} because the role's trust policy does not allow it"
        )
    );
    assert!(!mfa, "a code would not help");
}

#[test]
fn an_explicit_deny_wins_and_is_named() {
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoRoles","Effect":"Deny",
        "Action":"sts:*","Resource":"*"}]}"#;
    let (v, msg, _) = Case::new(deny, trust(ALICE, "")).run();
    assert_eq!(v.deciding().decision, Decision::ExplicitDeny);
    assert!(
        msg.unwrap()
            .contains("explicit deny in policy alice-policy statement \"NoRoles\"")
    );
}

#[test]
fn mfa_conditions_see_the_login_or_a_fresh_code() {
    let need_mfa = r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"},
        "NumericLessThan":{"aws:MultiFactorAuthAge":"300"}}"#;
    let mut case = Case::new(NOTHING, trust(ALICE, need_mfa));
    let (v, _, mfa) = case.run();
    assert!(!v.is_allowed());
    assert!(mfa, "a fresh code would allow: prompt for one");
    case.mfa_at = Some(t(-100).timestamp());
    assert!(case.run().0.is_allowed(), "MFA at login 100 s ago");
    case.mfa_at = Some(t(-3000).timestamp());
    let (v, _, mfa) = case.run();
    assert!(!v.is_allowed() && mfa, "stale MFA: ask again");
}

#[test]
fn role_tags_are_resource_tags_of_assume_role() {
    let mut case = Case::new(
        NOTHING,
        trust(
            ALICE,
            r#","Condition":{"StringEquals":{"aws:ResourceTag/team":"ops","iam:ResourceTag/team":"ops"}}"#,
        ),
    );
    assert!(case.run().0.is_allowed());
    case.trust = trust(
        ALICE,
        r#","Condition":{"StringEquals":{"aws:ResourceTag/team":"dev"}}"#,
    );
    assert!(!case.run().0.is_allowed());
}

#[test]
fn duration_and_session_name_are_condition_keys() {
    let short_only = r#","Condition":{"NumericLessThanEquals":{"sts:DurationSeconds":"900"},
        "StringLike":{"sts:RoleSessionName":"op*"}}"#;
    let mut case = Case::new(NOTHING, trust(ALICE, short_only));
    case.duration = 900;
    assert!(case.run().0.is_allowed());
    case.duration = 901;
    assert!(!case.run().0.is_allowed());
}

#[test]
fn run_as_is_limited_by_host_tags() {
    let mut case = Case::new(NOTHING, trust(ALICE, ""));
    case.role = role_policies(r#","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}"#);
    assert!(case.run().0.is_allowed());
    case.host_env = "dev";
    let (v, msg, mfa) = case.run();
    assert!(matches!(v, Verdict::RunAsDenied { .. }));
    assert_eq!(
        msg.unwrap(),
        format!(
            "Role: {ROLE} is not authorized to perform: host:RunAs on resource: {HOST} because no permissions policy of the role allows host:RunAs on this host"
        )
    );
    assert!(!mfa);
}

#[test]
fn the_test_lifetime_key_is_root_configured_and_bounded() {
    let path = std::path::Path::new("/etc/iam/iam.toml");
    let base = "account_id = \"123456789012\"\nhostname = \"h\"\n";
    let c = crate::config::HostConfig::parse(base, path).unwrap();
    assert_eq!(c.elevation.test_min_duration_seconds, None);
    let c = crate::config::HostConfig::parse(
        &format!("{base}[elevation]\ntest_min_duration_seconds = 3\n"),
        path,
    )
    .unwrap();
    assert_eq!(c.elevation.test_min_duration_seconds, Some(3));
    for bad in ["0", "901", "-1"] {
        assert!(
            crate::config::HostConfig::parse(
                &format!("{base}[elevation]\ntest_min_duration_seconds = {bad}\n"),
                path
            )
            .is_err()
        );
    }
}

#[test]
fn mfa_codes_work_once_and_failures_lock_out() {
    use crate::names::{AccountId, IamPath, MfaDeviceName};
    use crate::secret::SecretBytes;
    use crate::store::NewUser;
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::create(&dir.path().join("iam.db"), &AccountId::parse(ACCT).unwrap()).unwrap();
    let now = t(0);
    let alice = UserName::parse("alice").unwrap();
    let bob = UserName::parse("bob").unwrap();
    for u in [&alice, &bob] {
        store.create_user(&NewUser::new(u.clone()), now).unwrap();
    }
    let secret = SecretBytes::new(b"12345678901234567890".to_vec());
    let device = store
        .create_virtual_mfa_device(
            &MfaDeviceName::parse("alice").unwrap(),
            &IamPath::root(),
            &secret,
            now,
        )
        .unwrap();
    let serial = device.serial_number.clone();
    assert!(matches!(
        mfa_devices_for(&store, &alice, None),
        Err(MfaFailure::NoDevice(_))
    ));
    // Enabled with the codes of the two previous steps.
    let step_now = totp::step_at(now).unwrap();
    store
        .enable_mfa_device(&alice, &serial, step_now - 1, now)
        .unwrap();
    assert_eq!(
        mfa_devices_for(&store, &alice, None).unwrap()[0].serial_number,
        serial
    );
    assert!(matches!(
        mfa_devices_for(&store, &bob, Some(&serial)),
        Err(MfaFailure::NotYourDevice { .. })
    ));
    let rule = LockoutRule {
        deny: 3,
        fail_interval: 900,
        unlock_time: 900,
    };
    let check = |code: &str| {
        let devices = mfa_devices_for(&store, &alice, Some(&serial)).unwrap();
        check_mfa_code(
            &store.ledger(),
            &alice,
            &devices,
            &code.into(),
            &rule,
            1,
            now,
        )
    };
    let code = totp::code_at(&secret, now.timestamp() as u64);
    let wrong = if code.expose() == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert!(matches!(check(wrong), Err(MfaFailure::InvalidCode)));
    assert!(check(code.expose()).is_ok());
    assert!(matches!(check(code.expose()), Err(MfaFailure::Replayed)));
    assert!(matches!(check(wrong), Err(MfaFailure::InvalidCode)));
    // Three failures: locked, even with a fresh code.
    let next = totp::code_at(&secret, now.timestamp() as u64 + 30);
    assert!(matches!(
        check(next.expose()),
        Err(MfaFailure::LockedOut(_))
    ));
    assert_eq!(
        store
            .ledger()
            .lock_state("alice", &rule, now)
            .unwrap()
            .failures,
        2 + 1
    );
    // Decided by the login's rule (Ledger::settle_attempt): the locked
    // attempt was not counted and burnt no code.
    store.ledger().reset_failures("alice").unwrap();
    assert!(
        check(next.expose()).is_ok(),
        "the locked attempt took the step"
    );
}

/// assume-role (and STS AssumeRole) take a code of any of the user's
/// enabled devices when no `SerialNumber` names one; naming one takes that
/// device's codes only.
#[test]
fn a_code_of_any_enabled_device_counts_unless_a_serial_names_one() {
    use crate::names::{AccountId, IamPath, MfaDeviceName};
    use crate::secret::SecretBytes;
    use crate::store::NewUser;
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::create(&dir.path().join("iam.db"), &AccountId::parse(ACCT).unwrap()).unwrap();
    let now = t(0);
    let alice = UserName::parse("alice").unwrap();
    store
        .create_user(&NewUser::new(alice.clone()), now)
        .unwrap();
    let step_now = totp::step_at(now).unwrap();
    let mut devices = Vec::new();
    for (name, seed) in [
        ("phone", b"12345678901234567890"),
        ("key", b"abcdefghijklmnopqrst"),
    ] {
        let secret = SecretBytes::new(seed.to_vec());
        let device = store
            .create_virtual_mfa_device(
                &MfaDeviceName::parse(name).unwrap(),
                &IamPath::root(),
                &secret,
                now,
            )
            .unwrap();
        store
            .enable_mfa_device(&alice, &device.serial_number, step_now - 1, now)
            .unwrap();
        devices.push((device.serial_number, secret));
    }
    let rule = LockoutRule {
        deny: 10,
        fail_interval: 900,
        unlock_time: 900,
    };
    let check = |serial: Option<&str>, secret: &SecretBytes, at: DateTime<Utc>| {
        let found = mfa_devices_for(&store, &alice, serial).unwrap();
        let code = totp::code_at(secret, at.timestamp() as u64);
        check_mfa_code(&store.ledger(), &alice, &found, &code, &rule, 1, at)
    };
    let (phone, key) = (&devices[0], &devices[1]);
    assert_eq!(mfa_devices_for(&store, &alice, None).unwrap().len(), 2);
    assert!(check(None, &key.1, now).is_ok());
    assert!(check(None, &phone.1, now).is_ok());
    // Named: only that device's code.
    assert!(matches!(
        check(Some(&phone.0), &key.1, t(30)),
        Err(MfaFailure::InvalidCode)
    ));
    assert!(check(Some(&key.0), &key.1, t(30)).is_ok());
}

/// `host:RunAs` is asked with the session's `sts:DurationSeconds`: a
/// role's permission policy can bound how long a session runs (the bound
/// validate-policy asks of a RunAs that may reach root).
#[test]
fn run_as_sees_the_session_duration() {
    let bounded = r#","Condition":{"NumericLessThanEquals":{"sts:DurationSeconds":"3600"}}"#;
    let mut case = Case::new(NOTHING, trust(ALICE, ""));
    case.role = role_policies(bounded);
    let (v, msg, _) = case.run();
    assert!(v.is_allowed(), "{msg:?}");
    case.duration = 7200;
    let (v, _, _) = case.run();
    assert!(matches!(v, Verdict::RunAsDenied { .. }));
}
