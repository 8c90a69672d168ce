//! A scripted Gemini `generateContent` API on 127.0.0.1
//! (`POST /v1beta/models/{model}:generateContent`), checking requests as the documented REST API
//! does: the key in `x-goog-api-key` (and never in the URL), `contents` with `user`/`model`
//! roles and `parts` that are `text` or `inline_data` (`mime_type` image/jpeg, base64 `data` that
//! decodes as a JPEG), an optional `systemInstruction.parts[].text`, and `generationConfig`
//! numbers in range. Errors use Google's `{"error": {"code", "message", "status"}}` shape.
#![allow(dead_code)]

use crate::scripted_server::{
    check_jpeg_base64, header, reject, Checked, Dialect, RecordedRequest, Rejected, Reply,
    ScriptedServer,
};
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{json, Value};

pub struct Gemini {
    pub api_key: String,
}

pub async fn start(api_key: &str) -> ScriptedServer {
    ScriptedServer::start(Gemini {
        api_key: api_key.to_string(),
    })
    .await
}

impl Dialect for Gemini {
    fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Checked, Rejected> {
        let bad = |m: String| reject(self, 400, m);
        let model = uri
            .path()
            .strip_prefix("/v1beta/models/")
            .and_then(|r| r.strip_suffix(":generateContent"));
        if !model.is_some_and(|m| !m.is_empty() && !m.contains('/')) {
            return Err(reject(self, 404, format!("Not found: {}", uri.path())));
        }
        if method != Method::POST {
            return Err(reject(self, 405, format!("{method} not allowed")));
        }
        if uri.query().is_some_and(|q| q.contains("key=")) {
            return Err(bad(
                "this test server wants the key in x-goog-api-key only".into()
            ));
        }
        let key = header(headers, "x-goog-api-key");
        if key != self.api_key {
            // Google answers a wrong key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
            return Err(Rejected {
                status: 400,
                body: json!({"error": {
                    "code": 400,
                    "message": format!("API key not valid: {key}"),
                    "status": "INVALID_ARGUMENT",
                    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                 "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
                }}),
            });
        }
        let mut texts = Vec::new();
        if let Some(si) = body.get("systemInstruction") {
            let Some(parts) = si["parts"].as_array() else {
                return Err(bad("systemInstruction.parts must be a list".into()));
            };
            texts.extend(
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str().map(str::to_string)),
            );
        }
        if let Some(g) = body.get("generationConfig") {
            if let Some(t) = g.get("maxOutputTokens") {
                if t.as_u64().is_none_or(|t| t == 0) {
                    return Err(bad(format!("generationConfig.maxOutputTokens: {t}")));
                }
            }
            if let Some(t) = g.get("temperature") {
                if !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t)) {
                    return Err(bad(format!("generationConfig.temperature: {t}")));
                }
            }
            if let Some(tc) = g.get("thinkingConfig") {
                if !tc["thinkingBudget"].is_u64() {
                    return Err(bad(format!("thinkingConfig.thinkingBudget: {tc}")));
                }
            }
        }
        let Some(contents) = body["contents"].as_array().filter(|c| !c.is_empty()) else {
            return Err(bad("contents is not specified".into()));
        };
        let mut images = 0;
        for (i, c) in contents.iter().enumerate() {
            if !matches!(c["role"].as_str(), Some("user" | "model")) {
                return Err(bad(format!("contents[{i}].role must be user or model")));
            }
            let Some(parts) = c["parts"].as_array().filter(|p| !p.is_empty()) else {
                return Err(bad(format!("contents[{i}].parts must not be empty")));
            };
            for (j, p) in parts.iter().enumerate() {
                if let Some(t) = p["text"].as_str() {
                    texts.push(t.to_string());
                } else if let Some(d) = p.get("inline_data") {
                    if d["mime_type"] != "image/jpeg" {
                        return Err(bad(format!(
                            "contents[{i}].parts[{j}].inline_data.mime_type"
                        )));
                    }
                    check_jpeg_base64(d["data"].as_str().unwrap_or(""))
                        .map_err(|e| bad(format!("contents[{i}].parts[{j}]: {e}")))?;
                    images += 1;
                } else {
                    return Err(bad(format!("contents[{i}].parts[{j}] has no data")));
                }
            }
        }
        Ok(Checked {
            images,
            text: texts.join("\n"),
        })
    }

    fn success(&self, reply: &Reply, req: &RecordedRequest, usage: (u64, u64)) -> Value {
        let usage_metadata = json!({
            "promptTokenCount": usage.0,
            "candidatesTokenCount": usage.1,
            "totalTokenCount": usage.0 + usage.1
        });
        let model = req
            .path
            .trim_start_matches("/v1beta/models/")
            .trim_end_matches(":generateContent");
        let candidate = |parts: Value, finish: &str| {
            json!({
                "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
                "usageMetadata": usage_metadata,
                "modelVersion": model
            })
        };
        match reply {
            Reply::Text(t) => candidate(json!([{"text": t}]), "STOP"),
            Reply::Reasoned { reasoning, text } => candidate(
                json!([{"text": reasoning, "thought": true}, {"text": text}]),
                "STOP",
            ),
            Reply::Refusal(_) => json!({
                "promptFeedback": {"blockReason": "SAFETY"},
                "usageMetadata": usage_metadata
            }),
            _ => json!({"candidates": [], "usageMetadata": usage_metadata}),
        }
    }

    fn error(&self, status: u16, message: &str) -> Value {
        let s = match status {
            400 => "INVALID_ARGUMENT",
            404 => "NOT_FOUND",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        json!({"error": {"code": status, "message": message, "status": s}})
    }
}
