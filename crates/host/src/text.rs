//! API text shown to a person: control characters escaped, so that a name holding a newline
//! cannot forge a line of a review, and an escape sequence cannot hide or repaint what a
//! terminal shows. JSON output needs none of this: JSON escapes them itself.

use std::borrow::Cow;

/// `text` with every control character, and every Unicode character that reorders the text
/// around it (bidirectional overrides and isolates), written as a visible escape: `\n`, `\r`,
/// `\t`, else `\u{1b}`.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert!(matches!(escape_controls("Ann Lee é"), Cow::Borrowed("Ann Lee é")));
        assert_eq!(escape_controls("Ann\nceo@example.com: - team Admins"), "Ann\\nceo@example.com: - team Admins");
        assert_eq!(escape_controls("a\u{1b}[2Kb\r\t"), "a\\u{1b}[2Kb\\r\\t");
        assert_eq!(escape_controls("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
        assert_eq!(escape_controls("\u{85}"), "\\u{85}", "C1 controls too");
    }
}
