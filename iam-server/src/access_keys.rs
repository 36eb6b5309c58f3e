//! The access-key verbs: `CreateAccessKey`, `ListAccessKeys`,
//! `UpdateAccessKey`, `DeleteAccessKey`, `GetAccessKeyLastUsed`, with the
//! parameters and output shapes of botocore's IAM 2010-05-08 model.
//!
//! Each resolves the user (`UserName` defaults to the calling user, as in
//! AWS), authorizes `iam:<Action>` on the user's ARN, makes its change in
//! one store transaction with its audit event, and never puts a secret in
//! an audit event or an error. The secret access key leaves the server
//! once, in `CreateAccessKey`'s answer; the store keeps it sealed
//! ([`crate::keyring`]).

use crate::keyring::{self, Keyring, KeyringError};
use iam::names::{UniqueIdKind, UserName, new_unique_id};
use iam::secret::SecretString;
use iam::store::{AccessKey, AccessKeyStatus};
use iamctl::ctx::{Caller, Ctx};
use iamctl::error::CliError;
use iamctl::shapes::date_str;
use iamctl::verbs::parse_user;
use serde::Deserialize;
use serde_json::{Value, json};

/// The actions [`run`] serves.
pub const ACTIONS: &[&str] = &[
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
];

/// Runs `action` (one of [`ACTIONS`]; `ctx.operation` must be the same:
/// it names the audit event and the authorized action) with the request's
/// parameters, shaped as botocore's model (`{"UserName": "alice"}`).
pub fn run(
    ctx: &mut Ctx,
    keyring: &Keyring,
    action: &str,
    input: &Value,
) -> Result<Value, CliError> {
    if ctx.operation != action {
        return Err(CliError::new(
            "ServiceFailure",
            format!("operation {} dispatched as {action}", ctx.operation),
        ));
    }
    match action {
        "CreateAccessKey" => create(ctx, keyring, &params(input)?),
        "ListAccessKeys" => list(ctx, &params(input)?),
        "UpdateAccessKey" => update(ctx, &params(input)?),
        "DeleteAccessKey" => delete(ctx, &params(input)?),
        "GetAccessKeyLastUsed" => last_used(ctx, &params(input)?),
        other => Err(CliError::new(
            "InvalidAction",
            format!("The action {other} is not valid for this endpoint."),
        )),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Params {
    user_name: Option<String>,
    access_key_id: Option<String>,
    status: Option<String>,
}

fn params(input: &Value) -> Result<Params, CliError> {
    match input {
        Value::Null => Ok(Params::default()),
        v => Params::deserialize(v).map_err(|e| validation(e.to_string())),
    }
}

fn validation(message: impl Into<String>) -> CliError {
    CliError::new("ValidationError", message)
}

fn required<'a>(v: Option<&'a str>, field: &str) -> Result<&'a str, CliError> {
    v.ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value null at '{field}' \
             failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// The user a call is about: `UserName`, or the calling IAM user.
fn target_user(ctx: &Ctx, p: &Params) -> Result<UserName, CliError> {
    match (&p.user_name, &ctx.caller) {
        (Some(n), _) => parse_user(n),
        (None, Caller::User(principal)) => parse_user(&principal.name),
        (None, Caller::AssumedRole(_)) => Err(validation(
            "Must specify userName when calling with non-User credentials",
        )),
        // pam_iam has no root access keys: the first administrator is an
        // IAM user (`iam-server bootstrap`).
        (None, Caller::Root) => Err(validation(
            "Must specify userName: the root user has no access keys here",
        )),
    }
}

/// Resolves the user and authorizes the call on its ARN.
fn authorized_user(ctx: &Ctx, p: &Params) -> Result<UserName, CliError> {
    let name = target_user(ctx, p)?;
    ctx.authorize(&ctx.user_arn(&name))?;
    Ok(name)
}

/// An `AccessKeyId` as the model constrains it (`[\w]+`, 16–128), so a
/// malformed one is a validation error, not a lookup.
fn key_id(p: &Params) -> Result<&str, CliError> {
    let id = required(p.access_key_id.as_deref(), "accessKeyId")?;
    let ok = (16..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return Err(validation(
            "1 validation error detected: Value at 'accessKeyId' failed to satisfy constraint: \
             Member must have length between 16 and 128 and match pattern [\\w]+",
        ));
    }
    Ok(id)
}

fn create(ctx: &mut Ctx, keyring: &Keyring, p: &Params) -> Result<Value, CliError> {
    let name = authorized_user(ctx, p)?;
    let id = new_unique_id(UniqueIdKind::AccessKey).map_err(KeyringError::from)?;
    let secret = keyring::new_secret()?;
    let sealed = keyring.seal(&id, &secret)?;
    let key = ctx.commit(
        |k: &AccessKey| json!({"userName": k.user.as_str(), "accessKeyId": k.id}),
        |s| s.create_access_key(&name, &id, &sealed, ctx.now),
    )?;
    Ok(json!({ "AccessKey": shape(&key, Some(&secret)) }))
}

/// All of them (at most two); pages are cut by the server's one paginator.
fn list(ctx: &mut Ctx, p: &Params) -> Result<Value, CliError> {
    let name = authorized_user(ctx, p)?;
    let keys = ctx.store.list_access_keys(&name)?;
    let metadata: Vec<Value> = keys.iter().map(|k| shape(k, None)).collect();
    Ok(json!({ "AccessKeyMetadata": metadata }))
}

fn update(ctx: &mut Ctx, p: &Params) -> Result<Value, CliError> {
    let id = key_id(p)?;
    let status = required(p.status.as_deref(), "status")?;
    let status = AccessKeyStatus::parse(status).ok_or_else(|| {
        validation(
            "1 validation error detected: Value at 'status' failed to satisfy constraint: \
             Member must satisfy enum value set: [Active, Inactive]",
        )
    })?;
    let name = authorized_user(ctx, p)?;
    ctx.commit(
        |_| json!({"userName": name.as_str(), "accessKeyId": id, "status": status.as_str()}),
        |s| s.update_access_key(&name, id, status),
    )?;
    Ok(Value::Null)
}

fn delete(ctx: &mut Ctx, p: &Params) -> Result<Value, CliError> {
    let id = key_id(p)?;
    let name = authorized_user(ctx, p)?;
    ctx.commit(
        |_| json!({"userName": name.as_str(), "accessKeyId": id}),
        |s| s.delete_access_key(&name, id),
    )?;
    Ok(Value::Null)
}

/// Authorized on the key's owner, found first (the request names no
/// user). A key that does not exist is refused like another user's key
/// the caller may not see: the answer does not tell which key ids exist.
fn last_used(ctx: &mut Ctx, p: &Params) -> Result<Value, CliError> {
    if p.user_name.is_some() {
        return Err(validation("GetAccessKeyLastUsed takes no UserName"));
    }
    let id = key_id(p)?;
    let key = match ctx.store.get_access_key(id) {
        Ok(key) => key,
        Err(iam::store::StoreError::NoSuchEntity { .. }) if ctx.caller.principal().is_some() => {
            let message = format!(
                "User: {} is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key {id}",
                ctx.caller_arn()
            );
            ctx.audit_refused(json!({"accessKeyId": id}), "AccessDenied", &message);
            return Err(CliError::new("AccessDenied", message));
        }
        Err(e) => return Err(e.into()),
    };
    ctx.authorize(&ctx.user_arn(&key.user))?;
    // As AWS for a key never used: no date, `N/A` for service and region.
    let used = match &key.last_used {
        Some(u) => {
            json!({"LastUsedDate": date_str(u.date), "ServiceName": u.service, "Region": u.region})
        }
        None => json!({"ServiceName": "N/A", "Region": "N/A"}),
    };
    Ok(json!({"UserName": key.user.as_str(), "AccessKeyLastUsed": used}))
}

/// `AccessKeyMetadata`, or with its secret `AccessKey` (the one answer
/// that carries it: CreateAccessKey, bootstrap).
pub fn shape(k: &AccessKey, secret: Option<&SecretString>) -> Value {
    let mut shape = json!({
        "UserName": k.user.as_str(),
        "AccessKeyId": k.id,
        "Status": k.status.as_str(),
        "CreateDate": date_str(k.create_date),
    });
    if let Some(secret) = secret {
        shape["SecretAccessKey"] = Value::String(secret.expose().to_owned());
    }
    shape
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use iam::config::HostConfig;
    use iam::names::AccountId;
    use iam::principal::Principal;
    use iam::store::{Credential, Entity, NewUser, Store};
    use iamctl::input::Secrets;
    use std::path::{Path, PathBuf};

    struct Env {
        dir: tempfile::TempDir,
        keyring: Keyring,
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn user(s: &str) -> UserName {
        UserName::parse(s).unwrap()
    }

    impl Env {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let acct = AccountId::parse("123456789012").unwrap();
            let s = Store::create(&dir.path().join("iam.db"), &acct).unwrap();
            for name in ["alice", "bob"] {
                s.create_user(&NewUser::new(user(name)), now()).unwrap();
            }
            // Alice may manage her own keys only.
            let own = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
                "Action":"iam:*AccessKey*","Resource":"arn:aws:iam::123456789012:user/alice"}]}"#;
            s.put_inline_policy(
                &Entity::User(user("alice")),
                &iam::names::PolicyName::parse("own-keys").unwrap(),
                own,
            )
            .unwrap();
            let keyring = Keyring::open_or_create(&dir.path().join("server.key")).unwrap();
            Self { dir, keyring }
        }

        fn store(&self) -> Store {
            Store::open(&self.dir.path().join("iam.db")).unwrap()
        }

        fn audit_log(&self) -> PathBuf {
            self.dir.path().join("audit.log")
        }

        /// Calls `action` as `caller` (`None`: root).
        fn call(
            &self,
            caller: Option<&str>,
            action: &str,
            input: Value,
        ) -> Result<Value, CliError> {
            let store = self.store();
            let caller = match caller {
                None => Caller::Root,
                Some(name) => Caller::User(Box::new(
                    Principal::for_user(&store, store.account_id(), &user(name)).unwrap(),
                )),
            };
            let config = HostConfig::parse(
                &format!(
                    "account_id = \"123456789012\"\naudit_log = {:?}\n",
                    self.audit_log()
                ),
                Path::new("/etc/iam/server.toml"),
            )
            .unwrap();
            let mut ctx = Ctx::for_api(
                config,
                store,
                caller,
                action.to_owned(),
                Secrets::Given(Vec::new()),
                iam::request::ApiFacts {
                    source_ip: std::net::Ipv4Addr::LOCALHOST.into(),
                    session_mfa: None,
                    service: "iam".into(),
                    access_key_id: "AKIATEST".into(),
                    request_id: "test".into(),
                    user_agent: None,
                },
                now(),
            );
            run(&mut ctx, &self.keyring, action, &input)
        }
    }

    fn code(r: Result<Value, CliError>) -> String {
        r.unwrap_err().code
    }

    #[test]
    fn create_returns_the_secret_once_and_stores_it_sealed() {
        let env = Env::new();
        let out = env
            .call(None, "CreateAccessKey", json!({"UserName": "alice"}))
            .unwrap();
        let key = &out["AccessKey"];
        assert_eq!(key["UserName"], "alice");
        assert_eq!(key["Status"], "Active");
        assert_eq!(key["CreateDate"], date_str(now().timestamp()));
        let id = key["AccessKeyId"].as_str().unwrap();
        let secret = key["SecretAccessKey"].as_str().unwrap();
        assert!(UniqueIdKind::AccessKey.matches(id));
        assert_eq!(secret.len(), 40);
        match env.store().find_credential(id).unwrap() {
            Some(Credential::AccessKey { sealed, .. }) => {
                assert!(!sealed.0.windows(40).any(|w| w == secret.as_bytes()));
                assert_eq!(env.keyring.open(id, &sealed).unwrap().expose(), secret);
            }
            other => panic!("{other:?}"),
        }
        // The server's events go to the directory's event table.
        let (events, _) = env
            .store()
            .lookup_events(&iam::store::EventQuery {
                filter: None,
                start: None,
                end: None,
                limit: 50,
                after: None,
            })
            .unwrap();
        let audit: String = events.iter().map(|e| e.event.as_str()).collect();
        assert!(audit.contains(id) && audit.contains("CreateAccessKey"));
        assert!(!audit.contains(secret));
        let listed = env
            .call(None, "ListAccessKeys", json!({"UserName": "alice"}))
            .unwrap();
        assert!(!listed.to_string().contains(secret));
    }

    #[test]
    fn two_keys_at_most() {
        let env = Env::new();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let out = env
                .call(Some("alice"), "CreateAccessKey", Value::Null)
                .unwrap();
            ids.push(out["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned());
        }
        let e = env
            .call(Some("alice"), "CreateAccessKey", json!({}))
            .unwrap_err();
        assert_eq!(e.code, "LimitExceeded");
        assert_eq!(e.message, "Cannot exceed quota for AccessKeysPerUser: 2");
        let all = env
            .call(Some("alice"), "ListAccessKeys", json!({}))
            .unwrap();
        assert_eq!(all["AccessKeyMetadata"].as_array().unwrap().len(), 2);
        assert!(all.get("Marker").is_none());
        // Pages are cut by the server's one paginator (crate::query).
    }

    #[test]
    fn other_users_keys_are_denied_and_untouched() {
        let env = Env::new();
        let out = env
            .call(None, "CreateAccessKey", json!({"UserName": "bob"}))
            .unwrap();
        let id = out["AccessKey"]["AccessKeyId"].as_str().unwrap();
        for (action, input) in [
            ("CreateAccessKey", json!({"UserName": "bob"})),
            ("ListAccessKeys", json!({"UserName": "bob"})),
            (
                "UpdateAccessKey",
                json!({"UserName": "bob", "AccessKeyId": id, "Status": "Inactive"}),
            ),
            (
                "DeleteAccessKey",
                json!({"UserName": "bob", "AccessKeyId": id}),
            ),
            ("GetAccessKeyLastUsed", json!({"AccessKeyId": id})),
        ] {
            assert_eq!(
                code(env.call(Some("alice"), action, input)),
                "AccessDenied",
                "{action}"
            );
        }
        let keys = env.store().list_access_keys(&user("bob")).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].status, AccessKeyStatus::Active);
        // A key of bob's named as alice's is not found.
        let e = code(env.call(Some("alice"), "DeleteAccessKey", json!({"AccessKeyId": id})));
        assert_eq!(e, "NoSuchEntity");
    }

    #[test]
    fn update_delete_and_last_used() {
        let env = Env::new();
        let out = env
            .call(Some("alice"), "CreateAccessKey", json!({}))
            .unwrap();
        let id = out["AccessKey"]["AccessKeyId"].as_str().unwrap();
        let used = env
            .call(
                Some("alice"),
                "GetAccessKeyLastUsed",
                json!({"AccessKeyId": id}),
            )
            .unwrap();
        assert_eq!(
            used,
            json!({"UserName": "alice", "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"}})
        );
        env.store()
            .record_access_key_use(id, "iam", "us-east-1", now())
            .unwrap();
        let used = env
            .call(None, "GetAccessKeyLastUsed", json!({"AccessKeyId": id}))
            .unwrap();
        assert_eq!(
            used["AccessKeyLastUsed"]["LastUsedDate"],
            date_str(now().timestamp())
        );
        assert_eq!(used["AccessKeyLastUsed"]["ServiceName"], "iam");

        let status = |s: &str| json!({"AccessKeyId": id, "Status": s});
        assert_eq!(
            code(env.call(Some("alice"), "UpdateAccessKey", status("Expired"))),
            "ValidationError"
        );
        assert_eq!(
            code(env.call(Some("alice"), "UpdateAccessKey", json!({"AccessKeyId": id}))),
            "ValidationError"
        );
        env.call(Some("alice"), "UpdateAccessKey", status("Inactive"))
            .unwrap();
        let listed = env
            .call(Some("alice"), "ListAccessKeys", json!({}))
            .unwrap();
        assert_eq!(listed["AccessKeyMetadata"][0]["Status"], "Inactive");

        assert_eq!(
            code(env.call(None, "DeleteUser", json!({}))),
            "InvalidAction"
        );
        let e = env.store().delete_user(&user("alice")).unwrap_err();
        assert_eq!(e.aws_code(), "DeleteConflict");
        env.call(Some("alice"), "DeleteAccessKey", json!({"AccessKeyId": id}))
            .unwrap();
        let again = env.call(Some("alice"), "DeleteAccessKey", json!({"AccessKeyId": id}));
        assert_eq!(code(again), "NoSuchEntity");
        let missing = env.call(None, "GetAccessKeyLastUsed", json!({"AccessKeyId": id}));
        assert_eq!(code(missing), "NoSuchEntity");
    }

    #[test]
    fn bad_input_is_a_validation_error() {
        let env = Env::new();
        for (action, input) in [
            ("CreateAccessKey", json!({"UserName": "no spaces"})),
            ("DeleteAccessKey", json!({"AccessKeyId": "short"})),
            (
                "DeleteAccessKey",
                json!({"AccessKeyId": "AKIA/../AAAAAAAAAAAAAA"}),
            ),
            ("GetAccessKeyLastUsed", json!({})),
            (
                "GetAccessKeyLastUsed",
                json!({"AccessKeyId": "AKIAAAAAAAAAAAAAAAAA", "UserName": "bob"}),
            ),
            // Root has no keys of its own.
            ("CreateAccessKey", json!({})),
        ] {
            assert_eq!(
                code(env.call(None, action, input.clone())),
                "ValidationError",
                "{action} {input}"
            );
        }
        assert!(
            env.store()
                .list_access_keys(&user("alice"))
                .unwrap()
                .is_empty()
        );
    }
}
