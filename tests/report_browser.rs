//! The HTML report opened in real headless Chromium: it renders with no console error and no
//! network request, shows the world map and both charts, embeds the views, and a model answer
//! (or a model name) containing markup renders as text, never as markup.

mod common;

use fantoccini::wd::WebDriverCompatibleCommand;
use geoagent::agent::{Exchange, GuessSource};
use geoagent::browser::{Browser, BrowserOptions};
use geoagent::environment::View;
use geoagent::replay::{Replay, ReplayWriter};
use serde_json::{json, Value};
use std::path::Path;

const FIXTURE_ID: &str = "20261123T115949Z-40e71c";
/// What a hostile or confused model might answer.
const EVIL_ANSWER: &str = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned=2\"> I think 31.0, -7.0 & that's it";

/// `POST /session/{id}/goog/cdp/execute`, for hooks installed before the page's own scripts.
#[derive(Debug)]
struct Cdp(&'static str, Value);

impl WebDriverCompatibleCommand for Cdp {
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
        (
            http::Method::POST,
            Some(json!({"cmd": self.0, "params": self.1}).to_string()),
        )
    }
}

/// The fixture's rounds re-recorded as a model's session whose answer and name carry markup.
fn hostile_session(root: &Path) -> std::path::PathBuf {
    let src = Replay::open(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/replays")
            .join(FIXTURE_ID),
    )
    .unwrap();
    let mut m = src.manifest.clone();
    m.session_id = "hostile".into();
    m.reasoner = "openai:<i>italic</i>-model".into();
    let mut w = ReplayWriter::create(root, &m).unwrap();
    for r in &src.rounds {
        let views: Vec<View> = r
            .views
            .iter()
            .map(|v| View {
                heading: v.heading,
                heading_ref: v.heading_ref,
                pitch: v.pitch,
                fov: v.fov,
                width: v.width,
                height: v.height,
                jpeg: src.view_bytes(v).unwrap(),
            })
            .collect();
        let mut rec = r.clone();
        rec.views = w.save_views(r.round, &views).unwrap();
        rec.guess.source = GuessSource::Model;
        rec.guess.rationale = Some("</pre><b>bold?</b>".into());
        rec.guess.exchanges = vec![Exchange {
            purpose: "answer".into(),
            prompt: "Where was this photo taken? <answer as JSON>".into(),
            images: views.len(),
            raw: Some(EVIL_ANSWER.into()),
            ..Default::default()
        }];
        w.append(&rec).unwrap();
    }
    root.join("hostile")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_renders_offline_in_chromium_with_every_value_escaped() {
    common::require_browser();
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replays")
        .join(FIXTURE_ID);
    let hostile = hostile_session(tmp.path());
    let report = geoagent::report::build(&[fixture, hostile], &[]).unwrap();
    let file = tmp.path().join("report.html");
    geoagent::report::write(&file, &report).unwrap();

    let browser = Browser::launch(&BrowserOptions {
        viewport: (1200, 900),
        ..Default::default()
    })
    .await
    .unwrap();
    let c = browser.client().clone();
    // Record errors, console errors and any network request from the very first script on.
    c.issue_cmd(Cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "window.__errors = [];\
            window.addEventListener('error', e => window.__errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || e)), true);\
            const ce = console.error; console.error = (...a) => { window.__errors.push('console: ' + a.join(' ')); ce(...a); };"}),
    ))
    .await
    .unwrap();
    let url = url::Url::from_file_path(&file).unwrap();
    c.goto(url.as_str()).await.unwrap();

    let facts = c
        .execute(
            "const q = s => document.querySelectorAll(s);\
             const imgs = [...q('img')];\
             const answers = [...q('pre.answer')].map(p => p.textContent);\
             return {\
               errors: window.__errors,\
               pwned: window.__pwned || 0,\
               scripts: q('script').length,\
               land: (document.querySelector('#worldmap path.land') || {getAttribute: () => ''}).getAttribute('d').length,\
               truths: q('#worldmap circle.truth').length,\
               guesses: q('#worldmap circle.guess').length,\
               lines: q('#worldmap path.line').length,\
               histogram: q('#histogram svg rect').length,\
               cdf: q('#cdf svg polyline, #cdf svg path').length,\
               images: imgs.length,\
               images_loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,\
               external: imgs.filter(i => !i.src.startsWith('data:')).length\
                 + [...q('link[href], [src]')].filter(e => !(e.src || e.href || '').startsWith('data:')).length,\
               answers,\
               bold: q('.card b').length,\
               italic: q('i').length,\
               summary: document.querySelector('#summary').textContent,\
               resources: performance.getEntriesByType('resource').map(r => r.name),\
             };",
            vec![],
        )
        .await
        .unwrap();
    let png = c.screenshot().await.unwrap();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    std::fs::write(&shot, &png).unwrap();
    browser.close().await;

    assert_eq!(facts["errors"], json!([]), "console errors: {facts}");
    assert_eq!(facts["pwned"], 0, "a model answer ran as script");
    assert_eq!(facts["scripts"], 0, "the report needs no script");
    assert_eq!(
        facts["resources"],
        json!([]),
        "the report fetched something: {facts}"
    );
    assert_eq!(facts["external"], 0);
    assert!(
        facts["land"].as_u64().unwrap() > 10_000,
        "world map land is drawn"
    );
    assert_eq!(facts["truths"], 4);
    assert_eq!(facts["guesses"], 4);
    assert_eq!(facts["lines"], 4);
    assert!(
        facts["histogram"].as_u64().unwrap() >= 3,
        "histogram bars: {facts}"
    );
    assert!(facts["cdf"].as_u64().unwrap() >= 2, "CDF lines: {facts}");
    assert_eq!(facts["images"], 8, "2 sessions × 2 rounds × 2 views");
    assert_eq!(facts["images_loaded"], 8);
    assert_eq!(
        facts["answers"],
        json!([EVIL_ANSWER, EVIL_ANSWER]),
        "answers shown as text"
    );
    // Only the report's own bold labels ("Rationale:", "Model answer"), none from the data.
    assert!(facts["italic"] == 0, "a model name became markup");
    assert!(facts["summary"]
        .as_str()
        .unwrap()
        .contains("openai:<i>italic</i>-model (cot)"));
    assert!(
        png.len() > 20_000 && png.starts_with(b"\x89PNG"),
        "screenshot taken"
    );
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.contains("&lt;/pre&gt;&lt;b&gt;bold?&lt;/b&gt;"));
    assert_eq!(
        facts["bold"].as_u64().unwrap(),
        // per card: "Rationale:" always, "Model answer" for the hostile session's rounds
        2 + 2 * 2
    );
}
