//! Hostile components: each misbehaviour is stopped with the right error, quickly, while a
//! well-behaved tenant syncing at the same time finishes with a correct snapshot.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use connector_e2e::{exit_status, hostile_runtime, runtime, start, tenant};
use connector_fake_fivetran::oracle::expected_grants;
use connector_fake_fivetran::{Account, AccountSpec};
use connector_host::http::RequestMeter;
use connector_host::sync_all::{TenantOutcome, TenantRun, sync_all};
use connector_host::{Credentials, ErrorKind, Snapshot, TenantConfig};

const SECRET: &str = "hostile-secret-value";

fn hostile(base_url: &str) -> TenantConfig {
    let mut tenant = TenantConfig::new("hostile", base_url, Credentials::new("hostile-key", SECRET));
    tenant.cpu_time_per_call = Duration::from_millis(300);
    tenant
}

struct Run {
    good: TenantOutcome,
    bad: TenantOutcome,
    account: Account,
    dir: tempfile::TempDir,
}

/// Syncs a good tenant and `bad` together.
async fn alongside(bad: TenantConfig) -> Run {
    let (fake, account) = start(&AccountSpec::sized(51, 200, 10, 8));
    let good = tenant(&fake, &account);
    let dir = tempfile::tempdir().unwrap();
    let runs = vec![
        TenantRun::new(good.id.clone(), runtime().clone(), Ok(good)),
        TenantRun::new(bad.id.clone(), hostile_runtime().clone(), Ok(bad)),
    ];
    let mut outcomes = sync_all(runs, dir.path()).await.into_iter();
    let (good, bad) = (outcomes.next().unwrap(), outcomes.next().unwrap());
    drop(fake);
    Run { good, bad, account, dir }
}

impl Run {
    fn assert_good_tenant_correct(&self) {
        let summary = self.good.result.as_ref().expect("the good tenant succeeds");
        let snapshot = Snapshot::read(&summary.path).unwrap();
        let grants: BTreeSet<String> = snapshot.grants.into_iter().map(|g| g.id).collect();
        assert_eq!(grants, expected_grants(&self.account));
    }

    /// The hostile tenant failed with exit status 5, saying `expect`, and wrote nothing.
    fn assert_stopped(&self, expect: &str, within: Duration) -> String {
        self.assert_good_tenant_correct();
        let error = self.bad.result.as_ref().expect_err("the hostile tenant is stopped");
        assert_eq!(error.kind(), ErrorKind::Sandbox, "{error:?}");
        assert_eq!(exit_status(&error), 5);
        let text = error.to_string();
        assert!(text.contains(expect), "{text} should say {expect}");
        assert!(!text.contains(SECRET));
        assert!(self.bad.duration < within, "stopped in {:?}", self.bad.duration);
        assert!(!self.dir.path().join("hostile.json").exists(), "no snapshot for the stopped tenant");
        text
    }

    fn hostile_traits(&self) -> serde_json::Value {
        let summary = self.bad.result.as_ref().expect("the hostile tenant's sync completes");
        let snapshot = Snapshot::read(&summary.path).unwrap();
        snapshot.resources[0].traits.clone()
    }
}

#[tokio::test]
async fn an_endless_loop_hits_the_cpu_limit() {
    let run = alongside(hostile("https://spin.hostile.test")).await;
    run.assert_stopped("CPU time limit", Duration::from_secs(5));
}

#[tokio::test]
async fn unbounded_memory_growth_hits_the_memory_limit() {
    let mut bad = hostile("https://hog.hostile.test");
    bad.memory_limit_bytes = 32 * 1024 * 1024;
    let run = alongside(bad).await;
    let text = run.assert_stopped("memory limit", Duration::from_secs(5));
    assert!(text.contains("32 MiB"), "{text}");
}

#[tokio::test]
async fn a_huge_return_value_hits_the_return_limit() {
    let run = alongside(hostile("https://flood.hostile.test")).await;
    run.assert_stopped("return size limit", Duration::from_secs(10));
}

/// The limit holds before the host copies the page: 400,000 empty resources are 13 MB in the
/// connector's memory (and were let through when only their strings were counted) but 38 MB of host
/// values.
#[tokio::test]
async fn a_page_of_many_empty_records_hits_the_return_limit_before_it_is_copied() {
    let run = alongside(hostile("https://swarm.hostile.test")).await;
    let text = run.assert_stopped("return size limit", Duration::from_secs(10));
    assert!(text.contains("list-resources handed the host more than 16 MiB"), "{text}");
}

/// What the connector passes to the host in a call of its own (here the log) is bounded alike.
#[tokio::test]
async fn a_huge_log_message_hits_the_size_limit() {
    let run = alongside(hostile("https://shout.hostile.test")).await;
    run.assert_stopped("size limit", Duration::from_secs(10));
}

/// Host state the connector creates (here header maps) is bounded by its handles: 10,000 maps of
/// 8 KB would be 80 MB of host memory outside the connector's memory limit.
#[tokio::test]
async fn hoarding_host_resources_hits_the_handle_limit() {
    let run = alongside(hostile("https://hoard.hostile.test")).await;
    let text = run.assert_stopped("handle limit", Duration::from_secs(10));
    assert!(text.contains("more than 256"), "{text}");
}

#[tokio::test]
async fn a_header_map_is_capped_at_16_kib() {
    let run = alongside(hostile("https://fat-header.hostile.test")).await;
    let text = run.assert_stopped("header size limit", Duration::from_secs(10));
    assert!(text.contains("more than 16 KiB"), "{text}");
}

/// A request body buffers at most two 64 KiB chunks in the host, not wasmtime's default 1 MiB.
#[tokio::test]
async fn a_request_body_takes_64_kib_at_a_time() {
    let run = alongside(hostile("https://body-budget.hostile.test")).await;
    run.assert_good_tenant_correct();
    assert_eq!(run.hostile_traits()["check_write"], "Some(Ok(65536))");
}

/// Random bytes are handed out 64 KiB at a time at most: the host allocates them before the
/// connector's memory limit could refuse them.
#[tokio::test]
async fn a_huge_request_for_random_bytes_hits_its_limit() {
    let run = alongside(hostile("https://random.hostile.test")).await;
    let text = run.assert_stopped("random bytes limit", Duration::from_secs(10));
    assert!(text.contains("more than 64 KiB"), "{text}");
}

/// A crash says what stopped the connector and, for a Rust panic, its message.
#[tokio::test]
async fn a_panic_is_reported_with_its_message() {
    let run = alongside(hostile("https://panic.hostile.test")).await;
    run.assert_good_tenant_correct();
    let error = run.bad.result.as_ref().expect_err("the panicking tenant fails");
    let text = error.to_string();
    assert!(text.contains("the connector crashed: wasm trap: wasm `unreachable` instruction executed"), "{text}");
    assert!(
        text.contains("its last words on stderr: thread '<unnamed>'") && text.contains("panicked at tests/hostile/src/lib.rs:"),
        "{text}"
    );
    assert!(text.contains(" / the hostile plugin panics on purpose; this is a connector bug"), "{text}");
    assert_eq!(exit_status(&error), 1, "{text}");
}

#[tokio::test]
async fn requests_to_other_hosts_and_the_metadata_address_are_refused() {
    let run = alongside(hostile("https://elsewhere.hostile.test")).await;
    run.assert_stopped("egress to http://169.254.169.254:80 denied", Duration::from_secs(5));
    assert_eq!(run.bad.result.as_ref().unwrap_err().setting(), Some("base_url"), "the setting that allows another origin");
}

#[tokio::test]
async fn loopback_is_refused_without_allow_private_network() {
    let (fake, _) = start(&AccountSpec::sized(52, 5, 1, 1));
    let run = alongside(hostile(&fake.base_url())).await;
    run.assert_stopped("non-public address 127.0.0.1", Duration::from_secs(5));
    assert!(fake.requests().is_empty(), "nothing reached loopback");
}

#[tokio::test]
async fn the_cloud_metadata_address_is_refused_even_as_base_url() {
    let run = alongside(hostile("http://169.254.169.254")).await;
    run.assert_stopped("169.254.169.254", Duration::from_secs(5));
}

/// A tenant allowed private networks (a local proxy, say) still never reaches the metadata
/// service, under its address, a numeric alias of it or an IPv6 form of it.
#[tokio::test]
async fn the_cloud_metadata_address_is_refused_with_private_networks_allowed() {
    for base_url in ["http://169.254.169.254", "http://2852039166", "http://[::ffff:169.254.169.254]", "http://[fd00:ec2::254]"] {
        let mut tenant = hostile(base_url);
        tenant.allow_private_network = true;
        let run = alongside(tenant).await;
        run.assert_stopped("a cloud metadata address, which no tenant may reach", Duration::from_secs(5));
    }
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused() {
    let (fake, _) = start(&AccountSpec::sized(53, 5, 1, 1));
    let url = format!("http://localhost:{}", fake.addr().port());
    let run = alongside(hostile(&url)).await;
    run.assert_stopped("non-public address", Duration::from_secs(5));
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn an_authorization_header_of_the_guest_is_refused() {
    let run = alongside(hostile("https://authz.hostile.test")).await;
    run.assert_good_tenant_correct();
    let traits = run.hostile_traits();
    let outcome = traits["authorization"].as_str().unwrap();
    assert!(outcome.starts_with("refused"), "{outcome}");
}

#[tokio::test]
async fn files_environment_stdin_and_sockets_are_out_of_reach() {
    let run = alongside(hostile("https://snoop.hostile.test")).await;
    run.assert_good_tenant_correct();
    let traits = run.hostile_traits();
    assert!(traits["file"].as_str().unwrap().starts_with("denied"), "{traits}");
    assert!(traits["root"].as_str().unwrap().starts_with("denied"), "{traits}");
    assert_eq!(traits["env"], 0, "{traits}");
    assert_eq!(traits["args"], 0, "{traits}");
    assert_eq!(traits["stdin"], "read 0 bytes", "{traits}");
    assert!(traits["socket"].as_str().unwrap().starts_with("denied"), "{traits}");
}

#[tokio::test]
async fn output_floods_are_capped_and_harmless() {
    let started = Instant::now();
    let run = alongside(hostile("https://chatty.hostile.test")).await;
    run.assert_good_tenant_correct();
    assert!(run.bad.result.is_ok(), "{:?}", run.bad.result);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_request_budget_stops_a_runaway_tenant() {
    let (fake, account) = start(&AccountSpec::sized(54, 50, 20, 5));
    let mut limited = tenant(&fake, &account);
    limited.traffic.max_requests = 10;
    let error = connector_host::sync(runtime(), &limited).await.unwrap_err();
    assert_eq!(exit_status(&error), 5, "{error}");
    assert!(error.to_string().contains("request limit"), "{error}");
    // Requests still on their way when the run stopped may never arrive; none beyond the budget.
    assert!(fake.requests().len() <= 10, "{} requests", fake.requests().len());
}

#[tokio::test]
async fn an_oversized_answer_is_cut_off() {
    let (fake, account) = start(&AccountSpec::sized(55, 2000, 2, 2));
    let mut limited = tenant(&fake, &account);
    limited.traffic.max_response_bytes = 64 * 1024;
    let error = connector_host::sync(runtime(), &limited).await.unwrap_err();
    assert_eq!(exit_status(&error), 5, "{error}");
    assert!(error.to_string().contains("response size limit") && error.to_string().contains("GET /v1/users"), "{error}");
}

/// A loopback server that answers each request (a GET: a head, no body) after `delay`, over
/// kept-alive connections; and the most requests it had in progress at once.
async fn slow_server(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (in_progress, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let most_seen = Arc::clone(&most);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (in_progress, most) = (Arc::clone(&in_progress), Arc::clone(&most));
            tokio::spawn(async move {
                let (mut received, mut chunk) = (Vec::new(), [0u8; 4096]);
                loop {
                    let head_end = loop {
                        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => received.extend_from_slice(&chunk[..n]),
                        }
                    };
                    received.drain(..head_end);
                    most.fetch_max(in_progress.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    in_progress.fetch_sub(1, Ordering::SeqCst);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{address}"), most_seen)
}

/// A connector that fires requests without reading the answers holds no more sockets than its run's
/// exchange slots: the requests past them wait, and all are answered in the end.
#[tokio::test]
async fn a_burst_of_requests_holds_at_most_the_runs_exchange_slots() {
    let (base_url, most) = slow_server(Duration::from_millis(40)).await;
    let mut tenant = hostile(&base_url);
    tenant.allow_private_network = true;
    tenant.max_concurrency = 1;
    tenant.traffic.max_open_exchanges = 4;
    let mut session = hostile_runtime().open(&tenant, Arc::new(RequestMeter::default())).await.unwrap();
    let page = session.list_resources("burst", None).await.unwrap();
    assert_eq!(page.resources[0].traits_json, r#"{"answered":64}"#);
    assert_eq!(most.load(Ordering::SeqCst), 4, "four exchanges at once, no more (and the burst did fill them)");
}

/// Where a test's log lines go.
/// A connector cannot flood the host's log through the WIT `log` interface: 64 KiB an instance,
/// and the host says how many messages it dropped.
#[tokio::test]
async fn log_floods_are_capped() {
    let captured = connector_e2e::LogCapture::start(tracing::Level::INFO);
    let tenant = hostile("https://logorrhea.hostile.test");
    let mut session = hostile_runtime().open(&tenant, Arc::new(RequestMeter::default())).await.unwrap();
    session.list_resources("thing", None).await.unwrap();
    let text = captured.text();
    assert!(text.len() < 200 * 1024, "{} bytes logged for 2 MB of messages", text.len());
    assert!(
        text.contains("dropped 19345 log messages of the connector: past its 65536-byte limit"),
        "{}",
        &text[text.len().saturating_sub(500)..]
    );
}
