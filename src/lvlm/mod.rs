//! Talking to large vision-language models: one small provider trait over provider-neutral
//! requests (text + JPEG images) and responses (text + token usage), and the providers behind it.
//!
//! Each provider module only converts to and from its wire types ([`openai`] Chat Completions,
//! [`responses`] OpenAI Responses, [`anthropic`] Messages, [`gemini`] generateContent, [`ollama`]
//! native chat). What they share lives beside them: the HTTP transport with key redaction
//! ([`http`]), retries, backoff and `Retry-After` ([`retry`]), concurrency and rate limits
//! ([`limit`]), the client settings ([`settings`]), and the layers [`build_provider`] stacks on a client: image budget ([`image`]),
//! response cache ([`cache`]) and cost estimate ([`cost`]).

pub mod anthropic;
pub mod cache;
pub mod cost;
pub mod factory;
pub mod gemini;
pub mod http;
pub mod image;
pub mod limit;
pub mod ollama;
pub mod openai;
pub mod responses;
pub mod retry;
pub mod settings;

pub use factory::{build_provider, ProviderKind, ProviderSpec};
pub use settings::{ClientConfig, ImageDetail, ReasoningEffort};

use serde::{Deserialize, Serialize};
use std::time::Duration;
use thiserror::Error;

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One piece of a message.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text {
        text: String,
    },
    /// A JPEG image; providers encode it as their wire format wants (data URL, base64 block...).
    Image {
        #[serde(skip)]
        jpeg: Vec<u8>,
    },
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Text { text } => f.debug_struct("Text").field("text", text).finish(),
            Part::Image { jpeg } => write!(f, "Image({} bytes)", jpeg.len()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

impl Message {
    /// The message's text parts joined by newlines (images left out).
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text } => Some(text.as_str()),
                Part::Image { .. } => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `max_tokens` of [`Request::default`]: room for a short chain of thought and a JSON answer.
pub(crate) const DEFAULT_REQUEST_MAX_TOKENS: u32 = 1024;

/// A provider-neutral completion request.
///
/// `Default` gives an empty conversation with [`DEFAULT_REQUEST_MAX_TOKENS`] and no sampling or
/// reasoning settings, so callers can write `Request { messages, ..Request::default() }` and
/// keep compiling when fields are added.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// Overrides the provider's configured reasoning effort for this call.
    pub reasoning_effort: Option<ReasoningEffort>,
}

impl Default for Request {
    fn default() -> Self {
        Self {
            system: None,
            messages: Vec::new(),
            max_tokens: DEFAULT_REQUEST_MAX_TOKENS,
            temperature: None,
            reasoning_effort: None,
        }
    }
}

impl Request {
    /// Images across all messages.
    pub fn images(&self) -> impl Iterator<Item = &[u8]> {
        self.messages.iter().flat_map(|m| {
            m.parts.iter().filter_map(|p| match p {
                Part::Image { jpeg } => Some(jpeg.as_slice()),
                Part::Text { .. } => None,
            })
        })
    }

    /// Total JPEG bytes attached (before base64).
    pub fn image_bytes(&self) -> u64 {
        self.images().map(|i| i.len() as u64).sum()
    }
}

/// Tokens a call used, as the provider reported them, and what they cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens the provider served from its own prompt cache (billed at a discount).
    #[serde(default)]
    pub cached_input_tokens: u64,
    /// Estimated cost in US dollars from the price table; `None` when the model has no price.
    /// A response from geoagent's own cache costs `Some(0.0)`.
    #[serde(default)]
    pub cost_usd: Option<f64>,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.cached_input_tokens += o.cached_input_tokens;
        self.cost_usd = match (self.cost_usd, o.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

/// A provider-neutral completion.
///
/// Every field added after the first release is `#[serde(default)]`, so cached responses written
/// by earlier builds still load; `Default` lets test providers write `..Response::default()`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub text: String,
    pub model: String,
    pub usage: Usage,
    pub finish_reason: Option<String>,
    /// How many HTTP attempts it took (1 = no retry, 0 = answered from the response cache).
    pub attempts: u32,
    /// The model's visible reasoning (Anthropic thinking blocks, Responses reasoning summaries,
    /// Gemini thought summaries, Ollama `thinking`), kept for the replay.
    #[serde(default)]
    pub reasoning: Option<String>,
    /// Answered from geoagent's response cache: no request was sent and nothing was paid.
    #[serde(default)]
    pub cached: bool,
    /// Size of the JSON body sent (last attempt).
    #[serde(default)]
    pub request_bytes: u64,
    /// JPEG bytes attached, after the image budget was applied.
    #[serde(default)]
    pub image_bytes: u64,
}

/// Why a model call failed. Messages never contain the API key.
#[derive(Debug, Error)]
pub enum LvlmError {
    #[error("could not reach the model at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    #[error("rate limited by the provider (HTTP 429){}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("the provider answered HTTP {status}: {body}")]
    Status {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    /// The provider rejected the key (HTTP 401/403, or an authentication error in the body).
    /// Retrying cannot help and every later call would fail the same way, so callers stop.
    #[error("{}", auth_message(*status, key_vars, body))]
    Auth {
        status: u16,
        /// The environment variables the key is read from, named in the message.
        key_vars: &'static [&'static str],
        body: String,
    },
    #[error("the provider's answer could not be read: {0}")]
    Decode(String),
    #[error("the provider returned no answer ({0})")]
    Empty(String),
    /// The model or the provider's safety system declined to answer.
    #[error("the model refused: {0}")]
    Refused(String),
    /// The client could not be set up (bad base URL, unusable key characters, unknown option).
    #[error("invalid model configuration: {0}")]
    Config(String),
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        attempts: u32,
        #[source]
        last: Box<LvlmError>,
    },
}

impl LvlmError {
    /// Worth trying again: rate limits, server errors, timeouts and dropped connections.
    pub fn is_retryable(&self) -> bool {
        match self {
            LvlmError::Connect { .. } | LvlmError::Timeout(_) | LvlmError::RateLimited { .. } => {
                true
            }
            LvlmError::Status { status, .. } => *status >= 500 || *status == 408,
            LvlmError::Decode(_) => true,
            LvlmError::Empty(_)
            | LvlmError::Auth { .. }
            | LvlmError::Refused(_)
            | LvlmError::Config(_)
            | LvlmError::Exhausted { .. } => false,
        }
    }

    /// The provider rejected the API key: no later call can succeed, so the match must stop
    /// (not fall back to the baseline round after round).
    pub fn is_auth(&self) -> bool {
        match self {
            LvlmError::Auth { .. } => true,
            LvlmError::Exhausted { last, .. } => last.is_auth(),
            _ => false,
        }
    }

    /// The model declined to answer (directly or as the last error after retries).
    pub fn is_refusal(&self) -> bool {
        match self {
            LvlmError::Refused(_) => true,
            LvlmError::Exhausted { last, .. } => last.is_refusal(),
            _ => false,
        }
    }

    /// The wait the provider asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LvlmError::RateLimited { retry_after } | LvlmError::Status { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// The text of [`LvlmError::Auth`]: what happened and which variable to check.
fn auth_message(status: u16, key_vars: &[&str], body: &str) -> String {
    let check = if key_vars.is_empty() {
        "check model.api_key".to_string()
    } else {
        format!("check {} (or model.api_key)", key_vars.join(" / "))
    };
    let said = if body.trim().is_empty() {
        String::new()
    } else {
        format!("; the provider said: {body}")
    };
    format!(
        "authentication failed (HTTP {status}): the provider rejected the API key; {check}{said}"
    )
}

/// A model behind some API.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// `provider:model`, for replays and reports.
    fn name(&self) -> String;
    /// One completion, with the provider's retry policy applied.
    async fn complete(&self, req: &Request) -> Result<Response, LvlmError>;
}

/// The request every provider's wire-format test starts from: a system prompt and "where?" with
/// a three-byte JPEG, then (when `answered`) the assistant's earlier "Paris".
#[cfg(test)]
pub(crate) fn sample_request(answered: bool, max_tokens: u32) -> Request {
    let text = |text: &str| Part::Text { text: text.into() };
    let mut messages = vec![Message {
        role: Role::User,
        parts: vec![
            text("where?"),
            Part::Image {
                jpeg: vec![0xff, 0xd8, 0xff],
            },
        ],
    }];
    if answered {
        messages.push(Message {
            role: Role::Assistant,
            parts: vec![text("Paris")],
        });
    }
    Request {
        system: Some("sys".into()),
        messages,
        max_tokens,
        ..Request::default()
    }
}
