//! The plugin's stdout and stderr: captured for the host's log, tagged with the tenant, and
//! capped. Past the cap, writes still succeed (so a chatty plugin keeps working) but are dropped
//! and counted.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Bytes of each stream a run may log.
pub(crate) const MAX_OUTPUT: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Captured {
    pending: Vec<u8>,
    kept: usize,
    dropped: u64,
}

/// One captured stream; clones share the buffer.
#[derive(Debug, Clone)]
pub(crate) struct CappedOutput {
    name: &'static str,
    captured: Arc<Mutex<Captured>>,
}

impl CappedOutput {
    pub fn new(name: &'static str) -> Self {
        Self { name, captured: Arc::default() }
    }

    /// Logs the lines written since the last drain. Runs after every call, and nearly always
    /// finds nothing: then it returns before redacting.
    pub fn drain_to_log(&self, tenant: &str, redact: impl Fn(&str) -> String) {
        let (text, dropped) = {
            let mut captured = self.captured.lock().unwrap_or_else(|p| p.into_inner());
            if captured.pending.is_empty() && captured.dropped == 0 {
                return;
            }
            let text = String::from_utf8_lossy(&captured.pending).into_owned();
            captured.pending.clear();
            (text, std::mem::take(&mut captured.dropped))
        };
        for line in redact(&text).lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!(target: "connector_host::plugin", tenant, stream = self.name, "{line}");
        }
        if dropped > 0 {
            tracing::warn!(target: "connector_host::plugin", tenant, "dropped {dropped} bytes of the plugin's {}: past its {MAX_OUTPUT}-byte limit", self.name);
        }
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CappedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut captured = self.captured.lock().unwrap_or_else(|p| p.into_inner());
        let room = MAX_OUTPUT.saturating_sub(captured.kept);
        let kept = buf.len().min(room);
        captured.pending.extend_from_slice(&buf[..kept]);
        captured.kept += kept;
        captured.dropped += (buf.len() - kept) as u64;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
