//! Who may drive a local server (`serve`, the replay viewer, `play`'s game and assist page): the
//! checks every request passes before any route sees it, as one `tower-http` request validator.
//!
//! - **Host** (DNS rebinding): a page on `evil.example` whose name is later made to resolve to
//!   127.0.0.1 reaches this server as its own origin, so it could read replays and drive games;
//!   its requests carry `Host: evil.example`. Only names nobody else can point here pass: the
//!   address the server is bound to (any loopback address and `localhost` when bound to
//!   loopback; any IP address and `localhost` when bound to every interface, since an IP
//!   literal cannot be rebound), at the server's port, plus the names the user lists
//!   ([`HostName`], `server.allow_hosts` / `--allow-host`, `play`'s `--advertise` host) at any
//!   port (a proxy or a port mapping may change it).
//! - **Origin** (cross-site requests): a state change (any method but GET, HEAD, OPTIONS) from
//!   a browser must come from this server's own pages: `Sec-Fetch-Site` `same-origin` (or
//!   `none`, typed by the user), or without it an `Origin` naming the same host and port as
//!   `Host`. Requests with neither (scripts, curl) are not from a browser and cannot be forged
//!   by a web page.
//! - **JSON bodies**: a state change must say `Content-Type: application/json`. A form or a
//!   `text/plain` fetch is a request a page on another site may send without asking the
//!   browser first; a JSON one needs a CORS preflight this server never grants.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, Response, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use thiserror::Error;
use tower_http::validate_request::{ValidateRequest, ValidateRequestHeaderLayer};

/// Characters of a refused `Host` or `Origin` quoted back: enough to recognise it, bounded
/// against a crafted header.
const MAX_QUOTED_CHARS: usize = 100;
/// Longest host name accepted in `server.allow_hosts` (the DNS limit).
const MAX_HOST_NAME_CHARS: usize = 253;
/// The port a `Host` without one means (HTTP's default).
const HTTP_DEFAULT_PORT: u16 = 80;

/// Why a request was refused before reaching any route.
#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum Refusal {
    #[error("the request names no Host; send the address you reached this server at")]
    NoHost,
    #[error("this server does not answer to host `{0}`; open it at the address it printed, or allow the name with --allow-host NAME (server.allow_hosts)")]
    ForeignHost(String),
    #[error("cross-origin request refused (from {0}): only this server's own pages may change anything here")]
    CrossOrigin(String),
    #[error("a request that changes something must send its body as JSON (Content-Type: application/json); send {{}} for no fields")]
    NotJson,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> axum::response::Response {
        let status = match self {
            Refusal::NoHost => StatusCode::BAD_REQUEST,
            Refusal::ForeignHost(_) | Refusal::CrossOrigin(_) => StatusCode::FORBIDDEN,
            Refusal::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        };
        let mut r = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        r
    }
}

/// A host a server answers to: an IP address or a DNS name (lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostName {
    Ip(IpAddr),
    Name(String),
}

impl HostName {
    /// Parses a host as a user writes it in `server.allow_hosts` or `--allow-host`: a DNS name
    /// (`geo.lan`, `mypc.local`) or an IP address (`192.168.1.20`, `::1`, `[::1]`), without a
    /// port or scheme. Says what is wrong otherwise.
    pub fn parse(text: &str) -> Result<HostName, String> {
        let t = text.trim();
        let inner = t
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(t);
        if let Ok(ip) = inner.parse::<IpAddr>() {
            return Ok(HostName::Ip(ip));
        }
        let name = t.to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if name.is_empty() || name.chars().count() > MAX_HOST_NAME_CHARS {
            return Err(format!(
                "a host name has 1 to {MAX_HOST_NAME_CHARS} characters"
            ));
        }
        if !name.split('.').all(label_ok) {
            return Err(
                "expected a host name such as mypc.local or an IP address, without port, scheme or path"
                    .into(),
            );
        }
        Ok(HostName::Name(name))
    }

    /// The host of a `Host` header or URL authority, and its port if it names one; `None` when
    /// it is not a valid authority (or carries user information, which `Host` never does).
    fn of_authority(text: &str) -> Option<(HostName, Option<u16>)> {
        if text.contains('@') {
            return None;
        }
        let a: axum::http::uri::Authority = text.parse().ok()?;
        let host = HostName::parse(a.host()).ok()?;
        Some((host, a.port_u16()))
    }

    fn of_url(url: &url::Url) -> Option<HostName> {
        match url.host()? {
            url::Host::Domain(d) => HostName::parse(d).ok(),
            url::Host::Ipv4(ip) => Some(HostName::Ip(IpAddr::V4(ip))),
            url::Host::Ipv6(ip) => Some(HostName::Ip(IpAddr::V6(ip))),
        }
    }
}

/// The hosts one server answers to (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Reach {
    bound: SocketAddr,
    names: Vec<HostName>,
}

impl Reach {
    /// A server listening on `bound` that also answers to `names` (at any port).
    pub(crate) fn new(bound: SocketAddr, names: &[HostName]) -> Reach {
        Reach {
            bound,
            names: names.to_vec(),
        }
    }

    fn allows(&self, host: &HostName, port: Option<u16>) -> bool {
        if self.names.contains(host) {
            return true;
        }
        if port.unwrap_or(HTTP_DEFAULT_PORT) != self.bound.port() {
            return false;
        }
        let bound = self.bound.ip();
        match host {
            HostName::Name(n) => {
                n == "localhost" && (bound.is_loopback() || bound.is_unspecified())
            }
            // Every interface: people on the LAN open it by the machine's address.
            HostName::Ip(_) if bound.is_unspecified() => true,
            HostName::Ip(ip) if bound.is_loopback() => ip.is_loopback(),
            HostName::Ip(ip) => *ip == bound,
        }
    }

    /// `Ok` when `req` may reach a route (see the module docs).
    pub(crate) fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), Refusal> {
        let host_text = headers
            .get(header::HOST)
            .map(|v| v.to_str().unwrap_or("(not text)"))
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .ok_or(Refusal::NoHost)?;
        let (host, port) = HostName::of_authority(host_text)
            .filter(|(h, p)| self.allows(h, *p))
            .ok_or_else(|| Refusal::ForeignHost(quoted(host_text)))?;
        // An absolute request target names a host too: it must be one of ours as well.
        if let Some(a) = uri.authority() {
            if !HostName::of_authority(a.as_str()).is_some_and(|(h, p)| self.allows(&h, p)) {
                return Err(Refusal::ForeignHost(quoted(a.as_str())));
            }
        }
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        same_origin(headers, &host, port)?;
        if !is_json(headers) {
            return Err(Refusal::NotJson);
        }
        Ok(())
    }
}

/// Whether a state change came from this server's own page (see the module docs).
fn same_origin(headers: &HeaderMap, host: &HostName, port: Option<u16>) -> Result<(), Refusal> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.to_str().unwrap_or("") {
            "same-origin" | "none" => Ok(()),
            other => Err(Refusal::CrossOrigin(format!(
                "Sec-Fetch-Site: {}",
                quoted(other)
            ))),
        };
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let text = origin.to_str().unwrap_or("");
    let refuse = || Refusal::CrossOrigin(format!("Origin: {}", quoted(text)));
    let url = url::Url::parse(text).map_err(|_| refuse())?;
    let same_host = HostName::of_url(&url).is_some_and(|h| h == *host);
    let same_port = match port {
        Some(p) => url.port_or_known_default() == Some(p),
        None => url.port().is_none(),
    };
    if same_host && same_port {
        Ok(())
    } else {
        Err(refuse())
    }
}

/// `Content-Type: application/json` (any parameters, any case).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// A header value as quoted in an error: one line, bounded.
fn quoted(text: &str) -> String {
    crate::text::line(text, MAX_QUOTED_CHARS)
}

/// The request validator `tower-http` runs in front of every route.
#[derive(Clone)]
pub(crate) struct Guard(Arc<Reach>);

impl<B> ValidateRequest<B> for Guard {
    type ResponseBody = Body;

    fn validate(&mut self, req: &mut Request<B>) -> Result<(), Response<Body>> {
        self.0
            .check(req.method(), req.uri(), req.headers())
            .map_err(|refusal| {
                tracing::debug!(%refusal, "refused a request to the local server");
                refusal.into_response()
            })
    }
}

/// The layer that refuses what [`Reach::check`] refuses.
pub(crate) fn layer(reach: Reach) -> ValidateRequestHeaderLayer<Guard> {
    ValidateRequestHeaderLayer::custom(Guard(Arc::new(reach)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn check(reach: &Reach, method: Method, pairs: &[(&'static str, &str)]) -> Result<(), Refusal> {
        reach.check(&method, &Uri::from_static("/api/games"), &headers(pairs))
    }

    const JSON: (&str, &str) = ("content-type", "application/json");

    #[test]
    fn loopback_answers_to_its_own_addresses_only() {
        let reach = Reach::new("127.0.0.1:8080".parse().unwrap(), &[]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
            "127.0.0.2:8080",
        ] {
            assert_eq!(check(&reach, Method::GET, &[("host", ok)]), Ok(()), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "x.nip.io",
            "127.0.0.1.nip.io:8080",
            "192.168.1.5:8080",
            "127.0.0.1:9090",
            "localhost",
            "user@127.0.0.1:8080",
            "",
        ] {
            assert!(
                matches!(
                    check(&reach, Method::GET, &[("host", bad)]),
                    Err(Refusal::ForeignHost(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(check(&reach, Method::GET, &[]), Err(Refusal::NoHost));
    }

    #[test]
    fn every_interface_answers_to_ip_addresses_and_listed_names() {
        let names = [HostName::parse("MyPC.local").unwrap()];
        let reach = Reach::new("0.0.0.0:8080".parse().unwrap(), &names);
        for ok in [
            "192.168.1.5:8080",
            "[fe80::1]:8080",
            "localhost:8080",
            "mypc.local:8080",
            "mypc.local:443",
            "mypc.local",
        ] {
            assert_eq!(check(&reach, Method::GET, &[("host", ok)]), Ok(()), "{ok}");
        }
        for bad in ["evil.example:8080", "192.168.1.5:8081", "other.local:8080"] {
            assert!(
                check(&reach, Method::GET, &[("host", bad)]).is_err(),
                "{bad}"
            );
        }
        let lan = Reach::new("192.168.1.5:8080".parse().unwrap(), &[]);
        assert!(check(&lan, Method::GET, &[("host", "192.168.1.5:8080")]).is_ok());
        assert!(check(&lan, Method::GET, &[("host", "localhost:8080")]).is_err());
        assert!(check(&lan, Method::GET, &[("host", "10.0.0.1:8080")]).is_err());
    }

    #[test]
    fn state_changes_come_from_this_origin_as_json() {
        let reach = Reach::new("127.0.0.1:8080".parse().unwrap(), &[]);
        let host = ("host", "127.0.0.1:8080");
        assert_eq!(
            check(&reach, Method::POST, &[host, JSON]),
            Ok(()),
            "a script"
        );
        for same in [
            vec![
                host,
                JSON,
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:8080"),
            ],
            vec![host, JSON, ("origin", "http://127.0.0.1:8080")],
            vec![host, JSON, ("sec-fetch-site", "none")],
        ] {
            assert_eq!(check(&reach, Method::POST, &same), Ok(()), "{same:?}");
        }
        for cross in [
            vec![host, JSON, ("sec-fetch-site", "cross-site")],
            vec![
                host,
                JSON,
                ("sec-fetch-site", "same-site"),
                ("origin", "http://localhost:3000"),
            ],
            vec![host, JSON, ("origin", "https://evil.example")],
            vec![host, JSON, ("origin", "http://127.0.0.1:9090")],
            vec![host, JSON, ("origin", "null")],
        ] {
            assert!(
                matches!(
                    check(&reach, Method::POST, &cross),
                    Err(Refusal::CrossOrigin(_))
                ),
                "{cross:?}"
            );
        }
        for body in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
        ] {
            assert_eq!(
                check(&reach, Method::POST, &[host, ("content-type", body)]),
                Err(Refusal::NotJson),
                "{body}"
            );
        }
        assert_eq!(check(&reach, Method::POST, &[host]), Err(Refusal::NotJson));
        assert_eq!(
            check(
                &reach,
                Method::POST,
                &[host, ("content-type", "Application/JSON; charset=utf-8")]
            ),
            Ok(())
        );
    }

    #[test]
    fn allowed_names_parse_or_say_why_not() {
        assert_eq!(
            HostName::parse(" Geo.LAN ").unwrap(),
            HostName::Name("geo.lan".into())
        );
        assert_eq!(
            HostName::parse("[::1]").unwrap(),
            HostName::Ip("::1".parse().unwrap())
        );
        for bad in ["", "http://x", "x:80", "a/b", "a..b", &"a".repeat(300)] {
            assert!(HostName::parse(bad).is_err(), "{bad}");
        }
        let q = quoted(&"é".repeat(500));
        assert!(q.starts_with(&"é".repeat(MAX_QUOTED_CHARS)), "{q}");
        assert!(q.ends_with("… (cut from 1000 bytes)"), "{q}");
    }
}
