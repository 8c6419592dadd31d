//! The commands, one module each; the commands that change accounts or access share one path
//! (`change`). Commands that need no connector (diff, convert, completions) run before one is
//! loaded.

pub mod access;
pub mod change;
pub mod completions;
pub mod convert;
pub mod copy_state;
#[cfg(feature = "demo")]
pub mod demo;
pub mod diff;
pub mod serve;
pub mod summary;
pub mod sync;
pub mod sync_all;
pub mod validate;

use clap::Subcommand;
use connector_host::cache::ComponentCache;
use connector_host::tenant::{TenantEntry, read_tenant_file};
use connector_host::{ConnectorRuntime, HostError, TenantConfig};

use crate::Global;
use crate::connectors::Connectors;

#[derive(Subcommand)]
pub enum Command {
    /// Start the built-in fake Fivetran on loopback with a sample account and sync it.
    #[cfg(feature = "demo")]
    Demo(demo::Demo),
    /// Check the credentials: print the account and whether the key is a user or system key.
    Validate(validate::Validate),
    /// Read the whole account into a snapshot file, written atomically.
    Sync(sync::Sync),
    /// Sync every tenant of a tenant file at once, each in its own sandbox, into DIR/<id>.json.
    SyncAll(sync_all::SyncAll),
    /// Turn a snapshot into the other format: JSON into c1z or c1z into JSON.
    Convert(convert::Convert),
    /// Who can reach what in a snapshot, and by which path: a principal's access, a resource's or an entitlement's holders.
    Access(access::Access),
    /// Show what changed between two snapshots: resources added and removed, traits changed, grants added and removed.
    Diff(diff::Diff),
    /// Copy a service's SQLite state (--state-dir) into PostgreSQL (--database), audit log included.
    CopyState(copy_state::CopyState),
    /// Print a shell completion script.
    Completions(completions::Completions),
    /// Create a user account (fivetran: an invitation; scim: an active user named by the email); one with the same email (any case) is reported, not created again.
    Provision(change::provision::Provision),
    /// Delete a user (fivetran refuses the user behind the API key).
    Deprovision(change::deprovision::Deprovision),
    /// Change a user's given name, family name, phone or account role; only the fields given change (a phone change keeps the user's other numbers).
    UpdateAccount(change::update_account::UpdateAccount),
    /// Disable a user (it stays, with status disabled). The scim connector can; fivetran's REST API cannot.
    DisableAccount(change::disable_account::DisableAccount),
    /// Enable a disabled user again.
    EnableAccount(change::enable_account::EnableAccount),
    /// Create a resource (a team; a group with scim); one of that type with the same name (any case) is reported, not made again.
    CreateResource(change::create_resource::CreateResource),
    /// Rename a resource or change its description or role; only the fields given change.
    UpdateResource(change::update_resource::UpdateResource),
    /// Delete a resource (a team; a group with scim).
    DeleteResource(change::delete_resource::DeleteResource),
    /// Run as a service: keep every tenant synced, keep snapshots and an audit log, serve the HTTP API.
    #[command(
        after_help = "Runs until SIGTERM or SIGINT; SIGHUP reads the tenant file again. /live, /ready, /health and /metrics need no token; /v1/ needs Authorization: Bearer $CONNECTOR_HOST_API_TOKEN.\n\nExamples:\n  connector-host serve --demo\n  CONNECTOR_HOST_API_TOKEN=$(openssl rand -hex 32) connector-host serve --tenants tenants.toml --listen 0.0.0.0:8081 --state-dir /var/lib/connector-host\n  connector-host serve --tenants tenants.toml --provisioning --shard connector-host-1/3"
    )]
    Serve(serve::ServeArgs),
    /// Give a principal an entitlement from the snapshot (fivetran: account role, team membership, destination access; scim: group membership, role).
    Grant(change::grant::Grant),
    /// Take away a grant.
    Revoke(change::revoke::Revoke),
}

impl Command {
    /// Runs the command: those that need no connector at once, the others with the connector
    /// the flags or the tenant file choose, loaded through the component cache.
    pub async fn run(self, global: &Global) -> Result<(), HostError> {
        let command = match self {
            Command::Diff(args) => return diff::run(args),
            Command::Access(args) => return access::run(args),
            Command::Convert(args) => return convert::run(args),
            Command::Completions(args) => return completions::run(args),
            Command::CopyState(args) => return copy_state::run(args).await,
            command => command,
        };
        let cache = match (&global.cache_dir, global.no_cache) {
            (_, true) => None,
            (Some(dir), false) => Some(ComponentCache::new(dir)),
            (None, false) => ComponentCache::default_dir().map(ComponentCache::new),
        };
        let connectors = Connectors::new(cache, global.connector.as_deref(), global.component.as_deref())?;
        let change = match command {
            // Answered above, before a connector was loaded.
            Command::Diff(_) | Command::Access(_) | Command::Convert(_) | Command::Completions(_) | Command::CopyState(_) => return Ok(()),
            #[cfg(feature = "demo")]
            Command::Demo(args) => return demo::run(&connectors, global, args).await,
            Command::Validate(args) => return validate::run(&connectors, global, args).await,
            Command::Sync(args) => return sync::run(&connectors, global, args).await,
            Command::SyncAll(args) => return sync_all::run(&connectors, global, args).await,
            Command::Serve(args) => return serve::serve(args, connectors, global.overrides()).await,
            Command::Provision(args) => args.into(),
            Command::Deprovision(args) => args.into(),
            Command::UpdateAccount(args) => args.into(),
            Command::DisableAccount(args) => args.into(),
            Command::EnableAccount(args) => args.into(),
            Command::CreateResource(args) => args.into(),
            Command::UpdateResource(args) => args.into(),
            Command::DeleteResource(args) => args.into(),
            Command::Grant(args) => args.into(),
            Command::Revoke(args) => args.into(),
        };
        change::run(&connectors, global, change).await
    }
}

/// A value as the commands print JSON: pretty, with a final newline.
pub fn print_json(value: &serde_json::Value) {
    outln!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// The tenant from `--tenant FILE` (exactly one table) or the default one, with flags applied.
pub async fn tenant(connectors: &Connectors, global: &Global) -> Result<(ConnectorRuntime, TenantConfig), HostError> {
    let entry = match &global.tenant {
        Some(path) => {
            let mut entries = read_tenant_file(path)?;
            if entries.len() != 1 {
                return Err(HostError::usage(format!(
                    "--tenant {} holds {} tenants; it takes a file with one [[tenant]] table (sync-all takes several)",
                    path.display(),
                    entries.len()
                )));
            }
            entries.remove(0)
        }
        None => TenantEntry::default_tenant(),
    };
    connectors.tenant(&entry, &global.overrides()).await
}
