//! Ollama's native chat API (`POST {base}/api/chat`, no key) for local models: one message per
//! turn with its text in `content` and its images as bare base64 strings in `images`,
//! `stream: false`, sampling in `options` (`num_predict`, `temperature`), and `think: true`
//! when a reasoning effort is set (the model's `thinking` text is kept as visible reasoning).
//! Usage is `prompt_eval_count` / `eval_count`.

use super::http::{
    base64, check_base_url, check_model, parse_wire, truncate, Transport, ERROR_BODY_LIMIT,
};
use super::settings::ClientConfig;
use super::{LvlmError, Part, Provider, Request, Response, Role, Usage};
use serde::Deserialize;
use serde_json::{json, Value};

/// Ollama needs no key; one set in config is sent as a bearer token (for a proxy in front).
pub(crate) const KEY_VARS: &[&str] = &[];
/// Ollama's default listen address.
pub(crate) const OLLAMA_BASE_URL: &str = "http://127.0.0.1:11434";

/// A [`Provider`] speaking Ollama's `/api/chat`.
pub struct OllamaClient {
    transport: Transport,
    endpoint: String,
    cfg: ClientConfig,
}

impl std::fmt::Debug for OllamaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OllamaClient")
            .field("endpoint", &self.endpoint)
            .field("config", &self.cfg)
            .finish()
    }
}

impl OllamaClient {
    pub fn new(cfg: ClientConfig) -> Result<Self, LvlmError> {
        let base = check_base_url(&cfg.base_url, OLLAMA_BASE_URL)?;
        check_model(&cfg.model)?;
        // Ollama itself takes no key; one configured is sent as a bearer token for the reverse
        // proxies people put in front of a shared Ollama.
        let transport = Transport::bearer(&cfg, KEY_VARS)?;
        Ok(Self {
            transport,
            endpoint: format!("{base}/api/chat"),
            cfg,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The JSON body sent for `req`.
    pub fn wire_body(&self, req: &Request) -> Value {
        let mut messages = Vec::with_capacity(req.messages.len() + 1);
        if let Some(system) = &req.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        for m in &req.messages {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            let images: Vec<String> = m
                .parts
                .iter()
                .filter_map(|p| match p {
                    Part::Image { jpeg } => Some(base64(jpeg)),
                    Part::Text { .. } => None,
                })
                .collect();
            let mut msg = json!({"role": role, "content": m.text()});
            if !images.is_empty() {
                msg["images"] = json!(images);
            }
            messages.push(msg);
        }
        let mut options = json!({"num_predict": req.max_tokens});
        if let Some(t) = req.temperature {
            options["temperature"] = json!(t);
        }
        let mut body = json!({
            "model": self.cfg.model,
            "messages": messages,
            "stream": false,
            "options": options,
        });
        if req.reasoning_effort.or(self.cfg.reasoning_effort).is_some() {
            body["think"] = json!(true);
        }
        body
    }
}

#[async_trait::async_trait]
impl Provider for OllamaClient {
    fn name(&self) -> String {
        format!("ollama:{}", self.cfg.model)
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
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: u64,
    #[serde(default)]
    eval_count: u64,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: String,
    #[serde(default)]
    thinking: Option<String>,
}

impl WireResponse {
    fn into_response(self) -> Result<Response, LvlmError> {
        if let Some(e) = self.error {
            return Err(LvlmError::Empty(format!(
                "the server reported {}",
                truncate(&e, ERROR_BODY_LIMIT)
            )));
        }
        let Some(message) = self.message else {
            return Err(LvlmError::Empty("the response had no message".into()));
        };
        if message.content.trim().is_empty() {
            return Err(LvlmError::Empty(match &self.done_reason {
                Some(r) => format!("empty message content (done_reason {r:?})"),
                None => "empty message content".to_string(),
            }));
        }
        Ok(Response {
            text: message.content,
            model: self.model.unwrap_or_default(),
            usage: Usage {
                input_tokens: self.prompt_eval_count,
                output_tokens: self.eval_count,
                ..Usage::default()
            },
            finish_reason: self.done_reason,
            attempts: 1,
            reasoning: message.thinking.filter(|t| !t.trim().is_empty()),
            ..Response::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvlm::ReasoningEffort;

    #[test]
    fn body_puts_images_beside_the_text() {
        let c =
            OllamaClient::new(ClientConfig::new("http://127.0.0.1:11434/", "llava")).expect("ok");
        assert_eq!(c.endpoint(), "http://127.0.0.1:11434/api/chat");
        let req = Request {
            reasoning_effort: Some(ReasoningEffort::Low),
            ..crate::lvlm::sample_request(false, 64)
        };
        assert_eq!(
            c.wire_body(&req),
            json!({
                "model": "llava",
                "messages": [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": "where?", "images": ["/9j/"]}
                ],
                "stream": false,
                "options": {"num_predict": 64},
                "think": true
            })
        );
    }

    #[test]
    fn decodes_counts_thinking_and_errors() {
        let r = serde_json::from_str::<WireResponse>(
            r#"{"model":"llava","message":{"role":"assistant","content":"Oslo","thinking":"Nordic."},
                "done":true,"done_reason":"stop","prompt_eval_count":40,"eval_count":3}"#,
        )
        .expect("json")
        .into_response()
        .expect("ok");
        assert_eq!(
            (r.text.as_str(), r.usage.input_tokens, r.usage.output_tokens),
            ("Oslo", 40, 3)
        );
        assert_eq!(r.reasoning.as_deref(), Some("Nordic."));
        let e = serde_json::from_str::<WireResponse>(r#"{"error":"model not found"}"#)
            .expect("json")
            .into_response()
            .expect_err("error");
        assert!(e.to_string().contains("model not found"), "{e}");
    }
}
