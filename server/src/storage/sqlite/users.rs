//! Users, login tokens and API keys. Only hashes of secrets are stored.

use super::*;
use rusqlite::{Connection, OptionalExtension, ToSql, params};

fn user_from_row(r: &rusqlite::Row) -> rusqlite::Result<StoredUser> {
    Ok(StoredUser {
        user: User {
            id: UserId(r.get(0)?),
            username: r.get(1)?,
            is_admin: r.get(2)?,
            max_bitrate_kbps: r.get(4)?,
        },
        password_hash: r.get(3)?,
    })
}

pub fn create_user(
    tx: &Connection,
    username: &str,
    password_hash: &str,
    is_admin: bool,
) -> StorageResult<User> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let exists = tx
        .prepare_cached("SELECT 1 FROM users WHERE username = ?1")?
        .exists([username])?;
    if exists {
        return Err(StorageError::Conflict(format!("user {username:?}")));
    }
    let id: i64 = tx.query_row(
        "INSERT INTO users (username, password_hash, is_admin, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        params![username, password_hash, is_admin, now],
        |r| r.get(0),
    )?;
    Ok(User {
        id: UserId(id),
        username: username.to_string(),
        is_admin,
        max_bitrate_kbps: None,
    })
}

/// Deletes a user and everything of theirs. Tables with a foreign key cascade; the change feed
/// and the recommender's per-user rows have none (they outlive tracks and playlists), so they
/// are deleted here, in the same transaction.
pub fn delete_user(tx: &Connection, id: UserId) -> StorageResult<bool> {
    tx.execute(
        "DELETE FROM recs_playlist_items WHERE playlist_id IN (SELECT id FROM playlists WHERE owner_id = ?1)",
        [id.0],
    )?;
    tx.execute("DELETE FROM recs_plays WHERE user_id = ?1", [id.0])?;
    tx.execute("DELETE FROM changes WHERE user_id = ?1", [id.0])?;
    Ok(tx.execute("DELETE FROM users WHERE id = ?1", [id.0])? > 0)
}

pub fn user_where(
    conn: &Connection,
    condition: &str,
    value: impl ToSql,
) -> StorageResult<Option<StoredUser>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT id, username, is_admin, password_hash, max_bitrate_kbps FROM users WHERE {condition}"
        ))?
        .query_row([value], user_from_row)
        .optional()?)
}

pub fn list_users(conn: &Connection) -> StorageResult<Vec<User>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, username, is_admin, password_hash, max_bitrate_kbps FROM users ORDER BY username",
        )?
        .query_map([], user_from_row)?
        .map(|r| r.map(|s| s.user))
        .collect::<Result<_, _>>()?)
}

pub fn token(conn: &Connection, token_hash: &str, now: i64) -> StorageResult<Option<Credential>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id, u.username, u.is_admin, t.expires_at, u.max_bitrate_kbps FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.hash = ?1 AND t.expires_at > ?2",
        )?
        .query_row(params![token_hash, now], |r| {
            Ok(Credential {
                user: User {
                    id: UserId(r.get(0)?),
                    username: r.get(1)?,
                    is_admin: r.get(2)?,
                    max_bitrate_kbps: r.get(4)?,
                },
                expires_at: Some(r.get(3)?),
            })
        })
        .optional()?)
}

fn api_key_from_row(r: &rusqlite::Row) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
        last_used_at: r.get(3)?,
    })
}

pub fn insert_api_key(
    tx: &Connection,
    user: UserId,
    name: &str,
    key_hash: &str,
    now: i64,
) -> StorageResult<ApiKey> {
    Ok(tx.query_row(
        "INSERT INTO api_keys (user_id, name, hash, created_at) VALUES (?1, ?2, ?3, ?4)
         RETURNING id, name, created_at, last_used_at",
        params![user.0, name, key_hash, now],
        api_key_from_row,
    )?)
}

pub fn api_key(conn: &Connection, key_hash: &str) -> StorageResult<Option<Credential>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id, u.username, u.is_admin, u.max_bitrate_kbps FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = ?1",
        )?
        .query_row([key_hash], |r| {
            Ok(Credential {
                user: User {
                    id: UserId(r.get(0)?),
                    username: r.get(1)?,
                    is_admin: r.get(2)?,
                    max_bitrate_kbps: r.get(3)?,
                },
                expires_at: None,
            })
        })
        .optional()?)
}

pub fn list_api_keys(conn: &Connection, user: UserId) -> StorageResult<Vec<ApiKey>> {
    Ok(conn
        .prepare_cached("SELECT id, name, created_at, last_used_at FROM api_keys WHERE user_id = ?1 ORDER BY id")?
        .query_map([user.0], api_key_from_row)?
        .collect::<Result<_, _>>()?)
}

pub fn change_password(
    tx: &Connection,
    id: UserId,
    password_hash: &str,
    revoke_all: bool,
) -> StorageResult<bool> {
    if tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![id.0, password_hash],
    )? == 0
    {
        return Ok(false);
    }
    tx.execute("DELETE FROM tokens WHERE user_id = ?1", [id.0])?;
    if revoke_all {
        tx.execute("DELETE FROM api_keys WHERE user_id = ?1", [id.0])?;
        tx.execute(
            "DELETE FROM subsonic_app_passwords WHERE user_id = ?1",
            [id.0],
        )?;
    }
    Ok(true)
}
