//! The connector's stdout and stderr: captured for the host's log, tagged with the tenant, and
//! capped. Past the cap, writes still succeed (so a chatty connector keeps working) but are dropped
//! and counted.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Bytes of each stream a run may log.
pub(crate) const MAX_OUTPUT: usize = 64 * 1024;

/// A stream's last lines kept for an error message: a Rust panic writes where, then what.
pub(crate) const LAST_LINES: usize = 2;
/// Characters of them kept.
pub(crate) const LAST_LINE_CHARS: usize = 300;

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

    /// Logs the lines written since the last drain, and returns the last [`LAST_LINES`] of them
    /// joined (redacted, cut to [`LAST_LINE_CHARS`]; Rust's hint to set `RUST_BACKTRACE` left
    /// out, as a connector has no environment). Runs after every call, and nearly always finds
    /// nothing: then it returns before redacting.
    pub fn drain_to_log(&self, tenant: &str, redact: impl Fn(&str) -> String) -> Option<String> {
        let (text, dropped) = {
            let mut captured = self.captured.lock().unwrap_or_else(|p| p.into_inner());
            if captured.pending.is_empty() && captured.dropped == 0 {
                return None;
            }
            let text = String::from_utf8_lossy(&captured.pending).into_owned();
            captured.pending.clear();
            (text, std::mem::take(&mut captured.dropped))
        };
        let text = redact(&text);
        let mut last = std::collections::VecDeque::with_capacity(LAST_LINES);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let shown = crate::text::escape_controls(line);
            tracing::info!(target: "connector_host::connector", tenant, stream = self.name, "{shown}");
            if !line.starts_with("note: run with `RUST_BACKTRACE=1`") {
                if last.len() == LAST_LINES {
                    last.pop_front();
                }
                last.push_back(line.trim());
            }
        }
        if dropped > 0 {
            tracing::warn!(target: "connector_host::connector", tenant, "dropped {dropped} bytes of the connector's {}: past its {MAX_OUTPUT}-byte limit", self.name);
        }
        (!last.is_empty()).then(|| Vec::from(last).join(" / ").chars().take(LAST_LINE_CHARS).collect())
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
