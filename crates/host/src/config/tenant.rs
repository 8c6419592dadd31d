//! Tenants: who a run is for, with what credentials, policy and limits (`docs/contract.md` section 4).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use std::collections::BTreeMap;

use crate::bindings::latest::types::ConnectorMetadata;
use crate::credentials::{CredentialSource, Credentials};
use crate::egress::EgressPolicy;
use crate::error::{HostError, Result};
use crate::http::{RequestTimeouts, TrafficLimits};
use crate::retry::RetryPolicy;

pub const DEFAULT_TENANT_ID: &str = "default";
pub const DEFAULT_MEMORY_LIMIT_MIB: u64 = 64;
pub const DEFAULT_TIMEOUT_S: u64 = 900;
pub const DEFAULT_MAX_CONCURRENCY: usize = 8;
/// Records one sync may hold, in MiB: about four times the records of 100,000 users.
pub const DEFAULT_MAX_SYNC_MIB: u64 = 512;
/// Wall-clock limit of one call into the connector.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(180);
/// CPU time one call may spend in the connector's code.
pub const DEFAULT_CPU_TIME_PER_CALL: Duration = Duration::from_secs(10);
/// Bytes the connector may hand the host at once.
pub const DEFAULT_MAX_RETURN_BYTES: usize = 16 * 1024 * 1024;

/// Everything a run for one tenant needs, credentials included.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    pub id: String,
    pub base_url: String,
    pub credentials: Credentials,
    pub allow_private_network: bool,
    /// Linear memory the connector may use, in bytes.
    pub memory_limit_bytes: usize,
    /// Wall-clock limit of a whole run (a sync, say).
    pub run_timeout: Duration,
    /// Wall-clock limit of one call into the connector (one API request).
    pub call_timeout: Duration,
    pub max_concurrency: usize,
    /// Items per listing request; none: the largest page the connector declares.
    pub page_size: Option<u32>,
    pub request_timeouts: RequestTimeouts,
    pub retry: RetryPolicy,
    /// Requests per run and bytes per response.
    pub traffic: TrafficLimits,
    /// CPU time one call may spend in the connector's code (waiting for the API does not count).
    pub cpu_time_per_call: Duration,
    /// Bytes the connector may hand the host at once: a call's answer (its strings, and each list
    /// entry at its size as a host value) or one message it logs. Counted while the answer is
    /// copied out of the connector, so the host never allocates more; past it the call fails with
    /// a sandbox limit.
    pub max_return_bytes: usize,
    /// Where the credentials came from (variables or files), for the message when the API
    /// rejects them.
    pub credentials_hint: String,
    /// Bytes of records (resources, entitlements, grants) one sync may hold in the host's memory,
    /// as the pages bring them; past it the sync stops with the limit named, so that one tenant
    /// cannot take the process, or the tenants beside it, with it.
    pub max_sync_bytes: u64,
}

pub use crate::engine::MAX_MEMORY_LIMIT_MIB;

impl TenantConfig {
    /// A tenant with default settings.
    pub fn new(id: &str, base_url: &str, credentials: Credentials) -> Self {
        Self {
            id: id.to_owned(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            credentials,
            allow_private_network: false,
            memory_limit_bytes: (DEFAULT_MEMORY_LIMIT_MIB * 1024 * 1024) as usize,
            run_timeout: Duration::from_secs(DEFAULT_TIMEOUT_S),
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            page_size: None,
            request_timeouts: RequestTimeouts::default(),
            retry: RetryPolicy::default(),
            traffic: TrafficLimits::default(),
            cpu_time_per_call: DEFAULT_CPU_TIME_PER_CALL,
            max_return_bytes: DEFAULT_MAX_RETURN_BYTES,
            max_sync_bytes: DEFAULT_MAX_SYNC_MIB * 1024 * 1024,
            credentials_hint: "the tenant's credentials".into(),
        }
    }

    /// Bytes one answer may hold: `max_response_bytes`, and at most an eighth of the connector's
    /// memory: the connector holds the answer while it reads it, and a buffer growing by doubling
    /// needs about four times its size on the way. Past it the answer is refused with the limit
    /// named, before the connector runs out of memory on it.
    pub fn max_response_bytes(&self) -> u64 {
        self.traffic.max_response_bytes.min(self.memory_limit_bytes as u64 / 8).max(1)
    }

    pub fn egress_policy(&self) -> Result<EgressPolicy> {
        EgressPolicy::for_base_url(&self.base_url, self.allow_private_network)
    }
}

/// One `[[tenant]]` table as written; every key but `id` is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TenantEntry {
    pub id: String,
    /// A built-in connector, by name (the command's default when neither this nor `component` is set).
    pub connector: Option<String>,
    /// A connector's component file to run instead, relative to the tenant file's folder (key
    /// `component`, or `plugin` as earlier releases named it).
    #[serde(alias = "plugin")]
    pub component: Option<PathBuf>,
    pub base_url: Option<String>,
    pub allow_private_network: Option<bool>,
    pub memory_limit_mib: Option<u64>,
    pub timeout_s: Option<u64>,
    pub max_concurrency: Option<usize>,
    /// Requests one sync may send (default 100000).
    pub max_requests: Option<u64>,
    /// Bytes one API answer may hold, in MiB (default 32).
    pub max_response_mib: Option<u64>,
    /// CPU time one call into the connector may use, in milliseconds (default 10000).
    pub cpu_time_ms: Option<u64>,
    /// Records one sync may hold in the host's memory, in MiB (default 512).
    pub max_sync_mib: Option<u64>,
    /// How often the service (`serve`) syncs the tenant, in seconds (default 3600); the one-shot
    /// commands do not read it.
    pub sync_interval_s: Option<u64>,
    /// Where each credential the connector declares comes from: `{name}_env` (a variable's name)
    /// or `{name}_file` (a file's path), e.g. `api_key_env` or `token_file`.
    #[serde(flatten)]
    pub credential_keys: BTreeMap<String, String>,
    /// Where relative credential file paths start: the tenant file's folder.
    #[serde(skip)]
    pub base_dir: Option<PathBuf>,
}

/// A credential key's credential name and whether it names a file: `api_key_file` is
/// `("api_key", true)`.
fn credential_key(key: &str) -> Option<(&str, bool)> {
    if let Some(name) = key.strip_suffix("_file") {
        return Some((name, true));
    }
    key.strip_suffix("_env").map(|name| (name, false))
}

/// Settings given on the command line, which win over the tenant file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub base_url: Option<String>,
    pub allow_private_network: bool,
}

/// How often the service syncs a tenant that does not say.
pub const DEFAULT_SYNC_INTERVAL_S: u64 = 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    #[serde(default)]
    tenant: Vec<TenantEntry>,
}

/// Reads a tenant file: one or more `[[tenant]]` tables with distinct ids.
pub fn read_tenant_file(path: &Path) -> Result<Vec<TenantEntry>> {
    let bytes = crate::files::read_limited(path, crate::files::MAX_TENANT_FILE, "tenant file")?;
    let text = String::from_utf8(bytes).map_err(|_| HostError::usage(format!("tenant file {} is not UTF-8 text", path.display())))?;
    check_keys(&text).map_err(|(line, why)| HostError::usage(format!("tenant file {} (line {line}): {why}", path.display())))?;
    let file: TenantFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        HostError::usage(format!("tenant file {}{at}: {}", path.display(), e.message().trim()))
    })?;
    if file.tenant.is_empty() {
        return Err(HostError::usage(format!("tenant file {} has no [[tenant]] table; add one with at least an id", path.display())));
    }
    let mut seen = std::collections::BTreeSet::new();
    let base_dir = path.parent().map(Path::to_path_buf);
    let mut entries = file.tenant;
    for entry in &mut entries {
        validate_id(&entry.id).map_err(|why| HostError::usage(format!("tenant file {}: {why}", path.display())))?;
        // The credential keys are checked against the connector's credentials when the tenant is
        // resolved; a key of neither shape is a mistake of the file's own.
        if let Some(key) = entry.credential_keys.keys().find(|key| credential_key(key).is_none()) {
            return Err(HostError::usage(format!(
                "tenant file {}: tenant {}: unknown key {key:?}; see the README's tenant file section for the keys",
                path.display(),
                entry.id
            )));
        }
        entry.sync_interval().map_err(|e| HostError::usage(format!("tenant file {}: {}", path.display(), e.message())))?;
        if !seen.insert(entry.id.clone()) {
            return Err(HostError::usage(format!(
                "tenant file {}: tenant id {:?} appears twice; ids name output files and must be unique",
                path.display(),
                entry.id
            )));
        }
        entry.base_dir = base_dir.clone();
    }
    Ok(entries)
}

/// What each key of a `[[tenant]]` table holds, for the checks made before the table is read
/// (serde's own errors lose the line of a flattened table's keys).
const TENANT_KEYS: &[(&str, &str)] = &[
    ("id", "string"),
    ("connector", "string"),
    ("component", "string"),
    ("plugin", "string"),
    ("base_url", "string"),
    ("allow_private_network", "boolean"),
    ("memory_limit_mib", "integer"),
    ("timeout_s", "integer"),
    ("max_concurrency", "integer"),
    ("max_requests", "integer"),
    ("max_response_mib", "integer"),
    ("cpu_time_ms", "integer"),
    ("max_sync_mib", "integer"),
    ("sync_interval_s", "integer"),
];

/// Credential keys offered as suggestions (any `{name}_env` or `{name}_file` is accepted).
const CREDENTIAL_KEYS: &[&str] = &["api_key_env", "api_secret_env", "api_key_file", "api_secret_file", "token_env", "token_file"];

/// Checks every `[[tenant]]` table's keys and their values' types, naming the key, its line and
/// the key probably meant; a file that does not parse is left to the typed read, which says where.
fn check_keys(text: &str) -> std::result::Result<(), (usize, String)> {
    use toml::de::{DeTable, DeValue};
    let Ok(document) = DeTable::parse(text) else { return Ok(()) };
    let line =
        |offset: usize| text[..offset.min(text.len())].lines().count().max(1) + usize::from(text[..offset.min(text.len())].ends_with('\n'));
    let kind = |value: &DeValue<'_>| match value {
        DeValue::String(_) => "string",
        DeValue::Integer(_) => "integer",
        DeValue::Float(_) => "float",
        DeValue::Boolean(_) => "boolean",
        DeValue::Datetime(_) => "date",
        DeValue::Array(_) => "array",
        DeValue::Table(_) => "table",
    };
    for (key, value) in document.get_ref().iter() {
        if key.get_ref().as_ref() != "tenant" {
            return Err((
                line(key.span().start),
                format!("unknown top-level key {:?}; a tenant file holds [[tenant]] tables", key.get_ref().as_ref()),
            ));
        }
        let DeValue::Array(tables) = value.get_ref() else { continue };
        for table in tables.iter() {
            let DeValue::Table(table) = table.get_ref() else { continue };
            for (key, value) in table.iter() {
                let name = key.get_ref().as_ref();
                let at = line(key.span().start);
                let found = kind(value.get_ref());
                let expected = match TENANT_KEYS.iter().find(|(known, _)| *known == name) {
                    Some((_, expected)) => *expected,
                    None if credential_key(name).is_some() => "string",
                    None => {
                        let all = TENANT_KEYS.iter().map(|(k, _)| *k).chain(CREDENTIAL_KEYS.iter().copied());
                        let nearest =
                            all.map(|k| (strsim::damerau_levenshtein(k, name), k)).min().filter(|(d, k)| *d <= 2.max(k.len() / 4));
                        let hint = match nearest {
                            Some((_, k)) => format!("did you mean {k:?}?"),
                            None => "see the README's tenant file section for the keys".into(),
                        };
                        return Err((at, format!("unknown key {name:?}; {hint}")));
                    }
                };
                if found != expected {
                    return Err((at, format!("{name} must be a{} {expected}, not a{} {found}", article(expected), article(found))));
                }
            }
        }
    }
    Ok(())
}

/// "n" before a word starting with a vowel.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "n" } else { "" }
}

/// Ids name output files: letters, digits, `-`, `_` and `.`, not starting with `.`.
pub fn validate_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(format!("tenant id {id:?} must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'")) }
}

impl TenantEntry {
    /// The default tenant: environment credentials, default settings.
    pub fn default_tenant() -> Self {
        Self { id: DEFAULT_TENANT_ID.to_owned(), ..Self::default() }
    }

    /// Loads the credentials the connector declares and applies defaults and command-line
    /// overrides.
    pub fn resolve(&self, overrides: &Overrides, connector: &ConnectorMetadata) -> Result<TenantConfig> {
        let base_url = match overrides.base_url.clone().or_else(|| self.base_url.clone()).or_else(|| connector.default_base_url.clone()) {
            Some(url) => url,
            None => {
                return Err(HostError::usage(format!(
                    "tenant {}: the {} connector has no default base URL; name the API's, e.g. https://api.example.com/scim/v2",
                    self.id, connector.name
                ))
                .with_setting("base_url"));
            }
        };
        self.egress_check(&base_url)?;
        // The file's own mistakes first: they are fixed in the file, the credentials elsewhere.
        let memory_rule = format!("must be between 1 and {MAX_MEMORY_LIMIT_MIB}");
        let memory_mib = self.checked("memory_limit_mib", self.memory_limit_mib, 1..=MAX_MEMORY_LIMIT_MIB, &memory_rule)?;
        let timeout_s = self.checked("timeout_s", self.timeout_s, 1..=u64::MAX, "must be at least 1")?;
        let max_requests = self.checked("max_requests", self.max_requests, 1..=u64::MAX, "must be at least 1")?;
        let response_mib = self.checked("max_response_mib", self.max_response_mib, 1..=1024, "must be between 1 and 1024")?;
        let cpu_time_ms = self.checked("cpu_time_ms", self.cpu_time_ms, 10..=600_000, "must be between 10 and 600000")?;
        let sync_mib = self.checked("max_sync_mib", self.max_sync_mib, 1..=65_536, "must be between 1 and 65536")?;
        let max_concurrency = self.checked("max_concurrency", self.max_concurrency, 1..=64, "must be between 1 and 64")?;

        let sources = self.credential_sources(connector)?;
        let credentials = Credentials::load(&connector.credentials, &connector.auth, &sources)?;
        let mut config = TenantConfig::new(&self.id, &base_url, credentials);
        config.credentials_hint = self.credentials_hint(connector, &sources);
        config.allow_private_network = overrides.allow_private_network || self.allow_private_network.unwrap_or(false);
        if let Some(mib) = memory_mib {
            config.memory_limit_bytes = (mib * 1024 * 1024) as usize;
        }
        if let Some(seconds) = timeout_s {
            config.run_timeout = Duration::from_secs(seconds);
        }
        if let Some(n) = max_requests {
            config.traffic.max_requests = n;
        }
        if let Some(mib) = response_mib {
            config.traffic.max_response_bytes = mib * 1024 * 1024;
        }
        if let Some(mib) = sync_mib {
            config.max_sync_bytes = mib * 1024 * 1024;
        }
        if let Some(ms) = cpu_time_ms {
            config.cpu_time_per_call = Duration::from_millis(ms);
        }
        if let Some(n) = max_concurrency {
            config.max_concurrency = n;
        }
        Ok(config)
    }

    /// How often the service syncs this tenant: `sync_interval_s`, 1 second to 30 days, default
    /// an hour.
    pub fn sync_interval(&self) -> Result<Duration> {
        let seconds = self.checked("sync_interval_s", self.sync_interval_s, 1..=2_592_000, "must be between 1 and 2592000 (30 days)")?;
        Ok(Duration::from_secs(seconds.unwrap_or(DEFAULT_SYNC_INTERVAL_S)))
    }

    /// `value`, if set, when it lies in `range`; else an error naming the key and `rule`.
    fn checked<T: PartialOrd>(&self, key: &str, value: Option<T>, range: std::ops::RangeInclusive<T>, rule: &str) -> Result<Option<T>> {
        match value {
            Some(v) if !range.contains(&v) => Err(self.bad(key, rule)),
            other => Ok(other),
        }
    }

    fn egress_check(&self, base_url: &str) -> Result<()> {
        crate::egress::Origin::from_base_url(base_url).map(|_| ())
    }

    /// Where each declared credential comes from, by the tenant's `{name}_env` and
    /// `{name}_file` keys (a file wins); a key naming no declared credential is refused.
    fn credential_sources(&self, connector: &ConnectorMetadata) -> Result<BTreeMap<String, CredentialSource>> {
        let mut sources = BTreeMap::new();
        for (key, value) in &self.credential_keys {
            let (name, is_file) = credential_key(key).unwrap_or((key.as_str(), false));
            if !connector.credentials.iter().any(|c| c.name == name) {
                let valid: Vec<String> =
                    connector.credentials.iter().flat_map(|c| [format!("{}_env", c.name), format!("{}_file", c.name)]).collect();
                let valid = if valid.is_empty() { "none: it needs no credentials".to_owned() } else { valid.join(", ") };
                return Err(
                    self.bad(key, &format!("names no credential of the {} connector; its credential keys are {valid}", connector.name))
                );
            }
            let source = if is_file {
                let path = PathBuf::from(value);
                CredentialSource::File(match (&self.base_dir, path.is_relative()) {
                    (Some(dir), true) => dir.join(path),
                    _ => path,
                })
            } else {
                CredentialSource::Env(value.clone())
            };
            match sources.get(name) {
                Some(CredentialSource::File(_)) if !is_file => {}
                _ => {
                    sources.insert(name.to_owned(), source);
                }
            }
        }
        Ok(sources)
    }

    /// Where the credentials came from, for the message of a rejected key.
    fn credentials_hint(&self, connector: &ConnectorMetadata, sources: &BTreeMap<String, CredentialSource>) -> String {
        let places: Vec<String> = connector
            .credentials
            .iter()
            .map(|c| match sources.get(&c.name) {
                Some(CredentialSource::Env(name)) => name.clone(),
                Some(CredentialSource::File(path)) => path.display().to_string(),
                None => c.default_env.clone(),
            })
            .collect();
        match places.len() {
            0 => "no credentials are sent".into(),
            _ => places.join(" and "),
        }
    }

    fn bad(&self, key: &str, why: &str) -> HostError {
        HostError::usage(format!("tenant {}: {key} {why}", self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::latest::types::{AuthScheme, BasicAuth, Credential};

    /// A connector with a key and a secret sent as HTTP Basic, and a default base URL.
    fn connector() -> ConnectorMetadata {
        let credential = |name: &str, env: &str| Credential { name: name.into(), default_env: env.into(), description: name.into() };
        ConnectorMetadata {
            name: "example".into(),
            version: "1".into(),
            description: String::new(),
            resource_types: Vec::new(),
            capabilities: Vec::new(),
            credentials: vec![credential("api_key", "EXAMPLE_API_KEY"), credential("api_secret", "EXAMPLE_API_SECRET")],
            auth: AuthScheme::Basic(BasicAuth { user: "api_key".into(), password: "api_secret".into() }),
            default_base_url: Some("https://api.example.com".into()),
            rate_limit: None,
            max_page_size: 100,
        }
    }

    #[test]
    fn every_missing_credential_is_named_in_one_error() {
        let (_dir, path) = write("[[tenant]]\nid = \"a\"\napi_key_env = \"NO_SUCH_VARIABLE_2\"\napi_secret_env = \"NO_SUCH_VARIABLE_3\"\n");
        let entry = read_tenant_file(&path).unwrap().remove(0);
        let error = entry.resolve(&Overrides::default(), &connector()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no api_key or api_secret: set the environment variable NO_SUCH_VARIABLE_2 (api_key) and the environment variable NO_SUCH_VARIABLE_3 (api_secret)"
        );
        assert_eq!(error.kind(), crate::ErrorKind::Usage);
    }

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn reads_the_contract_example() {
        let (_dir, path) = write(
            r#"
[[tenant]]
id = "acme"
base_url = "https://api.example.com"
api_key_env = "ACME_API_KEY"
api_secret_env = "ACME_API_SECRET"
allow_private_network = false
memory_limit_mib = 64
timeout_s = 900
max_concurrency = 8

[[tenant]]
id = "globex"
"#,
        );
        let entries = read_tenant_file(&path).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].credential_keys.get("api_key_env").map(String::as_str), Some("ACME_API_KEY"));
        assert_eq!(entries[1].base_url, None);
    }

    #[test]
    fn a_value_out_of_range_is_named_before_the_credentials_are_looked_for() {
        for (line, expect) in [
            ("max_concurrency = 0", "tenant a: max_concurrency must be between 1 and 64"),
            ("memory_limit_mib = 4096", "tenant a: memory_limit_mib must be between 1 and 1024"),
            ("timeout_s = 0", "tenant a: timeout_s must be at least 1"),
            ("cpu_time_ms = 5", "tenant a: cpu_time_ms must be between 10 and 600000"),
            ("max_sync_mib = 0", "tenant a: max_sync_mib must be between 1 and 65536"),
        ] {
            let (_dir, path) = write(&format!("[[tenant]]\nid = \"a\"\napi_key_env = \"NO_SUCH_VARIABLE_1\"\n{line}\n"));
            let entry = read_tenant_file(&path).unwrap().remove(0);
            let error = entry.resolve(&Overrides::default(), &connector()).unwrap_err();
            assert_eq!(error.to_string(), expect);
        }
    }

    #[test]
    fn mistakes_are_one_line_usage_errors() {
        for (text, expect) in [
            ("[[tenant]]\nid = \"a\"\nbase_ur = \"x\"\n", "(line 3): unknown key \"base_ur\"; did you mean \"base_url\"?"),
            (
                "[[tenant]]\nid = \"a\"\n\n\nmax_concurency = 4\n",
                "(line 5): unknown key \"max_concurency\"; did you mean \"max_concurrency\"?",
            ),
            (
                "[[tenant]]\nid = \"a\"\nallow_private_netwrk = true\n",
                "(line 3): unknown key \"allow_private_netwrk\"; did you mean \"allow_private_network\"?",
            ),
            ("[[tenant]]\nid = \"a\"\napi_key_evn = \"K\"\n", "(line 3): unknown key \"api_key_evn\"; did you mean \"api_key_env\"?"),
            ("[[tenant]]\nid = \"a\"\nmax_concurrency = \"4\"\n", "(line 3): max_concurrency must be an integer, not a string"),
            ("[[tenant]]\nid = \"a\"\napi_key_env = 4\n", "(line 3): api_key_env must be a string, not an integer"),
            (
                "[[tenant]]\nid = \"a\"\n[[tenant]]\nid = \"b\"\nallow_private_network = \"yes\"\n",
                "(line 5): allow_private_network must be a boolean, not a string",
            ),
            ("[[tenant]]\nid = \"a\"\nzzzzzz = 1\n", "unknown key \"zzzzzz\"; see the README"),
            ("tenants = 1\n", "(line 1): unknown top-level key \"tenants\""),
            ("[[tenant]]\nid = \"a\"\n[[tenant]]\nid = \"a\"\n", "appears twice"),
            ("[[tenant]]\nid = \"../etc\"\n", "must be 1 to 64"),
            ("", "no [[tenant]]"),
            ("[[tenant]\n", "line 1"),
        ] {
            let (_dir, path) = write(text);
            let error = read_tenant_file(&path).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::Usage);
            assert!(error.to_string().contains(expect), "{error} should mention {expect}");
            assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn credentials_come_from_files_relative_to_the_tenant_file() {
        let (dir, path) = write("[[tenant]]\nid = \"a\"\napi_key_file = \"key\"\napi_secret_file = \"secret\"\n");
        std::fs::write(dir.path().join("key"), "key-one-1\n").unwrap();
        std::fs::write(dir.path().join("secret"), "secret-one-1\n").unwrap();
        let entry = read_tenant_file(&path).unwrap().remove(0);
        let config = entry.resolve(&Overrides::default(), &connector()).unwrap();
        assert_eq!(config.credentials, Credentials::new("key-one-1", "secret-one-1"));
        assert_eq!(config.base_url, "https://api.example.com", "the connector's default");
    }

    #[test]
    fn credential_keys_must_name_a_credential_the_connector_declares() {
        let (_dir, path) = write("[[tenant]]\nid = \"a\"\ntoken_env = \"X\"\n");
        let entry = read_tenant_file(&path).unwrap().remove(0);
        let error = entry.resolve(&Overrides::default(), &connector()).unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Usage);
        assert!(error.message().contains("token_env names no credential of the example connector"), "{error}");
        assert!(error.message().contains("api_key_env, api_key_file, api_secret_env, api_secret_file"), "{error}");
        let mut no_default = connector();
        no_default.default_base_url = None;
        let error = TenantEntry::default_tenant().resolve(&Overrides::default(), &no_default).unwrap_err();
        assert!(error.message().contains("has no default base URL"), "{error}");
        assert_eq!(error.setting(), Some("base_url"));
    }
}
