//! A full sync: the host walks the connector's listings page by page, retries what is worth
//! retrying, merges what the pages reveal, and builds the snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::Value;

use crate::bindings::v0_2::types::{Capability, ConnectorError, Entitlement, Grant, Page, Resource};
use crate::error::{HostError, Result};
use crate::failure::{call_failure, redact};
use crate::http::RequestMeter;
use crate::retry::{Retrier, RetryStats, retrying};
use crate::runtime::{CallError, ConnectorRuntime, Session};
use crate::snapshot::{
    ConnectorInfo, EntitlementRecord, FORMAT, GrantRecord, ResourceKey, ResourceRecord, ResourceTypeRecord, Snapshot,
    Stats,
};
use crate::tenant::TenantConfig;

/// Most dropped grants named in the log; the rest are counted.
const DROPPED_GRANTS_LOGGED: usize = 5;

/// Syncs one tenant's account, within the tenant's run time limit.
pub async fn sync(runtime: &ConnectorRuntime, tenant: &TenantConfig) -> Result<Snapshot> {
    let limit = tenant.run_timeout;
    match tokio::time::timeout(limit, sync_unbounded(runtime, tenant)).await {
        Ok(result) => result,
        Err(_) => Err(HostError::Sandbox(format!(
            "tenant {}: the sync ran longer than its limit of {}s and was stopped; raise timeout_s in the tenant file",
            tenant.id,
            limit.as_secs()
        ))),
    }
}

async fn sync_unbounded(runtime: &ConnectorRuntime, tenant: &TenantConfig) -> Result<Snapshot> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let meter = Arc::new(RequestMeter::default());
    let mut session = runtime.open(tenant, Arc::clone(&meter)).await?;
    let metadata = session.metadata().await.map_err(|e| call_failure(tenant, e, 1))?;
    if !metadata.capabilities.contains(&Capability::Sync) {
        return Err(HostError::Usage(format!("the plugin {} cannot sync", metadata.name)));
    }

    let mut driver = Driver { tenant, session: &mut session, merged: Merged::default(), stats: RetryStats::default() };

    for resource_type in &metadata.resource_types {
        let mut token = None;
        loop {
            let page = driver.page(Listing::Resources(&resource_type.id), token.as_deref()).await?;
            token = page.next_page_token.clone();
            driver.merged.add(page, Some(&resource_type.id));
            if token.is_none() {
                break;
            }
        }
        tracing::info!(tenant = %tenant.id, "listed {} {}s", driver.merged.count(&resource_type.id), resource_type.id);
    }

    for resource_type in &metadata.resource_types {
        let related: Vec<Resource> = resource_type
            .entitlements_need
            .iter()
            .flat_map(|needed| driver.merged.primaries(needed))
            .collect();
        for resource in driver.merged.primaries(&resource_type.id) {
            let entitlements = driver
                .session
                .list_entitlements(&resource, &related)
                .await
                .map_err(|e| call_failure(tenant, e, 1))?;
            driver.merged.add_entitlements(entitlements, true);
        }
    }

    for resource_type in &metadata.resource_types {
        for resource in driver.merged.primaries(&resource_type.id) {
            let mut token = None;
            loop {
                let page = driver.page(Listing::Grants(&resource), token.as_deref()).await?;
                token = page.next_page_token.clone();
                driver.merged.add(page, None);
                if token.is_none() {
                    break;
                }
            }
        }
        tracing::info!(tenant = %tenant.id, "listed grants on {}s", resource_type.id);
    }

    let RetryStats { retries, rate_limit_waits } = driver.stats;
    let merged = std::mem::take(&mut driver.merged);
    let mut snapshot = merged.into_snapshot(tenant)?;
    snapshot.connector = ConnectorInfo { name: metadata.name, version: metadata.version };
    let mut types: Vec<ResourceTypeRecord> = metadata
        .resource_types
        .iter()
        .map(|t| ResourceTypeRecord { id: t.id.clone(), display_name: t.display_name.clone() })
        .collect();
    types.sort_by(|a, b| a.id.cmp(&b.id));
    snapshot.resource_types = types;
    snapshot.started_at = rfc3339(started_at);
    snapshot.finished_at = rfc3339(SystemTime::now());
    snapshot.stats.http_requests = meter.requests();
    snapshot.stats.duration_ms = started.elapsed().as_millis() as u64;
    snapshot.stats.retries = retries;
    snapshot.stats.rate_limit_waits = rate_limit_waits;
    Ok(snapshot)
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

enum Listing<'a> {
    Resources(&'a str),
    Grants(&'a Resource),
}

struct Driver<'a> {
    tenant: &'a TenantConfig,
    session: &'a mut Session,
    merged: Merged,
    stats: RetryStats,
}

impl Driver<'_> {
    /// One page, retried as the tenant's policy allows. A resource that vanished since it was
    /// listed has no grants.
    async fn page(&mut self, listing: Listing<'_>, token: Option<&str>) -> Result<Page> {
        let session = &mut *self.session;
        let mut retrier = Retrier::new(&self.tenant.retry, &self.tenant.id, &mut self.stats);
        let result: Result<Page, (CallError, u32)> = retrying!(retrier, match &listing {
            Listing::Resources(resource_type) => session.list_resources(resource_type, token).await,
            Listing::Grants(resource) => session.list_grants(resource, token).await,
        });
        match result {
            Ok(page) => Ok(page),
            Err((CallError::Connector(ConnectorError::NotFound(why)), _)) if matches!(listing, Listing::Grants(_)) => {
                if let Listing::Grants(resource) = listing {
                    tracing::warn!(tenant = %self.tenant.id, "{} {} vanished during the sync: {why}", resource.resource_type, resource.id);
                }
                Ok(Page { resources: vec![], entitlements: vec![], grants: vec![], next_page_token: None })
            }
            Err((error, attempts)) => Err(call_failure(self.tenant, error, attempts)),
        }
    }
}

/// What the pages found, merged: a listing's own records win over placeholders other listings
/// reveal; among placeholders the connector guarantees equal records for equal ids.
#[derive(Default)]
struct Merged {
    resources: BTreeMap<(String, String), (Resource, bool)>,
    entitlements: BTreeMap<String, (Entitlement, bool)>,
    grants: BTreeMap<String, Grant>,
}

impl Merged {
    fn add(&mut self, page: Page, listed_type: Option<&str>) {
        for resource in page.resources {
            let primary = listed_type == Some(resource.resource_type.as_str());
            let key = (resource.resource_type.clone(), resource.id.clone());
            match self.resources.get(&key) {
                Some((_, true)) if !primary => {}
                _ => {
                    self.resources.insert(key, (resource, primary));
                }
            }
        }
        self.add_entitlements(page.entitlements, false);
        for grant in page.grants {
            self.grants.insert(grant.id.clone(), grant);
        }
    }

    fn add_entitlements(&mut self, entitlements: Vec<Entitlement>, primary: bool) {
        for entitlement in entitlements {
            match self.entitlements.get(&entitlement.id) {
                Some((_, true)) if !primary => {}
                _ => {
                    self.entitlements.insert(entitlement.id.clone(), (entitlement, primary));
                }
            }
        }
    }

    fn count(&self, resource_type: &str) -> usize {
        self.resources.values().filter(|(r, _)| r.resource_type == resource_type).count()
    }

    /// Every resource of a type, placeholders included, for entitlement and grant listing.
    fn primaries(&self, resource_type: &str) -> Vec<Resource> {
        self.resources.values().filter(|(r, _)| r.resource_type == resource_type).map(|(r, _)| r.clone()).collect()
    }

    /// Checks references, drops grants whose entitlement or principal is missing, and sorts.
    fn into_snapshot(self, tenant: &TenantConfig) -> Result<Snapshot> {
        let mut resources = Vec::with_capacity(self.resources.len());
        for ((resource_type, id), (resource, _)) in self.resources {
            let traits: Value = serde_json::from_str(&resource.traits_json).map_err(|_| {
                redact(tenant, HostError::Other(format!("the connector reported traits of {resource_type} {id} that are not JSON; this is a connector bug")))
            })?;
            if !traits.is_object() {
                return Err(HostError::Other(format!(
                    "the connector reported traits of {resource_type} {id} that are not a JSON object; this is a connector bug"
                )));
            }
            resources.push(ResourceRecord { resource_type, id, display_name: resource.display_name, traits });
        }
        let known: std::collections::BTreeSet<ResourceKey> = resources.iter().map(ResourceRecord::key).collect();
        let key = |r: &crate::bindings::v0_2::types::ResourceRef| ResourceKey { resource_type: r.resource_type.clone(), id: r.id.clone() };

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
                    tracing::warn!(tenant = %tenant.id, "dropped grant {}: its entitlement or principal is not in the account (changed during the sync?)", grant.id);
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
