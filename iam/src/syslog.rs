//! The one syslog writer, for the PAM module's host problems and the audit
//! trail's copy alike: RFC 3164 records to `authpriv` on `/dev/log`.
//!
//! Never blocks: each record goes out as one datagram on a fresh,
//! non-blocking, unbound socket (`send_to`, no `connect`, never a stream
//! socket). If the journal is slow (`EAGAIN`), absent or refuses, the record
//! is dropped: a login must never wait on logging, and the audit file
//! already holds every event.

use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// syslog facility `authpriv` (10), shifted as RFC 3164's PRI wants.
const LOG_AUTHPRIV: u8 = 10 << 3;

/// The syslog severities we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Err = 3,
    Warning = 4,
    Info = 6,
    Debug = 7,
}

/// Sends `message` as `TAG[PID]: message` to syslog `authpriv`; best
/// effort, never blocking (see the module docs).
pub fn send(tag: &str, severity: Severity, message: &str) {
    send_to(Path::new("/dev/log"), tag, severity, message);
}

/// [`send`] to another socket (tests).
pub(crate) fn send_to(socket_path: &Path, tag: &str, severity: Severity, message: &str) {
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    if socket.set_nonblocking(true).is_err() {
        return;
    }
    let line = format!(
        "<{}>{tag}[{}]: {message}",
        LOG_AUTHPRIV | severity as u8,
        std::process::id()
    );
    let _ = socket.send_to(line.as_bytes(), socket_path);
}
