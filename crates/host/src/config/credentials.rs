//! Credentials, held by the host only. They never reach the connector, a log or a file: the egress
//! hooks put them on requests bound for the tenant's API origin, in the header the connector's
//! declared scheme names (HTTP Basic from two secrets, a bearer token, or a named header), and
//! `Debug` redacts them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, HeaderName};

use crate::bindings::latest::types::{AuthScheme, Credential};
use crate::error::{HostError, Result};

/// Where a credential comes from.
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

    /// The credential, checked for a plausible shape; `what` names it ("api_key").
    #[cfg(test)]
    fn read(&self, what: &str, about: &str) -> Result<String> {
        self.value(what)?.ok_or_else(|| HostError::usage(format!("no {what}: set the {} ({about})", self.describe())))
    }

    /// The credential, checked for a plausible shape; none when it is not set (or empty).
    fn value(&self, what: &str) -> Result<Option<String>> {
        let value = match self {
            CredentialSource::Env(name) => std::env::var(name).ok(),
            CredentialSource::File(path) => {
                let bytes = crate::files::read_limited(path, crate::files::MAX_CREDENTIAL_FILE, "credential file")?;
                Some(
                    String::from_utf8(bytes)
                        .map_err(|_| HostError::usage(format!("the {what} in {} is not UTF-8 text", self.describe())))?,
                )
            }
        };
        let value = value.map(|v| v.trim().to_owned()).unwrap_or_default();
        if value.is_empty() {
            return Ok(None);
        }
        let length = value.chars().count();
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
            return Err(HostError::usage(format!(
                "the {what} from the {} is {length} characters long; credentials have {MIN_LENGTH} to {MAX_LENGTH}: check that it is the whole {what} and only it",
                self.describe()
            )));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(HostError::usage(format!(
                "the {what} from the {} holds a blank or control character; check that it is the whole {what} and only it",
                self.describe()
            )));
        }
        Ok(Some(value))
    }
}

/// The shortest and longest credential read: API keys and tokens are far longer; a shorter value
/// could not be told apart from ordinary text when it is redacted, so every credential the host
/// accepts is one it redacts ([`MIN_REDACTED`]).
const MIN_LENGTH: usize = MIN_REDACTED;
const MAX_LENGTH: usize = 4096;

/// A tenant's credentials, as the one header the host puts on requests to the tenant's origin.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The header and its value; none for a connector that declares no credentials.
    header: Option<(HeaderName, String)>,
    /// Every form they may be echoed in (see `forms`), made once.
    forms: Arc<Vec<String>>,
}

impl Credentials {
    /// HTTP Basic credentials from an API key and its secret.
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self::basic(key, secret)
    }

    /// `Authorization: Basic base64(user:password)`.
    pub fn basic(user: impl Into<String>, password: impl Into<String>) -> Self {
        let (user, password) = (user.into(), password.into());
        let token = STANDARD.encode(format!("{user}:{password}"));
        Self::made(Some((AUTHORIZATION, format!("Basic {token}"))), &[&token, &password, &user])
    }

    /// `Authorization: Bearer TOKEN`.
    pub fn bearer(token: impl Into<String>) -> Self {
        let token = token.into();
        Self::made(Some((AUTHORIZATION, format!("Bearer {token}"))), &[&token])
    }

    /// A header of the given name holding `value`.
    pub fn header(name: &str, value: impl Into<String>) -> Result<Self> {
        let name = HeaderName::try_from(name).map_err(|_| HostError::usage(format!("{name:?} is not a header name")))?;
        let value = value.into();
        Ok(Self::made(Some((name, value.clone())), &[&value]))
    }

    /// No credentials: requests go as the connector made them.
    pub fn none() -> Self {
        Self::made(None, &[])
    }

    fn made(header: Option<(HeaderName, String)>, secrets: &[&str]) -> Self {
        let mut values: Vec<&str> = secrets.to_vec();
        if let Some((_, value)) = &header {
            values.insert(0, value);
        }
        let forms = Arc::new(forms(&values));
        Self { header, forms }
    }

    /// The credentials a connector's scheme makes of the values of its declared credentials.
    pub fn for_scheme(auth: &AuthScheme, values: &BTreeMap<String, String>) -> Result<Self> {
        let value = |name: &str| {
            values.get(name).cloned().ok_or_else(|| {
                HostError::usage(format!(
                    "the connector's auth scheme uses the credential {name:?}, which it does not declare; the connector is faulty"
                ))
            })
        };
        match auth {
            AuthScheme::Basic(basic) => {
                let user = value(&basic.user)?;
                if user.contains(':') {
                    return Err(HostError::usage(format!(
                        "the {} contains ':', which Basic authentication cannot carry; check that the credentials are not swapped or joined",
                        basic.user
                    )));
                }
                Ok(Self::basic(user, value(&basic.password)?))
            }
            AuthScheme::Bearer(name) => Ok(Self::bearer(value(name)?)),
            AuthScheme::Header(header) => Self::header(&header.name, value(&header.credential)?),
        }
    }

    /// Reads each credential a connector declares from where `sources` says (by default its
    /// declared environment variable) and applies the connector's scheme.
    pub fn load(declared: &[Credential], auth: &AuthScheme, sources: &BTreeMap<String, CredentialSource>) -> Result<Self> {
        if declared.is_empty() {
            return Ok(Self::none());
        }
        let mut values = BTreeMap::new();
        // Every missing credential named in one error, not one a run.
        let mut missing = Vec::new();
        for credential in declared {
            let source = sources.get(&credential.name).cloned().unwrap_or_else(|| CredentialSource::Env(credential.default_env.clone()));
            match source.value(&credential.name)? {
                Some(value) => {
                    values.insert(credential.name.clone(), value);
                }
                None => missing.push((credential, source)),
            }
        }
        match missing.as_slice() {
            [] => Self::for_scheme(auth, &values),
            [(credential, source)] => {
                Err(HostError::usage(format!("no {}: set the {} ({})", credential.name, source.describe(), credential.description)))
            }
            several => {
                let names: Vec<&str> = several.iter().map(|(c, _)| c.name.as_str()).collect();
                let sets: Vec<String> = several.iter().map(|(c, s)| format!("the {} ({})", s.describe(), c.description)).collect();
                Err(HostError::usage(format!("no {}: set {}", names.join(" or "), sets.join(" and "))))
            }
        }
    }

    /// The header the host adds to requests bound for the tenant's origin, if any.
    pub(crate) fn applied(&self) -> Option<&(HeaderName, String)> {
        self.header.as_ref()
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

/// Every form in which an API, a proxy or a connector could echo credentials: each value (the
/// header value, a token, each secret), also as JSON and URL encoding write it. Forms shorter than
/// [`MIN_REDACTED`] are left out (they would match ordinary text).
fn forms(values: &[&str]) -> Vec<String> {
    let mut forms = Vec::new();
    for value in values {
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json.trim_matches('"').to_owned();
        let url = percent_encode(value);
        for form in [(*value).to_owned(), json, url] {
            if form.chars().count() >= MIN_REDACTED && !forms.contains(&form) {
                forms.push(form);
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

/// The last check on whatever a front end prints, logs or answers: every form of every
/// credentials it has learned, whichever tenant they belong to, replaced by `[redacted]`. A front
/// end owns one and teaches it each tenant's credentials as it resolves them; clones share what
/// was learned. (Errors about one tenant are already redacted with its own credentials; this
/// catches text that crosses tenants, such as a log line or a summary.)
#[derive(Clone, Default)]
pub struct Redactor {
    forms: Arc<std::sync::RwLock<Vec<String>>>,
}

impl Redactor {
    /// Adds every form of `credentials`; credentials learned before are not added twice, so a
    /// reload of the same tenants does not grow it.
    pub fn learn(&self, credentials: &Credentials) {
        self.add(&credentials.forms);
    }

    /// Adds every form of a secret that is no tenant's credentials: an API token, a database
    /// password.
    pub fn learn_secret(&self, secret: &str) {
        self.add(&forms(&[secret]));
    }

    fn add(&self, forms: &[String]) {
        let mut known = self.forms.write().unwrap_or_else(|p| p.into_inner());
        let before = known.len();
        for form in forms {
            if !known.contains(form) {
                known.push(form.clone());
            }
        }
        if known.len() != before {
            known.sort_by_key(|form| std::cmp::Reverse(form.len()));
        }
    }

    /// `text` with every learned form replaced by `[redacted]`.
    pub fn redact<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        redact_forms(text, &self.forms.read().unwrap_or_else(|p| p.into_inner()))
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.forms.read().unwrap_or_else(|p| p.into_inner()).len();
        write!(f, "Redactor({count} forms)")
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
        let header = c.applied().unwrap().1.clone();
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
        let token = STANDARD.encode("key/with+plus:sec\"ret/val=");
        assert_eq!(c.redact(&format!("t={}", percent_encode(&token))), "t=[redacted]");
        let redactor = Redactor::default();
        assert_eq!(redactor.redact("a sec\"ret/val= b"), "a sec\"ret/val= b", "nothing learned yet");
        redactor.learn(&c);
        assert_eq!(redactor.clone().redact("a sec\"ret/val= b"), "a [redacted] b", "learned, and shared by clones");
    }

    #[test]
    fn a_redactor_learns_each_form_once_and_separate_redactors_share_nothing() {
        let (one, other) = (Redactor::default(), Redactor::default());
        let c = Credentials::bearer("tok-one-123456");
        one.learn(&c);
        let learned = format!("{one:?}");
        one.learn(&Credentials::bearer("tok-one-123456"));
        assert_eq!(format!("{one:?}"), learned, "a reload of the same credentials adds nothing");
        assert_eq!(one.redact("x tok-one-123456"), "x [redacted]");
        assert_eq!(other.redact("x tok-one-123456"), "x tok-one-123456", "another front end's redactor knows only its own");
    }

    #[test]
    fn missing_variable_is_a_usage_error_naming_it() {
        let source = CredentialSource::Env("CONNECTOR_HOST_TEST_SURELY_UNSET".into());
        let error = source.read("api_key", "an API key").unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Usage);
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
        assert_eq!(file("  a-good-secret-value\n").read("secret", "").unwrap(), "a-good-secret-value");
        for (text, expect) in [
            ("abc", "3 characters long"),
            (&"x".repeat(5000), "5000 characters long"),
            ("two words here", "blank or control"),
            ("esc\u{1b}aping-secret", "blank or control"),
        ] {
            let error = file(text).read("secret", "").unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::Usage);
            assert!(error.message().contains(expect), "{error}");
        }
        let huge = file(&"y".repeat(100_000)).read("secret", "").unwrap_err();
        assert!(huge.message().contains("larger than 65536 bytes"), "{huge}");
    }
}
