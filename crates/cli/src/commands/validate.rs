//! `validate`: the account behind the credentials, the kind of key, and what it can read.

use connector_host::{ErrorKind, HostError, operations};

use super::tenant;
use crate::Global;
use crate::connectors::Connectors;
use crate::errors::worded;

pub async fn run(connectors: &Connectors, global: &Global) -> Result<(), HostError> {
    let (runtime, tenant) = tenant(connectors, global).await?;
    let v = operations::validate(&runtime, &tenant).await?;
    let name = v.account_name.as_deref().unwrap_or("(unnamed)");
    let owner = v.key_owner.as_deref().map(|o| format!(" ({o})")).unwrap_or_default();
    let key = match v.key_kind {
        "unknown" => "a credential of a kind the service does not report".to_owned(),
        kind => format!("{kind} key{owner}"),
    };
    outln!("account: {name} ({})\nkey: {key}\nreads:", v.account_id);
    let width = v.reads.iter().map(|r| r.resource_type.len()).max().unwrap_or(0);
    for read in &v.reads {
        match &read.result {
            Ok(count) => outln!("  {:<width$}  ok ({count} on the first page)", read.resource_type),
            Err(error) => outln!("  {:<width$}  failed: {}", read.resource_type, worded(error)),
        }
    }
    let provisioning =
        if v.provisioning { "supported by the connector (write scopes are checked when used)" } else { "not supported by the connector" };
    outln!("provisioning: {provisioning}");
    if v.can_sync() {
        outln!("sync: possible");
        return Ok(());
    }
    let failed: Vec<&str> = v.reads.iter().filter(|r| r.result.is_err()).map(|r| r.resource_type.as_str()).collect();
    let worst = crate::errors::worst(v.reads.iter().filter_map(|r| r.result.as_ref().err())).cloned();
    outln!("sync: not possible until the failed reads succeed");
    let message = format!("the key cannot read {}; give it the scopes named above", failed.join(", "));
    Err(match worst {
        Some(error) if error.kind() == ErrorKind::Credentials => HostError::credentials(message),
        Some(error) if error.kind() == ErrorKind::Sandbox => HostError::sandbox(message),
        _ => HostError::api(message),
    })
}
