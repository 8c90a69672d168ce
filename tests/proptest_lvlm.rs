//! Property tests over every reader of outside input on the model side: `Retry-After` and the
//! providers' rate-limit headers, each provider's success body (arbitrary bytes, arbitrary JSON,
//! and real shapes with arbitrary values), and the model's answer text. The property: no panic,
//! and either a value (within its caps) or an error that names what was wrong.

use geoagent::agent::parse::parse_answer;
use geoagent::lvlm::limit::{exhausted_wait, parse_go_duration, parse_reset, MAX_RESET};
use geoagent::lvlm::retry::{parse_retry_after, MAX_RETRY_AFTER};
use geoagent::lvlm::ProviderKind;
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

const KINDS: [ProviderKind; 5] = [
    ProviderKind::OpenAi,
    ProviderKind::OpenAiResponses,
    ProviderKind::Anthropic,
    ProviderKind::Gemini,
    ProviderKind::Ollama,
];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Header-like text: numbers of every size and sign, units, dates, and noise.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|f| f.to_string()),
        any::<u128>().prop_map(|n| n.to_string()),
        (any::<u64>(), "(h|m|s|ms|us|µs|ns|d|x|)").prop_map(|(n, u)| format!("{n}{u}")),
        (any::<u32>(), any::<u32>(), "(h|m|s|ms)").prop_map(|(a, b, u)| format!("{a}.{b}{u}")),
        "[0-9]{1,30}(\\.[0-9]{0,12})?(h|m|s|ms|µs|ns){0,1}([0-9]{1,25}(h|m|s|ms)){0,3}",
        "[A-Za-z]{3}, [0-9]{1,2} [A-Za-z]{3} [0-9]{1,5} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
        "\\PC{0,40}",
    ]
}

fn now() -> impl Strategy<Value = SystemTime> {
    (0u64..=8_000_000_000).prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "\\PC{0,8}",
                    Just("type".to_string()),
                    Just("text".to_string()),
                    Just("content".to_string()),
                    Just("error".to_string()),
                    Just("message".to_string()),
                    Just("parts".to_string()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Real answer shapes of each provider with arbitrary values in their fields.
fn shaped_body() -> impl Strategy<Value = Value> {
    (json_value(), json_value(), json_value(), json_value()).prop_flat_map(|(a, b, c, d)| {
        prop_oneof![
            Just(json!({"choices": [{"message": {"content": a.clone(), "refusal": b.clone()}, "finish_reason": c.clone()}], "usage": d.clone(), "error": a.clone()})),
            Just(json!({"type": a.clone(), "content": [{"type": "text", "text": b.clone()}, {"type": "thinking", "thinking": c.clone()}], "stop_reason": d.clone(), "error": {"type": b.clone()}})),
            Just(json!({"type": "error", "error": {"type": a.clone(), "message": b.clone()}})),
            Just(json!({"candidates": [{"content": {"parts": [{"text": a.clone(), "thought": b.clone()}]}, "finishReason": c.clone()}], "promptFeedback": {"blockReason": d.clone(), "blockReasonMessage": a.clone()}, "usageMetadata": b.clone()})),
            Just(json!({"message": {"content": a.clone(), "thinking": b.clone()}, "error": c.clone(), "eval_count": d.clone()})),
            Just(json!({"status": a.clone(), "output": [{"type": "message", "content": [{"type": b.clone(), "text": c.clone(), "refusal": d.clone()}]}], "incomplete_details": a.clone(), "usage": {"input_tokens": b.clone()}})),
        ]
    })
}

/// Checks one decode: an answer with text, or an error that says something.
fn check_decode(kind: ProviderKind, body: &[u8]) {
    match kind.decode_answer(body) {
        Ok(r) => assert!(
            !r.text.trim().is_empty(),
            "{kind:?}: an answer without text"
        ),
        Err(e) => assert!(!e.to_string().trim().is_empty(), "{kind:?}: a silent error"),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn retry_after_never_panics_and_is_capped(value in header_text(), now in now()) {
        if let Some(d) = parse_retry_after(&value, now) {
            prop_assert!(d <= MAX_RETRY_AFTER, "{value:?} -> {d:?}");
        }
    }

    #[test]
    fn reset_headers_never_panic_and_are_capped(value in header_text(), now in now()) {
        if let Some(d) = parse_reset(&value, now) {
            prop_assert!(d <= MAX_RESET, "{value:?} -> {d:?}");
        }
        if let Some(d) = parse_go_duration(&value) {
            prop_assert!(d <= MAX_RESET, "{value:?} -> {d:?}");
        }
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert("x-ratelimit-remaining-requests", HeaderValue::from_static("0"));
            h.insert("x-ratelimit-reset-requests", v.clone());
            h.insert("anthropic-ratelimit-tokens-remaining", HeaderValue::from_static("0"));
            h.insert("anthropic-ratelimit-tokens-reset", v);
        }
        if let Some(d) = exhausted_wait(&h, now) {
            prop_assert!(d <= MAX_RESET);
        }
    }

    #[test]
    fn provider_bodies_of_arbitrary_bytes_decode_or_say_why(body in prop::collection::vec(any::<u8>(), 0..256)) {
        for kind in KINDS {
            check_decode(kind, &body);
        }
    }

    #[test]
    fn provider_bodies_of_arbitrary_json_decode_or_say_why(v in json_value()) {
        let body = v.to_string();
        for kind in KINDS {
            check_decode(kind, body.as_bytes());
        }
    }

    #[test]
    fn provider_shaped_bodies_with_arbitrary_values_decode_or_say_why(v in shaped_body()) {
        let body = v.to_string();
        for kind in KINDS {
            check_decode(kind, body.as_bytes());
        }
    }

    #[test]
    fn model_answers_parse_or_say_why(
        text in prop_oneof![
            "\\PC{0,300}",
            (any::<f64>(), any::<f64>(), "\\PC{0,40}").prop_map(|(lat, lon, c)| {
                format!("Reasoning.\n```json\n{{\"lat\": {lat}, \"lon\": {lon}, \"country\": {c:?}}}\n```")
            }),
            ("[0-9.eE+-]{1,30}", "[0-9.eE+-]{1,30}").prop_map(|(lat, lon)| {
                format!("{{\"lat\": {lat}, \"lon\": {lon}, \"confidence\": {lat}}}")
            }),
            ("\\PC{0,20}", "[NSEW°'\" 0-9.,-]{0,40}").prop_map(|(a, b)| format!("{a} Coordinates: {b}")),
        ]
    ) {
        match parse_answer(&text) {
            Ok(a) => {
                prop_assert!(a.pos.lat.is_finite() && (-90.0..=90.0).contains(&a.pos.lat), "{text:?}");
                prop_assert!(a.pos.lon.is_finite() && (-180.0..=180.0).contains(&a.pos.lon), "{text:?}");
                if let Some(c) = a.confidence {
                    prop_assert!((0.0..=1.0).contains(&c), "{text:?} confidence {c}");
                }
            }
            Err(e) => prop_assert!(!e.to_string().trim().is_empty()),
        }
    }
}
