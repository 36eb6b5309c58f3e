//! The extrausers writer with names, paths (which end up in GECOS) and
//! shell/home templates of any bytes: whatever the store accepts must
//! render to well-formed `passwd`/`group` lines (7 and 4 fields, no control
//! characters, only valid Linux login names), or be refused.
//!
//! Input: `USER1 \0 PATH1 \0 USER2 \0 GROUP \0 SHELL \0 HOME`.
#![no_main]

use chrono::{TimeZone, Utc};
use iam::publish::extrausers::render;
use iam::local_accounts::LocalAccounts;
use iam::names::{AccountId, GroupName, IamPath, UserName, is_linux_login_name};
use iam::store::{NewUser, Store};
use libfuzzer_sys::fuzz_target;

fn well_formed(text: &str, fields: usize) {
    for line in text.lines() {
        assert_eq!(line.split(':').count(), fields, "malformed line {line:?}");
        assert!(
            !line.chars().any(char::is_control),
            "control character in {line:?}"
        );
        let name = line.split(':').next().unwrap_or_default();
        assert!(is_linux_login_name(name), "published {name:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data
        .split(|&b| b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut next = || parts.next().unwrap_or_default();
    let (user1, path1, user2, group) = (next(), next(), next(), next());
    let (shell, home) = (next(), next());
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    let dir = tempfile::Builder::new()
        .prefix("iam-fuzz-xu-")
        .tempdir_in(base)
        .unwrap();
    let account = AccountId::parse("123456789012").unwrap();
    let store = Store::create(&dir.path().join("iam.db"), &account).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let mut users = Vec::new();
    for (name, path) in [(user1, path1), (user2, "/".to_owned())] {
        let (Ok(name), Ok(path)) = (UserName::parse(&name), IamPath::parse(&path)) else {
            continue;
        };
        let new = NewUser {
            path,
            ..NewUser::new(name.clone())
        };
        if store.create_user(&new, now).is_ok() {
            users.push(name);
        }
    }
    if let Ok(group) = GroupName::parse(&group) {
        if store.create_group(&group, &IamPath::root(), now).is_ok() {
            for u in &users {
                let _ = store.add_user_to_group(u, &group);
            }
        }
    }
    let shell = if shell.is_empty() {
        "/bin/bash".to_owned()
    } else {
        shell
    };
    let home = if home.is_empty() {
        "/home/%u".to_owned()
    } else {
        home
    };
    if let Ok(rendered) = render(&store, &LocalAccounts::default(), &shell, &home) {
        well_formed(&rendered.passwd, 7);
        well_formed(&rendered.group, 4);
        let published = rendered.passwd.lines().count();
        assert_eq!(published, rendered.report.users);
        assert!(published <= users.len());
    }
});
