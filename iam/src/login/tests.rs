use super::account::*;
use super::authenticate::*;
use super::chauthtok::*;
use super::session::*;
use super::*;
use crate::names::UserName;
use crate::names::{AccountId, GroupName, IamPath, MfaDeviceName, PolicyName};
use crate::password::PasswordPolicy;
use crate::secret::SecretBytes;
use crate::store::{AuthState, LockoutRule, Store, UserStatus};
use crate::store::{Entity, NewUser};
use crate::totp;
use argon2::password_hash::PasswordHasher;
use chrono::TimeZone;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;

/// The fixed clock: 2026-11-25T12:00:00Z.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn at(seconds_after_t0: i64) -> DateTime<Utc> {
    t0() + chrono::TimeDelta::seconds(seconds_after_t0)
}

const ALLOW_LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[
    {"Sid":"Login","Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

#[derive(Debug)]
enum Step {
    Secret(&'static str, String),
    Error(&'static str),
    /// An info message starting with this text.
    Info(&'static str),
    /// Parks at this prompt: says so on the sender, then answers what
    /// the receiver brings (a client that answers late).
    Park(&'static str, mpsc::Sender<()>, mpsc::Receiver<String>),
    /// The client hangs up at this prompt.
    Hangup(&'static str),
}

/// A conversation that plays a script: every prompt and message must be
/// the next expected step, and every step must have happened by drop.
/// `data` and `env` stand for the PAM handle's module data and
/// environment.
struct Script {
    user: String,
    service: String,
    rhost: Option<String>,
    steps: VecDeque<Step>,
    stacked: Option<SecretString>,
    data: HashMap<String, String>,
    env: HashMap<String, String>,
}

impl Script {
    fn new(user: &str, steps: Vec<Step>) -> Self {
        Self {
            user: user.to_owned(),
            service: "sshd".to_owned(),
            rhost: Some("192.0.2.10".to_owned()),
            steps: steps.into(),
            stacked: None,
            data: HashMap::new(),
            env: HashMap::new(),
        }
    }

    fn from(mut self, rhost: Option<&str>) -> Self {
        self.rhost = rhost.map(str::to_owned);
        self
    }

    /// The next stage of the same login in the same process (one PAM
    /// handle): module data and environment carry over.
    fn then(&self, steps: Vec<Step>) -> Self {
        let mut next = Self::new(&self.user, steps).from(self.rhost.as_deref());
        next.data = self.data.clone();
        next.env = self.env.clone();
        next
    }

    /// The next stage in sshd's monitor: only the PAM environment came
    /// over from the authentication child, not its module data.
    fn in_monitor(&self, steps: Vec<Step>) -> Self {
        let mut next = Self::new(&self.user, steps).from(self.rhost.as_deref());
        next.env = self.env.clone();
        next
    }

    /// The authentication record id this handle carries.
    fn auth_id(&self) -> Option<String> {
        handed_on_auth_id(self)
    }
}

impl Conversation for Script {
    fn user(&mut self) -> Result<String, ConversationError> {
        Ok(self.user.clone())
    }
    fn service(&self) -> Option<String> {
        Some(self.service.clone())
    }
    fn rhost(&self) -> Option<String> {
        self.rhost.clone()
    }
    fn tty(&self) -> Option<String> {
        Some("ssh".to_owned())
    }
    fn prompt_secret(&mut self, prompt: &str) -> Result<SecretString, ConversationError> {
        match self.steps.pop_front() {
            Some(Step::Secret(text, answer)) if text == prompt => Ok(answer.into()),
            Some(Step::Park(text, parked, answer)) if text == prompt => {
                parked.send(()).unwrap();
                Ok(answer.recv().unwrap().into())
            }
            Some(Step::Hangup(text)) if text == prompt => Err(ConversationError),
            other => panic!("unexpected secret prompt {prompt:?}; script expected {other:?}"),
        }
    }
    fn prompt_visible(&mut self, prompt: &str) -> Result<String, ConversationError> {
        panic!("unexpected visible prompt {prompt:?}")
    }
    fn info(&mut self, text: &str) {
        match self.steps.pop_front() {
            Some(Step::Info(expected)) if text.starts_with(expected) => {}
            other => panic!("unexpected info {text:?}; script expected {other:?}"),
        }
    }
    fn error(&mut self, text: &str) {
        match self.steps.pop_front() {
            Some(Step::Error(expected)) if text.starts_with(expected) => {}
            other => panic!("unexpected error message {text:?}; script expected {other:?}"),
        }
    }
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

impl Drop for Script {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(self.steps.is_empty(), "steps never taken: {:?}", self.steps);
        }
    }
}

fn password(answer: &str) -> Step {
    Step::Secret(PASSWORD_PROMPT, answer.to_owned())
}

fn code(answer: &str) -> Step {
    Step::Secret(CODE_PROMPT, answer.to_owned())
}

fn denied() -> Step {
    Step::Error(DENIED)
}

/// A temporary host: iam.toml, a real SQLite store and the audit log.
struct Fixture {
    dir: tempfile::TempDir,
    options: Options,
    store: Store,
}

impl Fixture {
    fn new(extra_toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("iam.toml");
        std::fs::write(
            &config,
            format!(
                "account_id = \"123456789012\"\nhostname = \"web-1\"\n\
                 database = \"iam.db\"\naudit_log = \"audit.log\"\n{extra_toml}\n"
            ),
        )
        .unwrap();
        let account = AccountId::parse("123456789012").unwrap();
        let store = Store::create(&dir.path().join("iam.db"), &account).unwrap();
        let options = Options {
            config,
            ..Options::default()
        };
        Self {
            dir,
            options,
            store,
        }
    }

    fn with_mode(mut self, mode: Mode) -> Self {
        self.options.mode = mode;
        self
    }

    /// A user allowed to log in, with a password when `pw` is given.
    fn user(&self, name: &str, pw: Option<&str>) {
        let name = UserName::parse(name).unwrap();
        self.store
            .create_user(&NewUser::new(name.clone()), t0())
            .unwrap();
        if let Some(pw) = pw {
            self.store
                .create_login_profile(&name, &cheap_hash(pw), false, t0())
                .unwrap();
        }
        self.policy(name.as_str(), "AllowLogin", ALLOW_LOGIN);
    }

    fn policy(&self, user: &str, policy: &str, document: &str) {
        let entity = Entity::User(UserName::parse(user).unwrap());
        self.store
            .put_inline_policy(&entity, &PolicyName::parse(policy).unwrap(), document)
            .unwrap();
    }

    /// Enables a TOTP device for `user`; its last step lies in the past.
    fn mfa(&self, user: &str) -> SecretBytes {
        self.mfa_device(user, "phone", b"12345678901234567890")
    }

    /// Enables device `{user}-{name}` with `seed` for `user`.
    fn mfa_device(&self, user: &str, name: &str, seed: &[u8]) -> SecretBytes {
        let secret = SecretBytes::new(seed.to_vec());
        let device = MfaDeviceName::parse(&format!("{user}-{name}")).unwrap();
        let created = self
            .store
            .create_virtual_mfa_device(&device, &IamPath::root(), &secret, t0())
            .unwrap();
        let last_step = totp::step_at(t0()).unwrap() - 10;
        self.store
            .enable_mfa_device(
                &UserName::parse(user).unwrap(),
                &created.serial_number,
                last_step,
                t0(),
            )
            .unwrap();
        secret
    }

    fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn last_event(&self) -> serde_json::Value {
        self.events().pop().expect("an audit event")
    }
}

/// A cheap argon2id hash: tests verify many times; the cost bound, not
/// the cost, is what `verify_password` checks.
fn cheap_hash(pw: &str) -> String {
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    argon
        .hash_password_with_salt(pw.as_bytes(), b"0123456789abcdef")
        .unwrap()
        .to_string()
}

fn code_at(secret: &SecretBytes, when: DateTime<Utc>) -> String {
    totp::code_at(secret, when.timestamp() as u64)
        .expose()
        .to_owned()
}

#[test]
fn password_then_code_succeeds_and_records_mfa() {
    let f = Fixture::new("");
    f.user("alice", Some("correct horse"));
    let secret = f.mfa("alice");
    let mut conv = Script::new(
        "alice",
        vec![password("correct horse"), code(&code_at(&secret, t0()))],
    );
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    assert_eq!(
        conv.stacked.as_ref().map(|p| p.expose().to_owned()),
        Some("correct horse".into())
    );
    let id = conv.auth_id().expect("an id handed on");
    assert_eq!(conv.env.get(AUTH_ID_ENV), Some(&id));
    let record = f.store.ledger().get_auth_record(&id).unwrap().unwrap();
    assert_eq!(record.mfa_time, Some(t0().timestamp()));
    assert_eq!(record.state, AuthState::Authenticated);

    let mut next = conv.then(vec![]);
    assert_eq!(account(&mut next, &f.options, at(5)), Outcome::Success);
}

#[test]
fn wrong_password_still_asks_for_the_code_and_counts_a_failure() {
    let f = Fixture::new("");
    f.user("alice", Some("correct horse"));
    let secret = f.mfa("alice");
    let mut conv = Script::new(
        "alice",
        vec![password("wrong"), code(&code_at(&secret, t0())), denied()],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, t0()),
        Outcome::AuthFailed
    );
    let event = f.last_event();
    assert_eq!(event["eventName"], "Login");
    assert_eq!(event["errorCode"], "AuthenticationFailed");
    assert_eq!(event["errorMessage"], "wrong password");
    assert!(
        !event.to_string().contains("wrong\""),
        "no secret in the audit log"
    );
    assert_eq!(
        f.store
            .ledger()
            .lock_state("alice", &lockout(5), t0())
            .unwrap()
            .failures,
        1
    );
    // The code was not consumed by the failed attempt.
    let mut conv = Script::new(
        "alice",
        vec![password("correct horse"), code(&code_at(&secret, t0()))],
    );
    assert_eq!(authenticate(&mut conv, &f.options, at(1)), Outcome::Success);
}

fn lockout(deny: u32) -> LockoutRule {
    LockoutRule {
        deny,
        fail_interval: 900,
        unlock_time: 900,
    }
}

#[test]
fn wrong_replayed_and_stale_codes_are_refused() {
    let f = Fixture::new("");
    f.user("alice", Some("pw-alice-1"));
    let secret = f.mfa("alice");
    let attempt = |answer: String, now: DateTime<Utc>, expect: Outcome, reason: Option<&str>| {
        let mut steps = vec![password("pw-alice-1"), code(&answer)];
        if expect != Outcome::Success {
            steps.push(denied());
        }
        let mut conv = Script::new("alice", steps);
        assert_eq!(
            authenticate(&mut conv, &f.options, now),
            expect,
            "{reason:?}"
        );
        if let Some(reason) = reason {
            assert_eq!(f.last_event()["errorMessage"], reason);
        }
    };
    attempt(
        "000000".into(),
        t0(),
        Outcome::AuthFailed,
        Some("wrong verification code"),
    );
    attempt(
        "12345".into(),
        t0(),
        Outcome::AuthFailed,
        Some("wrong verification code"),
    );
    // ±2 steps is outside skew_steps = 1.
    attempt(
        code_at(&secret, at(-60)),
        t0(),
        Outcome::AuthFailed,
        Some("wrong verification code"),
    );
    attempt(
        code_at(&secret, at(60)),
        t0(),
        Outcome::AuthFailed,
        Some("wrong verification code"),
    );
    // One step back is within the skew, once.
    attempt(code_at(&secret, at(-30)), t0(), Outcome::Success, None);
    attempt(
        code_at(&secret, at(-30)),
        at(1),
        Outcome::AuthFailed,
        Some("replayed verification code"),
    );
    // Nor an older step after a newer one was used.
    attempt(code_at(&secret, t0()), at(2), Outcome::Success, None);
    attempt(
        code_at(&secret, at(-30)),
        at(3),
        Outcome::AuthFailed,
        Some("replayed verification code"),
    );
}

#[test]
fn combined_password_and_code_in_one_answer() {
    let f = Fixture::new("");
    f.user("alice", Some("pw-alice-1"));
    let secret = f.mfa("alice");
    let combined = format!("pw-alice-1{}", code_at(&secret, t0()));
    // The code prompt comes all the same; its answer is ignored.
    let mut conv = Script::new("alice", vec![password(&combined), code("")]);
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    // PAM_AUTHTOK holds the password alone.
    assert_eq!(
        conv.stacked.as_ref().map(|p| p.expose().to_owned()),
        Some("pw-alice-1".into())
    );
    // A wrong appended code fails, whatever the second answer says.
    let right = code_at(&secret, at(30));
    let mut conv = Script::new(
        "alice",
        vec![password("pw-alice-1000000"), code(&right), denied()],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(30)),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "wrong verification code");
    // A user without a device may append six digits or not: the
    // password decides.
    f.user("bob", Some("pw-bob-1"));
    let mut conv = Script::new("bob", vec![password("pw-bob-1123456"), code("")]);
    assert_eq!(
        authenticate(&mut conv, &f.options, at(30)),
        Outcome::Success
    );
    // Not in mode=password.
    let f = f.with_mode(Mode::Password);
    let combined = format!("pw-alice-1{}", code_at(&secret, at(60)));
    let mut conv = Script::new("alice", vec![password(&combined), denied()]);
    assert_eq!(
        authenticate(&mut conv, &f.options, at(60)),
        Outcome::AuthFailed
    );
}

#[test]
fn unknown_users_get_the_same_prompts_or_are_ignored() {
    let f = Fixture::new("[login]\nunknown_user = \"deny\"\n");
    let mut conv = Script::new("mallory", vec![password("x"), code("123456"), denied()]);
    assert_eq!(
        authenticate(&mut conv, &f.options, t0()),
        Outcome::AuthFailed
    );
    let event = f.last_event();
    assert_eq!(event["errorMessage"], "unknown user");
    assert_eq!(event["userIdentity"]["userName"], "mallory");
    let mut conv = Script::new("mallory", vec![denied()]);
    assert_eq!(account(&mut conv, &f.options, t0()), Outcome::UserUnknown);

    let f = Fixture::new("");
    let mut conv = Script::new("localuser", vec![]);
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Ignore);
    let mut conv = Script::new("localuser", vec![]);
    assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Ignore);
    assert!(f.events().is_empty());
}

#[test]
fn lockout_after_deny_failures_until_unlock_time() {
    let f = Fixture::new("[lockout]\ndeny = 2\nfail_interval = \"15m\"\nunlock_time = \"10m\"\n");
    f.user("alice", Some("pw-alice-1"));
    let secret = f.mfa("alice");
    for i in 0..2 {
        let mut conv = Script::new("alice", vec![password("nope"), code("000000"), denied()]);
        assert_eq!(
            authenticate(&mut conv, &f.options, at(i)),
            Outcome::AuthFailed
        );
    }
    assert!(
        f.last_event()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("now locked out")
    );
    let mut conv = Script::new(
        "alice",
        vec![
            password("pw-alice-1"),
            code(&code_at(&secret, at(10))),
            denied(),
        ],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(10)),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "user is locked out");
    // After unlock_time the right factors work again.
    let later = at(11 * 60);
    let mut conv = Script::new(
        "alice",
        vec![password("pw-alice-1"), code(&code_at(&secret, later))],
    );
    assert_eq!(authenticate(&mut conv, &f.options, later), Outcome::Success);
}

/// Issue 11, item 6: the lock state decides where the result is
/// recorded, not where the conversation began. Conversations parked at
/// the prompts (a guesser opens many at once) are answered with the
/// right factors only after `deny` wrong answers were committed: none
/// of them gets in, none is counted, and none burns the code.
#[test]
fn conversations_parked_at_the_prompts_cannot_outrun_the_lockout() {
    const DENY: u32 = 3;
    const PARKED: usize = 8;
    let f = Fixture::new(&format!(
        "[lockout]\ndeny = {DENY}\nfail_interval = \"15m\"\nunlock_time = \"15m\"\n"
    ));
    f.user("alice", Some("pw-alice-1"));
    let secret = f.mfa("alice");
    let right = code_at(&secret, t0());
    let options = &f.options;
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let mut parked = Vec::new();
        let mut answers = Vec::new();
        let mut handles = Vec::new();
        for i in 0..PARKED {
            let (parked_tx, parked_rx) = mpsc::channel();
            let (answer_tx, answer_rx) = mpsc::channel();
            // Half wait at the password prompt, half at the code
            // prompt with the right password already given.
            let (steps, answer) = if i % 2 == 0 {
                let park = Step::Park(PASSWORD_PROMPT, parked_tx, answer_rx);
                (vec![park, code(&right), denied()], "pw-alice-1")
            } else {
                let park = Step::Park(CODE_PROMPT, parked_tx, answer_rx);
                (vec![password("pw-alice-1"), park, denied()], right.as_str())
            };
            handles.push(scope.spawn(move || {
                let mut conv = Script::new("alice", steps);
                let outcome = authenticate(&mut conv, options, t0());
                if outcome == Outcome::Success {
                    // No "Access denied" then; the test fails below.
                    conv.steps.clear();
                }
                outcome
            }));
            parked.push(parked_rx);
            answers.push((answer_tx, answer));
        }
        for rx in &parked {
            rx.recv().unwrap();
        }
        // Meanwhile a guesser's wrong answers lock the user.
        for i in 0..DENY {
            let mut conv = Script::new("alice", vec![password("nope"), code("000000"), denied()]);
            let when = at(i64::from(i) + 1);
            assert_eq!(authenticate(&mut conv, options, when), Outcome::AuthFailed);
        }
        for (tx, answer) in answers {
            tx.send(answer.to_owned()).unwrap();
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        outcomes.iter().all(|o| *o != Outcome::Success),
        "a right answer got in while the user was locked: {outcomes:?}"
    );
    let locked = f
        .events()
        .iter()
        .filter(|e| e["errorMessage"] == "user is locked out")
        .count();
    assert_eq!(locked, PARKED);
    let state = f
        .store
        .ledger()
        .lock_state("alice", &lockout(DENY), at(10))
        .unwrap();
    assert_eq!((state.failures, state.locked), (DENY, true));
    // The code was not used up by the locked attempts.
    f.store.ledger().reset_failures("alice").unwrap();
    let mut conv = Script::new("alice", vec![password("pw-alice-1"), code(&right)]);
    assert_eq!(authenticate(&mut conv, options, at(11)), Outcome::Success);
}

/// Issue 11, items 7 and 10: the prompts never depend on a secret or on
/// the user. In `password+totp` everyone is asked for a password and a
/// code: a user with a device, one without, one that is disabled, one
/// that is locked, one that does not exist; and everyone who fails is
/// told the same.
#[test]
fn every_user_gets_the_same_prompts() {
    let f = Fixture::new(
        "[login]\nunknown_user = \"deny\"\n[lockout]\ndeny = 2\nunlock_time = \"15m\"\n",
    );
    f.user("alice", Some("pw-alice-1"));
    let secret = f.mfa("alice");
    f.user("bob", Some("pw-bob-1"));
    f.user("carol", Some("pw-carol-1"));
    f.store
        .set_user_status(&UserName::parse("carol").unwrap(), UserStatus::Disabled)
        .unwrap();
    f.user("dave", Some("pw-dave-1"));
    f.mfa("dave");
    for i in 0..2 {
        f.store
            .ledger()
            .record_failure("dave", &lockout(2), at(i))
            .unwrap();
    }
    let attempt = |user: &str, pw: &str, code_answer: &str, ok: bool, reason: &str| {
        let mut steps = vec![password(pw), code(code_answer)];
        if !ok {
            steps.push(denied());
        }
        let mut conv = Script::new(user, steps);
        let expect = if ok {
            Outcome::Success
        } else {
            Outcome::AuthFailed
        };
        let got = authenticate(&mut conv, &f.options, at(5));
        assert_eq!(got, expect, "{user}");
        if !reason.is_empty() {
            assert_eq!(f.last_event()["errorMessage"], reason, "{user}");
        }
    };
    attempt("alice", "pw-alice-1", &code_at(&secret, at(5)), true, "");
    attempt("alice", "wrong", "000000", false, "wrong password");
    attempt("bob", "pw-bob-1", "", true, "");
    attempt("bob", "wrong", "", false, "wrong password");
    attempt("carol", "pw-carol-1", "", false, "user is disabled");
    attempt("dave", "pw-dave-1", "123456", false, "user is locked out");
    attempt("mallory", "pw-mallory-1", "123456", false, "unknown user");
}

/// Issue 11, item 7: a wrong password counts as soon as it is known to
/// be wrong, before the code prompt. A client that hangs up at
/// `Verification code:` has spent its guess and left an audit event; a
/// right password before a hang-up leaves nothing to count.
#[test]
fn a_wrong_password_counts_even_if_the_client_hangs_up_at_the_code_prompt() {
    let f = Fixture::new("[login]\nunknown_user = \"deny\"\n");
    f.user("alice", Some("pw-alice-1"));
    f.mfa("alice");
    let failures = |user: &str| {
        f.store
            .ledger()
            .lock_state(user, &lockout(5), at(10))
            .unwrap()
            .failures
    };
    let mut conv = Script::new("alice", vec![password("guess"), Step::Hangup(CODE_PROMPT)]);
    assert_eq!(
        authenticate(&mut conv, &f.options, t0()),
        Outcome::ConversationFailed
    );
    assert_eq!(failures("alice"), 1);
    let event = f.last_event();
    assert_eq!(event["errorCode"], "AuthenticationFailed");
    assert_eq!(event["errorMessage"], "wrong password");
    // The right password, then a hang-up: nothing counted, nothing
    // audited (nothing was refused).
    let events = f.events().len();
    let mut conv = Script::new(
        "alice",
        vec![password("pw-alice-1"), Step::Hangup(CODE_PROMPT)],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(1)),
        Outcome::ConversationFailed
    );
    assert_eq!(failures("alice"), 1);
    assert_eq!(f.events().len(), events);
    // An unknown user's guess counts the same way (under the name no
    // IAM user can have).
    let mut conv = Script::new(
        "mallory",
        vec![password("guess"), Step::Hangup(CODE_PROMPT)],
    );
    authenticate(&mut conv, &f.options, at(2));
    assert_eq!(failures(UNKNOWN_USERS), 1);
    assert_eq!(f.last_event()["errorMessage"], "unknown user");
}

/// The store work of an attempt does not depend on the password being
/// right: before the code prompt, one write either way (the attempt's
/// row; a wrong password adds its failure to the same transaction).
#[test]
fn each_step_of_an_attempt_writes_its_row() {
    let f = Fixture::new("");
    f.user("alice", Some("pw-alice-1"));
    f.mfa("alice");
    for pw in ["pw-alice-1", "wrong"] {
        let mut conv = Script::new("alice", vec![password(pw), Step::Hangup(CODE_PROMPT)]);
        authenticate(&mut conv, &f.options, t0());
    }
    let rows: i64 = {
        let c = rusqlite::Connection::open(f.dir.path().join("iam.db")).unwrap();
        c.query_row(
            "SELECT count(*) FROM auth_records WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(rows, 2);
}

#[test]
fn modes_and_missing_factors() {
    let f = Fixture::new("").with_mode(Mode::Totp);
    f.user("keyonly", None);
    let secret = f.mfa("keyonly");
    let mut conv = Script::new("keyonly", vec![code(&code_at(&secret, t0()))]);
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);

    // Users without a login profile cannot use a password mode.
    let f = f.with_mode(Mode::PasswordTotp);
    let mut conv = Script::new(
        "keyonly",
        vec![
            password("anything"),
            code(&code_at(&secret, at(30))),
            denied(),
        ],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(30)),
        Outcome::AuthFailed
    );
    assert_eq!(
        f.last_event()["errorMessage"],
        "user has no login profile (password)"
    );

    // A user without MFA is asked for a code too; the answer is ignored.
    f.user("bob", Some("pw-bob-1"));
    let mut conv = Script::new("bob", vec![password("pw-bob-1"), code("whatever")]);
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    // mode=password asks no code.
    let f = f.with_mode(Mode::Password);
    let mut conv = Script::new("bob", vec![password("pw-bob-1")]);
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    let f = f.with_mode(Mode::Totp);
    let mut conv = Script::new("bob", vec![code("123456"), denied()]);
    assert_eq!(
        authenticate(&mut conv, &f.options, t0()),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "user has no MFA device");
}

#[test]
fn first_pass_options() {
    let mut f = Fixture::new("").with_mode(Mode::Password);
    f.user("bob", Some("pw-bob-1"));
    f.options.first_pass = FirstPass::Use;
    let mut conv = Script::new("bob", vec![]);
    conv.stacked = Some("pw-bob-1".into());
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    let mut conv = Script::new("bob", vec![denied()]);
    assert_eq!(
        authenticate(&mut conv, &f.options, t0()),
        Outcome::AuthFailed
    );
    f.options.first_pass = FirstPass::Try;
    let mut conv = Script::new("bob", vec![password("pw-bob-1")]);
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
}

#[test]
fn account_stage_decides_host_login_by_policy() {
    let f = Fixture::new("[host_tags]\nenv = \"prod\"\n");
    f.user("alice", None);
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoProd","Effect":"Deny",
        "Action":"host:Login","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}}]}"#;
    f.policy("alice", "NoProd", deny);
    let mut conv = Script::new("alice", vec![denied()]);
    assert_eq!(
        account(&mut conv, &f.options, t0()),
        Outcome::PermissionDenied
    );
    let event = f.last_event();
    assert_eq!(event["errorCode"], "AccessDenied");
    assert_eq!(event["decidedBy"][0]["policy"], "NoProd");
    assert_eq!(event["decidedBy"][0]["sid"], "NoProd");

    f.user("bob", None);
    let office = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Office","Effect":"Deny",
        "Action":"host:Login","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}"#;
    f.policy("bob", "OfficeOnly", office);
    let mut conv = Script::new("bob", vec![]).from(Some("192.0.2.77"));
    assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Success);
    let mut conv = Script::new("bob", vec![denied()]).from(Some("198.51.100.1"));
    assert_eq!(
        account(&mut conv, &f.options, t0()),
        Outcome::PermissionDenied
    );

    f.user("carol", None);
    let window = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Until","Effect":"Deny",
        "Action":"host:Login","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2026-11-25T13:00:00Z"}}}]}"#;
    f.policy("carol", "Until", window);
    let mut conv = Script::new("carol", vec![]);
    assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Success);
    let mut conv = Script::new("carol", vec![denied()]);
    assert_eq!(
        account(&mut conv, &f.options, at(7200)),
        Outcome::PermissionDenied
    );

    // No statement at all: implicit deny.
    let name = UserName::parse("dave").unwrap();
    f.store.create_user(&NewUser::new(name), t0()).unwrap();
    let mut conv = Script::new("dave", vec![denied()]);
    assert_eq!(
        account(&mut conv, &f.options, t0()),
        Outcome::PermissionDenied
    );
    assert!(
        f.last_event()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("implicit deny")
    );
}

#[test]
fn mfa_in_the_context_and_require_mfa() {
    let f = Fixture::new("[login]\nrequire_mfa = true\n");
    f.user("alice", Some("pw-alice-1"));
    let secret = f.mfa("alice");
    // A publickey-only login: no authenticate, no record, no MFA.
    let mut conv = Script::new("alice", vec![denied()]);
    assert_eq!(
        account(&mut conv, &f.options, t0()),
        Outcome::PermissionDenied
    );
    assert!(
        f.last_event()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("require_mfa")
    );

    // Policies see the MFA and its age.
    let young = r#"{"Version":"2012-10-17","Statement":[{"Sid":"FreshMfa","Effect":"Deny",
        "Action":"host:Login","Resource":"*","Condition":{"NumericGreaterThan":{"aws:MultiFactorAuthAge":"60"}}}]}"#;
    f.policy("alice", "FreshMfa", young);
    let login = |when: DateTime<Utc>, rhost: &str| {
        let mut conv = Script::new(
            "alice",
            vec![password("pw-alice-1"), code(&code_at(&secret, when))],
        )
        .from(Some(rhost));
        assert_eq!(authenticate(&mut conv, &f.options, when), Outcome::Success);
        conv
    };
    let conv = login(t0(), "192.0.2.10");
    let mut next = conv.then(vec![]);
    assert_eq!(account(&mut next, &f.options, at(10)), Outcome::Success);
    let conv = login(at(30), "192.0.2.10");
    let mut next = conv.then(vec![denied()]);
    assert_eq!(
        account(&mut next, &f.options, at(130)),
        Outcome::PermissionDenied
    );
    assert_eq!(f.last_event()["decidedBy"][0]["sid"], "FreshMfa");
    // A record applies only where it was made: not from another host.
    let conv = login(at(60), "192.0.2.10");
    let mut elsewhere = conv.then(vec![denied()]).from(Some("203.0.113.9"));
    assert_eq!(
        account(&mut elsewhere, &f.options, at(61)),
        Outcome::PermissionDenied
    );

    // A user without an MFA device cannot log in here at all.
    f.user("bob", Some("pw-bob-1"));
    let mut conv = Script::new("bob", vec![password("pw-bob-1"), code("")]);
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    let mut next = conv.then(vec![denied()]);
    assert_eq!(
        account(&mut next, &f.options, at(1)),
        Outcome::PermissionDenied
    );
}

/// Issue 11, item 8: the MFA of one login is evidence for that login
/// only. Another connection of the same user from the same address
/// (NAT, a bastion), say by publickey alone, gets none of it.
#[test]
fn mfa_evidence_is_bound_to_the_login_that_earned_it() {
    let f = Fixture::new("");
    f.user("alice", Some("pw-alice-1"));
    let secret = f.mfa("alice");
    let with_mfa = r#"{"Version":"2012-10-17","Statement":[{"Sid":"LoginWithMfa",
        "Effect":"Allow","Action":"host:Login","Resource":"*",
        "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
    f.policy("alice", "AllowLogin", with_mfa);
    let mut first = Script::new(
        "alice",
        vec![password("pw-alice-1"), code(&code_at(&secret, t0()))],
    );
    assert_eq!(authenticate(&mut first, &f.options, t0()), Outcome::Success);
    let id = first.auth_id().unwrap();

    // A second connection, same user, same address, no authenticate.
    let mut second = Script::new("alice", vec![denied()]);
    assert_eq!(
        account(&mut second, &f.options, at(1)),
        Outcome::PermissionDenied
    );
    assert!(
        f.last_event()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("implicit deny")
    );
    // Nor with an id it made up, or one of the right shape it guessed.
    let mut forged = Script::new("alice", vec![denied()]);
    forged.env.insert(AUTH_ID_ENV.into(), "A".repeat(32));
    assert_eq!(
        account(&mut forged, &f.options, at(1)),
        Outcome::PermissionDenied
    );
    // Another user's transaction carrying the id: not theirs.
    f.user("bob", Some("pw-bob-1"));
    f.policy("bob", "AllowLogin", with_mfa);
    let mut bob = Script::new("bob", vec![denied()]);
    bob.env.insert(AUTH_ID_ENV.into(), id.clone());
    assert_eq!(
        account(&mut bob, &f.options, at(1)),
        Outcome::PermissionDenied
    );

    // The login itself, in sshd's monitor (only the PAM environment
    // came over from the authentication child): MFA present.
    let mut monitor = first.in_monitor(vec![]);
    assert_eq!(account(&mut monitor, &f.options, at(2)), Outcome::Success);
    assert_eq!(
        f.store
            .ledger()
            .get_auth_record(&id)
            .unwrap()
            .unwrap()
            .state,
        AuthState::Consumed
    );
    // Used up: the same id does not pass acct_mgmt twice.
    let mut again = first.in_monitor(vec![denied()]);
    assert_eq!(
        account(&mut again, &f.options, at(3)),
        Outcome::PermissionDenied
    );
    // The session takes the MFA time and removes the variable, so it
    // never reaches the user's session environment.
    let mut session = monitor.then(vec![]);
    assert_eq!(
        open_session(&mut session, &f.options, at(4)),
        Outcome::Success
    );
    assert_eq!(f.last_event()["additionalEventData"]["MFAUsed"], "Yes");
    assert_eq!(session.env.get(AUTH_ID_ENV), None);
    assert_eq!(f.store.ledger().get_auth_record(&id).unwrap(), None);
    let sessions = f
        .store
        .ledger()
        .list_login_sessions(Some("alice"), true)
        .unwrap();
    assert_eq!(sessions[0].mfa_time, Some(t0().timestamp()));

    // Module data wins over the environment (console logins: one
    // process); an id in data that is not a record gives no MFA even
    // if the environment holds a good one.
    let mut third = Script::new(
        "alice",
        vec![password("pw-alice-1"), code(&code_at(&secret, at(30)))],
    );
    assert_eq!(
        authenticate(&mut third, &f.options, at(30)),
        Outcome::Success
    );
    let mut mixed = third.then(vec![denied()]);
    mixed.data.insert(AUTH_ID_DATA.into(), "B".repeat(32));
    assert_eq!(
        account(&mut mixed, &f.options, at(31)),
        Outcome::PermissionDenied
    );
}

#[test]
fn disabled_users_are_refused() {
    let f = Fixture::new("");
    f.user("alice", Some("pw-alice-1"));
    f.store
        .set_user_status(&UserName::parse("alice").unwrap(), UserStatus::Disabled)
        .unwrap();
    let mut conv = Script::new("alice", vec![password("pw-alice-1"), code(""), denied()]);
    assert_eq!(
        authenticate(&mut conv, &f.options, t0()),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "user is disabled");
    let mut conv = Script::new("alice", vec![denied()]);
    assert_eq!(
        account(&mut conv, &f.options, t0()),
        Outcome::AccountDisabled
    );
}

#[test]
fn expired_passwords_must_be_changed_within_the_policy() {
    let f = Fixture::new("");
    f.user("alice", Some("Old-password-1"));
    let alice = UserName::parse("alice").unwrap();
    f.store.set_password_reset_required(&alice, true).unwrap();
    let mut conv = Script::new("alice", vec![Step::Error("Your password has expired")]);
    assert_eq!(
        account(&mut conv, &f.options, t0()),
        Outcome::NewPasswordRequired
    );

    let change = PasswordChange {
        preliminary: false,
        expired_only: true,
        by_root: true,
    };
    let prelim = PasswordChange {
        preliminary: true,
        ..change
    };
    let mut conv = Script::new("alice", vec![]);
    assert_eq!(
        change_password(&mut conv, &f.options, prelim, t0()),
        Outcome::Success
    );
    let new = |s: &str| Step::Secret(NEW_PASSWORD_PROMPT, s.to_owned());
    let again = |s: &str| Step::Secret(RETYPE_PASSWORD_PROMPT, s.to_owned());
    let current = |s: &str| Step::Secret(CURRENT_PASSWORD_PROMPT, s.to_owned());
    // Too short for the default policy (8).
    let mut conv = Script::new(
        "alice",
        vec![
            current("Old-password-1"),
            new("short"),
            again("short"),
            Step::Error("Password refused"),
        ],
    );
    assert_eq!(
        change_password(&mut conv, &f.options, change, t0()),
        Outcome::PasswordRejected
    );
    // Mismatch.
    let mut conv = Script::new(
        "alice",
        vec![
            current("Old-password-1"),
            new("New-password-1"),
            again("New-password-2"),
            Step::Error("Sorry"),
        ],
    );
    assert_eq!(
        change_password(&mut conv, &f.options, change, t0()),
        Outcome::PasswordRejected
    );
    // Wrong current password.
    let mut conv = Script::new("alice", vec![current("guess"), denied()]);
    assert_eq!(
        change_password(&mut conv, &f.options, change, t0()),
        Outcome::AuthFailed
    );
    // Reuse of the current password, when the policy forbids reuse.
    let mut policy = PasswordPolicy {
        password_reuse_prevention: Some(3),
        ..PasswordPolicy::default()
    };
    f.store.set_password_policy(&policy).unwrap();
    let mut conv = Script::new(
        "alice",
        vec![
            current("Old-password-1"),
            new("Old-password-1"),
            again("Old-password-1"),
            Step::Error("Password refused"),
        ],
    );
    assert_eq!(
        change_password(&mut conv, &f.options, change, t0()),
        Outcome::PasswordRejected
    );
    // A good one.
    let mut conv = Script::new(
        "alice",
        vec![
            current("Old-password-1"),
            new("New-password-1"),
            again("New-password-1"),
        ],
    );
    assert_eq!(
        change_password(&mut conv, &f.options, change, t0()),
        Outcome::Success
    );
    let mut conv = Script::new("alice", vec![]);
    assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Success);
    assert_eq!(f.last_event()["eventName"], "ChangePassword");

    // Max age: 30 days later the password is expired again.
    policy.max_password_age = Some(30);
    f.store.set_password_policy(&policy).unwrap();
    let mut conv = Script::new("alice", vec![Step::Error("Your password has expired")]);
    assert_eq!(
        account(&mut conv, &f.options, at(31 * 86400)),
        Outcome::NewPasswordRequired
    );
    policy.hard_expiry = true;
    f.store.set_password_policy(&policy).unwrap();
    let mut conv = Script::new("alice", vec![denied()]);
    assert_eq!(
        account(&mut conv, &f.options, at(31 * 86400)),
        Outcome::AccountDisabled
    );
}

/// Issue 11, item 7: `chauthtok` counts wrong current passwords under
/// the login's lockout rule and refuses a locked user, even with the
/// right current password; the lock is the login's too. A right current
/// password forgets no failure (it is one factor).
#[test]
fn wrong_current_passwords_count_and_a_locked_user_cannot_change_it() {
    let f = Fixture::new("[lockout]\ndeny = 3\nunlock_time = \"15m\"\n");
    f.user("alice", Some("Old-password-1"));
    let policy = PasswordPolicy {
        allow_users_to_change_password: true,
        ..PasswordPolicy::default()
    };
    f.store.set_password_policy(&policy).unwrap();
    let change = PasswordChange {
        preliminary: false,
        expired_only: false,
        by_root: false,
    };
    let current = |s: &str| Step::Secret(CURRENT_PASSWORD_PROMPT, s.to_owned());
    let new = |s: &str| Step::Secret(NEW_PASSWORD_PROMPT, s.to_owned());
    let again = |s: &str| Step::Secret(RETYPE_PASSWORD_PROMPT, s.to_owned());
    let failures = || {
        f.store
            .ledger()
            .lock_state("alice", &lockout(3), at(10))
            .unwrap()
            .failures
    };
    // One wrong, then the right one: counted, and not forgotten.
    let mut conv = Script::new("alice", vec![current("guess-0"), denied()]);
    assert_eq!(
        change_password(&mut conv, &f.options, change, t0()),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "wrong current password");
    let mut conv = Script::new(
        "alice",
        vec![
            current("Old-password-1"),
            new("New-password-1"),
            again("New-password-1"),
        ],
    );
    assert_eq!(
        change_password(&mut conv, &f.options, change, at(1)),
        Outcome::Success
    );
    assert_eq!(failures(), 1);
    // Two more wrong ones lock the user...
    for i in 2..4 {
        let mut conv = Script::new("alice", vec![current("guess"), denied()]);
        assert_eq!(
            change_password(&mut conv, &f.options, change, at(i)),
            Outcome::AuthFailed
        );
    }
    assert_eq!(
        f.last_event()["errorMessage"],
        "wrong current password; user now locked out"
    );
    // ...and then even the right current password is refused, here
    // and at the login.
    let mut conv = Script::new("alice", vec![current("New-password-1"), denied()]);
    assert_eq!(
        change_password(&mut conv, &f.options, change, at(4)),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "user is locked out");
    assert_eq!(failures(), 3);
    let mut conv = Script::new(
        "alice",
        vec![password("New-password-1"), code(""), denied()],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(5)),
        Outcome::AuthFailed
    );
}

#[test]
fn setcred_maps_iam_groups_to_local_groups() {
    let f = Fixture::new("[group_map]\ndevelopers = [\"docker\", \"adm\"]\nops = [\"adm\"]\n");
    f.user("alice", None);
    let alice = UserName::parse("alice").unwrap();
    for group in ["developers", "ops", "unmapped"] {
        let group = GroupName::parse(group).unwrap();
        f.store
            .create_group(&group, &IamPath::root(), t0())
            .unwrap();
        f.store.add_user_to_group(&alice, &group).unwrap();
    }
    let mut conv = Script::new("alice", vec![]);
    let mut groups = local_groups(&mut conv, &f.options).unwrap();
    groups.sort();
    assert_eq!(groups, ["adm", "docker"]);
    let mut conv = Script::new("nobody-here", vec![]);
    assert_eq!(local_groups(&mut conv, &f.options), Err(Outcome::Ignore));
}

#[test]
fn sessions_are_audited_and_recorded() {
    let f = Fixture::new("");
    f.user("alice", Some("pw-alice-1"));
    let secret = f.mfa("alice");
    let mut conv = Script::new(
        "alice",
        vec![password("pw-alice-1"), code(&code_at(&secret, t0()))],
    );
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    let id = conv.auth_id().unwrap();
    let mut conv = conv.then(vec![]);
    assert_eq!(open_session(&mut conv, &f.options, at(2)), Outcome::Success);
    let login = f.last_event();
    assert_eq!(login["eventName"], "Login");
    assert_eq!(login["sourceIPAddress"], "192.0.2.10");
    assert_eq!(login["additionalEventData"]["MFAUsed"], "Yes");
    assert_eq!(login["requestParameters"]["service"], "sshd");
    let sessions = f
        .store
        .ledger()
        .list_login_sessions(Some("alice"), true)
        .unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].mfa_time, Some(t0().timestamp()));
    assert_eq!(sessions[0].pid, Some(std::process::id()));
    // The record is used up.
    assert_eq!(f.store.ledger().get_auth_record(&id).unwrap(), None);
    let mut conv = Script::new("alice", vec![]);
    assert_eq!(
        close_session(&mut conv, &f.options, at(60)),
        Outcome::Success
    );
    assert_eq!(f.last_event()["eventName"], "Logout");
    assert!(
        f.store
            .ledger()
            .list_login_sessions(Some("alice"), true)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn fails_closed_on_a_missing_or_unsafe_host() {
    let f = Fixture::new("");
    f.user("alice", Some("pw-alice-1"));
    let mut missing = f.options.clone();
    missing.config = f.dir.path().join("nope.toml");
    let mut conv = Script::new("alice", vec![]);
    assert_eq!(
        authenticate(&mut conv, &missing, t0()),
        Outcome::Unavailable
    );

    let db = f.dir.path().join("iam.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut conv = Script::new("alice", vec![]);
    assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Unavailable);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();

    let garbage = f.dir.path().join("garbage.db");
    std::fs::write(&garbage, b"not a database at all, just bytes").unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
    let good = std::fs::read_to_string(&f.options.config).unwrap();
    std::fs::write(&f.options.config, good.replace("iam.db", "garbage.db")).unwrap();
    let mut conv = Script::new("alice", vec![]);
    assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Unavailable);

    std::fs::write(
        &f.options.config,
        "account_id = \"123456789012\"\nbogus = 1\n",
    )
    .unwrap();
    let mut conv = Script::new("alice", vec![]);
    assert_eq!(account(&mut conv, &f.options, t0()), Outcome::Unavailable);

    assert_eq!(refuse_options("unknown option \"x\""), Outcome::Unavailable);
}

#[test]
fn combined_answers_split_only_on_six_trailing_digits() {
    let split = |s: &str| {
        crate::factors::split_combined(&s.into())
            .map(|(p, c)| (p.expose().to_owned(), c.expose().to_owned()))
    };
    assert_eq!(
        split("hunter2123456"),
        Some(("hunter2".into(), "123456".into()))
    );
    assert_eq!(split("123456"), None);
    assert_eq!(split("pw12345x"), None);
    assert_eq!(split("pwé123456"), Some(("pwé".into(), "123456".into())));
    assert_eq!(split("12345"), None);
}

// ---- directory down, ledger up ----------------------------------------

/// Every directory table (docs/ARCHITECTURE.md), in a fixed order.
const DIRECTORY_TABLES: &[&str] = &[
    "meta",
    "linux_ids",
    "users",
    "login_profiles",
    "password_history",
    "groups",
    "group_members",
    "policies",
    "policy_versions",
    "inline_policies",
    "attachments",
    "roles",
    "mfa_devices",
    "recovery_codes",
    "password_policy",
];

/// Every ledger table.
const LEDGER_TABLES: &[&str] = &[
    "login_failures",
    "auth_records",
    "login_sessions",
    "role_sessions",
    "totp_steps",
    "last_used",
    "recovery_codes_used",
    "outbox",
];

/// The content of `tables`, row by row in rowid order, as text.
fn dump(f: &Fixture, tables: &[&str]) -> String {
    let c = rusqlite::Connection::open(f.dir.path().join("iam.db")).unwrap();
    let mut out = String::new();
    for table in tables {
        out.push_str(&format!("== {table}\n"));
        let mut st = c
            .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
            .unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                let v: rusqlite::types::Value = row.get(i).unwrap();
                out.push_str(&format!("{v:?}\t"));
            }
            out.push('\n');
        }
    }
    out
}

/// Records every outbox entry as it is queued (a trigger in the file), so
/// a test sees what a transaction queued after the drain removed it.
fn watch_outbox(f: &Fixture) {
    let c = rusqlite::Connection::open(f.dir.path().join("iam.db")).unwrap();
    c.execute_batch(
        "CREATE TABLE outbox_seen (kind TEXT, body TEXT);
         CREATE TRIGGER outbox_seen AFTER INSERT ON outbox
         BEGIN INSERT INTO outbox_seen VALUES (new.kind, new.body); END;",
    )
    .unwrap();
}

fn outbox_seen(f: &Fixture) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(f.dir.path().join("iam.db")).unwrap();
    let mut st = c
        .prepare("SELECT kind, body FROM outbox_seen WHERE kind != 'audit' ORDER BY rowid")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn outbox_left(f: &Fixture) -> i64 {
    let c = rusqlite::Connection::open(f.dir.path().join("iam.db")).unwrap();
    c.query_row(
        "SELECT count(*) FROM outbox WHERE kind != 'audit'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// Issue 12's "done means": a full login (authenticate with password and
/// code, acct_mgmt, open and close session) and an assume-role's MFA check
/// leave every directory table byte-identical; only the ledger changes.
#[test]
fn login_and_assume_role_write_nothing_to_the_directory() {
    let f = Fixture::new("");
    f.user("alice", Some("correct horse"));
    let secret = f.mfa("alice");
    let directory = dump(&f, DIRECTORY_TABLES);
    let ledger = dump(&f, LEDGER_TABLES);

    let mut conv = Script::new(
        "alice",
        vec![password("correct horse"), code(&code_at(&secret, t0()))],
    );
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    let mut acct = conv.then(vec![]);
    assert_eq!(account(&mut acct, &f.options, at(1)), Outcome::Success);
    let mut open = acct.then(vec![]);
    assert_eq!(open_session(&mut open, &f.options, at(2)), Outcome::Success);
    let mut close = open.then(vec![]);
    assert_eq!(
        close_session(&mut close, &f.options, at(3)),
        Outcome::Success
    );

    // assume-role's second factor, as iamctl checks it (a later code).
    let alice = UserName::parse("alice").unwrap();
    let devices = crate::elevation::mfa_devices_for(&f.store, &alice, None).unwrap();
    let rule = crate::factors::lockout_rule(&crate::config::LockoutConfig::default());
    crate::elevation::check_mfa_code(
        &f.store.ledger(),
        &alice,
        &devices,
        &code_at(&secret, at(30)).as_str().into(),
        &rule,
        1,
        at(30),
    )
    .unwrap();
    crate::ledger::drain(&f.store).unwrap();

    assert_eq!(dump(&f, DIRECTORY_TABLES), directory);
    assert_ne!(dump(&f, LEDGER_TABLES), ledger);
    let user = f.store.get_user(&alice).unwrap();
    assert_eq!(user.password_last_used, Some(t0().timestamp()));
    assert_eq!(
        f.store
            .ledger()
            .totp_step(&devices[0].serial_number)
            .unwrap(),
        totp::step_at(at(30))
    );
    assert_eq!(outbox_left(&f), 0);
}

/// A wrong password queues its failure in the transaction that counts it;
/// a chauthtok queues the new password in the ledger; both are drained at
/// once (the password applied to the local directory), nothing is left,
/// and the new password works at the next prompt.
#[test]
fn the_outbox_carries_failures_and_password_changes_and_is_drained() {
    let f = Fixture::new("").with_mode(Mode::Password);
    f.user("alice", Some("Old-password-1"));
    watch_outbox(&f);

    let mut conv = Script::new("alice", vec![password("wrong"), denied()]);
    assert_eq!(
        authenticate(&mut conv, &f.options, t0()),
        Outcome::AuthFailed
    );
    let seen = outbox_seen(&f);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, "failures");
    assert!(seen[0].1.contains("\"change\":\"failure\""), "{seen:?}");
    assert_eq!(outbox_left(&f), 0);
    assert_eq!(
        f.store
            .ledger()
            .lock_state("alice", &lockout(5), t0())
            .unwrap()
            .failures,
        1
    );

    let change = PasswordChange {
        preliminary: false,
        expired_only: false,
        by_root: false,
    };
    let mut conv = Script::new(
        "alice",
        vec![
            Step::Secret(CURRENT_PASSWORD_PROMPT, "Old-password-1".into()),
            Step::Secret(NEW_PASSWORD_PROMPT, "New-password-2".into()),
            Step::Secret(RETYPE_PASSWORD_PROMPT, "New-password-2".into()),
        ],
    );
    assert_eq!(
        change_password(&mut conv, &f.options, change, at(10)),
        Outcome::Success
    );
    let kinds: Vec<String> = outbox_seen(&f).into_iter().map(|(k, _)| k).collect();
    // The current password's guess (counted, then forgiven), the change.
    assert_eq!(kinds, ["failures", "failures", "failures", "password"]);
    assert_eq!(outbox_left(&f), 0);
    let alice = UserName::parse("alice").unwrap();
    let profile = f.store.get_login_profile(&alice).unwrap();
    assert_eq!(profile.password_changed, at(10).timestamp());

    let mut conv = Script::new("alice", vec![password("New-password-2")]);
    assert_eq!(
        authenticate(&mut conv, &f.options, at(20)),
        Outcome::Success
    );
}

/// One replay counter: a code used at a login is refused at assume-role,
/// and one used at assume-role is refused at a login.
#[test]
fn a_code_works_once_across_login_and_assume_role() {
    let f = Fixture::new("").with_mode(Mode::PasswordTotp);
    f.user("alice", Some("correct horse"));
    let secret = f.mfa("alice");
    let alice = UserName::parse("alice").unwrap();
    let devices = crate::elevation::mfa_devices_for(&f.store, &alice, None).unwrap();
    let rule = lockout(100);
    let assume = |code: &str, now| {
        crate::elevation::check_mfa_code(
            &f.store.ledger(),
            &alice,
            &devices,
            &code.into(),
            &rule,
            1,
            now,
        )
    };

    let first = code_at(&secret, t0());
    let mut conv = Script::new("alice", vec![password("correct horse"), code(&first)]);
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    assert!(matches!(
        assume(&first, at(1)),
        Err(crate::elevation::MfaFailure::Replayed)
    ));

    let second = code_at(&secret, at(30));
    assume(&second, at(30)).unwrap();
    let mut conv = Script::new(
        "alice",
        vec![password("correct horse"), code(&second), denied()],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(31)),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "replayed verification code");
}

/// Root (any /etc/passwd account) is left to the rest of the stack before
/// pam_iam reads anything: a missing or broken config or store cannot lock
/// it out, at any stage, whatever stack (with or without a pam_localuser
/// guard) led here.
#[test]
fn root_is_ignored_before_the_config_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("iam.toml");
    std::fs::write(&broken, "this is not toml [").unwrap();
    for config in [dir.path().join("missing.toml"), broken] {
        let options = Options {
            config,
            mode: Mode::PasswordTotp,
            ..Options::default()
        };
        let now = t0();
        assert_eq!(
            authenticate(&mut Script::new("root", vec![]), &options, now),
            Outcome::Ignore
        );
        assert_eq!(
            account(&mut Script::new("root", vec![]), &options, now),
            Outcome::Ignore
        );
        assert_eq!(
            local_groups(&mut Script::new("root", vec![]), &options),
            Err(Outcome::Ignore)
        );
        assert_eq!(
            open_session(&mut Script::new("root", vec![]), &options, now),
            Outcome::Ignore
        );
        // An IAM-looking name that is no local account still fails closed.
        assert_eq!(
            account(&mut Script::new("mallory", vec![]), &options, now),
            Outcome::Unavailable
        );
    }
}

/// When the local accounts cannot be read, root is still left alone, an
/// unknown name is left to the rest of the stack, and a known IAM user
/// fails closed at every stage (it is not skipped: the account stage's
/// policy decision must not be bypassed).
#[test]
fn unreadable_local_accounts_fail_iam_users_closed() {
    let f = Fixture::new("[login]\nunknown_user = \"deny\"\n");
    f.user("alice", Some("pw"));
    let begin = |name: &str| {
        let mut conv = Script::new(name, vec![]);
        Host::begin_as(&mut conv, &f.options, name.to_owned(), None).map(|b| b.user.is_some())
    };
    assert_eq!(begin("root").err(), Some(Outcome::Ignore));
    assert_eq!(begin("mallory").err(), Some(Outcome::Ignore));
    assert_eq!(begin("alice").err(), Some(Outcome::Unavailable));
    // Readable local accounts: alice is alice.
    let mut conv = Script::new("alice", vec![]);
    let local = crate::local_accounts::LocalAccounts::default();
    let begun = Host::begin_as(&mut conv, &f.options, "alice".to_owned(), Some(local));
    assert!(begun.is_ok_and(|b| b.user.is_some()));
}

/// An sshd stage of a login no pam_iam `authenticate` ran for: sshd's
/// `SSH_AUTH_INFO_0` says `info` (empty in acct_mgmt after publickey
/// alone), no authentication record.
fn sshd_stage(user: &str, info: &str, steps: Vec<Step>) -> Script {
    let mut conv = Script::new(user, steps);
    conv.env.insert(ssh::SSH_AUTH_INFO.into(), info.into());
    conv
}

/// An IAM SSH public key of `user`: (its OpenSSH line, its id).
fn iam_key(f: &Fixture, user: &str) -> (String, String) {
    let id = crate::names::new_unique_id(crate::names::UniqueIdKind::SshPublicKey).unwrap();
    let body = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIamKey".to_owned();
    let key = crate::store::NewSshPublicKey {
        body: body.clone(),
        fingerprint: "aa:bb".into(),
    };
    f.store
        .upload_ssh_public_key(&UserName::parse(user).unwrap(), &id, &key, t0())
        .unwrap();
    (body, id)
}

/// Issue 15 review: sshd runs no PAM authentication for hostbased or
/// GSSAPI logins, and says nothing of them to acct_mgmt, as after
/// publickey alone. Such a login is never taken for a key login: the
/// session, where sshd lists every method, refuses it.
#[test]
fn a_login_sshd_let_in_without_pam_iam_or_an_iam_key_is_refused_at_the_session() {
    let f = Fixture::new("");
    f.user("alice", None);
    for info in [
        "hostbased ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHost\n",
        "gssapi-with-mic\n",
    ] {
        let mut account_stage = sshd_stage("alice", "", vec![]);
        assert_eq!(
            account(&mut account_stage, &f.options, t0()),
            Outcome::Success
        );
        let mut session = sshd_stage("alice", info, vec![denied()]);
        assert_eq!(
            open_session(&mut session, &f.options, at(1)),
            Outcome::PermissionDenied,
            "{info}"
        );
        let denial = f.last_event();
        assert_eq!(denial["errorCode"], "AccessDenied", "{denial}");
        assert!(
            denial["errorMessage"]
                .as_str()
                .unwrap()
                .contains("cannot verify"),
            "{denial}"
        );
    }
    // Nor does an empty variable at the session prove anything.
    let mut session = sshd_stage("alice", "", vec![denied()]);
    assert_eq!(
        open_session(&mut session, &f.options, at(2)),
        Outcome::PermissionDenied
    );
    assert!(
        f.events()
            .iter()
            .all(|e| e["eventName"] != "Login" || e["errorCode"] == "AccessDenied")
    );
}

/// `host:AuthMethod` is `publickey` only once sshd names an active IAM
/// key of the user: after publickey alone that is open_session, which
/// then decides `host:Login` with it (AWS's shape of "a second factor for
/// key logins": a Deny on `publickey` alone).
#[test]
fn a_publickey_only_login_is_decided_where_sshd_names_the_key() {
    let f = Fixture::new("");
    f.user("alice", None);
    let (body, id) = iam_key(&f, "alice");
    let key_only = r#"{"Version":"2012-10-17","Statement":[{"Sid":"KeysOnly",
        "Effect":"Allow","Action":"host:Login","Resource":"*",
        "Condition":{"StringEquals":{"host:AuthMethod":"publickey"}}}]}"#;
    f.policy("alice", "AllowLogin", key_only);
    let listed = format!("publickey {body}\n");
    // acct_mgmt: nothing shown yet, so no AuthMethod is made up (the Allow
    // on publickey could not match) and nothing is decided.
    let mut account_stage = sshd_stage("alice", "", vec![]);
    assert_eq!(
        account(&mut account_stage, &f.options, t0()),
        Outcome::Success
    );
    let mut session = sshd_stage("alice", &listed, vec![]);
    assert_eq!(
        open_session(&mut session, &f.options, at(1)),
        Outcome::Success
    );
    let login = f.last_event();
    assert_eq!(login["additionalEventData"]["AuthMethod"], "publickey");
    assert_eq!(login["additionalEventData"]["SSHPublicKeyId"], id.as_str());

    // The key alone denied: the session refuses, naming the key.
    let no_key_alone = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Login","Effect":"Allow","Action":"host:Login","Resource":"*"},
        {"Sid":"NoKeyAlone","Effect":"Deny","Action":"host:Login","Resource":"*",
         "Condition":{"StringEquals":{"host:AuthMethod":"publickey"}}}]}"#;
    f.policy("alice", "AllowLogin", no_key_alone);
    let mut account_stage = sshd_stage("alice", "", vec![]);
    assert_eq!(
        account(&mut account_stage, &f.options, at(2)),
        Outcome::Success
    );
    let mut session = sshd_stage("alice", &listed, vec![denied()]);
    assert_eq!(
        open_session(&mut session, &f.options, at(3)),
        Outcome::PermissionDenied
    );
    let denial = f.last_event();
    assert_eq!(denial["decidedBy"][0]["sid"], "NoKeyAlone", "{denial}");
    assert!(
        denial["errorMessage"].as_str().unwrap().contains(&id),
        "{denial}"
    );
    assert_eq!(
        f.store
            .ledger()
            .list_login_sessions(Some("alice"), true)
            .unwrap()
            .len(),
        1,
        "the refused session was recorded"
    );
}

fn info(starts: &'static str) -> Step {
    Step::Info(starts)
}

fn serial(name: &str) -> String {
    format!("arn:aws:iam::123456789012:mfa/{name}")
}

/// AWS allows several MFA devices per user and takes a code of any of
/// them: each device keeps its own replay counter, so the same time step
/// used on one device leaves the other's code good; deactivating one
/// leaves the other working.
#[test]
fn a_code_of_any_active_device_logs_in_each_with_its_own_counter() {
    let f = Fixture::new("");
    f.user("alice", Some("correct horse"));
    let phone = f.mfa_device("alice", "phone", b"12345678901234567890");
    let key = f.mfa_device("alice", "key", b"abcdefghijklmnopqrst");
    assert_ne!(code_at(&phone, t0()), code_at(&key, t0()));
    let login = |code: String, when, passes: bool| {
        let mut steps = vec![password("correct horse"), self::code(&code)];
        if !passes {
            steps.push(denied());
        }
        let mut conv = Script::new("alice", steps);
        let outcome = authenticate(&mut conv, &f.options, when);
        assert_eq!(outcome == Outcome::Success, passes, "{outcome:?}");
    };
    // The second device's code, then the first's of the same step.
    login(code_at(&key, t0()), t0(), true);
    login(code_at(&phone, t0()), at(1), true);
    // Each code once.
    login(code_at(&key, t0()), at(2), false);
    assert_eq!(f.last_event()["errorMessage"], "replayed verification code");
    let ledger = f.store.ledger();
    let step = totp::step_at(t0()).unwrap();
    assert_eq!(ledger.totp_step(&serial("alice-key")).unwrap(), Some(step));
    assert_eq!(
        ledger.totp_step(&serial("alice-phone")).unwrap(),
        Some(step)
    );
    // Deactivating the phone: its codes stop, the key's still work.
    let alice = UserName::parse("alice").unwrap();
    f.store
        .deactivate_mfa_device(&alice, &serial("alice-phone"))
        .unwrap();
    login(code_at(&phone, at(30)), at(30), false);
    assert_eq!(f.last_event()["errorMessage"], "wrong verification code");
    login(code_at(&key, at(60)), at(60), true);
}

/// `ResyncMFADevice` keeps the drift it found, and every later check looks
/// at the device's own clock: a device five minutes fast is refused before
/// and accepted after.
#[test]
fn a_resynced_devices_drift_applies_to_later_logins() {
    let f = Fixture::new("");
    f.user("alice", Some("correct horse"));
    let secret = f.mfa("alice");
    let fast = |when: DateTime<Utc>| code_at(&secret, when + chrono::TimeDelta::minutes(5));
    let mut conv = Script::new(
        "alice",
        vec![password("correct horse"), code(&fast(t0())), denied()],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, t0()),
        Outcome::AuthFailed
    );
    let (drift, step) = totp::resync(
        &secret,
        &fast(at(30)).as_str().into(),
        &fast(at(60)).as_str().into(),
        at(60),
    )
    .unwrap();
    assert_eq!(drift, 10);
    let alice = UserName::parse("alice").unwrap();
    f.store
        .resync_mfa_device(&alice, &serial("alice-phone"), drift, step)
        .unwrap();
    // The resync codes are used up; the next one logs in.
    let mut conv = Script::new(
        "alice",
        vec![password("correct horse"), code(&fast(at(60))), denied()],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(61)),
        Outcome::AuthFailed
    );
    let mut conv = Script::new(
        "alice",
        vec![password("correct horse"), code(&fast(at(90)))],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(90)),
        Outcome::Success
    );
}

/// A recovery code is taken at the `Verification code:` prompt in place of
/// a device's code: it counts as MFA, is audited as `RecoveryCodeUsed` with
/// the number left (also told to the user), and works once. A replaced set's
/// codes stop working.
#[test]
fn a_recovery_code_counts_as_mfa_once_and_is_audited() {
    let f = Fixture::new("[login]\nrequire_mfa = true\n");
    f.user("alice", Some("correct horse"));
    f.mfa("alice");
    let alice = UserName::parse("alice").unwrap();
    let new = crate::recovery_codes::RecoveryCodes::generate(t0().timestamp()).unwrap();
    f.store.put_recovery_codes(&alice, &new.set).unwrap();
    let typed = new.codes[3].expose().to_ascii_uppercase();
    let mut conv = Script::new(
        "alice",
        vec![
            password("correct horse"),
            code(&typed),
            info("Recovery code accepted; 9 left."),
        ],
    );
    assert_eq!(authenticate(&mut conv, &f.options, t0()), Outcome::Success);
    let used = f.last_event();
    assert_eq!(used["eventName"], "RecoveryCodeUsed");
    assert_eq!(used["additionalEventData"]["RecoveryCodesRemaining"], 9);
    assert_eq!(used["userIdentity"]["userName"], "alice");
    assert!(
        !used.to_string().contains(&typed),
        "no code in the audit log"
    );
    let id = conv.auth_id().unwrap();
    let record = f.store.ledger().get_auth_record(&id).unwrap().unwrap();
    assert_eq!(record.mfa_time, Some(t0().timestamp()));
    // MFA for the account stage: require_mfa is met.
    let mut acct = conv.then(vec![]);
    assert_eq!(account(&mut acct, &f.options, at(1)), Outcome::Success);

    // The same code again: refused, counted.
    let mut conv = Script::new(
        "alice",
        vec![
            password("correct horse"),
            code(new.codes[3].expose()),
            denied(),
        ],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(5)),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "replayed verification code");
    assert_eq!(
        f.store
            .ledger()
            .recovery_codes_used(&new.set.set_id)
            .unwrap(),
        1
    );

    // A new set replaces the old one: its codes no longer work.
    let newer = crate::recovery_codes::RecoveryCodes::generate(at(10).timestamp()).unwrap();
    f.store.put_recovery_codes(&alice, &newer.set).unwrap();
    let mut conv = Script::new(
        "alice",
        vec![
            password("correct horse"),
            code(new.codes[0].expose()),
            denied(),
        ],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(20)),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "wrong verification code");
    let mut conv = Script::new(
        "alice",
        vec![
            password("correct horse"),
            code(newer.codes[0].expose()),
            info("Recovery code accepted; 9 left."),
        ],
    );
    assert_eq!(
        authenticate(&mut conv, &f.options, at(30)),
        Outcome::Success
    );
}

/// A recovery code stands in for a device's code, in `mode=totp` too; it
/// is not a second factor for a user without an MFA device (whose code
/// answer `password+totp` ignores), and `assume-role` does not take it.
#[test]
fn recovery_codes_stand_in_for_a_device_only() {
    let f = Fixture::new("").with_mode(Mode::Totp);
    f.user("alice", Some("correct horse"));
    f.user("bob", Some("battery staple"));
    let new = crate::recovery_codes::RecoveryCodes::generate(t0().timestamp()).unwrap();
    let alice = UserName::parse("alice").unwrap();
    f.store.put_recovery_codes(&alice, &new.set).unwrap();
    // No device: mode=totp refuses, the code stays unused.
    let mut conv = Script::new("alice", vec![code(new.codes[0].expose()), denied()]);
    assert_eq!(
        authenticate(&mut conv, &f.options, t0()),
        Outcome::AuthFailed
    );
    assert_eq!(f.last_event()["errorMessage"], "user has no MFA device");
    assert_eq!(
        f.store
            .ledger()
            .recovery_codes_used(&new.set.set_id)
            .unwrap(),
        0
    );
    f.mfa("alice");
    let mut conv = Script::new(
        "alice",
        vec![
            code(new.codes[0].expose()),
            info("Recovery code accepted; 9 left."),
        ],
    );
    assert_eq!(authenticate(&mut conv, &f.options, at(1)), Outcome::Success);
    // Not at assume-role: a recovery code is no device's code.
    let devices = crate::elevation::mfa_devices_for(&f.store, &alice, None).unwrap();
    let refused = crate::elevation::check_mfa_code(
        &f.store.ledger(),
        &alice,
        &devices,
        &new.codes[1].expose().into(),
        &lockout(100),
        1,
        at(2),
    );
    assert!(matches!(
        refused,
        Err(crate::elevation::MfaFailure::InvalidCode)
    ));
    assert_eq!(
        f.store
            .ledger()
            .recovery_codes_used(&new.set.set_id)
            .unwrap(),
        1
    );
}
