//! What sshd tells PAM about a login: the authentication methods it
//! completed and the public key it accepted. sshd puts them in the PAM
//! environment as `SSH_AUTH_INFO_0` (one `METHOD [DETAILS]` line per
//! method: `publickey ssh-ed25519 AAAA…`) itself, right before it calls
//! each of `authenticate` (keyboard-interactive), `acct_mgmt` and
//! `open_session`, whatever `ExposeAuthInfo` says (that option only adds
//! `SSH_USER_AUTH` to the session's environment); no client or earlier
//! module chooses it.
//!
//! When it is filled matters (measured with Debian 12's OpenSSH 9.2,
//! tests/sshd_keys.rs): after `publickey,keyboard-interactive` every stage
//! sees the key; after `publickey` alone `acct_mgmt` sees the variable
//! empty (sshd's monitor records the method only after the account
//! check), and `open_session` sees the key. sshd opens the session of
//! every login it lets in (before any channel, `ssh -N` too).
//!
//! So how a login got in is decided from evidence only ([`how_in`]): a
//! `publickey` line naming an active IAM key of the user (checked by
//! `Host::key_login`), and pam_iam's own authentication record. An sshd
//! login with neither is [`HowIn::Unproven`]: in `acct_mgmt` that is
//! publickey alone, or hostbased or GSSAPI (sshd runs no PAM
//! authentication for them, and says nothing yet), so `acct_mgmt` leaves
//! `host:Login` to `open_session`; there sshd has listed every method, and
//! a login still unproven is refused.

use super::Conversation;
use crate::store::{AuthRecord, SshPublicKey};

/// The PAM environment variable sshd fills.
pub(super) const SSH_AUTH_INFO: &str = "SSH_AUTH_INFO_0";

/// The methods sshd says this login completed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SshAuth {
    /// Whether sshd set the variable at all (it does for every login it
    /// runs PAM for, empty or not).
    pub(crate) from_sshd: bool,
    /// The keys of `publickey` lines, in OpenSSH's one-line form (`TYPE
    /// BASE64`), as the directory stores them.
    pub(crate) public_keys: Vec<String>,
}

impl SshAuth {
    pub(super) fn of(conv: &dyn Conversation) -> Self {
        match conv.env(SSH_AUTH_INFO) {
            Some(info) => Self::parse(&info),
            None => Self::default(),
        }
    }

    pub(crate) fn parse(info: &str) -> Self {
        let public_keys = info
            .lines()
            .filter_map(|line| {
                let mut words = line.split_ascii_whitespace();
                if words.next() != Some("publickey") {
                    return None;
                }
                let (kind, data) = (words.next()?, words.next()?);
                Some(format!("{kind} {data}"))
            })
            .collect();
        Self {
            from_sshd: true,
            public_keys,
        }
    }
}

/// How a login got in, as a stage sees it (`Host::key_login`).
#[derive(Debug)]
pub(crate) struct KeyLogin {
    /// The IAM keys sshd accepted, all active (empty until sshd lists them).
    pub(crate) keys: Vec<SshPublicKey>,
    pub(crate) how: HowIn,
}

/// How a login got in, as far as the evidence at this stage goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HowIn {
    /// The factors it showed: `host:AuthMethod` ([`auth_method`]); `None`
    /// outside sshd (console, su, cron) without a pam_iam authentication.
    Shown(Option<String>),
    /// sshd let it in with neither a pam_iam authentication nor a
    /// `publickey` line naming an IAM key of the user (see the module's
    /// note): decided in `open_session`, refused there.
    Unproven,
}

/// The one rule of how a login got in: from sshd's `publickey` lines only
/// once `iam_key` (they name active IAM keys of the user), and from
/// pam_iam's authentication `record`; an sshd login with neither is
/// [`HowIn::Unproven`], never taken for a key login.
pub(crate) fn how_in(ssh: &SshAuth, iam_key: bool, record: Option<&AuthRecord>) -> HowIn {
    if ssh.from_sshd && !iam_key && record.is_none() {
        return HowIn::Unproven;
    }
    HowIn::Shown(auth_method(iam_key, record))
}

/// Why a key login is refused before policy is asked.
#[derive(Debug)]
pub(crate) enum KeyRefusal {
    /// An IAM key of the user, made inactive.
    Inactive(SshPublicKey),
    /// No SSH public key of the user in the directory (a deleted one, or
    /// one from `~/.ssh/authorized_keys`).
    NotIam,
}

impl KeyRefusal {
    pub(super) fn reason(&self) -> String {
        match self {
            Self::Inactive(key) => format!(
                "publickey: SSH public key {} (MD5 {}) is Inactive",
                key.id, key.fingerprint
            ),
            Self::NotIam => {
                "publickey: the key sshd accepted is not an SSH public key of this IAM user".into()
            }
        }
    }
}

/// `host:AuthMethod`: the factors of this login in the order they were
/// shown, joined by `+`: `publickey` (sshd accepted a key), then what
/// pam_iam's `authenticate` verified, `password` and `totp`. So
/// `publickey`, `password`, `password+totp`, `publickey+totp`,
/// `publickey+password+totp`. `None` when no factor is known (a method
/// neither sshd's publickey nor pam_iam: the key is then absent, and a
/// policy conditioned on it does not match).
pub(crate) fn auth_method(publickey: bool, record: Option<&AuthRecord>) -> Option<String> {
    let mut factors = Vec::new();
    if publickey {
        factors.push("publickey");
    }
    if let Some(record) = record {
        if record.password {
            factors.push("password");
        }
        if record.mfa_time.is_some() {
            factors.push("totp");
        }
    }
    (!factors.is_empty()).then(|| factors.join("+"))
}

/// The key an audit event names: its id and MD5 fingerprint.
pub(crate) fn key_evidence(keys: &[SshPublicKey]) -> Option<(&str, &str)> {
    keys.first()
        .map(|k| (k.id.as_str(), k.fingerprint.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuthState;

    #[test]
    fn sshd_auth_info_gives_the_accepted_keys() {
        let info = "publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey\nkeyboard-interactive\n";
        assert_eq!(
            SshAuth::parse(info).public_keys,
            vec!["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey".to_owned()]
        );
        assert!(
            SshAuth::parse("keyboard-interactive\n")
                .public_keys
                .is_empty()
        );
        assert!(SshAuth::parse("").public_keys.is_empty());
        assert!(SshAuth::parse("publickey\n").public_keys.is_empty());
    }

    fn record(password: bool, mfa: Option<i64>) -> AuthRecord {
        AuthRecord {
            id: String::new(),
            user: "bob".into(),
            service: "sshd".into(),
            rhost: String::new(),
            tty: String::new(),
            time: 0,
            mfa_time: mfa,
            password,
            state: AuthState::Consumed,
        }
    }

    #[test]
    fn a_login_is_a_key_login_only_when_sshd_names_an_iam_key() {
        let listed = SshAuth::parse("publickey ssh-ed25519 AAAAkey\n");
        assert_eq!(
            how_in(&listed, true, None),
            HowIn::Shown(Some("publickey".into()))
        );
        // sshd's variable empty (publickey alone, account stage) or naming
        // a method without PAM (hostbased, GSSAPI): no evidence of a key.
        for info in ["", "hostbased ssh-ed25519 AAAAhost\n", "gssapi-with-mic\n"] {
            assert_eq!(how_in(&SshAuth::parse(info), false, None), HowIn::Unproven);
        }
        // keyboard-interactive: pam_iam's record says what was shown.
        let kbd = SshAuth::parse("keyboard-interactive/pam\n");
        assert_eq!(
            how_in(&kbd, false, Some(&record(true, Some(1)))),
            HowIn::Shown(Some("password+totp".into()))
        );
        // Not sshd (console login, su, cron): no variable, nothing shown.
        assert_eq!(how_in(&SshAuth::default(), false, None), HowIn::Shown(None));
    }

    #[test]
    fn auth_method_names_every_factor_in_order() {
        assert_eq!(auth_method(true, None).as_deref(), Some("publickey"));
        assert_eq!(
            auth_method(true, Some(&record(false, Some(1)))).as_deref(),
            Some("publickey+totp")
        );
        assert_eq!(
            auth_method(false, Some(&record(true, Some(1)))).as_deref(),
            Some("password+totp")
        );
        assert_eq!(
            auth_method(false, Some(&record(true, None))).as_deref(),
            Some("password")
        );
        assert_eq!(
            auth_method(true, Some(&record(true, Some(1)))).as_deref(),
            Some("publickey+password+totp")
        );
        assert_eq!(auth_method(false, None), None);
    }
}
