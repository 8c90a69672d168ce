//! `geoagent replay list|show|rerun|rescore`: inspect, re-run and re-score recorded sessions.

use super::args::{path, push, Overrides, ReasoningArgs};
use super::wiring::build_reasoner;
use super::Cli;
use crate::config::Settings;
use crate::game::{pack, Map};
use crate::replay::{catalog, rerun, rescore, Replay};
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Folder of session folders (replay.dir; default ./replays).
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ReplayCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReplayCommand {
    /// Sessions with date, map, model, strategy, rounds, mean points, tokens/cost and parent.
    List,
    /// One session: every round in short, or with --round N its views, prompt, raw answer,
    /// parsed guess, truth, distance and points. ID: a session id, a unique prefix, or a folder.
    Show {
        id: String,
        /// Show this round in full.
        #[arg(long, value_name = "N")]
        round: Option<usize>,
    },
    /// Re-reason the recorded views with another model or prompt (no browser), scored against
    /// the recorded truth; writes a new session whose parent is ID.
    Rerun(Box<RerunArgs>),
    /// Recompute distances and points with today's scoring code; prints the differences and
    /// writes them to rescored.json beside the (unchanged) rounds.jsonl.
    Rescore {
        id: String,
        /// Print only; do not write rescored.json.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct RerunArgs {
    pub id: String,
    /// Model as PROVIDER:NAME (openai:gpt-4o, anthropic:..., gemini:..., ollama:...).
    #[arg(long)]
    pub model: String,
    #[command(flatten)]
    pub reasoning: ReasoningArgs,
}

/// What a `replay` subcommand does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayAction {
    List,
    Show { id: String, round: Option<usize> },
    Rerun { id: String },
    Rescore { id: String, write: bool },
}

/// What `replay` runs on.
#[derive(Debug)]
pub struct ReplayRun {
    pub settings: Settings,
    pub action: ReplayAction,
}

impl ReplayArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<ReplayRun> {
        let mut o: Overrides = vec![];
        push(&mut o, "replay.dir", &path(&self.dir));
        let action = match &self.command {
            ReplayCommand::List => ReplayAction::List,
            ReplayCommand::Show { id, round } => ReplayAction::Show {
                id: id.clone(),
                round: *round,
            },
            ReplayCommand::Rerun(r) => {
                o.push(("model.name", r.model.clone()));
                r.reasoning.overrides(&mut o);
                ReplayAction::Rerun { id: r.id.clone() }
            }
            ReplayCommand::Rescore { id, dry_run } => ReplayAction::Rescore {
                id: id.clone(),
                write: !dry_run,
            },
        };
        Ok(ReplayRun {
            settings: super::load_settings(cli, env, &o)?,
            action,
        })
    }
}

/// Runs `geoagent replay ...`.
pub async fn run(r: &ReplayRun) -> Result<ExitCode> {
    let settings = &r.settings;
    let root = &settings.replay.dir;
    match &r.action {
        ReplayAction::List => {
            let rows = catalog::list(root)?;
            println!("{}", catalog::render_list(&rows, root));
        }
        ReplayAction::Show { id, round } => {
            let mut notes = Vec::new();
            let replay = catalog::open_rescored(&catalog::resolve(root, id)?, &mut notes)?;
            println!("{}", catalog::render_show(&replay, *round)?);
            for n in notes {
                eprintln!("note: {n}");
            }
        }
        ReplayAction::Rescore { id, write } => {
            let replay = Replay::open(&catalog::resolve(root, id)?)?;
            let r = rescore::rescore(&replay);
            println!("{}", r.render());
            if *write {
                let path = rescore::write(&replay.dir, &r)?;
                println!("Written to {} (rounds.jsonl is unchanged)", path.display());
            }
        }
        ReplayAction::Rerun { id } => {
            let source = Replay::open(&catalog::resolve(root, id)?)?;
            let map = rerun_map(settings, &source.manifest)?;
            let reasoner = build_reasoner(settings, &map)?;
            eprintln!(
                "Re-running {} round(s) of session {} ({}) with {} ({})",
                source.rounds.len(),
                source.manifest.session_id,
                source.manifest.reasoner,
                reasoner.name(),
                settings.agent.strategy
            );
            let report = rerun::rerun(
                &source,
                reasoner.as_ref(),
                settings.agent.strategy.as_str(),
                map.view,
                root,
            )
            .await?;
            println!("{}", report.render());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The recorded session's map (for the guess map's area and the fallback point); when its pack
/// is not here, a map with the recorded facts, the whole world as view and no locations.
fn rerun_map(settings: &Settings, m: &crate::replay::Manifest) -> Result<Map> {
    let maps = pack::load_all(&settings.game.maps_dir)?;
    if let Some(found) = maps.into_iter().find(|x| x.id == m.map.id) {
        return Ok(found);
    }
    eprintln!(
        "Map '{}' is not under {} (game.maps_dir): the model is told the guess map shows the whole world, and a failed answer falls back to the map's centre.",
        m.map.id,
        settings.game.maps_dir.display()
    );
    Ok(Map {
        id: m.map.id.clone(),
        name: m.map.name.clone(),
        synthetic: m.map.synthetic,
        size_km: m.map.size_km,
        view: crate::geo::Bounds::WORLD,
        attribution: None,
        locations: vec![],
    })
}
