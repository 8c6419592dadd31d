//! `sync`: the whole account into a snapshot file, written atomically.

use std::path::PathBuf;

use connector_host::HostError;
use connector_host::format::SnapshotFormat;

use super::summary::{check_out, print_summary, summary_json, sync_shown};
use super::tenant;
use crate::Global;
use crate::connectors::Connectors;
use crate::progress_display::Mode;

/// `sync`'s flags.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  connector-host sync --out snapshot.json\n  connector-host sync --out snapshot.c1z --json")]
pub struct Sync {
    /// Where to write the snapshot (FILE.c1z writes baton's c1z format).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// json or c1z; by default the file's extension says (.c1z, else json).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Print the summary as JSON for scripts: {"tenant", "connector", "out", "resources", "entitlements", "grants", "requests", "duration_ms"}.
    #[arg(long)]
    json: bool,
}

pub async fn run(connectors: &Connectors, global: &Global, args: Sync) -> Result<(), HostError> {
    let format = SnapshotFormat::for_path(&args.out, args.format.as_deref().map(SnapshotFormat::parse).transpose()?);
    let (runtime, tenant) = tenant(connectors, global).await?;
    check_out(&args.out)?;
    let snapshot = sync_shown(&runtime, &tenant, Mode::detect(global.quiet)).await?;
    connector_host::format::write(&snapshot, &args.out, format)?;
    if args.json {
        super::print_json(&summary_json(&snapshot, &args.out));
    } else {
        print_summary(&snapshot, &args.out);
    }
    Ok(())
}
