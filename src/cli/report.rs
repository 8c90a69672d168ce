//! `geoagent report`: an HTML report about a set of sessions (one file, or for many rounds a
//! main page with its pages and thumbnails in a folder beside it).

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
    /// The HTML file to write. A report of more than 100 rounds also writes its round pages and
    /// thumbnails into NAME_files/ beside it.
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
    /// Human results on the same challenges (as for `stats --humans`), for win rates. Repeatable.
    #[arg(long = "humans", value_name = "FILE")]
    pub humans: Vec<PathBuf>,
    /// The GeoGuessr study data set folder (as for `stats --human-dataset`), for win rates.
    #[arg(long, value_name = "DIR")]
    pub human_dataset: Option<PathBuf>,
}

/// What `report` runs on.
#[derive(Debug)]
pub struct ReportRun {
    pub settings: Settings,
    /// Sessions named; empty = every session in the replay dir.
    pub ids: Vec<String>,
    pub output: PathBuf,
    pub humans: Vec<PathBuf>,
    pub human_dataset: Option<PathBuf>,
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
            human_dataset: self.human_dataset.clone(),
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
    let opts = crate::report::ReportOptions {
        humans: r.humans.clone(),
        human_dataset: r.human_dataset.clone(),
        ..crate::report::ReportOptions::for_output(&r.output)
    };
    let report = crate::report::build_with(&dirs, &opts)?;
    crate::report::write(&r.output, &report)?;
    outln!(
        "Report of {} session(s), {} round(s): {}{}",
        report.sessions,
        report.rounds,
        r.output.display(),
        report
            .files_dir
            .as_ref()
            .map(|d| format!(" (its round pages and thumbnails are in {d}/ beside it)"))
            .unwrap_or_default()
    );
    for n in &report.notes {
        errln!("note: {n}");
    }
    Ok(ExitCode::SUCCESS)
}
