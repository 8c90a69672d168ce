//! The default `play` path: no model configured, the baseline reasoner plays in real headless
//! Chromium; every guess lands on the baseline point and the replay holds every round.

use geoagent::agent::baseline::BaselineReasoner;
use geoagent::agent::GuessSource;
use geoagent::browser::local_game::GUESS_PRECISION_KM;
use geoagent::browser::BrowserOptions;
use geoagent::environment::CaptureOptions;
use geoagent::game::{builtin, score};
use geoagent::replay::Replay;
use geoagent::session::{self, MatchPlan};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_plays_two_rounds_with_a_zoomed_view() {
    let map = Arc::new(builtin::world());
    let reasoner = BaselineReasoner::for_map(&map);
    let point = reasoner.point();
    let replays = tempfile::tempdir().unwrap();
    let plan = MatchPlan {
        maps: vec![map.clone()],
        map: map.clone(),
        seed: 3,
        key: Default::default(),
        rounds: 2,
        browser: BrowserOptions::default(),
        capture: CaptureOptions {
            headings: 3,
            zoom_steps: 2,
            jpeg_quality: 70,
        },
        replay_root: replays.path().to_path_buf(),
        strategy: "cot".into(),
    };
    let report = session::play(&plan, Arc::new(reasoner)).await.unwrap();
    assert_eq!(report.rounds.len(), 2);
    for r in &report.rounds {
        assert_eq!(r.guess.source, GuessSource::Baseline);
        assert!(
            r.result.guess.distance_km(&point) <= GUESS_PRECISION_KM * 1.5,
            "{:?} vs {point:?}",
            r.result.guess
        );
        assert_eq!(r.result.points, score(r.result.distance_km, map.size_km));
        // Three headings 120° apart, then the zoomed view at north with fov 90/1.5².
        let headings: Vec<f64> = r.views.iter().map(|v| v.heading.round()).collect();
        assert_eq!(headings.len(), 4);
        for (h, want) in headings.iter().zip([0.0, 120.0, 240.0, 0.0]) {
            let diff = (h - want).rem_euclid(360.0);
            assert!(diff <= 1.0 || diff >= 359.0, "{headings:?}");
        }
        assert!((r.views[3].fov - 40.0).abs() < 0.5, "{:?}", r.views[3]);
    }
    // The two rounds are different places and the views differ between headings.
    assert_ne!(report.rounds[0].result.truth, report.rounds[1].result.truth);
    let replay = Replay::open(&report.replay_dir).unwrap();
    let v0 = replay.view_bytes(&replay.rounds[0].views[0]).unwrap();
    let v1 = replay.view_bytes(&replay.rounds[0].views[1]).unwrap();
    assert_ne!(v0, v1, "turning the view changes the picture");
    assert_eq!(replay.manifest.reasoner, "baseline");
}

/// Regression: the page stops zooming at 15°, so the most zoom steps config allows (6, which
/// would be 7.9°) must wait for 15°, not time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deepest_zoom_stops_at_the_page_minimum() {
    let map = Arc::new(builtin::world());
    let replays = tempfile::tempdir().unwrap();
    let plan = MatchPlan {
        maps: vec![map.clone()],
        map: map.clone(),
        seed: 4,
        key: Default::default(),
        rounds: 1,
        browser: BrowserOptions::default(),
        capture: CaptureOptions {
            headings: 1,
            zoom_steps: 6,
            jpeg_quality: 70,
        },
        replay_root: replays.path().to_path_buf(),
        strategy: "cot".into(),
    };
    let report = session::play(&plan, Arc::new(BaselineReasoner::for_map(&map)))
        .await
        .unwrap();
    let views = &report.rounds[0].views;
    assert_eq!(views.len(), 2);
    assert!((views[1].fov - 15.0).abs() < 0.01, "{:?}", views[1]);
}
