//! GeoGuessr challenge highscores (`/api/v3/results/highscores/{token}`) as human results: every
//! player's points, distance, time and guess on each round of the challenge, with the round's truth
//! (the highscores carry it), so `stats` matches them to the agent's rounds of the same
//! challenge.
//!
//! Input is one response page (`{"items": [...], "paginationToken": ...}`), an array of pages,
//! or a bare array of items, as saved from a browser or fetched by `play --site geoguessr`. A
//! malformed item is reported and skipped; the others are kept.

use super::{HumanRound, HumansError, Import, RowProblem, MAX_POINTS};
use crate::geo::LatLon;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Largest highscores file read (a challenge with thousands of players is a few MB).
pub(crate) const MAX_HIGHSCORES_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    game: Game,
    /// The item's game (top-level since the site's 2025 reshape).
    #[serde(default)]
    game_token: Option<String>,
    /// The player (top-level since the 2025 reshape).
    #[serde(default)]
    user_id: Option<String>,
}

/// The agent's own games and accounts, left out of an import: its game is no person's, and
/// counted as one it would tie against itself in `stats`.
#[derive(Debug, Clone, Default)]
pub struct Own {
    /// Account ids that played for the agent.
    pub players: std::collections::BTreeSet<String>,
    /// Game tokens the agent played.
    pub games: std::collections::BTreeSet<String>,
}

impl Own {
    fn holds(&self, item: &Item) -> bool {
        let players = [Some(&item.game.player.id), item.user_id.as_ref()];
        let games = [item.game.token.as_ref(), item.game_token.as_ref()];
        players
            .into_iter()
            .flatten()
            .any(|p| !p.is_empty() && self.players.contains(p))
            || games
                .into_iter()
                .flatten()
                .any(|g| !g.is_empty() && self.games.contains(g))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Game {
    #[serde(default)]
    rounds: Vec<Truth>,
    player: Player,
    #[serde(default)]
    challenge_token: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
struct Truth {
    lat: f64,
    lng: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Player {
    #[serde(default)]
    id: String,
    #[serde(default)]
    nick: String,
    #[serde(default)]
    guesses: Vec<Guess>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Guess {
    round_score_in_points: u32,
    #[serde(default)]
    distance_in_meters: Option<f64>,
    #[serde(default)]
    time: Option<f64>,
    #[serde(default)]
    lat: Option<f64>,
    #[serde(default)]
    lng: Option<f64>,
}

/// The items of every page in `v` (a page, an array of pages, or an array of items).
fn items(v: &Value) -> Vec<&Value> {
    match v {
        Value::Object(o) => o
            .get("items")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        Value::Array(a) if a.iter().all(|x| x.get("items").is_some()) => {
            a.iter().flat_map(items).collect()
        }
        Value::Array(a) => a.iter().collect(),
        _ => Vec::new(),
    }
}

/// Human rounds of challenge `challenge` from highscores `pages` (see the module docs). When
/// `challenge` is `None` each item's `game.challengeToken` names it. `skip_player` leaves one
/// player out (the agent's own account). `source` names the input in problems.
pub(crate) fn parse_highscores(
    source: &str,
    pages: &Value,
    challenge: Option<&str>,
    skip_player: Option<&str>,
) -> Import {
    let own = Own {
        players: skip_player.map(str::to_string).into_iter().collect(),
        games: Default::default(),
    };
    parse_highscores_without(source, pages, challenge, &own)
}

/// [`parse_highscores`] leaving out every item of `own` (counted in [`Import::own_skipped`]).
pub(crate) fn parse_highscores_without(
    source: &str,
    pages: &Value,
    challenge: Option<&str>,
    own: &Own,
) -> Import {
    let mut out = Import::default();
    let all = items(pages);
    let mut parsed = Vec::new();
    for (i, v) in all.iter().enumerate() {
        let row = i + 1;
        let problem = |message: String| RowProblem {
            file: source.into(),
            row,
            message,
        };
        let item: Item = match serde_json::from_value((*v).clone()) {
            Ok(it) => it,
            Err(e) => {
                let detail = e.to_string();
                out.problems.push(problem(format!(
                    "not a highscores item: {}",
                    detail.split(" at line").next().unwrap_or(&detail)
                )));
                continue;
            }
        };
        let Some(challenge_id) = challenge
            .map(str::to_string)
            .or_else(|| item.game.challenge_token.clone())
        else {
            out.problems.push(problem(
                "no challenge token: pass --challenge with the challenge's link".into(),
            ));
            continue;
        };
        if own.holds(&item) {
            out.own_skipped += 1;
            continue;
        }
        parsed.push((row, challenge_id, item));
    }
    // Nicknames need not be unique: a shared one gets the player's id beside it.
    let mut nicks: HashMap<&str, Vec<&str>> = HashMap::new();
    for (_, _, it) in &parsed {
        let ids = nicks.entry(it.game.player.nick.trim()).or_default();
        if !ids.contains(&it.game.player.id.as_str()) {
            ids.push(&it.game.player.id);
        }
    }
    let mut rounds = Vec::new();
    for (row, challenge_id, it) in &parsed {
        let p = &it.game.player;
        let nick = p.nick.trim();
        let player = match (nick.is_empty(), nicks.get(nick).map_or(0, Vec::len) > 1) {
            (true, _) => p.id.clone(),
            (false, false) => nick.to_string(),
            (false, true) => format!("{nick} ({})", p.id),
        };
        if player.is_empty() {
            out.problems.push(RowProblem {
                file: source.into(),
                row: *row,
                message: "player has neither nick nor id".into(),
            });
            continue;
        }
        for (r, g) in p.guesses.iter().enumerate() {
            if g.round_score_in_points > MAX_POINTS {
                out.problems.push(RowProblem {
                    file: source.into(),
                    row: *row,
                    message: format!(
                        "round {}: {} points is more than {MAX_POINTS}",
                        r + 1,
                        g.round_score_in_points
                    ),
                });
                continue;
            }
            let truth = it
                .game
                .rounds
                .get(r)
                .map(|t| LatLon {
                    lat: t.lat,
                    lon: t.lng,
                })
                .filter(|t| {
                    t.lat.is_finite()
                        && t.lon.is_finite()
                        && t.lat.abs() <= 90.0
                        && t.lon.abs() <= 180.0
                });
            rounds.push(HumanRound {
                source: source.to_string(),
                challenge_id: challenge_id.clone(),
                round: r + 1,
                location_id: None,
                truth,
                player: player.clone(),
                points: g.round_score_in_points,
                distance_km: g
                    .distance_in_meters
                    .filter(|d| d.is_finite() && *d >= 0.0)
                    .map(|d| d / 1000.0),
                time_s: g.time.filter(|t| t.is_finite() && *t >= 0.0),
                guess: g
                    .lat
                    .zip(g.lng)
                    .and_then(|(lat, lng)| LatLon::new(lat, lng).ok()),
            });
        }
    }
    out.rounds = rounds;
    out
}

/// [`parse_highscores`] of a saved file.
pub(crate) fn import_highscores(
    path: &Path,
    challenge: Option<&str>,
    own: &Own,
) -> Result<Import, HumansError> {
    let name = path.display().to_string();
    let len = fs_err::metadata(path).map_err(HumansError::Io)?.len();
    if len > MAX_HIGHSCORES_BYTES {
        return Err(HumansError::Format {
            path: name,
            detail: format!(
                "{len} bytes is more than the {MAX_HIGHSCORES_BYTES} a highscores file may have"
            ),
        });
    }
    let text = fs_err::read_to_string(path).map_err(HumansError::Io)?;
    let v: Value = serde_json::from_str(&text).map_err(|e| HumansError::Format {
        path: name.clone(),
        detail: format!("not JSON: {e}"),
    })?;
    if items(&v).is_empty() && !v.get("items").is_some_and(Value::is_array) {
        return Err(HumansError::Format {
            path: name,
            detail: "expected a GeoGuessr highscores response ({\"items\": [...]}), an array of them, or an array of items".into(),
        });
    }
    Ok(parse_highscores_without(&name, &v, challenge, own))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(id: &str, nick: &str, points: &[u32]) -> Value {
        json!({"game": {
            "token": "g", "rounds": points.iter().enumerate().map(|(i, _)| json!({"lat": 10.0 + i as f64, "lng": 20.0, "panoId": "41"})).collect::<Vec<_>>(),
            "player": {"id": id, "nick": nick, "totalScore": {"amount": "1"},
                "guesses": points.iter().map(|p| json!({"lat": 1.0, "lng": 2.0, "roundScoreInPoints": p, "distanceInMeters": 1500.0, "time": 12}))
                    .collect::<Vec<_>>()}}})
    }

    #[test]
    fn pages_become_rounds_per_player() {
        let pages = json!([
            {"items": [item("a", "Ann", &[5000, 10]), item("me", "Agent", &[1, 1])], "paginationToken": "p2"},
            {"items": [item("b", "Bob", &[300, 400]), item("c", "Bob", &[7, 8]), {"game": {}}], "paginationToken": null}
        ]);
        let imp = parse_highscores("hs.json", &pages, Some("CHAL"), Some("me"));
        assert_eq!(imp.rounds.len(), 6);
        assert_eq!(imp.problems.len(), 1, "{:?}", imp.problems);
        assert_eq!(imp.problems[0].row, 5);
        let ann: Vec<_> = imp.rounds.iter().filter(|r| r.player == "Ann").collect();
        assert_eq!((ann[0].round, ann[0].points, ann[1].points), (1, 5000, 10));
        assert_eq!(
            ann[1].truth,
            Some(LatLon {
                lat: 11.0,
                lon: 20.0
            })
        );
        assert_eq!(ann[0].distance_km, Some(1.5));
        assert_eq!(ann[0].time_s, Some(12.0));
        assert_eq!(ann[0].guess, Some(LatLon { lat: 1.0, lon: 2.0 }));
        // A guess without both coordinates, or off the globe, is left out; the round is kept.
        let mut odd = item("z", "Zed", &[5, 6]);
        odd["game"]["player"]["guesses"][0]["lng"] = Value::Null;
        odd["game"]["player"]["guesses"][1]["lat"] = json!(123.0);
        let z = parse_highscores("x", &json!({"items": [odd]}), Some("C"), None);
        assert_eq!(z.rounds.len(), 2);
        assert!(z.rounds.iter().all(|r| r.guess.is_none()));
        assert!(imp.rounds.iter().all(|r| r.challenge_id == "CHAL"));
        assert!(imp.rounds.iter().any(|r| r.player == "Bob (b)"));
        assert!(imp.rounds.iter().any(|r| r.player == "Bob (c)"));
        assert!(!imp.rounds.iter().any(|r| r.player == "Agent"));
    }

    #[test]
    fn without_a_challenge_the_items_token_is_used_or_the_item_reported() {
        let mut it = item("a", "Ann", &[1]);
        let one = parse_highscores("x", &json!({"items": [it.clone()]}), None, None);
        assert!(one.rounds.is_empty());
        assert!(one.problems[0].message.contains("--challenge"));
        it["game"]["challengeToken"] = json!("TOK");
        let two = parse_highscores("x", &json!({"items": [it]}), None, None);
        assert_eq!(two.rounds[0].challenge_id, "TOK");
    }

    #[test]
    fn impossible_points_are_problems() {
        let imp = parse_highscores(
            "x",
            &json!({"items": [item("a", "Ann", &[5001, 3])]}),
            Some("C"),
            None,
        );
        assert_eq!(imp.rounds.len(), 1);
        assert!(imp.problems[0].message.contains("5001"));
    }
}
