//! `/etc/iam/agent.toml`: where the directory of record is and the host's
//! credentials for it. Written by `iamctl setup-host --join`; root-only,
//! as it holds a secret.

use iam::config::{ConfigError, parse_toml};
use iam::trust::{self, Contents};
use serde::Deserialize;
use std::io::Read;
use std::path::Path;
use zeroize::Zeroizing;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `https://HOST[:PORT]` of iam-server.
    pub server: String,
    /// SHA-256 of the server's certificate, as iam-server prints it.
    pub ca_fingerprint: String,
    /// This host's name in the fleet (its role session's name).
    pub hostname: String,
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("server", &self.server)
            .field("hostname", &self.hostname)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AgentConfig {
    /// Reads the file if only root may read it (it holds a secret).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut text = Zeroizing::new(String::new());
        trust::open_read(path, Contents::Private)?
            .read_to_string(&mut text)
            .map_err(|source| ConfigError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        parse_toml(&text, path)
    }
}
