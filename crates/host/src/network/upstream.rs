//! Where a tenant's requests go once the egress policy has passed them.
//!
//! By default the host connects to the address the policy checked and speaks HTTP/1.1 (with TLS
//! for `https`) itself. A platform embedding the host may hand the requests to an [`Upstream`] of
//! its own instead: its egress proxy or HTTP client, a recorded account for tests, an in-memory
//! answer for benchmarks. Set one with [`crate::ConnectorRuntime::with_upstream`].
//!
//! What holds either way: the policy's origin check (a request to an origin the tenant does not
//! allow never reaches the upstream), the tenant's credentials in `Authorization` (the connector
//! cannot set it), the run's request limit and rate-limit pacing, the wait for the first byte,
//! and the response size limit. What an upstream takes over: resolving the name, checking the
//! addresses it resolves to, and connecting. An upstream that connects anywhere must apply the
//! address rules itself.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use crate::meter::RequestMeter;
use crate::outbound::{Sent, size_denial};

/// The answer an [`Upstream`] gives: a whole response, or why there is none.
pub type UpstreamFuture = Pin<Box<dyn Future<Output = Result<http::Response<Bytes>, UpstreamFailure>> + Send>>;

/// Sends a tenant's checked requests somewhere and answers with the whole response.
pub trait Upstream: Send + Sync {
    /// `request` has an absolute URI of an allowed origin and the tenant's `Authorization`
    /// header; its body, if any, is whole.
    fn send(&self, request: http::Request<Bytes>) -> UpstreamFuture;
}

/// Why an [`Upstream`] has no answer. The connector sees it as a failed request, which the host
/// retries like any other.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamFailure {
    /// The far side could not be reached; the text says why.
    Unreachable(String),
}

impl std::fmt::Display for UpstreamFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamFailure::Unreachable(why) => write!(f, "the upstream could not be reached: {why}"),
        }
    }
}

impl std::error::Error for UpstreamFailure {}

/// One exchange through `upstream`, under the same wait and size limits as a connection.
pub(crate) async fn exchange(
    upstream: &dyn Upstream,
    request: http::Request<WasiBody>,
    options: RequestOptions,
    max_body: u64,
    meter: &RequestMeter,
) -> Result<Sent, HttpError> {
    let (parts, body) = request.into_parts();
    // The hooks gathered the body whole (and bounded) already; this only unwraps it.
    let body = body.collect().await.map_err(|error| HttpError::InternalError(Some(error.to_string())))?.to_bytes();
    let endpoint = format!("{} {}", parts.method, parts.uri.path());
    let first_byte = options.first_byte_timeout.unwrap_or(Duration::from_secs(60));
    let response = match tokio::time::timeout(first_byte, upstream.send(http::Request::from_parts(parts, body))).await {
        Ok(Ok(response)) => response,
        Ok(Err(failure)) => return Err(HttpError::InternalError(Some(failure.to_string()))),
        Err(_) => return Err(HttpError::HttpResponseTimeout),
    };
    if response.body().len() as u64 > max_body {
        meter.deny(size_denial(&endpoint, max_body));
        return Err(HttpError::HttpResponseBodySize(Some(max_body)));
    }
    let response = response.map(|body| Full::new(body).map_err(|never| match never {}).boxed_unsync());
    Ok((response, Box::pin(async { Ok(()) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Answers;

    impl Upstream for Answers {
        fn send(&self, request: http::Request<Bytes>) -> UpstreamFuture {
            let size = request.body().len();
            Box::pin(async move { Ok(http::Response::new(Bytes::from(size.to_string()))) })
        }
    }

    fn request(bytes: usize) -> http::Request<WasiBody> {
        let body = Full::new(Bytes::from(vec![b'x'; bytes])).map_err(|never| match never {}).boxed_unsync();
        http::Request::post("https://api.example.com/v1/users").body(body).unwrap()
    }

    #[tokio::test]
    async fn a_request_body_is_handed_over_whole_and_one_past_the_limit_never_is() {
        let meter = RequestMeter::default();
        let whole = crate::http::whole_body(request(100)).await.unwrap();
        let (response, _) = exchange(&Answers, whole, RequestOptions::default(), 1024, &meter).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"100", "a small body is handed over whole");
        let refused = crate::http::whole_body(request(crate::http::MAX_REQUEST_BODY + 1)).await;
        assert!(matches!(refused, Err(HttpError::HttpRequestBodySize(_))), "{:?}", refused.map(|_| ()));
    }
}
