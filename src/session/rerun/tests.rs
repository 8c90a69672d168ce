//! Tests of `session::rerun`.

use super::*;
use crate::agent::{Guess, GuessSource};
use crate::environment::View;
use crate::geo::LatLon;
use crate::replay::tests::{manifest, record, tiny_jpeg};
use crate::replay::Replay;
use crate::replay::ViewRecord;

/// Guesses a fixed point and remembers what it was shown.
struct Fixed {
    seen: std::sync::Mutex<Vec<(usize, usize, String)>>,
}

#[async_trait::async_trait]
impl Reasoner for Fixed {
    fn name(&self) -> String {
        "fixed".into()
    }
    async fn guess(&self, obs: &Observation) -> Guess {
        self.seen.lock().unwrap().push((
            obs.round,
            obs.views.iter().map(|v| v.jpeg.len()).sum(),
            obs.map_name.clone(),
        ));
        Guess {
            pos: LatLon::new(0.0, 0.0).unwrap(),
            country: None,
            confidence: None,
            rationale: None,
            source: GuessSource::Model,
            notes: vec![],
            exchanges: vec![],
            usage: Default::default(),
            candidates: vec![],
            revisions: Vec::new(),
        }
    }
}

#[tokio::test]
async fn rerun_feeds_recorded_views_and_scores_against_recorded_truth() {
    let root = tempfile::tempdir().unwrap();
    let mut w = ReplayWriter::create(root.path(), &manifest("p")).unwrap();
    let view = View {
        heading: 0.0,
        heading_ref: crate::environment::HeadingRef::Compass,
        pitch: 0.0,
        fov: 90.0,
        width: 4,
        height: 2,
        jpeg: tiny_jpeg(9),
    };
    let mut r1 = record(1);
    r1.views = w.save_views(1, &[view]).unwrap();
    w.append(&r1).unwrap();
    let parent = Replay::open(&root.path().join("p")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let fixed = Fixed {
        seen: Default::default(),
    };
    let rep = rerun(&parent, &fixed, "direct", Bounds::WORLD, out.path(), None)
        .await
        .unwrap();
    assert_eq!(
        *fixed.seen.lock().unwrap(),
        vec![(1, tiny_jpeg(9).len(), "Synthetic World".to_string())]
    );
    let child = Replay::open(&rep.dir).unwrap();
    assert_eq!(child.manifest.parent.as_deref(), Some("p"));
    assert_eq!(child.manifest.environment, crate::environment::Kind::Rerun);
    assert_eq!(child.manifest.strategy, "direct");
    assert_eq!(child.manifest.challenge, parent.manifest.challenge);
    let truth = LatLon::new(1.0, 2.0).unwrap();
    let d = LatLon::new(0.0, 0.0).unwrap().distance_km(&truth);
    assert_eq!(child.rounds[0].result.points, score(d, 14916.862));
    assert!((child.rounds[0].result.distance_km - d).abs() < 1e-9);
    assert_eq!(
        child.view_bytes(&child.rounds[0].views[0]).unwrap(),
        tiny_jpeg(9)
    );
}

#[tokio::test]
async fn empty_or_viewless_sessions_say_why() {
    let root = tempfile::tempdir().unwrap();
    let mut w = ReplayWriter::create(root.path(), &manifest("e")).unwrap();
    let fixed = Fixed {
        seen: Default::default(),
    };
    let parent = Replay::open(&root.path().join("e")).unwrap();
    let e = rerun(&parent, &fixed, "cot", Bounds::WORLD, root.path(), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no finished round"), "{e}");
    // A view file that is gone is named.
    let mut r = record(1);
    r.views = vec![ViewRecord {
        file: "views/r001_v0.jpg".into(),
        heading: 0.0,
        pitch: 0.0,
        fov: 90.0,
        width: 1,
        height: 1,
        bytes: 1,
        heading_ref: crate::environment::HeadingRef::Compass,
    }];
    w.append(&r).unwrap();
    let parent = Replay::open(&root.path().join("e")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let e = rerun(&parent, &fixed, "cot", Bounds::WORLD, out.path(), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("r001_v0.jpg"), "{e}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_session_whose_map_size_is_unknown_is_refused_before_any_model_call() {
    let root = tempfile::tempdir().unwrap();
    let mut m = manifest("u");
    m.map.size_km = None;
    let mut w = ReplayWriter::create(root.path(), &m).unwrap();
    w.append(&record(1)).unwrap();
    let parent = Replay::open(&root.path().join("u")).unwrap();
    let fixed = Fixed {
        seen: Default::default(),
    };
    let out = tempfile::tempdir().unwrap();
    let e = rerun(&parent, &fixed, "cot", Bounds::WORLD, out.path(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("session u") && e.contains("size is unknown"),
        "{e}"
    );
    assert!(fixed.seen.lock().unwrap().is_empty(), "no model was asked");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}
