//! `geoagent play`: one match, or many games at once (`--games`, `--parallel`), in Chromium
//! against the local game; resumable (`--resume`).

use super::args::{check_challenge_rounds, path, push, MatchArgs, Overrides};
use super::wiring::{
    build_reasoner, build_reasoner_from, build_reasoner_with_hints, challenge_key, load_maps,
    locate, match_plan, recorded_key, recorded_prompts, resumed_settings, seed_or_random, Recorded,
};
use super::Cli;
use crate::agent::strategy::StrategyKind;
use crate::agent::Reasoner;
use crate::config::Settings;
use crate::game::pack;
use crate::replay::prompts::PromptsInfo;
use crate::server::assist::{self, Assist};
use crate::session::{self, MatchPlan};
use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Characters of the model's rationale in the line `play` prints per round: one terminal line
/// with the points and distance before it.
const ROUND_LINE_RATIONALE_CHARS: usize = 100;

/// The line `play` prints as a round ends: points, distance and the model's rationale (or why
/// the baseline guessed), on one line. The rationale is a model's text: control characters
/// (escape sequences), invisible format characters (bidirectional overrides) and line breaks
/// become spaces, and it is cut to [`ROUND_LINE_RATIONALE_CHARS`].
pub(crate) fn round_line(r: &crate::replay::RoundRecord, rounds: usize) -> String {
    let why = match &r.guess.source {
        crate::agent::GuessSource::Fallback { reason } => Some(format!("fallback: {reason}")),
        _ => r.guess.rationale.clone(),
    };
    let mut line = format!(
        "round {}/{rounds}: {} points, {:.1} km",
        r.round, r.result.points, r.result.distance_km
    );
    if let Some(w) = why.map(|w| one_line(&w, ROUND_LINE_RATIONALE_CHARS)) {
        if !w.is_empty() {
            line.push_str(" · ");
            line.push_str(&w);
        }
    }
    line
}

/// `s` as one line of at most `max` characters (plus `…` when cut), safe to print to a terminal.
fn one_line(s: &str, max: usize) -> String {
    match crate::text::line_cut(s, max) {
        (text, true) => format!("{text}…"),
        (text, false) => text,
    }
}

/// `--site` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SiteArg {
    /// The local game, in headless Chromium.
    #[default]
    Local,
    /// geoguessr.com with your account (the _ncfa cookie): classic games and challenges.
    Geoguessr,
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Play a challenge people already played: its id (MAP-SEED-ROUNDS, as `serve` and `stats`
    /// show it), or with `--site geoguessr` its link (https://www.geoguessr.com/challenge/TOKEN),
    /// so agent and humans saw the same rounds.
    #[arg(long, value_name = "ID_OR_URL", conflicts_with_all = ["rounds", "seed", "map", "resume"])]
    pub challenge: Option<String>,
    /// Where to play: the local game (default) or geoguessr.com.
    #[arg(long, value_enum, value_name = "SITE")]
    pub site: Option<SiteArg>,
    /// geoguessr.com: no moving (panning and zooming allowed).
    #[arg(long)]
    pub no_move: bool,
    /// geoguessr.com: no moving, panning or zooming (one view per round).
    #[arg(long)]
    pub nmpz: bool,
    /// geoguessr.com: seconds per round (0 = none).
    #[arg(long, value_name = "S")]
    pub time_limit: Option<u32>,
    /// geoguessr.com: place the guess by clicking the guess map (map) or posting it (api).
    #[arg(long, value_name = "HOW", ignore_case = true, value_parser = super::args::ClosedName::<crate::browser::geoguessr::settings::GuessVia>::new())]
    pub guess_via: Option<crate::browser::geoguessr::settings::GuessVia>,
    #[command(flatten)]
    pub game: MatchArgs,
    #[arg(long, value_name = "PATH")]
    pub chromedriver: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    pub chromium: Option<PathBuf>,
    /// Use this WebDriver endpoint instead of starting chromedriver (e.g. a Selenium Grid).
    #[arg(long, value_name = "URL")]
    pub webdriver: Option<String>,
    /// HOST[:PORT] at which the WebDriver's browsers (Grid nodes on other machines) reach the
    /// local game; it then listens on every interface. Default: loopback only.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub advertise: Option<String>,
    /// Show the browser window (needs a display).
    #[arg(long)]
    pub headed: bool,
    /// Play this many games, each its own challenge (seeds SEED, SEED+1, ...), as one run.
    #[arg(long, value_name = "N", conflicts_with = "resume")]
    pub games: Option<usize>,
    /// Browser sessions at once (a pool reused between games).
    #[arg(long, value_name = "P")]
    pub parallel: Option<usize>,
    /// Continue a run (its id or runs/RUN.json) or a session folder after a crash or Ctrl-C.
    #[arg(long, value_name = "RUN_OR_SESSION")]
    pub resume: Option<String>,
    /// Watch and help: print a private link to a page that shows each round's views and the
    /// model's reasoning, where you type hints or corrections before the guess is placed (the
    /// model revises with them: the interactive strategy).
    /// The page is served on loopback beside the game, so not with --advertise.
    #[arg(long, conflicts_with_all = ["games", "parallel", "resume", "advertise"])]
    pub assist: bool,
    /// With --assist: seconds each answer waits for your hints (default 30; 0 = no waiting,
    /// hints typed while the model thinks are still used). "Go" on the page ends the wait.
    #[arg(long, value_name = "SECS", requires = "assist")]
    pub hint_window: Option<f64>,
}

/// Rounds of a classic game on geoguessr.com.
const SITE_ROUNDS: usize = 5;

/// What `play` runs on.
#[derive(Debug)]
pub struct PlayRun {
    pub settings: Settings,
    /// Games in the run (1: a single match).
    pub games: usize,
    /// Browsers at once; absent = 1, or the resumed run's.
    pub parallel: Option<usize>,
    /// The run or session to continue.
    pub resume: Option<String>,
    /// `--assist`: how long each answer waits for the person's hints.
    pub assist: Option<Duration>,
    pub site: SiteArg,
    /// `--site geoguessr --challenge URL`: the challenge or game to play.
    pub site_target: Option<crate::browser::geoguessr::Target>,
}

/// Splits a challenge id `MAP-SEED-ROUNDS` (the map id may itself contain dashes).
pub(crate) fn parse_challenge_id(id: &str) -> Result<(String, u64, usize)> {
    let mut parts = id.rsplitn(3, '-');
    let (rounds, seed, map) = (parts.next(), parts.next(), parts.next());
    match (map, seed.and_then(|s| s.parse().ok()), rounds.and_then(|r| r.parse().ok())) {
        (Some(m), Some(s), Some(r)) if !m.is_empty() => Ok((m.to_string(), s, r)),
        _ => anyhow::bail!(
            "--challenge {id}: expected MAP-SEED-ROUNDS such as world-1234-5 (the id `serve` prints)"
        ),
    }
}

impl PlayArgs {
    fn overrides(&self) -> Result<Overrides> {
        let mut o = vec![];
        if self.no_move {
            o.push(("geoguessr.forbid_moving", "true".into()));
        }
        if self.nmpz {
            for k in [
                "geoguessr.forbid_moving",
                "geoguessr.forbid_zooming",
                "geoguessr.forbid_rotating",
            ] {
                o.push((k, "true".into()));
            }
        }
        push(&mut o, "geoguessr.time_limit_secs", &self.time_limit);
        push(&mut o, "geoguessr.guess_via", &self.guess_via);
        if self.site == Some(SiteArg::Geoguessr) {
            if self.game.rounds.is_some_and(|r| r != SITE_ROUNDS) {
                anyhow::bail!("--rounds: a classic game on geoguessr.com has {SITE_ROUNDS} rounds");
            }
            self.game.overrides(&mut o);
            return Ok(o);
        }
        check_challenge_rounds("--rounds", self.game.rounds)?;
        if let Some(id) = &self.challenge {
            let (map, seed, rounds) = parse_challenge_id(id)?;
            check_challenge_rounds(&format!("--challenge {id}:"), Some(rounds))?;
            o.push(("game.map", map));
            o.push(("game.seed", seed.to_string()));
            o.push(("game.rounds", rounds.to_string()));
        }
        push(&mut o, "game.rounds", &self.game.rounds);
        self.game.overrides(&mut o);
        push(&mut o, "browser.chromedriver", &path(&self.chromedriver));
        push(&mut o, "browser.chromium", &path(&self.chromium));
        push(&mut o, "browser.webdriver_url", &self.webdriver);
        push(&mut o, "browser.advertise", &self.advertise);
        if self.headed {
            o.push(("browser.headless", "false".into()));
        }
        if self.assist {
            let interactive = StrategyKind::Interactive;
            match self.game.reasoning.strategy {
                None => o.push(("agent.strategy", interactive.to_string())),
                Some(s) if s == interactive => {}
                Some(other) => anyhow::bail!(
                    "--assist revises the model's answer with your hints, which is the `{interactive}` strategy; drop --strategy {other}"
                ),
            }
        }
        Ok(o)
    }

    /// `--hint-window` as a checked duration.
    fn hint_window(&self) -> Result<Duration> {
        let Some(secs) = self.hint_window else {
            return Ok(assist::DEFAULT_HINT_WINDOW);
        };
        let max = assist::MAX_HINT_WINDOW.as_secs();
        Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| *d <= assist::MAX_HINT_WINDOW)
            .with_context(|| format!("--hint-window {secs}: expected 0 to {max} seconds"))
    }

    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<PlayRun> {
        let site = self.site.unwrap_or_default();
        let mut site_target = None;
        if site == SiteArg::Geoguessr {
            anyhow::ensure!(
                !self.assist,
                "--assist helps the agent on the local game; on geoguessr.com drop --assist (or --site geoguessr)"
            );
            anyhow::ensure!(
                self.games.is_none_or(|g| g == 1) && self.parallel.is_none_or(|p| p == 1) && self.game.seed.is_none(),
                "--games, --parallel and --seed are for the local game; on geoguessr.com geoagent plays one game at a time (continue one with --resume SESSION)"
            );
            if let Some(c) = &self.challenge {
                site_target = Some(crate::browser::geoguessr::parse_target(c)?);
            }
        } else if self.no_move || self.nmpz || self.time_limit.is_some() || self.guess_via.is_some()
        {
            anyhow::bail!(
                "--no-move, --nmpz, --time-limit and --guess-via apply to --site geoguessr"
            );
        }
        let games = self.games.unwrap_or(1);
        anyhow::ensure!(games >= 1, "--games must be at least 1");
        anyhow::ensure!(
            self.parallel.is_none_or(|p| p >= 1),
            "--parallel must be at least 1"
        );
        Ok(PlayRun {
            settings: super::load_settings(cli, env, &self.overrides()?)?,
            games,
            parallel: self.parallel,
            resume: self.resume.clone(),
            assist: if self.assist {
                Some(self.hint_window()?)
            } else {
                None
            },
            site,
            site_target,
        })
    }
}

/// Runs `geoagent play`.
pub async fn run(p: &PlayRun) -> Result<ExitCode> {
    let settings = &p.settings;
    if p.site == SiteArg::Geoguessr {
        let resume = p.resume.as_deref().map(|t| locate(settings, t));
        return super::geoguessr::run_play(settings, p.site_target.as_ref(), resume).await;
    }
    if let Some(target) = &p.resume {
        return resume(settings, p.parallel, target).await;
    }
    if let Some(window) = p.assist {
        return play_assisted(settings, window).await;
    }
    let (games, parallel) = (p.games, p.parallel.unwrap_or(1));
    let (maps, map) = load_maps(settings)?;
    let mut followed = settings.clone();
    let in_flight = followed.follow_concurrency(parallel);
    let settings = &followed;
    let reasoner = build_reasoner(settings, &map)?;
    let seed = seed_or_random(settings);
    let plan = match_plan(settings, maps, map.clone(), seed, challenge_key(settings)?);
    if games > 1 || parallel > 1 {
        let prompts = reasoner.prompts().as_deref().map(PromptsInfo::of);
        let run =
            crate::fleet::games::RunFile::new(&plan, games, parallel, &reasoner.name(), prompts);
        let path = run.path_in(&settings.replay.dir);
        errln!(
            "Playing {games} game(s) of {} round(s) of {}, seeds {seed}.., {parallel} browser(s) at once ({}); resume with --resume {}",
            plan.rounds, map.name, reasoner.name(), run.run_id
        );
        if let Some(limit) = in_flight.capped() {
            errln!(
                "{}",
                super::bench::capped_message(limit, "--parallel", parallel)
            );
        }
        return play_run(run, &path, &plan, parallel, reasoner).await;
    }
    errln!(
        "Playing {} round(s) of {}{} with seed {seed} ({}); same rounds again: --seed {seed}",
        plan.rounds,
        map.name,
        if map.synthetic {
            " (synthetic imagery)"
        } else {
            ""
        },
        reasoner.name(),
    );
    let rounds = plan.rounds;
    let progress: &(dyn Fn(&crate::replay::RoundRecord) + Send + Sync) =
        &move |r| errln!("{}", round_line(r, rounds));
    let outcome = tokio::select! {
        r = session::play_watched(&plan, reasoner, session::Record::New, Some(progress)) => r,
        stop = crate::session::stop_requested() => {
            errln!("Interrupted: the browser and server are stopped; finished rounds are in {}.", plan.replay_root.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    let report = outcome.context("the match stopped; every finished round is in the replay")?;
    outln!("{}", report.render());
    Ok(ExitCode::SUCCESS)
}

/// `play --assist`: one match a person watches and helps with on the printed link.
async fn play_assisted(settings: &Settings, window: Duration) -> Result<ExitCode> {
    let (maps, map) = load_maps(settings)?;
    let assist = Assist::new(window);
    let reasoner = build_reasoner_with_hints(settings, &map, Arc::new(assist.clone()))?.context(
        "--assist needs a model to help: pass --model NAME (and --base-url URL for a local server)",
    )?;
    let seed = seed_or_random(settings);
    let plan = match_plan(settings, maps, map.clone(), seed, challenge_key(settings)?);
    errln!(
        "Playing {} round(s) of {} with seed {seed} ({}, {}); each answer waits {} s for your hints",
        plan.rounds,
        map.name,
        reasoner.name(),
        StrategyKind::Interactive,
        window.as_secs_f64()
    );
    let on_link = |link: &str| {
        errln!("Watch and help: {link}");
        errln!("  (a private link: whoever opens it can add hints; keep it to yourself)");
    };
    let rounds = plan.rounds;
    let progress: &(dyn Fn(&crate::replay::RoundRecord) + Send + Sync) =
        &move |r| errln!("{}", round_line(r, rounds));
    let outcome = tokio::select! {
        r = session::play_assisted(&plan, reasoner, assist, on_link, Some(progress)) => r,
        stop = crate::session::stop_requested() => {
            errln!("Interrupted: the browser and server are stopped; finished rounds are in {}.", plan.replay_root.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    let report = outcome.context("the match stopped; every finished round is in the replay")?;
    outln!("{}", report.render());
    Ok(ExitCode::SUCCESS)
}

async fn play_run(
    run: crate::fleet::games::RunFile,
    path: &Path,
    plan: &MatchPlan,
    parallel: usize,
    reasoner: Arc<dyn Reasoner>,
) -> Result<ExitCode> {
    let label = run.run_id.clone();
    let fut = crate::fleet::games::run(run, path, plan, parallel, reasoner, |total, done| {
        crate::fleet::progress::Progress::new(&label, total, done)
    });
    let (run, _pool) = tokio::select! {
        r = fut => r.with_context(|| format!("the run stopped; finished rounds are kept; continue with --resume {}", path.display()))?,
        stop = crate::session::stop_requested() => {
            errln!("Interrupted: browsers and server are stopped; continue with: geoagent play --resume {}", path.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    outln!("{}", run.render(path));
    Ok(if run.failed().next().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The prompt set a resumed run plays on with when no `--prompts` is given: the one its games
/// recorded, read from the first game session that holds it (as `--resume SESSION` does).
/// `None` when the run used the built-in prompts, `--prompts` was given, or no game started.
fn run_prompts(
    settings: &Settings,
    run: &crate::fleet::games::RunFile,
) -> Result<Option<Arc<crate::agent::prompt::files::PromptFiles>>> {
    let Some(Some(info)) = run.recorded_prompts() else {
        return Ok(None);
    };
    for g in &run.games {
        let dir = settings.replay.dir.join(&g.session_id);
        if !dir.join(crate::replay::MANIFEST_FILE).is_file() {
            continue;
        }
        let m = crate::replay::Replay::open(&dir)?.manifest;
        if m.prompts.as_ref() == Some(info) {
            return recorded_prompts(settings, &dir, &m);
        }
    }
    Ok(None)
}

async fn resume(settings: &Settings, parallel: Option<usize>, target: &str) -> Result<ExitCode> {
    let found = locate(settings, target);
    let (maps, _) = load_maps(settings)?;
    if found.is_file() {
        let run = crate::fleet::games::RunFile::load(&found)?;
        let map = pack::select(&maps, &run.map)?.clone();
        let mut s = resumed_settings(
            settings,
            Recorded {
                rounds: Some((run.rounds, "rounds")),
                strategy: &run.strategy,
                capture: None,
            },
            &format!("run file {}", found.display()),
        )?;
        let parallel = parallel.unwrap_or(run.parallel).max(1);
        if let Some(limit) = s.follow_concurrency(parallel).capped() {
            errln!(
                "{}",
                super::bench::capped_message(limit, "--parallel", parallel)
            );
        }
        let reasoner = build_reasoner_from(&s, &map, run_prompts(&s, &run)?)?;
        run.check_prompts(reasoner.prompts().as_deref().map(PromptsInfo::of).as_ref())?;
        anyhow::ensure!(
            reasoner.name() == run.reasoner,
            "run {} was played by {}, not {}: resume it with the same --model",
            run.run_id,
            run.reasoner,
            reasoner.name()
        );
        let key = recorded_key(&s, run.key_id.as_deref(), &format!("run {}", run.run_id))?;
        let plan = match_plan(&s, maps, map, run.base_seed, key);
        errln!("Resuming run {} ({} games)", run.run_id, run.games.len());
        return play_run(run, &found, &plan, parallel, reasoner).await;
    }
    let replay = crate::replay::Replay::open(&found).with_context(|| {
        format!("--resume {target}: not a run file (runs/RUN.json) nor a session folder")
    })?;
    let m = replay.manifest;
    if m.environment == crate::environment::Kind::Geoguessr {
        return super::geoguessr::run_play(settings, None, Some(found)).await;
    }
    anyhow::ensure!(
        m.environment == crate::environment::Kind::LocalGame,
        "--resume {target}: a `{}` session; continue it with `geoagent bench --resume`",
        m.environment
    );
    let map = pack::select(&maps, &m.map.id)?.clone();
    let s = resumed_settings(
        settings,
        Recorded {
            rounds: Some((m.challenge.rounds, "challenge.rounds")),
            strategy: &m.strategy,
            capture: Some(&m.capture),
        },
        &format!(
            "the resumed session's {}",
            found.join(crate::replay::MANIFEST_FILE).display()
        ),
    )?;
    let reasoner = build_reasoner_from(&s, &map, recorded_prompts(&s, &found, &m)?)?;
    let key = recorded_key(
        &s,
        m.challenge.key_id.as_deref(),
        &format!("--resume {target}"),
    )?;
    let plan = match_plan(&s, maps, map, m.challenge.seed, key);
    errln!(
        "Resuming {} ({} of {} rounds recorded)",
        found.display(),
        replay.rounds.len(),
        m.challenge.rounds
    );
    let rounds = plan.rounds;
    let progress: &(dyn Fn(&crate::replay::RoundRecord) + Send + Sync) =
        &move |r| errln!("{}", round_line(r, rounds));
    let outcome = tokio::select! {
        r = session::play_watched(&plan, reasoner, session::Record::Resume(found.clone()), Some(progress)) => r,
        stop = crate::session::stop_requested() => {
            errln!("Interrupted; continue with: geoagent play --resume {}", found.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    let report = outcome.context("the match stopped; every finished round is in the replay")?;
    outln!("{}", report.render());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_ids_split_from_the_right() {
        assert_eq!(
            parse_challenge_id("world-1234-5").unwrap(),
            ("world".into(), 1234, 5)
        );
        assert_eq!(
            parse_challenge_id("my-alps-map-7-3").unwrap(),
            ("my-alps-map".into(), 7, 3)
        );
        for bad in ["world-5", "world-x-5", "-1-5", "world-1-"] {
            let e = parse_challenge_id(bad).unwrap_err().to_string();
            assert!(e.contains("MAP-SEED-ROUNDS"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_round_line_is_one_clean_bounded_line() {
        let mut r = crate::replay::tests::record(2);
        r.result.points = 4321;
        r.result.distance_km = 12.345;
        // The fixture record is a fallback round; this one is the model's.
        r.guess.source = crate::agent::GuessSource::Model;
        r.guess.rationale = Some(format!(
            "Cyrillic\u{1b}[2J signs,\r\n\u{202E}birch\u{7}  trees\t{}",
            "x".repeat(500)
        ));
        let line = round_line(&r, 5);
        assert!(
            line.starts_with("round 2/5: 4321 points, 12.3 km · Cyrillic [2J signs, birch trees x"),
            "{line}"
        );
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202E}'),
            "{line:?}"
        );
        assert!(line.ends_with('…'), "{line}");
        let rationale = line.split(" · ").nth(1).unwrap();
        assert_eq!(rationale.chars().count(), ROUND_LINE_RATIONALE_CHARS + 1);
        r.guess.rationale = None;
        assert_eq!(round_line(&r, 5), "round 2/5: 4321 points, 12.3 km");
        r.guess.source = crate::agent::GuessSource::Fallback {
            reason: "timeout\n".into(),
        };
        assert_eq!(
            round_line(&r, 5),
            "round 2/5: 4321 points, 12.3 km · fallback: timeout"
        );
    }
}
