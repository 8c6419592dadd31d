//! What the service says it supports (RFC 7644 section 4): `/ServiceProviderConfig` (patch,
//! filter, etag, bulk), `/ResourceTypes` and `/Schemas`. A service that does not serve them is
//! taken to support what RFC 7644 requires or every common client assumes (PATCH, filters).

use serde_json::Value;

use crate::attrs::Obj;
use crate::client::{Client, ENTERPRISE_USER_SCHEMA};
use crate::model::{ConnectorError, Result};
use crate::schema::Schemas;
use crate::transport::Transport;

/// Fivetran's SCIM API, recognised by its host name or its documentation link.
const FIVETRAN_HOST: &str = "fivetran.com";

#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    pub patch: bool,
    pub filter: bool,
    pub filter_max_results: Option<u64>,
    pub etag: bool,
    pub bulk: bool,
    /// Whether `/ServiceProviderConfig` answered at all.
    pub served: bool,
    /// Fivetran's SCIM API: user name = email, account roles only, groups are teams.
    pub fivetran: bool,
    /// The core schemas as `/Schemas` declares them (empty when it serves none).
    pub schemas: Schemas,
}

impl Discovery {
    /// What a service that serves no configuration is taken to support.
    pub fn assumed(base_url: &str) -> Self {
        Self {
            patch: true,
            filter: true,
            filter_max_results: None,
            etag: false,
            bulk: false,
            served: false,
            fivetran: is_fivetran(base_url, None),
            schemas: Schemas::default(),
        }
    }

    pub fn read(base_url: &str, config: &Value) -> Self {
        let obj = Obj::of(config);
        let supported =
            |feature: &str, default: bool| obj.and_then(|o| o.obj(feature)).and_then(|f| f.bool("supported")).unwrap_or(default);
        Self {
            patch: supported("patch", true),
            filter: supported("filter", true),
            filter_max_results: obj.and_then(|o| o.obj("filter")).and_then(|f| f.count("maxResults")),
            etag: supported("etag", false),
            bulk: supported("bulk", false),
            served: true,
            fivetran: is_fivetran(base_url, obj.and_then(|o| o.str("documentationUri")).as_deref()),
            schemas: Schemas::default(),
        }
    }

    /// One line for `validate`.
    pub fn summary(&self) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let filter = match (self.filter, self.filter_max_results) {
            (true, Some(max)) => format!("yes (up to {max} results)"),
            (filter, _) => yes(filter).to_owned(),
        };
        let mut line = format!(
            "PATCH {}, filter {filter}, ETag {}, bulk {}",
            if self.patch { "yes" } else { "no (changes are sent as PUT)" },
            yes(self.etag),
            yes(self.bulk)
        );
        if !self.served {
            line.push_str(" (no /ServiceProviderConfig: assumed)");
        }
        line
    }
}

fn is_fivetran(base_url: &str, documentation: Option<&str>) -> bool {
    let host = base_url.split("://").nth(1).unwrap_or(base_url).split(['/', ':']).next().unwrap_or_default().to_ascii_lowercase();
    host == FIVETRAN_HOST
        || host.ends_with(".fivetran.com")
        || documentation.is_some_and(|d| d.to_ascii_lowercase().contains(FIVETRAN_HOST))
}

/// An optional discovery endpoint: its answer, or none when the service does not serve it.
fn optional<T: Transport>(client: &Client<'_, T>, path: &str) -> Result<Option<Value>> {
    match client.get_optional(path.to_owned()) {
        Ok(found) => Ok(found),
        // Not served, or served only to other credentials: the defaults stand.
        Err(ConnectorError::Unsupported(_) | ConnectorError::Forbidden(_) | ConnectorError::InvalidArgument(_)) => Ok(None),
        Err(ConnectorError::Upstream { status: Some(405 | 501), .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

impl<T: Transport> Client<'_, T> {
    /// `/Schemas`, read leniently (it only shapes requests): a list response or a bare array; an
    /// answer that is neither, or a refusal, leaves RFC 7643's schema assumed.
    fn schemas(&self) -> Result<Schemas> {
        let (endpoint, response) = self.send("GET", "/Schemas".into(), None)?;
        if response.status == 429 {
            crate::client::check(&endpoint, &response)?;
        }
        if !(200..300).contains(&response.status) {
            return Ok(Schemas::default());
        }
        Ok(serde_json::from_slice::<Value>(&response.body).map(|answer| Schemas::read(&answer)).unwrap_or_default())
    }

    /// What the service supports (`/ServiceProviderConfig`) and declares (`/Schemas`), for a
    /// change to adapt to; either may be missing.
    pub fn discover(&self) -> Result<Discovery> {
        let mut discovery = match optional(self, "/ServiceProviderConfig")? {
            Some(config) => Discovery::read(&self.config.base_url, &config),
            None => Discovery::assumed(&self.config.base_url),
        };
        discovery.schemas = self.schemas()?;
        Ok(discovery)
    }

    /// The resource types and schemas the service lists, for `validate`: `User, Group; schemas:
    /// core User, enterprise User, core Group`.
    pub fn describe_schemas(&self) -> Result<String> {
        let names = |answer: Option<Value>, read: &dyn Fn(Obj<'_>) -> Option<String>| -> Vec<String> {
            let Some(answer) = answer else { return Vec::new() };
            let items: Vec<Value> = match &answer {
                Value::Array(items) => items.clone(),
                object => Obj::of(object).map(|o| o.list("Resources").into_iter().cloned().collect()).unwrap_or_default(),
            };
            items.iter().filter_map(Obj::of).filter_map(read).collect()
        };
        let types = names(optional(self, "/ResourceTypes")?, &|o| o.str("name").or_else(|| o.str("id")));
        let schemas = names(optional(self, "/Schemas")?, &|o| {
            let id = o.str("id")?;
            Some(match id.as_str() {
                crate::client::USER_SCHEMA => "core User".to_owned(),
                crate::client::GROUP_SCHEMA => "core Group".to_owned(),
                ENTERPRISE_USER_SCHEMA => "enterprise User".to_owned(),
                _ => id,
            })
        });
        let listed = |items: Vec<String>| if items.is_empty() { "not listed".to_owned() } else { items.join(", ") };
        Ok(format!("resource types {}; schemas {}", listed(types), listed(schemas)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_configuration_is_read_leniently() {
        let config =
            json!({"Patch": {"supported": "False"}, "filter": {"supported": true, "maxResults": "200"}, "etag": {"supported": true}});
        let d = Discovery::read("https://scim.example.com/v2", &config);
        assert!(!d.patch && d.filter && d.etag && !d.bulk && !d.fivetran);
        assert_eq!(d.filter_max_results, Some(200));
        assert!(d.summary().contains("PUT"), "{}", d.summary());
    }

    #[test]
    fn fivetran_is_recognised_by_host_or_documentation() {
        assert!(Discovery::assumed("https://api.fivetran.com/scim/v2").fivetran);
        assert!(!Discovery::assumed("https://fivetran.com.evil.example/scim").fivetran);
        assert!(Discovery::read("http://127.0.0.1:9", &json!({"documentationUri": "https://fivetran.com/docs/scim"})).fivetran);
    }
}
