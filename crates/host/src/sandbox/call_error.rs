//! Why a call into a connector returned no value, and how a failed call is worded: sandbox limits
//! named from wasmtime's trap texts, a trap in one line, every text redacted and cut.

use std::time::Duration;

use crate::bindings::latest::types::{ConnectorError, RateLimit, UpstreamError};
use crate::error::Refusal;
use crate::state::MAX_HANDLES;

/// Why a call into the connector did not return a value.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The connector answered with an error.
    Connector(ConnectorError),
    /// The egress policy refused a request the call made.
    Denied(Refusal),
    /// The connector trapped: a bug, or a sandbox limit.
    Trap(String),
    /// The call ran past the per-call time limit.
    TimedOut(Duration),
    /// The connector hit a sandbox limit (CPU time, returned size).
    Limit(Refusal),
    /// The API answered in a way no retry mends, as the host saw it: an answer that did not
    /// complete in the call's time, a rate limit no call can wait for.
    Api(String),
}

impl CallError {
    /// What went wrong, in words, for a message that has no tenant to word it for.
    pub fn text(&self) -> String {
        match self {
            CallError::Connector(error) => format!("the connector answered {error:?}"),
            CallError::Denied(refusal) | CallError::Limit(refusal) => refusal.message.clone(),
            CallError::Trap(trap) => format!("it crashed: {trap}"),
            CallError::TimedOut(limit) => format!("it ran longer than {} s", limit.as_secs()),
            CallError::Api(why) => why.clone(),
        }
    }
}

/// The sandbox limit a trap's text says wasmtime enforced, in words, if it is one. Their
/// error types are private; the sandbox tests fail if the wording changes.
pub(super) fn limit_hit(method: &'static str, trap: &str, max_return_bytes: usize) -> Option<String> {
    let call = wit_name(method);
    if trap.contains("fuel allocated for hostcalls has been exhausted") {
        Some(format!(
            "return size limit: {call} handed the host more than {} at once (its answer, or a message it logged), and was stopped before the host copied it; the connector misbehaves or pages too large",
            bytes(max_return_bytes)
        ))
    } else if trap.contains("store handle limit exceeded") {
        Some(format!(
            "handle limit: {call} held more than {MAX_HANDLES} host resources at once (requests, header maps, bodies, streams) and was stopped; the connector leaks them"
        ))
    } else if trap.contains("requested len") && trap.contains("exceeds limit") {
        Some(format!(
            "random bytes limit: {call} asked the host for more than {} of random bytes at once and was stopped; the connector misbehaves",
            bytes(crate::state::MAX_RANDOM_BYTES as usize)
        ))
    } else if trap.contains("total size of fields exceeds limit") {
        Some(format!(
            "header size limit: {call} built request headers of more than {} and was stopped; the connector misbehaves",
            bytes(crate::http::FIELD_SIZE_LIMIT)
        ))
    } else {
        None
    }
}

/// A trap in one line: what stopped the connector (wasmtime's first line is only "error while
/// executing at wasm backtrace:"), and the last lines it wrote to stderr, where a Rust connector's
/// panic is.
pub(super) fn trap_text(trap: &wasmtime::Error, last_words: Option<&str>) -> String {
    let cause = trap.root_cause().to_string();
    let cause = cause.lines().next().unwrap_or("trap");
    match last_words {
        Some(words) => format!("{cause}; its last words on stderr: {words}"),
        None => cause.to_owned(),
    }
}

/// The most characters of a message a connector returns that an error quotes. Cut only after
/// redaction: a cut through an echoed credential would leave a part no redaction recognises.
pub(super) const MAX_MESSAGE_CHARS: usize = 1000;

pub(super) fn shorten(text: String, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// The WIT name of a bindings method, `call_list_resources` -> `list-resources`, for errors.
fn wit_name(method: &'static str) -> String {
    method.trim_start_matches("call_").replace('_', "-")
}

/// `n` bytes for a person: whole MiB and KiB as such.
fn bytes(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    if n > 0 && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n > 0 && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// `error` with `clean` applied to every text it carries.
pub(super) fn redact_connector_error(error: ConnectorError, clean: impl Fn(String) -> String) -> ConnectorError {
    match error {
        ConnectorError::Unauthorized(m) => ConnectorError::Unauthorized(clean(m)),
        ConnectorError::Forbidden(m) => ConnectorError::Forbidden(clean(m)),
        ConnectorError::NotFound(m) => ConnectorError::NotFound(clean(m)),
        ConnectorError::RateLimited(limit) => ConnectorError::RateLimited(RateLimit { message: clean(limit.message), ..limit }),
        ConnectorError::InvalidArgument(m) => ConnectorError::InvalidArgument(clean(m)),
        ConnectorError::Conflict(m) => ConnectorError::Conflict(clean(m)),
        ConnectorError::Upstream(upstream) => {
            ConnectorError::Upstream(UpstreamError { code: upstream.code.map(&clean), message: clean(upstream.message), ..upstream })
        }
        ConnectorError::Unsupported(m) => ConnectorError::Unsupported(clean(m)),
        ConnectorError::Internal(m) => ConnectorError::Internal(clean(m)),
    }
}
