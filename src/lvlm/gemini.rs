//! Google Gemini `generateContent` (`POST {base}/models/{model}:generateContent`): key in the
//! `x-goog-api-key` header (never in the URL, where it would end up in logs), the system prompt
//! as `systemInstruction`, images as `inline_data` parts, sampling and `thinkingConfig` under
//! `generationConfig`. Thought summaries (parts marked `thought: true`) are kept as the
//! response's visible reasoning; usage comes from `usageMetadata`. A prompt blocked by
//! `promptFeedback.blockReason` or a candidate stopped for safety is a [`LvlmError::Refused`].

use super::http::{
    base64, check_base_url, check_model, parse_wire, truncate, Transport, ERROR_BODY_LIMIT,
};
use super::settings::ClientConfig;
use super::{LvlmError, Part, Provider, Request, Response, Role, Usage};
use serde::Deserialize;
use serde_json::{json, Value};

/// Where the key is read from, in the order tried.
pub(crate) const KEY_VARS: &[&str] = &["GEMINI_API_KEY", "GOOGLE_API_KEY"];
/// The default endpoint root.
pub(crate) const GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";
/// `finishReason`s that mean the answer was withheld by a safety or policy filter.
pub(crate) const REFUSAL_FINISH_REASONS: [&str; 6] = [
    "SAFETY",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_SAFETY",
];

/// A [`Provider`] speaking `generateContent`.
pub struct GeminiClient {
    transport: Transport,
    endpoint: String,
    cfg: ClientConfig,
}

impl std::fmt::Debug for GeminiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiClient")
            .field("endpoint", &self.endpoint)
            .field("config", &self.cfg)
            .finish()
    }
}

impl GeminiClient {
    pub fn new(cfg: ClientConfig) -> Result<Self, LvlmError> {
        let base = check_base_url(&cfg.base_url, GEMINI_BASE_URL)?;
        check_model(&cfg.model)?;
        let model = cfg.model.trim().trim_start_matches("models/");
        if model.contains(['/', '?', '#', ' ']) {
            return Err(LvlmError::Config(format!(
                "model {model:?} is not a Gemini model id such as gemini-2.5-flash"
            )));
        }
        let transport = Transport::key_header(&cfg, "x-goog-api-key", &[], KEY_VARS)?;
        Ok(Self {
            transport,
            endpoint: format!("{base}/models/{model}:generateContent"),
            cfg,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The JSON body sent for `req`.
    pub fn wire_body(&self, req: &Request) -> Value {
        let contents: Vec<Value> = req
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::User => "user",
                    Role::Assistant => "model",
                };
                let parts: Vec<Value> = m
                    .parts
                    .iter()
                    .map(|p| match p {
                        Part::Text { text } => json!({"text": text}),
                        Part::Image { jpeg } => json!({
                            "inline_data": {"mime_type": "image/jpeg", "data": base64(jpeg)}
                        }),
                    })
                    .collect();
                json!({"role": role, "parts": parts})
            })
            .collect();
        let thinking = self.cfg.thinking_tokens(req.reasoning_effort);
        let mut generation = json!({
            // Thinking tokens count against maxOutputTokens, so the budget is added on top.
            "maxOutputTokens": req.max_tokens.saturating_add(thinking.unwrap_or(0)),
        });
        if let Some(t) = req.temperature {
            generation["temperature"] = json!(t);
        }
        if let Some(budget) = thinking {
            generation["thinkingConfig"] =
                json!({"thinkingBudget": budget, "includeThoughts": true});
        }
        let mut body = json!({"contents": contents, "generationConfig": generation});
        if let Some(system) = &req.system {
            body["systemInstruction"] = json!({"parts": [{"text": system}]});
        }
        body
    }
}

#[async_trait::async_trait]
impl Provider for GeminiClient {
    fn name(&self) -> String {
        format!("gemini:{}", self.cfg.model)
    }

    async fn complete(&self, req: &Request) -> Result<Response, LvlmError> {
        let mut resp = self
            .transport
            .complete(
                &self.endpoint,
                &self.wire_body(req),
                req,
                WireResponse::into_response,
            )
            .await
            .map_err(key_rejected_as_auth)?;
        if resp.model.is_empty() {
            resp.model.clone_from(&self.cfg.model);
        }
        Ok(resp)
    }
}

/// Google answers a wrong key with HTTP 400 (`INVALID_ARGUMENT`, reason `API_KEY_INVALID`), not
/// 401: that is an authentication failure too, so the match stops instead of falling back.
fn key_rejected_as_auth(e: LvlmError) -> LvlmError {
    match e {
        LvlmError::Status {
            status: 400, body, ..
        } if body.contains("API_KEY_INVALID") || body.contains("API key not valid") => {
            LvlmError::Auth {
                status: 400,
                key_vars: KEY_VARS,
                body,
            }
        }
        LvlmError::Exhausted { attempts, last } => LvlmError::Exhausted {
            attempts,
            last: Box::new(key_rejected_as_auth(*last)),
        },
        other => other,
    }
}

/// Reads a success body as this API's answer, as [`Provider::complete`] does once the transport
/// has parsed and redacted it; for tools and the property tests over hostile bodies.
pub fn decode_answer(body: &[u8]) -> Result<Response, LvlmError> {
    parse_wire::<WireResponse>(body)?.into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(default)]
    model_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<WirePart>,
}

#[derive(Deserialize)]
struct WirePart {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thought: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
    #[serde(default)]
    block_reason_message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
    #[serde(default)]
    cached_content_token_count: u64,
}

impl WireResponse {
    fn into_response(self) -> Result<Response, LvlmError> {
        if let Some(reason) = self
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.clone())
        {
            let msg = self
                .prompt_feedback
                .and_then(|f| f.block_reason_message)
                .map(|m| format!(": {}", truncate(&m, ERROR_BODY_LIMIT)))
                .unwrap_or_default();
            return Err(LvlmError::Refused(format!(
                "the prompt was blocked (blockReason {reason}){msg}"
            )));
        }
        let Some(candidate) = self.candidates.into_iter().next() else {
            return Err(LvlmError::Empty("the response had no candidates".into()));
        };
        let parts = candidate.content.map(|c| c.parts).unwrap_or_default();
        let text: String = parts
            .iter()
            .filter(|p| !p.thought)
            .filter_map(|p| p.text.as_deref())
            .collect();
        let thoughts: Vec<&str> = parts
            .iter()
            .filter(|p| p.thought)
            .filter_map(|p| p.text.as_deref())
            .filter(|t| !t.trim().is_empty())
            .collect();
        let finish = candidate.finish_reason;
        if let Some(f) = finish
            .as_deref()
            .filter(|f| REFUSAL_FINISH_REASONS.contains(f))
        {
            return Err(LvlmError::Refused(format!("finishReason {f}")));
        }
        if text.trim().is_empty() {
            return Err(LvlmError::Empty(match &finish {
                Some(f) => format!("no text in the candidate (finishReason {f})"),
                None => "no text in the candidate".to_string(),
            }));
        }
        let usage = self.usage_metadata.unwrap_or_default();
        Ok(Response {
            text,
            model: self.model_version.unwrap_or_default(),
            usage: Usage {
                input_tokens: usage.prompt_token_count,
                // Thinking tokens are billed as output.
                output_tokens: usage.candidates_token_count + usage.thoughts_token_count,
                cached_input_tokens: usage.cached_content_token_count,
                cost_usd: None,
            },
            finish_reason: finish,
            attempts: 1,
            reasoning: (!thoughts.is_empty()).then(|| thoughts.join("\n\n")),
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
    fn body_has_system_instruction_inline_data_and_thinking() {
        let mut cfg = ClientConfig::new("http://h/v1beta", "models/gemini-2.5-flash");
        cfg.thinking_budget = Some(512);
        let c = GeminiClient::new(cfg).expect("ok");
        assert_eq!(
            c.endpoint(),
            "http://h/v1beta/models/gemini-2.5-flash:generateContent"
        );
        let req = Request {
            temperature: Some(0.5),
            reasoning_effort: Some(ReasoningEffort::High),
            ..crate::lvlm::sample_request(true, 100)
        };
        assert_eq!(
            c.wire_body(&req),
            json!({
                "systemInstruction": {"parts": [{"text": "sys"}]},
                "contents": [
                    {"role": "user", "parts": [
                        {"text": "where?"},
                        {"inline_data": {"mime_type": "image/jpeg", "data": "/9j/"}}
                    ]},
                    {"role": "model", "parts": [{"text": "Paris"}]}
                ],
                "generationConfig": {
                    "maxOutputTokens": 612,
                    "temperature": 0.5,
                    "thinkingConfig": {"thinkingBudget": 512, "includeThoughts": true}
                }
            })
        );
        assert!(GeminiClient::new(ClientConfig::new("http://h", "a/b")).is_err());
    }

    #[test]
    fn decodes_text_thoughts_and_usage() {
        let r = decode(
            r#"{"candidates":[{"content":{"role":"model","parts":[
                {"text":"Cyrillic signs.","thought":true},{"text":"Moscow"}]},"finishReason":"STOP"}],
               "usageMetadata":{"promptTokenCount":300,"candidatesTokenCount":5,"thoughtsTokenCount":40,"totalTokenCount":345},
               "modelVersion":"gemini-2.5-flash"}"#,
        )
        .expect("ok");
        assert_eq!(r.text, "Moscow");
        assert_eq!(r.reasoning.as_deref(), Some("Cyrillic signs."));
        assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (300, 45));
        assert_eq!(r.model, "gemini-2.5-flash");
    }

    #[test]
    fn blocks_safety_stops_and_empty_candidates_say_why() {
        let e = decode(r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#).expect_err("blocked");
        assert!(e.is_refusal() && e.to_string().contains("SAFETY"), "{e}");
        let e = decode(r#"{"candidates":[{"finishReason":"SAFETY"}]}"#).expect_err("safety");
        assert!(e.is_refusal(), "{e:?}");
        let e = decode(r#"{"candidates":[]}"#).expect_err("empty");
        assert!(e.to_string().contains("no candidates"), "{e}");
        let e = decode(r#"{"candidates":[{"content":{"parts":[]},"finishReason":"MAX_TOKENS"}]}"#)
            .expect_err("cut");
        assert!(e.to_string().contains("MAX_TOKENS"), "{e}");
    }
}
