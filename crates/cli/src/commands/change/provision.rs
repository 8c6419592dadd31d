//! `provision`: create a user account.

use connector_host::change::Change;

/// `provision`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Prints {\"outcome\": \"created\" or \"already_exists\", \"user\": RESOURCE}.\n\nExample:\n  connector-host provision --email ann@example.com --given-name Ann --family-name Lee --role \"Account Reviewer\""
)]
pub struct Provision {
    /// The user's email: their login, and how an existing account is recognised (any case).
    #[arg(long)]
    email: String,
    /// The user's given (first) name.
    #[arg(long)]
    given_name: String,
    /// The user's family (last) name.
    #[arg(long)]
    family_name: String,
    /// An account role (fivetran: from /v1/roles, e.g. "Account Reviewer"; scim: a role value).
    #[arg(long)]
    role: Option<String>,
    /// A phone number, e.g. +1 555 0100.
    #[arg(long)]
    phone: Option<String>,
}

impl From<Provision> for Change {
    fn from(args: Provision) -> Self {
        Change::Provision {
            email: args.email,
            given_name: args.given_name,
            family_name: args.family_name,
            role: args.role,
            phone: args.phone,
        }
    }
}
