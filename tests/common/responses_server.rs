//! A scripted OpenAI Responses API on 127.0.0.1 (`POST /v1/responses`), checking requests as
//! the documented API does: `Authorization: Bearer`, a `model`, `input` items with roles and
//! `input_text` / `input_image` parts (image as a `data:image/jpeg;base64,` URL that decodes,
//! `detail` low/high/auto), assistant turns as strings, `max_output_tokens` positive, and
//! `reasoning.effort` one of the documented levels. Answers carry `output` items (`reasoning`
//! with a summary, `message` with `output_text` or `refusal`) and `usage.input_tokens` /
//! `output_tokens`. Errors use OpenAI's `{"error": {...}}` shape and echo a wrong key.
#![allow(dead_code)]

use crate::scripted_server::{
    check_jpeg_base64, header, reject, Checked, Dialect, RecordedRequest, Rejected, Reply,
    ScriptedServer,
};
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{json, Value};

pub struct Responses {
    pub api_key: String,
}

pub async fn start(api_key: &str) -> ScriptedServer {
    ScriptedServer::start(Responses {
        api_key: api_key.to_string(),
    })
    .await
}

impl Dialect for Responses {
    fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Checked, Rejected> {
        let bad = |m: String| reject(self, 400, m);
        if uri.path() != "/v1/responses" {
            return Err(reject(
                self,
                404,
                format!("Invalid URL (POST {})", uri.path()),
            ));
        }
        if method != Method::POST {
            return Err(reject(self, 405, format!("{method} not allowed")));
        }
        let auth = header(headers, "authorization");
        if auth != format!("Bearer {}", self.api_key) {
            let presented = auth.strip_prefix("Bearer ").unwrap_or(auth);
            return Err(reject(
                self,
                401,
                format!("Incorrect API key provided: {presented}."),
            ));
        }
        if body["model"].as_str().is_none_or(|m| m.is_empty()) {
            return Err(bad("Missing required parameter: 'model'.".into()));
        }
        if let Some(t) = body.get("max_output_tokens") {
            if t.as_u64().is_none_or(|t| t < 16) {
                return Err(bad(format!("max_output_tokens must be >= 16, got {t}")));
            }
        }
        if let Some(r) = body.get("reasoning") {
            if !matches!(
                r["effort"].as_str(),
                Some("minimal" | "low" | "medium" | "high")
            ) {
                return Err(bad(format!("reasoning.effort is invalid: {r}")));
            }
        }
        let mut texts: Vec<String> = body["instructions"]
            .as_str()
            .map(str::to_string)
            .into_iter()
            .collect();
        let Some(input) = body["input"].as_array().filter(|i| !i.is_empty()) else {
            return Err(bad("'input' must be a non-empty list".into()));
        };
        let mut images = 0;
        for (i, item) in input.iter().enumerate() {
            match (item["role"].as_str(), &item["content"]) {
                (Some("assistant" | "user" | "system" | "developer"), Value::String(s)) => {
                    texts.push(s.clone())
                }
                (Some("user"), Value::Array(parts)) => {
                    for (j, p) in parts.iter().enumerate() {
                        match p["type"].as_str() {
                            Some("input_text") => {
                                texts.push(p["text"].as_str().unwrap_or("").into())
                            }
                            Some("input_image") => {
                                let url = p["image_url"].as_str().unwrap_or("");
                                let b64 = url.strip_prefix("data:image/jpeg;base64,").ok_or_else(|| {
                                    bad(format!("input[{i}].content[{j}].image_url must be a JPEG data URL"))
                                })?;
                                check_jpeg_base64(b64)
                                    .map_err(|e| bad(format!("input[{i}].content[{j}]: {e}")))?;
                                if !matches!(p["detail"].as_str(), Some("low" | "high" | "auto")) {
                                    return Err(bad(format!(
                                        "input[{i}].content[{j}].detail is required"
                                    )));
                                }
                                images += 1;
                            }
                            other => {
                                return Err(bad(format!("input[{i}].content[{j}].type {other:?}")))
                            }
                        }
                    }
                }
                _ => return Err(bad(format!("input[{i}] is not a valid message"))),
            }
        }
        Ok(Checked {
            images,
            text: texts.join("\n"),
        })
    }

    fn success(&self, reply: &Reply, req: &RecordedRequest, usage: (u64, u64)) -> Value {
        let message = |content: Value| json!({"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": content});
        let output = match reply {
            Reply::Text(t) => json!([message(
                json!([{"type": "output_text", "text": t, "annotations": []}])
            )]),
            Reply::Reasoned { reasoning, text } => json!([
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": reasoning}]},
                message(json!([{"type": "output_text", "text": text, "annotations": []}]))
            ]),
            Reply::Refusal(r) => json!([message(json!([{"type": "refusal", "refusal": r}]))]),
            _ => json!([]),
        };
        json!({
            "id": "resp_1",
            "object": "response",
            "created_at": 1_700_000_000,
            "status": "completed",
            "model": req.body["model"],
            "output": output,
            "usage": {
                "input_tokens": usage.0,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": usage.1,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage.0 + usage.1
            }
        })
    }

    fn error(&self, _status: u16, message: &str) -> Value {
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}})
    }
}
