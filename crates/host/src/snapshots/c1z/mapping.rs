//! Snapshot records as baton's messages, and back. Traits and purposes follow what each connector
//! declared (its resource types' identity and profile keys, its entitlements' purpose); the host
//! knows no connector's words.

use prost::Message;
use serde_json::{Map, Value};

use super::times::timestamp;
use crate::baton;
use crate::snapshot::{EntitlementRecord, Identity, Purpose, ResourceKey, ResourceRecord, ResourceTypeRecord};

/// The baton trait of what a resource type's connector declared it is.
pub fn trait_of(declared: Option<Identity>) -> Option<baton::Trait> {
    match declared? {
        Identity::User => Some(baton::Trait::User),
        Identity::Group => Some(baton::Trait::Group),
        Identity::Role => Some(baton::Trait::Role),
        Identity::App => Some(baton::Trait::App),
    }
}

/// The baton purpose of what an entitlement's connector declared it means (unspecified in
/// snapshots from before connectors declared it).
pub fn purpose_of(declared: Option<Purpose>) -> baton::Purpose {
    match declared {
        Some(Purpose::Assignment) => baton::Purpose::Assignment,
        Some(Purpose::Permission) => baton::Purpose::Permission,
        None => baton::Purpose::Unspecified,
    }
}

/// What a resource type declared it is, from its baton traits (the first one known).
pub(crate) fn identity_of(traits: &[i32]) -> Option<Identity> {
    traits.iter().find_map(|t| match baton::Trait::try_from(*t) {
        Ok(baton::Trait::User) => Some(Identity::User),
        Ok(baton::Trait::Group) => Some(Identity::Group),
        Ok(baton::Trait::Role) => Some(Identity::Role),
        Ok(baton::Trait::App) => Some(Identity::App),
        _ => None,
    })
}

/// What an entitlement declared it means, from its baton purpose.
pub(crate) fn purpose_from(purpose: i32) -> Option<Purpose> {
    match baton::Purpose::try_from(purpose) {
        Ok(baton::Purpose::Assignment) => Some(Purpose::Assignment),
        Ok(baton::Purpose::Permission) => Some(Purpose::Permission),
        _ => None,
    }
}

pub(crate) fn resource_id(key: &ResourceKey) -> baton::ResourceId {
    baton::ResourceId { resource_type: key.resource_type.clone(), resource: key.id.clone() }
}

pub(crate) fn resource_message(record: &ResourceRecord, declared: Option<&ResourceTypeRecord>) -> baton::Resource {
    let profile = record.traits.as_object().map(baton::to_struct);
    let keys = declared.and_then(|d| d.profile.clone()).unwrap_or_default();
    // The value of the trait the connector declared holds this part of the profile.
    let text = |key: &Option<String>| key.as_deref().and_then(|k| record.traits.get(k)).and_then(Value::as_str).map(str::to_owned);
    let annotation = match trait_of(declared.and_then(|d| d.identity)) {
        Some(baton::Trait::User) => {
            let status = match text(&keys.status).as_deref() {
                Some("enabled") => baton::UserStatus::Enabled,
                Some("disabled") => baton::UserStatus::Disabled,
                _ => baton::UserStatus::Unspecified,
            };
            let user = baton::UserTrait {
                emails: text(&keys.email).map(|address| vec![baton::Email { address, is_primary: true }]).unwrap_or_default(),
                status: Some(baton::Status { status: status as i32, details: String::new() }),
                profile,
                login: text(&keys.login).or_else(|| text(&keys.email)).unwrap_or_default(),
                created_at: text(&keys.created_at).as_deref().and_then(timestamp),
                last_login: text(&keys.last_login).as_deref().and_then(timestamp),
                structured_name: match (text(&keys.given_name), text(&keys.family_name)) {
                    (None, None) => None,
                    (given, family) => {
                        Some(baton::StructuredName { given_name: given.unwrap_or_default(), family_name: family.unwrap_or_default() })
                    }
                },
            };
            Some(baton::Any::pack("UserTrait", &user))
        }
        Some(baton::Trait::Group) => Some(baton::Any::pack("GroupTrait", &baton::GroupTrait { profile })),
        Some(baton::Trait::Role) => Some(baton::Any::pack("RoleTrait", &baton::RoleTrait { profile })),
        // Another type's traits ride in a GroupTrait-free annotation of our own name.
        _ => profile.map(|p| baton::Any { type_url: PROFILE_TYPE_URL.into(), value: p.encode_to_vec() }),
    };
    baton::Resource {
        id: Some(resource_id(&record.key())),
        parent_resource_id: None,
        display_name: record.display_name.clone(),
        annotations: annotation.into_iter().collect(),
        description: String::new(),
    }
}

/// The traits of a resource whose type has no baton trait, as a `google.protobuf.Struct`.
const PROFILE_TYPE_URL: &str = "type.googleapis.com/google.protobuf.Struct";

pub(crate) fn entitlement_message(record: &EntitlementRecord, display: &str) -> baton::Entitlement {
    baton::Entitlement {
        resource: Some(baton::Resource { id: Some(resource_id(&record.resource)), display_name: display.to_owned(), ..Default::default() }),
        id: record.id.clone(),
        display_name: record.display_name.clone(),
        description: String::new(),
        grantable_to: record.grantable_to.iter().map(|t| baton::ResourceType { id: t.clone(), ..Default::default() }).collect(),
        annotations: Vec::new(),
        purpose: purpose_of(record.purpose) as i32,
        slug: record.slug.clone(),
    }
}

/// The JSON traits a resource's trait annotation carries as its profile.
pub(crate) fn traits_of(resource: &baton::Resource) -> Value {
    for annotation in &resource.annotations {
        let profile = match annotation.name() {
            Some("UserTrait") => baton::UserTrait::decode(annotation.value.as_slice()).ok().and_then(|t| t.profile),
            Some("GroupTrait") => baton::GroupTrait::decode(annotation.value.as_slice()).ok().and_then(|t| t.profile),
            Some("RoleTrait") => baton::RoleTrait::decode(annotation.value.as_slice()).ok().and_then(|t| t.profile),
            _ if annotation.type_url == PROFILE_TYPE_URL => baton::Struct::decode(annotation.value.as_slice()).ok(),
            _ => None,
        };
        if let Some(profile) = profile {
            return Value::Object(baton::from_struct(&profile));
        }
    }
    Value::Object(Map::new())
}
