//! The agent's calls to iam-server: AWS's JSON 1.1 protocol, signed with
//! SigV4 as the AWS SDKs sign, over HTTPS to a server known by its
//! certificate's SHA-256 fingerprint (the one `iam-server` prints and
//! `setup-host --join --ca-fingerprint` was given), not by a CA.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use iam::config::AgentConfig;
use iam::names::CertFingerprint;
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The target prefix of the hosts' API (iam-server's `fleet`).
const TARGET_PREFIX: &str = "IamHost_20261203.";
/// What the hosts' API is signed for.
const SIGNING_SERVICE: &str = "host";
const SIGNING_REGION: &str = "us-east-1";
/// Connecting and the TLS handshake, together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A call's answer, beyond the time the server was asked to wait.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read (a snapshot of a large directory).
const MAX_ANSWER_BYTES: usize = 1 << 30;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} took too long to answer")]
    Timeout { url: String },
    /// The server refused the call, in AWS's words.
    #[error("{code}: {message}")]
    Refused { code: String, message: String },
    #[error("the server's answer is not what was asked for: {0}")]
    Answer(String),
}

/// Where the server is and how the agent proves who it is.
pub struct Client {
    host: String,
    port: u16,
    url: String,
    tls: TlsConnector,
    identity: Identity,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    /// A client for the server and credentials of `agent.toml`.
    pub fn new(config: &AgentConfig) -> Result<Self, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                pinned: config.ca_fingerprint,
                provider,
            }))
            .with_no_client_auth();
        let credentials = Credentials::new(
            config.access_key_id.as_str(),
            config.secret_access_key.expose(),
            None,
            None,
            "iam-agent",
        );
        Ok(Self {
            host: config.server.host().to_owned(),
            port: config.server.port(),
            url: config.server.as_str().to_owned(),
            tls: TlsConnector::from(Arc::new(tls)),
            identity: credentials.into(),
            connection: None,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `operation` with `input`; the server may take `wait` to
    /// answer (a long poll).
    pub async fn call(
        &mut self,
        operation: &str,
        input: &serde_json::Value,
        wait: Duration,
    ) -> Result<serde_json::Value, ClientError> {
        let deadline = wait + ANSWER_TIMEOUT;
        match tokio::time::timeout(deadline, self.exchange(operation, input)).await {
            Ok(r) => {
                if r.is_err() {
                    // A connection that failed once is not used again.
                    self.connection = None;
                }
                r
            }
            Err(_) => {
                self.connection = None;
                Err(ClientError::Timeout {
                    url: self.url.clone(),
                })
            }
        }
    }

    async fn exchange(
        &mut self,
        operation: &str,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let request = self.signed(operation, input)?;
        let connection = match self.connection.take() {
            Some(c) if !c.is_closed() => c,
            _ => self.connect().await?,
        };
        let mut connection = connection;
        let response = connection
            .send_request(request)
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| self.unreachable(e))?
            .to_bytes();
        self.connection = Some(connection);
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ClientError::Answer(format!("HTTP {status}: {e}")))?;
        if status.is_success() {
            return Ok(value);
        }
        let text = |k: &str| value.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        Err(ClientError::Refused {
            code: text("__type").to_owned(),
            message: if text("message").is_empty() {
                text("Message").to_owned()
            } else {
                text("message").to_owned()
            },
        })
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ClientError {
        ClientError::Unreachable {
            url: self.url.clone(),
            reason: e.to_string(),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ClientError> {
        let connect = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| self.unreachable(e))?;
            tcp.set_nodelay(true).map_err(|e| self.unreachable(e))?;
            let name = ServerName::try_from(self.host.clone()).map_err(|e| self.unreachable(e))?;
            let stream = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| self.unreachable(e))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| self.unreachable(e))?;
            tokio::spawn(connection);
            Ok(sender)
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .unwrap_or_else(|_| {
                Err(ClientError::Timeout {
                    url: self.url.clone(),
                })
            })
    }

    /// The request, signed now as an AWS SDK signs a JSON 1.1 call.
    fn signed(
        &self,
        operation: &str,
        input: &serde_json::Value,
    ) -> Result<http::Request<Full<Bytes>>, ClientError> {
        let body = Bytes::from(input.to_string());
        let authority = if self.port == 443 {
            self.host.clone()
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let target = format!("{TARGET_PREFIX}{operation}");
        let content_type = "application/x-amz-json-1.1";
        let signing = |e: &dyn std::fmt::Display| ClientError::Answer(format!("signing: {e}"));
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(SIGNING_REGION)
            .name(SIGNING_SERVICE)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| signing(&e))?;
        let signable = SignableRequest::new(
            "POST",
            format!("https://{authority}/"),
            [
                ("host", authority.as_str()),
                ("content-type", content_type),
                ("x-amz-target", target.as_str()),
            ]
            .into_iter(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| signing(&e))?;
        let (instructions, _) = sign(signable, &params.into())
            .map_err(|e| signing(&e))?
            .into_parts();
        let mut request = http::Request::post("/")
            .header(http::header::HOST, &authority)
            .header(http::header::CONTENT_TYPE, content_type)
            .header("x-amz-target", &target)
            .header(http::header::USER_AGENT, "iam-agent")
            .body(Full::new(body))
            .map_err(|e| signing(&e))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}

/// Trusts exactly one certificate: the server's, by its SHA-256. The
/// handshake's signatures are still checked (the server must hold the
/// certificate's key); names and dates are not, as with any pinned key.
#[derive(Debug)]
struct Pinned {
    pinned: CertFingerprint,
    provider: Arc<CryptoProvider>,
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
        if self.pinned.matches(end_entity.as_ref()) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not the one pinned by ca_fingerprint".to_owned(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
