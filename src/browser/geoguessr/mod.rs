//! geoguessr.com as an [`Environment`]: classic games and challenges played with the user's own
//! account in headless Chromium, beside the local game.
//!
//! - [`settings`]: selectors, endpoint paths, timings and pacing, in one overridable struct.
//! - [`api`]: the site's JSON API with the `_ncfa` cookie (401 = expired, 429 = wait).
//! - [`state`]: the site's game state parsed without its answer; the truth only after a guess.
//! - [`page`]: the game page: hide the HUD, turn with held keys, capture the canvas, click the
//!   guess map.
//!
//! The controller alone holds the cookie, the session and every API answer; the agent gets JPEG
//! pixels of the panorama taken between "round loaded" and "guess placed". Multiplayer modes
//! (duels, battle royale, parties, ranked) are refused: playing people with an agent is cheating.

pub mod api;
pub mod guess_map;
pub mod page;
pub mod settings;
pub mod state;

use super::{Browser, BrowserError, BrowserOptions};
use crate::environment::{CaptureOptions, Environment, GuessTiming, Observation, Recovered};
use crate::game::RoundResult;
use crate::geo::{Bounds, LatLon};
use api::Api;
use page::Page;
use secrecy::{ExposeSecret, SecretString};
use settings::GuessVia;
use state::GameState;
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::{info, warn};

/// The environment name of a geoguessr.com session in its replay's manifest.
pub(crate) const ENVIRONMENT: &str = "geoguessr";
/// Our own score and the site's may differ by rounding of the distance: more than this is a
/// changed formula or a wrong `maxErrorDistance`, worth a warning.
pub(crate) const SCORE_AGREEMENT_POINTS: u32 = 1;
/// How often the game state is polled while waiting for the site to score a guess.
const RESULT_POLL: Duration = Duration::from_millis(250);
/// Browser relaunches per game after a crash, at most.
const MAX_RELAUNCHES: usize = 2;

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
    NotPlayed(String),
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

/// What a geoguessr.com URL or token asks to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/challenge/{token}`.
    Challenge(String),
    /// `/game/{token}`: continue a classic game of this account.
    Game(String),
}

/// Path words of modes played against people.
const REFUSED_PATHS: &[&str] = &[
    "duels",
    "duel",
    "team-duels",
    "battle-royale",
    "battleroyale",
    "party",
    "lobby",
    "competitive",
    "ranked",
    "multiplayer",
    "matchmaking",
    "live-challenge",
    "bullseye",
    "quiz",
    "tournaments",
];

/// Reads a challenge or game link (or a bare challenge token). Multiplayer links are refused
/// with [`FAIR_PLAY`].
pub(crate) fn parse_target(input: &str) -> Result<Target, SiteError> {
    let s = input.trim();
    let refused = || SiteError::Refused(format!("{s}: {FAIR_PLAY}"));
    if !s.contains('/') {
        return valid_token(s).map(|t| Target::Challenge(t.to_string()));
    }
    let url = url::Url::parse(s)
        .map_err(|e| SiteError::Config(format!("{s}: not a geoguessr.com link ({e})")))?;
    if url
        .host_str()
        .is_some_and(|h| h.starts_with("game-server."))
    {
        return Err(refused());
    }
    let parts: Vec<&str> = url
        .path_segments()
        .map(|p| p.filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    if parts
        .iter()
        .any(|p| REFUSED_PATHS.contains(&p.to_ascii_lowercase().as_str()))
    {
        return Err(refused());
    }
    // Localised links carry a language first (`/de/challenge/...`).
    match parts.iter().position(|p| *p == "challenge" || *p == "game") {
        Some(i) if i + 1 < parts.len() => {
            let token = valid_token(parts[i + 1])?.to_string();
            Ok(if parts[i] == "challenge" {
                Target::Challenge(token)
            } else {
                Target::Game(token)
            })
        }
        _ => Err(SiteError::Config(format!(
            "{s}: expected a challenge link (https://www.geoguessr.com/challenge/TOKEN) or a game link (/game/TOKEN)"
        ))),
    }
}

fn valid_token(t: &str) -> Result<&str, SiteError> {
    if !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(t)
    } else {
        Err(SiteError::Config(format!(
            "{t:?} is not a GeoGuessr token (letters and digits)"
        )))
    }
}

/// One round's scores side by side: the site's and ours from the map's `maxErrorDistance`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreCheck {
    pub round: usize,
    pub site_points: u32,
    pub own_points: u32,
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

/// One game on geoguessr.com, played round by round.
pub struct SiteGame {
    api: Api,
    cookie: NcfaCookie,
    browser_opts: BrowserOptions,
    capture: CaptureOptions,
    page: Option<Page>,
    token: String,
    state: GameState,
    /// The map's `maxErrorDistance` in km (our own scoring).
    map_size_km: f64,
    /// Rounds scored so far.
    done: usize,
    location_id: Option<String>,
    relaunches: usize,
    /// Our score beside the site's, per round.
    pub checks: Vec<ScoreCheck>,
}

impl SiteGame {
    /// Opens game `state.token` in a new browser, ready for its next round.
    pub async fn open(
        api: Api,
        cookie: NcfaCookie,
        browser_opts: BrowserOptions,
        capture: CaptureOptions,
        state: GameState,
        map_size_km: f64,
    ) -> Result<SiteGame, SiteError> {
        let done = state.guessed();
        let mut game = SiteGame {
            api,
            cookie,
            browser_opts,
            capture,
            page: None,
            token: state.token.clone(),
            state,
            map_size_km,
            done,
            location_id: None,
            relaunches: 0,
            checks: Vec::new(),
        };
        game.page = Some(game.launch_page().await?);
        Ok(game)
    }

    async fn launch_page(&self) -> Result<Page, SiteError> {
        let browser = Browser::launch(&self.browser_opts).await?;
        Page::open(browser, self.api.options(), &self.cookie, &self.token).await
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn state(&self) -> &GameState {
        &self.state
    }

    /// Rounds the site has scored.
    pub fn rounds_done(&self) -> usize {
        self.done
    }

    /// The browser, for tests that break it on purpose.
    pub fn page(&self) -> Option<&Page> {
        self.page.as_ref()
    }

    /// Closes the browser.
    pub async fn close(mut self) {
        if let Some(p) = self.page.take() {
            p.close().await;
        }
    }

    fn page_mut(&mut self) -> Result<&mut Page, SiteError> {
        self.page
            .as_mut()
            .ok_or_else(|| SiteError::Page("no browser".into()))
    }

    /// Waits until the site has scored round `round`, and reads its result and truth.
    async fn result_of(&mut self, round: usize) -> Result<RoundResult, SiteError> {
        let deadline = Instant::now() + self.api.options().result_timeout;
        let (st, truth) = loop {
            match self.api.truth(&self.token, round).await {
                Ok(v) => break v,
                Err(SiteError::State(state::StateProblem::NotGuessed { .. }))
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(RESULT_POLL).await
                }
                Err(e) => return Err(e),
            }
        };
        let g = st.player.guesses[round - 1].clone();
        let guess = LatLon {
            lat: g.lat,
            lon: g.lng,
        };
        let truth_pos = LatLon {
            lat: truth.lat,
            lon: truth.lng,
        };
        let own = crate::game::score(guess.distance_km(&truth_pos), self.map_size_km);
        let site = g.round_score_in_points;
        if own.abs_diff(site) > SCORE_AGREEMENT_POINTS {
            warn!(round, site, own, "the site's points differ from ours: is geoguessr's maxErrorDistance still the scale?");
        }
        if g.timed_out {
            warn!(
                round,
                "the site timed the round out before the guess arrived"
            );
        }
        self.checks.push(ScoreCheck {
            round,
            site_points: site,
            own_points: own,
            site_time_s: g.time,
            timed_out: g.timed_out,
            click_drift_px: None,
            click_drift_km: None,
        });
        self.location_id = truth.pano_id.clone();
        self.state = st;
        self.done = round;
        Ok(RoundResult {
            round,
            guess,
            truth: truth_pos,
            distance_km: g.distance_in_meters / 1000.0,
            points: site,
            place: None,
            country: truth.country.clone(),
        })
    }
}

fn map_view(st: &GameState) -> Bounds {
    st.bounds.map_or(Bounds::WORLD, |b| Bounds {
        south: b.min.lat,
        west: b.min.lng,
        north: b.max.lat,
        east: b.max.lng,
    })
}

#[async_trait::async_trait]
impl Environment for SiteGame {
    type Error = SiteError;

    async fn observe(&mut self) -> Result<Observation, SiteError> {
        let st = self.api.game(&self.token).await?;
        let round = self.done + 1;
        if st.finished() || st.guessed() != self.done {
            return Err(SiteError::Page(format!(
                "game {} is {} with {} round(s) scored; expected round {round} to be open",
                self.token,
                st.state,
                st.guessed()
            )));
        }
        let t0 = Instant::now();
        let views_wanted = if st.forbid_rotating {
            1
        } else {
            self.capture.headings
        };
        let zoom = !st.forbid_zooming && self.capture.zoom_steps > 0;
        let (capture, zoom_steps) = (self.capture.clone(), self.capture.zoom_steps);
        let views = self
            .page_mut()?
            .capture_round(
                views_wanted,
                if zoom { zoom_steps } else { 0 },
                capture.jpeg_quality,
            )
            .await?;
        let obs = Observation {
            round,
            rounds: st.round_count,
            views,
            map_view: map_view(&st),
            map_name: st.map_name.clone(),
            capture_ms: t0.elapsed().as_millis() as u64,
        };
        self.state = st;
        Ok(obs)
    }

    async fn guess(&mut self, at: LatLon) -> Result<(RoundResult, GuessTiming), SiteError> {
        let t0 = Instant::now();
        let round = self.done + 1;
        match self.api.options().guess_via {
            GuessVia::Map => self.page_mut()?.guess_on_map(at).await?,
            GuessVia::Api => {
                self.api.guess(&self.token, at.lat, at.lon).await?;
            }
        }
        let result = self.result_of(round).await?;
        if let Some(d) = self.page_mut()?.click_drift(round, at, result.guess) {
            if let Some(c) = self.checks.last_mut() {
                (c.click_drift_px, c.click_drift_km) = (Some(d.px), Some(d.km));
            }
        }
        let guess_ms = t0.elapsed().as_millis() as u64;
        let last = round >= self.state.round_count;
        let (via, token, pause) = (
            self.api.options().guess_via,
            self.token.clone(),
            self.api.options().round_pause,
        );
        if !last {
            tokio::time::sleep(pause).await;
            let page = self.page_mut()?;
            match via {
                GuessVia::Map => page.next_round().await?,
                // The page never saw the guess: load the game again at its next round.
                GuessVia::Api => page.reload(&token).await?,
            }
        }
        info!(round, points = result.points, "round scored by the site");
        Ok((result, GuessTiming { guess_ms }))
    }

    async fn recover(
        &mut self,
        round: usize,
        guessed: bool,
        error: SiteError,
    ) -> Result<Recovered, SiteError> {
        if error.is_fatal()
            || self.relaunches >= MAX_RELAUNCHES
            // Only a browser that stopped answering is helped by a new one; a missing selector or
            // a pin off its mark would fail the same way again.
            || !matches!(error, SiteError::Browser(_))
        {
            return Err(error);
        }
        self.relaunches += 1;
        warn!(round, %error, relaunch = self.relaunches, token = %self.token, "browser failed; relaunching it and resuming the same game");
        if let Some(p) = self.page.take() {
            p.close().await;
        }
        let st = self.api.game(&self.token).await?;
        let scored = guessed && st.guessed() >= round;
        self.page = Some(self.launch_page().await?);
        if scored {
            let result = self.result_of(round).await?;
            if round < self.state.round_count {
                let token = self.token.clone();
                self.page_mut()?.reload(&token).await?;
            }
            return Ok(Recovered::Scored(result));
        }
        Ok(Recovered::Replay)
    }

    fn location_id(&self) -> Option<String> {
        self.location_id.clone()
    }
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

    #[test]
    fn challenges_and_games_are_read_and_multiplayer_refused() {
        assert_eq!(
            parse_target("https://www.geoguessr.com/challenge/AbCd1234").unwrap(),
            Target::Challenge("AbCd1234".into())
        );
        assert_eq!(
            parse_target("https://www.geoguessr.com/de/challenge/AbCd1234?x=1").unwrap(),
            Target::Challenge("AbCd1234".into())
        );
        assert_eq!(
            parse_target("AbCd1234").unwrap(),
            Target::Challenge("AbCd1234".into())
        );
        assert_eq!(
            parse_target("http://127.0.0.1:8/game/XB9wycuZvDrhl7cB").unwrap(),
            Target::Game("XB9wycuZvDrhl7cB".into())
        );
        for bad in [
            "https://www.geoguessr.com/duels/1234-abcd",
            "https://www.geoguessr.com/team-duels/x",
            "https://www.geoguessr.com/battle-royale/x",
            "https://www.geoguessr.com/party/x",
            "https://www.geoguessr.com/competitive",
            "https://game-server.geoguessr.com/api/duels/x",
        ] {
            let e = parse_target(bad).unwrap_err();
            assert!(matches!(e, SiteError::Refused(_)), "{bad}: {e}");
            assert!(e.to_string().contains("cheating"));
        }
        assert!(parse_target("https://www.geoguessr.com/maps/world").is_err());
        assert!(parse_target("a b").is_err());
    }
}
