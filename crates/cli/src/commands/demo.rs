//! `demo`: the built-in fake Fivetran on loopback with a generated sample account, synced through
//! the built-in connector. Only in builds with the `demo` feature (the release image has none).

use std::path::PathBuf;

use connector_fake_fivetran::{AccountSpec, FakeFivetran, generate};
use connector_host::{HostError, TenantConfig};

use super::summary::{check_out, print_summary, summary_json, sync_shown};
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
    /// Print the summary as JSON for scripts (as sync --json does).
    #[arg(long)]
    json: bool,
}

pub async fn run(connectors: &Connectors, global: &Global, args: Demo) -> Result<(), HostError> {
    let runtime = connectors.runtime(&Choice::Builtin("fivetran"))?;
    let out = args.out.as_path();
    check_out(out)?;
    let account = generate(&AccountSpec::sample());
    let key = account.primary_key().clone();
    let fake = FakeFivetran::start(account).map_err(|e| HostError::other(format!("cannot start the fake Fivetran on loopback: {e}")))?;
    if !args.json {
        outln!("fake Fivetran with a generated sample account on {}", fake.base_url());
    }
    let mut tenant = TenantConfig::new("demo", &fake.base_url(), connector_host::Credentials::new(key.key, key.secret));
    tenant.allow_private_network = true;
    crate::output::redactor().learn(&tenant.credentials);
    let snapshot = sync_shown(&runtime, &tenant, Mode::detect(global.quiet)).await?;
    snapshot.write_atomic(out)?;
    if args.json {
        super::print_json(&summary_json(&snapshot, out));
        return Ok(());
    }
    print_summary(&snapshot, out);
    // What to try next, with an id of this account: a user who reaches something through a team.
    let user = snapshot
        .grants
        .iter()
        .find(|g| g.principal.resource_type == "user" && g.entitlement.starts_with("team:"))
        .map_or("ID", |g| g.principal.id.as_str());
    let file = out.display();
    let next = [
        (format!("connector-host access {file} --principal user:{user}"), "what they can reach, and how"),
        (format!("connector-host convert {file} demo.c1z"), "the same as baton's c1z"),
        ("connector-host serve --demo".to_owned(), "the service and its API on this account"),
    ];
    let width = next.iter().map(|(command, _)| command.len()).max().unwrap_or(0);
    outln!("next:");
    for (command, what) in next {
        outln!("  {command:width$}  # {what}");
    }
    Ok(())
}
