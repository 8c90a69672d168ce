//! The site's JSON, parsed into what each side may hold. Every game state the site sends carries
//! the answer (`rounds[]`: lat, lng, panoId, country code); [`GameState`] has no field for it, so
//! the answer is dropped at parse time. The truth of a round is a separate [`Truth`], which
//! [`truth_after_guess`] builds only when the state shows the player's guess for that round.

use serde::Deserialize;

/// A game as the controller may know it during a round: no answer fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GameState {
    pub token: String,
    /// `standard` or `challenge`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub mode: String,
    /// `started` or `finished`.
    #[serde(default)]
    pub state: String,
    pub round_count: usize,
    /// Seconds per round; 0 = none.
    #[serde(default)]
    pub time_limit: u32,
    #[serde(default)]
    pub forbid_moving: bool,
    #[serde(default)]
    pub forbid_zooming: bool,
    #[serde(default)]
    pub forbid_rotating: bool,
    /// The map's id (`world` or a 24-hex id).
    #[serde(default)]
    pub map: String,
    #[serde(default)]
    pub map_name: String,
    pub bounds: Option<Bounds>,
    /// The current round, 1-based.
    #[serde(default)]
    pub round: usize,
    #[serde(default)]
    pub player: Player,
    /// Each round's `startTime` (when the site started its clock), where it reads as a time.
    #[serde(skip)]
    starts: Vec<Option<chrono::DateTime<chrono::Utc>>>,
}

impl GameState {
    pub fn finished(&self) -> bool {
        self.state == "finished"
    }

    /// Rounds the site has scored.
    pub fn guessed(&self) -> usize {
        self.player.guesses.len()
    }

    /// When the site started round `round`'s clock (1-based), as it says.
    pub fn round_start(&self, round: usize) -> Option<chrono::DateTime<chrono::Utc>> {
        self.starts.get(round.checked_sub(1)?).copied().flatten()
    }

    /// No moving, panning or zooming: exactly one view.
    pub fn nmpz(&self) -> bool {
        self.forbid_moving && self.forbid_rotating && self.forbid_zooming
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Bounds {
    pub min: LatLng,
    pub max: LatLng,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
pub struct LatLng {
    pub lat: f64,
    pub lng: f64,
}

/// The player's side of the game: their own guesses and scores (what they did, not the answer).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Player {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub nick: String,
    #[serde(default)]
    pub guesses: Vec<OwnGuess>,
}

/// One scored guess of the player (the answer is not in it: only its distance).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnGuess {
    pub lat: f64,
    pub lng: f64,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub round_score_in_points: u32,
    #[serde(default)]
    pub distance_in_meters: f64,
    /// Seconds.
    #[serde(default)]
    pub time: Option<f64>,
}

/// A round's answer, read from the state only after the round was guessed.
#[derive(Clone, PartialEq)]
pub struct Truth {
    pub lat: f64,
    pub lng: f64,
    /// The panorama id (the site sends it hex-encoded; decoded here when it is ASCII).
    pub pano_id: Option<String>,
    /// `streakLocationCode`: ISO country code, lower case.
    pub country: Option<String>,
}

impl std::fmt::Debug for Truth {
    // Printed only after the guess, but never by accident into a round's log line either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Truth(..)")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRound {
    lat: f64,
    lng: f64,
    #[serde(default)]
    pano_id: Option<String>,
    #[serde(default)]
    streak_location_code: Option<String>,
}

#[derive(Deserialize)]
struct WithRounds {
    #[serde(default)]
    rounds: Vec<RawRound>,
}

/// Why a state could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum StateProblem {
    /// The JSON does not have the expected shape (serde's message, which quotes no values).
    Shape(String),
    /// Asked for a round's truth before the site scored the player's guess for it.
    NotGuessed { round: usize, guessed: usize },
    /// The state has no such round.
    NoRound(usize),
}

impl std::fmt::Display for StateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateProblem::Shape(d) => write!(f, "unexpected game state JSON: {d}"),
            StateProblem::NotGuessed { round, guessed } => write!(
                f,
                "refusing to read round {round}'s answer: the site has scored only {guessed} guess(es)"
            ),
            StateProblem::NoRound(r) => write!(f, "the game state has no round {r}"),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStart {
    #[serde(default)]
    start_time: Option<String>,
}

#[derive(Deserialize)]
struct WithStarts {
    #[serde(default)]
    rounds: Vec<RawStart>,
}

/// Parses a game state, dropping every answer field.
pub(crate) fn parse_state(body: &[u8]) -> Result<GameState, StateProblem> {
    let mut state: GameState =
        serde_json::from_slice(body).map_err(|e| StateProblem::Shape(shape_error(&e)))?;
    // The clock is read where it can be; a state whose start times do not read is still a state
    // (a timed round then counts from when it was requested).
    state.starts = serde_json::from_slice::<WithStarts>(body)
        .map(|w| {
            w.rounds
                .into_iter()
                .map(|r| {
                    chrono::DateTime::parse_from_rfc3339(r.start_time.as_deref()?.trim())
                        .ok()
                        .map(|t| t.with_timezone(&chrono::Utc))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(state)
}

/// The state and round `round`'s truth (1-based), only when the player's guess for that round
/// is in the same state: the fence between what the agent may know and the answer.
pub(crate) fn truth_after_guess(
    body: &[u8],
    round: usize,
) -> Result<(GameState, Truth), StateProblem> {
    let state = parse_state(body)?;
    if state.guessed() < round || round == 0 {
        return Err(StateProblem::NotGuessed {
            round,
            guessed: state.guessed(),
        });
    }
    let rounds: WithRounds =
        serde_json::from_slice(body).map_err(|e| StateProblem::Shape(shape_error(&e)))?;
    let r = rounds
        .rounds
        .into_iter()
        .nth(round - 1)
        .ok_or(StateProblem::NoRound(round))?;
    Ok((
        state,
        Truth {
            lat: r.lat,
            lng: r.lng,
            pano_id: r.pano_id.map(|p| decode_pano_id(&p)),
            country: r
                .streak_location_code
                .filter(|c| !c.is_empty())
                .map(|c| c.to_ascii_lowercase()),
        },
    ))
}

/// serde's message without the input it quotes (a state holds the answer; an error message
/// must not carry it into a log).
fn shape_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let kind = msg.split(" at line").next().unwrap_or(&msg);
    // "invalid type: string \"48.69\", expected f64" would quote a value: keep the kind only.
    match kind.find(", expected") {
        Some(at) if kind.starts_with("invalid") => {
            format!("{}{}", kind.split(':').next().unwrap_or(kind), &kind[at..])
        }
        _ => kind.to_string(),
    }
}

/// The site sends the pano id as the hex of its ASCII text; the plain id is kept when it is not.
pub(crate) fn decode_pano_id(hex: &str) -> String {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    match bytes {
        Some(b)
            if hex.len().is_multiple_of(2)
                && !b.is_empty()
                && b.iter().all(|c| c.is_ascii_graphic()) =>
        {
            String::from_utf8(b).unwrap_or_else(|_| hex.to_string())
        }
        _ => hex.to_string(),
    }
}

/// A map's public facts (`GET /api/maps/{id}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapFacts {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Metres: the score's scale, `round(5000·exp(−10·d/D))`.
    pub max_error_distance: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from GEOGUESSR.md (one guess made).
    const EXAMPLE: &str = r#"{"token":"XB9wycuZvDrhl7cB","type":"standard","mode":"standard","state":"started","roundCount":5,"timeLimit":0,
 "forbidMoving":true,"forbidZooming":false,"forbidRotating":false,"map":"world","mapName":"World",
 "bounds":{"min":{"lat":-54.85,"lng":-123.12},"max":{"lat":71.17,"lng":175.68}},"round":1,
 "rounds":[{"lat":48.6937,"lng":6.1833,"panoId":"483030557379774F46576E634D514451657355714A51","heading":173.36,
            "pitch":1.95,"zoom":0,"streakLocationCode":"fr","startTime":"2026-01-11T00:10:51.0315710+00:00"}],
 "player":{"totalScore":{"amount":"3305","unit":"points","percentage":13.22},"totalDistanceInMeters":765843.4,
   "guesses":[{"lat":43.6,"lng":1.44,"timedOut":false,"timedOutWithGuess":false,"skippedRound":false,
     "roundScore":{"amount":"3305","unit":"points","percentage":66.1},"roundScoreInPoints":3305,
     "distance":{"meters":{"amount":"765.8","unit":"km"}},"distanceInMeters":765843.4,"stepsCount":0,"time":34}],
   "id":"5db9f057dfa5102130eaf747","nick":"someone","countryCode":"gb"}}"#;

    #[test]
    fn the_state_keeps_no_answer() {
        let s = parse_state(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(s.token, "XB9wycuZvDrhl7cB");
        assert_eq!((s.round_count, s.round, s.guessed()), (5, 1, 1));
        assert!(s.forbid_moving && !s.nmpz());
        let debug = format!("{s:?}");
        for leak in ["48.69", "6.18", "483030", "H00Usy", "\"fr\""] {
            assert!(!debug.contains(leak), "{leak} in {debug}");
        }
        assert_eq!(s.player.guesses[0].round_score_in_points, 3305);
    }

    #[test]
    fn the_truth_comes_only_after_the_guess() {
        let (_, t) = truth_after_guess(EXAMPLE.as_bytes(), 1).unwrap();
        assert_eq!((t.lat, t.lng), (48.6937, 6.1833));
        assert_eq!(t.pano_id.as_deref(), Some("H00UsywOFWncMQDQesUqJQ"));
        assert_eq!(t.country.as_deref(), Some("fr"));
        assert_eq!(format!("{t:?}"), "Truth(..)");
        let not_yet = EXAMPLE.replace("\"guesses\":[{", "\"guesses\":[],\"x\":[{");
        assert_eq!(
            truth_after_guess(not_yet.as_bytes(), 1).unwrap_err(),
            StateProblem::NotGuessed {
                round: 1,
                guessed: 0
            }
        );
        assert!(matches!(
            truth_after_guess(EXAMPLE.as_bytes(), 2),
            Err(StateProblem::NotGuessed { .. })
        ));
    }

    #[test]
    fn start_times_are_read_where_they_read() {
        let s = parse_state(EXAMPLE.as_bytes()).unwrap();
        let t = s.round_start(1).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-11T00:10:51.031571+00:00");
        assert_eq!((s.round_start(0), s.round_start(2)), (None, None));
        let zulu = EXAMPLE.replace("51.0315710+00:00", "51Z");
        assert!(parse_state(zulu.as_bytes())
            .unwrap()
            .round_start(1)
            .is_some());
        for bad in ["\"soon\"", "12", "null", "[1]"] {
            let odd = EXAMPLE.replace("\"2026-01-11T00:10:51.0315710+00:00\"", bad);
            let s = parse_state(odd.as_bytes()).unwrap();
            assert_eq!(s.round_start(1), None, "{bad}");
        }
    }

    #[test]
    fn shape_errors_quote_no_values() {
        let bad = EXAMPLE.replace("\"roundCount\":5", "\"roundCount\":\"48.6937\"");
        let e = parse_state(bad.as_bytes()).unwrap_err().to_string();
        assert!(!e.contains("48.6937"), "{e}");
        assert!(e.contains("expected"), "{e}");
    }

    #[test]
    fn pano_ids_decode_only_when_hex_ascii() {
        assert_eq!(decode_pano_id("4142"), "AB");
        assert_eq!(decode_pano_id("xyz"), "xyz");
        assert_eq!(decode_pano_id("0001"), "0001");
    }
}
