//! Placing the guess: zooming the guess map with the wheel around the target's pixel and clicking
//! it, reading the marker back (the map is the local game's own plate carrée drawing).

use super::page::{PageState, Rect};
use super::{Controls, LocalGame};
use crate::browser::{cmd, then_click, BrowserError};
use crate::geo::{Bounds, LatLon};
use fantoccini::actions::{
    Actions, InputSource, MouseActions, PointerAction, WheelAction, WheelActions, MOUSE_BUTTON_LEFT,
};
use std::time::Duration;
use tracing::debug;

/// The guess marker must land this close to the reasoner's point. 0.5 km costs at most 0.03% of
/// the points on the world map and needs ~8 map zoom steps from the whole-world view.
pub const GUESS_PRECISION_KM: f64 = 0.5;
/// Bound on zoom and click passes when placing the marker: a wheel zoom and a click, plus room
/// for a correcting click and for the zoom-button fallback (click + zooms, click).
pub(crate) const MAX_PLACEMENT_PASSES: usize = 4;
/// Wheel delta that zooms the guess map by a factor of 2 (`MAP_WHEEL_PX_PER_DOUBLING` in
/// web/app.js).
pub(super) const MAP_WHEEL_PX_PER_DOUBLING: i64 = 200;
/// The map never zooms in past this width (`MAP_MIN_WIDTH_DEG` in web/app.js, degrees).
pub(super) const MAP_MIN_WIDTH_DEG: f64 = 0.05;
/// Keep the target at least this far inside the map after a wheel zoom (CSS px).
pub(super) const WHEEL_AIM_MARGIN_PX: f64 = 8.0;
/// Zoom this much beyond the precision the guess needs, so rounding never leaves it short.
pub(super) const WHEEL_ZOOM_HEADROOM: f64 = 1.1;
/// Km per degree of latitude.
pub(super) const KM_PER_DEG: f64 = 111.32;

impl LocalGame {
    /// Puts the marker on `at`: zooms the map with the wheel around the pixel for `at` until a
    /// map pixel is finer than [`GUESS_PRECISION_KM`], then clicks it. The wheel keeps the point
    /// under the pointer fixed, so one zoom and one click usually do it; a page that does not zoom
    /// by the wheel falls back to clicking and pressing its zoom button (which zooms around the
    /// marker). Returns where the page put the marker.
    pub(super) async fn place_marker(
        &self,
        controls: &Controls,
        at: LatLon,
    ) -> Result<LatLon, BrowserError> {
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

pub(super) fn map_geometry(st: &PageState) -> Result<(Bounds, Rect), BrowserError> {
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

pub(super) fn parse_marker(st: &PageState) -> Result<LatLon, BrowserError> {
    let raw = st.map.as_ref().and_then(|m| m.marker.clone());
    raw.as_deref()
        .and_then(|s| {
            let (a, b) = s.split_once(',')?;
            LatLon::new(a.trim().parse().ok()?, b.trim().parse().ok()?).ok()
        })
        .ok_or_else(|| BrowserError::Contract(format!("#map data-marker unreadable: {raw:?}")))
}

/// `"west,south,east,north"`.
pub(super) fn parse_view(s: &str) -> Option<Bounds> {
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
pub(super) fn pixel_for(view: &Bounds, rect: &Rect, at: LatLon) -> (f64, f64) {
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
pub(super) fn wheel_zoom(rect: &Rect, px: f64, py: f64, need: f64) -> (i64, i64, i64) {
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
pub(super) fn zoomed_view(view: &Bounds, rect: &Rect, x: i64, y: i64, delta: i64) -> Bounds {
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
pub(super) fn zoom_steps_needed(km_per_px: f64) -> u32 {
    if km_per_px <= GUESS_PRECISION_KM {
        0
    } else {
        (km_per_px / GUESS_PRECISION_KM).log2().ceil() as u32
    }
}
