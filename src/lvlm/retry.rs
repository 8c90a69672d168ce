//! Retrying model calls: the shared retry policy, exponential backoff with full jitter, and
//! `Retry-After` parsing, so every provider retries the same way.
//!
//! Only errors that [`LvlmError::is_retryable`] says are transient are retried. A wait the
//! provider asked for (`Retry-After`) replaces the jittered backoff, capped at
//! [`RetryPolicy::max_delay`] so a hostile or confused server cannot stall a round for hours.

use super::LvlmError;
use rand::Rng;
use std::future::Future;
use std::time::{Duration, SystemTime};

/// Retries after the first attempt. Three rides out a brief rate-limit window or a restarting
/// inference server without turning a dead endpoint into a minutes-long stall.
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 3;
/// First backoff ceiling. Half a second is long enough for a 502 from a restarting proxy to clear
/// and short enough not to matter against a multi-second model call.
pub(crate) const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(500);
/// Longest single wait, also the cap on `Retry-After`. Providers' per-minute rate-limit windows
/// reset within this; anything longer should fail the call and let the round fall back.
pub(crate) const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);

/// How often and how long to retry a failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = try once).
    pub max_retries: u32,
    /// Backoff ceiling before the first retry; doubles for each further retry.
    pub base_delay: Duration,
    /// No single wait is longer than this, whatever the backoff or the provider says.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: DEFAULT_MAX_RETRIES,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
        }
    }
}

impl RetryPolicy {
    /// The jitter ceiling before retry number `retry` (1-based): `base · 2^(retry-1)`, capped.
    pub(crate) fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// How long to wait before retry number `retry` after `err`: the provider's `Retry-After`
    /// when it sent one (capped), otherwise a uniformly random wait up to the backoff ceiling
    /// ("full jitter", which spreads out clients that failed together).
    pub(crate) fn delay_for(&self, retry: u32, err: &LvlmError, rng: &mut impl Rng) -> Duration {
        if let Some(wait) = err.retry_after() {
            return wait.min(self.max_delay);
        }
        let ceiling = self.backoff_ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

/// Longest wait a `Retry-After` value is read as. A number from outside can be anything
/// (`1e300` seconds overflows a `Duration`); a day is far beyond [`DEFAULT_MAX_DELAY`], which
/// caps the wait actually taken, so nothing is lost by stopping the reading here.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// `secs` seconds as a wait no longer than `max`: `None` for NaN and negative numbers, `max`
/// for anything longer (infinity included). Never panics, whatever the number.
pub(crate) fn capped_secs(secs: f64, max: Duration) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    if secs >= max.as_secs_f64() {
        return Some(max);
    }
    Duration::try_from_secs_f64(secs).ok().map(|d| d.min(max))
}

/// Parses a `Retry-After` header value: delta-seconds (`"120"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, plus the obsolete RFC 850 and asctime forms, read by
/// `httpdate`). A date in the past means "now" (zero); anything unreadable is `None`; anything
/// longer than [`MAX_RETRY_AFTER`] is read as that.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "a very long time", not "no header".
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    // Some servers send fractional seconds although the RFC does not allow it.
    if let Ok(secs) = value.parse::<f64>() {
        return capped_secs(secs, MAX_RETRY_AFTER);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// Runs `f(attempt)` (attempt is 1-based) until it succeeds, fails with a non-retryable error, or
/// the policy runs out. Returns the value and how many attempts it took.
///
/// A non-retryable error on the first attempt comes back as it is; any failure after at least one
/// retry comes back as [`LvlmError::Exhausted`] so callers still learn how many attempts were made.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    mut f: F,
) -> Result<(T, u32), LvlmError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, LvlmError>>,
{
    let mut attempt = 1u32;
    loop {
        let err = match f(attempt).await {
            Ok(v) => return Ok((v, attempt)),
            Err(e) => e,
        };
        let retries_done = attempt - 1;
        if !err.is_retryable() && attempt == 1 {
            return Err(err);
        }
        if !err.is_retryable() || retries_done >= policy.max_retries {
            return Err(LvlmError::Exhausted {
                attempts: attempt,
                last: Box::new(err),
            });
        }
        // The thread-local generator is not Send, so it must not live across the await.
        let wait = policy.delay_for(attempt, &err, &mut rand::rng());
        tracing::debug!(attempt, ?wait, error = %err, "model call failed, retrying");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
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

    #[test]
    fn backoff_ceiling_doubles_and_caps() {
        let p = policy(10, 100, 1000);
        let got: Vec<u128> = (1..=6).map(|r| p.backoff_ceiling(r).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
        // Huge retry numbers must not overflow.
        assert_eq!(p.backoff_ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn jittered_delays_stay_under_the_ceiling_and_vary() {
        let p = policy(10, 100, 1000);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let delays: Vec<Duration> = (0..50)
            .map(|_| p.delay_for(3, &server_error(), &mut rng))
            .collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(400)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 40, "full jitter should spread waits");
    }

    #[test]
    fn retry_after_replaces_backoff_and_is_capped() {
        let p = policy(3, 100, 5000);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let asked = LvlmError::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(p.delay_for(1, &asked, &mut rng), Duration::from_secs(2));
        let greedy = LvlmError::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(p.delay_for(1, &greedy, &mut rng), Duration::from_secs(5));
    }

    #[test]
    fn parses_delta_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00Z
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:10 2015", now),
            Some(Duration::from_secs(10))
        );
        // A date in the past means retry now.
        assert_eq!(
            parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "soon", "-5", "Wed, 99 Oct 2015 07:28:00 GMT", "NaN"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn huge_retry_after_values_are_capped_not_a_panic() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        for huge in [
            "1e300",
            "inf",
            "99999999999999999999999999",
            "18446744073709551616",
            "1.8e19",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(
                parse_retry_after(huge, now),
                Some(MAX_RETRY_AFTER),
                "{huge:?}"
            );
        }
        assert_eq!(
            capped_secs(f64::MAX, MAX_RETRY_AFTER),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(capped_secs(-0.5, MAX_RETRY_AFTER), None);
        assert_eq!(capped_secs(f64::NAN, MAX_RETRY_AFTER), None);
        assert_eq!(
            capped_secs(0.25, MAX_RETRY_AFTER),
            Some(Duration::from_millis(250))
        );
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
