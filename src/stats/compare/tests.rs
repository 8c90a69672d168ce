//! Tests of `compare`.

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
    write_replay_on(
        root,
        session,
        reasoner,
        rounds,
        Some(crate::game::WORLD_SIZE_KM),
        None,
    );
}

/// As [`write_replay`], on a map of `size_km`, with `first` as the model's own answer before a
/// person's hints in every round when given.
fn write_replay_on(
    root: &Path,
    session: &str,
    reasoner: &str,
    rounds: &[(f64, f64, u32)],
    size_km: Option<f64>,
    first: Option<LatLon>,
) {
    use crate::agent::{Guess, GuessSource};
    use crate::game::RoundResult;
    use crate::replay::*;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        session_id: session.into(),
        created: chrono::Utc::now(),
        geoagent_version: "test".into(),
        environment: crate::environment::Kind::LocalGame,
        map: MapInfo {
            id: "world".into(),
            name: "World".into(),
            size_km,
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
        prompts: None,
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
                revisions: first
                    .map(|before| crate::agent::Revision {
                        hints: vec![],
                        before: Some(before),
                        after: Some(guess),
                        country: None,
                    })
                    .into_iter()
                    .collect(),
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

#[test]
fn first_answers_on_a_map_of_unknown_size_are_left_out_with_a_note() {
    let root = tempfile::tempdir().unwrap();
    let rounds = [(48.8566, 2.3522, 4000), (-33.8688, 151.2093, 1000)];
    let first = Some(ll(0.0, 0.0));
    write_replay_on(root.path(), "site", "openai:m", &rounds, None, first);
    let report = build_report(&StatsOptions::for_replays(vec![root.path().to_path_buf()])).unwrap();
    let labels: Vec<&str> = report.players.iter().map(|p| p.label.as_str()).collect();
    // The site's points stand; no first answer is scored on an assumed (world) size.
    assert_eq!(labels, ["openai:m (cot) + a person's hints"], "{labels:?}");
    assert_eq!(report.players[0].summary.points_mean.estimate, 2500.0);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("session site: 2 first answer(s)") && n.contains("size is unknown")),
        "{:?}",
        report.notes
    );

    // With the size known, the first answers are a player of their own, scored on it.
    let root = tempfile::tempdir().unwrap();
    write_replay_on(root.path(), "s", "openai:m", &rounds, Some(50_000.0), first);
    let report = build_report(&StatsOptions::for_replays(vec![root.path().to_path_buf()])).unwrap();
    let firsts = report
        .players
        .iter()
        .find(|p| p.label.ends_with(FIRST_ANSWERS_SUFFIX))
        .unwrap();
    let d = |lat: f64, lon: f64| ll(0.0, 0.0).distance_km(&ll(lat, lon));
    let want =
        f64::from(score(d(48.8566, 2.3522), 50_000.0) + score(d(-33.8688, 151.2093), 50_000.0))
            / 2.0;
    assert_eq!(firsts.summary.points_mean.estimate, want);
}
