//! geoguessr.com from the command line: `play --site geoguessr` (one classic game or challenge,
//! see [`run_play`]) and `geoguessr check` (cookie and every selector, without guessing).

use super::wiring::{browser_options, build_reasoner, capture_options};
use super::Cli;
use crate::browser::geoguessr::api::{Api, NewGame};
use crate::browser::geoguessr::page::Page;
use crate::browser::geoguessr::{parse_target, Target};
use crate::browser::Browser;
use crate::config::Settings;
use crate::session::site::{play_site, SiteGameSpec, SitePlan};
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
    /// Check the _ncfa cookie (/api/v3/profiles), open a game page and check every selector
    /// the adapter relies on, without guessing. Run it when the site changed.
    Check {
        /// A game link (/game/TOKEN) of yours to open; without it a new classic game is created
        /// on `game.map` (and left unplayed).
        #[arg(long, value_name = "URL")]
        game: Option<String>,
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
    let GeoGuessrAction::Check { game } = &r.action;
    let s = &r.settings;
    let site = s.site_options()?;
    let cookie = s.ncfa_cookie()?;
    let api = Api::new(&site, &cookie)?;
    let profile = api.profile().await.context("checking the cookie")?;
    outln!("ok    cookie: signed in as {:?}", profile.nick);
    let token = match game {
        Some(g) => match parse_target(g)? {
            Target::Game(t) => t,
            Target::Challenge(_) => anyhow::bail!("--game {g}: a game link (/game/TOKEN) is needed, not a challenge (joining one would start it)"),
        },
        None => {
            let st = api.create_game(&new_game(s)).await.context("creating a game to check the page")?;
            outln!("ok    created classic game {} on {} (left unplayed)", st.token, st.map);
            crate::browser::geoguessr::Token::parse(&st.token)?
        }
    };
    let browser = Browser::launch(&browser_options(s)).await?;
    let mut page = Page::open(browser, &site, &cookie, token.as_str()).await?;
    let checks = page.check_selectors().await;
    page.close().await;
    let mut failed = 0;
    for c in checks? {
        match c.found {
            Some(0) => {
                failed += 1;
                outln!(
                    "MISS  {} = {:?}: matched nothing; fix it in [geoguessr.selectors]",
                    c.key,
                    c.selector
                );
            }
            Some(n) => outln!("ok    {} ({n} element(s))", c.key),
            None => outln!(
                "-     {}: appears only during loading or after a guess; not checked",
                c.key
            ),
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        outln!("{failed} selector(s) missing");
        ExitCode::FAILURE
    })
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
    let done = outcome
        .context("the game on geoguessr.com stopped; every finished round is in the replay")?;
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
