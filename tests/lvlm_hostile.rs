//! Hostile model servers, one local server per provider: answers that echo the API key in a 200
//! (error objects, refusals, block messages, the answer text itself, with and without JSON
//! escapes), a rejected key (401/403 and Anthropic's in-body `authentication_error`), Anthropic's
//! in-body `overloaded_error` (on a 200 and on a 529), absurd `Retry-After` and rate-limit
//! reset numbers, identical requests in flight through the response cache, and the embeddings
//! client quoting a 401 that echoes the key. Every case failed before its fix.

mod common;

#[path = "common/anthropic_server.rs"]
mod anthropic_server;
#[path = "common/gemini_server.rs"]
mod gemini_server;
#[path = "common/ollama_server.rs"]
mod ollama_server;
#[path = "common/responses_server.rs"]
mod responses_server;
#[path = "common/scripted_server.rs"]
mod scripted_server;

use axum::http::StatusCode;
use common::openai_server::{self, OpenAiServer, ServerOptions};
use geoagent::agent::prompt::PromptSet;
use geoagent::agent::reasoner::{LvlmReasoner, ReasonerOptions};
use geoagent::agent::{GuessSource, Reasoner};
use geoagent::environment::{Observation, View};
use geoagent::geo::{Bounds, LatLon};
use geoagent::index::embed::{Embedder, HttpEmbedder};
use geoagent::lvlm::factory::build_client;
use geoagent::lvlm::limit::Limiter;
use geoagent::lvlm::retry::RetryPolicy;
use geoagent::lvlm::{
    build_provider, ClientConfig, LvlmError, Message, Part, Provider, ProviderKind, ProviderSpec,
    Request, Role,
};
use scripted_server::{jpeg, Reply, ScriptedServer};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "sk-hostile-0123456789-never-print";
/// The key as a JSON string escape would hide it from a plain text search (`s` as `\u0073`).
const ESCAPED_KEY: &str = "\\u0073k-hostile-0123456789-never-print";
const MODEL: &str = "vision-test";
const MAX_DELAY: Duration = Duration::from_millis(100);

async fn server(kind: ProviderKind) -> ScriptedServer {
    match kind {
        ProviderKind::Anthropic => anthropic_server::start(KEY).await,
        ProviderKind::Gemini => gemini_server::start(KEY).await,
        ProviderKind::Ollama => ollama_server::start().await,
        ProviderKind::OpenAiResponses => responses_server::start(KEY).await,
        ProviderKind::OpenAi => unreachable!("the OpenAI server is separate"),
    }
}

fn base_url(kind: ProviderKind, origin: &str) -> String {
    match kind {
        ProviderKind::Anthropic | ProviderKind::OpenAiResponses => format!("{origin}/v1"),
        ProviderKind::Gemini => format!("{origin}/v1beta"),
        ProviderKind::Ollama => origin.to_string(),
        ProviderKind::OpenAi => format!("{origin}/v1"),
    }
}

fn config(kind: ProviderKind, origin: &str, key: &str) -> ClientConfig {
    let mut c = ClientConfig::new(base_url(kind, origin), MODEL);
    c.api_key = Some(SecretString::from(key.to_string()));
    c.request_timeout = Duration::from_secs(5);
    c.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(1),
        max_delay: MAX_DELAY,
    };
    c.limiter = Arc::new(Limiter::unlimited());
    c
}

fn client(kind: ProviderKind, origin: &str) -> Arc<dyn Provider> {
    build_client(kind, config(kind, origin, KEY)).expect("valid config")
}

async fn openai() -> OpenAiServer {
    OpenAiServer::start(ServerOptions {
        api_key: Some(KEY.to_string()),
    })
    .await
}

fn request() -> Request {
    Request {
        messages: vec![Message {
            role: Role::User,
            parts: vec![
                Part::Text {
                    text: "Where was this taken?".into(),
                },
                Part::Image {
                    jpeg: jpeg(16, 8, [40, 120, 200]),
                },
            ],
        }],
        max_tokens: 300,
        ..Request::default()
    }
}

/// A 200 with exactly `body` from the scripted servers.
fn raw(body: Value) -> Reply {
    Reply::Raw(body)
}

/// A 200 with exactly `body` from the OpenAI server.
fn openai_raw(body: Value) -> openai_server::Reply {
    openai_server::Reply::Status {
        code: 200,
        retry_after: None,
        body: body.to_string(),
    }
}

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(KEY) && !text.contains("never-print"),
        "{what}: the key leaked: {text}"
    );
}

/// Everything shown or stored from one outcome: Display, Debug, and the answer text.
fn check_outcome(what: &str, outcome: &Result<geoagent::lvlm::Response, LvlmError>) {
    match outcome {
        Ok(r) => {
            assert_clean(what, &r.text);
            assert_clean(what, &format!("{r:?}"));
            assert!(r.text.contains("[redacted]"), "{what}: {}", r.text);
        }
        Err(e) => {
            assert_clean(what, &e.to_string());
            assert_clean(what, &format!("{e:?}"));
            assert!(e.to_string().contains("[redacted]"), "{what}: {e}");
        }
    }
}

/// Each provider's 200 bodies that carry text from the server: the key appears plainly and
/// JSON-escaped, in error objects, refusals, block messages and the answer itself.
fn echoing_bodies(kind: ProviderKind, key: &str) -> Vec<(&'static str, Value)> {
    let said = format!("your key {key} is wrong");
    match kind {
        ProviderKind::Anthropic => vec![
            (
                "error body",
                json!({"type": "error", "error": {"type": "invalid_request_error", "message": said}}),
            ),
            (
                "refusal text",
                json!({"type": "message", "content": [{"type": "text", "text": said}], "stop_reason": "refusal"}),
            ),
            (
                "answer text",
                json!({"type": "message", "content": [{"type": "text", "text": said}], "stop_reason": "end_turn"}),
            ),
        ],
        ProviderKind::Gemini => vec![
            (
                "blockReasonMessage",
                json!({"promptFeedback": {"blockReason": "OTHER", "blockReasonMessage": said}}),
            ),
            (
                "answer text",
                json!({"candidates": [{"content": {"parts": [{"text": said}]}, "finishReason": "STOP"}]}),
            ),
        ],
        ProviderKind::Ollama => vec![
            ("error field", json!({"error": said})),
            (
                "answer text",
                json!({"message": {"role": "assistant", "content": said}, "done": true}),
            ),
        ],
        ProviderKind::OpenAiResponses => vec![
            (
                "error object",
                json!({"status": "failed", "error": {"code": "server_error", "message": said}, "output": []}),
            ),
            (
                "refusal",
                json!({"status": "completed", "output": [{"type": "message", "content": [{"type": "refusal", "refusal": said}]}]}),
            ),
            (
                "answer text",
                json!({"status": "completed", "output": [{"type": "message", "content": [{"type": "output_text", "text": said}]}]}),
            ),
        ],
        ProviderKind::OpenAi => vec![
            (
                "no choices, error object",
                json!({"choices": [], "error": {"message": said}}),
            ),
            (
                "refusal",
                json!({"choices": [{"message": {"content": null, "refusal": said}, "finish_reason": "stop"}]}),
            ),
            (
                "answer text",
                json!({"choices": [{"message": {"content": said}, "finish_reason": "stop"}]}),
            ),
        ],
    }
}

/// A JSON body written with the key's first letter as a `\u` escape.
fn escaped(body: &Value) -> String {
    body.to_string().replace(KEY, ESCAPED_KEY)
}

#[tokio::test]
async fn keys_echoed_in_successful_answers_are_redacted_for_every_provider() {
    for kind in [
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::Ollama,
        ProviderKind::OpenAiResponses,
    ] {
        let s = server(kind).await;
        let c = client(kind, &s.origin);
        for (what, body) in echoing_bodies(kind, KEY) {
            s.push(raw(body.clone()));
            check_outcome(&format!("{kind:?} {what}"), &c.complete(&request()).await);
            // The same body with the key JSON-escaped: still caught.
            let v: Value = serde_json::from_str(&escaped(&body)).expect("json");
            s.push(raw(v));
            check_outcome(
                &format!("{kind:?} {what} (escaped)"),
                &c.complete(&request()).await,
            );
        }
    }
    let s = openai().await;
    let c = client(ProviderKind::OpenAi, s.base_url.trim_end_matches("/v1"));
    for (what, body) in echoing_bodies(ProviderKind::OpenAi, KEY) {
        s.push(openai_raw(body.clone()));
        check_outcome(&format!("openai {what}"), &c.complete(&request()).await);
        s.push(openai_server::Reply::Status {
            code: 200,
            retry_after: None,
            body: escaped(&body),
        });
        check_outcome(
            &format!("openai {what} (escaped)"),
            &c.complete(&request()).await,
        );
    }
}

fn observation() -> Observation {
    Observation {
        round: 1,
        rounds: 5,
        views: vec![View {
            heading: 0.0,
            heading_ref: geoagent::environment::HeadingRef::Compass,
            pitch: 0.0,
            fov: 90.0,
            width: 32,
            height: 16,
            jpeg: jpeg(32, 16, [90, 140, 220]),
        }],
        map_view: Bounds::WORLD,
        map_name: "Test World".into(),
        capture_ms: 1,
    }
}

/// What lands in `rounds.jsonl` and the report: the serialised guess, its fallback reason and
/// the model's raw text, for a refusal and an answer that both quote the key.
#[tokio::test]
async fn echoed_keys_never_reach_the_recorded_round() {
    let s = server(ProviderKind::Anthropic).await;
    let mut spec = ProviderSpec::new(
        ProviderKind::Anthropic,
        MODEL,
        Some(base_url(ProviderKind::Anthropic, &s.origin)),
    );
    spec.client.api_key = Some(SecretString::from(KEY.to_string()));
    let reasoner = LvlmReasoner::new(
        build_provider(&spec).expect("provider"),
        PromptSet::builtin("cot").expect("prompts"),
        LatLon::new(0.0, 0.0).expect("valid"),
        ReasonerOptions::default(),
    );
    for body in echoing_bodies(ProviderKind::Anthropic, KEY)
        .into_iter()
        .map(|(_, b)| b)
    {
        s.push(raw(body.clone()));
        s.push(raw(body));
        let g = reasoner.guess(&observation()).await;
        assert!(matches!(g.source, GuessSource::Fallback { .. }));
        assert_clean("recorded guess", &serde_json::to_string(&g).expect("json"));
    }
}

#[tokio::test]
async fn a_rejected_key_is_an_auth_error_naming_the_variable() {
    let cases = [
        (ProviderKind::Anthropic, "ANTHROPIC_API_KEY"),
        (ProviderKind::Gemini, "GEMINI_API_KEY"),
        (ProviderKind::OpenAiResponses, "OPENAI_API_KEY"),
    ];
    for (kind, var) in cases {
        let s = server(kind).await;
        let wrong = format!("{KEY}-wrong");
        let c = build_client(kind, config(kind, &s.origin, &wrong)).expect("client");
        let e = c.complete(&request()).await.expect_err("rejected");
        assert!(e.is_auth(), "{kind:?}: {e:?}");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains(var), "{kind:?}: {e}");
        assert_eq!(
            s.requests().len(),
            1,
            "{kind:?}: a rejected key is not retried"
        );
        assert_clean(&format!("{kind:?} auth"), &format!("{e} {e:?}"));
        // A 403 is the same failure.
        s.push(Reply::status(403));
        let e = client(kind, &s.origin)
            .complete(&request())
            .await
            .expect_err("forbidden");
        assert!(e.is_auth() && e.to_string().contains(var), "{e}");
    }
    let s = openai().await;
    let c = build_client(
        ProviderKind::OpenAi,
        config(
            ProviderKind::OpenAi,
            s.base_url.trim_end_matches("/v1"),
            "sk-wrong",
        ),
    )
    .expect("client");
    let e = c.complete(&request()).await.expect_err("rejected");
    assert!(
        e.is_auth() && e.to_string().contains("OPENAI_API_KEY"),
        "{e}"
    );
    // Anthropic can also say it in a 200 body.
    let s = server(ProviderKind::Anthropic).await;
    s.push(raw(json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})));
    let e = client(ProviderKind::Anthropic, &s.origin)
        .complete(&request())
        .await
        .expect_err("rejected");
    assert!(
        e.is_auth() && e.to_string().contains("ANTHROPIC_API_KEY"),
        "{e}"
    );
}

#[tokio::test]
async fn the_reasoner_marks_a_rejected_key_for_the_round_loop() {
    let s = server(ProviderKind::Gemini).await;
    let wrong = format!("{KEY}-wrong");
    let provider = build_client(
        ProviderKind::Gemini,
        config(ProviderKind::Gemini, &s.origin, &wrong),
    )
    .expect("client");
    let reasoner = LvlmReasoner::new(
        provider,
        PromptSet::builtin("cot").expect("prompts"),
        LatLon::new(0.0, 0.0).expect("valid"),
        ReasonerOptions::default(),
    );
    let g = reasoner.guess(&observation()).await;
    let why = g.auth_failure().expect("marked");
    assert!(why.contains("GEMINI_API_KEY"), "{why}");
    assert_clean("auth failure", why);
}

#[tokio::test]
async fn anthropic_overloaded_in_the_body_is_retried() {
    let overloaded =
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
    // On a 200 and on a 529, the overload is retried and the next answer comes through.
    for status in [200, 529] {
        let s = server(ProviderKind::Anthropic).await;
        s.push(Reply::Status {
            code: status,
            retry_after: None,
            body: Some(overloaded.to_string()),
        });
        let r = client(ProviderKind::Anthropic, &s.origin)
            .complete(&request())
            .await
            .unwrap_or_else(|e| panic!("HTTP {status} overloaded should be retried: {e}"));
        assert_eq!(r.attempts, 2, "HTTP {status}");
        assert_eq!(s.requests().len(), 2);
    }
    // Overloaded every time: retries run out with the overload named.
    let s = server(ProviderKind::Anthropic).await;
    s.set_default(raw(overloaded));
    let e = client(ProviderKind::Anthropic, &s.origin)
        .complete(&request())
        .await
        .expect_err("exhausted");
    assert!(
        matches!(e, LvlmError::Exhausted { attempts: 3, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("Overloaded"), "{e}");
}

#[tokio::test]
async fn absurd_wait_numbers_are_capped_not_a_panic() {
    // A 429 asking for 1e300 seconds: the wait is capped at the policy's max delay.
    let s = server(ProviderKind::OpenAiResponses).await;
    s.push(Reply::rate_limited("1e300"));
    let c = client(ProviderKind::OpenAiResponses, &s.origin);
    let start = Instant::now();
    c.complete(&request())
        .await
        .expect("second attempt answers");
    let took = start.elapsed();
    assert!(
        took >= MAX_DELAY && took < Duration::from_secs(5),
        "{took:?}"
    );
    // A 200 whose rate-limit headers say the window resets in 10^20 hours: the answer arrives.
    for reset in ["99999999999999999999h", "1e300", "99999999999999999999.9s"] {
        let s = server(ProviderKind::Anthropic).await;
        s.push(Reply::Headers(
            vec![
                ("x-ratelimit-remaining-requests", "0".into()),
                ("x-ratelimit-reset-requests", reset.into()),
                ("retry-after", "1e300".into()),
            ],
            Box::new(Reply::Text("Paris".into())),
        ));
        let r = client(ProviderKind::Anthropic, &s.origin)
            .complete(&request())
            .await
            .expect("answer");
        assert_eq!(r.text, "Paris");
    }
}

#[tokio::test]
async fn identical_requests_in_flight_make_one_upstream_call() {
    let s = server(ProviderKind::Ollama).await;
    s.set_default(Reply::Delay(
        Duration::from_millis(300),
        Box::new(Reply::Text("Oslo".into())),
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = ProviderSpec::new(
        ProviderKind::Ollama,
        MODEL,
        Some(base_url(ProviderKind::Ollama, &s.origin)),
    );
    spec.cache_dir = Some(dir.path().to_path_buf());
    let provider = build_provider(&spec).expect("provider");
    let req = request();
    let (a, b) = tokio::join!(provider.complete(&req), provider.complete(&req));
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(
        s.requests().len(),
        1,
        "two identical requests in flight, one call"
    );
    assert_eq!((a.text.as_str(), b.text.as_str()), ("Oslo", "Oslo"));
    assert!(a.cached != b.cached, "exactly one was paid for");
    // A different request is not held up by, or merged with, another.
    let mut other = request();
    other.max_tokens = 301;
    let (c, d) = tokio::join!(provider.complete(&req), provider.complete(&other));
    assert!(c.expect("c").cached && !d.expect("d").cached);
    assert_eq!(s.requests().len(), 2);
}

/// An embeddings endpoint that echoes the bearer key: a 401 quoting it, and a 200 whose
/// malformed vector quotes it.
#[tokio::test]
async fn the_embeddings_client_redacts_echoed_keys() {
    use axum::http::HeaderMap;
    use axum::routing::post;
    async fn embeddings(headers: HeaderMap) -> (StatusCode, String) {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim_start_matches("Bearer ")
            .to_string();
        if auth.ends_with("-wrong") {
            let body = json!({"error": {"message": format!("Incorrect API key provided: {auth}")}});
            return (StatusCode::UNAUTHORIZED, body.to_string());
        }
        let body = json!({"data": [{"embedding": [0.5, format!("{auth}")]}]});
        (StatusCode::OK, body.to_string().replace(KEY, ESCAPED_KEY))
    }
    let app = axum::Router::new().route("/v1/embeddings", post(embeddings));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]));
    for key in [format!("{KEY}-wrong"), KEY.to_string()] {
        let e = HttpEmbedder::new(
            &format!("http://{addr}/v1"),
            "clip",
            Some(SecretString::from(key)),
        )
        .expect("embedder");
        assert_clean("embedder debug", &format!("{e:?}"));
        let err = e
            .embed_images(std::slice::from_ref(&img))
            .await
            .expect_err("fails");
        assert_clean("embed error", &format!("{err} {err:?}"));
        assert!(err.to_string().contains("[redacted]"), "{err}");
    }
    task.abort();
}
