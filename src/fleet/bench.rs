//! `geoagent bench`: one challenge of many rounds in direct mode, played by `concurrency`
//! workers that share the reasoner (and so its HTTP connection pool), into one session folder
//! with manifest environment `direct`.
//!
//! Memory stays bounded: at most `concurrency` observations are alive, and each round's views are
//! written (fsynced) before its line is appended, then dropped. Rendered views are shared through
//! the per-location [`ViewCache`].

use super::progress::Progress;
use super::FleetError;
use crate::agent::Reasoner;
use crate::environment::direct::{DirectGame, ViewCache};
use crate::environment::CaptureOptions;
use crate::game::{ChallengeKey, Map};
use crate::replay::{self, Manifest, Replay, ReplayWriter, RoundRecord};
use crate::session::round::{self, Recorder};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The manifest's `environment` for direct-mode sessions.
pub(crate) const DIRECT_ENVIRONMENT: &str = "direct";

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
        if replay.manifest.environment != DIRECT_ENVIRONMENT {
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

fn manifest(plan: &BenchPlan, challenge_id: String, reasoner: &str) -> Manifest {
    Manifest {
        format_version: replay::FORMAT_VERSION,
        session_id: replay::new_session_id(),
        created: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        environment: DIRECT_ENVIRONMENT.into(),
        map: replay::MapInfo {
            id: plan.map.id.clone(),
            name: plan.map.name.clone(),
            size_km: plan.map.size_km,
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
    }
}

/// Opens the session (new, or `resume`'s) and returns the writer and the rounds already in it.
pub(crate) fn open_session(
    plan: &BenchPlan,
    challenge_id: &str,
    reasoner: &str,
    resume: Option<&Path>,
) -> Result<(ReplayWriter, Vec<RoundRecord>), FleetError> {
    match resume {
        None => {
            let m = manifest(plan, challenge_id.to_string(), reasoner);
            Ok((ReplayWriter::create(&plan.replay_root, &m)?, Vec::new()))
        }
        Some(dir) => {
            let (writer, replay) = ReplayWriter::reopen(dir)?;
            let m = &replay.manifest;
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
    let (writer, done) = open_session(plan, &challenge_id, &reasoner.name(), resume)?;
    let dir = writer.dir().to_path_buf();
    let recorder = Recorder::new(writer);
    let done_set: std::collections::BTreeSet<usize> = done.iter().map(|r| r.round).collect();
    let pending: VecDeque<usize> = (1..=game.rounds())
        .filter(|r| !done_set.contains(r))
        .collect();
    let progress = Arc::new(make_progress(game.rounds(), &done));
    let workers = plan.concurrency.clamp(1, pending.len().max(1));
    let queue = Arc::new(Mutex::new(pending));
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let w = Worker {
            game: game.clone(),
            reasoner: reasoner.clone(),
            queue: queue.clone(),
            recorder: recorder.clone(),
            progress: progress.clone(),
        };
        set.spawn(w.work());
    }
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

struct Worker {
    game: Arc<DirectGame>,
    reasoner: Arc<dyn Reasoner>,
    queue: Arc<Mutex<VecDeque<usize>>>,
    recorder: Recorder,
    progress: Arc<Progress>,
}

impl Worker {
    fn next(&self) -> Option<usize> {
        // Popping cannot leave the queue inconsistent; a poisoned lock is still good.
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    /// Plays rounds until the queue is empty; returns how many.
    async fn work(self) -> Result<usize, FleetError> {
        let mut n = 0;
        let hook = |r: &RoundRecord| self.progress.round(r);
        while let Some(round) = self.next() {
            let mut env = self.game.round(round);
            round::play_round(
                &mut env,
                round,
                self.reasoner.as_ref(),
                &self.recorder,
                Some(&hook),
            )
            .await?;
            n += 1;
        }
        Ok(n)
    }
}
