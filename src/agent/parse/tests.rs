//! Answers as models write them, read end to end through [`parse_answer`].

use super::json::relax_json;
use super::*;
use serde_json::Value;

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
