//! Groups: create (an existing group of the same name, in any case, is reported instead), rename,
//! delete. A SCIM group has a name and members only: a description or role is refused.

use serde_json::{Value, json};

use crate::attrs::{self, Obj};
use crate::client::{Client, GROUP_SCHEMA, resource_path};
use crate::discovery::Discovery;
use crate::ids::{self, GROUP, filter_eq};
use crate::mapping;
use crate::model::{
    ConnectorError, CreateOutcome, DeleteOutcome, NewResource, Resource, ResourceChanges, ResourceRef, Result, UpdateOutcome,
};
use crate::transport::Transport;

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidArgument(message)
}

fn require_group(resource_type: &str) -> Result<()> {
    if resource_type == GROUP {
        Ok(())
    } else {
        Err(invalid(format!(
            "the scim connector creates, updates and deletes resources of type group only, not {resource_type:?}; users are created with provision and changed with update-account"
        )))
    }
}

fn check_group_name(name: &str) -> Result<()> {
    connector_sdk::checks::check_resource_name(name, "group name")
}

fn no_extra_fields(description: &Option<String>, role: &Option<String>) -> Result<()> {
    if description.is_some() || role.is_some() {
        return Err(invalid("a SCIM group has a name and members only: leave out --description and --role".into()));
    }
    Ok(())
}

impl<T: Transport> Client<'_, T> {
    /// The group named `name` (trimmed, any case), other than `except`.
    fn find_group(&self, discovery: &Discovery, name: &str, except: Option<&str>) -> Result<Option<Value>> {
        let name = name.trim();
        let lower = name.to_lowercase();
        let matches = |group: &Value| {
            let group = Obj::of(group);
            group.and_then(|g| g.str("displayName")).is_some_and(|n| n.to_lowercase() == lower)
                && group.and_then(|g| g.str("id")).as_deref() != except
        };
        if discovery.filter {
            return self.find("Groups", Some(&filter_eq("displayName", name)), matches).or_else(|error| match error {
                // Some services filter groups on fewer attributes than users: walk instead.
                ConnectorError::InvalidArgument(_) => self.find("Groups", None, matches),
                other => Err(other),
            });
        }
        self.find("Groups", None, matches)
    }

    fn group_resource(&self, endpoint: &str, value: &Value) -> Result<Resource> {
        mapping::group(endpoint, 0, value)
    }

    /// The group with `group_id`; an unknown id is the caller's mistake.
    pub fn existing_group(&self, group_id: &str) -> Result<Value> {
        ids::require_id(group_id, "group id")?;
        self.get_optional(resource_path("Groups", group_id))?
            .ok_or_else(|| invalid(format!("no group {group_id} in the SCIM service; check the id (sync lists them)")))
    }

    pub fn create_group(&self, spec: &NewResource) -> Result<CreateOutcome> {
        require_group(&spec.resource_type)?;
        check_group_name(&spec.name)?;
        no_extra_fields(&spec.description, &spec.account_role)?;
        let name = spec.name.trim();
        let discovery = self.discover()?;
        if let Some(existing) = self.find_group(&discovery, name, None)? {
            return Ok(CreateOutcome::AlreadyExists(self.group_resource("GET /Groups", &existing)?));
        }
        let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": []});
        let (endpoint, response) = self.send("POST", "/Groups".into(), Some(&body))?;
        if response.status == 409 {
            return match self.find_group(&discovery, name, None)? {
                Some(existing) => Ok(CreateOutcome::AlreadyExists(self.group_resource("GET /Groups", &existing)?)),
                None => Err(ConnectorError::Conflict(format!("{endpoint} answered 409 for group {name:?}, but no group has that name"))),
            };
        }
        crate::client::check(&endpoint, &response)?;
        let created = match crate::client::returned(&endpoint, &response)? {
            Some(group) => group,
            None => self.find_group(&discovery, name, None)?.ok_or_else(|| {
                connector_sdk::lenient::malformed(format!("{endpoint} answered {} but the group cannot be found", response.status))
            })?,
        };
        Ok(CreateOutcome::Created(self.group_resource(&endpoint, &created)?))
    }

    pub fn update_group(&self, target: &ResourceRef, changes: &ResourceChanges) -> Result<UpdateOutcome> {
        require_group(&target.resource_type)?;
        ids::require_id(&target.id, "group id")?;
        no_extra_fields(&changes.description, &changes.account_role)?;
        let Some(name) = changes.name.as_deref().map(str::trim) else {
            return Err(invalid("nothing to change: give the group's new --name".into()));
        };
        check_group_name(name)?;
        let discovery = self.discover()?;
        let current = self.existing_group(&target.id)?;
        let path = resource_path("Groups", &target.id);
        let endpoint = format!("GET {path}");
        if Obj::of(&current).and_then(|g| g.str("displayName")).as_deref() == Some(name) {
            return Ok(UpdateOutcome::Unchanged(self.group_resource(&endpoint, &current)?));
        }
        if let Some(other) = self.find_group(&discovery, name, Some(&target.id))? {
            let other = Obj::of(&other).and_then(|o| o.str("id")).unwrap_or_default();
            return Err(invalid(format!("another group ({other}) is named {name:?} already; choose another name")));
        }
        let operation = json!({"op": "replace", "path": "displayName", "value": name});
        let sent = self.change(discovery.patch, &path, vec![operation], &current, |whole| attrs::set(whole, "displayName", json!(name)))?;
        let after = match sent {
            Some(group) => group,
            None => self.get(path.clone())?,
        };
        Ok(UpdateOutcome::Updated(self.group_resource(&endpoint, &after)?))
    }

    pub fn delete_group(&self, target: &ResourceRef) -> Result<DeleteOutcome> {
        require_group(&target.resource_type)?;
        ids::require_id(&target.id, "group id")?;
        let (endpoint, response) = self.send("DELETE", resource_path("Groups", &target.id), None)?;
        match response.status {
            404 => Ok(DeleteOutcome::NotFound),
            _ => crate::client::check(&endpoint, &response).map(|()| DeleteOutcome::Deleted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use crate::testing::Canned;

    const SPC: &str = r#"{"patch": {"supported": true}, "filter": {"supported": true}}"#;

    fn client(canned: &Canned) -> Client<'_, Canned> {
        Client::new(canned, Config { base_url: "https://s.example".into(), page_size: 100 })
    }

    #[test]
    fn a_group_of_the_same_name_in_any_case_is_the_one_created_already() {
        let canned = Canned::new(&[(200, SPC), (200, r#"{"Resources": [{"id": "g7", "displayName": " FINANCE "}]}"#)]);
        let spec = NewResource { resource_type: GROUP.into(), name: "Finance".into(), description: None, account_role: None };
        assert!(matches!(client(&canned).create_group(&spec), Ok(CreateOutcome::AlreadyExists(g)) if g.id == "g7"));
    }

    #[test]
    fn groups_take_a_name_only_and_nothing_is_sent_otherwise() {
        let nothing = Canned::new(&[]);
        let c = client(&nothing);
        let described = NewResource { resource_type: GROUP.into(), name: "Ops".into(), description: Some("x".into()), account_role: None };
        assert!(matches!(c.create_group(&described), Err(ConnectorError::InvalidArgument(_))));
        let team = NewResource { resource_type: "team".into(), name: "Ops".into(), description: None, account_role: None };
        assert!(matches!(c.create_group(&team), Err(ConnectorError::InvalidArgument(_))));
        let nameless = ResourceChanges { name: None, description: None, account_role: None };
        assert!(matches!(c.update_group(&ResourceRef::new(GROUP, "g1"), &nameless), Err(ConnectorError::InvalidArgument(_))));
        assert!(matches!(c.delete_group(&ResourceRef::new(GROUP, "..")), Err(ConnectorError::InvalidArgument(_))));
        assert!(nothing.seen.borrow().is_empty());
    }

    #[test]
    fn a_rename_is_one_replace_of_the_display_name() {
        let canned = Canned::new(&[
            (200, SPC),
            (200, r#"{"id": "g1", "displayName": "Ops", "members": [{"value": "u1"}]}"#),
            (200, r#"{"Resources": []}"#),
            (200, r#"{"id": "g1", "displayName": "Platform"}"#),
        ]);
        let changes = ResourceChanges { name: Some("Platform".into()), description: None, account_role: None };
        let outcome = client(&canned).update_group(&ResourceRef::new(GROUP, "g1"), &changes).unwrap();
        assert!(matches!(outcome, UpdateOutcome::Updated(g) if g.display_name == "Platform"));
        assert_eq!(
            canned.seen.borrow()[3],
            r#"PATCH https://s.example/Groups/g1 {"Operations":[{"op":"replace","path":"displayName","value":"Platform"}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#
        );
    }
}
