//! geoguessr.com from the command line: `play --site geoguessr` (one classic game or challenge,
//! see [`run_play`]) and `geoguessr check` (cookie, map, and with a game page every selector and
//! the guess map's calibration, without guessing; no game made unless asked).

use super::wiring::{browser_options, build_reasoner, capture_options};
use super::Cli;
use crate::browser::geoguessr::api::{Api, NewGame};
use crate::browser::geoguessr::check;
use crate::browser::geoguessr::{parse_target, Target};
use crate::config::Settings;
use crate::session::site::{play_site, SiteGameSpec, SitePlan, SiteSessionError};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Flags of `geoagent geoguessr`.
#[derive(Debug, Args)]
pub struct GeoGuessrArgs {
    #[command(subcommand)]
    pub action: GeoGuessrAction,
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum GeoGuessrAction {
    /// Check the _ncfa cookie (/api/v3/profiles) and the map's facts; with a game page to open
    /// (--game or --create-game), every selector the adapter relies on (the spinner while the
    /// round loads too) and the guess map's calibration, without guessing. Makes no game unless
    /// --create-game is given. Run it when the site changed.
    Check {
        /// A game link (/game/TOKEN) of yours to open (not played: a pin is placed, no guess).
        #[arg(long, value_name = "URL", conflicts_with = "create_game")]
        game: Option<String>,
        /// Create a new classic game on `game.map` to open (left unplayed; counted in the
        /// account's pacing like any game started).
        #[arg(long)]
        create_game: bool,
        /// Write a diagnostic bundle (JSON) to attach to a bug report: selector counts, the
        /// page's data-qa hooks and class prefixes, the guess map's calibration, timings. It never
        /// holds the cookie, a game token or coordinates.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
}

/// What `geoguessr` runs on.
#[derive(Debug)]
pub struct GeoGuessrRun {
    pub settings: Settings,
    pub action: GeoGuessrAction,
}

impl GeoGuessrArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<GeoGuessrRun> {
        Ok(GeoGuessrRun {
            settings: super::load_settings(cli, env, &[])?,
            action: self.action.clone(),
        })
    }
}

/// Runs `geoagent geoguessr check`: prints one line per check; fails when any fails.
pub async fn run(r: &GeoGuessrRun) -> Result<ExitCode> {
    let GeoGuessrAction::Check {
        game,
        create_game,
        report: report_file,
    } = &r.action;
    let s = &r.settings;
    let site = s.site_options()?;
    let cookie = s.ncfa_cookie()?;
    let given = match game {
        Some(g) => match parse_target(g)? {
            Target::Game(t) => Some(t),
            Target::Challenge(_) => anyhow::bail!("--game {g}: a game link (/game/TOKEN) is needed, not a challenge (joining one would start it)"),
        },
        None => None,
    };
    let (mut report, profile) = check::check_account(&site, &cookie, &s.game.map).await;
    let mut token = given;
    let mut created = None;
    // Held while the page is checked: one game at a time per account.
    let mut _slot = None;
    if *create_game {
        if let Some(p) = &profile {
            _slot = Some(
                crate::session::site::claim_new_game(&s.replay.dir, &p.id, &site)
                    .context("--create-game")?,
            );
            let api = Api::new(&site, &cookie)?;
            let st = api
                .create_game(&new_game(s))
                .await
                .context("--create-game: creating a game to check the page")?;
            let t = crate::browser::geoguessr::Token::parse(&st.token)?;
            created = Some(t.clone());
            token = Some(t);
        }
    }
    if let Some(t) = &token {
        let source = if created.is_some() {
            "created"
        } else {
            "given"
        };
        check::check_page(&mut report, &site, &cookie, &browser_options(s), t, source).await;
    }
    print_report(&report, created.as_ref());
    if let Some(file) = report_file {
        let secrets: Vec<&str> = [Some(cookie.expose()), token.as_ref().map(|t| t.as_str())]
            .into_iter()
            .flatten()
            .collect();
        crate::fsio::write_atomic(file, report.to_json(&secrets).as_bytes())
            .with_context(|| format!("--report {}", file.display()))?;
        outln!(
            "Report written to {} (no cookie, game token or coordinates in it).",
            file.display()
        );
    }
    let failed = report.failures();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        outln!("{failed} check(s) failed");
        ExitCode::FAILURE
    })
}

/// Longest detail shown on one line of `check`'s output (characters); the report has them whole.
const SHOWN_DETAIL_CHARS: usize = 600;

/// One line per check: `ok`, `MISS`/`FAIL`, or `-` with why it was not checked.
fn print_report(r: &check::CheckReport, created: Option<&crate::browser::geoguessr::Token>) {
    // Details may quote the site's answers: shown as one safe line each.
    let safe = |t: &str| crate::text::line(t, SHOWN_DETAIL_CHARS);
    let line = |label: &str, o: &check::Outcome| match o {
        check::Outcome::Ok(d) => outln!("ok    {label}: {}", safe(d)),
        check::Outcome::Failed(d) => outln!("FAIL  {label}: {}", safe(d)),
        check::Outcome::NotChecked(why) => outln!("-     {label}: not checked: {}", safe(why)),
    };
    line("cookie", &r.cookie);
    line("map", &r.map);
    if created.is_some() {
        // Not its token: this output is meant to be pasted into bug reports too.
        outln!("ok    created a classic game to check its page (left unplayed)");
    }
    line("browser", &r.browser);
    line("round start", &r.round_ready);
    for c in &r.selectors {
        match (c.found, &c.note) {
            (Some(0), note) => outln!(
                "MISS  {} = {:?}: matched nothing{}; fix it in [geoguessr.selectors]",
                c.key,
                c.selector,
                note.as_ref()
                    .map(|n| format!(" ({})", safe(n)))
                    .unwrap_or_default()
            ),
            (Some(n), _) => outln!("ok    {} ({n} element(s))", c.key),
            (None, note) => outln!(
                "-     {}: not checked: {}",
                c.key,
                safe(note.as_deref().unwrap_or("no page"))
            ),
        }
    }
    line("guess map calibration", &r.calibration);
}

/// A new classic game as the settings describe it.
pub fn new_game(s: &Settings) -> NewGame {
    NewGame {
        map: s.game.map.clone(),
        time_limit: s.geoguessr.time_limit_secs,
        forbid_moving: s.geoguessr.forbid_moving,
        forbid_zooming: s.geoguessr.forbid_zooming,
        forbid_rotating: s.geoguessr.forbid_rotating,
    }
}

/// The game `play --site geoguessr` plays: the session to resume, the challenge or game link,
/// else a new classic game.
pub fn spec(s: &Settings, target: Option<&Target>, resume: Option<PathBuf>) -> SiteGameSpec {
    if let Some(dir) = resume {
        return SiteGameSpec::Resume(dir);
    }
    match target {
        Some(Target::Challenge(t)) => SiteGameSpec::Challenge(t.clone()),
        Some(Target::Game(t)) => SiteGameSpec::Game(t.clone()),
        None => SiteGameSpec::New(new_game(s)),
    }
}

/// Runs `play --site geoguessr` (and `play --resume` of a geoguessr.com session).
pub(crate) async fn run_play(
    s: &Settings,
    target: Option<&Target>,
    resume: Option<PathBuf>,
) -> Result<ExitCode> {
    let world = Arc::new(crate::game::builtin::world());
    let reasoner = build_reasoner(s, &world)?;
    let plan = SitePlan {
        site: s.site_options()?,
        cookie: s.ncfa_cookie()?,
        browser: browser_options(s),
        capture: capture_options(s),
        replay_root: s.replay.dir.clone(),
        strategy: s.agent.strategy.to_string(),
        spec: spec(s, target, resume),
        human_store: s.server.human_results.clone(),
    };
    errln!(
        "Playing on {} ({}); one game at a time, paced (see [geoguessr] in geoagent.toml).",
        plan.site.base_url,
        reasoner.name()
    );
    let outcome = tokio::select! {
        r = play_site(&plan, reasoner) => r,
        stop = crate::session::stop_requested() => {
            errln!("Interrupted: finished rounds are in {}; continue with geoagent play --resume SESSION (its folder there).", plan.replay_root.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    let done = match outcome {
        Ok(done) => done,
        // A session that cannot be resumed was refused before the game was touched: nothing
        // stopped, and what to pass is the message.
        Err(e @ SiteSessionError::Resume { .. }) => return Err(e.into()),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(
                "the game on geoguessr.com stopped; every finished round is in the replay",
            ))
        }
    };
    outln!("{}", done.report.render());
    outln!("GeoGuessr game {}", done.record.game_token);
    if let Some(t) = &done.record.challenge_token {
        match &done.highscores_problem {
            None => outln!(
                "Stored {} round(s) of other players of challenge {t} in {}; `geoagent stats` compares against them.",
                done.humans_stored,
                plan.human_store.display()
            ),
            Some(p) => outln!("The challenge's highscores were not stored: {p}"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
