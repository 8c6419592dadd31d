//! `update-resource`: rename a resource or change its description or role.

use connector_host::change::Change;

/// `update-resource`'s flags: at least one change.
#[derive(clap::Args)]
#[command(
    group(clap::ArgGroup::new("changes").required(true).multiple(true).args(["name", "description", "role"])),
    after_help = "Prints {\"outcome\": \"updated\" or \"unchanged\", \"resource\": RESOURCE}.\n\nExample:\n  connector-host update-resource --type team --id sleepy_otter --name \"Finance EMEA\""
)]
pub struct UpdateResource {
    #[arg(long = "type", value_name = "T")]
    resource_type: String,
    #[arg(long, value_name = "ID")]
    id: String,
    #[arg(long, value_name = "N")]
    name: Option<String>,
    #[arg(long, value_name = "D")]
    description: Option<String>,
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
