//! `copy-state`: a service's SQLite state (`--state-dir`) copied into PostgreSQL (`--database`),
//! audit log included, for a service that grows from one process to replicas.

use std::path::PathBuf;

use connector_host::HostError;
use connector_service::store::{PostgresStore, SqliteStore, Store, copy_state};

use crate::commands::serve::DATABASE_VARIABLE;

/// `copy-state`'s flags.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Stop the service first: the state directory's lock is taken, as serve takes it. The database must hold no state yet; its schema is made as serve makes it.\n\nExample:\n  CONNECTOR_HOST_DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB connector-host copy-state --state-dir /var/lib/connector-host"
)]
pub struct CopyState {
    /// The service's state directory (SQLite) to copy from.
    #[arg(long, value_name = "DIR")]
    state_dir: PathBuf,
    /// The PostgreSQL database to copy into (postgres://USER:PASSWORD@HOST:PORT/DB); better given
    /// in CONNECTOR_HOST_DATABASE_URL.
    #[arg(long, value_name = "URL", env = DATABASE_VARIABLE, hide_env_values = true)]
    database: String,
}

pub async fn run(args: CopyState) -> Result<(), HostError> {
    crate::commands::serve::learn_database_url(&args.database);
    if !args.state_dir.join("state.db").is_file() {
        return Err(HostError::usage(format!("--state-dir {} holds no service state (state.db)", args.state_dir.display())));
    }
    let from = SqliteStore::open(&args.state_dir, "copy-state").map_err(|e| HostError::usage(e.0))?;
    let to = PostgresStore::open(&args.database, "copy-state").await.map_err(|e| HostError::usage(e.0))?;
    let copied = copy_state(&from, &to).await.map_err(|e| HostError::other(e.0))?;
    outln!(
        "copied {} syncs, {} snapshots and {} audit entries from {} into {}",
        copied.syncs,
        copied.snapshots,
        copied.audit,
        from.describe(),
        to.describe()
    );
    Ok(())
}
