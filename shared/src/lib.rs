//! Wire types and the sync model that the Mixtape server and client must agree on.
//!
//! Nothing here does IO: these are plain data types (serde + OpenAPI schemas) and pure functions.

pub mod api;
pub mod ids;
pub mod lyrics;
pub mod order_key;
pub mod search;
pub mod sync;

pub use ids::{AlbumId, ArtistId, DeviceId, EntryId, EventId, OpId, PlaylistId, TrackId, UserId};
