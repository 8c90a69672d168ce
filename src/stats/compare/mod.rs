//! What `geoagent stats` and `geoagent report` compute: replays and human results read, grouped
//! by player, summarised with the [`super`] statistics, compared with people and with each other
//! ([`build_report`] on plain [`StatsOptions`]; the tables are printed by `cli::stats`).
//!
//! Rounds where a person's hints went into the guess (`play --assist`, the interactive strategy)
//! are a player of their own ("… + a person's hints", [`round_label`]), so assisted and
//! unassisted rounds are never pooled; the model's own first answers on those rounds are a third
//! player ("…: first answers, before hints"), which the paired comparison sets against the
//! revised guesses on the same rounds: what the hints were worth.
//!
//! With `--human-dataset DIR --reference baseline` it also scores a reference player directly on
//! the data set's true locations (the agent has not played those rounds): the single fixed guess
//! with the highest expected points over the map's locations, the same rule as the built-in
//! baseline reasoner, scored with the map size from the locations' bounding-box diagonal.

use super::{paired, summarize, win_rate, Paired, RoundEval, StatsError, Summary, WinRate};
use crate::agent::baseline::{best_expected_point, BASELINE_NAME};
use crate::game::score;
use crate::geo::reverse::{self, ReverseError};
use crate::geo::{Bounds, LatLon};
use crate::humans::{self, HumanRound, HumansError};
use crate::replay::{ReplayError, RoundRecord, MANIFEST_FILE};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Individual players shown besides the pooled comparison: enough to see the spread of skill
/// without drowning the table.
pub(crate) const DEFAULT_TOP_PLAYERS: usize = 5;

/// A reference player scored on the human data set's own locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// One fixed guess: the point with the highest expected score over the map's locations.
    Baseline,
}

/// What to summarise and compare.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsOptions {
    /// Replay folders: one session (holding manifest.json) or a folder of sessions.
    pub replays: Vec<PathBuf>,
    /// Human result files (.csv, .json or a .jsonl human store).
    pub humans: Vec<PathBuf>,
    /// The GeoGuessr study data set folder (SEEDS.csv and every ROUND_SUM_<MODE>.csv in it).
    pub human_dataset: Option<PathBuf>,
    /// Also score this reference player on the data set's own locations.
    pub reference: Option<Reference>,
    /// Individual players compared against, most rounds in common first.
    pub top: usize,
    /// Only this challenge (MAP-SEED-ROUNDS); without `humans`, its human results come from the
    /// local game's store, `human_store`.
    pub challenge: Option<String>,
    /// Where `serve` saves people's rounds ([`default_human_store`] unless configured).
    pub human_store: PathBuf,
}

impl StatsOptions {
    /// The given replay folders with the defaults for everything else.
    pub fn for_replays(replays: Vec<PathBuf>) -> StatsOptions {
        StatsOptions {
            replays,
            humans: vec![],
            human_dataset: None,
            reference: None,
            top: DEFAULT_TOP_PLAYERS,
            challenge: None,
            human_store: default_human_store(),
        }
    }
}

/// Where `serve` saves human results by default (`server.human_results`).
pub(crate) fn default_human_store() -> PathBuf {
    PathBuf::from("data").join(humans::STORE_FILE)
}

#[derive(Debug, Error)]
pub enum CompareError {
    #[error("nothing to summarise: {0}")]
    NoInput(String),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Catalog(#[from] crate::replay::catalog::CatalogError),
    #[error(transparent)]
    Humans(#[from] HumansError),
    #[error(transparent)]
    Stats(#[from] StatsError),
    #[error(transparent)]
    Geo(#[from] ReverseError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One player against people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Versus {
    /// "all players (pooled)" or a player's name.
    pub opponent: String,
    /// Agent-round × human-round pairs.
    pub rounds_matched: usize,
    pub per_round: Option<WinRate>,
    /// Totals over the agent's rounds of a challenge against a human game covering all of them.
    pub per_game: Option<WinRate>,
}

/// One player (a reasoner, or the reference) and its results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayerReport {
    pub label: String,
    pub sessions: usize,
    pub summary: Summary,
    pub versus: Vec<Versus>,
    /// How the reference was built (guess, map size), for a reference player.
    pub note: Option<String>,
}

/// Two players on the rounds both played (same challenge and round).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedReport {
    pub a: String,
    pub b: String,
    pub rounds: usize,
    pub points: Paired,
}

/// Everything `geoagent stats` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub players: Vec<PlayerReport>,
    pub comparisons: Vec<PairedReport>,
    pub human_rounds: usize,
    pub human_players: usize,
    /// The human data set's results files that were read, one per game mode.
    pub human_dataset_files: Vec<humans::DatasetFile>,
    pub import_problems: Vec<String>,
    pub notes: Vec<String>,
}

/// Session folders under `path` (itself when it holds a manifest), as `replay list` finds them;
/// none is an error naming the folder.
fn session_dirs(path: &Path) -> Result<Vec<PathBuf>, CompareError> {
    let dirs = crate::replay::catalog::session_dirs(path)?;
    if dirs.is_empty() {
        return Err(CompareError::NoInput(format!(
            "{} holds no replay (no {MANIFEST_FILE} in it or its sub-folders); pass a folder written by `geoagent play`",
            path.display()
        )));
    }
    Ok(dirs)
}

/// How a player is named in tables: "reasoner (strategy)", or just "baseline" for the baseline
/// reasoner, which uses no strategy whatever the session recorded.
pub(crate) fn player_label(reasoner: &str, strategy: &str) -> String {
    if reasoner == BASELINE_NAME {
        reasoner.to_string()
    } else {
        format!("{reasoner} ({strategy})")
    }
}

/// Appended to a player's label for its rounds where a person's hints went into the guess.
pub const ASSISTED_SUFFIX: &str = " + a person's hints";
/// Appended to a player's label for its own first answers on those rounds, before any hint.
pub const FIRST_ANSWERS_SUFFIX: &str = ": first answers, before hints";

/// The player a recorded round counts for: [`player_label`], with [`ASSISTED_SUFFIX`] when a
/// person's hints went into its guess.
pub(crate) fn round_label(reasoner: &str, strategy: &str, guess: &crate::agent::Guess) -> String {
    let base = player_label(reasoner, strategy);
    if guess.assisted() {
        format!("{base}{ASSISTED_SUFFIX}")
    } else {
        base
    }
}

/// Evaluated rounds per player label ("reasoner/strategy"), in first-seen order.
/// Also collects into `site_challenges` the challenge of every geoguessr.com session (its token,
/// or the game token of a classic game, which no person shares).
fn load_replays(
    paths: &[PathBuf],
    notes: &mut Vec<String>,
    site_challenges: &mut std::collections::BTreeSet<String>,
) -> Result<Vec<(String, usize, Vec<RoundEval>)>, CompareError> {
    let mut players: Vec<(String, usize, Vec<RoundEval>)> = Vec::new();
    for p in paths {
        // One unreadable session does not stop the statistics: it is left out with a note.
        let sessions = crate::replay::catalog::read_sessions(&session_dirs(p)?);
        notes.extend(sessions.notes());
        for replay in sessions.readable {
            notes.extend(replay.skipped.iter().cloned());
            let m = &replay.manifest;
            if m.environment == crate::environment::Kind::Geoguessr {
                site_challenges.insert(m.challenge.id.clone());
            }
            let eval = |guess: LatLon, distance_km: f64, points: u32, round: &RoundRecord| {
                RoundEval::geocoded(
                    &m.session_id,
                    &m.challenge.id,
                    round.round,
                    round.location_id.clone(),
                    round.result.truth,
                    guess,
                    distance_km,
                    points,
                )
            };
            // This session's rounds by player: assisted rounds apart (see the module docs).
            let mut by_label: Vec<(String, Vec<RoundEval>)> = Vec::new();
            let mut add = |label: String, e: RoundEval| match by_label
                .iter_mut()
                .find(|(l, _)| *l == label)
            {
                Some((_, v)) => v.push(e),
                None => by_label.push((label, vec![e])),
            };
            let mut unscored_first = 0usize;
            for r in &replay.rounds {
                let label = round_label(&m.reasoner, &m.strategy_label(), &r.guess);
                add(
                    label,
                    eval(r.result.guess, r.result.distance_km, r.result.points, r),
                );
                let Some(first) = r.guess.unassisted_pos() else {
                    continue;
                };
                // A first answer's points are ours to compute, which needs the map's size.
                let Some(size_km) = m.map.known_size_km() else {
                    unscored_first += 1;
                    continue;
                };
                let d = first.distance_km(&r.result.truth);
                add(
                    format!(
                        "{}{FIRST_ANSWERS_SUFFIX}",
                        player_label(&m.reasoner, &m.strategy_label())
                    ),
                    eval(first, d, score(d, size_km), r),
                );
            }
            if unscored_first > 0 {
                notes.push(format!(
                    "session {}: {unscored_first} first answer(s) before hints left out: the map's size is unknown (the site did not give its scale), so their points cannot be computed",
                    crate::replay::clip_name(&m.session_id)
                ));
            }
            for (label, evals) in by_label {
                let i = match players.iter().position(|(l, _, _)| *l == label) {
                    Some(i) => i,
                    None => {
                        players.push((label, 0, Vec::new()));
                        players.len() - 1
                    }
                };
                players[i].1 += 1;
                players[i].2.extend(evals);
            }
        }
    }
    Ok(players)
}

/// [`versus`], plus one pooled row per game mode when the human data set holds several
/// (right after the row pooling every mode).
fn versus_by_mode(
    agent: &[RoundEval],
    humans: &[HumanRound],
    top: usize,
    dataset: Option<&humans::Dataset>,
) -> Vec<Versus> {
    let mut rows = versus(agent, humans, top);
    let Some(ds) = dataset.filter(|d| d.modes().len() > 1) else {
        return rows;
    };
    for (i, mode) in ds.modes().into_iter().enumerate() {
        let theirs: Vec<&HumanRound> = humans
            .iter()
            .filter(|h| ds.mode_of(h) == Some(mode))
            .collect();
        rows.insert(
            1 + i,
            compare(format!("{mode} players (pooled)"), agent, theirs),
        );
    }
    rows
}

/// Win rates of `agent` against every matching human round, pooled and per player.
pub fn versus(agent: &[RoundEval], humans: &[HumanRound], top: usize) -> Vec<Versus> {
    let pooled = compare(
        "all players (pooled)".into(),
        agent,
        humans.iter().collect(),
    );
    let mut by_player: BTreeMap<&str, Vec<&HumanRound>> = BTreeMap::new();
    for h in humans {
        by_player.entry(h.player.as_str()).or_default().push(h);
    }
    let mut individual: Vec<Versus> = by_player
        .into_iter()
        .map(|(p, hs)| compare(p.to_owned(), agent, hs))
        .filter(|v| v.rounds_matched > 0)
        .collect();
    individual.sort_by(|a, b| {
        b.rounds_matched
            .cmp(&a.rounds_matched)
            .then(a.opponent.cmp(&b.opponent))
    });
    individual.truncate(top);
    std::iter::once(pooled).chain(individual).collect()
}

fn compare(opponent: String, agent: &[RoundEval], humans: Vec<&HumanRound>) -> Versus {
    let mut pairs = Vec::new();
    for a in agent {
        for h in humans.iter().filter(|h| super::matching::matches(a, h)) {
            pairs.push((f64::from(a.points), f64::from(h.points)));
        }
    }
    // Agent games: a session's rounds of one challenge. Human games: a player's rounds of one
    // challenge from one source; a game with a repeated round number is ambiguous and skipped.
    let mut agent_games: BTreeMap<(&str, &str), Vec<&RoundEval>> = BTreeMap::new();
    for a in agent {
        agent_games
            .entry((a.session.as_str(), a.challenge_id.as_str()))
            .or_default()
            .push(a);
    }
    let mut human_games: BTreeMap<(&str, &str, &str), Vec<&HumanRound>> = BTreeMap::new();
    for h in &humans {
        human_games
            .entry((
                h.source.as_str(),
                h.player.as_str(),
                h.challenge_id.as_str(),
            ))
            .or_default()
            .push(h);
    }
    let mut games = Vec::new();
    for ((_, challenge), rounds) in &agent_games {
        let ours: f64 = rounds.iter().map(|r| f64::from(r.points)).sum();
        for ((_, _, hc), hs) in &human_games {
            if hc != challenge {
                continue;
            }
            let mut numbers: Vec<usize> = hs.iter().map(|h| h.round).collect();
            numbers.sort_unstable();
            numbers.dedup();
            if numbers.len() != hs.len() {
                continue;
            }
            let theirs: Option<f64> = rounds
                .iter()
                .map(|a| {
                    hs.iter()
                        .find(|h| super::matching::matches(a, h))
                        .map(|h| f64::from(h.points))
                })
                .sum();
            if let Some(theirs) = theirs {
                games.push((ours, theirs));
            }
        }
    }
    Versus {
        opponent,
        rounds_matched: pairs.len(),
        per_round: win_rate(&pairs).ok(),
        per_game: win_rate(&games).ok(),
    }
}

/// Pairs two players' rounds by (challenge, round); a round one player played several times
/// counts with its first play.
fn compare_players(
    a: &(String, Vec<RoundEval>),
    b: &(String, Vec<RoundEval>),
) -> Option<PairedReport> {
    let mut first: HashMap<(&str, usize), f64> = HashMap::new();
    for r in &b.1 {
        first
            .entry((r.challenge_id.as_str(), r.round))
            .or_insert(f64::from(r.points));
    }
    let mut seen = std::collections::HashSet::new();
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for r in &a.1 {
        let key = (r.challenge_id.as_str(), r.round);
        if let (true, Some(y)) = (seen.insert(key), first.get(&key)) {
            xs.push(f64::from(r.points));
            ys.push(*y);
        }
    }
    let points = paired(&xs, &ys).ok()?;
    Some(PairedReport {
        a: a.0.clone(),
        b: b.0.clone(),
        rounds: xs.len(),
        points,
    })
}

/// The reference player on the data set: one fixed guess per map, scored on every round of the
/// challenges people played.
fn reference_rounds(
    ds: &humans::Dataset,
    notes: &mut Vec<String>,
) -> Result<(Vec<RoundEval>, String), CompareError> {
    let played: std::collections::HashSet<&str> =
        ds.rounds.iter().map(|r| r.challenge_id.as_str()).collect();
    let mut maps: BTreeMap<&str, Vec<&humans::Seed>> = BTreeMap::new();
    for s in &ds.seeds {
        maps.entry(s.map.as_str()).or_default().push(s);
    }
    let mut rounds = Vec::new();
    let mut described = Vec::new();
    for (map, seeds) in maps {
        if !seeds
            .iter()
            .any(|s| played.contains(s.challenge_id.as_str()))
        {
            continue;
        }
        let locations: Vec<LatLon> = seeds
            .iter()
            .flat_map(|s| s.truths.iter().copied())
            .collect();
        let Some(size_km) = Bounds::around(locations.iter())
            .map(|b| b.diagonal_km())
            .filter(|d| *d > 0.0)
        else {
            continue;
        };
        let targets: Vec<(LatLon, f64)> = locations.iter().map(|p| (*p, 1.0)).collect();
        let Some(guess) = best_expected_point(&targets, size_km) else {
            continue;
        };
        for s in seeds
            .iter()
            .filter(|s| played.contains(s.challenge_id.as_str()))
        {
            for (k, truth) in s.truths.iter().enumerate() {
                let d = guess.distance_km(truth);
                rounds.push(RoundEval::geocoded(
                    "reference",
                    &s.challenge_id,
                    k + 1,
                    None,
                    *truth,
                    guess,
                    d,
                    score(d, size_km),
                ));
            }
        }
        described.push(format!(
            "map '{map}': fixed guess at {guess}; map size {size_km:.1} km = bounding-box diagonal of its {} locations in {}; scored 5000·exp(−10·d/size)",
            locations.len(),
            humans::DATASET_SEEDS_FILE,
        ));
    }
    if rounds.is_empty() {
        return Err(CompareError::NoInput(
            "the human data set has no challenge with both valid seed locations and human rounds"
                .into(),
        ));
    }
    notes.push(
        "The reference's guess is fitted on the same locations it is scored on (as the baseline reasoner is on its map); it knows the map, never the round.".into(),
    );
    Ok((rounds, described.join("; ")))
}

/// Reads everything `args` names and computes the report.
pub fn build_report(args: &StatsOptions) -> Result<Comparison, CompareError> {
    if args.replays.is_empty() && args.reference.is_none() {
        return Err(CompareError::NoInput(
            "no REPLAY_DIR given; pass replay folders (e.g. ./replays, written by `geoagent play`), or `--human-dataset DIR --reference baseline` to score the reference player on the human data set".into(),
        ));
    }
    reverse::check()?;
    let mut notes = Vec::new();
    let mut humans_all: Vec<HumanRound> = Vec::new();
    let mut problems = Vec::new();
    let mut site_challenges = std::collections::BTreeSet::new();
    let agents = load_replays(&args.replays, &mut notes, &mut site_challenges)?;
    // Sessions played on geoguessr.com name their challenge: its people are in the store
    // (`play --site geoguessr` put them there), so no --challenge or --humans is needed.
    let from_site = args.humans.is_empty()
        && args.challenge.is_none()
        && !site_challenges.is_empty()
        && args.human_store.is_file();
    let store_default;
    let human_files: &[PathBuf] = if from_site {
        store_default = [args.human_store.clone()];
        notes.push(format!(
            "people of geoguessr.com challenge(s) {} from {}",
            site_challenges
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            args.human_store.display()
        ));
        &store_default
    } else if args.humans.is_empty() && args.challenge.is_some() {
        store_default = [args.human_store.clone()];
        if !store_default[0].is_file() {
            return Err(CompareError::NoInput(format!(
                "--challenge without --humans reads the local game's human results, but {} does not exist (people's rounds are saved there by `geoagent serve`)",
                store_default[0].display()
            )));
        }
        &store_default
    } else {
        &args.humans
    };
    for f in human_files {
        let imp = humans::import_file(f)?;
        problems.extend(imp.problems.iter().map(ToString::to_string));
        humans_all.extend(imp.rounds);
    }
    if from_site {
        humans_all.retain(|h| site_challenges.contains(&h.challenge_id));
    }
    let mut dataset = None;
    if let Some(dir) = &args.human_dataset {
        let ds = humans::import_dataset(dir)?;
        problems.extend(ds.problems.iter().map(ToString::to_string));
        humans_all.extend(ds.rounds.iter().cloned());
        dataset = Some(ds);
    }

    // A person who plays a challenge again knows its answers: only their first game counts.
    let (mut humans_all, repeats) = super::matching::first_games(humans_all);
    notes.extend(repeats);

    let mut players: Vec<(String, usize, Vec<RoundEval>, Option<String>)> = agents
        .into_iter()
        .map(|(l, n, r)| (l, n, r, None))
        .collect();
    if let (Some(Reference::Baseline), Some(ds)) = (args.reference, &dataset) {
        let (rounds, note) = reference_rounds(ds, &mut notes)?;
        players.push(("reference: baseline".into(), 0, rounds, Some(note)));
    }
    if let Some(id) = &args.challenge {
        for p in &mut players {
            p.2.retain(|r| &r.challenge_id == id);
        }
        humans_all.retain(|h| &h.challenge_id == id);
        notes.push(format!("only challenge {id}"));
    }
    if players.iter().all(|p| p.2.is_empty()) {
        let names: Vec<String> = args
            .replays
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(CompareError::NoInput(format!(
            "the replays in {} hold no finished round",
            names.join(", ")
        )));
    }

    let mut reports = Vec::new();
    for (label, sessions, rounds, note) in &players {
        if rounds.is_empty() {
            notes.push(format!("{label}: no finished round, left out"));
            continue;
        }
        let vs = if humans_all.is_empty() {
            vec![]
        } else {
            versus_by_mode(rounds, &humans_all, args.top, dataset.as_ref())
        };
        if !humans_all.is_empty() && vs.first().is_some_and(|v| v.rounds_matched == 0) {
            notes.push(format!(
                "{label}: no human round is on the same challenge and round; win rates need people who played the same challenge (`geoagent serve` prints its link)"
            ));
        }
        reports.push(PlayerReport {
            label: label.clone(),
            sessions: *sessions,
            summary: summarize(rounds)?,
            versus: vs,
            note: note.clone(),
        });
    }
    let mut comparisons = Vec::new();
    for i in 0..players.len() {
        for j in i + 1..players.len() {
            let a = (players[i].0.clone(), players[i].2.clone());
            let b = (players[j].0.clone(), players[j].2.clone());
            comparisons.extend(compare_players(&a, &b));
        }
    }
    let human_players = humans_all
        .iter()
        .map(|h| h.player.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    Ok(Comparison {
        players: reports,
        comparisons,
        human_rounds: humans_all.len(),
        human_players,
        human_dataset_files: dataset.map(|d| d.files).unwrap_or_default(),
        import_problems: problems,
        notes,
    })
}

#[cfg(test)]
mod tests;
