//! The JSON game API (`/api/maps`, `/api/games`, guesses) and the panorama route, with the
//! checks that name the field a request got wrong.

use super::state::{lock, random_hex, AppState, CompletedRound, Game, UnknownMap};
use super::{MAX_LIVE_GAMES, MAX_PLAYER_NAME_CHARS};
use crate::game::{
    score, Challenge, Imagery, Map, RoundResult, DEFAULT_ROUNDS, MAX_RANDOM_SEED, MAX_ROUNDS,
};
use crate::geo::{GeoError, LatLon};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, Path, State},
    http::{header, Extensions, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use thiserror::Error;

/// An API failure, sent as `{"error": "..."}` with the matching status.
#[derive(Debug, Error)]
pub(super) enum ApiError {
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
    #[error("too many new games from your address; try again in {} s", wait.as_secs().max(1))]
    TooMany { wait: Duration },
    #[error("the server is full: {MAX_LIVE_GAMES} games are being played; try again in {} s", wait.as_secs().max(1))]
    Full { wait: Duration },
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) | ApiError::UnknownMap { .. } => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Full { .. } => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut body = json!({ "error": self.to_string() });
        if let ApiError::UnknownMap { valid, .. } = &self {
            body["valid_maps"] = json!(valid);
        }
        let mut resp = (status, Json(body)).into_response();
        if let ApiError::TooMany { wait } | ApiError::Full { wait } = &self {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
            );
        }
        resp
    }
}

impl From<UnknownMap> for ApiError {
    fn from(e: UnknownMap) -> Self {
        ApiError::UnknownMap {
            requested: e.requested,
            valid: e.valid,
        }
    }
}

pub(super) fn no_game(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no game `{id}` (it never existed or was evicted); start one with POST /api/games"
    ))
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

pub(super) async fn list_maps(State(state): State<AppState>) -> Json<Value> {
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

pub(super) fn parse_seed(v: &Value) -> Result<u64, ApiError> {
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

pub(super) fn parse_rounds(v: &Value) -> Result<usize, ApiError> {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (1..=MAX_ROUNDS).contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "field `rounds` must be a whole number from 1 to {MAX_ROUNDS}, got {v}"
            ))
        })
}

pub(super) fn parse_player(v: &Value) -> Result<Option<String>, ApiError> {
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

pub(super) async fn create_game(
    State(state): State<AppState>,
    extensions: Extensions,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let (Some(limiter), Some(ConnectInfo(client))) = (
        state.inner.creation_limit.get(),
        extensions.get::<ConnectInfo<SocketAddr>>(),
    ) {
        limiter
            .check(client.ip())
            .map_err(|wait| ApiError::TooMany { wait })?;
    }
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
    let challenge = Challenge::with_key(&map, seed, rounds, &state.inner.key);
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
        last_active: Instant::now(),
    };
    let (first, second) = (game.location(0).cloned(), game.location(1).cloned());
    let rounds = game.rounds();
    lock(&state.inner.games)
        .insert(game_id.clone(), game, Instant::now())
        .map_err(|full| ApiError::Full {
            wait: full.retry_after,
        })?;
    state.prerender(&map.id, first.as_ref());
    state.prerender(&map.id, second.as_ref());
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

pub(super) async fn get_game(
    State(state): State<AppState>,
    Path(game_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut games = lock(&state.inner.games);
    let game = games
        .touch(&game_id, Instant::now())
        .ok_or_else(|| no_game(&game_id))?;
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
pub(super) fn parse_guess(body: &[u8]) -> Result<LatLon, ApiError> {
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

pub(super) async fn guess(
    State(state): State<AppState>,
    Path(game_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (reply, completed, map_id, upcoming) = {
        let mut games = lock(&state.inner.games);
        let game = games
            .touch(&game_id, Instant::now())
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
    state.record_round(completed);
    state.prerender(&map_id, upcoming.as_ref());
    Ok(Json(reply))
}

pub(super) async fn pano(State(state): State<AppState>, Path(file): Path<String>) -> Response {
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
        let mut games = lock(&state.inner.games);
        games
            .tokens
            .get(token)
            .cloned()
            .and_then(|id| games.touch(&id, Instant::now()))
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
