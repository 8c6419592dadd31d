//! Egress policy: where a connector's HTTP requests may go.
//!
//! This module's documentation is its specification. The policy is fail-closed: a request is sent
//! only when every rule below allows it, and a refusal is final for that request.
//!
//! 1. **Origin.** The request's scheme, host and port must equal one allowed origin. By default
//!    the only allowed origin is the tenant's base URL's (`https://api.example.com:443`). Host
//!    names compare case-insensitively; a missing port is the scheme's default.
//! 2. **Scheme.** `https` always qualifies. Plain `http` qualifies only when private networks are
//!    allowed and every address the host resolves to is private (a local fake or proxy).
//! 3. **Addresses.** Every address the host name resolves to is checked. Loopback, private
//!    (RFC 1918), carrier-grade NAT, link-local (including the cloud metadata address
//!    169.254.169.254), unique-local and link-local IPv6, unspecified, multicast and broadcast
//!    addresses, and IPv4-mapped or -compatible IPv6 forms of them, are refused unless
//!    `allow_private_network` is set. One refused address refuses the request.
//! 4. **Cloud metadata.** The instance-metadata and credential endpoints of cloud platforms are
//!    refused always, even with `allow_private_network`: 169.254.169.254 (AWS, Azure, GCP,
//!    OpenStack and others), 169.254.170.2 and 169.254.170.23 (AWS ECS and EKS credentials),
//!    100.100.100.200 (Alibaba Cloud), fd00:ec2::254 and fd00:ec2::23 (AWS over IPv6), and every
//!    IPv4-mapped, -compatible or NAT64 form of the IPv4 ones. A name or numeric alias that
//!    resolves to one (`2852039166`, `0xa9fea9fe`) is refused by its resolved address. A tenant
//!    allowed a private proxy can still never read the machine's cloud credentials.
//! 5. **Credentials.** The connector may not set `Authorization`; the host sets it on requests that
//!    pass this policy, for the tenant's API origin only.
//! 6. **Path.** A request's path lies under the base URL's path, when it has one (a SCIM root
//!    such as `/scim/v2` admits `/scim/v2/Users`, not `/admin` or `/scim/v2x`), and holds no dot
//!    segment (`.`, `..`, or their percent-encoded forms), which a server would resolve to a path
//!    outside it.
//!
//! A base URL is `http(s)://host[:port][/path]`: a port that is not 1 to 65535, user
//! information, a query, a fragment or a dot segment in the path is refused before anything is
//! sent.
//!
//! A refusal names the origin and says how to allow it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::Uri;
use http::uri::Scheme;

use crate::error::{HostError, Refusal, Result};

/// A scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// The origin of a base URL; refuses anything but `http(s)://host[:port][/path]`.
    pub fn from_base_url(base_url: &str) -> Result<Self> {
        Self::and_path_of(base_url).map(|(origin, _)| origin)
    }

    /// The origin of a base URL and its path (`""` when it has none, else without a trailing
    /// `/`).
    pub fn and_path_of(base_url: &str) -> Result<(Self, String)> {
        let usage = |why: &str| {
            HostError::usage(format!(
                "base URL {:?} {why}; a base URL is a scheme, a host and optionally a path, e.g. https://api.example.com or https://api.example.com/scim/v2",
                base_url.chars().take(200).collect::<String>()
            ))
            .with_setting("base_url")
        };
        if base_url.contains('#') {
            return Err(usage("has a fragment"));
        }
        let uri: Uri = base_url.parse().map_err(|_| usage("is not a URL (a port must be 1 to 65535)"))?;
        let authority = uri.authority().ok_or_else(|| usage("needs an http or https scheme and a host"))?;
        if authority.as_str().contains('@') {
            return Err(usage("carries user information"));
        }
        // The port as written: `port_u16` reads one that does not fit as none, which would
        // silently become the scheme's default.
        let text = authority.as_str();
        let host_end =
            if text.starts_with('[') { text.find(']').map_or(text.len(), |i| i + 1) } else { text.rfind(':').unwrap_or(text.len()) };
        if let Some(port) = text[host_end..].strip_prefix(':')
            && !matches!(port.parse::<u16>(), Ok(1..))
        {
            return Err(usage(&format!("has port {port:?}; a port is 1 to 65535")));
        }
        if uri.query().is_some() || base_url.ends_with('?') {
            return Err(usage("has a query"));
        }
        let path = uri.path().trim_end_matches('/').to_owned();
        if has_dot_segment(&path) {
            return Err(usage("has a dot segment (. or ..) in its path"));
        }
        let origin = Self::of(&uri).ok_or_else(|| usage("needs an http or https scheme and a host"))?;
        Ok((origin, path))
    }

    /// The origin a request URI addresses, if it names one.
    pub fn of(uri: &Uri) -> Option<Self> {
        let scheme = uri.scheme()?;
        let default_port = if *scheme == Scheme::HTTPS {
            443
        } else if *scheme == Scheme::HTTP {
            80
        } else {
            return None;
        };
        let host = uri.host()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        Some(Self { scheme: scheme.as_str().to_owned(), host, port: uri.port_u16().unwrap_or(default_port) })
    }

    pub fn is_https(&self) -> bool {
        self.scheme == "https"
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// Whether a path holds a `.` or `..` segment, percent-encoded or not.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.replace("%2e", ".").replace("%2E", ".");
        decoded == "." || decoded == ".."
    })
}

/// One tenant's egress rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPolicy {
    pub allowed_origins: Vec<Origin>,
    pub allow_private_network: bool,
    /// The path every request's path lies under (rule 6): the base URL's, `""` for any.
    pub base_path: String,
}

impl EgressPolicy {
    /// Allows only `base_url`'s origin, and paths under its path.
    pub fn for_base_url(base_url: &str, allow_private_network: bool) -> Result<Self> {
        let (origin, base_path) = Origin::and_path_of(base_url)?;
        Ok(Self { allowed_origins: vec![origin], allow_private_network, base_path })
    }

    /// Rule 6: the request's path.
    /// A policy that lets no request out: for a session that only describes its connector.
    pub fn none() -> Self {
        Self { allowed_origins: Vec::new(), allow_private_network: false, base_path: String::new() }
    }

    pub fn check_path(&self, origin: &Origin, path: &str) -> Result<(), Refusal> {
        if has_dot_segment(path) {
            return Err(Refusal::new(format!("egress to {origin}{path} denied: the path has a dot segment (. or ..)"), None));
        }
        let base = self.base_path.as_str();
        let under = base.is_empty() || path == base || path.strip_prefix(base).is_some_and(|rest| rest.starts_with('/'));
        if under {
            Ok(())
        } else {
            Err(Refusal::new(format!("egress to {origin}{path} denied: the tenant allows only paths under {base}"), Some("base_url")))
        }
    }

    /// Rule 1: the origin itself, before any name is resolved.
    pub fn check_origin(&self, origin: &Origin) -> Result<(), Refusal> {
        if self.allowed_origins.contains(origin) {
            return Ok(());
        }
        if self.allowed_origins.is_empty() {
            return Err(Refusal::new(format!("egress to {origin} denied: a connector describing itself may send no request"), None));
        }
        let allowed: Vec<String> = self.allowed_origins.iter().map(ToString::to_string).collect();
        Err(Refusal::new(format!("egress to {origin} denied: the tenant allows only {}", allowed.join(", ")), Some("base_url")))
    }

    /// Rules 2, 3 and 4: the addresses the origin's host resolved to.
    pub fn check_addresses(&self, origin: &Origin, addresses: &[IpAddr]) -> Result<(), Refusal> {
        if addresses.is_empty() {
            return Err(Refusal::new(format!("egress to {origin} denied: {} resolves to no address", origin.host), None));
        }
        if let Some(metadata) = addresses.iter().find(|ip| is_cloud_metadata(ip)) {
            return Err(Refusal::new(
                format!(
                    "egress to {origin} denied: it resolves to {metadata}, a cloud metadata address, which no tenant may reach (not even with allow_private_network)"
                ),
                None,
            ));
        }
        let private: Vec<&IpAddr> = addresses.iter().filter(|ip| !is_public(ip)).collect();
        if !private.is_empty() && !self.allow_private_network {
            return Err(Refusal::new(
                format!(
                    "egress to {origin} denied: it resolves to the non-public address {}, allowed only for a local fake or proxy",
                    private[0]
                ),
                Some("allow_private_network"),
            ));
        }
        if !origin.is_https() && private.len() != addresses.len() {
            return Err(Refusal::new(
                format!("egress to {origin} denied: plain http is allowed only to private addresses; use https"),
                None,
            ));
        }
        if !origin.is_https() && !self.allow_private_network {
            return Err(Refusal::new(
                format!("egress to {origin} denied: plain http is allowed only to a private address of a local fake or proxy; use https"),
                Some("allow_private_network"),
            ));
        }
        Ok(())
    }
}

/// Whether an address is a cloud platform's metadata or credential endpoint (rule 4), in any
/// IPv6 form of it.
pub fn is_cloud_metadata(ip: &IpAddr) -> bool {
    const V4: [Ipv4Addr; 4] = [
        Ipv4Addr::new(169, 254, 169, 254),
        Ipv4Addr::new(169, 254, 170, 2),
        Ipv4Addr::new(169, 254, 170, 23),
        Ipv4Addr::new(100, 100, 100, 200),
    ];
    const V6: [Ipv6Addr; 2] = [Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254), Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23)];
    match ip {
        IpAddr::V4(v4) => V4.contains(v4),
        IpAddr::V6(v6) => V6.contains(v6) || embedded_v4(v6).is_some_and(|v4| V4.contains(&v4)),
    }
}

/// Whether an address is on the public internet (see rule 3).
pub fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_public_v4(&v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site local (deprecated) fec0::/10
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

fn is_public_v4(ip: &Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT 100.64.0.0/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 240) // reserved
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), -compatible (`::a.b.c.d`) or
/// NAT64 (`64:ff9b::a.b.c.d`) IPv6 address.
fn embedded_v4(ip: &Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_loopback() && !ip.is_unspecified() => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn requests_stay_under_the_base_urls_path() {
        let policy = EgressPolicy::for_base_url("https://api.example.com/scim/v2/", false).unwrap();
        assert_eq!(policy.base_path, "/scim/v2");
        let origin = Origin::from_base_url("https://api.example.com").unwrap();
        for good in ["/scim/v2", "/scim/v2/Users", "/scim/v2/Users/a%2Fb"] {
            assert!(policy.check_path(&origin, good).is_ok(), "{good}");
        }
        for bad in ["/", "/admin", "/scim/v2x/Users", "/scim/v2/../../admin", "/scim/v2/%2e%2E/x", "/scim/v2/./Users"] {
            assert!(policy.check_path(&origin, bad).is_err(), "{bad}");
        }
        let rooted = EgressPolicy::for_base_url("https://api.example.com", false).unwrap();
        assert!(rooted.check_path(&origin, "/v1/users").is_ok());
        assert!(rooted.check_path(&origin, "/v1/groups/../users").is_err());
    }

    #[test]
    fn base_url_must_be_scheme_and_host() {
        let origin = Origin::from_base_url("https://API.example.com").unwrap();
        assert_eq!(origin.to_string(), "https://api.example.com:443");
        for bad in [
            "ftp://x",
            "https://u:p@x",
            "https://x/v1/../admin",
            "https://x/%2E%2e/admin",
            "x",
            "https://x?q=1",
            "https://x#f",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:0",
            "http://127.0.0.1:",
            "http://127.0.0.1:-1",
            "http://127.0.0.1:8o",
        ] {
            let error = Origin::from_base_url(bad).map_err(|e| e.kind());
            assert_eq!(error, Err(crate::ErrorKind::Usage), "{bad}");
        }
        assert!(Origin::from_base_url("http://127.0.0.1:99999").unwrap_err().message().contains("a port is 1 to 65535"));
        assert_eq!(Origin::from_base_url("http://127.0.0.1:65535").unwrap().port, 65535);
        assert_eq!(Origin::from_base_url("http://[::1]:8080/").unwrap().to_string(), "http://[::1]:8080");
    }

    #[test]
    fn cloud_metadata_addresses_are_refused_even_with_private_networks_allowed() {
        let open = EgressPolicy::for_base_url("http://metadata.internal", true).unwrap();
        let origin = open.allowed_origins[0].clone();
        for text in [
            "169.254.169.254",
            "169.254.170.2",
            "169.254.170.23",
            "100.100.100.200",
            "fd00:ec2::254",
            "fd00:ec2::23",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            let denied = open.check_addresses(&origin, &[ip("10.0.0.5"), ip(text)]).unwrap_err();
            assert!(denied.message.contains("cloud metadata address") && denied.setting.is_none(), "{text}: {denied:?}");
        }
        assert!(open.check_addresses(&origin, &[ip("10.0.0.5"), ip("169.254.1.1")]).is_ok(), "other link-local stays private");
    }

    #[test]
    fn only_the_allowed_origin_passes() {
        let policy = EgressPolicy::for_base_url("https://api.example.com", false).unwrap();
        let check = |url: &str| policy.check_origin(&Origin::of(&url.parse().unwrap()).unwrap());
        assert!(check("https://api.example.com/v1/users").is_ok());
        assert!(check("https://api.example.com:443/v1/users").is_ok());
        assert!(check("http://api.example.com/v1/users").is_err());
        assert!(check("https://api.example.com:8443/").is_err());
        assert_eq!(check("https://evil.example/").unwrap_err().setting, Some("base_url"));
    }

    #[test]
    fn non_public_addresses_are_refused_unless_allowed() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(&ip(text)), "{text} must not count as public");
        }
        for text in ["35.1.2.3", "8.8.8.8", "2600:1f18::1", "::ffff:8.8.8.8"] {
            assert!(is_public(&ip(text)), "{text} is public");
        }
        let strict = EgressPolicy::for_base_url("https://api.example.com", false).unwrap();
        let origin = strict.allowed_origins[0].clone();
        assert!(strict.check_addresses(&origin, &[ip("35.1.2.3")]).is_ok());
        let denied = strict.check_addresses(&origin, &[ip("35.1.2.3"), ip("169.254.1.1")]).unwrap_err();
        assert!(denied.message.contains("169.254.1.1") && denied.setting == Some("allow_private_network"), "{denied:?}");
    }

    #[test]
    fn plain_http_only_to_private_addresses_when_allowed() {
        let local = EgressPolicy::for_base_url("http://127.0.0.1:8080", true).unwrap();
        let origin = local.allowed_origins[0].clone();
        assert!(local.check_addresses(&origin, &[ip("127.0.0.1")]).is_ok());
        assert!(local.check_addresses(&origin, &[ip("35.1.2.3")]).unwrap_err().message.contains("use https"));
        let strict = EgressPolicy::for_base_url("http://127.0.0.1:8080", false).unwrap();
        assert!(strict.check_addresses(&origin, &[ip("127.0.0.1")]).is_err());
    }
}
