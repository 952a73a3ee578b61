//! Now Playing: the cover (when loaded and there is room), title, artists, album, the format
//! line, progress with the time left, the lyrics following playback, and what comes next in the
//! queue. Fits 80x24; the lyrics pane takes whatever height is left.

use super::{block, clock, text, track_line};
use crate::tui::state::{AppState, Cover, Repeat, TrackRow};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::buffer::CellDiffOption;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Wrap};
use ratatui_image::StatefulImage;

/// At most this many upcoming tracks are listed.
const UP_NEXT: usize = 3;

pub fn draw_now_playing(frame: &mut Frame, area: Rect, state: &AppState, theme: &Theme) {
    let outer = block("Now Playing", true, theme);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let Some(track) = state.now_playing() else {
        frame.render_widget(
            Paragraph::new("Nothing playing. Pick a track in Library or Search and press enter.")
                .style(theme.dim())
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    };
    // The cover, when loaded for this track and there is room, left of the text.
    let inner = match state
        .cover
        .as_deref()
        .filter(|c| track.cover_art.as_deref() == Some(c.hash.as_str()))
    {
        Some(cover) => match cover_area(inner) {
            Some((art, rest)) => {
                draw_cover(frame, art, cover);
                rest
            }
            None => inner,
        },
        None => inner,
    };
    let next = up_next(state);
    let next_rows = if next.is_empty() {
        0
    } else {
        next.len() as u16 + 1
    };
    let [header, gauge, lyrics, coming] = Layout::vertical([
        Constraint::Length(5),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(next_rows),
    ])
    .areas(inner);
    draw_header(frame, header, state, track, theme);
    draw_progress(frame, gauge, state, track, theme);
    draw_lyrics(frame, lyrics, state, track, theme);
    if !next.is_empty() {
        let title = Block::default()
            .borders(Borders::TOP)
            .border_style(theme.border())
            .title(Span::styled(" Up next ", theme.dim()));
        let rows = title.inner(coming);
        frame.render_widget(title, coming);
        let lines: Vec<Line> = next
            .iter()
            .map(|t| track_line(t, false, rows.width, theme))
            .collect();
        frame.render_widget(Paragraph::new(lines), rows);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, state: &AppState, track: &TrackRow, theme: &Theme) {
    let p = &state.playback;
    let status = if p.buffering {
        "buffering…"
    } else if p.paused {
        "paused"
    } else {
        "playing"
    };
    let width = area.width as usize;
    let lines = vec![
        Line::from(Span::styled(
            text::truncate(&track.title, width),
            theme.title(),
        )),
        Line::from(text::truncate(&track.artists, width)),
        Line::from(Span::styled(
            text::truncate(&track.album, width),
            theme.dim(),
        )),
        Line::from(""),
        Line::from(text::truncate(
            &format!(
                "{status} · volume {}% · {}",
                p.volume,
                if p.format.is_empty() {
                    "…"
                } else {
                    &p.format
                }
            ),
            width,
        )),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_progress(frame: &mut Frame, area: Rect, state: &AppState, track: &TrackRow, theme: &Theme) {
    let p = &state.playback;
    let ratio = if track.duration_ms == 0 {
        0.0
    } else {
        (p.position_ms as f64 / track.duration_ms as f64).clamp(0.0, 1.0)
    };
    let left = track.duration_ms.saturating_sub(p.position_ms);
    frame.render_widget(
        Gauge::default()
            .gauge_style(theme.accent())
            .ratio(ratio)
            .label(format!(
                "{} / {} · -{}",
                clock(p.position_ms),
                clock(track.duration_ms),
                clock(left)
            )),
        area,
    );
}

/// The lyrics under a rule: synced ones with the sung line marked and kept in view, plain ones
/// from where they were scrolled to, or a quiet note.
fn draw_lyrics(frame: &mut Frame, area: Rect, state: &AppState, track: &TrackRow, theme: &Theme) {
    if area.height < 2 {
        return;
    }
    let rule = Block::default()
        .borders(Borders::TOP)
        .border_style(theme.border())
        .title(Span::styled(" Lyrics ", theme.dim()));
    let rows = rule.inner(area);
    frame.render_widget(rule, area);
    let note = |frame: &mut Frame, note: &str| {
        frame.render_widget(Paragraph::new(note.to_string()).style(theme.dim()), rows);
    };
    let Some(pane) = state.lyrics.as_ref().filter(|p| p.track == track.id) else {
        return note(frame, "Looking for lyrics…");
    };
    let Some(lyrics) = pane.lyrics.as_deref() else {
        return note(frame, "No lyrics for this track.");
    };
    let position = state.playback.position_ms;
    let first = pane.first_row(position, rows.height as usize);
    let current = lyrics.line_at(position);
    let width = rows.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = lyrics
        .lines
        .iter()
        .enumerate()
        .skip(first)
        .take(rows.height as usize)
        .map(|(i, l)| {
            let text = text::truncate(&l.text, width);
            if Some(i) == current {
                Line::from(vec![
                    Span::styled("▸ ", theme.accent()),
                    Span::styled(text, theme.title().add_modifier(Modifier::BOLD)),
                ])
            } else if current.is_some_and(|c| i < c) {
                Line::from(Span::styled(format!("  {text}"), theme.dim()))
            } else {
                Line::from(format!("  {text}"))
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), rows);
}

/// The tracks after the playing one, in queue order (from the start again under repeat all).
fn up_next(state: &AppState) -> Vec<&TrackRow> {
    let Some(current) = state.playback.current else {
        return Vec::new();
    };
    let after = state.queue.iter().skip(current + 1);
    let next: Vec<&TrackRow> = if state.playback.repeat == Repeat::All {
        after
            .chain(state.queue.iter().take(current))
            .take(UP_NEXT)
            .collect()
    } else {
        after.take(UP_NEXT).collect()
    };
    next
}

/// Splits Now Playing's inner area into the cover (a square: twice as many columns as rows,
/// since a cell holds two pixels one above the other) and the rest, keeping at least 40
/// columns for the text; `None` when the cover would be too small to be worth drawing.
pub fn cover_area(inner: Rect) -> Option<(Rect, Rect)> {
    const TEXT: u16 = 40;
    let rows = inner
        .height
        .min(inner.width.saturating_sub(TEXT + 1) / 2)
        .min(20);
    if rows < 6 {
        return None;
    }
    let art = Rect::new(inner.x, inner.y, rows * 2, rows);
    let rest = Rect::new(
        inner.x + art.width + 1,
        inner.y,
        inner.width - art.width - 1,
        inner.height,
    );
    Some((art, rest))
}

/// Through the image protocol when the cover has one, else half blocks: each cell shows two pixels, the top one as '▀' in the foreground colour and the
/// bottom one as the background.
pub(super) fn draw_cover(frame: &mut Frame, area: Rect, cover: &Cover) {
    if let Some(protocol) = &cover.protocol {
        // The real image, fitted into the square; ratatui-image re-encodes it on a resize.
        let mut protocol = protocol.lock().unwrap_or_else(|e| e.into_inner());
        frame.render_stateful_widget(StatefulImage::default(), area, &mut *protocol);
        // ratatui-image puts each row's escape sequence in the row's first cell; ratatui would
        // take its length for a width and skip the text beside the image. It takes one cell.
        let one = CellDiffOption::ForcedWidth(std::num::NonZeroU16::MIN);
        let buf = frame.buffer_mut();
        for y in area.top()..area.bottom() {
            for x in area.left()..area.right() {
                if let Some(cell) = buf.cell_mut((x, y))
                    && cell.symbol().contains('\u{1b}')
                {
                    cell.set_diff_option(one);
                }
            }
        }
        return;
    }
    let pixels = cover.pixels(area.width, area.height);
    let buf = frame.buffer_mut();
    for y in 0..area.height {
        for x in 0..area.width {
            let top = pixels.get_pixel(x as u32, y as u32 * 2).0;
            let bottom = pixels.get_pixel(x as u32, y as u32 * 2 + 1).0;
            if let Some(cell) = buf.cell_mut((area.x + x, area.y + y)) {
                cell.set_symbol("▀")
                    .set_fg(Color::Rgb(top[0], top[1], top[2]))
                    .set_bg(Color::Rgb(bottom[0], bottom[1], bottom[2]));
            }
        }
    }
}
