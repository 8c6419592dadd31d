//! `update-resource`: rename a resource or change its description or role.

use connector_host::change::Change;

/// `update-resource`'s flags: at least one change.
#[derive(clap::Args)]
#[command(
    group(clap::ArgGroup::new("changes").required(true).multiple(true).args(["name", "description", "role"])),
    after_help = "Prints {\"outcome\": \"updated\" or \"unchanged\", \"resource\": RESOURCE}.\n\nExample:\n  connector-host update-resource --type team --id calm_otter_65dc --name \"Finance EMEA\""
)]
pub struct UpdateResource {
    /// The resource type: team (fivetran), group (scim).
    #[arg(long = "type", value_name = "T")]
    resource_type: String,
    /// The resource's id, as the snapshot names it.
    #[arg(long, value_name = "ID")]
    id: String,
    /// A new name.
    #[arg(long, value_name = "N")]
    name: Option<String>,
    /// A new description.
    #[arg(long, value_name = "D")]
    description: Option<String>,
    /// A new account role its members hold through it (Fivetran teams).
    #[arg(long, value_name = "R")]
    role: Option<String>,
}

impl From<UpdateResource> for Change {
    fn from(args: UpdateResource) -> Self {
        Change::UpdateResource {
            resource_type: args.resource_type,
            id: args.id,
            name: args.name,
            description: args.description,
            role: args.role,
        }
    }
}
