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
    let call = Arc::new(ApiRequest {
        parts,
        body,
        peer: peer.ip(),
    });
    let Some(mut answer) = call_blocking(app, &call).await else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
    };
    drop(_turn);
    // A host that is up to date waits here, holding no thread, turn or
    // connection, until the directory moves past it; then asks once more.
    if let Some(poll) = answer.long_poll {
        let mut change_no = app.change_no.subscribe();
        let moved = change_no.wait_for(|n| *n > poll.since);
        // (The guard `wait_for` returns must not live across an await.)
        let moved = matches!(tokio::time::timeout(poll.wait, moved).await, Ok(Ok(_)));
        if moved {
            let Ok(_turn) = CALLS.acquire().await else {
                return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
            };
            match call_blocking(app, &call).await {
                Some(again) => answer = again,
                None => return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
            }
        }
    }
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

/// One call on a blocking thread; `None` if it panicked.
async fn call_blocking(app: &Arc<App>, call: &Arc<ApiRequest>) -> Option<crate::app::ApiResponse> {
    let worker = Arc::clone(app);
    let call = Arc::clone(call);
    tokio::task::spawn_blocking(move || worker.call(&call, Utc::now()))
        .await
        .ok()
}

/// How often the directory's change number is read while hosts wait for
/// it: a change reaches a waiting host at most this much later.
const CHANGE_POLL: Duration = Duration::from_millis(200);

/// Keeps [`App::change_no`] fresh while any host waits on it: one small
/// query per interval for the whole server, whatever the number of hosts.
/// Several servers share a PostgreSQL directory; each reads it itself.
pub async fn watch_changes(app: Arc<App>) {
    loop {
        tokio::time::sleep(CHANGE_POLL).await;
        if app.change_no.receiver_count() == 0 {
            continue;
        }
        let reader = Arc::clone(&app);
        let read = tokio::task::spawn_blocking(move || {
            reader.directory.run(|store| store.directory_change_no())
        })
        .await;
        match read {
            Ok(Ok(n)) => {
                app.change_no
                    .send_if_modified(|at| std::mem::replace(at, n) != n);
            }
            Ok(Err(e)) => eprintln!("iam-server: cannot read the directory's change number: {e}"),
            Err(_) => {}
        }
    }
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
