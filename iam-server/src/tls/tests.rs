use super::*;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

fn config(dir: &Path) -> ServerConfig {
    ServerConfig::default_for_tests(dir, "123456789012")
}

#[test]
fn a_generated_pair_is_written_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let first = load_or_generate(&cfg).unwrap();
    assert!(first.generated);
    let tls_dir = cfg.generated_tls_dir();
    let mode = |name: &str| std::fs::metadata(tls_dir.join(name)).unwrap().mode() & 0o7777;
    assert_eq!(mode("key.pem"), 0o600);
    assert_eq!(mode("cert.pem"), 0o644);
    assert_eq!(std::fs::metadata(&tls_dir).unwrap().mode() & 0o7777, 0o700);
    let cert_before = std::fs::read(tls_dir.join("cert.pem")).unwrap();

    let second = load_or_generate(&cfg).unwrap();
    assert!(!second.generated);
    assert_eq!(second.fingerprint, first.fingerprint);
    assert_eq!(
        std::fs::read(tls_dir.join("cert.pem")).unwrap(),
        cert_before
    );
}

#[test]
fn the_fingerprint_is_openssls() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let tls = load_or_generate(&cfg).unwrap();
    assert_eq!(tls.fingerprint.len(), 32 * 3 - 1);
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cfg.generated_tls_dir().join("cert.pem"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (_, printed) = text.trim().split_once('=').unwrap();
    assert_eq!(tls.fingerprint, printed);
}

#[test]
fn the_generated_certificate_names_this_host() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    load_or_generate(&cfg).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(cfg.generated_tls_dir().join("cert.pem"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for name in [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
    ] {
        assert!(text.contains(name), "{name} not in {text}");
    }
}

#[test]
fn a_configured_pair_is_used_and_its_key_must_be_private() {
    let dir = tempfile::tempdir().unwrap();
    let generated = load_or_generate(&config(&dir.path().join("gen"))).unwrap();
    let gen_dir = dir.path().join("gen/tls");
    let etc = dir.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::copy(gen_dir.join("cert.pem"), etc.join("server.pem")).unwrap();
    std::fs::copy(gen_dir.join("key.pem"), etc.join("server.key")).unwrap();
    let mut cfg = config(&dir.path().join("state"));
    cfg.tls = Some(crate::config::TlsFiles {
        certificate: etc.join("server.pem"),
        key: etc.join("server.key"),
    });
    let tls = load_or_generate(&cfg).unwrap();
    assert!(!tls.generated);
    assert_eq!(tls.fingerprint, generated.fingerprint);
    assert!(!dir.path().join("state").exists(), "nothing generated");

    std::fs::set_permissions(
        etc.join("server.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let err = load_or_generate(&cfg).err().unwrap();
    assert!(matches!(err, TlsError::Untrusted(_)), "{err}");

    std::fs::write(etc.join("server.pem"), "not pem").unwrap();
    std::fs::set_permissions(
        etc.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let err = load_or_generate(&cfg).err().unwrap();
    assert!(matches!(err, TlsError::Pem { .. }), "{err}");
}

#[test]
fn a_key_without_its_certificate_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    load_or_generate(&cfg).unwrap();
    std::fs::remove_file(cfg.generated_tls_dir().join("cert.pem")).unwrap();
    let err = load_or_generate(&cfg).err().unwrap();
    assert!(matches!(err, TlsError::HalfPair { .. }), "{err}");
}

// ---- serving

struct Server {
    addr: SocketAddr,
    cert: CertificateDer<'static>,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A server whose handler answers `peer-ip body`, after sleeping for the
/// milliseconds the `x-sleep-ms` header asks.
async fn start(dir: &Path, timeouts: Timeouts) -> Server {
    let cfg = config(dir);
    let tls = load_or_generate(&cfg).unwrap();
    let pem = std::fs::read(cfg.generated_tls_dir().join("cert.pem")).unwrap();
    let cert = CertificateDer::from_pem_slice(&pem).unwrap();
    let listener = TcpListener::bind(cfg.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let handler = |request: Request<Incoming>, peer: SocketAddr| async move {
        let sleep = request
            .headers()
            .get("x-sleep-ms")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(sleep)).await;
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let text = format!("{} {}", peer.ip(), String::from_utf8_lossy(&body));
        Response::new(Full::new(Bytes::from(text)))
    };
    let done = tokio::spawn(serve_with(
        listener,
        tls.config,
        handler,
        async {
            let _ = stopped.await;
        },
        timeouts,
    ));
    Server {
        addr,
        cert,
        stop,
        done,
    }
}

const TEST_TIMEOUTS: Timeouts = Timeouts {
    handshake: Duration::from_millis(300),
    header_read: Duration::from_secs(5),
    drain: Duration::from_secs(5),
};

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// An HTTPS connection trusting only the server's certificate, for `name`.
async fn connect(server: &Server, name: &str) -> Sender {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server.cert.clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let stream = connector
        .connect(name.to_owned().try_into().unwrap(), tcp)
        .await
        .unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

async fn post(sender: &mut Sender, body: &str, sleep_ms: u64) -> String {
    let request = Request::post("/")
        .header("host", "localhost")
        .header("x-sleep-ms", sleep_ms.to_string())
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn https_round_trip_with_keep_alive_and_the_peer_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), TEST_TIMEOUTS).await;
    for name in ["localhost", "127.0.0.1"] {
        let mut sender = connect(&server, name).await;
        assert_eq!(post(&mut sender, "one", 0).await, "127.0.0.1 one");
        // The same connection again: keep-alive.
        assert_eq!(post(&mut sender, "two", 0).await, "127.0.0.1 two");
    }
    server.stop.send(()).unwrap();
    server.done.await.unwrap().unwrap();
}

#[tokio::test]
async fn plain_http_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), TEST_TIMEOUTS).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    // Closed (at most a TLS alert first), and never an HTTP answer.
    assert!(read.is_ok(), "the connection stays open");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    assert!(answer.len() < 64, "{answer:?}");
    // The server still serves TLS clients.
    let mut sender = connect(&server, "localhost").await;
    assert_eq!(post(&mut sender, "ok", 0).await, "127.0.0.1 ok");
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), TEST_TIMEOUTS).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(matches!(read, Ok(Ok(0))), "{read:?}");
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_stops_accepting() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), TEST_TIMEOUTS).await;
    let mut sender = connect(&server, "localhost").await;
    let in_flight = tokio::spawn(async move { post(&mut sender, "slow", 500).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.send(()).unwrap();
    assert_eq!(in_flight.await.unwrap(), "127.0.0.1 slow");
    tokio::time::timeout(Duration::from_secs(5), server.done)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "still accepting"
    );
}
