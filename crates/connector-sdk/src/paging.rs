//! Walking a cursor-paged listing within a connector's own call (looking a user up by email, say),
//! bounded by what the server sends: a cursor sent before (a cycle of any length) or
//! [`MAX_EMPTY_PAGES`] empty pages in a row stop it with an error naming the endpoint.

use std::collections::BTreeSet;

use crate::lenient::malformed;
use crate::model::Result;

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
