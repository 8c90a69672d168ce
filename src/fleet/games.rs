//! `geoagent play --games N --parallel P`: N browser games, each its own challenge (seed
//! `base + i`), played by P workers over one shared local game server and a pool of P browsers
//! reused from game to game. While one game waits for the model, the others capture.
//!
//! A run is described by its run file, `<replay dir>/runs/<run-id>.json`, rewritten atomically
//! whenever a game changes state. It names the player (reasoner, strategy, prompt set) and lists
//! every game: index, seed, session id (its replay is
//! `<replay dir>/<run-id>-gNNN/`, beside ordinary sessions so `stats` reads it) and status
//! (`pending`, `done`, or `failed` with the reason). `play --resume RUN` reads it, continues the
//! games that are not done (a half-played game continues after its last recorded round) and
//! retries failed ones.

use super::progress::Progress;
use super::FleetError;
use crate::agent::Reasoner;
use crate::browser::pool::BrowserPool;
use crate::game::MAX_RANDOM_SEED;
use crate::replay::prompts::PromptsInfo;
use crate::replay::{Replay, RoundRecord, MANIFEST_FILE};
use crate::server::AppState;
use crate::session::{self, MatchPlan, Record, Table};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::task::JoinSet;
use tracing::warn;

/// Layout version of the run file. 2: `prompts` is recorded (absent there means the built-in
/// prompts); a version 1 file did not record it, so its prompt set is unknown.
pub(crate) const RUN_FORMAT_VERSION: u32 = 2;
/// The first version whose `prompts` says which prompt set the games are played with.
const PROMPTS_RECORDED_SINCE: u32 = 2;
/// Folder under the replay dir holding run files.
pub const RUNS_DIR: &str = "runs";
/// Whole-game attempts before a game is marked failed. Each attempt already relaunches a
/// crashed browser [`session::MAX_BROWSER_RESTARTS`] times and resumes its game; a second attempt
/// on a fresh browser covers a chromedriver that broke between games.
pub(crate) const MAX_GAME_ATTEMPTS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GameStatus {
    Pending,
    Done,
    Failed,
}

/// One game of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GameEntry {
    pub index: usize,
    pub seed: u64,
    /// The session folder's name under the replay dir.
    pub session_id: String,
    pub status: GameStatus,
    /// Why the game failed, when it did.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub rounds_done: usize,
    #[serde(default)]
    pub points: u64,
}

/// The run file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFile {
    pub format_version: u32,
    pub run_id: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub map: String,
    pub base_seed: u64,
    pub rounds: usize,
    pub parallel: usize,
    pub reasoner: String,
    pub strategy: String,
    /// Fingerprint of the challenge key (see `replay::ChallengeInfo::key_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The user's own prompt set every game plays with (`--prompts DIR`); `None`: the built-in
    /// prompts (or, in a version 1 file, not recorded). Every game of a run plays the same set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<PromptsInfo>,
    pub games: Vec<GameEntry>,
}

/// The seed of game `index` of a run: `base + index`, kept in the range the page's JavaScript
/// numbers hold exactly, so every game is a distinct, replayable challenge.
pub(crate) fn game_seed(base: u64, index: usize) -> u64 {
    (base.wrapping_add(index as u64)) % (MAX_RANDOM_SEED + 1)
}

impl RunFile {
    /// A new run of `games` games played by `reasoner` with the prompt set `prompts`.
    pub fn new(
        plan: &MatchPlan,
        games: usize,
        parallel: usize,
        reasoner: &str,
        prompts: Option<PromptsInfo>,
    ) -> RunFile {
        let run_id = format!("run-{}", crate::replay::new_session_id());
        let games = (0..games)
            .map(|i| GameEntry {
                index: i,
                seed: game_seed(plan.seed, i),
                session_id: format!("{run_id}-g{i:03}"),
                status: GameStatus::Pending,
                reason: None,
                rounds_done: 0,
                points: 0,
            })
            .collect();
        RunFile {
            format_version: RUN_FORMAT_VERSION,
            run_id,
            created: chrono::Utc::now(),
            map: plan.map.id.clone(),
            base_seed: plan.seed,
            rounds: plan.rounds,
            parallel,
            reasoner: reasoner.into(),
            strategy: plan.strategy.clone(),
            key_id: plan.key.fingerprint(),
            prompts,
            games,
        }
    }

    /// The prompt set the run's games are played with, when the file says (version 2 on).
    pub fn recorded_prompts(&self) -> Option<Option<&PromptsInfo>> {
        (self.format_version >= PROMPTS_RECORDED_SINCE).then_some(self.prompts.as_ref())
    }

    /// Refuses to go on with prompt set `playing` when the run's games were played with another:
    /// a run is one player, and its sessions each keep one set. A version 1 file did not record
    /// its set; each game's session still checks its own.
    pub fn check_prompts(&self, playing: Option<&PromptsInfo>) -> Result<(), FleetError> {
        let label = |p: Option<&PromptsInfo>| {
            p.map_or("the built-in prompts".into(), |p| {
                format!("prompt set {}", p.label())
            })
        };
        match self.recorded_prompts() {
            Some(recorded) if recorded != playing => Err(FleetError::Resume {
                what: format!("run {}", self.run_id),
                detail: format!(
                    "its games were played with {}, not {}: a run keeps one prompt set{}",
                    label(recorded),
                    label(playing),
                    match recorded {
                        Some(p) =>
                            format!(" (resume it with --prompts and the folder of `{}`)", p.name),
                        None => " (resume it without --prompts)".into(),
                    }
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Where this run's file lives under `replay_root`.
    pub fn path_in(&self, replay_root: &Path) -> PathBuf {
        replay_root
            .join(RUNS_DIR)
            .join(format!("{}.json", self.run_id))
    }

    pub fn load(path: &Path) -> Result<RunFile, FleetError> {
        let err = |detail: String| FleetError::RunFile {
            path: path.display().to_string(),
            detail,
        };
        let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let run: RunFile = serde_json::from_slice(&text).map_err(|e| err(e.to_string()))?;
        if run.format_version > RUN_FORMAT_VERSION {
            return Err(err(format!(
                "format_version {} is newer than this build reads ({RUN_FORMAT_VERSION}); upgrade geoagent",
                run.format_version
            )));
        }
        Ok(run)
    }

    /// Writes the file atomically (temp file, fsync, rename): a kill never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), FleetError> {
        let err = |detail: String| FleetError::RunFile {
            path: path.display().to_string(),
            detail,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
        crate::fsio::write_atomic(path, &json).map_err(|e| err(e.to_string()))
    }

    pub fn failed(&self) -> impl Iterator<Item = &GameEntry> {
        self.games.iter().filter(|g| g.status == GameStatus::Failed)
    }

    /// A summary for the terminal: games done/failed (with reasons), rounds, mean points.
    pub fn render(&self, path: &Path) -> String {
        let done = self
            .games
            .iter()
            .filter(|g| g.status == GameStatus::Done)
            .count();
        let rounds: usize = self.games.iter().map(|g| g.rounds_done).sum();
        let points: u64 = self.games.iter().map(|g| g.points).sum();
        let mut out = format!(
            "Run {}: {done}/{} games done, {rounds} rounds, mean {:.0} points per round ({})\nRun file: {}",
            self.run_id,
            self.games.len(),
            points as f64 / rounds.max(1) as f64,
            self.reasoner,
            path.display()
        );
        for g in self.failed() {
            out.push_str(&format!(
                "\n  game {} (seed {}) failed: {}",
                g.index,
                g.seed,
                g.reason.as_deref().unwrap_or("unknown")
            ));
        }
        out
    }
}

/// Plays every game of `run` that is not done, `parallel` at a time, saving the run file at
/// `path` as games end. `template` gives map, rounds, browser and capture (its seed is replaced
/// by each game's).
pub async fn run(
    mut run: RunFile,
    path: &Path,
    template: &MatchPlan,
    parallel: usize,
    reasoner: Arc<dyn Reasoner>,
    make_progress: impl FnOnce(usize, &[RoundRecord]) -> Progress,
) -> Result<(RunFile, BrowserPool), FleetError> {
    let mut already = Vec::new();
    for g in &mut run.games {
        let dir = template.replay_root.join(&g.session_id);
        if dir.join(MANIFEST_FILE).is_file() {
            let rounds = Replay::open(&dir)?.rounds;
            g.rounds_done = rounds.len();
            g.points = rounds.iter().map(|r| u64::from(r.result.points)).sum();
            already.extend(rounds);
        }
    }
    run.save(path)?;
    let total = run.games.len() * run.rounds;
    let progress = Arc::new(make_progress(total, &already));
    drop(already);

    let state = AppState::for_agent(template.maps.clone(), template.key.clone());
    let (server, base_url) = session::serve_page(state.clone(), &template.browser)
        .await
        .map_err(session::SessionError::from)?;
    let pool = BrowserPool::new(template.browser.clone(), parallel);
    let table = Arc::new(Table {
        state,
        base_url,
        pool: pool.clone(),
    });
    let queue: VecDeque<usize> = run
        .games
        .iter()
        .filter(|g| g.status != GameStatus::Done)
        .map(|g| g.index)
        .collect();
    let shared = Arc::new(Shared {
        run: Mutex::new(run),
        path: path.to_path_buf(),
        queue: Mutex::new(queue),
    });
    let mut set = JoinSet::new();
    for _ in 0..parallel.max(1) {
        set.spawn(worker(
            shared.clone(),
            table.clone(),
            template.clone(),
            reasoner.clone(),
            progress.clone(),
        ));
    }
    let mut first_err = None;
    while let Some(j) = set.join_next().await {
        let e = match j {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(e) => FleetError::Task(e.to_string()),
        };
        set.abort_all();
        first_err.get_or_insert(e);
    }
    progress.finish();
    pool.close_idle().await;
    if let Err(e) = server.shutdown().await {
        warn!(error = %e, "local game server did not stop cleanly");
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let run = shared.lock_run().clone();
    Ok((run, pool))
}

struct Shared {
    run: Mutex<RunFile>,
    path: PathBuf,
    queue: Mutex<VecDeque<usize>>,
}

impl Shared {
    fn lock_run(&self) -> std::sync::MutexGuard<'_, RunFile> {
        // Each update replaces whole fields; a poisoned lock still holds a consistent run.
        self.run.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next(&self) -> Option<GameEntry> {
        let i = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()?;
        self.lock_run().games.get(i).cloned()
    }

    /// Records a game's new state and saves the run file.
    fn update(&self, entry: GameEntry) -> Result<(), FleetError> {
        let mut run = self.lock_run();
        if let Some(g) = run.games.get_mut(entry.index) {
            *g = entry;
        }
        run.save(&self.path)
    }
}

async fn worker(
    shared: Arc<Shared>,
    table: Arc<Table>,
    template: MatchPlan,
    reasoner: Arc<dyn Reasoner>,
    progress: Arc<Progress>,
) -> Result<(), FleetError> {
    while let Some(mut entry) = shared.next() {
        let plan = MatchPlan {
            seed: entry.seed,
            ..template.clone()
        };
        let dir = plan.replay_root.join(&entry.session_id);
        let hook = |r: &RoundRecord| progress.round(r);
        let mut last_err = None;
        for attempt in 1..=MAX_GAME_ATTEMPTS {
            let record = if dir.join(MANIFEST_FILE).is_file() {
                Record::Resume(dir.clone())
            } else {
                Record::NewWithId(entry.session_id.clone())
            };
            match session::play_game(&table, &plan, reasoner.clone(), record, Some(&hook)).await {
                Ok(report) => {
                    entry.status = GameStatus::Done;
                    entry.reason = None;
                    entry.rounds_done = report.rounds.len();
                    entry.points = report.total_points();
                    last_err = None;
                    break;
                }
                Err(e) if e.is_auth() => {
                    // Every later game would fail the same way: stop the run, and leave this game
                    // pending so `--resume` plays it once the key is fixed.
                    entry.reason = Some(e.to_string());
                    shared.update(entry)?;
                    return Err(e.into());
                }
                Err(e) => {
                    progress.line(&format!(
                        "game {} (seed {}) attempt {attempt}/{MAX_GAME_ATTEMPTS} failed: {e}",
                        entry.index, entry.seed
                    ));
                    last_err = Some(e.to_string());
                }
            }
        }
        if let Some(reason) = last_err {
            entry.status = GameStatus::Failed;
            entry.reason = Some(reason);
            if let Ok(r) = Replay::open(&dir) {
                entry.rounds_done = r.rounds.len();
                entry.points = r.rounds.iter().map(|r| u64::from(r.result.points)).sum();
            }
        }
        shared.update(entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_distinct_and_in_the_page_range() {
        assert_eq!(game_seed(1000, 2), 1002);
        assert_eq!(game_seed(MAX_RANDOM_SEED, 1), 0);
        let seeds: std::collections::BTreeSet<u64> =
            (0..50).map(|i| game_seed(u64::MAX - 3, i)).collect();
        assert_eq!(seeds.len(), 50);
        assert!(seeds.iter().all(|s| *s <= MAX_RANDOM_SEED));
    }

    #[test]
    fn run_file_round_trips_and_names_failures() {
        let dir = tempfile::tempdir().unwrap();
        let map = Arc::new(crate::game::builtin::world());
        let plan = MatchPlan {
            maps: vec![map.clone()],
            map,
            seed: 7,
            key: Default::default(),
            rounds: 5,
            browser: Default::default(),
            capture: Default::default(),
            replay_root: dir.path().to_path_buf(),
            strategy: "cot".into(),
        };
        let mut run = RunFile::new(&plan, 3, 2, "baseline", None);
        assert_eq!(
            run.games.iter().map(|g| g.seed).collect::<Vec<_>>(),
            vec![7, 8, 9]
        );
        assert!(run.games[2].session_id.ends_with("-g002"));
        run.games[1].status = GameStatus::Failed;
        run.games[1].reason = Some("chromedriver died".into());
        let path = run.path_in(dir.path());
        run.save(&path).unwrap();
        let back = RunFile::load(&path).unwrap();
        assert_eq!(back, run);
        let text = back.render(&path);
        assert!(text.contains("0/3 games done"), "{text}");
        assert!(
            text.contains("game 1 (seed 8) failed: chromedriver died"),
            "{text}"
        );
    }
}
