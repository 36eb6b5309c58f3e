//! The rules of `iamctl setup-host` and `iamctl doctor`, as pure functions
//! over file contents and command output.
//!
//! What a login needs from the host (README.md, "The package and the host"): `extrausers` in the
//! `passwd` and `group` lines of nsswitch.conf (sshd calls `getpwnam()`
//! before PAM runs), `pam_iam.so` in the auth, account and session stacks of
//! sshd and login, and sshd speaking keyboard-interactive through PAM.
//!
//! The PAM stack is changed only through the packaged pam-auth-update
//! profile (`/usr/share/pam-configs/pam_iam`), never by editing
//! `/etc/pam.d` files: pam-auth-update refuses to overwrite an admin's
//! local edits of `common-*`, and `pam-auth-update --package --remove`
//! undoes it exactly on package removal. The profile puts a
//! `pam_localuser.so` guard in front of the account and session lines of
//! `pam_iam.so`, so root and every account in `/etc/passwd` skip them; in
//! auth, pam_iam itself leaves a local account to the rest of the stack
//! (`PAM_IGNORE`, no prompt, before the config or store is read, so a
//! broken store can never lock them out), and a guard there would skip its
//! setcred too. IAM users (only in extrausers) meet `pam_iam.so`, which
//! fails closed for them.
//!
//! Nothing here reads a file or runs a command; the caller (`iamctl`)
//! gathers the inputs, and prints and applies what these functions decide.

use iam::local_accounts::{IamAccountKind, Shadowing};
use iam::trust::{Contents, Problem, TrustError};
use std::fmt;
use std::path::{Path, PathBuf};

/// The pam-auth-update profile name (`/usr/share/pam-configs/pam_iam`).
pub const PAM_PROFILE: &str = "pam_iam";
/// The module file name as PAM lines name it.
pub const PAM_MODULE: &str = "pam_iam.so";
/// The sshd drop-in `setup-host --ssh` writes (Debian 12's sshd_config
/// includes `sshd_config.d/*.conf` first, and sshd keeps the first value it
/// reads, so these lines win over the defaults below the Include).
pub const SSHD_DROPIN_PATH: &str = "/etc/ssh/sshd_config.d/pam_iam.conf";
/// First line of the drop-in: how the package's postrm recognises its own
/// file before removing it on purge.
pub const SSHD_DROPIN_HEADER: &str = "# Written by `iamctl setup-host --ssh` (package pam-iam).";

/// The outcome of one check, printed as one line (and a fix when not OK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Works, but weaker or noisier than it should be.
    Warn,
    /// A login (or the admin's safety) depends on fixing this.
    Fail,
}

/// One line of `iamctl doctor` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub status: Status,
    /// What was checked and what was found.
    pub what: String,
    /// The command or edit that fixes a Warn/Fail.
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(what: impl Into<String>) -> Self {
        Self {
            status: Status::Ok,
            what: what.into(),
            fix: None,
        }
    }
    pub fn fail(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            status: Status::Fail,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
    pub fn warn(what: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            status: Status::Warn,
            what: what.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.status {
            Status::Ok => "OK  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        };
        write!(f, "{tag} {}", self.what)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n     fix: {fix}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// nsswitch.conf

/// The databases IAM users and groups are published in.
const NSS_DATABASES: [&str; 2] = ["passwd", "group"];

/// Whether the `db:` line of nsswitch.conf lists `extrausers`.
fn nss_line_sources(text: &str, db: &str) -> Option<Vec<String>> {
    text.lines().find_map(|line| {
        let body = line.split('#').next().unwrap_or("");
        let (name, sources) = body.split_once(':')?;
        (name.trim() == db).then(|| sources.split_whitespace().map(str::to_owned).collect())
    })
}

/// Checks `passwd` and `group` list `extrausers`.
pub fn check_nsswitch(text: &str) -> Vec<Check> {
    NSS_DATABASES
        .iter()
        .map(|db| match nss_line_sources(text, db) {
            Some(s) if s.iter().any(|x| x == "extrausers") => {
                Check::ok(format!("nsswitch.conf: {db} uses extrausers"))
            }
            _ => Check::fail(
                format!(
                    "nsswitch.conf: {db} does not use extrausers (IAM users have no Linux account)"
                ),
                "iamctl setup-host",
            ),
        })
        .collect()
}

/// nsswitch.conf with `extrausers` added to `passwd` and `group`, right
/// after `files` (or `compat`) so local accounts still come first and no
/// `[NOTFOUND=return]` action can stop the lookup before it; `None` when
/// both already have it. A missing line is added as `db: files extrausers`.
/// Only the edited lines change, and only by inserting ` extrausers`, so
/// the package's postrm can undo it with a `sed` that deletes that word.
pub fn nsswitch_add_extrausers(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 32);
    let mut missing: Vec<&str> = NSS_DATABASES.to_vec();
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let (content, newline) = match line.strip_suffix('\n') {
            Some(c) => (c, "\n"),
            None => (line, ""),
        };
        let body = content.split('#').next().unwrap_or("");
        let db = body.split_once(':').map(|(n, _)| n.trim());
        match db {
            Some(db) if missing.contains(&db) => {
                missing.retain(|d| *d != db);
                let (new, did) = insert_extrausers(content);
                changed |= did;
                out.push_str(&new);
                out.push_str(newline);
            }
            _ => out.push_str(line),
        }
    }
    for db in missing {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "{db}:{:width$}files extrausers\n",
            "",
            width = 16 - db.len() - 1
        ));
        changed = true;
    }
    changed.then_some(out)
}

/// Inserts ` extrausers` into one `db: sources` line (comment kept).
fn insert_extrausers(line: &str) -> (String, bool) {
    let (body, comment) = match line.find('#') {
        Some(i) => line.split_at(i),
        None => (line, ""),
    };
    if body.split_whitespace().any(|w| w == "extrausers") {
        return (line.to_owned(), false);
    }
    // After the `files`/`compat` word (and its `[...]` action, if any).
    let mut insert_at = None;
    let mut pos = 0;
    let words: Vec<(usize, &str)> = body
        .split_whitespace()
        .map(|w| {
            let start = body[pos..].find(w).map_or(pos, |i| pos + i);
            pos = start + w.len();
            (start, w)
        })
        .collect();
    for (i, (start, w)) in words.iter().enumerate() {
        let bare = w.rsplit(':').next().unwrap_or(w);
        if bare == "files" || bare == "compat" {
            let mut end = start + w.len();
            if let Some((s, next)) = words.get(i + 1) {
                if next.starts_with('[') {
                    end = s + next.len();
                }
            }
            insert_at = Some(end);
            break;
        }
    }
    let trimmed_end = body.trim_end().len();
    let at = insert_at.unwrap_or(trimmed_end);
    let mut new = String::with_capacity(line.len() + 11);
    new.push_str(&body[..at]);
    new.push_str(" extrausers");
    new.push_str(&body[at..]);
    new.push_str(comment);
    (new, true)
}

// ---------------------------------------------------------------------------
// PAM stacks

/// One effective line of a PAM service after includes are expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PamLine {
    /// `auth`, `account`, `session`, `password` (leading `-` stripped).
    pub kind: String,
    /// `required`, `[success=1 default=ignore]`, …
    pub control: String,
    /// The module as written (`pam_unix.so` or an absolute path).
    pub module: String,
    pub args: Vec<String>,
    /// The file the line came from (for messages).
    pub origin: String,
}

impl PamLine {
    /// The module's file name, whatever path it was written with.
    pub fn module_name(&self) -> &str {
        self.module.rsplit('/').next().unwrap_or(&self.module)
    }
}

/// Includes deeper than this are a loop or a mistake.
const MAX_PAM_INCLUDE_DEPTH: usize = 8;

/// Expands the PAM service `service` into its effective lines, following
/// `@include FILE` (all types) and `TYPE include|substack FILE` (that type).
/// `read` returns the text of a file in /etc/pam.d by name, `None` if
/// absent. An absent include is an error: PAM would fail that stack.
pub fn expand_pam_service(
    service: &str,
    read: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<PamLine>, String> {
    let mut out = Vec::new();
    expand_into(service, None, read, 0, &mut out)?;
    Ok(out)
}

fn expand_into(
    file: &str,
    only_kind: Option<&str>,
    read: &dyn Fn(&str) -> Option<String>,
    depth: usize,
    out: &mut Vec<PamLine>,
) -> Result<(), String> {
    if depth > MAX_PAM_INCLUDE_DEPTH {
        return Err(format!("/etc/pam.d/{file}: includes nested too deeply"));
    }
    let text = read(file).ok_or_else(|| format!("/etc/pam.d/{file}: not found"))?;
    for raw in logical_lines(&text) {
        let mut words = tokenize(&raw);
        if words.is_empty() {
            continue;
        }
        if words[0] == "@include" {
            let target = words
                .get(1)
                .ok_or_else(|| format!("/etc/pam.d/{file}: @include without a file"))?;
            expand_into(target, only_kind, read, depth + 1, out)?;
            continue;
        }
        let kind = words.remove(0).trim_start_matches('-').to_ascii_lowercase();
        if only_kind.is_some_and(|k| k != kind) {
            continue;
        }
        if words.len() < 2 {
            return Err(format!("/etc/pam.d/{file}: malformed line {raw:?}"));
        }
        let control = words.remove(0);
        let module = words.remove(0);
        if control == "include" || control == "substack" {
            expand_into(&module, Some(&kind), read, depth + 1, out)?;
            continue;
        }
        out.push(PamLine {
            kind,
            control,
            module,
            args: words,
            origin: format!("/etc/pam.d/{file}"),
        });
    }
    Ok(())
}

/// Lines without comments, with `\`-continued lines joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        if let Some(cont) = line.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        if !current.trim().is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        current.clear();
    }
    if !current.trim().is_empty() {
        lines.push(current);
    }
    lines
}

/// PAM's words: whitespace-separated, except `[...]` stays one word.
fn tokenize(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    for c in line.chars() {
        match c {
            '[' => {
                depth += 1;
                word.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                word.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            // Inside `[...]`, any run of whitespace is one space.
            c if c.is_whitespace() => {
                if !word.ends_with(' ') {
                    word.push(' ');
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether a control value makes a module's failure fail the stack.
fn control_fails_on_error(control: &str) -> bool {
    match control {
        "required" | "requisite" => true,
        "sufficient" | "optional" => false,
        c => {
            let inner = c.trim_start_matches('[').trim_end_matches(']');
            inner
                .split_whitespace()
                .any(|kv| matches!(kv.split_once('='), Some(("default", "bad" | "die"))))
        }
    }
}

/// Whether a control value can end the stack with success before later
/// lines run (`sufficient`, `success=done`).
fn control_may_succeed_early(control: &str) -> bool {
    control == "sufficient" || control.contains("success=done")
}

/// Checks the effective stack of one PAM service (`sshd`, `login`) for what
/// pam_iam needs: the module in auth and account, reachable, the account
/// line guarded by `pam_localuser.so` (root and local users never depend on
/// it) and the auth line not (see the module doc), and an account line
/// whose failure denies the login.
pub fn check_pam_stack(service: &str, lines: &[PamLine]) -> Vec<Check> {
    let mut checks = Vec::new();
    let of = |kind: &str| -> Vec<&PamLine> { lines.iter().filter(|l| l.kind == kind).collect() };
    let enable_fix = "pam-auth-update --enable pam_iam (or: iamctl setup-host)";

    for kind in ["auth", "account"] {
        let stack = of(kind);
        let Some(at) = stack.iter().position(|l| l.module_name() == PAM_MODULE) else {
            checks.push(Check::fail(
                format!("pam.d/{service}: {kind} stack has no {PAM_MODULE}"),
                enable_fix,
            ));
            continue;
        };
        let before = &stack[..at];
        let guarded = before.iter().any(|l| l.module_name() == "pam_localuser.so");
        if let Some(stop) = before.iter().find(|l| {
            (l.module_name() == "pam_deny.so" && control_fails_on_error(&l.control))
                || (kind == "account" && control_may_succeed_early(&l.control))
        }) {
            checks.push(Check::fail(
                format!(
                    "pam.d/{service}: {kind}: {} ({}) comes before {PAM_MODULE}, which may never run",
                    stop.module, stop.origin
                ),
                "let pam-auth-update manage the stack: pam-auth-update --force --enable pam_iam (this discards local edits of common-*)",
            ));
            continue;
        }
        let line = stack[at];
        if kind == "account" && !control_fails_on_error(&line.control) {
            checks.push(Check::fail(
                format!(
                    "pam.d/{service}: account line of {PAM_MODULE} is `{}`: a policy denial would not stop the login",
                    line.control
                ),
                "use the packaged profile: pam-auth-update --enable pam_iam",
            ));
            continue;
        }
        if kind == "auth" {
            // pam_iam leaves a local account to the rest of the stack by
            // itself (PAM_IGNORE, no prompt); a guard here would also skip
            // its setcred, since pam_localuser's setcred succeeds for
            // everyone, and with it the [group_map] groups.
            checks.push(match guarded {
                false => Check::ok(format!(
                    "pam.d/{service}: auth: {PAM_MODULE} in place, local accounts left to the rest of the stack"
                )),
                true => Check::warn(
                    format!(
                        "pam.d/{service}: auth: a pam_localuser.so guard before {PAM_MODULE} skips its setcred too: [group_map] groups are never granted"
                    ),
                    "use the packaged profile: pam-auth-update --enable pam_iam (pam_iam ignores local accounts itself)",
                ),
            });
        } else if guarded {
            checks.push(Check::ok(format!(
                "pam.d/{service}: {kind}: {PAM_MODULE} in place, local accounts skip it (pam_localuser)"
            )));
        } else {
            checks.push(Check::warn(
                format!(
                    "pam.d/{service}: {kind}: {PAM_MODULE} is not behind a pam_localuser.so guard; root depends on it"
                ),
                "use the packaged profile: pam-auth-update --enable pam_iam",
            ));
        }
    }
    if !of("session").iter().any(|l| l.module_name() == PAM_MODULE) {
        // sshd names a publickey-only login's key to PAM only in the
        // session stage: that is where pam_iam decides such a login
        // (iam/src/login/ssh.rs), so without it a key would be enough.
        let what = format!(
            "pam.d/{service}: session stack has no {PAM_MODULE} (no Login/Logout audit events)"
        );
        checks.push(match service {
            "sshd" => Check::fail(
                format!("{what}; IAM users' key logins are decided there"),
                enable_fix,
            ),
            _ => Check::warn(what, enable_fix),
        });
    }
    checks
}

/// Whether the pam-auth-update managed `common-auth` already has pam_iam,
/// i.e. the profile is enabled.
pub fn pam_profile_enabled(common_auth: &str) -> bool {
    logical_lines(common_auth).iter().any(|l| {
        tokenize(l)
            .iter()
            .any(|w| w.rsplit('/').next() == Some(PAM_MODULE))
    })
}

// ---------------------------------------------------------------------------
// sshd

/// The drop-in `setup-host --ssh` writes. It changes no authentication
/// method: publickey logins (root's included) work as before, and
/// keyboard-interactive lets PAM ask for `Password:` and `Verification
/// code:`. sshd keeps the first `AuthorizedKeysFile` it reads and reads
/// drop-ins first, so the drop-in's line is everything sshd will read:
/// the files sshd used before (`sshd_keys`, the effective value `sshd -T`
/// reports, [`admin_authorized_keys`]) and then IAM users' published keys,
/// `DIR/%U` (`iam::publish::ssh_keys`: by uid). Removing the drop-in
/// (purge) gives sshd its own value back, untouched. An IAM user's own
/// `~/.ssh/authorized_keys` opens nothing (pam_iam takes only active IAM
/// keys). MFA for key logins is required by policy (`host:AuthMethod`,
/// `aws:MultiFactorAuthPresent`) or `[login] require_mfa`.
pub fn sshd_dropin(authorized_keys_dir: &Path, sshd_keys: &str) -> String {
    let mut files = admin_authorized_keys(sshd_keys, authorized_keys_dir);
    files.push(published_keys_file(authorized_keys_dir));
    format!(
        "{SSHD_DROPIN_HEADER}\n\
         # Removed when the package is purged. pam_iam needs PAM and keyboard-interactive\n\
         # (password + TOTP prompts); other authentication settings are left as they are.\n\
         UsePAM yes\n\
         KbdInteractiveAuthentication yes\n\
         # The files sshd read before setup-host, then IAM users' active SSH public keys,\n\
         # published by iamctl by uid ([accounts] authorized_keys_dir).\n\
         AuthorizedKeysFile {}\n",
        files.join(" ")
    )
}

/// sshd's compiled-in `AuthorizedKeysFile` (sshd_config(5)).
pub const SSHD_DEFAULT_AUTHORIZED_KEYS: &str = ".ssh/authorized_keys .ssh/authorized_keys2";

/// sshd's `AuthorizedKeysFile` entry for the keys iamctl publishes: the
/// file named by the uid of the user logging in (`%U`), never by name.
pub fn published_keys_file(authorized_keys_dir: &Path) -> String {
    format!("{}/%U", authorized_keys_dir.display())
}

/// The by-name entry of the first layout (`%u`): a local account made
/// later under an IAM user's name would have read that user's file.
fn by_name_keys_file(authorized_keys_dir: &Path) -> String {
    format!("{}/%u", authorized_keys_dir.display())
}

/// The files sshd reads of its own, from the effective `AuthorizedKeysFile`
/// (`sshd -T`), without ours (either layout: a rerun, or the migration
/// from `%u`). `none` is no file.
pub fn admin_authorized_keys(sshd_keys: &str, authorized_keys_dir: &Path) -> Vec<String> {
    let ours = [
        published_keys_file(authorized_keys_dir),
        by_name_keys_file(authorized_keys_dir),
    ];
    sshd_keys
        .split_whitespace()
        .filter(|f| *f != "none" && !ours.iter().any(|o| o == f))
        .map(str::to_owned)
        .collect()
}

/// One setting of `sshd -T` output (lower-case keys, `key value` lines).
pub fn sshd_setting(sshd_t: &str, key: &str) -> Option<String> {
    sshd_t.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        k.eq_ignore_ascii_case(key).then(|| v.trim().to_owned())
    })
}

/// Whether sshd can take `dir` in `AuthorizedKeysFile`: absolute, and
/// without the whitespace that separates its values or the `%` of its
/// tokens.
fn usable_in_sshd_config(dir: &Path) -> bool {
    let text = dir.to_string_lossy();
    dir.is_absolute()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c == '%' || c == '"')
}

/// Whether the main sshd_config includes the drop-in directory before any
/// `Match` block (lines inside a Match apply only to matching sessions).
pub fn sshd_includes_dropins(main_config: &str) -> bool {
    for line in main_config.lines() {
        let mut words = line.split('#').next().unwrap_or("").split_whitespace();
        let Some(key) = words.next() else { continue };
        if key.eq_ignore_ascii_case("match") {
            return false;
        }
        if key.eq_ignore_ascii_case("include")
            && words.any(|w| {
                w.starts_with("/etc/ssh/sshd_config.d/") || w.starts_with("sshd_config.d/")
            })
        {
            return true;
        }
    }
    false
}

/// Checks sshd's effective settings (the output of `sshd -T`).
pub fn check_sshd_effective(sshd_t: &str) -> Vec<Check> {
    let get = |key: &str| sshd_setting(sshd_t, key);
    let fix = "iamctl setup-host --ssh, then systemctl reload ssh";
    let mut checks = Vec::new();
    match get("usepam").as_deref() {
        Some("yes") => checks.push(Check::ok("sshd: UsePAM yes")),
        other => checks.push(Check::fail(
            format!("sshd: UsePAM is {}", other.unwrap_or("unset")),
            fix,
        )),
    }
    // OpenSSH < 8.7 calls it ChallengeResponseAuthentication.
    let kbd =
        get("kbdinteractiveauthentication").or_else(|| get("challengeresponseauthentication"));
    match kbd.as_deref() {
        Some("yes") => checks.push(Check::ok("sshd: KbdInteractiveAuthentication yes")),
        other => checks.push(Check::fail(
            format!(
                "sshd: KbdInteractiveAuthentication is {} (no password + TOTP prompts)",
                other.unwrap_or("unset")
            ),
            fix,
        )),
    }
    if let Some(methods) = get("authenticationmethods") {
        let usable = methods == "any"
            || methods.split_whitespace().any(|list| {
                list.split(',')
                    .any(|m| m.starts_with("keyboard-interactive"))
            });
        if usable {
            checks.push(Check::ok(format!("sshd: AuthenticationMethods {methods}")));
        } else {
            checks.push(Check::fail(
                format!("sshd: AuthenticationMethods {methods} never asks keyboard-interactive"),
                "add keyboard-interactive to AuthenticationMethods in /etc/ssh/sshd_config",
            ));
        }
    }
    if get("passwordauthentication").as_deref() == Some("no") && kbd.as_deref() == Some("yes") {
        checks.push(Check::warn(
            "sshd: PasswordAuthentication no, but keyboard-interactive lets local users with a password log in through pam_unix",
            "lock local passwords (passwd -l USER) or limit keyboard-interactive with a Match block",
        ));
    }
    checks
}

/// Whether sshd reads the IAM users' keys iamctl publishes in
/// `authorized_keys_dir` (once `setup-host --ssh` made it), by uid: `None`
/// when nothing is published yet.
pub fn check_sshd_keys(sshd_t: &str, dir: &Path, published: bool) -> Option<Check> {
    if !published {
        return None;
    }
    let want = published_keys_file(dir);
    let files = sshd_setting(sshd_t, "authorizedkeysfile");
    let has = |f: &str| {
        files
            .as_deref()
            .is_some_and(|files| files.split_whitespace().any(|x| x == f))
    };
    Some(if has(&want) {
        Check::ok(format!(
            "sshd: AuthorizedKeysFile reads IAM users' keys by uid ({want})"
        ))
    } else if has(&by_name_keys_file(dir)) {
        Check::warn(
            format!(
                "sshd: AuthorizedKeysFile reads IAM users' keys by name ({}): a local account made later under an IAM user's name would read that user's keys",
                by_name_keys_file(dir)
            ),
            "iamctl setup-host --ssh (publishes the keys by uid and points sshd at them)",
        )
    } else {
        Check::warn(
            format!(
                "sshd: AuthorizedKeysFile is {}, so IAM users' SSH public keys in {} are not used",
                files.as_deref().unwrap_or("unset"),
                dir.display()
            ),
            "iamctl setup-host --ssh",
        )
    })
}

/// `iam::trust`'s verdict on the published keys directory, which sshd
/// reads as any user's authorized keys: a FAIL here is iamctl's refusal to
/// publish there.
pub fn check_keys_dir(dir: &Path, verdict: Result<(), TrustError>) -> Check {
    let shown = dir.display();
    match verdict {
        Ok(()) => Check::ok(format!(
            "{shown}: root-owned, nobody else may write it (published SSH public keys)"
        )),
        Err(e) => Check::fail(
            format!("{e} (iamctl refuses to publish SSH public keys there)"),
            trust_fix(&e, &shown.to_string()),
        ),
    }
}

// ---------------------------------------------------------------------------
// iam.toml, files, clock

/// iam.toml with `[login] require_mfa = true`; `None` when already so.
/// Only that line changes (or is added right after `[login]`, or a
/// `[login]` table is appended), so comments and layout survive.
pub fn set_require_mfa(config: &str) -> Option<String> {
    let mut out = String::with_capacity(config.len() + 40);
    let mut in_login = false;
    let mut done = false;
    let mut changed = false;
    for line in config.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_login = trimmed.split('#').next().map(str::trim) == Some("[login]");
            out.push_str(line);
            if in_login && !done && !config_has_key_in_login(config) {
                if !line.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str("require_mfa = true                   # set by iamctl setup-host --require-mfa\n");
                done = true;
                changed = true;
            }
            continue;
        }
        if in_login && !done && key_of(trimmed) == Some("require_mfa") {
            done = true;
            let value = trimmed
                .split_once('=')
                .map(|(_, v)| v.split('#').next().unwrap_or("").trim());
            if value == Some("true") {
                out.push_str(line);
            } else {
                out.push_str("require_mfa = true                   # set by iamctl setup-host --require-mfa\n");
                changed = true;
            }
            continue;
        }
        out.push_str(line);
    }
    if !done {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("\n[login]\nrequire_mfa = true                   # set by iamctl setup-host --require-mfa\n");
        changed = true;
    }
    changed.then_some(out)
}

fn key_of(line: &str) -> Option<&str> {
    if line.starts_with('#') {
        return None;
    }
    line.split_once('=').map(|(k, _)| k.trim())
}

fn config_has_key_in_login(config: &str) -> bool {
    let mut in_login = false;
    config.lines().any(|l| {
        let t = l.trim();
        if t.starts_with('[') {
            in_login = t.split('#').next().map(str::trim) == Some("[login]");
            return false;
        }
        in_login && key_of(t) == Some("require_mfa")
    })
}

/// Owner and mode of a file, as `stat` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    pub uid: u32,
    pub mode: u32,
}

/// The host's files whose trust `iam::trust` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFile {
    Config,
    /// Password hashes and TOTP seeds.
    Store,
    /// Absent until the first event.
    AuditLog,
}

impl HostFile {
    pub fn contents(self) -> Contents {
        match self {
            Self::Config => Contents::Shared,
            Self::Store | Self::AuditLog => Contents::Private,
        }
    }
}

/// `iam::trust`'s verdict on `path` as a doctor line: the very rule the
/// PAM module and the setuid iamctl apply, so a FAIL here is a refusal
/// there. The fix names the file or directory at fault.
pub fn check_host_file(file: HostFile, path: &Path, verdict: Result<(), TrustError>) -> Check {
    let shown = path.display();
    let Err(e) = verdict else {
        return Check::ok(match file.contents() {
            Contents::Shared => format!("{shown}: root-owned, nobody else may write it"),
            Contents::Private => format!("{shown}: root-only"),
        });
    };
    let fix = match &e {
        TrustError::Missing { .. } if file == HostFile::AuditLog => {
            return Check::ok(format!("{shown}: no events yet"));
        }
        TrustError::Missing { .. } => "iamctl init".to_owned(),
        _ => trust_fix(&e, &shown.to_string()),
    };
    Check::fail(format!("{e} (pam_iam and iamctl refuse it)"), fix)
}

/// What fixes what `iam::trust` refused, naming the file or directory at
/// fault.
fn trust_fix(e: &TrustError, shown: &str) -> String {
    match e {
        TrustError::Missing { path } => format!("create {}", path.display()),
        TrustError::Io { .. } => format!("make {shown} readable by root"),
        TrustError::Untrusted { path: at, problem } => {
            let at = at.display();
            match problem {
                Problem::Symlink => format!("replace the symlink {at} with what it points to"),
                Problem::NotRegularFile => format!("replace {at} with a regular file"),
                Problem::NotDirectory => format!("replace {at} with a directory"),
                Problem::Owner { .. } => format!("chown root: {at}"),
                Problem::Writable { .. } => format!("chmod go-w {at}"),
                Problem::NotPrivate { .. } => format!("chmod 0600 {at}"),
                Problem::ParentComponent => format!("name {at} without `..` in iam.toml"),
            }
        }
    }
}

/// `iamctl` must be setuid root for non-root IAM users (change-password,
/// their MFA device, assume-role); each of their calls is policy-checked.
pub fn check_iamctl_setuid(path: &str, meta: Option<FileMeta>) -> Check {
    match meta {
        Some(m) if m.uid == 0 && m.mode & 0o4000 != 0 => {
            Check::ok(format!("{path}: setuid root (IAM users can use it)"))
        }
        _ => Check::warn(
            format!(
                "{path}: not setuid root; IAM users cannot change their password or assume roles"
            ),
            format!("chown root: {path} && chmod 4755 {path}"),
        ),
    }
}

/// TOTP codes are only as good as the clock: checks `timedatectl show`.
pub fn check_clock(timedatectl_show: Option<&str>) -> Check {
    let fix = "timedatectl set-ntp true (apt-get install systemd-timesyncd if no NTP client is installed)";
    let Some(out) = timedatectl_show else {
        return Check::warn("clock: timedatectl not available, NTP sync unknown", fix);
    };
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
    };
    match get("NTPSynchronized") {
        Some("yes") => Check::ok("clock: NTP synchronized (TOTP codes line up with phones)"),
        Some(_) => Check::fail(
            "clock: not NTP synchronized; a drift over 30 s rejects valid TOTP codes",
            fix,
        ),
        None => Check::warn("clock: timedatectl did not report NTPSynchronized", fix),
    }
}

// ---------------------------------------------------------------------------
// setup-host: the plan and the lockout guard

/// What `setup-host` was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetupOptions {
    /// Also configure sshd (the drop-in).
    pub ssh: bool,
    /// Set `[login] require_mfa = true`.
    pub require_mfa: bool,
}

/// An IAM user as the lockout guard sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub name: String,
    pub active: bool,
    pub password: bool,
    pub mfa: bool,
}

impl UserSummary {
    /// Can log in with password + TOTP under `require_mfa`.
    fn can_log_in(&self, require_mfa: bool) -> bool {
        self.active && self.password && (self.mfa || !require_mfa)
    }
}

/// Everything `setup-host` looks at, read by the caller.
#[derive(Debug, Clone)]
pub struct HostState {
    pub nsswitch: String,
    /// `/etc/pam.d/common-auth`, if present.
    pub common_auth: Option<String>,
    /// `/etc/iam/iam.toml` text, if present.
    pub config: Option<String>,
    /// The config parsed; `Err` holds why not.
    pub config_valid: Result<(), String>,
    pub users: Vec<UserSummary>,
    /// `pam_iam.so` exists in the multiarch security directory.
    pub module_installed: bool,
    /// `/usr/share/pam-configs/pam_iam` exists.
    pub profile_installed: bool,
    /// `/etc/ssh/sshd_config`, if present.
    pub sshd_config: Option<String>,
    /// The current drop-in, if present.
    pub sshd_dropin: Option<String>,
    /// The `AuthorizedKeysFile` sshd uses now (`sshd -T`), or why it
    /// could not be read.
    pub sshd_keys: Result<String, String>,
    /// `[accounts] authorized_keys_dir`, and whether it exists yet.
    pub authorized_keys_dir: PathBuf,
    pub authorized_keys_published: bool,
    /// The login name that started this admin session (`SUDO_USER`, or the
    /// audit login uid's name), when it is an IAM user.
    pub admin_iam_user: Option<String>,
}

/// One change `setup-host` makes; printed before it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Replace a file's content atomically (mode kept, or `mode` for new).
    WriteFile {
        path: String,
        content: String,
        mode: u32,
        why: String,
    },
    /// `pam-auth-update --enable pam_iam`.
    EnablePamProfile,
    /// Create `authorized_keys_dir` (or check it) and publish IAM users'
    /// active SSH public keys into it, by uid; files of the by-name layout
    /// go.
    PublishSshKeys(PathBuf),
    /// `sshd -t`, then reload sshd if it runs.
    ReloadSshd,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::WriteFile { path, why, .. } => write!(f, "write {path}: {why}"),
            Change::EnablePamProfile => write!(
                f,
                "run pam-auth-update --enable {PAM_PROFILE}: pam_iam in common-auth, -account and -session (root and local users skip it)"
            ),
            Change::PublishSshKeys(dir) => write!(
                f,
                "publish IAM users' active SSH public keys in {}, one file per uid (sshd's AuthorizedKeysFile)",
                dir.display()
            ),
            Change::ReloadSshd => {
                write!(f, "check the sshd configuration (sshd -t) and reload sshd")
            }
        }
    }
}

/// The changes `setup-host` would make, or every reason it refuses.
/// Refusals are about locking someone out or about a half-installed
/// system; each says what to do instead.
pub fn plan_setup(state: &HostState, opts: SetupOptions) -> Result<Vec<Change>, Vec<String>> {
    let mut refusals = Vec::new();
    if !state.module_installed {
        refusals.push(format!(
            "{PAM_MODULE} is not installed in the PAM module directory; install the pam-iam package"
        ));
    }
    if !state.profile_installed {
        refusals.push(format!(
            "/usr/share/pam-configs/{PAM_PROFILE} is missing; reinstall the pam-iam package"
        ));
    }
    if state.config.is_none() {
        refusals.push("/etc/iam/iam.toml is missing; run `iamctl init` first".into());
    } else if let Err(e) = &state.config_valid {
        refusals.push(format!(
            "the host config is invalid ({e}); pam_iam would refuse every IAM login"
        ));
    }
    if state.common_auth.is_none() {
        refusals.push(
            "/etc/pam.d/common-auth is missing; this host's PAM is not managed by pam-auth-update"
                .into(),
        );
    }
    if opts.ssh
        && !state
            .sshd_config
            .as_deref()
            .is_some_and(sshd_includes_dropins)
    {
        refusals.push(format!(
            "/etc/ssh/sshd_config does not `Include /etc/ssh/sshd_config.d/*.conf` before its Match blocks, so {SSHD_DROPIN_PATH} would have no effect; add that line at the top"
        ));
    }
    if let (true, Err(e)) = (opts.ssh, &state.sshd_keys) {
        refusals.push(format!(
            "cannot read sshd's effective AuthorizedKeysFile, which the drop-in must keep ({e}); fix what `sshd -T` says first"
        ));
    }
    if opts.ssh && !usable_in_sshd_config(&state.authorized_keys_dir) {
        refusals.push(format!(
            "[accounts] authorized_keys_dir = {:?} cannot go in sshd's AuthorizedKeysFile: use an absolute path without spaces, quotes or %",
            state.authorized_keys_dir.display()
        ));
    }
    if let Some(existing) = &state.sshd_dropin {
        if !existing.starts_with(SSHD_DROPIN_HEADER) {
            refusals.push(format!(
                "{SSHD_DROPIN_PATH} exists and was not written by setup-host; move it away first"
            ));
        }
    }
    let require_mfa = opts.require_mfa;
    if require_mfa && !state.users.iter().any(|u| u.can_log_in(true)) {
        refusals.push(
            "--require-mfa: no active IAM user has both a password and an enabled MFA device, so no IAM user could log in; create one first (create-login-profile, create-virtual-mfa-device, enable-mfa-device)".into(),
        );
    }
    if let Some(admin) = &state.admin_iam_user {
        match state.users.iter().find(|u| &u.name == admin) {
            Some(u) if !u.can_log_in(require_mfa) => refusals.push(format!(
                "you are logged in as IAM user {admin}, who {} and would be locked out; fix that user first",
                if !u.password {
                    "has no password".to_owned()
                } else if !u.active {
                    "is not active".to_owned()
                } else {
                    "has no enabled MFA device".to_owned()
                }
            )),
            _ => {}
        }
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }

    let mut changes = Vec::new();
    if let Some(new) = nsswitch_add_extrausers(&state.nsswitch) {
        changes.push(Change::WriteFile {
            path: "/etc/nsswitch.conf".into(),
            content: new,
            mode: 0o644,
            why: "add extrausers to passwd and group (IAM users and groups become Linux accounts)"
                .into(),
        });
    }
    if require_mfa {
        if let Some(new) = state.config.as_deref().and_then(set_require_mfa) {
            changes.push(Change::WriteFile {
                path: "/etc/iam/iam.toml".into(),
                content: new,
                mode: 0o644,
                why: "set [login] require_mfa = true".into(),
            });
        }
    }
    if !state
        .common_auth
        .as_deref()
        .is_some_and(pam_profile_enabled)
    {
        changes.push(Change::EnablePamProfile);
    }
    if let (true, Ok(sshd_keys)) = (opts.ssh, &state.sshd_keys) {
        let want = sshd_dropin(&state.authorized_keys_dir, sshd_keys);
        let new_dropin = state.sshd_dropin.as_deref() != Some(want.as_str());
        // A new drop-in may name the files differently (the by-name
        // layout before): publish them as it names them first.
        if !state.authorized_keys_published || new_dropin {
            changes.push(Change::PublishSshKeys(state.authorized_keys_dir.clone()));
        }
        if new_dropin {
            changes.push(Change::WriteFile {
                path: SSHD_DROPIN_PATH.into(),
                content: want,
                mode: 0o644,
                why: "UsePAM yes, KbdInteractiveAuthentication yes, AuthorizedKeysFile: sshd's own files, then IAM users' keys by uid"
                    .into(),
            });
            changes.push(Change::ReloadSshd);
        }
    }
    Ok(changes)
}

/// Checks the IAM directory has someone who can log in.
pub fn check_users(users: &[UserSummary], require_mfa: bool) -> Check {
    let n = users.iter().filter(|u| u.can_log_in(require_mfa)).count();
    if n > 0 {
        Check::ok(format!(
            "store: {n} active IAM user(s) with a password{}",
            if require_mfa {
                " and an MFA device"
            } else {
                ""
            }
        ))
    } else {
        Check::warn(
            "store: no IAM user can log in yet",
            "iamctl create-user, create-login-profile, create-virtual-mfa-device, enable-mfa-device",
        )
    }
}

/// IAM users and groups that collide with a local account or a reserved
/// system name ([`iam::local_accounts::find_shadowing`]): one FAIL each.
/// They are not published (a user among them cannot log in), and a group
/// of such a name would have handed its members the local group's
/// privileges; see [`iam::local_accounts`].
pub fn check_shadowing(found: &[Shadowing]) -> Vec<Check> {
    if found.is_empty() {
        return vec![Check::ok(
            "no IAM user or group collides with a local account or a reserved system name",
        )];
    }
    found
        .iter()
        .map(|s| {
            let fix = match s.kind {
                IamAccountKind::User => format!(
                    "rename it (iamctl update-user --user-name {0} --new-user-name NEW) or delete it (iamctl delete-user --user-name {0}); local privileges are granted only through [group_map]",
                    s.name
                ),
                IamAccountKind::Group => format!(
                    "rename it (iamctl update-group --group-name {0} --new-group-name NEW) or delete it (iamctl delete-group --group-name {0}); local privileges are granted only through [group_map]",
                    s.name
                ),
            };
            Check::fail(format!("{s}: not published"), fix)
        })
        .collect()
}

#[cfg(test)]
mod tests;
