//! A scripted Ollama native chat API on 127.0.0.1 (`POST /api/chat`), checking requests as
//! Ollama does: a `model`, `stream: false` (the client reads one JSON object), `messages` with
//! `system`/`user`/`assistant` roles and string `content`, images as a list of bare base64
//! strings (no data-URL prefix) that decode as JPEGs, `options.num_predict` positive. No key.
//! Errors are `{"error": "..."}`.
#![allow(dead_code)]

use crate::scripted_server::{
    check_jpeg_base64, reject, Checked, Dialect, RecordedRequest, Rejected, Reply, ScriptedServer,
};
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{json, Value};

pub struct Ollama;

pub async fn start() -> ScriptedServer {
    ScriptedServer::start(Ollama).await
}

impl Dialect for Ollama {
    fn check(
        &self,
        method: &Method,
        uri: &Uri,
        _headers: &HeaderMap,
        body: &Value,
    ) -> Result<Checked, Rejected> {
        let bad = |m: String| reject(self, 400, m);
        if uri.path() != "/api/chat" {
            return Err(reject(self, 404, "404 page not found".into()));
        }
        if method != Method::POST {
            return Err(reject(self, 405, "405 method not allowed".into()));
        }
        if body["model"].as_str().is_none_or(|m| m.is_empty()) {
            return Err(bad("model is required".into()));
        }
        if body["stream"] != json!(false) {
            return Err(bad("this test server only answers stream: false".into()));
        }
        if let Some(n) = body["options"].get("num_predict") {
            if n.as_u64().is_none_or(|n| n == 0) {
                return Err(bad(format!("options.num_predict: {n}")));
            }
        }
        let Some(messages) = body["messages"].as_array().filter(|m| !m.is_empty()) else {
            return Err(bad("messages are required".into()));
        };
        let (mut images, mut texts) = (0, Vec::new());
        for (i, m) in messages.iter().enumerate() {
            if !matches!(m["role"].as_str(), Some("system" | "user" | "assistant")) {
                return Err(bad(format!("messages[{i}].role is invalid")));
            }
            let Some(content) = m["content"].as_str() else {
                return Err(bad(format!("messages[{i}].content must be a string")));
            };
            texts.push(content.to_string());
            if let Some(imgs) = m.get("images") {
                let Some(list) = imgs.as_array() else {
                    return Err(bad(format!("messages[{i}].images must be a list")));
                };
                for (j, img) in list.iter().enumerate() {
                    let s = img.as_str().unwrap_or("");
                    if s.starts_with("data:") {
                        return Err(bad(format!(
                            "messages[{i}].images[{j}]: bare base64 expected"
                        )));
                    }
                    check_jpeg_base64(s)
                        .map_err(|e| bad(format!("messages[{i}].images[{j}]: {e}")))?;
                    images += 1;
                }
            }
        }
        Ok(Checked {
            images,
            text: texts.join("\n"),
        })
    }

    fn success(&self, reply: &Reply, req: &RecordedRequest, usage: (u64, u64)) -> Value {
        let (content, thinking) = match reply {
            Reply::Text(t) | Reply::Refusal(t) => (t.clone(), None),
            Reply::Reasoned { reasoning, text } => (text.clone(), Some(reasoning.clone())),
            _ => (String::new(), None),
        };
        let mut message = json!({"role": "assistant", "content": content});
        if let Some(t) = thinking {
            message["thinking"] = json!(t);
        }
        json!({
            "model": req.body["model"],
            "created_at": "2025-01-01T00:00:00Z",
            "message": message,
            "done": true,
            "done_reason": "stop",
            "total_duration": 1,
            "prompt_eval_count": usage.0,
            "eval_count": usage.1
        })
    }

    fn error(&self, _status: u16, message: &str) -> Value {
        json!({"error": message})
    }
}
