//! The SCIM endpoints: discovery, listing with `startIndex`/`count`/`filter`, and create, read,
//! replace, patch and delete of users and groups, checked as strictly as RFC 7644 allows (PATCH
//! ops in lower case, real JSON booleans, the PatchOp schema), answered as the quirks say.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::directory::{Directory, FIVETRAN_ACCOUNT_ROLES, Flavor};
use crate::server::Quirks;

const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The most a page holds whatever `count` asks.
const MAX_COUNT: usize = 1000;

pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    fn json(status: u16, value: Value) -> Self {
        Self { status, body: value.to_string() }
    }

    pub(crate) fn error(quirks: &Quirks, status: u16, scim_type: Option<&str>, detail: &str) -> Self {
        let mut body = json!({"schemas": [ERROR], "detail": detail});
        body["status"] = if quirks.numeric_status { json!(status) } else { json!(status.to_string()) };
        if let Some(scim_type) = scim_type {
            body["scimType"] = json!(scim_type);
        }
        Self::json(status, body)
    }

    fn empty(status: u16) -> Self {
        Self { status, body: String::new() }
    }
}

/// Which collection a path names.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Users,
    Groups,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Users => "Users",
            Kind::Groups => "Groups",
        }
    }
}

pub(crate) struct Call<'a> {
    pub method: &'a str,
    /// The path below the service root, e.g. `/Users/u1`.
    pub path: &'a str,
    pub query: BTreeMap<String, String>,
    pub body: &'a [u8],
    /// The service root as clients reach it, for `meta.location`.
    pub root: &'a str,
}

pub(crate) fn handle(directory: &mut Directory, quirks: &Quirks, call: &Call<'_>) -> Reply {
    let segments: Vec<&str> = call.path.trim_start_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let kind = match segments.first().copied() {
        Some("Users") => Some(Kind::Users),
        Some("Groups") => Some(Kind::Groups),
        _ => None,
    };
    match (call.method, segments.as_slice(), kind) {
        ("GET", ["ServiceProviderConfig"], _) if !quirks.no_discovery => {
            Reply::json(200, service_provider_config(directory.flavor, quirks))
        }
        ("GET", ["ResourceTypes"], _) if !quirks.no_discovery => Reply::json(200, resource_types()),
        ("GET", ["Schemas"], _) if !quirks.no_discovery => Reply::json(200, schemas(quirks)),
        ("GET", [_], Some(kind)) => list(directory, quirks, kind, call),
        ("GET", [_, id], Some(kind)) => match lookup(directory, quirks, kind, id) {
            Some((id, resource)) => Reply::json(200, render(directory, quirks, kind, &id, &resource, call.root)),
            None => not_found(quirks, kind, id),
        },
        ("POST", [_], Some(kind)) => with_body(quirks, call, |body| create(directory, quirks, kind, body, call.root)),
        ("PUT", [_, id], Some(kind)) => with_body(quirks, call, |body| replace(directory, quirks, kind, id, body, call.root)),
        ("PATCH", [_, id], Some(kind)) => {
            if quirks.no_patch {
                return Reply::error(quirks, 501, None, "PATCH is not supported; use PUT");
            }
            with_body(quirks, call, |body| patch(directory, quirks, kind, id, body, call.root))
        }
        ("DELETE", [_, id], Some(kind)) => {
            if stored_mut(directory, kind).remove(*id).is_none() {
                return not_found(quirks, kind, id);
            }
            let id = (*id).to_owned();
            for group in directory.groups.values_mut() {
                if let Some(Value::Array(members)) = group.get_mut("members") {
                    members.retain(|m| m.get("value").and_then(Value::as_str) != Some(id.as_str()));
                }
            }
            Reply::empty(204)
        }
        _ => Reply::error(quirks, 404, None, &format!("no endpoint {} {}", call.method, call.path)),
    }
}

/// A resource by id, or (where members are listed by user name) a user by user name.
fn lookup(directory: &Directory, quirks: &Quirks, kind: Kind, key: &str) -> Option<(String, Value)> {
    if let Some(resource) = stored(directory, kind).get(key) {
        return Some((key.to_owned(), resource.clone()));
    }
    if quirks.members_by_user_name && kind == Kind::Users {
        return directory.user_named(key).map(|(id, user)| (id.clone(), user.clone()));
    }
    None
}

fn stored(directory: &Directory, kind: Kind) -> &BTreeMap<String, Value> {
    match kind {
        Kind::Users => &directory.users,
        Kind::Groups => &directory.groups,
    }
}

fn stored_mut(directory: &mut Directory, kind: Kind) -> &mut BTreeMap<String, Value> {
    match kind {
        Kind::Users => &mut directory.users,
        Kind::Groups => &mut directory.groups,
    }
}

fn not_found(quirks: &Quirks, kind: Kind, id: &str) -> Reply {
    Reply::error(quirks, 404, None, &format!("Resource {id} not found in {}", kind.name()))
}

fn with_body(quirks: &Quirks, call: &Call<'_>, handle: impl FnOnce(Map<String, Value>) -> Reply) -> Reply {
    match serde_json::from_slice::<Value>(call.body) {
        Ok(Value::Object(body)) => handle(body),
        _ => Reply::error(quirks, 400, Some("invalidSyntax"), "the request body is not a JSON object"),
    }
}

fn service_provider_config(flavor: Flavor, quirks: &Quirks) -> Value {
    let documentation = match flavor {
        Flavor::Fivetran => "https://fivetran.com/docs/using-fivetran/fivetran-dashboard/account-settings/scim",
        Flavor::Generic => "https://scim.example.test/docs",
    };
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": documentation,
        "patch": {"supported": !quirks.no_patch},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": !quirks.no_filter, "maxResults": 200},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "A bearer token"}],
    })
}

fn list_response(resources: Vec<Value>, total: usize, start: usize) -> Value {
    json!({"schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start, "itemsPerPage": resources.len(), "Resources": resources})
}

fn resource_types() -> Value {
    let types = vec![
        json!({"id": "User", "name": "User", "endpoint": "/Users", "schema": USER_SCHEMA, "schemaExtensions": [{"schema": ENTERPRISE, "required": false}]}),
        json!({"id": "Group", "name": "Group", "endpoint": "/Groups", "schema": GROUP_SCHEMA}),
    ];
    list_response(types, 2, 1)
}

/// The core schemas (RFC 7643 section 8.7.1, the attributes a provisioning client uses), or
/// the strict ones the quirk enforces.
fn schemas(quirks: &Quirks) -> Value {
    let attribute = |name: &str, subs: &[&str]| {
        let subs: Vec<Value> = subs.iter().map(|s| json!({"name": s, "type": "string", "mutability": "readWrite"})).collect();
        json!({"name": name, "type": if subs.is_empty() { "string" } else { "complex" }, "mutability": "readWrite", "caseExact": false, "subAttributes": subs})
    };
    let (user, group) = if quirks.strict_schema {
        let mut name = attribute("name", &["formatted", "familyName", "givenName"]);
        name["subAttributes"][0]["required"] = json!(true);
        let mut members = attribute("members", &["value", "$ref", "display"]);
        members["subAttributes"][1]["required"] = json!(true);
        members["subAttributes"][2]["mutability"] = json!("readOnly");
        let mut display_name = attribute("displayName", &[]);
        display_name["mutability"] = json!("immutable");
        let user = vec![
            json!({"name": "userName", "type": "string", "mutability": "immutable", "required": true}),
            name,
            attribute("displayName", &[]),
            json!({"name": "active", "type": "boolean", "mutability": "readWrite"}),
            attribute("emails", &["value"]),
            attribute("phoneNumbers", &["value"]),
            json!({"name": "groups", "type": "complex", "mutability": "readOnly", "subAttributes": [{"name": "value"}, {"name": "$ref"}, {"name": "display"}]}),
        ];
        (user, vec![display_name, members])
    } else {
        let mut groups = attribute("groups", &["value", "$ref", "display", "type"]);
        groups["mutability"] = json!("readOnly");
        let user = vec![
            json!({"name": "userName", "type": "string", "mutability": "readWrite", "required": true, "caseExact": false}),
            attribute("name", &["formatted", "familyName", "givenName"]),
            attribute("displayName", &[]),
            json!({"name": "active", "type": "boolean", "mutability": "readWrite"}),
            attribute("emails", &["value", "type", "primary", "display"]),
            attribute("phoneNumbers", &["value", "type", "primary", "display"]),
            attribute("roles", &["value", "display", "type", "primary"]),
            groups,
        ];
        (user, vec![attribute("displayName", &[]), attribute("members", &["value", "$ref", "type", "display"])])
    };
    let schemas = vec![
        json!({"id": USER_SCHEMA, "name": "User", "attributes": user}),
        json!({"id": ENTERPRISE, "name": "EnterpriseUser", "attributes": [attribute("department", &[])]}),
        json!({"id": GROUP_SCHEMA, "name": "Group", "attributes": group}),
    ];
    list_response(schemas, 3, 1)
}

/// A resource as the service shows it: with `id`, `schemas` and `meta`, in the quirks' dialect.
fn render(directory: &Directory, quirks: &Quirks, kind: Kind, id: &str, stored: &Value, root: &str) -> Value {
    let mut resource = stored.as_object().cloned().unwrap_or_default();
    resource.insert("id".into(), json!(id));
    if !quirks.no_schemas {
        let schema = if kind == Kind::Users { USER_SCHEMA } else { GROUP_SCHEMA };
        resource.insert("schemas".into(), json!([schema]));
    }
    let resource_type = if kind == Kind::Users { "User" } else { "Group" };
    let location = format!("{root}/{}/{}", kind.name(), location_key(directory, quirks, kind, id));
    resource.insert("meta".into(), json!({"resourceType": resource_type, "location": location}));
    if kind == Kind::Users && (quirks.members_by_user_name || quirks.members_taken_for_users) {
        let groups: Vec<Value> =
            directory.groups_of(id).into_iter().map(|g| json!({"value": g, "$ref": format!("{root}/Groups/{g}")})).collect();
        resource.insert("groups".into(), Value::Array(groups));
    }
    if kind == Kind::Groups {
        let members: Vec<Value> = match resource.get("members") {
            Some(Value::Array(members)) => members
                .iter()
                .map(|m| {
                    let value = m.get("value").and_then(Value::as_str).unwrap_or_default();
                    let member_kind = directory.kind_of(value);
                    if quirks.members_as_sent {
                        m.clone()
                    } else if quirks.members_by_user_name {
                        match member_kind {
                            Some("user") => {
                                let name = location_key(directory, quirks, Kind::Users, value);
                                json!({"value": name, "$ref": format!("{root}/Users/{name}")})
                            }
                            _ => json!({"value": value, "$ref": format!("{root}/Groups/{value}")}),
                        }
                    } else if quirks.members_taken_for_users {
                        json!({"value": value, "$ref": format!("{root}/Users/{value}"), "display": value})
                    } else if quirks.members_null {
                        // Type left out, the `$ref` says it.
                        let collection = if member_kind == Some("group") { "Groups" } else { "Users" };
                        json!({"value": value, "$ref": format!("{root}/{collection}/{value}")})
                    } else {
                        json!({"value": value, "type": if member_kind == Some("group") { "Group" } else { "User" }})
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        let members = if members.is_empty() && quirks.members_null { Value::Null } else { Value::Array(members) };
        resource.insert("members".into(), members);
    }
    if quirks.string_booleans {
        stringify_booleans(&mut resource);
    }
    Value::Object(resource)
}

/// The last segment of a resource's location: its id, or a user's user name where members are
/// listed by it.
fn location_key(directory: &Directory, quirks: &Quirks, kind: Kind, id: &str) -> String {
    if quirks.members_by_user_name && kind == Kind::Users {
        if let Some(name) = directory.users.get(id).and_then(|u| u.as_object()).and_then(|u| text(u, "userName")) {
            return name.to_owned();
        }
    }
    id.to_owned()
}

/// `true` as `"True"`, as some .NET services write it.
fn stringify_booleans(object: &mut Map<String, Value>) {
    for value in object.values_mut() {
        match value {
            Value::Bool(b) => *value = json!(if *b { "True" } else { "False" }),
            Value::Object(inner) => stringify_booleans(inner),
            Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).for_each(stringify_booleans),
            _ => {}
        }
    }
}

fn text<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
}

/// `attribute eq "value"`, the only filter this service needs to serve.
fn parse_filter(filter: &str) -> Option<(String, String)> {
    let lower = filter.to_ascii_lowercase();
    let at = lower.find(" eq ")?;
    let attribute = filter[..at].trim().to_owned();
    let value: String = serde_json::from_str(filter[at + 4..].trim()).ok()?;
    Some((attribute, value))
}

fn list(directory: &Directory, quirks: &Quirks, kind: Kind, call: &Call<'_>) -> Reply {
    let start = call.query.get("startIndex").and_then(|s| s.parse::<usize>().ok()).unwrap_or(1).max(1);
    let asked = call.query.get("count").and_then(|s| s.parse::<usize>().ok()).unwrap_or(100);
    let count = asked.min(MAX_COUNT).min(quirks.max_count.unwrap_or(MAX_COUNT));
    let filter = match call.query.get("filter") {
        None => None,
        Some(_) if quirks.no_filter => return Reply::error(quirks, 400, Some("invalidFilter"), "filtering is not supported"),
        Some(filter) => match parse_filter(filter) {
            Some(parsed) => Some(parsed),
            None => return Reply::error(quirks, 400, Some("invalidFilter"), &format!("cannot parse the filter {filter:?}")),
        },
    };
    let matching: Vec<(&String, &Value)> = stored(directory, kind)
        .iter()
        .filter(|(id, resource)| match &filter {
            None => true,
            Some((attribute, value)) => {
                let actual = if attribute.eq_ignore_ascii_case("id") {
                    Some(id.as_str())
                } else {
                    resource.as_object().and_then(|o| text(o, attribute))
                };
                actual.is_some_and(|a| if quirks.case_sensitive_filter { a == value } else { a.eq_ignore_ascii_case(value) })
            }
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start - 1)
        .take(count)
        .map(|(id, r)| {
            let mut shown = render(directory, quirks, kind, id, r, call.root);
            if quirks.members_not_listed
                && let Some(object) = shown.as_object_mut()
            {
                object.remove("members");
            }
            shown
        })
        .collect();
    let mut body = list_response(page, matching.len(), start);
    if quirks.numbers_as_strings {
        for key in ["totalResults", "startIndex", "itemsPerPage"] {
            body[key] = json!(body[key].to_string());
        }
    }
    if quirks.lowercase_resources {
        let resources = body.as_object_mut().and_then(|o| o.remove("Resources")).unwrap_or_default();
        body["resources"] = resources;
    }
    Reply::json(200, body)
}

/// The attributes a client may not set, dropped from what it sent.
fn clean(mut body: Map<String, Value>) -> Map<String, Value> {
    body.retain(|key, _| !["id", "meta", "schemas", "groups"].iter().any(|k| key.eq_ignore_ascii_case(k)));
    body
}

/// Members as stored, from members as a client sent them where members are listed by user name
/// (a user name stands for its user).
fn members_by_id(directory: &Directory, quirks: &Quirks, kind: Kind, mut resource: Map<String, Value>) -> Map<String, Value> {
    if !(quirks.members_by_user_name && kind == Kind::Groups) {
        return resource;
    }
    if let Some(Value::Array(members)) = resource.get_mut("members") {
        for member in members.iter_mut() {
            if let Some(value) = member.get("value").and_then(Value::as_str)
                && let Some((id, _)) = directory.user_named(value)
            {
                *member = json!({"value": id});
            }
        }
    }
    resource
}

/// What a strict schema refuses of a user: no `name.formatted`, sub-attributes it does not
/// declare, `roles`.
fn strictly(quirks: &Quirks, user: &Map<String, Value>) -> Result<(), Reply> {
    let formatted = user.get("name").and_then(|n| n.get("formatted")).and_then(Value::as_str).is_some_and(|f| !f.is_empty());
    if !formatted {
        return Err(Reply::error(
            quirks,
            400,
            Some("invalidValue"),
            "Field 'formatted' is required but value is missing, null or empty: name",
        ));
    }
    for attribute in ["emails", "phoneNumbers"] {
        for (index, item) in user.get(attribute).and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Some(extra) = item.as_object().and_then(|i| i.keys().find(|k| *k != "value")) {
                return Err(Reply::error(
                    quirks,
                    400,
                    Some("invalidSyntax"),
                    &format!("Extra inputs are not permitted: {attribute}[{index}].{extra}"),
                ));
            }
        }
    }
    if user.contains_key("roles") {
        return Err(Reply::error(quirks, 400, Some("invalidSyntax"), "Extra inputs are not permitted: roles"));
    }
    Ok(())
}

/// What a strict schema refuses of members a client sends: sub-attributes it does not declare,
/// and no `$ref`.
fn strict_members(quirks: &Quirks, members: Option<&Value>) -> Result<(), Reply> {
    if !quirks.strict_schema {
        return Ok(());
    }
    for member in members.and_then(Value::as_array).into_iter().flatten() {
        if let Some(extra) = member.as_object().and_then(|m| m.keys().find(|k| !["value", "$ref", "display"].contains(&k.as_str()))) {
            return Err(Reply::error(quirks, 400, Some("invalidSyntax"), &format!("Extra inputs are not permitted: members.{extra}")));
        }
        if member.get("$ref").is_none() {
            return Err(Reply::error(quirks, 400, Some("invalidValue"), "Field '$ref' is required but value is missing: members"));
        }
    }
    Ok(())
}

/// A strict schema's group `displayName` is immutable: a change is refused as the quirk's
/// service does, with a 500 that names its SCIM error type.
fn immutable_name(directory: &Directory, quirks: &Quirks, kind: Kind, id: &str, resource: &Map<String, Value>) -> Result<(), Reply> {
    if !quirks.strict_schema || kind != Kind::Groups {
        return Ok(());
    }
    let before = directory.groups.get(id).and_then(|g| g.as_object()).and_then(|g| text(g, "displayName"));
    if before.is_some() && before != text(resource, "displayName") {
        return Err(Reply::error(quirks, 500, Some("mutability"), "displayName is immutable"));
    }
    Ok(())
}

/// Checks a user or group as it would be stored; `id` is its own (none when new).
fn check(directory: &Directory, quirks: &Quirks, kind: Kind, id: Option<&str>, resource: &Map<String, Value>) -> Result<(), Reply> {
    let invalid = |detail: String| Reply::error(quirks, 400, Some("invalidValue"), &detail);
    match kind {
        Kind::Users => {
            let Some(name) = text(resource, "userName").filter(|n| !n.trim().is_empty()) else {
                return Err(invalid("userName is required".into()));
            };
            if directory.user_named(name).is_some_and(|(other, _)| Some(other.as_str()) != id) {
                return Err(Reply::error(quirks, 409, Some("uniqueness"), &format!("userName {name} is already taken")));
            }
            if let Some((_, active)) = resource.iter().find(|(k, _)| k.eq_ignore_ascii_case("active"))
                && !active.is_boolean()
            {
                return Err(invalid(format!("active must be a boolean, not {active}")));
            }
            if quirks.strict_schema {
                strictly(quirks, resource)?;
            }
            if let Some(Value::Array(roles)) = resource.iter().find(|(k, _)| k.eq_ignore_ascii_case("roles")).map(|(_, v)| v) {
                for role in roles {
                    let value = role.get("value").and_then(Value::as_str).unwrap_or_default();
                    if directory.flavor == Flavor::Fivetran && !FIVETRAN_ACCOUNT_ROLES.contains(&value) {
                        return Err(invalid(format!("role {value:?} is not an account role")));
                    }
                    if role.get("primary").is_some_and(|p| !p.is_boolean()) {
                        return Err(invalid("primary must be a boolean".into()));
                    }
                }
            }
        }
        Kind::Groups => {
            let Some(name) = text(resource, "displayName").filter(|n| !n.trim().is_empty()) else {
                return Err(invalid("displayName is required".into()));
            };
            // A service whose filters compare case-sensitively keeps names unique the same way.
            let taken = if quirks.case_sensitive_filter { directory.group_named_exactly(name) } else { directory.group_named(name) };
            if taken.is_some_and(|(other, _)| Some(other.as_str()) != id) {
                return Err(Reply::error(quirks, 409, Some("uniqueness"), &format!("displayName {name} is already taken")));
            }
            if let Some(Value::Array(members)) = resource.get("members") {
                for member in members {
                    let value = member.get("value").and_then(Value::as_str).unwrap_or_default();
                    let itself = Some(value) == id && directory.kind_of(value) == Some("group");
                    if directory.kind_of(value).is_none() || itself {
                        return Err(invalid(format!("member {value:?} does not exist")));
                    }
                }
            }
        }
    }
    Ok(())
}

fn create(directory: &mut Directory, quirks: &Quirks, kind: Kind, body: Map<String, Value>, root: &str) -> Reply {
    if let Err(reply) = strict_members(quirks, body.get("members")) {
        return reply;
    }
    let resource = members_by_id(directory, quirks, kind, clean(body));
    if let Err(reply) = check(directory, quirks, kind, None, &resource) {
        return reply;
    }
    let id = directory.fresh_id(if kind == Kind::Users { 'u' } else { 'g' });
    let resource = Value::Object(resource);
    let shown = render(directory, quirks, kind, &id, &resource, root);
    stored_mut(directory, kind).insert(id, resource);
    Reply::json(201, shown)
}

fn replace(directory: &mut Directory, quirks: &Quirks, kind: Kind, id: &str, body: Map<String, Value>, root: &str) -> Reply {
    if !stored(directory, kind).contains_key(id) {
        return not_found(quirks, kind, id);
    }
    let resource = members_by_id(directory, quirks, kind, clean(body));
    let resource = if quirks.string_booleans { unstringify(resource) } else { resource };
    if let Err(reply) =
        immutable_name(directory, quirks, kind, id, &resource).and_then(|()| check(directory, quirks, kind, Some(id), &resource))
    {
        return reply;
    }
    stored_mut(directory, kind).insert(id.to_owned(), Value::Object(resource));
    changed(directory, quirks, kind, id, root)
}

/// What a service that writes `"True"` reads back: its own booleans.
fn unstringify(mut object: Map<String, Value>) -> Map<String, Value> {
    fn walk(value: &mut Value) {
        match value {
            Value::String(s) if s == "True" || s == "False" => *value = json!(s == "True"),
            Value::Object(inner) => inner.values_mut().for_each(walk),
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    object.values_mut().for_each(walk);
    object
}

/// The answer to a successful PUT or PATCH: the resource, or 204 where the quirk says.
fn changed(directory: &Directory, quirks: &Quirks, kind: Kind, id: &str, root: &str) -> Reply {
    if quirks.no_content {
        return Reply::empty(204);
    }
    let resource = &stored(directory, kind)[id];
    Reply::json(200, render(directory, quirks, kind, id, resource, root))
}

fn patch(directory: &mut Directory, quirks: &Quirks, kind: Kind, id: &str, body: Map<String, Value>, root: &str) -> Reply {
    let Some(current) = stored(directory, kind).get(id).cloned() else { return not_found(quirks, kind, id) };
    let syntax = |detail: &str| Reply::error(quirks, 400, Some("invalidSyntax"), detail);
    let schemas_ok = body.get("schemas").and_then(Value::as_array).is_some_and(|s| s.iter().any(|v| v == PATCH_OP));
    if !schemas_ok {
        return syntax("schemas must name the PatchOp message");
    }
    let Some(Value::Array(operations)) = body.get("Operations") else { return syntax("Operations is required") };
    let mut resource = current.as_object().cloned().unwrap_or_default();
    // Where members are listed by user name, PATCH works on the members as listed.
    let by_name = quirks.members_by_user_name && kind == Kind::Groups;
    if by_name {
        let listed = render(directory, quirks, kind, id, &current, root);
        resource.insert("members".into(), listed.get("members").cloned().unwrap_or(json!([])));
    }
    for operation in operations {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or_default();
        if !["add", "remove", "replace"].contains(&op) {
            return syntax(&format!("op {op:?} is not one of add, remove, replace (lower case)"));
        }
        let path = operation.get("path").and_then(Value::as_str);
        if quirks.patch_members_only && !path.is_some_and(|p| p.to_ascii_lowercase().starts_with("members")) {
            return Reply::json(501, json!({"schemas": [ERROR], "detail": "", "status": 501}));
        }
        let value = operation.get("value").cloned();
        if kind == Kind::Groups && path.is_some_and(|p| p.eq_ignore_ascii_case("members")) && op != "remove" {
            if let Err(reply) = strict_members(quirks, value.as_ref()) {
                return reply;
            }
        }
        match apply(&mut resource, op, path, value) {
            Err(detail) if by_name && detail.starts_with("no values") => {}
            Err(detail) => return Reply::error(quirks, 400, Some("invalidPath"), &detail),
            Ok(()) => {}
        }
    }
    if by_name {
        // Back from the listed form: a user name, or an id as sent.
        let members: Vec<Value> = resource
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("value").and_then(Value::as_str))
            .map(|value| directory.user_named(value).map_or(value.to_owned(), |(id, _)| id.clone()))
            .map(|value| json!({"value": value}))
            .collect();
        resource.insert("members".into(), Value::Array(members));
    }
    if let Err(reply) =
        immutable_name(directory, quirks, kind, id, &resource).and_then(|()| check(directory, quirks, kind, Some(id), &resource))
    {
        return reply;
    }
    stored_mut(directory, kind).insert(id.to_owned(), Value::Object(resource));
    changed(directory, quirks, kind, id, root)
}

fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

/// One PATCH operation (RFC 7644 section 3.5.2), for the paths clients send.
fn apply(resource: &mut Map<String, Value>, op: &str, path: Option<&str>, value: Option<Value>) -> Result<(), String> {
    let Some(path) = path else {
        let Some(Value::Object(attributes)) = value else { return Err("an operation without a path needs an object value".into()) };
        if op == "remove" {
            return Err("remove needs a path".into());
        }
        for (name, value) in attributes {
            let key = key_of(resource, &name);
            resource.insert(key, value);
        }
        return Ok(());
    };
    if let Some((attribute, rest)) = path.split_once('[') {
        // attribute[sub eq "x"], optionally followed by .subAttribute
        let (filter, after) = rest.split_once(']').ok_or("unclosed filter in path")?;
        let target = after.strip_prefix('.').filter(|t| !t.is_empty());
        let (sub, wanted) = parse_filter(filter).ok_or("cannot parse the path's filter")?;
        let key = key_of(resource, attribute);
        let Some(Value::Array(items)) = resource.get_mut(&key) else { return Err(format!("no values of {attribute} match")) };
        let matches = |item: &Value| item.as_object().and_then(|i| text(i, &sub)) == Some(wanted.as_str());
        let before = items.len();
        let matched = items.iter().filter(|item| matches(item)).count();
        if matched == 0 {
            return Err(format!("no values of {attribute} match"));
        }
        match (op, target, value) {
            ("remove", None, _) => items.retain(|item| !matches(item)),
            ("replace", Some(target), Some(value)) => {
                for item in items.iter_mut().filter(|item| matches(item)) {
                    if let Some(object) = item.as_object_mut() {
                        let target_key = key_of(object, target);
                        object.insert(target_key, value.clone());
                    }
                }
            }
            ("replace", None, Some(value)) => {
                for item in items.iter_mut().filter(|item| matches(item)) {
                    *item = value.clone();
                }
            }
            _ => return Err("this operation is not supported with a filter".into()),
        }
        let _ = before;
        return Ok(());
    }
    if let Some((parent, child)) = path.split_once('.') {
        let key = key_of(resource, parent);
        let slot = resource.entry(key).or_insert_with(|| json!({}));
        let object = slot.as_object_mut().ok_or("the parent is not complex")?;
        let child_key = key_of(object, child);
        match (op, value) {
            ("remove", _) => drop(object.remove(&child_key)),
            (_, Some(value)) => drop(object.insert(child_key, value)),
            _ => return Err("a value is required".into()),
        }
        return Ok(());
    }
    let key = key_of(resource, path);
    match (op, value) {
        ("remove", _) => drop(resource.remove(&key)),
        ("add", Some(Value::Array(new))) => {
            let items = resource.entry(key).or_insert_with(|| json!([]));
            if !items.is_array() {
                *items = json!([]);
            }
            let items = items.as_array_mut().expect("made an array");
            for item in new {
                let value = item.get("value").cloned();
                if value.is_none() || !items.iter().any(|i| i.get("value") == value.as_ref()) {
                    items.push(item);
                }
            }
        }
        (_, Some(value)) => drop(resource.insert(key, value)),
        _ => return Err("a value is required".into()),
    }
    Ok(())
}
