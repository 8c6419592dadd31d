//! `completions`: a shell completion script. Needs no connector.

use connector_host::HostError;

/// `completions`' arguments.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  connector-host completions bash > /etc/bash_completion.d/connector-host")]
pub struct Completions {
    shell: clap_complete::Shell,
}

pub fn run(args: Completions) -> Result<(), HostError> {
    // Written whole by us: clap_complete panics when its writer fails (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut <crate::Cli as clap::CommandFactory>::command(), "connector-host", &mut script);
    crate::output::out(&script);
    Ok(())
}
