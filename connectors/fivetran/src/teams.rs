//! Teams as the REST API keeps them: create, rename (or change the description or role of) and
//! delete teams.
//!
//! Like every change, each reads before it writes and sends only what differs, so running it
//! again changes nothing, and checks its input before sending anything.

use connector_sdk::ResourceManager;
use serde_json::{Map, Value, json};

use crate::api;
use crate::changes::{ACCOUNT, check_id, differing, not_shown, unverified};
use crate::connector::{Connector, Step};
use crate::mapping;
use crate::model::{
    ConnectorError, CreateOutcome, DeleteOutcome, NewResource, Resource, ResourceChanges, ResourceRef, Result, TEAM, UpdateOutcome,
};
use crate::transport::{Transport, encode};

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidArgument(message)
}

/// Only teams are created, changed and deleted here: groups (destinations) belong to the
/// destinations' own lifecycle, users to provision/deprovision.
fn require_team(resource_type: &str) -> Result<()> {
    if resource_type == TEAM {
        Ok(())
    } else {
        Err(invalid(format!(
            "the fivetran connector creates, updates and deletes resources of type team only, not {resource_type:?}; users are invited with provision and changed with update-account"
        )))
    }
}

fn check_team_name(name: &str) -> Result<()> {
    connector_sdk::checks::check_resource_name(name, "team name")
}

fn check_description(description: &str) -> Result<()> {
    if description.chars().count() > 1000 || description.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid("description is too long (over 1000 characters) or holds control characters".into()));
    }
    Ok(())
}

impl<T: Transport> Connector<'_, T> {
    fn team(&self, path: &str, team_id: &str) -> Result<api::Team> {
        let (endpoint, response) = self.send("GET", path.to_owned(), None)?;
        if response.status == 404 {
            return Err(ConnectorError::NotFound(format!("no team {team_id} in the account; check the id (sync lists them)")));
        }
        api::decode_data(&endpoint, &response)
    }

    fn team_resource(&self, path: &str, team: &api::Team) -> Result<Resource> {
        let endpoint = format!("GET {path}");
        self.read("GET /v1/teams/{id}", &endpoint, |notes| mapping::team_resource(0, team, notes))
    }

    /// The team named `name` (compared case-insensitively, trimmed), other than `except`.
    fn find_team_by_name(&self, name: &str, except: Option<&str>) -> Result<Option<Resource>> {
        let name = name.trim();
        self.walk_pages("/v1/teams", |endpoint, response| {
            let (teams, next) = api::decode_list::<api::Team>(endpoint, response)?;
            let found = teams.iter().enumerate().find(|(_, team)| {
                team.name.trimmed().is_some_and(|n| n.to_lowercase() == name.to_lowercase()) && team.id.as_deref() != except
            });
            let found = match found {
                Some((index, team)) => Some(self.read("GET /v1/teams", endpoint, |notes| mapping::team_resource(index, team, notes))?),
                None => None,
            };
            Ok(Step { found, next, items: teams.len() })
        })
    }
}

impl<T: Transport> ResourceManager for Connector<'_, T> {
    fn create_resource(&self, spec: &NewResource) -> Result<CreateOutcome> {
        require_team(&spec.resource_type)?;
        check_team_name(&spec.name)?;
        if let Some(description) = &spec.description {
            check_description(description)?;
        }
        if let Some(role) = &spec.account_role {
            self.require_role(role, ACCOUNT)?;
        }
        let name = spec.name.trim();
        if let Some(existing) = self.find_team_by_name(name, None)? {
            return Ok(CreateOutcome::AlreadyExists(existing));
        }
        let mut body = json!({"name": name});
        if let Some(description) = &spec.description {
            body["description"] = json!(description.trim());
        }
        if let Some(role) = &spec.account_role {
            body["role"] = json!(role);
        }
        let (endpoint, response) = self.send("POST", "/v1/teams".into(), Some(body))?;
        if response.status == 409 {
            // Created by someone else since we looked.
            return match self.find_team_by_name(name, None)? {
                Some(existing) => Ok(CreateOutcome::AlreadyExists(existing)),
                None => Err(ConnectorError::Conflict(format!("{endpoint} answered 409 for team {name:?}, but no team has that name"))),
            };
        }
        let team: api::Team = api::decode_data(&endpoint, &response)?;
        let created = self.read("POST /v1/teams", &endpoint, |notes| mapping::team_resource(0, &team, notes))?;
        let path = format!("/v1/teams/{}", encode(&created.id));
        let Some(stored) = self.get_optional::<api::Team>(&path)? else {
            return Err(unverified(format!("{endpoint} answered {}, but team {} cannot be read back", response.status, created.id)));
        };
        if stored.name.trimmed() != Some(name) {
            return Err(unverified(format!(
                "{endpoint} answered {}, but team {} read back is not named {name:?}",
                response.status, created.id
            )));
        }
        Ok(CreateOutcome::Created(self.team_resource(&path, &stored)?))
    }

    fn update_resource(&self, target: &ResourceRef, changes: &ResourceChanges) -> Result<UpdateOutcome> {
        require_team(&target.resource_type)?;
        check_id(&target.id, "team id")?;
        if changes.is_empty() {
            return Err(invalid("nothing to change: give a name, description or role".into()));
        }
        if let Some(name) = &changes.name {
            check_team_name(name)?;
        }
        if let Some(description) = &changes.description {
            check_description(description)?;
        }
        if let Some(role) = &changes.account_role {
            self.require_role(role, ACCOUNT)?;
        }
        let path = format!("/v1/teams/{}", encode(&target.id));
        let current = self.team(&path, &target.id)?;
        let mut body = Map::new();
        differing(&mut body, "name", changes.name.as_deref(), current.name.as_deref());
        differing(&mut body, "description", changes.description.as_deref(), current.description.as_deref());
        differing(&mut body, "role", changes.account_role.as_deref(), current.role.exact_trimmed());
        if body.is_empty() {
            return Ok(UpdateOutcome::Unchanged(self.team_resource(&path, &current)?));
        }
        if let Some(Value::String(name)) = body.get("name")
            && let Some(other) = self.find_team_by_name(name, Some(&target.id))?
        {
            return Err(invalid(format!("another team ({}) is named {name:?} already; choose another name", other.id)));
        }
        let (endpoint, response) = self.send("PATCH", path.clone(), Some(Value::Object(body.clone())))?;
        api::check_status(&endpoint, &response)?;
        let team = self.team(&path, &target.id)?;
        let now = [("name", team.name.trimmed()), ("description", team.description.trimmed()), ("role", team.role.exact_trimmed())];
        let missing = not_shown(&body, &now);
        if !missing.is_empty() {
            return Err(unverified(format!("{endpoint} was accepted, but team {} read back shows {}", target.id, missing.join(", "))));
        }
        Ok(UpdateOutcome::Updated(self.team_resource(&path, &team)?))
    }

    fn delete_resource(&self, target: &ResourceRef) -> Result<DeleteOutcome> {
        require_team(&target.resource_type)?;
        check_id(&target.id, "team id")?;
        self.delete_confirmed(&format!("/v1/teams/{}", encode(&target.id)), "/v1/teams")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AccountChanges;
    use crate::model::Config;
    use crate::testing::Canned;
    use connector_sdk::AccountManager;

    fn connector(canned: &Canned) -> Connector<'_, Canned> {
        Connector::new(canned, Config { base_url: "https://api.example".into(), page_size: 1000 })
    }

    const ANN: &str =
        r#"{"data":{"id":"u1","email":"ann@example.com","given_name":"Ann","family_name":"Lee","phone":"+15550001","role":null}}"#;

    #[test]
    fn an_update_sends_only_the_fields_that_differ_and_is_read_back() {
        const SMITH: &str =
            r#"{"data":{"id":"u1","email":"ann@example.com","given_name":"Ann","family_name":"Smith","phone":"+15550001","role":null}}"#;
        let canned = Canned::new(&[(200, ANN), (200, r#"{"code":"Success"}"#), (200, SMITH)]);
        let changes = AccountChanges { given_name: Some("Ann".into()), family_name: Some("Smith".into()), ..Default::default() };
        assert!(matches!(connector(&canned).update_account("u1", &changes), Ok(UpdateOutcome::Updated(_))));
        let seen = canned.seen.borrow();
        assert_eq!(seen[1], r#"PATCH https://api.example/v1/users/u1 {"family_name":"Smith"}"#);

        // Accepted, and not applied: the read-back says so, exit 4, never "updated".
        let canned = Canned::new(&[(200, ANN), (200, r#"{"code":"Success"}"#), (200, ANN)]);
        match connector(&canned).update_account("u1", &changes) {
            Err(ConnectorError::Upstream { code: Some(code), message, .. }) => {
                assert_eq!(code, "Unverified");
                assert!(message.contains(r#"family_name "Lee" (asked "Smith")"#), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_update_to_what_is_there_sends_nothing() {
        let canned = Canned::new(&[(200, ANN)]);
        let changes = AccountChanges { given_name: Some(" Ann ".into()), phone: Some("+15550001".into()), ..Default::default() };
        match connector(&canned).update_account("u1", &changes) {
            Ok(UpdateOutcome::Unchanged(user)) => assert_eq!(user.display_name, "Ann Lee"),
            other => panic!("{other:?}"),
        }
        assert_eq!(canned.seen.borrow().len(), 1);
    }

    #[test]
    fn bad_input_is_refused_before_anything_is_sent() {
        let nothing = Canned::new(&[]);
        let c = connector(&nothing);
        assert!(matches!(c.update_account("u1", &AccountChanges::default()), Err(ConnectorError::InvalidArgument(_))));
        let blank = AccountChanges { given_name: Some(" ".into()), ..Default::default() };
        assert!(matches!(c.update_account("u1", &blank), Err(ConnectorError::InvalidArgument(_))));
        let phone = AccountChanges { phone: Some("call me".into()), ..Default::default() };
        assert!(matches!(c.update_account("u1", &phone), Err(ConnectorError::InvalidArgument(_))));
        let named = AccountChanges { given_name: Some("A".into()), ..Default::default() };
        assert!(matches!(c.update_account("../x", &named), Err(ConnectorError::InvalidArgument(_))));
        let group = NewResource { resource_type: "group".into(), name: "G".into(), description: None, account_role: None };
        assert!(matches!(c.create_resource(&group), Err(ConnectorError::InvalidArgument(_))));
        let unnamed = NewResource { resource_type: TEAM.into(), name: "\t".into(), description: None, account_role: None };
        assert!(matches!(c.create_resource(&unnamed), Err(ConnectorError::InvalidArgument(_))));
        let team = ResourceRef::new(TEAM, "t1");
        assert!(matches!(c.update_resource(&team, &ResourceChanges::default()), Err(ConnectorError::InvalidArgument(_))));
        assert!(matches!(c.delete_resource(&ResourceRef::new(TEAM, "a/b")), Err(ConnectorError::InvalidArgument(_))));
        assert!(matches!(c.set_account_enabled("u1", false), Err(ConnectorError::Unsupported(m)) if m.contains("scim")));
        assert!(nothing.seen.borrow().is_empty());
    }

    #[test]
    fn a_team_of_the_same_name_in_another_case_is_the_one_created_already() {
        let canned = Canned::new(&[(200, r#"{"data":{"items":[{"id":"t7","name":" finance ","role":"Account Reviewer"}]}}"#)]);
        let spec = NewResource { resource_type: TEAM.into(), name: "Finance".into(), description: None, account_role: None };
        match connector(&canned).create_resource(&spec) {
            Ok(CreateOutcome::AlreadyExists(team)) => assert_eq!(team.id, "t7"),
            other => panic!("{other:?}"),
        }
        assert_eq!(canned.seen.borrow().len(), 1);
    }

    #[test]
    fn renaming_onto_another_teams_name_is_refused() {
        let canned = Canned::new(&[
            (200, r#"{"data":{"id":"t1","name":"Ops","role":null}}"#),
            (200, r#"{"data":{"items":[{"id":"t1","name":"Ops"},{"id":"t2","name":"Finance"}]}}"#),
        ]);
        let changes = ResourceChanges { name: Some("FINANCE".into()), ..Default::default() };
        let outcome = connector(&canned).update_resource(&ResourceRef::new(TEAM, "t1"), &changes);
        assert!(matches!(&outcome, Err(ConnectorError::InvalidArgument(m)) if m.contains("t2")), "{outcome:?}");
        assert!(canned.seen.borrow().iter().all(|r| !r.starts_with("PATCH")));
    }
}
