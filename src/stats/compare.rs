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
pub enum CommandError {
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
fn session_dirs(path: &Path) -> Result<Vec<PathBuf>, CommandError> {
    let dirs = crate::replay::catalog::session_dirs(path)?;
    if dirs.is_empty() {
        return Err(CommandError::NoInput(format!(
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
) -> Result<Vec<(String, usize, Vec<RoundEval>)>, CommandError> {
    let mut players: Vec<(String, usize, Vec<RoundEval>)> = Vec::new();
    for p in paths {
        // One unreadable session does not stop the statistics: it is left out with a note.
        let sessions = crate::replay::catalog::read_sessions(&session_dirs(p)?);
        notes.extend(sessions.notes());
        for replay in sessions.readable {
            notes.extend(replay.skipped.iter().cloned());
            let m = &replay.manifest;
            if m.environment == crate::browser::geoguessr::ENVIRONMENT {
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
            for r in &replay.rounds {
                let label = round_label(&m.reasoner, &m.strategy, &r.guess);
                add(
                    label,
                    eval(r.result.guess, r.result.distance_km, r.result.points, r),
                );
                if let Some(first) = r.guess.unassisted_pos() {
                    let d = first.distance_km(&r.result.truth);
                    add(
                        format!(
                            "{}{FIRST_ANSWERS_SUFFIX}",
                            player_label(&m.reasoner, &m.strategy)
                        ),
                        eval(first, d, score(d, m.map.size_km), r),
                    );
                }
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
) -> Result<(Vec<RoundEval>, String), CommandError> {
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
        return Err(CommandError::NoInput(
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
pub fn build_report(args: &StatsOptions) -> Result<Comparison, CommandError> {
    if args.replays.is_empty() && args.reference.is_none() {
        return Err(CommandError::NoInput(
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
            return Err(CommandError::NoInput(format!(
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
        return Err(CommandError::NoInput(format!(
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
mod tests {
    use super::*;

    fn ll(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).unwrap()
    }

    fn agent(session: &str, challenge: &str, round: usize, points: u32) -> RoundEval {
        RoundEval {
            session: session.into(),
            challenge_id: challenge.into(),
            round,
            location_id: None,
            truth: ll(round as f64, 0.0),
            guess: ll(round as f64, 0.0),
            distance_km: 0.0,
            points,
            truth_country: None,
            guess_country: None,
            truth_city: None,
            guess_city: None,
        }
    }

    fn human(player: &str, challenge: &str, round: usize, points: u32) -> HumanRound {
        HumanRound {
            source: "h.csv".into(),
            challenge_id: challenge.into(),
            round,
            location_id: None,
            truth: Some(ll(round as f64, 0.0)),
            player: player.into(),
            points,
            distance_km: None,
            time_s: None,
            guess: None,
        }
    }

    #[test]
    fn versus_pools_players_and_counts_games_by_hand() {
        // Agent: rounds 1-2 of challenge c, 3000 + 1000 = 4000.
        let a = vec![agent("s", "c", 1, 3000), agent("s", "c", 2, 1000)];
        let h = vec![
            human("ann", "c", 1, 2000),  // win
            human("ann", "c", 2, 1500),  // loss; game 4000 v 3500: win
            human("bob", "c", 1, 3000),  // tie
            human("bob", "c", 2, 4000),  // loss; game 4000 v 7000: loss
            human("cy", "c", 1, 100),    // win; cy has no round 2: no game
            human("dee", "other", 1, 0), // another challenge: never matched
        ];
        let v = versus(&a, &h, 2);
        assert_eq!(v.len(), 3);
        let pooled = &v[0];
        assert_eq!(pooled.rounds_matched, 5);
        let r = pooled.per_round.unwrap();
        assert_eq!((r.wins, r.ties, r.losses), (2, 1, 2));
        assert_eq!(r.rate.estimate, 0.5);
        let g = pooled.per_game.unwrap();
        assert_eq!((g.wins, g.losses, g.rate.n), (1, 1, 2));
        // Top 2 by rounds matched: ann and bob (2 each), not cy (1).
        assert_eq!(v[1].opponent, "ann");
        assert_eq!(v[1].per_round.unwrap().rate.estimate, 0.5);
        assert_eq!(v[1].per_game.unwrap().rate.estimate, 1.0);
        assert_eq!(v[2].opponent, "bob");
        assert_eq!(v[2].per_round.unwrap().rate.estimate, 0.25);
    }

    #[test]
    fn a_truth_mismatch_is_not_a_match() {
        let a = vec![agent("s", "c", 1, 3000)];
        let mut h = human("ann", "c", 1, 2000);
        h.truth = Some(ll(50.0, 50.0));
        let v = versus(&a, &[h], 5);
        assert_eq!(v[0].rounds_matched, 0);
        assert!(v[0].per_round.is_none());
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn paired_players_share_rounds() {
        let a = (
            "a".to_string(),
            vec![
                agent("s", "c", 1, 10),
                agent("s", "c", 2, 20),
                agent("s", "d", 1, 5),
            ],
        );
        let b = (
            "b".to_string(),
            vec![agent("t", "c", 1, 5), agent("t", "c", 2, 30)],
        );
        let p = compare_players(&a, &b).unwrap();
        assert_eq!(p.rounds, 2);
        assert_eq!(p.points.mean_difference.estimate, -2.5);
        assert_eq!((p.points.a_better, p.points.b_better), (1, 1));
        let none = ("n".to_string(), vec![agent("u", "z", 1, 1)]);
        assert!(compare_players(&a, &none).is_none());
    }

    #[test]
    fn no_input_says_what_is_missing() {
        let args = StatsOptions::for_replays(vec![]);
        let err = build_report(&args).unwrap_err().to_string();
        assert!(err.contains("no REPLAY_DIR given"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let args = StatsOptions {
            replays: vec![dir.path().to_path_buf()],
            ..args
        };
        let err = build_report(&args).unwrap_err().to_string();
        assert!(err.contains("holds no replay"), "{err}");
    }

    fn write_replay(root: &Path, session: &str, reasoner: &str, rounds: &[(f64, f64, u32)]) {
        use crate::agent::{Guess, GuessSource};
        use crate::game::RoundResult;
        use crate::replay::*;
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            session_id: session.into(),
            created: chrono::Utc::now(),
            geoagent_version: "test".into(),
            environment: "local-game".into(),
            map: MapInfo {
                id: "world".into(),
                name: "World".into(),
                size_km: crate::game::WORLD_SIZE_KM,
                synthetic: true,
            },
            challenge: ChallengeInfo {
                id: "world-7-2".into(),
                seed: 7,
                rounds: rounds.len(),
                key_id: None,
            },
            reasoner: reasoner.into(),
            strategy: "cot".into(),
            capture: CaptureInfo {
                headings: 1,
                zoom_steps: 0,
                jpeg_quality: 80,
            },
            parent: None,
        };
        let mut w = ReplayWriter::create(root, &manifest).unwrap();
        for (i, (lat, lon, points)) in rounds.iter().enumerate() {
            let truth = ll(*lat, *lon);
            let guess = ll(lat + 0.1, *lon);
            w.append(&RoundRecord {
                round: i + 1,
                location_id: Some(format!("loc{i}")),
                views: vec![],
                guess: Guess {
                    pos: guess,
                    country: None,
                    confidence: None,
                    rationale: None,
                    source: GuessSource::Baseline,
                    notes: vec![],
                    exchanges: vec![],
                    usage: Default::default(),
                    candidates: vec![],
                    revisions: Vec::new(),
                },
                result: RoundResult {
                    round: i + 1,
                    guess,
                    truth,
                    distance_km: truth.distance_km(&guess),
                    points: *points,
                    place: None,
                    country: None,
                },
                timings: Default::default(),
                finished_at: chrono::Utc::now(),
            })
            .unwrap();
        }
    }

    #[test]
    fn from_replay_folders_and_a_human_csv() {
        let root = tempfile::tempdir().unwrap();
        // Paris then Sydney; two reasoners on the same challenge.
        write_replay(
            root.path(),
            "s1",
            "openai:m",
            &[(48.8566, 2.3522, 4000), (-33.8688, 151.2093, 1000)],
        );
        write_replay(
            root.path(),
            "s2",
            "baseline",
            &[(48.8566, 2.3522, 3000), (-33.8688, 151.2093, 500)],
        );
        let humans_csv = root.path().join("people.csv");
        std::fs::write(
            &humans_csv,
            "challenge,round,player,points,lat,lng,location_id\n\
             world-7-2,1,ann,3500,48.8566,2.3522,loc0\n\
             world-7-2,2,ann,1000,-33.8688,151.2093,loc1\n\
             world-7-2,2,bob,,,,\n\
             world-7-2,1,ann,5000,48.8566,2.3522,loc0\n",
        )
        .unwrap();
        let args = StatsOptions {
            humans: vec![humans_csv],
            ..StatsOptions::for_replays(vec![root.path().to_path_buf()])
        };
        let report = build_report(&args).unwrap();
        assert_eq!(report.players.len(), 2);
        let m = &report.players[0];
        assert_eq!(m.label, "openai:m (cot)");
        assert_eq!((m.sessions, m.summary.rounds), (1, 2));
        assert_eq!(m.summary.points_mean.estimate, 2500.0);
        assert_eq!((m.summary.country.hits, m.summary.country.n), (2, 2));
        // ann: round 1 won (4000 > 3500), round 2 tied; game 5000 v 4500 won.
        let ann = &m.versus[1];
        assert_eq!(ann.opponent, "ann");
        let r = ann.per_round.unwrap();
        assert_eq!((r.wins, r.ties, r.losses), (1, 1, 0));
        assert_eq!(ann.per_game.unwrap().rate.estimate, 1.0);
        // The baseline has no strategy: its row is just "baseline", not "baseline (cot)".
        assert_eq!(report.players[1].label, "baseline");
        // The baseline loses both rounds to ann.
        assert_eq!(
            report.players[1].versus[0].per_round.unwrap().rate.estimate,
            0.0
        );
        // Paired: the model beats the baseline on both shared rounds by 1000 and 500.
        assert_eq!(report.comparisons.len(), 1);
        let c = &report.comparisons[0];
        assert_eq!(c.rounds, 2);
        assert_eq!(c.points.mean_difference.estimate, 750.0);
        assert_eq!(c.points.sign_test_p, 0.5);
        // ann's second game (5000 on round 1, after she had seen it) is left out and reported.
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("ann played challenge world-7-2 again")),
            "{:?}",
            report.notes
        );
        // bob's row has no points: reported with its file and line, not fatal.
        assert_eq!(report.import_problems.len(), 1);
        assert!(report.import_problems[0].contains("people.csv row 4: points is empty"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["players"][0]["summary"]["rounds"], 2);
    }
}
