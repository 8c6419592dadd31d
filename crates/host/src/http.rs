//! The plugin's `wasi:http` egress: every request passes the tenant's [`EgressPolicy`], gets the
//! tenant's credentials, and is counted; guest-set timeouts are capped.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use http::HeaderValue;
use http::header::{AUTHORIZATION, HeaderName, PROXY_AUTHORIZATION};
use wasmtime_wasi_http::{DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttpHooks};

use crate::credentials::Credentials;
use crate::egress::{EgressPolicy, Origin};
use crate::upstream::Upstream;

/// A run's traffic, shared by all its workers: counts the requests, remembers why the policy
/// refused one, keeps the run's connections open for reuse, and paces requests by the API's
/// answers. A 429 pauses every worker for its `Retry-After`; when the remaining budget the API
/// announces (in the headers its connector declares, [`RateLimitHeaders`]) falls under a tenth of
/// the limit, requests are spaced to the limit's average rate so that the account does not run
/// dry.
#[derive(Debug, Default)]
pub struct RequestMeter {
    requests: AtomicU64,
    denial: Mutex<Option<String>>,
    /// Why the API cannot be used as it answers (a pace no call can wait for), if it cannot.
    api_failure: Mutex<Option<String>>,
    /// Warnings already said this run: each is said once, however many workers meet it.
    warned: Mutex<std::collections::HashSet<String>>,
    pace: Mutex<Pace>,
    /// The run's open connections, kept for its next requests.
    pub(crate) connections: crate::outbound::ConnectionPool,
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
/// them: `X-Rate-Limit` and `X-Rate-Limit-Remaining` over an hour, for Fivetran.
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
    /// the plugin has read its answer to the end or dropped it. A request past it waits for one
    /// to end, so a plugin that fires requests without reading the answers holds this many
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
    pub fn denial(&self) -> Option<String> {
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
    fn reserve(&self, max: u64) -> bool {
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

    pub(crate) fn deny(&self, why: String) {
        tracing::warn!(target: "connector_host::egress", "{}", crate::text::escape_controls(&why));
        self.denial.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(why);
    }
}

/// Timeouts the host imposes; a guest may ask for shorter ones, never longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTimeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub between_bytes: Duration,
}

impl Default for RequestTimeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(10), first_byte: Duration::from_secs(60), between_bytes: Duration::from_secs(30) }
    }
}

impl RequestTimeouts {
    pub fn uniform(timeout: Duration) -> Self {
        Self { connect: timeout, first_byte: timeout, between_bytes: timeout }
    }

    fn cap(&self, asked: Option<RequestOptions>) -> RequestOptions {
        let asked = asked.unwrap_or_default();
        let cap = |asked: Option<Duration>, limit: Duration| Some(asked.map_or(limit, |a| a.min(limit)));
        RequestOptions {
            connect_timeout: cap(asked.connect_timeout, self.connect),
            first_byte_timeout: cap(asked.first_byte_timeout, self.first_byte),
            between_bytes_timeout: cap(asked.between_bytes_timeout, self.between_bytes),
        }
    }
}

/// Bytes of names and values one header map the plugin builds may hold (wasmtime's default is
/// 128 KiB; a connector's requests carry a few short headers).
pub const FIELD_SIZE_LIMIT: usize = 16 * 1024;

/// Bytes of a request body the host takes from the plugin in one write and buffers while it is
/// sent (wasmtime's default is 1 MiB; a connector's bodies are small JSON documents).
pub const BODY_CHUNK: usize = 64 * 1024;

/// The largest request body a plugin may send (the API's request bodies are a few hundred bytes).
pub const MAX_REQUEST_BODY: usize = 1 << 20;

/// The `WasiHttpHooks` of one tenant's store.
pub(crate) struct EgressHooks {
    pub tenant: Arc<str>,
    pub policy: Arc<EgressPolicy>,
    pub credentials: Arc<Credentials>,
    pub meter: Arc<RequestMeter>,
    pub timeouts: RequestTimeouts,
    pub limits: TrafficLimits,
    /// Where checked requests go instead of a connection, if the embedder said so.
    pub upstream: Option<Arc<dyn Upstream>>,
    /// The longest a request may wait for its turn (rate limits) before it is refused.
    pub max_wait: Duration,
    /// The instance's latest request, `GET /v1/users`, for errors about its answer.
    pub last_request: Arc<Mutex<Option<String>>>,
    /// How the API announces its request budget, if its connector says.
    pub rate_limit: Option<Arc<RateLimitHeaders>>,
}

/// How a checked request leaves the host.
enum Route {
    Connect(Vec<IpAddr>),
    Upstream(Arc<dyn Upstream>),
}

fn forbidden(name: &HeaderName) -> bool {
    *name == AUTHORIZATION || *name == PROXY_AUTHORIZATION || DEFAULT_FORBIDDEN_HEADERS.contains(name)
}

type SendResult = wasmtime_wasi_http::Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>)>;

impl EgressHooks {
    /// The header the credentials go in, which the plugin may not set (`Authorization` is
    /// forbidden anyway; a connector's own header, `X-Api-Key` say, is forbidden too).
    fn credentials_header(&self) -> Option<HeaderName> {
        self.credentials.applied().map(|(name, _)| name.clone())
    }
}

impl WasiHttpHooks for EgressHooks {
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        forbidden(name) || self.credentials_header().as_ref() == Some(name)
    }

    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        let own = self.credentials_header();
        Arc::new(move |name| forbidden(name) || own.as_ref() == Some(name))
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        BODY_CHUNK
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let policy = Arc::clone(&self.policy);
        let credentials = Arc::clone(&self.credentials);
        let meter = Arc::clone(&self.meter);
        let options = self.timeouts.cap(options);
        let limits = self.limits;
        let tenant = Arc::clone(&self.tenant);
        let upstream = self.upstream.clone();
        let max_wait = self.max_wait;
        let last_request = Arc::clone(&self.last_request);
        let rate_limit = self.rate_limit.clone();
        Box::new(async move {
            *last_request.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{} {}", request.method(), request.uri().path()));
            let Some(origin) = Origin::of(request.uri()) else {
                meter.deny(format!("egress to {:?} denied: not an absolute http(s) URL", request.uri().to_string()));
                return Err(HttpError::HttpRequestDenied);
            };
            if let Err(why) = policy.check_origin(&origin) {
                meter.deny(why);
                return Err(HttpError::HttpRequestDenied);
            }
            let route = match upstream {
                Some(upstream) => Route::Upstream(upstream),
                None => {
                    let addresses = resolve(&origin).await?;
                    if let Err(why) = policy.check_addresses(&origin, &addresses) {
                        meter.deny(why);
                        return Err(HttpError::HttpRequestDenied);
                    }
                    // Connect to an address just checked, not to whatever the name resolves to next.
                    Route::Connect(addresses)
                }
            };
            if !meter.reserve(limits.max_requests) {
                meter.deny(format!(
                    "request limit reached: the run sent {} requests; raise max_requests in the tenant file if the account needs more",
                    limits.max_requests
                ));
                return Err(HttpError::HttpRequestDenied);
            }
            if let Err(why) = meter.wait_turn(max_wait).await {
                meter.fail_api(why);
                return Err(HttpError::HttpRequestDenied);
            }
            // Whole, so that it goes out with a Content-Length as mainstream clients send it:
            // a gateway that does not decode chunked uploads would read an empty body.
            let mut request = whole_body(request).await?;
            let slot = meter.open_exchange(limits.max_open_exchanges).await;
            // The filter above already refused a guest-set credentials header; this is the only one.
            if let Some((name, value)) = credentials.applied() {
                let mut value = HeaderValue::from_str(value).map_err(|_| HttpError::HttpRequestDenied)?;
                value.set_sensitive(true);
                request.headers_mut().insert(name.clone(), value);
            }
            tracing::debug!(target: "connector_host::http", method = %request.method(), path = %request.uri().path(), "request");
            let (response, io) = match route {
                Route::Connect(addresses) => {
                    crate::outbound::send(request, &origin, &addresses, options, limits.max_response_bytes, Arc::clone(&meter)).await?
                }
                Route::Upstream(upstream) => {
                    crate::upstream::exchange(upstream.as_ref(), request, options, limits.max_response_bytes, &meter).await?
                }
            };
            tracing::debug!(target: "connector_host::http", status = response.status().as_u16(), "response");
            meter.observe(&tenant, response.status().as_u16(), response.headers(), rate_limit.as_deref());
            let response = response.map(|body| SlotBody { inner: body, slot: Some(slot) }.boxed_unsync());
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// An answer's body holding its exchange's slot until it ends: read to its end, failed, or
/// dropped by the plugin.
struct SlotBody {
    inner: WasiBody,
    slot: Option<OwnedSemaphorePermit>,
}

impl Body for SlotBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.slot = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `request` with its body gathered (at most [`MAX_REQUEST_BODY`]) and a `Content-Length` that
/// says its size: on every request with a body, and as `0` on an empty POST, PUT or PATCH, as
/// curl, Go's net/http and Python's requests send them.
pub(crate) async fn whole_body(request: http::Request<WasiBody>) -> Result<http::Request<WasiBody>, HttpError> {
    use http_body_util::{Full, LengthLimitError, Limited};
    let (mut parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => return Err(HttpError::HttpRequestBodySize(Some(MAX_REQUEST_BODY as u64))),
        Err(error) => return Err(HttpError::InternalError(Some(format!("the plugin's request body failed: {error}")))),
    };
    let carries_body = matches!(parts.method, http::Method::POST | http::Method::PUT | http::Method::PATCH);
    if body.is_empty() && !carries_body {
        parts.headers.remove(http::header::CONTENT_LENGTH);
    } else {
        parts.headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let body = Full::new(body).map_err(|never| match never {}).boxed_unsync();
    Ok(http::Request::from_parts(parts, body))
}

async fn resolve(origin: &Origin) -> Result<Vec<IpAddr>, HttpError> {
    if let Ok(ip) = origin.host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    match tokio::net::lookup_host((origin.host.as_str(), origin.port)).await {
        Ok(addresses) => Ok(addresses.map(|a| a.ip()).collect()),
        Err(error) => Err(HttpError::DnsError { rcode: Some(error.to_string()), info_code: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_timeouts_are_capped_by_the_host() {
        let host = RequestTimeouts::default();
        let asked = RequestOptions {
            connect_timeout: Some(Duration::from_secs(3600)),
            first_byte_timeout: Some(Duration::from_secs(1)),
            between_bytes_timeout: None,
        };
        let capped = host.cap(Some(asked));
        assert_eq!(capped.connect_timeout, Some(host.connect), "a longer wish is cut to the host's cap");
        assert_eq!(capped.first_byte_timeout, Some(Duration::from_secs(1)), "a shorter one is kept");
        assert_eq!(capped.between_bytes_timeout, Some(host.between_bytes), "none means the host's");
    }

    fn fivetran_like() -> RateLimitHeaders {
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
        meter.observe("t", 200, &headers(&[("x-rate-limit", "3600"), ("x-rate-limit-remaining", "100")]), Some(&fivetran_like()));
        let started = tokio::time::Instant::now();
        for _ in 0..4 {
            meter.wait_turn(Duration::from_secs(60)).await.unwrap();
        }
        assert!(started.elapsed() >= Duration::from_secs(3), "one request a second: {:?}", started.elapsed());
        meter.observe("t", 200, &headers(&[("x-rate-limit", "3600"), ("x-rate-limit-remaining", "3000")]), Some(&fivetran_like()));
        let resumed = tokio::time::Instant::now();
        meter.wait_turn(Duration::from_secs(60)).await.unwrap();
        meter.wait_turn(Duration::from_secs(60)).await.unwrap();
        assert_eq!(resumed.elapsed(), Duration::ZERO, "full speed again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_no_call_could_sit_through_is_refused_at_once() {
        let meter = RequestMeter::default();
        meter.observe("t", 200, &headers(&[("x-rate-limit", "10"), ("x-rate-limit-remaining", "0")]), Some(&fivetran_like()));
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

    #[tokio::test]
    async fn request_bodies_go_whole_with_their_length() {
        use http_body_util::Full;
        let boxed = |text: &'static str| Full::new(Bytes::from(text)).map_err(|never| match never {}).boxed_unsync();
        let post = whole_body(http::Request::post("http://x/v1/users").body(boxed(r#"{"a":1}"#)).unwrap()).await.unwrap();
        assert_eq!(post.headers()[http::header::CONTENT_LENGTH], "7");
        assert_eq!(post.body().size_hint().exact(), Some(7));
        let empty_post = whole_body(http::Request::post("http://x/v1/users").body(boxed("")).unwrap()).await.unwrap();
        assert_eq!(empty_post.headers()[http::header::CONTENT_LENGTH], "0");
        let get = whole_body(http::Request::get("http://x/v1/users").body(boxed("")).unwrap()).await.unwrap();
        assert!(get.headers().get(http::header::CONTENT_LENGTH).is_none());
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

    #[test]
    fn the_guest_may_not_set_credentials_headers() {
        for name in [AUTHORIZATION, PROXY_AUTHORIZATION, http::header::CONNECTION] {
            assert!(forbidden(&name), "{name}");
        }
        assert!(!forbidden(&http::header::ACCEPT));
    }
}
