//! The HTTP API (`docs/contract.md` section 7): probes and metrics without a token; status, syncs,
//! snapshots, diffs, the audit log and changes under `/v1/` with one. Every error is
//! `{"error": "one line"}` with the status that fits; bodies are JSON objects of at most 64 KiB
//! whose fields are checked as the command line checks its flags.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use connector_host::change::Change;
use connector_host::format::SnapshotFormat;
use connector_host::{HostError, operations};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::service::{Service, StartError};
use crate::status::TenantStatus;
use crate::store::{AuditRecord, now};
use crate::tenants::Load;

/// The largest request body.
pub const MAX_BODY: usize = 64 * 1024;

/// An error answer: `{"error": "..."}`. Its line is written into the body by [`redact_errors`],
/// which holds the service's redactor, so no error answer leaves unredacted.
pub struct ApiError(StatusCode, String);

/// An error answer's line, on its way to [`redact_errors`].
#[derive(Clone)]
struct ErrorLine(String);

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response.extensions_mut().insert(ErrorLine(self.1));
        response
    }
}

/// Writes each error answer's body, redacted with every tenant's credentials and on one line.
async fn redact_errors(State(service): State<Arc<Service>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let Some(ErrorLine(line)) = response.extensions_mut().remove::<ErrorLine>() else {
        return response;
    };
    let line = service.redactor().redact(&line).replace(['\n', '\r'], " ");
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = axum::Json(json!({"error": line})).into_response();
    let (body_parts, body) = body.into_parts();
    parts.headers.extend(body_parts.headers);
    Response::from_parts(parts, body)
}

/// A host error as the status that fits its kind, with the tenant setting that would get past
/// it worded for the service (a tenant key).
fn host_error(error: &HostError) -> ApiError {
    use connector_host::ErrorKind;
    let status = match error.kind() {
        ErrorKind::Usage | ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        // The API refused the service's credentials, or failed: the service's upstream did.
        ErrorKind::Credentials | ErrorKind::Api => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = match error.setting() {
        Some(setting) => format!("{}; the tenant setting {setting} in the tenant file would allow it", error.message()),
        None => error.message().to_owned(),
    };
    ApiError::new(status, message)
}

type ApiResult<T = Response> = Result<T, ApiError>;

/// How long a request body may take to arrive.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A JSON object body: `Content-Type: application/json` (a web page cannot send that across
/// sites without the browser asking first), at most [`MAX_BODY`] bytes, arriving within
/// [`BODY_TIMEOUT`], an object (not an array read as the fields in order), unknown fields refused.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let media_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = media_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the request body must be Content-Type: application/json, not {:?}", crate::api::shown(media_type)),
            ));
        }
        let bytes = match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(request.into_body(), MAX_BODY)).await {
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("the request body did not arrive within {}s", BODY_TIMEOUT.as_secs()),
                ));
            }
            Ok(Err(_)) => {
                return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {MAX_BODY} bytes")));
            }
            Ok(Ok(bytes)) => bytes,
        };
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "the request body must be a JSON object"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the request body is not valid: {e}")))
    }
}

/// A request's query, its fields as `T` declares them (unknown ones refused): one rejection for
/// every handler, a 400 naming what is wrong.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(query)) => Ok(QueryParams(query)),
            Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {e}"))),
        }
    }
}

/// Text from a request, cut and escaped for a message.
pub(crate) fn shown(text: &str) -> String {
    let cut: String = text.chars().take(64).collect();
    connector_host::text::escape_controls(&cut).into_owned()
}

/// The id of a request, `X-Request-Id`: the client's when it gave a sane one, else made here.
/// Every answer carries it; the audit log records it with each change.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Where a change request comes from, for the audit and the cross-site rule.
pub struct ChangeContext {
    pub request_id: String,
    /// An `Origin` the request came with that is not the service's own.
    foreign_origin: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ChangeContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
        let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let foreign_origin = parts.headers.get(header::ORIGIN).map(|origin| {
            let origin = origin.to_str().unwrap_or("");
            let own =
                ["http://", "https://"].iter().any(|scheme| origin.strip_prefix(scheme).is_some_and(|h| h.eq_ignore_ascii_case(host)));
            (!own).then(|| shown(origin))
        });
        Ok(Self { request_id, foreign_origin: foreign_origin.flatten() })
    }
}

pub fn router(service: Arc<Service>) -> Router {
    let v1 = Router::new()
        .route("/v1/tenants", get(list_tenants))
        .route("/v1/tenants/{id}", get(tenant_status))
        .route("/v1/tenants/{id}/syncs", post(trigger_sync).get(sync_history))
        .route("/v1/tenants/{id}/syncs/{sync_id}", get(one_sync))
        .route("/v1/tenants/{id}/snapshot", get(snapshot))
        .route("/v1/tenants/{id}/diff", get(diff))
        .route("/v1/tenants/{id}/access", get(access))
        .route("/v1/tenants/{id}/audit", get(audit))
        .route("/v1/tenants/{id}/accounts", post(provision))
        .route("/v1/tenants/{id}/accounts/{user_id}", delete(deprovision).patch(update_account))
        .route("/v1/tenants/{id}/accounts/{user_id}/disable", post(disable_account))
        .route("/v1/tenants/{id}/accounts/{user_id}/enable", post(enable_account))
        .route("/v1/tenants/{id}/grants", post(grant))
        .route("/v1/tenants/{id}/grants/{grant_id}", delete(revoke))
        .route("/v1/tenants/{id}/resources", post(create_resource))
        .route("/v1/tenants/{id}/resources/{resource_type}/{resource_id}", delete(delete_resource).patch(update_resource))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&service), authenticate));
    Router::new()
        .route("/live", get(|| async { axum::Json(json!({"status": "live"})) }))
        .route("/ready", get(ready))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .merge(v1)
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route; see the README's service API") })
        .method_not_allowed_fallback(|| async { ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method") })
        .layer(middleware::from_fn_with_state(Arc::clone(&service), check_host))
        .layer(middleware::from_fn_with_state(Arc::clone(&service), redact_errors))
        .layer(middleware::from_fn(request_id))
        .with_state(service)
}

/// Gives the request its id and the answer an `X-Request-Id`.
async fn request_id(mut request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
    let id = given.map(str::to_owned).unwrap_or_else(|| format!("req-{:016x}", fastrand::u64(..)));
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = header::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Refuses (421) a request whose `Host` is a name the service was not given: a page that
/// rebinds its own DNS name to the service's address would send its own name. An IP literal,
/// `localhost` when listening on loopback, and each `--allowed-host` pass.
async fn check_host(State(service): State<Arc<Service>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if host_allowed(host, &service.options) {
        return next.run(request).await;
    }
    ApiError::new(
        StatusCode::MISDIRECTED_REQUEST,
        format!("Host {:?} is not a name this service answers to; add it with --allowed-host", shown(host)),
    )
    .into_response()
}

/// Whether `host` (`name[:port]`) may be answered.
pub fn host_allowed(host: &str, options: &crate::ServiceOptions) -> bool {
    let name = match host.strip_prefix('[') {
        // [v6]:port
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(name, _)| name),
    };
    if name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    if name.eq_ignore_ascii_case("localhost") && options.listen.ip().is_loopback() {
        return true;
    }
    options.allowed_hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(name))
}

/// `/v1/` needs `Authorization: Bearer TOKEN`, compared in constant time.
async fn authenticate(State(service): State<Arc<Service>>, headers: HeaderMap, request: Request, next: Next) -> Response {
    if let Some(expected) = &service.options.api_token {
        // The scheme is case-insensitive (RFC 9110 section 11.1).
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, token)| token.trim_start());
        // Compared whole, in constant time, so that the answer's timing tells nothing of the token.
        let matches: bool = given.as_bytes().ct_eq(expected.as_bytes()).into();
        if !matches {
            let mut response =
                ApiError::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required (Authorization: Bearer TOKEN)").into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

async fn ready(State(service): State<Arc<Service>>) -> Response {
    if service.ready() {
        (StatusCode::OK, axum::Json(json!({"status": "ready"}))).into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "tenants are still loading their connectors").into_response()
    }
}

async fn health(State(service): State<Arc<Service>>) -> ApiResult {
    let mut tenants = Vec::new();
    let mut healthy = true;
    for status in service.statuses(&service.held()).await.map_err(store_error)? {
        let outcome = status.outcome();
        healthy &= matches!(outcome, "ok" | "pending" | "running");
        tenants.push(json!({
            "id": status.id,
            "outcome": outcome,
            "last_success_at": status.last_success_at,
            "error": status.error.as_deref().or(status.last_sync.as_ref().and_then(|sync| sync.error.as_deref())),
        }));
    }
    let mut problems = Vec::new();
    if let Some(why) = service.state_problem().await {
        problems.push(why);
    }
    let unknown = service.store.unknown_changes();
    if unknown > 0 {
        problems.push(format!(
            "{unknown} change(s) were recorded and not settled when the service last stopped: their audit entries say unknown; sync those tenants to see what they hold"
        ));
    }
    let damaged = service.store.damaged();
    for snapshot in &damaged {
        problems.push(format!(
            "the stored snapshot of tenant {}'s sync {} is damaged ({}): the one before it is served",
            snapshot.tenant, snapshot.sync_id, snapshot.why
        ));
    }
    let status = if healthy && problems.is_empty() { "ok" } else { "degraded" };
    Ok(axum::Json(json!({"status": status, "problems": problems, "unknown_changes": unknown, "tenants": tenants})).into_response())
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], service.metrics.encode()).into_response()
}

fn known(service: &Service, id: &str) -> ApiResult<()> {
    if service.serves(id) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no tenant {id:?} is served here (check the id, the tenant file and --shard)")))
    }
}

fn store_error(error: crate::store::StoreError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{error} (the service's state database; see /health)"))
}

/// A tenant's status, as `GET /v1/tenants/{id}` answers it.
async fn status_of(service: &Service, id: &str) -> ApiResult<TenantStatus> {
    service.status(id).await.map_err(store_error)?.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no tenant {id:?}")))
}

async fn list_tenants(State(service): State<Arc<Service>>) -> ApiResult {
    let statuses = service.statuses(&service.served()).await.map_err(store_error)?;
    Ok(axum::Json(json!({"tenants": statuses})).into_response())
}

async fn tenant_status(State(service): State<Arc<Service>>, Path(id): Path<String>) -> ApiResult {
    known(&service, &id)?;
    Ok(axum::Json(status_of(&service, &id).await?).into_response())
}

async fn trigger_sync(State(service): State<Arc<Service>>, Path(id): Path<String>) -> ApiResult {
    known(&service, &id)?;
    match service.start_sync(&id, "api").await {
        Ok(sync_id) => Ok((StatusCode::ACCEPTED, axum::Json(json!({"id": sync_id, "tenant": id, "outcome": "running"}))).into_response()),
        Err(StartError::RunningElsewhere(replica)) => {
            Err(ApiError::new(StatusCode::CONFLICT, format!("a sync of tenant {id} is running on replica {replica}; wait for it")))
        }
        Err(StartError::NotDue) => Err(ApiError::new(StatusCode::CONFLICT, format!("tenant {id} was just synced; try again"))),
        Err(StartError::AlreadyRunning(running)) => {
            Err(ApiError::new(StatusCode::CONFLICT, format!("sync {running} of tenant {id} is running; wait for it")))
        }
        Err(StartError::NotReady(why)) => Err(ApiError::new(StatusCode::CONFLICT, format!("tenant {id} cannot sync: {why}"))),
        Err(StartError::Stopping) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the service is shutting down")),
        Err(StartError::UnknownTenant) => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no tenant {id:?}"))),
        Err(StartError::Store(why)) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, why)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitQuery {
    limit: Option<usize>,
}

/// The tenant's syncs, newest first (`?limit=N`, default 20).
async fn sync_history(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<LimitQuery>,
) -> ApiResult {
    known(&service, &id)?;
    let syncs = service.store.syncs(&id, None, query.limit.unwrap_or(20).clamp(1, 1000)).await.map_err(store_error)?;
    Ok(axum::Json(json!({"syncs": syncs})).into_response())
}

/// One sync, e.g. the one `POST .../syncs` started.
async fn one_sync(State(service): State<Arc<Service>>, Path((id, sync_id)): Path<(String, String)>) -> ApiResult {
    known(&service, &id)?;
    let number: i64 =
        sync_id.parse().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, format!("sync id {sync_id:?} is not a number")))?;
    match service.store.syncs(&id, Some(number), 1).await.map_err(store_error)?.pop() {
        Some(sync) => Ok(axum::Json(sync).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("tenant {id} has no sync {number}"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotQuery {
    format: Option<String>,
}

async fn snapshot(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<SnapshotQuery>,
) -> ApiResult {
    known(&service, &id)?;
    let format = query.format.as_deref().map(SnapshotFormat::parse).transpose().map_err(|e| host_error(&e))?;
    let c1z = format == Some(SnapshotFormat::C1z);
    let found = match service.store.last_snapshot(&id).await.map_err(store_error)? {
        Some((sync_id, json)) if c1z => {
            // Made from the stored JSON on request (the same snapshot gives the same bytes), off
            // the runtime: a large snapshot takes a while.
            let bytes = tokio::task::spawn_blocking(move || -> ApiResult<Vec<u8>> {
                let snapshot: connector_host::Snapshot = serde_json::from_slice(&json)
                    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("a stored snapshot does not read back: {e}")))?;
                connector_host::c1z::encode(&snapshot).map_err(|e| host_error(&e))
            })
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
            Some((sync_id, bytes))
        }
        found => found,
    };
    let Some((sync_id, bytes)) = found else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("tenant {id} has no successful sync yet")));
    };
    let etag = format!("\"sync-{sync_id}-{}\"", if c1z { "c1z" } else { "json" });
    let mut response = Body::from(Bytes::from(bytes)).into_response();
    let headers = response.headers_mut();
    let content_type = if c1z { "application/octet-stream" } else { "application/json" };
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    if let Ok(value) = header::HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if c1z && let Ok(value) = header::HeaderValue::from_str(&format!("attachment; filename=\"{id}.c1z\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

async fn diff(State(service): State<Arc<Service>>, Path(id): Path<String>) -> ApiResult {
    known(&service, &id)?;
    match service.store.last_diff(&id).await.map_err(store_error)? {
        Some((_, Some(diff))) => Ok(axum::Json(diff).into_response()),
        Some((_, None)) => Err(ApiError::new(StatusCode::NOT_FOUND, format!("tenant {id} has one snapshot only: nothing to compare yet"))),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("tenant {id} has no successful sync yet"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessQuery {
    principal: Option<String>,
    resource: Option<String>,
    entitlement: Option<String>,
}

/// Who can reach what in the tenant's latest snapshot, as `connector-host access` answers it.
async fn access(State(service): State<Arc<Service>>, Path(id): Path<String>, QueryParams(query): QueryParams<AccessQuery>) -> ApiResult {
    use connector_host::access::{AccessIndex, Question};
    known(&service, &id)?;
    let question = Question::one_of(query.principal, query.resource, query.entitlement).ok_or_else(|| {
        ApiError::new(StatusCode::BAD_REQUEST, "ask one question: ?principal=TYPE:ID (or an email), ?resource=TYPE:ID or ?entitlement=ID")
    })?;
    let Some((sync_id, json)) = service.store.last_snapshot(&id).await.map_err(store_error)? else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("tenant {id} has no successful sync yet")));
    };
    // Off the runtime: a large snapshot takes a while to read and index.
    let answer = tokio::task::spawn_blocking(move || -> ApiResult<serde_json::Value> {
        let snapshot: connector_host::Snapshot = serde_json::from_slice(&json)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("a stored snapshot does not read back: {e}")))?;
        let mut answer =
            AccessIndex::new(&snapshot).answer(&question).map_err(|e| ApiError::new(StatusCode::NOT_FOUND, e.message().to_owned()))?;
        answer["sync_id"] = json!(sync_id);
        Ok(answer)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(axum::Json(answer).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    limit: Option<usize>,
}

async fn audit(State(service): State<Arc<Service>>, Path(id): Path<String>, QueryParams(query): QueryParams<AuditQuery>) -> ApiResult {
    known(&service, &id)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 10_000);
    let entries = service.store.audit_log(&id, limit).await.map_err(store_error)?;
    Ok(axum::Json(json!({"entries": entries})).into_response())
}

// Changes.

/// Why the change must not be sent, checked before anything is: a request from another site,
/// provisioning off, a change that does not parse or check, a tenant not ready, shutdown.
fn refusal(
    service: &Service,
    id: &str,
    context: &ChangeContext,
    parsed: Result<Change, ApiError>,
) -> ApiResult<(Change, crate::tenants::Loaded)> {
    if let Some(origin) = &context.foreign_origin {
        return Err(ApiError::new(StatusCode::FORBIDDEN, format!("a change from another site (Origin {origin}) is refused")));
    }
    if !service.options.provisioning {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "provisioning is disabled: start the service with --provisioning to change access",
        ));
    }
    let change = parsed.and_then(|change| change.check().map(|()| change).map_err(|e| host_error(&e)))?;
    let loaded = match &service.load_of(id) {
        Some(Load::Ready(loaded)) => (**loaded).clone(),
        Some(Load::Failed(why)) => return Err(ApiError::new(StatusCode::CONFLICT, format!("tenant {id} cannot run: {why}"))),
        _ => return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("tenant {id}'s connector is still loading; try again"))),
    };
    if service.stopping() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is shutting down; send the change to it again once it runs",
        ));
    }
    Ok((change, loaded))
}

/// Runs `change` (as parsed from the request: the change, or why it is refused) of tenant `id`,
/// recorded ahead in the audit log: `refused` (nothing sent) when provisioning is off, the request
/// is cross-site or invalid, or the tenant cannot run; else `pending` before anything is sent (and
/// if that cannot be written: 503, nothing sent), then `done` or `failed` with its result. The
/// change runs in a task of its own: a client that leaves does not stop it, and finds its outcome
/// in the audit log by the request id. `unparsed` is what the audit records of a request whose
/// body did not parse into a change: the path's parts.
async fn change(
    service: &Arc<Service>,
    id: &str,
    context: &ChangeContext,
    operation: &'static str,
    unparsed: Value,
    parsed: Result<Change, ApiError>,
) -> ApiResult {
    known(service, id)?;
    let arguments = match &parsed {
        Ok(change) => change.arguments(),
        Err(_) => unparsed,
    };
    let record = AuditRecord { tenant: id, operation, arguments: &arguments, request_id: &context.request_id };
    let (change, loaded) = match refusal(service, id, context, parsed) {
        Ok(ready) => ready,
        Err(error) => {
            let result = json!({"error": service.redactor().redact(&error.1), "status": error.0.as_u16()});
            if let Err(e) = service.store.audit(record, "refused", &result).await {
                service.state_failed(&format!("the audit log could not record a refused {operation} of tenant {id}: {e}"));
            }
            return Err(error);
        }
    };
    let entry = service.store.audit_pending(record).await.map_err(|e| {
        service.state_failed(&format!("the audit log could not record a {operation} of tenant {id}: {e}"));
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("the audit log cannot record the change, so nothing was sent: {e}"))
    })?;
    let task = service.spawn_change({
        let service = Arc::clone(service);
        let id = id.to_owned();
        async move {
            let (outcome, answer) = match operations::apply(&loaded.runtime, &loaded.config, &change).await {
                Ok(outcome) => {
                    let printed = operations::to_json(&outcome);
                    let printed = serde_json::from_str::<Value>(&service.redactor().redact(&printed.to_string())).unwrap_or(printed);
                    ("done", Ok(printed))
                }
                Err(error) => ("failed", Err(error)),
            };
            let recorded = match &answer {
                Ok(printed) => printed.clone(),
                Err(error) => json!({"error": service.redactor().redact(error.message()), "at": now()}),
            };
            if let Err(e) = service.store.audit_settle(entry, outcome, &recorded).await {
                service.state_failed(&format!(
                    "the audit log could not record the outcome of {operation} {entry} of tenant {id} ({outcome}): {e}"
                ));
            }
            service
                .metrics
                .changes
                .get_or_create(&crate::metrics::Metrics::outcome(&id, if outcome == "done" { "ok" } else { "failed" }))
                .inc();
            answer
        }
    });
    match task.await {
        Ok(Ok(printed)) => Ok(axum::Json(printed).into_response()),
        Ok(Err(error)) => Err(host_error(&error)),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the change stopped unexpectedly ({e}); its audit entry {entry} says pending"),
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccountBody {
    email: String,
    given_name: String,
    family_name: String,
    role: Option<String>,
    phone: Option<String>,
}

async fn provision(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    context: ChangeContext,
    body: Result<JsonBody<NewAccountBody>, ApiError>,
) -> ApiResult {
    let unparsed = json!({});
    let parsed = body.map(|JsonBody(body)| Change::Provision {
        email: body.email,
        given_name: body.given_name,
        family_name: body.family_name,
        role: body.role,
        phone: body.phone,
    });
    change(&service, &id, &context, "provision", unparsed, parsed).await
}

async fn deprovision(
    State(service): State<Arc<Service>>,
    Path((id, user_id)): Path<(String, String)>,
    context: ChangeContext,
) -> ApiResult {
    change(&service, &id, &context, "deprovision", Value::Null, Ok(Change::Deprovision { user_id })).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountChangesBody {
    given_name: Option<String>,
    family_name: Option<String>,
    phone: Option<String>,
    role: Option<String>,
}

async fn update_account(
    State(service): State<Arc<Service>>,
    Path((id, user_id)): Path<(String, String)>,
    context: ChangeContext,
    body: Result<JsonBody<AccountChangesBody>, ApiError>,
) -> ApiResult {
    let unparsed = json!({"user_id": user_id});
    let parsed = body.map(|JsonBody(body)| Change::UpdateAccount {
        user_id,
        given_name: body.given_name,
        family_name: body.family_name,
        phone: body.phone,
        role: body.role,
    });
    change(&service, &id, &context, "update-account", unparsed, parsed).await
}

async fn disable_account(
    State(service): State<Arc<Service>>,
    Path((id, user_id)): Path<(String, String)>,
    context: ChangeContext,
) -> ApiResult {
    change(&service, &id, &context, "disable-account", Value::Null, Ok(Change::DisableAccount { user_id })).await
}

async fn enable_account(
    State(service): State<Arc<Service>>,
    Path((id, user_id)): Path<(String, String)>,
    context: ChangeContext,
) -> ApiResult {
    change(&service, &id, &context, "enable-account", Value::Null, Ok(Change::EnableAccount { user_id })).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    entitlement: String,
    principal: String,
}

async fn grant(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    context: ChangeContext,
    body: Result<JsonBody<GrantBody>, ApiError>,
) -> ApiResult {
    let unparsed = json!({});
    let parsed = body.map(|JsonBody(body)| Change::Grant { entitlement: body.entitlement, principal: body.principal });
    change(&service, &id, &context, "grant", unparsed, parsed).await
}

async fn revoke(State(service): State<Arc<Service>>, Path((id, grant_id)): Path<(String, String)>, context: ChangeContext) -> ApiResult {
    change(&service, &id, &context, "revoke", Value::Null, Ok(Change::Revoke { grant: grant_id })).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewResourceBody {
    #[serde(rename = "type")]
    resource_type: String,
    name: String,
    description: Option<String>,
    role: Option<String>,
}

async fn create_resource(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    context: ChangeContext,
    body: Result<JsonBody<NewResourceBody>, ApiError>,
) -> ApiResult {
    let unparsed = json!({});
    let parsed = body.map(|JsonBody(body)| Change::CreateResource {
        resource_type: body.resource_type,
        name: body.name,
        description: body.description,
        role: body.role,
    });
    change(&service, &id, &context, "create-resource", unparsed, parsed).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceChangesBody {
    name: Option<String>,
    description: Option<String>,
    role: Option<String>,
}

async fn update_resource(
    State(service): State<Arc<Service>>,
    Path((id, resource_type, resource_id)): Path<(String, String, String)>,
    context: ChangeContext,
    body: Result<JsonBody<ResourceChangesBody>, ApiError>,
) -> ApiResult {
    let unparsed = json!({"type": resource_type, "id": resource_id});
    let parsed = body.map(|JsonBody(body)| Change::UpdateResource {
        resource_type,
        id: resource_id,
        name: body.name,
        description: body.description,
        role: body.role,
    });
    change(&service, &id, &context, "update-resource", unparsed, parsed).await
}

async fn delete_resource(
    State(service): State<Arc<Service>>,
    Path((id, resource_type, resource_id)): Path<(String, String, String)>,
    context: ChangeContext,
) -> ApiResult {
    let parsed = Ok(Change::DeleteResource { resource_type, id: resource_id });
    change(&service, &id, &context, "delete-resource", Value::Null, parsed).await
}
