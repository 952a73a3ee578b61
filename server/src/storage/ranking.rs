//! Search ranking both backends share: how a candidate matched (tiers), how far a typo is, and
//! the words the typo vocabulary holds. The backends find candidates their own way (FTS5
//! trigrams, pg_trgm); the order of results is decided here, the same on both.

use crate::catalog::fold;

/// How well a candidate matched, best first: exact field, field prefix, word prefix, substring, fuzzy.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub(crate) struct Rank {
    pub tier: u8,
    /// Lower is better: bm25 order for substring matches, edit distance for fuzzy ones.
    pub score: f64,
}

pub(crate) fn rank(query: &str, fields: &[String], typo_distance: Option<f64>) -> Rank {
    let folded: Vec<String> = fields.iter().map(|f| fold(f)).collect();
    let tier = if folded.iter().any(|f| f == query) {
        0
    } else if folded.iter().any(|f| f.starts_with(query)) {
        1
    } else if folded
        .iter()
        .any(|f| f.split_whitespace().any(|w| w.starts_with(query)))
    {
        2
    } else if folded.iter().any(|f| f.contains(query)) {
        3
    } else {
        4
    };
    Rank {
        tier,
        score: typo_distance.unwrap_or(0.0),
    }
}

/// Words as the vocabulary holds them: runs of letters and digits.
pub(crate) fn words_of(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Up to this many spellings from the vocabulary stand in for each query word.
pub(crate) const CORRECTIONS_PER_WORD: usize = 4;

/// How many edits (insertions, deletions, substitutions, transpositions) separate the query's
/// words from the best-matching words of `text`, if every query word is close enough: one edit
/// for words of up to five letters, two beyond. A query word may also match a word's prefix.
pub(crate) fn typo_distance(query: &str, text: &str) -> Option<f64> {
    let words: Vec<&str> = words_of(text).collect();
    let mut total = 0usize;
    for q in words_of(query) {
        let q_len = q.chars().count();
        let allowed = if q_len <= 2 {
            0
        } else if q_len <= 5 {
            1
        } else {
            2
        };
        let best = words
            .iter()
            .map(|w| {
                let whole = strsim::osa_distance(q, w);
                let prefix: String = w.chars().take(q_len).collect();
                whole.min(
                    strsim::osa_distance(q, &prefix) + usize::from(prefix.chars().count() < q_len),
                )
            })
            .min()?;
        if best > allowed {
            return None;
        }
        total += best;
    }
    Some(total as f64)
}
