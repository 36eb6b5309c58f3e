//! Keys made by the real `ssh-keygen`, checked against what AWS documents
//! for `UploadSSHPublicKey` (ssh-rsa of 2,048 bits or more, or PEM; MD5
//! fingerprint) and against `ssh-keygen`'s own reading of them.
//!
//! A test binary of its own: ssh-keygen runs as a child, and some of
//! iamctl's unit tests change how the process reaps its children.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use iamctl::error::CliError;
use iamctl::sshkey::{KeyError, parse};
use std::path::{Path, PathBuf};
use std::process::Command;

fn keygen(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let key = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", "someone@laptop"])
        .args(args)
        .arg("-f")
        .arg(&key)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    key
}

fn public(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub")).unwrap()
}

/// `ssh-keygen -e -m FORMAT`: the public key exported as PEM.
fn export(key: &Path, format: &str) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-e", "-m", format, "-f"])
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// `ssh-keygen -l -E md5`'s fingerprint, without its `MD5:` prefix.
fn md5_of(key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "md5", "-f"])
        .arg(key.with_extension("pub"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let field = text.split_whitespace().nth(1).unwrap();
    field.strip_prefix("MD5:").unwrap().to_owned()
}

fn code(e: KeyError) -> String {
    CliError::from(e).code
}

#[test]
fn openssh_keys_of_every_taken_type_are_accepted_with_ssh_keygens_md5_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("rsa2048", &["-t", "rsa", "-b", "2048"][..]),
        ("rsa4096", &["-t", "rsa", "-b", "4096"][..]),
        ("ed25519", &["-t", "ed25519"][..]),
        ("p256", &["-t", "ecdsa", "-b", "256"][..]),
        ("p384", &["-t", "ecdsa", "-b", "384"][..]),
        ("p521", &["-t", "ecdsa", "-b", "521"][..]),
    ] {
        let key = keygen(dir.path(), name, args);
        let line = public(&key);
        let parsed = parse(&line).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let fingerprint = parsed.md5_fingerprint();
        assert_eq!(fingerprint, md5_of(&key), "{name}");
        // AWS's pattern for Fingerprint: [:\w]+, 16 bytes in hex pairs.
        assert_eq!(fingerprint.len(), 47, "{name}");
        assert!(
            fingerprint
                .chars()
                .all(|c| c == ':' || c.is_ascii_hexdigit())
        );
        // Stored without the comment: the type and the key data.
        let mut words = line.split_whitespace();
        let expected = format!("{} {}", words.next().unwrap(), words.next().unwrap());
        assert_eq!(parsed.openssh(), expected, "{name}");
        // What is stored parses to the same key.
        assert_eq!(parse(&parsed.openssh()).unwrap(), parsed, "{name}");
    }
}

#[test]
fn pem_keys_are_accepted_as_the_same_key_and_pem_output_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args, formats) in [
        (
            "rsa",
            &["-t", "rsa", "-b", "2048"][..],
            &["PKCS8", "PEM"][..],
        ),
        ("p256", &["-t", "ecdsa", "-b", "256"][..], &["PKCS8"][..]),
        ("p384", &["-t", "ecdsa", "-b", "384"][..], &["PKCS8"][..]),
    ] {
        let key = keygen(dir.path(), name, args);
        let original = parse(&public(&key)).unwrap();
        for format in formats {
            let pem = export(&key, format);
            let parsed = parse(&pem).unwrap_or_else(|e| panic!("{name} {format}: {e:?}"));
            assert_eq!(parsed, original, "{name} {format}");
        }
        let pem = original.pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
        assert_eq!(parse(&pem).unwrap(), original, "{name}");
        // And ssh-keygen reads our PEM back as the same key.
        let file = dir.path().join(format!("{name}.pem"));
        std::fs::write(&file, &pem).unwrap();
        let out = Command::new("ssh-keygen")
            .args(["-i", "-m", "PKCS8", "-f"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().trim(),
            original.openssh(),
            "{name}"
        );
    }
    // Ed25519 as SubjectPublicKeyInfo (RFC 8410), which ssh-keygen does
    // not export: round-trips through our own PEM.
    let key = keygen(dir.path(), "ed", &["-t", "ed25519"]);
    let original = parse(&public(&key)).unwrap();
    assert_eq!(parse(&original.pem().unwrap()).unwrap(), original);
}

#[test]
fn an_rsa_key_under_2048_bits_is_an_invalid_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "rsa1024", &["-t", "rsa", "-b", "1024"]);
    let e = parse(&public(&key)).unwrap_err();
    assert_eq!(
        e,
        KeyError::Invalid("an RSA key must have at least 2048 bits; this one has 1024".into())
    );
    assert_eq!(code(e), "InvalidPublicKey");
    // The same key as PEM: the same rule.
    let e = parse(&export(&key, "PKCS8")).unwrap_err();
    assert_eq!(code(e), "InvalidPublicKey");
}

#[test]
fn a_truncated_key_is_an_invalid_public_key() {
    let dir = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("rsa", &["-t", "rsa", "-b", "2048"][..]),
        ("ed25519", &["-t", "ed25519"][..]),
        ("p256", &["-t", "ecdsa", "-b", "256"][..]),
    ] {
        let key = keygen(dir.path(), name, args);
        let line = public(&key);
        let mut words = line.split_whitespace();
        let (kind, data) = (words.next().unwrap(), words.next().unwrap());
        // Cut anywhere inside the key data (keeping base64's 4-character
        // groups, so only the key's own length is wrong).
        for keep in [data.len() / 4 * 4 - 4, data.len() / 2 / 4 * 4, 8] {
            let cut = format!("{kind} {}", &data[..keep]);
            let e = parse(&cut).unwrap_err();
            assert_eq!(code(e), "InvalidPublicKey", "{name} cut to {keep}");
        }
        let pem = parse(&line).unwrap().pem().unwrap();
        let truncated: String = pem.lines().take(2).collect::<Vec<_>>().join("\n");
        let e = parse(&truncated).unwrap_err();
        assert_eq!(code(e), "InvalidPublicKey", "{name} PEM");
    }
}

#[test]
fn other_encodings_and_key_types_are_unrecognized() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "rsa", &["-t", "rsa", "-b", "2048"]);
    let rfc4716 = export(&key, "RFC4716");
    for body in [
        "",
        "hello",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t",
        "ssh-ed25519-cert-v01@openssh.com AAAA",
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
        rfc4716.as_str(),
    ] {
        let e = parse(body).unwrap_err();
        assert_eq!(code(e), "UnrecognizedPublicKeyEncoding", "{body:?}");
    }
}

#[test]
fn a_key_whose_data_is_another_type_than_its_name_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "ed", &["-t", "ed25519"]);
    let line = public(&key);
    let data = line.split_whitespace().nth(1).unwrap();
    let e = parse(&format!("ssh-rsa {data}")).unwrap_err();
    assert_eq!(code(e), "InvalidPublicKey");
}
