//! What every change shares: its input checks, a body of only what differs, and what a read-back
//! does not show of what was sent.

use serde_json::{Map, Value, json};

use crate::ids;
use crate::model::{ConnectorError, Result};

pub(crate) use connector_sdk::checks::{check_new_account, check_person_name as check_name, check_phone};

/// The scope `/v1/roles` gives account roles.
pub(crate) const ACCOUNT: &str = "ACCOUNT";

pub(crate) fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidArgument(message)
}

pub(crate) fn unverified(message: String) -> ConnectorError {
    ConnectorError::unverified(message)
}

pub(crate) fn check_id(id: &str, what: &str) -> Result<()> {
    if !ids::is_fivetran_id(id) {
        return Err(invalid(format!("{what} {id:?} is not a Fivetran id")));
    }
    Ok(())
}

/// Adds `field` to `body` when `wanted` is given and differs from `current` (both compared
/// trimmed, as sync reports them).
pub(crate) fn differing(body: &mut Map<String, Value>, field: &str, wanted: Option<&str>, current: Option<&str>) {
    if let Some(wanted) = wanted
        && Some(wanted.trim()) != current.map(str::trim)
    {
        body.insert(field.to_owned(), json!(wanted.trim()));
    }
}

/// The fields of `body` (what a change sent) that the read-back `now` does not show, each as
/// `field "shown" (asked "sent")`.
pub(crate) fn not_shown(body: &Map<String, Value>, now: &[(&str, Option<&str>)]) -> Vec<String> {
    now.iter()
        .filter_map(|(field, shown)| {
            let asked = body.get(*field)?.as_str()?;
            (*shown != Some(asked)).then(|| format!("{field} {} (asked {asked:?})", shown.map_or("none".into(), |s| format!("{s:?}"))))
        })
        .collect()
}
