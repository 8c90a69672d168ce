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
        })
    }
}

pub fn run(r: &HumansRun) -> Result<ExitCode> {
    let imp = crate::humans::import_highscores(&r.file, r.challenge.as_deref(), None)?;
    for p in &imp.problems {
        eprintln!("skipped: {p}");
    }
    let players: std::collections::BTreeSet<&str> =
        imp.rounds.iter().map(|h| h.player.as_str()).collect();
    let n = players.len();
    let added = crate::session::site::add_new(&r.store, imp.rounds.clone())
        .with_context(|| format!("storing into {}", r.store.display()))?;
    println!(
        "{added} new round(s) of {n} player(s) stored in {} ({} skipped item(s))",
        r.store.display(),
        imp.problems.len()
    );
    Ok(ExitCode::SUCCESS)
}
