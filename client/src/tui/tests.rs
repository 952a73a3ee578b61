//! Every view drawn at 80x24 on ratatui's TestBackend (insta snapshots), and keys driven through
//! the pure `update`.

use super::keymap::Keymap;
use super::state::*;
use super::theme::Theme;
use super::view;
use crate::connectivity::Link;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use mixtape_shared::{AlbumId, ArtistId, EntryId, PlaylistId, TrackId};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::HashMap;
use uuid::Uuid;

fn track(id: i64, title: &str, artists: &str, album: &str, secs: u64, cached: bool) -> TrackRow {
    TrackRow {
        id: TrackId(id),
        title: title.into(),
        artists: artists.into(),
        album: album.into(),
        duration_ms: secs * 1000,
        cached,
        cover_art: None,
    }
}

fn entry(n: u128) -> EntryId {
    EntryId(Uuid::from_u128(n))
}

fn playlist(n: u128) -> PlaylistId {
    PlaylistId(Uuid::from_u128(n))
}

pub(crate) fn sample_state() -> AppState {
    let mut s = AppState::new(Keymap::default(), "http://127.0.0.1:4870".into());
    let tracks = vec![
        track(
            1,
            "Rue de la Lune",
            "The Paper Lanterns",
            "Café Nocturne",
            31,
            true,
        ),
        track(
            2,
            "Slow Espresso",
            "The Paper Lanterns",
            "Café Nocturne",
            31,
            false,
        ),
        track(
            3,
            "Last Tram Home",
            "The Paper Lanterns, Élodie Marchand",
            "Café Nocturne",
            31,
            true,
        ),
    ];
    s.library = LibraryState {
        artists: vec![
            ArtistRow {
                id: ArtistId(1),
                name: "Marble & Moss".into(),
                albums: 1,
            },
            ArtistRow {
                id: ArtistId(2),
                name: "The Paper Lanterns".into(),
                albums: 2,
            },
        ],
        albums: vec![
            AlbumRow {
                id: AlbumId(1),
                title: "Café Nocturne".into(),
                year: Some(2024),
                tracks: 3,
            },
            AlbumRow {
                id: AlbumId(2),
                title: "Lanterns Live".into(),
                year: None,
                tracks: 5,
            },
        ],
        tracks: tracks.clone(),
        column: 0,
        cursors: Default::default(),
    };
    s.playlists = PlaylistsState {
        list: vec![
            PlaylistRow {
                id: playlist(1),
                name: "Road trip".into(),
                entries: 2,
                offline: true,
                pending_ops: 1,
                mine: true,
            },
            PlaylistRow {
                id: playlist(2),
                name: "Quiet".into(),
                entries: 1,
                offline: false,
                pending_ops: 0,
                mine: true,
            },
        ],
        entries: vec![(entry(1), tracks[0].clone()), (entry(2), tracks[2].clone())],
        column: 0,
        cursors: Default::default(),
    };
    s.queue = tracks.clone();
    s.playback = Playback {
        current: Some(0),
        position_ms: 12_000,
        paused: false,
        volume: 80,
        shuffle: false,
        repeat: Repeat::All,
        format: "FLAC 44.1 kHz 2 ch".into(),
        buffering: false,
    };
    s.recommendations = vec![tracks[1].clone()];
    s.recommendations_note = "from your listening".into();
    s.downloads = DownloadsInfo {
        cache_used: 1_500_000,
        cache_cap: 2_147_483_648,
        cached_files: 3,
        pinned_files: 2,
        partial_bytes: 0,
        pending_ops: 1,
        pending_events: 4,
        progress: Some(("Road trip".into(), 500_000, 1_000_000)),
    };
    s.sync_status = "synced".into();
    s.qualities = ("opus-96".into(), "original".into());
    s
}

fn render(state: &AppState) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal
        .draw(|f| view::draw(f, state, &Theme::default()))
        .unwrap();
    terminal
}

fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ch(c: char) -> Action {
    key(KeyCode::Char(c))
}

#[test]
fn every_view_renders_at_80x24() {
    for view in View::ALL {
        let mut state = sample_state();
        state.view = view;
        if view == View::Library {
            state.library.column = 2;
        }
        let terminal = render(&state);
        insta::assert_snapshot!(format!("view_{view:?}").to_lowercase(), terminal.backend());
    }
}

#[test]
fn offline_status_help_and_prompts_render() {
    let mut state = sample_state();
    state.link = Link::Offline;
    state.sync_status = "offline: edits wait".into();
    state.view = View::Search;
    state.search.input = "lant".into();
    state.search.editing = true;
    state.search.results = state.library.tracks.clone();
    insta::assert_snapshot!("search_offline", render(&state).backend());

    let mut state = sample_state();
    state.show_help = true;
    insta::assert_snapshot!("help", render(&state).backend());

    let mut state = sample_state();
    state.view = View::Playlists;
    update(&mut state, ch('R'));
    insta::assert_snapshot!("rename_prompt", render(&state).backend());

    let mut state = sample_state();
    state.view = View::Search;
    state.search.results = state.library.tracks.clone();
    update(&mut state, ch('a'));
    insta::assert_snapshot!("pick_playlist", render(&state).backend());
}

#[test]
fn empty_state_renders_without_panicking_at_small_sizes() {
    let state = AppState::new(Keymap::default(), String::new());
    for (w, h) in [(80, 24), (40, 10), (20, 5), (120, 40)] {
        for view in View::ALL {
            let mut s = state.clone();
            s.view = view;
            let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
            terminal
                .draw(|f| view::draw(f, &s, &Theme::default()))
                .unwrap();
        }
    }
}

#[test]
fn vim_keys_and_arrows_move_through_the_library_columns() {
    let mut s = sample_state();
    assert_eq!(
        update(&mut s, ch('j')),
        vec![Effect::LoadAlbums(ArtistId(2))]
    );
    assert_eq!(
        update(&mut s, key(KeyCode::Up)),
        vec![Effect::LoadAlbums(ArtistId(1))]
    );
    assert!(update(&mut s, ch('k')).is_empty(), "the top stays the top");
    update(&mut s, ch('l'));
    assert_eq!(s.library.column, 1);
    assert_eq!(
        update(&mut s, ch('j')),
        vec![Effect::LoadAlbumTracks(AlbumId(2))]
    );
    update(&mut s, key(KeyCode::Enter));
    assert_eq!(s.library.column, 2);
    update(&mut s, ch('G'));
    assert_eq!(s.library.cursors[2].selected, 2);
    let effects = update(&mut s, key(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::PlayQueue(s.library.tracks.clone(), 2)]
    );
    update(&mut s, ch('h'));
    assert_eq!(s.library.column, 1);
}

#[test]
fn typing_in_search_asks_for_results_and_late_answers_are_dropped() {
    let mut s = sample_state();
    update(&mut s, ch('/'));
    assert_eq!(s.view, View::Search);
    assert!(s.search.editing);
    assert_eq!(update(&mut s, ch('l')), vec![Effect::Search("l".into())]);
    assert_eq!(update(&mut s, ch('a')), vec![Effect::Search("la".into())]);
    // 'q' is text while typing, not quit.
    update(&mut s, ch('q'));
    assert!(!s.quit);
    update(&mut s, key(KeyCode::Backspace));
    update(&mut s, Action::SearchResults("l".into(), vec![]));
    assert!(s.search.results.is_empty() || s.search.input == "l");
    let rows = s.library.tracks.clone();
    update(&mut s, Action::SearchResults("la".into(), rows.clone()));
    assert_eq!(s.search.results, rows);
    update(&mut s, key(KeyCode::Esc));
    assert!(!s.search.editing);
    update(&mut s, ch('j'));
    assert_eq!(
        update(&mut s, key(KeyCode::Enter)),
        vec![Effect::PlayQueue(rows, 1)]
    );
}

#[test]
fn playlist_editing_keys_become_edits() {
    let mut s = sample_state();
    update(&mut s, ch('3'));
    assert_eq!(s.view, View::Playlists);
    assert_eq!(
        update(&mut s, ch('o')),
        vec![Effect::SetOffline(playlist(1), false)]
    );
    update(&mut s, ch('l'));
    assert_eq!(s.playlists.column, 1);
    assert_eq!(
        update(&mut s, ch('J')),
        vec![Effect::MoveEntry(playlist(1), entry(1), 1)]
    );
    assert_eq!(s.playlists.entries[1].0, entry(1), "the move shows at once");
    assert_eq!(
        update(&mut s, ch('d')),
        vec![Effect::RemoveEntry(playlist(1), entry(1))]
    );
    update(&mut s, ch('N'));
    for c in "Gym".chars() {
        update(&mut s, ch(c));
    }
    assert_eq!(
        update(&mut s, key(KeyCode::Enter)),
        vec![Effect::CreatePlaylist("Gym".into())]
    );
    assert!(s.prompt.is_none());
}

#[test]
fn adding_to_a_playlist_picks_one_of_mine() {
    let mut s = sample_state();
    s.view = View::Library;
    s.library.column = 2;
    update(&mut s, ch('a'));
    assert!(matches!(
        s.prompt,
        Some(Prompt {
            kind: PromptKind::PickPlaylist(_),
            ..
        })
    ));
    update(&mut s, ch('j'));
    assert_eq!(
        update(&mut s, key(KeyCode::Enter)),
        vec![Effect::AddToPlaylist(playlist(2), vec![TrackId(1)])]
    );
    // Esc cancels without an edit.
    update(&mut s, ch('a'));
    assert!(update(&mut s, key(KeyCode::Esc)).is_empty());
    assert!(s.prompt.is_none());
}

#[test]
fn playback_keys_and_quit() {
    let mut s = sample_state();
    assert_eq!(update(&mut s, ch(' ')), vec![Effect::TogglePause]);
    assert_eq!(update(&mut s, ch('>')), vec![Effect::NextTrack]);
    assert_eq!(update(&mut s, ch(']')), vec![Effect::SeekBy(10_000)]);
    assert_eq!(update(&mut s, ch('-')), vec![Effect::SetVolume(75)]);
    assert_eq!(update(&mut s, ch('s')), vec![Effect::SetShuffle(true)]);
    assert_eq!(
        update(&mut s, ch('r')),
        vec![Effect::SetRepeat(Repeat::One)]
    );
    assert_eq!(update(&mut s, ch('S')), vec![Effect::Sync]);
    update(&mut s, ch('?'));
    assert!(s.show_help);
    update(&mut s, ch('?'));
    assert!(!s.show_help);
    assert_eq!(update(&mut s, ch('q')), vec![Effect::Quit]);
    assert!(s.quit);
}

#[test]
fn mouse_clicks_switch_tabs_and_select_rows_and_scroll_moves() {
    let mut s = sample_state();
    let click = |column, row| {
        Action::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // " 1 Library " is 11 wide, " 2 Search " 10: column 12 is the Search tab.
    update(&mut s, click(12, TAB_ROW));
    assert_eq!(s.view, View::Search);
    update(&mut s, key(KeyCode::Esc));
    s.view = View::Queue;
    update(&mut s, click(5, LIST_TOP + 2));
    assert_eq!(s.queue_cursor.selected, 2);
    update(
        &mut s,
        Action::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollUp,
            column: 5,
            row: 5,
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(s.queue_cursor.selected, 0);
}

#[test]
fn keys_can_be_rebound_from_config() {
    let mut overrides = HashMap::new();
    overrides.insert("quit".to_string(), vec!["ctrl-q".to_string()]);
    overrides.insert("down".to_string(), vec!["n".to_string()]);
    let keymap = Keymap::with_overrides(&overrides).unwrap();
    let mut s = sample_state();
    s.keymap = keymap;
    assert!(update(&mut s, ch('q')).is_empty(), "q is no longer bound");
    assert_eq!(
        update(&mut s, ch('n')),
        vec![Effect::LoadAlbums(ArtistId(2))]
    );
    let ctrl_q = Action::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL));
    assert_eq!(update(&mut s, ctrl_q), vec![Effect::Quit]);

    let mut bad = HashMap::new();
    bad.insert("fly".to_string(), vec!["f".to_string()]);
    assert!(Keymap::with_overrides(&bad).is_err());
    let mut bad = HashMap::new();
    bad.insert("quit".to_string(), vec!["hyper-q".to_string()]);
    assert!(Keymap::with_overrides(&bad).is_err());
}

#[test]
fn remote_commands_produce_the_effects_of_the_keys() {
    let remote = |s: &mut AppState, c| update(s, Action::Remote(c));
    let mut s = sample_state();
    let mut keyed = sample_state();
    assert_eq!(
        remote(&mut s, RemoteCommand::PlayPause),
        update(&mut keyed, ch(' '))
    );
    assert_eq!(
        remote(&mut s, RemoteCommand::Next),
        update(&mut keyed, ch('>'))
    );
    assert_eq!(
        remote(&mut s, RemoteCommand::Previous),
        vec![Effect::PrevTrack]
    );
    assert_eq!(
        remote(&mut s, RemoteCommand::SeekBy(-10_000)),
        update(&mut keyed, ch('['))
    );
    // Play while playing and pause while paused do nothing; the others toggle.
    assert!(remote(&mut s, RemoteCommand::Play).is_empty());
    assert_eq!(
        remote(&mut s, RemoteCommand::Pause),
        vec![Effect::TogglePause]
    );
    s.playback.paused = true;
    assert!(remote(&mut s, RemoteCommand::Pause).is_empty());
    assert_eq!(
        remote(&mut s, RemoteCommand::Play),
        vec![Effect::TogglePause]
    );
    assert_eq!(remote(&mut s, RemoteCommand::Stop), vec![Effect::Stop]);
    // An absolute position becomes the seek that gets there (the player is at 12 s).
    assert_eq!(
        remote(&mut s, RemoteCommand::SetPosition(20_000)),
        vec![Effect::SeekBy(8_000)]
    );
    assert_eq!(
        remote(&mut s, RemoteCommand::SetVolume(50)),
        vec![Effect::SetVolume(50)]
    );
    assert_eq!(s.playback.volume, 50);
    assert_eq!(
        remote(&mut s, RemoteCommand::SetShuffle(true)),
        vec![Effect::SetShuffle(true)]
    );
    assert_eq!(
        remote(&mut s, RemoteCommand::SetRepeat(Repeat::One)),
        vec![Effect::SetRepeat(Repeat::One)]
    );
    assert!(s.playback.shuffle);
    // Nothing queued: play has nothing to play.
    let mut empty = AppState::new(Keymap::default(), String::new());
    assert!(remote(&mut empty, RemoteCommand::Play).is_empty());
}

const ART: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";

/// A 4x4 cover: red on the left half, blue on the right.
fn synthetic_cover() -> std::sync::Arc<Cover> {
    let image = image::RgbImage::from_fn(4, 4, |x, _| {
        if x < 2 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    std::sync::Arc::new(Cover::new(ART.into(), image))
}

#[test]
fn now_playing_draws_the_cover_left_of_the_text() {
    use ratatui::style::Color;
    let mut state = sample_state();
    state.view = View::NowPlaying;
    state.queue[0].cover_art = Some(ART.into());
    // Art for another track is not drawn: the view is exactly the one without art.
    let without = render(&state).backend().buffer().clone();
    let mut other = state.clone();
    other.cover = Some(std::sync::Arc::new(Cover::new(
        "b2".repeat(32),
        image::RgbImage::new(2, 2),
    )));
    assert_eq!(render(&other).backend().buffer(), &without);
    assert!(
        update(&mut other, Action::Cover(Some(synthetic_cover()))).is_empty(),
        "art for the playing track is kept"
    );
    assert!(other.cover.is_some());

    state.cover = Some(synthetic_cover());
    let terminal = render(&state);
    insta::assert_snapshot!("view_nowplaying_cover", terminal.backend());
    let buf = terminal.backend().buffer();
    // Inside the border (x 1, y 2): 18 rows of 36 half-block cells, then the text at x 38.
    let (art, rest) = view::cover_area(ratatui::layout::Rect::new(1, 2, 78, 19)).unwrap();
    assert_eq!((art.width, art.height, rest.x), (36, 18, 38));
    let left = &buf[(2, 3)];
    assert_eq!(left.symbol(), "▀");
    assert_eq!(left.fg, Color::Rgb(255, 0, 0));
    assert_eq!(left.bg, Color::Rgb(255, 0, 0));
    let right = &buf[(36, 19)];
    assert_eq!(right.symbol(), "▀");
    assert_eq!(right.fg, Color::Rgb(0, 0, 255));
    let title: String = (38..52).map(|x| buf[(x, 2)].symbol().to_string()).collect();
    assert_eq!(title, "Rue de la Lune");
    // Too narrow for art and text: text only, nothing broken.
    let mut small = Terminal::new(TestBackend::new(48, 24)).unwrap();
    small
        .draw(|f| view::draw(f, &state, &Theme::default()))
        .unwrap();
    assert!(
        (0..48).all(|x| small.backend().buffer()[(x, 3)].symbol() != "▀"),
        "no room: no art"
    );
}

#[test]
fn cover_art_files_load_downscaled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cover.png");
    image::RgbImage::from_pixel(300, 200, image::Rgb([10, 200, 30]))
        .save(&path)
        .unwrap();
    let cover = super::art::load(ART, &path).unwrap();
    assert_eq!(cover.hash, ART);
    assert_eq!(cover.image.width(), Cover::MAX_SIDE);
    assert!(cover.image.height() <= Cover::MAX_SIDE);
    let cells = cover.pixels(10, 5);
    assert_eq!((cells.width(), cells.height()), (10, 10));
    assert_eq!(cells.get_pixel(5, 5).0, [10, 200, 30]);
    // The audio cache keeps art under its hash, without an extension.
    let by_hash = dir.path().join(ART);
    std::fs::copy(&path, &by_hash).unwrap();
    assert_eq!(super::art::load(ART, &by_hash).unwrap().image, cover.image);
    std::fs::write(&path, b"not an image").unwrap();
    assert!(super::art::load(ART, &path).is_none());
}

/// Titles with CJK, emoji and combining marks: the time column ends at the same column on every
/// row, in For You, the Library's tracks and the Queue.
#[test]
fn wide_titles_keep_the_time_column_aligned() {
    let rows = vec![
        track(
            11,
            "夜の高速 (Night Highway)",
            "Neon Harbor",
            "夜",
            245,
            false,
        ),
        track(12, "東京 Nights", "Neon Harbor", "夜", 201, true),
        track(13, "🎧 Headphones On 🎶", "Marble & Moss", "x", 62, false),
        // "Café" with a combining acute accent.
        track(
            14,
            "Cafe\u{301} Noir",
            "E\u{301}lodie Marchand",
            "x",
            3599,
            false,
        ),
        track(
            15,
            "とても長いタイトルの曲はここで切られて時間の列は動かないはずです",
            "長い名前のアーティスト",
            "x",
            600,
            false,
        ),
    ];
    let mut state = sample_state();
    state.recommendations = rows.clone();
    state.view = View::Recommendations;
    let terminal = render(&state);
    insta::assert_snapshot!("wide_titles_for_you", terminal.backend());
    let buf = terminal.backend().buffer();
    let times = ["4:05", "3:21", "1:02", "59:59", "10:00"];
    for (i, time) in times.iter().enumerate() {
        let y = 2 + i as u16;
        // Inside the border the row ends at x 78: the time ends there.
        let end: String = (79 - time.len() as u16..79)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        assert_eq!(&end, time, "row {i}");
        assert_eq!(
            buf[(79 - time.len() as u16 - 1, y)].symbol(),
            " ",
            "row {i}"
        );
    }

    state.library.tracks = rows.clone();
    state.library.column = 2;
    state.view = View::Library;
    insta::assert_snapshot!("wide_titles_library", render(&state).backend());
    state.queue = rows;
    state.view = View::Queue;
    let terminal = render(&state);
    let buf = terminal.backend().buffer();
    for (i, time) in ["4:05", "3:21", "1:02", "59:59", "10:00"]
        .iter()
        .enumerate()
    {
        let y = 2 + i as u16;
        let end: String = (79 - time.len() as u16..79)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        assert_eq!(&end, time, "queue row {i}");
    }
}

const RUE_LRC: &str = "[00:01.50]Sous la lune de la rue\n[00:06.00]Les pavés chantent doucement\n\
                       [00:11.00]Un café, deux silhouettes\n[00:16.00]Et la nuit qui nous attend\n\
                       [00:22.00]La la la, rue de la Lune\n";

fn with_lyrics(text: Option<&str>, source: mixtape_shared::api::LyricsSource) -> AppState {
    let mut state = sample_state();
    state.view = View::NowPlaying;
    let id = state.now_playing().unwrap().id;
    let lyrics = text.and_then(|t| mixtape_shared::lyrics::parse(t, source));
    assert!(
        update(
            &mut state,
            Action::Lyrics(id, lyrics.map(std::sync::Arc::new))
        )
        .is_empty()
    );
    state
}

/// The row of the screen holding `needle`, if any.
fn row_with(terminal: &Terminal<TestBackend>, needle: &str) -> Option<u16> {
    let buf = terminal.backend().buffer();
    (0..buf.area.height).find(|&y| {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        line.contains(needle)
    })
}

#[test]
fn now_playing_follows_synced_lyrics_with_the_music() {
    use mixtape_shared::api::LyricsSource;
    let mut state = with_lyrics(Some(RUE_LRC), LyricsSource::Lrc);
    state.playback.position_ms = 2_000;
    let early = render(&state);
    insta::assert_snapshot!("nowplaying_lyrics_synced_early", early.backend());
    assert_eq!(
        row_with(&early, "▸ Sous la lune"),
        row_with(&early, "Sous la lune"),
        "the first line is the one marked"
    );
    assert!(row_with(&early, "▸ Et la nuit").is_none());

    state.playback.position_ms = 17_000;
    let later = render(&state);
    insta::assert_snapshot!("nowplaying_lyrics_synced_later", later.backend());
    assert!(row_with(&later, "▸ Et la nuit qui nous attend").is_some());
    assert!(row_with(&later, "▸ Sous la lune").is_none());
    // Progress says what is left.
    assert!(row_with(&later, "0:17 / 0:31 · -0:14").is_some());
    // Up next: the rest of the queue (repeat all wraps to its start).
    assert!(row_with(&later, "Up next").is_some());
    assert!(row_with(&later, "Slow Espresso — The Paper Lanterns").is_some());

    // Lyrics that arrive for another track (the one that just ended) are not shown.
    let mut other = sample_state();
    other.view = View::NowPlaying;
    update(
        &mut other,
        Action::Lyrics(
            TrackId(99),
            mixtape_shared::lyrics::parse(RUE_LRC, LyricsSource::Lrc).map(std::sync::Arc::new),
        ),
    );
    assert!(other.lyrics.is_none());
}

#[test]
fn now_playing_shows_plain_lyrics_scrollable_and_says_when_there_are_none() {
    use mixtape_shared::api::LyricsSource;
    let plain: String = (1..=14)
        .map(|i| format!("Verse line number {i}\n"))
        .collect();
    let mut state = with_lyrics(Some(&plain), LyricsSource::Embedded);
    let terminal = render(&state);
    insta::assert_snapshot!("nowplaying_lyrics_plain", terminal.backend());
    assert!(row_with(&terminal, "Verse line number 1").is_some());
    assert!(
        row_with(&terminal, "▸").is_none(),
        "plain lyrics mark no line"
    );
    // The list keys scroll them.
    update(&mut state, key(KeyCode::Down));
    update(&mut state, key(KeyCode::Down));
    let scrolled = render(&state);
    assert!(row_with(&scrolled, "Verse line number 1 ").is_none());
    assert!(row_with(&scrolled, "Verse line number 3").is_some());

    let none = with_lyrics(None, LyricsSource::Embedded);
    let terminal = render(&none);
    insta::assert_snapshot!("nowplaying_lyrics_none", terminal.backend());
    assert!(row_with(&terminal, "No lyrics for this track.").is_some());
}

#[test]
fn the_queue_title_gives_total_and_remaining_time() {
    let mut state = sample_state();
    state.view = View::Queue;
    // Three tracks of 31 s, the first at 0:12.
    assert_eq!(view::queue_times(&state), (93_000, 81_000));
    let terminal = render(&state);
    assert!(row_with(&terminal, "Queue · 3 tracks · 1:33 · 1:21 left").is_some());
    state.playback.current = None;
    assert_eq!(view::queue_times(&state), (93_000, 93_000));
    state.queue = vec![track(1, "Long", "A", "B", 4000, false)];
    state.playback.current = Some(0);
    state.playback.position_ms = 0;
    assert_eq!(view::long_clock(view::queue_times(&state).0), "1:06:40");
}

/// A cover prepared for an image protocol is drawn through it: the escape sequence that carries
/// the image sits in the art's cells; other sizes (a resize, 80x24, tiny) draw without panicking.
#[test]
fn image_protocols_draw_the_cover_as_a_real_image() {
    use super::art::{ArtMode, prepare};
    for (mode, marker) in [
        (ArtMode::Kitty, "\u{1b}_G"),
        (ArtMode::Sixel, "\u{1b}P"),
        (ArtMode::Iterm2, "\u{1b}]1337;File="),
    ] {
        let mut state = sample_state();
        state.view = View::NowPlaying;
        state.queue[0].cover_art = Some(ART.into());
        let cover = Cover::new(
            ART.into(),
            image::RgbImage::from_pixel(64, 64, image::Rgb([200, 10, 10])),
        );
        state.cover = Some(std::sync::Arc::new(prepare(mode, (10, 20), cover)));
        let terminal = render(&state);
        let buf = terminal.backend().buffer();
        let (art, rest) = view::cover_area(ratatui::layout::Rect::new(1, 2, 78, 19)).unwrap();
        let carried = (art.y..art.bottom())
            .flat_map(|y| (art.x..art.right()).map(move |x| (x, y)))
            .any(|(x, y)| buf[(x, y)].symbol().contains(marker));
        assert!(carried, "{mode:?}: no {marker:?} in the art's cells");
        assert!(
            (art.y..art.bottom()).all(|y| buf[(art.x, y)].symbol() != "▀"),
            "{mode:?}: not half blocks"
        );
        // The text keeps its place beside the image.
        let title: String = (rest.x..rest.x + 14)
            .map(|x| buf[(x, 2)].symbol().to_string())
            .collect();
        assert_eq!(title, "Rue de la Lune", "{mode:?}");
        assert_eq!(
            buf[(79, 2)].symbol(),
            "│",
            "{mode:?}: the border beside stays"
        );
        for (w, h) in [(120, 40), (80, 24), (40, 10), (20, 5)] {
            let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
            t.draw(|f| view::draw(f, &state, &Theme::default()))
                .unwrap();
        }
    }
}

/// Beside the Library's lists, from 100 columns, the cover of the album whose tracks show; at
/// 80x24 the Library is as before.
#[test]
fn the_library_shows_the_album_cover_when_there_is_room() {
    let mut state = sample_state();
    state.library.column = 1;
    for t in &mut state.library.tracks {
        t.cover_art = Some(ART.into());
    }
    let narrow = render(&state).backend().buffer().clone();
    // Art for another album is dropped.
    update(
        &mut state,
        Action::AlbumCover(Some(std::sync::Arc::new(Cover::new(
            "c3".repeat(32),
            image::RgbImage::new(2, 2),
        )))),
    );
    assert!(state.album_cover.is_none());
    update(&mut state, Action::AlbumCover(Some(synthetic_cover())));
    assert!(state.album_cover.is_some());
    assert_eq!(
        render(&state).backend().buffer(),
        &narrow,
        "80x24 unchanged"
    );

    let mut wide = Terminal::new(TestBackend::new(120, 40)).unwrap();
    wide.draw(|f| view::draw(f, &state, &Theme::default()))
        .unwrap();
    insta::assert_snapshot!("library_album_cover_120x40", wide.backend());
    let buf = wide.backend().buffer();
    let (outer, lists) =
        view::library_cover_area(ratatui::layout::Rect::new(0, 1, 120, 37)).unwrap();
    assert_eq!((outer.width, outer.height, lists.width), (34, 18, 86));
    assert_eq!(buf[(outer.x + 1, outer.y + 1)].symbol(), "▀");
    assert_eq!(
        buf[(outer.x + 1, outer.y + 1)].fg,
        ratatui::style::Color::Rgb(255, 0, 0)
    );
    // The tracks column ends where the cover begins, its durations intact.
    let time: String = (lists.right() - 5..lists.right() - 1)
        .map(|x| buf[(x, 2)].symbol().to_string())
        .collect();
    assert_eq!(time, "0:31");
}
