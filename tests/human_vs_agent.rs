//! Win rate against people on the same rounds, end to end: a scripted person opens the challenge
//! link for people, enters a name and plays in real headless Chromium through the same page anyone
//! uses; the server saves their rounds as human results; the agent then plays the same challenge
//! and `stats` reports the win rate from both sides.

mod common;

use fantoccini::Locator;
use geoagent::agent::baseline::BaselineReasoner;
use geoagent::browser::local_game::LocalGame;
use geoagent::browser::{Browser, BrowserOptions};
use geoagent::environment::CaptureOptions;
use geoagent::environment::Environment;
use geoagent::game::{builtin, Challenge};
use geoagent::geo::LatLon;
use geoagent::humans::Store;
use geoagent::server::{start_local, AppState};
use geoagent::session::{self, MatchPlan};
use geoagent::stats::compare::{build_report, StatsOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SEED: u64 = 99;
const ROUNDS: usize = 3;
/// The server saves human rounds off the request path; this bounds the wait for the file.
const STORE_WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_then_agent_on_the_same_challenge() {
    common::require_browser();
    let map = Arc::new(builtin::world());
    let challenge = Challenge::new(&map, SEED, ROUNDS);
    let data = tempfile::tempdir().unwrap();
    let store_path = data.path().join("humans.jsonl");

    // The person: perfect on round 1, then guesses the Gulf of Guinea.
    let state = AppState::new(vec![map.clone()]);
    state.on_round_completed(geoagent::cli::serve::human_round_sink(Store::open(
        &store_path,
    )));
    let server = start_local(state).await.unwrap();
    let url = format!(
        "{}/?join&seed={SEED}&rounds={ROUNDS}&map={}&player=alice",
        server.url(),
        map.id
    );
    let browser = Browser::launch(&BrowserOptions::default()).await.unwrap();
    let mut person = LocalGame::open(
        browser,
        &url,
        &map.name,
        map.view,
        CaptureOptions {
            headings: 1,
            ..CaptureOptions::default()
        },
    )
    .await
    .map_err(|(_, e)| e)
    .unwrap();
    let played = async {
        // The start screen, prefilled with the challenge and the name: press Start.
        let client = person.browser().client();
        let start = Instant::now();
        let button = loop {
            match client.find(Locator::Css("#start-button")).await {
                Ok(b) if b.is_displayed().await.unwrap_or(false) => break b,
                _ if start.elapsed() > Duration::from_secs(20) => {
                    return Err("no start screen".to_string())
                }
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        button.click().await.map_err(|e| e.to_string())?;
        let mut points = vec![];
        for (i, id) in challenge.location_ids.iter().enumerate() {
            person.observe().await.map_err(|e| e.to_string())?;
            let at = if i == 0 {
                map.location(id).unwrap().pos
            } else {
                LatLon::new(0.0, 0.0).unwrap()
            };
            let (r, _) = person.guess(at).await.map_err(|e| e.to_string())?;
            points.push(r.points);
        }
        Ok(points)
    }
    .await;
    person.into_browser().close().await;
    server.shutdown().await.unwrap();
    let human_points = played.unwrap();
    assert!(human_points[0] >= 4990, "{human_points:?}");

    let store = Store::open(&store_path);
    let start = Instant::now();
    let saved = loop {
        let rows = store.load().unwrap();
        if rows.len() == ROUNDS || start.elapsed() > STORE_WAIT {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        saved.len(),
        ROUNDS,
        "every round of the named person is saved"
    );
    assert!(saved
        .iter()
        .all(|h| h.player == "alice" && h.challenge_id == challenge.id()));

    // The agent (baseline) plays the same challenge; it is not a named player, so nothing is saved
    // for it as a human.
    let replays = tempfile::tempdir().unwrap();
    let plan = MatchPlan {
        maps: vec![map.clone()],
        map: map.clone(),
        seed: SEED,
        key: Default::default(),
        rounds: ROUNDS,
        browser: BrowserOptions::default(),
        capture: CaptureOptions {
            headings: 1,
            ..CaptureOptions::default()
        },
        replay_root: replays.path().to_path_buf(),
        strategy: "cot".into(),
    };
    let report = session::play(&plan, Arc::new(BaselineReasoner::for_map(&map)))
        .await
        .unwrap();
    let agent_points: Vec<u32> = report.rounds.iter().map(|r| r.result.points).collect();

    // By hand: per round win = 1, tie = ½; per game on the totals.
    let (mut wins, mut ties) = (0, 0);
    for (a, h) in agent_points.iter().zip(&human_points) {
        if a > h {
            wins += 1;
        } else if a == h {
            ties += 1;
        }
    }
    let expected_rate = (wins as f64 + ties as f64 / 2.0) / ROUNDS as f64;
    let agent_total: u32 = agent_points.iter().sum();
    let human_total: u32 = human_points.iter().sum();

    let stats = build_report(&StatsOptions {
        humans: vec![store_path.clone()],
        challenge: Some(challenge.id()),
        ..StatsOptions::for_replays(vec![report.replay_dir.clone()])
    })
    .unwrap();
    let pooled = &stats.players[0].versus[0];
    assert_eq!(pooled.rounds_matched, ROUNDS);
    let per_round = pooled.per_round.as_ref().unwrap();
    assert_eq!(
        (per_round.wins, per_round.ties),
        (wins, ties),
        "agent {agent_points:?} vs alice {human_points:?}"
    );
    assert!((per_round.rate.estimate - expected_rate).abs() < 1e-9);
    assert_eq!(per_round.rate.n, ROUNDS);
    let per_game = pooled.per_game.as_ref().unwrap();
    assert_eq!(per_game.rate.n, 1);
    assert_eq!(per_game.wins, usize::from(agent_total > human_total));
}
