//! Property tests over the readers of outside input on the data side: people's result files (CSV
//! and JSON), replays made by someone else (`manifest.json`, `rounds.jsonl`), map packs
//! (`manifest.json`, `locations.csv`), photos' EXIF GPS and image bytes. The property: no panic,
//! and either a value or an error that names the file it came from.

use geoagent::game::integrity::{decode_clean, jpeg_is_complete, jpeg_metadata};
use geoagent::game::pack::{read_pack, PACK_COLUMNS, PACK_LOCATIONS, PACK_MANIFEST};
use geoagent::humans::{parse_csv, parse_json};
use geoagent::import::photos::gps_position;
use geoagent::replay::{Replay, MANIFEST_FILE, ROUNDS_FILE};
use proptest::prelude::*;
use std::path::Path;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Cell-like text: numbers of every size, empty, quotes, separators, other scripts and noise.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|f| f.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just(String::new()),
        "[a-z0-9 _-]{0,12}",
        "\\PC{0,16}",
        "\"[^\"]{0,8}\"",
        Just("5001".to_string()),
        Just("-0".to_string()),
        Just("NaN".to_string()),
        Just("1e308".to_string()),
    ]
}

fn csv_text(header: Vec<&'static str>) -> impl Strategy<Value = String> {
    let width = header.len();
    prop::collection::vec(prop::collection::vec(cell(), 0..width + 2), 0..6).prop_map(move |rows| {
        let mut text = header.join(",");
        for r in rows {
            text.push('\n');
            text.push_str(&r.join(","));
        }
        text
    })
}

const HUMAN_COLUMNS: [&str; 9] = [
    "challenge",
    "round",
    "player",
    "points",
    "distance_km",
    "time_s",
    "lat",
    "lng",
    "location_id",
];

fn names_source(err: &impl std::fmt::Display, source: &str) -> bool {
    err.to_string().contains(source)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn human_csv_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        match parse_csv("people.csv", &bytes[..]) {
            Ok(imp) => {
                for r in &imp.rounds {
                    prop_assert!(r.points <= 5000 && r.round >= 1);
                }
                for p in &imp.problems {
                    prop_assert!(names_source(p, "people.csv"), "{p}");
                }
            }
            Err(e) => prop_assert!(names_source(&e, "people.csv"), "{e}"),
        }
    }

    #[test]
    fn human_csv_real_columns_any_values(text in csv_text(HUMAN_COLUMNS.to_vec())) {
        match parse_csv("people.csv", text.as_bytes()) {
            Ok(imp) => {
                for r in &imp.rounds {
                    prop_assert!(r.points <= 5000 && r.round >= 1);
                    prop_assert!(r.distance_km.is_none_or(|d| d.is_finite() && d >= 0.0));
                }
                for p in &imp.problems {
                    prop_assert!(names_source(p, "people.csv"), "{p}");
                }
            }
            Err(e) => prop_assert!(names_source(&e, "people.csv"), "{e}"),
        }
    }

    #[test]
    fn human_json_any_shape(
        rows in prop::collection::vec(
            prop::collection::btree_map(
                prop::sample::select(HUMAN_COLUMNS.to_vec()),
                prop_oneof![
                    cell().prop_map(serde_json::Value::from),
                    any::<f64>().prop_map(serde_json::Value::from),
                    any::<i64>().prop_map(serde_json::Value::from),
                    Just(serde_json::Value::Null),
                    Just(serde_json::json!([1, 2])),
                ],
                0..9,
            ),
            0..5,
        ),
        noise in "\\PC{0,40}",
    ) {
        let text = serde_json::to_string(&rows).unwrap();
        for input in [text.as_str(), noise.as_str()] {
            match parse_json("people.json", input) {
                Ok(imp) => {
                    for r in &imp.rounds {
                        prop_assert!(r.points <= 5000 && r.round >= 1);
                    }
                }
                Err(e) => prop_assert!(names_source(&e, "people.json"), "{e}"),
            }
        }
    }

    #[test]
    fn exif_gps_and_image_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = gps_position(&bytes);
        let _ = jpeg_is_complete(&bytes);
        let _ = jpeg_metadata(&bytes);
        // A JPEG start makes the decoder go further in.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF];
        jpeg.extend_from_slice(&bytes);
        let _ = gps_position(&jpeg);
        let _ = jpeg_metadata(&jpeg);
        if let Err(e) = decode_clean(Path::new("photo.jpg"), &jpeg) {
            prop_assert!(names_source(&e, "photo.jpg"), "{e}");
        }
    }
}

proptest! {
    // Each case writes files: fewer cases, same property.
    #![proptest_config(config(64))]

    #[test]
    fn replay_files_any_content(
        manifest in prop_oneof![
            Just(r#"{"format_version":1}"#.to_string()),
            Just(r#"{"format_version":999,"session_id":"x"}"#.to_string()),
            "\\PC{0,64}",
        ],
        rounds in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST_FILE), manifest).unwrap();
        std::fs::write(dir.path().join(ROUNDS_FILE), &rounds).unwrap();
        if let Err(e) = Replay::open(dir.path()) {
            let msg = e.to_string();
            prop_assert!(
                msg.contains(MANIFEST_FILE) || msg.contains(ROUNDS_FILE) || msg.contains(&dir.path().display().to_string()),
                "{msg}"
            );
        }
    }

    #[test]
    fn map_pack_any_content(
        manifest in prop_oneof![
            Just(r#"{"format_version":1,"id":"p","name":"P","synthetic":false,"size_km":null,"view":null,"attribution":null}"#.to_string()),
            "\\PC{0,64}",
        ],
        locations in csv_text(PACK_COLUMNS.to_vec()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PACK_MANIFEST), manifest).unwrap();
        std::fs::write(dir.path().join(PACK_LOCATIONS), locations).unwrap();
        if let Err(e) = read_pack(dir.path()) {
            let msg = e.to_string();
            prop_assert!(
                msg.contains(PACK_MANIFEST) || msg.contains(PACK_LOCATIONS) || msg.contains(&dir.path().display().to_string()),
                "{msg}"
            );
        }
    }
}
