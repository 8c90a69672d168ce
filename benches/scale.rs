//! Issue 15's table in one run (`scripts/bench` runs it in release and keeps the output in
//! benches/RESULTS.md): the CLI as a user runs it against a local model server with a fixed
//! answer time, and real headless Chromium.
//!
//! `cargo bench --bench scale -- [--browsers] [--rounds N]`
//! 1. `geoagent bench --rounds N --concurrency 64` (N = 1000), on a fresh view cache (cold),
//!    then again on the views cached by that run; 2 s model; peak requests in flight.
//! 2. A browser round excluding the model (4 views): median of 10 rounds with a 0 s model.
//! 3. `geoagent play --games 4 --parallel 4 --webdriver` a Selenium Grid 4 with 2 slots.
//! 4. With `--browsers`: browser mode with an 8 s model at `--parallel` 1, 2, 4, 8: rounds per
//!    minute and peak memory per browser (summed PSS of the Chromium processes).
//!
//! Every figure comes with the 1-minute load average before and after it: on a shared machine
//! the timings are only as good as that.

mod common;
#[path = "../tests/common/grid.rs"]
mod grid;

use geoagent::browser::BrowserOptions;
use geoagent::environment::CaptureOptions;
use geoagent::fleet::games::{self, RunFile};
use geoagent::fleet::progress::Progress;
use geoagent::game::builtin;
use geoagent::session::{self, MatchPlan};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The direct-mode model's answer time (the measurements used 2 s).
const DIRECT_MODEL_DELAY: Duration = Duration::from_secs(2);
/// A realistic hosted vision model's answer time, for the browser scaling rows.
const SLOW_MODEL_DELAY: Duration = Duration::from_secs(8);
/// Rounds in flight in the direct rows.
const DIRECT_CONCURRENCY: usize = 64;
/// Rounds of the browser-round row.
const ROUND_ROWS: usize = 10;
/// Rounds per game in the Grid and browser-scaling rows.
const GAME_ROUNDS: usize = 3;
/// How often memory is sampled in the browser-scaling rows.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

struct Row {
    what: String,
    result: String,
    target: String,
    load: String,
}

fn row(what: &str, result: String, target: &str, load_before: String) -> Row {
    let r = Row {
        what: what.into(),
        result,
        target: target.into(),
        load: format!("{load_before} → {}", load()),
    };
    eprintln!("scale: {} | {} | {}", r.what, r.result, r.load);
    r
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// `geoagent bench` through the binary, as a user runs it; returns (wall s, peak in flight).
fn cli_bench(home: &Path, model: &common::SlowModel, rounds: usize, cache: &Path) -> (f64, usize) {
    model.counters.peak.store(0, Ordering::SeqCst);
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args(["bench", "--map", "world", "--seed", "7"])
        .args(["--rounds", &rounds.to_string()])
        .args(["--concurrency", &DIRECT_CONCURRENCY.to_string()])
        .args([
            "--model",
            "slow-2s",
            "--base-url",
            &model.base_url,
            "--no-cache",
        ])
        .arg("--view-cache")
        .arg(cache)
        .arg("--replay-dir")
        .arg(home.join("replays"))
        .current_dir(home)
        .env("HOME", home)
        .env("OPENAI_API_KEY", "sk-bench")
        .stdin(Stdio::null())
        .output()
        .expect("run geoagent bench");
    let wall = t0.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "geoagent bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (wall, model.counters.peak.load(Ordering::SeqCst))
}

/// Proportional set size (bytes) of the processes whose command line holds `needle`: shared
/// pages (the Chromium binary, fonts) are split between the processes that map them, so the
/// sum is what the browsers really add. Summed RSS counts the binary once per process.
fn pss_of(needle: &str) -> u64 {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return 0;
    };
    rd.flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("smaps_rollup")).ok())
        .filter_map(|s| {
            let line = s.lines().find(|l| l.starts_with("Pss:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map(|kib| kib * 1024)
        .sum()
}

fn plan(map: &Arc<geoagent::game::Map>, rounds: usize, replays: &Path) -> MatchPlan {
    MatchPlan {
        maps: vec![map.clone()],
        map: map.clone(),
        seed: 300,
        key: Default::default(),
        rounds,
        browser: BrowserOptions::default(),
        capture: CaptureOptions::default(),
        replay_root: replays.to_path_buf(),
        strategy: "cot".into(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let browsers = args.iter().any(|a| a == "--browsers");
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(1000);
    let tmp = tempfile::tempdir().expect("tempdir");
    // Browser profiles land here, so their processes can be found for the memory figures.
    std::env::set_var("TMPDIR", tmp.path());
    let map = Arc::new(builtin::world());
    let mut rows = Vec::new();

    // 1. Direct mode, cold then cached views.
    let model = common::SlowModel::start(DIRECT_MODEL_DELAY).await;
    let cache = tmp.path().join("views");
    let ideal =
        (rounds as f64 / DIRECT_CONCURRENCY as f64).ceil() * DIRECT_MODEL_DELAY.as_secs_f64();
    for (label, target) in [
        ("cold (fresh view cache)", "<= 45 s"),
        ("views cached", "<= 36 s, 64 in flight"),
    ] {
        let l = load();
        let home = tmp.path().to_path_buf();
        let (m, c) = (&model, cache.clone());
        let (wall, peak) = tokio::task::block_in_place(|| cli_bench(&home, m, rounds, &c));
        rows.push(row(
            &format!(
                "`bench --rounds {rounds} --concurrency {DIRECT_CONCURRENCY}`, {label}, 2 s model"
            ),
            format!("{wall:.1} s (ideal {ideal:.1} s), peak {peak} in flight"),
            target,
            l,
        ));
    }
    drop(model);

    // 2. A browser round excluding the model.
    let zero = common::SlowModel::start(Duration::ZERO).await;
    let reasoner = common::reasoner(&zero.base_url, &map);
    let replays = tempfile::tempdir().expect("tempdir");
    let l = load();
    let report = session::play(&plan(&map, ROUND_ROWS, replays.path()), reasoner)
        .await
        .expect("browser match");
    let per_round: Vec<u64> = report
        .rounds
        .iter()
        .map(|r| r.timings.total_ms - r.timings.reason_ms)
        .collect();
    let capture: Vec<u64> = report.rounds.iter().map(|r| r.timings.capture_ms).collect();
    let guess: Vec<u64> = report.rounds.iter().map(|r| r.timings.guess_ms).collect();
    rows.push(row(
        "browser round excluding the model (4 views)",
        format!(
            "median {} ms (observe {} ms, guess {} ms) over {ROUND_ROWS} rounds",
            median(per_round),
            median(capture),
            median(guess)
        ),
        "<= 500 ms",
        l,
    ));
    drop(zero);

    // 3. Four games on a Grid with two slots.
    let model = common::SlowModel::start(DIRECT_MODEL_DELAY).await;
    let l = load();
    let home = tmp.path().join("grid");
    std::fs::create_dir_all(&home).unwrap();
    let base_url = model.base_url.clone();
    let (wall, done, stderr) = tokio::task::block_in_place(|| {
        let g = grid::Grid::start(&home, &[1, 1]);
        let t0 = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
            .args(["play", "--games", "4", "--parallel", "4", "--seed", "60"])
            .args(["--rounds", &GAME_ROUNDS.to_string()])
            .args(["--webdriver", &g.url])
            .args(["--model", "slow-2s", "--base-url", &base_url, "--no-cache"])
            .arg("--replay-dir")
            .arg(home.join("replays"))
            .current_dir(&home)
            .env("HOME", &home)
            .env("OPENAI_API_KEY", "sk-bench")
            .stdin(Stdio::null())
            .output()
            .expect("run geoagent play");
        let wall = t0.elapsed().as_secs_f64();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let done = text
            .split_whitespace()
            .find(|w| w.contains("/4"))
            .unwrap_or("?")
            .to_string();
        (wall, done, String::from_utf8_lossy(&out.stderr).to_string())
    });
    if !done.starts_with('4') {
        eprintln!("{stderr}");
    }
    rows.push(row(
        &format!("`play --games 4 --parallel 4 --webdriver` Grid 4 with 2 slots, {GAME_ROUNDS} rounds, 2 s model"),
        format!("{done} games done in {wall:.1} s"),
        "every game completes",
        l,
    ));
    drop(model);

    // 4. Browser mode with a realistic model.
    if browsers {
        let model = common::SlowModel::start(SLOW_MODEL_DELAY).await;
        let reasoner = common::reasoner(&model.base_url, &map);
        let needle = tmp.path().join("geoagent-profiles").display().to_string();
        for p in [1usize, 2, 4, 8] {
            let replays = tempfile::tempdir().expect("tempdir");
            let plan = plan(&map, GAME_ROUNDS, replays.path());
            let run = RunFile::new(&plan, p, p, &reasoner.name(), None);
            let path = run.path_in(replays.path());
            let stop = Arc::new(AtomicBool::new(false));
            let peak = Arc::new(AtomicU64::new(0));
            let sampler = {
                let (stop, peak, needle) = (stop.clone(), peak.clone(), needle.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        peak.fetch_max(pss_of(&needle), Ordering::SeqCst);
                        std::thread::sleep(SAMPLE_EVERY);
                    }
                })
            };
            let l = load();
            let t0 = Instant::now();
            let (run, pool) = games::run(run, &path, &plan, p, reasoner.clone(), |total, done| {
                Progress::with_terminal("scale", total, done, false)
            })
            .await
            .expect("browser run");
            let wall = t0.elapsed().as_secs_f64();
            stop.store(true, Ordering::SeqCst);
            let _ = sampler.join();
            let played: usize = run.games.iter().map(|g| g.rounds_done).sum();
            let per_browser = peak.load(Ordering::SeqCst) as f64 / 1e6 / pool.peak().max(1) as f64;
            rows.push(row(
                &format!(
                    "browser mode, 8 s model, `--parallel {p}` ({p} games × {GAME_ROUNDS} rounds)"
                ),
                format!(
                    "{:.1} rounds/min, peak {per_browser:.0} MB PSS per browser",
                    played as f64 * 60.0 / wall
                ),
                &format!(
                    "ideal {:.1} rounds/min",
                    60.0 / SLOW_MODEL_DELAY.as_secs_f64() * p as f64
                ),
                l,
            ));
        }
    }

    println!("| what | measured | target | load avg (1 min) before → after |");
    println!("| --- | --- | --- | --- |");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.what, r.result, r.target, r.load);
    }
}
