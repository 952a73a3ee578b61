//! User management (`getUsers`, `createUser`, `updateUser`, `deleteUser`, `changePassword`) over
//! the same accounts as `/api/v1/users`: the `auth` domain's rules (admins manage users, anyone
//! changes their own password, an admin never deletes themself) and its password hashing.
//! Async, as that hashing is; `http::subsonic` calls these from the request's task.

use super::auth::decode_password;
use super::error::{Code, SubsonicError};
use super::model::SubsonicUser;
use super::params::Params;
use super::response::Payload;
use crate::auth::Auth;
use crate::storage::Store;
use mixtape_shared::UserId;
use mixtape_shared::api::User;
use serde::Serialize;
use std::sync::Arc;

/// The user endpoints, by name.
pub const ENDPOINTS: &[&str] = &[
    "getUsers",
    "createUser",
    "updateUser",
    "deleteUser",
    "changePassword",
];

#[derive(Serialize)]
struct Users {
    user: Vec<SubsonicUser>,
}

fn admin_only(actor: &User) -> Result<(), SubsonicError> {
    if actor.is_admin {
        Ok(())
    } else {
        Err(SubsonicError::new(
            Code::NotAuthorized,
            "only an administrator can manage users",
        ))
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SubsonicError> + Send + 'static,
) -> Result<T, SubsonicError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(SubsonicError::internal)?
}

/// The user named by `username`.
async fn named(store: &Arc<dyn Store>, p: &Params) -> Result<User, SubsonicError> {
    let name = p.required("username")?.to_string();
    let store = store.clone();
    blocking(move || {
        store
            .user_by_name(&name)?
            .map(|u| u.user)
            .ok_or_else(|| SubsonicError::not_found("user"))
    })
    .await
}

/// A new password as sent (plain or `enc:` + hex); a bad hex form is a bad parameter here,
/// not a failed sign-in.
fn new_password(sent: &str) -> Result<String, SubsonicError> {
    decode_password(sent)
        .map_err(|_| SubsonicError::invalid("password", "plain text, or enc: followed by hex"))
}

/// `maxBitRate` when sent: kb/s, 0 for none.
async fn set_limit(
    store: &Arc<dyn Store>,
    user: UserId,
    kbps: Option<u32>,
) -> Result<(), SubsonicError> {
    let Some(kbps) = kbps else {
        return Ok(());
    };
    let store = store.clone();
    blocking(move || Ok(store.set_max_bitrate(user, Some(kbps).filter(|&k| k > 0))?)).await?;
    Ok(())
}

fn is_true(p: &Params, name: &str) -> bool {
    p.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Answers user endpoint `name` for `actor`.
pub async fn call(
    auth: &Auth,
    store: &Arc<dyn Store>,
    actor: &User,
    name: &str,
    p: &Params,
) -> Result<Payload, SubsonicError> {
    match name {
        "getUsers" => {
            admin_only(actor)?;
            let store = store.clone();
            let users = blocking(move || Ok(store.list_users()?)).await?;
            Payload::one(
                "users",
                &Users {
                    user: users.iter().map(SubsonicUser::from_user).collect(),
                },
            )
        }
        "createUser" => {
            let username = p.required("username")?;
            let password = new_password(p.required("password")?)?;
            let limit = p.number::<u32>("maxBitRate")?;
            let created = auth
                .create_user(actor, username, &password, is_true(p, "adminRole"))
                .await
                .map_err(|e| match e {
                    crate::auth::AuthError::Storage(crate::storage::StorageError::Conflict(_)) => {
                        SubsonicError::new(Code::Generic, format!("user {username} already exists"))
                    }
                    e => e.into(),
                })?;
            set_limit(store, created.id, limit).await?;
            Ok(Payload::empty())
        }
        // The password and the stream limit change here: roles are fixed (admin or not, every
        // other one on).
        "updateUser" | "changePassword" => {
            let target = named(store, p).await?;
            if name == "updateUser" {
                admin_only(actor)?;
            }
            if let Some(password) = p.get("password") {
                let password = new_password(password)?;
                auth.set_password(actor, target.id, &password, None).await?;
            }
            if name == "updateUser" {
                set_limit(store, target.id, p.number::<u32>("maxBitRate")?).await?;
            }
            Ok(Payload::empty())
        }
        "deleteUser" => {
            admin_only(actor)?;
            let target = named(store, p).await?;
            if target.id == actor.id {
                return Err(SubsonicError::new(
                    Code::NotAuthorized,
                    "an administrator cannot delete their own account",
                ));
            }
            let store = store.clone();
            blocking(move || Ok(store.delete_user(target.id)?)).await?;
            Ok(Payload::empty())
        }
        _ => Err(SubsonicError::not_found("endpoint")),
    }
}
