//! Writes real files and reads them back with lofty. Needs ffmpeg on PATH (CI installs it);
//! without it the tests print why and return.

use std::collections::HashMap;

use mixtape_libgen::bench::{self, BenchConfig};
use mixtape_libgen::tags::{CoverImage, TagLyrics, tag_bytes};
use mixtape_libgen::{AudioFormat, TrackTags, read_back};

fn have_ffmpeg(test: &str) -> bool {
    if mixtape_libgen::tools::FFMPEG.find().is_some() {
        return true;
    }
    eprintln!("SKIPPING {test}: ffmpeg is not on PATH (apt-get install ffmpeg)");
    false
}

#[test]
fn bench_files_read_back_with_their_tags() {
    if !have_ffmpeg("bench_files_read_back_with_their_tags") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = BenchConfig {
        count: 20,
        seed: 11,
        formats: AudioFormat::ALL.to_vec(),
        names: mixtape_libgen::NameModel::Syllables,
    };
    let report = bench::generate_bench(dir.path(), &config, &|_| {}).unwrap();
    assert_eq!(report.files, 20);

    let plan = bench::plan(&config);
    let mut hashes = std::collections::HashSet::new();
    for album in &plan.albums {
        assert_eq!(
            dir.path().join(&album.dir).join("cover.jpg").exists(),
            album.folder_art
        );
        for track in &album.tracks {
            let path = dir.path().join(&track.path);
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                hashes.insert(bytes),
                "{} duplicates another file",
                path.display()
            );
            let back = read_back(&path).unwrap();
            assert_eq!(back.tags, track.tags, "{}", path.display());
            assert_eq!(
                back.pictures,
                usize::from(album.embedded_art),
                "{}",
                path.display()
            );
            assert!(
                (900..=1200).contains(&back.duration_ms),
                "{} lasts {} ms",
                path.display(),
                back.duration_ms
            );
        }
    }
}

#[test]
fn every_format_keeps_multiple_values_and_unicode() {
    if !have_ffmpeg("every_format_keeps_multiple_values_and_unicode") {
        return;
    }
    let templates: HashMap<AudioFormat, Vec<u8>> =
        bench::make_templates(&AudioFormat::ALL).unwrap();
    let tags = TrackTags {
        title: "東京 Nights — Café Ósk".into(),
        artists: vec![
            "Sigur Ósk".into(),
            "Neon Harbor".into(),
            "Kōji Tanaka".into(),
        ],
        album: "Mixtape Sampler, Vol. 1".into(),
        album_artists: vec!["Various Artists".into()],
        track_number: 3,
        track_total: 12,
        disc_number: 2,
        disc_total: 2,
        year: 2024,
        genres: vec!["Electronic".into(), "Ambient".into()],
        compilation: true,
        comment: Some("round trip".into()),
        lyrics: None,
    };
    let cover = CoverImage {
        data: mixtape_libgen::art::encode_jpeg(
            &mixtape_libgen::art::render(&mixtape_libgen::art::ArtSpec {
                style: mixtape_libgen::art::ArtStyle::Rings,
                hue_a: 10.0,
                hue_b: 200.0,
                size: 32,
            }),
            70,
        )
        .unwrap(),
        jpeg: true,
    };
    let dir = tempfile::tempdir().unwrap();
    for format in AudioFormat::ALL {
        let bytes = tag_bytes(
            format,
            templates[&format].clone(),
            &tags,
            Some(&cover),
            0,
            "test",
        )
        .unwrap();
        for _ in 0..3 {
            let again = tag_bytes(
                format,
                templates[&format].clone(),
                &tags,
                Some(&cover),
                0,
                "test",
            );
            assert_eq!(
                again.unwrap(),
                bytes,
                "{format}: tagging is not reproducible"
            );
        }
        let path = dir.path().join(format!("t.{}", format.extension()));
        std::fs::write(&path, bytes).unwrap();
        let back = read_back(&path).unwrap();
        assert_eq!(back.tags, tags, "{format}");
        assert_eq!(back.pictures, 1, "{format}");
        // Lyrics of both kinds come back as written, in every format.
        for lyrics in [
            TagLyrics::Plain("第一行\n\nsecond verse".into()),
            TagLyrics::Synced {
                lang: *b"jpn",
                lines: vec![(1_500, "雨の渋谷".into()), (62_340, "neon".into())],
            },
        ] {
            let with = TrackTags {
                lyrics: Some(lyrics.clone()),
                ..tags.clone()
            };
            let bytes =
                tag_bytes(format, templates[&format].clone(), &with, None, 0, "test").unwrap();
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(
                read_back(&path).unwrap().tags.lyrics,
                Some(lyrics),
                "{format}"
            );
        }
    }
}
