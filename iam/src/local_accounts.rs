//! Which IAM users and groups may become Linux accounts on a host: the one
//! rule against IAM names that shadow local accounts.
//!
//! Local privileges are granted by name: sudo's `%sudo`/`%admin`, polkit's
//! `wheel`, the docker and lxd sockets, `adm`'s logs, `disk`, `shadow`, …
//! An IAM group published into extrausers as `sudo` would make whoever may
//! create IAM groups (or add users to one) root on every host, without any
//! `host:RunAs`. So an IAM user (with its private group: same name, gid ==
//! uid) or an IAM group *collides* when
//! - its name equals, ASCII case-insensitively, a name in `/etc/passwd` or
//!   `/etc/group` (users and groups alike: a user's private group is a
//!   group, and a local user's name is usually a group's too), or one of
//!   [`RESERVED_NAMES`], which are refused on every host whether present or
//!   not (a directory is shared by hosts that differ);
//! - or its id equals a uid or gid in those files.
//!
//! A colliding entity is refused at create and rename (by the store, see
//! [`crate::store::Store::set_local_accounts`]), never published (see
//! [`crate::publish::extrausers`]), and reported by `iamctl doctor`. Local
//! privileges come only from `[group_map]`, which a host's administrator
//! writes. The files are read directly, never through NSS: NSS would
//! include extrausers itself.

use crate::store::{Store, StoreError};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The host's account files.
pub const HOST_PASSWD: &str = "/etc/passwd";
pub const HOST_GROUP: &str = "/etc/group";

/// Names no IAM user or group may have on any host, present there or not:
/// Debian's base-passwd users and groups, systemd's, and the groups that
/// grant root or device access on common distributions (sudo, wheel,
/// admin, docker, lxd, incus, libvirt, kvm, …). Lower case, compared ASCII
/// case-insensitively.
pub const RESERVED_NAMES: &[&str] = &[
    "_apt",
    "_ssh",
    "adm",
    "admin",
    "audio",
    "backup",
    "bin",
    "cdrom",
    "daemon",
    "dialout",
    "dip",
    "disk",
    "docker",
    "fax",
    "floppy",
    "games",
    "gnats",
    "halt",
    "incus",
    "incus-admin",
    "input",
    "irc",
    "kmem",
    "kvm",
    "libvirt",
    "libvirt-qemu",
    "list",
    "lp",
    "lpadmin",
    "lxd",
    "mail",
    "man",
    "messagebus",
    "netdev",
    "news",
    "nobody",
    "nogroup",
    "operator",
    "plugdev",
    "polkitd",
    "proxy",
    "render",
    "root",
    "sambashare",
    "sasl",
    "sgx",
    "shadow",
    "shutdown",
    "src",
    "ssh",
    "sshd",
    "ssl-cert",
    "staff",
    "sudo",
    "sync",
    "sys",
    "systemd-coredump",
    "systemd-journal",
    "systemd-network",
    "systemd-resolve",
    "systemd-timesync",
    "tape",
    "tty",
    "users",
    "utmp",
    "uucp",
    "video",
    "voice",
    "wheel",
    "www-data",
];

/// What an IAM name or id collides with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collision {
    /// A name in `/etc/passwd` (as written there).
    LocalUser(String),
    /// A name in `/etc/group`.
    LocalGroup(String),
    /// One of [`RESERVED_NAMES`].
    Reserved(String),
    /// A uid in `/etc/passwd`, and whose it is.
    LocalUid {
        id: u32,
        user: String,
    },
    /// A gid in `/etc/group`, and whose it is.
    LocalGid {
        id: u32,
        group: String,
    },
    /// An IAM user's name (its private Linux group) taken by a group, or
    /// an IAM group's name taken by a user: one Linux group name, two
    /// entities, and the publisher would have to drop one.
    IamUser(String),
    IamGroup(String),
}

impl fmt::Display for Collision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LocalUser(n) => write!(f, "the local user {n} on this host"),
            Self::LocalGroup(n) => write!(f, "the local group {n} on this host"),
            Self::Reserved(n) => write!(f, "the system name {n}, reserved on every host"),
            Self::LocalUid { id, user } => {
                write!(f, "uid {id} of the local user {user} on this host")
            }
            Self::LocalGid { id, group } => {
                write!(f, "gid {id} of the local group {group} on this host")
            }
            Self::IamUser(n) => write!(f, "the Linux group of the IAM user {n}"),
            Self::IamGroup(n) => write!(f, "the Linux group of the IAM group {n}"),
        }
    }
}

/// Which IAM entity collides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamAccountKind {
    /// An IAM user, and with it its private group.
    User,
    Group,
}

impl IamAccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
        }
    }
}

/// An IAM user or group in the store that collides: never published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowing {
    pub kind: IamAccountKind,
    pub name: String,
    pub collision: Collision,
}

impl fmt::Display for Shadowing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IAM {} {} collides with {}",
            self.kind.as_str(),
            self.name,
            self.collision
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct LocalAccountsError {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// The names and ids of a host's local accounts. The default knows none,
/// so only [`RESERVED_NAMES`] apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalAccounts {
    /// Lower-cased name → name as written.
    users: BTreeMap<String, String>,
    groups: BTreeMap<String, String>,
    uids: BTreeMap<u32, String>,
    gids: BTreeMap<u32, String>,
}

impl LocalAccounts {
    /// This host's `/etc/passwd` and `/etc/group`. Unreadable is an error:
    /// without them no collision can be ruled out.
    pub fn read_host() -> Result<Self, LocalAccountsError> {
        Self::read(Path::new(HOST_PASSWD), Path::new(HOST_GROUP))
    }

    /// Reads the given passwd and group files.
    pub fn read(passwd: &Path, group: &Path) -> Result<Self, LocalAccountsError> {
        let read = |path: &Path| {
            std::fs::read(path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|source| LocalAccountsError {
                    path: path.display().to_string(),
                    source,
                })
        };
        Ok(Self::parse(&read(passwd)?, &read(group)?))
    }

    /// From the texts of a passwd and a group file (`name:x:id:…` lines;
    /// comments, blank lines and NIS `+`/`-` markers tolerated).
    pub fn parse(passwd: &str, group: &str) -> Self {
        let mut out = Self::default();
        for (name, id) in entries(passwd) {
            out.users.insert(name.to_ascii_lowercase(), name.to_owned());
            if let Some(id) = id {
                out.uids.entry(id).or_insert_with(|| name.to_owned());
            }
        }
        for (name, id) in entries(group) {
            out.groups
                .insert(name.to_ascii_lowercase(), name.to_owned());
            if let Some(id) = id {
                out.gids.entry(id).or_insert_with(|| name.to_owned());
            }
        }
        out
    }

    /// What an IAM user or group named `name` would collide with by name:
    /// a local user, a local group, then the reserved list.
    pub fn name_collision(&self, name: &str) -> Option<Collision> {
        let key = name.to_ascii_lowercase();
        if let Some(n) = self.users.get(&key) {
            return Some(Collision::LocalUser(n.clone()));
        }
        if let Some(n) = self.groups.get(&key) {
            return Some(Collision::LocalGroup(n.clone()));
        }
        RESERVED_NAMES
            .iter()
            .find(|r| r.eq_ignore_ascii_case(name))
            .map(|r| Collision::Reserved((*r).to_owned()))
    }

    /// What a Linux id (a uid, and the same gid for a user's private group)
    /// would collide with.
    pub fn id_collision(&self, id: u32) -> Option<Collision> {
        if let Some(user) = self.uids.get(&id) {
            return Some(Collision::LocalUid {
                id,
                user: user.clone(),
            });
        }
        self.gids.get(&id).map(|group| Collision::LocalGid {
            id,
            group: group.clone(),
        })
    }

    /// Whether `id` is a local uid or gid (the allocator skips those).
    pub fn id_taken(&self, id: u32) -> bool {
        self.uids.contains_key(&id) || self.gids.contains_key(&id)
    }

    /// An IAM user or group named `name` with Linux id `id`.
    pub fn collision(&self, name: &str, id: u32) -> Option<Collision> {
        self.name_collision(name).or_else(|| self.id_collision(id))
    }

    /// The [`Shadowing`] an IAM `kind` named `name` with id `id` would be.
    pub fn shadowing(&self, kind: IamAccountKind, name: &str, id: u32) -> Option<Shadowing> {
        self.collision(name, id).map(|collision| Shadowing {
            kind,
            name: name.to_owned(),
            collision,
        })
    }
}

/// `(name, id)` of each entry of a passwd or group file.
fn entries(text: &str) -> impl Iterator<Item = (&str, Option<u32>)> {
    text.lines().filter_map(|line| {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut fields = line.split(':');
        let name = fields.next()?.trim_start_matches(['+', '-']);
        if name.is_empty() || name.starts_with('@') {
            return None;
        }
        let id = fields.nth(1).and_then(|f| f.trim().parse().ok());
        Some((name, id))
    })
}

/// Every IAM user and group in `store` that collides on this host, users
/// first, in name order.
pub fn find_shadowing(store: &Store, local: &LocalAccounts) -> Result<Vec<Shadowing>, StoreError> {
    let (users, groups) = store.snapshot(|s| Ok((s.list_users(None)?, s.list_groups(None)?)))?;
    let users = users
        .iter()
        .filter_map(|u| local.shadowing(IamAccountKind::User, u.name.as_str(), u.uid));
    let groups = groups
        .iter()
        .filter_map(|g| local.shadowing(IamAccountKind::Group, g.name.as_str(), g.gid));
    Ok(users.chain(groups).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        # a comment\n\
        \n\
        Build:x:1000:1000::/home/build:/bin/sh\n\
        +nisuser::::::\n\
        +@netgroup::::::\n";
    const GROUP: &str = "root:x:0:\nsudo:x:27:build\nbuild:x:1000:\ndevops:x:4242:\n";

    fn host() -> LocalAccounts {
        LocalAccounts::parse(PASSWD, GROUP)
    }

    #[test]
    fn local_names_collide_whatever_their_case() {
        let l = host();
        for name in ["sudo", "Sudo", "SUDO", "sUdO"] {
            assert_eq!(
                l.name_collision(name),
                Some(Collision::LocalGroup("sudo".into())),
                "{name}"
            );
        }
        // A user name wins over the same group name; as written locally.
        assert_eq!(
            l.name_collision("build"),
            Some(Collision::LocalUser("Build".into()))
        );
        assert_eq!(
            l.name_collision("DEVOPS"),
            Some(Collision::LocalGroup("devops".into()))
        );
        assert_eq!(
            l.name_collision("nisuser"),
            Some(Collision::LocalUser("nisuser".into()))
        );
        for free in [
            "alice",
            "developers",
            "sudoers",
            "netgroup",
            "@netgroup",
            "",
        ] {
            assert_eq!(l.name_collision(free), None, "{free}");
        }
    }

    #[test]
    fn reserved_names_collide_on_every_host() {
        let none = LocalAccounts::default();
        for name in [
            "root",
            "wheel",
            "WHEEL",
            "admin",
            "Admin",
            "docker",
            "lxd",
            "adm",
            "disk",
            "shadow",
            "kvm",
            "libvirt",
            "www-data",
            "_apt",
            "systemd-journal",
            "nogroup",
            "nobody",
        ] {
            assert_eq!(
                none.name_collision(name),
                Some(Collision::Reserved(name.to_ascii_lowercase())),
                "{name}"
            );
        }
        assert_eq!(none.name_collision("alice"), None);
        // A local account of a reserved name is reported as the local one.
        assert_eq!(
            host().name_collision("root"),
            Some(Collision::LocalUser("root".into()))
        );
    }

    #[test]
    fn reserved_names_are_lower_case_sorted_and_unique() {
        assert!(RESERVED_NAMES.windows(2).all(|w| w[0] < w[1]));
        for name in RESERVED_NAMES {
            assert_eq!(*name, name.to_ascii_lowercase());
            assert!(crate::names::GroupName::parse(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn ids_collide_with_local_uids_and_gids() {
        let l = host();
        assert_eq!(
            l.id_collision(0),
            Some(Collision::LocalUid {
                id: 0,
                user: "root".into()
            })
        );
        assert_eq!(
            l.id_collision(27),
            Some(Collision::LocalGid {
                id: 27,
                group: "sudo".into()
            })
        );
        assert_eq!(l.id_collision(200_000), None);
        assert!(l.id_taken(4242) && l.id_taken(1000) && !l.id_taken(4243));
        // By name first, then by id.
        assert_eq!(
            l.collision("alice", 4242),
            Some(Collision::LocalGid {
                id: 4242,
                group: "devops".into()
            })
        );
        assert_eq!(
            l.collision("sudo", 4242),
            Some(Collision::LocalGroup("sudo".into()))
        );
        assert_eq!(l.collision("alice", 200_000), None);
    }

    #[test]
    fn reads_files_and_fails_closed_when_it_cannot() {
        let d = tempfile::tempdir().unwrap();
        let (p, g) = (d.path().join("passwd"), d.path().join("group"));
        std::fs::write(&p, PASSWD).unwrap();
        std::fs::write(&g, b"wheel\xff:x:10:\n").unwrap();
        let l = LocalAccounts::read(&p, &g).unwrap();
        assert!(l.name_collision("build").is_some());
        assert!(l.id_taken(10), "a non-UTF-8 line still counts");
        let e = LocalAccounts::read(&p, &d.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn messages_name_what_collides() {
        let s = Shadowing {
            kind: IamAccountKind::Group,
            name: "Sudo".into(),
            collision: Collision::LocalGroup("sudo".into()),
        };
        assert_eq!(
            s.to_string(),
            "IAM group Sudo collides with the local group sudo on this host"
        );
        assert_eq!(
            Collision::Reserved("wheel".into()).to_string(),
            "the system name wheel, reserved on every host"
        );
    }
}
