//! Catalog rules that do not depend on storage: how names are compared, and how list requests
//! (sort, order, page size, cursor) are read from the API's query strings.

use crate::storage::{AlbumSort, ArtistSort, Cursor, PageRequest, SortOrder, TrackSort};
use mixtape_shared::api::PageQuery;

/// The comparison form of a name: compatibility-decomposed, without diacritics, lower case,
/// whitespace collapsed. "Café  Nocturne" and "cafe nocturne" are the same artist.
/// The search index folds queries with the same function, so stored text and queries agree.
pub fn fold(name: &str) -> String {
    mixtape_shared::search::fold(name)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ListError {
    #[error("unknown sort field {0:?}; expected one of: {1}")]
    UnknownSort(String, &'static str),
    #[error("order must be \"asc\" or \"desc\", not {0:?}")]
    BadOrder(String),
    #[error("limit must be between 1 and {max}")]
    BadLimit { max: u32 },
    #[error("cursor is not one this server issued")]
    BadCursor,
}

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

/// Sort fields a list accepts, by their API names.
pub trait SortField: Sized + Copy {
    const DEFAULT: Self;
    const NAMES: &'static str;
    fn parse(name: &str) -> Option<Self>;
}

impl SortField for TrackSort {
    const DEFAULT: Self = TrackSort::Title;
    const NAMES: &'static str = "title, artist, album, year, added";
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "title" => TrackSort::Title,
            "artist" => TrackSort::Artist,
            "album" => TrackSort::Album,
            "year" => TrackSort::Year,
            "added" => TrackSort::Added,
            _ => return None,
        })
    }
}

impl SortField for AlbumSort {
    const DEFAULT: Self = AlbumSort::Title;
    const NAMES: &'static str = "title, artist, year, added";
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "title" => AlbumSort::Title,
            "artist" => AlbumSort::Artist,
            "year" => AlbumSort::Year,
            "added" => AlbumSort::Added,
            _ => return None,
        })
    }
}

impl SortField for ArtistSort {
    const DEFAULT: Self = ArtistSort::Name;
    const NAMES: &'static str = "name, added";
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "name" => ArtistSort::Name,
            "added" => ArtistSort::Added,
            _ => return None,
        })
    }
}

/// Reads a page request from query parameters, rejecting anything malformed.
pub fn page_request<S: SortField>(q: &PageQuery) -> Result<PageRequest<S>, ListError> {
    let sort = match q.sort.as_deref() {
        None => S::DEFAULT,
        Some(name) => {
            S::parse(name).ok_or_else(|| ListError::UnknownSort(name.to_string(), S::NAMES))?
        }
    };
    let order = match q.order.as_deref() {
        None | Some("asc") => SortOrder::Asc,
        Some("desc") => SortOrder::Desc,
        Some(other) => return Err(ListError::BadOrder(other.to_string())),
    };
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ListError::BadLimit { max: MAX_PAGE });
    }
    let after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(Cursor::decode(c).map_err(|_| ListError::BadCursor)?),
    };
    Ok(PageRequest {
        sort,
        order,
        limit,
        after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_ignores_case_accents_and_spacing() {
        assert_eq!(fold("Café  Nocturne"), "cafe nocturne");
        assert_eq!(fold("SIGUR ÓSK"), "sigur osk");
        assert_eq!(fold("東京 Nights"), "東京 nights");
    }

    #[test]
    fn page_requests_reject_bad_input() {
        let q = |sort: Option<&str>,
                 order: Option<&str>,
                 limit: Option<u32>,
                 cursor: Option<&str>| PageQuery {
            sort: sort.map(Into::into),
            order: order.map(Into::into),
            limit,
            cursor: cursor.map(Into::into),
        };
        assert!(page_request::<AlbumSort>(&q(None, None, None, None)).is_ok());
        assert!(matches!(
            page_request::<AlbumSort>(&q(Some("bitrate"), None, None, None)),
            Err(ListError::UnknownSort(..))
        ));
        assert!(matches!(
            page_request::<AlbumSort>(&q(None, Some("up"), None, None)),
            Err(ListError::BadOrder(_))
        ));
        assert!(matches!(
            page_request::<AlbumSort>(&q(None, None, Some(0), None)),
            Err(ListError::BadLimit { .. })
        ));
        assert!(matches!(
            page_request::<AlbumSort>(&q(None, None, Some(501), None)),
            Err(ListError::BadLimit { .. })
        ));
        assert_eq!(
            page_request::<AlbumSort>(&q(None, None, None, Some("%%%"))).unwrap_err(),
            ListError::BadCursor
        );
    }
}
