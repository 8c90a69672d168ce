//! The replay viewer `geoagent serve` mounts at `/replays`: a list of finished sessions and, per
//! session, a page stepping through its rounds (views, the model's answer, guess against truth).
//!
//! Fairness: the viewer shows answers, so
//! - only `serve` mounts it ([`super::serve_with_replays`]); the server `play`
//!   starts for the agent's browser does not, and the game page never links to it;
//! - it lists only *finished* sessions (every planned round recorded, no torn line), so a match
//!   still being played by an agent is not shown;
//! - it hides every session whose challenge someone is playing on this server right now
//!   (the [`LiveChallenges`] function it is handed), so a person cannot look up the rounds in
//!   front of them.
//!
//! Session ids in URLs must name a folder directly under the replays folder and view files must
//! be ones the session recorded, so no request reaches any other file.

use crate::agent::GuessSource;
use crate::replay::catalog::session_dirs;
use crate::replay::{Replay, RoundRecord};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// Lists the ids of the challenges someone is playing right now; the viewer hides their sessions.
pub type LiveChallenges = Arc<dyn Fn() -> HashSet<String> + Send + Sync>;

/// What the viewer's handlers share.
#[derive(Clone)]
struct Viewer {
    live: LiveChallenges,
    dir: PathBuf,
}

/// The viewer's routes (`/replays`, `/replays/{id}`, `/replays/{id}/views/{file}`).
pub fn router(live: LiveChallenges, replays_dir: PathBuf) -> Router {
    Router::new()
        .route("/replays", get(list))
        .route("/replays/{id}", get(session))
        .route("/replays/{id}/views/{file}", get(view))
        .with_state(Viewer {
            live,
            dir: replays_dir,
        })
}

/// Whether a session may be shown now (see the module docs).
fn showable(r: &Replay, live: &HashSet<String>) -> bool {
    r.skipped.is_empty()
        && r.rounds.len() >= r.manifest.challenge.rounds
        && !live.contains(&r.manifest.challenge.id)
}

impl Viewer {
    fn sessions(&self) -> Vec<Replay> {
        let live = (self.live)();
        session_dirs(&self.dir)
            .unwrap_or_default()
            .iter()
            .filter_map(|d| Replay::open(d).ok())
            .filter(|r| showable(r, &live))
            .collect()
    }

    /// The session `id` names, if it is a folder directly under the replays folder and showable.
    fn find(&self, id: &str) -> Option<Replay> {
        let live = (self.live)();
        session_dirs(&self.dir)
            .unwrap_or_default()
            .into_iter()
            .find(|d| d.file_name().is_some_and(|n| n.to_string_lossy() == id))
            .and_then(|d| Replay::open(&d).ok())
            .filter(|r| showable(r, &live))
    }
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

async fn list(State(v): State<Viewer>) -> Html<String> {
    let sessions = v.sessions();
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
                    @for r in &sessions {
                        @let m = &r.manifest;
                        @let n = r.rounds.len().max(1) as f64;
                        @let mean = r.rounds.iter().map(|x| f64::from(x.result.points)).sum::<f64>() / n;
                        tr {
                            td { a href={ "/replays/" (m.session_id) } { (m.session_id) } }
                            td { (m.created.format("%Y-%m-%d %H:%M")) }
                            td { (m.map.name) }
                            td { (m.reasoner) }
                            td { (m.strategy) }
                            td { (r.rounds.len()) }
                            td { (format!("{mean:.0}")) }
                            td { (m.parent.as_deref().unwrap_or("–")) }
                        }
                    }
                }
            }
        },
    )
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
    Query(q): Query<RoundQuery>,
) -> Response {
    let Some(r) = v.find(&id) else {
        return not_found("No finished session with this id.");
    };
    let n = q.round.unwrap_or(1);
    let Some(pos) = r.rounds.iter().position(|x| x.round == n) else {
        return not_found("This session has no such round.");
    };
    let rec = &r.rounds[pos];
    let m = &r.manifest;
    let prev = pos.checked_sub(1).map(|i| r.rounds[i].round);
    let next = r.rounds.get(pos + 1).map(|x| x.round);
    let source = match &rec.guess.source {
        GuessSource::Model => "model".to_string(),
        GuessSource::Baseline => "baseline".to_string(),
        GuessSource::Fallback { reason } => format!("fallback: {reason}"),
    };
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
                    img src={ "/replays/" (m.session_id) "/views/" (file) } alt={ "heading " (view.heading) "°" };
                }
            }
            table id="result" {
                tr { th { "Truth" } td { (rec.result.truth) @if let Some(p) = &rec.result.place { " (" (p) ")" } } }
                tr { th { "Guess" } td { (rec.result.guess) " (" (source) ")" } }
                tr { th { "Distance" } td { (format!("{:.1} km", rec.result.distance_km)) } }
                tr { th { "Points" } td { (rec.result.points) } }
            }
            @if let Some(rat) = &rec.guess.rationale { h2 { "Rationale" } p { (rat) } }
            @if let Some(a) = answer_text(rec) { h2 { "Model answer" } pre id="answer" { (a) } }
        },
    )
    .into_response()
}

async fn view(State(v): State<Viewer>, UrlPath((id, file)): UrlPath<(String, String)>) -> Response {
    let Some(r) = v.find(&id) else {
        return not_found("No finished session with this id.");
    };
    let Some(rec) = r
        .rounds
        .iter()
        .flat_map(|x| &x.views)
        .find(|x| x.file.rsplit('/').next() == Some(file.as_str()))
    else {
        return not_found("This session recorded no such view.");
    };
    match r.view_bytes(rec) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
        Err(e) => {
            tracing::warn!("replay viewer: {e}");
            not_found("The view's file is missing.")
        }
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
        assert!(!showable(&half, &HashSet::new()), "unfinished");
        w.append(&record(2)).unwrap();
        let done = Replay::open(&root.path().join("s")).unwrap();
        assert!(showable(&done, &HashSet::new()));
        let live: HashSet<String> = ["world-1-2".to_string()].into();
        assert!(!showable(&done, &live), "someone is playing it");
    }
}
