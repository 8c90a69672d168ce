//! A scripted Anthropic Messages API on 127.0.0.1 (`POST /v1/messages`), checking requests the
//! way the documented API does: `x-api-key`, `anthropic-version`, `content-type`, a `model`,
//! positive `max_tokens` (above a thinking budget of at least 1024), a top-level `system`
//! string, alternating `user`/`assistant` roles starting with `user`, content blocks of type
//! `text` or `image` with a base64 `source` whose `media_type` is `image/jpeg` and whose data
//! decodes as a JPEG, and no `temperature` together with thinking. Errors use Anthropic's
//! `{"type": "error", "error": {"type", "message"}}` shape (`authentication_error` echoes the
//! key it was given, so the client's redaction is testable).
#![allow(dead_code)]

use crate::scripted_server::{
    check_jpeg_base64, header, reject, Checked, Dialect, Rejected, Reply, ScriptedServer,
};
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{json, Value};

pub struct Anthropic {
    pub api_key: String,
}

pub async fn start(api_key: &str) -> ScriptedServer {
    ScriptedServer::start(Anthropic {
        api_key: api_key.to_string(),
    })
    .await
}

impl Dialect for Anthropic {
    fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Checked, Rejected> {
        let bad = |m: String| reject(self, 400, m);
        if uri.path() != "/v1/messages" {
            return Err(reject(self, 404, format!("Not found: {}", uri.path())));
        }
        if method != Method::POST {
            return Err(reject(self, 405, format!("{method} not allowed")));
        }
        let key = header(headers, "x-api-key");
        if key != self.api_key {
            return Err(reject(self, 401, format!("invalid x-api-key: {key}")));
        }
        if header(headers, "anthropic-version") != "2023-06-01" {
            return Err(bad("anthropic-version: header is required".into()));
        }
        if !header(headers, "content-type").starts_with("application/json") {
            return Err(bad("content-type must be application/json".into()));
        }
        if body["model"].as_str().is_none_or(|m| m.is_empty()) {
            return Err(bad("model: Field required".into()));
        }
        let Some(max_tokens) = body["max_tokens"].as_u64().filter(|t| *t > 0) else {
            return Err(bad("max_tokens: Field required".into()));
        };
        if let Some(t) = body.get("thinking") {
            let budget = t["budget_tokens"].as_u64().unwrap_or(0);
            if t["type"] != "enabled" || budget < 1024 || budget >= max_tokens {
                return Err(bad(format!(
                    "thinking.budget_tokens must be >= 1024 and < max_tokens, got {t}"
                )));
            }
            if body.get("temperature").is_some() {
                return Err(bad(
                    "temperature may only be set to 1 when thinking is enabled".into(),
                ));
            }
        }
        if let Some(t) = body.get("temperature") {
            if !t.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t)) {
                return Err(bad(format!("temperature: must be in 0..1, got {t}")));
            }
        }
        if let Some(s) = body.get("system") {
            if !s.is_string() {
                return Err(bad("system: must be a string in this test server".into()));
            }
        }
        let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
            return Err(bad("messages: at least one message is required".into()));
        };
        let mut images = 0;
        let mut texts = Vec::new();
        if let Some(s) = body["system"].as_str() {
            texts.push(s.to_string());
        }
        for (i, m) in messages.iter().enumerate() {
            let want = if i % 2 == 0 { "user" } else { "assistant" };
            if m["role"] != want {
                return Err(bad(format!("messages.{i}.role: expected {want}")));
            }
            let Some(blocks) = m["content"].as_array() else {
                return Err(bad(format!(
                    "messages.{i}.content: expected a list of blocks"
                )));
            };
            for (j, b) in blocks.iter().enumerate() {
                match b["type"].as_str() {
                    Some("text") => match b["text"].as_str() {
                        Some(t) => texts.push(t.to_string()),
                        None => {
                            return Err(bad(format!("messages.{i}.content.{j}.text: required")))
                        }
                    },
                    Some("image") if m["role"] == "user" => {
                        let s = &b["source"];
                        if s["type"] != "base64" || s["media_type"] != "image/jpeg" {
                            return Err(bad(format!(
                                "messages.{i}.content.{j}.source: expected base64 image/jpeg, got {s}"
                            )));
                        }
                        check_jpeg_base64(s["data"].as_str().unwrap_or("")).map_err(|e| {
                            bad(format!("messages.{i}.content.{j}.source.data: {e}"))
                        })?;
                        images += 1;
                    }
                    other => {
                        return Err(bad(format!(
                            "messages.{i}.content.{j}.type: {other:?} is not valid here"
                        )))
                    }
                }
            }
        }
        Ok(Checked {
            images,
            text: texts.join("\n"),
        })
    }

    fn success(
        &self,
        reply: &Reply,
        req: &crate::scripted_server::RecordedRequest,
        usage: (u64, u64),
    ) -> Value {
        let (content, stop) = match reply {
            Reply::Text(t) => (json!([{"type": "text", "text": t}]), "end_turn"),
            Reply::Reasoned { reasoning, text } => (
                json!([
                    {"type": "thinking", "thinking": reasoning, "signature": "c2lnbmF0dXJl"},
                    {"type": "text", "text": text}
                ]),
                "end_turn",
            ),
            Reply::Refusal(_) => (json!([]), "refusal"),
            _ => (json!([]), "end_turn"),
        };
        json!({
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": req.body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": null,
            "usage": {"input_tokens": usage.0, "output_tokens": usage.1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        })
    }

    fn error(&self, status: u16, message: &str) -> Value {
        let kind = match status {
            400 => "invalid_request_error",
            401 => "authentication_error",
            404 => "not_found_error",
            429 => "rate_limit_error",
            529 => "overloaded_error",
            _ => "api_error",
        };
        json!({"type": "error", "error": {"type": kind, "message": message}})
    }
}
