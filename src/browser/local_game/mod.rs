//! The local game's page as an [`Environment`]: capture views by turning the panorama with real
//! pointer drags, place the guess by zooming and clicking the map, press Space (GeoGuessr's key)
//! to guess and to go on, read the result.
//!
//! Everything goes through trusted input events (WebDriver actions) and what the page shows; the
//! controller never calls a page function to move the view or set the guess. Views are the
//! panorama canvas's own pixels, encoded by the browser (`toBlob`) while the next turn goes on.

mod capture;
mod guess_map;
mod page;

use capture::Shot;
pub use guess_map::GUESS_PRECISION_KM;
use page::{PageState, WaitSpec, WAIT_IN_PAGE_JS};

use super::selectors as sel;
use super::{cmd, Browser, BrowserError};
/// Kept here for callers that still name it through the browser (it lives in `environment`).
pub use crate::environment::CaptureOptions;
use crate::environment::{Environment, GuessTiming, Observation};
use crate::game::RoundResult;
use crate::geo::{Bounds, LatLon};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::Locator;
use std::time::{Duration, Instant};
use tracing::{debug, instrument};

/// Loading a round: the server paints or reads the panorama (~0.1–0.5 s), the page uploads a
/// 2048×1024 texture to SwiftShader. Generous because CI machines are slow.
pub(crate) const ROUND_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// A turn of the view is one frame; a few hundred ms covers a busy machine.
pub(crate) const VIEW_SETTLE_TIMEOUT: Duration = Duration::from_secs(5);
/// The guess goes to the local server and back.
pub(crate) const RESULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest single in-page wait; a longer one is several, so the WebDriver script timeout never
/// ends a wait that the controller still allows.
const IN_PAGE_WAIT_SLICE: Duration = Duration::from_secs(1);
/// Poll interval for page conditions; one poll is a ~3–5 ms WebDriver round trip.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// The page's key for Guess (with a marker placed) and for the next round (on the result).
const GO_ON_KEY: char = ' ';

/// The page's controls, found once per game: the page never replaces them, and each look-up is a
/// WebDriver round trip (~3–5 ms) that a round would otherwise pay five times.
#[derive(Clone)]
struct Controls {
    pano: Element,
    map: Element,
    zoom_in: Element,
}

/// One game of the local game in a browser tab.
pub struct LocalGame {
    browser: Browser,
    capture: CaptureOptions,
    /// The round last observed (1-based), 0 before the first.
    round: usize,
    map_view: Bounds,
    map_name: String,
    /// The server's id of the game on the page, once seen (to resume it in a new browser).
    game_id: Option<String>,
    controls: Option<Controls>,
}

impl LocalGame {
    /// Opens `game_url` (the local game with `?seed=...`) and waits for the first round.
    #[instrument(skip(browser, capture))]
    pub async fn open(
        browser: Browser,
        game_url: &str,
        map_name: &str,
        map_view: Bounds,
        capture: CaptureOptions,
    ) -> Result<LocalGame, (Browser, BrowserError)> {
        if let Err(e) = browser.client().goto(game_url).await {
            return Err((browser, cmd(format!("opening {game_url}"))(e)));
        }
        Ok(LocalGame {
            browser,
            capture,
            round: 0,
            map_view,
            map_name: map_name.to_string(),
            game_id: None,
            controls: None,
        })
    }

    /// Declares that `rounds_done` rounds of this game were played before (when resuming a game
    /// with `?game=ID` in a new browser), so the next observation expects round `rounds_done + 1`.
    pub(crate) fn after_rounds(mut self, rounds_done: usize) -> Self {
        self.round = rounds_done;
        self
    }

    /// How long the browser behind this game took to start.
    pub(crate) fn browser_timing(&self) -> super::LaunchTiming {
        self.browser.timing
    }

    /// The server's game id, known after the first round was observed.
    pub fn game_id(&self) -> Option<&str> {
        self.game_id.as_deref()
    }

    /// The page's current DOM as HTML, for audits.
    pub async fn page_source(&self) -> Result<String, BrowserError> {
        self.browser
            .client()
            .source()
            .await
            .map_err(cmd("reading the page source"))
    }

    /// The browser showing the game (for page interactions outside a round, e.g. a start form).
    pub fn browser(&self) -> &Browser {
        &self.browser
    }

    /// Hands the browser back (to close it or play another game).
    pub fn into_browser(self) -> Browser {
        self.browser
    }

    async fn state(&self) -> Result<PageState, BrowserError> {
        let v = self
            .browser
            .client()
            .execute(sel::READ_STATE_JS, vec![])
            .await
            .map_err(cmd("reading the page state"))?;
        serde_json::from_value(v).map_err(|e| BrowserError::Contract(format!("page state: {e}")))
    }

    /// Polls the page until `done` holds, failing on the page's error state or the deadline.
    /// With a `spec` (the same condition, as the page can check it), the page waits for it
    /// itself and answers once it holds: one script round trip instead of a poll every few ms,
    /// which would also keep the page's main thread busy while it loads. `done` stays the
    /// judge; the spec only says when to look.
    async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        spec: Option<WaitSpec>,
        mut done: impl FnMut(&PageState) -> bool,
    ) -> Result<PageState, BrowserError> {
        let start = Instant::now();
        loop {
            let st = match &spec {
                Some(spec) => {
                    let slice = timeout
                        .saturating_sub(start.elapsed())
                        .min(IN_PAGE_WAIT_SLICE);
                    let v = self
                        .browser
                        .client()
                        .execute_async(
                            &WAIT_IN_PAGE_JS,
                            vec![
                                serde_json::to_value(spec).unwrap_or_default(),
                                serde_json::json!(slice.as_millis() as u64),
                            ],
                        )
                        .await
                        .map_err(cmd("waiting in the page"))?;
                    serde_json::from_value(v)
                        .map_err(|e| BrowserError::Contract(format!("page state: {e}")))?
                }
                None => self.state().await?,
            };
            if st.state == sel::STATE_ERROR {
                return Err(BrowserError::Page(
                    st.error.unwrap_or_else(|| "unknown error".into()),
                ));
            }
            if done(&st) {
                return Ok(st);
            }
            if start.elapsed() >= timeout {
                return Err(BrowserError::Timeout {
                    what: format!("{what} (last page state: {})", st.summary()),
                    waited: timeout,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Presses and releases `key`. The page's Space (GeoGuessr's key for Guess and for the next
    /// round) costs ~5 ms a press, where moving the mouse to a button and clicking costs
    /// ~35 ms: pointer moves wait for an animation frame, key events do not.
    async fn key(&self, key: char, what: &'static str) -> Result<(), BrowserError> {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.browser
            .client()
            .perform_actions(keys)
            .await
            .map_err(cmd(what))
    }

    async fn find(&self, css: &str) -> Result<Element, BrowserError> {
        self.browser
            .client()
            .find(Locator::Css(css))
            .await
            .map_err(cmd(format!("finding {css}")))
    }

    async fn controls(&mut self) -> Result<Controls, BrowserError> {
        if let Some(c) = &self.controls {
            return Ok(c.clone());
        }
        let c = Controls {
            pano: self.find(sel::PANO).await?,
            map: self.find(sel::MAP).await?,
            zoom_in: self.find(sel::MAP_ZOOM_IN).await?,
        };
        self.controls = Some(c.clone());
        Ok(c)
    }

    /// Moves to the next round if the page shows a result, then waits for a loaded panorama.
    async fn ready_round(&mut self) -> Result<PageState, BrowserError> {
        let st = self.state().await?;
        if st.state == sel::STATE_RESULT {
            let t = Instant::now();
            self.key(GO_ON_KEY, "pressing Space for the next round")
                .await?;
            debug!(press_ms = t.elapsed().as_millis() as u64, "went on");
        } else if st.state == sel::STATE_FINISHED {
            return Err(BrowserError::Contract(
                "the game is finished; no round left to observe".into(),
            ));
        }
        // The page updates the round label, marks the panorama not ready and enters "guessing"
        // in one task, so round number plus readiness identifies the new round's first frame.
        let want = self.round + 1;
        let spec = WaitSpec {
            state: Some(sel::STATE_GUESSING),
            round: Some(want),
            ready: true,
            result_round: None,
        };
        self.wait_for(
            "the round's panorama",
            ROUND_READY_TIMEOUT,
            Some(spec),
            |s| {
                s.state == sel::STATE_GUESSING
                    && s.round.map(|r| r as usize) == Some(want)
                    && s.pano.as_ref().is_some_and(|p| p.ready)
            },
        )
        .await
    }
}

#[async_trait::async_trait]
impl Environment for LocalGame {
    type Error = BrowserError;

    #[instrument(skip(self), fields(round = self.round + 1))]
    async fn observe(&mut self) -> Result<Observation, BrowserError> {
        let t0 = Instant::now();
        let page = self.ready_round().await?;
        if page.game.is_some() {
            self.game_id = page.game.clone();
        }
        let rounds = page.rounds.unwrap_or(0.0) as usize;
        let mut pano = page
            .pano
            .ok_or_else(|| BrowserError::Contract("no panorama on the page".into()))?;
        let ready_ms = t0.elapsed().as_millis() as u64;
        let pano_el = self.controls().await?.pano;
        let vw = page.viewport_width.unwrap_or(0.0);
        // A photo round is one flat image straight ahead: other headings show only background.
        let k = if pano.kind.as_deref() == Some(sel::PANO_KIND_PHOTO) {
            1
        } else {
            self.capture.headings.max(1)
        };
        let mut shots = Vec::with_capacity(k + 1);
        let mut turn_ms = 0u64;
        for i in 0..k {
            let target = 360.0 * i as f64 / k as f64;
            let t = Instant::now();
            let slot = format!("{}-{i}", self.round + 1);
            let (turned, shot) = self
                .turn_and_snapshot(&pano_el, &pano, vw, target, &slot)
                .await?;
            pano = turned;
            shots.push(shot);
            turn_ms += t.elapsed().as_millis() as u64;
        }
        debug!(
            ready_ms,
            turn_ms, "observed (turn_ms: turning and capturing)"
        );
        if self.capture.zoom_steps > 0 {
            pano = self.turn_to(&pano_el, &pano, vw, 0.0).await?;
            pano = self.zoom_in(&pano, self.capture.zoom_steps).await?;
            shots.push(Shot::Ready(self.capture(&pano).await?));
        }
        let t = Instant::now();
        let views = self.collect(shots).await?;
        debug!(
            collect_ms = t.elapsed().as_millis() as u64,
            "collected the views"
        );
        self.round += 1;
        Ok(Observation {
            round: self.round,
            rounds,
            views,
            map_view: self.map_view,
            map_name: self.map_name.clone(),
            capture_ms: t0.elapsed().as_millis() as u64,
        })
    }

    #[instrument(skip(self), fields(round = self.round))]
    async fn guess(&mut self, at: LatLon) -> Result<(RoundResult, GuessTiming), BrowserError> {
        let t0 = Instant::now();
        let controls = self.controls().await?;
        self.place_marker(&controls, at).await?;
        let place_ms = t0.elapsed().as_millis() as u64;
        self.key(GO_ON_KEY, "pressing Space to guess").await?;
        let round = self.round;
        let st = self
            .wait_for(
                "the round result",
                RESULT_TIMEOUT,
                Some(WaitSpec {
                    state: Some(sel::STATE_RESULT),
                    round: None,
                    ready: false,
                    result_round: Some(round),
                }),
                |s| {
                    s.state == sel::STATE_RESULT
                        && s.result.as_ref().is_some_and(|r| {
                            r.round.map(|n| n as usize) == Some(round) && r.points.is_some()
                        })
                },
            )
            .await?;
        debug!(
            place_ms,
            total_ms = t0.elapsed().as_millis() as u64,
            "guessed"
        );
        let r = st
            .result
            .ok_or_else(|| BrowserError::Contract("result panel vanished".into()))?;
        let coord = |lat: Option<f64>, lon: Option<f64>, what: &str| {
            lat.zip(lon)
                .and_then(|(a, o)| LatLon::new(a, o).ok())
                .ok_or_else(|| BrowserError::Contract(format!("result without a valid {what}")))
        };
        let result = RoundResult {
            round,
            guess: coord(r.guess_lat, r.guess_lon, "guess")?,
            truth: coord(r.truth_lat, r.truth_lon, "truth")?,
            distance_km: r
                .distance_km
                .ok_or_else(|| BrowserError::Contract("result without distance".into()))?,
            points: r.points.unwrap_or(0.0) as u32,
            place: None,
            country: None,
        };
        Ok((
            result,
            GuessTiming {
                guess_ms: t0.elapsed().as_millis() as u64,
            },
        ))
    }
}

#[cfg(test)]
mod tests;
