//! The OpenAPI 3 document, generated from the handlers' annotations.

use super::{catalog, events, ops, playlists, recs, stream, subsonic, users};
use mixtape_shared::api::*;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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

#[derive(OpenApi)]
#[openapi(
    info(title = "Mixtape", description = "Mixtape server API: catalog, playlists, streams and sync."),
    modifiers(&BearerAuth),
    paths(
        ops::healthz, ops::readyz, ops::scan_status, ops::start_scan, ops::changes,
        users::login, users::logout, users::me, users::list_users, users::create_user, users::delete_user,
        users::set_password, users::list_keys, users::create_key, users::delete_key,
        catalog::list_tracks, catalog::get_track, catalog::list_albums, catalog::get_album, catalog::list_artists,
        catalog::get_artist, catalog::list_genres, catalog::search, catalog::cover_art,
        stream::stream_track, stream::media,
        playlists::list, playlists::create, playlists::show, playlists::update, playlists::remove,
        playlists::add_entries, playlists::remove_entry, playlists::move_entry, playlists::export, playlists::import, playlists::push_ops,
        events::post_events, events::history,
        subsonic::set_subsonic_password, subsonic::clear_subsonic_password,
        recs::for_you, recs::similar, recs::radio, recs::queue_report, recs::requeue_dead_letters,
        recs::recs_summary, recs::rebuild,
    ),
    components(schemas(ErrorBody, ErrorDetail, Change, crate::recs::Reason,
        subsonic::SubsonicPasswordRequest))
)]
pub struct ApiDoc;
