//! The HTTP API as a router, called without a socket (`tower::ServiceExt::oneshot`), over a
//! service whose tenants a test loader fails to load: the rules every route keeps, whatever a
//! connector would do.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use connector_host::HostError;
use connector_host::tenant::TenantEntry;
use connector_service::{LoadFuture, Service, ServiceOptions, Shard, TenantLoader};
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "router-test-token-0123456789";

/// Loads no connector: every tenant stays in a configuration error.
struct NoConnectors;

impl TenantLoader for NoConnectors {
    fn load<'a>(&'a self, _: &'a TenantEntry) -> LoadFuture<'a> {
        Box::pin(async { Err(HostError::usage("no connector in this test")) })
    }
}

struct Fixture {
    service: Arc<Service>,
    _dir: tempfile::TempDir,
}

async fn fixture(provisioning: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let tenants = dir.path().join("tenants.toml");
    std::fs::write(&tenants, "[[tenant]]\nid = \"acme\"\nbase_url = \"https://api.fivetran.com\"\n").unwrap();
    let options = ServiceOptions {
        tenants_file: tenants,
        listen: "127.0.0.1:8081".parse().unwrap(),
        state_dir: dir.path().join("state"),
        database: None,
        database_ca: None,
        replica_id: "router-test".into(),
        lease_ttl: Duration::from_secs(60),
        provisioning,
        shard: Shard::ALL,
        api_token: Some(TOKEN.into()),
        grace: Duration::from_secs(1),
        max_parallel: 1,
        memory_budget_mib: 0,
        keep_snapshots: 2,
        allowed_hosts: vec!["connector-host".into()],
        header_timeout: Duration::from_secs(5),
        max_connections: 8,
    };
    let service = Service::new(options, Arc::new(NoConnectors)).await.unwrap();
    for _ in 0..200 {
        if service.ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Fixture { service, _dir: dir }
}

/// One request through the router; the status, the headers and the body as JSON.
async fn call(fixture: &Fixture, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = connector_service::api::router(Arc::clone(&fixture.service)).oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn request(method: &str, path: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(path).header(header::HOST, "127.0.0.1:8081")
}

fn authorized(method: &str, path: &str) -> axum::http::request::Builder {
    request(method, path).header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
}

const GRANT: &str = r#"{"entitlement": "team:t1:member", "principal": "user:u1"}"#;

fn grant_as(media_type: &str, request_id: &str) -> Request<Body> {
    authorized("POST", "/v1/tenants/acme/grants")
        .header(header::CONTENT_TYPE, media_type)
        .header("x-request-id", request_id)
        .body(Body::from(GRANT))
        .unwrap()
}

#[tokio::test]
async fn probes_answer_without_a_token_and_every_answer_names_its_request() {
    let fixture = fixture(false).await;
    let (status, headers, body) = call(&fixture, request("GET", "/live").body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("live")));
    assert!(headers["x-request-id"].to_str().unwrap().starts_with("req-"));
    let mine = request("GET", "/live").header("x-request-id", "mine-1");
    let (_, headers, _) = call(&fixture, mine.body(Body::empty()).unwrap()).await;
    assert_eq!(headers["x-request-id"], "mine-1", "the client's own id");
    let (status, _, health) = call(&fixture, request("GET", "/health").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "degraded", "a tenant that cannot load: {health}");
    assert!(health["tenants"][0]["error"].as_str().unwrap().contains("no connector in this test"), "{health}");
}

#[tokio::test]
async fn v1_needs_the_bearer_token_in_any_case_of_its_scheme() {
    let fixture = fixture(false).await;
    let (status, headers, _) = call(&fixture, request("GET", "/v1/tenants").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    let lower = request("GET", "/v1/tenants").header(header::AUTHORIZATION, format!("bearer {TOKEN}"));
    let (status, _, body) = call(&fixture, lower.body(Body::empty()).unwrap()).await;
    assert_eq!((status, body["tenants"][0]["id"].as_str()), (StatusCode::OK, Some("acme")));
    let (status, _, body) = call(&fixture, authorized("GET", "/v1/tenants/nobody").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("nobody"));
}

#[tokio::test]
async fn a_host_the_service_was_not_given_is_refused() {
    let fixture = fixture(false).await;
    for (host, expected) in [
        ("attacker.example", StatusCode::MISDIRECTED_REQUEST),
        ("connector-host", StatusCode::OK),
        ("[::1]:8081", StatusCode::OK),
        ("localhost:8081", StatusCode::OK),
    ] {
        let (status, _, _) = call(&fixture, Request::get("/live").header(header::HOST, host).body(Body::empty()).unwrap()).await;
        assert_eq!(status, expected, "{host}");
    }
}

#[tokio::test]
async fn changes_are_refused_and_recorded_before_anything_could_be_sent() {
    let closed = fixture(false).await;
    let (status, _, _) = call(&closed, grant_as("application/json", "closed-1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "provisioning is off");

    let open = fixture(true).await;
    let (status, _, _) = call(&open, grant_as("text/plain", "plain-1")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _, body) = call(&open, grant_as("application/json; charset=utf-8", "unloaded-1")).await;
    assert_eq!(status, StatusCode::CONFLICT, "the tenant cannot run: {body}");
    let (_, _, audit) = call(&open, authorized("GET", "/v1/tenants/acme/audit").body(Body::empty()).unwrap()).await;
    let entries: Vec<(&str, &str)> =
        audit["entries"].as_array().unwrap().iter().map(|e| (e["request_id"].as_str().unwrap(), e["outcome"].as_str().unwrap())).collect();
    assert_eq!(entries, [("unloaded-1", "refused"), ("plain-1", "refused")]);
}

/// Every query is read by one extractor: an unknown field or a value of the wrong type is a 400
/// naming it, on every route that takes a query; a format is one `SnapshotFormat` knows.
#[tokio::test]
async fn queries_are_refused_alike_and_a_status_names_every_field() {
    let fixture = fixture(false).await;
    for path in ["/v1/tenants/acme/syncs?limit=x", "/v1/tenants/acme/audit?nope=1", "/v1/tenants/acme/snapshot?size=1"] {
        let (status, _, body) = call(&fixture, authorized("GET", path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(body["error"].as_str().unwrap().starts_with("bad query: "), "{path}: {body}");
    }
    let (status, _, body) = call(&fixture, authorized("GET", "/v1/tenants/acme/snapshot?format=xml").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("is not one of json, c1z"), "{body}");
    let (status, _, body) = call(&fixture, authorized("GET", "/v1/tenants/acme").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let fields: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    for field in [
        "id",
        "connector",
        "running",
        "state",
        "error",
        "last_sync",
        "running_on",
        "last_success_at",
        "next_sync_at",
        "sync_interval_s",
        "consecutive_failures",
    ] {
        assert!(fields.contains(&field), "{field} in {body}");
    }
    assert_eq!(body["state"], "config_error");
    assert!(body["error"].as_str().unwrap().contains("no connector in this test"));
}

/// Error answers are redacted with the service's own redactor: text that echoes a credentials
/// form the service learned leaves as `[redacted]`, on one line, as JSON, with its status and
/// the request's id kept.
#[tokio::test]
async fn an_error_answer_echoing_a_learned_credential_is_redacted() {
    let fixture = fixture(false).await;
    let secret = "tok-router-secret-0042";
    let path = format!("/v1/tenants/{secret}");
    let (status, _, body) = call(&fixture, authorized("GET", &path).body(Body::empty()).unwrap()).await;
    assert!(body["error"].as_str().unwrap().contains(secret), "not learned yet, so not redacted: {body}");
    assert_eq!(status, StatusCode::NOT_FOUND);
    fixture.service.redactor().learn(&connector_host::Credentials::bearer(secret));
    let echoed = authorized("GET", &path).header("x-request-id", "redact-1");
    let (status, headers, body) = call(&fixture, echoed.body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["x-request-id"], "redact-1");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let line = body["error"].as_str().unwrap();
    assert!(line.contains("[redacted]") && !line.contains(secret), "{body}");
}
