//! The OpenAI-compatible Chat Completions provider: request/response wire types and the HTTP
//! client, usable with OpenAI itself and with servers that copy its API (vLLM, llama.cpp server,
//! Ollama's `/v1`, LM Studio).
//!
//! This module only converts between [`Request`]/[`Response`] and the wire format and maps HTTP
//! failures onto [`LvlmError`]; retrying is [`super::retry`]'s job. The API key is kept in a
//! [`SecretString`], sent as a header marked sensitive, and scrubbed from any error body the
//! server echoes back.

use super::retry::{parse_retry_after, with_retries, RetryPolicy};
use super::{LvlmError, Message, Part, Provider, Request, Response, Role, Usage};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Whole-call limit (connect, upload, generation, download). Vision models writing a
/// chain of thought over several images routinely take 30-60 s; two minutes leaves headroom
/// without hiding a hung server for long.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Time to open the TCP/TLS connection. A healthy endpoint connects in well under a second;
/// failing fast here lets the retry policy try again sooner.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an error body is kept in [`LvlmError::Status`]: enough for the provider's
/// message, small enough for logs and replays.
pub const ERROR_BODY_LIMIT: usize = 600;
/// The default endpoint.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// `detail` values the Chat Completions API accepts for images.
pub const IMAGE_DETAILS: [&str; 3] = ["low", "high", "auto"];

/// How to reach an OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8000/v1`;
    /// `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer`; local servers usually need none.
    pub api_key: Option<SecretString>,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// `low`, `high` or `auto`; `None` leaves it to the server.
    pub image_detail: Option<String>,
}

impl OpenAiConfig {
    /// A config with the default timeout and retry policy and no key.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            image_detail: None,
        }
    }
}

/// A [`Provider`] speaking the Chat Completions API.
pub struct OpenAiClient {
    http: reqwest::Client,
    endpoint: String,
    cfg: OpenAiConfig,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("endpoint", &self.endpoint)
            .field("model", &self.cfg.model)
            .field("api_key", &self.cfg.api_key.as_ref().map(|_| "[redacted]"))
            .field("request_timeout", &self.cfg.request_timeout)
            .field("retry", &self.cfg.retry)
            .field("image_detail", &self.cfg.image_detail)
            .finish()
    }
}

impl OpenAiClient {
    /// Checks the config and builds the HTTP client.
    pub fn new(cfg: OpenAiConfig) -> Result<Self, LvlmError> {
        let base = url::Url::parse(cfg.base_url.trim()).map_err(|e| {
            LvlmError::Config(format!(
                "base_url {:?} is not a URL ({e}); expected e.g. {OPENAI_BASE_URL}",
                cfg.base_url
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(LvlmError::Config(format!(
                "base_url {:?} must start with http:// or https://",
                cfg.base_url
            )));
        }
        if cfg.model.trim().is_empty() {
            return Err(LvlmError::Config(
                "model is empty; name the model to call".into(),
            ));
        }
        if let Some(d) = &cfg.image_detail {
            if !IMAGE_DETAILS.contains(&d.as_str()) {
                return Err(LvlmError::Config(format!(
                    "image_detail {d:?} is not one of {IMAGE_DETAILS:?}"
                )));
            }
        }
        if cfg.request_timeout.is_zero() {
            return Err(LvlmError::Config(
                "request_timeout must be above zero".into(),
            ));
        }
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(key) = &cfg.api_key {
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {}", key.expose_secret()))
                    .map_err(|_| {
                        LvlmError::Config(
                            "api_key contains characters not allowed in an HTTP header \
                             (check for a stray newline)"
                                .into(),
                        )
                    })?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("geoagent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LvlmError::Config(format!("could not build the HTTP client: {e}")))?;
        let endpoint = format!(
            "{}/chat/completions",
            cfg.base_url.trim().trim_end_matches('/')
        );
        Ok(Self {
            http,
            endpoint,
            cfg,
        })
    }

    /// The full URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Replaces the key wherever a server echoed it back.
    fn redact(&self, text: &str) -> String {
        match &self.cfg.api_key {
            Some(k) if !k.expose_secret().is_empty() => {
                text.replace(k.expose_secret(), "[redacted]")
            }
            _ => text.to_string(),
        }
    }

    /// One HTTP attempt, with the request timeout applied to the whole exchange.
    async fn attempt(&self, body: &ChatRequest<'_>) -> Result<Response, LvlmError> {
        let timeout = self.cfg.request_timeout;
        match tokio::time::timeout(timeout, self.attempt_inner(body)).await {
            Ok(r) => r,
            Err(_) => Err(LvlmError::Timeout(timeout)),
        }
    }

    async fn attempt_inner(&self, body: &ChatRequest<'_>) -> Result<Response, LvlmError> {
        let resp = self
            .http
            .post(&self.endpoint)
            .json(body)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let bytes = resp.bytes().await.map_err(|e| {
            if e.is_timeout() {
                LvlmError::Timeout(self.cfg.request_timeout)
            } else {
                LvlmError::Decode(format!("the response body was cut off ({e})"))
            }
        })?;
        if status.as_u16() == 429 {
            return Err(LvlmError::RateLimited { retry_after });
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
        let wire: ChatResponse = serde_json::from_slice(&bytes).map_err(|e| {
            LvlmError::Decode(format!(
                "{e} in {} bytes starting {:?}",
                bytes.len(),
                truncate(&self.redact(&String::from_utf8_lossy(&bytes)), 120)
            ))
        })?;
        wire.into_response()
    }

    fn transport_error(&self, e: reqwest::Error) -> LvlmError {
        if e.is_timeout() {
            LvlmError::Timeout(self.cfg.request_timeout)
        } else {
            LvlmError::Connect {
                url: self.endpoint.clone(),
                source: e,
            }
        }
    }

    fn wire_request<'a>(&'a self, req: &'a Request) -> ChatRequest<'a> {
        let mut messages = Vec::with_capacity(req.messages.len() + 1);
        if let Some(system) = &req.system {
            messages.push(WireMessage {
                role: "system",
                content: WireContent::Text(system.clone()),
            });
        }
        for m in &req.messages {
            messages.push(self.wire_message(m));
        }
        ChatRequest {
            model: &self.cfg.model,
            messages,
            max_tokens: req.max_tokens,
            temperature: req.temperature,
        }
    }

    fn wire_message(&self, m: &Message) -> WireMessage {
        match m.role {
            // Assistant turns are plain strings: several servers reject part arrays there.
            Role::Assistant => WireMessage {
                role: "assistant",
                content: WireContent::Text(m.text()),
            },
            Role::User => WireMessage {
                role: "user",
                content: WireContent::Parts(
                    m.parts
                        .iter()
                        .map(|p| match p {
                            Part::Text { text } => WirePart::Text { text: text.clone() },
                            Part::Image { jpeg } => WirePart::ImageUrl {
                                image_url: ImageUrl {
                                    url: format!(
                                        "data:image/jpeg;base64,{}",
                                        base64::engine::general_purpose::STANDARD.encode(jpeg)
                                    ),
                                    detail: self.cfg.image_detail.clone(),
                                },
                            },
                        })
                        .collect(),
                ),
            },
        }
    }
}

#[async_trait::async_trait]
impl Provider for OpenAiClient {
    fn name(&self) -> String {
        format!("openai:{}", self.cfg.model)
    }

    async fn complete(&self, req: &Request) -> Result<Response, LvlmError> {
        let body = self.wire_request(req);
        let (mut resp, attempts) = with_retries(&self.cfg.retry, |_| self.attempt(&body)).await?;
        resp.attempts = attempts;
        Ok(resp)
    }
}

/// Cuts `s` to at most `limit` bytes on a character boundary, marking the cut.
fn truncate(s: &str, limit: usize) -> String {
    if s.len() <= limit {
        return s.to_string();
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage>,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
}

#[derive(Serialize)]
struct WireMessage {
    role: &'static str,
    content: WireContent,
}

#[derive(Serialize)]
#[serde(untagged)]
enum WireContent {
    Text(String),
    Parts(Vec<WirePart>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WirePart {
    Text { text: String },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Serialize)]
struct ImageUrl {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    /// Some compatible servers answer 200 with an error object instead of a status code.
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<ResponseMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ResponseMessage {
    #[serde(default)]
    content: Option<ResponseContent>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ResponseContent {
    Text(String),
    Parts(Vec<ResponsePart>),
}

#[derive(Deserialize)]
struct ResponsePart {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl ChatResponse {
    fn into_response(self) -> Result<Response, LvlmError> {
        let usage = self.usage.unwrap_or_default();
        let Some(choice) = self.choices.into_iter().next() else {
            let why = match self.error {
                Some(err) => format!(
                    "no choices; the server reported {}",
                    truncate(&err.to_string(), ERROR_BODY_LIMIT)
                ),
                None => "the response had no choices".to_string(),
            };
            return Err(LvlmError::Empty(why));
        };
        let finish = choice.finish_reason;
        let message = choice.message.unwrap_or(ResponseMessage {
            content: None,
            refusal: None,
        });
        let text = match message.content {
            Some(ResponseContent::Text(t)) => t,
            Some(ResponseContent::Parts(parts)) => parts
                .into_iter()
                .filter(|p| {
                    p.kind
                        .as_deref()
                        .map_or(true, |k| k == "text" || k == "output_text")
                })
                .filter_map(|p| p.text)
                .collect::<Vec<_>>()
                .join(""),
            None => String::new(),
        };
        if text.trim().is_empty() {
            let why = match (message.refusal, finish.as_deref()) {
                (Some(r), _) if !r.trim().is_empty() => {
                    format!(
                        "the model refused: {}",
                        truncate(r.trim(), ERROR_BODY_LIMIT)
                    )
                }
                (_, Some(f)) => format!("empty message content (finish_reason {f:?})"),
                (_, None) => "empty message content".to_string(),
            };
            return Err(LvlmError::Empty(why));
        }
        Ok(Response {
            text,
            model: self.model.unwrap_or_default(),
            usage: Usage {
                input_tokens: usage.prompt_tokens,
                output_tokens: usage.completion_tokens,
            },
            finish_reason: finish,
            attempts: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(key: Option<&str>) -> OpenAiClient {
        let mut cfg = OpenAiConfig::new("http://127.0.0.1:9/v1/", "gpt-test");
        cfg.api_key = key.map(|k| SecretString::from(k.to_string()));
        cfg.image_detail = Some("low".into());
        OpenAiClient::new(cfg).expect("valid config")
    }

    fn decode(json: &str) -> Result<Response, LvlmError> {
        serde_json::from_str::<ChatResponse>(json)
            .expect("wire json")
            .into_response()
    }

    #[test]
    fn endpoint_joins_without_double_slash() {
        assert_eq!(
            client(None).endpoint(),
            "http://127.0.0.1:9/v1/chat/completions"
        );
    }

    #[test]
    fn rejects_bad_configs_with_the_field_named() {
        let cases = [
            (OpenAiConfig::new("not a url", "m"), "base_url"),
            (OpenAiConfig::new("ftp://host/v1", "m"), "base_url"),
            (OpenAiConfig::new(OPENAI_BASE_URL, " "), "model"),
            (
                OpenAiConfig {
                    image_detail: Some("ultra".into()),
                    ..OpenAiConfig::new(OPENAI_BASE_URL, "m")
                },
                "image_detail",
            ),
            (
                OpenAiConfig {
                    api_key: Some(SecretString::from("sk-abc\nxyz".to_string())),
                    ..OpenAiConfig::new(OPENAI_BASE_URL, "m")
                },
                "api_key",
            ),
        ];
        for (cfg, field) in cases {
            let err = OpenAiClient::new(cfg).expect_err(field).to_string();
            assert!(err.contains(field), "{err}");
            assert!(!err.contains("abc\nxyz"), "key leaked: {err}");
        }
    }

    #[test]
    fn serialises_the_chat_completions_shape() {
        let c = client(Some("sk-secret"));
        let req = Request {
            system: Some("sys".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    parts: vec![
                        Part::Text {
                            text: "where?".into(),
                        },
                        Part::Image {
                            jpeg: vec![0xff, 0xd8, 0xff],
                        },
                    ],
                },
                Message {
                    role: Role::Assistant,
                    parts: vec![Part::Text {
                        text: "Paris".into(),
                    }],
                },
            ],
            max_tokens: 100,
            temperature: None,
        };
        let v = serde_json::to_value(c.wire_request(&req)).expect("serialises");
        assert_eq!(
            v,
            serde_json::json!({
                "model": "gpt-test",
                "max_tokens": 100,
                "messages": [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": [
                        {"type": "text", "text": "where?"},
                        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/", "detail": "low"}}
                    ]},
                    {"role": "assistant", "content": "Paris"}
                ]
            })
        );
    }

    #[test]
    fn decodes_string_and_part_content() {
        let r = decode(
            r#"{"model":"m1","choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
                "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}"#,
        )
        .expect("ok");
        assert_eq!(r.text, "hi");
        assert_eq!(r.model, "m1");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: 12,
                output_tokens: 3
            }
        );
        let r = decode(
            r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#,
        )
        .expect("ok");
        assert_eq!(r.text, "ab");
        assert_eq!(r.usage, Usage::default());
    }

    #[test]
    fn empty_answers_say_why() {
        let e = decode(r#"{"choices":[]}"#).expect_err("empty");
        assert!(
            matches!(&e, LvlmError::Empty(m) if m.contains("no choices")),
            "{e}"
        );
        let e = decode(
            r#"{"choices":[{"message":{"content":null,"refusal":"I can't help with that."},"finish_reason":"stop"}]}"#,
        )
        .expect_err("refusal");
        assert!(e.to_string().contains("I can't help with that."), "{e}");
        let e = decode(r#"{"choices":[{"message":{"content":""},"finish_reason":"length"}]}"#)
            .expect_err("empty content");
        assert!(e.to_string().contains("length"), "{e}");
        let e = decode(r#"{"error":{"message":"model overloaded"}}"#).expect_err("error object");
        assert!(e.to_string().contains("model overloaded"), "{e}");
    }

    #[test]
    fn debug_and_redaction_hide_the_key() {
        let c = client(Some("sk-very-secret-123"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sk-very-secret-123"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
        assert_eq!(
            c.redact("Incorrect API key provided: sk-very-secret-123."),
            "Incorrect API key provided: [redacted]."
        );
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
