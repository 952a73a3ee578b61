//! How a document matched a query, best first, and how far a typo is.

use super::typo::Osa;
use super::words_of;

/// Tiers, best first.
pub const EXACT_FIELD: u8 = 0;
pub const FIELD_PREFIX: u8 = 1;
pub const WORD_PREFIX: u8 = 2;
pub const SUBSTRING: u8 = 3;
pub const TYPO: u8 = 4;

/// The tier of a document whose every query word matched as it is: `query` and `fields` folded.
/// The query found at the start of a word (after a space or punctuation) is a word prefix; a
/// query found only across fields (artist in one, title in another) ranks as a substring.
pub fn tier<'a>(query: &str, fields: impl Iterator<Item = &'a str>) -> u8 {
    let mut best = SUBSTRING;
    for field in fields {
        if field == query {
            return EXACT_FIELD;
        }
        for (at, _) in field.match_indices(query) {
            let tier = if at == 0 {
                FIELD_PREFIX
            } else if field[..at]
                .chars()
                .next_back()
                .is_some_and(|c| !c.is_alphanumeric())
            {
                WORD_PREFIX
            } else {
                continue;
            };
            best = best.min(tier);
        }
    }
    best
}

/// How near each other a document holds the query's words, best first: side by side in the
/// order typed, in one field; all in one field; spread over fields.
pub const IN_A_ROW: u8 = 0;
pub const ONE_FIELD: u8 = 1;
pub const APART: u8 = 2;

/// The [`IN_A_ROW`] .. [`APART`] of a document for a query of `terms` words, `matches(t, word)`
/// saying whether a word of the document stands for the query's word `t` (as typed or
/// corrected). One word is always in a row.
pub fn proximity<'a>(
    terms: usize,
    fields: impl Iterator<Item = &'a str>,
    matches: impl Fn(usize, &str) -> bool,
) -> u8 {
    if terms < 2 {
        return IN_A_ROW;
    }
    let mut best = APART;
    let mut words: Vec<&str> = Vec::new();
    for field in fields {
        words.clear();
        words.extend(words_of(field));
        if words
            .windows(terms)
            .any(|run| run.iter().enumerate().all(|(t, w)| matches(t, w)))
        {
            return IN_A_ROW;
        }
        if best == APART && (0..terms).all(|t| words.iter().any(|w| matches(t, w))) {
            best = ONE_FIELD;
        }
    }
    best
}

/// The edits a query word of `len` characters may carry: none up to two letters, one up to
/// five, two beyond.
pub fn typo_budget(len: usize) -> usize {
    match len {
        0..=2 => 0,
        3..=5 => 1,
        _ => 2,
    }
}

/// How many edits (insertions, deletions, substitutions, transpositions of neighbours)
/// separate the query's words from the best-matching words of `text`, if every query word is
/// within its [`typo_budget`]. A query word may also match the start of a word (as typed so
/// far): "secnod" is one edit from "second", "nocturen" one from "nocturne".
pub fn typo_distance(query: &str, text: &str) -> Option<usize> {
    let words: Vec<Vec<char>> = words_of(text).map(|w| w.chars().collect()).collect();
    let mut total = 0;
    for q in words_of(query) {
        let mut osa = Osa::new(q);
        let budget = typo_budget(osa.len());
        let best = words
            .iter()
            .filter_map(|w| osa.word_distance(w, budget))
            .min()?;
        total += best;
    }
    Some(total)
}
