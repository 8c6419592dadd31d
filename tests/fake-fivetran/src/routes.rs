//! The API's endpoints over an [`Account`]: routing, paging, envelopes and error bodies.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::account::{Account, ApiKey};

pub(crate) const DEFAULT_LIMIT: usize = 100;
pub(crate) const MAX_LIMIT: usize = 1000;

/// A status and a JSON body.
pub(crate) struct Reply {
    pub status: u16,
    /// The JSON body, as text.
    pub body: String,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Self { status, body: body.to_string() }
    }

    fn ok(message: &str, data: Value) -> Self {
        Self::json(200, json!({"code": "Success", "message": message, "data": data}))
    }

    pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self::json(status, json!({"code": code, "message": message.into()}))
    }
}

/// Decoded query parameters.
pub(crate) type Query = BTreeMap<String, String>;

/// One authenticated request, as the routes see it.
pub(crate) struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: Query,
    pub body: &'a [u8],
    pub content_type: Option<&'a str>,
}

pub(crate) use connector_fake_support::{parse_query, percent_decode};

/// Answers one authenticated request.
/// Group listings already computed, by group id: each costs a pass over every user, and a large
/// group is paged many times. Emptied whenever the account changes.
pub(crate) type ListingCache = std::collections::HashMap<String, std::sync::Arc<Vec<(String, Option<String>)>>>;

pub(crate) fn route(account: &mut Account, key: &ApiKey, request: &Request<'_>, cache: &mut ListingCache) -> Reply {
    let (method, path, query) = (request.method, request.path, &request.query);
    let segments: Vec<String> = path.trim_end_matches('/').split('/').skip(1).map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    if method != "GET" {
        cache.clear();
        if let Some(reply) = crate::mutations::route(account, key, method, &segments, request.body, request.content_type) {
            return reply;
        }
    }
    let account = &*account;
    match (method, segments.as_slice()) {
        ("GET", ["v1", "account", "info"]) => Reply::ok(
            "Account information retrieved successfully",
            json!({
                "account_id": account.account_id,
                "account_name": account.account_name,
                "user_id": key.user_id,
                "system_key_id": key.system_key_id,
            }),
        ),
        ("GET", ["v1", "users"]) => {
            let users = filter_active(query, account.users.values().map(|u| (u.id.as_str(), u.active, u)));
            list(query, "Users list retrieved successfully", users, |u| Account::user_text(u, u.role.as_deref()))
        }
        ("GET", ["v1", "users", id]) => match account.users.get(*id) {
            Some(user) => Reply::ok("User retrieved successfully", Account::user_json(user, user.role.as_deref())),
            None => not_found_user(id),
        },
        ("GET", ["v1", "users", id, "groups"]) => {
            if !account.users.contains_key(*id) {
                return not_found_user(id);
            }
            let memberships: Vec<_> =
                account.group_users.iter().filter(|((_, u), _)| u == id).map(|((g, _), role)| (g.as_str(), (g, role))).collect();
            list(query, "User memberships in groups retrieved successfully", memberships, |(g, role)| {
                Account::group_membership_json(g, role).to_string()
            })
        }
        ("GET", ["v1", "users", user, "groups", group]) => match account.group_users.get(&(group.to_string(), user.to_string())) {
            Some(role) => Reply::ok(
                "User membership retrieved successfully",
                json!({"id": group, "role": role, "created_at": "2024-01-01T00:00:00Z"}),
            ),
            None if !account.users.contains_key(*user) => not_found_user(user),
            None => not_found("UserMembership", &format!("{user}/{group}")),
        },
        ("GET", ["v1", "teams", team, "users", user]) => match account.team_users.get(&(team.to_string(), user.to_string())) {
            Some(role) => Reply::ok("Team membership retrieved successfully", Account::team_user_json(user, role)),
            None if !account.teams.contains_key(*team) => not_found("Team", team),
            None => not_found("TeamMembership", &format!("{team}/{user}")),
        },
        ("GET", ["v1", "teams", team, "groups", group]) => match account.team_groups.get(&(team.to_string(), group.to_string())) {
            Some(role) => Reply::ok(
                "Team membership retrieved successfully",
                json!({"id": group, "role": role, "created_at": "2024-01-01T00:00:00Z"}),
            ),
            None if !account.teams.contains_key(*team) => not_found("Team", team),
            None => not_found("TeamMembership", &format!("{team}/{group}")),
        },
        ("GET", ["v1", "roles"]) => {
            // Roles have no id: their listing order is their position.
            let roles = account.roles.iter().enumerate().map(|(i, r)| (format!("{i:08}"), r)).collect();
            list(query, "Roles list retrieved successfully", roles, |r| Account::role_json(r).to_string())
        }
        ("GET", ["v1", "teams"]) => {
            let teams = account.teams.values().map(|t| (t.id.as_str(), t)).collect();
            list(query, "Teams retrieved successfully", teams, |t| Account::team_json(t).to_string())
        }
        ("GET", ["v1", "teams", id]) => match account.teams.get(*id) {
            Some(team) => Reply::ok("Team retrieved successfully", Account::team_json(team)),
            None => not_found("Team", id),
        },
        ("GET", ["v1", "teams", id, "users"]) => {
            if !account.teams.contains_key(*id) {
                return not_found("Team", id);
            }
            let members = rows(&account.team_users, id).map(|(u, role)| {
                let active = account.users.get(u).is_none_or(|user| user.active);
                (u.as_str(), active, (u, role))
            });
            let members = filter_active(query, members);
            list(query, "Team users retrieved successfully", members, |(u, role)| Account::team_user_json(u, role).to_string())
        }
        ("GET", ["v1", "teams", id, "groups"]) => {
            if !account.teams.contains_key(*id) {
                return not_found("Team", id);
            }
            let memberships = rows(&account.team_groups, id).map(|(g, role)| (g.as_str(), (g, role))).collect();
            list(query, "Team group memberships retrieved successfully", memberships, |(g, role)| {
                Account::group_membership_json(g, role).to_string()
            })
        }
        ("GET", ["v1", "groups"]) => {
            let groups = account.groups.values().map(|g| (g.id.as_str(), g)).collect();
            list(query, "Groups retrieved successfully", groups, |g| Account::group_json(g).to_string())
        }
        ("GET", ["v1", "groups", id]) => match account.groups.get(*id) {
            Some(group) => Reply::ok("Group retrieved successfully", Account::group_json(group)),
            None => not_found("Group", id),
        },
        ("GET", ["v1", "groups", id, "users"]) => {
            if !account.groups.contains_key(*id) {
                return not_found("Group", id);
            }
            let listing = std::sync::Arc::clone(cache.entry(id.to_string()).or_insert_with(|| account.group_listing(id).into()));
            let listed: Vec<(&str, (&str, Option<&str>))> = match query.get("active") {
                // Only a filter on `active` needs each user looked up before paging.
                Some(_) => filter_active(
                    query,
                    listing.iter().filter_map(|(user_id, role)| {
                        let user = account.users.get(user_id)?;
                        Some((user_id.as_str(), user.active, (user_id.as_str(), role.as_deref())))
                    }),
                ),
                None => listing.iter().map(|(user_id, role)| (user_id.as_str(), (user_id.as_str(), role.as_deref()))).collect(),
            };
            list(query, "Group users retrieved successfully", listed, |(user_id, role)| match account.users.get(user_id) {
                Some(user) => Account::user_text(user, role),
                None => "null".to_owned(),
            })
        }
        (_, ["v1", ..]) if known_path(&segments) => Reply::error(405, "MethodNotAllowed", format!("{method} is not supported on {path}")),
        _ => Reply::error(404, "NotFound", format!("No endpoint {method} {path}")),
    }
}

/// Paths the definition has, for telling 405 from 404.
fn known_path(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["v1", "users" | "teams" | "groups" | "roles"]
            | ["v1", "users" | "teams" | "groups", _]
            | ["v1", "users", _, "groups" | "connections" | "role"]
            | ["v1", "users", _, "groups" | "connections", _]
            | ["v1", "teams", _, "users" | "groups" | "connections" | "role"]
            | ["v1", "teams", _, "users" | "groups" | "connections", _]
            | ["v1", "groups", _, "users"]
            | ["v1", "groups", _, "users", _]
    )
}

fn filter_active<K, T>(query: &Query, items: impl Iterator<Item = (K, bool, T)>) -> Vec<(K, T)> {
    let wanted = match query.get("active").map(String::as_str) {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    items.filter(|(_, active, _)| wanted.is_none_or(|w| w == *active)).map(|(k, _, v)| (k, v)).collect()
}

/// The rows of a table keyed (first, second) whose first part is `first`, by second part.
fn rows<'a>(table: &'a BTreeMap<(String, String), String>, first: &'a str) -> impl Iterator<Item = (&'a String, &'a String)> {
    table.range((first.to_owned(), String::new())..).take_while(move |((f, _), _)| f == first).map(|((_, second), role)| (second, role))
}

/// Cursor paging over items keyed for order: the cursor names the last key served. Only the
/// page's items are rendered (each to its JSON text).
fn list<K: AsRef<str>, T>(query: &Query, message: &str, mut items: Vec<(K, T)>, render: impl Fn(T) -> String) -> Reply {
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Reply::error(400, "InvalidInput", format!("Invalid limit '{text}': expected 1..{MAX_LIMIT}")),
        },
    };
    let after = match query.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(cursor) => match URL_SAFE_NO_PAD.decode(cursor).ok().and_then(|b| String::from_utf8(b).ok()) {
            Some(key) => Some(key),
            None => return Reply::error(400, "InvalidInput", format!("Invalid cursor '{cursor}'")),
        },
    };
    items.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    let start = after.map_or(0, |key| items.partition_point(|(k, _)| k.as_ref() <= key.as_str()));
    let rest = items.len() - start.min(items.len());
    let next = (rest > limit).then(|| URL_SAFE_NO_PAD.encode(items[start + limit - 1].0.as_ref()));
    let page: Vec<String> = items.into_iter().skip(start).take(limit).map(|(_, v)| render(v)).collect();
    let next = next.map(|n| format!(r#","next_cursor":"{n}""#)).unwrap_or_default();
    let message = Value::from(message);
    Reply { status: 200, body: format!(r#"{{"code":"Success","message":{message},"data":{{"items":[{}]{next}}}}}"#, page.join(",")) }
}

fn not_found_user(id: &str) -> Reply {
    not_found("User", id)
}

pub(crate) fn not_found(kind: &str, id: &str) -> Reply {
    Reply::error(404, &format!("NotFound_{kind}"), format!("{kind} with id '{id}' doesn't exist"))
}
