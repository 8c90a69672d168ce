//! Nothing the site scored is lost, even when geoagent stops between the site scoring a round and
//! the round's line reaching the replay (killed, cookie expired, the site's answer unreadable).
//!
//! The round in flight is written ahead into the session folder ([`PENDING_FILE`]): its views
//! before the model is asked, its guess before the guess is sent. A resume reads the game and
//! records every round the site scored that the replay lacks ([`record_lost`]): with the views
//! and guess written ahead when they are there, with the site's own guess and a reason when not
//! (the page's clock ran out while geoagent was stopped).

use crate::agent::{Guess, GuessSource, Reasoner};
use crate::browser::geoguessr::api::GameRead;
use crate::browser::geoguessr::ScoreCheck;
use crate::environment::Observation;
use crate::game::RoundResult;
use crate::geo::LatLon;
use crate::replay::{Replay, ReplayError, ReplayWriter, RoundRecord, Timings, ViewRecord};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tracing::warn;

/// The round in flight, in the session folder.
pub(crate) const PENDING_FILE: &str = "pending.json";
/// Largest pending file read back: one round's guess with its model exchanges is a few hundred
/// kilobytes at most; a bigger file was not written by geoagent.
const MAX_PENDING_BYTES: u64 = 16 * 1024 * 1024;

/// What is known of the round in flight before the site answers.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    round: usize,
    views: Vec<ViewRecord>,
    capture_ms: u64,
    /// Absent until the model answered.
    guess: Option<Guess>,
    reason_ms: u64,
}

/// Writes the round in flight ahead into session folder `dir` (see the module's doc), around
/// `inner`.
pub(super) fn writing_ahead(inner: Arc<dyn Reasoner>, dir: PathBuf) -> Arc<dyn Reasoner> {
    Arc::new(WriteAhead { inner, dir })
}

struct WriteAhead {
    inner: Arc<dyn Reasoner>,
    dir: PathBuf,
}

impl WriteAhead {
    /// Writes `pending` (and, first, `views` when given) off the async threads; returns the
    /// views' records. A failure is a warning: the round's own record, written after the guess,
    /// is the one that counts.
    async fn write(
        &self,
        pending: Pending,
        views: Option<Vec<crate::environment::View>>,
    ) -> Vec<ViewRecord> {
        let dir = self.dir.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut pending = pending;
            if let Some(v) = views {
                pending.views = ReplayWriter::write_views(&dir, pending.round, &v)?;
            }
            let bytes = serde_json::to_vec(&pending).map_err(|e| ReplayError::Round {
                path: dir.join(PENDING_FILE).display().to_string(),
                line: pending.round,
                detail: e.to_string(),
            })?;
            crate::fsio::write_atomic(&dir.join(PENDING_FILE), &bytes).map_err(ReplayError::Io)?;
            Ok::<_, ReplayError>(pending.views)
        })
        .await;
        match done {
            Ok(Ok(views)) => return views,
            Ok(Err(e)) => warn!(error = %e, "could not write the round in flight ahead"),
            Err(e) => warn!(error = %e, "could not write the round in flight ahead"),
        }
        vec![]
    }
}

#[async_trait::async_trait]
impl Reasoner for WriteAhead {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn prompts(&self) -> Option<std::sync::Arc<crate::agent::prompt::files::PromptFiles>> {
        self.inner.prompts()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        let pending = |guess, views, reason_ms| Pending {
            round: obs.round,
            views,
            capture_ms: obs.capture_ms,
            guess,
            reason_ms,
        };
        let views = self
            .write(pending(None, vec![], 0), Some(obs.views.clone()))
            .await;
        let t0 = Instant::now();
        let g = self.inner.guess(obs).await;
        let reason_ms = t0.elapsed().as_millis() as u64;
        // The views are on disk already; only their records are written again.
        self.write(pending(Some(g.clone()), views, reason_ms), None)
            .await;
        g
    }
}

fn read_pending(dir: &Path) -> Option<Pending> {
    use std::io::Read;
    let f = std::fs::File::open(dir.join(PENDING_FILE)).ok()?;
    let mut bytes = Vec::new();
    f.take(MAX_PENDING_BYTES).read_to_end(&mut bytes).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(p) => Some(p),
        Err(e) => {
            warn!(error = %e, file = PENDING_FILE, "the round in flight could not be read back; ignored");
            None
        }
    }
}

/// Removes the round in flight once every round is recorded.
pub(super) fn clear(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(PENDING_FILE));
}

/// Records, in `writer`, every round `read` shows scored that `replay` lacks, and returns
/// them with their score checks (`map_size_km` scores ours when known). The replay's own
/// records are never replaced.
pub(super) fn record_lost(
    read: &GameRead,
    replay: &Replay,
    writer: &mut ReplayWriter,
    map_size_km: Option<f64>,
) -> Result<Vec<(RoundRecord, ScoreCheck)>, super::SiteSessionError> {
    let recorded: std::collections::BTreeSet<usize> =
        replay.rounds.iter().map(|r| r.round).collect();
    let pending = read_pending(&replay.dir);
    let mut out = Vec::new();
    for n in (1..=read.state.guessed()).filter(|n| !recorded.contains(n)) {
        let g = &read.state.player.guesses[n - 1];
        let truth = read.truth(n)?;
        let site_guess = LatLon {
            lat: g.lat,
            lon: g.lng,
        };
        let truth_pos = LatLon {
            lat: truth.lat,
            lon: truth.lng,
        };
        let ahead = pending.as_ref().filter(|p| p.round == n);
        // Only views named as geoguessr writes them and present in the folder are kept.
        let views: Vec<ViewRecord> = ahead
            .map(|p| {
                p.views
                    .iter()
                    .filter(|v| replay.view_path(v).is_ok_and(|path| path.is_file()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let guess = match ahead.and_then(|p| p.guess.clone()) {
            Some(guess) => guess,
            None => site_only_guess(site_guess, g.timed_out),
        };
        let record = RoundRecord {
            round: n,
            location_id: truth.pano_id.clone(),
            views,
            guess,
            result: RoundResult {
                round: n,
                guess: site_guess,
                truth: truth_pos,
                distance_km: g.distance_in_meters / 1000.0,
                points: g.round_score_in_points,
                place: None,
                country: truth.country.clone(),
            },
            timings: Timings {
                capture_ms: ahead.map_or(0, |p| p.capture_ms),
                reason_ms: ahead.map_or(0, |p| p.reason_ms),
                guess_ms: 0,
                total_ms: 0,
            },
            finished_at: chrono::Utc::now(),
        };
        writer.append(&record)?;
        warn!(
            round = n,
            written_ahead = ahead.is_some(),
            "the site scored this round after geoagent stopped; recorded it now"
        );
        let check = ScoreCheck {
            round: n,
            site_points: g.round_score_in_points,
            own_points: map_size_km
                .map(|s| crate::game::score(site_guess.distance_km(&truth_pos), s)),
            site_time_s: g.time,
            timed_out: g.timed_out,
            click_drift_px: None,
            click_drift_km: None,
        };
        out.push((record, check));
    }
    Ok(out)
}

/// The agent's side of a round the site scored while geoagent had no guess on record for it.
fn site_only_guess(at: LatLon, timed_out: bool) -> Guess {
    let reason = if timed_out {
        "the site timed the round out while geoagent was stopped; the point is the site's"
    } else {
        "recovered from the site after geoagent stopped; the model's answer was not on record"
    };
    Guess {
        pos: at,
        country: None,
        confidence: None,
        rationale: None,
        source: GuessSource::Fallback {
            reason: reason.into(),
        },
        notes: vec![],
        exchanges: vec![],
        usage: Default::default(),
        candidates: vec![],
        revisions: vec![],
    }
}
