//! Driving a real browser: the chromedriver process, the WebDriver session and the page adapter
//! for the local game.
//!
//! - [`driver`]: finds, starts and stops chromedriver (and the browsers it owns).
//! - `endpoint`: waits for a WebDriver endpoint someone else started (a Selenium Grid).
//! - [`cdp`]: Chrome DevTools commands (fast JPEG capture) through chromedriver.
//! - [`selectors`]: the page contract, every selector in one place.
//! - [`local_game`]: the local game as an [`Environment`](crate::environment::Environment).
//! - [`geoguessr`]: geoguessr.com (classic games, challenges) as an `Environment`.
//! - [`pool`]: a bounded pool of browser sessions reused across games, with crash replacement.

pub mod cdp;
pub mod driver;
mod endpoint;
pub mod geoguessr;
pub mod local_game;
pub mod pool;
pub(crate) mod rect;
pub(crate) mod selectors;

use base64::Engine;
use driver::Chromedriver;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::{debug, instrument, warn};

/// Browser launch normally takes 0.5–1.2 s here; a cold disk cache on CI, or a 2-core machine
/// under load 7 (issue 24: chromedriver alone then took over 15 s), can take many times that, and
/// a slow machine is not an error.
pub(crate) const SESSION_START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a session request may wait at a shared WebDriver endpoint (`browser.webdriver_url`,
/// e.g. a Selenium Grid). A Grid queues requests until a slot frees, which happens when another
/// game ends (minutes), so waiting is normal there, not a failure; this only ends a wait for a
/// Grid that will never serve the request.
pub(crate) const GRID_SESSION_WAIT: Duration = Duration::from_secs(30 * 60);
/// A Selenium Grid 4's answer when a request waited in its queue longer than its own
/// `--session-request-timeout` (300 s by default): ask again, the slot is still coming.
const GRID_QUEUE_TIMEOUT: &str = "New session request timed out";
/// Closing a session takes 0.1–0.2 s; past this we kill the process group instead.
pub(crate) const SESSION_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The viewport the agent plays in. The local game lays out a 4:3 panorama and the map for it.
pub(crate) const DEFAULT_VIEWPORT: (u32, u32) = (1280, 720);
/// Headless Chromium's default binary on Debian.
const CHROMIUM_PATHS: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/// Why the browser could not do what was asked. Each names what to check.
#[derive(Debug, Error)]
pub enum BrowserError {
    #[error("chromedriver not found (looked in {looked}); install it (`apt-get install chromium-driver`) or set `browser.chromedriver` in geoagent.toml / --chromedriver")]
    DriverNotFound { looked: String },
    #[error("could not start chromedriver at {path}: {source}")]
    DriverSpawn {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "chromedriver ({path}) exited before it was ready ({status}); its last output: {output}"
    )]
    DriverExited {
        path: String,
        status: String,
        output: String,
    },
    #[error("chromedriver at {url} never became ready: {detail}")]
    DriverNotReady { url: String, detail: String },
    #[error("the WebDriver endpoint at {url} is not ready: {detail}")]
    EndpointNotReady { url: String, detail: String },
    #[error("no free loopback port for chromedriver: {0}")]
    Port(#[source] std::io::Error),
    #[error("could not open a browser session at {url}: {detail}; check `browser.chromium` (the Chromium binary) and that it runs headless")]
    Session { url: String, detail: String },
    #[error("browser command failed while {doing}: {source}")]
    Command {
        doing: String,
        #[source]
        source: fantoccini::error::CmdError,
    },
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout { what: String, waited: Duration },
    #[error("the game page reported an error: {0}")]
    Page(String),
    #[error("unexpected page content: {0}")]
    Contract(String),
    #[error("capturing a view failed: {0}")]
    Capture(String),
    #[error("could not create a browser profile folder: {0}")]
    Profile(#[source] std::io::Error),
}

/// Helper: wraps a fantoccini command error with what we were doing.
pub(crate) fn cmd(
    doing: impl Into<String>,
) -> impl FnOnce(fantoccini::error::CmdError) -> BrowserError {
    let doing = doing.into();
    move |source| BrowserError::Command { doing, source }
}

/// `actions` followed by a left click at offset `(x, y)` CSS px from `element`'s centre: move
/// there, press, release (WebDriver measures pointer offsets from the element's centre).
pub(crate) fn then_click(
    actions: fantoccini::actions::MouseActions,
    element: &fantoccini::elements::Element,
    x: f64,
    y: f64,
) -> fantoccini::actions::MouseActions {
    use fantoccini::actions::{InputSource, PointerAction, MOUSE_BUTTON_LEFT};
    actions
        .then(PointerAction::MoveToElement {
            element: element.clone(),
            duration: None,
            x,
            y,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        })
}

/// How to get a browser.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// chromedriver binary; `None` searches PATH and the usual places.
    pub chromedriver: Option<PathBuf>,
    /// Chromium binary; `None` lets chromedriver find Chrome/Chromium itself, after the Debian paths.
    pub chromium: Option<PathBuf>,
    /// Use an existing WebDriver endpoint (e.g. a Selenium Grid) instead of starting chromedriver.
    pub webdriver_url: Option<String>,
    pub headless: bool,
    /// CSS pixels of the page viewport (not the window).
    pub viewport: (u32, u32),
    /// Where browsers on other machines (Grid nodes) reach the local game; `None`: loopback.
    pub advertise: Option<Advertise>,
}

/// The address browsers on other machines open the local game at (`--advertise HOST[:PORT]`):
/// the game then listens on every interface, at `port` (0: a free one), and page URLs name
/// `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertise {
    pub host: String,
    pub port: u16,
}

impl Advertise {
    /// Parses `HOST`, `HOST:PORT` or `[IPV6]:PORT`; says what is wrong otherwise.
    pub fn parse(text: &str) -> Result<Advertise, String> {
        const EXPECTED: &str =
            "expected HOST or HOST:PORT that the Grid's nodes can reach, e.g. 192.168.1.20 or geo.lan:8700 (no scheme or path)";
        let t = text.trim();
        let bad = |why: &str| Err(format!("{why}; {EXPECTED}"));
        if t.is_empty() || t.contains("://") || t.contains(['/', '?', '#', '@', ' ']) {
            return bad("not a host");
        }
        let (host, port) = if let Some(rest) = t.strip_prefix('[') {
            match rest.split_once(']') {
                Some((h, "")) => (h, None),
                Some((h, p)) => match p.strip_prefix(':') {
                    Some(p) => (h, Some(p)),
                    None => return bad("text after ']'"),
                },
                None => return bad("unclosed '['"),
            }
        } else {
            match t.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => (t, None),
                Some((h, p)) => (h, Some(p)),
                None => (t, None),
            }
        };
        let port = match port {
            Some(p) => match p.parse::<u16>() {
                Ok(n) => n,
                Err(_) => return bad(&format!("port `{p}` is not 0..=65535")),
            },
            None => 0,
        };
        if host.is_empty() {
            return bad("empty host");
        }
        Ok(Advertise {
            host: host.to_string(),
            port,
        })
    }

    /// `http://HOST:PORT` for the port the game listens on.
    pub fn url(&self, port: u16) -> String {
        if self.host.contains(':') {
            format!("http://[{}]:{port}", self.host)
        } else {
            format!("http://{}:{port}", self.host)
        }
    }
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            chromedriver: None,
            chromium: None,
            webdriver_url: None,
            headless: true,
            viewport: DEFAULT_VIEWPORT,
            advertise: None,
        }
    }
}

/// How long the two start-up phases took, for the benchmark and the log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LaunchTiming {
    pub driver_ms: u64,
    pub session_ms: u64,
}

/// A live browser session, and the chromedriver behind it when we started one.
pub struct Browser {
    client: Client,
    driver: Option<Chromedriver>,
    /// Holds the profile folder; removed when the browser is closed.
    _profile: tempfile::TempDir,
    pub timing: LaunchTiming,
    /// Whether chromedriver's CDP endpoint works (fast JPEG capture).
    pub cdp: bool,
}

impl Browser {
    /// A JPEG of the page region `(x, y, w, h)` (CSS px) at `quality`, by Chrome's own capture
    /// through CDP (only when [`Browser::cdp`]).
    pub(crate) async fn capture_jpeg(
        &self,
        (x, y, w, h): (f64, f64, f64, f64),
        quality: u8,
        what: &str,
    ) -> Result<Vec<u8>, BrowserError> {
        let v = self
            .client()
            .issue_cmd(cdp::CdpCommand::capture_jpeg(x, y, w, h, quality))
            .await
            .map_err(cmd(format!("capturing {what} (CDP)")))?;
        let data = v["data"]
            .as_str()
            .ok_or_else(|| BrowserError::Capture(format!("CDP answer without data: {v}")))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| BrowserError::Capture(format!("CDP data is not base64: {e}")))
    }

    /// Starts chromedriver (unless a WebDriver URL is given) and a browser session sized to
    /// `opts.viewport`.
    #[instrument(skip_all)]
    pub async fn launch(opts: &BrowserOptions) -> Result<Browser, BrowserError> {
        let profile_root = std::env::temp_dir().join("geoagent-profiles");
        std::fs::create_dir_all(&profile_root).map_err(BrowserError::Profile)?;
        let profile = tempfile::Builder::new()
            .prefix("profile-")
            .tempdir_in(&profile_root)
            .map_err(BrowserError::Profile)?;

        let t0 = Instant::now();
        let (driver, url) = match &opts.webdriver_url {
            Some(url) => {
                endpoint::wait_ready(url).await?;
                (None, url.clone())
            }
            None => {
                let path = driver::locate(opts.chromedriver.as_deref())?;
                let d = Chromedriver::start(&path, profile.path()).await?;
                let url = d.url().to_string();
                (Some(d), url)
            }
        };
        let driver_ms = t0.elapsed().as_millis() as u64;

        let t1 = Instant::now();
        let remote = driver.is_none();
        let caps = capabilities(opts, (!remote).then(|| profile.path()));
        // A client-side cut-off shorter than the Grid's queue would leave the request queued
        // there, later holding a slot for a session nobody uses; so at a shared endpoint the
        // wait is the Grid's, and its queue time-outs are asked again.
        let wait = if remote {
            GRID_SESSION_WAIT
        } else {
            SESSION_START_TIMEOUT
        };
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let mut builder = ClientBuilder::new(connector);
            builder.capabilities(caps.clone());
            let left = wait.saturating_sub(t1.elapsed());
            let connect = tokio::time::timeout(left, builder.connect(&url));
            let connected = if remote {
                driver::with_notice(
                    || format!("a browser session from the WebDriver endpoint at {url}"),
                    "a Grid queues the request until a slot frees, when another game ends",
                    GRID_SESSION_WAIT,
                    connect,
                )
                .await
            } else {
                driver::with_notice(
                    || format!("Chromium to start (through chromedriver at {url})"),
                    "a busy machine is slow to start it",
                    SESSION_START_TIMEOUT,
                    connect,
                )
                .await
            };
            let error = match connected {
                Ok(Ok(c)) => break c,
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no session after {wait:?}"),
            };
            if remote && error.contains(GRID_QUEUE_TIMEOUT) && t1.elapsed() < wait {
                debug!("no WebDriver slot free yet at {url}; still waiting");
                continue;
            }
            stop_driver(driver).await;
            return Err(BrowserError::Session { url, detail: error });
        };
        let session_ms = t1.elapsed().as_millis() as u64;
        let mut browser = Browser {
            client,
            driver,
            _profile: profile,
            timing: LaunchTiming {
                driver_ms,
                session_ms,
            },
            cdp: false,
        };
        if let Err(e) = browser.fit_viewport(opts.viewport).await {
            browser.close().await;
            return Err(e);
        }
        browser.cdp = browser.probe_cdp().await;
        debug!(?browser.timing, cdp = browser.cdp, "browser ready");
        Ok(browser)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Resizes the window so the page's viewport is exactly `(w, h)` CSS pixels: headless
    /// Chromium's viewport is shorter than its window by a version-dependent amount.
    async fn fit_viewport(&self, (w, h): (u32, u32)) -> Result<(), BrowserError> {
        for _ in 0..3 {
            let inner = self
                .client
                .execute("return [window.innerWidth, window.innerHeight];", vec![])
                .await
                .map_err(cmd("reading the viewport size"))?;
            let iw = inner[0].as_f64().unwrap_or(0.0) as i64;
            let ih = inner[1].as_f64().unwrap_or(0.0) as i64;
            if iw == i64::from(w) && ih == i64::from(h) {
                return Ok(());
            }
            let (ww, wh) = self
                .client
                .get_window_size()
                .await
                .map_err(cmd("reading the window size"))?;
            let nw = (ww as i64 + i64::from(w) - iw).max(1) as u32;
            let nh = (wh as i64 + i64::from(h) - ih).max(1) as u32;
            self.client
                .set_window_size(nw, nh)
                .await
                .map_err(cmd("resizing the window"))?;
        }
        warn!(
            w,
            h, "viewport could not be sized exactly; captures keep the page's size"
        );
        Ok(())
    }

    async fn probe_cdp(&self) -> bool {
        let probe = cdp::CdpCommand {
            cmd: "Browser.getVersion",
            params: json!({}),
        };
        matches!(self.client.issue_cmd(probe).await, Ok(Value::Object(_)))
    }

    /// Ends the session and stops chromedriver; never fails (errors are logged), so it is safe on
    /// every exit path.
    pub async fn close(self) {
        let Browser { client, driver, .. } = self;
        match tokio::time::timeout(SESSION_CLOSE_TIMEOUT, client.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "closing the browser session failed"),
            Err(_) => warn!("closing the browser session timed out"),
        }
        stop_driver(driver).await;
    }
}

async fn stop_driver(driver: Option<Chromedriver>) {
    if let Some(d) = driver {
        d.stop().await;
    }
}

/// The flags that worked on this machine (DESIGN.md): headless-new, no sandbox (root in CI), no
/// GPU (SwiftShader still gives WebGL), and no background networking (the sandbox refuses it).
/// `profile` is the local profile folder; a remote endpoint's browser runs on another machine,
/// whose driver makes its own.
fn capabilities(opts: &BrowserOptions, profile: Option<&Path>) -> serde_json::Map<String, Value> {
    let (w, h) = opts.viewport;
    let mut args = vec![
        "--no-sandbox".to_string(),
        "--disable-gpu".into(),
        "--enable-unsafe-swiftshader".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--no-default-browser-check".into(),
        "--disable-breakpad".into(),
        "--hide-scrollbars".into(),
        "--force-device-scale-factor=1".into(),
        format!("--window-size={w},{}", h + 143),
    ];
    if let Some(p) = profile {
        args.push(format!("--user-data-dir={}", p.display()));
    }
    if opts.headless {
        args.insert(0, "--headless=new".into());
    }
    let mut chrome = json!({ "args": args });
    let binary = opts.chromium.clone().or_else(|| {
        CHROMIUM_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    });
    if let Some(b) = binary {
        chrome["binary"] = Value::String(b.display().to_string());
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), chrome);
    caps
}

#[cfg(test)]
mod tests {
    use super::Advertise;

    #[test]
    fn advertised_addresses_parse_or_say_why_not() {
        let a = |t: &str| Advertise::parse(t).map(|a| (a.host, a.port));
        assert_eq!(a("192.168.1.20"), Ok(("192.168.1.20".into(), 0)));
        assert_eq!(a("geo.lan:8700"), Ok(("geo.lan".into(), 8700)));
        assert_eq!(a("[fd00::1]:9000"), Ok(("fd00::1".into(), 9000)));
        assert_eq!(a("fd00::1"), Ok(("fd00::1".into(), 0)));
        assert_eq!(
            Advertise::parse("fd00::1").unwrap().url(5),
            "http://[fd00::1]:5"
        );
        for bad in ["", "http://x:1", "x/y", "x:99999", ":80", "[::1", "a b"] {
            let e = Advertise::parse(bad).unwrap_err();
            assert!(e.contains("HOST:PORT"), "{bad}: {e}");
        }
    }
}
