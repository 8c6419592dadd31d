//! A run's traffic, shared by all its workers and instances: the requests counted against the
//! run's limit, the first refusal, the run's open connections and exchanges, the API's pace
//! (rate-limit pauses and spacing), and the warnings already said.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::Refusal;

/// A run's traffic, shared by all its workers: counts the requests, remembers why the policy
/// refused one, keeps the run's connections open for reuse, and paces requests by the API's
/// answers. A 429 pauses every worker for its `Retry-After`; when the remaining budget the API
/// announces (in the headers its connector declares, [`RateLimitHeaders`]) falls under a tenth of
/// the limit, requests are spaced to the limit's average rate so that the account does not run
/// dry.
#[derive(Debug, Default)]
pub struct RequestMeter {
    requests: AtomicU64,
    denial: Mutex<Option<Refusal>>,
    /// Why the API cannot be used as it answers (a pace no call can wait for), if it cannot.
    api_failure: Mutex<Option<String>>,
    /// Warnings already said this run: each is said once, however many workers meet it.
    warned: Mutex<std::collections::HashSet<String>>,
    pace: Mutex<Pace>,
    /// The run's open connections, kept for its next requests.
    pub(crate) connections: crate::connections::ConnectionPool,
    /// Slots for the run's open exchanges, sized by the first request.
    exchanges: OnceLock<Arc<Semaphore>>,
}

#[derive(Debug, Default)]
struct Pace {
    paused_until: Option<Instant>,
    spacing: Duration,
    next_slot: Option<Instant>,
    slowed: bool,
}

/// Distinct warnings a run says; past them, warnings are dropped.
const MAX_WARNINGS: usize = 512;

/// The longest `Retry-After` a pause honours; a longer one is refused at once by `wait_turn`.
const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// The response headers by which an API announces its request budget, as its connector declares
/// them: `X-Rate-Limit` and `X-Rate-Limit-Remaining` over an hour, say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub limit: String,
    pub remaining: String,
    /// The window the limit counts requests in.
    pub window: Duration,
}

/// Limits on a run's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficLimits {
    /// Requests a run may send.
    pub max_requests: u64,
    /// Bytes one response body may hold.
    pub max_response_bytes: u64,
    /// Exchanges a run has open at once, all its workers together: from the request's start until
    /// the connector has read its answer to the end or dropped it. A request past it waits for one
    /// to end, so a connector that fires requests without reading the answers holds this many
    /// sockets at most. A run gets at least one per worker (`max_concurrency`).
    pub max_open_exchanges: usize,
}

impl Default for TrafficLimits {
    fn default() -> Self {
        Self { max_requests: 100_000, max_response_bytes: 32 * 1024 * 1024, max_open_exchanges: 16 }
    }
}

impl RequestMeter {
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The first refusal of this run.
    pub fn denial(&self) -> Option<Refusal> {
        self.denial.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How long requests still wait for a rate limit's pause, if they do.
    pub fn paused_for(&self) -> Option<Duration> {
        let pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
        pace.paused_until.and_then(|until| until.checked_duration_since(Instant::now())).filter(|d| !d.is_zero())
    }

    /// Why the API cannot be used as it answers, if the host found so.
    pub fn api_failure(&self) -> Option<String> {
        self.api_failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn fail_api(&self, why: String) {
        self.api_failure.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(why);
    }

    /// Whether `warning` is new to this run (it is then remembered). Past [`MAX_WARNINGS`]
    /// distinct warnings, none is new: a flood says itself once.
    pub(crate) fn first_time(&self, warning: &str) -> bool {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.contains(warning) || warned.len() >= MAX_WARNINGS {
            return false;
        }
        warned.insert(warning.to_owned())
    }

    /// Counts one more request, unless the run has sent `max` already.
    pub(crate) fn reserve(&self, max: u64) -> bool {
        self.requests.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < max).then_some(n + 1)).is_ok()
    }

    /// Waits for one of the run's `limit` exchange slots; the slot is free again when the
    /// returned permit is dropped.
    pub(crate) async fn open_exchange(&self, limit: usize) -> OwnedSemaphorePermit {
        let slots = Arc::clone(self.exchanges.get_or_init(|| Arc::new(Semaphore::new(limit.max(1)))));
        // The semaphore is never closed, so acquiring only waits.
        slots.acquire_owned().await.expect("the exchange slots are never closed")
    }

    /// Waits until this request may go: after any pause, and in its slot when spaced. A wait
    /// longer than `max_wait` is not begun: no call could sit through it, so the caller fails
    /// at once with the reason instead of when the call's time runs out.
    pub(crate) async fn wait_turn(&self, max_wait: Duration) -> Result<(), String> {
        let wait = {
            let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let paused = pace.paused_until.filter(|until| *until > now);
            let mut at = paused.unwrap_or(now);
            if !pace.spacing.is_zero() {
                at = at.max(pace.next_slot.unwrap_or(now));
            }
            let wait = at.saturating_duration_since(now);
            if wait > max_wait {
                let why = if paused.is_some_and(|until| until >= at) {
                    "the API asked to wait (Retry-After)"
                } else {
                    "the API's X-Rate-Limit spaces requests"
                };
                return Err(format!(
                    "rate limit: {why} {} s before the next request, longer than a call may wait ({} s); run again when the account's API budget allows",
                    wait.as_millis().div_ceil(1000),
                    max_wait.as_secs()
                ));
            }
            if !pace.spacing.is_zero() {
                pace.next_slot = Some(at + pace.spacing);
            }
            wait
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Learns from an answer's status and, if the API announces its budget, its rate-limit headers.
    pub(crate) fn observe(&self, tenant: &str, status: u16, headers: &http::HeaderMap, rate_limit: Option<&RateLimitHeaders>) {
        let number = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
        if status == 429 {
            let wait = Duration::from_secs(number("retry-after").unwrap_or(1).min(MAX_PAUSE.as_secs()));
            let until = Instant::now() + wait;
            if pace.paused_until.is_none_or(|current| current < until) {
                pace.paused_until = Some(until);
                tracing::info!(target: "connector_host::http", tenant, "rate limited: every request of this run waits {} s", wait.as_secs());
            }
        }
        let Some(rate_limit) = rate_limit else { return };
        if let (Some(limit), Some(remaining)) = (number(&rate_limit.limit), number(&rate_limit.remaining)) {
            let low = limit > 0 && remaining < limit / 10;
            if low && !pace.slowed {
                pace.spacing = rate_limit.window / u32::try_from(limit).unwrap_or(u32::MAX);
                tracing::warn!(
                    target: "connector_host::http",
                    tenant,
                    "only {remaining} of {limit} API requests left in this window; slowing down to one request every {} ms",
                    pace.spacing.as_millis()
                );
            } else if !low && pace.slowed {
                pace.spacing = Duration::ZERO;
                pace.next_slot = None;
            }
            pace.slowed = low;
        }
    }

    pub(crate) fn deny(&self, why: Refusal) {
        tracing::warn!(target: "connector_host::egress", "{}", crate::text::escape_controls(&why.message));
        self.denial.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn hourly_budget() -> RateLimitHeaders {
        RateLimitHeaders { limit: "x-rate-limit".into(), remaining: "x-rate-limit-remaining".into(), window: Duration::from_secs(3600) }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap())).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_every_request_of_the_run() {
        let meter = RequestMeter::default();
        meter.observe("t", 429, &headers(&[("retry-after", "7")]), None);
        let started = tokio::time::Instant::now();
        meter.wait_turn(Duration::from_secs(60)).await.unwrap();
        meter.wait_turn(Duration::from_secs(60)).await.unwrap();
        assert!(started.elapsed() >= Duration::from_secs(7));
        assert!(started.elapsed() < Duration::from_secs(8), "both wait for the same pause");
    }

    #[tokio::test(start_paused = true)]
    async fn a_low_budget_spaces_requests_until_it_recovers() {
        let meter = RequestMeter::default();
        meter.observe("t", 200, &headers(&[("x-rate-limit", "3600"), ("x-rate-limit-remaining", "100")]), Some(&hourly_budget()));
        let started = tokio::time::Instant::now();
        for _ in 0..4 {
            meter.wait_turn(Duration::from_secs(60)).await.unwrap();
        }
        assert!(started.elapsed() >= Duration::from_secs(3), "one request a second: {:?}", started.elapsed());
        meter.observe("t", 200, &headers(&[("x-rate-limit", "3600"), ("x-rate-limit-remaining", "3000")]), Some(&hourly_budget()));
        let resumed = tokio::time::Instant::now();
        meter.wait_turn(Duration::from_secs(60)).await.unwrap();
        meter.wait_turn(Duration::from_secs(60)).await.unwrap();
        assert_eq!(resumed.elapsed(), Duration::ZERO, "full speed again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_no_call_could_sit_through_is_refused_at_once() {
        let meter = RequestMeter::default();
        meter.observe("t", 200, &headers(&[("x-rate-limit", "10"), ("x-rate-limit-remaining", "0")]), Some(&hourly_budget()));
        let started = tokio::time::Instant::now();
        meter.wait_turn(Duration::from_secs(90)).await.unwrap();
        let refused = meter.wait_turn(Duration::from_secs(90)).await.unwrap_err();
        assert!(refused.contains("X-Rate-Limit spaces requests 360 s"), "{refused}");
        assert_eq!(started.elapsed(), Duration::ZERO, "refused without waiting");
        let paused = RequestMeter::default();
        paused.observe("t", 429, &headers(&[("retry-after", "3000")]), None);
        let refused = paused.wait_turn(Duration::from_secs(90)).await.unwrap_err();
        assert!(refused.contains("asked to wait (Retry-After) 3000 s"), "{refused}");
    }

    #[test]
    fn a_warning_is_new_once_a_run() {
        let meter = RequestMeter::default();
        assert!(meter.first_time("GET /v1/users: field active came null"));
        assert!(!meter.first_time("GET /v1/users: field active came null"));
        for n in 0..MAX_WARNINGS {
            meter.first_time(&n.to_string());
        }
        assert!(!meter.first_time("something new after the flood"));
    }
}
