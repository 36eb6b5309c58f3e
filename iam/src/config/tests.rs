use super::*;
use std::os::unix::fs::PermissionsExt;

fn parse(text: &str) -> Result<HostConfig, ConfigError> {
    HostConfig::parse(text, Path::new("/etc/iam/iam.toml"))
}

#[test]
fn minimal_config_takes_the_defaults() {
    let c = parse("account_id = \"123456789012\"\nhostname = \"web-1\"\n").unwrap();
    assert_eq!(c.account_id, "123456789012");
    assert_eq!(c.hostname, "web-1");
    assert_eq!(c.database, Path::new("/var/lib/iam/iam.db"));
    assert_eq!(c.audit_log, Path::new("/var/log/iam/audit.log"));
    assert!(c.host_tags.is_empty());
    assert_eq!(c.login, LoginConfig::default());
    assert_eq!(c.login.unknown_user, UnknownUser::Ignore);
    assert!(!c.login.require_mfa);
    assert_eq!(c.lockout, LockoutConfig::default());
    assert_eq!(c.lockout.deny, 5);
    assert_eq!(c.totp.skew_steps, 1);
    assert!(c.group_map.is_empty());
    assert_eq!(c.accounts.uid_range, (200_000, 299_999));
    assert_eq!(c.accounts.shell, Path::new("/bin/bash"));
    assert_eq!(c.accounts.home_for("alice"), Path::new("/home/alice"));
    assert_eq!(c.accounts.extrausers_dir, Path::new("/var/lib/extrausers"));
    assert_eq!(c.host_arn(), "arn:aws:host::123456789012:host/web-1");
}

#[test]
fn the_design_example_parses() {
    let text = r#"
account_id = "123456789012"
hostname   = "web-1"
database   = "/var/lib/iam/iam.db"
audit_log  = "/var/log/iam/audit.log"

[host_tags]
env = "prod"

[login]
require_mfa  = true
unknown_user = "deny"

[lockout]
deny = 3
fail_interval = "900s"
unlock_time   = "1h"

[totp]
skew_steps = 2

[group_map]
developers = ["docker"]
operators  = ["adm", "systemd-journal"]

[accounts]
uid_range = [300000, 399999]
shell = "/bin/sh"
home = "/srv/home/%u"
extrausers_dir = "/var/lib/extrausers"
"#;
    let c = parse(text).unwrap();
    assert_eq!(c.host_tags.get("env").map(String::as_str), Some("prod"));
    assert!(c.login.require_mfa);
    assert_eq!(c.login.unknown_user, UnknownUser::Deny);
    assert_eq!(c.lockout.deny, 3);
    assert_eq!(c.lockout.fail_interval, TimeDelta::seconds(900));
    assert_eq!(c.lockout.unlock_time, TimeDelta::hours(1));
    assert_eq!(c.totp.skew_steps, 2);
    assert_eq!(c.group_map["operators"], vec!["adm", "systemd-journal"]);
    assert_eq!(c.accounts.uid_range, (300_000, 399_999));
    assert_eq!(c.accounts.home_for("bob"), Path::new("/srv/home/bob"));
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let err =
        parse("account_id = \"123456789012\"\n\n[login]\nrequire_mfa = true\nrequire_mfo = true\n")
            .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line 5"), "{msg}");
    assert!(msg.contains("require_mfo"), "{msg}");

    let msg = parse("account_id = \"123456789012\"\nhostnme = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 2") && msg.contains("hostnme"), "{msg}");

    let msg = parse("account_id = \"123456789012\"\n[elevaton]\nx = 1\n")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 2") && msg.contains("elevaton"), "{msg}");
}

#[test]
fn bad_values_are_reported_with_their_line() {
    for (text, line, needle) in [
        ("account_id = \"12345\"\n", 1, "12 digits"),
        ("account_id = 123456789012\n", 1, "string"),
        ("hostname = \"h\"\n", 1, "account_id"),
        (
            "account_id = \"123456789012\"\n[lockout]\nunlock_time = \"15x\"\n",
            3,
            "unit",
        ),
        (
            "account_id = \"123456789012\"\n[lockout]\ndeny = 0\n",
            3,
            "deny",
        ),
        (
            "account_id = \"123456789012\"\n[totp]\nskew_steps = 11\n",
            3,
            "skew_steps",
        ),
        (
            "account_id = \"123456789012\"\n[login]\nunknown_user = \"allow\"\n",
            3,
            "allow",
        ),
        (
            "account_id = \"123456789012\"\n[accounts]\nuid_range = [5, 10]\n",
            3,
            "uid_range",
        ),
        (
            "account_id = \"123456789012\"\n[accounts]\nuid_range = [60000, 70000]\n",
            3,
            "65534",
        ),
        (
            "account_id = \"123456789012\"\n[accounts]\nshell = \"bash\"\n",
            3,
            "absolute",
        ),
        (
            "account_id = \"123456789012\"\n[accounts]\nhome = \"/home/%n\"\n",
            3,
            "%u",
        ),
        (
            "account_id = \"123456789012\"\n[group_map]\ndev = [\"a:b\"]\n",
            3,
            "group",
        ),
        ("account_id = \"123456789012\"\nbroken = \n", 2, ""),
    ] {
        let err = parse(text).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, ConfigError::Parse { line: l, .. } if l == line),
            "{text:?}: {msg}"
        );
        assert!(msg.contains(needle), "{text:?}: {msg}");
        assert!(msg.starts_with("/etc/iam/iam.toml: line"), "{msg}");
    }
}

#[test]
fn bad_hostname_is_refused() {
    let err = parse("account_id = \"123456789012\"\nhostname = \"a/b\"\n").unwrap_err();
    assert!(err.to_string().contains("hostname"), "{err}");
}

#[test]
fn default_hostname_is_the_kernel_hostname() {
    let c = parse("account_id = \"123456789012\"\n").unwrap();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(c.hostname, kernel.trim());
}

#[test]
fn durations() {
    assert_eq!(parse_duration("900s"), Ok(TimeDelta::seconds(900)));
    assert_eq!(parse_duration("15m"), Ok(TimeDelta::minutes(15)));
    assert_eq!(parse_duration("1h"), Ok(TimeDelta::hours(1)));
    assert_eq!(parse_duration("2d"), Ok(TimeDelta::days(2)));
    assert_eq!(parse_duration("30"), Ok(TimeDelta::seconds(30)));
    for bad in [
        "",
        "m",
        "0s",
        "-5m",
        "1.5h",
        "15 m",
        "9999999999999999999d",
        "400d",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?}");
    }
    let c = parse("account_id = \"123456789012\"\n[lockout]\nfail_interval = 60\n").unwrap();
    assert_eq!(c.lockout.fail_interval, TimeDelta::seconds(60));
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let text = "account_id = \"123456789012\"\ndatabase = \"iam.db\"\naudit_log = \"log/audit.log\"\n[accounts]\nextrausers_dir = \"eu\"\n";
    let c = HostConfig::parse(text, Path::new("/tmp/x/iam.toml")).unwrap();
    assert_eq!(c.database, Path::new("/tmp/x/iam.db"));
    assert_eq!(c.audit_log, Path::new("/tmp/x/log/audit.log"));
    assert_eq!(c.accounts.extrausers_dir, Path::new("/tmp/x/eu"));
    let c = HostConfig::parse(text, Path::new("iam.toml")).unwrap();
    assert_eq!(c.database, Path::new("./iam.db"));
}

#[test]
fn starter_config_parses_to_the_defaults() {
    let text = starter_config("210987654321").unwrap();
    let c = HostConfig::parse(&text, Path::new("/etc/iam/iam.toml")).unwrap();
    let minimal = parse("account_id = \"210987654321\"\n").unwrap();
    assert_eq!(c, minimal);
    assert!(starter_config("12").is_err());
}

fn write_config(dir: &Path, mode: u32) -> PathBuf {
    let path = dir.join("iam.toml");
    std::fs::write(&path, "account_id = \"123456789012\"\nhostname = \"h\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn load_accepts_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), 0o600);
    let c = HostConfig::load(&path).unwrap();
    assert_eq!(c.database, Path::new("/var/lib/iam/iam.db"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    HostConfig::load(&path).unwrap();
}

/// The trust rule itself is `trust`'s (and tested there); load applies
/// it, as a shared file, before reading a byte.
#[test]
fn load_reads_only_a_trusted_file() {
    use crate::trust::Problem;
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), 0o664);
    let err = HostConfig::load(&path).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Untrusted(TrustError::Untrusted {
                problem: Problem::Writable { mode: 0o664 },
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("refusing to use it"), "{err}");
    let path = write_config(dir.path(), 0o644);
    let link = dir.path().join("link.toml");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let err = HostConfig::load(&link).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    let err = HostConfig::load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(
        matches!(err, ConfigError::Untrusted(TrustError::Missing { .. })),
        "{err}"
    );
}

#[test]
fn load_refuses_an_oversized_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.toml");
    let mut text = String::from("account_id = \"123456789012\"\n");
    text.push_str(&"#".repeat(MAX_CONFIG_BYTES as usize));
    std::fs::write(&path, text).unwrap();
    let err = HostConfig::load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::TooLarge { .. }), "{err}");
}
