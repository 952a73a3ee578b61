//! Colours, from `[theme]` in config.toml (names like "cyan", "lightblue", or "#rrggbb").

pub use crate::settings::ThemeConfig;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub accent: Color,
    pub selected_bg: Color,
    pub border: Color,
    pub dim: Color,
    pub online: Color,
    pub offline: Color,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            accent: Color::Cyan,
            selected_bg: Color::Blue,
            border: Color::DarkGray,
            dim: Color::Gray,
            online: Color::Green,
            offline: Color::Yellow,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("theme colour {key} = {value:?} is not a colour name or #rrggbb")]
pub struct ThemeError {
    pub key: &'static str,
    pub value: String,
}

impl Theme {
    pub fn from_config(c: &ThemeConfig) -> Result<Self, ThemeError> {
        let mut t = Theme::default();
        for (key, value, slot) in [
            ("accent", &c.accent, &mut t.accent),
            ("selected_bg", &c.selected_bg, &mut t.selected_bg),
            ("border", &c.border, &mut t.border),
            ("dim", &c.dim, &mut t.dim),
            ("online", &c.online, &mut t.online),
            ("offline", &c.offline, &mut t.offline),
        ] {
            if let Some(v) = value {
                *slot = v.parse().map_err(|_| ThemeError {
                    key,
                    value: v.clone(),
                })?;
            }
        }
        Ok(t)
    }

    pub fn tab(&self) -> Style {
        Style::new().fg(self.dim)
    }
    pub fn tab_active(&self) -> Style {
        Style::new()
            .fg(Color::Black)
            .bg(self.accent)
            .add_modifier(Modifier::BOLD)
    }
    pub fn border(&self) -> Style {
        Style::new().fg(self.border)
    }
    pub fn border_focus(&self) -> Style {
        Style::new().fg(self.accent)
    }
    pub fn selected(&self) -> Style {
        Style::new()
            .bg(self.selected_bg)
            .add_modifier(Modifier::BOLD)
    }
    pub fn selected_unfocused(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn accent(&self) -> Style {
        Style::new().fg(self.accent)
    }
    pub fn dim(&self) -> Style {
        Style::new().fg(self.dim)
    }
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn online(&self) -> Style {
        Style::new().fg(self.online)
    }
    pub fn offline(&self) -> Style {
        Style::new().fg(self.offline).add_modifier(Modifier::BOLD)
    }
}
