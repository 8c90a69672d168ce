//! One match from start to finish: start the local game server and a browser, play the rounds
//! (observe → reason → guess), record each round to the replay as it ends, and always shut
//! everything down, on success, on error and on cancellation (drop).
//!
//! [`play`] is one game with its own server and browser; [`play_game`] plays one game at a shared
//! [`Table`] (server + browser pool), which is how runs of many games reuse browsers. A crashed
//! browser is relaunched in the same pool slot and the game resumed by id (`/?game=ID`); a game
//! can also continue an existing session folder ([`Record::Resume`]).
//!
//! The rounds themselves go through the one round loop in [`round`], which every game uses.
//! [`play_assisted`] is a match a person watches and helps with on the assist page ([`watch`]).

pub mod rerun;
pub mod round;
pub mod site;
mod watch;

use crate::agent::Reasoner;
use crate::browser::local_game::LocalGame;
use crate::browser::pool::{BrowserPool, Lease};
use crate::browser::{Browser, BrowserError, BrowserOptions, LaunchTiming};
use crate::environment::{CaptureOptions, Environment, GuessTiming, Observation, Recovered};
use crate::game::{Challenge, ChallengeKey, Map, RoundResult};
use crate::geo::LatLon;
use crate::replay::{self, Manifest, ReplayError, ReplayWriter, RoundRecord};
use crate::server::assist::Assist;
use crate::server::{
    start_local, start_local_on, start_local_with, AppState, LocalServer, ServerError,
};
pub(crate) use round::RoundHook;
use round::{Recorder, RoundError};
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;
use tracing::{info_span, warn, Instrument};

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
    #[error("local game: {0}")]
    Start(String),
    #[error(transparent)]
    Round(#[from] RoundError<BrowserError>),
}

impl SessionError {
    /// The model's API key was rejected: no retry or later game can succeed.
    pub fn is_auth(&self) -> bool {
        matches!(self, SessionError::Round(e) if e.is_auth())
    }
}

/// Everything needed to play one match.
#[derive(Clone)]
pub struct MatchPlan {
    /// Every map the server offers; `map` must be one of them.
    pub maps: Vec<Arc<Map>>,
    pub map: Arc<Map>,
    pub seed: u64,
    /// Picks the challenge's places with the seed; the server the match starts uses it too.
    pub key: ChallengeKey,
    pub rounds: usize,
    pub browser: BrowserOptions,
    pub capture: CaptureOptions,
    pub replay_root: PathBuf,
    pub strategy: String,
}

/// What a match's `challenge_id` names: a seeded or site challenge other players can play, or
/// one game of the site's (a classic game's token is not a challenge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GameKind {
    Challenge,
    Game,
}

impl std::fmt::Display for GameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GameKind::Challenge => "challenge",
            GameKind::Game => "game",
        })
    }
}

/// What a finished (or interrupted) match produced.
#[derive(Debug, Clone)]
pub struct MatchReport {
    pub session_id: String,
    pub replay_dir: PathBuf,
    pub challenge_id: String,
    pub kind: GameKind,
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
            let by = r.guess.source.to_string();
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
            "{}\nTotal {} / {} points (mean {:.0} per round) · {} {} · {}{}\nReplay: {}",
            t,
            self.total_points(),
            max,
            self.total_points() as f64 / n,
            self.kind,
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
pub(crate) const MAX_BROWSER_RESTARTS: usize = 2;

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

/// What games of one run share: the local game server and the browser pool.
pub(crate) struct Table {
    pub state: AppState,
    pub base_url: String,
    pub pool: BrowserPool,
}

/// Which request to stop ended a match early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopSignal {
    /// Ctrl-C (SIGINT).
    Interrupt,
    /// SIGTERM: what `timeout`, containers, systemd and CI cancellation send.
    Terminate,
}

impl StopSignal {
    /// The shell's convention: 128 + the signal's number.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

/// How long geoagent may take to stop after Ctrl-C or SIGTERM before it exits anyway. Stopping
/// cleanly (the match's future dropped: browsers and chromedriver killed, profiles removed,
/// recorded rounds already on disk) takes well under a second; what cannot be cancelled is
/// blocking work in flight (a location's views being rendered, an image being shrunk), which the
/// runtime waits for on exit: a SIGTERM during `bench --resume` kept rendering at PPID 1.
pub(crate) const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Resolves when geoagent is asked to stop (Ctrl-C or SIGTERM). The caller drops the match's
/// future: recorded rounds are on disk already, and the browsers and chromedriver are killed
/// and their profiles removed by their destructors. From then on the process ends within
/// [`STOP_GRACE`] whatever is still running, and at once on a second signal.
pub(crate) async fn stop_requested() -> StopSignal {
    let stop = first_signal().await;
    exit_soon(stop);
    stop
}

async fn first_signal() -> StopSignal {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => StopSignal::Interrupt,
            _ = term.recv() => StopSignal::Terminate,
        },
        Err(e) => {
            warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops a match cleanly");
            let _ = tokio::signal::ctrl_c().await;
            StopSignal::Interrupt
        }
    }
}

/// Ends the process (with `stop`'s exit code) on a second Ctrl-C or SIGTERM, or when
/// [`STOP_GRACE`] has passed. It runs on a thread of its own with its own small runtime: the
/// program's runtime is being shut down, and its shutdown is what may be waiting. Once geoagent
/// listens for a signal the kernel no longer ends it on one, so this is what makes a second
/// signal work.
fn exit_soon(stop: StopSignal) {
    use tokio::signal::unix::{signal, SignalKind};
    // The listeners are made here, before the first stop is reported, so a second signal sent
    // as soon as it is cannot be missed.
    let watch = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|rt| {
            let again = {
                let _in = rt.enter();
                (
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                )
            };
            Ok((rt, again))
        });
    let watch = move || {
        let second = match watch {
            Ok((rt, (mut int, mut term))) => rt.block_on(async {
                tokio::select! {
                    _ = int.recv() => true,
                    _ = term.recv() => true,
                    _ = tokio::time::sleep(STOP_GRACE) => false,
                }
            }),
            // No runtime: no second signal to listen for; the grace still ends the process.
            Err(e) => {
                warn!(error = %e, "cannot listen for a second signal");
                std::thread::sleep(STOP_GRACE);
                false
            }
        };
        if !second {
            // Fixed text only: nothing from outside reaches the terminal here.
            eprintln!(
                "Still busy {} s after the stop request (work that cannot be cut short); exiting now.",
                STOP_GRACE.as_secs()
            );
        }
        std::process::exit(i32::from(stop.exit_code()));
    };
    if let Err(e) = std::thread::Builder::new()
        .name("stop-watch".into())
        .spawn(watch)
    {
        warn!(error = %e, "cannot watch the stop; a second signal will not end geoagent at once");
    }
}

/// Starts the local game where the browsers reach it, and returns its page URL: loopback, or
/// every interface with URLs naming the advertised host when the browsers run on other machines
/// (`browser.advertise`).
pub(crate) async fn serve_page(
    state: AppState,
    browser: &crate::browser::BrowserOptions,
) -> Result<(LocalServer, String), ServerError> {
    match &browser.advertise {
        None => {
            let server = start_local(state).await?;
            let url = server.url();
            Ok((server, url))
        }
        Some(a) => {
            // The browsers open the game by the advertised name: the server answers to it.
            match crate::server::HostName::parse(&a.host) {
                Ok(name) => state.allow_hosts(vec![name]),
                Err(why) => {
                    warn!(host = %a.host, %why, "the advertised host is not a host name the game's server can check requests against")
                }
            }
            let bind = std::net::SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, a.port));
            let server = match start_local_on(state.clone(), bind).await {
                Ok(s) => s,
                // The port is taken: IPv4 would find it taken too, and say less.
                Err(e @ ServerError::PortInUse { .. }) => return Err(e),
                // No IPv6 on this machine: every IPv4 interface.
                Err(_) => {
                    let v4 = std::net::SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, a.port));
                    start_local_on(state, v4).await?
                }
            };
            let url = a.url(server.addr.port());
            tracing::info!("browsers open the local game at {url}");
            Ok((server, url))
        }
    }
}

/// Plays `plan` with `reasoner`. Finished rounds are on disk even when this returns an error.
pub async fn play(
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
) -> Result<MatchReport, SessionError> {
    play_recorded(plan, reasoner, Record::New).await
}

/// [`play`], recording into a new or an existing session folder (resume).
pub(crate) async fn play_recorded(
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
    record: Record,
) -> Result<MatchReport, SessionError> {
    play_watched(plan, reasoner, record, None).await
}

/// [`play`] with a person watching and helping on the assist page, served by the game's own
/// server; `on_link` is given the page's address as soon as the server listens. `reasoner`
/// should take its hints from `assist` (the interactive strategy with `assist` as its
/// [`crate::agent::strategy::HintSource`]); the page shows its rounds either way. `hook` is
/// called with every round as soon as it is recorded, as in [`play_watched`].
pub(crate) async fn play_assisted(
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
    assist: Assist,
    on_link: impl FnOnce(&str) + Send,
    hook: Option<RoundHook<'_>>,
) -> Result<MatchReport, SessionError> {
    play_with(
        plan,
        reasoner,
        Record::New,
        hook,
        Some((assist, Box::new(on_link))),
    )
    .await
}

/// A person's assist page and where to send its link.
type Watch<'a> = (Assist, Box<dyn FnOnce(&str) + Send + 'a>);

/// [`play_recorded`], calling `hook` with every round as soon as it is recorded (`play` prints
/// a line per round with it).
pub(crate) async fn play_watched(
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
    record: Record,
    hook: Option<RoundHook<'_>>,
) -> Result<MatchReport, SessionError> {
    play_with(plan, reasoner, record, hook, None).await
}

/// One match on the local game: with `watch`, a person's assist page is served beside the game
/// (loopback only) and shown every round.
async fn play_with(
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
    record: Record,
    hook: Option<RoundHook<'_>>,
    watch: Option<Watch<'_>>,
) -> Result<MatchReport, SessionError> {
    let state = AppState::for_agent(plan.maps.clone(), plan.key.clone());
    let (server, base_url) = match &watch {
        // The assist page is for a person on this machine: loopback only.
        Some((assist, _)) => {
            let loopback = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
            let server = start_local_with(state.clone(), loopback, assist.router()).await?;
            let url = server.url();
            (server, url)
        }
        None => serve_page(state.clone(), &plan.browser).await?,
    };
    let table = Table {
        state,
        base_url,
        pool: BrowserPool::new(plan.browser.clone(), 1),
    };
    let outcome = match watch {
        None => play_game(&table, plan, reasoner, record, hook).await,
        Some((assist, on_link)) => {
            on_link(&format!("{}{}", server.url(), assist.path()));
            let watched = Arc::new(watch::Watched {
                inner: reasoner,
                assist: assist.clone(),
            });
            let shown = assist.clone();
            let both = move |r: &RoundRecord| {
                shown.scored(r);
                if let Some(h) = hook {
                    h(r);
                }
            };
            let outcome = play_game(&table, plan, watched, record, Some(&both)).await;
            assist.finished();
            // The person sees the last score and the end before the server stops.
            assist.farewell(crate::server::assist::FAREWELL).await;
            outcome
        }
    };
    table.pool.close_idle().await;
    if let Err(e) = server.shutdown().await {
        warn!(error = %e, "local game server did not stop cleanly");
    }
    outcome
}

/// Plays one game of `plan` at `table` with a browser from its pool, and gives the browser back
/// for the next game when it ends well (a browser that failed for good is closed instead).
pub(crate) async fn play_game(
    table: &Table,
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
    record: Record,
    hook: Option<RoundHook<'_>>,
) -> Result<MatchReport, SessionError> {
    let challenge = Challenge::with_key(&plan.map, plan.seed, plan.rounds, &plan.key);
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
            kind: GameKind::Challenge,
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
        // The server starts the game itself: its page cannot start one (`AppState::for_agent`).
        let id = table
            .state
            .start_game_at(&plan.map.id, plan.seed, plan.rounds, rounds_done)
            .ok_or_else(|| {
                SessionError::Start(format!(
                    "cannot start challenge {} at round {} (unknown map, no places, or nothing left to play)",
                    challenge.id(),
                    rounds_done + 1
                ))
            })?;
        let url = format!("{}/?game={id}", table.base_url);
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
                        return Err(e.into());
                    }
                }
            }
        };
        report.launch = game.browser_timing();
        let mut seat = Seat {
            plan,
            table,
            game: Some(game),
            lease,
            restarts,
            location_id: None,
        };
        let recorder = Recorder::new(writer);
        let mut outcome = Ok(());
        for n in rounds_done + 1..=plan.rounds {
            match round::play_round(&mut seat, n, reasoner.as_ref(), &recorder, hook).await {
                Ok(record) => report.rounds.push(record),
                Err(e) => {
                    outcome = Err(SessionError::from(e));
                    break;
                }
            }
        }
        let Seat {
            game, mut lease, ..
        } = seat;
        match (&outcome, game) {
            (Ok(()), Some(game)) => {
                lease.put(game.into_browser());
                lease.release().await;
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
            let prompts = reasoner
                .prompts()
                .map(|p| replay::prompts::PromptsInfo::of(&p));
            if m.prompts != prompts {
                return Err(SessionError::Resume(format!(
                    "{} was played with prompts {}, not {}: a session keeps one prompt set",
                    dir.display(),
                    m.prompts.as_ref().map_or("built in".into(), |p| p.label()),
                    prompts.as_ref().map_or("built in".into(), |p| p.label()),
                )));
            }
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
    let prompts = reasoner.prompts();
    let manifest = Manifest {
        format_version: replay::FORMAT_VERSION,
        session_id,
        created: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        environment: crate::environment::Kind::LocalGame,
        map: replay::MapInfo {
            id: plan.map.id.clone(),
            name: plan.map.name.clone(),
            size_km: Some(plan.map.size_km),
            synthetic: plan.map.synthetic,
        },
        challenge: replay::ChallengeInfo {
            id: challenge.id(),
            seed: plan.seed,
            rounds: plan.rounds,
            key_id: plan.key.fingerprint(),
        },
        reasoner: reasoner.name(),
        strategy: plan.strategy.clone(),
        capture: replay::CaptureInfo {
            headings: plan.capture.headings,
            zoom_steps: plan.capture.zoom_steps,
            jpeg_quality: plan.capture.jpeg_quality,
        },
        parent: None,
        prompts: prompts.as_deref().map(replay::prompts::PromptsInfo::of),
    };
    Ok((
        ReplayWriter::create_with_prompts(&plan.replay_root, &manifest, prompts.as_deref())?,
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
) -> Result<LocalGame, (Option<Browser>, BrowserError)> {
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
        Err((browser, e)) => Err((Some(browser), e)),
    }
}

/// One game of the local game at a [`Table`]: its browser game and the pool slot to replace the
/// browser from. As an [`Environment`] it survives browser crashes: it relaunches the browser in
/// the same slot, resumes the game by id and tells the round loop whether the server already
/// scored the guess.
struct Seat<'a> {
    plan: &'a MatchPlan,
    table: &'a Table,
    game: Option<LocalGame>,
    lease: Lease,
    restarts: usize,
    /// The map location of the round last scored.
    location_id: Option<String>,
}

impl Seat<'_> {
    fn game(&mut self) -> Result<&mut LocalGame, BrowserError> {
        self.game
            .as_mut()
            .ok_or_else(|| BrowserError::Contract("no browser".into()))
    }
}

#[async_trait::async_trait]
impl Environment for Seat<'_> {
    type Error = BrowserError;

    async fn observe(&mut self) -> Result<Observation, BrowserError> {
        self.game()?.observe().await
    }

    async fn guess(&mut self, at: LatLon) -> Result<(RoundResult, GuessTiming), BrowserError> {
        let (mut result, timing) = self.game()?.guess(at).await?;
        self.location_id = annotate(&self.plan.map, &mut result);
        Ok((result, timing))
    }

    async fn recover(
        &mut self,
        round: usize,
        guessed: bool,
        error: BrowserError,
    ) -> Result<Recovered, BrowserError> {
        let game_id = self
            .game
            .as_ref()
            .and_then(|g| g.game_id())
            .map(str::to_string);
        let Some(game_id) = game_id.filter(|_| self.restarts < MAX_BROWSER_RESTARTS) else {
            return Err(error);
        };
        self.restarts += 1;
        warn!(round, %error, restart = self.restarts, "browser failed; relaunching it and resuming the game");
        let old = self.game.take().map(LocalGame::into_browser);
        let fresh = self.lease.relaunch(old).await?;
        let submitted = guessed
            .then(|| {
                self.table
                    .state
                    .completed_rounds()
                    .into_iter()
                    .find(|c| c.game_id == game_id && c.round == round)
            })
            .flatten();
        let rounds_done = if submitted.is_some() {
            round
        } else {
            round - 1
        };
        let url = format!("{}/?game={game_id}", self.table.base_url);
        match open_game(self.plan, fresh, &url, rounds_done).await {
            Ok(g) => self.game = Some(g),
            Err((broken, e)) => {
                if let Some(b) = broken {
                    self.lease.put(b);
                }
                return Err(e);
            }
        }
        Ok(match submitted {
            // The server scored the guess before the crash: keep that round.
            Some(c) => {
                let mut result = RoundResult {
                    round,
                    guess: c.guess,
                    truth: c.truth,
                    distance_km: c.distance_km,
                    points: c.points,
                    place: None,
                    country: None,
                };
                self.location_id = annotate(&self.plan.map, &mut result);
                Recovered::Scored(result)
            }
            None => Recovered::Replay,
        })
    }

    fn location_id(&self) -> Option<String> {
        self.location_id.clone()
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
