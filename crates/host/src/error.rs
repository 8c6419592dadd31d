//! What can go wrong, as one-line messages with the exit status `CONTRACT.md` section 3 gives.

use std::fmt;

/// A failure of a host operation. Every message is one line naming what failed and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostError {
    /// A bad flag, tenant file, URL or missing credential: exit status 2.
    Usage(String),
    /// The API rejected the credentials (401) or their scope (403): exit status 3.
    Credentials(String),
    /// The API failed after retries, or answered something malformed: exit status 4.
    Api(String),
    /// The sandbox stopped the plugin (egress denied, a limit hit): exit status 5.
    Sandbox(String),
    /// The connector rejected a request as invalid: exit status 2.
    InvalidArgument(String),
    /// Anything else (a connector bug, an I/O error): exit status 1.
    Other(String),
}

impl HostError {
    pub fn exit_status(&self) -> i32 {
        match self {
            HostError::Usage(_) | HostError::InvalidArgument(_) => 2,
            HostError::Credentials(_) => 3,
            HostError::Api(_) => 4,
            HostError::Sandbox(_) => 5,
            HostError::Other(_) => 1,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            HostError::Usage(m)
            | HostError::Credentials(m)
            | HostError::Api(m)
            | HostError::Sandbox(m)
            | HostError::InvalidArgument(m)
            | HostError::Other(m) => m,
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages may quote API answers: keep them on one line whatever they hold, with what
        // would move the cursor or start a new line shown, not obeyed.
        f.write_str(&crate::text::escape_controls(self.message()))
    }
}

impl std::error::Error for HostError {}

pub type Result<T, E = HostError> = std::result::Result<T, E>;
