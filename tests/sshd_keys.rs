//! Issue 15: IAM users log in with SSH public keys kept in IAM
//! (`upload-ssh-public-key`), through a real sshd (Debian's OpenSSH) and the
//! real OpenSSH client (`ssh -i`). sshd finds the keys where `iamctl
//! setup-host --ssh` points it (the per-user files iamctl publishes, by
//! uid); pam_iam still decides `host:Login` by policy, with
//! `host:AuthMethod` saying how the user got in (proven by sshd: for a
//! publickey-only login, in the session stage), and takes only an active
//! IAM key.
//!
//! Like tests/sshd.rs these share /var/lib/extrausers and nsswitch.conf
//! with the host: they hold [`e2e::host_lock`].
//!
//! Test code: a failed step should stop the test loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{
    Host, PamService, PublishedAccounts, Sshd, ensure_nsswitch_extrausers, host_lock, oathtool,
    require_root, shipped_stack, unique, wait_for_fresh_step,
};
use serde_json::Value;

/// What `iamctl setup-host --ssh` writes for sshd (methods left as they
/// are: publickey and keyboard-interactive), as a drop-in for the test's
/// sshd, which adds the `AuthorizedKeysFile` of the published keys.
fn setup_host_dropin(host: &Host) -> String {
    let path = host.path().join("setup-host.conf");
    fs::write(&path, "UsePAM yes\nKbdInteractiveAuthentication yes\n").unwrap();
    path.display().to_string()
}

/// A key pair made by ssh-keygen: (private key path, public key line).
fn keygen(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, String) {
    let key = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", "laptop"])
        .args(args)
        .arg("-f")
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public)
}

/// `iamctl upload-ssh-public-key` of `public` for `user`: the SSHPublicKey.
fn upload(host: &Host, user: &str, public: &str) -> Value {
    let file = host.path().join(format!("{user}-upload.pub"));
    fs::write(&file, public).unwrap();
    let body = format!("file://{}", file.display());
    host.iamctl(&[
        "upload-ssh-public-key",
        "--user-name",
        user,
        "--ssh-public-key-body",
        &body,
    ])["SSHPublicKey"]
        .clone()
}

/// `iamctl update-ssh-public-key`.
fn set_status(host: &Host, user: &str, id: &str, status: &str) {
    host.iamctl(&[
        "update-ssh-public-key",
        "--user-name",
        user,
        "--ssh-public-key-id",
        id,
        "--status",
        status,
    ]);
}

/// An IAM user with no password and no local account, allowed to log in
/// by `policy`, with one SSH public key in IAM: (key path, SSHPublicKey).
fn key_user(host: &Host, name: &str, policy: &str) -> (PathBuf, Value) {
    host.add_user(name, None);
    host.put_user_policy(name, "Login", policy);
    let (key, public) = keygen(host.path(), &format!("{name}_key"), &["-t", "ed25519"]);
    let uploaded = upload(host, name, &public);
    (key, uploaded)
}

const ALLOW_LOGIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Login",
    "Effect":"Allow","Action":"host:Login","Resource":"*"}]}"#;

/// What the OpenSSH client did.
#[derive(Debug)]
struct Ssh {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// `ssh -i KEY -p PORT USER@127.0.0.1 id`, the OpenSSH client. With a
/// `code`, keyboard-interactive prompts (`Verification code:`) are answered
/// with it through SSH_ASKPASS (forced: there is no terminal here).
fn ssh(sshd: &Sshd, user: &str, key: &Path, code: Option<&str>) -> Ssh {
    let mut cmd = Command::new("ssh");
    cmd.arg("-i").arg(key).args([
        "-F",
        "/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=20",
        "-o",
        "NumberOfPasswordPrompts=1",
    ]);
    match code {
        Some(code) => {
            let askpass = key.with_extension("askpass");
            fs::write(&askpass, format!("#!/bin/sh\necho {code}\n")).unwrap();
            fs::set_permissions(&askpass, fs::Permissions::from_mode(0o700)).unwrap();
            cmd.env("SSH_ASKPASS", &askpass)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("DISPLAY", ":0")
                .args([
                    "-o",
                    "PreferredAuthentications=publickey,keyboard-interactive",
                ]);
        }
        None => {
            cmd.args([
                "-o",
                "BatchMode=yes",
                "-o",
                "PreferredAuthentications=publickey",
            ]);
        }
    }
    let out = cmd
        .arg("-p")
        .arg(sshd.port.to_string())
        .arg(format!("{user}@127.0.0.1"))
        .arg("id")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ssh");
    Ssh {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The file iamctl published for `name` (`authorized_keys_dir/UID`, the
/// uid from the host's extrausers passwd).
fn published_file(host: &Host, name: &str) -> PathBuf {
    let passwd = fs::read_to_string(host.path().join("extrausers/passwd")).unwrap();
    let uid = passwd
        .lines()
        .find_map(|l| {
            let mut fields = l.split(':');
            (fields.next() == Some(name)).then(|| fields.nth(1).unwrap().to_owned())
        })
        .expect("the user is published");
    host.path().join("authorized_keys").join(uid)
}

fn host() -> Host {
    ensure_nsswitch_extrausers();
    Host::new("")
}

fn last_login(host: &Host, name: &str) -> Value {
    host.events_for(name, "Login").pop().expect("a Login event")
}

#[test]
fn key_login_of_an_iam_user_with_no_hand_made_account() {
    if !require_root("key_login_of_an_iam_user_with_no_hand_made_account") {
        return;
    }
    let _lock = host_lock();
    let host = host();
    let name = unique("sshkey");
    let (key, uploaded) = key_user(&host, &name, ALLOW_LOGIN);
    // Published for sshd by iamctl itself: the key, named by its id.
    let published = fs::read_to_string(published_file(&host, &name)).unwrap();
    let id = uploaded["SSHPublicKeyId"].as_str().unwrap();
    assert!(published.contains(id), "{published}");
    let _accounts = PublishedAccounts::publish(&host);
    let dropin = setup_host_dropin(&host);
    let sshd = Sshd::start_with_iam_keys(&host, &shipped_stack("sshd-password-totp"), &dropin);

    let result = ssh(&sshd, &name, &key, None);
    assert!(result.ok, "{result:?}\n{}", sshd.log());
    assert!(result.stdout.contains(&format!("({name})")), "{result:?}");
    let login = last_login(&host, &name);
    assert_eq!(login["errorCode"], Value::Null, "{login}");
    let data = &login["additionalEventData"];
    assert_eq!(data["AuthMethod"], "publickey", "{login}");
    assert_eq!(
        data["SSHPublicKeyId"], uploaded["SSHPublicKeyId"],
        "{login}"
    );
    assert_eq!(
        data["SSHPublicKeyFingerprint"], uploaded["Fingerprint"],
        "{login}"
    );
    assert_eq!(data["MFAUsed"], "No", "{login}");
}

#[test]
fn a_key_login_denied_by_policy_is_refused_and_the_denial_names_the_key() {
    if !require_root("a_key_login_denied_by_policy_is_refused_and_the_denial_names_the_key") {
        return;
    }
    let _lock = host_lock();
    let host = host();
    let name = unique("sshkd");
    // AWS's shape of "a second factor for key logins": keys alone denied.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Login","Effect":"Allow","Action":"host:Login","Resource":"*"},
        {"Sid":"NoKeyAlone","Effect":"Deny","Action":"host:Login","Resource":"*",
         "Condition":{"StringEquals":{"host:AuthMethod":"publickey"}}}]}"#;
    let (key, uploaded) = key_user(&host, &name, policy);
    let seed = host.add_mfa(&name);
    let _accounts = PublishedAccounts::publish(&host);
    let dropin = setup_host_dropin(&host);
    let sshd = Sshd::start_with_iam_keys(&host, &shipped_stack("sshd-password-totp"), &dropin);

    let result = ssh(&sshd, &name, &key, None);
    assert!(!result.ok, "{result:?}");
    let denial = last_login(&host, &name);
    assert_eq!(denial["errorCode"], "AccessDenied", "{denial}");
    assert_eq!(denial["decidedBy"][0]["sid"], "NoKeyAlone", "{denial}");
    // sshd lists the key of a publickey-only login only for the session
    // (iam/src/login/ssh.rs), which decides such a login: the denial
    // names the key.
    let message = denial["errorMessage"].as_str().unwrap();
    for named in [&uploaded["SSHPublicKeyId"], &uploaded["Fingerprint"]] {
        assert!(message.contains(named.as_str().unwrap()), "{message}");
    }

    // With the key and then the TOTP code (publickey,keyboard-interactive,
    // pam_iam mode=totp) the same policy denies a wrong method and names
    // the key: here, a Deny on the key alone does not match, so it logs in.
    let stack = shipped_stack("sshd-publickey-totp");
    let both = Sshd::start_with_iam_keys(&host, &stack, "publickey-totp.conf");
    wait_for_fresh_step(8);
    let result = ssh(&both, &name, &key, Some(&oathtool(&seed, 0)));
    assert!(result.ok, "{result:?}\n{}", both.log());
    let login = last_login(&host, &name);
    assert_eq!(login["additionalEventData"]["AuthMethod"], "publickey+totp");
    // Denied by another statement there, the denial names the key.
    host.put_user_policy(
        &name,
        "Login",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Nobody","Effect":"Deny",
            "Action":"host:Login","Resource":"*"}]}"#,
    );
    // The next step's code (the window takes one step either side): this
    // step's was spent.
    let result = ssh(&both, &name, &key, Some(&oathtool(&seed, 1)));
    assert!(!result.ok, "{result:?}");
    let denial = last_login(&host, &name);
    assert_eq!(denial["decidedBy"][0]["sid"], "Nobody", "{denial}");
    let message = denial["errorMessage"].as_str().unwrap();
    for named in [&uploaded["SSHPublicKeyId"], &uploaded["Fingerprint"]] {
        assert!(message.contains(named.as_str().unwrap()), "{message}");
    }
}

#[test]
fn a_deactivated_or_deleted_key_is_refused_on_the_next_connection() {
    if !require_root("a_deactivated_or_deleted_key_is_refused_on_the_next_connection") {
        return;
    }
    let _lock = host_lock();
    let host = host();
    let name = unique("sshki");
    let (key, uploaded) = key_user(&host, &name, ALLOW_LOGIN);
    let id = uploaded["SSHPublicKeyId"].as_str().unwrap().to_owned();
    let _accounts = PublishedAccounts::publish(&host);
    let dropin = setup_host_dropin(&host);
    let sshd = Sshd::start_with_iam_keys(&host, &shipped_stack("sshd-password-totp"), &dropin);
    let published = published_file(&host, &name);

    let first = ssh(&sshd, &name, &key, None);
    assert!(first.ok, "{first:?}\n{}", sshd.log());

    set_status(&host, &name, &id, "Inactive");
    assert!(!published.exists(), "the inactive key is still published");
    let refused = ssh(&sshd, &name, &key, None);
    assert!(!refused.ok, "an inactive key logged in: {refused:?}");

    // Even where sshd still finds it (a stale projection, the user's own
    // ~/.ssh/authorized_keys), the account stage takes only active IAM keys.
    let line = fs::read_to_string(key.with_extension("pub")).unwrap();
    fs::write(&published, &line).unwrap();
    let refused = ssh(&sshd, &name, &key, None);
    assert!(
        !refused.ok,
        "a stale copy of an inactive key logged in: {refused:?}"
    );
    let denial = last_login(&host, &name);
    assert_eq!(denial["errorCode"], "AccessDenied", "{denial}");
    assert!(
        denial["errorMessage"].as_str().unwrap().contains(&id),
        "{denial}"
    );

    set_status(&host, &name, &id, "Active");
    let again = ssh(&sshd, &name, &key, None);
    assert!(again.ok, "{again:?}");
    host.iamctl(&[
        "delete-ssh-public-key",
        "--user-name",
        &name,
        "--ssh-public-key-id",
        &id,
    ]);
    assert!(!published.exists());
    fs::write(&published, &line).unwrap();
    let refused = ssh(&sshd, &name, &key, None);
    assert!(!refused.ok, "a deleted key logged in: {refused:?}");
}

#[test]
fn key_then_totp_with_the_openssh_client() {
    if !require_root("key_then_totp_with_the_openssh_client") {
        return;
    }
    let _lock = host_lock();
    let host = host();
    let name = unique("sshkt");
    // Key logins need the code: only publickey+totp is allowed.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"KeyAndCode",
        "Effect":"Allow","Action":"host:Login","Resource":"*",
        "Condition":{"StringEquals":{"host:AuthMethod":"publickey+totp"}}}]}"#;
    let (key, uploaded) = key_user(&host, &name, policy);
    let seed = host.add_mfa(&name);
    let _accounts = PublishedAccounts::publish(&host);
    let sshd = Sshd::start_with_iam_keys(
        &host,
        &shipped_stack("sshd-publickey-totp"),
        "publickey-totp.conf",
    );

    wait_for_fresh_step(8);
    let result = ssh(&sshd, &name, &key, Some(&oathtool(&seed, 0)));
    assert!(result.ok, "{result:?}\n{}", sshd.log());
    let login = last_login(&host, &name);
    let data = &login["additionalEventData"];
    assert_eq!(data["AuthMethod"], "publickey+totp", "{login}");
    assert_eq!(data["MFAUsed"], "Yes", "{login}");
    assert_eq!(
        data["SSHPublicKeyId"], uploaded["SSHPublicKeyId"],
        "{login}"
    );

    // A wrong code: the key alone does not get in.
    let refused = ssh(&sshd, &name, &key, Some("000000"));
    assert!(!refused.ok, "{refused:?}");
    assert!(!refused.stdout.contains(&name), "{}", refused.stderr);
}

/// Issue 15 review, item 6: a key login of an IAM user through the
/// packaged pam-auth-update profile (packaging/pam-configs/pam_iam, as
/// `pam-auth-update --enable pam_iam` writes it into common-*, under
/// Debian's own /etc/pam.d/sshd), a real sshd on 127.0.0.1 finding the
/// published keys by uid, and the OpenSSH client with `-i`. The key made
/// inactive is refused there, also when sshd still finds a copy: the
/// profile's session line (`default=bad`) ends the login pam_iam refuses.
#[test]
fn key_login_through_the_packaged_pam_auth_update_profile() {
    if !require_root("key_login_through_the_packaged_pam_auth_update_profile") {
        return;
    }
    let _lock = host_lock();
    let host = host();
    let name = unique("sshpk");
    let (key, uploaded) = key_user(&host, &name, ALLOW_LOGIN);
    let id = uploaded["SSHPublicKeyId"].as_str().unwrap().to_owned();
    let _accounts = PublishedAccounts::publish(&host);
    let service = PamService::packaged_profile(&unique("sshd-iamprofile"), &host.config);
    let stack = service.text();
    assert!(
        stack.contains("pam_localuser.so") && stack.contains(&e2e::module().display().to_string()),
        "{stack}"
    );
    let dropin = setup_host_dropin(&host);
    let sshd = Sshd::start_with_service(&host, service, &dropin);

    let result = ssh(&sshd, &name, &key, None);
    assert!(result.ok, "{result:?}\n{stack}\n{}", sshd.log());
    assert!(result.stdout.contains(&format!("({name})")), "{result:?}");
    let login = last_login(&host, &name);
    assert_eq!(login["errorCode"], Value::Null, "{login}");
    assert_eq!(login["additionalEventData"]["AuthMethod"], "publickey");
    assert_eq!(login["additionalEventData"]["SSHPublicKeyId"], id.as_str());

    set_status(&host, &name, &id, "Inactive");
    let published = published_file(&host, &name);
    assert!(!published.exists(), "the inactive key is still published");
    let refused = ssh(&sshd, &name, &key, None);
    assert!(!refused.ok, "an inactive key logged in: {refused:?}");
    // sshd still finds it (a stale copy): pam_iam's session stage refuses.
    fs::write(
        &published,
        fs::read_to_string(key.with_extension("pub")).unwrap(),
    )
    .unwrap();
    let refused = ssh(&sshd, &name, &key, None);
    assert!(
        !refused.ok,
        "a stale copy of an inactive key logged in: {refused:?}"
    );
    assert!(!refused.stdout.contains(&name), "{refused:?}");
    let denial = last_login(&host, &name);
    assert_eq!(denial["errorCode"], "AccessDenied", "{denial}");
    assert!(
        denial["errorMessage"].as_str().unwrap().contains(&id),
        "{denial}"
    );
}

/// A line of /etc/passwd (no shadow entry, no password: `*`), taken out
/// again on drop. Not `useradd`: it refuses a name NSS already knows, and
/// the IAM user is known through extrausers. Hold the [`host_lock`].
struct LocalAccount(String);

impl LocalAccount {
    fn add(name: &str, home: &Path) -> Self {
        let uid = (60_000..65_000)
            .find(|uid: &u32| {
                !Command::new("getent")
                    .args(["passwd", &uid.to_string()])
                    .status()
                    .unwrap()
                    .success()
            })
            .expect("a free uid");
        let line = format!("{name}:*:{uid}:65534::{}:/bin/sh\n", home.display());
        let text = fs::read_to_string("/etc/passwd").unwrap() + &line;
        write_passwd(&text);
        Self(line)
    }
}

impl Drop for LocalAccount {
    fn drop(&mut self) {
        let text = fs::read_to_string("/etc/passwd").unwrap_or_default();
        write_passwd(&text.replace(&self.0, ""));
    }
}

/// /etc/passwd replaced atomically, mode 0644.
fn write_passwd(text: &str) {
    let tmp = Path::new("/etc/passwd.e2e-tmp");
    fs::write(tmp, text).unwrap();
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o644)).unwrap();
    fs::rename(tmp, "/etc/passwd").unwrap();
}

/// Issue 15 review, item 2: sshd reads the published keys by uid (`%U`).
/// A local account made later under an IAM user's name (another uid, found
/// first by NSS) reads nothing of the IAM user's, even before iamctl
/// republishes: by name (`%u`) it read the IAM user's file and logged in
/// with the IAM user's key, and pam_iam leaves local accounts alone.
#[test]
fn a_local_account_made_later_under_an_iam_users_name_does_not_get_its_keys() {
    if !require_root("a_local_account_made_later_under_an_iam_users_name_does_not_get_its_keys") {
        return;
    }
    let _lock = host_lock();
    let host = host();
    let name = unique("sshlc");
    let (key, _) = key_user(&host, &name, ALLOW_LOGIN);
    let _accounts = PublishedAccounts::publish(&host);
    let dropin = setup_host_dropin(&host);
    let sshd = Sshd::start_with_iam_keys(&host, &shipped_stack("sshd-password-totp"), &dropin);
    let first = ssh(&sshd, &name, &key, None);
    assert!(first.ok, "{first:?}\n{}", sshd.log());

    let _local = LocalAccount::add(&name, &host.path().join("local-home"));
    assert!(
        published_file(&host, &name).exists(),
        "the IAM user's file is still there"
    );
    let refused = ssh(&sshd, &name, &key, None);
    assert!(
        !refused.ok,
        "the local account logged in with the IAM user's key: {refused:?}"
    );
    assert!(
        sshd.log().contains("Failed publickey for"),
        "{}",
        sshd.log()
    );
}
