//! `grant`: give a principal an entitlement from the snapshot.

use connector_host::change::Change;

/// `grant`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Prints {\"outcome\": \"granted\", \"updated\" or \"already_held\", \"grant\": GRANT}.\n\nExamples:\n  connector-host grant --entitlement \"role:Account Reviewer:assigned\" --principal user:brisk_ember_b6c1d\n  connector-host grant --entitlement team:calm_otter_65dc:manager --principal user:brisk_ember_b6c1d\n  connector-host grant --entitlement \"group:brisk_ember_868af:Manage Destination\" --principal team:calm_otter_65dc"
)]
pub struct Grant {
    /// An entitlement id, as in the snapshot.
    #[arg(long, value_name = "ENT")]
    entitlement: String,
    /// Who gets it: user:ID, team:ID (fivetran) or group:ID (scim).
    #[arg(long, value_name = "TYPE:ID")]
    principal: String,
}

impl From<Grant> for Change {
    fn from(args: Grant) -> Self {
        Change::Grant { entitlement: args.entitlement, principal: args.principal }
    }
}
