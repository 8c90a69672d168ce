//! A crashed browser does not lose a round: Chromium is killed while the agent is thinking about
//! round 2; the session relaunches the browser, resumes the same game and still records every
//! round of the challenge exactly once, in order.

mod common;

use geoagent::agent::baseline::BaselineReasoner;
use geoagent::agent::{Guess, Reasoner};
use geoagent::browser::BrowserOptions;
use geoagent::environment::CaptureOptions;
use geoagent::environment::Observation;
use geoagent::game::{builtin, Challenge};
use geoagent::replay::Replay;
use geoagent::session::{self, MatchPlan};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The baseline, except that on round 2 it first kills every Chromium of this test's profile root.
struct CrashOnRoundTwo {
    inner: BaselineReasoner,
    profile_root: String,
    crashed: AtomicBool,
}

#[async_trait::async_trait]
impl Reasoner for CrashOnRoundTwo {
    fn name(&self) -> String {
        "baseline".into()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        if obs.round == 2 && !self.crashed.swap(true, Ordering::SeqCst) {
            common::kill_chromium_of(&self.profile_root).await;
        }
        self.inner.guess(obs).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_chromium_mid_round_loses_no_round() {
    common::require_browser();
    // Browser profiles go under TMPDIR: a private one makes "this test's Chromium" unambiguous.
    let tmp = tempfile::tempdir().unwrap();
    std::env::set_var("TMPDIR", tmp.path());
    let profile_root = tmp.path().join("geoagent-profiles").display().to_string();

    let map = Arc::new(builtin::world());
    let reasoner = CrashOnRoundTwo {
        inner: BaselineReasoner::for_map(&map),
        profile_root,
        crashed: AtomicBool::new(false),
    };
    let replays = tempfile::tempdir().unwrap();
    let plan = MatchPlan {
        maps: vec![map.clone()],
        map: map.clone(),
        seed: 11,
        key: Default::default(),
        rounds: 3,
        browser: BrowserOptions::default(),
        capture: CaptureOptions {
            headings: 2,
            ..CaptureOptions::default()
        },
        replay_root: replays.path().to_path_buf(),
        strategy: "cot".into(),
    };
    let report = session::play(&plan, Arc::new(reasoner)).await.unwrap();

    let want = Challenge::new(&map, 11, 3).location_ids;
    let got: Vec<String> = report
        .rounds
        .iter()
        .filter_map(|r| r.location_id.clone())
        .collect();
    assert_eq!(got, want, "every round of the challenge, once, in order");
    let replay = Replay::open(&report.replay_dir).unwrap();
    assert_eq!(
        replay.rounds.iter().map(|r| r.round).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        replay.rounds[1].views.len(),
        2,
        "round 2 re-captured in the new browser"
    );
}
