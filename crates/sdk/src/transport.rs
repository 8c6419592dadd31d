//! The one way out: an HTTP exchange the host performs. In the component this is `wasi:http`
//! through `waki`; in unit tests, canned answers.

/// A request to the API, relative to the configured base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: &'static str,
    /// Path and query, e.g. `/v1/users?limit=1000`; ids and cursors already percent-encoded.
    pub path: String,
    pub body: Option<Vec<u8>>,
    /// Sent as `Accept`, and as `Content-Type` with a body: [`JSON`] or, for SCIM, [`SCIM_JSON`].
    pub media_type: &'static str,
}

/// `application/json`.
pub const JSON: &str = "application/json";
/// `application/scim+json` (RFC 7644 section 8.1), what SCIM clients send.
pub const SCIM_JSON: &str = "application/scim+json";

impl ApiRequest {
    /// A request exchanging `application/json`.
    pub fn json(method: &'static str, path: String, body: Option<Vec<u8>>) -> Self {
        Self { method, path, body, media_type: JSON }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Why no answer came back.
#[derive(Debug, Clone, PartialEq)]
pub enum TransportError {
    /// The host refused to send the request (egress policy).
    Denied(String),
    /// Connection refused, reset, timed out, or the body was cut short: worth another try.
    Failed(String),
    /// The answer was not HTTP the host could read: not worth another try.
    Malformed(String),
}

impl TransportError {
    /// The error the host retries or reports for a request to `endpoint` (`GET /v1/users`) that
    /// got no usable answer: a refusal and an unreadable answer are not retried (their codes say
    /// so), a lost answer is.
    pub fn at(self, endpoint: &str) -> crate::model::ConnectorError {
        use crate::model::ConnectorError::Upstream;
        match self {
            TransportError::Denied(why) => Upstream {
                status: None,
                code: Some("EgressDenied".into()),
                message: format!("{endpoint}: the host refused the request: {why}"),
            },
            TransportError::Failed(why) => Upstream { status: None, code: None, message: format!("{endpoint}: no complete answer: {why}") },
            TransportError::Malformed(why) => {
                Upstream { status: None, code: Some("MalformedResponse".into()), message: format!("{endpoint}: {why}") }
            }
        }
    }
}

/// What the connector asks of its host: one HTTP exchange at a time, and a place for warnings.
pub trait Transport {
    fn send(&self, base_url: &str, request: &ApiRequest) -> Result<ApiResponse, TransportError>;

    /// A warning for the person running the sync (the host says each once a run).
    fn warn(&self, _message: &str) {}
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved characters pass).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encode_escapes_everything_but_unreserved() {
        assert_eq!(encode("abc-DEF_1.2~"), "abc-DEF_1.2~");
        assert_eq!(encode("a/b?c=d&e f"), "a%2Fb%3Fc%3Dd%26e%20f");
        assert_eq!(encode("é"), "%C3%A9");
    }
}
