//! The rooms of docs/ARCHITECTURE.md and what each may import, checked:
//! the crates' declared dependencies (`cargo metadata`) and, for the shared
//! core, the system calls its source may make. A change that breaks a rule
//! fails here, with the rule's sentence from docs/ARCHITECTURE.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's crates and the normal (non-dev, non-build) dependencies
/// each declares.
fn declared_dependencies() -> Vec<(String, Vec<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn dependencies_of(krate: &str) -> Vec<String> {
    declared_dependencies()
        .into_iter()
        .find(|(name, _)| name == krate)
        .map(|(_, deps)| deps)
        .unwrap_or_else(|| panic!("no crate {krate} in the workspace"))
}

const OURS: &[&str] = &[
    "iam-policy",
    "iam",
    "pam_iam",
    "iamctl",
    "iam-server",
    "e2e",
    "iam-bench",
];

/// What no shared room may link: a CLI parser, PAM, runtimes and network.
const NOT_SHARED: &[&str] = &[
    "clap",
    "pam-bindings",
    "rpassword",
    "tokio",
    "hyper",
    "axum",
    "reqwest",
    "rustls",
    "mio",
];

#[test]
fn the_policy_language_depends_on_nothing_of_ours() {
    for dep in dependencies_of("iam-policy") {
        assert!(
            !OURS.contains(&dep.as_str()),
            "iam-policy depends on {dep}: the policy language depends on nothing of ours"
        );
        assert!(
            !["rusqlite", "libc", "nix", "syslog"].contains(&dep.as_str())
                && !NOT_SHARED.contains(&dep.as_str()),
            "iam-policy depends on {dep}: the policy language has no storage, system calls or I/O"
        );
    }
}

#[test]
fn the_shared_core_depends_only_on_the_policy_language() {
    for dep in dependencies_of("iam") {
        assert!(
            !OURS.contains(&dep.as_str()) || dep == "iam-policy",
            "iam depends on {dep}: the shared core depends on iam-policy only, of ours"
        );
        assert!(
            !NOT_SHARED.contains(&dep.as_str()),
            "iam depends on {dep}: the shared core has no CLI, PAM, runtime or network"
        );
    }
}

#[test]
fn the_pam_module_is_glue_over_the_shared_core() {
    for dep in dependencies_of("pam_iam") {
        assert!(
            !OURS.contains(&dep.as_str()) || dep == "iam",
            "pam_iam depends on {dep}: the PAM module depends on iam only, of ours"
        );
        assert!(
            dep == "pam-bindings" || !NOT_SHARED.contains(&dep.as_str()),
            "pam_iam depends on {dep}: sshd loads no CLI parser, runtime or network code"
        );
    }
}

#[test]
fn nothing_depends_on_the_binaries() {
    for (krate, deps) in declared_dependencies() {
        // The end-to-end tests drive iam-server's library (`App::call`, a
        // clock injected), and the benchmark seeds its directory.
        for binary in ["pam_iam", "iam-server"] {
            assert!(
                !deps.iter().any(|d| d == binary)
                    || (binary == "iam-server" && ["e2e", "iam-bench"].contains(&krate.as_str())),
                "{krate} depends on {binary}: binaries are leaves"
            );
        }
        // iamctl's library (the AWS verbs) serves iam-server; nothing else
        // of ours links the setuid binary's code.
        assert!(
            !deps.iter().any(|d| d == "iamctl")
                || ["iam-server", "iam-bench"].contains(&krate.as_str()),
            "{krate} depends on iamctl: only iam-server uses its verbs"
        );
    }
}

#[test]
fn the_server_links_no_pam() {
    for dep in dependencies_of("iam-server") {
        assert!(
            !["pam-bindings", "pam_iam"].contains(&dep.as_str()),
            "iam-server depends on {dep}: the server is not a host and loads no PAM"
        );
    }
}

/// Calls the shared rooms never make outside their tests: they do not fork,
/// exec, read argv, start threads or open network connections (sshd loads
/// them; the PAM module must never hang it).
const FORBIDDEN_CALLS: &[&str] = &[
    "std::process::Command",
    "process::Command",
    "Command::new",
    "std::env::args",
    "env::args_os",
    "fork(",
    "execv",
    "std::thread::spawn",
    "thread::spawn",
    "TcpStream",
    "TcpListener",
    "UdpSocket",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_shared_rooms_make_no_process_thread_or_network_calls() {
    let root = workspace();
    for room in ["iam/src", "iam-policy/src", "pam_iam/src"] {
        let mut files = Vec::new();
        rust_files(&root.join(room), &mut files);
        for file in files {
            if file.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            // Only the code before the file's test module counts.
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
            for (n, line) in code.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                for call in FORBIDDEN_CALLS {
                    assert!(
                        !line.contains(call),
                        "{}:{}: `{call}`: the shared rooms do not fork, exec, read argv, \
                         start threads or open sockets (docs/ARCHITECTURE.md)",
                        file.display(),
                        n + 1
                    );
                }
            }
        }
    }
}
