//! Shared pieces of the end-to-end tests: the component compiled once per test binary, a fake
//! with a generated account, and tenants pointed at it.

pub mod openapi;
pub mod peers;

use std::sync::OnceLock;
use std::time::Duration;

use connector_fake_fivetran::{Account, AccountSpec, FakeFivetran, generate};
use connector_host::retry::RetryPolicy;
use connector_host::{ConnectorRuntime, Credentials, TenantConfig};

/// The Fivetran connector, compiled once for the whole test binary.
pub fn runtime() -> &'static ConnectorRuntime {
    static RUNTIME: OnceLock<ConnectorRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let engine = ConnectorRuntime::engine().expect("engine");
        ConnectorRuntime::new(&engine, connector_builtin::fivetran()).expect("the built plugin loads")
    })
}

/// The SCIM connector, compiled once for the whole test binary (on the Fivetran one's engine).
pub fn scim_runtime() -> &'static ConnectorRuntime {
    static RUNTIME: OnceLock<ConnectorRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| ConnectorRuntime::new(runtime().engine_ref(), connector_builtin::scim()).expect("the SCIM plugin loads"))
}

/// The bearer token the SCIM fakes of the tests accept.
pub const SCIM_TOKEN: &str = "scim-test-token-5f2a9c";

/// A fake SCIM service serving `directory`.
pub fn start_scim(directory: connector_fake_scim::Directory) -> connector_fake_scim::FakeScim {
    connector_fake_scim::FakeScim::start(directory, SCIM_TOKEN).expect("fake SCIM starts")
}

/// A tenant syncing from a fake SCIM service with its token, retrying quickly.
pub fn scim_tenant(fake: &connector_fake_scim::FakeScim) -> TenantConfig {
    let mut tenant = TenantConfig::new("scim-test", &fake.base_url(), Credentials::bearer(SCIM_TOKEN));
    tenant.allow_private_network = true;
    tenant.retry = RetryPolicy { base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50), ..RetryPolicy::default() };
    tenant
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

/// What the host logs while a test runs, as text: a `tracing` subscriber for the current thread
/// that writes into memory. Dropping it stops the capture.
pub struct LogCapture {
    text: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl LogCapture {
    /// Captures events at `level` and above.
    pub fn start(level: tracing::Level) -> Self {
        let text = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Sink(std::sync::Arc::clone(&text));
        let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).with_max_level(level).finish();
        Self { text, _guard: tracing::subscriber::set_default(subscriber) }
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

#[derive(Clone)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The exit status `docs/contract.md` section 3 gives a failure of this kind: the oracle these
/// tests hold the library's kinds to. The command line's own table (`crates/cli/src/errors.rs`)
/// is checked against the same contract through the binary (`crates/cli/tests`).
pub fn exit_status(error: &connector_host::HostError) -> i32 {
    use connector_host::ErrorKind;
    match error.kind() {
        ErrorKind::Usage | ErrorKind::InvalidArgument | ErrorKind::NotFound => 2,
        ErrorKind::Credentials => 3,
        ErrorKind::Api => 4,
        ErrorKind::Sandbox => 5,
        _ => 1,
    }
}
