//! `pam_sm_authenticate`: the factors, settled through the lockout rule.

use chrono::{DateTime, Utc};

use super::*;
use crate::audit::{PamEvent, UserIdentity};
use crate::factors::{self, CodeCheck, SecondFactors, split_combined, verify_or_dummy};
use crate::ledger::Ledger;
use crate::secret::SecretString;
use crate::store::{AuthRecord, AuthState, StoreError, UserStatus};

/// `pam_sm_authenticate`: asks for the factors `options.mode` requires and
/// checks them. The prompts depend on the mode only: in `password+totp`
/// every user (with or without a device, unknown, locked, disabled) is
/// asked `Password: ` then `Verification code: `. Known and unknown users
/// cost the same argon2 work and the same store writes; only the audit log
/// tells them apart.
///
/// The lockout rule decides in the write transaction that records each
/// step ([`Ledger::settle_attempt`]), after the prompts that step needed:
/// whatever the lock state was when the conversation started, a user
/// locked by then fails, and the code's TOTP step is taken in that
/// transaction (a locked attempt burns no code). In `password+totp` the
/// password is settled before the code is asked for: a wrong one is
/// counted and audited then, so a client that hangs up at the code prompt
/// has still spent a guess; a right one is only noted (the attempt's row),
/// the same store work, so the code prompt comes no sooner or later for
/// it. A client that hangs up after a right password leaves nothing to
/// count.
pub fn authenticate(conv: &mut dyn Conversation, options: &Options, now: DateTime<Utc>) -> Outcome {
    let (host, name, origin, user) = match Host::begin(conv, options) {
        Ok(begun) => begun.into_parts(),
        Err(outcome) => return outcome,
    };
    if user.is_none() && host.ignores() {
        // No prompts: the rest of the stack (pam_unix) asks local users.
        host.debug(&format!(
            "authenticate: {name:?} is not an IAM user; ignored"
        ));
        return Outcome::Ignore;
    }
    // What an earlier authentication in this handle left is not this one's.
    forget_auth_id(conv);
    let account = match user.map(|u| host.credentials(u)).transpose() {
        Ok(account) => account,
        Err(outcome) => return outcome,
    };
    let account = account.as_ref();
    let mut attempt = match Attempt::start(&host, account, &name, origin, now) {
        Ok(attempt) => attempt,
        Err(outcome) => return outcome,
    };
    // Authenticated only when every factor the mode asks passed.
    attempt.record.password = options.mode != Mode::Totp;

    // The password, in the modes that ask for one.
    let password = match options.mode {
        Mode::Totp => None,
        _ => match password_answer(conv, options) {
            Ok(answer) => Some(check_password(account, answer.as_ref(), options.mode)),
            Err(outcome) => return outcome,
        },
    };
    // Settled now, before the code prompt (the only other answer to come).
    let mut password_passed = true;
    if options.mode == Mode::PasswordTotp {
        let result = match &password {
            Some(Err(failure)) => Err(*failure),
            _ => Ok(None),
        };
        password_passed = match host.settle(&mut attempt, false, now, |_| Ok(result)) {
            Ok(passed) => passed,
            Err(outcome) => return outcome,
        };
    }
    let code = match options.mode {
        Mode::Password => None,
        _ => {
            let Ok(answer) = conv.prompt_secret(CODE_PROMPT) else {
                return Outcome::ConversationFailed;
            };
            // A combined `password123456` answer brought its code along:
            // the second answer is ignored.
            let appended = password
                .as_ref()
                .and_then(|p| p.as_ref().ok()?.code.clone());
            Some(appended.unwrap_or(answer))
        }
    };

    let mut recovery_left = None;
    let passed = if password_passed {
        let verified = password.as_ref().and_then(|p| p.as_ref().ok());
        let (identity, origin) = (attempt.identity.clone(), attempt.origin.clone());
        host.settle(&mut attempt, true, now, |ledger| {
            let result = check_code(&host, ledger, options.mode, account, &password, code, now)?;
            if let (Ok(_), Some(account), Some(_)) = (&result, account, verified) {
                ledger.record_password_used(&account.user.id, now)?;
            }
            Ok(match result {
                Ok(Proved::NoCode) => Ok(None),
                Ok(Proved::Totp) => Ok(Some(now.timestamp())),
                Ok(Proved::RecoveryCode { remaining }) => {
                    // Audited in the transaction that uses the code up.
                    let used = PamEvent::RecoveryCodeUsed { remaining };
                    host.queue_audit(ledger, used, &identity, &origin, now)?;
                    recovery_left = Some(remaining);
                    Ok(Some(now.timestamp()))
                }
                Err(failure) => Err(failure),
            })
        })
    } else {
        // Already refused (counted and audited): the row moves on like any
        // attempt's last step, with the same store work.
        host.close_refused(&mut attempt).map(|()| false)
    };
    match passed {
        Ok(true) => {}
        // Locked or not, the same answer (only the audit log says which):
        // a locked user must not look different from a wrong password or
        // an unknown user.
        Ok(false) => {
            conv.error(DENIED);
            return Outcome::AuthFailed;
        }
        Err(outcome) => return outcome,
    }
    if let Some(remaining) = recovery_left {
        host.deliver_audit();
        conv.info(&format!(
            "Recovery code accepted; {remaining} left. Enrol a new MFA device if yours is lost."
        ));
    }
    if let Some(Ok(verified)) = &password {
        conv.set_stacked_password(&verified.password);
    }
    hand_on_auth_id(conv, &attempt.record.id);
    host.debug(&format!(
        "authenticate: {name} succeeded (mfa: {})",
        attempt.record.mfa_time.is_some()
    ));
    Outcome::Success
}

/// What the code answer proved ([`check_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proved {
    /// No code was asked, or the user has no MFA device to prove.
    NoCode,
    /// A TOTP code of one of the user's devices.
    Totp,
    /// A recovery code, used up; `remaining` are left.
    RecoveryCode { remaining: u32 },
}

/// The last check of an attempt, inside its deciding transaction: what the
/// password came to (modes without a code prompt), the account (`mode=totp`)
/// and the code, whose step (or recovery code) is taken here. In
/// `password+totp` a user without an MFA device passes on the password
/// alone (policy and `require_mfa` decide in the account stage) and the
/// code answer is ignored; recovery codes stand in for a device's code, so
/// they too count only for a user with a device.
pub(super) fn check_code(
    host: &Host,
    ledger: &Ledger<'_>,
    mode: Mode,
    account: Option<&Credentials>,
    password: &Option<Result<Verified, Failure>>,
    code: Option<SecretString>,
    now: DateTime<Utc>,
) -> Result<Result<Proved, Failure>, StoreError> {
    if let Some(Err(failure)) = password {
        return Ok(Err(*failure));
    }
    if let Some(failure) = account_failure(account) {
        return Ok(Err(failure));
    }
    let Some(code) = code else {
        return Ok(Ok(Proved::NoCode));
    };
    let Some(account) = account.filter(|a| !a.devices.is_empty()) else {
        return Ok(match mode {
            Mode::Totp => Err(Failure::NoMfaDevice),
            _ => Ok(Proved::NoCode),
        });
    };
    let factors = SecondFactors {
        devices: &account.devices,
        recovery: account.recovery.as_ref(),
    };
    let skew = host.config.totp.skew_steps;
    Ok(
        match factors::check_code(ledger, factors, &code, skew, now)? {
            CodeCheck::Accepted { .. } => Ok(Proved::Totp),
            CodeCheck::RecoveryCode { remaining } => Ok(Proved::RecoveryCode { remaining }),
            CodeCheck::Wrong => Err(Failure::WrongCode),
            CodeCheck::Replayed => Err(Failure::ReplayedCode),
        },
    )
}

/// One authentication attempt: its row in the store (the authentication
/// record, under a fresh random id), who it is for and where from.
pub(super) struct Attempt {
    pub(super) record: AuthRecord,
    pub(super) identity: UserIdentity,
    pub(super) origin: Origin,
}

impl Attempt {
    /// Failures of unknown users are counted under [`UNKNOWN_USERS`], and
    /// their rows carry that name: no user can find them.
    pub(super) fn start(
        host: &Host,
        account: Option<&Credentials>,
        name: &str,
        origin: Origin,
        now: DateTime<Utc>,
    ) -> Result<Self, Outcome> {
        let id = AuthRecord::new_id().map_err(|e| {
            host.report(&format!("authenticate: no random id for {name}: {e}"));
            Outcome::Unavailable
        })?;
        let (user, identity) = match account {
            Some(account) => (account.user.name.to_string(), account.identity(host)),
            None => (UNKNOWN_USERS.to_owned(), UserIdentity::unknown(name)),
        };
        Ok(Self {
            record: AuthRecord {
                id,
                user,
                service: origin.service.clone(),
                rhost: origin.rhost_key().to_owned(),
                tty: origin.tty.clone().unwrap_or_default(),
                time: now.timestamp(),
                mfa_time: None,
                password: false,
                state: AuthState::Pending,
            },
            identity,
            origin,
        })
    }
}

/// A verified password.
pub(super) struct Verified {
    /// Without an appended code, for PAM_AUTHTOK.
    pub(super) password: SecretString,
    /// The code of a combined `password123456` answer.
    pub(super) code: Option<SecretString>,
}

/// Which factor failed, for the audit log (never for the user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    UnknownUser,
    NoStackedPassword,
    Disabled,
    NoLoginProfile,
    WrongPassword,
    NoMfaDevice,
    WrongCode,
    ReplayedCode,
}

impl Failure {
    pub(super) fn reason(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown user",
            Self::NoStackedPassword => "use_first_pass: no password from an earlier module",
            Self::Disabled => "user is disabled",
            Self::NoLoginProfile => "user has no login profile (password)",
            Self::WrongPassword => "wrong password",
            Self::NoMfaDevice => "user has no MFA device",
            Self::WrongCode => "wrong verification code",
            Self::ReplayedCode => "replayed verification code",
        }
    }

    /// Whether it counts towards the lockout: every guess does; a disabled
    /// user is refused without one.
    pub(super) fn counts(self) -> bool {
        self != Self::Disabled
    }
}

/// Why this account cannot authenticate whatever it answers, if it cannot.
pub(super) fn account_failure(account: Option<&Credentials>) -> Option<Failure> {
    match account {
        None => Some(Failure::UnknownUser),
        Some(a) if a.user.status == UserStatus::Disabled => Some(Failure::Disabled),
        Some(_) => None,
    }
}

/// Verifies the password answer (`None`: `use_first_pass` found none).
/// `account` is `None` for an unknown user, who costs the same argon2 work:
/// the answer is verified against a dummy hash, and so is its prefix when
/// it ends in six digits (a combined `password123456` answer, tried in
/// `password+totp` for every user alike). A disabled user's hash is not
/// consulted either.
pub(super) fn check_password(
    account: Option<&Credentials>,
    answer: Option<&SecretString>,
    mode: Mode,
) -> Result<Verified, Failure> {
    let refused = account_failure(account);
    let Some(answer) = answer else {
        return Err(refused.unwrap_or(Failure::NoStackedPassword));
    };
    let profile = account.and_then(|a| a.profile.as_ref());
    let hash = profile
        .filter(|_| refused.is_none())
        .map(|p| p.password_hash.as_str());
    let combined = (mode == Mode::PasswordTotp)
        .then(|| split_combined(answer))
        .flatten();
    let whole_ok = verify_or_dummy(hash, answer);
    let prefix_ok = combined
        .as_ref()
        .is_some_and(|(password, _)| verify_or_dummy(hash, password));
    if let Some(failure) = refused {
        return Err(failure);
    }
    match (whole_ok, prefix_ok, combined) {
        (true, _, _) => Ok(Verified {
            password: answer.clone(),
            code: None,
        }),
        (false, true, Some((password, code))) => Ok(Verified {
            password,
            code: Some(code),
        }),
        _ if profile.is_none() => Err(Failure::NoLoginProfile),
        _ => Err(Failure::WrongPassword),
    }
}

/// The password answer per `use_first_pass` / `try_first_pass`; `None` when
/// `use_first_pass` finds no password from an earlier module.
pub(super) fn password_answer(
    conv: &mut dyn Conversation,
    options: &Options,
) -> Result<Option<SecretString>, Outcome> {
    let stacked = match options.first_pass {
        FirstPass::Prompt => None,
        FirstPass::Try | FirstPass::Use => conv.stacked_password(),
    };
    match (stacked, options.first_pass) {
        (Some(password), _) => Ok(Some(password)),
        (None, FirstPass::Use) => Ok(None),
        (None, _) => conv
            .prompt_secret(PASSWORD_PROMPT)
            .map(Some)
            .map_err(|_| Outcome::ConversationFailed),
    }
}
