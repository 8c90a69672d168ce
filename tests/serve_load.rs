//! Issue 13 item 3: `serve` under a flood of seedless game creations (bounded in count and time)
//! still serves a person every first panorama of their new games, and one address cannot create
//! games without limit. How fast it serves them is measured by `cargo bench --bench serve_load`
//! (release; figures in benches/RESULTS.md), not asserted here: tests do not time. Real server, real HTTP on loopback; the flood comes from many loopback
//! addresses (127.0.1.x) so it passes the per-address limit and loads the renderer itself.

use geoagent::game::builtin;
use geoagent::server::{serve, AppState, CreationLimit};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Flood size and concurrency, as in the probe that exhausted the server (scaled to CI).
const FLOOD_REQUESTS: usize = 300;
const FLOOD_CONCURRENCY: usize = 50;
/// The whole test stops by then whatever happens.
const TEST_CAP: Duration = Duration::from_secs(60);
/// The person starts this many games during the flood.
const PERSON_GAMES: usize = 10;

fn client_from(ip: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(ip))
        .timeout(TEST_CAP)
        .build()
        .unwrap()
}

async fn start(state: AppState) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

/// Creates a game as a named person and fetches its first panorama; the time it took.
async fn person_first_panorama(http: &reqwest::Client, base: &str) -> Duration {
    let t = Instant::now();
    let created: serde_json::Value = http
        .post(format!("{base}/api/games"))
        .json(&serde_json::json!({"player": "pat"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["game_id"].as_str().unwrap();
    let game: serde_json::Value = http
        .get(format!("{base}/api/games/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pano = game["pano"].as_str().unwrap();
    let r = http.get(format!("{base}{pano}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.bytes().await.unwrap().is_empty());
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_is_served_every_first_panorama_during_a_flood() {
    let state = AppState::new(vec![Arc::new(builtin::world())]);
    state.limit_creations(CreationLimit::default());
    let (addr, stop) = start(state).await;
    let base = format!("http://{addr}");
    let deadline = Instant::now() + TEST_CAP;

    let sent = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for w in 0..FLOOD_CONCURRENCY {
        let (sent, created, base) = (sent.clone(), created.clone(), base.clone());
        let http = client_from(Ipv4Addr::new(127, 0, 1, 1 + w as u8));
        flood.push(tokio::spawn(async move {
            while sent.fetch_add(1, Ordering::SeqCst) < FLOOD_REQUESTS && Instant::now() < deadline
            {
                if let Ok(r) = http
                    .post(format!("{base}/api/games"))
                    .json(&serde_json::json!({}))
                    .send()
                    .await
                {
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
        if Instant::now() >= deadline {
            break;
        }
        times.push(person_first_panorama(&person, &base).await);
    }
    for f in flood {
        let _ = tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), f).await;
    }
    let _ = stop.send(());

    times.sort();
    let p90 = times[(times.len() * 9).div_ceil(10) - 1];
    eprintln!(
        "flood: {} of {FLOOD_REQUESTS} created; person's first panorama: p90 {p90:?}, all {times:?}",
        created.load(Ordering::SeqCst)
    );
    assert_eq!(
        times.len(),
        PERSON_GAMES,
        "the person's games did not finish in time"
    );
    assert!(
        created.load(Ordering::SeqCst) >= FLOOD_REQUESTS / 2,
        "the flood should mostly get through (it comes from 50 addresses)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_create_games_without_limit() {
    let state = AppState::new(vec![Arc::new(builtin::world())]);
    state.limit_creations(CreationLimit::default());
    let (addr, stop) = start(state).await;
    let http = client_from(Ipv4Addr::LOCALHOST);
    let mut statuses = Vec::new();
    for _ in 0..(geoagent::server::DEFAULT_CREATION_BURST as usize + 5) {
        let r = http
            .post(format!("http://{addr}/api/games"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        statuses.push((r.status().as_u16(), r.headers().contains_key("retry-after")));
    }
    let _ = stop.send(());
    let refused: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!refused.is_empty(), "{statuses:?}");
    assert!(
        refused.iter().all(|(_, retry)| *retry),
        "429 says when to retry"
    );
    assert_eq!(statuses[0].0, 201);
}
