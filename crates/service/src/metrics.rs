//! The service's metrics, in the Prometheus text exposition format (`GET /metrics`).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabel {
    pub tenant: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub tenant: String,
    /// `ok` or `failed`.
    pub outcome: String,
}

fn duration_histogram() -> Histogram {
    // 0.1 s to about 55 minutes.
    Histogram::new(exponential_buckets(0.1, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    pub syncs: Family<OutcomeLabels, Counter>,
    pub sync_duration: Family<TenantLabel, Histogram, fn() -> Histogram>,
    pub last_success: Family<TenantLabel, Gauge<f64, AtomicU64>>,
    pub api_requests: Family<TenantLabel, Counter>,
    pub grants: Family<TenantLabel, Gauge>,
    pub resources: Family<TenantLabel, Gauge>,
    pub running: Family<TenantLabel, Gauge>,
    pub tenants: Gauge,
    pub changes: Family<OutcomeLabels, Counter>,
    pub leases_claimed: Counter,
    pub leases_lost: Counter,
    pub leases_taken_over: Counter,
    pub leases_held: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let syncs = Family::<OutcomeLabels, Counter>::default();
        registry.register("connector_syncs", "Syncs finished, by tenant and outcome", syncs.clone());
        let sync_duration = Family::<TenantLabel, Histogram, fn() -> Histogram>::new_with_constructor(duration_histogram);
        registry.register_with_unit("connector_sync_duration", "How long syncs took", Unit::Seconds, sync_duration.clone());
        let last_success = Family::<TenantLabel, Gauge<f64, AtomicU64>>::default();
        registry.register_with_unit(
            "connector_last_success_timestamp",
            "When the tenant's last successful sync finished, in seconds since the Unix epoch",
            Unit::Seconds,
            last_success.clone(),
        );
        let api_requests = Family::<TenantLabel, Counter>::default();
        registry.register("connector_api_requests", "Requests sent to the tenant's API", api_requests.clone());
        let grants = Family::<TenantLabel, Gauge>::default();
        registry.register("connector_grants", "Grants in the tenant's last snapshot", grants.clone());
        let resources = Family::<TenantLabel, Gauge>::default();
        registry.register("connector_resources", "Resources in the tenant's last snapshot", resources.clone());
        let running = Family::<TenantLabel, Gauge>::default();
        registry.register("connector_sync_running", "1 while a sync of the tenant runs", running.clone());
        let tenants = Gauge::default();
        registry.register("connector_tenants", "Tenants this process serves", tenants.clone());
        let changes = Family::<OutcomeLabels, Counter>::default();
        registry.register("connector_changes", "Changes asked through the API, by tenant and outcome", changes.clone());
        let leases_claimed = Counter::default();
        registry.register("connector_leases_claimed", "Sync leases this replica claimed", leases_claimed.clone());
        let leases_lost = Counter::default();
        registry.register(
            "connector_leases_lost",
            "Syncs of this replica whose lease another replica took over (their results not committed)",
            leases_lost.clone(),
        );
        let leases_taken_over = Counter::default();
        registry.register(
            "connector_leases_taken_over",
            "Tenants this replica took over from a replica that stopped during their sync",
            leases_taken_over.clone(),
        );
        let leases_held = Gauge::default();
        registry.register("connector_leases_held", "Sync leases this replica holds now", leases_held.clone());
        Self {
            registry,
            syncs,
            sync_duration,
            last_success,
            api_requests,
            grants,
            resources,
            running,
            tenants,
            changes,
            leases_claimed,
            leases_lost,
            leases_taken_over,
            leases_held,
        }
    }
}

impl Metrics {
    pub fn tenant(id: &str) -> TenantLabel {
        TenantLabel { tenant: id.to_owned() }
    }

    pub fn outcome(id: &str, outcome: &str) -> OutcomeLabels {
        OutcomeLabels { tenant: id.to_owned(), outcome: outcome.to_owned() }
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Drops the series of the tenant's last snapshot (grants, resources, last success), when
    /// another replica synced it since: with replicas, the one that synced a tenant last exports
    /// them, and the others stop once they learn of it (at their next claim).
    pub fn forget_snapshot(&self, id: &str) {
        let tenant = Self::tenant(id);
        self.last_success.remove(&tenant);
        self.grants.remove(&tenant);
        self.resources.remove(&tenant);
    }

    /// Drops a removed tenant's series.
    pub fn forget(&self, id: &str) {
        let tenant = Self::tenant(id);
        self.sync_duration.remove(&tenant);
        self.last_success.remove(&tenant);
        self.api_requests.remove(&tenant);
        self.grants.remove(&tenant);
        self.resources.remove(&tenant);
        self.running.remove(&tenant);
        for outcome in ["ok", "failed"] {
            self.syncs.remove(&Self::outcome(id, outcome));
            self.changes.remove(&Self::outcome(id, outcome));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_series_are_exposed_by_their_names() {
        let metrics = Metrics::default();
        metrics.syncs.get_or_create(&Metrics::outcome("acme", "ok")).inc();
        metrics.sync_duration.get_or_create(&Metrics::tenant("acme")).observe(1.5);
        metrics.last_success.get_or_create(&Metrics::tenant("acme")).set(1_700_000_000.0);
        metrics.api_requests.get_or_create(&Metrics::tenant("acme")).inc_by(12);
        metrics.grants.get_or_create(&Metrics::tenant("acme")).set(7);
        let text = metrics.encode();
        for line in [
            "connector_syncs_total{tenant=\"acme\",outcome=\"ok\"} 1",
            "connector_sync_duration_seconds_count{tenant=\"acme\"} 1",
            "connector_last_success_timestamp_seconds{tenant=\"acme\"} 1700000000.0",
            "connector_api_requests_total{tenant=\"acme\"} 12",
            "connector_grants{tenant=\"acme\"} 7",
        ] {
            assert!(text.contains(line), "{line} in:\n{text}");
        }
    }
}
