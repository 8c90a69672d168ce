//! The words, keys and marks the answer readers look for: refusal phrases, answer labels, JSON
//! key spellings, degree/minute/second marks and the words that may sit inside a coordinate pair.
//! Kept apart from the readers so a new spelling is a one-line change.

use serde_json::Value;

/// Phrases that, in an answer without coordinates, mean the model declined.
pub(super) const REFUSAL_PHRASES: [&str; 20] = [
    "can't determine",
    "cannot determine",
    "can not determine",
    "unable to determine",
    "unable to identify",
    "can't identify",
    "cannot identify",
    "unable to pinpoint",
    "can't pinpoint",
    "cannot pinpoint",
    "i'm sorry",
    "i am sorry",
    "i can't help",
    "i cannot help",
    "not possible to determine",
    "impossible to determine",
    "cannot provide",
    "can't provide",
    "unable to provide",
    "not enough information",
];
/// Words before a prose pair that mark it as the model's chosen answer.
pub(super) const FINAL_LABELS: [&str; 9] = [
    "final",
    "answer",
    "my guess",
    "best guess",
    "i guess",
    "i'd guess",
    "i would guess",
    "conclusion",
    "prediction",
];
/// JSON keys (lower case, letters and digits only) whose subtree holds the chosen answer.
pub(super) const JSON_LABEL_KEYS: [&str; 5] = ["final", "answer", "guess", "prediction", "best"];
pub(super) const LAT_KEYS: [&str; 6] = [
    "lat",
    "latitude",
    "latdeg",
    "latitudedeg",
    "latitudedegrees",
    "latitud",
];
pub(super) const LON_KEYS: [&str; 9] = [
    "lon",
    "lng",
    "long",
    "longitude",
    "londeg",
    "lngdeg",
    "longitudedeg",
    "longitudedegrees",
    "longitud",
];
/// Keys that may hold a `[lat, lon]` array or a `"lat, lon"` string.
pub(super) const PAIR_KEYS: [&str; 17] = [
    "coordinates",
    "coordinate",
    "coords",
    "coord",
    "latlng",
    "latlon",
    "latlong",
    "position",
    "location",
    "point",
    "center",
    "centre",
    "gps",
    "answer",
    "finalanswer",
    "guess",
    "prediction",
];
pub(super) const COUNTRY_KEYS: [&str; 7] = [
    "country",
    "countrycode",
    "countryname",
    "countryiso",
    "countryiso2",
    "iso2",
    "isocode",
];
pub(super) const CONFIDENCE_KEYS: [&str; 5] = [
    "confidence",
    "certainty",
    "confidencescore",
    "confidencelevel",
    "probability",
];
pub(super) const RATIONALE_KEYS: [&str; 6] = [
    "rationale",
    "reasoning",
    "reason",
    "explanation",
    "justification",
    "evidence",
];

/// Verbal confidence levels, mapped to the middle of what people usually mean by them.
pub(super) fn confidence_word(t: &str) -> Option<f64> {
    const LEVELS: [(&str, f64); 6] = [
        ("very high", 0.9),
        ("very low", 0.1),
        ("high", 0.75),
        ("medium", 0.5),
        ("moderate", 0.5),
        ("low", 0.25),
    ];
    LEVELS
        .iter()
        .find(|(w, _)| t.starts_with(w))
        .map(|(_, v)| *v)
}

pub(super) const DEGREE_MARKS: [char; 3] = ['°', 'º', '˚'];
pub(super) const MINUTE_MARKS: [char; 4] = ['\'', '′', '’', 'ʹ'];
pub(super) const SECOND_MARKS: [char; 4] = ['"', '″', '”', 'ʺ'];
pub(super) const MINUS_SIGNS: [char; 2] = ['-', '−'];

pub(super) const LAT_WORDS: [&str; 4] = ["latitude", "lat", "latitud", "breitengrad"];
pub(super) const LON_WORDS: [&str; 5] = ["longitude", "lon", "lng", "longitud", "längengrad"];

/// Words that may sit between the two halves of a pair.
pub(super) const GAP_WORDS: [&str; 16] = [
    "and",
    "approximately",
    "approx",
    "about",
    "roughly",
    "around",
    "ca",
    "latitude",
    "lat",
    "longitude",
    "lon",
    "lng",
    "long",
    "latitud",
    "longitud",
    "längengrad",
];

/// A confidence in 0..=1 from a number (0.85 or 85), a string ("85%", "0.85") or a word.
pub(super) fn confidence_value(v: &Value, notes: &mut Vec<String>) -> Option<f64> {
    let (x, percent) = match v {
        Value::Number(n) => (n.as_f64()?, false),
        Value::String(s) => {
            let t = s.trim().to_lowercase();
            if let Some(p) = t.strip_suffix('%') {
                (p.trim().parse::<f64>().ok()?, true)
            } else if let Ok(f) = t.parse::<f64>() {
                (f, false)
            } else {
                let word = confidence_word(&t)?;
                notes.push(format!("read confidence {s:?} as {word}"));
                return Some(word);
            }
        }
        _ => return None,
    };
    normalise_confidence(x, percent, notes)
}

fn normalise_confidence(x: f64, percent: bool, notes: &mut Vec<String>) -> Option<f64> {
    if !x.is_finite() || x < 0.0 {
        notes.push(format!("ignored confidence {x}"));
        return None;
    }
    if percent {
        return (x <= 100.0).then_some(x / 100.0);
    }
    if x <= 1.0 {
        Some(x)
    } else if x <= 100.0 {
        notes.push(format!("read confidence {x} as a percentage"));
        Some(x / 100.0)
    } else {
        notes.push(format!("ignored confidence {x}"));
        None
    }
}
