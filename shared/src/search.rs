//! Catalog search in memory, the same on the server and in the client's mirror: an index of
//! folded words over documents (a track's title, artists and album; an album's title and
//! artist; an artist's name), answering "as you type" queries with every word a substring or
//! prefix, whole-field and prefix matches first, typos forgiven word by word, and words run
//! together ("auroradrive") split back apart.
//!
//! How results are ordered is [`rank`]'s: tiers (exact field, field prefix, word prefix,
//! substring, typo), then shorter documents first, then the folded text, then the id, so the
//! order depends on the catalog's content alone.

mod bits;
mod index;
pub mod rank;
#[cfg(test)]
mod tests;
mod typo;

pub use index::SearchIndex;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The comparison form of text: compatibility-decomposed, without diacritics, lower case,
/// whitespace collapsed. "Café  Nocturne" and "cafe nocturne" compare equal.
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        // Most tags are ASCII, which decomposition leaves as it is and which has no marks: only
        // case and spacing change, in one pass (a first scan folds five names per track).
        let mut folded = String::with_capacity(text.len());
        for word in text.split_whitespace() {
            if !folded.is_empty() {
                folded.push(' ');
            }
            folded.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        }
        return folded;
    }
    fold_unicode(text)
}

fn fold_unicode(text: &str) -> String {
    let stripped: String = text
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase();
    stripped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A query as the index takes it: folded, control characters (a NUL above all) read as spaces.
pub fn clean_query(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    fold(&cleaned)
}

/// Words as the index holds them: runs of letters and digits.
pub fn words_of(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}
