//! Direct mode throughput (issues 3 and 8): rounds played with a model that answers every request
//! after exactly 2 s, many at once, every round recorded.
//!
//! `cargo bench --bench direct_throughput -- [ROUNDS@CONCURRENCY ...]`; default `200@32 200@32 1000@64`
//! (targets: under 20 s and under 60 s). The first run of a fresh machine paints every
//! panorama (~91 for the built-in world); the bench reports that cold run and then runs warm from
//! the on-disk view cache, as a long benchmark campaign does.

mod common;

use geoagent::environment::CaptureOptions;
use geoagent::fleet::bench::{self, BenchPlan};
use geoagent::fleet::progress::Progress;
use geoagent::game::builtin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The model's constant answer time.
const MODEL_DELAY: Duration = Duration::from_secs(2);

fn count_lines(p: &std::path::Path) -> usize {
    std::fs::read_to_string(p)
        .map(|s| s.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut runs: Vec<(usize, usize)> = std::env::args()
        .skip(1)
        .filter_map(|a| {
            let (r, c) = a.split_once('@')?;
            Some((r.parse().ok()?, c.parse().ok()?))
        })
        .collect();
    if runs.is_empty() {
        runs = vec![(200, 32), (200, 32), (1000, 64)];
    }
    let model = common::SlowModel::start(MODEL_DELAY).await;
    let map = Arc::new(builtin::world());
    let reasoner = common::reasoner(&model.base_url, &map);
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let replays = tempfile::tempdir().expect("tempdir");
    let mut cold = true;
    for (rounds, concurrency) in runs {
        let plan = BenchPlan {
            map: map.clone(),
            seed: 2026 + rounds as u64,
            key: Default::default(),
            rounds,
            concurrency,
            capture: CaptureOptions::default(),
            replay_root: replays.path().to_path_buf(),
            strategy: "cot".into(),
            view_cache: Some(cache_dir.path().to_path_buf()),
        };
        let before = model.counters.requests.load(Ordering::SeqCst);
        model.counters.peak.store(0, Ordering::SeqCst);
        let t0 = Instant::now();
        let report = bench::run(&plan, reasoner.clone(), None, |total, done| {
            Progress::with_terminal("bench", total, done, false)
        })
        .await
        .expect("bench run");
        let wall = t0.elapsed();
        let lines = count_lines(&report.session_dir.join("rounds.jsonl"));
        let requests = model.counters.requests.load(Ordering::SeqCst) - before;
        let ideal = (rounds as f64 / concurrency as f64).ceil() * MODEL_DELAY.as_secs_f64();
        println!(
            "direct_throughput: {rounds} rounds @ concurrency {concurrency} ({} view cache): {:.1} s wall (ideal {ideal:.1} s), {lines} rounds in rounds.jsonl, {requests} model requests, peak {} in flight, mean {:.0} points",
            if cold { "cold" } else { "warm" },
            wall.as_secs_f64(),
            model.counters.peak.load(Ordering::SeqCst),
            report.mean_points,
        );
        assert_eq!(lines, rounds, "every round recorded");
        assert_eq!(model.counters.rejected.load(Ordering::SeqCst), 0);
        cold = false;
    }
}
