//! A real PostgreSQL for the tests: the system's own server programs (`initdb`, `postgres`,
//! `createdb`), a cluster in a temporary folder, listening on one free loopback port only (no
//! Unix socket), trust authentication, durability off (a test cluster is thrown away). One server
//! per test binary ([`shared`]), a fresh database per test ([`Postgres::database`]).
//!
//! PostgreSQL refuses to run as root, so as root the programs run as `nobody`, who owns the
//! folder. When the programs are missing the test fails with one line saying how to install them
//! (`tests/peers/install` does it on Debian): it is never skipped.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The uid and gid the server runs as when the tests run as root: `nobody`/`nogroup`.
const NOBODY: u32 = 65534;

/// A running server. Stopped, and its folder removed, when dropped.
pub struct Postgres {
    bin: PathBuf,
    port: u16,
    /// The certificate authority of the server's TLS certificate, when it speaks only TLS.
    ca: Option<PathBuf>,
    child: Child,
    folder: tempfile::TempDir,
    databases: AtomicU32,
}

/// The server every test of this binary shares; started on first use. Panics, with the line
/// that says how to get PostgreSQL, when it cannot start.
pub fn shared() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = Postgres::start().unwrap_or_else(|why| panic!("{why}"));
        // A static is never dropped: stop the server's process group when the test binary exits.
        SHARED_GROUP.store(server.child.id() as i32, Ordering::SeqCst);
        let _ = SHARED_FOLDER.set(server.folder.path().to_path_buf());
        // SAFETY: registers a plain function without arguments; it only calls killpg.
        unsafe { libc::atexit(stop_shared) };
        server
    })
}

/// The shared server's process group, for [`stop_shared`].
static SHARED_GROUP: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
/// The shared server's folder, removed with it.
static SHARED_FOLDER: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn stop_shared() {
    let group = SHARED_GROUP.load(Ordering::SeqCst);
    if group > 1 {
        // SAFETY: the group the shared server was started in, and only it.
        unsafe { libc::killpg(group, libc::SIGKILL) };
    }
    if let Some(folder) = SHARED_FOLDER.get() {
        // The processes are gone (SIGKILL is not ignored); their files may go too.
        std::thread::sleep(Duration::from_millis(50));
        let _ = std::fs::remove_dir_all(folder);
    }
}

/// The folder holding `initdb` and `postgres`: `$PG_BIN`, else the `PATH`'s, else the newest
/// under `/usr/lib/postgresql/*/bin` (where Debian puts them, off the `PATH`).
fn server_programs() -> Result<PathBuf, String> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").map(PathBuf::from) {
        return if has_server(&dir) { Ok(dir) } else { Err(format!("PG_BIN={} holds no initdb and postgres", dir.display())) };
    }
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>());
    // A `PATH` entry may hold links to them (Debian's /usr/local/bin links, say): use the folder
    // they point into, where `createdb` is too.
    for dir in on_path {
        if has_server(&dir)
            && let Ok(real) = std::fs::canonicalize(dir.join("initdb"))
            && let Some(real_dir) = real.parent()
            && has_server(real_dir)
        {
            return Ok(real_dir.to_path_buf());
        }
    }
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|dir| has_server(dir))
        .collect();
    debian.sort_by_key(|dir| dir.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()));
    debian.pop().ok_or_else(|| {
        "PostgreSQL's server programs (initdb, postgres) are not on this machine: run tests/peers/install as root (it installs Debian's postgresql), or install PostgreSQL 13 or later and set PG_BIN to the folder holding initdb".to_owned()
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `program` from `bin`, run as `nobody` when the tests run as root.
fn command(bin: &Path, program: &str) -> Command {
    let mut command = Command::new(bin.join(program));
    // psql asks for TLS when the server offers it, and the TLS server requires it.
    command.env("LC_ALL", "C").env("PGSSLMODE", "prefer").env_remove("PGDATA").env_remove("PGHOST").env_remove("PGPORT");
    if is_root() {
        command.uid(NOBODY).gid(NOBODY).env("HOME", "/tmp");
    }
    command
}

/// A certificate authority and a server certificate signed by it (for 127.0.0.1 and localhost),
/// placed in `data` as the server reads them, and `pg_hba.conf` set to TLS connections only;
/// answers the authority's PEM file.
fn make_certificates(folder: &Path, data: &Path) -> Result<PathBuf, String> {
    let openssl = |args: &[&str]| -> Result<(), String> {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(folder)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run openssl (install it: apt-get install openssl): {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!("openssl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
        }
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=connector test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ])?;
    openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"])?;
    std::fs::write(
        folder.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| format!("cannot write the certificate's extensions: {e}"))?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ])?;
    for (from, to) in [("server.pem", "server.crt"), ("server.key", "server.key")] {
        let target = data.join(to);
        std::fs::copy(folder.join(from), &target).map_err(|e| format!("cannot place {to}: {e}"))?;
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| format!("cannot protect {to}: {e}"))?;
        if is_root() {
            std::os::unix::fs::chown(&target, Some(NOBODY), Some(NOBODY)).map_err(|e| format!("cannot give {to} to nobody: {e}"))?;
        }
    }
    let hba = data.join("pg_hba.conf");
    std::fs::write(&hba, "hostssl all all 127.0.0.1/32 trust\n").map_err(|e| format!("cannot write pg_hba.conf: {e}"))?;
    Ok(folder.join("ca.pem"))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| format!("no free loopback port for PostgreSQL: {e}"))
}

impl Postgres {
    /// Makes a cluster in a temporary folder and starts its server on a free loopback port;
    /// answers once it takes connections.
    pub fn start() -> Result<Self, String> {
        Self::start_as(false, false)
    }

    /// A server that commits durably (`fsync` and synchronous commits on, as a production
    /// server does), for measurements; the tests' servers skip the disk's flushes.
    pub fn start_durable() -> Result<Self, String> {
        Self::start_as(false, true)
    }

    /// A server that accepts only TLS connections (`hostssl` in its `pg_hba.conf`), with a
    /// certificate for 127.0.0.1 and localhost from a certificate authority made for it
    /// ([`Self::ca`]), made with the system's `openssl`.
    pub fn start_tls() -> Result<Self, String> {
        Self::start_as(true, false)
    }

    /// The PEM file of the TLS server's certificate authority.
    pub fn ca(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    fn start_as(tls: bool, durable: bool) -> Result<Self, String> {
        let bin = server_programs()?;
        let folder = tempfile::Builder::new().prefix("connector-pg-").tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
        if is_root() {
            std::os::unix::fs::chown(folder.path(), Some(NOBODY), Some(NOBODY))
                .map_err(|e| format!("cannot give {} to nobody: {e}", folder.path().display()))?;
        }
        let data = folder.path().join("data");
        let initdb = command(&bin, "initdb")
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "--no-sync", "-D"])
            .arg(&data)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.join("initdb").display()))?;
        if !initdb.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr).trim()));
        }
        let ca = if tls { Some(make_certificates(folder.path(), &data)?) } else { None };
        let port = free_port()?;
        let log = std::fs::File::create(folder.path().join("server.log")).map_err(|e| format!("cannot create the server's log: {e}"))?;
        if is_root() {
            let _ = std::os::unix::fs::chown(folder.path().join("server.log"), Some(NOBODY), Some(NOBODY));
        }
        let child = command(&bin, "postgres")
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=300"])
            // PostgreSQL's defaults are durable; the tests' servers skip the disk's flushes.
            .args(if durable { &[][..] } else { &["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"][..] })
            .args(if tls { ["-c", "ssl=on"] } else { ["-c", "ssl=off"] })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.join("postgres").display()))?;
        let mut server = Postgres { bin, port, ca, child, folder, databases: AtomicU32::new(0) };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the PostgreSQL server exited ({status}) at start: {}", self.log()));
            }
            let probe = command(&self.bin, "psql")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres", "-XAtqc", "SELECT 1"])
                .stdin(Stdio::null())
                .output();
            if matches!(&probe, Ok(output) if output.status.success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the PostgreSQL server did not take connections within 60 s: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's log, for a failure's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.folder.path().join("server.log")).unwrap_or_default().trim().to_owned()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty database; answers its URL.
    pub fn database(&self) -> String {
        let name = format!("test_{}_{}", std::process::id(), self.databases.fetch_add(1, Ordering::SeqCst));
        self.sql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// The URL of database `name`, as user `postgres` (no password: trust).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `sql` in database `name` with psql; answers what it printed (unaligned, tuples
    /// only). Panics with psql's message when it fails.
    pub fn sql(&self, name: &str, sql: &str) -> String {
        let output = command(&self.bin, "psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", name, "-v", "ON_ERROR_STOP=1", "-XAtqc", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
        assert!(output.status.success(), "psql {sql:?} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let group = self.child.id() as libc::pid_t;
        if group > 1 {
            // The server and its backends are one process group of their own: stop them all.
            // SAFETY: killpg names only the group this server was started in.
            unsafe { libc::killpg(group, libc::SIGKILL) };
        }
        let _ = self.child.wait();
    }
}
