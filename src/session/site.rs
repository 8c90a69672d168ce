//! One game on geoguessr.com from start to finish: check the cookie, respect the account's pacing,
//! create the classic game or join the challenge, play its rounds through the one round loop
//! ([`super::round`]) into a replay like the local game's (environment `geoguessr`), and for a
//! challenge store every other player's rounds as human results. A stopped game resumes from its
//! session folder ([`SiteGameSpec::Resume`]): the same game token, into the same replay. With a
//! time limit the reasoner is cut off in time for the guess to land before it ([`Deadline`]).
//!
//! The session folder also gets `geoguessr.json`: the game token, challenge, map and restrictions,
//! and the site's points beside ours per round. Never the cookie.

use super::round::{self, Recorder, RoundError};
use super::MatchReport;
use crate::agent::Reasoner;
use crate::browser::geoguessr::api::{Api, NewGame};
use crate::browser::geoguessr::settings::SiteOptions;
use crate::browser::geoguessr::{NcfaCookie, ScoreCheck, SiteError, SiteGame};
use crate::browser::BrowserOptions;
use crate::environment::CaptureOptions;
use crate::humans::{self, HumansError};
use crate::replay::{self, Manifest, ReplayError, ReplayWriter};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use thiserror::Error;
use tracing::{info, info_span, warn, Instrument};

/// The pacing record under the replay folder (start times of recent games per account).
pub(crate) const PACING_DIR: &str = ".geoguessr";
/// The environment name in the replay's manifest.
pub(crate) const ENVIRONMENT: &str = crate::browser::geoguessr::ENVIRONMENT;
/// The sidecar file in the session folder.
pub(crate) const SITE_FILE: &str = "geoguessr.json";
/// The rolling window of `max_games_per_hour`.
const PACING_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Debug, Error)]
pub enum SiteSessionError {
    #[error(transparent)]
    Site(#[from] SiteError),
    #[error("replay: {0}")]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Round(#[from] RoundError<SiteError>),
    #[error("human results: {0}")]
    Humans(#[from] HumansError),
    #[error("{0}")]
    Pacing(String),
    #[error("--resume {dir}: {detail}")]
    Resume { dir: String, detail: String },
}

/// What to play.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteGameSpec {
    /// A new classic game.
    New(NewGame),
    /// Join (or continue) challenge `token`.
    Challenge(String),
    /// Continue this account's game `token`.
    Game(String),
    /// Continue the game recorded in this session folder (`play --resume`): the same game
    /// token, its finished rounds kept, the next rounds appended to the same replay.
    Resume(PathBuf),
}

/// Everything one game on the site needs.
#[derive(Debug, Clone)]
pub struct SitePlan {
    pub site: SiteOptions,
    pub cookie: NcfaCookie,
    pub browser: BrowserOptions,
    pub capture: CaptureOptions,
    pub replay_root: PathBuf,
    pub strategy: String,
    pub spec: SiteGameSpec,
    /// Where the challenge's people's rounds are stored (`server.human_results`).
    pub human_store: PathBuf,
}

/// The sidecar written beside the replay's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SiteRecord {
    pub game_token: String,
    pub challenge_token: Option<String>,
    pub map: String,
    pub map_name: String,
    pub max_error_distance_m: f64,
    pub forbid_moving: bool,
    pub forbid_zooming: bool,
    pub forbid_rotating: bool,
    pub time_limit_secs: u32,
    pub guess_via: String,
    pub scores: Vec<ScoreCheck>,
}

/// What a game on the site produced.
#[derive(Debug, Clone)]
pub struct SiteReport {
    pub report: MatchReport,
    pub record: SiteRecord,
    /// Other players' rounds stored as human results (challenges).
    pub humans_stored: usize,
    /// Why the highscores could not be stored, when they could not.
    pub highscores_problem: Option<String>,
}

/// Plays one game of `plan` with `reasoner`. Finished rounds are in the replay even on error.
pub async fn play_site(
    plan: &SitePlan,
    reasoner: Arc<dyn Reasoner>,
) -> Result<SiteReport, SiteSessionError> {
    let api = Api::new(&plan.site, &plan.cookie)?;
    let profile = api.profile().await?;
    let resumed = match &plan.spec {
        SiteGameSpec::Resume(dir) => Some(Resumed::read(dir, &reasoner.name())?),
        _ => None,
    };
    // A resumed game was counted when it started: it takes the account's slot, not its budget.
    let _slot = Pacing::claim(
        &plan.replay_root,
        &profile.id,
        &plan.site,
        resumed.is_none(),
    )?;
    let (state, challenge) = match (&resumed, &plan.spec) {
        (Some(r), _) => (
            api.game(&r.record.game_token).await?,
            r.record.challenge_token.clone(),
        ),
        (None, SiteGameSpec::New(g)) => (api.create_game(g).await?, None),
        (None, SiteGameSpec::Challenge(t)) => (api.join_challenge(t).await?, Some(t.clone())),
        (None, SiteGameSpec::Game(t)) => (api.game(t).await?, None),
        (None, SiteGameSpec::Resume(dir)) => {
            return Err(SiteSessionError::Resume {
                dir: dir.display().to_string(),
                detail: "the session could not be read".into(),
            })
        }
    };
    let reasoner = with_time_limit(reasoner, state.time_limit, plan.site.time_limit_margin);
    let span = info_span!("site_game", token = %state.token);
    async move {
        let (writer, mut record, earlier, manifest) = match resumed {
            Some(r) => {
                let recorded: std::collections::BTreeSet<usize> =
                    r.replay.rounds.iter().map(|x| x.round).collect();
                let lost: Vec<usize> = (1..=state.guessed())
                    .filter(|n| !recorded.contains(n))
                    .collect();
                if !lost.is_empty() {
                    // Scored while geoagent was down, before the round's record was written:
                    // its views and reasoning are gone, so it is not made up here.
                    warn!(
                        ?lost,
                        "round(s) the site scored are not in the replay; they stay out of it"
                    );
                }
                info!(
                    recorded = recorded.len(),
                    scored = state.guessed(),
                    "resuming the game"
                );
                (r.writer, r.record, r.replay.rounds, r.replay.manifest)
            }
            None => {
                let (writer, record, manifest) =
                    new_session(&api, &state, challenge.clone(), plan, reasoner.as_ref()).await?;
                (writer, record, vec![], manifest)
            }
        };
        let dir = writer.dir().to_path_buf();
        let max_error_m = record.max_error_distance_m;
        write_record(&dir, &record)?;
        let mut report = MatchReport {
            session_id: manifest.session_id.clone(),
            replay_dir: dir.clone(),
            challenge_id: manifest.challenge.id.clone(),
            reasoner: reasoner.name(),
            map_name: state.map_name.clone(),
            rounds: earlier,
            launch: Default::default(),
        };
        let rounds = state.round_count;
        let first = state.guessed() + 1;
        let mut outcome: Result<(), SiteSessionError> = Ok(());
        // A resumed game the site already finished needs no browser.
        if first <= rounds {
            let mut game = SiteGame::open(
                api.clone(),
                plan.cookie.clone(),
                plan.browser.clone(),
                plan.capture.clone(),
                state,
                max_error_m / 1000.0,
            )
            .await?;
            let recorder = Recorder::new(writer);
            for n in first..=rounds {
                match round::play_round(&mut game, n, reasoner.as_ref(), &recorder, None).await {
                    Ok(r) => report.rounds.push(r),
                    Err(e) => {
                        outcome = Err(e.into());
                        break;
                    }
                }
            }
            record.scores.extend(game.checks.iter().copied());
            game.close().await;
            write_record(&dir, &record)?;
        }
        outcome?;
        let (mut humans_stored, mut highscores_problem) = (0, None);
        if let Some(token) = &challenge {
            match store_highscores(&api, token, &profile.id, &plan.human_store).await {
                Ok(n) => humans_stored = n,
                Err(e) => {
                    warn!(error = %e, "the challenge's highscores were not stored");
                    highscores_problem = Some(e.to_string());
                }
            }
        }
        Ok(SiteReport {
            report,
            record,
            humans_stored,
            highscores_problem,
        })
    }
    .instrument(span)
    .await
}

/// A new session folder for game `state`: its manifest and `geoguessr.json`.
async fn new_session(
    api: &Api,
    state: &crate::browser::geoguessr::state::GameState,
    challenge: Option<String>,
    plan: &SitePlan,
    reasoner: &dyn Reasoner,
) -> Result<(ReplayWriter, SiteRecord, Manifest), SiteSessionError> {
    let max_error_m = match api.map(&state.map).await {
        Ok(m) if m.max_error_distance.is_finite() && m.max_error_distance > 0.0 => {
            m.max_error_distance
        }
        Ok(_) | Err(_) => {
            warn!(map = %state.map, "the map's maxErrorDistance is unknown; our own scores use the world's");
            crate::game::WORLD_SIZE_KM * 1000.0
        }
    };
    let manifest = Manifest {
        format_version: replay::FORMAT_VERSION,
        session_id: replay::new_session_id(),
        created: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        environment: ENVIRONMENT.into(),
        map: replay::MapInfo {
            id: state.map.clone(),
            name: state.map_name.clone(),
            size_km: max_error_m / 1000.0,
            synthetic: false,
        },
        challenge: replay::ChallengeInfo {
            id: challenge.clone().unwrap_or_else(|| state.token.clone()),
            seed: 0,
            rounds: state.round_count,
            key_id: None,
        },
        reasoner: reasoner.name(),
        strategy: plan.strategy.clone(),
        capture: replay::CaptureInfo {
            headings: if state.forbid_rotating {
                1
            } else {
                plan.capture.headings
            },
            zoom_steps: 0,
            jpeg_quality: plan.capture.jpeg_quality,
        },
        parent: None,
    };
    let writer = ReplayWriter::create(&plan.replay_root, &manifest)?;
    let record = SiteRecord {
        game_token: state.token.clone(),
        challenge_token: challenge,
        map: state.map.clone(),
        map_name: state.map_name.clone(),
        max_error_distance_m: max_error_m,
        forbid_moving: state.forbid_moving,
        forbid_zooming: state.forbid_zooming,
        forbid_rotating: state.forbid_rotating,
        time_limit_secs: state.time_limit,
        guess_via: format!("{:?}", plan.site.guess_via).to_lowercase(),
        scores: vec![],
    };
    Ok((writer, record, manifest))
}

/// A session folder being resumed: its replay reopened for appending, and its `geoguessr.json`.
struct Resumed {
    writer: ReplayWriter,
    replay: replay::Replay,
    record: SiteRecord,
}

impl Resumed {
    fn read(dir: &Path, reasoner: &str) -> Result<Resumed, SiteSessionError> {
        let fail = |detail: String| SiteSessionError::Resume {
            dir: dir.display().to_string(),
            detail,
        };
        let path = dir.join(SITE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            fail(format!(
                "{SITE_FILE}: {e} (only a session played with --site geoguessr resumes on the site)"
            ))
        })?;
        let record: SiteRecord = serde_json::from_str(&text)
            .map_err(|e| fail(format!("{SITE_FILE} is not a geoguessr record: {e}")))?;
        let manifest = replay::Replay::open(dir)?.manifest;
        if manifest.environment != ENVIRONMENT {
            return Err(fail(format!(
                "a `{}` session, not a geoguessr.com one",
                manifest.environment
            )));
        }
        if manifest.reasoner != reasoner {
            return Err(fail(format!(
                "played by {}, not {reasoner}: resume it with the same --model",
                manifest.reasoner
            )));
        }
        let (writer, replay) = ReplayWriter::reopen(dir)?;
        Ok(Resumed {
            writer,
            replay,
            record,
        })
    }
}

/// With a time limit, the reasoner must answer in time for the guess to be placed before it
/// runs out: what it has not answered by then is replaced by the baseline's point.
fn with_time_limit(
    reasoner: Arc<dyn Reasoner>,
    limit_secs: u32,
    margin: Duration,
) -> Arc<dyn Reasoner> {
    if limit_secs == 0 {
        return reasoner;
    }
    Arc::new(Deadline {
        inner: reasoner,
        fallback: crate::agent::baseline::BaselineReasoner::for_map(&crate::game::builtin::world()),
        limit: Duration::from_secs(u64::from(limit_secs)),
        margin,
    })
}

/// A reasoner held to the round's time limit (see [`with_time_limit`]).
struct Deadline {
    inner: Arc<dyn Reasoner>,
    fallback: crate::agent::baseline::BaselineReasoner,
    limit: Duration,
    margin: Duration,
}

#[async_trait::async_trait]
impl Reasoner for Deadline {
    fn name(&self) -> String {
        self.inner.name()
    }

    async fn guess(&self, obs: &crate::environment::Observation) -> crate::agent::Guess {
        // The site's clock ran while the round loaded and was captured.
        let budget = self
            .limit
            .saturating_sub(self.margin)
            .saturating_sub(Duration::from_millis(obs.capture_ms));
        match tokio::time::timeout(budget, self.inner.guess(obs)).await {
            Ok(g) => g,
            Err(_) => {
                let reason = format!(
                    "no answer within {:.1} s: the round's {} s time limit less capture and geoguessr.time_limit_margin_secs",
                    budget.as_secs_f64(),
                    self.limit.as_secs()
                );
                warn!(round = obs.round, %reason, "guessing the baseline point in time");
                let mut g = self.fallback.guess(obs).await;
                g.source = crate::agent::GuessSource::Fallback { reason };
                g
            }
        }
    }
}

fn write_record(dir: &Path, record: &SiteRecord) -> Result<(), SiteSessionError> {
    let path = dir.join(SITE_FILE);
    let text = serde_json::to_string_pretty(record).map_err(|e| ReplayError::Manifest {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    // Whole or not at all: a crash mid-write must not leave a record that no longer parses.
    crate::fsio::write_atomic(&path, text.as_bytes())
        .map_err(|e| SiteSessionError::Replay(ReplayError::Io(e)))
}

/// Fetches every highscores page of challenge `token` and appends the other players' rounds to
/// the store (rounds already there are not added twice). Returns how many were added.
pub async fn store_highscores(
    api: &Api,
    token: &str,
    own_id: &str,
    store: &Path,
) -> Result<usize, SiteSessionError> {
    let pages = api.highscores(token).await?;
    let source = format!("geoguessr:highscores/{token}");
    let imp = humans::parse_highscores(
        &source,
        &serde_json::Value::Array(pages),
        Some(token),
        Some(own_id),
    );
    for p in &imp.problems {
        warn!(%p, "highscores item skipped");
    }
    add_new(store, imp.rounds)
}

/// Appends the rounds `store` does not hold yet (same challenge, round and player).
pub(crate) fn add_new(
    store: &Path,
    rounds: Vec<humans::HumanRound>,
) -> Result<usize, SiteSessionError> {
    let store = humans::Store::open(store);
    let have: std::collections::HashSet<(String, usize, String)> = store
        .load()?
        .into_iter()
        .map(|h| (h.challenge_id, h.round, h.player))
        .collect();
    let mut added = 0;
    for r in rounds {
        if !have.contains(&(r.challenge_id.clone(), r.round, r.player.clone())) {
            store.append(&r)?;
            added += 1;
        }
    }
    info!(added, "human results stored");
    Ok(added)
}

/// One game at a time per account, and at most `max_games_per_hour` started per rolling hour,
/// recorded under `replay_root/.geoguessr/`. Held for the game; the lock goes with the file.
struct Pacing {
    _lock: std::fs::File,
}

impl Pacing {
    /// Takes the account's slot; `count` = a new game, held to the hourly budget and pause.
    fn claim(
        root: &Path,
        account: &str,
        opts: &SiteOptions,
        count: bool,
    ) -> Result<Pacing, SiteSessionError> {
        let dir = root.join(PACING_DIR);
        let io = |e: std::io::Error| SiteSessionError::Replay(ReplayError::Io(e));
        fs_err::create_dir_all(&dir).map_err(io)?;
        let name: String = account
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(64)
            .collect();
        let name = if name.is_empty() {
            "account".to_string()
        } else {
            name
        };
        let lock = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{name}.lock")))
            .map_err(io)?;
        // Released when the file closes, also when the process dies.
        if lock.file().try_lock().is_err() {
            return Err(SiteSessionError::Pacing(
                "another geoagent is playing on this account: one game at a time per account"
                    .into(),
            ));
        }
        if !count {
            return Ok(Pacing {
                _lock: lock.into_file(),
            });
        }
        let starts_path = dir.join(format!("{name}.json"));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut starts: Vec<u64> = std::fs::read_to_string(&starts_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        starts.retain(|t| now.saturating_sub(*t) < PACING_WINDOW.as_secs());
        if starts.len() as u32 >= opts.max_games_per_hour {
            let wait = starts
                .iter()
                .min()
                .map_or(0, |t| PACING_WINDOW.as_secs().saturating_sub(now - t));
            return Err(SiteSessionError::Pacing(format!(
                "{} game(s) started in the last hour (geoguessr.max_games_per_hour = {}): wait about {} min",
                starts.len(),
                opts.max_games_per_hour,
                wait.div_ceil(60)
            )));
        }
        if let Some(last) = starts.iter().max() {
            let since = now.saturating_sub(*last);
            if since < opts.game_pause.as_secs() {
                return Err(SiteSessionError::Pacing(format!(
                    "the last game started {since} s ago; geoguessr.game_pause_secs = {} asks for a pause between games",
                    opts.game_pause.as_secs()
                )));
            }
        }
        starts.push(now);
        std::fs::write(
            &starts_path,
            serde_json::to_string(&starts).unwrap_or_default(),
        )
        .map_err(io)?;
        Ok(Pacing {
            _lock: lock.into_file(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_limits_games_per_hour_and_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SiteOptions {
            max_games_per_hour: 2,
            game_pause: Duration::ZERO,
            ..SiteOptions::default()
        };
        let a = Pacing::claim(dir.path(), "me", &opts, true).unwrap();
        let e = Pacing::claim(dir.path(), "me", &opts, true).err().unwrap();
        assert!(e.to_string().contains("one game at a time"), "{e}");
        drop(a);
        let b = Pacing::claim(dir.path(), "me", &opts, true).unwrap();
        drop(b);
        let e = Pacing::claim(dir.path(), "me", &opts, true).err().unwrap();
        assert!(e.to_string().contains("max_games_per_hour"), "{e}");
        // Another account has its own budget.
        Pacing::claim(dir.path(), "you", &opts, true).unwrap();
    }
}
