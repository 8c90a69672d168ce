//! Human results: the record of one person's round, importers (CSV, JSON, and the shared
//! GeoGuessr study data set) and a crash- and concurrency-safe JSON-lines store. Matching human
//! rounds to agent rounds is the job of `stats` (its `matching` module).
//!
//! # Import format (CSV or JSON)
//! CSV with a header row; column names are case-insensitive and may come in any order:
//!
//! | column | required | meaning |
//! | --- | --- | --- |
//! | `challenge` | yes | challenge id (`geoagent` prints it; for GeoGuessr, the link's last part) |
//! | `round` | yes | 1-based round number |
//! | `player` | yes | the person's name or id |
//! | `points` | yes | 0..=5000 |
//! | `distance_km` | no | distance of their guess from the truth |
//! | `time_s` | no | seconds they took |
//! | `lat`, `lng` | no (both or neither) | the round's true location |
//! | `location_id` | no | the map's location id |
//!
//! JSON is an array of objects with the same keys (numbers or strings). Every bad row is
//! reported with its file and row (the CSV line number, header = line 1; the JSON element number,
//! first = 1) and skipped; the valid rows are kept.

mod dataset;
mod files;
mod highscores;
mod store;

pub use dataset::{import_dataset, Dataset, DatasetFile, Seed};
pub(crate) use files::import_file;
pub use files::{parse_csv, parse_json};
pub use highscores::Own;
pub(crate) use highscores::{import_highscores, parse_highscores};
pub use store::Store;

use crate::geo::LatLon;
use fs_err::{self as fs, File, OpenOptions};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tracing::warn;

/// Highest points a round can give; a row claiming more is a typo or a different game.
const MAX_POINTS: u32 = crate::game::MAX_POINTS;
/// The shared data set's files (see its README.md): the challenges, and one per-round results
/// file per game mode, `ROUND_SUM_<MODE>.csv` (`ROUND_SUM_NMPZ.csv`, `ROUND_SUM_NM.csv`, ...).
pub const DATASET_SEEDS_FILE: &str = "SEEDS.csv";
pub(crate) const DATASET_ROUNDS_PREFIX: &str = "ROUND_SUM_";
pub(crate) const DATASET_ROUNDS_SUFFIX: &str = ".csv";
/// The study's No Move, Pan or Zoom results, the file every copy of the data set has.
pub const DATASET_ROUNDS_FILE: &str = "ROUND_SUM_NMPZ.csv";
/// Rounds per challenge in the shared data set.
pub(crate) const DATASET_ROUNDS_PER_GAME: usize = 5;
/// The store's file name under its data dir.
pub(crate) const STORE_FILE: &str = "humans.jsonl";
/// `source` of the rounds people play in the local game (`geoagent serve`).
pub(crate) const LOCAL_GAME_SOURCE: &str = "local-game";

/// One person's result on one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HumanRound {
    /// Where the row came from (file path, or "local-game").
    pub source: String,
    pub challenge_id: String,
    /// 1-based.
    pub round: usize,
    pub location_id: Option<String>,
    pub truth: Option<LatLon>,
    pub player: String,
    pub points: u32,
    pub distance_km: Option<f64>,
    pub time_s: Option<f64>,
    /// Where the person guessed, when the source tells (GeoGuessr highscores do). Absent in
    /// stores written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guess: Option<LatLon>,
}

#[cfg(test)]
impl HumanRound {
    /// Ann's 100-point round `round` of `challenge`, with nothing else known (for tests).
    pub(crate) fn sample(challenge: &str, round: usize) -> HumanRound {
        HumanRound {
            source: "t".into(),
            challenge_id: challenge.into(),
            round,
            location_id: None,
            truth: None,
            player: "ann".into(),
            points: 100,
            distance_km: None,
            time_s: None,
            guess: None,
        }
    }
}

#[derive(Debug, Error)]
pub enum HumansError {
    /// A file or folder operation failed; the error names the path (`fs-err`).
    #[error(transparent)]
    Io(std::io::Error),
    #[error("{path}: the header lacks required column(s) {missing}; expected challenge,round,player,points[,distance_km,time_s,lat,lng,location_id]")]
    Header { path: String, missing: String },
    #[error("{path}: {detail}")]
    Format { path: String, detail: String },
    #[error(
        "{path}: unsupported file type; use .csv, .json (array of rows) or .jsonl (a human store)"
    )]
    FileType { path: String },
    #[error("human data set folder {dir} is missing {file} (see the data set's README.md)")]
    DatasetFile { dir: String, file: &'static str },
    #[error("human data set folder {dir} holds no results file ({DATASET_ROUNDS_PREFIX}<MODE>{DATASET_ROUNDS_SUFFIX}, e.g. ROUND_SUM_NMPZ.csv or ROUND_SUM_NM.csv; see the data set's README.md)")]
    DatasetRounds { dir: String },
    #[error("{path} line {line}: not a human round: {detail}")]
    StoreLine {
        path: String,
        line: usize,
        detail: String,
    },
}

/// A row that could not be imported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowProblem {
    pub file: String,
    pub row: usize,
    pub message: String,
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} row {}: {}", self.file, self.row, self.message)
    }
}

/// The valid rows of a file and the reasons for the others.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Import {
    pub rounds: Vec<HumanRound>,
    pub problems: Vec<RowProblem>,
    /// Items left out as the agent's own games (highscores).
    pub own_skipped: usize,
    /// Rounds the input held more than once (highscores: a page saved twice), kept once.
    pub duplicates: usize,
}

#[cfg(test)]
mod tests;
