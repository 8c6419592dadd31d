//! The HTTP API (`CONTRACT.md` section 7): probes and metrics without a token; status, syncs,
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
use connector_host::credentials::redact_known;
use connector_host::{HostError, operations};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::service::{Service, StartError};
use crate::store::now;
use crate::tenants::{Load, Tenant};

/// The largest request body.
pub const MAX_BODY: usize = 64 * 1024;

/// An error answer: `{"error": "..."}`.
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let line = redact_known(&self.1).replace(['\n', '\r'], " ");
        (self.0, axum::Json(json!({"error": line}))).into_response()
    }
}

/// A host error as the status that fits it.
fn host_error(error: &HostError) -> ApiError {
    let status = match error.exit_status() {
        2 => StatusCode::BAD_REQUEST,
        // The API refused the credentials, or failed: the service's upstream did.
        3 | 4 => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError::new(status, error.message())
}

type ApiResult<T = Response> = Result<T, ApiError>;

/// A JSON object body, size-limited, with unknown fields refused.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
            .await
            .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {MAX_BODY} bytes")))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("the request body is not valid: {e}")))
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
        .with_state(service)
}

/// `/v1/` needs `Authorization: Bearer TOKEN`, compared in constant time.
async fn authenticate(State(service): State<Arc<Service>>, headers: HeaderMap, request: Request, next: Next) -> Response {
    if let Some(expected) = &service.options.api_token {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
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
    let ids: Vec<String> = service.tenants().keys().cloned().collect();
    let mut tenants = Vec::new();
    let mut healthy = true;
    for id in ids {
        let status = status_of(&service, &id)?;
        let outcome = match (&status["state"], &status["last_sync"]["outcome"]) {
            (Value::String(state), _) if state == "config_error" => "config_error".to_owned(),
            (_, Value::String(outcome)) => outcome.clone(),
            _ => "pending".to_owned(),
        };
        healthy &= matches!(outcome.as_str(), "ok" | "pending" | "running");
        tenants.push(json!({
            "id": id,
            "outcome": outcome,
            "last_success_at": status["last_success_at"],
            "error": status["error"].as_str().or(status["last_sync"]["error"].as_str()),
        }));
    }
    Ok(axum::Json(json!({"status": if healthy { "ok" } else { "degraded" }, "tenants": tenants})).into_response())
}

async fn metrics(State(service): State<Arc<Service>>) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], service.metrics.encode()).into_response()
}

fn known(service: &Service, id: &str) -> ApiResult<()> {
    if service.tenants().get(id).is_some_and(|t| !t.removed) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("no tenant {id:?} is served here (check the id, the tenant file and --shard)")))
    }
}

fn store_error(error: crate::store::StoreError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.0)
}

/// A tenant's status, as `GET /v1/tenants/{id}` answers it.
fn status_of(service: &Service, id: &str) -> ApiResult<Value> {
    let (connector, state, config_error, next_sync_at, interval, failures) = {
        let tenants = service.tenants();
        let tenant: &Tenant = tenants.get(id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no tenant {id:?}")))?;
        let error = match &tenant.load {
            Load::Failed(why) => Some(why.clone()),
            _ => None,
        };
        let next = tenant.next_due_at().map(|t| humantime::format_rfc3339_seconds(t).to_string());
        (tenant.connector().map(str::to_owned), tenant.state(), error, next, tenant.interval.as_secs(), tenant.failures)
    };
    let last_sync = service.store.last_sync(id).map_err(store_error)?;
    let last_success_at = service.store.last_success_at(id).map_err(store_error)?;
    Ok(json!({
        "id": id,
        "connector": connector,
        "running": state == "running",
        "state": state,
        "error": config_error,
        "last_sync": last_sync,
        "last_success_at": last_success_at,
        "next_sync_at": next_sync_at,
        "sync_interval_s": interval,
        "consecutive_failures": failures,
    }))
}

async fn list_tenants(State(service): State<Arc<Service>>) -> ApiResult {
    let ids: Vec<String> = service.tenants().iter().filter(|(_, t)| !t.removed).map(|(id, _)| id.clone()).collect();
    let statuses = ids.iter().map(|id| status_of(&service, id)).collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(json!({"tenants": statuses})).into_response())
}

async fn tenant_status(State(service): State<Arc<Service>>, Path(id): Path<String>) -> ApiResult {
    known(&service, &id)?;
    Ok(axum::Json(status_of(&service, &id)?).into_response())
}

async fn trigger_sync(State(service): State<Arc<Service>>, Path(id): Path<String>) -> ApiResult {
    known(&service, &id)?;
    match service.start_sync(&id, "api") {
        Ok(sync_id) => Ok((StatusCode::ACCEPTED, axum::Json(json!({"id": sync_id, "tenant": id, "outcome": "running"}))).into_response()),
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
    query: Result<Query<LimitQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    known(&service, &id)?;
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {e}")))?;
    let syncs = service.store.syncs(&id, None, query.limit.unwrap_or(20).clamp(1, 1000)).map_err(store_error)?;
    Ok(axum::Json(json!({"syncs": syncs})).into_response())
}

/// One sync, e.g. the one `POST .../syncs` started.
async fn one_sync(State(service): State<Arc<Service>>, Path((id, sync_id)): Path<(String, String)>) -> ApiResult {
    known(&service, &id)?;
    let number: i64 =
        sync_id.parse().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, format!("sync id {sync_id:?} is not a number")))?;
    match service.store.syncs(&id, Some(number), 1).map_err(store_error)?.pop() {
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
    query: Result<Query<SnapshotQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    known(&service, &id)?;
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {e}")))?;
    let c1z = match query.format.as_deref() {
        None | Some("json") => false,
        Some("c1z") => true,
        Some(other) => return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("format {other:?} is not one of json, c1z"))),
    };
    let found = tokio::task::spawn_blocking({
        let service = Arc::clone(&service);
        let id = id.clone();
        move || -> ApiResult<Option<(i64, Vec<u8>)>> {
            let Some((sync_id, json)) = service.store.last_snapshot(&id).map_err(store_error)? else { return Ok(None) };
            if !c1z {
                return Ok(Some((sync_id, json)));
            }
            // Made from the stored JSON on request: the same snapshot gives the same bytes.
            let snapshot: connector_host::Snapshot = serde_json::from_slice(&json)
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("a stored snapshot does not read back: {e}")))?;
            let bytes = connector_host::c1z::encode(&snapshot).map_err(|e| host_error(&e))?;
            Ok(Some((sync_id, bytes)))
        }
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
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
    match service.store.last_diff(&id).map_err(store_error)? {
        Some((_, Some(diff))) => Ok(axum::Json(diff).into_response()),
        Some((_, None)) => Err(ApiError::new(StatusCode::NOT_FOUND, format!("tenant {id} has one snapshot only: nothing to compare yet"))),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("tenant {id} has no successful sync yet"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    limit: Option<usize>,
}

async fn audit(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    known(&service, &id)?;
    let Query(query) = query.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad query: {e}")))?;
    let limit = query.limit.unwrap_or(100).clamp(1, 10_000);
    let entries = service.store.audit_log(&id, limit).map_err(store_error)?;
    Ok(axum::Json(json!({"entries": entries})).into_response())
}

// Changes.

/// Runs a change of tenant `id` when provisioning is enabled, and records it in the audit log
/// whatever happens (refused, failed or done).
async fn change<F, Fut, O>(service: &Arc<Service>, id: &str, operation: &str, arguments: Value, run: F) -> ApiResult
where
    F: FnOnce(crate::tenants::Loaded) -> Fut,
    Fut: std::future::Future<Output = Result<O, HostError>>,
    O: serde::Serialize,
{
    known(service, id)?;
    let audit = |outcome: &str, result: &Value| {
        let redacted: Value = serde_json::from_str(&redact_known(&result.to_string())).unwrap_or(Value::Null);
        if let Err(e) = service.store.audit(id, operation, &arguments, outcome, &redacted) {
            tracing::error!(tenant = %id, "the audit log could not record {operation}: {e}");
        }
    };
    if !service.options.provisioning {
        let message = "provisioning is disabled: start the service with --provisioning to change access";
        audit("refused", &json!({"error": message}));
        return Err(ApiError::new(StatusCode::FORBIDDEN, message));
    }
    let loaded = match &service.tenants().get(id).map(|t| t.load.clone()) {
        Some(Load::Ready(loaded)) => (**loaded).clone(),
        Some(Load::Failed(why)) => return Err(ApiError::new(StatusCode::CONFLICT, format!("tenant {id} cannot run: {why}"))),
        _ => return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("tenant {id}'s connector is still loading; try again"))),
    };
    let label = crate::metrics::Metrics::outcome(id, "ok");
    match run(loaded).await {
        Ok(outcome) => {
            let printed = operations::to_json(&outcome);
            audit("done", &printed);
            service.metrics.changes.get_or_create(&label).inc();
            Ok(axum::Json(serde_json::from_str::<Value>(&redact_known(&printed.to_string())).unwrap_or(printed)).into_response())
        }
        Err(error) => {
            audit("failed", &json!({"error": error.message(), "at": now()}));
            service.metrics.changes.get_or_create(&crate::metrics::Metrics::outcome(id, "failed")).inc();
            Err(host_error(&error))
        }
    }
}

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct NewAccountBody {
    email: String,
    given_name: String,
    family_name: String,
    role: Option<String>,
    phone: Option<String>,
}

async fn provision(State(service): State<Arc<Service>>, Path(id): Path<String>, JsonBody(body): JsonBody<NewAccountBody>) -> ApiResult {
    let arguments = serde_json::to_value(&body).unwrap_or_default();
    let account = connector_host::bindings::latest::types::NewAccount {
        email: body.email,
        given_name: body.given_name,
        family_name: body.family_name,
        account_role: body.role,
        phone: body.phone,
    };
    change(&service, &id, "provision", arguments, |t| async move { operations::provision(&t.runtime, &t.config, account).await }).await
}

async fn deprovision(State(service): State<Arc<Service>>, Path((id, user_id)): Path<(String, String)>) -> ApiResult {
    change(&service, &id, "deprovision", json!({"user_id": user_id}), |t| async move {
        operations::deprovision(&t.runtime, &t.config, &user_id).await
    })
    .await
}

#[derive(Deserialize, serde::Serialize)]
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
    JsonBody(body): JsonBody<AccountChangesBody>,
) -> ApiResult {
    if body.given_name.is_none() && body.family_name.is_none() && body.phone.is_none() && body.role.is_none() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "nothing to change: give given_name, family_name, phone or role"));
    }
    let mut arguments = serde_json::to_value(&body).unwrap_or_default();
    arguments["user_id"] = json!(user_id);
    let changes = connector_host::bindings::latest::types::AccountChanges {
        given_name: body.given_name,
        family_name: body.family_name,
        phone: body.phone,
        account_role: body.role,
    };
    change(&service, &id, "update-account", arguments, |t| async move {
        operations::update_account(&t.runtime, &t.config, &user_id, &changes).await
    })
    .await
}

async fn disable_account(State(service): State<Arc<Service>>, Path((id, user_id)): Path<(String, String)>) -> ApiResult {
    change(&service, &id, "disable-account", json!({"user_id": user_id}), |t| async move {
        operations::set_account_enabled(&t.runtime, &t.config, &user_id, false).await
    })
    .await
}

async fn enable_account(State(service): State<Arc<Service>>, Path((id, user_id)): Path<(String, String)>) -> ApiResult {
    change(&service, &id, "enable-account", json!({"user_id": user_id}), |t| async move {
        operations::set_account_enabled(&t.runtime, &t.config, &user_id, true).await
    })
    .await
}

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    entitlement: String,
    principal: String,
}

async fn grant(State(service): State<Arc<Service>>, Path(id): Path<String>, JsonBody(body): JsonBody<GrantBody>) -> ApiResult {
    known(&service, &id)?;
    operations::parse_principal(&body.principal).map_err(|e| host_error(&e))?;
    let arguments = serde_json::to_value(&body).unwrap_or_default();
    change(&service, &id, "grant", arguments, |t| async move {
        operations::grant(&t.runtime, &t.config, &body.entitlement, &body.principal).await
    })
    .await
}

async fn revoke(State(service): State<Arc<Service>>, Path((id, grant_id)): Path<(String, String)>) -> ApiResult {
    change(
        &service,
        &id,
        "revoke",
        json!({"grant": grant_id}),
        |t| async move { operations::revoke(&t.runtime, &t.config, &grant_id).await },
    )
    .await
}

#[derive(Deserialize, serde::Serialize)]
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
    JsonBody(body): JsonBody<NewResourceBody>,
) -> ApiResult {
    let arguments = serde_json::to_value(&body).unwrap_or_default();
    let spec = connector_host::bindings::latest::types::NewResource {
        resource_type: body.resource_type,
        name: body.name,
        description: body.description,
        account_role: body.role,
    };
    change(&service, &id, "create-resource", arguments, |t| async move { operations::create_resource(&t.runtime, &t.config, &spec).await })
        .await
}

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct ResourceChangesBody {
    name: Option<String>,
    description: Option<String>,
    role: Option<String>,
}

async fn update_resource(
    State(service): State<Arc<Service>>,
    Path((id, resource_type, resource_id)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<ResourceChangesBody>,
) -> ApiResult {
    if body.name.is_none() && body.description.is_none() && body.role.is_none() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "nothing to change: give name, description or role"));
    }
    let mut arguments = serde_json::to_value(&body).unwrap_or_default();
    arguments["type"] = json!(resource_type);
    arguments["id"] = json!(resource_id);
    let target = connector_host::bindings::latest::types::ResourceRef { resource_type, id: resource_id };
    let changes = connector_host::bindings::latest::types::ResourceChanges {
        name: body.name,
        description: body.description,
        account_role: body.role,
    };
    change(&service, &id, "update-resource", arguments, |t| async move {
        operations::update_resource(&t.runtime, &t.config, &target, &changes).await
    })
    .await
}

async fn delete_resource(
    State(service): State<Arc<Service>>,
    Path((id, resource_type, resource_id)): Path<(String, String, String)>,
) -> ApiResult {
    let arguments = json!({"type": resource_type, "id": resource_id});
    let target = connector_host::bindings::latest::types::ResourceRef { resource_type, id: resource_id };
    change(
        &service,
        &id,
        "delete-resource",
        arguments,
        |t| async move { operations::delete_resource(&t.runtime, &t.config, &target).await },
    )
    .await
}
