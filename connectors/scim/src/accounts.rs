//! Users: create (looked up first by `userName`, compared case-insensitively; a 409 adopts the
//! existing user), update names, phone and role, disable and enable, delete. Each reads before it
//! writes, sends only what differs, and answers with the user as sync shows it.

use serde_json::{Map, Value, json};

use crate::attrs::{self, Obj};
use crate::client::{Client, USER_SCHEMA, resource_path};
use crate::discovery::Discovery;
use crate::ids::{self, filter_eq};
use crate::mapping::{self, HeldRole};
use crate::model::{
    AccountChanges, ActivationChange, ActivationOutcome, ConnectorError, CreateOutcome, DeleteOutcome, NewAccount, Resource, Result,
    UpdateOutcome,
};
use crate::transport::Transport;

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidArgument(message)
}

use connector_sdk::checks::{check_email, check_person_name as check_name, check_phone};

/// Fivetran's SCIM API provisions account roles only; the scopes other roles belong to are
/// recognisable by name (Fivetran's roles are named, not numbered).
const FIVETRAN_NON_ACCOUNT_PREFIXES: &[&str] = &["Destination ", "Connector ", "Connection ", "Team "];
const FIVETRAN_NON_ACCOUNT_ROLES: &[&str] = &["Manage Destination", "View Destination", "Manage Connection", "View Connection"];

/// A role value this service can take: well formed, and for Fivetran an account role.
pub fn check_role(role: &str, discovery: &Discovery) -> Result<()> {
    ids::check_role(role).map_err(|why| invalid(format!("role {role:?} {why}")))?;
    if discovery.fivetran
        && (FIVETRAN_NON_ACCOUNT_PREFIXES.iter().any(|p| role.starts_with(p)) || FIVETRAN_NON_ACCOUNT_ROLES.contains(&role))
    {
        return Err(invalid(format!(
            "role {role:?} is not an account role: Fivetran's SCIM API provisions account roles only (e.g. \"Account Reviewer\"); grant destination access with the fivetran connector"
        )));
    }
    Ok(())
}

/// The `roles` a user holds after `role` becomes its account role: the other roles stay, the
/// previous account role goes, `role` is primary. Answers with the previous account role.
pub fn with_account_role(held: &[HeldRole], role: &str) -> (Value, Option<String>) {
    let previous = mapping::account_role(held).map(|r| r.value.clone());
    let mut roles: Vec<Value> = held
        .iter()
        .filter(|r| Some(&r.value) != previous.as_ref() && r.value != role)
        .map(|r| json!({"value": r.value, "primary": false}))
        .collect();
    roles.push(json!({"value": role, "primary": true}));
    (Value::Array(roles), previous.filter(|p| p != role))
}

impl<T: Transport> Client<'_, T> {
    /// The user resource as sync shows it.
    pub fn user_resource(&self, endpoint: &str, value: &Value) -> Result<(Resource, Vec<HeldRole>)> {
        let mut warnings = Vec::new();
        let mapped = mapping::user(endpoint, 0, value, &mut warnings)?;
        for warning in warnings {
            self.warn(&warning);
        }
        Ok(mapped)
    }

    /// The user with `user_id`; an unknown id is the caller's mistake.
    pub fn existing_user(&self, user_id: &str) -> Result<Value> {
        ids::require_id(user_id, "user id")?;
        self.get_optional(resource_path("Users", user_id))?
            .ok_or_else(|| invalid(format!("no user {user_id} in the SCIM service; check the id (sync lists them)")))
    }

    /// The user whose `userName` is `user_name` in any case: by filter where the service filters
    /// (`userName` is case-insensitive in SCIM, RFC 7643 section 4.1.1), else by walking every
    /// user; `thorough` walks after a filter that found nothing too (a service that compared
    /// case-sensitively answered 409 to a create).
    fn find_user(&self, discovery: &Discovery, user_name: &str, thorough: bool) -> Result<Option<Value>> {
        let matches = |user: &Value| Obj::of(user).and_then(|u| u.str("userName")).is_some_and(|n| n.eq_ignore_ascii_case(user_name));
        if discovery.filter {
            let found = self.find("Users", Some(&filter_eq("userName", user_name)), matches)?;
            if found.is_some() || !thorough {
                return Ok(found);
            }
        }
        self.find("Users", None, matches)
    }

    pub fn provision(&self, account: &NewAccount) -> Result<CreateOutcome> {
        let email = account.email.trim();
        check_email(email)?;
        check_name(&account.given_name, "given name")?;
        check_name(&account.family_name, "family name")?;
        if let Some(phone) = &account.phone {
            check_phone(phone)?;
        }
        let discovery = self.discover()?;
        if let Some(role) = &account.account_role {
            check_role(role, &discovery)?;
        }
        if let Some(existing) = self.find_user(&discovery, email, false)? {
            return Ok(CreateOutcome::AlreadyExists(self.user_resource("GET /Users", &existing)?.0));
        }
        let mut body = json!({
            "schemas": [USER_SCHEMA],
            "userName": email,
            "name": {"givenName": account.given_name.trim(), "familyName": account.family_name.trim()},
            "emails": [{"value": email, "type": "work", "primary": true}],
            "active": true,
        });
        if let Some(phone) = &account.phone {
            body["phoneNumbers"] = json!([{"value": phone, "type": "work", "primary": true}]);
        }
        if let Some(role) = &account.account_role {
            body["roles"] = json!([{"value": role, "primary": true}]);
        }
        let (endpoint, response) = self.send("POST", "/Users".into(), Some(&body))?;
        if response.status == 409 {
            // Created by someone else since we looked, or a lost answer's retry.
            return match self.find_user(&discovery, email, true)? {
                Some(existing) => Ok(CreateOutcome::AlreadyExists(self.user_resource("GET /Users", &existing)?.0)),
                None => Err(ConnectorError::Conflict(format!("{endpoint} answered 409 for {email}, but no user has that user name"))),
            };
        }
        crate::client::check(&endpoint, &response)?;
        let created = match crate::client::returned(&endpoint, &response)? {
            Some(user) => user,
            None => self.find_user(&discovery, email, true)?.ok_or_else(|| {
                connector_sdk::lenient::malformed(format!("{endpoint} answered {} but the user cannot be found", response.status))
            })?,
        };
        Ok(CreateOutcome::Created(self.user_resource(&endpoint, &created)?.0))
    }

    pub fn deprovision(&self, user_id: &str) -> Result<DeleteOutcome> {
        ids::require_id(user_id, "user id")?;
        let (endpoint, response) = self.send("DELETE", resource_path("Users", user_id), None)?;
        match response.status {
            404 => Ok(DeleteOutcome::NotFound),
            _ => crate::client::check(&endpoint, &response).map(|()| DeleteOutcome::Deleted),
        }
    }

    pub fn update_account(&self, user_id: &str, changes: &AccountChanges) -> Result<UpdateOutcome> {
        ids::require_id(user_id, "user id")?;
        if changes.is_empty() {
            return Err(invalid("nothing to change: give a given name, family name, phone or role".into()));
        }
        for (value, what) in [(&changes.given_name, "given name"), (&changes.family_name, "family name")] {
            if let Some(value) = value {
                check_name(value, what)?;
            }
        }
        if let Some(phone) = &changes.phone {
            check_phone(phone)?;
        }
        let discovery = self.discover()?;
        if let Some(role) = &changes.account_role {
            check_role(role, &discovery)?;
        }
        let current = self.existing_user(user_id)?;
        let path = resource_path("Users", user_id);
        let (resource, held) = self.user_resource(&format!("GET {path}"), &current)?;
        let user = Obj::of(&current).expect("an object");
        let name = user.obj("name");
        fn differs(wanted: &Option<String>, now: Option<String>) -> Option<&str> {
            wanted.as_deref().map(str::trim).filter(|w| Some(*w) != now.as_deref())
        }
        let given = differs(&changes.given_name, name.and_then(|n| n.str("givenName")));
        let family = differs(&changes.family_name, name.and_then(|n| n.str("familyName")));
        let phone = differs(&changes.phone, mapping::phone(user));
        let role = differs(&changes.account_role, mapping::account_role(&held).map(|r| r.value.clone()));
        let mut operations = Vec::new();
        if let Some(given) = given {
            operations.push(json!({"op": "replace", "path": "name.givenName", "value": given}));
        }
        if let Some(family) = family {
            operations.push(json!({"op": "replace", "path": "name.familyName", "value": family}));
        }
        let phones = phone.map(|p| json!([{"value": p, "type": "work", "primary": true}]));
        if let Some(phones) = &phones {
            operations.push(json!({"op": "replace", "path": "phoneNumbers", "value": phones}));
        }
        let roles = role.map(|r| with_account_role(&held, r).0);
        if let Some(roles) = &roles {
            operations.push(json!({"op": "replace", "path": "roles", "value": roles}));
        }
        if operations.is_empty() {
            return Ok(UpdateOutcome::Unchanged(resource));
        }
        let sent = self.change(discovery.patch, &path, operations, &current, |whole| {
            let name = attrs::sub_object(whole, "name");
            if let Some(given) = given {
                attrs::set(name, "givenName", json!(given));
            }
            if let Some(family) = family {
                attrs::set(name, "familyName", json!(family));
            }
            if let Some(phones) = phones.clone() {
                attrs::set(whole, "phoneNumbers", phones);
            }
            if let Some(roles) = roles.clone() {
                attrs::set(whole, "roles", roles);
            }
        })?;
        Ok(UpdateOutcome::Updated(self.after_change(&path, sent)?))
    }

    pub fn set_account_enabled(&self, user_id: &str, enabled: bool) -> Result<ActivationOutcome> {
        ids::require_id(user_id, "user id")?;
        let discovery = self.discover()?;
        let current = self.existing_user(user_id)?;
        let path = resource_path("Users", user_id);
        let (resource, _) = self.user_resource(&format!("GET {path}"), &current)?;
        let active = Obj::of(&current).and_then(|u| u.bool("active")).unwrap_or(true);
        if active == enabled {
            let change = if enabled { ActivationChange::AlreadyEnabled } else { ActivationChange::AlreadyDisabled };
            return Ok(ActivationOutcome { change, user: resource });
        }
        let operation = json!({"op": "replace", "path": "active", "value": enabled});
        let sent = self.change(discovery.patch, &path, vec![operation], &current, |whole: &mut Map<String, Value>| {
            attrs::set(whole, "active", json!(enabled));
        })?;
        let change = if enabled { ActivationChange::Enabled } else { ActivationChange::Disabled };
        Ok(ActivationOutcome { change, user: self.after_change(&path, sent)? })
    }

    /// The user after a change: what the service sent back, else read again (a 204 sends none).
    pub fn after_change(&self, path: &str, sent: Option<Value>) -> Result<Resource> {
        let value = match sent {
            Some(value) => value,
            None => self.get(path.to_owned())?,
        };
        Ok(self.user_resource(&format!("GET {path}"), &value)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use crate::testing::Canned;

    const SPC: &str = r#"{"patch": {"supported": true}, "filter": {"supported": true}}"#;
    const NO_PATCH: &str = r#"{"patch": {"supported": false}, "filter": {"supported": false}}"#;
    const EMPTY: &str = r#"{"totalResults": 0, "Resources": []}"#;
    const ANN: &str = r#"{"id": "u1", "userName": "Ann@Example.com", "name": {"givenName": "Ann", "familyName": "Lee"}, "active": true, "roles": [{"value": "Account Analyst", "primary": true}], "meta": {"version": "W/\"1\""}}"#;

    fn client<'a>(canned: &'a Canned, base: &str) -> Client<'a, Canned> {
        Client::new(canned, Config { base_url: base.into(), page_size: 100 })
    }

    fn account(email: &str, role: Option<&str>) -> NewAccount {
        NewAccount {
            email: email.into(),
            given_name: "Ann".into(),
            family_name: "Lee".into(),
            account_role: role.map(Into::into),
            phone: None,
        }
    }

    #[test]
    fn a_create_looks_up_the_user_name_first_in_any_case() {
        let found = r#"{"totalResults": 1, "Resources": [{"id": "u1", "userName": "ANN@example.com"}]}"#;
        let canned = Canned::new(&[(200, SPC), (200, found)]);
        let outcome = client(&canned, "https://scim.example").provision(&account("ann@example.com", None)).unwrap();
        assert!(matches!(outcome, CreateOutcome::AlreadyExists(user) if user.id == "u1"));
        assert_eq!(
            canned.seen.borrow()[1],
            "GET https://scim.example/Users?startIndex=1&count=100&filter=userName%20eq%20%22ann%40example.com%22"
        );
    }

    #[test]
    fn a_create_sends_a_scim_user_and_a_409_adopts_the_existing_one() {
        let created = r#"{"id": "u2", "userName": "bo@example.com"}"#;
        let canned = Canned::new(&[(200, SPC), (200, EMPTY), (201, created)]);
        let outcome = client(&canned, "https://scim.example").provision(&account("bo@example.com", Some("Admin"))).unwrap();
        assert!(matches!(outcome, CreateOutcome::Created(user) if user.id == "u2"));
        let post = canned.seen.borrow()[2].clone();
        assert!(post.starts_with("POST https://scim.example/Users {"), "{post}");
        let body: Value = serde_json::from_str(post.split_once(' ').unwrap().1.split_once(' ').unwrap().1).unwrap();
        assert_eq!(body["schemas"], json!([USER_SCHEMA]));
        assert_eq!(body["active"], json!(true), "a real boolean");
        assert_eq!(body["roles"], json!([{"value": "Admin", "primary": true}]));

        let canned = Canned::new(&[
            (200, NO_PATCH),
            (200, EMPTY),
            (409, r#"{"status": "409", "scimType": "uniqueness"}"#),
            (200, r#"{"Resources": [{"id": "u3", "userName": "BO@example.com"}]}"#),
        ]);
        let outcome = client(&canned, "https://scim.example").provision(&account("bo@example.com", None)).unwrap();
        assert!(matches!(outcome, CreateOutcome::AlreadyExists(user) if user.id == "u3"));
    }

    #[test]
    fn fivetran_refuses_a_destination_role_before_sending() {
        let canned = Canned::new(&[(200, "{}")]);
        let error = client(&canned, "https://api.fivetran.com/scim/v2").provision(&account("a@b.co", Some("Destination Administrator")));
        assert!(matches!(&error, Err(ConnectorError::InvalidArgument(m)) if m.contains("account role")), "{error:?}");
        assert_eq!(canned.seen.borrow().len(), 1, "only the configuration was read");
    }

    #[test]
    fn an_update_patches_only_what_differs_and_a_204_reads_back() {
        let canned = Canned::new(&[(200, SPC), (200, ANN), (204, ""), (200, ANN)]);
        let changes = AccountChanges {
            given_name: Some("Ann".into()),
            family_name: Some("Smith".into()),
            account_role: Some("Account Reviewer".into()),
            phone: None,
        };
        assert!(matches!(client(&canned, "https://s.example").update_account("u1", &changes), Ok(UpdateOutcome::Updated(_))));
        let seen = canned.seen.borrow();
        assert_eq!(
            seen[2],
            r#"PATCH https://s.example/Users/u1 {"Operations":[{"op":"replace","path":"name.familyName","value":"Smith"},{"op":"replace","path":"roles","value":[{"primary":true,"value":"Account Reviewer"}]}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#
        );
        assert!(seen[3].starts_with("GET https://s.example/Users/u1"));
    }

    #[test]
    fn without_patch_a_change_is_a_put_of_the_whole_user_without_meta() {
        let canned = Canned::new(&[(200, NO_PATCH), (200, ANN), (200, ANN)]);
        let outcome = client(&canned, "https://s.example").set_account_enabled("u1", false).unwrap();
        assert_eq!(outcome.change, ActivationChange::Disabled);
        let put = canned.seen.borrow()[2].clone();
        assert!(put.starts_with("PUT https://s.example/Users/u1 "), "{put}");
        assert!(put.contains(r#""active":false"#) && !put.contains("meta"), "{put}");
    }

    #[test]
    fn disabling_a_disabled_user_sends_nothing() {
        let disabled = r#"{"id": "u1", "active": "False"}"#;
        let canned = Canned::new(&[(200, SPC), (200, disabled)]);
        let outcome = client(&canned, "https://s.example").set_account_enabled("u1", false).unwrap();
        assert_eq!(outcome.change, ActivationChange::AlreadyDisabled);
        assert_eq!(canned.seen.borrow().len(), 2);
    }

    #[test]
    fn a_new_account_role_replaces_the_old_and_keeps_the_others() {
        let held = mapping::roles(Obj::of(&json!({"roles": [{"value": "A", "primary": true}, {"value": "X"}]})).unwrap(), &mut Vec::new());
        let (roles, previous) = with_account_role(&held, "B");
        assert_eq!(roles, json!([{"value": "X", "primary": false}, {"value": "B", "primary": true}]));
        assert_eq!(previous.as_deref(), Some("A"));
    }
}
