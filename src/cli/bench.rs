//! `geoagent bench`: many rounds in direct mode (no browser), many at once, into one resumable
//! replay session.

use super::args::{MatchArgs, Overrides};
use super::wiring::{
    build_reasoner_from, capture_options, challenge_key, load_maps, locate, recorded_key,
    recorded_prompts, resumed_settings, seed_or_random, Recorded,
};
use super::Cli;
use crate::config::Settings;
use crate::fleet::bench::{self as fb, BenchPlan};
use crate::game::pack;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Rounds of a bench when `--rounds` is not given.
pub(crate) const DEFAULT_BENCH_ROUNDS: usize = 100;
/// Rounds in flight at once when `--concurrency` is not given: enough to hide a few seconds of
/// model latency, few enough for any provider's rate limit.
pub(crate) const DEFAULT_BENCH_CONCURRENCY: usize = 16;
/// Most rounds one bench session may have: a typo guard. A bench is one direct-mode session, not
/// a challenge of the local game, so the game's per-challenge limit does not apply.
pub(crate) const MAX_BENCH_ROUNDS: usize = 100_000;

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub game: MatchArgs,
    /// Rounds in flight at once.
    #[arg(long, value_name = "C")]
    pub concurrency: Option<usize>,
    /// Continue this session (folder or id under the replay dir) where it stopped.
    #[arg(long, value_name = "SESSION")]
    pub resume: Option<String>,
    /// Keep rendered views here between runs (default: ~/.cache/geoagent/views).
    #[arg(long, value_name = "DIR")]
    pub view_cache: Option<PathBuf>,
    /// Render every view afresh, keeping them in memory only.
    #[arg(long, conflicts_with = "view_cache")]
    pub no_view_cache: bool,
}

/// Where rendered views are kept between runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewCacheChoice {
    /// `~/.cache/geoagent/views` (or `$XDG_CACHE_HOME`), when there is a home.
    Default,
    Dir(PathBuf),
    /// In memory only.
    Off,
}

/// What `bench` runs on.
#[derive(Debug)]
pub struct BenchRun {
    pub settings: Settings,
    /// Rounds of a new session (a resumed one keeps its own).
    pub rounds: usize,
    pub concurrency: usize,
    pub resume: Option<String>,
    pub view_cache: ViewCacheChoice,
}

impl BenchArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<BenchRun> {
        let mut o: Overrides = vec![];
        self.game.overrides(&mut o);
        let rounds = self.game.rounds.unwrap_or(DEFAULT_BENCH_ROUNDS);
        check_bench_rounds(rounds, "--rounds")?;
        let concurrency = self.concurrency.unwrap_or(DEFAULT_BENCH_CONCURRENCY);
        anyhow::ensure!(concurrency >= 1, "--concurrency must be at least 1");
        Ok(BenchRun {
            settings: super::load_settings(cli, env, &o)?,
            rounds,
            concurrency,
            resume: self.resume.clone(),
            view_cache: match (&self.view_cache, self.no_view_cache) {
                (_, true) => ViewCacheChoice::Off,
                (Some(d), false) => ViewCacheChoice::Dir(d.clone()),
                (None, false) => ViewCacheChoice::Default,
            },
        })
    }
}

/// Checks the rounds of a bench session, given by `what` (`--rounds`, or a resumed manifest).
pub(crate) fn check_bench_rounds(rounds: usize, what: &str) -> Result<()> {
    anyhow::ensure!(
        (1..=MAX_BENCH_ROUNDS).contains(&rounds),
        "{what} {rounds}: must be between 1 and {MAX_BENCH_ROUNDS}"
    );
    Ok(())
}

/// Says that the model's in-flight limit is below what the run asked for (`flag` `requested`).
pub(crate) fn capped_message(limit: usize, flag: &str, requested: usize) -> String {
    format!(
        "Model calls in flight: at most {limit} (model.max_concurrency), fewer than {flag} {requested}; \
         raise model.max_concurrency (or remove it) to use all {requested}"
    )
}

/// Runs `geoagent bench`.
pub async fn run(b: &BenchRun) -> Result<ExitCode> {
    let settings = &b.settings;
    let (maps, _) = load_maps(settings)?;
    let mut s = settings.clone();
    let resume = match &b.resume {
        Some(t) => Some(fb::ResumeInfo::read(&locate(settings, t))?),
        None => None,
    };
    let (map_id, seed, rounds) = match &resume {
        Some(r) => {
            let m = &r.manifest;
            let what = format!(
                "the resumed session's {}",
                r.dir.join(crate::replay::MANIFEST_FILE).display()
            );
            check_bench_rounds(m.challenge.rounds, &format!("{what}: challenge.rounds ="))?;
            s = resumed_settings(
                settings,
                Recorded {
                    rounds: None,
                    strategy: &m.strategy,
                    capture: Some(&m.capture),
                },
                &what,
            )?;
            (m.map.id.clone(), m.challenge.seed, m.challenge.rounds)
        }
        None => (
            settings.game.map.clone(),
            seed_or_random(settings),
            b.rounds,
        ),
    };
    let map = pack::select(&maps, &map_id)?.clone();
    let in_flight = s.follow_concurrency(b.concurrency);
    let recorded = match &resume {
        Some(r) => recorded_prompts(&s, &r.dir, &r.manifest)?,
        None => None,
    };
    let reasoner = build_reasoner_from(&s, &map, recorded)?;
    let plan = BenchPlan {
        map: map.clone(),
        seed,
        key: match &resume {
            Some(r) => recorded_key(
                &s,
                r.manifest.challenge.key_id.as_deref(),
                "the resumed session",
            )?,
            None => challenge_key(&s)?,
        },
        rounds,
        concurrency: b.concurrency,
        capture: capture_options(&s),
        replay_root: s.replay.dir.clone(),
        strategy: s.agent.strategy.to_string(),
        view_cache: match &b.view_cache {
            ViewCacheChoice::Off => None,
            ViewCacheChoice::Dir(d) => Some(d.clone()),
            ViewCacheChoice::Default => crate::environment::direct::ViewCache::default_disk_dir(),
        },
    };
    errln!(
        "Bench: {rounds} rounds of {} (direct mode), seed {seed}, {} at once ({})",
        map.name,
        b.concurrency,
        reasoner.name()
    );
    if let Some(limit) = in_flight.capped() {
        errln!("{}", capped_message(limit, "--concurrency", b.concurrency));
    }
    let resume_dir = resume.as_ref().map(|r| r.dir.clone());
    let fut = fb::run(&plan, reasoner, resume_dir.as_deref(), |total, done| {
        crate::fleet::progress::Progress::new("bench", total, done)
    });
    let report = tokio::select! {
        r = fut => r.context("the bench stopped; recorded rounds are kept (continue with --resume SESSION)")?,
        stop = crate::session::stop_requested() => {
            errln!("Interrupted; recorded rounds are kept: continue with geoagent bench --resume SESSION (the folder under {})", plan.replay_root.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    outln!(
        "{} rounds recorded ({} played now) in {:.1} s, mean {:.0} points, challenge {}\nReplay: {}",
        report.rounds_recorded,
        report.rounds_played,
        report.wall.as_secs_f64(),
        report.mean_points,
        report.challenge_id,
        report.session_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
