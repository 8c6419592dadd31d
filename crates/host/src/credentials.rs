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
            CredentialSource::File(path) => {
                let bytes = crate::files::read_limited(path, crate::files::MAX_CREDENTIAL_FILE, "credential file")?;
                Some(
                    String::from_utf8(bytes)
                        .map_err(|_| HostError::Usage(format!("the API {what} in {} is not UTF-8 text", self.describe())))?,
                )
            }
        };
        let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
        if value.is_empty() {
            return Err(HostError::Usage(format!(
                "no Fivetran API {what}: set the {} (a user or system key from Fivetran's API Key settings)",
                self.describe()
            )));
        }
        let length = value.chars().count();
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
            return Err(HostError::Usage(format!(
                "the API {what} from the {} is {length} characters long; a Fivetran API {what} has {MIN_LENGTH} to {MAX_LENGTH}: check that it is the whole {what} and only it",
                self.describe()
            )));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(HostError::Usage(format!(
                "the API {what} from the {} holds a blank or control character; check that it is the whole {what} and only it",
                self.describe()
            )));
        }
        Ok(value)
    }
}

/// The shortest and longest key or secret read: Fivetran's are 16 and 32 characters; a value
/// much shorter could not be told apart from ordinary text when it is redacted.
const MIN_LENGTH: usize = 8;
const MAX_LENGTH: usize = 1024;

/// A Fivetran API key and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    key: String,
    secret: String,
    /// Every form they may be echoed in (see `forms`), made once.
    forms: std::sync::Arc<Vec<String>>,
}

impl Credentials {
    /// Credentials for the host to send; every form of them is redacted from what the host
    /// shows from then on ([`redact_known`]).
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Self {
        let (key, secret) = (key.into(), secret.into());
        let forms = std::sync::Arc::new(forms(&key, &secret));
        remember(&forms);
        Self { key, secret, forms }
    }

    pub fn load(key: &CredentialSource, secret: &CredentialSource) -> Result<Self> {
        let key_value = key.read("key")?;
        if key_value.contains(':') {
            return Err(HostError::Usage(format!(
                "the API key from the {} contains ':', which Basic authentication cannot carry; check that key and secret are not swapped or joined",
                key.describe()
            )));
        }
        Ok(Self::new(key_value, secret.read("secret")?))
    }

    /// `Basic base64(key:secret)`.
    pub(crate) fn authorization(&self) -> String {
        format!("Basic {}", token(&self.key, &self.secret))
    }

    #[cfg(test)]
    fn token(&self) -> String {
        token(&self.key, &self.secret)
    }

    /// `text` with every form of these credentials replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        self.redacted(text).into_owned()
    }

    /// [`Self::redact`], keeping `text` as it is when it holds none.
    pub fn redact_owned(&self, text: String) -> String {
        if self.forms.iter().any(|form| text.contains(form.as_str())) { self.redact(&text) } else { text }
    }

    /// [`Self::redact`], borrowing `text` when it holds none.
    pub fn redacted<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        redact_forms(text, &self.forms)
    }
}

/// `base64(key:secret)`, the header's token.
fn token(key: &str, secret: &str) -> String {
    STANDARD.encode(format!("{key}:{secret}"))
}

/// Every form in which an API, a proxy or a plugin could echo credentials: the header value, its
/// token, the secret and the key, each also as JSON and URL encoding write it. Forms shorter than
/// [`MIN_REDACTED`] are left out (they would match ordinary text).
fn forms(key: &str, secret: &str) -> Vec<String> {
    let token = token(key, secret);
    let mut forms = Vec::new();
    {
        for value in [format!("Basic {token}"), token, secret.to_owned(), key.to_owned()] {
            let json = serde_json::to_string(&value).unwrap_or_default();
            let json = json.trim_matches('"').to_owned();
            let url = percent_encode(&value);
            for form in [value, json, url] {
                if form.chars().count() >= MIN_REDACTED && !forms.contains(&form) {
                    forms.push(form);
                }
            }
        }
    }
    // Longest first, so that a form inside another (the token inside the header) does not
    // break the longer one's match.
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    forms
}

/// The shortest form of a credential that is redacted; every key and secret [`Credentials::load`]
/// accepts is longer.
pub const MIN_REDACTED: usize = 4;

fn redact_forms<'t>(text: &'t str, forms: &[String]) -> std::borrow::Cow<'t, str> {
    let mut out = std::borrow::Cow::Borrowed(text);
    for form in forms {
        if out.contains(form.as_str()) {
            out = std::borrow::Cow::Owned(out.replace(form.as_str(), "[redacted]"));
        }
    }
    out
}

/// Percent-encodes every byte but the unreserved ones, as a URL query carries a value.
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Every form of every credentials this process has made, for [`redact_known`].
static KNOWN: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

fn remember(forms: &[String]) {
    let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
    for form in forms {
        if !known.contains(form) {
            known.push(form.clone());
        }
    }
    known.sort_by_key(|form| std::cmp::Reverse(form.len()));
}

/// `text` with every form of every credentials this process has made replaced by `[redacted]`:
/// the last check on whatever the host prints or logs, whichever tenant it came from.
pub fn redact_known(text: &str) -> std::borrow::Cow<'_, str> {
    redact_forms(text, &KNOWN.read().unwrap_or_else(|p| p.into_inner()))
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
    fn escaped_forms_are_redacted_too() {
        let c = Credentials::new("key/with+plus", "sec\"ret/val=");
        let json = serde_json::to_string("sec\"ret/val=").unwrap();
        assert_eq!(c.redact(&format!("{{\"secret\":{json}}}")), "{\"secret\":\"[redacted]\"}");
        assert_eq!(c.redact("cursor=key%2Fwith%2Bplus&x=sec%22ret%2Fval%3D"), "cursor=[redacted]&x=[redacted]");
        let token = c.token();
        assert_eq!(c.redact(&format!("t={}", percent_encode(&token))), "t=[redacted]");
        assert_eq!(redact_known("a sec\"ret/val= b"), "a [redacted] b", "known to the process-wide check");
    }

    #[test]
    fn missing_variable_is_a_usage_error_naming_it() {
        let source = CredentialSource::Env("CONNECTOR_HOST_TEST_SURELY_UNSET".into());
        let error = source.read("key").unwrap_err();
        assert_eq!(error.exit_status(), 2);
        assert!(error.message().contains("CONNECTOR_HOST_TEST_SURELY_UNSET"), "{error}");
    }

    #[test]
    fn credentials_of_implausible_length_or_with_blanks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = |text: &str| {
            let path = dir.path().join("secret");
            std::fs::write(&path, text).unwrap();
            CredentialSource::File(path)
        };
        assert_eq!(file("  a-good-secret-value\n").read("secret").unwrap(), "a-good-secret-value");
        for (text, expect) in [
            ("abc", "3 characters long"),
            (&"x".repeat(2000), "2000 characters long"),
            ("two words here", "blank or control"),
            ("esc\u{1b}aping-secret", "blank or control"),
        ] {
            let error = file(text).read("secret").unwrap_err();
            assert_eq!(error.exit_status(), 2);
            assert!(error.message().contains(expect), "{error}");
        }
        let huge = file(&"y".repeat(100_000)).read("secret").unwrap_err();
        assert!(huge.message().contains("larger than 65536 bytes"), "{huge}");
    }
}
