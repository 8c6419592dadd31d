//! `deprovision`: delete a user account.

use connector_host::change::Change;

/// `deprovision`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Prints {\"outcome\": \"deleted\" or \"not_found\"}.\n\nExample:\n  connector-host deprovision --user-id brisk_ember_b6c1d"
)]
pub struct Deprovision {
    /// The user's id, as the snapshot names it (user:ID without the prefix).
    #[arg(long, value_name = "ID")]
    user_id: String,
}

impl From<Deprovision> for Change {
    fn from(args: Deprovision) -> Self {
        Change::Deprovision { user_id: args.user_id }
    }
}
