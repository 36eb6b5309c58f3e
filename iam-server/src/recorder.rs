//! Group commit of the events of calls that changed nothing (reads and
//! refusals): whichever call finds no commit under way writes every event
//! queued so far, in one transaction, until none is left; the calls that
//! queue theirs meanwhile do not wait. Under load one commit serves many
//! calls; alone, a call commits its own before it answers. A write's event
//! commits with the write instead. See docs/ARCHITECTURE.md, "iam-server".

use crate::directory::Directory;
use iam::audit::AuditEvent;
use std::sync::{Condvar, Mutex, MutexGuard};

/// The most events one transaction writes (bounds its time and memory).
const MAX_BATCH: usize = 256;

/// The most events queued before callers wait for the writer.
const MAX_QUEUED: usize = 4 * MAX_BATCH;

#[derive(Debug, Default)]
pub struct Recorder {
    state: Mutex<State>,
    committed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Events not yet taken by a writer, with their tickets (ascending).
    queue: Vec<(u64, AuditEvent)>,
    next_ticket: u64,
    /// Every ticket up to here is written (or its failure logged).
    done: Option<u64>,
    writing: bool,
}

impl Recorder {
    /// Queues `event` for the directory. The call that finds no commit
    /// under way writes it, and whatever others queue meanwhile, before it
    /// returns; the others return at once (an event is best effort: a
    /// failure is logged, the call's answer stands).
    pub fn record(&self, directory: &Directory, event: AuditEvent) {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push((ticket, event));
        // Past this many, callers wait for the writer (bounded memory).
        while state.writing && state.queue.len() > MAX_QUEUED {
            state = self.wait(state);
        }
        if !state.writing {
            self.write_queue(directory, state);
        }
    }

    /// Returns once every event queued before the call is committed (or its
    /// failure logged): `LookupEvents` sees the calls answered before it.
    pub fn flush(&self, directory: &Directory) {
        let mut state = self.lock();
        let Some(last) = state.next_ticket.checked_sub(1) else {
            return;
        };
        while state.done.is_none_or(|done| done < last) {
            if !state.writing {
                self.write_queue(directory, state);
                return;
            }
            state = self.wait(state);
        }
    }

    /// Writes batches until the queue is empty; the caller becomes the
    /// writer.
    fn write_queue<'a>(&'a self, directory: &Directory, mut state: MutexGuard<'a, State>) {
        state.writing = true;
        while !state.queue.is_empty() {
            let take = state.queue.len().min(MAX_BATCH);
            let batch: Vec<_> = state.queue.drain(..take).collect();
            drop(state);
            let last = batch.last().map(|(t, _)| *t);
            let events: Vec<AuditEvent> = batch.into_iter().map(|(_, e)| e).collect();
            write(directory, &events);
            state = self.lock();
            state.done = last.or(state.done);
            self.committed.notify_all();
        }
        state.writing = false;
        self.committed.notify_all();
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.committed
            .wait(state)
            .unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn write(directory: &Directory, events: &[AuditEvent]) {
    let written = directory
        .store()
        .and_then(|store| store.record_call_events(events));
    if let Err(e) = written {
        for event in events {
            eprintln!(
                "request {}: the call's event is not recorded: {e}",
                event.request_id.as_deref().unwrap_or("-")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::ServerConfig;
    use iam::audit::UserIdentity;
    use iam::request::ApiFacts;
    use iam::store::EventQuery;
    use std::sync::Arc;

    fn event(request_id: String) -> AuditEvent {
        let facts = ApiFacts {
            source_ip: "192.0.2.1".parse().unwrap(),
            session_mfa: None,
            service: "iam".into(),
            access_key_id: "AKIAEXAMPLEEXAMPLE00".into(),
            request_id,
            user_agent: None,
        };
        let who = UserIdentity::iam_user(
            "123456789012",
            "arn:aws:iam::123456789012:user/alice",
            "alice",
        );
        let now = chrono::Utc::now();
        AuditEvent::api(
            &facts,
            "GetUser",
            who,
            "iam-server",
            now,
            serde_json::json!({}),
        )
        .build()
        .unwrap()
    }

    /// Events queued by concurrent calls, most of which do not wait for
    /// their commit, are all in once `flush` returns; none twice.
    #[test]
    fn every_event_of_concurrent_calls_is_in_after_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("server.toml");
        let config = ServerConfig::parse(
            "account_id = \"123456789012\"\nlisten = \"127.0.0.1:0\"\nstate_dir = \"state\"\n",
            &origin,
        )
        .unwrap();
        let directory = Arc::new(Directory::open(&config).unwrap());
        let recorder = Arc::new(Recorder::default());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (directory, recorder) = (Arc::clone(&directory), Arc::clone(&recorder));
                std::thread::spawn(move || {
                    for i in 0..50 {
                        recorder.record(&directory, event(format!("req-{t}-{i}")));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        recorder.flush(&directory);
        let store = directory.store().unwrap();
        let query = EventQuery {
            filter: None,
            start: None,
            end: None,
            limit: 1000,
            after: None,
        };
        let (events, _) = store.lookup_events(&query).unwrap();
        assert_eq!(events.len(), 400);
        recorder.flush(&directory);
        recorder.record(&directory, event("req-0-0".into()));
        recorder.flush(&directory);
        assert_eq!(store.lookup_events(&query).unwrap().0.len(), 400);
    }
}
