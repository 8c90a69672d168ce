//! The assist page (`play --assist`): a person watches the agent play the local game and helps
//! it, GaGA-style. The page at `/assist/TOKEN/` shows each round's views as the agent captured
//! them, the model's answer and reasoning, and a box for hints ("the signs are Cyrillic", "not
//! Europe"); the model revises with them before the guess is placed, and the page shows the
//! revised guess.
//!
//! [`Assist`] is both ends: the session tells it what the agent sees and guesses
//! ([`Assist::observed`], [`Assist::placing`], [`Assist::scored`]), the interactive strategy asks
//! it for hints (it is a [`HintSource`]), and [`Assist::router`] serves the page and its API.
//!
//! After each answer the round waits up to the hint window for the person: a hint makes the
//! model revise (and the window opens again on the revised guess); "go" or the end of the window
//! places the guess. Hints typed while the model is still thinking wait for its answer.
//!
//! Everything from the page is hostile: the link carries a random 128-bit token, compared in
//! constant time, and every route answers 404 without it; hints are cleaned and bounded
//! ([`Hint::new`]), request bodies too ([`MAX_ASSIST_BODY_BYTES`]), rate-limited
//! ([`HINTS_PER_MINUTE`]) and capped per round ([`MAX_HINTS_PER_ROUND`]); the page renders every
//! text with `textContent` under a strict Content-Security-Policy. Fairness: the page shows what
//! the agent saw and said, and a round's points and distance once its guess is scored, never the
//! true position.

use crate::agent::strategy::HintSource;
use crate::agent::{Guess, Hint};
use crate::environment::Observation;
use crate::replay::RoundRecord;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a round waits for the person after each answer: time to look at the views and
/// type a sentence. "Go" on the page ends it sooner.
pub const DEFAULT_HINT_WINDOW: Duration = Duration::from_secs(30);
/// Longest hint window accepted: an hour is already a person who walked away.
pub(crate) const MAX_HINT_WINDOW: Duration = Duration::from_secs(3600);
/// Most hints one round takes: each one costs a model call (the strategy also stops after
/// [`crate::agent::strategy::interactive::MAX_REVISIONS`] revisions).
pub(crate) const MAX_HINTS_PER_ROUND: usize = 20;
/// Hints accepted per minute once the burst is spent: a person types a few a minute.
pub(crate) const HINTS_PER_MINUTE: u32 = 30;
/// Hints accepted at once.
pub(crate) const HINT_BURST: u32 = 5;
/// Largest request body the assist routes read: a hint of 1000 characters and a name, as JSON.
pub(crate) const MAX_ASSIST_BODY_BYTES: usize = 16 * 1024;
/// Characters of the model's answer shown as its reasoning (answers can be long essays).
pub(crate) const MAX_SHOWN_ANSWER_CHARS: usize = 8000;
/// How long the game's server stays up after the match for an open assist page to show the
/// last round's score and the end (the page polls every half second).
pub(crate) const FAREWELL: Duration = Duration::from_secs(5);
/// How often [`Assist::farewell`] looks whether the page has seen the end.
const FAREWELL_POLL: Duration = Duration::from_millis(50);
/// Random bytes in the link's token: 128 bits cannot be guessed.
const TOKEN_BYTES: usize = 16;

const PAGE_HTML: &str = include_str!("../../../web/assist.html");
const PAGE_JS: &str = include_str!("../../../web/assist.js");
const PAGE_CSS: &str = include_str!("../../../web/assist.css");
/// Only this page's own script, style and images; nothing inline, nothing from elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Failures of an assist request, as the page sees them.
#[derive(Debug, Error)]
pub(super) enum AssistError {
    /// A wrong token looks exactly like a missing page.
    #[error("no such page")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many hints; wait a few seconds")]
    TooMany,
}

impl IntoResponse for AssistError {
    fn into_response(self) -> Response {
        let status = match self {
            AssistError::NotFound => StatusCode::NOT_FOUND,
            AssistError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AssistError::Conflict(_) => StatusCode::CONFLICT,
            AssistError::TooMany => StatusCode::TOO_MANY_REQUESTS,
        };
        let mut r = (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// One person's view into a match and their hints. Cheap to clone.
#[derive(Clone)]
pub struct Assist {
    inner: Arc<Shared>,
}

struct Shared {
    token: String,
    window: Duration,
    board: Mutex<Board>,
    changed: Notify,
    limiter: DefaultDirectRateLimiter,
}

/// Where the round stands, as the page says it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// The game is starting; no round yet.
    #[default]
    Starting,
    /// The views are captured and the model is answering.
    Thinking,
    /// The model answered; waiting for the person's hints.
    Waiting,
    /// The model is revising with the person's hints.
    Revising,
    /// The guess is being placed.
    Placing,
    /// The game scored the guess.
    Scored,
    /// The match is over.
    Finished,
}

#[derive(Debug, Clone, Serialize)]
struct ViewShown {
    url: String,
    /// Degrees from north; `None` when unknown (a photo, a view turned from a start view).
    heading: Option<f64>,
}

/// One answer of the model this round (revision 0 is its first).
#[derive(Debug, Clone, Serialize)]
struct Answer {
    revision: usize,
    lat: f64,
    lon: f64,
    country: Option<String>,
    confidence: Option<f64>,
    rationale: Option<String>,
    /// "model", or "fallback: why".
    source: String,
    /// The model's text behind the answer, cut to [`MAX_SHOWN_ANSWER_CHARS`].
    reasoning: Option<String>,
    /// The guess placed (after the last revision).
    placed: bool,
}

impl Answer {
    fn of(revision: usize, g: &Guess, placed: bool) -> Answer {
        let reasoning = g
            .exchanges
            .iter()
            .rev()
            .find_map(|e| e.raw.as_deref())
            .map(|t| t.chars().take(MAX_SHOWN_ANSWER_CHARS).collect());
        Answer {
            revision,
            lat: g.pos.lat,
            lon: g.pos.lon,
            country: g.country.clone(),
            confidence: g.confidence,
            rationale: g.rationale.clone(),
            source: g.source.to_string(),
            reasoning,
            placed,
        }
    }
}

/// A finished round, after its guess was scored.
#[derive(Debug, Clone, Serialize)]
struct Past {
    round: usize,
    points: u32,
    distance_km: f64,
    hints: usize,
}

#[derive(Default)]
struct Board {
    phase: Phase,
    round: usize,
    rounds: usize,
    map: String,
    views: Vec<ViewShown>,
    jpegs: Vec<Bytes>,
    answers: Vec<Answer>,
    /// Every hint of this round; those from `sent` on have not reached the model yet.
    hints: Vec<Hint>,
    sent: usize,
    /// The person pressed "go": no more waiting this round.
    go: bool,
    deadline: Option<Instant>,
    scored: Option<Past>,
    past: Vec<Past>,
    /// Bumped on every change, so the page redraws only when something happened.
    version: u64,
    /// The latest version a page was sent; `None` until the page is first opened.
    seen: Option<u64>,
}

/// What `GET state` answers.
#[derive(Serialize)]
struct StateJson<'a> {
    version: u64,
    phase: Phase,
    round: usize,
    rounds: usize,
    map: &'a str,
    views: &'a [ViewShown],
    answers: &'a [Answer],
    hints: &'a [Hint],
    /// Hints are taken now (a round is being reasoned about and has room for more).
    accepts_hints: bool,
    /// Milliseconds left in the hint window, while it is open.
    window_left_ms: Option<u64>,
    /// The round's points and distance, once scored.
    result: Option<&'a Past>,
    past: &'a [Past],
}

/// `POST hints`.
#[derive(Deserialize)]
struct HintIn {
    text: String,
    #[serde(default)]
    by: String,
}

impl Board {
    fn accepts_hints(&self) -> bool {
        matches!(
            self.phase,
            Phase::Thinking | Phase::Waiting | Phase::Revising
        ) && self.hints.len() < MAX_HINTS_PER_ROUND
    }
}

impl Assist {
    /// A new page with a fresh token; after each answer a round waits up to `window` (capped at
    /// [`MAX_HINT_WINDOW`]; zero: hints already typed are used, nobody is waited for).
    pub fn new(window: Duration) -> Assist {
        let bytes: [u8; TOKEN_BYTES] = rand::random();
        let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let quota = Quota::per_minute(NonZeroU32::new(HINTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(HINT_BURST).unwrap_or(NonZeroU32::MIN));
        Assist {
            inner: Arc::new(Shared {
                token,
                window: window.min(MAX_HINT_WINDOW),
                board: Mutex::new(Board::default()),
                changed: Notify::new(),
                limiter: RateLimiter::direct(quota),
            }),
        }
    }

    /// The page's path, `/assist/TOKEN/`: whoever has it may add hints, so it is given to one
    /// person only.
    pub fn path(&self) -> String {
        format!("/assist/{}/", self.inner.token)
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        // Every update leaves the board consistent: a poisoned lock is still good.
        self.inner.board.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self, mut b: MutexGuard<'_, Board>) {
        b.version += 1;
        drop(b);
        self.inner.changed.notify_waiters();
    }

    /// A new round: the views the agent captured, before the model sees them.
    pub(crate) fn observed(&self, obs: &Observation) {
        let mut b = self.board();
        let round = obs.round;
        b.phase = Phase::Thinking;
        b.round = round;
        b.rounds = obs.rounds;
        b.map = obs.map_name.clone();
        b.views = (0..obs.views.len())
            .map(|k| ViewShown {
                url: format!("views/{round}/{k}"),
                heading: Some(obs.views[k].heading)
                    .filter(|h| h.is_finite() && obs.views[k].heading_ref.is_compass()),
            })
            .collect();
        b.jpegs = obs
            .views
            .iter()
            .map(|v| Bytes::from(v.jpeg.clone()))
            .collect();
        b.answers.clear();
        b.hints.clear();
        b.sent = 0;
        b.go = false;
        b.deadline = None;
        b.scored = None;
        self.changed(b);
    }

    /// The guess about to be placed (the last revision's, or the one that stood).
    pub(crate) fn placing(&self, guess: &Guess) {
        let mut b = self.board();
        let revision = b.answers.len().saturating_sub(1);
        b.answers.push(Answer::of(revision, guess, true));
        b.phase = Phase::Placing;
        b.deadline = None;
        self.changed(b);
    }

    /// The round is scored: its points and distance may be shown now.
    pub fn scored(&self, record: &RoundRecord) {
        let mut b = self.board();
        let past = Past {
            round: record.round,
            points: record.result.points,
            distance_km: record.result.distance_km,
            hints: record.guess.revisions.iter().map(|r| r.hints.len()).sum(),
        };
        b.past.push(past.clone());
        b.scored = Some(past);
        b.phase = Phase::Scored;
        self.changed(b);
    }

    /// The match is over (or stopped).
    pub fn finished(&self) {
        let mut b = self.board();
        b.phase = Phase::Finished;
        b.deadline = None;
        self.changed(b);
    }

    /// Waits, at most `max`, until an open page has been sent the latest state (the match's end
    /// and last score), so the person sees them before the server stops. No wait when nobody
    /// opened the page.
    pub(crate) async fn farewell(&self, max: Duration) {
        let until = Instant::now() + max;
        loop {
            {
                let b = self.board();
                if b.seen.is_none_or(|v| v >= b.version) {
                    return;
                }
            }
            if Instant::now() >= until {
                return;
            }
            tokio::time::sleep(FAREWELL_POLL).await;
        }
    }

    /// Takes a hint from the page.
    fn add_hint(&self, hint: Hint) -> Result<(), AssistError> {
        let mut b = self.board();
        if !b.accepts_hints() {
            return Err(AssistError::Conflict(
                if b.hints.len() >= MAX_HINTS_PER_ROUND {
                    format!("this round already has {MAX_HINTS_PER_ROUND} hints")
                } else {
                    "no round is being reasoned about right now; wait for the next round's views"
                        .into()
                },
            ));
        }
        if self.inner.limiter.check().is_err() {
            return Err(AssistError::TooMany);
        }
        b.hints.push(hint);
        self.changed(b);
        Ok(())
    }

    fn go(&self) {
        let mut b = self.board();
        b.go = true;
        self.changed(b);
    }

    fn check(&self, token: &str) -> Result<(), AssistError> {
        if same_token(token, &self.inner.token) {
            Ok(())
        } else {
            Err(AssistError::NotFound)
        }
    }

    /// The page, its script and style, its state and views, and the hint and go actions, all
    /// under `/assist/TOKEN/`.
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/assist/{token}", get(redirect))
            .route("/assist/{token}/", get(page))
            .route("/assist/{token}/app.js", get(script))
            .route("/assist/{token}/style.css", get(style))
            .route("/assist/{token}/state", get(state))
            .route("/assist/{token}/views/{round}/{k}", get(view))
            .route("/assist/{token}/hints", post(hint))
            .route("/assist/{token}/go", post(go))
            .layer(DefaultBodyLimit::max(MAX_ASSIST_BODY_BYTES))
            .with_state(self.clone())
    }
}

/// Equal tokens, in time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[async_trait::async_trait]
impl HintSource for Assist {
    /// Shows the answer and waits for the person: their pending hints as soon as there are
    /// any, or none when they press "go" or the window ends.
    async fn hints(&self, revision: usize, guess: &Guess) -> Vec<Hint> {
        let deadline = Instant::now() + self.inner.window;
        {
            let mut b = self.board();
            b.answers.push(Answer::of(revision, guess, false));
            b.phase = Phase::Waiting;
            b.deadline = Some(deadline);
            self.changed(b);
        }
        loop {
            // Registered before looking, so a change between the look and the wait still wakes.
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut b = self.board();
                if b.sent < b.hints.len() {
                    let hints = b.hints[b.sent..].to_vec();
                    b.sent = b.hints.len();
                    b.phase = Phase::Revising;
                    b.deadline = None;
                    self.changed(b);
                    return hints;
                }
                if b.go || Instant::now() >= deadline {
                    b.phase = Phase::Placing;
                    b.deadline = None;
                    self.changed(b);
                    return Vec::new();
                }
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

async fn redirect(State(a): State<Assist>, Path(token): Path<String>) -> Response {
    match a.check(&token) {
        Ok(()) => Redirect::permanent(&a.path()).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A page file with the headers every assist response carries.
fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut r = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The token is in the address: never send it on as a referrer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

async fn page(State(a): State<Assist>, Path(token): Path<String>) -> Response {
    match a.check(&token) {
        Ok(()) => file("text/html; charset=utf-8", PAGE_HTML),
        Err(e) => e.into_response(),
    }
}

async fn script(State(a): State<Assist>, Path(token): Path<String>) -> Response {
    match a.check(&token) {
        Ok(()) => file("text/javascript; charset=utf-8", PAGE_JS),
        Err(e) => e.into_response(),
    }
}

async fn style(State(a): State<Assist>, Path(token): Path<String>) -> Response {
    match a.check(&token) {
        Ok(()) => file("text/css; charset=utf-8", PAGE_CSS),
        Err(e) => e.into_response(),
    }
}

async fn state(
    State(a): State<Assist>,
    Path(token): Path<String>,
) -> Result<Response, AssistError> {
    a.check(&token)?;
    let mut b = a.board();
    b.seen = Some(b.version);
    let now = Instant::now();
    let json = StateJson {
        version: b.version,
        phase: b.phase,
        round: b.round,
        rounds: b.rounds,
        map: &b.map,
        views: &b.views,
        answers: &b.answers,
        hints: &b.hints,
        accepts_hints: b.accepts_hints(),
        window_left_ms: b
            .deadline
            .filter(|_| b.phase == Phase::Waiting && !b.go)
            .map(|d| d.saturating_duration_since(now).as_millis() as u64),
        result: b.scored.as_ref(),
        past: &b.past,
    };
    let mut r = Json(json).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn view(
    State(a): State<Assist>,
    Path((token, round, k)): Path<(String, String, String)>,
) -> Result<Response, AssistError> {
    a.check(&token)?;
    let b = a.board();
    let (Ok(round), Ok(k)) = (round.parse::<usize>(), k.parse::<usize>()) else {
        return Err(AssistError::NotFound);
    };
    // Only the current round's views are kept.
    let jpeg = b
        .jpegs
        .get(k)
        .filter(|_| round == b.round)
        .cloned()
        .ok_or(AssistError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        jpeg,
    )
        .into_response())
}

async fn hint(
    State(a): State<Assist>,
    Path(token): Path<String>,
    body: Bytes,
) -> Result<StatusCode, AssistError> {
    a.check(&token)?;
    let input: HintIn = serde_json::from_slice(&body).map_err(|e| {
        AssistError::BadRequest(format!(
            "expected {{\"text\": \"...\", \"by\": \"your name\"}}: {e}"
        ))
    })?;
    if input.text.chars().count() > crate::agent::MAX_HINT_CHARS {
        return Err(AssistError::BadRequest(format!(
            "a hint has at most {} characters",
            crate::agent::MAX_HINT_CHARS
        )));
    }
    let hint = Hint::new(&input.text, &input.by)
        .ok_or_else(|| AssistError::BadRequest("the hint is empty".into()))?;
    a.add_hint(hint)?;
    Ok(StatusCode::ACCEPTED)
}

async fn go(State(a): State<Assist>, Path(token): Path<String>) -> Result<StatusCode, AssistError> {
    a.check(&token)?;
    a.go();
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests;
