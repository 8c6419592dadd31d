//! The tenants one process serves: each one's settings, its loaded connector (or why it could not
//! be loaded), whether a sync of it is queued or running, and when the next is due.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use connector_host::tenant::TenantEntry;
use connector_host::{ConnectorRuntime, HostError, TenantConfig};
use tokio::task::AbortHandle;

/// A tenant ready to sync: its connector's component, its resolved settings (credentials
/// included), and the connector's name.
#[derive(Clone)]
pub struct Loaded {
    pub runtime: ConnectorRuntime,
    pub config: TenantConfig,
    pub connector: String,
}

pub type LoadFuture<'a> = Pin<Box<dyn Future<Output = Result<Loaded, HostError>> + Send + 'a>>;

/// Loads a tenant's connector and resolves its settings; the command supplies it (it knows the
/// built-in connectors and the component cache).
pub trait TenantLoader: Send + Sync {
    fn load<'a>(&'a self, entry: &'a TenantEntry) -> LoadFuture<'a>;
}

/// Where a tenant's loading stands.
#[derive(Clone)]
pub enum Load {
    Loading,
    Ready(Box<Loaded>),
    /// Why the tenant cannot run (a missing credential, an unknown connector), in one line.
    Failed(String),
}

/// A sync of the tenant that has been started.
pub struct Running {
    pub sync_id: i64,
    /// Set once the sync holds one of the service's sync slots.
    pub started: Option<Instant>,
    pub abort: Option<AbortHandle>,
    /// The lease the sync runs under (none while it is being claimed).
    pub lease: Option<crate::store::Lease>,
}

pub struct Tenant {
    pub entry: TenantEntry,
    pub interval: Duration,
    pub load: Load,
    /// Bumped at every reload of the tenant, so that a slower earlier load cannot overwrite it.
    pub generation: u64,
    pub running: Option<Running>,
    pub next_due: Instant,
    pub failures: u32,
    /// Taken out of the tenant file while a sync ran: dropped when it ends.
    pub removed: bool,
}

impl Tenant {
    pub fn new(entry: TenantEntry, interval: Duration) -> Self {
        Self { entry, interval, load: Load::Loading, generation: 0, running: None, next_due: Instant::now(), failures: 0, removed: false }
    }

    pub fn connector(&self) -> Option<&str> {
        match &self.load {
            Load::Ready(loaded) => Some(&loaded.connector),
            _ => self.entry.connector.as_deref().or(if self.entry.component.is_some() { None } else { Some("(default)") }),
        }
    }

    /// `loading`, `config_error`, `idle`, `queued` or `running`.
    pub fn state(&self) -> &'static str {
        match (&self.load, &self.running) {
            (_, Some(Running { started: Some(_), .. })) => "running",
            (_, Some(_)) => "queued",
            (Load::Loading, None) => "loading",
            (Load::Failed(_), None) => "config_error",
            (Load::Ready(_), None) => "idle",
        }
    }

    /// When the next scheduled sync is due, as wall-clock time.
    pub fn next_due_at(&self) -> Option<SystemTime> {
        if !matches!(self.load, Load::Ready(_)) || self.running.is_some() {
            return None;
        }
        let wait = self.next_due.saturating_duration_since(Instant::now());
        Some(SystemTime::now() + wait)
    }
}

/// The wait before the next sync: the interval after a success, a backoff doubling from 30 s
/// (at most the interval) after failures; both spread by up to a tenth either way, seeded by the
/// tenant's id and the attempt, so that tenants started together drift apart.
pub fn next_wait(id: &str, interval: Duration, failures: u32) -> Duration {
    let base = if failures == 0 {
        interval
    } else {
        let backoff = Duration::from_secs(30).saturating_mul(1u32 << (failures - 1).min(16));
        backoff.min(interval)
    };
    let seed = crate::shard::fnv1a(format!("{id}/{failures}/{:?}", SystemTime::now()).as_bytes());
    // A fraction in [-0.1, 0.1].
    let spread = (seed % 2001) as f64 / 10_000.0 - 0.1;
    base.mul_f64(1.0 + spread).max(Duration::from_millis(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_the_interval_or_a_bounded_backoff_with_jitter() {
        let hour = Duration::from_secs(3600);
        for _ in 0..50 {
            let wait = next_wait("acme", hour, 0);
            assert!(wait >= hour.mul_f64(0.9) && wait <= hour.mul_f64(1.1), "{wait:?}");
            let first = next_wait("acme", hour, 1);
            assert!(first >= Duration::from_secs(27) && first <= Duration::from_secs(33), "{first:?}");
            assert!(next_wait("acme", hour, 30) <= hour.mul_f64(1.1));
        }
    }
}
