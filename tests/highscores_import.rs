//! `humans import-highscores` through the binary: the agent's own game on the site is no
//! person's result (issue 22, item 6), whichever shape the highscores item has.

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// One highscores item in the shape of the real 2024 response (top-level and nested fields).
fn item(user: &str, game: &str, nick: &str, points: &[u32]) -> Value {
    json!({
        "gameToken": game, "playerName": nick, "userId": user, "totalScore": 1, "isLeader": false,
        "game": {"token": game, "type": "challenge",
            "rounds": points.iter().map(|_| json!({"lat": 1.0, "lng": 2.0})).collect::<Vec<_>>(),
            "player": {"id": user, "nick": nick, "totalScore": {"amount": "1"},
                "guesses": points.iter().map(|p| json!({"lat": 1.0, "lng": 2.0, "roundScoreInPoints": p, "distanceInMeters": 10.0, "time": 5}))
                    .collect::<Vec<_>>()}}})
}

fn stored_players(store: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_to_string(store)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["player"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn the_agents_own_game_is_not_stored_as_a_person() {
    let tmp = tempfile::tempdir().unwrap();
    let replays = tmp.path().join("replays");
    // A geoguessr.com session the agent played (its record names the game token), and the
    // pacing record of the account it played on.
    std::fs::create_dir_all(replays.join("20261201T000000Z-aaaaaa")).unwrap();
    std::fs::write(
        replays.join("20261201T000000Z-aaaaaa/geoguessr.json"),
        json!({"game_token": "AgentGame1", "challenge_token": "CHAL"}).to_string(),
    )
    .unwrap();
    std::fs::create_dir_all(replays.join(".geoguessr")).unwrap();
    std::fs::write(replays.join(".geoguessr/5f00agent.json"), "[]").unwrap();
    let file = tmp.path().join("hs.json");
    let page = json!({"items": [
        item("ann1", "G-ann", "Ann", &[5000, 10]),
        // The agent's game found by its token (another account), and by its account.
        item("other9", "AgentGame1", "geoagent", &[4000, 4000]),
        item("5f00agent", "G-second", "geoagent", &[3000, 3000]),
        item("bob2", "G-bob", "Bob", &[1, 2]),
    ], "paginationToken": null});
    std::fs::write(&file, page.to_string()).unwrap();
    let store = tmp.path().join("humans.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args([
            "humans",
            "import-highscores",
            file.to_str().unwrap(),
            "--challenge",
            "CHAL",
        ])
        .current_dir(tmp.path())
        .env("HOME", tmp.path())
        .env("GEOAGENT_REPLAY__DIR", &replays)
        .env("GEOAGENT_SERVER__HUMAN_RESULTS", &store)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(stored_players(&store), vec!["Ann", "Bob"], "{err}");
    assert!(
        err.contains("left out 2 item(s): the agent's own game"),
        "{err}"
    );
}

/// Runs `humans import-highscores FILE --challenge CHAL` under `/usr/bin/time -f %M` (peak resident
/// kilobytes, printed last on stderr) with its store in `dir`.
fn import(dir: &Path, file: &Path) -> (std::process::Output, u64) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "peak-kb %M"])
        .arg(env!("CARGO_BIN_EXE_geoagent"))
        .args([
            "humans",
            "import-highscores",
            file.to_str().unwrap(),
            "--challenge",
            "CHAL",
        ])
        .current_dir(dir)
        .env("HOME", dir)
        .env("GEOAGENT_REPLAY__DIR", dir.join("replays"))
        .env("GEOAGENT_SERVER__HUMAN_RESULTS", dir.join("humans.jsonl"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let kb = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak-kb "))
        .and_then(|k| k.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak in {err}"));
    (out, kb)
}

fn stored(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("humans.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Issue 25 item 7: a highscores file is someone else's. A 20 MB field is not echoed, a page
/// saved twice stores each round once, 100 guesses in a 5-round game invent no rounds 6-100, and
/// a 1,000,000-character nick is neither stored nor printed whole.
#[test]
fn a_hostile_highscores_file_is_bounded_and_counted_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut flood = item("eve5", "G-eve", "Eve", &[1, 2, 3, 4, 5]);
    flood["game"]["player"]["guesses"][0]["roundScoreInPoints"] = json!("y".repeat(20 << 20));
    let mut many = item("max7", "G-max", "Max", &[100; 100]);
    many["game"]["rounds"] = json!(vec![json!({"lat": 1.0, "lng": 2.0}); 5]);
    many["game"]["roundCount"] = json!(5);
    let long_nick = format!("\u{1b}]0;PWNED\u{7}{}", "n".repeat(1_000_000));
    let page = json!({"items": [
        item("ann1", "G-ann", "Ann", &[5000, 10, 20, 30, 40]),
        item("bob2", "G-bob", "Bob", &[1, 2, 3, 4, 5]),
        flood,
        many,
        item("lon3", "G-lon", &long_nick, &[7, 7, 7, 7, 7]),
    ], "paginationToken": null});
    // The same page saved twice in one file.
    let file = dir.join("hs.json");
    std::fs::write(&file, json!([page, page]).to_string()).unwrap();

    let (out, _) = import(dir, &file);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}", &err[..err.len().min(2000)]);
    assert!(err.len() < 10_000, "stderr is {} bytes", err.len());
    assert!(!err.contains('\u{1b}'), "an escape reached the terminal");
    let rows = stored(dir);
    let mut keys: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["player"].as_str().unwrap().to_string(),
                r["round"].as_u64().unwrap(),
            )
        })
        .collect();
    keys.sort();
    let players: std::collections::BTreeSet<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    assert_eq!(
        players.len(),
        4,
        "Ann, Bob, Max and the long nick: {players:?}"
    );
    assert_eq!(
        rows.len(),
        20,
        "5 rounds each for 4 players, each once: {keys:?}"
    );
    assert!(keys.iter().all(|k| (1..=5).contains(&k.1)), "{keys:?}");
    assert!(
        rows.iter()
            .all(|r| r["player"].as_str().unwrap().chars().count() <= 100),
        "a nick is stored whole"
    );
    assert!(err.contains("stored once"), "{err}");
    assert!(err.contains("100 guesses for a 5-round game"), "{err}");

    // Importing the same file again adds nothing.
    let (out, _) = import(dir, &file);
    assert!(out.status.success());
    assert_eq!(stored(dir).len(), 20);
}

/// Issue 25 item 7: a large file is stored in one batch and read as a stream. 20,000 players
/// (about 18 MB) must be stored well within a minute, and a file of ~150 MB must not need memory
/// many times its size (the whole-tree parse peaked at 15x).
#[test]
fn a_large_highscores_file_is_streamed_and_stored_in_one_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = dir.join("big.json");
    let items: Vec<Value> = (0..20_000)
        .map(|i| {
            item(
                &format!("p{i:05}"),
                &format!("G{i}"),
                &format!("Player {i}"),
                &[i % 5000, 1, 2, 3, 4],
            )
        })
        .collect();
    std::fs::write(
        &file,
        json!({"items": items, "paginationToken": null}).to_string(),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (out, _) = import(dir, &file);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stored(dir).len(), 100_000);
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");

    // ~150 MB: the same items with a long unused field each (the site's pinUrl and friends).
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    use std::io::Write as _;
    write!(w, "{{\"items\": [").unwrap();
    let pad = "u".repeat(7_000);
    for i in 0..20_000 {
        let mut it = item(
            &format!("q{i:05}"),
            &format!("H{i}"),
            &format!("Q {i}"),
            &[1, 1, 1, 1, 1],
        );
        it["pinUrl"] = json!(pad);
        if i > 0 {
            write!(w, ",").unwrap();
        }
        write!(w, "{it}").unwrap();
    }
    write!(w, "], \"paginationToken\": null}}").unwrap();
    drop(w);
    let size_mb = std::fs::metadata(&file).unwrap().len() >> 20;
    let (out, peak_kb) = import(dir, &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak_mb = peak_kb >> 10;
    assert!(
        peak_mb < size_mb,
        "peak {peak_mb} MB for a {size_mb} MB file: not streamed"
    );
}
