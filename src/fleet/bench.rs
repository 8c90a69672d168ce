//! `geoagent bench`: one challenge of many rounds in direct mode, played by `concurrency`
//! workers that share the reasoner (and so its HTTP connection pool), into one session folder
//! with manifest environment `direct`.
//!
//! Memory stays bounded: at most `concurrency` observations are alive, and each round's views are
//! written (fsynced) before its line is appended, then dropped. Rendered views are shared through
//! the per-location [`ViewCache`].
//!
//! Views and model calls form a pipeline, not two phases: one task renders the locations ahead
//! (in challenge order, on every core through the cache's permits) and hands each location's
//! rounds to the workers as soon as its views are ready, so on a cold cache the model is busy
//! with ready rounds while the others are still being painted.

use super::progress::Progress;
use super::FleetError;
use crate::agent::prompt::files::PromptFiles;
use crate::agent::Reasoner;
use crate::environment::direct::{DirectGame, ViewCache, MAX_CACHED_LOCATIONS};
use crate::environment::CaptureOptions;
use crate::game::{ChallengeKey, Map};
use crate::replay::prompts::PromptsInfo;
use crate::replay::{self, Manifest, Replay, ReplayWriter, RoundRecord};
use crate::session::round::{self, Recorder};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// Locations rendered ahead of play whose rounds are not all played yet, at most. Their views
/// must still be in the cache when their rounds start, so this stays well under its bound.
const MAX_LOCATIONS_AHEAD: usize = MAX_CACHED_LOCATIONS / 2;

/// What to play.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub map: Arc<Map>,
    pub seed: u64,
    /// Picks the challenge's places with the seed (see `game::ChallengeKey`).
    pub key: ChallengeKey,
    pub rounds: usize,
    /// Rounds in flight at once (model calls overlapping).
    pub concurrency: usize,
    pub capture: CaptureOptions,
    pub replay_root: PathBuf,
    pub strategy: String,
    /// Keep rendered views here between runs (`None`: memory only).
    pub view_cache: Option<PathBuf>,
}

/// What a bench run did.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub session_dir: PathBuf,
    pub challenge_id: String,
    /// Rounds recorded in the session (earlier runs included).
    pub rounds_recorded: usize,
    /// Rounds this process played.
    pub rounds_played: usize,
    pub mean_points: f64,
    pub wall: Duration,
}

/// The fields of an existing direct session a resumed bench must reuse, read from its manifest.
#[derive(Debug, Clone)]
pub(crate) struct ResumeInfo {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl ResumeInfo {
    /// Reads `dir`'s manifest and checks it is a direct-mode session.
    pub fn read(dir: &Path) -> Result<ResumeInfo, FleetError> {
        let replay = Replay::open(dir)?;
        if replay.manifest.environment != crate::environment::Kind::Direct {
            return Err(FleetError::Resume {
                what: dir.display().to_string(),
                detail: format!(
                    "it is a `{}` session; `bench --resume` continues direct-mode sessions (use `play --resume` for browser games)",
                    replay.manifest.environment
                ),
            });
        }
        Ok(ResumeInfo {
            dir: dir.to_path_buf(),
            manifest: replay.manifest,
        })
    }
}

fn manifest(
    plan: &BenchPlan,
    challenge_id: String,
    reasoner: &str,
    prompts: Option<&PromptFiles>,
) -> Manifest {
    Manifest {
        format_version: replay::FORMAT_VERSION,
        session_id: replay::new_session_id(),
        created: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        environment: crate::environment::Kind::Direct,
        map: replay::MapInfo {
            id: plan.map.id.clone(),
            name: plan.map.name.clone(),
            size_km: Some(plan.map.size_km),
            synthetic: plan.map.synthetic,
        },
        challenge: replay::ChallengeInfo {
            id: challenge_id,
            seed: plan.seed,
            rounds: plan.rounds,
            key_id: plan.key.fingerprint(),
        },
        reasoner: reasoner.into(),
        strategy: plan.strategy.clone(),
        capture: replay::CaptureInfo {
            headings: plan.capture.headings,
            zoom_steps: plan.capture.zoom_steps,
            jpeg_quality: plan.capture.jpeg_quality,
        },
        parent: None,
        prompts: prompts.map(PromptsInfo::of),
    }
}

/// Opens the session (new, or `resume`'s) and returns the writer and the rounds already in it.
pub(crate) fn open_session(
    plan: &BenchPlan,
    challenge_id: &str,
    reasoner: &str,
    prompts: Option<&PromptFiles>,
    resume: Option<&Path>,
) -> Result<(ReplayWriter, Vec<RoundRecord>), FleetError> {
    match resume {
        None => {
            let m = manifest(plan, challenge_id.to_string(), reasoner, prompts);
            Ok((
                ReplayWriter::create_with_prompts(&plan.replay_root, &m, prompts)?,
                Vec::new(),
            ))
        }
        Some(dir) => {
            let (writer, replay) = ReplayWriter::reopen(dir)?;
            let m = &replay.manifest;
            if m.prompts != prompts.map(PromptsInfo::of) {
                return Err(FleetError::Resume {
                    what: dir.display().to_string(),
                    detail: format!(
                        "it was played with prompts {}, not {}: a session keeps one prompt set",
                        m.prompts.as_ref().map_or("built in".into(), |p| p.label()),
                        prompts.map_or("built in".into(), |p| p.label()),
                    ),
                });
            }
            if m.challenge.id != challenge_id || m.reasoner != reasoner {
                return Err(FleetError::Resume {
                    what: dir.display().to_string(),
                    detail: format!(
                        "it holds challenge {} played by {}, this run is {challenge_id} by {reasoner}; pass the same --model",
                        m.challenge.id, m.reasoner
                    ),
                });
            }
            Ok((writer, replay.rounds))
        }
    }
}

/// Plays every round of `plan` not yet in the session, `plan.concurrency` at a time.
pub async fn run(
    plan: &BenchPlan,
    reasoner: Arc<dyn Reasoner>,
    resume: Option<&Path>,
    make_progress: impl FnOnce(usize, &[RoundRecord]) -> Progress,
) -> Result<BenchReport, FleetError> {
    let t0 = Instant::now();
    let mut cache = ViewCache::new(plan.capture.clone());
    if let Some(dir) = &plan.view_cache {
        cache = cache.with_disk(dir.clone());
    }
    let cache = Arc::new(cache);
    let game = Arc::new(DirectGame::new(
        plan.map.clone(),
        plan.seed,
        plan.rounds,
        &plan.key,
        cache,
    ));
    let challenge_id = game.challenge().id();
    let (writer, done) = open_session(
        plan,
        &challenge_id,
        &reasoner.name(),
        reasoner.prompts().as_deref(),
        resume,
    )?;
    let dir = writer.dir().to_path_buf();
    let recorder = Recorder::new(writer);
    let done_set: std::collections::BTreeSet<usize> = done.iter().map(|r| r.round).collect();
    let pending: Vec<usize> = (1..=game.rounds())
        .filter(|r| !done_set.contains(r))
        .collect();
    let progress = Arc::new(make_progress(game.rounds(), &done));
    let workers = plan.concurrency.clamp(1, pending.len().max(1));
    let (tx, rx) = unbounded_channel();
    let renderer = tokio::spawn(render_ahead(game.clone(), pending, tx));
    let ready = Arc::new(Mutex::new(rx));
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let w = Worker {
            game: game.clone(),
            reasoner: reasoner.clone(),
            ready: ready.clone(),
            recorder: recorder.clone(),
            progress: progress.clone(),
        };
        set.spawn(w.work());
    }
    // Stops rendering when the run ends early (an error), like the workers.
    let _stop_renderer = AbortOnDrop(renderer);
    let mut played = 0;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(n)) => played += n,
            Ok(Err(e)) => {
                set.abort_all();
                progress.finish();
                return Err(e);
            }
            Err(e) => {
                set.abort_all();
                progress.finish();
                return Err(FleetError::Task(e.to_string()));
            }
        }
    }
    progress.finish();
    let t = progress.tally();
    Ok(BenchReport {
        session_dir: dir,
        challenge_id,
        rounds_recorded: t.done as usize,
        rounds_played: played,
        mean_points: t.mean_points(),
        wall: t0.elapsed(),
    })
}

/// A round whose views are in the cache. The ticket (shared by the rounds of one location)
/// frees a place in the render-ahead window when the location's last round is played.
struct Ready {
    round: usize,
    _ticket: Arc<OwnedSemaphorePermit>,
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Renders the views of `pending`'s locations in the order their first round comes, at most
/// [`MAX_LOCATIONS_AHEAD`] ahead of play, and sends each location's rounds to `ready` once its
/// views are cached. A location that fails to render is sent anyway: its round renders again
/// and fails with the error where rounds report errors.
async fn render_ahead(game: Arc<DirectGame>, pending: Vec<usize>, ready: UnboundedSender<Ready>) {
    let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for round in pending {
        // Unknown rounds stay alone, so their error is not attached to another location.
        match game.location_id(round) {
            Some(id) => {
                let i = *index.entry(id.clone()).or_insert_with(|| {
                    groups.push((Some(id), Vec::new()));
                    groups.len() - 1
                });
                groups[i].1.push(round);
            }
            None => groups.push((None, vec![round])),
        }
    }
    let window = Arc::new(Semaphore::new(MAX_LOCATIONS_AHEAD));
    let mut renders = JoinSet::new();
    for (_, rounds) in groups {
        let Ok(permit) = window.clone().acquire_owned().await else {
            return;
        };
        let (game, ready) = (game.clone(), ready.clone());
        renders.spawn(async move {
            if let Err(e) = game.prepare_round(rounds[0]).await {
                tracing::debug!(round = rounds[0], "rendering ahead failed: {e}");
            }
            let ticket = Arc::new(permit);
            for round in rounds {
                // Workers gone means the run is over; nothing left to hand out.
                let _ = ready.send(Ready {
                    round,
                    _ticket: ticket.clone(),
                });
            }
        });
        // Reap finished renders so the set does not grow with the map.
        while renders.try_join_next().is_some() {}
    }
    while renders.join_next().await.is_some() {}
}

struct Worker {
    game: Arc<DirectGame>,
    reasoner: Arc<dyn Reasoner>,
    ready: Arc<Mutex<UnboundedReceiver<Ready>>>,
    recorder: Recorder,
    progress: Arc<Progress>,
}

impl Worker {
    /// Plays ready rounds until every round was handed out; returns how many.
    async fn work(self) -> Result<usize, FleetError> {
        let mut n = 0;
        let hook = |r: &RoundRecord| self.progress.round(r);
        loop {
            let Some(next) = self.ready.lock().await.recv().await else {
                break;
            };
            let mut env = self.game.round(next.round);
            round::play_round(
                &mut env,
                next.round,
                self.reasoner.as_ref(),
                &self.recorder,
                Some(&hook),
            )
            .await?;
            n += 1;
            drop(next);
        }
        Ok(n)
    }
}
