//! The local game's page as an [`Environment`]: capture views by turning the panorama with real
//! pointer drags, place the guess by zooming and clicking the map, press Space (GeoGuessr's key)
//! to guess and to go on, read the result.
//!
//! Everything goes through trusted input events (WebDriver actions) and what the page shows; the
//! controller never calls a page function to move the view or set the guess. Views are the
//! panorama canvas's own pixels, encoded by the browser (`toBlob`) while the next turn goes on.

use super::selectors as sel;
use super::{cmd, then_click, Browser, BrowserError};
/// Kept here for callers that still name it through the browser (it lives in `environment`).
pub use crate::environment::CaptureOptions;
use crate::environment::{Environment, GuessTiming, Observation, View};
use crate::game::RoundResult;
use crate::geo::{Bounds, LatLon};
use base64::Engine;
use fantoccini::actions::{
    Actions, InputSource, KeyAction, KeyActions, MouseActions, PointerAction, WheelAction,
    WheelActions, MOUSE_BUTTON_LEFT,
};
use fantoccini::elements::Element;
use fantoccini::Locator;
use serde::Deserialize;
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
/// The guess marker must land this close to the reasoner's point. 0.5 km costs at most 0.03% of
/// the points on the world map and needs ~8 map zoom steps from the whole-world view.
pub const GUESS_PRECISION_KM: f64 = 0.5;
/// Bound on zoom and click passes when placing the marker: a wheel zoom and a click, plus room
/// for a correcting click and for the zoom-button fallback (click + zooms, click).
pub(crate) const MAX_PLACEMENT_PASSES: usize = 4;
/// Wheel delta that zooms the guess map by a factor of 2 (`MAP_WHEEL_PX_PER_DOUBLING` in
/// web/app.js).
const MAP_WHEEL_PX_PER_DOUBLING: i64 = 200;
/// The map never zooms in past this width (`MAP_MIN_WIDTH_DEG` in web/app.js, degrees).
const MAP_MIN_WIDTH_DEG: f64 = 0.05;
/// Keep the target at least this far inside the map after a wheel zoom (CSS px).
const WHEEL_AIM_MARGIN_PX: f64 = 8.0;
/// Zoom this much beyond the precision the guess needs, so rounding never leaves it short.
const WHEEL_ZOOM_HEADROOM: f64 = 1.1;
/// A drag presses this far inside the canvas edge, so the press lands on it. The page captures
/// the pointer, so the release may land anywhere in the viewport: one long drag per turn instead
/// of several short ones, and each dispatched pointer action waits on the renderer (~12 ms here).
const DRAG_EDGE_MARGIN_PX: f64 = 1.0;
/// The view's heading must be this close to the target before capturing (degrees).
const HEADING_TOLERANCE_DEG: f64 = 0.75;
/// The page's key for Guess (with a marker placed) and for the next round (on the result).
const GO_ON_KEY: char = ' ';
/// The page zooms by this factor per `+` key.
const PANO_ZOOM_FACTOR: f64 = 1.5;
/// The page never zooms in past this field of view (`FOV_MIN` in web/app.js).
const PANO_MIN_FOV: f64 = 15.0;
/// A reported field of view this close to the expected one counts as reached (the page prints
/// two decimals).
const FOV_TOLERANCE_DEG: f64 = 0.5;
/// What a JPEG export of the canvas starts with (the browser falls back to PNG without a JPEG
/// encoder).
const JPEG_DATA_URL: &str = "data:image/jpeg;base64,";
/// A canvas side beyond this is not the panorama the page lays out (CSS px × device ratio).
const MAX_CANVAS_PX: u32 = 16_384;
/// Km per degree of latitude.
const KM_PER_DEG: f64 = 111.32;

#[derive(Debug, Clone, Copy, Deserialize)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

#[derive(Debug, Clone, Deserialize)]
struct PanoState {
    ready: bool,
    /// `panorama` or `photo` (a single flat image).
    kind: Option<String>,
    heading: Option<f64>,
    fov: Option<f64>,
    pitch: Option<f64>,
    frame: Option<f64>,
    rect: Option<Rect>,
}

#[derive(Debug, Clone, Deserialize)]
struct MapState {
    view: Option<String>,
    marker: Option<String>,
    rect: Option<Rect>,
}

#[derive(Debug, Clone, Deserialize)]
struct ResultState {
    round: Option<f64>,
    points: Option<f64>,
    distance_km: Option<f64>,
    truth_lat: Option<f64>,
    truth_lon: Option<f64>,
    guess_lat: Option<f64>,
    guess_lon: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
struct PageState {
    state: String,
    viewport_width: Option<f64>,
    game: Option<String>,
    error: Option<String>,
    round: Option<f64>,
    rounds: Option<f64>,
    pano: Option<PanoState>,
    map: Option<MapState>,
    result: Option<ResultState>,
}

impl PageState {
    /// A one-line description for error messages (no answer in it: only the page's own state).
    fn summary(&self) -> String {
        let pano = self.pano.as_ref().map(|p| {
            format!(
                "pano ready={} heading={:?} fov={:?} frame={:?}",
                p.ready, p.heading, p.fov, p.frame
            )
        });
        format!(
            "state={} round={:?}/{:?} {}",
            self.state,
            self.round,
            self.rounds,
            pano.unwrap_or_else(|| "no pano".into())
        )
    }
}

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

    /// Turns the view to `target` heading with pointer drags (grab semantics) and waits for the
    /// frame that shows it.
    async fn turn_to(
        &self,
        pano_el: &Element,
        st: &PanoState,
        viewport_width: f64,
        target: f64,
    ) -> Result<PanoState, BrowserError> {
        if !self.drag_to(pano_el, st, viewport_width, target).await? {
            return Ok(st.clone());
        }
        Ok(self.settle(st, target, true, None).await?.0)
    }

    /// Turns the view to `target` like [`Self::turn_to`] and snapshots the canvas into page slot
    /// `slot` in the same script that sees the turned frame. The browser encodes the JPEG on
    /// its own thread while the next turn goes on; [`Self::collect`] fetches them all at the end.
    async fn turn_and_snapshot(
        &self,
        pano_el: &Element,
        st: &PanoState,
        viewport_width: f64,
        target: f64,
        slot: &str,
    ) -> Result<(PanoState, Shot), BrowserError> {
        let dragged = self.drag_to(pano_el, st, viewport_width, target).await?;
        let (pano, taken) = self.settle(st, target, dragged, Some(slot)).await?;
        let shot = if taken {
            Shot::Pending(slot.to_string(), pano.clone())
        } else {
            Shot::Ready(self.capture(&pano).await?)
        };
        Ok((pano, shot))
    }

    /// The views of `shots`, fetching the pending snapshots in one script (polled until the
    /// browser has encoded them all).
    async fn collect(&self, shots: Vec<Shot>) -> Result<Vec<View>, BrowserError> {
        let slots: Vec<&str> = shots
            .iter()
            .filter_map(|s| match s {
                Shot::Pending(slot, _) => Some(slot.as_str()),
                Shot::Ready(_) => None,
            })
            .collect();
        let mut fetched = if slots.is_empty() {
            Vec::new()
        } else {
            let start = Instant::now();
            loop {
                let v = self
                    .browser
                    .client()
                    .execute(sel::COLLECT_SNAPSHOTS_JS, vec![serde_json::json!(slots)])
                    .await
                    .map_err(cmd("collecting the captured views"))?;
                if v["pending"].as_bool() == Some(false) {
                    break v["shots"].as_array().cloned().unwrap_or_default();
                }
                if start.elapsed() >= VIEW_SETTLE_TIMEOUT {
                    return Err(BrowserError::Timeout {
                        what: "the browser to encode the captured views".into(),
                        waited: VIEW_SETTLE_TIMEOUT,
                    });
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
        .into_iter();
        let mut views = Vec::with_capacity(shots.len());
        for shot in shots {
            views.push(match shot {
                Shot::Ready(v) => v,
                Shot::Pending(slot, pano) => {
                    let data = fetched.next().unwrap_or_default();
                    let (jpeg, width, height) = decode_canvas(&data)?.ok_or_else(|| {
                        BrowserError::Capture(format!(
                            "the browser did not encode captured view {slot}: {}",
                            data["error"]
                        ))
                    })?;
                    view_of(&pano, jpeg, width, height)?
                }
            });
        }
        Ok(views)
    }

    /// Drags the view towards `target`; `false` when it is already there. (Arrow keys were
    /// measured too: the page gets key events after the command returns, and six presses plus
    /// the wait for the page came to more than one drag.)
    async fn drag_to(
        &self,
        pano_el: &Element,
        st: &PanoState,
        viewport_width: f64,
        target: f64,
    ) -> Result<bool, BrowserError> {
        let (heading, fov, rect) = pano_geometry(st)?;
        let delta = shortest_turn(heading, target);
        if delta.abs() < HEADING_TOLERANCE_DEG {
            return Ok(false);
        }
        // Dragging right by dx turns the heading by -dx·fov/width.
        let total_dx = -delta * rect.w / fov;
        let half = rect.w / 2.0 - DRAG_EDGE_MARGIN_PX;
        // Leftward drags press at the right edge and may run to the viewport's left edge;
        // rightward ones press at the left edge and may run to the viewport's right edge.
        let reach = if total_dx < 0.0 {
            half + rect.x + rect.w / 2.0
        } else {
            half + viewport_width - rect.x - rect.w / 2.0
        } - DRAG_EDGE_MARGIN_PX;
        let mut actions = MouseActions::new("mouse".into());
        for chunk in drag_chunks(total_dx, reach) {
            let start = if chunk < 0.0 { half } else { -half };
            actions = actions
                .then(PointerAction::MoveToElement {
                    element: pano_el.clone(),
                    duration: None,
                    x: start.round(),
                    y: 0.0,
                })
                .then(PointerAction::Down {
                    button: MOUSE_BUTTON_LEFT,
                })
                .then(PointerAction::MoveToElement {
                    element: pano_el.clone(),
                    duration: None,
                    x: (start + chunk).round(),
                    y: 0.0,
                })
                .then(PointerAction::Up {
                    button: MOUSE_BUTTON_LEFT,
                });
        }
        let t = Instant::now();
        self.browser
            .client()
            .perform_actions(actions)
            .await
            .map_err(cmd("dragging the panorama"))?;
        debug!(drag_ms = t.elapsed().as_millis() as u64, "dragged");
        Ok(true)
    }

    /// Waits for the page to show heading `target` (in a frame after `before`'s when
    /// `new_frame`); with `slot`, snapshots the canvas into that page slot in the same script as
    /// the state that shows it, and says whether the page could (`false`: a canvas that cannot be
    /// exported, which the caller then captures from the screen).
    async fn settle(
        &self,
        before: &PanoState,
        target: f64,
        new_frame: bool,
        slot: Option<&str>,
    ) -> Result<(PanoState, bool), BrowserError> {
        let frame = before.frame;
        let start = Instant::now();
        let q = f64::from(self.capture.jpeg_quality) / 100.0;
        loop {
            let (st, taken) = match slot {
                Some(slot) => {
                    let v = self
                        .browser
                        .client()
                        .execute(
                            &STATE_AND_SNAPSHOT_JS,
                            vec![serde_json::json!(q), serde_json::json!(slot)],
                        )
                        .await
                        .map_err(cmd("reading the page state and snapshotting the canvas"))?;
                    let st: PageState = serde_json::from_value(v["state"].clone())
                        .map_err(|e| BrowserError::Contract(format!("page state: {e}")))?;
                    if let Some(e) = v["snap"]["error"].as_str() {
                        debug!(
                            error = e,
                            "the canvas cannot be snapshot; capturing the screen"
                        );
                    }
                    (st, v["snap"]["taken"].as_bool() == Some(true))
                }
                None => (self.state().await?, false),
            };
            if st.state == sel::STATE_ERROR {
                return Err(BrowserError::Page(
                    st.error.unwrap_or_else(|| "unknown error".into()),
                ));
            }
            let turned = st.pano.as_ref().filter(|p| {
                (!new_frame || p.frame != frame)
                    && p.heading
                        .is_some_and(|h| shortest_turn(h, target).abs() < HEADING_TOLERANCE_DEG)
            });
            if let Some(pano) = turned {
                return Ok((pano.clone(), taken));
            }
            if start.elapsed() >= VIEW_SETTLE_TIMEOUT {
                return Err(BrowserError::Timeout {
                    what: format!("the view to turn (last page state: {})", st.summary()),
                    waited: VIEW_SETTLE_TIMEOUT,
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn zoom_in(&self, st: &PanoState, steps: u32) -> Result<PanoState, BrowserError> {
        let mut keys = KeyActions::new("keyboard".into());
        for _ in 0..steps {
            keys = keys
                .then(KeyAction::Down { value: '+' })
                .then(KeyAction::Up { value: '+' });
        }
        self.browser
            .client()
            .perform_actions(keys)
            .await
            .map_err(cmd("zooming the panorama"))?;
        let before = st.fov.unwrap_or(90.0);
        let want = (before / PANO_ZOOM_FACTOR.powi(steps as i32)).max(PANO_MIN_FOV);
        let page = self
            .wait_for("the view to zoom", VIEW_SETTLE_TIMEOUT, None, |s| {
                s.pano
                    .as_ref()
                    .and_then(|p| p.fov)
                    .is_some_and(|f| f <= want + FOV_TOLERANCE_DEG)
            })
            .await?;
        page.pano
            .ok_or_else(|| BrowserError::Contract("panorama disappeared".into()))
    }

    async fn capture(&self, st: &PanoState) -> Result<View, BrowserError> {
        let (_, _, r) = pano_geometry(st)?;
        let (jpeg, width, height) = match self.canvas_jpeg().await? {
            Some(v) => v,
            None => (
                self.screen_jpeg(r).await?,
                r.w.round() as u32,
                r.h.round() as u32,
            ),
        };
        view_of(st, jpeg, width, height)
    }

    /// The panorama canvas's own pixels as a JPEG encoded by the browser, with its size; `None`
    /// when the page cannot export them (a canvas tainted by another origin, a browser without
    /// a JPEG encoder). One script round trip (~20 ms) where a screen capture costs ~50–65 ms,
    /// and exactly the panorama: nothing drawn over it gets in.
    async fn canvas_jpeg(&self) -> Result<Option<(Vec<u8>, u32, u32)>, BrowserError> {
        let q = f64::from(self.capture.jpeg_quality) / 100.0;
        let v = self
            .browser
            .client()
            .execute(sel::CANVAS_JPEG_JS, vec![serde_json::json!(q)])
            .await
            .map_err(cmd("reading the panorama canvas"))?;
        decode_canvas(&v)
    }

    /// The panorama's screen region: Chrome's own JPEG capture through CDP, else a WebDriver
    /// screenshot re-encoded.
    async fn screen_jpeg(&self, r: Rect) -> Result<Vec<u8>, BrowserError> {
        if self.browser.cdp {
            self.browser
                .capture_jpeg((r.x, r.y, r.w, r.h), self.capture.jpeg_quality, "the view")
                .await
        } else {
            let png = self
                .find(sel::PANO)
                .await?
                .screenshot()
                .await
                .map_err(cmd("capturing the view (WebDriver screenshot)"))?;
            png_to_jpeg(&png, self.capture.jpeg_quality)
        }
    }

    /// Puts the marker on `at`: zooms the map with the wheel around the pixel for `at` until a
    /// map pixel is finer than [`GUESS_PRECISION_KM`], then clicks it. The wheel keeps the point
    /// under the pointer fixed, so one zoom and one click usually do it; a page that does not zoom
    /// by the wheel falls back to clicking and pressing its zoom button (which zooms around the
    /// marker). Returns where the page put the marker.
    async fn place_marker(&self, controls: &Controls, at: LatLon) -> Result<LatLon, BrowserError> {
        let mut st = self.state().await?;
        let mut wheel = true;
        for pass in 0..MAX_PLACEMENT_PASSES {
            let (view, rect) = map_geometry(&st)?;
            let (px, py) = pixel_for(&view, &rect, at);
            let deg_per_px = (view.east - view.west) / rect.w;
            let km_per_px = deg_per_px * KM_PER_DEG;
            let zooms = zoom_steps_needed(km_per_px);
            if zooms > 0 && wheel {
                // One input sequence: the wheel zoom, then a click where the page's own zoom
                // rule puts `at` (one round trip instead of zoom, read, click).
                let (x, y, delta) = wheel_zoom(&rect, px, py, km_per_px / GUESS_PRECISION_KM);
                let predicted = zoomed_view(&view, &rect, x, y, delta);
                let (cx, cy) = pixel_for(&predicted, &rect, at);
                let scroll = WheelActions::new("wheel".into()).then(WheelAction::Scroll {
                    duration: None,
                    x,
                    y,
                    delta_x: 0,
                    delta_y: -delta,
                });
                // The pause lines the click up after the wheel tick.
                let click = then_click(
                    MouseActions::new("mouse".into()).then(PointerAction::Pause {
                        duration: Duration::ZERO,
                    }),
                    &controls.map,
                    (cx - rect.w / 2.0).round(),
                    (cy - rect.h / 2.0).round(),
                );
                self.browser
                    .client()
                    .perform_actions(Actions::from(scroll).and(click))
                    .await
                    .map_err(cmd("zooming and clicking the map"))?;
                st = self.state().await?;
                let (after, _) = map_geometry(&st)?;
                let marker = parse_marker(&st).ok();
                debug!(
                    pass,
                    delta,
                    km_per_px,
                    ?after,
                    ?predicted,
                    ?marker,
                    "zoomed and clicked the map"
                );
                // No zoom: this page ignores the wheel; use the button from now on.
                wheel = after.east - after.west < (view.east - view.west) * 0.75;
                if let Some(m) =
                    marker.filter(|m| wheel && m.distance_km(&at) <= GUESS_PRECISION_KM * 1.5)
                {
                    return Ok(m);
                }
                continue;
            }
            let mut actions = then_click(
                MouseActions::new("mouse".into()),
                &controls.map,
                (px - rect.w / 2.0).round(),
                (py - rect.h / 2.0).round(),
            );
            if zooms > 0 {
                // The zoom button stays put, so one move serves every click on it.
                actions = actions.then(PointerAction::MoveToElement {
                    element: controls.zoom_in.clone(),
                    duration: None,
                    x: 0.0,
                    y: 0.0,
                });
            }
            for _ in 0..zooms {
                actions = actions
                    .then(PointerAction::Down {
                        button: MOUSE_BUTTON_LEFT,
                    })
                    .then(PointerAction::Up {
                        button: MOUSE_BUTTON_LEFT,
                    });
            }
            self.browser
                .client()
                .perform_actions(actions)
                .await
                .map_err(cmd("clicking the map"))?;
            st = self.state().await?;
            let marker = parse_marker(&st)?;
            debug!(pass, zooms, km_per_px, ?marker, "placed marker");
            if zooms == 0 {
                if marker.distance_km(&at) <= GUESS_PRECISION_KM * 1.5 {
                    return Ok(marker);
                }
                if pass + 1 == MAX_PLACEMENT_PASSES {
                    return Ok(marker);
                }
            }
        }
        parse_marker(&st)
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

/// The page state and a snapshot of the canvas in one script: `{state, snap}`
/// (arguments: JPEG quality 0..1, slot).
static STATE_AND_SNAPSHOT_JS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "const state = (function () {{{}}})();\nconst snap = (function () {{{}}}).apply(null, arguments);\nreturn {{state, snap}};",
        sel::READ_STATE_JS,
        sel::SNAPSHOT_JS
    )
});

/// A page condition the page checks itself ([`sel::WAIT_IN_PAGE_BODY`]): each field that is set
/// must hold.
#[derive(Debug, serde::Serialize)]
struct WaitSpec {
    state: Option<&'static str>,
    round: Option<usize>,
    ready: bool,
    result_round: Option<usize>,
}

/// Waits in the page for a [`WaitSpec`] (arguments: spec, longest wait in ms) and answers the
/// page state (`READ_STATE_JS`'s shape) when it holds, on the error state, or at the deadline.
static WAIT_IN_PAGE_JS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "const read = function () {{{}}};\n{}",
        sel::READ_STATE_JS,
        sel::WAIT_IN_PAGE_BODY
    )
});

/// A view being captured: its snapshot still in a page slot, or done.
enum Shot {
    Pending(String, PanoState),
    Ready(View),
}

/// The JPEG and size in a [`sel::CANVAS_JPEG_JS`] answer; `None` when the page could not export
/// the canvas as a JPEG.
fn decode_canvas(v: &serde_json::Value) -> Result<Option<(Vec<u8>, u32, u32)>, BrowserError> {
    let Some(data) = v["data"].as_str() else {
        debug!(error = ?v["error"], "the canvas cannot be exported; capturing the screen");
        return Ok(None);
    };
    let Some(b64) = data.strip_prefix(JPEG_DATA_URL) else {
        debug!("the canvas exported no JPEG; capturing the screen");
        return Ok(None);
    };
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| BrowserError::Capture(format!("canvas data is not base64: {e}")))?;
    let dim = |k: &str| {
        v[k].as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=MAX_CANVAS_PX).contains(n))
            .ok_or_else(|| BrowserError::Capture(format!("canvas {k} unreadable: {}", v[k])))
    };
    Ok(Some((jpeg, dim("width")?, dim("height")?)))
}

/// A captured view of the panorama in state `st`.
fn view_of(st: &PanoState, jpeg: Vec<u8>, width: u32, height: u32) -> Result<View, BrowserError> {
    let (heading, fov, _) = pano_geometry(st)?;
    Ok(View {
        heading,
        pitch: st.pitch.unwrap_or(0.0),
        fov,
        width,
        height,
        jpeg,
    })
}

fn pano_geometry(st: &PanoState) -> Result<(f64, f64, Rect), BrowserError> {
    match (st.heading, st.fov, st.rect) {
        (Some(h), Some(f), Some(r)) if f > 0.0 && r.w > 0.0 && r.h > 0.0 => Ok((h, f, r)),
        _ => Err(BrowserError::Contract(format!(
            "panorama without heading/fov/size: {st:?}"
        ))),
    }
}

fn map_geometry(st: &PageState) -> Result<(Bounds, Rect), BrowserError> {
    let m = st
        .map
        .as_ref()
        .ok_or_else(|| BrowserError::Contract("no #map on the page".into()))?;
    let rect = m
        .rect
        .filter(|r| r.w > 0.0 && r.h > 0.0)
        .ok_or_else(|| BrowserError::Contract("#map has no size".into()))?;
    let view = m.view.as_deref().and_then(parse_view).ok_or_else(|| {
        BrowserError::Contract(format!("#map data-view unreadable: {:?}", m.view))
    })?;
    Ok((view, rect))
}

fn parse_marker(st: &PageState) -> Result<LatLon, BrowserError> {
    let raw = st.map.as_ref().and_then(|m| m.marker.clone());
    raw.as_deref()
        .and_then(|s| {
            let (a, b) = s.split_once(',')?;
            LatLon::new(a.trim().parse().ok()?, b.trim().parse().ok()?).ok()
        })
        .ok_or_else(|| BrowserError::Contract(format!("#map data-marker unreadable: {raw:?}")))
}

/// `"west,south,east,north"`.
fn parse_view(s: &str) -> Option<Bounds> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    match v[..] {
        [west, south, east, north] if east > west && north > south => Some(Bounds {
            south,
            west,
            north,
            east,
        }),
        _ => None,
    }
}

/// The pixel of `at` in the map element (plate carrée: linear in both axes), clamped inside it.
fn pixel_for(view: &Bounds, rect: &Rect, at: LatLon) -> (f64, f64) {
    let fx = (at.lon - view.west) / (view.east - view.west);
    let fy = (view.north - at.lat) / (view.north - view.south);
    // Half a pixel of margin so a point on the very edge still clicks inside the element.
    let px = (fx * rect.w).clamp(0.5, rect.w - 0.5);
    let py = (fy * rect.h).clamp(0.5, rect.h - 0.5);
    (px, py)
}

/// Where to turn the wheel (viewport px) and by how much (page wheel delta, positive = in) to
/// zoom the map by up to `need` so that `at`, now at map pixel `(px, py)`, lands near the map's
/// centre. The page keeps the point under the pointer fixed, and the pointer sits on a whole
/// pixel, so after zooming by f the target lies within 0.5·(f−1) px of where it was aimed: the
/// aim is the centre and f is capped so that stays inside the map (a second pass zooms on).
fn wheel_zoom(rect: &Rect, px: f64, py: f64, need: f64) -> (i64, i64, i64) {
    let fit = 1.0 + 2.0 * (rect.w.min(rect.h) / 2.0 - WHEEL_AIM_MARGIN_PX).max(1.0);
    let want = (need * WHEEL_ZOOM_HEADROOM).min(fit).max(2.0);
    let delta = (MAP_WHEEL_PX_PER_DOUBLING as f64 * want.log2()).floor() as i64;
    let f = 2f64.powf(delta as f64 / MAP_WHEEL_PX_PER_DOUBLING as f64);
    // The pixel c that zooming by f around moves `at` to the centre t: c + (p − c)·f = t.
    let aim = |p: f64, origin: f64, size: f64| {
        let c = (p * f - size / 2.0) / (f - 1.0);
        (origin + c.clamp(1.0, size - 1.0)).round() as i64
    };
    (aim(px, rect.x, rect.w), aim(py, rect.y, rect.h), delta)
}

/// The map's view after the page zooms `view` by a wheel `delta` (positive = in) at viewport
/// point `(x, y)`: the point under the pointer stays put, the width is kept within
/// [`MAP_MIN_WIDTH_DEG`, 360] and the 2:1 view is shifted to stay inside the world (`zoomAt` and
/// `viewAt` in web/app.js). The controller clicks where this puts the target and reads the
/// marker back, so a page that zooms differently costs a correcting pass, not a wrong guess.
fn zoomed_view(view: &Bounds, rect: &Rect, x: i64, y: i64, delta: i64) -> Bounds {
    let factor = 2f64.powf(delta as f64 / MAP_WHEEL_PX_PER_DOUBLING as f64);
    let fx = (x as f64 - rect.x) / rect.w;
    let fy = (y as f64 - rect.y) / rect.h;
    let width = view.east - view.west;
    let lon = view.west + fx * width;
    let lat = view.north - fy * (view.north - view.south);
    let w = (width / factor).clamp(MAP_MIN_WIDTH_DEG, 360.0);
    let h = w / 2.0;
    let (cx, cy) = (lon - fx * w + w / 2.0, lat + fy * h - h / 2.0);
    let west = (cx - w / 2.0).clamp(-180.0, 180.0 - w);
    let south = (cy - h / 2.0).clamp(-90.0, 90.0 - h);
    Bounds {
        west,
        south,
        east: west + w,
        north: south + h,
    }
}

/// Zoom doublings needed before a map pixel is finer than [`GUESS_PRECISION_KM`].
fn zoom_steps_needed(km_per_px: f64) -> u32 {
    if km_per_px <= GUESS_PRECISION_KM {
        0
    } else {
        (km_per_px / GUESS_PRECISION_KM).log2().ceil() as u32
    }
}

/// The signed turn (degrees, in (-180, 180]) from `from` to `to`.
fn shortest_turn(from: f64, to: f64) -> f64 {
    let d = (to - from).rem_euclid(360.0);
    if d > 180.0 {
        d - 360.0
    } else {
        d
    }
}

/// Splits a drag of `total` px into equal pieces no longer than `max` px.
fn drag_chunks(total: f64, max: f64) -> Vec<f64> {
    let n = (total.abs() / max.max(1.0)).ceil().max(1.0) as usize;
    vec![total / n as f64; n]
}

fn png_to_jpeg(png: &[u8], quality: u8) -> Result<Vec<u8>, BrowserError> {
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .map_err(|e| BrowserError::Capture(format!("screenshot is not a PNG: {e}")))?;
    // The JPEG encoder rejects RGBA.
    let rgb = img.to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| BrowserError::Capture(format!("JPEG encoding failed: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests;
