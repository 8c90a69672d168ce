//! The response cache: a successful answer is stored under the SHA-256 of everything that
//! determines it (provider, endpoint and settings, model, system prompt, every message with the
//! SHA-256 of each image's bytes, `max_tokens`, temperature, reasoning effort), so re-running the
//! same replay or benchmark sends nothing and pays nothing. A hit comes back with
//! `cached: true`, `attempts: 0` and a cost of zero.
//!
//! One JSON file per answer under `<dir>/<first two hex digits>/<hash>.json`, written to a
//! temporary file and renamed, so concurrent runs never read half an entry. Errors are never
//! cached. Unreadable entries are ignored (and overwritten by the next answer).
//!
//! In front of the disk sits a bounded in-memory cache (`quick_cache`) that is also the
//! single-flight: while one call for a key is in flight, an identical request waits for its
//! answer instead of sending a second one (both then get it; the waiter's is marked cached and
//! free). Different keys never wait for each other. When the call fails, nothing is stored and
//! one waiting request makes its own call.

use super::{LvlmError, Part, Provider, Request, Response, Role};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Answers kept in memory (recent ones, for repeats within a run and for merging identical
/// requests in flight); each is a few kilobytes of text.
pub(crate) const MEMORY_ENTRIES: usize = 256;

/// The default cache folder, relative to the working directory.
pub(crate) const DEFAULT_CACHE_DIR: &str = ".geoagent-cache";
/// Bumped when the key's contents change, so old entries are not matched by mistake.
const KEY_VERSION: u32 = 1;

/// A provider whose successful answers are cached on disk.
pub struct CachedProvider {
    inner: Arc<dyn Provider>,
    dir: PathBuf,
    /// Settings that change answers but are not in the request (endpoint, image detail...).
    identity: String,
    /// Recent answers by key; its placeholders merge identical calls in flight.
    memory: quick_cache::sync::Cache<String, Response>,
}

impl CachedProvider {
    pub fn new(inner: Arc<dyn Provider>, dir: PathBuf, identity: String) -> Self {
        Self {
            inner,
            dir,
            identity,
            memory: quick_cache::sync::Cache::new(MEMORY_ENTRIES),
        }
    }

    /// The hex SHA-256 key of `req`.
    pub fn key(&self, req: &Request) -> String {
        let messages: Vec<_> = req
            .messages
            .iter()
            .map(|m| {
                let parts: Vec<_> = m
                    .parts
                    .iter()
                    .map(|p| match p {
                        Part::Text { text } => json!({"text": text}),
                        Part::Image { jpeg } => {
                            json!({"image_sha256": hex::encode(Sha256::digest(jpeg))})
                        }
                    })
                    .collect();
                let role = match m.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                json!({"role": role, "parts": parts})
            })
            .collect();
        let canonical = json!({
            "v": KEY_VERSION,
            "provider": self.inner.name(),
            "identity": self.identity,
            "system": req.system,
            "messages": messages,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "reasoning_effort": req.reasoning_effort,
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    async fn load(&self, path: &Path) -> Option<Response> {
        let bytes = tokio::fs::read(path).await.ok()?;
        match serde_json::from_slice::<Response>(&bytes) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "unreadable cache entry ignored");
                None
            }
        }
    }

    async fn store(&self, path: &Path, resp: &Response) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(resp)?;
        let target = path.to_path_buf();
        tokio::task::spawn_blocking(move || crate::fsio::write_atomic(&target, &bytes))
            .await
            .map_err(std::io::Error::other)?
    }
}

#[async_trait::async_trait]
impl Provider for CachedProvider {
    fn name(&self) -> String {
        self.inner.name()
    }

    async fn complete(&self, req: &Request) -> Result<Response, LvlmError> {
        let key = self.key(req);
        // Either the answer (from memory, or from the identical call this one waited for), or
        // the right to make the call, which later identical requests wait on.
        let guard = match self.memory.get_value_or_guard_async(&key).await {
            Ok(hit) => {
                tracing::debug!(%key, "answered from memory (or an identical call in flight)");
                return Ok(as_cached(hit));
            }
            Err(guard) => guard,
        };
        let path = self.path(&key);
        if let Some(hit) = self.load(&path).await {
            tracing::debug!(%key, "answered from the response cache");
            let _ = guard.insert(hit.clone());
            return Ok(as_cached(hit));
        }
        // On an error the guard is dropped unfilled: nothing is cached, and a waiting identical
        // request makes its own call.
        let resp = self.inner.complete(req).await?;
        if let Err(e) = self.store(&path, &resp).await {
            // A full disk must not cost the round its answer.
            tracing::warn!(path = %path.display(), error = %e, "could not write the response cache");
        }
        let _ = guard.insert(resp.clone());
        Ok(resp)
    }
}

/// A stored answer as handed out again: nothing was sent or paid.
fn as_cached(mut hit: Response) -> Response {
    hit.cached = true;
    hit.attempts = 0;
    hit.request_bytes = 0;
    hit.usage.cost_usd = Some(0.0);
    hit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvlm::{Message, Usage};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    struct Counting {
        calls: AtomicU32,
        delay: Duration,
    }

    #[async_trait::async_trait]
    impl Provider for Counting {
        fn name(&self) -> String {
            "test:m".into()
        }
        async fn complete(&self, req: &Request) -> Result<Response, LvlmError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            if req.system.as_deref() == Some("fail") {
                return Err(LvlmError::Empty("scripted".into()));
            }
            Ok(Response {
                text: format!("answer {n}"),
                model: "m".into(),
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 2,
                    cost_usd: Some(0.5),
                    ..Usage::default()
                },
                attempts: 1,
                ..Response::default()
            })
        }
    }

    fn req(text: &str, image: &[u8]) -> Request {
        Request {
            messages: vec![Message {
                role: Role::User,
                parts: vec![
                    Part::Text { text: text.into() },
                    Part::Image {
                        jpeg: image.to_vec(),
                    },
                ],
            }],
            ..Request::default()
        }
    }

    fn cached(dir: &Path, delay: Duration) -> (Arc<Counting>, CachedProvider) {
        let inner = Arc::new(Counting {
            calls: AtomicU32::new(0),
            delay,
        });
        let c = CachedProvider::new(inner.clone(), dir.to_path_buf(), "id".into());
        (inner, c)
    }

    #[tokio::test]
    async fn second_identical_call_is_free_and_marked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (inner, c) = cached(dir.path(), Duration::ZERO);
        let first = c.complete(&req("where?", b"img")).await.expect("ok");
        assert!(!first.cached);
        assert_eq!(first.usage.cost_usd, Some(0.5));
        let again = c.complete(&req("where?", b"img")).await.expect("ok");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        assert!(again.cached);
        assert_eq!(again.text, first.text);
        assert_eq!((again.attempts, again.usage.cost_usd), (0, Some(0.0)));
        assert_eq!(
            again.usage.input_tokens, 10,
            "tokens are kept for the record"
        );
        // A fresh provider over the same folder (a re-run) hits too.
        let (inner2, c2) = cached(dir.path(), Duration::ZERO);
        assert!(
            c2.complete(&req("where?", b"img"))
                .await
                .expect("ok")
                .cached
        );
        assert_eq!(inner2.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn any_difference_misses_and_errors_are_not_cached() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (inner, c) = cached(dir.path(), Duration::ZERO);
        c.complete(&req("where?", b"img")).await.expect("ok");
        c.complete(&req("where?", b"img2")).await.expect("ok");
        c.complete(&req("where!", b"img")).await.expect("ok");
        let mut r = req("where?", b"img");
        r.temperature = Some(0.3);
        c.complete(&r).await.expect("ok");
        let other = CachedProvider::new(inner.clone(), dir.path().to_path_buf(), "other".into());
        other.complete(&req("where?", b"img")).await.expect("ok");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 5);
        let mut f = req("x", b"i");
        f.system = Some("fail".into());
        assert!(c.complete(&f).await.is_err());
        assert!(c.complete(&f).await.is_err());
        assert_eq!(inner.calls.load(Ordering::SeqCst), 7);
    }

    #[tokio::test]
    async fn corrupt_entries_are_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (inner, c) = cached(dir.path(), Duration::ZERO);
        let r = req("where?", b"img");
        let path = c.path(&c.key(&r));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, b"{\"text\": \"cut").expect("write");
        assert!(!c.complete(&r).await.expect("ok").cached);
        assert!(c.complete(&r).await.expect("ok").cached);
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn identical_calls_in_flight_merge_into_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (inner, c) = cached(dir.path(), Duration::from_secs(2));
        let c = Arc::new(c);
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move { c.complete(&req("same", b"img")).await })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.expect("join").expect("ok"));
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1, "one upstream call");
        assert!(answers.iter().all(|a| a.text == answers[0].text));
        assert_eq!(answers.iter().filter(|a| !a.cached).count(), 1, "one paid");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_in_flight_lets_the_waiter_call_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (inner, c) = cached(dir.path(), Duration::from_secs(1));
        let c = Arc::new(c);
        let mut f = req("x", b"i");
        f.system = Some("fail".into());
        let (a, b) = tokio::join!(c.complete(&f), c.complete(&f));
        assert!(a.is_err() && b.is_err());
        assert_eq!(
            inner.calls.load(Ordering::SeqCst),
            2,
            "errors are not shared"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_misses_do_not_wait_for_each_other() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, c) = cached(dir.path(), Duration::from_secs(2));
        let c = Arc::new(c);
        let start = tokio::time::Instant::now();
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let c = c.clone();
                tokio::spawn(async move { c.complete(&req(&format!("q{i}"), b"img")).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("join").expect("ok");
        }
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
    }
}
