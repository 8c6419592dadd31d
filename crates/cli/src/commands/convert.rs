//! `convert`: a snapshot into the other format (JSON into c1z, c1z into JSON). Needs no connector.

use std::path::PathBuf;

use connector_host::HostError;
use connector_host::format::SnapshotFormat;

/// `convert`'s arguments.
#[derive(clap::Args)]
#[command(
    after_help = "The input's format is read from its first bytes; the output's from --format, else its extension (.c1z, else json).\n\nExamples:\n  connector-host convert snapshot.json snapshot.c1z\n  connector-host convert sync.c1z snapshot.json"
)]
pub struct Convert {
    /// The snapshot to read: JSON or c1z (told apart by its first bytes).
    input: PathBuf,
    /// Where to write the other format.
    #[arg(required_unless_present = "out", conflicts_with = "out")]
    output: Option<PathBuf>,
    /// Where to write (instead of the second argument).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// json or c1z; by default the output's extension says.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Of a c1z input holding several sync runs, the one to read (default: the latest finished full sync).
    #[arg(long, value_name = "ID")]
    sync_id: Option<String>,
}

/// Reads a snapshot in either format and writes it in the other (or the one asked for).
pub fn run(args: Convert) -> Result<(), HostError> {
    let output = args.output.or(args.out).ok_or_else(|| HostError::usage("convert needs where to write: OUT or --out FILE"))?;
    let format = SnapshotFormat::for_path(&output, args.format.as_deref().map(SnapshotFormat::parse).transpose()?);
    let snapshot = connector_host::format::read_run(&args.input, args.sync_id.as_deref())?;
    connector_host::format::write(&snapshot, &output, format)?;
    outln!(
        "{} -> {} ({}): {} resources, {} entitlements, {} grants",
        args.input.display(),
        output.display(),
        format.extension(),
        snapshot.resources.len(),
        snapshot.entitlements.len(),
        snapshot.grants.len()
    );
    Ok(())
}
