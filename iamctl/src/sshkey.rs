//! SSH public keys as `upload-ssh-public-key` takes them and
//! `get-ssh-public-key --encoding SSH|PEM` gives them back.
//!
//! AWS takes a key "in ssh-rsa format or PEM format", RSA of at least 2,048
//! bits; OpenSSH users also have Ed25519 and ECDSA keys, taken here too.
//! Accepted: an OpenSSH line (`ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp256|384|521
//! BASE64 [comment]`) and PEM (`PUBLIC KEY`, X.509 SubjectPublicKeyInfo as
//! `ssh-keygen -e -m PKCS8` writes it; `RSA PUBLIC KEY`, PKCS#1, as `-m PEM`
//! writes it). Refused with AWS's codes: an encoding or key type we do not
//! take (`UnrecognizedPublicKeyEncoding`: DSA, security-key and certificate
//! types, anything else), and a key that is malformed, truncated or too
//! weak (`InvalidPublicKey`).
//!
//! Parsing lives here, in iamctl (and so iam-server), not in `iam`: the PAM
//! module compares the key sshd accepted with the stored OpenSSH line and
//! never parses one (docs/ARCHITECTURE.md).

use crate::error::CliError;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use spki::der;
use ssh_key::public::{EcdsaPublicKey, Ed25519PublicKey, KeyData, RsaPublicKey};
use ssh_key::{Algorithm, EcdsaCurve, Mpint};
use std::fmt::Write as _;

/// AWS's minimum RSA modulus.
pub const MIN_RSA_BITS: usize = 2048;
/// OpenSSH's maximum RSA modulus.
pub const MAX_RSA_BITS: usize = 16384;

const OID_RSA: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_EC: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_P521: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// Why a key is refused; each is one AWS error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// `UnrecognizedPublicKeyEncoding`.
    Unrecognized(String),
    /// `InvalidPublicKey`.
    Invalid(String),
}

impl From<KeyError> for CliError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Unrecognized(why) => CliError::new(
                "UnrecognizedPublicKeyEncoding",
                format!("The public key encoding format is unsupported or unrecognized: {why}"),
            ),
            KeyError::Invalid(why) => CliError::new(
                "InvalidPublicKey",
                format!("The public key is malformed or otherwise invalid: {why}"),
            ),
        }
    }
}

/// A key that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    key: KeyData,
    /// The SSH wire encoding of the key (RFC 4253 §6.6).
    blob: Vec<u8>,
}

impl ParsedKey {
    /// OpenSSH's one-line form without a comment (`ssh-ed25519 AAAA…`):
    /// what is stored, published for sshd and compared at login.
    pub fn openssh(&self) -> String {
        format!(
            "{} {}",
            self.key.algorithm().as_str(),
            base64::engine::general_purpose::STANDARD.encode(&self.blob)
        )
    }

    /// AWS's `Fingerprint`: the MD5 digest of the key, as
    /// `ssh-keygen -l -E md5` shows it (colon-separated hex, without its
    /// `MD5:` prefix): the digest of the wire encoding, whatever encoding
    /// the key was uploaded in.
    pub fn md5_fingerprint(&self) -> String {
        let digest = Md5::digest(&self.blob);
        let mut out = String::with_capacity(47);
        for (i, b) in digest.iter().enumerate() {
            if i > 0 {
                out.push(':');
            }
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// PEM (`-----BEGIN PUBLIC KEY-----`, X.509 SubjectPublicKeyInfo), for
    /// `--encoding PEM`.
    pub fn pem(&self) -> Result<String, KeyError> {
        use der::{Encode as _, EncodePem as _};
        let fail = |e: der::Error| KeyError::Invalid(format!("cannot encode as PEM: {e}"));
        let pkcs1;
        let (oid, params, bits): (_, Option<der::AnyRef<'_>>, &[u8]) = match &self.key {
            KeyData::Rsa(rsa) => {
                let n = positive(&rsa.n)?;
                let e = positive(&rsa.e)?;
                pkcs1 = pkcs1::RsaPublicKey {
                    modulus: der::asn1::UintRef::new(n).map_err(fail)?,
                    public_exponent: der::asn1::UintRef::new(e).map_err(fail)?,
                }
                .to_der()
                .map_err(fail)?;
                (OID_RSA, Some(der::AnyRef::NULL), &pkcs1)
            }
            KeyData::Ed25519(key) => (OID_ED25519, None, key.0.as_slice()),
            KeyData::Ecdsa(key) => {
                let curve = match key.curve() {
                    EcdsaCurve::NistP256 => &OID_P256,
                    EcdsaCurve::NistP384 => &OID_P384,
                    EcdsaCurve::NistP521 => &OID_P521,
                };
                (OID_EC, Some(der::AnyRef::from(curve)), key.as_sec1_bytes())
            }
            other => {
                return Err(KeyError::Unrecognized(format!(
                    "{} keys are not taken",
                    other.algorithm().as_str()
                )));
            }
        };
        let info = spki::SubjectPublicKeyInfoRef {
            algorithm: spki::AlgorithmIdentifier {
                oid,
                parameters: params,
            },
            subject_public_key: der::asn1::BitStringRef::from_bytes(bits).map_err(fail)?,
        };
        info.to_pem(der::pem::LineEnding::LF).map_err(fail)
    }
}

/// Parses and checks an uploaded key body (OpenSSH line or PEM).
pub fn parse(body: &str) -> Result<ParsedKey, KeyError> {
    let text = body.trim();
    let key = if text.starts_with("-----BEGIN ") {
        from_pem(text)?
    } else {
        from_openssh(text)?
    };
    check(&key)?;
    let blob = ssh_key::PublicKey::new(key.clone(), "")
        .to_bytes()
        .map_err(|e| KeyError::Invalid(format!("cannot encode the key: {e}")))?;
    Ok(ParsedKey { key, blob })
}

/// Which key types are taken; anything else is an encoding we do not
/// recognize, as AWS answers for types it does not take.
fn taken(algorithm: &str) -> bool {
    matches!(
        algorithm,
        "ssh-rsa"
            | "ssh-ed25519"
            | "ecdsa-sha2-nistp256"
            | "ecdsa-sha2-nistp384"
            | "ecdsa-sha2-nistp521"
    )
}

fn from_openssh(text: &str) -> Result<KeyData, KeyError> {
    let mut words = text.split_ascii_whitespace();
    let algorithm = words.next().unwrap_or("");
    if !taken(algorithm) {
        let shown: String = algorithm.chars().take(40).collect();
        return Err(KeyError::Unrecognized(
            if Algorithm::new(algorithm).is_ok() {
                format!(
                    "{shown} keys are not taken (ssh-rsa, ssh-ed25519 or ecdsa-sha2-nistp256/384/521)"
                )
            } else {
                "expected an OpenSSH public key (ssh-rsa, ssh-ed25519, ecdsa-sha2-*) or PEM".into()
            },
        ));
    }
    if text.contains('\n') {
        return Err(KeyError::Invalid(
            "an OpenSSH public key is one line".into(),
        ));
    }
    let key = ssh_key::PublicKey::from_openssh(text).map_err(|e| {
        KeyError::Invalid(format!(
            "the {algorithm} key data is truncated or malformed ({e})"
        ))
    })?;
    Ok(key.key_data().clone())
}

fn from_pem(text: &str) -> Result<KeyData, KeyError> {
    let (label, der) = der::pem::decode_vec(text.as_bytes())
        .map_err(|e| KeyError::Invalid(format!("the PEM text is truncated or malformed ({e})")))?;
    let malformed =
        |e: der::Error| KeyError::Invalid(format!("the {label} is truncated or malformed ({e})"));
    match label {
        "RSA PUBLIC KEY" => {
            let rsa = pkcs1::RsaPublicKey::try_from(der.as_slice()).map_err(|e| {
                KeyError::Invalid(format!(
                    "the RSA PUBLIC KEY is truncated or malformed ({e})"
                ))
            })?;
            rsa_key(rsa)
        }
        "PUBLIC KEY" => {
            let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice()).map_err(|e| {
                KeyError::Invalid(format!("the PUBLIC KEY is truncated or malformed ({e})"))
            })?;
            let bits = info.subject_public_key.as_bytes().ok_or_else(|| {
                KeyError::Invalid("the key's bit string is not whole bytes".into())
            })?;
            let oid = info.algorithm.oid;
            if oid == OID_RSA {
                rsa_key(pkcs1::RsaPublicKey::try_from(bits).map_err(|e| {
                    KeyError::Invalid(format!("the RSA key is truncated or malformed ({e})"))
                })?)
            } else if oid == OID_ED25519 {
                let bytes: [u8; Ed25519PublicKey::BYTE_SIZE] = bits
                    .try_into()
                    .map_err(|_| KeyError::Invalid("an Ed25519 key is 32 bytes".into()))?;
                Ok(KeyData::Ed25519(Ed25519PublicKey(bytes)))
            } else if oid == OID_EC {
                let curve = info
                    .algorithm
                    .parameters
                    .map(|p| p.decode_as::<spki::ObjectIdentifier>())
                    .transpose()
                    .map_err(malformed)?;
                let key = EcdsaPublicKey::from_sec1_bytes(bits)
                    .map_err(|e| KeyError::Invalid(format!("the EC point is malformed ({e})")))?;
                let expected = match key.curve() {
                    EcdsaCurve::NistP256 => OID_P256,
                    EcdsaCurve::NistP384 => OID_P384,
                    EcdsaCurve::NistP521 => OID_P521,
                };
                if curve != Some(expected) {
                    return Err(KeyError::Unrecognized(
                        "EC keys are taken on NIST P-256, P-384 and P-521 only".into(),
                    ));
                }
                Ok(KeyData::Ecdsa(key))
            } else {
                Err(KeyError::Unrecognized(format!(
                    "PUBLIC KEY of algorithm {oid} is not taken (RSA, Ed25519 or EC)"
                )))
            }
        }
        other => Err(KeyError::Unrecognized(format!(
            "PEM {:?} is not a public key (expected PUBLIC KEY or RSA PUBLIC KEY)",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

fn rsa_key(rsa: pkcs1::RsaPublicKey<'_>) -> Result<KeyData, KeyError> {
    let mpint = |bytes: &[u8]| {
        Mpint::from_positive_bytes(bytes)
            .map_err(|e| KeyError::Invalid(format!("malformed RSA integer ({e})")))
    };
    Ok(KeyData::Rsa(RsaPublicKey {
        e: mpint(rsa.public_exponent.as_bytes())?,
        n: mpint(rsa.modulus.as_bytes())?,
    }))
}

/// The magnitude of a positive mpint, without leading zeros.
fn positive(m: &Mpint) -> Result<&[u8], KeyError> {
    let bytes = m
        .as_positive_bytes()
        .ok_or_else(|| KeyError::Invalid("an RSA integer is negative".into()))?;
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    Ok(&bytes[start..])
}

/// AWS's strength rule: RSA of 2,048 bits or more (and no more than
/// OpenSSH takes); an exponent that is odd and above 1.
fn check(key: &KeyData) -> Result<(), KeyError> {
    match key {
        KeyData::Rsa(rsa) => {
            let n = positive(&rsa.n)?;
            let bits = n.first().map_or(0, |top| {
                (n.len() - 1) * 8 + (8 - usize::try_from(top.leading_zeros()).unwrap_or(8))
            });
            if bits < MIN_RSA_BITS {
                return Err(KeyError::Invalid(format!(
                    "an RSA key must have at least {MIN_RSA_BITS} bits; this one has {bits}"
                )));
            }
            if bits > MAX_RSA_BITS {
                return Err(KeyError::Invalid(format!(
                    "an RSA key may have at most {MAX_RSA_BITS} bits; this one has {bits}"
                )));
            }
            let e = positive(&rsa.e)?;
            let odd = e.last().is_some_and(|b| b & 1 == 1);
            if !odd || e == [1] {
                return Err(KeyError::Invalid(
                    "the RSA public exponent is not valid".into(),
                ));
            }
            Ok(())
        }
        KeyData::Ed25519(_) | KeyData::Ecdsa(_) => Ok(()),
        other => Err(KeyError::Unrecognized(format!(
            "{} keys are not taken",
            other.algorithm().as_str()
        ))),
    }
}
