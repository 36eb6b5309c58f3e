//! What the store's unit tests share: a fixed clock and a fresh store with
//! users.
#![allow(clippy::unwrap_used)]

use super::{NewUser, Store};
use crate::names::{AccountId, UserName};
use chrono::{DateTime, TimeZone, Utc};

/// `secs` after a fixed instant.
pub(crate) fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
}

pub(crate) fn user(s: &str) -> UserName {
    UserName::parse(s).unwrap()
}

/// A new store of account 123456789012 with these users (made at `at(0)`).
pub(crate) fn store_with(users: &[&str]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let acct = AccountId::parse("123456789012").unwrap();
    let s = Store::create(&dir.path().join("iam.db"), &acct).unwrap();
    for name in users {
        s.create_user(&NewUser::new(user(name)), at(0)).unwrap();
    }
    (dir, s)
}
