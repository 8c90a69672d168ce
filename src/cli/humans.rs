//! `geoagent humans import-highscores FILE.json`: people's rounds from a GeoGuessr challenge's
//! highscores (saved from a browser) into the human results store, for `stats`.

use super::Cli;
use crate::browser::geoguessr::{parse_target, Target};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct HumansArgs {
    #[command(subcommand)]
    pub action: HumansAction,
}

#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum HumansAction {
    /// Import a challenge's highscores response (one page, or an array of pages) as human
    /// results for that challenge.
    ImportHighscores {
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The challenge's link or token (else each item's challengeToken).
        #[arg(long, value_name = "URL")]
        challenge: Option<String>,
    },
}

/// What `humans` runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct HumansRun {
    pub file: PathBuf,
    pub challenge: Option<String>,
    /// The store written (`server.human_results`).
    pub store: PathBuf,
    /// Where the agent's sessions are (`replay.dir`): its own games on the site are found there.
    pub replays: PathBuf,
}

impl HumansArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<HumansRun> {
        let settings = super::load_settings(cli, env, &[])?;
        let HumansAction::ImportHighscores { file, challenge } = &self.action;
        let challenge = match challenge {
            None => None,
            Some(c) => match parse_target(c)? {
                Target::Challenge(t) => Some(t.to_string()),
                Target::Game(_) => {
                    anyhow::bail!("--challenge {c}: a challenge link is needed, not a game")
                }
            },
        };
        Ok(HumansRun {
            file: file.clone(),
            challenge,
            store: settings.server.human_results,
            replays: settings.replay.dir,
        })
    }
}

/// Skipped items named one by one: a hostile file can hold a million, and a screen no more.
const PROBLEMS_SHOWN: usize = 20;

/// Largest `geoguessr.json` read when looking for the agent's own games: the record is a few KB.
const MAX_SITE_RECORD_BYTES: u64 = 1024 * 1024;

/// The agent's own games and accounts, from its sessions under `replays`: the game token of
/// every geoguessr.com session (`geoguessr.json`), and every account that has a pacing record
/// (`.geoguessr/<account id>.json`). Unreadable entries are passed over: they name no game.
fn own_games(replays: &std::path::Path) -> crate::humans::Own {
    use crate::session::site::{PACING_DIR, SITE_FILE};
    let mut own = crate::humans::Own::default();
    for e in std::fs::read_dir(replays).into_iter().flatten().flatten() {
        let path = e.path().join(SITE_FILE);
        let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_SITE_RECORD_BYTES);
        let token = small
            .then(|| std::fs::read(&path).ok())
            .flatten()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["game_token"].as_str().map(str::to_string));
        own.games.extend(token);
    }
    for e in std::fs::read_dir(replays.join(PACING_DIR))
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json" || x == "lock") {
            own.players
                .extend(p.file_stem().and_then(|s| s.to_str()).map(str::to_string));
        }
    }
    own
}

pub fn run(r: &HumansRun) -> Result<ExitCode> {
    let own = own_games(&r.replays);
    let imp = crate::humans::import_highscores(&r.file, r.challenge.as_deref(), &own)?;
    if imp.own_skipped > 0 {
        errln!(
            "left out {} item(s): the agent's own game (its sessions in {})",
            imp.own_skipped,
            r.replays.display()
        );
    }
    for p in imp.problems.iter().take(PROBLEMS_SHOWN) {
        errln!("skipped: {p}");
    }
    if imp.problems.len() > PROBLEMS_SHOWN {
        errln!(
            "… and {} more skipped item(s)",
            imp.problems.len() - PROBLEMS_SHOWN
        );
    }
    if imp.duplicates > 0 {
        errln!(
            "{} round(s) appeared more than once in the file and are stored once",
            imp.duplicates
        );
    }
    let players: std::collections::BTreeSet<&str> =
        imp.rounds.iter().map(|h| h.player.as_str()).collect();
    let n = players.len();
    let added = crate::session::site::add_new(&r.store, imp.rounds.clone())
        .with_context(|| format!("storing into {}", r.store.display()))?;
    outln!(
        "{added} new round(s) of {n} player(s) stored in {} ({} skipped item(s))",
        r.store.display(),
        imp.problems.len()
    );
    Ok(ExitCode::SUCCESS)
}
