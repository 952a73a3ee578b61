//! The benchmark library: many small, fully tagged files in mixed formats, written fast.
//!
//! A [`BenchPlan`] (names, tags, paths) is computed from the seed alone, then
//! [`write_bench`] tags a copy of one tiny template file per format for every track, in
//! parallel.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::art::{self, ArtSpec, ArtStyle};
use crate::error::{Error, Result};
use crate::format::{AudioFormat, EncodeQuality};
use crate::names::{self, sanitize_component};
use crate::syllables;
use crate::synth::template_tone;
use crate::tags::{CoverImage, TrackTags, tag_bytes};
use crate::tools::{FFMPEG, ffmpeg_encode};

/// Share of tracks with several artists.
pub const MULTI_ARTIST_RATE: f64 = 0.10;
/// Share of tracks with several genres.
pub const MULTI_GENRE_RATE: f64 = 0.10;
/// Share of names (artists, albums, titles) with accents or non-Latin scripts.
pub const UNICODE_RATE: f64 = 0.10;
/// Share of albums that are "Various Artists" compilations.
pub const COMPILATION_RATE: f64 = 0.04;
/// Share of albums whose files embed the cover.
pub const EMBEDDED_ART_RATE: f64 = 0.25;
/// Share of albums with a `cover.jpg` in the folder.
pub const FOLDER_ART_RATE: f64 = 0.5;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchConfig {
    /// Number of audio files.
    pub count: usize,
    /// Seed; the same seed gives the same library.
    pub seed: u64,
    /// Formats to mix, chosen per album.
    pub formats: Vec<AudioFormat>,
    /// How artists, albums and tracks are named.
    pub names: NameModel,
}

/// The shape of the names in a library: two, so that a benchmark runs on more than one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NameModel {
    /// English word lists: "The Velvet Harbors", "Chasing the Lantern".
    #[default]
    Words,
    /// Short made-up artist names ("Venra Shilo") and long titles of a few shared words
    /// ("Never the Night Again in My Summer City"): see `syllables`.
    Syllables,
}

impl NameModel {
    /// The names the command line takes.
    pub const NAMES: &'static str = "words, syllables";

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "words" => Some(Self::Words),
            "syllables" => Some(Self::Syllables),
            _ => None,
        }
    }

    fn artist(self, rng: &mut ChaCha8Rng, unicode: bool) -> String {
        match self {
            Self::Words => names::artist_name(rng, unicode),
            Self::Syllables => syllables::artist_name(rng, unicode),
        }
    }

    fn album(self, rng: &mut ChaCha8Rng, unicode: bool) -> String {
        match self {
            Self::Words => names::album_title(rng, unicode),
            Self::Syllables => syllables::album_title(rng, unicode),
        }
    }

    fn track(self, rng: &mut ChaCha8Rng, unicode: bool) -> String {
        match self {
            Self::Words => names::track_title(rng, unicode),
            Self::Syllables => syllables::track_title(rng, unicode),
        }
    }
}

/// One album of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct AlbumPlan {
    /// Folder relative to the output directory: `Album Artist/Album`.
    pub dir: PathBuf,
    /// Album title.
    pub title: String,
    /// Album artist.
    pub album_artist: String,
    /// Format of the album's files.
    pub format: AudioFormat,
    /// Embed a cover in each file.
    pub embedded_art: bool,
    /// Write `cover.jpg` into the folder.
    pub folder_art: bool,
    /// Cover design.
    pub art: ArtSpec,
    /// The album's tracks.
    pub tracks: Vec<TrackPlan>,
}

/// One file of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackPlan {
    /// Path relative to the output directory.
    pub path: PathBuf,
    /// Tags to write.
    pub tags: TrackTags,
}

/// The whole library, deterministic from [`BenchConfig`].
#[derive(Debug, Clone, PartialEq)]
pub struct BenchPlan {
    /// Distinct artist names.
    pub artists: Vec<String>,
    /// Albums with their tracks.
    pub albums: Vec<AlbumPlan>,
}

impl BenchPlan {
    /// All tracks, album by album.
    pub fn tracks(&self) -> impl Iterator<Item = &TrackPlan> {
        self.albums.iter().flat_map(|a| a.tracks.iter())
    }

    /// Number of tracks.
    pub fn track_count(&self) -> usize {
        self.albums.iter().map(|a| a.tracks.len()).sum()
    }
}

fn unique(
    rng: &mut ChaCha8Rng,
    taken: &mut HashSet<String>,
    mut make: impl FnMut(&mut ChaCha8Rng) -> String,
) -> String {
    for _ in 0..20 {
        let name = make(rng);
        if taken.insert(name.clone()) {
            return name;
        }
    }
    let base = make(rng);
    (2..)
        .map(|n| format!("{base} {n}"))
        .find(|name| taken.insert(name.clone()))
        .expect("an unused name exists")
}

/// Computes the plan. Pure: no I/O.
pub fn plan(config: &BenchConfig) -> BenchPlan {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let count = config.count;
    let formats = if config.formats.is_empty() {
        AudioFormat::ALL.to_vec()
    } else {
        config.formats.clone()
    };

    let artist_count = (count / 20).max(1);
    let mut taken = HashSet::new();
    let artists: Vec<String> = (0..artist_count)
        .map(|_| {
            let unicode = rng.random_bool(UNICODE_RATE);
            unique(&mut rng, &mut taken, |r| config.names.artist(r, unicode))
        })
        .collect();
    let mut folder_names: HashMap<String, usize> = HashMap::new();
    let mut albums_per_artist: HashMap<String, HashSet<String>> = HashMap::new();

    let mut albums = Vec::new();
    let mut remaining = count;
    let mut album_index = 0usize;
    while remaining > 0 {
        // ~10 tracks per album on average, so about count/10 albums.
        let size = rng.random_range(5..=15).min(remaining);
        remaining -= size;
        let compilation = rng.random_bool(COMPILATION_RATE);
        // Walk the artist list first so every artist gets an album, then pick at random.
        let album_artist = if compilation {
            "Various Artists".to_owned()
        } else if album_index < artists.len() {
            artists[album_index].clone()
        } else {
            artists
                .choose(&mut rng)
                .expect("at least one artist")
                .clone()
        };
        album_index += 1;
        let taken_titles = albums_per_artist.entry(album_artist.clone()).or_default();
        let album_title = {
            let unicode = rng.random_bool(UNICODE_RATE);
            unique(&mut rng, taken_titles, |r| config.names.album(r, unicode))
        };
        let year = rng.random_range(1958..=2025);
        let format = *formats.choose(&mut rng).expect("at least one format");
        let discs = if size >= 10 && rng.random_bool(0.08) {
            2
        } else {
            1
        };
        let album_genre = names::genre(&mut rng).to_owned();

        // Folder names must be unique even if two artists sanitize to the same string.
        let artist_dir = sanitize_component(&album_artist);
        let mut dir = PathBuf::from(&artist_dir).join(sanitize_component(&album_title));
        let key = dir.to_string_lossy().to_lowercase();
        let seen = folder_names.entry(key).or_insert(0);
        *seen += 1;
        if *seen > 1 {
            dir = PathBuf::from(&artist_dir)
                .join(format!("{} ({seen})", sanitize_component(&album_title)));
        }

        let per_disc = size.div_ceil(discs);
        let mut tracks = Vec::with_capacity(size);
        for i in 0..size {
            let disc = (i / per_disc) as u32 + 1;
            let number = (i % per_disc) as u32 + 1;
            let on_disc = if disc as usize == discs {
                size - per_disc * (discs - 1)
            } else {
                per_disc
            };
            let unicode = rng.random_bool(UNICODE_RATE);
            let title = config.names.track(&mut rng, unicode);
            let main_artist = if compilation {
                artists
                    .choose(&mut rng)
                    .expect("at least one artist")
                    .clone()
            } else {
                album_artist.clone()
            };
            let mut track_artists = vec![main_artist];
            if rng.random_bool(MULTI_ARTIST_RATE) {
                let extra = if rng.random_bool(0.2) { 2 } else { 1 };
                for _ in 0..extra {
                    // Pick a different artist (or invent a guest when there is only one).
                    let guest = (0..8)
                        .map(|_| {
                            artists
                                .choose(&mut rng)
                                .expect("at least one artist")
                                .clone()
                        })
                        .find(|a| !track_artists.contains(a))
                        .unwrap_or_else(|| {
                            format!("{} (guest)", config.names.artist(&mut rng, false))
                        });
                    track_artists.push(guest);
                }
            }
            let mut genres = vec![album_genre.clone()];
            if rng.random_bool(MULTI_GENRE_RATE) {
                let second = (0..8)
                    .map(|_| names::genre(&mut rng).to_owned())
                    .find(|g| *g != album_genre)
                    .unwrap_or_else(|| "Experimental".to_owned());
                genres.push(second);
            }
            let prefix = if discs > 1 {
                format!("{disc}-{number:02}")
            } else {
                format!("{number:02}")
            };
            let file = format!(
                "{prefix} - {}.{}",
                sanitize_component(&title),
                format.extension()
            );
            let global_index = count - remaining - size + i;
            tracks.push(TrackPlan {
                path: dir.join(file),
                tags: TrackTags {
                    title,
                    artists: track_artists,
                    album: album_title.clone(),
                    album_artists: vec![album_artist.clone()],
                    track_number: number,
                    track_total: on_disc as u32,
                    disc_number: disc,
                    disc_total: discs as u32,
                    year,
                    genres,
                    compilation,
                    comment: Some(format!(
                        "mixtape-libgen bench seed {} #{global_index}",
                        config.seed
                    )),
                    lyrics: None,
                },
            });
        }
        albums.push(AlbumPlan {
            dir,
            title: album_title,
            album_artist,
            format,
            embedded_art: rng.random_bool(EMBEDDED_ART_RATE),
            folder_art: rng.random_bool(FOLDER_ART_RATE),
            art: ArtSpec {
                style: *ArtStyle::ALL.choose(&mut rng).expect("non-empty"),
                hue_a: rng.random_range(0.0..360.0),
                hue_b: rng.random_range(0.0..360.0),
                size: 96,
            },
            tracks,
        });
    }
    BenchPlan { artists, albums }
}

/// Seconds of audio in every benchmark file.
pub const TEMPLATE_SECONDS: f32 = 1.0;
const TEMPLATE_RATE: u32 = 22_050;

/// Makes one untagged ~1 s file per format (ffmpeg for the compressed ones), in memory.
pub fn make_templates(formats: &[AudioFormat]) -> Result<HashMap<AudioFormat, Vec<u8>>> {
    let wav = template_tone(TEMPLATE_SECONDS, TEMPLATE_RATE);
    let mut out = HashMap::new();
    if formats.iter().any(|f| *f != AudioFormat::Wav) {
        FFMPEG.require()?;
    }
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let work = std::env::temp_dir().join(format!(
        "mixtape-libgen-{}-{}",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&work).map_err(Error::io("creating directory", &work))?;
    let result = (|| {
        let input = work.join("template.wav");
        std::fs::write(&input, &wav).map_err(Error::io("writing", &input))?;
        for &format in formats {
            if format == AudioFormat::Wav {
                out.insert(format, wav.clone());
                continue;
            }
            let path = work.join(format!("template.{}", format.extension()));
            ffmpeg_encode(&input, &path, format, EncodeQuality::Small, &[])?;
            let bytes = std::fs::read(&path).map_err(Error::io("reading", &path))?;
            out.insert(format, bytes);
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| out)
}

/// What [`write_bench`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchReport {
    /// Audio files written.
    pub files: usize,
    /// Albums (folders) written.
    pub albums: usize,
    /// Distinct artists in the plan.
    pub artists: usize,
    /// `cover.jpg` files written.
    pub folder_art: usize,
    /// Total bytes written (audio and art).
    pub bytes: u64,
    /// Files per format.
    pub per_format: Vec<(AudioFormat, usize)>,
}

/// Writes the plan under `out` using `templates` (from [`make_templates`]).
///
/// `progress` is called (from worker threads) with the number of files written so far, after
/// each album.
pub fn write_bench(
    out: &Path,
    plan: &BenchPlan,
    templates: &HashMap<AudioFormat, Vec<u8>>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<BenchReport> {
    let files = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let art_files = AtomicU64::new(0);
    plan.albums.par_iter().try_for_each(|album| -> Result<()> {
        let template = templates
            .get(&album.format)
            .ok_or_else(|| Error::Invalid(format!("no template for format {}", album.format)))?;
        let dir = out.join(&album.dir);
        std::fs::create_dir_all(&dir).map_err(Error::io("creating directory", &dir))?;
        let cover = if album.embedded_art || album.folder_art {
            Some(art::encode_jpeg(&art::render(&album.art), 75)?)
        } else {
            None
        };
        if album.folder_art
            && let Some(jpeg) = &cover
        {
            let path = dir.join("cover.jpg");
            std::fs::write(&path, jpeg).map_err(Error::io("writing", &path))?;
            bytes.fetch_add(jpeg.len() as u64, Ordering::Relaxed);
            art_files.fetch_add(1, Ordering::Relaxed);
        }
        let embedded = if album.embedded_art {
            cover.map(|data| CoverImage { data, jpeg: true })
        } else {
            None
        };
        for track in &album.tracks {
            let path = out.join(&track.path);
            let tagged = tag_bytes(
                album.format,
                template.clone(),
                &track.tags,
                embedded.as_ref(),
                0,
                &track.path.display().to_string(),
            )?;
            std::fs::write(&path, &tagged).map_err(Error::io("writing", &path))?;
            bytes.fetch_add(tagged.len() as u64, Ordering::Relaxed);
        }
        let done = files.fetch_add(album.tracks.len() as u64, Ordering::Relaxed)
            + album.tracks.len() as u64;
        progress(done as usize);
        Ok(())
    })?;

    let mut per_format: Vec<(AudioFormat, usize)> = Vec::new();
    for album in &plan.albums {
        match per_format.iter_mut().find(|(f, _)| *f == album.format) {
            Some((_, n)) => *n += album.tracks.len(),
            None => per_format.push((album.format, album.tracks.len())),
        }
    }
    per_format.sort();
    Ok(BenchReport {
        files: files.into_inner() as usize,
        albums: plan.albums.len(),
        artists: plan.artists.len(),
        folder_art: art_files.into_inner() as usize,
        bytes: bytes.into_inner(),
        per_format,
    })
}

/// [`plan`], [`make_templates`] and [`write_bench`] in one call.
pub fn generate_bench(
    out: &Path,
    config: &BenchConfig,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<BenchReport> {
    if config.count == 0 {
        return Err(Error::Invalid("--count must be at least 1".into()));
    }
    let plan = plan(config);
    let templates = make_templates(&config.formats)?;
    std::fs::create_dir_all(out).map_err(Error::io("creating directory", out))?;
    write_bench(out, &plan, &templates, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(count: usize, seed: u64) -> BenchConfig {
        BenchConfig {
            count,
            seed,
            formats: AudioFormat::ALL.to_vec(),
            names: NameModel::Words,
        }
    }

    #[test]
    fn same_seed_same_plan() {
        assert_eq!(plan(&config(500, 7)), plan(&config(500, 7)));
        assert_ne!(plan(&config(500, 7)), plan(&config(500, 8)));
    }

    #[test]
    fn plan_has_the_requested_shape() {
        let n = 4000;
        let p = plan(&config(n, 42));
        assert_eq!(p.track_count(), n);
        assert_eq!(p.artists.len(), n / 20);
        let distinct: HashSet<&String> = p.artists.iter().collect();
        assert_eq!(distinct.len(), p.artists.len(), "artist names are distinct");
        // About n/10 albums.
        assert!(
            (n / 14..=n / 7).contains(&p.albums.len()),
            "{} albums",
            p.albums.len()
        );

        let paths: HashSet<String> = p
            .tracks()
            .map(|t| t.path.to_string_lossy().to_lowercase())
            .collect();
        assert_eq!(paths.len(), n, "paths are distinct, even ignoring case");
        let comments: HashSet<&Option<String>> = p.tracks().map(|t| &t.tags.comment).collect();
        assert_eq!(comments.len(), n, "every file gets distinct tag bytes");

        let rate =
            |f: &dyn Fn(&TrackPlan) -> bool| p.tracks().filter(|t| f(t)).count() as f64 / n as f64;
        let multi_artist = rate(&|t| t.tags.artists.len() > 1);
        let multi_genre = rate(&|t| t.tags.genres.len() > 1);
        let unicode_title = rate(&|t| !t.tags.title.is_ascii());
        assert!(
            (0.07..=0.13).contains(&multi_artist),
            "multi-artist {multi_artist}"
        );
        assert!(
            (0.07..=0.13).contains(&multi_genre),
            "multi-genre {multi_genre}"
        );
        assert!(
            (0.07..=0.13).contains(&unicode_title),
            "unicode titles {unicode_title}"
        );
        assert!(p.artists.iter().any(|a| !a.is_ascii()));
        assert!(p.albums.iter().any(|a| !a.title.is_ascii()));
        assert!(p.albums.iter().any(|a| a.tracks[0].tags.compilation));
        assert!(p.albums.iter().any(|a| a.tracks[0].tags.disc_total == 2));

        for album in &p.albums {
            assert!(!album.tracks.is_empty());
            for t in &album.tracks {
                let tags = &t.tags;
                assert!(!tags.title.is_empty() && !tags.album.is_empty());
                assert!(tags.track_number >= 1 && tags.track_number <= tags.track_total);
                assert!(tags.disc_number >= 1 && tags.disc_number <= tags.disc_total);
                assert!((1958..=2025).contains(&tags.year));
                assert_eq!(tags.album_artists, vec![album.album_artist.clone()]);
                let unique_artists: HashSet<&String> = tags.artists.iter().collect();
                assert_eq!(unique_artists.len(), tags.artists.len());
                assert!(t.path.starts_with(&album.dir));
                assert_eq!(
                    t.path.extension().and_then(|e| e.to_str()),
                    Some(album.format.extension())
                );
            }
            // Track numbers per disc are 1..=total without gaps.
            for disc in 1..=album.tracks[0].tags.disc_total {
                let numbers: Vec<u32> = album
                    .tracks
                    .iter()
                    .filter(|t| t.tags.disc_number == disc)
                    .map(|t| t.tags.track_number)
                    .collect();
                assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>());
            }
        }
        for format in AudioFormat::ALL {
            assert!(
                p.albums.iter().any(|a| a.format == format),
                "{format} is used"
            );
        }
    }

    #[test]
    fn respects_the_format_list_and_small_counts() {
        let p = plan(&BenchConfig {
            count: 3,
            seed: 1,
            formats: vec![AudioFormat::Flac],
            names: NameModel::Words,
        });
        assert_eq!(p.track_count(), 3);
        assert_eq!(p.artists.len(), 1);
        assert!(p.albums.iter().all(|a| a.format == AudioFormat::Flac));
    }
}
