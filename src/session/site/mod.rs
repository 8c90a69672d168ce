//! One game on geoguessr.com from start to finish: check the cookie, respect the account's pacing,
//! create the classic game or join the challenge, play its rounds through the one round loop
//! ([`super::round`]) into a replay like the local game's (environment `geoguessr`), and for a
//! challenge store every other player's rounds as human results. A stopped game resumes from its
//! session folder ([`SiteGameSpec::Resume`]): the same game token, into the same replay, with
//! every round the site scored meanwhile recorded first ([`ahead`]). With a time limit the
//! reasoner is cut off in time for the guess to land before the site's clock runs out
//! ([`deadline`]).
//!
//! The session folder also gets `geoguessr.json`: the game token, challenge, map and restrictions,
//! and the site's points beside ours per round. Never the cookie.

mod ahead;
mod deadline;
mod pacing;
pub(crate) use pacing::PACING_DIR;

use super::round::{self, Recorder, RoundError};
use super::{GameKind, MatchReport};
use crate::agent::baseline::BASELINE_NAME;
use crate::agent::Reasoner;
use crate::browser::geoguessr::api::{Api, GameRead, NewGame};
use crate::browser::geoguessr::clock::Deadline;
use crate::browser::geoguessr::settings::SiteOptions;
use crate::browser::geoguessr::state::GameState;
use crate::browser::geoguessr::{NcfaCookie, ScoreCheck, SiteError, SiteGame, Token};
use crate::browser::BrowserOptions;
use crate::environment::CaptureOptions;
use crate::humans::{self, HumansError};
use crate::replay::{self, Manifest, ReplayError, ReplayWriter};
use pacing::Pacing;

/// The account's slot and one game of its hourly budget, for a game started outside a play
/// (`geoguessr check --create-game`); held until dropped.
pub fn claim_new_game(
    replay_root: &std::path::Path,
    account: &str,
    opts: &crate::browser::geoguessr::settings::SiteOptions,
) -> Result<impl Send, SiteSessionError> {
    Pacing::claim(replay_root, account, opts, true)
}
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use thiserror::Error;
use tracing::{info, info_span, warn, Instrument};

/// The sidecar file in the session folder.
pub(crate) const SITE_FILE: &str = "geoguessr.json";
/// Largest `geoguessr.json` read: a few kilobytes per game; a bigger one was not written here.
const MAX_SITE_FILE_BYTES: u64 = 1024 * 1024;

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
    /// The game stopped after its session folder was made: where it is and how to go on.
    #[error("{error}\nEvery round the site scored is in {}: continue with `geoagent play --resume {}`", dir.display(), dir.display())]
    Stopped {
        dir: PathBuf,
        error: Box<SiteSessionError>,
    },
}

/// What to play.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteGameSpec {
    /// A new classic game.
    New(NewGame),
    /// Join (or continue) challenge `token`.
    Challenge(Token),
    /// Continue this account's game `token`.
    Game(Token),
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
    /// Checked like a token from the command line when read back (a session folder is
    /// untrusted input).
    #[serde(deserialize_with = "token_field::game")]
    pub game_token: Token,
    #[serde(default, deserialize_with = "token_field::challenge")]
    pub challenge_token: Option<Token>,
    pub map: String,
    pub map_name: String,
    /// The map's `maxErrorDistance` (metres): the site's score scale; `None` when it could not
    /// be read (see `map_scale_problem`).
    pub max_error_distance_m: Option<f64>,
    /// Why the map's `maxErrorDistance` is unknown. The points are the site's either way; our
    /// own score beside them is then not computed, and the session's manifest records no map
    /// size (readers that need one say it is unknown rather than assume the world's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_scale_problem: Option<String>,
    pub forbid_moving: bool,
    pub forbid_zooming: bool,
    pub forbid_rotating: bool,
    pub time_limit_secs: u32,
    pub guess_via: String,
    pub scores: Vec<ScoreCheck>,
}

impl SiteRecord {
    /// The map's scale in km, when it is a usable one.
    fn map_size_km(&self) -> Option<f64> {
        self.max_error_distance_m
            .filter(|m| m.is_finite() && *m > 0.0)
            .map(|m| m / 1000.0)
    }

    /// Adds score checks, one per round (a newer check of a round replaces the older).
    fn merge_scores(&mut self, checks: &[ScoreCheck]) {
        for c in checks {
            self.scores.retain(|x| x.round != c.round);
            self.scores.push(*c);
        }
        self.scores.sort_by_key(|c| c.round);
    }
}

/// Token fields of `geoguessr.json`, read as [`Token::parse`] reads the command line, with the
/// field named in the error.
mod token_field {
    use super::Token;
    use serde::{de::Error, Deserialize, Deserializer};

    pub fn game<'de, D: Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        let s = String::deserialize(d)?;
        Token::parse(&s).map_err(|e| D::Error::custom(format!("game_token: {e}")))
    }

    pub fn challenge<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Token>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                Token::parse(&s).map_err(|e| D::Error::custom(format!("challenge_token: {e}")))
            })
            .transpose()
    }
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

/// Plays one game of `plan` with `reasoner`. Every round the site scored is in the replay, even
/// on error (which then names the session folder to resume).
pub async fn play_site(
    plan: &SitePlan,
    reasoner: Arc<dyn Reasoner>,
) -> Result<SiteReport, SiteSessionError> {
    play_site_noting(plan, reasoner, &OnceLock::new()).await
}

/// [`play_site`], with the session folder put in `session` as soon as it exists (for a caller
/// that may stop the game and wants to say where to resume it).
pub async fn play_site_noting(
    plan: &SitePlan,
    reasoner: Arc<dyn Reasoner>,
    session: &OnceLock<PathBuf>,
) -> Result<SiteReport, SiteSessionError> {
    // A session that cannot be resumed (another model, not a site session) is said before the
    // site is asked anything.
    let mut resumed = match &plan.spec {
        SiteGameSpec::Resume(dir) => Some(Resumed::read(dir, &reasoner.name())?),
        _ => None,
    };
    let api = Api::new(&plan.site, &plan.cookie)?;
    let profile = api.profile().await?;
    // A resumed game was counted when it started: it takes the account's slot, not its budget.
    let _slot = Pacing::claim(
        &plan.replay_root,
        &profile.id,
        &plan.site,
        resumed.is_none(),
    )?;
    let asked = Instant::now();
    let (state, challenge, requested) = match (&mut resumed, &plan.spec) {
        (Some(r), _) => (
            r.read_game(&api).await?,
            r.record.challenge_token.clone(),
            None,
        ),
        // Round 1's clock starts with the game: not before this request.
        (None, SiteGameSpec::New(g)) => (api.create_game(g).await?, None, Some(asked)),
        (None, SiteGameSpec::Challenge(t)) => (api.join_challenge(t).await?, Some(t.clone()), None),
        (None, SiteGameSpec::Game(t)) => (api.game(t).await?, None, None),
        (None, SiteGameSpec::Resume(dir)) => {
            return Err(SiteSessionError::Resume {
                dir: dir.display().to_string(),
                detail: "the session could not be read".into(),
            })
        }
    };
    let token = Token::parse(&state.token)?;
    let span = info_span!("site_game", token = %token);
    async move {
        let (writer, mut record, earlier, manifest, lost) = match resumed {
            Some(mut r) => {
                let lost = r.record_lost()?;
                info!(
                    recorded = r.replay.rounds.len() + lost.len(),
                    scored = state.guessed(),
                    "resuming the game"
                );
                (r.writer, r.record, r.replay.rounds, r.replay.manifest, lost)
            }
            None => {
                let (writer, record, manifest) = new_session(
                    &api,
                    &state,
                    &token,
                    challenge.clone(),
                    plan,
                    reasoner.as_ref(),
                )
                .await?;
                (writer, record, vec![], manifest, vec![])
            }
        };
        let dir = writer.dir().to_path_buf();
        let _ = session.set(dir.clone());
        let played = play_rounds(
            plan,
            &api,
            reasoner,
            state,
            writer,
            &mut record,
            (earlier, lost, manifest),
            requested,
        )
        .await;
        let report = match played {
            Ok(r) => r,
            Err(e) => {
                return Err(SiteSessionError::Stopped {
                    dir,
                    error: Box::new(e),
                })
            }
        };
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

/// What a session already holds when its rounds are played: the rounds recorded before, the
/// rounds just recovered from the site, and the manifest.
type Held = (
    Vec<replay::RoundRecord>,
    Vec<(replay::RoundRecord, ScoreCheck)>,
    Manifest,
);

/// Plays the open rounds of game `state` into the session of `writer`, keeping `record` (and
/// `geoguessr.json`) up to date after every round.
#[allow(clippy::too_many_arguments)]
async fn play_rounds(
    plan: &SitePlan,
    api: &Api,
    reasoner: Arc<dyn Reasoner>,
    state: GameState,
    writer: ReplayWriter,
    record: &mut SiteRecord,
    (earlier, lost, manifest): Held,
    requested: Option<Instant>,
) -> Result<MatchReport, SiteSessionError> {
    let dir = writer.dir().to_path_buf();
    let lost_checks: Vec<ScoreCheck> = lost.iter().map(|(_, c)| *c).collect();
    record.merge_scores(&lost_checks);
    write_record(&dir, record)?;
    let mut report = MatchReport {
        session_id: manifest.session_id.clone(),
        replay_dir: dir.clone(),
        challenge_id: manifest.challenge.id.clone(),
        kind: if record.challenge_token.is_some() {
            GameKind::Challenge
        } else {
            GameKind::Game
        },
        reasoner: reasoner.name(),
        map_name: state.map_name.clone(),
        rounds: earlier
            .into_iter()
            .chain(lost.into_iter().map(|(r, _)| r))
            .collect(),
        launch: Default::default(),
    };
    report.rounds.sort_by_key(|r| r.round);
    let rounds = state.round_count;
    let first = state.guessed() + 1;
    // A resumed game the site already finished needs no browser.
    if first > rounds {
        ahead::clear(&dir);
        return Ok(report);
    }
    let deadline = Deadline::default();
    let reasoner = deadline::with_time_limit(
        reasoner,
        state.time_limit,
        plan.site.time_limit_margin,
        deadline.clone(),
    );
    let reasoner = ahead::writing_ahead(reasoner, dir.clone());
    let mut game = SiteGame::open(
        api.clone(),
        plan.cookie.clone(),
        plan.browser.clone(),
        plan.capture.clone(),
        state,
        record.map_size_km(),
        requested,
        deadline,
    )
    .await?;
    let recorder = Recorder::new(writer);
    let mut outcome: Result<(), SiteSessionError> = Ok(());
    for n in first..=rounds {
        let played = round::play_round(&mut game, n, reasoner.as_ref(), &recorder, None).await;
        record.merge_scores(game.checks());
        let written = write_record(&dir, record);
        match played {
            Ok(r) => report.rounds.push(r),
            Err(e) => {
                outcome = Err(e.into());
                break;
            }
        }
        written?;
    }
    game.close().await;
    outcome?;
    ahead::clear(&dir);
    Ok(report)
}

/// A new session folder for game `state`: its manifest and `geoguessr.json`.
async fn new_session(
    api: &Api,
    state: &GameState,
    token: &Token,
    challenge: Option<Token>,
    plan: &SitePlan,
    reasoner: &dyn Reasoner,
) -> Result<(ReplayWriter, SiteRecord, Manifest), SiteSessionError> {
    let (max_error_m, map_scale_problem) = map_scale(api, &state.map).await;
    if let Some(p) = &map_scale_problem {
        warn!(problem = %p, "the map's score scale is unknown: the points are the site's, ours are not computed, and the session records no map size (`replay rescore` and `replay rerun` will refuse it)");
    }
    let manifest = Manifest {
        format_version: replay::FORMAT_VERSION,
        session_id: replay::new_session_id(),
        created: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        environment: crate::environment::Kind::Geoguessr,
        map: replay::MapInfo {
            id: state.map.clone(),
            name: state.map_name.clone(),
            size_km: max_error_m.map(|m| m / 1000.0),
            synthetic: false,
        },
        challenge: replay::ChallengeInfo {
            id: challenge.as_ref().unwrap_or(token).to_string(),
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
        prompts: reasoner
            .prompts()
            .map(|p| replay::prompts::PromptsInfo::of(&p)),
    };
    let writer = ReplayWriter::create_with_prompts(
        &plan.replay_root,
        &manifest,
        reasoner.prompts().as_deref(),
    )?;
    let record = SiteRecord {
        game_token: token.clone(),
        challenge_token: challenge,
        map: state.map.clone(),
        map_name: state.map_name.clone(),
        max_error_distance_m: max_error_m,
        map_scale_problem,
        forbid_moving: state.forbid_moving,
        forbid_zooming: state.forbid_zooming,
        forbid_rotating: state.forbid_rotating,
        time_limit_secs: state.time_limit,
        guess_via: format!("{:?}", plan.site.guess_via).to_lowercase(),
        scores: vec![],
    };
    Ok((writer, record, manifest))
}

/// The map's `maxErrorDistance` (metres), or why it is unknown.
async fn map_scale(api: &Api, map: &str) -> (Option<f64>, Option<String>) {
    let id = match Token::parse(map) {
        Ok(id) => id,
        Err(e) => return (None, Some(format!("the game's map id: {e}"))),
    };
    match api.map(&id).await {
        Ok(m) if m.max_error_distance.is_finite() && m.max_error_distance > 0.0 => {
            (Some(m.max_error_distance), None)
        }
        Ok(_) => (
            None,
            Some(format!(
                "map {id}: the site's maxErrorDistance is not a positive number"
            )),
        ),
        Err(e) => (None, Some(format!("map {id}: {e}"))),
    }
}

/// A session folder being resumed: its replay reopened for appending, and its `geoguessr.json`.
struct Resumed {
    writer: ReplayWriter,
    replay: replay::Replay,
    record: SiteRecord,
    /// The game as read when resuming.
    read: Option<GameRead>,
}

impl Resumed {
    fn read(dir: &Path, reasoner: &str) -> Result<Resumed, SiteSessionError> {
        let fail = |detail: String| SiteSessionError::Resume {
            dir: dir.display().to_string(),
            detail,
        };
        let path = dir.join(SITE_FILE);
        let bytes = read_capped(&path, MAX_SITE_FILE_BYTES).map_err(|e| {
            fail(format!(
                "{SITE_FILE}: {e} (only a session played with --site geoguessr resumes on the site)"
            ))
        })?;
        let record: SiteRecord = serde_json::from_slice(&bytes)
            .map_err(|e| fail(format!("{SITE_FILE} is not a geoguessr record: {e}")))?;
        let manifest = replay::Replay::open(dir)?.manifest;
        if manifest.environment != crate::environment::Kind::Geoguessr {
            return Err(fail(format!(
                "a `{}` session, not a geoguessr.com one",
                manifest.environment
            )));
        }
        if manifest.reasoner != reasoner {
            let recorded = replay::clip_name(&manifest.reasoner);
            let pass = if recorded == BASELINE_NAME {
                "resume it without --model".to_string()
            } else {
                format!("resume it with the same --model {recorded}")
            };
            return Err(fail(format!(
                "this session was played by {recorded}, not {reasoner}: {pass}"
            )));
        }
        let (writer, replay) = ReplayWriter::reopen(dir)?;
        Ok(Resumed {
            writer,
            replay,
            record,
            read: None,
        })
    }
}

impl Resumed {
    /// The recorded game, read once: its state, and the truths of rounds scored meanwhile.
    async fn read_game(&mut self, api: &Api) -> Result<GameState, SiteSessionError> {
        let read = api.read_game(&self.record.game_token).await?;
        let state = read.state.clone();
        self.read = Some(read);
        Ok(state)
    }

    /// Records every round the site scored that the replay lacks (see [`ahead::record_lost`]).
    fn record_lost(&mut self) -> Result<Vec<(replay::RoundRecord, ScoreCheck)>, SiteSessionError> {
        let Some(read) = &self.read else {
            return Ok(vec![]);
        };
        ahead::record_lost(
            read,
            &self.replay,
            &mut self.writer,
            self.record.map_size_km(),
        )
    }
}

/// The first `max` bytes of `path`, or an error when it is longer.
fn read_capped(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs_err::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "larger than {max} bytes: not a file geoagent wrote"
        )));
    }
    Ok(bytes)
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
    token: &Token,
    own_id: &str,
    store: &Path,
) -> Result<usize, SiteSessionError> {
    let pages = api.highscores(token).await?;
    let source = format!("geoguessr:highscores/{token}");
    let imp = humans::parse_highscores(
        &source,
        &serde_json::Value::Array(pages),
        Some(token.as_str()),
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
    let added = humans::Store::open(store).append_new(rounds)?;
    info!(added, "human results stored");
    Ok(added)
}
