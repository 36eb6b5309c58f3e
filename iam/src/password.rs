//! Passwords: argon2id PHC hashes and the account password policy.
//!
//! Hashing parameters are constants, not configuration: one cost for every
//! hash is what lets [`verify_dummy`] make an unknown user cost exactly as
//! much as a known one.

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::secret::SecretString;

/// argon2id memory cost in KiB. 19 MiB, 2 passes, 1 lane is OWASP's first
/// argon2id recommendation and the argon2 crate's default: cheap enough for
/// an interactive login, costly per guess offline, and 20 parallel sshd
/// logins need under half a GiB of memory.
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;
/// argon2id passes.
pub const ARGON2_T_COST: u32 = 2;
/// argon2id lanes: 1, because a PAM module must not start threads.
pub const ARGON2_P_COST: u32 = 1;

/// Stored hashes above these costs are refused rather than computed, so a
/// corrupt or hostile store row cannot stall sshd or exhaust memory.
const MAX_M_COST_KIB: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 4;

/// A PHC string made with the parameters above from a random password
/// nobody knows; [`verify_dummy`] checks against it. `dummy_phc_matches_the_parameters`
/// keeps it in step with the constants.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$A6sp8g6MsRKh4RmE/gLlhg$q9PBki9tSdy6GAZsRVPs7pOI3uFTv1/r1HV1t0wvRy8";

/// AWS's longest password.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// AWS's "non-alphanumeric character" set for `RequireSymbols`.
pub const AWS_SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

/// Hashing failed. Carries no input: only what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("cannot read random bytes for a salt: {0}")]
    Random(getrandom::Error),
    #[error("argon2id hashing failed: {0}")]
    Hash(String),
}

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password to an argon2id PHC string with a fresh 16-byte salt.
pub fn hash_password(password: &SecretString) -> Result<String, PasswordError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(PasswordError::Random)?;
    let hash = argon2()?
        .hash_password_with_salt(password.expose().as_bytes(), &salt)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches `phc`. The output comparison inside argon2 is
/// constant-time. A PHC string that is malformed, not argon2id, or costlier
/// than this module allows is a mismatch, and still costs one dummy verify
/// so it cannot be told apart by timing.
pub fn verify_password(password: &SecretString, phc: &str) -> bool {
    match acceptable_hash(phc) {
        Some(hash) => match argon2() {
            Ok(a) => a
                .verify_password(password.expose().as_bytes(), &hash)
                .is_ok(),
            Err(_) => false,
        },
        None => {
            verify_dummy(password);
            false
        }
    }
}

/// Spends what a real [`verify_password`] spends, for a user that does not
/// exist or has no password, so response time does not reveal which.
pub fn verify_dummy(password: &SecretString) {
    if let (Ok(a), Ok(hash)) = (argon2(), PasswordHash::new(DUMMY_PHC)) {
        let result = a.verify_password(password.expose().as_bytes(), &hash);
        std::hint::black_box(result.is_ok());
    }
}

/// Parses `phc` and accepts it only as argon2id within the cost bounds.
fn acceptable_hash(phc: &str) -> Option<PasswordHash> {
    let hash = PasswordHash::new(phc).ok()?;
    if hash.algorithm.as_str() != "argon2id" {
        return None;
    }
    let params = Params::try_from(&hash).ok()?;
    (params.m_cost() <= MAX_M_COST_KIB
        && params.t_cost() <= MAX_T_COST
        && params.p_cost() <= MAX_P_COST)
        .then_some(hash)
}

/// The account password policy, with AWS's field names
/// (`aws iam get-account-password-policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PasswordPolicy {
    pub minimum_password_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    /// Days; `None` means passwords never expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_password_age: Option<u32>,
    /// How many previous passwords may not be reused; `None` means no check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_reuse_prevention: Option<u32>,
    #[serde(default)]
    pub hard_expiry: bool,
}

impl Default for PasswordPolicy {
    /// AWS's default when no policy is set: 8 characters, no class rules.
    fn default() -> Self {
        Self {
            minimum_password_length: 8,
            require_symbols: false,
            require_numbers: false,
            require_uppercase_characters: false,
            require_lowercase_characters: false,
            allow_users_to_change_password: true,
            max_password_age: None,
            password_reuse_prevention: None,
            hard_expiry: false,
        }
    }
}

/// A policy field outside AWS's range (`UpdateAccountPasswordPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Value '{value}' at '{field}' failed to satisfy constraint: Member must have value between {min} and {max}"
)]
pub struct PasswordPolicyError {
    /// AWS's camelCase parameter name, as its ValidationError says it.
    pub field: &'static str,
    pub value: u32,
    pub min: u32,
    pub max: u32,
}

/// The one rule a candidate password broke; the message is meant for the
/// user choosing a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyViolation {
    #[error("Password must be at least {minimum} characters long.")]
    TooShort { minimum: u32 },
    #[error("Password must be at most {maximum} characters long.")]
    TooLong { maximum: usize },
    #[error("Password must contain at least one symbol (one of {AWS_SYMBOLS}).")]
    MissingSymbol,
    #[error("Password must contain at least one number.")]
    MissingNumber,
    #[error("Password must contain at least one uppercase letter (A-Z).")]
    MissingUppercase,
    #[error("Password must contain at least one lowercase letter (a-z).")]
    MissingLowercase,
    #[error("Password must not be one of the last {count} passwords.")]
    Reused { count: u32 },
}

impl PasswordPolicy {
    /// Checks every field against AWS's ranges: MinimumPasswordLength
    /// 6..=128, MaxPasswordAge 1..=1095, PasswordReusePrevention 1..=24.
    pub fn validate(&self) -> Result<(), PasswordPolicyError> {
        let check = |field, value: u32, min, max| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(PasswordPolicyError {
                    field,
                    value,
                    min,
                    max,
                })
            }
        };
        check(
            "minimumPasswordLength",
            self.minimum_password_length,
            6,
            128,
        )?;
        if let Some(age) = self.max_password_age {
            check("maxPasswordAge", age, 1, 1095)?;
        }
        if let Some(n) = self.password_reuse_prevention {
            check("passwordReusePrevention", n, 1, 24)?;
        }
        Ok(())
    }

    /// Checks `candidate` against the policy. `previous_hashes` are the
    /// user's earlier PHC hashes, newest first; only the first
    /// `password_reuse_prevention` are consulted (each costs one argon2
    /// verify). Rules are checked cheapest first and the first failure is
    /// returned. `user_name` is taken so callers need not change when a
    /// name-based rule is wanted; AWS has none, so none is applied.
    pub fn check(
        &self,
        candidate: &SecretString,
        _user_name: &str,
        previous_hashes: &[String],
    ) -> Result<(), PasswordPolicyViolation> {
        let pw = candidate.expose();
        let chars = pw.chars().count();
        if chars < self.minimum_password_length as usize {
            return Err(PasswordPolicyViolation::TooShort {
                minimum: self.minimum_password_length,
            });
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordPolicyViolation::TooLong {
                maximum: MAX_PASSWORD_CHARS,
            });
        }
        if self.require_symbols && !pw.chars().any(|c| AWS_SYMBOLS.contains(c)) {
            return Err(PasswordPolicyViolation::MissingSymbol);
        }
        if self.require_numbers && !pw.chars().any(|c| c.is_ascii_digit()) {
            return Err(PasswordPolicyViolation::MissingNumber);
        }
        if self.require_uppercase_characters && !pw.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(PasswordPolicyViolation::MissingUppercase);
        }
        if self.require_lowercase_characters && !pw.chars().any(|c| c.is_ascii_lowercase()) {
            return Err(PasswordPolicyViolation::MissingLowercase);
        }
        if let Some(count) = self.password_reuse_prevention {
            let reused = previous_hashes
                .iter()
                .take(count as usize)
                .any(|phc| verify_password(candidate, phc));
            if reused {
                return Err(PasswordPolicyViolation::Reused { count });
            }
        }
        Ok(())
    }

    /// When a password changed at `changed_at` expires, if the policy sets a
    /// maximum age (the credential report's `password_next_rotation`).
    pub fn expires_at(&self, changed_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let days = self.max_password_age?;
        changed_at.checked_add_signed(TimeDelta::days(i64::from(days)))
    }

    /// Whether a password changed at `changed_at` has outlived
    /// `MaxPasswordAge` at `now`.
    pub fn is_expired(&self, changed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.expires_at(changed_at).is_some_and(|at| now >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn s(p: &str) -> SecretString {
        SecretString::from(p)
    }

    #[test]
    fn hash_then_verify() {
        let phc = hash_password(&s("correct horse")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password(&s("correct horse"), &phc));
        assert!(!verify_password(&s("correct hors"), &phc));
        assert!(!verify_password(&s(""), &phc));
        // Fresh salt each time.
        assert_ne!(phc, hash_password(&s("correct horse")).unwrap());
    }

    #[test]
    fn bad_or_foreign_hashes_never_verify() {
        let p = s("pw");
        assert!(!verify_password(&p, ""));
        assert!(!verify_password(&p, "not a phc"));
        assert!(!verify_password(&p, "$6$salt$crypt"));
        // Valid argon2i and over-cost argon2id hashes are refused unevaluated.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"pw", b"saltsaltsalt")
        .unwrap()
        .to_string();
        assert!(!verify_password(&p, &argon2i));
        assert!(!verify_password(
            &p,
            "$argon2id$v=19$m=4194304,t=2,p=1$ZXdhcnQtZHVtbXktc2FsdA$3GSPsnfVHSyd0bsvW87jj8Qp4aZmuP5V5AnoKvWiNsM"
        ));
    }

    #[test]
    fn dummy_phc_matches_the_parameters() {
        let hash = PasswordHash::new(DUMMY_PHC).unwrap();
        assert_eq!(hash.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&hash).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST)
        );
        assert_eq!(hash.hash.unwrap().len(), Params::DEFAULT_OUTPUT_LEN);
        assert!(acceptable_hash(DUMMY_PHC).is_some());
    }

    fn strict() -> PasswordPolicy {
        PasswordPolicy {
            minimum_password_length: 10,
            require_symbols: true,
            require_numbers: true,
            require_uppercase_characters: true,
            require_lowercase_characters: true,
            password_reuse_prevention: Some(2),
            ..PasswordPolicy::default()
        }
    }

    #[test]
    fn each_rule_is_named() {
        use PasswordPolicyViolation::*;
        let p = strict();
        let check = |pw: &str| p.check(&s(pw), "alice", &[]);
        assert_eq!(check("Aa1!short"), Err(TooShort { minimum: 10 }));
        assert_eq!(check(&"Aa1!".repeat(33)), Err(TooLong { maximum: 128 }));
        assert_eq!(check("Abcdefghi1"), Err(MissingSymbol));
        assert_eq!(
            check("Abcdefghi~1"),
            Err(MissingSymbol),
            "~ is not in AWS's set"
        );
        assert_eq!(check("Abcdefghi!"), Err(MissingNumber));
        assert_eq!(check("abcdefgh1'"), Err(MissingUppercase));
        assert_eq!(check("ABCDEFGH1|"), Err(MissingLowercase));
        assert_eq!(check("Abcdefgh1|"), Ok(()));
        for sym in AWS_SYMBOLS.chars() {
            assert_eq!(check(&format!("Abcdefgh1{sym}")), Ok(()), "{sym}");
        }
        // Length counts characters, not bytes.
        assert_eq!(
            PasswordPolicy::default().check(&s("ééééééé"), "a", &[]),
            Err(TooShort { minimum: 8 })
        );
        assert_eq!(
            TooShort { minimum: 10 }.to_string(),
            "Password must be at least 10 characters long."
        );
    }

    #[test]
    fn reuse_of_the_last_n_is_refused() {
        let p = strict();
        let old = |pw: &str| hash_password(&s(pw)).unwrap();
        let history = vec![old("Newest-pw-1"), old("Middle-pw-1"), old("Oldest-pw-1")];
        let check = |pw: &str| p.check(&s(pw), "alice", &history);
        assert_eq!(
            check("Newest-pw-1"),
            Err(PasswordPolicyViolation::Reused { count: 2 })
        );
        assert_eq!(
            check("Middle-pw-1"),
            Err(PasswordPolicyViolation::Reused { count: 2 })
        );
        assert_eq!(check("Oldest-pw-1"), Ok(()), "only the last 2 count");
        let no_reuse_rule = PasswordPolicy {
            password_reuse_prevention: None,
            ..strict()
        };
        assert_eq!(
            no_reuse_rule.check(&s("Newest-pw-1"), "alice", &history),
            Ok(())
        );
    }

    #[test]
    fn aws_ranges() {
        assert_eq!(PasswordPolicy::default().validate(), Ok(()));
        let with = |f: &dyn Fn(&mut PasswordPolicy)| {
            let mut p = PasswordPolicy::default();
            f(&mut p);
            p.validate()
        };
        assert!(with(&|p| p.minimum_password_length = 5).is_err());
        assert!(with(&|p| p.minimum_password_length = 6).is_ok());
        assert!(with(&|p| p.minimum_password_length = 128).is_ok());
        let err = with(&|p| p.minimum_password_length = 129).unwrap_err();
        assert_eq!(err.field, "minimumPasswordLength");
        assert!(with(&|p| p.max_password_age = Some(0)).is_err());
        assert!(with(&|p| p.max_password_age = Some(1095)).is_ok());
        assert!(with(&|p| p.max_password_age = Some(1096)).is_err());
        assert!(with(&|p| p.password_reuse_prevention = Some(0)).is_err());
        assert!(with(&|p| p.password_reuse_prevention = Some(24)).is_ok());
        let err = with(&|p| p.password_reuse_prevention = Some(25)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Value '25' at 'passwordReusePrevention' failed to satisfy constraint: Member must have value between 1 and 24"
        );
    }

    #[test]
    fn expiry() {
        let changed = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let never = PasswordPolicy::default();
        assert!(!never.is_expired(changed, changed + TimeDelta::days(10_000)));
        assert_eq!(never.expires_at(changed), None);
        let p = PasswordPolicy {
            max_password_age: Some(90),
            ..PasswordPolicy::default()
        };
        let at = p.expires_at(changed).unwrap();
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap());
        assert!(!p.is_expired(changed, at - TimeDelta::seconds(1)));
        assert!(p.is_expired(changed, at));
    }

    #[test]
    fn policy_json_is_aws_shaped() {
        let p = PasswordPolicy {
            max_password_age: Some(90),
            ..PasswordPolicy::default()
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["MinimumPasswordLength"], 8);
        assert_eq!(json["MaxPasswordAge"], 90);
        assert!(json.get("PasswordReusePrevention").is_none());
        let back: PasswordPolicy = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }
}
