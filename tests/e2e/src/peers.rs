//! Real SCIM 2.0 servers that other people wrote and deploy, run on loopback as the suite's peers:
//! `scim2-server` (python-scim's server), `django-scim2` (in a Django site, as its README sets it
//! up) and Canaille (an identity server with a SCIM API). `tests/peers/install` installs them from
//! PyPI at pinned versions into `target/peers/` (`$SCIM_PEERS_DIR`); a test that needs one fails,
//! never skips, when it is missing, saying how to get it.
//!
//! Each peer runs in a process group of its own, with its state in a temporary folder, and is
//! stopped with the group when dropped. Its state is read directly: the SQLite database of the
//! Django site and of Canaille, and scim2-server's own API (it keeps its state in memory).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// `scim2-server` 0.8.3: python-scim's in-memory SCIM server, close to the RFCs.
    Scim2Server,
    /// `django-scim2` 0.23.0 on Django 5.2, behind gunicorn: integer ids shared by users and
    /// groups, PATCH for members only, filters it says it lacks.
    DjangoScim2,
    /// Canaille 0.3.6 behind hypercorn: members listed by user name, a strict schema, no filters.
    Canaille,
}

impl PeerKind {
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Scim2Server => "scim2-server",
            PeerKind::DjangoScim2 => "django-scim2",
            PeerKind::Canaille => "canaille",
        }
    }
}

/// A running peer. Stops when dropped.
pub struct Peer {
    pub kind: PeerKind,
    /// The SCIM root, e.g. `http://127.0.0.1:PORT/scim/v2`.
    pub base_url: String,
    pub token: String,
    port: u16,
    state: tempfile::TempDir,
    child: Child,
}

const TOKEN: &str = "peer-token-3a7c91e05b24d8f6";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The virtual environment `tests/peers/install` made for `kind`.
fn venv(kind: PeerKind) -> PathBuf {
    let peers = std::env::var_os("SCIM_PEERS_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/peers"));
    let venv = peers.join(kind.name());
    assert!(
        venv.join(".pins").is_file(),
        "the SCIM server {} is not installed in {}: run tests/peers/install (python3 with venv, and PyPI) before the tests",
        kind.name(),
        venv.display()
    );
    venv
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

impl Peer {
    /// Starts `kind` on a free loopback port with an empty directory, and waits until it serves.
    pub fn start(kind: PeerKind) -> Peer {
        let venv = venv(kind);
        let bin = venv.join("bin");
        let state = tempfile::tempdir().expect("a state folder");
        let port = free_port();
        let log = std::fs::File::create(state.path().join("server.log")).expect("a log file");
        let mut command = match kind {
            PeerKind::Scim2Server => {
                let mut command = Command::new(bin.join("scim2-server"));
                command.args(["--hostname", "127.0.0.1", "--port", &port.to_string(), "--bearer-token", TOKEN]);
                command
            }
            PeerKind::DjangoScim2 => {
                let site = workspace().join("tests/peers/django_scim2");
                let environment = [
                    ("SCIM_PEER_STATE", state.path().to_str().expect("a UTF-8 path").to_owned()),
                    ("SCIM_PEER_NETLOC", format!("127.0.0.1:{port}")),
                    ("SCIM_PEER_TOKEN", TOKEN.to_owned()),
                    ("DJANGO_SETTINGS_MODULE", "scimsite.settings".to_owned()),
                    // The site is in the source tree: nothing is written beside it.
                    ("PYTHONDONTWRITEBYTECODE", "1".to_owned()),
                ];
                let migrate = Command::new(bin.join("python"))
                    .args(["-m", "django", "migrate", "--run-syncdb", "--verbosity", "0"])
                    .current_dir(&site)
                    .envs(environment.clone())
                    .output()
                    .expect("django migrate runs");
                assert!(migrate.status.success(), "django migrate failed: {}", String::from_utf8_lossy(&migrate.stderr));
                let mut command = Command::new(bin.join("gunicorn"));
                command
                    .args(["--bind", &format!("127.0.0.1:{port}"), "--workers", "1", "scimsite.wsgi"])
                    .current_dir(&site)
                    .envs(environment);
                command
            }
            PeerKind::Canaille => {
                let config = state.path().join("canaille.toml");
                let database = state.path().join("canaille.sqlite");
                std::fs::write(
                    &config,
                    format!(
                        "SECRET_KEY = \"a-test-server-on-loopback-only\"\nSERVER_NAME = \"127.0.0.1:{port}\"\nPREFERRED_URL_SCHEME = \"http\"\n\
                         [CANAILLE]\nNAME = \"peer\"\n[CANAILLE_SQL]\nDATABASE_URI = \"sqlite:///{}\"\n[CANAILLE_SCIM]\nENABLE_SERVER = true\n",
                        database.display()
                    ),
                )
                .expect("the configuration is written");
                let canaille = |args: &[&str]| {
                    // Canaille reads `canaille.toml` in its working folder.
                    let output = Command::new(bin.join("canaille")).args(args).current_dir(state.path()).output().expect("canaille runs");
                    assert!(output.status.success(), "canaille {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
                    String::from_utf8_lossy(&output.stdout).into_owned()
                };
                canaille(&["install"]);
                // A client and a token for it: how Canaille admits a provisioning service.
                let client = canaille(&[
                    "create",
                    "client",
                    "--client-id",
                    "provisioner",
                    "--client-name",
                    "provisioner",
                    "--grant-types",
                    "client_credentials",
                    "--scope",
                    "openid",
                ]);
                let client: Value = serde_json::from_str(client.lines().last().unwrap_or_default()).expect("the client as JSON");
                canaille(&[
                    "create",
                    "token",
                    "--token-id",
                    "provisioning",
                    "--access-token",
                    TOKEN,
                    "--client",
                    client["id"].as_str().expect("the client's id"),
                    "--type",
                    "access_token",
                    "--scope",
                    "openid",
                    "--issue-date",
                    "2026-01-01T00:00:00+00:00",
                    "--lifetime",
                    "999999999",
                ]);
                let mut command = Command::new(bin.join("hypercorn"));
                command.args(["--bind", &format!("127.0.0.1:{port}"), "canaille:create_app()"]).current_dir(state.path());
                command
            }
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", kind.name()));
        let root = match kind {
            PeerKind::Scim2Server => "/v2",
            PeerKind::DjangoScim2 | PeerKind::Canaille => "/scim/v2",
        };
        let mut peer = Peer { kind, base_url: format!("http://127.0.0.1:{port}{root}"), token: TOKEN.to_owned(), port, state, child };
        peer.wait_until_serving();
        peer
    }

    fn wait_until_serving(&mut self) {
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = self.try_request("GET", "/ServiceProviderConfig", None) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}) before serving: {}", self.kind.name(), self.log());
            }
            assert!(started.elapsed() < Duration::from_secs(90), "{} did not serve within 90 s: {}", self.kind.name(), self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's own log, for failures.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.state.path().join("server.log")).unwrap_or_default()
    }

    /// The SQLite database the Django site or Canaille keeps its state in.
    pub fn database(&self) -> rusqlite::Connection {
        let file = match self.kind {
            PeerKind::DjangoScim2 => "db.sqlite3",
            PeerKind::Canaille => "canaille.sqlite",
            PeerKind::Scim2Server => panic!("scim2-server keeps its state in memory; read it through its API"),
        };
        rusqlite::Connection::open_with_flags(self.state.path().join(file), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the peer's database opens")
    }

    /// One request to the server's SCIM API, below its root, with the token; the status and the
    /// JSON body (null when there is none).
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.try_request(method, path, body).unwrap_or_else(|e| panic!("{method} {path} to {}: {e}", self.kind.name()))
    }

    fn try_request(&self, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<(u16, Value)> {
        let target = format!("{}{path}", self.base_url.split_once(&format!(":{}", self.port)).map_or("", |(_, root)| root));
        let body = body.map(Value::to_string).unwrap_or_default();
        // HTTP/1.0: the server answers whole and closes, so the reading is simple.
        let request = format!(
            "{method} {target} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nAccept: application/scim+json\r\n\
             Content-Type: application/scim+json\r\nContent-Length: {length}\r\n\r\n{body}",
            port = self.port,
            token = self.token,
            length = body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.write_all(request.as_bytes())?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let text = String::from_utf8_lossy(&answer);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
    }

    /// Creates a user through the server's own API; its id.
    pub fn seed_user(&self, user_name: &str, given: &str, family: &str) -> String {
        let mut user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "name": {"givenName": given, "familyName": family, "formatted": format!("{given} {family}")},
            "emails": [{"value": format!("{}@example.com", user_name.split('@').next().unwrap_or(user_name))}],
            "active": true,
        });
        match self.kind {
            PeerKind::Scim2Server => {
                user["phoneNumbers"] = json!([{"value": "+1 555 0199", "type": "mobile"}, {"value": "+1 555 0100", "type": "work"}])
            }
            // Its schema has phone numbers as values only.
            PeerKind::Canaille => user["phoneNumbers"] = json!([{"value": "+1 555 0199"}, {"value": "+1 555 0100"}]),
            PeerKind::DjangoScim2 => {}
        }
        let (status, created) = self.request("POST", "/Users", Some(&user));
        assert_eq!(status, 201, "seeding user {user_name} on {}: {created}", self.kind.name());
        created["id"].as_str().expect("an id").to_owned()
    }

    /// Creates a group with these user members through the server's own API; its id.
    pub fn seed_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|id| json!({"value": id, "$ref": format!("{}/Users/{id}", self.base_url)})).collect();
        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members});
        let (status, created) = self.request("POST", "/Groups", Some(&group));
        assert_eq!(status, 201, "seeding group {name} on {}: {created}", self.kind.name());
        let id = created["id"].as_str().expect("an id").to_owned();
        if self.kind == PeerKind::DjangoScim2 && !members.is_empty() {
            // django-scim2 takes members by PATCH only.
            let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": members}]});
            let (status, answer) = self.request("PATCH", &format!("/Groups/{id}"), Some(&add));
            assert_eq!(status, 200, "seeding the members of {name}: {answer}");
        }
        id
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // The whole group: gunicorn's and hypercorn's workers with their master. Not through the
        // `kill` command: procps-ng 4.0.2 reads `kill -KILL -12345` as `kill(-1, SIGKILL)`, every
        // process the user may signal.
        if let Ok(group) = libc::pid_t::try_from(self.child.id())
            && group > 1
        {
            // SAFETY: signals only the process group the peer was started as the leader of.
            unsafe { libc::killpg(group, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
