//! Issue 2's numbers: wall time per round excluding model latency (turn + capture the views,
//! encode, click the guess, read the result, load the next round) in real headless Chromium
//! against the local game, with a zero-latency local LVLM; and chromedriver + Chromium start-up.
//!
//! `cargo bench --bench round_time -- [ROUNDS] [HEADINGS]` (defaults: 20 rounds, 4 headings).

#[path = "../tests/common/openai_server.rs"]
mod openai_server;

use geoagent::agent::baseline::baseline_point;
use geoagent::agent::prompt::PromptSet;
use geoagent::agent::reasoner::{LvlmReasoner, ReasonerOptions};
use geoagent::browser::BrowserOptions;
use geoagent::environment::CaptureOptions;
use geoagent::game::builtin;
use geoagent::lvlm::openai::{OpenAiClient, OpenAiConfig};
use geoagent::lvlm::retry::RetryPolicy;
use geoagent::session::{self, MatchPlan};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn pct(mut v: Vec<u64>, p: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // RUST_LOG=geoagent::browser=debug shows where each round's time goes.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let rounds: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(20);
    let headings: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);

    let llm = openai_server::OpenAiServer::start(Default::default()).await;
    let map = Arc::new(builtin::world());
    let client = OpenAiClient::new(OpenAiConfig {
        base_url: llm.base_url.clone(),
        model: "zero-latency".into(),
        api_key: None,
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy::default(),
        image_detail: None,
    })
    .expect("client");
    let prompts = PromptSet::load(Path::new("agent_prompts"), "cot").expect("prompts");
    let reasoner = LvlmReasoner::new(
        Arc::new(client),
        prompts,
        baseline_point(&map),
        ReasonerOptions::default(),
    );
    let replays = tempfile::tempdir().expect("tempdir");
    let plan = MatchPlan {
        maps: vec![map.clone()],
        map: map.clone(),
        seed: 2026,
        key: Default::default(),
        rounds,
        browser: BrowserOptions::default(),
        capture: CaptureOptions {
            headings,
            ..CaptureOptions::default()
        },
        replay_root: replays.path().to_path_buf(),
        strategy: "cot".into(),
    };
    let t0 = Instant::now();
    let report = session::play(&plan, Arc::new(reasoner))
        .await
        .expect("match");
    let wall = t0.elapsed();

    let per_round: Vec<u64> = report
        .rounds
        .iter()
        .map(|r| r.timings.total_ms - r.timings.reason_ms)
        .collect();
    let capture: Vec<u64> = report.rounds.iter().map(|r| r.timings.capture_ms).collect();
    let guess: Vec<u64> = report.rounds.iter().map(|r| r.timings.guess_ms).collect();
    let reason: Vec<u64> = report.rounds.iter().map(|r| r.timings.reason_ms).collect();
    let view_kb: Vec<u64> = report
        .rounds
        .iter()
        .flat_map(|r| r.views.iter().map(|v| v.bytes as u64 / 1024))
        .collect();
    println!("round_time: {rounds} rounds, {headings} views/round, local game + zero-latency LVLM");
    println!(
        "  chromedriver ready      {:>6} ms",
        report.launch.driver_ms
    );
    println!(
        "  Chromium session ready  {:>6} ms",
        report.launch.session_ms
    );
    println!(
        "  per round excl. model   median {:>4} ms   p90 {:>4} ms   max {:>4} ms",
        median(per_round.clone()),
        pct(per_round.clone(), 0.9),
        per_round.iter().max().copied().unwrap_or(0)
    );
    println!(
        "    of which observe (load + turn + capture)  median {:>4} ms",
        median(capture)
    );
    println!(
        "    of which guess (click + submit + result)  median {:>4} ms",
        median(guess)
    );
    println!(
        "  reasoner (prompt + HTTP + parse, 0 ms model) median {:>4} ms",
        median(reason)
    );
    println!(
        "  view JPEG size          median {:>4} KiB",
        median(view_kb)
    );
    println!("  whole match wall time   {:>6.1} s", wall.as_secs_f64());
}
