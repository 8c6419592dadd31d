//! `connector-host`: run access connectors (built in, or a component file) from the command line.
//! See `connector-host --help` and `docs/contract.md` section 3.

#[macro_use]
pub(crate) mod output;
mod commands;
mod connectors;
mod errors;
mod logging;
mod progress_display;
mod signals;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser};
use connector_host::HostError;
use connector_host::tenant::Overrides;

use commands::Command;
use errors::{fail, usage_error};

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
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "component")]
    connector: Option<String>,
    /// A connector's component file (.wasm) to run instead of a built-in connector (--plugin is its earlier name).
    #[arg(long, visible_alias = "plugin", global = true, value_name = "FILE")]
    component: Option<PathBuf>,
    /// A tenant file with one [[tenant]] table: credentials' source, base URL, limits.
    #[arg(long, global = true, value_name = "FILE")]
    tenant: Option<PathBuf>,
    /// Let the connector reach loopback and private addresses (local fakes and proxies only).
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

impl Global {
    /// What the flags set for every tenant: the base URL, private networks allowed.
    fn overrides(&self) -> Overrides {
        Overrides { base_url: self.base_url.clone(), allow_private_network: self.allow_private_network }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    logging::init_logging(&cli.global, matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&HostError::other(format!("cannot start the async runtime: {e}"))),
    };
    // The service handles its own signals (it stops gracefully and exits 0).
    if !matches!(cli.command, Command::Serve(_)) {
        runtime.spawn(signals::clean_up_on_signal());
    }
    let result = runtime.block_on(cli.command.run(&cli.global));
    match (result, output::failure()) {
        (Err(error), _) => fail(&error),
        (Ok(()), Some(why)) => fail(&HostError::other(why)),
        (Ok(()), None) => ExitCode::SUCCESS,
    }
}
