//! What the connector reports: the SDK's model, and the Fivetran resource types.

pub use connector_sdk::model::*;

/// Resource type ids, fixed by the contract.
pub const USER: &str = "user";
pub const ROLE: &str = "role";
pub const TEAM: &str = "team";
pub const GROUP: &str = "group";
