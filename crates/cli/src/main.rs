//! `connector-host`: run the Fivetran connector (or another component of the same world) from
//! the command line. See `connector-host --help` and `docs/contract.md` section 3.

#[macro_use]
pub(crate) mod output;
mod connectors;
mod progress_display;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use connector_host::bindings::latest::types::{AccountChanges, NewAccount, NewResource, ResourceChanges, ResourceRef};
use connector_host::cache::ComponentCache;
use connector_host::diff::SnapshotDiff;
use connector_host::format::SnapshotFormat;
use connector_host::progress::SyncProgress;
use connector_host::sync_all::{TenantRun, overall_exit_status, sync_all_as};
use connector_host::tenant::{Overrides, TenantEntry, read_tenant_file};
use connector_host::{ConnectorRuntime, ErrorKind, HostError, Snapshot, TenantConfig, operations, sync_with_progress};
use connectors::Connectors;
#[cfg(feature = "demo")]
use fivetran_fake::{AccountSpec, FakeFivetran, generate};
use progress_display::{Display, Mode};

#[derive(Parser)]
#[command(
    name = "connector-host",
    version,
    about = "Runs access connectors as sandboxed WebAssembly components: syncs a service's identities and access into a snapshot, and changes access."
)]
#[command(
    after_help = "Built-in connectors (--connector NAME), and the credentials each reads from the environment or a tenant file:\n  fivetran  Fivetran's REST API (the default): FIVETRAN_API_KEY and FIVETRAN_API_SECRET\n  scim      any SCIM 2.0 service, Fivetran's SCIM API among them: SCIM_TOKEN; --base-url names the SCIM root, e.g. https://api.fivetran.com/scim/v2\n\nEvery change prints what the service holds afterwards, read back; when that is not what was asked, it exits 4 saying what the service shows.\n\nExamples:\n  connector-host demo\n  connector-host validate\n  connector-host sync --out snapshot.json\n  SCIM_TOKEN=... connector-host sync --connector scim --base-url https://api.fivetran.com/scim/v2 --out scim.json\n  connector-host grant --entitlement team:T1:member --principal user:U1"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// The API's base URL (default: the connector's own, https://api.fivetran.com for fivetran); for scim, the SCIM root.
    #[arg(long, global = true, value_name = "URL")]
    base_url: Option<String>,
    /// A built-in connector to run: fivetran (the default) or scim.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "plugin")]
    connector: Option<String>,
    /// A connector component file to run instead of a built-in connector.
    #[arg(long, global = true, value_name = "FILE")]
    plugin: Option<PathBuf>,
    /// A tenant file with one [[tenant]] table: credentials' source, base URL, limits.
    #[arg(long, global = true, value_name = "FILE")]
    tenant: Option<PathBuf>,
    /// Let the plugin reach loopback and private addresses (local fakes and proxies only).
    #[arg(long, global = true)]
    allow_private_network: bool,
    /// Show each request (never the credentials).
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Show errors only.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Where compiled components are cached (default: $XDG_CACHE_HOME/connector-host or ~/.cache/connector-host).
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile the component at every start instead of using the cache.
    #[arg(long, global = true)]
    no_cache: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Start the built-in fake Fivetran on loopback with a sample account and sync it.
    #[cfg(feature = "demo")]
    #[command(after_help = "Example:\n  connector-host demo --out demo-snapshot.json")]
    Demo {
        /// Where to write the snapshot.
        #[arg(long, value_name = "FILE", default_value = "demo-snapshot.json")]
        out: PathBuf,
    },
    /// Check the credentials: print the account and whether the key is a user or system key.
    #[command(after_help = "Example:\n  FIVETRAN_API_KEY=... FIVETRAN_API_SECRET=... connector-host validate")]
    Validate,
    /// Read the whole account into a snapshot file, written atomically.
    #[command(
        after_help = "Example:\n  connector-host sync --out snapshot.json\n  connector-host grant --entitlement team:T1:member --principal user:U1"
    )]
    Sync {
        /// Where to write the snapshot (FILE.c1z writes baton's c1z format).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// json or c1z; by default the file's extension says (.c1z, else json).
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
    },
    /// Sync every tenant of a tenant file at once, each in its own sandbox, into DIR/<id>.json.
    #[command(
        after_help = "Prints one line per tenant; exits 0 when every tenant succeeded, else with the highest exit status among them.\n\nExample:\n  connector-host sync-all --tenants tenants.toml --out-dir snapshots/"
    )]
    SyncAll {
        /// A tenant file with one [[tenant]] table per tenant.
        #[arg(long, value_name = "FILE")]
        tenants: PathBuf,
        /// Where to write the snapshots; created when missing.
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
        /// json (DIR/<id>.json, the default) or c1z (DIR/<id>.c1z).
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
    },
    /// Turn a snapshot into the other format: JSON into c1z or c1z into JSON.
    #[command(
        after_help = "The input's format is read from its first bytes; the output's from --format, else its extension (.c1z, else json).\n\nExamples:\n  connector-host convert snapshot.json snapshot.c1z\n  connector-host convert sync.c1z snapshot.json"
    )]
    Convert {
        input: PathBuf,
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
    },
    /// Show what changed between two snapshots: resources added and removed, traits changed, grants added and removed.
    #[command(
        after_help = "Either file may be JSON or c1z. Exits 0 whether or not anything changed; 2 when a file is not a snapshot.\n\nExamples:\n  connector-host diff monday.json tuesday.json\n  connector-host diff monday.json tuesday.c1z --json"
    )]
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Print {"resources": {"added", "removed", "changed"}, "grants": {"added", "removed"}}.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  connector-host completions bash > /etc/bash_completion.d/connector-host")]
    Completions { shell: clap_complete::Shell },
    /// Create a user account (fivetran: an invitation; scim: an active user named by the email); one with the same email (any case) is reported, not created again.
    #[command(
        after_help = "Prints {\"outcome\": \"created\" or \"already_exists\", \"user\": RESOURCE}.\n\nExample:\n  connector-host provision --email ann@example.com --given-name Ann --family-name Lee --role \"Account Reviewer\""
    )]
    Provision {
        #[arg(long)]
        email: String,
        #[arg(long)]
        given_name: String,
        #[arg(long)]
        family_name: String,
        /// An account role (fivetran: from /v1/roles, e.g. "Account Reviewer"; scim: a role value).
        #[arg(long)]
        role: Option<String>,
        /// A phone number, e.g. +1 555 0100.
        #[arg(long)]
        phone: Option<String>,
    },
    /// Delete a user (fivetran refuses the user behind the API key).
    #[command(
        after_help = "Prints {\"outcome\": \"deleted\" or \"not_found\"}.\n\nExample:\n  connector-host deprovision --user-id decent_dropsy"
    )]
    Deprovision {
        #[arg(long, value_name = "ID")]
        user_id: String,
    },
    /// Change a user's given name, family name, phone or account role; only the fields given change (a phone change keeps the user's other numbers).
    #[command(
        group(clap::ArgGroup::new("changes").required(true).multiple(true).args(["given_name", "family_name", "phone", "role"])),
        after_help = "Prints {\"outcome\": \"updated\" or \"unchanged\", \"user\": RESOURCE}.\n\nExample:\n  connector-host update-account --user-id decent_dropsy --family-name Smith --role \"Account Analyst\""
    )]
    UpdateAccount {
        #[arg(long, value_name = "ID")]
        user_id: String,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// An account role, e.g. "Account Reviewer".
        #[arg(long)]
        role: Option<String>,
    },
    /// Disable a user (it stays, with status disabled). The scim connector can; fivetran's REST API cannot.
    #[command(
        after_help = "Prints {\"outcome\": \"disabled\" or \"already_disabled\", \"user\": RESOURCE}.\n\nExample:\n  SCIM_TOKEN=... connector-host disable-account --connector scim --base-url https://api.fivetran.com/scim/v2 --user-id 2819c223"
    )]
    DisableAccount {
        #[arg(long, value_name = "ID")]
        user_id: String,
    },
    /// Enable a disabled user again.
    #[command(
        after_help = "Prints {\"outcome\": \"enabled\" or \"already_enabled\", \"user\": RESOURCE}.\n\nExample:\n  SCIM_TOKEN=... connector-host enable-account --connector scim --base-url https://api.fivetran.com/scim/v2 --user-id 2819c223"
    )]
    EnableAccount {
        #[arg(long, value_name = "ID")]
        user_id: String,
    },
    /// Create a resource (a team; a group with scim); one of that type with the same name (any case) is reported, not made again.
    #[command(
        after_help = "Prints {\"outcome\": \"created\" or \"already_exists\", \"resource\": RESOURCE}.\n\nExamples:\n  connector-host create-resource --type team --name Finance --description \"Finance analysts\" --role \"Account Reviewer\"\n  connector-host create-resource --connector scim --base-url URL --type group --name Finance"
    )]
    CreateResource {
        #[arg(long = "type", value_name = "T")]
        resource_type: String,
        #[arg(long, value_name = "N")]
        name: String,
        #[arg(long, value_name = "D")]
        description: Option<String>,
        /// The account role its members hold through it (Fivetran teams).
        #[arg(long, value_name = "R")]
        role: Option<String>,
    },
    /// Rename a resource or change its description or role; only the fields given change.
    #[command(
        group(clap::ArgGroup::new("changes").required(true).multiple(true).args(["name", "description", "role"])),
        after_help = "Prints {\"outcome\": \"updated\" or \"unchanged\", \"resource\": RESOURCE}.\n\nExample:\n  connector-host update-resource --type team --id sleepy_otter --name \"Finance EMEA\""
    )]
    UpdateResource {
        #[arg(long = "type", value_name = "T")]
        resource_type: String,
        #[arg(long, value_name = "ID")]
        id: String,
        #[arg(long, value_name = "N")]
        name: Option<String>,
        #[arg(long, value_name = "D")]
        description: Option<String>,
        #[arg(long, value_name = "R")]
        role: Option<String>,
    },
    /// Delete a resource (a team; a group with scim).
    #[command(
        after_help = "Prints {\"outcome\": \"deleted\" or \"not_found\", \"type\": T, \"id\": ID}.\n\nExample:\n  connector-host delete-resource --type team --id sleepy_otter"
    )]
    DeleteResource {
        #[arg(long = "type", value_name = "T")]
        resource_type: String,
        #[arg(long, value_name = "ID")]
        id: String,
    },
    /// Run as a service: keep every tenant synced, keep snapshots and an audit log, serve the HTTP API.
    #[command(
        after_help = "Runs until SIGTERM or SIGINT; SIGHUP reads the tenant file again. /live, /ready, /health and /metrics need no token; /v1/ needs Authorization: Bearer $CONNECTOR_HOST_API_TOKEN.\n\nExamples:\n  connector-host serve --demo\n  CONNECTOR_HOST_API_TOKEN=$(openssl rand -hex 32) connector-host serve --tenants tenants.toml --listen 0.0.0.0:8081 --state-dir /var/lib/connector-host\n  connector-host serve --tenants tenants.toml --provisioning --shard connector-host-1/3"
    )]
    Serve(serve::ServeArgs),
    /// Give a principal an entitlement from the snapshot (fivetran: account role, team membership, destination access; scim: group membership, role).
    #[command(
        after_help = "Prints {\"outcome\": \"granted\", \"updated\" or \"already_held\", \"grant\": GRANT}.\n\nExamples:\n  connector-host grant --entitlement \"role:Account Reviewer:assigned\" --principal user:decent_dropsy\n  connector-host grant --entitlement team:sleepy_otter:manager --principal user:decent_dropsy\n  connector-host grant --entitlement \"group:warm_lake:Manage Destination\" --principal team:sleepy_otter"
    )]
    Grant {
        /// An entitlement id, as in the snapshot.
        #[arg(long, value_name = "ENT")]
        entitlement: String,
        /// Who gets it: user:ID, team:ID (fivetran) or group:ID (scim).
        #[arg(long, value_name = "TYPE:ID")]
        principal: String,
    },
    /// Take away a grant.
    #[command(
        after_help = "Prints {\"outcome\": \"revoked\" or \"not_held\", \"grant\": ID}, as the service shows it afterwards; exits 4 when it still shows the grant.\n\nExample:\n  connector-host revoke --grant team:sleepy_otter:member:user:decent_dropsy"
    )]
    Revoke {
        /// A grant id, as in the snapshot.
        #[arg(long, value_name = "GRANT")]
        grant: String,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    init_logging(&cli.global, matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&HostError::other(format!("cannot start the async runtime: {e}"))),
    };
    // The service handles its own signals (it stops gracefully and exits 0).
    if !matches!(cli.command, Command::Serve(_)) {
        runtime.spawn(clean_up_on_signal());
    }
    let result = runtime.block_on(run(cli));
    match (result, output::failure()) {
        (Err(error), _) => fail(&error),
        (Ok(()), Some(why)) => fail(&HostError::other(why)),
        (Ok(()), None) => ExitCode::SUCCESS,
    }
}

/// On SIGINT or SIGTERM: removes the temporary file of a snapshot being written, so that an
/// interrupted run leaves the old file and nothing beside it, then exits with 130 or 143.
async fn clean_up_on_signal() {
    #[cfg(unix)]
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => signal.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminated = std::future::pending::<Option<()>>();
    let interrupted = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let status = tokio::select! {
        () = interrupted => 130,
        _ = terminated => 143,
    };
    connector_host::files::remove_temporaries();
    errln!("connector-host: interrupted; files being written were removed, earlier ones are as they were");
    std::process::exit(status);
}

/// Help and version as clap prints them; a wrong command line as one error line (exit 2) with
/// clap's tip and the command's usage folded into it.
fn usage_error(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
        let _ = error.print();
        return ExitCode::from(if error.use_stderr() { 2 } else { 0 });
    }
    let text = error.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with("For more information"));
    let mut message = lines.next().unwrap_or("invalid command line").trim_start_matches("error: ").to_owned();
    for line in lines {
        if let Some(tip) = line.strip_prefix("tip: ") {
            message.push_str(&format!("; {tip}"));
        } else if let Some(usage) = line.strip_prefix("Usage: ") {
            message.push_str(&format!("; usage: {usage}"));
        } else {
            // The arguments a "not provided" or "cannot be used with" message lists.
            message.push_str(&format!(" {line}"));
        }
    }
    fail(&HostError::usage(message))
}

fn fail(error: &HostError) -> ExitCode {
    errln!("connector-host: error: {}", worded(error));
    ExitCode::from(error.exit_status() as u8)
}

/// An error in the command's words: the library names the setting that would get past it, the
/// command says where that setting is.
fn worded(error: &HostError) -> String {
    let fix = match error.setting() {
        None => return error.to_string(),
        Some("base_url") => "check --base-url (tenant key base_url)".to_owned(),
        Some("allow_private_network") => {
            "pass --allow-private-network (tenant key allow_private_network = true) only for a local fake or proxy".to_owned()
        }
        Some(setting) => format!("raise {setting} in the tenant file if that is expected"),
    };
    format!("{error}; {fix}")
}

fn init_logging(global: &Global, serving: bool) {
    // Progress is shown by the progress display; the log carries warnings, and requests with
    // --verbose.
    let default = if global.quiet {
        "error"
    } else if global.verbose {
        "warn,connector_host=debug,connector_service=debug"
    } else if serving {
        // A service's log is its record: what it synced, when, and what failed.
        "warn,connector_service=info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(progress_display::LogWriter::default)
        .with_ansi(ansi)
        .with_target(false);
    if serving {
        log.init();
    } else {
        log.without_time().init();
    }
}

fn diff(old: &std::path::Path, new: &std::path::Path, json: bool) -> Result<(), HostError> {
    let diff = SnapshotDiff::between(&connector_host::format::read(old)?, &connector_host::format::read(new)?);
    if json {
        print_json(&diff.to_json());
    } else {
        output::out(diff.to_text().as_bytes());
    }
    Ok(())
}

/// Reads a snapshot in either format and writes it in the other (or the one asked for).
fn convert(input: &std::path::Path, output: &std::path::Path, format: Option<&str>, sync_id: Option<&str>) -> Result<(), HostError> {
    let format = SnapshotFormat::for_path(output, format.map(SnapshotFormat::parse).transpose()?);
    let snapshot = connector_host::format::read_run(input, sync_id)?;
    connector_host::format::write(&snapshot, output, format)?;
    outln!(
        "{} -> {} ({}): {} resources, {} entitlements, {} grants",
        input.display(),
        output.display(),
        format.extension(),
        snapshot.resources.len(),
        snapshot.entitlements.len(),
        snapshot.grants.len()
    );
    Ok(())
}

async fn run(cli: Cli) -> Result<(), HostError> {
    // Comparing snapshots and printing completions need no plugin.
    match &cli.command {
        Command::Diff { old, new, json } => return diff(old, new, *json),
        Command::Convert { input, output, out, format, sync_id } => {
            let output =
                output.as_ref().or(out.as_ref()).ok_or_else(|| HostError::usage("convert needs where to write: OUT or --out FILE"))?;
            return convert(input, output, format.as_deref(), sync_id.as_deref());
        }
        Command::Completions { shell } => {
            // Written whole by us: clap_complete panics when its writer fails (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut <Cli as clap::CommandFactory>::command(), "connector-host", &mut script);
            output::out(&script);
            return Ok(());
        }
        _ => {}
    }
    let cache = match (&cli.global.cache_dir, cli.global.no_cache) {
        (_, true) => None,
        (Some(dir), false) => Some(ComponentCache::new(dir)),
        (None, false) => ComponentCache::default_dir().map(ComponentCache::new),
    };
    let connectors = Connectors::new(cache, cli.global.connector.as_deref(), cli.global.plugin.as_deref())?;
    match cli.command {
        // Answered above, before the plugin was loaded.
        Command::Diff { .. } | Command::Convert { .. } => Ok(()),
        Command::SyncAll { tenants, out_dir, format } => {
            let format = format.as_deref().map(SnapshotFormat::parse).transpose()?.unwrap_or(SnapshotFormat::Json);
            sync_all_tenants(&connectors, &cli.global, &tenants, &out_dir, format).await
        }
        Command::Serve(args) => {
            let overrides = Overrides { base_url: cli.global.base_url.clone(), allow_private_network: cli.global.allow_private_network };
            serve::serve(args, connectors, overrides).await
        }
        #[cfg(feature = "demo")]
        Command::Demo { out } => {
            let runtime = connectors.runtime(&connectors::Choice::Builtin("fivetran"))?;
            demo(&runtime, &out, Mode::detect(cli.global.quiet)).await
        }
        Command::Validate => {
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
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
                if v.provisioning { "supported by the plugin (write scopes are checked when used)" } else { "not supported by the plugin" };
            outln!("provisioning: {provisioning}");
            if v.can_sync() {
                outln!("sync: possible");
                Ok(())
            } else {
                let failed: Vec<&str> = v.reads.iter().filter(|r| r.result.is_err()).map(|r| r.resource_type.as_str()).collect();
                let worst = v.reads.iter().filter_map(|r| r.result.as_ref().err()).max_by_key(|e| e.exit_status()).cloned();
                outln!("sync: not possible until the failed reads succeed");
                let message = format!("the key cannot read {}; give it the scopes named above", failed.join(", "));
                Err(match worst {
                    Some(error) if error.kind() == ErrorKind::Credentials => HostError::credentials(message),
                    Some(error) if error.kind() == ErrorKind::Sandbox => HostError::sandbox(message),
                    _ => HostError::api(message),
                })
            }
        }
        Command::Sync { out, format } => {
            let format = SnapshotFormat::for_path(&out, format.as_deref().map(SnapshotFormat::parse).transpose()?);
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
            check_out(&out)?;
            let snapshot = sync_shown(&runtime, &tenant, Mode::detect(cli.global.quiet)).await?;
            connector_host::format::write(&snapshot, &out, format)?;
            print_summary(&snapshot, &out);
            Ok(())
        }
        Command::Completions { .. } => Ok(()),
        Command::Provision { email, given_name, family_name, role, phone } => {
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
            let account = NewAccount { email, given_name, family_name, account_role: role, phone };
            print_json(&operations::to_json(&operations::provision(&runtime, &tenant, account).await?));
            Ok(())
        }
        Command::Deprovision { user_id } => {
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
            print_json(&operations::to_json(&operations::deprovision(&runtime, &tenant, &user_id).await?));
            Ok(())
        }
        Command::UpdateAccount { user_id, given_name, family_name, phone, role } => {
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
            let changes = AccountChanges { given_name, family_name, phone, account_role: role };
            print_json(&operations::to_json(&operations::update_account(&runtime, &tenant, &user_id, &changes).await?));
            Ok(())
        }
        Command::DisableAccount { user_id } => set_enabled(&connectors, &cli.global, &user_id, false).await,
        Command::EnableAccount { user_id } => set_enabled(&connectors, &cli.global, &user_id, true).await,
        Command::CreateResource { resource_type, name, description, role } => {
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
            let spec = NewResource { resource_type, name, description, account_role: role };
            print_json(&operations::to_json(&operations::create_resource(&runtime, &tenant, &spec).await?));
            Ok(())
        }
        Command::UpdateResource { resource_type, id, name, description, role } => {
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
            let target = ResourceRef { resource_type, id };
            let changes = ResourceChanges { name, description, account_role: role };
            print_json(&operations::to_json(&operations::update_resource(&runtime, &tenant, &target, &changes).await?));
            Ok(())
        }
        Command::DeleteResource { resource_type, id } => {
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
            let target = ResourceRef { resource_type, id };
            print_json(&operations::to_json(&operations::delete_resource(&runtime, &tenant, &target).await?));
            Ok(())
        }
        Command::Grant { entitlement, principal } => {
            operations::parse_principal(&principal)?;
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
            print_json(&operations::to_json(&operations::grant(&runtime, &tenant, &entitlement, &principal).await?));
            Ok(())
        }
        Command::Revoke { grant } => {
            let (runtime, tenant) = tenant(&connectors, &cli.global).await?;
            print_json(&operations::to_json(&operations::revoke(&runtime, &tenant, &grant).await?));
            Ok(())
        }
    }
}

async fn set_enabled(connectors: &Connectors, global: &Global, user_id: &str, enabled: bool) -> Result<(), HostError> {
    let (runtime, tenant) = tenant(connectors, global).await?;
    print_json(&operations::to_json(&operations::set_account_enabled(&runtime, &tenant, user_id, enabled).await?));
    Ok(())
}

async fn sync_all_tenants(
    connectors: &Connectors,
    global: &Global,
    file: &std::path::Path,
    out_dir: &std::path::Path,
    format: SnapshotFormat,
) -> Result<(), HostError> {
    let entries = read_tenant_file(file)?;
    std::fs::create_dir_all(out_dir).map_err(|e| HostError::usage(format!("cannot create --out-dir {}: {e}", out_dir.display())))?;
    for entry in &entries {
        connector_host::files::check_writable(&out_dir.join(format!("{}.{}", entry.id, format.extension())), "--out-dir")?;
    }
    let overrides = Overrides { base_url: global.base_url.clone(), allow_private_network: global.allow_private_network };
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
            Err(error) => outln!("{:<width$}  failed ({})  {}", outcome.id, error.exit_status(), worded(error)),
        }
    }
    match overall_exit_status(&outcomes) {
        0 => Ok(()),
        status => {
            let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
            let message = format!("{failed} of {} tenants failed; see the lines above", outcomes.len());
            Err(match status {
                2 => HostError::usage(message),
                3 => HostError::credentials(message),
                4 => HostError::api(message),
                5 => HostError::sandbox(message),
                _ => HostError::other(message),
            })
        }
    }
}

fn print_json(value: &serde_json::Value) {
    outln!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// The tenant from `--tenant FILE` (exactly one table) or the default one, with flags applied.
async fn tenant(connectors: &Connectors, global: &Global) -> Result<(ConnectorRuntime, TenantConfig), HostError> {
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
    connectors.tenant(&entry, &Overrides { base_url: global.base_url.clone(), allow_private_network: global.allow_private_network }).await
}

/// Fails before a long sync rather than after it when the output cannot be written.
/// Refuses, before the sync, an `--out` the snapshot could not be written to.
fn check_out(out: &std::path::Path) -> Result<(), HostError> {
    connector_host::files::check_writable(out, "--out")
}

/// Syncs one tenant with its progress shown on stderr.
async fn sync_shown(runtime: &ConnectorRuntime, tenant: &TenantConfig, mode: Mode) -> Result<Snapshot, HostError> {
    let progress = SyncProgress::new();
    let display = Display::start(mode, vec![(tenant.id.clone(), progress.clone())]);
    let result = sync_with_progress(runtime, tenant, progress).await;
    drop(display);
    result
}

#[cfg(feature = "demo")]
async fn demo(runtime: &ConnectorRuntime, out: &std::path::Path, mode: Mode) -> Result<(), HostError> {
    check_out(out)?;
    let account = generate(&AccountSpec::sample());
    let key = account.primary_key().clone();
    let fake = FakeFivetran::start(account).map_err(|e| HostError::other(format!("cannot start the fake Fivetran on loopback: {e}")))?;
    outln!("fake Fivetran with a generated sample account on {}", fake.base_url());
    let mut tenant = TenantConfig::new("demo", &fake.base_url(), connector_host::Credentials::new(key.key, key.secret));
    tenant.allow_private_network = true;
    let snapshot = sync_shown(runtime, &tenant, mode).await?;
    snapshot.write_atomic(out)?;
    print_summary(&snapshot, out);
    Ok(())
}

fn print_summary(snapshot: &Snapshot, out: &std::path::Path) {
    let count = |t: &str| snapshot.resources.iter().filter(|r| r.resource_type == t).count();
    outln!("synced {} {} for tenant {}", snapshot.connector.name, snapshot.connector.version, snapshot.tenant);
    for resource_type in &snapshot.resource_types {
        let of_type: Vec<_> = snapshot.resources.iter().filter(|r| r.resource_type == resource_type.id).collect();
        let mut detail = String::new();
        if of_type.iter().any(|r| r.traits.get("status").is_some()) {
            let enabled = of_type.iter().filter(|u| u.traits["status"] == "enabled").count();
            detail = format!("{enabled} enabled, {} disabled", of_type.len() - enabled);
            if of_type.iter().any(|r| r.traits.get("invited").is_some()) {
                let invited = of_type.iter().filter(|u| u.traits["invited"] == true).count();
                detail.push_str(&format!(", {invited} invited"));
            }
        }
        outln!("{}", format!("  {:<13}{:>8}  {detail}", format!("{}s", resource_type.id), count(&resource_type.id)).trim_end());
    }
    outln!("  {:<13}{:>8}", "entitlements", snapshot.entitlements.len());
    let mut kinds: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for grant in &snapshot.grants {
        *kinds.entry(grant.entitlement.split(':').next().unwrap_or("")).or_default() += 1;
    }
    // By the type of resource the entitlement is on: the connector's own words for its types.
    let kinds: Vec<String> = kinds.iter().map(|(kind, n)| format!("{n} on {kind}s")).collect();
    outln!("  {:<13}{:>8}  {}", "grants", snapshot.grants.len(), kinds.join(", "));
    outln!(
        "  {:<13}{:>8}  {} retries, {} rate-limit waits",
        "requests",
        snapshot.stats.http_requests,
        snapshot.stats.retries,
        snapshot.stats.rate_limit_waits
    );
    outln!("  {:<13}{:>7.1}s", "duration", snapshot.stats.duration_ms as f64 / 1000.0);
    let unresolved = snapshot.stats.unresolved_principals;
    let vanished = snapshot.stats.dropped_grants.saturating_sub(unresolved);
    if vanished > 0 {
        outln!("  {:<13}{:>8}  grants whose entitlement was not listed (changed during the sync?); see the warnings", "dropped", vanished);
    }
    if unresolved > 0 {
        outln!(
            "  {:<13}{:>8}  grants whose principal matched no listed resource by id or alias (deleted during the sync, or named as no listing shows it); see the warnings",
            "unresolved",
            unresolved
        );
    }
    outln!("snapshot written to {}", out.display());
}
