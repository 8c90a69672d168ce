//! Imports the real human baseline data set (`data/human-baselines/` in the repository) and
//! scores the reference player against it. The data is read in place, never copied.

use geoagent::cli::stats::render;
use geoagent::humans::{self, DATASET_ROUNDS_FILE, DATASET_SEEDS_FILE};
use geoagent::stats::compare::{build_report, Reference, StatsOptions};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The data set's folder inside the repository, so a fresh clone tests without anything beside it.
fn dataset_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/human-baselines");
    assert!(
        dir.join(DATASET_SEEDS_FILE).is_file() && dir.join(DATASET_ROUNDS_FILE).is_file(),
        "human baseline data set missing: need {DATASET_SEEDS_FILE} and {DATASET_ROUNDS_FILE} in {} \
         (committed with the repository; is the checkout complete?)",
        dir.display()
    );
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

/// A data set folder with the study's two modes: the real `SEEDS.csv` and `ROUND_SUM_NMPZ.csv`,
/// and a `ROUND_SUM_NM.csv` with the same columns made from the real rows of the first challenge:
/// other game ids and player names, `SEED_MODE` NM and 500 more points per round (capped).
/// Returns the folder and the number of NM rounds.
fn two_mode_folder(into: &Path) -> usize {
    let real = dataset_dir();
    for f in [DATASET_SEEDS_FILE, DATASET_ROUNDS_FILE] {
        std::fs::copy(real.join(f), into.join(f)).unwrap();
    }
    let mut rdr = csv::Reader::from_path(real.join(DATASET_ROUNDS_FILE)).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let (game, link, player, mode, score) = (
        col("GAME_ID"),
        col("SEED_LINK"),
        col("PLAYER_NAME"),
        col("SEED_MODE"),
        col("ROUND_SCORE"),
    );
    let mut w = csv::Writer::from_path(into.join("ROUND_SUM_NM.csv")).unwrap();
    w.write_record(&header).unwrap();
    let mut first_link = None;
    let mut n = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let l = first_link.get_or_insert_with(|| rec[link].to_string());
        if rec[link] != **l {
            continue;
        }
        let mut row: Vec<String> = rec.iter().map(str::to_string).collect();
        row[game] = format!("9{}", &rec[game]);
        row[player] = format!("{} (NM)", &rec[player]);
        row[mode] = "NM".into();
        row[score] = (rec[score].parse::<u32>().unwrap() + 500)
            .min(5000)
            .to_string();
        w.write_record(&row).unwrap();
        n += 1;
    }
    w.flush().unwrap();
    n
}

#[test]
fn every_mode_of_the_study_is_read_and_reported_apart_and_together() {
    let dir = tempfile::tempdir().unwrap();
    let nm_rounds = two_mode_folder(dir.path());
    assert!(nm_rounds >= 5 && nm_rounds.is_multiple_of(5), "{nm_rounds}");

    let ds = humans::import_dataset(dir.path()).unwrap();
    let files: Vec<(String, usize)> = ds
        .files
        .iter()
        .map(|f| (f.mode.clone(), f.rounds))
        .collect();
    assert_eq!(
        files,
        vec![("NM".to_string(), nm_rounds), ("NMPZ".to_string(), 9430)]
    );
    assert_eq!(ds.rounds.len(), 9430 + nm_rounds);

    let args = StatsOptions {
        human_dataset: Some(dir.path().to_path_buf()),
        reference: Some(Reference::Baseline),
        top: 1,
        ..StatsOptions::for_replays(vec![])
    };
    let report = build_report(&args).unwrap();
    assert_eq!(report.human_dataset_files.len(), 2);
    let vs = &report.players[0].versus;
    let row = |name: &str| {
        vs.iter()
            .find(|v| v.opponent == name)
            .unwrap_or_else(|| panic!("no row {name}: {vs:?}"))
    };
    // Together, then each mode apart, then the top player.
    assert_eq!(vs[0].opponent, "all players (pooled)");
    assert_eq!(row("all players (pooled)").rounds_matched, 9430 + nm_rounds);
    assert_eq!(row("NM players (pooled)").rounds_matched, nm_rounds);
    assert_eq!(row("NMPZ players (pooled)").rounds_matched, 9430);
    assert_eq!(vs.len(), 4, "{vs:?}");
    let nm = row("NM players (pooled)").per_round.unwrap();
    assert_eq!(nm.rate.n, nm_rounds);
    assert_eq!(
        row("NM players (pooled)").per_game.unwrap().rate.n,
        nm_rounds / 5
    );
    let nm_file = &report.human_dataset_files[0];
    assert!(nm_file.path.ends_with("ROUND_SUM_NM.csv"), "{nm_file:?}");
    assert_eq!(nm_file.players, nm_rounds / 5);

    // The command itself says which files it read and prints every mode's row.
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(dir.path())
        .env_remove("GEOAGENT_CONFIG")
        .args(["stats", "--human-dataset"])
        .arg(dir.path())
        .args(["--reference", "baseline"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Human data set: read"), "{text}");
    assert!(text.contains("ROUND_SUM_NM.csv (NM: "), "{text}");
    assert!(
        text.contains("ROUND_SUM_NMPZ.csv (NMPZ: 9430 rounds"),
        "{text}"
    );
    assert!(
        text.contains("NM players (pooled)") && text.contains("NMPZ players (pooled)"),
        "{text}"
    );
}
