//! The geoguessr.com game page, driven like a person: set the cookie, open `/game/{token}`,
//! hide the HUD, compass, Google's controls and (while capturing) the guess map with injected
//! CSS, capture only the panorama canvas, turn by dragging it (or holding a key), and guess with a
//! real click on the guess map at the point's Web Mercator pixel ([`super::guess_map`]), verified
//! by reading back the pin. A round starts when the panorama is drawn: no spinner, a panorama
//! canvas on screen, and its pixels not one colour (a loading screen or a provider that failed).
//! Nothing here calls the page's framework or reads its data: only selectors, pixels and input
//! events.

use super::guess_map::{GuessMap, Rect, RECTS_JS};
use super::settings::{Selectors, SiteOptions};
use super::turn::{Strip, Turning};
use super::{NcfaCookie, SiteError};
use crate::browser::{cmd, Browser};
use crate::environment::View;
use fantoccini::actions::{InputSource, KeyAction, KeyActions, WheelAction, WheelActions};
use serde_json::json;
use std::time::{Duration, Instant};
use tracing::{debug, instrument, warn};

mod circle;

/// Poll interval for page conditions (one poll is a few ms of WebDriver round trip).
const POLL: Duration = Duration::from_millis(50);
/// How long to wait for a control that should already be there (the Guess button, the pin).
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// WebDriver's ArrowRight: Street View turns right while it is held.
const TURN_KEY: char = '\u{e014}';
/// The field of view of the start view (degrees), as recorded for a capture.
const START_FOV_DEG: f64 = 90.0;
/// Each zoom step narrows the view about this much (the meaning of `capture.zoom_steps`); the
/// recorded field of view of the zoomed view is an estimate from it.
const ZOOM_FACTOR_PER_STEP: f64 = 1.5;
/// JPEG quality of the probe that tells a drawn panorama from a blank one (only its spread of
/// brightness is read).
const READY_PROBE_QUALITY: u8 = 40;
/// Half the width of the brightness band (0–255 levels) a blank view's pixels fall in: JPEG
/// noise, near-black seams and anti-aliased text stay inside it.
const UNIFORM_BAND: usize = 8;
/// A view with more than this share of its pixels in one such band is blank: a loading screen's
/// word or logo covers a few percent; sky, road and ground never fit one band this tightly.
const UNIFORM_SHARE: f64 = 0.97;
/// The id of the style element that hides overlays for the whole game.
const HIDE_STYLE_ID: &str = "geoagent-hide";
/// The id of the style element that hides the guess map while capturing.
const CAPTURE_STYLE_ID: &str = "geoagent-capture";

/// The game page in one browser.
pub struct Page {
    browser: Browser,
    opts: SiteOptions,
    /// The canvas was clicked this round (keys reach it only after a click).
    focused: bool,
    /// The guess map and what its past rounds taught (drift, calibration).
    map: GuessMap,
    /// Most spinner elements seen at once while a round loaded (`geoguessr check`).
    spinner_seen: usize,
    /// How the view turns: the configured way, until a drag fails to turn it.
    turning: Turning,
    /// Degrees a drag pixel turns, once a full circle measured it.
    deg_per_px: Option<f64>,
}

/// Installs (or replaces) a style element: `arguments[0]` id, `arguments[1]` CSS (empty = remove).
const STYLE_JS: &str = r#"
let s = document.getElementById(arguments[0]);
if (!arguments[1]) { if (s) s.remove(); return true; }
if (!s) { s = document.createElement('style'); s.id = arguments[0]; document.head.appendChild(s); }
s.textContent = arguments[1];
return true;"#;

/// Resolves after two animation frames: what was drawn is on screen.
const FRAMES_JS: &str = r#"
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done(true)));"#;

/// WebDriver's Add Cookie with every field spelled out. fantoccini's own `add_cookie` sends
/// `"domain": null` for a cookie without a Domain, which chromedriver rejects ("invalid
/// argument: invalid 'domain'"), so the domain is always named here. `Debug` hides the value.
struct AddCookie {
    value: String,
    domain: String,
    secure: bool,
}

impl AddCookie {
    /// The site's own cookie covers all of `.geoguessr.com`; anywhere else (a replica on
    /// 127.0.0.1) it is the page's host.
    fn for_site(base: &url::Url, host: &str, cookie: &NcfaCookie) -> AddCookie {
        let domain = if host == "geoguessr.com" || host.ends_with(".geoguessr.com") {
            ".geoguessr.com".to_string()
        } else {
            host.to_string()
        };
        AddCookie {
            value: cookie.expose().to_string(),
            domain,
            secure: base.scheme() == "https",
        }
    }

    fn body(&self) -> serde_json::Value {
        json!({"cookie": {
            "name": "_ncfa",
            "value": self.value,
            "path": "/",
            "domain": self.domain,
            "secure": self.secure,
            "httpOnly": true,
            "sameSite": "Lax",
        }})
    }
}

impl std::fmt::Debug for AddCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddCookie")
            .field("value", &"[redacted]")
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .finish()
    }
}

impl fantoccini::wd::WebDriverCompatibleCommand for AddCookie {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/cookie", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body().to_string()))
    }
}

/// `text` with every spelling of `secret` (as is, percent-encoded) replaced: a browser's error
/// may quote the cookie it refused.
pub(crate) fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    text.replace(secret, "<redacted>")
        .replace(&encoded, "<redacted>")
}

impl Page {
    /// Sets the `_ncfa` cookie for the site and opens game `token`.
    #[instrument(skip_all)]
    pub async fn open(
        browser: Browser,
        opts: &SiteOptions,
        cookie: &NcfaCookie,
        token: &str,
    ) -> Result<Page, SiteError> {
        let page = Page {
            browser,
            opts: opts.clone(),
            focused: false,
            map: GuessMap::default(),
            spinner_seen: 0,
            turning: opts.turning,
            deg_per_px: None,
        };
        if let Err(e) = page.set_cookie(cookie).await {
            page.browser.close().await;
            return Err(e);
        }
        if let Err(e) = page.goto_game(token).await {
            page.browser.close().await;
            return Err(e);
        }
        Ok(page)
    }

    async fn set_cookie(&self, cookie: &NcfaCookie) -> Result<(), SiteError> {
        let base = url::Url::parse(&self.opts.base_url)
            .map_err(|e| SiteError::Config(format!("geoguessr.base_url: {e}")))?;
        let host = base.host_str().unwrap_or_default().to_string();
        // A cookie can only be set for the page's own site: open it first.
        let c = self.browser.client();
        c.goto(base.as_str())
            .await
            .map_err(cmd("opening the site"))?;
        let add = AddCookie::for_site(&base, &host, cookie);
        let domain = add.domain.clone();
        c.issue_cmd(add).await.map_err(|e| {
            let why = redact(&e.to_string(), cookie.expose());
            warn!(%domain, error = %why, "the browser refused the _ncfa cookie");
            SiteError::Page(format!(
                "the browser refused the _ncfa cookie for {domain}: {why}"
            ))
        })?;
        Ok(())
    }

    async fn goto_game(&self, token: &str) -> Result<(), SiteError> {
        let url = self.opts.url(&self.opts.endpoints.game_page, token);
        self.browser
            .client()
            .goto(&url)
            .await
            .map_err(cmd(format!("opening {}", self.opts.endpoints.game_page)))?;
        Ok(())
    }

    /// Loads the game page again (after an API guess, or a crash): the site opens its open round.
    pub(crate) async fn reload(&mut self, token: &str) -> Result<(), SiteError> {
        self.focused = false;
        self.goto_game(token).await
    }

    pub fn browser(&self) -> &Browser {
        &self.browser
    }

    pub async fn close(self) {
        self.browser.close().await;
    }

    fn sel(&self) -> &Selectors {
        &self.opts.selectors
    }

    async fn rects(&self, selector: &str) -> Result<Vec<Rect>, SiteError> {
        let v = self
            .browser
            .client()
            .execute(RECTS_JS, vec![json!(selector)])
            .await
            .map_err(cmd("reading the page"))?;
        serde_json::from_value(v)
            .map_err(|e| SiteError::Page(format!("reading element positions: {e}")))
    }

    /// Waits until `selector` (config key `key`) matches a visible element, and returns its rect.
    async fn wait_visible(
        &self,
        key: &'static str,
        selector: &str,
        timeout: Duration,
    ) -> Result<Rect, SiteError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self
                .rects(selector)
                .await?
                .into_iter()
                .find(|r| r.w > 1.0 && r.h > 1.0)
            {
                return Ok(r);
            }
            if Instant::now() >= deadline {
                return Err(SiteError::Selector {
                    key,
                    selector: selector.to_string(),
                    waited: timeout,
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn style(&self, id: &str, css: &str) -> Result<(), SiteError> {
        self.browser
            .client()
            .execute(STYLE_JS, vec![json!(id), json!(css)])
            .await
            .map_err(cmd("injecting CSS"))?;
        Ok(())
    }

    async fn frames(&self) -> Result<(), SiteError> {
        self.browser
            .client()
            .execute_async(FRAMES_JS, vec![])
            .await
            .map_err(cmd("waiting for the page to draw"))?;
        Ok(())
    }

    /// Waits for the round: no spinner on screen and a panorama canvas whose pixels are not one
    /// colour (the canvas is on the page from the start; its first frame comes later, and a
    /// provider that fails never draws). Returns the canvas rect.
    pub(super) async fn round_ready(&mut self) -> Result<Rect, SiteError> {
        let timeout = self.opts.round_ready_timeout;
        let deadline = Instant::now() + timeout;
        let mut why;
        loop {
            let spinners = self
                .rects(&self.sel().spinner.clone())
                .await?
                .iter()
                .filter(|r| r.w >= 1.0 && r.h >= 1.0)
                .count();
            self.spinner_seen = self.spinner_seen.max(spinners);
            let canvas = self
                .rects(&self.sel().panorama.clone())
                .await?
                .into_iter()
                .find(|r| r.w > 1.0 && r.h > 1.0);
            why = if spinners > 0 {
                format!(
                    "geoguessr.selectors.spinner = {:?} stayed on the page",
                    self.sel().spinner
                )
            } else if let Some(r) = canvas {
                let jpeg = self
                    .browser
                    .capture_jpeg((r.x, r.y, r.w, r.h), READY_PROBE_QUALITY, "the panorama")
                    .await?;
                match drawn(&jpeg) {
                    Ok(()) => return Ok(r),
                    Err(e) => format!(
                        "the panorama canvas ({:?}) stayed {e}: not a Street View round, or its provider failed",
                        self.sel().panorama
                    ),
                }
            } else {
                format!(
                    "no panorama canvas was shown (geoguessr.selectors.panorama = {:?})",
                    self.sel().panorama
                )
            };
            if Instant::now() >= deadline {
                return Err(SiteError::Page(format!(
                    "the round did not start in {timeout:?}: {why}"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Hides the HUD, compass, Google's controls and attribution for good, and the guess map
    /// while `capturing`.
    async fn hide(&self, capturing: bool) -> Result<(), SiteError> {
        let css = format!("{} {{ display: none !important; }}", self.sel().hide);
        self.style(HIDE_STYLE_ID, &css).await?;
        let map = if capturing {
            format!(
                "{} {{ visibility: hidden !important; }}",
                self.sel().guess_map
            )
        } else {
            String::new()
        };
        self.style(CAPTURE_STYLE_ID, &map).await
    }

    /// Captures `views` views of the round, turning right between them (one view when turning
    /// is forbidden: NMPZ), then, with `zoom_steps` > 0, turns back to the start view and adds
    /// one view zoomed in by that many small wheel steps. Each turn must change the view; with
    /// drags, a full circle back to the start view measures how far a drag pixel turns, and
    /// the views' headings (relative to the start view) are what was measured. The caller
    /// passes 0 zoom steps when the game forbids zooming. In a timed round, looking for the
    /// start view after the circle stops at `search_until` (the views' headings are then
    /// estimates, and the next round measures again): the measurement must not cost the
    /// round its guess.
    #[instrument(skip(self))]
    pub(crate) async fn capture_round(
        &mut self,
        views: usize,
        zoom_steps: u32,
        quality: u8,
        search_until: Option<Instant>,
    ) -> Result<Vec<View>, SiteError> {
        let rect = self.round_ready().await?;
        self.hide(true).await?;
        let result = self
            .capture_views(rect, views.max(1), zoom_steps, quality, search_until)
            .await;
        // The guess map comes back whatever happened: the round still needs a guess.
        let shown = self.hide(false).await;
        let out = result?;
        shown?;
        Ok(out)
    }

    async fn capture_views(
        &mut self,
        rect: Rect,
        n: usize,
        zoom_steps: u32,
        quality: u8,
        search_until: Option<Instant>,
    ) -> Result<Vec<View>, SiteError> {
        let mut out = Vec::with_capacity(n + 1);
        let step = 360.0 / n as f64;
        // Until a circle measured it, a drag as long as the view is wide turns the start view's
        // assumed field of view.
        let step_px = step / self.deg_per_px.unwrap_or(START_FOV_DEG / rect.w);
        let mut start: Option<Strip> = None;
        let mut prev: Option<Strip> = None;
        let mut dragged = 0.0;
        let mut all_dragged = true;
        // Where the panorama is now (hiding the overlays may have moved it).
        let mut at = rect;
        for i in 0..n {
            let mut view = None;
            if i > 0 {
                // A turn that left the view as it was is tried once more with held keys.
                for attempt in 0..2 {
                    let by = self.turning;
                    match by {
                        Turning::Drag => dragged += self.drag(at, step_px).await?,
                        Turning::Keys => self.turn_by_keys(step).await?,
                    }
                    all_dragged &= by == Turning::Drag;
                    let r = self.canvas_rect(at).await?;
                    at = r;
                    let v = self
                        .capture(r, i as f64 * step, START_FOV_DEG, quality)
                        .await?;
                    let strip = Strip::of(&v.jpeg).map_err(SiteError::Page)?;
                    let turned = prev.as_ref().is_none_or(|p| p.changed(&strip));
                    view = Some((v, strip));
                    if turned {
                        break;
                    }
                    if by == Turning::Drag && attempt == 0 {
                        warn!(
                            view = i,
                            "a drag did not turn the panorama: turning by held keys from now on"
                        );
                        self.turning = Turning::Keys;
                    } else {
                        warn!(view = i, turning = %by, "the view looked the same after turning");
                        break;
                    }
                }
            }
            let (v, strip) = match view {
                Some(v) => v,
                None => {
                    let r = self.canvas_rect(at).await?;
                    at = r;
                    let v = self.capture(r, 0.0, START_FOV_DEG, quality).await?;
                    let strip = Strip::of(&v.jpeg).map_err(SiteError::Page)?;
                    (v, strip)
                }
            };
            if start.is_none() {
                start = Some(strip.clone());
            }
            out.push(v);
            prev = Some(strip);
        }
        if n > 1 && all_dragged {
            // The last step completes the circle; what it shows says how far a pixel turned.
            if let Some(start) = &start {
                let dpp = self
                    .close_circle(at, step_px, dragged, start, search_until)
                    .await?;
                let dpp = dpp.unwrap_or(START_FOV_DEG / at.w);
                for (i, v) in out.iter_mut().enumerate() {
                    v.heading = (i as f64 * step_px * dpp).rem_euclid(360.0);
                }
            }
        } else if zoom_steps > 0 && n > 1 {
            self.turn_by_keys(step).await?;
        }
        if zoom_steps > 0 {
            let r = self.canvas_rect(at).await?;
            self.zoom(r, zoom_steps).await?;
            let r = self.canvas_rect(r).await?;
            let fov = START_FOV_DEG / ZOOM_FACTOR_PER_STEP.powi(zoom_steps as i32);
            out.push(self.capture(r, 0.0, fov, quality).await?);
        }
        Ok(out)
    }

    /// The panorama canvas's rect once the page has drawn (it may have moved when overlays
    /// were hidden); `fallback` when it cannot be measured.
    async fn canvas_rect(&self, fallback: Rect) -> Result<Rect, SiteError> {
        self.frames().await?;
        Ok(self
            .rects(&self.sel().panorama.clone())
            .await?
            .into_iter()
            .find(|r| r.w > 1.0)
            .unwrap_or(fallback))
    }

    /// Zooms in by `steps` wheel notches over the canvas's centre, pausing after each as a
    /// person does (and as Street View needs to animate the step).
    async fn zoom(&self, r: Rect, steps: u32) -> Result<(), SiteError> {
        let (x, y) = ((r.x + r.w / 2.0).round(), (r.y + r.h / 2.0).round());
        for _ in 0..steps {
            let notch = WheelActions::new("wheel".into()).then(WheelAction::Scroll {
                duration: None,
                x: x as i64,
                y: y as i64,
                delta_x: 0,
                delta_y: -i64::from(self.opts.wheel_step_px),
            });
            self.browser
                .client()
                .perform_actions(notch)
                .await
                .map_err(cmd("zooming the panorama"))?;
            tokio::time::sleep(self.opts.wheel_pause).await;
        }
        debug!(steps, "zoomed");
        Ok(())
    }

    /// Turns right about `degrees` by holding the turn key, after one click on the canvas.
    async fn turn_by_keys(&mut self, degrees: f64) -> Result<(), SiteError> {
        let c = self.browser.client();
        if !self.focused {
            // An earlier round's canvas may stay on the page, hidden: click the one shown.
            let mut shown = None;
            for el in c
                .find_all(fantoccini::Locator::Css(&self.opts.selectors.panorama))
                .await
                .map_err(cmd("finding the panorama canvas"))?
            {
                if el.is_displayed().await.unwrap_or(false) {
                    shown = Some(el);
                    break;
                }
            }
            let canvas = shown.ok_or_else(|| SiteError::Selector {
                key: "geoguessr.selectors.panorama",
                selector: self.opts.selectors.panorama.clone(),
                waited: Duration::ZERO,
            })?;
            canvas.click().await.map_err(cmd("clicking the panorama"))?;
            self.focused = true;
        }
        let hold = self.opts.turn_hold.mul_f64(degrees / 90.0);
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: TURN_KEY })
            .then(KeyAction::Pause { duration: hold })
            .then(KeyAction::Up { value: TURN_KEY });
        c.perform_actions(keys)
            .await
            .map_err(cmd("turning the view"))?;
        debug!(degrees, ?hold, "turned");
        Ok(())
    }

    /// Captures the panorama at `r`, waiting (up to the round's ready timeout) while it shows
    /// one colour: a loading screen is never a view.
    async fn capture(
        &self,
        r: Rect,
        heading: f64,
        fov: f64,
        quality: u8,
    ) -> Result<View, SiteError> {
        let deadline = Instant::now() + self.opts.round_ready_timeout;
        let jpeg = loop {
            let jpeg = self
                .browser
                .capture_jpeg((r.x, r.y, r.w, r.h), quality, "the panorama")
                .await?;
            match drawn(&jpeg) {
                Ok(()) => break jpeg,
                Err(e) if Instant::now() >= deadline => {
                    return Err(SiteError::Page(format!(
                        "the panorama stayed {e} for {:?}: no view to send",
                        self.opts.round_ready_timeout
                    )))
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        };
        Ok(View {
            heading,
            heading_ref: crate::environment::HeadingRef::Start,
            pitch: 0.0,
            fov,
            width: r.w.round() as u32,
            height: r.h.round() as u32,
            jpeg,
        })
    }

    /// Clicks the guess map at `at`, checks the pin landed there, and presses Guess.
    #[instrument(skip(self))]
    pub(crate) async fn guess_on_map(&mut self, at: crate::geo::LatLon) -> Result<(), SiteError> {
        self.wait_visible(
            "geoguessr.selectors.guess_map",
            &self.sel().guess_map.clone(),
            CONTROL_TIMEOUT,
        )
        .await?;
        let (x, y) = self.map.click(&self.browser, &self.opts, at).await?;
        let pin = self
            .wait_visible(
                "geoguessr.selectors.guess_pin",
                &self.sel().guess_pin.clone(),
                CONTROL_TIMEOUT,
            )
            .await?;
        // A pin's tip is the middle of its bottom edge.
        let (tx, ty) = (pin.x + pin.w / 2.0, pin.y + pin.h);
        let off = (tx - x).hypot(ty - y);
        if off > self.opts.pin_tolerance_px {
            return Err(SiteError::Page(format!(
                "the guess pin landed {off:.1} px from the click (more than geoguessr.pin_tolerance_px): is geoguessr.selectors.guess_pin still the placed pin?"
            )));
        }
        let btn_sel = self.sel().guess_button.clone();
        self.wait_visible(
            "geoguessr.selectors.guess_button",
            &btn_sel,
            CONTROL_TIMEOUT,
        )
        .await?;
        self.browser
            .client()
            .find(fantoccini::Locator::Css(&btn_sel))
            .await
            .map_err(cmd("finding the Guess button"))?
            .click()
            .await
            .map_err(cmd("pressing Guess"))?;
        Ok(())
    }

    /// Records how far the point the site received (`received`) lies from the point meant,
    /// after a map guess; `None` after an API guess. See [`GuessMap::drift`].
    pub(crate) fn click_drift(
        &mut self,
        round: usize,
        meant: crate::geo::LatLon,
        received: crate::geo::LatLon,
    ) -> Option<super::guess_map::Drift> {
        let tol = self.opts.pin_tolerance_px;
        self.map.drift(round, meant, received, tol)
    }

    /// Closes the round's result screen; the page then loads the next round.
    pub(crate) async fn next_round(&mut self) -> Result<(), SiteError> {
        let s = self.sel().close_round_result.clone();
        self.wait_visible(
            "geoguessr.selectors.close_round_result",
            &s,
            self.opts.result_timeout,
        )
        .await?;
        self.browser
            .client()
            .find(fantoccini::Locator::Css(&s))
            .await
            .map_err(cmd("finding the result screen's button"))?
            .click()
            .await
            .map_err(cmd("closing the result screen"))?;
        self.focused = false;
        Ok(())
    }

    /// How many elements `selector` matches now (`geoguessr check`).
    pub(super) async fn count(&self, selector: &str) -> Result<usize, SiteError> {
        Ok(self.rects(selector).await?.len())
    }

    /// Most spinner elements seen at once while a round loaded (`geoguessr check`).
    pub(super) fn spinner_seen(&self) -> usize {
        self.spinner_seen
    }
}

/// `Ok` when the JPEG is a drawn view; else why not. A loading screen or an undrawn canvas is
/// one colour, perhaps with a line of text or a seam between two near-blacks: nearly all of its
/// pixels lie within a narrow band of brightness.
fn drawn(jpeg: &[u8]) -> Result<(), String> {
    let img = image::load_from_memory(jpeg)
        .map_err(|e| format!("unreadable ({e})"))?
        .into_luma8();
    let mut hist = [0usize; 256];
    for p in img.pixels() {
        hist[usize::from(p.0[0])] += 1;
    }
    let n = img.pixels().len().max(1) as f64;
    let w = UNIFORM_BAND;
    let (mut best, mut at) = (0usize, 0usize);
    for l in 0..256usize {
        let band: usize = hist[l.saturating_sub(w)..(l + w + 1).min(256)].iter().sum();
        if band > best {
            (best, at) = (band, l);
        }
    }
    if best as f64 / n > UNIFORM_SHARE {
        Err(format!("one colour (brightness {at})"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_view_is_not_drawn() {
        let jpeg = |f: &dyn Fn(u32, u32) -> u8| {
            let img = image::GrayImage::from_fn(64, 48, |x, y| image::Luma([f(x, y)]));
            let mut out = Vec::new();
            image::DynamicImage::ImageLuma8(img)
                .write_to(
                    &mut std::io::Cursor::new(&mut out),
                    image::ImageFormat::Jpeg,
                )
                .unwrap();
            out
        };
        assert!(drawn(&jpeg(&|_, _| 17)).is_err());
        // Two near-blacks side by side, and a line of light text: still blank.
        assert!(drawn(&jpeg(&|x, _| if x < 32 { 11 } else { 17 })).is_err());
        assert!(drawn(&jpeg(&|x, y| if y == 20 && x < 40 { 170 } else { 34 })).is_err());
        assert!(drawn(&jpeg(&|x, y| ((x * 7 + y * 3) % 200) as u8)).is_ok());
        assert!(drawn(b"not a jpeg").unwrap_err().contains("unreadable"));
    }

    #[test]
    fn a_refused_cookie_error_names_the_browser_reason_without_the_secret() {
        use fantoccini::error::{CmdError, ErrorStatus, WebDriver};
        let secret = "abc%2Bdef.ghi";
        let cookie = NcfaCookie::new(secret).unwrap();
        let e = CmdError::Standard(WebDriver::new(
            ErrorStatus::InvalidArgument,
            format!("invalid 'domain' for _ncfa={secret} (abc%252Bdef.ghi)"),
        ));
        let text = redact(&e.to_string(), cookie.expose());
        assert!(text.contains("invalid 'domain'"), "{text}");
        assert!(!text.contains("abc"), "{text}");
        let base = url::Url::parse("https://www.geoguessr.com/").unwrap();
        let add = AddCookie::for_site(&base, "www.geoguessr.com", &cookie);
        assert_eq!(add.domain, ".geoguessr.com");
        assert!(add.secure);
        assert!(!format!("{add:?}").contains("abc"));
        // Every field is named: chromedriver refuses a null domain.
        let body = add.body();
        assert!(body["cookie"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| !v.is_null()));
        let local = url::Url::parse("http://127.0.0.1:8/").unwrap();
        let add = AddCookie::for_site(&local, "127.0.0.1", &cookie);
        assert_eq!((add.domain.as_str(), add.secure), ("127.0.0.1", false));
    }
}
