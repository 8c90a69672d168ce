//! HTTP retries shared by every client in the crate (the model providers in `lvlm`, the
//! Mapillary import, the geoguessr.com API): one retry policy with exponential backoff and full
//! jitter, one loop that retries what an error says is transient, and one reading of the
//! `Retry-After` and `Date` headers, each capped so that a number from outside cannot panic or
//! stall a run.
//!
//! Which errors are transient is the caller's to say ([`Transient`]): only a request that can
//! be sent twice without doing twice (a read) should be retried at all.

use rand::Rng;
use reqwest::header::{HeaderMap, DATE, RETRY_AFTER};
use std::future::Future;
use std::time::{Duration, SystemTime};

/// Retries after the first attempt. Three rides out a brief rate-limit window or a restarting
/// server without turning a dead endpoint into a minutes-long stall.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// First backoff ceiling. Half a second is long enough for a 502 from a restarting proxy to clear
/// and short enough not to matter against a multi-second call.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(500);
/// Longest single wait, also the cap on `Retry-After`. Per-minute rate-limit windows reset
/// within this; anything longer should fail the call and let the caller decide.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);
/// Longest wait a `Retry-After` value is read as. A number from outside can be anything
/// (`1e300` seconds overflows a `Duration`); a day is far beyond any cap a caller applies, so
/// nothing is lost by stopping the reading here.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How often and how long to retry a failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = try once).
    pub max_retries: u32,
    /// Backoff ceiling before the first retry; doubles for each further retry.
    pub base_delay: Duration,
    /// No single wait is longer than this, whatever the backoff or the server says.
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
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// How long to wait before retry number `retry`: the server's `asked` wait when it sent
    /// one (capped), otherwise a uniformly random wait up to the backoff ceiling ("full jitter",
    /// which spreads out clients that failed together).
    pub fn delay_for(&self, retry: u32, asked: Option<Duration>, rng: &mut impl Rng) -> Duration {
        if let Some(wait) = asked {
            return wait.min(self.max_delay);
        }
        let ceiling = self.backoff_ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

/// An error that may go away if the same request is sent again.
pub trait Transient {
    /// A timeout, a dropped connection, a 5xx, a 429: worth another attempt.
    fn is_transient(&self) -> bool;
    /// The wait the server asked for (`Retry-After`), if it did.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// The last error of a call that did not succeed, and how many attempts were made.
#[derive(Debug)]
pub struct Exhausted<E> {
    pub attempts: u32,
    pub last: E,
}

/// Runs `f(attempt)` (attempt is 1-based) until it succeeds, fails with an error that is not
/// [`Transient::is_transient`], or the policy runs out. Returns the value and how many attempts
/// it took.
pub async fn with_retries<T, E, F, Fut>(
    policy: &RetryPolicy,
    mut f: F,
) -> Result<(T, u32), Exhausted<E>>
where
    E: Transient + std::fmt::Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 1u32;
    loop {
        let err = match f(attempt).await {
            Ok(v) => return Ok((v, attempt)),
            Err(e) => e,
        };
        if !err.is_transient() || attempt > policy.max_retries {
            return Err(Exhausted {
                attempts: attempt,
                last: err,
            });
        }
        // The thread-local generator is not Send, so it must not live across the await.
        let wait = policy.delay_for(attempt, err.retry_after(), &mut rand::rng());
        tracing::debug!(attempt, ?wait, error = %err, "request failed, retrying");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// `secs` seconds as a wait no longer than `max`: `None` for NaN and negative numbers, `max`
/// for anything longer (infinity included). Never panics, whatever the number.
pub fn capped_secs(secs: f64, max: Duration) -> Option<Duration> {
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

/// The `Retry-After` of an answer, read as [`parse_retry_after`] does.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v, SystemTime::now())
}

/// The server's clock when it answered (its `Date` header, whole seconds), if it sent one that
/// reads.
pub fn server_date(headers: &HeaderMap) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get(DATE)?.to_str().ok()?.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use reqwest::header::HeaderValue;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::time::Instant;

    fn policy(max_retries: u32, base_ms: u64, max_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(max_ms),
        }
    }

    #[derive(Debug, PartialEq)]
    struct Flaky {
        transient: bool,
        asked: Option<Duration>,
    }

    impl Transient for Flaky {
        fn is_transient(&self) -> bool {
            self.transient
        }
        fn retry_after(&self) -> Option<Duration> {
            self.asked
        }
    }

    impl std::fmt::Display for Flaky {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "flaky")
        }
    }

    const BUSY: Flaky = Flaky {
        transient: true,
        asked: None,
    };
    const FINAL: Flaky = Flaky {
        transient: false,
        asked: None,
    };

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
        let delays: Vec<Duration> = (0..50).map(|_| p.delay_for(3, None, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(400)));
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 40, "full jitter should spread waits");
    }

    #[test]
    fn an_asked_wait_replaces_backoff_and_is_capped() {
        let p = policy(3, 100, 5000);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let two = Some(Duration::from_secs(2));
        assert_eq!(p.delay_for(1, two, &mut rng), Duration::from_secs(2));
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(p.delay_for(1, hour, &mut rng), Duration::from_secs(5));
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

    #[test]
    fn headers_are_read_or_ignored() {
        let mut h = HeaderMap::new();
        assert_eq!((retry_after(&h), server_date(&h)), (None, None));
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        h.insert(
            DATE,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        assert_eq!(
            server_date(&h),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480))
        );
        h.insert(DATE, HeaderValue::from_static("yesterday"));
        assert_eq!(server_date(&h), None);
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
                    Err(BUSY)
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
    async fn honours_an_asked_wait_exactly_up_to_the_cap() {
        let p = policy(2, 1, 3_000);
        let start = Instant::now();
        let (_, attempts) = with_retries(&p, |attempt| async move {
            match attempt {
                1 => Err(Flaky {
                    transient: true,
                    asked: Some(Duration::from_secs(2)),
                }),
                2 => Err(Flaky {
                    transient: true,
                    asked: Some(Duration::from_secs(86_400)),
                }),
                _ => Ok(()),
            }
        })
        .await
        .expect("third attempt succeeds");
        assert_eq!(attempts, 3);
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_retries_and_says_how_often_it_tried() {
        let p = policy(2, 10, 100);
        let calls = AtomicU32::new(0);
        let err = with_retries(&p, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(BUSY) }
        })
        .await
        .expect_err("always fails");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!((err.attempts, err.last), (3, BUSY));
        let once = with_retries(&policy(0, 10, 100), |_| async { Err::<(), _>(BUSY) })
            .await
            .expect_err("fails");
        assert_eq!(once.attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_what_is_not_transient() {
        let p = policy(5, 10, 100);
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let err = with_retries(&p, |attempt| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if attempt == 1 {
                    Err::<(), _>(BUSY)
                } else {
                    Err(FINAL)
                }
            }
        })
        .await
        .expect_err("the second error is final");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!((err.attempts, err.last), (2, FINAL));
        assert!(start.elapsed() <= Duration::from_millis(10));
    }
}
