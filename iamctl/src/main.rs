//! iamctl: AWS-CLI-shaped administration, self-service and elevation.
//!
//! The setuid pipeline (docs/ARCHITECTURE.md, "iamctl"): harden the process → parse argv → open
//! config and store → authorize the caller with the policy engine → one
//! transaction → audit. Every rule lives in the `iam` crate; this crate maps
//! the AWS CLI's surface onto it.

use iamctl::cli::operation_name;
use iamctl::{
    access_page, analyzer, cli, ctx, doctor, elevate, error, init, output, setuid, setup_host,
    simulate, verbs,
};

use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Command};
use error::CliError;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let invoker = match setuid::harden() {
        Ok(i) => i,
        Err(e) => return fail(&e),
    };
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let verb = matches.subcommand_name().unwrap_or_default().to_owned();
    // Every verb but those that drop privilege opens the store.
    if !store_free(&cli.command)
        && let Err(e) = setuid::out_of_reach(invoker)
    {
        return fail(&e);
    }
    if let Command::AssumeRole(a) = &cli.command {
        let config_path = setuid::config_path(invoker, cli.config.as_deref());
        return elevate::assume_role(invoker, &config_path, a);
    }
    let mut warnings = Vec::new();
    let result = run(invoker, &cli, &verb, &mut warnings);
    // The store is closed: what is left (output to descriptors the caller
    // chose, which may never drain) runs as the caller, who can end it.
    if let Err(e) = setuid::drop_privileges(invoker) {
        return fail(&e);
    }
    match result {
        Ok(value) => {
            for line in &warnings {
                iamctl::say!("{}", output::printable(line));
            }
            let text = match cli.command {
                Command::AccessReport(_) => access_page::render(&value, cli.output),
                _ => output::render(&value, cli.output, &operation_name(&verb)),
            };
            let mut out = std::io::stdout().lock();
            if out
                .write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            if analyzer::fails(&cli.command, &value) {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// The verbs that read no store and drop privilege before anything else:
/// they take only what their caller gives them.
fn store_free(command: &Command) -> bool {
    matches!(
        command,
        Command::Completion(_)
            | Command::Man(_)
            | Command::SimulateCustomPolicy(_)
            | Command::ValidatePolicy(_)
            | Command::CheckNoNewAccess(_)
            | Command::CheckAccessNotGranted(_)
    )
}

/// Runs the verb; `warnings` receives what a successful write has to say
/// besides its output (a policy's validation findings), printed after
/// privileges are dropped.
fn run(
    invoker: setuid::Invoker,
    cli: &Cli,
    verb: &str,
    warnings: &mut Vec<String>,
) -> Result<serde_json::Value, CliError> {
    if cli.output == cli::Output::Html && !matches!(cli.command, Command::AccessReport(_)) {
        return Err(CliError::new(
            "ValidationError",
            "--output html is access-report's alone; use json, text or table.",
        ));
    }
    let config_path = setuid::config_path(invoker, cli.config.as_deref());
    if store_free(&cli.command) {
        setuid::drop_privileges(invoker)?;
    }
    let files = iamctl::input::ParamFiles::Read;
    match &cli.command {
        Command::Completion(a) => {
            let mut cmd = Cli::command();
            clap_complete::generate(a.shell, &mut cmd, "iamctl", &mut std::io::stdout());
            Ok(serde_json::Value::Null)
        }
        Command::Man(a) => man(a.out_dir.as_deref()),
        Command::SimulateCustomPolicy(args) => simulate::run_custom(args, files),
        Command::ValidatePolicy(args) => analyzer::validate(args, files),
        Command::CheckNoNewAccess(args) => analyzer::no_new_access(args, files),
        Command::CheckAccessNotGranted(args) => analyzer::access_not_granted(args, files),
        Command::Init(a) => init::run(invoker, &config_path, a),
        Command::SetupHost(a) => setup_host::run(invoker, &config_path, a),
        Command::Doctor => doctor::run(invoker, &config_path),
        command => {
            let mut ctx = ctx::Ctx::open(invoker, &config_path, operation_name(verb), cli.output)?;
            let value = match command {
                Command::SimulatePrincipalPolicy(a) => verbs::simulate_principal(&mut ctx, a),
                Command::ListSessions(a) => elevate::list_sessions(&mut ctx, a),
                Command::RevokeSession(a) => elevate::revoke_session(&mut ctx, a),
                other => verbs::run(&mut ctx, other),
            };
            warnings.append(&mut ctx.warnings);
            value
        }
    }
}

/// The one error line, `Code: message`, and a non-zero exit (254, the AWS
/// CLI's code for a service error).
fn fail(e: &CliError) -> ExitCode {
    iamctl::say!("{e}");
    ExitCode::from(254)
}

/// `iamctl man`: iamctl.1 to stdout, or iamctl.1 and iamctl-VERB.1 per verb
/// into a directory (what packaging installs).
fn man(out_dir: Option<&std::path::Path>) -> Result<serde_json::Value, CliError> {
    let cmd = Cli::command();
    let io =
        |e: std::io::Error| CliError::new("ServiceFailure", format!("cannot write man page: {e}"));
    match out_dir {
        None => {
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(io)?;
        }
        Some(dir) => setuid::as_invoker(|| {
            std::fs::create_dir_all(dir)?;
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
            std::fs::write(dir.join("iamctl.1"), page)?;
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                let name = format!("iamctl-{}", sub.get_name());
                let sub = sub.clone().name(name.clone());
                let mut page = Vec::new();
                clap_mangen::Man::new(sub).render(&mut page)?;
                std::fs::write(dir.join(format!("{name}.1")), page)?;
            }
            Ok(())
        })
        .map_err(io)?,
    }
    Ok(serde_json::Value::Null)
}
