//! `iam-server`: serve the directory (the default), `bootstrap` its first
//! administrator, issue a host's `join-token` or `revoke-host`. Everything
//! else is in the library.

use clap::{Parser, Subcommand};
use iam_server::app::App;
use iam_server::config::{DEFAULT_SERVER_CONFIG_PATH, ServerConfig};
use iam_server::{bootstrap, front, hosts, tls};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "iam-server",
    version,
    about = "The fleet's IAM directory, administered with the AWS CLI"
)]
struct Cli {
    /// server.toml
    #[arg(long, default_value = DEFAULT_SERVER_CONFIG_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the IAM, STS and CloudTrail APIs over HTTPS (the default).
    Serve,
    /// Create the directory's first administrator: an IAM user with an
    /// administrator policy and an access key, printed once.
    Bootstrap {
        #[arg(long, default_value = "iam-admin")]
        user_name: String,
    },
    /// Issue a one-time, expiring token that enrols one host with an
    /// instance profile (`iamctl setup-host --join … --token TOKEN`). The
    /// token is printed once; only its SHA-256 is stored.
    JoinToken {
        #[arg(long)]
        instance_profile_name: String,
        /// How long the token may be used: "900s", "15m", "1h", at most "7d".
        #[arg(long, default_value = hosts::DEFAULT_TOKEN_LIFETIME)]
        expires_in: String,
    },
    /// Revoke an enrolled host: delete its credential (its next call is refused).
    RevokeHost { hostname: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match ServerConfig::load(&cli.config) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Bootstrap { user_name } => match bootstrap::run(&config, &user_name) {
            Ok(printed) => {
                println!("{printed}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::JoinToken {
            instance_profile_name,
            expires_in,
        } => match hosts::issue_join_token(
            &config,
            &instance_profile_name,
            &expires_in,
            chrono::Utc::now(),
        ) {
            Ok((token, expiration)) => {
                eprintln!(
                    "iam-server: join token for instance profile {instance_profile_name}, \
                     usable once until {}",
                    expiration.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                println!("{}", token.expose());
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::RevokeHost { hostname } => match hosts::revoke_host(&config, &hostname) {
            Ok(()) => {
                eprintln!("iam-server: host {hostname} revoked");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Serve => serve(config),
    }
}

fn serve(config: ServerConfig) -> ExitCode {
    let app = match App::open(config) {
        Ok(app) => Arc::new(app),
        Err(e) => return fail(&e),
    };
    let identity = match tls::load_or_generate(&app.config) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    if identity.generated {
        eprintln!("iam-server: generated a self-signed TLS certificate");
    }
    eprintln!(
        "iam-server: TLS certificate SHA-256 fingerprint {}",
        identity.fingerprint
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(app.config.listen).await?;
        eprintln!(
            "iam-server: listening on https://{}",
            listener.local_addr()?
        );
        tokio::spawn(front::watch_changes(Arc::clone(&app)));
        let handler = move |request, peer| front::handle(Arc::clone(&app), request, peer);
        tls::serve(listener, identity.config, handler, shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// SIGTERM (systemd) or SIGINT: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        // Without signal handlers, run until killed.
        _ => std::future::pending::<()>().await,
    }
    eprintln!("iam-server: shutting down");
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("iam-server: {e}");
    ExitCode::FAILURE
}
