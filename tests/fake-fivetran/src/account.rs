//! The state of one fake Fivetran account.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The fake keeps no dates for memberships: each says it was made at this moment.
const MEMBERSHIP_CREATED_AT: &str = "2024-01-01T00:00:00Z";

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub invited: bool,
    pub verified: bool,
    pub logged_in_at: Option<String>,
    pub created_at: String,
    pub phone: Option<String>,
    pub picture: Option<String>,
    /// The account role name.
    pub role: Option<String>,
}

/// A user as the API writes it.
#[derive(serde::Serialize)]
struct UserOut<'a> {
    id: &'a str,
    email: &'a str,
    given_name: Option<&'a str>,
    family_name: Option<&'a str>,
    verified: bool,
    invited: bool,
    picture: Option<&'a str>,
    phone: Option<&'a str>,
    role: Option<&'a str>,
    logged_in_at: Option<&'a str>,
    created_at: &'a str,
    active: bool,
}

impl<'a> UserOut<'a> {
    fn of(user: &'a User, role: Option<&'a str>) -> Self {
        Self {
            id: &user.id,
            email: &user.email,
            given_name: user.given_name.as_deref(),
            family_name: user.family_name.as_deref(),
            verified: user.verified,
            invited: user.invited,
            picture: user.picture.as_deref(),
            phone: user.phone.as_deref(),
            role,
            logged_in_at: user.logged_in_at.as_deref(),
            created_at: &user.created_at,
            active: user.active,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub description: String,
    pub scope: Vec<String>,
    pub is_custom: bool,
    pub is_deprecated: bool,
    pub replacement_role_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

/// How an inherited (account-level) user appears in a group's user listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InheritedRole {
    Null,
    Empty,
}

/// An API key: a user key names its user, a system key its own id.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub key: String,
    pub secret: String,
    pub user_id: Option<String>,
    pub system_key_id: Option<String>,
    /// A system key's scopes (`TEAM:READ`, `USER:MANAGE`, …); none limits nothing.
    pub scopes: Option<Vec<String>>,
}

impl ApiKey {
    /// Whether the key may call `method path`: a read needs `X:READ` or `X:MANAGE`, a write
    /// `X:MANAGE`, where X follows from the path's collection.
    pub fn allows(&self, method: &str, path: &str) -> Result<(), String> {
        let Some(scopes) = &self.scopes else { return Ok(()) };
        let collection = path.trim_start_matches('/').split('/').nth(1).unwrap_or_default();
        let area = match collection {
            "account" => "ACCOUNT",
            "roles" => "ROLES",
            "users" => "USER",
            "teams" => "TEAM",
            "groups" => "DESTINATION",
            _ => return Ok(()),
        };
        let read = method == "GET";
        let granted = scopes.iter().any(|s| *s == format!("{area}:MANAGE") || (read && *s == format!("{area}:READ")));
        if granted { Ok(()) } else { Err(format!("The API key does not have the {area}:{} scope", if read { "READ" } else { "MANAGE" })) }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Account {
    pub account_id: String,
    pub account_name: String,
    pub users: BTreeMap<String, User>,
    /// In the order `/v1/roles` lists them.
    pub roles: Vec<Role>,
    pub teams: BTreeMap<String, Team>,
    pub groups: BTreeMap<String, Group>,
    /// (team id, user id) → `Team Member` / `Team Manager`.
    pub team_users: BTreeMap<(String, String), String>,
    /// (team id, group id) → destination role.
    pub team_groups: BTreeMap<(String, String), String>,
    /// (group id, user id) → destination role.
    pub group_users: BTreeMap<(String, String), String>,
    /// Account roles whose holders every group lists by inheritance, with a null or empty role.
    pub inheriting_roles: Vec<(String, InheritedRole)>,
    pub api_keys: Vec<ApiKey>,
}

impl Account {
    /// The first API key: what a test or the demo syncs with.
    pub fn primary_key(&self) -> &ApiKey {
        &self.api_keys[0]
    }

    pub fn key_for(&self, key: &str, secret: &str) -> Option<&ApiKey> {
        self.api_keys.iter().find(|k| k.key == key && k.secret == secret)
    }

    /// The items of `GET /v1/groups/{id}/users`: members with their role in the group, then
    /// account-level users reaching it by inheritance, with a null or empty role; sorted by id.
    pub fn group_listing(&self, group_id: &str) -> Vec<(String, Option<String>)> {
        let mut listed: BTreeMap<String, Option<String>> = self
            .group_users
            .range((group_id.to_owned(), String::new())..)
            .take_while(|((g, _), _)| g == group_id)
            .map(|((_, u), role)| (u.clone(), Some(role.clone())))
            .collect();
        for user in self.users.values() {
            let inherited = self.inheriting_roles.iter().find(|(r, _)| Some(r) == user.role.as_ref());
            if let Some((_, how)) = inherited {
                listed.entry(user.id.clone()).or_insert(match how {
                    InheritedRole::Null => None,
                    InheritedRole::Empty => Some(String::new()),
                });
            }
        }
        listed.into_iter().collect()
    }

    pub fn user_json(user: &User, role: Option<&str>) -> Value {
        serde_json::to_value(UserOut::of(user, role)).unwrap_or(Value::Null)
    }

    /// [`Self::user_json`] as text, written straight from the fields.
    pub fn user_text(user: &User, role: Option<&str>) -> String {
        serde_json::to_string(&UserOut::of(user, role)).unwrap_or_else(|_| "null".into())
    }

    pub fn role_json(role: &Role) -> Value {
        json!({
            "name": role.name,
            "description": role.description,
            "scope": role.scope,
            "is_custom": role.is_custom,
            "is_deprecated": role.is_deprecated,
            "replacement_role_name": role.replacement_role_name,
        })
    }

    pub fn team_json(team: &Team) -> Value {
        json!({"id": team.id, "name": team.name, "description": team.description, "role": team.role})
    }

    pub fn group_json(group: &Group) -> Value {
        json!({"id": group.id, "name": group.name, "created_at": group.created_at})
    }

    /// A team's membership of a user, as the team users endpoints give it.
    pub fn team_user_json(user: &str, role: &str) -> Value {
        json!({"user_id": user, "role": role, "created_at": MEMBERSHIP_CREATED_AT})
    }

    /// A membership of a group (of a user or a team), as the groups endpoints give it.
    pub fn group_membership_json(group: &str, role: &str) -> Value {
        json!({"id": group, "role": role, "created_at": MEMBERSHIP_CREATED_AT})
    }
}
