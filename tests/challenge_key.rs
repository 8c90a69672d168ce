//! Challenges cannot be precomputed (issue 13, item 5). A challenge's places depend on a secret
//! the machine keeps (`data/server-secret`, created on first use, owner-only), not on its public
//! name alone; `bench`/`play` and `serve` read the same secret, so the agent and people still get
//! the same places; and the `/replays` viewer hides every session that went to a place of a
//! challenge someone is playing, not only sessions of that very challenge.
//!
//! Runs the real binary in a temp folder (its `data/` and `replays/` land there).

use geoagent::game::{builtin, Challenge, ChallengeKey};
use geoagent::replay::Replay;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn geoagent(cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_geoagent"));
    c.current_dir(cwd)
        .env("HOME", cwd)
        .env("XDG_CACHE_HOME", cwd.join("cache"))
        .env_remove("RUST_LOG")
        .env_remove("OPENAI_API_KEY");
    c
}

/// Plays challenge `world-SEED-ROUNDS` with the baseline in direct mode into `replays/`;
/// returns its session.
fn bench(cwd: &Path, seed: u64, rounds: usize) -> Replay {
    let out = geoagent(cwd)
        .args([
            "bench",
            "--map",
            "world",
            "--seed",
            &seed.to_string(),
            "--rounds",
            &rounds.to_string(),
            "--headings",
            "1",
            "--no-view-cache",
            "--no-cache",
            "--replay-dir",
            "replays",
        ])
        .output()
        .expect("run geoagent bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let session = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Replay: "))
        .unwrap_or_else(|| panic!("no session folder in: {stdout}"));
    Replay::open(&cwd.join(session)).unwrap()
}

/// The session's places in round order (a bench records rounds as they finish).
fn location_ids(r: &Replay) -> Vec<String> {
    let mut rounds: Vec<_> = r.rounds.iter().collect();
    rounds.sort_by_key(|x| x.round);
    rounds
        .into_iter()
        .map(|x| x.location_id.clone().expect("location id recorded"))
        .collect()
}

/// `geoagent serve` on an ephemeral port, stopped when dropped.
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves the local game and the viewer of `cwd/replays`.
fn serve(cwd: &Path) -> Serve {
    let mut child = geoagent(cwd)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start geoagent serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve printed its address")
            .expect("read serve's output");
        if let Some(rest) = line.strip_prefix("Local game on ") {
            break rest.trim_end_matches('/').to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Serve { child, url }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .unwrap()
}

async fn create_game(url: &str, seed: u64, rounds: usize) -> String {
    let r: Value = client()
        .post(format!("{url}/api/games"))
        .json(&json!({"map": "world", "seed": seed, "rounds": rounds}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    r["game_id"].as_str().unwrap().to_string()
}

/// Guesses every round of `game` at (0, 0) and returns the truths the server reveals after.
async fn play_out(url: &str, game: &str, rounds: usize) -> Vec<(f64, f64)> {
    for _ in 0..rounds {
        client()
            .post(format!("{url}/api/games/{game}/guess"))
            .json(&json!({"lat": 0.0, "lon": 0.0}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
    let g: Value = client()
        .get(format!("{url}/api/games/{game}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    g["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["truth"]["lat"].as_f64().unwrap(),
                r["truth"]["lon"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn key_file(cwd: &Path) -> PathBuf {
    cwd.join("data").join("server-secret")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_depend_on_the_machines_secret_shared_by_bench_and_serve() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = builtin::world();

    // First use creates the secret, readable by its owner only.
    let a = bench(cwd, 7, 3);
    let key = ChallengeKey::load(&key_file(cwd)).expect("bench created the key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_file(cwd))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key file mode {mode:o}");
    }
    assert_eq!(a.manifest.challenge.id, "world-7-3");
    assert_eq!(a.manifest.challenge.key_id, key.fingerprint());
    let public = Challenge::new(&world, 7, 3).location_ids;
    assert_eq!(
        location_ids(&a),
        Challenge::with_key(&world, 7, 3, &key).location_ids
    );
    assert_ne!(
        location_ids(&a),
        public,
        "the public binary alone must not tell the places of world-7-3"
    );

    // The same challenge again: same places (the secret is kept, not remade).
    let again = bench(cwd, 7, 3);
    assert_eq!(location_ids(&again), location_ids(&a));
    // A longer challenge of the same seed does not start with the shorter one's places.
    let longer = bench(cwd, 7, 5);
    assert_ne!(location_ids(&longer)[..3], location_ids(&a)[..]);

    // People on `serve` (same folder, same secret) get the agent's places, in order.
    let server = serve(cwd);
    let game = create_game(&server.url, 7, 3).await;
    let truths = play_out(&server.url, &game, 3).await;
    let want: Vec<(f64, f64)> = location_ids(&a)
        .iter()
        .map(|id| {
            let p = world.location(id).unwrap().pos;
            (p.lat, p.lon)
        })
        .collect();
    assert_eq!(truths, want, "serve and bench must agree on the places");

    // Another machine (another secret) gets other places for the same name.
    let other = tempfile::tempdir().unwrap();
    let b = bench(other.path(), 7, 3);
    assert_ne!(location_ids(&b), location_ids(&a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_hides_sessions_that_share_a_place_with_a_live_challenge() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let world = builtin::world();
    let session = bench(cwd, 11, 3);
    let key = ChallengeKey::load(&key_file(cwd)).unwrap();
    let places = location_ids(&session);
    let shares = |seed: u64| {
        Challenge::with_key(&world, seed, 5, &key)
            .location_ids
            .iter()
            .any(|id| places.contains(id))
    };
    // Seeds (other than the session's) whose 5 places include / avoid one of the session's.
    let overlapping = (100..10_000).find(|s| shares(*s)).unwrap();
    let disjoint = (100..10_000).find(|s| !shares(*s)).unwrap();

    let server = serve(cwd);
    let id = session.manifest.session_id.clone();
    assert!(listed(&server.url, &id).await, "finished, nothing live");

    let g1 = create_game(&server.url, disjoint, 5).await;
    assert!(
        listed(&server.url, &id).await,
        "a live challenge with none of its places does not hide it"
    );
    let g2 = create_game(&server.url, overlapping, 5).await;
    assert!(
        !listed(&server.url, &id).await,
        "world-{overlapping}-5 is being played and shares a place with the session"
    );
    let page = client()
        .get(format!(
            "{}/replays/{}",
            server.url, session.manifest.session_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404, "its page is hidden too");
    // Once that game is over the session is back.
    play_out(&server.url, &g2, 5).await;
    assert!(listed(&server.url, &id).await);
    drop(g1);
}

/// Whether the viewer's list at `url` shows session `id`.
async fn listed(url: &str, id: &str) -> bool {
    client()
        .get(format!("{url}/replays"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains(id)
}
