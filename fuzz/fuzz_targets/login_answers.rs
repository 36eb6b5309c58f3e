//! The PAM conversation's answers, any bytes and any length, through
//! `iam::login::authenticate` (then `account` when it succeeds) over a real
//! temporary host: iam.toml, SQLite store and audit log.
//!
//! Input: one selector byte, then answers separated by `\0`. The selector
//! picks the user (alice: password + TOTP; bob: password only; the first
//! answer as the user name), the mode, and whether the right password or
//! the right code stands in for an answer (so the fuzzer also reaches the
//! success, replay and combined `password123456` paths it cannot guess).
#![no_main]

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

use argon2::password_hash::PasswordHasher;
use chrono::{DateTime, TimeZone, Utc};
use iam::login::{self, Conversation, ConversationError, FirstPass, Mode, Options, Outcome};
use iam::names::{AccountId, IamPath, MfaDeviceName, PolicyName, UserName};
use iam::secret::{SecretBytes, SecretString};
use iam::store::{Entity, NewUser, Store};
use libfuzzer_sys::fuzz_target;

const PASSWORD: &str = "correct horse battery staple";
const SECRET: &[u8; 20] = b"12345678901234567890";
const ALLOW_LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"Login","Effect":"Allow","Action":"host:Login","Resource":"*",
     "Condition":{"IpAddressIfExists":{"aws:SourceIp":"192.0.2.0/24"}}}]}"#;

struct Fixture {
    _dir: tempfile::TempDir,
    options: Options,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

/// A cheap argon2id hash (verify cost is not what is fuzzed here).
fn cheap_hash(pw: &str) -> String {
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    argon
        .hash_password_with_salt(pw.as_bytes(), b"0123456789abcdef")
        .unwrap()
        .to_string()
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        let dir = tempfile::Builder::new()
            .prefix("iam-fuzz-login-")
            .tempdir_in(base)
            .unwrap();
        let config = dir.path().join("iam.toml");
        std::fs::write(
            &config,
            "account_id = \"123456789012\"\nhostname = \"web-1\"\n\
             database = \"iam.db\"\naudit_log = \"audit.log\"\n\
             [login]\nunknown_user = \"deny\"\n",
        )
        .unwrap();
        let account = AccountId::parse("123456789012").unwrap();
        let store = Store::create(&dir.path().join("iam.db"), &account).unwrap();
        for name in ["alice", "bob"] {
            let user = UserName::parse(name).unwrap();
            store
                .create_user(&NewUser::new(user.clone()), t0())
                .unwrap();
            store
                .create_login_profile(&user, &cheap_hash(PASSWORD), false, t0())
                .unwrap();
            store
                .put_inline_policy(
                    &Entity::User(user),
                    &PolicyName::parse("Login").unwrap(),
                    ALLOW_LOGIN,
                )
                .unwrap();
        }
        let device = MfaDeviceName::parse("alice-phone").unwrap();
        let created = store
            .create_virtual_mfa_device(
                &device,
                &IamPath::root(),
                &SecretBytes::new(SECRET.to_vec()),
                t0(),
            )
            .unwrap();
        let last = iam::totp::step_at(t0()).unwrap() - 10;
        store
            .enable_mfa_device(
                &UserName::parse("alice").unwrap(),
                &created.serial_number,
                last,
                t0(),
            )
            .unwrap();
        Fixture {
            _dir: dir,
            options: Options {
                config,
                ..Options::default()
            },
        }
    })
}

/// Answers prompts from the input, in order; out of answers, the
/// conversation fails (as a client that hangs up).
struct Answers {
    user: String,
    answers: VecDeque<String>,
    stacked: Option<SecretString>,
    /// The PAM handle's module data and environment.
    data: HashMap<String, String>,
    env: HashMap<String, String>,
}

impl Conversation for Answers {
    fn user(&mut self) -> Result<String, ConversationError> {
        Ok(self.user.clone())
    }
    fn service(&self) -> Option<String> {
        Some("sshd".to_owned())
    }
    fn rhost(&self) -> Option<String> {
        Some("192.0.2.10".to_owned())
    }
    fn tty(&self) -> Option<String> {
        Some("ssh".to_owned())
    }
    fn prompt_secret(&mut self, _prompt: &str) -> Result<SecretString, ConversationError> {
        self.answers
            .pop_front()
            .map(SecretString::from)
            .ok_or(ConversationError)
    }
    fn prompt_visible(&mut self, _prompt: &str) -> Result<String, ConversationError> {
        self.answers.pop_front().ok_or(ConversationError)
    }
    fn info(&mut self, _text: &str) {}
    fn error(&mut self, _text: &str) {}
    fn stacked_password(&mut self) -> Option<SecretString> {
        self.stacked.clone()
    }
    fn set_stacked_password(&mut self, password: &SecretString) {
        self.stacked = Some(password.clone());
    }
    fn data(&self, key: &str) -> Option<String> {
        self.data.get(key).cloned()
    }
    fn set_data(&mut self, key: &str, value: &str) {
        self.data.insert(key.to_owned(), value.to_owned());
    }
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
    fn set_env(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(value) => self.env.insert(name.to_owned(), value.to_owned()),
            None => self.env.remove(name),
        };
    }
}

/// Each run is a minute later than the last: codes come from fresh steps
/// and lockout windows open and close as the run goes on.
static CLOCK: AtomicI64 = AtomicI64::new(0);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let now = t0() + chrono::TimeDelta::seconds(60 * CLOCK.fetch_add(1, Ordering::Relaxed));
    let code = iam::totp::code_at(&SecretBytes::new(SECRET.to_vec()), now.timestamp() as u64)
        .expose()
        .to_owned();
    let mut answers: VecDeque<String> = rest
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let user = match selector & 3 {
        0 => "alice".to_owned(),
        1 => "bob".to_owned(),
        2 => answers.pop_front().unwrap_or_default(),
        _ => "ALICE".to_owned(),
    };
    if selector & 0x10 != 0 {
        answers.push_front(PASSWORD.to_owned());
    }
    if selector & 0x20 != 0 {
        // The right code as the second answer.
        let at = answers.len().min(1);
        answers.insert(at, code.clone());
    }
    if selector & 0x40 != 0 {
        if let Some(first) = answers.front_mut() {
            first.push_str(&code);
        }
    }
    let mut options = f.options.clone();
    options.mode = match (selector >> 2) & 3 {
        0 | 3 => Mode::PasswordTotp,
        1 => Mode::Totp,
        _ => Mode::Password,
    };
    if selector & 0x80 != 0 {
        options.first_pass = FirstPass::Try;
    }
    let mut conv = Answers {
        user,
        answers,
        stacked: None,
        data: HashMap::new(),
        env: HashMap::new(),
    };
    let outcome = login::authenticate(&mut conv, &options, now);
    assert_ne!(outcome, Outcome::Unavailable, "the store must stay usable");
    if outcome == Outcome::Success {
        // Only a known user with a right factor gets here.
        assert!(conv.user == "alice" || conv.user == "bob" || conv.user == "ALICE");
        let _ = login::account(&mut conv, &options, now);
    }
});
