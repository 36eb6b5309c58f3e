//! The directory as login, principal resolution and publishing read it:
//! what an administrator writes and a fleet replicates (docs/ARCHITECTURE.md).
//! Reads only: login-time state goes to the [`crate::ledger`], so a replica
//! or another backend can stand behind this trait. The SQLite [`Store`]
//! implements it; its own methods are the directory's writers (`iamctl`).

use crate::names::{AccountId, GroupName, RoleName, UserName};
use crate::password::PasswordPolicy;
use crate::recovery_codes::RecoveryCodes;
use crate::store::{
    Group, LoginProfile, MfaDevice, PrincipalPolicies, Result, Role, SshPublicKey, Store, User,
};

/// Users, groups and memberships, read in one snapshot (for publishing).
pub type Published = (Vec<User>, Vec<Group>, Vec<(UserName, GroupName)>);

/// Reads of the directory. Errors as the store's (`NoSuchEntity`, …).
pub trait Directory {
    /// The account the directory belongs to.
    fn account_id(&self) -> &AccountId;
    /// `None` for an unknown user (PAM's case).
    fn find_user(&self, name: &UserName) -> Result<Option<User>>;
    fn find_user_by_uid(&self, uid: u32) -> Result<Option<User>>;
    fn get_user(&self, name: &UserName) -> Result<User>;
    fn get_login_profile(&self, name: &UserName) -> Result<LoginProfile>;
    /// The newest `n` retired password hashes of `name`.
    fn password_history(&self, name: &UserName, n: u32) -> Result<Vec<String>>;
    /// The devices enabled for `user`.
    fn list_mfa_devices(&self, user: &UserName) -> Result<Vec<MfaDevice>>;
    /// The device with this serial number.
    fn get_mfa_device(&self, serial: &str) -> Result<MfaDevice>;
    /// `user`'s recovery codes (their hashes), if a set was made.
    fn recovery_codes(&self, user: &UserName) -> Result<Option<RecoveryCodes>>;
    fn get_password_policy(&self) -> Result<Option<PasswordPolicy>>;
    fn groups_for_user(&self, user: &UserName) -> Result<Vec<Group>>;
    fn get_role(&self, name: &RoleName) -> Result<Role>;
    fn policies_for_user(&self, name: &UserName) -> Result<PrincipalPolicies>;
    /// A role's policies (and so a role session's).
    fn policies_for_role(&self, name: &RoleName) -> Result<PrincipalPolicies>;
    /// Every user, group and membership, in one snapshot.
    fn published(&self) -> Result<Published>;
    /// Every active SSH public key (sshd's projection).
    fn active_ssh_public_keys(&self) -> Result<Vec<SshPublicKey>>;
    /// `user`'s SSH public keys, active or not.
    fn ssh_public_keys(&self, user: &UserName) -> Result<Vec<SshPublicKey>>;
    /// `user`'s SSH public key with this OpenSSH one-line body, active or
    /// not (the key sshd accepted, checked at login).
    fn find_ssh_public_key(&self, user: &UserName, body: &str) -> Result<Option<SshPublicKey>>;
    /// Runs `f` while no writer can change the directory (SQLite: under
    /// its write lock, writing nothing), so that publishers run one after
    /// another and the last one has seen every committed change.
    fn serialized(&self, f: &mut dyn FnMut(&dyn Directory) -> Result<()>) -> Result<()>;
}

impl Directory for Store {
    fn account_id(&self) -> &AccountId {
        Store::account_id(self)
    }
    fn find_user(&self, name: &UserName) -> Result<Option<User>> {
        Store::find_user(self, name)
    }
    fn find_user_by_uid(&self, uid: u32) -> Result<Option<User>> {
        Store::find_user_by_uid(self, uid)
    }
    fn get_user(&self, name: &UserName) -> Result<User> {
        Store::get_user(self, name)
    }
    fn get_login_profile(&self, name: &UserName) -> Result<LoginProfile> {
        Store::get_login_profile(self, name)
    }
    fn password_history(&self, name: &UserName, n: u32) -> Result<Vec<String>> {
        Store::password_history(self, name, n)
    }
    fn list_mfa_devices(&self, user: &UserName) -> Result<Vec<MfaDevice>> {
        Store::list_mfa_devices(self, user)
    }
    fn get_mfa_device(&self, serial: &str) -> Result<MfaDevice> {
        Store::get_mfa_device(self, serial)
    }
    fn recovery_codes(&self, user: &UserName) -> Result<Option<RecoveryCodes>> {
        Store::recovery_codes(self, user)
    }
    fn get_password_policy(&self) -> Result<Option<PasswordPolicy>> {
        Store::get_password_policy(self)
    }
    fn groups_for_user(&self, user: &UserName) -> Result<Vec<Group>> {
        Store::groups_for_user(self, user)
    }
    fn get_role(&self, name: &RoleName) -> Result<Role> {
        Store::get_role(self, name)
    }
    fn policies_for_user(&self, name: &UserName) -> Result<PrincipalPolicies> {
        Store::policies_for_user(self, name)
    }
    fn policies_for_role(&self, name: &RoleName) -> Result<PrincipalPolicies> {
        Store::policies_for_role(self, name)
    }
    fn published(&self) -> Result<Published> {
        self.snapshot(|s| {
            Ok((
                s.list_users(None)?,
                s.list_groups(None)?,
                s.group_memberships()?,
            ))
        })
    }
    fn active_ssh_public_keys(&self) -> Result<Vec<SshPublicKey>> {
        Store::active_ssh_public_keys(self)
    }
    fn find_ssh_public_key(&self, user: &UserName, body: &str) -> Result<Option<SshPublicKey>> {
        Store::find_ssh_public_key(self, user, body)
    }
    fn ssh_public_keys(&self, user: &UserName) -> Result<Vec<SshPublicKey>> {
        Store::list_ssh_public_keys(self, user)
    }
    fn serialized(&self, f: &mut dyn FnMut(&dyn Directory) -> Result<()>) -> Result<()> {
        self.atomically(|s| f(s))
    }
}
