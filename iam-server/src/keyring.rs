//! The server key, and the secrets it seals (docs/SECURITY.md, "iam-server
//! secrets").
//!
//! The key is 32 random bytes in a file only the server's user (or root) may read (`state_dir/server.key`,
//! 0600), made atomically on first start and trust-checked as
//! [`Contents::Private`] on every start. Secret access keys (long-term and
//! STS) are stored sealed with XChaCha20-Poly1305 under it: a random 192-bit
//! nonce per seal, and the access key id as associated data, so a sealed
//! secret copied into another key's row does not open. A copy of the store
//! without the key file holds no usable secret. Session tokens are not
//! sealed: the store keeps their SHA-256 ([`token_digest`]).

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use iam::secret::SecretString;
use iam::store::Sealed;
use iam::trust::{self, Contents, TrustError};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::{DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// First byte of a sealed secret: the format (algorithm, nonce, AAD rule).
const FORMAT_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The key file, or a directory on the way to it, is not trusted.
    #[error("server key {0}")]
    Untrusted(TrustError),
    #[error("server key: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server key {}: not a server key ({len} bytes, want {KEY_LEN})", .path.display())]
    BadKeyFile { path: PathBuf, len: usize },
    #[error("random number generator failed: {0}")]
    Random(getrandom::Error),
    #[error("cannot seal the secret of {key_id}")]
    Seal { key_id: String },
    /// Another server's key, a row moved to another key id, or tampering.
    #[error("the sealed secret of {key_id} does not open under this server's key: {reason}")]
    Unseal {
        key_id: String,
        reason: &'static str,
    },
}

impl From<getrandom::Error> for KeyringError {
    fn from(e: getrandom::Error) -> Self {
        Self::Random(e)
    }
}

/// A key that cannot be read or a secret that does not open is the
/// server's failure, not the caller's: `ServiceFailure`, with no secret in
/// the message.
impl From<KeyringError> for iamctl::error::CliError {
    fn from(e: KeyringError) -> Self {
        Self::new("ServiceFailure", e.to_string())
    }
}

/// The server key, ready to seal and open. The key is zeroized on drop (by
/// the cipher, which holds the only copy); `Debug` does not show it.
pub struct Keyring {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keyring(<redacted>)")
    }
}

impl Keyring {
    /// Reads the key at `path`, first creating it (and its directory, 0700)
    /// if it is missing. Refused unless the file and the way to it pass
    /// the file-trust check as private (root-owned, mode 0600, no symlink).
    pub fn open_or_create(path: &Path) -> Result<Self, KeyringError> {
        match trust::open_read(path, Contents::Private) {
            Ok(file) => Self::read(path, file),
            Err(TrustError::Missing { .. }) => {
                create(path)?;
                let file =
                    trust::open_read(path, Contents::Private).map_err(KeyringError::Untrusted)?;
                Self::read(path, file)
            }
            Err(e) => Err(KeyringError::Untrusted(e)),
        }
    }

    fn read(path: &Path, file: std::fs::File) -> Result<Self, KeyringError> {
        let mut key = Zeroizing::new(Vec::with_capacity(2 * KEY_LEN));
        file.take(2 * KEY_LEN as u64)
            .read_to_end(&mut key)
            .map_err(io(format!("cannot read {}", path.display())))?;
        if key.len() != KEY_LEN {
            return Err(KeyringError::BadKeyFile {
                path: path.to_owned(),
                len: key.len(),
            });
        }
        let cipher =
            XChaCha20Poly1305::new_from_slice(&key).map_err(|_| KeyringError::BadKeyFile {
                path: path.to_owned(),
                len: key.len(),
            })?;
        Ok(Self { cipher })
    }

    /// Seals `secret` for the row of `key_id`.
    pub fn seal(&self, key_id: &str, secret: &SecretString) -> Result<Sealed, KeyringError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)?;
        let nonce = XNonce::from(nonce);
        let plain = secret.expose().as_bytes();
        // Room for the tag up front: the buffer never reallocates, so no
        // copy of the plaintext is left behind unzeroized.
        let mut buf = Zeroizing::new(Vec::with_capacity(plain.len() + TAG_LEN));
        buf.extend_from_slice(plain);
        self.cipher
            .encrypt_in_place(&nonce, key_id.as_bytes(), &mut *buf)
            .map_err(|_| KeyringError::Seal {
                key_id: key_id.to_owned(),
            })?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(Sealed(out))
    }

    /// Opens what [`Keyring::seal`] sealed for `key_id`.
    pub fn open(&self, key_id: &str, sealed: &Sealed) -> Result<SecretString, KeyringError> {
        let unseal = |reason| KeyringError::Unseal {
            key_id: key_id.to_owned(),
            reason,
        };
        let (format, rest) = sealed
            .0
            .split_first()
            .ok_or_else(|| unseal("it is empty"))?;
        if *format != FORMAT_V1 {
            return Err(unseal("unknown format"));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(unseal("it is truncated"));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| unseal("it is truncated"))?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        self.cipher
            .decrypt_in_place(&nonce, key_id.as_bytes(), &mut *buf)
            .map_err(|_| unseal("authentication failed"))?;
        match String::from_utf8(std::mem::take(&mut *buf)) {
            Ok(s) => Ok(SecretString::new(s)),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(unseal("not UTF-8"))
            }
        }
    }
}

/// A new secret access key: 40 characters of base64 (240 random bits), the
/// shape of AWS's.
pub fn new_secret() -> Result<SecretString, KeyringError> {
    random_base64::<30>()
}

/// A new session token: 128 characters of base64 (768 random bits). Only
/// its [`token_digest`] is stored.
pub fn new_session_token() -> Result<SecretString, KeyringError> {
    random_base64::<96>()
}

fn random_base64<const N: usize>() -> Result<SecretString, KeyringError> {
    use base64::Engine as _;
    let mut bytes = Zeroizing::new([0u8; N]);
    getrandom::fill(&mut *bytes)?;
    Ok(SecretString::new(
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(*bytes),
    ))
}

/// What the store keeps of a session token.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether a presented session token is the one whose digest is stored
/// (compared in constant time).
pub fn token_matches(token: &str, digest: &[u8; 32]) -> bool {
    token_digest(token).ct_eq(digest).into()
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> KeyringError {
    move |source| KeyringError::Io { context, source }
}

/// Writes a fresh key beside `path` and links it into place: the file
/// appears whole or not at all, and a server starting at the same moment
/// keeps whichever key was linked first.
fn create(path: &Path) -> Result<(), KeyringError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(format!("cannot create {}", dir.display())))?;
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    getrandom::fill(&mut *key)?;
    let tmp = dir.join(format!(
        ".server.key.{}.{}",
        std::process::id(),
        iam::names::random_base32(8)?
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(&*key)?;
            f.sync_all()
        });
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(io(format!("cannot create {}", path.display())))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("cannot sync {}", dir.display())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn keyring() -> (tempfile::TempDir, Keyring) {
        let dir = tempfile::tempdir().unwrap();
        let k = Keyring::open_or_create(&dir.path().join("state/server.key")).unwrap();
        (dir, k)
    }

    #[test]
    fn the_key_is_made_once_private_and_kept() {
        let (dir, k) = keyring();
        let path = dir.path().join("state/server.key");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), KEY_LEN as u64);
        let state = std::fs::metadata(dir.path().join("state")).unwrap();
        assert_eq!(state.permissions().mode() & 0o777, 0o700);
        // No temporary file left behind.
        assert_eq!(
            std::fs::read_dir(dir.path().join("state")).unwrap().count(),
            1
        );
        let secret = new_secret().unwrap();
        let sealed = k.seal("AKIAIOSFODNN7EXAMPLE", &secret).unwrap();
        let again = Keyring::open_or_create(&path).unwrap();
        assert_eq!(again.open("AKIAIOSFODNN7EXAMPLE", &sealed).unwrap(), secret);
    }

    #[test]
    fn a_readable_or_short_key_file_is_refused() {
        let (dir, _k) = keyring();
        let path = dir.path().join("state/server.key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = Keyring::open_or_create(&path).unwrap_err();
        assert!(matches!(e, KeyringError::Untrusted(_)), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, [0u8; 31]).unwrap();
        let e = Keyring::open_or_create(&path).unwrap_err();
        assert!(matches!(e, KeyringError::BadKeyFile { len: 31, .. }), "{e}");
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_key_id_and_key() {
        let (_d, k) = keyring();
        let (_d2, other) = keyring();
        let secret = new_secret().unwrap();
        let sealed = k.seal("AKIAAAAAAAAAAAAAAAAA", &secret).unwrap();
        assert!(
            !sealed
                .0
                .windows(40)
                .any(|w| w == secret.expose().as_bytes())
        );
        assert_eq!(k.open("AKIAAAAAAAAAAAAAAAAA", &sealed).unwrap(), secret);
        assert!(k.open("AKIABBBBBBBBBBBBBBBB", &sealed).is_err());
        assert!(other.open("AKIAAAAAAAAAAAAAAAAA", &sealed).is_err());
        let mut tampered = sealed.clone();
        if let Some(b) = tampered.0.last_mut() {
            *b ^= 1;
        }
        assert!(k.open("AKIAAAAAAAAAAAAAAAAA", &tampered).is_err());
        for bad in [vec![], vec![FORMAT_V1; 10], vec![2; 60]] {
            let e = k.open("AKIAAAAAAAAAAAAAAAAA", &Sealed(bad)).unwrap_err();
            assert!(matches!(e, KeyringError::Unseal { .. }));
        }
        // Two seals of one secret differ (random nonces).
        assert_ne!(k.seal("AKIAAAAAAAAAAAAAAAAA", &secret).unwrap(), sealed);
    }

    #[test]
    fn secrets_and_tokens_have_aws_shapes_and_never_show() {
        let s = new_secret().unwrap();
        assert_eq!(s.expose().len(), 40);
        assert!(
            s.expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        );
        assert_ne!(s, new_secret().unwrap());
        let t = new_session_token().unwrap();
        assert_eq!(t.expose().len(), 128);
        let d = token_digest(t.expose());
        assert!(token_matches(t.expose(), &d));
        assert!(!token_matches(new_session_token().unwrap().expose(), &d));
        let (_d, k) = keyring();
        assert_eq!(format!("{k:?}"), "Keyring(<redacted>)");
        let e = k.open("AKIAAAAAAAAAAAAAAAAA", &Sealed(vec![])).unwrap_err();
        assert!(!e.to_string().contains(s.expose()));
    }
}
