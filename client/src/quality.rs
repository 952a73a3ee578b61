//! Stream and download qualities: a transcoding profile id of the server (`original`, `opus-96`,
//! ...). The settings hold ids; whether the server offers one is asked when it is used, since
//! profiles are the server's and a config file may outlive a server change.

use crate::api::{ApiClient, ApiError};

/// The file as stored: always offered, needs no transcoding.
pub const ORIGINAL: &str = "original";

#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error("{0:?} is not a quality name (letters, digits and '-', like opus-96)")]
    Malformed(String),
    #[error("the server has no quality {wanted:?}; it offers {}", offered.join(", "))]
    Unknown {
        wanted: String,
        offered: Vec<String>,
    },
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl QualityError {
    pub fn is_offline(&self) -> bool {
        matches!(self, QualityError::Api(e) if e.is_offline())
    }
}

/// Refuses what cannot be a profile id (it becomes part of a URL and of cache keys).
pub fn check_syntax(id: &str) -> Result<(), QualityError> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(QualityError::Malformed(id.to_owned()))
    }
}

/// Checks `id` against the server's `/api/v1/profiles`. `original` needs no server.
pub fn check_offered(api: &ApiClient, id: &str) -> Result<(), QualityError> {
    check_syntax(id)?;
    if id == ORIGINAL {
        return Ok(());
    }
    let offered: Vec<String> = api.profiles()?.into_iter().map(|p| p.id).collect();
    if offered.iter().any(|p| p == id) {
        Ok(())
    } else {
        Err(QualityError::Unknown {
            wanted: id.to_owned(),
            offered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_names_are_checked_before_they_reach_a_url() {
        for ok in ["original", "opus-96", "mp3-320"] {
            check_syntax(ok).unwrap();
        }
        for bad in ["", "Opus-96", "../x", "opus 96", &"a".repeat(33)] {
            assert!(
                matches!(check_syntax(bad), Err(QualityError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
