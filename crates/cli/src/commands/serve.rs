//! `connector-host serve`: the service (`connector_service`) with this command's connectors, its
//! API token from the environment or a file, and the process's signals: SIGTERM and SIGINT stop
//! it, SIGHUP reads the tenant file again.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use connector_host::HostError;
use connector_host::files::read_limited;
use connector_host::tenant::{Overrides, TenantEntry};
use connector_service::{LoadFuture, Loaded, ServiceOptions, Shard, TenantLoader};

use crate::connectors::Connectors;

/// The environment variable holding the API token.
pub const TOKEN_VARIABLE: &str = "CONNECTOR_HOST_API_TOKEN";
/// The environment variable holding the database URL (better than the flag: a command line is
/// visible to every user of the machine).
pub const DATABASE_VARIABLE: &str = "CONNECTOR_HOST_DATABASE_URL";

/// `serve`'s flags.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The tenant file: every [[tenant]] of this shard is kept synced.
    #[arg(long, value_name = "FILE", required_unless_present = "demo")]
    pub tenants: Option<PathBuf>,
    /// Serve the built-in fake Fivetran's sample account as tenant `demo` (no credentials needed).
    #[arg(long, conflicts_with = "tenants")]
    pub demo: bool,
    /// Where the HTTP API listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Where the state database lives (snapshots, sync history, audit log) when no --database is
    /// given [default: ./connector-state; with --demo, a new temporary folder].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep the state in this PostgreSQL database instead (postgres://USER:PASSWORD@HOST:PORT/DB),
    /// which replicas share; better given in CONNECTOR_HOST_DATABASE_URL.
    #[arg(long, value_name = "URL", env = DATABASE_VARIABLE, hide_env_values = true)]
    pub database: Option<String>,
    /// A PEM file of the certificate authority the database's TLS certificate is checked against
    /// (a managed database's CA bundle), besides the public ones.
    #[arg(long, value_name = "FILE", env = "CONNECTOR_HOST_DATABASE_CA")]
    pub database_ca: Option<PathBuf>,
    /// This replica's name, recorded with each sync and change it runs; unique among the
    /// replicas sharing a database. Default: the host's name and the process id.
    #[arg(long, value_name = "NAME")]
    pub replica_id: Option<String>,
    /// Seconds a replica's claim on a tenant's sync lasts unless renewed: how soon the others take
    /// over the tenants of a replica that stopped.
    #[arg(long, value_name = "S", default_value_t = 60, value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub lease_ttl_s: u64,
    /// Let the API change access (grants, revokes, accounts, resources); without it they answer 403.
    #[arg(long)]
    pub provisioning: bool,
    /// Serve only shard I of N of the tenants (I may be a pod name ending in its ordinal).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// A file holding the API's bearer token (else the CONNECTOR_HOST_API_TOKEN variable).
    #[arg(long, value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
    /// Seconds running syncs and changes may take to finish after SIGTERM before syncs are abandoned.
    #[arg(long, value_name = "S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub grace_s: u64,
    /// A host name the API answers to besides IP addresses (and localhost on loopback), e.g. the
    /// Kubernetes Service's name; repeat it for several. Requests naming another are refused (421).
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// Seconds a connection may take to send a request's head, or stay idle between requests.
    #[arg(long, value_name = "S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_s: u64,
    /// Connections served at once; more are answered 503 and closed.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_connections: u64,
    /// Tenants syncing at once.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_parallel: u64,
    /// MiB the syncs running at once may take together (each counts its tenant's max_sync_mib and
    /// memory_limit_mib); large tenants queue past it. Default: three quarters of the container's
    /// memory limit (cgroup), none without one; 0 turns it off.
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(0..=16_777_216))]
    pub memory_budget_mib: Option<u64>,
    /// Snapshots kept per tenant.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10000))]
    pub keep_snapshots: u64,
}

/// Loads tenants with the command's connectors and flags.
struct CommandLoader {
    connectors: Connectors,
    overrides: Overrides,
}

impl TenantLoader for CommandLoader {
    fn load<'a>(&'a self, entry: &'a TenantEntry) -> LoadFuture<'a> {
        Box::pin(async move {
            let (runtime, config) = self.connectors.tenant(entry, &self.overrides).await?;
            let connector = runtime.metadata().await?.name.clone();
            Ok(Loaded { runtime, config, connector })
        })
    }
}

fn token(args: &ServeArgs) -> Result<Option<String>, HostError> {
    let token = match &args.api_token_file {
        Some(path) => {
            let bytes = read_limited(path, 4096, "--api-token-file")?;
            let text =
                String::from_utf8(bytes).map_err(|_| HostError::usage(format!("--api-token-file {} is not text", path.display())))?;
            Some(text.trim().to_owned())
        }
        None => std::env::var(TOKEN_VARIABLE).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
    };
    if let Some(token) = &token {
        // The token is redacted from every line the command prints or logs.
        crate::output::redactor().learn_secret(token);
    }
    Ok(token)
}

/// `--database` (or its variable), taught to the redactor: its password, or all of it, never
/// printed.
fn database(args: &ServeArgs) -> Option<String> {
    let url = args.database.as_deref().map(str::trim).filter(|url| !url.is_empty())?.to_owned();
    learn_database_url(&url);
    Some(url)
}

/// Teaches the command's redactor a database URL and the password in it.
pub fn learn_database_url(url: &str) {
    let redactor = crate::output::redactor();
    redactor.learn_secret(url);
    if let Some(password) = connector_service::store::password_of(url) {
        redactor.learn_secret(&password);
    }
}

/// Three quarters of the memory limit of the cgroup the process runs in (a container's), in MiB:
/// the rest is the process's own. 0 when there is no limit.
fn memory_budget_from_cgroup() -> u64 {
    let limit = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .find_map(|text| text.trim().parse::<u64>().ok())
        // cgroup v1 says "no limit" with a number near u64::MAX.
        .filter(|bytes| *bytes < 1 << 50);
    match limit {
        Some(bytes) => {
            let budget = bytes / (1024 * 1024) * 3 / 4;
            tracing::info!("memory budget for syncs: {budget} MiB (three quarters of the container's limit)");
            budget.max(1)
        }
        None => 0,
    }
}

/// `--replica-id`, else the host's name (`$HOSTNAME`, which Kubernetes sets to the pod's name, or
/// the kernel's) and the process id: unique among processes even on one host.
fn replica_id(args: &ServeArgs) -> Result<String, HostError> {
    let id = match &args.replica_id {
        Some(id) => id.trim().to_owned(),
        None => {
            let host = std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
                .map(|host| host.trim().to_owned())
                .filter(|host| !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                .unwrap_or_else(|| "replica".to_owned());
            format!("{host}-{}", std::process::id())
        }
    };
    if id.is_empty() || id.len() > 253 || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(HostError::usage(format!(
            "--replica-id {id:?} is not a name: use letters, digits, '-', '_' and '.', at most 253 characters"
        )));
    }
    Ok(id)
}

/// Starts the fake Fivetran with the demo's sample account and writes a tenant file for it (and
/// its key, in files only the service's user reads) into the state folder.
#[cfg(feature = "demo")]
fn demo_tenants(state_dir: &std::path::Path) -> Result<(PathBuf, connector_fake_fivetran::FakeFivetran), HostError> {
    let account = connector_fake_fivetran::generate(&connector_fake_fivetran::AccountSpec::sample());
    let key = account.primary_key().clone();
    let fake = connector_fake_fivetran::FakeFivetran::start(account)
        .map_err(|e| HostError::other(format!("cannot start the fake Fivetran: {e}")))?;
    let folder = state_dir.join("demo");
    std::fs::create_dir_all(&folder).map_err(|e| HostError::usage(format!("cannot create {}: {e}", folder.display())))?;
    let write =
        |name: &str, text: &str| connector_host::files::write_atomic(&folder.join(name), "demo file", |w| w.write_all(text.as_bytes()));
    write("api.key", &key.key)?;
    write("api.secret", &key.secret)?;
    let tenants = folder.join("tenants.toml");
    write(
        "tenants.toml",
        &format!(
            "[[tenant]]\nid = \"demo\"\nbase_url = \"{}\"\nallow_private_network = true\nsync_interval_s = 60\napi_key_file = \"api.key\"\napi_secret_file = \"api.secret\"\n",
            fake.base_url()
        ),
    )?;
    Ok((tenants, fake))
}

/// The state folder: the one given, else the demo's own temporary folder (so that a demo leaves
/// nothing in the working folder and two demos share nothing), else `./connector-state`.
fn state_dir(args: &ServeArgs) -> Result<PathBuf, HostError> {
    if let Some(dir) = &args.state_dir {
        return Ok(dir.clone());
    }
    if !args.demo {
        return Ok(PathBuf::from("./connector-state"));
    }
    let dir = std::env::temp_dir().join(format!("connector-host-demo-{}", std::process::id()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .recursive(true)
        .create(&dir)
        .map_err(|e| HostError::usage(format!("cannot create the demo's state folder {}: {e}", dir.display())))?;
    Ok(dir)
}

/// Refuses an address another process listens on, before anything is written: a second
/// `serve --demo` would otherwise start its fake and write its files, then fail.
fn check_listen(listen: SocketAddr) -> Result<(), HostError> {
    match std::net::TcpListener::bind(listen) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(HostError::usage(format!(
            "--listen {listen} is in use (another connector-host serve?): stop it, or choose another address with --listen"
        ))),
        Err(_) => Ok(()),
    }
}

pub async fn serve(args: ServeArgs, connectors: Connectors, overrides: Overrides) -> Result<(), HostError> {
    check_listen(args.listen)?;
    let state_dir = state_dir(&args)?;
    #[cfg(not(feature = "demo"))]
    let (tenants_file, _demo_fake) = match &args.tenants {
        Some(path) => (path.clone(), None::<()>),
        None => return Err(HostError::usage("this connector-host was built without the demo (cargo feature demo): give --tenants FILE")),
    };
    #[cfg(feature = "demo")]
    let (tenants_file, _demo_fake) = match &args.tenants {
        Some(path) => (path.clone(), None),
        None => {
            let (path, fake) = demo_tenants(&state_dir)?;
            crate::output::out(
                format!(
                    "demo: the fake Fivetran serves a sample account on {}; tenant file {}\ndemo: the API is on http://{}/v1/tenants/demo\n",
                    fake.base_url(),
                    path.display(),
                    args.listen
                )
                .as_bytes(),
            );
            (path, Some(fake))
        }
    };
    let shard = match &args.shard {
        Some(text) => Shard::parse(text).map_err(HostError::usage)?,
        None => Shard::ALL,
    };
    let options = ServiceOptions {
        tenants_file,
        listen: args.listen,
        state_dir: state_dir.clone(),
        database: database(&args),
        database_ca: args.database_ca.clone(),
        replica_id: replica_id(&args)?,
        lease_ttl: Duration::from_secs(args.lease_ttl_s),
        provisioning: args.provisioning,
        shard,
        api_token: token(&args)?,
        grace: Duration::from_secs(args.grace_s),
        max_parallel: args.max_parallel as usize,
        memory_budget_mib: args.memory_budget_mib.unwrap_or_else(memory_budget_from_cgroup),
        keep_snapshots: args.keep_snapshots as usize,
        allowed_hosts: args.allowed_hosts.clone(),
        header_timeout: Duration::from_secs(args.header_timeout_s),
        max_connections: args.max_connections as usize,
    };
    let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(4);
    #[cfg(unix)]
    tokio::spawn(async move {
        if let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            while hangups.recv().await.is_some() {
                let _ = reload_tx.try_send(());
            }
        }
    });
    #[cfg(not(unix))]
    drop(reload_tx);
    let loader = Arc::new(CommandLoader { connectors, overrides });
    let served = connector_service::serve(options, loader, stop_signal(), reload_rx).await;
    if args.demo && args.state_dir.is_none() {
        // The demo's temporary state goes with it.
        let _ = std::fs::remove_dir_all(&state_dir);
    }
    served
}

/// SIGTERM or SIGINT.
async fn stop_signal() {
    #[cfg(unix)]
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminated = std::future::pending::<()>();
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = interrupted => {}
        () = terminated => {}
    }
}
