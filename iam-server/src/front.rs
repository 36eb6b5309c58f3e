//! The async front end: HTTP in, a bounded body, the call on a blocking
//! thread ([`crate::app::App::call`]), XML out, one log line per request.

use crate::app::{ApiRequest, App, Protocol};
use bytes::Bytes;
use chrono::Utc;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a client may take to send its body: a slow sender must not
/// hold a task (and a blocking thread's slot) forever.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Calls answered at once (each on a blocking thread with its own
/// connection to the directory); more wait their turn. Bounds the threads,
/// the memory and the PostgreSQL connections a burst can take.
pub const MAX_CONCURRENT_CALLS: usize = 32;
static CALLS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_CALLS);

pub async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    if parts.method == Method::GET && parts.uri.path() == "/healthz" {
        return plain(StatusCode::OK, "ok\n");
    }
    if parts.method != Method::POST {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "The IAM, STS and CloudTrail APIs take POST requests.\n",
        );
    }
    // An unsigned request is refused without its body being read (the
    // answer, MissingAuthenticationToken, needs none of it), but for a
    // host's enrolment, whose small body holds its one-time token.
    let signed = parts.headers.contains_key(http::header::AUTHORIZATION);
    if !signed && !crate::hosts::is_join(&parts.headers) {
        return answer(&app, parts, Bytes::new(), peer, started).await;
    }
    let limit = if signed {
        app.config.max_body_bytes
    } else {
        crate::hosts::MAX_JOIN_BODY
    };
    let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(_)) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("Request bodies are limited to {limit} bytes.\n"),
            );
        }
        Err(_) => {
            return plain(
                StatusCode::REQUEST_TIMEOUT,
                "The request body was too slow.\n",
            );
        }
    };
    answer(&app, parts, body, peer, started).await
}

/// Runs the call on a blocking thread, in turn ([`CALLS`]), and writes
/// AWS's answer.
async fn answer(
    app: &Arc<App>,
    parts: http::request::Parts,
    body: Bytes,
    peer: SocketAddr,
    started: Instant,
) -> Response<Full<Bytes>> {
    let Ok(_turn) = CALLS.acquire().await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    };
    let call = ApiRequest {
        parts,
        body,
        peer: peer.ip(),
    };
    let worker = Arc::clone(app);
    let answered = tokio::task::spawn_blocking(move || worker.call(&call, Utc::now())).await;
    let Ok(answer) = answered else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
    };
    log_line(&answer, peer, started.elapsed());
    let mut response = Response::builder()
        .status(answer.status)
        .header("x-amzn-requestid", answer.request_id.as_str());
    response = match answer.protocol {
        Protocol::Query => response.header("content-type", "text/xml"),
        Protocol::Json => response.header("content-type", "application/x-amz-json-1.1"),
    };
    if let (Protocol::Json, Some(code)) = (answer.protocol, &answer.error_code) {
        response = response.header("x-amzn-errortype", code.as_str());
    }
    response
        .body(Full::new(Bytes::from(answer.body)))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"))
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response
}

/// One structured line per request (no parameters: they may hold secrets).
fn log_line(answer: &crate::app::ApiResponse, peer: SocketAddr, took: Duration) {
    let line = serde_json::json!({
        "time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "requestId": answer.request_id,
        "action": answer.action,
        "peer": peer.ip().to_string(),
        "status": answer.status,
        "errorCode": answer.error_code,
        "ms": took.as_secs_f64() * 1000.0,
    });
    println!("{line}");
}
