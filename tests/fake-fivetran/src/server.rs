//! The HTTP server: one thread with its own runtime, so a test or the host's demo can start it
//! from any context, and dropping it stops it.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use connector_fake_support::ServerThread;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use crate::account::Account;
use crate::faults::{Fault, FaultPlan, FaultRule};
use crate::http_body::FakeBody;
use crate::quirks::{Dialect, Paging, Quirks};
use crate::routes::{self, Reply};

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// Whether an `Authorization` header came with it (its value is never kept).
    pub authorized: bool,
    /// When it arrived.
    pub at: std::time::Instant,
    /// Its headers, names in lower case, but `Authorization`.
    pub headers: Vec<(String, String)>,
    /// Its body as it arrived.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The value of header `name` (lower case), if it came.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

struct State {
    account: Account,
    faults: FaultPlan,
    log: Vec<RecordedRequest>,
    /// `X-Rate-Limit-Remaining`; when it reaches 0 every request gets 429 until reset.
    rate_limit: u64,
    rate_remaining: u64,
    in_flight: usize,
    max_in_flight: usize,
    /// Added to every answer, as a remote API's round trip would.
    latency: std::time::Duration,
    /// Connections accepted so far.
    connections: u64,
    /// Whether a connection serves more than one request.
    keep_alive: bool,
    listings: routes::ListingCache,
    quirks: Quirks,
    /// Whether a request body sent in chunks is refused, as by a gateway that does not decode
    /// chunked uploads (and would read an empty body).
    refuse_chunked: bool,
}

/// A running fake Fivetran. Stops when dropped.
pub struct FakeFivetran {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _server: ServerThread,
}

/// The hourly request budget of a paid Fivetran account.
pub const HOURLY_RATE_LIMIT: u64 = 20_000;

impl FakeFivetran {
    /// Serves `account` on an ephemeral loopback port.
    pub fn start(account: Account) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().expect("valid address"), account)
    }

    pub fn start_on(addr: SocketAddr, account: Account) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            account,
            faults: FaultPlan::default(),
            log: Vec::new(),
            rate_limit: HOURLY_RATE_LIMIT,
            rate_remaining: u64::MAX,
            in_flight: 0,
            max_in_flight: 0,
            latency: std::time::Duration::ZERO,
            listings: routes::ListingCache::new(),
            connections: 0,
            keep_alive: true,
            quirks: Quirks::default(),
            refuse_chunked: true,
        }));
        let served = Arc::clone(&state);
        let server = ServerThread::spawn("fake-fivetran", move |stopped| serve(listener, served, stopped))?;
        Ok(Self { addr, state, _server: server })
    }

    /// `http://127.0.0.1:PORT`, the base URL to sync from.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The account as it is now.
    pub fn account(&self) -> Account {
        self.lock().account.clone()
    }

    /// Changes the account in place (for tests that sync, change, and sync again).
    pub fn update(&self, change: impl FnOnce(&mut Account)) {
        let mut state = self.lock();
        state.listings.clear();
        change(&mut state.account);
    }

    pub fn inject(&self, rule: FaultRule) {
        self.lock().faults.add(rule);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Every request served so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().log.clone()
    }

    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.lock().connections
    }

    /// Whether new connections serve more than one request (they do unless told otherwise).
    pub fn set_keep_alive(&self, keep_alive: bool) {
        self.lock().keep_alive = keep_alive;
    }

    /// Answers every request `latency` after it arrived (or as soon as it is ready, if later),
    /// from now on.
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.lock().latency = latency;
    }

    /// The most requests the fake was answering at one time.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// Sets the request budget left; at 0 the fake answers 429 as a drained account would.
    pub fn set_rate_remaining(&self, remaining: u64) {
        self.lock().rate_remaining = remaining;
    }

    /// Sets the hourly request budget `X-Rate-Limit` announces.
    pub fn set_rate_limit(&self, limit: u64) {
        self.lock().rate_limit = limit;
    }

    /// Writes the informational fields of every answer as `dialect` says, from now on.
    pub fn set_dialect(&self, dialect: Dialect) {
        self.lock().quirks.dialect = dialect;
    }

    /// Pages listings as `paging` says, from now on.
    pub fn set_paging(&self, paging: Paging) {
        self.lock().quirks.paging = paging;
    }

    /// Whether request bodies sent in chunks are refused with a 400 (they are unless told
    /// otherwise: many gateways read them as empty).
    pub fn set_refuse_chunked(&self, refuse: bool) {
        self.lock().refuse_chunked = refuse;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>, mut stopped: oneshot::Receiver<()>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
    while let Some(stream) = connector_fake_support::accept(&listener, &mut stopped).await {
        // As API servers do: a response's last segment must not wait for the client's ACK.
        let _ = stream.set_nodelay(true);
        let keep_alive = {
            let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            state.connections += 1;
            state.keep_alive
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, std::convert::Infallible>(answer(&state, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().keep_alive(keep_alive).serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn answer(state: &Mutex<State>, request: Request<Incoming>) -> Response<FakeBody> {
    let arrived = std::time::Instant::now();
    let latency = {
        let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        state.latency
    };
    let response = respond(state, request, arrived).await;
    // The answer leaves `latency` after the request arrived, the fake's own work included, as a
    // real API's answers take their time whatever else it is serving: this one thread rendering
    // pages one at a time must not add to it.
    tokio::time::sleep_until(tokio::time::Instant::from_std(arrived + latency)).await;
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).in_flight -= 1;
    response
}

async fn respond(state: &Mutex<State>, request: Request<Incoming>, arrived: std::time::Instant) -> Response<FakeBody> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let headers = connector_fake_support::recorded_headers(request.headers());
    let chunked = request.headers().get(header::TRANSFER_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    // Read the body whole, so a client's request is complete before we answer.
    let body: Bytes = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();

    let (reply, fault, rate) = {
        let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let fault = state.faults.take(&method, &path);
        let call = routes::Request {
            method: &method,
            path: &path,
            query: routes::parse_query(query.as_deref()),
            body: &body,
            content_type: content_type.as_deref(),
        };
        let cursor = call.query.get("cursor").cloned();
        let invented = if method == "GET" { state.quirks.invent(&path, cursor.as_deref()) } else { None };
        let mut reply = if chunked && state.refuse_chunked {
            Reply::error(400, "InvalidInput", "Request bodies sent in chunks are not accepted; send a Content-Length")
        } else if let Some(body) = invented {
            Reply { status: 200, body }
        } else {
            reply(&mut state, &call, authorization.as_deref(), fault.as_ref())
        };
        if reply.status == 200 && method == "GET" && state.quirks.active() {
            reply.body = state.quirks.rewrite(&path, cursor.as_deref(), reply.body);
        }
        state.log.push(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            status: reply.status,
            authorized: authorization.is_some(),
            at: arrived,
            headers,
            body: body.to_vec(),
        });
        (reply, fault, (state.rate_limit, state.rate_remaining))
    };

    if let Some(Fault::Slow(delay)) = &fault {
        tokio::time::sleep(*delay).await;
    }
    let text = match fault {
        Some(Fault::Malformed) => r#"{"code":"Success","data":{"items":[{"id":"#.to_owned(),
        _ => reply.body,
    };
    let body = match fault {
        Some(Fault::Truncated) => FakeBody::truncated(text),
        Some(Fault::Oversized(total)) => FakeBody::oversized(r#"{"code":"Success","data":{"items":["#, total),
        Some(Fault::Drip(every)) => FakeBody::drip(text, every),
        _ => FakeBody::full(text),
    };
    let mut response = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-Rate-Limit", rate.0.to_string())
        .header("X-Rate-Limit-Remaining", rate.1.min(rate.0).to_string());
    if let Some(Fault::HugeHeader(bytes)) = fault {
        response = response.header("X-Padding", "a".repeat(bytes));
    }
    if reply.status == 429 {
        let retry_after = match fault {
            Some(Fault::RateLimited { retry_after_s }) => retry_after_s,
            _ => 60,
        };
        response = response.header(header::RETRY_AFTER, retry_after.to_string());
    }
    response.body(body).unwrap_or_else(|_| Response::new(FakeBody::full("")))
}

fn reply(state: &mut State, call: &routes::Request<'_>, authorization: Option<&str>, fault: Option<&Fault>) -> Reply {
    match fault {
        Some(Fault::RateLimited { .. }) => {
            return Reply::error(429, "TooManyRequests", "Too many requests; retry after the given time");
        }
        Some(Fault::Unavailable) => return Reply::error(503, "ServiceUnavailable", "Service temporarily unavailable"),
        Some(Fault::BadRequest) => return Reply::error(400, "InvalidInput", "Invalid request"),
        Some(Fault::EchoesSecretAfter(padding)) => {
            let decoded = authorization.and_then(|h| h.strip_prefix("Basic ")).and_then(|t| STANDARD.decode(t.trim()).ok());
            let secret = decoded.and_then(|d| String::from_utf8(d).ok()).and_then(|d| d.split_once(':').map(|(_, s)| s.to_owned()));
            let message = format!("{}{}", "x".repeat(*padding), secret.unwrap_or_default());
            return Reply::error(400, "InvalidInput", &message);
        }
        Some(Fault::EchoesCredentials) => {
            let header = authorization.unwrap_or_default();
            let token = header.strip_prefix("Basic ").unwrap_or_default();
            let message = format!("Gateway busy for request with Authorization: {header} (token {token})");
            return Reply::error(503, "ServiceUnavailable", &message);
        }
        _ => {}
    }
    let Some(key) = authenticate(&state.account, authorization) else {
        return Reply::error(401, "AuthFailed", "Missing or invalid API key and secret");
    };
    if state.rate_remaining == 0 {
        return Reply::error(429, "TooManyRequests", "Account request limit reached");
    }
    state.rate_remaining = state.rate_remaining.saturating_sub(1);
    if let Err(why) = key.allows(call.method, call.path) {
        return Reply::error(403, "Forbidden", why);
    }
    let key = key.clone();
    if matches!(fault, Some(Fault::AcceptedNotApplied)) {
        return Reply::json(200, serde_json::json!({"code": "Success", "message": "Operation completed"}));
    }
    let State { account, listings, .. } = state;
    let reply = routes::route(account, &key, call, listings);
    match fault {
        Some(Fault::AppliedThenUnavailable) => Reply::error(503, "ServiceUnavailable", "Service temporarily unavailable"),
        _ => reply,
    }
}

fn authenticate<'a>(account: &'a Account, authorization: Option<&str>) -> Option<&'a crate::account::ApiKey> {
    let encoded = authorization?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (key, secret) = decoded.split_once(':')?;
    account.key_for(key, secret)
}
