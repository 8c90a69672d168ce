//! GeoGuessr challenge highscores (`/api/v3/results/highscores/{token}`) as human results: every
//! player's points, distance, time and guess on each round of the challenge, with the round's truth
//! (the highscores carry it), so `stats` matches them to the agent's rounds of the same
//! challenge.
//!
//! Input is one response page (`{"items": [...], "paginationToken": ...}`), an array of pages,
//! or a bare array of items, as saved from a browser or fetched by `play --site geoguessr`. A
//! malformed item is reported and skipped; the others are kept.
//!
//! Both shapes the site has served are read: the nested `game.player` (`id`, `nick`, per-round
//! guesses) and the top-level `userId`/`playerName`/`gameToken` of the 2025 reshape; nested values
//! win where both are present. A file is someone else's: it is read as a stream (one item's
//! tree at a time, never the whole file's), names are cut and cleaned, a round is stored once
//! however often the file repeats it, and a player has no more rounds than the game.

use super::{HumanRound, HumansError, Import, RowProblem, MAX_POINTS};
use crate::geo::LatLon;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Largest highscores file read (a challenge with thousands of players is a few MB).
pub(crate) const MAX_HIGHSCORES_BYTES: u64 = 256 * 1024 * 1024;
/// Longest nick kept: the site's are short; a longer one is cut (and said in the name).
const MAX_NICK_CHARS: usize = 64;
/// Longest player id accepted: the site's are 24 hex digits; anything far longer is not one.
const MAX_PLAYER_ID_CHARS: usize = 64;
/// Rounds a game may have when the item says neither `roundCount` nor its truths: more than any
/// GeoGuessr game, few enough that a crafted list of guesses cannot invent rounds by the million.
const MAX_ROUNDS_PER_GAME: usize = 50;
/// How much of a parser's complaint about an item is quoted (it can quote a 20 MB field).
const MAX_PROBLEM_DETAIL_CHARS: usize = 200;

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
    /// The player's name (top-level since the 2025 reshape).
    #[serde(default)]
    player_name: Option<String>,
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
    #[serde(default)]
    round_count: Option<usize>,
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

/// One element of a highscores list as read: an item, or why it is not one.
type ReadItem = Result<Item, String>;

fn read_item(v: Value) -> ReadItem {
    serde_json::from_value(v).map_err(|e| {
        let detail = e.to_string();
        let detail = detail.split(" at line").next().unwrap_or(&detail);
        format!(
            "not a highscores item: {}",
            crate::text::line(detail, MAX_PROBLEM_DETAIL_CHARS)
        )
    })
}

/// The items of a highscores file (see the module docs for its shapes), read element by element:
/// each item's JSON tree lives only until it is turned into an [`Item`], so memory follows the
/// fields kept, not the file's size.
struct Stream(Vec<ReadItem>);

impl<'de> serde::Deserialize<'de> for Stream {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

/// A page's `items`: each element turned into an item as soon as it is read.
struct ItemList(Vec<ReadItem>);

impl<'de> serde::Deserialize<'de> for ItemList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ItemList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of highscores items")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<ItemList, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element::<Value>()? {
                    out.push(read_item(v));
                }
                Ok(ItemList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

struct TopVisitor;

impl<'de> serde::de::Visitor<'de> for TopVisitor {
    type Value = Stream;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(
            "a GeoGuessr highscores response ({\"items\": [...]}), an array of them, or an array of items",
        )
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Stream, A::Error> {
        let mut items = None;
        while let Some(k) = a.next_key::<String>()? {
            if k == "items" {
                items = Some(a.next_value::<ItemList>()?.0);
            } else {
                a.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        items
            .map(Stream)
            .ok_or_else(|| serde::de::Error::custom("no \"items\" array"))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Stream, A::Error> {
        // An array of pages or of items: one element's tree at a time.
        let mut out = Vec::new();
        while let Some(v) = a.next_element::<Value>()? {
            match v {
                Value::Object(mut o) if o.contains_key("items") => match o.remove("items") {
                    Some(Value::Array(list)) => out.extend(list.into_iter().map(read_item)),
                    _ => out.push(Err("a page whose \"items\" is not an array".into())),
                },
                other => out.push(read_item(other)),
            }
        }
        Ok(Stream(out))
    }
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
    let read = items(pages)
        .into_iter()
        .map(|v| read_item(v.clone()))
        .collect();
    from_items(source, read, challenge, own)
}

/// A person as an item names them: the nested player first, the top-level fields of the 2025
/// reshape otherwise. `Err` when the id cannot be one.
fn person(item: &Item) -> Result<(String, String), String> {
    let p = &item.game.player;
    let id = Some(p.id.trim())
        .filter(|s| !s.is_empty())
        .or(item.user_id.as_deref().map(str::trim))
        .unwrap_or("");
    if id.chars().count() > MAX_PLAYER_ID_CHARS || id.chars().any(crate::text::is_hidden) {
        return Err(format!(
            "player id {} is not one ({} characters at most, no control characters)",
            crate::text::quote(id, 24),
            MAX_PLAYER_ID_CHARS
        ));
    }
    let nick = Some(p.nick.as_str())
        .filter(|s| !s.trim().is_empty())
        .or(item.player_name.as_deref())
        .unwrap_or("");
    let (nick, cut) = crate::text::line_cut(nick, MAX_NICK_CHARS);
    let nick = if cut { format!("{nick}…") } else { nick };
    Ok((id.to_string(), nick))
}

fn from_items(source: &str, all: Vec<ReadItem>, challenge: Option<&str>, own: &Own) -> Import {
    let mut out = Import::default();
    let mut parsed = Vec::new();
    for (i, read) in all.into_iter().enumerate() {
        let row = i + 1;
        let problem = |message: String| RowProblem {
            file: source.into(),
            row,
            message,
        };
        let item = match read {
            Ok(it) => it,
            Err(message) => {
                out.problems.push(problem(message));
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
        let (id, nick) = match person(&item) {
            Ok(p) => p,
            Err(message) => {
                out.problems.push(problem(message));
                continue;
            }
        };
        parsed.push((row, challenge_id, id, nick, item));
    }
    // Nicknames need not be unique: a shared one gets the player's id beside it.
    let mut nicks: HashMap<&str, Vec<&str>> = HashMap::new();
    for (_, _, id, nick, _) in &parsed {
        let ids = nicks.entry(nick.as_str()).or_default();
        if !ids.contains(&id.as_str()) {
            ids.push(id);
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut rounds = Vec::new();
    for (row, challenge_id, id, nick, it) in &parsed {
        let player = match (
            nick.is_empty(),
            nicks.get(nick.as_str()).map_or(0, Vec::len) > 1,
        ) {
            (true, _) => id.clone(),
            (false, false) => nick.clone(),
            (false, true) => format!("{nick} ({id})"),
        };
        if player.is_empty() {
            out.problems.push(RowProblem {
                file: source.into(),
                row: *row,
                message: "player has neither nick nor id".into(),
            });
            continue;
        }
        let game_rounds = it
            .game
            .round_count
            .or((!it.game.rounds.is_empty()).then_some(it.game.rounds.len()))
            .unwrap_or(MAX_ROUNDS_PER_GAME)
            .min(MAX_ROUNDS_PER_GAME);
        let guesses = &it.game.player.guesses;
        if guesses.len() > game_rounds {
            out.problems.push(RowProblem {
                file: source.into(),
                row: *row,
                message: format!(
                    "{} guesses for a {game_rounds}-round game: the guesses after round {game_rounds} are left out",
                    guesses.len()
                ),
            });
        }
        for (r, g) in guesses.iter().take(game_rounds).enumerate() {
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
            // The same page saved twice, or a player listed on two pages: one round once.
            if !seen.insert((challenge_id.clone(), player.clone(), r + 1)) {
                out.duplicates += 1;
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
    let file = fs_err::File::open(path).map_err(HumansError::Io)?;
    let reader = std::io::BufReader::new(file);
    let stream: Stream = serde_json::from_reader(reader).map_err(|e| HumansError::Format {
        path: name.clone(),
        detail: crate::text::line(&e.to_string(), MAX_PROBLEM_DETAIL_CHARS),
    })?;
    Ok(from_items(&name, stream.0, challenge, own))
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
