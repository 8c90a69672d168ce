//! The public GeoGuessr study data set (`SEEDS.csv` and the per-round results, one file per game
//! mode): challenges, their true locations and every player's rounds.

use super::*;

/// A challenge of the shared data set: its link, map and true locations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seed {
    pub challenge_id: String,
    pub link: String,
    pub map: String,
    pub mode: String,
    pub truths: Vec<LatLon>,
}

/// One results file of the data set that was read, and what it held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetFile {
    /// Its path (the `source` of its rounds).
    pub path: String,
    /// The game mode its name says: `ROUND_SUM_<MODE>.csv`.
    pub mode: String,
    /// Rounds imported from it (bad rows are in [`Dataset::problems`]).
    pub rounds: usize,
    pub players: usize,
    /// The people's mean points on those rounds.
    pub mean_points: Option<f64>,
}

/// The shared GeoGuessr study data set, as human rounds.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub seeds: Vec<Seed>,
    pub rounds: Vec<HumanRound>,
    pub problems: Vec<RowProblem>,
    /// The results files read, by name.
    pub files: Vec<DatasetFile>,
}

impl Dataset {
    /// The game mode of a round, from its `source` (the file it came from).
    pub(crate) fn mode_of(&self, round: &HumanRound) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.path == round.source)
            .map(|f| f.mode.as_str())
    }

    /// The modes read, in file-name order, each once.
    pub fn modes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for f in &self.files {
            if !out.contains(&f.mode.as_str()) {
                out.push(&f.mode);
            }
        }
        out
    }
}

/// The challenge id of a GeoGuessr challenge link: its last non-empty path part.
pub(crate) fn challenge_id_from_link(link: &str) -> Option<String> {
    let path = link.split(['?', '#']).next().unwrap_or("");
    path.rsplit('/')
        .find(|p| !p.trim().is_empty())
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.contains(':'))
}

fn csv_bytes_reader(path: &Path) -> Result<csv::Reader<File>, HumansError> {
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(File::open(path).map_err(HumansError::Io)?))
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

/// The results files of the data set in `dir`: every `ROUND_SUM_<MODE>.csv`, by name, each with
/// its mode (the `<MODE>` part: `NMPZ`, `NM`, ...).
fn rounds_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, HumansError> {
    let mut files: Vec<(PathBuf, String)> = fs::read_dir(dir)
        .map_err(HumansError::Io)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let mode = name
                .strip_prefix(DATASET_ROUNDS_PREFIX)?
                .strip_suffix(DATASET_ROUNDS_SUFFIX)?
                .to_owned();
            (!mode.is_empty() && e.path().is_file()).then(|| (e.path(), mode))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Imports the shared data set from `dir`: `SEEDS.csv` and every `ROUND_SUM_<MODE>.csv` in it
/// (the study published one per game mode: NMPZ, NM, moving); [`Dataset::files`] says which
/// were read.
///
/// Mapping: challenge id = the `SEED_LINK`'s last path part; player = `PLAYER_NAME` (unique per
/// `PLAYER_ID` in the data); points = `ROUND_SCORE`; truth = that challenge's `ROUND_k` location
/// from `SEEDS.csv` (`None` when its seed row is malformed); source = the results file's path, so
/// a round's mode is [`Dataset::mode_of`] its source. The round number is the row's position
/// among its `GAME_ID`'s rows in its file (the k-th row of a game is round k): the file lists
/// every game's first round, then every game's second, and so on, so one game's rows are in
/// round order but not adjacent. `SEED_TIME` is the time limit, not time taken, so `time_s`
/// stays empty; the data has no guesses, so `distance_km` does too.
pub fn import_dataset(dir: &Path) -> Result<Dataset, HumansError> {
    if !dir.join(DATASET_SEEDS_FILE).is_file() {
        return Err(HumansError::DatasetFile {
            dir: dir.display().to_string(),
            file: DATASET_SEEDS_FILE,
        });
    }
    let files = rounds_files(dir)?;
    if files.is_empty() {
        return Err(HumansError::DatasetRounds {
            dir: dir.display().to_string(),
        });
    }
    let mut problems = Vec::new();
    let seeds = read_seeds(dir, &mut problems)?;
    let truth_of: HashMap<&str, &Seed> =
        seeds.iter().map(|s| (s.challenge_id.as_str(), s)).collect();
    let mut rounds = Vec::new();
    let mut read = Vec::new();
    for (path, mode) in files {
        let mine = read_rounds(&path, &truth_of, &mut problems)?;
        let players: std::collections::HashSet<&str> =
            mine.iter().map(|r| r.player.as_str()).collect();
        read.push(DatasetFile {
            path: path.display().to_string(),
            mode,
            rounds: mine.len(),
            players: players.len(),
            mean_points: (!mine.is_empty())
                .then(|| mine.iter().map(|r| f64::from(r.points)).sum::<f64>() / mine.len() as f64),
        });
        rounds.extend(mine);
    }
    Ok(Dataset {
        seeds,
        rounds,
        problems,
        files: read,
    })
}

/// The rounds of one `ROUND_SUM_<MODE>.csv` file; bad rows go to `problems`.
fn read_rounds(
    path: &Path,
    truth_of: &HashMap<&str, &Seed>,
    problems: &mut Vec<RowProblem>,
) -> Result<Vec<HumanRound>, HumansError> {
    let name = path.display().to_string();
    let mut rdr = csv_bytes_reader(path)?;
    let header = rdr
        .byte_headers()
        .map_err(|e| HumansError::Format {
            path: name.clone(),
            detail: e.to_string(),
        })?
        .clone();
    let game_i = column(&header, "GAME_ID", path)?;
    let link_i = column(&header, "SEED_LINK", path)?;
    let player_i = column(&header, "PLAYER_NAME", path)?;
    let score_i = column(&header, "ROUND_SCORE", path)?;
    // Game ids are numbered per file: the same id in two modes' files is two games.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rounds = Vec::new();
    let rows: Vec<_> = data_rows(&mut rdr, &name, problems).collect();
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
                guess: None,
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
    Ok(rounds)
}
