//! `geoguessr check`: whether the site still looks the way the adapter reads it, without
//! playing. The cookie and the map's facts are read through the API; with a game page to open
//! (a game of the user's, or one made on request: this module never makes one), every selector
//! is counted, the spinner while the round loads, the page's `data-qa` hooks and class prefixes
//! are surveyed, and the guess map is calibrated as a guess would be (its scale by a sideways
//! drag against the logo link's zoom; then, zoomed in until it has room to move, the projection
//! by a drag up or down against Web Mercator's prediction; a pin placed and read back; no guess
//! is sent).
//!
//! The result is a [`CheckReport`] a user may attach to a bug report: [`CheckReport::to_json`]
//! never holds the cookie, the game token or a coordinate (no link `href`, no `ll=` value, no
//! latitude or longitude; class names and hooks are kept only when made of name characters).

use super::guess_map::{drag_actions, fraction, GuessMap, Rect, RECTS_JS};
use super::page::Page;
use super::settings::SiteOptions;
use super::{NcfaCookie, SiteError, Token};
use crate::browser::{cdp::CdpCommand, cmd, then_click, Browser, BrowserOptions};
use crate::geo::LatLon;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, WheelAction, WheelActions};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Distinct `data-qa` values and class prefixes kept in a report, each: a page with more is
/// hostile or broken, and a bug report needs the common ones.
const MAX_SURVEY_NAMES: usize = 400;
/// Longest `data-qa` value or class prefix kept (characters): the site's are under 60.
const MAX_NAME_CHARS: usize = 80;
/// The vertical drag that checks the projection (CSS px): small, so a map fitted to its
/// bounds can move that far without reaching the world's edge.
const PROJECTION_DRAG_PX: f64 = 40.0;
/// The sideways drag that measures the scale (CSS px); under half the narrowest world a map
/// shows (256 px at zoom 0), so the move cannot be taken for one the other way round.
const SCALE_DRAG_PX: f64 = 100.0;
/// Web Mercator's tile size in CSS px at zoom 0.
const TILE_PX: f64 = 256.0;
/// Wheel notches the projection check may zoom in by to give the map room to move up and
/// down (a world shown whole cannot); each is one whole level on a raster map.
const MAX_ZOOM_NOTCHES: usize = 6;
/// One wheel notch in Chromium (`deltaY`, CSS px).
const WHEEL_NOTCH_PX: i64 = 100;
/// A measured scale this close to the link's whole zoom is a raster map's true zoom.
const WHOLE_ZOOM_AGREEMENT: f64 = 0.01;
/// How long the placed pin may take to appear after the click.
const PIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Poll interval for the pin.
const POLL: Duration = Duration::from_millis(50);

/// What one check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    Ok(String),
    Failed(String),
    /// Not checked, and why.
    NotChecked(String),
}

impl Outcome {
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

/// Where one selector matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelectorCheck {
    pub key: &'static str,
    pub selector: String,
    /// Elements matched (for the spinner: most at once while the round loaded); `None` when
    /// not checked.
    pub found: Option<usize>,
    /// Why not checked, or what else was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The page's hooks and class names, hash suffixes cut (`guess-map_canvas__`), with counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PageSurvey {
    pub data_qa: BTreeMap<String, usize>,
    pub class_prefixes: BTreeMap<String, usize>,
    /// Class prefixes on the page only while the round loaded (a renamed spinner shows here).
    pub loading_only_class_prefixes: Vec<String>,
    /// Names left out: not made of name characters, too long, or past the limit.
    pub names_left_out: usize,
}

/// The guess map calibrated as a guess would calibrate it. No coordinates: zooms, ratios and
/// pixel errors only.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CalibrationCheck {
    /// How a guess would know the map's scale: `link_zoom` (a raster map) or `drag`.
    pub scale_from: Option<&'static str>,
    /// The logo link's zoom.
    pub link_zoom: Option<f64>,
    /// The scale measured by the sideways drag over the link zoom's (1 = raster).
    pub measured_over_link: Option<f64>,
    /// How far (px) the map's centre moved off the Web Mercator prediction on the upward drag.
    pub projection_error_px: Option<f64>,
    /// How far (px) the placed pin's tip lies from the click.
    pub pin_offset_px: Option<f64>,
    /// The guess map's box once grown (CSS px).
    pub map_size: Option<(f64, f64)>,
}

/// Everything `geoguessr check` found; see the module's doc for what it never holds.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub geoagent_version: &'static str,
    pub site: String,
    pub cookie: Outcome,
    pub map: Outcome,
    /// `none`, `given` (--game) or `created` (--create-game); never the token.
    pub game: &'static str,
    pub browser: Outcome,
    pub round_ready: Outcome,
    pub selectors: Vec<SelectorCheck>,
    pub page: Option<PageSurvey>,
    pub calibration: Outcome,
    pub calibration_figures: CalibrationCheck,
    pub timings_ms: BTreeMap<&'static str, u64>,
}

impl CheckReport {
    /// Selectors that matched nothing, and checks that failed.
    pub fn failures(&self) -> usize {
        let misses = self.selectors.iter().filter(|s| s.found == Some(0)).count();
        misses
            + [
                &self.cookie,
                &self.map,
                &self.browser,
                &self.round_ready,
                &self.calibration,
            ]
            .iter()
            .filter(|o| o.failed())
            .count()
    }

    /// The report as JSON with every spelling of `secrets` (the cookie, the game token)
    /// replaced and any `ll=` value cut, also inside error texts.
    pub fn to_json(&self, secrets: &[&str]) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        scrub(&mut v, secrets);
        serde_json::to_string_pretty(&v).unwrap_or_default()
    }
}

/// Replaces secrets and `ll=` values in every string (keys too) of `v`.
fn scrub(v: &mut Value, secrets: &[&str]) {
    match v {
        Value::String(s) => *s = redacted(s, secrets),
        Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, secrets)),
        Value::Object(o) => {
            let old = std::mem::take(o);
            for (k, mut x) in old {
                scrub(&mut x, secrets);
                o.insert(redacted(&k, secrets), x);
            }
        }
        _ => {}
    }
}

/// `text` without `secrets` (as is and percent-encoded), `ll=` values or control characters.
pub fn redacted(text: &str, secrets: &[&str]) -> String {
    let mut t = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        t = super::page::redact(&t, s);
    }
    let mut out = String::with_capacity(t.len());
    let mut rest = t.as_str();
    while let Some(i) = rest.find("ll=") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let end = rest
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c == ']' || c.is_whitespace())
            .unwrap_or(rest.len());
        // A selector's `[href*="ll="]` holds no value.
        if end > 0 {
            out.push_str("<redacted>");
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    crate::text::line(&out, 2000)
}

/// A class name without its CSS-module hash (`guess-map_canvas__a1B2c` → `guess-map_canvas__`);
/// `None` unless made of name characters and short.
fn class_prefix(class: &str) -> Option<String> {
    let p = match class.rfind("__") {
        Some(i) if i > 0 => &class[..i + 2],
        _ => class,
    };
    name_ok(p).then(|| p.to_string())
}

fn name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.chars().count() <= MAX_NAME_CHARS
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Records, from the document's creation on, the classes of every element and the most
/// elements matching the spinner selector at once (a loading screen may be gone before the
/// first WebDriver look). `{SPINNER}` is the selector as a JSON string.
const OBSERVER_JS: &str = r#"
(() => {
  const seen = new Set(); let most = 0;
  const add = e => { if (seen.size < 5000 && e.classList) for (const c of e.classList) seen.add(c); };
  const look = records => {
    let n = 0;
    try { for (const e of document.querySelectorAll({SPINNER})) { const r = e.getBoundingClientRect(); if (r.width >= 1 && r.height >= 1) n++; } } catch (e) {}
    if (n > most) most = n;
    for (const r of records) {
      if (r.type === 'attributes') add(r.target);
      for (const a of r.addedNodes) if (a.nodeType === 1) { add(a); for (const e of a.querySelectorAll('[class]')) add(e); }
    }
  };
  new MutationObserver(look).observe(document, {childList: true, subtree: true, attributes: true, attributeFilter: ['class']});
  Object.defineProperty(window, '__geoagentCheck', {value: () => ({most, seen: Array.from(seen)}), enumerable: false});
})();"#;

/// The page's `data-qa` values and classes with counts, and the observer's findings.
const SURVEY_JS: &str = r#"
const qa = {}, cls = {};
for (const e of document.querySelectorAll('[data-qa]')) { const v = e.getAttribute('data-qa'); qa[v] = (qa[v] || 0) + 1; }
for (const e of document.querySelectorAll('[class]')) for (const c of e.classList) cls[c] = (cls[c] || 0) + 1;
const o = window.__geoagentCheck ? window.__geoagentCheck() : null;
return {qa, cls, observed: o};"#;

/// What the page gives about itself.
#[derive(Debug, serde::Deserialize)]
struct SurveyRaw {
    qa: BTreeMap<String, usize>,
    cls: BTreeMap<String, usize>,
    observed: Option<Observed>,
}

#[derive(Debug, serde::Deserialize)]
struct Observed {
    most: usize,
    seen: Vec<String>,
}

/// Runs the checks that need no game: the cookie and the map's facts.
pub async fn check_account(
    opts: &SiteOptions,
    cookie: &NcfaCookie,
    map_id: &str,
) -> (CheckReport, Option<super::api::Profile>) {
    let mut timings = BTreeMap::new();
    let t = Instant::now();
    let (cookie_outcome, profile) = match super::api::Api::new(opts, cookie) {
        Err(e) => (Outcome::Failed(e.to_string()), None),
        Ok(api) => {
            let p = api.profile().await;
            timings.insert("cookie", ms(t));
            match p {
                Ok(p) => (
                    Outcome::Ok(format!("signed in as {:?}", crate::text::line(&p.nick, 80))),
                    Some((api, p)),
                ),
                Err(e) => (Outcome::Failed(e.to_string()), None),
            }
        }
    };
    let map = match &profile {
        None => Outcome::NotChecked("the cookie was refused".into()),
        Some((api, _)) => match Token::parse(map_id) {
            Err(e) => Outcome::Failed(format!("game.map {map_id:?}: {e}")),
            Ok(id) => {
                let t = Instant::now();
                let r = api.map(&id).await;
                timings.insert("map", ms(t));
                match r {
                    Ok(f) if f.max_error_distance.is_finite() && f.max_error_distance > 0.0 => {
                        Outcome::Ok(format!(
                            "{}: maxErrorDistance {:.0} m",
                            id.as_str(),
                            f.max_error_distance
                        ))
                    }
                    Ok(f) => Outcome::Failed(format!(
                        "map {}: maxErrorDistance {} is not a distance",
                        id.as_str(),
                        f.max_error_distance
                    )),
                    Err(e) => Outcome::Failed(e.to_string()),
                }
            }
        },
    };
    let no_game = "no game page was opened: geoguessr check makes no game unless asked (--create-game), and none was given (--game URL)";
    let report = CheckReport {
        geoagent_version: env!("CARGO_PKG_VERSION"),
        site: opts.base_url.clone(),
        cookie: cookie_outcome,
        map,
        game: "none",
        browser: Outcome::NotChecked(no_game.into()),
        round_ready: Outcome::NotChecked(no_game.into()),
        selectors: opts
            .selectors
            .named()
            .into_iter()
            .map(|(key, selector)| SelectorCheck {
                key,
                selector: selector.to_string(),
                found: None,
                note: Some(no_game.into()),
            })
            .collect(),
        page: None,
        calibration: Outcome::NotChecked(no_game.into()),
        calibration_figures: CalibrationCheck::default(),
        timings_ms: timings,
    };
    (report, profile.map(|(_, p)| p))
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Opens game `token`'s page and checks it into `report`: the round's start, every selector,
/// the page's survey and the guess map's calibration. Nothing is guessed.
pub async fn check_page(
    report: &mut CheckReport,
    opts: &SiteOptions,
    cookie: &NcfaCookie,
    browser: &BrowserOptions,
    token: &Token,
    game: &'static str,
) {
    report.game = game;
    let total = Instant::now();
    let t = Instant::now();
    let b = match Browser::launch(browser).await {
        Ok(b) => b,
        Err(e) => {
            report.browser = Outcome::Failed(e.to_string());
            return;
        }
    };
    report.timings_ms.insert("browser_launch", ms(t));
    // Without CDP (another WebDriver) the spinner is only polled for.
    let observing = b.cdp && observe(&b, &opts.selectors.spinner).await.is_ok();
    let t = Instant::now();
    let mut page = match Page::open(b, opts, cookie, token.as_str()).await {
        Ok(p) => p,
        Err(e) => {
            report.browser = Outcome::Failed(e.to_string());
            return;
        }
    };
    report.timings_ms.insert("page_open", ms(t));
    report.browser = Outcome::Ok(if observing {
        "Chromium took the _ncfa cookie and opened the game page (the loading screen watched from the page's start)".into()
    } else {
        "the browser took the _ncfa cookie and opened the game page (no CDP: the loading screen is only polled for)".into()
    });
    let t = Instant::now();
    report.round_ready = match page.round_ready().await {
        Ok(_) => Outcome::Ok("the panorama was drawn and no spinner was on screen".into()),
        Err(e) => Outcome::Failed(e.to_string()),
    };
    report.timings_ms.insert("round_ready", ms(t));
    let survey = survey(page.browser()).await;
    let (observed_most, loading_only) = match &survey {
        Ok((s, most)) => (*most, s.loading_only_class_prefixes.clone()),
        Err(_) => (None, vec![]),
    };
    let t = Instant::now();
    let mut figures = CalibrationCheck::default();
    let calibration = calibrate(page.browser(), opts, &mut figures).await;
    report.timings_ms.insert("calibration", ms(t));
    report.calibration = match calibration {
        Ok(()) => Outcome::Ok(describe(&figures)),
        Err(e) => Outcome::Failed(format!("{e} ({})", describe(&figures))),
    };
    report.calibration_figures = figures;
    let mut selectors = Vec::new();
    for (key, selector) in opts.selectors.named() {
        let count = page.count(selector).await;
        let (found, note) = match key {
            "geoguessr.selectors.close_round_result" => (
                None,
                Some("appears only after a guess; check sends none".into()),
            ),
            "geoguessr.selectors.spinner" => {
                let most = observed_most
                    .unwrap_or(0)
                    .max(page.spinner_seen())
                    .max(count.unwrap_or(0));
                let note = (most == 0).then(|| {
                    if loading_only.is_empty() {
                        "nothing matched while the round loaded, and no class was seen only then"
                            .to_string()
                    } else {
                        format!(
                            "nothing matched while the round loaded; classes seen only then: {}",
                            loading_only.join(", ")
                        )
                    }
                });
                (Some(most), note)
            }
            "geoguessr.selectors.guess_pin"
                if report.calibration_figures.pin_offset_px.is_none() =>
            {
                (
                    None,
                    Some(
                        "the pin is placed by the calibration's click, which did not happen".into(),
                    ),
                )
            }
            _ => match count {
                Ok(n) => (Some(n), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        selectors.push(SelectorCheck {
            key,
            selector: selector.to_string(),
            found,
            note,
        });
    }
    report.selectors = selectors;
    report.page = survey.ok().map(|(s, _)| s);
    page.close().await;
    report.timings_ms.insert("page_total", ms(total));
}

/// Installs [`OBSERVER_JS`] for every document the browser opens from now on.
async fn observe(b: &Browser, spinner: &str) -> Result<(), SiteError> {
    let source = OBSERVER_JS.replace("{SPINNER}", &json!(spinner).to_string());
    b.client()
        .issue_cmd(CdpCommand {
            cmd: "Page.addScriptToEvaluateOnNewDocument",
            params: json!({"source": source}),
        })
        .await
        .map_err(cmd("watching the page load (CDP)"))?;
    Ok(())
}

/// The page's survey, and the most spinner elements the observer saw at once.
async fn survey(b: &Browser) -> Result<(PageSurvey, Option<usize>), SiteError> {
    let v = b
        .client()
        .execute(SURVEY_JS, vec![])
        .await
        .map_err(cmd("surveying the page"))?;
    let raw: SurveyRaw = serde_json::from_value(v)
        .map_err(|e| SiteError::Page(format!("surveying the page: {e}")))?;
    let mut s = PageSurvey::default();
    for (name, n) in raw.qa {
        if name_ok(&name) && s.data_qa.len() < MAX_SURVEY_NAMES {
            s.data_qa.insert(name, n);
        } else {
            s.names_left_out += 1;
        }
    }
    for (class, n) in raw.cls {
        match class_prefix(&class) {
            Some(p)
                if s.class_prefixes.len() < MAX_SURVEY_NAMES
                    || s.class_prefixes.contains_key(&p) =>
            {
                *s.class_prefixes.entry(p).or_default() += n;
            }
            _ => s.names_left_out += 1,
        }
    }
    let most = raw.observed.as_ref().map(|o| o.most);
    if let Some(o) = raw.observed {
        let mut only: Vec<String> = o
            .seen
            .iter()
            .filter_map(|c| class_prefix(c))
            .filter(|p| !s.class_prefixes.contains_key(p))
            .collect();
        only.sort();
        only.dedup();
        only.truncate(MAX_SURVEY_NAMES);
        s.loading_only_class_prefixes = only;
    }
    Ok((s, most))
}

fn describe(f: &CalibrationCheck) -> String {
    let mut parts = vec![];
    if let (Some(from), Some(r)) = (f.scale_from, f.measured_over_link) {
        parts.push(format!(
            "scale from {} (measured by a drag / link zoom = {r:.3})",
            from.replace('_', " ")
        ));
    }
    if let Some(e) = f.projection_error_px {
        parts.push(format!("projection off by {e:.1} px on a drag"));
    }
    if let Some(p) = f.pin_offset_px {
        parts.push(format!("pin {p:.1} px from the click"));
    }
    if parts.is_empty() {
        "nothing measured".into()
    } else {
        parts.join(", ")
    }
}

/// Drags the map by `(dx, dy)` and reads the link's new view: `(href, centre as world
/// fractions, zoom)`. `what` names the drag in errors.
async fn drag_read(
    b: &Browser,
    opts: &SiteOptions,
    el: &fantoccini::elements::Element,
    (dx, dy): (f64, f64),
    before: &str,
    what: &str,
) -> Result<(String, (f64, f64), f64), SiteError> {
    b.client()
        .perform_actions(drag_actions(el, dx, dy))
        .await
        .map_err(cmd(format!("dragging the guess map {what}")))?;
    let (href, (lat, lng, z)) = GuessMap::steady_link(b, opts, Some(before))
        .await
        .map_err(|e| {
            SiteError::Page(format!(
                "after dragging the guess map {what}, its link gave no new view: the map did not move, or {e}"
            ))
        })?;
    Ok((href, fraction(LatLon { lat, lon: lng }), z))
}

/// The world's width in px measured by a sideways drag from the view `(href, centre)`;
/// returns it with the view after the drag.
async fn measure_scale(
    b: &Browser,
    opts: &SiteOptions,
    el: &fantoccini::elements::Element,
    frame: Rect,
    (href, centre): (&str, (f64, f64)),
) -> Result<(f64, String, (f64, f64), f64), SiteError> {
    let dx = (frame.w / 3.0).min(SCALE_DRAG_PX).round();
    let (h2, c2, z2) = drag_read(b, opts, el, (dx, 0.0), href, "sideways").await?;
    let moved = centre.0 - c2.0;
    let moved = moved - moved.round();
    if moved.abs() < 1e-12 {
        return Err(SiteError::Page(
            "the guess map did not move when dragged: its scale cannot be measured".into(),
        ));
    }
    Ok((dx / moved, h2, c2, z2))
}

/// Calibrates the guess map as a guess would (see the module's doc), filling `f` as it goes.
async fn calibrate(
    b: &Browser,
    opts: &SiteOptions,
    f: &mut CalibrationCheck,
) -> Result<(), SiteError> {
    let el = b
        .client()
        .find(fantoccini::Locator::Css(&opts.selectors.guess_map))
        .await
        .map_err(|_| SiteError::Selector {
            key: "geoguessr.selectors.guess_map",
            selector: opts.selectors.guess_map.clone(),
            waited: Duration::ZERO,
        })?;
    let hover = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
        element: el.clone(),
        duration: None,
        x: 0.0,
        y: 0.0,
    });
    b.client()
        .perform_actions(hover)
        .await
        .map_err(cmd("moving to the guess map"))?;
    let frame = GuessMap::steady_box(b, opts).await?;
    f.map_size = Some((frame.w, frame.h));
    // The scale at the view a guess is aimed in: the map as it opened.
    let (h1, (lat1, lng1, z)) = GuessMap::steady_link(b, opts, None).await?;
    f.link_zoom = Some(z);
    let c1 = fraction(LatLon {
        lat: lat1,
        lon: lng1,
    });
    let (world_px, mut href, _, _) = measure_scale(b, opts, &el, frame, (&h1, c1)).await?;
    let ratio = world_px / (TILE_PX * 2f64.powf(z));
    f.measured_over_link = Some(ratio);
    f.scale_from = Some(if (ratio - 1.0).abs() < WHOLE_ZOOM_AGREEMENT {
        "link_zoom"
    } else {
        "drag"
    });
    // The projection needs room to move up and down: a world shown whole does not.
    let mut zoom = z;
    for _ in 0..MAX_ZOOM_NOTCHES {
        if TILE_PX * 2f64.powf(zoom) >= frame.h * 2.0 + 4.0 * PROJECTION_DRAG_PX {
            break;
        }
        let (cx, cy) = (frame.x + frame.w / 2.0, frame.y + frame.h / 2.0);
        let notch = WheelActions::new("wheel".into()).then(WheelAction::Scroll {
            duration: None,
            x: cx.round() as i64,
            y: cy.round() as i64,
            delta_x: 0,
            delta_y: -WHEEL_NOTCH_PX,
        });
        b.client()
            .perform_actions(notch)
            .await
            .map_err(cmd("zooming the guess map"))?;
        let (h, (_, _, z2)) = GuessMap::steady_link(b, opts, Some(&href)).await?;
        href = h;
        zoom = z2;
    }
    let (_, (lat, lng, _)) = GuessMap::steady_link(b, opts, None).await?;
    let c = fraction(LatLon { lat, lon: lng });
    let (world_px, h2, c2, _) = measure_scale(b, opts, &el, frame, (&href, c)).await?;
    // Toward the world's middle: away from the edge the map stops at.
    let dy = if c2.1 < 0.5 {
        -PROJECTION_DRAG_PX
    } else {
        PROJECTION_DRAG_PX
    };
    let (_, c3, _) = drag_read(b, opts, &el, (0.0, dy), &h2, "up or down").await?;
    // Dragging the content by dy moves the centre by -dy: the prediction's error in px.
    let sideways = c3.0 - c2.0;
    let err = ((c3.1 - c2.1) * world_px + dy).hypot((sideways - sideways.round()) * world_px);
    f.projection_error_px = Some(err);
    // A pin, placed where a guess would be clicked, read back: no guess is sent.
    let frame = GuessMap::steady_box(b, opts).await?;
    let (ox, oy) = ((frame.w / 6.0).round(), (frame.h / 6.0).round());
    b.client()
        .perform_actions(then_click(MouseActions::new("mouse".into()), &el, ox, oy))
        .await
        .map_err(cmd("placing a pin on the guess map"))?;
    let (x, y) = (frame.x + frame.w / 2.0 + ox, frame.y + frame.h / 2.0 + oy);
    let pin = wait_pin(b, opts).await?;
    let off = (pin.x + pin.w / 2.0 - x).hypot(pin.y + pin.h - y);
    f.pin_offset_px = Some(off);
    let tol = opts.pin_tolerance_px;
    if err > tol {
        return Err(SiteError::Page(format!(
            "the guess map moved {err:.1} px off the Web Mercator prediction (more than geoguessr.pin_tolerance_px = {tol}): clicks would miss"
        )));
    }
    if off > tol {
        return Err(SiteError::Page(format!(
            "the pin landed {off:.1} px from the click (more than geoguessr.pin_tolerance_px = {tol}): is geoguessr.selectors.guess_pin still the placed pin?"
        )));
    }
    Ok(())
}

async fn wait_pin(b: &Browser, opts: &SiteOptions) -> Result<Rect, SiteError> {
    let sel = &opts.selectors.guess_pin;
    let deadline = Instant::now() + PIN_TIMEOUT;
    loop {
        let v = b
            .client()
            .execute(RECTS_JS, vec![json!(sel)])
            .await
            .map_err(cmd("reading the pin"))?;
        let rects: Vec<Rect> = serde_json::from_value(v)
            .map_err(|e| SiteError::Page(format!("reading the pin: {e}")))?;
        if let Some(r) = rects.into_iter().find(|r| r.w > 1.0 && r.h > 1.0) {
            return Ok(r);
        }
        if Instant::now() >= deadline {
            return Err(SiteError::Selector {
                key: "geoguessr.selectors.guess_pin",
                selector: sel.clone(),
                waited: PIN_TIMEOUT,
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_prefixes_lose_their_hash_and_odd_names() {
        assert_eq!(
            class_prefix("guess-map_canvas__a1B2c").as_deref(),
            Some("guess-map_canvas__")
        );
        assert_eq!(class_prefix("gmnoprint").as_deref(), Some("gmnoprint"));
        assert_eq!(class_prefix("x ll=48.1,2.3"), None);
        assert_eq!(class_prefix("48.69371"), None);
        assert_eq!(class_prefix(&"a".repeat(200)), None);
    }

    #[test]
    fn the_json_holds_no_secret_and_no_link_view() {
        let mut report = offline();
        report.cookie = Outcome::Failed(
            "GET /api/v3/games/TOKEN123: see https://maps.google.com/maps?ll=48.69371,6.18329&z=3 with cookie c%2Bk c+k".into(),
        );
        let json = report.to_json(&["TOKEN123", "c+k"]);
        for bad in ["TOKEN123", "48.69", "6.18", "c%2Bk", "c+k"] {
            assert!(!json.contains(bad), "{bad} in {json}");
        }
        assert!(json.contains("ll=<redacted>&z=3"), "{json}");
        assert_eq!(
            redacted("a[href*=\"ll=\"][href*=\"z=\"]", &[]),
            "a[href*=\"ll=\"][href*=\"z=\"]"
        );
    }

    /// A report with nothing checked (no network).
    fn offline() -> CheckReport {
        let opts = SiteOptions::default();
        CheckReport {
            geoagent_version: "0",
            site: opts.base_url.clone(),
            cookie: Outcome::NotChecked("offline".into()),
            map: Outcome::NotChecked("offline".into()),
            game: "none",
            browser: Outcome::NotChecked("offline".into()),
            round_ready: Outcome::NotChecked("offline".into()),
            selectors: vec![],
            page: None,
            calibration: Outcome::NotChecked("offline".into()),
            calibration_figures: CalibrationCheck::default(),
            timings_ms: BTreeMap::new(),
        }
    }
}
