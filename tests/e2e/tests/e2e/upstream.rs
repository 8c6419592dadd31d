//! An embedder's upstream: the real component in the real host, its requests handed to the
//! embedder instead of a connection, with the tenant's credentials, policy and limits.

use std::sync::{Arc, Mutex};

use connector_e2e::{hostile_runtime, runtime};
use connector_host::http::RequestMeter;
use connector_host::{CallError, ConnectorRuntime, Credentials, TenantConfig, Upstream, UpstreamFailure, UpstreamFuture};

/// Answers every request with `answer` and remembers what it was sent.
struct Recording {
    answer: Result<&'static str, UpstreamFailure>,
    seen: Mutex<Vec<(String, Option<String>)>>,
}

impl Recording {
    fn new(answer: Result<&'static str, UpstreamFailure>) -> Arc<Self> {
        Arc::new(Self { answer, seen: Mutex::default() })
    }

    fn seen(&self) -> Vec<(String, Option<String>)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Upstream for Recording {
    fn send(&self, request: http::Request<bytes::Bytes>) -> UpstreamFuture {
        let authorization = request.headers().get("authorization").map(|v| v.to_str().unwrap().to_owned());
        self.seen.lock().unwrap().push((request.uri().to_string(), authorization));
        let answer = self.answer.clone().map(|body| {
            http::Response::builder().status(200).header("content-type", "application/json").body(bytes::Bytes::from(body)).unwrap()
        });
        Box::pin(async move { answer })
    }
}

const ROLES: &str = r#"{"code":"Success","data":{"items":[
    {"name":"Account Administrator","description":"All of it","scope":["ACCOUNT"],"is_custom":false},
    {"name":"Destination Reviewer","scope":["DESTINATION"],"is_custom":false}
]}}"#;

fn tenant(base_url: &str) -> TenantConfig {
    TenantConfig::new("embedded", base_url, Credentials::new("the-key", "the-secret"))
}

async fn list_roles(runtime: &ConnectorRuntime, tenant: &TenantConfig) -> (Result<usize, CallError>, Arc<RequestMeter>) {
    let meter = Arc::new(RequestMeter::default());
    let mut session = runtime.open(tenant, Arc::clone(&meter)).await.expect("the session opens");
    let listed = session.list_resources("role", None).await.map(|page| page.resources.len());
    (listed, meter)
}

#[tokio::test]
async fn requests_go_to_the_upstream_with_the_tenants_credentials_and_its_answer_comes_back() {
    let upstream = Recording::new(Ok(ROLES));
    let embedded = runtime().clone().with_upstream(upstream.clone());
    let (listed, meter) = list_roles(&embedded, &tenant("https://api.fivetran.com")).await;
    assert_eq!(listed.expect("the roles are listed"), 2);
    // Basic base64("the-key:the-secret"), set by the host, never by the connector.
    let basic = Some("Basic dGhlLWtleTp0aGUtc2VjcmV0".to_owned());
    assert_eq!(upstream.seen(), [("https://api.fivetran.com/v1/roles?limit=1000".to_owned(), basic)]);
    assert_eq!(meter.requests(), 1, "the request is counted as any other");
}

#[tokio::test]
async fn origins_the_tenant_does_not_allow_never_reach_the_upstream() {
    let upstream = Recording::new(Ok(ROLES));
    // The hostile component, given this base URL, asks for 169.254.169.254 and example.com.
    let embedded = hostile_runtime().clone().with_upstream(upstream.clone());
    let (listed, meter) = list_roles(&embedded, &tenant("https://elsewhere.example")).await;
    assert!(listed.is_err(), "the plugin got no answer: {listed:?}");
    assert_eq!(upstream.seen(), [], "nothing reached the upstream");
    let denial = meter.denial().expect("the refusal is recorded");
    assert!(denial.message.contains("169.254.169.254"), "{denial:?}");
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused_and_a_failure_is_a_failed_request() {
    let upstream = Recording::new(Ok(ROLES));
    let embedded = runtime().clone().with_upstream(upstream.clone());
    let mut small = tenant("https://api.fivetran.com");
    small.traffic.max_response_bytes = 64;
    let (listed, meter) = list_roles(&embedded, &small).await;
    assert!(listed.is_err());
    assert!(meter.denial().is_some_and(|d| d.message.contains("response size limit")), "{:?}", meter.denial());

    let unreachable = Recording::new(Err(UpstreamFailure::Unreachable("proxy down".into())));
    let embedded = runtime().clone().with_upstream(unreachable);
    let (listed, _) = list_roles(&embedded, &tenant("https://api.fivetran.com")).await;
    let error = format!("{:?}", listed.expect_err("no answer"));
    assert!(error.contains("proxy down"), "{error}");
}
