//! The geoguessr.com game page however it is drawn (issue 22): default settings play a classic
//! game on the replica's untouched page with its guess map drawn as `<img>` tiles, one canvas
//! and a vector layer; the point the site received is where the click was meant (the drift is
//! recorded per round); no view handed to the reasoner is the loading screen or a blank canvas.

mod common;

use common::geoguessr_site::{MapRendering, PageOptions, Replica, COOKIE};
use geoagent::agent::{Guess, Reasoner};
use geoagent::browser::geoguessr::settings::SiteOptions;
use geoagent::browser::geoguessr::NcfaCookie;
use geoagent::environment::{CaptureOptions, Observation};
use geoagent::geo::LatLon;
use geoagent::session::site::{play_site, SiteGameSpec, SitePlan};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Far-apart places, one per round: the clicks cross the whole map.
const PLACES: [(f64, f64); 5] = [
    (-33.8688, 151.2093),
    (64.1466, -21.9426),
    (-12.0464, -77.0428),
    (48.8566, 2.3522),
    (35.6762, 139.6503),
];

/// Guesses round N's place in [`PLACES`] and keeps every observation.
struct Places {
    inner: Arc<dyn Reasoner>,
    seen: Mutex<Vec<Observation>>,
}

#[async_trait::async_trait]
impl Reasoner for Places {
    fn name(&self) -> String {
        "places".into()
    }
    async fn guess(&self, obs: &Observation) -> Guess {
        self.seen.lock().unwrap().push(obs.clone());
        let mut g = self.inner.guess(obs).await;
        let (lat, lon) = PLACES[(obs.round - 1) % PLACES.len()];
        g.pos = LatLon { lat, lon };
        g
    }
}

/// Share of a view's pixels in the replica panorama's saturated colours: the loading screen
/// (grey on dark grey) and an undrawn canvas have none.
fn coloured_share(jpeg: &[u8]) -> f64 {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    let n = img.pixels().len() as f64;
    let coloured = img
        .pixels()
        .filter(|p| {
            let [r, g, b] = p.0;
            r.max(g).max(b) - r.min(g).min(b) > 80
        })
        .count();
    coloured as f64 / n
}

async fn play(rendering: MapRendering) {
    let replica = Replica::start_with(PageOptions::drawn_as(rendering)).await;
    let tmp = tempfile::tempdir().unwrap();
    let reasoner = Arc::new(Places {
        inner: Arc::new(geoagent::agent::baseline::BaselineReasoner::for_map(
            &geoagent::game::builtin::world(),
        )),
        seen: Mutex::new(vec![]),
    });
    // Default settings but the pacing a test cannot wait for.
    let plan = SitePlan {
        site: SiteOptions {
            base_url: replica.base_url.clone(),
            round_pause: Duration::ZERO,
            game_pause: Duration::ZERO,
            max_games_per_hour: 100,
            ..SiteOptions::default()
        },
        cookie: NcfaCookie::new(COOKIE).unwrap(),
        browser: geoagent::browser::BrowserOptions::default(),
        capture: CaptureOptions {
            headings: 2,
            ..CaptureOptions::default()
        },
        replay_root: tmp.path().to_path_buf(),
        strategy: "cot".into(),
        spec: SiteGameSpec::New(geoagent::browser::geoguessr::api::NewGame {
            map: "world".into(),
            time_limit: 0,
            forbid_moving: false,
            forbid_zooming: true,
            forbid_rotating: false,
        }),
        human_store: tmp.path().join("humans.jsonl"),
    };
    let done = play_site(&plan, reasoner.clone())
        .await
        .unwrap_or_else(|e| panic!("{rendering:?}: {e:#}"));
    let token = done.record.game_token.clone();
    assert_eq!(replica.points_of(token.as_str()).len(), 5, "{rendering:?}");
    let tolerance = SiteOptions::default().pin_tolerance_px;
    for (i, r) in done.report.rounds.iter().enumerate() {
        let (lat, lon) = PLACES[i];
        // The point the site received (the replica's own record) against the point meant.
        let km = r.result.guess.distance_km(&LatLon { lat, lon });
        let c = &done.record.scores[i];
        eprintln!(
            "{rendering:?} round {}: drift {:?} px, {km:.1} km",
            i + 1,
            c.click_drift_px
        );
        let px = c.click_drift_px.expect("a map guess records its drift");
        assert!(px <= tolerance, "{rendering:?} round {}: {c:?}", i + 1);
        // At the world map's zoom a pixel is at most ~80 km.
        assert!(km < 250.0, "{rendering:?} round {}: {km} km off", i + 1);
        assert!((c.click_drift_km.unwrap() - km).abs() < 1.0, "{c:?} {km}");
    }
    let seen = reasoner.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    for obs in &seen {
        for v in &obs.views {
            let share = coloured_share(&v.jpeg);
            if share <= 0.05 {
                // Kept for a person to look at (the temporary folder goes with the test).
                let keep = std::env::temp_dir()
                    .join(format!("geoguessr_page-{rendering:?}-{}.jpg", obs.round));
                let _ = std::fs::write(&keep, &v.jpeg);
                let img = image::load_from_memory(&v.jpeg).unwrap().to_rgb8();
                let n = img.pixels().len() as u64;
                let sum = img.pixels().fold([0u64; 3], |a, p| {
                    [
                        a[0] + p.0[0] as u64,
                        a[1] + p.0[1] as u64,
                        a[2] + p.0[2] as u64,
                    ]
                });
                eprintln!(
                    "the view is in {} (heading {}, {}x{}, mean rgb {:?})",
                    keep.display(),
                    v.heading,
                    v.width,
                    v.height,
                    sum.map(|c| c / n)
                );
            }
            assert!(
                share > 0.05,
                "{rendering:?} round {}: a view with {share:.3} of its pixels coloured is the loading screen or a blank canvas",
                obs.round
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_settings_play_every_guess_map_rendering() {
    common::require_browser();
    for r in MapRendering::ALL {
        play(r).await;
    }
}
