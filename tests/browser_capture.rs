//! The fast browser round (issue 15 item 4) shows the agent exactly what the slow way shows: each
//! view the controller captures right after its drag (the page draws when the pointer input
//! ends, no frame waited out) matches, heading for heading, a capture of the same heading taken
//! the slow way (arrow keys, a long settle, a lossless WebDriver screenshot). Round 2 comes from
//! the image the page fetched while round 1's result was shown, and must match in the same way.
//! The guess placed with the wheel zoom and one click lands where the reasoner said.

mod common;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use geoagent::browser::local_game::{LocalGame, GUESS_PRECISION_KM};
use geoagent::browser::{Browser, BrowserOptions};
use geoagent::environment::{CaptureOptions, Environment, Observation};
use geoagent::game::builtin;
use geoagent::geo::LatLon;
use geoagent::server::{start_local, AppState};
use image::RgbImage;
use std::sync::Arc;

const ARROW_RIGHT: char = '\u{E014}';
/// The page turns 15° per arrow key: six presses are a quarter turn.
const PRESSES_PER_QUARTER: usize = 6;
/// Longest wait for the page to reach the turned heading (a loaded machine draws slowly).
const TURN_DEADLINE_MS: u64 = 15_000;
/// Mean absolute difference per channel (0–255) allowed between the JPEG the controller captured
/// (quality 85) and the lossless screenshot of the same heading: JPEG noise is ~1–2.
const SAME_VIEW_MAX_DIFF: f64 = 4.0;
/// Two different headings of a panorama differ by far more than that.
const OTHER_VIEW_MIN_DIFF: f64 = 10.0;

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "captures differ in size");
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

/// Waits in the page until the panorama's heading is `target` (or the deadline), then two more
/// animation frames so the canvas shows it; answers the heading it saw.
const WAIT_FOR_HEADING_JS: &str = r#"
const [target, deadlineMs] = arguments;
const done = arguments[arguments.length - 1];
const canvas = document.querySelector('canvas#pano');
const until = performance.now() + deadlineMs;
const check = () => {
  const h = Number(canvas.dataset.heading);
  const off = Math.abs((((h - target) % 360) + 540) % 360 - 180);
  if (off < 0.01) requestAnimationFrame(() => requestAnimationFrame(() => done(h)));
  else if (performance.now() > until) done(h);
  else requestAnimationFrame(check);
};
check();
"#;

/// The slow way: a quarter turn with the arrow keys, wait until the page shows heading `target`
/// (a condition, not a fixed pause), then a lossless screenshot of the canvas. Returns the
/// heading and the pixels.
async fn slow_quarter_turn(game: &LocalGame, target: f64) -> Result<(f64, RgbImage), String> {
    let c = game.browser().client();
    let mut keys = KeyActions::new("keys".into());
    for _ in 0..PRESSES_PER_QUARTER {
        keys = keys
            .then(KeyAction::Down { value: ARROW_RIGHT })
            .then(KeyAction::Up { value: ARROW_RIGHT });
    }
    c.perform_actions(keys).await.map_err(|e| e.to_string())?;
    let h = c
        .execute_async(
            WAIT_FOR_HEADING_JS,
            vec![target.into(), TURN_DEADLINE_MS.into()],
        )
        .await
        .map_err(|e| e.to_string())?
        .as_f64()
        .ok_or("no heading on the canvas")?;
    let canvas = c
        .find(fantoccini::Locator::Css("canvas#pano"))
        .await
        .map_err(|e| e.to_string())?;
    let png = canvas.screenshot().await.map_err(|e| e.to_string())?;
    let img = image::load_from_memory(&png)
        .map_err(|e| e.to_string())?
        .to_rgb8();
    Ok((h, img))
}

/// Every view of `obs` against the slow capture of its heading (the page is left at the last
/// view's heading, 270°, so four quarter turns visit 0, 90, 180, 270).
async fn check_views(game: &LocalGame, obs: &Observation) -> Result<(), String> {
    let fast: Vec<(f64, RgbImage)> = obs
        .views
        .iter()
        .map(|v| {
            let img = image::load_from_memory(&v.jpeg).unwrap().to_rgb8();
            (v.heading, img)
        })
        .collect();
    let headings: Vec<f64> = fast.iter().map(|(h, _)| *h).collect();
    if headings != [0.0, 90.0, 180.0, 270.0] {
        return Err(format!("views at headings {headings:?}"));
    }
    for (i, (h, fast_img)) in fast.iter().enumerate() {
        let (slow_h, slow_img) = slow_quarter_turn(game, *h).await?;
        if (slow_h - h).abs() > 0.01 {
            return Err(format!("slow turn reached {slow_h}, expected {h}"));
        }
        let same = mean_abs_diff(fast_img, &slow_img);
        let other = mean_abs_diff(&fast[(i + 1) % fast.len()].1, &slow_img);
        eprintln!(
            "round {}: heading {h}: same {same:.2}, other {other:.2}",
            obs.round
        );
        if same > SAME_VIEW_MAX_DIFF {
            return Err(format!(
                "round {} heading {h}: fast capture differs from the slow one by {same:.2}",
                obs.round
            ));
        }
        if other < OTHER_VIEW_MIN_DIFF {
            return Err(format!(
                "round {} heading {h}: another heading's view is as close ({other:.2})",
                obs.round
            ));
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_captures_match_slow_ones_and_guesses_land() {
    common::require_browser();
    let map = Arc::new(builtin::world());
    let server = start_local(AppState::new(vec![map.clone()])).await.unwrap();
    let url = format!("{}/?seed=77&rounds=2", server.url());
    let browser = Browser::launch(&BrowserOptions::default()).await.unwrap();
    let mut game = match LocalGame::open(
        browser,
        &url,
        &map.name,
        map.view,
        CaptureOptions::default(),
    )
    .await
    {
        Ok(g) => g,
        Err((b, e)) => {
            b.close().await;
            panic!("{e}");
        }
    };
    let targets = [
        LatLon::new(-33.8688, 151.2093).unwrap(),
        LatLon::new(64.1466, -21.9426).unwrap(),
    ];
    let outcome = async {
        for at in targets {
            let obs = game.observe().await.map_err(|e| e.to_string())?;
            check_views(&game, &obs).await?;
            let (result, _) = game.guess(at).await.map_err(|e| e.to_string())?;
            let off = result.guess.distance_km(&at);
            if off > GUESS_PRECISION_KM * 1.5 {
                return Err(format!("round {}: guess {off:.3} km off", obs.round));
            }
        }
        Ok::<_, String>(())
    }
    .await;
    game.into_browser().close().await;
    outcome.unwrap();
}
