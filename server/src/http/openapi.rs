//! The OpenAPI 3 document, generated from the handlers' annotations.

use super::{catalog, events, media_url, ops, playlists, recs, rendition, stream, subsonic, users};
use mixtape_shared::api::*;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The error answers every route can give, documented once here rather than on each handler:
/// 401 wherever credentials are needed, 400 wherever the request carries parameters or a body
/// (an id that does not parse, a malformed query), 507 wherever it writes, 409 and 422 wherever
/// an `Idempotency-Key` is taken.
struct StandardErrors;

impl Modify for StandardErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let writes = [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in writes.into_iter().flatten() {
                add_error(op, "507", "the server's disk is full; nothing was saved");
            }
            let all = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in all.into_iter().flatten() {
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add_error(op, "401", "missing or invalid credentials");
                }
                if op.parameters.as_ref().is_some_and(|p| !p.is_empty())
                    || op.request_body.is_some()
                {
                    add_error(op, "400", "a malformed parameter or body");
                }
                let keyed = op
                    .parameters
                    .as_ref()
                    .is_some_and(|p| p.iter().any(|p| p.name == "Idempotency-Key"));
                if keyed {
                    add_error(
                        op,
                        "409",
                        "idempotency_in_flight: a request with this Idempotency-Key is still running",
                    );
                    add_error(
                        op,
                        "422",
                        "idempotency_key_reused: this Idempotency-Key was used for another request",
                    );
                }
            }
        }
    }
}

fn add_error(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
                .into()
        });
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Mixtape", description = "Mixtape server API: catalog, playlists, streams and sync."),
    modifiers(&BearerAuth, &StandardErrors),
    paths(
        ops::healthz, ops::readyz, ops::scan_status, ops::start_scan, ops::changes,
        users::login, users::logout, users::me, users::list_users, users::create_user, users::delete_user,
        users::set_password, users::set_max_bitrate, users::list_keys, users::create_key, users::delete_key,
        catalog::list_tracks, catalog::get_track, catalog::track_lyrics, catalog::list_albums, catalog::get_album, catalog::list_artists,
        catalog::get_artist, catalog::list_genres, catalog::search, catalog::cover_art, catalog::signed_cover_art,
        stream::stream_track, stream::media, media_url::signed_media, media_url::fresh_media_url,
        rendition::profiles, rendition::media_rendition, rendition::signed_rendition, rendition::renditions,
        playlists::list, playlists::create, playlists::show, playlists::update, playlists::remove,
        playlists::add_entries, playlists::remove_entry, playlists::move_entry, playlists::export, playlists::import, playlists::push_ops,
        events::post_events, events::history,
        subsonic::set_subsonic_password, subsonic::clear_subsonic_password,
        recs::for_you, recs::similar, recs::radio, recs::queue_report, recs::requeue_dead_letters,
        recs::recs_summary, recs::rebuild, recs::model_status, recs::train,
    ),
    components(schemas(ErrorBody, ErrorDetail, Change, crate::recs::Reason,
        subsonic::SubsonicPasswordRequest))
)]
pub struct ApiDoc;
