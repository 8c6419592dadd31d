//! Fivetran's REST API on the wire: the answers the connector reads, and how an answer becomes a
//! value or a [`ConnectorError`].
//!
//! Every field is a [`Field`]: what the API sent is read as it came, and the mapping applies the
//! parsing policy of [`crate::lenient`] (strict for what identifies, a default for the rest).
//! Unknown fields are ignored. The envelope itself (`data`, `items`, `next_cursor`) is read
//! strictly: without it nothing can be trusted.

use std::borrow::Cow;

use serde::Deserialize;

use crate::lenient::{Field, malformed};
use crate::model::{ConnectorError, Result};
use crate::transport::{ApiRequest, ApiResponse};

/// A user, its strings borrowed from the answer where they hold no escapes: a page of 1,000 users
/// is read without copying each field.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct User<'a> {
    #[serde(default, borrow)]
    pub id: Field<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub email: Field<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub given_name: Field<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub family_name: Field<Cow<'a, str>>,
    #[serde(default)]
    pub active: Field<bool>,
    #[serde(default)]
    pub invited: Field<bool>,
    #[serde(default)]
    pub verified: Field<bool>,
    #[serde(default, borrow)]
    pub logged_in_at: Field<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub created_at: Field<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub phone: Field<Cow<'a, str>>,
    /// The account role.
    #[serde(default, borrow)]
    pub role: Field<Cow<'a, str>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Role {
    #[serde(default)]
    pub name: Field<String>,
    #[serde(default)]
    pub description: Field<String>,
    #[serde(default)]
    pub scope: Field<Vec<String>>,
    #[serde(default)]
    pub is_custom: Field<bool>,
    #[serde(default)]
    pub is_deprecated: Field<bool>,
    #[serde(default)]
    pub replacement_role_name: Field<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Team {
    #[serde(default)]
    pub id: Field<String>,
    #[serde(default)]
    pub name: Field<String>,
    #[serde(default)]
    pub description: Field<String>,
    #[serde(default)]
    pub role: Field<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Group {
    #[serde(default)]
    pub id: Field<String>,
    #[serde(default)]
    pub name: Field<String>,
    #[serde(default)]
    pub created_at: Field<String>,
}

/// An item of `GET /v1/groups/{id}/users`, read for what the grants need: the API sends whole
/// users, and nearly all of them hold nothing on the group (their account role reaches it), so
/// the rest of each user is skipped unread and the strings borrowed from the body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GroupMember<'a> {
    #[serde(default, borrow)]
    pub id: Field<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub role: Field<Cow<'a, str>>,
}

/// An item of `GET /v1/teams/{id}/users`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TeamMembership {
    #[serde(default)]
    pub user_id: Field<String>,
    #[serde(default)]
    pub role: Field<String>,
}

/// An item of `GET /v1/teams/{id}/groups` (and `/v1/users/{id}/groups`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Membership {
    #[serde(default)]
    pub id: Field<String>,
    #[serde(default)]
    pub role: Field<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountInfo {
    #[serde(default)]
    pub account_id: Field<String>,
    #[serde(default)]
    pub account_name: Field<String>,
    #[serde(default)]
    pub user_id: Field<String>,
    #[serde(default)]
    pub system_key_id: Field<String>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct ListData<T> {
    /// Null is read as an empty page (the listing goes on if a cursor says so); absent is an error.
    #[serde(deserialize_with = "null_as_empty")]
    items: Vec<T>,
    #[serde(default)]
    next_cursor: Field<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// `GET /v1/users` and alike: the name errors use for an endpoint (path without the query).
pub fn endpoint(request: &ApiRequest) -> String {
    let path = request.path.split('?').next().unwrap_or_default();
    format!("{} {path}", request.method)
}

/// One page of a list endpoint: its items and the cursor of the next page, if any. The list
/// ends when `next_cursor` is absent, null or empty; a number is read as its text; anything else
/// cannot be followed, and a listing cut short would be wrong, so it is an error.
pub fn decode_list<'a, T: Deserialize<'a>>(endpoint: &str, response: &'a ApiResponse) -> Result<(Vec<T>, Option<String>)> {
    check_status(endpoint, response)?;
    let envelope: Envelope<ListData<T>> = decode_json(endpoint, response)?;
    let next = match envelope.data.next_cursor {
        Field::Value(cursor) | Field::Converted(cursor, _) => Some(cursor).filter(|cursor| !cursor.is_empty()),
        Field::Null | Field::Absent => None,
        Field::Mistyped(_) => {
            return Err(malformed(format!(
                "{endpoint} answered {} with a next_cursor that is not a string: the listing cannot go on",
                response.status
            )));
        }
    };
    Ok((envelope.data.items, next))
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> std::result::Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// The `data` of a single-object answer.
pub fn decode_data<'a, T: Deserialize<'a>>(endpoint: &str, response: &'a ApiResponse) -> Result<T> {
    check_status(endpoint, response)?;
    let envelope: Envelope<T> = decode_json(endpoint, response)?;
    Ok(envelope.data)
}

fn decode_json<'a, T: Deserialize<'a>>(endpoint: &str, response: &'a ApiResponse) -> Result<T> {
    let text = crate::json::utf8(&response.body).map_err(|error| ConnectorError::Upstream {
        status: Some(response.status),
        code: Some("MalformedResponse".into()),
        message: format!("{endpoint} answered {} with a body that is not UTF-8: {error}", response.status),
    })?;
    // Validated once here, the text is not validated again string by string.
    serde_json::from_str(text).map_err(|error| ConnectorError::Upstream {
        status: Some(response.status),
        code: Some("MalformedResponse".into()),
        message: format!("{endpoint} answered {} with a body that is not the expected JSON: {error}", response.status),
    })
}

/// Maps a non-success status to the error the host acts on.
pub fn check_status(endpoint: &str, response: &ApiResponse) -> Result<()> {
    let status = response.status;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body: Option<ErrorBody> = serde_json::from_slice(&response.body).ok();
    let code = body.as_ref().and_then(|b| b.code.clone());
    let detail = body.and_then(|b| b.message).map(|m| format!(": {}", one_line(&m))).unwrap_or_default();
    let message = format!("{endpoint} answered {status}{detail}");
    Err(match status {
        401 => ConnectorError::Unauthorized(message),
        403 => ConnectorError::Forbidden(match scope_for(endpoint) {
            Some(scope) => format!("{message}; a system key needs the {scope} scope for this"),
            None => message,
        }),
        404 => ConnectorError::NotFound(message),
        409 => ConnectorError::Conflict(message),
        400 | 422 => ConnectorError::InvalidArgument(message),
        429 => ConnectorError::RateLimited { retry_after_ms: response.retry_after.as_deref().and_then(parse_retry_after_ms), message },
        _ => ConnectorError::Upstream { status: Some(status), code, message },
    })
}

/// The system-key scope an endpoint needs: `GET /v1/teams/x/users` needs `TEAM:READ`.
pub fn scope_for(endpoint: &str) -> Option<&'static str> {
    let (method, path) = endpoint.split_once(' ')?;
    let read = method == "GET";
    let collection = path.trim_start_matches('/').split('/').nth(1)?;
    Some(match (collection, read) {
        ("account", _) => "ACCOUNT:READ",
        ("roles", _) => "ROLES:READ",
        ("users", true) => "USER:READ",
        ("users", false) => "USER:MANAGE",
        ("teams", true) => "TEAM:READ",
        ("teams", false) => "TEAM:MANAGE",
        ("groups", true) => "DESTINATION:READ",
        ("groups", false) => "DESTINATION:MANAGE",
        _ => return None,
    })
}

/// `Retry-After` in seconds (the form Fivetran sends); an HTTP date is left to the host's backoff.
pub fn parse_retry_after_ms(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    value.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(|s| (s * 1000.0) as u64)
}

/// API messages end up in one-line errors: keep them on one line. They are not shortened here:
/// the host shortens them once it has redacted them, so that no cut can split a credential the
/// API echoed and leave part of it unrecognised.
fn one_line(message: &str) -> String {
    let flat: String = message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    flat.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> ApiResponse {
        ApiResponse { status, retry_after: None, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn list_ends_on_absent_null_or_empty_cursor() {
        for body in [
            r#"{"code":"Success","data":{"items":[]}}"#,
            r#"{"code":"Success","data":{"items":[],"next_cursor":null}}"#,
            r#"{"code":"Success","data":{"items":[],"next_cursor":""}}"#,
        ] {
            let (items, next) = decode_list::<Group>("GET /v1/groups", &response(200, body)).unwrap();
            assert!(items.is_empty());
            assert_eq!(next, None);
        }
        let (_, next) = decode_list::<Group>("GET /v1/groups", &response(200, r#"{"data":{"items":[],"next_cursor":"abc"}}"#)).unwrap();
        assert_eq!(next.as_deref(), Some("abc"));
    }

    #[test]
    fn wrong_shape_is_an_upstream_error_naming_the_endpoint() {
        for body in [r#"{"data":{"itemz":[]}}"#, r#"{"data":{"items":{"id":1}}}"#, "<html>", r#"{"data":{"items":["#] {
            let error = decode_list::<Group>("GET /v1/groups", &response(200, body)).unwrap_err();
            match error {
                ConnectorError::Upstream { status: Some(200), code: Some(code), message } => {
                    assert_eq!(code, "MalformedResponse");
                    assert!(message.starts_with("GET /v1/groups answered 200"), "{message}");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn statuses_map_to_actionable_errors() {
        let body = r#"{"code":"NotFound_User","message":"User with id 'x' not found"}"#;
        assert_eq!(
            check_status("GET /v1/users/x", &response(404, body)),
            Err(ConnectorError::NotFound("GET /v1/users/x answered 404: User with id 'x' not found".into()))
        );
        assert!(matches!(check_status("e", &response(401, "")), Err(ConnectorError::Unauthorized(_))));
        assert!(matches!(check_status("e", &response(403, "")), Err(ConnectorError::Forbidden(_))));
        assert!(matches!(
            check_status("e", &response(503, r#"{"code":"Unavailable"}"#)),
            Err(ConnectorError::Upstream { status: Some(503), code: Some(_), .. })
        ));
        let mut limited = response(429, "");
        limited.retry_after = Some("7".into());
        assert!(matches!(check_status("e", &limited), Err(ConnectorError::RateLimited { retry_after_ms: Some(7000), .. })));
    }

    #[test]
    fn a_group_member_is_read_from_a_whole_user_and_escapes_survive() {
        let body = r#"{"data":{"items":[
            {"id":"u\u00e91","email":"a@x.io","given_name":"A \"Q\"","active":true,"role":null,"extra":{"nested":[1,2]}},
            {"id":"u2","email":"b@x.io","active":false,"role":"Destination Reviewer"},
            {"id":"u3","role":""}
        ]}}"#;
        let answer = response(200, body);
        let (members, next) = decode_list::<GroupMember>("GET /v1/groups/g/users", &answer).unwrap();
        let read: Vec<_> = members.iter().map(|m| (m.id.as_deref().unwrap(), m.role.as_deref())).collect();
        assert_eq!(read, [("u\u{e9}1", None), ("u2", Some("Destination Reviewer")), ("u3", Some(""))]);
        assert_eq!(next, None);
        let no_id = response(200, r#"{"data":{"items":[{"role":"x"}]}}"#);
        let (members, _) = decode_list::<GroupMember>("GET /v1/groups/g/users", &no_id).unwrap();
        assert_eq!(members[0].id, Field::Absent, "the mapping refuses it, naming the item");
    }

    #[test]
    fn a_403_names_the_scope_the_endpoint_needs() {
        let error = check_status("GET /v1/teams/t1/users", &response(403, r#"{"code":"Forbidden","message":"no"}"#));
        assert_eq!(
            error,
            Err(ConnectorError::Forbidden(
                "GET /v1/teams/t1/users answered 403: no; a system key needs the TEAM:READ scope for this".into()
            ))
        );
        assert_eq!(scope_for("DELETE /v1/users/u1"), Some("USER:MANAGE"));
        assert_eq!(scope_for("GET /v1/groups"), Some("DESTINATION:READ"));
        assert_eq!(scope_for("GET /v2/other"), None);
    }

    #[test]
    fn nulls_and_absent_optional_fields_parse() {
        let body = r#"{"data":{"items":[{"id":"u1","email":"a@b.c","active":true,"role":null,"phone":null,
            "picture":null,"logged_in_at":null,"verified":false,"invited":true,"created_at":"2024-01-01T00:00:00Z"},
            {"id":"u2","email":"b@b.c","active":false}]}}"#;
        let answer = response(200, body);
        let (users, _) = decode_list::<User>("GET /v1/users", &answer).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].role, Field::Null);
        assert_eq!(users[1].given_name, Field::Absent);
    }

    #[test]
    fn optional_strings_are_borrowed_unless_escaped() {
        let body = r#"{"data":{"items":[{"id":"u1","email":"a@b.c","active":true,"given_name":"Ann",
            "family_name":"O\"Neil","role":"Account Reviewer","phone":null}]}}"#;
        let answer = response(200, body);
        let (users, _) = decode_list::<User>("GET /v1/users", &answer).unwrap();
        let user = &users[0];
        assert!(matches!(user.given_name, Field::Value(Cow::Borrowed("Ann"))), "{:?}", user.given_name);
        assert!(matches!(user.role, Field::Value(Cow::Borrowed("Account Reviewer"))), "{:?}", user.role);
        assert!(matches!(user.family_name, Field::Value(Cow::Owned(ref name)) if name == "O\"Neil"), "{:?}", user.family_name);
        assert_eq!((user.phone.as_deref(), user.logged_in_at.as_deref()), (None, None));
    }

    #[test]
    fn the_envelope_is_read_strictly() {
        for body in [r#"{"items":[]}"#, r#"{"data":{}}"#, r#"{"data":{"items":[],"next_cursor":{"a":1}}}"#, r#"{"data":{"items":[null]}}"#]
        {
            let error = decode_list::<Group>("GET /v1/groups", &response(200, body)).map(|_| ());
            assert!(matches!(error, Err(ConnectorError::Upstream { status: Some(200), .. })), "{body}: {error:?}");
        }
        let (items, next) = decode_list::<Group>("GET /v1/groups", &response(200, r#"{"data":{"items":null,"next_cursor":""}}"#)).unwrap();
        assert!(items.is_empty() && next.is_none());
    }
}
