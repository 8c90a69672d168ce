//! What a model client is told: [`ClientConfig`] (endpoint, model, key, timeout, retries,
//! limiter, reasoning settings) and the typed settings inside it, [`ReasoningEffort`] and
//! [`ImageDetail`]. Every provider module reads these; none of them is built here, so the
//! providers depend on this file and not on each other or on the factory.

use super::limit::{LimitConfig, Limiter};
use super::retry::RetryPolicy;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Whole-call limit (connect, upload, generation, download). Vision models writing a
/// chain of thought over several images routinely take 30-60 s; two minutes leaves headroom
/// without hiding a hung server for long.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// OpenAI's API root, shared by the Chat Completions and Responses clients.
pub(crate) const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// Where OpenAI's key is read from (both OpenAI wire formats).
pub(crate) const OPENAI_KEY_VARS: &[&str] = &["OPENAI_API_KEY"];

/// How hard a reasoning model should think. Each provider maps it onto its own setting:
/// `reasoning_effort` (Chat Completions), `reasoning.effort` (Responses), a thinking budget in
/// tokens (Anthropic, Gemini; see [`ReasoningEffort::thinking_budget`]) or `think` (Ollama).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::VariantArray,
)]
#[serde(try_from = "String", into = "&'static str")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum ReasoningEffort {
    Minimal,
    Low,
    Medium,
    High,
}

impl ReasoningEffort {
    /// The names accepted in config and flags (and sent on the wire).
    pub const NAMES: &'static [&'static str] = <Self as strum::VariantNames>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Thinking tokens for APIs that take a budget instead of an effort level. 1024 is
    /// Anthropic's documented minimum budget; each step up quadruples, as the effort levels of
    /// OpenAI's reasoning models roughly do.
    pub(crate) fn thinking_budget(self) -> u32 {
        match self {
            Self::Minimal | Self::Low => 1024,
            Self::Medium => 4096,
            Self::High => 16384,
        }
    }
}

// Read with case and spaces ignored, so config, flags and files agree.
impl TryFrom<String> for ReasoningEffort {
    type Error = crate::text::UnknownName;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        crate::text::closed_name(&name)
    }
}

/// OpenAI's image `detail` (Chat Completions and Responses): how many tiles of an image the
/// model sees. Other providers have no such setting and ignore it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::VariantArray,
)]
#[serde(try_from = "String", into = "&'static str")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum ImageDetail {
    Low,
    High,
    Auto,
}

impl ImageDetail {
    /// The names accepted in config and flags (and sent on the wire).
    pub const NAMES: &'static [&'static str] = <Self as strum::VariantNames>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

// Read with case and spaces ignored, so config, flags and files agree.
impl TryFrom<String> for ImageDetail {
    type Error = crate::text::UnknownName;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        crate::text::closed_name(&name)
    }
}

/// What every client needs.
#[derive(Clone)]
pub struct ClientConfig {
    /// API root; each client appends its own path (`/chat/completions`, `/messages`, ...).
    pub base_url: String,
    pub model: String,
    /// Kept secret: sent as a sensitive header, never printed.
    pub api_key: Option<SecretString>,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// OpenAI image `detail`; `None` leaves it to the server.
    pub image_detail: Option<ImageDetail>,
    /// Reasoning effort for every call (a request's own setting wins).
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Exact thinking tokens for Anthropic and Gemini; overrides the effort's budget.
    pub thinking_budget: Option<u32>,
    /// Shared concurrency / per-minute limits.
    pub limiter: Arc<Limiter>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("image_detail", &self.image_detail)
            .field("reasoning_effort", &self.reasoning_effort)
            .field("thinking_budget", &self.thinking_budget)
            .field("limiter", &self.limiter)
            .finish()
    }
}

impl ClientConfig {
    /// Default timeout, retry policy and limits, no key, no reasoning settings.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            image_detail: None,
            reasoning_effort: None,
            thinking_budget: None,
            limiter: Arc::new(Limiter::new(LimitConfig::default())),
        }
    }

    /// The thinking budget in tokens for `effort` (the request's, else the config's), if any.
    pub(crate) fn thinking_tokens(&self, effort: Option<ReasoningEffort>) -> Option<u32> {
        let effort = effort.or(self.reasoning_effort);
        match (self.thinking_budget, effort) {
            (Some(b), _) => Some(b),
            (None, Some(e)) => Some(e.thinking_budget()),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let mut c = ClientConfig::new("http://x", "m");
        c.api_key = Some(SecretString::from("sk-hidden-77".to_string()));
        assert!(!format!("{c:?}").contains("sk-hidden-77"));
    }

    #[test]
    fn thinking_budget_comes_from_config_or_effort() {
        let mut c = ClientConfig::new("http://x", "m");
        assert_eq!(c.thinking_tokens(None), None);
        assert_eq!(c.thinking_tokens(Some(ReasoningEffort::High)), Some(16384));
        c.reasoning_effort = Some(ReasoningEffort::Low);
        assert_eq!(c.thinking_tokens(None), Some(1024));
        c.thinking_budget = Some(2000);
        assert_eq!(c.thinking_tokens(Some(ReasoningEffort::High)), Some(2000));
    }

    #[test]
    fn enums_use_their_lowercase_names_everywhere() {
        for &n in ReasoningEffort::NAMES {
            let e: ReasoningEffort = crate::text::closed_name(n).expect(n);
            assert_eq!(e.to_string(), n);
            assert_eq!(serde_json::to_value(e).expect("json"), n);
        }
        for &n in ImageDetail::NAMES {
            let d: ImageDetail = crate::text::closed_name(n).expect(n);
            assert_eq!(d.to_string(), n);
            assert_eq!(serde_json::to_value(d).expect("json"), n);
        }
        let e = crate::text::closed_name::<ImageDetail>("ultra").expect_err("unknown");
        assert!(e.to_string().contains("low, high, auto"), "{e}");
    }
}
