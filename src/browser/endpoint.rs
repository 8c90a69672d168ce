//! A WebDriver endpoint geoagent did not start (`browser.webdriver_url`, e.g. a Selenium Grid):
//! waited for until it can take a session request, saying what for, so a Grid still starting
//! (not listening yet, or listening with no node registered) is not an error.
//!
//! A Grid 4 says `"ready": false` both while no node has registered and while every slot is
//! taken. Only the first is waited for here: with slots taken the session request itself waits
//! in the Grid's queue (see [`super::GRID_SESSION_WAIT`]), and the pool relies on that queue.

use super::driver::{DRIVER_NOTICE_EVERY, DRIVER_PATIENCE_NOTICE};
use super::BrowserError;
use std::time::{Duration, Instant};

/// A hub and its nodes start in 3–10 s on a quiet machine (tests/common/grid.rs); a loaded 2-core
/// machine takes many times that, and a Grid started a moment before geoagent is not an error.
pub(crate) const ENDPOINT_READY_TIMEOUT: Duration = Duration::from_secs(180);
/// How often `/status` is asked while waiting: the endpoint may be another machine's.
const ENDPOINT_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long one `/status` answer may take; a Grid computes it from its nodes within 2 s.
const STATUS_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Most bytes of a `/status` answer read: a Grid's lists every node and slot (a few KB each);
/// the endpoint is outside geoagent, so its answer is bounded.
const MAX_STATUS_BYTES: usize = 4 << 20;
/// Characters of the endpoint's own message quoted to the user.
const MESSAGE_CHARS: usize = 200;

/// What one look at `/status` found.
#[derive(Debug, PartialEq)]
pub(crate) enum Readiness {
    /// A session request can be sent (it may still queue for a slot).
    Ready,
    /// It answers, but has no browser to offer yet (a Grid whose nodes have not registered).
    Starting(String),
    /// Nothing answered.
    Unreachable(String),
}

/// Judges a `/status` answer: not ready only when it says `ready: false` and lists no node.
/// Anything not shaped like a WebDriver status (an old Grid, a proxy) is left to the session
/// request to report.
pub(crate) fn judge(body: &[u8]) -> Readiness {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Readiness::Ready;
    };
    let value = &v["value"];
    let has_nodes = value["nodes"].as_array().is_some_and(|n| !n.is_empty());
    match value["ready"].as_bool() {
        Some(false) if !has_nodes => Readiness::Starting(format!(
            "it says not ready{}",
            value["message"]
                .as_str()
                .map(|m| format!(" ({})", crate::text::line(m, MESSAGE_CHARS)))
                .unwrap_or_default()
        )),
        _ => Readiness::Ready,
    }
}

/// One look at `url`'s `/status`.
async fn look(client: &reqwest::Client, status_url: &str) -> Readiness {
    let mut resp = match client.get(status_url).send().await {
        Ok(r) => r,
        Err(e) => return Readiness::Unreachable(crate::text::line(&e.to_string(), MESSAGE_CHARS)),
    };
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) if body.len() + c.len() <= MAX_STATUS_BYTES => body.extend_from_slice(&c),
            // Too long to be a status, or cut off: let the session request tell.
            Ok(Some(_)) | Err(_) => return Readiness::Ready,
            Ok(None) => break,
        }
    }
    judge(&body)
}

/// Waits until the endpoint at `url` can take a session request, telling the user what it waits
/// for after [`DRIVER_PATIENCE_NOTICE`] and every [`DRIVER_NOTICE_EVERY`]; fails after
/// [`ENDPOINT_READY_TIMEOUT`] with what the endpoint last said (or that nothing answered).
pub(crate) async fn wait_ready(url: &str) -> Result<(), BrowserError> {
    let not_ready = |detail: String| BrowserError::EndpointNotReady {
        url: crate::text::line(url, MESSAGE_CHARS),
        detail,
    };
    let client = reqwest::Client::builder()
        .timeout(STATUS_REQUEST_TIMEOUT)
        .build()
        .map_err(|e| not_ready(e.to_string()))?;
    let status_url = format!("{}/status", url.trim_end_matches('/'));
    let start = Instant::now();
    let mut next_notice = DRIVER_PATIENCE_NOTICE;
    loop {
        let why = match look(&client, &status_url).await {
            Readiness::Ready => return Ok(()),
            Readiness::Starting(s) => s,
            Readiness::Unreachable(e) => format!("nothing answers ({e})"),
        };
        if start.elapsed() >= ENDPOINT_READY_TIMEOUT {
            return Err(not_ready(format!(
                "after {} s {why}; check that the Grid runs there and that a node has registered",
                ENDPOINT_READY_TIMEOUT.as_secs()
            )));
        }
        if start.elapsed() >= next_notice {
            eprintln!(
                "Waiting for the WebDriver endpoint at {} to be ready: {why}; {} s so far (a Grid takes a while to start and register its nodes; giving up after {} s)",
                crate::text::line(url, MESSAGE_CHARS),
                start.elapsed().as_secs(),
                ENDPOINT_READY_TIMEOUT.as_secs()
            );
            next_notice = start.elapsed() + DRIVER_NOTICE_EVERY;
        }
        tokio::time::sleep(ENDPOINT_POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_status_without_nodes_saying_not_ready_is_waited_for() {
        let starting =
            br#"{"value":{"ready":false,"message":"Selenium Grid not ready.","nodes":[]}}"#;
        assert_eq!(
            judge(starting),
            Readiness::Starting("it says not ready (Selenium Grid not ready.)".into())
        );
        // Every slot taken: the session request queues at the Grid instead.
        let busy = br#"{"value":{"ready":false,"nodes":[{"availability":"UP"}]}}"#;
        assert_eq!(judge(busy), Readiness::Ready);
        assert_eq!(judge(br#"{"value":{"ready":true}}"#), Readiness::Ready);
        assert_eq!(judge(b"<html>not found</html>"), Readiness::Ready);
        // The endpoint's words reach a terminal: no control characters.
        let hostile = br#"{"value":{"ready":false,"message":"a\u001b[2Jb"}}"#;
        match judge(hostile) {
            Readiness::Starting(s) => assert!(!s.contains('\u{1b}'), "{s:?}"),
            r => panic!("{r:?}"),
        }
    }
}
