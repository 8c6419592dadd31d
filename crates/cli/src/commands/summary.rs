//! What the commands that sync share: the output checked before a long sync, the sync with its
//! progress shown, and the summary printed after.

use std::path::Path;

use connector_host::progress::SyncProgress;
use connector_host::{ConnectorRuntime, HostError, Snapshot, TenantConfig, sync_with_progress};

use crate::progress_display::{Display, Mode};

/// Refuses, before the sync, an `--out` the snapshot could not be written to.
pub fn check_out(out: &std::path::Path) -> Result<(), HostError> {
    connector_host::files::check_writable(out, "--out")
}

/// Syncs one tenant with its progress shown on stderr.
pub async fn sync_shown(runtime: &ConnectorRuntime, tenant: &TenantConfig, mode: Mode) -> Result<Snapshot, HostError> {
    let progress = SyncProgress::new();
    let display = Display::start(mode, vec![(tenant.id.clone(), progress.clone())]);
    let result = sync_with_progress(runtime, tenant, progress).await;
    drop(display);
    result
}

/// The summary for scripts (`--json`): the counts by type, the grants, requests and time, and
/// where the snapshot was written.
pub fn summary_json(snapshot: &Snapshot, out: &Path) -> serde_json::Value {
    let mut resources = serde_json::Map::new();
    for resource_type in &snapshot.resource_types {
        let count = snapshot.resources.iter().filter(|r| r.resource_type == resource_type.id).count();
        resources.insert(resource_type.id.clone(), count.into());
    }
    serde_json::json!({
        "tenant": snapshot.tenant,
        "connector": {"name": snapshot.connector.name, "version": snapshot.connector.version},
        "out": out.display().to_string(),
        "resources": resources,
        "entitlements": snapshot.entitlements.len(),
        "grants": snapshot.grants.len(),
        "requests": snapshot.stats.http_requests,
        "duration_ms": snapshot.stats.duration_ms,
    })
}

/// The snapshot's counts by type, its grants, requests and time, and where it was written.
pub fn print_summary(snapshot: &Snapshot, out: &Path) {
    let count = |t: &str| snapshot.resources.iter().filter(|r| r.resource_type == t).count();
    outln!("synced {} {} for tenant {}", snapshot.connector.name, snapshot.connector.version, snapshot.tenant);
    for resource_type in &snapshot.resource_types {
        let of_type: Vec<_> = snapshot.resources.iter().filter(|r| r.resource_type == resource_type.id).collect();
        let mut detail = String::new();
        if of_type.iter().any(|r| r.traits.get("status").is_some()) {
            let enabled = of_type.iter().filter(|u| u.traits["status"] == "enabled").count();
            detail = format!("{enabled} enabled, {} disabled", of_type.len() - enabled);
            if of_type.iter().any(|r| r.traits.get("invited").is_some()) {
                let invited = of_type.iter().filter(|u| u.traits["invited"] == true).count();
                detail.push_str(&format!(", {invited} invited"));
            }
        }
        outln!("{}", format!("  {:<13}{:>8}  {detail}", format!("{}s", resource_type.id), count(&resource_type.id)).trim_end());
    }
    outln!("  {:<13}{:>8}", "entitlements", snapshot.entitlements.len());
    let mut kinds: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for grant in &snapshot.grants {
        *kinds.entry(grant.entitlement.split(':').next().unwrap_or("")).or_default() += 1;
    }
    // By the type of resource the entitlement is on: the connector's own words for its types.
    let kinds: Vec<String> = kinds.iter().map(|(kind, n)| format!("{n} on {kind}s")).collect();
    outln!("  {:<13}{:>8}  {}", "grants", snapshot.grants.len(), kinds.join(", "));
    outln!(
        "  {:<13}{:>8}  {} retries, {} rate-limit waits",
        "requests",
        snapshot.stats.http_requests,
        snapshot.stats.retries,
        snapshot.stats.rate_limit_waits
    );
    outln!("  {:<13}{:>7.1}s", "duration", snapshot.stats.duration_ms as f64 / 1000.0);
    let unresolved = snapshot.stats.unresolved_principals;
    let vanished = snapshot.stats.dropped_grants.saturating_sub(unresolved);
    if vanished > 0 {
        outln!("  {:<13}{:>8}  grants whose entitlement was not listed (changed during the sync?); see the warnings", "dropped", vanished);
    }
    if unresolved > 0 {
        outln!(
            "  {:<13}{:>8}  grants whose principal matched no listed resource by id or alias (deleted during the sync, or named as no listing shows it); see the warnings",
            "unresolved",
            unresolved
        );
    }
    outln!("snapshot written to {}", out.display());
}
