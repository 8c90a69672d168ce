//! The local game web server: the page people and the agent play in, its JSON game API and the
//! panorama images.
//!
//! Owns the games in memory, the per-round opaque panorama tokens, the JPEG cache, the record of
//! completed rounds and the optional audit log of every request and response. Fairness rule: no
//! response for a round carries its answer (coordinates, place, country, location id, image
//! metadata) until that round's guess has been made. Panoramas are served under a fresh random
//! token per round and re-encoded from pixels, so neither the URL nor the bytes say where they are.
//!
//! The page itself (`web/`) is embedded in the binary; nothing is fetched from anywhere else.

use super::integrity::fit_within;
use super::{panorama, score, Challenge, Imagery, Location, Map, RoundResult, DEFAULT_ROUNDS};
use crate::geo::{GeoError, LatLon};
use axum::{
    body::{Body, Bytes},
    extract::{Path, Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, OnceCell};
use tokio::task::JoinHandle;

/// Most rounds one game may have (the game's limit, also checked by config and the CLI).
pub use crate::game::MAX_ROUNDS;
/// Live games kept in memory; the oldest is evicted past this. A game is a few hundred bytes, so
/// this bounds memory while leaving room for many people and agent runs on one server.
pub const MAX_LIVE_GAMES: usize = 1000;
/// JPEG quality of served panoramas: high enough that small text and road markings survive,
/// small enough (~0.3–0.6 MB for 2048×1024) to load instantly from localhost.
pub const JPEG_QUALITY: u8 = 85;
/// Widest panorama served; wider map-pack images are scaled down. 4096 px is the texture size
/// every WebGL implementation (including SwiftShader in headless Chromium) supports.
pub const MAX_PANORAMA_WIDTH: u32 = 4096;
/// Tallest panorama served (equirectangular images are 2:1).
pub const MAX_PANORAMA_HEIGHT: u32 = MAX_PANORAMA_WIDTH / 2;
/// Encoded panoramas kept in the cache. Painting one takes long, but at ~0.5 MB each this keeps
/// memory near 32 MB while covering every round of several concurrent games.
pub const MAX_CACHED_PANORAMAS: usize = 64;
/// Longest player name accepted: names appear in tables and replays, not essays.
pub const MAX_PLAYER_NAME_CHARS: usize = 64;
/// Largest random seed the server picks itself: 2^53 − 1, so the page's JavaScript numbers hold
/// it exactly when it builds a challenge link. (Explicit seeds may use the whole u64 range.)
pub const MAX_RANDOM_SEED: u64 = (1 << 53) - 1;
/// How long `LocalServer::shutdown` waits for open requests to finish before aborting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

const INDEX_HTML: &str = include_str!("../../web/index.html");

/// One embedded file under `/assets/`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/app.js"),
    },
    Asset {
        path: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../web/style.css"),
    },
    Asset {
        path: "vendor/topojson-client.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../web/vendor/topojson-client.min.js"),
    },
    Asset {
        path: "vendor/countries-110m.json",
        content_type: "application/json",
        body: include_bytes!("../../web/vendor/countries-110m.json"),
    },
    Asset {
        path: "vendor/LICENSE-topojson-client",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../web/vendor/LICENSE-topojson-client"),
    },
    Asset {
        path: "vendor/LICENSE-world-atlas",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../../web/vendor/LICENSE-world-atlas"),
    },
    Asset {
        path: "vendor/README.md",
        content_type: "text/markdown; charset=utf-8",
        body: include_bytes!("../../web/vendor/README.md"),
    },
];

/// Failures starting or stopping the server.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("could not bind the local game server to 127.0.0.1 (any port): {0}")]
    Bind(#[source] std::io::Error),
    #[error("the local game server stopped with an I/O error: {0}")]
    Serve(#[source] std::io::Error),
    #[error("the local game server task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// Failures turning a location's imagery into a JPEG. Logged on the server only: the messages
/// name file paths, which may themselves give the place away.
#[derive(Debug, Error)]
enum PanoError {
    #[error("{0}; check the map pack's image file (`geoagent map validate`)")]
    Image(#[source] super::integrity::IntegrityError),
    #[error("cannot encode panorama as JPEG: {0}")]
    Encode(#[source] image::ImageError),
    #[error("panorama rendering task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// One request and its response, as recorded when auditing is on.
#[derive(Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub method: String,
    /// Path with query string, e.g. `/?seed=1`.
    pub path: String,
    pub status: u16,
    /// The response's `Content-Type`, empty when it had none.
    pub content_type: String,
    /// The complete response body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for AuditEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditEntry")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A round someone finished on this server (for scoring people against the agent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletedRound {
    pub game_id: String,
    /// `Challenge::id()`: the same for everyone who played the same map, seed and round count.
    pub challenge_id: String,
    pub player: Option<String>,
    /// 1-based.
    pub round: usize,
    pub location_id: String,
    pub guess: LatLon,
    pub truth: LatLon,
    pub distance_km: f64,
    pub points: u32,
}

/// `source` of human results recorded by this server.
pub const HUMAN_SOURCE: &str = "local-game";

/// The server's shared state: maps, live games, panorama cache and records. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    maps: Vec<Arc<Map>>,
    games: Mutex<Games>,
    panos: Mutex<PanoCache>,
    audit_on: AtomicBool,
    audit: Mutex<Vec<AuditEntry>>,
    completed: Mutex<Vec<CompletedRound>>,
    /// Where rounds played by named people are saved as human baselines, when set.
    human_store: std::sync::OnceLock<crate::humans::Store>,
}

struct Game {
    map: Arc<Map>,
    challenge: Challenge,
    player: Option<String>,
    /// 0-based index of the round being played; equals the round count once finished.
    current: usize,
    /// The current round's panorama token; `None` once finished.
    pano_token: Option<String>,
    results: Vec<RoundResult>,
    total: u32,
}

impl Game {
    fn rounds(&self) -> usize {
        self.challenge.location_ids.len()
    }

    fn finished(&self) -> bool {
        self.current >= self.rounds()
    }

    fn location(&self, round: usize) -> Option<&Location> {
        let id = self.challenge.location_ids.get(round)?;
        self.map.location(id)
    }
}

/// Live games, in creation order, with the index from panorama token to game.
#[derive(Default)]
struct Games {
    by_id: HashMap<String, Game>,
    order: VecDeque<String>,
    tokens: HashMap<String, String>,
}

impl Games {
    /// Adds a game, evicting the oldest ones beyond `MAX_LIVE_GAMES`.
    fn insert(&mut self, id: String, game: Game) {
        while self.by_id.len() >= MAX_LIVE_GAMES {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(g) = self.by_id.remove(&old) {
                if let Some(t) = g.pano_token {
                    self.tokens.remove(&t);
                }
            }
        }
        if let Some(t) = &game.pano_token {
            self.tokens.insert(t.clone(), id.clone());
        }
        self.order.push_back(id.clone());
        self.by_id.insert(id, game);
    }
}

type PanoKey = (String, String);
type PanoCell = Arc<OnceCell<Bytes>>;

/// Encoded panoramas per (map id, location id), oldest evicted first.
#[derive(Default)]
struct PanoCache {
    cells: HashMap<PanoKey, PanoCell>,
    order: VecDeque<PanoKey>,
}

impl PanoCache {
    fn cell(&mut self, key: PanoKey) -> PanoCell {
        if let Some(c) = self.cells.get(&key) {
            return c.clone();
        }
        while self.cells.len() >= MAX_CACHED_PANORAMAS {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.cells.remove(&old);
        }
        let c = PanoCell::default();
        self.order.push_back(key.clone());
        self.cells.insert(key, c.clone());
        c
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (every critical section
/// here leaves the data consistent, so the value is still good).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh unguessable 128-bit identifier in hex.
fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl AppState {
    /// State serving `maps`; the first is the default when a game names none.
    pub fn new(maps: Vec<Arc<Map>>) -> Self {
        AppState {
            inner: Arc::new(Inner {
                maps,
                games: Mutex::new(Games::default()),
                panos: Mutex::new(PanoCache::default()),
                audit_on: AtomicBool::new(false),
                audit: Mutex::new(Vec::new()),
                completed: Mutex::new(Vec::new()),
                human_store: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Starts recording every request and its full response (kept in memory until dropped; meant
    /// for fairness checks and tests, not long-running servers).
    pub fn enable_audit(&self) {
        self.inner.audit_on.store(true, Ordering::SeqCst);
    }

    /// Everything recorded since `enable_audit`, in order.
    pub fn audit_log(&self) -> Vec<AuditEntry> {
        lock(&self.inner.audit).clone()
    }

    /// Every round guessed on this server, in order.
    pub fn completed_rounds(&self) -> Vec<CompletedRound> {
        lock(&self.inner.completed).clone()
    }

    /// Creates the game of challenge (`map_id`, `seed`, `rounds`) with its first `rounds_done`
    /// rounds already behind it, and returns its id, so a resumed run continues a challenge in a
    /// fresh server (the page opens it with `/?game=ID`). `None` when the map is unknown, has no
    /// locations, or nothing is left to play.
    pub fn start_game_at(
        &self,
        map_id: &str,
        seed: u64,
        rounds: usize,
        rounds_done: usize,
    ) -> Option<String> {
        let map = self.map(Some(map_id)).ok()?;
        let challenge = Challenge::new(&map, seed, rounds);
        if rounds_done >= challenge.location_ids.len() {
            return None;
        }
        let game = Game {
            map: map.clone(),
            challenge,
            player: None,
            current: rounds_done,
            pano_token: Some(random_hex()),
            results: Vec::new(),
            total: 0,
        };
        self.prerender(&map.id, game.location(rounds_done));
        let id = random_hex();
        lock(&self.inner.games).insert(id.clone(), game);
        Some(id)
    }

    /// Saves every round finished by a player who gave a name to `store`, as a human baseline
    /// for that challenge. Games without a name (the agent's, anonymous people) are not saved.
    /// Set once; later calls are ignored.
    pub fn save_human_rounds_to(&self, store: crate::humans::Store) {
        let _ = self.inner.human_store.set(store);
    }

    /// Ids of the challenges someone is playing on this server right now (games not finished).
    /// The replay viewer hides sessions of these challenges, whose answers would spoil them.
    pub fn live_challenges(&self) -> std::collections::HashSet<String> {
        lock(&self.inner.games)
            .by_id
            .values()
            .filter(|g| !g.finished())
            .map(|g| g.challenge.id())
            .collect()
    }

    fn save_human_round(&self, c: &CompletedRound) {
        let (Some(store), Some(player)) = (self.inner.human_store.get(), c.player.clone()) else {
            return;
        };
        let row = crate::humans::HumanRound {
            source: HUMAN_SOURCE.into(),
            challenge_id: c.challenge_id.clone(),
            round: c.round,
            location_id: Some(c.location_id.clone()),
            truth: Some(c.truth),
            player,
            points: c.points,
            distance_km: Some(c.distance_km),
            time_s: None,
        };
        let store = store.clone();
        // File locking and fsync block: keep them off the async workers. A failed save is logged,
        // never turned into a failed guess for the person playing.
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.append(&row) {
                tracing::warn!(error = %e, "could not save a human result");
            }
        });
    }

    fn map(&self, id: Option<&str>) -> Result<Arc<Map>, ApiError> {
        let found = match id {
            Some(id) => self.inner.maps.iter().find(|m| m.id == id),
            None => self.inner.maps.first(),
        };
        found.cloned().ok_or_else(|| ApiError::UnknownMap {
            requested: id.unwrap_or("(default)").to_string(),
            valid: self.inner.maps.iter().map(|m| m.id.clone()).collect(),
        })
    }

    /// The JPEG for a location, rendering (off the async threads) and caching it on first use.
    async fn jpeg(&self, map_id: &str, loc: &Location) -> Result<Bytes, PanoError> {
        let cell = lock(&self.inner.panos).cell((map_id.to_string(), loc.id.clone()));
        let loc = loc.clone();
        cell.get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || render_jpeg(&loc))
                .await
                .map_err(PanoError::Task)?
        })
        .await
        .cloned()
    }

    /// Renders a location's panorama in the background so it is ready when its round starts.
    fn prerender(&self, map_id: &str, loc: Option<&Location>) {
        let Some(loc) = loc.cloned() else { return };
        let (state, map_id) = (self.clone(), map_id.to_string());
        tokio::spawn(async move {
            if let Err(e) = state.jpeg(&map_id, &loc).await {
                tracing::warn!("pre-rendering a panorama of map {map_id} failed: {e}");
            }
        });
    }
}

/// Paints or loads a location's panorama and encodes it as a metadata-free JPEG.
fn render_jpeg(loc: &Location) -> Result<Bytes, PanoError> {
    let img = match &loc.imagery {
        Imagery::Generated => {
            panorama::paint(loc, panorama::PANORAMA_WIDTH, panorama::PANORAMA_HEIGHT)
        }
        Imagery::File { path } | Imagery::Photo { path } => {
            // Size-checked, bomb-checked, pixels only: EXIF/XMP/IPTC never get past this.
            let decoded = super::integrity::load_clean(path).map_err(PanoError::Image)?;
            fit_within(decoded.to_rgb8(), MAX_PANORAMA_WIDTH, MAX_PANORAMA_HEIGHT)
        }
    };
    encode_jpeg(&img).map(Bytes::from)
}

/// Baseline JPEG from pixels only: the encoder writes no EXIF, XMP or comment segments.
fn encode_jpeg(img: &RgbImage) -> Result<Vec<u8>, PanoError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(img)
        .map_err(PanoError::Encode)?;
    Ok(out)
}

/// An API failure, sent as `{"error": "..."}` with the matching status.
#[derive(Debug, Error)]
enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("unknown map `{requested}`; valid map ids: {}", valid.join(", "))]
    UnknownMap {
        requested: String,
        valid: Vec<String>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) | ApiError::UnknownMap { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut body = json!({ "error": self.to_string() });
        if let ApiError::UnknownMap { valid, .. } = &self {
            body["valid_maps"] = json!(valid);
        }
        (status, Json(body)).into_response()
    }
}

fn no_game(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no game `{id}` (it never existed or was evicted); start one with POST /api/games"
    ))
}

/// The router with every page, asset and API route, plus the audit recorder.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
        .route("/api/maps", get(list_maps))
        .route("/api/games", post(create_game))
        .route("/api/games/{game_id}", get(get_game))
        .route("/api/games/{game_id}/guess", post(guess))
        .route("/pano/{file}", get(pano))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), audit))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then finishes open requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Like [`serve`], plus the replay viewer (`/replays`) over the finished sessions in
/// `replays_dir`. Only `geoagent serve` mounts it: the server `play` starts for the agent's
/// browser never has it (see `crate::replay::viewer` for what it hides).
pub async fn serve_with_replays(
    listener: TcpListener,
    state: AppState,
    replays_dir: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let viewer = crate::replay::viewer::router(state.clone(), replays_dir);
    axum::serve(listener, app(state).merge(viewer))
        .with_graceful_shutdown(shutdown)
        .await
}

/// A server running on 127.0.0.1 in the background; stops on `shutdown()` or when dropped.
pub struct LocalServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl LocalServer {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits (up to `SHUTDOWN_GRACE`) for open requests.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(r)) => r.map_err(ServerError::Serve),
            Ok(Err(e)) => Err(ServerError::Task(e)),
            Err(_) => {
                task.abort();
                Ok(())
            }
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts serving `state` on 127.0.0.1 at a free port.
pub async fn start_local(state: AppState) -> Result<LocalServer, ServerError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(ServerError::Bind)?;
    let addr = listener.local_addr().map_err(ServerError::Bind)?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state, async move {
        // A dropped sender also means stop.
        let _ = rx.await;
    }));
    tracing::info!("local game server listening on http://{addr}");
    Ok(LocalServer {
        addr,
        stop: Some(tx),
        task: Some(task),
    })
}

/// Records request and response when auditing is on.
async fn audit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.inner.audit_on.load(Ordering::SeqCst) {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let resp = next.run(req).await;
    let (parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("audit could not read the response body of {method} {path}: {e}");
            Bytes::new()
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    lock(&state.inner.audit).push(AuditEntry {
        method,
        path,
        status: parts.status.as_u16(),
        content_type,
        body: bytes.to_vec(),
    });
    Response::from_parts(parts, Body::from(bytes))
}

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            a.body,
        )
            .into_response(),
        None => ApiError::NotFound(format!("no asset `{path}`")).into_response(),
    }
}

async fn not_found(req: Request) -> Response {
    ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
    .into_response()
}

fn map_info(map: &Map) -> Value {
    json!({
        "id": map.id,
        "name": map.name,
        "synthetic": map.synthetic,
        "attribution": map.attribution,
        "view": map.view,
    })
}

async fn list_maps(State(state): State<AppState>) -> Json<Value> {
    let maps: Vec<Value> = state.inner.maps.iter().map(|m| map_info(m)).collect();
    Json(json!({ "maps": maps }))
}

/// The body of `POST /api/games`; every field optional. Fields are checked one by one so errors
/// can name them.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateGame {
    map: Option<Value>,
    seed: Option<Value>,
    rounds: Option<Value>,
    player: Option<Value>,
}

fn parse_seed(v: &Value) -> Result<u64, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "field `seed` must be a whole number from 0 to {} (a number or a decimal string), got {v}",
            u64::MAX
        ))
    };
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(bad),
        Value::String(s) => s.trim().parse::<u64>().map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn parse_rounds(v: &Value) -> Result<usize, ApiError> {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (1..=MAX_ROUNDS).contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "field `rounds` must be a whole number from 1 to {MAX_ROUNDS}, got {v}"
            ))
        })
}

fn parse_player(v: &Value) -> Result<Option<String>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => {
            let s = s.trim();
            if s.chars().count() > MAX_PLAYER_NAME_CHARS {
                Err(ApiError::BadRequest(format!(
                    "field `player` is longer than {MAX_PLAYER_NAME_CHARS} characters"
                )))
            } else if s.is_empty() {
                Ok(None)
            } else {
                Ok(Some(s.to_string()))
            }
        }
        _ => Err(ApiError::BadRequest(format!(
            "field `player` must be a string, got {v}"
        ))),
    }
}

async fn create_game(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: CreateGame = if body.iter().all(u8::is_ascii_whitespace) {
        CreateGame::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("request body is not a valid game: {e}")))?
    };
    let map_id = match &req.map {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "field `map` must be a map id string, got {v}"
            )))
        }
    };
    let map = state.map(map_id)?;
    let seed = match &req.seed {
        None | Some(Value::Null) => rand::random_range(0..=MAX_RANDOM_SEED),
        Some(v) => parse_seed(v)?,
    };
    let rounds = match &req.rounds {
        None | Some(Value::Null) => DEFAULT_ROUNDS,
        Some(v) => parse_rounds(v)?,
    };
    let player = match &req.player {
        None => None,
        Some(v) => parse_player(v)?,
    };
    let challenge = Challenge::new(&map, seed, rounds);
    if challenge.location_ids.is_empty() {
        return Err(ApiError::Unprocessable(format!(
            "map `{}` has no locations to play",
            map.id
        )));
    }
    let game_id = random_hex();
    let challenge_id = challenge.id();
    let game = Game {
        map: map.clone(),
        challenge,
        player,
        current: 0,
        pano_token: Some(random_hex()),
        results: Vec::new(),
        total: 0,
    };
    state.prerender(&map.id, game.location(0));
    state.prerender(&map.id, game.location(1));
    let rounds = game.rounds();
    lock(&state.inner.games).insert(game_id.clone(), game);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "game_id": game_id,
            "seed": seed,
            "challenge_id": challenge_id,
            "rounds": rounds,
            "map": map_info(&map),
        })),
    ))
}

async fn get_game(
    State(state): State<AppState>,
    Path(game_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let games = lock(&state.inner.games);
    let game = games.by_id.get(&game_id).ok_or_else(|| no_game(&game_id))?;
    let finished = game.finished();
    Ok(Json(json!({
        "game_id": game_id,
        "challenge_id": game.challenge.id(),
        "seed": game.challenge.seed,
        "player": game.player,
        "map": map_info(&game.map),
        "rounds": game.rounds(),
        "round": (game.current + 1).min(game.rounds()),
        "state": if finished { "finished" } else { "guessing" },
        "pano": game.pano_token.as_ref().map(|t| format!("/pano/{t}.jpg")),
        // How the page shows the image: "panorama" (360°) or "photo" (one flat view).
        "imagery": game.location(game.current).map(|l| match l.imagery {
            Imagery::Photo { .. } => "photo",
            Imagery::Generated | Imagery::File { .. } => "panorama",
        }),
        "results": game.results,
        "total": game.total,
    })))
}

/// Reads the guess body, naming the field that is wrong.
fn parse_guess(body: &[u8]) -> Result<LatLon, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "guess body must be JSON like {{\"lat\": 1.5, \"lon\": 36.8}}: {e}"
        ))
    })?;
    let field = |name: &str| -> Result<f64, ApiError> {
        match v.get(name) {
            None => Err(ApiError::BadRequest(format!(
                "field `{name}` is missing from the guess"
            ))),
            Some(x) => x.as_f64().ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "field `{name}` must be a number in decimal degrees, got {x}"
                ))
            }),
        }
    };
    let (lat, lon) = (field("lat")?, field("lon")?);
    LatLon::new(lat, lon).map_err(|e| {
        let name = match e {
            GeoError::Latitude(_) => "lat",
            GeoError::Longitude(_) => "lon",
        };
        ApiError::BadRequest(format!("field `{name}`: {e}"))
    })
}

async fn guess(
    State(state): State<AppState>,
    Path(game_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (reply, completed, map_id, upcoming) = {
        let mut games = lock(&state.inner.games);
        let game = games
            .by_id
            .get_mut(&game_id)
            .ok_or_else(|| no_game(&game_id))?;
        if game.finished() {
            return Err(ApiError::Conflict(format!(
                "game `{game_id}` is finished (all {} rounds guessed); start a new game",
                game.rounds()
            )));
        }
        let guess = parse_guess(&body)?;
        let round = game.current;
        let loc = game.location(round).cloned().ok_or_else(|| {
            ApiError::Internal(format!(
                "round {} of game `{game_id}` names a location missing from map `{}`",
                round + 1,
                game.map.id
            ))
        })?;
        let distance_km = guess.distance_km(&loc.pos);
        let points = score(distance_km, game.map.size_km);
        let result = RoundResult {
            round: round + 1,
            guess,
            truth: loc.pos,
            distance_km,
            points,
            place: loc.place.clone(),
            country: loc.country.clone(),
        };
        game.results.push(result.clone());
        game.total += points;
        game.current += 1;
        let old_token = game.pano_token.take();
        let finished = game.finished();
        let new_token = (!finished).then(random_hex);
        game.pano_token = new_token.clone();
        let completed = CompletedRound {
            game_id: game_id.clone(),
            challenge_id: game.challenge.id(),
            player: game.player.clone(),
            round: round + 1,
            location_id: loc.id.clone(),
            guess,
            truth: loc.pos,
            distance_km,
            points,
        };
        let reply = json!({
            "round": result.round,
            "guess": result.guess,
            "truth": result.truth,
            "distance_km": distance_km,
            "points": points,
            "total": game.total,
            "place": result.place,
            "country": result.country,
            "finished": finished,
        });
        let map_id = game.map.id.clone();
        let upcoming = game.location(game.current + 1).cloned();
        if let Some(t) = old_token {
            games.tokens.remove(&t);
        }
        if let Some(t) = new_token {
            games.tokens.insert(t, game_id.clone());
        }
        (reply, completed, map_id, upcoming)
    };
    state.save_human_round(&completed);
    lock(&state.inner.completed).push(completed);
    state.prerender(&map_id, upcoming.as_ref());
    Ok(Json(reply))
}

async fn pano(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let unknown = || {
        ApiError::NotFound(
            "no such panorama: the link is only valid while its round is being played".into(),
        )
        .into_response()
    };
    let Some(token) = file.strip_suffix(".jpg") else {
        return unknown();
    };
    let found = {
        let games = lock(&state.inner.games);
        games
            .tokens
            .get(token)
            .and_then(|id| games.by_id.get(id))
            .and_then(|g| Some((g.map.id.clone(), g.location(g.current)?.clone())))
    };
    let Some((map_id, loc)) = found else {
        return unknown();
    };
    match state.jpeg(&map_id, &loc).await {
        Ok(jpeg) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            jpeg,
        )
            .into_response(),
        Err(e) => {
            // The detailed error may name the image file; keep it in the server log only.
            tracing::error!("panorama for a round of map {map_id}: {e}");
            ApiError::Internal("the panorama could not be rendered; see the server log".into())
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::Bounds;
    use std::io::Write;
    use std::path::PathBuf;

    /// A map whose answers are distinctive strings, so a leak is easy to spot.
    fn secret_map(id: &str, n: usize, imagery: Imagery) -> Map {
        let locations = (0..n)
            .map(|i| Location {
                id: format!("secretloc{i:02}x"),
                pos: LatLon::new(-33.1717 + 4.1234 * i as f64, 12.3131 + 7.6543 * i as f64)
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
        let r = f.http.post(f.url("/api/games")).send().await.unwrap();
        assert_eq!(r.status(), 201, "an empty body means all defaults");

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
    /// `GEOAGENT_SERVE_SECS=600 cargo test --lib game::server::tests::serve_for_manual_look -- --ignored --nocapture`
    #[tokio::test]
    #[ignore = "serves until GEOAGENT_SERVE_SECS elapse; for looking at the page by hand"]
    async fn serve_for_manual_look() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compass.png");
        compass_pattern(2048, 1024).save(&path).unwrap();
        let compass = secret_map("compass", 5, Imagery::File { path });
        let state = AppState::new(vec![
            Arc::new(super::super::builtin::world()),
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

    #[test]
    fn live_games_are_bounded_oldest_first() {
        let map = Arc::new(secret_map("m", 2, Imagery::Generated));
        let mut games = Games::default();
        for i in 0..=MAX_LIVE_GAMES {
            let game = Game {
                map: map.clone(),
                challenge: Challenge::new(&map, i as u64, 1),
                player: None,
                current: 0,
                pano_token: Some(format!("t{i}")),
                results: Vec::new(),
                total: 0,
            };
            games.insert(format!("g{i}"), game);
        }
        assert_eq!(games.by_id.len(), MAX_LIVE_GAMES);
        assert!(!games.by_id.contains_key("g0"));
        assert!(
            !games.tokens.contains_key("t0"),
            "evicted game's token goes too"
        );
        assert!(games.by_id.contains_key("g1"));
        assert_eq!(games.tokens.len(), MAX_LIVE_GAMES);
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

    #[test]
    fn pano_cache_is_bounded() {
        let mut cache = PanoCache::default();
        let first = cache.cell(("m".into(), "0".into()));
        assert!(Arc::ptr_eq(&first, &cache.cell(("m".into(), "0".into()))));
        for i in 1..=MAX_CACHED_PANORAMAS {
            cache.cell(("m".into(), i.to_string()));
        }
        assert_eq!(cache.cells.len(), MAX_CACHED_PANORAMAS);
        assert!(!cache
            .cells
            .contains_key(&("m".to_string(), "0".to_string())));
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
}
