//! Lyrics of some demo tracks, one of each kind a library holds: a sidecar `.lrc` (header tags,
//! an offset, a line with two stamps, a break), synced lyrics embedded as ID3 SYLT and as LRC
//! text in a Vorbis comment, and plain lyrics in FLAC and M4A tags. Written for this library
//! (CC0 1.0), like its music.

use crate::tags::TagLyrics;

/// Where a track's lyrics go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoLyrics {
    /// A `.lrc` file beside the audio file, with this text.
    Sidecar(&'static str),
    /// In the tag.
    Embedded(TagLyrics),
}

const SHIBUYA_RAIN: &str = "[ti:Shibuya Rain]
[ar:Neon Harbor]
[la:eng]
[offset:+200]
[00:02.20]Neon on the wet street
[00:06.20]渋谷の雨が降る
[00:10.20][00:26.20]Umbrellas bloom like city lights
[00:14.20]Trains hum under my feet
[00:18.20]夜はまだ始まったばかり
[00:22.20]
[00:30.20]Hold the night a little longer
";

fn synced(lang: &[u8; 3], lines: &[(u32, &str)]) -> DemoLyrics {
    DemoLyrics::Embedded(TagLyrics::Synced {
        lang: *lang,
        lines: lines.iter().map(|(ms, t)| (*ms, (*t).to_owned())).collect(),
    })
}

/// The lyrics of the demo track titled `title`, if it has some.
pub fn demo_lyrics(title: &str) -> Option<DemoLyrics> {
    Some(match title {
        "Shibuya Rain" => DemoLyrics::Sidecar(SHIBUYA_RAIN),
        "Rue de la Lune" => synced(
            b"fra",
            &[
                (1_500, "Sous la lune de la rue"),
                (6_000, "Les pavés chantent doucement"),
                (11_000, "Un café, deux silhouettes"),
                (16_000, "Et la nuit qui nous attend"),
                (22_000, "La la la, rue de la Lune"),
            ],
        ),
        "Kettle Song" => synced(
            b"eng",
            &[
                (1_000, "The kettle sings at half past six"),
                (7_000, "Steam on the window, frost on the sticks"),
                (13_000, "Pour me a cup and stay a while"),
                (20_000, "Morning is kinder when you smile"),
            ],
        ),
        "Hafið" => DemoLyrics::Embedded(TagLyrics::Plain(
            "Waves fold over the black sand\nThe sea keeps its own time\n\n\
             Light on the water, slow and wide\nNorth wind carries the tide"
                .to_owned(),
        )),
        "Campfire Waltz" => DemoLyrics::Embedded(TagLyrics::Plain(
            "One, two, three, the embers turn\nSparks go up where the pine logs burn\n\n\
             Dance with me by the fire's glow\nOne, two, three, and round we go"
                .to_owned(),
        )),
        _ => return None,
    })
}
