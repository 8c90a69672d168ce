//! Choosing and assembling a provider: [`ProviderKind`] names the wire formats (`openai:`,
//! `openai-responses:`, `anthropic:`, `gemini:`, `ollama:`) and [`build_provider`] stacks the layers on the chosen client:
//!
//! ```text
//! ImageBudget (resize + re-encode views) → Cache (answer repeats for free) → Priced (cost) → client
//! ```
//!
//! The budget comes first so the cache key covers the bytes actually sent; pricing sits below the
//! cache so a cached answer is not charged again.

use super::cache::CachedProvider;
use super::cost::{PriceTable, Priced};
use super::image::{BudgetedProvider, ImageBudget};
use super::limit::{LimitConfig, Limiter};
use super::settings::{ClientConfig, OPENAI_BASE_URL, OPENAI_KEY_VARS};
use super::{anthropic, gemini, ollama, openai, responses};
use super::{LvlmError, Provider};
use std::path::PathBuf;
use std::sync::Arc;

/// The wire formats geoagent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Chat Completions: OpenAI and every OpenAI-compatible server (vLLM, llama.cpp server,
    /// LM Studio, OpenRouter, Ollama's `/v1`).
    OpenAi,
    /// OpenAI's Responses API.
    OpenAiResponses,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini `generateContent`.
    Gemini,
    /// Ollama's native `/api/chat`.
    Ollama,
}

impl ProviderKind {
    /// Prefixes accepted before `:` in `--model` / `model.name`.
    pub(crate) const PREFIXES: [&'static str; 5] = [
        "openai",
        "openai-responses",
        "anthropic",
        "gemini",
        "ollama",
    ];

    /// Parses a prefix (and a few obvious aliases).
    pub fn parse(prefix: &str) -> Option<Self> {
        match prefix.trim().to_ascii_lowercase().as_str() {
            "openai" | "openai-chat" => Some(Self::OpenAi),
            "openai-responses" | "responses" => Some(Self::OpenAiResponses),
            "anthropic" | "claude" => Some(Self::Anthropic),
            "gemini" | "google" => Some(Self::Gemini),
            "ollama" => Some(Self::Ollama),
            _ => None,
        }
    }

    /// The canonical prefix, used in provider names and cache keys.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::OpenAiResponses => "openai-responses",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Ollama => "ollama",
        }
    }

    /// Where requests go when no base URL is configured.
    pub(crate) fn default_base_url(self) -> &'static str {
        match self {
            Self::OpenAi | Self::OpenAiResponses => OPENAI_BASE_URL,
            Self::Anthropic => anthropic::ANTHROPIC_BASE_URL,
            Self::Gemini => gemini::GEMINI_BASE_URL,
            Self::Ollama => ollama::OLLAMA_BASE_URL,
        }
    }

    /// Environment variables holding this provider's key, in the order they are tried.
    pub(crate) fn key_env_vars(self) -> &'static [&'static str] {
        match self {
            Self::OpenAi | Self::OpenAiResponses => OPENAI_KEY_VARS,
            Self::Anthropic => anthropic::KEY_VARS,
            Self::Gemini => gemini::KEY_VARS,
            Self::Ollama => ollama::KEY_VARS,
        }
    }

    /// Reads a success body as this wire format's answer (see each provider's `decode_answer`).
    pub fn decode_answer(self, body: &[u8]) -> Result<super::Response, LvlmError> {
        match self {
            Self::OpenAi => openai::decode_answer(body),
            Self::OpenAiResponses => responses::decode_answer(body),
            Self::Anthropic => anthropic::decode_answer(body),
            Self::Gemini => gemini::decode_answer(body),
            Self::Ollama => ollama::decode_answer(body),
        }
    }

    /// Whether the hosted API refuses calls without a key (local servers do not need one).
    pub(crate) fn needs_key(self) -> bool {
        !matches!(self, Self::Ollama)
    }
}

/// Everything [`build_provider`] needs.
#[derive(Debug, Clone)]
pub struct ProviderSpec {
    pub kind: ProviderKind,
    pub client: ClientConfig,
    pub limits: LimitConfig,
    /// Response cache folder; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    pub prices: PriceTable,
    pub image_budget: ImageBudget,
}

impl ProviderSpec {
    /// A spec with defaults for everything but the provider, model and base URL.
    pub fn new(kind: ProviderKind, model: impl Into<String>, base_url: Option<String>) -> Self {
        Self {
            kind,
            client: ClientConfig::new(
                base_url.unwrap_or_else(|| kind.default_base_url().to_string()),
                model,
            ),
            limits: LimitConfig::default(),
            cache_dir: None,
            prices: PriceTable::default(),
            image_budget: ImageBudget::default(),
        }
    }
}

/// The bare client for `kind`, without layers.
pub fn build_client(kind: ProviderKind, cfg: ClientConfig) -> Result<Arc<dyn Provider>, LvlmError> {
    Ok(match kind {
        ProviderKind::OpenAi => Arc::new(openai::OpenAiClient::new(cfg)?),
        ProviderKind::OpenAiResponses => Arc::new(responses::ResponsesClient::new(cfg)?),
        ProviderKind::Anthropic => Arc::new(anthropic::AnthropicClient::new(cfg)?),
        ProviderKind::Gemini => Arc::new(gemini::GeminiClient::new(cfg)?),
        ProviderKind::Ollama => Arc::new(ollama::OllamaClient::new(cfg)?),
    })
}

/// The client for `spec` wrapped in its limiter, pricing, cache and image budget.
pub fn build_provider(spec: &ProviderSpec) -> Result<Arc<dyn Provider>, LvlmError> {
    let mut cfg = spec.client.clone();
    cfg.limiter = Arc::new(Limiter::new(spec.limits));
    if spec.kind.needs_key() && cfg.api_key.is_none() && is_hosted(spec.kind, &cfg.base_url) {
        return Err(LvlmError::Config(format!(
            "{} needs an API key: set {} (or model.api_key in geoagent.toml)",
            spec.kind.prefix(),
            spec.kind.key_env_vars().join(" or ")
        )));
    }
    // Settings that change the answer without showing in the request go into the cache key.
    let identity = format!(
        "{}|{}|detail={:?}|effort={:?}|budget={:?}",
        spec.kind.prefix(),
        cfg.base_url.trim().trim_end_matches('/'),
        cfg.image_detail,
        cfg.reasoning_effort,
        cfg.thinking_budget
    );
    let price = spec.prices.lookup(&cfg.model);
    if price.is_none() {
        tracing::info!(model = %cfg.model, "no price known for this model; cost is not estimated (add one under [model.prices])");
    }
    let client = build_client(spec.kind, cfg)?;
    let mut provider: Arc<dyn Provider> = Arc::new(Priced::new(client, price));
    if let Some(dir) = &spec.cache_dir {
        provider = Arc::new(CachedProvider::new(provider, dir.clone(), identity));
    }
    if spec.image_budget.is_active() {
        provider = Arc::new(BudgetedProvider::new(provider, spec.image_budget));
    }
    Ok(provider)
}

/// The provider's own public endpoint (where a missing key is certainly a mistake), as opposed
/// to a local or third-party server reached through `--base-url`.
fn is_hosted(kind: ProviderKind, base_url: &str) -> bool {
    let host = |u: &str| {
        url::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
    };
    host(base_url).is_some() && host(base_url) == host(kind.default_base_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_round_trip_and_aliases_parse() {
        for p in ProviderKind::PREFIXES {
            let k = ProviderKind::parse(p).expect(p);
            assert_eq!(k.prefix(), p);
            assert!(url::Url::parse(k.default_base_url()).is_ok());
        }
        assert_eq!(ProviderKind::parse("Claude"), Some(ProviderKind::Anthropic));
        assert_eq!(ProviderKind::parse("acme"), None);
    }

    #[test]
    fn hosted_api_without_a_key_names_the_variable() {
        let spec = ProviderSpec::new(ProviderKind::Anthropic, "claude-sonnet-4-0", None);
        let e = build_provider(&spec)
            .err()
            .expect("needs a key")
            .to_string();
        assert!(e.contains("ANTHROPIC_API_KEY"), "{e}");
        let spec = ProviderSpec::new(
            ProviderKind::OpenAi,
            "local",
            Some("http://127.0.0.1:8000/v1".into()),
        );
        assert!(build_provider(&spec).is_ok(), "local servers need no key");
        let spec = ProviderSpec::new(ProviderKind::Ollama, "llava", None);
        assert_eq!(build_provider(&spec).expect("ok").name(), "ollama:llava");
    }
}
