//! The parsing policy: what identifies is read strictly, what informs leniently.
//!
//! Every field of every answer is read as a [`Field`], which never fails: it says whether the
//! field was absent, null, of its type, converted from another type (`"true"` for `true`, a
//! number for a phone), or of a type it cannot be read as. The mapping then decides:
//!
//! - **Identifying fields** (ids, a user's email, a role's name, a membership's user or group id)
//!   must be present strings that pass the connector's id check; anything else stops the
//!   listing with an `upstream` error naming the endpoint and the item ([`Notes::identity`]).
//! - **Every other field** falls back to a documented default when it is null, absent or of the
//!   wrong type, and is kept as it came when it holds a value no enum lists. Each such reading is
//!   noted once per field and endpoint ([`Notes`]), and the notes become warnings.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::model::{ConnectorError, Result};

/// The JSON kind a field held, for notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Number,
    String,
    List,
    Object,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::List => "a list",
            Kind::Object => "an object",
        }
    }
}

/// One field of an answer, as it came.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
    /// Read from another kind of value (`"false"` as `false`, `42` as `"42"`).
    Converted(T, Kind),
    /// A kind of value this field cannot be read as.
    Mistyped(Kind),
}

impl<T> Field<T> {
    /// The value, if the field holds one (converted or not).
    pub fn get(&self) -> Option<&T> {
        match self {
            Field::Value(value) | Field::Converted(value, _) => Some(value),
            _ => None,
        }
    }

    /// What is unusual about this field, if anything; `required`: the API's definition says it
    /// is always there.
    fn oddity(&self, required: bool) -> Option<String> {
        match self {
            Field::Value(_) => None,
            Field::Converted(_, kind) => Some(format!("came as {}", kind.name())),
            Field::Mistyped(kind) => Some(format!("came as {}", kind.name())),
            Field::Null if required => Some("came null".into()),
            Field::Absent if required => Some("was missing".into()),
            Field::Null | Field::Absent => None,
        }
    }
}

impl<S: AsRef<str>> Field<S> {
    /// The text, if the field holds one.
    pub fn as_deref(&self) -> Option<&str> {
        self.get().map(|value| value.as_ref())
    }

    /// The text trimmed, if the field holds some that is not blank.
    pub fn trimmed(&self) -> Option<&str> {
        self.as_deref().map(str::trim).filter(|text| !text.is_empty())
    }

    /// [`Self::trimmed`], for a string that came as a string only: where a value grants access
    /// (a role name), a number or a boolean is not taken for one.
    pub fn exact_trimmed(&self) -> Option<&str> {
        match self {
            Field::Value(value) => Some(value.as_ref().trim()).filter(|text| !text.is_empty()),
            _ => None,
        }
    }
}

/// Drains a map or list the field cannot use, so the parse goes on after it.
fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> std::result::Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> std::result::Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Visits any JSON value: the typed visitors below say what they make of each kind.
macro_rules! any_kind_defaults {
    () => {
        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(Field::Null)
        }
        fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(Field::Null)
        }
        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Self::Value, D::Error> {
            deserializer.deserialize_any(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Self::Value, A::Error> {
            skip_map(map)?;
            Ok(Field::Mistyped(Kind::Object))
        }
    };
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = Field<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    any_kind_defaults!();

    fn visit_bool<E: de::Error>(self, value: bool) -> std::result::Result<Self::Value, E> {
        Ok(Field::Value(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> std::result::Result<Self::Value, E> {
        let value = value.trim();
        Ok(if value.eq_ignore_ascii_case("true") || value == "1" {
            Field::Converted(true, Kind::String)
        } else if value.eq_ignore_ascii_case("false") || value == "0" {
            Field::Converted(false, Kind::String)
        } else {
            Field::Mistyped(Kind::String)
        })
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> std::result::Result<Self::Value, E> {
        Ok(match value {
            0 => Field::Converted(false, Kind::Number),
            1 => Field::Converted(true, Kind::Number),
            _ => Field::Mistyped(Kind::Number),
        })
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> std::result::Result<Self::Value, E> {
        match u64::try_from(value) {
            Ok(value) => self.visit_u64(value),
            Err(_) => Ok(Field::Mistyped(Kind::Number)),
        }
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok(Field::Mistyped(Kind::Number))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Self::Value, A::Error> {
        skip_seq(seq)?;
        Ok(Field::Mistyped(Kind::List))
    }
}

impl<'de> Deserialize<'de> for Field<bool> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(BoolVisitor)
    }
}

/// A string, borrowed from the answer where it holds no escapes: a page of 1,000 users is read
/// without copying each field. Numbers and booleans are kept as their JSON text.
struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Field<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    any_kind_defaults!();

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> std::result::Result<Self::Value, E> {
        Ok(Field::Value(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> std::result::Result<Self::Value, E> {
        Ok(Field::Value(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> std::result::Result<Self::Value, E> {
        Ok(Field::Value(Cow::Owned(value)))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> std::result::Result<Self::Value, E> {
        Ok(Field::Converted(Cow::Owned(value.to_string()), Kind::Bool))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> std::result::Result<Self::Value, E> {
        Ok(Field::Converted(Cow::Owned(value.to_string()), Kind::Number))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> std::result::Result<Self::Value, E> {
        Ok(Field::Converted(Cow::Owned(value.to_string()), Kind::Number))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> std::result::Result<Self::Value, E> {
        Ok(Field::Converted(Cow::Owned(value.to_string()), Kind::Number))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Self::Value, A::Error> {
        skip_seq(seq)?;
        Ok(Field::Mistyped(Kind::List))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<Cow<'a, str>> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(StrVisitor)
    }
}

impl<'de> Deserialize<'de> for Field<String> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Ok(match deserializer.deserialize_any(StrVisitor)? {
            Field::Value(value) => Field::Value(value.into_owned()),
            Field::Converted(value, kind) => Field::Converted(value.into_owned(), kind),
            Field::Mistyped(kind) => Field::Mistyped(kind),
            Field::Null => Field::Null,
            Field::Absent => Field::Absent,
        })
    }
}

/// A list of strings: a lone string is a list of one; entries of another kind are left out.
struct StrListVisitor;

impl<'de> Visitor<'de> for StrListVisitor {
    type Value = Field<Vec<String>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    any_kind_defaults!();

    fn visit_str<E: de::Error>(self, value: &str) -> std::result::Result<Self::Value, E> {
        Ok(Field::Converted(vec![value.to_owned()], Kind::String))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok(Field::Mistyped(Kind::Bool))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Ok(Field::Mistyped(Kind::Number))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Ok(Field::Mistyped(Kind::Number))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok(Field::Mistyped(Kind::Number))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        let mut values = Vec::new();
        let mut odd = None;
        while let Some(entry) = seq.next_element::<Field<Cow<'de, str>>>()? {
            match entry {
                Field::Value(value) => values.push(value.into_owned()),
                Field::Converted(_, kind) | Field::Mistyped(kind) => odd = Some(kind),
                Field::Null | Field::Absent => odd = Some(Kind::Object),
            }
        }
        Ok(match odd {
            None => Field::Value(values),
            Some(_) => Field::Converted(values, Kind::List),
        })
    }
}

impl<'de> Deserialize<'de> for Field<Vec<String>> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(StrListVisitor)
    }
}

/// Whether the API's definition marks a field as always present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    Required,
    Optional,
}

/// What one answer held that the policy read with a default or kept as it came, noted once per
/// field; [`Notes::warnings`] words them, one line each, naming the endpoint.
#[derive(Debug)]
pub struct Notes {
    /// The endpoint as a template (`GET /v1/teams/{id}/users`), so that notes of one endpoint
    /// read alike whichever resource they came from and the host can say each once.
    template: &'static str,
    /// The endpoint as requested, for errors.
    endpoint: String,
    noted: Vec<(&'static str, String)>,
}

impl Notes {
    /// Notes on an answer of `endpoint` (`GET /v1/teams/t1/users`), an instance of `template`.
    pub fn new(template: &'static str, endpoint: &str) -> Self {
        Self { template, endpoint: endpoint.to_owned(), noted: Vec::new() }
    }

    /// Notes an informational field that `oddity` says is unusual; `reading` says what the
    /// connector makes of it (e.g. "read as false").
    pub fn field<T>(&mut self, name: &'static str, field: &Field<T>, spec: Spec, reading: &'static str) {
        if let Some(oddity) = field.oddity(spec == Spec::Required) {
            self.note(name, format!("{oddity}; {reading}"));
        }
    }

    /// Notes a value no enum of the definition lists, kept as it came.
    pub fn unknown_value(&mut self, name: &'static str, value: &str, reading: &'static str) {
        if !self.noted.iter().any(|(noted, _)| *noted == name) {
            self.note(name, format!("held {:?}, a value the API's definition does not list; {reading}", shown(value)));
        }
    }

    fn note(&mut self, name: &'static str, what: String) {
        if !self.noted.iter().any(|(noted, said)| *noted == name && *said == what) {
            self.noted.push((name, what));
        }
    }

    /// One line per note: `GET /v1/users: field active came null in some items; read as enabled`.
    pub fn warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.noted.iter().map(|(name, what)| format!("{}: field {name} {what} (in at least one item)", self.template))
    }

    /// An identifying string field: present, a string, and (`check`) well-formed; else the
    /// error that stops the listing, naming the endpoint, the item and the field.
    pub fn identity<'f, S: AsRef<str>>(
        &self,
        item: usize,
        name: &'static str,
        field: &'f Field<S>,
        check: impl Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<&'f str> {
        match field {
            Field::Value(value) => {
                self.check(item, name, value.as_ref(), check)?;
                Ok(value.as_ref())
            }
            Field::Converted(_, kind) | Field::Mistyped(kind) => {
                Err(self.unidentified(item, name, &format!("came as {}, not a string", kind.name())))
            }
            Field::Null => Err(self.unidentified(item, name, "came null")),
            Field::Absent => Err(self.unidentified(item, name, "is missing")),
        }
    }

    /// Checks a value that identifies or grants something (`check` says what is wrong).
    pub fn check(
        &self,
        item: usize,
        name: &'static str,
        value: &str,
        check: impl Fn(&str) -> std::result::Result<(), String>,
    ) -> Result<()> {
        check(value).map_err(|why| self.unidentified(item, name, &why))
    }

    fn unidentified(&self, item: usize, name: &str, problem: &str) -> ConnectorError {
        malformed(format!(
            "{} answered an item the connector cannot identify: item {} of the page: {name} {problem}",
            self.endpoint,
            item + 1
        ))
    }
}

/// The error for an answer that cannot be read: status 200, `MalformedResponse`.
pub fn malformed(message: String) -> ConnectorError {
    ConnectorError::Upstream { status: Some(200), code: Some("MalformedResponse".into()), message }
}

/// `text` cut to at most 64 characters, for quoting API text in a message.
pub fn shown(text: &str) -> String {
    const MOST: usize = 64;
    match text.char_indices().nth(MOST) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Item<'a> {
        #[serde(default)]
        flag: Field<bool>,
        #[serde(default, borrow)]
        text: Field<Cow<'a, str>>,
        #[serde(default)]
        list: Field<Vec<String>>,
    }

    fn item(json: &str) -> Item<'_> {
        serde_json::from_str(json).expect("a lenient field never fails")
    }

    #[test]
    fn booleans_are_read_from_what_apis_send_for_them() {
        assert_eq!(item(r#"{"flag":true}"#).flag, Field::Value(true));
        assert_eq!(item(r#"{"flag":"False"}"#).flag, Field::Converted(false, Kind::String));
        assert_eq!(item(r#"{"flag":1}"#).flag, Field::Converted(true, Kind::Number));
        assert_eq!(item(r#"{"flag":null}"#).flag, Field::Null);
        assert_eq!(item(r#"{}"#).flag, Field::Absent);
        assert_eq!(item(r#"{"flag":"maybe"}"#).flag, Field::Mistyped(Kind::String));
        assert_eq!(item(r#"{"flag":{"a":[1,{"b":2}]},"text":"after"}"#).flag, Field::Mistyped(Kind::Object));
        assert_eq!(item(r#"{"flag":[1,2],"text":"after"}"#).text.as_deref(), Some("after"), "the parse goes on after it");
        assert_eq!(item(r#"{"flag":2.5}"#).flag, Field::Mistyped(Kind::Number));
        assert_eq!(item(r#"{"flag":-1}"#).flag, Field::Mistyped(Kind::Number));
    }

    #[test]
    fn strings_borrow_and_keep_numbers_as_text() {
        let plain = item(r#"{"text":"Ann"}"#);
        assert!(matches!(plain.text, Field::Value(Cow::Borrowed("Ann"))));
        assert!(matches!(item(r#"{"text":"O\"Neil"}"#).text, Field::Value(Cow::Owned(ref s)) if s == "O\"Neil"));
        assert_eq!(item(r#"{"text":15551234}"#).text, Field::Converted(Cow::Owned("15551234".into()), Kind::Number));
        assert_eq!(item(r#"{"text":false}"#).text.as_deref(), Some("false"));
        assert_eq!(item(r#"{"text":{"x":1}}"#).text, Field::Mistyped(Kind::Object));
        assert_eq!(item(r#"{"text":null}"#).text, Field::Null);
    }

    #[test]
    fn lists_of_strings_take_a_lone_string_and_leave_out_other_entries() {
        assert_eq!(item(r#"{"list":["A","B"]}"#).list, Field::Value(vec!["A".into(), "B".into()]));
        assert_eq!(item(r#"{"list":"A"}"#).list, Field::Converted(vec!["A".into()], Kind::String));
        assert_eq!(item(r#"{"list":["A",null,3]}"#).list, Field::Converted(vec!["A".into()], Kind::List));
        assert_eq!(item(r#"{"list":{}}"#).list, Field::Mistyped(Kind::Object));
    }

    #[test]
    fn notes_are_said_once_per_field_and_name_the_endpoint() {
        let mut notes = Notes::new("GET /v1/users", "GET /v1/users");
        for json in [r#"{"flag":null}"#, r#"{"flag":null}"#, r#"{}"#, r#"{"flag":true}"#] {
            notes.field("flag", &item(json).flag, Spec::Required, "read as false");
        }
        notes.field("text", &Field::<bool>::Null, Spec::Optional, "read as none");
        let warnings: Vec<_> = notes.warnings().collect();
        assert_eq!(
            warnings,
            [
                "GET /v1/users: field flag came null; read as false (in at least one item)",
                "GET /v1/users: field flag was missing; read as false (in at least one item)"
            ]
        );
    }

    #[test]
    fn identity_fields_must_be_well_formed_strings() {
        let notes = Notes::new("GET /v1/users", "GET /v1/users");
        let check = |id: &str| if id.is_empty() { Err("is empty".to_owned()) } else { Ok(()) };
        assert_eq!(notes.identity(0, "id", &item(r#"{"text":"u1"}"#).text, check), Ok("u1"));
        for (json, problem) in [
            (r#"{"text":null}"#, "id came null"),
            (r#"{}"#, "id is missing"),
            (r#"{"text":7}"#, "id came as a number, not a string"),
            (r#"{"text":""}"#, "id is empty"),
        ] {
            let parsed = item(json);
            match notes.identity(2, "id", &parsed.text, check) {
                Err(ConnectorError::Upstream { status: Some(200), message, .. }) => {
                    assert_eq!(
                        message,
                        format!("GET /v1/users answered an item the connector cannot identify: item 3 of the page: {problem}")
                    )
                }
                other => panic!("{json}: {other:?}"),
            }
        }
    }
}
