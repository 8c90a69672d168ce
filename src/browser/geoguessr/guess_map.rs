//! The guess map, read the way any Google Maps JavaScript API map can be read whatever draws it
//! (`<img>` tiles, one canvas, a vector layer): its box on screen, measured again once it has
//! grown under the pointer; its view from the Google logo link at its corner
//! (`ll=LAT,LNG&z=ZOOM` in the `href`, written once the map is idle); and, when that whole zoom
//! is not the map's true scale (vector maps zoom by fractions and the link rounds), the scale
//! measured by a sideways drag: how far the link's centre moved for a known number of pixels.
//! The first round of a page always measures; when the measure agrees with the link's zoom (a
//! raster map) later rounds skip the drag.
//!
//! After the site scored the guess, [`GuessMap::drift`] compares the point it received with the
//! point meant, in guess-map pixels: a drift over the tolerance switches the next rounds to the
//! drag calibration, and a second one stops the game with a message before anything is clicked.

use super::settings::SiteOptions;
use super::SiteError;
use crate::browser::{cmd, then_click, Browser};
use crate::geo::LatLon;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use serde_json::json;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// Web Mercator's tile size in CSS pixels at zoom 0.
const TILE_PX: f64 = 256.0;
/// Web Mercator stops here (the map's square world).
const MAX_MERCATOR_LAT: f64 = 85.051_128_78;
/// A target this close to the map's edge is dragged into view first (pixels).
const EDGE_MARGIN_PX: f64 = 12.0;
/// Drags to bring a target into the guess map's view, at most.
const MAX_DRAGS: usize = 6;
/// Poll interval for the map's box and link (one poll is a few ms of WebDriver round trip).
const POLL: Duration = Duration::from_millis(50);
/// The map's box counts as grown once it kept its size this long (the site animates the
/// growth in ~0.25 s).
const BOX_STEADY: Duration = Duration::from_millis(300);
/// Google writes the logo link ~0.1–0.2 s after the map went idle; it counts as current once
/// unchanged this long.
const LINK_STEADY: Duration = Duration::from_millis(400);
/// How long the map may take to grow, settle, or write its link after a drag.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);
/// A drag is held still this long before release, so the map does not glide on.
const DRAG_HOLD: Duration = Duration::from_millis(150);
/// A drag moves the pointer over this long (a person's hand, not a jump).
const DRAG_MOVE: Duration = Duration::from_millis(200);
/// The measuring drag's length (CSS px): under half the narrowest world a map shows (256 px at
/// zoom 0), so the centre's move cannot be mistaken for one the other way round the world.
const MEASURE_DRAG_PX: f64 = 100.0;
/// The link's whole zoom is taken as the map's scale from the next round on when the measured
/// scale is within this fraction of it (a raster map).
const WHOLE_ZOOM_AGREEMENT: f64 = 0.01;

pub(crate) use crate::browser::rect::{Rect, RECTS_JS};

/// The `href` of the first element matching `arguments[0]`, or null.
const HREF_JS: &str = r#"
const e = document.querySelector(arguments[0]);
return e ? (e.getAttribute('href') || '') : null;"#;

/// How the map's scale is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibration {
    /// The logo link's whole zoom (a raster map's true zoom).
    LinkZoom,
    /// Measured by a sideways drag each round (fractional zooms).
    Drag,
}

/// Where the map's centre is and how big its world is: enough to put any point on screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MapView {
    /// The centre as Web Mercator world fractions (0–1).
    pub centre: (f64, f64),
    /// The world's width in CSS pixels.
    pub world_px: f64,
    /// The map's box on screen.
    pub frame: Rect,
}

/// Web Mercator world fractions of `at` (x east from -180°, y south from the top).
pub(crate) fn fraction(at: LatLon) -> (f64, f64) {
    let lat = at
        .lat
        .clamp(-MAX_MERCATOR_LAT, MAX_MERCATOR_LAT)
        .to_radians();
    let fx = (at.lon + 180.0) / 360.0;
    let fy = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    (fx, fy)
}

/// `d` moved into [-0.5, 0.5): the shortest way round the world.
fn wrap(d: f64) -> f64 {
    d - d.round()
}

impl MapView {
    /// Screen pixel of `at` (of the world's copies, the one nearest the map's centre).
    pub fn pixel(&self, at: LatLon) -> (f64, f64) {
        let (fx, fy) = fraction(at);
        let (cx, cy) = self.frame.centre();
        (
            cx + wrap(fx - self.centre.0) * self.world_px,
            cy + (fy - self.centre.1) * self.world_px,
        )
    }
}

/// The logo link's view: `(lat, lng, zoom)` from `ll=LAT,LNG` and `z=ZOOM` in `href`; `None`
/// when either is missing or out of range.
pub(crate) fn parse_view_link(href: &str) -> Option<(f64, f64, f64)> {
    let query = href.split_once('?').map(|(_, q)| q)?;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    let (mut ll, mut z) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "ll" => {
                let (a, b) = v.split_once(',')?;
                ll = Some((a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?));
            }
            "z" => z = v.parse::<f64>().ok(),
            _ => {}
        }
    }
    let ((lat, lng), z) = (ll?, z?);
    let ok = lat.is_finite()
        && lng.is_finite()
        && z.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lng)
        && (0.0..=30.0).contains(&z);
    ok.then_some((lat, lng, z))
}

/// The drift of one guess: how far the point the site received lies from the point meant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// In guess-map pixels at the view the click was made in.
    pub px: f64,
    pub km: f64,
}

/// The guess map of one page, with what its past rounds taught.
#[derive(Debug)]
pub(crate) struct GuessMap {
    calibration: Calibration,
    /// A click aimed by the link's zoom drifted: the link's zoom is never trusted again.
    link_zoom_failed: bool,
    /// The view the last click was aimed in.
    aimed: Option<MapView>,
    /// Set when clicks drifted even with the drag calibration: the next guess stops with it.
    stopped: Option<String>,
}

impl Default for GuessMap {
    fn default() -> Self {
        GuessMap {
            // The first round measures; a raster map then needs no more drags.
            calibration: Calibration::Drag,
            link_zoom_failed: false,
            aimed: None,
            stopped: None,
        }
    }
}

/// One pointer drag by `(dx, dy)` from the element's centre, held still before release.
pub(super) fn drag_actions(el: &fantoccini::elements::Element, dx: f64, dy: f64) -> MouseActions {
    MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: el.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(DRAG_MOVE),
            x: dx.round(),
            y: dy.round(),
        })
        .then(PointerAction::Pause {
            duration: DRAG_HOLD,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        })
}

impl GuessMap {
    #[cfg(test)]
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    async fn rects(browser: &Browser, selector: &str) -> Result<Vec<Rect>, SiteError> {
        let v = browser
            .client()
            .execute(RECTS_JS, vec![json!(selector)])
            .await
            .map_err(cmd("reading the page"))?;
        serde_json::from_value(v)
            .map_err(|e| SiteError::Page(format!("reading element positions: {e}")))
    }

    /// The map's box once it has stopped growing.
    pub(super) async fn steady_box(
        browser: &Browser,
        opts: &SiteOptions,
    ) -> Result<Rect, SiteError> {
        let sel = &opts.selectors.guess_map;
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut last: Option<(Rect, Instant)> = None;
        loop {
            let now = Instant::now();
            let r = Self::rects(browser, sel)
                .await?
                .into_iter()
                .find(|r| r.w > 1.0 && r.h > 1.0);
            match (r, last) {
                (Some(r), Some((l, since))) if r == l => {
                    if now.duration_since(since) >= BOX_STEADY {
                        return Ok(r);
                    }
                }
                (Some(r), _) => last = Some((r, now)),
                (None, _) => last = None,
            }
            if now >= deadline {
                return match last {
                    Some((r, _)) => Ok(r),
                    None => Err(SiteError::Selector {
                        key: "geoguessr.selectors.guess_map",
                        selector: sel.clone(),
                        waited: SETTLE_TIMEOUT,
                    }),
                };
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The logo link's view once it is written, differs from `before` (when given) and has
    /// stayed the same for [`LINK_STEADY`].
    pub(super) async fn steady_link(
        browser: &Browser,
        opts: &SiteOptions,
        before: Option<&str>,
    ) -> Result<(String, (f64, f64, f64)), SiteError> {
        let sel = &opts.selectors.map_view_link;
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut last: Option<(String, Instant)> = None;
        loop {
            let now = Instant::now();
            let v = browser
                .client()
                .execute(HREF_JS, vec![json!(sel)])
                .await
                .map_err(cmd("reading the guess map's link"))?;
            let href = v.as_str().map(str::to_string);
            match (href, &last) {
                (Some(h), Some((l, since))) if &h == l => {
                    if now.duration_since(*since) >= LINK_STEADY && Some(h.as_str()) != before {
                        if let Some(view) = parse_view_link(&h) {
                            return Ok((h, view));
                        }
                    }
                }
                (Some(h), _) => last = Some((h, now)),
                (None, _) => last = None,
            }
            if now >= deadline {
                return Err(match last {
                    None => SiteError::Selector {
                        key: "geoguessr.selectors.map_view_link",
                        selector: sel.clone(),
                        waited: SETTLE_TIMEOUT,
                    },
                    Some(_) => SiteError::Page(format!(
                        "the guess map's link (geoguessr.selectors.map_view_link = {sel:?}) gave no current view with ll=LAT,LNG and z=ZOOM in {SETTLE_TIMEOUT:?}"
                    )),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The map's view as it is now: the box after growing, the link's centre, and the scale
    /// (measured by a drag under [`Calibration::Drag`]).
    async fn view(
        &mut self,
        browser: &Browser,
        opts: &SiteOptions,
        el: &fantoccini::elements::Element,
        world_px: Option<f64>,
    ) -> Result<(MapView, String), SiteError> {
        // Hovering grows the map; everything below is measured on the grown one.
        let hover = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element: el.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        });
        browser
            .client()
            .perform_actions(hover)
            .await
            .map_err(cmd("moving to the guess map"))?;
        let frame = Self::steady_box(browser, opts).await?;
        let (href, (lat, lng, z)) = Self::steady_link(browser, opts, None).await?;
        let centre = fraction(LatLon { lat, lon: lng });
        let whole = TILE_PX * 2f64.powf(z);
        let world_px = match (world_px, self.calibration) {
            (Some(w), _) => w,
            (None, Calibration::LinkZoom) => whole,
            (None, Calibration::Drag) => {
                // Sideways: longitude wraps, latitude is clamped at the world's edges.
                let dx = (frame.w / 3.0).min(MEASURE_DRAG_PX).round();
                browser
                    .client()
                    .perform_actions(drag_actions(el, dx, 0.0))
                    .await
                    .map_err(cmd("dragging the guess map to measure it"))?;
                let (h2, (lat2, lng2, _)) = Self::steady_link(browser, opts, Some(&href)).await?;
                let moved = wrap(
                    centre.0
                        - fraction(LatLon {
                            lat: lat2,
                            lon: lng2,
                        })
                        .0,
                );
                if moved.abs() < 1e-12 {
                    return Err(SiteError::Page(
                        "the guess map did not move when dragged: its scale cannot be measured"
                            .into(),
                    ));
                }
                let measured = dx / moved;
                debug!(measured, whole, "guess map scale measured by a drag");
                if !self.link_zoom_failed && (measured / whole - 1.0).abs() < WHOLE_ZOOM_AGREEMENT {
                    self.calibration = Calibration::LinkZoom;
                }
                let view = MapView {
                    centre: fraction(LatLon {
                        lat: lat2,
                        lon: lng2,
                    }),
                    world_px: measured,
                    frame,
                };
                return Ok((view, h2));
            }
        };
        Ok((
            MapView {
                centre,
                world_px,
                frame,
            },
            href,
        ))
    }

    /// Clicks the map at `at` and checks the pin appeared where clicked. `pin` reads the
    /// placed pin's box back.
    pub async fn click(
        &mut self,
        browser: &Browser,
        opts: &SiteOptions,
        at: LatLon,
    ) -> Result<(f64, f64), SiteError> {
        if let Some(why) = &self.stopped {
            return Err(SiteError::Page(why.clone()));
        }
        let el = browser
            .client()
            .find(fantoccini::Locator::Css(&opts.selectors.guess_map))
            .await
            .map_err(cmd("finding the guess map"))?;
        let (mut view, mut href) = self.view(browser, opts, &el, None).await?;
        let mut target = None;
        for _ in 0..MAX_DRAGS {
            let (x, y) = view.pixel(at);
            let f = view.frame;
            let inside = x >= f.x + EDGE_MARGIN_PX
                && x <= f.x + f.w - EDGE_MARGIN_PX
                && y >= f.y + EDGE_MARGIN_PX
                && y <= f.y + f.h - EDGE_MARGIN_PX;
            if inside {
                target = Some((x, y));
                break;
            }
            // Drag the target toward the centre (at most half a map a drag); the scale stays.
            let (cx, cy) = f.centre();
            let dx = (cx - x).clamp(-f.w / 2.0 + EDGE_MARGIN_PX, f.w / 2.0 - EDGE_MARGIN_PX);
            let dy = (cy - y).clamp(-f.h / 2.0 + EDGE_MARGIN_PX, f.h / 2.0 - EDGE_MARGIN_PX);
            browser
                .client()
                .perform_actions(drag_actions(&el, dx, dy))
                .await
                .map_err(cmd("dragging the guess map"))?;
            let (h2, (lat, lng, _)) = Self::steady_link(browser, opts, Some(&href)).await?;
            href = h2;
            view.centre = fraction(LatLon { lat, lon: lng });
            view.frame = Self::steady_box(browser, opts).await?;
        }
        let (x, y) = target.ok_or_else(|| {
            SiteError::Page("the guess point could not be brought into the guess map's view".into())
        })?;
        let (cx, cy) = view.frame.centre();
        let click = then_click(
            MouseActions::new("mouse".into()),
            &el,
            (x - cx).round(),
            (y - cy).round(),
        );
        browser
            .client()
            .perform_actions(click)
            .await
            .map_err(cmd("clicking the guess map"))?;
        self.aimed = Some(view);
        Ok((x.round(), y.round()))
    }

    /// Compares the point the site received with the point meant (after the round was scored),
    /// and changes strategy when they drifted apart by more than the tolerance.
    pub fn drift(
        &mut self,
        round: usize,
        meant: LatLon,
        received: LatLon,
        tolerance_px: f64,
    ) -> Option<Drift> {
        let view = self.aimed.take()?;
        let (ax, ay) = view.pixel(meant);
        let (bx, by) = view.pixel(received);
        let d = Drift {
            px: (ax - bx).hypot(ay - by),
            km: meant.distance_km(&received),
        };
        if d.px <= tolerance_px {
            debug!(round, px = d.px, km = d.km, "guess click drift");
            return Some(d);
        }
        match self.calibration {
            Calibration::LinkZoom => {
                warn!(round, px = d.px, km = d.km, "the site received the guess off the point clicked; measuring the guess map's scale by a drag from now on");
                self.calibration = Calibration::Drag;
                self.link_zoom_failed = true;
            }
            Calibration::Drag => {
                let why = format!(
                    "the site received round {round}'s guess {:.1} px ({:.1} km) from the point clicked, more than geoguessr.pin_tolerance_px = {tolerance_px}, even with the guess map's scale measured by a drag: stopped before clicking again (play --resume with --guess-via api finishes the game)",
                    d.px, d.km
                );
                info!(%why, "guess map clicks stopped");
                self.stopped = Some(why);
            }
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_gives_the_view_and_refuses_what_is_not_one() {
        let h = "https://maps.google.com/maps?ll=48.858200,2.294500&z=3&t=m&hl=en-US&gl=US&mapclient=apiv3";
        assert_eq!(parse_view_link(h), Some((48.8582, 2.2945, 3.0)));
        for bad in [
            "https://maps.google.com/maps?z=3",
            "https://maps.google.com/maps?ll=48.8,2.2",
            "https://maps.google.com/maps?ll=91,2&z=3",
            "https://maps.google.com/maps?ll=NaN,2&z=3",
            "https://maps.google.com/maps?ll=1,2&z=1e9",
            "no query",
        ] {
            assert_eq!(parse_view_link(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_point_lands_where_the_view_puts_it() {
        let frame = Rect {
            x: 100.0,
            y: 50.0,
            w: 560.0,
            h: 400.0,
        };
        // The world at zoom 1 (512 px) centred on (0, 0).
        let v = MapView {
            centre: (0.5, 0.5),
            world_px: 512.0,
            frame,
        };
        let (x, y) = v.pixel(LatLon {
            lat: 0.0,
            lon: 90.0,
        });
        assert!(
            (x - (380.0 + 128.0)).abs() < 1e-9 && (y - 250.0).abs() < 1e-9,
            "{x} {y}"
        );
        // Across the antimeridian, the nearest copy.
        let v = MapView {
            centre: fraction(LatLon {
                lat: 0.0,
                lon: 179.0,
            }),
            ..v
        };
        let (x, _) = v.pixel(LatLon {
            lat: 0.0,
            lon: -179.0,
        });
        assert!((x - (380.0 + 2.0 / 360.0 * 512.0)).abs() < 1e-9, "{x}");
    }

    #[test]
    fn a_drift_over_the_tolerance_switches_to_the_drag_then_stops() {
        let frame = Rect {
            x: 0.0,
            y: 0.0,
            w: 560.0,
            h: 400.0,
        };
        let view = MapView {
            centre: (0.5, 0.5),
            world_px: 512.0,
            frame,
        };
        let mut m = GuessMap {
            calibration: Calibration::LinkZoom,
            ..GuessMap::default()
        };
        let meant = LatLon {
            lat: 10.0,
            lon: 10.0,
        };
        m.aimed = Some(view);
        let d = m.drift(1, meant, meant, 3.0).unwrap();
        assert_eq!(d.px, 0.0);
        assert_eq!(m.calibration(), Calibration::LinkZoom);
        let off = LatLon {
            lat: 10.0,
            lon: 14.0,
        };
        m.aimed = Some(view);
        let d = m.drift(2, meant, off, 3.0).unwrap();
        assert!((d.px - 4.0 / 360.0 * 512.0).abs() < 1e-6, "{d:?}");
        assert_eq!(m.calibration(), Calibration::Drag);
        assert!(m.stopped.is_none());
        m.aimed = Some(view);
        m.drift(3, meant, off, 3.0);
        assert!(m.stopped.as_deref().unwrap().contains("round 3"));
        // Nothing aimed (an API guess): no drift.
        assert_eq!(m.drift(4, meant, off, 3.0), None);
    }
}
