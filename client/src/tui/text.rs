//! Text measured as the terminal shows it: display width by grapheme (a CJK character or an
//! emoji takes two columns, a combining mark none), the same way ratatui's buffer places it, so
//! a column laid out here stays where it is drawn.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Columns `s` takes on screen.
pub fn width(s: &str) -> usize {
    s.graphemes(true).map(UnicodeWidthStr::width).sum()
}

/// `s` cut to at most `max` columns, ending in '…' when something was cut. Whole graphemes only:
/// a base character keeps its combining marks, and a wide character that would straddle the
/// limit is left out.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let room = max - 1;
    let mut out = String::new();
    let mut used = 0;
    for g in s.graphemes(true) {
        let w = UnicodeWidthStr::width(g);
        if used + w > room {
            break;
        }
        used += w;
        out.push_str(g);
    }
    out.push('…');
    out
}

/// `left`, cut to fit, then spaces, then `right` flush against column `width`; at least one
/// space between them. `right` is assumed to fit.
pub fn two_columns(left: &str, right: &str, total: usize) -> (String, String) {
    let right_w = width(right);
    let room = total.saturating_sub(right_w + 1);
    let left = truncate(left, room);
    let pad = total.saturating_sub(width(&left) + right_w).max(1);
    (left, " ".repeat(pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_and_zero_width_characters_are_measured_as_drawn() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("東京 Nights"), 11);
        assert_eq!(width("夜の高速"), 8);
        assert_eq!(width("🎧 mix"), 6);
        // e + combining acute: one column.
        assert_eq!(width("Cafe\u{301}"), 4);
    }

    #[test]
    fn truncation_counts_columns_and_keeps_graphemes_whole() {
        assert_eq!(truncate("東京 Nights", 20), "東京 Nights");
        assert_eq!(truncate("東京 Nights", 5), "東京…");
        // A wide character that would straddle the limit is left out, not split.
        assert_eq!(truncate("東京 Nights", 4), "東…");
        assert_eq!(width(&truncate("夜の高速道路", 6)), 5);
        // The combining mark stays with its base.
        assert_eq!(truncate("Cafe\u{301} Noir", 6), "Cafe\u{301} …");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate("abc", 1), "…");
    }

    #[test]
    fn the_right_column_ends_at_the_same_column_whatever_the_left_holds() {
        for left in [
            "plain title",
            "夜の高速 (Night Highway) — Neon Harbor",
            "🎧🎧🎧",
            "e\u{301}",
        ] {
            let (l, pad) = two_columns(left, "3:45", 30);
            assert_eq!(width(&l) + pad.len() + 4, 30, "{left}");
        }
    }
}
