//! Search: substrings of every word, case and accents folded, typos corrected word by word,
//! words run together split apart, the ranking of `mixtape_shared::search` (exact field, field
//! prefix, word prefix, substring, typo), short queries as prefixes, queries that mean nothing,
//! and answers that follow every committed scan batch.

use super::fixtures::{record, scan};
use crate::storage::*;
use mixtape_shared::api::SearchResults;

fn library(store: &dyn Store) {
    scan(
        store,
        vec![
            record("s/1.flac", "Nocturne", "Chopin", "Nocturnes", Some(1830)),
            record(
                "s/2.flac",
                "Café Nocturne",
                "Erik Satie",
                "Gymnopédies",
                None,
            ),
            record("s/3.flac", "Nocturne in Blue", "Chopin", "Nocturnes", None),
            record("s/4.flac", "Second Song", "Band", "Debut", None),
            record("s/5.flac", "Le Nocturne", "Band", "Debut", None),
            record(
                "s/6.flac",
                "Symphony No. 5",
                "Beethoven",
                "Symphonies",
                None,
            ),
            record("s/7.flac", "100% Pure", "Beethoven", "Symphonies", None),
        ],
    );
}

fn titles(r: &SearchResults) -> Vec<&str> {
    r.tracks.iter().map(|t| t.title.as_str()).collect()
}

fn exact_matches_rank_first(store: &dyn Store) {
    library(store);
    let found = store.search("nocturne", 10).unwrap();
    // Exact title, then field prefixes, then word prefixes; shorter text first within each.
    assert_eq!(
        titles(&found),
        [
            "Nocturne",
            "Nocturne in Blue",
            "Le Nocturne",
            "Café Nocturne"
        ]
    );
    let albums: Vec<&str> = found.albums.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(albums, ["Nocturnes"]);
    assert_eq!(
        store.search("nocturne", 2).unwrap().tracks.len(),
        2,
        "limit"
    );
    let both = store.search("chopin blue", 10).unwrap();
    assert_eq!(titles(&both), ["Nocturne in Blue"], "every word, any field");
}

fn case_and_accents_are_folded(store: &dyn Store) {
    library(store);
    assert_eq!(
        titles(&store.search("CAFE", 10).unwrap()),
        ["Café Nocturne"]
    );
    assert_eq!(
        titles(&store.search("café", 10).unwrap()),
        ["Café Nocturne"]
    );
    let albums = store.search("gymnopedies", 10).unwrap().albums;
    assert_eq!(albums.len(), 1);
    assert_eq!(albums[0].title, "Gymnopédies");
    let artists = store.search("SATIE", 10).unwrap().artists;
    assert_eq!(artists.len(), 1);
    assert_eq!(artists[0].name, "Erik Satie");
    // LIKE's wildcards are plain characters in a query.
    assert_eq!(titles(&store.search("100%", 10).unwrap()), ["100% Pure"]);
    assert!(store.search("0%p", 10).unwrap().tracks.is_empty());
    // As a wildcard, `_` would find "Beethoven" ("o_e" in "...hoven").
    assert!(store.search("o_e", 10).unwrap().tracks.is_empty());
}

fn typos_are_corrected_word_by_word(store: &dyn Store) {
    library(store);
    let found = store.search("nocturen", 10).unwrap();
    assert!(titles(&found).contains(&"Nocturne"), "{:?}", titles(&found));
    let found = store.search("secnod song", 10).unwrap();
    assert_eq!(titles(&found), ["Second Song"]);
    let found = store.search("beethovn", 10).unwrap();
    assert_eq!(found.artists.len(), 1, "{found:?}");
    let found = store.search("chopn nocturne", 10).unwrap();
    assert!(titles(&found).contains(&"Nocturne"), "{:?}", titles(&found));
    // A word inside a longer one is a match as it is.
    let found = store.search("symphonie", 10).unwrap();
    assert_eq!(
        found.albums.first().map(|a| a.title.as_str()),
        Some("Symphonies")
    );
    assert!(store.search("qqqqzzzzxxxx", 10).unwrap().tracks.is_empty());
}

fn short_and_empty_queries(store: &dyn Store) {
    library(store);
    let found = store.search("n", 10).unwrap();
    assert_eq!(
        titles(&found),
        ["Nocturne", "Nocturne in Blue"],
        "a title prefix"
    );
    assert!(found.albums.iter().any(|a| a.title == "Nocturnes"));
    let found = store.search("Be", 10).unwrap();
    let artists: Vec<&str> = found.artists.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(artists, ["Beethoven"]);
    assert_eq!(store.search("n", 1).unwrap().tracks.len(), 1);
    for nothing in ["", "   ", "\u{0}", "%", "_"] {
        let r = store.search(nothing, 10).unwrap();
        assert!(
            r.tracks.is_empty() && r.albums.is_empty() && r.artists.is_empty(),
            "{nothing:?}: {r:?}"
        );
    }
    // Control characters are ignored, not a database error.
    let found = store.search("\u{0}nocturne\u{0}", 10).unwrap();
    assert_eq!(titles(&found)[0], "Nocturne");
}

fn typos_of_every_kind_find_their_track(store: &dyn Store) {
    library(store);
    for (typed, title) in [
        ("secnd song", "Second Song"),
        ("seccond", "Second Song"),
        ("sceond", "Second Song"),
        ("sexond song", "Second Song"),
        ("nocturne in bleu", "Nocturne in Blue"),
        ("symphonyy", "Symphony No. 5"),
        ("beethovne symphony", "Symphony No. 5"),
    ] {
        let found = store.search(typed, 10).unwrap();
        assert!(
            titles(&found).contains(&title),
            "{typed:?}: {:?}",
            titles(&found)
        );
    }
    // Exact matches come before typo matches of the same query.
    let found = store.search("nocturne", 10).unwrap();
    assert_eq!(
        titles(&found)[..4],
        [
            "Nocturne",
            "Nocturne in Blue",
            "Le Nocturne",
            "Café Nocturne"
        ]
    );
}

fn words_run_together_find_their_track(store: &dyn Store) {
    library(store);
    let found = store.search("secondsong", 10).unwrap();
    assert_eq!(titles(&found), ["Second Song"]);
    let found = store.search("NocturneInBl", 10).unwrap();
    assert_eq!(
        titles(&found).first(),
        Some(&"Nocturne in Blue"),
        "as typed"
    );
    let found = store.search("eriksatie", 10).unwrap();
    assert_eq!(found.artists.len(), 1, "{found:?}");
    assert_eq!(titles(&found), ["Café Nocturne"]);
    assert!(
        store
            .search("secondnocturnezz", 10)
            .unwrap()
            .tracks
            .is_empty()
    );
}

fn search_follows_each_scan_batch(store: &dyn Store) {
    library(store);
    // Built once, then every batch that commits is searchable at once, as are removals.
    assert!(store.search("lantern", 10).unwrap().tracks.is_empty());
    for n in 0..3 {
        scan(
            store,
            vec![record(
                &format!("s/lantern{n}.flac"),
                &format!("Lantern {n}"),
                "Band",
                "Lights",
                None,
            )],
        );
        assert_eq!(store.search("lantern", 10).unwrap().tracks.len(), n + 1);
    }
    store
        .apply_scan_batch(vec![ScanWrite::Remove {
            path: "s/lantern0.flac".into(),
        }])
        .unwrap();
    assert_eq!(
        titles(&store.search("lantern", 10).unwrap()),
        ["Lantern 1", "Lantern 2"]
    );
}

fn results_follow_rescans(store: &dyn Store) {
    library(store);
    scan(
        store,
        vec![record("s/4.flac", "Renamed", "Band", "Debut", None)],
    );
    assert!(store.search("second", 10).unwrap().tracks.is_empty());
    assert_eq!(titles(&store.search("renamed", 10).unwrap()), ["Renamed"]);
    store
        .apply_scan_batch(vec![ScanWrite::Remove {
            path: "s/4.flac".into(),
        }])
        .unwrap();
    assert!(store.search("renamed", 10).unwrap().tracks.is_empty());
}

stories!(
    exact_matches_rank_first,
    case_and_accents_are_folded,
    typos_are_corrected_word_by_word,
    short_and_empty_queries,
    results_follow_rescans,
    typos_of_every_kind_find_their_track,
    words_run_together_find_their_track,
    search_follows_each_scan_batch,
);
