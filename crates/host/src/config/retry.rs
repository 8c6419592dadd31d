//! When to try a failed call again, and how long to wait first.

use std::time::Duration;

use crate::bindings::latest::types::ConnectorError;

/// Retries for reads: after a 429, the wait the API asked for; after a 5xx or a lost
/// connection, capped exponential backoff with jitter; a bounded number of times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all for a call failing with a 5xx or a lost connection.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Waits for rate limits a call may sit through.
    pub max_rate_limit_waits: u32,
    /// The longest `Retry-After` the host honours; a longer one fails the run.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_rate_limit_waits: 20,
            max_rate_limit_wait: Duration::from_secs(3600),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp,
}

/// Counts a call's failed attempts.
#[derive(Debug, Default, Clone, Copy)]
pub struct Attempts {
    pub failures: u32,
    pub rate_limit_waits: u32,
}

impl RetryPolicy {
    /// Whether and when to retry a read that failed with `error`.
    pub fn decide(&self, error: &ConnectorError, attempts: &mut Attempts) -> Decision {
        match error {
            ConnectorError::RateLimited(limit) => {
                attempts.rate_limit_waits += 1;
                if attempts.rate_limit_waits > self.max_rate_limit_waits {
                    return Decision::GiveUp;
                }
                let wait = limit.retry_after_ms.map(Duration::from_millis).unwrap_or_else(|| self.backoff(attempts.rate_limit_waits));
                if wait > self.max_rate_limit_wait { Decision::GiveUp } else { Decision::RetryAfter(wait) }
            }
            ConnectorError::Upstream(upstream) if is_transient(upstream.status) && !is_final(upstream.code.as_deref()) => {
                attempts.failures += 1;
                if attempts.failures >= self.max_attempts {
                    Decision::GiveUp
                } else {
                    Decision::RetryAfter(self.backoff(attempts.failures))
                }
            }
            _ => Decision::GiveUp,
        }
    }

    /// `base * 2^(n-1)`, capped, with jitter in its upper half so workers do not retry in step.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(16);
        let full = self.base_delay.saturating_mul(1 << exponent).min(self.max_delay);
        let half = full / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Codes a connector gives failures that the same request meets again: the host refused it, the
/// answer was not HTTP that can be read, or a change was applied in a way its read-back does not
/// confirm (running it again could change more).
fn is_final(code: Option<&str>) -> bool {
    matches!(code, Some("EgressDenied" | "MalformedResponse" | "Unverified"))
}

/// No answer, a timeout, or a server error: worth another try.
fn is_transient(status: Option<u16>) -> bool {
    match status {
        None => true,
        Some(status) => status == 408 || status >= 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::latest::types::{RateLimit, UpstreamError};

    fn upstream(status: Option<u16>) -> ConnectorError {
        ConnectorError::Upstream(UpstreamError { status, code: None, message: "x".into() })
    }

    #[tokio::test]
    async fn the_attempts_reported_are_the_attempts_made() {
        use crate::CallError;
        let policy = RetryPolicy { max_attempts: 3, base_delay: Duration::ZERO, max_delay: Duration::ZERO, ..RetryPolicy::default() };
        let mut stats = RetryStats::default();
        let mut retrier = Retrier::new(&policy, "t", &mut stats);
        let mut made = 0;
        let outcome: Result<(), (CallError, u32)> = retrying!(retrier, {
            made += 1;
            Err::<(), _>(CallError::Connector(upstream(Some(503))))
        });
        assert_eq!((made, outcome.unwrap_err().1), (3, 3));
        let mut stats = RetryStats::default();
        let mut retrier = Retrier::new(&policy, "t", &mut stats);
        let outcome: Result<(), (CallError, u32)> = retrying!(retrier, Err::<(), _>(CallError::Connector(upstream(Some(404)))));
        assert_eq!(outcome.unwrap_err().1, 1, "a final error is one attempt");
    }

    #[test]
    fn server_errors_retry_a_bounded_number_of_times() {
        let policy = RetryPolicy::default();
        let mut attempts = Attempts::default();
        let decisions: Vec<_> = (0..5).map(|_| policy.decide(&upstream(Some(503)), &mut attempts)).collect();
        assert!(decisions[..4].iter().all(|d| matches!(d, Decision::RetryAfter(_))));
        assert_eq!(decisions[4], Decision::GiveUp);
    }

    #[test]
    fn malformed_answers_and_client_errors_are_not_retried() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.decide(&upstream(Some(200)), &mut Attempts::default()), Decision::GiveUp);
        assert_eq!(policy.decide(&upstream(Some(404)), &mut Attempts::default()), Decision::GiveUp);
        assert_eq!(policy.decide(&ConnectorError::Unauthorized("x".into()), &mut Attempts::default()), Decision::GiveUp);
        assert!(matches!(policy.decide(&upstream(None), &mut Attempts::default()), Decision::RetryAfter(_)));
    }

    #[test]
    fn a_change_its_read_back_does_not_confirm_is_never_retried() {
        let unverified = ConnectorError::Upstream(UpstreamError { status: None, code: Some("Unverified".into()), message: "x".into() });
        assert_eq!(RetryPolicy::default().decide(&unverified, &mut Attempts::default()), Decision::GiveUp);
    }

    #[test]
    fn rate_limits_wait_what_the_api_asked() {
        let policy = RetryPolicy::default();
        let limited = |ms| ConnectorError::RateLimited(RateLimit { retry_after_ms: Some(ms), message: "x".into() });
        assert_eq!(policy.decide(&limited(7000), &mut Attempts::default()), Decision::RetryAfter(Duration::from_secs(7)));
        assert_eq!(policy.decide(&limited(7_200_000), &mut Attempts::default()), Decision::GiveUp);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy { base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1), ..Default::default() };
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            assert!(policy.backoff(30) <= Duration::from_secs(1));
        }
    }
}

/// Retries and rate-limit waits a run has sat through.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetryStats {
    pub retries: u64,
    pub rate_limit_waits: u64,
}

/// Decides, after each failed attempt of one call, whether to wait and try again. Only
/// connector errors are retried: a trap, a timeout or a refusal is final.
pub(crate) struct Retrier<'a> {
    policy: &'a RetryPolicy,
    tenant: &'a str,
    stats: &'a mut RetryStats,
    attempts: Attempts,
    /// Attempts that failed so far: each one ended in `retry_or_fail`.
    failed: u32,
}

impl<'a> Retrier<'a> {
    pub fn new(policy: &'a RetryPolicy, tenant: &'a str, stats: &'a mut RetryStats) -> Self {
        Self { policy, tenant, stats, attempts: Attempts::default(), failed: 0 }
    }

    /// Waits before the next attempt, or gives `error` back with the number of attempts made.
    pub async fn retry_or_fail(&mut self, error: crate::CallError) -> Result<(), (crate::CallError, u32)> {
        use crate::CallError;
        self.failed += 1;
        let CallError::Connector(connector_error) = &error else {
            return Err((error, self.failed));
        };
        match self.policy.decide(connector_error, &mut self.attempts) {
            Decision::RetryAfter(wait) => {
                if let ConnectorError::RateLimited(limit) = connector_error {
                    self.stats.rate_limit_waits += 1;
                    let shown = crate::text::escape_controls(&limit.message);
                    tracing::info!(tenant = self.tenant, "rate limited ({shown}); waiting {} ms", wait.as_millis());
                } else {
                    self.stats.retries += 1;
                    let why = match connector_error {
                        ConnectorError::Upstream(upstream) => upstream.message.as_str(),
                        _ => "transient failure",
                    };
                    let shown = crate::text::escape_controls(why);
                    tracing::info!(tenant = self.tenant, "{shown}; retrying in {} ms", wait.as_millis());
                }
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Decision::GiveUp => Err((error, self.failed)),
        }
    }
}

/// Evaluates `$call` (an `.await`ed call into the connector) until it succeeds or `$retrier` gives
/// up: `Ok(value)` or `Err((error, attempts))`. A loop, not a closure, so that the future stays
/// `Send` for callers that spawn it.
macro_rules! retrying {
    ($retrier:expr, $call:expr) => {{
        let retrier = &mut $retrier;
        loop {
            match $call {
                Ok(value) => break Ok(value),
                Err(error) => {
                    if let Err(failed) = retrier.retry_or_fail(error).await {
                        break Err(failed);
                    }
                }
            }
        }
    }};
}
pub(crate) use retrying;
