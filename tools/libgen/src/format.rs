//! The audio formats the generators produce.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// An audio container/codec combination written by the generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AudioFormat {
    /// MPEG-1 Layer III with an ID3v2.4 tag.
    Mp3,
    /// FLAC with Vorbis comments and PICTURE blocks.
    Flac,
    /// Ogg Vorbis with Vorbis comments.
    Ogg,
    /// Ogg Opus with Vorbis comments.
    Opus,
    /// AAC in an MPEG-4 container with an `ilst` tag.
    M4a,
    /// 16-bit PCM WAV with an ID3v2.4 chunk.
    Wav,
}

impl AudioFormat {
    /// Every format, in the canonical order.
    pub const ALL: [AudioFormat; 6] = [
        AudioFormat::Mp3,
        AudioFormat::Flac,
        AudioFormat::Ogg,
        AudioFormat::Opus,
        AudioFormat::M4a,
        AudioFormat::Wav,
    ];

    /// File extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Flac => "flac",
            AudioFormat::Ogg => "ogg",
            AudioFormat::Opus => "opus",
            AudioFormat::M4a => "m4a",
            AudioFormat::Wav => "wav",
        }
    }

    /// Human readable name.
    pub fn display_name(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "MP3",
            AudioFormat::Flac => "FLAC",
            AudioFormat::Ogg => "Ogg Vorbis",
            AudioFormat::Opus => "Opus",
            AudioFormat::M4a => "M4A (AAC)",
            AudioFormat::Wav => "WAV",
        }
    }

    /// Parses a comma separated list such as `mp3,flac,ogg`.
    pub fn parse_list(list: &str) -> Result<Vec<AudioFormat>, Error> {
        let mut formats = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let format = part.parse()?;
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
        if formats.is_empty() {
            return Err(Error::Invalid("the format list is empty".into()));
        }
        Ok(formats)
    }

    /// ffmpeg codec arguments for this format at the given quality.
    pub(crate) fn ffmpeg_codec_args(self, quality: EncodeQuality) -> Vec<&'static str> {
        let small = quality == EncodeQuality::Small;
        match self {
            AudioFormat::Mp3 => vec![
                "-c:a",
                "libmp3lame",
                "-b:a",
                if small { "48k" } else { "128k" },
                "-id3v2_version",
                "0",
                "-write_id3v1",
                "0",
            ],
            AudioFormat::Flac => vec!["-c:a", "flac", "-compression_level", "8"],
            AudioFormat::Ogg => vec!["-c:a", "libvorbis", "-q:a", if small { "0" } else { "3" }],
            AudioFormat::Opus => vec!["-c:a", "libopus", "-b:a", if small { "32k" } else { "96k" }],
            AudioFormat::M4a => vec![
                "-c:a",
                "aac",
                "-b:a",
                if small { "48k" } else { "128k" },
                "-movflags",
                "+faststart",
            ],
            AudioFormat::Wav => vec!["-c:a", "pcm_s16le"],
        }
    }
}

/// How hard the encoder should try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncodeQuality {
    /// The demo library: the bitrates a person would listen to.
    Listening,
    /// Benchmark templates: as small as possible.
    Small,
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for AudioFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "mp3" => Ok(AudioFormat::Mp3),
            "flac" => Ok(AudioFormat::Flac),
            "ogg" | "vorbis" | "oga" => Ok(AudioFormat::Ogg),
            "opus" => Ok(AudioFormat::Opus),
            "m4a" | "aac" | "mp4" => Ok(AudioFormat::M4a),
            "wav" | "wave" => Ok(AudioFormat::Wav),
            _ => Err(Error::UnknownFormat(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        assert_eq!(
            AudioFormat::parse_list("mp3, FLAC,ogg,mp3").unwrap(),
            vec![AudioFormat::Mp3, AudioFormat::Flac, AudioFormat::Ogg]
        );
        assert!(AudioFormat::parse_list("mp3,xm").is_err());
        assert!(AudioFormat::parse_list(" , ").is_err());
        for f in AudioFormat::ALL {
            assert_eq!(f.extension().parse::<AudioFormat>().unwrap(), f);
        }
    }
}
