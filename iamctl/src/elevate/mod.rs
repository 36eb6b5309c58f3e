//! `assume-role`, `list-sessions`, `revoke-session`: the glue between the
//! AWS CLI surface, the store, and the supervisor. Every rule is in
//! `iam::elevation`.

pub mod session;
mod supervisor;
mod sys;

use crate::cli::{AssumeRoleArgs, ListSessionsArgs, RevokeSessionArgs};
use crate::ctx::{Caller, Ctx};
use crate::error::CliError;
use crate::input::{Secret, Secrets};
use crate::procs;
use crate::setuid::Invoker;
use chrono::{DateTime, TimeZone, Utc};
use iam::audit::{
    self, AuditEvent, AuditEventBuilder, AuditLog, DecidingStatement, EventSource, UserIdentity,
    deciding_statements,
};
use iam::config::HostConfig;
use iam::directory::Directory;
use iam::elevation::{self as rules, AssumeRoleQuestion, DurationBounds, RunAs, Verdict};
use iam::names::{RoleName, RoleSessionName, UserName, assumed_role_arn};
use iam::policy::{Decision, NotAuthorized, Policy, Response};
use iam::principal::Principal;
use iam::request::{self, RequestFacts};
use iam::store::{Role, RoleSession, RoleSessionStatus, Store, StoreError};
use serde_json::{Value, json};
use session::{EndReason, SessionDescription, TargetUser};
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `iamctl assume-role`: decide, then supervise the session to its end.
/// Exits with the command's status (254 and one error line on refusal).
pub fn assume_role(invoker: Invoker, config_path: &Path, args: &AssumeRoleArgs) -> ExitCode {
    // (`setuid::harden` has reset the caller's resource limits to init's:
    // the session starts with a fresh login's, not the caller's.)
    match prepare(invoker, config_path, args) {
        Ok(session) => session.run(),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(254)
        }
    }
}

/// An allowed session, ready to start.
struct Prepared {
    config: HostConfig,
    store: Store,
    user: UserName,
    user_arn: String,
    role: RoleName,
    role_arn: String,
    session_name: RoleSessionName,
    session_arn: String,
    duration: i64,
    now: DateTime<Utc>,
    target: TargetUser,
    creds: sys::Credentials,
    program: PathBuf,
    argv0: OsString,
    args: Vec<OsString>,
    command: Vec<String>,
    run_as: RunAs,
    /// The allowed `AssumeRole` event, committed with the session record.
    assumed: AuditEvent,
}

fn validation(e: rules::ElevationError) -> CliError {
    CliError::new(e.code(), e.to_string())
}

/// `assume-role` up to the launch: open config and store once (with the
/// nesting check), resolve what was asked, decide it, and prepare what the
/// supervisor records and runs.
fn prepare(
    invoker: Invoker,
    config_path: &Path,
    args: &AssumeRoleArgs,
) -> Result<Prepared, CliError> {
    rules::check_command(&args.command).map_err(validation)?;
    let ctx = open(invoker, config_path)?;
    let caller = iam_user(&ctx)?;
    let resolved = resolve(&ctx, caller, args)?;
    let allowed = decide(&ctx, caller, &resolved, args)?;
    let assumed = assumed_event(&ctx, caller, &resolved, &allowed, args)?;
    // Only now, for an allowed caller: what exists on this host.
    let (target, creds) = resolve_target(&resolved.run_as)?;
    let (program, argv0, cmd_args) = resolve_command(&args.command, &target)?;
    let user_arn = caller.arn.clone();
    let now = ctx.now;
    let Ctx { config, store, .. } = ctx;
    let Resolved {
        user,
        role,
        session,
        session_name,
        duration,
        run_as,
        ..
    } = resolved;
    Ok(Prepared {
        config,
        store,
        user,
        user_arn,
        role: role.name,
        role_arn: role.arn,
        session_name,
        session_arn: session.arn,
        duration,
        now,
        target,
        creds,
        program,
        argv0,
        args: cmd_args,
        command: args.command.clone(),
        run_as,
        assumed,
    })
}

/// Opens config and store (once, as every iamctl call does) and refuses a
/// nested session: one role at a time, decided before anything else, since
/// inside a session the caller may be root, or a Linux user that is no IAM
/// user.
fn open(invoker: Invoker, config_path: &Path) -> Result<Ctx, CliError> {
    let ctx = Ctx::open(
        invoker,
        config_path,
        "AssumeRole".into(),
        crate::cli::Output::Json,
    )?;
    end_stale_sessions(&ctx.config, &ctx.store, ctx.now);
    if let Some(active) =
        procs::current_role_session(&ctx.store, &invoker.caller_process(), ctx.now)?
    {
        return Err(CliError::new(
            "AccessDenied",
            format!(
                "Already in role session {} ({}, expires {}): one role at a time; exit it first.",
                active.id,
                assumed_role_arn(ctx.store.account_id(), &active.role, &active.session_name),
                rules::iso8601(at(active.expires)),
            ),
        ));
    }
    Ok(ctx)
}

/// The caller, who must be an IAM user.
fn iam_user(ctx: &Ctx) -> Result<&Principal, CliError> {
    match &ctx.caller {
        Caller::User(caller) => Ok(caller),
        Caller::Root => Err(CliError::new(
            "AccessDenied",
            "The account's root user cannot assume a role (as in AWS); run assume-role as an IAM user.",
        )),
        // Refused by `open` already; kept so that no path lets a session nest.
        Caller::AssumedRole(p) => Err(CliError::new(
            "AccessDenied",
            format!(
                "Already in role session {}: one role at a time; exit it first.",
                p.arn
            ),
        )),
    }
}

/// What the caller asked for, resolved against the directory.
struct Resolved {
    user: UserName,
    role: Role,
    trust: Policy,
    /// The session's principal: the role's policies under the session ARN.
    session: Principal,
    session_name: RoleSessionName,
    duration: i64,
    run_as: RunAs,
}

/// Who asks (the caller's user name), which role (its stored entity and
/// trust policy), the session's name and duration, and the run-as user the
/// role's tags name. Refuses what no policy could allow.
fn resolve(ctx: &Ctx, caller: &Principal, args: &AssumeRoleArgs) -> Result<Resolved, CliError> {
    let user = UserName::parse(&caller.name)?;
    let role_name = RoleName::parse(&args.role_name)?;
    // As AWS: a role the caller may not see is a denial, not NoSuchEntity
    // (role names are not for enumerating).
    let role = match ctx.store.get_role(&role_name) {
        Ok(role) => role,
        Err(StoreError::NoSuchEntity { .. }) => {
            let arn = iam::names::role_arn(&ctx.account, &iam::names::IamPath::root(), &role_name);
            let message = NotAuthorized {
                who: "User",
                principal: &caller.arn,
                action: "sts:AssumeRole",
                resource: &arn,
                why: None,
            }
            .to_string();
            audit_denied(ctx, &arn, args, 0, &message, &[]);
            return Err(CliError::new("AccessDenied", message));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(arn) = &args.role_arn
        && *arn != role.arn
    {
        return Err(CliError::new(
            "ValidationError",
            format!(
                "--role-arn {arn} is not the ARN of role {role_name} ({}).",
                role.arn
            ),
        ));
    }
    let session_name = match &args.role_session_name {
        Some(s) => rules::session_name(s),
        None => rules::default_session_name(user.as_str(), ctx.now),
    }
    .map_err(validation)?;
    let duration = DurationBounds::for_role(
        Some(i64::from(role.max_session_duration)),
        ctx.config.elevation.test_min_duration_seconds,
    )
    .duration(args.duration_seconds)
    .map_err(validation)?;
    let run_as = RunAs::from_tags(role.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))
        .map_err(validation)?;
    let trust = role
        .trust_policy()
        .map_err(|e| CliError::new("ServiceFailure", format!("stored trust policy: {e}")))?;
    let session = Principal::for_role_session(&ctx.store, &ctx.account, &role_name, &session_name)?;
    Ok(Resolved {
        user,
        role,
        trust,
        session,
        session_name,
        duration,
        run_as,
    })
}

/// What allowed the session: the statements behind `sts:AssumeRole` and
/// `host:RunAs`.
struct Allowed {
    assume: Response,
    run_as: Response,
}

/// The engine's decision (docs/ARCHITECTURE.md, "Request context"), with
/// the caller's login facts; a fresh code when given, or asked for when
/// only a code is missing. A refusal is audited.
fn decide(
    ctx: &Ctx,
    caller: &Principal,
    r: &Resolved,
    args: &AssumeRoleArgs,
) -> Result<Allowed, CliError> {
    let now = ctx.now;
    let lockout = iam::factors::lockout_rule(&ctx.config.lockout);
    let host_arn = ctx.config.host_arn();
    let denied = |message: &str, deciding: &[DecidingStatement]| {
        audit_denied(ctx, &r.role.arn, args, r.duration, message, deciding);
    };
    // `at`: when the code was read (a prompt may take a while; TOTP is
    // checked against the time of entry).
    // The assume-role path reads the directory and writes the ledger only.
    let (directory, ledger): (&dyn Directory, _) = (&ctx.store, ctx.store.ledger());
    let check_code = |code: &iam::secret::SecretString, serial: Option<&str>, at: DateTime<Utc>| {
        let checked = rules::mfa_devices_for(directory, &r.user, serial).and_then(|devices| {
            rules::check_mfa_code(
                &ledger,
                &r.user,
                &devices,
                code,
                &lockout,
                ctx.config.totp.skew_steps,
                at,
            )
        });
        // The step or failure it queued, handed on at once.
        if let Err(e) = iam::ledger::drain(&ctx.store) {
            crate::say!("warning: the ledger's outbox is not drained: {e}");
        }
        checked
            .map_err(|e| CliError::new("AccessDenied", e.to_string()))
            .inspect_err(|e| denied(&e.message, &[]))
    };
    let login = ctx.login().cloned().unwrap_or_default();
    let mut mfa_at = login.mfa_at;
    if let Some(code) = &args.token_code {
        check_code(&code.as_str().into(), args.serial_number.as_deref(), now)?;
        mfa_at = Some(now.timestamp());
    }
    let ask = |mfa_at: Option<i64>| {
        let facts = RequestFacts {
            now,
            mfa_at,
            source_ip: login.source_ip.as_deref(),
            hostname: &ctx.config.hostname,
            duration_seconds: r.duration,
            session_name: &r.session_name,
        };
        let assume_context = request::assume_role_context(
            &iam::request::principal_context(caller, now),
            &facts,
            r.role
                .tags
                .iter()
                .map(|t| (t.key.as_str(), t.value.as_str())),
        );
        let run_as_context = request::run_as_context(
            &iam::request::principal_context(&r.session, now),
            &facts,
            ctx.config
                .host_tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let q = AssumeRoleQuestion {
            caller_arn: &caller.arn,
            caller: &caller.policies,
            role_arn: &r.role.arn,
            trust: &r.trust,
            assume_context: &assume_context,
            session_arn: &r.session.arn,
            role: &r.session.policies,
            host_arn: &host_arn,
            run_as_context: &run_as_context,
        };
        let verdict = q.decide();
        let message = q.denial_message(&verdict);
        let mfa_helps = !verdict.is_allowed() && q.mfa_would_allow();
        (verdict, message, mfa_helps)
    };
    let (mut verdict, mut message, mfa_helps) = ask(mfa_at);
    if mfa_helps && args.token_code.is_none() {
        let serial = args.serial_number.as_deref();
        let devices = rules::mfa_devices_for(directory, &r.user, serial)
            .map_err(|e| CliError::new("AccessDenied", format!("The role requires MFA. {e}")))?;
        // A code of any of the user's devices, unless --serial-number named one.
        let prompt = match devices.as_slice() {
            [device] => format!("MFA code for {}: ", device.serial_number),
            _ => "MFA code: ".to_owned(),
        };
        let code = Secrets::prompt().read_prompted(Secret::TokenCode, &prompt)?;
        check_code(&code, serial, Utc::now())?;
        (verdict, message, _) = ask(Some(now.timestamp()));
    }
    if let Some(message) = message {
        denied(&message, &deciding_statements(verdict.deciding()));
        return Err(CliError::new("AccessDenied", message));
    }
    match verdict {
        Verdict::Allowed { assume, run_as } => Ok(Allowed { assume, run_as }),
        _ => Err(CliError::new("AccessDenied", "denied")),
    }
}

/// The allowed `AssumeRole` event, committed later with the session record.
fn assumed_event(
    ctx: &Ctx,
    caller: &Principal,
    r: &Resolved,
    allowed: &Allowed,
    args: &AssumeRoleArgs,
) -> Result<AuditEvent, CliError> {
    let mut decided = deciding_statements(&allowed.assume);
    decided.extend(deciding_statements(&allowed.run_as));
    sts_event(
        &ctx.config,
        "AssumeRole",
        UserIdentity::of_principal(caller),
        ctx.now,
        request_parameters(&r.role.arn, &r.session_name, r.duration, &args.command),
    )
    .response_elements(json!({"assumedRoleUser": {"arn": r.session.arn}, "runAs": r.run_as.user}))
    .decided_by_all(&decided)
    .build()
    .map_err(|e| CliError::new("ServiceFailure", format!("audit event: {e}")))
}

impl Prepared {
    fn run(self) -> ExitCode {
        match self.supervise() {
            Ok(code) => code,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(254)
            }
        }
    }

    fn supervise(self) -> Result<ExitCode, CliError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            CliError::new("ServiceFailure", format!("{what}: {e}"))
        };
        // Fully root from here: the caller's uid can no longer signal the
        // supervisor (it would leave the session unsupervised).
        nix::unistd::setresgid(0.into(), 0.into(), 0.into()).map_err(|e| fail("setresgid", &e))?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into()).map_err(|e| fail("setresuid", &e))?;
        nix::sys::prctl::set_dumpable(false).map_err(|e| fail("prctl", &e))?;
        // The session's expiry bounds the supervisor, not the call's alarm
        // (setuid::out_of_reach), which would otherwise reach the command.
        nix::unistd::alarm::cancel();
        supervisor::block_signals().map_err(|e| fail("signals", &e))?;
        let expires = rules::expiration(self.now, self.duration);
        let me = procs::ProcessInfo::read(std::process::id())
            .ok_or_else(|| fail("/proc/self/stat", &"unreadable"))?;
        let identity =
            UserIdentity::assumed_role(self.config.account_id.as_str(), &self.session_arn);
        let params = request_parameters(
            &self.role_arn,
            &self.session_name,
            self.duration,
            &self.command,
        );
        let record = self.record_start(expires, &me, &identity, &params)?;
        deliver(&self.config, &self.store);
        let description = SessionDescription {
            id: record.id.clone(),
            role_name: self.role.to_string(),
            role_arn: self.role_arn.clone(),
            session_name: self.session_name.clone(),
            session_arn: self.session_arn.clone(),
            expires,
        };
        let term = std::env::var("TERM").ok();
        let env = session::session_environment(
            term.as_deref().map(str::as_bytes),
            &self.target,
            &description,
        );
        let cwd = PathBuf::from(&self.target.home);
        let launch = supervisor::Launch {
            program: self.program,
            argv0: self.argv0,
            args: self.args,
            env,
            cwd: if cwd.is_dir() {
                cwd
            } else {
                PathBuf::from("/")
            },
            creds: self.creds,
            session_id: record.id.clone(),
            session_name: self.session_name.to_string(),
            use_cgroup: true,
        };
        let store = &self.store;
        let id = record.id.clone();
        let result = supervisor::supervise(launch, expires, || {
            store
                .ledger()
                .get_role_session(&id)
                .is_ok_and(|s| s.status != RoleSessionStatus::Active)
        });
        let now = Utc::now();
        Self::record_end(
            &self.config,
            store,
            identity,
            params,
            &record.id,
            &result,
            now,
        );
        deliver(&self.config, store);
        match result {
            Ok(o) => Ok(ExitCode::from(u8::try_from(o.status).unwrap_or(255))),
            Err(e) => Err(CliError::new(
                "ServiceFailure",
                format!("cannot run the command: {e}"),
            )),
        }
    }

    /// The session record and its `AssumeRole` and `SessionStarted` events:
    /// one transaction, or no session.
    fn record_start(
        &self,
        expires: DateTime<Utc>,
        me: &procs::ProcessInfo,
        identity: &UserIdentity,
        params: &Value,
    ) -> Result<RoleSession, StoreError> {
        self.store.atomically(|store| {
            let record = store.ledger().create_role_session(
                &self.user,
                &self.role,
                &self.session_name,
                self.now,
                expires,
            )?;
            store.ledger().set_role_session_supervisor(
                &record.id,
                me.pid,
                me.start_ticks,
                self.creds.uid,
            )?;
            audit::queue(&store.ledger(), &self.assumed)?;
            let started = sts_event(
                &self.config,
                "SessionStarted",
                identity.clone(),
                self.now,
                params.clone(),
            )
            .response_elements(json!({
                "sessionId": record.id,
                "userArn": self.user_arn,
                "expiration": rules::iso8601(expires),
                "runAs": self.run_as.user,
                "groups": self.run_as.groups,
            }))
            .build()
            .map_err(|e| StoreError::Audit(e.to_string()))?;
            audit::queue(&store.ledger(), &started)?;
            Ok(record)
        })
    }

    /// The end of the session and its event (`SessionExpired`,
    /// `SessionRevoked` or `SessionEnded`), in one transaction; a failure is
    /// only warned about (the session is over either way). Not a method:
    /// the launch has taken the command out of `self`.
    fn record_end(
        config: &HostConfig,
        store: &Store,
        identity: UserIdentity,
        params: Value,
        id: &str,
        result: &std::io::Result<supervisor::Outcome>,
        now: DateTime<Utc>,
    ) {
        let (status, event_name, code) = match result {
            Ok(o) => match o.reason {
                EndReason::Expired => (RoleSessionStatus::Expired, "SessionExpired", o.status),
                EndReason::Revoked => (RoleSessionStatus::Revoked, "SessionRevoked", o.status),
                EndReason::Exited => (RoleSessionStatus::Ended, "SessionEnded", o.status),
            },
            Err(_) => (RoleSessionStatus::Ended, "SessionEnded", 127),
        };
        // A revoked record already says so; every other end is written here,
        // with its event.
        let failure = result.as_ref().err().map(ToString::to_string);
        let ended = sts_event(config, event_name, identity, now, params)
            .response_elements(json!({"sessionId": id, "exitStatus": code}))
            .error_if(failure.as_deref().map(|m| ("CommandFailed", m)))
            .build();
        let recorded = ended
            .map_err(|e| StoreError::Audit(e.to_string()))
            .and_then(|ended| {
                store.atomically(|store| {
                    store.ledger().end_role_session(id, status, now)?;
                    audit::queue(&store.ledger(), &ended)
                })
            });
        if let Err(e) = recorded {
            eprintln!("warning: the end of session {} not recorded: {e}", id);
        }
    }
}

/// The Linux account a session runs as, and its groups (its own plus the
/// role's `host:Groups`).
fn resolve_target(run_as: &RunAs) -> Result<(TargetUser, sys::Credentials), CliError> {
    let invalid = |m: String| CliError::new("InvalidInput", m);
    let user = nix::unistd::User::from_name(&run_as.user)
        .ok()
        .flatten()
        .ok_or_else(|| {
            invalid(format!(
                "The role's run-as user {} does not exist on this host.",
                run_as.user
            ))
        })?;
    let cname = std::ffi::CString::new(run_as.user.as_str())
        .map_err(|_| invalid("bad run-as user".into()))?;
    let mut groups: Vec<libc::gid_t> = nix::unistd::getgrouplist(&cname, user.gid)
        .map_err(|e| invalid(format!("groups of {}: {e}", run_as.user)))?
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    for name in &run_as.groups {
        let g = nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .ok_or_else(|| {
                invalid(format!(
                    "The role's host:Groups names {name}, which does not exist on this host."
                ))
            })?;
        if !groups.contains(&g.gid.as_raw()) {
            groups.push(g.gid.as_raw());
        }
    }
    let target = TargetUser {
        name: user.name.clone(),
        home: user.dir.to_string_lossy().into_owned(),
        shell: user.shell.to_string_lossy().into_owned(),
    };
    let creds = sys::Credentials {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups,
    };
    Ok((target, creds))
}

/// What to execute: the command found on the secure PATH (never the
/// caller's), or the target's login shell as `-sh`.
fn resolve_command(
    command: &[String],
    target: &TargetUser,
) -> Result<(PathBuf, OsString, Vec<OsString>), CliError> {
    let Some((first, rest)) = command.split_first() else {
        let shell = PathBuf::from(target.login_shell());
        let base = shell
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sh".into());
        return Ok((shell, format!("-{base}").into(), Vec::new()));
    };
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let program = if first.contains('/') {
        Some(PathBuf::from(first)).filter(|p| executable(p))
    } else {
        session::SECURE_PATH
            .split(':')
            .map(|d| Path::new(d).join(first))
            .find(|p| executable(p))
    };
    let program = program.ok_or_else(|| {
        CliError::new(
            "InvalidInput",
            format!(
                "{first}: command not found (searched {})",
                session::SECURE_PATH
            ),
        )
    })?;
    Ok((
        program,
        first.into(),
        rest.iter().map(OsString::from).collect(),
    ))
}

fn at(unix: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(unix, 0).single().unwrap_or_default()
}

fn request_parameters(
    role_arn: &str,
    session_name: &RoleSessionName,
    duration: i64,
    command: &[String],
) -> Value {
    json!({
        "roleArn": role_arn,
        "roleSessionName": session_name.as_str(),
        "durationSeconds": duration,
        "command": command,
    })
}

fn audit_denied(
    ctx: &Ctx,
    role_arn: &str,
    args: &AssumeRoleArgs,
    duration: i64,
    message: &str,
    decided: &[DecidingStatement],
) {
    let Caller::User(p) = &ctx.caller else { return };
    // A refusal: nothing was written, so the event goes straight to the log.
    let event = sts_event(
        &ctx.config,
        "AssumeRole",
        UserIdentity::of_principal(p),
        ctx.now,
        json!({
            "roleArn": role_arn,
            "roleSessionName": args.role_session_name,
            "durationSeconds": duration,
            "command": args.command,
        }),
    )
    .error("AccessDenied", message)
    .decided_by_all(decided);
    let written = AuditLog::new(&ctx.config.audit_log).write(event);
    if let Err(e) = written {
        eprintln!("warning: audit event not written: {e}");
    }
}

/// An `sts` event of this host, written by iamctl.
fn sts_event(
    config: &HostConfig,
    name: &str,
    identity: UserIdentity,
    now: DateTime<Utc>,
    params: Value,
) -> AuditEventBuilder {
    AuditEvent::iamctl(
        EventSource::Sts,
        name,
        identity,
        &config.hostname,
        now,
        params,
    )
}

/// Delivers queued events to the audit log (see `Ctx::deliver_audit`).
fn deliver(config: &HostConfig, store: &Store) {
    if let Err(e) = AuditLog::new(&config.audit_log).deliver_queued(&store.ledger()) {
        eprintln!("warning: audit events not yet delivered: {e}");
    }
}

/// Records whose supervisor is gone are ended (and audited), and whatever
/// is left of any session of this store without a live supervisor (its
/// cgroup, or the Linux session its marker names) is killed — at every
/// sweep, until nothing of it is left. Leftovers of sessions this store does
/// not know are not ours to judge (another store's, on a host with several).
fn end_stale_sessions(config: &HostConfig, store: &Store, now: DateTime<Utc>) {
    let reaped = procs::reap_stale_sessions(store, now, |store, s| {
        let arn = assumed_role_arn(store.account_id(), &s.role, &s.session_name);
        let ended = sts_event(
            config,
            "SessionEnded",
            UserIdentity::assumed_role(config.account_id.as_str(), &arn),
            now,
            json!({"sessionId": s.id}),
        )
        .response_elements(json!({"reason": "supervisor gone"}))
        .build()
        .map_err(|e| StoreError::Audit(e.to_string()))?;
        audit::queue(&store.ledger(), &ended)
    });
    if let Err(e) = reaped {
        eprintln!("warning: stale sessions not ended: {e}");
    }
    deliver(config, store);
    for id in supervisor::leftover_ids() {
        // Asked after the listing: a session's record (with its supervisor)
        // is written before its cgroup and marker exist.
        let Ok(s) = store.ledger().get_role_session(&id) else {
            continue;
        };
        let supervised = s.status == RoleSessionStatus::Active
            && procs::LiveSession::of(&s).is_some_and(|l| l.supervisor_alive());
        if !supervised {
            supervisor::sweep_leftovers(&id);
        }
    }
}

fn session_json(store: &Store, s: &RoleSession) -> Value {
    let acct = store.account_id();
    json!({
        "SessionId": s.id,
        "UserName": s.user.as_str(),
        "RoleName": s.role.as_str(),
        "RoleArn": format!("arn:aws:iam::{acct}:role/{}", s.role),
        "RoleSessionName": s.session_name.as_str(),
        "AssumedRoleArn": assumed_role_arn(acct, &s.role, &s.session_name),
        "StartTime": rules::iso8601(at(s.started)),
        "Expiration": rules::iso8601(at(s.expires)),
        "Status": match s.status {
            RoleSessionStatus::Active => "active",
            RoleSessionStatus::Ended => "ended",
            RoleSessionStatus::Revoked => "revoked",
            RoleSessionStatus::Expired => "expired",
        },
        "SupervisorPid": s.pid,
    })
}

/// `iamctl list-sessions`: the caller's own role sessions, or everyone's
/// with `iam:ListSessions`.
pub fn list_sessions(ctx: &mut Ctx, args: &ListSessionsArgs) -> Result<Value, CliError> {
    end_stale_sessions(&ctx.config, &ctx.store, ctx.now);
    let filter = match (&args.user_name, ctx.caller_user()) {
        (Some(u), Some(me)) if UserName::parse(u)? == me => Some(me),
        (None, Some(me)) if ctx.decision("iam:ListSessions", "*") != Decision::Allowed => Some(me),
        (Some(u), _) => {
            ctx.authorize_with("iam:ListSessions", "*", |_| {})?;
            Some(UserName::parse(u)?)
        }
        // Everyone's: root, or allowed (a role session has no own ones).
        (None, _) => {
            ctx.authorize_with("iam:ListSessions", "*", |_| {})?;
            None
        }
    };
    let sessions = ctx
        .store
        .ledger()
        .list_role_sessions(filter.as_ref(), !args.all)?;
    let list: Vec<Value> = sessions
        .iter()
        .map(|s| session_json(&ctx.store, s))
        .collect();
    Ok(json!({ "Sessions": list }))
}

/// `iamctl revoke-session ID`: the caller's own session, or anyone's with
/// `iam:RevokeSession` on its assumed-role ARN. The supervisor notices
/// within a second and ends every process of the session.
pub fn revoke_session(ctx: &mut Ctx, args: &RevokeSessionArgs) -> Result<Value, CliError> {
    let id = args
        .id
        .as_deref()
        .or(args.session_id.as_deref())
        .unwrap_or_default();
    end_stale_sessions(&ctx.config, &ctx.store, ctx.now);
    let s = ctx.store.ledger().get_role_session(id)?;
    let arn = assumed_role_arn(&ctx.account, &s.role, &s.session_name);
    if ctx.caller_user().as_ref() != Some(&s.user) {
        ctx.authorize_with("iam:RevokeSession", &arn, |_| {})?;
    }
    ctx.commit(
        |_| json!({"sessionId": id, "assumedRoleArn": arn}),
        |s| match s
            .ledger()
            .end_role_session(id, RoleSessionStatus::Revoked, ctx.now)?
        {
            true => Ok(()),
            false => Err(StoreError::InvalidInput(format!(
                "Session {id} is not active."
            ))),
        },
    )?;
    // Nudge a live supervisor so it ends the session now, not at its next
    // poll (it checks the record itself; the signal carries nothing). Through
    // a pidfd taken before the check: a recycled pid is never signalled.
    if let Some(live) = procs::LiveSession::of(&s)
        && let Ok(pid) = i32::try_from(live.supervisor_pid)
        && let Ok(fd) = sys::pidfd_open(pid)
        && live.supervisor_alive()
    {
        let _ = sys::pidfd_send_signal(
            std::os::fd::AsFd::as_fd(&fd),
            nix::sys::signal::Signal::SIGUSR1 as i32,
        );
    }
    let s = ctx.store.ledger().get_role_session(id)?;
    Ok(json!({ "Session": session_json(&ctx.store, &s) }))
}
