//! Where iamctl and its role sessions sit in the cgroup hierarchies, and how
//! they get out of the caller's reach.
//!
//! A caller may own a cgroup (systemd's `Delegate=` hands `user@UID.service`
//! to its user; cgroup v1 hierarchies can be delegated the same way). In it
//! the caller can freeze, throttle or kill every process, root's included,
//! and move them between its own sub-cgroups. So a setuid iamctl of a
//! non-root caller moves itself, before it opens the store, out of every
//! cgroup that is not root's alone: into the root-owned `iam/iamctl`
//! (cgroup v2), to the root of the hierarchy (cgroup v1). A supervisor then
//! moves into `iam/sessions/ID/supervisor`, and its command starts in
//! `iam/sessions/ID/command` (layout: [`crate::elevate::session::IAMCTL_CGROUP`]).
//!
//! Every directory is opened from the mount's directory one component at a
//! time, without following symlinks, and must be root-owned and not group-
//! or world-writable; files are opened relative to it.

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};
use nix::sys::statfs::{CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, FsType, fstatfs};
use nix::unistd::{UnlinkatFlags, unlinkat};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Why iamctl refuses to run where it is.
#[derive(Debug)]
pub enum LeaveError {
    /// Its cgroup is one the caller controls and it could not get out.
    Stuck {
        hierarchy: String,
        path: String,
        why: String,
    },
}

impl std::fmt::Display for LeaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stuck {
                hierarchy,
                path,
                why,
            } => write!(
                f,
                "iamctl runs in cgroup {path} ({hierarchy}), which its caller controls (could freeze, throttle or kill it), and cannot leave it: {why}. Run iamctl from a cgroup that is not yours to control."
            ),
        }
    }
}

/// A cgroup file system mounted here.
#[derive(Debug, Clone)]
struct Mount {
    path: PathBuf,
    /// The root of the mount within its hierarchy (`/` for all of it).
    root: String,
    /// `None` for cgroup v2; the super options (controllers) of a v1 mount.
    v1_options: Option<Vec<String>>,
}

/// The cgroup mounts of our mount namespace, from `/proc/self/mountinfo`.
fn mounts() -> Vec<Mount> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let mut post = post.split_whitespace();
            let fstype = post.next()?;
            let options = post.nth(1).unwrap_or_default();
            let mut pre = pre.split_whitespace();
            let root = pre.nth(3)?.to_owned();
            let path = PathBuf::from(pre.next()?);
            match fstype {
                "cgroup2" => Some(Mount {
                    path,
                    root,
                    v1_options: None,
                }),
                "cgroup" => Some(Mount {
                    path,
                    root,
                    v1_options: Some(options.split(',').map(str::to_owned).collect()),
                }),
                _ => None,
            }
        })
        .collect()
}

/// One line of `/proc/self/cgroup`: hierarchy id, controllers, path.
fn own_cgroups() -> io::Result<Vec<(u32, String, String)>> {
    Ok(fs::read_to_string("/proc/self/cgroup")?
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let id = it.next()?.parse().ok()?;
            Some((id, it.next()?.to_owned(), it.next()?.to_owned()))
        })
        .collect())
}

fn open_dir_at(dir: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
    Ok(openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

fn open_mount(m: &Mount, magic: FsType) -> io::Result<OwnedFd> {
    let dir = nix::fcntl::open(
        &m.path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // What is there now, not what mountinfo said a moment ago.
    if fstatfs(&dir)?.filesystem_type() != magic {
        return Err(io::Error::other(format!(
            "{} is not a cgroup file system",
            m.path.display()
        )));
    }
    Ok(dir)
}

/// Root's, and writable by root alone.
fn roots_only(st: &FileStat) -> bool {
    st.st_uid == 0 && st.st_mode & 0o022 == 0
}

fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

fn check_roots_dir(dir: &OwnedFd, what: &str) -> io::Result<()> {
    let st = fstat(dir)?;
    if !is_dir(&st) || !roots_only(&st) {
        return Err(io::Error::other(format!(
            "{what} is not a root-owned directory that only root may write"
        )));
    }
    Ok(())
}

/// The components of a cgroup path relative to its mount (`a/b`, `/a/b`).
fn components(rel: &str) -> impl Iterator<Item = &str> {
    rel.split('/').filter(|c| !c.is_empty())
}

/// Whether no one but root has a say over the cgroup at `rel` below the
/// mount directory `top`: it and every directory above it (to the mount)
/// root-owned and not group- or world-writable, and every control file in
/// them root-owned and not group- or world-writable (v1's
/// `cgroup.event_control` is world-writable by design and harmless).
fn roots_alone(top: &OwnedFd, rel: &str) -> io::Result<bool> {
    let mut dir = nix::unistd::dup(top)?;
    let mut chain = Vec::new();
    for c in components(rel) {
        if c == ".." || c == "." {
            return Ok(false);
        }
        chain.push(c);
    }
    let mut i = 0;
    loop {
        let st = fstat(&dir)?;
        if !is_dir(&st) || !roots_only(&st) {
            return Ok(false);
        }
        let mut listing = Dir::from_fd(nix::unistd::dup(&dir)?)?;
        for entry in listing.iter() {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." {
                continue;
            }
            let st = fstatat(&dir, entry.file_name(), AtFlags::AT_SYMLINK_NOFOLLOW)?;
            if is_dir(&st) {
                continue; // a sub-cgroup: its files govern its processes, not ours
            }
            if st.st_uid != 0 || (st.st_mode & 0o022 != 0 && name != "cgroup.event_control") {
                return Ok(false);
            }
        }
        let Some(next) = chain.get(i) else {
            return Ok(true);
        };
        dir = open_dir_at(&dir, next)?;
        i += 1;
    }
}

/// Writes `0` (this process) into `cgroup.procs` of `dir`.
fn enter_dir(dir: &OwnedFd) -> io::Result<()> {
    let fd = openat(
        dir,
        "cgroup.procs",
        OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    File::from(fd).write_all(b"0")
}

/// The cgroup v2 hierarchy, opened at its mount.
pub struct Cgroup2 {
    dir: OwnedFd,
    path: PathBuf,
    base: String,
}

impl Cgroup2 {
    /// The cgroup2 mount (`/sys/fs/cgroup` on a unified host, often
    /// `/sys/fs/cgroup/unified` on a hybrid one), if any.
    pub fn open() -> Option<Self> {
        Self::open_from(&mounts())
    }

    fn open_from(mounts: &[Mount]) -> Option<Self> {
        let mut v2 = mounts.iter().filter(|m| m.v1_options.is_none());
        let m = v2
            .clone()
            .find(|m| m.path == Path::new("/sys/fs/cgroup"))
            .or_else(|| v2.next())?;
        let dir = open_mount(m, CGROUP2_SUPER_MAGIC).ok()?;
        Some(Self {
            dir,
            path: m.path.clone(),
            base: m.root.clone(),
        })
    }

    /// The root of the mount within the hierarchy (`/` for all of it).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The directory `rel` below the mount, every directory on the way
    /// root's alone; `create` makes what is missing.
    fn dir(&self, rel: &str, create: bool) -> io::Result<OwnedFd> {
        check_roots_dir(&self.dir, &self.path.display().to_string())?;
        let mut dir = nix::unistd::dup(&self.dir)?;
        for c in components(rel) {
            // Our names only (`iam`, `sessions`, session ids, …): never
            // `..` or anything a path could misread.
            if !crate::procs::is_session_id(c) {
                return Err(io::Error::other(format!("unexpected cgroup name {c:?}")));
            }
            if create {
                match mkdirat(&dir, c, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            dir = open_dir_at(&dir, c)?;
            check_roots_dir(&dir, rel)?;
        }
        Ok(dir)
    }

    /// Moves this process into `rel`, made if missing.
    pub fn enter(&self, rel: &str) -> io::Result<()> {
        enter_dir(&self.dir(rel, true)?)
    }

    /// Makes `rel` (if missing) and opens its `cgroup.procs` for writing,
    /// for a child to move itself in between fork and exec.
    pub fn procs_file(&self, rel: &str) -> io::Result<File> {
        let dir = self.dir(rel, true)?;
        let fd = openat(
            &dir,
            "cgroup.procs",
            OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        Ok(File::from(fd))
    }

    /// The processes in `rel` (not in its sub-cgroups).
    pub fn pids(&self, rel: &str) -> io::Result<Vec<i32>> {
        let dir = self.dir(rel, false)?;
        let fd = openat(
            &dir,
            "cgroup.procs",
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut text = String::new();
        File::from(fd).read_to_string(&mut text)?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// SIGKILL to every process in `rel` and below, by the kernel
    /// (`cgroup.kill`, Linux 5.14): no pid is involved, and a fork storm
    /// cannot outrun it.
    pub fn kill(&self, rel: &str) -> io::Result<()> {
        let dir = self.dir(rel, false)?;
        let fd = openat(
            &dir,
            "cgroup.kill",
            OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        File::from(fd).write_all(b"1")
    }

    /// Removes the (empty) cgroup `rel`; gone already is fine.
    pub fn remove(&self, rel: &str) -> io::Result<()> {
        let (parent, name) = match rel.rsplit_once('/') {
            Some((p, n)) => (self.dir(p, false)?, n),
            None => (nix::unistd::dup(&self.dir)?, rel),
        };
        match unlinkat(&parent, name, UnlinkatFlags::RemoveDir) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `rel` exists (as a directory root's alone).
    pub fn exists(&self, rel: &str) -> bool {
        self.dir(rel, false).is_ok()
    }

    /// The session ids that have cgroups under `iam/sessions`.
    pub fn session_ids(&self) -> Vec<String> {
        let Ok(dir) = self.dir(crate::procs::SESSIONS_CGROUP, false) else {
            return Vec::new();
        };
        let Ok(mut listing) = Dir::from_fd(dir) else {
            return Vec::new();
        };
        listing
            .iter()
            .filter_map(|e| Some(e.ok()?.file_name().to_str().ok()?.to_owned()))
            .filter(|n| crate::procs::is_session_id(n))
            .collect()
    }
}

/// The role session whose command cgroup this process is in, read before
/// iamctl moves anywhere: its cgroup v2 path is exactly
/// `iam/sessions/ID/command` below the mount's root
/// ([`crate::procs::cgroup_session_id`]), every directory on the way is root's
/// alone, and this process is listed in that directory's `cgroup.procs`
/// (whatever cgroup namespace it runs in).
pub fn own_session() -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    let v2 = Cgroup2::open()?;
    let id = crate::procs::cgroup_session_id(&text, &v2.base)?;
    let me = i32::try_from(std::process::id()).ok()?;
    v2.pids(&crate::procs::command_cgroup(&id))
        .ok()?
        .contains(&me)
        .then_some(id)
}

/// The path of a `/proc/self/cgroup` entry relative to a mount whose root
/// in the hierarchy is `root`; `None` if it lies outside the mount.
fn relative<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    let root = root.trim_end_matches('/');
    let rest = path.strip_prefix(root)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Moves this process out of every cgroup its caller could control: in the
/// cgroup2 hierarchy into `place` (root's alone), in each mounted cgroup v1
/// hierarchy to its root — wherever its cgroup, a cgroup above it, or a
/// control file of theirs is not root's alone. A cgroup that is root's
/// alone is kept: an administrator's limits or a container's are not the
/// caller's to lift, and a role session's command cgroup must keep every
/// process of the session, this one included (so that it ends with the
/// session). Where it cannot move, it fails (closed). A hierarchy not
/// mounted here is out of the caller's reach too (mounting one needs
/// privilege).
pub fn leave_caller_cgroups(place: &str) -> Result<(), LeaveError> {
    let stuck = |hierarchy: &str, path: &str, why: String| LeaveError::Stuck {
        hierarchy: hierarchy.to_owned(),
        path: path.to_owned(),
        why,
    };
    let own = own_cgroups().map_err(|e| stuck("all", "?", format!("/proc/self/cgroup: {e}")))?;
    let mounts = mounts();
    if let Some((_, _, path)) = own.iter().find(|(id, c, _)| *id == 0 && c.is_empty())
        && let Some(v2) = Cgroup2::open_from(&mounts)
        && !relative(path, &v2.base).is_some_and(|rel| roots_alone(&v2.dir, rel).unwrap_or(false))
    {
        v2.enter(place)
            .map_err(|e| stuck("cgroup v2", path, e.to_string()))?;
    }
    for (id, controllers, path) in &own {
        if *id == 0 {
            continue;
        }
        let wanted: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
        let Some(m) = mounts.iter().find(|m| {
            m.v1_options.as_ref().is_some_and(|o| {
                !wanted.is_empty() && wanted.iter().all(|w| o.iter().any(|x| x == w))
            })
        }) else {
            continue;
        };
        let hierarchy = format!("cgroup v1 {controllers}");
        let top = open_mount(m, CGROUP_SUPER_MAGIC)
            .map_err(|e| stuck(&hierarchy, path, e.to_string()))?;
        if relative(path, &m.root).is_some_and(|rel| roots_alone(&top, rel).unwrap_or(false)) {
            continue;
        }
        check_roots_dir(&top, &m.path.display().to_string())
            .and_then(|()| enter_dir(&top))
            .map_err(|e| stuck(&hierarchy, path, e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_taken_relative_to_the_mount() {
        assert_eq!(relative("/a/b", "/"), Some("/a/b"));
        assert_eq!(relative("/", "/"), Some("/"));
        assert_eq!(relative("/docker/c1/x", "/docker/c1"), Some("/x"));
        assert_eq!(relative("/docker/c1", "/docker/c1"), Some(""));
        assert_eq!(relative("/docker/c10/x", "/docker/c1"), None);
        assert_eq!(relative("/elsewhere", "/docker/c1"), None);
    }

    #[test]
    fn only_our_own_names_are_walked() {
        let Some(v2) = Cgroup2::open() else {
            return;
        };
        for bad in ["..", "iam/../x", "iam/sessions/rs-a/../../x", "user.slice"] {
            assert!(v2.dir(bad, false).is_err(), "{bad}");
        }
    }
}
