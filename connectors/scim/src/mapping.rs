//! SCIM resources as the connector reports them (CONTRACT section 6): users with their traits and
//! the role values they hold, groups with their members, and the grants between them.

use serde_json::{Map, Value, json};

use crate::attrs::{Obj, text};
use crate::client::{ENTERPRISE_USER_SCHEMA, id_of};
use crate::ids::{self, ASSIGNED, GROUP, MEMBER, ROLE, USER};
use crate::members::{self, Member};
use crate::model::{Entitlement, Grant, Page, Resource, ResourceRef, Result};

/// A role a user holds.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldRole {
    pub value: String,
    pub display: Option<String>,
    pub primary: bool,
}

/// The role values of a user's `roles`, each once; items with no usable value are skipped
/// (noted in `warnings`). A bare string is a value.
pub fn roles(user: Obj<'_>, warnings: &mut Vec<String>) -> Vec<HeldRole> {
    let mut held: Vec<HeldRole> = Vec::new();
    for item in user.list("roles") {
        let (value, display, primary) = match item {
            Value::String(_) => (text(item), None, false),
            _ => match Obj::of(item) {
                Some(role) => (role.str("value"), role.str("display"), role.bool("primary").unwrap_or(false)),
                None => (None, None, false),
            },
        };
        match value {
            Some(value) if ids::check_role(&value).is_ok() => match held.iter_mut().find(|r| r.value == value) {
                Some(existing) => existing.primary |= primary,
                None => held.push(HeldRole { value, display, primary }),
            },
            _ => warnings.push("a role without a usable value was skipped".into()),
        }
    }
    held
}

/// The account role: the primary role, else the only one; none when several are held and none
/// is primary.
pub fn account_role(roles: &[HeldRole]) -> Option<&HeldRole> {
    roles.iter().find(|r| r.primary).or(if roles.len() == 1 { roles.first() } else { None })
}

/// The primary email, else the first.
fn email(user: Obj<'_>) -> Option<String> {
    let emails: Vec<Obj<'_>> = user.list("emails").into_iter().filter_map(Obj::of).collect();
    emails.iter().find(|e| e.bool("primary") == Some(true)).or(emails.first()).and_then(|e| e.str("value"))
}

/// The first phone number marked primary, else the first.
pub fn phone(user: Obj<'_>) -> Option<String> {
    let phones: Vec<Obj<'_>> = user.list("phoneNumbers").into_iter().filter_map(Obj::of).collect();
    phones.iter().find(|p| p.bool("primary") == Some(true)).or(phones.first()).and_then(|p| p.str("value"))
}

/// A user; `index` is its place in the answer of `endpoint`, for errors. Its location is its
/// alias, for members that name it by `$ref`.
pub fn user(endpoint: &str, base_url: &str, index: usize, value: &Value, warnings: &mut Vec<String>) -> Result<(Resource, Vec<HeldRole>)> {
    let id = id_of(endpoint, index, value)?;
    let user = Obj::of(value).expect("id_of checked it is an object");
    let user_name = user.str("userName");
    let name = user.obj("name");
    let given = name.and_then(|n| n.str("givenName"));
    let family = name.and_then(|n| n.str("familyName"));
    let active = match user.get("active") {
        None => true,
        Some(raw) => crate::attrs::boolean(raw).unwrap_or_else(|| {
            warnings.push(format!("{endpoint}: a user's active is not a boolean ({raw}); read as enabled"));
            true
        }),
    };
    let held = roles(user, warnings);
    let display_name = user
        .str("displayName")
        .or_else(|| {
            let full = [given.as_deref(), family.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            (!full.is_empty()).then_some(full)
        })
        .or_else(|| user_name.clone())
        .unwrap_or_else(|| id.clone());
    let mut traits = Map::new();
    traits.insert("user_name".into(), json!(user_name));
    traits.insert("email".into(), json!(email(user)));
    traits.insert("given_name".into(), json!(given));
    traits.insert("family_name".into(), json!(family));
    traits.insert("status".into(), json!(if active { "enabled" } else { "disabled" }));
    traits.insert("external_id".into(), json!(user.str("externalId")));
    traits.insert("account_role".into(), json!(account_role(&held).map(|r| &r.value)));
    traits.insert("roles".into(), json!(held.iter().map(|r| &r.value).collect::<Vec<_>>()));
    if let Some(enterprise) = user.extension(ENTERPRISE_USER_SCHEMA) {
        for (attribute, trait_name) in [
            ("employeeNumber", "employee_number"),
            ("costCenter", "cost_center"),
            ("organization", "organization"),
            ("division", "division"),
            ("department", "department"),
        ] {
            if let Some(value) = enterprise.str(attribute) {
                traits.insert(trait_name.into(), json!(value));
            }
        }
        if let Some(manager) = enterprise.obj("manager").and_then(|m| m.str("value")) {
            traits.insert("manager_id".into(), json!(manager));
        }
    }
    let resource = Resource::new(USER, id, display_name, Value::Object(traits).to_string()).with_aliases(aliases(value, base_url));
    Ok((resource, held))
}

/// A role as a resource: its value, shown by its display where the service gives one.
pub fn role_resource(role: &HeldRole) -> Resource {
    Resource::new(ROLE, role.value.clone(), role.display.clone().unwrap_or_else(|| role.value.clone()), "{}".into())
}

/// A resource's aliases: its location, by which members may name it.
fn aliases(value: &Value, base_url: &str) -> Vec<String> {
    members::location(value, base_url).into_iter().collect()
}

pub fn role_entitlement(value: &str) -> Entitlement {
    Entitlement::new(ResourceRef::new(ROLE, value), ASSIGNED, format!("{value} role"), &[USER]).assignment()
}

pub fn member_entitlement(group: &Resource) -> Entitlement {
    Entitlement::new(ResourceRef::new(GROUP, &group.id), MEMBER, format!("{} member", group.display_name), &[USER, GROUP]).assignment()
}

/// A page of `/Users`: the users, the roles they hold (as placeholders) and the role grants, and
/// the memberships a user's `groups` names (RFC 7643 section 4.1.2: services that list members
/// by another key say there which groups a user is in).
pub fn users_page(endpoint: &str, base_url: &str, users: &[Value], warnings: &mut Vec<String>) -> Result<Page> {
    let mut page = Page::default();
    for (index, value) in users.iter().enumerate() {
        let (user, held) = user(endpoint, base_url, index, value, warnings)?;
        for role in held {
            let entitlement = role_entitlement(&role.value);
            page.grants.push(Grant::new(&entitlement.id, ResourceRef::new(USER, &user.id), Vec::new()));
            if !page.resources.iter().any(|r| r.resource_type == ROLE && r.id == role.value) {
                page.resources.push(role_resource(&role));
                page.entitlements.push(entitlement);
            }
        }
        for group in members::direct_groups(value).unwrap_or_default() {
            if ids::check_id(&group).is_ok() {
                page.grants.push(member_grant(&group, ResourceRef::new(USER, &user.id)));
            } else {
                warnings.push(format!("{endpoint}: user {} names a group without a usable id in its groups; skipped", user.id));
            }
        }
        page.resources.push(user);
    }
    Ok(page)
}

/// A group; its location is its alias.
pub fn group(endpoint: &str, base_url: &str, index: usize, value: &Value) -> Result<Resource> {
    let id = id_of(endpoint, index, value)?;
    let group = Obj::of(value).expect("id_of checked it is an object");
    let display_name = group.str("displayName").unwrap_or_else(|| id.clone());
    let traits = json!({"external_id": group.str("externalId")}).to_string();
    Ok(Resource::new(GROUP, id, display_name, traits).with_aliases(aliases(value, base_url)))
}

/// The grant of `group:G:member` to a principal; a member group passes it on to its members.
pub fn member_grant(group_id: &str, principal: ResourceRef) -> Grant {
    let expandable = if principal.resource_type == GROUP {
        vec![ids::Target::GroupMember { group: principal.id.clone() }.entitlement_id()]
    } else {
        Vec::new()
    };
    Grant::new(&ids::Target::GroupMember { group: group_id.to_owned() }.entitlement_id(), principal, expandable)
}

/// The grant a listed member holds: the principal named by `value` (else by `$ref`), with the
/// `$ref` as its alias for the host to resolve when `value` is not an id.
pub fn listed_member_grant(group_id: &str, member: &Member) -> Option<Grant> {
    let kind = member.principal_type()?;
    let key = member.value.as_deref().or(member.reference.as_deref())?;
    let grant = member_grant(group_id, ResourceRef::new(kind, key));
    Some(grant.with_principal_aliases(member.reference.iter().filter(|r| r.as_str() != key).cloned().collect()))
}

/// A page of `/Groups`: the groups, their member entitlements and the members' grants.
pub fn groups_page(endpoint: &str, base_url: &str, groups: &[Value], warnings: &mut Vec<String>) -> Result<Page> {
    let mut page = Page::default();
    for (index, value) in groups.iter().enumerate() {
        let group = group(endpoint, base_url, index, value)?;
        let mut skipped = 0;
        for member in members::of_group(value, base_url, &mut skipped) {
            if member.principal_type() == Some(GROUP) && member.value.as_deref() == Some(group.id.as_str()) {
                warnings.push(format!("{endpoint}: group {} lists itself as a member; skipped", group.id));
                continue;
            }
            match listed_member_grant(&group.id, &member) {
                Some(grant) => page.grants.push(grant),
                None => skipped += 1,
            }
        }
        if skipped > 0 {
            warnings.push(format!(
                "{endpoint}: group {} lists {skipped} member(s) with no value or of a type this connector does not report; skipped",
                group.id
            ));
        }
        page.entitlements.push(member_entitlement(&group));
        page.resources.push(group);
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:9/scim/v2";

    fn traits(resource: &Resource) -> Value {
        serde_json::from_str(&resource.traits).unwrap()
    }

    #[test]
    fn a_user_maps_to_the_contracts_traits() {
        let value = json!({
            "id": "u1", "userName": "ann@example.com", "active": "False", "externalId": "00u1",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "other@example.com"}, {"value": "ann@example.com", "primary": "true"}],
            "roles": [{"value": "Account Reviewer", "primary": true}, {"value": "Auditor"}, {"value": "Auditor"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Finance", "manager": {"value": "u9"}}
        });
        let mut warnings = Vec::new();
        let (user, held) = user("GET /Users", BASE, 0, &value, &mut warnings).unwrap();
        assert_eq!(user.display_name, "Ann Lee");
        assert_eq!(
            traits(&user),
            json!({"user_name": "ann@example.com", "email": "ann@example.com", "given_name": "Ann", "family_name": "Lee",
                   "status": "disabled", "external_id": "00u1", "account_role": "Account Reviewer", "roles": ["Account Reviewer", "Auditor"],
                   "department": "Finance", "manager_id": "u9"})
        );
        assert_eq!(held.len(), 2);
        assert!(warnings.is_empty());
    }

    #[test]
    fn a_sparse_user_still_maps() {
        let mut warnings = Vec::new();
        let (user, held) =
            user("GET /Users", BASE, 0, &json!({"id": 42, "userName": "bob", "roles": null, "active": "maybe"}), &mut warnings).unwrap();
        assert_eq!((user.id.as_str(), user.display_name.as_str()), ("42", "bob"));
        assert_eq!(traits(&user)["status"], "enabled");
        assert_eq!(traits(&user)["account_role"], Value::Null);
        assert!(held.is_empty());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn a_user_without_a_usable_id_stops_the_listing() {
        for bad in [json!({"userName": "x"}), json!({"id": "a:b"}), json!({"id": ".."}), json!("not an object")] {
            assert!(user("GET /Users", BASE, 3, &bad, &mut Vec::new()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_account_role_is_the_primary_or_the_only_one() {
        let held = |roles: Value| roles_of(&json!({"roles": roles}));
        assert_eq!(account_role(&held(json!([{"value": "A"}]))).map(|r| r.value.as_str()), Some("A"));
        assert_eq!(account_role(&held(json!([{"value": "A"}, {"value": "B", "primary": true}]))).map(|r| r.value.as_str()), Some("B"));
        assert_eq!(account_role(&held(json!([{"value": "A"}, {"value": "B"}]))), None);
        assert_eq!(held(json!(["A", "B"])).len(), 2);
    }

    fn roles_of(value: &Value) -> Vec<HeldRole> {
        roles(Obj::of(value).unwrap(), &mut Vec::new())
    }

    #[test]
    fn members_are_users_or_groups_and_member_groups_expand() {
        let groups = [
            json!({"id": "g1", "displayName": "Ops", "members": [
                {"value": "u1"}, {"value": "u1", "type": "User"}, {"value": "g2", "$ref": "https://x/scim/v2/Groups/g2"},
                {"value": "g3", "type": "group"}, {"value": "s1", "type": "ServicePrincipal"}, {"display": "no value"}, {"value": "g1", "type": "Group"}
            ]}),
            json!({"id": "g2", "members": null}),
        ];
        let mut warnings = Vec::new();
        let page = groups_page("GET /Groups", BASE, &groups, &mut warnings).unwrap();
        let grants: Vec<(&str, &[String])> = page.grants.iter().map(|g| (g.id.as_str(), g.expandable.as_slice())).collect();
        assert_eq!(
            grants,
            [
                ("group:g1:member:user:u1", &[][..]),
                ("group:g1:member:user:u1", &[][..]),
                ("group:g1:member:group:g2", &["group:g2:member".to_owned()][..]),
                ("group:g1:member:group:g3", &["group:g3:member".to_owned()][..]),
            ]
        );
        assert_eq!(page.entitlements.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["group:g1:member", "group:g2:member"]);
        assert_eq!(page.resources[1].display_name, "g2");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn members_listed_by_another_key_carry_their_ref_for_the_host_to_resolve() {
        let group = json!({"id": "g1", "meta": {"location": "/scim/v2/Groups/Ops"}, "members": [
            {"value": "alice", "$ref": "http://127.0.0.1:9/scim/v2/Users/alice"},
            {"value": "3", "$ref": "/scim/v2/Users/3"},
            {"$ref": "/scim/v2/Groups/x"}
        ]});
        let page = groups_page("GET /Groups", BASE, &[group], &mut Vec::new()).unwrap();
        let grants: Vec<(&str, &str, &[String])> = page
            .grants
            .iter()
            .map(|g| (g.principal.resource_type.as_str(), g.principal.id.as_str(), g.principal_aliases.as_slice()))
            .collect();
        assert_eq!(
            grants,
            [
                ("user", "alice", &["http://127.0.0.1:9/scim/v2/Users/alice".to_owned()][..]),
                ("user", "3", &["http://127.0.0.1:9/scim/v2/Users/3".to_owned()][..]),
                ("group", "http://127.0.0.1:9/scim/v2/Groups/x", &[][..]),
            ]
        );
        assert_eq!(page.resources[0].aliases, ["http://127.0.0.1:9/scim/v2/Groups/Ops"]);
    }

    #[test]
    fn a_users_groups_names_its_direct_memberships() {
        let users = [json!({"id": "u1", "meta": {"location": "http://127.0.0.1:9/scim/v2/Users/ann"},
            "groups": [{"value": "g1"}, {"value": "g2", "type": "indirect"}, {"value": "../g"}]})];
        let mut warnings = Vec::new();
        let page = users_page("GET /Users", BASE, &users, &mut warnings).unwrap();
        assert_eq!(page.grants.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(), ["group:g1:member:user:u1"]);
        assert_eq!(page.resources[0].aliases, ["http://127.0.0.1:9/scim/v2/Users/ann"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn users_pages_reveal_each_role_once() {
        let users =
            [json!({"id": "u1", "roles": [{"value": "Admin", "display": "Administrator"}]}), json!({"id": "u2", "roles": ["Admin"]})];
        let page = users_page("GET /Users", BASE, &users, &mut Vec::new()).unwrap();
        let roles: Vec<_> = page.resources.iter().filter(|r| r.resource_type == ROLE).map(|r| r.display_name.as_str()).collect();
        assert_eq!(roles, ["Administrator"]);
        assert_eq!(page.grants.len(), 2);
        assert_eq!(page.entitlements.len(), 1);
    }
}
