//! The command line, the only place that knows about flags: clap parses them, each command's
//! flags become config overrides and the command's own options, the layers are merged once
//! ([`Settings::load`]) and [`prepare`] hands back a plain [`Prepared`] value; [`execute`] then
//! wires the domain modules together and prints. Keeping the two apart lets a test check, for
//! every flag, that it changes what the command runs on (`tests/cli_flags.rs`).
//!
//! - [`args`]: flags shared by several commands (match and reasoning flags).
//! - one file per command: [`play`], [`bench`], [`serve`], [`replay`], [`report`], [`stats`],
//!   [`map`], [`index`], [`ask`], [`geoguessr`] (also `play --site geoguessr`), [`humans`].
//! - [`wiring`]: settings turned into domain parts (maps, providers, reasoners).
//!
//! Everything the commands print goes through [`outln!`]/[`errln!`] (or [`out!`]): what they
//! print holds values from outside (player names, model answers, manifest fields of a replay
//! someone sent), and [`crate::text::screen`] is the last guard before a terminal obeys them.

/// `println!` through [`crate::text::screen`]: no control or format character reaches stdout.
macro_rules! outln {
    () => { println!() };
    ($($arg:tt)*) => { println!("{}", $crate::text::screen(&format!($($arg)*))) };
}

/// `print!` through [`crate::text::screen`].
macro_rules! out {
    ($($arg:tt)*) => { print!("{}", $crate::text::screen(&format!($($arg)*))) };
}

/// `eprintln!` through [`crate::text::screen`]: errors quote values from outside too.
macro_rules! errln {
    () => { eprintln!() };
    ($($arg:tt)*) => { eprintln!("{}", $crate::text::screen(&format!($($arg)*))) };
}

pub mod args;
pub mod ask;
pub mod bench;
pub mod geoguessr;
pub mod humans;
pub mod index;
pub mod map;
pub mod play;
pub mod replay;
pub mod report;
pub mod serve;
pub mod stats;
pub mod wiring;

use crate::config::Settings;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "geoagent",
    version,
    about = "Plays GeoGuessr-style games with vision-language models and measures them against people"
)]
pub struct Cli {
    /// Config file (default: ./geoagent.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Play a match in headless Chromium against the local game and print the score table.
    Play(Box<play::PlayArgs>),
    /// Host the local game for people to play in their own browser.
    Serve(serve::ServeArgs),
    /// Play many rounds without a browser (direct mode: views rendered from the same panoramas,
    /// scored locally), many at once, into one replay session; resumable.
    Bench(Box<bench::BenchArgs>),
    /// Summarise replays: points and distances with 95% intervals, accuracy bands, country
    /// accuracy, and win rates against human results on the same rounds.
    Stats(stats::StatsArgs),
    /// Inspect, re-run and re-score recorded sessions (replays).
    Replay(replay::ReplayArgs),
    /// Write one self-contained HTML report of sessions: tables, charts, a world map, rounds.
    Report(report::ReportArgs),
    /// Map packs: import real imagery (photos with GPS, CSV datasets, Mapillary), list packs,
    /// show one, validate them.
    Map(map::MapArgs),
    /// Reference index for the rag strategy: `index build MAP... -o FILE`.
    Index(index::IndexArgs),
    /// Ask the model where your own pictures were taken; with `--strategy interactive`, add
    /// hints line by line on stdin and the model revises (empty line ends).
    Ask(Box<ask::AskArgs>),
    /// geoguessr.com: `geoguessr check` verifies the _ncfa cookie and every page selector.
    #[command(name = "geoguessr")]
    GeoGuessr(geoguessr::GeoGuessrArgs),
    /// People's results: `humans import-highscores FILE.json` (a GeoGuessr challenge's
    /// highscores) into the human results store.
    Humans(humans::HumansArgs),
}

/// A command line resolved into what its command runs on: the merged settings and the command's
/// own checked options. Nothing has run yet (only the config file was read).
#[derive(Debug)]
pub enum Prepared {
    Play(Box<play::PlayRun>),
    Bench(Box<bench::BenchRun>),
    Serve(Box<Settings>),
    Stats(stats::StatsRun),
    Replay(Box<replay::ReplayRun>),
    Report(Box<report::ReportRun>),
    Map(map::MapRun),
    Index(Box<index::IndexRun>),
    Ask(Box<ask::AskRun>),
    GeoGuessr(Box<geoguessr::GeoGuessrRun>),
    Humans(humans::HumansRun),
}

/// Loads the settings for `cli` (config file < `GEOAGENT_*` in `env` < `overrides`).
pub(crate) fn load_settings(
    cli: &Cli,
    env: &[(String, String)],
    overrides: &[(&'static str, String)],
) -> Result<Settings> {
    Ok(Settings::load(cli.config.as_deref(), env, overrides)?)
}

/// Resolves the command line with the process environment `env`; pure apart from reading the
/// config file.
pub fn prepare(cli: &Cli, env: &[(String, String)]) -> Result<Prepared> {
    Ok(match &cli.command {
        Command::Play(a) => Prepared::Play(Box::new(a.prepare(cli, env)?)),
        Command::Bench(a) => Prepared::Bench(Box::new(a.prepare(cli, env)?)),
        Command::Serve(a) => Prepared::Serve(Box::new(a.prepare(cli, env)?)),
        Command::Stats(a) => Prepared::Stats(a.prepare(cli, env)?),
        Command::Replay(a) => Prepared::Replay(Box::new(a.prepare(cli, env)?)),
        Command::Report(a) => Prepared::Report(Box::new(a.prepare(cli, env)?)),
        Command::Map(a) => Prepared::Map(a.prepare(cli, env)?),
        Command::Index(a) => Prepared::Index(Box::new(a.prepare(cli, env)?)),
        Command::Ask(a) => Prepared::Ask(Box::new(a.prepare(cli, env)?)),
        Command::GeoGuessr(a) => Prepared::GeoGuessr(Box::new(a.prepare(cli, env)?)),
        Command::Humans(a) => Prepared::Humans(a.prepare(cli, env)?),
    })
}

/// Runs a prepared command.
pub async fn execute(prepared: Prepared) -> Result<ExitCode> {
    match prepared {
        Prepared::Play(p) => play::run(&p).await,
        Prepared::Bench(b) => bench::run(&b).await,
        Prepared::Serve(s) => serve::run(&s).await,
        Prepared::Stats(s) => stats::run(&s),
        Prepared::Replay(r) => replay::run(&r).await,
        Prepared::Report(r) => report::run(&r),
        Prepared::Map(m) => map::run(&m).await,
        Prepared::Index(i) => index::run(&i).await,
        Prepared::Ask(a) => ask::run(&a).await,
        Prepared::GeoGuessr(g) => geoguessr::run(&g).await,
        Prepared::Humans(h) => humans::run(&h),
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    execute(prepare(&cli, &env)?).await
}

/// The log filter: `RUST_LOG` when it is set and parses, else the level `-v` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter {
    /// `tracing_subscriber::EnvFilter` directives.
    pub directives: String,
    /// Said on stderr before logging starts (an unusable `RUST_LOG`).
    pub note: Option<String>,
}

/// The filter for `-v` repeated `verbose` times and the value of `RUST_LOG`. An empty `RUST_LOG`
/// counts as unset (an empty filter would hide every warning), and one that does not parse falls
/// back to the default with a note, rather than silencing the log.
pub fn log_filter(verbose: u8, rust_log: Option<&str>) -> LogFilter {
    let default = match verbose {
        0 => "geoagent=warn",
        1 => "geoagent=info",
        _ => "geoagent=debug",
    };
    let fallback = |note| LogFilter {
        directives: default.into(),
        note,
    };
    match rust_log.map(str::trim) {
        None | Some("") => fallback(None),
        Some(v) => match tracing_subscriber::EnvFilter::try_new(v) {
            Ok(_) => LogFilter {
                directives: v.into(),
                note: None,
            },
            Err(e) => fallback(Some(format!(
                "note: RUST_LOG={v:?} is not a valid filter ({e}); logging with the default `{default}`"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_broken_rust_log_falls_back_to_the_default() {
        assert_eq!(log_filter(0, None).directives, "geoagent=warn");
        assert_eq!(log_filter(2, None).directives, "geoagent=debug");
        let empty = log_filter(0, Some(""));
        assert_eq!(empty.directives, "geoagent=warn");
        assert!(empty.note.is_none());
        assert_eq!(log_filter(1, Some("  ")).directives, "geoagent=info");
        let broken = log_filter(0, Some("geoagent=notalevel[["));
        assert_eq!(broken.directives, "geoagent=warn");
        assert!(broken.note.unwrap().contains("RUST_LOG"));
        let good = log_filter(0, Some("geoagent=trace"));
        assert_eq!(good.directives, "geoagent=trace");
        assert!(good.note.is_none());
    }
}
