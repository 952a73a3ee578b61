//! Mixtape's audio codecs, shared by the player (`mixtape`) and the server's transcoder so that
//! both decode a file the same way.
//!
//! - `decode`: symphonia's demuxers and decoders with gapless trimming, libopus for Opus
//!   (`opus_dec`), and the MP4 edit list that symphonia ignores (`mp4_edit`).
//! - `resample`: polyphase sinc to 48 kHz and the downmix to stereo, position-exact.
//! - `profile`: the rendition profiles and their immutable ids.
//! - `rendition`, `opus_enc` with `ogg`, `mp3_enc` (LAME, feature `mp3`): renditions of exact, precomputed length, made chunk by
//!   chunk in any order, each chunk's bytes a pure function of (source, profile, chunk).
//!
//! **Invariant:** this crate does no network IO and keeps no state between calls except the
//! shared resampler tables.

mod decode;
#[cfg(feature = "mp3")]
mod mp3_enc;
mod mp4_edit;
mod ogg;
mod opus_dec;
mod opus_enc;
mod profile;
mod rendition;
mod resample;
/// The demo library's files, for this crate's tests and the player's (feature `test-support`).
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;
#[cfg(test)]
mod tests;

pub use decode::{DecodeError, PcmSpec, TrackDecoder};
#[cfg(feature = "mp3")]
pub use mp3_enc::Mp3Error;
pub use opus_enc::EncodeError;
pub use profile::{Codec, ORIGINAL, PROFILES, Profile};
pub use rendition::{Plan, RenditionError, SourceInfo};
pub use resample::{OUT_RATE, out_frames};
pub use symphonia::core::io::MediaSource;
