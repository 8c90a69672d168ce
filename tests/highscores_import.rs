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
