//! Imports the real human baseline data set (shared/data/human-baselines, beside the crate) and
//! scores the reference player against it. The data is read in place, never copied.

use geoagent::cli::stats::render;
use geoagent::humans::{self, DATASET_ROUNDS_FILE, DATASET_SEEDS_FILE};
use geoagent::stats::compare::{build_report, Reference, StatsOptions};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// The data set's folder: `$GEOAGENT_HUMAN_DATASET` if set, else `../shared/data/human-baselines`
/// relative to the crate root. Missing data fails the test with the exact path needed.
fn dataset_dir() -> PathBuf {
    let dir = std::env::var_os("GEOAGENT_HUMAN_DATASET")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/human-baselines")
        });
    for f in [DATASET_SEEDS_FILE, DATASET_ROUNDS_FILE] {
        assert!(
            dir.join(f).is_file(),
            "human baseline data set missing: need {} (the project's shared/data/human-baselines \
             folder beside the crate; or set GEOAGENT_HUMAN_DATASET to a copy)",
            dir.join(f).display()
        );
    }
    dir
}

#[test]
fn imports_every_round_of_the_real_data_set() {
    let ds = humans::import_dataset(&dataset_dir()).unwrap();
    // 9,430 rows = 1,886 games of 5 rounds on 60 challenges.
    assert_eq!(ds.rounds.len(), 9430);
    let challenges: HashSet<&str> = ds.rounds.iter().map(|r| r.challenge_id.as_str()).collect();
    assert_eq!(challenges.len(), 60);
    let mut per_game: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for r in &ds.rounds {
        per_game
            .entry((r.player.as_str(), r.challenge_id.as_str()))
            .or_default()
            .push(r.round);
    }
    assert_eq!(per_game.len(), 1886);
    assert!(per_game.values().all(|v| *v == vec![1, 2, 3, 4, 5]));
    // Every played challenge has a valid seed row, so every round has its truth.
    assert!(ds.rounds.iter().all(|r| r.truth.is_some()));
    let mean = ds.rounds.iter().map(|r| f64::from(r.points)).sum::<f64>() / 9430.0;
    assert!((mean - 2688.3767).abs() < 1e-3, "{mean}");

    // The first data row, by hand: GabrielGeoo scored 11 on round 1 of jVr5gC0odqT8TgTe, whose
    // first location is 58.15344, 57.76521 (Perm Krai).
    let first = &ds.rounds[0];
    assert_eq!(first.challenge_id, "jVr5gC0odqT8TgTe");
    assert_eq!(
        (first.player.as_str(), first.round, first.points),
        ("GabrielGeoo", 1, 11)
    );
    let t = first.truth.unwrap();
    assert_eq!((t.lat, t.lon), (58.15344, 57.76521));
    // Row 1,888 of the file is that game's second round (the file lists round by round).
    let second = ds
        .rounds
        .iter()
        .find(|r| r.player == "GabrielGeoo" && r.challenge_id == "jVr5gC0odqT8TgTe" && r.round == 2)
        .unwrap();
    assert_eq!(second.truth.unwrap().lat, 57.632931);

    // 270 seed rows are valid; the 60 with shifted columns (rows 272..=331) are reported, each
    // with its file and row, and none of them is a challenge people played here.
    assert_eq!(ds.seeds.len(), 270);
    assert_eq!(ds.problems.len(), 60);
    assert!(ds
        .problems
        .iter()
        .all(|p| p.file.ends_with(DATASET_SEEDS_FILE)));
    let rows: Vec<usize> = ds.problems.iter().map(|p| p.row).collect();
    assert_eq!(rows, (272..=331).collect::<Vec<_>>());
    assert!(
        ds.problems[0].to_string().contains("not a number"),
        "{}",
        ds.problems[0]
    );
}

#[test]
fn reference_player_against_the_real_players() {
    let args = StatsOptions {
        human_dataset: Some(dataset_dir()),
        reference: Some(Reference::Baseline),
        top: 3,
        ..StatsOptions::for_replays(vec![])
    };
    let report = build_report(&args).unwrap();
    assert_eq!(report.players.len(), 1);
    let p = &report.players[0];
    assert_eq!(p.label, "reference: baseline");
    assert_eq!(p.summary.rounds, 300);
    let note = p.note.as_deref().unwrap();
    assert!(note.contains("map size 7204.2 km"), "{note}");
    assert!(note.contains("1150 locations"), "{note}");
    // Every truth is on land and the fixed guess is in Russia; the polygons put one truth near
    // the border just inside Kazakhstan, so the "country accuracy" of a fixed guess is 299/300.
    assert_eq!(p.summary.country.n, 300);
    assert!(p.summary.country.hits >= 295, "{:?}", p.summary.country);
    assert_eq!(p.summary.by_country[0].key, "RU");

    let pooled = &p.versus[0];
    assert_eq!(pooled.rounds_matched, 9430);
    let r = pooled.per_round.unwrap();
    assert_eq!(r.wins + r.ties + r.losses, 9430);
    assert!(r.rate.low < r.rate.estimate && r.rate.estimate < r.rate.high);
    let g = pooled.per_game.unwrap();
    assert_eq!(g.rate.n, 1886);
    // Three individual players, most rounds in common first (300 = all 60 challenges).
    assert_eq!(p.versus.len(), 4);
    assert_eq!(p.versus[1].rounds_matched, 300);
    assert!(p.versus[1].rounds_matched >= p.versus[3].rounds_matched);

    let text = render(&report);
    assert!(text.contains("all players (pooled)"), "{text}");
    assert!(text.contains("map size 7204.2 km"), "{text}");
    assert!(text.contains("60 row(s) could not be imported"), "{text}");
}
