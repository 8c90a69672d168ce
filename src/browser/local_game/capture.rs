//! Capturing views: turning the panorama with real pointer drags, zooming it with the page's key,
//! and taking its pixels (the canvas's own JPEG, else the screen region).

use super::page::{PageState, PanoState, Rect, STATE_AND_SNAPSHOT_JS};
use super::{sel, LocalGame, POLL_INTERVAL, VIEW_SETTLE_TIMEOUT};
use crate::browser::{cmd, BrowserError};
use crate::environment::View;
use base64::Engine;
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};
use fantoccini::elements::Element;
use std::time::Instant;
use tracing::debug;

/// A drag presses this far inside the canvas edge, so the press lands on it. The page captures
/// the pointer, so the release may land anywhere in the viewport: one long drag per turn instead
/// of several short ones, and each dispatched pointer action waits on the renderer (~12 ms here).
pub(super) const DRAG_EDGE_MARGIN_PX: f64 = 1.0;
/// The view's heading must be this close to the target before capturing (degrees).
pub(super) const HEADING_TOLERANCE_DEG: f64 = 0.75;
/// The page zooms by this factor per `+` key.
pub(super) const PANO_ZOOM_FACTOR: f64 = 1.5;
/// The page never zooms in past this field of view (`FOV_MIN` in web/app.js).
pub(super) const PANO_MIN_FOV: f64 = 15.0;
/// A reported field of view this close to the expected one counts as reached (the page prints
/// two decimals).
pub(super) const FOV_TOLERANCE_DEG: f64 = 0.5;
/// What a JPEG export of the canvas starts with (the browser falls back to PNG without a JPEG
/// encoder).
pub(super) const JPEG_DATA_URL: &str = "data:image/jpeg;base64,";
/// A canvas side beyond this is not the panorama the page lays out (CSS px × device ratio).
pub(super) const MAX_CANVAS_PX: u32 = 16_384;

impl LocalGame {
    /// Turns the view to `target` heading with pointer drags (grab semantics) and waits for the
    /// frame that shows it.
    pub(super) async fn turn_to(
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
    pub(super) async fn turn_and_snapshot(
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
    pub(super) async fn collect(&self, shots: Vec<Shot>) -> Result<Vec<View>, BrowserError> {
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
    pub(super) async fn drag_to(
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
    pub(super) async fn settle(
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

    pub(super) async fn zoom_in(
        &self,
        st: &PanoState,
        steps: u32,
    ) -> Result<PanoState, BrowserError> {
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

    pub(super) async fn capture(&self, st: &PanoState) -> Result<View, BrowserError> {
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
    pub(super) async fn canvas_jpeg(&self) -> Result<Option<(Vec<u8>, u32, u32)>, BrowserError> {
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
    pub(super) async fn screen_jpeg(&self, r: Rect) -> Result<Vec<u8>, BrowserError> {
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
}

/// A view being captured: its snapshot still in a page slot, or done.
pub(super) enum Shot {
    Pending(String, PanoState),
    Ready(View),
}

/// The JPEG and size in a [`sel::CANVAS_JPEG_JS`] answer; `None` when the page could not export
/// the canvas as a JPEG.
pub(super) fn decode_canvas(
    v: &serde_json::Value,
) -> Result<Option<(Vec<u8>, u32, u32)>, BrowserError> {
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
pub(super) fn view_of(
    st: &PanoState,
    jpeg: Vec<u8>,
    width: u32,
    height: u32,
) -> Result<View, BrowserError> {
    let (heading, fov, _) = pano_geometry(st)?;
    Ok(View {
        heading,
        heading_ref: crate::environment::HeadingRef::Compass,
        pitch: st.pitch.unwrap_or(0.0),
        fov,
        width,
        height,
        jpeg,
    })
}

pub(super) fn pano_geometry(st: &PanoState) -> Result<(f64, f64, Rect), BrowserError> {
    match (st.heading, st.fov, st.rect) {
        (Some(h), Some(f), Some(r)) if f > 0.0 && r.w > 0.0 && r.h > 0.0 => Ok((h, f, r)),
        _ => Err(BrowserError::Contract(format!(
            "panorama without heading/fov/size: {st:?}"
        ))),
    }
}

/// The signed turn (degrees, in (-180, 180]) from `from` to `to`.
pub(super) fn shortest_turn(from: f64, to: f64) -> f64 {
    let d = (to - from).rem_euclid(360.0);
    if d > 180.0 {
        d - 360.0
    } else {
        d
    }
}

/// Splits a drag of `total` px into equal pieces no longer than `max` px.
pub(super) fn drag_chunks(total: f64, max: f64) -> Vec<f64> {
    let n = (total.abs() / max.max(1.0)).ceil().max(1.0) as usize;
    vec![total / n as f64; n]
}

pub(super) fn png_to_jpeg(png: &[u8], quality: u8) -> Result<Vec<u8>, BrowserError> {
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
