//! Changing access: grant and revoke every entitlement the sync reports (account roles, team
//! membership, destination access).
//!
//! Every operation validates its input before it sends anything, and reads before it writes, so
//! that running it twice changes nothing the second time: the host may retry an operation whose
//! answer was lost without granting or revoking twice.

use connector_sdk::GrantManager;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api;
use crate::changes::{ACCOUNT, invalid, unverified};
use crate::connector::Connector;
use crate::ids::{self, Target};
use crate::mapping;
use crate::model::{
    ConnectorError, DeleteOutcome, Grant, GrantChange, GrantOutcome, ResourceRef, Result, RevokeChange, RevokeOutcome, TEAM, USER,
};
use crate::transport::{Transport, encode};

const TEAM_MEMBER: &str = "Team Member";
const TEAM_MANAGER: &str = "Team Manager";
const DESTINATION: &str = "DESTINATION";

impl<T: Transport> Connector<'_, T> {
    /// DELETE `path`: `deleted` once a read finds it gone; `not_found` when the API says so and
    /// its `collection` answers (a 404 from a wrong base URL says nothing about the resource).
    pub(crate) fn delete_confirmed(&self, path: &str, collection: &str) -> Result<DeleteOutcome> {
        let (endpoint, response) = self.send("DELETE", path.to_owned(), None)?;
        if response.status == 404 {
            let (listing, answer) = self.send("GET", format!("{collection}?limit=1"), None)?;
            api::check_status(&listing, &answer)?;
            return Ok(DeleteOutcome::NotFound);
        }
        api::check_status(&endpoint, &response)?;
        let (read, answer) = self.send("GET", path.to_owned(), None)?;
        match answer.status {
            404 => Ok(DeleteOutcome::Deleted),
            _ => {
                api::check_status(&read, &answer)?;
                Err(unverified(format!("{endpoint} answered {}, but {read} still finds it", response.status)))
            }
        }
    }

    fn grant_account_role(&self, role: &str, principal: &ResourceRef) -> Result<(GrantChange, Option<String>)> {
        self.require_role(role, ACCOUNT)?;
        let path = principal_path(principal);
        let current = self.current_account_role(principal)?;
        if current.as_deref() == Some(role) {
            return Ok((GrantChange::AlreadyHeld, None));
        }
        self.write("PATCH", path.clone(), json!({"role": role}))?;
        let now = self.current_account_role(principal)?;
        if now.as_deref() != Some(role) {
            return Err(unverified(format!(
                "PATCH {path} was accepted, but {} {}'s account role is {} when read back, not {role:?}",
                principal.resource_type,
                principal.id,
                now.map_or("none".to_owned(), |r| format!("{r:?}"))
            )));
        }
        Ok(match current {
            Some(old) => (GrantChange::Updated, Some(ids::grant_id(&Target::AccountRole { role: old }, principal))),
            None => (GrantChange::Granted, None),
        })
    }

    fn revoke_account_role(&self, role: &str, principal: &ResourceRef) -> Result<bool> {
        let current = match self.current_account_role(principal) {
            Err(ConnectorError::NotFound(_)) => return Ok(false),
            other => other?,
        };
        if current.as_deref() != Some(role) {
            return Ok(false);
        }
        self.write("DELETE", format!("{}/role", principal_path(principal)), Value::Null)?;
        if self.current_account_role(principal)?.as_deref() == Some(role) {
            return Err(unverified(format!(
                "DELETE {}/role was accepted, but {} {} still holds {role:?} when read back",
                principal_path(principal),
                principal.resource_type,
                principal.id
            )));
        }
        Ok(true)
    }

    /// A user's or a team's account role; `not-found` when the principal does not exist.
    fn current_account_role(&self, principal: &ResourceRef) -> Result<Option<String>> {
        let path = principal_path(principal);
        // Compared as sync reports it: trimmed, a blank role being none.
        Ok(if principal.resource_type == USER {
            let (endpoint, response) = self.send("GET", path, None)?;
            api::decode_data::<api::User>(&endpoint, &response)?.role.exact_trimmed().map(str::to_owned)
        } else {
            self.get_data::<api::Team>(&path)?.role.exact_trimmed().map(str::to_owned)
        })
    }

    fn grant_team_membership(&self, team: &str, manager: bool, user: &str) -> Result<(GrantChange, Option<String>)> {
        let role = if manager { TEAM_MANAGER } else { TEAM_MEMBER };
        let path = format!("/v1/teams/{}/users", encode(team));
        let member_path = format!("{path}/{}", encode(user));
        let outcome = match self.get_optional::<api::TeamMembership>(&member_path)? {
            None => {
                self.write("POST", path, json!({"user_id": user, "role": role}))?;
                (GrantChange::Granted, None)
            }
            Some(current) if current.role.exact_trimmed() == Some(role) => return Ok((GrantChange::AlreadyHeld, None)),
            Some(current) => {
                self.write("PATCH", member_path.clone(), json!({"role": role}))?;
                let old = Target::TeamMembership { team: team.into(), manager: current.role.exact_trimmed() == Some(TEAM_MANAGER) };
                (GrantChange::Updated, Some(ids::grant_id(&old, &ResourceRef::new(USER, user))))
            }
        };
        let now = self.get_optional::<api::TeamMembership>(&member_path)?;
        if now.as_ref().and_then(|m| m.role.exact_trimmed()) != Some(role) {
            return Err(unverified(format!(
                "the change was accepted, but team {team} shows user {user} {} when read back",
                now.and_then(|m| m.role.exact_trimmed().map(|r| format!("as {r:?}"))).unwrap_or_else(|| "as no member".into())
            )));
        }
        Ok(outcome)
    }

    fn revoke_team_membership(&self, team: &str, manager: bool, user: &str) -> Result<bool> {
        let member_path = format!("/v1/teams/{}/users/{}", encode(team), encode(user));
        let Some(current) = self.get_optional::<api::TeamMembership>(&member_path)? else { return Ok(false) };
        if (current.role.exact_trimmed() == Some(TEAM_MANAGER)) != manager {
            return Ok(false);
        }
        self.write("DELETE", member_path.clone(), Value::Null)?;
        if self.get_optional::<api::TeamMembership>(&member_path)?.is_some() {
            return Err(unverified(format!("DELETE {member_path} was accepted, but team {team} still lists user {user} when read back")));
        }
        Ok(true)
    }

    fn grant_group_access(&self, group: &str, role: &str, principal: &ResourceRef) -> Result<(GrantChange, Option<String>)> {
        self.require_role(role, DESTINATION)?;
        let path = format!("{}/groups", principal_path(principal));
        let membership_path = format!("{path}/{}", encode(group));
        let outcome = match self.get_optional::<api::Membership>(&membership_path)? {
            None => {
                self.write("POST", path, json!({"id": group, "role": role}))?;
                (GrantChange::Granted, None)
            }
            Some(current) if current.role.exact_trimmed() == Some(role) => return Ok((GrantChange::AlreadyHeld, None)),
            Some(current) => {
                self.write("PATCH", membership_path.clone(), json!({"role": role}))?;
                let replaced = current
                    .role
                    .exact_trimmed()
                    .map(|old| ids::grant_id(&Target::GroupAccess { group: group.into(), role: old.to_owned() }, principal));
                (if replaced.is_some() { GrantChange::Updated } else { GrantChange::Granted }, replaced)
            }
        };
        let now = self.get_optional::<api::Membership>(&membership_path)?;
        if now.as_ref().and_then(|m| m.role.exact_trimmed()) != Some(role) {
            return Err(unverified(format!(
                "the change was accepted, but {} {} holds {} on destination {group} when read back",
                principal.resource_type,
                principal.id,
                now.and_then(|m| m.role.exact_trimmed().map(|r| format!("{r:?}"))).unwrap_or_else(|| "no role".into())
            )));
        }
        Ok(outcome)
    }

    fn revoke_group_access(&self, group: &str, role: &str, principal: &ResourceRef) -> Result<bool> {
        let membership_path = format!("{}/groups/{}", principal_path(principal), encode(group));
        let Some(current) = self.get_optional::<api::Membership>(&membership_path)? else { return Ok(false) };
        if current.role.exact_trimmed() != Some(role) {
            return Ok(false);
        }
        self.write("DELETE", membership_path.clone(), Value::Null)?;
        if self.get_optional::<api::Membership>(&membership_path)?.is_some() {
            return Err(unverified(format!(
                "DELETE {membership_path} was accepted, but {} {} still holds access to destination {group} when read back",
                principal.resource_type, principal.id
            )));
        }
        Ok(true)
    }

    /// A change request; `Value::Null` sends no body.
    fn write(&self, method: &'static str, path: String, body: Value) -> Result<()> {
        let body = (!body.is_null()).then_some(body);
        let (endpoint, response) = self.send(method, path, body)?;
        api::check_status(&endpoint, &response)
    }

    /// The `data` of a single-object answer, or none on 404.
    pub(crate) fn get_optional<D: DeserializeOwned>(&self, path: &str) -> Result<Option<D>> {
        let (endpoint, response) = self.send("GET", path.to_owned(), None)?;
        if response.status == 404 {
            return Ok(None);
        }
        api::decode_data(&endpoint, &response).map(Some)
    }

    /// Refuses a role `/v1/roles` does not list, or lists for another scope.
    pub(crate) fn require_role(&self, role: &str, scope: &str) -> Result<()> {
        let roles: Vec<api::Role> = self.list_all("/v1/roles")?;
        let fits = |r: &api::Role| r.scope.get().is_some_and(|scopes| scopes.iter().any(|s| s.eq_ignore_ascii_case(scope)));
        match roles.iter().find(|r| r.name.as_deref() == Some(role)) {
            Some(r) if fits(r) => Ok(()),
            Some(r) => Err(invalid(format!(
                "role {role:?} is a {} role, not {} {scope} role; choose one of: {}",
                r.scope.get().map(|s| s.join("/")).unwrap_or_else(|| "unscoped".into()),
                if scope == ACCOUNT { "an" } else { "a" },
                names(&roles, fits)
            ))),
            None => {
                let hint = roles
                    .iter()
                    .filter_map(|r| r.name.as_deref())
                    .find(|name| name.eq_ignore_ascii_case(role))
                    .map(|name| format!(" (did you mean {name:?}?)"))
                    .unwrap_or_default();
                Err(invalid(format!("role {role:?} does not exist{hint}; {scope} roles are: {}", names(&roles, fits))))
            }
        }
    }
}

impl<T: Transport> GrantManager for Connector<'_, T> {
    fn grant_entitlement(&self, entitlement: &str, principal: &ResourceRef) -> Result<GrantOutcome> {
        let target = ids::parse_entitlement(entitlement)?;
        target.check_principal(principal)?;
        let grant_id = ids::grant_id(&target, principal);
        let expandable = if principal.resource_type == TEAM { mapping::team_expansion(&principal.id) } else { Vec::new() };
        let grant = Grant::new(&target.entitlement_id(), principal.clone(), expandable);
        debug_assert_eq!(grant.id, grant_id);
        let (change, replaced) = match &target {
            Target::AccountRole { role } => self.grant_account_role(role, principal),
            Target::TeamMembership { team, manager } => self.grant_team_membership(team, *manager, &principal.id),
            Target::GroupAccess { group, role } => self.grant_group_access(group, role, principal),
        }
        .map_err(|error| match error {
            // The entitlement's resource or the principal does not exist: the request is wrong.
            ConnectorError::NotFound(why) => {
                ConnectorError::NotFound(format!("{why}; check the ids in {entitlement} and {}:{}", principal.resource_type, principal.id))
            }
            other => other,
        })?;
        Ok(GrantOutcome { grant, change, replaced })
    }

    fn revoke_grant(&self, grant_id: &str) -> Result<RevokeOutcome> {
        let (target, principal) = ids::parse_grant(grant_id)?;
        let held = match &target {
            Target::AccountRole { role } => self.revoke_account_role(role, &principal)?,
            Target::TeamMembership { team, manager } => self.revoke_team_membership(team, *manager, &principal.id)?,
            Target::GroupAccess { group, role } => self.revoke_group_access(group, role, &principal)?,
        };
        let change = if held { RevokeChange::Revoked } else { RevokeChange::NotHeld };
        Ok(RevokeOutcome { grant: grant_id.to_owned(), change })
    }
}

fn names(roles: &[api::Role], fits: impl Fn(&api::Role) -> bool) -> String {
    let current = |r: &&api::Role| fits(r) && r.is_deprecated.get() != Some(&true);
    let names: Vec<&str> = roles.iter().filter(current).filter_map(|r| r.name.as_deref()).collect();
    names.join(", ")
}

/// `/v1/users/{id}` or `/v1/teams/{id}`.
fn principal_path(principal: &ResourceRef) -> String {
    let collection = if principal.resource_type == TEAM { "teams" } else { "users" };
    format!("/v1/{collection}/{}", encode(&principal.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use crate::testing::Canned;
    use connector_sdk::AccountManager;

    fn connector(canned: &Canned) -> Connector<'_, Canned> {
        Connector::new(canned, Config { base_url: "https://api.example".into(), page_size: 1000 })
    }

    #[test]
    fn roles_the_api_pads_with_blanks_compare_as_sync_reports_them() {
        // Sync reports " Destination Reviewer " as `group:g1:Destination Reviewer`: revoking that
        // grant deletes the membership.
        let canned =
            Canned::new(&[(200, r#"{"data":{"id":"g1","role":" Destination Reviewer "}}"#), (200, r#"{"code":"Success"}"#), (404, "")]);
        let outcome = connector(&canned).revoke_grant("group:g1:Destination Reviewer:user:u1").unwrap();
        assert_eq!(outcome.change, RevokeChange::Revoked);
        assert!(canned.seen.borrow()[1].starts_with("DELETE https://api.example/v1/users/u1/groups/g1"), "{:?}", canned.seen.borrow());
        let canned = Canned::new(&[(200, r#"{"data":{"user_id":"u1","role":"Team Manager\n"}}"#)]);
        let outcome = connector(&canned).grant_entitlement("team:t1:manager", &ResourceRef::new(USER, "u1")).unwrap();
        assert_eq!(outcome.change, GrantChange::AlreadyHeld);
    }

    #[test]
    fn every_id_the_connector_is_given_is_checked_alike() {
        for bad in ["", "u 1", " u1", "u1\t", "a:b", "a/b", "a?b", "a#b", "u\u{7}"] {
            let principal = ResourceRef::new(USER, bad);
            let nothing_sent = Canned::new(&[]);
            let grant = connector(&nothing_sent).grant_entitlement("team:t1:member", &principal);
            assert!(matches!(grant, Err(ConnectorError::InvalidArgument(_))), "grant to {bad:?}: {grant:?}");
            let revoke = connector(&nothing_sent).revoke_grant(&format!("team:t1:member:user:{bad}"));
            assert!(matches!(revoke, Err(ConnectorError::InvalidArgument(_))), "revoke of {bad:?}: {revoke:?}");
            let delete = connector(&nothing_sent).deprovision_account(bad);
            assert!(matches!(delete, Err(ConnectorError::InvalidArgument(_))), "delete of {bad:?}: {delete:?}");
            assert!(nothing_sent.seen.borrow().is_empty(), "{bad:?}");
        }
    }

    #[test]
    fn a_revoke_the_read_back_still_shows_is_unverified_and_a_delete_is_confirmed() {
        let held = r#"{"data":{"user_id":"u1","role":"Team Member"}}"#;
        let canned = Canned::new(&[(200, held), (200, r#"{"code":"Success"}"#), (200, held)]);
        let error = connector(&canned).revoke_grant("team:t1:member:user:u1").unwrap_err();
        assert!(
            matches!(&error, ConnectorError::Upstream { code: Some(c), message, .. } if c == "Unverified" && message.contains("still lists user u1")),
            "{error:?}"
        );

        let account = r#"{"data":{"account_id":"a1","user_id":"u0","system_key_id":null}}"#;
        let canned = Canned::new(&[(200, account), (200, r#"{"code":"Success"}"#), (404, r#"{"code":"NotFound_User"}"#)]);
        assert_eq!(connector(&canned).deprovision_account("u1").unwrap(), DeleteOutcome::Deleted);
        assert_eq!(canned.seen.borrow()[2], "GET https://api.example/v1/users/u1");
        let canned = Canned::new(&[(200, account), (404, "{}"), (404, "not here")]);
        assert!(connector(&canned).deprovision_account("u1").is_err(), "a 404 from a base URL that serves nothing is not an answer");
    }
}
