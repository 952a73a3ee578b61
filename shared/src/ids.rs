//! Typed identifiers. Catalog ids are server-assigned integers; playlist and entry ids are UUIDs
//! so that an offline client can mint them itself (UUIDv7) and the server can accept them as-is.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = i64)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id (UUIDv7), as clients mint them offline.
            pub fn new_v7() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

int_id!(
    /// A track: stable across rescans, renames and moves (matched by content hash).
    TrackId
);
int_id!(
    /// An album, keyed by album artist + album title.
    AlbumId
);
int_id!(
    /// An artist, keyed by normalized name.
    ArtistId
);
int_id!(
    /// A user account.
    UserId
);
uuid_id!(
    /// A playlist.
    PlaylistId
);
uuid_id!(
    /// One entry of a playlist: the same track may appear twice under two entry ids.
    EntryId
);
uuid_id!(
    /// One playlist operation, minted by the device that made it (UUIDv7): the server applies
    /// each op id once, so a replayed push is a no-op.
    OpId
);
uuid_id!(
    /// One play event, minted by the client when it happens (UUIDv7): stored once however often
    /// it is uploaded.
    EventId
);
uuid_id!(
    /// One client installation (a set of XDG directories). Breaks ties between ops with equal
    /// logical clocks.
    DeviceId
);
