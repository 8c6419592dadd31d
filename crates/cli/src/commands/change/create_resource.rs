//! `create-resource`: create a resource (a team; a group with scim).

use connector_host::change::Change;

/// `create-resource`'s flags.
#[derive(clap::Args)]
#[command(
    after_help = "Prints {\"outcome\": \"created\" or \"already_exists\", \"resource\": RESOURCE}.\n\nExamples:\n  connector-host create-resource --type team --name Finance --description \"Finance analysts\" --role \"Account Reviewer\"\n  connector-host create-resource --connector scim --base-url URL --type group --name Finance"
)]
pub struct CreateResource {
    /// The resource type: team (fivetran), group (scim).
    #[arg(long = "type", value_name = "T")]
    resource_type: String,
    /// Its name; one of that type with the same name (any case) is reported, not made again.
    #[arg(long, value_name = "N")]
    name: String,
    /// Its description.
    #[arg(long, value_name = "D")]
    description: Option<String>,
    /// The account role its members hold through it (Fivetran teams).
    #[arg(long, value_name = "R")]
    role: Option<String>,
}

impl From<CreateResource> for Change {
    fn from(args: CreateResource) -> Self {
        Change::CreateResource { resource_type: args.resource_type, name: args.name, description: args.description, role: args.role }
    }
}
