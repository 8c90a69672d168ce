//! A replica of geoguessr.com on 127.0.0.1, for tests: the API and the game page as
//! `../shared/GEOGUESSR.md` describes them, including every place the answer leaks to a client.
//!
//! - API: profiles (401 without the `_ncfa` cookie), classic games (create, read, guess) whose
//!   every state carries `rounds[]` with lat, lng, hex panoId and country code, challenges (join),
//!   highscores (pages of 26, 401 before this account played the challenge), maps with
//!   `maxErrorDistance`.
//! - The page `/game/{token}` ([`page`]): `data-qa` hooks, hashed CSS-module class names that
//!   change on every start, `__NEXT_DATA__` holding the game with its answer, a metadata request
//!   that returns the coordinates, a 2D canvas panorama that turns while arrow keys are held
//!   (after a click) or by drag and zooms 1.5x per 100 px of wheel unless the game forbids
//!   zooming, a HUD and compass printing text in magenta (#ff00ff) over the panorama,
//!   Google-style controls and attribution, and a guess map that behaves like a Google Maps map
//!   drawn as tiles, a canvas or a vector layer ([`PageOptions`]).
//! - Time as the site keeps it ([`clock`]): a round's clock starts when it is requested, an
//!   overdue round is booked as timed out on the next read or guess, a late guess is refused or
//!   booked ([`LateGuess`]).
//! - Faults on demand: an expired cookie, 429s with `Retry-After`, a renamed Guess button, a
//!   guess or a read answered with a 500 or a malformed body ([`Fault`]).
#![allow(dead_code)]

mod clock;
mod faults;
mod page;
pub use clock::LateGuess;
pub use faults::Fault;
use page::render_page;
// Not every test binary that includes the replica picks a page variant.
#[allow(unused_imports)]
pub use page::{MapRendering, PageOptions};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// The cookie value the replica accepts.
pub const COOKIE: &str = "replica-ncfa-5f1c0ffee0ddba11";
/// The world map's scale (metres), as GeoGuessr's world map.
pub const WORLD_MAX_ERROR_M: f64 = 14_916_862.0;
/// The account's id and nick.
pub const AGENT_ID: &str = "agent-0001";
/// Players per highscores page.
pub const PAGE_SIZE: usize = 26;
/// The HUD and compass colour: no capture may contain it.
pub const HUD_RGB: [u8; 3] = [255, 0, 255];

/// A round's place: what the answer is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub lat: f64,
    pub lng: f64,
    /// ASCII pano id (sent hex-encoded).
    pub pano: String,
    pub country: String,
}

/// The replica's places: spread over continents, with coordinates that are distinctive numbers.
pub fn places() -> Vec<Place> {
    let p = |lat, lng, pano: &str, country: &str| Place {
        lat,
        lng,
        pano: pano.into(),
        country: country.into(),
    };
    vec![
        p(48.693_71, 6.183_29, "H00UywOFWncMQDQesUqJQ", "fr"),
        p(-33.868_52, 151.209_29, "Syd9pWq2LmZx7Tn4Kc1Ae", "au"),
        p(35.689_49, 139.691_71, "Tky3Vb8NqR2sLw5Hj0PzA", "jp"),
        p(-22.906_85, -43.172_89, "Rio7Gh2KpM9wQx4Zt1BcD", "br"),
        p(40.712_77, -74.005_97, "Nyc5Jk8LrT3vSw6Pq2MnE", "us"),
        p(64.146_58, -21.942_16, "Rey2Df6HsK9mLp3Wq8ZxF", "is"),
        p(-1.292_07, 36.821_95, "Nbo4Qw7ErT1yUi5Op9AsG", "ke"),
        p(55.755_83, 37.617_33, "Msk8Zx3CvB6nMq2Wr7TyH", "ru"),
    ]
}

#[derive(Debug, Clone)]
struct Guess {
    lat: f64,
    lng: f64,
    points: u32,
    meters: f64,
    time: u64,
    /// The round's time limit ran out before the guess arrived: 0 points, as on the site.
    timed_out: bool,
    /// When the site booked it.
    at: std::time::Instant,
}

#[derive(Debug, Clone)]
struct Game {
    token: String,
    owner: String,
    challenge: Option<String>,
    map: String,
    forbid: [bool; 3],
    time_limit: u32,
    rounds: Vec<Place>,
    guesses: Vec<Guess>,
    /// When each started round's clock started ([`clock`]).
    starts: Vec<clock::Start>,
}

#[derive(Debug, Clone)]
struct Challenge {
    map: String,
    forbid: [bool; 3],
    time_limit: u32,
    rounds: Vec<Place>,
    /// Other players' points per round (their games, for the highscores).
    players: Vec<(String, String, Vec<u32>)>,
}

#[derive(Default)]
struct Inner {
    games: HashMap<String, Game>,
    challenges: HashMap<String, Challenge>,
    next: u64,
}

struct Shared {
    salt: String,
    expired: AtomicBool,
    rate_limited: AtomicU32,
    retry_after: Mutex<String>,
    rename_guess_button: AtomicBool,
    /// What a guess after the deadline gets.
    late_guess: Mutex<LateGuess>,
    faults: faults::Faults,
    /// How the game page varies (see [`PageOptions`]).
    page: Mutex<PageOptions>,
    /// Per (game token, round): how far the page's view turned from the start heading.
    turned: Mutex<HashMap<(String, usize), f64>>,
    /// Per (game token, round): ms from the panorama's first frame to the Guess button's press.
    shown_to_guess: Mutex<HashMap<(String, usize), f64>>,
    inner: Mutex<Inner>,
    /// Every request: method, path and query.
    log: Mutex<Vec<String>>,
}

/// A running replica; stops when dropped.
pub struct Replica {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn token(n: u64, salt: &str) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut x = n
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.bytes().map(u64::from).sum::<u64>());
    (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHA[(x % ALPHA.len() as u64) as usize] as char
        })
        .collect()
}

fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dl = (b.1 - a.1).to_radians();
    let h = ((p2 - p1) / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().min(1.0).asin()
}

/// The site's score.
pub fn points(meters: f64, max_error_m: f64) -> u32 {
    if meters <= 25.0 {
        return 5000;
    }
    (5000.0 * (-10.0 * meters / max_error_m).exp()).round() as u32
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02X}")).collect()
}

impl Replica {
    /// The untouched replica: its page varies as the real site may ([`PageOptions::default`]).
    pub async fn start() -> Replica {
        Replica::start_with(PageOptions::default()).await
    }

    /// A replica whose game page varies as `page` says.
    pub async fn start_with(page: PageOptions) -> Replica {
        let salt: String = format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 0xFFFFF
        );
        let shared = Arc::new(Shared {
            salt,
            expired: AtomicBool::new(false),
            rate_limited: AtomicU32::new(0),
            retry_after: Mutex::new("1".into()),
            rename_guess_button: AtomicBool::new(false),
            late_guess: Mutex::new(LateGuess::default()),
            faults: faults::Faults::default(),
            page: Mutex::new(page),
            turned: Mutex::new(HashMap::new()),
            shown_to_guess: Mutex::new(HashMap::new()),
            inner: Mutex::new(Inner::default()),
            log: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/", get(home))
            .route("/api/v3/profiles", get(profiles))
            .route("/api/v3/games", post(create_game))
            .route("/api/v3/games/{token}", get(read_game).post(guess))
            .route("/api/v3/challenges", post(create_challenge))
            .route("/api/v3/challenges/{token}", post(join_challenge))
            .route("/api/v3/results/highscores/{token}", get(highscores))
            .route("/api/maps/{id}", get(map))
            .route("/game/{token}", get(game_page))
            .route("/maps/api/js/GeoPhotoService.GetMetadata", get(metadata))
            .route("/tiles/vt", get(tile))
            .route("/replica/turned", post(page::turned))
            .route("/replica/guessed", post(page::guessed))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Replica {
            base_url: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// Every later request answers 401 (the cookie expired).
    pub fn expire_cookie(&self) {
        self.shared.expired.store(true, Ordering::SeqCst);
    }

    /// The cookie is good again (the user pasted a fresh one).
    pub fn renew_cookie(&self) {
        self.shared.expired.store(false, Ordering::SeqCst);
    }

    /// The next `n` API requests answer 429 with `Retry-After: retry_after`.
    pub fn rate_limit(&self, n: u32, retry_after: &str) {
        *lock(&self.shared.retry_after) = retry_after.into();
        self.shared.rate_limited.store(n, Ordering::SeqCst);
    }

    /// The Guess button's `data-qa` becomes `perform-guess-v2` (a site change).
    pub fn rename_guess_button(&self) {
        self.shared
            .rename_guess_button
            .store(true, Ordering::SeqCst);
    }

    /// What a guess that arrives after its round's time limit gets (see [`LateGuess`]).
    pub fn set_late_guess(&self, late: LateGuess) {
        *lock(&self.shared.late_guess) = late;
    }

    /// The answer to the guess of round `round` (1-based) is spoiled as `fault`, after the site
    /// scored it.
    pub fn fail_guess_answer(&self, round: usize, fault: Fault) {
        self.shared.faults.on_guess(round, Some(fault), None);
    }

    /// As [`Replica::fail_guess_answer`], and the `reads` reads of a game after it fail the same
    /// way (the site is down for a while after scoring the guess).
    pub fn fail_guess_answer_and_reads(&self, round: usize, fault: Fault, reads: u32) {
        self.shared
            .faults
            .on_guess(round, Some(fault), Some((fault, reads)));
    }

    /// Once round `round`'s guess is scored (its answer intact), the next `reads` reads of a
    /// game are answered as `fault`.
    pub fn fail_reads_after_guess(&self, round: usize, fault: Fault, reads: u32) {
        self.shared
            .faults
            .on_guess(round, None, Some((fault, reads)));
    }

    /// The next `n` reads of a game (from anyone: the page too) are answered as `fault`.
    pub fn fail_reads(&self, fault: Fault, n: u32) {
        self.shared.faults.on_reads(fault, n);
    }

    /// When round `round` (1-based) of game `token` started its clock, if it did.
    pub fn round_start(&self, token: &str, round: usize) -> Option<std::time::Instant> {
        let inner = lock(&self.shared.inner);
        Some(
            inner
                .games
                .get(token)?
                .starts
                .get(round.checked_sub(1)?)?
                .at,
        )
    }

    /// The rounds of game `token` that have started their clock.
    pub fn rounds_started(&self, token: &str) -> usize {
        lock(&self.shared.inner)
            .games
            .get(token)
            .map_or(0, clock::started)
    }

    /// Pages opened from now on vary as `page` says.
    pub fn set_page(&self, page: PageOptions) {
        *lock(&self.shared.page) = page;
    }

    /// How far the view turned from the start heading, per round of game `token` that turned
    /// (degrees, 0–360), as the page last reported it.
    pub fn turned_of(&self, token: &str) -> Vec<(usize, f64)> {
        page::turned_of(&self.shared, token)
    }

    /// Per round of game `token` guessed on the page: ms from the panorama's first frame to the
    /// press of the Guess button, by the page's own clock.
    pub fn shown_to_guess_of(&self, token: &str) -> Vec<(usize, f64)> {
        page::shown_to_guess_of(&self.shared, token)
    }

    /// The suffix of this start's hashed class names.
    pub fn class_salt(&self) -> String {
        self.shared.salt.clone()
    }

    /// Requests so far (`METHOD /path?query`).
    pub fn log(&self) -> Vec<String> {
        lock(&self.shared.log).clone()
    }

    /// A challenge of 5 rounds already played by `players` other people (deterministic points).
    pub fn add_challenge(&self, forbid: [bool; 3], players: usize) -> String {
        add_challenge(&self.shared, forbid, players)
    }

    /// The answer of round `round` (1-based) of game `token`, for the tests' checks.
    pub fn answer(&self, token: &str, round: usize) -> Option<Place> {
        lock(&self.shared.inner)
            .games
            .get(token)?
            .rounds
            .get(round - 1)
            .cloned()
    }

    /// Every game's token.
    pub fn games(&self) -> Vec<String> {
        lock(&self.shared.inner).games.keys().cloned().collect()
    }

    /// The site's points per round of game `token`.
    pub fn points_of(&self, token: &str) -> Vec<u32> {
        lock(&self.shared.inner)
            .games
            .get(token)
            .map(|g| g.guesses.iter().map(|x| x.points).collect())
            .unwrap_or_default()
    }

    /// The point the site booked per round of game `token` (0, 0 for a timeout without a pin).
    pub fn guesses_of(&self, token: &str) -> Vec<(f64, f64)> {
        lock(&self.shared.inner)
            .games
            .get(token)
            .map(|g| g.guesses.iter().map(|x| (x.lat, x.lng)).collect())
            .unwrap_or_default()
    }

    /// Per round after the first of game `token`: how long after the previous round's guess its
    /// clock started (the pause the site saw between rounds).
    pub fn gaps_of(&self, token: &str) -> Vec<std::time::Duration> {
        lock(&self.shared.inner)
            .games
            .get(token)
            .map(|g| {
                g.starts
                    .iter()
                    .skip(1)
                    .zip(&g.guesses)
                    .map(|(s, x)| s.at.saturating_duration_since(x.at))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Seconds taken per round of game `token`.
    pub fn times_of(&self, token: &str) -> Vec<u64> {
        lock(&self.shared.inner)
            .games
            .get(token)
            .map(|g| g.guesses.iter().map(|x| x.time).collect())
            .unwrap_or_default()
    }

    /// Per round of game `token`: did the time limit run out before the guess?
    pub fn timed_out_of(&self, token: &str) -> Vec<bool> {
        lock(&self.shared.inner)
            .games
            .get(token)
            .map(|g| g.guesses.iter().map(|x| x.timed_out).collect())
            .unwrap_or_default()
    }

    /// The other players' points of challenge `token`: (nick, per round).
    pub fn challenge_players(&self, token: &str) -> Vec<(String, Vec<u32>)> {
        lock(&self.shared.inner).challenges[token]
            .players
            .iter()
            .map(|(_, n, p)| (n.clone(), p.clone()))
            .collect()
    }
}

fn add_challenge(s: &Shared, forbid: [bool; 3], players: usize) -> String {
    let mut inner = lock(&s.inner);
    inner.next += 1;
    let t = token(1000 + inner.next, &s.salt);
    let all = places();
    let rounds: Vec<Place> = (0..5)
        .map(|i| all[(i * 3 + inner.next as usize) % all.len()].clone())
        .collect();
    let players = (0..players)
        .map(|p| {
            let pts = (0..5)
                .map(|r| ((p * 997 + r * 613) % 5001) as u32)
                .collect();
            (format!("player-{p:03}"), format!("Person{p}"), pts)
        })
        .collect();
    inner.challenges.insert(
        t.clone(),
        Challenge {
            map: "world".into(),
            forbid,
            time_limit: 0,
            rounds,
            players,
        },
    );
    t
}

type S = State<Arc<Shared>>;

/// `Err(response)` when the request must fail (expired/missing cookie, rate limit).
// The early answer of a handler; boxing it would buy nothing in a test server.
#[allow(clippy::result_large_err)]
fn gate(s: &Shared, headers: &HeaderMap, what: &str) -> Result<(), Response> {
    lock(&s.log).push(what.to_string());
    if s.rate_limited
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        let ra = lock(&s.retry_after).clone();
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, ra)],
            "slow down",
        )
            .into_response());
    }
    let ok = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim() == format!("_ncfa={COOKIE}"));
    if !ok || s.expired.load(Ordering::SeqCst) {
        return Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Unauthorized"})),
        )
            .into_response());
    }
    Ok(())
}

fn state_json(g: &Game) -> Value {
    // The rounds requested so far: after a guess, the next one only once it is asked for.
    let current = clock::started(g).clamp(1, g.rounds.len());
    let finished = g.guesses.len() >= g.rounds.len();
    let rounds: Vec<Value> = g.rounds[..current]
        .iter()
        .zip(&g.starts)
        .map(|(p, start)| json!({"lat": p.lat, "lng": p.lng, "panoId": hex(&p.pano), "heading": 173.36, "pitch": 1.95, "zoom": 0,
                        "streakLocationCode": p.country, "startTime": start.json()}))
        .collect();
    let total: u32 = g.guesses.iter().map(|x| x.points).sum();
    let guesses: Vec<Value> = g
        .guesses
        .iter()
        .map(|x| json!({"lat": x.lat, "lng": x.lng, "timedOut": x.timed_out, "timedOutWithGuess": false, "skippedRound": false,
            "roundScore": {"amount": x.points.to_string(), "unit": "points", "percentage": x.points as f64 / 50.0},
            "roundScoreInPoints": x.points, "distance": {"meters": {"amount": format!("{:.1}", x.meters / 1000.0), "unit": "km"}},
            "distanceInMeters": x.meters, "stepsCount": 0, "time": x.time}))
        .collect();
    json!({"token": g.token, "type": if g.challenge.is_some() {"challenge"} else {"standard"}, "mode": "standard",
        "state": if finished {"finished"} else {"started"}, "roundCount": g.rounds.len(), "timeLimit": g.time_limit,
        "forbidMoving": g.forbid[0], "forbidZooming": g.forbid[1], "forbidRotating": g.forbid[2],
        "map": g.map, "mapName": "World",
        "bounds": {"min": {"lat": -54.85, "lng": -123.12}, "max": {"lat": 71.17, "lng": 175.68}},
        "round": current, "rounds": rounds,
        "player": {"totalScore": {"amount": total.to_string(), "unit": "points", "percentage": total as f64 / 250.0},
            "totalDistanceInMeters": g.guesses.iter().map(|x| x.meters).sum::<f64>(), "guesses": guesses,
            "id": g.owner, "nick": "agent", "countryCode": "gb"}})
}

async fn home(State(s): S) -> Html<String> {
    lock(&s.log).push("GET /".into());
    Html("<!doctype html><title>replica</title><p>GeoGuessr replica</p>".into())
}

async fn profiles(State(s): S, h: HeaderMap) -> Response {
    if let Err(r) = gate(&s, &h, "GET /api/v3/profiles") {
        return r;
    }
    Json(json!({"user": {"id": AGENT_ID, "nick": "agent", "countryCode": "gb"}})).into_response()
}

fn new_game(
    s: &Shared,
    inner: &mut Inner,
    map: String,
    forbid: [bool; 3],
    time_limit: u32,
    rounds: Vec<Place>,
    challenge: Option<String>,
) -> Game {
    inner.next += 1;
    let g = Game {
        token: token(inner.next, &s.salt),
        owner: AGENT_ID.into(),
        challenge,
        map,
        forbid,
        time_limit,
        rounds,
        guesses: vec![],
        // Round 1 is in the game's first state: its clock starts with the game.
        starts: vec![clock::Start::now()],
    };
    inner.games.insert(g.token.clone(), g.clone());
    g
}

fn forbids(v: &Value) -> [bool; 3] {
    let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    [b("forbidMoving"), b("forbidZooming"), b("forbidRotating")]
}

async fn create_game(State(s): S, h: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = gate(&s, &h, "POST /api/v3/games") {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "bad json").into_response();
    };
    let mut inner = lock(&s.inner);
    let seed = inner.next as usize;
    let all = places();
    let rounds = (0..5)
        .map(|i| all[(seed + i * 5) % all.len()].clone())
        .collect();
    let map = v
        .get("map")
        .and_then(Value::as_str)
        .unwrap_or("world")
        .to_string();
    let tl = v.get("timeLimit").and_then(Value::as_u64).unwrap_or(0) as u32;
    let g = new_game(&s, &mut inner, map, forbids(&v), tl, rounds, None);
    Json(state_json(&g)).into_response()
}

async fn read_game(State(s): S, h: HeaderMap, Path(t): Path<String>) -> Response {
    if let Err(r) = gate(&s, &h, &format!("GET /api/v3/games/{t}")) {
        return r;
    }
    if let Some(spoiled) = s.faults.read_answer() {
        return spoiled;
    }
    match lock(&s.inner).games.get_mut(&t) {
        Some(g) => {
            clock::on_request(g);
            Json(state_json(g)).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no game").into_response(),
    }
}

async fn guess(State(s): S, h: HeaderMap, Path(t): Path<String>, body: Bytes) -> Response {
    if let Err(r) = gate(&s, &h, &format!("POST /api/v3/games/{t}")) {
        return r;
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "bad json").into_response();
    };
    let (Some(lat), Some(lng)) = (
        v.get("lat").and_then(Value::as_f64),
        v.get("lng").and_then(Value::as_f64),
    ) else {
        return (StatusCode::BAD_REQUEST, "lat/lng").into_response();
    };
    let mut inner = lock(&s.inner);
    let Some(g) = inner.games.get_mut(&t) else {
        return (StatusCode::NOT_FOUND, "no game").into_response();
    };
    let late = *lock(&s.late_guess);
    let timed_out = v.get("timedOut").and_then(Value::as_bool) == Some(true);
    if let Err(refused) = book_guess(g, (lat, lng), timed_out, late) {
        return refused;
    }
    if let Some(spoiled) = s.faults.guess_answer(g.guesses.len()) {
        return spoiled;
    }
    Json(state_json(g)).into_response()
}

/// Books a guess (or the page's timeout) on the open round, as the site's clock allows; the
/// next round is not started (that takes a read or a page load).
// The early answer of a handler; boxing it would buy nothing in a test server.
#[allow(clippy::result_large_err)]
fn book_guess(
    g: &mut Game,
    (lat, lng): (f64, f64),
    timed_out: bool,
    late: LateGuess,
) -> Result<(), Response> {
    let refused =
        |msg: &str| (StatusCode::BAD_REQUEST, Json(json!({"message": msg}))).into_response();
    if g.guesses.len() >= g.rounds.len() {
        return Err(refused("Game is finished"));
    }
    if timed_out || (clock::overdue(g) && late == LateGuess::Booked) {
        if !clock::open(g) {
            return Err(refused("Round already guessed"));
        }
        clock::book_timeout(g, Some((lat, lng)));
        return Ok(());
    }
    clock::book_overdue(g);
    if !clock::open(g) {
        return Err(refused("Round already guessed"));
    }
    let p = &g.rounds[g.guesses.len()];
    let meters = haversine_m((p.lat, p.lng), (lat, lng));
    let took = clock::elapsed_s(g);
    g.guesses.push(Guess {
        lat,
        lng,
        points: points(meters, WORLD_MAX_ERROR_M),
        meters,
        time: took as u64,
        timed_out: false,
        at: std::time::Instant::now(),
    });
    Ok(())
}

async fn create_challenge(State(s): S, h: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = gate(&s, &h, "POST /api/v3/challenges") {
        return r;
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let t = add_challenge(&s, forbids(&v), 0);
    Json(json!({"token": t})).into_response()
}

async fn join_challenge(State(s): S, h: HeaderMap, Path(t): Path<String>) -> Response {
    if let Err(r) = gate(&s, &h, &format!("POST /api/v3/challenges/{t}")) {
        return r;
    }
    let mut inner = lock(&s.inner);
    if let Some(g) = inner
        .games
        .values()
        .find(|g| g.challenge.as_deref() == Some(&t))
    {
        return Json(state_json(g)).into_response();
    }
    let Some(c) = inner.challenges.get(&t).cloned() else {
        return (StatusCode::NOT_FOUND, "no challenge").into_response();
    };
    let g = new_game(
        &s,
        &mut inner,
        c.map,
        c.forbid,
        c.time_limit,
        c.rounds,
        Some(t),
    );
    Json(state_json(&g)).into_response()
}

async fn highscores(
    State(s): S,
    h: HeaderMap,
    Path(t): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let what = format!(
        "GET /api/v3/results/highscores/{t}?page={}",
        q.get("paginationToken").map_or("", String::as_str)
    );
    if let Err(r) = gate(&s, &h, &what) {
        return r;
    }
    let inner = lock(&s.inner);
    let Some(c) = inner.challenges.get(&t) else {
        return (StatusCode::NOT_FOUND, "no challenge").into_response();
    };
    let mine = inner
        .games
        .values()
        .find(|g| g.challenge.as_deref() == Some(&t) && g.guesses.len() >= g.rounds.len());
    let Some(mine) = mine else {
        // Highscores are shown only to people who played the challenge.
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "play the challenge first"})),
        )
            .into_response();
    };
    let truths: Vec<Value> = c.rounds.iter().map(|p| json!({"lat": p.lat, "lng": p.lng, "panoId": hex(&p.pano), "streakLocationCode": p.country})).collect();
    let mut items: Vec<Value> = c
        .players
        .iter()
        .map(|(id, nick, pts)| {
            let guesses: Vec<Value> = pts
                .iter()
                .enumerate()
                .map(|(r, p)| json!({"lat": c.rounds[r].lat + 1.0, "lng": c.rounds[r].lng, "roundScoreInPoints": p,
                    "distanceInMeters": 1000.0 * (r + 1) as f64, "time": 20 + r}))
                .collect();
            let total: u32 = pts.iter().sum();
            json!({"id": id, "gameId": id, "game": {"token": format!("g-{id}"), "rounds": truths, "player": {"id": id, "nick": nick,
                "totalScore": {"amount": total.to_string(), "unit": "points"}, "guesses": guesses}}})
        })
        .collect();
    let own = state_json(mine);
    items.push(json!({"id": AGENT_ID, "game": {"token": mine.token, "rounds": truths, "player": own["player"]}}));
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(PAGE_SIZE)
        .clamp(1, 100);
    let start: usize = q
        .get("paginationToken")
        .and_then(|p| p.strip_prefix("after-"))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let next = (start + limit < items.len()).then(|| format!("after-{}", start + limit));
    Json(json!({"items": page, "paginationToken": next})).into_response()
}

async fn map(State(s): S, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = gate(&s, &h, &format!("GET /api/maps/{id}")) {
        return r;
    }
    Json(
        json!({"id": id, "name": "World", "maxErrorDistance": WORLD_MAX_ERROR_M,
        "bounds": {"min": {"lat": -54.85, "lng": -123.12}, "max": {"lat": 71.17, "lng": 175.68}}}),
    )
    .into_response()
}

async fn metadata(State(s): S, h: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    // Google's metadata RPC: needs no cookie, returns the coordinates of the pano.
    lock(&s.log).push("GET /maps/api/js/GeoPhotoService.GetMetadata".into());
    drop(h);
    let pano = q.get("pano").cloned().unwrap_or_default();
    match places().into_iter().find(|p| p.pano == pano) {
        Some(p) => Json(json!([[
            0,
            [[pano, p.lat, p.lng]],
            [[null, null, p.lat, p.lng]],
            p.country
        ]]))
        .into_response(),
        None => (StatusCode::NOT_FOUND, "no pano").into_response(),
    }
}

async fn tile(Query(q): Query<HashMap<String, String>>) -> Response {
    let n = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let (x, y, z) = (n("x"), n("y"), n("z"));
    let shade = 120 + ((x * 37 + y * 91 + z * 13).rem_euclid(80)) as u8;
    let svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='256' height='256'><rect width='256' height='256' fill='rgb(90,{shade},170)' stroke='#345' stroke-width='1'/></svg>"
    );
    ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

async fn game_page(State(s): S, h: HeaderMap, Path(t): Path<String>) -> Response {
    if let Err(r) = gate(&s, &h, &format!("GET /game/{t}")) {
        return r;
    }
    let Some(g) = lock(&s.inner).games.get_mut(&t).map(|g| {
        // Loading the page asks for the next round, as a read does.
        clock::on_request(g);
        g.clone()
    }) else {
        return (StatusCode::NOT_FOUND, "no game").into_response();
    };
    let guess_qa = if s.rename_guess_button.load(Ordering::SeqCst) {
        "perform-guess-v2"
    } else {
        "perform-guess"
    };
    let next_data =
        json!({"props": {"pageProps": {"game": state_json(&g)}}, "page": "/game/[token]"});
    let page = lock(&s.page).clone();
    Html(render_page(&s.salt, &page, guess_qa, &t, &next_data)).into_response()
}

/// The game page: its HTML, styles and scripts (placeholders filled by [`game_page`]).
const PAGE: &str = include_str!("geoguessr_site/page.html");
