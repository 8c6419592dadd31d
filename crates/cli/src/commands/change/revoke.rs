//! `revoke`: take a grant away.

use connector_host::change::Change;

/// `revoke`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Prints {\"outcome\": \"revoked\" or \"not_held\", \"grant\": ID}, as the service shows it afterwards; exits 4 when it still shows the grant.\n\nExample:\n  connector-host revoke --grant team:calm_otter_65dc:member:user:brisk_ember_b6c1d"
)]
pub struct Revoke {
    /// A grant id, as in the snapshot.
    #[arg(long, value_name = "GRANT")]
    grant: String,
}

impl From<Revoke> for Change {
    fn from(args: Revoke) -> Self {
        Change::Revoke { grant: args.grant }
    }
}
