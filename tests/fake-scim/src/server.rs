//! The HTTP server: one thread with its own runtime, so that a test or the host's demo can start
//! it from any context; dropping it stops it. Every request is recorded (never its token).

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use connector_fake_support::ServerThread;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use crate::directory::Directory;
use crate::handlers::{self, Call, Reply};

/// Where the service lives on the fake's origin, as `https://api.fivetran.com/scim/v2` does.
pub const ROOT: &str = "/scim/v2";

/// What real SCIM services do that the RFC does not ask for; all off by default.
#[derive(Debug, Clone, Default)]
pub struct Quirks {
    /// Serve at most this many items a page, whatever `count` asks (silently, as Entra ID and
    /// Okta cap at 100).
    pub max_count: Option<usize>,
    /// Booleans written as `"True"`/`"False"`.
    pub string_booleans: bool,
    /// PUT and PATCH answered `204 No Content`.
    pub no_content: bool,
    /// No PATCH: `/ServiceProviderConfig` says so and PATCH answers 501.
    pub no_patch: bool,
    /// No filters: `/ServiceProviderConfig` says so and a filter answers 400.
    pub no_filter: bool,
    /// Filters compare case-sensitively (as some services do for `userName`).
    pub case_sensitive_filter: bool,
    /// Groups without members say `"members": null`; members come without `type`, with `$ref`.
    pub members_null: bool,
    /// Group listings leave `members` out (as some services do); reading one group gives them.
    pub members_not_listed: bool,
    /// `resources` instead of `Resources`.
    pub lowercase_resources: bool,
    /// Resources come without `schemas`.
    pub no_schemas: bool,
    /// `totalResults`, `startIndex` and `itemsPerPage` as strings.
    pub numbers_as_strings: bool,
    /// Error `status` as a number rather than the RFC's string.
    pub numeric_status: bool,
    /// No `/ServiceProviderConfig`, `/ResourceTypes` or `/Schemas` (404).
    pub no_discovery: bool,
    /// Members listed by user name, their `$ref` the user's location, which names the user by
    /// user name too (`/Users/alice`); users carry `groups`; a user is read by id or user name; a
    /// PATCH filter on members that matches nothing is accepted and does nothing.
    pub members_by_user_name: bool,
    /// Members listed as `{value, $ref, display}`, the `$ref` into `/Users/` whatever was sent,
    /// and a member added always taken for a user: with ids users and groups share
    /// ([`Directory::with_shared_numeric_ids`]), adding group 3 adds user 3. Users carry `groups`.
    pub members_taken_for_users: bool,
    /// Members listed exactly as they were sent: a member sent without `type` comes back without.
    pub members_as_sent: bool,
    /// PATCH serves `members` only; any other path answers 501 (a PUT of the resource works).
    pub patch_members_only: bool,
    /// A strict `/Schemas`, enforced: `name.formatted` required, `emails` and `phoneNumbers` with
    /// a `value` only, no `roles`, members with `value` and a required `$ref`, and a group's
    /// `displayName` immutable (a change answers 500 with scimType `mutability`).
    pub strict_schema: bool,
}

/// A failure the fake answers instead of serving a request.
#[derive(Debug, Clone, PartialEq)]
pub enum ScimFault {
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 503.
    Unavailable,
    /// Does the change, then answers 503 as if it had not (a lost answer).
    AppliedThenUnavailable,
    /// Answers as if it had made the change (the resource as changed) and keeps nothing of it.
    AcceptedNotApplied,
}

#[derive(Debug, Clone)]
struct FaultRule {
    method: String,
    path_prefix: String,
    times: u32,
    fault: ScimFault,
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Below the service root, e.g. `/Users/u1`.
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// Headers, names in lower case, without `Authorization`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the bearer token matched.
    pub authorized: bool,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

struct State {
    directory: Directory,
    quirks: Quirks,
    token: String,
    faults: Vec<FaultRule>,
    log: Vec<RecordedRequest>,
}

/// A running fake SCIM service. Stops when dropped.
pub struct FakeScim {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _server: ServerThread,
}

impl FakeScim {
    /// Serves `directory` on an ephemeral loopback port to clients bearing `token`.
    pub fn start(directory: Directory, token: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            directory,
            quirks: Quirks::default(),
            token: token.to_owned(),
            faults: Vec::new(),
            log: Vec::new(),
        }));
        let served = Arc::clone(&state);
        let server = ServerThread::spawn("fake-scim", move |stopped| serve(listener, served, stopped))?;
        Ok(Self { addr, state, _server: server })
    }

    /// `http://127.0.0.1:PORT/scim/v2`, the base URL to sync from.
    pub fn base_url(&self) -> String {
        format!("http://{}{ROOT}", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn set_quirks(&self, quirks: Quirks) {
        self.state().quirks = quirks;
    }

    /// The service's state now.
    pub fn directory(&self) -> Directory {
        self.state().directory.clone()
    }

    /// Changes the service's state behind the API's back (as another administrator would).
    pub fn edit(&self, change: impl FnOnce(&mut Directory)) {
        change(&mut self.state().directory);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().log.clone()
    }

    /// The requests that change something, as `METHOD /path`.
    pub fn writes(&self) -> Vec<String> {
        self.requests().into_iter().filter(|r| r.method != "GET").map(|r| format!("{} {}", r.method, r.path)).collect()
    }

    pub fn clear_requests(&self) {
        self.state().log.clear();
    }

    /// The next `times` requests of `method` to paths starting with `path_prefix` fail with `fault`.
    pub fn inject(&self, method: &str, path_prefix: &str, times: u32, fault: ScimFault) {
        self.state().faults.push(FaultRule { method: method.to_owned(), path_prefix: path_prefix.to_owned(), times, fault });
    }
}

async fn serve(listener: TcpListener, state: Arc<Mutex<State>>, mut stopped: oneshot::Receiver<()>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
    while let Some(stream) = connector_fake_support::accept(&listener, &mut stopped).await {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, std::convert::Infallible>(respond(&state, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn respond(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().as_str().to_owned();
    let full_path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost").to_owned();
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let headers = connector_fake_support::recorded_headers(request.headers());
    let body: Bytes = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();

    let mut state = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = full_path.strip_prefix(ROOT).unwrap_or("/outside-the-service-root").to_owned();
    let authorized = authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")) == Some(state.token.as_str());
    let fault = take_fault(&mut state.faults, &method, &path);
    let quirks = state.quirks.clone();
    let reply = if !authorized {
        Reply::error(&quirks, 401, None, "Authentication failed: a valid bearer token is required")
    } else {
        match fault {
            Some(ScimFault::RateLimited) => Reply::error(&quirks, 429, Some("tooMany"), "Too many requests"),
            Some(ScimFault::Unavailable) => Reply::error(&quirks, 503, None, "Service unavailable"),
            _ => {
                let root = format!("http://{host}{ROOT}");
                let call = Call {
                    method: &method,
                    path: &path,
                    query: connector_fake_support::parse_query(query.as_deref()),
                    body: &body,
                    root: &root,
                };
                let reply = match fault {
                    Some(ScimFault::AcceptedNotApplied) => handlers::handle(&mut state.directory.clone(), &quirks, &call),
                    _ => handlers::handle(&mut state.directory, &quirks, &call),
                };
                match fault {
                    Some(ScimFault::AppliedThenUnavailable) => Reply::error(&quirks, 503, None, "Service unavailable"),
                    _ => reply,
                }
            }
        }
    };
    state.log.push(RecordedRequest { method, path, query, status: reply.status, headers, body: body.to_vec(), authorized });
    drop(state);
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if !reply.body.is_empty() {
        response = response.header(header::CONTENT_TYPE, "application/scim+json");
    }
    if reply.status == 429 {
        response = response.header(header::RETRY_AFTER, "1");
    }
    response.body(Full::new(Bytes::from(reply.body))).unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn take_fault(faults: &mut [FaultRule], method: &str, path: &str) -> Option<ScimFault> {
    let rule = faults.iter_mut().find(|r| r.times > 0 && r.method.eq_ignore_ascii_case(method) && path.starts_with(&r.path_prefix))?;
    rule.times -= 1;
    Some(rule.fault.clone())
}
