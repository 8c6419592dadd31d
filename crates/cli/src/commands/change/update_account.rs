//! `update-account`: change the given fields of a user, and only those.

use connector_host::change::Change;

/// `update-account`'s flags: at least one change.
#[derive(clap::Args)]
#[command(
    group(clap::ArgGroup::new("changes").required(true).multiple(true).args(["given_name", "family_name", "phone", "role"])),
    after_help = "Prints {\"outcome\": \"updated\" or \"unchanged\", \"user\": RESOURCE}.\n\nExample:\n  connector-host update-account --user-id decent_dropsy --family-name Smith --role \"Account Analyst\""
)]
pub struct UpdateAccount {
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
