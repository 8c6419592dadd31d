//! `sync-all`: every tenant of a tenant file at once, each in its own sandbox, one line each.

use std::path::{Path, PathBuf};

use connector_host::HostError;
use connector_host::format::SnapshotFormat;
use connector_host::sync_all::{TenantRun, sync_all_as};
use connector_host::tenant::read_tenant_file;

use crate::Global;
use crate::connectors::Connectors;
use crate::errors::{exit_status, worded, worst};
use crate::progress_display::{Display, Mode};

/// `sync-all`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Prints one line per tenant; exits 0 when every tenant succeeded, else with the highest exit status among them.\n\nExample:\n  connector-host sync-all --tenants tenants.toml --out-dir snapshots/"
)]
pub struct SyncAll {
    /// A tenant file with one [[tenant]] table per tenant.
    #[arg(long, value_name = "FILE")]
    tenants: PathBuf,
    /// Where to write the snapshots; created when missing.
    #[arg(long, value_name = "DIR")]
    out_dir: PathBuf,
    /// json (DIR/<id>.json, the default) or c1z (DIR/<id>.c1z).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

pub async fn run(connectors: &Connectors, global: &Global, args: SyncAll) -> Result<(), HostError> {
    let format = args.format.as_deref().map(SnapshotFormat::parse).transpose()?.unwrap_or(SnapshotFormat::Json);
    let (file, out_dir): (&Path, &Path) = (&args.tenants, &args.out_dir);
    let entries = read_tenant_file(file)?;
    std::fs::create_dir_all(out_dir).map_err(|e| HostError::usage(format!("cannot create --out-dir {}: {e}", out_dir.display())))?;
    for entry in &entries {
        connector_host::files::check_writable(&out_dir.join(format!("{}.{}", entry.id, format.extension())), "--out-dir")?;
    }
    let overrides = global.overrides();
    let mut runs = Vec::with_capacity(entries.len());
    for entry in &entries {
        // A tenant whose connector cannot be loaded, or whose credentials are missing, fails alone.
        let run = match connectors.tenant(entry, &overrides).await {
            Ok((runtime, tenant)) => TenantRun::new(entry.id.clone(), runtime, Ok(tenant)),
            Err(error) => TenantRun::failed(entry.id.clone(), error),
        };
        runs.push(run);
    }
    let shown = runs.iter().map(|run| (run.id.clone(), run.progress.clone())).collect();
    let display = Display::start(Mode::detect(global.quiet), shown);
    let outcomes = sync_all_as(runs, out_dir, format).await;
    drop(display);
    let width = outcomes.iter().map(|o| o.id.len()).max().unwrap_or(0);
    for outcome in &outcomes {
        let seconds = outcome.duration.as_secs_f64();
        match &outcome.result {
            Ok(s) => outln!(
                "{:<width$}  ok         {} resources, {} grants, {} requests in {seconds:.1}s -> {}",
                outcome.id,
                s.resources,
                s.grants,
                s.requests,
                s.path.display()
            ),
            Err(error) => outln!("{:<width$}  failed ({})  {}", outcome.id, exit_status(error), worded(error)),
        }
    }
    match worst(outcomes.iter().filter_map(|o| o.result.as_ref().err())) {
        None => Ok(()),
        Some(error) => {
            let kind = error.kind();
            let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
            Err(HostError::new(kind, format!("{failed} of {} tenants failed; see the lines above", outcomes.len())))
        }
    }
}
