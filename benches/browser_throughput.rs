//! Browser mode throughput (issue 8): rounds per minute with P = 1, 2, 4 browser sessions and a
//! model that answers every request after 2 s, and peak memory per browser (the summed RSS of
//! the Chromium processes of this bench's profile folders, sampled from /proc).
//!
//! `cargo bench --bench browser_throughput -- [P ...]` (default `1 2 4`); each P plays 2·P games
//! of 3 rounds with 4 views per round.

mod common;

use geoagent::browser::BrowserOptions;
use geoagent::environment::CaptureOptions;
use geoagent::fleet::games::{self, RunFile};
use geoagent::fleet::progress::Progress;
use geoagent::game::builtin;
use geoagent::session::MatchPlan;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The model's constant answer time.
const MODEL_DELAY: Duration = Duration::from_secs(2);
/// Rounds per game.
const ROUNDS: usize = 3;
/// How often memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);
/// Linux reports RSS in pages of this size on every platform this runs on.
const PAGE_BYTES: u64 = 4096;

/// Summed RSS (bytes) and count of processes whose command line mentions `needle`.
fn rss_of(needle: &str) -> (u64, usize) {
    let mut total = 0;
    let mut n = 0;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return (0, 0);
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(cmd) = std::fs::read(p.join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmd).contains(needle) {
            continue;
        }
        if let Ok(statm) = std::fs::read_to_string(p.join("statm")) {
            if let Some(pages) = statm
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse::<u64>().ok())
            {
                total += pages * PAGE_BYTES;
                n += 1;
            }
        }
    }
    (total, n)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut ps: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if ps.is_empty() {
        ps = vec![1, 2, 4];
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    std::env::set_var("TMPDIR", tmp.path());
    let needle = tmp.path().join("geoagent-profiles").display().to_string();
    let model = common::SlowModel::start(MODEL_DELAY).await;
    let map = Arc::new(builtin::world());
    let reasoner = common::reasoner(&model.base_url, &map);
    for p in ps {
        let replays = tempfile::tempdir().expect("tempdir");
        let plan = MatchPlan {
            maps: vec![map.clone()],
            map: map.clone(),
            seed: 300,
            key: Default::default(),
            rounds: ROUNDS,
            browser: BrowserOptions::default(),
            capture: CaptureOptions::default(),
            replay_root: replays.path().to_path_buf(),
            strategy: "cot".into(),
        };
        let games_n = 2 * p;
        let run = RunFile::new(&plan, games_n, p, &reasoner.name(), None);
        let path = run.path_in(replays.path());
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let sampler = {
            let (stop, peak, needle) = (stop.clone(), peak.clone(), needle.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    peak.fetch_max(rss_of(&needle).0, Ordering::SeqCst);
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
        };
        let t0 = Instant::now();
        let (run, pool) = games::run(run, &path, &plan, p, reasoner.clone(), |total, done| {
            Progress::with_terminal("browser-bench", total, done, false)
        })
        .await
        .expect("run");
        let wall = t0.elapsed();
        stop.store(true, Ordering::SeqCst);
        let _ = sampler.join();
        let rounds: usize = run.games.iter().map(|g| g.rounds_done).sum();
        let failed = run.failed().count();
        let peak_mb = peak.load(Ordering::SeqCst) as f64 / 1e6;
        println!(
            "browser_throughput: P={p}: {rounds} rounds ({games_n} games) in {:.1} s = {:.1} rounds/min; peak Chromium RSS {:.0} MB total, {:.0} MB per browser (peak {} browsers); {failed} failed games",
            wall.as_secs_f64(),
            rounds as f64 * 60.0 / wall.as_secs_f64(),
            peak_mb,
            peak_mb / pool.peak().max(1) as f64,
            pool.peak()
        );
        assert_eq!(rounds, games_n * ROUNDS, "every round recorded");
    }
}
