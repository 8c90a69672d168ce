//! The prose reader: numbers with degree signs, minutes and seconds, hemisphere letters or words
//! and `latitude:`/`longitude:` labels, paired up into coordinates; plus the country, confidence
//! and rationale written as `Label: value` lines.

use super::vocabulary::{
    confidence_value, DEGREE_MARKS, FINAL_LABELS, GAP_WORDS, LAT_WORDS, LON_WORDS, MINUS_SIGNS,
    MINUTE_MARKS, SECOND_MARKS,
};
use super::{FoundPosition, ParsedAnswer};
use serde_json::Value;

/// How far (characters) before a prose coordinate pair to look for a "final answer" label:
/// about two lines, enough for "### Final answer\n\n**Coordinates:**".
const LABEL_WINDOW_CHARS: usize = 160;
/// Longest text allowed between the two halves of a prose pair, enough for
/// `°N,\n**Longitude:** approximately ` but not for a sentence in between.
const PAIR_GAP_CHARS: usize = 48;
/// How far before a number to look for its `latitude:`/`longitude:` label.
const AXIS_LABEL_WINDOW_CHARS: usize = 40;
/// Longest country name taken from prose ("Country: ..."); longer means it caught a sentence.
const COUNTRY_MAX_CHARS: usize = 60;
/// Longest rationale taken from a `Rationale:` line in prose.
const RATIONALE_MAX_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Axis {
    Lat,
    Lon,
}

/// One number that may be half of a coordinate pair.
#[derive(Debug, Clone)]
pub(super) struct Comp {
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
    pub(super) fn axis(&self) -> Option<Axis> {
        match self.hemi {
            Some('N' | 'S') => Some(Axis::Lat),
            Some(_) => Some(Axis::Lon),
            None => self.label,
        }
    }

    pub(super) fn signed(&self) -> f64 {
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
pub(super) fn scan(chars: &[char], european: bool) -> Vec<Comp> {
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
pub(super) fn prose_candidates(text: &str, european: bool) -> Vec<FoundPosition> {
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
        out.push(FoundPosition {
            lat,
            lon,
            labelled,
            ..FoundPosition::default()
        });
        floor = end;
    }
    out
}

/// Country, confidence and rationale written as "Country: France" etc. in prose.
pub(super) fn fill_prose_meta(text: &str, a: &mut ParsedAnswer) {
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
