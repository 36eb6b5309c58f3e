//! A real PostgreSQL 15 for tests: a cluster in a temporary directory,
//! listening on a loopback port, run as the unprivileged `postgres` user
//! (initdb refuses root). Absent PostgreSQL skips a test with a notice, and
//! fails it when CI=true (.ci/run installs it). Reusable by any test crate:
//! `#[path = "support/postgres.rs"] mod postgres;`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// One running cluster; stopped (and its files removed) when dropped.
pub struct TestPostgres {
    dir: PathBuf,
    port: u16,
    /// The shared cluster is never dropped: a watcher stops it when the
    /// test process exits.
    owned: bool,
}

impl TestPostgres {
    /// Starts a cluster of its own (for a test that stops and starts it).
    /// `None` when PostgreSQL 15 is not installed (outside CI).
    pub fn start() -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("iam-pg-")
            .tempdir()
            .unwrap()
            .keep();
        let me = Self {
            dir,
            port: free_port(),
            owned: true,
        };
        me.init();
        me.start_again();
        Some(me)
    }

    /// One cluster for the whole test process; each test takes a database
    /// of its own with [`TestPostgres::new_database`].
    pub fn shared() -> Option<&'static Self> {
        static SHARED: OnceLock<Option<TestPostgres>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let mut pg = Self::start()?;
                pg.owned = false;
                pg.stop_when_process_exits();
                Some(pg)
            })
            .as_ref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// libpq's `key=value` form for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        )
    }

    /// Creates an empty database and returns its URL.
    pub fn new_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "iam_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Runs SQL as the superuser (psql), panicking on failure.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(format!("{BIN}/psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", db, "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Stops the server (fast: clients are disconnected).
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]);
    }

    /// Starts the (stopped) server again on the same port.
    pub fn start_again(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        self.pg_ctl(&[
            "start",
            "-w",
            "-t",
            "60",
            "-o",
            &opts,
            "-l",
            &log.display().to_string(),
        ]);
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn init(&self) {
        chown_to_postgres(&self.dir);
        let data = self.data();
        let ok = as_postgres(&format!("{BIN}/initdb"))
            .args(["-D", &data.display().to_string()])
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "initdb failed");
        // The superuser is trusted (the tests' own connections); any other
        // role logs in with its password, as iam-server's would.
        let hba = "local all all trust\n\
                   host all postgres 127.0.0.1/32 trust\n\
                   host all all 127.0.0.1/32 scram-sha-256\n";
        let hba_path = data.join("pg_hba.conf");
        std::fs::write(&hba_path, hba).unwrap();
        chown_to_postgres(&hba_path);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let ok = as_postgres(&format!("{BIN}/pg_ctl"))
            .args(["-D", &self.data().display().to_string()])
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "pg_ctl {args:?} failed (log: {})",
            self.dir.join("log").display()
        );
    }

    /// A watcher that outlives no test process: once this one exits, it
    /// stops the cluster and removes its files.
    fn stop_when_process_exits(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {stop} {BIN}/pg_ctl -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            stop = if is_root() {
                "runuser -u postgres --"
            } else {
                ""
            },
            data = self.data().display(),
            dir = self.dir.display(),
        );
        // Not waited for: it is meant to outlive this process.
        #[allow(clippy::zombie_processes)]
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.owned {
            let _ = as_postgres(&format!("{BIN}/pg_ctl"))
                .args([
                    "-D",
                    &self.data().display().to_string(),
                    "stop",
                    "-m",
                    "immediate",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Whether PostgreSQL 15 is installed; outside CI, says why a test is
/// skipped, and in CI fails.
fn available() -> bool {
    if Path::new(BIN).join("initdb").exists() {
        return true;
    }
    let why = format!("PostgreSQL 15 is not installed ({BIN}/initdb)");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    false
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

fn chown_to_postgres(dir: &Path) {
    if is_root() {
        let ok = Command::new("chown")
            .args(["postgres:postgres", &dir.display().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "chown postgres {}", dir.display());
    }
}

/// A loopback port nothing listens on (now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
