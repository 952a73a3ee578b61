//! The OpenSubsonic `transcoding` extension's decision (`getTranscodeDecision`): what a client
//! says it plays (`ClientInfo`, a JSON body) against one song, answered with direct play, a
//! rendition this server makes, or neither; and `transcodeParams`, the opaque token
//! `getTranscodeStream` takes back (`http::subsonic_stream`).
//!
//! Bitrates in `ClientInfo` and `StreamDetails` are bits per second (`0` = no limit), as the
//! extension has them; our profiles are kb/s.

use mixtape_codec::{PROFILES, Profile};
use mixtape_shared::api::Track;
use serde::{Deserialize, Serialize};

/// What a client plays, as it describes itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClientInfo {
    pub name: String,
    pub platform: String,
    pub max_audio_bitrate: u64,
    pub max_transcoding_audio_bitrate: u64,
    pub direct_play_profiles: Vec<DirectPlayProfile>,
    pub transcoding_profiles: Vec<TranscodingProfile>,
    pub codec_profiles: Vec<CodecProfile>,
}

/// Formats the client plays as they are; an empty list means any.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DirectPlayProfile {
    pub containers: Vec<String>,
    pub audio_codecs: Vec<String>,
    pub protocols: Vec<String>,
    pub max_audio_channels: Option<u32>,
}

/// A format the client takes a transcode in, in its order of preference.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TranscodingProfile {
    pub container: String,
    pub audio_codec: String,
    pub protocol: String,
    pub max_audio_channels: Option<u32>,
}

/// Limits on one codec, whether played directly or as a transcode.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CodecProfile {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub limitations: Vec<Limitation>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Limitation {
    pub name: String,
    pub comparison: String,
    pub values: Vec<String>,
    pub required: bool,
}

/// One stream's properties, as the extension reports them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamDetails {
    pub protocol: &'static str,
    pub container: String,
    pub codec: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_channels: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_bitrate: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_samplerate: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscodeDecision {
    pub can_direct_play: bool,
    pub can_transcode: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transcode_reason: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error_reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcode_params: Option<String>,
    pub source_stream: StreamDetails,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcode_stream: Option<StreamDetails>,
}

/// What `transcodeParams` names: the file as it is, or one of our profiles; and the start of
/// the content hash the decision was made for, so a token for a file since replaced is
/// refused rather than answered with other audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams<'a> {
    pub profile: Option<&'static Profile>,
    pub hash_prefix: &'a str,
}

/// Hex digits of the content hash a token carries.
const HASH_PREFIX: usize = 16;

impl<'a> StreamParams<'a> {
    pub fn encode(profile: Option<&Profile>, content_hash: &str) -> String {
        let prefix = &content_hash[..HASH_PREFIX.min(content_hash.len())];
        format!("{}.{prefix}", profile.map_or("original", |p| p.id))
    }

    /// None for a token this server did not make.
    pub fn decode(token: &'a str) -> Option<Self> {
        let (profile, hash_prefix) = token.rsplit_once('.')?;
        if hash_prefix.len() != HASH_PREFIX || !hash_prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let profile = match profile {
            "original" => None,
            id => Some(Profile::by_id(id)?),
        };
        Some(Self {
            profile,
            hash_prefix,
        })
    }

    /// The token was made for this file.
    pub fn matches(&self, content_hash: &str) -> bool {
        content_hash.starts_with(self.hash_prefix)
    }
}

impl ClientInfo {
    /// Folds a user's own stream limit (kb/s) into what the client says it takes.
    pub fn limit_to(&mut self, user_limit_kbps: Option<u32>) {
        let Some(limit) = user_limit_kbps
            .filter(|&k| k > 0)
            .map(|k| u64::from(k) * 1000)
        else {
            return;
        };
        for cap in [
            &mut self.max_audio_bitrate,
            &mut self.max_transcoding_audio_bitrate,
        ] {
            *cap = if *cap == 0 { limit } else { (*cap).min(limit) };
        }
    }
}

/// The song as stored: its container (our `format`) and codec.
fn source_of(track: &Track) -> StreamDetails {
    let (container, codec) = match track.format.to_ascii_lowercase().as_str() {
        "ogg" => ("ogg".to_string(), "vorbis".to_string()),
        "opus" => ("ogg".to_string(), "opus".to_string()),
        "m4a" | "mp4" => ("mp4".to_string(), "aac".to_string()),
        "wav" => ("wav".to_string(), "pcm".to_string()),
        other => (other.to_string(), other.to_string()),
    };
    StreamDetails {
        protocol: "http",
        container,
        codec,
        audio_channels: track.channels.map(u32::from),
        audio_bitrate: track.bitrate_kbps.map(|k| u64::from(k) * 1000),
        audio_samplerate: track.sample_rate,
    }
}

/// A name in a client's list matches ours, case aside; `opus` names Ogg too (clients list
/// the suffix as a container).
fn names(list: &[String], ours: &[&str]) -> bool {
    list.is_empty()
        || list
            .iter()
            .any(|n| ours.iter().any(|o| n.eq_ignore_ascii_case(o)))
}

/// Whether `stream` passes the client's limits on its codec; the failed limitation's reason
/// otherwise. An unknown property fails only a required limitation.
fn passes_codec_limits(client: &ClientInfo, stream: &StreamDetails) -> Result<(), String> {
    for profile in client
        .codec_profiles
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case(&stream.codec))
    {
        for limit in &profile.limitations {
            let value: Option<u64> = match limit.name.as_str() {
                "audioChannels" => stream.audio_channels.map(u64::from),
                "audioBitrate" => stream.audio_bitrate,
                "audioSamplerate" => stream.audio_samplerate.map(u64::from),
                // We keep no bit depth or codec profile.
                _ => None,
            };
            let Some(value) = value else {
                if limit.required {
                    return Err(format!("{} unknown", limit.name));
                }
                continue;
            };
            let numbers: Vec<u64> = limit.values.iter().filter_map(|v| v.parse().ok()).collect();
            let ok = match limit.comparison.as_str() {
                "Equals" => numbers.contains(&value),
                "NotEquals" => !numbers.contains(&value),
                "LessThanEqual" => numbers.first().is_none_or(|n| value <= *n),
                "GreaterThanEqual" => numbers.first().is_none_or(|n| value >= *n),
                _ => true,
            };
            if !ok && limit.required {
                return Err(format!("{} not supported", limit.name));
            }
        }
    }
    Ok(())
}

/// Why `profile` cannot play the source as it is; None when it can.
fn direct_play_refusal(
    client: &ClientInfo,
    profile: &DirectPlayProfile,
    source: &StreamDetails,
    suffix: &str,
) -> Option<String> {
    if !names(&profile.protocols, &["http"]) {
        return Some("protocol not supported".into());
    }
    if !names(&profile.containers, &[&source.container, suffix]) {
        return Some("container not supported".into());
    }
    if !names(&profile.audio_codecs, &[&source.codec]) {
        return Some("audio codec not supported".into());
    }
    if let (Some(max), Some(channels)) = (profile.max_audio_channels, source.audio_channels)
        && channels > max
    {
        return Some("audio channels not supported".into());
    }
    if client.max_audio_bitrate > 0
        && source
            .audio_bitrate
            .is_none_or(|b| b > client.max_audio_bitrate)
    {
        return Some("audio bitrate not supported".into());
    }
    passes_codec_limits(client, source).err()
}

/// The rendition `wanted` asks for, within the client's caps; None when we make no such format
/// (Opus in Ogg, MP3) or nothing fits its limits.
fn rendition_for(
    client: &ClientInfo,
    wanted: &TranscodingProfile,
    source: &StreamDetails,
) -> Option<(&'static Profile, StreamDetails)> {
    if !wanted.protocol.is_empty() && !wanted.protocol.eq_ignore_ascii_case("http") {
        return None;
    }
    let codec = PROFILES.iter().map(|p| p.codec).find(|c| {
        wanted.audio_codec.eq_ignore_ascii_case(c.name())
            && (wanted.container.eq_ignore_ascii_case(c.container())
                || wanted.container.eq_ignore_ascii_case(c.suffix()))
    })?;
    let caps = [
        client.max_transcoding_audio_bitrate,
        client.max_audio_bitrate,
    ];
    let cap_bps = caps.into_iter().filter(|&c| c > 0).min();
    // Highest bitrate first, the first that passes the client's limits.
    let mut candidates: Vec<&'static Profile> = PROFILES
        .iter()
        .filter(|p| p.codec == codec)
        .filter(|p| cap_bps.is_none_or(|cap| u64::from(p.bitrate_kbps) * 1000 <= cap))
        .collect();
    candidates.sort_by_key(|p| std::cmp::Reverse(p.bitrate_kbps));
    let channels = source.audio_channels.map(|c| c.min(2));
    if let (Some(max), Some(c)) = (wanted.max_audio_channels, channels)
        && c > max
    {
        return None;
    }
    candidates.into_iter().find_map(|profile| {
        let stream = output_of(profile, channels);
        passes_codec_limits(client, &stream)
            .is_ok()
            .then_some((profile, stream))
    })
}

/// What a rendition in `profile` is: mono stays mono, more channels fold to stereo.
fn output_of(profile: &Profile, source_channels: Option<u32>) -> StreamDetails {
    let codec = profile.codec;
    StreamDetails {
        protocol: "http",
        container: codec.container().into(),
        codec: codec.name().into(),
        audio_channels: Some(source_channels.unwrap_or(2).clamp(1, 2)),
        audio_bitrate: Some(u64::from(profile.bitrate_kbps) * 1000),
        // Every rendition is at 48 kHz (MP3 too: its frames have no padding bit there).
        audio_samplerate: Some(48_000),
    }
}

/// The decision for `track`: direct play when a direct-play profile takes it as it is, else the
/// client's first transcoding profile we can make, else neither (with the reasons).
pub fn decide(client: &ClientInfo, track: &Track) -> TranscodeDecision {
    let source = source_of(track);
    let suffix = track.format.to_ascii_lowercase();
    let mut reasons: Vec<String> = Vec::new();
    if client.direct_play_profiles.is_empty() {
        reasons.push("no direct play profile".into());
    }
    for profile in &client.direct_play_profiles {
        match direct_play_refusal(client, profile, &source, &suffix) {
            None => {
                return TranscodeDecision {
                    can_direct_play: true,
                    can_transcode: false,
                    transcode_reason: Vec::new(),
                    error_reason: String::new(),
                    transcode_params: Some(StreamParams::encode(None, &track.content_hash)),
                    source_stream: source,
                    transcode_stream: None,
                };
            }
            Some(reason) if !reasons.contains(&reason) => reasons.push(reason),
            Some(_) => {}
        }
    }
    for wanted in &client.transcoding_profiles {
        if let Some((profile, stream)) = rendition_for(client, wanted, &source) {
            return TranscodeDecision {
                can_direct_play: false,
                can_transcode: true,
                transcode_reason: reasons,
                error_reason: String::new(),
                transcode_params: Some(StreamParams::encode(Some(profile), &track.content_hash)),
                source_stream: source,
                transcode_stream: Some(stream),
            };
        }
    }
    TranscodeDecision {
        can_direct_play: false,
        can_transcode: false,
        transcode_reason: reasons,
        error_reason: "none of the client's transcoding profiles is one this server makes (it makes Opus in Ogg and MP3, over http)".into(),
        transcode_params: None,
        source_stream: source,
        transcode_stream: None,
    }
}

#[cfg(test)]
mod tests;
