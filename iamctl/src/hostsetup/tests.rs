//! The rules of setup-host and doctor, tested on file contents alone.

use super::*;
use std::collections::HashMap;

const DEBIAN_NSSWITCH: &str = "# /etc/nsswitch.conf\n\npasswd:         files systemd\ngroup:          files systemd\nshadow:         files\ngshadow:        files\n\nhosts:          files dns\n";

#[test]
fn nsswitch_gets_extrausers_after_files() {
    let new = nsswitch_add_extrausers(DEBIAN_NSSWITCH).unwrap();
    assert!(new.contains("passwd:         files extrausers systemd\n"));
    assert!(new.contains("group:          files extrausers systemd\n"));
    assert!(new.contains("shadow:         files\n"));
    assert!(check_nsswitch(&new).iter().all(|c| c.status == Status::Ok));
    assert!(
        check_nsswitch(DEBIAN_NSSWITCH)
            .iter()
            .all(|c| c.status == Status::Fail)
    );
    // Idempotent.
    assert_eq!(nsswitch_add_extrausers(&new), None);
}

#[test]
fn nsswitch_edit_is_undone_by_deleting_the_word() {
    // What the package's postrm does on purge.
    let new = nsswitch_add_extrausers(DEBIAN_NSSWITCH).unwrap();
    assert_eq!(new.replace(" extrausers", ""), DEBIAN_NSSWITCH);
}

#[test]
fn nsswitch_keeps_actions_comments_and_adds_missing_lines() {
    let text = "passwd: compat [NOTFOUND=return] ldap # local first\nhosts: files";
    let new = nsswitch_add_extrausers(text).unwrap();
    assert!(new.starts_with("passwd: compat [NOTFOUND=return] extrausers ldap # local first\n"));
    assert!(new.contains("hosts: files\ngroup:"));
    assert!(new.ends_with("files extrausers\n"));
    let only_sss = "passwd: sss\ngroup: sss\n";
    assert_eq!(
        nsswitch_add_extrausers(only_sss).unwrap(),
        "passwd: sss extrausers\ngroup: sss extrausers\n"
    );
}

fn pam_files(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    m.entry("sshd".into()).or_insert_with(|| {
        "# PAM configuration for sshd\n@include common-auth\naccount    required     pam_nologin.so\n@include common-account\n@include common-session\n".into()
    });
    m
}

// What pam-auth-update writes with the packaged profile enabled.
const AUTH_WITH_IAM: &str = "auth\t[success=2 new_authtok_reqd=done ignore=ignore authinfo_unavail=ignore default=die]\tpam_iam.so \nauth\t[success=1 default=ignore]\tpam_unix.so nullok try_first_pass\nauth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\nauth\toptional\t\t\tpam_cap.so \n";
const ACCOUNT_WITH_IAM: &str = "account\t[success=1 default=ignore]\tpam_localuser.so \naccount\t[success=2 new_authtok_reqd=done ignore=ignore default=die]\tpam_iam.so \naccount\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so \naccount\trequisite\t\t\tpam_deny.so\naccount\trequired\t\t\tpam_permit.so\n";
const SESSION_WITH_IAM: &str = "session\t[default=1]\t\t\tpam_permit.so\nsession\trequisite\t\t\tpam_deny.so\nsession\trequired\t\t\tpam_permit.so\nsession\t[success=2 default=ignore]\tpam_localuser.so \nsession\toptional\tpam_mkhomedir.so umask=0077\nsession\t[success=ok ignore=ignore default=bad]\tpam_iam.so \nsession\trequired\tpam_unix.so \n";

fn expand(files: &HashMap<String, String>, service: &str) -> Vec<PamLine> {
    expand_pam_service(service, &|name| files.get(name).cloned()).unwrap()
}

#[test]
fn pam_stack_with_the_profile_passes() {
    let files = pam_files(&[
        ("common-auth", AUTH_WITH_IAM),
        ("common-account", ACCOUNT_WITH_IAM),
        ("common-session", SESSION_WITH_IAM),
    ]);
    let lines = expand(&files, "sshd");
    assert_eq!(lines.iter().filter(|l| l.kind == "auth").count(), 5);
    let checks = check_pam_stack("sshd", &lines);
    assert!(checks.iter().all(|c| c.status == Status::Ok), "{checks:#?}");
    assert!(pam_profile_enabled(AUTH_WITH_IAM));
}

#[test]
fn an_sshd_stack_without_pam_iam_in_session_fails_since_key_logins_are_decided_there() {
    let files = pam_files(&[
        ("common-auth", AUTH_WITH_IAM),
        ("common-account", ACCOUNT_WITH_IAM),
        ("common-session", "session required pam_unix.so\n"),
        (
            "login",
            "@include common-auth\n@include common-account\n@include common-session\n",
        ),
    ]);
    let checks = check_pam_stack("sshd", &expand(&files, "sshd"));
    let failed: Vec<_> = checks.iter().filter(|c| c.status == Status::Fail).collect();
    assert_eq!(failed.len(), 1, "{checks:#?}");
    assert!(failed[0].what.contains("key logins"), "{failed:#?}");
    // The console's session stage decides nothing: a warning there.
    let checks = check_pam_stack("login", &expand(&files, "login"));
    assert!(
        checks.iter().all(|c| c.status != Status::Fail),
        "{checks:#?}"
    );
}

#[test]
fn a_pam_localuser_guard_in_auth_warns_it_skips_setcred() {
    // pam_localuser's setcred succeeds for everyone, so a guard in auth
    // jumps over pam_iam's setcred: no [group_map] groups, ever.
    let guarded = format!("auth\t[success=1 default=ignore]\tpam_localuser.so \n{AUTH_WITH_IAM}");
    let files = pam_files(&[
        ("common-auth", guarded.as_str()),
        ("common-account", ACCOUNT_WITH_IAM),
        ("common-session", SESSION_WITH_IAM),
    ]);
    let checks = check_pam_stack("sshd", &expand(&files, "sshd"));
    let warned: Vec<_> = checks.iter().filter(|c| c.status == Status::Warn).collect();
    assert_eq!(warned.len(), 1, "{checks:#?}");
    assert!(warned[0].what.contains("[group_map]"), "{warned:#?}");
}

#[test]
fn pam_stack_without_the_module_fails_with_the_fix() {
    let files = pam_files(&[
        (
            "common-auth",
            "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth required pam_permit.so\n",
        ),
        ("common-account", "account required pam_unix.so\n"),
        ("common-session", "session required pam_unix.so\n"),
    ]);
    let checks = check_pam_stack("sshd", &expand(&files, "sshd"));
    // auth, account, and session: sshd's key logins are decided there.
    assert_eq!(
        checks.iter().filter(|c| c.status == Status::Fail).count(),
        3,
        "{checks:#?}"
    );
    assert!(
        checks[0]
            .fix
            .as_deref()
            .unwrap()
            .contains("pam-auth-update --enable pam_iam")
    );
    assert!(!pam_profile_enabled(files["common-auth"].as_str()));
}

#[test]
fn pam_stack_order_problems_are_found() {
    // pam_iam after the pam_deny fallback is never reached; an account
    // line that is `optional` or behind `sufficient` enforces nothing.
    let files = pam_files(&[
        (
            "common-auth",
            "auth requisite pam_deny.so\nauth [success=1 default=ignore] pam_localuser.so\nauth sufficient pam_iam.so\n",
        ),
        (
            "common-account",
            "account sufficient pam_permit.so\naccount required pam_iam.so\n",
        ),
        (
            "common-session",
            "session optional /usr/lib/x86_64-linux-gnu/security/pam_iam.so\n",
        ),
        (
            "login",
            "auth include common-auth\naccount substack common-account\n-session optional pam_iam.so\n",
        ),
    ]);
    let checks = check_pam_stack("sshd", &expand(&files, "sshd"));
    assert_eq!(checks.len(), 2, "{checks:#?}");
    assert!(checks.iter().all(|c| c.status == Status::Fail));
    assert!(checks[0].what.contains("pam_deny.so"));
    assert!(checks[1].what.contains("pam_permit.so"));

    let files = pam_files(&[
        ("common-account", "account optional pam_iam.so\n"),
        ("common-auth", "auth required pam_iam.so\n"),
    ]);
    let files = {
        let mut f = files;
        f.insert("login".into(), "auth include common-auth\naccount substack common-account\n-session optional pam_iam.so\n".into());
        f
    };
    let checks = check_pam_stack("login", &expand(&files, "login"));
    // An unguarded auth line is what the profile writes.
    assert_eq!(checks[0].status, Status::Ok, "{checks:#?}");
    assert_eq!(checks[1].status, Status::Fail);
    assert!(checks[1].what.contains("optional"));
    assert_eq!(checks.len(), 2, "the -session line counts: {checks:#?}");
}

#[test]
fn pam_includes_missing_or_looping_are_errors() {
    let files = pam_files(&[]);
    assert!(
        expand_pam_service("sshd", &|n| files.get(n).cloned())
            .unwrap_err()
            .contains("common-auth")
    );
    let looping: HashMap<String, String> = [("a".to_owned(), "@include a\n".to_owned())].into();
    assert!(
        expand_pam_service("a", &|n| looping.get(n).cloned())
            .unwrap_err()
            .contains("nested")
    );
}

#[test]
fn pam_tokenizer_keeps_brackets_and_continuations() {
    let files: HashMap<String, String> = [(
        "x".to_owned(),
        "auth [success=ok new_authtok_reqd=done \\\n default=bad] pam_iam.so debug # c\n"
            .to_owned(),
    )]
    .into();
    let lines = expand(&files, "x");
    assert_eq!(
        lines[0].control,
        "[success=ok new_authtok_reqd=done default=bad]"
    );
    assert_eq!(lines[0].args, ["debug"]);
    assert!(control_fails_on_error(&lines[0].control));
}

#[test]
fn packaged_profile_is_what_the_checks_expect() {
    let profile = include_str!("../../../packaging/pam-configs/pam_iam");
    assert!(profile.contains("\nDefault: no\n"), "off by default");
    // The account and session lines of pam_iam are directly behind a
    // pam_localuser guard; the auth lines are not (the guard would skip
    // pam_iam's setcred: pam_iam ignores local accounts itself).
    let lines: Vec<&str> = profile.lines().map(str::trim).collect();
    let mut stage = "";
    for (i, l) in lines.iter().enumerate() {
        if let Some(name) = l.strip_suffix(':') {
            stage = name;
        }
        if l.contains("pam_iam.so") {
            let guarded = lines[..i]
                .iter()
                .rev()
                .take(3)
                .take_while(|p| !p.ends_with(':'))
                .any(|p| p.contains("pam_localuser.so"));
            assert_eq!(guarded, !stage.starts_with("Auth"), "{stage}: {l}");
            // A refusal in open_session (the key of a publickey login is
            // checked there: sshd lists it no earlier) must end the login.
            assert!(!l.starts_with("optional"), "{stage}: {l}");
        }
    }
}

#[test]
fn packaged_examples_parse() {
    use iam::policy::{Policy, PolicyKind};
    let toml = include_str!("../../../packaging/examples/iam.toml");
    let cfg =
        iam::config::HostConfig::parse(toml, std::path::Path::new("/etc/iam/iam.toml")).unwrap();
    assert!(cfg.login.require_mfa);
    for (name, json, kind) in [
        (
            "HostLoginFromPrivateNetworksWithMFA",
            include_str!(
                "../../../packaging/examples/policies/HostLoginFromPrivateNetworksWithMFA.json"
            ),
            PolicyKind::Managed,
        ),
        (
            "DenyLoginToProdOutsideOfficeHours",
            include_str!(
                "../../../packaging/examples/policies/DenyLoginToProdOutsideOfficeHours.json"
            ),
            PolicyKind::Managed,
        ),
        (
            "AssumeAdminRoleWithMFA",
            include_str!("../../../packaging/examples/policies/AssumeAdminRoleWithMFA.json"),
            PolicyKind::Managed,
        ),
        (
            "RunAsOnAnyHost",
            include_str!("../../../packaging/examples/policies/RunAsOnAnyHost.json"),
            PolicyKind::Managed,
        ),
        (
            "AdminRoleTrustPolicy",
            include_str!("../../../packaging/examples/policies/AdminRoleTrustPolicy.json"),
            PolicyKind::Trust,
        ),
    ] {
        Policy::parse(name, json, kind).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn postrm_undoes_the_nsswitch_edit() {
    // The same sed expression as packaging/debian/postrm, run for real.
    let postrm = include_str!("../../../packaging/debian/postrm");
    let expr = r#"/^(passwd|group):/ s/ extrausers([[:space:]]|$)/\1/"#;
    assert!(postrm.contains(expr));
    let edited = nsswitch_add_extrausers(DEBIAN_NSSWITCH).unwrap()
        + &nsswitch_add_extrausers("passwd: files\n").unwrap();
    let out = std::process::Command::new("sed")
        .args(["-E", expr])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(edited.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let restored = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        restored,
        format!("{DEBIAN_NSSWITCH}passwd: files\ngroup:          files\n")
    );
}

const SSHD_MAIN: &str = "# comment\nInclude /etc/ssh/sshd_config.d/*.conf\n\nKbdInteractiveAuthentication no\nUsePAM yes\n";

#[test]
fn sshd_dropin_and_include() {
    assert!(sshd_includes_dropins(SSHD_MAIN));
    assert!(!sshd_includes_dropins(
        "UsePAM yes\nMatch User x\nInclude /etc/ssh/sshd_config.d/*.conf\n"
    ));
    assert!(!sshd_includes_dropins("UsePAM yes\n"));
    let dropin = sshd_dropin(Path::new("/var/lib/iam-ssh"), SSHD_DEFAULT_AUTHORIZED_KEYS);
    assert!(dropin.starts_with(SSHD_DROPIN_HEADER));
    assert!(
        dropin.contains(
            "\nAuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 /var/lib/iam-ssh/%U\n"
        ),
        "{dropin}"
    );
}

#[test]
fn the_dropin_keeps_the_authorized_keys_files_sshd_already_uses_and_adds_ours_by_uid() {
    let dir = Path::new("/var/lib/iam-ssh");
    let line = |sshd_keys: &str| {
        sshd_dropin(dir, sshd_keys)
            .lines()
            .find(|l| l.starts_with("AuthorizedKeysFile "))
            .map(str::to_owned)
            .unwrap()
    };
    // An administrator's own central files (sshd -T's effective value).
    assert_eq!(
        line("/etc/ssh/authorized_keys/%u .ssh/authorized_keys"),
        "AuthorizedKeysFile /etc/ssh/authorized_keys/%u .ssh/authorized_keys /var/lib/iam-ssh/%U"
    );
    // `none`: sshd read no file before; now only ours.
    assert_eq!(line("none"), "AuthorizedKeysFile /var/lib/iam-ssh/%U");
    // A rerun (sshd -T shows our drop-in's line) and the by-name layout of
    // before: ours is replaced, never doubled, whatever came before it.
    for effective in [
        "/etc/ssh/keys/%u /var/lib/iam-ssh/%U",
        "/etc/ssh/keys/%u /var/lib/iam-ssh/%u",
    ] {
        assert_eq!(
            line(effective),
            "AuthorizedKeysFile /etc/ssh/keys/%u /var/lib/iam-ssh/%U"
        );
    }
}

#[test]
fn setup_ssh_migrates_a_by_name_dropin_and_publishes_by_uid_first() {
    let mut host = ready_host();
    host.nsswitch = nsswitch_add_extrausers(DEBIAN_NSSWITCH).unwrap();
    host.common_auth = Some(AUTH_WITH_IAM.into());
    host.authorized_keys_published = true;
    // What setup-host wrote before: `%u`, and sshd -T reports it.
    let old = format!(
        "{SSHD_DROPIN_HEADER}\nUsePAM yes\nKbdInteractiveAuthentication yes\nAuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2 /var/lib/iam-ssh/%u\n"
    );
    host.sshd_dropin = Some(old);
    host.sshd_keys = Ok(".ssh/authorized_keys .ssh/authorized_keys2 /var/lib/iam-ssh/%u".into());
    let ssh = SetupOptions {
        ssh: true,
        require_mfa: false,
    };
    let changes = plan_setup(&host, ssh).unwrap();
    assert_eq!(
        changes[0],
        Change::PublishSshKeys("/var/lib/iam-ssh".into())
    );
    let Change::WriteFile { path, content, .. } = &changes[1] else {
        panic!("{changes:?}");
    };
    assert_eq!(path, SSHD_DROPIN_PATH);
    assert!(
        content.contains("/var/lib/iam-ssh/%U\n") && !content.contains("%u"),
        "{content}"
    );
    assert_eq!(changes[2], Change::ReloadSshd);
    // Rerun once migrated: nothing.
    host.sshd_dropin = Some(content.clone());
    host.sshd_keys = Ok(".ssh/authorized_keys .ssh/authorized_keys2 /var/lib/iam-ssh/%U".into());
    assert_eq!(plan_setup(&host, ssh).unwrap(), vec![]);
    // sshd -T failing: refused, not guessed.
    host.sshd_keys = Err("sshd: no hostkeys available".into());
    let why = plan_setup(&host, ssh).unwrap_err();
    assert!(
        why[0].contains("sshd -T") && why[0].contains("no hostkeys"),
        "{why:?}"
    );
}

#[test]
fn sshd_effective_settings() {
    let good = "port 22\nusepam yes\nkbdinteractiveauthentication yes\npasswordauthentication yes\nauthenticationmethods any\n";
    assert!(
        check_sshd_effective(good)
            .iter()
            .all(|c| c.status == Status::Ok)
    );
    let bad = "usepam no\nkbdinteractiveauthentication no\nauthenticationmethods publickey\n";
    let checks = check_sshd_effective(bad);
    assert_eq!(
        checks.iter().filter(|c| c.status == Status::Fail).count(),
        3
    );
    let warn = "usepam yes\nkbdinteractiveauthentication yes\npasswordauthentication no\nauthenticationmethods publickey,keyboard-interactive:pam\n";
    let checks = check_sshd_effective(warn);
    assert_eq!(
        checks.iter().map(|c| c.status).collect::<Vec<_>>(),
        [Status::Ok, Status::Ok, Status::Ok, Status::Warn]
    );
}

#[test]
fn require_mfa_edits_only_its_line() {
    let starter = iam::config::starter_config("123456789012").unwrap();
    let new = set_require_mfa(&starter).unwrap();
    assert_eq!(set_require_mfa(&new), None, "idempotent");
    let parsed =
        iam::config::HostConfig::parse(&new, std::path::Path::new("/etc/iam/iam.toml")).unwrap();
    assert!(parsed.login.require_mfa);
    assert_eq!(new.lines().count(), starter.lines().count() + 1);

    let explicit = "account_id = \"123456789012\"\n[login]\nrequire_mfa = false # no\nunknown_user = \"ignore\"\n";
    let new = set_require_mfa(explicit).unwrap();
    assert_eq!(new.lines().count(), 4);
    assert!(new.contains("\nrequire_mfa = true"));

    let none = "account_id = \"123456789012\"";
    let new = set_require_mfa(none).unwrap();
    let parsed = iam::config::HostConfig::parse(&new, std::path::Path::new("/x/iam.toml")).unwrap();
    assert!(parsed.login.require_mfa);
}

#[test]
fn host_files_report_the_trust_verdict() {
    use std::path::PathBuf;
    let db = Path::new("/var/lib/iam/iam.db");
    let untrusted = |at: &str, problem| {
        Err(TrustError::Untrusted {
            path: PathBuf::from(at),
            problem,
        })
    };
    assert_eq!(
        check_host_file(HostFile::Store, db, Ok(())).to_string(),
        "OK   /var/lib/iam/iam.db: root-only"
    );
    let c = check_host_file(
        HostFile::Store,
        db,
        untrusted("/var/lib/iam/iam.db", Problem::NotPrivate { mode: 0o644 }),
    );
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.what
            .starts_with("/var/lib/iam/iam.db: refusing to use it"),
        "{c}"
    );
    assert_eq!(c.fix.as_deref(), Some("chmod 0600 /var/lib/iam/iam.db"));
    let c = check_host_file(
        HostFile::Config,
        Path::new("/etc/iam/iam.toml"),
        untrusted("/etc/iam", Problem::Writable { mode: 0o775 }),
    );
    assert_eq!(c.status, Status::Fail);
    assert_eq!(c.fix.as_deref(), Some("chmod go-w /etc/iam"));
    let c = check_host_file(
        HostFile::Config,
        Path::new("/etc/iam/iam.toml"),
        untrusted("/etc/iam/iam.toml", Problem::Owner { uid: 1000 }),
    );
    assert_eq!(c.fix.as_deref(), Some("chown root: /etc/iam/iam.toml"));
    let missing = || {
        Err(TrustError::Missing {
            path: PathBuf::from("/x"),
        })
    };
    let c = check_host_file(HostFile::Config, Path::new("/x"), missing());
    assert_eq!(
        (c.status, c.fix.as_deref()),
        (Status::Fail, Some("iamctl init"))
    );
    let c = check_host_file(HostFile::AuditLog, Path::new("/x"), missing());
    assert_eq!(c.status, Status::Ok);
}

#[test]
fn clock_checks() {
    assert_eq!(
        check_clock(Some("Timezone=UTC\nNTP=yes\nNTPSynchronized=yes\n")).status,
        Status::Ok
    );
    assert_eq!(
        check_clock(Some("NTP=no\nNTPSynchronized=no\n")).status,
        Status::Fail
    );
    assert_eq!(check_clock(None).status, Status::Warn);
    let line = check_clock(Some("NTPSynchronized=no\n")).to_string();
    assert!(
        line.starts_with("FAIL clock:") && line.contains("\n     fix: timedatectl set-ntp true")
    );
}

fn ready_host() -> HostState {
    HostState {
        nsswitch: DEBIAN_NSSWITCH.into(),
        common_auth: Some("auth [success=1 default=ignore] pam_unix.so nullok\n".into()),
        config: Some(iam::config::starter_config("123456789012").unwrap()),
        config_valid: Ok(()),
        users: vec![UserSummary {
            name: "alice".into(),
            active: true,
            password: true,
            mfa: true,
        }],
        module_installed: true,
        profile_installed: true,
        sshd_config: Some(SSHD_MAIN.into()),
        sshd_dropin: None,
        sshd_keys: Ok(SSHD_DEFAULT_AUTHORIZED_KEYS.into()),
        authorized_keys_dir: "/var/lib/iam-ssh".into(),
        authorized_keys_published: false,
        admin_iam_user: None,
    }
}

#[test]
fn setup_plan_on_a_fresh_host() {
    let changes = plan_setup(
        &ready_host(),
        SetupOptions {
            ssh: true,
            require_mfa: true,
        },
    )
    .unwrap();
    let paths: Vec<String> = changes.iter().map(ToString::to_string).collect();
    assert_eq!(changes.len(), 6, "{paths:#?}");
    assert!(paths[0].starts_with("write /etc/nsswitch.conf"));
    assert!(paths[1].starts_with("write /etc/iam/iam.toml"));
    assert_eq!(changes[2], Change::EnablePamProfile);
    assert_eq!(
        changes[3],
        Change::PublishSshKeys("/var/lib/iam-ssh".into())
    );
    assert!(paths[4].starts_with("write /etc/ssh/sshd_config.d/pam_iam.conf"));
    assert_eq!(changes[5], Change::ReloadSshd);
    // Without --ssh, sshd is left alone.
    let changes = plan_setup(&ready_host(), SetupOptions::default()).unwrap();
    assert_eq!(changes.len(), 2);
}

#[test]
fn setup_plan_on_a_configured_host_is_empty() {
    let mut host = ready_host();
    host.nsswitch = nsswitch_add_extrausers(DEBIAN_NSSWITCH).unwrap();
    host.common_auth = Some(AUTH_WITH_IAM.into());
    host.sshd_dropin = Some(sshd_dropin(
        &host.authorized_keys_dir,
        SSHD_DEFAULT_AUTHORIZED_KEYS,
    ));
    host.authorized_keys_published = true;
    host.config = host.config.as_deref().and_then(set_require_mfa);
    assert_eq!(
        plan_setup(
            &host,
            SetupOptions {
                ssh: true,
                require_mfa: true
            }
        )
        .unwrap(),
        []
    );
}

#[test]
fn setup_refuses_what_would_lock_people_out() {
    let mut host = ready_host();
    host.users[0].mfa = false;
    let why = plan_setup(
        &host,
        SetupOptions {
            ssh: false,
            require_mfa: true,
        },
    )
    .unwrap_err();
    assert_eq!(why.len(), 1);
    assert!(why[0].contains("no active IAM user has both a password and an enabled MFA device"));
    // Without --require-mfa the same host is fine.
    assert!(plan_setup(&host, SetupOptions::default()).is_ok());

    // The admin is an IAM user (came in over sudo) without MFA.
    let mut host = ready_host();
    host.users.push(UserSummary {
        name: "bob".into(),
        active: true,
        password: true,
        mfa: false,
    });
    host.admin_iam_user = Some("bob".into());
    let why = plan_setup(
        &host,
        SetupOptions {
            ssh: true,
            require_mfa: true,
        },
    )
    .unwrap_err();
    assert!(
        why[0].contains("IAM user bob") && why[0].contains("no enabled MFA device"),
        "{why:?}"
    );

    let mut host = ready_host();
    host.module_installed = false;
    host.config = None;
    host.sshd_config = Some("UsePAM yes\n".into());
    host.sshd_dropin = Some("PasswordAuthentication yes\n".into());
    let why = plan_setup(
        &host,
        SetupOptions {
            ssh: true,
            require_mfa: false,
        },
    )
    .unwrap_err();
    assert_eq!(why.len(), 4, "{why:#?}");
}

#[test]
fn shadowing_is_a_fail_per_entity() {
    use iam::local_accounts::Collision;
    let ok = check_shadowing(&[]);
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].status, Status::Ok);
    let found = [
        Shadowing {
            kind: IamAccountKind::User,
            name: "alice".into(),
            collision: Collision::LocalUser("alice".into()),
        },
        Shadowing {
            kind: IamAccountKind::Group,
            name: "Sudo".into(),
            collision: Collision::LocalGroup("sudo".into()),
        },
    ];
    let checks = check_shadowing(&found);
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|c| c.status == Status::Fail));
    assert_eq!(
        checks[1].what,
        "IAM group Sudo collides with the local group sudo on this host: not published"
    );
    assert!(
        checks[0]
            .fix
            .as_deref()
            .unwrap()
            .contains("update-user --user-name alice")
    );
    assert!(
        checks[1]
            .fix
            .as_deref()
            .unwrap()
            .contains("delete-group --group-name Sudo")
    );
}

#[test]
fn user_check() {
    let users = ready_host().users;
    assert_eq!(check_users(&users, true).status, Status::Ok);
    assert_eq!(check_users(&[], false).status, Status::Warn);
}

#[test]
fn setup_ssh_refuses_a_keys_dir_sshd_cannot_take() {
    for bad in ["relative/keys", "/var/lib/iam ssh", "/var/lib/%u"] {
        let mut host = ready_host();
        host.authorized_keys_dir = bad.into();
        let why = plan_setup(
            &host,
            SetupOptions {
                ssh: true,
                require_mfa: false,
            },
        )
        .unwrap_err();
        assert!(why[0].contains("authorized_keys_dir"), "{bad}: {why:?}");
        // Without --ssh it is not used.
        assert!(plan_setup(&host, SetupOptions::default()).is_ok());
    }
}

#[test]
fn doctor_checks_that_sshd_reads_the_published_keys_by_uid() {
    let dir = Path::new("/var/lib/iam-ssh");
    let ok = "authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2 /var/lib/iam-ssh/%U\n";
    assert_eq!(check_sshd_keys(ok, dir, true).unwrap().status, Status::Ok);
    let by_name = "authorizedkeysfile .ssh/authorized_keys /var/lib/iam-ssh/%u\n";
    let check = check_sshd_keys(by_name, dir, true).unwrap();
    assert_eq!(check.status, Status::Warn);
    assert!(check.what.contains("by name"), "{check}");
    assert!(check.fix.unwrap().contains("setup-host --ssh"));
    let default = "authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\n";
    assert_eq!(
        check_sshd_keys(default, dir, true).unwrap().status,
        Status::Warn
    );
    // Nothing published yet: nothing to say.
    assert!(check_sshd_keys(default, dir, false).is_none());
}

#[test]
fn doctor_fails_a_keys_directory_others_may_write() {
    let dir = Path::new("/var/lib/iam-ssh");
    assert_eq!(check_keys_dir(dir, Ok(())).status, Status::Ok);
    let check = check_keys_dir(
        dir,
        Err(TrustError::Untrusted {
            path: dir.into(),
            problem: Problem::Writable { mode: 0o777 },
        }),
    );
    assert_eq!(check.status, Status::Fail);
    assert_eq!(check.fix.as_deref(), Some("chmod go-w /var/lib/iam-ssh"));
}
