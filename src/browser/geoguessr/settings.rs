//! Everything about geoguessr.com that may change without notice, in one plain struct the
//! `[geoguessr]` config section fills: the site's address, API paths, CSS selectors, timings and
//! pacing. Each default is the value last seen in the public tools listed in GEOGUESSR.md; a user
//! fixes a renamed selector or path in `geoagent.toml` without a new release.

use serde::Deserialize;
use std::time::Duration;

/// The real site. Tests point `geoguessr.base_url` at a replica on 127.0.0.1.
pub(crate) const DEFAULT_BASE_URL: &str = "https://www.geoguessr.com";
/// Longest `Retry-After` honoured (s): a longer one fails with an error saying how long the
/// site asked to wait, instead of hanging a run for hours.
pub(crate) const DEFAULT_MAX_RETRY_AFTER_SECS: f64 = 120.0;
/// Retries of one API call after a 429 before giving up.
pub(crate) const DEFAULT_MAX_RATE_LIMIT_RETRIES: u32 = 3;
/// One API call; the site answers in well under a second, a slow link in a few.
pub(crate) const DEFAULT_REQUEST_TIMEOUT_SECS: f64 = 30.0;
/// A round's panorama loads in 1–5 s on the real site (Google's tiles); generous for slow links.
pub(crate) const DEFAULT_ROUND_READY_TIMEOUT_SECS: f64 = 45.0;
/// Holding a turn key this long turns about one step on the site (peers: ~1 s per step).
pub(crate) const DEFAULT_TURN_HOLD_MS: u64 = 1000;
/// One wheel notch in Chromium (CSS px of `deltaY`): the small step a person's mouse wheel
/// makes. Each zoom step of `capture.zoom_steps` is one notch.
pub(crate) const DEFAULT_WHEEL_STEP_PX: u32 = 100;
/// Pause between wheel notches (ms): Street View animates each zoom step, and peers zoom in
/// small steps with pauses rather than one big scroll.
pub(crate) const DEFAULT_WHEEL_PAUSE_MS: u64 = 300;
/// The site scores a guess and shows the result in ~1 s; polls of the game state stop here.
pub(crate) const DEFAULT_RESULT_TIMEOUT_SECS: f64 = 20.0;
/// Pause between rounds (s): people take at least this long to close the result screen.
pub(crate) const DEFAULT_ROUND_PAUSE_SECS: f64 = 3.0;
/// Pause between games (s): peers wait minutes between challenges.
pub(crate) const DEFAULT_GAME_PAUSE_SECS: f64 = 60.0;
/// Games started per rolling hour per account, at most (peers throttle to a few an hour).
pub(crate) const DEFAULT_MAX_GAMES_PER_HOUR: u32 = 4;
/// Highscores pages fetched per challenge at most (26 players a page: ~5,200 players).
pub(crate) const DEFAULT_MAX_HIGHSCORE_PAGES: u32 = 200;
/// Players per highscores page (the site's own page size).
pub(crate) const DEFAULT_HIGHSCORES_LIMIT: u32 = 26;
/// The guess pin must land this close (in guess-map pixels) to the pixel clicked, and the point
/// the site received this close to the point meant (its drift).
pub(crate) const DEFAULT_PIN_TOLERANCE_PX: f64 = 3.0;
/// With a time limit, the guess is due this many seconds before it runs out.
pub(crate) const DEFAULT_TIME_LIMIT_MARGIN_SECS: f64 = 5.0;

/// How the guess reaches the site.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::VariantArray,
)]
#[serde(try_from = "String")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum GuessVia {
    /// A real click on the guess map, then the Guess button (what a person does).
    #[default]
    Map,
    /// `POST /api/v3/games/{token}` from the controller (exact; the page is reloaded after).
    Api,
}

impl TryFrom<String> for GuessVia {
    type Error = crate::text::UnknownName;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        crate::text::closed_name(&name)
    }
}

/// API paths under `base_url` (`{token}` and `{id}` are filled in).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Endpoints {
    /// 401 when the cookie is missing or expired. Default `/api/v3/profiles`.
    pub profiles: String,
    /// POST creates a classic game. Default `/api/v3/games`.
    pub games: String,
    /// GET reads, POST guesses. Default `/api/v3/games/{token}`.
    pub game: String,
    /// POST `{}` joins a challenge. Default `/api/v3/challenges/{token}`.
    pub challenge: String,
    /// Default `/api/v3/results/highscores/{token}`.
    pub highscores: String,
    /// The map's `maxErrorDistance` and bounds. Default `/api/maps/{id}`.
    pub map: String,
    /// The game page. Default `/game/{token}`.
    pub game_page: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            profiles: "/api/v3/profiles".into(),
            games: "/api/v3/games".into(),
            game: "/api/v3/games/{token}".into(),
            challenge: "/api/v3/challenges/{token}".into(),
            highscores: "/api/v3/results/highscores/{token}".into(),
            map: "/api/maps/{id}".into(),
            game_page: "/game/{token}".into(),
        }
    }
}

/// CSS selectors of the game page. Hashed CSS-module classes change per build: match them by
/// prefix (`[class^="guess-map_canvas__"]`), never by the full name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Selectors {
    /// The panorama canvas: Google's WebGL scene (`widget-scene-canvas`, the newer
    /// `mapsConsumerUiSceneCoreScene__canvas`) or another provider's; the first one shown counts.
    pub panorama: String,
    /// On screen while the round loads: matched by prefixes of every spinner class the site
    /// uses (`fullscreen-spinner_root__…` and others), anywhere in an element's class list.
    pub spinner: String,
    /// The guess map container (hidden while capturing, clicked to guess).
    pub guess_map: String,
    /// The Google logo link on the guess map, whose `href` carries its current view
    /// (`ll=LAT,LNG&z=ZOOM`): the click's projection is read from it, however the map is drawn.
    pub map_view_link: String,
    /// The placed guess pin, read back after the click.
    pub guess_pin: String,
    /// The Guess button.
    pub guess_button: String,
    /// Closes the round's result screen.
    pub close_round_result: String,
    /// Everything hidden by injected CSS before any capture: HUD, compass, Google's controls
    /// and attribution (a comma-separated selector list).
    pub hide: String,
}

impl Default for Selectors {
    fn default() -> Self {
        Selectors {
            panorama: "[data-qa=\"panorama\"] canvas.widget-scene-canvas, [data-qa=\"panorama\"] canvas.mapsConsumerUiSceneCoreScene__canvas, [data-qa=\"panorama\"] canvas".into(),
            spinner: "[class*=\"spinner_\"], [class*=\"spinner-\"], [class*=\"-spinner\"], [class*=\"_spinner\"]".into(),
            guess_map: "[data-qa=\"guess-map\"]".into(),
            map_view_link: "[data-qa=\"guess-map\"] a[href*=\"ll=\"][href*=\"z=\"]".into(),
            guess_pin: "[data-qa=\"guess-map\"] [class^=\"map-pin_\"], [data-qa=\"guess-map\"] [class*=\" map-pin_\"]".into(),
            guess_button: "[data-qa=\"perform-guess\"]".into(),
            close_round_result: "[data-qa=\"close-round-result\"]".into(),
            hide: "[data-qa=\"compass\"], [class^=\"panorama-compass_\"], [class^=\"game_status__\"], [class^=\"game-layout__status\"], [data-qa=\"round-number\"], [data-qa=\"pano-zoom-in\"], [data-qa=\"pano-zoom-out\"], .gmnoprint, .gm-style-cc, a[href*=\"google\"]".into(),
        }
    }
}

impl Selectors {
    /// Every selector with its config key, for `geoguessr check` and error messages.
    pub fn named(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("geoguessr.selectors.panorama", &self.panorama),
            ("geoguessr.selectors.spinner", &self.spinner),
            ("geoguessr.selectors.guess_map", &self.guess_map),
            ("geoguessr.selectors.map_view_link", &self.map_view_link),
            ("geoguessr.selectors.guess_pin", &self.guess_pin),
            ("geoguessr.selectors.guess_button", &self.guess_button),
            (
                "geoguessr.selectors.close_round_result",
                &self.close_round_result,
            ),
            ("geoguessr.selectors.hide", &self.hide),
        ]
    }
}

/// Everything the geoguessr.com adapter needs besides the cookie.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    /// `https://www.geoguessr.com` (no trailing slash).
    pub base_url: String,
    pub endpoints: Endpoints,
    pub selectors: Selectors,
    pub guess_via: GuessVia,
    pub request_timeout: Duration,
    pub max_retry_after: Duration,
    pub max_rate_limit_retries: u32,
    pub round_ready_timeout: Duration,
    pub result_timeout: Duration,
    pub turn_hold: Duration,
    /// Drag the panorama or hold the turn key.
    pub turning: super::turn::Turning,
    /// `deltaY` of one wheel notch (CSS px).
    pub wheel_step_px: u32,
    /// Pause after each wheel notch.
    pub wheel_pause: Duration,
    pub round_pause: Duration,
    pub game_pause: Duration,
    pub max_games_per_hour: u32,
    pub max_highscore_pages: u32,
    pub highscores_limit: u32,
    pub pin_tolerance_px: f64,
    /// With a time limit, the guess is due this long before it runs out (clicking the map and
    /// the site's round trip take time); the model gets the rest.
    pub time_limit_margin: Duration,
}

impl Default for SiteOptions {
    fn default() -> Self {
        SiteOptions {
            base_url: DEFAULT_BASE_URL.into(),
            endpoints: Endpoints::default(),
            selectors: Selectors::default(),
            guess_via: GuessVia::Map,
            request_timeout: Duration::from_secs_f64(DEFAULT_REQUEST_TIMEOUT_SECS),
            max_retry_after: Duration::from_secs_f64(DEFAULT_MAX_RETRY_AFTER_SECS),
            max_rate_limit_retries: DEFAULT_MAX_RATE_LIMIT_RETRIES,
            round_ready_timeout: Duration::from_secs_f64(DEFAULT_ROUND_READY_TIMEOUT_SECS),
            result_timeout: Duration::from_secs_f64(DEFAULT_RESULT_TIMEOUT_SECS),
            turn_hold: Duration::from_millis(DEFAULT_TURN_HOLD_MS),
            turning: super::turn::Turning::default(),
            wheel_step_px: DEFAULT_WHEEL_STEP_PX,
            wheel_pause: Duration::from_millis(DEFAULT_WHEEL_PAUSE_MS),
            round_pause: Duration::from_secs_f64(DEFAULT_ROUND_PAUSE_SECS),
            game_pause: Duration::from_secs_f64(DEFAULT_GAME_PAUSE_SECS),
            max_games_per_hour: DEFAULT_MAX_GAMES_PER_HOUR,
            max_highscore_pages: DEFAULT_MAX_HIGHSCORE_PAGES,
            highscores_limit: DEFAULT_HIGHSCORES_LIMIT,
            pin_tolerance_px: DEFAULT_PIN_TOLERANCE_PX,
            time_limit_margin: Duration::from_secs_f64(DEFAULT_TIME_LIMIT_MARGIN_SECS),
        }
    }
}

impl SiteOptions {
    /// `base_url` + the path `template` with `{token}`/`{id}` replaced by `value`
    /// (percent-encoded: a token comes from a URL the user pasted).
    pub fn url(&self, template: &str, value: &str) -> String {
        let enc: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        format!(
            "{}{}",
            self.base_url.trim_end_matches('/'),
            template.replace("{token}", &enc).replace("{id}", &enc)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_fill_and_encode_the_token() {
        let o = SiteOptions {
            base_url: "http://127.0.0.1:9/".into(),
            ..SiteOptions::default()
        };
        assert_eq!(
            o.url(&o.endpoints.game, "AbC"),
            "http://127.0.0.1:9/api/v3/games/AbC"
        );
        assert_eq!(
            o.url(&o.endpoints.map, "a/b?c"),
            "http://127.0.0.1:9/api/maps/a%2Fb%3Fc"
        );
    }

    #[test]
    fn every_selector_is_named_with_its_key() {
        let s = Selectors::default();
        let named = s.named();
        assert_eq!(named.len(), 8);
        assert!(named
            .iter()
            .all(|(k, v)| k.starts_with("geoguessr.selectors.") && !v.is_empty()));
    }
}
