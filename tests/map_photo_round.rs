//! A single-photo round in real headless Chromium: the page shows the photo flat, straight ahead
//! (heading 0 fills the view with it), marks the canvas `data-kind="photo"`, and other headings
//! show only the background, never a stretched wrap-around of the photo. So the controller
//! captures one view of a photo round, whatever `capture.headings` asks for a panorama.

mod common;
mod map_common;

use geoagent::browser::local_game::LocalGame;
use geoagent::browser::{Browser, BrowserOptions};
use geoagent::environment::CaptureOptions;
use geoagent::environment::Environment;
use geoagent::game::pack::{self, PackManifest, PackWriter};
use geoagent::game::Imagery;
use geoagent::import::photos::import_photos;
use geoagent::import::Importer;
use geoagent::server::{start_local, AppState};
use image::{Rgb, RgbImage};
use std::sync::Arc;

/// Mean colour of a box around (fx, fy) (fractions of the view).
fn mean(img: &RgbImage, fx: f64, fy: f64) -> [f64; 3] {
    let (w, h) = img.dimensions();
    let (cx, cy) = ((fx * f64::from(w)) as u32, (fy * f64::from(h)) as u32);
    let mut sum = [0.0; 3];
    let mut n = 0.0;
    for y in cy.saturating_sub(5)..(cy + 5).min(h) {
        for x in cx.saturating_sub(5)..(cx + 5).min(w) {
            let p = img.get_pixel(x, y);
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

/// Turns the page's view round with the arrow keys (as a person would) and returns what the
/// panorama canvas shows there.
async fn look_behind(game: &LocalGame) -> Result<RgbImage, String> {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    const ARROW_RIGHT: char = '\u{E014}';
    let c = game.browser().client();
    let mut keys = KeyActions::new("keys".into());
    // 12 presses of 15° each: heading 180.
    for _ in 0..12 {
        keys = keys
            .then(KeyAction::Down { value: ARROW_RIGHT })
            .then(KeyAction::Up { value: ARROW_RIGHT });
    }
    c.perform_actions(keys).await.map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let h = c
            .execute(
                "return Number(document.querySelector('canvas#pano').dataset.heading)",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        if h.as_f64().is_some_and(|h| (h - 180.0).abs() < 1.0) {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("the view did not turn to heading 180: {h}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let canvas = c
        .find(fantoccini::Locator::Css("canvas#pano"))
        .await
        .map_err(|e| e.to_string())?;
    let png = canvas.screenshot().await.map_err(|e| e.to_string())?;
    image::load_from_memory(&png)
        .map(|d| d.to_rgb8())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_photo_is_shown_flat_straight_ahead() {
    common::require_browser();
    let t = tempfile::tempdir().unwrap();
    // 4:3 photo: red top half, blue bottom half, taken in Lisbon.
    let photo = RgbImage::from_fn(400, 300, |_, y| {
        if y < 150 {
            Rgb([220, 30, 30])
        } else {
            Rgb([30, 30, 220])
        }
    });
    let src = t.path().join("photos");
    map_common::write(
        &src.join("p.jpg"),
        &map_common::with_gps(&map_common::jpeg(&photo), 38.7223, -9.1393),
    );
    let out = t.path().join("lisbon-photo");
    let w = PackWriter::open(&out, PackManifest::new("photo-map", "Photo", None)).unwrap();
    let r = import_photos(&src, Importer::new(w)).unwrap();
    assert_eq!(r.imported.len(), 1, "{r}");
    let map = Arc::new(pack::load_pack(&out).unwrap());
    assert!(matches!(map.locations[0].imagery, Imagery::Photo { .. }));

    let server = start_local(AppState::new(vec![map.clone()])).await.unwrap();
    let url = format!("{}/?seed=1&rounds=1&map={}", server.url(), map.id);
    let browser = Browser::launch(&BrowserOptions::default()).await.unwrap();
    let capture = CaptureOptions {
        headings: 2,
        ..CaptureOptions::default()
    };
    let mut game = match LocalGame::open(browser, &url, &map.name, map.view, capture).await {
        Ok(g) => g,
        Err((b, e)) => {
            b.close().await;
            panic!("{e}");
        }
    };
    let outcome = async {
        let obs = game.observe().await.map_err(|e| e.to_string())?;
        let page = game.page_source().await.map_err(|e| e.to_string())?;
        if !page.contains(r#"data-kind="photo""#) {
            return Err("canvas#pano is not marked data-kind=\"photo\"".to_string());
        }
        let view = |i: usize| {
            image::load_from_memory(&obs.views[i].jpeg)
                .map(|d| d.to_rgb8())
                .map_err(|e| e.to_string())
        };
        if obs.views.len() != 1 || obs.views[0].heading.abs() > 1.0 {
            let headings: Vec<f64> = obs.views.iter().map(|v| v.heading).collect();
            return Err(format!(
                "a photo round is one view straight ahead, captured {headings:?}"
            ));
        }
        let ahead = view(0)?;
        let behind = look_behind(&game).await?;
        let top = mean(&ahead, 0.5, 0.3);
        let bottom = mean(&ahead, 0.5, 0.7);
        let left_edge = mean(&ahead, 0.03, 0.3);
        if !(top[0] > 150.0 && top[2] < 90.0) {
            return Err(format!(
                "heading 0 top should be the photo's red, got {top:?}"
            ));
        }
        if !(bottom[2] > 150.0 && bottom[0] < 90.0) {
            return Err(format!(
                "heading 0 bottom should be the photo's blue, got {bottom:?}"
            ));
        }
        // The photo spans the start view's width.
        if left_edge[0] <= 150.0 {
            return Err(format!(
                "the photo should fill the width, edge is {left_edge:?}"
            ));
        }
        let back = mean(&behind, 0.5, 0.5);
        if back.iter().any(|c| !(30.0..80.0).contains(c)) {
            return Err(format!("heading 180 should be background, got {back:?}"));
        }
        Ok::<_, String>(())
    }
    .await;
    game.into_browser().close().await;
    server.shutdown().await.unwrap();
    outcome.unwrap();
}
