//! How the binaries' logs look: colour only on a terminal, and never with `NO_COLOR` set
//! (<https://no-color.org>: present and not empty).

use std::ffi::OsStr;

/// Whether log lines written to a stream get ANSI colour codes.
pub fn use_colour(stream_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stream_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// [`use_colour`] for this process's stderr and environment.
pub fn stderr_colour() -> bool {
    use std::io::IsTerminal;
    use_colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::use_colour;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some(OsStr::new(""))));
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(!use_colour(false, None));
        assert!(!use_colour(false, Some(OsStr::new("1"))));
    }
}
