//! `iam-server bootstrap`: the directory's first administrator, made
//! locally by the server's own user (there are no root access keys, as AWS
//! advises): `runuser -u iam-server -- iam-server bootstrap`.

use crate::access_keys;
use crate::config::ServerConfig;
use crate::keyring::{self, Keyring};
use iam::names::{AccountId, UniqueIdKind, UserName, new_unique_id};
use iam::store::{Entity, NewUser};
use serde_json::{Value, json};

/// The administrator's inline policy: everything, as AWS's
/// AdministratorAccess.
const ADMINISTRATOR_POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// Why a command on the server's own directory failed (`bootstrap`,
/// `join-token`, `revoke-host`).
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("{0}")]
    Store(#[from] iam::store::StoreError),
    #[error("{0}")]
    Name(#[from] iam::names::NameError),
    #[error("{0}")]
    Keyring(#[from] keyring::KeyringError),
    #[error("{0}")]
    Directory(#[from] crate::directory::DirectoryError),
    /// An argument that is not a name (`--expires-in 2 weeks`).
    #[error("{0}")]
    Argument(String),
}

/// Opens (creating if needed) the directory and the server key, creates
/// `user_name` with an administrator policy and one access key, and
/// returns the key as `aws iam create-access-key` prints it (the only time
/// the secret is shown).
pub fn run(config: &ServerConfig, user_name: &str) -> Result<Value, LocalError> {
    AccountId::parse(&config.account_id)?;
    let mut store = crate::directory::Directory::open(config)?.store()?;
    store.set_limits(iam::store::Limits {
        uid_range: config.uid_range,
        ..store.limits()
    });
    let keyring = Keyring::open_or_create(&config.key_path())?;
    let name = UserName::parse(user_name)?;
    let access_key_id =
        new_unique_id(UniqueIdKind::AccessKey).map_err(keyring::KeyringError::from)?;
    let secret = keyring::new_secret()?;
    let sealed = keyring.seal(&access_key_id, &secret)?;
    let now = chrono::Utc::now();
    let key = store.atomically(|s| {
        s.create_user(
            &NewUser {
                name: name.clone(),
                path: iam::names::IamPath::root(),
                tags: Vec::new(),
                permissions_boundary: None,
            },
            now,
        )?;
        s.put_inline_policy(
            &Entity::User(name.clone()),
            &iam::names::PolicyName::parse("AdministratorAccess")?,
            ADMINISTRATOR_POLICY,
        )?;
        s.create_access_key(&name, &access_key_id, &sealed, now)
    })?;
    Ok(json!({"AccessKey": access_keys::shape(&key, Some(&secret))}))
}
