//! `/etc/iam/agent.toml`: an enrolled host's identity for iam-agent,
//! written by `iamctl setup-host --join` and read by iam-agent (one home
//! for its shape). It holds the host's secret, so it is read like the
//! store: root-owned, readable by its owner only ([`crate::trust`]), and
//! strictly (an unknown key or a bad value names its line).
//!
//! ```toml
//! server            = "https://iam.example.com:8443"
//! ca_fingerprint    = "AB:CD:…"          # the server certificate's SHA-256
//! hostname          = "web-1"
//! access_key_id     = "ACCA…"
//! secret_access_key = "…"
//! ```

use super::{ConfigError, parse_toml, read_bounded};
use crate::names::{CertFingerprint, HostName, UniqueIdKind};
use crate::secret::SecretString;
use crate::trust::Contents;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use std::path::Path;
use zeroize::Zeroizing;

/// Where the file lives by default (beside `iam.toml`).
pub const DEFAULT_AGENT_CONFIG_PATH: &str = "/etc/iam/agent.toml";

/// The file's name beside `iam.toml`: `setup-host --join --config DIR/iam.toml`
/// writes `DIR/agent.toml`.
pub const AGENT_CONFIG_FILE: &str = "agent.toml";

/// An enrolled host's credential and the server it was enrolled with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The server's base URL: `https://HOST[:PORT]`, nothing else.
    pub server: ServerUrl,
    /// The server's certificate, pinned by its SHA-256.
    pub ca_fingerprint: CertFingerprint,
    /// The name the host was enrolled as (its role session name).
    pub hostname: HostName,
    /// `ACCA…`: the host key's id.
    #[serde(deserialize_with = "host_key_id")]
    pub access_key_id: String,
    #[serde(deserialize_with = "secret")]
    pub secret_access_key: SecretString,
}

impl AgentConfig {
    /// Reads `path` once [`crate::trust`] trusts it as a private file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read_bounded(path, Contents::Private)?;
        Self::parse(&text, path)
    }

    /// Parses the file's text; errors name `origin` and the line.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        parse_toml(text, origin)
    }

    /// The file's text (it holds the secret: write it 0600, atomically).
    pub fn render(&self) -> Zeroizing<String> {
        let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
        Zeroizing::new(format!(
            "# iam-agent's identity: written by `iamctl setup-host --join`. Secret: root only.\n\
             server            = {}\n\
             ca_fingerprint    = {}\n\
             hostname          = {}\n\
             access_key_id     = {}\n\
             secret_access_key = {}\n",
            quoted(self.server.as_str()),
            quoted(&self.ca_fingerprint.to_string()),
            quoted(self.hostname.as_str()),
            quoted(&self.access_key_id),
            quoted(self.secret_access_key.expose()),
        ))
    }
}

/// An iam-server base URL: `https://` and a host (and port), no path,
/// query, user or fragment: the host API lives at `/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ServerUrl {
    url: String,
    host: String,
    port: u16,
}

impl ServerUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("server {s:?}: {why}");
        let rest = s
            .strip_prefix("https://")
            .ok_or_else(|| bad("must start with https://"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad("must be https://HOST[:PORT], without a path or user"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                let port = p.parse::<u16>().map_err(|_| bad("bad port"))?;
                (h, port)
            }
            _ => (authority, 443),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'));
        if !host_ok || port == 0 {
            return Err(bad("bad host or port"));
        }
        Ok(Self {
            url: format!("https://{authority}"),
            host: host.to_owned(),
            port,
        })
    }

    /// `https://HOST[:PORT]` as given (without a trailing slash).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host name or address (IPv6 without brackets): what TLS's SNI
    /// and the connection use.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl TryFrom<String> for ServerUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

fn host_key_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let id = String::deserialize(d)?;
    if UniqueIdKind::HostKey.matches(&id) {
        Ok(id)
    } else {
        Err(de::Error::custom(format!(
            "access_key_id: must be a host key id ({} and 16 base32 characters)",
            UniqueIdKind::HostKey.prefix()
        )))
    }
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    let secret = SecretString::new(String::deserialize(d)?);
    if secret.is_empty() {
        return Err(de::Error::custom("secret_access_key: must not be empty"));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn sample() -> AgentConfig {
        AgentConfig {
            server: ServerUrl::parse("https://iam.example.com:8443").unwrap(),
            ca_fingerprint: CertFingerprint::of_der(b"cert"),
            hostname: HostName::parse("web-1").unwrap(),
            access_key_id: "ACCAABCDEFGHIJKLMNOP".into(),
            secret_access_key: SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        }
    }

    #[test]
    fn what_render_writes_parses_back() {
        let text = sample().render();
        let parsed = AgentConfig::parse(&text, Path::new("agent.toml")).unwrap();
        assert_eq!(parsed, sample());
        assert_eq!(parsed.server.host(), "iam.example.com");
        assert_eq!(parsed.server.port(), 8443);
        let debug = format!("{parsed:?}");
        assert!(!debug.contains("wJalrXUtnFEMI"), "{debug}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_their_line() {
        let text = sample().render();
        let cases = [
            (format!("{}extra = 1\n", *text), 7, "unknown field `extra`"),
            (
                text.replace("ACCAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP"),
                5,
                "host key id",
            ),
            (text.replace("https://", "http://"), 2, "https://"),
            (text.replace("web-1", "web 1"), 4, "Hostname"),
            (
                text.replace(&sample().ca_fingerprint.to_string(), "ZZ"),
                3,
                "fingerprint",
            ),
        ];
        for (text, line, what) in cases {
            match AgentConfig::parse(&text, Path::new("agent.toml")).unwrap_err() {
                ConfigError::Parse {
                    line: l, message, ..
                } => {
                    assert_eq!(l, line, "{message}");
                    assert!(message.contains(what), "{message}");
                }
                other => panic!("{other}"),
            }
        }
        let missing = text.replace("hostname", "# hostname");
        let e = AgentConfig::parse(&missing, Path::new("agent.toml")).unwrap_err();
        assert!(e.to_string().contains("missing field `hostname`"), "{e}");
    }

    #[test]
    fn server_urls_are_https_host_and_port_only() {
        for (ok, host, port) in [
            ("https://iam", "iam", 443),
            ("https://10.0.0.1:8443/", "10.0.0.1", 8443),
            ("https://[::1]:8443", "::1", 8443),
        ] {
            let u = ServerUrl::parse(ok).unwrap();
            assert_eq!((u.host(), u.port()), (host, port), "{ok}");
        }
        for bad in [
            "http://iam",
            "https://",
            "https://iam/x",
            "https://u@iam",
            "https://iam:0",
            "https://iam:99999",
            "https://ia m",
        ] {
            assert!(ServerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_file_is_read_only_when_private_to_root() {
        // Needs root: trust requires root-owned files and directories.
        if !nix::unistd::Uid::effective().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let path = dir.path().join("agent.toml");
        crate::publish::write_atomic(&path, sample().render().as_bytes(), 0o600, None).unwrap();
        assert_eq!(AgentConfig::load(&path).unwrap(), sample());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = AgentConfig::load(&path).unwrap_err();
        assert!(matches!(e, ConfigError::Untrusted(_)), "{e}");
    }
}
