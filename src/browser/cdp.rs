//! Chrome DevTools commands sent through chromedriver's `goog/cdp/execute` endpoint.
//!
//! Chrome's own JPEG capture costs ~50–65 ms for a photo-like view where WebDriver's PNG screenshot
//! costs up to ~390 ms plus a re-encode (measured on this machine, see DESIGN.md), so captures go
//! through CDP when the endpoint is Chromium and fall back to WebDriver otherwise.

use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{json, Value};

/// `POST /session/{id}/goog/cdp/execute {cmd, params}`.
#[derive(Debug)]
pub(crate) struct CdpCommand {
    pub cmd: &'static str,
    pub params: Value,
}

impl CdpCommand {
    /// A JPEG of the page region `(x, y, w, h)` in CSS pixels at device scale 1.
    pub(crate) fn capture_jpeg(x: f64, y: f64, w: f64, h: f64, quality: u8) -> Self {
        CdpCommand {
            cmd: "Page.captureScreenshot",
            params: json!({
                "format": "jpeg",
                "quality": quality,
                "fromSurface": true,
                "clip": {"x": x, "y": y, "width": w, "height": h, "scale": 1},
            }),
        }
    }
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.cmd, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}
