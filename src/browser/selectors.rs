//! Every CSS selector and page attribute the controller relies on, in one place.
//!
//! These are the local game's DOM contract (see `web/index.html`); a site adapter for another game
//! would bring its own set.

pub(crate) const PANO: &str = "canvas#pano";
pub(crate) const MAP: &str = "#map";
pub(crate) const MAP_ZOOM_IN: &str = "#map-zoom-in";

/// `<body data-state=...>`: loading | start | guessing | result | finished | error.
pub(crate) const STATE_GUESSING: &str = "guessing";
pub(crate) const STATE_RESULT: &str = "result";
pub(crate) const STATE_FINISHED: &str = "finished";
pub(crate) const STATE_ERROR: &str = "error";
/// `<canvas id="pano" data-kind=...>` of a single flat photo (the other kind is `panorama`): only
/// heading 0 shows it, so one view is all there is to capture.
pub(crate) const PANO_KIND_PHOTO: &str = "photo";

/// `{data, width, height}` of the panorama canvas as a JPEG data URL at quality
/// `arguments[0]` (0..1), or `{data: null}` when the canvas cannot be exported.
pub(crate) const CANVAS_JPEG_JS: &str = r#"
const c = document.querySelector('canvas#pano');
if (!c) return {data: null};
try { return {data: c.toDataURL('image/jpeg', arguments[0]), width: c.width, height: c.height}; }
catch (e) { return {data: null, error: String(e)}; }
"#;

/// Snapshots the panorama canvas into page slot `arguments[1]` as a JPEG at quality
/// `arguments[0]`: the pixels are copied now and encoded on the browser's own thread
/// (`toBlob`), so the next turn need not wait for the encoder. `{taken}`, or `{taken: false,
/// error}` when the canvas cannot be exported.
pub(crate) const SNAPSHOT_JS: &str = r#"
const c = document.querySelector('canvas#pano');
if (!c) return {taken: false, error: 'no canvas'};
const shots = (window.__geoagentShots = window.__geoagentShots || {});
const s = {data: null, width: c.width, height: c.height, done: false, error: null};
try {
  c.toBlob(b => {
    if (!b) { s.error = 'the browser encoded nothing'; s.done = true; return; }
    const r = new FileReader();
    r.onload = () => { s.data = r.result; s.done = true; };
    r.onerror = () => { s.error = String(r.error); s.done = true; };
    r.readAsDataURL(b);
  }, 'image/jpeg', arguments[0]);
} catch (e) { return {taken: false, error: String(e)}; }
shots[arguments[1]] = s;
return {taken: true};
"#;

/// The snapshots in slots `arguments[0]`, in order, as `{pending: false, shots: [{data, width,
/// height, error}]}` once all are encoded (the slots are then freed), else `{pending: true}`.
pub(crate) const COLLECT_SNAPSHOTS_JS: &str = r#"
const shots = window.__geoagentShots || {};
const out = [];
for (const k of arguments[0]) {
  const s = shots[k];
  if (!s) { out.push({data: null, error: 'no snapshot in slot ' + k}); continue; }
  if (!s.done) return {pending: true};
  out.push({data: s.data, width: s.width, height: s.height, error: s.error});
}
for (const k of arguments[0]) delete shots[k];
return {pending: false, shots: out};
"#;

/// After `const read = function () { READ_STATE_JS }`: checks the wait spec `arguments[0]`
/// (`{state, round, ready, result_round}`, unset fields ignored) every 2 ms for up to
/// `arguments[1]` ms and calls back with the page state when it holds, on the error state or at
/// the deadline.
pub(crate) const WAIT_IN_PAGE_BODY: &str = r#"
const [spec, maxMs, done] = arguments;
const t0 = performance.now();
const holds = (s) =>
  (spec.state == null || s.state === spec.state) &&
  (spec.round == null || s.round === spec.round) &&
  (!spec.ready || (s.pano != null && s.pano.ready)) &&
  (spec.result_round == null ||
    (s.result != null && s.result.round === spec.result_round && s.result.points != null));
(function check() {
  const s = read();
  if (holds(s) || s.state === 'error' || performance.now() - t0 >= maxMs) done(s);
  else setTimeout(check, 2);
})();
"#;

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
