//! Host configuration: `iam.toml` (README.md, "Configuration reference").
//!
//! The file decides which account a host belongs to, where the store and the
//! audit log live and how logins are checked, so it is read fail-closed:
//! [`HostConfig::load`] reads it only once [`crate::trust`] trusts it (the
//! rule every reader of the host's files shares), every unknown key is an
//! error naming the key and its line, and every value is checked here rather
//! than where it is used.
//!
//! Relative paths (`database`, `audit_log`, `accounts.extrausers_dir`,
//! `accounts.authorized_keys_dir`) are
//! resolved against the directory that holds the config file, so a test can
//! put a whole installation in one temporary directory.

mod agent;

pub use agent::{AGENT_CONFIG_FILE, AgentConfig, DEFAULT_AGENT_CONFIG_PATH, ServerUrl};

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::trust::{self, Contents, TrustError};

use chrono::TimeDelta;
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Where the file lives by default.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/iam/iam.toml";

/// A config file is a few KiB; anything larger is not ours.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// More than this many ± steps would accept codes minutes old.
pub const MAX_SKEW_STEPS: u8 = 10;

/// Everything that can be wrong with the host configuration. Messages name
/// the file, and for content errors the line, so an operator can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file, or a directory on the way to it, is not trusted.
    #[error(transparent)]
    Untrusted(#[from] TrustError),
    #[error("{path}: refusing to use it: larger than {MAX_CONFIG_BYTES} bytes")]
    TooLarge { path: PathBuf },
    #[error("{path}: line {line}, column {column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// What `pam_iam` answers for a user name the directory does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownUser {
    /// `PAM_IGNORE`: the rest of the stack (local accounts) decides.
    #[default]
    Ignore,
    /// Fail the login.
    Deny,
}

/// `[login]`
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginConfig {
    /// A user without an MFA device cannot log in on this host.
    pub require_mfa: bool,
    pub unknown_user: UnknownUser,
}

/// `[lockout]`, pam_faillock semantics: `deny` failures within
/// `fail_interval` lock the user for `unlock_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutConfig {
    pub deny: u32,
    pub fail_interval: TimeDelta,
    pub unlock_time: TimeDelta,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        Self {
            deny: 5,
            fail_interval: TimeDelta::minutes(15),
            unlock_time: TimeDelta::minutes(15),
        }
    }
}

/// `[totp]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpConfig {
    /// ± 30 s steps accepted around now (clock drift between phone and host).
    pub skew_steps: u8,
}

impl Default for TotpConfig {
    fn default() -> Self {
        Self { skew_steps: 1 }
    }
}

/// `[accounts]`: how IAM users and groups become Linux accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountsConfig {
    /// Inclusive range of UIDs/GIDs handed out to IAM users and groups.
    pub uid_range: (u32, u32),
    pub shell: PathBuf,
    /// Home directory template; `%u` is the user name, `%%` a literal `%`.
    pub home: String,
    pub extrausers_dir: PathBuf,
    /// Where IAM users' active SSH public keys are published for sshd, one
    /// file per user, named by uid (`AuthorizedKeysFile DIR/%U`).
    pub authorized_keys_dir: PathBuf,
}

impl AccountsConfig {
    /// The home directory of `user_name` per the `home` template.
    pub fn home_for(&self, user_name: &str) -> PathBuf {
        let mut out = String::with_capacity(self.home.len() + user_name.len());
        let mut chars = self.home.chars();
        while let Some(c) = chars.next() {
            if c == '%' {
                // `parse` admits only `%u` and `%%`.
                match chars.next() {
                    Some('u') => out.push_str(user_name),
                    Some(other) => out.push(other),
                    None => {}
                }
            } else {
                out.push(c);
            }
        }
        PathBuf::from(out)
    }
}

/// The parsed, validated `iam.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// 12 ASCII digits.
    pub account_id: String,
    pub hostname: String,
    pub database: PathBuf,
    pub audit_log: PathBuf,
    /// `aws:ResourceTag/*` for host actions on this host.
    pub host_tags: BTreeMap<String, String>,
    pub login: LoginConfig,
    pub lockout: LockoutConfig,
    pub totp: TotpConfig,
    /// IAM group name -> local Linux groups granted at login.
    pub group_map: BTreeMap<String, Vec<String>>,
    pub accounts: AccountsConfig,
    /// `[elevation]` (added by the elevate branch for assume-role).
    pub elevation: ElevationConfig,
}

/// `[elevation]`: assume-role settings (added by the elevate branch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ElevationConfig {
    /// For tests only: lowers the 900 s floor of `--duration-seconds` (to
    /// 1..=900) so a session can expire within a test. Only root can write
    /// iam.toml, and a non-root caller cannot point iamctl at another file.
    pub test_min_duration_seconds: Option<i64>,
}

impl HostConfig {
    /// Reads `path` once [`crate::trust`] trusts it; see the module docs.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&read_trusted(path)?, path)
    }

    /// Parses config text. `origin` is the file it came from: errors name it
    /// and relative paths resolve against its directory.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = parse_toml(text, origin)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_path_buf(),
            message,
        };
        let resolve = |p: PathBuf| resolve_relative(origin, p);

        let hostname = match raw.hostname {
            Some(h) => h,
            None => system_hostname().map_err(invalid)?,
        };
        validate_hostname(&hostname).map_err(|m| invalid(format!("hostname: {m}")))?;

        let accounts = raw.accounts;
        Ok(Self {
            account_id: raw.account_id.0,
            hostname,
            database: resolve(raw.database),
            audit_log: resolve(raw.audit_log),
            host_tags: raw.host_tags.0,
            login: LoginConfig {
                require_mfa: raw.login.require_mfa,
                unknown_user: raw.login.unknown_user,
            },
            lockout: LockoutConfig {
                deny: raw.lockout.deny.0,
                fail_interval: raw.lockout.fail_interval.0,
                unlock_time: raw.lockout.unlock_time.0,
            },
            totp: TotpConfig {
                skew_steps: raw.totp.skew_steps.0,
            },
            group_map: raw.group_map.into_iter().map(|(k, v)| (k, v.0)).collect(),
            accounts: AccountsConfig {
                uid_range: accounts.uid_range.0,
                shell: accounts.shell.0,
                home: accounts.home.0,
                extrausers_dir: resolve(accounts.extrausers_dir),
                authorized_keys_dir: resolve(accounts.authorized_keys_dir),
            },
            elevation: ElevationConfig {
                test_min_duration_seconds: match raw.elevation.test_min_duration_seconds {
                    Some(n @ 1..=900) => Some(i64::from(n)),
                    Some(n) => {
                        return Err(invalid(format!(
                            "elevation.test_min_duration_seconds: must be 1 to 900, got {n}"
                        )));
                    }
                    None => None,
                },
            },
        })
    }

    /// Every setting at its default but these: the settings iam-server's
    /// verbs read (lockout, TOTP window, audit log) without an iam.toml.
    pub fn defaults(
        account_id: &str,
        hostname: &str,
        database: PathBuf,
        audit_log: PathBuf,
    ) -> Result<Self, ConfigError> {
        let mut table = toml::Table::new();
        table.insert("account_id".into(), account_id.into());
        table.insert("hostname".into(), hostname.into());
        let config = Self::parse(&table.to_string(), Path::new("/"))?;
        Ok(Self {
            database,
            audit_log,
            ..config
        })
    }

    /// This host as a resource: `arn:aws:host::ACCOUNT:host/HOSTNAME`.
    pub fn host_arn(&self) -> String {
        format!("arn:aws:host::{}:host/{}", self.account_id, self.hostname)
    }
}

/// The text of a config file once [`crate::trust`] trusts it (shared:
/// it holds no secret), refusing one larger than a config file can be.
/// Every config file of the project is read this way.
pub fn read_trusted(path: &Path) -> Result<String, ConfigError> {
    Ok(std::mem::take(&mut *read_bounded(path, Contents::Shared)?))
}

/// A trusted file's text, at most [`MAX_CONFIG_BYTES`], in a buffer
/// zeroized when dropped (agent.toml holds a secret).
pub(crate) fn read_bounded(
    path: &Path,
    contents: Contents,
) -> Result<zeroize::Zeroizing<String>, ConfigError> {
    let file = trust::open_read(path, contents)?;
    let mut text = zeroize::Zeroizing::new(String::new());
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(text)
}

/// `path` as a config file at `origin` means it: a relative path is
/// relative to the directory holding the file.
pub fn resolve_relative(origin: &Path, path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    origin
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(path)
}

/// Deserializes config text; an error names `origin` and the line and
/// column it is on (the raw shapes use `deny_unknown_fields`, so an unknown
/// key is such an error).
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    origin: &Path,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        ConfigError::Parse {
            path: origin.to_path_buf(),
            line,
            column,
            message: e.message().trim_end().to_owned(),
        }
    })
}

/// The `iam.toml` that `iamctl init` writes: every key, commented, with its
/// default, so the file documents itself.
pub fn starter_config(account_id: &str) -> Result<String, ConfigError> {
    check_account_id(account_id).map_err(|message| ConfigError::Invalid {
        path: PathBuf::from(DEFAULT_CONFIG_PATH),
        message: format!("account_id: {message}"),
    })?;
    Ok(STARTER_CONFIG.replace("@ACCOUNT_ID@", account_id))
}

const STARTER_CONFIG: &str = r#"# pam_iam host configuration. Every key except account_id is optional;
# the values shown commented out are the defaults. Unknown keys are an error.
# Relative paths are relative to the directory holding this file.

account_id = "@ACCOUNT_ID@"
# hostname  = "web-1"                  # default: the kernel hostname
# database  = "/var/lib/iam/iam.db"
# audit_log = "/var/log/iam/audit.log"

[host_tags]                            # aws:ResourceTag/* for host:Login, host:RunAs
# env = "prod"

[login]
# require_mfa  = false                 # true: users without an MFA device cannot log in
# unknown_user = "ignore"              # "ignore" (local accounts still work) | "deny"

[lockout]                              # pam_faillock semantics, per IAM user
# deny          = 5                    # failures within fail_interval that lock
# fail_interval = "15m"                # durations: "900s", "15m", "1h", "1d"
# unlock_time   = "15m"

[totp]
# skew_steps = 1                       # +/- 30 s steps accepted; at most 10

[group_map]                            # IAM group -> local Linux groups granted at login
# developers = ["docker"]

[accounts]
# uid_range      = [200000, 299999]    # UIDs/GIDs are allocated once, never reused
# shell          = "/bin/bash"
# home           = "/home/%u"          # %u: the user name
# extrausers_dir = "/var/lib/extrausers"
# authorized_keys_dir = "/var/lib/iam-ssh"   # sshd: AuthorizedKeysFile … /var/lib/iam-ssh/%U
"#;

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// What `gethostname()` returns: the kernel's hostname, which is the name
/// this host answers to even where `/etc/hostname` is stale (containers);
/// `/etc/hostname` only as a fallback.
pub fn system_hostname() -> Result<String, String> {
    for source in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        let mut text = String::new();
        if File::open(source)
            .and_then(|f| f.take(1024).read_to_string(&mut text))
            .is_ok()
        {
            let name = text.trim();
            if !name.is_empty() {
                return Ok(name.to_owned());
            }
        }
    }
    Err("hostname: not set and the system hostname cannot be read; set `hostname`".into())
}

/// A hostname goes into ARNs and audit lines: DNS characters only.
fn validate_hostname(h: &str) -> Result<(), String> {
    if h.is_empty() || h.len() > 253 {
        return Err(format!("must be 1 to 253 characters, got {}", h.len()));
    }
    if let Some(bad) = h.chars().find(|c| !crate::names::is_hostname_char(*c)) {
        return Err(format!("invalid character {bad:?} in {h:?}"));
    }
    Ok(())
}

/// An AWS account id: exactly 12 ASCII digits.
pub fn check_account_id(id: &str) -> Result<(), String> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("must be exactly 12 digits, got {id:?}"))
    }
}

/// A Linux group name as `group_map` may name it: what `useradd` accepts.
fn check_local_group(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid Linux group name"))
    }
}

/// `"900s"`, `"15m"`, `"1h"`, `"1d"`, or an integer number of seconds
/// (config durations, and `iam-server join-token --expires-in`).
pub fn parse_duration(s: &str) -> Result<TimeDelta, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. \"900s\", \"15m\", \"1h\""))?;
    let secs_per = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "invalid duration unit {unit:?} in {s:?}: use s, m, h or d"
            ));
        }
    };
    let secs = n
        .checked_mul(secs_per)
        .filter(|&secs| secs > 0 && secs <= 366 * 86400)
        .ok_or_else(|| format!("duration {s:?} must be between 1s and 366d"))?;
    Ok(TimeDelta::seconds(secs))
}

// ---- the file's raw shape: serde with value checks, so errors carry a line.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    account_id: AccountIdField,
    hostname: Option<String>,
    #[serde(default = "default_database")]
    database: PathBuf,
    #[serde(default = "default_audit_log")]
    audit_log: PathBuf,
    #[serde(default)]
    host_tags: HostTags,
    #[serde(default)]
    login: RawLogin,
    #[serde(default)]
    lockout: RawLockout,
    #[serde(default)]
    totp: RawTotp,
    #[serde(default)]
    group_map: BTreeMap<String, LocalGroups>,
    #[serde(default)]
    accounts: RawAccounts,
    #[serde(default)]
    elevation: RawElevation,
}

/// `[elevation]` (added by the elevate branch).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawElevation {
    test_min_duration_seconds: Option<u32>,
}

fn default_database() -> PathBuf {
    PathBuf::from("/var/lib/iam/iam.db")
}

fn default_audit_log() -> PathBuf {
    PathBuf::from("/var/log/iam/audit.log")
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLogin {
    #[serde(default)]
    require_mfa: bool,
    #[serde(default)]
    unknown_user: UnknownUser,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLockout {
    #[serde(default)]
    deny: Deny,
    #[serde(default)]
    fail_interval: Duration,
    #[serde(default)]
    unlock_time: Duration,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTotp {
    #[serde(default)]
    skew_steps: SkewSteps,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccounts {
    #[serde(default)]
    uid_range: UidRange,
    #[serde(default)]
    shell: Shell,
    #[serde(default)]
    home: HomeTemplate,
    #[serde(default = "default_extrausers_dir")]
    extrausers_dir: PathBuf,
    #[serde(default = "default_authorized_keys_dir")]
    authorized_keys_dir: PathBuf,
}

impl Default for RawAccounts {
    fn default() -> Self {
        Self {
            uid_range: UidRange::default(),
            shell: Shell::default(),
            home: HomeTemplate::default(),
            extrausers_dir: default_extrausers_dir(),
            authorized_keys_dir: default_authorized_keys_dir(),
        }
    }
}

fn default_extrausers_dir() -> PathBuf {
    PathBuf::from("/var/lib/extrausers")
}

fn default_authorized_keys_dir() -> PathBuf {
    PathBuf::from("/var/lib/iam-ssh")
}

/// Defines a newtype whose `Deserialize` checks the value, so a bad value is
/// reported with the line it is on.
macro_rules! checked_field {
    ($(#[$doc:meta])* $vis:vis $name:ident($inner:ty), default = $default:expr, check = $check:expr) => {
        $(#[$doc])*
        $vis struct $name($vis $inner);
        impl Default for $name {
            fn default() -> Self {
                Self($default)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let check: fn(_) -> Result<$inner, String> = $check;
                check(Deserialize::deserialize(d)?)
                    .map(Self)
                    .map_err(de::Error::custom)
            }
        }
    };
}

/// An `account_id` value: a 12-digit check that fails with the line it is
/// on (shared with server.toml).
pub struct AccountIdField(pub String);
impl<'de> Deserialize<'de> for AccountIdField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        check_account_id(&id)
            .map(|()| Self(id))
            .map_err(|m| de::Error::custom(format!("account_id {m}")))
    }
}

checked_field!(
    Deny(u32),
    default = 5,
    check = |n: u32| {
        if (1..=1000).contains(&n) {
            Ok(n)
        } else {
            Err(format!("deny must be 1 to 1000, got {n}"))
        }
    }
);

/// Accepts `"15m"`-style strings or integer seconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum DurationText {
    Text(String),
    Seconds(i64),
}

checked_field!(
    Duration(TimeDelta),
    default = TimeDelta::minutes(15),
    check = |d: DurationText| match d {
        DurationText::Text(s) => parse_duration(&s),
        DurationText::Seconds(n) => parse_duration(&n.to_string()),
    }
);

checked_field!(
    SkewSteps(u8),
    default = 1,
    check = |n: u8| {
        if n <= MAX_SKEW_STEPS {
            Ok(n)
        } else {
            Err(format!("skew_steps must be 0 to {MAX_SKEW_STEPS}, got {n}"))
        }
    }
);

checked_field!(
    /// Shared with server.toml: the fleet's directory allocates the ids.
    pub UidRange((u32, u32)),
    default = (200_000, 299_999),
    check = |(lo, hi): (u32, u32)| {
        // Below 1000 are system accounts; above i32::MAX some tools break;
        // 65534/65535 are nobody and (uid16_t)-1.
        if lo < 1000 || hi > i32::MAX as u32 || lo > hi {
            Err(format!(
                "uid_range must be [low, high] with 1000 <= low <= high <= {}, got [{lo}, {hi}]",
                i32::MAX
            ))
        } else if lo <= 65535 && hi >= 65534 {
            Err(format!(
                "uid_range [{lo}, {hi}] includes 65534/65535 (nobody, (uid16_t)-1)"
            ))
        } else {
            Ok((lo, hi))
        }
    }
);

checked_field!(
    Shell(PathBuf),
    default = PathBuf::from("/bin/bash"),
    check = |p: PathBuf| {
        if p.is_absolute() {
            Ok(p)
        } else {
            Err(format!(
                "shell must be an absolute path, got {}",
                p.display()
            ))
        }
    }
);

checked_field!(
    HomeTemplate(String),
    default = "/home/%u".to_owned(),
    check = |t: String| {
        if !t.starts_with('/') {
            return Err(format!("home must be an absolute path, got {t:?}"));
        }
        let mut chars = t.chars();
        while let Some(c) = chars.next() {
            if c == '%' && !matches!(chars.next(), Some('u' | '%')) {
                return Err(format!("home {t:?}: only %u and %% are expanded"));
            }
        }
        Ok(t)
    }
);

checked_field!(
    HostTags(BTreeMap<String, String>),
    default = BTreeMap::new(),
    check = |tags: BTreeMap<String, String>| {
        // AWS tag limits.
        for (k, v) in &tags {
            if k.is_empty() || k.chars().count() > 128 {
                return Err(format!("host tag key {k:?} must be 1 to 128 characters"));
            }
            if v.chars().count() > 256 {
                return Err(format!("host tag {k:?}: value longer than 256 characters"));
            }
        }
        Ok(tags)
    }
);

checked_field!(
    LocalGroups(Vec<String>),
    default = Vec::new(),
    check = |groups: Vec<String>| {
        for g in &groups {
            check_local_group(g).map_err(|m| format!("group_map: {m}"))?;
        }
        Ok(groups)
    }
);

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the text, parsing answers (and errors carry a line).
        #[test]
        fn parse_never_panics(text in "\\PC{0,200}") {
            if let Err(ConfigError::Parse { line, .. }) =
                HostConfig::parse(&text, Path::new("/etc/iam/iam.toml"))
            {
                prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1);
            }
        }

        #[test]
        fn durations_in_minutes(n in 1i64..=527_040) {
            prop_assert_eq!(parse_duration(&format!("{n}m")), Ok(TimeDelta::minutes(n)));
        }
    }
}
