//! What can go wrong: one error type with a kind (from which each front end chooses its answer:
//! the command line an exit status of `docs/contract.md` section 3, a service an HTTP status), a
//! one-line message that says what failed in neutral words, and the
//! setting that would get past it, if one would. The command line words the fix for its flags and
//! tenant file (`raise max_requests in the tenant file`); a service words it for its own API.

use std::fmt;

/// What kind of failure. Front ends map kinds to their own answers; the exit statuses below are
/// the command line's (`docs/contract.md` section 3), named here for orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A bad flag, tenant file, URL or missing credential: exit status 2.
    Usage,
    /// The API rejected the credentials (401) or their scope (403): exit status 3.
    Credentials,
    /// The API failed after retries, or answered something malformed: exit status 4.
    Api,
    /// The sandbox stopped the connector (egress denied, a limit hit): exit status 5.
    Sandbox,
    /// The connector rejected a request as invalid: exit status 2.
    InvalidArgument,
    /// What a change names does not exist (a user, a group, an entitlement's resource): exit
    /// status 2, as a request naming it is wrong; an API answers 404.
    NotFound,
    /// The service holds something that conflicts with the change: exit status 1; an API
    /// answers 409.
    Conflict,
    /// Anything else (a connector bug, an I/O error): exit status 1.
    Other,
}

/// A failure of a host operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    kind: ErrorKind,
    message: String,
    setting: Option<&'static str>,
}

impl HostError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), setting: None }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub fn credentials(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Credentials, message)
    }

    pub fn api(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Api, message)
    }

    pub fn sandbox(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Sandbox, message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// The tenant setting that would get past this failure (`max_requests`,
    /// `allow_private_network`, `base_url`), for whoever words the fix.
    pub fn with_setting(mut self, setting: &'static str) -> Self {
        self.setting = Some(setting);
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn setting(&self) -> Option<&'static str> {
        self.setting
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with its message rewritten (redacted, say).
    pub fn map_message(self, rewrite: impl FnOnce(&str) -> String) -> Self {
        Self { message: rewrite(&self.message), ..self }
    }
}

/// What the sandbox refused or stopped, and the tenant setting that would allow it, if one would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub setting: Option<&'static str>,
}

impl Refusal {
    pub fn new(message: impl Into<String>, setting: Option<&'static str>) -> Self {
        Self { message: message.into(), setting }
    }
}

impl From<Refusal> for HostError {
    /// A refusal stops the connector: a sandbox error.
    fn from(refusal: Refusal) -> Self {
        Self { kind: ErrorKind::Sandbox, message: refusal.message, setting: refusal.setting }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages may quote API answers: keep them on one line whatever they hold, with what
        // would move the cursor or start a new line shown, not obeyed.
        f.write_str(&crate::text::escape_controls(&self.message))
    }
}

impl std::error::Error for HostError {}

pub type Result<T, E = HostError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_and_the_setting_ride_along() {
        let error = HostError::sandbox("request limit reached").with_setting("max_requests");
        assert_eq!((error.kind(), error.setting()), (ErrorKind::Sandbox, Some("max_requests")));
        assert_eq!(HostError::usage("x").kind(), ErrorKind::Usage);
        assert_eq!(HostError::api("a\nb").to_string(), "a\\nb", "one line, the newline shown");
    }
}
