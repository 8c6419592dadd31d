//! `disable-account`: disable a user; it stays, disabled.

use connector_host::change::Change;

/// `disable-account`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Prints {\"outcome\": \"disabled\" or \"already_disabled\", \"user\": RESOURCE}.\n\nExample:\n  SCIM_TOKEN=... connector-host disable-account --connector scim --base-url https://api.fivetran.com/scim/v2 --user-id 2819c223"
)]
pub struct DisableAccount {
    /// The user's id, as the snapshot names it (user:ID without the prefix).
    #[arg(long, value_name = "ID")]
    user_id: String,
}

impl From<DisableAccount> for Change {
    fn from(args: DisableAccount) -> Self {
        Change::DisableAccount { user_id: args.user_id }
    }
}
