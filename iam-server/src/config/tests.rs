use super::*;

fn parse(text: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::parse(text, Path::new("/etc/iam/server.toml"))
}

fn parse_error_line(text: &str) -> (usize, String) {
    match parse(text) {
        Err(ConfigError::Parse { line, message, .. }) => (line, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn defaults() {
    let cfg = parse("account_id = \"123456789012\"\n").unwrap();
    assert_eq!(
        cfg,
        ServerConfig {
            account_id: "123456789012".into(),
            listen: "127.0.0.1:8443".parse().unwrap(),
            state_dir: PathBuf::from("/var/lib/iam-server"),
            tls: None,
            max_body_bytes: 1024 * 1024,
            postgres: None,
            uid_range: (200_000, 299_999),
        }
    );
    assert_eq!(
        cfg.directory_path(),
        Path::new("/var/lib/iam-server/directory.db")
    );
}

#[test]
fn every_key_and_relative_paths() {
    let cfg = ServerConfig::parse(
        "account_id = \"123456789012\"\nlisten = \"[::]:443\"\nstate_dir = \"state\"\n\
         max_body_bytes = 65536\nuid_range = [1000000, 1999999]\n\
         [tls]\ncertificate = \"tls/cert.pem\"\nkey = \"/k.pem\"\n",
        Path::new("/srv/iam/server.toml"),
    )
    .unwrap();
    assert_eq!(cfg.listen, "[::]:443".parse().unwrap());
    assert_eq!(cfg.state_dir, Path::new("/srv/iam/state"));
    assert_eq!(cfg.max_body_bytes, 65536);
    assert_eq!(cfg.uid_range, (1_000_000, 1_999_999));
    assert_eq!(
        cfg.tls,
        Some(TlsFiles {
            certificate: PathBuf::from("/srv/iam/tls/cert.pem"),
            key: PathBuf::from("/k.pem"),
        })
    );
}

#[test]
fn the_example_file_parses() {
    let text = include_str!("../../../config/server.toml");
    let cfg = parse(text).unwrap();
    assert_eq!(
        cfg,
        ServerConfig {
            account_id: cfg.account_id.clone(),
            ..parse("account_id = \"123456789012\"").unwrap()
        }
    );
}

#[test]
fn errors_name_the_line() {
    let (line, message) = parse_error_line("account_id = \"123456789012\"\n\nport = 8443\n");
    assert_eq!(line, 3);
    assert!(message.contains("port"), "{message}");
    let (line, message) = parse_error_line("account_id = \"123456789012\"\n[tls]\ncert = \"x\"\n");
    assert_eq!(line, 3, "{message}");
    let (line, message) = parse_error_line("account_id = \"12345\"\n");
    assert_eq!(line, 1);
    assert!(message.contains("12 digits"), "{message}");
    let (line, message) = parse_error_line("account_id = \"123456789012\"\nlisten = \"8443\"\n");
    assert_eq!(line, 2);
    assert!(message.contains("listen"), "{message}");
    let (line, message) = parse_error_line("account_id = \"123456789012\"\nmax_body_bytes = 10\n");
    assert_eq!(line, 2);
    assert!(message.contains("max_body_bytes"), "{message}");
    // AWS's 15 minutes is a constant, not a key.
    let (line, _) = parse_error_line("account_id = \"123456789012\"\nclock_skew_seconds = 60\n");
    assert_eq!(line, 2);
    let (_, message) = parse_error_line("listen = \"127.0.0.1:1\"\n");
    assert!(message.contains("account_id"), "{message}");
}

#[test]
fn tls_needs_both_files() {
    let err = parse("account_id = \"123456789012\"\n[tls]\ncertificate = \"c.pem\"\n").unwrap_err();
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("[tls]"), "{err}");
}

#[test]
fn load_refuses_an_untrusted_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(&path, "account_id = \"123456789012\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        ServerConfig::load(&path).unwrap().account_id,
        "123456789012"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let err = ServerConfig::load(&path).unwrap_err();
    assert!(matches!(err, ConfigError::Untrusted(_)), "{err}");
}

#[test]
fn postgres_url_and_password_file() {
    let cfg = ServerConfig::parse(
        "account_id = \"123456789012\"\n[postgres]\n\
         url = \"host=127.0.0.1 port=5432 user=iam dbname=iam\"\n\
         password_file = \"pg.password\"\n",
        Path::new("/srv/iam/server.toml"),
    )
    .unwrap();
    assert_eq!(
        cfg.postgres,
        Some(PostgresSettings {
            url: "host=127.0.0.1 port=5432 user=iam dbname=iam".into(),
            password_file: Some(PathBuf::from("/srv/iam/pg.password")),
        })
    );
    // A password in the URL is refused, and not echoed.
    let (line, message) = parse_error_line(
        "account_id = \"123456789012\"\n[postgres]\nurl = \"postgresql://iam:hunter2@db/iam\"\n",
    );
    assert_eq!(line, 3);
    assert!(message.contains("password_file"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    let (line, message) =
        parse_error_line("account_id = \"123456789012\"\n[postgres]\nurl = \"x\"\nport = 1\n");
    assert_eq!(line, 4, "{message}");
}
