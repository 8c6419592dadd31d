//! Groups: create (an existing group of the same name, in any case, is reported instead), rename,
//! delete. A SCIM group has a name and members only: a description or role is refused.

use serde_json::{Value, json};

use connector_sdk::ResourceManager;

use crate::attrs::{self, Obj};
use crate::client::{Client, GROUP_SCHEMA, resource_path, unverified};
use crate::discovery::Discovery;
use crate::ids::{self, GROUP, filter_eq};
use crate::mapping;
use crate::model::{
    ConnectorError, CreateOutcome, DeleteOutcome, NewResource, Resource, ResourceChanges, ResourceRef, Result, UpdateOutcome,
};
use crate::readback::{Applied, patch_or_put};
use crate::schema::Kind;
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
    /// The group named `name` (trimmed, any case), other than `except`. A filter that finds none
    /// is not the last word: services compare `displayName` case-exactly in filters whatever
    /// their schema says, and none answers a duplicate group with 409, so the listing is walked
    /// (bounded) before a create or a rename.
    fn find_group(&self, discovery: &Discovery, name: &str, except: Option<&str>) -> Result<Option<Value>> {
        let name = name.trim();
        let lower = name.to_lowercase();
        let matches = |group: &Value| {
            let group = Obj::of(group);
            group.and_then(|g| g.str("displayName")).is_some_and(|n| n.to_lowercase() == lower)
                && group.and_then(|g| g.str("id")).as_deref() != except
        };
        if discovery.filter {
            let filtered = self.find("Groups", Some(&filter_eq("displayName", name)), matches).or_else(|error| match error {
                // Some services filter groups on fewer attributes than users: walk instead.
                ConnectorError::InvalidArgument(_) => Ok(None),
                other => Err(other),
            })?;
            if filtered.is_some() {
                return Ok(filtered);
            }
        }
        self.find("Groups", None, matches)
    }

    fn group_resource(&self, endpoint: &str, value: &Value) -> Result<Resource> {
        mapping::group(endpoint, self.base_url(), 0, value)
    }

    /// The group with `group_id`; an unknown id is the caller's mistake.
    pub fn existing_group(&self, group_id: &str) -> Result<Value> {
        ids::require_id(group_id, "group id")?;
        self.get_optional(resource_path("Groups", group_id))?
            .ok_or_else(|| ConnectorError::NotFound(format!("no group {group_id} in the SCIM service; check the id (sync lists them)")))
    }
}

impl<T: Transport> ResourceManager for Client<'_, T> {
    fn create_resource(&self, spec: &NewResource) -> Result<CreateOutcome> {
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
        let answered = match crate::client::returned(&endpoint, &response)? {
            Some(group) => Some(group),
            None => self.find_group(&discovery, name, None)?,
        };
        let id = answered.as_ref().and_then(Obj::of).and_then(|g| g.str("id"));
        let created = match id {
            Some(id) => {
                ids::check_id(&id)
                    .map_err(|why| connector_sdk::lenient::malformed(format!("{endpoint} answered a group id {id:?} that {why}")))?;
                self.get_optional(resource_path("Groups", &id))?
            }
            None => None,
        };
        let created = created
            .ok_or_else(|| unverified(format!("{endpoint} answered {}, but no group {name:?} can be read back", response.status)))?;
        if Obj::of(&created).and_then(|g| g.str("displayName")).as_deref() != Some(name) {
            return Err(unverified(format!("{endpoint} answered {}, but the group read back is not named {name:?}", response.status)));
        }
        Ok(CreateOutcome::Created(self.group_resource(&endpoint, &created)?))
    }

    fn update_resource(&self, target: &ResourceRef, changes: &ResourceChanges) -> Result<UpdateOutcome> {
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
        let named = |group: &Value| Obj::of(group).and_then(|g| g.str("displayName")).as_deref() == Some(name);
        if named(&current) {
            return Ok(UpdateOutcome::Unchanged(self.group_resource(&endpoint, &current)?));
        }
        if let Some(why) = discovery.schemas.unchangeable(Kind::Group, "displayName") {
            return Err(invalid(format!("cannot rename group {}: {why}", target.id)));
        }
        if let Some(other) = self.find_group(&discovery, name, Some(&target.id))? {
            let other = Obj::of(&other).and_then(|o| o.str("id")).unwrap_or_default();
            return Err(invalid(format!("another group ({other}) is named {name:?} already; choose another name")));
        }
        let forms = patch_or_put(vec![json!({"op": "replace", "path": "displayName", "value": name})], move |whole| {
            attrs::set(whole, "displayName", json!(name))
        });
        match self.apply(&discovery, Kind::Group, &path, &current, forms, |after| Ok(named(after)))? {
            Applied::Done(after) => Ok(UpdateOutcome::Updated(self.group_resource(&endpoint, &after)?)),
            Applied::NotApplied { after, tried, .. } => Err(unverified(format!(
                "{} was accepted, but group {} is named {:?} when read back",
                tried.join(", "),
                target.id,
                Obj::of(&after).and_then(|g| g.str("displayName")).unwrap_or_default()
            ))),
        }
    }

    fn delete_resource(&self, target: &ResourceRef) -> Result<DeleteOutcome> {
        require_group(&target.resource_type)?;
        ids::require_id(&target.id, "group id")?;
        self.delete_resource_at("Groups", &target.id)
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

    const NO_SCHEMAS: (u16, &str) = (404, "");
    const NONE: &str = r#"{"totalResults": 0, "Resources": []}"#;

    fn named(name: &str) -> NewResource {
        NewResource { resource_type: GROUP.into(), name: name.into(), description: None, account_role: None }
    }

    #[test]
    fn a_group_of_the_same_name_in_any_case_is_the_one_created_already() {
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, r#"{"Resources": [{"id": "g7", "displayName": " FINANCE "}]}"#)]);
        assert!(matches!(client(&canned).create_resource(&named("Finance")), Ok(CreateOutcome::AlreadyExists(g)) if g.id == "g7"));
    }

    #[test]
    fn a_filter_that_compares_case_exactly_is_not_the_last_word_before_a_create() {
        let listing =
            r#"{"totalResults": 2, "Resources": [{"id": "g1", "displayName": "Ops"}, {"id": "g2", "displayName": "Interop Team"}]}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, NONE), (200, listing)]);
        assert!(matches!(client(&canned).create_resource(&named("interop team")), Ok(CreateOutcome::AlreadyExists(g)) if g.id == "g2"));
        assert_eq!(canned.seen.borrow()[3], "GET https://s.example/Groups?startIndex=1&count=100", "the listing walked");
    }

    #[test]
    fn a_created_group_is_read_back() {
        let created = r#"{"id": "g9", "displayName": "Ops"}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, NONE), (200, NONE), (201, created), (200, created)]);
        assert!(matches!(client(&canned).create_resource(&named("Ops")), Ok(CreateOutcome::Created(g)) if g.id == "g9"));
        assert_eq!(canned.seen.borrow()[5], "GET https://s.example/Groups/g9");
    }

    #[test]
    fn groups_take_a_name_only_and_nothing_is_sent_otherwise() {
        let nothing = Canned::new(&[]);
        let c = client(&nothing);
        let described = NewResource { resource_type: GROUP.into(), name: "Ops".into(), description: Some("x".into()), account_role: None };
        assert!(matches!(c.create_resource(&described), Err(ConnectorError::InvalidArgument(_))));
        let team = NewResource { resource_type: "team".into(), name: "Ops".into(), description: None, account_role: None };
        assert!(matches!(c.create_resource(&team), Err(ConnectorError::InvalidArgument(_))));
        let nameless = ResourceChanges { name: None, description: None, account_role: None };
        assert!(matches!(c.update_resource(&ResourceRef::new(GROUP, "g1"), &nameless), Err(ConnectorError::InvalidArgument(_))));
        assert!(matches!(c.delete_resource(&ResourceRef::new(GROUP, "..")), Err(ConnectorError::InvalidArgument(_))));
        assert!(nothing.seen.borrow().is_empty());
    }

    #[test]
    fn a_rename_is_one_replace_of_the_display_name_read_back() {
        let canned = Canned::new(&[
            (200, SPC),
            NO_SCHEMAS,
            (200, r#"{"id": "g1", "displayName": "Ops", "members": [{"value": "u1"}]}"#),
            (200, NONE),
            (200, NONE),
            (200, r#"{"id": "g1", "displayName": "Platform"}"#),
            (200, r#"{"id": "g1", "displayName": "Platform"}"#),
        ]);
        let changes = ResourceChanges { name: Some("Platform".into()), description: None, account_role: None };
        let outcome = client(&canned).update_resource(&ResourceRef::new(GROUP, "g1"), &changes).unwrap();
        assert!(matches!(outcome, UpdateOutcome::Updated(g) if g.display_name == "Platform"));
        let seen = canned.seen.borrow();
        assert_eq!(
            seen[5],
            r#"PATCH https://s.example/Groups/g1 {"Operations":[{"op":"replace","path":"displayName","value":"Platform"}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#
        );
        assert_eq!(seen[6], "GET https://s.example/Groups/g1");
    }

    #[test]
    fn a_rename_of_an_immutable_name_is_refused_and_a_501_becomes_a_put() {
        let immutable = r#"{"Resources": [{"id": "urn:ietf:params:scim:schemas:core:2.0:Group", "attributes": [{"name": "displayName", "mutability": "immutable"}]}]}"#;
        let canned = Canned::new(&[(200, SPC), (200, immutable), (200, r#"{"id": "g1", "displayName": "Ops"}"#)]);
        let changes = ResourceChanges { name: Some("Platform".into()), description: None, account_role: None };
        let error = client(&canned).update_resource(&ResourceRef::new(GROUP, "g1"), &changes).unwrap_err();
        assert!(matches!(&error, ConnectorError::InvalidArgument(m) if m.contains("displayName immutable")), "{error:?}");
        assert_eq!(canned.seen.borrow().len(), 3, "nothing changed");

        let canned = Canned::new(&[
            (200, SPC),
            NO_SCHEMAS,
            (200, r#"{"id": "g1", "displayName": "Ops", "members": [{"value": "u1"}], "meta": {"location": "x"}}"#),
            (200, NONE),
            (200, NONE),
            (501, r#"{"status": 501, "detail": ""}"#),
            (200, r#"{"id": "g1", "displayName": "Platform"}"#),
            (200, r#"{"id": "g1", "displayName": "Platform"}"#),
        ]);
        assert!(client(&canned).update_resource(&ResourceRef::new(GROUP, "g1"), &changes).is_ok());
        assert_eq!(
            canned.seen.borrow()[6],
            r#"PUT https://s.example/Groups/g1 {"displayName":"Platform","id":"g1","members":[{"value":"u1"}]}"#
        );
    }
}
