//! Property tests over the game server's JSON bodies (issue 13): whatever a client sends to
//! `POST /api/games` or `POST /api/games/{id}/guess`, the server answers a 2xx or a 4xx whose
//! message names the field or the body, never a 500, a panic or a hang, and keeps serving.

use super::api::{parse_guess, parse_player, parse_rounds, parse_seed};
use super::*;
use crate::game::{Imagery, Location, Map};
use crate::geo::{Bounds, LatLon};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Arbitrary JSON values, a few levels deep, with the numbers and strings that break parsers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(1e300)),
        Just(json!(-0.0)),
        "\\PC{0,30}".prop_map(Value::from),
        Just(Value::from("18446744073709551616")),
        Just(Value::from(" 42 ")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("\\PC{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A game body: the known fields with arbitrary values, sometimes an unknown one.
fn game_body() -> impl Strategy<Value = Vec<u8>> {
    let fields = proptest::sample::select(vec!["map", "seed", "rounds", "player", "extra"]);
    prop_oneof![
        proptest::collection::btree_map(fields, json_value(), 0..5)
            .prop_map(|m| serde_json::to_vec(&m).unwrap()),
        proptest::collection::vec(any::<u8>(), 0..64),
        "\\PC{0,40}".prop_map(String::into_bytes),
    ]
}

fn guess_body() -> impl Strategy<Value = Vec<u8>> {
    let fields = proptest::sample::select(vec!["lat", "lon", "lng"]);
    prop_oneof![
        proptest::collection::btree_map(fields, json_value(), 0..4)
            .prop_map(|m| serde_json::to_vec(&m).unwrap()),
        (-200.0f64..200.0, -400.0f64..400.0)
            .prop_map(|(lat, lon)| format!(r#"{{"lat":{lat},"lon":{lon}}}"#).into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn field_parsers_never_panic_and_name_the_field(v in json_value(), body in guess_body()) {
        for (name, r) in [
            ("seed", parse_seed(&v).map(drop)),
            ("rounds", parse_rounds(&v).map(drop)),
            ("player", parse_player(&v).map(drop)),
        ] {
            if let Err(e) = r {
                prop_assert!(e.to_string().contains(name), "{name}: {e}");
            }
        }
        if let Err(e) = parse_guess(&body) {
            let msg = e.to_string();
            prop_assert!(msg.contains("guess") || msg.contains("lat") || msg.contains("lon"), "{msg}");
        }
    }
}

fn small_map() -> Map {
    let locations = (0..4)
        .map(|i| Location {
            id: format!("p{i}"),
            pos: LatLon::new(10.0 * f64::from(i), 20.0).unwrap(),
            country: None,
            place: None,
            imagery: Imagery::Generated,
        })
        .collect();
    Map {
        id: "small".into(),
        name: "Small".into(),
        synthetic: true,
        size_km: 5000.0,
        view: Bounds::WORLD,
        attribution: None,
        locations,
    }
}

/// Bodies sent to a real server on loopback: the answer is a 2xx or a 4xx with a JSON error
/// naming what to fix, and the server still creates games afterwards.
#[test]
fn the_running_server_answers_any_body_with_2xx_or_a_named_4xx() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let state = AppState::new(vec![Arc::new(small_map())]);
    let server = rt.block_on(start_local(state)).unwrap();
    let base = server.url();
    let http = reqwest::Client::new();
    let post = |path: String, body: Vec<u8>| {
        rt.block_on(async {
            let r = http
                .post(format!("{base}{path}"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        })
    };
    let (status, text) = post("/api/games".into(), b"{}".to_vec());
    assert_eq!(status, 201, "{text}");
    let game: Value = serde_json::from_str(&text).unwrap();
    let game_id = game["game_id"].as_str().unwrap().to_string();

    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(96));
    runner
        .run(&(game_body(), guess_body()), |(create, guess)| {
            let (status, text) = post("/api/games".into(), create);
            prop_assert!(
                status == 201 || (400..500).contains(&status),
                "create: {status} {text}"
            );
            if status != 201 {
                prop_assert!(
                    text.contains("error"),
                    "create error without a message: {text}"
                );
            }
            let (status, text) = post(format!("/api/games/{game_id}/guess"), guess);
            prop_assert!(
                status == 200 || (400..500).contains(&status),
                "guess: {status} {text}"
            );
            Ok(())
        })
        .unwrap();
    let (status, text) = post("/api/games".into(), b"{}".to_vec());
    assert_eq!(status, 201, "still serving: {text}");
    rt.block_on(server.shutdown()).unwrap();
}
