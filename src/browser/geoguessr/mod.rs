//! geoguessr.com as an [`Environment`]: classic games and challenges played with the user's own
//! account in headless Chromium, beside the local game.
//!
//! - [`settings`]: selectors, endpoint paths, timings and pacing, in one overridable struct.
//! - [`target`]: links and tokens, parsed once ([`Token`] is one path segment, always).
//! - [`check`]: `geoguessr check`: every selector, the spinner, the guess map's calibration,
//!   and a report without secrets or coordinates.
//! - [`api`]: the site's JSON API with the `_ncfa` cookie (401 = expired, 429 = wait, reads
//!   retried).
//! - [`state`]: the site's game state parsed without its answer; the truth only after a guess.
//! - [`clock`]: a timed round's deadline from the site's `startTime`.
//! - [`page`]: the game page: hide the HUD, turn the view, capture the canvas, click the
//!   guess map.
//! - [`turn`]: drag or held keys, and the pixels that show a turn happened and how far.
//! - [`game`]: [`SiteGame`], one game round by round: when to read the state, when to pause,
//!   when to ask for the next round, and what the site scored after any failure.
//!
//! The controller alone holds the cookie, the session and every API answer; the agent gets JPEG
//! pixels of the panorama taken between "round loaded" and "guess placed". Multiplayer modes
//! (duels, battle royale, parties, ranked) are refused: playing people with an agent is cheating.

pub mod api;
pub mod check;
pub mod clock;
pub mod game;
pub mod guess_map;
pub mod page;
pub mod settings;
pub mod state;
pub mod target;
pub mod turn;

use super::BrowserError;
pub use game::SiteGame;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
pub use target::{parse_target, Target, Token};
use thiserror::Error;

/// Our own score and the site's may differ by rounding of the distance: more than this is a
/// changed formula or a wrong `maxErrorDistance`, worth a warning.
pub(crate) const SCORE_AGREEMENT_POINTS: u32 = 1;

/// Why playing on geoguessr.com refuses a mode.
pub(crate) const FAIR_PLAY: &str = "geoagent does not play duels, team duels, battle royale, parties, ranked or any other game against people: using an agent there is cheating under GeoGuessr's rules and takes the game from the people you play. Classic games and challenges (played alone, compared afterwards) are supported.";

/// The `_ncfa` session cookie: a secret. Its `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct NcfaCookie(SecretString);

impl NcfaCookie {
    /// Checks the pasted value: not empty, and only characters a cookie value can hold (a
    /// pasted `_ncfa=` prefix is dropped).
    pub fn new(value: &str) -> Result<NcfaCookie, SiteError> {
        let v = value.trim();
        let v = v.strip_prefix("_ncfa=").unwrap_or(v);
        if v.is_empty() {
            return Err(SiteError::Config(
                "the _ncfa cookie is empty: set GEOGUESSR_NCFA or geoguessr.cookie".into(),
            ));
        }
        if v.chars()
            .any(|c| !c.is_ascii_graphic() || matches!(c, ';' | ',' | '"' | '\\'))
        {
            return Err(SiteError::Config(
                "the _ncfa cookie holds characters a cookie value cannot (whitespace, ';', ',', quotes): paste only its value".into(),
            ));
        }
        Ok(NcfaCookie(SecretString::from(v.to_string())))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for NcfaCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NcfaCookie([redacted])")
    }
}

impl std::fmt::Display for NcfaCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What went wrong on the site; every message says what to do.
#[derive(Debug, Error)]
pub enum SiteError {
    #[error("the _ncfa cookie has expired (the site answered 401): paste a fresh _ncfa from your browser into GEOGUESSR_NCFA or geoguessr.cookie; finished rounds are kept in the replay")]
    CookieExpired,
    #[error("{what}: the site asks to wait {wait_secs:.0} s (429); longer than geoguessr.max_retry_after_secs or too many retries: try again later")]
    RateLimited { what: String, wait_secs: f64 },
    #[error("{what}: HTTP {status}: {detail}")]
    Http {
        what: String,
        status: u16,
        detail: String,
    },
    #[error("{what}: {detail}")]
    Network { what: String, detail: String },
    #[error("{0}")]
    State(state::StateProblem),
    #[error("the highscores of challenge {0} are shown only after this account played it")]
    NotPlayed(Token),
    #[error("{0}")]
    Refused(String),
    #[error("selector {key} = {selector:?} matched nothing on the page after {waited:?}; the site may have changed: fix it in the [geoguessr.selectors] section of geoagent.toml (`geoagent geoguessr check` lists every selector)")]
    Selector {
        key: &'static str,
        selector: String,
        waited: Duration,
    },
    #[error("geoguessr: {0}")]
    Config(String),
    #[error("{0}")]
    Page(String),
    #[error(transparent)]
    Browser(#[from] BrowserError),
}

impl SiteError {
    /// Retrying cannot help: the cookie or the site's limits stop the run.
    pub(crate) fn is_fatal(&self) -> bool {
        matches!(
            self,
            SiteError::CookieExpired | SiteError::RateLimited { .. } | SiteError::Refused(_)
        )
    }
}

/// One round's scores side by side: the site's and ours from the map's `maxErrorDistance`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreCheck {
    pub round: usize,
    pub site_points: u32,
    /// Ours; `None` when the map's `maxErrorDistance` could not be read (no scale to score by).
    pub own_points: Option<u32>,
    /// Seconds the site counted for the round (its `time`), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_time_s: Option<f64>,
    /// The site ran out the round's time limit before the guess arrived.
    #[serde(default)]
    pub timed_out: bool,
    /// A map guess: how far the point the site received lies from the point meant, in
    /// guess-map pixels and km (`None` for an API guess).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_drift_px: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_drift_km: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_never_prints() {
        let c = NcfaCookie::new(" _ncfa=abcDEF123%2Bxyz ").unwrap();
        assert_eq!(c.expose(), "abcDEF123%2Bxyz");
        assert!(!format!("{c:?}{c}").contains("abc"));
        let e = NcfaCookie::new("ab cd-secret").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
        assert!(NcfaCookie::new("  ").is_err());
    }
}
