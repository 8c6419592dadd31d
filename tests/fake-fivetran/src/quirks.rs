//! What real servers and their front ends send that the well-behaved fake does not: answers
//! whose informational fields are null, absent, mistyped or unknown, paging that repeats or never
//! ends, hostile records. Each is a switch, so that a test runs the real host and component
//! against it end to end.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// How the informational fields of every item of a `GET` answer are written. Identifying and
/// grant-bearing fields (`id`, `email`, `user_id`, a role's `name`, every `role`) are left as
/// they are, so a sync must give the same grants whatever the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// Every field, of its type.
    #[default]
    Full,
    /// Every informational field `null`.
    Nulls,
    /// Every informational field left out.
    Absent,
    /// Every informational field of another type: booleans as `"maybe"`, strings as numbers,
    /// lists as objects.
    Mistyped,
    /// Unknown fields on every item, and a role scope no enum lists.
    Extra,
}

/// How listings page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paging {
    #[default]
    Normal,
    /// Every page past the first names the cursor it was asked with as the next one.
    RepeatCursor,
    /// Once a listing has been asked with two cursors, every page names the first as next: the
    /// cursors go round in a circle of two.
    CycleCursor,
    /// `GET /v1/users` answers empty pages, each with a new next cursor, forever.
    EmptyForever,
    /// `GET /v1/users` answers 1,000 new users a page, each page with a new next cursor, forever.
    EndlessUsers,
    /// `GET /v1/users` lists its first user twice, the second time with another email.
    DuplicateUser,
}

/// The switches in force, and what paging quirks remember.
#[derive(Debug, Default)]
pub(crate) struct Quirks {
    pub dialect: Dialect,
    pub paging: Paging,
    /// Cursors each path was asked with, in order, for [`Paging::CycleCursor`].
    asked: HashMap<String, Vec<String>>,
}

/// Fields that identify a record or grant access: never changed by a dialect.
const KEPT: &[&str] = &["id", "email", "user_id", "role", "account_id", "system_key_id"];

impl Quirks {
    /// Whether an answer to `path` must be rewritten.
    pub(crate) fn active(&self) -> bool {
        self.dialect != Dialect::Full || self.paging != Paging::Normal
    }

    /// An answer the quirks make up instead of the account's, if they do.
    pub(crate) fn invent(&self, path: &str, cursor: Option<&str>) -> Option<String> {
        if path != "/v1/users" {
            return None;
        }
        let page: u64 = cursor.and_then(|c| c.strip_prefix("page-")).and_then(|n| n.parse().ok()).unwrap_or(0);
        let next = format!("page-{}", page + 1);
        let items: Vec<Value> = match self.paging {
            Paging::EmptyForever => Vec::new(),
            Paging::EndlessUsers => (0..1000)
                .map(|i| {
                    json!({"id": format!("endless_{page}_{i}"), "email": format!("u{page}.{i}@endless.example"),
                           "given_name": "Endless", "family_name": "User", "active": true, "verified": true,
                           "invited": false, "role": "Account Reviewer", "created_at": "2024-01-01T00:00:00Z"})
                })
                .collect(),
            _ => return None,
        };
        Some(json!({"code": "Success", "data": {"items": items, "next_cursor": next}}).to_string())
    }

    /// `body`, a 200 answer to `GET path` asked with `cursor`, as the quirks write it.
    pub(crate) fn rewrite(&mut self, path: &str, cursor: Option<&str>, body: String) -> String {
        let Ok(mut answer) = serde_json::from_str::<Value>(&body) else { return body };
        let roles = path == "/v1/roles";
        if let Some(data) = answer.get_mut("data") {
            match data.get_mut("items").and_then(Value::as_array_mut) {
                Some(items) => items.iter_mut().for_each(|item| self.dialect.apply(item, roles)),
                None => self.dialect.apply(data, roles),
            }
        }
        if let Some(data) = answer.get_mut("data").and_then(Value::as_object_mut) {
            self.page(path, cursor, data);
        }
        if self.dialect != Dialect::Full
            && let Some(message) = answer.get_mut("message")
        {
            *message = match self.dialect {
                Dialect::Nulls => Value::Null,
                Dialect::Mistyped => json!(42),
                _ => message.clone(),
            };
        }
        answer.to_string()
    }

    fn page(&mut self, path: &str, cursor: Option<&str>, data: &mut Map<String, Value>) {
        match self.paging {
            Paging::RepeatCursor => {
                if let Some(cursor) = cursor {
                    data.insert("next_cursor".into(), json!(cursor));
                }
            }
            Paging::CycleCursor => {
                let asked = self.asked.entry(path.to_owned()).or_default();
                if let Some(cursor) = cursor
                    && !asked.iter().any(|c| c == cursor)
                {
                    asked.push(cursor.to_owned());
                }
                if asked.len() >= 2 {
                    data.insert("next_cursor".into(), json!(asked[0]));
                }
            }
            Paging::DuplicateUser if path == "/v1/users" && cursor.is_none() => {
                if let Some(items) = data.get_mut("items").and_then(Value::as_array_mut)
                    && let Some(first) = items.first().cloned()
                {
                    let mut twin = first;
                    twin["email"] = json!("someone.else@example.com");
                    items.push(twin);
                }
            }
            _ => {}
        }
    }
}

impl Dialect {
    fn apply(self, item: &mut Value, roles: bool) {
        let Some(object) = item.as_object_mut() else { return };
        let informational: Vec<String> =
            object.keys().filter(|key| !(KEPT.contains(&key.as_str()) || roles && *key == "name")).cloned().collect();
        match self {
            Dialect::Full => {}
            Dialect::Nulls => informational.iter().for_each(|key| {
                object.insert(key.clone(), Value::Null);
            }),
            Dialect::Absent => informational.iter().for_each(|key| {
                object.remove(key);
            }),
            Dialect::Mistyped => {
                for key in informational {
                    let value = &object[&key];
                    let mistyped = match value {
                        Value::Bool(_) => json!("maybe"),
                        Value::String(_) => json!(12345),
                        Value::Array(_) => json!({"unexpected": true}),
                        Value::Null => json!([]),
                        _ => json!("text"),
                    };
                    object.insert(key, mistyped);
                }
            }
            Dialect::Extra => {
                object.insert("added_in_a_later_api_version".into(), json!({"nested": [1, "two", null]}));
                if let Some(Value::Array(scope)) = object.get_mut("scope") {
                    scope.push(json!("WAREHOUSE"));
                }
            }
        }
    }
}
