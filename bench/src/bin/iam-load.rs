//! A load generator for the IAM Query API that costs the servers' machine
//! little per call, so calls/s measure the server, not the client (issue 13:
//! boto3 spends 2–3 ms of CPU per call, as much as the servers it drives).
//! bench/server/bench.py runs it per target and call; bench/README.md says
//! how.
//!
//! Each of `--concurrency` workers holds one HTTP/1.1 keep-alive connection
//! (HTTPS through rustls with ring, trusting only `--ca-bundle`; plain HTTP
//! for an `http://` endpoint such as moto) and sends one call at a time: a
//! form-encoded POST `Action=…&Version=2010-05-08&…`, the body boto3 sends,
//! signed with Signature Version 4 by `aws-sigv4` (the AWS SDK for Rust's
//! signer) for service `iam` in `us-east-1`, as the SDKs sign IAM calls.
//! One tokio current-thread runtime: the generator takes at most one core.
//!
//! ```text
//! iam-load --endpoint URL [--ca-bundle PEM] [--credentials FILE]
//!          --action ACTION [--param NAME=VALUE]... [--pick NAME=FILE]...
//!          [--unique NAME=PREFIX] [--concurrency N] [--calls N]
//!          [--duration SECONDS] [--warmup N] [--allow-error CODE]... [--raw]
//! ```
//!
//! - `--credentials FILE`: JSON with `AccessKeyId` and `SecretAccessKey`
//!   (AWS's `AccessKey` shape), readable by its owner only; without it,
//!   `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`. Never on argv.
//! - `--param NAME=VALUE`: a request parameter sent on every call.
//! - `--pick NAME=FILE`: each call sends NAME with a line of FILE picked at
//!   random (seeded, `--seed`): user names for `GetUser`, markers for a later
//!   `ListUsers` page.
//! - `--unique NAME=PREFIX`: each call sends NAME as PREFIX, the worker and a
//!   counter: fresh names for `CreateUser`.
//! - The run stops after `--calls` calls in all or after `--duration`
//!   seconds (default 30), whichever comes first. `--warmup` calls per
//!   connection (default 2) go first and are not timed.
//!
//! A call succeeds when the answer is HTTP 200 with the action's
//! `<ActionResponse` element; anything else is an error, counted by HTTP
//! status and AWS error code (`403 SignatureDoesNotMatch`), and makes the
//! exit status 1 unless its code was given with `--allow-error`. Output: one
//! JSON object on stdout with the calls, errors, calls/s (successful calls
//! over the timed wall time), p50/p90/p99/max latency of the successful calls,
//! the untimed warm-up calls and the generator's own CPU per timed call;
//! `--raw` adds every latency in µs.

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The IAM Query API's version, as boto3 sends it.
const API_VERSION: &str = "2010-05-08";
/// IAM is global; the SDKs sign its calls for us-east-1.
const SIGNING_REGION: &str = "us-east-1";
const SIGNING_SERVICE: &str = "iam";
/// No call may hang a run: one that takes longer is a transport error.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Form encoding as botocore's query serializer does it: RFC 3986's
/// unreserved characters stay, everything else is percent-encoded.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("iam-load: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("iam-load: a tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(options)) {
        Ok(report) => {
            println!("{}", report.json);
            if report.failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("iam-load: {e}");
            ExitCode::from(2)
        }
    }
}

/// Why a run could not start.
#[derive(Debug)]
enum SetupError {
    Usage(String),
    Credentials(String),
    CaBundle(PathBuf, String),
    Pick(PathBuf, String),
    Connect(String, std::io::Error),
    Http(hyper::Error),
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Usage(why) => write!(f, "{why} (see the docs at the top of iam-load.rs)"),
            SetupError::Credentials(why) => write!(f, "credentials: {why}"),
            SetupError::CaBundle(path, why) => write!(f, "--ca-bundle {}: {why}", path.display()),
            SetupError::Pick(path, why) => write!(f, "--pick {}: {why}", path.display()),
            SetupError::Connect(endpoint, e) => write!(f, "connecting to {endpoint}: {e}"),
            SetupError::Http(e) => write!(f, "HTTP/1.1 handshake: {e}"),
        }
    }
}

/// Where the calls go.
#[derive(Clone)]
struct Endpoint {
    tls: bool,
    host: String,
    port: u16,
}

impl Endpoint {
    fn parse(url: &str) -> Result<Endpoint, SetupError> {
        let bad = |why: &str| SetupError::Usage(format!("--endpoint {url}: {why}"));
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(bad("not an http:// or https:// URL"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(bad("calls go to /; give no path"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse().map_err(|_| bad("the port is not a number"))?,
            ),
            None => (authority, if tls { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Endpoint {
            tls,
            host: host.to_owned(),
            port,
        })
    }

    /// The Host header: the port is left out only where it is the scheme's.
    fn authority(&self) -> String {
        if self.port == if self.tls { 443 } else { 80 } {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn url(&self) -> String {
        format!(
            "{}://{}/",
            if self.tls { "https" } else { "http" },
            self.authority()
        )
    }
}

/// The command line, parsed.
struct Options {
    endpoint: Endpoint,
    ca_bundle: Option<PathBuf>,
    credentials: Option<PathBuf>,
    action: String,
    params: Vec<(String, String)>,
    picks: Vec<(String, PathBuf)>,
    unique: Option<(String, String)>,
    concurrency: usize,
    calls: Option<u64>,
    duration: Duration,
    warmup: u32,
    allowed: Vec<String>,
    seed: u64,
    raw: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, SetupError> {
        let usage = |why: String| SetupError::Usage(why);
        let mut endpoint = None;
        let mut options = Options {
            endpoint: Endpoint {
                tls: false,
                host: String::new(),
                port: 0,
            },
            ca_bundle: None,
            credentials: None,
            action: String::new(),
            params: Vec::new(),
            picks: Vec::new(),
            unique: None,
            concurrency: 16,
            calls: None,
            duration: Duration::from_secs(30),
            warmup: 2,
            allowed: Vec::new(),
            seed: 1,
            raw: false,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--raw" {
                options.raw = true;
                continue;
            }
            let value = it
                .next()
                .ok_or_else(|| usage(format!("{flag} needs a value")))?;
            let number = |what: &str| -> Result<u64, SetupError> {
                value
                    .parse::<u64>()
                    .map_err(|_| usage(format!("{what} {value}: not a whole number")))
            };
            let pair = || -> Result<(String, String), SetupError> {
                value
                    .split_once('=')
                    .filter(|(name, _)| !name.is_empty())
                    .map(|(name, v)| (name.to_owned(), v.to_owned()))
                    .ok_or_else(|| usage(format!("{flag} {value}: expected NAME=VALUE")))
            };
            match flag.as_str() {
                "--endpoint" => endpoint = Some(Endpoint::parse(value)?),
                "--ca-bundle" => options.ca_bundle = Some(PathBuf::from(value)),
                "--credentials" => options.credentials = Some(PathBuf::from(value)),
                "--action" => options.action = value.clone(),
                "--param" => options.params.push(pair()?),
                "--pick" => {
                    let (name, file) = pair()?;
                    options.picks.push((name, PathBuf::from(file)));
                }
                "--unique" => options.unique = Some(pair()?),
                "--concurrency" => {
                    options.concurrency = usize::try_from(number(flag)?)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| usage(format!("{flag} {value}: at least 1")))?;
                }
                "--calls" => options.calls = Some(number(flag)?),
                "--duration" => {
                    let seconds: f64 = value
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                        .ok_or_else(|| {
                            usage(format!(
                                "{flag} {value}: seconds, more than 0, at most 3600"
                            ))
                        })?;
                    options.duration = Duration::from_secs_f64(seconds);
                }
                "--warmup" => {
                    options.warmup = u32::try_from(number(flag)?)
                        .map_err(|_| usage(format!("{flag} {value}: too many")))?;
                }
                "--allow-error" => options.allowed.push(value.clone()),
                "--seed" => options.seed = number(flag)?,
                _ => return Err(usage(format!("unknown option {flag}"))),
            }
        }
        options.endpoint = endpoint.ok_or_else(|| usage("--endpoint is required".to_owned()))?;
        if options.action.is_empty() {
            return Err(usage("--action is required".to_owned()));
        }
        if options.ca_bundle.is_some() && !options.endpoint.tls {
            return Err(usage(
                "--ca-bundle is for an https:// endpoint only".to_owned(),
            ));
        }
        Ok(options)
    }
}

/// The access key the calls are signed with: from a file only its owner
/// can read, or from the environment, never from argv.
fn credentials(file: Option<&Path>) -> Result<Credentials, SetupError> {
    let bad = |why: String| SetupError::Credentials(why);
    let (id, secret) = match file {
        Some(path) => {
            let meta =
                std::fs::metadata(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
            if meta.mode() & 0o077 != 0 {
                return Err(bad(format!(
                    "{} is open to group or others (mode {:o}); chmod 600 it",
                    path.display(),
                    meta.mode() & 0o777
                )));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
            let key: Value = serde_json::from_str(&text)
                .map_err(|e| bad(format!("{}: not JSON: {e}", path.display())))?;
            let field = |name: &str| {
                key.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| bad(format!("{}: no string {name}", path.display())))
            };
            (field("AccessKeyId")?, field("SecretAccessKey")?)
        }
        None => {
            let var = |name: &str| {
                std::env::var(name).map_err(|_| {
                    bad(format!(
                        "no --credentials file and no {name} in the environment"
                    ))
                })
            };
            (var("AWS_ACCESS_KEY_ID")?, var("AWS_SECRET_ACCESS_KEY")?)
        }
    };
    Ok(Credentials::new(id, secret, None, None, "iam-load"))
}

/// TLS trusting only the certificates in the bundle (iam-server's own,
/// self-signed, in the benchmark).
fn tls_connector(bundle: &Path) -> Result<TlsConnector, SetupError> {
    let bad = |why: String| SetupError::CaBundle(bundle.to_owned(), why);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(bundle).map_err(|e| bad(e.to_string()))? {
        roots
            .add(cert.map_err(|e| bad(e.to_string()))?)
            .map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no certificate in it".to_owned()));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// What every worker shares.
struct Plan {
    endpoint: Endpoint,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    identity: Identity,
    action: String,
    params: Vec<(String, String)>,
    picks: Vec<(String, Vec<String>)>,
    unique: Option<(String, String)>,
    allowed: Vec<String>,
    /// Calls left to start (`u64::MAX`: as many as the duration allows).
    budget: AtomicU64,
}

type Connection = SendRequest<Full<Bytes>>;

async fn connect(plan: &Plan) -> Result<Connection, SetupError> {
    let endpoint = &plan.endpoint;
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| SetupError::Connect(endpoint.url(), e))?;
    // Each call is one write of headers and body; Nagle would hold it.
    tcp.set_nodelay(true)
        .map_err(|e| SetupError::Connect(endpoint.url(), e))?;
    match &plan.tls {
        Some((connector, name)) => {
            let stream = connector
                .connect(name.clone(), tcp)
                .await
                .map_err(|e| SetupError::Connect(endpoint.url(), e))?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(SetupError::Http)?;
            tokio::spawn(connection);
            Ok(sender)
        }
        None => {
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(SetupError::Http)?;
            tokio::spawn(connection);
            Ok(sender)
        }
    }
}

/// How one call ended.
enum Outcome {
    Ok,
    /// The server answered, but not with the action's response.
    Refused {
        status: u16,
        code: Option<String>,
    },
    /// The connection failed or the call timed out; the worker reconnects.
    Transport(String),
}

/// splitmix64: a seeded, reproducible pick of names and markers, per worker.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // n is at most a file's line count: the modulo bias is negligible.
        (z % n as u64) as usize
    }
}

/// The form body of one call, in botocore's order: Action, Version, then
/// the parameters.
fn body(plan: &Plan, rng: &mut Rng, worker: usize, n: u64) -> String {
    let mut body = format!("Action={}&Version={API_VERSION}", plan.action);
    let mut add = |name: &str, value: &str| {
        body.push('&');
        body.extend(utf8_percent_encode(name, FORM));
        body.push('=');
        body.extend(utf8_percent_encode(value, FORM));
    };
    for (name, value) in &plan.params {
        add(name, value);
    }
    for (name, values) in &plan.picks {
        add(name, &values[rng.below(values.len())]);
    }
    if let Some((name, prefix)) = &plan.unique {
        add(name, &format!("{prefix}{worker}-{n}"));
    }
    body
}

/// One call's request, signed for `at` as the AWS SDKs sign an IAM call:
/// `host`, `content-type` and `x-amz-date` signed, the payload hashed into
/// the canonical request (no `x-amz-content-sha256` header, as botocore).
fn signed_request(
    endpoint: &Endpoint,
    identity: &Identity,
    body: Bytes,
    at: SystemTime,
) -> Result<http::Request<Full<Bytes>>, String> {
    let authority = endpoint.authority();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let params = v4::SigningParams::builder()
        .identity(identity)
        .region(SIGNING_REGION)
        .name(SIGNING_SERVICE)
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing: {e}"))?;
    let signable = SignableRequest::new(
        "POST",
        endpoint.url(),
        [("host", authority.as_str()), ("content-type", content_type)].into_iter(),
        SignableBody::Bytes(&body),
    )
    .map_err(|e| format!("signing: {e}"))?;
    let (instructions, _) = sign(signable, &params.into())
        .map_err(|e| format!("signing: {e}"))?
        .into_parts();
    let mut request = http::Request::post("/")
        .header(http::header::HOST, &authority)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::USER_AGENT, "iam-load")
        .body(Full::new(body))
        .map_err(|e| format!("building the request: {e}"))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request)
}

/// Signs and sends one call and reads the whole answer (so the connection
/// can carry the next).
async fn call(plan: &Plan, connection: &mut Connection, body: Bytes) -> Outcome {
    let request = match signed_request(&plan.endpoint, &plan.identity, body, SystemTime::now()) {
        Ok(request) => request,
        Err(e) => return Outcome::Transport(e),
    };
    let exchange = async {
        let response = connection.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, bytes))
    };
    match tokio::time::timeout(CALL_TIMEOUT, exchange).await {
        Err(_) => Outcome::Transport(format!("no answer in {} s", CALL_TIMEOUT.as_secs())),
        Ok(Err(e)) => Outcome::Transport(e.to_string()),
        Ok(Ok((status, bytes))) => {
            let text = String::from_utf8_lossy(&bytes);
            if status == 200 && text.contains(&format!("<{}Response", plan.action)) {
                Outcome::Ok
            } else {
                Outcome::Refused {
                    status,
                    code: aws_error_code(&text),
                }
            }
        }
    }
}

/// The `<Code>` of AWS's `ErrorResponse` XML.
fn aws_error_code(xml: &str) -> Option<String> {
    let start = xml.find("<Code>")? + "<Code>".len();
    let end = start + xml[start..].find("</Code>")?;
    Some(xml[start..end].to_owned())
}

/// One worker's tally.
#[derive(Default)]
struct Tally {
    /// Latency of each successful timed call, in µs.
    latencies_us: Vec<u64>,
    /// Errors by "STATUS CODE" (or "transport: …").
    errors: BTreeMap<String, u64>,
    /// Errors whose AWS code was given with `--allow-error`.
    allowed: u64,
    /// Connections opened after the first, each inside a call's time.
    reconnects: u64,
    /// Untimed calls made before the clock started.
    warmup_calls: u64,
    /// When its last timed call ended.
    finished: Option<Instant>,
}

impl Tally {
    fn count(&mut self, plan: &Plan, outcome: Outcome) {
        let key = match outcome {
            Outcome::Ok => return,
            Outcome::Refused {
                code: Some(code), ..
            } if plan.allowed.contains(&code) => {
                self.allowed += 1;
                return;
            }
            Outcome::Refused { status, code } => {
                format!(
                    "{status} {}",
                    code.as_deref().unwrap_or("(no AWS error code)")
                )
            }
            Outcome::Transport(why) => format!("transport: {why}"),
        };
        *self.errors.entry(key).or_default() += 1;
    }
}

/// One connection and what its calls met.
struct Worker {
    plan: Arc<Plan>,
    id: usize,
    /// None after a transport error: the next call connects anew.
    connection: Option<Connection>,
    /// Set when a connection could not be opened again: the worker stops.
    stopped: bool,
    rng: Rng,
    sent: u64,
    tally: Tally,
}

impl Worker {
    /// One call, or None once the worker has stopped. A connection the
    /// server closed (moto answers HTTP/1.0, one call per connection) or
    /// that failed is opened again first, inside the call's time, as
    /// botocore's connection pool does.
    async fn call(&mut self) -> Option<Outcome> {
        if self.stopped {
            return None;
        }
        let mut open = self.connection.take();
        if let Some(connection) = open.as_mut()
            && connection.ready().await.is_err()
        {
            open = None;
        }
        let mut connection = match open {
            Some(connection) => connection,
            None => {
                self.tally.reconnects += 1;
                match connect(&self.plan).await {
                    Ok(fresh) => fresh,
                    Err(e) => {
                        self.stopped = true;
                        return Some(Outcome::Transport(format!("reconnecting: {e}")));
                    }
                }
            }
        };
        let body = Bytes::from(body(&self.plan, &mut self.rng, self.id, self.sent));
        self.sent += 1;
        let outcome = call(&self.plan, &mut connection, body).await;
        if !matches!(outcome, Outcome::Transport(_)) {
            self.connection = Some(connection);
        }
        Some(outcome)
    }

    /// Untimed calls before the clock starts: connections, server caches
    /// and the first TLS records settle.
    async fn warm_up(mut self, calls: u32) -> Worker {
        for _ in 0..calls {
            match self.call().await {
                Some(outcome) => {
                    self.tally.warmup_calls += 1;
                    self.tally.count(&self.plan, outcome);
                }
                None => break,
            }
        }
        self
    }

    /// Timed calls until the budget or the deadline runs out.
    async fn measure(mut self, deadline: Instant) -> Tally {
        while Instant::now() < deadline
            && self
                .plan
                .budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                    left.checked_sub(1)
                })
                .is_ok()
        {
            let began = Instant::now();
            let Some(outcome) = self.call().await else {
                break;
            };
            let ended = Instant::now();
            match outcome {
                Outcome::Ok => {
                    let us = ended.saturating_duration_since(began).as_micros();
                    self.tally
                        .latencies_us
                        .push(u64::try_from(us).unwrap_or(u64::MAX));
                }
                outcome => self.tally.count(&self.plan, outcome),
            }
            self.tally.finished = Some(ended);
        }
        self.tally
    }
}

/// What the run prints, and whether it failed.
struct Report {
    json: Value,
    failed: bool,
}

async fn run(options: Options) -> Result<Report, SetupError> {
    let identity: Identity = credentials(options.credentials.as_deref())?.into();
    let tls = match (&options.ca_bundle, options.endpoint.tls) {
        (Some(bundle), true) => {
            let name = ServerName::try_from(options.endpoint.host.clone()).map_err(|e| {
                SetupError::Usage(format!("--endpoint host {}: {e}", options.endpoint.host))
            })?;
            Some((tls_connector(bundle)?, name))
        }
        (None, true) => {
            return Err(SetupError::Usage(
                "an https:// endpoint needs --ca-bundle".to_owned(),
            ));
        }
        (_, false) => None,
    };
    let mut picks = Vec::new();
    for (name, path) in &options.picks {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SetupError::Pick(path.clone(), e.to_string()))?;
        let values: Vec<String> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if values.is_empty() {
            return Err(SetupError::Pick(path.clone(), "no lines".to_owned()));
        }
        picks.push((name.clone(), values));
    }
    let plan = Arc::new(Plan {
        endpoint: options.endpoint.clone(),
        tls,
        identity,
        action: options.action.clone(),
        params: options.params.clone(),
        picks,
        unique: options.unique.clone(),
        allowed: options.allowed.clone(),
        budget: AtomicU64::new(options.calls.unwrap_or(u64::MAX)),
    });

    // Every connection is open (TLS handshake done) before the clock starts.
    let mut connections = Vec::with_capacity(options.concurrency);
    for _ in 0..options.concurrency {
        connections.push(connect(&plan).await?);
    }
    let mut warming = tokio::task::JoinSet::new();
    for (id, connection) in connections.into_iter().enumerate() {
        let worker = Worker {
            plan: Arc::clone(&plan),
            id,
            connection: Some(connection),
            stopped: false,
            rng: Rng(options.seed ^ (id as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)),
            sent: 0,
            tally: Tally::default(),
        };
        warming.spawn(worker.warm_up(options.warmup));
    }
    let mut warm = Vec::with_capacity(options.concurrency);
    let mut total = Tally::default();
    while let Some(joined) = warming.join_next().await {
        match joined {
            Ok(worker) => warm.push(worker),
            Err(e) => *total.errors.entry(format!("worker: {e}")).or_default() += 1,
        }
    }
    let cpu_before = own_cpu_seconds();
    let start = Instant::now();
    let deadline = start + options.duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in warm {
        workers.spawn(worker.measure(deadline));
    }
    let mut finished = start;
    while let Some(joined) = workers.join_next().await {
        let tally = match joined {
            Ok(tally) => tally,
            Err(e) => {
                *total.errors.entry(format!("worker: {e}")).or_default() += 1;
                continue;
            }
        };
        total.latencies_us.extend(tally.latencies_us);
        for (key, n) in tally.errors {
            *total.errors.entry(key).or_default() += n;
        }
        total.allowed += tally.allowed;
        total.reconnects += tally.reconnects;
        total.warmup_calls += tally.warmup_calls;
        finished = finished.max(tally.finished.unwrap_or(start));
    }
    let cpu = own_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    Ok(report(
        &options,
        total,
        finished.saturating_duration_since(start),
        cpu,
    ))
}

fn report(options: &Options, mut total: Tally, wall: Duration, cpu: Option<f64>) -> Report {
    let ok = total.latencies_us.len() as u64;
    let errors: u64 = total.errors.values().sum();
    let seconds = wall.as_secs_f64();
    total.latencies_us.sort_unstable();
    let ms = |q: f64| percentile(&total.latencies_us, q).map(|us| us as f64 / 1000.0);
    let mut json = json!({
        "action": options.action,
        "endpoint": options.endpoint.url(),
        "concurrency": options.concurrency,
        "ok": ok,
        "errors": total.errors,
        "allowed_errors": total.allowed,
        "reconnects": total.reconnects,
        "warmup_calls": total.warmup_calls,
        "seconds": seconds,
        "calls_per_s": if seconds > 0.0 { ok as f64 / seconds } else { 0.0 },
        "latency_ms": {
            "p50": ms(0.50),
            "p90": ms(0.90),
            "p99": ms(0.99),
            "max": ms(1.0),
        },
        "client_cpu_ms_per_call": cpu.filter(|_| ok > 0).map(|s| s * 1000.0 / ok as f64),
    });
    if options.raw {
        json["latencies_us"] = json!(total.latencies_us);
    }
    Report {
        json,
        failed: errors > 0 || ok == 0,
    }
}

/// The nearest-rank percentile of sorted values (rank q × (n − 1), rounded).
fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = ((q * last as f64).round() as usize).min(last);
    sorted.get(rank).copied()
}

/// This process's user + system CPU time (/proc/self/stat), in seconds.
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // /proc counts in USER_HZ, fixed at 100 in Linux's user ABI.
    Some(ticks as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use iam::secret::SecretString;

    const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn identity(secret: &str) -> Identity {
        Credentials::new(KEY_ID, secret, None, None, "test").into()
    }

    fn plan(params: &[(&str, &str)]) -> Plan {
        Plan {
            endpoint: Endpoint::parse("https://localhost:8443").unwrap(),
            tls: None,
            identity: identity(SECRET),
            action: "SimulatePrincipalPolicy".to_owned(),
            params: params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            picks: Vec::new(),
            unique: None,
            allowed: Vec::new(),
            budget: AtomicU64::new(0),
        }
    }

    /// iam-server's own SigV4 check (`iam_server::sigv4`) of a request.
    fn server_verifies(request: http::Request<Full<Bytes>>, body: &[u8], secret: &str) -> bool {
        let (parts, _) = request.into_parts();
        let claim = iam_server::sigv4::parse(&parts, chrono::Utc::now()).unwrap();
        assert_eq!(claim.access_key_id, KEY_ID);
        assert_eq!(
            (claim.region.as_str(), claim.service.as_str()),
            ("us-east-1", "iam")
        );
        iam_server::sigv4::verify(&parts, body, &claim, &SecretString::from(secret.to_owned()))
            .is_ok()
    }

    #[test]
    fn a_signed_call_passes_the_servers_sigv4_check() {
        let endpoint = Endpoint::parse("https://localhost:8443").unwrap();
        let body = Bytes::from("Action=GetUser&Version=2010-05-08&UserName=bench-u000001");
        let request = signed_request(
            &endpoint,
            &identity(SECRET),
            body.clone(),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(request.headers()["host"], "localhost:8443");
        assert!(server_verifies(request, &body, SECRET));
    }

    #[test]
    fn a_call_signed_with_another_secret_does_not_match() {
        let endpoint = Endpoint::parse("http://127.0.0.1:5000/").unwrap();
        let body = Bytes::from("Action=ListUsers&Version=2010-05-08&MaxItems=100");
        let request = signed_request(
            &endpoint,
            &identity("not-the-secret"),
            body.clone(),
            SystemTime::now(),
        )
        .unwrap();
        assert!(!server_verifies(request, &body, SECRET));
    }

    #[test]
    fn the_body_is_form_encoded_as_botocore_encodes_query_parameters() {
        // botocore: urlencode with quote(safe="-_.~"): RFC 3986's unreserved
        // characters stay, ':', '/', ' ' and the rest are percent-encoded.
        let plan = plan(&[
            (
                "PolicySourceArn",
                "arn:aws:iam::123456789012:user/bench sim",
            ),
            ("ActionNames.member.1", "iam:GetUser"),
        ]);
        assert_eq!(
            body(&plan, &mut Rng(1), 0, 0),
            "Action=SimulatePrincipalPolicy&Version=2010-05-08\
             &PolicySourceArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Auser%2Fbench%20sim\
             &ActionNames.member.1=iam%3AGetUser"
        );
    }

    #[test]
    fn unique_names_differ_per_worker_and_call() {
        let mut plan = plan(&[]);
        plan.action = "CreateUser".to_owned();
        plan.unique = Some(("UserName".to_owned(), "bench-l1-".to_owned()));
        let names: std::collections::BTreeSet<String> = (0..3)
            .flat_map(|w| (0..3).map(move |n| (w, n)))
            .map(|(w, n)| body(&plan, &mut Rng(1), w, n))
            .collect();
        assert_eq!(names.len(), 9);
        assert!(names.contains("Action=CreateUser&Version=2010-05-08&UserName=bench-l1-2-1"));
    }

    #[test]
    fn the_aws_error_code_is_read_from_the_error_response() {
        let xml = "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>\
                   <Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>";
        assert_eq!(
            aws_error_code(xml).as_deref(),
            Some("SignatureDoesNotMatch")
        );
        assert_eq!(aws_error_code("<html>500</html>"), None);
    }

    #[test]
    fn endpoints_are_http_or_https_urls_without_a_path() {
        let e = Endpoint::parse("https://localhost").unwrap();
        assert_eq!(
            (e.authority(), e.url()),
            ("localhost".to_owned(), "https://localhost/".to_owned())
        );
        assert!(Endpoint::parse("ftp://localhost").is_err());
        assert!(Endpoint::parse("https://localhost:8443/iam").is_err());
        assert!(Endpoint::parse("http://:80").is_err());
    }

    #[test]
    fn a_credentials_file_open_to_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        std::fs::write(
            &path,
            format!(r#"{{"AccessKeyId":"{KEY_ID}","SecretAccessKey":"{SECRET}"}}"#),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            credentials(Some(&path)),
            Err(SetupError::Credentials(_))
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(credentials(Some(&path)).unwrap().access_key_id(), KEY_ID);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 0.50), Some(51));
        assert_eq!(percentile(&sorted, 0.99), Some(99));
        assert_eq!(percentile(&sorted, 1.0), Some(100));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
