//! Retrying model calls: the crate's one retry policy ([`crate::net`]) applied to
//! [`LvlmError`], so every provider retries the same way.
//!
//! Only errors that [`LvlmError::is_retryable`] says are transient are retried. A wait the
//! provider asked for (`Retry-After`) replaces the jittered backoff, capped at
//! [`RetryPolicy::max_delay`] so a hostile or confused server cannot stall a round for hours.

use super::LvlmError;
use std::future::Future;
use std::time::Duration;

pub(crate) use crate::net::capped_secs;
pub use crate::net::{parse_retry_after, RetryPolicy, MAX_RETRY_AFTER};

impl crate::net::Transient for LvlmError {
    fn is_transient(&self) -> bool {
        self.is_retryable()
    }
    fn retry_after(&self) -> Option<Duration> {
        LvlmError::retry_after(self)
    }
}

/// Runs `f(attempt)` (attempt is 1-based) until it succeeds, fails with a non-retryable error, or
/// the policy runs out. Returns the value and how many attempts it took.
///
/// A non-retryable error on the first attempt comes back as it is; any failure after at least one
/// retry comes back as [`LvlmError::Exhausted`] so callers still learn how many attempts were made.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    f: F,
) -> Result<(T, u32), LvlmError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, LvlmError>>,
{
    crate::net::with_retries(policy, f).await.map_err(|e| {
        if e.attempts == 1 && !e.last.is_retryable() {
            e.last
        } else {
            LvlmError::Exhausted {
                attempts: e.attempts,
                last: Box::new(e.last),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::time::Instant;

    fn policy(max_retries: u32, base_ms: u64, max_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(max_ms),
        }
    }

    fn server_error() -> LvlmError {
        LvlmError::Status {
            status: 503,
            body: "busy".into(),
            retry_after: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_then_succeeds() {
        let p = policy(3, 100, 1000);
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let (v, attempts) = with_retries(&p, |attempt| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if attempt < 3 {
                    Err(server_error())
                } else {
                    Ok(attempt * 10)
                }
            }
        })
        .await
        .expect("third attempt succeeds");
        assert_eq!((v, attempts), (30, 3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Two jittered waits: at most 100 ms + 200 ms of virtual time.
        assert!(start.elapsed() <= Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_exactly() {
        let p = policy(2, 1, 10_000);
        let start = Instant::now();
        let (_, attempts) = with_retries(&p, |attempt| async move {
            if attempt == 1 {
                Err(LvlmError::RateLimited {
                    retry_after: Some(Duration::from_secs(4)),
                })
            } else {
                Ok(())
            }
        })
        .await
        .expect("second attempt succeeds");
        assert_eq!(attempts, 2);
        assert_eq!(start.elapsed(), Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn caps_retry_after_at_max_delay() {
        let p = policy(1, 1, 2_000);
        let start = Instant::now();
        let _ = with_retries(&p, |attempt| async move {
            if attempt == 1 {
                Err(LvlmError::Status {
                    status: 503,
                    body: String::new(),
                    retry_after: Some(Duration::from_secs(86_400)),
                })
            } else {
                Ok(())
            }
        })
        .await
        .expect("second attempt succeeds");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_retries() {
        let p = policy(2, 10, 100);
        let calls = AtomicU32::new(0);
        let err = with_retries(&p, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(LvlmError::Timeout(Duration::from_secs(1))) }
        })
        .await
        .expect_err("always fails");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        match err {
            LvlmError::Exhausted { attempts, last } => {
                assert_eq!(attempts, 3);
                assert!(matches!(*last, LvlmError::Timeout(_)));
            }
            other => panic!("expected Exhausted, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_permanent_errors() {
        let p = policy(5, 10, 100);
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let err = with_retries(&p, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err::<(), _>(LvlmError::Status {
                    status: 401,
                    body: "bad key".into(),
                    retry_after: None,
                })
            }
        })
        .await
        .expect_err("401 is final");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert!(matches!(err, LvlmError::Status { status: 401, .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_error_after_a_retry_reports_attempts() {
        let p = policy(5, 10, 100);
        let err = with_retries(&p, |attempt| async move {
            if attempt == 1 {
                Err::<(), _>(server_error())
            } else {
                Err(LvlmError::Empty("no choices".into()))
            }
        })
        .await
        .expect_err("fails");
        assert!(
            matches!(err, LvlmError::Exhausted { attempts: 2, .. }),
            "{err:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn zero_retries_means_one_attempt() {
        let p = policy(0, 10, 100);
        let err = with_retries(&p, |_| async { Err::<(), _>(server_error()) })
            .await
            .expect_err("fails");
        assert!(matches!(err, LvlmError::Exhausted { attempts: 1, .. }));
    }
}
