//! `connector-host serve` as an operator runs it: the real binary, the real components, the fake
//! Fivetran over loopback, and plain HTTP/1.1 requests to its API.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use connector_fake_fivetran::{Account, AccountSpec, FakeFivetran, generate};
use serde_json::{Value, json};

const TOKEN: &str = "service-test-token-7d1f0c2a";

fn fake(users: usize) -> (FakeFivetran, Account) {
    let account = generate(&AccountSpec::sized(7, users, 5, 4));
    (FakeFivetran::start(account.clone()).unwrap(), account)
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// A tenant file of `ids` against `fake`, each with the account's key from its own variables.
fn tenant_file(dir: &Path, fake: &FakeFivetran, ids: &[&str], interval_s: u64) -> PathBuf {
    let mut text = String::new();
    for id in ids {
        text.push_str(&format!(
            "[[tenant]]\nid = \"{id}\"\nbase_url = \"{}\"\nallow_private_network = true\nsync_interval_s = {interval_s}\napi_key_env = \"TEST_KEY\"\napi_secret_env = \"TEST_SECRET\"\n\n",
            fake.base_url()
        ));
    }
    let path = dir.join("tenants.toml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn start(account: &Account, tenants: &Path, state: &Path, extra: &[&str]) -> Self {
        Self::start_with(account, tenants, state, extra, |_| {})
    }

    fn start_with(account: &Account, tenants: &Path, state: &Path, extra: &[&str], configure: impl FnOnce(&mut Command)) -> Self {
        let addr = free_port();
        let log = state.with_extension("log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_connector-host"));
        command
            .args(["serve", "--tenants", tenants.to_str().unwrap(), "--listen", &addr.to_string(), "--state-dir", state.to_str().unwrap()])
            .args(extra)
            .env("TEST_KEY", &account.primary_key().key)
            .env("TEST_SECRET", &account.primary_key().secret)
            .env("CONNECTOR_HOST_API_TOKEN", TOKEN)
            .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        configure(&mut command);
        let server = Self { child: command.spawn().unwrap(), addr, log };
        server.wait_for(|s| s.get("/ready", false).0 == 200, "ready");
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One HTTP/1.1 request; answers the status and the body as JSON (or as a string).
    fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
        let mut stream = match TcpStream::connect(self.addr) {
            Ok(stream) => stream,
            Err(_) => return (0, Value::Null),
        };
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let body = body.unwrap_or("");
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, Value::Null);
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        let Some((head, body)) = text.split_once("\r\n\r\n") else { return (0, Value::Null) };
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() };
        (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
    }

    /// A request written as given; answers the status, the head (lower case) and the body.
    fn raw(&self, request: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, head.to_ascii_lowercase(), body.to_owned())
    }

    fn get(&self, path: &str, authorized: bool) -> (u16, Value) {
        self.request("GET", path, authorized.then_some(TOKEN), None)
    }

    fn wait_for(&self, done: impl Fn(&Self) -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if done(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; log:\n{}", self.log());
    }

    fn status(&self, id: &str) -> Value {
        self.get(&format!("/v1/tenants/{id}"), true).1
    }

    fn wait_synced(&self, id: &str, at_least: i64) {
        self.wait_for(
            |s| s.status(id)["last_sync"]["outcome"] == "ok" && s.status(id)["last_sync"]["id"].as_i64() >= Some(at_least),
            "a sync",
        );
    }

    fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the service did not exit; log:\n{}", self.log());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

fn grant_ids(snapshot: &Value) -> std::collections::BTreeSet<String> {
    snapshot["grants"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_scheduled_sync_shows_in_status_metrics_and_the_snapshot_route() {
    let (fake, account) = fake(40);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 1);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &[]);
    server.wait_synced("acme", 2);
    // Between two syncs (a 1 s interval), the status shows when the next is due.
    let idle = |s: &Value| s["state"] == "idle" && s["last_sync"]["outcome"] == "ok";
    server.wait_for(|s| idle(&s.status("acme")), "an idle moment");
    let status = (0..100).map(|_| server.status("acme")).find(idle).expect("an idle status");
    assert_eq!(status["connector"], "fivetran");
    assert_eq!(status["last_sync"]["trigger"], "schedule");
    assert!(status["last_success_at"].is_string() && status["next_sync_at"].is_string(), "{status}");

    let (code, snapshot) = server.get("/v1/tenants/acme/snapshot", true);
    assert_eq!(code, 200);
    assert_eq!(grant_ids(&snapshot), connector_fake_fivetran::oracle::expected_grants(&fake.account()));
    let (code, c1z) = server.get("/v1/tenants/acme/snapshot?format=c1z", true);
    assert_eq!(code, 200);
    assert!(c1z.as_str().is_some_and(|text| text.starts_with("C1ZF")), "the c1z file's magic");
    assert_eq!(server.get("/v1/tenants/acme/snapshot?format=xml", true).0, 400);
    let (code, diff) = server.get("/v1/tenants/acme/diff", true);
    assert_eq!(code, 200, "{diff}");
    assert_eq!(diff["grants"]["added"], json!([]), "nothing changed between the two syncs");

    let (code, metrics) = server.get("/metrics", false);
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap().to_owned();
    let grants = snapshot["grants"].as_array().unwrap().len();
    for line in [
        format!("connector_grants{{tenant=\"acme\"}} {grants}"),
        "connector_syncs_total{tenant=\"acme\",outcome=\"ok\"}".to_owned(),
        "connector_sync_duration_seconds_count{tenant=\"acme\"}".to_owned(),
        "connector_last_success_timestamp_seconds{tenant=\"acme\"}".to_owned(),
        "connector_api_requests_total{tenant=\"acme\"}".to_owned(),
    ] {
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    let (code, health) = server.get("/health", false);
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")), "{health}");
    assert!(!server.log().contains(&account.primary_key().secret), "no secret in the log");
}

#[test]
fn v1_needs_the_token_and_probes_do_not() {
    let (fake, account) = fake(10);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &[]);
    for path in ["/v1/tenants", "/v1/tenants/acme", "/v1/tenants/acme/snapshot", "/v1/tenants/acme/audit"] {
        assert_eq!(server.get(path, false).0, 401, "{path}");
        let (code, body) = server.request("GET", path, Some("service-test-token-7d1f0c2b"), None);
        assert_eq!(code, 401, "a token one character off: {path}");
        assert!(body["error"].is_string());
    }
    assert_eq!(server.request("POST", "/v1/tenants/acme/syncs", None, None).0, 401);
    for path in ["/live", "/ready", "/health", "/metrics"] {
        assert_eq!(server.get(path, false).0, 200, "{path}");
    }
    let (code, body) = server.get("/v1/tenants/nobody", true);
    assert_eq!((code, body["error"].is_string()), (404, true));
    assert_eq!(server.get("/nowhere", false).0, 404);
}

#[test]
fn a_triggered_sync_runs_and_a_second_one_waits_its_turn() {
    let (fake, account) = fake(20);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &[]);
    server.wait_synced("acme", 1);
    fake.set_latency(Duration::from_millis(30));
    let (code, started) = server.request("POST", "/v1/tenants/acme/syncs", Some(TOKEN), None);
    assert_eq!(code, 202, "{started}");
    let id = started["id"].as_i64().unwrap();
    let (code, busy) = server.request("POST", "/v1/tenants/acme/syncs", Some(TOKEN), None);
    assert_eq!(code, 409, "{busy}");
    server.wait_synced("acme", id);
    assert_eq!(server.status("acme")["last_sync"]["trigger"], "api");
    let (code, sync) = server.get(&format!("/v1/tenants/acme/syncs/{id}"), true);
    assert_eq!((code, sync["outcome"].as_str(), sync["trigger"].as_str()), (200, Some("ok"), Some("api")), "{sync}");
    let (_, history) = server.get("/v1/tenants/acme/syncs", true);
    let ids: Vec<i64> = history["syncs"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(ids[0], id, "newest first: {history}");
    assert_eq!(server.get("/v1/tenants/acme/syncs/9999", true).0, 404);
    assert_eq!(server.get("/v1/tenants/acme/syncs/x", true).0, 400);
}

#[test]
fn changes_are_refused_without_provisioning_and_nothing_is_sent() {
    let (fake, account) = fake(20);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &[]);
    let team = account.teams.keys().next().unwrap();
    let user = account.users.keys().next().unwrap();
    let body = json!({"entitlement": format!("team:{team}:member"), "principal": format!("user:{user}")}).to_string();
    let (code, answer) = server.request("POST", "/v1/tenants/acme/grants", Some(TOKEN), Some(&body));
    assert_eq!(code, 403, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("--provisioning"));
    let (code, _) = server.request("DELETE", &format!("/v1/tenants/acme/accounts/{user}"), Some(TOKEN), None);
    assert_eq!(code, 403);
    assert!(fake.requests().iter().all(|r| r.method == "GET"), "nothing that changes was sent");
    let (_, audit) = server.get("/v1/tenants/acme/audit", true);
    let outcomes: Vec<&str> = audit["entries"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["refused", "refused"], "{audit}");
}

#[test]
fn a_grant_through_the_api_lands_in_the_api_and_in_the_audit_log() {
    let (fake, account) = fake(20);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &["--provisioning"]);
    let team = account.teams.keys().next().unwrap().clone();
    let user = account.users.keys().find(|u| !account.team_users.contains_key(&(team.clone(), (*u).clone()))).unwrap().clone();
    let body = json!({"entitlement": format!("team:{team}:member"), "principal": format!("user:{user}")}).to_string();
    let (code, answer) = server.request("POST", "/v1/tenants/acme/grants", Some(TOKEN), Some(&body));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["outcome"], "granted");
    assert_eq!(fake.account().team_users.get(&(team.clone(), user.clone())).map(String::as_str), Some("Team Member"));
    let grant = answer["grant"]["id"].as_str().unwrap().to_owned();
    let (code, revoked) = server.request("DELETE", &format!("/v1/tenants/acme/grants/{}", grant.replace(':', "%3A")), Some(TOKEN), None);
    assert_eq!((code, revoked["outcome"].as_str()), (200, Some("revoked")), "{revoked}");

    let (_, audit) = server.get("/v1/tenants/acme/audit", true);
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[1]["operation"].as_str(), entries[1]["outcome"].as_str()), (Some("grant"), Some("done")));
    assert_eq!(entries[1]["arguments"]["principal"], format!("user:{user}"));
    assert_eq!(entries[1]["result"]["outcome"], "granted");
    assert_eq!(entries[0]["operation"], "revoke");

    // Bad requests are refused before anything is sent, each with one JSON line.
    let before = fake.requests().iter().filter(|r| r.method != "GET").count();
    for (body, status) in [
        ("{not json", 400),
        (r#"{"entitlement": "x"}"#, 400),
        (r#"{"entitlement": "x", "principal": "nocolon"}"#, 400),
        (r#"{"entitlement": "x", "principal": "user:u", "extra": 1}"#, 400),
    ] {
        let (code, answer) = server.request("POST", "/v1/tenants/acme/grants", Some(TOKEN), Some(body));
        assert_eq!(code, status, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let huge = format!("{{\"entitlement\": \"{}\", \"principal\": \"user:u\"}}", "x".repeat(70_000));
    assert_eq!(server.request("POST", "/v1/tenants/acme/grants", Some(TOKEN), Some(&huge)).0, 413);
    assert_eq!(fake.requests().iter().filter(|r| r.method != "GET").count(), before);
}

#[test]
fn the_lifecycle_routes_change_accounts_and_resources_as_their_commands_do() {
    let (fake, account) = fake(20);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &["--provisioning"]);
    let owner = account.primary_key().user_id.clone();
    let user = account.users.keys().find(|u| Some(*u) != owner.as_ref()).unwrap().clone();
    let path = format!("/v1/tenants/acme/accounts/{user}");
    let (code, updated) = server.request("PATCH", &path, Some(TOKEN), Some(r#"{"family_name": "Okafor"}"#));
    assert_eq!((code, updated["outcome"].as_str()), (200, Some("updated")), "{updated}");
    assert_eq!(fake.account().users[&user].family_name.as_deref(), Some("Okafor"));
    let (code, _) = server.request("PATCH", &path, Some(TOKEN), Some("{}"));
    assert_eq!(code, 400, "nothing to change");
    let (code, refused) = server.request("POST", &format!("{path}/disable"), Some(TOKEN), None);
    assert_eq!(code, 400, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("scim"), "{refused}");

    let (code, created) =
        server.request("POST", "/v1/tenants/acme/resources", Some(TOKEN), Some(r#"{"type": "team", "name": "Auditors"}"#));
    assert_eq!((code, created["outcome"].as_str()), (200, Some("created")), "{created}");
    let team = created["resource"]["id"].as_str().unwrap().to_owned();
    let resource = format!("/v1/tenants/acme/resources/team/{team}");
    let (code, renamed) = server.request("PATCH", &resource, Some(TOKEN), Some(r#"{"name": "Internal Audit"}"#));
    assert_eq!((code, renamed["resource"]["display_name"].as_str()), (200, Some("Internal Audit")), "{renamed}");
    let (code, deleted) = server.request("DELETE", &resource, Some(TOKEN), None);
    assert_eq!((code, deleted["outcome"].as_str()), (200, Some("deleted")), "{deleted}");
    assert!(!fake.account().teams.contains_key(&team));

    let (_, audit) = server.get("/v1/tenants/acme/audit", true);
    let operations: Vec<(&str, &str)> =
        audit["entries"].as_array().unwrap().iter().map(|e| (e["operation"].as_str().unwrap(), e["outcome"].as_str().unwrap())).collect();
    assert_eq!(
        operations,
        [
            ("delete-resource", "done"),
            ("update-resource", "done"),
            ("create-resource", "done"),
            ("disable-account", "failed"),
            ("update-account", "refused"),
            ("update-account", "done")
        ],
        "refusals are recorded too"
    );
}

#[test]
fn serve_demo_runs_the_service_against_the_built_in_fake() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_connector-host"))
        .args(["serve", "--demo", "--listen", &addr.to_string(), "--state-dir", dir.path().join("state").to_str().unwrap()])
        .env_remove("CONNECTOR_HOST_API_TOKEN")
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child: Command::new("true").spawn().unwrap(), addr, log: dir.path().join("none.log") };
    server.wait_for(|s| s.request("GET", "/v1/tenants/demo", None, None).1["last_sync"]["outcome"] == "ok", "the demo tenant's sync");
    let (code, snapshot) = server.request("GET", "/v1/tenants/demo/snapshot", None, None);
    assert_eq!(code, 200);
    assert!(!snapshot["grants"].as_array().unwrap().is_empty());
    let _ = child.kill();
    let _ = child.wait();
}

/// A demo without `--state-dir` leaves nothing in the working folder, and a second one on the
/// same address fails at once, before it starts a fake or writes anything, the first unharmed.
#[test]
fn serve_demo_keeps_its_state_out_of_the_working_folder_and_a_second_one_fails_first() {
    let work = tempfile::tempdir().unwrap();
    let addr = free_port();
    let demo = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_connector-host"));
        command
            .args(["serve", "--demo", "--listen", &addr.to_string()])
            .current_dir(work.path())
            .env_remove("CONNECTOR_HOST_API_TOKEN")
            .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
            .stdin(Stdio::null());
        command
    };
    let mut first = demo().stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let server = Server { child: Command::new("true").spawn().unwrap(), addr, log: work.path().join("none.log") };
    server.wait_for(|s| s.request("GET", "/v1/tenants/demo", None, None).1["last_sync"]["outcome"] == "ok", "the demo tenant's sync");
    let second = demo().output().unwrap();
    assert_eq!(second.status.code(), Some(2), "{}", String::from_utf8_lossy(&second.stderr));
    let error = String::from_utf8_lossy(&second.stderr);
    assert!(error.contains(&format!("--listen {addr} is in use")), "{error}");
    assert!(!String::from_utf8_lossy(&second.stdout).contains("demo:"), "nothing announced");
    let (code, _) = server.request("POST", "/v1/tenants/demo/syncs", None, None);
    assert_eq!(code, 202, "the first demo still syncs its own fake");
    server.wait_synced("demo", 2);
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0, "nothing written to the working folder");
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    let _ = first.wait();
    let leftover = std::env::temp_dir().join(format!("connector-host-demo-{}", first.id()));
    assert!(!leftover.exists(), "the demo's temporary state is removed when it stops");
}

#[test]
fn sigterm_during_a_sync_exits_0_and_the_previous_snapshot_is_served_after_a_restart() {
    let (fake, account) = fake(30);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let state = dir.path().join("state");
    let mut server = Server::start(&account, &tenants, &state, &["--grace-s", "1"]);
    server.wait_synced("acme", 1);
    let (_, first) = server.get("/v1/tenants/acme/snapshot", true);
    fake.set_latency(Duration::from_millis(400));
    let (code, started) = server.request("POST", "/v1/tenants/acme/syncs", Some(TOKEN), None);
    assert_eq!(code, 202);
    server.wait_for(|s| s.status("acme")["state"] == "running", "the sync to run");
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(), Some(0), "{}", server.log());
    assert!(server.log().contains("abandoned"), "{}", server.log());
    drop(server);

    let server = Server::start(&account, &tenants, &state, &[]);
    let (code, served) = server.get("/v1/tenants/acme/snapshot", true);
    assert_eq!(code, 200);
    assert_eq!(served["grants"], first["grants"], "the last good snapshot is served");
    let abandoned = started["id"].as_i64().unwrap();
    let db = rusqlite::Connection::open(state.join("state.db")).unwrap();
    let outcome: String = db.query_row("SELECT outcome FROM syncs WHERE id = ?1", [abandoned], |r| r.get(0)).unwrap();
    assert_eq!(outcome, "abandoned");
}

#[test]
fn a_kill_during_syncs_leaves_a_readable_database() {
    let (fake, account) = fake(60);
    let dir = tempfile::tempdir().unwrap();
    let ids = ["t0", "t1", "t2", "t3", "t4", "t5"];
    let tenants = tenant_file(dir.path(), &fake, &ids, 1);
    let state = dir.path().join("state");
    fake.set_latency(Duration::from_millis(5));
    let mut server = Server::start(&account, &tenants, &state, &["--max-parallel", "3"]);
    // Kill it at moments spread over its syncs and their writes.
    for round in 0..3 {
        server.wait_for(|s| ids.iter().any(|id| s.status(id)["last_sync"]["outcome"] == "ok"), "a first sync");
        std::thread::sleep(Duration::from_millis(37 * round + 20));
        server.signal(libc::SIGKILL);
        server.wait_exit();
        let db = rusqlite::Connection::open(state.join("state.db")).unwrap();
        let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok");
        let mut statement = db.prepare("SELECT snapshot FROM snapshots").unwrap();
        let snapshots: Vec<Vec<u8>> = statement.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert!(!snapshots.is_empty());
        for compressed in snapshots {
            let json = zstd::decode_all(compressed.as_slice()).expect("every stored snapshot decompresses");
            let snapshot: Value = serde_json::from_slice(&json).expect("and is a whole snapshot");
            assert_eq!(snapshot["format"], "connector-snapshot/v1");
        }
        drop(statement);
        drop(db);
        server = Server::start(&account, &tenants, &state, &["--max-parallel", "3"]);
    }
}

#[test]
fn two_shards_serve_every_tenant_exactly_once() {
    let (fake, account) = fake(5);
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..16).map(|n| format!("tenant-{n}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let tenants = tenant_file(dir.path(), &fake, &refs, 3600);
    let shards: Vec<Server> = (0..2)
        .map(|i| Server::start(&account, &tenants, &dir.path().join(format!("state-{i}")), &["--shard", &format!("connector-host-{i}/2")]))
        .collect();
    let mut served: Vec<String> = Vec::new();
    for shard in &shards {
        let (_, list) = shard.get("/v1/tenants", true);
        let mine: Vec<String> = list["tenants"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
        assert!(!mine.is_empty(), "each shard serves some");
        served.extend(mine);
    }
    served.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(served, expected, "every tenant exactly once");
}

#[test]
fn sighup_reads_the_tenant_file_again() {
    let (fake, account) = fake(10);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &[]);
    server.wait_synced("acme", 1);
    tenant_file(dir.path(), &fake, &["globex"], 3600);
    server.signal(libc::SIGHUP);
    server.wait_for(|s| s.get("/v1/tenants/globex", true).0 == 200 && s.get("/v1/tenants/acme", true).0 == 404, "the reload");
    server.wait_synced("globex", 1);
    std::fs::write(&tenants, "not toml [[").unwrap();
    server.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.get("/v1/tenants/globex", true).0, 200, "a broken file changes nothing");
    assert!(server.log().contains("not reloaded"), "{}", server.log());
}

#[test]
fn without_a_token_only_loopback_may_be_served() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.toml"), "[[tenant]]\nid = \"a\"\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_connector-host"))
        .args(["serve", "--tenants", dir.path().join("t.toml").to_str().unwrap(), "--listen", "0.0.0.0:0", "--state-dir"])
        .arg(dir.path().join("state"))
        .env_remove("CONNECTOR_HOST_API_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("CONNECTOR_HOST_API_TOKEN"));
}

/// A change request with the headers given; `Connection: close`.
fn change_request(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// A user of the account in no team, and a team.
fn outsider_and_team(account: &Account) -> (String, String) {
    let owner = account.primary_key().user_id.clone();
    let team = account.teams.keys().next().unwrap().clone();
    let user = account
        .users
        .keys()
        .find(|u| Some(*u) != owner.as_ref() && !account.team_users.contains_key(&(team.clone(), (*u).clone())))
        .unwrap()
        .clone();
    (user, team)
}

#[test]
fn a_change_whose_client_leaves_still_runs_to_its_end_and_is_audited_ahead() {
    let (fake, account) = fake(20);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &["--provisioning"]);
    server.wait_synced("acme", 1);
    let (user, team) = outsider_and_team(&account);
    // The API answers the write slowly; the client gives up after a second and goes.
    fake.inject(
        connector_fake_fivetran::FaultRule::new(
            &format!("/v1/teams/{team}/users"),
            1,
            connector_fake_fivetran::Fault::Slow(Duration::from_secs(3)),
        )
        .method("POST"),
    );
    let body = format!(r#"{{"entitlement": "team:{team}:member", "principal": "user:{user}"}}"#);
    let request = change_request(
        server.addr,
        "POST",
        "/v1/tenants/acme/grants",
        "Content-Type: application/json\r\nX-Request-Id: leaves-early-1\r\n",
        &body,
    );
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut nothing = [0u8; 64];
    assert!(stream.read(&mut nothing).is_err(), "no answer within a second");
    drop(stream);

    let (_, audit) = server.get("/v1/tenants/acme/audit", true);
    let entry = &audit["entries"][0];
    assert_eq!(
        (entry["operation"].as_str(), entry["request_id"].as_str()),
        (Some("grant"), Some("leaves-early-1")),
        "recorded before it was sent"
    );
    server.wait_for(|s| s.get("/v1/tenants/acme/audit", true).1["entries"][0]["outcome"] == "done", "the change to settle");
    assert!(fake.account().team_users.contains_key(&(team.clone(), user.clone())), "the change reached the API");
    let (_, audit) = server.get("/v1/tenants/acme/audit", true);
    assert_eq!(audit["entries"][0]["result"]["outcome"], "granted");
    let metrics = server.get("/metrics", false).1;
    assert!(metrics.as_str().unwrap().contains("connector_changes_total{tenant=\"acme\",outcome=\"ok\"} 1"), "{metrics}");
}

#[test]
fn the_audit_fails_closed_when_the_state_cannot_be_written() {
    let (fake, account) = fake(20);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    // Writes past the file-size limit fail (EFBIG) instead of killing the process.
    let server = Server::start_with(&account, &tenants, &state, &["--provisioning"], |command| {
        use std::os::unix::process::CommandExt;
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    server.wait_synced("acme", 1);
    assert_eq!(server.get("/health", false).1["status"], "ok");
    // The disk is full: no file of the service may grow.
    let largest = ["state.db", "state.db-wal"].iter().filter_map(|f| std::fs::metadata(state.join(f)).ok()).map(|m| m.len()).max().unwrap();
    let limit = |bytes: u64| {
        let limit = libc::rlimit { rlim_cur: bytes, rlim_max: libc::RLIM_INFINITY };
        assert_eq!(unsafe { libc::prlimit(server.child.id() as i32, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()) }, 0);
    };
    limit(largest);
    let (user, team) = outsider_and_team(&account);
    let writes = || fake.requests().iter().filter(|r| r.method != "GET").count();
    let before = writes();
    let body = format!(r#"{{"entitlement": "team:{team}:member", "principal": "user:{user}"}}"#);
    let (code, answer) = server.request("POST", "/v1/tenants/acme/grants", Some(TOKEN), Some(&body));
    assert_eq!(code, 503, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("nothing was sent"), "{answer}");
    assert_eq!(writes(), before, "nothing reached the API");
    let health = server.get("/health", false).1;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["problems"][0].as_str().unwrap().contains("cannot be written"), "{health}");

    limit(libc::RLIM_INFINITY);
    assert_eq!(server.get("/health", false).1["status"], "ok", "space again");
    let (code, granted) = server.request("POST", "/v1/tenants/acme/grants", Some(TOKEN), Some(&body));
    assert_eq!((code, granted["outcome"].as_str()), (200, Some("granted")), "{granted}");
}

#[test]
fn no_web_page_can_drive_or_read_the_service() {
    let (fake, account) = fake(20);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server =
        Server::start(&account, &tenants, &dir.path().join("state"), &["--provisioning", "--allowed-host", "connector-host.internal"]);
    server.wait_synced("acme", 1);
    let (user, team) = outsider_and_team(&account);
    let body = format!(r#"{{"entitlement": "team:{team}:member", "principal": "user:{user}"}}"#);
    let writes = || fake.requests().iter().filter(|r| r.method != "GET").count();
    let before = writes();

    // A form or fetch without preflight can send text/plain only.
    let (code, _, text) =
        server.raw(&change_request(server.addr, "POST", "/v1/tenants/acme/grants", "Content-Type: text/plain\r\n", &body));
    assert_eq!(code, 415, "{text}");
    // From another origin, even as JSON (a page's fetch after a preflight the service never allowed).
    let (code, _, text) = server.raw(&change_request(
        server.addr,
        "POST",
        "/v1/tenants/acme/grants",
        "Content-Type: application/json\r\nOrigin: https://evil.example\r\n",
        &body,
    ));
    assert_eq!(code, 403, "{text}");
    let (code, _, _) =
        server.raw(&change_request(server.addr, "POST", &format!("/v1/tenants/acme/accounts/{user}/disable"), "Origin: null\r\n", ""));
    assert_eq!(code, 403, "a bodiless change from a foreign origin");
    // A JSON array read as the fields in order.
    let (code, _, text) = server.raw(&change_request(
        server.addr,
        "POST",
        "/v1/tenants/acme/grants",
        "Content-Type: application/json\r\n",
        r#"["team:x:member", "user:u"]"#,
    ));
    assert_eq!(code, 400, "{text}");
    assert_eq!(writes(), before, "nothing sent");
    let (_, audit) = server.get("/v1/tenants/acme/audit", true);
    let refused: Vec<&str> = audit["entries"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(refused, ["refused", "refused", "refused", "refused"], "each refusal recorded");

    // DNS rebinding: a page whose own name now points here sends its own name as Host.
    let rebound = format!(
        "GET /v1/tenants/acme/snapshot HTTP/1.1\r\nHost: attacker.example:{}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n",
        server.addr.port()
    );
    let (code, _, text) = server.raw(&rebound);
    assert_eq!(code, 421, "{text}");
    for host in ["connector-host.internal".to_owned(), format!("localhost:{}", server.addr.port()), server.addr.to_string()] {
        let allowed = format!("GET /live HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        assert_eq!(server.raw(&allowed).0, 200, "{host}");
    }
    // The scheme in any case; every answer names its request.
    let lower = format!("GET /v1/tenants HTTP/1.1\r\nHost: {}\r\nAuthorization: bearer {TOKEN}\r\nConnection: close\r\n\r\n", server.addr);
    let (code, head, _) = server.raw(&lower);
    assert_eq!(code, 200);
    assert!(head.contains("x-request-id: req-"), "{head}");
}

#[test]
fn a_second_service_on_the_same_state_directory_exits_2_naming_the_holder() {
    let (fake, account) = fake(10);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &state, &[]);
    server.wait_synced("acme", 1);
    let second = Command::new(env!("CARGO_BIN_EXE_connector-host"))
        .args([
            "serve",
            "--tenants",
            tenants.to_str().unwrap(),
            "--listen",
            &free_port().to_string(),
            "--state-dir",
            state.to_str().unwrap(),
        ])
        .env("CONNECTOR_HOST_API_TOKEN", TOKEN)
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("in use by another service") && stderr.contains(&format!("process {}", server.child.id())), "{stderr}");
    assert_eq!(server.status("acme")["last_sync"]["outcome"], "ok", "the first one's state untouched");
}

#[test]
fn silent_and_surplus_connections_are_closed() {
    let (fake, account) = fake(10);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &["--header-timeout-s", "1", "--max-connections", "3"]);
    let silent = TcpStream::connect(server.addr).unwrap();
    silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 16];
    let read = (&silent).read(&mut buffer);
    assert!(matches!(read, Ok(0)) || read.is_err(), "closed, not answered: {read:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "within the header timeout: {:?}", started.elapsed());

    // Three held open, half a request each; a fourth is turned away.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr).unwrap();
            stream.write_all(b"GET /live HTTP/1.1\r\n").unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (code, _, text) = server.raw(&format!("GET /live HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.addr));
    assert_eq!(code, 503, "{text}");
    drop(held);
    server.wait_for(|s| s.get("/live", false).0 == 200, "room again");
}

#[test]
fn out_of_range_durations_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [("--grace-s", "18446744073709551615"), ("--header-timeout-s", "0"), ("--max-connections", "0")] {
        let output = Command::new(env!("CARGO_BIN_EXE_connector-host"))
            .args(["serve", "--demo", "--state-dir", dir.path().to_str().unwrap(), flag, value])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        assert!(String::from_utf8_lossy(&output.stderr).contains(flag), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn a_failed_syncs_requests_count_too() {
    let (fake, account) = fake(10);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    // The key is refused: the sync fails after its requests.
    let mut wrong = account.clone();
    wrong.api_keys[0].secret = "not-the-secret".into();
    let server = Server::start(&wrong, &tenants, &dir.path().join("state"), &[]);
    server.wait_for(|s| s.status("acme")["last_sync"]["outcome"] == "failed", "the failed sync");
    let metrics = server.get("/metrics", false).1;
    let line = metrics
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.starts_with("connector_api_requests_total{tenant=\"acme\"}"))
        .unwrap_or_default()
        .to_owned();
    let count: f64 = line.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0.0);
    assert!(count >= 1.0, "{metrics}");
}

#[test]
fn errors_reach_api_clients_with_the_status_their_kind_has() {
    let (fake, account) = fake(10);
    let scim = connector_fake_scim::FakeScim::start(
        connector_fake_scim::Directory::sample(6, 2, connector_fake_scim::Flavor::Generic),
        "scim-service-token-5c1f",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let mut text = std::fs::read_to_string(&tenants).unwrap();
    text.push_str(&format!(
        "[[tenant]]\nid = \"directory\"\nconnector = \"scim\"\nbase_url = \"{}\"\nallow_private_network = true\nsync_interval_s = 3600\ntoken_env = \"TEST_SCIM_TOKEN\"\n",
        scim.base_url()
    ));
    std::fs::write(&tenants, text).unwrap();
    let server = Server::start_with(&account, &tenants, &dir.path().join("state"), &["--provisioning"], |command| {
        command.env("TEST_SCIM_TOKEN", "scim-service-token-5c1f");
    });
    server.wait_synced("directory", 1);
    let body = Some(r#"{"family_name": "Okafor"}"#);
    let (code, answer) = server.request("PATCH", "/v1/tenants/directory/accounts/no-such-user", Some(TOKEN), body);
    assert_eq!(code, 404, "a SCIM 404: {answer}");
    let (code, answer) = server.request("PATCH", "/v1/tenants/acme/accounts/no_such_user", Some(TOKEN), body);
    assert_eq!(code, 404, "a Fivetran 404: {answer}");
    let group = scim.directory().groups.keys().next().unwrap().clone();
    let rename = format!("/v1/tenants/directory/resources/group/{group}");
    let other = scim.directory().groups.values().nth(1).unwrap()["displayName"].as_str().unwrap().to_owned();
    let (code, answer) = server.request("PATCH", &rename, Some(TOKEN), Some(&format!(r#"{{"name": "{other}"}}"#)));
    assert_eq!(code, 400, "a name another group has: {answer}");
}

/// Replicas sharing `url`, each named `rN`, with a short lease.
fn replicas(account: &Account, tenants: &Path, dir: &Path, url: &str, count: usize, extra: &[&str]) -> Vec<Server> {
    (0..count)
        .map(|n| {
            let name = format!("r{n}");
            let mut args = vec!["--database", url, "--replica-id", &name, "--lease-ttl-s", "3"];
            args.extend_from_slice(extra);
            Server::start(account, tenants, &dir.join(&name), &args)
        })
        .collect()
}

fn history(server: &Server, id: &str) -> Vec<Value> {
    server.get(&format!("/v1/tenants/{id}/syncs"), true).1["syncs"].as_array().cloned().unwrap_or_default()
}

/// Three replicas on one PostgreSQL: each tenant synced once per interval by one of them, every
/// replica answering every tenant with the same history and snapshot, a sync asked of one run
/// once by it, and a change one of them refused in the audit every replica reads.
#[test]
fn replicas_sharing_a_database_sync_each_tenant_once_and_answer_alike() {
    let (fake, account) = fake(20);
    let dir = tempfile::tempdir().unwrap();
    let ids = ["t0", "t1", "t2", "t3", "t4", "t5"];
    let tenants = tenant_file(dir.path(), &fake, &ids, 3600);
    let url = connector_real_postgres::shared().database();
    let replicas = replicas(&account, &tenants, dir.path(), &url, 3, &[]);
    for id in ids {
        replicas[0].wait_synced(id, 1);
    }
    // A second sync of any tenant, by any replica, would have started by now.
    std::thread::sleep(Duration::from_secs(2));
    let mut ran_on = std::collections::BTreeSet::new();
    for id in ids {
        let seen: Vec<Vec<Value>> = replicas.iter().map(|r| history(r, id)).collect();
        assert_eq!(seen[0].len(), 1, "{id} synced once: {:?}", seen[0]);
        assert!(seen.iter().all(|h| *h == seen[0]), "every replica answers the same history of {id}: {seen:?}");
        ran_on.insert(seen[0][0]["replica"].as_str().unwrap().to_owned());
        let snapshots: Vec<Value> = replicas.iter().map(|r| r.get(&format!("/v1/tenants/{id}/snapshot"), true).1).collect();
        assert!(snapshots.iter().all(|s| s["grants"] == snapshots[0]["grants"] && s["grants"].is_array()), "{id}");
    }
    assert!(ran_on.iter().all(|r| ["r0", "r1", "r2"].contains(&r.as_str())), "{ran_on:?}");
    // A snapshot's gauges come from one replica, so that summing every replica's counts each once.
    let metrics: Vec<String> = replicas.iter().map(|r| r.get("/metrics", false).1.as_str().unwrap().to_owned()).collect();
    for id in ids {
        let series = format!("connector_grants{{tenant=\"{id}\"}}");
        assert_eq!(metrics.iter().filter(|m| m.contains(&series)).count(), 1, "{series} on one replica");
    }

    let (code, started) = replicas[1].request("POST", "/v1/tenants/t0/syncs", Some(TOKEN), None);
    assert_eq!(code, 202, "{started}");
    replicas[2].wait_synced("t0", started["id"].as_i64().unwrap());
    let t0 = history(&replicas[2], "t0");
    assert_eq!((t0.len(), t0[0]["replica"].as_str(), t0[0]["trigger"].as_str()), (2, Some("r1"), Some("api")), "{t0:?}");

    let body = json!({"entitlement": "team:x:member", "principal": "user:y"}).to_string();
    let (code, _) = replicas[2].request("POST", "/v1/tenants/t1/grants", Some(TOKEN), Some(&body));
    assert_eq!(code, 403, "provisioning is off");
    let (_, audit) = replicas[0].get("/v1/tenants/t1/audit", true);
    assert_eq!(audit["entries"][0]["outcome"], "refused", "{audit}");
    assert_eq!(audit["entries"][0]["replica"], "r2", "{audit}");
}

/// A replica killed in the middle of a sync loses its lease: another replica takes the tenant
/// over within the lease's time and syncs it, and the killed one's sync is marked abandoned.
#[test]
fn a_killed_replicas_tenant_is_taken_over_within_the_lease() {
    let (fake, account) = fake(30);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let url = connector_real_postgres::shared().database();
    fake.set_latency(Duration::from_millis(300));
    let mut replicas = replicas(&account, &tenants, dir.path(), &url, 2, &[]);
    replicas[0].wait_for(|s| s.status("acme")["running_on"].is_string(), "a sync to run");
    let status = replicas[0].status("acme");
    let holder = status["running_on"].as_str().unwrap().to_owned();
    let (victim, survivor) = if holder == "r0" { (0, 1) } else { (1, 0) };
    replicas[victim].signal(libc::SIGKILL);
    replicas[victim].wait_exit();
    let killed = Instant::now();
    fake.set_latency(Duration::from_millis(0));
    replicas[survivor].wait_synced("acme", 1);
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(30), "taken over in {took:?}");
    let syncs = history(&replicas[survivor], "acme");
    let survivor_name = format!("r{survivor}");
    assert_eq!(syncs[0]["replica"].as_str(), Some(survivor_name.as_str()), "{syncs:?}");
    assert_eq!(syncs[0]["outcome"], "ok");
    let abandoned = syncs.iter().find(|s| s["replica"].as_str() == Some(holder.as_str())).expect("the killed replica's sync");
    assert_eq!(abandoned["outcome"], "abandoned", "{syncs:?}");
    assert_eq!(syncs.iter().filter(|s| s["outcome"] == "ok").count(), 1, "synced once: {syncs:?}");
    let metrics = replicas[survivor].get("/metrics", false).1;
    let metrics = metrics.as_str().unwrap();
    for line in ["connector_leases_taken_over_total 1", "connector_leases_held 0", "connector_grants{tenant=\"acme\"}"] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

/// The tenant file is read again when it changes on disk, without a signal: here swapped as a
/// Kubernetes ConfigMap is (a symbolic link renamed over), under two replicas of one database,
/// which both serve the new tenant and sync it once between them.
#[test]
fn a_tenant_added_to_the_file_reaches_every_replica_without_a_signal() {
    let (fake, account) = fake(10);
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("v1"), dir.path().join("v2"));
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    tenant_file(&first, &fake, &["acme"], 3600);
    tenant_file(&second, &fake, &["acme", "globex"], 3600);
    let tenants = dir.path().join("tenants.toml");
    std::os::unix::fs::symlink(first.join("tenants.toml"), &tenants).unwrap();
    let url = connector_real_postgres::shared().database();
    let replicas = replicas(&account, &tenants, dir.path(), &url, 2, &[]);
    replicas[0].wait_synced("acme", 1);
    assert_eq!(replicas[1].get("/v1/tenants/globex", true).0, 404);
    let swap = dir.path().join("tenants.toml.new");
    std::os::unix::fs::symlink(second.join("tenants.toml"), &swap).unwrap();
    std::fs::rename(&swap, &tenants).unwrap();
    for replica in &replicas {
        replica.wait_for(|s| s.get("/v1/tenants/globex", true).0 == 200, "the new tenant");
    }
    replicas[1].wait_synced("globex", 1);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(history(&replicas[0], "globex").len(), 1, "synced once between them");
    assert!(replicas.iter().any(|r| r.log().contains("the tenant file changed on disk")));
}

/// Replicas killed at random points while tenants sync every second: no two syncs of one tenant
/// ever ran at once (the successful ones' times never overlap), and every tenant kept being synced.
#[test]
fn replicas_killed_at_random_points_never_run_two_syncs_of_a_tenant_at_once() {
    let (fake, account) = fake(15);
    let dir = tempfile::tempdir().unwrap();
    let ids = ["t0", "t1", "t2", "t3"];
    let tenants = tenant_file(dir.path(), &fake, &ids, 1);
    let url = connector_real_postgres::shared().database();
    fake.set_latency(Duration::from_millis(15));
    let mut replicas = replicas(&account, &tenants, dir.path(), &url, 3, &[]);
    let mut seed = 0x2545_f491_4f6c_dd1du64 ^ u64::from(std::process::id());
    for round in 0..4 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(200 + seed % 900));
        let victim = (seed % 3) as usize;
        replicas[victim].signal(libc::SIGKILL);
        replicas[victim].wait_exit();
        let name = format!("r{victim}-{round}");
        let args = ["--database", url.as_str(), "--replica-id", name.as_str(), "--lease-ttl-s", "3"];
        replicas[victim] = Server::start(&account, &tenants, &dir.path().join(&name), &args);
    }
    std::thread::sleep(Duration::from_secs(4));
    for id in ids {
        let syncs = replicas[0].get(&format!("/v1/tenants/{id}/syncs?limit=1000"), true).1["syncs"].as_array().cloned().unwrap();
        let mut ok: Vec<(String, String)> = syncs
            .iter()
            .filter(|s| s["outcome"] == "ok")
            .map(|s| (s["started_at"].as_str().unwrap().to_owned(), s["finished_at"].as_str().unwrap().to_owned()))
            .collect();
        assert!(ok.len() >= 3, "{id} kept being synced: {syncs:?}");
        ok.sort();
        for pair in ok.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "two syncs of {id} at once: {pair:?}");
        }
        assert!(syncs.iter().all(|s| s["outcome"] != "running" || s == &syncs[0]), "only the newest may still run: {syncs:?}");
    }
}

/// A single process's SQLite state copied into PostgreSQL (`copy-state`): a replica started on the
/// database answers the same history, snapshot and audit log, and syncs on with ids after the
/// copied ones; a second copy into the same database is refused, changing nothing.
#[test]
fn copy_state_moves_a_sqlite_state_into_postgresql_audit_included() {
    let (fake, account) = fake(10);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let state = dir.path().join("state");
    let mut single = Server::start(&account, &tenants, &state, &[]);
    single.wait_synced("acme", 1);
    let body = json!({"entitlement": "team:x:member", "principal": "user:y"}).to_string();
    assert_eq!(single.request("POST", "/v1/tenants/acme/grants", Some(TOKEN), Some(&body)).0, 403);
    let (history_before, audit_before) = (history(&single, "acme"), single.get("/v1/tenants/acme/audit", true).1);
    let snapshot_before = single.get("/v1/tenants/acme/snapshot", true).1;
    single.signal(libc::SIGTERM);
    assert_eq!(single.wait_exit(), Some(0));

    let url = connector_real_postgres::shared().database();
    let copy = || {
        Command::new(env!("CARGO_BIN_EXE_connector-host"))
            .args(["copy-state", "--state-dir", state.to_str().unwrap()])
            .env("CONNECTOR_HOST_DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    let output = copy();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("copied 1 syncs, 1 snapshots and 1 audit entries"), "{printed}");
    let again = copy();
    assert_ne!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a state"), "{}", String::from_utf8_lossy(&again.stderr));

    let replica = Server::start(&account, &tenants, &dir.path().join("r0"), &["--database", &url, "--replica-id", "r0"]);
    assert_eq!(replica.get("/v1/tenants/acme/audit", true).1, audit_before, "the audit log, whole");
    // The schedule is not copied: the new replica syncs the tenant at once, after the copied ids.
    let copied_id = history_before[0]["id"].as_i64().unwrap();
    replica.wait_synced("acme", copied_id + 1);
    let after = history(&replica, "acme");
    assert!(after.contains(&history_before[0]), "the copied history: {after:?}");
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(replica.get("/v1/tenants/acme/snapshot", true).1["grants"], snapshot_before["grants"]);
}

/// Under a memory budget, syncs that would not fit together wait for each other instead of all
/// running at once: here each tenant may take 576 MiB (512 of records, 64 of sandbox) and the
/// budget is 600, so they run one at a time, all of them to the end.
#[test]
fn syncs_past_the_memory_budget_queue_and_all_complete() {
    let (fake, account) = fake(10);
    let dir = tempfile::tempdir().unwrap();
    let ids = ["t0", "t1", "t2"];
    let tenants = tenant_file(dir.path(), &fake, &ids, 3600);
    fake.set_latency(Duration::from_millis(30));
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &["--memory-budget-mib", "600", "--max-parallel", "3"]);
    for id in ids {
        server.wait_synced(id, 1);
    }
    let running_at_once = ids.iter().filter(|id| server.status(id)["state"] == "running").count();
    assert!(running_at_once <= 1);
    assert!(server.log().contains("waiting for 576 MiB of the memory budget"), "{}", server.log());
}

/// Scaling 1 to 3 to 1 on one database: changes through whichever replicas run all reach the
/// audit log, none lost, and the tenants keep being synced throughout.
#[test]
fn scaling_one_to_three_to_one_loses_no_audit_entry() {
    let (fake, account) = fake(10);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme", "globex"], 1);
    let url = connector_real_postgres::shared().database();
    let start = |name: &str| {
        Server::start(&account, &tenants, &dir.path().join(name), &["--database", &url, "--replica-id", name, "--lease-ttl-s", "3"])
    };
    let body = json!({"entitlement": "team:x:member", "principal": "user:y"}).to_string();
    let refuse_through = |server: &Server, n: usize| {
        for _ in 0..n {
            assert_eq!(server.request("POST", "/v1/tenants/acme/grants", Some(TOKEN), Some(&body)).0, 403);
        }
    };
    let first = start("a");
    first.wait_synced("acme", 1);
    refuse_through(&first, 2);
    let mut more = vec![start("b"), start("c")];
    for server in &more {
        refuse_through(server, 3);
    }
    for server in &mut more {
        server.signal(libc::SIGTERM);
        assert_eq!(server.wait_exit(), Some(0), "{}", server.log());
    }
    refuse_through(&first, 1);
    let (_, audit) = first.get("/v1/tenants/acme/audit?limit=100", true);
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2 + 3 + 3 + 1, "every change, whichever replica took it: {audit}");
    let replicas: std::collections::BTreeSet<&str> = entries.iter().map(|e| e["replica"].as_str().unwrap()).collect();
    assert_eq!(replicas.into_iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    let before = history(&first, "globex").iter().filter(|s| s["outcome"] == "ok").count();
    first.wait_for(|s| history(s, "globex").iter().filter(|x| x["outcome"] == "ok").count() > before, "syncs to go on");
}

/// `GET /v1/tenants/{id}/access` answers as `connector-host access` does over the same snapshot.
#[test]
fn the_access_route_answers_as_the_access_command_over_the_latest_snapshot() {
    let (fake, account) = fake(40);
    let dir = tempfile::tempdir().unwrap();
    let tenants = tenant_file(dir.path(), &fake, &["acme"], 3600);
    let server = Server::start(&account, &tenants, &dir.path().join("state"), &[]);
    server.wait_synced("acme", 1);
    let (code, snapshot) = server.get("/v1/tenants/acme/snapshot", true);
    assert_eq!(code, 200);
    let file = dir.path().join("acme.json");
    std::fs::write(&file, serde_json::to_vec(&snapshot).unwrap()).unwrap();
    // A user who reaches something through a team, so that the answer has a path.
    let passed_on = snapshot["grants"].as_array().unwrap().iter().find(|g| g["expandable"].is_array()).expect("a grant a team passes on");
    let team_member = passed_on["expandable"][0].as_str().unwrap();
    let member = snapshot["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["entitlement"] == team_member && g["principal"]["type"] == "user")
        .map(|g| format!("user:{}", g["principal"]["id"].as_str().unwrap()))
        .expect("a member of that team");
    let destination = format!(
        "{}:{}",
        passed_on["id"].as_str().unwrap().split(':').next().unwrap(),
        passed_on["entitlement"].as_str().unwrap().split(':').nth(1).unwrap()
    );
    for query in [format!("principal={member}"), format!("resource={destination}"), format!("entitlement={team_member}")] {
        let (code, mut answer) = server.get(&format!("/v1/tenants/acme/access?{}", query.replace(' ', "%20")), true);
        assert_eq!(code, 200, "{query}: {answer}");
        assert!(answer["sync_id"].is_i64());
        answer.as_object_mut().unwrap().remove("sync_id");
        let (flag, value) = query.split_once('=').unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_connector-host"))
            .arg("access")
            .arg(&file)
            .args([format!("--{flag}"), value.to_owned(), "--json".to_owned()])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let command: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(answer, command, "{query}");
        if flag == "principal" {
            assert!(answer["access"].as_array().unwrap().iter().any(|a| a["via"] == json!([team_member])), "{answer}");
        }
    }
    assert_eq!(server.get("/v1/tenants/acme/access", true).0, 400, "no question");
    assert_eq!(server.get(&format!("/v1/tenants/acme/access?principal={member}&resource={destination}"), true).0, 400, "two questions");
    let (code, missing) = server.get("/v1/tenants/acme/access?principal=user:nobody", true);
    assert_eq!(code, 404);
    assert!(missing["error"].as_str().unwrap().contains("no principal \"user:nobody\""), "{missing}");
    assert_eq!(server.get("/v1/tenants/acme/access?principal=user:x", false).0, 401, "the token rules of /v1/");
}
