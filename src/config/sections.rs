//! The settings sections as they appear in `geoagent.toml` (`[game]`, `[browser]`, `[capture]`,
//! `[model]`, `[agent]`, `[replay]`, `[server]`, `[geoguessr]`) and their built-in defaults.

use crate::agent::strategy::StrategyKind;
use crate::lvlm::cost::Price;
use crate::lvlm::{ImageDetail, ReasoningEffort};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// File name of the challenge key, beside the people's results by default.
pub(crate) const CHALLENGE_KEY_FILE: &str = "server-secret";

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
    pub geoguessr: GeoGuessrSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GameSettings {
    /// Map id: "world" (built in) or the id of a pack under `maps_dir`.
    pub map: String,
    #[serde(deserialize_with = "super::strict::whole")]
    pub rounds: usize,
    /// Challenge seed; random when absent (and then printed, so the game can be shared).
    #[serde(deserialize_with = "super::strict::whole_opt")]
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
    /// `HOST[:PORT]` at which browsers on other machines (Grid nodes) reach the local game; set,
    /// the game listens on every interface. Absent: loopback only.
    pub advertise: Option<String>,
    #[serde(deserialize_with = "super::strict::flag")]
    pub headless: bool,
    #[serde(deserialize_with = "super::strict::whole")]
    pub viewport_width: u32,
    #[serde(deserialize_with = "super::strict::whole")]
    pub viewport_height: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureSettings {
    #[serde(deserialize_with = "super::strict::whole")]
    pub headings: usize,
    #[serde(deserialize_with = "super::strict::whole")]
    pub zoom_steps: u32,
    #[serde(deserialize_with = "super::strict::whole")]
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
    #[serde(deserialize_with = "super::strict::whole")]
    pub max_retries: u32,
    #[serde(deserialize_with = "super::strict::whole")]
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// OpenAI image detail: low, high or auto.
    pub image_detail: Option<ImageDetail>,
    /// minimal, low, medium or high: `reasoning_effort` (OpenAI), a thinking budget (Anthropic,
    /// Gemini), `think` (Ollama).
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Exact thinking tokens for Anthropic / Gemini (overrides the effort's budget).
    #[serde(deserialize_with = "super::strict::whole_opt")]
    pub thinking_budget: Option<u32>,
    /// Calls in flight at once to this provider; absent = as many as the run asks for
    /// (`bench --concurrency`, `play --parallel`, at least
    /// [`crate::lvlm::limit::DEFAULT_MAX_CONCURRENCY`]): see [`super::Settings::follow_concurrency`].
    #[serde(deserialize_with = "super::strict::whole_opt")]
    pub max_concurrency: Option<usize>,
    /// Calls started per minute (spread evenly); absent = no client-side limit.
    #[serde(deserialize_with = "super::strict::whole_opt")]
    pub requests_per_minute: Option<u32>,
    /// Answer repeated requests from the response cache (`--no-cache` turns it off).
    #[serde(deserialize_with = "super::strict::flag")]
    pub cache: bool,
    pub cache_dir: PathBuf,
    /// Views larger than this (long side, pixels) are scaled down before sending; 0 = never.
    #[serde(deserialize_with = "super::strict::whole")]
    pub max_image_side: u32,
    /// JPEG quality of scaled-down views.
    #[serde(deserialize_with = "super::strict::whole")]
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
    pub(super) keys: Vec<(String, SecretString)>,
    pub(super) openai_base_url: Option<String>,
    pub(super) api_key_overridden: bool,
    pub(super) base_url_overridden: bool,
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
    /// Reasoning strategy (`cot` by default).
    pub strategy: StrategyKind,
    /// `rag`: the reference index file (`geoagent index build`).
    pub index: Option<PathBuf>,
    /// `rag`: references retrieved on each side (most and least similar).
    #[serde(deserialize_with = "super::strict::whole")]
    pub rag_k: usize,
    /// `ensemble`: answers sampled from each model.
    #[serde(deserialize_with = "super::strict::whole")]
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
    /// The secret that picks each challenge's places (created on first use, mode 0600); `serve`,
    /// `play` and `bench` share it so an agent and people get the same places for a challenge.
    pub challenge_key: PathBuf,
    /// Host names `serve` answers to besides its own addresses (e.g. `mypc.local` for people on
    /// the LAN); requests naming any other host are refused (DNS rebinding).
    pub allow_hosts: Vec<String>,
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
            advertise: None,
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
            max_concurrency: None,
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
            strategy: StrategyKind::default(),
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
            challenge_key: PathBuf::from("data").join(CHALLENGE_KEY_FILE),
            allow_hosts: Vec::new(),
        }
    }
}

/// `[geoguessr]`: playing on geoguessr.com. Every value has a default (see
/// `browser::geoguessr::settings` and README "Playing on geoguessr.com"); selectors and endpoint
/// paths are there so a user can follow a site change without a new release.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoGuessrSettings {
    /// The `_ncfa` session cookie's value (a secret; `GEOGUESSR_NCFA` beats it).
    pub cookie: Option<SecretString>,
    /// Default `https://www.geoguessr.com`.
    pub base_url: String,
    /// `map` (click the guess map, default) or `api` (post the guess).
    pub guess_via: crate::browser::geoguessr::settings::GuessVia,
    /// No moving (default false).
    #[serde(deserialize_with = "super::strict::flag")]
    pub forbid_moving: bool,
    /// No zooming (default false).
    #[serde(deserialize_with = "super::strict::flag")]
    pub forbid_zooming: bool,
    /// No panning (default false); with the other two: NMPZ, one view.
    #[serde(deserialize_with = "super::strict::flag")]
    pub forbid_rotating: bool,
    /// Seconds per round, 0 = none (default 0).
    #[serde(deserialize_with = "super::strict::whole")]
    pub time_limit_secs: u32,
    /// Default 30.
    pub request_timeout_secs: f64,
    /// Longest Retry-After waited out (s); default 120.
    pub max_retry_after_secs: f64,
    /// Default 3.
    #[serde(deserialize_with = "super::strict::whole")]
    pub max_rate_limit_retries: u32,
    /// Default 45.
    pub round_ready_timeout_secs: f64,
    /// Default 20.
    pub result_timeout_secs: f64,
    /// Holding the turn key this long turns the view about 90° (ms); default 1000.
    #[serde(deserialize_with = "super::strict::whole")]
    pub turn_hold_ms: u64,
    /// `drag` (default: the panorama is dragged, how far a pixel turns measured in round 1) or `keys` (a held key per 90°: slower).
    pub turning: crate::browser::geoguessr::turn::Turning,
    /// `deltaY` of one wheel notch when zooming the panorama (px); default 100.
    #[serde(deserialize_with = "super::strict::whole")]
    pub wheel_step_px: u32,
    /// Pause after each wheel notch (ms); default 300.
    #[serde(deserialize_with = "super::strict::whole")]
    pub wheel_pause_ms: u64,
    /// Pause after each round (s); default 3.
    pub round_pause_secs: f64,
    /// Pause between games (s); default 60.
    pub game_pause_secs: f64,
    /// Games started per rolling hour per account; default 4.
    #[serde(deserialize_with = "super::strict::whole")]
    pub max_games_per_hour: u32,
    /// Default 200.
    #[serde(deserialize_with = "super::strict::whole")]
    pub max_highscore_pages: u32,
    /// The pin must land this close to the click (px); default 3.
    pub pin_tolerance_px: f64,
    /// With `time_limit_secs`, the guess is placed this long before the limit (s); default 5.
    pub time_limit_margin_secs: f64,
    pub endpoints: crate::browser::geoguessr::settings::Endpoints,
    pub selectors: crate::browser::geoguessr::settings::Selectors,
    /// Read from `GEOGUESSR_NCFA` by [`Settings::load`].
    #[serde(skip)]
    pub env_cookie: Option<SecretString>,
}

impl Default for GeoGuessrSettings {
    fn default() -> Self {
        use crate::browser::geoguessr::settings as s;
        GeoGuessrSettings {
            cookie: None,
            base_url: s::DEFAULT_BASE_URL.into(),
            guess_via: Default::default(),
            forbid_moving: false,
            forbid_zooming: false,
            forbid_rotating: false,
            time_limit_secs: 0,
            request_timeout_secs: s::DEFAULT_REQUEST_TIMEOUT_SECS,
            max_retry_after_secs: s::DEFAULT_MAX_RETRY_AFTER_SECS,
            max_rate_limit_retries: s::DEFAULT_MAX_RATE_LIMIT_RETRIES,
            round_ready_timeout_secs: s::DEFAULT_ROUND_READY_TIMEOUT_SECS,
            result_timeout_secs: s::DEFAULT_RESULT_TIMEOUT_SECS,
            turn_hold_ms: s::DEFAULT_TURN_HOLD_MS,
            turning: Default::default(),
            wheel_step_px: s::DEFAULT_WHEEL_STEP_PX,
            wheel_pause_ms: s::DEFAULT_WHEEL_PAUSE_MS,
            round_pause_secs: s::DEFAULT_ROUND_PAUSE_SECS,
            game_pause_secs: s::DEFAULT_GAME_PAUSE_SECS,
            max_games_per_hour: s::DEFAULT_MAX_GAMES_PER_HOUR,
            max_highscore_pages: s::DEFAULT_MAX_HIGHSCORE_PAGES,
            pin_tolerance_px: s::DEFAULT_PIN_TOLERANCE_PX,
            time_limit_margin_secs: s::DEFAULT_TIME_LIMIT_MARGIN_SECS,
            endpoints: Default::default(),
            selectors: Default::default(),
            env_cookie: None,
        }
    }
}
