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

mod json;
mod prose;
#[cfg(test)]
mod tests;
mod vocabulary;

pub(crate) use json::json_objects;

use crate::geo::{wrap_lon, LatLon};
use json::json_candidates;
use prose::{fill_prose_meta, prose_candidates};
use thiserror::Error;
use vocabulary::REFUSAL_PHRASES;

/// How much of a refusal is quoted back in the error.
const EXCERPT_CHARS: usize = 160;

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
pub(super) struct FoundPosition {
    pub(super) lat: f64,
    pub(super) lon: f64,
    /// Under a "final answer"-like label.
    pub(super) labelled: bool,
    /// Nesting depth in its JSON document (shallower is preferred); 0 for prose.
    pub(super) depth: usize,
    pub(super) country: Option<String>,
    pub(super) confidence: Option<f64>,
    pub(super) rationale: Option<String>,
    pub(super) notes: Vec<String>,
}

/// Picks the labelled candidate, else the shallowest, else the last; skips ones out of range.
fn choose(cands: Vec<FoundPosition>, what: &str) -> Result<ParsedAnswer, ParseError> {
    let total = cands.len();
    let labelled = cands.iter().filter(|c| c.labelled).count();
    let mut order: Vec<(usize, FoundPosition)> = cands.into_iter().enumerate().collect();
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
fn finish(c: FoundPosition) -> Result<ParsedAnswer, ParseError> {
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
