//! A full `play` in real headless Chromium against the local game, with an LVLM served by a local
//! OpenAI-compatible test server: retries on 429, repairs a malformed answer, and every round lands
//! in the replay with the points the formula gives.

mod common;

use common::openai_server::{OpenAiServer, Reply};
use geoagent::agent::baseline::baseline_point;
use geoagent::agent::prompt::PromptSet;
use geoagent::agent::reasoner::{LvlmReasoner, ReasonerOptions};
use geoagent::agent::GuessSource;
use geoagent::browser::local_game::GUESS_PRECISION_KM;
use geoagent::browser::BrowserOptions;
use geoagent::environment::CaptureOptions;
use geoagent::game::{builtin, score};
use geoagent::geo::LatLon;
use geoagent::lvlm::openai::{OpenAiClient, OpenAiConfig};
use geoagent::lvlm::retry::RetryPolicy;
use geoagent::replay::Replay;
use geoagent::session::{self, MatchPlan};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plays_three_rounds_with_a_scripted_model() {
    common::require_browser();
    let llm = OpenAiServer::start(Default::default()).await;
    // Round 1: rate limited once (Retry-After: 1 s), then a fenced JSON answer.
    llm.push(Reply::Status {
        code: 429,
        retry_after: Some("1".into()),
        body: r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#.into(),
    });
    llm.push(Reply::Text(
        "Driving on the right, French road signs.\n```json\n{\"lat\": 48.8566, \"lon\": 2.3522, \"country\": \"FR\", \"confidence\": 0.7, \"rationale\": \"Paris\"}\n```".into(),
    ));
    // Round 2: an answer without coordinates, then the repaired one.
    llm.push(Reply::Text(
        "It looks warm and sunny, probably somewhere in the south.".into(),
    ));
    llm.push(Reply::Text(
        r#"{"lat": -33.8688, "lon": 151.2093, "country": "AU"}"#.into(),
    ));
    // Round 3: prose with degrees-minutes-seconds.
    llm.push(Reply::Text(
        "My final answer: 35°41'22\"N 139°41'30\"E (Tokyo, Japan).".into(),
    ));
    let expected = [
        LatLon::new(48.8566, 2.3522).unwrap(),
        LatLon::new(-33.8688, 151.2093).unwrap(),
        LatLon::new(35.689_444, 139.691_667).unwrap(),
    ];

    let map = Arc::new(builtin::world());
    let client = OpenAiClient::new(OpenAiConfig {
        base_url: llm.base_url.clone(),
        model: "scripted-model".into(),
        api_key: Some("sk-test-e2e".to_string().into()),
        request_timeout: Duration::from_secs(20),
        retry: RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(3),
        },
        image_detail: None,
    })
    .unwrap();
    let prompts = PromptSet::load(Path::new("agent_prompts"), "cot").unwrap();
    let reasoner = LvlmReasoner::new(
        Arc::new(client),
        prompts,
        baseline_point(&map),
        ReasonerOptions {
            round_timeout: Duration::from_secs(60),
            ..ReasonerOptions::default()
        },
    );
    let replays = tempfile::tempdir().unwrap();
    let plan = MatchPlan {
        maps: vec![map.clone()],
        map: map.clone(),
        seed: 42,
        key: Default::default(),
        rounds: 3,
        browser: BrowserOptions::default(),
        capture: CaptureOptions::default(),
        replay_root: replays.path().to_path_buf(),
        strategy: "cot".into(),
    };
    let report = session::play(&plan, Arc::new(reasoner)).await.unwrap();

    assert_eq!(report.rounds.len(), 3);
    for (r, want) in report.rounds.iter().zip(expected) {
        assert_eq!(
            r.guess.source,
            GuessSource::Model,
            "round {}: {:?}",
            r.round,
            r.guess
        );
        // The click landed where the reasoner said, within the controller's map precision.
        let off = r.result.guess.distance_km(&want);
        assert!(
            off <= GUESS_PRECISION_KM * 1.5,
            "round {}: marker {off:.3} km from the guess",
            r.round
        );
        // Points follow the formula on the page's own guess and truth.
        let d = r.result.guess.distance_km(&r.result.truth);
        assert!(
            (d - r.result.distance_km).abs() < 0.05,
            "round {}: {d} vs {}",
            r.round,
            r.result.distance_km
        );
        assert_eq!(
            r.result.points,
            score(r.result.distance_km, map.size_km),
            "round {}",
            r.round
        );
        assert!(
            r.location_id.is_some(),
            "truth matched back to a map location"
        );
        assert_eq!(r.views.len(), 4);
    }
    // 429 retried inside round 1's first exchange; round 2 needed the repair prompt.
    assert_eq!(report.rounds[0].guess.exchanges.len(), 1);
    assert_eq!(report.rounds[0].guess.exchanges[0].attempts, 2);
    assert_eq!(report.rounds[1].guess.exchanges.len(), 2);
    assert!(report.rounds[0].guess.usage.input_tokens > 0);

    // Every answer request carried the four captured views as JPEG images.
    let reqs = llm.requests();
    assert_eq!(reqs.len(), 5, "429 + answer, malformed + repair, answer");
    for i in [0, 1, 2, 4] {
        assert_eq!(reqs[i].image_count, 4, "request {i}");
    }
    // The local game knows its panorama's orientation: compass headings, not a start view.
    for i in [1, 2, 4] {
        let t = &reqs[i].text;
        assert!(
            t.contains("View 1: heading 0° (north)") && t.contains("View 2: heading 90° (east)"),
            "request {i}: {t}"
        );
        assert!(!t.contains("View 1: start view"), "request {i}: {t}");
    }

    // The replay on disk holds every round and its views.
    let replay = Replay::open(&report.replay_dir).unwrap();
    assert_eq!(replay.rounds.len(), 3);
    assert_eq!(replay.manifest.reasoner, "openai:scripted-model");
    for r in &replay.rounds {
        for v in &r.views {
            let bytes = replay.view_bytes(v).unwrap();
            assert_eq!(&bytes[..2], &[0xFF, 0xD8], "{} is a JPEG", v.file);
            assert!(v.width >= 400 && v.height >= 300, "{v:?}");
        }
        assert!(!r.guess.exchanges[0].prompt.is_empty());
        assert!(r.guess.exchanges[0].raw.is_some());
    }
    let table = report.render();
    assert!(table.contains("Total") && table.contains(&report.total_points().to_string()));
    // The key never reaches the replay.
    let all = std::fs::read_to_string(report.replay_dir.join("rounds.jsonl")).unwrap();
    assert!(!all.contains("sk-test-e2e"));
}
