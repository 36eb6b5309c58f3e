//! Publishing: the projections of the directory a host serves to programs
//! that know nothing of IAM: NSS through `libnss-extrausers`, and sshd's
//! authorized keys. Each is rendered from one read of the store and
//! written with [`write_atomic`], so its readers see the old file or the
//! new one, never half of one. Nothing published holds a secret.

pub mod extrausers;
pub mod ssh_keys;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Replaces `path` with `content`: a temp file in the same directory (never
/// following a symlink) given the final `mode` and, when set, `owner`
/// (uid, gid), then fsync, rename over `path`, fsync the directory. On
/// failure the temp file is removed and `path` is untouched.
pub fn write_atomic(
    path: &Path,
    content: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> std::io::Result<()> {
    let invalid = || std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(invalid)?.to_string_lossy();
    let suffix =
        crate::names::random_base32(8).map_err(|e| std::io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(content)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
        }
        // After the chown (which clears set-id bits), and whatever the umask.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn replaces_the_file_with_the_final_mode_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(&path, "old\n").unwrap();
        write_atomic(&path, b"new\n", 0o644, None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o644);
        write_atomic(&path, b"private\n", 0o600, None).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_failed_write_leaves_the_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("x"), "").unwrap();
        // Renaming a file over a non-empty directory fails.
        assert!(write_atomic(&path, b"new\n", 0o644, None).is_err());
        assert!(path.is_dir());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let missing = dir.path().join("no/such/dir/file");
        assert!(write_atomic(&missing, b"x", 0o644, None).is_err());
    }
}
