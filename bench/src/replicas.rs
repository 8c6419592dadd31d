//! The replicas row group: many tenants kept synced by three `serve` processes sharing one real
//! PostgreSQL (durable commits on), measured from outside: the rate of syncs across the replicas,
//! what a claim costs, the latency of `GET /v1/tenants/{id}` from any replica while they work, and
//! how many bytes each tenant-sync adds to the database.

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use connector_fake_fivetran::AccountSpec;
use connector_real_postgres::Postgres;
use connector_service::store::{Claim, PostgresStore, Store};

use crate::fake_process::FakeProcess;
use crate::measure::{millis, percentile};
use crate::service::{child_cpu, get, outcomes, tenant_file, wait_ready};
use crate::{Row, row};

const REPLICAS: usize = 3;
/// Threads asking for a tenant's status, each of a replica in turn.
const CLIENTS: usize = 6;
/// Claims timed against the database once the round is over.
const CLAIMS: usize = 500;

/// The replicas' processes, killed when dropped.
struct Replicas(Vec<(Child, SocketAddr)>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn rows(tenants: usize, cache_dir: &std::path::Path, rows: &mut Vec<Row>) -> Result<()> {
    let postgres = Postgres::start_durable().map_err(|e| anyhow!("{e}"))?;
    let url = postgres.database();
    let database = url.rsplit('/').next().unwrap_or("postgres").to_owned();
    let size = || postgres.sql(&database, "SELECT pg_database_size(current_database())").trim().parse::<u64>().unwrap_or(0);
    // Small accounts: the rows measure the replicas and their database, not the connector.
    let fake = FakeProcess::spawn(&AccountSpec::sized(13, 20, 3, 2), Duration::from_millis(20))?;
    let dir = tempfile::tempdir()?;
    let tenants_file = tenant_file(dir.path(), &fake, tenants)?;
    let mut replicas = Replicas(Vec::new());
    for n in 0..REPLICAS {
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let child = Command::new(std::env::current_exe()?)
            .arg("service-child")
            .arg(&tenants_file)
            .arg(dir.path().join(format!("state-{n}")))
            .arg(addr.to_string())
            .arg(cache_dir)
            .arg(&url)
            .arg(format!("r{n}"))
            .env("BENCH_KEY", &fake.key)
            .env("BENCH_SECRET", &fake.secret)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start a replica")?;
        replicas.0.push((child, addr));
    }
    let addrs: Vec<SocketAddr> = replicas.0.iter().map(|(_, addr)| *addr).collect();
    for addr in &addrs {
        wait_ready(*addr)?;
    }
    let bytes_before = size();
    let pids: Vec<u32> = replicas.0.iter().map(|(child, _)| child.id()).collect();
    let cpu_before: Duration = pids.iter().map(|pid| child_cpu(*pid)).sum();
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (stop, latencies, addrs) = (Arc::clone(&stop), Arc::clone(&latencies), addrs.clone());
            std::thread::spawn(move || {
                let mut n = c;
                while !stop.load(Ordering::Relaxed) {
                    let clock = Instant::now();
                    if matches!(get(addrs[n % REPLICAS], &format!("/v1/tenants/t{}", n % tenants)), Ok((200, _))) {
                        latencies.lock().unwrap_or_else(|p| p.into_inner()).push(clock.elapsed());
                    }
                    n += 7;
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut listings = Vec::new();
    let (ok, failed) = loop {
        let clock = Instant::now();
        let (ok, failed) = outcomes(addrs[listings.len() % REPLICAS])?;
        listings.push(clock.elapsed());
        if ok + failed >= tenants || Instant::now() > deadline {
            break (ok, failed);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let wall = started.elapsed();
    let cpu = pids.iter().map(|pid| child_cpu(*pid)).sum::<Duration>().saturating_sub(cpu_before);
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.join();
    }
    let ran_on = ran_on(addrs[0], tenants)?;
    let bytes_after = size();
    drop(replicas);
    let (granted, not_due) = claim_costs(&url, tenants)?;

    let mut samples = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let rate = ok as f64 / wall.as_secs_f64();
    rows.push(row(
        format!("replicas: {tenants} tenants of 20 users, 20 ms per answer, {REPLICAS} replicas on one PostgreSQL (durable commits): every tenant synced once"),
        format!(
            "{ok} ok, {failed} failed in {:.1} s: {rate:.1} syncs a second, so {} tenants at the hourly default interval; syncs per replica {ran_on}",
            wall.as_secs_f64(),
            (rate * 3600.0) as u64
        ),
        "all succeed, each once",
        Some(ok == tenants),
    ));
    rows.push(row(
        "same run: the replicas' CPU per sync",
        format!(
            "{:.1} ms CPU a sync ({:.1} s in all, 2 cores shared with PostgreSQL and the fake)",
            millis(cpu) / ok.max(1) as f64,
            cpu.as_secs_f64()
        ),
        "(reference)",
        None,
    ));
    let (p50, p99) = (percentile(&mut samples, 50.0), percentile(&mut samples, 99.0));
    rows.push(row(
        format!("same run: GET /v1/tenants/{{id}} from any replica, {CLIENTS} clients while they sync"),
        format!("p50 {:.1} ms, p99 {:.1} ms ({} requests)", millis(p50), millis(p99), samples.len()),
        "p99 < 100 ms",
        Some(millis(p99) < 100.0),
    ));
    let listing = percentile(&mut listings, 50.0);
    rows.push(row(
        format!("same run: GET /v1/tenants listing all {tenants} (one query)"),
        format!("median {:.0} ms ({} listings)", millis(listing), listings.len()),
        "(reference)",
        None,
    ));
    rows.push(row(
        "claim cost, timed against the same database afterwards (loopback)",
        format!(
            "a granted claim {:.2} ms median, a claim of a tenant not due {:.2} ms median ({CLAIMS} each)",
            millis(granted),
            millis(not_due)
        ),
        "(reference)",
        None,
    ));
    let per_sync = bytes_after.saturating_sub(bytes_before) as f64 / ok.max(1) as f64;
    rows.push(row(
        "database bytes per tenant-sync (its row, compressed snapshot, schedule entry and their indexes)",
        format!(
            "{:.1} KiB ({:.1} MiB before the round, {:.1} MiB after)",
            per_sync / 1024.0,
            bytes_before as f64 / 1048576.0,
            bytes_after as f64 / 1048576.0
        ),
        "(reference)",
        None,
    ));
    Ok(())
}

/// How many of the tenants' syncs each replica ran, from the shared history: "r0 1667, ...".
fn ran_on(addr: SocketAddr, tenants: usize) -> Result<String> {
    let (_, body) = get(addr, "/v1/tenants")?;
    let list: serde_json::Value = serde_json::from_str(&body)?;
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for tenant in list["tenants"].as_array().into_iter().flatten() {
        if let Some(replica) = tenant["last_sync"]["replica"].as_str() {
            *counts.entry(replica.to_owned()).or_default() += 1;
        }
    }
    if counts.values().sum::<usize>() > tenants {
        bail!("more syncs than tenants: {counts:?}");
    }
    Ok(counts.iter().map(|(replica, n)| format!("{replica} {n}")).collect::<Vec<_>>().join(", "))
}

/// The median time of a claim that is granted (a tenant asked now) and of one that finds the
/// tenant not due (what each replica's scheduler asks of tenants another replica synced).
fn claim_costs(url: &str, tenants: usize) -> Result<(Duration, Duration)> {
    let url = url.to_owned();
    // A thread of its own: the caller may be on an asynchronous runtime's thread.
    std::thread::spawn(move || claim_costs_on(&url, tenants)).join().map_err(|_| anyhow!("the claim timing panicked"))?
}

fn claim_costs_on(url: &str, tenants: usize) -> Result<(Duration, Duration)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = PostgresStore::open(url, "probe").await.map_err(|e| anyhow!("{e}"))?;
        let ttl = Duration::from_secs(60);
        let (mut granted, mut not_due) = (Vec::new(), Vec::new());
        for n in 0..CLAIMS {
            let tenant = format!("t{}", n % tenants);
            let clock = Instant::now();
            let claim = store.claim(&tenant, ttl, false).await.map_err(|e| anyhow!("{e}"))?;
            not_due.push(clock.elapsed());
            if !matches!(claim, Claim::NotDue { .. }) {
                bail!("tenant {tenant} was due again: {claim:?}");
            }
        }
        for n in 0..CLAIMS {
            // A tenant of its own each time: a lease granted stays held for its time.
            let tenant = format!("probe-{n}");
            let clock = Instant::now();
            let claim = store.claim(&tenant, ttl, true).await.map_err(|e| anyhow!("{e}"))?;
            granted.push(clock.elapsed());
            if !matches!(claim, Claim::Granted(_)) {
                bail!("the claim of {tenant} was not granted: {claim:?}");
            }
        }
        Ok((percentile(&mut granted, 50.0), percentile(&mut not_due, 50.0)))
    })
}
