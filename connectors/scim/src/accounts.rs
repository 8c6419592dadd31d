//! Users: create (looked up first by `userName`, compared case-insensitively; a 409 adopts the
//! existing user), update names, phone and role, disable and enable, delete. Each reads before it
//! writes, sends only what differs, and answers with the user as sync shows it.

use serde_json::{Map, Value, json};

use crate::attrs::{self, Obj};
use crate::client::{Client, USER_SCHEMA, resource_path, unverified};
use crate::discovery::Discovery;
use crate::ids::{self, filter_eq};
use crate::mapping::{self, HeldRole};
use crate::model::{
    AccountChanges, ActivationChange, ActivationOutcome, ConnectorError, CreateOutcome, DeleteOutcome, NewAccount, Resource, Result,
    UpdateOutcome,
};
use crate::readback::{Applied, Form, patch_or_put};
use crate::schema::Kind;
use crate::transport::Transport;

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidArgument(message)
}

use connector_sdk::AccountManager;
use connector_sdk::checks::{check_new_account, check_person_name as check_name, check_phone};

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

/// Refuses a role change on a service whose schema has no `roles`, or makes it unchangeable.
pub fn check_roles_writable(discovery: &Discovery) -> Result<()> {
    if !discovery.schemas.declares(Kind::User, "roles") {
        return Err(invalid("the service's schema declares no roles attribute: its users cannot hold roles here".into()));
    }
    match discovery.schemas.unchangeable(Kind::User, "roles") {
        Some(why) => Err(invalid(format!("cannot change roles: {why}"))),
        None => Ok(()),
    }
}

/// The `roles` a user holds after `role` becomes its account role: the other roles' items as
/// read, whole, only no longer primary; the previous account role gone; `role` primary. Answers
/// with the previous account role.
pub fn with_account_role(discovery: &Discovery, user: &Value, held: &[HeldRole], role: &str) -> (Value, Option<String>) {
    let previous = mapping::account_role(held).map(|r| r.value.clone());
    let value_of = |item: &Value| Obj::of(item).and_then(|o| o.str("value")).or_else(|| attrs::text(item));
    let mut roles: Vec<Value> = Obj::of(user)
        .map(|u| u.list("roles"))
        .unwrap_or_default()
        .into_iter()
        .filter(|item| value_of(item).is_some_and(|v| Some(&v) != previous.as_ref() && v != role))
        .cloned()
        .map(|mut item| {
            if let Some(object) = item.as_object_mut()
                && Obj(object).bool("primary") == Some(true)
            {
                attrs::set(object, "primary", json!(false));
            }
            item
        })
        .collect();
    roles.push(discovery.schemas.shaped(Kind::User, "roles", json!({"value": role, "primary": true})));
    (Value::Array(roles), previous.filter(|p| p != role))
}

/// The phone number a change of phone replaces: the work number, else the primary, else the
/// first (the one sync reports as the user's phone). None when the user has none (the new
/// number is added).
fn phone_to_replace(user: Obj<'_>) -> Option<(usize, Obj<'_>)> {
    let phones: Vec<Obj<'_>> = user.list("phoneNumbers").into_iter().filter_map(Obj::of).collect();
    let pick = phones
        .iter()
        .position(|p| p.str("type").is_some_and(|t| t.eq_ignore_ascii_case("work")))
        .or_else(|| phones.iter().position(|p| p.bool("primary") == Some(true)))
        .or(if phones.is_empty() { None } else { Some(0) })?;
    Some((pick, phones[pick]))
}

/// The values of a user's phone numbers, in order.
fn phone_values(user: &Value) -> Vec<String> {
    Obj::of(user)
        .map(|u| u.list("phoneNumbers"))
        .unwrap_or_default()
        .into_iter()
        .filter_map(Obj::of)
        .filter_map(|p| p.str("value"))
        .collect()
}

/// What an update asked for that the user, as read, does not show.
fn not_shown(user: &Value, given: Option<&str>, family: Option<&str>, phone: Option<(&str, &[String])>, role: Option<&str>) -> Vec<String> {
    let obj = Obj::of(user);
    let name = obj.and_then(|u| u.obj("name"));
    let mut missing = Vec::new();
    for (wanted, attribute, what) in [(given, "givenName", "given name"), (family, "familyName", "family name")] {
        if let Some(wanted) = wanted {
            let now = name.and_then(|n| n.str(attribute));
            if now.as_deref() != Some(wanted) {
                missing.push(format!("{what} {} (asked {wanted:?})", now.map_or("none".to_owned(), |n| format!("{n:?}"))));
            }
        }
    }
    if let Some((wanted, others)) = phone {
        let now = phone_values(user);
        if !now.iter().any(|p| p == wanted) {
            missing.push(format!("phone numbers {now:?} (asked {wanted:?})"));
        } else if let Some(lost) = others.iter().find(|o| !now.contains(o)) {
            missing.push(format!("phone numbers {now:?}, without {lost:?}, which was to stay"));
        }
    }
    if let Some(wanted) = role {
        let held = obj.map(|u| mapping::roles(u, &mut Vec::new())).unwrap_or_default();
        let now = mapping::account_role(&held).map(|r| r.value.clone());
        if now.as_deref() != Some(wanted) {
            missing.push(format!("account role {} (asked {wanted:?})", now.map_or("none".to_owned(), |r| format!("{r:?}"))));
        }
    }
    missing
}

impl<T: Transport> Client<'_, T> {
    /// The user resource as sync shows it.
    pub fn user_resource(&self, endpoint: &str, value: &Value) -> Result<(Resource, Vec<HeldRole>)> {
        let mut warnings = Vec::new();
        let mapped = mapping::user(endpoint, self.base_url(), 0, value, &mut warnings)?;
        for warning in warnings {
            self.warn(&warning);
        }
        Ok(mapped)
    }

    /// The user with `user_id`; an unknown id is the caller's mistake.
    pub fn existing_user(&self, user_id: &str) -> Result<Value> {
        ids::require_id(user_id, "user id")?;
        self.get_optional(resource_path("Users", user_id))?
            .ok_or_else(|| ConnectorError::NotFound(format!("no user {user_id} in the SCIM service; check the id (sync lists them)")))
    }

    /// The user whose `userName` is `user_name` in any case: by filter where the service filters
    /// (`userName` is case-insensitive in SCIM, RFC 7643 section 4.1.1), else by walking every
    /// user; `thorough` walks after a filter that found nothing too (a service that compared
    /// case-sensitively answered 409 to a create). A service that ignores the filter and lists
    /// everyone is read through: only a user of that name matches.
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

    /// Deletes `/{collection}/{id}`: `deleted` once a read finds it gone, `not_found` when the
    /// service says it has no such resource (a SCIM error, or a 404 while a listing of the
    /// collection works: a 404 from a wrong base URL says nothing about the resource). A server
    /// error answering a DELETE that took effect (Canaille behind hypercorn answers 500) is read
    /// back like any answer.
    pub fn delete_resource_at(&self, collection: &str, id: &str) -> Result<DeleteOutcome> {
        let path = resource_path(collection, id);
        if self.get_optional(path.clone())?.is_none() {
            self.list(collection, 1, None)?;
            return Ok(DeleteOutcome::NotFound);
        }
        let (endpoint, response) = self.send("DELETE", path.clone(), None)?;
        let failed = crate::client::check(&endpoint, &response).err();
        if response.status == 404 {
            // Gone between the read and the delete: someone else deleted it.
            return Ok(DeleteOutcome::NotFound);
        }
        match (self.get_optional(path)?, failed) {
            (None, None) => Ok(DeleteOutcome::Deleted),
            (None, Some(_)) => {
                self.warn(&format!("{endpoint} answered {}, but the resource is gone when read back: deleted", response.status));
                Ok(DeleteOutcome::Deleted)
            }
            (Some(_), Some(error)) => Err(error),
            (Some(_), None) => {
                Err(unverified(format!("{endpoint} answered {}, but the resource is still there when read back", response.status)))
            }
        }
    }
}

impl<T: Transport> AccountManager for Client<'_, T> {
    fn provision_account(&self, account: &NewAccount) -> Result<CreateOutcome> {
        check_new_account(account)?;
        let email = account.email.trim();
        let discovery = self.discover()?;
        let schemas = &discovery.schemas;
        if let Some(role) = &account.account_role {
            check_role(role, &discovery)?;
            if !schemas.declares(Kind::User, "roles") {
                return Err(invalid("the service's schema declares no roles attribute: leave out the role".into()));
            }
        }
        if account.phone.is_some() && !schemas.declares(Kind::User, "phoneNumbers") {
            return Err(invalid("the service's schema declares no phoneNumbers attribute: leave out the phone".into()));
        }
        if let Some(existing) = self.find_user(&discovery, email, false)? {
            return Ok(CreateOutcome::AlreadyExists(self.user_resource("GET /Users", &existing)?.0));
        }
        let (given, family) = (account.given_name.trim(), account.family_name.trim());
        let mut name = json!({"givenName": given, "familyName": family});
        if schemas.keeps(Kind::User, "name", "formatted") {
            name["formatted"] = json!(format!("{given} {family}"));
        }
        let mut body = json!({
            "schemas": [USER_SCHEMA],
            "userName": email,
            "name": schemas.shaped(Kind::User, "name", name),
            "emails": [schemas.shaped(Kind::User, "emails", json!({"value": email, "type": "work", "primary": true}))],
        });
        if schemas.declares(Kind::User, "active") {
            body["active"] = json!(true);
        }
        if let Some(phone) = &account.phone {
            body["phoneNumbers"] =
                json!([schemas.shaped(Kind::User, "phoneNumbers", json!({"value": phone, "type": "work", "primary": true}))]);
        }
        if let Some(role) = &account.account_role {
            body["roles"] = json!([schemas.shaped(Kind::User, "roles", json!({"value": role, "primary": true}))]);
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
        let answered = match crate::client::returned(&endpoint, &response)? {
            Some(user) => Some(user),
            None => self.find_user(&discovery, email, true)?,
        };
        let id = answered.as_ref().and_then(Obj::of).and_then(|u| u.str("id"));
        let created = match id {
            Some(id) => {
                ids::check_id(&id)
                    .map_err(|why| connector_sdk::lenient::malformed(format!("{endpoint} answered a user id {id:?} that {why}")))?;
                self.get_optional(resource_path("Users", &id))?
            }
            None => None,
        };
        let created =
            created.ok_or_else(|| unverified(format!("{endpoint} answered {}, but no user {email} can be read back", response.status)))?;
        if !Obj::of(&created).and_then(|u| u.str("userName")).is_some_and(|n| n.eq_ignore_ascii_case(email)) {
            return Err(unverified(format!("{endpoint} answered {}, but the user read back is not named {email}", response.status)));
        }
        let asked_phone = account.phone.as_deref().map(|p| (p, &[][..]));
        for dropped in not_shown(&created, Some(given), Some(family), asked_phone, account.account_role.as_deref()) {
            self.warn(&format!("the service created user {email} without what was asked: it shows {dropped}"));
        }
        Ok(CreateOutcome::Created(self.user_resource(&endpoint, &created)?.0))
    }

    fn deprovision_account(&self, user_id: &str) -> Result<DeleteOutcome> {
        ids::require_id(user_id, "user id")?;
        self.delete_resource_at("Users", user_id)
    }

    fn update_account(&self, user_id: &str, changes: &AccountChanges) -> Result<UpdateOutcome> {
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
        let schemas = &discovery.schemas;
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
        let phone = changes.phone.as_deref().filter(|p| !phone_values(&current).iter().any(|now| now == p));
        let role = differs(&changes.account_role, mapping::account_role(&held).map(|r| r.value.clone()));
        if given.is_none() && family.is_none() && phone.is_none() && role.is_none() {
            return Ok(UpdateOutcome::Unchanged(resource));
        }
        let mut attributes = Vec::new();
        if given.is_some() {
            attributes.push("name.givenName");
        }
        if family.is_some() {
            attributes.push("name.familyName");
        }
        if phone.is_some() {
            attributes.push("phoneNumbers");
        }
        if role.is_some() {
            attributes.push("roles");
        }
        for attribute in &attributes {
            if !schemas.declares(Kind::User, attribute) {
                return Err(invalid(format!("the service's schema declares no {attribute} attribute: it cannot be changed here")));
            }
            if let Some(why) = schemas.unchangeable(Kind::User, attribute) {
                return Err(invalid(format!("cannot change user {user_id}'s {attribute}: {why}")));
            }
        }

        // Filtered paths first (what Okta and Entra ID send); the whole attribute, edited as read,
        // for services without them; then PUT.
        let mut precise = Vec::new();
        let mut whole_values = Vec::new();
        let mut name_value = name.map(|n| Value::Object(n.0.clone())).unwrap_or_else(|| json!({}));
        if let Some(given) = given {
            precise.push(json!({"op": "replace", "path": "name.givenName", "value": given}));
            name_value["givenName"] = json!(given);
        }
        if let Some(family) = family {
            precise.push(json!({"op": "replace", "path": "name.familyName", "value": family}));
            name_value["familyName"] = json!(family);
        }
        // `name.formatted` follows the parts, where the service has it; a service that refuses it
        // without requiring it gets the parts alone next.
        let mut without_formatted = None;
        if (given.is_some() || family.is_some()) && schemas.keeps(Kind::User, "name", "formatted") {
            let now = |key: &str| Obj::of(&name_value).and_then(|n| n.str(key)).unwrap_or_default();
            let formatted = format!("{} {}", now("givenName"), now("familyName")).trim().to_owned();
            if !schemas.requires(Kind::User, "name", "formatted") {
                without_formatted = Some(precise.clone());
            }
            precise.push(json!({"op": "replace", "path": "name.formatted", "value": formatted}));
            attrs::set(name_value.as_object_mut().expect("an object"), "formatted", json!(formatted));
        }
        let others: Vec<String>;
        let mut phones_value = Value::Null;
        if let Some(phone) = phone {
            let listed: Vec<Value> = user.list("phoneNumbers").into_iter().cloned().collect();
            let mut edited = listed.clone();
            match phone_to_replace(user) {
                Some((index, item)) => {
                    let filter = match item.str("type") {
                        Some(kind) if kind.eq_ignore_ascii_case("work") => format!("phoneNumbers[type eq {}].value", json!(kind)),
                        _ => format!("phoneNumbers[value eq {}].value", json!(item.str("value").unwrap_or_default())),
                    };
                    precise.push(json!({"op": "replace", "path": filter, "value": phone}));
                    if let Some(object) = edited[index].as_object_mut() {
                        attrs::set(object, "value", json!(phone));
                    }
                    others = phone_values(&current).into_iter().enumerate().filter(|(i, _)| *i != index).map(|(_, v)| v).collect();
                }
                None => {
                    let item =
                        schemas.shaped(Kind::User, "phoneNumbers", json!({"value": phone, "type": "work", "primary": listed.is_empty()}));
                    precise.push(json!({"op": "add", "path": "phoneNumbers", "value": [item.clone()]}));
                    edited.push(item);
                    others = phone_values(&current);
                }
            }
            phones_value = Value::Array(edited);
            whole_values.push(json!({"op": "replace", "path": "phoneNumbers", "value": phones_value.clone()}));
        } else {
            others = Vec::new();
        }
        let roles = role.map(|r| with_account_role(&discovery, &current, &held, r).0);
        if let Some(roles) = &roles {
            let operation = json!({"op": "replace", "path": "roles", "value": roles});
            precise.push(operation.clone());
            without_formatted.iter_mut().for_each(|ops| ops.push(operation.clone()));
        }
        let phone_ops = |ops: &mut Vec<Value>| {
            ops.extend(precise.iter().filter(|op| op["path"].as_str().is_some_and(|p| p.starts_with("phoneNumbers"))).cloned())
        };
        let mut forms = vec![Form::Patch(precise.clone())];
        if let Some(mut parts) = without_formatted {
            phone_ops(&mut parts);
            forms.push(Form::Patch(parts));
        }
        if phone.is_some() {
            // For services without filtered paths, or that read one as the whole attribute: the
            // numbers as read, the one edited, and the other changes as they were.
            let mut whole = whole_values;
            whole.extend(precise.iter().filter(|op| !op["path"].as_str().is_some_and(|p| p.starts_with("phoneNumbers"))).cloned());
            forms.push(Form::Patch(whole));
        }
        let put_name = (given.is_some() || family.is_some()).then(|| name_value.clone());
        forms.push(Form::Put(Box::new(move |whole: &mut Map<String, Value>| {
            if let Some(name) = put_name {
                attrs::set(whole, "name", name);
            }
            if !phones_value.is_null() {
                attrs::set(whole, "phoneNumbers", phones_value);
            }
            if let Some(roles) = roles {
                attrs::set(whole, "roles", roles);
            }
        })));
        let asked_phone = phone.map(|p| (p, others.as_slice()));
        let applied = self.apply(&discovery, Kind::User, &path, &current, forms, |after| {
            Ok(not_shown(after, given, family, asked_phone, role).is_empty())
        })?;
        match applied {
            Applied::Done(after) => Ok(UpdateOutcome::Updated(self.user_resource(&format!("GET {path}"), &after)?.0)),
            Applied::NotApplied { after, tried, .. } => Err(unverified(format!(
                "{} was accepted, but user {user_id} read back shows {}",
                tried.join(", "),
                not_shown(&after, given, family, asked_phone, role).join(", ")
            ))),
        }
    }

    fn set_account_enabled(&self, user_id: &str, enabled: bool) -> Result<ActivationOutcome> {
        ids::require_id(user_id, "user id")?;
        let discovery = self.discover()?;
        let current = self.existing_user(user_id)?;
        let path = resource_path("Users", user_id);
        let (resource, _) = self.user_resource(&format!("GET {path}"), &current)?;
        let active = |user: &Value| Obj::of(user).and_then(|u| u.bool("active")).unwrap_or(true);
        if active(&current) == enabled {
            let change = if enabled { ActivationChange::AlreadyEnabled } else { ActivationChange::AlreadyDisabled };
            return Ok(ActivationOutcome { change, user: resource });
        }
        if let Some(why) = discovery.schemas.unchangeable(Kind::User, "active") {
            return Err(invalid(format!("cannot {} user {user_id}: {why}", if enabled { "enable" } else { "disable" })));
        }
        let forms = patch_or_put(vec![json!({"op": "replace", "path": "active", "value": enabled})], move |whole| {
            attrs::set(whole, "active", json!(enabled))
        });
        match self.apply(&discovery, Kind::User, &path, &current, forms, |after| Ok(active(after) == enabled))? {
            Applied::Done(after) => {
                let change = if enabled { ActivationChange::Enabled } else { ActivationChange::Disabled };
                Ok(ActivationOutcome { change, user: self.user_resource(&format!("GET {path}"), &after)?.0 })
            }
            Applied::NotApplied { tried, .. } => Err(unverified(format!(
                "{} was accepted, but user {user_id} is still {} when read back",
                tried.join(", "),
                if enabled { "disabled" } else { "enabled" }
            ))),
        }
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

    /// No `/Schemas`: RFC 7643's schema is assumed.
    const NO_SCHEMAS: (u16, &str) = (404, "");
    const STRICT_SCHEMAS: &str = r#"{"Resources": [{"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": [
        {"name": "userName", "mutability": "immutable"},
        {"name": "name", "subAttributes": [{"name": "formatted", "required": true}, {"name": "givenName"}, {"name": "familyName"}]},
        {"name": "emails", "subAttributes": [{"name": "value", "required": true}]},
        {"name": "phoneNumbers", "subAttributes": [{"name": "value"}]},
        {"name": "active"}]}]}"#;

    fn body_of(seen: &str) -> Value {
        serde_json::from_str(seen.splitn(3, ' ').nth(2).unwrap()).unwrap()
    }

    #[test]
    fn a_create_looks_up_the_user_name_first_in_any_case() {
        let found = r#"{"totalResults": 1, "Resources": [{"id": "u1", "userName": "ANN@example.com"}]}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, found)]);
        let outcome = client(&canned, "https://scim.example").provision_account(&account("ann@example.com", None)).unwrap();
        assert!(matches!(outcome, CreateOutcome::AlreadyExists(user) if user.id == "u1"));
        assert_eq!(
            canned.seen.borrow()[2],
            "GET https://scim.example/Users?startIndex=1&count=100&filter=userName%20eq%20%22ann%40example.com%22"
        );
    }

    #[test]
    fn a_service_that_ignores_the_filter_is_read_through() {
        let everyone = r#"{"totalResults": 2, "Resources": [{"id": "u1", "userName": "zed@example.com"}, {"id": "u2", "userName": "ann@example.com"}]}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, everyone)]);
        let outcome = client(&canned, "https://scim.example").provision_account(&account("ann@example.com", None)).unwrap();
        assert!(matches!(outcome, CreateOutcome::AlreadyExists(user) if user.id == "u2"));
    }

    #[test]
    fn a_create_sends_a_scim_user_reads_it_back_and_a_409_adopts_the_existing_one() {
        let created = r#"{"id": "u2", "userName": "bo@example.com", "name": {"givenName": "Ann", "familyName": "Lee"}, "roles": [{"value": "Admin"}]}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, EMPTY), (201, created), (200, created)]);
        let outcome = client(&canned, "https://scim.example").provision_account(&account("bo@example.com", Some("Admin"))).unwrap();
        assert!(matches!(outcome, CreateOutcome::Created(user) if user.id == "u2"));
        let seen = canned.seen.borrow();
        assert!(seen[3].starts_with("POST https://scim.example/Users {"), "{}", seen[3]);
        let body = body_of(&seen[3]);
        assert_eq!(body["schemas"], json!([USER_SCHEMA]));
        assert_eq!(body["active"], json!(true), "a real boolean");
        assert_eq!(body["name"]["formatted"], json!("Ann Lee"));
        assert_eq!(body["roles"], json!([{"value": "Admin", "primary": true}]));
        assert_eq!(seen[4], "GET https://scim.example/Users/u2", "read back");

        let canned = Canned::new(&[
            (200, NO_PATCH),
            NO_SCHEMAS,
            (200, EMPTY),
            (409, r#"{"status": "409", "scimType": "uniqueness"}"#),
            (200, r#"{"Resources": [{"id": "u3", "userName": "BO@example.com"}]}"#),
        ]);
        let outcome = client(&canned, "https://scim.example").provision_account(&account("bo@example.com", None)).unwrap();
        assert!(matches!(outcome, CreateOutcome::AlreadyExists(user) if user.id == "u3"));
    }

    #[test]
    fn a_create_follows_a_strict_schema_and_a_create_not_read_back_is_unverified() {
        let created = r#"{"id": "u2", "userName": "bo@example.com"}"#;
        let canned = Canned::new(&[(200, SPC), (200, STRICT_SCHEMAS), (200, EMPTY), (201, created), (404, "")]);
        let mut new = account("bo@example.com", None);
        new.phone = Some("+1 555 0100".into());
        let error = client(&canned, "https://scim.example").provision_account(&new).unwrap_err();
        assert!(matches!(&error, ConnectorError::Upstream { code: Some(c), .. } if c == "Unverified"), "{error:?}");
        let body = body_of(&canned.seen.borrow()[3]);
        assert_eq!(body["name"], json!({"givenName": "Ann", "familyName": "Lee", "formatted": "Ann Lee"}));
        assert_eq!(body["emails"], json!([{"value": "bo@example.com"}]), "no type or primary: the schema declares neither");
        assert_eq!(body["phoneNumbers"], json!([{"value": "+1 555 0100"}]));
        assert!(body.get("roles").is_none());

        let canned = Canned::new(&[(200, SPC), (200, STRICT_SCHEMAS)]);
        let error = client(&canned, "https://scim.example").provision_account(&account("bo@example.com", Some("Admin"))).unwrap_err();
        assert!(matches!(&error, ConnectorError::InvalidArgument(m) if m.contains("no roles attribute")), "{error:?}");
        assert_eq!(canned.seen.borrow().len(), 2, "refused before anything else was sent");
    }

    #[test]
    fn fivetran_refuses_a_destination_role_before_sending() {
        let canned = Canned::new(&[(200, "{}"), NO_SCHEMAS]);
        let error =
            client(&canned, "https://api.fivetran.com/scim/v2").provision_account(&account("a@b.co", Some("Destination Administrator")));
        assert!(matches!(&error, Err(ConnectorError::InvalidArgument(m)) if m.contains("account role")), "{error:?}");
        assert_eq!(canned.seen.borrow().len(), 2, "only the configuration and schemas were read");
    }

    #[test]
    fn an_update_patches_only_what_differs_and_reads_back() {
        const UPDATED: &str = r#"{"id": "u1", "userName": "Ann@Example.com", "name": {"givenName": "Ann", "familyName": "Smith"}, "roles": [{"value": "Account Reviewer", "primary": true}]}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, ANN), (204, ""), (200, UPDATED)]);
        let changes = AccountChanges {
            given_name: Some("Ann".into()),
            family_name: Some("Smith".into()),
            account_role: Some("Account Reviewer".into()),
            phone: None,
        };
        assert!(matches!(client(&canned, "https://s.example").update_account("u1", &changes), Ok(UpdateOutcome::Updated(_))));
        let seen = canned.seen.borrow();
        assert_eq!(
            seen[3],
            r#"PATCH https://s.example/Users/u1 {"Operations":[{"op":"replace","path":"name.familyName","value":"Smith"},{"op":"replace","path":"name.formatted","value":"Ann Smith"},{"op":"replace","path":"roles","value":[{"primary":true,"value":"Account Reviewer"}]}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#
        );
        assert_eq!(seen[4], "GET https://s.example/Users/u1");
    }

    #[test]
    fn a_phone_change_replaces_the_work_number_and_keeps_the_others() {
        const PHONES: &str = r#"{"id": "u1", "phoneNumbers": [{"value": "+1 555 0199", "type": "mobile", "primary": true}, {"value": "+1 555 0100", "type": "work"}]}"#;
        const AFTER: &str = r#"{"id": "u1", "phoneNumbers": [{"value": "+1 555 0199", "type": "mobile", "primary": true}, {"value": "+1 555 0111", "type": "work"}]}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, PHONES), (200, AFTER), (200, AFTER)]);
        let changes = AccountChanges { phone: Some("+1 555 0111".into()), ..AccountChanges::default() };
        assert!(matches!(client(&canned, "https://s.example").update_account("u1", &changes), Ok(UpdateOutcome::Updated(_))));
        assert_eq!(
            canned.seen.borrow()[3],
            r#"PATCH https://s.example/Users/u1 {"Operations":[{"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0111"}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#
        );

        // A service that replaced every number instead: the read-back says so, and the whole
        // list, edited as read, is sent next.
        const WIPED: &str = r#"{"id": "u1", "phoneNumbers": [{"value": "+1 555 0111"}]}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, PHONES), (200, WIPED), (200, WIPED), (200, AFTER), (200, AFTER)]);
        assert!(client(&canned, "https://s.example").update_account("u1", &changes).is_ok());
        let seen = canned.seen.borrow();
        assert_eq!(
            seen[5],
            r#"PATCH https://s.example/Users/u1 {"Operations":[{"op":"replace","path":"phoneNumbers","value":[{"primary":true,"type":"mobile","value":"+1 555 0199"},{"type":"work","value":"+1 555 0111"}]}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}"#
        );
    }

    #[test]
    fn an_update_the_read_back_does_not_show_is_unverified() {
        let canned =
            Canned::new(&[(200, SPC), NO_SCHEMAS, (200, ANN), (200, ANN), (200, ANN), (200, ANN), (200, ANN), (200, ANN), (200, ANN)]);
        let changes = AccountChanges { family_name: Some("Smith".into()), ..AccountChanges::default() };
        let error = client(&canned, "https://s.example").update_account("u1", &changes).unwrap_err();
        match error {
            ConnectorError::Upstream { code: Some(code), message, .. } => {
                assert_eq!(code, "Unverified");
                assert!(message.contains(r#"family name "Lee" (asked "Smith")"#), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let methods: Vec<String> = canned.seen.borrow().iter().map(|s| s.split(' ').next().unwrap().to_owned()).collect();
        assert_eq!(methods, ["GET", "GET", "GET", "PATCH", "GET", "PATCH", "GET", "PUT", "GET"], "every form, each read back");
    }

    #[test]
    fn a_patch_the_service_cannot_follow_becomes_a_put_and_an_immutable_attribute_is_refused() {
        const RENAMED: &str = r#"{"id": "u1", "name": {"givenName": "Ann", "familyName": "Smith"}}"#;
        let not_implemented = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": 501}"#;
        let canned = Canned::new(&[
            (200, SPC),
            NO_SCHEMAS,
            (200, ANN),
            (501, not_implemented),
            (501, not_implemented),
            (200, RENAMED),
            (200, RENAMED),
        ]);
        let changes = AccountChanges { family_name: Some("Smith".into()), ..AccountChanges::default() };
        assert!(client(&canned, "https://s.example").update_account("u1", &changes).is_ok());
        let put = canned.seen.borrow()[5].clone();
        assert!(
            put.starts_with("PUT https://s.example/Users/u1 ") && put.contains(r#""familyName":"Smith""#) && !put.contains("meta"),
            "{put}"
        );

        let immutable =
            r#"[{"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": [{"name": "active", "mutability": "readOnly"}]}]"#;
        let canned = Canned::new(&[(200, SPC), (200, immutable), (200, ANN)]);
        let error = client(&canned, "https://s.example").set_account_enabled("u1", false).unwrap_err();
        assert!(matches!(&error, ConnectorError::InvalidArgument(m) if m.contains("active read-only")), "{error:?}");
        assert_eq!(canned.seen.borrow().len(), 3, "nothing sent");
    }

    #[test]
    fn without_patch_a_change_is_a_put_of_the_whole_user_without_meta() {
        const DISABLED: &str = r#"{"id": "u1", "active": false}"#;
        let canned = Canned::new(&[(200, NO_PATCH), NO_SCHEMAS, (200, ANN), (200, ANN), (200, DISABLED)]);
        let outcome = client(&canned, "https://s.example").set_account_enabled("u1", false).unwrap();
        assert_eq!(outcome.change, ActivationChange::Disabled);
        let put = canned.seen.borrow()[3].clone();
        assert!(put.starts_with("PUT https://s.example/Users/u1 "), "{put}");
        assert!(put.contains(r#""active":false"#) && !put.contains("meta"), "{put}");
    }

    #[test]
    fn disabling_a_disabled_user_sends_nothing() {
        let disabled = r#"{"id": "u1", "active": "False"}"#;
        let canned = Canned::new(&[(200, SPC), NO_SCHEMAS, (200, disabled)]);
        let outcome = client(&canned, "https://s.example").set_account_enabled("u1", false).unwrap();
        assert_eq!(outcome.change, ActivationChange::AlreadyDisabled);
        assert_eq!(canned.seen.borrow().len(), 3);
    }

    #[test]
    fn a_delete_is_read_back_and_a_404_is_checked_against_the_collection() {
        let canned = Canned::new(&[(200, ANN), (204, ""), (404, "")]);
        assert_eq!(client(&canned, "https://s.example").deprovision_account("u1").unwrap(), DeleteOutcome::Deleted);
        let canned = Canned::new(&[(200, ANN), (204, ""), (200, ANN)]);
        let error = client(&canned, "https://s.example").deprovision_account("u1").unwrap_err();
        assert!(matches!(&error, ConnectorError::Upstream { code: Some(c), .. } if c == "Unverified"), "{error:?}");
        let canned = Canned::new(&[(200, ANN), (500, "<html>oops</html>"), (404, "")]);
        assert_eq!(client(&canned, "https://s.example").deprovision_account("u1").unwrap(), DeleteOutcome::Deleted, "a 500 after the fact");
        let canned = Canned::new(&[(200, ANN), (503, ""), (200, ANN)]);
        assert!(matches!(
            client(&canned, "https://s.example").deprovision_account("u1"),
            Err(ConnectorError::Upstream { status: Some(503), .. })
        ));
        let canned = Canned::new(&[(404, ""), (200, EMPTY)]);
        assert_eq!(client(&canned, "https://s.example").deprovision_account("u1").unwrap(), DeleteOutcome::NotFound);
        let canned = Canned::new(&[(404, ""), (404, "")]);
        let error = client(&canned, "https://s.example/wrong").deprovision_account("u1").unwrap_err();
        assert!(matches!(&error, ConnectorError::InvalidArgument(m) if m.contains("SCIM root")), "{error:?}");
    }

    #[test]
    fn a_new_account_role_replaces_the_old_and_keeps_the_others_whole() {
        let user = json!({"roles": [{"value": "A", "primary": true}, {"value": "X", "display": "Auditor", "type": "app"}, {"value": "Y", "primary": true, "display": "Why"}]});
        let held = mapping::roles(Obj::of(&user).unwrap(), &mut Vec::new());
        let (roles, previous) = with_account_role(&Discovery::assumed("https://s.example"), &user, &held, "B");
        assert_eq!(
            roles,
            json!([{"value": "X", "display": "Auditor", "type": "app"}, {"value": "Y", "primary": false, "display": "Why"}, {"value": "B", "primary": true}])
        );
        assert_eq!(previous.as_deref(), Some("A"));
    }
}
