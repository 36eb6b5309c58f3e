//! Instance profiles: what hands a role to a host, as EC2 hands one to an
//! instance (AWS's verbs and rules: one role per profile, a role in a
//! profile cannot be deleted, a profile holding a role cannot be deleted).

use super::roles::role_id;
use super::sql::{Connection, OptionalExtension, Row, params};
use super::users::{
    corrupt, load_tags, merge_tags, parse_tags, remove_tags, store_tags, tags_json,
};
use super::{EntityKind, InstanceProfile, NewInstanceProfile, Result, Role, Store, StoreError};
use crate::names::{
    IamPath, InstanceProfileName, RoleName, Tag, TagKey, UniqueIdKind, check_tags,
    instance_profile_arn, new_unique_id,
};
use chrono::{DateTime, Utc};

/// AWS's quota `InstanceSessionsPerInstanceProfile`: roles in one profile.
pub const MAX_ROLES_PER_INSTANCE_PROFILE: u32 = 1;

const PROFILE_COLUMNS: &str = "p.name, p.path, p.unique_id, p.create_date, p.tags, r.name";
const PROFILES: &str = "instance_profiles p LEFT JOIN roles r ON r.unique_id = p.role_id";

impl Store {
    /// `CreateInstanceProfile`.
    pub fn create_instance_profile(
        &self,
        new: &NewInstanceProfile,
        now: DateTime<Utc>,
    ) -> Result<InstanceProfile> {
        check_tags(&new.tags)?;
        let unique_id = new_unique_id(UniqueIdKind::InstanceProfile)?;
        self.write(|c| {
            if find_profile_id(c, &new.name)?.is_some() {
                return Err(StoreError::exists(EntityKind::InstanceProfile, &new.name));
            }
            c.execute(
                "INSERT INTO instance_profiles (name, path, unique_id, create_date, tags)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    new.name.as_str(),
                    new.path.as_str(),
                    unique_id,
                    now.timestamp(),
                    tags_json(&new.tags)?
                ],
            )?;
            self.instance_profile_in(c, &new.name)
        })
    }

    /// `GetInstanceProfile`: with its role and tags.
    pub fn get_instance_profile(&self, name: &InstanceProfileName) -> Result<InstanceProfile> {
        self.read(|c| self.instance_profile_in(c, name))
    }

    /// `ListInstanceProfiles`, by name, optionally under a path prefix.
    pub fn list_instance_profiles(
        &self,
        path_prefix: Option<&str>,
    ) -> Result<Vec<InstanceProfile>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {PROFILE_COLUMNS} FROM {PROFILES} ORDER BY p.name COLLATE NOCASE"
            ))?;
            let rows = st.query_map((), |r| Ok(self.profile_from_row(c, r)))?;
            let mut out = Vec::new();
            for row in rows {
                let profile = row??;
                if path_prefix.is_none_or(|p| profile.path.has_prefix(p)) {
                    out.push(profile);
                }
            }
            Ok(out)
        })
    }

    /// `ListInstanceProfilesForRole`: the profiles holding `role`.
    pub fn list_instance_profiles_for_role(&self, role: &RoleName) -> Result<Vec<InstanceProfile>> {
        self.read(|c| {
            role_id(c, role)?;
            let mut st = c.prepare_cached(&format!(
                "SELECT {PROFILE_COLUMNS} FROM {PROFILES} WHERE r.name = ?1
                 ORDER BY p.name COLLATE NOCASE"
            ))?;
            let rows = st.query_map([role.as_str()], |r| Ok(self.profile_from_row(c, r)))?;
            rows.map(|r| r?).collect()
        })
    }

    /// `DeleteInstanceProfile`: refused while it holds a role (AWS's
    /// `DeleteConflict`). Its join tokens and enrolled hosts go with it.
    pub fn delete_instance_profile(&self, name: &InstanceProfileName) -> Result<()> {
        self.write(|c| {
            let id = profile_id(c, name)?;
            if held_role(c, id)?.is_some() {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must remove roles from instance profile first.".into(),
                ));
            }
            c.execute("DELETE FROM instance_profiles WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// `AddRoleToInstanceProfile`: at most
    /// [`MAX_ROLES_PER_INSTANCE_PROFILE`] role.
    pub fn add_role_to_instance_profile(
        &self,
        name: &InstanceProfileName,
        role: &RoleName,
    ) -> Result<()> {
        self.write(|c| {
            let id = profile_id(c, name)?;
            let role_unique_id: String = c.query_row(
                "SELECT unique_id FROM roles WHERE id = ?1",
                [role_id(c, role)?],
                |r| r.get(0),
            )?;
            if held_role(c, id)?.is_some() {
                return Err(StoreError::LimitExceeded(format!(
                    "Cannot exceed quota for InstanceSessionsPerInstanceProfile: \
                     {MAX_ROLES_PER_INSTANCE_PROFILE}"
                )));
            }
            c.execute(
                "UPDATE instance_profiles SET role_id = ?1 WHERE id = ?2",
                params![role_unique_id, id],
            )?;
            Ok(())
        })
    }

    /// `RemoveRoleFromInstanceProfile`: the role must be the one it holds.
    /// Every host enrolled with the profile is refused from then on.
    pub fn remove_role_from_instance_profile(
        &self,
        name: &InstanceProfileName,
        role: &RoleName,
    ) -> Result<()> {
        self.write(|c| {
            let id = profile_id(c, name)?;
            let role_id = role_id(c, role)?;
            super::change_one(
                c,
                "UPDATE instance_profiles SET role_id = NULL
                 WHERE id = ?1 AND role_id = (SELECT unique_id FROM roles WHERE id = ?2)",
                params![id, role_id],
                || StoreError::no_such(EntityKind::Role, role),
            )
        })
    }

    /// `TagInstanceProfile`.
    pub fn tag_instance_profile(&self, name: &InstanceProfileName, tags: &[Tag]) -> Result<()> {
        self.write(|c| {
            let id = profile_id(c, name)?;
            let current = load_tags(c, "instance_profiles", id)?;
            store_tags(c, "instance_profiles", id, merge_tags(current, tags))
        })
    }

    /// `UntagInstanceProfile`.
    pub fn untag_instance_profile(
        &self,
        name: &InstanceProfileName,
        keys: &[TagKey],
    ) -> Result<()> {
        self.write(|c| {
            let id = profile_id(c, name)?;
            let current = load_tags(c, "instance_profiles", id)?;
            store_tags(c, "instance_profiles", id, remove_tags(current, keys))
        })
    }

    pub(crate) fn instance_profile_in(
        &self,
        c: &Connection,
        name: &InstanceProfileName,
    ) -> Result<InstanceProfile> {
        c.query_row(
            &format!("SELECT {PROFILE_COLUMNS} FROM {PROFILES} WHERE p.name = ?1"),
            [name.as_str()],
            |r| Ok(self.profile_from_row(c, r)),
        )
        .optional()?
        .ok_or_else(|| StoreError::no_such(EntityKind::InstanceProfile, name))?
    }

    /// Maps a row selected with [`PROFILE_COLUMNS`].
    fn profile_from_row(&self, c: &Connection, r: &Row<'_>) -> Result<InstanceProfile> {
        let name = InstanceProfileName::parse(&r.get::<_, String>(0)?).map_err(corrupt)?;
        let path = IamPath::parse(&r.get::<_, String>(1)?).map_err(corrupt)?;
        let roles: Vec<Role> = match r.get::<_, Option<String>>(5)? {
            Some(role) => vec![self.role_in(c, &RoleName::parse(&role).map_err(corrupt)?)?],
            None => Vec::new(),
        };
        Ok(InstanceProfile {
            arn: instance_profile_arn(&self.account, &path, &name),
            id: r.get(2)?,
            create_date: r.get(3)?,
            tags: parse_tags(&r.get::<_, String>(4)?)?,
            roles,
            name,
            path,
        })
    }
}

/// The unique id of the role profile `id` holds, if any.
fn held_role(c: &Connection, id: i64) -> Result<Option<String>> {
    Ok(c.query_row(
        "SELECT role_id FROM instance_profiles WHERE id = ?1",
        [id],
        |r| r.get(0),
    )?)
}

fn find_profile_id(c: &Connection, name: &InstanceProfileName) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT id FROM instance_profiles WHERE name = ?1",
        [name.as_str()],
        |r| r.get(0),
    )
    .optional()?)
}

pub(crate) fn profile_id(c: &Connection, name: &InstanceProfileName) -> Result<i64> {
    find_profile_id(c, name)?.ok_or_else(|| StoreError::no_such(EntityKind::InstanceProfile, name))
}
