//! The server's shared state: maps, live games (bounded, with their panorama tokens), the
//! panorama cache and renderer, and the record of completed rounds.

use super::guard::HostName;
use super::limits::{CreationLimit, CreationLimiter};
use super::viewer::{Live, LivePlace};
use super::{ABANDONED_AFTER, JPEG_QUALITY, MAX_CACHED_PANORAMAS, MAX_LIVE_GAMES};
use crate::game::integrity::{fit_within, IntegrityError};
use crate::game::{
    panorama, Challenge, ChallengeKey, Imagery, Location, Map, RoundResult, MAX_PANORAMA_HEIGHT,
    MAX_PANORAMA_WIDTH,
};
use crate::geo::LatLon;
use axum::body::Bytes;
use image::RgbImage;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::Semaphore;

/// Failures turning a location's imagery into a JPEG. Logged on the server only: the messages
/// name file paths, which may themselves give the place away.
#[derive(Debug, Error)]
pub(super) enum PanoError {
    #[error("{0}; check the map pack's image file (`geoagent map validate`)")]
    Image(#[source] IntegrityError),
    #[error("cannot encode panorama as JPEG: {0}")]
    Encode(#[source] image::ImageError),
    #[error("panorama rendering task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
    #[error("the server is shutting down")]
    Closed,
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

/// A map id no map has (the API names the valid ones).
#[derive(Debug)]
pub(super) struct UnknownMap {
    pub(super) requested: String,
    pub(super) valid: Vec<String>,
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

/// Called with every round guessed on this server, on a blocking thread (so it may write files).
/// `cli` wires one that stores the rounds of named people as human baselines.
pub type RoundSink = Arc<dyn Fn(&CompletedRound) + Send + Sync>;

/// The server's shared state: maps, live games, panorama cache and records. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) maps: Vec<Arc<Map>>,
    /// Mixed into every challenge's choice of places.
    pub(super) key: ChallengeKey,
    pub(super) games: Mutex<Games>,
    pub(super) panos: PanoCache,
    /// One permit per render in progress (see [`render_slots`]).
    render: Arc<Semaphore>,
    /// Background pre-renders allowed at once: one fewer than `render`'s permits, so a request
    /// someone is waiting on (a round's first panorama) always finds a free slot.
    background: Arc<Semaphore>,
    /// Game creations per client address, when limited (`geoagent serve`).
    pub(super) creation_limit: std::sync::OnceLock<CreationLimiter>,
    /// Nobody may start a game over HTTP: the server `play` starts for its own browser, whose
    /// game the server starts itself ([`AppState::for_agent`]).
    pub(super) creations_closed: bool,
    /// Host names the server answers to besides its own addresses (see [`super::guard`]).
    pub(super) allowed_hosts: std::sync::OnceLock<Vec<HostName>>,
    audit_on: AtomicBool,
    audit: Mutex<Vec<AuditEntry>>,
    completed: Mutex<Vec<CompletedRound>>,
    /// Where completed rounds go besides `completed`, when set.
    round_sink: std::sync::OnceLock<RoundSink>,
}

pub(super) struct Game {
    pub(super) map: Arc<Map>,
    pub(super) challenge: Challenge,
    pub(super) player: Option<String>,
    /// 0-based index of the round being played; equals the round count once finished.
    pub(super) current: usize,
    /// The current round's panorama token; `None` once finished.
    pub(super) pano_token: Option<String>,
    pub(super) results: Vec<RoundResult>,
    pub(super) total: u32,
    /// When anyone last asked for this game; an unfinished game untouched for
    /// [`ABANDONED_AFTER`] may make room in a full table.
    pub(super) last_active: Instant,
}

impl Game {
    pub(super) fn rounds(&self) -> usize {
        self.challenge.location_ids.len()
    }

    pub(super) fn finished(&self) -> bool {
        self.current >= self.rounds()
    }

    pub(super) fn location(&self, round: usize) -> Option<&Location> {
        let id = self.challenge.location_ids.get(round)?;
        self.map.location(id)
    }
}

/// Live games, in creation order, with the index from panorama token to game.
#[derive(Default)]
pub(super) struct Games {
    pub(super) by_id: HashMap<String, Game>,
    pub(super) order: VecDeque<String>,
    pub(super) tokens: HashMap<String, String>,
}

/// The table holds [`MAX_LIVE_GAMES`] games that someone is still playing: a new game must wait
/// until one finishes or is abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TableFull {
    /// When the first game in progress counts as abandoned (at least a second).
    pub(super) retry_after: Duration,
}

impl Games {
    /// Adds a game. A full table ([`MAX_LIVE_GAMES`]) makes room by dropping its oldest finished
    /// game, else its oldest game untouched for [`ABANDONED_AFTER`]; a game someone is playing
    /// is never dropped, whoever floods the server, so then the new game is refused.
    pub(super) fn insert(&mut self, id: String, game: Game, now: Instant) -> Result<(), TableFull> {
        while self.by_id.len() >= MAX_LIVE_GAMES {
            let victim = self.eviction_victim(now)?;
            if let Some(old) = self.order.remove(victim) {
                if let Some(g) = self.by_id.remove(&old) {
                    if let Some(t) = g.pano_token {
                        self.tokens.remove(&t);
                    }
                }
            }
        }
        if let Some(t) = &game.pano_token {
            self.tokens.insert(t.clone(), id.clone());
        }
        self.order.push_back(id.clone());
        self.by_id.insert(id, game);
        Ok(())
    }

    /// Position in `order` of the game to drop next (see [`Games::insert`]), or how long until
    /// one may go.
    fn eviction_victim(&self, now: Instant) -> Result<usize, TableFull> {
        let mut abandoned = None;
        let mut soonest = ABANDONED_AFTER;
        for (i, id) in self.order.iter().enumerate() {
            let Some(g) = self.by_id.get(id) else {
                return Ok(i);
            };
            if g.finished() {
                return Ok(i);
            }
            let idle = now.saturating_duration_since(g.last_active);
            if idle >= ABANDONED_AFTER {
                abandoned.get_or_insert(i);
            } else {
                soonest = soonest.min(ABANDONED_AFTER - idle);
            }
        }
        abandoned.ok_or(TableFull {
            retry_after: soonest.max(Duration::from_secs(1)),
        })
    }

    /// The game `id`, marked as asked for now.
    pub(super) fn touch(&mut self, id: &str, now: Instant) -> Option<&mut Game> {
        let g = self.by_id.get_mut(id)?;
        g.last_active = now;
        Some(g)
    }
}

type PanoKey = (String, String);

/// Encoded panoramas per (map id, location id), bounded; a miss renders once however many
/// requests wait for it (single-flight).
pub(super) type PanoCache = quick_cache::sync::Cache<PanoKey, Bytes>;

/// Cache entries for `maps`: every location of every map (so random seeds never repaint a
/// place), capped at [`MAX_CACHED_PANORAMAS`] to bound memory for big map packs.
pub(super) fn pano_cache_capacity(maps: &[Arc<Map>]) -> usize {
    let places: usize = maps.iter().map(|m| m.locations.len()).sum();
    places.clamp(1, MAX_CACHED_PANORAMAS)
}

/// Renders allowed at once: one per core. Painting is CPU-bound, so more only queues threads and
/// memory (the unbounded server reached 1,228 threads and 2.9 GB under a flood).
pub(super) fn render_slots() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (every critical section
/// here leaves the data consistent, so the value is still good).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A fresh unguessable 128-bit identifier in hex.
pub(super) fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl AppState {
    /// State serving `maps` with the public challenge key (places follow from seeds alone:
    /// tests and throwaway servers); the first map is the default when a game names none.
    pub fn new(maps: Vec<Arc<Map>>) -> Self {
        AppState::with_key(maps, ChallengeKey::PUBLIC)
    }

    /// State serving `maps` whose challenges pick their places with `key` (see
    /// [`ChallengeKey`]): `serve`, and `play` so it gets the same places as people.
    pub fn with_key(maps: Vec<Arc<Map>>, key: ChallengeKey) -> Self {
        AppState::build(maps, key, false)
    }

    /// State for the server `play` starts for its own browser: it serves the page, the games it
    /// starts itself ([`AppState::start_game_at`]) and nothing else. Nobody can start a game
    /// over HTTP (no `POST /api/games`, no map list), so nobody who reaches the port can play
    /// the agent's challenge from its seed and read its answers before the agent guesses.
    pub fn for_agent(maps: Vec<Arc<Map>>, key: ChallengeKey) -> Self {
        AppState::build(maps, key, true)
    }

    fn build(maps: Vec<Arc<Map>>, key: ChallengeKey, creations_closed: bool) -> Self {
        let maps_for_cache = maps.clone();
        AppState {
            inner: Arc::new(Inner {
                maps,
                key,
                games: Mutex::new(Games::default()),
                panos: PanoCache::new(pano_cache_capacity(&maps_for_cache)),
                render: Arc::new(Semaphore::new(render_slots())),
                background: Arc::new(Semaphore::new(render_slots().saturating_sub(1).max(1))),
                creation_limit: std::sync::OnceLock::new(),
                creations_closed,
                allowed_hosts: std::sync::OnceLock::new(),
                audit_on: AtomicBool::new(false),
                audit: Mutex::new(Vec::new()),
                completed: Mutex::new(Vec::new()),
                round_sink: std::sync::OnceLock::new(),
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
    pub(crate) fn completed_rounds(&self) -> Vec<CompletedRound> {
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
        let challenge = Challenge::with_key(&map, seed, rounds, &self.inner.key);
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
            last_active: Instant::now(),
        };
        let first = game.location(rounds_done).cloned();
        let id = random_hex();
        lock(&self.inner.games)
            .insert(id.clone(), game, Instant::now())
            .ok()?;
        self.prerender(&map.id, first.as_ref());
        Some(id)
    }

    /// Hands every round guessed from now on to `sink` (see [`RoundSink`]). Set once; later
    /// calls are ignored.
    pub fn on_round_completed(&self, sink: RoundSink) {
        let _ = self.inner.round_sink.set(sink);
    }

    /// The challenges someone is playing on this server right now (games not finished) and
    /// every place in them, played or still to come. The replay viewer hides sessions of these
    /// challenges and any session that went to one of those places: its answers would spoil them.
    pub(crate) fn live_challenges(&self) -> Live {
        let games = lock(&self.inner.games);
        let mut live = Live::default();
        for g in games.by_id.values().filter(|g| !g.finished()) {
            live.challenges.insert(g.challenge.id());
            for id in &g.challenge.location_ids {
                if let Some(l) = g.map.location(id) {
                    live.places.push(LivePlace {
                        map_id: g.map.id.clone(),
                        location_id: id.clone(),
                        pos: l.pos,
                    });
                }
            }
        }
        live
    }

    /// Records a guessed round and hands it to the sink. The sink may block (file locking,
    /// fsync): it runs off the async workers, and its failures are its own to log, never a
    /// failed guess for the person playing.
    pub(super) fn record_round(&self, c: CompletedRound) {
        if let Some(sink) = self.inner.round_sink.get() {
            let (sink, c) = (sink.clone(), c.clone());
            tokio::task::spawn_blocking(move || sink(&c));
        }
        lock(&self.inner.completed).push(c);
    }

    pub(super) fn audit_on(&self) -> bool {
        self.inner.audit_on.load(Ordering::SeqCst)
    }

    pub(super) fn push_audit(&self, e: AuditEntry) {
        lock(&self.inner.audit).push(e);
    }

    pub(super) fn map(&self, id: Option<&str>) -> Result<Arc<Map>, UnknownMap> {
        let found = match id {
            Some(id) => self.inner.maps.iter().find(|m| m.id == id),
            None => self.inner.maps.first(),
        };
        found.cloned().ok_or_else(|| UnknownMap {
            requested: id.unwrap_or("(default)").to_string(),
            valid: self.inner.maps.iter().map(|m| m.id.clone()).collect(),
        })
    }

    /// Lets the server answer to `names` as well as its own addresses (`server.allow_hosts`,
    /// `play`'s advertised host; see [`super::guard`]). Set once, before it starts.
    pub fn allow_hosts(&self, names: Vec<HostName>) {
        let _ = self.inner.allowed_hosts.set(names);
    }

    pub(super) fn allowed_hosts(&self) -> &[HostName] {
        self.inner.allowed_hosts.get().map_or(&[], Vec::as_slice)
    }

    pub(super) fn creations_closed(&self) -> bool {
        self.inner.creations_closed
    }

    /// Limits how many games each client address may create (see [`CreationLimit`]); `serve`
    /// turns it on, the server `play` starts for its own browser does not. Set once.
    pub fn limit_creations(&self, limit: CreationLimit) {
        let _ = self.inner.creation_limit.set(CreationLimiter::new(limit));
    }

    /// The JPEG for a location, rendering it on first use (off the async threads, at most
    /// [`render_slots`] at once) and caching it; concurrent requests for one place share a render.
    pub(super) async fn jpeg(&self, map_id: &str, loc: &Location) -> Result<Bytes, PanoError> {
        let key = (map_id.to_string(), loc.id.clone());
        if let Some(jpeg) = self.inner.panos.get(&key) {
            return Ok(jpeg);
        }
        let (loc, render) = (loc.clone(), self.inner.render.clone());
        self.inner
            .panos
            .get_or_insert_async(&key, async move {
                let _slot = render
                    .acquire_owned()
                    .await
                    .map_err(|_| PanoError::Closed)?;
                tokio::task::spawn_blocking(move || render_jpeg(&loc))
                    .await
                    .map_err(PanoError::Task)?
            })
            .await
    }

    /// Renders a location's panorama in the background so it is ready when its round starts,
    /// unless it is cached or the background slots are busy: then the round renders it when
    /// asked, ahead of other pre-renders, so a flood of new games queues no work.
    pub(super) fn prerender(&self, map_id: &str, loc: Option<&Location>) {
        let Some(loc) = loc.cloned() else { return };
        if self
            .inner
            .panos
            .contains_key(&(map_id.to_string(), loc.id.clone()))
        {
            return;
        }
        let Ok(slot) = self.inner.background.clone().try_acquire_owned() else {
            return;
        };
        let (state, map_id) = (self.clone(), map_id.to_string());
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = state.jpeg(&map_id, &loc).await {
                tracing::warn!("pre-rendering a panorama of map {map_id} failed: {e}");
            }
        });
    }
}

/// Paints or loads a location's panorama and encodes it as a metadata-free JPEG.
pub(super) fn render_jpeg(loc: &Location) -> Result<Bytes, PanoError> {
    let img = match &loc.imagery {
        Imagery::Generated => {
            panorama::paint(loc, panorama::PANORAMA_WIDTH, panorama::PANORAMA_HEIGHT)
        }
        Imagery::File { path } | Imagery::Photo { path } => {
            // Size-checked, bomb-checked, pixels only: EXIF/XMP/IPTC never get past this.
            let decoded = crate::game::integrity::load_clean(path).map_err(PanoError::Image)?;
            fit_within(decoded.to_rgb8(), MAX_PANORAMA_WIDTH, MAX_PANORAMA_HEIGHT)
        }
    };
    encode_jpeg(&img).map(Bytes::from)
}

/// Baseline JPEG from pixels only: the encoder writes no EXIF, XMP or comment segments.
pub(super) fn encode_jpeg(img: &RgbImage) -> Result<Vec<u8>, PanoError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(img)
        .map_err(PanoError::Encode)?;
    Ok(out)
}
