//! Relay-style cursors. A cursor encodes only a position in the result (never a
//! field value), so it cannot carry protected data.

use crate::error::AppError;
use crate::service::Page;
use async_graphql::{SimpleObject, ID};
use base64::Engine;

const PREFIX: &str = "confide:v1:";
pub const DEFAULT_PAGE_SIZE: u32 = 20;

pub fn encode(position: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{PREFIX}{position}"))
}

/// The largest position a cursor may hold: SQL offsets are signed 64-bit, and a
/// page past it would overflow.
pub const MAX_POSITION: u64 = (i64::MAX as u64) / 2;

pub fn decode(cursor: &str) -> Result<u64, AppError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.strip_prefix(PREFIX)
                .and_then(|n| n.parse::<u64>().ok())
        })
        .filter(|n| *n <= MAX_POSITION)
        .ok_or_else(|| AppError::bad_input("after", "is not a valid cursor"))
}

/// Parses `first`/`after` into a page (fetching one extra row to learn `hasNextPage`).
pub fn page(first: Option<i32>, after: Option<&str>, max: u32) -> Result<Page, AppError> {
    let first = match first {
        None => DEFAULT_PAGE_SIZE.min(max),
        Some(n) if n < 0 => return Err(AppError::bad_input("first", "must not be negative")),
        Some(n) if n as u32 > max => {
            return Err(AppError::bad_input(
                "first",
                format!("must be at most {max}"),
            ))
        }
        Some(n) => n as u32,
    };
    let offset = match after {
        Some(c) => decode(c)? + 1,
        None => 0,
    };
    Ok(Page {
        offset,
        limit: u64::from(first) + 1,
    })
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// Splits a fetched page (with its extra row) into edges' cursors and page info.
pub fn finish<T>(mut rows: Vec<T>, page: Page) -> (Vec<(String, T)>, PageInfo) {
    let wanted = (page.limit - 1) as usize;
    let has_next_page = rows.len() > wanted;
    rows.truncate(wanted);
    let edges: Vec<(String, T)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| (encode(page.offset + i as u64), row))
        .collect();
    let info = PageInfo {
        has_next_page,
        has_previous_page: page.offset > 0,
        start_cursor: edges.first().map(|(c, _)| c.clone()),
        end_cursor: edges.last().map(|(c, _)| c.clone()),
    };
    (edges, info)
}

pub fn id(uuid: uuid::Uuid) -> ID {
    ID(uuid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        assert_eq!(decode(&encode(41)).expect("cursor"), 41);
        assert!(decode("not-a-cursor").is_err());
    }

    #[test]
    fn a_cursor_beyond_any_page_is_bad_input_not_a_wrap() {
        for position in [MAX_POSITION + 1, 1 << 63, u64::MAX] {
            let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("{PREFIX}{position}"));
            assert!(matches!(
                page(Some(10), Some(&cursor), 100),
                Err(AppError::BadUserInput { .. })
            ));
        }
        let last = encode(MAX_POSITION);
        assert!(page(Some(100), Some(&last), 100).is_ok());
    }

    #[test]
    fn page_size_above_the_maximum_is_bad_input() {
        assert!(matches!(
            page(Some(101), None, 100),
            Err(AppError::BadUserInput { .. })
        ));
        assert!(page(Some(100), None, 100).is_ok());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_position_up_to_the_maximum_round_trips(position in 0..=MAX_POSITION) {
            prop_assert_eq!(decode(&encode(position)).ok(), Some(position));
        }

        #[test]
        fn no_text_makes_the_cursor_codec_or_paging_panic(text in ".{0,64}", first in proptest::option::of(-5i32..200)) {
            let _ = decode(&text);
            let _ = page(first, Some(&text), 100);
        }

        #[test]
        fn a_decoded_cursor_never_pages_past_the_maximum(position in any::<u64>()) {
            let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("{PREFIX}{position}"));
            match page(Some(100), Some(&cursor), 100) {
                Ok(p) => prop_assert!(p.offset <= MAX_POSITION + 1),
                Err(e) => {
                    let bad_input = matches!(e, AppError::BadUserInput { .. });
                    prop_assert!(bad_input);
                }
            }
        }
    }
}
