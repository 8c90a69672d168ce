//! Shared by the benches: an OpenAI-compatible Chat Completions server on 127.0.0.1 that answers
//! every request after a fixed delay, like a remote model with constant latency.
//!
//! Deliberately lighter than `tests/common/openai_server.rs`: it does not decode or keep the
//! images (1,000 rounds × 4 views would cost seconds of CPU and hundreds of MB in the server,
//! which the benchmark would then measure instead of geoagent). It reads the whole body, checks
//! that it is a chat request with images, counts requests and the peak in flight.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Request bodies up to this size are accepted (several base64 JPEGs).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// The answer: reasoning text and the JSON block the prompts ask for.
const ANSWER: &str = "Right-hand traffic, white dashed centre line, temperate forest.\n\n```json\n{\"lat\": 48.8566, \"lon\": 2.3522, \"country\": \"FR\", \"confidence\": 0.4, \"rationale\": \"constant-latency bench model\"}\n```";

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub peak: AtomicUsize,
    pub images: AtomicUsize,
    pub rejected: AtomicUsize,
}

struct Shared {
    delay: Duration,
    counters: Arc<Counters>,
}

pub struct SlowModel {
    /// `http://127.0.0.1:PORT/v1`
    pub base_url: String,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlowModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SlowModel {
    pub async fn start(delay: Duration) -> SlowModel {
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            delay,
            counters: counters.clone(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(handle))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        SlowModel {
            base_url: format!("http://{addr}/v1"),
            counters,
            task,
        }
    }
}

async fn handle(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let c = &s.counters;
    let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    c.peak.fetch_max(now, Ordering::SeqCst);
    c.requests.fetch_add(1, Ordering::SeqCst);
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let images = parsed["messages"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["content"].as_array())
                .flatten()
                .filter(|p| p["type"] == "image_url")
                .count()
        })
        .unwrap_or(0);
    c.images.fetch_add(images, Ordering::SeqCst);
    tokio::time::sleep(s.delay).await;
    c.in_flight.fetch_sub(1, Ordering::SeqCst);
    if parsed["model"].as_str().is_none() || images == 0 {
        c.rejected.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": "expected a chat request with images", "type": "invalid_request_error"}})),
        )
            .into_response();
    }
    Json(json!({
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000u64,
        "model": parsed["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 300 * images as u64 + 400, "completion_tokens": 60, "total_tokens": 300 * images as u64 + 460}
    }))
    .into_response()
}

/// A shared LVLM reasoner over the OpenAI client pointed at `base_url`.
pub fn reasoner(
    base_url: &str,
    map: &geoagent::game::Map,
) -> std::sync::Arc<dyn geoagent::agent::Reasoner> {
    use geoagent::agent::baseline::baseline_point;
    use geoagent::agent::prompt::PromptSet;
    use geoagent::agent::reasoner::{LvlmReasoner, ReasonerOptions};
    use geoagent::lvlm::openai::{OpenAiClient, OpenAiConfig};
    use geoagent::lvlm::retry::RetryPolicy;
    let client = OpenAiClient::new(OpenAiConfig {
        base_url: base_url.to_string(),
        model: "slow-2s".into(),
        api_key: None,
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy::default(),
        image_detail: None,
    })
    .expect("client");
    let prompts = PromptSet::builtin("cot").expect("prompts");
    Arc::new(LvlmReasoner::new(
        Arc::new(client),
        prompts,
        baseline_point(map),
        ReasonerOptions::default(),
    ))
}
