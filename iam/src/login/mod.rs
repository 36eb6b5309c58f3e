//! The login flow: what `pam_iam.so` does at each PAM stage.
//!
//! Written against the small [`Conversation`] trait (the PAM handle seen from
//! here) with the clock as a parameter, so every rule is tested without
//! libpam: unit tests drive it with a scripted conversation, real SQLite
//! stores and a fixed clock; the end-to-end tests drive the built module
//! through pamtester and sshd.
//!
//! Decisions a PAM administrator may want to know:
//! - Unknown users under `unknown_user = "ignore"` are not prompted at all
//!   (`PAM_IGNORE` at once), so pam_unix asks local users as usual. Under
//!   `"deny"` they get exactly the prompts, answers and argon2 work of a
//!   user with an MFA device.
//! - The prompts depend on the mode alone: in `password+totp` every user
//!   (with or without an MFA device, unknown, locked, disabled) is asked
//!   `Password: ` then `Verification code: `, so they tell a guesser
//!   nothing (not whether the password was right, not who exists or has a
//!   device). A combined `password123456` first answer still logs in; the
//!   second answer is then ignored (it may be empty), as is the code of a
//!   user without a device. The code is checked (its step taken) only after
//!   the password passed: a wrong password burns no code.
//! - Every wrong password counts, wherever it was typed and whether or not
//!   the conversation finishes: in `password+totp` it is counted and
//!   audited before the code prompt (a client that hangs up there has
//!   spent a guess); `chauthtok` and `iamctl change-password` count wrong
//!   current passwords under the same rule.
//! - A locked-out user (pam_faillock semantics) fails even with the right
//!   factors, with the answer a wrong password or an unknown user gets
//!   (`PAM_AUTH_ERR`); only the audit log says "locked".
//! - `authenticate` hands the id of its authentication record (random, 160
//!   bits) to the later stages of the same login only: in PAM module data
//!   and in the PAM environment (`IAM_AUTH_ID`, which sshd carries from its
//!   keyboard-interactive child to its monitor). `acct_mgmt` uses the
//!   record up; `open_session` takes its MFA time and removes the variable,
//!   so it never reaches the user's session. Another connection of the same
//!   user from the same address (NAT, bastion), say by publickey alone,
//!   has no id and gets no MFA credit.
//! - `chauthtok` asks `Current password: ` as pam_unix does, also on the
//!   expired-password path (sshd's `PAM_CHANGE_EXPIRED_AUTHTOK`); only root
//!   changing someone's password outside that path skips it.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::config::DEFAULT_CONFIG_PATH;
use crate::secret::SecretString;
use crate::store::AuthRecord;

mod account;
mod authenticate;
mod chauthtok;
mod host;
mod session;
mod ssh;
#[cfg(test)]
mod tests;

pub use crate::factors::{CurrentPassword, check_current_password};
pub use account::{LOGIN_ACTION, account};
pub use authenticate::authenticate;
use authenticate::{Attempt, Failure};
pub use chauthtok::{PasswordChange, change_password};
use chauthtok::{PasswordState, password_state};
use host::{Credentials, Host, LOG_ERR, OnUnknown, syslog};
pub use session::{close_session, local_groups, open_session};
use ssh::{HowIn, KeyLogin, KeyRefusal, SshAuth, how_in, key_evidence};

/// What a PAM stage may ask of the application, and nothing more.
pub trait Conversation {
    /// `PAM_USER`, prompting for it if the application has not set it.
    fn user(&mut self) -> Result<String, ConversationError>;
    /// `PAM_SERVICE` (the name of the /etc/pam.d file).
    fn service(&self) -> Option<String>;
    /// `PAM_RHOST`: the remote host, absent on the console.
    fn rhost(&self) -> Option<String>;
    /// `PAM_TTY`.
    fn tty(&self) -> Option<String>;
    /// Asks for a secret without echo.
    fn prompt_secret(&mut self, prompt: &str) -> Result<SecretString, ConversationError>;
    /// Asks for a non-secret answer, echoed.
    fn prompt_visible(&mut self, prompt: &str) -> Result<String, ConversationError>;
    /// Tells the user something.
    fn info(&mut self, text: &str);
    /// Tells the user something went wrong.
    fn error(&mut self, text: &str);
    /// `PAM_AUTHTOK` as an earlier module in the stack left it
    /// (`use_first_pass`, `try_first_pass`).
    fn stacked_password(&mut self) -> Option<SecretString>;
    /// Leaves the password in `PAM_AUTHTOK` for later modules, as pam_unix does.
    fn set_stacked_password(&mut self, password: &SecretString);
    /// Module data of ours in this PAM handle (`pam_get_data`): seen by the
    /// later stages of this login in the same process only.
    fn data(&self, key: &str) -> Option<String>;
    /// Sets module data (`pam_set_data`).
    fn set_data(&mut self, key: &str, value: &str);
    /// A variable of the PAM environment (`pam_getenv`). sshd carries the
    /// PAM environment from its authentication child to its monitor, and
    /// from there into the user's session.
    fn env(&self, name: &str) -> Option<String>;
    /// Sets (`Some`) or removes (`None`) a PAM environment variable.
    fn set_env(&mut self, name: &str, value: Option<&str>);
}

/// The application could not ask or did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the PAM conversation failed")]
pub struct ConversationError;

/// Options from the module's line in /etc/pam.d.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `config=PATH`.
    pub config: PathBuf,
    pub mode: Mode,
    pub first_pass: FirstPass,
    /// `debug`: more detail (never a secret) to syslog.
    pub debug: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            config: PathBuf::from(DEFAULT_CONFIG_PATH),
            mode: Mode::PasswordTotp,
            first_pass: FirstPass::Prompt,
            debug: false,
        }
    }
}

/// Which factors `authenticate` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `mode=password+totp` (default): password, then a code (ignored for a
    /// user without an MFA device); `password123456` in one answer is
    /// accepted too, the second answer then ignored.
    PasswordTotp,
    /// `mode=totp`: only the code, as the second factor after an SSH key.
    Totp,
    /// `mode=password`: only the password.
    Password,
}

/// Whether to reuse the password an earlier module collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPass {
    /// Always ask.
    Prompt,
    /// `try_first_pass`: use `PAM_AUTHTOK` if set, else ask.
    Try,
    /// `use_first_pass`: use `PAM_AUTHTOK`, never ask.
    Use,
}

/// How a stage ended. `pam_iam` maps this to a PAM code in exactly one
/// place; only [`Outcome::Success`] becomes `PAM_SUCCESS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every check of this stage passed.
    Success,
    /// Not an IAM user and `unknown_user = "ignore"`: other modules decide.
    Ignore,
    /// Not an IAM user and `unknown_user = "deny"` (account stages; the
    /// authentication stage answers [`Outcome::AuthFailed`] so that unknown
    /// and known users look alike).
    UserUnknown,
    /// A factor was wrong, missing or replayed.
    AuthFailed,
    /// Config or store missing, corrupt or unsafe, or a bad module option:
    /// fail closed.
    Unavailable,
    /// The application's conversation failed.
    ConversationFailed,
    /// The user is disabled, or its password expired beyond self-service.
    AccountDisabled,
    /// Policy (or `require_mfa`) does not allow this login.
    PermissionDenied,
    /// The user's password must be changed before logging in.
    NewPasswordRequired,
    /// `chauthtok`: the new password was refused (policy, mismatch, reuse).
    PasswordRejected,
}

/// Where failures of names the directory does not know are counted (not a
/// valid IAM name, so no user can have it).
const UNKNOWN_USERS: &str = "(unknown users)";

/// The one line a refused user sees; the reason goes to the audit log.
pub const DENIED: &str = "Access denied";

/// The module data key that carries this login's authentication record id
/// from `authenticate` to the later stages in the same process.
pub const AUTH_ID_DATA: &str = "pam_iam_auth_id";
/// The PAM environment variable that carries it too: sshd runs
/// keyboard-interactive authentication (and `acct_mgmt`) in a child and
/// imports the child's PAM environment, not its module data, into the
/// monitor that opens the session.
pub const AUTH_ID_ENV: &str = "IAM_AUTH_ID";

const PASSWORD_PROMPT: &str = "Password: ";
const CODE_PROMPT: &str = "Verification code: ";
const CURRENT_PASSWORD_PROMPT: &str = "Current password: ";
const NEW_PASSWORD_PROMPT: &str = "New password: ";
const RETYPE_PASSWORD_PROMPT: &str = "Retype new password: ";

/// A bad module option: logged, and the call fails closed.
pub fn refuse_options(problem: &str) -> Outcome {
    syslog(
        LOG_ERR,
        &format!("refusing to run: {problem} on the pam_iam.so line"),
    );
    Outcome::Unavailable
}

/// Which stage asks for the authentication record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Account,
    Session,
}

/// Hands the record id on to the later stages of this login: module data
/// (same process) and the PAM environment (sshd's monitor).
fn hand_on_auth_id(conv: &mut dyn Conversation, id: &str) {
    conv.set_data(AUTH_ID_DATA, id);
    conv.set_env(AUTH_ID_ENV, Some(id));
}

/// The record id this login's `authenticate` handed on: module data first,
/// else the PAM environment. Only the shape of an id is accepted (other
/// modules can write the environment; the store decides the rest).
fn handed_on_auth_id(conv: &dyn Conversation) -> Option<String> {
    conv.data(AUTH_ID_DATA)
        .filter(|id| AuthRecord::is_id(id))
        .or_else(|| conv.env(AUTH_ID_ENV).filter(|id| AuthRecord::is_id(id)))
}

fn forget_auth_id(conv: &mut dyn Conversation) {
    conv.set_data(AUTH_ID_DATA, "");
    conv.set_env(AUTH_ID_ENV, None);
}

/// Where a login comes from, as the PAM items say.
#[derive(Debug, Clone)]
struct Origin {
    service: String,
    rhost: Option<String>,
    tty: Option<String>,
}

impl Origin {
    fn of(conv: &dyn Conversation) -> Self {
        Self {
            service: conv.service().unwrap_or_default(),
            rhost: conv.rhost().filter(|r| !r.is_empty()),
            tty: conv.tty().filter(|t| !t.is_empty()),
        }
    }

    /// `aws:SourceIp`: only when PAM_RHOST is an address (sshd with
    /// `UseDNS no`, the default); a host name is not evidence of anything.
    fn source_ip(&self) -> Option<IpAddr> {
        self.rhost.as_deref()?.parse().ok()
    }

    /// `aws:SecureTransport`: sshd services (`sshd`, `sshd-*`) are encrypted;
    /// the console and `su` are not transports at all.
    fn secure_transport(&self) -> bool {
        self.service == "sshd" || self.service.starts_with("sshd-")
    }

    /// The store keys console logins (no PAM_RHOST) by the empty string.
    fn rhost_key(&self) -> &str {
        self.rhost.as_deref().unwrap_or("")
    }
}
