//! Issue 25 item 3's figures: the replay viewer of `serve` over 1,000 finished sessions of 50
//! rounds each (about 145 MB of `rounds.jsonl`, generated in a temporary folder from the test
//! fixture's round lines, each padded with a model answer to the size of a real one). Measures
//! one `/api/replays?limit=1` on a fresh server (cold: the index is empty) and again (warm), and
//! 24 concurrent `/replays` page requests: wall time and the process's resident memory (peak
//! `VmHWM`, reset before each phase through `/proc/self/clear_refs`, and `VmRSS` after).
//!
//! `cargo bench --bench viewer_load -- [SESSIONS] [ROUNDS]` (defaults 1000 and 50).

#[path = "../tests/common/generated_replays.rs"]
mod generated_replays;
#[path = "common/proc_status.rs"]
mod proc_status;

use generated_replays::generate;
use geoagent::game::builtin;
use geoagent::server;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Concurrent `/replays` requests, as in the issue.
const CONCURRENT_PAGES: usize = 24;
/// No request waits longer than this.
const CAP: Duration = Duration::from_secs(600);

/// `VmHWM` and `VmRSS` of this process, in MB.
fn memory_mb() -> (f64, f64) {
    let status = proc_status::own();
    let mb = |name| proc_status::mb(&status, name).unwrap_or(0.0);
    (mb("VmHWM:"), mb("VmRSS:"))
}

/// Resets `VmHWM` to the current resident size, so the next phase's peak is its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sessions = args.first().copied().unwrap_or(1000);
    let rounds = args.get(1).copied().unwrap_or(50);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    let t = Instant::now();
    let bytes = generate(&root, sessions, rounds);
    eprintln!(
        "generated {sessions} sessions × {rounds} rounds, {:.0} MB of rounds, in {:.1} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let (_, idle_rss) = memory_mb();
        reset_peak();
        let state = server::AppState::new(vec![Arc::new(builtin::world())]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve_with_replays(listener, state, root, async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder()
            .timeout(CAP)
            .no_proxy()
            .build()
            .unwrap();
        for phase in ["cold", "warm"] {
            reset_peak();
            let t = Instant::now();
            let r = http
                .get(format!("{base}/api/replays?limit=1"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let list: Value = r.json().await.unwrap();
            let wall = t.elapsed();
            let (peak, rss) = memory_mb();
            assert_eq!(list["total"], sessions, "{list}");
            println!(
                "/api/replays?limit=1 {phase}: {:.3} s, peak RSS {peak:.0} MB, RSS after {rss:.0} MB (before the server: {idle_rss:.0} MB)",
                wall.as_secs_f64()
            );
        }
        reset_peak();
        let t = Instant::now();
        let pages: Vec<_> = (0..CONCURRENT_PAGES)
            .map(|_| {
                let (http, url) = (http.clone(), format!("{base}/replays"));
                tokio::spawn(async move {
                    let r = http.get(url).send().await.unwrap();
                    (r.status().as_u16(), r.text().await.unwrap().len())
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for p in pages {
            statuses.push(p.await.unwrap());
        }
        let wall = t.elapsed();
        let (peak, rss) = memory_mb();
        let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
        println!(
            "{CONCURRENT_PAGES} concurrent /replays: {ok} answered 200 ({} KB each) in {:.3} s, peak RSS {peak:.0} MB, RSS after {rss:.0} MB",
            statuses.first().map_or(0, |(_, n)| n / 1024),
            wall.as_secs_f64()
        );
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    });
}
