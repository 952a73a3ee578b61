//! Users, login tokens, API keys and sealed Subsonic app passwords on PostgreSQL. Every
//! credential read goes to the primary: a token issued a moment ago on another node must work.

use super::PgStore;
use crate::storage::{
    AccountStore, Credential, SealedSecret, StorageError, StorageResult, StoredUser,
};
use mixtape_shared::UserId;
use mixtape_shared::api::{ApiKey, User};
use postgres::Row;
use postgres::error::SqlState;
use postgres::types::Type;

const USER_COLUMNS: &str = "id, username, is_admin, password_hash, max_bitrate_kbps";

fn user_from_row(r: &Row) -> StoredUser {
    StoredUser {
        user: User {
            id: UserId(r.get(0)),
            username: r.get(1),
            is_admin: r.get(2),
            max_bitrate_kbps: kbps(r.get(4)),
        },
        password_hash: r.get(3),
    }
}

fn api_key_from_row(r: &Row) -> ApiKey {
    ApiKey {
        id: r.get(0),
        name: r.get(1),
        created_at: r.get(2),
        last_used_at: r.get(3),
    }
}

/// The stored limit (a positive `integer`, by the column's check).
fn kbps(stored: Option<i32>) -> Option<u32> {
    stored.and_then(|k| u32::try_from(k).ok())
}

/// A credential from `u.id, u.username, u.is_admin, u.max_bitrate_kbps`.
fn credential(r: &Row, expires_at: Option<i64>) -> Credential {
    Credential {
        user: User {
            id: UserId(r.get(0)),
            username: r.get(1),
            is_admin: r.get(2),
            max_bitrate_kbps: kbps(r.get(3)),
        },
        expires_at,
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl AccountStore for PgStore {
    fn user_count(&self) -> StorageResult<u64> {
        self.read_primary(|c| {
            Ok(c.query_one("SELECT count(*) FROM users", &[])?
                .get::<_, i64>(0)
                .max(0) as u64)
        })
    }

    fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StorageResult<User> {
        let conflict = || StorageError::Conflict(format!("user {username:?}"));
        let result = self.write(None, |tx, _| {
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM users WHERE lower(username) = lower($1)",
                    &[&username],
                )?
                .is_some();
            if exists {
                return Err(conflict());
            }
            let created_at = unix_now();
            let id: i64 = tx
                .query_one(
                    "INSERT INTO users (username, password_hash, is_admin, created_at)
                     VALUES ($1, $2, $3, $4) RETURNING id",
                    &[&username, &password_hash, &is_admin, &created_at],
                )?
                .get(0);
            // The home is ready before the user exists: a shard's part commits first (a user
            // whose creation then fails leaves only an unreachable row there).
            let shard = self.place_new_user(tx)?;
            if shard == 0 {
                tx.execute(
                    "INSERT INTO residents (user_id, epoch) VALUES ($1, 0)",
                    &[&id],
                )?;
            } else {
                self.settle_new_user(shard, UserId(id), username, is_admin, created_at)?;
                tx.execute(
                    "INSERT INTO user_shards (user_id, shard_id, epoch) VALUES ($1, $2, 0)",
                    &[&id, &shard],
                )?;
            }
            Ok(User {
                id: UserId(id),
                username: username.to_string(),
                is_admin,
                max_bitrate_kbps: None,
            })
        });
        // Two nodes creating the same name at once: the unique index decides.
        match result {
            Err(StorageError::Postgres(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                Err(conflict())
            }
            other => other,
        }
    }

    fn user_by_name(&self, username: &str) -> StorageResult<Option<StoredUser>> {
        self.read_primary(|c| {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)");
            Ok(c.query_opt(&sql, &[&username])?.as_ref().map(user_from_row))
        })
    }

    fn user_by_id(&self, id: UserId) -> StorageResult<Option<StoredUser>> {
        self.read_primary(|c| {
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
            Ok(c.query_opt(&sql, &[&id.0])?.as_ref().map(user_from_row))
        })
    }

    fn list_users(&self) -> StorageResult<Vec<User>> {
        self.read_primary(|c| {
            // SQLite orders by the NOCASE column.
            Ok(c.query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY lower(username), id"),
                &[],
            )?
            .iter()
            .map(|r| user_from_row(r).user)
            .collect())
        })
    }

    fn delete_user(&self, id: UserId) -> StorageResult<bool> {
        // Tables with a foreign key cascade; the change feed and the recommender's per-user rows
        // have none (they outlive tracks and playlists), so they go here, in one transaction.
        // The home's part first: a shard's rows would be unreachable once the user is gone.
        self.delete_home_data(id)?;
        self.write(None, |tx, _| {
            tx.execute(
                "DELETE FROM recs_playlist_items WHERE playlist_id IN
                     (SELECT playlist_id FROM playlist_owners WHERE owner_id = $1)",
                &[&id.0],
            )?;
            tx.execute("DELETE FROM recs_plays WHERE user_id = $1::int8", &[&id.0])?;
            tx.execute("DELETE FROM changes WHERE user_id = $1", &[&id.0])?;
            Ok(tx.execute("DELETE FROM users WHERE id = $1", &[&id.0])? > 0)
        })
    }

    fn set_max_bitrate(&self, id: UserId, kbps: Option<u32>) -> StorageResult<bool> {
        let stored = kbps.map(|k| i32::try_from(k).unwrap_or(i32::MAX));
        self.write(None, |tx, _| {
            Ok(tx.execute(
                "UPDATE users SET max_bitrate_kbps = $2 WHERE id = $1",
                &[&id.0, &stored],
            )? > 0)
        })
    }

    fn set_password(&self, id: UserId, password_hash: &str) -> StorageResult<bool> {
        self.write(None, |tx, _| {
            Ok(tx.execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&id.0, &password_hash],
            )? > 0)
        })
    }

    fn insert_token(
        &self,
        user: UserId,
        token_hash: &str,
        created_at: i64,
        expires_at: i64,
    ) -> StorageResult<()> {
        self.write(None, |tx, _| {
            // Expired tokens are swept here rather than by a timer: logins are rare and cheap.
            tx.execute("DELETE FROM tokens WHERE expires_at <= $1", &[&created_at])?;
            tx.execute(
                "INSERT INTO tokens (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&token_hash, &user.0, &created_at, &expires_at],
            )?;
            Ok(())
        })
    }

    fn token(&self, token_hash: &str, now: i64) -> StorageResult<Option<Credential>> {
        // Every request makes this check, on the primary: with the parameter types given, it is
        // one round trip instead of three (prepare, execute, close).
        self.read_primary(|c| {
            let sql = "SELECT u.id, u.username, u.is_admin, u.max_bitrate_kbps, t.expires_at
                 FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.hash = $1 AND t.expires_at > $2";
            Ok(
                c.query_typed_opt(sql, &[(&token_hash, Type::TEXT), (&now, Type::INT8)])?
                    .map(|r| credential(&r, Some(r.get(4)))),
            )
        })
    }

    fn revoke_token(&self, token_hash: &str) -> StorageResult<bool> {
        self.write(None, |tx, _| {
            Ok(tx.execute("DELETE FROM tokens WHERE hash = $1", &[&token_hash])? > 0)
        })
    }

    fn revoke_user_tokens(&self, user: UserId) -> StorageResult<u64> {
        self.write(None, |tx, _| {
            Ok(tx.execute("DELETE FROM tokens WHERE user_id = $1", &[&user.0])?)
        })
    }

    fn change_password(
        &self,
        id: UserId,
        password_hash: &str,
        revoke_all: bool,
    ) -> StorageResult<bool> {
        if revoke_all && self.user_by_id(id)?.is_some() {
            // On the user's home; first, so a failure below leaves nothing more open.
            self.set_subsonic_app_password(id, None, unix_now())?;
        }
        self.write(None, |tx, _| {
            if tx.execute(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                &[&id.0, &password_hash],
            )? == 0
            {
                return Ok(false);
            }
            tx.execute("DELETE FROM tokens WHERE user_id = $1", &[&id.0])?;
            if revoke_all {
                tx.execute("DELETE FROM api_keys WHERE user_id = $1", &[&id.0])?;
            }
            Ok(true)
        })
    }

    fn insert_api_key(
        &self,
        user: UserId,
        name: &str,
        key_hash: &str,
        now: i64,
    ) -> StorageResult<ApiKey> {
        self.write(None, |tx, _| {
            Ok(api_key_from_row(&tx.query_one(
                "INSERT INTO api_keys (user_id, name, hash, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING id, name, created_at, last_used_at",
                &[&user.0, &name, &key_hash, &now],
            )?))
        })
    }

    fn api_key(&self, key_hash: &str, now: i64) -> StorageResult<Option<Credential>> {
        self.read_primary(|c| {
            let sql = "SELECT u.id, u.username, u.is_admin, u.max_bitrate_kbps FROM api_keys k
                 JOIN users u ON u.id = k.user_id WHERE k.hash = $1";
            let found = c
                .query_opt(sql, &[&key_hash])?
                .map(|r| credential(&r, None));
            if found.is_some() {
                // Last use is best effort, as on SQLite: a row another request is updating is
                // skipped (SKIP LOCKED), and a failure never fails the authentication.
                let touched = c.execute(
                    "UPDATE api_keys SET last_used_at = $2 WHERE id IN
                         (SELECT id FROM api_keys WHERE hash = $1 FOR UPDATE SKIP LOCKED)",
                    &[&key_hash, &now],
                );
                if let Err(e) = touched {
                    tracing::debug!(error = %e, "api key last use not recorded");
                }
            }
            Ok(found)
        })
    }

    fn list_api_keys(&self, user: UserId) -> StorageResult<Vec<ApiKey>> {
        self.read_primary(|c| {
            Ok(c.query(
                "SELECT id, name, created_at, last_used_at FROM api_keys WHERE user_id = $1 ORDER BY id",
                &[&user.0],
            )?
            .iter()
            .map(api_key_from_row)
            .collect())
        })
    }

    fn delete_api_key(&self, user: UserId, id: i64) -> StorageResult<bool> {
        self.write(None, |tx, _| {
            Ok(tx.execute(
                "DELETE FROM api_keys WHERE id = $1 AND user_id = $2",
                &[&id, &user.0],
            )? > 0)
        })
    }

    fn subsonic_app_password(&self, user: UserId) -> StorageResult<Option<SealedSecret>> {
        self.read_home(user, |tx| {
            Ok(tx
                .query_opt(
                    "SELECT nonce, ciphertext FROM subsonic_app_passwords WHERE user_id = $1",
                    &[&user.0],
                )?
                .map(|r| SealedSecret {
                    nonce: r.get(0),
                    ciphertext: r.get(1),
                }))
        })
    }

    fn sealed_app_password_count(&self) -> StorageResult<u64> {
        let counts = self.each_home(|_, c| {
            Ok(
                c.query_one("SELECT count(*) FROM subsonic_app_passwords", &[])?
                    .get::<_, i64>(0)
                    .max(0) as u64,
            )
        })?;
        Ok(counts.into_iter().sum())
    }

    fn set_subsonic_app_password(
        &self,
        user: UserId,
        sealed: Option<&SealedSecret>,
        now: i64,
    ) -> StorageResult<()> {
        self.write_home(user, |tx, _| {
            match sealed {
                None => {
                    tx.execute(
                        "DELETE FROM subsonic_app_passwords WHERE user_id = $1",
                        &[&user.0],
                    )?;
                }
                Some(s) => {
                    tx.execute(
                        "INSERT INTO subsonic_app_passwords (user_id, nonce, ciphertext, updated_at)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (user_id) DO UPDATE SET nonce = excluded.nonce,
                             ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
                        &[&user.0, &s.nonce, &s.ciphertext, &now],
                    )?;
                }
            }
            Ok(())
        })
    }
}
