//! Components of `accessgov:connector@0.4.0` run through an adapter into [`latest`]: their calls
//! take the latest types, converted down, and answer them, converted up. What 0.4.0 cannot say,
//! they say nothing of: no aliases, no declared identity (`other`), no entitlement purpose.

use crate::bindings::latest::types as new;
use crate::bindings::v0_4::accessgov::connector::{log as old_log, types as old};
use crate::state::TenantState;

impl old_log::Host for TenantState {
    fn write(&mut self, level: old_log::Level, message: String) {
        use crate::bindings::latest::accessgov::connector::log::{Host, Level};
        let level = match level {
            old_log::Level::Debug => Level::Debug,
            old_log::Level::Info => Level::Info,
            old_log::Level::Warn => Level::Warn,
            old_log::Level::Error => Level::Error,
        };
        Host::write(self, level, message);
    }
}

impl old::Host for TenantState {}

// Down: what the host passes a 0.4.0 component.

pub fn config(c: &new::Config) -> old::Config {
    old::Config { base_url: c.base_url.clone(), page_size: c.page_size }
}

pub fn resource_down(r: &new::Resource) -> old::Resource {
    old::Resource {
        resource_type: r.resource_type.clone(),
        id: r.id.clone(),
        display_name: r.display_name.clone(),
        traits_json: r.traits_json.clone(),
    }
}

pub fn reference_down(r: &new::ResourceRef) -> old::ResourceRef {
    old::ResourceRef { resource_type: r.resource_type.clone(), id: r.id.clone() }
}

pub fn new_account(a: &new::NewAccount) -> old::NewAccount {
    old::NewAccount {
        email: a.email.clone(),
        given_name: a.given_name.clone(),
        family_name: a.family_name.clone(),
        account_role: a.account_role.clone(),
        phone: a.phone.clone(),
    }
}

pub fn account_changes(c: &new::AccountChanges) -> old::AccountChanges {
    old::AccountChanges {
        given_name: c.given_name.clone(),
        family_name: c.family_name.clone(),
        phone: c.phone.clone(),
        account_role: c.account_role.clone(),
    }
}

pub fn new_resource(r: &new::NewResource) -> old::NewResource {
    old::NewResource {
        resource_type: r.resource_type.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        account_role: r.account_role.clone(),
    }
}

pub fn resource_changes(c: &new::ResourceChanges) -> old::ResourceChanges {
    old::ResourceChanges { name: c.name.clone(), description: c.description.clone(), account_role: c.account_role.clone() }
}

// Up: what a 0.4.0 component answers.

pub fn resource(r: old::Resource) -> new::Resource {
    new::Resource {
        resource_type: r.resource_type,
        id: r.id,
        display_name: r.display_name,
        traits_json: r.traits_json,
        aliases: Vec::new(),
    }
}

fn reference(r: old::ResourceRef) -> new::ResourceRef {
    new::ResourceRef { resource_type: r.resource_type, id: r.id }
}

pub fn entitlement(e: old::Entitlement) -> new::Entitlement {
    new::Entitlement {
        id: e.id,
        resource: reference(e.resource),
        slug: e.slug,
        display_name: e.display_name,
        grantable_to: e.grantable_to,
        purpose: None,
    }
}

fn grant(g: old::Grant) -> new::Grant {
    new::Grant {
        id: g.id,
        entitlement: g.entitlement,
        principal: reference(g.principal),
        expandable: g.expandable,
        principal_aliases: Vec::new(),
    }
}

pub fn page(p: old::Page) -> new::Page {
    new::Page {
        resources: p.resources.into_iter().map(resource).collect(),
        entitlements: p.entitlements.into_iter().map(entitlement).collect(),
        grants: p.grants.into_iter().map(grant).collect(),
        next_page_token: p.next_page_token,
    }
}

pub fn metadata(m: old::ConnectorMetadata) -> new::ConnectorMetadata {
    new::ConnectorMetadata {
        name: m.name,
        version: m.version,
        description: m.description,
        resource_types: m
            .resource_types
            .into_iter()
            .map(|t| new::ResourceType {
                id: t.id,
                display_name: t.display_name,
                entitlements_need: t.entitlements_need,
                identity: new::Identity::Other,
            })
            .collect(),
        capabilities: m
            .capabilities
            .into_iter()
            .map(|c| match c {
                old::Capability::Sync => new::Capability::Sync,
                old::Capability::Provision => new::Capability::Provision,
            })
            .collect(),
        credentials: m
            .credentials
            .into_iter()
            .map(|c| new::Credential { name: c.name, default_env: c.default_env, description: c.description })
            .collect(),
        auth: match m.auth {
            old::AuthScheme::Basic(b) => new::AuthScheme::Basic(new::BasicAuth { user: b.user, password: b.password }),
            old::AuthScheme::Bearer(name) => new::AuthScheme::Bearer(name),
            old::AuthScheme::Header(h) => new::AuthScheme::Header(new::HeaderAuth { name: h.name, credential: h.credential }),
        },
        default_base_url: m.default_base_url,
        rate_limit: m.rate_limit.map(|r| new::RateLimitHeaders {
            limit: r.limit,
            remaining: r.remaining,
            window_seconds: r.window_seconds,
        }),
        max_page_size: m.max_page_size,
    }
}

pub fn account_info(i: old::AccountInfo) -> new::AccountInfo {
    new::AccountInfo {
        account_id: i.account_id,
        account_name: i.account_name,
        key_kind: match i.key_kind {
            old::KeyKind::User => new::KeyKind::User,
            old::KeyKind::System => new::KeyKind::System,
            old::KeyKind::Unknown => new::KeyKind::Unknown,
        },
        key_owner: i.key_owner,
    }
}

pub fn create_outcome(o: old::CreateOutcome) -> new::CreateOutcome {
    match o {
        old::CreateOutcome::Created(r) => new::CreateOutcome::Created(resource(r)),
        old::CreateOutcome::AlreadyExists(r) => new::CreateOutcome::AlreadyExists(resource(r)),
    }
}

pub fn delete_outcome(o: old::DeleteOutcome) -> new::DeleteOutcome {
    match o {
        old::DeleteOutcome::Deleted => new::DeleteOutcome::Deleted,
        old::DeleteOutcome::NotFound => new::DeleteOutcome::NotFound,
    }
}

pub fn update_outcome(o: old::UpdateOutcome) -> new::UpdateOutcome {
    match o {
        old::UpdateOutcome::Updated(r) => new::UpdateOutcome::Updated(resource(r)),
        old::UpdateOutcome::Unchanged(r) => new::UpdateOutcome::Unchanged(resource(r)),
    }
}

pub fn activation_outcome(o: old::ActivationOutcome) -> new::ActivationOutcome {
    let change = match o.change {
        old::ActivationChange::Disabled => new::ActivationChange::Disabled,
        old::ActivationChange::AlreadyDisabled => new::ActivationChange::AlreadyDisabled,
        old::ActivationChange::Enabled => new::ActivationChange::Enabled,
        old::ActivationChange::AlreadyEnabled => new::ActivationChange::AlreadyEnabled,
    };
    new::ActivationOutcome { change, user: resource(o.user) }
}

pub fn grant_outcome(o: old::GrantOutcome) -> new::GrantOutcome {
    let change = match o.change {
        old::GrantChange::Granted => new::GrantChange::Granted,
        old::GrantChange::Updated => new::GrantChange::Updated,
        old::GrantChange::AlreadyHeld => new::GrantChange::AlreadyHeld,
    };
    new::GrantOutcome { grant: grant(o.grant), change, replaced: o.replaced }
}

pub fn revoke_outcome(o: old::RevokeOutcome) -> new::RevokeOutcome {
    let change = match o.change {
        old::RevokeChange::Revoked => new::RevokeChange::Revoked,
        old::RevokeChange::NotHeld => new::RevokeChange::NotHeld,
    };
    new::RevokeOutcome { grant: o.grant, change }
}

pub fn error(e: old::ConnectorError) -> new::ConnectorError {
    match e {
        old::ConnectorError::Unauthorized(m) => new::ConnectorError::Unauthorized(m),
        old::ConnectorError::Forbidden(m) => new::ConnectorError::Forbidden(m),
        old::ConnectorError::NotFound(m) => new::ConnectorError::NotFound(m),
        old::ConnectorError::RateLimited(r) => {
            new::ConnectorError::RateLimited(new::RateLimit { retry_after_ms: r.retry_after_ms, message: r.message })
        }
        old::ConnectorError::InvalidArgument(m) => new::ConnectorError::InvalidArgument(m),
        old::ConnectorError::Conflict(m) => new::ConnectorError::Conflict(m),
        old::ConnectorError::Upstream(u) => {
            new::ConnectorError::Upstream(new::UpstreamError { status: u.status, code: u.code, message: u.message })
        }
        old::ConnectorError::Unsupported(m) => new::ConnectorError::Unsupported(m),
        old::ConnectorError::Internal(m) => new::ConnectorError::Internal(m),
    }
}

/// A call's answer converted up.
pub fn answer<T, U>(result: Result<T, old::ConnectorError>, up: impl FnOnce(T) -> U) -> Result<U, new::ConnectorError> {
    result.map(up).map_err(error)
}
