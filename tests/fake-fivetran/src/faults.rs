//! Fault injection: make chosen requests fail the way the real API and real networks do.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 `TooManyRequests` with `Retry-After: seconds`.
    RateLimited { retry_after_s: u64 },
    /// 503 with a Fivetran error body.
    Unavailable,
    /// The right answer, after a delay.
    Slow(Duration),
    /// The right status and `Content-Length`, then the connection drops halfway through the body.
    Truncated,
    /// 200 with a body that is not the endpoint's JSON.
    Malformed,
    /// The request takes effect, then the answer is a 503: the client cannot tell it worked.
    AppliedThenUnavailable,
    /// `200 Success`, and the request takes no effect: what a read-back has to catch.
    AcceptedNotApplied,
    /// A 503 whose message echoes the request's `Authorization` header and its token, as a
    /// careless proxy or gateway does.
    EchoesCredentials,
    /// A 400 `InvalidInput`, as the API gives a request it finds wrong.
    BadRequest,
    /// A 400 whose message is this many characters of padding, then the request's API secret.
    EchoesSecretAfter(usize),
    /// 200 with a body of this many bytes (the start of a listing, then blanks); `None`: a body
    /// that never ends.
    Oversized(Option<u64>),
    /// The right answer, one byte every so often.
    Drip(Duration),
    /// The right answer with a response header of this many bytes.
    HugeHeader(usize),
}

/// Which requests a fault hits: those whose path starts with `path_prefix` (and whose method is
/// `method`, if set), after letting `skip` of them through, `times` times (`u32::MAX`: always).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub method: Option<String>,
    pub path_prefix: String,
    pub skip: u32,
    pub times: u32,
    pub fault: Fault,
}

impl FaultRule {
    /// The next `times` requests to paths starting with `path_prefix`.
    pub fn new(path_prefix: &str, times: u32, fault: Fault) -> Self {
        Self { method: None, path_prefix: path_prefix.to_owned(), skip: 0, times, fault }
    }

    pub fn after(mut self, skip: u32) -> Self {
        self.skip = skip;
        self
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        path.starts_with(&self.path_prefix) && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// The rules in force and how often each has matched.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    rules: Vec<(FaultRule, u32)>,
}

impl FaultPlan {
    pub(crate) fn add(&mut self, rule: FaultRule) {
        self.rules.push((rule, 0));
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// The fault of the first rule, in the order added, that fires for this request; every
    /// matching rule counts the request.
    pub(crate) fn take(&mut self, method: &str, path: &str) -> Option<Fault> {
        let mut fired = None;
        for (rule, seen) in &mut self.rules {
            if !rule.matches(method, path) {
                continue;
            }
            let index = *seen;
            *seen = seen.saturating_add(1);
            if fired.is_none() && index >= rule.skip && index - rule.skip < rule.times {
                fired = Some(rule.fault.clone());
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_fires_after_skip_for_times() {
        let mut plan = FaultPlan::default();
        plan.add(FaultRule::new("/v1/users", 2, Fault::Unavailable).after(1));
        let fired: Vec<bool> = (0..5).map(|_| plan.take("GET", "/v1/users").is_some()).collect();
        assert_eq!(fired, [false, true, true, false, false]);
        assert!(plan.take("GET", "/v1/teams").is_none());
    }
}
