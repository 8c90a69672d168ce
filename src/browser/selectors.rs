//! Every CSS selector and page attribute the controller relies on, in one place.
//!
//! These are the local game's DOM contract (see `web/index.html`); a site adapter for another game
//! would bring its own set.

pub(crate) const PANO: &str = "canvas#pano";
pub(crate) const MAP: &str = "#map";
pub(crate) const MAP_ZOOM_IN: &str = "#map-zoom-in";
pub(crate) const GUESS_BUTTON: &str = "#guess-button";
pub(crate) const NEXT_BUTTON: &str = "#next-button";

/// `<body data-state=...>`: loading | start | guessing | result | finished | error.
pub(crate) const STATE_GUESSING: &str = "guessing";
pub(crate) const STATE_RESULT: &str = "result";
pub(crate) const STATE_FINISHED: &str = "finished";
pub(crate) const STATE_ERROR: &str = "error";
/// `<canvas id="pano" data-kind=...>` of a single flat photo (the other kind is `panorama`): only
/// heading 0 shows it, so one view is all there is to capture.
pub(crate) const PANO_KIND_PHOTO: &str = "photo";

/// Reads the whole page state in one WebDriver round trip. It only reads what the page shows
/// (attributes of visible elements), it never changes the game.
pub(crate) const READ_STATE_JS: &str = r#"
const b = document.body, p = document.querySelector('canvas#pano'),
      m = document.querySelector('#map'), r = document.querySelector('#result'),
      l = document.querySelector('#round-label');
const rect = e => { if (!e) return null; const q = e.getBoundingClientRect();
                    return {x: q.left, y: q.top, w: q.width, h: q.height}; };
const num = (e, k) => (e && e.dataset[k] !== undefined && e.dataset[k] !== '') ? Number(e.dataset[k]) : null;
return {
  state: b.dataset.state || '',
  viewport_width: window.innerWidth,
  game: b.dataset.game || null,
  error: b.dataset.error || null,
  round: num(l, 'round'), rounds: num(l, 'rounds'),
  pano: p ? { ready: p.dataset.ready === 'true', kind: p.dataset.kind || null,
              heading: num(p, 'heading'), pitch: num(p, 'pitch'),
              fov: num(p, 'fov'), frame: num(p, 'frame'), rect: rect(p),
              dpr: window.devicePixelRatio } : null,
  map: m ? { view: m.dataset.view || null, marker: m.dataset.marker || null, rect: rect(m) } : null,
  result: (r && b.dataset.state !== 'guessing') ? {
      round: num(r, 'round'), points: num(r, 'points'), distance_km: num(r, 'distanceKm'),
      truth_lat: num(r, 'truthLat'), truth_lon: num(r, 'truthLon'),
      guess_lat: num(r, 'guessLat'), guess_lon: num(r, 'guessLon'), total: num(r, 'total') } : null,
};
"#;
