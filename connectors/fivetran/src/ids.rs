//! Entitlement and grant ids, parsed back into what they name, and checked against what can
//! hold them (`docs/contract.md` section 1).
//!
//! Fivetran ids (users, teams, groups) hold no `:`; role names may hold anything but are never
//! the last segment of a grant id, so ids parse from both ends.

use crate::mapping::{ASSIGNED, MANAGER, MEMBER};
use crate::model::{ConnectorError, GROUP, ROLE, ResourceRef, Result, TEAM, USER, entitlement_id};

/// What an entitlement id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `role:R:assigned`: account role `R`.
    AccountRole { role: String },
    /// `team:T:member` or `team:T:manager`.
    TeamMembership { team: String, manager: bool },
    /// `group:G:R`: destination role `R` on group `G`.
    GroupAccess { group: String, role: String },
}

impl Target {
    pub fn entitlement_id(&self) -> String {
        match self {
            Target::AccountRole { role } => entitlement_id(ROLE, role, ASSIGNED),
            Target::TeamMembership { team, manager } => entitlement_id(TEAM, team, if *manager { MANAGER } else { MEMBER }),
            Target::GroupAccess { group, role } => entitlement_id(GROUP, group, role),
        }
    }

    /// The principal types that can hold it.
    pub fn grantable_to(&self) -> &'static [&'static str] {
        match self {
            Target::AccountRole { .. } | Target::GroupAccess { .. } => &[USER, TEAM],
            Target::TeamMembership { .. } => &[USER],
        }
    }

    /// Refuses a principal type that cannot hold this entitlement.
    pub fn check_principal(&self, principal: &ResourceRef) -> Result<()> {
        if !is_fivetran_id(&principal.id) {
            return Err(invalid(format!("principal id {:?} is not a Fivetran id", principal.id)));
        }
        if self.grantable_to().contains(&principal.resource_type.as_str()) {
            return Ok(());
        }
        Err(invalid(format!(
            "{} cannot be granted to a {}; it can be granted to: {}",
            self.entitlement_id(),
            principal.resource_type,
            self.grantable_to().join(", ")
        )))
    }
}

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidArgument(message)
}

fn plain_id(id: &str, what: &str, whole: &str) -> Result<String> {
    if !is_fivetran_id(id) {
        return Err(invalid(format!("{whole:?} does not name a {what}: {id:?} is not a Fivetran id")));
    }
    Ok(id.to_owned())
}

/// Parses `role:R:assigned`, `team:T:member|manager` or `group:G:R`.
pub fn parse_entitlement(id: &str) -> Result<Target> {
    let shape = "entitlement ids look like role:NAME:assigned, team:TEAM_ID:member, team:TEAM_ID:manager or group:GROUP_ID:ROLE";
    let Some((kind, rest)) = id.split_once(':') else {
        return Err(invalid(format!("{id:?} is not an entitlement id; {shape}")));
    };
    match kind {
        ROLE => {
            let role = rest.strip_suffix(&format!(":{ASSIGNED}")).filter(|r| !r.trim().is_empty());
            role.map(|role| Target::AccountRole { role: role.to_owned() })
                .ok_or_else(|| invalid(format!("{id:?} is not a role entitlement; {shape}")))
        }
        TEAM => {
            let (team, slug) = rest.split_once(':').ok_or_else(|| invalid(format!("{id:?} names no slug; {shape}")))?;
            let manager = match slug {
                MEMBER => false,
                MANAGER => true,
                other => return Err(invalid(format!("a team offers member and manager, not {other:?}"))),
            };
            Ok(Target::TeamMembership { team: plain_id(team, "team", id)?, manager })
        }
        GROUP => {
            let (group, role) = rest.split_once(':').ok_or_else(|| invalid(format!("{id:?} names no role; {shape}")))?;
            if role.trim().is_empty() {
                return Err(invalid(format!("{id:?} names no role; {shape}")));
            }
            Ok(Target::GroupAccess { group: plain_id(group, "group", id)?, role: role.to_owned() })
        }
        USER => Err(invalid(format!("users offer no entitlements; {shape}"))),
        other => Err(invalid(format!("{other:?} is not a resource type of this connector; {shape}"))),
    }
}

/// Parses `{entitlement id}:{principal type}:{principal id}`.
pub fn parse_grant(id: &str) -> Result<(Target, ResourceRef)> {
    let shape = "grant ids look like ENTITLEMENT_ID:user:USER_ID or ENTITLEMENT_ID:team:TEAM_ID";
    let mut parts = id.rsplitn(3, ':');
    let (Some(principal_id), Some(principal_type), Some(entitlement)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(format!("{id:?} is not a grant id; {shape}")));
    };
    if ![USER, TEAM].contains(&principal_type) {
        return Err(invalid(format!("{id:?} is not a grant id; {shape}")));
    }
    let target = parse_entitlement(entitlement)?;
    let principal = ResourceRef::new(principal_type, &plain_id(principal_id, principal_type, id)?);
    target.check_principal(&principal)?;
    Ok((target, principal))
}

/// The id of the grant of `target` to `principal`.
pub fn grant_id(target: &Target, principal: &ResourceRef) -> String {
    crate::model::grant_id(&target.entitlement_id(), principal)
}

/// Whether `id` can be a Fivetran user, team or group id: the one id grammar, for every id the
/// connector reads from the API and every id it is given. Real ids are short words of letters,
/// digits and `_`; what is refused is what would change a request's path or an id's parse: `:`
/// (the `type:id:slug` separator), `/`, `\\`, `?`, `#` and `%`, the dot segments `.` and `..`
/// (a server normalises `/v1/groups/../users` into `/v1/users`), blanks and control characters,
/// the empty id and ids over 256 bytes.
pub fn is_fivetran_id(id: &str) -> bool {
    check_api_id(id).is_ok()
}

/// [`is_fivetran_id`], saying what is wrong.
pub fn check_api_id(id: &str) -> std::result::Result<(), String> {
    if id.is_empty() {
        return Err("is empty".into());
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!("is {} bytes long, more than {MAX_ID_BYTES}", id.len()));
    }
    if id == "." || id == ".." {
        return Err(format!("{id:?} is a dot segment, which a server would read as a path step"));
    }
    match id.chars().find(|&c| matches!(c, ':' | '/' | '\\' | '?' | '#' | '%') || c.is_whitespace() || c.is_control()) {
        Some(c) => Err(format!("{:?} holds {c:?}, which no Fivetran id has", shown(id))),
        None => Ok(()),
    }
}

/// A role's name identifies it (roles have no id) and becomes part of entitlement ids: not
/// blank, no control characters, at most 256 bytes.
pub fn check_role_name(name: &str) -> std::result::Result<(), String> {
    if name.trim().is_empty() {
        return Err("is blank".into());
    }
    if name.len() > MAX_ID_BYTES {
        return Err(format!("is {} bytes long, more than {MAX_ID_BYTES}", name.len()));
    }
    match name.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!("{:?} holds the control character {c:?}", shown(name))),
        None => Ok(()),
    }
}

/// A user's email as the API reports it (its login): not blank, no blanks or control characters
/// inside. Looser than what `provision` accepts: the API's own data is not ours to judge.
pub fn check_reported_email(email: &str) -> std::result::Result<(), String> {
    let email = email.trim();
    if email.is_empty() {
        return Err("is blank".into());
    }
    if email.len() > 320 {
        return Err(format!("is {} bytes long, more than 320", email.len()));
    }
    match email.chars().find(|c| c.is_whitespace() || c.is_control()) {
        Some(c) => Err(format!("{:?} holds {c:?}", shown(email))),
        None => Ok(()),
    }
}

/// The most bytes of an id or a role name.
const MAX_ID_BYTES: usize = 256;

pub use crate::lenient::shown;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entitlement_ids_round_trip() {
        for id in ["role:Account Analyst:assigned", "team:t1:member", "team:t1:manager", "group:g1:Manage Destination"] {
            assert_eq!(parse_entitlement(id).unwrap().entitlement_id(), id);
        }
    }

    #[test]
    fn grant_ids_parse_from_both_ends() {
        let (target, principal) = parse_grant("group:g1:Destination: Odd Name:team:t9").unwrap();
        assert_eq!(target, Target::GroupAccess { group: "g1".into(), role: "Destination: Odd Name".into() });
        assert_eq!(principal, ResourceRef::new(TEAM, "t9"));
        let (target, _) = parse_grant("role:Account Reviewer:assigned:user:u1").unwrap();
        assert_eq!(target, Target::AccountRole { role: "Account Reviewer".into() });
    }

    #[test]
    fn malformed_ids_are_invalid_arguments() {
        for id in [
            "",
            "role",
            "role::assigned",
            "role:X:member",
            "team:t1:owner",
            "team::member",
            "group:g1:",
            "user:u1:x",
            "connector:c:x",
            "team:a/b:member",
            "group:..:Manage Destination",
            "team:.:member",
            "team:a%2Fb:member",
        ] {
            assert!(matches!(parse_entitlement(id), Err(ConnectorError::InvalidArgument(_))), "{id}");
        }
        for id in ["team:t1:member", "team:t1:member:group:g1", "team:t1:member:user:", "team:t1:member:team:t2"] {
            assert!(matches!(parse_grant(id), Err(ConnectorError::InvalidArgument(_))), "{id}");
        }
    }

    #[test]
    fn only_users_join_teams() {
        let target = parse_entitlement("team:t1:member").unwrap();
        assert!(target.check_principal(&ResourceRef::new(USER, "u1")).is_ok());
        let error = target.check_principal(&ResourceRef::new(TEAM, "t2")).unwrap_err();
        assert!(matches!(error, ConnectorError::InvalidArgument(m) if m.contains("can be granted to: user")));
    }

    #[test]
    fn the_id_grammar_refuses_what_would_change_a_path_or_a_parse() {
        for good in ["decent_dropsy", "u1", "a.b", "..a", "é_1", "a-b~c"] {
            assert_eq!(check_api_id(good), Ok(()), "{good}");
        }
        let long = "x".repeat(257);
        for bad in ["", ".", "..", "a:b", "a/b", "a\\b", "a?b", "a#b", "a%2e", "a b", " a", "a\n", "a\u{7}", long.as_str()] {
            assert!(check_api_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_api_id(".."), Err("\"..\" is a dot segment, which a server would read as a path step".into()));
    }

    #[test]
    fn role_names_and_reported_emails_are_checked_loosely() {
        assert!(check_role_name("Destination: Odd Name").is_ok());
        assert!(check_role_name("  ").is_err());
        assert!(check_role_name("a\nb").is_err());
        assert!(check_reported_email("Ann.Lee@Example.com").is_ok());
        assert!(check_reported_email("not-an-email-but-a-login").is_ok());
        for bad in ["", " ", "a b@x.io", "a\n@x.io"] {
            assert!(check_reported_email(bad).is_err(), "{bad:?}");
        }
    }
}
