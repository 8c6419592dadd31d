//! `diff`: what changed between two snapshots, in either format. Needs no connector.

use std::path::PathBuf;

use connector_host::HostError;
use connector_host::diff::SnapshotDiff;

use super::print_json;

/// `diff`'s arguments.
#[derive(clap::Args)]
#[command(
    after_help = "Either file may be JSON or c1z. Exits 0 whether or not anything changed; 2 when a file is not a snapshot.\n\nExamples:\n  connector-host diff monday.json tuesday.json\n  connector-host diff monday.json tuesday.c1z --json"
)]
pub struct Diff {
    /// The earlier snapshot (JSON or c1z).
    old: PathBuf,
    /// The later snapshot (JSON or c1z).
    new: PathBuf,
    /// Print {"resources": {"added", "removed", "changed"}, "grants": {"added", "removed"}}.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Diff) -> Result<(), HostError> {
    let diff = SnapshotDiff::between(&connector_host::format::read(&args.old)?, &connector_host::format::read(&args.new)?);
    if args.json {
        print_json(&diff.to_json());
    } else {
        crate::output::out(diff.to_text().as_bytes());
    }
    Ok(())
}
