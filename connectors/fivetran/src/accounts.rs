//! User accounts as the REST API keeps them: invite (provision) and delete users, update their
//! names, phone and account role. Disabling users is SCIM's alone.
//!
//! Every change validates its input before it sends anything, and reads before it writes, so that
//! running it twice changes nothing the second time; its outcome is what a read afterwards shows.

use connector_sdk::AccountManager;
use serde_json::{Map, Value, json};

use crate::api;
use crate::changes::{ACCOUNT, check_id, check_name, check_new_account, check_phone, differing, invalid, not_shown, unverified};
use crate::connector::{Connector, Step};
use crate::mapping;
use crate::model::{
    AccountChanges, ActivationOutcome, ConnectorError, CreateOutcome, DeleteOutcome, KeyKind, NewAccount, Resource, Result, UpdateOutcome,
};
use crate::transport::{Transport, encode};

/// What to do instead of disabling a user through the REST API.
pub const NO_DEACTIVATION: &str = "the Fivetran REST API cannot deactivate or reactivate users; use the scim connector with the account's SCIM token (--connector scim --base-url https://api.fivetran.com/scim/v2), or deprovision to delete the user";

impl<T: Transport> AccountManager for Connector<'_, T> {
    /// Invites a user, or finds the one that has this email already.
    fn provision_account(&self, account: &NewAccount) -> Result<CreateOutcome> {
        check_new_account(account)?;
        let email = account.email.trim();
        if let Some(role) = &account.account_role {
            self.require_role(role, ACCOUNT)?;
        }
        if let Some(existing) = self.find_user_by_email(email)? {
            return Ok(CreateOutcome::AlreadyExists(existing));
        }
        let mut body = json!({
            "email": email,
            "given_name": account.given_name.trim(),
            "family_name": account.family_name.trim(),
        });
        if let Some(role) = &account.account_role {
            body["role"] = json!(role);
        }
        if let Some(phone) = &account.phone {
            body["phone"] = json!(phone);
        }
        let (endpoint, response) = self.send("POST", "/v1/users".into(), Some(body))?;
        if response.status == 409 {
            // Invited by someone else since we looked.
            return match self.find_user_by_email(email)? {
                Some(existing) => Ok(CreateOutcome::AlreadyExists(existing)),
                None => Err(ConnectorError::Conflict(format!("{endpoint} answered 409 for {email}, but no user has that email"))),
            };
        }
        let user: api::User = api::decode_data(&endpoint, &response)?;
        let created = self.read("POST /v1/users", &endpoint, |notes| mapping::user_resource(0, &user, notes))?;
        // What the account holds now, not what the answer to the POST said.
        let path = format!("/v1/users/{}", encode(&created.id));
        let (read, answer) = self.send("GET", path.clone(), None)?;
        if answer.status == 404 {
            return Err(unverified(format!("{endpoint} answered {}, but user {} cannot be read back", response.status, created.id)));
        }
        let stored: api::User = api::decode_data(&read, &answer)?;
        if !stored.email.trimmed().is_some_and(|e| e.eq_ignore_ascii_case(email)) {
            return Err(unverified(format!(
                "{endpoint} answered {}, but user {} read back has another email",
                response.status, created.id
            )));
        }
        let created = self.read("GET /v1/users/{id}", &format!("GET {path}"), |notes| mapping::user_resource(0, &stored, notes))?;
        Ok(CreateOutcome::Created(created))
    }

    /// Deletes a user; refuses the user behind the API key.
    fn deprovision_account(&self, user_id: &str) -> Result<DeleteOutcome> {
        check_id(user_id, "user id")?;
        let info = self.account_info()?;
        if info.key_kind == KeyKind::User && info.key_owner.as_deref() == Some(user_id) {
            return Err(invalid(format!(
                "refusing to delete user {user_id}: it owns the API key in use; delete it with another administrator's key"
            )));
        }
        self.delete_confirmed(&format!("/v1/users/{}", encode(user_id)), "/v1/users")
    }

    fn update_account(&self, user_id: &str, changes: &AccountChanges) -> Result<UpdateOutcome> {
        check_id(user_id, "user id")?;
        if changes.is_empty() {
            return Err(invalid("nothing to change: give a given name, family name, phone or role".into()));
        }
        if let Some(given) = &changes.given_name {
            check_name(given, "given name")?;
        }
        if let Some(family) = &changes.family_name {
            check_name(family, "family name")?;
        }
        if let Some(phone) = &changes.phone {
            check_phone(phone)?;
        }
        if let Some(role) = &changes.account_role {
            self.require_role(role, ACCOUNT)?;
        }
        let path = format!("/v1/users/{}", encode(user_id));
        let (endpoint, response) = self.user(&path, user_id)?;
        let current: api::User = api::decode_data(&endpoint, &response)?;
        let mut body = Map::new();
        differing(&mut body, "given_name", changes.given_name.as_deref(), current.given_name.as_deref());
        differing(&mut body, "family_name", changes.family_name.as_deref(), current.family_name.as_deref());
        differing(&mut body, "phone", changes.phone.as_deref(), current.phone.as_deref());
        differing(&mut body, "role", changes.account_role.as_deref(), current.role.exact_trimmed());
        if body.is_empty() {
            let resource = self.read("GET /v1/users/{id}", &endpoint, |notes| mapping::user_resource(0, &current, notes))?;
            return Ok(UpdateOutcome::Unchanged(resource));
        }
        let (endpoint, response) = self.send("PATCH", path.clone(), Some(Value::Object(body.clone())))?;
        api::check_status(&endpoint, &response)?;
        // Read back rather than trust the PATCH answer: what sync would see now.
        let (read, answer) = self.user(&path, user_id)?;
        let user: api::User = api::decode_data(&read, &answer)?;
        let now = [
            ("given_name", user.given_name.as_deref().map(str::trim)),
            ("family_name", user.family_name.as_deref().map(str::trim)),
            ("phone", user.phone.as_deref().map(str::trim)),
            ("role", user.role.exact_trimmed()),
        ];
        let missing = not_shown(&body, &now);
        if !missing.is_empty() {
            return Err(unverified(format!("{endpoint} was accepted, but user {user_id} read back shows {}", missing.join(", "))));
        }
        let resource = self.read("GET /v1/users/{id}", &read, |notes| mapping::user_resource(0, &user, notes))?;
        Ok(UpdateOutcome::Updated(resource))
    }

    fn set_account_enabled(&self, _user_id: &str, _enabled: bool) -> Result<ActivationOutcome> {
        Err(ConnectorError::Unsupported(NO_DEACTIVATION.into()))
    }
}

impl<T: Transport> Connector<'_, T> {
    /// The user with this email, as a resource; the pages after it are not read.
    pub(crate) fn find_user_by_email(&self, email: &str) -> Result<Option<Resource>> {
        self.walk_pages("/v1/users", |endpoint, response| {
            let (users, next) = api::decode_list::<api::User>(endpoint, response)?;
            let found = users.iter().enumerate().find(|(_, u)| u.email.trimmed().is_some_and(|e| e.eq_ignore_ascii_case(email)));
            let found = match found {
                Some((index, user)) => Some(self.read("GET /v1/users", endpoint, |notes| mapping::user_resource(index, user, notes))?),
                None => None,
            };
            Ok(Step { found, next, items: users.len() })
        })
    }

    /// `GET /v1/users/{id}`; an unknown user is the caller's mistake.
    pub(crate) fn user(&self, path: &str, user_id: &str) -> Result<(String, crate::transport::ApiResponse)> {
        let (endpoint, response) = self.send("GET", path.to_owned(), None)?;
        if response.status == 404 {
            return Err(ConnectorError::NotFound(format!("no user {user_id} in the account; check the id (sync lists them)")));
        }
        Ok((endpoint, response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use crate::testing::Canned;

    const NO_USERS: &str = r#"{"data":{"items":[]}}"#;
    const ANN: &str = r#"{"data":{"items":[{"id":"u9","email":"Ann@Example.com","active":true,"invited":true}]}}"#;

    fn connector(canned: &Canned) -> Connector<'_, Canned> {
        Connector::new(canned, Config { base_url: "https://api.example".into(), page_size: 1000 })
    }

    #[test]
    fn a_409_means_someone_invited_the_user_since_we_looked() {
        let canned = Canned::new(&[(200, NO_USERS), (409, r#"{"code":"Conflict"}"#), (200, ANN)]);
        let outcome = connector(&canned).provision_account(&NewAccount {
            email: "ann@example.com".into(),
            given_name: "Ann".into(),
            family_name: "Lee".into(),
            account_role: None,
            phone: None,
        });
        match outcome {
            Ok(CreateOutcome::AlreadyExists(user)) => assert_eq!(user.id, "u9"),
            other => panic!("unexpected {other:?}"),
        }
        let seen = canned.seen.borrow();
        assert!(seen[1].starts_with("POST https://api.example/v1/users {"), "{}", seen[1]);
        assert!(seen[1].contains(r#""email":"ann@example.com""#));
    }

    #[test]
    fn an_invite_sends_only_what_was_given() {
        const CREATED: &str = r#"{"data":{"id":"u1","email":"a@b.co","active":true}}"#;
        let canned = Canned::new(&[(200, NO_USERS), (201, CREATED), (200, CREATED)]);
        let account =
            NewAccount { email: " a@b.co ".into(), given_name: "A".into(), family_name: "B".into(), account_role: None, phone: None };
        assert!(matches!(connector(&canned).provision_account(&account), Ok(CreateOutcome::Created(_))));
        let seen = canned.seen.borrow();
        assert_eq!(seen[1], r#"POST https://api.example/v1/users {"email":"a@b.co","family_name":"B","given_name":"A"}"#);
        assert_eq!(seen[2], "GET https://api.example/v1/users/u1", "read back");
    }
}
