//! Access: group membership (`group:G:member`, for users and groups) and role assignment
//! (`role:R:assigned`, for users). Members are added and removed one at a time (`members[value
//! eq "U"]`), so that a change never rewrites a group's other members; a role granted becomes
//! the user's account role, replacing the previous one.

use serde_json::{Map, Value, json};

use crate::attrs::{self, Obj};
use crate::client::{Client, resource_path};
use crate::ids::{self, Target, USER, value_path};
use crate::mapping;
use crate::model::{GrantChange, GrantOutcome, ResourceRef, Result, RevokeChange, RevokeOutcome};
use crate::transport::Transport;

impl<T: Transport> Client<'_, T> {
    pub fn grant(&self, entitlement: &str, principal: &ResourceRef) -> Result<GrantOutcome> {
        let target = ids::parse_entitlement(entitlement)?;
        target.check_principal(principal)?;
        let grant = match &target {
            Target::GroupMember { group } => mapping::member_grant(group, principal.clone()),
            Target::Role { .. } => connector_sdk::model::Grant::new(&target.entitlement_id(), principal.clone(), Vec::new()),
        };
        let discovery = self.discover()?;
        let (change, replaced) = match &target {
            Target::GroupMember { group } => {
                let current = self.existing_group(group)?;
                // The principal must exist: a service may accept a dangling member silently.
                match principal.resource_type.as_str() {
                    USER => drop(self.existing_user(&principal.id)?),
                    _ => drop(self.existing_group(&principal.id)?),
                }
                if is_member(&current, principal) {
                    (GrantChange::AlreadyHeld, None)
                } else {
                    let member = json!({"value": principal.id});
                    let operation = json!({"op": "add", "path": "members", "value": [member.clone()]});
                    self.change(discovery.patch, &resource_path("Groups", group), vec![operation], &current, |whole| {
                        let mut members = Obj(whole).list("members").into_iter().cloned().collect::<Vec<_>>();
                        members.push(member);
                        attrs::set(whole, "members", Value::Array(members));
                    })?;
                    (GrantChange::Granted, None)
                }
            }
            Target::Role { value } => {
                crate::accounts::check_role(value, &discovery)?;
                let current = self.existing_user(&principal.id)?;
                let held = mapping::roles(Obj::of(&current).expect("an object"), &mut Vec::new());
                if held.iter().any(|r| r.value == *value) {
                    (GrantChange::AlreadyHeld, None)
                } else {
                    let (roles, previous) = crate::accounts::with_account_role(&held, value);
                    let operation = json!({"op": "replace", "path": "roles", "value": roles.clone()});
                    self.change(discovery.patch, &resource_path("Users", &principal.id), vec![operation], &current, |whole| {
                        attrs::set(whole, "roles", roles)
                    })?;
                    match previous {
                        Some(old) => (
                            GrantChange::Updated,
                            Some(connector_sdk::model::grant_id(&Target::Role { value: old }.entitlement_id(), principal)),
                        ),
                        None => (GrantChange::Granted, None),
                    }
                }
            }
        };
        Ok(GrantOutcome { grant, change, replaced })
    }

    pub fn revoke(&self, grant_id: &str) -> Result<RevokeOutcome> {
        let (target, principal) = ids::parse_grant(grant_id)?;
        let discovery = self.discover()?;
        let held = match &target {
            Target::GroupMember { group } => {
                let Some(current) = self.get_optional(resource_path("Groups", group))? else { return Ok(not_held(grant_id)) };
                if !is_member(&current, &principal) {
                    false
                } else {
                    let operation = json!({"op": "remove", "path": value_path("members", &principal.id)});
                    self.change(discovery.patch, &resource_path("Groups", group), vec![operation], &current, |whole| {
                        remove_value(whole, "members", &principal.id)
                    })?;
                    true
                }
            }
            Target::Role { value } => {
                let Some(current) = self.get_optional(resource_path("Users", &principal.id))? else { return Ok(not_held(grant_id)) };
                let roles = mapping::roles(Obj::of(&current).expect("an object"), &mut Vec::new());
                if !roles.iter().any(|r| r.value == *value) {
                    false
                } else {
                    let operation = json!({"op": "remove", "path": value_path("roles", value)});
                    self.change(discovery.patch, &resource_path("Users", &principal.id), vec![operation], &current, |whole| {
                        remove_value(whole, "roles", value)
                    })?;
                    true
                }
            }
        };
        Ok(RevokeOutcome { grant: grant_id.to_owned(), change: if held { RevokeChange::Revoked } else { RevokeChange::NotHeld } })
    }
}

fn not_held(grant_id: &str) -> RevokeOutcome {
    RevokeOutcome { grant: grant_id.to_owned(), change: RevokeChange::NotHeld }
}

/// Whether `principal` is among the group's members, by id alone: a member's type is often
/// left out, and ids are unique across a service's users and groups in practice.
fn is_member(group: &Value, principal: &ResourceRef) -> bool {
    mapping::members(group, &mut Vec::new()).iter().any(|m| m.id == principal.id)
}

/// Drops the items of multi-valued `attribute` whose value is `value` (for a PUT).
fn remove_value(whole: &mut Map<String, Value>, attribute: &str, value: &str) {
    let kept: Vec<Value> = Obj(whole)
        .list(attribute)
        .into_iter()
        .filter(|item| {
            let item_value = Obj::of(item).and_then(|o| o.str("value")).or_else(|| attrs::text(item));
            item_value.as_deref() != Some(value)
        })
        .cloned()
        .collect();
    attrs::set(whole, attribute, Value::Array(kept));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use crate::testing::Canned;

    const SPC: &str = r#"{"patch": {"supported": true}}"#;
    const GROUP_G1: &str = r#"{"id": "g1", "displayName": "Ops", "members": [{"value": "u1", "type": "User"}]}"#;

    fn client(canned: &Canned) -> Client<'_, Canned> {
        Client::new(canned, Config { base_url: "https://s.example".into(), page_size: 100 })
    }

    #[test]
    fn a_member_is_added_alone_and_a_held_membership_sends_nothing() {
        let canned = Canned::new(&[(200, SPC), (200, GROUP_G1), (200, r#"{"id": "u2"}"#), (204, "")]);
        let outcome = client(&canned).grant("group:g1:member", &ResourceRef::new(USER, "u2")).unwrap();
        assert_eq!(outcome.change, GrantChange::Granted);
        assert_eq!(
            canned.seen.borrow()[3],
            r#"PATCH https://s.example/Groups/g1 {"Operations":[{"op":"add","path":"members","value":[{"value":"u2"}]}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#
        );
        let canned = Canned::new(&[(200, SPC), (200, GROUP_G1), (200, r#"{"id": "u1"}"#)]);
        let outcome = client(&canned).grant("group:g1:member", &ResourceRef::new(USER, "u1")).unwrap();
        assert_eq!(outcome.change, GrantChange::AlreadyHeld);
    }

    #[test]
    fn a_member_is_removed_by_a_value_filter_path() {
        let canned = Canned::new(&[(200, SPC), (200, GROUP_G1), (200, "")]);
        let outcome = client(&canned).revoke("group:g1:member:user:u1").unwrap();
        assert_eq!(outcome.change, RevokeChange::Revoked);
        assert!(canned.seen.borrow()[2].contains(r#"{"op":"remove","path":"members[value eq \"u1\"]"}"#), "{}", canned.seen.borrow()[2]);
    }

    #[test]
    fn without_patch_a_member_is_removed_by_a_put_keeping_the_others() {
        let canned = Canned::new(&[
            (200, r#"{"patch": {"supported": "false"}}"#),
            (200, r#"{"id": "g1", "members": [{"value": "u1"}, {"value": "u2"}], "meta": {}}"#),
            (200, r#"{"id": "g1"}"#),
        ]);
        client(&canned).revoke("group:g1:member:user:u1").unwrap();
        let put = canned.seen.borrow()[2].clone();
        assert_eq!(put, r#"PUT https://s.example/Groups/g1 {"id":"g1","members":[{"value":"u2"}]}"#);
    }

    #[test]
    fn a_role_granted_replaces_the_account_role_and_names_the_grant_it_replaced() {
        let user = r#"{"id": "u1", "roles": [{"value": "Account Analyst", "primary": true}]}"#;
        let canned = Canned::new(&[(200, SPC), (200, user), (204, "")]);
        let outcome = client(&canned).grant("role:Account Reviewer:assigned", &ResourceRef::new(USER, "u1")).unwrap();
        assert_eq!(outcome.change, GrantChange::Updated);
        assert_eq!(outcome.replaced.as_deref(), Some("role:Account Analyst:assigned:user:u1"));
        assert_eq!(outcome.grant.id, "role:Account Reviewer:assigned:user:u1");
    }

    #[test]
    fn revoking_from_a_missing_group_or_user_is_not_held() {
        let canned = Canned::new(&[(200, SPC), (404, "")]);
        assert_eq!(client(&canned).revoke("group:g9:member:user:u1").unwrap().change, RevokeChange::NotHeld);
        let canned = Canned::new(&[(200, SPC), (404, "")]);
        assert_eq!(client(&canned).revoke("role:R:assigned:user:u9").unwrap().change, RevokeChange::NotHeld);
    }
}
