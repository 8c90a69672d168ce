//! The replica's game page, varied as the real site may vary (none of it is what the adapter
//! reads; all of it is what a Google Maps page or GeoGuessr's build may do):
//!
//! - the guess map is drawn as `<img>` tiles, one 2D canvas, or a vector (SVG) layer; it opens
//!   fitted to the game's bounds, grows on hover keeping its centre, pans by drag (gliding on
//!   after a fast release), zooms around the pointer (whole levels on raster maps, fractions on
//!   the vector one, whose logo link then rounds the zoom), and says its view in the Google
//!   logo's link (`ll=LAT,LNG&z=ZOOM`) only once idle;
//! - the loading screen's class is one of several hashed spinner classes, anywhere in the
//!   element's class list; it covers a panorama canvas that is already on the page, and the
//!   round's first frame comes a moment after it went (or never, for a provider that fails);
//! - the panorama's canvas is Google's `widget-scene-canvas`, the newer
//!   `mapsConsumerUiSceneCoreScene__canvas` or another provider's, per round;
//! - each round starts facing a random heading; dragging the panorama turns it (grab), and a
//!   fast release glides on.

use super::{lock, Shared, S};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// How the guess map is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapRendering {
    /// `<img>` tiles whose `src` names `x`, `y`, `z`.
    Tiles,
    /// One 2D canvas.
    Canvas,
    /// An SVG layer, with fractional zoom.
    Vector,
}

impl MapRendering {
    pub const ALL: [MapRendering; 3] = [
        MapRendering::Tiles,
        MapRendering::Canvas,
        MapRendering::Vector,
    ];

    fn name(self) -> &'static str {
        match self {
            MapRendering::Tiles => "tiles",
            MapRendering::Canvas => "canvas",
            MapRendering::Vector => "vector",
        }
    }
}

/// What the page varies; [`PageOptions::default`] is the untouched replica.
#[derive(Debug, Clone)]
pub struct PageOptions {
    pub rendering: MapRendering,
    /// The guess map grows while the pointer is over it.
    pub grow_on_hover: bool,
    /// The Google logo link (with the map's view) is on the guess map.
    pub logo_link: bool,
    /// The loading screen stays this long (ms, drawn at random in the range).
    pub loading_ms: (u32, u32),
    /// The first frame comes up to this long (ms) after the loading screen went.
    pub first_frame_ms: u32,
    /// Class names of the loading screen, one drawn at random per round (a hash suffix is added).
    pub spinner_classes: Vec<String>,
    /// The panorama canvas's class per round, cycling.
    pub canvas_kinds: Vec<String>,
    /// Rounds whose panorama is never drawn (a provider that fails).
    pub blank_rounds: Vec<usize>,
    /// Each round starts facing a random heading (else north).
    pub random_heading: bool,
    /// The panorama's horizontal field of view at the start (degrees).
    pub fov_deg: f64,
    /// The guess pin's size (CSS px); its tip is the middle of its bottom edge.
    pub pin_size: (u32, u32),
    /// A wheel zoom animates this long (ms).
    pub zoom_animation_ms: u32,
    /// The guess map zooms in at most this far.
    pub max_zoom: u32,
}

impl Default for PageOptions {
    /// The untouched replica: everything the real site may do.
    fn default() -> Self {
        PageOptions {
            rendering: MapRendering::Canvas,
            grow_on_hover: true,
            logo_link: true,
            loading_ms: (150, 900),
            first_frame_ms: 300,
            spinner_classes: vec![
                "fullscreen-spinner_root".into(),
                "spinner_spinner".into(),
                "round-loading_spinner_wrapper".into(),
            ],
            canvas_kinds: vec![
                "widget-scene-canvas".into(),
                "widget-scene-canvas".into(),
                "mapsConsumerUiSceneCoreScene__canvas".into(),
                "widget-scene-canvas".into(),
                "pano-canvas".into(),
            ],
            blank_rounds: vec![],
            random_heading: true,
            fov_deg: 100.0,
            pin_size: (22, 34),
            zoom_animation_ms: 200,
            max_zoom: 18,
        }
    }
}

impl PageOptions {
    /// The untouched replica with its guess map drawn as `rendering`.
    pub fn drawn_as(rendering: MapRendering) -> PageOptions {
        PageOptions {
            rendering,
            ..PageOptions::default()
        }
    }
}

/// A hash-like suffix of `name` for this start (CSS modules append one per build).
fn hashed(salt: &str, name: &str) -> String {
    let mut h: u32 = 2_166_136_261;
    for b in salt.bytes().chain(name.bytes()) {
        h = (h ^ u32::from(b)).wrapping_mul(16_777_619);
    }
    format!("{name}__{:05x}", h & 0xF_FFFF)
}

/// The page for game `token` as `opts` describe it.
pub(super) fn render_page(
    salt: &str,
    opts: &PageOptions,
    guess_qa: &str,
    token: &str,
    next_data: &Value,
) -> String {
    let c = |name: &str| format!("{name}__{salt}");
    let options = json!({
        "rendering": opts.rendering.name(),
        "growOnHover": opts.grow_on_hover,
        "logoLink": opts.logo_link,
        "loadingMs": [opts.loading_ms.0, opts.loading_ms.1.max(opts.loading_ms.0)],
        "firstFrameMs": opts.first_frame_ms,
        "spinnerClasses": opts.spinner_classes.iter().map(|n| hashed(salt, n)).collect::<Vec<_>>(),
        "canvasKinds": opts.canvas_kinds,
        "blankRounds": opts.blank_rounds,
        "randomHeading": opts.random_heading,
        "fov": opts.fov_deg,
        "zoomAnimationMs": opts.zoom_animation_ms,
        "maxZoom": opts.max_zoom,
    });
    super::PAGE
        .replace("{LAYOUT}", &c("game-layout_layout"))
        .replace("{PANO}", &c("panorama_panorama"))
        .replace("{STATUS}", &c("game_status"))
        .replace("{COMPASS}", &c("panorama-compass_compass"))
        .replace("{OVERLAY}", &c("overlay_overlay"))
        .replace("{MAPBOX}", &c("guess-map_guessMap"))
        .replace("{ACTIVE}", &c("guess-map_active"))
        .replace("{MAPCANVAS}", &c("guess-map_canvas"))
        .replace("{PIN}", &c("map-pin_pin"))
        .replace("{PIN_W}", &opts.pin_size.0.to_string())
        .replace("{PIN_H}", &opts.pin_size.1.to_string())
        .replace("{BUTTON}", &c("button_button"))
        .replace("{RESULT}", &c("result_layout"))
        .replace("{GUESS_QA}", guess_qa)
        .replace("{TOKEN}", token)
        .replace("{OPTIONS}", &options.to_string())
        .replace("{NEXT_DATA}", &next_data.to_string().replace("</", "<\\/"))
}

/// `POST /replica/turned {token, round, turned}`: how far the page's view has turned from the
/// round's start heading (degrees, 0–360), for the tests.
pub(super) async fn turned(State(s): S, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let (Some(t), Some(r), Some(deg)) = (
        v.get("token").and_then(Value::as_str),
        v.get("round").and_then(Value::as_u64),
        v.get("turned").and_then(Value::as_f64),
    ) else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    lock(&s.turned).insert((t.to_string(), r as usize), deg);
    axum::http::StatusCode::NO_CONTENT.into_response()
}

/// The view's last reported turn per round of game `token` (rounds never turned are absent).
pub(super) fn turned_of(s: &Shared, token: &str) -> Vec<(usize, f64)> {
    let mut v: Vec<(usize, f64)> = lock(&s.turned)
        .iter()
        .filter(|((t, _), _)| t == token)
        .map(|((_, r), d)| (*r, *d))
        .collect();
    v.sort_by_key(|(r, _)| *r);
    v
}

/// `POST /replica/guessed {token, round, ms}`: the page's time from the panorama's first frame
/// to the press of the Guess button, for the turning benchmark.
pub(super) async fn guessed(State(s): S, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    let (Some(t), Some(r), Some(ms)) = (
        v.get("token").and_then(Value::as_str),
        v.get("round").and_then(Value::as_u64),
        v.get("ms").and_then(Value::as_f64),
    ) else {
        return axum::http::StatusCode::BAD_REQUEST.into_response();
    };
    lock(&s.shown_to_guess).insert((t.to_string(), r as usize), ms);
    axum::http::StatusCode::NO_CONTENT.into_response()
}

/// What [`guessed`] recorded per round of game `token`.
pub(super) fn shown_to_guess_of(s: &Shared, token: &str) -> Vec<(usize, f64)> {
    let mut v: Vec<(usize, f64)> = lock(&s.shown_to_guess)
        .iter()
        .filter(|((t, _), _)| t == token)
        .map(|((_, r), d)| (*r, *d))
        .collect();
    v.sort_by_key(|(r, _)| *r);
    v
}
