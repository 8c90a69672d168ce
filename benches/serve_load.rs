//! `serve` under a flood (issue 13, item 3): 1,000 seedless game creations at 50 concurrent from
//! 50 loopback addresses (so the per-address limit does not stop them and the renderer is loaded),
//! while a person starts games one after another and fetches each first panorama. Reports the
//! person's p50/p90/max time to the first panorama, the flood's throughput and the process's peak
//! memory and threads. Target: p90 within 1.5 s.
//!
//! `cargo bench --bench serve_load` (release mode; `GEOAGENT_BENCH_FLOOD=N` changes the flood).

#[path = "common/proc_status.rs"]
mod proc_status;

use geoagent::game::builtin;
use geoagent::server::{serve, AppState, CreationLimit};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The probe's flood: requests and how many at once.
const DEFAULT_FLOOD: usize = 1000;
const FLOOD_CONCURRENCY: usize = 50;
/// Games the person starts during the flood.
const PERSON_GAMES: usize = 20;
/// Nothing waits longer than this.
const CAP: Duration = Duration::from_secs(300);

fn client_from(ip: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(ip))
        .timeout(CAP)
        .no_proxy()
        .build()
        .expect("client")
}

/// `VmHWM` (peak resident memory, MB) and `Threads` of this process, from /proc.
fn peak_mb_and_threads() -> (f64, usize) {
    let status = proc_status::own();
    (
        proc_status::mb(&status, "VmHWM:").unwrap_or(0.0),
        proc_status::field(&status, "Threads:").unwrap_or(0.0) as usize,
    )
}

async fn person_first_panorama(http: &reqwest::Client, base: &str) -> Duration {
    let t = Instant::now();
    let created: serde_json::Value = http
        .post(format!("{base}/api/games"))
        .json(&serde_json::json!({"player": "pat"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("created");
    let id = created["game_id"].as_str().expect("game id");
    let game: serde_json::Value = http
        .get(format!("{base}/api/games/{id}"))
        .send()
        .await
        .expect("game")
        .json()
        .await
        .expect("game json");
    let pano = game["pano"].as_str().expect("pano");
    let bytes = http
        .get(format!("{base}{pano}"))
        .send()
        .await
        .expect("pano")
        .bytes()
        .await
        .expect("pano bytes");
    assert!(!bytes.is_empty());
    t.elapsed()
}

fn main() {
    let flood: usize = std::env::var("GEOAGENT_BENCH_FLOOD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_FLOOD);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let state = AppState::new(vec![Arc::new(builtin::world())]);
        state.limit_creations(CreationLimit::default());
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, state, async move {
            let _ = stopped.await;
        }));

        let t0 = Instant::now();
        let sent = Arc::new(AtomicUsize::new(0));
        let created = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for w in 0..FLOOD_CONCURRENCY {
            let (sent, created, base) = (sent.clone(), created.clone(), base.clone());
            let http = client_from(Ipv4Addr::new(127, 0, 1, 1 + w as u8));
            workers.push(tokio::spawn(async move {
                while sent.fetch_add(1, Ordering::SeqCst) < flood {
                    if let Ok(r) = http.post(format!("{base}/api/games")).send().await {
                        if r.status() == 201 {
                            created.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            }));
        }
        let person = client_from(Ipv4Addr::new(127, 0, 0, 2));
        let mut times = Vec::new();
        for _ in 0..PERSON_GAMES {
            times.push(person_first_panorama(&person, &base).await);
        }
        for w in workers {
            let _ = w.await;
        }
        let wall = t0.elapsed();
        let _ = stop.send(());
        times.sort();
        let pct = |p: usize| times[(times.len() * p).div_ceil(100) - 1].as_secs_f64();
        let (peak_mb, threads) = peak_mb_and_threads();
        println!(
            "serve_load: flood {flood} creations at {FLOOD_CONCURRENCY} concurrent, {} created in {:.1} s; \
             person's first panorama over {PERSON_GAMES} games: p50 {:.2} s, p90 {:.2} s (target <= 1.5 s), max {:.2} s; \
             peak RSS {peak_mb:.0} MB, {threads} threads",
            created.load(Ordering::SeqCst),
            wall.as_secs_f64(),
            pct(50),
            pct(90),
            pct(100),
        );
    });
}
