//! The second name model of the benchmark library, shaped unlike the first: artists with short
//! made-up names of two or three syllables ("Venra Shilo", "Anka"), and long titles of many
//! words drawn from one small vocabulary, so that most titles share words with thousands of
//! others. A search benchmark on this shape cannot lean on rare words.

use rand::Rng;
use rand::seq::IndexedRandom;

const ONSETS: &[&str] = &[
    "", "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "th",
    "br", "kr", "tr", "st",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ei"];
const CODAS: &[&str] = &["", "", "", "n", "r", "l", "s", "k", "m"];
const ACCENTED: &[(&str, &str)] = &[("a", "á"), ("e", "é"), ("i", "í"), ("o", "ö"), ("u", "ü")];

/// Everyday title words: few of them, used over and over.
const TITLE_WORDS: &[&str] = &[
    "love",
    "night",
    "heart",
    "home",
    "time",
    "light",
    "dream",
    "fire",
    "rain",
    "road",
    "sky",
    "sun",
    "moon",
    "star",
    "river",
    "sea",
    "city",
    "girl",
    "boy",
    "baby",
    "world",
    "day",
    "way",
    "life",
    "eyes",
    "hands",
    "soul",
    "blue",
    "red",
    "gold",
    "black",
    "white",
    "cold",
    "hot",
    "wild",
    "slow",
    "fast",
    "long",
    "lost",
    "found",
    "gone",
    "still",
    "again",
    "tonight",
    "forever",
    "never",
    "always",
    "only",
    "every",
    "little",
    "big",
    "sweet",
    "bitter",
    "dark",
    "bright",
    "young",
    "old",
    "last",
    "first",
    "back",
    "down",
    "up",
    "over",
    "under",
    "away",
    "around",
    "through",
    "into",
    "with",
    "without",
    "you",
    "me",
    "we",
    "us",
    "my",
    "your",
    "our",
    "all",
    "one",
    "two",
    "three",
    "hundred",
    "thousand",
    "miles",
    "years",
    "summer",
    "winter",
    "autumn",
    "spring",
    "morning",
    "evening",
    "midnight",
    "dance",
    "run",
    "fall",
    "fly",
    "burn",
    "shine",
    "hold",
    "call",
    "wait",
    "come",
    "stay",
    "leave",
    "remember",
    "forget",
    "believe",
    "know",
    "feel",
    "want",
    "need",
    "give",
    "take",
    "tell",
    "say",
    "song",
    "words",
    "story",
    "secret",
    "promise",
    "letter",
    "window",
    "door",
    "street",
    "train",
    "highway",
    "ocean",
    "mountain",
    "garden",
    "fields",
    "wind",
    "storm",
    "thunder",
    "shadow",
    "mirror",
    "echo",
    "silence",
    "voice",
    "radio",
    "television",
    "photograph",
    "memory",
    "yesterday",
    "tomorrow",
    "somewhere",
    "nowhere",
    "everything",
    "nothing",
    "aurora",
    "drive",
    "avenue",
    "boulevard",
    "station",
    "harbour",
    "paradise",
    "heaven",
];
const GLUE: &[&str] = &[
    "the", "of", "in", "on", "and", "to", "a", "for", "at", "from",
];

fn pick<'a, R: Rng + ?Sized>(rng: &mut R, list: &'a [&'a str]) -> &'a str {
    list.choose(rng).copied().unwrap_or("la")
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One made-up word of `syllables` syllables, capitalized; `accent` puts an accent on a vowel.
fn made_up<R: Rng + ?Sized>(rng: &mut R, syllables: usize, accent: bool) -> String {
    let mut word = String::new();
    for i in 0..syllables {
        let onset = pick(rng, ONSETS);
        // A vowel-initial word is fine; a vowel-initial inner syllable runs vowels together.
        word.push_str(if i > 0 && onset.is_empty() {
            "l"
        } else {
            onset
        });
        word.push_str(pick(rng, VOWELS));
        if i + 1 == syllables || rng.random_bool(0.3) {
            word.push_str(pick(rng, CODAS));
        }
    }
    if accent {
        let present: Vec<&(&str, &str)> = ACCENTED
            .iter()
            .filter(|(plain, _)| word.contains(plain))
            .collect();
        if let Some((plain, marked)) = present.choose(rng) {
            word = word.replacen(plain, marked, 1);
        }
    }
    capitalized(&word)
}

/// A person or band: one or two made-up words of two or three syllables.
pub(crate) fn artist_name<R: Rng + ?Sized>(rng: &mut R, unicode: bool) -> String {
    let syllables = rng.random_range(2..=3);
    let first = made_up(rng, syllables, unicode);
    if rng.random_bool(0.3) {
        first
    } else {
        let syllables = rng.random_range(2..=3);
        format!("{first} {}", made_up(rng, syllables, false))
    }
}

/// Four to nine words, mostly everyday ones, the odd made-up word among them.
fn long_title<R: Rng + ?Sized>(rng: &mut R, unicode: bool, min: usize, max: usize) -> String {
    let n = rng.random_range(min..=max);
    let mut words: Vec<String> = Vec::with_capacity(n);
    for i in 0..n {
        let word = match rng.random_range(0..10) {
            0 => made_up(rng, 2, unicode && i == 0),
            1..=2 if i > 0 => pick(rng, GLUE).to_owned(),
            _ => pick(rng, TITLE_WORDS).to_owned(),
        };
        words.push(if i == 0 { capitalized(&word) } else { word });
    }
    words.join(" ")
}

/// An album title: two to five words.
pub(crate) fn album_title<R: Rng + ?Sized>(rng: &mut R, unicode: bool) -> String {
    long_title(rng, unicode, 2, 5)
}

/// A track title: four to nine words.
pub(crate) fn track_title<R: Rng + ?Sized>(rng: &mut R, unicode: bool) -> String {
    long_title(rng, unicode, 4, 9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::HashMap;

    #[test]
    fn titles_are_long_and_share_their_words() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let titles: Vec<String> = (0..2000).map(|_| track_title(&mut rng, false)).collect();
        let words: usize = titles.iter().map(|t| t.split(' ').count()).sum();
        assert!(words >= 2000 * 5, "{words} words in 2000 titles");
        let mut uses: HashMap<String, usize> = HashMap::new();
        for t in &titles {
            for w in t.split(' ') {
                *uses.entry(w.to_lowercase()).or_default() += 1;
            }
        }
        let shared = uses.values().filter(|n| **n >= 20).count();
        assert!(shared >= 100, "{shared} words in 20+ titles");
    }

    #[test]
    fn artists_have_short_made_up_names() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..500 {
            let name = artist_name(&mut rng, false);
            assert!((1..=2).contains(&name.split(' ').count()), "{name}");
            assert!(
                name.split(' ').all(|w| (2..=15).contains(&w.len())),
                "{name}"
            );
            assert!(!TITLE_WORDS.contains(&name.to_lowercase().as_str()));
        }
        let accented = (0..200)
            .map(|_| artist_name(&mut rng, true))
            .filter(|n| !n.is_ascii())
            .count();
        assert!(accented > 150, "{accented} of 200 accented");
    }
}
