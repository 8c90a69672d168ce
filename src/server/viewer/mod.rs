//! The replay viewer `geoagent serve` mounts at `/replays`: a list of finished sessions and, per
//! session, a page stepping through its rounds (views, the model's answer, guess against truth).
//!
//! Fairness: the viewer shows answers, so
//! - only `serve` mounts it ([`super::serve_with_replays`]); the server `play`
//!   starts for the agent's browser does not, and the game page never links to it;
//! - it lists only *finished* sessions (every planned round recorded, no torn line), so a match
//!   still being played by an agent is not shown;
//! - it hides every session whose challenge someone is playing on this server right now, and
//!   every session that went to any place of such a challenge (the [`LiveChallenges`] function
//!   it is handed), so a person cannot look up the rounds in front of them.
//!
//! Session ids in URLs must name a folder directly under the replays folder and view files must
//! be ones the session recorded, so no request reaches any other file.
//!
//! Scripts read the same sessions as JSON: `/api/replays` (the list) and `/api/replays/{id}` (one
//! session's rounds), under the same rules, paged (`?offset=&limit=`, at most
//! [`API_MAX_SESSIONS`] sessions or [`API_MAX_ROUNDS`] rounds an answer) and with every text
//! clipped to [`API_MAX_TEXT_CHARS`], so no answer grows with what a replay holds. Points are the
//! re-scored ones where the session has a `rescored.json` (the recorded ones beside them).

use crate::geo::LatLon;
use crate::replay::{rescore, Replay, ReplayError, RoundRecord};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use index::{Index, Summary};
use maud::{html, Markup, DOCTYPE};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

mod index;

/// Sessions in one `/api/replays` answer at most (and by default [`API_DEFAULT_SESSIONS`]):
/// a page a script can hold, whatever the folder holds.
pub(crate) const API_MAX_SESSIONS: usize = 200;
pub(crate) const API_DEFAULT_SESSIONS: usize = 50;
/// Rounds in one `/api/replays/{id}` answer at most (by default [`API_DEFAULT_ROUNDS`]); a
/// 1,000-round benchmark session is read in pages.
pub(crate) const API_MAX_ROUNDS: usize = 500;
pub(crate) const API_DEFAULT_ROUNDS: usize = 100;
/// Characters of any text from a replay in an API answer (a model's rationale, a fallback's
/// reason, names): enough for a rationale, bounded against a crafted replay.
pub(crate) const API_MAX_TEXT_CHARS: usize = 2000;
/// Viewer requests worked on at once (reading the index, a session's rounds or a view; each
/// on the blocking pool). Two per core keeps a 2-core machine busy while one waits on the disk;
/// past it requests queue instead of each holding a parsed session in memory (24 unbounded
/// requests over 1,000 sessions once held 3.4 GB). A session page's views load four at a time.
pub(crate) const MAX_VIEWER_WORK: usize = 4;
/// How long a viewer request waits for a free slot before it is answered 503 (with
/// `Retry-After`): longer than any request takes once the index is built.
pub(crate) const VIEWER_QUEUE_WAIT: Duration = Duration::from_secs(10);

/// What someone is playing right now: the viewer hides sessions that would spoil it.
#[derive(Debug, Default, Clone)]
pub struct Live {
    /// Ids of the challenges being played.
    pub challenges: HashSet<String>,
    /// Every place of those challenges, played or still to come.
    pub places: Vec<LivePlace>,
}

/// One place of a challenge being played.
#[derive(Debug, Clone)]
pub struct LivePlace {
    pub map_id: String,
    pub location_id: String,
    pub pos: LatLon,
}

/// A session's round is at a live place when it names the same location of the same map, or
/// (for records without a location id) its truth lies within this many km of one.
const SAME_PLACE_KM: f64 = 0.1;

/// Tells what is being played right now; the viewer hides the sessions that would spoil it.
pub type LiveChallenges = Arc<dyn Fn() -> Live + Send + Sync>;

/// What the viewer's handlers share.
#[derive(Clone)]
struct Viewer {
    live: LiveChallenges,
    dir: PathBuf,
    index: Arc<Index>,
    /// [`MAX_VIEWER_WORK`] permits.
    work: Arc<Semaphore>,
}

/// The viewer's routes (`/replays`, `/replays/{id}`, `/replays/{id}/views/{file}`, and the
/// JSON `/api/replays`, `/api/replays/{id}`). Starts reading the sessions' summaries in the
/// background, so the first visitor does not wait for them.
pub(crate) fn router(live: LiveChallenges, replays_dir: PathBuf) -> Router {
    let index = Arc::new(Index::new(replays_dir.clone()));
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let warm = index.clone();
        rt.spawn_blocking(move || warm.all());
    }
    Router::new()
        .route("/replays", get(list))
        .route("/replays/{id}", get(session))
        .route("/replays/{id}/views/{file}", get(view))
        .route("/api/replays", get(api_list))
        .route("/api/replays/{id}", get(api_session))
        .with_state(Viewer {
            live,
            dir: replays_dir,
            index,
            work: Arc::new(Semaphore::new(MAX_VIEWER_WORK)),
        })
}

/// Whether a round of map `map_id` (location `location_id`, truth `truth`) went to a place of a
/// challenge being played.
fn at_live_place(live: &Live, map_id: &str, location_id: Option<&str>, truth: LatLon) -> bool {
    live.places.iter().any(|p| match location_id {
        Some(id) => id == p.location_id && map_id == p.map_id,
        None => truth.distance_km(&p.pos) <= SAME_PLACE_KM,
    })
}

/// Whether a session may be shown now (see the module docs).
fn showable(r: &Replay, live: &Live) -> bool {
    r.skipped.is_empty()
        && r.rounds.len() >= r.manifest.challenge.rounds
        && !live.challenges.contains(&r.manifest.challenge.id)
        && !r.rounds.iter().any(|round| {
            at_live_place(
                live,
                &r.manifest.map.id,
                round.location_id.as_deref(),
                round.result.truth,
            )
        })
}

/// Why a viewer request got no answer.
enum Unserved {
    /// Every slot stayed busy for [`VIEWER_QUEUE_WAIT`].
    Busy,
    /// The blocking task failed (logged).
    Failed,
}

impl Viewer {
    /// Runs `f` (file reads) on the blocking pool once a slot of [`MAX_VIEWER_WORK`] is free,
    /// so reading sessions never stalls the async workers that serve the game and never runs
    /// more than that many at once.
    async fn work<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Viewer) -> T + Send + 'static,
    ) -> Result<T, Unserved> {
        let permit: OwnedSemaphorePermit =
            tokio::time::timeout(VIEWER_QUEUE_WAIT, self.work.clone().acquire_owned())
                .await
                .map_err(|_| Unserved::Busy)?
                .map_err(|_| Unserved::Failed)?;
        let v = self.clone();
        let out = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f(&v)
        })
        .await;
        out.map_err(|e| {
            tracing::warn!("replay viewer: reading sessions failed: {e}");
            Unserved::Failed
        })
    }

    /// The finished sessions that may be shown now, oldest first.
    fn sessions(&self) -> Vec<Arc<Summary>> {
        let live = (self.live)();
        self.index
            .all()
            .into_iter()
            .filter(|s| s.showable(&live))
            .collect()
    }

    /// The summary of the session `id` names, if it is a folder directly under the replays
    /// folder and showable.
    fn summary(&self, id: &str) -> Option<Arc<Summary>> {
        let live = (self.live)();
        self.index.get(id).filter(|s| s.showable(&live))
    }

    /// The session `id` names with all its rounds, if it is showable.
    fn find(&self, id: &str) -> Option<(Arc<Summary>, Replay)> {
        let summary = self.summary(id)?;
        let r = open(&summary.dir).ok()?;
        // Its files may have changed since the summary: check what is shown.
        showable(&r, &(self.live)()).then_some((summary, r))
    }
}

/// A session as the viewer shows it: with re-scored points where its `rescored.json` allows.
fn open(dir: &std::path::Path) -> Result<Replay, ReplayError> {
    let mut r = Replay::open(dir)?;
    if let Some(note) = rescore::apply(&mut r) {
        tracing::warn!("replay viewer: {note}");
    }
    Ok(r)
}

fn page(title: &str, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) }
                    style { (STYLE) }
                }
                body { (body) }
            }
        }
        .into_string(),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;max-width:1100px}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}\
.views img{max-width:48%;margin:.2rem;border:1px solid #999}pre{white-space:pre-wrap;background:#f4f4f4;padding:.6rem}\
nav a{margin-right:1rem}";

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            html! { p { (what) } p { a href="/replays" { "All replays" } } },
        ),
    )
        .into_response()
}

/// The answer to a page request that got no answer (see [`Unserved`]).
fn unserved_page(u: Unserved) -> Response {
    match u {
        Unserved::Busy => busy(page(
            "Busy",
            html! { p { "The replay viewer is busy; reload in a moment." } },
        )),
        Unserved::Failed => (
            StatusCode::INTERNAL_SERVER_ERROR,
            page(
                "Error",
                html! { p { "Reading the sessions failed; see the server log." } },
            ),
        )
            .into_response(),
    }
}

/// 503 with `Retry-After`: the viewer's slots stayed busy.
fn busy(body: impl IntoResponse) -> Response {
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

async fn list(State(v): State<Viewer>) -> Response {
    let sessions = match v.work(Viewer::sessions).await {
        Ok(s) => s,
        Err(u) => return unserved_page(u),
    };
    page(
        "Replays",
        html! {
            h1 { "Replays" }
            p { "Finished sessions in " code { (v.dir.display()) } ". Sessions of a challenge someone is playing on this server right now are hidden." }
            @if sessions.is_empty() {
                p { "No finished session to show." }
            } @else {
                table {
                    tr { th { "Session" } th { "Date (UTC)" } th { "Map" } th { "Model" } th { "Strategy" } th { "Rounds" } th { "Mean points" } th { "Parent" } }
                    @for s in &sessions {
                        @let m = &s.manifest;
                        @let mean = s.total_points as f64 / s.rounds.max(1) as f64;
                        tr {
                            td { a href={ "/replays/" (s.name) } { (m.session_id) } }
                            td { (m.created.format("%Y-%m-%d %H:%M")) }
                            td { (m.map.name) }
                            td { (m.reasoner) }
                            td { (m.strategy) }
                            td { (s.rounds) }
                            td { (format!("{mean:.0}")) }
                            td { (m.parent.as_deref().unwrap_or("–")) }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
struct RoundQuery {
    round: Option<usize>,
}

fn answer_text(rec: &RoundRecord) -> Option<String> {
    let texts: Vec<String> = rec
        .guess
        .exchanges
        .iter()
        .filter_map(|e| {
            e.raw
                .as_ref()
                .map(|r| format!("[{}] {r}", e.purpose))
                .or_else(|| {
                    e.error
                        .as_ref()
                        .map(|x| format!("[{}] error: {x}", e.purpose))
                })
        })
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n\n"))
}

async fn session(
    State(v): State<Viewer>,
    UrlPath(id): UrlPath<String>,
    q: Result<Query<RoundQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return not_found("This session has no such round.");
    };
    let (summary, r) = match v.work(move |v| v.find(&id)).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found("No finished session with this id."),
        Err(u) => return unserved_page(u),
    };
    let n = q.round.unwrap_or(1);
    let Some(pos) = r.rounds.iter().position(|x| x.round == n) else {
        return not_found("This session has no such round.");
    };
    let rec = &r.rounds[pos];
    let m = &r.manifest;
    let prev = pos.checked_sub(1).map(|i| r.rounds[i].round);
    let next = r.rounds.get(pos + 1).map(|x| x.round);
    let source = rec.guess.source.to_string();
    page(
        &format!("Replay {} round {n}", m.session_id),
        html! {
            nav {
                a href="/replays" { "All replays" }
                @if let Some(p) = prev { a id="prev" href={ "?round=" (p) } { "← Round " (p) } }
                @if let Some(x) = next { a id="next" href={ "?round=" (x) } { "Round " (x) " →" } }
            }
            h1 { (m.reasoner) " · " (m.map.name) " · round " (n) " of " (r.rounds.len()) }
            p { "Session " (m.session_id) " · challenge " (m.challenge.id) " · strategy " (m.strategy)
                @if let Some(p) = &m.parent { " · re-run of " a href={ "/replays/" (p) } { (p) } } }
            div class="views" {
                @for view in &rec.views {
                    @let file = view.file.rsplit('/').next().unwrap_or(&view.file);
                    img src={ "/replays/" (summary.name) "/views/" (file) } alt={ "heading " (view.heading) "°" };
                }
            }
            table id="result" {
                tr { th { "Truth" } td { (rec.result.truth) @if let Some(p) = &rec.result.place { " (" (p) ")" } } }
                tr { th { "Guess" } td { (rec.result.guess) " (" (source) ")" } }
                tr { th { "Distance" } td { (format!("{:.1} km", rec.result.distance_km)) } }
                tr { th { "Points" } td { (rec.result.points)
                    @if let Some(p) = rescore::recorded_points(&r, rec.round) { " (re-scored; recorded " (p) ")" } } }
            }
            @if let Some(rat) = &rec.guess.rationale { h2 { "Rationale" } p { (rat) } }
            @if let Some(a) = answer_text(rec) { h2 { "Model answer" } pre id="answer" { (a) } }
        },
    )
    .into_response()
}

/// What a view request found, read off the async workers.
enum ViewLookup {
    NoSession,
    NoView,
    Bytes(Result<Vec<u8>, ReplayError>),
}

/// A view of a session: looked up in the session's summary (no rounds are read), then read
/// through [`Replay::view_bytes`], which checks the file.
async fn view(State(v): State<Viewer>, UrlPath((id, file)): UrlPath<(String, String)>) -> Response {
    let lookup = v
        .work(move |v| {
            let Some(s) = v.summary(&id) else {
                return ViewLookup::NoSession;
            };
            let Some(recorded) = s.view_file(&file) else {
                return ViewLookup::NoView;
            };
            let record = crate::replay::ViewRecord {
                file: recorded,
                heading: 0.0,
                pitch: 0.0,
                fov: 0.0,
                width: 0,
                height: 0,
                bytes: 0,
                heading_ref: crate::environment::HeadingRef::Compass,
            };
            ViewLookup::Bytes(s.shell().view_bytes(&record))
        })
        .await;
    match lookup {
        Err(u) => unserved_page(u),
        Ok(ViewLookup::NoSession) => not_found("No finished session with this id."),
        Ok(ViewLookup::NoView) => not_found("This session recorded no such view."),
        Ok(ViewLookup::Bytes(Ok(bytes))) => {
            ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response()
        }
        Ok(ViewLookup::Bytes(Err(e))) => {
            tracing::warn!("replay viewer: {e}");
            not_found("The view's file is missing.")
        }
    }
}

/// `?offset=&limit=` of the JSON API.
#[derive(Debug, Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

impl Page {
    /// The range asked for, within `0..total` and at most `max` long.
    fn range(&self, total: usize, default: usize, max: usize) -> (usize, usize) {
        let offset = self.offset.unwrap_or(0).min(total);
        let limit = self.limit.unwrap_or(default).clamp(1, max);
        (offset, limit.min(total - offset))
    }
}

/// Replay text as the API gives it, through the one sanitiser (line breaks kept), at most
/// [`API_MAX_TEXT_CHARS`].
fn api_text(s: &str) -> String {
    crate::text::lines(s, API_MAX_TEXT_CHARS)
}

/// A session in `/api/replays`.
#[derive(Debug, Serialize)]
struct ApiSession {
    session_id: String,
    created: chrono::DateTime<chrono::Utc>,
    environment: crate::environment::Kind,
    map_id: String,
    map_name: String,
    challenge_id: String,
    reasoner: String,
    strategy: String,
    parent: Option<String>,
    rounds: usize,
    total_points: u64,
    mean_points: f64,
    /// The recorded total, when `total_points` is re-scored and differs.
    recorded_total_points: Option<u64>,
    /// This session as JSON and as a page.
    url: String,
    html: String,
}

impl ApiSession {
    fn of(s: &Summary) -> ApiSession {
        let m = &s.manifest;
        let (total, recorded) = (s.total_points, s.recorded_total_points);
        ApiSession {
            session_id: api_text(&m.session_id),
            created: m.created,
            environment: m.environment,
            map_id: api_text(&m.map.id),
            map_name: api_text(&m.map.name),
            challenge_id: api_text(&m.challenge.id),
            reasoner: api_text(&m.reasoner),
            strategy: api_text(&m.strategy),
            parent: m.parent.as_deref().map(api_text),
            rounds: s.rounds,
            total_points: total,
            mean_points: total as f64 / s.rounds.max(1) as f64,
            recorded_total_points: (recorded != total).then_some(recorded),
            url: format!("/api/replays/{}", s.name),
            html: format!("/replays/{}", s.name),
        }
    }
}

/// A view in `/api/replays/{id}`: where the image is served, and how it was taken.
#[derive(Debug, Serialize)]
struct ApiView {
    url: String,
    heading: f64,
    pitch: f64,
    fov: f64,
    width: u32,
    height: u32,
}

/// A round in `/api/replays/{id}`.
#[derive(Debug, Serialize)]
struct ApiRound {
    round: usize,
    location_id: Option<String>,
    truth: crate::geo::LatLon,
    place: Option<String>,
    country: Option<String>,
    guess: crate::geo::LatLon,
    guess_country: Option<String>,
    confidence: Option<f64>,
    /// `model`, `baseline` or `fallback: <reason>`.
    source: String,
    rationale: Option<String>,
    distance_km: f64,
    points: u32,
    /// The recorded points, when `points` is re-scored and differs.
    recorded_points: Option<u32>,
    views: Vec<ApiView>,
    total_ms: u64,
    finished_at: chrono::DateTime<chrono::Utc>,
}

/// `/api/replays/{id}`: the session, and one page of its rounds.
#[derive(Debug, Serialize)]
struct ApiSessionRounds {
    session: ApiSession,
    offset: usize,
    limit: usize,
    total_rounds: usize,
    rounds: Vec<ApiRound>,
}

/// `/api/replays`: one page of the finished sessions, oldest first.
#[derive(Debug, Serialize)]
struct ApiList {
    offset: usize,
    limit: usize,
    total: usize,
    sessions: Vec<ApiSession>,
}

/// A JSON API error: `{"error": "..."}` with `status`.
fn api_error(status: StatusCode, what: &str) -> Response {
    (status, Json(serde_json::json!({ "error": what }))).into_response()
}

/// The JSON answer to an API request that got no answer (see [`Unserved`]).
fn unserved_api(u: Unserved) -> Response {
    match u {
        Unserved::Busy => busy(Json(
            serde_json::json!({ "error": "the replay viewer is busy; retry in a second" }),
        )),
        Unserved::Failed => api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the sessions failed; see the server log",
        ),
    }
}

/// `?offset=&limit=`, or what is wrong with them (answered as a JSON 400 by [`bad_paging`]).
fn paging(q: Result<Query<Page>, QueryRejection>) -> Result<Page, String> {
    q.map(|Query(p)| p).map_err(|e| {
        format!(
            "`offset` and `limit` must be whole numbers from 0 ({})",
            api_text(&e.body_text())
        )
    })
}

fn bad_paging(why: String) -> Response {
    api_error(StatusCode::BAD_REQUEST, &why)
}

async fn api_list(State(v): State<Viewer>, page: Result<Query<Page>, QueryRejection>) -> Response {
    let page = match paging(page) {
        Ok(p) => p,
        Err(why) => return bad_paging(why),
    };
    let list = v
        .work(move |v| {
            let sessions = v.sessions();
            let (offset, limit) =
                page.range(sessions.len(), API_DEFAULT_SESSIONS, API_MAX_SESSIONS);
            ApiList {
                offset,
                limit,
                total: sessions.len(),
                sessions: sessions[offset..offset + limit]
                    .iter()
                    .map(|s| ApiSession::of(s))
                    .collect(),
            }
        })
        .await;
    match list {
        Ok(l) => Json(l).into_response(),
        Err(u) => unserved_api(u),
    }
}

fn api_round(id: &str, r: &Replay, rec: &RoundRecord) -> ApiRound {
    ApiRound {
        round: rec.round,
        location_id: rec.location_id.as_deref().map(api_text),
        truth: rec.result.truth,
        place: rec.result.place.as_deref().map(api_text),
        country: rec.result.country.as_deref().map(api_text),
        guess: rec.result.guess,
        guess_country: rec.guess.country.as_deref().map(api_text),
        confidence: rec.guess.confidence.filter(|c| c.is_finite()),
        source: api_text(&rec.guess.source.to_string()),
        rationale: rec.guess.rationale.as_deref().map(api_text),
        distance_km: rec.result.distance_km,
        points: rec.result.points,
        recorded_points: rescore::recorded_points(r, rec.round),
        views: rec
            .views
            .iter()
            // Only names the viewer serves; a crafted name is left out, never echoed.
            .filter(|v| r.view_path(v).is_ok())
            .map(|v| ApiView {
                url: format!(
                    "/replays/{id}/views/{}",
                    v.file.rsplit('/').next().unwrap_or(&v.file)
                ),
                heading: v.heading,
                pitch: v.pitch,
                fov: v.fov,
                width: v.width,
                height: v.height,
            })
            .collect(),
        total_ms: rec.timings.total_ms,
        finished_at: rec.finished_at,
    }
}

async fn api_session(
    State(v): State<Viewer>,
    UrlPath(id): UrlPath<String>,
    page: Result<Query<Page>, QueryRejection>,
) -> Response {
    let page = match paging(page) {
        Ok(p) => p,
        Err(why) => return bad_paging(why),
    };
    let found = v
        .work(move |v| {
            let (summary, r) = v.find(&id)?;
            let (offset, limit) = page.range(r.rounds.len(), API_DEFAULT_ROUNDS, API_MAX_ROUNDS);
            Some(ApiSessionRounds {
                session: ApiSession::of(&summary),
                offset,
                limit,
                total_rounds: r.rounds.len(),
                rounds: r.rounds[offset..offset + limit]
                    .iter()
                    .map(|rec| api_round(&summary.name, &r, rec))
                    .collect(),
            })
        })
        .await;
    match found {
        Ok(Some(s)) => Json(s).into_response(),
        Ok(None) => api_error(StatusCode::NOT_FOUND, "no finished session with this id"),
        Err(u) => unserved_api(u),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::tests::{manifest, record};
    use crate::replay::ReplayWriter;

    #[test]
    fn only_finished_sessions_of_challenges_not_in_play_are_shown() {
        let root = tempfile::tempdir().unwrap();
        let m = manifest("s"); // 2 planned rounds, challenge world-1-2
        let mut w = ReplayWriter::create(root.path(), &m).unwrap();
        w.append(&record(1)).unwrap();
        let half = Replay::open(&root.path().join("s")).unwrap();
        assert!(!showable(&half, &Live::default()), "unfinished");
        w.append(&record(2)).unwrap();
        let done = Replay::open(&root.path().join("s")).unwrap();
        assert!(showable(&done, &Live::default()));
        let live = Live {
            challenges: ["world-1-2".to_string()].into(),
            places: vec![],
        };
        assert!(!showable(&done, &live), "someone is playing it");
    }

    /// A session of another challenge that went to a place of the one being played would give
    /// that round's answer away (`world-7-3` and `world-7-5` shared their first rounds).
    #[test]
    fn sessions_sharing_a_place_with_a_live_challenge_are_hidden() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("s")).unwrap();
        w.append(&record(1)).unwrap(); // location loc1 of map world, truth (1, 2)
        let mut no_id = record(2);
        no_id.location_id = None;
        no_id.result.truth = LatLon::new(-30.0, 150.0).unwrap();
        w.append(&no_id).unwrap();
        let done = Replay::open(&root.path().join("s")).unwrap();
        let place = |map: &str, id: &str, lat: f64, lon: f64| LivePlace {
            map_id: map.into(),
            location_id: id.into(),
            pos: LatLon::new(lat, lon).unwrap(),
        };
        let live = |places| Live {
            challenges: ["world-9-5".to_string()].into(),
            places,
        };
        assert!(showable(
            &done,
            &live(vec![place("world", "loc9", 50.0, 50.0)])
        ));
        assert!(
            !showable(&done, &live(vec![place("world", "loc1", 50.0, 50.0)])),
            "same id"
        );
        assert!(
            showable(&done, &live(vec![place("other", "loc1", 50.0, 50.0)])),
            "another map's loc1 is another place"
        );
        assert!(
            !showable(&done, &live(vec![place("x", "y", -30.0, 150.0005)])),
            "a round without an id is matched by its truth"
        );
    }

    #[test]
    fn pages_stay_in_bounds_and_text_is_clipped() {
        let p = |offset, limit| Page { offset, limit };
        assert_eq!(p(None, None).range(1000, 100, 500), (0, 100));
        assert_eq!(p(Some(990), Some(50)).range(1000, 100, 500), (990, 10));
        assert_eq!(p(Some(5000), None).range(1000, 100, 500), (1000, 0));
        assert_eq!(p(None, Some(0)).range(10, 100, 500), (0, 1));
        assert_eq!(p(None, Some(usize::MAX)).range(10_000, 100, 500), (0, 500));
        assert_eq!(p(None, None).range(0, 100, 500), (0, 0));
        let long = "é".repeat(API_MAX_TEXT_CHARS + 5);
        let shown = api_text(&long);
        assert!(
            shown.starts_with(&"é".repeat(API_MAX_TEXT_CHARS)),
            "{shown}"
        );
        assert!(
            shown.ends_with(&format!("… (cut from {} bytes)", long.len())),
            "{shown}"
        );
        assert_eq!(api_text("a\u{1b}[2Jb\nc"), "a [2Jb\nc");
    }
}
