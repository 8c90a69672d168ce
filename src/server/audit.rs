//! The optional record of every request and its full response (for fairness checks and tests).

use super::state::AppState;
use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::Response,
};
use serde::Serialize;

/// One request and its response, as recorded when auditing is on.
#[derive(Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub method: String,
    /// Path with query string, e.g. `/?seed=1`.
    pub path: String,
    pub status: u16,
    /// The response's `Content-Type`, empty when it had none.
    pub content_type: String,
    /// The complete response body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for AuditEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditEntry")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Records request and response when auditing is on.
pub(super) async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.audit_on() {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let resp = next.run(req).await;
    let (parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("audit could not read the response body of {method} {path}: {e}");
            Bytes::new()
        }
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    state.push_audit(AuditEntry {
        method,
        path,
        status: parts.status.as_u16(),
        content_type,
        body: bytes.to_vec(),
    });
    Response::from_parts(parts, Body::from(bytes))
}
