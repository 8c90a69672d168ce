//! `geoagent report`: one self-contained HTML file about a set of sessions.

use super::args::{path, push, Overrides};
use super::Cli;
use crate::config::Settings;
use crate::replay::catalog;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Sessions (ids, unique prefixes or folders); all sessions in --dir when none is given.
    pub ids: Vec<String>,
    /// Folder of session folders (replay.dir; default ./replays).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
    /// Human results on the same challenges (as for `stats --humans`), for win rates. Repeatable.
    #[arg(long = "humans", value_name = "FILE")]
    pub humans: Vec<PathBuf>,
}

/// What `report` runs on.
#[derive(Debug)]
pub struct ReportRun {
    pub settings: Settings,
    /// Sessions named; empty = every session in the replay dir.
    pub ids: Vec<String>,
    pub output: PathBuf,
    pub humans: Vec<PathBuf>,
}

impl ReportArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<ReportRun> {
        let mut o: Overrides = vec![];
        push(&mut o, "replay.dir", &path(&self.dir));
        Ok(ReportRun {
            settings: super::load_settings(cli, env, &o)?,
            ids: self.ids.clone(),
            output: self.output.clone(),
            humans: self.humans.clone(),
        })
    }
}

/// Runs `geoagent report`.
pub fn run(r: &ReportRun) -> Result<ExitCode> {
    let root = &r.settings.replay.dir;
    let dirs = if r.ids.is_empty() {
        catalog::session_dirs(root)?
    } else {
        r.ids
            .iter()
            .map(|id| catalog::resolve(root, id))
            .collect::<Result<Vec<_>, _>>()?
    };
    let report = crate::report::build(&dirs, &r.humans)?;
    crate::report::write(&r.output, &report)?;
    println!(
        "Report of {} session(s), {} round(s): {}",
        report.sessions,
        report.rounds,
        r.output.display()
    );
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    Ok(ExitCode::SUCCESS)
}
