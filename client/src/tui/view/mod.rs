//! Drawing: one function per view over `&AppState`, plus the tab bar, the status line, the help
//! overlay and prompts. Nothing here changes state; layouts fit 80x24 and grow with the terminal.

use super::keymap::Command;
use super::state::{AppState, Cursor, PromptKind, TrackRow, View};
use super::text;
use super::theme::Theme;
use crate::connectivity::Link;
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Gauge, List, ListItem, ListState, Paragraph, Wrap};

mod now_playing;

pub use now_playing::cover_area;
use now_playing::draw_now_playing;

pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// A total that may pass an hour: `1:02:03`, else as [`clock`].
pub fn long_clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        clock(ms)
    }
}

pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Rows a list gets in the body (tab bar, borders and status line taken off).
pub fn page_rows(height: u16) -> usize {
    height.saturating_sub(5).max(1) as usize
}

pub fn draw(frame: &mut Frame, state: &AppState, theme: &Theme) {
    let [tabs, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    draw_tabs(frame, tabs, state, theme);
    match state.view {
        View::Library => draw_library(frame, body, state, theme),
        View::Search => draw_search(frame, body, state, theme),
        View::Playlists => draw_playlists(frame, body, state, theme),
        View::Queue => draw_queue(frame, body, state, theme),
        View::NowPlaying => draw_now_playing(frame, body, state, theme),
        View::Recommendations => draw_recommendations(frame, body, state, theme),
        View::Downloads => draw_downloads(frame, body, state, theme),
    }
    draw_status(frame, status, state, theme);
    if let Some(prompt) = &state.prompt {
        draw_prompt(frame, state, prompt, theme);
    }
    if state.show_help {
        draw_help(frame, state, theme);
    }
}

fn draw_tabs(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let spans: Vec<Span> = View::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let text = format!(" {} {} ", i + 1, v.title());
            if *v == state.view {
                Span::styled(text, theme.tab_active())
            } else {
                Span::styled(text, theme.tab())
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn block<'a>(title: &'a str, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(if focused {
            theme.border_focus()
        } else {
            theme.border()
        })
}

/// A list scrolled page by page (the mouse handler relies on the same paging).
fn paged_list(
    frame: &mut Frame,
    area: Rect,
    items: Vec<ListItem>,
    cursor: &Cursor,
    focused: bool,
    title: &str,
    theme: &Theme,
) {
    let page = area.height.saturating_sub(2).max(1) as usize;
    let offset = (cursor.selected / page) * page;
    let mut list_state = ListState::default().with_offset(offset);
    if !items.is_empty() {
        list_state.select(Some(cursor.selected));
    }
    let list = List::new(items)
        .block(block(title, focused, theme))
        .highlight_style(if focused {
            theme.selected()
        } else {
            theme.selected_unfocused()
        });
    frame.render_stateful_widget(list, area, &mut list_state);
}

fn track_item<'a>(t: &TrackRow, playing: bool, width: u16, theme: &Theme) -> ListItem<'a> {
    ListItem::new(track_line(t, playing, width, theme))
}

/// A track as one row: a mark, "title — artists" cut to fit, the duration flush right.
fn track_line<'a>(t: &TrackRow, playing: bool, width: u16, theme: &Theme) -> Line<'a> {
    let mark = if playing {
        "▶ "
    } else if t.cached {
        "● "
    } else {
        "  "
    };
    let time = clock(t.duration_ms);
    // The mark (2 columns), the text, at least one space, the time flush right; measured in
    // display columns, so wide titles keep the time in its column.
    let (text, pad) = text::two_columns(
        &format!("{} — {}", t.title, t.artists),
        &time,
        (width as usize).saturating_sub(2),
    );
    Line::from(vec![
        Span::styled(mark, theme.accent()),
        Span::raw(text),
        Span::raw(pad),
        Span::styled(time, theme.dim()),
    ])
}

/// Room for the album's cover right of the Library's lists: the cover's area (a square in
/// half-block cells, inside a border) and what is left for the lists; `None` below 100 columns
/// or when the cover would be small.
pub fn library_cover_area(area: Rect) -> Option<(Rect, Rect)> {
    const LISTS: u16 = 66;
    if area.width < 100 || area.height < 8 {
        return None;
    }
    let rows = area.height.saturating_sub(2).min(16);
    let cols = (rows * 2).min(area.width - LISTS - 2);
    let rows = rows.min(cols / 2);
    if rows < 5 {
        return None;
    }
    let outer = Rect::new(
        area.right() - (rows * 2 + 2),
        area.y,
        rows * 2 + 2,
        rows + 2,
    );
    let lists = Rect::new(area.x, area.y, area.width - outer.width, area.height);
    Some((outer, lists))
}

fn draw_library(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let shown = super::art::album_art(state);
    let cover = state
        .album_cover
        .as_deref()
        .filter(|c| Some(&c.hash) == shown.as_ref());
    let area = match (cover, library_cover_area(area)) {
        (Some(cover), Some((outer, lists))) => {
            // Named after the tracks the art came from (the albums column may be ahead).
            let title = state
                .library
                .tracks
                .iter()
                .find(|t| t.cover_art.is_some())
                .map(|t| t.album.as_str())
                .unwrap_or("Cover");
            let frame_block = block(title, false, theme);
            let inner = frame_block.inner(outer);
            frame.render_widget(frame_block, outer);
            now_playing::draw_cover(frame, inner, cover);
            lists
        }
        _ => area,
    };
    let [artists, albums, tracks] = Layout::horizontal([
        Constraint::Percentage(28),
        Constraint::Percentage(30),
        Constraint::Percentage(42),
    ])
    .areas(area);
    let lib = &state.library;
    let items = lib
        .artists
        .iter()
        .map(|a| ListItem::new(a.name.clone()))
        .collect();
    paged_list(
        frame,
        artists,
        items,
        &lib.cursors[0],
        lib.column == 0,
        "Artists",
        theme,
    );
    let items = lib
        .albums
        .iter()
        .map(|a| {
            let year = a.year.map(|y| format!(" ({y})")).unwrap_or_default();
            ListItem::new(format!("{}{year}", a.title))
        })
        .collect();
    paged_list(
        frame,
        albums,
        items,
        &lib.cursors[1],
        lib.column == 1,
        "Albums",
        theme,
    );
    let playing = state.now_playing().map(|t| t.id);
    let items = lib
        .tracks
        .iter()
        .map(|t| {
            track_item(
                t,
                Some(t.id) == playing,
                tracks.width.saturating_sub(2),
                theme,
            )
        })
        .collect();
    paged_list(
        frame,
        tracks,
        items,
        &lib.cursors[2],
        lib.column == 2,
        "Tracks",
        theme,
    );
}

fn draw_search(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let [input, results] =
        Layout::vertical([Constraint::Length(3), Constraint::Min(1)]).areas(area);
    let cursor = if state.search.editing { "█" } else { "" };
    let where_ = match state.link {
        Link::Online => "Search",
        Link::Offline => "Search (offline: local catalog)",
    };
    frame.render_widget(
        Paragraph::new(format!("{}{cursor}", state.search.input)).block(block(
            where_,
            state.search.editing,
            theme,
        )),
        input,
    );
    let playing = state.now_playing().map(|t| t.id);
    let items = state
        .search
        .results
        .iter()
        .map(|t| {
            track_item(
                t,
                Some(t.id) == playing,
                results.width.saturating_sub(2),
                theme,
            )
        })
        .collect();
    let title = if state.search.input.is_empty() {
        "Type to search titles, artists and albums".to_string()
    } else {
        format!("{} results", state.search.results.len())
    };
    paged_list(
        frame,
        results,
        items,
        &state.search.cursor,
        !state.search.editing,
        &title,
        theme,
    );
}

fn draw_playlists(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let [list, entries] =
        Layout::horizontal([Constraint::Percentage(35), Constraint::Percentage(65)]).areas(area);
    let pl = &state.playlists;
    let items = pl
        .list
        .iter()
        .map(|p| {
            let mut flags = String::new();
            if p.offline {
                flags.push_str(" ⤓");
            }
            if p.pending_ops > 0 {
                flags.push_str(" ✎");
            }
            ListItem::new(format!("{} ({}){flags}", p.name, p.entries))
        })
        .collect();
    paged_list(
        frame,
        list,
        items,
        &pl.cursors[0],
        pl.column == 0,
        "Playlists",
        theme,
    );
    let playing = state.now_playing().map(|t| t.id);
    let items = pl
        .entries
        .iter()
        .map(|(_, t)| {
            track_item(
                t,
                Some(t.id) == playing,
                entries.width.saturating_sub(2),
                theme,
            )
        })
        .collect();
    let title = match pl.list.get(pl.cursors[0].selected) {
        Some(p) if p.offline => format!("{} · kept offline", p.name),
        Some(p) => p.name.clone(),
        None => "No playlists: N makes one".into(),
    };
    paged_list(
        frame,
        entries,
        items,
        &pl.cursors[1],
        pl.column == 1,
        &title,
        theme,
    );
}

fn draw_queue(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let items = state
        .queue
        .iter()
        .enumerate()
        .map(|(i, t)| track_item(t, state.playback.current == Some(i), area.width - 2, theme))
        .collect();
    let (total, left) = queue_times(state);
    let title = format!(
        "Queue · {} tracks · {} · {} left · shuffle {} · repeat {}",
        state.queue.len(),
        long_clock(total),
        long_clock(left),
        if state.playback.shuffle { "on" } else { "off" },
        state.playback.repeat.label()
    );
    paged_list(frame, area, items, &state.queue_cursor, true, &title, theme);
}

/// The queue's total time, and what is left of it from the playing position (everything when
/// nothing plays).
pub fn queue_times(state: &AppState) -> (u64, u64) {
    let total = state.queue.iter().map(|t| t.duration_ms).sum();
    let left = match state.playback.current {
        Some(i) if i < state.queue.len() => {
            let current = state.queue[i]
                .duration_ms
                .saturating_sub(state.playback.position_ms);
            current
                + state.queue[i + 1..]
                    .iter()
                    .map(|t| t.duration_ms)
                    .sum::<u64>()
        }
        _ => total,
    };
    (total, left)
}

fn draw_recommendations(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    if state.recommendations.is_empty() {
        let note = if state.recommendations_note.is_empty() {
            "Loading recommendations…"
        } else {
            &state.recommendations_note
        };
        frame.render_widget(
            Paragraph::new(note.to_string())
                .style(theme.dim())
                .wrap(Wrap { trim: true })
                .block(block("For You", true, theme)),
            area,
        );
        return;
    }
    let items = state
        .recommendations
        .iter()
        .map(|t| track_item(t, false, area.width - 2, theme))
        .collect();
    let title = if state.recommendations_note.is_empty() {
        "For You".to_string()
    } else {
        format!("For You · {}", state.recommendations_note)
    };
    paged_list(frame, area, items, &state.queue_cursor, true, &title, theme);
}

fn draw_downloads(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let outer = block("Downloads", true, theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let d = &state.downloads;
    let [cache, text, progress, _] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(7),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    let ratio = if d.cache_cap == 0 {
        0.0
    } else {
        (d.cache_used as f64 / d.cache_cap as f64).clamp(0.0, 1.0)
    };
    frame.render_widget(
        Gauge::default()
            .gauge_style(theme.accent())
            .ratio(ratio)
            .label(format!("cache {} of {}", mb(d.cache_used), mb(d.cache_cap))),
        cache,
    );
    let lines = vec![
        Line::from(format!(
            "{} files cached, {} pinned for offline playlists, {} partial",
            d.cached_files,
            d.pinned_files,
            mb(d.partial_bytes)
        )),
        Line::from(format!(
            "{} playlist edits and {} play events waiting to be sent",
            d.pending_ops, d.pending_events
        )),
        Line::from(format!(
            "server {} · {}",
            state.server,
            match state.link {
                Link::Online => "online",
                Link::Offline => "offline",
            }
        )),
        Line::from(format!(
            "quality: stream {} · offline playlists {}",
            state.qualities.0, state.qualities.1
        )),
        Line::from(Span::styled(
            "o on a playlist keeps it offline · S syncs now",
            theme.dim(),
        )),
        // Most Subsonic apps log in with a token, which needs an app password: say how here,
        // where a listener looks for settings.
        Line::from(Span::styled(
            "Subsonic apps: this address · for token login: mixtape subsonic-password set",
            theme.dim(),
        )),
    ];
    frame.render_widget(Paragraph::new(lines), text);
    if let Some((name, done, total)) = &d.progress {
        let ratio = if *total == 0 {
            1.0
        } else {
            (*done as f64 / *total as f64).clamp(0.0, 1.0)
        };
        frame.render_widget(
            Gauge::default()
                .gauge_style(theme.accent())
                .ratio(ratio)
                .label(format!("{name}: {} of {}", mb(*done), mb(*total))),
            progress,
        );
    }
}

fn draw_status(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let [playing, line] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let now = match state.now_playing() {
        Some(t) => {
            let p = &state.playback;
            format!(
                "{} {} — {}  {} / {}",
                if p.paused { "⏸" } else { "▶" },
                t.title,
                t.artists,
                clock(p.position_ms),
                clock(t.duration_ms)
            )
        }
        None => "■ stopped".into(),
    };
    frame.render_widget(Paragraph::new(now).style(theme.title()), playing);
    let (link, link_style) = match state.link {
        Link::Online => ("● online", theme.online()),
        Link::Offline => ("○ offline", theme.offline()),
    };
    let mut spans = vec![Span::styled(link, link_style)];
    if !state.sync_status.is_empty() {
        spans.push(Span::raw(format!(" · {}", state.sync_status)));
    }
    let pending = state.downloads.pending_ops + state.downloads.pending_events;
    if pending > 0 {
        spans.push(Span::raw(format!(" · {pending} to send")));
    }
    if let Some(m) = &state.message {
        spans.push(Span::styled(format!(" · {m}"), theme.accent()));
    }
    let help = Span::styled("  ? help  q quit", theme.dim());
    let used: usize = spans.iter().map(|s| text::width(&s.content)).sum();
    if used + 16 <= area.width as usize {
        spans.push(help);
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), line);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn draw_prompt(frame: &mut Frame, state: &AppState, prompt: &super::state::Prompt, theme: &Theme) {
    let area = frame.area();
    match &prompt.kind {
        PromptKind::PickPlaylist(tracks) => {
            let mine: Vec<_> = state.playlists.list.iter().filter(|p| p.mine).collect();
            let rect = centered(area, 50, (mine.len() as u16 + 2).clamp(3, 14));
            frame.render_widget(Clear, rect);
            let title = format!("Add {} track(s) to… (esc cancels)", tracks.len());
            if mine.is_empty() {
                frame.render_widget(
                    Paragraph::new("No playlists of yours: N makes one.")
                        .block(block(&title, true, theme)),
                    rect,
                );
                return;
            }
            let items = mine.iter().map(|p| ListItem::new(p.name.clone())).collect();
            paged_list(frame, rect, items, &prompt.cursor, true, &title, theme);
        }
        kind => {
            let title = match kind {
                PromptKind::NewPlaylist => "New playlist name (enter saves, esc cancels)",
                _ => "Rename playlist (enter saves, esc cancels)",
            };
            let rect = centered(area, 60, 3);
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(format!("{}█", prompt.input)).block(block(title, true, theme)),
                rect,
            );
        }
    }
}

fn draw_help(frame: &mut Frame, state: &AppState, theme: &Theme) {
    let area = frame.area();
    let rect = centered(area, area.width.min(100), area.height);
    frame.render_widget(Clear, rect);
    let columns: usize = if rect.width >= 64 { 2 } else { 1 };
    let column_width = rect.width.saturating_sub(2) as usize / columns;
    let lines: Vec<Line> = Command::ALL
        .iter()
        .map(|c| {
            let keys = format!("{:<12}", state.keymap.keys_for(*c).join(" "));
            let help = text::truncate(
                c.help(),
                column_width.saturating_sub(text::width(&keys) + 1),
            );
            Line::from(vec![Span::styled(keys, theme.accent()), Span::raw(help)])
        })
        .collect();
    let outer = block(
        "Keys · any key closes · rebind in config.toml [keys]",
        true,
        theme,
    );
    let inner = outer.inner(rect);
    frame.render_widget(outer, rect);
    let per_column = lines.len().div_ceil(columns);
    let areas =
        Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns]).split(inner);
    for (i, chunk) in lines.chunks(per_column).enumerate() {
        frame.render_widget(
            Paragraph::new(chunk.to_vec()).alignment(Alignment::Left),
            areas[i],
        );
    }
}
