//! Access: group membership (`group:G:member`, for users and groups) and role assignment
//! (`role:R:assigned`, for users).
//!
//! A member is added alone (`add` on `members`, typed `User` or `Group`), so that a change never
//! rewrites a group's other members, and removed by the value the group lists it under; a role
//! granted becomes the user's account role, the other roles' items kept whole. Whether a
//! principal holds a membership is read from the group's members (by id or by `$ref`) and, where
//! the service gives it, from the user's `groups`: when the two disagree the state is not known
//! and nothing is changed. Every outcome is the state read back afterwards.

use serde_json::{Map, Value, json};

use connector_sdk::GrantManager;

use crate::attrs::{self, Obj};
use crate::client::{Client, resource_path, unverified};
use crate::discovery::Discovery;
use crate::ids::{self, GROUP, Target, USER, value_path};
use crate::mapping::{self, HeldRole};
use crate::members::{self, Member, Principal};
use crate::model::{ConnectorError, GrantChange, GrantOutcome, ResourceRef, Result, RevokeChange, RevokeOutcome};
use crate::readback::{Applied, Form};
use crate::schema::Kind;
use crate::transport::Transport;

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidArgument(message)
}

impl<T: Transport> Client<'_, T> {
    /// The principal as the service holds it (its location, and a user's `groups`); `None`
    /// when the service has no such resource.
    fn principal(&self, principal: &ResourceRef) -> Result<Option<Principal>> {
        let (collection, kind) = if principal.resource_type == USER { ("Users", USER) } else { ("Groups", GROUP) };
        let Some(value) = self.get_optional(resource_path(collection, &principal.id))? else { return Ok(None) };
        Ok(Some(Principal {
            kind,
            id: principal.id.clone(),
            location: members::location(&value, self.base_url()),
            groups: if kind == USER { members::direct_groups(&value) } else { None },
        }))
    }

    /// The member under which `group` (as read) lists `who`, if it does; an error when the
    /// group's members and the user's `groups` disagree, since the state is then not known.
    fn listed_as(&self, group_id: &str, group: &Value, who: &Principal) -> Result<Option<Member>> {
        let listed = members::of_group(group, self.base_url(), &mut 0).into_iter().find(|m| m.names(who));
        let claimed = who.groups.as_ref().map(|groups| groups.iter().any(|g| g == group_id));
        match (&listed, claimed) {
            (Some(_), Some(false)) => Err(unverified(format!(
                "group {group_id} lists {} {} among its members, but the {0}'s groups do not name the group: the service contradicts itself; nothing was changed",
                who.kind, who.id
            ))),
            (None, Some(true)) => Err(unverified(format!(
                "{} {}'s groups name group {group_id}, but the group does not list it among its members (by id or $ref): the service contradicts itself; nothing was changed",
                who.kind, who.id
            ))),
            _ => Ok(listed),
        }
    }

    /// Reads the principal again, for its `groups` after a change.
    fn reread(&self, who: &Principal) -> Result<Principal> {
        if who.groups.is_none() {
            return Ok(who.clone());
        }
        let reference = ResourceRef::new(who.kind, &who.id);
        Ok(self.principal(&reference)?.unwrap_or_else(|| who.clone()))
    }

    fn add_member(&self, discovery: &Discovery, group: &str, principal: &ResourceRef) -> Result<GrantOutcome> {
        let grant = mapping::member_grant(group, principal.clone());
        let current = self.existing_group(group)?;
        let who = self.principal(principal)?.ok_or_else(|| {
            // A service may accept a dangling member silently.
            ConnectorError::NotFound(format!(
                "no {} {} in the SCIM service; check the id (sync lists them)",
                principal.resource_type, principal.id
            ))
        })?;
        if self.listed_as(group, &current, &who)?.is_some() {
            return Ok(GrantOutcome { grant, change: GrantChange::AlreadyHeld, replaced: None });
        }
        if let Some(why) = discovery.schemas.unchangeable(Kind::Group, "members") {
            return Err(invalid(format!("cannot add a member to group {group}: {why}")));
        }
        let item = member_item(discovery, &who);
        let before = members::of_group(&current, self.base_url(), &mut 0);
        let path = resource_path("Groups", group);
        let added = item.clone();
        let forms = vec![
            Form::Patch(vec![json!({"op": "add", "path": "members", "value": [item]})]),
            Form::Put(Box::new(move |whole: &mut Map<String, Value>| {
                let mut listed = Obj(whole).list("members").into_iter().cloned().collect::<Vec<_>>();
                listed.push(added);
                attrs::set(whole, "members", Value::Array(listed));
            })),
        ];
        let applied = self.apply(discovery, Kind::Group, &path, &current, forms, |after| {
            self.check_no_stranger(group, &before, after, &who)?;
            Ok(self.listed_as(group, after, &self.reread(&who)?)?.is_some())
        })?;
        match applied {
            Applied::Done(_) => Ok(GrantOutcome { grant, change: GrantChange::Granted, replaced: None }),
            Applied::NotApplied { only_put: true, .. } => Err(invalid(format!(
                "group {group}'s members cannot be changed here: the service {} and ignores the members of a PUT",
                if discovery.patch { "refused the PATCH" } else { "does not support PATCH" }
            ))),
            Applied::NotApplied { tried, .. } => Err(unverified(format!(
                "{} was accepted, but group {group} does not list {} {} when read back",
                tried.join(", "),
                who.kind,
                who.id
            ))),
        }
    }

    /// A change that added someone other than `who` to the group (a service that takes a group's
    /// id for a user's does that) is reported, never counted as the grant.
    fn check_no_stranger(&self, group: &str, before: &[Member], after: &Value, who: &Principal) -> Result<()> {
        let strangers: Vec<String> = members::of_group(after, self.base_url(), &mut 0)
            .into_iter()
            .filter(|m| !before.contains(m) && !m.names(who))
            .map(|m| m.describe())
            .collect();
        if strangers.is_empty() {
            return Ok(());
        }
        Err(unverified(format!(
            "the service added {} to group {group}, not {} {} as asked: it took the member for another principal; revoke what should not be there",
            strangers.join(", "),
            who.kind,
            who.id
        )))
    }

    /// Removes `principal` from `group`; false when it was not a member.
    fn remove_member(&self, discovery: &Discovery, group: &str, principal: &ResourceRef, grant_id: &str) -> Result<bool> {
        let path = resource_path("Groups", group);
        let Some(current) = self.get_optional(path.clone())? else { return Ok(false) };
        // A principal the service no longer has can still be listed (a dangling member): by id.
        let who = self.principal(principal)?.unwrap_or_else(|| Principal {
            kind: if principal.resource_type == USER { USER } else { GROUP },
            id: principal.id.clone(),
            location: None,
            groups: None,
        });
        let Some(member) = self.listed_as(group, &current, &who)? else { return Ok(false) };
        if let Some(why) = discovery.schemas.unchangeable(Kind::Group, "members") {
            return Err(invalid(format!("cannot remove a member from group {group}: {why}")));
        }
        let before = members::of_group(&current, self.base_url(), &mut 0);
        // The value the group lists it under, which is what the service matches a filter against.
        let listed = member.value.clone().unwrap_or_else(|| principal.id.clone());
        let leaving = who.clone();
        let forms = vec![
            Form::Patch(vec![json!({"op": "remove", "path": value_path("members", &listed)})]),
            // The form Entra ID sends, which services without filtered paths take.
            Form::Patch(vec![json!({"op": "remove", "path": "members", "value": [{"value": listed}]})]),
            Form::Put(Box::new(move |whole: &mut Map<String, Value>| {
                let base = self.base_url().to_owned();
                let kept: Vec<Value> = Obj(whole)
                    .list("members")
                    .into_iter()
                    .filter(|item| !Member::read(item, &base).is_some_and(|m| m.names(&leaving)))
                    .cloned()
                    .collect();
                attrs::set(whole, "members", Value::Array(kept));
            })),
        ];
        let applied = self.apply(discovery, Kind::Group, &path, &current, forms, |after| {
            let remaining = members::of_group(after, self.base_url(), &mut 0);
            let lost: Vec<String> = before.iter().filter(|m| !m.names(&who) && !remaining.contains(m)).map(Member::describe).collect();
            if !lost.is_empty() {
                return Err(unverified(format!(
                    "removing {} {} from group {group} also removed {}: the service read the removal more widely; grant them again",
                    who.kind,
                    who.id,
                    lost.join(", ")
                )));
            }
            Ok(self.listed_as(group, after, &self.reread(&who)?)?.is_none())
        })?;
        match applied {
            Applied::Done(_) => Ok(true),
            Applied::NotApplied { only_put: true, .. } => Err(invalid(format!(
                "group {group}'s members cannot be changed here: the service {} and ignores the members of a PUT; {grant_id} is still held",
                if discovery.patch { "refused the PATCH" } else { "does not support PATCH" }
            ))),
            Applied::NotApplied { tried, .. } => Err(unverified(format!(
                "{} was accepted, but group {group} still lists {} {} when read back; {grant_id} is still held",
                tried.join(", "),
                who.kind,
                who.id
            ))),
        }
    }

    fn assign_role(&self, discovery: &Discovery, role: &str, principal: &ResourceRef) -> Result<GrantOutcome> {
        crate::accounts::check_role(role, discovery)?;
        let grant =
            connector_sdk::model::Grant::new(&Target::Role { value: role.to_owned() }.entitlement_id(), principal.clone(), Vec::new());
        let current = self.existing_user(&principal.id)?;
        let held = mapping::roles(Obj::of(&current).expect("an object"), &mut Vec::new());
        if held.iter().any(|r| r.value == role) {
            return Ok(GrantOutcome { grant, change: GrantChange::AlreadyHeld, replaced: None });
        }
        crate::accounts::check_roles_writable(discovery)?;
        let (roles, previous) = crate::accounts::with_account_role(discovery, &current, &held, role);
        let path = resource_path("Users", &principal.id);
        let edited = roles.clone();
        let forms = crate::readback::patch_or_put(vec![json!({"op": "replace", "path": "roles", "value": roles})], move |whole| {
            attrs::set(whole, "roles", edited)
        });
        let applied =
            self.apply(discovery, Kind::User, &path, &current, forms, |after| Ok(account_role_of(after).as_deref() == Some(role)))?;
        if let Applied::NotApplied { after, tried, .. } = applied {
            return Err(unverified(format!(
                "{} was accepted, but user {}'s account role is {} when read back, not {role:?}",
                tried.join(", "),
                principal.id,
                account_role_of(&after).map_or("none".to_owned(), |r| format!("{r:?}"))
            )));
        }
        let replaced = previous.map(|old| connector_sdk::model::grant_id(&Target::Role { value: old }.entitlement_id(), principal));
        let change = if replaced.is_some() { GrantChange::Updated } else { GrantChange::Granted };
        Ok(GrantOutcome { grant, change, replaced })
    }

    fn unassign_role(&self, discovery: &Discovery, role: &str, principal: &ResourceRef) -> Result<bool> {
        let path = resource_path("Users", &principal.id);
        let Some(current) = self.get_optional(path.clone())? else { return Ok(false) };
        let holds = |user: &Value| mapping::roles(Obj::of(user).expect("an object"), &mut Vec::new()).iter().any(|r| r.value == role);
        if !holds(&current) {
            return Ok(false);
        }
        crate::accounts::check_roles_writable(discovery)?;
        let kept = without_value(&current, "roles", role);
        let edited = kept.clone();
        let forms = vec![
            Form::Patch(vec![json!({"op": "remove", "path": value_path("roles", role)})]),
            Form::Patch(vec![json!({"op": "replace", "path": "roles", "value": kept})]),
            Form::Put(Box::new(move |whole: &mut Map<String, Value>| attrs::set(whole, "roles", edited))),
        ];
        match self.apply(discovery, Kind::User, &path, &current, forms, |after| Ok(!holds(after)))? {
            Applied::Done(_) => Ok(true),
            Applied::NotApplied { tried, .. } => Err(unverified(format!(
                "{} was accepted, but user {} still holds role {role:?} when read back",
                tried.join(", "),
                principal.id
            ))),
        }
    }
}

impl<T: Transport> GrantManager for Client<'_, T> {
    fn grant_entitlement(&self, entitlement: &str, principal: &ResourceRef) -> Result<GrantOutcome> {
        let target = ids::parse_entitlement(entitlement)?;
        target.check_principal(principal)?;
        let discovery = self.discover()?;
        match &target {
            Target::GroupMember { group } => self.add_member(&discovery, group, principal),
            Target::Role { value } => self.assign_role(&discovery, value, principal),
        }
    }

    fn revoke_grant(&self, grant_id: &str) -> Result<RevokeOutcome> {
        let (target, principal) = ids::parse_grant(grant_id)?;
        let discovery = self.discover()?;
        let revoked = match &target {
            Target::GroupMember { group } => self.remove_member(&discovery, group, &principal, grant_id)?,
            Target::Role { value } => self.unassign_role(&discovery, value, &principal)?,
        };
        Ok(RevokeOutcome { grant: grant_id.to_owned(), change: if revoked { RevokeChange::Revoked } else { RevokeChange::NotHeld } })
    }
}

/// The member item to add: `value` and `type` (RFC 7643 section 4.2), and `$ref` where the
/// service's schema requires it; sub-attributes the schema does not declare left out.
fn member_item(discovery: &Discovery, who: &Principal) -> Value {
    let mut item = json!({"value": who.id, "type": if who.kind == USER { "User" } else { "Group" }});
    if discovery.schemas.requires(Kind::Group, "members", "$ref")
        && let Some(location) = &who.location
    {
        item["$ref"] = json!(location);
    }
    discovery.schemas.shaped(Kind::Group, "members", item)
}

/// The account role a user holds, as sync reports it.
fn account_role_of(user: &Value) -> Option<String> {
    let held: Vec<HeldRole> = mapping::roles(Obj::of(user)?, &mut Vec::new());
    mapping::account_role(&held).map(|r| r.value.clone())
}

/// The items of multi-valued `attribute` as read, whole, but those whose value is `value`.
fn without_value(resource: &Value, attribute: &str, value: &str) -> Value {
    let kept = Obj::of(resource)
        .map(|r| r.list(attribute))
        .unwrap_or_default()
        .into_iter()
        .filter(|item| {
            let item_value = Obj::of(item).and_then(|o| o.str("value")).or_else(|| attrs::text(item));
            item_value.as_deref() != Some(value)
        })
        .cloned()
        .collect();
    Value::Array(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use crate::testing::Canned;

    const BASE: &str = "https://s.example/scim/v2";
    const SPC: &str = r#"{"patch": {"supported": true}}"#;
    const NO_SCHEMAS: (u16, &str) = (404, "");
    const GROUP_G1: &str = r#"{"id": "g1", "displayName": "Ops", "members": [{"value": "u1", "type": "User"}]}"#;
    const BOTH: &str = r#"{"id": "g1", "members": [{"value": "u1", "type": "User"}, {"value": "u2", "type": "User"}]}"#;

    fn client(canned: &Canned) -> Client<'_, Canned> {
        Client::new(canned, Config { base_url: BASE.into(), page_size: 100 })
    }

    fn is_unverified(error: &ConnectorError, words: &str) -> bool {
        matches!(error, ConnectorError::Upstream { code: Some(c), message, .. } if c == "Unverified" && message.contains(words))
    }

    #[test]
    fn a_member_is_added_alone_typed_and_read_back_and_a_held_membership_sends_nothing() {
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, GROUP_G1), (200, r#"{"id": "u2"}"#), (204, ""), (200, BOTH)]);
        let outcome = client(&canned).grant_entitlement("group:g1:member", &ResourceRef::new(USER, "u2")).unwrap();
        assert_eq!(outcome.change, GrantChange::Granted);
        let seen = canned.seen.borrow();
        assert_eq!(
            seen[4],
            r#"PATCH https://s.example/scim/v2/Groups/g1 {"Operations":[{"op":"add","path":"members","value":[{"type":"User","value":"u2"}]}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#
        );
        assert_eq!(seen[5], "GET https://s.example/scim/v2/Groups/g1");
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, GROUP_G1), (200, r#"{"id": "u1"}"#)]);
        let outcome = client(&canned).grant_entitlement("group:g1:member", &ResourceRef::new(USER, "u1")).unwrap();
        assert_eq!(outcome.change, GrantChange::AlreadyHeld);
        assert_eq!(canned.seen.borrow().len(), 4);
    }

    #[test]
    fn a_grant_the_group_does_not_show_afterwards_is_unverified() {
        let canned = Canned::new(&[
            (200, SPC),
            NO_SCHEMAS,
            (200, GROUP_G1),
            (200, r#"{"id": "u2"}"#),
            (204, ""),
            (200, GROUP_G1),
            (200, GROUP_G1),
            (200, GROUP_G1),
        ]);
        let error = client(&canned).grant_entitlement("group:g1:member", &ResourceRef::new(USER, "u2")).unwrap_err();
        assert_eq!(canned.seen.borrow()[6].split(' ').next(), Some("PUT"), "the whole group, the member added, next");
        assert!(is_unverified(&error, "does not list user u2"), "{error:?}");
    }

    #[test]
    fn a_service_that_adds_a_user_for_a_group_is_caught() {
        // Users and groups share integer ids there; a member's $ref says which it holds.
        let group_2 = r#"{"id": "2", "members": []}"#;
        let with_user_3 = r#"{"id": "2", "members": [{"value": "3", "$ref": "https://s.example/scim/v2/Users/3"}]}"#;
        let canned =
            Canned::new(&[(200, SPC), NO_SCHEMAS, (200, group_2), (200, r#"{"id": "3"}"#), (200, with_user_3), (200, with_user_3)]);
        let error = client(&canned).grant_entitlement("group:2:member", &ResourceRef::new(GROUP, "3")).unwrap_err();
        assert!(is_unverified(&error, "added user 3 to group 2, not group 3"), "{error:?}");
        assert!(canned.seen.borrow()[4].contains(r#"{"type":"Group","value":"3"}"#), "sent typed: {}", canned.seen.borrow()[4]);
    }

    #[test]
    fn a_member_listed_by_user_name_is_found_by_its_ref_and_removed_by_what_is_listed() {
        let listed = r#"{"id": "g1", "members": [{"value": "alice", "$ref": "https://s.example/scim/v2/Users/alice"}, {"value": "bob", "$ref": "https://s.example/scim/v2/Users/bob"}]}"#;
        let alice = r#"{"id": "5f1c", "userName": "alice", "meta": {"location": "https://s.example/scim/v2/Users/alice"}, "groups": [{"value": "g1"}]}"#;
        let after = r#"{"id": "g1", "members": [{"value": "bob", "$ref": "https://s.example/scim/v2/Users/bob"}]}"#;
        let alice_after = r#"{"id": "5f1c", "meta": {"location": "https://s.example/scim/v2/Users/alice"}, "groups": []}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, listed), (200, alice), (200, after), (200, after), (200, alice_after)]);
        let outcome = client(&canned).revoke_grant("group:g1:member:user:5f1c").unwrap();
        assert_eq!(outcome.change, RevokeChange::Revoked);
        assert!(canned.seen.borrow()[4].contains(r#""path":"members[value eq \"alice\"]""#), "{}", canned.seen.borrow()[4]);

        // Granting it again says it is held, by $ref, without a write.
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, listed), (200, alice)]);
        assert_eq!(
            client(&canned).grant_entitlement("group:g1:member", &ResourceRef::new(USER, "5f1c")).unwrap().change,
            GrantChange::AlreadyHeld
        );
    }

    #[test]
    fn a_service_without_filtered_paths_removes_by_the_form_entra_id_sends() {
        let not_implemented = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": 501}"#;
        let after = r#"{"id": "g1", "members": [{"value": "u2", "type": "User"}]}"#;
        let canned = Canned::new(&[
            (200, SPC),
            NO_SCHEMAS,
            (200, BOTH),
            (200, r#"{"id": "u1"}"#),
            (501, not_implemented),
            (200, after),
            (200, after),
        ]);
        assert_eq!(client(&canned).revoke_grant("group:g1:member:user:u1").unwrap().change, RevokeChange::Revoked);
        assert!(
            canned.seen.borrow()[5].contains(r#"{"op":"remove","path":"members","value":[{"value":"u1"}]}"#),
            "{}",
            canned.seen.borrow()[5]
        );
    }

    #[test]
    fn a_removal_that_takes_other_members_along_is_reported() {
        let emptied = r#"{"id": "g1", "members": []}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, BOTH), (200, r#"{"id": "u1"}"#), (200, emptied), (200, emptied)]);
        let error = client(&canned).revoke_grant("group:g1:member:user:u1").unwrap_err();
        assert!(is_unverified(&error, "also removed user u2"), "{error:?}");
    }

    #[test]
    fn members_and_groups_that_disagree_change_nothing() {
        let user = r#"{"id": "u2", "groups": [{"value": "g1"}]}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, GROUP_G1), (200, user)]);
        let error = client(&canned).grant_entitlement("group:g1:member", &ResourceRef::new(USER, "u2")).unwrap_err();
        assert!(is_unverified(&error, "contradicts itself"), "{error:?}");
        assert_eq!(canned.seen.borrow().len(), 4, "nothing sent");
    }

    #[test]
    fn without_patch_a_member_is_removed_by_a_put_keeping_the_others_and_a_put_that_ignores_members_is_a_limit() {
        let no_patch = r#"{"patch": {"supported": "false"}}"#;
        let two = r#"{"id": "g1", "members": [{"value": "u1"}, {"value": "u2"}], "meta": {}}"#;
        let one = r#"{"id": "g1", "members": [{"value": "u2"}]}"#;
        let canned = Canned::new(&[(200, no_patch), NO_SCHEMAS, (200, two), (200, r#"{"id": "u1"}"#), (200, one), (200, one)]);
        client(&canned).revoke_grant("group:g1:member:user:u1").unwrap();
        assert_eq!(canned.seen.borrow()[4], r#"PUT https://s.example/scim/v2/Groups/g1 {"id":"g1","members":[{"value":"u2"}]}"#);

        let canned = Canned::new(&[(200, no_patch), NO_SCHEMAS, (200, two), (200, r#"{"id": "u1"}"#), (200, two), (200, two)]);
        let error = client(&canned).revoke_grant("group:g1:member:user:u1").unwrap_err();
        assert!(matches!(&error, ConnectorError::InvalidArgument(m) if m.contains("ignores the members of a PUT")), "{error:?}");
    }

    #[test]
    fn a_role_granted_replaces_the_account_role_keeps_the_others_whole_and_names_the_grant_it_replaced() {
        let user = r#"{"id": "u1", "roles": [{"value": "Account Analyst", "primary": true}, {"value": "Auditor", "display": "Audit", "type": "app"}]}"#;
        let after = r#"{"id": "u1", "roles": [{"value": "Auditor", "display": "Audit", "type": "app"}, {"value": "Account Reviewer", "primary": true}]}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, user), (204, ""), (200, after)]);
        let outcome = client(&canned).grant_entitlement("role:Account Reviewer:assigned", &ResourceRef::new(USER, "u1")).unwrap();
        assert_eq!(outcome.change, GrantChange::Updated);
        assert_eq!(outcome.replaced.as_deref(), Some("role:Account Analyst:assigned:user:u1"));
        assert_eq!(outcome.grant.id, "role:Account Reviewer:assigned:user:u1");
        assert!(
            canned.seen.borrow()[3]
                .contains(r#""value":[{"display":"Audit","type":"app","value":"Auditor"},{"primary":true,"value":"Account Reviewer"}]"#),
            "{}",
            canned.seen.borrow()[3]
        );
    }

    #[test]
    fn revoking_from_a_missing_group_or_user_is_not_held() {
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (404, "")]);
        assert_eq!(client(&canned).revoke_grant("group:g9:member:user:u1").unwrap().change, RevokeChange::NotHeld);
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (404, "")]);
        assert_eq!(client(&canned).revoke_grant("role:R:assigned:user:u9").unwrap().change, RevokeChange::NotHeld);
    }
}
