//! Live counters of a sync, shared with whatever shows progress (a terminal bar, log lines, a
//! platform's UI). The sync only counts; showing is the caller's business.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::meter::RequestMeter;

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Starting = 0,
    Resources = 1,
    Entitlements = 2,
    Grants = 3,
    Done = 4,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Resources => "listing resources",
            Phase::Entitlements => "entitlements",
            Phase::Grants => "listing grants",
            Phase::Done => "done",
        }
    }
}

#[derive(Debug, Default)]
pub struct SyncProgress {
    phase: AtomicU8,
    resources: Mutex<BTreeMap<String, usize>>,
    listings_done: AtomicUsize,
    listings_total: AtomicUsize,
    grants: AtomicUsize,
    meter: OnceLock<Arc<RequestMeter>>,
}

/// What a sync has done so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressView {
    pub phase: Phase,
    /// Resources found, per type.
    pub resources: Vec<(String, usize)>,
    /// Resources whose grants are listed, of how many.
    pub listings_done: usize,
    pub listings_total: usize,
    /// Grants found so far (a grant two listings reveal counts twice until merged).
    pub grants: usize,
    pub requests: u64,
    /// How long every request of the run still waits for a rate limit.
    pub rate_limited_for: Option<Duration>,
}

impl SyncProgress {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn view(&self) -> ProgressView {
        let phase = match self.phase.load(Ordering::Relaxed) {
            1 => Phase::Resources,
            2 => Phase::Entitlements,
            3 => Phase::Grants,
            4 => Phase::Done,
            _ => Phase::Starting,
        };
        let resources = self.resources.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.clone(), *v)).collect();
        let meter = self.meter.get();
        ProgressView {
            phase,
            resources,
            listings_done: self.listings_done.load(Ordering::Relaxed),
            listings_total: self.listings_total.load(Ordering::Relaxed),
            grants: self.grants.load(Ordering::Relaxed),
            requests: meter.map_or(0, |m| m.requests()),
            rate_limited_for: meter.and_then(|m| m.paused_for()),
        }
    }

    pub(crate) fn attach(&self, meter: &Arc<RequestMeter>) {
        let _ = self.meter.set(Arc::clone(meter));
    }

    pub(crate) fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    pub(crate) fn found_resources(&self, resource_type: &str, count: usize) {
        *self.resources.lock().unwrap_or_else(|p| p.into_inner()).entry(resource_type.to_owned()).or_default() += count;
    }

    /// The count of a type once its pages are merged: placeholders other listings revealed
    /// included (roles a users listing names), each once, as the snapshot will hold them.
    pub(crate) fn merged_resources(&self, resource_type: &str, count: usize) {
        self.resources.lock().unwrap_or_else(|p| p.into_inner()).insert(resource_type.to_owned(), count);
    }

    pub(crate) fn listings(&self, total: usize) {
        self.listings_total.store(total, Ordering::Relaxed);
    }

    pub(crate) fn listed(&self, grants: usize) {
        self.grants.fetch_add(grants, Ordering::Relaxed);
    }

    /// Done: the count of grants becomes the snapshot's (pages may report a grant twice, and
    /// a grant whose resource vanished is dropped).
    pub(crate) fn finished(&self, grants: usize) {
        self.grants.store(grants, Ordering::Relaxed);
        self.enter(Phase::Done);
    }

    pub(crate) fn listing_done(&self) {
        self.listings_done.fetch_add(1, Ordering::Relaxed);
    }
}

impl ProgressView {
    /// The line for a live bar, which a terminal of 80 columns shows whole beside the tenant's id
    /// and the time: the resources as one total, the phase and counts kept.
    /// `grants 420/1300, 21340 resources, 40432 grants, 3823 req`.
    pub fn compact_line(&self) -> String {
        let mut parts = vec![match self.phase {
            Phase::Grants => format!("grants {}/{}", self.listings_done, self.listings_total),
            Phase::Resources => "resources".to_owned(),
            phase => phase.label().to_owned(),
        }];
        let resources: usize = self.resources.iter().map(|(_, n)| n).sum();
        if resources > 0 {
            parts.push(format!("{resources} resources"));
        }
        if self.grants > 0 {
            parts.push(format!("{} grants", self.grants));
        }
        parts.push(format!("{} req", self.requests));
        if let Some(wait) = self.rate_limited_for {
            parts.push(format!("rate limited {}s", wait.as_secs().max(1)));
        }
        parts.join(", ")
    }

    /// One line: `listing grants 420/1300 · 300 users, 40 teams · 1204 grants · 512 requests`.
    pub fn line(&self) -> String {
        let mut parts = vec![self.phase.label().to_owned()];
        if self.phase == Phase::Grants {
            parts[0] = format!("{} {}/{}", self.phase.label(), self.listings_done, self.listings_total);
        }
        if !self.resources.is_empty() {
            let found: Vec<String> = self.resources.iter().map(|(t, n)| format!("{n} {t}s")).collect();
            parts.push(found.join(", "));
        }
        if self.grants > 0 {
            parts.push(format!("{} grants", self.grants));
        }
        parts.push(format!("{} requests", self.requests));
        if let Some(wait) = self.rate_limited_for {
            parts.push(format!("rate limited, waiting {}s", wait.as_secs().max(1)));
        }
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_line_of_a_large_account_fits_an_80_column_terminal() {
        let view = ProgressView {
            phase: Phase::Grants,
            resources: vec![("user".into(), 100_000), ("team".into(), 5_000), ("group".into(), 300), ("role".into(), 40)],
            listings_done: 5_123,
            listings_total: 5_300,
            grants: 182_904,
            requests: 11_234,
            rate_limited_for: None,
        };
        let line = view.compact_line();
        assert_eq!(line, "grants 5123/5300, 105340 resources, 182904 grants, 11234 req");
        // The bar adds a spinner, a short tenant id and the elapsed time: 80 columns in all.
        assert!(line.chars().count() + "⠁ default ".chars().count() + " 1m 02s".len() <= 80, "{line}");
        assert!(view.line().contains("100000 users"), "plain lines keep the detail");
    }
}
