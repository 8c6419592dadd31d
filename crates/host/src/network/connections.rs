//! A run's idle connections, reused by all its workers: against a real API each new connection
//! costs a TCP and a TLS handshake, more than the request itself. A connection is reused only for
//! the same scheme, host and port, and only if the address it was opened to is among those the
//! egress policy has just checked for this request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;
use wasmtime_wasi_http::WasiBody;

use crate::egress::Origin;

/// How long an idle connection is kept: under the minute or more that API servers keep them.
const IDLE_FOR: Duration = Duration::from_secs(20);
/// Idle connections a run keeps at most: one per worker is enough.
const MAX_IDLE: usize = 64;

/// A run's idle connections, reused by all its workers.
#[derive(Default)]
pub(crate) struct ConnectionPool {
    idle: Mutex<Vec<IdleConnection>>,
}

struct IdleConnection {
    https: bool,
    host: String,
    address: SocketAddr,
    sender: SendRequest<WasiBody>,
    since: Instant,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map(|idle| idle.len()).unwrap_or(0);
        f.debug_struct("ConnectionPool").field("idle", &idle).finish()
    }
}

impl ConnectionPool {
    /// An open idle connection to `origin` at one of the checked `addresses`, if there is one.
    pub(crate) fn take(&self, origin: &Origin, addresses: &[IpAddr]) -> Option<(SendRequest<WasiBody>, SocketAddr)> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|c| c.since.elapsed() < IDLE_FOR && !c.sender.is_closed());
        let index = idle.iter().rposition(|c| {
            c.https == origin.is_https() && c.host == origin.host && c.address.port() == origin.port && addresses.contains(&c.address.ip())
        })?;
        let connection = idle.swap_remove(index);
        Some((connection.sender, connection.address))
    }

    pub(crate) fn put(&self, origin: &Origin, address: SocketAddr, sender: SendRequest<WasiBody>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(IdleConnection { https: origin.is_https(), host: origin.host.clone(), address, sender, since: Instant::now() });
        }
    }
}
