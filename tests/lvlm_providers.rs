//! Every non-Chat-Completions provider (Anthropic Messages, Gemini generateContent, Ollama
//! `/api/chat`, OpenAI Responses) against a local server that implements its documented request
//! and response shapes, with the same fault matrix for each: 429 with `Retry-After` in seconds and
//! as an HTTP date, 500, 503 until retries run out, an answer slower than the timeout, a body
//! cut in half, a refusal, an empty answer, the provider's rate-limit headers; plus the layers
//! (cache, cost, image budget) and a check that the API key never reaches logs, errors, Debug
//! output or a replay. Timeouts and backoffs are milliseconds, so the file runs in seconds.

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

use geoagent::agent::prompt::PromptSet;
use geoagent::agent::reasoner::{LvlmReasoner, ReasonerOptions};
use geoagent::agent::{GuessSource, Reasoner};
use geoagent::environment::{Observation, View};
use geoagent::geo::{Bounds, LatLon};
use geoagent::lvlm::factory::build_client;
use geoagent::lvlm::image::ImageBudget;
use geoagent::lvlm::limit::{LimitConfig, Limiter};
use geoagent::lvlm::retry::RetryPolicy;
use geoagent::lvlm::ClientConfig;
use geoagent::lvlm::{
    build_provider, LvlmError, Message, Part, Provider, ProviderKind, ProviderSpec,
    ReasoningEffort, Request, Role,
};
use scripted_server::{jpeg, Reply, ScriptedServer, CHARS_PER_TOKEN, TOKENS_PER_IMAGE};
use secrecy::SecretString;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "sk-test-key-0123456789-never-print";
/// Backoff cap: long enough to see that Retry-After was honoured (base delay is 1 ms), short
/// enough to keep the file fast.
const MAX_DELAY: Duration = Duration::from_millis(150);
const KINDS: [ProviderKind; 4] = [
    ProviderKind::Anthropic,
    ProviderKind::Gemini,
    ProviderKind::Ollama,
    ProviderKind::OpenAiResponses,
];
const MODEL: &str = "vision-test";

async fn server(kind: ProviderKind) -> ScriptedServer {
    match kind {
        ProviderKind::Anthropic => anthropic_server::start(KEY).await,
        ProviderKind::Gemini => gemini_server::start(KEY).await,
        ProviderKind::Ollama => ollama_server::start().await,
        ProviderKind::OpenAiResponses => responses_server::start(KEY).await,
        ProviderKind::OpenAi => unreachable!("tests/lvlm_openai.rs covers Chat Completions"),
    }
}

fn base_url(kind: ProviderKind, s: &ScriptedServer) -> String {
    match kind {
        ProviderKind::Anthropic | ProviderKind::OpenAiResponses => format!("{}/v1", s.origin),
        ProviderKind::Gemini => format!("{}/v1beta", s.origin),
        ProviderKind::Ollama | ProviderKind::OpenAi => s.origin.clone(),
    }
}

fn config(kind: ProviderKind, s: &ScriptedServer, key: &str) -> ClientConfig {
    let mut c = ClientConfig::new(base_url(kind, s), MODEL);
    if kind != ProviderKind::Ollama {
        c.api_key = Some(SecretString::from(key.to_string()));
    }
    c.request_timeout = Duration::from_secs(5);
    c.retry = RetryPolicy {
        max_retries: 2,
        base_delay: Duration::from_millis(1),
        max_delay: MAX_DELAY,
    };
    c.image_detail = Some(geoagent::lvlm::ImageDetail::Low);
    c.limiter = Arc::new(Limiter::unlimited());
    c
}

fn client(kind: ProviderKind, cfg: ClientConfig) -> Arc<dyn Provider> {
    build_client(kind, cfg).expect("valid config")
}

fn request(images: usize) -> Request {
    let mut parts = vec![Part::Text {
        text: "Where was this taken?".into(),
    }];
    for i in 0..images {
        parts.push(Part::Image {
            jpeg: jpeg(16, 8, [40 * i as u8, 120, 200]),
        });
    }
    Request {
        system: Some("You are a geolocation expert.".into()),
        messages: vec![Message {
            role: Role::User,
            parts,
        }],
        max_tokens: 300,
        temperature: Some(0.2),
        ..Request::default()
    }
}

/// The base64 of every image in a recorded body, wherever the dialect puts it.
fn image_payloads(kind: ProviderKind, body: &Value) -> Vec<String> {
    let strings = |v: &Value| v.as_str().unwrap_or("").to_string();
    match kind {
        ProviderKind::Anthropic => body["messages"][0]["content"]
            .as_array()
            .expect("content")
            .iter()
            .filter(|b| b["type"] == "image")
            .map(|b| {
                assert_eq!(b["source"]["type"], "base64");
                assert_eq!(b["source"]["media_type"], "image/jpeg");
                strings(&b["source"]["data"])
            })
            .collect(),
        ProviderKind::Gemini => body["contents"][0]["parts"]
            .as_array()
            .expect("parts")
            .iter()
            .filter_map(|p| p.get("inline_data"))
            .map(|d| {
                assert_eq!(d["mime_type"], "image/jpeg");
                strings(&d["data"])
            })
            .collect(),
        ProviderKind::Ollama => body["messages"][1]["images"]
            .as_array()
            .expect("images")
            .iter()
            .map(strings)
            .collect(),
        ProviderKind::OpenAiResponses => body["input"][0]["content"]
            .as_array()
            .expect("content")
            .iter()
            .filter(|p| p["type"] == "input_image")
            .map(|p| {
                assert_eq!(p["detail"], "low");
                strings(&p["image_url"])
                    .strip_prefix("data:image/jpeg;base64,")
                    .expect("data URL")
                    .to_string()
            })
            .collect(),
        ProviderKind::OpenAi => unreachable!(),
    }
}

#[tokio::test]
async fn happy_path_sends_each_documented_shape() {
    for kind in KINDS {
        let s = server(kind).await;
        s.push(Reply::Text("It is Paris.".into()));
        let c = client(kind, config(kind, &s, KEY));
        assert_eq!(c.name(), format!("{}:{MODEL}", kind.prefix()));
        let req = request(2);
        let resp = c
            .complete(&req)
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(resp.text, "It is Paris.", "{kind:?}");
        assert_eq!(resp.attempts, 1);
        let reqs = s.requests();
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!(r.rejected, None, "{kind:?}");
        assert_eq!(r.method, "POST");
        assert_eq!(r.image_count, 2, "{kind:?}");
        let (path, auth_header, auth_value) = match kind {
            ProviderKind::Anthropic => ("/v1/messages", "x-api-key", KEY.to_string()),
            ProviderKind::Gemini => (
                "/v1beta/models/vision-test:generateContent",
                "x-goog-api-key",
                KEY.to_string(),
            ),
            ProviderKind::Ollama => ("/api/chat", "authorization", String::new()),
            _ => ("/v1/responses", "authorization", format!("Bearer {KEY}")),
        };
        assert_eq!(r.path, path);
        assert_eq!(r.query, None, "the key never goes in the URL");
        assert_eq!(scripted_server::header(&r.headers, auth_header), auth_value);
        assert_eq!(
            scripted_server::header(&r.headers, "content-type"),
            "application/json"
        );
        if kind == ProviderKind::Anthropic {
            assert_eq!(
                scripted_server::header(&r.headers, "anthropic-version"),
                "2023-06-01"
            );
            assert_eq!(r.body["system"], "You are a geolocation expert.");
            assert_eq!(r.body["max_tokens"], 300);
        }
        if kind == ProviderKind::Gemini {
            assert_eq!(
                r.body["systemInstruction"]["parts"][0]["text"],
                "You are a geolocation expert."
            );
            assert_eq!(r.body["generationConfig"]["maxOutputTokens"], 300);
        }
        if kind == ProviderKind::Ollama {
            assert_eq!(r.body["messages"][0]["role"], "system");
            assert_eq!(r.body["stream"], false);
            assert_eq!(r.body["options"]["num_predict"], 300);
        }
        if kind == ProviderKind::OpenAiResponses {
            assert_eq!(r.body["instructions"], "You are a geolocation expert.");
            assert_eq!(r.body["max_output_tokens"], 300);
        }
        // Images arrive as the exact bytes sent, base64-encoded the way the API wants.
        let sent: Vec<Vec<u8>> = req.images().map(<[u8]>::to_vec).collect();
        let got: Vec<Vec<u8>> = image_payloads(kind, &r.body)
            .iter()
            .map(|b| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .expect("base64")
            })
            .collect();
        assert_eq!(got, sent, "{kind:?}");
        // Usage is the server's numbers, mapped into one Usage.
        let expected_in = r.text.chars().count() as u64 / CHARS_PER_TOKEN + 2 * TOKENS_PER_IMAGE;
        assert_eq!(resp.usage.input_tokens, expected_in, "{kind:?}");
        assert_eq!(resp.usage.output_tokens, "It is Paris.".len() as u64 / 4);
        assert_eq!(resp.image_bytes, req.image_bytes());
        assert!(resp.request_bytes > resp.image_bytes, "{kind:?}");
    }
}

#[tokio::test]
async fn reasoning_settings_are_sent_and_visible_reasoning_kept() {
    for kind in KINDS {
        let s = server(kind).await;
        s.push(Reply::Reasoned {
            reasoning: "Cars drive on the right; signs are French.".into(),
            text: "Paris".into(),
        });
        let mut cfg = config(kind, &s, KEY);
        cfg.reasoning_effort = Some(ReasoningEffort::Medium);
        let resp = client(kind, cfg)
            .complete(&request(1))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(resp.text, "Paris");
        assert_eq!(
            resp.reasoning.as_deref(),
            Some("Cars drive on the right; signs are French."),
            "{kind:?}"
        );
        let b = &s.requests()[0].body;
        match kind {
            ProviderKind::Anthropic => {
                assert_eq!(b["thinking"]["type"], "enabled");
                assert_eq!(b["thinking"]["budget_tokens"], 4096);
                assert_eq!(b["max_tokens"], 4396);
                assert!(b.get("temperature").is_none());
            }
            ProviderKind::Gemini => {
                assert_eq!(
                    b["generationConfig"]["thinkingConfig"]["thinkingBudget"],
                    4096
                );
                assert_eq!(
                    b["generationConfig"]["thinkingConfig"]["includeThoughts"],
                    true
                );
            }
            ProviderKind::Ollama => assert_eq!(b["think"], true),
            _ => assert_eq!(b["reasoning"]["effort"], "medium"),
        }
    }
}

#[tokio::test]
async fn rate_limit_retry_after_seconds_and_http_date_are_honoured() {
    for kind in KINDS {
        let s = server(kind).await;
        s.push(Reply::rate_limited("1"));
        let when = chrono::Utc::now() + chrono::Duration::seconds(5);
        s.push(Reply::rate_limited(
            &when.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        ));
        let c = client(kind, config(kind, &s, KEY));
        let start = Instant::now();
        let resp = c.complete(&request(1)).await.expect("third attempt works");
        assert_eq!(resp.attempts, 3, "{kind:?}");
        // Two server-requested waits, each capped at MAX_DELAY; jitter alone would be ~1 ms.
        let waited = start.elapsed();
        assert!(
            waited >= 2 * MAX_DELAY && waited < Duration::from_secs(3),
            "{kind:?}: {waited:?}"
        );
        assert_eq!(s.requests().len(), 3);
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    for kind in KINDS {
        let s = server(kind).await;
        s.push(Reply::status(500));
        let c = client(kind, config(kind, &s, KEY));
        let resp = c.complete(&request(1)).await.expect("retried");
        assert_eq!(resp.attempts, 2, "{kind:?}");
        for _ in 0..3 {
            s.push(Reply::status(503));
        }
        let err = c.complete(&request(1)).await.expect_err("all fail");
        match &err {
            LvlmError::Exhausted { attempts: 3, last } => assert!(
                matches!(&**last, LvlmError::Status { status: 503, body, .. } if body.contains("scripted error 503")),
                "{kind:?}: {last:?}"
            ),
            other => panic!("{kind:?}: expected Exhausted, got {other:?}"),
        }
        assert!(err.is_retryable() || matches!(err, LvlmError::Exhausted { .. }));
    }
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    for kind in KINDS {
        let s = server(kind).await;
        s.push(Reply::Delay(
            Duration::from_secs(3),
            Box::new(Reply::Text("too late".into())),
        ));
        let mut cfg = config(kind, &s, KEY);
        cfg.request_timeout = Duration::from_millis(200);
        let start = Instant::now();
        let resp = client(kind, cfg.clone())
            .complete(&request(1))
            .await
            .expect("retry is fast");
        assert_eq!(resp.attempts, 2, "{kind:?}");
        assert_ne!(resp.text, "too late");
        assert!(start.elapsed() < Duration::from_secs(2));
        s.push(Reply::Delay(
            Duration::from_secs(3),
            Box::new(Reply::Text("too late".into())),
        ));
        cfg.retry.max_retries = 0;
        let err = client(kind, cfg)
            .complete(&request(1))
            .await
            .expect_err("times out");
        assert!(
            matches!(&err, LvlmError::Exhausted { attempts: 1, last } if matches!(**last, LvlmError::Timeout(_))),
            "{kind:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn truncated_bodies_are_decode_errors_and_retried() {
    for kind in KINDS {
        let s = server(kind).await;
        s.push(Reply::Truncated);
        let mut cfg = config(kind, &s, KEY);
        cfg.retry.max_retries = 0;
        let err = client(kind, cfg.clone())
            .complete(&request(1))
            .await
            .expect_err("cut");
        assert!(
            matches!(&err, LvlmError::Exhausted { last, .. } if matches!(**last, LvlmError::Decode(_))),
            "{kind:?}: {err:?}"
        );
        s.push(Reply::Truncated);
        cfg.retry.max_retries = 1;
        let resp = client(kind, cfg)
            .complete(&request(1))
            .await
            .expect("retried");
        assert_eq!(resp.attempts, 2, "{kind:?}");
    }
}

#[tokio::test]
async fn refusals_and_empty_answers_are_final_and_say_why() {
    for kind in KINDS {
        let s = server(kind).await;
        let c = client(kind, config(kind, &s, KEY));
        s.push(Reply::Empty);
        let err = c.complete(&request(1)).await.expect_err("empty");
        assert!(matches!(err, LvlmError::Empty(_)), "{kind:?}: {err:?}");
        s.push(Reply::Refusal(
            "I can't help identify this location.".into(),
        ));
        let result = c.complete(&request(1)).await;
        if kind == ProviderKind::Ollama {
            // Ollama has no refusal signal: a declining model just answers in text.
            assert_eq!(
                result.expect("text").text,
                "I can't help identify this location."
            );
        } else {
            let err = result.expect_err("refused");
            assert!(err.is_refusal(), "{kind:?}: {err:?}");
            assert!(!err.is_retryable());
        }
        assert_eq!(s.requests().len(), 2, "{kind:?}: not retried");
    }
}

#[tokio::test]
async fn gemini_safety_finish_and_anthropic_overload_map_correctly() {
    let s = server(ProviderKind::Gemini).await;
    s.push(Reply::Raw(serde_json::json!({
        "candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "SAFETY"}]
    })));
    let err = client(ProviderKind::Gemini, config(ProviderKind::Gemini, &s, KEY))
        .complete(&request(1))
        .await
        .expect_err("safety");
    assert!(
        err.is_refusal() && err.to_string().contains("SAFETY"),
        "{err}"
    );

    let s = server(ProviderKind::Anthropic).await;
    s.push(Reply::status(529));
    let resp = client(
        ProviderKind::Anthropic,
        config(ProviderKind::Anthropic, &s, KEY),
    )
    .complete(&request(1))
    .await
    .expect("529 overloaded is retried");
    assert_eq!(resp.attempts, 2);
}

#[tokio::test]
async fn used_up_rate_limit_headers_pause_the_next_call() {
    for (kind, remaining, reset, value) in [
        (
            ProviderKind::OpenAiResponses,
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
            "400ms".to_string(),
        ),
        (
            ProviderKind::Anthropic,
            "anthropic-ratelimit-requests-remaining",
            "anthropic-ratelimit-requests-reset",
            (chrono::Utc::now() + chrono::Duration::milliseconds(1400))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
    ] {
        let s = server(kind).await;
        s.push(Reply::Headers(
            vec![(remaining, "0".into()), (reset, value)],
            Box::new(Reply::Text("first".into())),
        ));
        let c = client(kind, config(kind, &s, KEY));
        c.complete(&request(0)).await.expect("first");
        let start = Instant::now();
        c.complete(&request(0)).await.expect("second");
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(350) && waited < Duration::from_secs(3),
            "{kind:?}: {waited:?}"
        );
    }
}

#[tokio::test]
async fn concurrency_limit_holds_across_calls() {
    let s = server(ProviderKind::Ollama).await;
    s.set_default(Reply::Delay(
        Duration::from_millis(200),
        Box::new(Reply::Text(scripted_server::DEFAULT_ANSWER.into())),
    ));
    for (limit, min, max) in [(2usize, 550u64, 1500u64), (8, 150, 550)] {
        let mut cfg = config(ProviderKind::Ollama, &s, KEY);
        cfg.limiter = Arc::new(Limiter::new(LimitConfig {
            max_concurrency: limit,
            requests_per_minute: None,
        }));
        let c = client(ProviderKind::Ollama, cfg);
        let start = Instant::now();
        let calls: Vec<_> = (0..6)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move { c.complete(&request(0)).await })
            })
            .collect();
        for t in calls {
            t.await.expect("join").expect("answer");
        }
        let took = start.elapsed().as_millis() as u64;
        assert!((min..max).contains(&took), "limit {limit}: {took} ms");
    }
}

// --- the layers build_provider adds ---

#[tokio::test]
async fn build_provider_caches_prices_and_budgets_images() {
    let s = server(ProviderKind::Anthropic).await;
    let cache = tempfile::tempdir().expect("tempdir");
    let mut spec = ProviderSpec::new(
        ProviderKind::Anthropic,
        "claude-sonnet-4-20250514",
        Some(base_url(ProviderKind::Anthropic, &s)),
    );
    spec.client.api_key = Some(SecretString::from(KEY.to_string()));
    spec.client.retry.base_delay = Duration::from_millis(1);
    spec.cache_dir = Some(cache.path().to_path_buf());
    spec.image_budget = ImageBudget {
        max_side: 64,
        jpeg_quality: 80,
    };
    let p = build_provider(&spec).expect("provider");
    let mut req = request(0);
    req.messages[0].parts.push(Part::Image {
        jpeg: jpeg(256, 128, [10, 200, 30]),
    });
    let first = p.complete(&req).await.expect("answer");
    assert!(!first.cached);
    // $3 / $15 per million tokens (claude-sonnet-4 list price).
    let expected =
        (first.usage.input_tokens as f64 * 3.0 + first.usage.output_tokens as f64 * 15.0) / 1e6;
    let cost = first.usage.cost_usd.expect("priced");
    assert!(
        (cost - expected).abs() < 1e-12 && cost > 0.0,
        "{cost} vs {expected}"
    );
    // The image was scaled to 64 px on its long side before sending.
    let body = &s.requests()[0].body;
    let sent = &image_payloads(ProviderKind::Anthropic, body)[0];
    let bytes = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(sent)
            .expect("b64")
    };
    let img = image::load_from_memory(&bytes).expect("jpeg");
    assert_eq!((img.width(), img.height()), (64, 32));
    assert_eq!(first.image_bytes, bytes.len() as u64);

    let again = p.complete(&req).await.expect("cached");
    assert!(again.cached);
    assert_eq!(again.usage.cost_usd, Some(0.0));
    assert_eq!(again.text, first.text);
    assert_eq!(s.requests().len(), 1, "a cached answer sends nothing");

    // Without the cache the call goes out again.
    spec.cache_dir = None;
    build_provider(&spec)
        .expect("provider")
        .complete(&req)
        .await
        .expect("answer");
    assert_eq!(s.requests().len(), 2);
}

// --- secrets ---

/// A `MakeWriter` into a shared buffer, to capture every log line.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn observation() -> Observation {
    let view = |heading: f64| View {
        heading,
        heading_ref: geoagent::environment::HeadingRef::Compass,
        pitch: 0.0,
        fov: 90.0,
        width: 32,
        height: 16,
        jpeg: jpeg(32, 16, [90, 140, 220]),
    };
    Observation {
        round: 1,
        rounds: 5,
        views: vec![view(0.0), view(90.0)],
        map_view: Bounds::WORLD,
        map_name: "Test World".into(),
        capture_ms: 1,
    }
}

/// Runs on the current thread, so the thread-local subscriber sees every event, including
/// reqwest's and hyper's own trace logs.
#[tokio::test(flavor = "current_thread")]
async fn the_api_key_never_reaches_logs_errors_debug_or_replays() {
    let buf = Captured::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut texts = Vec::new();
    for kind in [
        ProviderKind::Anthropic,
        ProviderKind::Gemini,
        ProviderKind::OpenAiResponses,
    ] {
        let s = server(kind).await;
        // A wrong key: the servers echo it back in their 400/401 bodies.
        let wrong = format!("{KEY}-wrong");
        let cfg = config(kind, &s, &wrong);
        texts.push(format!("{cfg:?}"));
        let c = client(kind, cfg);
        let err = c.complete(&request(1)).await.expect_err("unauthorised");
        assert!(
            s.requests()[0]
                .rejected
                .as_deref()
                .unwrap_or("")
                .contains(&wrong),
            "{kind:?}: the test server should echo the key"
        );
        texts.push(err.to_string());
        texts.push(format!("{err:?}"));
        // Server errors echoing the key, through retries.
        let c = client(kind, config(kind, &s, KEY));
        for _ in 0..3 {
            s.push(Reply::Status {
                code: 500,
                retry_after: None,
                body: Some(format!("{{\"error\": \"internal, key was {KEY}\"}}")),
            });
        }
        let err = c.complete(&request(1)).await.expect_err("fails");
        texts.push(format!("{err} {err:?}"));
        // A full round through the reasoner, as it lands in the replay.
        let spec = {
            let mut spec = ProviderSpec::new(kind, MODEL, Some(base_url(kind, &s)));
            spec.client.api_key = Some(SecretString::from(KEY.to_string()));
            spec
        };
        texts.push(format!("{spec:?}"));
        let reasoner = LvlmReasoner::new(
            build_provider(&spec).expect("provider"),
            PromptSet::builtin("cot").expect("prompts"),
            LatLon::new(0.0, 0.0).expect("valid"),
            ReasonerOptions::default(),
        );
        s.push(Reply::status(401));
        let failed = reasoner.guess(&observation()).await;
        assert!(matches!(failed.source, GuessSource::Fallback { .. }));
        texts.push(serde_json::to_string(&failed).expect("serialises"));
        let ok = reasoner.guess(&observation()).await;
        assert_eq!(ok.source, GuessSource::Model, "{kind:?}");
        texts.push(serde_json::to_string(&ok).expect("serialises"));
        texts.push(format!("{reasoner:?}"));
    }
    drop(_guard);
    let logs = String::from_utf8_lossy(&buf.0.lock().expect("lock")).to_string();
    assert!(!logs.is_empty(), "the capture should have seen log lines");
    texts.push(logs);
    for t in &texts {
        assert!(!t.contains(KEY), "key leaked: {t}");
        assert!(!t.contains("never-print"), "key leaked: {t}");
    }
}
