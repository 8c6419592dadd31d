//! What a connector reports, as plain Rust: a mirror of the WIT `types` interface, so that a
//! connector's logic is tested natively and the WIT glue ([`crate::export_connector`]) converts.

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRef {
    pub resource_type: String,
    pub id: String,
}

impl ResourceRef {
    pub fn new(resource_type: &str, id: &str) -> Self {
        Self { resource_type: resource_type.to_owned(), id: id.to_owned() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub resource_type: String,
    pub id: String,
    pub display_name: String,
    /// A JSON object, as text: written once by the mapping, passed through as is.
    pub traits: String,
    /// Other keys the service names it by (e.g. its URL); grants may name it by them.
    pub aliases: Vec<String>,
}

impl Resource {
    pub fn new(resource_type: &str, id: String, display_name: String, traits: String) -> Self {
        Self { resource_type: resource_type.to_owned(), id, display_name, traits, aliases: Vec::new() }
    }

    pub fn with_aliases(mut self, aliases: Vec<String>) -> Self {
        self.aliases = aliases;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entitlement {
    pub id: String,
    pub resource: ResourceRef,
    pub slug: String,
    pub display_name: String,
    pub grantable_to: Vec<String>,
    pub purpose: Purpose,
}

/// What holding an entitlement means (the WIT `entitlement-purpose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Membership or assignment: a team's member, a role's holder.
    Assignment,
    /// A permission on something.
    Permission,
}

impl Entitlement {
    /// A permission; [`Entitlement::assignment`] makes it a membership or an assignment.
    pub fn new(resource: ResourceRef, slug: &str, display_name: String, grantable_to: &[&str]) -> Self {
        Self {
            id: entitlement_id(&resource.resource_type, &resource.id, slug),
            resource,
            slug: slug.to_owned(),
            display_name,
            grantable_to: grantable_to.iter().map(|s| (*s).to_owned()).collect(),
            purpose: Purpose::Permission,
        }
    }

    pub fn assignment(mut self) -> Self {
        self.purpose = Purpose::Assignment;
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub id: String,
    pub entitlement: String,
    pub principal: ResourceRef,
    pub expandable: Vec<String>,
    /// Other keys the service gave for the principal, for the host to resolve when
    /// `principal.id` is not an id (see the WIT contract).
    pub principal_aliases: Vec<String>,
}

impl Grant {
    pub fn new(entitlement: &str, principal: ResourceRef, expandable: Vec<String>) -> Self {
        Self {
            id: grant_id(entitlement, &principal),
            entitlement: entitlement.to_owned(),
            principal,
            expandable,
            principal_aliases: Vec::new(),
        }
    }

    pub fn with_principal_aliases(mut self, aliases: Vec<String>) -> Self {
        self.principal_aliases = aliases;
        self
    }
}

/// `{entitlement id}:{principal type}:{principal id}`.
pub fn grant_id(entitlement: &str, principal: &ResourceRef) -> String {
    [entitlement, ":", &principal.resource_type, ":", &principal.id].concat()
}

/// `{type}:{resource_id}:{slug}`.
pub fn entitlement_id(resource_type: &str, resource_id: &str, slug: &str) -> String {
    [resource_type, ":", resource_id, ":", slug].concat()
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub resources: Vec<Resource>,
    pub entitlements: Vec<Entitlement>,
    pub grants: Vec<Grant>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub base_url: String,
    pub page_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    User,
    System,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountInfo {
    pub account_id: String,
    pub account_name: Option<String>,
    pub key_kind: KeyKind,
    pub key_owner: Option<String>,
}

/// Errors the host acts on; mirrors the WIT `connector-error` variant.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorError {
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    RateLimited { retry_after_ms: Option<u64>, message: String },
    InvalidArgument(String),
    Conflict(String),
    Upstream { status: Option<u16>, code: Option<String>, message: String },
    Unsupported(String),
    Internal(String),
}

/// The `upstream-error` code of a change the service accepted but whose state, read back, does not
/// show it (or shows something else changed): the host reports it and does not retry it.
pub const UNVERIFIED: &str = "Unverified";

impl ConnectorError {
    /// A change sent and accepted whose outcome the state read back does not confirm; `message`
    /// says what the service showed.
    pub fn unverified(message: String) -> Self {
        ConnectorError::Upstream { status: None, code: Some(UNVERIFIED.into()), message }
    }
}

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq)]
pub struct NewAccount {
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub account_role: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Created(Resource),
    AlreadyExists(Resource),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
}

/// The fields of an account to change: only those given change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountChanges {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub phone: Option<String>,
    pub account_role: Option<String>,
}

impl AccountChanges {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// What an update did; either way, the account or resource as it is now.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    Updated(Resource),
    Unchanged(Resource),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationChange {
    Disabled,
    AlreadyDisabled,
    Enabled,
    AlreadyEnabled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivationOutcome {
    pub change: ActivationChange,
    pub user: Resource,
}

/// A resource to create, e.g. a team or a group.
#[derive(Debug, Clone, PartialEq)]
pub struct NewResource {
    pub resource_type: String,
    pub name: String,
    pub description: Option<String>,
    pub account_role: Option<String>,
}

/// The fields of a resource to change: only those given change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub account_role: Option<String>,
}

impl ResourceChanges {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantChange {
    Granted,
    Updated,
    AlreadyHeld,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GrantOutcome {
    pub grant: Grant,
    pub change: GrantChange,
    /// The grant an update replaced.
    pub replaced: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeChange {
    Revoked,
    NotHeld,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RevokeOutcome {
    pub grant: String,
    pub change: RevokeChange,
}

/// A kind of resource a connector reports, in the order the host should list them.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub id: &'static str,
    pub display_name: &'static str,
    /// Types whose resources `list-entitlements` needs for this type.
    pub entitlements_need: &'static [&'static str],
    /// What its resources are (the WIT `identity`).
    pub identity: Identity,
}

/// What the resources of a type are, whatever the connector calls them.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// People's accounts, with the trait keys of their profile.
    User(UserProfile),
    Group,
    Role,
    App,
    Other,
}

/// The trait keys that hold a user's profile (the WIT `user-profile`); none where a connector
/// has no such trait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserProfile {
    pub email: Option<&'static str>,
    pub login: Option<&'static str>,
    /// Its value is `enabled` or `disabled`.
    pub status: Option<&'static str>,
    pub given_name: Option<&'static str>,
    pub family_name: Option<&'static str>,
    pub last_login: Option<&'static str>,
    pub created_at: Option<&'static str>,
}

impl UserProfile {
    /// A user type whose traits hold no profile.
    pub const NONE: Self =
        Self { email: None, login: None, status: None, given_name: None, family_name: None, last_login: None, created_at: None };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Sync,
    Provision,
}

/// A secret the connector's API needs; the host reads and applies it (see the WIT contract).
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub name: &'static str,
    pub default_env: &'static str,
    pub description: &'static str,
}

/// How the host applies the credentials.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthScheme {
    /// `Authorization: Basic`, from the credentials named `user` and `password`.
    Basic { user: &'static str, password: &'static str },
    /// `Authorization: Bearer`, from the credential so named.
    Bearer(&'static str),
    /// A header of this name, from the credential so named.
    Header { name: &'static str, credential: &'static str },
}

/// The response headers by which the API announces its request budget.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitHeaders {
    pub limit: &'static str,
    pub remaining: &'static str,
    pub window_seconds: u32,
}

/// What a connector declares about itself: the WIT `connector-metadata`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub resource_types: &'static [ResourceType],
    pub capabilities: &'static [Capability],
    pub credentials: &'static [Credential],
    pub auth: AuthScheme,
    pub default_base_url: Option<&'static str>,
    pub rate_limit: Option<RateLimitHeaders>,
    pub max_page_size: u32,
}
