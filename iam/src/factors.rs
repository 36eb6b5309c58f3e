//! The factors, in one home: the password (with the equal-work rule for
//! unknown users), the verification code (a TOTP code of any of the user's
//! devices, its step claimed in the ledger, so a code works once whoever
//! checks it; or a recovery code, used up likewise), and the lockout rule that every check
//! goes through ([`Ledger::settle_attempt`]). PAM login and `chauthtok`,
//! `iamctl change-password` and `assume-role` all call these.

use crate::config::LockoutConfig;
use crate::ledger::Ledger;
use crate::password;
use crate::recovery_codes::{CODES_PER_SET, RecoveryCodes};
use crate::secret::SecretString;
use crate::store::{AttemptResult, LockoutRule, MfaDevice, Settled, StoreError};
use crate::totp;
use chrono::{DateTime, Utc};

/// Digits of a TOTP code.
pub const CODE_DIGITS: usize = 6;

/// The lockout rule of `[lockout]`, in the ledger's terms.
pub fn lockout_rule(config: &LockoutConfig) -> LockoutRule {
    LockoutRule {
        deny: config.deny,
        fail_interval: config.fail_interval.num_seconds(),
        unlock_time: config.unlock_time.num_seconds(),
    }
}

/// Verifies against `hash`, or spends the same work on a dummy hash.
pub fn verify_or_dummy(hash: Option<&str>, candidate: &SecretString) -> bool {
    match hash {
        Some(hash) => password::verify_password(candidate, hash),
        None => {
            password::verify_dummy(candidate);
            false
        }
    }
}

/// `password123456` → (`password`, `123456`), when the answer ends in a
/// TOTP code and something precedes it.
pub fn split_combined(answer: &SecretString) -> Option<(SecretString, SecretString)> {
    let text = answer.expose();
    let cut = text.len().checked_sub(CODE_DIGITS)?;
    let (password, code) = (text.get(..cut)?, text.get(cut..)?);
    (!password.is_empty() && code.bytes().all(|b| b.is_ascii_digit()))
        .then(|| (SecretString::from(password), SecretString::from(code)))
}

/// What a verification code proved ([`check_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// A TOTP code of the device with this serial number.
    Accepted {
        serial: String,
    },
    /// One of the user's recovery codes, now used up; `remaining` are left.
    RecoveryCode {
        remaining: u32,
    },
    Wrong,
    /// Right code, but already used (its TOTP step, here or on a host
    /// sharing the ledger; or the recovery code).
    Replayed,
}

/// The second factors a code may prove: the user's enabled MFA devices
/// (any of them: AWS allows several) and, where the code prompt of a login
/// takes one in place of a device's code, the user's recovery codes.
#[derive(Debug, Clone, Copy)]
pub struct SecondFactors<'a> {
    pub devices: &'a [MfaDevice],
    pub recovery: Option<&'a RecoveryCodes>,
}

/// Verifies `code` against each device (at the device's own clock, its
/// drift applied) and claims its step with the ledger's compare-and-set,
/// so the same code never works twice, whichever path (login or
/// assume-role) saw it first; each device has its own counter. Failing
/// those, a recovery code is used up the same way. Run it inside the
/// attempt's settle, so a locked user burns no code.
pub fn check_code(
    ledger: &Ledger<'_>,
    factors: SecondFactors<'_>,
    code: &SecretString,
    skew_steps: u8,
    now: DateTime<Utc>,
) -> Result<CodeCheck, StoreError> {
    let mut replayed = false;
    for device in factors.devices {
        let serial = &device.serial_number;
        let at = device.device_time(now);
        let last = ledger.totp_step(serial)?;
        if let Some(step) = totp::verify(&device.secret, code, at, skew_steps, last) {
            return Ok(match ledger.accept_totp_step(serial, step)? {
                true => CodeCheck::Accepted {
                    serial: serial.clone(),
                },
                // Another check took this step (or a later one) meanwhile.
                false => CodeCheck::Replayed,
            });
        }
        replayed |= totp::verify(&device.secret, code, at, skew_steps, None).is_some();
    }
    if let Some(set) = factors.recovery
        && let Some(index) = set.find(code)
    {
        if !ledger.use_recovery_code(&set.set_id, index, now)? {
            return Ok(CodeCheck::Replayed);
        }
        let used = ledger.recovery_codes_used(&set.set_id)?;
        return Ok(CodeCheck::RecoveryCode {
            remaining: CODES_PER_SET.saturating_sub(used),
        });
    }
    Ok(match replayed {
        true => CodeCheck::Replayed,
        false => CodeCheck::Wrong,
    })
}

/// What a current password came to ([`check_current_password`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrentPassword {
    Right,
    /// Wrong, and counted; `locked_now`: that failure locked the user.
    Wrong {
        locked_now: bool,
    },
    /// The user is locked out: nothing was checked or counted.
    Locked,
}

impl CurrentPassword {
    /// For the audit log.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Right => "right current password",
            Self::Wrong { locked_now: false } => "wrong current password",
            Self::Wrong { locked_now: true } => "wrong current password; user now locked out",
            Self::Locked => "user is locked out",
        }
    }
}

/// A user's current password, checked under the login's lockout rule
/// ([`Ledger::settle_attempt`]) wherever it is typed: PAM `chauthtok` and
/// `iamctl change-password` (issue 11, item 7: a shell as the user used to
/// guess there without limit). A locked user is refused and nothing is
/// checked; a wrong password counts as a login failure does. A right one
/// forgets no failure: it is one factor, and letting it reset the count
/// would let a password holder guess codes at the login without limit.
///
/// The guess is counted before it is checked and taken back when it proves
/// right: `passwd` and a setuid `iamctl` run with the user's real uid, so
/// the user may kill them between the check and the count; this way a kill
/// anywhere after the count leaves the guess counted.
pub fn check_current_password(
    ledger: &Ledger<'_>,
    lockout: &LockoutConfig,
    user: &str,
    hash: &str,
    candidate: &SecretString,
    now: DateTime<Utc>,
) -> Result<CurrentPassword, StoreError> {
    let rule = lockout_rule(lockout);
    let counted = ledger.settle_attempt(user, &rule, now, |_| {
        Ok(AttemptResult::Fail { count: true })
    })?;
    let Settled::Failed { state, .. } = counted else {
        // Locked (a failing verdict never passes).
        return Ok(CurrentPassword::Locked);
    };
    if password::verify_password(candidate, hash) {
        ledger.forgive_failure(user, now)?;
        return Ok(CurrentPassword::Right);
    }
    Ok(CurrentPassword::Wrong {
        locked_now: state.locked,
    })
}
