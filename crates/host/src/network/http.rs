//! The connector's `wasi:http` egress: every request passes the tenant's [`EgressPolicy`], gets the
//! tenant's credentials, and is counted; guest-set timeouts are capped.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::OwnedSemaphorePermit;

use http::HeaderValue;
use http::header::{AUTHORIZATION, HeaderName, PROXY_AUTHORIZATION};
use wasmtime_wasi_http::{DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttpHooks};

use crate::credentials::Credentials;
use crate::egress::{EgressPolicy, Origin};
use crate::error::Refusal;
pub use crate::meter::{RateLimitHeaders, RequestMeter, TrafficLimits};
use crate::upstream::Upstream;

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

/// Bytes of names and values one header map the connector builds may hold (wasmtime's default is
/// 128 KiB; a connector's requests carry a few short headers).
pub const FIELD_SIZE_LIMIT: usize = 16 * 1024;

/// Bytes of a request body the host takes from the connector in one write and buffers while it is
/// sent (wasmtime's default is 1 MiB; a connector's bodies are small JSON documents).
pub const BODY_CHUNK: usize = 64 * 1024;

/// The largest request body a connector may send (the API's request bodies are a few hundred bytes).
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
    /// The header the credentials go in, which the connector may not set (`Authorization` is
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
                meter.deny(Refusal::new(format!("egress to {:?} denied: not an absolute http(s) URL", request.uri().to_string()), None));
                return Err(HttpError::HttpRequestDenied);
            };
            if let Err(why) = policy.check_origin(&origin).and_then(|()| policy.check_path(&origin, request.uri().path())) {
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
                meter.deny(Refusal::new(
                    format!("request limit reached: the run sent {} requests", limits.max_requests),
                    Some("max_requests"),
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
/// dropped by the connector.
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
        Err(error) => return Err(HttpError::InternalError(Some(format!("the connector's request body failed: {error}")))),
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
    fn the_guest_may_not_set_credentials_headers() {
        for name in [AUTHORIZATION, PROXY_AUTHORIZATION, http::header::CONNECTION] {
            assert!(forbidden(&name), "{name}");
        }
        assert!(!forbidden(&http::header::ACCEPT));
    }
}
