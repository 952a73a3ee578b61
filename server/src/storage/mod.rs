//! Storage: every query the server makes goes through one trait per domain ([`CatalogStore`],
//! [`AccountStore`], [`PlaylistStore`], [`ActivityStore`], [`RecsStore`], [`EventQueue`],
//! [`IdempotencyStore`]), so each
//! backend, and each backend's routing of reads (replica or primary), is decided per domain.
//! [`Store`] is all of them, what the server is handed.
//!
//! The trait is synchronous: the HTTP layer calls it on tokio's blocking pool, the scanner from
//! its own threads. Domain rules (who may edit what, where an entry lands) live in the domain
//! modules; the store only persists and reads.

mod accounts;
mod activity;
mod catalog;
mod idempotency;
pub mod leases;
mod playlists;
pub mod postgres;
pub mod queue;
mod recs;
mod search_index;
pub mod sqlite;
#[cfg(test)]
mod stories;

pub use accounts::*;
pub use activity::*;
pub use catalog::*;
pub use idempotency::{IdempotencyStore, Reservation};
pub use leases::{FencedWriter, Lease, LeaseStore, Unfenced, Work};
pub use playlists::*;
pub use queue::EventQueue;
pub use recs::*;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("bad storage configuration: {0}")]
    Config(String),
    #[error("database pool error: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("invalid cursor")]
    BadCursor,
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("the {0} lease was lost")]
    LeaseLost(&'static str),
}

impl StorageError {
    /// The database could not be reached (down, restarting, pool exhausted): the request may
    /// succeed if retried, and nothing was written.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) => true,
            // No SQLSTATE: the error came from the connection, not from the server's answer.
            Self::Postgres(e) => {
                e.code().is_none() && (e.is_closed() || std::error::Error::source(e).is_some())
            }
            _ => false,
        }
    }

    /// The database could not write because its disk (or quota) is full.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Self::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            Self::Postgres(e) => e.code() == Some(&::postgres::error::SqlState::DISK_FULL),
            _ => false,
        }
    }
}

pub type StorageResult<T> = Result<T, StorageError>;

/// Every domain's storage: what the server runs on.
pub trait Store:
    CatalogStore
    + AccountStore
    + PlaylistStore
    + ActivityStore
    + RecsStore
    + EventQueue
    + IdempotencyStore
{
}

impl<T> Store for T where
    T: CatalogStore
        + AccountStore
        + PlaylistStore
        + ActivityStore
        + RecsStore
        + EventQueue
        + IdempotencyStore
{
}
