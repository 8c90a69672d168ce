//! Many browser games over a pool: never more than P browsers at once (the pool's own gauge),
//! browsers reused between games, and Chromium killed mid-round in a pooled run is relaunched in
//! its slot with every round of every game still recorded once.

mod common;

use geoagent::agent::baseline::BaselineReasoner;
use geoagent::agent::{Guess, Reasoner};
use geoagent::browser::BrowserOptions;
use geoagent::environment::CaptureOptions;
use geoagent::environment::Observation;
use geoagent::fleet::games::{self, GameStatus, RunFile};
use geoagent::fleet::progress::Progress;
use geoagent::game::{builtin, Challenge};
use geoagent::replay::Replay;
use geoagent::session::MatchPlan;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The baseline; on its `crash_at`-th guess it first kills every Chromium of this test.
struct CrashOnce {
    inner: BaselineReasoner,
    profile_root: String,
    guesses: AtomicUsize,
    crash_at: usize,
}

#[async_trait::async_trait]
impl Reasoner for CrashOnce {
    fn name(&self) -> String {
        "baseline".into()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        if self.guesses.fetch_add(1, Ordering::SeqCst) + 1 == self.crash_at {
            common::kill_chromium_of(&self.profile_root).await;
        }
        self.inner.guess(obs).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_limit_reuse_and_restart_after_a_crash() {
    common::require_browser();
    let tmp = tempfile::tempdir().unwrap();
    std::env::set_var("TMPDIR", tmp.path());
    let profile_root = tmp.path().join("geoagent-profiles").display().to_string();
    let map = Arc::new(builtin::world());
    let replays = tempfile::tempdir().unwrap();
    let plan = MatchPlan {
        maps: vec![map.clone()],
        map: map.clone(),
        seed: 40,
        key: Default::default(),
        rounds: 2,
        browser: BrowserOptions::default(),
        capture: CaptureOptions {
            headings: 1,
            ..CaptureOptions::default()
        },
        replay_root: replays.path().to_path_buf(),
        strategy: "cot".into(),
    };
    let reasoner = Arc::new(CrashOnce {
        inner: BaselineReasoner::for_map(&map),
        profile_root,
        guesses: AtomicUsize::new(0),
        crash_at: 4,
    });
    let run = RunFile::new(&plan, 4, 2, "baseline", None);
    let path = run.path_in(replays.path());
    let (run, pool) = games::run(run, &path, &plan, 2, reasoner, |total, done| {
        Progress::with_terminal("test", total, done, false)
    })
    .await
    .unwrap();

    assert_eq!(pool.size(), 2);
    assert!(
        pool.peak() <= 2,
        "peak {} browsers with a pool of 2",
        pool.peak()
    );
    assert_eq!(pool.peak(), 2, "both slots were used");
    assert_eq!(pool.live(), 0, "every browser closed at the end");
    // Four games on two slots: reuse means fewer launches than games, even counting the
    // relaunches after the crash (which killed the Chromium of both slots).
    assert!(
        pool.launched() <= 4,
        "{} launches for 4 games on 2 slots",
        pool.launched()
    );
    for g in &run.games {
        assert_eq!(g.status, GameStatus::Done, "{g:?}");
        let replay = Replay::open(&replays.path().join(&g.session_id)).unwrap();
        let want = Challenge::new(&map, 40 + g.index as u64, 2).location_ids;
        let got: Vec<String> = replay
            .rounds
            .iter()
            .filter_map(|r| r.location_id.clone())
            .collect();
        assert_eq!(got, want, "game {}: every round once, in order", g.index);
    }
    assert_eq!(
        RunFile::load(&path).unwrap(),
        run,
        "run file saved as it ended"
    );
}
