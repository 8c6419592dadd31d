//! Shared pieces of the end-to-end tests: the component compiled once per test binary, a fake
//! with a generated account, and tenants pointed at it.

use std::sync::OnceLock;
use std::time::Duration;

use connector_host::retry::RetryPolicy;
use connector_host::{ConnectorRuntime, Credentials, TenantConfig};
use fivetran_fake::{Account, AccountSpec, FakeFivetran, generate};

/// The Fivetran plugin, compiled once for the whole test binary.
pub fn runtime() -> &'static ConnectorRuntime {
    static RUNTIME: OnceLock<ConnectorRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let engine = ConnectorRuntime::engine().expect("engine");
        ConnectorRuntime::new(&engine, connector_host::FIVETRAN_PLUGIN).expect("the built plugin loads")
    })
}

/// The hostile component (`tests/hostile`), compiled once for the whole test binary.
pub fn hostile_runtime() -> &'static ConnectorRuntime {
    static RUNTIME: OnceLock<ConnectorRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let bytes = std::fs::read(env!("HOSTILE_COMPONENT_WASM")).expect("the hostile component was built");
        ConnectorRuntime::new(runtime().engine_ref(), &bytes).expect("it loads")
    })
}

/// A fake serving a generated account.
pub fn start(spec: &AccountSpec) -> (FakeFivetran, Account) {
    let account = generate(spec);
    let fake = FakeFivetran::start(account.clone()).expect("fake starts");
    (fake, account)
}

/// A tenant syncing from `fake` with the account's first key, retrying quickly.
pub fn tenant(fake: &FakeFivetran, account: &Account) -> TenantConfig {
    let key = account.primary_key();
    let mut tenant = TenantConfig::new("test", &fake.base_url(), Credentials::new(&key.key, &key.secret));
    tenant.allow_private_network = true;
    tenant.retry = RetryPolicy { base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50), ..RetryPolicy::default() };
    tenant
}
