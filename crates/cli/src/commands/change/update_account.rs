//! `update-account`: change the given fields of a user, and only those.

use connector_host::change::Change;

/// `update-account`'s flags: at least one change.
#[derive(clap::Args)]
#[command(
    group(clap::ArgGroup::new("changes").required(true).multiple(true).args(["given_name", "family_name", "phone", "role"])),
    after_help = "Prints {\"outcome\": \"updated\" or \"unchanged\", \"user\": RESOURCE}.\n\nExample:\n  connector-host update-account --user-id brisk_ember_b6c1d --family-name Smith --role \"Account Analyst\""
)]
pub struct UpdateAccount {
    /// The user's id, as the snapshot names it (user:ID without the prefix).
    #[arg(long, value_name = "ID")]
    user_id: String,
    /// A new given (first) name.
    #[arg(long)]
    given_name: Option<String>,
    /// A new family (last) name.
    #[arg(long)]
    family_name: Option<String>,
    /// A new phone number (fivetran keeps the user's other numbers).
    #[arg(long)]
    phone: Option<String>,
    /// An account role, e.g. "Account Reviewer".
    #[arg(long)]
    role: Option<String>,
}

impl From<UpdateAccount> for Change {
    fn from(args: UpdateAccount) -> Self {
        Change::UpdateAccount {
            user_id: args.user_id,
            given_name: args.given_name,
            family_name: args.family_name,
            phone: args.phone,
            role: args.role,
        }
    }
}
