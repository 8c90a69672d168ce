use super::dataset::challenge_id_from_link;
use super::*;

fn human(challenge: &str, round: usize) -> HumanRound {
    HumanRound::sample(challenge, round)
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
        challenge_id_from_link("https://www.geoguessr.com/challenge/jVr5gC0odqT8TgTe").as_deref(),
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

// Issue 25, item 8: a store whose last line was cut inside a multi-byte character failed
// `stats --humans` and `import-highscores` ("stream did not contain valid UTF-8", no file named).
#[test]
fn a_store_line_cut_inside_a_character_is_a_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::in_dir(dir.path());
    store.append(&human("c", 1)).unwrap();
    let mut h = human("c", 2);
    h.player = "Zoë 東京".into();
    let line = serde_json::to_string(&h).unwrap();
    let cut = line.find('東').unwrap() + 1;
    let mut f = OpenOptions::new().append(true).open(store.path()).unwrap();
    f.write_all(&line.as_bytes()[..cut]).unwrap();
    drop(f);
    assert_eq!(store.load().unwrap(), vec![human("c", 1)]);
    store.append(&h).unwrap();
    assert_eq!(store.load().unwrap(), vec![human("c", 1), h.clone()]);
    // Invalid UTF-8 before the last line is corruption: an error naming the file and line.
    let mut bytes = std::fs::read(store.path()).unwrap();
    bytes.splice(0..0, b"\xff\xfe\n".iter().copied());
    std::fs::write(store.path(), bytes).unwrap();
    let e = store.load().unwrap_err().to_string();
    assert!(
        e.contains(&store.path().display().to_string()) && e.contains("line 1"),
        "{e}"
    );
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
        Err(HumansError::Io(_))
    ));
}

#[test]
fn missing_dataset_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = import_dataset(dir.path()).unwrap_err().to_string();
    assert!(err.contains("SEEDS.csv"), "{err}");
    // Seeds alone: the error names the results files it looked for.
    fs::write(dir.path().join(DATASET_SEEDS_FILE), "SEED_LINK\n").unwrap();
    fs::write(dir.path().join("ROUND_SUM_.csv"), "x\n").unwrap();
    let err = import_dataset(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("ROUND_SUM_<MODE>.csv") && err.contains("ROUND_SUM_NM.csv"),
        "{err}"
    );
}

#[test]
fn every_mode_file_is_read_and_game_ids_are_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut seeds = String::from("SEED_LINK,SEED_MAP,SEED_MODE");
    for k in 1..=5 {
        seeds.push_str(&format!(",ROUND_{k}_LAT,ROUND_{k}_LNG"));
    }
    for (id, mode) in [("AAA", "NMPZ"), ("BBB", "NM")] {
        seeds.push_str(&format!("\nhttps://g/challenge/{id},M,{mode}"));
        for k in 1..=5 {
            seeds.push_str(&format!(",{k}.0,{k}.0"));
        }
    }
    seeds.push('\n');
    fs::write(dir.path().join(DATASET_SEEDS_FILE), seeds).unwrap();
    let head = "GAME_ID,SEED_LINK,PLAYER_NAME,SEED_MODE,ROUND_SCORE\n";
    // Game 1 in both files: two games, each with rounds 1..=5.
    let file = |id: &str, mode: &str, player: &str, points: u32| {
        let mut t = String::from(head);
        for _ in 1..=5 {
            t.push_str(&format!(
                "1,https://g/challenge/{id},{player},{mode},{points}\n"
            ));
        }
        t
    };
    fs::write(
        dir.path().join("ROUND_SUM_NMPZ.csv"),
        file("AAA", "NMPZ", "ann", 100),
    )
    .unwrap();
    fs::write(
        dir.path().join("ROUND_SUM_NM.csv"),
        file("BBB", "NM", "bob", 300),
    )
    .unwrap();
    fs::write(dir.path().join("notes.csv"), "not a results file").unwrap();
    let ds = import_dataset(dir.path()).unwrap();
    assert!(ds.problems.is_empty(), "{:?}", ds.problems);
    assert_eq!(ds.rounds.len(), 10);
    let modes: Vec<(&str, usize, usize)> = ds
        .files
        .iter()
        .map(|f| (f.mode.as_str(), f.rounds, f.players))
        .collect();
    assert_eq!(modes, vec![("NM", 5, 1), ("NMPZ", 5, 1)]);
    assert!(ds.files[0].path.ends_with("ROUND_SUM_NM.csv"));
    assert_eq!(ds.files[0].mean_points, Some(300.0));
    assert_eq!(ds.modes(), vec!["NM", "NMPZ"]);
    let bob: Vec<usize> = ds
        .rounds
        .iter()
        .filter(|r| r.player == "bob")
        .map(|r| r.round)
        .collect();
    assert_eq!(bob, vec![1, 2, 3, 4, 5]);
    let r = ds.rounds.iter().find(|r| r.player == "ann").unwrap();
    assert_eq!(ds.mode_of(r), Some("NMPZ"));
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
