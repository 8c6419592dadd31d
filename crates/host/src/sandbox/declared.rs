//! What a component declares about itself, checked once before any tenant runs it.

use std::sync::Arc;

use crate::bindings::latest::types::{AuthScheme, ConnectorMetadata};
use crate::error::{HostError, Result};
use crate::http::RateLimitHeaders;

/// What a component declares, and the rate-limit headers its sessions pace by, derived once.
pub(super) struct Declared {
    pub(super) metadata: ConnectorMetadata,
    pub(super) rate_limit: Option<Arc<RateLimitHeaders>>,
}

/// Refuses metadata the host cannot act on, naming what is wrong: credentials without a name, an
/// auth scheme naming a credential not declared, an invalid base URL or header name, a page of 0.
pub(super) fn check_metadata(metadata: &ConnectorMetadata) -> Result<()> {
    let bad = |why: String| HostError::usage(format!("the connector {:?} declares {why}; the connector is faulty", metadata.name));
    let names: Vec<&str> = metadata.credentials.iter().map(|c| c.name.as_str()).collect();
    for name in &names {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(bad(format!("a credential named {name:?} (names are lower-case letters, digits and '_')")));
        }
    }
    let used: Vec<&str> = match &metadata.auth {
        AuthScheme::Basic(basic) => vec![&basic.user, &basic.password],
        AuthScheme::Bearer(name) => vec![name],
        AuthScheme::Header(header) => {
            if http::header::HeaderName::try_from(header.name.as_str()).is_err() {
                return Err(bad(format!("an auth header named {:?}", header.name)));
            }
            vec![&header.credential]
        }
    };
    if !names.is_empty()
        && let Some(missing) = used.iter().find(|name| !names.contains(name))
    {
        return Err(bad(format!("an auth scheme using the credential {missing:?}, which it does not declare")));
    }
    if let Some(url) = &metadata.default_base_url {
        crate::egress::Origin::from_base_url(url).map_err(|_| bad(format!("the default base URL {url:?}, which is not one")))?;
    }
    if metadata.max_page_size == 0 {
        return Err(bad("a largest page of 0 items".into()));
    }
    Ok(())
}
