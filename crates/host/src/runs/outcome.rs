//! What a change did, typed, as the service holds it afterwards: each outcome serializes as
//! `docs/contract.md` says the command prints it.

use serde::Serialize;

use crate::snapshot::{GrantRecord, ResourceRecord};

/// What a change did, typed; each serializes as `docs/contract.md` says the command prints it.
macro_rules! outcome_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? } already [$($already:ident),*]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// As the command prints it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Whether it found the change already made: after a retry, possibly by an earlier
            /// attempt whose answer was lost.
            pub fn found_made(self) -> bool {
                let made: &[Self] = &[$(Self::$already),*];
                made.contains(&self)
            }
        }
    };
}

outcome_enum!(
    /// Whether an invite made a user, or a create a resource.
    AccountChange { Created => "created", AlreadyExists => "already_exists" } already [AlreadyExists]
);
outcome_enum!(
    /// Whether an update changed anything.
    Update { Updated => "updated", Unchanged => "unchanged" } already []
);
outcome_enum!(
    /// What disabling or enabling an account did.
    Activation { Disabled => "disabled", AlreadyDisabled => "already_disabled", Enabled => "enabled", AlreadyEnabled => "already_enabled" } already [AlreadyDisabled, AlreadyEnabled]
);
outcome_enum!(
    /// Whether a delete found the user.
    Deletion { Deleted => "deleted", NotFound => "not_found" } already [NotFound]
);
outcome_enum!(
    /// What a grant changed.
    Granting { Granted => "granted", Updated => "updated", AlreadyHeld => "already_held" } already [AlreadyHeld]
);
outcome_enum!(
    /// What a revoke changed.
    Revocation { Revoked => "revoked", NotHeld => "not_held" } already [NotHeld]
);

/// `{"outcome": "created" | "already_exists", "user": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountOutcome {
    pub outcome: AccountChange,
    pub user: ResourceRecord,
}

/// `{"outcome": "deleted" | "not_found", "user_id": ID}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeletionOutcome {
    pub outcome: Deletion,
    pub user_id: String,
}

/// `{"outcome": "granted" | "updated" | "already_held", "grant": GRANT, "replaced": ID}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrantingOutcome {
    pub outcome: Granting,
    pub grant: GrantRecord,
    /// The grant an update replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
}

/// `{"outcome": "revoked" | "not_held", "grant": ID}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevocationOutcome {
    pub outcome: Revocation,
    pub grant: String,
}

/// `{"outcome": "updated" | "unchanged", "user": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountUpdateOutcome {
    pub outcome: Update,
    pub user: ResourceRecord,
}

/// `{"outcome": "disabled" | "already_disabled" | "enabled" | "already_enabled", "user": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivationOutcome {
    pub outcome: Activation,
    pub user: ResourceRecord,
}

/// `{"outcome": "created" | "already_exists", "resource": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceCreationOutcome {
    pub outcome: AccountChange,
    pub resource: ResourceRecord,
}

/// `{"outcome": "updated" | "unchanged", "resource": RESOURCE}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceUpdateOutcome {
    pub outcome: Update,
    pub resource: ResourceRecord,
}

/// `{"outcome": "deleted" | "not_found", "type": TYPE, "id": ID}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDeletionOutcome {
    pub outcome: Deletion,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
}

/// What any change did: one of the outcomes above, printed as that outcome prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ChangeOutcome {
    Account(AccountOutcome),
    Deletion(DeletionOutcome),
    AccountUpdate(AccountUpdateOutcome),
    Activation(ActivationOutcome),
    ResourceCreation(ResourceCreationOutcome),
    ResourceUpdate(ResourceUpdateOutcome),
    ResourceDeletion(ResourceDeletionOutcome),
    Granting(GrantingOutcome),
    Revocation(RevocationOutcome),
}

impl ChangeOutcome {
    /// Its outcome, as printed: `created`, `not_held`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeOutcome::Account(o) => o.outcome.as_str(),
            ChangeOutcome::Deletion(o) => o.outcome.as_str(),
            ChangeOutcome::AccountUpdate(o) => o.outcome.as_str(),
            ChangeOutcome::Activation(o) => o.outcome.as_str(),
            ChangeOutcome::ResourceCreation(o) => o.outcome.as_str(),
            ChangeOutcome::ResourceUpdate(o) => o.outcome.as_str(),
            ChangeOutcome::ResourceDeletion(o) => o.outcome.as_str(),
            ChangeOutcome::Granting(o) => o.outcome.as_str(),
            ChangeOutcome::Revocation(o) => o.outcome.as_str(),
        }
    }
}
