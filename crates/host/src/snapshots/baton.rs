//! The protobuf messages of baton's c1z rows (package `c1.connector.v2`), written by hand from the
//! field numbers of `../shared/baton-c1z/proto` (and Google's well-known `Any`, `Struct`,
//! `Timestamp`): only the fields this project's model fills or reads. Encoding is deterministic
//! (fields in number order, maps as sorted repeated entries).

use prost::Message;

/// The type URL prefix of `google.protobuf.Any` annotations.
pub const TYPE_URL_PREFIX: &str = "type.googleapis.com/c1.connector.v2.";

#[derive(Clone, PartialEq, Message)]
pub struct Any {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

impl Any {
    /// `message` packed as `c1.connector.v2.<name>`.
    pub fn pack(name: &str, message: &impl Message) -> Self {
        Self { type_url: format!("{TYPE_URL_PREFIX}{name}"), value: message.encode_to_vec() }
    }

    /// The message's name, if it is one of `c1.connector.v2`.
    pub fn name(&self) -> Option<&str> {
        self.type_url.strip_prefix(TYPE_URL_PREFIX)
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `google.protobuf.Struct`: a JSON object. Its map is written as sorted entries (field 1, each an
/// entry of key 1 and value 2), so that equal objects give equal bytes.
#[derive(Clone, PartialEq, Message)]
pub struct Struct {
    #[prost(message, repeated, tag = "1")]
    pub fields: Vec<StructEntry>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StructEntry {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Value>,
}

/// `google.protobuf.Value`.
#[derive(Clone, PartialEq, Message)]
pub struct Value {
    #[prost(oneof = "Kind", tags = "1, 2, 3, 4, 5, 6")]
    pub kind: Option<Kind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Kind {
    #[prost(int32, tag = "1")]
    NullValue(i32),
    #[prost(double, tag = "2")]
    NumberValue(f64),
    #[prost(string, tag = "3")]
    StringValue(String),
    #[prost(bool, tag = "4")]
    BoolValue(bool),
    #[prost(message, tag = "5")]
    StructValue(Struct),
    #[prost(message, tag = "6")]
    ListValue(ListValue),
}

#[derive(Clone, PartialEq, Message)]
pub struct ListValue {
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<Value>,
}

#[derive(Clone, PartialEq, Eq, Copy, Debug, prost::Enumeration)]
#[repr(i32)]
pub enum Trait {
    Unspecified = 0,
    User = 1,
    Group = 2,
    Role = 3,
    App = 4,
}

#[derive(Clone, PartialEq, Message)]
pub struct ResourceType {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub display_name: String,
    #[prost(enumeration = "Trait", repeated, tag = "3")]
    pub traits: Vec<i32>,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
    #[prost(string, tag = "5")]
    pub description: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct ResourceId {
    #[prost(string, tag = "1")]
    pub resource_type: String,
    #[prost(string, tag = "2")]
    pub resource: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Resource {
    #[prost(message, optional, tag = "1")]
    pub id: Option<ResourceId>,
    #[prost(message, optional, tag = "2")]
    pub parent_resource_id: Option<ResourceId>,
    #[prost(string, tag = "3")]
    pub display_name: String,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
    #[prost(string, tag = "5")]
    pub description: String,
}

#[derive(Clone, PartialEq, Eq, Copy, Debug, prost::Enumeration)]
#[repr(i32)]
pub enum Purpose {
    Unspecified = 0,
    Assignment = 1,
    Permission = 2,
    Ownership = 3,
}

#[derive(Clone, PartialEq, Message)]
pub struct Entitlement {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(string, tag = "2")]
    pub id: String,
    #[prost(string, tag = "3")]
    pub display_name: String,
    #[prost(string, tag = "4")]
    pub description: String,
    #[prost(message, repeated, tag = "5")]
    pub grantable_to: Vec<ResourceType>,
    #[prost(message, repeated, tag = "6")]
    pub annotations: Vec<Any>,
    #[prost(enumeration = "Purpose", tag = "7")]
    pub purpose: i32,
    #[prost(string, tag = "8")]
    pub slug: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct Grant {
    #[prost(message, optional, tag = "1")]
    pub entitlement: Option<Entitlement>,
    #[prost(message, optional, tag = "2")]
    pub principal: Option<Resource>,
    #[prost(string, tag = "3")]
    pub id: String,
    #[prost(message, repeated, tag = "4")]
    pub annotations: Vec<Any>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GrantExpandable {
    #[prost(string, repeated, tag = "1")]
    pub entitlement_ids: Vec<String>,
    #[prost(bool, tag = "2")]
    pub shallow: bool,
    #[prost(string, repeated, tag = "3")]
    pub resource_type_ids: Vec<String>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Email {
    #[prost(string, tag = "1")]
    pub address: String,
    #[prost(bool, tag = "2")]
    pub is_primary: bool,
}

#[derive(Clone, PartialEq, Eq, Copy, Debug, prost::Enumeration)]
#[repr(i32)]
pub enum UserStatus {
    Unspecified = 0,
    Enabled = 1,
    Disabled = 2,
    Deleted = 3,
}

#[derive(Clone, PartialEq, Message)]
pub struct Status {
    #[prost(enumeration = "UserStatus", tag = "1")]
    pub status: i32,
    #[prost(string, tag = "2")]
    pub details: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct StructuredName {
    #[prost(string, tag = "1")]
    pub given_name: String,
    #[prost(string, tag = "2")]
    pub family_name: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct UserTrait {
    #[prost(message, repeated, tag = "1")]
    pub emails: Vec<Email>,
    #[prost(message, optional, tag = "2")]
    pub status: Option<Status>,
    #[prost(message, optional, tag = "3")]
    pub profile: Option<Struct>,
    #[prost(string, tag = "6")]
    pub login: String,
    #[prost(message, optional, tag = "8")]
    pub created_at: Option<Timestamp>,
    #[prost(message, optional, tag = "9")]
    pub last_login: Option<Timestamp>,
    #[prost(message, optional, tag = "12")]
    pub structured_name: Option<StructuredName>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GroupTrait {
    #[prost(message, optional, tag = "2")]
    pub profile: Option<Struct>,
}

#[derive(Clone, PartialEq, Message)]
pub struct RoleTrait {
    #[prost(message, optional, tag = "1")]
    pub profile: Option<Struct>,
}

/// A JSON value as a `google.protobuf.Value`.
pub fn to_value(json: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    let kind = match json {
        J::Null => Kind::NullValue(0),
        J::Bool(b) => Kind::BoolValue(*b),
        J::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        J::String(s) => Kind::StringValue(s.clone()),
        J::Array(items) => Kind::ListValue(ListValue { values: items.iter().map(to_value).collect() }),
        J::Object(map) => Kind::StructValue(to_struct(map)),
    };
    Value { kind: Some(kind) }
}

/// A JSON object as a `google.protobuf.Struct`, keys sorted.
pub fn to_struct(map: &serde_json::Map<String, serde_json::Value>) -> Struct {
    let mut fields: Vec<StructEntry> = map.iter().map(|(k, v)| StructEntry { key: k.clone(), value: Some(to_value(v)) }).collect();
    fields.sort_by(|a, b| a.key.cmp(&b.key));
    Struct { fields }
}

/// A `google.protobuf.Value` as JSON; a whole number comes back as an integer.
pub fn from_value(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => J::Null,
        Some(Kind::BoolValue(b)) => J::Bool(*b),
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9.0e15 => J::from(*n as i64),
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
        Some(Kind::StringValue(s)) => J::String(s.clone()),
        Some(Kind::ListValue(list)) => J::Array(list.values.iter().map(from_value).collect()),
        Some(Kind::StructValue(s)) => J::Object(from_struct(s)),
    }
}

pub fn from_struct(s: &Struct) -> serde_json::Map<String, serde_json::Value> {
    s.fields.iter().map(|e| (e.key.clone(), e.value.as_ref().map(from_value).unwrap_or_default())).collect()
}
