//! geoguessr.com (the replica): Chromium is killed while the agent thinks about round 2; the
//! session relaunches the browser, sets the cookie again and resumes the same game token, and all
//! five rounds are recorded once. Its own binary: it points TMPDIR at a private folder to find
//! "this test's Chromium".

mod common;

use common::geoguessr_site::{Replica, COOKIE};
use geoagent::agent::{Guess, Reasoner};
use geoagent::browser::geoguessr::settings::SiteOptions;
use geoagent::browser::geoguessr::NcfaCookie;
use geoagent::environment::{CaptureOptions, Observation};
use geoagent::session::site::{play_site, SiteGameSpec, SitePlan};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct KillOnRoundTwo {
    inner: geoagent::agent::baseline::BaselineReasoner,
    profile_root: String,
    killed: AtomicBool,
}

#[async_trait::async_trait]
impl Reasoner for KillOnRoundTwo {
    fn name(&self) -> String {
        "baseline".into()
    }
    async fn guess(&self, obs: &Observation) -> Guess {
        if obs.round == 2 && !self.killed.swap(true, Ordering::SeqCst) {
            common::kill_chromium_of(&self.profile_root).await;
        }
        self.inner.guess(obs).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_browser_resumes_the_same_game() {
    common::require_browser();
    let tmp = tempfile::tempdir().unwrap();
    std::env::set_var("TMPDIR", tmp.path());
    let profile_root = tmp.path().join("geoagent-profiles").display().to_string();
    let replica = Replica::start().await;
    let replays = tempfile::tempdir().unwrap();
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
            headings: 1,
            ..CaptureOptions::default()
        },
        replay_root: replays.path().to_path_buf(),
        strategy: "cot".into(),
        spec: SiteGameSpec::New(geoagent::browser::geoguessr::api::NewGame {
            map: "world".into(),
            time_limit: 0,
            forbid_moving: true,
            forbid_zooming: true,
            forbid_rotating: true,
        }),
        human_store: replays.path().join("humans.jsonl"),
    };
    let reasoner = KillOnRoundTwo {
        inner: geoagent::agent::baseline::BaselineReasoner::for_map(
            &geoagent::game::builtin::world(),
        ),
        profile_root,
        killed: AtomicBool::new(false),
    };
    let done = play_site(&plan, Arc::new(reasoner)).await.unwrap();
    assert_eq!(
        replica.games().len(),
        1,
        "the same game was resumed, not a new one"
    );
    let rounds: Vec<usize> = done.report.rounds.iter().map(|r| r.round).collect();
    assert_eq!(rounds, vec![1, 2, 3, 4, 5]);
    assert_eq!(
        done.report
            .rounds
            .iter()
            .map(|r| r.result.points)
            .collect::<Vec<_>>(),
        replica.points_of(done.record.game_token.as_str())
    );
    let pages = replica
        .log()
        .iter()
        .filter(|l| l.starts_with("GET /game/"))
        .count();
    assert!(pages >= 2, "the game page was opened again after the crash");
}
