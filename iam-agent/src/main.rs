//! iam-agent: keeps this host's directory a replica of the fleet's
//! iam-server (docs/ARCHITECTURE.md, "Replicas"). The PAM module and
//! iamctl read the replica in-process; nothing on the login path waits
//! for the network.

mod client;
mod sync;

use clap::Parser;
use client::Client;
use iam::config::{AgentConfig, HostConfig};
use iam::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use sync::Round;

#[derive(Parser)]
#[command(
    version,
    about = "Keeps this host's pam_iam directory a replica of iam-server's"
)]
struct Args {
    /// The server and this host's credentials (root-only).
    #[arg(long, default_value = "/etc/iam/agent.toml")]
    config: PathBuf,
    /// The host's pam_iam config: where the replica is, what to publish.
    #[arg(long, default_value = "/etc/iam/iam.toml")]
    iam_config: PathBuf,
    /// One round (a snapshot, or the changes so far), then exit.
    #[arg(long)]
    once: bool,
    /// How long the server may hold a call open waiting for a change.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=25))]
    wait_seconds: u64,
}

/// The longest pause after failed rounds (server down, network gone).
const MAX_BACKOFF: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args = Args::parse();
    let agent = match AgentConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let host = match HostConfig::load(&args.iam_config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let mut client = match Client::new(&agent) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    drop(agent);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    runtime.block_on(run(&mut client, &host, &args))
}

async fn run(client: &mut Client, host: &HostConfig, args: &Args) -> ExitCode {
    let wait = if args.once {
        Duration::ZERO
    } else {
        Duration::from_secs(args.wait_seconds)
    };
    let mut failures = 0u32;
    let mut store: Option<Store> = None;
    let mut published = false;
    loop {
        let outcome = async {
            let s = match store.take() {
                Some(s) => s,
                None => Store::open(&host.database)?,
            };
            // A kill between an apply and its publishing leaves the
            // projections behind the replica: publish once at start.
            if !published {
                sync::publish(host, &s)?;
                published = true;
            }
            // What the host's logins queued goes up before waiting for
            // what comes down.
            // A report that fails (the server down, or the host's role not
            // allowed to report) stays queued and holds nothing else up.
            if let Err(e) = sync::report(client, &s).await {
                eprintln!("iam-agent: reporting the ledger: {e}");
            }
            let r = sync::round(client, host, &s, wait).await;
            store = Some(s);
            r
        }
        .await;
        match outcome {
            Ok(round) => {
                failures = 0;
                match round {
                    Round::Snapshot(n) => {
                        eprintln!("iam-agent: replica replaced by the snapshot at change {n}")
                    }
                    Round::Changes(n) => eprintln!("iam-agent: replica at change {n}"),
                    Round::UpToDate(_) => {}
                }
                if args.once {
                    return ExitCode::SUCCESS;
                }
            }
            Err(e) => {
                eprintln!("iam-agent: {} ({e})", client.url());
                if args.once {
                    return ExitCode::FAILURE;
                }
                if matches!(e, sync::SyncError::Store(_) | sync::SyncError::Replica(_)) {
                    // Open the store afresh next time.
                    store = None;
                }
                failures = failures.saturating_add(1);
                let pause = Duration::from_secs(1 << failures.min(5)).min(MAX_BACKOFF);
                tokio::time::sleep(pause).await;
            }
        }
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("iam-agent: {e}");
    ExitCode::FAILURE
}
