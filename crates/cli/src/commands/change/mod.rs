//! The commands that change accounts or access: each parses its flags into a
//! [`Change`](connector_host::change::Change), which one path checks, runs and prints as what the
//! service holds afterwards.

pub mod create_resource;
pub mod delete_resource;
pub mod deprovision;
pub mod disable_account;
pub mod enable_account;
pub mod grant;
pub mod provision;
pub mod revoke;
pub mod update_account;
pub mod update_resource;

use connector_host::change::Change;
use connector_host::{HostError, operations};

use super::{print_json, tenant};
use crate::Global;
use crate::connectors::Connectors;

/// Checks `change` before the tenant's credentials are read (a wrong principal needs none), then
/// runs it and prints its outcome.
pub async fn run(connectors: &Connectors, global: &Global, change: Change) -> Result<(), HostError> {
    change.check()?;
    let (runtime, tenant) = tenant(connectors, global).await?;
    print_json(&operations::to_json(&operations::apply(&runtime, &tenant, &change).await?));
    Ok(())
}
