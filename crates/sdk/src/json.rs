//! Writing the traits objects: JSON text straight into a string sized for it.
//!
//! A page of 1,000 users writes 1,000 of these; serde's serializer, with its formatter layers and
//! small writes, was the connector's largest cost after parsing. The output is byte for byte what
//! `serde_json::to_string` writes for the same fields (the tests compare the two).

/// A JSON object being written, its fields in the order they are added.
pub struct JsonObject {
    out: String,
}

impl JsonObject {
    /// Starts an object; `capacity` is a guess at its length, to write without regrowing.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut out = String::with_capacity(capacity.max(2));
        out.push('{');
        Self { out }
    }

    pub fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        push_string(&mut self.out, value);
        self
    }

    /// `null` for `None`, as serde writes an absent `Option`.
    pub fn opt_str(mut self, key: &str, value: Option<&str>) -> Self {
        self.key(key);
        match value {
            Some(value) => push_string(&mut self.out, value),
            None => self.out.push_str("null"),
        }
        self
    }

    pub fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    pub fn strs(mut self, key: &str, values: &[String]) -> Self {
        self.key(key);
        self.out.push('[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            push_string(&mut self.out, value);
        }
        self.out.push(']');
        self
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }

    /// Keys are the connector's own field names: plain ASCII, never escaped.
    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }
}

/// `value` as a JSON string: quotes, backslashes and control characters escaped as serde_json
/// escapes them; everything else, non-ASCII included, as it is.
fn push_string(out: &mut String, value: &str) {
    out.reserve(value.len() + 2);
    out.push('"');
    if is_clean(value.as_bytes()) {
        out.push_str(value);
    } else {
        push_escaped(out, value);
    }
    out.push('"');
}

/// Whether no byte needs escaping. Names and emails rarely do: they are checked eight bytes a
/// step, the tail as one word overlapping the last step, so that a short string takes one or two
/// steps (wasm has 64-bit integers, and each loop turn in the component pays for an interruption
/// check).
fn is_clean(bytes: &[u8]) -> bool {
    let len = bytes.len();
    if len < 8 {
        return !needs_escape(short_word(bytes));
    }
    let mut at = 0;
    while at + 8 < len {
        if needs_escape(word_at(bytes, at)) {
            return false;
        }
        at += 8;
    }
    !needs_escape(word_at(bytes, len - 8))
}

/// Eight bytes from `at` (which has eight bytes after it) as a little-endian word.
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// A word holding every byte of a string shorter than eight bytes (some twice), the rest spaces,
/// which need no escaping.
fn short_word(bytes: &[u8]) -> u64 {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let len = bytes.len();
    let four = |at: usize| u64::from(u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]));
    match len {
        0 => SPACES,
        // The first, middle and last bytes are all the bytes of one to three.
        1..=3 => u64::from_le_bytes([bytes[0], bytes[len / 2], bytes[len - 1], b' ', b' ', b' ', b' ', b' ']),
        // The first four and the last four overlap and cover four to seven.
        _ => four(0) | four(len - 4) << 32,
    }
}

/// The byte-by-byte path for a string holding something to escape.
fn push_escaped(out: &mut String, value: &str) {
    let mut clean_from = 0;
    for (i, &byte) in value.as_bytes().iter().enumerate() {
        if byte >= 0x20 && byte != b'"' && byte != b'\\' {
            continue;
        }
        out.push_str(&value[clean_from..i]);
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(byte >> 4) as usize] as char);
                out.push(HEX[(byte & 0xf) as usize] as char);
            }
        }
        clean_from = i + 1;
    }
    out.push_str(&value[clean_from..]);
}

/// Whether any of the eight bytes is a control character, a quote or a backslash (it may say
/// yes for a clean word past such a byte; the byte loop then decides).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x;
    (below_space | zero_in(quote) | zero_in(backslash)) & HIGH != 0
}

/// The body as text. Pages are nearly all ASCII: runs of it are passed 32 bytes a step, and only
/// the other characters are checked one by one (the standard check goes four bytes a step in a
/// 32-bit component, and each step there pays for an interruption check).
pub fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while at < bytes.len() {
        if at + 32 <= bytes.len()
            && (word_at(bytes, at) | word_at(bytes, at + 8) | word_at(bytes, at + 16) | word_at(bytes, at + 24)) & HIGH == 0
        {
            at += 32;
            continue;
        }
        if at + 8 <= bytes.len() && word_at(bytes, at) & HIGH == 0 {
            at += 8;
            continue;
        }
        if bytes[at] < 0x80 {
            at += 1;
            continue;
        }
        // A character of two to four bytes starts here, and lies whole in the next four bytes.
        let window = &bytes[at..bytes.len().min(at + 4)];
        match std::str::from_utf8(window) {
            Ok(_) => at += window.len(),
            Err(error) if error.valid_up_to() > 0 => at += error.valid_up_to(),
            // Not UTF-8: the standard check says where, in the whole body's terms.
            Err(_) => return std::str::from_utf8(bytes),
        }
    }
    // SAFETY: every byte was checked above: ASCII, or part of a character `from_utf8` accepted.
    Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_escapes_them() {
        let mut awkward: Vec<String> = (0u8..0x80).map(|b| format!("a{}b", b as char)).collect();
        awkward.extend([
            "".into(),
            "Zoë Østergaard".into(),
            "\"quoted\" \\ back".into(),
            "日本\u{7f}\u{2028}".into(),
            "\u{1}\u{1f}".into(),
        ]);
        for value in &awkward {
            let mut ours = String::new();
            push_string(&mut ours, value);
            assert_eq!(ours, serde_json::to_string(value).unwrap(), "{value:?}");
        }
    }

    #[test]
    fn the_word_check_finds_every_byte_that_needs_escaping_wherever_it_is() {
        for position in 0..8 {
            for byte in (0u8..0x20).chain([b'"', b'\\']) {
                let mut word = *b"abcdefgh";
                word[position] = byte;
                assert!(needs_escape(u64::from_le_bytes(word)), "{byte:#x} at {position}");
            }
        }
        for clean in [*b"abcdefgh", *b"user@x.i", [0xc3, 0xab, b'a', 0xe6, 0x97, 0xa5, 0x7f, b' ']] {
            assert!(!needs_escape(u64::from_le_bytes(clean)), "{clean:?}");
        }
    }

    #[test]
    fn a_string_of_any_length_is_clean_exactly_when_no_byte_needs_escaping() {
        let needs = |byte: u8| byte < 0x20 || byte == b'"' || byte == b'\\';
        for len in 0..41 {
            let clean: Vec<u8> = (0..len).map(|i| [b'a', b'@', 0xc3, 0x7f, b' '][i % 5]).collect();
            assert!(is_clean(&clean), "{len} clean bytes");
            for position in 0..len {
                for byte in [0u8, 0x1f, b'"', b'\\', b'\n', b'a', 0x80, 0xff] {
                    let mut bytes = clean.clone();
                    bytes[position] = byte;
                    assert_eq!(is_clean(&bytes), !needs(byte), "{byte:#x} at {position} of {len}");
                }
            }
        }
    }

    #[test]
    fn utf8_takes_ascii_quickly_and_checks_everything_else() {
        assert_eq!(utf8(b"plain ascii, longer than eight"), Ok("plain ascii, longer than eight"));
        assert_eq!(utf8("Zoë Østergaard".as_bytes()), Ok("Zoë Østergaard"));
        assert!(utf8(b"valid start\xff").is_err());
        assert!(utf8(&[b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', b'i', 0xff]).is_err());
        assert!(utf8(&[0xff]).is_err());
    }

    #[test]
    fn utf8_agrees_with_the_standard_check_on_awkward_bytes() {
        let pieces: [&[u8]; 12] = [
            b"plain",
            "ë".as_bytes(),
            "日本".as_bytes(),
            "🦀".as_bytes(),
            b"\xff",
            b"\xc3",
            b"\xe6\x97",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
            b"\xf4\x90\x80\x80",
            b"12345678",
            b"\x80",
        ];
        let mut seed = 7u64;
        for _ in 0..5000 {
            let mut body = Vec::new();
            for _ in 0..(seed % 9) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                body.extend_from_slice(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            assert_eq!(utf8(&body), std::str::from_utf8(&body), "{body:?}");
        }
    }

    #[test]
    fn an_object_matches_serde_json_field_for_field() {
        #[derive(serde::Serialize)]
        struct Same<'a> {
            email: &'a str,
            phone: Option<&'a str>,
            given_name: Option<&'a str>,
            invited: bool,
            scope: &'a [String],
            none: &'a [String],
        }
        let scope = vec!["ACCOUNT".to_owned(), "a\"b".to_owned()];
        let expected = serde_json::to_string(&Same {
            email: "a@b.c",
            phone: None,
            given_name: Some("Ann\n"),
            invited: true,
            scope: &scope,
            none: &[],
        })
        .unwrap();
        let ours = JsonObject::with_capacity(0)
            .str("email", "a@b.c")
            .opt_str("phone", None)
            .opt_str("given_name", Some("Ann\n"))
            .bool("invited", true)
            .strs("scope", &scope)
            .strs("none", &[])
            .finish();
        assert_eq!(ours, expected);
        assert_eq!(JsonObject::with_capacity(0).finish(), "{}");
    }
}
