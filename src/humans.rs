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

use crate::geo::LatLon;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tracing::warn;

/// Highest points a round can give; a row claiming more is a typo or a different game.
const MAX_POINTS: u32 = crate::game::MAX_POINTS;
/// The shared data set's files (see its README.md).
pub const DATASET_SEEDS_FILE: &str = "SEEDS.csv";
pub const DATASET_ROUNDS_FILE: &str = "ROUND_SUM_NMPZ.csv";
/// Rounds per challenge in the shared data set.
pub const DATASET_ROUNDS_PER_GAME: usize = 5;
/// The store's file name under its data dir.
pub const STORE_FILE: &str = "humans.jsonl";
/// `source` of the rounds people play in the local game (`geoagent serve`).
pub const LOCAL_GAME_SOURCE: &str = "local-game";

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
}

#[derive(Debug, Error)]
pub enum HumansError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
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
    #[error("{path} line {line}: not a human round: {detail}")]
    StoreLine {
        path: String,
        line: usize,
        detail: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> HumansError + '_ {
    move |source| HumansError::Io {
        path: path.display().to_string(),
        source,
    }
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
}

const REQUIRED: [&str; 4] = ["challenge", "round", "player", "points"];

/// Builds a round from named fields; the error says which field is wrong and why.
fn row_from(source: &str, get: impl Fn(&str) -> Option<String>) -> Result<HumanRound, String> {
    let text = |k: &str| {
        get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let required = |k: &str| text(k).ok_or_else(|| format!("{k} is empty"));
    let number = |k: &str| -> Result<Option<f64>, String> {
        match text(k) {
            None => Ok(None),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
                _ => Err(format!("{k} '{v}' is not a non-negative number")),
            },
        }
    };
    let challenge_id = required("challenge")?;
    let round_text = required("round")?;
    let round = match round_text.parse::<usize>() {
        Ok(r) if r >= 1 => r,
        _ => {
            return Err(format!(
                "round '{round_text}' is not a round number (1, 2, ...)"
            ))
        }
    };
    let player = required("player")?;
    let points_text = required("points")?;
    let points = match points_text.parse::<f64>() {
        Ok(p) if p.fract() == 0.0 && (0.0..=f64::from(MAX_POINTS)).contains(&p) => p as u32,
        _ => {
            return Err(format!(
                "points '{points_text}' is not a whole number 0..={MAX_POINTS}"
            ))
        }
    };
    let truth = match (number_signed(&text, "lat")?, number_signed(&text, "lng")?) {
        (Some(lat), Some(lng)) => Some(LatLon::new(lat, lng).map_err(|e| format!("lat/lng: {e}"))?),
        (None, None) => None,
        _ => return Err("lat and lng must be given together".into()),
    };
    Ok(HumanRound {
        source: source.to_owned(),
        challenge_id,
        round,
        location_id: text("location_id"),
        truth,
        player,
        points,
        distance_km: number("distance_km")?,
        time_s: number("time_s")?,
    })
}

fn number_signed(text: &impl Fn(&str) -> Option<String>, k: &str) -> Result<Option<f64>, String> {
    match text(k) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("{k} '{v}' is not a number")),
    }
}

/// Imports CSV text (see the module doc for the columns). `source` names it in problems.
pub fn parse_csv(source: &str, input: impl Read) -> Result<Import, HumansError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| HumansError::Format {
            path: source.into(),
            detail: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        return Err(HumansError::Header {
            path: source.into(),
            missing: missing.join(", "),
        });
    }
    let index: HashMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    let mut out = Import::default();
    for (i, rec) in rdr.records().enumerate() {
        // Header is line 1; a record's own position is exact even with quoted newlines.
        let fallback = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let row = e.position().map(|p| p.line() as usize).unwrap_or(fallback);
                out.problems.push(RowProblem {
                    file: source.into(),
                    row,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let row = rec
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or(fallback);
        let get = |k: &str| index.get(k).and_then(|&i| rec.get(i)).map(str::to_owned);
        match row_from(source, get) {
            Ok(r) => out.rounds.push(r),
            Err(message) => out.problems.push(RowProblem {
                file: source.into(),
                row,
                message,
            }),
        }
    }
    Ok(out)
}

/// Imports a JSON array of row objects (same keys as the CSV columns).
pub fn parse_json(source: &str, text: &str) -> Result<Import, HumansError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| HumansError::Format {
        path: source.into(),
        detail: format!("not JSON: {e}"),
    })?;
    let rows = value.as_array().ok_or_else(|| HumansError::Format {
        path: source.into(),
        detail: "expected a JSON array of row objects".into(),
    })?;
    let mut out = Import::default();
    for (i, v) in rows.iter().enumerate() {
        let row = i + 1;
        let Some(obj) = v.as_object() else {
            out.problems.push(RowProblem {
                file: source.into(),
                row,
                message: "not an object".into(),
            });
            continue;
        };
        let get = |k: &str| {
            obj.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .and_then(|(_, v)| match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
        };
        match row_from(source, get) {
            Ok(r) => out.rounds.push(r),
            Err(message) => out.problems.push(RowProblem {
                file: source.into(),
                row,
                message,
            }),
        }
    }
    Ok(out)
}

/// Imports a file by its extension: `.csv`, `.json` (array of rows) or `.jsonl` (a [`Store`]).
pub fn import_file(path: &Path) -> Result<Import, HumansError> {
    let name = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => parse_csv(&name, File::open(path).map_err(io(path))?),
        Some("json") => parse_json(&name, &fs::read_to_string(path).map_err(io(path))?),
        Some("jsonl") => Ok(Import {
            rounds: Store::open(path).load()?,
            problems: vec![],
        }),
        _ => Err(HumansError::FileType { path: name }),
    }
}

/// A challenge of the shared data set: its link, map and true locations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seed {
    pub challenge_id: String,
    pub link: String,
    pub map: String,
    pub mode: String,
    pub truths: Vec<LatLon>,
}

/// The shared GeoGuessr study data set, as human rounds.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub seeds: Vec<Seed>,
    pub rounds: Vec<HumanRound>,
    pub problems: Vec<RowProblem>,
}

/// The challenge id of a GeoGuessr challenge link: its last non-empty path part.
pub fn challenge_id_from_link(link: &str) -> Option<String> {
    let path = link.split(['?', '#']).next().unwrap_or("");
    path.rsplit('/')
        .find(|p| !p.trim().is_empty())
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.contains(':'))
}

fn csv_bytes_reader(path: &Path) -> Result<csv::Reader<File>, HumansError> {
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(File::open(path).map_err(io(path))?))
}

fn column(header: &csv::ByteRecord, name: &str, path: &Path) -> Result<usize, HumansError> {
    header
        .iter()
        .position(|h| h == name.as_bytes())
        .ok_or_else(|| HumansError::Header {
            path: path.display().to_string(),
            missing: name.into(),
        })
}

/// Text of a field; the data set has a few non-UTF-8 bytes in place names, so decode lossily.
/// The data rows of a CSV file with their line numbers (as a spreadsheet shows them); a record
/// the reader cannot split becomes a problem for `file` and is skipped.
fn data_rows<'r, R: std::io::Read>(
    rdr: &'r mut csv::Reader<R>,
    file: &'r str,
    problems: &'r mut Vec<RowProblem>,
) -> impl Iterator<Item = (usize, csv::ByteRecord)> + 'r {
    rdr.byte_records().enumerate().filter_map(move |(i, rec)| {
        // Row 1 is the header.
        let fallback = i + 2;
        match rec {
            Ok(r) => {
                let row = r.position().map_or(fallback, |p| p.line() as usize);
                Some((row, r))
            }
            Err(e) => {
                problems.push(RowProblem {
                    file: file.to_owned(),
                    row: fallback,
                    message: e.to_string(),
                });
                None
            }
        }
    })
}

fn field(rec: &csv::ByteRecord, i: usize) -> String {
    rec.get(i)
        .map(|b| String::from_utf8_lossy(b).trim().to_owned())
        .unwrap_or_default()
}

fn read_seeds(dir: &Path, problems: &mut Vec<RowProblem>) -> Result<Vec<Seed>, HumansError> {
    let path = dir.join(DATASET_SEEDS_FILE);
    let name = path.display().to_string();
    let mut rdr = csv_bytes_reader(&path)?;
    let header = rdr.byte_headers().map_err(|e| HumansError::Format {
        path: name.clone(),
        detail: e.to_string(),
    })?;
    let header = header.clone();
    let link_i = column(&header, "SEED_LINK", &path)?;
    let map_i = column(&header, "SEED_MAP", &path)?;
    let mode_i = column(&header, "SEED_MODE", &path)?;
    let mut coord_i = Vec::new();
    for k in 1..=DATASET_ROUNDS_PER_GAME {
        coord_i.push((
            format!("ROUND_{k}_LAT"),
            column(&header, &format!("ROUND_{k}_LAT"), &path)?,
            format!("ROUND_{k}_LNG"),
            column(&header, &format!("ROUND_{k}_LNG"), &path)?,
        ));
    }
    let mut seeds = Vec::new();
    let rows: Vec<_> = data_rows(&mut rdr, &name, problems).collect();
    for (row, rec) in rows {
        let link = field(&rec, link_i);
        let parsed = (|| -> Result<Seed, String> {
            let challenge_id = challenge_id_from_link(&link)
                .ok_or_else(|| format!("SEED_LINK '{link}' has no challenge id"))?;
            let mut truths = Vec::new();
            for (lat_name, lat_i, lng_name, lng_i) in &coord_i {
                let (lat_t, lng_t) = (field(&rec, *lat_i), field(&rec, *lng_i));
                let lat: f64 = lat_t.parse().map_err(|_| {
                    format!("{lat_name} '{lat_t}' is not a number (columns shifted?)")
                })?;
                let lng: f64 = lng_t.parse().map_err(|_| {
                    format!("{lng_name} '{lng_t}' is not a number (columns shifted?)")
                })?;
                truths.push(
                    LatLon::new(lat, lng).map_err(|e| format!("{lat_name}/{lng_name}: {e}"))?,
                );
            }
            Ok(Seed {
                challenge_id,
                link: link.clone(),
                map: field(&rec, map_i),
                mode: field(&rec, mode_i),
                truths,
            })
        })();
        match parsed {
            Ok(s) => seeds.push(s),
            Err(message) => problems.push(RowProblem {
                file: name.clone(),
                row,
                message,
            }),
        }
    }
    Ok(seeds)
}

/// Imports the shared data set from `dir` (`SEEDS.csv` and `ROUND_SUM_NMPZ.csv`).
///
/// Mapping: challenge id = the `SEED_LINK`'s last path part; player = `PLAYER_NAME` (unique per
/// `PLAYER_ID` in the data); points = `ROUND_SCORE`; truth = that challenge's `ROUND_k` location
/// from `SEEDS.csv` (`None` when its seed row is malformed). The round number is the row's
/// position among its `GAME_ID`'s rows (the k-th row of a game is round k): the file lists
/// every game's first round, then every game's second, and so on, so one game's rows are in
/// round order but not adjacent. `SEED_TIME` is the time limit, not time taken, so `time_s`
/// stays empty; the data has no guesses, so `distance_km` does too.
pub fn import_dataset(dir: &Path) -> Result<Dataset, HumansError> {
    for file in [DATASET_SEEDS_FILE, DATASET_ROUNDS_FILE] {
        if !dir.join(file).is_file() {
            return Err(HumansError::DatasetFile {
                dir: dir.display().to_string(),
                file,
            });
        }
    }
    let mut problems = Vec::new();
    let seeds = read_seeds(dir, &mut problems)?;
    let truth_of: HashMap<&str, &Seed> =
        seeds.iter().map(|s| (s.challenge_id.as_str(), s)).collect();

    let path = dir.join(DATASET_ROUNDS_FILE);
    let name = path.display().to_string();
    let mut rdr = csv_bytes_reader(&path)?;
    let header = rdr
        .byte_headers()
        .map_err(|e| HumansError::Format {
            path: name.clone(),
            detail: e.to_string(),
        })?
        .clone();
    let game_i = column(&header, "GAME_ID", &path)?;
    let link_i = column(&header, "SEED_LINK", &path)?;
    let player_i = column(&header, "PLAYER_NAME", &path)?;
    let score_i = column(&header, "ROUND_SCORE", &path)?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rounds = Vec::new();
    let rows: Vec<_> = data_rows(&mut rdr, &name, &mut problems).collect();
    for (row, rec) in rows {
        let game = field(&rec, game_i);
        let parsed = (|| -> Result<HumanRound, String> {
            if game.is_empty() {
                return Err("GAME_ID is empty".into());
            }
            // Count before validating the rest, so one bad row does not renumber the
            // game's later rounds.
            let count = seen.entry(game.clone()).or_insert(0);
            *count += 1;
            let round = *count;
            if round > DATASET_ROUNDS_PER_GAME {
                return Err(format!(
                    "GAME_ID {game} has more than {DATASET_ROUNDS_PER_GAME} rows"
                ));
            }
            let link = field(&rec, link_i);
            let challenge_id = challenge_id_from_link(&link)
                .ok_or_else(|| format!("SEED_LINK '{link}' has no challenge id"))?;
            let player = field(&rec, player_i);
            if player.is_empty() {
                return Err("PLAYER_NAME is empty".into());
            }
            let score_t = field(&rec, score_i);
            let points = match score_t.parse::<u32>() {
                Ok(p) if p <= MAX_POINTS => p,
                _ => {
                    return Err(format!(
                        "ROUND_SCORE '{score_t}' is not a whole number 0..={MAX_POINTS}"
                    ))
                }
            };
            let truth = truth_of
                .get(challenge_id.as_str())
                .and_then(|s| s.truths.get(round - 1).copied());
            Ok(HumanRound {
                source: name.clone(),
                challenge_id,
                round,
                location_id: None,
                truth,
                player,
                points,
                distance_km: None,
                time_s: None,
            })
        })();
        match parsed {
            Ok(r) => rounds.push(r),
            Err(message) => problems.push(RowProblem {
                file: name.clone(),
                row,
                message,
            }),
        }
    }
    Ok(Dataset {
        seeds,
        rounds,
        problems,
    })
}

/// Human rounds kept as JSON lines in one file.
///
/// Concurrency: the file is opened with `O_APPEND`, each round is serialised into one buffer
/// ending in `\n` and written with a single `write_all` while holding an exclusive `flock`.
/// `O_APPEND` alone puts every write at the current end, but a long write may be split into
/// several `write(2)` calls, and another writer could land between them; the lock (advisory,
/// held only for that one write) rules that out, and readers take a shared lock so they never
/// see half a line. A writer killed mid-line leaves a torn last line: [`Store::load`] skips it
/// with a warning (the same rule as replays) and the next [`Store::append`] cuts it off before
/// writing, so it never glues onto a good line.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

/// Holds an `flock` until dropped (released by the kernel on close as well). Unix only, like
/// the rest of the crate (process groups, chromedriver).
struct FileLock<'a>(&'a File);

impl<'a> FileLock<'a> {
    fn new(file: &'a File, exclusive: bool) -> std::io::Result<FileLock<'a>> {
        use std::os::unix::io::AsRawFd;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        // SAFETY: flock on a file descriptor that stays open for the lock's lifetime.
        if unsafe { libc::flock(file.as_raw_fd(), op) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(FileLock(file))
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        use std::os::unix::io::AsRawFd;
        // SAFETY: as above; unlocking cannot break memory safety.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// Bytes read per step when looking back for the last complete line.
const TAIL_CHUNK: usize = 4096;

/// If the file does not end in a newline (a writer died mid-line), truncates it after its last
/// complete line, so the next line starts clean instead of gluing onto the fragment.
fn cut_torn_tail(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; TAIL_CHUNK];
    while end > 0 {
        let start = end.saturating_sub(TAIL_CHUNK as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if end == len && chunk.last() == Some(&b'\n') {
            return Ok(());
        }
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return file.set_len(start + i as u64 + 1);
        }
        end = start;
    }
    file.set_len(0)
}

impl Store {
    /// The store in `data_dir` ([`STORE_FILE`]).
    pub fn in_dir(data_dir: &Path) -> Store {
        Store {
            path: data_dir.join(STORE_FILE),
        }
    }

    /// A store at an explicit file path.
    pub fn open(path: &Path) -> Store {
        Store {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one round as one line (see the type doc for why this is safe with many writers).
    pub fn append(&self, round: &HumanRound) -> Result<(), HumansError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let mut line = serde_json::to_vec(round).map_err(|e| HumansError::Format {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        // Readable too: cutting a torn tail needs to look at the last bytes.
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(io(&self.path))?;
        let _lock = FileLock::new(&file, true).map_err(io(&self.path))?;
        cut_torn_tail(&file).map_err(io(&self.path))?;
        (&file).write_all(&line).map_err(io(&self.path))?;
        file.sync_data().map_err(io(&self.path))
    }

    /// Every stored round; a missing file is an empty store.
    pub fn load(&self) -> Result<Vec<HumanRound>, HumansError> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(io(&self.path)(e)),
        };
        let _lock = FileLock::new(&file, false).map_err(io(&self.path))?;
        let lines: Vec<String> = BufReader::new(&file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(io(&self.path))?;
        let last = lines.iter().rposition(|l| !l.trim().is_empty());
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<HumanRound>(line) {
                Ok(r) => out.push(r),
                Err(e) if Some(i) == last => warn!(
                    "{} line {}: skipped torn last line ({e})",
                    self.path.display(),
                    i + 1
                ),
                Err(e) => {
                    return Err(HumansError::StoreLine {
                        path: self.path.display().to_string(),
                        line: i + 1,
                        detail: e.to_string(),
                    })
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(challenge: &str, round: usize) -> HumanRound {
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
        }
    }

    #[test]
    fn csv_keeps_good_rows_and_names_bad_ones() {
        let text = "\
Challenge,Round,Player,Points,distance_km,time_s,lat,lng,location_id
world-1-5,1,ann,4321,12.5,31,48.85,2.35,par
world-1-5,2,ann,5001,,,,,
world-1-5,0,bob,10,,,,,
world-1-5,3,,10,,,,,
world-1-5,4,cy,12.5,,,,,
world-1-5,5,cy,99,,,91,0,
world-1-5,5,cy,99,,,10,,
world-1-5,5,dee,0,-3,,,,
\"world-1-5\",5,eve,2500
";
        let imp = parse_csv("h.csv", text.as_bytes()).unwrap();
        assert_eq!(imp.rounds.len(), 2, "{:?}", imp.problems);
        let r = &imp.rounds[0];
        assert_eq!(r.challenge_id, "world-1-5");
        assert_eq!((r.round, r.points), (1, 4321));
        assert_eq!(r.player, "ann");
        assert_eq!(r.distance_km, Some(12.5));
        assert_eq!(r.time_s, Some(31.0));
        assert_eq!(r.truth, Some(LatLon::new(48.85, 2.35).unwrap()));
        assert_eq!(r.location_id.as_deref(), Some("par"));
        assert_eq!(imp.rounds[1].player, "eve");
        assert_eq!(imp.rounds[1].truth, None);
        let rows: Vec<usize> = imp.problems.iter().map(|p| p.row).collect();
        assert_eq!(rows, vec![3, 4, 5, 6, 7, 8, 9]);
        let msgs: Vec<String> = imp.problems.iter().map(|p| p.to_string()).collect();
        assert!(
            msgs[0].starts_with("h.csv row 3: points '5001'"),
            "{msgs:?}"
        );
        assert!(msgs[1].contains("round '0'"), "{msgs:?}");
        assert!(msgs[2].contains("player is empty"), "{msgs:?}");
        assert!(msgs[3].contains("points '12.5'"), "{msgs:?}");
        assert!(msgs[4].contains("latitude 91"), "{msgs:?}");
        assert!(msgs[5].contains("together"), "{msgs:?}");
        assert!(msgs[6].contains("distance_km '-3'"), "{msgs:?}");
    }

    #[test]
    fn csv_without_required_columns_is_refused() {
        let err = parse_csv("x.csv", "challenge,player,points\n".as_bytes()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x.csv") && msg.contains("round"), "{msg}");
    }

    #[test]
    fn json_rows_accept_numbers_or_strings() {
        let text = r#"[
            {"challenge": "c", "round": 2, "player": "ann", "points": "4000", "lat": 1.5, "lng": -2},
            {"challenge": "c", "round": "x", "player": "bob", "points": 1},
            7
        ]"#;
        let imp = parse_json("h.json", text).unwrap();
        assert_eq!(imp.rounds.len(), 1);
        assert_eq!(imp.rounds[0].truth, Some(LatLon::new(1.5, -2.0).unwrap()));
        assert_eq!(imp.problems.len(), 2);
        assert_eq!((imp.problems[0].row, imp.problems[1].row), (2, 3));
        assert!(parse_json("h.json", "{}").is_err());
    }

    #[test]
    fn challenge_ids_from_links() {
        assert_eq!(
            challenge_id_from_link("https://www.geoguessr.com/challenge/jVr5gC0odqT8TgTe")
                .as_deref(),
            Some("jVr5gC0odqT8TgTe")
        );
        assert_eq!(
            challenge_id_from_link("https://www.geoguessr.com/challenge/abc/?x=1").as_deref(),
            Some("abc")
        );
        assert_eq!(challenge_id_from_link("abc").as_deref(), Some("abc"));
        assert_eq!(challenge_id_from_link("https://"), None);
        assert_eq!(challenge_id_from_link(""), None);
    }

    #[test]
    fn store_round_trips_and_survives_concurrent_writers_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::in_dir(&dir.path().join("data"));
        assert!(store.load().unwrap().is_empty());
        // A long player name makes each line several KB, so interleaving would show.
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let mut h = human(&format!("c{t}"), i + 1);
                        h.player = format!("p{t}-{}", "x".repeat(4000));
                        store.append(&h).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let all = store.load().unwrap();
        assert_eq!(all.len(), 150);
        for t in 0..6 {
            let rounds: Vec<usize> = all
                .iter()
                .filter(|r| r.challenge_id == format!("c{t}"))
                .map(|r| r.round)
                .collect();
            assert_eq!(rounds, (1..=25).collect::<Vec<_>>());
        }
        // A torn last line is skipped, and the next append cuts it off instead of gluing on.
        let mut f = OpenOptions::new().append(true).open(store.path()).unwrap();
        f.write_all(b"{\"source\":\"t\",\"chall").unwrap();
        drop(f);
        assert_eq!(store.load().unwrap().len(), 150);
        store.append(&human("z", 1)).unwrap();
        let after = store.load().unwrap();
        assert_eq!(after.len(), 151);
        assert_eq!(after[150], human("z", 1));
        // A complete bad line in the middle is corruption: an error naming the line.
        let mut f = OpenOptions::new().append(true).open(store.path()).unwrap();
        f.write_all(b"not json\n").unwrap();
        drop(f);
        store.append(&human("y", 1)).unwrap();
        match store.load() {
            Ok(r) => panic!("loaded {} rounds from a corrupt store", r.len()),
            Err(e) => assert!(e.to_string().contains("line 152"), "{e}"),
        }
    }

    #[test]
    fn import_file_dispatches_on_extension() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.CSV");
        fs::write(&csv, "challenge,round,player,points\nc,1,ann,5\n").unwrap();
        assert_eq!(import_file(&csv).unwrap().rounds.len(), 1);
        let store = Store::open(&dir.path().join("s.jsonl"));
        store.append(&human("c", 1)).unwrap();
        assert_eq!(
            import_file(store.path()).unwrap().rounds,
            vec![human("c", 1)]
        );
        let txt = dir.path().join("a.txt");
        fs::write(&txt, "").unwrap();
        assert!(matches!(
            import_file(&txt),
            Err(HumansError::FileType { .. })
        ));
        assert!(matches!(
            import_file(&dir.path().join("missing.csv")),
            Err(HumansError::Io { .. })
        ));
    }

    #[test]
    fn missing_dataset_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let err = import_dataset(dir.path()).unwrap_err().to_string();
        assert!(err.contains("SEEDS.csv"), "{err}");
    }

    #[test]
    fn dataset_rounds_follow_game_order_and_take_truth_from_seeds() {
        // Two games laid out as the real file is: all first rounds, then all second rounds.
        let dir = tempfile::tempdir().unwrap();
        let mut seeds = String::from("TEST_ID,SEED_NUMBER,SEED_LINK,SEED_MAP,SEED_TIME,SEED_MODE");
        for k in 1..=5 {
            seeds.push_str(&format!(
                ",ROUND_{k}_LAT,ROUND_{k}_LNG,ROUND_{k}_SUBDIVISION"
            ));
        }
        seeds.push_str("\nT,1,https://g/challenge/AAA,M,20,NMPZ");
        for k in 1..=5 {
            seeds.push_str(&format!(",{}.5,{}.25,Sub", 50 + k, 40 + k));
        }
        seeds.push_str("\nT,2,https://g/challenge/BBB,M,40,NM,33,1.0,2.0,Oops");
        for _ in 2..=5 {
            seeds.push_str(",Sub,1.0,2.0");
        }
        seeds.push('\n');
        fs::write(dir.path().join(DATASET_SEEDS_FILE), seeds).unwrap();
        let head = "GAME_ID,SEED_LINK,PLAYER_ID,PLAYER_NAME,TEST_ID,SEED_NUMBER,SEED_MAP,SEED_TIME,SEED_MODE,ROUND_SCORE\n";
        let mut rows = String::from(head);
        for k in 1..=5 {
            rows.push_str(&format!(
                "7,https://g/challenge/AAA,i1,ann,T,1,M,20,NMPZ,{}\n",
                k * 100
            ));
            rows.push_str(&format!(
                "8,https://g/challenge/AAA,i2,bob,T,1,M,20,NMPZ,{}\n",
                k * 10
            ));
        }
        rows.push_str("8,https://g/challenge/AAA,i2,bob,T,1,M,20,NMPZ,1\n");
        rows.push_str("9,https://g/challenge/AAA,i3,cy,T,1,M,20,NMPZ,x\n");
        fs::write(dir.path().join(DATASET_ROUNDS_FILE), rows).unwrap();
        let ds = import_dataset(dir.path()).unwrap();
        assert_eq!(ds.seeds.len(), 1);
        assert_eq!(ds.rounds.len(), 10);
        let ann: Vec<(usize, u32)> = ds
            .rounds
            .iter()
            .filter(|r| r.player == "ann")
            .map(|r| (r.round, r.points))
            .collect();
        assert_eq!(ann, vec![(1, 100), (2, 200), (3, 300), (4, 400), (5, 500)]);
        let r3 = ds
            .rounds
            .iter()
            .find(|r| r.player == "bob" && r.round == 3)
            .unwrap();
        assert_eq!(r3.truth, Some(LatLon::new(53.5, 43.25).unwrap()));
        assert_eq!(r3.challenge_id, "AAA");
        let problems: Vec<String> = ds.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].contains("SEEDS.csv row 3: ROUND_2_LAT 'Oops'"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("row 12: GAME_ID 8 has more than 5"),
            "{problems:?}"
        );
        assert!(
            problems[2].contains("row 13: ROUND_SCORE 'x'"),
            "{problems:?}"
        );
    }
}
