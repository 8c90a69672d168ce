//! `geoagent replay list|show|rerun|rescore`: inspect, re-run and re-score recorded sessions.

pub mod tables;

use super::args::{path, push, Overrides, ReasoningArgs};
use super::wiring::{build_reasoner_from, recorded_prompts};
use super::Cli;
use crate::config::Settings;
use crate::game::{pack, Map};
use crate::replay::{catalog, rescore, Replay};
use crate::session::rerun::{rerun, RerunReport};
use anyhow::Result;
use clap::{Args, Subcommand};
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
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
            outln!("{}", tables::render_list(&rows, root));
        }
        ReplayAction::Show { id, round } => {
            let mut notes = Vec::new();
            let replay = catalog::open_rescored(&catalog::resolve(root, id)?, &mut notes)?;
            outln!("{}", tables::render_show(&replay, *round)?);
            for n in notes {
                errln!("note: {n}");
            }
        }
        ReplayAction::Rescore { id, write } => {
            let replay = Replay::open(&catalog::resolve(root, id)?)?;
            let r = rescore::rescore(&replay)?;
            outln!("{}", r.render());
            if *write {
                let path = rescore::write(&replay.dir, &r)?;
                outln!("Written to {} (rounds.jsonl is unchanged)", path.display());
            }
        }
        ReplayAction::Rerun { id } => {
            let source = Replay::open(&catalog::resolve(root, id)?)?;
            // Before the map and the model are built: a session that cannot be scored is refused
            // first.
            let size_km = crate::session::rerun::scoring_size_km(&source)?;
            let map = rerun_map(settings, &source.manifest, size_km)?;
            let recorded = recorded_prompts(settings, &source.dir, &source.manifest)?;
            let reasoner = build_reasoner_from(settings, &map, recorded)?;
            let prompts = reasoner
                .prompts()
                .map_or(String::new(), |p| format!(": {}", p.label()));
            errln!(
                "Re-running {} round(s) of session {} ({}) with {} ({}{prompts})",
                source.rounds.len(),
                source.manifest.session_id,
                source.manifest.reasoner,
                reasoner.name(),
                settings.agent.strategy
            );
            let report = rerun(
                &source,
                reasoner.as_ref(),
                settings.agent.strategy.as_str(),
                map.view,
                root,
                None,
            )
            .await?;
            outln!("{}", render_rerun(&report));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The recorded session's map (for the guess map's area and the fallback point); when its pack
/// is not here, a map with the recorded facts, the whole world as view and no locations.
fn rerun_map(settings: &Settings, m: &crate::replay::Manifest, size_km: f64) -> Result<Map> {
    let maps = pack::load_all(&settings.game.maps_dir)?;
    if let Some(found) = maps.into_iter().find(|x| x.id == m.map.id) {
        return Ok(found);
    }
    errln!(
        "Map '{}' is not under {} (game.maps_dir): the model is told the guess map shows the whole world, and a failed answer falls back to the map's centre.",
        m.map.id,
        settings.game.maps_dir.display()
    );
    Ok(Map {
        id: m.map.id.clone(),
        name: m.map.name.clone(),
        synthetic: m.map.synthetic,
        size_km,
        view: crate::geo::Bounds::WORLD,
        attribution: None,
        locations: vec![],
    })
}

/// Parent and re-run side by side, with totals.
fn render_rerun(report: &RerunReport) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "Round".to_string(),
        "Truth".to_string(),
        format!("{} guess", report.parent.reasoner),
        "Points".to_string(),
        format!("{} guess", report.manifest.reasoner),
        "Points".to_string(),
        "Change".to_string(),
    ]);
    let (mut old_total, mut new_total) = (0i64, 0i64);
    for r in &report.rounds {
        let (o, n) = (
            i64::from(r.old.result.points),
            i64::from(r.new.result.points),
        );
        old_total += o;
        new_total += n;
        t.add_row(vec![
            r.new.round.to_string(),
            r.new.result.truth.to_string(),
            format!(
                "{} ({:.1} km)",
                r.old.result.guess, r.old.result.distance_km
            ),
            o.to_string(),
            format!(
                "{} ({:.1} km)",
                r.new.result.guess, r.new.result.distance_km
            ),
            n.to_string(),
            format!("{:+}", n - o),
        ]);
    }
    for col in [0, 3, 5, 6] {
        if let Some(c) = t.column_mut(col) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!(
        "{t}\nTotal {old_total} → {new_total} points ({:+}) over {} round(s) · same views, scored on map size {} km\nNew session {} (parent {}): {}",
        new_total - old_total,
        report.rounds.len(),
        report
            .manifest
            .map
            .known_size_km()
            .map_or("unknown".into(), |s| format!("{s:.1}")),
        report.manifest.session_id,
        report.parent.session_id,
        report.dir.display()
    )
}
