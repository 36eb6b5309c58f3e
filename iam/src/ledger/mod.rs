//! The ledger: host-owned state written at login time, in the same SQLite
//! file as the directory but in tables of its own (docs/ARCHITECTURE.md):
//! failures and lockout, authentication records, login and role sessions,
//! TOTP steps accepted, last-used times, and the one outbox.
//!
//! A [`Ledger`] can write only these tables. The PAM module and
//! `assume-role` hold the directory as a [`crate::directory::Directory`]
//! (reads only) and a `Ledger`, so login code cannot write the directory:
//! a replica that a sync process overwrites never fights a login's write.

mod outbox;
mod records;
mod steps;

pub use outbox::{FleetOutbox, Outgoing, QueuedEvent, drain};
pub use records::{AUTH_RECORD_TTL, lock_state};

use crate::directory::Directory;
use crate::store::{Result, Store};
use std::path::Path;

/// Writes to the ledger tables of one store; reads them too.
#[derive(Debug, Clone, Copy)]
pub struct Ledger<'s> {
    store: &'s Store,
}

impl Store {
    /// The ledger tables of this store.
    pub fn ledger(&self) -> Ledger<'_> {
        Ledger { store: self }
    }
}

impl Ledger<'_> {
    /// Runs `f` as one transaction (`BEGIN IMMEDIATE`; nested calls join
    /// it), as [`Store::atomically`] does.
    pub fn atomically<T>(&self, f: impl FnOnce(&Ledger<'_>) -> Result<T>) -> Result<T> {
        self.store.write(|_| f(self))
    }
}

/// The store as the login path opens it: the directory to read, the ledger
/// to write, and the drain. No directory write is reachable through it.
#[derive(Debug)]
pub struct HostStore {
    store: Store,
}

impl HostStore {
    /// Opens the store (see [`Store::open_for_login`]).
    pub fn open(path: &Path) -> Result<Self> {
        Store::open_for_login(path).map(|store| Self { store })
    }

    pub fn directory(&self) -> &dyn Directory {
        &self.store
    }

    pub fn ledger(&self) -> Ledger<'_> {
        self.store.ledger()
    }

    /// Hands the outbox's directory-bound entries on ([`drain`]).
    pub fn drain(&self) -> Result<usize> {
        drain(&self.store)
    }

    /// Whether the directory is a fleet replica (iam-agent keeps it; the
    /// directory of record is iam-server's).
    pub fn is_replica(&self) -> Result<bool> {
        Ok(self.store.replica_change_no()?.is_some())
    }
}

impl From<Store> for HostStore {
    fn from(store: Store) -> Self {
        Self { store }
    }
}
