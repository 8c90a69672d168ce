//! The scripted-server machinery shared by the per-provider test servers
//! (`anthropic_server.rs`, `gemini_server.rs`, `ollama_server.rs`, `responses_server.rs`): a
//! 127.0.0.1 listener, a queue of [`Reply`]s answered in order (then a default), a record of every
//! request, and fault injection (status codes with `Retry-After`, delays, bodies cut in half,
//! extra headers). Each provider file supplies a [`Dialect`]: how that API checks a request
//! (method, path, auth headers, JSON shape, image encoding) and how it words its answers.
//!
//! Include with `#[path = "common/scripted_server.rs"] mod scripted_server;` next to the
//! provider files, which refer to it as `crate::scripted_server`.
#![allow(dead_code)]

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server answers when the script is empty: a valid JSON guess (Paris).
pub const DEFAULT_ANSWER: &str =
    "The signs are French.\n```json\n{\"lat\": 48.8566, \"lon\": 2.3522, \"country\": \"FR\"}\n```";
/// Request bodies up to this size are accepted: several full-size JPEGs in base64 exceed
/// axum's 2 MB default.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Prompt tokens reported per image (plausible, and lets tests check usage mapping exactly).
pub const TOKENS_PER_IMAGE: u64 = 255;
/// Characters per reported token of text.
pub const CHARS_PER_TOKEN: u64 = 4;

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Success with this text.
    Text(String),
    /// Success with visible reasoning and then this text.
    Reasoned { reasoning: String, text: String },
    /// The API's refusal shape, with this message where it has one.
    Refusal(String),
    /// Success with no choices / candidates / content.
    Empty,
    /// This status, an optional `Retry-After` and this body (the dialect's error shape when
    /// `body` is `None`).
    Status {
        code: u16,
        retry_after: Option<String>,
        body: Option<String>,
    },
    /// Waits, then answers with the inner reply.
    Delay(Duration, Box<Reply>),
    /// A success body cut in half.
    Truncated,
    /// The inner reply with extra response headers (rate-limit headers).
    Headers(Vec<(&'static str, String)>, Box<Reply>),
    /// 200 with exactly this JSON.
    Raw(Value),
}

impl Reply {
    pub fn status(code: u16) -> Reply {
        Reply::Status {
            code,
            retry_after: None,
            body: None,
        }
    }

    pub fn rate_limited(retry_after: &str) -> Reply {
        Reply::Status {
            code: 429,
            retry_after: Some(retry_after.to_string()),
            body: None,
        }
    }
}

/// What the server was sent.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The parsed body (`Null` when it was not JSON).
    pub body: Value,
    pub image_count: usize,
    /// Every text part, in order, joined with newlines.
    pub text: String,
    /// Why the request was rejected, when it was.
    pub rejected: Option<String>,
}

/// A successful check: images and text found.
pub struct Checked {
    pub images: usize,
    pub text: String,
}

/// A rejected request: status and the API's error body.
pub struct Rejected {
    pub status: u16,
    pub body: Value,
}

/// One provider's wire format.
pub trait Dialect: Send + Sync + 'static {
    /// Validates a request like the real API would.
    fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Checked, Rejected>;
    /// The success body for `reply` (`Text`, `Reasoned`, `Refusal`, `Empty`).
    fn success(&self, reply: &Reply, req: &RecordedRequest, usage: (u64, u64)) -> Value;
    /// The API's error body for `status`.
    fn error(&self, status: u16, message: &str) -> Value;
}

struct Shared {
    dialect: Box<dyn Dialect>,
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    default: Mutex<Reply>,
    counter: AtomicU64,
}

/// A running server; stops when dropped.
pub struct ScriptedServer {
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedServer {
    pub async fn start(dialect: impl Dialect) -> ScriptedServer {
        let shared = Arc::new(Shared {
            dialect: Box::new(dialect),
            script: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            default: Mutex::new(Reply::Text(DEFAULT_ANSWER.into())),
            counter: AtomicU64::new(0),
        });
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ScriptedServer {
            origin: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// Queues a reply for the next valid request.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).push_back(reply);
    }

    /// The reply used when the queue is empty.
    pub fn set_default(&self, reply: Reply) {
        *lock(&self.shared.default) = reply;
    }

    /// Every request so far, rejected ones included.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn json_response(status: u16, body: String, extra: &[(&'static str, String)]) -> Response {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (k, v) in extra {
        b = b.header(*k, v.as_str());
    }
    b.body(Body::from(body)).expect("valid response")
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut rec = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers.clone(),
        body: parsed.clone(),
        image_count: 0,
        text: String::new(),
        rejected: None,
    };
    match shared.dialect.check(&method, &uri, &headers, &parsed) {
        Ok(c) => {
            rec.image_count = c.images;
            rec.text = c.text;
        }
        Err(r) => {
            rec.rejected = Some(r.body.to_string());
            lock(&shared.requests).push(rec);
            return json_response(r.status, r.body.to_string(), &[]);
        }
    }
    let scripted = lock(&shared.script).pop_front();
    let mut reply = scripted.unwrap_or_else(|| lock(&shared.default).clone());
    lock(&shared.requests).push(rec.clone());
    let mut extra = Vec::new();
    loop {
        match reply {
            Reply::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                reply = *inner;
            }
            Reply::Headers(h, inner) => {
                extra.extend(h);
                reply = *inner;
            }
            _ => break,
        }
    }
    shared.counter.fetch_add(1, Ordering::SeqCst);
    let prompt = rec.text.chars().count() as u64 / CHARS_PER_TOKEN
        + rec.image_count as u64 * TOKENS_PER_IMAGE;
    let completion = |t: &str| (t.chars().count() as u64 / CHARS_PER_TOKEN).max(1);
    match reply {
        Reply::Status {
            code,
            retry_after,
            body,
        } => {
            if let Some(ra) = retry_after {
                extra.push(("retry-after", ra));
            }
            let body = body.unwrap_or_else(|| {
                shared
                    .dialect
                    .error(code, &format!("scripted error {code}"))
                    .to_string()
            });
            json_response(code, body, &extra)
        }
        Reply::Truncated => {
            let full = shared
                .dialect
                .success(&Reply::Text(DEFAULT_ANSWER.into()), &rec, (prompt, 20))
                .to_string();
            json_response(200, full[..full.len() / 2].to_string(), &extra)
        }
        Reply::Raw(v) => json_response(200, v.to_string(), &extra),
        ref r @ (Reply::Text(ref t) | Reply::Refusal(ref t)) => {
            let body = shared.dialect.success(r, &rec, (prompt, completion(t)));
            json_response(200, body.to_string(), &extra)
        }
        ref r @ Reply::Reasoned { ref text, .. } => {
            let body = shared.dialect.success(r, &rec, (prompt, completion(text)));
            json_response(200, body.to_string(), &extra)
        }
        Reply::Empty => {
            let body = shared.dialect.success(&Reply::Empty, &rec, (prompt, 0));
            json_response(200, body.to_string(), &extra)
        }
        Reply::Delay(..) | Reply::Headers(..) => unreachable!("unwrapped above"),
    }
}

/// A request-level rejection with the dialect's error body.
pub fn reject(dialect: &dyn Dialect, status: u16, message: String) -> Rejected {
    Rejected {
        status,
        body: dialect.error(status, &message),
    }
}

/// Checks a base64 string is a decodable JPEG.
pub fn check_jpeg_base64(b64: &str) -> Result<(), String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("image is not valid base64: {e}"))?;
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(|e| format!("image is not a decodable JPEG: {e}"))?;
    Ok(())
}

/// A header's value as text ("" when absent).
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
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
