//! Faults the real API and real networks produce: retried ones end in a correct snapshot; the
//! others end in the right error, naming the endpoint.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use connector_e2e::{exit_status, runtime, start, tenant};
use connector_fake_fivetran::oracle::{expected_grants, minimum_requests};
use connector_fake_fivetran::{AccountSpec, Fault, FaultRule};
use connector_host::CallError;
use connector_host::bindings::latest::types::ConnectorError;
use connector_host::http::{RequestMeter, RequestTimeouts};
use connector_host::{ErrorKind, sync};

fn grant_ids(snapshot: &connector_host::Snapshot) -> BTreeSet<String> {
    snapshot.grants.iter().map(|g| g.id.clone()).collect()
}

fn small() -> AccountSpec {
    AccountSpec::sized(21, 150, 8, 6)
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/teams", 1, Fault::RateLimited { retry_after_s: 1 }));
    let started = std::time::Instant::now();
    let snapshot = sync(runtime(), &tenant(&fake, &account)).await.expect("sync succeeds after the wait");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited for Retry-After");
    assert_eq!(snapshot.stats.rate_limit_waits, 1);
    assert_eq!(grant_ids(&snapshot), expected_grants(&account));
    assert_eq!(snapshot.stats.http_requests, minimum_requests(&account) + 1);
}

#[tokio::test]
async fn a_503_is_retried_with_backoff() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/groups/", 2, Fault::Unavailable));
    let snapshot = sync(runtime(), &tenant(&fake, &account)).await.expect("sync succeeds after retries");
    assert_eq!(snapshot.stats.retries, 2);
    assert_eq!(grant_ids(&snapshot), expected_grants(&account));
}

#[tokio::test]
async fn a_truncated_body_is_retried() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/users", 1, Fault::Truncated));
    let snapshot = sync(runtime(), &tenant(&fake, &account)).await.expect("sync succeeds after a retry");
    assert_eq!(snapshot.stats.retries, 1);
    assert_eq!(grant_ids(&snapshot), expected_grants(&account));
}

#[tokio::test]
async fn a_slow_answer_past_the_request_timeout_is_retried() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/roles", 1, Fault::Slow(Duration::from_secs(2))));
    let mut tenant = tenant(&fake, &account);
    tenant.request_timeouts = RequestTimeouts::uniform(Duration::from_millis(300));
    let snapshot = sync(runtime(), &tenant).await.expect("sync succeeds after a retry");
    assert_eq!(snapshot.stats.retries, 1);
    assert_eq!(grant_ids(&snapshot), expected_grants(&account));
}

#[tokio::test]
async fn a_slow_answer_within_the_timeout_is_simply_waited_for() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/teams/", 3, Fault::Slow(Duration::from_millis(200))));
    let snapshot = sync(runtime(), &tenant(&fake, &account)).await.unwrap();
    assert_eq!(snapshot.stats.retries, 0);
    assert_eq!(grant_ids(&snapshot), expected_grants(&account));
}

#[tokio::test]
async fn a_malformed_answer_fails_with_status_4_naming_the_endpoint() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/teams", 1, Fault::Malformed));
    let error = sync(runtime(), &tenant(&fake, &account)).await.unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");
    assert!(error.to_string().contains("GET /v1/teams"), "{error}");
    let teams_requests = fake.requests().iter().filter(|r| r.path == "/v1/teams").count();
    assert_eq!(teams_requests, 1, "a malformed answer is not retried");
}

#[tokio::test]
async fn a_persistent_503_gives_up_after_the_retry_budget() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/users", u32::MAX, Fault::Unavailable));
    let tenant = tenant(&fake, &account);
    let error = sync(runtime(), &tenant).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api, "{error:?}");
    assert!(error.to_string().contains("GET /v1/users answered 503"), "{error}");
    let attempts = fake.requests().iter().filter(|r| r.path == "/v1/users").count();
    assert_eq!(attempts as u32, tenant.retry.max_attempts);
    assert!(error.to_string().contains(&format!("gave up after {attempts} attempts")), "{error}");
}

#[tokio::test]
async fn credentials_an_answer_echoes_are_redacted_in_the_error_the_session_returns() {
    let (fake, account) = start(&small());
    fake.inject(FaultRule::new("/v1/users", 1, Fault::EchoesCredentials));
    let tenant = tenant(&fake, &account);
    let mut session = runtime().open(&tenant, std::sync::Arc::new(RequestMeter::default())).await.unwrap();
    let error = session.list_resources("user", None).await.unwrap_err();
    let CallError::Connector(ConnectorError::Upstream(upstream)) = error else { panic!("{error:?}") };
    assert!(upstream.message.contains("Authorization: [redacted] (token [redacted])"), "{}", upstream.message);
    let key = account.primary_key();
    let token = STANDARD.encode(format!("{}:{}", key.key, key.secret));
    for secret in [&key.key, &key.secret, &token] {
        assert!(!upstream.message.contains(secret.as_str()), "{}", upstream.message);
    }
}

#[tokio::test]
async fn wrong_credentials_fail_with_status_3_and_are_not_retried() {
    let (fake, mut account) = start(&small());
    account.api_keys[0].secret = "wrong".into();
    let error = sync(runtime(), &tenant(&fake, &account)).await.unwrap_err();
    assert_eq!(exit_status(&error), 3, "{error}");
    assert!(error.to_string().contains("the API rejected the credentials"), "{error}");
    assert!(!error.to_string().contains("wrong"), "the secret is not echoed");
    // The resource listings start together; none is sent twice.
    let paths: Vec<String> = fake.requests().into_iter().map(|r| r.path).collect();
    let distinct: std::collections::BTreeSet<&String> = paths.iter().collect();
    assert_eq!(paths.len(), distinct.len(), "401 is not retried: {paths:?}");
    assert!(paths.len() <= 4, "{paths:?}");
}

#[tokio::test]
async fn loopback_is_refused_without_allow_private_network() {
    let (fake, account) = start(&small());
    let mut tenant = tenant(&fake, &account);
    tenant.allow_private_network = false;
    let error = sync(runtime(), &tenant).await.unwrap_err();
    assert_eq!(exit_status(&error), 5, "{error}");
    assert_eq!(error.setting(), Some("allow_private_network"), "{error}");
    assert!(fake.requests().is_empty(), "nothing reached the fake");
}

#[tokio::test]
async fn the_host_adds_credentials_to_every_request() {
    let (fake, account) = start(&small());
    sync(runtime(), &tenant(&fake, &account)).await.unwrap();
    assert!(fake.requests().iter().all(|r| r.authorized && r.status == 200));
}

#[tokio::test]
async fn a_refused_connection_is_said_in_words_after_the_retries() {
    let (fake, account) = start(&small());
    let mut tenant = tenant(&fake, &account);
    // A loopback port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    tenant.base_url = format!("http://{closed}");
    tenant.retry.max_attempts = 1;
    let error = sync(runtime(), &tenant).await.unwrap_err();
    assert_eq!(exit_status(&error), 4, "{error}");
    let text = error.to_string();
    assert!(text.contains("no complete answer: the API refused the connection"), "{text}");
    assert!(!text.contains("gave up after"), "one attempt was allowed and made: {text}");
    assert!(!text.contains("ErrorCode"), "{text}");
}
