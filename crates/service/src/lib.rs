//! Service mode (`connector-host serve`, `docs/contract.md` section 7): a long-running process that
//! keeps every tenant of a tenant file synced on its own interval, keeps their snapshots, the
//! diffs between them and an audit log of changes in SQLite ([`store`]), and serves status,
//! metrics, snapshots and changes over HTTP ([`api`]). `--shard I/N` splits a tenant file
//! between the replicas of a StatefulSet ([`shard`]).
//!
//! The service knows no connector: the command hands it a [`TenantLoader`] that loads a
//! tenant's component and resolves its settings.

pub mod api;
pub mod listener;
pub mod metrics;
pub mod service;
pub mod shard;
pub mod status;
pub mod store;
pub mod tenants;
pub mod watch;

use std::future::Future;
use std::sync::Arc;

use connector_host::HostError;

pub use service::{Service, ServiceOptions};
pub use shard::Shard;
pub use tenants::{Load, LoadFuture, Loaded, TenantLoader};

/// Shortest API token accepted: anything shorter is guessable.
pub const MIN_TOKEN_LENGTH: usize = 16;

/// Checks the API token rules: a token of at least [`MIN_TOKEN_LENGTH`] printable characters,
/// and none only when listening on loopback.
pub fn check_token(options: &ServiceOptions) -> Result<(), HostError> {
    match &options.api_token {
        Some(token) if token.len() < MIN_TOKEN_LENGTH || token.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            Err(HostError::usage(format!(
                "the API token must be at least {MIN_TOKEN_LENGTH} characters without blanks; generate one, e.g. openssl rand -hex 32"
            )))
        }
        Some(token) if token.to_ascii_lowercase().contains("replace") => Err(HostError::usage(
            "the API token is the example Secret's placeholder; generate one, e.g. openssl rand -hex 32, and put it in the Secret",
        )),
        Some(_) => Ok(()),
        None if options.listen.ip().is_loopback() => {
            tracing::warn!("no API token: /v1/ is open to every local process; set CONNECTOR_HOST_API_TOKEN or --api-token-file");
            Ok(())
        }
        None => Err(HostError::usage(format!(
            "no API token for --listen {}: set CONNECTOR_HOST_API_TOKEN or --api-token-file, or listen on loopback only",
            options.listen
        ))),
    }
}

/// Runs the service until `shutdown` resolves; `reload` yields at each request to read the
/// tenant file again. Then it stops starting syncs, lets running ones finish within the grace
/// period (abandoning the rest, writing nothing of theirs), and returns.
pub async fn serve(
    options: ServiceOptions,
    loader: Arc<dyn TenantLoader>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut reload: tokio::sync::mpsc::Receiver<()>,
) -> Result<(), HostError> {
    check_token(&options)?;
    // The state first: a second service on the same --state-dir is refused before it listens.
    let service = Service::new(options, loader).await?;
    let listener = tokio::net::TcpListener::bind(service.options.listen)
        .await
        .map_err(|e| HostError::usage(format!("cannot listen on {}: {e}; choose another --listen", service.options.listen)))?;
    tracing::info!(
        "serving {} tenant(s) of {} (shard {}) on http://{}; state in {}",
        service.tenants().len(),
        service.options.tenants_file.display(),
        service.options.shard,
        service.options.listen,
        service.store.describe()
    );
    let scheduler = tokio::spawn(Arc::clone(&service).schedule());
    let reloader = tokio::spawn({
        let service = Arc::clone(&service);
        async move {
            while reload.recv().await.is_some() {
                service.reload();
            }
        }
    });
    let heart = tokio::spawn({
        let service = Arc::clone(&service);
        async move {
            let ttl = service.options.lease_ttl;
            loop {
                if let Err(error) = service.store.heartbeat(ttl).await {
                    tracing::warn!("this replica's heartbeat was not recorded: {error}");
                }
                tokio::time::sleep(ttl / 3).await;
            }
        }
    });
    let watcher = tokio::spawn({
        let service = Arc::clone(&service);
        let path = service.options.tenants_file.clone();
        async move {
            let changed = || {
                tracing::info!("the tenant file changed on disk");
                service.reload();
            };
            watch::watch(path, changed).await;
        }
    });
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = listener::Limits { header_timeout: service.options.header_timeout, max_connections: service.options.max_connections };
    let server =
        tokio::spawn(listener::serve(listener, api::router(Arc::clone(&service)), limits, http_stopped, std::time::Duration::from_secs(5)));
    shutdown.await;
    tracing::info!("stopping: no new syncs; running ones have {:?} to finish", service.options.grace);
    service.shut_down().await;
    scheduler.abort();
    reloader.abort();
    watcher.abort();
    heart.abort();
    let _ = stop_http.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
    tracing::info!("stopped");
    Ok(())
}
