//! OpenAI's Responses API (`POST {base}/responses`): the system prompt goes in `instructions`,
//! user turns are `input_text` / `input_image` parts (images as data URLs with `detail`),
//! reasoning settings are `reasoning: {effort, summary}`, and the answer is the `output_text`
//! of the `message` items in `output`. Reasoning summaries (`reasoning` items) are kept as the
//! response's visible reasoning. Usage is `input_tokens` / `output_tokens`.

use super::http::{
    auth_status_in_body, base64, check_base_url, check_model, parse_wire, truncate, Transport,
    ERROR_BODY_LIMIT,
};
use super::settings::{ClientConfig, ImageDetail, OPENAI_BASE_URL, OPENAI_KEY_VARS};
use super::{LvlmError, Part, Provider, Request, Response, Role, Usage};
use serde::Deserialize;
use serde_json::{json, Value};

/// A [`Provider`] speaking the Responses API.
pub struct ResponsesClient {
    transport: Transport,
    endpoint: String,
    cfg: ClientConfig,
}

impl std::fmt::Debug for ResponsesClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponsesClient")
            .field("endpoint", &self.endpoint)
            .field("config", &self.cfg)
            .finish()
    }
}

impl ResponsesClient {
    pub fn new(cfg: ClientConfig) -> Result<Self, LvlmError> {
        let base = check_base_url(&cfg.base_url, OPENAI_BASE_URL)?;
        check_model(&cfg.model)?;
        Ok(Self {
            transport: Transport::bearer(&cfg, OPENAI_KEY_VARS)?,
            endpoint: format!("{base}/responses"),
            cfg,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The JSON body sent for `req`.
    pub fn wire_body(&self, req: &Request) -> Value {
        let detail = self.cfg.image_detail.unwrap_or(ImageDetail::Auto).as_str();
        let input: Vec<Value> = req
            .messages
            .iter()
            .map(|m| match m.role {
                Role::Assistant => json!({"role": "assistant", "content": m.text()}),
                Role::User => {
                    let content: Vec<Value> = m
                        .parts
                        .iter()
                        .map(|p| match p {
                            Part::Text { text } => json!({"type": "input_text", "text": text}),
                            Part::Image { jpeg } => json!({
                                "type": "input_image",
                                "image_url": format!("data:image/jpeg;base64,{}", base64(jpeg)),
                                "detail": detail,
                            }),
                        })
                        .collect();
                    json!({"role": "user", "content": content})
                }
            })
            .collect();
        let mut body = json!({
            "model": self.cfg.model,
            "input": input,
            "max_output_tokens": req.max_tokens,
            // Nothing is kept on OpenAI's side: every call carries its whole conversation.
            "store": false,
        });
        if let Some(system) = &req.system {
            body["instructions"] = json!(system);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(e) = req.reasoning_effort.or(self.cfg.reasoning_effort) {
            body["reasoning"] = json!({"effort": e.as_str(), "summary": "auto"});
        }
        body
    }
}

#[async_trait::async_trait]
impl Provider for ResponsesClient {
    fn name(&self) -> String {
        format!("openai-responses:{}", self.cfg.model)
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
    status: Option<String>,
    #[serde(default)]
    output: Vec<OutputItem>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    incomplete_details: Option<Value>,
}

#[derive(Deserialize)]
struct OutputItem {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    content: Vec<ContentPart>,
    #[serde(default)]
    summary: Vec<ContentPart>,
}

#[derive(Deserialize)]
struct ContentPart {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<Value>,
}

impl WireResponse {
    fn into_response(self) -> Result<Response, LvlmError> {
        if let Some(err) = self.error.filter(|e| !e.is_null()) {
            let body = truncate(&err.to_string(), ERROR_BODY_LIMIT);
            if let Some(status) = auth_status_in_body(&err) {
                return Err(LvlmError::Auth {
                    status,
                    key_vars: OPENAI_KEY_VARS,
                    body,
                });
            }
            return Err(LvlmError::Empty(format!("the response failed: {body}")));
        }
        let mut text = String::new();
        let mut refusal = None;
        let mut reasoning = Vec::new();
        for item in &self.output {
            match item.kind.as_str() {
                "message" => {
                    for c in &item.content {
                        match c.kind.as_str() {
                            "output_text" => text.push_str(c.text.as_deref().unwrap_or("")),
                            "refusal" => refusal = c.refusal.clone(),
                            _ => {}
                        }
                    }
                }
                "reasoning" => reasoning.extend(
                    item.summary
                        .iter()
                        .filter_map(|s| s.text.as_deref())
                        .filter(|t| !t.trim().is_empty())
                        .map(str::to_string),
                ),
                _ => {}
            }
        }
        if text.trim().is_empty() {
            if let Some(r) = refusal.filter(|r| !r.trim().is_empty()) {
                return Err(LvlmError::Refused(truncate(r.trim(), ERROR_BODY_LIMIT)));
            }
            let why = match (&self.status, &self.incomplete_details) {
                (_, Some(d)) if !d.is_null() => format!("no output text (incomplete: {d})"),
                (Some(s), _) => format!("no output text (status {s:?})"),
                _ => "no output text".to_string(),
            };
            return Err(LvlmError::Empty(why));
        }
        let usage = self.usage.unwrap_or_default();
        Ok(Response {
            text,
            model: self.model.unwrap_or_default(),
            usage: Usage {
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                cached_input_tokens: usage
                    .input_tokens_details
                    .and_then(|d| d["cached_tokens"].as_u64())
                    .unwrap_or(0),
                cost_usd: None,
            },
            finish_reason: self.status,
            attempts: 1,
            reasoning: (!reasoning.is_empty()).then(|| reasoning.join("\n\n")),
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

    #[test]
    fn body_has_instructions_input_parts_and_reasoning() {
        let mut cfg = ClientConfig::new("http://127.0.0.1:9/v1", "o4-mini");
        cfg.image_detail = Some(ImageDetail::High);
        cfg.reasoning_effort = Some(ReasoningEffort::Low);
        let c = ResponsesClient::new(cfg).expect("valid");
        assert_eq!(c.endpoint(), "http://127.0.0.1:9/v1/responses");
        let req = Request {
            ..crate::lvlm::sample_request(true, 50)
        };
        assert_eq!(
            c.wire_body(&req),
            json!({
                "model": "o4-mini",
                "instructions": "sys",
                "input": [
                    {"role": "user", "content": [
                        {"type": "input_text", "text": "where?"},
                        {"type": "input_image", "image_url": "data:image/jpeg;base64,/9j/", "detail": "high"}
                    ]},
                    {"role": "assistant", "content": "Paris"}
                ],
                "max_output_tokens": 50,
                "store": false,
                "reasoning": {"effort": "low", "summary": "auto"}
            })
        );
    }

    #[test]
    fn decodes_text_reasoning_and_usage() {
        let r = decode(
            r#"{"model":"o4-mini","status":"completed","output":[
                {"type":"reasoning","summary":[{"type":"summary_text","text":"Right-hand traffic."}]},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Paris"}]}],
               "usage":{"input_tokens":10,"output_tokens":4,"input_tokens_details":{"cached_tokens":2}}}"#,
        )
        .expect("ok");
        assert_eq!(r.text, "Paris");
        assert_eq!(r.reasoning.as_deref(), Some("Right-hand traffic."));
        assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (10, 4));
        assert_eq!(r.usage.cached_input_tokens, 2);
    }

    #[test]
    fn refusal_incomplete_and_empty_say_why() {
        let e = decode(
            r#"{"output":[{"type":"message","content":[{"type":"refusal","refusal":"No."}]}]}"#,
        )
        .expect_err("refused");
        assert!(e.is_refusal(), "{e:?}");
        let e = decode(
            r#"{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}"#,
        )
        .expect_err("cut");
        assert!(e.to_string().contains("max_output_tokens"), "{e}");
        let e = decode(r#"{"output":[]}"#).expect_err("empty");
        assert!(matches!(e, LvlmError::Empty(_)));
        // A rejected key reported in a 200 body stops the match like a 401 (issue 13).
        let e = decode(
            r#"{"error":{"code":"invalid_api_key","message":"Incorrect API key"},"output":[]}"#,
        )
        .expect_err("auth");
        assert!(e.is_auth(), "{e:?}");
    }
}
