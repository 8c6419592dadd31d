//! `completions`: a shell completion script. Needs no connector.

use connector_host::HostError;

/// `completions`' arguments.
#[derive(clap::Args)]
#[command(
    after_help = "Examples, installing them:\n  bash: connector-host completions bash > ~/.local/share/bash-completion/completions/connector-host\n  zsh:  connector-host completions zsh > \"${fpath[1]}/_connector-host\"\n  fish: connector-host completions fish > ~/.config/fish/completions/connector-host.fish\nThen open a new shell."
)]
pub struct Completions {
    /// The shell to write the script for.
    shell: clap_complete::Shell,
}

pub fn run(args: Completions) -> Result<(), HostError> {
    // Written whole by us: clap_complete panics when its writer fails (`| head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut <crate::Cli as clap::CommandFactory>::command(), "connector-host", &mut script);
    crate::output::out(&script);
    Ok(())
}
