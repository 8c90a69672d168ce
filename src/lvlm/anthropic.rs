//! Anthropic's Messages API (`POST {base}/messages`): key in `x-api-key`, the API version in
//! `anthropic-version`, the system prompt top-level, images as `{"type": "image", "source":
//! {"type": "base64", "media_type": "image/jpeg", "data": ...}}` blocks. Extended thinking is
//! `thinking: {type: "enabled", budget_tokens}`; its `thinking` blocks are kept as the
//! response's visible reasoning. `stop_reason: "refusal"` is a [`LvlmError::Refused`].

use super::http::{
    base64, check_base_url, check_model, parse_wire, truncate, Transport, ERROR_BODY_LIMIT,
};
use super::settings::ClientConfig;
use super::{LvlmError, Part, Provider, Request, Response, Role, Usage};
use serde::Deserialize;
use serde_json::{json, Value};

/// The default endpoint root.
pub(crate) const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com/v1";
/// Where the key is read from.
pub(crate) const KEY_VARS: &[&str] = &["ANTHROPIC_API_KEY"];
/// The API version geoagent's wire shapes follow (sent as `anthropic-version`); the only
/// version of the Messages API Anthropic has published.
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";

/// A [`Provider`] speaking the Messages API.
pub struct AnthropicClient {
    transport: Transport,
    endpoint: String,
    cfg: ClientConfig,
}

impl std::fmt::Debug for AnthropicClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicClient")
            .field("endpoint", &self.endpoint)
            .field("config", &self.cfg)
            .finish()
    }
}

impl AnthropicClient {
    pub fn new(cfg: ClientConfig) -> Result<Self, LvlmError> {
        let base = check_base_url(&cfg.base_url, ANTHROPIC_BASE_URL)?;
        check_model(&cfg.model)?;
        let transport = Transport::key_header(
            &cfg,
            "x-api-key",
            &[("anthropic-version", ANTHROPIC_VERSION)],
            KEY_VARS,
        )?;
        Ok(Self {
            transport,
            endpoint: format!("{base}/messages"),
            cfg,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The JSON body sent for `req`.
    pub fn wire_body(&self, req: &Request) -> Value {
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                let content: Vec<Value> = m
                    .parts
                    .iter()
                    .map(|p| match p {
                        Part::Text { text } => json!({"type": "text", "text": text}),
                        Part::Image { jpeg } => json!({
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/jpeg", "data": base64(jpeg)},
                        }),
                    })
                    .collect();
                json!({"role": role, "content": content})
            })
            .collect();
        let thinking = self.cfg.thinking_tokens(req.reasoning_effort);
        // `max_tokens` covers thinking too, so the budget is added on top of the answer's room.
        let max_tokens = req.max_tokens.saturating_add(thinking.unwrap_or(0));
        let mut body = json!({
            "model": self.cfg.model,
            "max_tokens": max_tokens,
            "messages": messages,
        });
        if let Some(system) = &req.system {
            body["system"] = json!(system);
        }
        match thinking {
            Some(budget) => {
                // Extended thinking rejects any temperature but the default.
                body["thinking"] = json!({"type": "enabled", "budget_tokens": budget});
            }
            None => {
                if let Some(t) = req.temperature {
                    // Anthropic's range is 0..=1; OpenAI-style values above are clamped.
                    body["temperature"] = json!(t.min(1.0));
                }
            }
        }
        body
    }
}

#[async_trait::async_trait]
impl Provider for AnthropicClient {
    fn name(&self) -> String {
        format!("anthropic:{}", self.cfg.model)
    }

    async fn complete(&self, req: &Request) -> Result<Response, LvlmError> {
        self.transport
            .complete(
                &self.endpoint,
                &self.wire_body(req),
                req,
                WireResponse::into_response,
            )
            .await
    }
}

/// Reads a success body as this API's answer, as [`Provider::complete`] does once the transport
/// has parsed and redacted it; for tools and the property tests over hostile bodies.
pub fn decode_answer(body: &[u8]) -> Result<Response, LvlmError> {
    parse_wire::<WireResponse>(body)?.into_response()
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

/// An error Anthropic sent in a body (`{"type": "error", "error": {"type", "message"}}`), also
/// on a 200: mapped by its type onto the error its documented HTTP status gives, so an
/// `overloaded_error` is retried like a 529 and an `authentication_error` stops like a 401.
fn body_error(err: &Value) -> LvlmError {
    let body = truncate(&err.to_string(), ERROR_BODY_LIMIT);
    let status = |status: u16| LvlmError::Status {
        status,
        body: body.clone(),
        retry_after: None,
    };
    match err.get("type").and_then(Value::as_str).unwrap_or_default() {
        "overloaded_error" => status(529),
        "api_error" => status(500),
        "timeout_error" => status(504),
        "rate_limit_error" => LvlmError::RateLimited { retry_after: None },
        "authentication_error" => LvlmError::Auth {
            status: 401,
            key_vars: KEY_VARS,
            body,
        },
        "permission_error" => LvlmError::Auth {
            status: 403,
            key_vars: KEY_VARS,
            body,
        },
        "invalid_request_error" => status(400),
        "not_found_error" => status(404),
        "request_too_large" => status(413),
        _ => LvlmError::Empty(format!("the provider reported an error: {body}")),
    }
}

impl WireResponse {
    fn into_response(self) -> Result<Response, LvlmError> {
        if self.kind.as_deref() == Some("error") {
            return Err(body_error(&self.error.unwrap_or_default()));
        }
        let text: String = self
            .content
            .iter()
            .filter(|b| b.kind == "text")
            .filter_map(|b| b.text.as_deref())
            .collect();
        let thinking: Vec<&str> = self
            .content
            .iter()
            .filter(|b| b.kind == "thinking")
            .filter_map(|b| b.thinking.as_deref())
            .filter(|t| !t.trim().is_empty())
            .collect();
        if self.stop_reason.as_deref() == Some("refusal") {
            let said = if text.trim().is_empty() {
                "stop_reason \"refusal\"".to_string()
            } else {
                truncate(text.trim(), ERROR_BODY_LIMIT)
            };
            return Err(LvlmError::Refused(said));
        }
        if text.trim().is_empty() {
            return Err(LvlmError::Empty(match &self.stop_reason {
                Some(r) => format!("no text content (stop_reason {r:?})"),
                None => "no text content".to_string(),
            }));
        }
        let usage = self.usage.unwrap_or_default();
        Ok(Response {
            text,
            model: self.model.unwrap_or_default(),
            usage: Usage {
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                cached_input_tokens: usage.cache_read_input_tokens.unwrap_or(0),
                cost_usd: None,
            },
            finish_reason: self.stop_reason,
            attempts: 1,
            reasoning: (!thinking.is_empty()).then(|| thinking.join("\n\n")),
            ..Response::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvlm::ReasoningEffort;

    fn decode(json: &str) -> Result<Response, LvlmError> {
        serde_json::from_str::<WireResponse>(json)
            .expect("wire json")
            .into_response()
    }

    fn request() -> Request {
        Request {
            temperature: Some(1.5),
            ..crate::lvlm::sample_request(false, 100)
        }
    }

    #[test]
    fn body_has_top_level_system_and_base64_image_source() {
        let c = AnthropicClient::new(ClientConfig::new("http://h/v1/", "claude-x")).expect("ok");
        assert_eq!(c.endpoint(), "http://h/v1/messages");
        assert_eq!(
            c.wire_body(&request()),
            json!({
                "model": "claude-x",
                "max_tokens": 100,
                "system": "sys",
                "temperature": 1.0,
                "messages": [{"role": "user", "content": [
                    {"type": "text", "text": "where?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}}
                ]}]
            })
        );
    }

    #[test]
    fn thinking_adds_its_budget_and_drops_temperature() {
        let mut cfg = ClientConfig::new("http://h/v1", "claude-x");
        cfg.reasoning_effort = Some(ReasoningEffort::Medium);
        let c = AnthropicClient::new(cfg).expect("ok");
        let b = c.wire_body(&request());
        assert_eq!(
            b["thinking"],
            json!({"type": "enabled", "budget_tokens": 4096})
        );
        assert_eq!(b["max_tokens"], 4196);
        assert!(b.get("temperature").is_none());
    }

    #[test]
    fn decodes_text_thinking_and_usage() {
        let r = decode(
            r#"{"type":"message","model":"claude-x","content":[
                {"type":"thinking","thinking":"Left-hand traffic.","signature":"abc"},
                {"type":"text","text":"Tokyo"}],
               "stop_reason":"end_turn","usage":{"input_tokens":30,"output_tokens":5,"cache_read_input_tokens":7}}"#,
        )
        .expect("ok");
        assert_eq!(r.text, "Tokyo");
        assert_eq!(r.reasoning.as_deref(), Some("Left-hand traffic."));
        assert_eq!(r.usage.input_tokens, 30);
        assert_eq!(r.usage.cached_input_tokens, 7);
        assert_eq!(r.finish_reason.as_deref(), Some("end_turn"));
    }

    #[test]
    fn in_body_errors_map_like_their_status() {
        let overloaded = decode(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
        .expect_err("error");
        assert!(overloaded.is_retryable(), "{overloaded:?}");
        assert!(
            overloaded.to_string().contains("Overloaded"),
            "{overloaded}"
        );
        let auth = decode(
            r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
        )
        .expect_err("error");
        assert!(auth.is_auth() && !auth.is_retryable(), "{auth:?}");
        assert!(auth.to_string().contains("ANTHROPIC_API_KEY"), "{auth}");
        let bad = decode(r#"{"type":"error","error":{"type":"invalid_request_error"}}"#)
            .expect_err("error");
        assert!(!bad.is_retryable(), "{bad:?}");
    }

    #[test]
    fn refusal_and_empty_content_say_why() {
        let e = decode(r#"{"content":[],"stop_reason":"refusal"}"#).expect_err("refusal");
        assert!(e.is_refusal(), "{e:?}");
        let e = decode(r#"{"content":[],"stop_reason":"max_tokens"}"#).expect_err("empty");
        assert!(e.to_string().contains("max_tokens"), "{e}");
    }
}
