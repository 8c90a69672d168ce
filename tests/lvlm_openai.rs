//! The OpenAI-compatible client and the LVLM reasoner against the scripted local server.
//! Timeouts and backoffs are configured in milliseconds so the whole file runs in about a second.

mod common;

use common::openai_server::{
    jpeg, OpenAiServer, Reply, ServerOptions, DEFAULT_LAT, DEFAULT_LON, TOKENS_PER_IMAGE,
};
use geoagent::agent::prompt::PromptSet;
use geoagent::agent::reasoner::{LvlmReasoner, ReasonerOptions};
use geoagent::agent::{GuessSource, Reasoner};
use geoagent::environment::{Observation, View};
use geoagent::geo::{Bounds, LatLon};
use geoagent::lvlm::openai::{OpenAiClient, OpenAiConfig};
use geoagent::lvlm::retry::RetryPolicy;
use geoagent::lvlm::ClientConfig;
use geoagent::lvlm::{LvlmError, Message, Part, Provider, ReasoningEffort, Request, Role};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "sk-test-0123456789abcdef";
/// Backoff cap in these tests: long enough to measure that Retry-After was honoured (base delay
/// is 1 ms, so only a server-requested wait can take this long), short enough to keep tests fast.
const MAX_DELAY: Duration = Duration::from_millis(150);
/// A reply this late is one no timeout under test may wait for; the upper bounds of the timeout
/// tests are this, so a slow machine cannot fail them but a client that waits would.
const LATE: Duration = Duration::from_secs(20);

fn config(server: &OpenAiServer, key: Option<&str>) -> OpenAiConfig {
    OpenAiConfig {
        api_key: key.map(|k| SecretString::from(k.to_string())),
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(1),
            max_delay: MAX_DELAY,
        },
        image_detail: Some(geoagent::lvlm::ImageDetail::Low),
        ..OpenAiConfig::new(server.base_url.clone(), "vision-test")
    }
}

fn client(cfg: OpenAiConfig) -> OpenAiClient {
    OpenAiClient::new(cfg).expect("valid config")
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

async fn keyed_server() -> OpenAiServer {
    OpenAiServer::start(ServerOptions {
        api_key: Some(KEY.into()),
    })
    .await
}

#[tokio::test]
async fn happy_path_sends_the_chat_completions_shape() {
    let server = keyed_server().await;
    server.push(Reply::Text("It is Paris.".into()));
    let c = client(config(&server, Some(KEY)));
    assert_eq!(c.name(), "openai:vision-test");
    let resp = c.complete(&request(2)).await.expect("answer");
    assert_eq!(resp.text, "It is Paris.");
    assert_eq!(resp.model, "vision-test");
    assert_eq!(resp.attempts, 1);
    assert_eq!(resp.finish_reason.as_deref(), Some("stop"));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.rejected, None);
    assert_eq!(r.image_count, 2);
    assert_eq!(
        r.headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {KEY}").as_str())
    );
    let b = &r.body;
    assert_eq!(b["model"], "vision-test");
    assert_eq!(b["max_tokens"], 300);
    assert!((b["temperature"].as_f64().expect("temperature") - 0.2).abs() < 1e-6);
    assert_eq!(b["messages"][0]["role"], "system");
    assert_eq!(b["messages"][0]["content"], "You are a geolocation expert.");
    assert_eq!(b["messages"][1]["role"], "user");
    assert_eq!(b["messages"][1]["content"][0]["type"], "text");
    assert_eq!(b["messages"][1]["content"][1]["type"], "image_url");
    assert_eq!(b["messages"][1]["content"][2]["image_url"]["detail"], "low");
    assert!(b["messages"][1]["content"][1]["image_url"]["url"]
        .as_str()
        .expect("url")
        .starts_with("data:image/jpeg;base64,/9j/"));
    // Usage comes from the server's numbers, not made up by the client.
    let expected_prompt = r.text.chars().count() as u64 / 4 + 2 * TOKENS_PER_IMAGE;
    assert_eq!(resp.usage.input_tokens, expected_prompt);
    assert_eq!(resp.usage.output_tokens, "It is Paris.".len() as u64 / 4);
}

#[tokio::test]
async fn reasoning_effort_uses_max_completion_tokens() {
    let server = keyed_server().await;
    let mut cfg: ClientConfig = config(&server, Some(KEY)).into();
    cfg.reasoning_effort = Some(ReasoningEffort::High);
    let mut req = request(1);
    req.temperature = None;
    OpenAiClient::new(cfg)
        .expect("valid config")
        .complete(&req)
        .await
        .expect("answer");
    let b = &server.requests()[0].body;
    assert_eq!(b["reasoning_effort"], "high");
    assert_eq!(b["max_completion_tokens"], 300);
    assert!(
        b.get("max_tokens").is_none(),
        "reasoning models reject max_tokens"
    );
    // A request's own effort wins over the configured one.
    req.reasoning_effort = Some(ReasoningEffort::Low);
    client(config(&server, Some(KEY)))
        .complete(&req)
        .await
        .expect("answer");
    assert_eq!(server.requests()[1].body["reasoning_effort"], "low");
}

#[tokio::test]
async fn rate_limit_with_retry_after_seconds_is_honoured() {
    let server = keyed_server().await;
    server.push(Reply::Status {
        code: 429,
        retry_after: Some("1".into()),
        body: r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#.into(),
    });
    let c = client(config(&server, Some(KEY)));
    let start = Instant::now();
    let resp = c.complete(&request(1)).await.expect("second attempt works");
    assert_eq!(resp.attempts, 2);
    // Retry-After: 1 s, capped at MAX_DELAY; jitter alone would wait at most 1 ms.
    assert!(start.elapsed() >= MAX_DELAY, "{:?}", start.elapsed());
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn rate_limit_with_retry_after_http_date_is_honoured() {
    let server = keyed_server().await;
    let when = chrono::Utc::now() + chrono::Duration::seconds(LATE.as_secs() as i64);
    server.push(Reply::Status {
        code: 429,
        retry_after: Some(when.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
        body: "{}".into(),
    });
    let c = client(config(&server, Some(KEY)));
    let start = Instant::now();
    let resp = c.complete(&request(0)).await.expect("second attempt works");
    assert_eq!(resp.attempts, 2);
    let waited = start.elapsed();
    assert!(
        // Capped at MAX_DELAY; honouring the date would wait ~LATE (the date has 1 s steps).
        waited >= MAX_DELAY && waited < LATE / 2,
        "{waited:?}"
    );
}

#[tokio::test]
async fn server_error_then_success() {
    let server = keyed_server().await;
    server.push(Reply::error(500, "The server had an error"));
    let resp = client(config(&server, Some(KEY)))
        .complete(&request(1))
        .await
        .expect("retried");
    assert_eq!(resp.attempts, 2);
    assert!(resp.text.contains("48.8566"));
}

#[tokio::test]
async fn unavailable_until_retries_run_out() {
    let server = keyed_server().await;
    for _ in 0..3 {
        server.push(Reply::error(503, "overloaded"));
    }
    let err = client(config(&server, Some(KEY)))
        .complete(&request(1))
        .await
        .expect_err("all attempts fail");
    match &err {
        LvlmError::Exhausted { attempts, last } => {
            assert_eq!(*attempts, 3);
            assert!(
                matches!(&**last, LvlmError::Status { status: 503, body, .. } if body.contains("overloaded")),
                "{last:?}"
            );
        }
        other => panic!("expected Exhausted, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn slow_answer_times_out_then_retry_succeeds() {
    let server = keyed_server().await;
    server.push(Reply::Delay(LATE, Box::new(Reply::Text("too late".into()))));
    let mut cfg = config(&server, Some(KEY));
    cfg.request_timeout = Duration::from_millis(200);
    let start = Instant::now();
    let resp = client(cfg.clone())
        .complete(&request(1))
        .await
        .expect("retry is fast");
    assert_eq!(resp.attempts, 2);
    assert_ne!(resp.text, "too late");
    // Bounded by the late answer, not by a guess at this machine's speed: a client that waited
    // for it would take LATE.
    assert!(start.elapsed() < LATE, "{:?}", start.elapsed());

    // Without retries the timeout itself is reported.
    server.push(Reply::Delay(LATE, Box::new(Reply::Text("too late".into()))));
    cfg.retry.max_retries = 0;
    let err = client(cfg)
        .complete(&request(1))
        .await
        .expect_err("times out");
    assert!(
        matches!(&err, LvlmError::Exhausted { attempts: 1, last } if matches!(**last, LvlmError::Timeout(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn truncated_body_is_a_decode_error_and_retried() {
    let server = keyed_server().await;
    server.push(Reply::Truncated);
    let mut cfg = config(&server, Some(KEY));
    cfg.retry.max_retries = 0;
    let err = client(cfg.clone())
        .complete(&request(1))
        .await
        .expect_err("cut");
    assert!(
        matches!(&err, LvlmError::Exhausted { last, .. } if matches!(**last, LvlmError::Decode(_))),
        "{err:?}"
    );
    server.push(Reply::Truncated);
    cfg.retry.max_retries = 1;
    let resp = client(cfg).complete(&request(1)).await.expect("retried");
    assert_eq!(resp.attempts, 2);
}

#[tokio::test]
async fn empty_choices_and_refusals_are_empty_and_not_retried() {
    let server = keyed_server().await;
    let c = client(config(&server, Some(KEY)));
    server.push(Reply::EmptyChoices);
    let err = c.complete(&request(1)).await.expect_err("empty");
    assert!(
        matches!(&err, LvlmError::Empty(m) if m.contains("no choices")),
        "{err:?}"
    );
    server.push(Reply::Refusal(
        "I can't help identify locations of people.".into(),
    ));
    let err = c.complete(&request(1)).await.expect_err("refused");
    assert!(matches!(&err, LvlmError::Refused(_)), "{err:?}");
    assert!(
        err.to_string().contains("I can't help identify locations"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2, "Empty is not retried");
}

#[tokio::test]
async fn wrong_key_is_401_not_retried_and_never_leaked() {
    let server = keyed_server().await;
    let wrong = "sk-wrong-key-must-not-leak-42";
    let c = client(config(&server, Some(wrong)));
    let err = c.complete(&request(1)).await.expect_err("unauthorised");
    assert!(
        matches!(&err, LvlmError::Auth { status: 401, .. }) && err.is_auth(),
        "{err:?}"
    );
    assert!(err.to_string().contains("OPENAI_API_KEY"), "{err}");
    assert_eq!(server.requests().len(), 1, "401 is not retried");
    // The server echoed the presented key; the client must have scrubbed it.
    let rejected = server.requests()[0].rejected.clone().expect("rejected");
    assert!(
        rejected.contains(wrong),
        "test server should echo the key: {rejected}"
    );
    for text in [err.to_string(), format!("{err:?}"), format!("{c:?}")] {
        assert!(!text.contains(wrong), "key leaked: {text}");
        assert!(!text.contains("must-not-leak"), "key leaked: {text}");
    }
    assert!(err.to_string().contains("Incorrect API key"), "{err}");
}

#[tokio::test]
async fn key_is_absent_from_every_error_and_debug_output() {
    let server = keyed_server().await;
    let c = client(config(&server, Some(KEY)));
    assert!(!format!("{c:?}").contains(KEY));
    server.push(Reply::error(500, &format!("echoing {KEY} back")));
    server.push(Reply::error(500, "again"));
    server.push(Reply::error(500, "again"));
    let err = c.complete(&request(1)).await.expect_err("fails");
    let mut chain = vec![err.to_string(), format!("{err:?}")];
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    for text in chain {
        assert!(!text.contains(KEY), "key leaked: {text}");
    }
    // Connection errors too.
    let mut cfg = config(&server, Some(KEY));
    cfg.base_url = format!("http://127.0.0.1:{}/v1", closed_port().await);
    cfg.retry.max_retries = 0;
    let err = client(cfg)
        .complete(&request(0))
        .await
        .expect_err("refused");
    assert!(!format!("{err} {err:?}").contains(KEY));
}

#[tokio::test]
async fn unknown_path_is_a_404_status() {
    let server = keyed_server().await;
    let mut cfg = config(&server, Some(KEY));
    cfg.base_url = server.base_url.replace("/v1", "/v2");
    let err = client(cfg).complete(&request(0)).await.expect_err("404");
    assert!(
        matches!(err, LvlmError::Status { status: 404, .. }),
        "{err:?}"
    );
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

// --- the reasoner over HTTP ---

fn observation() -> Observation {
    let view = |heading: f64, rgb| View {
        heading,
        heading_ref: geoagent::environment::HeadingRef::Compass,
        pitch: 0.0,
        fov: 90.0,
        width: 32,
        height: 16,
        jpeg: jpeg(32, 16, rgb),
    };
    Observation {
        round: 3,
        rounds: 5,
        views: vec![view(0.0, [90, 140, 220]), view(90.0, [60, 160, 60])],
        map_view: Bounds::WORLD,
        map_name: "Test World".into(),
        capture_ms: 1,
    }
}

fn fallback_point() -> LatLon {
    LatLon::new(0.0, 0.0).expect("valid")
}

fn reasoner(cfg: OpenAiConfig, round_timeout: Duration) -> LvlmReasoner {
    LvlmReasoner::new(
        Arc::new(client(cfg)),
        PromptSet::builtin("cot").expect("prompts"),
        fallback_point(),
        ReasonerOptions {
            round_timeout,
            ..ReasonerOptions::default()
        },
    )
}

const ESSAY: &str = "Driving side: right. Signs: Latin script, French words. Architecture: \
    cream stone with zinc roofs. Vegetation: temperate. This looks like northern France, \
    probably near the capital, but I will not commit to numbers.";

#[tokio::test]
async fn reasoner_good_answer_is_a_model_guess() {
    let server = keyed_server().await;
    let r = reasoner(config(&server, Some(KEY)), Duration::from_secs(10));
    assert_eq!(r.name(), "openai:vision-test");
    let g = r.guess(&observation()).await;
    assert_eq!(g.source, GuessSource::Model);
    assert!((g.pos.lat - DEFAULT_LAT).abs() < 1e-9 && (g.pos.lon - DEFAULT_LON).abs() < 1e-9);
    assert_eq!(g.country.as_deref(), Some("FR"));
    assert_eq!(g.exchanges.len(), 1);
    assert_eq!(g.exchanges[0].images, 2);
    assert!(g.usage.input_tokens >= 2 * TOKENS_PER_IMAGE);
    let reqs = server.requests();
    assert_eq!(reqs[0].image_count, 2);
    assert!(reqs[0].text.contains("Round 3 of 5"));
    assert!(reqs[0].text.contains("View 2: heading 90° (east), fov 90°"));
}

#[tokio::test]
async fn reasoner_repairs_a_malformed_answer() {
    let server = keyed_server().await;
    server.push(Reply::Text(ESSAY.into()));
    let g = reasoner(config(&server, Some(KEY)), Duration::from_secs(10))
        .guess(&observation())
        .await;
    assert_eq!(g.source, GuessSource::Model);
    assert_eq!(g.exchanges.len(), 2);
    assert_eq!(g.exchanges[0].raw.as_deref(), Some(ESSAY));
    assert!(g.usage.input_tokens > g.exchanges[0].usage.input_tokens);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].image_count, 0,
        "a long answer is repaired without resending images"
    );
    let msgs = reqs[1].body["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 4, "system, question, answer, repair");
    assert_eq!(msgs[2]["role"], "assistant");
    assert_eq!(msgs[2]["content"], ESSAY);
    assert!(msgs[3]["content"][0]["text"]
        .as_str()
        .expect("repair text")
        .contains("could not be read: no coordinates"));
}

#[tokio::test]
async fn reasoner_falls_back_when_the_repair_fails_too() {
    let server = keyed_server().await;
    server.set_default(|_| Reply::Text(ESSAY.into()));
    let g = reasoner(config(&server, Some(KEY)), Duration::from_secs(10))
        .guess(&observation())
        .await;
    match &g.source {
        GuessSource::Fallback { reason } => assert!(reason.contains("repair"), "{reason}"),
        other => panic!("expected fallback, got {other:?}"),
    }
    assert_eq!(g.pos, fallback_point());
    assert_eq!(g.exchanges.len(), 2);
}

#[tokio::test]
async fn reasoner_falls_back_when_the_provider_is_down() {
    let server = keyed_server().await;
    let mut cfg = config(&server, Some(KEY));
    cfg.base_url = format!("http://127.0.0.1:{}/v1", closed_port().await);
    let g = reasoner(cfg, Duration::from_secs(10))
        .guess(&observation())
        .await;
    match &g.source {
        GuessSource::Fallback { reason } => {
            assert!(reason.contains("gave up after 3 attempts"), "{reason}");
        }
        other => panic!("expected fallback, got {other:?}"),
    }
    assert_eq!(g.exchanges.len(), 1);
    assert_eq!(g.exchanges[0].attempts, 3);
}

#[tokio::test]
async fn reasoner_falls_back_when_the_round_times_out() {
    let server = keyed_server().await;
    server.push(Reply::Delay(LATE, Box::new(Reply::Text("late".into()))));
    let start = Instant::now();
    let g = reasoner(config(&server, Some(KEY)), Duration::from_millis(300))
        .guess(&observation())
        .await;
    assert!(start.elapsed() < LATE, "{:?}", start.elapsed());
    match &g.source {
        GuessSource::Fallback { reason } => assert!(reason.contains("time limit"), "{reason}"),
        other => panic!("expected fallback, got {other:?}"),
    }
    assert!(g.exchanges[0].error.is_some());
}
