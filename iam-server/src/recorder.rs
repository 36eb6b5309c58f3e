//! Group commit of the events of calls that changed nothing (reads and
//! refusals): each call waits until its event is committed, and whichever
//! call finds no commit under way writes every event queued so far in one
//! transaction. Under load one commit serves many calls; alone, a call
//! commits its own at once. A write's event commits with the write instead.
//! See docs/ARCHITECTURE.md, "iam-server".

use crate::directory::Directory;
use iam::audit::AuditEvent;
use std::sync::{Condvar, Mutex, MutexGuard};

/// The most events one transaction writes (bounds its time and memory).
const MAX_BATCH: usize = 256;

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
    /// Records `event` in the directory; returns once it is committed, or
    /// once its failure is logged (an event is best effort: the call's
    /// answer stands).
    pub fn record(&self, directory: &Directory, event: AuditEvent) {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push((ticket, event));
        while state.done.is_none_or(|done| done < ticket) {
            if state.writing {
                state = self
                    .committed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
                continue;
            }
            state.writing = true;
            let take = state.queue.len().min(MAX_BATCH);
            let batch: Vec<_> = state.queue.drain(..take).collect();
            drop(state);
            let last = batch.last().map(|(t, _)| *t);
            let events: Vec<AuditEvent> = batch.into_iter().map(|(_, e)| e).collect();
            write(directory, &events);
            state = self.lock();
            state.writing = false;
            state.done = last.or(state.done);
            self.committed.notify_all();
        }
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
