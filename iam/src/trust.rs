//! File trust: the one check every reader of the host's files makes (the
//! PAM module, the setuid `iamctl`, `iamctl doctor`), so that what one of
//! them refuses the others refuse too (docs/SECURITY.md, "file trust").
//!
//! A file is trusted when nobody but root could have written it or put it
//! where it is: a regular file, owned by root, not writable by group or
//! others (a [`Contents::Private`] one not open to them at all), reached
//! from `/` through directories that are owned by root and that group and
//! others cannot write, with no symbolic link anywhere on the way. The walk
//! is made on descriptors (`openat` from `/`, `fstat` of what was opened),
//! so nothing can be swapped between the check and the use.
//!
//! Two allowances keep unprivileged runs (unit tests, an `iamctl` that is
//! not setuid) possible, and cost nothing for root's processes:
//! - the effective user counts as root (for the PAM module in sshd and the
//!   setuid `iamctl` that *is* root);
//! - a directory above the file's own one may be world-writable if it is
//!   sticky, as `/tmp` is, where every test host lives: in a sticky
//!   directory only an entry's owner can rename or remove it, and that
//!   owner is checked next. The file's own directory never may: SQLite
//!   opens siblings of the store (`-wal`, `-shm`, `-journal`) by name.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

/// Who may read a file besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contents {
    /// Group and others may read it: the config (it holds no secret).
    Shared,
    /// Only its owner: the store and ledger (password hashes, TOTP seeds)
    /// and the audit log (who logged in from where).
    Private,
}

/// What is wrong with one file or directory on the way to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Symlink,
    NotRegularFile,
    NotDirectory,
    /// Owned by someone other than root (or the effective user).
    Owner {
        uid: u32,
    },
    /// Group or others may write it (for a directory: add, remove or
    /// rename what is in it).
    Writable {
        mode: u32,
    },
    /// A [`Contents::Private`] file that group or others may read.
    NotPrivate {
        mode: u32,
    },
    /// The path has a `..` component: the kernel resolves it through what
    /// the component before it is, which the text does not say.
    ParentComponent,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Symlink => write!(f, "it is a symbolic link"),
            Self::NotRegularFile => write!(f, "not a regular file"),
            Self::NotDirectory => write!(f, "not a directory"),
            Self::Owner { uid } => write!(f, "owned by uid {uid}, not root"),
            Self::Writable { mode } => write!(f, "group- or world-writable (mode {mode:04o})"),
            Self::NotPrivate { mode } => {
                write!(
                    f,
                    "group or others may read it (mode {mode:04o}, want 0600)"
                )
            }
            Self::ParentComponent => write!(f, "the path has a `..` component"),
        }
    }
}

/// Why a file is not used. `path` is the file, or the directory on its way
/// that is at fault.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{path}: does not exist")]
    Missing { path: PathBuf },
    #[error("{path}: refusing to use it: {problem}")]
    Untrusted { path: PathBuf, problem: Problem },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Opens `path` for reading, once it and the way to it are trusted.
pub fn open_read(path: &Path, contents: Contents) -> Result<File, TrustError> {
    open(path, contents, Access::Read).map(File::from)
}

/// Opens `path` for appending, creating it (0600) if it is missing, once it
/// and the way to it are trusted.
pub fn open_append(path: &Path, contents: Contents) -> Result<File, TrustError> {
    open(path, contents, Access::Append).map(File::from)
}

/// Checks `path` for a library that opens it by name itself (SQLite). Once
/// every directory on the way is trusted, only root can put something else
/// under that name between this check and that open.
pub fn check(path: &Path, contents: Contents) -> Result<(), TrustError> {
    open(path, contents, Access::Inspect).map(drop)
}

/// Checks a directory whose files a program that knows nothing of IAM
/// reads (sshd's published authorized keys): owned by root, not writable
/// by group or others, reached as every trusted file is. Nobody else can
/// then plant, swap or remove a file in it.
pub fn check_directory(path: &Path) -> Result<(), TrustError> {
    let path = absolute(path)?;
    walk(&path).map(drop)
}

#[derive(Clone, Copy)]
enum Access {
    /// `O_PATH`: no read permission needed, and a FIFO cannot block.
    Inspect,
    Read,
    Append,
}

fn open(path: &Path, contents: Contents, access: Access) -> Result<OwnedFd, TrustError> {
    let euid = nix::unistd::geteuid().as_raw();
    let path = absolute(path)?;
    let (Some(name), Some(parent)) = (path.file_name(), path.parent()) else {
        return untrusted(&path, Problem::NotRegularFile);
    };
    let dir = walk(parent)?;
    let flags = OFlag::O_NOFOLLOW
        | OFlag::O_CLOEXEC
        | match access {
            Access::Inspect => OFlag::O_PATH,
            // A FIFO or device planted at the path must not block the open.
            Access::Read => OFlag::O_RDONLY | OFlag::O_NONBLOCK,
            Access::Append => {
                OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT | OFlag::O_NONBLOCK
            }
        };
    let file = match nix::fcntl::openat(&dir, name, flags, Mode::from_bits_truncate(0o600)) {
        Ok(fd) => fd,
        Err(Errno::ELOOP) => return untrusted(&path, Problem::Symlink),
        // A FIFO without a reader, a socket, or a directory opened to write.
        Err(Errno::ENXIO | Errno::EISDIR | Errno::ENODEV) => {
            return untrusted(&path, Problem::NotRegularFile);
        }
        Err(e) => return Err(errno(&path, e)),
    };
    check_file(&fstat(&file, &path)?, &path, euid, contents)?;
    Ok(file)
}

/// Opens the absolute directory `path` from `/`, one component at a time
/// (`O_PATH|O_NOFOLLOW`), checking each directory on the way; `path`
/// itself holds what is trusted, so it gets no sticky allowance.
fn walk(path: &Path) -> Result<OwnedFd, TrustError> {
    let euid = nix::unistd::geteuid().as_raw();
    let dirs: Vec<&OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut shown = PathBuf::from("/");
    let mut dir = nix::fcntl::open("/", dir_flags(), Mode::empty()).map_err(io(&shown))?;
    check_dir(&fstat(&dir, &shown)?, &shown, euid, dirs.is_empty())?;
    for (i, name) in dirs.iter().enumerate() {
        shown.push(name);
        let next = match nix::fcntl::openat(&dir, *name, dir_flags(), Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                let problem =
                    match nix::sys::stat::fstatat(&dir, *name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                        Ok(st) if kind(&st) == SFlag::S_IFLNK => Problem::Symlink,
                        _ => Problem::NotDirectory,
                    };
                return untrusted(&shown, problem);
            }
            Err(e) => return Err(errno(&shown, e)),
        };
        let st = fstat(&next, &shown)?;
        if kind(&st) == SFlag::S_IFLNK {
            return untrusted(&shown, Problem::Symlink);
        }
        check_dir(&st, &shown, euid, i + 1 == dirs.len())?;
        dir = next;
    }
    Ok(dir)
}

/// `path` made absolute and without `.`; a `..` is refused, since SQLite
/// and the kernel open the path as written, which may not be the path
/// checked here.
fn absolute(path: &Path) -> Result<PathBuf, TrustError> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|source| TrustError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                return Err(TrustError::Untrusted {
                    path: path.to_path_buf(),
                    problem: Problem::ParentComponent,
                });
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

fn dir_flags() -> OFlag {
    OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

fn check_dir(
    st: &FileStat,
    path: &Path,
    euid: u32,
    holds_the_file: bool,
) -> Result<(), TrustError> {
    if kind(st) != SFlag::S_IFDIR {
        return untrusted(path, Problem::NotDirectory);
    }
    check_owner(st, path, euid)?;
    let mode = st.st_mode & 0o7777;
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && (holds_the_file || !sticky) {
        return untrusted(path, Problem::Writable { mode });
    }
    Ok(())
}

fn check_file(st: &FileStat, path: &Path, euid: u32, contents: Contents) -> Result<(), TrustError> {
    match kind(st) {
        SFlag::S_IFREG => {}
        SFlag::S_IFLNK => return untrusted(path, Problem::Symlink),
        _ => return untrusted(path, Problem::NotRegularFile),
    }
    check_owner(st, path, euid)?;
    let mode = st.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        return untrusted(path, Problem::Writable { mode });
    }
    if contents == Contents::Private && mode & 0o077 != 0 {
        return untrusted(path, Problem::NotPrivate { mode });
    }
    Ok(())
}

fn check_owner(st: &FileStat, path: &Path, euid: u32) -> Result<(), TrustError> {
    if st.st_uid == 0 || st.st_uid == euid {
        Ok(())
    } else {
        untrusted(path, Problem::Owner { uid: st.st_uid })
    }
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn fstat(fd: &OwnedFd, path: &Path) -> Result<FileStat, TrustError> {
    nix::sys::stat::fstat(fd).map_err(io(path))
}

fn untrusted<T>(path: &Path, problem: Problem) -> Result<T, TrustError> {
    Err(TrustError::Untrusted {
        path: path.to_path_buf(),
        problem,
    })
}

fn errno(path: &Path, e: Errno) -> TrustError {
    if e == Errno::ENOENT {
        TrustError::Missing {
            path: path.to_path_buf(),
        }
    } else {
        io(path)(e)
    }
}

fn io(path: &Path) -> impl Fn(Errno) -> TrustError + '_ {
    move |e| TrustError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::from(e),
    }
}

#[cfg(test)]
mod tests;
