//! One call into a connector, run as validation and changes run it: in a session of its own, with
//! the tenant's retry policy, a failure turned into a `HostError`.

/// Opens a session and runs `$call` (an expression using `session`) in it with the tenant's
/// retry policy. Calls given the same `$meter` are one run: their requests are counted together
/// and reuse each other's connections, while each still gets an instance of its own (a trap in
/// one leaves the others' instances whole).
macro_rules! run {
    ($runtime:expr, $tenant:expr, $meter:expr, |$session:ident| $call:expr) => {{
        let _retries;
        run!($runtime, $tenant, $meter, |$session| $call, retries: _retries)
    }};
    // `$retries` is set to the retries the call took (after 5xx answers or lost connections).
    ($runtime:expr, $tenant:expr, $meter:expr, |$session:ident| $call:expr, retries: $retries:ident) => {{
        let tenant: &$crate::tenant::TenantConfig = $tenant;
        let mut $session = $runtime.open(tenant, std::sync::Arc::clone($meter)).await?;
        let mut stats = $crate::retry::RetryStats::default();
        let mut retrier = $crate::retry::Retrier::new(&tenant.retry, &tenant.id, &mut stats);
        let result = $crate::retry::retrying!(retrier, $call);
        if stats.retries > 0 {
            tracing::info!(tenant = %tenant.id, "done after {} retried attempt(s); each read the state before changing it", stats.retries);
        }
        $retries = stats.retries;
        result.map_err(|(error, attempts): ($crate::CallError, u32)| $crate::failure::call_failure(tenant, error, attempts))
    }};
}
pub(crate) use run;
