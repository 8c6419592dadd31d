//! One SCIM exchange at a time: requests as SCIM clients send them (`application/scim+json`,
//! the schema URNs, lowercase PATCH ops), answers read as servers send them, errors mapped to
//! what the host acts on, list pages and lookups bounded by what the server sends.

use serde_json::{Map, Value, json};

use crate::attrs::Obj;
use crate::discovery::Discovery;
use crate::ids;
use crate::model::{Config, ConnectorError, Result};
use crate::schema::Kind;
use crate::transport::{ApiRequest, ApiResponse, SCIM_JSON, Transport};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Pages a walk inside one call (a lookup) follows at most.
pub const MAX_WALK_PAGES: usize = 10_000;

pub struct Client<'a, T: Transport> {
    transport: &'a T,
    pub config: Config,
    /// Listings are asked for without `count`: the service failed on it (see [`Client::list`]).
    pub without_count: std::cell::Cell<bool>,
}

/// One page of a list answer (RFC 7644 section 3.4.2).
#[derive(Debug, Default)]
pub struct ListPage {
    pub resources: Vec<Value>,
    pub total_results: Option<u64>,
}

impl<'a, T: Transport> Client<'a, T> {
    pub fn new(transport: &'a T, mut config: Config) -> Self {
        while config.base_url.ends_with('/') {
            config.base_url.pop();
        }
        config.page_size = config.page_size.clamp(1, crate::component::MAX_PAGE_SIZE);
        Self { transport, config, without_count: std::cell::Cell::new(false) }
    }

    pub fn warn(&self, message: &str) {
        self.transport.warn(message);
    }

    /// Sends one request; answers with the endpoint's name (for messages) and the response.
    pub fn send(&self, method: &'static str, path: String, body: Option<&Value>) -> Result<(String, ApiResponse)> {
        let endpoint = format!("{method} {}", path.split('?').next().unwrap_or(&path));
        let request = ApiRequest { method, path, body: body.map(|b| b.to_string().into_bytes()), media_type: SCIM_JSON };
        let response = self.transport.send(&self.config.base_url, &request).map_err(|e| e.at(&endpoint))?;
        Ok((endpoint, response))
    }

    /// The JSON object of a successful answer.
    pub fn get(&self, path: String) -> Result<Value> {
        let (endpoint, response) = self.send("GET", path, None)?;
        check(&endpoint, &response)?;
        object(&endpoint, &response)
    }

    /// The object at `path`, or none on 404.
    pub fn get_optional(&self, path: String) -> Result<Option<Value>> {
        let (endpoint, response) = self.send("GET", path, None)?;
        if response.status == 404 {
            return Ok(None);
        }
        check(&endpoint, &response)?;
        object(&endpoint, &response).map(Some)
    }

    /// A page of `/Users` or `/Groups` from the 1-based `start`, with an optional filter
    /// (already encoded).
    ///
    /// `count` is optional (RFC 7644 section 3.4.2.4) and some services fail on it (Canaille
    /// answers 500): a listing that fails with a server error is asked once more without it, and
    /// when that works, the listing goes on without it, in the pages the service chooses.
    pub fn list(&self, collection: &str, start: u64, filter: Option<&str>) -> Result<(String, ListPage)> {
        let path = |count: bool| {
            let mut path = format!("/{collection}?startIndex={start}");
            if count {
                path.push_str(&format!("&count={}", self.config.page_size));
            }
            if let Some(filter) = filter {
                path.push_str("&filter=");
                path.push_str(filter);
            }
            path
        };
        let (mut endpoint, mut response) = self.send("GET", path(!self.without_count.get()), None)?;
        if response.status >= 500 && !self.without_count.get() {
            let (again, answer) = self.send("GET", path(false), None)?;
            if (200..300).contains(&answer.status) {
                self.without_count.set(true);
                self.warn(&format!(
                    "{endpoint} answered {} when asked for {} items a page (count), and not without it: the service is read in the pages it chooses",
                    response.status, self.config.page_size
                ));
                (endpoint, response) = (again, answer);
            }
        }
        if response.status == 404 {
            // A listing is never missing on a SCIM service: the base URL is not its root.
            return Err(ConnectorError::InvalidArgument(format!(
                "{endpoint} answered 404: is the base URL the SCIM root, e.g. https://host/scim/v2? ({} is not)",
                self.config.base_url
            )));
        }
        check(&endpoint, &response)?;
        let body = object(&endpoint, &response)?;
        let list = Obj::of(&body).expect("object() answers objects");
        let resources = match list.get("Resources") {
            Some(Value::Array(items)) => items.iter().filter(|v| !v.is_null()).cloned().collect(),
            None => Vec::new(),
            Some(_) => return Err(malformed(&endpoint, &response, "Resources is not a list")),
        };
        Ok((endpoint, ListPage { resources, total_results: list.count("totalResults") }))
    }

    /// The first resource of `collection` for which `found` holds, walking every page; bounded
    /// by the server's `totalResults`, an empty page, a page that repeats the previous one, and
    /// [`MAX_WALK_PAGES`].
    pub fn find(&self, collection: &str, filter: Option<&str>, found: impl Fn(&Value) -> bool) -> Result<Option<Value>> {
        let mut start = 1;
        let mut previous_first: Option<String> = None;
        for _ in 0..MAX_WALK_PAGES {
            let (endpoint, page) = self.list(collection, start, filter)?;
            if let Some(hit) = page.resources.iter().find(|r| found(r)) {
                return Ok(Some(hit.clone()));
            }
            let first = page.resources.first().and_then(Obj::of).and_then(|o| o.str("id"));
            if page.resources.is_empty() || (first.is_some() && first == previous_first) {
                return Ok(None);
            }
            start += page.resources.len() as u64;
            if page.total_results.is_some_and(|total| start > total) {
                return Ok(None);
            }
            previous_first = first;
            let _ = endpoint;
        }
        Ok(None)
    }

    /// PATCH with these operations, the answer unchecked.
    pub fn patch(&self, path: &str, operations: Vec<Value>) -> Result<(String, ApiResponse)> {
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations});
        self.send("PATCH", path.to_owned(), Some(&body))
    }

    /// `current` as read, edited by `edit`, for a PUT: without `meta`, which the server keeps,
    /// and without the attributes its schema declares read-only (RFC 7644 section 3.5.1 has
    /// servers ignore them; strict ones refuse them instead).
    pub fn whole(&self, discovery: &Discovery, kind: Kind, current: &Value, edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
        let mut whole = current.as_object().cloned().unwrap_or_default();
        whole.retain(|key, _| {
            let is = |name: &str| key.eq_ignore_ascii_case(name);
            is("id") || is("schemas") || !(is("meta") || read_only(discovery, kind, key))
        });
        edit(&mut whole);
        Value::Object(whole)
    }

    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }
}

fn read_only(discovery: &Discovery, kind: Kind, attribute: &str) -> bool {
    discovery.schemas.attribute(kind, attribute).is_some_and(|a| a.mutability == crate::schema::Mutability::ReadOnly)
}

/// Whether the service refused a PATCH as one it cannot follow rather than as a wrong change:
/// 501 (not implemented), 405, or 400 with `scimType` `invalidPath` or `noTarget` (RFC 7644
/// section 3.12). Another form of the change may then work.
pub fn cannot_follow(response: &ApiResponse) -> bool {
    match response.status {
        501 | 405 => true,
        400 => {
            let body: Option<Value> = serde_json::from_slice(&response.body).ok();
            let scim_type = body.as_ref().and_then(Obj::of).and_then(|e| e.str("scimType"));
            scim_type.is_some_and(|t| t.eq_ignore_ascii_case("invalidPath") || t.eq_ignore_ascii_case("noTarget"))
        }
        _ => false,
    }
}

/// A change the service accepted whose state, read back, does not show it.
pub fn unverified(message: String) -> ConnectorError {
    ConnectorError::unverified(message)
}

/// The resource in a successful change's answer, if it holds one (204 and empty bodies do not).
pub fn returned(endpoint: &str, response: &ApiResponse) -> Result<Option<Value>> {
    if response.status == 204 || response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value = object(endpoint, response)?;
    Ok(Obj::of(&value).and_then(|o| o.str("id")).is_some().then_some(value))
}

/// The answer's body as a JSON object.
pub fn object(endpoint: &str, response: &ApiResponse) -> Result<Value> {
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(malformed(endpoint, response, "the body is not a JSON object")),
        Err(error) => Err(malformed(endpoint, response, &format!("the body is not JSON ({error})"))),
    }
}

pub fn malformed(endpoint: &str, response: &ApiResponse, why: &str) -> ConnectorError {
    ConnectorError::Upstream {
        status: Some(response.status),
        code: Some("MalformedResponse".into()),
        message: format!("{endpoint} answered {} with something that is not SCIM: {why}", response.status),
    }
}

/// A non-2xx answer as the error the host acts on. SCIM errors carry `status` (a string, or a
/// number from lenient servers), `scimType` and `detail` (RFC 7644 section 3.12).
pub fn check(endpoint: &str, response: &ApiResponse) -> Result<()> {
    let status = response.status;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    let error = body.as_ref().and_then(Obj::of);
    let scim_type = error.and_then(|e| e.str("scimType"));
    let detail = error.and_then(|e| e.str("detail").or_else(|| e.str("message")));
    let mut message = format!("{endpoint} answered {status}");
    if let Some(scim_type) = &scim_type {
        message.push_str(&format!(" ({scim_type})"));
    }
    if let Some(detail) = detail {
        message.push_str(": ");
        message.push_str(&one_line(&detail));
    }
    Err(match status {
        401 => ConnectorError::Unauthorized(message),
        403 => ConnectorError::Forbidden(message),
        404 => ConnectorError::NotFound(message),
        409 | 412 => ConnectorError::Conflict(message),
        429 => ConnectorError::RateLimited { retry_after_ms: retry_after_ms(response.retry_after.as_deref()), message },
        400 | 422 => ConnectorError::InvalidArgument(message),
        501 => ConnectorError::Unsupported(format!("{message}; the service does not implement this")),
        // A server error that names its SCIM error type is the service refusing the request (a
        // schema rule it enforces), not an outage: the same request would meet it again.
        500.. if scim_type.is_some() => ConnectorError::InvalidArgument(format!("the service refused it: {message}")),
        _ => ConnectorError::Upstream { status: Some(status), code: scim_type, message },
    })
}

/// `Retry-After` in seconds (an HTTP date is left to the host's backoff).
fn retry_after_ms(header: Option<&str>) -> Option<u64> {
    header?.trim().parse::<u64>().ok().map(|seconds| seconds.saturating_mul(1000))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `/Users/{id}` or `/Groups/{id}`, the id encoded.
pub fn resource_path(collection: &str, id: &str) -> String {
    format!("/{collection}/{}", crate::transport::encode(id))
}

/// The `id` of a resource the server sent, checked: it goes into paths and grant ids.
pub fn id_of(endpoint: &str, index: usize, resource: &Value) -> Result<String> {
    let id = Obj::of(resource).and_then(|o| o.str("id"));
    match id {
        Some(id) => ids::check_id(&id).map(|()| id.clone()).map_err(|why| {
            connector_sdk::lenient::malformed(format!("{endpoint}: item {} has an id that cannot be used: {id:?} {why}", index + 1))
        }),
        None => Err(connector_sdk::lenient::malformed(format!("{endpoint}: item {} has no id", index + 1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> ApiResponse {
        ApiResponse { status, retry_after: Some("7".into()), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn scim_errors_map_to_what_the_host_acts_on() {
        let error = check("POST /Users", &answer(409, r#"{"status":"409","scimType":"uniqueness","detail":"User exists"}"#));
        assert_eq!(error, Err(ConnectorError::Conflict("POST /Users answered 409 (uniqueness): User exists".into())));
        assert!(matches!(check("GET /Users", &answer(429, "")), Err(ConnectorError::RateLimited { retry_after_ms: Some(7000), .. })));
        assert!(matches!(check("GET /Users", &answer(401, "")), Err(ConnectorError::Unauthorized(_))));
        assert!(
            matches!(check("PATCH /Users/1", &answer(400, r#"{"status":400,"scimType":"invalidValue"}"#)), Err(ConnectorError::InvalidArgument(m)) if m.contains("invalidValue"))
        );
        assert!(matches!(check("GET /Users", &answer(503, "")), Err(ConnectorError::Upstream { status: Some(503), .. })));
        assert!(check("DELETE /Users/1", &answer(204, "")).is_ok());
    }

    #[test]
    fn a_change_answered_with_no_body_returns_nothing() {
        assert_eq!(returned("PATCH /Users/1", &answer(204, "")).unwrap(), None);
        assert_eq!(returned("PATCH /Users/1", &answer(200, " ")).unwrap(), None);
        assert!(returned("PATCH /Users/1", &answer(200, r#"{"id":"1"}"#)).unwrap().is_some());
        assert!(returned("PATCH /Users/1", &answer(200, "not json")).is_err());
    }
}
