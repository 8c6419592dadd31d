//! What a service's `/Schemas` declares (RFC 7643 section 7): which attributes and sub-attributes
//! exist, which are required, which may change (`mutability`), and which compare case-exactly.
//! Requests are shaped by it: a sub-attribute the service does not declare is left out (strict
//! services refuse unknown ones), a required one is sent, and a change to an attribute the service
//! declares immutable or read-only is refused before anything is sent. A service that serves no
//! `/Schemas` is taken to accept RFC 7643's core schema as it is.

use serde_json::Value;

use crate::attrs::Obj;
use crate::client::{GROUP_SCHEMA, USER_SCHEMA};

/// RFC 7643 section 2.2's `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadWrite,
    /// Set when the resource is created, never changed after.
    Immutable,
    ReadOnly,
    WriteOnly,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub mutability: Mutability,
    pub required: bool,
    pub case_exact: Option<bool>,
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    fn read(value: &Value) -> Option<Self> {
        let attribute = Obj::of(value)?;
        let mutability = match attribute.str("mutability").map(|m| m.to_ascii_lowercase()).as_deref() {
            Some("immutable") => Mutability::Immutable,
            Some("readonly") => Mutability::ReadOnly,
            Some("writeonly") => Mutability::WriteOnly,
            _ => Mutability::ReadWrite,
        };
        Some(Self {
            name: attribute.str("name")?,
            mutability,
            required: attribute.bool("required").unwrap_or(false),
            case_exact: attribute.bool("caseExact"),
            sub_attributes: attribute.list("subAttributes").into_iter().filter_map(Attribute::read).collect(),
        })
    }

    fn sub(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// The resource a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    fn urn(self) -> &'static str {
        match self {
            Kind::User => USER_SCHEMA,
            Kind::Group => GROUP_SCHEMA,
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
        }
    }
}

/// The core User and Group schemas as the service declares them; empty when it serves none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schemas {
    user: Option<Vec<Attribute>>,
    group: Option<Vec<Attribute>>,
}

impl Schemas {
    /// From a `/Schemas` answer: a list response, or a bare array as some services send.
    pub fn read(answer: &Value) -> Self {
        let items: Vec<&Value> = match answer {
            Value::Array(items) => items.iter().collect(),
            object => Obj::of(object).map(|o| o.list("Resources")).unwrap_or_default(),
        };
        let attributes = |kind: Kind| {
            items
                .iter()
                .filter_map(|item| Obj::of(item))
                .find(|schema| schema.str("id").is_some_and(|id| id.eq_ignore_ascii_case(kind.urn())))
                .map(|schema| schema.list("attributes").into_iter().filter_map(Attribute::read).collect::<Vec<_>>())
        };
        Self { user: attributes(Kind::User), group: attributes(Kind::Group) }
    }

    pub fn served(&self, kind: Kind) -> bool {
        self.of(kind).is_some()
    }

    fn of(&self, kind: Kind) -> Option<&Vec<Attribute>> {
        match kind {
            Kind::User => self.user.as_ref(),
            Kind::Group => self.group.as_ref(),
        }
    }

    /// The attribute at `path` (`name`, `name.givenName`), when the schema is served and has it.
    pub fn attribute(&self, kind: Kind, path: &str) -> Option<&Attribute> {
        let (name, sub) = path.split_once('.').map_or((path, None), |(n, s)| (n, Some(s)));
        let attribute = self.of(kind)?.iter().find(|a| a.name.eq_ignore_ascii_case(name))?;
        match sub {
            Some(sub) => attribute.sub(sub),
            None => Some(attribute),
        }
    }

    /// Whether the service has the attribute at all: yes when its schema is not served.
    pub fn declares(&self, kind: Kind, attribute: &str) -> bool {
        !self.served(kind) || self.attribute(kind, attribute).is_some()
    }

    /// Whether a sub-attribute may be sent: the service declares it, or declares the attribute
    /// without sub-attributes, or serves no schema.
    pub fn keeps(&self, kind: Kind, attribute: &str, sub: &str) -> bool {
        match self.attribute(kind, attribute) {
            Some(declared) => declared.sub_attributes.is_empty() || declared.sub(sub).is_some(),
            None => !self.served(kind),
        }
    }

    /// Whether the service requires the sub-attribute.
    pub fn requires(&self, kind: Kind, attribute: &str, sub: &str) -> bool {
        self.attribute(kind, attribute).and_then(|a| a.sub(sub)).is_some_and(|s| s.required)
    }

    /// Why the attribute at `path` cannot be changed once the resource exists, if it cannot.
    pub fn unchangeable(&self, kind: Kind, path: &str) -> Option<String> {
        let top = path.split('.').next().unwrap_or(path);
        [top, path].into_iter().find_map(|p| {
            let attribute = self.attribute(kind, p)?;
            let what = match attribute.mutability {
                Mutability::Immutable => "immutable",
                Mutability::ReadOnly => "read-only",
                Mutability::ReadWrite | Mutability::WriteOnly => return None,
            };
            Some(format!("the service's schema declares the {} attribute {p} {what}", kind.noun()))
        })
    }

    /// Whether the attribute compares case-exactly; RFC 7643's default is not.
    pub fn case_exact(&self, kind: Kind, attribute: &str) -> bool {
        self.attribute(kind, attribute).and_then(|a| a.case_exact).unwrap_or(false)
    }

    /// `object` (an item of multi-valued `attribute`, or its complex value) without the
    /// sub-attributes the service does not declare.
    pub fn shaped(&self, kind: Kind, attribute: &str, mut object: Value) -> Value {
        if let Some(map) = object.as_object_mut() {
            map.retain(|sub, _| self.keeps(kind, attribute, sub));
        }
        object
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strict() -> Schemas {
        Schemas::read(&json!({"Resources": [
            {"id": USER_SCHEMA, "attributes": [
                {"name": "userName", "mutability": "immutable", "required": true},
                {"name": "name", "subAttributes": [{"name": "formatted", "required": true}, {"name": "givenName"}, {"name": "familyName", "required": true}]},
                {"name": "emails", "subAttributes": [{"name": "value", "required": true}]},
                {"name": "active"}
            ]},
            {"id": GROUP_SCHEMA, "attributes": [
                {"name": "displayName", "mutability": "immutable", "caseExact": false},
                {"name": "members", "subAttributes": [{"name": "value", "mutability": "immutable"}, {"name": "$ref", "required": true}]}
            ]}
        ]}))
    }

    #[test]
    fn sub_attributes_not_declared_are_left_out_and_required_ones_known() {
        let schemas = strict();
        assert_eq!(
            schemas.shaped(Kind::User, "emails", json!({"value": "a@b.co", "type": "work", "primary": true})),
            json!({"value": "a@b.co"})
        );
        assert!(schemas.requires(Kind::User, "name", "formatted"));
        assert!(schemas.requires(Kind::Group, "members", "$ref"));
        assert!(!schemas.keeps(Kind::Group, "members", "type"));
        assert!(!schemas.declares(Kind::User, "roles") && !schemas.declares(Kind::User, "phoneNumbers"));
    }

    #[test]
    fn immutable_and_read_only_attributes_are_named() {
        let schemas = strict();
        let why = schemas.unchangeable(Kind::Group, "displayName").unwrap();
        assert!(why.contains("group attribute displayName immutable"), "{why}");
        assert!(schemas.unchangeable(Kind::User, "userName").is_some());
        assert_eq!(schemas.unchangeable(Kind::User, "name.givenName"), None);
        assert_eq!(schemas.unchangeable(Kind::User, "active"), None);
    }

    #[test]
    fn without_a_schema_everything_is_as_rfc_7643_has_it() {
        let none = Schemas::default();
        assert!(none.declares(Kind::User, "roles") && none.keeps(Kind::User, "emails", "type"));
        assert!(!none.requires(Kind::User, "name", "formatted"));
        assert_eq!(none.unchangeable(Kind::Group, "displayName"), None);
        assert!(!none.case_exact(Kind::Group, "displayName"));
        let bare = Schemas::read(&json!([{"id": GROUP_SCHEMA, "attributes": [{"name": "displayName", "caseExact": "true"}]}]));
        assert!(bare.case_exact(Kind::Group, "displayName") && bare.served(Kind::Group) && !bare.served(Kind::User));
    }
}
