//! Rendition profiles. An id names one exact encoder setting for good: a rendition's bytes are
//! cached and verified under `(content hash, profile id)`, so a changed setting (bitrate,
//! encoder library, chunk grid) must get a new id, never reuse an old one.

/// The encoder of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// libopus, hard CBR, 20 ms packets, in Ogg with one-second pages.
    Opus,
    /// LAME, CBR at 48 kHz without the bit reservoir, headed by an Info frame.
    Mp3,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Opus => "opus",
            Codec::Mp3 => "mp3",
        }
    }

    pub fn container(self) -> &'static str {
        match self {
            Codec::Opus => "ogg",
            Codec::Mp3 => "mp3",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Opus => "audio/ogg",
            Codec::Mp3 => "audio/mpeg",
        }
    }

    /// The file name extension of a rendition.
    pub fn suffix(self) -> &'static str {
        match self {
            Codec::Opus => "opus",
            Codec::Mp3 => "mp3",
        }
    }
}

/// One transcoding profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Profile {
    pub id: &'static str,
    pub codec: Codec,
    pub bitrate_kbps: u32,
}

/// Every profile this build can encode, lowest bitrate first within a codec (MP3 with the
/// `mp3` feature).
pub const PROFILES: &[Profile] = &[
    Profile {
        id: "opus-64",
        codec: Codec::Opus,
        bitrate_kbps: 64,
    },
    Profile {
        id: "opus-96",
        codec: Codec::Opus,
        bitrate_kbps: 96,
    },
    Profile {
        id: "opus-128",
        codec: Codec::Opus,
        bitrate_kbps: 128,
    },
    Profile {
        id: "opus-160",
        codec: Codec::Opus,
        bitrate_kbps: 160,
    },
    Profile {
        id: "opus-192",
        codec: Codec::Opus,
        bitrate_kbps: 192,
    },
    #[cfg(feature = "mp3")]
    Profile {
        id: "mp3-128",
        codec: Codec::Mp3,
        bitrate_kbps: 128,
    },
    #[cfg(feature = "mp3")]
    Profile {
        id: "mp3-192",
        codec: Codec::Mp3,
        bitrate_kbps: 192,
    },
    #[cfg(feature = "mp3")]
    Profile {
        id: "mp3-320",
        codec: Codec::Mp3,
        bitrate_kbps: 320,
    },
];

/// The id of the untranscoded file, accepted wherever a profile id is.
pub const ORIGINAL: &str = "original";

impl Profile {
    pub fn by_id(id: &str) -> Option<&'static Profile> {
        PROFILES.iter().find(|p| p.id == id)
    }

    /// The profile of `codec` with the largest bitrate not above `max_kbps` (its lowest when
    /// none is that low); `None` when this build has no profile of that codec.
    pub fn best_within(codec: Codec, max_kbps: Option<u32>) -> Option<&'static Profile> {
        let mut of_codec = PROFILES.iter().filter(|p| p.codec == codec);
        let lowest = of_codec.clone().min_by_key(|p| p.bitrate_kbps)?;
        let Some(max) = max_kbps.filter(|&m| m > 0) else {
            return of_codec.max_by_key(|p| p.bitrate_kbps);
        };
        Some(
            of_codec
                .by_ref()
                .filter(|p| p.bitrate_kbps <= max)
                .max_by_key(|p| p.bitrate_kbps)
                .unwrap_or(lowest),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_name_codec_and_bitrate() {
        let mut ids: Vec<_> = PROFILES.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PROFILES.len());
        for p in PROFILES {
            assert_eq!(p.id, format!("{}-{}", p.codec.name(), p.bitrate_kbps));
        }
        assert!(Profile::by_id(ORIGINAL).is_none());
    }

    #[test]
    fn the_best_profile_within_a_cap_is_the_largest_not_above_it() {
        let id = |max| Profile::best_within(Codec::Opus, max).map(|p| p.id);
        assert_eq!(id(Some(128)), Some("opus-128"));
        assert_eq!(id(Some(150)), Some("opus-128"));
        assert_eq!(id(Some(32)), Some("opus-64"));
        assert_eq!(id(None), Some("opus-192"));
        assert_eq!(id(Some(0)), Some("opus-192"));
    }
}
