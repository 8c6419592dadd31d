//! Reading SCIM JSON as servers really send it. Attribute names are case-insensitive (RFC 7643
//! section 2.1), so every lookup is; extensions are objects keyed by their schema URN; booleans
//! come as `"True"`/`"False"`, numbers as strings, multi-valued attributes as `null`. What only
//! informs is read leniently (a wrong type reads as absent); what identifies is checked by the
//! caller ([`crate::ids`]).

use serde_json::{Map, Value};

/// A SCIM object, read case-insensitively.
#[derive(Debug, Clone, Copy)]
pub struct Obj<'a>(pub &'a Map<String, Value>);

impl<'a> Obj<'a> {
    pub fn of(value: &'a Value) -> Option<Self> {
        value.as_object().map(Obj)
    }

    /// The attribute `name` in any case; a `null` is absent.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        let found = self.0.get(name).or_else(|| self.0.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v));
        found.filter(|v| !v.is_null())
    }

    /// A string attribute, trimmed, empty read as absent; a number reads as its text.
    pub fn str(&self, name: &str) -> Option<String> {
        self.get(name).and_then(text)
    }

    /// A boolean: `true`, `"True"`, `"false"`, `1`, `0`.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(boolean)
    }

    /// A count: a non-negative integer or its text.
    pub fn count(&self, name: &str) -> Option<u64> {
        match self.get(name)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn obj(&self, name: &str) -> Option<Obj<'a>> {
        self.get(name).and_then(Obj::of)
    }

    /// A multi-valued attribute: its items; `null`, absent or a lone value read as none or one.
    pub fn list(&self, name: &str) -> Vec<&'a Value> {
        match self.get(name) {
            Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).collect(),
            Some(single @ (Value::Object(_) | Value::String(_))) => vec![single],
            _ => Vec::new(),
        }
    }

    /// The extension object of schema `urn` (compared case-insensitively).
    pub fn extension(&self, urn: &str) -> Option<Obj<'a>> {
        self.obj(urn)
    }
}

/// A string value, trimmed, empty read as none; a number as its text.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean value as servers write it.
pub fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Sets `name` in `object`, replacing the attribute in whatever case the server wrote it.
pub fn set(object: &mut Map<String, Value>, name: &str, value: Value) {
    let key = object.keys().find(|key| key.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned());
    object.insert(key, value);
}

/// The sub-object `name` of `object`, created when absent or not an object.
pub fn sub_object<'m>(object: &'m mut Map<String, Value>, name: &str) -> &'m mut Map<String, Value> {
    let key = object.keys().find(|key| key.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned());
    let slot = object.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("made an object above")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_case_insensitive_and_nulls_absent() {
        let value = json!({"UserName": "ann", "ACTIVE": "False", "members": null, "count": "3", "n": 7});
        let obj = Obj::of(&value).unwrap();
        assert_eq!(obj.str("userName").as_deref(), Some("ann"));
        assert_eq!(obj.bool("active"), Some(false));
        assert!(obj.list("members").is_empty());
        assert_eq!(obj.count("Count"), Some(3));
        assert_eq!(obj.str("n").as_deref(), Some("7"));
        assert_eq!(obj.get("missing"), None);
    }

    #[test]
    fn booleans_come_in_many_spellings() {
        for (value, expected) in [
            (json!(true), Some(true)),
            (json!("True"), Some(true)),
            (json!(" false "), Some(false)),
            (json!(0), Some(false)),
            (json!("yes"), None),
            (json!([]), None),
        ] {
            assert_eq!(boolean(&value), expected, "{value}");
        }
    }

    #[test]
    fn set_keeps_the_servers_spelling() {
        let mut object = json!({"Active": true}).as_object().unwrap().clone();
        set(&mut object, "active", json!(false));
        assert_eq!(Value::Object(object), json!({"Active": false}));
    }
}
