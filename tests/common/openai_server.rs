//! A scripted OpenAI-compatible Chat Completions server on 127.0.0.1, for tests and benchmarks.
//!
//! It checks every request the way a strict server would (method, path, bearer key, JSON shape,
//! every image a base64 JPEG that really decodes) and answers 400/401/404/405 with OpenAI-style
//! error bodies when something is wrong. Valid requests are answered from a queue of [`Reply`]s,
//! then from a default function; every request is recorded for assertions.
//!
//! Use from `tests/*.rs` with `mod common;` and from benches with
//! `#[path = "../tests/common/openai_server.rs"] mod openai_server;`. It depends only on crates
//! that are (dev-)dependencies of geoagent, not on geoagent itself.
#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Latitude of the default answer (Paris).
pub const DEFAULT_LAT: f64 = 48.8566;
/// Longitude of the default answer (Paris).
pub const DEFAULT_LON: f64 = 2.3522;
/// What the server says when the script is empty and no default was set.
pub const DEFAULT_ANSWER: &str = "The signs are French and traffic keeps right.\n\n```json\n{\"lat\": 48.8566, \"lon\": 2.3522, \"country\": \"FR\", \"confidence\": 0.5, \"rationale\": \"scripted default answer\"}\n```";
/// Request bodies up to this size are accepted: several full-size JPEGs in base64 exceed
/// axum's 2 MB default.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Rough prompt tokens one image costs (OpenAI's tile count for a ~512 px image at high detail).
pub const TOKENS_PER_IMAGE: u64 = 255;
/// Rough characters per token of English text, for plausible usage numbers.
pub const CHARS_PER_TOKEN: u64 = 4;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with this assistant text.
    Text(String),
    /// This status, with an optional `Retry-After` header, and this body.
    Status {
        code: u16,
        retry_after: Option<String>,
        body: String,
    },
    /// Waits, then answers with the inner reply.
    Delay(Duration, Box<Reply>),
    /// 200 with a JSON body cut in half.
    Truncated,
    /// 200 with `"choices": []`.
    EmptyChoices,
    /// 200 with `content: null` and this `refusal`.
    Refusal(String),
}

impl Reply {
    /// A status with an OpenAI-style error body.
    pub fn error(code: u16, message: &str) -> Reply {
        Reply::Status {
            code,
            retry_after: None,
            body: error_body(message, "server_error", None).to_string(),
        }
    }
}

/// What the server was sent.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    /// The parsed body (`Null` when it was not JSON).
    pub body: Value,
    /// Images across all messages.
    pub image_count: usize,
    /// Every text part and string content, in order, joined with newlines.
    pub text: String,
    /// Why the request was rejected, when it was.
    pub rejected: Option<String>,
}

type DefaultFn = Arc<dyn Fn(&RecordedRequest) -> Reply + Send + Sync>;

/// How to run the server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// When set, requests must carry `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
}

struct Shared {
    opts: ServerOptions,
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    default: Mutex<DefaultFn>,
    counter: AtomicU64,
    /// Valid requests being answered now, and the most there ever were at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Hold each valid request until this many are in flight (or the wait runs out).
    gate: Mutex<Option<(usize, Duration)>>,
    arrived: tokio::sync::Notify,
}

/// Counts a request in flight until dropped.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        shared.arrived.notify_waiters();
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running server; stops when dropped.
pub struct OpenAiServer {
    /// `http://127.0.0.1:PORT/v1`
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OpenAiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OpenAiServer {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub async fn start(opts: ServerOptions) -> OpenAiServer {
        let shared = Arc::new(Shared {
            opts,
            script: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            default: Mutex::new(Arc::new(|_: &RecordedRequest| {
                Reply::Text(DEFAULT_ANSWER.to_string())
            })),
            counter: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            gate: Mutex::new(None),
            arrived: tokio::sync::Notify::new(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", any(handle))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OpenAiServer {
            base_url: format!("http://{addr}/v1"),
            shared,
            task,
        }
    }

    /// Queues a reply for the next valid request.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).push_back(reply);
    }

    /// Every request so far, rejected ones included.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The most valid requests that were ever being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Holds every valid request until `n` are in flight at once, or until `max_wait` passed
    /// for it: a client that never sends `n` at once is seen (as a lower
    /// [`Self::max_in_flight`]) without the test depending on how fast requests arrive.
    pub fn hold_until_in_flight(&self, n: usize, max_wait: Duration) {
        *lock(&self.shared.gate) = Some((n, max_wait));
    }

    /// Replies for when the queue is empty.
    pub fn set_default(&self, f: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static) {
        *lock(&self.shared.default) = Arc::new(f);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A small real JPEG of one colour.
pub fn jpeg(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode jpeg");
    out.into_inner()
}

fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &error_body(
            &format!("Invalid URL ({method} {})", uri.path()),
            "invalid_request_error",
            None,
        ),
    )
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut rec = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers: headers.clone(),
        body: parsed.clone(),
        image_count: 0,
        text: String::new(),
        rejected: None,
    };
    let verdict = check(&shared.opts, &method, &headers, &body, &parsed);
    let (status, err) = match verdict {
        Ok((images, text)) => {
            rec.image_count = images;
            rec.text = text;
            (StatusCode::OK, None)
        }
        Err(e) => e,
    };
    if let Some(err) = err {
        rec.rejected = Some(err["error"]["message"].as_str().unwrap_or("").to_string());
        lock(&shared.requests).push(rec);
        return json_response(status, &err);
    }
    let scripted = lock(&shared.script).pop_front();
    let mut reply = match scripted {
        Some(r) => r,
        None => {
            let f = lock(&shared.default).clone();
            f(&rec)
        }
    };
    lock(&shared.requests).push(rec.clone());
    let _in_flight = InFlight::enter(&shared);
    let gate = *lock(&shared.gate);
    if let Some((n, max_wait)) = gate {
        let _ = tokio::time::timeout(max_wait, async {
            loop {
                let arrived = shared.arrived.notified();
                if shared.max_in_flight.load(Ordering::SeqCst) >= n {
                    break;
                }
                arrived.await;
            }
        })
        .await;
    }
    while let Reply::Delay(d, inner) = reply {
        tokio::time::sleep(d).await;
        reply = *inner;
    }
    let n = shared.counter.fetch_add(1, Ordering::SeqCst);
    let model = parsed["model"].as_str().unwrap_or("scripted").to_string();
    let prompt_tokens = rec.text.chars().count() as u64 / CHARS_PER_TOKEN
        + rec.image_count as u64 * TOKENS_PER_IMAGE;
    let completion = |content: Value, refusal: Value, text_len: usize| {
        json!({
            "id": format!("chatcmpl-{n}"),
            "object": "chat.completion",
            "created": 1_700_000_000 + n,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": (text_len as u64 / CHARS_PER_TOKEN).max(1),
                "total_tokens": prompt_tokens + (text_len as u64 / CHARS_PER_TOKEN).max(1)
            }
        })
    };
    match reply {
        Reply::Text(t) => json_response(
            StatusCode::OK,
            &completion(Value::String(t.clone()), Value::Null, t.chars().count()),
        ),
        Reply::Refusal(r) => json_response(
            StatusCode::OK,
            &completion(Value::Null, Value::String(r.clone()), r.chars().count()),
        ),
        Reply::EmptyChoices => {
            let mut v = completion(Value::Null, Value::Null, 0);
            v["choices"] = json!([]);
            json_response(StatusCode::OK, &v)
        }
        Reply::Truncated => {
            let full =
                completion(Value::String(DEFAULT_ANSWER.into()), Value::Null, 100).to_string();
            let cut = full[..full.len() / 2].to_string();
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json")
                .body(Body::from(cut))
                .expect("valid response")
        }
        Reply::Status {
            code,
            retry_after,
            body,
        } => {
            let mut b = Response::builder()
                .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
                .header("content-type", "application/json");
            if let Some(ra) = retry_after {
                b = b.header("retry-after", ra);
            }
            b.body(Body::from(body)).expect("valid response")
        }
        Reply::Delay(..) => unreachable!("delays were unwrapped above"),
    }
}

type Rejection = (StatusCode, Option<Value>);

/// Checks a request like a strict server; returns (images, text) or the error to send.
fn check(
    opts: &ServerOptions,
    method: &Method,
    headers: &HeaderMap,
    raw: &[u8],
    body: &Value,
) -> Result<(usize, String), Rejection> {
    let bad = |msg: String| {
        (
            StatusCode::BAD_REQUEST,
            Some(error_body(&msg, "invalid_request_error", None)),
        )
    };
    if method != Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            Some(error_body(
                &format!("{method} is not allowed; use POST"),
                "invalid_request_error",
                None,
            )),
        ));
    }
    if let Some(key) = &opts.api_key {
        let got = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if got != format!("Bearer {key}") {
            // Like OpenAI, name the key that was presented (OpenAI masks the middle; showing it
            // whole makes the client's redaction testable).
            let presented = got.strip_prefix("Bearer ").unwrap_or(got);
            return Err((
                StatusCode::UNAUTHORIZED,
                Some(error_body(
                    &format!("Incorrect API key provided: {presented}."),
                    "invalid_request_error",
                    Some("invalid_api_key"),
                )),
            ));
        }
    }
    if body.is_null() {
        return Err(bad(format!(
            "We could not parse the JSON body of your request ({} bytes).",
            raw.len()
        )));
    }
    match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => {}
        _ => return Err(bad("you must provide a model parameter".into())),
    }
    if let Some(t) = body.get("max_tokens") {
        if t.as_u64().is_none_or(|t| t == 0) {
            return Err(bad(format!(
                "max_tokens must be a positive integer, got {t}"
            )));
        }
    }
    if let Some(t) = body.get("temperature") {
        if !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t)) {
            return Err(bad(format!("temperature must be between 0 and 2, got {t}")));
        }
    }
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return Err(bad("'messages' must be an array".into()));
    };
    if messages.is_empty() {
        return Err(bad("'messages' must contain at least one message".into()));
    }
    let mut images = 0;
    let mut texts = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        if !["system", "user", "assistant"].contains(&role) {
            return Err(bad(format!("messages[{i}].role {role:?} is not valid")));
        }
        match m.get("content") {
            Some(Value::String(s)) => texts.push(s.clone()),
            Some(Value::Array(parts)) if role == "user" => {
                for (j, p) in parts.iter().enumerate() {
                    match p.get("type").and_then(Value::as_str) {
                        Some("text") => match p.get("text").and_then(Value::as_str) {
                            Some(t) => texts.push(t.to_string()),
                            None => {
                                return Err(bad(format!(
                                    "messages[{i}].content[{j}].text must be a string"
                                )))
                            }
                        },
                        Some("image_url") => {
                            check_image(&p["image_url"])
                                .map_err(|e| bad(format!("messages[{i}].content[{j}]: {e}")))?;
                            images += 1;
                        }
                        other => {
                            return Err(bad(format!(
                                "messages[{i}].content[{j}].type {other:?} is not supported"
                            )))
                        }
                    }
                }
            }
            _ => {
                return Err(bad(format!(
                    "messages[{i}].content must be a string{}",
                    if role == "user" {
                        " or an array of parts"
                    } else {
                        ""
                    }
                )))
            }
        }
    }
    Ok((images, texts.join("\n")))
}

fn check_image(v: &Value) -> Result<(), String> {
    const PREFIX: &str = "data:image/jpeg;base64,";
    let url = v
        .get("url")
        .and_then(Value::as_str)
        .ok_or("image_url.url must be a string")?;
    let b64 = url
        .strip_prefix(PREFIX)
        .ok_or_else(|| format!("image_url.url must start with {PREFIX}"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("image is not valid base64: {e}"))?;
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(|e| format!("image is not a decodable JPEG: {e}"))?;
    if let Some(d) = v.get("detail") {
        if !matches!(d.as_str(), Some("low" | "high" | "auto")) {
            return Err(format!("image_url.detail {d} must be low, high or auto"));
        }
    }
    Ok(())
}
