//! The service row group: one `serve` process keeping many tenants synced against the fake at
//! 20 ms an answer, measured from outside: the time to sync every tenant once, its CPU per sync,
//! its resident memory, and the latency of `GET /v1/tenants/{id}` while it works.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use connector_fake_fivetran::AccountSpec;
use connector_host::ConnectorRuntime;
use connector_host::cache::ComponentCache;
use connector_host::tenant::{Overrides, TenantEntry};
use connector_service::{LoadFuture, Loaded, ServiceOptions, Shard, TenantLoader};

use crate::fake_process::FakeProcess;
use crate::measure::{millis, percentile, process_status_kib};
use crate::{Row, row};

const TOKEN: &str = "bench-service-token-0123456789";
/// Tenants syncing at once in the measured process.
const MAX_PARALLEL: usize = 16;
/// Threads asking for a tenant's status while the service syncs.
const CLIENTS: usize = 4;

/// `service-child TENANTS STATE LISTEN CACHE_DIR [DATABASE_URL REPLICA_ID]`: the service, in a
/// process of its own; with a database, one replica of several sharing it.
pub async fn child(args: &[String]) -> Result<()> {
    let (tenants, state, listen, cache_dir, database, replica) = match args {
        [tenants, state, listen, cache_dir] => (tenants, state, listen, cache_dir, None, "bench"),
        [tenants, state, listen, cache_dir, url, replica] => (tenants, state, listen, cache_dir, Some(url.clone()), replica.as_str()),
        _ => bail!("service-child TENANTS STATE LISTEN CACHE_DIR [DATABASE_URL REPLICA_ID]"),
    };
    let engine = ConnectorRuntime::engine()?;
    let runtime = ConnectorRuntime::load(&engine, connector_builtin::fivetran(), Some(&ComponentCache::new(cache_dir)))?;
    let options = ServiceOptions {
        tenants_file: tenants.into(),
        listen: listen.parse()?,
        state_dir: state.into(),
        database,
        database_ca: None,
        replica_id: replica.into(),
        lease_ttl: Duration::from_secs(60),
        provisioning: false,
        shard: Shard::ALL,
        api_token: Some(TOKEN.into()),
        grace: Duration::from_secs(1),
        max_parallel: MAX_PARALLEL,
        memory_budget_mib: 0,
        keep_snapshots: 2,
        allowed_hosts: Vec::new(),
        header_timeout: Duration::from_secs(30),
        max_connections: 512,
    };
    let loader = Arc::new(BuiltinLoader { runtime });
    let (_reload, reloads) = tokio::sync::mpsc::channel(1);
    connector_service::serve(options, loader, std::future::pending(), reloads).await.map_err(|e| anyhow::anyhow!("{}", e.message()))
}

struct BuiltinLoader {
    runtime: ConnectorRuntime,
}

impl TenantLoader for BuiltinLoader {
    fn load<'a>(&'a self, entry: &'a TenantEntry) -> LoadFuture<'a> {
        Box::pin(async move {
            let metadata = self.runtime.metadata().await?;
            let config = entry.resolve(&Overrides::default(), &metadata)?;
            Ok(Loaded { runtime: self.runtime.clone(), config, connector: metadata.name.clone() })
        })
    }
}

/// One GET with the token; answers the status and the body.
pub(crate) fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// User plus system CPU time of process `pid`.
pub(crate) fn child_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold blanks) start at the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are the 14th and 15th fields: 12th and 13th after the name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / hz)
}

/// What recording a change ahead costs: before, one audit row written after the change; now a
/// `pending` row before it and its settlement after, each a durable commit (`synchronous=FULL`).
pub async fn audit_row(rows: &mut Vec<Row>) -> Result<()> {
    const CHANGES: u32 = 200;
    let dir = tempfile::tempdir()?;
    use connector_service::store::{AuditRecord, SqliteStore, Store};
    let store = SqliteStore::open(dir.path(), "bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    let arguments = serde_json::json!({"entitlement": "team:t1:member", "principal": "user:u1"});
    let result = serde_json::json!({"outcome": "granted", "grant": {"id": "team:t1:member:user:u1"}});
    let failed = |e: connector_service::store::StoreError| anyhow::anyhow!("{e}");
    let clock = Instant::now();
    for n in 0..CHANGES {
        let request_id = format!("once-{n}");
        let record = AuditRecord { tenant: "t", operation: "grant", arguments: &arguments, request_id: &request_id };
        store.audit(record, "done", &result).await.map_err(failed)?;
    }
    let once = clock.elapsed() / CHANGES;
    let clock = Instant::now();
    for n in 0..CHANGES {
        let request_id = format!("ahead-{n}");
        let record = AuditRecord { tenant: "t", operation: "grant", arguments: &arguments, request_id: &request_id };
        let entry = store.audit_pending(record).await.map_err(failed)?;
        store.audit_settle(entry, "done", &result).await.map_err(failed)?;
    }
    let ahead = clock.elapsed() / CHANGES;
    rows.push(row(
        "the audit written ahead: per change, a pending row before it is sent and its settlement after, vs one row after (durable commits on the state's disk)",
        format!("{:.2} ms vs {:.2} ms: {:.2} ms more a change ({CHANGES} changes)", millis(ahead), millis(once), millis(ahead.saturating_sub(once))),
        "(reference)",
        None,
    ));
    Ok(())
}

/// A tenant file of `tenants` tenants `t0`, `t1`, ..., each an account of `fake`.
pub(crate) fn tenant_file(dir: &std::path::Path, fake: &FakeProcess, tenants: usize) -> Result<std::path::PathBuf> {
    let mut file = String::new();
    for n in 0..tenants {
        file.push_str(&format!(
            "[[tenant]]\nid = \"t{n}\"\nbase_url = \"{}\"\nallow_private_network = true\napi_key_env = \"BENCH_KEY\"\napi_secret_env = \"BENCH_SECRET\"\n\n",
            fake.base_url
        ));
    }
    let tenants_file = dir.join("tenants.toml");
    std::fs::write(&tenants_file, file)?;
    Ok(tenants_file)
}

/// Waits until `GET /ready` answers 200.
pub(crate) fn wait_ready(addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while get(addr, "/ready").map(|(s, _)| s).unwrap_or(0) != 200 {
        if Instant::now() > deadline {
            bail!("the service at {addr} did not become ready");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// The outcomes of every tenant's last sync, from one `GET /v1/tenants`: (ok, failed).
pub(crate) fn outcomes(addr: SocketAddr) -> Result<(usize, usize)> {
    let (_, body) = get(addr, "/v1/tenants")?;
    let list: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let outcomes: Vec<&str> =
        list["tenants"].as_array().map(|t| t.iter().filter_map(|t| t["last_sync"]["outcome"].as_str()).collect()).unwrap_or_default();
    Ok((outcomes.iter().filter(|o| **o == "ok").count(), outcomes.iter().filter(|o| **o == "failed").count()))
}

pub fn rows(tenants: usize, cache_dir: &std::path::Path, rows: &mut Vec<Row>) -> Result<()> {
    let fake = FakeProcess::spawn(&AccountSpec::sized(11, 200, 10, 5), Duration::from_millis(20))?;
    let dir = tempfile::tempdir()?;
    let tenants_file = tenant_file(dir.path(), &fake, tenants)?;
    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg("service-child")
        .arg(&tenants_file)
        .arg(dir.path().join("state"))
        .arg(addr.to_string())
        .arg(cache_dir)
        .env("BENCH_KEY", &fake.key)
        .env("BENCH_SECRET", &fake.secret)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("cannot start the service")?;
    let pid = child.id();
    let result = measure(addr, pid, tenants, rows);
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn measure(addr: SocketAddr, pid: u32, tenants: usize, rows: &mut Vec<Row>) -> Result<()> {
    wait_ready(addr)?;
    let started = Instant::now();
    let cpu_before = child_cpu(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (stop, latencies) = (Arc::clone(&stop), Arc::clone(&latencies));
            std::thread::spawn(move || {
                let mut n = c;
                while !stop.load(Ordering::Relaxed) {
                    let clock = Instant::now();
                    if matches!(get(addr, &format!("/v1/tenants/t{}", n % tenants)), Ok((200, _))) {
                        latencies.lock().unwrap_or_else(|p| p.into_inner()).push(clock.elapsed());
                    }
                    n += 7;
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let (ok, failed) = loop {
        let (ok, failed) = outcomes(addr)?;
        if ok + failed >= tenants || Instant::now() > deadline {
            break (ok, failed);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let wall = started.elapsed();
    let cpu = child_cpu(pid).saturating_sub(cpu_before);
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.join();
    }
    let peak = process_status_kib(&pid.to_string(), "VmHWM");
    let resident = process_status_kib(&pid.to_string(), "VmRSS");
    let mut samples = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let per_hour = (ok as f64 / wall.as_secs_f64() * 3600.0) as u64;
    rows.push(row(
        format!("service: {tenants} tenants of 200 users, 20 ms per answer, one process ({MAX_PARALLEL} syncing at once): every tenant synced once"),
        format!("{ok} ok, {failed} failed in {:.1} s: {:.1} syncs a second, so {per_hour} tenants at the hourly default interval", wall.as_secs_f64(), ok as f64 / wall.as_secs_f64()),
        "all succeed",
        Some(ok == tenants),
    ));
    rows.push(row(
        "same run: CPU per sync, and resident memory",
        format!(
            "{:.1} ms CPU a sync ({:.1} s in all); peak {:.0} MiB, {:.0} MiB after",
            millis(cpu) / ok.max(1) as f64,
            cpu.as_secs_f64(),
            peak as f64 / 1024.0,
            resident as f64 / 1024.0
        ),
        "(reference)",
        None,
    ));
    let (p50, p99) = (percentile(&mut samples, 50.0), percentile(&mut samples, 99.0));
    rows.push(row(
        format!("same run: GET /v1/tenants/{{id}} latency, {CLIENTS} clients asking while it syncs"),
        format!("p50 {:.1} ms, p99 {:.1} ms ({} requests)", millis(p50), millis(p99), samples.len()),
        "p99 < 100 ms",
        Some(millis(p99) < 100.0),
    ));
    Ok(())
}
