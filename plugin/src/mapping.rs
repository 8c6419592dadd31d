//! Fivetran objects to resources, entitlements and grants (`CONTRACT.md` section 1).
//!
//! Pure functions: no I/O, no state. Each listing maps to one [`Page`]; what it reveals about
//! other resources (a user's account role, say) rides along as grants and placeholders.

use crate::api;
use crate::json::JsonObject;
use crate::model::{Entitlement, GROUP, Grant, Page, ROLE, Resource, ResourceRef, TEAM, USER, entitlement_id};

/// Slug of the role-assignment entitlement every account role offers.
pub const ASSIGNED: &str = "assigned";
pub const MEMBER: &str = "member";
pub const MANAGER: &str = "manager";

/// The team role Fivetran gives a team's managers; any other team role is plain membership.
const TEAM_MANAGER_ROLE: &str = "Team Manager";
const SCOPE_ACCOUNT: &str = "ACCOUNT";
const SCOPE_DESTINATION: &str = "DESTINATION";

pub fn user_resource(user: &api::User) -> Resource {
    let given = user.given_name.as_deref().unwrap_or_default().trim();
    let family = user.family_name.as_deref().unwrap_or_default().trim();
    let display_name = match (given.is_empty(), family.is_empty()) {
        (true, true) => (*user.email).to_owned(),
        (false, true) => given.to_owned(),
        (true, false) => family.to_owned(),
        (false, false) => [given, " ", family].concat(),
    };
    let optional = [&user.given_name, &user.family_name, &user.logged_in_at, &user.created_at, &user.phone, &user.role];
    let capacity = 200 + 2 * user.email.len() + optional.iter().map(|v| v.as_deref().map_or(0, str::len)).sum::<usize>();
    Resource {
        resource_type: USER.into(),
        id: (*user.id).to_owned(),
        display_name,
        traits: JsonObject::with_capacity(capacity)
            .str("email", &user.email)
            .str("login", &user.email)
            .opt_str("given_name", user.given_name.as_deref())
            .opt_str("family_name", user.family_name.as_deref())
            .str("status", if user.active { "enabled" } else { "disabled" })
            .bool("invited", user.invited.unwrap_or(false))
            .bool("verified", user.verified.unwrap_or(false))
            .opt_str("last_login", trimmed(&user.logged_in_at))
            .opt_str("created_at", user.created_at.as_deref())
            .opt_str("phone", trimmed(&user.phone))
            .opt_str("account_role", trimmed(&user.role))
            .finish(),
    }
}

pub fn role_resource(role: &api::Role) -> Resource {
    Resource {
        resource_type: ROLE.into(),
        id: role.name.clone(),
        display_name: role.name.clone(),
        traits: role_traits(
            role.description.as_deref(),
            &role.scope,
            role.is_custom,
            role.is_deprecated,
            trimmed(&role.replacement_role_name),
        ),
    }
}

pub fn team_resource(team: &api::Team) -> Resource {
    let name = team.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| team.id.clone());
    Resource {
        resource_type: TEAM.into(),
        id: team.id.clone(),
        display_name: name,
        traits: JsonObject::with_capacity(64)
            .opt_str("description", trimmed(&team.description))
            .opt_str("account_role", trimmed(&team.role))
            .finish(),
    }
}

pub fn group_resource(group: &api::Group) -> Resource {
    let name = group.name.clone().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| group.id.clone());
    Resource {
        resource_type: GROUP.into(),
        id: group.id.clone(),
        display_name: name,
        traits: JsonObject::with_capacity(48).opt_str("created_at", group.created_at.as_deref()).finish(),
    }
}

/// A page of `GET /v1/users`: the users, and each user's account role as a grant.
pub fn users_page(users: &[api::User]) -> Page {
    let mut page = Page::default();
    page.resources.reserve(users.len());
    page.grants.reserve(users.len());
    for user in users {
        page.resources.push(user_resource(user));
        let Some(role) = trimmed(&user.role) else { continue };
        let index = role_placeholder(&mut page, role);
        let principal = ResourceRef::new(USER, &user.id);
        page.grants.push(Grant::new(&page.entitlements[index].id, principal, Vec::new()));
    }
    page
}

pub fn roles_page(roles: &[api::Role]) -> Page {
    Page { resources: roles.iter().map(role_resource).collect(), ..Page::default() }
}

/// A page of `GET /v1/teams`: the teams, and each team's account role as an expandable grant.
pub fn teams_page(teams: &[api::Team]) -> Page {
    let mut page = Page::default();
    for team in teams {
        page.resources.push(team_resource(team));
        if let Some(role) = trimmed(&team.role) {
            let index = role_placeholder(&mut page, role);
            let principal = ResourceRef::new(TEAM, &team.id);
            page.grants.push(Grant::new(&page.entitlements[index].id, principal, team_expansion(&team.id)));
        }
    }
    page
}

pub fn groups_page(groups: &[api::Group]) -> Page {
    Page { resources: groups.iter().map(group_resource).collect(), ..Page::default() }
}

/// The entitlements a resource offers. Groups offer one per destination-scoped role in `roles`.
pub fn entitlements(resource: &Resource, roles: &[Resource]) -> Vec<Entitlement> {
    let this = ResourceRef::new(&resource.resource_type, &resource.id);
    let name = &resource.display_name;
    match resource.resource_type.as_str() {
        ROLE if role_has_scope(resource, SCOPE_ACCOUNT) || role_scope_unknown(resource) => {
            vec![Entitlement::new(this, ASSIGNED, format!("{name} role"), &[USER, TEAM])]
        }
        TEAM => vec![
            Entitlement::new(this.clone(), MEMBER, format!("{name} member"), &[USER]),
            Entitlement::new(this, MANAGER, format!("{name} manager"), &[USER]),
        ],
        GROUP => roles
            .iter()
            .filter(|role| role.resource_type == ROLE && role_has_scope(role, SCOPE_DESTINATION))
            .map(|role| Entitlement::new(this.clone(), &role.id, format!("{} on {name}", role.id), &[USER, TEAM]))
            .collect(),
        _ => Vec::new(),
    }
}

/// Grants of `GET /v1/teams/{id}/users`: `member` or `manager` of the team.
pub fn team_user_grants(team_id: &str, memberships: &[api::TeamMembership]) -> Vec<Grant> {
    memberships
        .iter()
        .map(|membership| {
            let slug = match membership.role.as_deref() {
                Some(TEAM_MANAGER_ROLE) => MANAGER,
                _ => MEMBER,
            };
            Grant::new(&entitlement_id(TEAM, team_id, slug), ResourceRef::new(USER, &membership.user_id), Vec::new())
        })
        .collect()
}

/// Grants of `GET /v1/teams/{id}/groups`: the team's role on each destination, passed to its
/// members.
pub fn team_group_page(team_id: &str, memberships: &[api::Membership]) -> Page {
    let mut page = Page::default();
    for membership in memberships {
        let Some(role) = trimmed(&membership.role) else { continue };
        let index = group_access_placeholder(&mut page, &membership.id, role);
        let principal = ResourceRef::new(TEAM, team_id);
        page.grants.push(Grant::new(&page.entitlements[index].id, principal, team_expansion(team_id)));
    }
    page
}

/// Grants of `GET /v1/groups/{id}/users`. Users listed with a null or empty role reach the group
/// through their account role; they hold nothing on the group itself.
pub fn group_user_page(group_id: &str, members: &[api::GroupMember]) -> Page {
    let mut page = Page::default();
    for member in members {
        let Some(role) = trimmed(&member.role) else { continue };
        let index = group_access_placeholder(&mut page, group_id, role);
        page.grants.push(Grant::new(&page.entitlements[index].id, ResourceRef::new(USER, &member.id), Vec::new()));
    }
    page
}

pub fn role_entitlement_id(role: &str) -> String {
    entitlement_id(ROLE, role, ASSIGNED)
}

/// Entitlements whose holders hold a team's grants too.
pub fn team_expansion(team_id: &str) -> Vec<String> {
    vec![entitlement_id(TEAM, team_id, MEMBER), entitlement_id(TEAM, team_id, MANAGER)]
}

pub fn account_info(info: api::AccountInfo) -> crate::model::AccountInfo {
    use crate::model::KeyKind;
    let (key_kind, key_owner) = match (non_empty(&info.user_id), non_empty(&info.system_key_id)) {
        (Some(user), _) => (KeyKind::User, Some(user)),
        (None, Some(system)) => (KeyKind::System, Some(system)),
        (None, None) => (KeyKind::Unknown, None),
    };
    crate::model::AccountInfo { account_id: info.account_id, account_name: info.account_name, key_kind, key_owner }
}

/// The page's entitlement on `resource_type`/`resource_id` with `slug`, if it has one. A page
/// names few distinct entitlements, so each is found by a short search, not built again for every
/// one of its thousand items.
fn entitlement_index(page: &Page, resource_type: &str, resource_id: &str, slug: &str) -> Option<usize> {
    page.entitlements.iter().position(|e| e.slug == slug && e.resource.id == resource_id && e.resource.resource_type == resource_type)
}

/// The `assigned` entitlement of a role named by a user or team, with a placeholder for the role
/// (it may be a legacy name `/v1/roles` does not list; the role listing's own record replaces it).
fn role_placeholder(page: &mut Page, role: &str) -> usize {
    if let Some(index) = entitlement_index(page, ROLE, role, ASSIGNED) {
        return index;
    }
    page.resources.push(Resource {
        resource_type: ROLE.into(),
        id: role.to_owned(),
        display_name: role.to_owned(),
        traits: role_traits(None, &[], false, false, None),
    });
    page.entitlements.push(Entitlement::new(ResourceRef::new(ROLE, role), ASSIGNED, format!("{role} role"), &[USER, TEAM]));
    page.entitlements.len() - 1
}

/// The entitlement of `role` on a group, built from ids alone so that every listing that reveals
/// it builds the same record.
fn group_access_placeholder(page: &mut Page, group_id: &str, role: &str) -> usize {
    if let Some(index) = entitlement_index(page, GROUP, group_id, role) {
        return index;
    }
    let this = ResourceRef::new(GROUP, group_id);
    page.entitlements.push(Entitlement::new(this, role, format!("{role} on group {group_id}"), &[USER, TEAM]));
    page.entitlements.len() - 1
}

fn role_has_scope(role: &Resource, scope: &str) -> bool {
    role_scopes(role).any(|s| s.eq_ignore_ascii_case(scope))
}

fn role_scope_unknown(role: &Resource) -> bool {
    role_scopes(role).next().is_none()
}

fn role_scopes(role: &Resource) -> impl Iterator<Item = String> {
    #[derive(serde::Deserialize)]
    struct Scope {
        #[serde(default)]
        scope: Vec<String>,
    }
    serde_json::from_str::<Scope>(&role.traits).map(|s| s.scope).unwrap_or_default().into_iter()
}

fn role_traits(description: Option<&str>, scope: &[String], is_custom: bool, deprecated: bool, replacement: Option<&str>) -> String {
    JsonObject::with_capacity(128)
        .opt_str("description", description)
        .strs("scope", scope)
        .bool("is_custom", is_custom)
        .bool("deprecated", deprecated)
        .opt_str("replacement", replacement)
        .finish()
}

/// A present, non-blank value, trimmed.
pub(crate) fn trimmed<S: AsRef<str>>(value: &Option<S>) -> Option<&str> {
    value.as_ref().map(|v| v.as_ref().trim()).filter(|v| !v.is_empty())
}

fn non_empty<S: AsRef<str>>(value: &Option<S>) -> Option<String> {
    trimmed(value).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn user<'a>(id: &'a str, role: Option<&'a str>) -> api::User<'a> {
        api::User {
            id: id.into(),
            email: format!("{id}@example.com").into(),
            given_name: Some("Zoë".into()),
            family_name: Some("Ångström".into()),
            active: true,
            invited: Some(false),
            verified: Some(true),
            logged_in_at: None,
            created_at: Some("2024-01-01T00:00:00Z".into()),
            phone: None,
            role: role.map(Into::into),
        }
    }

    fn role(name: &str, scope: &[&str]) -> api::Role {
        api::Role {
            name: name.into(),
            description: None,
            scope: scope.iter().map(|s| (*s).into()).collect(),
            is_custom: false,
            is_deprecated: false,
            replacement_role_name: None,
        }
    }

    fn traits(resource: &Resource) -> Value {
        serde_json::from_str(&resource.traits).expect("traits are JSON")
    }

    #[test]
    fn user_traits_follow_the_contract() {
        let mut u = user("u1", Some("Account Analyst"));
        u.active = false;
        u.phone = Some("".into());
        let r = user_resource(&u);
        assert_eq!(r.display_name, "Zoë Ångström");
        let r = Resource { traits: traits(&r).to_string(), ..r };
        let traits = traits(&r);
        assert_eq!(traits["status"], "disabled");
        assert_eq!(traits["login"], "u1@example.com");
        assert_eq!(traits["phone"], Value::Null);
        assert_eq!(traits["last_login"], Value::Null);
        assert_eq!(traits["account_role"], "Account Analyst");
        assert_eq!(traits.as_object().unwrap().len(), 11, "every contract trait, present even when null");
    }

    #[test]
    fn display_name_falls_back_to_email() {
        let mut u = user("u1", None);
        u.given_name = Some("  ".into());
        u.family_name = None;
        assert_eq!(user_resource(&u).display_name, "u1@example.com");
    }

    #[test]
    fn users_page_grants_account_roles_and_skips_users_without_one() {
        let page = users_page(&[user("u1", Some("Account Reviewer")), user("u2", None), user("u3", Some(""))]);
        assert_eq!(page.resources.iter().filter(|r| r.resource_type == USER).count(), 3);
        let grants: Vec<_> = page.grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(grants, ["role:Account Reviewer:assigned:user:u1"]);
        assert!(page.resources.iter().any(|r| r.resource_type == ROLE && r.id == "Account Reviewer"));
    }

    #[test]
    fn team_role_grant_is_expandable_to_members_and_managers() {
        let team = api::Team { id: "t1".into(), name: Some("Fin".into()), description: None, role: Some("Account Analyst".into()) };
        let page = teams_page(&[team]);
        assert_eq!(page.grants[0].id, "role:Account Analyst:assigned:team:t1");
        assert_eq!(page.grants[0].expandable, ["team:t1:member", "team:t1:manager"]);
    }

    #[test]
    fn group_entitlements_come_from_destination_roles() {
        let roles: Vec<_> =
            [role("Manage Destination", &["DESTINATION"]), role("Account Analyst", &["ACCOUNT"])].iter().map(role_resource).collect();
        let group = group_resource(&api::Group { id: "g1".into(), name: Some("Warehouse".into()), created_at: None });
        let ents = entitlements(&group, &roles);
        assert_eq!(ents.len(), 1);
        assert_eq!(ents[0].id, "group:g1:Manage Destination");
        assert_eq!(ents[0].display_name, "Manage Destination on Warehouse");
        assert_eq!(entitlements(&roles[0], &[]).len(), 0, "destination roles are not account roles");
        assert_eq!(entitlements(&roles[1], &[])[0].id, "role:Account Analyst:assigned");
    }

    #[test]
    fn inherited_group_users_hold_no_grant() {
        let member = |id: &'static str, role: Option<&'static str>| api::GroupMember { id: id.into(), role: role.map(Into::into) };
        let page = group_user_page("g1", &[member("u1", None), member("u2", Some(" ")), member("u3", Some("View Destination"))]);
        let grants: Vec<_> = page.grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(grants, ["group:g1:View Destination:user:u3"]);
        assert_eq!(page.entitlements.len(), 1);
    }

    #[test]
    fn team_memberships_map_to_member_and_manager() {
        let items = [
            api::TeamMembership { user_id: "u1".into(), role: Some("Team Manager".into()) },
            api::TeamMembership { user_id: "u2".into(), role: Some("Team Member".into()) },
        ];
        let ids: Vec<_> = team_user_grants("t1", &items).into_iter().map(|g| g.id).collect();
        assert_eq!(ids, ["team:t1:manager:user:u1", "team:t1:member:user:u2"]);
    }

    #[test]
    fn key_kind_comes_from_which_id_is_present() {
        let info = api::AccountInfo { account_id: "a".into(), account_name: None, user_id: None, system_key_id: Some("k".into()) };
        assert_eq!(account_info(info).key_kind, crate::model::KeyKind::System);
    }
}
