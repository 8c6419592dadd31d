//! What identifies: SCIM ids, role values, and the entitlement and grant ids built from them;
//! and the filter values put into requests.
//!
//! Entitlements are `group:G:member` and `role:R:assigned`; grants append `:TYPE:ID`. Ids may
//! not hold `:` (they end a grant id), role values may: a grant id is read from both ends.

use crate::model::{ConnectorError, ResourceRef, Result};

pub const USER: &str = "user";
pub const GROUP: &str = "group";
pub const ROLE: &str = "role";
pub const MEMBER: &str = "member";
pub const ASSIGNED: &str = "assigned";

const MAX_ID_BYTES: usize = 1024;

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidArgument(message)
}

/// A SCIM resource id as this connector accepts it: 1 to 1024 bytes, no `:`, blank or control
/// character, and nothing shaped like a path, however often it is percent-decoded: no `/` or `\`,
/// not `.` or `..`. An id goes into request paths (`/Users/{id}`, encoded), and a proxy that
/// decodes `%2F` before normalising would turn `../Users/u1` into another resource.
pub fn check_id(id: &str) -> std::result::Result<(), String> {
    if id.is_empty() {
        return Err("is empty".into());
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!("is {} bytes long, more than {MAX_ID_BYTES}", id.len()));
    }
    if let Some(c) = id.chars().find(|c| *c == ':' || c.is_whitespace() || c.is_control()) {
        return Err(format!("holds {c:?}"));
    }
    let mut decoded = id.to_owned();
    for _ in 0..4 {
        if decoded == "." || decoded == ".." {
            return Err("is shaped like a path (a dot segment)".into());
        }
        if decoded.contains(['/', '\\']) {
            return Err("is shaped like a path (it holds a slash)".into());
        }
        match percent_decoded(&decoded) {
            Some(next) if next != decoded => decoded = next,
            _ => break,
        }
    }
    Ok(())
}

/// `text` with its `%XX` escapes decoded, if any (invalid UTF-8 decodes lossily).
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                changed = true;
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    changed.then(|| String::from_utf8_lossy(&out).into_owned())
}

/// A role value: 1 to 1024 bytes, no control characters, not blank at either end.
pub fn check_role(value: &str) -> std::result::Result<(), String> {
    if value.trim().is_empty() {
        return Err("is empty".into());
    }
    if value.len() > MAX_ID_BYTES {
        return Err(format!("is {} bytes long, more than {MAX_ID_BYTES}", value.len()));
    }
    if value.trim() != value {
        return Err("starts or ends with a blank".into());
    }
    if value.chars().any(char::is_control) {
        return Err("holds a control character".into());
    }
    Ok(())
}

/// [`check_id`] for an id the caller gave.
pub fn require_id(id: &str, what: &str) -> Result<()> {
    check_id(id).map_err(|why| invalid(format!("{what} {id:?} {why}; give the SCIM id, as sync reports it")))
}

/// What an entitlement id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    GroupMember { group: String },
    Role { value: String },
}

impl Target {
    pub fn entitlement_id(&self) -> String {
        match self {
            Target::GroupMember { group } => format!("{GROUP}:{group}:{MEMBER}"),
            Target::Role { value } => format!("{ROLE}:{value}:{ASSIGNED}"),
        }
    }

    /// Users and groups join groups; only users hold roles; no group joins itself.
    pub fn check_principal(&self, principal: &ResourceRef) -> Result<()> {
        require_id(&principal.id, &format!("{} id", principal.resource_type))?;
        match (self, principal.resource_type.as_str()) {
            (Target::GroupMember { group }, GROUP) if *group == principal.id => {
                Err(invalid(format!("group {group} cannot be a member of itself")))
            }
            (Target::GroupMember { .. }, USER | GROUP) | (Target::Role { .. }, USER) => Ok(()),
            (target, other) => Err(invalid(format!(
                "{} cannot be held by a {other:?}; it is grantable to {}",
                target.entitlement_id(),
                match target {
                    Target::GroupMember { .. } => "user and group",
                    Target::Role { .. } => "user",
                }
            ))),
        }
    }
}

/// `group:G:member` or `role:R:assigned`.
pub fn parse_entitlement(entitlement: &str) -> Result<Target> {
    let unknown = || {
        invalid(format!(
            "entitlement {entitlement:?} is not one this connector reports; use group:GROUP_ID:member or role:ROLE:assigned, as sync lists them"
        ))
    };
    if let Some(group) = entitlement.strip_prefix("group:").and_then(|rest| rest.strip_suffix(":member")) {
        require_id(group, "group id")?;
        return Ok(Target::GroupMember { group: group.to_owned() });
    }
    if let Some(value) = entitlement.strip_prefix("role:").and_then(|rest| rest.strip_suffix(":assigned")) {
        check_role(value).map_err(|why| invalid(format!("role {value:?} in {entitlement:?} {why}")))?;
        return Ok(Target::Role { value: value.to_owned() });
    }
    Err(unknown())
}

/// `ENTITLEMENT:TYPE:ID`, read from the end (a role value may hold `:`).
pub fn parse_grant(grant: &str) -> Result<(Target, ResourceRef)> {
    let mut parts = grant.rsplitn(3, ':');
    let (Some(id), Some(principal_type), Some(entitlement)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(format!("grant {grant:?} is not ENTITLEMENT:TYPE:ID; use a grant id as sync lists it")));
    };
    let target = parse_entitlement(entitlement)?;
    let principal = ResourceRef::new(principal_type, id);
    target.check_principal(&principal)?;
    Ok((target, principal))
}

/// A string for a SCIM filter: quoted, with `\` and `"` escaped (RFC 7644 section 3.4.2.2 takes
/// JSON string syntax), then percent-encoded for the query.
pub fn filter_eq(attribute: &str, value: &str) -> String {
    let quoted = serde_json::Value::String(value.to_owned()).to_string();
    crate::transport::encode(&format!("{attribute} eq {quoted}"))
}

/// A PATCH path selecting one value of a multi-valued attribute: `members[value eq "U"]`.
pub fn value_path(attribute: &str, value: &str) -> String {
    format!("{attribute}[value eq {}]", serde_json::Value::String(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_read_from_the_end_so_roles_may_hold_colons() {
        let (target, principal) = parse_grant("role:urn:app:Admin:assigned:user:u1").unwrap();
        assert_eq!(target, Target::Role { value: "urn:app:Admin".into() });
        assert_eq!(principal, ResourceRef::new(USER, "u1"));
        let (target, principal) = parse_grant("group:g1:member:group:g2").unwrap();
        assert_eq!(target, Target::GroupMember { group: "g1".into() });
        assert_eq!(principal, ResourceRef::new(GROUP, "g2"));
    }

    #[test]
    fn bad_ids_and_principals_are_refused() {
        for bad in [
            "group:a:b:member:user:u",
            "group::member:user:u",
            "group:g1:member:user:",
            "group:g1:member:role:r",
            "role:R:assigned:group:g",
            "group:g1:member:group:g1",
            "group:..:member:user:u",
            "team:t:member:user:u",
            "u1",
        ] {
            assert!(parse_grant(bad).is_err(), "{bad}");
        }
        for bad in [
            "",
            "a b",
            "a\u{0}",
            ".",
            "..",
            "a:b",
            "../Users/u1",
            "x/../../Users/u1",
            ".%2e",
            "%2e%2E",
            "a%2Fb",
            "a%252Fb",
            "..%5cUsers",
            "a\\b",
        ] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        for good in ["2819c223-7f76-453a-919d-413861904646", "42", "alice.smith", "a%20b", "100%", "..."] {
            assert!(check_id(good).is_ok(), "{good:?}");
        }
        assert!(check_id("2819c223-7f76-453a-919d-413861904646").is_ok());
    }

    #[test]
    fn filter_values_are_escaped_and_encoded() {
        assert_eq!(filter_eq("userName", "a\"b\\c@x.io"), "userName%20eq%20%22a%5C%22b%5C%5Cc%40x.io%22");
        assert_eq!(value_path("members", "u\"1"), r#"members[value eq "u\"1"]"#);
    }
}
