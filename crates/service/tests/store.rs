//! The state's rules, the same on both back ends: each case runs on SQLite in a temporary folder
//! and on a real PostgreSQL started on loopback (`connector-real-postgres`). What only one back
//! end has is tested at the end (PostgreSQL's migrations and replicas) or in `store/sqlite.rs`.

use std::sync::Arc;

use connector_real_postgres::shared;
use std::time::Duration;

use connector_service::store::{
    AuditRecord, Claim, Lease, PostgresStore, Release, StateLocation, Store, StoreError, SyncCounts, lease_lost, open,
};
use serde_json::json;

const COUNTS: SyncCounts = SyncCounts { resources: 3, grants: 2, requests: 5, duration_ms: 40 };

/// A store under test, reopened as a restarted replica would: its back end and where it is.
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    fn sqlite() -> Self {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Self {
        Backend::Postgres(shared().database())
    }

    fn location(&self) -> StateLocation {
        match self {
            Backend::Sqlite(dir) => StateLocation::Directory(dir.path().to_path_buf()),
            Backend::Postgres(url) => StateLocation::Postgres { url: url.clone(), ca: None },
        }
    }

    async fn open(&self, replica: &str) -> Arc<dyn Store> {
        open(&self.location(), replica).await.unwrap()
    }

    /// A second replica on the same state while the first runs. SQLite serves one process (a
    /// second service is refused), so there it is a second connection beside the first, without
    /// the lock: the claims' rules are the same on both back ends.
    async fn open_beside(&self, replica: &str) -> Arc<dyn Store> {
        match self {
            Backend::Sqlite(dir) => Arc::new(connector_service::store::SqliteStore::shared_with(dir.path(), replica).unwrap()),
            Backend::Postgres(_) => self.open(replica).await,
        }
    }

    /// Runs `sql` on the database as it is, behind the store's back.
    async fn raw(&self, sql: &str) {
        match self {
            Backend::Sqlite(dir) => {
                // SQLite allows one service per folder: a side connection, not a second store.
                let connection = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
                connection.execute_batch(sql).unwrap();
            }
            Backend::Postgres(url) => {
                PostgresStore::open(url, "raw").await.unwrap().execute_raw(sql).await.unwrap();
            }
        }
    }
}

fn record<'a>(operation: &'a str, arguments: &'a serde_json::Value, request_id: &'a str) -> AuditRecord<'a> {
    AuditRecord { tenant: "acme", operation, arguments, request_id }
}

async fn a_sync_keeps_its_snapshot_and_diff_and_old_ones_are_pruned(backend: Backend) {
    let store = backend.open("r1").await;
    for n in 0..5 {
        let id = store.begin_sync("acme", "schedule").await.unwrap();
        let diff = json!({"n": n});
        store.finish_ok(id, "acme", COUNTS, format!("{{\"n\":{n}}}").as_bytes(), (n > 0).then_some(&diff), 3, None).await.unwrap();
    }
    let (_, snapshot) = store.last_snapshot("acme").await.unwrap().unwrap();
    assert_eq!(snapshot, br#"{"n":4}"#);
    assert_eq!(store.last_diff("acme").await.unwrap().unwrap().1, Some(json!({"n": 4})));
    assert_eq!(store.kept_snapshots("acme").await.unwrap().len(), 3);
    let last = store.last_sync("acme").await.unwrap().unwrap();
    assert_eq!((last.outcome.as_str(), last.resources, last.replica.as_deref()), ("ok", Some(3), Some("r1")));
    assert!(store.last_snapshot("other").await.unwrap().is_none());
    assert!(store.last_success_at("acme").await.unwrap().is_some());
    assert_eq!(store.syncs("acme", None, 10).await.unwrap().len(), 5, "rows outlive their snapshots");
    let first = store.syncs("acme", None, 10).await.unwrap().pop().unwrap();
    assert_eq!(store.syncs("acme", Some(first.id), 1).await.unwrap(), vec![first]);
}

async fn a_sync_its_replica_left_running_is_abandoned_when_it_starts_again(backend: Backend) {
    let store = backend.open("r1").await;
    let id = store.begin_sync("acme", "schedule").await.unwrap();
    assert_eq!(store.last_sync("acme").await.unwrap().unwrap().outcome, "running");
    drop(store);
    let store = backend.open("r1").await;
    let last = store.last_sync("acme").await.unwrap().unwrap();
    assert_eq!((last.id, last.outcome.as_str()), (id, "abandoned"));
    assert!(last.error.unwrap().contains("stopped during the sync"));
    store.finish_failed(id, "failed", "late", None).await.unwrap();
    assert_eq!(store.last_sync("acme").await.unwrap().unwrap().outcome, "abandoned", "a finished row stays as it was");
}

async fn a_change_is_pending_until_settled_and_unknown_when_a_stop_left_it_so(backend: Backend) {
    let store = backend.open("r1").await;
    let arguments = json!({"entitlement": "e"});
    let done = store.audit_pending(record("grant", &arguments, "req-1")).await.unwrap();
    store.audit_settle(done, "done", &json!({"outcome": "granted"})).await.unwrap();
    assert!(store.audit_settle(done, "failed", &json!({})).await.is_err(), "settled once");
    let revoke = json!({"grant": "g"});
    store.audit_pending(record("revoke", &revoke, "req-2")).await.unwrap();
    assert_eq!(store.audit_log("acme", 10).await.unwrap()[0].outcome, "pending");
    drop(store);
    let store = backend.open("r1").await;
    assert_eq!(store.unknown_changes(), 1);
    let log = store.audit_log("acme", 10).await.unwrap();
    assert_eq!((log[0].outcome.as_str(), log[0].request_id.as_deref()), ("unknown", Some("req-2")));
    assert!(log[0].result["error"].as_str().unwrap().contains("may have reached the API"));
    assert_eq!((log[1].outcome.as_str(), log[1].request_id.as_deref(), log[1].replica.as_deref()), ("done", Some("req-1"), Some("r1")));
    assert!(log[1].settled_at.is_some());
    assert_eq!(log[1].arguments, arguments);
}

async fn a_damaged_snapshot_is_reported_and_the_one_before_served(backend: Backend) {
    let store = backend.open("r1").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = store.begin_sync("acme", "schedule").await.unwrap();
        store.finish_ok(id, "acme", COUNTS, format!("{{\"n\":{n}}}").as_bytes(), None, 5, None).await.unwrap();
        ids.push(id);
    }
    let damaged = match backend {
        Backend::Sqlite(_) => format!("UPDATE snapshots SET snapshot = x'28b52ffd0000' WHERE sync_id = {}", ids[2]),
        Backend::Postgres(_) => format!("UPDATE snapshots SET snapshot = '\\x28b52ffd0000'::bytea WHERE sync_id = {}", ids[2]),
    };
    backend.raw(&damaged).await;
    let (id, snapshot) = store.last_snapshot("acme").await.unwrap().unwrap();
    assert_eq!((id, snapshot.as_slice()), (ids[1], &br#"{"n":1}"#[..]));
    store.last_snapshot("acme").await.unwrap();
    assert_eq!(store.damaged().len(), 1, "noted once");
    assert_eq!(store.damaged()[0].sync_id, ids[2]);
}

async fn the_audit_log_reads_back_newest_first(backend: Backend) {
    let store = backend.open("r1").await;
    let (grant, revoke) = (json!({"entitlement": "e"}), json!({"grant": "g"}));
    store.audit(record("grant", &grant, "r1"), "done", &json!({"outcome": "granted"})).await.unwrap();
    store.audit(record("revoke", &revoke, "r2"), "refused", &json!({"error": "x"})).await.unwrap();
    let log = store.audit_log("acme", 10).await.unwrap();
    assert_eq!(log.iter().map(|e| e.operation.as_str()).collect::<Vec<_>>(), ["revoke", "grant"]);
    assert_eq!(log[1].result["outcome"], "granted");
    assert_eq!(log[0].settled_at.as_deref(), Some(log[0].at.as_str()), "a refusal is settled as it is recorded");
    assert_eq!(store.audit_log("acme", 1).await.unwrap().len(), 1);
    assert!(store.audit_log("other", 10).await.unwrap().is_empty());
    store.writable().await.unwrap();
}

const TTL: Duration = Duration::from_secs(60);

async fn an_overview_answers_each_listed_tenant_in_one_read(backend: Backend) {
    let store = backend.open("r1").await;
    let failed = store.begin_sync("beta", "schedule").await.unwrap();
    store.finish_failed(failed, "failed", "no", None).await.unwrap();
    let ok = store.begin_sync("acme", "schedule").await.unwrap();
    store.finish_ok(ok, "acme", COUNTS, b"{}", None, 3, None).await.unwrap();
    let running = store.begin_sync("acme", "api").await.unwrap();
    let lease = granted(store.claim("acme", Duration::from_secs(30), true).await.unwrap());
    let tenants: Vec<String> = ["acme", "beta", "never"].map(str::to_owned).to_vec();
    let overview = store.overview(&tenants).await.unwrap();
    assert_eq!(overview.len(), 2, "a tenant the store knows nothing of is left out: {overview:?}");
    let acme = &overview["acme"];
    assert_eq!(acme.last_sync.as_ref().map(|s| (s.id, s.outcome.as_str())), Some((running, "running")));
    assert_eq!(acme.running_on.as_deref(), Some("r1"));
    assert!(acme.last_success_at.is_some(), "the successful sync before the running one");
    let beta = &overview["beta"];
    assert_eq!(beta.last_sync.as_ref().map(|s| s.outcome.as_str()), Some("failed"));
    assert_eq!((beta.running_on.as_deref(), beta.last_success_at.as_deref()), (None, None));
    assert_eq!(store.record("acme").await.unwrap(), acme.clone());
    store.finish_failed(running, "failed", "stopped", Some(Release { lease: &lease, next_in: Duration::from_secs(60) })).await.unwrap();
    assert_eq!(store.running_on("acme").await.unwrap(), None, "released");
    assert!(store.overview(&[]).await.unwrap().is_empty());
}

fn granted(claim: Claim) -> Lease {
    match claim {
        Claim::Granted(lease) => lease,
        other => panic!("not granted: {other:?}"),
    }
}

/// A tenant's sync is claimed by one replica at a time: the first claim is due, a second waits for
/// the lease, a released lease makes the tenant due after the wait given, and a sync asked for
/// now is claimed at once once the lease is free.
async fn one_claim_at_a_time_and_the_next_when_due(backend: Backend) {
    let one = backend.open("one").await;
    let two = backend.open_beside("two").await;
    let lease = granted(one.claim("acme", TTL, false).await.unwrap());
    match two.claim("acme", TTL, true).await.unwrap() {
        Claim::Held { by, wait } => assert!(by == "one" && wait > Duration::from_secs(50) && wait <= TTL, "{by} {wait:?}"),
        other => panic!("held by one: {other:?}"),
    }
    assert_eq!(two.running_on("acme").await.unwrap().as_deref(), Some("one"));
    assert!(one.renew(&lease, TTL).await.unwrap());
    let id = one.begin_sync("acme", "schedule").await.unwrap();
    let release = Release { lease: &lease, next_in: Duration::from_secs(3600) };
    one.finish_ok(id, "acme", COUNTS, b"{}", None, 3, Some(release)).await.unwrap();
    assert_eq!(two.running_on("acme").await.unwrap(), None);
    match two.claim("acme", TTL, false).await.unwrap() {
        Claim::NotDue { wait } => assert!(wait > Duration::from_secs(3500), "{wait:?}"),
        other => panic!("not due for an hour: {other:?}"),
    }
    let asked = granted(two.claim("acme", TTL, true).await.unwrap());
    assert!(asked.token > lease.token, "each claim a larger token");
    assert!(!one.renew(&lease, TTL).await.unwrap(), "the old lease is gone");
    granted(one.claim("other", TTL, false).await.unwrap());
}

/// A replica whose lease was taken over commits nothing: its snapshot is not stored, and the
/// lease stays the new holder's.
async fn a_sync_whose_lease_was_taken_over_commits_nothing(backend: Backend) {
    let one = backend.open("one").await;
    let two = backend.open_beside("two").await;
    let short = Duration::from_millis(300);
    let stale = granted(one.claim("acme", short, false).await.unwrap());
    let id = one.begin_sync("acme", "schedule").await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let fresh = granted(two.claim("acme", TTL, true).await.unwrap());
    let release = Release { lease: &stale, next_in: Duration::from_secs(3600) };
    let error = one.finish_ok(id, "acme", COUNTS, b"{\"stale\":1}", None, 3, Some(release)).await.unwrap_err();
    assert_eq!(error, lease_lost(&stale));
    assert!(one.last_snapshot("acme").await.unwrap().is_none(), "nothing committed");
    one.finish_failed(id, "abandoned", &error.0, Some(release)).await.unwrap();
    assert_eq!(two.running_on("acme").await.unwrap().as_deref(), Some("two"), "the new holder keeps it");
    assert!(two.renew(&fresh, TTL).await.unwrap());
}

macro_rules! on_both_back_ends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Backend::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Backend::postgres()).await
                }
            )*
        }
    };
}

on_both_back_ends!(
    a_sync_keeps_its_snapshot_and_diff_and_old_ones_are_pruned,
    a_sync_its_replica_left_running_is_abandoned_when_it_starts_again,
    a_change_is_pending_until_settled_and_unknown_when_a_stop_left_it_so,
    a_damaged_snapshot_is_reported_and_the_one_before_served,
    the_audit_log_reads_back_newest_first,
    one_claim_at_a_time_and_the_next_when_due,
    a_sync_whose_lease_was_taken_over_commits_nothing,
    an_overview_answers_each_listed_tenant_in_one_read,
);

/// Replicas that start together apply each migration once: the advisory lock makes them take
/// turns, and the ones after the first find it applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_starting_together_migrate_once() {
    let url = shared().database();
    let starts: Vec<_> = (0..6)
        .map(|n| {
            let url = url.clone();
            tokio::spawn(async move { PostgresStore::open(&url, &format!("r{n}")).await.map(drop) })
        })
        .collect();
    for start in starts {
        start.await.unwrap().unwrap();
    }
    let name = url.rsplit('/').next().unwrap();
    assert_eq!(shared().sql(name, "SELECT count(*) FROM connector_host_migrations"), "3", "each migration once");
}

/// A replica's start settles only what it left: another replica's running sync and pending
/// change are that replica's, still in progress.
#[tokio::test]
async fn a_starting_replica_leaves_the_others_work_alone() {
    let backend = Backend::postgres();
    let one = backend.open("one").await;
    let running = one.begin_sync("acme", "schedule").await.unwrap();
    let arguments = json!({});
    one.audit_pending(record("grant", &arguments, "req-1")).await.unwrap();
    let two = backend.open("two").await;
    assert_eq!(two.unknown_changes(), 0);
    let last = two.last_sync("acme").await.unwrap().unwrap();
    assert_eq!((last.id, last.outcome.as_str(), last.replica.as_deref()), (running, "running", Some("one")));
    assert_eq!(two.audit_log("acme", 1).await.unwrap()[0].outcome, "pending");
}

/// A database a newer version migrated is refused, naming the migrations, and changed in nothing.
#[tokio::test]
async fn a_database_a_newer_version_migrated_is_refused() {
    let backend = Backend::postgres();
    drop(backend.open("r1").await);
    backend.raw("INSERT INTO connector_host_migrations (version, applied_at) VALUES (99, 'later')").await;
    let Err(StoreError(error)) = open(&backend.location(), "r1").await else { panic!("a newer database is refused") };
    assert!(error.contains("migrated by a newer version (migration 99, this one knows 3)"), "{error}");
}

/// Where the state is, and why it cannot be reached, are said without the password.
#[tokio::test]
async fn the_password_is_in_no_description_or_error() {
    let port = shared().port();
    let url = format!("postgres://postgres:hunter2-secret@127.0.0.1:{port}/no_such_database");
    let Err(StoreError(error)) = open(&StateLocation::Postgres { url, ca: None }, "r1").await else { panic!("no such database") };
    assert!(error.contains("no_such_database") && !error.contains("hunter2"), "{error}");
    let Err(StoreError(error)) = open(&StateLocation::Postgres { url: "mysql://x".into(), ca: None }, "r1").await else {
        panic!("not a URL")
    };
    assert!(error.contains("is not a PostgreSQL URL"), "{error}");
    let store = Backend::postgres().open("r1").await;
    assert!(store.describe().starts_with("PostgreSQL at postgres://postgres@127.0.0.1:"), "{}", store.describe());
    assert_eq!(connector_service::store::password_of("postgres://u:p%40ss@h/d").as_deref(), Some("p@ss"));
}

/// TLS to the database: against a server that accepts only TLS, the store connects with the
/// authority given and works; without it the certificate is refused (it is always verified);
/// `sslmode=disable` is refused by the server. Against the plain server, `sslmode=require` fails.
#[tokio::test]
async fn the_database_is_reached_over_verified_tls_when_it_offers_it() {
    let server = connector_real_postgres::Postgres::start_tls().unwrap_or_else(|why| panic!("{why}"));
    let url = server.database();
    let ca = server.ca().unwrap();
    let store = PostgresStore::open_with(&format!("{url}?sslmode=require"), Some(ca), "r1").await.unwrap();
    store.begin_sync("acme", "schedule").await.unwrap();
    let Err(StoreError(unverified)) = PostgresStore::open_with(&url, None, "r1").await.map(drop) else {
        panic!("an unknown authority is refused")
    };
    assert!(unverified.to_lowercase().contains("certificate"), "{unverified}");
    let Err(StoreError(plain)) = PostgresStore::open_with(&format!("{url}?sslmode=disable"), Some(ca), "r1").await.map(drop) else {
        panic!("the server takes TLS only")
    };
    assert!(plain.contains("pg_hba.conf") || plain.contains("encryption"), "{plain}");
    let plain_server = shared().database();
    let Err(StoreError(required)) = PostgresStore::open_with(&format!("{plain_server}?sslmode=require"), None, "r1").await.map(drop) else {
        panic!("TLS required of a server without it")
    };
    assert!(!required.is_empty());
}

/// What a replica that went silent left is settled by the others: its pending change becomes
/// `unknown` and its running sync `abandoned` once it has been silent for twice the lease's time;
/// a live replica's pending change is left alone; and the silent one's late outcome still lands.
#[tokio::test]
async fn a_silent_replicas_pending_change_becomes_unknown_until_its_outcome_arrives() {
    let backend = Backend::postgres();
    let quick = Duration::from_millis(100);
    let silent = backend.open("silent").await;
    silent.heartbeat(TTL).await.unwrap();
    let arguments = json!({"entitlement": "e"});
    let left = silent.audit_pending(record("grant", &arguments, "req-left")).await.unwrap();
    let running = silent.begin_sync("acme", "schedule").await.unwrap();
    let live = backend.open("live").await;
    assert_eq!(live.heartbeat(quick).await.unwrap(), 0, "not silent yet");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let own = live.audit_pending(record("revoke", &arguments, "req-own")).await.unwrap();
    assert_eq!(live.heartbeat(quick).await.unwrap(), 1);
    let log = live.audit_log("acme", 10).await.unwrap();
    let outcome = |id: i64| log.iter().find(|e| e.id == id).unwrap().outcome.clone();
    assert_eq!((outcome(left).as_str(), outcome(own).as_str()), ("unknown", "pending"));
    let sync = live.syncs("acme", Some(running), 1).await.unwrap().pop().unwrap();
    assert_eq!(sync.outcome, "abandoned");
    silent.audit_settle(left, "done", &json!({"outcome": "granted"})).await.unwrap();
    assert_eq!(live.audit_log("acme", 10).await.unwrap().iter().find(|e| e.id == left).unwrap().outcome, "done");
    assert!(live.audit_settle(left, "failed", &json!({})).await.is_err(), "settled once");
}
