//! API credentials, held by the host only. They never reach the plugin, a log or a file: the
//! egress hooks add them to requests bound for the tenant's API origin, and `Debug` redacts them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{HostError, Result};

pub const DEFAULT_KEY_ENV: &str = "FIVETRAN_API_KEY";
pub const DEFAULT_SECRET_ENV: &str = "FIVETRAN_API_SECRET";

/// Where a tenant's key and secret come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    Env(String),
    File(std::path::PathBuf),
}

impl CredentialSource {
    fn describe(&self) -> String {
        match self {
            CredentialSource::Env(name) => format!("environment variable {name}"),
            CredentialSource::File(path) => format!("file {}", path.display()),
        }
    }

    fn read(&self, what: &str) -> Result<String> {
        let value = match self {
            CredentialSource::Env(name) => std::env::var(name).ok(),
            CredentialSource::File(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| HostError::Usage(format!("cannot read the API {what} from {}: {e}", self.describe())))?,
            ),
        };
        let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
        if value.is_empty() {
            return Err(HostError::Usage(format!(
                "no Fivetran API {what}: set the {} (a user or system key from Fivetran's API Key settings)",
                self.describe()
            )));
        }
        Ok(value)
    }
}

/// A Fivetran API key and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    key: String,
    secret: String,
}

impl Credentials {
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self { key: key.into(), secret: secret.into() }
    }

    pub fn load(key: &CredentialSource, secret: &CredentialSource) -> Result<Self> {
        let credentials = Self::new(key.read("key")?, secret.read("secret")?);
        if credentials.key.contains(':') {
            return Err(HostError::Usage(format!(
                "the API key from the {} contains ':', which Basic authentication cannot carry; check that key and secret are not swapped or joined",
                key.describe()
            )));
        }
        Ok(credentials)
    }

    /// `Basic base64(key:secret)`.
    pub(crate) fn authorization(&self) -> String {
        format!("Basic {}", self.token())
    }

    /// `base64(key:secret)`, the header's token.
    fn token(&self) -> String {
        STANDARD.encode(format!("{}:{}", self.key, self.secret))
    }

    /// Replaces every occurrence of the header value, its base64 token alone, the secret or the
    /// key in `text` (an API or a proxy may echo any of them in an error).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in [self.authorization(), self.token(), self.secret.clone(), self.key.clone()] {
            if secret.len() >= 4 && out.contains(&secret) {
                out = out.replace(&secret, "[redacted]");
            }
        }
        out
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_redact_never_show_the_secret() {
        let c = Credentials::new("mykey123", "s3cr3t-value");
        assert_eq!(format!("{c:?}"), "Credentials([redacted])");
        let header = c.authorization();
        assert_eq!(c.redact(&format!("x {header} s3cr3t-value mykey123")), "x [redacted] [redacted] [redacted]");
        let token = header.trim_start_matches("Basic ");
        assert_eq!(c.redact(&format!("echoed token={token}.")), "echoed token=[redacted].");
    }

    #[test]
    fn missing_variable_is_a_usage_error_naming_it() {
        let source = CredentialSource::Env("CONNECTOR_HOST_TEST_SURELY_UNSET".into());
        let error = source.read("key").unwrap_err();
        assert_eq!(error.exit_status(), 2);
        assert!(error.message().contains("CONNECTOR_HOST_TEST_SURELY_UNSET"), "{error}");
    }
}
