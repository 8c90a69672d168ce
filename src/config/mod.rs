//! Layered configuration: built-in defaults < `geoagent.toml` < environment (`GEOAGENT_*`, plus
//! the providers' usual `OPENAI_API_KEY` / `OPENAI_BASE_URL`, `ANTHROPIC_API_KEY`,
//! `GEMINI_API_KEY` / `GOOGLE_API_KEY`) < command-line flags. Read and validated once; every error
//! names the key and the layer it came from. Secrets never print.

mod load;
mod sections;
mod site;
mod strict;
#[cfg(test)]
mod tests;
mod validate;

pub use load::{InFlight, ModelChoice};
pub use sections::{
    AgentSettings, BrowserSettings, CaptureSettings, GameSettings, GeoGuessrSettings,
    ModelSettings, ProviderEnv, ReplaySettings, ServerSettings, Settings,
};

use thiserror::Error;

/// The config file read from the working directory when `--config` is not given.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "geoagent.toml";
/// Prefix of environment variables; nested keys use `__` (`GEOAGENT_GAME__ROUNDS=3`).
pub(crate) const ENV_PREFIX: &str = "GEOAGENT";
/// Upper bound on rounds per game: the game's own limit, so a value that passes here is one
/// the game server accepts.
pub use crate::game::MAX_ROUNDS;
/// Upper bound on views per round: each view is an image the model pays for.
pub(crate) const MAX_HEADINGS: usize = 16;
/// Environment variables read as provider API keys (see [`crate::lvlm::ProviderKind::key_env_vars`]).
pub(crate) const PROVIDER_KEY_VARS: [&str; 4] = [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
];
/// The `_ncfa` cookie for geoguessr.com, as users paste it.
pub(crate) const NCFA_VAR: &str = "GEOGUESSR_NCFA";

/// Longest request or round timeout accepted (s): a day. Longer is a typo, and larger values
/// (`1e20`) cannot be held by a `Duration` at all.
pub(crate) const MAX_TIMEOUT_SECS: f64 = 86_400.0;
/// Shortest model request or round timeout accepted (s): no model answers sooner, and a smaller
/// value (`1e-10`) rounds to a zero `Duration`, which would read as "no timeout".
pub(crate) const MIN_TIMEOUT_SECS: f64 = 0.1;

/// What went wrong reading the settings; every message names the layer or the key, and no
/// message carries a secret (see `load::Secrets`).
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
