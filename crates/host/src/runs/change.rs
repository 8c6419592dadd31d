//! A change to accounts or access, as data: what the command line and the service parse their
//! input into, what the service's audit log records before anything is sent, and what
//! [`crate::operations::apply`] runs. A new verb is one WIT function, one arm here and one parser
//! per front end.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bindings::latest::types::ResourceRef;
use crate::error::{HostError, Result};

/// One change, named as the command line and the API name it (`docs/contract.md` sections 3, 5
/// and 7). Field names are the ones both front ends use (`role` for a connector's account role).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "kebab-case")]
pub enum Change {
    /// Create a user account (an invitation, for some services).
    Provision {
        email: String,
        given_name: String,
        family_name: String,
        #[serde(default)]
        role: Option<String>,
        #[serde(default)]
        phone: Option<String>,
    },
    /// Delete a user account.
    Deprovision { user_id: String },
    /// Change the given fields of an account, and only those.
    UpdateAccount {
        user_id: String,
        #[serde(default)]
        given_name: Option<String>,
        #[serde(default)]
        family_name: Option<String>,
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        role: Option<String>,
    },
    /// Disable an account; it stays, disabled.
    DisableAccount { user_id: String },
    /// Enable a disabled account again.
    EnableAccount { user_id: String },
    /// Create a resource (a team, a group).
    CreateResource {
        #[serde(rename = "type")]
        resource_type: String,
        name: String,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        role: Option<String>,
    },
    /// Change the given fields of a resource, and only those.
    UpdateResource {
        #[serde(rename = "type")]
        resource_type: String,
        id: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        role: Option<String>,
    },
    /// Delete a resource.
    DeleteResource {
        #[serde(rename = "type")]
        resource_type: String,
        id: String,
    },
    /// Give a principal (`TYPE:ID`) an entitlement.
    Grant { entitlement: String, principal: String },
    /// Take a grant away.
    Revoke { grant: String },
}

impl Change {
    /// The change's name, as the command and the audit log name it.
    pub fn operation(&self) -> &'static str {
        match self {
            Change::Provision { .. } => "provision",
            Change::Deprovision { .. } => "deprovision",
            Change::UpdateAccount { .. } => "update-account",
            Change::DisableAccount { .. } => "disable-account",
            Change::EnableAccount { .. } => "enable-account",
            Change::CreateResource { .. } => "create-resource",
            Change::UpdateResource { .. } => "update-resource",
            Change::DeleteResource { .. } => "delete-resource",
            Change::Grant { .. } => "grant",
            Change::Revoke { .. } => "revoke",
        }
    }

    /// Its arguments, as the audit log records them: every field by its name, without the
    /// operation.
    pub fn arguments(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(fields) = value.as_object_mut() {
            fields.remove("operation");
        }
        value
    }

    /// Refuses, before anything is sent, a change that cannot be right: an update naming nothing
    /// to change, a principal that is not `TYPE:ID`.
    pub fn check(&self) -> Result<()> {
        match self {
            Change::UpdateAccount { given_name: None, family_name: None, phone: None, role: None, .. } => {
                Err(HostError::usage("nothing to change: give given_name, family_name, phone or role"))
            }
            Change::UpdateResource { name: None, description: None, role: None, .. } => {
                Err(HostError::usage("nothing to change: give name, description or role"))
            }
            Change::Grant { principal, .. } => parse_principal(principal).map(drop),
            _ => Ok(()),
        }
    }
}

/// `TYPE:ID`, e.g. `user:U1`.
pub fn parse_principal(text: &str) -> Result<ResourceRef> {
    match text.split_once(':') {
        Some((resource_type, id)) if !resource_type.is_empty() && !id.is_empty() => {
            Ok(ResourceRef { resource_type: resource_type.to_owned(), id: id.to_owned() })
        }
        _ => Err(HostError::usage(format!("principal {text:?} is not TYPE:ID; write it as user:USER_ID or team:TEAM_ID"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_reads_back_from_what_it_writes_and_records_its_arguments_without_the_operation() {
        let change = Change::UpdateResource {
            resource_type: "team".into(),
            id: "T1".into(),
            name: Some("Finance".into()),
            description: None,
            role: None,
        };
        let written = serde_json::to_value(&change).unwrap();
        assert_eq!(written["operation"], "update-resource");
        assert_eq!(written["type"], "team");
        assert_eq!(serde_json::from_value::<Change>(written).unwrap(), change);
        assert_eq!(
            change.arguments(),
            serde_json::json!({"type": "team", "id": "T1", "name": "Finance", "description": null, "role": null})
        );
        assert_eq!(change.operation(), "update-resource");
    }

    #[test]
    fn an_update_naming_nothing_and_a_principal_without_a_type_are_refused_as_usage_errors() {
        let nothing = Change::UpdateAccount { user_id: "U1".into(), given_name: None, family_name: None, phone: None, role: None };
        assert_eq!(nothing.check().unwrap_err().kind(), crate::ErrorKind::Usage);
        let nothing = Change::UpdateResource { resource_type: "team".into(), id: "T1".into(), name: None, description: None, role: None };
        assert!(nothing.check().unwrap_err().message().starts_with("nothing to change"));
        let bad = Change::Grant { entitlement: "team:T1:member".into(), principal: "U1".into() };
        assert!(bad.check().unwrap_err().message().contains("is not TYPE:ID"));
        let good = Change::Grant { entitlement: "team:T1:member".into(), principal: "user:U1".into() };
        assert!(good.check().is_ok());
    }
}
