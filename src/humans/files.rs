//! Result files people bring: CSV and JSON rows in the import format (see the module docs).

use super::*;

const REQUIRED: [&str; 4] = ["challenge", "round", "player", "points"];

/// Builds a round from named fields; the error says which field is wrong and why.
fn row_from(source: &str, get: impl Fn(&str) -> Option<String>) -> Result<HumanRound, String> {
    let text = |k: &str| {
        get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let required = |k: &str| text(k).ok_or_else(|| format!("{k} is empty"));
    let number = |k: &str| -> Result<Option<f64>, String> {
        match text(k) {
            None => Ok(None),
            Some(v) => match v.parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
                _ => Err(format!("{k} '{v}' is not a non-negative number")),
            },
        }
    };
    let challenge_id = required("challenge")?;
    let round_text = required("round")?;
    let round = match round_text.parse::<usize>() {
        Ok(r) if r >= 1 => r,
        _ => {
            return Err(format!(
                "round '{round_text}' is not a round number (1, 2, ...)"
            ))
        }
    };
    let player = required("player")?;
    let points_text = required("points")?;
    let points = match points_text.parse::<f64>() {
        Ok(p) if p.fract() == 0.0 && (0.0..=f64::from(MAX_POINTS)).contains(&p) => p as u32,
        _ => {
            return Err(format!(
                "points '{points_text}' is not a whole number 0..={MAX_POINTS}"
            ))
        }
    };
    let truth = match (number_signed(&text, "lat")?, number_signed(&text, "lng")?) {
        (Some(lat), Some(lng)) => Some(LatLon::new(lat, lng).map_err(|e| format!("lat/lng: {e}"))?),
        (None, None) => None,
        _ => return Err("lat and lng must be given together".into()),
    };
    Ok(HumanRound {
        source: source.to_owned(),
        challenge_id,
        round,
        location_id: text("location_id"),
        truth,
        player,
        points,
        distance_km: number("distance_km")?,
        time_s: number("time_s")?,
        guess: None,
    })
}

fn number_signed(text: &impl Fn(&str) -> Option<String>, k: &str) -> Result<Option<f64>, String> {
    match text(k) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("{k} '{v}' is not a number")),
    }
}

/// Imports CSV text (see the module doc for the columns). `source` names it in problems.
pub fn parse_csv(source: &str, input: impl Read) -> Result<Import, HumansError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| HumansError::Format {
            path: source.into(),
            detail: e.to_string(),
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        return Err(HumansError::Header {
            path: source.into(),
            missing: missing.join(", "),
        });
    }
    let index: HashMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    let mut out = Import::default();
    for (i, rec) in rdr.records().enumerate() {
        // Header is line 1; a record's own position is exact even with quoted newlines.
        let fallback = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let row = e.position().map(|p| p.line() as usize).unwrap_or(fallback);
                out.problems.push(RowProblem {
                    file: source.into(),
                    row,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let row = rec
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or(fallback);
        let get = |k: &str| index.get(k).and_then(|&i| rec.get(i)).map(str::to_owned);
        match row_from(source, get) {
            Ok(r) => out.rounds.push(r),
            Err(message) => out.problems.push(RowProblem {
                file: source.into(),
                row,
                message,
            }),
        }
    }
    Ok(out)
}

/// Imports a JSON array of row objects (same keys as the CSV columns).
pub fn parse_json(source: &str, text: &str) -> Result<Import, HumansError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| HumansError::Format {
        path: source.into(),
        detail: format!("not JSON: {e}"),
    })?;
    let rows = value.as_array().ok_or_else(|| HumansError::Format {
        path: source.into(),
        detail: "expected a JSON array of row objects".into(),
    })?;
    let mut out = Import::default();
    for (i, v) in rows.iter().enumerate() {
        let row = i + 1;
        let Some(obj) = v.as_object() else {
            out.problems.push(RowProblem {
                file: source.into(),
                row,
                message: "not an object".into(),
            });
            continue;
        };
        let get = |k: &str| {
            obj.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .and_then(|(_, v)| match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
        };
        match row_from(source, get) {
            Ok(r) => out.rounds.push(r),
            Err(message) => out.problems.push(RowProblem {
                file: source.into(),
                row,
                message,
            }),
        }
    }
    Ok(out)
}

/// Imports a file by its extension: `.csv`, `.json` (array of rows) or `.jsonl` (a [`Store`]).
pub(crate) fn import_file(path: &Path) -> Result<Import, HumansError> {
    let name = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => parse_csv(&name, File::open(path).map_err(HumansError::Io)?),
        Some("json") => parse_json(&name, &fs::read_to_string(path).map_err(HumansError::Io)?),
        Some("jsonl") => Ok(Import {
            rounds: Store::open(path).load()?,
            ..Import::default()
        }),
        _ => Err(HumansError::FileType { path: name }),
    }
}
