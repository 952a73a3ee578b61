//! The index against small catalogs: tiers, prefixes as typed, typos, words run together.

use super::{SearchIndex, clean_query, fold, fold_unicode};

fn index(docs: &[(i64, &str, &str, &str)]) -> SearchIndex {
    SearchIndex::build(
        docs.iter()
            .map(|(id, title, artist, album)| (*id, vec![fold(title), fold(artist), fold(album)])),
    )
}

fn library() -> SearchIndex {
    index(&[
        (1, "Nocturne", "Chopin", "Nocturnes"),
        (2, "Café Nocturne", "Erik Satie", "Gymnopédies"),
        (3, "Nocturne in Blue", "Chopin", "Nocturnes"),
        (4, "Second Song", "Band", "Debut"),
        (5, "Le Nocturne", "Band", "Debut"),
        (6, "Aurora Drive", "Venra Shilo", "Night Roads"),
        (7, "Drive", "Anka", "Aurora"),
        (8, "Don't Stop Me", "Anka", "Night Roads"),
        (9, "100% Pure", "Beethoven", "Symphonies"),
    ])
}

fn find(index: &SearchIndex, query: &str) -> Vec<i64> {
    index.search(&clean_query(query), 10)
}

#[test]
fn tiers_then_shorter_documents_first() {
    let ix = library();
    assert_eq!(find(&ix, "nocturne"), [1, 3, 5, 2]);
    assert_eq!(find(&ix, "NOCTURNE"), [1, 3, 5, 2], "case folded");
    assert_eq!(find(&ix, "chopin blue"), [3], "every word, any field");
    assert_eq!(find(&ix, "cafe"), [2]);
    assert_eq!(find(&ix, "gymnopedies"), [2], "accents folded");
    assert_eq!(ix.search(&clean_query("nocturne"), 2), [1, 3], "limit");
    assert_eq!(find(&ix, "100%"), [9]);
    assert_eq!(find(&ix, "ymph"), [9], "inside a word");
}

#[test]
fn every_prefix_as_typed_finds_the_track() {
    let ix = library();
    for n in 1..="aurora drive".len() {
        let typed = &"aurora drive"[..n];
        assert!(
            find(&ix, typed).contains(&6),
            "{typed:?}: {:?}",
            find(&ix, typed)
        );
    }
    assert_eq!(find(&ix, "aurora drive")[0], 6, "the exact title first");
}

#[test]
fn typos_are_forgiven_word_by_word() {
    let ix = library();
    assert_eq!(find(&ix, "secnod song"), [4], "transposed");
    assert_eq!(find(&ix, "secnd"), [4], "dropped");
    assert_eq!(find(&ix, "seccond"), [4], "doubled");
    assert_eq!(find(&ix, "sexond"), [4], "wrong letter");
    assert!(find(&ix, "nocturen").contains(&1));
    assert!(find(&ix, "chopn nocturne").contains(&1));
    assert_eq!(find(&ix, "venar shilo"), [6]);
    assert!(find(&ix, "qqqqzzzzxxxx").is_empty());
    // Exact matches come before typo matches.
    assert_eq!(find(&ix, "drive")[..2], [7, 6]);
}

#[test]
fn typo_matches_with_the_words_side_by_side_come_first() {
    let ix = index(&[
        (1, "Could Be Paradise", "Anka", "Roads"),
        (2, "Paradise Is Cold", "Anka", "Roads"),
        (3, "Paradise", "Cold Anka", "Roads"),
        (4, "The Long Cold Paradise Nights", "Anka", "Roads"),
        (5, "Paradise of the Cold Nights", "Anka", "Roads"),
        (6, "Paradise Could Wait", "Anka", "Roads"),
    ]);
    let found = find(&ix, "colld paradise");
    assert_eq!(found[0], 4, "{found:?}");
    assert_eq!(found.len(), 6, "the others still follow: {found:?}");
    assert_eq!(
        found[1..],
        [2, 1, 6, 5, 3],
        "the words in one field, in document order, before the words in two fields"
    );
    assert_eq!(find(&ix, "paradise colld")[0], 6, "in the order typed");
    assert_eq!(find(&ix, "long colld paradise")[0], 4, "three words");
}

#[test]
fn proximity_of_the_query_words() {
    use super::rank::{APART, IN_A_ROW, ONE_FIELD, proximity};
    let fields = ["the long cold paradise", "anka", "roads"];
    let typed = |q: &'static [&'static str]| move |t: usize, w: &str| w.starts_with(q[t]);
    assert_eq!(
        proximity(2, fields.into_iter(), typed(&["cold", "par"])),
        IN_A_ROW
    );
    assert_eq!(
        proximity(2, fields.into_iter(), typed(&["par", "cold"])),
        ONE_FIELD
    );
    assert_eq!(
        proximity(2, fields.into_iter(), typed(&["long", "par"])),
        ONE_FIELD
    );
    assert_eq!(
        proximity(2, fields.into_iter(), typed(&["anka", "par"])),
        APART
    );
    assert_eq!(proximity(1, fields.into_iter(), typed(&["anka"])), IN_A_ROW);
}

#[test]
fn words_run_together_are_split() {
    let ix = library();
    assert_eq!(find(&ix, "auroradrive")[0], 6);
    assert_eq!(find(&ix, "AuroraDr")[0], 6, "as typed");
    assert_eq!(find(&ix, "venrashilo"), [6]);
    assert_eq!(find(&ix, "dont stop"), [8], "an apostrophe dropped");
    assert_eq!(find(&ix, "nightroadsanka"), [8], "three words");
}

#[test]
fn nothing_for_nothing() {
    let ix = library();
    for q in ["", "   ", "\u{0}", "%", "_"] {
        assert!(find(&ix, q).is_empty(), "{q:?}");
    }
    assert_eq!(find(&ix, "\u{0}nocturne\u{0}")[0], 1);
    assert!(SearchIndex::build(Vec::new()).search("x", 10).is_empty());
}

#[test]
fn typo_distance_counts_edits_per_word() {
    use super::rank::typo_distance;
    assert_eq!(typo_distance("secnod", "second song"), Some(1));
    assert_eq!(typo_distance("nocturen", "cafe nocturne"), Some(1));
    assert_eq!(typo_distance("noct", "cafe nocturne"), Some(0));
    assert_eq!(typo_distance("xyzzy", "cafe nocturne"), None);
    assert_eq!(typo_distance("cafe nocturen", "cafe nocturne"), Some(1));
}

#[test]
fn tiers_of_several_words() {
    use super::rank::{EXACT_FIELD, FIELD_PREFIX, SUBSTRING, WORD_PREFIX, tier};
    let fields = ["nocturne in blue", "chopin", "(live) nocturnes"];
    assert_eq!(tier("chopin", fields.into_iter()), EXACT_FIELD);
    assert_eq!(tier("nocturne in", fields.into_iter()), FIELD_PREFIX);
    assert_eq!(tier("in blue", fields.into_iter()), WORD_PREFIX);
    assert_eq!(
        tier("live", fields.into_iter()),
        WORD_PREFIX,
        "after punctuation"
    );
    assert_eq!(tier("n blue", fields.into_iter()), SUBSTRING);
    assert_eq!(
        tier("chopin blue", fields.into_iter()),
        SUBSTRING,
        "across fields"
    );
}

/// Every document holding every query word, ranked by tier then document order: what the
/// index must give for queries of several words, however it walks its candidates.
fn ranked_naively(docs: &[(i64, Vec<String>)], query: &str, limit: usize) -> Vec<i64> {
    use super::{rank::tier, words_of};
    let mut found: Vec<(u8, usize, String, i64)> = docs
        .iter()
        .filter(|(_, fields)| {
            words_of(query).all(|t| {
                fields
                    .iter()
                    .flat_map(|f| words_of(f))
                    .any(|w| w.starts_with(t) || (t.chars().count() >= 3 && w.contains(t)))
            })
        })
        .map(|(id, fields)| {
            let text = fields.join("\n");
            (
                tier(query, fields.iter().map(String::as_str)),
                text.len(),
                text,
                *id,
            )
        })
        .collect();
    found.sort();
    found.into_iter().take(limit).map(|(.., id)| id).collect()
}

#[test]
fn several_words_rank_by_tier_then_document_order_on_a_larger_library() {
    const WORDS: [&str; 12] = [
        "the", "sun", "son", "sunset", "other", "road", "s", "blue", "there", "sea", "the sun",
        "(live)",
    ];
    let mut seed: u64 = 7;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let docs: Vec<(i64, Vec<String>)> = (0..600)
        .map(|id| {
            let mut field = || {
                let len = 1 + next(4);
                let words: Vec<&str> = (0..len).map(|_| WORDS[next(WORDS.len())]).collect();
                fold(&words.join(" "))
            };
            (id, vec![field(), field(), field()])
        })
        .collect();
    let ix = SearchIndex::build(docs.clone());
    for query in [
        "the s",
        "the sun",
        "the",
        "sun the",
        "the su",
        "there s",
        "s the",
        "road blue",
        "live the",
        "(live) the",
        "the sun the",
        "oth s",
    ] {
        for limit in [1, 5, 20, 200] {
            let naive = ranked_naively(&docs, query, limit);
            let got = ix.search(&clean_query(query), limit);
            assert_eq!(got[..naive.len()], naive, "{query:?} limit {limit}");
        }
    }
}

proptest::proptest! {
    /// The ASCII path folds as the general one does, whitespace of every kind included.
    #[test]
    fn ascii_folds_as_unicode_does(text in "[ -~\t\n\x0b\x0c\r]{0,40}") {
        proptest::prop_assert_eq!(fold(&text), fold_unicode(&text));
    }
}
