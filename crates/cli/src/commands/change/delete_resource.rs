//! `delete-resource`: delete a resource (a team; a group with scim).

use connector_host::change::Change;

/// `delete-resource`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Prints {\"outcome\": \"deleted\" or \"not_found\", \"type\": T, \"id\": ID}.\n\nExample:\n  connector-host delete-resource --type team --id calm_otter_65dc"
)]
pub struct DeleteResource {
    /// The resource type: team (fivetran), group (scim).
    #[arg(long = "type", value_name = "T")]
    resource_type: String,
    /// The resource's id, as the snapshot names it.
    #[arg(long, value_name = "ID")]
    id: String,
}

impl From<DeleteResource> for Change {
    fn from(args: DeleteResource) -> Self {
        Change::DeleteResource { resource_type: args.resource_type, id: args.id }
    }
}
