//! Layered configuration: built-in defaults < `geoagent.toml` < environment (`GEOAGENT_*`, plus
//! the providers' usual `OPENAI_API_KEY` / `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`,
//! `GEMINI_API_KEY` / `GOOGLE_API_KEY`) < command-line flags. Read and validated once; every error
//! names the key and the layer it came from. Secrets never print.

use crate::lvlm::cost::{Price, PriceTable};
use crate::lvlm::image::{ImageBudget, MIN_IMAGE_SIDE};
use crate::lvlm::limit::{LimitConfig, MAX_CONCURRENCY_LIMIT};
use crate::lvlm::retry::RetryPolicy;
use crate::lvlm::{ProviderKind, ProviderSpec, ReasoningEffort};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use thiserror::Error;

/// The config file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "geoagent.toml";
/// Prefix of environment variables; nested keys use `__` (`GEOAGENT_GAME__ROUNDS=3`).
pub const ENV_PREFIX: &str = "GEOAGENT";
/// Upper bound on rounds per game: the game's own limit, so a value that passes here is one
/// the game server accepts.
pub use crate::game::MAX_ROUNDS;
/// Upper bound on views per round: each view is an image the model pays for.
pub const MAX_HEADINGS: usize = 16;
/// Environment variables read as provider API keys (see [`ProviderKind::key_env_vars`]).
pub const PROVIDER_KEY_VARS: [&str; 4] = [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
];
/// The OpenAI API, used when a model is named without a base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {path}: {detail}")]
    File { path: String, detail: String },
    #[error("environment variables ({ENV_PREFIX}_*, OPENAI_*): {0}")]
    Env(String),
    #[error("command-line flags: {0}")]
    Flags(String),
    #[error("{key} = {value}: {problem}")]
    Invalid {
        key: &'static str,
        value: String,
        problem: String,
    },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub game: GameSettings,
    pub browser: BrowserSettings,
    pub capture: CaptureSettings,
    pub model: ModelSettings,
    pub agent: AgentSettings,
    pub replay: ReplaySettings,
    pub server: ServerSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GameSettings {
    /// Map id: "world" (built in) or the id of a pack under `maps_dir`.
    pub map: String,
    pub rounds: usize,
    /// Challenge seed; random when absent (and then printed, so the game can be shared).
    pub seed: Option<u64>,
    /// Folder of extra map packs (each a sub-folder with `manifest.json`).
    pub maps_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrowserSettings {
    pub chromedriver: Option<PathBuf>,
    pub chromium: Option<PathBuf>,
    /// An existing WebDriver endpoint (Selenium Grid) to use instead of starting chromedriver.
    pub webdriver_url: Option<String>,
    pub headless: bool,
    pub viewport_width: u32,
    pub viewport_height: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureSettings {
    pub headings: usize,
    pub zoom_steps: u32,
    pub jpeg_quality: u8,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// `gpt-4o` or `openai:gpt-4o`; absent = the built-in baseline reasoner.
    pub name: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<SecretString>,
    pub request_timeout_secs: f64,
    pub round_timeout_secs: f64,
    pub max_retries: u32,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// OpenAI image detail: low, high or auto.
    pub image_detail: Option<String>,
    /// minimal, low, medium or high: `reasoning_effort` (OpenAI), a thinking budget (Anthropic,
    /// Gemini), `think` (Ollama).
    pub reasoning_effort: Option<String>,
    /// Exact thinking tokens for Anthropic / Gemini (overrides the effort's budget).
    pub thinking_budget: Option<u32>,
    /// Calls in flight at once to this provider.
    pub max_concurrency: usize,
    /// Calls started per minute (spread evenly); absent = no client-side limit.
    pub requests_per_minute: Option<u32>,
    /// Answer repeated requests from the response cache (`--no-cache` turns it off).
    pub cache: bool,
    pub cache_dir: PathBuf,
    /// Views larger than this (long side, pixels) are scaled down before sending; 0 = never.
    pub max_image_side: u32,
    /// JPEG quality of scaled-down views.
    pub image_jpeg_quality: u8,
    /// Price overrides and additions, by model-name prefix:
    /// `[model.prices."gpt-4o"] input_per_mtok = 2.5, output_per_mtok = 10.0`.
    pub prices: BTreeMap<String, Price>,
    /// Provider keys and base URL read from the environment (filled in by [`Settings::load`]).
    #[serde(skip)]
    pub env: ProviderEnv,
}

/// Provider credentials from the environment, and which `model.*` values were set by
/// `GEOAGENT_*` variables or flags (those beat the provider variables; a file's do not).
#[derive(Clone, Default)]
pub struct ProviderEnv {
    keys: Vec<(String, SecretString)>,
    openai_base_url: Option<String>,
    api_key_overridden: bool,
    base_url_overridden: bool,
}

impl std::fmt::Debug for ProviderEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.keys.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ProviderEnv")
            .field("keys_set", &names)
            .field("openai_base_url", &self.openai_base_url)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSettings {
    pub prompts_dir: PathBuf,
    /// Reasoning strategy, one of `agent::strategy::NAMES` (`cot` by default).
    pub strategy: String,
    /// `rag`: the reference index file (`geoagent index build`).
    pub index: Option<PathBuf>,
    /// `rag`: references retrieved on each side (most and least similar).
    pub rag_k: usize,
    /// `ensemble`: answers sampled from each model.
    pub samples: usize,
    /// `ensemble`: more models (same provider settings) sampled beside `model.name`.
    pub ensemble_models: Vec<String>,
    /// Embedding endpoint (OpenAI-compatible `/embeddings` with image input) for `index build`
    /// and `rag`; absent = the built-in image descriptor.
    pub embedding_url: Option<String>,
    pub embedding_model: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplaySettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address `serve` listens on.
    pub bind: String,
    /// Where `serve` saves the rounds of people who enter a name (human baselines, JSON lines).
    pub human_results: PathBuf,
}

impl Default for GameSettings {
    fn default() -> Self {
        GameSettings {
            map: crate::game::builtin::BUILTIN_MAP_ID.into(),
            rounds: crate::game::DEFAULT_ROUNDS,
            seed: None,
            maps_dir: PathBuf::from("maps"),
        }
    }
}

impl Default for BrowserSettings {
    fn default() -> Self {
        BrowserSettings {
            chromedriver: None,
            chromium: None,
            webdriver_url: None,
            headless: true,
            viewport_width: crate::browser::DEFAULT_VIEWPORT.0,
            viewport_height: crate::browser::DEFAULT_VIEWPORT.1,
        }
    }
}

impl Default for CaptureSettings {
    fn default() -> Self {
        let c = crate::browser::local_game::CaptureOptions::default();
        CaptureSettings {
            headings: c.headings,
            zoom_steps: c.zoom_steps,
            jpeg_quality: c.jpeg_quality,
        }
    }
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            name: None,
            base_url: None,
            api_key: None,
            // Vision answers with a long chain of thought take 20–60 s on hosted models.
            request_timeout_secs: 120.0,
            round_timeout_secs: 300.0,
            max_retries: 4,
            max_tokens: 2000,
            temperature: None,
            image_detail: None,
            reasoning_effort: None,
            thinking_budget: None,
            max_concurrency: crate::lvlm::limit::DEFAULT_MAX_CONCURRENCY,
            requests_per_minute: None,
            cache: true,
            cache_dir: PathBuf::from(crate::lvlm::cache::DEFAULT_CACHE_DIR),
            max_image_side: crate::lvlm::image::DEFAULT_MAX_IMAGE_SIDE,
            image_jpeg_quality: crate::lvlm::image::DEFAULT_IMAGE_JPEG_QUALITY,
            prices: BTreeMap::new(),
            env: ProviderEnv::default(),
        }
    }
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            prompts_dir: PathBuf::from("agent_prompts"),
            strategy: "cot".into(),
            index: None,
            rag_k: crate::agent::strategy::DEFAULT_RAG_K,
            samples: crate::agent::strategy::DEFAULT_SAMPLES,
            ensemble_models: Vec::new(),
            embedding_url: None,
            embedding_model: None,
        }
    }
}

impl Default for ReplaySettings {
    fn default() -> Self {
        ReplaySettings {
            dir: PathBuf::from("replays"),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            human_results: PathBuf::from("data").join(crate::humans::STORE_FILE),
        }
    }
}

/// The model a session talks to, resolved from `model.*`.
#[derive(Debug, Clone)]
pub struct ModelChoice {
    pub kind: ProviderKind,
    /// The canonical prefix of `kind` (`openai`, `anthropic`, ...).
    pub provider: String,
    pub model: String,
    pub base_url: String,
}

impl Settings {
    /// Reads every layer. `file` is `--config` (must exist) or `None` for `./geoagent.toml`
    /// (optional); `env` is the process environment; `flags` are `(key, value)` overrides.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        flags: &[(&str, String)],
    ) -> Result<Settings, ConfigError> {
        use config::{Config, File, FileFormat};
        let (path, required) = match file {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        let file_src = File::from(path.clone())
            .format(FileFormat::Toml)
            .required(required);
        let env_src = env_source(env)?;

        // Each layer is first checked alone, so an error names the layer that caused it.
        let file_err = |e: config::ConfigError| ConfigError::File {
            path: path.display().to_string(),
            detail: e.to_string(),
        };
        Config::builder()
            .add_source(file_src.clone())
            .build()
            .map_err(file_err)?
            .try_deserialize::<Settings>()
            .map_err(file_err)?;
        env_src
            .clone()
            .try_deserialize::<Settings>()
            .map_err(|e| ConfigError::Env(e.to_string()))?;
        let mut flag_builder = Config::builder();
        for (k, v) in flags {
            flag_builder = flag_builder
                .set_override(*k, v.as_str())
                .map_err(|e| ConfigError::Flags(e.to_string()))?;
        }
        flag_builder
            .build()
            .and_then(|c| c.try_deserialize::<Settings>())
            .map_err(|e| ConfigError::Flags(e.to_string()))?;

        let mut all = Config::builder().add_source(file_src).add_source(env_src);
        for (k, v) in flags {
            all = all
                .set_override(*k, v.as_str())
                .map_err(|e| ConfigError::Flags(e.to_string()))?;
        }
        let mut settings: Settings = all
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Flags(e.to_string()))?;
        let set_by = |key: &str, var: &str| {
            flags.iter().any(|(k, _)| *k == key) || env.iter().any(|(k, _)| k == var)
        };
        settings.model.env = ProviderEnv {
            keys: env
                .iter()
                .filter(|(k, v)| PROVIDER_KEY_VARS.contains(&k.as_str()) && !v.trim().is_empty())
                .map(|(k, v)| (k.clone(), SecretString::from(v.trim().to_string())))
                .collect(),
            openai_base_url: env
                .iter()
                .find(|(k, _)| k == "OPENAI_BASE_URL")
                .map(|(_, v)| v.clone()),
            api_key_overridden: set_by("model.api_key", "GEOAGENT_MODEL__API_KEY"),
            base_url_overridden: set_by("model.base_url", "GEOAGENT_MODEL__BASE_URL"),
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key, value: String, problem: &str| ConfigError::Invalid {
            key,
            value,
            problem: problem.into(),
        };
        if !(1..=MAX_ROUNDS).contains(&self.game.rounds) {
            return Err(bad(
                "game.rounds",
                self.game.rounds.to_string(),
                &format!("must be 1..={MAX_ROUNDS}"),
            ));
        }
        if !(1..=MAX_HEADINGS).contains(&self.capture.headings) {
            return Err(bad(
                "capture.headings",
                self.capture.headings.to_string(),
                &format!("must be 1..={MAX_HEADINGS}"),
            ));
        }
        if !(1..=100).contains(&self.capture.jpeg_quality) {
            return Err(bad(
                "capture.jpeg_quality",
                self.capture.jpeg_quality.to_string(),
                "must be 1..=100",
            ));
        }
        if self.capture.zoom_steps > 6 {
            return Err(bad(
                "capture.zoom_steps",
                self.capture.zoom_steps.to_string(),
                "must be 0..=6 (each step zooms 1.5x)",
            ));
        }
        if self.browser.viewport_width < 640 || self.browser.viewport_height < 480 {
            return Err(bad(
                "browser.viewport_width/height",
                format!(
                    "{}x{}",
                    self.browser.viewport_width, self.browser.viewport_height
                ),
                "must be at least 640x480",
            ));
        }
        for (key, v) in [
            (
                "model.request_timeout_secs",
                self.model.request_timeout_secs,
            ),
            ("model.round_timeout_secs", self.model.round_timeout_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(
                    key,
                    v.to_string(),
                    "must be a positive number of seconds",
                ));
            }
        }
        if let Some(t) = self.model.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(bad("model.temperature", t.to_string(), "must be 0..=2"));
            }
        }
        if let Some(e) = &self.model.reasoning_effort {
            if ReasoningEffort::parse(e).is_none() {
                return Err(bad(
                    "model.reasoning_effort",
                    e.clone(),
                    &format!("must be one of {}", ReasoningEffort::NAMES.join(", ")),
                ));
            }
        }
        if let Some(b) = self.model.thinking_budget {
            if b < 1024 {
                return Err(bad(
                    "model.thinking_budget",
                    b.to_string(),
                    "must be at least 1024 tokens (Anthropic's minimum)",
                ));
            }
        }
        if !(1..=MAX_CONCURRENCY_LIMIT).contains(&self.model.max_concurrency) {
            return Err(bad(
                "model.max_concurrency",
                self.model.max_concurrency.to_string(),
                &format!("must be 1..={MAX_CONCURRENCY_LIMIT}"),
            ));
        }
        if self.model.requests_per_minute == Some(0) {
            return Err(bad(
                "model.requests_per_minute",
                "0".into(),
                "must be above zero (leave it out for no limit)",
            ));
        }
        if self.model.max_image_side != 0 && self.model.max_image_side < MIN_IMAGE_SIDE {
            return Err(bad(
                "model.max_image_side",
                self.model.max_image_side.to_string(),
                &format!("must be 0 (no limit) or at least {MIN_IMAGE_SIDE} pixels"),
            ));
        }
        if !(1..=100).contains(&self.model.image_jpeg_quality) {
            return Err(bad(
                "model.image_jpeg_quality",
                self.model.image_jpeg_quality.to_string(),
                "must be 1..=100",
            ));
        }
        for (m, p) in &self.model.prices {
            if !p.is_valid() {
                return Err(bad(
                    "model.prices",
                    m.clone(),
                    "prices must be finite and not negative",
                ));
            }
        }
        if let Some(d) = &self.model.image_detail {
            if !["low", "high", "auto"].contains(&d.as_str()) {
                return Err(bad(
                    "model.image_detail",
                    d.clone(),
                    "must be low, high or auto",
                ));
            }
        }
        if let Some(u) = &self.model.base_url {
            match url::Url::parse(u) {
                Ok(p) if p.scheme() == "http" || p.scheme() == "https" => {}
                _ => {
                    return Err(bad(
                        "model.base_url",
                        u.clone(),
                        "must be an http(s) URL such as https://api.openai.com/v1",
                    ))
                }
            }
        }
        if let Some(u) = &self.browser.webdriver_url {
            if url::Url::parse(u).is_err() {
                return Err(bad(
                    "browser.webdriver_url",
                    u.clone(),
                    "must be a URL such as http://127.0.0.1:4444",
                ));
            }
        }
        if crate::agent::strategy::check_name(&self.agent.strategy).is_err() {
            return Err(bad(
                "agent.strategy",
                self.agent.strategy.clone(),
                &format!(
                    "must be one of {}",
                    crate::agent::strategy::NAMES.join(", ")
                ),
            ));
        }
        if !(1..=crate::agent::strategy::MAX_SAMPLES).contains(&self.agent.samples) {
            return Err(bad(
                "agent.samples",
                self.agent.samples.to_string(),
                &format!("must be 1..={}", crate::agent::strategy::MAX_SAMPLES),
            ));
        }
        if !(1..=crate::index::MAX_K).contains(&self.agent.rag_k) {
            return Err(bad(
                "agent.rag_k",
                self.agent.rag_k.to_string(),
                &format!("must be 1..={}", crate::index::MAX_K),
            ));
        }
        if self.agent.embedding_url.is_some() != self.agent.embedding_model.is_some() {
            return Err(bad(
                "agent.embedding_url/embedding_model",
                format!(
                    "{:?}/{:?}",
                    self.agent.embedding_url, self.agent.embedding_model
                ),
                "set both (an endpoint and its model) or neither (built-in descriptor)",
            ));
        }
        self.model_choice()?;
        Ok(())
    }

    /// The configured model, or `None` for the baseline reasoner.
    pub fn model_choice(&self) -> Result<Option<ModelChoice>, ConfigError> {
        let Some(name) = self
            .model
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        else {
            return Ok(None);
        };
        // Ollama model tags contain ':' too (`llava:13b`), so only a known prefix splits.
        let (kind, model) = match name.split_once(':') {
            Some((p, m)) => match ProviderKind::parse(p) {
                Some(k) => (k, m.to_string()),
                None if p.contains(['.', '/']) || p.is_empty() => {
                    (ProviderKind::OpenAi, name.to_string())
                }
                None => {
                    return Err(ConfigError::Invalid {
                        key: "model.name",
                        value: name.into(),
                        problem: format!(
                            "unknown provider '{p}'; supported: {} (any OpenAI-compatible server: openai with model.base_url)",
                            ProviderKind::PREFIXES.join(", ")
                        ),
                    })
                }
            },
            None => (ProviderKind::OpenAi, name.to_string()),
        };
        let provider = kind.prefix().to_string();
        if model.is_empty() {
            return Err(ConfigError::Invalid {
                key: "model.name",
                value: name.into(),
                problem: "the model name after ':' is empty".into(),
            });
        }
        let openai_env = match kind {
            ProviderKind::OpenAi | ProviderKind::OpenAiResponses => {
                self.model.env.openai_base_url.clone()
            }
            _ => None,
        };
        let base_url = match (&self.model.base_url, openai_env) {
            (Some(u), _) if self.model.env.base_url_overridden => u.clone(),
            (_, Some(env)) => env,
            (Some(u), None) => u.clone(),
            (None, None) => kind.default_base_url().to_string(),
        };
        Ok(Some(ModelChoice {
            kind,
            provider,
            model,
            base_url,
        }))
    }

    /// The API key for `kind`: `GEOAGENT_MODEL__API_KEY` (or a flag) first, then the provider's
    /// own variables (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY` / `GOOGLE_API_KEY`),
    /// then `model.api_key` from the file.
    pub fn api_key_for(&self, kind: ProviderKind) -> Option<SecretString> {
        if self.model.env.api_key_overridden {
            if let Some(k) = &self.model.api_key {
                return Some(k.clone());
            }
        }
        kind.key_env_vars()
            .iter()
            .find_map(|var| {
                self.model
                    .env
                    .keys
                    .iter()
                    .find(|(k, _)| k == var)
                    .map(|(_, v)| v.clone())
            })
            .or_else(|| self.model.api_key.clone())
    }

    /// Whether any provider key is available (for the hint when no model is named).
    pub fn has_any_api_key(&self) -> bool {
        self.model.api_key.is_some() || !self.model.env.keys.is_empty()
    }

    /// Everything [`crate::lvlm::build_provider`] needs, or `None` for the baseline reasoner.
    pub fn provider_spec(&self) -> Result<Option<ProviderSpec>, ConfigError> {
        let Some(choice) = self.model_choice()? else {
            return Ok(None);
        };
        let mut spec = ProviderSpec::new(choice.kind, choice.model, Some(choice.base_url));
        spec.client.api_key = self.api_key_for(choice.kind);
        spec.client.request_timeout = self.request_timeout();
        spec.client.retry = RetryPolicy {
            max_retries: self.model.max_retries,
            ..RetryPolicy::default()
        };
        spec.client.image_detail = self.model.image_detail.clone();
        spec.client.reasoning_effort = self
            .model
            .reasoning_effort
            .as_deref()
            .and_then(ReasoningEffort::parse);
        spec.client.thinking_budget = self.model.thinking_budget;
        spec.limits = LimitConfig {
            max_concurrency: self.model.max_concurrency,
            requests_per_minute: self
                .model
                .requests_per_minute
                .and_then(std::num::NonZeroU32::new),
        };
        spec.cache_dir = self.model.cache.then(|| self.model.cache_dir.clone());
        spec.prices = PriceTable::with_overrides(&self.model.prices);
        spec.image_budget = ImageBudget {
            max_side: self.model.max_image_side,
            jpeg_quality: self.model.image_jpeg_quality,
        };
        Ok(Some(spec))
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.model.request_timeout_secs)
    }

    pub fn round_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.model.round_timeout_secs)
    }
}

/// `GEOAGENT_*` variables (nested with `__`).
fn env_source(env: &[(String, String)]) -> Result<config::Config, ConfigError> {
    // Provider variables (OPENAI_API_KEY, OPENAI_BASE_URL, ...) are not layered here: which one
    // applies depends on the provider chosen, so `Settings::load` keeps them aside.
    let b = config::Config::builder();
    let map: std::collections::HashMap<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}_")))
        .cloned()
        .collect();
    b.add_source(
        config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .source(Some(map)),
    )
    .build()
    .map_err(|e| ConfigError::Env(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn toml(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn defaults_without_any_layer() {
        let s = Settings::load(Some(toml("").path()), &[], &[]).unwrap();
        assert_eq!(s.game.rounds, 5);
        assert_eq!(s.game.map, "world");
        assert_eq!(s.capture.headings, 4);
        assert!(s.model_choice().unwrap().is_none());
    }

    #[test]
    fn precedence_file_env_flags() {
        let f = toml("[game]\nrounds = 7\nmap = \"file-map\"\n[capture]\nheadings = 6\n");
        let e = env(&[
            ("GEOAGENT_GAME__ROUNDS", "9"),
            ("GEOAGENT_GAME__MAP", "env-map"),
        ]);
        let s = Settings::load(Some(f.path()), &e, &[("game.rounds", "3".into())]).unwrap();
        assert_eq!(s.game.rounds, 3, "flag beats env");
        assert_eq!(s.game.map, "env-map", "env beats file");
        assert_eq!(s.capture.headings, 6, "file beats default");
    }

    #[test]
    fn openai_env_ranks_below_geoagent_env() {
        let e = env(&[
            ("OPENAI_API_KEY", "sk-openai"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
            ("GEOAGENT_MODEL__BASE_URL", "http://127.0.0.1:2/v1"),
        ]);
        let s = Settings::load(
            Some(
                toml("[model]\nbase_url = \"http://127.0.0.1:3/v1\"\napi_key = \"sk-file\"").path(),
            ),
            &e,
            &[("model.name", "gpt-4o".into())],
        )
        .unwrap();
        assert_eq!(
            s.api_key_for(ProviderKind::OpenAi).unwrap().expose_secret(),
            "sk-openai",
            "the provider variable beats the file"
        );
        assert_eq!(
            s.model_choice().unwrap().unwrap().base_url,
            "http://127.0.0.1:2/v1"
        );
        let s = Settings::load(
            Some(toml("[model]\napi_key = \"sk-file\"").path()),
            &env(&[
                ("OPENAI_API_KEY", "sk-openai"),
                ("GEOAGENT_MODEL__API_KEY", "sk-geo"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(
            s.api_key_for(ProviderKind::OpenAi).unwrap().expose_secret(),
            "sk-geo"
        );
    }

    #[test]
    fn each_provider_takes_its_own_key_and_base_url() {
        let e = env(&[
            ("OPENAI_API_KEY", "sk-openai"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("GOOGLE_API_KEY", "g-key"),
        ]);
        let load = |name: &str| {
            Settings::load(Some(toml("").path()), &e, &[("model.name", name.into())]).unwrap()
        };
        let s = load("anthropic:claude-sonnet-4-0");
        let c = s.model_choice().unwrap().unwrap();
        assert_eq!(c.kind, ProviderKind::Anthropic);
        assert_eq!(c.base_url, crate::lvlm::anthropic::ANTHROPIC_BASE_URL);
        assert_eq!(
            s.api_key_for(c.kind).unwrap().expose_secret(),
            "sk-ant",
            "never the OpenAI key"
        );
        let s = load("gemini:gemini-2.5-flash");
        assert_eq!(
            s.api_key_for(ProviderKind::Gemini).unwrap().expose_secret(),
            "g-key"
        );
        let s = load("ollama:llava:13b");
        let c = s.model_choice().unwrap().unwrap();
        assert_eq!(
            (c.kind, c.model.as_str()),
            (ProviderKind::Ollama, "llava:13b")
        );
        assert!(s.api_key_for(ProviderKind::Ollama).is_none());
        let s = load("openai-responses:o4-mini");
        let c = s.model_choice().unwrap().unwrap();
        assert_eq!(
            (c.kind, c.base_url.as_str()),
            (ProviderKind::OpenAiResponses, "http://127.0.0.1:1/v1")
        );
        let spec = s.provider_spec().unwrap().unwrap();
        assert!(format!("{spec:?}").contains("[redacted]"));
        assert!(!format!("{spec:?} {s:?}").contains("sk-openai"));
        assert!(!format!("{spec:?} {s:?}").contains("sk-ant"));
    }

    #[test]
    fn model_section_options_are_checked_and_reach_the_spec() {
        let f = toml(
            "[model]\nname = \"gpt-4o\"\nreasoning_effort = \"high\"\nmax_concurrency = 4\n\
             requests_per_minute = 60\ncache = false\nmax_image_side = 512\n\
             [model.prices.\"gpt-4o\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n",
        );
        let s = Settings::load(Some(f.path()), &[], &[]).unwrap();
        let spec = s.provider_spec().unwrap().unwrap();
        assert_eq!(spec.client.reasoning_effort, Some(ReasoningEffort::High));
        assert_eq!(spec.limits.max_concurrency, 4);
        assert_eq!(spec.limits.requests_per_minute.map(|n| n.get()), Some(60));
        assert_eq!(spec.cache_dir, None);
        assert_eq!(spec.image_budget.max_side, 512);
        assert_eq!(spec.prices.lookup("gpt-4o").unwrap().input_per_mtok, 1.0);
        for (toml_text, key) in [
            (
                "[model]\nreasoning_effort = \"max\"",
                "model.reasoning_effort",
            ),
            ("[model]\nmax_concurrency = 0", "model.max_concurrency"),
            ("[model]\nmax_image_side = 10", "model.max_image_side"),
            ("[model]\nthinking_budget = 5", "model.thinking_budget"),
            (
                "[model.prices.x]\ninput_per_mtok = -1.0\noutput_per_mtok = 1.0",
                "model.prices",
            ),
        ] {
            let err = Settings::load(Some(toml(toml_text).path()), &[], &[])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(key), "{err}");
        }
        let s = Settings::load(Some(toml("").path()), &[], &[]).unwrap();
        assert!(s.model.cache, "the cache is on by default");
    }

    #[test]
    fn unknown_key_in_file_names_file_and_key() {
        let f = toml("[game]\nrouds = 3\n");
        let err = Settings::load(Some(f.path()), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(&f.path().display().to_string()), "{err}");
        assert!(err.contains("rouds"), "{err}");
    }

    #[test]
    fn unknown_env_key_is_an_error() {
        let err = Settings::load(
            Some(toml("").path()),
            &env(&[("GEOAGENT_GAME__ROUDS", "3")]),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("environment") && err.contains("rouds"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = Settings::load(Some(toml("[game]\nrounds = 0\n").path()), &[], &[]).unwrap_err();
        assert_eq!(err.to_string(), "game.rounds = 0: must be 1..=50");
        // The game server refuses more than its limit, so config does too (was 100 here).
        let err = Settings::load(Some(toml("[game]\nrounds = 60\n").path()), &[], &[]).unwrap_err();
        assert_eq!(err.to_string(), "game.rounds = 60: must be 1..=50");
        let err =
            Settings::load(Some(toml("[game]\nrounds = \"many\"\n").path()), &[], &[]).unwrap_err();
        assert!(err.to_string().contains("rounds"), "{err}");
        let err = Settings::load(
            Some(toml("").path()),
            &[],
            &[("model.name", "acme:x".into())],
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown provider 'acme'"), "{err}");
        let err = Settings::load(
            Some(toml("").path()),
            &[],
            &[("model.base_url", "ftp://x".into())],
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("model.base_url = ftp://x"),
            "{err}"
        );
    }

    #[test]
    fn missing_explicit_file_is_an_error_but_default_file_is_optional() {
        let err = Settings::load(Some(Path::new("/nonexistent/geo.toml")), &[], &[]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/geo.toml"), "{err}");
    }

    #[test]
    fn model_choice_parses_provider_prefix() {
        let s = Settings::load(
            Some(toml("").path()),
            &[],
            &[("model.name", "openai:gpt-4o".into())],
        )
        .unwrap();
        let c = s.model_choice().unwrap().unwrap();
        assert_eq!(
            (c.provider.as_str(), c.model.as_str(), c.base_url.as_str()),
            ("openai", "gpt-4o", DEFAULT_BASE_URL)
        );
        assert_eq!(c.kind, ProviderKind::OpenAi);
    }

    #[test]
    fn api_key_never_prints() {
        let e = env(&[("OPENAI_API_KEY", "sk-secret-123")]);
        let s = Settings::load(Some(toml("").path()), &e, &[]).unwrap();
        assert!(!format!("{s:?}").contains("sk-secret-123"));
    }
}
