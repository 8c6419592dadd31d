//! Paging bounded by what the server sends.
//!
//! - A listing the host walks call by call carries its state in its page tokens
//!   ([`next_token`], [`decode_token`]): the API's cursor, and how many pages in a row came with no
//!   item, so that an API answering empty pages with new cursors forever is stopped after
//!   [`MAX_EMPTY_PAGES`]. Only the connector can count the API's items (a page of a thousand
//!   items may hold no record the host would see); the host stops cycles of tokens itself.
//! - A walk within one call (looking a user up by email, say) is a [`CursorWalk`]: a cursor sent
//!   before (a cycle of any length) or [`MAX_EMPTY_PAGES`] empty pages in a row stop it.

use std::collections::BTreeSet;

use crate::lenient::malformed;
use crate::model::{ConnectorError, Result};

/// The page token for the API's next cursor, after a page of `items` items reached with
/// `streak` empty pages in a row before it; none when the listing ended; an error when the API
/// has sent [`MAX_EMPTY_PAGES`] empty pages in a row, each pointing to a next one.
pub fn next_token(endpoint: &str, streak: u32, items: usize, next: Option<String>) -> Result<Option<String>> {
    let Some(next) = next else { return Ok(None) };
    let streak = if items == 0 { streak + 1 } else { 0 };
    if streak as usize >= MAX_EMPTY_PAGES {
        return Err(malformed(format!(
            "{endpoint} sent {MAX_EMPTY_PAGES} empty pages in a row, each with a next cursor: the listing was stopped"
        )));
    }
    Ok(Some(format!("{streak}:{next}")))
}

/// The empty-page streak and the API's cursor a page token made by [`next_token`] carries.
pub fn decode_token(token: &str) -> Result<(u32, &str)> {
    token.split_once(':').and_then(|(streak, cursor)| Some((streak.parse().ok()?, cursor))).ok_or_else(|| {
        ConnectorError::InvalidArgument(format!(
            "page token {token:?} is not one this connector issued; restart the listing without a token"
        ))
    })
}

/// Empty pages in a row, each with a next cursor, that a walk follows before it gives up.
pub const MAX_EMPTY_PAGES: usize = 10;

/// The state of one walk: the cursors seen, and the empty pages in a row.
#[derive(Debug, Default)]
pub struct CursorWalk {
    seen: BTreeSet<String>,
    empty_in_a_row: usize,
    pages: usize,
}

impl CursorWalk {
    /// After a page of `items` items from `endpoint`: the cursor to follow, none when the
    /// listing ended, or the error that stops a walk that would not end.
    pub fn next(&mut self, endpoint: &str, next: Option<String>, items: usize) -> Result<Option<String>> {
        self.pages += 1;
        let Some(next) = next else { return Ok(None) };
        self.empty_in_a_row = if items == 0 { self.empty_in_a_row + 1 } else { 0 };
        if self.empty_in_a_row >= MAX_EMPTY_PAGES {
            return Err(malformed(format!(
                "{endpoint} sent {MAX_EMPTY_PAGES} empty pages in a row, each with a next cursor: the listing was stopped after {} pages",
                self.pages
            )));
        }
        if !self.seen.insert(next.clone()) {
            return Err(malformed(format!(
                "{endpoint} sent a next cursor it had sent before: its paging goes in a circle; the listing was stopped after {} pages",
                self.pages
            )));
        }
        Ok(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_the_cursor_and_the_empty_streak_and_stop_endless_empty_pages() {
        let token = next_token("GET /x", 0, 5, Some("a:b".into())).unwrap().unwrap();
        assert_eq!(decode_token(&token).unwrap(), (0, "a:b"), "a cursor may hold the separator");
        let mut streak = 0;
        let mut stopped = None;
        for page in 0..20 {
            match next_token("GET /x", streak, 0, Some(format!("c{page}"))) {
                Ok(Some(token)) => streak = decode_token(&token).unwrap().0,
                other => {
                    stopped = Some((page, other));
                    break;
                }
            }
        }
        let (page, error) = stopped.unwrap();
        assert_eq!(page, MAX_EMPTY_PAGES - 1);
        assert!(matches!(error, Err(ConnectorError::Upstream { status: Some(200), .. })));
        assert_eq!(next_token("GET /x", 9, 1000, Some("d".into())).unwrap().as_deref(), Some("0:d"), "items reset the streak");
        assert_eq!(next_token("GET /x", 3, 0, None).unwrap(), None);
        assert!(matches!(decode_token("bogus"), Err(ConnectorError::InvalidArgument(_))));
    }

    #[test]
    fn a_walk_ends_on_no_cursor_and_stops_on_a_repeat_or_endless_empty_pages() {
        let mut walk = CursorWalk::default();
        assert_eq!(walk.next("GET /x", Some("a".into()), 3), Ok(Some("a".into())));
        assert_eq!(walk.next("GET /x", Some("b".into()), 3), Ok(Some("b".into())));
        assert!(walk.next("GET /x", Some("a".into()), 3).is_err(), "a cycle of two");
        let mut empty = CursorWalk::default();
        let stopped = (0..20).map(|i| empty.next("GET /x", Some(i.to_string()), 0)).position(|r| r.is_err());
        assert_eq!(stopped, Some(MAX_EMPTY_PAGES - 1));
        assert_eq!(CursorWalk::default().next("GET /x", None, 0), Ok(None));
    }
}
