//! Talking to large vision-language models: one small provider trait over provider-neutral
//! requests (text + JPEG images) and responses (text + token usage), and the providers behind it.
//!
//! Each provider module only converts to and from its wire types; retries, backoff and
//! `Retry-After` handling are shared in [`retry`].

pub mod openai;
pub mod retry;

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

/// A provider-neutral completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
}

/// Tokens a call used, as the provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
    }
}

/// A provider-neutral completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub text: String,
    pub model: String,
    pub usage: Usage,
    pub finish_reason: Option<String>,
    /// How many HTTP attempts it took (1 = no retry).
    pub attempts: u32,
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
    #[error("the provider's answer could not be read: {0}")]
    Decode(String),
    #[error("the provider returned no answer ({0})")]
    Empty(String),
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
            LvlmError::Empty(_) | LvlmError::Config(_) | LvlmError::Exhausted { .. } => false,
        }
    }

    pub fn is_rate_limited(&self) -> bool {
        matches!(self, LvlmError::RateLimited { .. })
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

/// A model behind some API.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// `provider:model`, for replays and reports.
    fn name(&self) -> String;
    /// One completion, with the provider's retry policy applied.
    async fn complete(&self, req: &Request) -> Result<Response, LvlmError>;
}
