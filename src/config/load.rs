//! Reading the layers (defaults < file < `GEOAGENT_*` < flags) into [`Settings`], with every
//! error redacted, and resolving the model, its key and the provider options from them.

use super::sections::ProviderEnv;
use super::{
    ConfigError, Settings, DEFAULT_CONFIG_FILE, ENV_PREFIX, MAX_TIMEOUT_SECS, PROVIDER_KEY_VARS,
};
use crate::lvlm::cost::PriceTable;
use crate::lvlm::image::ImageBudget;
use crate::lvlm::limit::LimitConfig;
use crate::lvlm::retry::RetryPolicy;
use crate::lvlm::{ProviderKind, ProviderSpec};
use secrecy::SecretString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The model a session talks to, resolved from `model.*`.
#[derive(Debug, Clone)]
pub struct ModelChoice {
    pub kind: ProviderKind,
    /// The canonical prefix of `kind` (`openai`, `anthropic`, ...).
    pub provider: String,
    pub model: String,
    pub base_url: String,
}

/// The model calls a run may have in flight, against what it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// Rounds or games the run asked to play at once.
    pub requested: usize,
    /// The provider's in-flight limit.
    pub limit: usize,
}

impl InFlight {
    /// The limit, when it is lower than what the run asked for (so the run should say so).
    pub fn capped(&self) -> Option<usize> {
        (self.limit < self.requested).then_some(self.limit)
    }
}

impl Settings {
    /// Reads every layer. `file` is `--config` (must exist) or `None` for `./geoagent.toml`
    /// (optional); `env` is the process environment; `flags` are `(key, value)` overrides.
    ///
    /// Every error passes through redaction: a TOML error quotes the offending line, and that
    /// line may be `api_key = ...`.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        flags: &[(&str, String)],
    ) -> Result<Settings, ConfigError> {
        let (path, required) = match file {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        // Read only to learn which secrets to hide; the config crate reads the file itself.
        let file_text = std::fs::read_to_string(&path).ok();
        let secrets = Secrets::gather(file_text.as_deref(), env, flags);
        Self::load_layers(path, required, env, flags).map_err(|e| e.redacted(&secrets))
    }

    fn load_layers(
        path: PathBuf,
        required: bool,
        env: &[(String, String)],
        flags: &[(&str, String)],
    ) -> Result<Settings, ConfigError> {
        use config::{Config, File, FileFormat};
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
        settings.geoguessr.env_cookie = env
            .iter()
            .find(|(k, v)| k == super::NCFA_VAR && !v.trim().is_empty())
            .map(|(_, v)| SecretString::from(v.trim().to_string()));
        settings.validate()?;
        Ok(settings)
    }

    /// The configured model, or `None` for the baseline reasoner.
    pub(crate) fn model_choice(&self) -> Result<Option<ModelChoice>, ConfigError> {
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
    pub(crate) fn api_key_for(&self, kind: ProviderKind) -> Option<SecretString> {
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
    pub(crate) fn has_any_api_key(&self) -> bool {
        self.model.api_key.is_some() || !self.model.env.keys.is_empty()
    }

    /// Everything [`crate::lvlm::build_provider`] needs, or `None` for the baseline reasoner.
    pub(crate) fn provider_spec(&self) -> Result<Option<ProviderSpec>, ConfigError> {
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
        spec.client.image_detail = self.model.image_detail;
        spec.client.reasoning_effort = self.model.reasoning_effort;
        spec.client.thinking_budget = self.model.thinking_budget;
        spec.limits = LimitConfig {
            max_concurrency: self
                .model
                .max_concurrency
                .unwrap_or(crate::lvlm::limit::DEFAULT_MAX_CONCURRENCY),
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

    /// Makes the provider's in-flight limit follow a run that asks for `requested` rounds or
    /// games at once (`bench --concurrency`, `play --parallel`): when `model.max_concurrency`
    /// was not set, the limit becomes `requested` (never below the default, which ensemble
    /// strategies' extra calls per round use). A limit the user set is kept, even when lower:
    /// it usually mirrors the provider account's cap. Returns what the run gets.
    pub(crate) fn follow_concurrency(&mut self, requested: usize) -> InFlight {
        use crate::lvlm::limit::{DEFAULT_MAX_CONCURRENCY, MAX_CONCURRENCY_LIMIT};
        let limit = match self.model.max_concurrency {
            Some(set) => set,
            None => requested.clamp(DEFAULT_MAX_CONCURRENCY, MAX_CONCURRENCY_LIMIT),
        };
        self.model.max_concurrency = Some(limit);
        InFlight { requested, limit }
    }

    pub fn request_timeout(&self) -> Duration {
        seconds(self.model.request_timeout_secs)
    }

    pub fn round_timeout(&self) -> Duration {
        seconds(self.model.round_timeout_secs)
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

/// A timeout from validated seconds; never panics, even on settings built without
/// [`Settings::validate`] (out-of-range values become the longest timeout allowed).
fn seconds(secs: f64) -> Duration {
    let max = Duration::from_secs_f64(MAX_TIMEOUT_SECS);
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero() && *d <= max)
        .unwrap_or(max)
}

/// Shortest value treated as a secret when redacting: shorter ones would blank out ordinary
/// words and numbers in messages, and are no credential anyway.
const MIN_SECRET_CHARS: usize = 4;
/// What a secret is replaced with in messages.
const REDACTED: &str = "[redacted]";

/// Whether a key or variable name holds a secret: `api_key` and any other `*_key`, cookies,
/// tokens, passwords and secrets (`max_tokens` is a count, not a token).
fn is_secret_name(name: &str) -> bool {
    let n = name
        .trim()
        .trim_matches(['"', '\'', '[', ']'])
        .to_ascii_lowercase();
    ["key", "cookie", "token", "secret", "password", "ncfa"]
        .iter()
        .any(|s| n.ends_with(s))
}

/// One `name = value` of TOML text as written, found without parsing (the text may not parse):
/// the value runs to the end of its string (to the end of the line for an unclosed `"`, of the
/// text for an unclosed `"""`), else to the next `,`, `}`, `#` or line end. Inline tables
/// (`model = { api_key = "…", name = }`) give one assignment per pair.
struct Assignment<'a> {
    name: &'a str,
    /// Byte range of the value in the text.
    value: std::ops::Range<usize>,
}

/// Every assignment in `text` (see [`Assignment`]), in order.
fn assignments(text: &str) -> Vec<Assignment<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Where the current key may start: after a line start, `{` or `,`.
    let mut key_start = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'{' | b',' => {
                key_start = i + 1;
                i += 1;
            }
            // A quoted key, or a string where no assignment is expected: skip it whole.
            b'"' | b'\'' => i = string_end(text, i),
            b'#' => i = text[i..].find('\n').map_or(bytes.len(), |n| i + n),
            b'=' => {
                let name = text[key_start..i].trim();
                let mut v = i + 1;
                while v < bytes.len() && (bytes[v] == b' ' || bytes[v] == b'\t') {
                    v += 1;
                }
                let end = match bytes.get(v) {
                    // An inline table or array: its own pairs are found as the scan goes on.
                    Some(b'{' | b'[') => {
                        i = v;
                        continue;
                    }
                    Some(b'"' | b'\'') => string_end(text, v),
                    _ => text[v..]
                        .find([',', '}', '#', '\n'])
                        .map_or(bytes.len(), |n| v + n),
                };
                out.push(Assignment {
                    name,
                    value: v..end,
                });
                key_start = end;
                i = end.max(i + 1);
            }
            _ => i += 1,
        }
    }
    out
}

/// Where the TOML string starting at `start` (a quote) ends: after its closing quote, at the end
/// of the line for an unclosed one-line string, at the end of the text for an unclosed
/// multi-line one. Basic strings (`"`) have backslash escapes; literal ones (`'`) do not.
fn string_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let quote = bytes[start];
    let delimiter = if quote == b'"' { "\"\"\"" } else { "'''" };
    let triple = text[start..].starts_with(delimiter);
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' && quote == b'"' {
            i += 2;
            continue;
        }
        if b == b'\n' && !triple {
            return i;
        }
        if b == quote && (!triple || text[i..].starts_with(delimiter)) {
            return i + if triple { 3 } else { 1 };
        }
        i += 1;
    }
    bytes.len()
}

/// The last part of a dotted or quoted key (`model.api_key`, `"api_key"`).
fn key_leaf(name: &str) -> &str {
    name.split(['.', ' ', '\t', '|'])
        .rfind(|p| !p.is_empty())
        .unwrap_or("")
}

/// The secret values that may reach an error message while the layers are read: values of
/// secret keys in the file (as written, even when the line does not parse, inline tables
/// included), in `GEOAGENT_*` and provider variables, and in flags.
#[derive(Default)]
pub(super) struct Secrets(Vec<String>);

impl Secrets {
    pub(super) fn gather(
        file_text: Option<&str>,
        env: &[(String, String)],
        flags: &[(&str, String)],
    ) -> Secrets {
        let mut found = Vec::new();
        let text = file_text.unwrap_or("");
        for a in assignments(text) {
            if is_secret_name(key_leaf(a.name)) {
                let raw = text[a.value].trim();
                found.push(raw.to_string());
                found.push(raw.trim_matches(['"', '\'']).trim().to_string());
                // Each line of a multi-line value too: an error quotes one line.
                found.extend(
                    raw.lines()
                        .map(|l| l.trim().trim_matches(['"', '\'']).trim().to_string()),
                );
            }
        }
        found.extend(
            env.iter()
                .filter(|(k, _)| is_secret_name(k))
                .map(|(_, v)| v.trim().to_string()),
        );
        found.extend(
            flags
                .iter()
                .filter(|(k, _)| is_secret_name(k))
                .map(|(_, v)| v.trim().to_string()),
        );
        found.retain(|s| s.chars().count() >= MIN_SECRET_CHARS);
        // Longest first, so a value is never half-replaced by a shorter one inside it.
        found.sort_by_key(|s| std::cmp::Reverse(s.len()));
        found.dedup();
        Secrets(found)
    }

    /// `text` with every known secret value replaced by `[redacted]`, and on every line that
    /// quotes a `secret_key = ...` (TOML parse errors show the offending line; inline tables
    /// included) everything after that `=`.
    pub(super) fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            out = out.replace(s.as_str(), REDACTED);
        }
        out.split_inclusive('\n')
            .map(|line| {
                let body = line.trim_end_matches('\n');
                let newline = &line[body.len()..];
                match assignments(body)
                    .into_iter()
                    .find(|a| is_secret_name(key_leaf(a.name)))
                {
                    Some(a) => format!("{} {REDACTED}{newline}", body[..a.value.start].trim_end()),
                    None => line.to_string(),
                }
            })
            .collect()
    }
}

impl ConfigError {
    /// The same error with every secret in its text replaced (see [`Secrets::redact`]).
    pub(super) fn redacted(self, secrets: &Secrets) -> ConfigError {
        match self {
            ConfigError::File { path, detail } => ConfigError::File {
                path,
                detail: secrets.redact(&detail),
            },
            ConfigError::Env(s) => ConfigError::Env(secrets.redact(&s)),
            ConfigError::Flags(s) => ConfigError::Flags(secrets.redact(&s)),
            ConfigError::Invalid {
                key,
                value,
                problem,
            } => ConfigError::Invalid {
                key,
                value: secrets.redact(&value),
                problem: secrets.redact(&problem),
            },
        }
    }
}
