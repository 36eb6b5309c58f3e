//! Server configuration: `/etc/iam/server.toml` (config/server.toml is the
//! annotated example).
//!
//! Read as `iam.toml` is (iam/src/config.rs): only once [`iam::trust`]
//! trusts the file, every unknown key an error naming its line, every value
//! checked here rather than where it is used. Relative paths resolve against
//! the directory holding the file, so a test can keep a whole server in one
//! temporary directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use iam::config::{
    AccountIdField, ConfigError, UidRange, parse_toml, read_trusted, resolve_relative,
};
use serde::Deserialize;
use serde::de::{self, Deserializer};

/// Where the file lives by default.
pub const DEFAULT_SERVER_CONFIG_PATH: &str = "/etc/iam/server.toml";

/// The default for `state_dir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/iam-server";

/// The default for `max_body_bytes`: 1 MiB. The largest legitimate IAM
/// call (a 10,240-character role trust policy or a 6,144-character managed
/// policy, form-encoded, with its other parameters) is a few tens of KiB,
/// and a body must be read whole before its SigV4 payload hash can be
/// checked, so this bounds what one unauthenticated connection can make the
/// server hold in memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Bounds on `max_body_bytes`: below 64 KiB some legitimate calls would
/// fail; above 64 MiB the bound no longer protects the server.
const MAX_BODY_RANGE: std::ops::RangeInclusive<usize> = 64 * 1024..=64 * 1024 * 1024;

/// The parsed, validated `server.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// 12 ASCII digits: the account every ARN of the directory names.
    pub account_id: String,
    pub listen: SocketAddr,
    /// Holds the SQLite directory, the server key and a generated TLS pair.
    pub state_dir: PathBuf,
    /// `[tls]`; `None`: a self-signed pair generated in `state_dir`.
    pub tls: Option<TlsFiles>,
    pub max_body_bytes: usize,
    /// `[postgres]`; `None`: the embedded SQLite directory in `state_dir`.
    pub postgres: Option<PostgresSettings>,
    /// The Linux ids the directory allocates to users and groups (as
    /// iam.toml's `[accounts] uid_range` on a single host): every host of
    /// the fleet gets them from here.
    pub uid_range: (u32, u32),
}

/// `[postgres]`: PostgreSQL as the directory of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// libpq's `key=value` form or a `postgresql://` URL, without a password.
    pub url: String,
    /// The password, if one is needed: a file trusted as private (the
    /// server's user's or root's, mode 0600), so that it is in no config,
    /// argv or log.
    pub password_file: Option<PathBuf>,
}

/// `[tls]`: the operator's certificate chain and key, PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    /// Must be trusted as private (the server's user's or root's, mode 0600): it is a secret.
    pub key: PathBuf,
}

impl ServerConfig {
    /// Reads `path` once [`iam::trust`] trusts it; see the module docs.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&read_trusted(path)?, path)
    }

    /// Parses config text. `origin` is the file it came from: errors name it
    /// and relative paths resolve against its directory.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let raw: RawServerConfig = parse_toml(text, origin)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_path_buf(),
            message,
        };
        let resolve = |p: PathBuf| resolve_relative(origin, p);

        let tls = match raw.tls {
            None => None,
            Some(RawTls {
                certificate: Some(certificate),
                key: Some(key),
            }) => Some(TlsFiles {
                certificate: resolve(certificate),
                key: resolve(key),
            }),
            Some(_) => {
                return Err(invalid(
                    "[tls]: set both `certificate` and `key`, or neither (a self-signed pair is \
                     then generated in state_dir)"
                        .into(),
                ));
            }
        };
        Ok(Self {
            account_id: raw.account_id.0,
            listen: raw.listen.0,
            state_dir: resolve(raw.state_dir),
            tls,
            max_body_bytes: raw.max_body_bytes.0,
            postgres: raw.postgres.map(|p| PostgresSettings {
                url: p.url.0,
                password_file: p.password_file.map(resolve),
            }),
            uid_range: raw.uid_range.0,
        })
    }

    /// A configuration for tests: `account_id`, state in `state_dir`,
    /// listening on an ephemeral loopback port, a generated TLS pair.
    pub fn default_for_tests(state_dir: &Path, account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: state_dir.to_path_buf(),
            tls: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            postgres: None,
            uid_range: UidRange::default().0,
        }
    }

    /// The embedded SQLite directory.
    pub fn directory_path(&self) -> PathBuf {
        self.state_dir.join("directory.db")
    }

    /// Where a generated TLS pair lives.
    /// The server key that seals secret access keys (only the server's user may read it).
    pub fn key_path(&self) -> PathBuf {
        self.state_dir.join("server.key")
    }

    /// The audit log of API calls (CloudTrail-shaped events, one per line).
    pub fn audit_log_path(&self) -> PathBuf {
        self.state_dir.join("events.jsonl")
    }

    pub fn generated_tls_dir(&self) -> PathBuf {
        self.state_dir.join("tls")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServerConfig {
    account_id: AccountIdField,
    /// Default 127.0.0.1:8443: loopback until an operator decides otherwise.
    #[serde(default)]
    listen: Listen,
    #[serde(default = "default_state_dir")]
    state_dir: PathBuf,
    tls: Option<RawTls>,
    #[serde(default)]
    max_body_bytes: MaxBodyBytes,
    postgres: Option<RawPostgres>,
    #[serde(default)]
    uid_range: UidRange,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostgres {
    url: PostgresUrl,
    password_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from(DEFAULT_STATE_DIR)
}

// Values are checked while deserializing, so an error carries its line.

struct Listen(SocketAddr);

impl Default for Listen {
    fn default() -> Self {
        Self(SocketAddr::from(([127, 0, 0, 1], 8443)))
    }
}

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map(Self).map_err(|_| {
            de::Error::custom(format!(
                "listen: {text:?} is not an address and port, e.g. \"0.0.0.0:8443\" or \"[::]:8443\""
            ))
        })
    }
}

struct PostgresUrl(String);

impl<'de> Deserialize<'de> for PostgresUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        // The text is not echoed: it may hold a password by mistake.
        let parsed: tokio_postgres::Config = text.parse().map_err(|e| {
            de::Error::custom(format!(
                "postgres.url is neither `key=value` pairs nor a postgresql:// URL: {e}"
            ))
        })?;
        if parsed.get_password().is_some() {
            return Err(de::Error::custom(
                "postgres.url must not hold a password: put it in postgres.password_file                  (mode 0600, owned by the server's user)",
            ));
        }
        Ok(Self(text))
    }
}

struct MaxBodyBytes(usize);

impl Default for MaxBodyBytes {
    fn default() -> Self {
        Self(DEFAULT_MAX_BODY_BYTES)
    }
}

impl<'de> Deserialize<'de> for MaxBodyBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = usize::deserialize(d)?;
        if MAX_BODY_RANGE.contains(&n) {
            Ok(Self(n))
        } else {
            Err(de::Error::custom(format!(
                "max_body_bytes must be {} to {}, got {n}",
                MAX_BODY_RANGE.start(),
                MAX_BODY_RANGE.end()
            )))
        }
    }
}

#[cfg(test)]
mod tests;
