//! `setup-host --join`'s one network call, and iamctl's only one: iam-server's
//! `JoinHost` (JSON 1.1, `X-Amz-Target: IamHost_20261203.JoinHost`) over
//! HTTPS, the server known by its certificate's SHA-256 alone (pinned, as
//! an SSH host key is: no CA, name or expiry is consulted, so a
//! self-signed server certificate works and nothing else does). Blocking,
//! bounded in time and size, root only (the caller checked), the token and
//! the returned secret in zeroizing buffers.

use crate::cli::SetupHostArgs;
use crate::error::CliError;
use iam::config::{AgentConfig, HostConfig, ServerUrl};
use iam::names::{AccountId, CertFingerprint, HostName};
use iam::secret::SecretString;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Deserialize;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The host API's enrolment target (iam-server's `hosts` module).
const JOIN_TARGET: &str = "IamHost_20261203.JoinHost";

/// Connecting, and each read or write after, waits at most this long.
const TIMEOUT: Duration = Duration::from_secs(15);

/// The most of an answer read: JoinHost's is well under 2 KiB.
const MAX_RESPONSE: usize = 64 * 1024;

/// An HTTP answer: its status and body (which may hold the secret).
type Answered = (u16, Zeroizing<Vec<u8>>);

/// What `JoinHost` returned: the host's credential, shown once.
pub struct Joined {
    pub account_id: AccountId,
    pub hostname: HostName,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/HOSTNAME`
    pub arn: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    account_id: String,
    hostname: String,
    arn: Option<String>,
    access_key_id: String,
    secret_access_key: String,
}

/// Enrols this host as `hostname` with the one-time `token`.
pub fn join_host(
    server: &ServerUrl,
    pin: &CertFingerprint,
    token: &SecretString,
    hostname: &HostName,
) -> Result<Joined, CliError> {
    let body = Zeroizing::new(
        serde_json::json!({"Token": token.expose(), "Hostname": hostname.as_str()}).to_string(),
    );
    let (status, answer) = post(server, pin, body.as_bytes())?;
    if status != 200 {
        return Err(refusal(status, &answer));
    }
    let answer: Answer = serde_json::from_slice(&answer).map_err(|e| {
        failure(format!(
            "{server}: JoinHost answered unexpectedly: {e}",
            server = server.as_str()
        ))
    })?;
    let secret_access_key = SecretString::new(answer.secret_access_key);
    let joined = Joined {
        account_id: AccountId::parse(&answer.account_id)?,
        hostname: HostName::parse(&answer.hostname)?,
        arn: answer.arn.unwrap_or_default(),
        access_key_id: answer.access_key_id,
        secret_access_key,
    };
    if joined.hostname != *hostname {
        return Err(failure(format!(
            "the server enrolled {} instead of {hostname}",
            joined.hostname
        )));
    }
    Ok(joined)
}

fn failure(message: String) -> CliError {
    CliError::new("ServiceFailure", message)
}

/// The server's refusal in its own words (`InvalidJoinToken: …`).
fn refusal(status: u16, answer: &[u8]) -> CliError {
    #[derive(Deserialize)]
    struct Error {
        #[serde(rename = "__type")]
        code: String,
        message: String,
    }
    match serde_json::from_slice::<Error>(answer) {
        Ok(e) => CliError::new(e.code, e.message),
        Err(_) => failure(format!("the server answered HTTP {status}")),
    }
}

/// One POST of the host API over TLS pinned to `pin`: (status, body).
fn post(server: &ServerUrl, pin: &CertFingerprint, body: &[u8]) -> Result<Answered, CliError> {
    let unreachable = |e: std::io::Error| failure(format!("cannot reach {}: {e}", server.as_str()));
    let addrs = (server.host(), server.port())
        .to_socket_addrs()
        .map_err(unreachable)?;
    let mut last = None;
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = tcp
        .ok_or_else(|| unreachable(last.unwrap_or_else(|| std::io::ErrorKind::NotFound.into())))?;
    tcp.set_read_timeout(Some(TIMEOUT)).map_err(unreachable)?;
    tcp.set_write_timeout(Some(TIMEOUT)).map_err(unreachable)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        pin: *pin,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failure(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from(server.host().to_owned())
        .map_err(|e| failure(format!("{}: {e}", server.as_str())))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| failure(format!("TLS: {e}")))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);

    let authority = server.as_str().trim_start_matches("https://");
    let mut request = Zeroizing::new(
        format!(
            "POST / HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-amz-json-1.1\r\n\
             X-Amz-Target: {JOIN_TARGET}\r\nContent-Length: {}\r\nConnection: close\r\n\
             User-Agent: iamctl/{}\r\n\r\n",
            body.len(),
            env!("CARGO_PKG_VERSION")
        )
        .into_bytes(),
    );
    request.extend_from_slice(body);
    let talk = |e: std::io::Error| {
        // A pin mismatch surfaces here, as the handshake's error.
        failure(format!("{}: {e}", server.as_str()))
    };
    tls.write_all(&request).map_err(talk)?;
    tls.flush().map_err(talk)?;
    let mut response = Zeroizing::new(Vec::new());
    let mut chunk = Zeroizing::new([0u8; 4096]);
    loop {
        if let Some(done) = complete(&response)? {
            return Ok(done);
        }
        match tls.read(&mut *chunk) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(chunk.get(..n).unwrap_or_default());
                if response.len() > MAX_RESPONSE {
                    return Err(failure(format!(
                        "{}: an answer larger than {MAX_RESPONSE} bytes",
                        server.as_str()
                    )));
                }
            }
            // A peer that closes without TLS's close_notify, after a whole
            // answer, is judged by the answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(talk(e)),
        }
    }
    complete(&response)?
        .ok_or_else(|| failure(format!("{}: the answer was cut short", server.as_str())))
}

/// The status and body once `response` holds a whole HTTP/1.1 answer
/// with a `Content-Length`; `None` while more is to come.
fn complete(response: &[u8]) -> Result<Option<Answered>, CliError> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let bad = |why: &str| failure(format!("the server's answer is not HTTP/1.1: {why}"));
    let head = std::str::from_utf8(response.get(..end).unwrap_or_default())
        .map_err(|_| bad("a header is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1.1 "))
        .and_then(|l| l.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| bad("a header line"))?;
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| bad("Content-Length"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(bad("a chunked answer"));
        }
    }
    let length = length.ok_or_else(|| bad("no Content-Length"))?;
    let body = response.get(end + 4..).unwrap_or_default();
    if body.len() < length {
        return Ok(None);
    }
    let body = body.get(..length).unwrap_or_default();
    Ok(Some((status, Zeroizing::new(body.to_vec()))))
}

/// `setup-host --join`, before the usual setup: enrols this host (unless
/// `agent.toml` beside `config_path` already holds this server's and this
/// hostname's credential: a re-run after fixing what setup refused), writes
/// `agent.toml` (0600 root, atomically) and `iam.toml`'s `account_id` and
/// `hostname`. The caller checked that it runs as root.
pub fn setup(config_path: &Path, a: &SetupHostArgs) -> Result<(), CliError> {
    let (Some(join), Some(fingerprint)) = (&a.join, &a.ca_fingerprint) else {
        return Ok(());
    };
    let server = ServerUrl::parse(join).map_err(CliError::invalid_input)?;
    let pin = CertFingerprint::parse(fingerprint)?;
    let hostname = match &a.hostname {
        Some(h) => HostName::parse(h)?,
        None => HostName::parse(&iam::config::system_hostname().map_err(CliError::invalid_input)?)?,
    };
    let agent_path = config_path
        .parent()
        .unwrap_or(Path::new("/"))
        .join(iam::config::AGENT_CONFIG_FILE);
    if agent_path.exists() {
        let enrolled = AgentConfig::load(&agent_path).map_err(|e| failure(e.to_string()))?;
        if enrolled.server == server && enrolled.hostname == hostname {
            println!(
                "already enrolled as {hostname} with {}: {} kept",
                server.as_str(),
                agent_path.display()
            );
            return Ok(());
        }
        return Err(CliError::new(
            "EntityAlreadyExists",
            format!(
                "{} enrols this host as {} with {} already; revoke it there \
                 (iam-server revoke-host {}) and remove the file first",
                agent_path.display(),
                enrolled.hostname,
                enrolled.server.as_str(),
                enrolled.hostname
            ),
        ));
    }
    if a.dry_run {
        println!(
            "would enrol this host as {hostname} with {} and write {}",
            server.as_str(),
            agent_path.display()
        );
        return Ok(());
    }
    let token = match a.token.as_deref() {
        Some("-") => read_token()?,
        Some(t) => SecretString::from(t),
        None => return Err(CliError::invalid_input("--join needs --token")),
    };
    let joined = join_host(&server, &pin, &token, &hostname)?;
    // The credential first: it is shown once, and a refusal below must
    // not lose it.
    let agent = AgentConfig {
        server,
        ca_fingerprint: pin,
        hostname: hostname.clone(),
        access_key_id: joined.access_key_id,
        secret_access_key: joined.secret_access_key,
    };
    write(&agent_path, agent.render().as_bytes(), 0o600)?;
    println!(
        "enrolled as {}; wrote {} (root only)",
        joined.arn,
        agent_path.display()
    );
    let existing = std::fs::read_to_string(config_path).ok();
    let config = enrolled_config(
        existing.as_deref(),
        &joined.account_id,
        &hostname,
        config_path,
    )?;
    if existing.as_deref() != Some(config.as_str()) {
        write(config_path, config.as_bytes(), 0o644)?;
        println!(
            "wrote {}: account_id {}, hostname {hostname}",
            config_path.display(),
            joined.account_id
        );
    }
    Ok(())
}

/// One line of stdin: the token, kept off argv.
fn read_token() -> Result<SecretString, CliError> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| failure(format!("cannot read the token from stdin: {e}")))?;
    Ok(SecretString::from(line.trim()))
}

/// Root's file, atomically (`iam::publish::write_atomic`), its directory
/// made if missing.
fn write(path: &Path, content: &[u8], mode: u32) -> Result<(), CliError> {
    let io = |e: std::io::Error| failure(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .map_err(io)?;
    }
    iam::publish::write_atomic(path, content, mode, Some((0, 0))).map_err(io)
}

/// `iam.toml` for an enrolled host: a new file is the starter config; an
/// existing one keeps everything but `hostname` (set, uncommented) and
/// must be for the server's account already (a host of another account
/// is a mistake to fix by hand, not to overwrite).
pub fn enrolled_config(
    existing: Option<&str>,
    account: &AccountId,
    hostname: &HostName,
    origin: &Path,
) -> Result<String, CliError> {
    let invalid = |e: iam::config::ConfigError| CliError::invalid_input(e.to_string());
    let text = match existing {
        Some(text) => {
            let config = HostConfig::parse(text, origin).map_err(invalid)?;
            if config.account_id != account.as_str() {
                return Err(CliError::invalid_input(format!(
                    "{} is for account {}, the server's is {account}: fix account_id first",
                    origin.display(),
                    config.account_id
                )));
            }
            text.to_owned()
        }
        None => iam::config::starter_config(account.as_str()).map_err(invalid)?,
    };
    let setting = format!("hostname = {}", toml_string(hostname.as_str()));
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let top = lines
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let is_key = |line: &str, key: &str| {
        line.trim_start()
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    let commented = |line: &str| {
        line.trim_start()
            .strip_prefix('#')
            .is_some_and(|rest| is_key(rest, "hostname"))
    };
    let slot = lines[..top]
        .iter()
        .position(|l| is_key(l, "hostname"))
        .or_else(|| lines[..top].iter().position(|l| commented(l)));
    match slot {
        Some(i) => lines[i] = setting,
        None => {
            let after = lines[..top]
                .iter()
                .position(|l| is_key(l, "account_id"))
                .map_or(0, |i| i + 1);
            lines.insert(after, setting);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    let config = HostConfig::parse(&out, origin).map_err(invalid)?;
    if config.hostname != hostname.as_str() {
        return Err(failure(format!(
            "{}: could not set hostname = {hostname}",
            origin.display()
        )));
    }
    Ok(out)
}

fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Trusts exactly the certificate whose SHA-256 is `pin`; the handshake's
/// signatures are still verified against it, so only the holder of its
/// key can answer.
#[derive(Debug)]
struct Pinned {
    pin: CertFingerprint,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pin.matches(end_entity.as_ref()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate is not the one --ca-fingerprint names (it is {})",
                CertFingerprint::of_der(end_entity.as_ref())
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn an_answer_is_complete_at_its_content_length() {
        let whole = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 5\r\nx: y\r\n\r\nhello";
        for cut in 0..whole.len() {
            assert!(complete(&whole[..cut]).unwrap().is_none(), "{cut}");
        }
        let (status, body) = complete(whole).unwrap().unwrap();
        assert_eq!((status, body.as_slice()), (403, &b"hello"[..]));
        for bad in [
            &b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
        ] {
            assert!(complete(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    fn account() -> AccountId {
        AccountId::parse("123456789012").unwrap()
    }

    fn host(s: &str) -> HostName {
        HostName::parse(s).unwrap()
    }

    #[test]
    fn a_new_hosts_config_is_the_starter_with_its_account_and_hostname() {
        let origin = Path::new("/etc/iam/iam.toml");
        let text = enrolled_config(None, &account(), &host("web-1"), origin).unwrap();
        let config = HostConfig::parse(&text, origin).unwrap();
        assert_eq!(config.account_id, "123456789012");
        assert_eq!(config.hostname, "web-1");
        assert!(text.contains("\nhostname = \"web-1\"\n"), "{text}");
        // Again: nothing changes.
        assert_eq!(
            enrolled_config(Some(&text), &account(), &host("web-1"), origin).unwrap(),
            text
        );
    }

    #[test]
    fn an_existing_config_keeps_everything_but_its_hostname() {
        let origin = Path::new("/etc/iam/iam.toml");
        let text = "# mine\naccount_id = \"123456789012\"\nhostname = \"old\"\n\n[login]\nrequire_mfa = true\n";
        let new = enrolled_config(Some(text), &account(), &host("web-2"), origin).unwrap();
        assert_eq!(new, text.replace("\"old\"", "\"web-2\""));
        let bare =
            "account_id = \"123456789012\"\n[host_tags]\nhostname = \"a tag, not the key\"\n";
        let new = enrolled_config(Some(bare), &account(), &host("web-3"), origin).unwrap();
        assert!(
            new.starts_with("account_id = \"123456789012\"\nhostname = \"web-3\"\n[host_tags]"),
            "{new}"
        );
        let other = "account_id = \"210987654321\"\n";
        let e = enrolled_config(Some(other), &account(), &host("web-1"), origin).unwrap_err();
        assert_eq!(e.code, "InvalidInput");
        assert!(e.message.contains("is for account 210987654321"), "{e}");
    }

    #[test]
    fn a_refusal_keeps_the_servers_code_and_message() {
        let e = refusal(403, br#"{"__type":"InvalidJoinToken","message":"The join token is invalid, used or expired."}"#);
        assert_eq!(e.code, "InvalidJoinToken");
        assert_eq!(e.message, "The join token is invalid, used or expired.");
        assert_eq!(refusal(502, b"<html>").code, "ServiceFailure");
    }
}
