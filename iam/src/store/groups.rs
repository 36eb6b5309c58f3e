//! Groups and group membership.

use super::change_one;
use super::sql::{Connection, OptionalExtension, Row, params};
use super::users::{USER_COLUMNS, USERS, corrupt, user_id};
use super::{EntityKind, Group, MAX_GROUPS_PER_USER, Result, Store, StoreError, User, to_u32};
use crate::names::{GroupName, IamPath, UniqueIdKind, UserName, group_arn, new_unique_id};
use chrono::{DateTime, Utc};

const GROUP_COLUMNS: &str = "g.name, g.path, g.unique_id, g.create_date, g.gid";

impl Store {
    /// `CreateGroup`: allocates a unique id and a never-used Linux gid.
    /// Refused if the name shadows a local account; see
    /// [`crate::local_accounts`].
    pub fn create_group(
        &self,
        name: &GroupName,
        path: &IamPath,
        now: DateTime<Utc>,
    ) -> Result<Group> {
        let unique_id = new_unique_id(UniqueIdKind::Group)?;
        self.write(|c| {
            if find_group_id(c, name)?.is_some() {
                return Err(StoreError::exists(EntityKind::Group, name));
            }
            self.check_linux_name(c, EntityKind::Group, name.as_str())?;
            let gid = self.allocate_linux_id(c, "group", name.as_str(), now)?;
            c.execute(
                "INSERT INTO groups (name, path, unique_id, create_date, gid) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name.as_str(), path.as_str(), unique_id, now.timestamp(), gid],
            )?;
            self.group_in(c, name)
        })
    }

    /// `GetGroup` (the group itself; see [`Store::users_in_group`]).
    pub fn get_group(&self, name: &GroupName) -> Result<Group> {
        self.read(|c| self.group_in(c, name))
    }

    /// `ListGroups`, sorted by name, optionally under a path prefix.
    pub fn list_groups(&self, path_prefix: Option<&str>) -> Result<Vec<Group>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {GROUP_COLUMNS} FROM groups g ORDER BY g.name COLLATE NOCASE"
            ))?;
            let rows = st.query_map((), |r| Ok(self.group_from_row(r)))?;
            let mut out = Vec::new();
            for row in rows {
                let g = row??;
                if path_prefix.is_none_or(|p| g.path.has_prefix(p)) {
                    out.push(g);
                }
            }
            Ok(out)
        })
    }

    /// `DeleteGroup`: refused while it has members or policies.
    pub fn delete_group(&self, name: &GroupName) -> Result<()> {
        self.write(|c| {
            let id = group_id(c, name)?;
            let count = |sql: &str| -> Result<i64> { Ok(c.query_row(sql, [id], |r| r.get(0))?) };
            if count("SELECT count(*) FROM group_members WHERE group_id = ?1")? > 0 {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must remove users from group first.".into(),
                ));
            }
            if count("SELECT count(*) FROM inline_policies WHERE entity_kind = 'group' AND entity_id = ?1")? > 0
                || count("SELECT count(*) FROM attachments WHERE entity_kind = 'group' AND entity_id = ?1")? > 0
            {
                return Err(StoreError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            c.execute("DELETE FROM groups WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    /// `UpdateGroup`: rename and/or move. The gid stays. A new name that
    /// shadows a local account is refused.
    pub fn update_group(
        &self,
        name: &GroupName,
        new_name: Option<&GroupName>,
        new_path: Option<&IamPath>,
    ) -> Result<Group> {
        self.write(|c| {
            let id = group_id(c, name)?;
            if let Some(n) = new_name {
                if find_group_id(c, n)?.is_some_and(|other| other != id) {
                    return Err(StoreError::exists(EntityKind::Group, n));
                }
                self.check_linux_name(c, EntityKind::Group, n.as_str())?;
                c.execute(
                    "UPDATE groups SET name = ?1 WHERE id = ?2",
                    params![n.as_str(), id],
                )?;
            }
            if let Some(p) = new_path {
                c.execute(
                    "UPDATE groups SET path = ?1 WHERE id = ?2",
                    params![p.as_str(), id],
                )?;
            }
            self.group_in(c, new_name.unwrap_or(name))
        })
    }

    /// `AddUserToGroup`: idempotent, at most 10 groups per user.
    pub fn add_user_to_group(&self, user: &UserName, group: &GroupName) -> Result<()> {
        self.write(|c| {
            let gid = group_id(c, group)?;
            let uid = user_id(c, user)?;
            let already: Option<i64> = c
                .query_row(
                    "SELECT 1 FROM group_members WHERE group_id = ?1 AND user_id = ?2",
                    params![gid, uid],
                    |r| r.get(0),
                )
                .optional()?;
            if already.is_some() {
                return Ok(());
            }
            let n: u32 = c.query_row(
                "SELECT count(*) FROM group_members WHERE user_id = ?1",
                [uid],
                |r| r.get(0),
            )?;
            if n >= MAX_GROUPS_PER_USER {
                return Err(StoreError::LimitExceeded(format!(
                    "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"
                )));
            }
            c.execute(
                "INSERT INTO group_members (group_id, user_id) VALUES (?1, ?2)",
                params![gid, uid],
            )?;
            Ok(())
        })
    }

    /// `RemoveUserFromGroup`.
    pub fn remove_user_from_group(&self, user: &UserName, group: &GroupName) -> Result<()> {
        self.write(|c| {
            let gid = group_id(c, group)?;
            let uid = user_id(c, user)?;
            change_one(
                c,
                "DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2",
                params![gid, uid],
                || StoreError::no_such(EntityKind::User, format!("{user} in group {group}")),
            )
        })
    }

    /// `ListGroupsForUser`, sorted by name.
    pub fn groups_for_user(&self, user: &UserName) -> Result<Vec<Group>> {
        self.read(|c| {
            let uid = user_id(c, user)?;
            self.groups_for_user_id(c, uid)
        })
    }

    /// The users in a group (`GetGroup`'s `Users`), sorted by name.
    pub fn users_in_group(&self, group: &GroupName) -> Result<Vec<User>> {
        self.read(|c| {
            let gid = group_id(c, group)?;
            let mut st = c.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM {USERS} JOIN group_members m ON m.user_id = users.id
                 WHERE m.group_id = ?1 ORDER BY users.name COLLATE NOCASE"
            ))?;
            let rows = st.query_map([gid], |r| Ok(self.user_from_row(r)))?;
            rows.map(|r| r?).collect()
        })
    }

    /// Every (user, group) membership, sorted by group then user name.
    pub fn group_memberships(&self) -> Result<Vec<(UserName, GroupName)>> {
        self.read(|c| {
            let mut st = c.prepare_cached(
                "SELECT u.name, g.name FROM group_members m
                 JOIN users u ON u.id = m.user_id JOIN groups g ON g.id = m.group_id
                 ORDER BY g.name COLLATE NOCASE, u.name COLLATE NOCASE",
            )?;
            let rows =
                st.query_map((), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (u, g) = row?;
                out.push((
                    UserName::parse(&u).map_err(corrupt)?,
                    GroupName::parse(&g).map_err(corrupt)?,
                ));
            }
            Ok(out)
        })
    }

    pub(crate) fn groups_for_user_id(&self, c: &Connection, uid: i64) -> Result<Vec<Group>> {
        let mut st = c.prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g JOIN group_members m ON m.group_id = g.id
             WHERE m.user_id = ?1 ORDER BY g.name COLLATE NOCASE"
        ))?;
        let rows = st.query_map([uid], |r| Ok(self.group_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    pub(crate) fn group_in(&self, c: &Connection, name: &GroupName) -> Result<Group> {
        c.query_row(
            &format!("SELECT {GROUP_COLUMNS} FROM groups g WHERE g.name = ?1"),
            [name.as_str()],
            |r| Ok(self.group_from_row(r)),
        )
        .optional()?
        .ok_or_else(|| StoreError::no_such(EntityKind::Group, name))?
    }

    fn group_from_row(&self, r: &Row<'_>) -> Result<Group> {
        let name = GroupName::parse(&r.get::<_, String>(0)?).map_err(corrupt)?;
        let path = IamPath::parse(&r.get::<_, String>(1)?).map_err(corrupt)?;
        Ok(Group {
            arn: group_arn(&self.account, &path, &name),
            id: r.get(2)?,
            create_date: r.get(3)?,
            gid: to_u32(r.get(4)?, "gid")?,
            name,
            path,
        })
    }
}

pub(crate) fn find_group_id(c: &Connection, name: &GroupName) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT id FROM groups WHERE name = ?1",
        [name.as_str()],
        |r| r.get(0),
    )
    .optional()?)
}

pub(crate) fn group_id(c: &Connection, name: &GroupName) -> Result<i64> {
    find_group_id(c, name)?.ok_or_else(|| StoreError::no_such(EntityKind::Group, name))
}
