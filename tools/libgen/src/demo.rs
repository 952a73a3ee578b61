//! The demo library shipped in `assets/demo`: 18 short generated tracks by 7 artists on 5
//! albums in five formats, fully tagged, with cover art.

use std::path::{Path, PathBuf};

use crate::art::{self, ArtSpec, ArtStyle};
use crate::compose::{BassStyle, ChordStyle, DrumStyle, Scale, SongSpec};
use crate::demo_lyrics::{DemoLyrics, demo_lyrics};
use crate::error::{Error, Result};
use crate::format::{AudioFormat, EncodeQuality};
use crate::names::sanitize_component;
use crate::synth::Instrument::{self, *};
use crate::tags::{CoverImage, TrackTags, read_back, tag_bytes};
use crate::tools::{FFMPEG, SOX, ffmpeg_encode};

/// How an album's folder art is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderArt {
    /// `cover.jpg`.
    CoverJpg,
    /// `folder.png`.
    FolderPng,
}

/// One album of the demo library.
#[derive(Debug, Clone)]
pub struct DemoAlbum {
    /// Album title.
    pub title: &'static str,
    /// Album artist (also the first folder level).
    pub album_artist: &'static str,
    /// Release year.
    pub year: u32,
    /// Number of discs.
    pub discs: u32,
    /// A "Various Artists" compilation.
    pub compilation: bool,
    /// Format of every track of the album.
    pub format: AudioFormat,
    /// Embed the cover in the audio files.
    pub embed_cover: bool,
    /// Folder art file.
    pub folder_art: FolderArt,
    /// Cover design.
    pub art: ArtSpec,
    /// Tracks, in order.
    pub tracks: Vec<DemoTrack>,
}

/// One track of the demo library.
#[derive(Debug, Clone)]
pub struct DemoTrack {
    /// Title.
    pub title: &'static str,
    /// Track artists (empty = the album artist).
    pub artists: &'static [&'static str],
    /// Genres.
    pub genres: &'static [&'static str],
    /// Disc number (1-based).
    pub disc: u32,
    /// The music.
    pub song: SongSpec,
    /// Write the FLAC in mono (to keep the library small).
    pub mono: bool,
    /// Lyrics, in the tag or in a sidecar `.lrc`.
    pub lyrics: Option<DemoLyrics>,
}

#[allow(clippy::too_many_arguments)]
fn song(
    seed: u64,
    bpm: f32,
    beats_per_bar: u32,
    tonic: i32,
    scale: Scale,
    progression: &[i32],
    seconds: f32,
    melody: Instrument,
    density: f32,
    chords: (Instrument, ChordStyle),
) -> SongSpec {
    SongSpec {
        seed,
        bpm,
        beats_per_bar,
        tonic,
        scale,
        progression: progression.to_vec(),
        sevenths: false,
        target_seconds: seconds,
        melody,
        density,
        chords: chords.0,
        chord_style: chords.1,
        pad: None,
        bass: None,
        drums: None,
        swing: 0.0,
    }
}

impl SongSpec {
    fn with_bass(mut self, instrument: Instrument, style: BassStyle) -> Self {
        self.bass = Some((instrument, style));
        self
    }
    fn with_drums(mut self, drums: DrumStyle) -> Self {
        self.drums = Some(drums);
        self
    }
    fn with_pad(mut self, pad: Instrument) -> Self {
        self.pad = Some(pad);
        self
    }
    fn with_sevenths(mut self) -> Self {
        self.sevenths = true;
        self
    }
    fn with_swing(mut self, swing: f32) -> Self {
        self.swing = swing;
        self
    }
}

fn track(
    title: &'static str,
    artists: &'static [&'static str],
    genres: &'static [&'static str],
    song: SongSpec,
) -> DemoTrack {
    DemoTrack {
        title,
        artists,
        genres,
        disc: 1,
        song,
        mono: false,
        lyrics: demo_lyrics(title),
    }
}

/// The demo library, album by album.
pub fn demo_albums() -> Vec<DemoAlbum> {
    use Scale::*;
    vec![
        DemoAlbum {
            title: "Norðurljós",
            album_artist: "Sigur Ósk",
            year: 2021,
            discs: 1,
            compilation: false,
            format: AudioFormat::Flac,
            embed_cover: true,
            folder_art: FolderArt::CoverJpg,
            art: ArtSpec {
                style: ArtStyle::Mountains,
                hue_a: 230.0,
                hue_b: 160.0,
                size: 300,
            },
            tracks: vec![
                DemoTrack {
                    mono: true,
                    ..track(
                        "Hafið",
                        &[],
                        &["Ambient"],
                        song(
                            101,
                            66.0,
                            4,
                            74,
                            Lydian,
                            &[0, 0, 4, 5],
                            21.0,
                            Bell,
                            0.2,
                            (WarmPad, ChordStyle::Sustain),
                        )
                        .with_bass(Bass, BassStyle::Root),
                    )
                },
                DemoTrack {
                    mono: true,
                    ..track(
                        "Jökull",
                        &[],
                        &["Ambient"],
                        song(
                            102,
                            72.0,
                            4,
                            69,
                            Minor,
                            &[0, 5, 3, 4],
                            21.0,
                            Flute,
                            0.3,
                            (Pluck, ChordStyle::Arpeggio),
                        )
                        .with_pad(Pad),
                    )
                },
                DemoTrack {
                    mono: true,
                    ..track(
                        "Norðurljós",
                        &[],
                        &["Ambient"],
                        song(
                            103,
                            84.0,
                            3,
                            76,
                            Major,
                            &[0, 3, 5, 4],
                            21.0,
                            Marimba,
                            0.45,
                            (Pad, ChordStyle::Sustain),
                        )
                        .with_bass(Bass, BassStyle::Root),
                    )
                },
            ],
        },
        DemoAlbum {
            title: "Café Nocturne",
            album_artist: "The Paper Lanterns",
            year: 2019,
            discs: 1,
            compilation: false,
            format: AudioFormat::Mp3,
            embed_cover: true,
            folder_art: FolderArt::CoverJpg,
            art: ArtSpec {
                style: ArtStyle::Rings,
                hue_a: 20.0,
                hue_b: 40.0,
                size: 300,
            },
            tracks: vec![
                track(
                    "Café Nocturne",
                    &[],
                    &["Jazz"],
                    song(
                        201,
                        112.0,
                        4,
                        65,
                        Major,
                        &[1, 4, 0, 0, 5, 1, 4, 0],
                        30.0,
                        Marimba,
                        0.7,
                        (EPiano, ChordStyle::Comp),
                    )
                    .with_sevenths()
                    .with_swing(0.28)
                    .with_bass(UprightBass, BassStyle::Walking)
                    .with_drums(DrumStyle::JazzBrush),
                ),
                track(
                    "Rue de la Lune",
                    &[],
                    &["Jazz", "Chanson"],
                    song(
                        202,
                        150.0,
                        3,
                        74,
                        HarmonicMinor,
                        &[0, 3, 4, 0, 5, 3, 4, 4],
                        30.0,
                        Accordion,
                        0.75,
                        (Accordion, ChordStyle::Waltz),
                    )
                    .with_bass(UprightBass, BassStyle::Root)
                    .with_drums(DrumStyle::Waltz),
                ),
                track(
                    "Slow Espresso",
                    &[],
                    &["Jazz", "Bossa Nova"],
                    song(
                        203,
                        128.0,
                        4,
                        70,
                        Major,
                        &[0, 0, 1, 4, 2, 5, 1, 4],
                        30.0,
                        Flute,
                        0.55,
                        (Pluck, ChordStyle::Bossa),
                    )
                    .with_sevenths()
                    .with_bass(Bass, BassStyle::RootFifth)
                    .with_drums(DrumStyle::BossaRim),
                ),
                track(
                    "Last Tram Home",
                    &["The Paper Lanterns", "Élodie Marchand"],
                    &["Jazz"],
                    song(
                        204,
                        76.0,
                        4,
                        63,
                        Major,
                        &[0, 5, 1, 4],
                        30.0,
                        SoftLead,
                        0.45,
                        (EPiano, ChordStyle::Arpeggio),
                    )
                    .with_sevenths()
                    .with_swing(0.2)
                    .with_bass(UprightBass, BassStyle::Root)
                    .with_drums(DrumStyle::JazzBrush),
                ),
            ],
        },
        DemoAlbum {
            title: "東京 Nights",
            album_artist: "Neon Harbor",
            year: 2023,
            discs: 1,
            compilation: false,
            format: AudioFormat::Opus,
            embed_cover: true,
            folder_art: FolderArt::CoverJpg,
            art: ArtSpec {
                style: ArtStyle::Sunset,
                hue_a: 270.0,
                hue_b: 320.0,
                size: 300,
            },
            tracks: vec![
                track(
                    "Shibuya Rain",
                    &[],
                    &["Synthwave", "Electronic"],
                    song(
                        301,
                        104.0,
                        4,
                        69,
                        Minor,
                        &[0, 5, 2, 6],
                        32.0,
                        SquareLead,
                        0.55,
                        (Pad, ChordStyle::Sustain),
                    )
                    .with_bass(SynthBass, BassStyle::Eighths)
                    .with_drums(DrumStyle::FourOnTheFloor),
                ),
                track(
                    "東京 Nights",
                    &[],
                    &["Synthwave", "Electronic"],
                    song(
                        302,
                        88.0,
                        4,
                        66,
                        Dorian,
                        &[0, 3, 0, 6],
                        32.0,
                        SoftLead,
                        0.5,
                        (Pluck, ChordStyle::FastArpeggio),
                    )
                    .with_pad(WarmPad)
                    .with_bass(SynthBass, BassStyle::Root)
                    .with_drums(DrumStyle::HalfTime),
                ),
                track(
                    "夜の高速 (Night Highway)",
                    &[],
                    &["Synthwave", "Electronic"],
                    song(
                        303,
                        122.0,
                        4,
                        64,
                        Minor,
                        &[0, 0, 5, 6, 3, 3, 4, 4],
                        32.0,
                        SquareLead,
                        0.75,
                        (Bell, ChordStyle::Arpeggio),
                    )
                    .with_pad(Pad)
                    .with_bass(SynthBass, BassStyle::Eighths)
                    .with_drums(DrumStyle::Rock),
                ),
                track(
                    "Vending Machine Glow",
                    &[],
                    &["Synthwave", "Lo-Fi"],
                    song(
                        304,
                        82.0,
                        4,
                        72,
                        Major,
                        &[0, 5, 3, 4],
                        32.0,
                        Bell,
                        0.5,
                        (EPiano, ChordStyle::Sustain),
                    )
                    .with_sevenths()
                    .with_swing(0.15)
                    .with_bass(Bass, BassStyle::RootFifth)
                    .with_drums(DrumStyle::HalfTime),
                ),
            ],
        },
        DemoAlbum {
            title: "Small Hours",
            album_artist: "Marble & Moss",
            year: 2018,
            discs: 1,
            compilation: false,
            format: AudioFormat::Ogg,
            embed_cover: false,
            folder_art: FolderArt::FolderPng,
            art: ArtSpec {
                style: ArtStyle::Dots,
                hue_a: 90.0,
                hue_b: 45.0,
                size: 300,
            },
            tracks: vec![
                track(
                    "Kettle Song",
                    &[],
                    &["Folk", "Acoustic"],
                    song(
                        401,
                        104.0,
                        4,
                        67,
                        Major,
                        &[0, 3, 0, 4],
                        30.0,
                        Flute,
                        0.6,
                        (Pluck, ChordStyle::Strum),
                    )
                    .with_bass(UprightBass, BassStyle::RootFifth)
                    .with_drums(DrumStyle::Shaker),
                ),
                track(
                    "Bramble Lane",
                    &[],
                    &["Folk"],
                    song(
                        402,
                        138.0,
                        3,
                        74,
                        Mixolydian,
                        &[0, 0, 6, 3],
                        28.0,
                        Mandolin,
                        0.7,
                        (Pluck, ChordStyle::Arpeggio),
                    )
                    .with_bass(UprightBass, BassStyle::RootFifth),
                ),
                track(
                    "Winter Orchard",
                    &[],
                    &["Folk"],
                    song(
                        403,
                        80.0,
                        4,
                        64,
                        Minor,
                        &[0, 2, 3, 4],
                        28.0,
                        Accordion,
                        0.35,
                        (Pluck, ChordStyle::Arpeggio),
                    )
                    .with_bass(Bass, BassStyle::Root),
                ),
            ],
        },
        DemoAlbum {
            title: "Mixtape Sampler, Vol. 1",
            album_artist: "Various Artists",
            year: 2024,
            discs: 2,
            compilation: true,
            format: AudioFormat::M4a,
            embed_cover: true,
            folder_art: FolderArt::CoverJpg,
            art: ArtSpec {
                style: ArtStyle::Stripes,
                hue_a: 190.0,
                hue_b: 20.0,
                size: 300,
            },
            tracks: vec![
                track(
                    "Paper Cranes",
                    &["Kōji Tanaka"],
                    &["City Pop"],
                    song(
                        501,
                        114.0,
                        4,
                        70,
                        Major,
                        &[3, 4, 2, 5],
                        28.0,
                        Bell,
                        0.65,
                        (EPiano, ChordStyle::Comp),
                    )
                    .with_sevenths()
                    .with_bass(SynthBass, BassStyle::RootFifth)
                    .with_drums(DrumStyle::Rock),
                ),
                track(
                    "Aurora Drive",
                    &["Sigur Ósk", "Neon Harbor"],
                    &["Electronic", "Ambient"],
                    song(
                        502,
                        96.0,
                        4,
                        73,
                        Minor,
                        &[0, 5, 3, 4],
                        28.0,
                        SoftLead,
                        0.5,
                        (Pluck, ChordStyle::FastArpeggio),
                    )
                    .with_pad(Pad)
                    .with_bass(SynthBass, BassStyle::Root)
                    .with_drums(DrumStyle::FourOnTheFloor),
                ),
                DemoTrack {
                    disc: 2,
                    ..track(
                        "Campfire Waltz",
                        &["Marble & Moss"],
                        &["Folk"],
                        song(
                            503,
                            126.0,
                            3,
                            69,
                            Major,
                            &[0, 4, 0, 3, 0, 4, 4, 0],
                            28.0,
                            Flute,
                            0.6,
                            (Pluck, ChordStyle::Waltz),
                        )
                        .with_bass(UprightBass, BassStyle::Root)
                        .with_drums(DrumStyle::Waltz),
                    )
                },
                DemoTrack {
                    disc: 2,
                    ..track(
                        "Ballade für Anna",
                        &["Lumen Trio"],
                        &["Classical"],
                        song(
                            504,
                            63.0,
                            4,
                            72,
                            HarmonicMinor,
                            &[0, 3, 4, 0, 5, 1, 4, 4],
                            30.0,
                            Flute,
                            0.45,
                            (EPiano, ChordStyle::Arpeggio),
                        )
                        .with_bass(Bass, BassStyle::Root),
                    )
                },
            ],
        },
    ]
}

/// One file written by [`build_demo`].
#[derive(Debug, Clone)]
pub struct DemoFile {
    /// Path relative to the output directory.
    pub path: PathBuf,
    /// Format.
    pub format: AudioFormat,
    /// Tags written.
    pub tags: TrackTags,
    /// Duration as read back by lofty.
    pub duration_secs: f64,
    /// Size in bytes.
    pub bytes: u64,
    /// Whether a cover is embedded.
    pub embedded_cover: bool,
}

/// What [`build_demo`] produced.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    /// The audio files, in album/track order.
    pub files: Vec<DemoFile>,
    /// Folder art files, relative to the output directory.
    pub art_files: Vec<PathBuf>,
    /// Sidecar `.lrc` files, relative to the output directory.
    pub lyrics_files: Vec<PathBuf>,
    /// Total bytes written.
    pub total_bytes: u64,
}

impl DemoReport {
    /// A Markdown table of the library, for the README.
    pub fn markdown_table(&self) -> String {
        let mut s = String::from(
            "| Path | Format | Artists | Album | Genres | Duration |\n|---|---|---|---|---|---|\n",
        );
        for f in &self.files {
            let secs = f.duration_secs.round() as u64;
            s.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {}:{:02} |\n",
                f.path.display(),
                f.format.display_name(),
                f.tags.artists.join("; "),
                f.tags.album,
                f.tags.genres.join("; "),
                secs / 60,
                secs % 60
            ));
        }
        s
    }
}

/// Builds the demo library into `out` (existing files with the same names are overwritten).
///
/// `progress` is called with each file's relative path as it is finished.
pub fn build_demo(out: &Path, mut progress: impl FnMut(&Path)) -> Result<DemoReport> {
    SOX.require()?;
    FFMPEG.require()?;
    let work = out.join(".libgen-work");
    std::fs::create_dir_all(&work).map_err(Error::io("creating directory", &work))?;
    let result = build_into(out, &work, &mut progress);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn build_into(out: &Path, work: &Path, progress: &mut dyn FnMut(&Path)) -> Result<DemoReport> {
    let mut report = DemoReport::default();
    for album in demo_albums() {
        let dir_rel = PathBuf::from(sanitize_component(album.album_artist))
            .join(sanitize_component(album.title));
        let dir = out.join(&dir_rel);
        std::fs::create_dir_all(&dir).map_err(Error::io("creating directory", &dir))?;

        let image = art::render(&album.art);
        let cover_jpeg = art::encode_jpeg(&image, 85)?;
        let (art_name, art_bytes) = match album.folder_art {
            FolderArt::CoverJpg => ("cover.jpg", cover_jpeg.clone()),
            FolderArt::FolderPng => ("folder.png", art::encode_png(&image)?),
        };
        let art_path = dir.join(art_name);
        std::fs::write(&art_path, &art_bytes).map_err(Error::io("writing", &art_path))?;
        report.total_bytes += art_bytes.len() as u64;
        report.art_files.push(dir_rel.join(art_name));
        let embedded = album.embed_cover.then(|| CoverImage {
            data: cover_jpeg.clone(),
            jpeg: true,
        });

        for disc in 1..=album.discs {
            let disc_tracks: Vec<&DemoTrack> =
                album.tracks.iter().filter(|t| t.disc == disc).collect();
            let track_total = disc_tracks.len() as u32;
            for (index, t) in disc_tracks.into_iter().enumerate() {
                let number = index as u32 + 1;
                let prefix = if album.discs > 1 {
                    format!("{disc}-{number:02}")
                } else {
                    format!("{number:02}")
                };
                let file_name = format!(
                    "{prefix} - {}.{}",
                    sanitize_component(t.title),
                    album.format.extension()
                );
                let rel = dir_rel.join(&file_name);
                let path = out.join(&rel);
                let tags = TrackTags {
                    title: t.title.to_owned(),
                    artists: if t.artists.is_empty() {
                        vec![album.album_artist.to_owned()]
                    } else {
                        t.artists.iter().map(|s| (*s).to_owned()).collect()
                    },
                    album: album.title.to_owned(),
                    album_artists: vec![album.album_artist.to_owned()],
                    track_number: number,
                    track_total,
                    disc_number: disc,
                    disc_total: album.discs,
                    year: album.year,
                    genres: t.genres.iter().map(|s| (*s).to_owned()).collect(),
                    compilation: album.compilation,
                    comment: Some(
                        "Generated by mixtape-libgen for the Mixtape demo library (CC0 1.0)"
                            .to_owned(),
                    ),
                    lyrics: match &t.lyrics {
                        Some(DemoLyrics::Embedded(l)) => Some(l.clone()),
                        _ => None,
                    },
                };
                let (audio, expected_secs) = render_track(t, album.format, work)?;
                let bytes = tag_bytes(
                    album.format,
                    audio,
                    &tags,
                    embedded.as_ref(),
                    1024,
                    &rel.display().to_string(),
                )?;
                std::fs::write(&path, &bytes).map_err(Error::io("writing", &path))?;
                let back = read_back(&path)?;
                let duration_secs = back.duration_ms as f64 / 1000.0;
                if (duration_secs - expected_secs).abs() > 0.5 || back.tags != tags {
                    return Err(Error::Invalid(format!(
                        "{} reads back wrong: {duration_secs:.1} s (expected {expected_secs:.1} s), \
                         tags {:?}",
                        rel.display(),
                        back.tags
                    )));
                }
                report.total_bytes += bytes.len() as u64;
                if let Some(DemoLyrics::Sidecar(text)) = &t.lyrics {
                    let lrc = path.with_extension("lrc");
                    std::fs::write(&lrc, text).map_err(Error::io("writing", &lrc))?;
                    report.total_bytes += text.len() as u64;
                    report.lyrics_files.push(rel.with_extension("lrc"));
                }
                report.files.push(DemoFile {
                    path: rel.clone(),
                    format: album.format,
                    tags,
                    duration_secs,
                    bytes: bytes.len() as u64,
                    embedded_cover: embedded.is_some(),
                });
                progress(&rel);
            }
        }
    }
    Ok(report)
}

/// Synthesizes, finishes with sox and encodes one track; returns the untagged file bytes and
/// the expected duration in seconds.
fn render_track(t: &DemoTrack, format: AudioFormat, work: &Path) -> Result<(Vec<u8>, f64)> {
    let dry = work.join("dry.wav");
    let wet = work.join("wet.wav");
    let encoded = work.join(format!("encoded.{}", format.extension()));
    let mix = crate::compose::render(&t.song);
    std::fs::write(&dry, mix.to_wav()).map_err(Error::io("writing", &dry))?;

    // Room reverb with a tail, gentle fades, then loudness to -1 dBFS peak.
    let reverberance = match t.song.drums {
        None => "75",
        Some(_) => "40",
    };
    let mut args: Vec<String> = ["-q", "-D"].map(String::from).to_vec();
    args.push(dry.display().to_string());
    args.extend(["-b", "16"].map(String::from));
    args.push(wet.display().to_string());
    let effects = [
        "gain",
        "-4",
        "pad",
        "0",
        "1.5",
        "reverb",
        reverberance,
        "50",
        "90",
        "100",
        "8",
        "0",
        "fade",
        "q",
        "0.02",
        "-0",
        "2.5",
    ];
    args.extend(effects.map(String::from));
    if t.mono {
        // After the reverb, which always outputs stereo.
        args.extend(["remix", "-"].map(String::from));
    }
    args.extend(["gain", "-n", "-1"].map(String::from));
    SOX.run(&args)?;
    ffmpeg_encode(&wet, &encoded, format, EncodeQuality::Listening, &[])?;
    let bytes = std::fs::read(&encoded).map_err(Error::io("reading", &encoded))?;
    Ok((bytes, f64::from(mix.seconds()) + 1.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn demo_plan_meets_the_brief() {
        let albums = demo_albums();
        let tracks: Vec<_> = albums
            .iter()
            .flat_map(|a| a.tracks.iter().map(move |t| (a, t)))
            .collect();
        assert!((15..=20).contains(&tracks.len()));
        assert!(albums.len() >= 5);
        let artists: HashSet<&str> = tracks
            .iter()
            .flat_map(|(a, t)| {
                if t.artists.is_empty() {
                    vec![a.album_artist]
                } else {
                    t.artists.to_vec()
                }
            })
            .collect();
        assert!(artists.len() >= 4);
        for format in [
            AudioFormat::Mp3,
            AudioFormat::Flac,
            AudioFormat::Ogg,
            AudioFormat::Opus,
            AudioFormat::M4a,
        ] {
            assert!(
                tracks.iter().filter(|(a, _)| a.format == format).count() >= 2,
                "{format}"
            );
        }
        assert!(tracks.iter().any(|(_, t)| t.artists.len() > 1));
        assert!(tracks.iter().any(|(_, t)| t.genres.len() > 1));
        assert!(tracks.iter().any(|(_, t)| !t.title.is_ascii()));
        let seeds: HashSet<u64> = tracks.iter().map(|(_, t)| t.song.seed).collect();
        assert_eq!(seeds.len(), tracks.len());
        for (a, t) in &tracks {
            let secs = crate::compose::planned_seconds(&t.song);
            assert!((20.0..=40.0).contains(&secs), "{} lasts {secs} s", t.title);
            if a.format == AudioFormat::Flac {
                assert!(secs <= 24.0, "{} lasts {secs} s", t.title);
            }
            assert!(t.disc >= 1 && t.disc <= a.discs);
        }
        // Lyrics of every kind: a sidecar .lrc, embedded synced, embedded plain.
        let lyrics: Vec<_> = tracks
            .iter()
            .filter_map(|(a, t)| Some((a.format, t.lyrics.as_ref()?)))
            .collect();
        assert!(
            lyrics
                .iter()
                .any(|(_, l)| matches!(l, DemoLyrics::Sidecar(_)))
        );
        assert!(lyrics.iter().any(|(f, l)| *f == AudioFormat::Mp3
            && matches!(
                l,
                DemoLyrics::Embedded(crate::tags::TagLyrics::Synced { .. })
            )));
        assert!(
            lyrics
                .iter()
                .any(|(_, l)| matches!(l, DemoLyrics::Embedded(crate::tags::TagLyrics::Plain(_))))
        );
    }
}
