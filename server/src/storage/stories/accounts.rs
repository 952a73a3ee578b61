//! Accounts: users, login tokens, API keys and the sealed Subsonic app password.

use super::fixtures;
use crate::storage::{SealedSecret, StorageError, Store};
use mixtape_shared::UserId;

/// Names are unique and found regardless of case; the list is sorted by name the same way.
fn users_are_unique_by_name_in_any_case(store: &dyn Store) {
    assert_eq!(store.user_count().unwrap(), 0);
    let bob = store.create_user("bob", "hash-b", false).unwrap();
    let alice = store.create_user("alice", "hash-a", true).unwrap();
    let carol = store.create_user("Carol", "hash-c", false).unwrap();
    assert_eq!((alice.username.as_str(), alice.is_admin), ("alice", true));
    assert!(!bob.is_admin);
    assert_eq!(store.user_count().unwrap(), 3);

    let found = store
        .user_by_name("ALICE")
        .unwrap()
        .expect("found in any case");
    assert_eq!(found.user, alice);
    assert_eq!(found.password_hash, "hash-a");
    assert_eq!(store.user_by_id(carol.id).unwrap().unwrap().user, carol);
    assert!(store.user_by_name("dave").unwrap().is_none());
    assert!(store.user_by_id(UserId(999_999)).unwrap().is_none());

    let again = store.create_user("Bob", "other", false);
    assert!(
        matches!(again, Err(StorageError::Conflict(_))),
        "a name taken in another case is a conflict: {again:?}"
    );
    assert_eq!(store.user_count().unwrap(), 3);

    let names: Vec<String> = store
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["alice", "bob", "Carol"]);
}

/// Deleting a user takes their credentials and playlists along; their id is never handed out
/// again, so nothing of theirs is inherited.
fn deleted_users_take_their_data_and_their_id_is_never_reused(store: &dyn Store) {
    let other = fixtures::user(store, "other");
    // The newest user: a backend reusing the largest freed id would hand out erin's again.
    let erin = fixtures::user(store, "erin");
    store.insert_token(erin, "tok-erin", 100, 10_000).unwrap();
    store.insert_api_key(erin, "k", "key-erin", 100).unwrap();
    let mut op = fixtures::create_op("erin's");
    if let mixtape_shared::sync::OpKind::Create { public, .. } = &mut op.kind {
        *public = true;
    }
    store.apply_playlist_ops(erin, &[op.clone()], 100).unwrap();
    assert_eq!(store.playlists_visible_to(other).unwrap().len(), 1);

    assert!(store.delete_user(erin).unwrap());
    assert!(!store.delete_user(erin).unwrap(), "already gone");
    assert!(store.user_by_id(erin).unwrap().is_none());
    assert!(store.token("tok-erin", 200).unwrap().is_none());
    assert!(store.api_key("key-erin", 200).unwrap().is_none());
    assert!(store.playlists_visible_to(other).unwrap().is_empty());
    assert!(store.playlist(op.playlist_id).unwrap().is_none());

    let next = fixtures::user(store, "erin");
    assert!(next.0 > erin.0, "a deleted user's id is not reused");
    let page = store.changes(next, "0", 100).unwrap();
    assert!(page.changes.is_empty(), "the new erin inherits no feed");
}

fn passwords_are_set_only_for_existing_users(store: &dyn Store) {
    let u = fixtures::user(store, "pat");
    assert!(store.set_password(u, "new-hash").unwrap());
    assert_eq!(
        store.user_by_id(u).unwrap().unwrap().password_hash,
        "new-hash"
    );
    assert!(!store.set_password(UserId(999_999), "x").unwrap());
}

/// A token works until it expires (strictly before `expires_at`), until revoked, and expired
/// ones are swept at the next login.
fn tokens_expire_and_are_revoked(store: &dyn Store) {
    let u = fixtures::user(store, "tess");
    let v = fixtures::user(store, "vic");
    store.insert_token(u, "t1", 100, 200).unwrap();
    let cred = store.token("t1", 150).unwrap().expect("valid");
    assert_eq!(cred.user.id, u);
    assert_eq!(cred.user.username, "tess");
    assert_eq!(cred.expires_at, Some(200));
    assert!(store.token("t1", 200).unwrap().is_none(), "expired at 200");
    assert!(store.token("nope", 150).unwrap().is_none());

    assert!(store.revoke_token("t1").unwrap());
    assert!(!store.revoke_token("t1").unwrap());
    assert!(store.token("t1", 150).unwrap().is_none());

    store.insert_token(u, "a", 100, 1_000).unwrap();
    store.insert_token(u, "b", 100, 1_000).unwrap();
    store.insert_token(v, "c", 100, 1_000).unwrap();
    assert_eq!(store.revoke_user_tokens(u).unwrap(), 2);
    assert_eq!(store.revoke_user_tokens(u).unwrap(), 0);
    assert!(store.token("c", 150).unwrap().is_some(), "only u's tokens");

    // A login at 500 sweeps the token that expired at 300, whatever `now` a check passes.
    store.insert_token(v, "old", 100, 300).unwrap();
    store.insert_token(v, "new", 500, 2_000).unwrap();
    assert!(store.token("old", 150).unwrap().is_none(), "swept");
    assert!(store.token("new", 600).unwrap().is_some());
}

/// Changing a password ends every session; with `revoke_all` also API keys and the app password.
fn change_password_revokes_sessions_and_optionally_everything(store: &dyn Store) {
    let u = fixtures::user(store, "cp");
    let sealed = SealedSecret {
        nonce: vec![1, 2, 3],
        ciphertext: vec![4, 5, 6, 7],
    };
    store.insert_token(u, "t", 100, 10_000).unwrap();
    store.insert_api_key(u, "k", "key", 100).unwrap();
    store
        .set_subsonic_app_password(u, Some(&sealed), 100)
        .unwrap();

    assert!(store.change_password(u, "h2", false).unwrap());
    assert_eq!(store.user_by_id(u).unwrap().unwrap().password_hash, "h2");
    assert!(store.token("t", 200).unwrap().is_none());
    assert!(store.api_key("key", 200).unwrap().is_some(), "keys kept");
    assert_eq!(store.subsonic_app_password(u).unwrap(), Some(sealed));

    store.insert_token(u, "t2", 100, 10_000).unwrap();
    assert!(store.change_password(u, "h3", true).unwrap());
    assert!(store.token("t2", 200).unwrap().is_none());
    assert!(store.api_key("key", 200).unwrap().is_none());
    assert!(store.list_api_keys(u).unwrap().is_empty());
    assert!(store.subsonic_app_password(u).unwrap().is_none());
    assert_eq!(store.user_by_id(u).unwrap().unwrap().password_hash, "h3");

    assert!(!store.change_password(UserId(999_999), "x", true).unwrap());
}

/// API keys authenticate without expiry, record their last use, and belong to one user.
fn api_keys_authenticate_record_use_and_belong_to_their_user(store: &dyn Store) {
    let u = fixtures::user(store, "kim");
    let v = fixtures::user(store, "lee");
    let k1 = store.insert_api_key(u, "laptop", "h1", 100).unwrap();
    let k2 = store.insert_api_key(u, "phone", "h2", 110).unwrap();
    store.insert_api_key(v, "theirs", "h3", 120).unwrap();
    assert_eq!(
        (k1.name.as_str(), k1.created_at, k1.last_used_at),
        ("laptop", 100, None)
    );
    assert_ne!(k1.id, k2.id);

    let cred = store.api_key("h1", 500).unwrap().expect("valid");
    assert_eq!((cred.user.id, cred.expires_at), (u, None));
    assert!(store.api_key("unknown", 500).unwrap().is_none());

    let keys = store.list_api_keys(u).unwrap();
    assert_eq!(
        keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["laptop", "phone"],
        "ordered by id, only the user's"
    );
    assert_eq!(keys[0].last_used_at, Some(500), "use recorded");
    assert_eq!(keys[1].last_used_at, None);

    assert!(!store.delete_api_key(v, k1.id).unwrap(), "not v's key");
    assert!(store.api_key("h1", 600).unwrap().is_some());
    assert!(store.delete_api_key(u, k1.id).unwrap());
    assert!(!store.delete_api_key(u, k1.id).unwrap());
    assert!(store.api_key("h1", 600).unwrap().is_none());
    assert_eq!(store.list_api_keys(u).unwrap().len(), 1);
}

fn app_passwords_are_set_replaced_cleared_and_counted(store: &dyn Store) {
    let u = fixtures::user(store, "sub");
    let v = fixtures::user(store, "sonic");
    assert!(store.subsonic_app_password(u).unwrap().is_none());
    assert_eq!(store.sealed_app_password_count().unwrap(), 0);
    let first = SealedSecret {
        nonce: vec![0; 24],
        ciphertext: vec![9, 8, 7],
    };
    let second = SealedSecret {
        nonce: vec![1; 24],
        ciphertext: vec![0, 255, 1, 254],
    };
    store.set_subsonic_app_password(u, Some(&first), 1).unwrap();
    store.set_subsonic_app_password(v, Some(&first), 1).unwrap();
    assert_eq!(store.subsonic_app_password(u).unwrap(), Some(first.clone()));
    assert_eq!(store.sealed_app_password_count().unwrap(), 2);
    store
        .set_subsonic_app_password(u, Some(&second), 2)
        .unwrap();
    assert_eq!(store.subsonic_app_password(u).unwrap(), Some(second));
    assert_eq!(store.sealed_app_password_count().unwrap(), 2);
    store.set_subsonic_app_password(u, None, 3).unwrap();
    store.set_subsonic_app_password(u, None, 4).unwrap();
    assert!(store.subsonic_app_password(u).unwrap().is_none());
    assert_eq!(store.subsonic_app_password(v).unwrap(), Some(first));
    assert_eq!(store.sealed_app_password_count().unwrap(), 1);
}

/// A stream limit comes with the user however they are found (by name, id, token, API key,
/// in the list), stays the user's own, and can be lifted.
fn stream_limits_come_with_the_user_wherever_it_is_read(store: &dyn Store) {
    let u = fixtures::user(store, "limited");
    let v = fixtures::user(store, "free");
    store.insert_token(u, "tok-u", 100, i64::MAX / 2).unwrap();
    store.insert_api_key(u, "k", "key-u", 100).unwrap();
    assert!(store.set_max_bitrate(u, Some(96)).unwrap());
    assert!(!store.set_max_bitrate(UserId(999_999), Some(96)).unwrap());
    let read = [
        store.user_by_id(u).unwrap().unwrap().user,
        store.user_by_name("LIMITED").unwrap().unwrap().user,
        store.token("tok-u", 200).unwrap().unwrap().user,
        store.api_key("key-u", 200).unwrap().unwrap().user,
    ];
    for user in read {
        assert_eq!((user.id, user.max_bitrate_kbps), (u, Some(96)));
    }
    let listed = store.list_users().unwrap();
    let limit = |id| listed.iter().find(|x| x.id == id).unwrap().max_bitrate_kbps;
    assert_eq!((limit(u), limit(v)), (Some(96), None));
    assert!(store.set_max_bitrate(u, None).unwrap());
    assert_eq!(
        store.user_by_id(u).unwrap().unwrap().user.max_bitrate_kbps,
        None
    );
}

stories!(
    users_are_unique_by_name_in_any_case,
    stream_limits_come_with_the_user_wherever_it_is_read,
    deleted_users_take_their_data_and_their_id_is_never_reused,
    passwords_are_set_only_for_existing_users,
    tokens_expire_and_are_revoked,
    change_password_revokes_sessions_and_optionally_everything,
    api_keys_authenticate_record_use_and_belong_to_their_user,
    app_passwords_are_set_replaced_cleared_and_counted,
);
