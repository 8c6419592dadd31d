//! `connector-bench`: measures the connector host against its targets and writes the table to
//! `BENCHMARKS.md` with the machine it ran on and the command.
//!
//! ```sh
//! cargo run --release -p connector-bench            # the full run, several minutes
//! cargo run --release -p connector-bench -- --smoke # seconds; prints, writes nothing
//! ```

mod fake_process;
mod measure;
mod replicas;
mod service;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use connector_fake_fivetran::{Account, AccountSpec, generate};
use connector_fivetran::Syncer;
use connector_fivetran::transport::{ApiRequest, ApiResponse, Transport, TransportError};
use connector_host::cache::ComponentCache;
use connector_host::engine::{Allocation, new_engine};
use connector_host::http::RequestMeter;
use connector_host::{ConnectorRuntime, Credentials, TenantConfig, Upstream, UpstreamFailure, UpstreamFuture, sync};

use crate::fake_process::FakeProcess;
use crate::measure::{micros, millis, percentile, process_cpu, reset_peak, status_kib};

/// How big a run is.
struct Sizes {
    /// The large account of the memory row.
    large: (usize, usize, usize),
    users: usize,
    teams: usize,
    groups: usize,
    latency: Duration,
    tenants: usize,
    /// Tenants of the service row.
    service_tenants: usize,
    /// Tenants of the replicas' rows.
    replica_tenants: usize,
    instantiations: usize,
    mappings: usize,
    mapping_rounds: usize,
}

const FULL: Sizes = Sizes {
    large: (100_000, 5_000, 300),
    users: 20_000,
    teams: 1_000,
    groups: 300,
    latency: Duration::from_millis(20),
    tenants: 100,
    service_tenants: 500,
    replica_tenants: 5_000,
    instantiations: 2_000,
    mappings: 20,
    mapping_rounds: 40,
};

const SMOKE: Sizes = Sizes {
    large: (2_000, 50, 10),
    users: 300,
    teams: 20,
    groups: 10,
    latency: Duration::from_millis(5),
    tenants: 4,
    service_tenants: 6,
    replica_tenants: 9,
    instantiations: 40,
    mappings: 3,
    mapping_rounds: 2,
};

pub(crate) struct Row {
    what: String,
    measured: String,
    target: String,
    met: Option<bool>,
}

pub(crate) fn row(what: impl Into<String>, measured: impl Into<String>, target: &str, met: Option<bool>) -> Row {
    Row { what: what.into(), measured: measured.into(), target: target.into(), met }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("connector-bench: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve-fake") => return fake_process::serve(&args[1..]),
        Some("tenants-rss") => return runtime()?.block_on(tenants_child(&args[1..])),
        Some("large-rss") => return runtime()?.block_on(large_child(&args[1..])),
        Some("service-child") => return runtime()?.block_on(service::child(&args[1..])),
        _ => {}
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let out = match args.iter().position(|a| a == "--out") {
        Some(i) => Some(args.get(i + 1).context("--out needs a file")?.clone()),
        None if smoke => None,
        None => Some("BENCHMARKS.md".to_owned()),
    };
    let groups = GROUPS.join(", ");
    let only = match args.iter().position(|a| a == "--only") {
        Some(i) => {
            let group = args.get(i + 1).with_context(|| format!("--only needs a row group: {groups}"))?;
            if !GROUPS.contains(&group.as_str()) {
                bail!("--only {group}: no such row group; choose one of {groups}");
            }
            Some(group.clone())
        }
        None => None,
    };
    if let Some(unknown) = args.iter().find(|a| a.starts_with("--") && !["--smoke", "--out", "--only"].contains(&a.as_str())) {
        bail!("unknown flag {unknown}; use --smoke, --out FILE or --only GROUP");
    }
    // A partial run is for looking, not for the record.
    let out = if only.is_some() && !args.iter().any(|a| a == "--out") { None } else { out };
    let sizes = if smoke { &SMOKE } else { &FULL };
    let started = Instant::now();
    let rows = runtime()?.block_on(all_rows(sizes, only.as_deref()))?;
    let report = render(&rows, sizes, smoke, started.elapsed());
    match out {
        Some(path) => {
            std::fs::write(&path, &report).with_context(|| format!("cannot write {path}"))?;
            println!("{report}\nwritten to {path}");
        }
        None => println!("{report}"),
    }
    Ok(())
}

/// What `--only` picks; `sync-8` is the sync at concurrency 8 alone.
const GROUPS: &[&str] = &["sync", "sync-8", "cpu", "instantiation", "startup", "tenants", "large", "mapping", "service", "replicas"];

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

async fn all_rows(sizes: &Sizes, only: Option<&str>) -> Result<Vec<Row>> {
    let engine = ConnectorRuntime::engine()?;
    // Compiled once: the child processes load it from this cache.
    let cache_dir = tempfile::tempdir()?;
    let plugin = ConnectorRuntime::load(&engine, connector_builtin::fivetran(), Some(&ComponentCache::new(cache_dir.path())))?;
    let wanted = |group: &str| only.is_none_or(|o| o == group);
    let mut rows = Vec::new();
    if wanted("sync") || wanted("sync-8") {
        let concurrencies: &[usize] = if only == Some("sync-8") { &[8] } else { &[1, 8] };
        sync_rows(sizes, &plugin, concurrencies, &mut rows).await?;
    }
    if wanted("cpu") {
        cpu_row(sizes, &plugin, &mut rows).await?;
    }
    if wanted("instantiation") {
        instantiation_rows(sizes, &mut rows).await?;
    }
    if wanted("startup") {
        startup_rows(&mut rows).await?;
    }
    if wanted("tenants") {
        tenants_row(sizes, cache_dir.path(), &mut rows)?;
    }
    if wanted("large") {
        large_row(sizes, cache_dir.path(), &mut rows)?;
    }
    if wanted("mapping") {
        mapping_row(sizes, &plugin, &mut rows).await?;
    }
    if wanted("service") {
        service::rows(sizes.service_tenants, cache_dir.path(), &mut rows)?;
        service::audit_row(&mut rows).await?;
    }
    if wanted("replicas") {
        replicas::rows(sizes.replica_tenants, cache_dir.path(), &mut rows)?;
    }
    Ok(rows)
}

fn tenant(fake: &FakeProcess, concurrency: usize) -> TenantConfig {
    let mut tenant = TenantConfig::new("bench", &fake.base_url, Credentials::new(&fake.key, &fake.secret));
    tenant.allow_private_network = true;
    tenant.max_concurrency = concurrency;
    tenant
}

fn account_label(sizes: &Sizes) -> String {
    format!("{} users, {} teams, {} groups", sizes.users, sizes.teams, sizes.groups)
}

/// Wall time at concurrency 1 and 8 against `minimum requests × latency / concurrency`.
async fn sync_rows(sizes: &Sizes, plugin: &ConnectorRuntime, concurrencies: &[usize], rows: &mut Vec<Row>) -> Result<()> {
    let spec = AccountSpec::sized(7, sizes.users, sizes.teams, sizes.groups);
    let fake = FakeProcess::spawn(&spec, sizes.latency)?;
    for &concurrency in concurrencies {
        let started = Instant::now();
        let snapshot = sync(plugin, &tenant(&fake, concurrency)).await?;
        let wall = started.elapsed();
        if snapshot.grants.len() as u64 != fake.grants {
            bail!("the sync found {} grants, the account holds {}", snapshot.grants.len(), fake.grants);
        }
        let bound = sizes.latency * fake.minimum_requests as u32 / concurrency as u32;
        let ratio = wall.as_secs_f64() / bound.as_secs_f64();
        let what =
            format!("sync of {}, {} ms per answer, concurrency {concurrency}: wall time", account_label(sizes), sizes.latency.as_millis());
        let measured = format!("{:.2} s = {ratio:.2} × bound ({:.2} s)", wall.as_secs_f64(), bound.as_secs_f64());
        let (target, met) = if concurrency == 8 { ("≤ 1.3 × bound", Some(ratio <= 1.3)) } else { ("(reference)", None) };
        rows.push(row(what, measured, target, met));
        let requests = snapshot.stats.http_requests;
        rows.push(row(
            format!("same sync, concurrency {concurrency}: requests"),
            format!("{requests} (minimum {})", fake.minimum_requests),
            "= minimum",
            Some(requests == fake.minimum_requests),
        ));
    }
    Ok(())
}

/// CPU time of the host process per 1,000 grants, with no added latency.
async fn cpu_row(sizes: &Sizes, plugin: &ConnectorRuntime, rows: &mut Vec<Row>) -> Result<()> {
    let spec = AccountSpec::sized(7, sizes.users, sizes.teams, sizes.groups);
    let fake = FakeProcess::spawn(&spec, Duration::ZERO)?;
    let before = process_cpu();
    let started = Instant::now();
    let snapshot = sync(plugin, &tenant(&fake, 8)).await?;
    let wall = started.elapsed();
    let cpu = process_cpu().saturating_sub(before);
    let per_thousand = cpu.as_secs_f64() * 1000.0 / (snapshot.grants.len().max(1) as f64 / 1000.0);
    rows.push(row(
        "same account, no added latency, concurrency 8: host CPU time per 1,000 grants".to_owned(),
        format!(
            "{per_thousand:.1} ms ({} grants, {:.2} s CPU, {:.2} s wall)",
            snapshot.grants.len(),
            cpu.as_secs_f64(),
            wall.as_secs_f64()
        ),
        "(reference)",
        None,
    ));
    Ok(())
}

/// Opening a session (a fresh store and instance) and one call, pooling on and off.
async fn instantiation_rows(sizes: &Sizes, rows: &mut Vec<Row>) -> Result<()> {
    for (label, allocation) in [("on", Allocation::default()), ("off", Allocation::OnDemand)] {
        let engine = new_engine(allocation)?;
        let runtime = ConnectorRuntime::new(&engine, connector_builtin::fivetran())?;
        let tenant = TenantConfig::new("bench", "https://api.fivetran.com", Credentials::new("k", "s"));
        let mut opens = Vec::with_capacity(sizes.instantiations);
        let mut calls = Vec::with_capacity(sizes.instantiations);
        for i in 0..sizes.instantiations + 20 {
            let started = Instant::now();
            let mut session = runtime.open(&tenant, Arc::new(RequestMeter::default())).await?;
            let opened = started.elapsed();
            let started = Instant::now();
            session.metadata().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let called = started.elapsed();
            if i >= 20 {
                opens.push(opened);
                calls.push(called);
            }
        }
        let (median, p99) = (percentile(&mut opens, 50.0), percentile(&mut opens, 99.0));
        let (target, met) = if label == "on" { ("median < 50 µs", Some(micros(median) < 50.0)) } else { ("(reference)", None) };
        rows.push(row(
            format!("instantiation (a fresh store and instance), pooling {label}"),
            format!("median {:.1} µs, p99 {:.1} µs", micros(median), micros(p99)),
            target,
            met,
        ));
        rows.push(row(
            format!("one call's overhead (metadata), pooling {label}"),
            format!("median {:.1} µs, p99 {:.1} µs", micros(percentile(&mut calls, 50.0)), micros(percentile(&mut calls, 99.0))),
            "(reference)",
            None,
        ));
    }
    Ok(())
}

/// From a new engine to the first call: compiling the component, then loading it from the cache.
async fn startup_rows(rows: &mut Vec<Row>) -> Result<()> {
    let cache_dir = tempfile::tempdir()?;
    let cache = ComponentCache::new(cache_dir.path());
    let tenant = TenantConfig::new("bench", "https://api.fivetran.com", Credentials::new("k", "s"));
    let mut times = Vec::new();
    for _ in 0..3 {
        let engine = ConnectorRuntime::engine()?;
        let started = Instant::now();
        let runtime = ConnectorRuntime::load(&engine, connector_builtin::fivetran(), Some(&cache))?;
        let mut session = runtime.open(&tenant, Arc::new(RequestMeter::default())).await?;
        session.metadata().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        times.push(started.elapsed());
    }
    let compiled = times[0];
    let mut cached = times[1..].to_vec();
    let cached = percentile(&mut cached, 50.0);
    rows.push(row("start-up to the first call, compiling the component", format!("{:.1} ms", millis(compiled)), "(reference)", None));
    rows.push(row(
        "start-up to the first call, loading the cached component",
        format!("{:.1} ms ({:.0}× faster)", millis(cached), compiled.as_secs_f64() / cached.as_secs_f64()),
        "< 20 ms",
        Some(millis(cached) < 20.0),
    ));
    Ok(())
}

/// Peak resident memory of a process syncing many tenants at once.
fn tenants_row(sizes: &Sizes, cache_dir: &std::path::Path, rows: &mut Vec<Row>) -> Result<()> {
    let spec = AccountSpec::sized(9, 200, 20, 10);
    let fake = FakeProcess::spawn(&spec, Duration::from_millis(20))?;
    let exe = std::env::current_exe()?;
    let output = std::process::Command::new(exe)
        .args(["tenants-rss", &fake.base_url, &fake.key, &fake.secret, &sizes.tenants.to_string()])
        .arg(cache_dir)
        .output()?;
    if !output.status.success() {
        bail!("the tenants run failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let result: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let baseline = result["baseline_kib"].as_u64().unwrap_or(0);
    let peak = result["peak_kib"].as_u64().unwrap_or(0);
    let per_tenant = peak.saturating_sub(baseline) as f64 / 1024.0 / sizes.tenants as f64;
    rows.push(row(
        format!("{} tenants syncing at once (200 users, 20 teams, 10 groups each): peak resident memory", sizes.tenants),
        format!("{:.1} MiB in all, {:.1} MiB before; {per_tenant:.2} MiB per tenant", peak as f64 / 1024.0, baseline as f64 / 1024.0),
        "< 4 MiB per tenant",
        Some(per_tenant < 4.0),
    ));
    Ok(())
}

/// `tenants-rss BASE_URL KEY SECRET N CACHE_DIR`, in a process of its own: prints baseline and peak RSS.
async fn tenants_child(args: &[String]) -> Result<()> {
    let [base_url, key, secret, count, cache_dir] = args else { bail!("tenants-rss BASE_URL KEY SECRET N CACHE_DIR") };
    let count: usize = count.parse()?;
    let engine = ConnectorRuntime::engine()?;
    let runtime = ConnectorRuntime::load(&engine, connector_builtin::fivetran(), Some(&ComponentCache::new(cache_dir)))?;
    let tenant = |i: usize| {
        let mut t = TenantConfig::new(&format!("t{i}"), base_url, Credentials::new(key, secret));
        t.allow_private_network = true;
        t
    };
    sync(&runtime, &tenant(0)).await?;
    let baseline = status_kib("VmRSS");
    reset_peak();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..count {
        let (runtime, tenant) = (runtime.clone(), tenant(i));
        set.spawn(async move { sync(&runtime, &tenant).await.map(|s| s.grants.len()) });
    }
    let mut snapshots = Vec::new();
    while let Some(done) = set.join_next().await {
        snapshots.push(done??);
    }
    let peak = status_kib("VmHWM");
    println!("{}", serde_json::json!({"baseline_kib": baseline, "peak_kib": peak, "ok": snapshots.len()}));
    Ok(())
}

/// A large account's sync: the guest at its default memory limit, the host growing with the
/// snapshot.
fn large_row(sizes: &Sizes, cache_dir: &std::path::Path, rows: &mut Vec<Row>) -> Result<()> {
    let (users, teams, groups) = sizes.large;
    let fake = FakeProcess::spawn(&AccountSpec::sized(13, users, teams, groups), Duration::ZERO)?;
    let exe = std::env::current_exe()?;
    let output = std::process::Command::new(exe).args(["large-rss", &fake.base_url, &fake.key, &fake.secret]).arg(cache_dir).output()?;
    if !output.status.success() {
        bail!("the large sync failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let result: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mib = |k: &str| result[k].as_u64().unwrap_or(0) as f64 / 1024.0;
    let growth = mib("peak_kib") - mib("baseline_kib");
    let snapshot = result["snapshot_bytes"].as_u64().unwrap_or(0) as f64 / 1024.0 / 1024.0;
    let ratio = growth / snapshot.max(1e-9);
    rows.push(row(
        format!("sync of {users} users, {teams} teams, {groups} groups, connector at the default 64 MiB: host memory"),
        format!(
            "grew {growth:.0} MiB for a {snapshot:.0} MiB snapshot ({ratio:.1}×), {} grants, {:.0} s",
            result["grants"],
            result["seconds"].as_f64().unwrap_or(0.0)
        ),
        "sync succeeds; ≤ 4× the snapshot",
        Some(ratio <= 4.0),
    ));
    let c1z_growth = mib("c1z_peak_kib") - mib("c1z_held_kib");
    rows.push(row(
        "same snapshot written as c1z (SQLite in a working file beside it, streamed into one zstd frame): time, size, memory",
        format!(
            "{:.1} s; {:.1} MiB file ({:.1}× smaller than the JSON); memory grew {c1z_growth:.0} MiB above the held snapshot",
            result["c1z_seconds"].as_f64().unwrap_or(0.0),
            result["c1z_bytes"].as_u64().unwrap_or(0) as f64 / 1024.0 / 1024.0,
            snapshot / (result["c1z_bytes"].as_u64().unwrap_or(1) as f64 / 1024.0 / 1024.0).max(1e-9)
        ),
        "(reference)",
        None,
    ));
    Ok(())
}

/// `large-rss BASE_URL KEY SECRET CACHE_DIR`, in a process of its own: syncs and writes the snapshot,
/// prints baseline and peak RSS and the snapshot's size.
async fn large_child(args: &[String]) -> Result<()> {
    let [base_url, key, secret, cache_dir] = args else { bail!("large-rss BASE_URL KEY SECRET CACHE_DIR") };
    let engine = ConnectorRuntime::engine()?;
    let runtime = ConnectorRuntime::load(&engine, connector_builtin::fivetran(), Some(&ComponentCache::new(cache_dir)))?;
    let mut tenant = TenantConfig::new("large", base_url, Credentials::new(key, secret));
    tenant.allow_private_network = true;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("large.json");
    let baseline = status_kib("VmRSS");
    reset_peak();
    let started = Instant::now();
    let snapshot = sync(&runtime, &tenant).await?;
    snapshot.write_atomic(&path)?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_kib("VmHWM");
    let bytes = std::fs::metadata(&path)?.len();
    // The same snapshot as c1z: the time and the memory above what holding the snapshot takes.
    let held = status_kib("VmRSS");
    reset_peak();
    let clock = Instant::now();
    let c1z_path = dir.path().join("large.c1z");
    connector_host::c1z::write(&snapshot, &c1z_path)?;
    let c1z_seconds = clock.elapsed().as_secs_f64();
    let c1z_peak = status_kib("VmHWM");
    let c1z_bytes = std::fs::metadata(&c1z_path)?.len();
    println!(
        "{}",
        serde_json::json!({"baseline_kib": baseline, "peak_kib": peak, "snapshot_bytes": bytes, "grants": snapshot.grants.len(), "seconds": seconds,
            "c1z_seconds": c1z_seconds, "c1z_bytes": c1z_bytes, "c1z_held_kib": held, "c1z_peak_kib": c1z_peak})
    );
    Ok(())
}

/// A transport answering every request with one body, for the native side of the comparison.
struct Fixed(Vec<u8>);

impl Transport for Fixed {
    fn send(&self, _: &str, _: &ApiRequest) -> Result<ApiResponse, TransportError> {
        Ok(ApiResponse { status: 200, retry_after: None, body: self.0.clone() })
    }
}

/// Answers `GET /v1/users` with a page of users, and anything else with a page of one group.
struct InMemory {
    users: Bytes,
    group: Bytes,
}

const ONE_GROUP_PAGE: &str = r#"{"code":"Success","data":{"items":[{"id":"g1","name":"warehouse","created_at":"2024-01-01T00:00:00Z"}]}}"#;

impl Upstream for InMemory {
    fn send(&self, request: http::Request<Bytes>) -> UpstreamFuture {
        let body = if request.uri().path() == "/v1/users" { self.users.clone() } else { self.group.clone() };
        let response = http::Response::builder().status(200).header("content-type", "application/json").body(body);
        Box::pin(async move { response.map_err(|e| UpstreamFailure::Unreachable(e.to_string())) })
    }
}

/// Reading and mapping a page of 1,000 users: the plugin compiled natively vs run as the
/// component. The component's cost is its call on that page less its call on a one-item page,
/// so that what both sides do is parse, map and hand over the page.
async fn mapping_row(sizes: &Sizes, plugin: &ConnectorRuntime, rows: &mut Vec<Row>) -> Result<()> {
    let spec = AccountSpec::sized(11, 1000, 1, 1);
    let account = generate(&spec);
    let body = users_page_body(&account);
    let native = Fixed(body.into_bytes());
    let config = connector_fivetran::model::Config { base_url: "https://x".into(), page_size: 1000 };
    let connector = connector_fivetran::connector::Connector::new(&native, config);
    // The component's pages come from memory too: through its wasi:http calls and the host's
    // egress checks, but with no socket, as the native side has none.
    let answers = InMemory { users: Bytes::from(native.0.clone()), group: Bytes::from_static(ONE_GROUP_PAGE.as_bytes()) };
    let plugin = plugin.clone().with_upstream(Arc::new(answers));
    let tenant = TenantConfig::new("bench", "https://api.fivetran.com", Credentials::new("key", "secret"));
    let mut session = plugin.open(&tenant, Arc::new(RequestMeter::default())).await?;

    // Rounds of each kind in turn, and the least disturbed batch of each kind: on a shared
    // machine a batch is only ever slowed down by others, never sped up.
    let batch = sizes.mappings;
    let (mut native_best, mut users_best, mut group_best, mut copy_best) = (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    let lifted = session.list_resources("user", None).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let strings = page_strings(&lifted);
    for round in 0..=sizes.mapping_rounds {
        let before = process_cpu();
        for _ in 0..batch {
            let page = connector.list_resources("user", None).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            std::hint::black_box(page);
        }
        let native_cpu = process_cpu().saturating_sub(before);
        let mut component = async |resource_type: &str| -> Result<Duration> {
            let before = process_cpu();
            for _ in 0..batch {
                let page = session.list_resources(resource_type, None).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
                std::hint::black_box(page);
            }
            Ok(process_cpu().saturating_sub(before))
        };
        let users_cpu = component("user").await?;
        let group_cpu = component("group").await?;
        // What the host's part of that is at least: the page's strings copied into host memory
        // and freed, as lifting them out of the component does (which checks them as UTF-8 too).
        let before = process_cpu();
        for _ in 0..batch {
            std::hint::black_box(lifted.clone());
        }
        let copy_cpu = process_cpu().saturating_sub(before);
        // Round 0 warms up caches and the plugin's heap.
        if round > 0 {
            native_best = native_best.min(native_cpu);
            users_best = users_best.min(users_cpu);
            group_best = group_best.min(group_cpu);
            copy_best = copy_best.min(copy_cpu);
        }
    }
    let component_cpu = users_best.saturating_sub(group_best);
    let ratio = component_cpu.as_secs_f64() / native_best.as_secs_f64().max(1e-9);
    let per = |d: Duration| millis(d) / batch as f64;
    rows.push(row(
        "reading and mapping a page of 1,000 users: component vs native CPU",
        format!("{ratio:.2}× ({:.2} ms vs {:.2} ms a page)", per(component_cpu), per(native_best)),
        "≤ 1.5×",
        Some(ratio <= 1.5),
    ));
    rows.push(row(
        format!("of which the host's copy of the page's {} strings out of the component, at least", thousands(strings)),
        format!(
            "{:.2} ms a page ({:.0}% of the component's)",
            per(copy_best),
            100.0 * copy_best.as_secs_f64() / component_cpu.as_secs_f64().max(1e-9)
        ),
        "(reference)",
        None,
    ));
    Ok(())
}

/// `7571` as `7,571`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The strings a page hands over: each one is allocated, copied and checked by the host.
fn page_strings(page: &connector_host::bindings::latest::types::Page) -> usize {
    let resources = page.resources.len() * 4;
    let entitlements: usize = page.entitlements.iter().map(|e| 5 + e.grantable_to.len()).sum();
    let grants: usize = page.grants.iter().map(|g| 4 + g.expandable.len()).sum();
    resources + entitlements + grants + usize::from(page.next_page_token.is_some())
}

fn users_page_body(account: &Account) -> String {
    let items: Vec<serde_json::Value> = account.users.values().map(|u| Account::user_json(u, u.role.as_deref())).collect();
    serde_json::json!({"code": "Success", "data": {"items": items}}).to_string()
}

fn render(rows: &[Row], sizes: &Sizes, smoke: bool, took: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    if smoke {
        let _ = writeln!(out, "**Smoke run**: tiny sizes, to check that every measurement runs; the figures mean nothing.\n");
    }
    let _ = writeln!(
        out,
        "Measured by `cargo run --release -p connector-bench` (written by the run itself), in {:.0} s.\n",
        took.as_secs_f64()
    );
    let _ = writeln!(out, "Machine: {}\n", machine());
    let _ = writeln!(out, "| measurement | result | target | met |\n|---|---|---|---|");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(out, "| {} | {} | {} | {met} |", r.what, r.measured, r.target);
    }
    let _ = writeln!(
        out,
        "\nHow: the fake Fivetran runs in a process of its own (this binary, as `serve-fake`), so the host's CPU and memory are its own. \
The bound of a sync is its minimum request count times the added latency, divided by the concurrency. \
Instantiation is opening a session: a new store (WASI context, egress hooks, limits) and an instance from the pre-instantiated component. \
Start-up is loading the component (compiled, or from the on-disk cache), instantiating it and one call, on an engine made beforehand. \
The tenants' memory is `VmHWM` less `VmRSS` before, in a process of its own. \
The mapping comparison takes, for each side, the least CPU time of {} interleaved batches of {} pages; both sides read the same page from memory (the component through its wasi:http calls and the host's egress checks, to an in-memory upstream), and the component side is its CPU time on the 1,000-user page less that on a one-group page. The row under it is the host cloning and dropping the page it lifted, in the same rounds: each string allocated, copied and freed, a lower bound on the lifting that running as a component adds (lifting also checks each string as UTF-8). \
The service rows run the service (`connector_service::serve`, as `connector-host serve` does) in a process of its own (this binary, as `service-child`) with its state in SQLite, against one fake serving every tenant; the round is from `/ready` until every tenant's first sync has finished, timed by polling `GET /v1/tenants`; CPU and memory are the service process's own (`/proc/PID/stat`, `VmHWM`, `VmRSS`); the latency is of `GET /v1/tenants/{{id}}` from 4 clients, one request each every 10 ms, during the round. The tenants an hour is the round's rate of syncs times 3600 s. \
The replicas' rows run three such processes (`--replica-id` r0, r1, r2; 16 syncs at once each) sharing one PostgreSQL started from the system's programs on loopback with its durable defaults (fsync and synchronous commits on), every tenant an account of 20 users of one fake at 20 ms an answer; the round is from every replica's `/ready` until every tenant's first sync has finished; the status latency is of `GET /v1/tenants/{{id}}` from 6 clients, each asking the replicas in turn; the claim costs are timed by this process against the same database after the replicas stopped (the tenants no longer due, and tenants of their own); the bytes are `pg_database_size` after the round less before, divided by the syncs.",
        sizes.mapping_rounds, sizes.mappings
    );
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory = status_meminfo_gib();
    format!("{cores} cores ({cpu}), {memory:.0} GiB memory, {} {}", std::env::consts::OS, std::env::consts::ARCH)
}

fn status_meminfo_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with("MemTotal")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0)
}
