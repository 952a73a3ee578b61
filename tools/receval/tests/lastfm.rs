//! The evaluation on the Last.fm HetRec 2011 data, when it is there (`../shared/lastfm-hetrec2011`
//! or `MIXTAPE_LASTFM_DIR`): the recommender as served beats popularity, and the neighbours
//! alone, on the README's split.

use mixtape_receval::*;
use mixtape_server::recs::als::AlsParams;
use std::path::PathBuf;

#[test]
fn the_recommender_beats_popularity_on_the_lastfm_split() {
    let dir = std::env::var_os("MIXTAPE_LASTFM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/lastfm-hetrec2011")
        });
    if !dir.join("user_artists.dat").exists() {
        println!(
            "skipped: no Last.fm data at {} (set MIXTAPE_LASTFM_DIR to run the evaluation)",
            dir.display()
        );
        return;
    }
    let data = load(&dir).unwrap();
    let s = split(&data, 1);
    assert_eq!(s.test.len(), 1877);
    let neighbours = eval_model(&s, served_params(), None);
    let ours = eval_model(&s, served_params(), Some(&AlsParams::default()));
    assert!(
        ours.hit_rate > neighbours.hit_rate,
        "the trained model adds to the neighbours: {ours:?} vs {neighbours:?}"
    );
    let pop = eval_popularity(&s);
    let random = eval_random(&s, 1);
    println!(
        "HitRate@10: ours {:.3}, popularity {:.3}, random {:.3}",
        ours.hit_rate, pop.hit_rate, random.hit_rate
    );
    assert!(ours.hit_rate >= 2.5 * pop.hit_rate, "{ours:?} vs {pop:?}");
    assert!(pop.hit_rate > random.hit_rate);
}
