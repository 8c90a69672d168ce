//! The OpenAI-compatible Chat Completions provider: request/response wire types and the HTTP
//! client, usable with OpenAI itself and with servers that copy its API (vLLM, llama.cpp server,
//! Ollama's `/v1`, LM Studio).
//!
//! This module only converts between [`Request`]/[`Response`] and the wire format and maps HTTP
//! failures onto [`LvlmError`]; retrying is [`super::retry`]'s job. The API key is kept in a
//! [`SecretString`], sent as a header marked sensitive, and scrubbed from any error body the
//! server echoes back.

use super::http::{
    auth_status_in_body, base64, check_base_url, check_model, parse_wire, truncate, Transport,
    ERROR_BODY_LIMIT,
};
use super::settings::OPENAI_BASE_URL;
use super::settings::{ClientConfig, ImageDetail, OPENAI_KEY_VARS};
use super::{LvlmError, Message, Part, Provider, Request, Response, Role, Usage};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// How to reach an OpenAI-compatible server: the settings the first release had, kept so
/// existing callers compile. It converts into the shared [`ClientConfig`], which adds reasoning
/// effort, thinking budget and the limiter; [`OpenAiClient::new`] takes either.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// API root, e.g. `https://api.openai.com/v1`; `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer`; local servers usually need none.
    pub api_key: Option<SecretString>,
    pub request_timeout: std::time::Duration,
    pub retry: super::retry::RetryPolicy,
    /// `None` leaves it to the server.
    pub image_detail: Option<ImageDetail>,
}

impl OpenAiConfig {
    /// A config with the default timeout and retry policy and no key.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        let c = ClientConfig::new(base_url, model);
        Self {
            base_url: c.base_url,
            model: c.model,
            api_key: None,
            request_timeout: c.request_timeout,
            retry: c.retry,
            image_detail: None,
        }
    }
}

impl From<OpenAiConfig> for ClientConfig {
    fn from(o: OpenAiConfig) -> Self {
        ClientConfig {
            api_key: o.api_key,
            request_timeout: o.request_timeout,
            retry: o.retry,
            image_detail: o.image_detail,
            ..ClientConfig::new(o.base_url, o.model)
        }
    }
}

/// A [`Provider`] speaking the Chat Completions API.
pub struct OpenAiClient {
    transport: Transport,
    endpoint: String,
    cfg: ClientConfig,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("endpoint", &self.endpoint)
            .field("config", &self.cfg)
            .finish()
    }
}

impl OpenAiClient {
    /// Checks the config and builds the HTTP client.
    pub fn new(cfg: impl Into<ClientConfig>) -> Result<Self, LvlmError> {
        let cfg: ClientConfig = cfg.into();
        let base = check_base_url(&cfg.base_url, OPENAI_BASE_URL)?;
        check_model(&cfg.model)?;
        let transport = Transport::bearer(&cfg, OPENAI_KEY_VARS)?;
        Ok(Self {
            transport,
            endpoint: format!("{base}/chat/completions"),
            cfg,
        })
    }

    /// The full URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The JSON body sent for `req` (for spec validation in tests).
    pub fn wire_body(&self, req: &Request) -> serde_json::Value {
        serde_json::to_value(self.wire_request(req)).unwrap_or_default()
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
        let effort = req.reasoning_effort.or(self.cfg.reasoning_effort);
        // Reasoning models reject `max_tokens` (it would not cover hidden reasoning tokens) and
        // want `max_completion_tokens`; many compatible servers know only `max_tokens`.
        let (max_tokens, max_completion_tokens) = match effort {
            Some(_) => (None, Some(req.max_tokens)),
            None => (Some(req.max_tokens), None),
        };
        ChatRequest {
            model: &self.cfg.model,
            messages,
            max_tokens,
            max_completion_tokens,
            temperature: req.temperature,
            reasoning_effort: effort.map(|e| e.as_str()),
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
                                    url: format!("data:image/jpeg;base64,{}", base64(jpeg)),
                                    detail: self.cfg.image_detail,
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
        self.transport
            .complete(
                &self.endpoint,
                &self.wire_request(req),
                req,
                ChatResponse::into_response,
            )
            .await
    }
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'static str>,
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
    detail: Option<ImageDetail>,
}

/// Reads a success body as this API's answer, as [`Provider::complete`] does once the transport
/// has parsed and redacted it; for tools and the property tests over hostile bodies.
pub fn decode_answer(body: &[u8]) -> Result<Response, LvlmError> {
    parse_wire::<ChatResponse>(body)?.into_response()
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
    #[serde(default)]
    prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Deserialize, Default)]
struct PromptTokensDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl ChatResponse {
    fn into_response(self) -> Result<Response, LvlmError> {
        let usage = self.usage.unwrap_or_default();
        let Some(choice) = self.choices.into_iter().next() else {
            let why = match self.error {
                Some(err) => {
                    let body = truncate(&err.to_string(), ERROR_BODY_LIMIT);
                    if let Some(status) = auth_status_in_body(&err) {
                        return Err(LvlmError::Auth {
                            status,
                            key_vars: OPENAI_KEY_VARS,
                            body,
                        });
                    }
                    format!("no choices; the server reported {body}")
                }
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
                        .is_none_or(|k| k == "text" || k == "output_text")
                })
                .filter_map(|p| p.text)
                .collect::<Vec<_>>()
                .join(""),
            None => String::new(),
        };
        if text.trim().is_empty() {
            let why = match (message.refusal, finish.as_deref()) {
                (Some(r), _) if !r.trim().is_empty() => {
                    return Err(LvlmError::Refused(truncate(r.trim(), ERROR_BODY_LIMIT)));
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
                cached_input_tokens: usage
                    .prompt_tokens_details
                    .and_then(|d| d.cached_tokens)
                    .unwrap_or(0),
                cost_usd: None,
            },
            finish_reason: finish,
            attempts: 1,
            ..Response::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(key: Option<&str>) -> OpenAiClient {
        let mut cfg = OpenAiConfig::new("http://127.0.0.1:9/v1/", "gpt-test");
        cfg.api_key = key.map(|k| SecretString::from(k.to_string()));
        cfg.image_detail = Some(ImageDetail::Low);
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
            ..crate::lvlm::sample_request(true, 100)
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
                output_tokens: 3,
                ..Usage::default()
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
        assert!(e.is_refusal(), "{e:?}");
        assert!(e.to_string().contains("I can't help with that."), "{e}");
        let e = decode(r#"{"choices":[{"message":{"content":""},"finish_reason":"length"}]}"#)
            .expect_err("empty content");
        assert!(e.to_string().contains("length"), "{e}");
        let e = decode(r#"{"error":{"message":"model overloaded"}}"#).expect_err("error object");
        assert!(e.to_string().contains("model overloaded"), "{e}");
        // A rejected key reported inside a 200 stops the match like a 401 (issue 13).
        for body in [
            r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#,
            r#"{"error":{"message":"no access","type":"permission_denied"}}"#,
            r#"{"error":{"message":"bad key","code":401}}"#,
        ] {
            let e = decode(body).expect_err("auth error object");
            assert!(e.is_auth(), "{body}: {e:?}");
            assert!(e.to_string().contains("OPENAI_API_KEY"), "{e}");
        }
        assert!(
            !decode(r#"{"error":{"message":"model overloaded","code":"overloaded"}}"#)
                .expect_err("other error")
                .is_auth()
        );
    }

    #[test]
    fn debug_and_redaction_hide_the_key() {
        let c = client(Some("sk-very-secret-123"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("sk-very-secret-123"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
        assert_eq!(
            c.transport
                .redact("Incorrect API key provided: sk-very-secret-123."),
            "Incorrect API key provided: [redacted]."
        );
    }
}
