//! One match from start to finish: start the local game server and a browser, play the rounds
//! (observe → reason → guess), record each round to the replay as it ends, and always shut
//! everything down, on success, on error and on cancellation (drop).
//!
//! [`play`] is one game with its own server and browser; [`play_game`] plays one game at a shared
//! [`Table`] (server + browser pool), which is how runs of many games reuse browsers. A crashed
//! browser is relaunched in the same pool slot and the game resumed by id (`/?game=ID`); a game
//! can also continue an existing session folder ([`Record::Resume`]).

use crate::agent::Guess;
use crate::agent::{GuessSource, Reasoner};
use crate::browser::local_game::{CaptureOptions, LocalGame};
use crate::browser::pool::{BrowserPool, Lease};
use crate::browser::{Browser, BrowserError, BrowserOptions, LaunchTiming};
use crate::environment::{Environment, GuessTiming, Observation};
use crate::game::{Challenge, Map, RoundResult};
use crate::replay::{self, Manifest, ReplayError, ReplayWriter, RoundRecord, Timings};
use crate::server::{start_local, AppState, ServerError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;
use tracing::{info, info_span, warn, Instrument};

/// The truth is matched back to a map location within this distance (the page rounds to 6
/// decimals, ~0.1 m).
const LOCATION_MATCH_KM: f64 = 0.01;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("local game server: {0}")]
    Server(#[from] ServerError),
    #[error(transparent)]
    Browser(#[from] BrowserError),
    #[error("replay: {0}")]
    Replay(#[from] ReplayError),
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error("round {round} failed: {source}")]
    Round {
        round: usize,
        #[source]
        source: BrowserError,
    },
}

/// Everything needed to play one match.
#[derive(Clone)]
pub struct MatchPlan {
    /// Every map the server offers; `map` must be one of them.
    pub maps: Vec<Arc<Map>>,
    pub map: Arc<Map>,
    pub seed: u64,
    pub rounds: usize,
    pub browser: BrowserOptions,
    pub capture: CaptureOptions,
    pub replay_root: PathBuf,
    pub strategy: String,
}

/// What a finished (or interrupted) match produced.
#[derive(Debug, Clone)]
pub struct MatchReport {
    pub session_id: String,
    pub replay_dir: PathBuf,
    pub challenge_id: String,
    pub reasoner: String,
    pub map_name: String,
    pub rounds: Vec<RoundRecord>,
    pub launch: LaunchTiming,
}

impl MatchReport {
    pub fn total_points(&self) -> u64 {
        self.rounds.iter().map(|r| u64::from(r.result.points)).sum()
    }

    /// The per-round table and totals printed after `play`.
    pub fn render(&self) -> String {
        use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
            "Round",
            "Truth",
            "Guess",
            "Distance",
            "Points",
            "Guessed by",
        ]);
        for r in &self.rounds {
            let truth = match &r.result.place {
                Some(p) => format!("{p}\n{}", r.result.truth),
                None => r.result.truth.to_string(),
            };
            let by = match &r.guess.source {
                GuessSource::Model => "model".to_string(),
                GuessSource::Baseline => "baseline".to_string(),
                GuessSource::Fallback { reason } => format!("fallback: {reason}"),
            };
            t.add_row(vec![
                r.round.to_string(),
                truth,
                r.result.guess.to_string(),
                format!("{:.1} km", r.result.distance_km),
                r.result.points.to_string(),
                by,
            ]);
        }
        for col in [0, 3, 4] {
            if let Some(c) = t.column_mut(col) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        let n = self.rounds.len().max(1) as f64;
        let max = 5000 * self.rounds.len() as u64;
        format!(
            "{}\nTotal {} / {} points (mean {:.0} per round) · challenge {} · {}{}\nReplay: {}",
            t,
            self.total_points(),
            max,
            self.total_points() as f64 / n,
            self.challenge_id,
            self.reasoner,
            crate::lvlm::cost::usage_summary(
                self.rounds.iter().flat_map(|r| r
                    .guess
                    .exchanges
                    .iter()
                    .map(|e| (&e.usage, e.cached)))
            )
            .map(|s| format!("\n{s}"))
            .unwrap_or_default(),
            self.replay_dir.display()
        )
    }
}

/// How many times one match may relaunch a crashed or unresponsive browser before giving up.
pub const MAX_BROWSER_RESTARTS: usize = 2;

/// Where a game's rounds are recorded.
#[derive(Debug, Clone, Default)]
pub enum Record {
    /// A new session folder under the plan's replay root, with this id or a fresh one.
    #[default]
    New,
    /// A new session folder with this id (runs name their games' sessions predictably).
    NewWithId(String),
    /// Continue an existing session folder: its recorded rounds are kept and not played again.
    Resume(PathBuf),
}

/// Called with every round as soon as it is recorded (progress display, run bookkeeping).
pub type RoundHook<'a> = &'a (dyn Fn(&RoundRecord) + Send + Sync);

/// What games of one run share: the local game server and the browser pool.
pub struct Table {
    pub state: AppState,
    pub base_url: String,
    pub pool: BrowserPool,
}

/// Plays `plan` with `reasoner`. Finished rounds are on disk even when this returns an error.
pub async fn play(
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
) -> Result<MatchReport, SessionError> {
    play_recorded(plan, reasoner, Record::New).await
}

/// [`play`], recording into a new or an existing session folder (resume).
pub async fn play_recorded(
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
    record: Record,
) -> Result<MatchReport, SessionError> {
    let state = AppState::new(plan.maps.clone());
    let server = start_local(state.clone()).await?;
    let table = Table {
        state,
        base_url: server.url(),
        pool: BrowserPool::new(plan.browser.clone(), 1),
    };
    let outcome = play_game(&table, plan, reasoner, record, None).await;
    table.pool.close_idle().await;
    if let Err(e) = server.shutdown().await {
        warn!(error = %e, "local game server did not stop cleanly");
    }
    outcome
}

/// Plays one game of `plan` at `table` with a browser from its pool, and gives the browser back
/// for the next game when it ends well (a browser that failed for good is closed instead).
pub async fn play_game(
    table: &Table,
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
    record: Record,
    hook: Option<RoundHook<'_>>,
) -> Result<MatchReport, SessionError> {
    let challenge = Challenge::new(&plan.map, plan.seed, plan.rounds);
    let span = info_span!("match", challenge = %challenge.id(), reasoner = %reasoner.name());
    async move {
        let (writer, done) = open_record(plan, &challenge, reasoner.as_ref(), record)?;
        let mut report = MatchReport {
            session_id: writer
                .dir()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            replay_dir: writer.dir().to_path_buf(),
            challenge_id: challenge.id(),
            reasoner: reasoner.name(),
            map_name: plan.map.name.clone(),
            rounds: done,
            launch: LaunchTiming::default(),
        };
        let rounds_done = report.rounds.len();
        if rounds_done >= plan.rounds {
            return Ok(report);
        }
        let mut lease = table.pool.acquire().await?;
        let url = if rounds_done == 0 {
            format!(
                "{}/?seed={}&rounds={}&map={}",
                table.base_url, plan.seed, plan.rounds, plan.map.id
            )
        } else {
            let id = table
                .state
                .start_game_at(&plan.map.id, plan.seed, plan.rounds, rounds_done)
                .ok_or_else(|| {
                    SessionError::Resume(format!(
                        "the local game cannot continue challenge {} after round {rounds_done}",
                        challenge.id()
                    ))
                })?;
            format!("{}/?game={id}", table.base_url)
        };
        let mut restarts = 0;
        let first = match lease.take() {
            Some(b) => b,
            None => lease.relaunch(None).await?,
        };
        let game = match open_game(plan, first, &url, rounds_done).await {
            Ok(g) => g,
            Err((broken, e)) => {
                // A reused browser may have died while idle: one fresh one before giving up.
                restarts += 1;
                warn!(error = %e, "opening the game failed; relaunching the browser");
                let fresh = lease.relaunch(broken).await?;
                match open_game(plan, fresh, &url, rounds_done).await {
                    Ok(g) => g,
                    Err((broken, e)) => {
                        lease.discard(broken).await;
                        return Err(e);
                    }
                }
            }
        };
        report.launch = game.browser_timing();
        let mut seat = Seat {
            plan,
            state: &table.state,
            base_url: &table.base_url,
            game: Some(game),
            lease,
            restarts,
        };
        let outcome = seat
            .play_rounds(reasoner.as_ref(), writer, &mut report, hook)
            .await;
        let Seat {
            game, mut lease, ..
        } = seat;
        match (&outcome, game) {
            (Ok(()), Some(game)) => {
                lease.put(game.into_browser());
                lease.release();
            }
            (_, game) => lease.discard(game.map(LocalGame::into_browser)).await,
        }
        outcome.map(|()| report)
    }
    .instrument(span)
    .await
}

/// Creates the session folder, or reopens it and returns its recorded rounds (which must be the
/// challenge's first rounds, in order, as a browser game plays them).
fn open_record(
    plan: &MatchPlan,
    challenge: &Challenge,
    reasoner: &dyn Reasoner,
    record: Record,
) -> Result<(ReplayWriter, Vec<RoundRecord>), SessionError> {
    let session_id = match record {
        Record::Resume(dir) => {
            let (writer, replay) = ReplayWriter::reopen(&dir)?;
            let m = &replay.manifest;
            if m.challenge.id != challenge.id() || m.reasoner != reasoner.name() {
                return Err(SessionError::Resume(format!(
                    "{} holds challenge {} played by {}, not {} by {}; resume with the same map, seed, rounds and --model",
                    dir.display(),
                    m.challenge.id,
                    m.reasoner,
                    challenge.id(),
                    reasoner.name()
                )));
            }
            let mut rounds = replay.rounds;
            rounds.sort_by_key(|r| r.round);
            if rounds.iter().enumerate().any(|(i, r)| r.round != i + 1) {
                return Err(SessionError::Resume(format!(
                    "{}: recorded rounds {:?} are not the challenge's first rounds in order",
                    dir.display(),
                    rounds.iter().map(|r| r.round).collect::<Vec<_>>()
                )));
            }
            return Ok((writer, rounds));
        }
        Record::NewWithId(id) => id,
        Record::New => replay::new_session_id(),
    };
    let manifest = Manifest {
        format_version: replay::FORMAT_VERSION,
        session_id,
        created: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        environment: "local-game".into(),
        map: replay::MapInfo {
            id: plan.map.id.clone(),
            name: plan.map.name.clone(),
            size_km: plan.map.size_km,
            synthetic: plan.map.synthetic,
        },
        challenge: replay::ChallengeInfo {
            id: challenge.id(),
            seed: plan.seed,
            rounds: plan.rounds,
        },
        reasoner: reasoner.name(),
        strategy: plan.strategy.clone(),
        capture: replay::CaptureInfo {
            headings: plan.capture.headings,
            zoom_steps: plan.capture.zoom_steps,
            jpeg_quality: plan.capture.jpeg_quality,
        },
        parent: None,
    };
    Ok((
        ReplayWriter::create(&plan.replay_root, &manifest)?,
        Vec::new(),
    ))
}

/// Opens `url` in `browser`; `rounds_done` when resuming a game. On failure the browser comes
/// back (it may be fine, or broken) with the error.
async fn open_game(
    plan: &MatchPlan,
    browser: Browser,
    url: &str,
    rounds_done: usize,
) -> Result<LocalGame, (Option<Browser>, SessionError)> {
    match LocalGame::open(
        browser,
        url,
        &plan.map.name,
        plan.map.view,
        plan.capture.clone(),
    )
    .await
    {
        Ok(game) => Ok(game.after_rounds(rounds_done)),
        Err((browser, e)) => Err((Some(browser), e.into())),
    }
}

/// What a round attempt produced before it failed, so a crash after the guess loses nothing.
#[derive(Default)]
struct Attempt {
    obs: Option<Observation>,
    guess: Option<Guess>,
    reason_ms: u64,
}

/// A round whose guess the game has scored.
struct Finished {
    obs: Observation,
    guess: Guess,
    reason_ms: u64,
    result: RoundResult,
    timing: GuessTiming,
}

/// One game in progress: its browser game, and the pool slot to replace the browser from.
struct Seat<'a> {
    plan: &'a MatchPlan,
    state: &'a AppState,
    base_url: &'a str,
    game: Option<LocalGame>,
    lease: Lease,
    restarts: usize,
}

impl Seat<'_> {
    async fn play_rounds(
        &mut self,
        reasoner: &dyn Reasoner,
        mut writer: ReplayWriter,
        report: &mut MatchReport,
        hook: Option<RoundHook<'_>>,
    ) -> Result<(), SessionError> {
        for round in report.rounds.len() + 1..=self.plan.rounds {
            let span = info_span!("round", round);
            let record = self
                .play_round_recovering(round, reasoner, &mut writer)
                .instrument(span)
                .await?;
            info!(
                round,
                points = record.result.points,
                distance_km = format!("{:.1}", record.result.distance_km),
                "round done"
            );
            if let Some(h) = hook {
                h(&record);
            }
            report.rounds.push(record);
        }
        Ok(())
    }

    /// Plays a round; when the browser fails, relaunches it, resumes the same game and either
    /// takes the result the server already has (the guess went through) or plays the round again.
    async fn play_round_recovering(
        &mut self,
        round: usize,
        reasoner: &dyn Reasoner,
        writer: &mut ReplayWriter,
    ) -> Result<RoundRecord, SessionError> {
        loop {
            let t0 = Instant::now();
            let mut attempt = Attempt::default();
            let game = self.game.as_mut().ok_or_else(|| SessionError::Round {
                round,
                source: BrowserError::Contract("no browser".into()),
            })?;
            let outcome = play_round(game, reasoner, &mut attempt).await;
            let game_id = game.game_id().map(str::to_string);
            match outcome {
                Ok(done) => return self.record(round, writer, done, t0),
                Err(source) if self.restarts < MAX_BROWSER_RESTARTS && game_id.is_some() => {
                    self.restarts += 1;
                    let game_id = game_id.unwrap_or_default();
                    warn!(round, error = %source, restart = self.restarts, "browser failed; relaunching it and resuming the game");
                    let old = self.game.take().map(LocalGame::into_browser);
                    let fresh = self.lease.relaunch(old).await?;
                    let submitted = self
                        .state
                        .completed_rounds()
                        .into_iter()
                        .find(|c| c.game_id == game_id && c.round == round);
                    let rounds_done = if submitted.is_some() {
                        round
                    } else {
                        round - 1
                    };
                    let url = format!("{}/?game={game_id}", self.base_url);
                    match open_game(self.plan, fresh, &url, rounds_done).await {
                        Ok(g) => self.game = Some(g),
                        Err((broken, e)) => {
                            if let Some(b) = broken {
                                self.lease.put(b);
                            }
                            return Err(e);
                        }
                    }
                    if let (Some(c), Some(obs), Some(guess)) =
                        (submitted, attempt.obs.take(), attempt.guess.take())
                    {
                        // The server scored the guess before the crash: keep that round.
                        let result = RoundResult {
                            round,
                            guess: c.guess,
                            truth: c.truth,
                            distance_km: c.distance_km,
                            points: c.points,
                            place: None,
                            country: None,
                        };
                        let done = Finished {
                            obs,
                            guess,
                            reason_ms: attempt.reason_ms,
                            result,
                            timing: GuessTiming::default(),
                        };
                        return self.record(round, writer, done, t0);
                    }
                }
                Err(source) => return Err(SessionError::Round { round, source }),
            }
        }
    }

    fn record(
        &self,
        round: usize,
        writer: &mut ReplayWriter,
        done: Finished,
        t0: Instant,
    ) -> Result<RoundRecord, SessionError> {
        let Finished {
            obs,
            guess,
            reason_ms,
            mut result,
            timing,
        } = done;
        let location_id = annotate(&self.plan.map, &mut result);
        let views = writer.save_views(round, &obs.views)?;
        let record = RoundRecord {
            round,
            location_id,
            views,
            guess,
            result,
            timings: Timings {
                capture_ms: obs.capture_ms,
                reason_ms,
                guess_ms: timing.guess_ms,
                total_ms: t0.elapsed().as_millis() as u64,
            },
            finished_at: chrono::Utc::now(),
        };
        writer.append(&record)?;
        Ok(record)
    }
}

/// Observe → reason → guess. When the guess fails, what was observed and reasoned is left in
/// `attempt`, so a crash after the server scored the guess loses nothing.
async fn play_round(
    env: &mut LocalGame,
    reasoner: &dyn Reasoner,
    attempt: &mut Attempt,
) -> Result<Finished, BrowserError> {
    let obs = env.observe().await?;
    let t1 = Instant::now();
    let guess = reasoner.guess(&obs).await;
    let reason_ms = t1.elapsed().as_millis() as u64;
    if let GuessSource::Fallback { reason } = &guess.source {
        warn!(%reason, "model failed; using the baseline guess");
    }
    match env.guess(guess.pos).await {
        Ok((result, timing)) => Ok(Finished {
            obs,
            guess,
            reason_ms,
            result,
            timing,
        }),
        Err(e) => {
            *attempt = Attempt {
                obs: Some(obs),
                guess: Some(guess),
                reason_ms,
            };
            Err(e)
        }
    }
}
/// After the guess the truth is public: name the location it was, for the table and the replay.
fn annotate(map: &Map, result: &mut RoundResult) -> Option<String> {
    let loc = map
        .locations
        .iter()
        .min_by(|a, b| {
            a.pos
                .distance_km(&result.truth)
                .total_cmp(&b.pos.distance_km(&result.truth))
        })
        .filter(|l| l.pos.distance_km(&result.truth) <= LOCATION_MATCH_KM)?;
    result.place = loc.place.clone();
    result.country = loc.country.clone();
    Some(loc.id.clone())
}
