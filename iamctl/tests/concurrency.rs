//! 8 iamctl processes writing to one store at once lose no update, and
//! kill -9 in the middle of a write leaves a consistent store with the
//! change either fully there or not at all.

#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn eight_writers_lose_no_update() {
    if !require_root("eight_writers_lose_no_update") {
        return;
    }
    let env = Env::new();
    env.ok(&["create-group", "--group-name", "everyone"]);
    const WRITERS: usize = 8;
    const EACH: usize = 6;
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let env = &env;
            s.spawn(move || {
                for i in 0..EACH {
                    let name = format!("u{w}x{i}");
                    env.ok(&["create-user", "--user-name", &name]);
                    env.ok(&[
                        "add-user-to-group",
                        "--group-name",
                        "everyone",
                        "--user-name",
                        &name,
                    ]);
                    let tag = format!("Key=w,Value={w}");
                    env.ok(&["tag-user", "--user-name", &name, "--tags", &tag]);
                }
            });
        }
    });
    let users = env.ok(&["list-users"]);
    assert_eq!(users["Users"].as_array().unwrap().len(), WRITERS * EACH);
    let group = env.ok(&["get-group", "--group-name", "everyone"]);
    assert_eq!(group["Users"].as_array().unwrap().len(), WRITERS * EACH);
    // Every user got a distinct uid, and the published files hold them all.
    let passwd = std::fs::read_to_string(env.path("extrausers/passwd")).unwrap();
    let mut uids: Vec<&str> = passwd
        .lines()
        .map(|l| l.split(':').nth(2).unwrap())
        .collect();
    assert_eq!(uids.len(), WRITERS * EACH, "{passwd}");
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), WRITERS * EACH);
    let group_line = std::fs::read_to_string(env.path("extrausers/group"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("everyone:"))
        .unwrap()
        .to_owned();
    assert_eq!(
        group_line.rsplit(':').next().unwrap().split(',').count(),
        WRITERS * EACH
    );
}

fn integrity(db: &std::path::Path) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg("PRAGMA integrity_check;")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn kill_9_during_writes_leaves_all_or_nothing() {
    if !require_root("kill_9_during_writes_leaves_all_or_nothing") {
        return;
    }
    let env = Env::new();
    const USERS: usize = 400;
    // One import = one transaction of many rows; killing it at any point
    // must leave all of it or none of it.
    for round in 0..8u64 {
        let users: Vec<String> = (0..USERS)
            .map(|i| format!(r#"{{"UserName":"r{round}u{i}","Path":"/","GroupList":["r{round}g"],"Tags":[{{"Key":"n","Value":"{i}"}}]}}"#))
            .collect();
        let doc = format!(
            r#"{{"GroupDetailList":[{{"GroupName":"r{round}g","Path":"/"}}],"UserDetailList":[{}]}}"#,
            users.join(",")
        );
        let file = env.write(&format!("round{round}.json"), &doc);
        let mut child = env
            .command(&["import-authorization-details", &file])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + round * 20));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        assert_eq!(integrity(&env.db()), "ok", "round {round}");
        let listed = env.ok(&["list-users"]);
        let n = listed["Users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| {
                u["UserName"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("r{round}u"))
            })
            .count();
        eprintln!(
            "round {round}: import killed after {}ms left {n} of {USERS} users",
            20 + round * 20
        );
        assert!(
            n == 0 || n == USERS,
            "round {round}: partial import of {n} users"
        );
        let group = env.run(&["get-group", "--group-name", &format!("r{round}g")]);
        assert_eq!(
            group.code == 0,
            n == USERS,
            "round {round}: group and users go together"
        );
        // Also kill single-row writers mid-flight.
        let mut child = env
            .command(&["create-user", "--user-name", &format!("single{round}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(round * 3));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(integrity(&env.db()), "ok");
        // The store still takes writes afterwards.
        env.ok(&["create-user", "--user-name", &format!("after{round}")]);
    }
}

/// With stdin, stdout and stderr closed, the store must not be opened on
/// one of them (it would receive the JSON output): the call works, the
/// store stays sound.
#[test]
fn closed_standard_descriptors_do_not_corrupt_the_store() {
    if !require_root("closed_standard_descriptors_do_not_corrupt_the_store") {
        return;
    }
    let env = Env::new();
    let script = format!(
        "exec {} --config {} create-user --user-name fdtest <&- >&- 2>&-",
        bin(),
        env.config.display()
    );
    let st = Command::new("sh").args(["-c", &script]).status().unwrap();
    assert!(st.success());
    assert_eq!(integrity(&env.db()), "ok");
    assert_eq!(
        env.ok(&["get-user", "--user-name", "fdtest"])["User"]["UserName"],
        "fdtest"
    );
}
