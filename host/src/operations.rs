//! The single-call operations: validate a key, invite a user.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::bindings::v0_1::types::{KeyKind, NewAccount, ProvisionOutcome};
use crate::error::Result;
use crate::failure::call_failure;
use crate::http::RequestMeter;
use crate::runtime::ConnectorRuntime;
use crate::tenant::TenantConfig;

/// The account behind the credentials, and what kind of key they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    pub account_id: String,
    pub account_name: Option<String>,
    /// `user`, `system` or `unknown`.
    pub key_kind: &'static str,
    pub key_owner: Option<String>,
}

pub async fn validate(runtime: &ConnectorRuntime, tenant: &TenantConfig) -> Result<Validation> {
    let mut session = runtime.open(tenant, Arc::new(RequestMeter::default())).await?;
    let info = session.validate().await.map_err(|e| call_failure(tenant, e, 1))?;
    Ok(Validation {
        account_id: info.account_id,
        account_name: info.account_name,
        key_kind: match info.key_kind {
            KeyKind::User => "user",
            KeyKind::System => "system",
            KeyKind::Unknown => "unknown",
        },
        key_owner: info.key_owner,
    })
}

/// Invites a user; `{"outcome": "created" | "already_exists", "user": RESOURCE}`.
pub async fn provision(runtime: &ConnectorRuntime, tenant: &TenantConfig, account: NewAccount) -> Result<Value> {
    let mut session = runtime.open(tenant, Arc::new(RequestMeter::default())).await?;
    let outcome = session.provision_account(&account).await.map_err(|e| call_failure(tenant, e, 1))?;
    let (outcome, user) = match outcome {
        ProvisionOutcome::Created(user) => ("created", user),
        ProvisionOutcome::AlreadyExists(user) => ("already_exists", user),
    };
    let traits: Value = serde_json::from_str(&user.traits_json).unwrap_or(Value::Null);
    Ok(json!({
        "outcome": outcome,
        "user": {"type": user.resource_type, "id": user.id, "display_name": user.display_name, "traits": traits},
    }))
}
