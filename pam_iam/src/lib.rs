//! `pam_iam.so`: PAM glue over [`iam::login`], where every rule lives.
//!
//! This file parses the module options, catches panics at every hook, makes
//! one call into `iam::login` per hook and maps its [`Outcome`] to a PAM code
//! in exactly one function, [`pam_code`]. The PAM conversation is adapted in
//! `conv.rs`; our own FFI (items pam-bindings does not expose, setgroups)
//! sits in `sys.rs`.

use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use iam::login::{self, FirstPass, Mode, Options, Outcome};
use pam::constants::{
    PAM_CHANGE_EXPIRED_AUTHTOK, PAM_DELETE_CRED, PAM_SILENT, PamFlag, PamResultCode,
};
use pam::module::{PamHandle, PamHooks};

mod conv;
mod sys;

/// `pam_chauthtok` runs every module twice: first with this flag (may the
/// token be changed?), then with `PAM_UPDATE_AUTHTOK` (change it).
/// pam-bindings 0.4 does not define it (Linux-PAM's `_pam_types.h`: 0x4000).
const PAM_PRELIM_CHECK: PamFlag = 0x4000;

struct PamIam;
pam::pam_hooks!(PamIam);

/// The PAM stage a call came in through: PAM defines which codes each may
/// return, so [`pam_code`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hook {
    Authenticate,
    Setcred,
    AcctMgmt,
    OpenSession,
    CloseSession,
    Chauthtok,
}

impl PamHooks for PamIam {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        run(Hook::Authenticate, pamh, &args, flags)
    }

    fn sm_setcred(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        run(Hook::Setcred, pamh, &args, flags)
    }

    fn acct_mgmt(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        run(Hook::AcctMgmt, pamh, &args, flags)
    }

    fn sm_open_session(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        run(Hook::OpenSession, pamh, &args, flags)
    }

    fn sm_close_session(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        run(Hook::CloseSession, pamh, &args, flags)
    }

    fn sm_chauthtok(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        run(Hook::Chauthtok, pamh, &args, flags)
    }
}

/// One hook call: never lets a panic reach libpam (a panic fails closed).
fn run(hook: Hook, pamh: &mut PamHandle, args: &[&CStr], flags: PamFlag) -> PamResultCode {
    let outcome = match catch_unwind(AssertUnwindSafe(|| dispatch(hook, pamh, args, flags))) {
        Ok(outcome) => outcome,
        Err(payload) => {
            // Dropping a panic payload can itself panic; contain that too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            Outcome::Unavailable
        }
    };
    pam_code(hook, outcome)
}

fn dispatch(hook: Hook, pamh: &mut PamHandle, args: &[&CStr], flags: PamFlag) -> Outcome {
    let options = match parse_options(args) {
        Ok(options) => options,
        Err(bad) => return login::refuse_options(&bad),
    };
    let mut conv = conv::PamConversation::new(pamh, flags & PAM_SILENT != 0);
    let now = chrono::Utc::now();
    match hook {
        Hook::Authenticate => login::authenticate(&mut conv, &options, now),
        Hook::AcctMgmt => login::account(&mut conv, &options, now),
        Hook::Setcred => match login::local_groups(&mut conv, &options) {
            // Groups leave with the process; nothing to take back.
            Ok(_) if flags & PAM_DELETE_CRED != 0 => Outcome::Success,
            Ok(groups) => sys::grant_groups(&groups),
            Err(outcome) => outcome,
        },
        Hook::OpenSession => login::open_session(&mut conv, &options, now),
        Hook::CloseSession => login::close_session(&mut conv, &options, now),
        Hook::Chauthtok => login::change_password(
            &mut conv,
            &options,
            login::PasswordChange {
                preliminary: flags & PAM_PRELIM_CHECK != 0,
                expired_only: flags & PAM_CHANGE_EXPIRED_AUTHTOK != 0,
                by_root: sys::caller_is_root(),
            },
            now,
        ),
    }
}

/// Parses the options on the module's /etc/pam.d line. Any option we do not
/// know is an error (the caller logs it and fails closed): a typo such as
/// `mode=pasword` must not silently weaken a login.
fn parse_options(args: &[&CStr]) -> Result<Options, String> {
    let mut options = Options::default();
    for arg in args {
        let Ok(arg) = arg.to_str() else {
            return Err(format!("option not UTF-8: {arg:?}"));
        };
        match arg.split_once('=') {
            Some(("config", path)) if !path.is_empty() => options.config = PathBuf::from(path),
            Some(("mode", "password+totp")) => options.mode = Mode::PasswordTotp,
            Some(("mode", "totp")) => options.mode = Mode::Totp,
            Some(("mode", "password")) => options.mode = Mode::Password,
            None if arg == "use_first_pass" => options.first_pass = FirstPass::Use,
            None if arg == "try_first_pass" => options.first_pass = FirstPass::Try,
            None if arg == "debug" => options.debug = true,
            _ => return Err(format!("unknown option {arg:?}")),
        }
    }
    Ok(options)
}

/// The one place outcomes become PAM codes. Each hook returns only codes
/// PAM defines for it, so `[success=… default=…]` stacks behave as with
/// pam_unix; only an explicit [`Outcome::Success`] is `PAM_SUCCESS`.
fn pam_code(hook: Hook, outcome: Outcome) -> PamResultCode {
    use Hook::*;
    use PamResultCode::*;
    match (outcome, hook) {
        (Outcome::Success, _) => PAM_SUCCESS,
        (Outcome::Ignore, _) => PAM_IGNORE,
        (Outcome::UserUnknown, Authenticate) => PAM_AUTH_ERR,
        (Outcome::UserUnknown, OpenSession | CloseSession) => PAM_SESSION_ERR,
        (Outcome::UserUnknown, _) => PAM_USER_UNKNOWN,
        (Outcome::AuthFailed, Setcred) => PAM_CRED_ERR,
        (Outcome::AuthFailed, OpenSession | CloseSession) => PAM_SESSION_ERR,
        (Outcome::AuthFailed, Chauthtok) => PAM_AUTHTOK_ERR,
        (Outcome::AuthFailed, _) => PAM_AUTH_ERR,
        (Outcome::Unavailable, Authenticate) => PAM_AUTHINFO_UNAVAIL,
        (Outcome::Unavailable, Setcred) => PAM_CRED_UNAVAIL,
        (Outcome::Unavailable, OpenSession | CloseSession) => PAM_SESSION_ERR,
        (Outcome::Unavailable, Chauthtok) => PAM_AUTHTOK_ERR,
        (Outcome::Unavailable, AcctMgmt) => PAM_AUTH_ERR,
        (Outcome::ConversationFailed, _) => PAM_CONV_ERR,
        (Outcome::AccountDisabled, AcctMgmt) => PAM_ACCT_EXPIRED,
        (Outcome::AccountDisabled, Setcred) => PAM_CRED_EXPIRED,
        (Outcome::AccountDisabled, OpenSession | CloseSession) => PAM_SESSION_ERR,
        (Outcome::AccountDisabled, Chauthtok) => PAM_PERM_DENIED,
        (Outcome::AccountDisabled, Authenticate) => PAM_AUTH_ERR,
        (Outcome::PermissionDenied, Setcred) => PAM_CRED_ERR,
        (Outcome::PermissionDenied, OpenSession | CloseSession) => PAM_SESSION_ERR,
        (Outcome::PermissionDenied, _) => PAM_PERM_DENIED,
        (Outcome::NewPasswordRequired, AcctMgmt) => PAM_NEW_AUTHTOK_REQD,
        (Outcome::NewPasswordRequired, Chauthtok) => PAM_AUTHTOK_ERR,
        (Outcome::NewPasswordRequired, _) => PAM_AUTH_ERR,
        (Outcome::PasswordRejected, _) => PAM_AUTHTOK_ERR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&CStr]) -> Result<Options, String> {
        parse_options(args)
    }

    #[test]
    fn default_options() {
        assert_eq!(parse(&[]), Ok(Options::default()));
    }

    #[test]
    fn every_known_option() {
        let o = parse(&[
            c"config=/tmp/x/iam.toml",
            c"mode=totp",
            c"try_first_pass",
            c"debug",
        ]);
        assert_eq!(
            o.map(|o| (o.config, o.mode, o.first_pass, o.debug)),
            Ok((
                PathBuf::from("/tmp/x/iam.toml"),
                Mode::Totp,
                FirstPass::Try,
                true
            ))
        );
        let o = parse(&[c"mode=password", c"use_first_pass"]);
        assert_eq!(
            o.map(|o| (o.mode, o.first_pass)),
            Ok((Mode::Password, FirstPass::Use))
        );
        assert_eq!(
            parse(&[c"mode=password+totp"]).map(|o| o.mode),
            Ok(Mode::PasswordTotp)
        );
    }

    #[test]
    fn unknown_or_malformed_options_are_refused() {
        for bad in [
            c"mode=pasword",
            c"nullok",
            c"config=",
            c"debug=1",
            c"use_first_pass=yes",
        ] {
            assert!(parse(&[bad]).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn only_success_is_pam_success() {
        let hooks = [
            Hook::Authenticate,
            Hook::Setcred,
            Hook::AcctMgmt,
            Hook::OpenSession,
            Hook::CloseSession,
            Hook::Chauthtok,
        ];
        let outcomes = [
            Outcome::Ignore,
            Outcome::UserUnknown,
            Outcome::AuthFailed,
            Outcome::Unavailable,
            Outcome::ConversationFailed,
            Outcome::AccountDisabled,
            Outcome::PermissionDenied,
            Outcome::NewPasswordRequired,
            Outcome::PasswordRejected,
        ];
        for hook in hooks {
            assert_eq!(pam_code(hook, Outcome::Success), PamResultCode::PAM_SUCCESS);
            for outcome in outcomes {
                assert_ne!(pam_code(hook, outcome), PamResultCode::PAM_SUCCESS);
            }
        }
        assert_eq!(
            pam_code(Hook::AcctMgmt, Outcome::NewPasswordRequired),
            PamResultCode::PAM_NEW_AUTHTOK_REQD
        );
        assert_eq!(
            pam_code(Hook::Authenticate, Outcome::Unavailable),
            PamResultCode::PAM_AUTHINFO_UNAVAIL
        );
    }
}
