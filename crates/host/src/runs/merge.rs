//! Merging what a sync's pages found: a listing's own records win over the placeholders other
//! listings reveal, and the result is the same whatever order the pages came in.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::bindings::latest::types::{Entitlement, Grant, Page, Resource};
use crate::error::{HostError, Result};
use crate::failure::redact;
use crate::snapshot::{ConnectorInfo, EntitlementRecord, FORMAT, GrantRecord, ResourceKey, ResourceRecord, Snapshot, Stats};
use crate::tenant::TenantConfig;

/// Most dropped grants named in the log; the rest are counted.
const DROPPED_GRANTS_LOGGED: usize = 5;

/// What the pages found, merged: a listing's own records win over placeholders other listings
/// reveal; among placeholders the connector guarantees equal records for equal ids.
#[derive(Default)]
pub(crate) struct Merged {
    resources: BTreeMap<(String, String), (Resource, bool)>,
    entitlements: BTreeMap<String, (Entitlement, bool)>,
    grants: BTreeMap<String, Grant>,
}

impl Merged {
    /// A page of `listed_type`'s listing (none for a grant listing). A record its own listing
    /// reports twice with different data is an error: two users under one id are not one user
    /// holding both users' access. The same record twice (offset paging over a changing account
    /// does that) is kept once.
    pub(crate) fn add(&mut self, page: Page, listed_type: Option<&str>) -> std::result::Result<(), String> {
        for resource in page.resources {
            let primary = listed_type == Some(resource.resource_type.as_str());
            if primary && let Some((kept, true)) = self.resources.get(&(resource.resource_type.clone(), resource.id.clone())) {
                if *kept != resource {
                    return Err(format!(
                        "it listed {} {:?} twice with different data (as {:?} and as {:?})",
                        resource.resource_type, resource.id, kept.display_name, resource.display_name
                    ));
                }
                continue;
            }
            self.keep_resource(resource, primary);
        }
        self.add_entitlements(page.entitlements, false);
        for grant in page.grants {
            self.grants.insert(grant.id.clone(), grant);
        }
        Ok(())
    }

    pub(crate) fn add_entitlements(&mut self, entitlements: Vec<Entitlement>, primary: bool) {
        for entitlement in entitlements {
            self.keep_entitlement(entitlement, primary);
        }
    }

    /// Folds another worker's findings in; the rules make the order of folding irrelevant.
    pub(crate) fn absorb(&mut self, other: Merged) {
        for (resource, primary) in other.resources.into_values() {
            self.keep_resource(resource, primary);
        }
        for (entitlement, primary) in other.entitlements.into_values() {
            self.keep_entitlement(entitlement, primary);
        }
        self.grants.extend(other.grants);
    }

    fn keep_resource(&mut self, resource: Resource, primary: bool) {
        let key = (resource.resource_type.clone(), resource.id.clone());
        if !primary && self.resources.get(&key).is_some_and(|(_, kept_primary)| *kept_primary) {
            return;
        }
        self.resources.insert(key, (resource, primary));
    }

    fn keep_entitlement(&mut self, entitlement: Entitlement, primary: bool) {
        if !primary && self.entitlements.get(&entitlement.id).is_some_and(|(_, kept_primary)| *kept_primary) {
            return;
        }
        self.entitlements.insert(entitlement.id.clone(), (entitlement, primary));
    }

    pub(crate) fn count(&self, resource_type: &str) -> usize {
        self.resources.values().filter(|(r, _)| r.resource_type == resource_type).count()
    }

    /// Every resource of a type, placeholders included, for entitlement and grant listing.
    pub(crate) fn primaries(&self, resource_type: &str) -> Vec<Resource> {
        self.resources.values().filter(|(r, _)| r.resource_type == resource_type).map(|(r, _)| r.clone()).collect()
    }

    /// Checks references, drops grants whose entitlement or principal is missing, and sorts.
    pub(crate) fn into_snapshot(self, tenant: &TenantConfig) -> Result<Snapshot> {
        let mut resources = Vec::with_capacity(self.resources.len());
        let mut aliases = Aliases::default();
        for ((resource_type, id), (resource, _)) in self.resources {
            aliases.add(&resource_type, &id, resource.aliases);
            // An API may echo a credential into any field; none reaches the snapshot. JSON
            // text holds JSON-escaped forms, which the redaction knows.
            let traits_json = tenant.credentials.redacted(&resource.traits_json);
            let display_name = tenant.credentials.redact_owned(resource.display_name);
            let traits: Value = serde_json::from_str(&traits_json).map_err(|_| {
                redact(
                    tenant,
                    HostError::other(format!(
                        "the connector reported traits of {resource_type} {id} that are not JSON; this is a connector bug"
                    )),
                )
            })?;
            if !traits.is_object() {
                return Err(HostError::other(format!(
                    "the connector reported traits of {resource_type} {id} that are not a JSON object; this is a connector bug"
                )));
            }
            resources.push(ResourceRecord { resource_type, id, display_name, traits });
        }
        let known: std::collections::BTreeSet<ResourceKey> = resources.iter().map(ResourceRecord::key).collect();
        let key =
            |r: &crate::bindings::latest::types::ResourceRef| ResourceKey { resource_type: r.resource_type.clone(), id: r.id.clone() };

        let entitlements: Vec<EntitlementRecord> = self
            .entitlements
            .into_values()
            .map(|(e, _)| e)
            .filter(|e| known.contains(&key(&e.resource)))
            .map(|e| EntitlementRecord {
                id: e.id,
                resource: key(&e.resource),
                slug: e.slug,
                display_name: e.display_name,
                grantable_to: e.grantable_to,
                purpose: crate::snapshot::declared_purpose(e.purpose),
            })
            .collect();
        let entitlement_ids: std::collections::BTreeSet<&str> = entitlements.iter().map(|e| e.id.as_str()).collect();

        let mut dropped = 0u64;
        let mut unresolved = 0u64;
        let mut grants: BTreeMap<String, GrantRecord> = BTreeMap::new();
        for grant in self.grants.into_values() {
            if !entitlement_ids.contains(grant.entitlement.as_str()) {
                dropped += 1;
                if dropped + unresolved <= DROPPED_GRANTS_LOGGED as u64 {
                    let shown = crate::text::escape_controls(&grant.id);
                    tracing::warn!(tenant = %tenant.id, "dropped grant {shown}: its entitlement is not in the account (changed during the sync?)");
                }
                continue;
            }
            let principal = key(&grant.principal);
            let principal = if known.contains(&principal) {
                principal
            } else {
                match aliases.resolve(&principal.resource_type, std::iter::once(&principal.id).chain(&grant.principal_aliases)) {
                    Some(id) => ResourceKey { resource_type: principal.resource_type, id: id.to_owned() },
                    None => {
                        unresolved += 1;
                        if dropped + unresolved <= DROPPED_GRANTS_LOGGED as u64 {
                            let shown = crate::text::escape_controls(&grant.id);
                            let named = format!("{}:{}", principal.resource_type, principal.id);
                            let named = crate::text::escape_controls(&named);
                            tracing::warn!(tenant = %tenant.id, "left out grant {shown}: its principal {named} is none of the {}s listed, by id or alias", principal.resource_type);
                        }
                        continue;
                    }
                }
            };
            // A grant named by an alias is reported under the principal's id, as every other is.
            let id = if principal.id == grant.principal.id {
                grant.id
            } else {
                format!("{}:{}:{}", grant.entitlement, principal.resource_type, principal.id)
            };
            grants.insert(id.clone(), GrantRecord { id, entitlement: grant.entitlement, principal, expandable: grant.expandable });
        }
        if dropped + unresolved > DROPPED_GRANTS_LOGGED as u64 {
            tracing::warn!(tenant = %tenant.id, "left out {} grants in all: {dropped} whose entitlement and {unresolved} whose principal was not listed", dropped + unresolved);
        }
        let grants: Vec<GrantRecord> = grants.into_values().collect();
        Ok(Snapshot {
            format: FORMAT.into(),
            connector: ConnectorInfo { name: String::new(), version: String::new() },
            tenant: tenant.id.clone(),
            started_at: String::new(),
            finished_at: String::new(),
            resource_types: Vec::new(),
            resources,
            entitlements,
            grants,
            stats: Stats { dropped_grants: dropped + unresolved, unresolved_principals: unresolved, ..Stats::default() },
        })
    }
}

/// The other keys resources go by, for grants that name their principal by one.
#[derive(Default)]
struct Aliases(HashMap<(String, String), Option<String>>);

impl Aliases {
    fn add(&mut self, resource_type: &str, id: &str, aliases: Vec<String>) {
        for alias in aliases {
            self.0
                .entry((resource_type.to_owned(), alias))
                .and_modify(|named| {
                    // An alias two resources share names neither.
                    if named.as_deref() != Some(id) {
                        *named = None;
                    }
                })
                .or_insert_with(|| Some(id.to_owned()));
        }
    }

    /// The id of the one resource of `resource_type` that the first resolving key names.
    fn resolve<'k>(&self, resource_type: &str, keys: impl Iterator<Item = &'k String>) -> Option<&str> {
        if self.0.is_empty() {
            return None;
        }
        keys.filter_map(|key| self.0.get(&(resource_type.to_owned(), key.clone()))).find_map(|named| named.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::latest::types::ResourceRef;
    use crate::credentials::Credentials;
    use crate::tenant::TenantConfig;

    fn resource(resource_type: &str, id: &str, aliases: &[&str]) -> Resource {
        Resource {
            resource_type: resource_type.into(),
            id: id.into(),
            display_name: id.into(),
            traits_json: "{}".into(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    fn member(principal: &str, aliases: &[&str]) -> Grant {
        Grant {
            id: format!("group:g1:member:user:{principal}"),
            entitlement: "group:g1:member".into(),
            principal: ResourceRef { resource_type: "user".into(), id: principal.into() },
            expandable: Vec::new(),
            principal_aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn grants_naming_a_principal_by_alias_are_reported_under_its_id() {
        let mut merged = Merged::default();
        let page = Page {
            resources: vec![
                resource("user", "5f1c", &["https://s/Users/alice"]),
                resource("user", "77aa", &["https://s/Users/bob", "shared"]),
                resource("user", "99bb", &["shared"]),
                resource("group", "g1", &[]),
            ],
            entitlements: vec![Entitlement {
                id: "group:g1:member".into(),
                resource: ResourceRef { resource_type: "group".into(), id: "g1".into() },
                slug: "member".into(),
                display_name: "g1 member".into(),
                grantable_to: vec!["user".into()],
                purpose: Some(crate::bindings::latest::types::EntitlementPurpose::Assignment),
            }],
            grants: vec![
                member("alice", &["https://s/Users/alice"]),
                member("77aa", &[]),
                member("https://s/Users/bob", &[]),
                member("shared", &[]),
                member("carol", &["https://s/Users/carol"]),
            ],
            next_page_token: None,
        };
        merged.add(page, Some("user")).unwrap();
        let tenant = TenantConfig::new("t", "https://s", Credentials::new("k", "s"));
        let snapshot = merged.into_snapshot(&tenant).unwrap();
        let grants: Vec<&str> = snapshot.grants.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(grants, ["group:g1:member:user:5f1c", "group:g1:member:user:77aa"], "bob's two names are one grant");
        assert_eq!(snapshot.grants[0].principal.id, "5f1c");
        assert_eq!((snapshot.stats.dropped_grants, snapshot.stats.unresolved_principals), (2, 2), "an alias two share, and one nobody has");
    }
}
