//! Group members as real services report them, and who they are.
//!
//! RFC 7643 section 4.2 has a member's `value` be the member's id, `type` say `User` or `Group`,
//! and `$ref` be its URI. Services deviate: some list members by user name with `$ref` the
//! user's location, some leave `type` out, some share ids between users and groups. So a member
//! names a principal when its `value` is the principal's id (a type it gives agreeing), or when
//! its `$ref` is the principal's `meta.location`; a member's kind comes from `type`, else from
//! the collection its `$ref` points into, else it is taken for a user. In a sync the host does
//! the matching against every listed resource (`$ref` rides along as the grant's principal
//! alias, locations as the resources' aliases); in a change, against the one principal.

use serde_json::Value;

use crate::attrs::Obj;
use crate::ids::{GROUP, USER};

/// A member's kind as the service gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberKind {
    User,
    Group,
    /// No `type`, and no `$ref` into `/Users/` or `/Groups/`: taken for a user.
    Untyped,
    /// A type this connector does not report (`ServicePrincipal`), or a `type` its `$ref`
    /// contradicts.
    Other(String),
}

/// One item of a group's `members`.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// `value` as the service listed it: an id, or on some services a user name.
    pub value: Option<String>,
    pub kind: MemberKind,
    /// `$ref`, absolute and normalised (see [`absolute`]).
    pub reference: Option<String>,
}

/// A principal a change is about, as read from the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// `USER` or `GROUP`.
    pub kind: &'static str,
    pub id: String,
    /// Its `meta.location`, normalised.
    pub location: Option<String>,
    /// For a user whose resource carries `groups` (RFC 7643 section 4.1.2): the ids of the groups
    /// it is a direct member of. None when the service does not say.
    pub groups: Option<Vec<String>>,
}

impl Member {
    pub fn read(item: &Value, base_url: &str) -> Option<Self> {
        let member = Obj::of(item)?;
        let value = member.str("value");
        let reference = member.str("$ref").map(|r| absolute(base_url, &r));
        let by_reference = reference.as_deref().and_then(collection_kind);
        let kind = match (member.str("type").map(|t| t.to_ascii_lowercase()), by_reference) {
            (Some(t), by_ref) if t == "user" || t == "group" => {
                let declared = if t == "user" { MemberKind::User } else { MemberKind::Group };
                match by_ref {
                    Some(kind) if kind != declared => MemberKind::Other(format!("type {t:?} with a $ref into another collection")),
                    _ => declared,
                }
            }
            (Some(other), _) => MemberKind::Other(other),
            (None, Some(kind)) => kind,
            (None, None) => MemberKind::Untyped,
        };
        (value.is_some() || reference.is_some()).then_some(Self { value, kind, reference })
    }

    /// The resource type a sync reports this member as, if any.
    pub fn principal_type(&self) -> Option<&'static str> {
        match self.kind {
            MemberKind::User | MemberKind::Untyped => Some(USER),
            MemberKind::Group => Some(GROUP),
            MemberKind::Other(_) => None,
        }
    }

    /// Whether this member is `principal`: by id, or by location.
    pub fn names(&self, principal: &Principal) -> bool {
        let by_location = self.reference.is_some() && self.reference == principal.location;
        by_location || (self.principal_type() == Some(principal.kind) && self.value.as_deref() == Some(principal.id.as_str()))
    }

    /// The member for people: `user 3`, `group g2`, `member alice`.
    pub fn describe(&self) -> String {
        let key = self.value.clone().or_else(|| self.reference.clone()).unwrap_or_default();
        match &self.kind {
            MemberKind::User => format!("user {key}"),
            MemberKind::Group => format!("group {key}"),
            MemberKind::Untyped | MemberKind::Other(_) => format!("member {key}"),
        }
    }
}

/// The members a group lists; items with neither `value` nor `$ref` are counted in `skipped`.
pub fn of_group(group: &Value, base_url: &str, skipped: &mut usize) -> Vec<Member> {
    let items = Obj::of(group).map(|g| g.list("members")).unwrap_or_default();
    let mut members = Vec::with_capacity(items.len());
    for item in items {
        match Member::read(item, base_url) {
            Some(member) => members.push(member),
            None => *skipped += 1,
        }
    }
    members
}

/// The group ids a user's `groups` names as direct memberships (items typed `indirect` are
/// inherited through nested groups, which the snapshot expands itself). None when the user
/// carries no `groups`.
pub fn direct_groups(user: &Value) -> Option<Vec<String>> {
    let user = Obj::of(user)?;
    user.get("groups")?;
    let direct = user
        .list("groups")
        .into_iter()
        .filter_map(Obj::of)
        .filter(|g| g.str("type").is_none_or(|t| t.eq_ignore_ascii_case("direct")))
        .filter_map(|g| g.str("value"))
        .collect();
    Some(direct)
}

/// A resource's `meta.location`, normalised.
pub fn location(resource: &Value, base_url: &str) -> Option<String> {
    Obj::of(resource)?.obj("meta")?.str("location").map(|l| absolute(base_url, &l))
}

/// `reference` as an absolute URL to compare: resolved against `base_url` when relative, the
/// scheme and host lower-cased, without a trailing slash.
pub fn absolute(base_url: &str, reference: &str) -> String {
    let reference = reference.trim();
    let full = if has_scheme(reference) {
        reference.to_owned()
    } else if reference.starts_with('/') {
        format!("{}{reference}", origin(base_url))
    } else {
        format!("{}/{reference}", base_url.trim_end_matches('/'))
    };
    let (scheme, rest) = full.split_once("://").unwrap_or(("", &full));
    let (authority, path) = rest.find('/').map_or((rest, ""), |cut| rest.split_at(cut));
    format!("{}://{}{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase(), path.trim_end_matches('/'))
}

fn has_scheme(reference: &str) -> bool {
    let lower = reference.get(..8).unwrap_or(reference).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn origin(base_url: &str) -> &str {
    let after_scheme = base_url.find("://").map_or(0, |i| i + 3);
    match base_url[after_scheme..].find('/') {
        Some(slash) => &base_url[..after_scheme + slash],
        None => base_url,
    }
}

/// The kind a `$ref` names by the collection it points into (`.../Users/{id}`).
fn collection_kind(reference: &str) -> Option<MemberKind> {
    let mut segments = reference.rsplit('/');
    segments.next()?;
    match segments.next()?.to_ascii_lowercase().as_str() {
        "users" => Some(MemberKind::User),
        "groups" => Some(MemberKind::Group),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BASE: &str = "http://127.0.0.1:9/scim/v2";

    fn user(id: &str, location: &str) -> Principal {
        Principal { kind: USER, id: id.into(), location: Some(absolute(BASE, location)), groups: None }
    }

    #[test]
    fn a_member_names_its_principal_by_id_or_by_location() {
        let by_name = Member::read(&json!({"value": "alice", "$ref": "http://127.0.0.1:9/scim/v2/Users/alice"}), BASE).unwrap();
        assert!(by_name.names(&user("5f1c", "HTTP://127.0.0.1:9/scim/v2/Users/alice/")));
        assert!(!by_name.names(&user("alice2", "/scim/v2/Users/alice2")));
        let by_id = Member::read(&json!({"value": "5f1c"}), BASE).unwrap();
        assert_eq!(by_id.kind, MemberKind::Untyped);
        assert!(by_id.names(&user("5f1c", "/scim/v2/Users/x")));
    }

    #[test]
    fn ids_shared_by_users_and_groups_are_told_apart_by_type_or_ref() {
        let user_3 = Member::read(&json!({"value": "3", "$ref": "/scim/v2/Users/3"}), BASE).unwrap();
        let group_3 = Principal { kind: GROUP, id: "3".into(), location: Some(absolute(BASE, "/scim/v2/Groups/3")), groups: None };
        assert_eq!(user_3.kind, MemberKind::User);
        assert!(!user_3.names(&group_3));
        assert_eq!(user_3.describe(), "user 3");
        let typed = Member::read(&json!({"value": "3", "type": "Group"}), BASE).unwrap();
        assert!(typed.names(&group_3));
        let contradicted = Member::read(&json!({"value": "3", "type": "Group", "$ref": "Users/3"}), BASE).unwrap();
        assert!(matches!(contradicted.kind, MemberKind::Other(_)) && contradicted.principal_type().is_none());
    }

    #[test]
    fn references_are_compared_absolute_and_normalised() {
        assert_eq!(absolute(BASE, "Users/a"), "http://127.0.0.1:9/scim/v2/Users/a");
        assert_eq!(absolute(BASE, "/v2/Users/a"), "http://127.0.0.1:9/v2/Users/a");
        assert_eq!(absolute(BASE, "HTTPS://Host.Example/Users/A/"), "https://host.example/Users/A");
        assert_eq!(
            location(&json!({"meta": {"location": "/scim/v2/Groups/Ops"}}), BASE).as_deref(),
            Some("http://127.0.0.1:9/scim/v2/Groups/Ops")
        );
    }

    #[test]
    fn direct_groups_leave_out_inherited_ones() {
        let user = json!({"groups": [{"value": "g1"}, {"value": "g2", "type": "indirect"}, {"value": "g3", "type": "direct"}]});
        assert_eq!(direct_groups(&user), Some(vec!["g1".to_owned(), "g3".to_owned()]));
        assert_eq!(direct_groups(&json!({"id": "u1"})), None);
        assert_eq!(direct_groups(&json!({"groups": []})), Some(vec![]));
    }
}
