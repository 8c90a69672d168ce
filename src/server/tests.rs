//! The server against real requests on loopback: public facts only before the guess, tokens,
//! re-encoded images, audit, bounds.

use super::api::{parse_guess, ApiError};
use super::assets::ASSETS;
use super::state::{encode_jpeg, lock, pano_cache_capacity, Game, Games};
use super::*;
use crate::game::integrity::fit_within;
use crate::game::{
    panorama, score, Challenge, Imagery, Location, Map, DEFAULT_ROUNDS, MAX_RANDOM_SEED, MAX_ROUNDS,
};
use crate::geo::{Bounds, LatLon};
use image::RgbImage;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// A map whose answers are distinctive strings, so a leak is easy to spot.
fn secret_map(id: &str, n: usize, imagery: Imagery) -> Map {
    let locations = (0..n)
        .map(|i| Location {
            id: format!("secretloc{i:02}x"),
            // Wrapped into range so maps of any size stay valid (a big map is a cache-size test).
            pos: LatLon::new(
                -33.1717 + (4.1234 * i as f64) % 80.0,
                12.3131 + (7.6543 * i as f64) % 160.0,
            )
            .unwrap(),
            country: Some("QX".into()),
            place: Some(format!("Quuxburg{i}, Zedland")),
            imagery: imagery.clone(),
        })
        .collect();
    Map {
        id: id.into(),
        name: format!("Test map {id}"),
        synthetic: matches!(imagery, Imagery::Generated),
        size_km: 5000.0,
        view: Bounds {
            south: -60.0,
            west: -20.0,
            north: 60.0,
            east: 100.0,
        },
        attribution: Some("Test imagery".into()),
        locations,
    }
}

/// A small JPEG carrying an EXIF APP1 segment with GPS-like text, as a camera would write.
fn jpeg_with_exif(dir: &std::path::Path, w: u32, h: u32) -> PathBuf {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let plain = encode_jpeg(&img).unwrap();
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(b"MM\0*GPSLatitude secret 12.3456 GPSLongitude 65.4321");
    let len = u16::try_from(payload.len() + 2).unwrap();
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&plain[2..]);
    let path = dir.join("pano.jpg");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&out)
        .unwrap();
    path
}

struct Fixture {
    server: LocalServer,
    state: AppState,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = jpeg_with_exif(dir.path(), 64, 32);
        let file = secret_map("filemap", 10, Imagery::File { path });
        let generated = secret_map("genmap", 3, Imagery::Generated);
        let state = AppState::new(vec![Arc::new(file), Arc::new(generated)]);
        let server = start_local(state.clone()).await.unwrap();
        Fixture {
            server,
            state,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    async fn new_game(&self, body: Value) -> String {
        let (status, v) = self.post("/api/games", body).await;
        assert_eq!(status, 201, "{v}");
        v["game_id"].as_str().unwrap().to_string()
    }

    /// Guesses (0, 0) in every round; returns the guess replies.
    async fn play_out(&self, game: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let (s, v) = self
                .post(
                    &format!("/api/games/{game}/guess"),
                    json!({"lat": 0.0, "lon": 0.0}),
                )
                .await;
            assert_eq!(s, 200, "{v}");
            let done = v["finished"].as_bool().unwrap();
            out.push(v);
            if done {
                return out;
            }
        }
    }
}

#[tokio::test]
async fn create_game_reports_public_facts_only() {
    let f = Fixture::new().await;
    let (status, v) = f
        .post(
            "/api/games",
            json!({"seed": 7, "rounds": 3, "player": " ann "}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["seed"], 7);
    assert_eq!(v["rounds"], 3);
    assert_eq!(v["challenge_id"], "filemap-7-3");
    assert_eq!(v["map"]["id"], "filemap");
    assert_eq!(v["map"]["synthetic"], false);
    assert_eq!(v["map"]["attribution"], "Test imagery");
    assert_eq!(v["map"]["view"]["west"], -20.0);
    let id = v["game_id"].as_str().unwrap();
    let (status, g) = f.get_json(&format!("/api/games/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(g["round"], 1);
    assert_eq!(g["state"], "guessing");
    assert_eq!(g["total"], 0);
    assert_eq!(g["results"], json!([]));
    assert!(g["pano"].as_str().unwrap().starts_with("/pano/"));

    // Defaults: first map, 5 rounds, a seed JavaScript can hold exactly.
    let (status, d) = f.post("/api/games", json!({})).await;
    assert_eq!(status, 201);
    assert_eq!(d["rounds"], DEFAULT_ROUNDS);
    assert_eq!(d["map"]["id"], "filemap");
    assert!(d["seed"].as_u64().unwrap() <= MAX_RANDOM_SEED);
    let r = f
        .http
        .post(f.url("/api/games"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "an empty JSON body means all defaults");
    // Issue 25 item 1: a body that does not say it is JSON is a request another site's page
    // may send without asking the browser first: refused, as JSON naming the fix.
    let r = f.http.post(f.url("/api/games")).send().await.unwrap();
    assert_eq!(r.status(), 415);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("application/json"),
        "{v}"
    );

    // Seeds beyond 2^53 survive as strings.
    let (status, big) = f
        .post(
            "/api/games",
            json!({"seed": "18446744073709551615", "map": "genmap"}),
        )
        .await;
    assert_eq!(status, 201, "{big}");
    assert_eq!(big["seed"].as_u64(), Some(u64::MAX));
    assert_eq!(big["map"]["synthetic"], true);
}

#[tokio::test]
async fn same_seed_gives_same_rounds() {
    let f = Fixture::new().await;
    let a = f.new_game(json!({"seed": 42, "rounds": 4})).await;
    let b = f.new_game(json!({"seed": 42, "rounds": 4})).await;
    let c = f.new_game(json!({"seed": 43, "rounds": 4})).await;
    let truths = |r: Vec<Value>| r.iter().map(|v| v["truth"].clone()).collect::<Vec<_>>();
    let (ta, tb, tc) = (
        truths(f.play_out(&a).await),
        truths(f.play_out(&b).await),
        truths(f.play_out(&c).await),
    );
    assert_eq!(ta.len(), 4);
    assert_eq!(ta, tb);
    assert_ne!(ta, tc);
    // And they are the challenge's locations, in order.
    let map = secret_map("filemap", 10, Imagery::Generated);
    let expected: Vec<Value> = Challenge::new(&map, 42, 4)
        .location_ids
        .iter()
        .map(|id| json!(map.location(id).unwrap().pos))
        .collect();
    assert_eq!(ta, expected);
    let rounds = f.state.completed_rounds();
    assert_eq!(rounds.len(), 12);
    assert!(rounds
        .iter()
        .all(|r| r.challenge_id == "filemap-42-4" || r.challenge_id == "filemap-43-4"));
}

#[tokio::test]
async fn guess_is_scored_with_game_score_and_recorded() {
    let f = Fixture::new().await;
    let (_, created) = f
        .post(
            "/api/games",
            json!({"seed": 3, "rounds": 2, "player": "bo"}),
        )
        .await;
    let id = created["game_id"].as_str().unwrap();
    let (s, v) = f
        .post(
            &format!("/api/games/{id}/guess"),
            json!({"lat": 10.5, "lon": -20.25}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let truth: LatLon = serde_json::from_value(v["truth"].clone()).unwrap();
    let guess = LatLon::new(10.5, -20.25).unwrap();
    let d = guess.distance_km(&truth);
    assert!((v["distance_km"].as_f64().unwrap() - d).abs() < 1e-9);
    assert_eq!(v["points"], score(d, 5000.0));
    assert_eq!(v["total"], v["points"]);
    assert_eq!(v["round"], 1);
    assert_eq!(v["finished"], false);
    assert_eq!(v["country"], "QX");
    assert!(v["place"].as_str().unwrap().starts_with("Quuxburg"));

    let (_, g) = f.get_json(&format!("/api/games/{id}")).await;
    assert_eq!(g["round"], 2);
    assert_eq!(g["results"][0]["points"], v["points"]);

    // A guess right on the truth scores full points.
    let map = secret_map("filemap", 10, Imagery::Generated);
    let second = map
        .location(&Challenge::new(&map, 3, 2).location_ids[1])
        .unwrap()
        .pos;
    let (_, v2) = f
        .post(
            &format!("/api/games/{id}/guess"),
            json!({"lat": second.lat, "lon": second.lon}),
        )
        .await;
    assert_eq!(v2["points"], 5000);
    assert_eq!(v2["finished"], true);
    let (_, g) = f.get_json(&format!("/api/games/{id}")).await;
    assert_eq!(g["state"], "finished");
    assert_eq!(g["pano"], Value::Null);
    assert_eq!(g["total"], v2["total"]);

    let done = f.state.completed_rounds();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].player.as_deref(), Some("bo"));
    assert_eq!(done[0].game_id, id);
    assert_eq!(done[0].truth, truth);
    assert_eq!(done[1].points, 5000);
    assert!(done[1].location_id.starts_with("secretloc"));
}

#[tokio::test]
async fn bad_requests_get_useful_errors() {
    let f = Fixture::new().await;
    let (s, v) = f.post("/api/games", json!({"map": "atlantis"})).await;
    assert_eq!(s, 404);
    let msg = v["error"].as_str().unwrap();
    assert!(msg.contains("atlantis") && msg.contains("filemap") && msg.contains("genmap"));
    assert_eq!(v["valid_maps"], json!(["filemap", "genmap"]));

    for (body, field) in [
        (json!({"rounds": 0}), "rounds"),
        (json!({"rounds": MAX_ROUNDS + 1}), "rounds"),
        (json!({"seed": -1}), "seed"),
        (json!({"seed": "abc"}), "seed"),
        (json!({"player": 5}), "player"),
        (json!({"sed": 5}), "sed"),
    ] {
        let (s, v) = f.post("/api/games", body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert!(v["error"].as_str().unwrap().contains(field), "{body}: {v}");
    }

    let id = f.new_game(json!({"rounds": 1})).await;
    let guess = format!("/api/games/{id}/guess");
    for (body, field) in [
        (json!({"lat": 91.0, "lon": 0.0}), "lat"),
        (json!({"lat": 0.0, "lon": -181.0}), "lon"),
        (json!({"lat": 0.0}), "lon"),
        (json!({"lat": "north", "lon": 0.0}), "lat"),
    ] {
        let (s, v) = f.post(&guess, body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert!(v["error"].as_str().unwrap().contains(field), "{body}: {v}");
    }
    let r = f
        .http
        .post(f.url(&guess))
        .header("content-type", "application/json")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let (s, v) = f
        .post("/api/games/nope/guess", json!({"lat": 0.0, "lon": 0.0}))
        .await;
    assert_eq!(s, 404);
    assert!(v["error"].as_str().unwrap().contains("nope"));
    let (s, _) = f.get_json("/api/games/nope").await;
    assert_eq!(s, 404);

    f.play_out(&id).await;
    let (s, v) = f.post(&guess, json!({"lat": 0.0, "lon": 0.0})).await;
    assert_eq!(s, 409);
    assert!(v["error"].as_str().unwrap().contains("finished"));

    let (s, _) = f.get_json("/no/such/route").await;
    assert_eq!(s, 404);
    let (s, _) = f.get_json("/assets/nothing.js").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn pano_token_is_opaque_per_round_and_expires() {
    let f = Fixture::new().await;
    let a = f.new_game(json!({"seed": 9, "rounds": 2})).await;
    let b = f.new_game(json!({"seed": 9, "rounds": 2})).await;
    let pano_of = |g: Value| g["pano"].as_str().map(str::to_string);
    let pa = pano_of(f.get_json(&format!("/api/games/{a}")).await.1).unwrap();
    let pb = pano_of(f.get_json(&format!("/api/games/{b}")).await.1).unwrap();
    assert_ne!(pa, pb, "same challenge, different tokens");
    let token = pa
        .strip_prefix("/pano/")
        .and_then(|t| t.strip_suffix(".jpg"))
        .unwrap();
    assert_eq!(token.len(), 32);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!token.contains("secretloc"));

    let r = f.http.get(f.url(&pa)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xD8]);

    f.post(
        &format!("/api/games/{a}/guess"),
        json!({"lat": 1.0, "lon": 1.0}),
    )
    .await;
    let r = f.http.get(f.url(&pa)).send().await.unwrap();
    assert_eq!(r.status(), 404, "a finished round's panorama is gone");
    let next = pano_of(f.get_json(&format!("/api/games/{a}")).await.1).unwrap();
    assert_ne!(next, pa);
    assert_eq!(f.http.get(f.url(&next)).send().await.unwrap().status(), 200);
    // Another game's token is untouched; a made-up one is unknown.
    assert_eq!(f.http.get(f.url(&pb)).send().await.unwrap().status(), 200);
    let fake = format!("/pano/{}.jpg", "0".repeat(32));
    assert_eq!(f.http.get(f.url(&fake)).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn file_panorama_is_reencoded_without_exif() {
    let f = Fixture::new().await;
    let id = f.new_game(json!({"map": "filemap"})).await;
    let (_, g) = f.get_json(&format!("/api/games/{id}")).await;
    let bytes = f
        .http
        .get(f.url(g["pano"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"Exif"), "EXIF must be stripped");
    assert!(!has(b"GPSLatitude"));
    assert!(!has(&[0xFF, 0xE1]), "no APP1 segment at all");
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (64, 32));
}

#[tokio::test]
async fn generated_panorama_is_painted_at_full_size() {
    let f = Fixture::new().await;
    let id = f.new_game(json!({"map": "genmap", "rounds": 1})).await;
    let (_, g) = f.get_json(&format!("/api/games/{id}")).await;
    let bytes = f
        .http
        .get(f.url(g["pano"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (panorama::PANORAMA_WIDTH, panorama::PANORAMA_HEIGHT)
    );
}

#[tokio::test]
async fn audit_log_records_requests_and_responses() {
    let f = Fixture::new().await;
    f.get_json("/api/games/absent").await;
    assert!(f.state.audit_log().is_empty(), "off until enabled");
    f.state.enable_audit();
    let id = f.new_game(json!({"seed": 1})).await;
    let page = f.http.get(f.url("/?seed=1&rounds=2")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    f.get_json("/api/games/absent").await;
    let log = f.state.audit_log();
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/api/games");
    assert_eq!(log[0].status, 201);
    assert_eq!(log[0].content_type, "application/json");
    assert!(String::from_utf8_lossy(&log[0].body).contains(&id));
    assert_eq!(log[1].path, "/?seed=1&rounds=2");
    assert!(log[1].content_type.starts_with("text/html"));
    assert_eq!(log[1].body, html.as_bytes());
    assert_eq!((log[2].method.as_str(), log[2].status), ("GET", 404));
}

#[tokio::test]
async fn nothing_before_the_guess_carries_the_answer() {
    let f = Fixture::new().await;
    f.state.enable_audit();
    let id = f
        .new_game(json!({"seed": 5, "rounds": 1, "map": "genmap"}))
        .await;
    for path in ["/?seed=5&rounds=1&map=genmap", "/api/maps"] {
        assert_eq!(f.http.get(f.url(path)).send().await.unwrap().status(), 200);
    }
    for a in ASSETS {
        let r = f
            .http
            .get(f.url(&format!("/assets/{}", a.path)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", a.path);
        assert_eq!(r.headers()["content-type"], a.content_type);
    }
    let (_, g) = f.get_json(&format!("/api/games/{id}")).await;
    f.http
        .get(f.url(g["pano"].as_str().unwrap()))
        .send()
        .await
        .unwrap();

    let map = secret_map("genmap", 3, Imagery::Generated);
    let loc = map
        .location(&Challenge::new(&map, 5, 1).location_ids[0])
        .unwrap()
        .clone();
    let secrets = [
        loc.id.clone(),
        loc.place.clone().unwrap(),
        "\"QX\"".to_string(),
        format!("{}", loc.pos.lat),
        format!("{}", loc.pos.lon),
        format!("{:.2}", loc.pos.lat),
        format!("{:.2}", loc.pos.lon),
    ];
    let scan = |log: &[AuditEntry]| -> Vec<String> {
        let mut found = Vec::new();
        for e in log {
            if e.content_type.starts_with("image/") {
                assert!(!e.body.windows(4).any(|w| w == b"Exif"));
                continue;
            }
            let text = String::from_utf8_lossy(&e.body);
            for s in &secrets {
                if text.contains(s.as_str()) {
                    found.push(format!("{s} in {}", e.path));
                }
            }
        }
        found
    };
    let before = f.state.audit_log();
    assert!(before.len() >= ASSETS.len() + 4);
    assert_eq!(scan(&before), Vec::<String>::new());

    // The scan does find the answer once it is due, so it is looking in the right place.
    f.post(
        &format!("/api/games/{id}/guess"),
        json!({"lat": 0.0, "lon": 0.0}),
    )
    .await;
    assert!(!scan(&f.state.audit_log()).is_empty());
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let state = AppState::new(vec![Arc::new(secret_map("m", 2, Imagery::Generated))]);
    let server = start_local(state).await.unwrap();
    let url = server.url();
    assert!(url.starts_with("http://127.0.0.1:"));
    let http = reqwest::Client::new();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    server.shutdown().await.unwrap();
    assert!(reqwest::Client::new().get(&url).send().await.is_err());

    let dropped = start_local(AppState::new(Vec::new())).await.unwrap();
    let url = dropped.url();
    drop(dropped);
    let mut stopped = false;
    for _ in 0..50 {
        if reqwest::Client::new().get(&url).send().await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "dropping the server stops it");
}

/// A compass test pattern: centre column (north) red, east green, south blue, west yellow,
/// darker below the horizon, white lines every 10° of latitude.
fn compass_pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let u = (f64::from(x) + 0.5) / f64::from(w);
        let v = (f64::from(y) + 0.5) / f64::from(h);
        let lat = 90.0 - v * 180.0;
        if (lat / 10.0 - (lat / 10.0).round()).abs() < 0.02 {
            return image::Rgb([255, 255, 255]);
        }
        let heading = (u - 0.5).rem_euclid(1.0) * 360.0;
        let mut c = match ((heading + 45.0) / 90.0) as u32 % 4 {
            0 => [220, 40, 40],
            1 => [40, 180, 60],
            2 => [40, 70, 220],
            _ => [230, 200, 40],
        };
        if lat < 0.0 {
            c = c.map(|x| x / 2);
        }
        image::Rgb(c)
    })
}

/// Serves the built-in world and a compass-pattern map for looking at the page by hand:
/// `GEOAGENT_SERVE_SECS=600 cargo test --lib server::tests::serve_for_manual_look -- --ignored --nocapture`
#[tokio::test]
#[ignore = "serves until GEOAGENT_SERVE_SECS elapse; for looking at the page by hand"]
async fn serve_for_manual_look() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compass.png");
    compass_pattern(2048, 1024).save(&path).unwrap();
    let compass = secret_map("compass", 5, Imagery::File { path });
    let state = AppState::new(vec![
        Arc::new(crate::game::builtin::world()),
        Arc::new(compass),
    ]);
    let server = start_local(state).await.unwrap();
    println!("SERVING {}", server.url());
    let secs = std::env::var("GEOAGENT_SERVE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    server.shutdown().await.unwrap();
}

fn game_on(map: &Arc<Map>, seed: u64, player: Option<&str>, at: Instant) -> Game {
    Game {
        map: map.clone(),
        challenge: Challenge::new(map, seed, 1),
        player: player.map(str::to_string),
        current: 0,
        pano_token: Some(format!("t{seed}")),
        results: Vec::new(),
        total: 0,
        last_active: at,
    }
}

#[test]
fn a_full_table_drops_finished_games_oldest_first() {
    let map = Arc::new(secret_map("m", 2, Imagery::Generated));
    let mut games = Games::default();
    let now = Instant::now();
    for i in 0..MAX_LIVE_GAMES as u64 {
        let mut g = game_on(&map, i, None, now);
        if i % 2 == 0 {
            g.current = 1; // finished
        }
        games.insert(format!("g{i}"), g, now).unwrap();
    }
    games
        .insert("new1".into(), game_on(&map, 5000, None, now), now)
        .unwrap();
    games
        .insert("new2".into(), game_on(&map, 5001, None, now), now)
        .unwrap();
    assert_eq!(games.by_id.len(), MAX_LIVE_GAMES);
    assert!(!games.by_id.contains_key("g0") && !games.by_id.contains_key("g2"));
    assert!(games.by_id.contains_key("g1") && games.by_id.contains_key("g4"));
    assert!(
        !games.tokens.contains_key("t0"),
        "a dropped game's token goes too"
    );
    assert_eq!(games.tokens.len(), MAX_LIVE_GAMES);
}

/// Issue 25 item 4: 1,100 named creations from 40 addresses evicted a named player's game in
/// progress (404) within 3 s. A full table of games in progress refuses new ones instead, and
/// says when to retry; only a game nobody touched for `ABANDONED_AFTER` makes room.
#[test]
fn a_full_table_refuses_new_games_rather_than_drop_one_in_progress() {
    let map = Arc::new(secret_map("m", 2, Imagery::Generated));
    let mut games = Games::default();
    let start = Instant::now();
    games
        .insert(
            "alice".into(),
            game_on(&map, 0, Some("alice"), start),
            start,
        )
        .unwrap();
    let later = start + Duration::from_secs(60);
    let mut refused = Vec::new();
    for i in 1..1100u64 {
        let g = game_on(&map, i, Some("flood"), later);
        if let Err(full) = games.insert(format!("f{i}"), g, later) {
            refused.push(full.retry_after);
        }
    }
    assert_eq!(games.by_id.len(), MAX_LIVE_GAMES);
    assert_eq!(refused.len(), 1100 - MAX_LIVE_GAMES);
    assert!(games.by_id.contains_key("alice"), "the person's game stays");
    // Alice's game goes quiet first: it is the first that may go, in ABANDONED_AFTER - 60 s.
    assert_eq!(refused[0], ABANDONED_AFTER - Duration::from_secs(60));
    // She comes back: touched, hers is now the newest.
    games
        .touch("alice", later + Duration::from_secs(1))
        .unwrap();
    let t = later + ABANDONED_AFTER;
    games
        .insert("next".into(), game_on(&map, 9000, None, t), t)
        .unwrap();
    assert!(
        games.by_id.contains_key("alice"),
        "a flood game idle since `later` went"
    );
    assert!(!games.by_id.contains_key("f1"));
    assert_eq!(games.order.len(), MAX_LIVE_GAMES);
}

#[test]
fn big_images_are_scaled_into_the_cap() {
    let img = RgbImage::new(300, 100);
    assert_eq!(fit_within(img, 200, 100).dimensions(), (200, 67));
    let img = RgbImage::new(100, 80);
    assert_eq!(fit_within(img, 200, 50).dimensions(), (63, 50));
    let img = RgbImage::new(64, 32);
    assert_eq!(fit_within(img, 200, 100).dimensions(), (64, 32));
}

/// Issue 13 item 3: a 64-entry cache under a ~90-place map repainted endlessly on random seeds.
#[test]
fn pano_cache_holds_the_whole_built_in_map_and_stays_bounded() {
    let world = Arc::new(crate::game::builtin::world());
    assert!(world.locations.len() > 64);
    assert_eq!(
        pano_cache_capacity(std::slice::from_ref(&world)),
        world.locations.len()
    );
    let huge = Arc::new(secret_map(
        "huge",
        MAX_CACHED_PANORAMAS * 4,
        Imagery::Generated,
    ));
    assert_eq!(pano_cache_capacity(&[world, huge]), MAX_CACHED_PANORAMAS);
    assert_eq!(pano_cache_capacity(&[]), 1);
}

#[test]
fn api_error_messages_name_what_to_fix() {
    let e = ApiError::UnknownMap {
        requested: "x".into(),
        valid: vec!["a".into(), "b".into()],
    };
    assert_eq!(e.to_string(), "unknown map `x`; valid map ids: a, b");
    let e = parse_guess(br#"{"lat": 0}"#).unwrap_err();
    assert!(e.to_string().contains("`lon` is missing"));
}

/// Issue 25 item 4 over HTTP: with the table full of games in progress, `POST /api/games` is
/// refused with 503, a `Retry-After` and a JSON error, and the games being played still answer.
/// (Before, the oldest game in progress was dropped to make room and answered 404.)
#[tokio::test]
async fn a_full_server_answers_503_with_retry_after() {
    let f = Fixture::new().await;
    let alice = f
        .new_game(json!({"map": "genmap", "player": "alice"}))
        .await;
    {
        let map = Arc::new(secret_map("m", 2, Imagery::Generated));
        let mut games = lock(&f.state.inner.games);
        let now = Instant::now();
        for i in 1..MAX_LIVE_GAMES as u64 {
            games
                .insert(format!("f{i}"), game_on(&map, i, Some("flood"), now), now)
                .unwrap();
        }
    }
    let r = f
        .http
        .post(f.url("/api/games"))
        .json(&json!({"map": "genmap", "player": "mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=ABANDONED_AFTER.as_secs()).contains(&wait), "{wait}");
    let v: Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("full"), "{v}");
    let (s, g) = f.get_json(&format!("/api/games/{alice}")).await;
    assert_eq!(s, 200, "alice's game is still there: {g}");
}
