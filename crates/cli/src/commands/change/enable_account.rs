//! `enable-account`: enable a disabled user again.

use connector_host::change::Change;

/// `enable-account`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Prints {\"outcome\": \"enabled\" or \"already_enabled\", \"user\": RESOURCE}.\n\nExample:\n  SCIM_TOKEN=... connector-host enable-account --connector scim --base-url https://api.fivetran.com/scim/v2 --user-id 2819c223"
)]
pub struct EnableAccount {
    /// The user's id, as the snapshot names it (user:ID without the prefix).
    #[arg(long, value_name = "ID")]
    user_id: String,
}

impl From<EnableAccount> for Change {
    fn from(args: EnableAccount) -> Self {
        Change::EnableAccount { user_id: args.user_id }
    }
}
