//! The circle of drags that measures how far a drag pixel turns the panorama, and the drag
//! itself. The site's field of view is not known, so equal drags round a full circle must show
//! the start view again; the shift left between the two gives the circle's length in drag
//! pixels ([`super::super::turn::Strip::shift_to`]).

use super::super::guess_map::Rect;
use super::super::turn::{degrees_per_px, drag_parts, Strip};
use super::super::SiteError;
use super::{Page, START_FOV_DEG};
use crate::browser::cmd;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use std::time::{Duration, Instant};
use tracing::{debug, warn};

/// A drag presses this far inside the panorama's edge, so the press lands on it.
const DRAG_EDGE_MARGIN_PX: f64 = 2.0;
/// A drag holds still this long before letting go: Street View keeps turning after a release
/// while the pointer moves (the replica for 50 ms after the last move; Google's window is not
/// known), and a person stops before letting go.
const DRAG_HOLD: Duration = Duration::from_millis(80);
/// After a full circle of drags, the view may be this far (degrees) from the start view before
/// a drag puts it back (the zoomed view is taken there, and the next round starts from the
/// measured step).
const HEADING_TOLERANCE_DEG: f64 = 1.0;
/// When a full circle of drags does not show the start view again, it is looked for this many
/// more times at most, a [`CIRCLE_PROBE_SHARE`] of a view apart, nearest first: 16 quarter views
/// cover two views each way, the whole circle for any field of view up to 180°.
const MAX_CIRCLE_PROBES: usize = 16;
/// Probes are this share of a view apart (a share of the width turns that share of the field
/// of view, whatever it is).
const CIRCLE_PROBE_SHARE: f64 = 0.25;
/// A probe counts only when the start view is at most this share of a view away: nearer than
/// half a view the two still overlap enough to match, but a sparse scene (a few posts against
/// the sky) may not match at all there, and walking on until it does found the start view one
/// whole circle later (CI, 2026-12-07: a 720° "circle", so every heading came out half size).
/// With probes a quarter view apart, ±0.2 views leave no gap.
const CIRCLE_MATCH_SHARE: f64 = 0.2;
/// JPEG quality of the probe that finds the start view again (only compared, never sent).
const CIRCLE_PROBE_QUALITY: u8 = 60;

impl Page {
    /// Drags the last step of a circle (`dragged` px so far) and looks for the start view;
    /// returns the degrees a drag pixel turns when it was found (and puts the view back on it
    /// when it is more than [`HEADING_TOLERANCE_DEG`] off).
    ///
    /// The start view is looked for nearest first (quarter views right, left, two right, ...):
    /// the first place it shows is the circle, not the next one round. A match further off than
    /// [`CIRCLE_MATCH_SHARE`] is not trusted for the measurement, but the view is moved there
    /// once and looked at again.
    pub(super) async fn close_circle(
        &mut self,
        rect: Rect,
        step_px: f64,
        mut dragged: f64,
        start: &Strip,
        search_until: Option<Instant>,
    ) -> Result<Option<f64>, SiteError> {
        dragged += self.drag(rect, step_px).await?;
        // Where the view is, in probe steps, from where the search (re)started.
        let mut offset = 0i64;
        let mut tried = 0usize;
        let mut guided = false;
        for probe in 0..=MAX_CIRCLE_PROBES {
            let r = self.canvas_rect(rect).await?;
            let v = self
                .capture(r, 0.0, START_FOV_DEG, CIRCLE_PROBE_QUALITY)
                .await?;
            let seen = Strip::of(&v.jpeg).map_err(SiteError::Page)?;
            let shift = start.shift_to(&seen);
            if let Some(residual) = shift.filter(|res| res.abs() <= CIRCLE_MATCH_SHARE * r.w) {
                if let Some(dpp) = degrees_per_px(dragged, residual, r.w) {
                    debug!(
                        dragged,
                        residual,
                        probes = probe,
                        deg_per_px = dpp,
                        "a circle of drags measured"
                    );
                    if (residual * dpp).abs() > HEADING_TOLERANCE_DEG {
                        self.drag(rect, -residual).await?;
                    }
                    self.deg_per_px = Some(dpp);
                    return Ok(Some(dpp));
                }
            }
            if probe == MAX_CIRCLE_PROBES {
                break;
            }
            if search_until.is_some_and(|t| Instant::now() >= t) {
                warn!(
                    probes = probe,
                    "out of time for finding the start view in this timed round"
                );
                break;
            }
            let step = CIRCLE_PROBE_SHARE * r.w;
            let px = match shift {
                Some(residual) if !guided => {
                    guided = true;
                    offset = 0;
                    tried = 0;
                    -residual
                }
                _ => {
                    // 0, +1, -1, +2, -2, ... probe steps from where the search started.
                    tried += 1;
                    let k = tried.div_ceil(2) as i64;
                    let next = if tried % 2 == 1 { k } else { -k };
                    let px = (next - offset) as f64 * step;
                    offset = next;
                    px
                }
            };
            dragged += self.drag(rect, px).await?;
        }
        warn!(
            dragged,
            "a circle of drags never showed the start view again: the views' headings are estimates"
        );
        Ok(None)
    }

    /// Turns right by dragging the panorama `px` pixels to the left (grab: the scene follows the
    /// pointer; negative turns left), holding still before each release. Returns the pixels
    /// actually dragged (whole pixels, in as many drags as the panorama's width needs).
    ///
    /// Each drag is two action chains with the page's frames between them: pointer moves reach
    /// a page's handlers with its next animation frame, so on a loaded machine a move and a
    /// release sent in one chain arrive in the same frame however long the pause between them,
    /// and the page takes the release for a flick and lets the view glide on (CI saw a circle
    /// end 40.9° off). Waiting for the frames first means the pause is one the page sees.
    pub(super) async fn drag(&self, rect: Rect, px: f64) -> Result<f64, SiteError> {
        let y = (rect.y + rect.h / 2.0).round();
        let left = rect.x.max(0.0) + DRAG_EDGE_MARGIN_PX;
        let right = rect.x + rect.w - DRAG_EDGE_MARGIN_PX;
        let client = self.browser.client();
        let mut done = 0.0;
        for part in drag_parts(px, right - left) {
            let from = if part > 0.0 { right } else { left }.round();
            let to = (from - part).round();
            done += from - to;
            let grab = MouseActions::new("mouse".into())
                .then(PointerAction::MoveTo {
                    duration: None,
                    x: from,
                    y,
                })
                .then(PointerAction::Down {
                    button: MOUSE_BUTTON_LEFT,
                })
                .then(PointerAction::MoveTo {
                    duration: None,
                    x: to,
                    y,
                });
            client
                .perform_actions(grab)
                .await
                .map_err(cmd("dragging the panorama"))?;
            let drawn = self.frames().await;
            // The button is let go whatever happened: a pointer left down would drag the next
            // turn, or the guess map, from wherever it is.
            let release = MouseActions::new("mouse".into())
                .then(PointerAction::Pause {
                    duration: DRAG_HOLD,
                })
                .then(PointerAction::Up {
                    button: MOUSE_BUTTON_LEFT,
                });
            client
                .perform_actions(release)
                .await
                .map_err(cmd("dragging the panorama"))?;
            drawn?;
        }
        debug!(px = done, "dragged");
        Ok(done)
    }
}
