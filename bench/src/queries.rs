//! Search queries as people type them, drawn from a library's own tags, each with what the
//! person meant, so a benchmark can say whether the search found it.
//!
//! Classes: whole titles, whole artist names, one to three words of a title or artist name,
//! every prefix of three letters or more of such words (search as you type), a typo (a
//! dropped, doubled, swapped or wrong letter) in one word, and two words run together
//! ("auroradrive"). Any query may come in mixed case or without its accents.

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// What a track offers to be searched by.
#[derive(Debug, Clone, PartialEq)]
pub struct Tags {
    pub title: String,
    pub artists: Vec<String>,
    pub album: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Title,
    Artist,
    Words,
    Prefix,
    Typo,
    RunTogether,
}

impl Class {
    pub const ALL: [Class; 6] = [
        Class::Title,
        Class::Artist,
        Class::Words,
        Class::Prefix,
        Class::Typo,
        Class::RunTogether,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Title => "whole title",
            Class::Artist => "whole artist",
            Class::Words => "1-3 words",
            Class::Prefix => "prefix as typed",
            Class::Typo => "typo",
            Class::RunTogether => "words run together",
        }
    }
}

/// What the person was looking for: a track whose title (or one of whose artists) holds these
/// words in a row, the last one perhaps only begun; `whole`: the field is exactly these words.
#[derive(Debug, Clone, PartialEq)]
pub struct Meant {
    pub in_artist: bool,
    pub words: Vec<String>,
    pub last_begun: bool,
    pub whole: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub class: Class,
    pub text: String,
    pub meant: Meant,
}

/// Lower case, no accents, no punctuation: how the words of a field and of a query compare.
pub fn plain_words(text: &str) -> Vec<String> {
    let folded: String = text
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase();
    folded
        .split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

impl Meant {
    /// Whether a track with these tags is what was meant.
    pub fn is(&self, tags: &Tags) -> bool {
        let fields: Vec<&str> = if self.in_artist {
            tags.artists.iter().map(String::as_str).collect()
        } else {
            vec![tags.title.as_str()]
        };
        fields.iter().any(|f| {
            let have = plain_words(f);
            if self.whole {
                return have == self.words;
            }
            let n = self.words.len();
            have.windows(n).any(|w| {
                w.iter().zip(&self.words).enumerate().all(|(i, (h, m))| {
                    if i + 1 == n && self.last_begun {
                        h.starts_with(m.as_str())
                    } else {
                        h == m
                    }
                })
            })
        })
    }
}

/// Words of a field as typed: punctuation left out ("Don't" → "Dont"), case kept.
fn typed_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn without_accents(text: &str) -> String {
    text.nfkd().filter(|c| !is_combining_mark(*c)).collect()
}

/// As people type: mostly lower case, sometimes as shown, sometimes shouting or random.
fn casing(rng: &mut StdRng, text: &str) -> String {
    match rng.random_range(0..10) {
        0..=4 => text.to_lowercase(),
        5..=6 => text.to_string(),
        7 => text.to_uppercase(),
        _ => text
            .chars()
            .map(|c| {
                if rng.random_bool(0.5) {
                    c.to_uppercase().collect::<String>()
                } else {
                    c.to_lowercase().collect()
                }
            })
            .collect(),
    }
}

fn typed(rng: &mut StdRng, text: &str) -> String {
    let text = if rng.random_bool(0.5) {
        without_accents(text)
    } else {
        text.to_string()
    };
    casing(rng, &text)
}

/// One typo in a word of four letters or more: a letter dropped, doubled, swapped with the
/// next, or replaced. None if no word is long enough.
fn misspell(rng: &mut StdRng, words: &[String]) -> Option<Vec<String>> {
    let long: Vec<usize> = (0..words.len())
        .filter(|&i| words[i].chars().count() >= 4)
        .collect();
    let &at = long.choose(rng)?;
    let mut chars: Vec<char> = words[at].chars().collect();
    let i = rng.random_range(0..chars.len() - 1);
    match rng.random_range(0..4) {
        0 => {
            chars.remove(i);
        }
        1 => chars.insert(i, chars[i]),
        2 => chars.swap(i, i + 1),
        _ => {
            let letters: Vec<char> = "abcdefghijklmnopqrstuvwxyz"
                .chars()
                .filter(|c| !chars[i].eq_ignore_ascii_case(c))
                .collect();
            chars[i] = *letters.choose(rng).expect("letters");
        }
    }
    let mut out = words.to_vec();
    out[at] = chars.into_iter().collect();
    Some(out)
}

/// `n` consecutive words of `words` (fewer if it has fewer), from a random start.
fn run_of(rng: &mut StdRng, words: &[String], n: usize) -> Vec<String> {
    let n = n.min(words.len());
    let start = rng.random_range(0..=words.len() - n);
    words[start..start + n].to_vec()
}

fn meant(words: &[String], in_artist: bool, whole: bool, last_begun: bool) -> Meant {
    Meant {
        in_artist,
        words: words.iter().map(|w| plain_words(w).concat()).collect(),
        last_begun,
        whole,
    }
}

/// About `total` queries (every prefix of a phrase is one query, and a phrase's prefixes stay
/// together, in the order typed), deterministic from the seed.
pub fn draw(tracks: &[Tags], total: usize, seed: u64) -> Vec<Query> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Shares of the mix: about 10 % typos, as many run together, a third typed as prefixes.
    let quota = |class: Class| -> usize {
        let share = match class {
            Class::Title => 0.15,
            Class::Artist => 0.10,
            Class::Words => 0.20,
            Class::Prefix => 0.35,
            Class::Typo => 0.10,
            Class::RunTogether => 0.10,
        };
        (total as f64 * share).round() as usize
    };
    let mut groups: Vec<Vec<Query>> = Vec::new();
    for class in Class::ALL {
        let want = quota(class);
        let mut made = 0;
        let mut tries = 0;
        while made < want && tries < want * 50 + 100 {
            tries += 1;
            let tags = tracks.choose(&mut rng).expect("tracks");
            let artist = tags.artists.first().cloned().unwrap_or_default();
            let from_artist = matches!(class, Class::Artist)
                || (matches!(class, Class::Words | Class::Prefix) && rng.random_bool(0.3));
            let source = if from_artist { &artist } else { &tags.title };
            let words = typed_words(source);
            if words.is_empty() {
                continue;
            }
            let group: Vec<Query> = match class {
                Class::Title | Class::Artist => vec![Query {
                    class,
                    text: typed(&mut rng, &words.join(" ")),
                    meant: meant(&words, from_artist, true, false),
                }],
                Class::Words => {
                    let n = rng.random_range(1..=3);
                    let run = run_of(&mut rng, &words, n);
                    // Nobody searches for "in" alone.
                    if run.join(" ").chars().count() < 3 {
                        continue;
                    }
                    vec![Query {
                        class,
                        text: typed(&mut rng, &run.join(" ")),
                        meant: meant(&run, from_artist, false, false),
                    }]
                }
                Class::Prefix => {
                    let n = rng.random_range(1..=3);
                    let run = run_of(&mut rng, &words, n);
                    let phrase = typed(&mut rng, &run.join(" "));
                    let chars: Vec<char> = phrase.chars().collect();
                    (3..=chars.len())
                        .filter(|&k| chars[k - 1] != ' ')
                        .map(|k| {
                            let text: String = chars[..k].iter().collect();
                            let begun = typed_words(&text);
                            Query {
                                class,
                                meant: meant(&begun, from_artist, false, true),
                                text,
                            }
                        })
                        .collect()
                }
                Class::Typo => {
                    let n = rng.random_range(1..=3);
                    let run = if words.len() <= 3 {
                        words.clone()
                    } else {
                        run_of(&mut rng, &words, n)
                    };
                    let Some(wrong) = misspell(&mut rng, &run) else {
                        continue;
                    };
                    vec![Query {
                        class,
                        text: typed(&mut rng, &wrong.join(" ")),
                        meant: meant(&run, false, false, false),
                    }]
                }
                Class::RunTogether => {
                    if words.len() < 2 {
                        continue;
                    }
                    let run = run_of(&mut rng, &words, 2);
                    if run.iter().any(|w| w.chars().count() < 2) {
                        continue;
                    }
                    vec![Query {
                        class,
                        text: typed(&mut rng, &run.concat()),
                        meant: meant(&run, false, false, false),
                    }]
                }
            };
            made += group.len();
            groups.push(group);
        }
    }
    groups.shuffle(&mut rng);
    groups.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(title: &str, artist: &str) -> Tags {
        Tags {
            title: title.into(),
            artists: vec![artist.into()],
            album: "Album".into(),
        }
    }

    #[test]
    fn queries_come_in_every_class_and_mean_their_track() {
        let tracks = vec![
            tags("Aurora Drive", "Venra Shilo"),
            tags("Don't Stop Me Now, Pt. 2", "Café Tacvba"),
            tags("Nocturne in Blue", "Léa Fontaine"),
            tags("Never the Night Again in My Summer City", "Anka"),
        ];
        let qs = draw(&tracks, 400, 7);
        for class in Class::ALL {
            let n = qs.iter().filter(|q| q.class == class).count();
            assert!(n >= 20, "{class:?}: {n}");
        }
        for q in &qs {
            assert!(tracks.iter().any(|t| q.meant.is(t)), "{q:?} means no track");
        }
        let typo = qs.iter().find(|q| q.class == Class::Typo).unwrap();
        assert!(
            !tracks
                .iter()
                .any(|t| plain_words(&t.title).join(" ") == plain_words(&typo.text).join(" "))
        );
        assert!(
            qs.iter()
                .any(|q| q.text == "auroradrive" || q.text == "AuroraDrive")
        );
        assert!(qs.iter().any(|q| q.text.chars().any(|c| c.is_uppercase())));
        assert!(qs.iter().all(|q| q.text.chars().count() >= 2));
    }

    #[test]
    fn meant_compares_words_not_punctuation_case_or_accents() {
        let m = meant(&["dont".into(), "st".into()], false, false, true);
        assert!(m.is(&tags("Don't Stop Me", "x")));
        assert!(!m.is(&tags("Do Stop", "x")));
        let whole = meant(&["Lea".into(), "Fontaine".into()], true, true, false);
        assert!(whole.is(&tags("x", "Léa Fontaine")));
        assert!(!whole.is(&tags("x", "Léa Fontaine Trio")));
    }
}
