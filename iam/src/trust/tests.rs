//! The trust rule on real files in a temp dir (as any user: the effective
//! user counts as root, and /tmp is a sticky ancestor).

use super::*;
use std::os::unix::fs::{PermissionsExt, symlink};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn file(dir: &Path, name: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "x").unwrap();
    chmod(&path, mode);
    path
}

fn problem(r: Result<(), TrustError>) -> (PathBuf, Problem) {
    match r {
        Err(TrustError::Untrusted { path, problem }) => (path, problem),
        other => panic!("not refused as untrusted: {other:?}"),
    }
}

#[test]
fn a_sound_file_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let shared = file(dir.path(), "iam.toml", 0o644);
    let private = file(dir.path(), "iam.db", 0o600);
    check(&shared, Contents::Shared).unwrap();
    check(&private, Contents::Private).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut open_read(&shared, Contents::Shared).unwrap(),
        &mut text,
    )
    .unwrap();
    assert_eq!(text, "x");
}

#[test]
fn append_creates_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    std::io::Write::write_all(&mut open_append(&path, Contents::Private).unwrap(), b"a\n").unwrap();
    std::io::Write::write_all(&mut open_append(&path, Contents::Private).unwrap(), b"b\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn others_may_read_a_shared_file_and_never_write_any() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o640, 0o604, 0o600, 0o400] {
        let path = file(dir.path(), "shared", mode);
        check(&path, Contents::Shared).unwrap();
    }
    for mode in [0o620, 0o602, 0o666, 0o660] {
        for contents in [Contents::Shared, Contents::Private] {
            let path = file(dir.path(), "any", mode);
            let (at, p) = problem(check(&path, contents));
            assert_eq!((at, p), (path, Problem::Writable { mode }));
        }
    }
    for mode in [0o640, 0o604, 0o610, 0o601] {
        let path = file(dir.path(), "private", mode);
        let (_, p) = problem(check(&path, Contents::Private));
        assert_eq!(p, Problem::NotPrivate { mode });
        assert!(
            open_read(&path, Contents::Private)
                .unwrap_err()
                .to_string()
                .contains("refusing to use it: group or others may read it")
        );
    }
}

#[test]
fn a_file_owned_by_someone_else_is_refused() {
    if nix::unistd::geteuid().as_raw() != 0 {
        eprintln!("skipped: needs root to chown");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "iam.db", 0o600);
    std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
    let err = check(&path, Contents::Private).unwrap_err();
    assert!(
        err.to_string().contains("owned by uid 65534, not root"),
        "{err}"
    );
    std::os::unix::fs::chown(&path, Some(0), None).unwrap();
    std::os::unix::fs::chown(dir.path(), Some(65534), None).unwrap();
    let (at, p) = problem(check(&path, Contents::Private));
    assert_eq!(
        (at.as_path(), p),
        (dir.path(), Problem::Owner { uid: 65534 })
    );
}

#[test]
fn no_symlink_anywhere_on_the_way() {
    let dir = tempfile::tempdir().unwrap();
    let real = file(dir.path(), "real.toml", 0o644);
    let link = dir.path().join("link.toml");
    symlink(&real, &link).unwrap();
    for access in [Access::Inspect, Access::Read, Access::Append] {
        let r = open(&link, Contents::Shared, access).map(drop);
        assert_eq!(problem(r), (link.clone(), Problem::Symlink));
    }
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "x",
        "nothing appended"
    );

    let sub = dir.path().join("etc");
    std::fs::create_dir(&sub).unwrap();
    file(&sub, "iam.toml", 0o644);
    let via = dir.path().join("via");
    symlink(&sub, &via).unwrap();
    let r = check(&via.join("iam.toml"), Contents::Shared);
    assert_eq!(problem(r), (via.clone(), Problem::Symlink));
    // Also higher up; `.` is harmless, `..` refused (a_parent_component_is_refused).
    let deep = sub.join("deep");
    std::fs::create_dir(&deep).unwrap();
    file(&deep, "iam.toml", 0o644);
    let r = check(&via.join("deep/iam.toml"), Contents::Shared);
    assert_eq!(problem(r), (via.clone(), Problem::Symlink));
    check(&deep.join("./iam.toml"), Contents::Shared).unwrap();
}

#[test]
fn only_regular_files_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    for access in [Access::Inspect, Access::Read, Access::Append] {
        let r = open(&sub, Contents::Shared, access).map(drop);
        assert_eq!(problem(r), (sub.clone(), Problem::NotRegularFile));
    }
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    chmod(&fifo, 0o600);
    // Neither open blocks on a FIFO nobody writes or reads.
    for access in [Access::Inspect, Access::Read, Access::Append] {
        let r = open(&fifo, Contents::Private, access).map(drop);
        assert_eq!(problem(r), (fifo.clone(), Problem::NotRegularFile));
    }
    let plain = file(dir.path(), "plain", 0o644);
    let r = check(&plain.join("iam.toml"), Contents::Shared);
    assert_eq!(problem(r), (plain, Problem::NotDirectory));
    let missing = dir.path().join("none/iam.toml");
    assert!(matches!(
        check(&missing, Contents::Shared),
        Err(TrustError::Missing { path }) if path == dir.path().join("none")
    ));
}

#[test]
fn directories_others_may_write_are_refused_unless_sticky_and_above() {
    let top = tempfile::tempdir().unwrap();
    let etc = top.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let path = file(&etc, "iam.toml", 0o644);
    for mode in [0o775, 0o757, 0o1777] {
        chmod(&etc, mode);
        let r = check(&path, Contents::Shared);
        assert_eq!(problem(r), (etc.clone(), Problem::Writable { mode }));
    }
    chmod(&etc, 0o755);
    chmod(top.path(), 0o777);
    let r = check(&path, Contents::Shared);
    assert_eq!(
        problem(r),
        (top.path().to_path_buf(), Problem::Writable { mode: 0o777 })
    );
    // Like /tmp: anyone may add entries, only their owners rename them.
    chmod(top.path(), 0o1777);
    check(&path, Contents::Shared).unwrap();
}

#[test]
fn relative_paths_are_walked_from_the_root() {
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        absolute(Path::new("etc/./iam.toml")).unwrap(),
        cwd.join("etc").join("iam.toml")
    );
}

#[test]
fn a_parent_component_is_refused() {
    // SQLite and the kernel open a path as written; `a/link/../f` may not
    // be `a/f`, which is what a textual `..` would check.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iam.db");
    std::fs::write(&file, "").unwrap();
    let dotted = dir.path().join("sub").join("..").join("iam.db");
    assert!(matches!(
        check(&dotted, Contents::Private),
        Err(TrustError::Untrusted {
            problem: Problem::ParentComponent,
            ..
        })
    ));
}

#[test]
fn a_directory_is_trusted_by_the_same_rule_as_the_way_to_a_file() {
    let top = tempfile::tempdir().unwrap();
    let keys = top.path().join("iam-ssh");
    std::fs::create_dir(&keys).unwrap();
    chmod(&keys, 0o755);
    check_directory(&keys).unwrap();
    // Not even sticky: nobody but root may add a file sshd would read.
    for mode in [0o775, 0o757, 0o1777] {
        chmod(&keys, mode);
        assert_eq!(
            problem(check_directory(&keys)),
            (keys.clone(), Problem::Writable { mode })
        );
    }
    chmod(&keys, 0o755);
    let link = top.path().join("link");
    symlink(&keys, &link).unwrap();
    assert_eq!(problem(check_directory(&link)), (link, Problem::Symlink));
    let plain = file(top.path(), "plain", 0o644);
    assert_eq!(
        problem(check_directory(&plain)),
        (plain, Problem::NotDirectory)
    );
    if nix::unistd::geteuid().as_raw() == 0 {
        std::os::unix::fs::chown(&keys, Some(65534), None).unwrap();
        assert_eq!(
            problem(check_directory(&keys)),
            (keys, Problem::Owner { uid: 65534 })
        );
    }
}
