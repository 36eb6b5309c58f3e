//! Recovery codes (ours, beyond AWS): ten single-use codes a user keeps
//! on paper for the day the phone is lost. One is accepted at the
//! `Verification code:` prompt in place of a device's code
//! ([`crate::factors::check_code`]).
//!
//! A code is 80 random bits, shown once as 16 base32 letters in groups of
//! four (`abcd-efgh-ijkl-mnop`). The directory keeps only an HMAC-SHA-256
//! of each under a random key of the set: 80 random bits cannot be
//! searched through any hash, so argon2id's cost (there for guessable
//! passwords) would buy nothing and make each answer cost ten argon2 runs;
//! the set's key keeps two sets' hashes apart. Which codes are used is
//! login-time state, the ledger's
//! ([`crate::ledger::Ledger::use_recovery_code`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use crate::secret::{SecretBytes, SecretString};

/// Codes in a set.
pub const CODES_PER_SET: u32 = 10;
/// Random bytes of one code (80 bits).
const CODE_BYTES: usize = 10;
/// Base32 letters of one code.
const CODE_LETTERS: usize = 16;
/// Bytes of a set's HMAC key.
const KEY_BYTES: usize = 32;
/// Bytes of one stored hash (HMAC-SHA-256).
pub const HASH_BYTES: usize = 32;

/// A user's set of recovery codes as the directory holds it: no code, only
/// their keyed hashes, in the order they were shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodes {
    /// Random id of this set: the ledger's used codes are keyed by it, so a
    /// new set starts with none used.
    pub set_id: String,
    pub key: SecretBytes,
    pub hashes: Vec<[u8; HASH_BYTES]>,
    pub create_date: i64,
}

/// A fresh set and its codes, which are shown once and never stored.
#[derive(Debug)]
pub struct NewRecoveryCodes {
    pub set: RecoveryCodes,
    pub codes: Vec<SecretString>,
}

/// The random source failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read random bytes for recovery codes: {0}")]
pub struct RandomError(getrandom::Error);

impl RecoveryCodes {
    /// Ten fresh codes under a fresh key and set id.
    pub fn generate(now: i64) -> Result<NewRecoveryCodes, RandomError> {
        let key = SecretBytes::new(random(KEY_BYTES)?);
        let set_id = hex(&random(16)?);
        let mut codes = Vec::new();
        let mut hashes = Vec::new();
        for _ in 0..CODES_PER_SET {
            let mut bytes = random(CODE_BYTES)?;
            let mut letters = crate::totp::base32_encode(&bytes).to_ascii_lowercase();
            bytes.zeroize();
            hashes.push(keyed_hash(&key, letters.as_bytes()));
            let shown = letters
                .as_bytes()
                .chunks(4)
                .map(|group| String::from_utf8_lossy(group).into_owned())
                .collect::<Vec<_>>()
                .join("-");
            letters.zeroize();
            codes.push(SecretString::new(shown));
        }
        Ok(NewRecoveryCodes {
            set: RecoveryCodes {
                set_id,
                key,
                hashes,
                create_date: now,
            },
            codes,
        })
    }

    /// Which code of the set `answer` is (0-based), used or not. Case,
    /// spaces and dashes are ignored; anything else that is not a code's
    /// shape (a six-digit TOTP code, say) is no code. Every hash is
    /// compared in constant time, so timing says nothing about which.
    pub fn find(&self, answer: &SecretString) -> Option<u32> {
        let mut letters = normalize(answer)?;
        let hash = keyed_hash(&self.key, letters.as_bytes());
        letters.zeroize();
        let mut found = 0u32;
        let mut any = Choice::from(0);
        for (index, stored) in (0u32..).zip(&self.hashes) {
            let matches = stored.ct_eq(&hash);
            found = u32::conditional_select(&found, &index, matches);
            any |= matches;
        }
        bool::from(any).then_some(found)
    }
}

/// The answer's 16 base32 letters, lowercase, or `None` if it has another
/// shape.
fn normalize(answer: &SecretString) -> Option<String> {
    let letters: String = answer
        .expose()
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let shaped = letters.len() == CODE_LETTERS
        && letters
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    shaped.then_some(letters)
}

fn keyed_hash(key: &SecretBytes, letters: &[u8]) -> [u8; HASH_BYTES] {
    // HMAC takes a key of any length; the error is unreachable.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.expose()) else {
        return [0; HASH_BYTES];
    };
    mac.update(letters);
    mac.finalize().into_bytes().into()
}

fn random(n: usize) -> Result<Vec<u8>, RandomError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(RandomError)?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_distinct_codes_each_found_at_its_place() {
        let new = RecoveryCodes::generate(1_700_000_000).unwrap();
        assert_eq!(new.codes.len(), 10);
        assert_eq!(new.set.hashes.len(), 10);
        for (i, code) in new.codes.iter().enumerate() {
            let shown = code.expose();
            assert_eq!(shown.len(), 19, "{shown}");
            assert_eq!(shown.matches('-').count(), 3);
            assert_eq!(new.set.find(code), Some(i as u32));
            // Typed in capitals, without dashes, with spaces.
            let retyped = shown.to_ascii_uppercase().replace('-', " ");
            assert_eq!(new.set.find(&SecretString::from(retyped)), Some(i as u32));
        }
        let mut distinct = new.codes.iter().map(|c| c.expose()).collect::<Vec<_>>();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 10);
    }

    #[test]
    fn a_code_of_another_set_or_shape_is_no_code() {
        let a = RecoveryCodes::generate(0).unwrap();
        let b = RecoveryCodes::generate(0).unwrap();
        assert_ne!(a.set.set_id, b.set.set_id);
        for code in &b.codes {
            assert_eq!(a.set.find(code), None);
        }
        for shape in [
            "",
            "123456",
            "abcd-efgh-ijkl-mno",
            "abcd-efgh-ijkl-mno1",
            "0000000000000000",
        ] {
            assert_eq!(a.set.find(&SecretString::from(shape)), None, "{shape}");
        }
    }

    #[test]
    fn stored_hashes_are_not_the_codes() {
        let new = RecoveryCodes::generate(0).unwrap();
        for (code, hash) in new.codes.iter().zip(&new.set.hashes) {
            let letters = code.expose().replace('-', "");
            assert!(
                !hash
                    .windows(letters.len().min(HASH_BYTES))
                    .any(|w| w == letters.as_bytes())
            );
        }
    }
}
