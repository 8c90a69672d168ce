//! `geoagent stats`: flags to [`StatsOptions`], the statistics computed by
//! [`crate::stats::compare::build_report`], printed as tables or one JSON document.

use super::Cli;
use crate::stats::compare::{
    build_report, Comparison, Reference, StatsOptions, DEFAULT_TOP_PLAYERS,
};
use crate::stats::WinRate;
use anyhow::{Context, Result};
use clap::Args;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Import problems listed in the table output (all are in `--json`); the rest are counted.
const PROBLEMS_SHOWN: usize = 10;
/// Rows of the per-country and per-continent tables.
const GROUPS_SHOWN: usize = 10;
/// How much of a name (a player, a model, a country key, a file) a table shows: names come from
/// replays and people's highscores, and one as long as a book would push the table off screen.
const SHOWN_NAME_CHARS: usize = 80;
/// How much of one import problem or note is printed (each quotes a value from a file).
const SHOWN_LINE_CHARS: usize = 400;

fn name(s: &str) -> String {
    crate::text::line(s, SHOWN_NAME_CHARS)
}

fn line_of(s: &str) -> String {
    crate::text::line(s, SHOWN_LINE_CHARS)
}

/// `--reference` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReferenceArg {
    /// One fixed guess: the point with the highest expected score over the map's locations.
    Baseline,
}

impl From<ReferenceArg> for Reference {
    fn from(r: ReferenceArg) -> Reference {
        match r {
            ReferenceArg::Baseline => Reference::Baseline,
        }
    }
}

/// Flags of `geoagent stats`.
#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// Replay folders: one session (holding manifest.json) or a folder of sessions (./replays).
    #[arg(value_name = "REPLAY_DIR")]
    pub replays: Vec<PathBuf>,
    /// Human results: .csv or .json (challenge,round,player,points[,distance_km,time_s,lat,lng,location_id]) or a .jsonl human store. Repeatable.
    #[arg(long = "humans", value_name = "FILE")]
    pub humans: Vec<PathBuf>,
    /// The GeoGuessr study data set folder: SEEDS.csv and every ROUND_SUM_<MODE>.csv in it
    /// (NMPZ, NM, moving); win rates are given per mode and for all modes together.
    #[arg(long, value_name = "DIR")]
    pub human_dataset: Option<PathBuf>,
    /// Also score a reference player on the data set's own locations.
    #[arg(long, value_enum, requires = "human_dataset")]
    pub reference: Option<ReferenceArg>,
    /// Individual players to compare against, most rounds in common first.
    #[arg(long, default_value_t = DEFAULT_TOP_PLAYERS)]
    pub top: usize,
    /// Only this challenge (MAP-SEED-ROUNDS): its agent rounds, and its human results from
    /// `--humans` or, when none is given, the local game's store (server.human_results).
    #[arg(long, value_name = "ID")]
    pub challenge: Option<String>,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// What `stats` runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsRun {
    pub options: StatsOptions,
    pub json: bool,
}

impl StatsArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<StatsRun> {
        let settings = super::load_settings(cli, env, &[])?;
        Ok(StatsRun {
            options: StatsOptions {
                replays: self.replays.clone(),
                humans: self.humans.clone(),
                human_dataset: self.human_dataset.clone(),
                reference: self.reference.map(Reference::from),
                top: self.top,
                challenge: self.challenge.clone(),
                human_store: settings.server.human_results,
            },
            json: self.json,
        })
    }
}

/// Runs `geoagent stats` and prints the result on stdout.
pub fn run(s: &StatsRun) -> Result<ExitCode> {
    let report = build_report(&s.options)?;
    if s.json {
        let text = serde_json::to_string_pretty(&report).context("printing the report as JSON")?;
        outln!("{text}");
    } else {
        out!("{}", render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn rate_cell(w: &Option<WinRate>) -> String {
    match w {
        Some(w) => format!(
            "{} [{}, {}] n={} ({}W {}T {}L)",
            pct(w.rate.estimate),
            pct(w.rate.low),
            pct(w.rate.high),
            w.rate.n,
            w.wins,
            w.ties,
            w.losses
        ),
        None => "–".into(),
    }
}

/// The report as tables.
pub fn render(report: &Comparison) -> String {
    let mut out = String::new();
    for p in &report.players {
        let s = &p.summary;
        let _ = writeln!(
            out,
            "{}{}",
            name(&p.label),
            if p.sessions > 0 {
                format!(" — {} session(s)", p.sessions)
            } else {
                String::new()
            }
        );
        if let Some(n) = &p.note {
            let _ = writeln!(out, "  {}", line_of(n));
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec!["statistic", "value", "95% interval / n"]);
        t.add_row(vec![
            "rounds".to_string(),
            s.rounds.to_string(),
            String::new(),
        ]);
        t.add_row(vec![
            "mean points".to_string(),
            format!("{:.1}", s.points_mean.estimate),
            format!(
                "[{:.1}, {:.1}] bootstrap",
                s.points_mean.low, s.points_mean.high
            ),
        ]);
        t.add_row(vec![
            "median points".to_string(),
            format!("{:.1}", s.points_median.estimate),
            format!(
                "[{:.1}, {:.1}] bootstrap",
                s.points_median.low, s.points_median.high
            ),
        ]);
        t.add_row(vec![
            "median distance".to_string(),
            format!("{:.1} km", s.distance_median_km),
            String::new(),
        ]);
        for b in &s.bands {
            t.add_row(vec![
                b.label.clone(),
                pct(b.rate),
                format!("{}/{}", b.hits, b.n),
            ]);
        }
        t.add_row(vec![
            "country accuracy".to_string(),
            pct(s.country.rate),
            format!("{}/{} (truths in a country)", s.country.hits, s.country.n),
        ]);
        t.add_row(vec![
            "city accuracy".to_string(),
            pct(s.city.rate),
            format!("{}/{}", s.city.hits, s.city.n),
        ]);
        let _ = writeln!(out, "{t}");
        for (title, groups) in [("country", &s.by_country), ("continent", &s.by_continent)] {
            if groups.len() < 2 {
                continue;
            }
            let mut g = Table::new();
            g.load_preset(UTF8_FULL_CONDENSED);
            g.set_header(vec![
                title,
                "rounds",
                "mean points",
                "median km",
                "country hits",
            ]);
            for row in groups.iter().take(GROUPS_SHOWN) {
                g.add_row(vec![
                    name(&row.key),
                    row.rounds.to_string(),
                    format!("{:.1}", row.mean_points),
                    format!("{:.1}", row.median_distance_km),
                    row.country_hits.to_string(),
                ]);
            }
            let _ = writeln!(out, "{g}");
        }
        if !p.versus.is_empty() {
            let mut v = Table::new();
            v.load_preset(UTF8_FULL_CONDENSED);
            v.set_header(vec![
                "versus",
                "pairs",
                "win rate per round [95% Wilson]",
                "win rate per game [95% Wilson]",
            ]);
            for row in &p.versus {
                v.add_row(vec![
                    name(&row.opponent),
                    row.rounds_matched.to_string(),
                    rate_cell(&row.per_round),
                    rate_cell(&row.per_game),
                ]);
            }
            let _ = writeln!(out, "{v}");
        }
        out.push('\n');
    }
    for c in &report.comparisons {
        let d = &c.points.mean_difference;
        let _ = writeln!(
            out,
            "{} − {} on {} shared rounds: mean points difference {:.1} [{:.1}, {:.1}]; {} better, {} worse, {} tied; sign test p = {:.4}",
            name(&c.a), name(&c.b), c.rounds, d.estimate, d.low, d.high, c.points.a_better, c.points.b_better, c.points.ties, c.points.sign_test_p
        );
    }
    if !report.human_dataset_files.is_empty() {
        let _ = writeln!(out, "Human data set: read");
        for f in &report.human_dataset_files {
            let _ = writeln!(
                out,
                "  {} ({}: {} rounds by {} players, mean {} points)",
                name(&f.path),
                f.mode,
                f.rounds,
                f.players,
                f.mean_points
                    .map_or_else(|| "–".to_string(), |m| format!("{m:.1}"))
            );
        }
    }
    if report.human_rounds > 0 {
        let _ = writeln!(
            out,
            "Human results: {} rounds by {} players. Win: more points than the person on that round (tie = ½).",
            report.human_rounds, report.human_players
        );
    }
    if !report.import_problems.is_empty() {
        let _ = writeln!(
            out,
            "{} row(s) could not be imported and were skipped:",
            report.import_problems.len()
        );
        for p in report.import_problems.iter().take(PROBLEMS_SHOWN) {
            let _ = writeln!(out, "  {}", line_of(p));
        }
        if report.import_problems.len() > PROBLEMS_SHOWN {
            let _ = writeln!(
                out,
                "  … and {} more (all are in --json)",
                report.import_problems.len() - PROBLEMS_SHOWN
            );
        }
    }
    for n in &report.notes {
        let _ = writeln!(out, "Note: {}", line_of(n));
    }
    out
}
