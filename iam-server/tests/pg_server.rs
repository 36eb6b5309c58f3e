//! iam-server on PostgreSQL end to end: the real `aws` CLI against a
//! server whose directory is a PostgreSQL 15 database reached with a
//! password from a file; an outage answers ServiceUnavailable and heals by
//! itself; an unreachable database stops the start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/server.rs"]
mod server;

use postgres::TestPostgres;
use std::os::unix::fs::PermissionsExt;

const PASSWORD: &str = "correct horse battery staple";

fn postgres_section(pg: &TestPostgres, dir: &std::path::Path) -> String {
    pg.psql(
        "postgres",
        &format!("CREATE ROLE iam LOGIN PASSWORD '{PASSWORD}'"),
    );
    pg.psql("postgres", "CREATE DATABASE iam OWNER iam");
    let password_file = dir.join("pg.password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    format!(
        "[postgres]\nurl = \"host=127.0.0.1 port={} user=iam dbname=iam\"\npassword_file = \"pg.password\"\n",
        pg.port()
    )
}

#[test]
fn the_aws_cli_on_a_postgresql_directory() {
    let Some(pg) = TestPostgres::start() else {
        return;
    };
    if !std::path::Path::new(server::AWS).exists() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "no aws CLI");
        eprintln!("skipped: no aws CLI at {}", server::AWS);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let extra = postgres_section(&pg, dir.path());
    let server = server::start(dir.path(), &extra);

    server
        .aws(&["iam", "create-user", "--user-name", "Bob"])
        .unwrap();
    let e = server
        .aws(&["iam", "create-user", "--user-name", "bob"])
        .unwrap_err();
    assert!(e.contains("EntityAlreadyExists"), "{e}");
    // The directory is PostgreSQL's: no SQLite file was made.
    assert_eq!(
        pg.psql(
            "iam",
            "SELECT string_agg(name, ',' ORDER BY name) FROM users"
        ),
        "Bob,iam-admin"
    );
    assert!(!server.state.join("directory.db").exists());

    pg.stop();
    let e = server
        .aws(&["iam", "get-user", "--user-name", "Bob"])
        .unwrap_err();
    assert!(e.contains("ServiceUnavailable"), "{e}");
    pg.start_again();
    let user = server
        .aws(&["iam", "get-user", "--user-name", "bob"])
        .unwrap();
    assert_eq!(user["User"]["UserName"], "Bob");
}

#[test]
fn an_unreachable_database_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let port = postgres::free_port();
    let extra = format!("[postgres]\nurl = \"host=127.0.0.1 port={port} user=iam dbname=iam\"\n");
    let (config, _) = server::write_config(dir.path(), &extra);
    let out = server::run(&config, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "PostgreSQL at 127.0.0.1:{port}/iam is unreachable"
        )),
        "{stderr}"
    );
}
