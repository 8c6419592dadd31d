//! How a failed call into the connector becomes a [`HostError`]: the exit status, and one line that
//! says what failed and what to do.

use crate::CallError;
use crate::bindings::latest::types::ConnectorError;
use crate::error::HostError;
use crate::tenant::TenantConfig;

/// `retried`: how many attempts were made before giving up (1 when not retried).
pub fn call_failure(tenant: &TenantConfig, error: CallError, retried: u32) -> HostError {
    let again = if retried > 1 { format!(" (gave up after {retried} attempts)") } else { String::new() };
    let error = match error {
        CallError::Connector(error) => match error {
            ConnectorError::Unauthorized(m) => {
                HostError::credentials(format!("the API rejected the credentials: {m}; check them ({})", tenant.credentials_hint))
            }
            ConnectorError::Forbidden(m) => {
                HostError::credentials(format!("the API key is not allowed to do this: {m}; use a key with the scopes the connector needs"))
            }
            ConnectorError::RateLimited(limit) => {
                HostError::api(format!("{}{again}; the account's API rate limit is exhausted, run again later", limit.message))
            }
            ConnectorError::Upstream(upstream) if upstream.code.as_deref() == Some("Unverified") => HostError::api(format!(
                "{}; the change was not confirmed: sync to see what the service holds before changing it again",
                upstream.message
            )),
            ConnectorError::Upstream(upstream) => match upstream.status {
                Some(status) if (200..300).contains(&status) => HostError::api(format!(
                    "{}; the API answered something the connector cannot read: report it with the endpoint named",
                    upstream.message
                )),
                _ => HostError::api(format!("{}{again}; check the API's status and run again", upstream.message)),
            },
            ConnectorError::NotFound(m) => HostError::not_found(m),
            ConnectorError::InvalidArgument(m) => HostError::invalid_argument(m),
            ConnectorError::Conflict(m) => HostError::conflict(format!("conflict: {m}")),
            ConnectorError::Unsupported(m) => HostError::usage(format!("not supported: {m}")),
            ConnectorError::Internal(m) => HostError::other(format!("the connector failed: {m}")),
        },
        CallError::Denied(refusal) | CallError::Limit(refusal) => HostError::from(refusal),
        CallError::Api(why) => HostError::api(why),
        CallError::TimedOut(limit) => HostError::sandbox(format!(
            "a call into the connector ran longer than {}s and was stopped; check the API's responsiveness",
            limit.as_secs()
        )),
        CallError::Trap(trap) => trap_failure(&trap),
    };
    redact(tenant, error)
}

fn trap_failure(trap: &str) -> HostError {
    let first_line = trap.lines().next().unwrap_or("trap");
    HostError::other(format!("the connector crashed: {first_line}; this is a connector bug, report it"))
}

/// No secret leaves through an error, whatever the API or the connector put in it.
pub fn redact(tenant: &TenantConfig, error: HostError) -> HostError {
    error.map_message(|m| tenant.credentials.redact(m))
}
