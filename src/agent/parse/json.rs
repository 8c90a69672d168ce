//! The JSON reader: finds every `{...}` in an answer, rewrites the relaxed syntax models write
//! into strict JSON, and searches the result for coordinates and the fields beside them.

use super::prose::{prose_candidates, scan, Axis};
use super::vocabulary::{
    confidence_value, CONFIDENCE_KEYS, COUNTRY_KEYS, JSON_LABEL_KEYS, LAT_KEYS, LON_KEYS,
    PAIR_KEYS, RATIONALE_KEYS,
};
use super::{FoundPosition, ParseError};
use serde_json::{Map, Value};

fn norm_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// All JSON-ish objects in the text that parse, outermost first, in text order.
pub(super) fn json_candidates(text: &str, problems: &mut Vec<ParseError>) -> Vec<FoundPosition> {
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
pub(crate) fn json_objects(text: &str) -> Vec<Value> {
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
pub(super) fn matching_brace(text: &str, open: usize) -> Option<usize> {
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
pub(super) fn relax_json(src: &str) -> String {
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
    out: &mut Vec<FoundPosition>,
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
) -> FoundPosition {
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
    FoundPosition {
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
