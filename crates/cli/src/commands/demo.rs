//! `demo`: the built-in fake Fivetran on loopback with a generated sample account, synced through
//! the built-in connector. Only in builds with the `demo` feature (the release image has none).

use std::path::PathBuf;

use connector_fake_fivetran::{AccountSpec, FakeFivetran, generate};
use connector_host::{HostError, TenantConfig};

use super::summary::{check_out, print_summary, sync_shown};
use crate::Global;
use crate::connectors::{Choice, Connectors};
use crate::progress_display::Mode;

/// `demo`'s flags.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  connector-host demo --out demo-snapshot.json")]
pub struct Demo {
    /// Where to write the snapshot.
    #[arg(long, value_name = "FILE", default_value = "demo-snapshot.json")]
    out: PathBuf,
}

pub async fn run(connectors: &Connectors, global: &Global, args: Demo) -> Result<(), HostError> {
    let runtime = connectors.runtime(&Choice::Builtin("fivetran"))?;
    let out = args.out.as_path();
    check_out(out)?;
    let account = generate(&AccountSpec::sample());
    let key = account.primary_key().clone();
    let fake = FakeFivetran::start(account).map_err(|e| HostError::other(format!("cannot start the fake Fivetran on loopback: {e}")))?;
    outln!("fake Fivetran with a generated sample account on {}", fake.base_url());
    let mut tenant = TenantConfig::new("demo", &fake.base_url(), connector_host::Credentials::new(key.key, key.secret));
    tenant.allow_private_network = true;
    crate::output::redactor().learn(&tenant.credentials);
    let snapshot = sync_shown(&runtime, &tenant, Mode::detect(global.quiet)).await?;
    snapshot.write_atomic(out)?;
    print_summary(&snapshot, out);
    Ok(())
}
