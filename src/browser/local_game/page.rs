//! The local game's page, as the controller reads it: its state (one script answers the round,
//! the panorama, the guess map and the result) and the in-page waits built on that script.

use super::sel;
use serde::Deserialize;

pub(super) use crate::browser::rect::Rect;

#[derive(Debug, Clone, Deserialize)]
pub(super) struct PanoState {
    pub(super) ready: bool,
    /// `panorama` or `photo` (a single flat image).
    pub(super) kind: Option<String>,
    pub(super) heading: Option<f64>,
    pub(super) fov: Option<f64>,
    pub(super) pitch: Option<f64>,
    pub(super) frame: Option<f64>,
    pub(super) rect: Option<Rect>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct MapState {
    pub(super) view: Option<String>,
    pub(super) marker: Option<String>,
    pub(super) rect: Option<Rect>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct ResultState {
    pub(super) round: Option<f64>,
    pub(super) points: Option<f64>,
    pub(super) distance_km: Option<f64>,
    pub(super) truth_lat: Option<f64>,
    pub(super) truth_lon: Option<f64>,
    pub(super) guess_lat: Option<f64>,
    pub(super) guess_lon: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct PageState {
    pub(super) state: String,
    pub(super) viewport_width: Option<f64>,
    pub(super) game: Option<String>,
    pub(super) error: Option<String>,
    pub(super) round: Option<f64>,
    pub(super) rounds: Option<f64>,
    pub(super) pano: Option<PanoState>,
    pub(super) map: Option<MapState>,
    pub(super) result: Option<ResultState>,
}

impl PageState {
    /// A one-line description for error messages (no answer in it: only the page's own state).
    pub(super) fn summary(&self) -> String {
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

/// The page state and a snapshot of the canvas in one script: `{state, snap}`
/// (arguments: JPEG quality 0..1, slot).
pub(super) static STATE_AND_SNAPSHOT_JS: std::sync::LazyLock<String> = std::sync::LazyLock::new(
    || {
        format!(
        "const state = (function () {{{}}})();\nconst snap = (function () {{{}}}).apply(null, arguments);\nreturn {{state, snap}};",
        sel::READ_STATE_JS,
        sel::SNAPSHOT_JS
    )
    },
);

/// A page condition the page checks itself ([`sel::WAIT_IN_PAGE_BODY`]): each field that is set
/// must hold.
#[derive(Debug, serde::Serialize)]
pub(super) struct WaitSpec {
    pub(super) state: Option<&'static str>,
    pub(super) round: Option<usize>,
    pub(super) ready: bool,
    pub(super) result_round: Option<usize>,
}

/// Waits in the page for a [`WaitSpec`] (arguments: spec, longest wait in ms) and answers the
/// page state (`READ_STATE_JS`'s shape) when it holds, on the error state, or at the deadline.
pub(super) static WAIT_IN_PAGE_JS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "const read = function () {{{}}};\n{}",
        sel::READ_STATE_JS,
        sel::WAIT_IN_PAGE_BODY
    )
});
