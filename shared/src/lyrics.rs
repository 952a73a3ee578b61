//! Lyrics text as it is found in the wild, turned into [`Lyrics`]: LRC (`[mm:ss.xx]` stamps,
//! several per line, `[offset:]`, `[la:]`, enhanced `<mm:ss.xx>` word stamps) or plain text; and
//! which line is sung at a position. The server parses sidecar `.lrc` files and lyrics tags with
//! it; the client follows playback with [`Lyrics::line_at`].

use crate::api::{LyricLine, Lyrics, LyricsSource};

/// The most lines kept from one text: a runaway file does not become a runaway answer.
pub const MAX_LINES: usize = 5_000;
/// The longest text read; longer input is cut there.
pub const MAX_TEXT: usize = 512 * 1024;

/// Reads `text` as LRC when it has at least one time stamp, else as plain lyrics (one line per
/// line, blank lines at the ends dropped). `None` when nothing is left. Lines an LRC file
/// cannot hold (no stamp, a broken stamp) are skipped; a stamped line with no text is kept as
/// an empty line, an instrumental break.
pub fn parse(text: &str, source: LyricsSource) -> Option<Lyrics> {
    let text = cut(text.trim_start_matches('\u{feff}'), MAX_TEXT);
    let mut offset_ms: i64 = 0;
    let mut lang: Option<String> = None;
    let mut stamped: Vec<(u64, usize, String)> = Vec::new();
    let mut plain: Vec<String> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let (tags, rest) = leading_tags(line);
        let mut times = Vec::new();
        let mut header = false;
        for tag in tags {
            if let Some(ms) = stamp(tag) {
                times.push(ms);
                continue;
            }
            let Some((key, value)) = tag.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
                continue;
            }
            header = true;
            let value = value.trim();
            match key.as_str() {
                "offset" => offset_ms = value.trim_start_matches('+').parse().unwrap_or(0),
                "la" | "lang" | "language" if !value.is_empty() => lang = Some(value.to_string()),
                _ => {}
            }
        }
        if times.is_empty() {
            // `[ar:…]` header lines are not lyrics; `[Chorus]` in plain text is.
            if !(header && rest.is_empty()) {
                plain.push(line.to_string());
            }
            continue;
        }
        let words = strip_word_stamps(rest).trim().to_string();
        for ms in times {
            stamped.push((ms, n, words.clone()));
        }
    }
    if !stamped.is_empty() {
        // Several stamps on a line give it several places; file order breaks ties.
        stamped.sort_by_key(|(ms, n, _)| (*ms, *n));
        stamped.truncate(MAX_LINES);
        // A positive offset shows lyrics earlier (the LRC convention).
        let lines = stamped
            .into_iter()
            .map(|(ms, _, text)| LyricLine {
                start_ms: Some((ms as i64 - offset_ms).max(0) as u64),
                text,
            })
            .collect();
        return Some(Lyrics {
            synced: true,
            lines,
            source,
            lang,
        });
    }
    plain_lyrics(plain, source, lang)
}

/// Plain lyrics from lines of text, without looking for stamps (ID3 USLT is always plain).
pub fn plain(text: &str, source: LyricsSource) -> Option<Lyrics> {
    let text = cut(text.trim_start_matches('\u{feff}'), MAX_TEXT);
    plain_lyrics(
        text.lines().map(|l| l.trim().to_string()).collect(),
        source,
        None,
    )
}

/// Lyrics from time-stamped lines (ID3 SYLT), sorted by time.
pub fn synced(mut lines: Vec<(u64, String)>, source: LyricsSource) -> Option<Lyrics> {
    lines.retain(|(_, t)| t.len() <= MAX_TEXT);
    if lines.is_empty() {
        return None;
    }
    lines.sort_by_key(|(ms, _)| *ms);
    lines.truncate(MAX_LINES);
    Some(Lyrics {
        synced: true,
        lines: lines
            .into_iter()
            .map(|(ms, text)| LyricLine {
                start_ms: Some(ms),
                // SYLT lines often carry their own line break at the start or end.
                text: text.trim().to_string(),
            })
            .collect(),
        source,
        lang: None,
    })
}

fn plain_lyrics(
    mut lines: Vec<String>,
    source: LyricsSource,
    lang: Option<String>,
) -> Option<Lyrics> {
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let first = lines.iter().position(|l| !l.is_empty())?;
    lines.drain(..first);
    lines.truncate(MAX_LINES);
    Some(Lyrics {
        synced: false,
        lines: lines
            .into_iter()
            .map(|text| LyricLine {
                start_ms: None,
                text,
            })
            .collect(),
        source,
        lang,
    })
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The `[...]` groups at the start of a line and what follows them.
fn leading_tags(line: &str) -> (Vec<&str>, &str) {
    let mut tags = Vec::new();
    let mut rest = line;
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        tags.push(&inner[..close]);
        rest = inner[close + 1..].trim_start();
    }
    (tags, rest)
}

/// `mm:ss`, `mm:ss.x`, `mm:ss.xx`, `mm:ss.xxx` or `mm:ss:xx` (a colon before the hundredths,
/// as some editors write), in milliseconds.
fn stamp(tag: &str) -> Option<u64> {
    let (min, rest) = tag.trim().split_once(':')?;
    let (sec, frac) = match rest.split_once(['.', ':']) {
        Some((s, f)) => (s, Some(f)),
        None => (rest, None),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(min) || !digits(sec) {
        return None;
    }
    let min: u64 = min.parse().ok()?;
    let sec: u64 = sec.parse().ok()?;
    if sec >= 60 {
        return None;
    }
    let frac_ms = match frac {
        None => 0,
        Some(f) if digits(f) => {
            let value: u64 = f.parse().ok()?;
            match f.len() {
                1 => value * 100,
                2 => value * 10,
                _ => value,
            }
        }
        Some(_) => return None,
    };
    Some(min * 60_000 + sec * 1000 + frac_ms)
}

/// Enhanced LRC puts a `<mm:ss.xx>` before words; the text is what is left.
fn strip_word_stamps(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        match rest[open + 1..].find('>') {
            Some(close) if stamp(&rest[open + 1..open + 1 + close]).is_some() => {
                out.push_str(&rest[..open]);
                rest = &rest[open + close + 2..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    // Word stamps leave doubled spaces behind.
    out.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Lyrics {
    /// The line sung at `position_ms`: the last line that has started. `None` before the first
    /// line and for plain lyrics.
    pub fn line_at(&self, position_ms: u64) -> Option<usize> {
        if !self.synced {
            return None;
        }
        let started = self
            .lines
            .partition_point(|l| l.start_ms.is_some_and(|s| s <= position_ms));
        started.checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(l: &Lyrics) -> Vec<(Option<u64>, &str)> {
        l.lines
            .iter()
            .map(|l| (l.start_ms, l.text.as_str()))
            .collect()
    }

    #[test]
    fn stamps_in_every_common_spelling() {
        let l = parse(
            "[00:01]one\n[00:02.5]two\n[00:03.25]three\n[00:04.125]four\n[00:05:50]five\n[1:06.00]six",
            LyricsSource::Lrc,
        )
        .unwrap();
        assert!(l.synced);
        assert_eq!(
            times(&l),
            vec![
                (Some(1000), "one"),
                (Some(2500), "two"),
                (Some(3250), "three"),
                (Some(4125), "four"),
                (Some(5500), "five"),
                (Some(66_000), "six"),
            ]
        );
    }

    #[test]
    fn several_stamps_on_a_line_repeat_it_in_time_order() {
        let l = parse(
            "[00:10.00][00:30.00]Chorus line\n[00:20.00]Verse line\n",
            LyricsSource::Lrc,
        )
        .unwrap();
        assert_eq!(
            times(&l),
            vec![
                (Some(10_000), "Chorus line"),
                (Some(20_000), "Verse line"),
                (Some(30_000), "Chorus line"),
            ]
        );
    }

    #[test]
    fn header_tags_offset_language_bom_crlf_and_word_stamps() {
        let text = "\u{feff}[ti:Shibuya Rain]\r\n[ar:Neon Harbor]\r\n[la:jpn]\r\n[offset:+500]\r\n\
                    [length: 0:34]\r\n[00:02.00]<00:02.00>雨 <00:02.50>の <00:03.00>渋谷\r\n\
                    [00:00.20]starts before the offset\r\n";
        let l = parse(text, LyricsSource::Lrc).unwrap();
        assert_eq!(l.lang.as_deref(), Some("jpn"));
        // +500: shown half a second earlier, never before 0.
        assert_eq!(
            times(&l),
            vec![
                (Some(0), "starts before the offset"),
                (Some(1500), "雨 の 渋谷")
            ]
        );
        let later = parse("[offset:-250]\n[00:01.00]x", LyricsSource::Lrc).unwrap();
        assert_eq!(later.lines[0].start_ms, Some(1250));
    }

    #[test]
    fn bad_lines_are_skipped_and_breaks_kept() {
        let text = "[00:01.00]first\nno stamp here\n[xx:yy]broken\n[00:99.00]bad seconds\n\
                    [00:03.00]\n[00:04.00]last\n[unterminated";
        let l = parse(text, LyricsSource::Lrc).unwrap();
        assert_eq!(
            times(&l),
            vec![
                (Some(1000), "first"),
                (Some(3000), ""),
                (Some(4000), "last")
            ]
        );
    }

    #[test]
    fn text_without_stamps_is_plain_lyrics() {
        let l = parse("\n\nFirst line\n\nSecond verse\n\n", LyricsSource::Embedded).unwrap();
        assert!(!l.synced);
        assert_eq!(
            times(&l),
            vec![(None, "First line"), (None, ""), (None, "Second verse")]
        );
        assert_eq!(l.line_at(5000), None);
        assert!(parse("  \n\n", LyricsSource::Embedded).is_none());
        assert!(parse("[ar:Only Tags]\n[ti:Nothing]", LyricsSource::Lrc).is_none());
        // Brackets that are not stamps stay text in plain lyrics.
        let l = plain("[Chorus]\nla la", LyricsSource::Embedded).unwrap();
        assert_eq!(l.lines[0].text, "[Chorus]");
    }

    #[test]
    fn the_current_line_is_the_last_one_started() {
        let l = parse("[00:05.00]a\n[00:10.00]b\n[00:15.00]c", LyricsSource::Lrc).unwrap();
        assert_eq!(l.line_at(0), None);
        assert_eq!(l.line_at(4_999), None);
        assert_eq!(l.line_at(5_000), Some(0));
        assert_eq!(l.line_at(12_000), Some(1));
        assert_eq!(l.line_at(600_000), Some(2));
    }

    #[test]
    fn sylt_lines_are_sorted_and_trimmed() {
        let l = synced(
            vec![(2000, "\nsecond".into()), (1000, "first\n".into())],
            LyricsSource::Embedded,
        )
        .unwrap();
        assert_eq!(
            times(&l),
            vec![(Some(1000), "first"), (Some(2000), "second")]
        );
        assert!(synced(vec![], LyricsSource::Embedded).is_none());
    }

    proptest::proptest! {
        /// Whatever a file holds, parsing ends with lyrics or none, never a panic; synced
        /// lines come out in time order.
        #[test]
        fn any_text_parses_without_panicking(
            text in "([\\[\\]<>:.0-9a-zé渋\\n +-]|offset|la:){0,200}"
        ) {
            if let Some(l) = parse(&text, LyricsSource::Lrc)
                && l.synced
            {
                proptest::prop_assert!(l.lines.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
            }
            let _ = plain(&text, LyricsSource::Embedded);
        }
    }

    #[test]
    fn huge_input_is_bounded() {
        let text: String = (0..20_000)
            .map(|i| format!("[00:{:02}.00]l{i}\n", i % 60))
            .collect();
        assert_eq!(
            parse(&text, LyricsSource::Lrc).unwrap().lines.len(),
            MAX_LINES
        );
        let long = "é".repeat(MAX_TEXT);
        assert!(
            plain(&long, LyricsSource::Embedded).unwrap().lines[0]
                .text
                .len()
                <= MAX_TEXT
        );
    }
}
