//! The API's writes: invites and deletes, account roles, team memberships and destination
//! access, with the real API's answers and rules.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::account::{Account, ApiKey, Team, User};
use crate::routes::{Reply, not_found};

const ADMIN_ROLE: &str = "Account Administrator";
const TEAM_MEMBER: &str = "Team Member";
const CREATED_AT: &str = "2026-11-23T00:00:00Z";

/// Answers a write, or `None` when no write endpoint has this method and path.
pub(crate) fn route(
    account: &mut Account,
    key: &ApiKey,
    method: &str,
    segments: &[&str],
    body: &[u8],
    content_type: Option<&str>,
) -> Option<Reply> {
    let json = matches!(method, "POST" | "PATCH");
    if json && !content_type.is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json")) {
        let known = matches!(
            segments,
            ["v1", "users" | "teams"]
                | ["v1", "users" | "teams", _]
                | ["v1", "teams", _, "users" | "groups"]
                | ["v1", "teams", _, "users" | "groups", _]
                | ["v1", "users", _, "groups"]
                | ["v1", "users", _, "groups", _]
                | ["v1", "groups", _, "users"]
        );
        return known.then(|| Reply::error(415, "UnsupportedMediaType", "Content-Type must be application/json"));
    }
    let reply = match (method, segments) {
        ("POST", ["v1", "users"]) => parsed(body, |r| create_user(account, r)),
        ("PATCH", ["v1", "users", id]) => parsed(body, |r| modify_user(account, key, id, r)),
        ("DELETE", ["v1", "users", id]) => delete_user(account, key, id),
        ("DELETE", ["v1", "users", id, "role"]) => remove_user_role(account, key, id),
        ("POST", ["v1", "teams"]) => parsed(body, |r| create_team(account, r)),
        ("PATCH", ["v1", "teams", id]) => parsed(body, |r| modify_team(account, id, r)),
        ("DELETE", ["v1", "teams", id]) => delete_team(account, id),
        ("DELETE", ["v1", "teams", id, "role"]) => remove_team_role(account, id),
        ("POST", ["v1", "teams", team, "users"]) => parsed(body, |r| add_team_user(account, team, r)),
        ("PATCH", ["v1", "teams", team, "users", user]) => parsed(body, |r| update_membership(account, Table::TeamUsers, (team, user), r)),
        ("DELETE", ["v1", "teams", team, "users", user]) => remove_membership(account, Table::TeamUsers, (team, user)),
        ("POST", ["v1", "teams", team, "groups"]) => parsed(body, |r| add_team_group(account, team, r)),
        ("PATCH", ["v1", "teams", team, "groups", group]) => {
            parsed(body, |r| update_membership(account, Table::TeamGroups, (team, group), r))
        }
        ("DELETE", ["v1", "teams", team, "groups", group]) => remove_membership(account, Table::TeamGroups, (team, group)),
        ("POST", ["v1", "users", user, "groups"]) => parsed(body, |r| add_user_group(account, user, r)),
        ("PATCH", ["v1", "users", user, "groups", group]) => {
            parsed(body, |r| update_membership(account, Table::GroupUsers, (group, user), r))
        }
        ("DELETE", ["v1", "users", user, "groups", group]) => remove_membership(account, Table::GroupUsers, (group, user)),
        ("POST", ["v1", "groups", group, "users"]) => parsed(body, |r| add_group_user_by_email(account, group, r)),
        ("DELETE", ["v1", "groups", group, "users", user]) => remove_membership(account, Table::GroupUsers, (group, user)),
        _ => return None,
    };
    Some(reply)
}

fn parsed<T: DeserializeOwned>(body: &[u8], handle: impl FnOnce(T) -> Reply) -> Reply {
    match serde_json::from_slice(body) {
        Ok(request) => handle(request),
        Err(error) => Reply::error(400, "InvalidInput", format!("Invalid request body: {error}")),
    }
}

fn success(message: impl Into<String>) -> Reply {
    Reply::json(200, json!({"code": "Success", "message": message.into()}))
}

fn data(status: u16, message: &str, data: Value) -> Reply {
    Reply::json(status, json!({"code": "Success", "message": message, "data": data}))
}

fn invalid(message: impl Into<String>) -> Reply {
    Reply::error(400, "InvalidInput", message)
}

fn has_scope(account: &Account, role: &str, scope: &str) -> bool {
    account.roles.iter().any(|r| r.name == role && r.scope.iter().any(|s| s == scope))
}

fn check_role(account: &Account, role: &str, scope: &str) -> Result<(), Reply> {
    if has_scope(account, role, scope) {
        Ok(())
    } else {
        Err(invalid(format!("Role '{role}' does not exist or cannot be assigned at {} level", scope.to_lowercase())))
    }
}

#[derive(Deserialize)]
struct NewUser {
    email: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    phone: Option<String>,
    picture: Option<String>,
    role: Option<String>,
}

fn create_user(account: &mut Account, request: NewUser) -> Reply {
    let (Some(email), Some(given), Some(family)) = (request.email, request.given_name, request.family_name) else {
        return invalid("Missing required field: email, given_name and family_name are required");
    };
    if !email.contains('@') {
        return invalid(format!("Invalid email '{email}'"));
    }
    if account.users.values().any(|u| u.email.eq_ignore_ascii_case(&email)) {
        return Reply::error(409, "Conflict", format!("User with email '{email}' already exists"));
    }
    if let Some(role) = &request.role
        && let Err(reply) = check_role(account, role, "ACCOUNT")
    {
        return reply;
    }
    let id = fresh_id(account, "invited");
    let user = User {
        id: id.clone(),
        email,
        given_name: Some(given),
        family_name: Some(family),
        active: true,
        invited: true,
        verified: false,
        logged_in_at: None,
        created_at: CREATED_AT.into(),
        phone: request.phone,
        picture: request.picture,
        role: request.role,
    };
    let body = Account::user_json(&user, user.role.as_deref());
    account.users.insert(id, user);
    data(201, "User has been invited to the account", body)
}

fn fresh_id(account: &Account, prefix: &str) -> String {
    (account.users.len()..).map(|n| format!("{prefix}_{n:x}")).find(|id| !account.users.contains_key(id)).expect("an unused id exists")
}

#[derive(Deserialize)]
struct UserChange {
    given_name: Option<String>,
    family_name: Option<String>,
    phone: Option<String>,
    picture: Option<String>,
    role: Option<String>,
}

fn modify_user(account: &mut Account, key: &ApiKey, id: &str, change: UserChange) -> Reply {
    if !account.users.contains_key(id) {
        return not_found("User", id);
    }
    if let Some(role) = &change.role {
        if key.user_id.as_deref() == Some(id) {
            return invalid("You cannot change your own role");
        }
        if let Err(reply) = check_role(account, role, "ACCOUNT") {
            return reply;
        }
    }
    let user = account.users.get_mut(id).expect("checked above");
    if let Some(v) = change.given_name {
        user.given_name = Some(v);
    }
    if let Some(v) = change.family_name {
        user.family_name = Some(v);
    }
    if let Some(v) = change.phone {
        user.phone = Some(v);
    }
    if let Some(v) = change.picture {
        user.picture = Some(v);
    }
    if let Some(v) = change.role {
        user.role = Some(v);
    }
    data(200, "User has been updated", Account::user_json(user, user.role.as_deref()))
}

fn admins(account: &Account) -> usize {
    account.users.values().filter(|u| u.role.as_deref() == Some(ADMIN_ROLE)).count()
}

fn delete_user(account: &mut Account, key: &ApiKey, id: &str) -> Reply {
    let Some(user) = account.users.get(id) else { return not_found("User", id) };
    if key.user_id.as_deref() == Some(id) {
        return invalid("You cannot delete the user of the API key in use");
    }
    if user.role.as_deref() == Some(ADMIN_ROLE) && admins(account) == 1 {
        return invalid("The last Account Administrator cannot be deleted");
    }
    account.users.remove(id);
    account.team_users.retain(|(_, u), _| u != id);
    account.group_users.retain(|(_, u), _| u != id);
    success(format!("User with id '{id}' has been deleted"))
}

fn remove_user_role(account: &mut Account, key: &ApiKey, id: &str) -> Reply {
    let Some(user) = account.users.get(id) else { return not_found("User", id) };
    if key.user_id.as_deref() == Some(id) {
        return invalid("You cannot change your own role");
    }
    if user.role.as_deref() == Some(ADMIN_ROLE) && admins(account) == 1 {
        return invalid("The last Account Administrator cannot lose the role");
    }
    account.users.get_mut(id).expect("checked above").role = None;
    success(format!("User with id '{id}' has been removed from the account role"))
}

#[derive(Deserialize)]
struct TeamChange {
    name: Option<String>,
    description: Option<String>,
    role: Option<String>,
}

fn modify_team(account: &mut Account, id: &str, change: TeamChange) -> Reply {
    if !account.teams.contains_key(id) {
        return not_found("Team", id);
    }
    if let Some(role) = &change.role
        && let Err(reply) = check_role(account, role, "ACCOUNT")
    {
        return reply;
    }
    let team = account.teams.get_mut(id).expect("checked above");
    if let Some(v) = change.name {
        team.name = v;
    }
    if let Some(v) = change.description {
        team.description = Some(v);
    }
    if let Some(v) = change.role {
        team.role = Some(v);
    }
    data(200, "Team has been updated", Account::team_json(team))
}

fn create_team(account: &mut Account, request: TeamChange) -> Reply {
    let Some(name) = request.name.filter(|n| !n.trim().is_empty()) else { return invalid("Missing required field: name") };
    if account.teams.values().any(|t| t.name.eq_ignore_ascii_case(&name)) {
        return Reply::error(409, "Conflict", format!("Team with name '{name}' already exists"));
    }
    if let Some(role) = &request.role
        && let Err(reply) = check_role(account, role, "ACCOUNT")
    {
        return reply;
    }
    let id =
        (account.teams.len()..).map(|n| format!("team_{n:x}")).find(|id| !account.teams.contains_key(id)).expect("an unused id exists");
    let team = Team { id: id.clone(), name, description: request.description, role: request.role };
    let body = Account::team_json(&team);
    account.teams.insert(id, team);
    data(201, "Team has been created", body)
}

fn delete_team(account: &mut Account, id: &str) -> Reply {
    if account.teams.remove(id).is_none() {
        return not_found("Team", id);
    }
    account.team_users.retain(|(t, _), _| t != id);
    account.team_groups.retain(|(t, _), _| t != id);
    success(format!("Team with id '{id}' has been deleted"))
}

fn remove_team_role(account: &mut Account, id: &str) -> Reply {
    let Some(team) = account.teams.get_mut(id) else { return not_found("Team", id) };
    team.role = None;
    success(format!("Team with id '{id}' has been removed from the account role"))
}

#[derive(Deserialize)]
struct TeamUser {
    user_id: String,
    role: Option<String>,
}

#[derive(Deserialize)]
struct RoleChange {
    role: String,
}

/// The three membership tables, keyed (team, user), (team, group) and (group, user).
#[derive(Clone, Copy)]
enum Table {
    TeamUsers,
    TeamGroups,
    GroupUsers,
}

impl Table {
    fn rows(self, account: &mut Account) -> &mut std::collections::BTreeMap<(String, String), String> {
        match self {
            Table::TeamUsers => &mut account.team_users,
            Table::TeamGroups => &mut account.team_groups,
            Table::GroupUsers => &mut account.group_users,
        }
    }

    /// The scope of the roles a row may hold, and the name of a missing row.
    fn rules(self) -> (&'static str, &'static str) {
        match self {
            Table::TeamUsers => ("TEAM", "TeamMembership"),
            Table::TeamGroups => ("DESTINATION", "TeamMembership"),
            Table::GroupUsers => ("DESTINATION", "UserMembership"),
        }
    }
}

/// Changes the role of an existing membership.
fn update_membership(account: &mut Account, table: Table, key: (&str, &str), change: RoleChange) -> Reply {
    let (scope, kind) = table.rules();
    if let Err(reply) = check_role(account, &change.role, scope) {
        return reply;
    }
    match table.rows(account).get_mut(&(key.0.to_owned(), key.1.to_owned())) {
        Some(role) => {
            *role = change.role;
            success("Membership has been updated")
        }
        None => not_found(kind, &format!("{}/{}", key.0, key.1)),
    }
}

fn remove_membership(account: &mut Account, table: Table, key: (&str, &str)) -> Reply {
    match table.rows(account).remove(&(key.0.to_owned(), key.1.to_owned())) {
        Some(_) => success("Membership has been removed"),
        None => not_found(table.rules().1, &format!("{}/{}", key.0, key.1)),
    }
}

fn add_team_user(account: &mut Account, team: &str, request: TeamUser) -> Reply {
    if !account.teams.contains_key(team) {
        return not_found("Team", team);
    }
    if !account.users.contains_key(&request.user_id) {
        return not_found("User", &request.user_id);
    }
    let role = request.role.unwrap_or_else(|| TEAM_MEMBER.into());
    if let Err(reply) = check_role(account, &role, "TEAM") {
        return reply;
    }
    let key = (team.to_owned(), request.user_id.clone());
    if account.team_users.contains_key(&key) {
        return Reply::error(409, "Conflict", format!("User '{}' is already a member of team '{team}'", request.user_id));
    }
    account.team_users.insert(key, role.clone());
    data(201, "User has been added to the team", Account::team_user_json(&request.user_id, &role))
}

#[derive(Deserialize)]
struct GroupMembership {
    id: String,
    role: String,
}

fn add_team_group(account: &mut Account, team: &str, request: GroupMembership) -> Reply {
    if !account.teams.contains_key(team) {
        return not_found("Team", team);
    }
    if !account.groups.contains_key(&request.id) {
        return not_found("Group", &request.id);
    }
    if let Err(reply) = check_role(account, &request.role, "DESTINATION") {
        return reply;
    }
    let key = (team.to_owned(), request.id.clone());
    if account.team_groups.contains_key(&key) {
        return Reply::error(409, "Conflict", format!("Team '{team}' already has a membership in group '{}'", request.id));
    }
    account.team_groups.insert(key, request.role.clone());
    data(201, "Team membership has been created", Account::group_membership_json(&request.id, &request.role))
}

fn add_user_group(account: &mut Account, user: &str, request: GroupMembership) -> Reply {
    if !account.users.contains_key(user) {
        return not_found("User", user);
    }
    if !account.groups.contains_key(&request.id) {
        return not_found("Group", &request.id);
    }
    if let Err(reply) = check_role(account, &request.role, "DESTINATION") {
        return reply;
    }
    let key = (request.id.clone(), user.to_owned());
    if account.group_users.contains_key(&key) {
        return Reply::error(409, "Conflict", format!("User '{user}' already has a membership in group '{}'", request.id));
    }
    account.group_users.insert(key, request.role.clone());
    data(201, "User membership has been created", Account::group_membership_json(&request.id, &request.role))
}

#[derive(Deserialize)]
struct GroupUserByEmail {
    email: String,
    role: Option<String>,
}

fn add_group_user_by_email(account: &mut Account, group: &str, request: GroupUserByEmail) -> Reply {
    if !account.groups.contains_key(group) {
        return not_found("Group", group);
    }
    let Some(user) = account.users.values().find(|u| u.email.eq_ignore_ascii_case(&request.email)) else {
        return not_found("User", &request.email);
    };
    let role = request.role.unwrap_or_else(|| "View Destination".into());
    if let Err(reply) = check_role(account, &role, "DESTINATION") {
        return reply;
    }
    let id = user.id.clone();
    account.group_users.insert((group.to_owned(), id), role);
    success("User has been added to the group")
}
