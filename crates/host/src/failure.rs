//! How a failed call into the plugin becomes a [`HostError`]: the exit status, and one line that
//! says what failed and what to do.

use crate::bindings::latest::types::ConnectorError;
use crate::error::HostError;
use crate::runtime::CallError;
use crate::tenant::TenantConfig;

/// `retried`: how many attempts were made before giving up (1 when not retried).
pub fn call_failure(tenant: &TenantConfig, error: CallError, retried: u32) -> HostError {
    let again = if retried > 1 { format!(" (gave up after {retried} attempts)") } else { String::new() };
    let error = match error {
        CallError::Connector(error) => match error {
            ConnectorError::Unauthorized(m) => {
                HostError::Credentials(format!("the API rejected the credentials: {m}; check them ({})", tenant.credentials_hint))
            }
            ConnectorError::Forbidden(m) => {
                HostError::Credentials(format!("the API key is not allowed to do this: {m}; use a key with the scopes the connector needs"))
            }
            ConnectorError::RateLimited(limit) => {
                HostError::Api(format!("{}{again}; the account's API rate limit is exhausted, run again later", limit.message))
            }
            ConnectorError::Upstream(upstream) => match upstream.status {
                Some(status) if (200..300).contains(&status) => HostError::Api(format!(
                    "{}; the API answered something the connector cannot read: report it with the endpoint named",
                    upstream.message
                )),
                _ => HostError::Api(format!("{}{again}; check the API's status and run again", upstream.message)),
            },
            ConnectorError::NotFound(m) => HostError::Api(m),
            ConnectorError::InvalidArgument(m) => HostError::InvalidArgument(m),
            ConnectorError::Conflict(m) => HostError::Other(format!("conflict: {m}")),
            ConnectorError::Unsupported(m) => HostError::Other(format!("not supported: {m}")),
            ConnectorError::Internal(m) => HostError::Other(format!("the connector failed: {m}")),
        },
        CallError::Denied(why) => HostError::Sandbox(why),
        CallError::Api(why) => HostError::Api(why),
        CallError::Limit(why) => HostError::Sandbox(why),
        CallError::TimedOut(limit) => HostError::Sandbox(format!(
            "a call into the plugin ran longer than {}s and was stopped; check the API's responsiveness",
            limit.as_secs()
        )),
        CallError::Trap(trap) => trap_failure(&trap),
    };
    redact(tenant, error)
}

fn trap_failure(trap: &str) -> HostError {
    let first_line = trap.lines().next().unwrap_or("trap");
    HostError::Other(format!("the plugin crashed: {first_line}; this is a connector bug, report it"))
}

/// No secret leaves through an error, whatever the API or the plugin put in it.
pub fn redact(tenant: &TenantConfig, error: HostError) -> HostError {
    let clean = |m: &str| tenant.credentials.redact(m);
    match error {
        HostError::Usage(m) => HostError::Usage(clean(&m)),
        HostError::Credentials(m) => HostError::Credentials(clean(&m)),
        HostError::Api(m) => HostError::Api(clean(&m)),
        HostError::Sandbox(m) => HostError::Sandbox(clean(&m)),
        HostError::InvalidArgument(m) => HostError::InvalidArgument(clean(&m)),
        HostError::Other(m) => HostError::Other(clean(&m)),
    }
}
