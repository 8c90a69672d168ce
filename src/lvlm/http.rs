//! The HTTP side every provider shares: one `reqwest` client with the provider's auth headers
//! (marked sensitive), the per-attempt timeout, the rate limiter around each attempt, the
//! mapping of HTTP failures onto [`LvlmError`], and scrubbing the API key out of anything a
//! server echoes back.
//!
//! A provider module builds a [`Transport`] from its [`ClientConfig`] ([`Transport::bearer`] or
//! [`Transport::key_header`]) and calls [`Transport::complete`] with its wire body and a
//! converter for its wire answer; retries come from [`super::retry::with_retries`].
//!
//! Redaction is structural: a success body is parsed to JSON and every string in it (keys and
//! values) has the key replaced *before* the provider's converter sees it, and every quoted
//! error or undecodable body is redacted here too. So no text a provider puts into an answer,
//! a refusal or an error can carry the key, whatever the provider forgets.

use super::limit::Limiter;
use super::retry::{parse_retry_after, with_retries, RetryPolicy};
use super::settings::ClientConfig;
use super::{LvlmError, Request, Response};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Time to open the TCP/TLS connection. A healthy endpoint connects in well under a second;
/// failing fast here lets the retry policy try again sooner.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an error body is kept in [`LvlmError::Status`]: enough for the provider's
/// message, small enough for logs and replays.
pub(crate) const ERROR_BODY_LIMIT: usize = 600;
/// How much of an unreadable success body is quoted in [`LvlmError::Decode`].
pub(crate) const DECODE_QUOTE_LIMIT: usize = 120;

/// What a secret is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// One provider's HTTP client.
pub struct Transport {
    http: reqwest::Client,
    /// Secrets to scrub from error text (the API key).
    secrets: Vec<SecretString>,
    timeout: Duration,
    retry: RetryPolicy,
    limiter: Arc<Limiter>,
    /// Where the key comes from, named when the provider rejects it.
    key_vars: &'static [&'static str],
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("limiter", &self.limiter)
            .finish()
    }
}

/// A header the transport sends with every request.
pub struct AuthHeader {
    pub name: &'static str,
    /// Full header value, e.g. `Bearer sk-...` or the bare key.
    pub value: SecretString,
}

impl Transport {
    /// The transport for an OpenAI-style API: `Authorization: Bearer` when a key is set.
    /// `key_vars` are the environment variables the key is read from (named on a 401/403).
    pub fn bearer(
        cfg: &ClientConfig,
        key_vars: &'static [&'static str],
    ) -> Result<Self, LvlmError> {
        let auth = cfg.api_key.as_ref().map(|k| AuthHeader {
            name: "authorization",
            value: SecretString::from(format!("Bearer {}", k.expose_secret())),
        });
        Self::from_config(cfg, auth, &[], key_vars)
    }

    /// The transport for an API that takes the bare key in its own header (`x-api-key`,
    /// `x-goog-api-key`), plus any fixed headers such as an API version.
    pub(crate) fn key_header(
        cfg: &ClientConfig,
        header: &'static str,
        plain: &[(&'static str, &str)],
        key_vars: &'static [&'static str],
    ) -> Result<Self, LvlmError> {
        let auth = cfg.api_key.as_ref().map(|k| AuthHeader {
            name: header,
            value: k.clone(),
        });
        Self::from_config(cfg, auth, plain, key_vars)
    }

    /// A transport with the client's key (scrubbed from everything read back), timeout,
    /// retries and limiter.
    fn from_config(
        cfg: &ClientConfig,
        auth: Option<AuthHeader>,
        plain: &[(&'static str, &str)],
        key_vars: &'static [&'static str],
    ) -> Result<Self, LvlmError> {
        let mut t = Self::new(
            auth,
            plain,
            cfg.api_key.clone(),
            cfg.request_timeout,
            cfg.retry.clone(),
            cfg.limiter.clone(),
        )?;
        t.key_vars = key_vars;
        Ok(t)
    }

    /// `auth` headers are sent marked sensitive; `plain` headers (API versions) as they are;
    /// `secret` is what [`Transport::redact`] scrubs.
    pub fn new(
        auth: Option<AuthHeader>,
        plain: &[(&'static str, &str)],
        secret: Option<SecretString>,
        timeout: Duration,
        retry: RetryPolicy,
        limiter: Arc<Limiter>,
    ) -> Result<Self, LvlmError> {
        if timeout.is_zero() {
            return Err(LvlmError::Config(
                "request_timeout must be above zero".into(),
            ));
        }
        let mut headers = HeaderMap::new();
        if let Some(a) = auth {
            let mut value = HeaderValue::from_str(a.value.expose_secret()).map_err(|_| {
                LvlmError::Config(
                    "api_key contains characters not allowed in an HTTP header \
                     (check for a stray newline)"
                        .into(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(a.name), value);
        }
        for (name, value) in plain {
            let v = HeaderValue::from_str(value).map_err(|_| {
                LvlmError::Config(format!("header {name} value {value:?} is invalid"))
            })?;
            headers.insert(HeaderName::from_static(name), v);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("geoagent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LvlmError::Config(format!("could not build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            secrets: secret
                .into_iter()
                .filter(|s| !s.expose_secret().is_empty())
                .collect(),
            timeout,
            retry,
            limiter,
            key_vars: &[],
        })
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.limiter
    }

    /// Replaces every secret wherever a server echoed it back.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            out = out.replace(s.expose_secret(), REDACTED);
        }
        out
    }

    /// [`Transport::redact`] over every string of a JSON document, object keys included, so
    /// a key the server wrote with JSON escapes (`\u0073k-...`) is caught too.
    pub(crate) fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                if self.secrets.iter().any(|k| s.contains(k.expose_secret())) {
                    *s = self.redact(s);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (k, mut v) in entries {
                    self.redact_json(&mut v);
                    map.insert(self.redact(&k), v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// One model call over the shared path, as every provider's `complete` makes it: serialises
    /// the provider's wire body, posts it with retries, decodes the provider's wire answer `W`,
    /// converts it with `convert`, and records the bytes of the images sent.
    pub async fn complete<B: serde::Serialize, W: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        wire_body: &B,
        req: &Request,
        convert: impl Fn(W) -> Result<Response, LvlmError>,
    ) -> Result<Response, LvlmError> {
        let body = serde_json::to_vec(wire_body)
            .map_err(|e| LvlmError::Config(format!("request does not serialise: {e}")))?;
        let mut resp = self
            .call(url, &body, |bytes| {
                let mut value: serde_json::Value = self.decode_json(bytes)?;
                self.redact_json(&mut value);
                let wire = serde_json::from_value::<W>(value).map_err(|e| {
                    LvlmError::Decode(format!("the answer does not have the expected shape: {e}"))
                })?;
                convert(wire)
            })
            .await?;
        resp.image_bytes = req.image_bytes();
        Ok(resp)
    }

    /// POSTs `body` (JSON) to `url` with retries; `decode` turns a 2xx body into a response.
    /// Fills in `attempts` and `request_bytes`. Private: providers go through
    /// [`Transport::complete`], which redacts the body before their code sees it.
    async fn call<F>(&self, url: &str, body: &[u8], decode: F) -> Result<Response, LvlmError>
    where
        F: Fn(&[u8]) -> Result<Response, LvlmError>,
    {
        let (mut resp, attempts) = with_retries(&self.retry, |_| async {
            let bytes = self.post(url, body).await?;
            decode(&bytes)
        })
        .await?;
        resp.attempts = attempts;
        resp.request_bytes = body.len() as u64;
        Ok(resp)
    }

    /// One attempt: waits for the limiter, then sends with the request timeout applied to the
    /// whole exchange (not to the wait for a slot, which the round timeout bounds).
    async fn post(&self, url: &str, body: &[u8]) -> Result<Vec<u8>, LvlmError> {
        let _permit = self.limiter.acquire().await;
        match tokio::time::timeout(self.timeout, self.post_inner(url, body)).await {
            Ok(r) => r,
            Err(_) => Err(LvlmError::Timeout(self.timeout)),
        }
    }

    async fn post_inner(&self, url: &str, body: &[u8]) -> Result<Vec<u8>, LvlmError> {
        let resp = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let status = resp.status();
        self.limiter.observe(resp.headers(), SystemTime::now());
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let bytes = resp.bytes().await.map_err(|e| {
            if e.is_timeout() {
                LvlmError::Timeout(self.timeout)
            } else {
                LvlmError::Decode(format!("the response body was cut off ({e})"))
            }
        })?;
        if status.as_u16() == 429 {
            return Err(LvlmError::RateLimited { retry_after });
        }
        if matches!(status.as_u16(), 401 | 403) {
            return Err(LvlmError::Auth {
                status: status.as_u16(),
                key_vars: self.key_vars,
                body: truncate(
                    &self.redact(&String::from_utf8_lossy(&bytes)),
                    ERROR_BODY_LIMIT,
                ),
            });
        }
        if !status.is_success() {
            return Err(LvlmError::Status {
                status: status.as_u16(),
                body: truncate(
                    &self.redact(&String::from_utf8_lossy(&bytes)),
                    ERROR_BODY_LIMIT,
                ),
                retry_after,
            });
        }
        Ok(bytes.to_vec())
    }

    fn transport_error(&self, url: &str, e: reqwest::Error) -> LvlmError {
        if e.is_timeout() {
            LvlmError::Timeout(self.timeout)
        } else {
            LvlmError::Connect {
                url: self.redact(url),
                source: e,
            }
        }
    }

    /// Parses a success body, quoting its start (redacted) when it is not the expected JSON —
    /// typically a body cut off mid-way.
    fn decode_json<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, LvlmError> {
        parse_wire(bytes).map_err(|e| match e {
            LvlmError::Decode(m) => LvlmError::Decode(self.redact(&m)),
            other => other,
        })
    }
}

/// Parses a body as a provider's wire answer `W`, quoting the body's start when it does not fit
/// (callers that know the key redact first; see [`Transport::complete`]).
pub(crate) fn parse_wire<W: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<W, LvlmError> {
    serde_json::from_slice(bytes).map_err(|e| {
        LvlmError::Decode(format!(
            "{e} in {} bytes starting {:?}",
            bytes.len(),
            truncate(&String::from_utf8_lossy(bytes), DECODE_QUOTE_LIMIT)
        ))
    })
}

/// Checks a base URL and returns it without trailing slashes.
pub(crate) fn check_base_url(base_url: &str, example: &str) -> Result<String, LvlmError> {
    let trimmed = base_url.trim();
    let parsed = url::Url::parse(trimmed).map_err(|e| {
        LvlmError::Config(format!(
            "base_url {base_url:?} is not a URL ({e}); expected e.g. {example}"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(LvlmError::Config(format!(
            "base_url {base_url:?} must start with http:// or https://"
        )));
    }
    Ok(trimmed.trim_end_matches('/').to_string())
}

/// Checks the model name is not blank.
pub(crate) fn check_model(model: &str) -> Result<(), LvlmError> {
    if model.trim().is_empty() {
        return Err(LvlmError::Config(
            "model is empty; name the model to call".into(),
        ));
    }
    Ok(())
}

/// Cuts `s` to at most `limit` bytes on a character boundary, marking the cut.
/// The HTTP status an OpenAI-style error object sent in a 200 body stands for when it says the
/// key was rejected (`code: "invalid_api_key"`, an authentication/permission type, or a
/// `status`/`code` of 401 or 403); `None` for every other error. Some compatible servers answer
/// 200 with such an object, and a rejected key must stop the match like a real 401 does.
pub(crate) fn auth_status_in_body(err: &serde_json::Value) -> Option<u16> {
    let text = |k: &str| {
        err.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let number = |k: &str| err.get(k).and_then(serde_json::Value::as_u64);
    for n in [number("status"), number("code")].into_iter().flatten() {
        if n == 401 || n == 403 {
            return Some(n as u16);
        }
    }
    for t in [text("code"), text("type"), text("status")]
        .into_iter()
        .flatten()
    {
        match t.as_str() {
            "invalid_api_key"
            | "authentication_error"
            | "invalid_authentication"
            | "unauthenticated"
            | "unauthorized" => return Some(401),
            "permission_error" | "permission_denied" | "insufficient_permissions" => {
                return Some(403)
            }
            _ => {}
        }
    }
    None
}

pub fn truncate(s: &str, limit: usize) -> String {
    if s.len() <= limit {
        return s.to_string();
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

/// Standard base64 of `bytes`, as every provider wants images.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(secret: &str) -> Transport {
        Transport::new(
            Some(AuthHeader {
                name: "x-api-key",
                value: SecretString::from(secret.to_string()),
            }),
            &[("anthropic-version", "2023-06-01")],
            Some(SecretString::from(secret.to_string())),
            Duration::from_secs(1),
            RetryPolicy::default(),
            Arc::new(Limiter::unlimited()),
        )
        .expect("valid")
    }

    #[test]
    fn redacts_and_debug_hides_the_secret() {
        let t = transport("sk-ant-secret-9");
        assert_eq!(t.redact("bad key sk-ant-secret-9!"), "bad key [redacted]!");
        assert!(!format!("{t:?}").contains("sk-ant-secret-9"));
    }

    #[test]
    fn bad_header_characters_are_a_config_error_without_the_key() {
        let e = Transport::new(
            Some(AuthHeader {
                name: "authorization",
                value: SecretString::from("Bearer a\nb".to_string()),
            }),
            &[],
            None,
            Duration::from_secs(1),
            RetryPolicy::default(),
            Arc::new(Limiter::unlimited()),
        )
        .expect_err("newline");
        assert!(e.to_string().contains("api_key"), "{e}");
        assert!(!e.to_string().contains("a\nb"));
    }

    #[test]
    fn base_url_checks_name_the_field() {
        assert_eq!(
            check_base_url(" http://h:1/v1/ ", "x").expect("ok"),
            "http://h:1/v1"
        );
        for bad in ["not a url", "ftp://h/v1"] {
            let e = check_base_url(bad, "x").expect_err(bad).to_string();
            assert!(e.contains("base_url"), "{e}");
        }
        assert!(check_model(" ").is_err());
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let s = "é".repeat(10);
        let t = truncate(&s, 5);
        assert!(t.starts_with("éé…"), "{t}");
        assert!(t.contains("20 bytes"));
        assert_eq!(truncate("short", 10), "short");
    }
}
