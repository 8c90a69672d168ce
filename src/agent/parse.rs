//! Reading a position out of whatever a model wrote, so a round is never lost to a messy answer.
//!
//! Two readers, tried in order:
//! 1. **JSON**: every `{...}` in the text (fenced or not) is read leniently — comments, trailing
//!    commas, single quotes, bare keys, Python literals, numbers as strings — and searched, at any
//!    depth, for `lat`/`latitude` + `lon`/`lng`/`long`/`longitude` keys or a `coordinates`-like
//!    pair. The last object with coordinates wins, unless one sits under a key like `final_answer`.
//! 2. **Prose**: numbers with degree signs, minutes and seconds, hemisphere letters or words and
//!    `latitude:`/`longitude:` labels are paired up. A pair preceded by "final answer" or similar
//!    wins, otherwise the last pair. European decimal commas (`48,85`) are read only when the text
//!    yields no pair without them.
//!
//! Fix-ups (swapped latitude/longitude, wrapped longitude, percent confidence...) are recorded in
//! [`ParsedAnswer::notes`]. Refusals and answers without coordinates are [`ParseError`]s whose
//! messages are written to be shown back to the model in a repair prompt.

use crate::geo::{wrap_lon, LatLon};
use serde_json::{Map, Value};
use thiserror::Error;

/// How far (characters) before a prose coordinate pair to look for a "final answer" label:
/// about two lines, enough for "### Final answer\n\n**Coordinates:**".
const LABEL_WINDOW_CHARS: usize = 160;
/// Longest text allowed between the two halves of a prose pair, enough for
/// `°N,\n**Longitude:** approximately ` but not for a sentence in between.
const PAIR_GAP_CHARS: usize = 48;
/// How far before a number to look for its `latitude:`/`longitude:` label.
const AXIS_LABEL_WINDOW_CHARS: usize = 40;
/// How much of a refusal is quoted back in the error.
const EXCERPT_CHARS: usize = 160;
/// Longest country name taken from prose ("Country: ..."); longer means it caught a sentence.
const COUNTRY_MAX_CHARS: usize = 60;
/// Longest rationale taken from a `Rationale:` line in prose.
const RATIONALE_MAX_CHARS: usize = 500;

/// Phrases that, in an answer without coordinates, mean the model declined.
const REFUSAL_PHRASES: [&str; 20] = [
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
const FINAL_LABELS: [&str; 9] = [
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
const JSON_LABEL_KEYS: [&str; 5] = ["final", "answer", "guess", "prediction", "best"];
const LAT_KEYS: [&str; 6] = [
    "lat",
    "latitude",
    "latdeg",
    "latitudedeg",
    "latitudedegrees",
    "latitud",
];
const LON_KEYS: [&str; 9] = [
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
const PAIR_KEYS: [&str; 17] = [
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
const COUNTRY_KEYS: [&str; 7] = [
    "country",
    "countrycode",
    "countryname",
    "countryiso",
    "countryiso2",
    "iso2",
    "isocode",
];
const CONFIDENCE_KEYS: [&str; 5] = [
    "confidence",
    "certainty",
    "confidencescore",
    "confidencelevel",
    "probability",
];
const RATIONALE_KEYS: [&str; 6] = [
    "rationale",
    "reasoning",
    "reason",
    "explanation",
    "justification",
    "evidence",
];

/// A position read from a model's answer, with whatever else it said.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedAnswer {
    pub pos: LatLon,
    pub country: Option<String>,
    /// 0..=1.
    pub confidence: Option<f64>,
    pub rationale: Option<String>,
    /// Fix-ups made while reading ("swapped latitude and longitude", ...).
    pub notes: Vec<String>,
}

/// Why no position could be read. Messages are phrased for the model (see the repair prompt).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ParseError {
    #[error("the answer was empty")]
    Empty,
    #[error("the answer declined to name a location (\"{0}\"), but a best guess with coordinates is always required")]
    Refusal(String),
    #[error("no coordinates were found in it; give \"lat\" and \"lon\" as decimal degrees in a JSON object")]
    NoCoordinates,
    #[error("its JSON has \"{key}\": {value}, which is not a number in decimal degrees")]
    NotANumber { key: String, value: String },
    #[error("latitude {lat} is outside -90..90 (with longitude {lon}); latitude must be between -90 and 90")]
    OutOfRange { lat: f64, lon: f64 },
}

/// Reads the model's position (and country, confidence, rationale) from `text`.
pub fn parse_answer(text: &str) -> Result<ParsedAnswer, ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut problems = Vec::new();
    let json = json_candidates(text, &mut problems);
    let mut first_error = None;
    if !json.is_empty() {
        match choose(json, "JSON objects") {
            Ok(a) => return Ok(a),
            Err(e) => first_error = Some(e),
        }
    }
    for european in [false, true] {
        let prose = prose_candidates(text, european);
        if prose.is_empty() {
            continue;
        }
        match choose(prose, "coordinate pairs") {
            Ok(mut a) => {
                a.notes
                    .insert(0, "read coordinates from prose, not JSON".to_string());
                if european {
                    a.notes
                        .push("read commas as decimal separators".to_string());
                }
                fill_prose_meta(text, &mut a);
                return Ok(a);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let lower = text.to_lowercase();
    if REFUSAL_PHRASES.iter().any(|p| lower.contains(p)) {
        return Err(ParseError::Refusal(excerpt(text)));
    }
    Err(problems
        .into_iter()
        .next()
        .unwrap_or(ParseError::NoCoordinates))
}

fn excerpt(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(EXCERPT_CHARS) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// A position found somewhere, before range checks.
#[derive(Debug, Clone, Default)]
struct Candidate {
    lat: f64,
    lon: f64,
    /// Under a "final answer"-like label.
    labelled: bool,
    /// Nesting depth in its JSON document (shallower is preferred); 0 for prose.
    depth: usize,
    country: Option<String>,
    confidence: Option<f64>,
    rationale: Option<String>,
    notes: Vec<String>,
}

/// Picks the labelled candidate, else the shallowest, else the last; skips ones out of range.
fn choose(cands: Vec<Candidate>, what: &str) -> Result<ParsedAnswer, ParseError> {
    let total = cands.len();
    let labelled = cands.iter().filter(|c| c.labelled).count();
    let mut order: Vec<(usize, Candidate)> = cands.into_iter().enumerate().collect();
    // Best first: labelled, then shallow, then later in the text.
    order.sort_by(|(ia, a), (ib, b)| {
        b.labelled
            .cmp(&a.labelled)
            .then(a.depth.cmp(&b.depth))
            .then(ib.cmp(ia))
    });
    let mut first_err = None;
    for (_, c) in order {
        let why = if total == 1 {
            None
        } else if c.labelled && labelled > 0 {
            Some(format!(
                "{total} {what} found; took the one labelled as the answer"
            ))
        } else {
            Some(format!("{total} {what} found; took the last"))
        };
        match finish(c) {
            Ok(mut a) => {
                a.notes.extend(why);
                return Ok(a);
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or(ParseError::NoCoordinates))
}

/// Range checks and fix-ups.
fn finish(c: Candidate) -> Result<ParsedAnswer, ParseError> {
    let (mut lat, mut lon) = (c.lat, c.lon);
    let mut notes = c.notes;
    if !lat.is_finite() || !lon.is_finite() {
        return Err(ParseError::OutOfRange { lat, lon });
    }
    if lat.abs() > 90.0 && lon.abs() <= 90.0 {
        std::mem::swap(&mut lat, &mut lon);
        notes.push(format!(
            "swapped latitude and longitude (latitude {lon} is out of range, longitude {lat} is not)"
        ));
    }
    if lat.abs() > 90.0 {
        return Err(ParseError::OutOfRange { lat, lon });
    }
    if lon.abs() > 180.0 {
        let wrapped = wrap_lon(lon);
        notes.push(format!("wrapped longitude {lon} to {wrapped}"));
        lon = wrapped;
    }
    let pos = LatLon::new(lat, lon).map_err(|_| ParseError::OutOfRange { lat, lon })?;
    Ok(ParsedAnswer {
        pos,
        country: c.country,
        confidence: c.confidence,
        rationale: c.rationale,
        notes,
    })
}

// ---------------------------------------------------------------------------------------------
// JSON

fn norm_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// All JSON-ish objects in the text that parse, outermost first, in text order.
fn json_candidates(text: &str, problems: &mut Vec<ParseError>) -> Vec<Candidate> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        if let Some(end) = matching_brace(text, i) {
            if let Ok(value) = serde_json::from_str::<Value>(&relax_json(&text[i..end])) {
                if value.is_object() {
                    walk(&value, &value, 0, false, &mut out, problems);
                    i = end;
                    continue;
                }
            }
        }
        // Not an object we can read: an inner brace may still start one.
        i += 1;
    }
    out
}

/// Every top-level JSON object in `text` (fenced or not, in the relaxed syntax models write), in
/// order. Strategies whose answers are not coordinates (the coarse step's country probabilities)
/// read their fields from these.
pub fn json_objects(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            if let Some(end) = matching_brace(text, i) {
                if let Ok(value) = serde_json::from_str::<Value>(&relax_json(&text[i..end])) {
                    if value.is_object() {
                        out.push(value);
                        i = end;
                        continue;
                    }
                }
            }
        }
        i += 1;
    }
    out
}

/// The byte index just past the `}` closing the `{` at `open`, skipping quoted strings.
fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (off, ch) in text[open..].char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == q || (q == '“' && ch == '”') {
                quote = None;
            }
            continue;
        }
        match ch {
            '"' | '\'' | '“' => quote = Some(ch),
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(open + off + ch.len_utf8());
                }
            }
            _ => {}
        }
    }
    None
}

/// Rewrites JSON as models write it (comments, trailing commas, single quotes, bare keys and
/// words, Python literals, `+1`, unicode minus, degree signs) into strict JSON.
fn relax_json(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 16);
    let mut i = 0;
    // The last significant character written, to tell a `+` sign from anything else.
    let mut last_sig = ' ';
    let next_sig = |mut j: usize| -> Option<char> {
        while j < chars.len() {
            let c = chars[j];
            if c.is_whitespace() {
                j += 1;
            } else if (c == '/' && chars.get(j + 1) == Some(&'/')) || c == '#' {
                while j < chars.len() && chars[j] != '\n' {
                    j += 1;
                }
            } else if c == '/' && chars.get(j + 1) == Some(&'*') {
                j += 2;
                while j + 1 < chars.len() && !(chars[j] == '*' && chars[j + 1] == '/') {
                    j += 1;
                }
                j += 2;
            } else {
                return Some(c);
            }
        }
        None
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '“' => {
                let close: &[char] = match c {
                    '"' => &['"'],
                    '\'' => &['\''],
                    _ => &['”', '"'],
                };
                out.push('"');
                i += 1;
                while i < chars.len() && !close.contains(&chars[i]) {
                    let ch = chars[i];
                    if ch == '\\' && i + 1 < chars.len() {
                        let nx = chars[i + 1];
                        if nx == '\'' {
                            out.push('\'');
                        } else {
                            out.push('\\');
                            out.push(nx);
                        }
                        i += 2;
                        continue;
                    }
                    match ch {
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        '\r' => {}
                        '\t' => out.push_str("\\t"),
                        c if c.is_control() => out.push(' '),
                        c => out.push(c),
                    }
                    i += 1;
                }
                out.push('"');
                last_sig = '"';
                i += 1;
            }
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            ',' if matches!(next_sig(i + 1), Some('}') | Some(']') | None) => i += 1,
            '−' => {
                out.push('-');
                last_sig = '-';
                i += 1;
            }
            '+' if matches!(last_sig, ':' | ',' | '[')
                && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) =>
            {
                i += 1
            }
            '°' | 'º' => i += 1,
            // An exponent ("1e5") belongs to its number.
            'e' | 'E' if i > 0 && (chars[i - 1].is_ascii_digit() || chars[i - 1] == '.') => {
                out.push(c);
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let literal = match word.as_str() {
                    "true" | "True" | "TRUE" => Some("true"),
                    "false" | "False" | "FALSE" => Some("false"),
                    "null" | "None" | "NaN" | "undefined" | "Infinity" => Some("null"),
                    _ => None,
                };
                if let Some(l) = literal.filter(|_| next_sig(i) != Some(':')) {
                    out.push_str(l);
                } else {
                    out.push('"');
                    out.push_str(&word);
                    out.push('"');
                }
                last_sig = '"';
            }
            c => {
                out.push(c);
                if !c.is_whitespace() {
                    last_sig = c;
                }
                i += 1;
            }
        }
    }
    out
}

/// Searches a JSON value for coordinates, depth first, in document order.
fn walk(
    root: &Value,
    v: &Value,
    depth: usize,
    labelled: bool,
    out: &mut Vec<Candidate>,
    problems: &mut Vec<ParseError>,
) {
    match v {
        Value::Object(map) => {
            let find = |keys: &[&str]| {
                map.iter()
                    .find(|(k, _)| keys.contains(&norm_key(k).as_str()))
            };
            let geojson = map
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("point"));
            match (find(&LAT_KEYS), find(&LON_KEYS)) {
                (Some((lk, lv)), Some((gk, gv))) => match (coord_value(lv), coord_value(gv)) {
                    (Some((lat, _)), Some((lon, _))) => {
                        out.push(candidate(root, map, lat, lon, depth, labelled, vec![]));
                    }
                    (lat, _) => {
                        let (k, v) = if lat.is_none() { (lk, lv) } else { (gk, gv) };
                        problems.push(ParseError::NotANumber {
                            key: k.clone(),
                            value: v.to_string(),
                        });
                    }
                },
                _ => {
                    for (k, val) in map {
                        if !PAIR_KEYS.contains(&norm_key(k).as_str()) {
                            continue;
                        }
                        let under_label = labelled || is_label_key(k);
                        if let Some((lat, lon, notes)) = pair_value(val, geojson) {
                            out.push(candidate(
                                root,
                                map,
                                lat,
                                lon,
                                depth + 1,
                                under_label,
                                notes,
                            ));
                        }
                    }
                }
            }
            for (k, val) in map {
                if val.is_object() || val.is_array() {
                    let under_label = labelled || is_label_key(k);
                    walk(root, val, depth + 1, under_label, out, problems);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(root, item, depth + 1, labelled, out, problems);
            }
        }
        _ => {}
    }
}

fn is_label_key(k: &str) -> bool {
    let k = norm_key(k);
    JSON_LABEL_KEYS.iter().any(|l| k.contains(l))
}

fn candidate(
    root: &Value,
    map: &Map<String, Value>,
    lat: f64,
    lon: f64,
    depth: usize,
    labelled: bool,
    mut notes: Vec<String>,
) -> Candidate {
    let country = meta(root, map, &COUNTRY_KEYS, |v| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    });
    let confidence = meta(root, map, &CONFIDENCE_KEYS, |v| {
        (!v.is_null()).then(|| v.clone())
    })
    .and_then(|raw| confidence_value(&raw, &mut notes));
    let rationale = meta(root, map, &RATIONALE_KEYS, |v| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Array(items) => {
            let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        _ => None,
    });
    Candidate {
        lat,
        lon,
        labelled,
        depth,
        country,
        confidence,
        rationale,
        notes,
    }
}

/// A field from the object holding the coordinates, else the first in the whole document.
fn meta<T>(
    root: &Value,
    map: &Map<String, Value>,
    keys: &[&str],
    mut get: impl FnMut(&Value) -> Option<T>,
) -> Option<T> {
    let mut in_obj = |m: &Map<String, Value>| {
        m.iter()
            .filter(|(k, _)| keys.contains(&norm_key(k).as_str()))
            .find_map(|(_, v)| get(v))
    };
    if let Some(found) = in_obj(map) {
        return Some(found);
    }
    // Breadth first, so the answer's own fields beat those of nested alternatives.
    let mut queue = std::collections::VecDeque::from([root]);
    while let Some(v) = queue.pop_front() {
        match v {
            Value::Object(m) => {
                if let Some(found) = in_obj(m) {
                    return Some(found);
                }
                queue.extend(m.values());
            }
            Value::Array(items) => queue.extend(items.iter()),
            _ => {}
        }
    }
    None
}

/// A number in degrees from a JSON value: a number, or a string like "48.85", "48,85",
/// "33.9 S" or "48°51'24\"N". The axis is set when a hemisphere letter says which it is.
fn coord_value(v: &Value) -> Option<(f64, Option<Axis>)> {
    match v {
        Value::Number(n) => n.as_f64().map(|f| (f, None)),
        Value::String(s) => coord_str(s),
        _ => None,
    }
}

fn coord_str(s: &str) -> Option<(f64, Option<Axis>)> {
    let t = s.trim().replace('−', "-");
    let t = t.trim_end_matches(['°', 'º']).trim();
    if let Ok(f) = t.parse::<f64>() {
        return Some((f, None));
    }
    let chars: Vec<char> = s.chars().collect();
    for european in [false, true] {
        let comps = scan(&chars, european);
        if let [c] = comps.as_slice() {
            return Some((c.signed(), c.axis()));
        }
    }
    None
}

/// `[lat, lon]` (or `[lon, lat]` under GeoJSON `"type": "Point"`), or a `"lat, lon"` string.
fn pair_value(v: &Value, geojson: bool) -> Option<(f64, f64, Vec<String>)> {
    match v {
        Value::Array(items) if (2..=3).contains(&items.len()) => {
            let (a, aa) = coord_value(&items[0])?;
            let (b, ba) = coord_value(&items[1])?;
            if geojson {
                return Some((
                    b,
                    a,
                    vec!["read GeoJSON [longitude, latitude] order".to_string()],
                ));
            }
            if aa == Some(Axis::Lon) || ba == Some(Axis::Lat) {
                return Some((b, a, vec![]));
            }
            Some((a, b, vec![]))
        }
        Value::String(s) => {
            let c = prose_candidates(s, false).pop()?;
            Some((c.lat, c.lon, vec![]))
        }
        _ => None,
    }
}

/// A confidence in 0..=1 from a number (0.85 or 85), a string ("85%", "0.85") or a word.
fn confidence_value(v: &Value, notes: &mut Vec<String>) -> Option<f64> {
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

/// Verbal confidence levels, mapped to the middle of what people usually mean by them.
fn confidence_word(t: &str) -> Option<f64> {
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

// ---------------------------------------------------------------------------------------------
// Prose

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Axis {
    Lat,
    Lon,
}

/// One number that may be half of a coordinate pair.
#[derive(Debug, Clone)]
struct Comp {
    /// Character indices.
    start: usize,
    end: usize,
    magnitude: f64,
    negative: bool,
    hemi: Option<char>,
    decimal: bool,
    degree: bool,
    /// Had minutes (and maybe seconds): `48°51'`.
    dms: bool,
    label: Option<Axis>,
    /// Preceded by a label naming both ("Lat/Lon:", "coordinates (lat, lon)").
    pair_label: bool,
}

impl Comp {
    fn axis(&self) -> Option<Axis> {
        match self.hemi {
            Some('N' | 'S') => Some(Axis::Lat),
            Some(_) => Some(Axis::Lon),
            None => self.label,
        }
    }

    fn signed(&self) -> f64 {
        match self.hemi {
            Some('S' | 'W') => -self.magnitude,
            Some(_) => self.magnitude,
            None if self.negative => -self.magnitude,
            None => self.magnitude,
        }
    }

    /// Looks like a coordinate rather than a count, a year or a rank.
    fn coordinate_like(&self) -> bool {
        // A bare "90°" is usually a heading, not half of a position.
        self.decimal || self.dms || self.hemi.is_some() || self.label.is_some() || self.pair_label
    }
}

const DEGREE_MARKS: [char; 3] = ['°', 'º', '˚'];
const MINUTE_MARKS: [char; 4] = ['\'', '′', '’', 'ʹ'];
const SECOND_MARKS: [char; 4] = ['"', '″', '”', 'ʺ'];
const MINUS_SIGNS: [char; 2] = ['-', '−'];

fn is_hemi_letter(c: char) -> bool {
    matches!(c, 'N' | 'S' | 'E' | 'W')
}

fn word_at(chars: &[char], i: usize, word: &str) -> bool {
    let n = word.chars().count();
    i + n <= chars.len()
        && chars[i..i + n]
            .iter()
            .zip(word.chars())
            .all(|(a, b)| a.to_lowercase().eq(b.to_lowercase()))
        && chars.get(i + n).is_none_or_not_alpha()
}

trait OptCharExt {
    fn is_none_or_not_alpha(&self) -> bool;
}

impl OptCharExt for Option<&char> {
    fn is_none_or_not_alpha(&self) -> bool {
        match self {
            None => true,
            Some(c) => !c.is_alphabetic(),
        }
    }
}

fn skip_spaces(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && (chars[i] == ' ' || chars[i] == '\u{a0}' || chars[i] == '\t') {
        i += 1;
    }
    i
}

/// Digits with an optional fraction (`.` or, in European mode, `,`). Returns (value, end,
/// had a fraction).
fn number_at(chars: &[char], i: usize, european: bool) -> Option<(f64, usize, bool)> {
    let mut j = i;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
    }
    if j == i {
        return None;
    }
    let mut text: String = chars[i..j].iter().collect();
    let mut decimal = false;
    let sep_ok = |c: char| c == '.' || (european && c == ',');
    if j + 1 < chars.len() && sep_ok(chars[j]) && chars[j + 1].is_ascii_digit() {
        let mut k = j + 1;
        while k < chars.len() && chars[k].is_ascii_digit() {
            k += 1;
        }
        text.push('.');
        text.extend(&chars[j + 1..k]);
        j = k;
        decimal = true;
    }
    text.parse::<f64>().ok().map(|v| (v, j, decimal))
}

/// Finds every number in the text with its degree/minute/second marks, hemisphere and sign.
fn scan(chars: &[char], european: bool) -> Vec<Comp> {
    let mut comps: Vec<Comp> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_ascii_digit() {
            i += 1;
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let prev2 = i.checked_sub(2).map(|p| chars[p]);
        let attached_hemi = prev.is_some_and(is_hemi_letter) && prev2.is_none_or_not_alnum();
        if prev.is_some_and(|p| (p.is_alphanumeric() && !attached_hemi) || p == '.') {
            // Part of a word or of a longer number ("A1", "v2", "1.2.3").
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        let Some((mut magnitude, mut j, decimal)) = number_at(chars, i, european) else {
            i += 1;
            continue;
        };
        // "1.2.3", "12km", "3rd": not a coordinate.
        if j + 1 < chars.len() && chars[j] == '.' && chars[j + 1].is_ascii_digit() {
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            i = j;
            continue;
        }
        let suffix_hemi_attached = chars.get(j).is_some_and(|c| {
            is_hemi_letter(c.to_ascii_uppercase()) && chars.get(j + 1).is_none_or_not_alpha()
        });
        if chars.get(j).is_some_and(|c| c.is_alphabetic()) && !suffix_hemi_attached {
            while j < chars.len() && chars[j].is_alphanumeric() {
                j += 1;
            }
            i = j;
            continue;
        }
        let negative =
            prev.is_some_and(|p| MINUS_SIGNS.contains(&p)) && prev2.is_none_or_not_alnum();
        let mut start = if negative { i - 1 } else { i };
        // Degrees, then minutes and seconds.
        let mut degree = false;
        let mut dms = false;
        let k = skip_spaces(chars, j);
        if chars.get(k).is_some_and(|c| DEGREE_MARKS.contains(c)) {
            degree = true;
            j = k + 1;
        } else if let Some(w) = ["degrees", "degree", "deg"]
            .iter()
            .find(|w| word_at(chars, k, w))
        {
            degree = true;
            j = k + w.len();
        }
        if degree {
            let k = skip_spaces(chars, j);
            if let Some((m, k2, _)) = number_at(chars, k, false) {
                let k3 = skip_spaces(chars, k2);
                if m < 60.0 && chars.get(k3).is_some_and(|c| MINUTE_MARKS.contains(c)) {
                    magnitude += m / 60.0;
                    dms = true;
                    j = k3 + 1;
                    let k = skip_spaces(chars, j);
                    if let Some((s, k2, _)) = number_at(chars, k, false) {
                        let k3 = skip_spaces(chars, k2);
                        let two_primes =
                            chars.get(k3) == Some(&'\'') && chars.get(k3 + 1) == Some(&'\'');
                        if s < 60.0
                            && (chars.get(k3).is_some_and(|c| SECOND_MARKS.contains(c))
                                || two_primes)
                        {
                            magnitude += s / 3600.0;
                            j = k3 + if two_primes { 2 } else { 1 };
                        }
                    }
                }
            }
        }
        // Hemisphere after the number ("48.85 N", "33.9° south"), or before ("S 33.9").
        let mut hemi = None;
        let k = skip_spaces(chars, j);
        if let Some(&h) = chars.get(k) {
            let upper = h.to_ascii_uppercase();
            if is_hemi_letter(upper)
                && (h.is_uppercase() || k == j)
                && chars.get(k + 1).is_none_or_not_alpha()
            {
                hemi = Some(upper);
                j = k + 1;
            } else if let Some(w) = ["north", "south", "east", "west"]
                .iter()
                .find(|w| word_at(chars, k, w))
            {
                hemi = w.chars().next().map(|c| c.to_ascii_uppercase());
                j = k + w.len();
            }
        }
        if hemi.is_none() && !negative {
            let mut p = i;
            if p > 0 && chars[p - 1] == ' ' {
                p -= 1;
            }
            let floor = comps.last().map_or(0, |c| c.end);
            if p > floor
                && is_hemi_letter(chars[p - 1])
                && (p < 2 || !chars[p - 2].is_alphanumeric())
            {
                hemi = Some(chars[p - 1]);
                start = p - 1;
            }
        }
        comps.push(Comp {
            start,
            end: j,
            magnitude,
            negative,
            hemi,
            decimal,
            degree,
            dms,
            label: None,
            pair_label: false,
        });
        i = j.max(i + 1);
    }
    label_axes(chars, &mut comps);
    comps
}

trait OptPrevExt {
    fn is_none_or_not_alnum(&self) -> bool;
}

impl OptPrevExt for Option<char> {
    fn is_none_or_not_alnum(&self) -> bool {
        match self {
            None => true,
            Some(c) => !c.is_alphanumeric(),
        }
    }
}

const LAT_WORDS: [&str; 4] = ["latitude", "lat", "latitud", "breitengrad"];
const LON_WORDS: [&str; 5] = ["longitude", "lon", "lng", "longitud", "längengrad"];

/// Word positions in `w` (lower case chars), with word boundaries on both sides.
fn has_word(w: &[char], word: &str) -> bool {
    (0..w.len()).any(|i| (i == 0 || !w[i - 1].is_alphabetic()) && word_at(w, i, word))
}

/// "long" is a label only as "long:" / "long =" (it is also an ordinary English word).
fn has_long_label(w: &[char]) -> bool {
    (0..w.len()).any(|i| {
        (i == 0 || !w[i - 1].is_alphabetic()) && word_at(w, i, "long") && {
            let mut k = i + 4;
            while k < w.len() && (w[k] == ' ' || w[k] == '*' || w[k] == '"' || w[k] == ')') {
                k += 1;
            }
            matches!(w.get(k), Some(':' | '=' | ','))
        }
    })
}

fn label_axes(chars: &[char], comps: &mut [Comp]) {
    let mut floor = 0;
    for c in comps.iter_mut() {
        let from = c.start.saturating_sub(AXIS_LABEL_WINDOW_CHARS).max(floor);
        let window: Vec<char> = chars[from..c.start]
            .iter()
            .flat_map(|c| c.to_lowercase())
            .collect();
        let lat = LAT_WORDS.iter().any(|w| has_word(&window, w));
        let lon = LON_WORDS.iter().any(|w| has_word(&window, w)) || has_long_label(&window);
        match (lat, lon) {
            (true, true) => c.pair_label = true,
            (true, false) => c.label = Some(Axis::Lat),
            (false, true) => c.label = Some(Axis::Lon),
            (false, false) => {}
        }
        floor = c.end;
    }
}

/// Words that may sit between the two halves of a pair.
const GAP_WORDS: [&str; 16] = [
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

fn gap_ok(gap: &[char]) -> bool {
    if gap.len() > PAIR_GAP_CHARS || gap.iter().filter(|c| **c == '\n').count() > 2 {
        return false;
    }
    let mut i = 0;
    while i < gap.len() {
        let c = gap[i];
        if c.is_alphabetic() {
            let s = i;
            while i < gap.len() && gap[i].is_alphabetic() {
                i += 1;
            }
            let word: String = gap[s..i].iter().flat_map(|c| c.to_lowercase()).collect();
            if !GAP_WORDS.contains(&word.as_str()) {
                return false;
            }
            continue;
        }
        let ok = c.is_whitespace() || ",;/|:=()[]{}*_`->~≈.\"'".contains(c);
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

/// Coordinate pairs in prose, in text order, each marked when a "final answer" label precedes it.
fn prose_candidates(text: &str, european: bool) -> Vec<Candidate> {
    let chars: Vec<char> = text.chars().collect();
    let comps = scan(&chars, european);
    let mut pairs: Vec<(usize, usize, f64, f64)> = Vec::new();
    let mut i = 0;
    while i + 1 < comps.len() {
        let (a, b) = (&comps[i], &comps[i + 1]);
        let strong = (a.coordinate_like() && b.coordinate_like())
            || (a.pair_label && (b.decimal || b.degree));
        if strong && gap_ok(&chars[a.end..b.start]) {
            let lat_lon = match (a.axis(), b.axis()) {
                (Some(x), Some(y)) if x == y => None,
                (Some(Axis::Lon), _) | (_, Some(Axis::Lat)) => Some((b.signed(), a.signed())),
                _ => Some((a.signed(), b.signed())),
            };
            if let Some((lat, lon)) = lat_lon {
                pairs.push((a.start, b.end, lat, lon));
                i += 2;
                continue;
            }
        }
        i += 1;
    }
    if pairs.is_empty() {
        // Labelled halves far apart: "Latitude: about 48.85 (north of ...)\n...Longitude: 2.35".
        let last = |axis| {
            comps
                .iter()
                .rev()
                .find(|c| c.axis() == Some(axis) && (c.decimal || c.degree || c.hemi.is_some()))
        };
        if let (Some(a), Some(b)) = (last(Axis::Lat), last(Axis::Lon)) {
            pairs.push((
                a.start.min(b.start),
                a.end.max(b.end),
                a.signed(),
                b.signed(),
            ));
        }
    }
    let mut out = Vec::with_capacity(pairs.len());
    let mut floor = 0;
    for (start, end, lat, lon) in pairs {
        let from = start.saturating_sub(LABEL_WINDOW_CHARS).max(floor);
        let window: String = chars[from..start]
            .iter()
            .flat_map(|c| c.to_lowercase())
            .collect();
        let labelled = FINAL_LABELS.iter().any(|l| window.contains(l));
        out.push(Candidate {
            lat,
            lon,
            labelled,
            ..Candidate::default()
        });
        floor = end;
    }
    out
}

/// Country, confidence and rationale written as "Country: France" etc. in prose.
fn fill_prose_meta(text: &str, a: &mut ParsedAnswer) {
    if a.country.is_none() {
        a.country = labelled_value(text, &["country"], COUNTRY_MAX_CHARS, true);
    }
    if a.rationale.is_none() {
        a.rationale = labelled_value(
            text,
            &["rationale", "reasoning", "reason", "explanation"],
            RATIONALE_MAX_CHARS,
            false,
        );
    }
    if a.confidence.is_none() {
        if let Some(raw) = labelled_value(text, &["confidence"], COUNTRY_MAX_CHARS, false) {
            let raw = raw.trim_start_matches(['~', '≈']).trim();
            let number: String = raw
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '%' || *c == ' ')
                .collect();
            let number = number.trim();
            let value = if number.is_empty() {
                Value::String(raw.to_string())
            } else {
                Value::String(number.replace(' ', ""))
            };
            a.confidence = confidence_value(&value, &mut a.notes);
        }
    }
}

/// The text after the last `label:` (or `label -`, `**Label:**`) on its line; labels are ASCII
/// and matched case-insensitively.
fn labelled_value(text: &str, labels: &[&str], max: usize, stop_at_comma: bool) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        for (at, _) in line.char_indices() {
            let Some(label) = labels.iter().find(|l| {
                line.get(at..at + l.len())
                    .is_some_and(|s| s.eq_ignore_ascii_case(l))
            }) else {
                continue;
            };
            if line[..at]
                .chars()
                .next_back()
                .is_some_and(char::is_alphabetic)
            {
                continue;
            }
            let rest = line[at + label.len()..].trim_start_matches(['*', '_', ' ']);
            let Some(rest) = rest.strip_prefix([':', '=', '-']) else {
                continue;
            };
            let mut value = rest.trim_matches(|c: char| c == '*' || c == '_' || c.is_whitespace());
            if stop_at_comma {
                value = value
                    .split([',', ';', '(', '.'])
                    .next()
                    .unwrap_or("")
                    .trim();
            }
            let value = value.trim_matches(|c: char| c == '"' || c == '*' || c.is_whitespace());
            if !value.is_empty() && value.chars().count() <= max {
                found = Some(value.to_string());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-4;

    #[track_caller]
    fn at(text: &str, lat: f64, lon: f64) -> ParsedAnswer {
        let a = parse_answer(text).unwrap_or_else(|e| panic!("{text:?} failed: {e}"));
        assert!(
            (a.pos.lat - lat).abs() < EPS && (a.pos.lon - lon).abs() < EPS,
            "{text:?}: got {}, want {lat}, {lon} (notes {:?})",
            a.pos,
            a.notes
        );
        a
    }

    #[track_caller]
    fn fails(text: &str) -> ParseError {
        match parse_answer(text) {
            Ok(a) => panic!("{text:?} should fail, got {} ({:?})", a.pos, a.notes),
            Err(e) => e,
        }
    }

    // --- JSON shapes ---

    #[test]
    fn bare_json() {
        let a = at(
            r#"{"lat": 48.8566, "lon": 2.3522, "country": "FR", "confidence": 0.8, "rationale": "Haussmann buildings"}"#,
            48.8566,
            2.3522,
        );
        assert_eq!(a.country.as_deref(), Some("FR"));
        assert_eq!(a.confidence, Some(0.8));
        assert_eq!(a.rationale.as_deref(), Some("Haussmann buildings"));
        assert!(a.notes.is_empty(), "{:?}", a.notes);
    }

    #[test]
    fn fenced_json_after_reasoning() {
        let text = "1. Driving side: right.\n2. Signs: French.\n\nFinal answer:\n```json\n{\n  \"lat\": 45.764,\n  \"lon\": 4.8357,\n  \"country\": \"France\",\n  \"confidence\": 0.6\n}\n```";
        let a = at(text, 45.764, 4.8357);
        assert_eq!(a.country.as_deref(), Some("France"));
    }

    #[test]
    fn json_with_trailing_commas_and_comments() {
        at(
            "```json\n{\n  \"lat\": -33.8688, // Sydney\n  \"lon\": 151.2093, /* CBD */\n}\n```",
            -33.8688,
            151.2093,
        );
    }

    #[test]
    fn single_quoted_python_dict() {
        let a = at(
            "{'lat': 35.6762, 'lon': 139.6503, 'country': 'JP', 'confidence': None, 'rationale': 'It\\'s Japanese'}",
            35.6762,
            139.6503,
        );
        assert_eq!(a.confidence, None);
        assert_eq!(a.rationale.as_deref(), Some("It's Japanese"));
    }

    #[test]
    fn bare_keys_and_plus_signs() {
        at("{lat: +52.52, lng: +13.405, country: DE}", 52.52, 13.405);
    }

    #[test]
    fn last_json_object_wins() {
        let text = "First thought: {\"lat\": 40.4168, \"lon\": -3.7038}\nOn reflection the signs are Portuguese:\n{\"lat\": 38.7223, \"lon\": -9.1393}";
        let a = at(text, 38.7223, -9.1393);
        assert!(
            a.notes.iter().any(|n| n.contains("took the last")),
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn nested_answer_coordinates() {
        let a = at(
            r#"{"answer": {"coordinates": {"latitude": -1.2921, "longitude": 36.8219}, "country": "Kenya"}, "confidence": "70%"}"#,
            -1.2921,
            36.8219,
        );
        assert_eq!(a.country.as_deref(), Some("Kenya"));
        assert_eq!(a.confidence, Some(0.7));
    }

    #[test]
    fn key_variants() {
        at(
            r#"{"Latitude": 55.7558, "Longitude": 37.6173}"#,
            55.7558,
            37.6173,
        );
        at(r#"{"lat": 55.7558, "long": 37.6173}"#, 55.7558, 37.6173);
        at(r#"{"LAT": 55.7558, "LNG": 37.6173}"#, 55.7558, 37.6173);
        at(
            r#"{"latitude_deg": 55.7558, "longitude_deg": 37.6173}"#,
            55.7558,
            37.6173,
        );
    }

    #[test]
    fn numbers_as_strings() {
        at(
            r#"{"lat": "-22.9068", "lon": "-43.1729"}"#,
            -22.9068,
            -43.1729,
        );
        at(
            r#"{"lat": "22.9068 S", "lon": "43.1729° W"}"#,
            -22.9068,
            -43.1729,
        );
        at(
            r#"{"lat": "−22.9068", "lon": "−43.1729"}"#,
            -22.9068,
            -43.1729,
        );
    }

    #[test]
    fn coordinates_array_and_string() {
        at(
            r#"{"coordinates": [64.1466, -21.9426], "country": "IS"}"#,
            64.1466,
            -21.9426,
        );
        at(r#"{"coords": "64.1466, -21.9426"}"#, 64.1466, -21.9426);
        at(
            r#"{"location": {"lat": 64.1466, "lng": -21.9426}}"#,
            64.1466,
            -21.9426,
        );
    }

    #[test]
    fn geojson_point_is_lon_lat() {
        let a = at(
            r#"{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-58.3816, -34.6037]}}"#,
            -34.6037,
            -58.3816,
        );
        assert!(a.notes.iter().any(|n| n.contains("GeoJSON")));
    }

    #[test]
    fn final_key_beats_candidates() {
        let a = at(
            r#"{"candidates": [{"lat": 59.3293, "lon": 18.0686}, {"lat": 59.9139, "lon": 10.7522}],
                "final_answer": {"lat": 60.1699, "lon": 24.9384, "country": "FI"}}"#,
            60.1699,
            24.9384,
        );
        assert_eq!(a.country.as_deref(), Some("FI"));
        assert!(
            a.notes.iter().any(|n| n.contains("labelled")),
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn unlabelled_candidates_take_last() {
        at(
            r#"{"guesses_considered": [], "options": [{"lat": 1.3521, "lon": 103.8198}, {"lat": 3.139, "lon": 101.6869}]}"#,
            3.139,
            101.6869,
        );
    }

    #[test]
    fn top_level_beats_nested_alternatives() {
        at(
            r#"{"lat": 41.9028, "lon": 12.4964, "alternatives": [{"lat": 43.7696, "lon": 11.2558}]}"#,
            41.9028,
            12.4964,
        );
    }

    #[test]
    fn percent_and_word_confidence() {
        let a = at(r#"{"lat": 1.0, "lon": 2.0, "confidence": 85}"#, 1.0, 2.0);
        assert_eq!(a.confidence, Some(0.85));
        assert!(a.notes.iter().any(|n| n.contains("percentage")));
        let a = at(r#"{"lat": 1.0, "lon": 2.0, "confidence": "85%"}"#, 1.0, 2.0);
        assert_eq!(a.confidence, Some(0.85));
        let a = at(
            r#"{"lat": 1.0, "lon": 2.0, "confidence": "high"}"#,
            1.0,
            2.0,
        );
        assert_eq!(a.confidence, Some(0.75));
        let a = at(r#"{"lat": 1.0, "lon": 2.0, "confidence": 250}"#, 1.0, 2.0);
        assert_eq!(a.confidence, None);
    }

    #[test]
    fn json_with_degree_signs_and_unquoted_newlines() {
        at(
            "{\"lat\": 48.85°, \"lon\": 2.35°, \"rationale\": \"line one\nline two\"}",
            48.85,
            2.35,
        );
    }

    #[test]
    fn smart_quoted_json() {
        at("{“lat”: 50.0755, “lon”: 14.4378}", 50.0755, 14.4378);
    }

    #[test]
    fn swapped_json_values() {
        let a = at(r#"{"lat": 139.6917, "lon": 35.6895}"#, 35.6895, 139.6917);
        assert!(
            a.notes.iter().any(|n| n.contains("swapped")),
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn wrapped_longitude() {
        let a = at(r#"{"lat": -17.7134, "lon": 181.5}"#, -17.7134, -178.5);
        assert!(
            a.notes.iter().any(|n| n.contains("wrapped")),
            "{:?}",
            a.notes
        );
        at(r#"{"lat": 40.0, "lon": 286.0}"#, 40.0, -74.0);
    }

    // --- Prose shapes ---

    #[test]
    fn labelled_prose() {
        let a = at("Latitude: 48.85, Longitude: 2.35", 48.85, 2.35);
        assert!(a.notes[0].contains("prose"));
        at("**Latitude:** 48.85\n**Longitude:** 2.35", 48.85, 2.35);
        at("- Lat: -34.6037\n- Lng: -58.3816", -34.6037, -58.3816);
        at("lat = 19.4326, lon = -99.1332", 19.4326, -99.1332);
    }

    #[test]
    fn longitude_before_latitude() {
        at("Longitude: 2.35, Latitude: 48.85", 48.85, 2.35);
        at("139.69° E, 35.68° N", 35.68, 139.69);
    }

    #[test]
    fn parenthesised_pair() {
        at("I think this is Paris (48.8566, 2.3522).", 48.8566, 2.3522);
        at("Coordinates: [-33.9249, 18.4241]", -33.9249, 18.4241);
        at("Lat/Lon: 47.4979, 19.0402", 47.4979, 19.0402);
    }

    #[test]
    fn hemisphere_letters_and_words() {
        at("my final answer is 35.68° N, 139.69° E", 35.68, 139.69);
        at("Somewhere around 33.87 S 151.21 E.", -33.87, 151.21);
        at("33.87 degrees south, 151.21 degrees east", -33.87, 151.21);
        at("N 40.7128, W 74.0060", 40.7128, -74.006);
        at("12.97N 77.59E", 12.97, 77.59);
    }

    #[test]
    fn degrees_minutes_seconds() {
        at("48°51'24\"N 2°21'08\"E", 48.856_667, 2.352_222);
        at("48° 51.4′ N, 2° 21.1′ E", 48.856_667, 2.351_667);
        at("33°52′04″S, 151°12′26″E", -33.867_778, 151.207_222);
        at("22°54'24''S 43°10'21''W", -22.906_667, -43.1725);
    }

    #[test]
    fn unicode_minus_in_prose() {
        at("Final answer: (−34.6037, −58.3816)", -34.6037, -58.3816);
    }

    #[test]
    fn european_decimal_commas() {
        let a = at(
            "Breitengrad: 48,1372; Längengrad: 11,5756",
            48.1372,
            11.5756,
        );
        assert!(
            a.notes.iter().any(|n| n.contains("decimal")),
            "{:?}",
            a.notes
        );
        at("Coordonnées : 48,8566 N ; 2,3522 E", 48.8566, 2.3522);
        at("(52,3676, 4,9041)", 52.3676, 4.9041);
    }

    #[test]
    fn final_labelled_candidate_wins_over_later_ones() {
        let text = "Candidates: Lisbon (38.7223, -9.1393) or Porto (41.1579, -8.6291).\n\nFinal answer: Porto at (41.1579, -8.6291)\n\nThough Lisbon (38.7223, -9.1393) remains possible.";
        let a = at(text, 41.1579, -8.6291);
        assert!(
            a.notes.iter().any(|n| n.contains("labelled")),
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn last_prose_candidate_without_label() {
        at(
            "It could be Lima (-12.0464, -77.0428), but the vegetation fits Quito better (-0.1807, -78.4678).",
            -0.1807,
            -78.4678,
        );
    }

    #[test]
    fn swapped_prose_pair() {
        let a = at("(151.2093, -33.8688)", -33.8688, 151.2093);
        assert!(a.notes.iter().any(|n| n.contains("swapped")));
    }

    #[test]
    fn prose_meta_fields() {
        let a = at(
            "Country: Brazil\nConfidence: 65%\nRationale: Portuguese signs, red soil.\nLatitude: -15.79, Longitude: -47.88",
            -15.79,
            -47.88,
        );
        assert_eq!(a.country.as_deref(), Some("Brazil"));
        assert_eq!(a.confidence, Some(0.65));
        assert_eq!(a.rationale.as_deref(), Some("Portuguese signs, red soil."));
        let a = at(
            "**Country:** Chile (CL)\n**Confidence:** 0.4\nFinal: -33.45, -70.66",
            -33.45,
            -70.66,
        );
        assert_eq!(a.country.as_deref(), Some("Chile"));
        assert_eq!(a.confidence, Some(0.4));
    }

    #[test]
    fn ignores_distractor_numbers() {
        // Clue paragraphs mention headings, years, counts and speeds before the answer.
        let text = "View 1 (heading 90°) shows 2 lanes and a 50 km/h sign from 2019. \
                    Chevrons are black on yellow.\nAnswer: 59.437, 24.7536";
        at(text, 59.437, 24.7536);
    }

    #[test]
    fn chain_of_thought_with_fenced_json_and_prose_numbers() {
        let text = "## Clues\n1. Driving side: left (view 2 at heading 180°).\n2. Script: Thai.\n\
                    Bangkok is at roughly 13.75, 100.5 but the rice fields suggest Isan.\n\n\
                    ```json\n{\"lat\": 16.4419, \"lon\": 102.836, \"country\": \"TH\", \"confidence\": 0.55, \"rationale\": \"Thai script, left-hand traffic, paddies\"}\n```";
        let a = at(text, 16.4419, 102.836);
        assert_eq!(a.country.as_deref(), Some("TH"));
        assert!(a.notes.is_empty(), "{:?}", a.notes);
    }

    // --- Failures ---

    #[test]
    fn refusals_are_errors() {
        let e = fails("I'm sorry, but I can't determine the location from these images.");
        assert!(
            matches!(&e, ParseError::Refusal(q) if q.contains("can't determine")),
            "{e}"
        );
        assert!(matches!(
            fails("Unfortunately there is not enough information to pinpoint this."),
            ParseError::Refusal(_)
        ));
    }

    #[test]
    fn no_coordinates_is_an_error() {
        assert_eq!(
            fails("It's probably somewhere in France."),
            ParseError::NoCoordinates
        );
        assert_eq!(fails("   "), ParseError::Empty);
        // Plain integers are not coordinates: counts, years, headings without labels.
        assert_eq!(
            fails("I see 2 cars and 3 trees, photo from 2019, 4 views."),
            ParseError::NoCoordinates
        );
        assert_eq!(fails("Version 1.2.3 of the map"), ParseError::NoCoordinates);
    }

    #[test]
    fn null_json_coordinates_say_which_key() {
        let e = fails(r#"{"lat": null, "lon": null, "country": "unknown"}"#);
        assert!(
            matches!(&e, ParseError::NotANumber { key, .. } if key == "lat"),
            "{e}"
        );
        assert!(e.to_string().contains("\"lat\""), "{e}");
    }

    #[test]
    fn out_of_range_latitude() {
        let e = fails(r#"{"lat": 123.0, "lon": 145.0}"#);
        assert!(matches!(e, ParseError::OutOfRange { .. }), "{e}");
        assert!(e.to_string().contains("between -90 and 90"));
    }

    #[test]
    fn ambiguous_comma_pair_is_not_guessed() {
        // "(48,2)" could be 48°, 2° or 48.2: refuse rather than invent.
        assert_eq!(fails("Maybe (48,2)?"), ParseError::NoCoordinates);
    }

    #[test]
    fn relax_json_rewrites() {
        let v: Value = serde_json::from_str(&relax_json(
            "{'a': True, b: [1, 2,], /* c */ 'd': 'say \"hi\"', e: -1, f: NaN, # note\n}",
        ))
        .expect("valid after relaxing");
        assert_eq!(
            v,
            serde_json::json!({"a": true, "b": [1, 2], "d": "say \"hi\"", "e": -1, "f": null})
        );
    }
}
