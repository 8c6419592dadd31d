//! Merging what a sync's pages found: a listing's own records win over the placeholders other
//! listings reveal, and the result is the same whatever order the pages came in.

use std::collections::BTreeMap;

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
        for ((resource_type, id), (resource, _)) in self.resources {
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
            })
            .collect();
        let entitlement_ids: std::collections::BTreeSet<&str> = entitlements.iter().map(|e| e.id.as_str()).collect();

        let mut dropped = 0u64;
        let mut grants = Vec::with_capacity(self.grants.len());
        for grant in self.grants.into_values() {
            let principal = key(&grant.principal);
            if !entitlement_ids.contains(grant.entitlement.as_str()) || !known.contains(&principal) {
                dropped += 1;
                if dropped as usize <= DROPPED_GRANTS_LOGGED {
                    let shown = crate::text::escape_controls(&grant.id);
                    tracing::warn!(tenant = %tenant.id, "dropped grant {shown}: its entitlement or principal is not in the account (changed during the sync?)");
                }
                continue;
            }
            grants.push(GrantRecord { id: grant.id, entitlement: grant.entitlement, principal, expandable: grant.expandable });
        }
        if dropped as usize > DROPPED_GRANTS_LOGGED {
            tracing::warn!(tenant = %tenant.id, "dropped {dropped} grants in all");
        }
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
            stats: Stats { dropped_grants: dropped, ..Stats::default() },
        })
    }
}
