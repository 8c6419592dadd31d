//! `validate`: the account behind the credentials, the kind of key, and what it can read.

use connector_host::{ErrorKind, HostError, operations};

use super::tenant;
use crate::Global;
use crate::connectors::Connectors;
use crate::errors::worded;

/// `validate`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Exits 0 when a sync is possible, else with the status of the worst failed read (3 for credentials).\n\nExamples:\n  FIVETRAN_API_KEY=... FIVETRAN_API_SECRET=... connector-host validate\n  connector-host validate --tenant acme.toml --json"
)]
pub struct Validate {
    /// Print the result as JSON for scripts: {"account", "key", "reads", "provisioning", "sync_possible"}.
    #[arg(long)]
    json: bool,
}

pub async fn run(connectors: &Connectors, global: &Global, args: Validate) -> Result<(), HostError> {
    let (runtime, tenant) = tenant(connectors, global).await?;
    let v = operations::validate(&runtime, &tenant).await?;
    if args.json {
        let reads: Vec<serde_json::Value> = v
            .reads
            .iter()
            .map(|read| match &read.result {
                Ok(count) => serde_json::json!({"type": read.resource_type, "ok": true, "first_page": count}),
                Err(error) => serde_json::json!({"type": read.resource_type, "ok": false, "error": worded(error)}),
            })
            .collect();
        super::print_json(&serde_json::json!({
            "account": {"id": v.account_id, "name": v.account_name},
            "key": {"kind": v.key_kind, "owner": v.key_owner},
            "reads": reads,
            "provisioning": v.provisioning,
            "sync_possible": v.can_sync(),
        }));
        if v.can_sync() {
            return Ok(());
        }
        return Err(failed_reads(&v));
    }
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
    outln!("sync: not possible until the failed reads succeed");
    Err(failed_reads(&v))
}

/// The error of a validation whose reads failed, of the kind of the worst of them.
fn failed_reads(v: &operations::Validation) -> HostError {
    let failed: Vec<&str> = v.reads.iter().filter(|r| r.result.is_err()).map(|r| r.resource_type.as_str()).collect();
    let worst = crate::errors::worst(v.reads.iter().filter_map(|r| r.result.as_ref().err())).cloned();
    let message = format!("the key cannot read {}; give it the scopes named above", failed.join(", "));
    match worst {
        Some(error) if error.kind() == ErrorKind::Credentials => HostError::credentials(message),
        Some(error) if error.kind() == ErrorKind::Sandbox => HostError::sandbox(message),
        _ => HostError::api(message),
    }
}
