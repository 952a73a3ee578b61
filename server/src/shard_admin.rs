//! `mixtape-server shards …`: the admin commands over user-keyed shards, run with a node's own
//! configuration (its `--database` and every `--shard`). The work is the store's
//! ([`PgStore::move_user`]); this module finds the user and shapes the answer.

use crate::config::{Config, Database, ShardsCommand};
use crate::storage::postgres::{LocalWriteMarks, PgOptions, PgStore};
use crate::storage::{AccountStore, StorageError};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ShardAdminError {
    #[error("shards live in PostgreSQL: pass --database postgres://... and every --shard")]
    NotPostgres,
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Runs one command; its answer as JSON.
pub fn run(config: &Config, command: &ShardsCommand) -> Result<serde_json::Value, ShardAdminError> {
    let Database::Postgres(url) = &config.database else {
        return Err(ShardAdminError::NotPostgres);
    };
    let options = PgOptions {
        shards: config.shards.clone(),
        pool_size: 4,
        ..PgOptions::new(url.clone())
    };
    // Users' reads and writes are not this command's: no replica routing needed.
    let store = PgStore::open(&options, Arc::new(LocalWriteMarks::unshared()))?;
    let answer = match command {
        ShardsCommand::List => {
            let shards: Vec<serde_json::Value> = store
                .shard_loads()?
                .into_iter()
                .map(|(name, users)| serde_json::json!({"name": name, "users": users}))
                .collect();
            serde_json::json!({ "shards": shards })
        }
        ShardsCommand::Move { user, to } => {
            let found = store
                .user_by_name(user)?
                .ok_or_else(|| ShardAdminError::NoSuchUser(user.clone()))?;
            serde_json::to_value(store.move_user(found.user.id, to)?)
                .expect("a move report serializes")
        }
    };
    Ok(answer)
}
