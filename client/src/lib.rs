//! The Mixtape client library: today only the shared wire types are re-exported; the local
//! mirror, audio cache, sync and player arrive with the client issues.

pub use mixtape_shared as shared;
