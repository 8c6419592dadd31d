//! Fivetran objects to resources, entitlements and grants (`docs/contract.md` section 1).
//!
//! Pure functions: no I/O, no state. Each listing maps to one [`Page`]; what it reveals about
//! other resources (a user's account role, say) rides along as grants and placeholders. Each
//! reads its items under the parsing policy of [`crate::lenient`]: an item that cannot be
//! identified stops the listing; every other field has its default, noted in `notes`.

use crate::api;
use crate::ids::{check_api_id, check_reported_email, check_role_name};
use crate::json::JsonObject;
use crate::lenient::{Field, Notes, Spec};
use crate::model::{Entitlement, GROUP, Grant, Page, ROLE, Resource, ResourceRef, Result, TEAM, USER, entitlement_id};

/// Slug of the role-assignment entitlement every account role offers.
pub const ASSIGNED: &str = "assigned";
pub const MEMBER: &str = "member";
pub const MANAGER: &str = "manager";

/// The team roles Fivetran gives; any other is read as plain membership, with a warning.
const TEAM_MANAGER_ROLE: &str = "Team Manager";
const TEAM_MEMBER_ROLE: &str = "Team Member";
const SCOPE_ACCOUNT: &str = "ACCOUNT";
const SCOPE_DESTINATION: &str = "DESTINATION";
/// The role scopes the API's definition lists; others are kept as they came.
const KNOWN_SCOPES: &[&str] = &[SCOPE_ACCOUNT, SCOPE_DESTINATION, "CONNECTOR", "TEAM"];

/// A user; `index` is its place in the page, for errors.
pub fn user_resource(index: usize, user: &api::User, notes: &mut Notes) -> Result<Resource> {
    let id = notes.identity(index, "id", &user.id, check_api_id)?;
    let email = notes.identity(index, "email", &user.email, check_reported_email)?.trim();
    notes.field("given_name", &user.given_name, Spec::Optional, "read as none");
    notes.field("family_name", &user.family_name, Spec::Optional, "read as none");
    notes.field("active", &user.active, Spec::Required, "read as active (status enabled)");
    notes.field("invited", &user.invited, Spec::Optional, "read as false");
    notes.field("verified", &user.verified, Spec::Required, "read as false");
    notes.field("logged_in_at", &user.logged_in_at, Spec::Optional, "read as never (last_login null)");
    notes.field("created_at", &user.created_at, Spec::Required, "read as unknown (null)");
    notes.field("phone", &user.phone, Spec::Optional, "read as none");
    notes.field("role", &user.role, Spec::Optional, "read as no account role");
    let given = user.given_name.trimmed();
    let family = user.family_name.trimmed();
    let display_name = match (given, family) {
        (None, None) => email.to_owned(),
        (Some(given), None) => given.to_owned(),
        (None, Some(family)) => family.to_owned(),
        (Some(given), Some(family)) => [given, " ", family].concat(),
    };
    let optional = [&user.given_name, &user.family_name, &user.logged_in_at, &user.created_at, &user.phone, &user.role];
    let capacity = 200 + 2 * email.len() + optional.iter().map(|v| v.as_deref().map_or(0, str::len)).sum::<usize>();
    Ok(Resource {
        resource_type: USER.into(),
        id: id.to_owned(),
        display_name,
        traits: JsonObject::with_capacity(capacity)
            .str("email", email)
            .str("login", email)
            .opt_str("given_name", user.given_name.as_deref())
            .opt_str("family_name", user.family_name.as_deref())
            .str("status", if user.active.get().copied().unwrap_or(true) { "enabled" } else { "disabled" })
            .bool("invited", user.invited.get().copied().unwrap_or(false))
            .bool("verified", user.verified.get().copied().unwrap_or(false))
            .opt_str("last_login", user.logged_in_at.trimmed())
            .opt_str("created_at", user.created_at.as_deref())
            .opt_str("phone", user.phone.trimmed())
            .opt_str("account_role", user.role.exact_trimmed())
            .finish(),
        aliases: Vec::new(),
    })
}

pub fn role_resource(index: usize, role: &api::Role, notes: &mut Notes) -> Result<Resource> {
    let name = notes.identity(index, "name", &role.name, check_role_name)?;
    notes.field("description", &role.description, Spec::Optional, "read as none");
    notes.field("scope", &role.scope, Spec::Required, "read as unknown (the role is offered as an account role)");
    notes.field("is_custom", &role.is_custom, Spec::Required, "read as false");
    notes.field("is_deprecated", &role.is_deprecated, Spec::Required, "read as false");
    notes.field("replacement_role_name", &role.replacement_role_name, Spec::Optional, "read as none");
    let scope = role.scope.get().map(Vec::as_slice).unwrap_or_default();
    for value in scope {
        if !KNOWN_SCOPES.iter().any(|known| value.eq_ignore_ascii_case(known)) {
            notes.unknown_value("scope", value, "kept as it came");
        }
    }
    Ok(Resource {
        resource_type: ROLE.into(),
        id: name.to_owned(),
        display_name: name.to_owned(),
        traits: role_traits(
            role.description.as_deref(),
            scope,
            role.is_custom.get().copied().unwrap_or(false),
            role.is_deprecated.get().copied().unwrap_or(false),
            role.replacement_role_name.trimmed(),
        ),
        aliases: Vec::new(),
    })
}

pub fn team_resource(index: usize, team: &api::Team, notes: &mut Notes) -> Result<Resource> {
    let id = notes.identity(index, "id", &team.id, check_api_id)?;
    notes.field("name", &team.name, Spec::Optional, "the team's id is its display name");
    notes.field("description", &team.description, Spec::Optional, "read as none");
    notes.field("role", &team.role, Spec::Optional, "read as no account role");
    Ok(Resource {
        resource_type: TEAM.into(),
        id: id.to_owned(),
        display_name: team.name.trimmed().unwrap_or(id).to_owned(),
        traits: JsonObject::with_capacity(64)
            .opt_str("description", team.description.trimmed())
            .opt_str("account_role", team.role.exact_trimmed())
            .finish(),
        aliases: Vec::new(),
    })
}

pub fn group_resource(index: usize, group: &api::Group, notes: &mut Notes) -> Result<Resource> {
    let id = notes.identity(index, "id", &group.id, check_api_id)?;
    notes.field("name", &group.name, Spec::Required, "the group's id is its display name");
    notes.field("created_at", &group.created_at, Spec::Required, "read as unknown (null)");
    Ok(Resource {
        resource_type: GROUP.into(),
        id: id.to_owned(),
        display_name: group.name.trimmed().unwrap_or(id).to_owned(),
        traits: JsonObject::with_capacity(48).opt_str("created_at", group.created_at.as_deref()).finish(),
        aliases: Vec::new(),
    })
}

/// A page of `GET /v1/users`: the users, and each user's account role as a grant.
pub fn users_page(users: &[api::User], notes: &mut Notes) -> Result<Page> {
    let mut page = Page::default();
    page.resources.reserve(users.len());
    page.grants.reserve(users.len());
    for (index, user) in users.iter().enumerate() {
        let resource = user_resource(index, user, notes)?;
        let role = user.role.exact_trimmed();
        if let Some(role) = role {
            account_role_grant(&mut page, index, role, ResourceRef::new(USER, &resource.id), Vec::new(), notes)?;
        }
        page.resources.push(resource);
    }
    Ok(page)
}

pub fn roles_page(roles: &[api::Role], notes: &mut Notes) -> Result<Page> {
    let resources = roles.iter().enumerate().map(|(index, role)| role_resource(index, role, notes)).collect::<Result<_>>()?;
    Ok(Page { resources, ..Page::default() })
}

/// A page of `GET /v1/teams`: the teams, and each team's account role as an expandable grant.
pub fn teams_page(teams: &[api::Team], notes: &mut Notes) -> Result<Page> {
    let mut page = Page::default();
    for (index, team) in teams.iter().enumerate() {
        let resource = team_resource(index, team, notes)?;
        if let Some(role) = team.role.exact_trimmed() {
            let expansion = team_expansion(&resource.id);
            account_role_grant(&mut page, index, role, ResourceRef::new(TEAM, &resource.id), expansion, notes)?;
        }
        page.resources.push(resource);
    }
    Ok(page)
}

pub fn groups_page(groups: &[api::Group], notes: &mut Notes) -> Result<Page> {
    let resources = groups.iter().enumerate().map(|(index, group)| group_resource(index, group, notes)).collect::<Result<_>>()?;
    Ok(Page { resources, ..Page::default() })
}

/// The grant of account role `role` to `principal`, with the role's placeholder.
fn account_role_grant(
    page: &mut Page,
    index: usize,
    role: &str,
    principal: ResourceRef,
    expandable: Vec<String>,
    notes: &Notes,
) -> Result<()> {
    notes.check(index, "role", role, check_role_name)?;
    let entitlement = role_placeholder(page, role);
    page.grants.push(Grant::new(&page.entitlements[entitlement].id, principal, expandable));
    Ok(())
}

/// The entitlements a resource offers. Groups offer one per destination-scoped role in `roles`.
pub fn entitlements(resource: &Resource, roles: &[Resource]) -> Vec<Entitlement> {
    let this = ResourceRef::new(&resource.resource_type, &resource.id);
    let name = &resource.display_name;
    match resource.resource_type.as_str() {
        ROLE if role_has_scope(resource, SCOPE_ACCOUNT) || role_scope_unknown(resource) => {
            vec![Entitlement::new(this, ASSIGNED, format!("{name} role"), &[USER, TEAM]).assignment()]
        }
        TEAM => vec![
            Entitlement::new(this.clone(), MEMBER, format!("{name} member"), &[USER]).assignment(),
            Entitlement::new(this, MANAGER, format!("{name} manager"), &[USER]).assignment(),
        ],
        GROUP => roles
            .iter()
            .filter(|role| role.resource_type == ROLE && role_has_scope(role, SCOPE_DESTINATION))
            .map(|role| Entitlement::new(this.clone(), &role.id, format!("{} on {name}", role.id), &[USER, TEAM]))
            .collect(),
        _ => Vec::new(),
    }
}

/// Grants of `GET /v1/teams/{id}/users`: `member` or `manager` of the team. A role the API's
/// definition does not name is read as plain membership, with a warning.
pub fn team_user_grants(team_id: &str, memberships: &[api::TeamMembership], notes: &mut Notes) -> Result<Vec<Grant>> {
    let mut grants = Vec::with_capacity(memberships.len());
    for (index, membership) in memberships.iter().enumerate() {
        let user = notes.identity(index, "user_id", &membership.user_id, check_api_id)?;
        notes.field("role", &membership.role, Spec::Required, "read as member");
        let slug = match membership.role.exact_trimmed() {
            Some(TEAM_MANAGER_ROLE) => MANAGER,
            Some(TEAM_MEMBER_ROLE) | None => MEMBER,
            Some(other) => {
                notes.unknown_value("role", other, "read as member");
                MEMBER
            }
        };
        grants.push(Grant::new(&entitlement_id(TEAM, team_id, slug), ResourceRef::new(USER, user), Vec::new()));
    }
    Ok(grants)
}

/// Grants of `GET /v1/teams/{id}/groups`: the team's role on each destination, passed to its
/// members.
pub fn team_group_page(team_id: &str, memberships: &[api::Membership], notes: &mut Notes) -> Result<Page> {
    let mut page = Page::default();
    for (index, membership) in memberships.iter().enumerate() {
        let group = notes.identity(index, "id", &membership.id, check_api_id)?;
        notes.field("role", &membership.role, Spec::Required, "read as no access (no grant)");
        let Some(role) = membership.role.exact_trimmed() else { continue };
        notes.check(index, "role", role, check_role_name)?;
        let entitlement = group_access_placeholder(&mut page, group, role);
        let principal = ResourceRef::new(TEAM, team_id);
        page.grants.push(Grant::new(&page.entitlements[entitlement].id, principal, team_expansion(team_id)));
    }
    Ok(page)
}

/// Grants of `GET /v1/groups/{id}/users`. Users listed with a null or empty role reach the group
/// through their account role; they hold nothing on the group itself.
pub fn group_user_page(group_id: &str, members: &[api::GroupMember], notes: &mut Notes) -> Result<Page> {
    let mut page = Page::default();
    for (index, member) in members.iter().enumerate() {
        let user = notes.identity(index, "id", &member.id, check_api_id)?;
        notes.field("role", &member.role, Spec::Optional, "read as inherited access (no grant)");
        let Some(role) = member.role.exact_trimmed() else { continue };
        notes.check(index, "role", role, check_role_name)?;
        let entitlement = group_access_placeholder(&mut page, group_id, role);
        page.grants.push(Grant::new(&page.entitlements[entitlement].id, ResourceRef::new(USER, user), Vec::new()));
    }
    Ok(page)
}

pub fn role_entitlement_id(role: &str) -> String {
    entitlement_id(ROLE, role, ASSIGNED)
}

/// Entitlements whose holders hold a team's grants too.
pub fn team_expansion(team_id: &str) -> Vec<String> {
    vec![entitlement_id(TEAM, team_id, MEMBER), entitlement_id(TEAM, team_id, MANAGER)]
}

/// The account and the key. The account id identifies; the key's owner decides what
/// `deprovision` refuses, so a user id that is not a well-formed id is an error too.
pub fn account_info(info: &api::AccountInfo, notes: &mut Notes) -> Result<crate::model::AccountInfo> {
    use crate::model::KeyKind;
    let account_id = notes.identity(0, "account_id", &info.account_id, check_api_id)?.to_owned();
    notes.field("account_name", &info.account_name, Spec::Optional, "read as none");
    let user = match &info.user_id {
        Field::Null | Field::Absent => None,
        Field::Value(id) if id.trim().is_empty() => None,
        held => Some(notes.identity(0, "user_id", held, check_api_id)?.to_owned()),
    };
    let system = info.system_key_id.trimmed().map(str::to_owned);
    let (key_kind, key_owner) = match (user, system) {
        (Some(user), _) => (KeyKind::User, Some(user)),
        (None, Some(system)) => (KeyKind::System, Some(system)),
        (None, None) => (KeyKind::Unknown, None),
    };
    Ok(crate::model::AccountInfo { account_id, account_name: info.account_name.trimmed().map(str::to_owned), key_kind, key_owner })
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
        aliases: Vec::new(),
    });
    page.entitlements.push(Entitlement::new(ResourceRef::new(ROLE, role), ASSIGNED, format!("{role} role"), &[USER, TEAM]).assignment());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ConnectorError;
    use serde_json::Value;

    fn notes() -> Notes {
        Notes::new("GET /v1/x", "GET /v1/x")
    }

    fn text(value: &str) -> Field<std::borrow::Cow<'_, str>> {
        Field::Value(value.into())
    }

    fn user<'a>(id: &'a str, email: &'a str, role: Option<&'a str>) -> api::User<'a> {
        api::User {
            id: text(id),
            email: text(email),
            given_name: text("Zoë"),
            family_name: text("Ångström"),
            active: Field::Value(true),
            invited: Field::Value(false),
            verified: Field::Value(true),
            logged_in_at: Field::Null,
            created_at: text("2024-01-01T00:00:00Z"),
            phone: Field::Null,
            role: role.map_or(Field::Null, text),
        }
    }

    fn role(name: &str, scope: &[&str]) -> api::Role {
        api::Role {
            name: Field::Value(name.into()),
            scope: Field::Value(scope.iter().map(|s| (*s).into()).collect()),
            is_custom: Field::Value(false),
            is_deprecated: Field::Value(false),
            ..api::Role::default()
        }
    }

    fn traits(resource: &Resource) -> Value {
        serde_json::from_str(&resource.traits).expect("traits are JSON")
    }

    #[test]
    fn user_traits_follow_the_contract() {
        let mut u = user("u1", "u1@example.com", Some("Account Analyst"));
        u.active = Field::Value(false);
        u.phone = text("");
        let r = user_resource(0, &u, &mut notes()).unwrap();
        assert_eq!(r.display_name, "Zoë Ångström");
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
        let mut u = user("u1", " u1@example.com ", None);
        u.given_name = text("  ");
        u.family_name = Field::Absent;
        let resource = user_resource(0, &u, &mut notes()).unwrap();
        assert_eq!(resource.display_name, "u1@example.com");
        assert_eq!(traits(&resource)["email"], "u1@example.com", "trimmed");
    }

    #[test]
    fn informational_fields_fall_back_to_their_defaults_and_are_noted() {
        let bare = api::User { id: text("u1"), email: text("a@b.io"), ..api::User::default() };
        let mut noted = notes();
        let read = traits(&user_resource(0, &bare, &mut noted).unwrap());
        assert_eq!(read["status"], "enabled");
        assert_eq!((&read["invited"], &read["verified"]), (&Value::Bool(false), &Value::Bool(false)));
        assert_eq!((&read["created_at"], &read["account_role"]), (&Value::Null, &Value::Null));
        let warnings: Vec<_> = noted.warnings().collect();
        assert_eq!(warnings.len(), 3, "active, verified and created_at are required by the definition: {warnings:?}");
        assert!(warnings[0].starts_with("GET /v1/x: field active was missing; read as active"), "{warnings:?}");

        let mut mistyped = user("u2", "c@d.io", None);
        mistyped.role = Field::Converted("7".into(), crate::lenient::Kind::Number);
        mistyped.active = Field::Mistyped(crate::lenient::Kind::Object);
        let page = users_page(&[mistyped], &mut notes()).unwrap();
        assert!(page.grants.is_empty(), "a number is not taken for a role name");
        assert_eq!(traits(&page.resources[0])["status"], "enabled");
    }

    #[test]
    fn an_item_that_cannot_be_identified_stops_the_listing() {
        let cases: Vec<(api::User, &str)> = vec![
            (api::User { email: text("a@b.io"), ..api::User::default() }, "item 1 of the page: id is missing"),
            (user("..", "a@b.io", None), "id \"..\" is a dot segment"),
            (user("a:b", "a@b.io", None), "holds ':'"),
            (user("u1", "", None), "email is blank"),
            (api::User { id: text("u1"), email: Field::Null, ..api::User::default() }, "email came null"),
            (user("u1", "a@b.io", Some("Bad\nRole")), "role \"Bad\\nRole\" holds the control character"),
        ];
        for (bad, expect) in cases {
            match users_page(&[bad], &mut notes()) {
                Err(ConnectorError::Upstream { status: Some(200), code: Some(code), message }) => {
                    assert_eq!(code, "MalformedResponse");
                    assert!(message.starts_with("GET /v1/x answered an item the connector cannot identify"), "{message}");
                    assert!(message.contains(expect), "{message} should say {expect}");
                }
                other => panic!("{expect}: {other:?}"),
            }
        }
    }

    #[test]
    fn users_page_grants_account_roles_and_skips_users_without_one() {
        let page = users_page(
            &[user("u1", "a@x.io", Some("Account Reviewer")), user("u2", "b@x.io", None), user("u3", "c@x.io", Some(""))],
            &mut notes(),
        )
        .unwrap();
        assert_eq!(page.resources.iter().filter(|r| r.resource_type == USER).count(), 3);
        let grants: Vec<_> = page.grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(grants, ["role:Account Reviewer:assigned:user:u1"]);
        assert!(page.resources.iter().any(|r| r.resource_type == ROLE && r.id == "Account Reviewer"));
    }

    #[test]
    fn team_role_grant_is_expandable_to_members_and_managers() {
        let team = api::Team {
            id: Field::Value("t1".into()),
            name: Field::Value("Fin".into()),
            role: Field::Value("Account Analyst".into()),
            ..api::Team::default()
        };
        let page = teams_page(&[team], &mut notes()).unwrap();
        assert_eq!(page.grants[0].id, "role:Account Analyst:assigned:team:t1");
        assert_eq!(page.grants[0].expandable, ["team:t1:member", "team:t1:manager"]);
    }

    #[test]
    fn group_entitlements_come_from_destination_roles() {
        let roles: Vec<_> = [role("Manage Destination", &["DESTINATION"]), role("Account Analyst", &["ACCOUNT"])]
            .iter()
            .map(|r| role_resource(0, r, &mut notes()).unwrap())
            .collect();
        let group = api::Group { id: Field::Value("g1".into()), name: Field::Value("Warehouse".into()), ..api::Group::default() };
        let group = group_resource(0, &group, &mut notes()).unwrap();
        let ents = entitlements(&group, &roles);
        assert_eq!(ents.len(), 1);
        assert_eq!(ents[0].id, "group:g1:Manage Destination");
        assert_eq!(ents[0].display_name, "Manage Destination on Warehouse");
        assert_eq!(entitlements(&roles[0], &[]).len(), 0, "destination roles are not account roles");
        assert_eq!(entitlements(&roles[1], &[])[0].id, "role:Account Analyst:assigned");
    }

    #[test]
    fn unknown_scopes_are_kept_and_noted_once() {
        let mut noted = notes();
        let odd = [role("Warehouse Admin", &["WAREHOUSE"]), role("Other", &["WAREHOUSE", "ACCOUNT"])];
        let page = roles_page(&odd, &mut noted).unwrap();
        assert_eq!(traits(&page.resources[0])["scope"], serde_json::json!(["WAREHOUSE"]));
        let warnings: Vec<_> = noted.warnings().collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("field scope held \"WAREHOUSE\", a value the API's definition does not list; kept as it came"));
    }

    #[test]
    fn inherited_group_users_hold_no_grant() {
        let member = |id: &'static str, role: Option<&'static str>| api::GroupMember { id: text(id), role: role.map_or(Field::Null, text) };
        let page =
            group_user_page("g1", &[member("u1", None), member("u2", Some(" ")), member("u3", Some("View Destination"))], &mut notes())
                .unwrap();
        let grants: Vec<_> = page.grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(grants, ["group:g1:View Destination:user:u3"]);
        assert_eq!(page.entitlements.len(), 1);
    }

    #[test]
    fn team_memberships_map_to_member_and_manager_and_unknown_roles_to_member() {
        let membership = |user: &str, role: Field<String>| api::TeamMembership { user_id: Field::Value(user.into()), role };
        let items = [
            membership("u1", Field::Value("Team Manager".into())),
            membership("u2", Field::Value("Team Member".into())),
            membership("u3", Field::Value("Team Owner".into())),
            membership("u4", Field::Null),
        ];
        let mut noted = notes();
        let ids: Vec<_> = team_user_grants("t1", &items, &mut noted).unwrap().into_iter().map(|g| g.id).collect();
        assert_eq!(ids, ["team:t1:manager:user:u1", "team:t1:member:user:u2", "team:t1:member:user:u3", "team:t1:member:user:u4"]);
        assert_eq!(noted.warnings().count(), 2, "the unknown role and the null one");
    }

    #[test]
    fn key_kind_comes_from_which_id_is_present() {
        let info = api::AccountInfo {
            account_id: Field::Value("a".into()),
            system_key_id: Field::Value("k".into()),
            user_id: Field::Null,
            ..api::AccountInfo::default()
        };
        assert_eq!(account_info(&info, &mut notes()).unwrap().key_kind, crate::model::KeyKind::System);
    }

    /// One response type: a well-formed item, the fields that identify it, and how its items
    /// are mapped.
    struct Answer {
        name: &'static str,
        item: &'static str,
        identifying: &'static [&'static str],
        /// Fields that may be null or absent, but identify when they hold something.
        identifying_when_present: &'static [&'static str],
        map: fn(&str) -> Result<Page>,
    }

    fn map_users(json: &str) -> Result<Page> {
        let users: Vec<api::User> = serde_json::from_str(json).expect("lenient fields never fail to parse");
        users_page(&users, &mut notes())
    }

    fn map_roles(json: &str) -> Result<Page> {
        roles_page(&serde_json::from_str::<Vec<api::Role>>(json).unwrap(), &mut notes())
    }

    fn map_teams(json: &str) -> Result<Page> {
        teams_page(&serde_json::from_str::<Vec<api::Team>>(json).unwrap(), &mut notes())
    }

    fn map_groups(json: &str) -> Result<Page> {
        groups_page(&serde_json::from_str::<Vec<api::Group>>(json).unwrap(), &mut notes())
    }

    fn map_group_members(json: &str) -> Result<Page> {
        group_user_page("g1", &serde_json::from_str::<Vec<api::GroupMember>>(json).unwrap(), &mut notes())
    }

    fn map_team_members(json: &str) -> Result<Page> {
        let items: Vec<api::TeamMembership> = serde_json::from_str(json).unwrap();
        team_user_grants("t1", &items, &mut notes()).map(|grants| Page { grants, ..Page::default() })
    }

    fn map_team_groups(json: &str) -> Result<Page> {
        team_group_page("t1", &serde_json::from_str::<Vec<api::Membership>>(json).unwrap(), &mut notes())
    }

    fn map_account(json: &str) -> Result<Page> {
        let info: Vec<api::AccountInfo> = serde_json::from_str(json).unwrap();
        account_info(&info[0], &mut notes()).map(|_| Page::default())
    }

    const ANSWERS: &[Answer] = &[
        Answer {
            name: "GET /v1/users",
            item: r#"{"id":"u1","email":"a@b.io","given_name":"A","family_name":"B","active":true,"invited":false,
                "verified":true,"logged_in_at":"2024-01-02T00:00:00Z","created_at":"2024-01-01T00:00:00Z",
                "phone":"+15551234567","role":"Account Reviewer","picture":null}"#,
            identifying: &["id", "email"],
            identifying_when_present: &[],
            map: map_users,
        },
        Answer {
            name: "GET /v1/roles",
            item: r#"{"name":"Manage Destination","description":"d","scope":["DESTINATION"],"is_custom":false,
                "is_deprecated":false,"replacement_role_name":null}"#,
            identifying: &["name"],
            identifying_when_present: &[],
            map: map_roles,
        },
        Answer {
            name: "GET /v1/teams",
            item: r#"{"id":"t1","name":"T","description":"d","role":"Account Analyst"}"#,
            identifying: &["id"],
            identifying_when_present: &[],
            map: map_teams,
        },
        Answer {
            name: "GET /v1/groups",
            item: r#"{"id":"g1","name":"G","created_at":"2024-01-01T00:00:00Z"}"#,
            identifying: &["id"],
            identifying_when_present: &[],
            map: map_groups,
        },
        Answer {
            name: "GET /v1/groups/{id}/users",
            item: r#"{"id":"u1","email":"a@b.io","active":true,"role":"Manage Destination"}"#,
            identifying: &["id"],
            identifying_when_present: &[],
            map: map_group_members,
        },
        Answer {
            name: "GET /v1/teams/{id}/users",
            item: r#"{"user_id":"u1","role":"Team Manager","created_at":"2024-01-01T00:00:00Z"}"#,
            identifying: &["user_id"],
            identifying_when_present: &[],
            map: map_team_members,
        },
        Answer {
            name: "GET /v1/teams/{id}/groups",
            item: r#"{"id":"g1","role":"Manage Destination","created_at":"2024-01-01T00:00:00Z"}"#,
            identifying: &["id"],
            identifying_when_present: &[],
            map: map_team_groups,
        },
        Answer {
            name: "GET /v1/account/info",
            item: r#"{"account_id":"a1","account_name":"A","user_id":"u1","system_key_id":null}"#,
            identifying: &["account_id"],
            identifying_when_present: &["user_id"],
            map: map_account,
        },
    ];

    /// The parsing policy, field by field: every field of every answer the connector reads made
    /// null, removed, and given each other kind of value. An identifying field stops the listing
    /// with an error naming the endpoint, the item and the field; any other field is read with
    /// its default, and nothing fails.
    #[test]
    fn every_field_of_every_answer_survives_null_absent_and_mistyped_unless_it_identifies() {
        let variations: [(&str, Option<Value>); 7] = [
            ("null", Some(Value::Null)),
            ("absent", None),
            ("a boolean", Some(Value::Bool(true))),
            ("a number", Some(serde_json::json!(42))),
            ("a string", Some(serde_json::json!("unexpected"))),
            ("a list", Some(serde_json::json!(["x", 1]))),
            ("an object", Some(serde_json::json!({"nested": {"deeper": [null]}}))),
        ];
        for answer in ANSWERS {
            let item: Value = serde_json::from_str(answer.item).unwrap();
            assert!((answer.map)(&format!("[{item}]")).is_ok(), "{}: the well-formed item maps", answer.name);
            for field in item.as_object().unwrap().keys() {
                for (variation, value) in &variations {
                    let mut changed = item.clone();
                    match value {
                        Some(value) => changed[field] = value.clone(),
                        None => {
                            changed.as_object_mut().unwrap().remove(field);
                        }
                    }
                    let same_kind = value.as_ref().is_some_and(|v| std::mem::discriminant(v) == std::mem::discriminant(&item[field]));
                    let result = (answer.map)(&format!("[{changed}]"));
                    let case = format!("{} with {field} {variation}", answer.name);
                    let identifies = answer.identifying.contains(&field.as_str())
                        || answer.identifying_when_present.contains(&field.as_str()) && !matches!(*variation, "null" | "absent");
                    if !identifies || same_kind && *variation != "a string" {
                        assert!(result.is_ok(), "{case}: {result:?}");
                        continue;
                    }
                    match result {
                        Err(ConnectorError::Upstream { status: Some(200), message, .. }) => {
                            assert!(message.contains("item 1 of the page"), "{case}: {message}");
                            assert!(message.contains(field.as_str()), "{case}: {message}");
                        }
                        // A string of the wrong shape may still be a valid id ("unexpected").
                        Ok(_) if *variation == "a string" => {}
                        other => panic!("{case}: {other:?}"),
                    }
                }
            }
        }
    }
}
