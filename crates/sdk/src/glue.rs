//! The WIT glue every connector shares: the `accessgov:connector` bindings, the conversions
//! between them and [`crate::model`], and [`Waki`], the [`Transport`] over the host's
//! `wasi:http`. [`crate::export_connector!`] wires a [`crate::ConnectorComponent`] to them.

use crate::model;
use crate::transport::{ApiRequest, ApiResponse, Transport, TransportError};
use crate::{AccountManager, ConnectorComponent, GrantManager, ResourceManager, Syncer};

pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "connector-world",
        pub_export_macro: true,
        export_macro_name: "export_connector_world",
    });
}

use bindings::accessgov::connector::log::{self as host_log, Level};
pub use bindings::accessgov::connector::types as wit;
pub use bindings::export_connector_world as export;
pub use bindings::exports::accessgov::connector::connector::Guest;

pub fn metadata(m: model::Metadata) -> wit::ConnectorMetadata {
    wit::ConnectorMetadata {
        name: m.name.into(),
        version: m.version.into(),
        description: m.description.into(),
        resource_types: m
            .resource_types
            .iter()
            .map(|t| wit::ResourceType {
                id: t.id.into(),
                display_name: t.display_name.into(),
                entitlements_need: t.entitlements_need.iter().map(|s| (*s).into()).collect(),
                identity: identity(&t.identity),
            })
            .collect(),
        capabilities: m
            .capabilities
            .iter()
            .map(|c| match c {
                model::Capability::Sync => wit::Capability::Sync,
                model::Capability::Provision => wit::Capability::Provision,
            })
            .collect(),
        credentials: m
            .credentials
            .iter()
            .map(|c| wit::Credential { name: c.name.into(), default_env: c.default_env.into(), description: c.description.into() })
            .collect(),
        auth: match m.auth {
            model::AuthScheme::Basic { user, password } => {
                wit::AuthScheme::Basic(wit::BasicAuth { user: user.into(), password: password.into() })
            }
            model::AuthScheme::Bearer(credential) => wit::AuthScheme::Bearer(credential.into()),
            model::AuthScheme::Header { name, credential } => {
                wit::AuthScheme::Header(wit::HeaderAuth { name: name.into(), credential: credential.into() })
            }
        },
        default_base_url: m.default_base_url.map(Into::into),
        rate_limit: m.rate_limit.map(|r| wit::RateLimitHeaders {
            limit: r.limit.into(),
            remaining: r.remaining.into(),
            window_seconds: r.window_seconds,
        }),
        max_page_size: m.max_page_size,
    }
}

pub fn validate<C: ConnectorComponent>(cfg: wit::Config) -> Result<wit::AccountInfo, wit::ConnectorError> {
    let info = C::session(&Waki, config(cfg)).validate().map_err(error)?;
    Ok(wit::AccountInfo {
        account_id: info.account_id,
        account_name: info.account_name,
        key_kind: match info.key_kind {
            model::KeyKind::User => wit::KeyKind::User,
            model::KeyKind::System => wit::KeyKind::System,
            model::KeyKind::Unknown => wit::KeyKind::Unknown,
        },
        key_owner: info.key_owner,
    })
}

pub fn list_resources<C: ConnectorComponent>(
    cfg: wit::Config,
    resource_type: String,
    token: Option<String>,
) -> Result<wit::Page, wit::ConnectorError> {
    C::session(&Waki, config(cfg)).list_resources(&resource_type, token.as_deref()).map(page).map_err(error)
}

pub fn list_entitlements<C: ConnectorComponent>(
    cfg: wit::Config,
    resource: wit::Resource,
    related: Vec<wit::Resource>,
) -> Result<Vec<wit::Entitlement>, wit::ConnectorError> {
    let resource = from_wit(resource);
    let related: Vec<_> = related.into_iter().map(from_wit).collect();
    let entitlements = C::session(&Waki, config(cfg)).list_entitlements(&resource, &related).map_err(error)?;
    Ok(entitlements.into_iter().map(entitlement).collect())
}

pub fn list_grants<C: ConnectorComponent>(
    cfg: wit::Config,
    resource: wit::Resource,
    token: Option<String>,
) -> Result<wit::Page, wit::ConnectorError> {
    C::session(&Waki, config(cfg)).list_grants(&from_wit(resource), token.as_deref()).map(page).map_err(error)
}

pub fn provision_account<C: ConnectorComponent>(
    cfg: wit::Config,
    account: wit::NewAccount,
) -> Result<wit::CreateOutcome, wit::ConnectorError> {
    let account = model::NewAccount {
        email: account.email,
        given_name: account.given_name,
        family_name: account.family_name,
        account_role: account.account_role,
        phone: account.phone,
    };
    C::session(&Waki, config(cfg)).provision_account(&account).map(create_outcome).map_err(error)
}

pub fn deprovision_account<C: ConnectorComponent>(cfg: wit::Config, user_id: String) -> Result<wit::DeleteOutcome, wit::ConnectorError> {
    C::session(&Waki, config(cfg)).deprovision_account(&user_id).map(delete_outcome).map_err(error)
}

pub fn update_account<C: ConnectorComponent>(
    cfg: wit::Config,
    user_id: String,
    changes: wit::AccountChanges,
) -> Result<wit::UpdateOutcome, wit::ConnectorError> {
    let changes = model::AccountChanges {
        given_name: changes.given_name,
        family_name: changes.family_name,
        phone: changes.phone,
        account_role: changes.account_role,
    };
    C::session(&Waki, config(cfg)).update_account(&user_id, &changes).map(update_outcome).map_err(error)
}

pub fn set_account_enabled<C: ConnectorComponent>(
    cfg: wit::Config,
    user_id: String,
    enabled: bool,
) -> Result<wit::ActivationOutcome, wit::ConnectorError> {
    let outcome = C::session(&Waki, config(cfg)).set_account_enabled(&user_id, enabled).map_err(error)?;
    Ok(wit::ActivationOutcome {
        change: match outcome.change {
            model::ActivationChange::Disabled => wit::ActivationChange::Disabled,
            model::ActivationChange::AlreadyDisabled => wit::ActivationChange::AlreadyDisabled,
            model::ActivationChange::Enabled => wit::ActivationChange::Enabled,
            model::ActivationChange::AlreadyEnabled => wit::ActivationChange::AlreadyEnabled,
        },
        user: resource(outcome.user),
    })
}

pub fn create_resource<C: ConnectorComponent>(cfg: wit::Config, spec: wit::NewResource) -> Result<wit::CreateOutcome, wit::ConnectorError> {
    let spec = model::NewResource {
        resource_type: spec.resource_type,
        name: spec.name,
        description: spec.description,
        account_role: spec.account_role,
    };
    C::session(&Waki, config(cfg)).create_resource(&spec).map(create_outcome).map_err(error)
}

pub fn update_resource<C: ConnectorComponent>(
    cfg: wit::Config,
    target: wit::ResourceRef,
    changes: wit::ResourceChanges,
) -> Result<wit::UpdateOutcome, wit::ConnectorError> {
    let target = model::ResourceRef { resource_type: target.resource_type, id: target.id };
    let changes = model::ResourceChanges { name: changes.name, description: changes.description, account_role: changes.account_role };
    C::session(&Waki, config(cfg)).update_resource(&target, &changes).map(update_outcome).map_err(error)
}

pub fn delete_resource<C: ConnectorComponent>(
    cfg: wit::Config,
    target: wit::ResourceRef,
) -> Result<wit::DeleteOutcome, wit::ConnectorError> {
    let target = model::ResourceRef { resource_type: target.resource_type, id: target.id };
    C::session(&Waki, config(cfg)).delete_resource(&target).map(delete_outcome).map_err(error)
}

fn create_outcome(outcome: model::CreateOutcome) -> wit::CreateOutcome {
    match outcome {
        model::CreateOutcome::Created(r) => wit::CreateOutcome::Created(resource(r)),
        model::CreateOutcome::AlreadyExists(r) => wit::CreateOutcome::AlreadyExists(resource(r)),
    }
}

fn delete_outcome(outcome: model::DeleteOutcome) -> wit::DeleteOutcome {
    match outcome {
        model::DeleteOutcome::Deleted => wit::DeleteOutcome::Deleted,
        model::DeleteOutcome::NotFound => wit::DeleteOutcome::NotFound,
    }
}

fn update_outcome(outcome: model::UpdateOutcome) -> wit::UpdateOutcome {
    match outcome {
        model::UpdateOutcome::Updated(r) => wit::UpdateOutcome::Updated(resource(r)),
        model::UpdateOutcome::Unchanged(r) => wit::UpdateOutcome::Unchanged(resource(r)),
    }
}

pub fn grant_entitlement<C: ConnectorComponent>(
    cfg: wit::Config,
    entitlement: String,
    principal: wit::ResourceRef,
) -> Result<wit::GrantOutcome, wit::ConnectorError> {
    let principal = model::ResourceRef { resource_type: principal.resource_type, id: principal.id };
    let outcome = C::session(&Waki, config(cfg)).grant_entitlement(&entitlement, &principal).map_err(error)?;
    Ok(wit::GrantOutcome {
        grant: grant(outcome.grant),
        change: match outcome.change {
            model::GrantChange::Granted => wit::GrantChange::Granted,
            model::GrantChange::Updated => wit::GrantChange::Updated,
            model::GrantChange::AlreadyHeld => wit::GrantChange::AlreadyHeld,
        },
        replaced: outcome.replaced,
    })
}

pub fn revoke_grant<C: ConnectorComponent>(cfg: wit::Config, grant: String) -> Result<wit::RevokeOutcome, wit::ConnectorError> {
    let outcome = C::session(&Waki, config(cfg)).revoke_grant(&grant).map_err(error)?;
    Ok(wit::RevokeOutcome {
        grant: outcome.grant,
        change: match outcome.change {
            model::RevokeChange::Revoked => wit::RevokeChange::Revoked,
            model::RevokeChange::NotHeld => wit::RevokeChange::NotHeld,
        },
    })
}

/// Sends requests with `waki` over `wasi:http/outgoing-handler`. The host adds the credentials.
pub struct Waki;

impl Transport for Waki {
    fn send(&self, base_url: &str, request: &ApiRequest) -> Result<ApiResponse, TransportError> {
        let url = format!("{base_url}{}", request.path);
        let method = match request.method {
            "POST" => waki::Method::Post,
            "PATCH" => waki::Method::Patch,
            "PUT" => waki::Method::Put,
            "DELETE" => waki::Method::Delete,
            _ => waki::Method::Get,
        };
        let mut builder = waki::Client::new()
            .request(method, &url)
            .header("Accept", request.media_type)
            .header("User-Agent", concat!("accessgov-connector/", env!("CARGO_PKG_VERSION")));
        if let Some(body) = &request.body {
            builder = builder.header("Content-Type", request.media_type).body(body.clone());
        }
        let response = builder.send().map_err(|e| classify(&e))?;
        let status = response.status_code();
        let retry_after = response.header("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = read_body(&response).map_err(|e| body_failure(&e))?;
        Ok(ApiResponse { status, retry_after, body })
    }

    fn warn(&self, message: &str) {
        host_log::write(Level::Warn, message);
    }
}

/// Why reading an answer's body failed, in words. waki hands over the host's error only as text
/// (`input_stream read failed: LastOperationFailed(... HttpResponseIncomplete ...)`): the
/// wasi:http code in it is what happened.
fn body_failure(error: &anyhow::Error) -> TransportError {
    let text = format!("{error:#}");
    let code = [
        ("HttpResponseBodySize", waki::ErrorCode::HttpResponseBodySize(None)),
        ("HttpResponseIncomplete", waki::ErrorCode::HttpResponseIncomplete),
        ("ConnectionTerminated", waki::ErrorCode::ConnectionTerminated),
        ("ConnectionReadTimeout", waki::ErrorCode::ConnectionReadTimeout),
        ("HttpProtocolError", waki::ErrorCode::HttpProtocolError),
    ]
    .into_iter()
    .find(|(name, _)| text.contains(name));
    match code {
        Some((_, waki::ErrorCode::ConnectionReadTimeout)) => {
            TransportError::Failed("the API stopped sending its answer before the end (no data in time)".into())
        }
        Some((_, waki::ErrorCode::HttpResponseIncomplete | waki::ErrorCode::ConnectionTerminated)) => {
            TransportError::Failed(describe(&waki::ErrorCode::HttpResponseIncomplete))
        }
        Some((_, code)) => classify_code(&code),
        None => TransportError::Failed(format!("reading the body failed: {text}")),
    }
}

/// The whole body. A page usually comes in one chunk, which is kept as it came rather than
/// copied; the host bounds the total (`max_response_mib`), so nothing here trusts a length header.
fn read_body(response: &waki::Response) -> anyhow::Result<Vec<u8>> {
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk(1 << 20)? {
        if body.is_empty() {
            body = chunk;
        } else {
            body.extend_from_slice(&chunk);
        }
    }
    Ok(body)
}

fn classify(error: &anyhow::Error) -> TransportError {
    match error.downcast_ref::<waki::ErrorCode>() {
        Some(code) => classify_code(code),
        None => TransportError::Failed(format!("{error}")),
    }
}

fn classify_code(code: &waki::ErrorCode) -> TransportError {
    match code {
        waki::ErrorCode::HttpRequestDenied => TransportError::Denied(describe(code)),
        // An answer that is not HTTP will not become HTTP when asked again.
        waki::ErrorCode::HttpProtocolError
        | waki::ErrorCode::HttpResponseHeaderSize(_)
        | waki::ErrorCode::HttpResponseHeaderSectionSize(_) => TransportError::Malformed(describe(code)),
        code => TransportError::Failed(describe(code)),
    }
}

/// What a wasi:http error code means, in words an operator acts on (its `Display` is the
/// variant's debug form).
fn describe(code: &waki::ErrorCode) -> String {
    use waki::ErrorCode as E;
    match code {
        E::DnsError(payload) => match &payload.rcode {
            Some(why) => format!("cannot resolve the API's host name ({why})"),
            None => "cannot resolve the API's host name".into(),
        },
        E::DnsTimeout => "the API's host name did not resolve in time".into(),
        E::DestinationNotFound | E::DestinationUnavailable | E::DestinationIpUnroutable => "the API's address cannot be reached".into(),
        E::ConnectionRefused => "the API refused the connection".into(),
        E::ConnectionTerminated | E::HttpResponseIncomplete => {
            "the answer was cut short: the connection closed before all of it came".into()
        }
        E::ConnectionTimeout => "no connection to the API in time".into(),
        E::ConnectionReadTimeout | E::HttpResponseTimeout => "the API did not answer in time".into(),
        E::ConnectionWriteTimeout => "the request could not be sent in time".into(),
        E::TlsProtocolError | E::TlsCertificateError => "the TLS handshake with the API failed (check the certificate)".into(),
        E::TlsAlertReceived(alert) => match &alert.alert_message {
            Some(message) => format!("the API ended the TLS handshake: {message}"),
            None => "the API ended the TLS handshake".into(),
        },
        E::HttpRequestDenied => "the host's egress policy refused the request".into(),
        E::HttpResponseBodySize(_) => "the answer was larger than the host allows".into(),
        E::HttpProtocolError => "the API's answer was not valid HTTP (a malformed or oversized head)".into(),
        E::HttpResponseHeaderSize(_) | E::HttpResponseHeaderSectionSize(_) => "the API's answer had headers too large to read".into(),
        E::InternalError(Some(why)) => why.clone(),
        other => format!("{other:?}"),
    }
}

fn config(cfg: wit::Config) -> model::Config {
    model::Config { base_url: cfg.base_url, page_size: cfg.page_size }
}

fn from_wit(resource: wit::Resource) -> model::Resource {
    model::Resource {
        resource_type: resource.resource_type,
        id: resource.id,
        display_name: resource.display_name,
        traits: resource.traits_json,
        aliases: resource.aliases,
    }
}

fn page(page: model::Page) -> wit::Page {
    if !page.grants.is_empty() {
        host_log::write(Level::Debug, &format!("page with {} grants", page.grants.len()));
    }
    wit::Page {
        resources: page.resources.into_iter().map(resource).collect(),
        entitlements: page.entitlements.into_iter().map(entitlement).collect(),
        grants: page.grants.into_iter().map(grant).collect(),
        next_page_token: page.next_page_token,
    }
}

fn reference(r: model::ResourceRef) -> wit::ResourceRef {
    wit::ResourceRef { resource_type: r.resource_type, id: r.id }
}

fn resource(r: model::Resource) -> wit::Resource {
    wit::Resource { resource_type: r.resource_type, id: r.id, display_name: r.display_name, traits_json: r.traits, aliases: r.aliases }
}

fn entitlement(e: model::Entitlement) -> wit::Entitlement {
    let purpose = match e.purpose {
        model::Purpose::Assignment => wit::EntitlementPurpose::Assignment,
        model::Purpose::Permission => wit::EntitlementPurpose::Permission,
    };
    wit::Entitlement {
        id: e.id,
        resource: reference(e.resource),
        slug: e.slug,
        display_name: e.display_name,
        grantable_to: e.grantable_to,
        purpose: Some(purpose),
    }
}

fn identity(identity: &model::Identity) -> wit::Identity {
    let key = |k: Option<&'static str>| k.map(str::to_owned);
    match identity {
        model::Identity::User(p) => wit::Identity::User(wit::UserProfile {
            email: key(p.email),
            login: key(p.login),
            status: key(p.status),
            given_name: key(p.given_name),
            family_name: key(p.family_name),
            last_login: key(p.last_login),
            created_at: key(p.created_at),
        }),
        model::Identity::Group => wit::Identity::Group,
        model::Identity::Role => wit::Identity::Role,
        model::Identity::App => wit::Identity::App,
        model::Identity::Other => wit::Identity::Other,
    }
}

fn grant(g: model::Grant) -> wit::Grant {
    wit::Grant {
        id: g.id,
        entitlement: g.entitlement,
        principal: reference(g.principal),
        expandable: g.expandable,
        principal_aliases: g.principal_aliases,
    }
}

fn error(e: model::ConnectorError) -> wit::ConnectorError {
    use model::ConnectorError as E;
    match e {
        E::Unauthorized(m) => wit::ConnectorError::Unauthorized(m),
        E::Forbidden(m) => wit::ConnectorError::Forbidden(m),
        E::NotFound(m) => wit::ConnectorError::NotFound(m),
        E::RateLimited { retry_after_ms, message } => wit::ConnectorError::RateLimited(wit::RateLimit { retry_after_ms, message }),
        E::InvalidArgument(m) => wit::ConnectorError::InvalidArgument(m),
        E::Conflict(m) => wit::ConnectorError::Conflict(m),
        E::Upstream { status, code, message } => wit::ConnectorError::Upstream(wit::UpstreamError { status, code, message }),
        E::Unsupported(m) => wit::ConnectorError::Unsupported(m),
        E::Internal(m) => wit::ConnectorError::Internal(m),
    }
}
