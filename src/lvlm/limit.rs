//! Per-provider client-side limits: how many calls may be in flight at once (a semaphore), how
//! many may start per minute (`governor`'s GCRA limiter), and a pause when the provider's own
//! rate-limit headers say the window is used up (`x-ratelimit-remaining-requests: 0` with
//! `x-ratelimit-reset-requests` from OpenAI, `anthropic-ratelimit-requests-remaining: 0` with
//! `anthropic-ratelimit-requests-reset` from Anthropic, and their `-tokens` twins).
//!
//! A slot is held for one HTTP attempt only, never across a retry's backoff sleep, so a
//! rate-limited call does not block others from using the concurrency it is not using.

use super::retry::capped_secs;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Calls in flight per provider when nothing else is configured. Hosted APIs take this many
/// concurrent requests on their lowest paid tiers, and it lets 32 parallel games run without
/// queueing; the per-minute limit and the providers' headers are the real guard.
pub(crate) const DEFAULT_MAX_CONCURRENCY: usize = 32;
/// Upper bound on [`LimitConfig::max_concurrency`]: more open connections than this to one API
/// is a typo, not a plan.
pub(crate) const MAX_CONCURRENCY_LIMIT: usize = 1024;
/// Longest pause the rate-limit headers can impose. Request windows reset within a minute; a
/// header asking for longer is more likely a daily token cap, which should fail the round's
/// calls (and fall back) rather than stall the match.
pub(crate) const MAX_HEADER_WAIT: Duration = Duration::from_secs(60);

/// The limits for one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    pub max_concurrency: usize,
    /// Requests started per minute, spread evenly (no burst: OpenAI documents that a per-minute
    /// limit may be enforced per second, so a burst of the whole minute's budget gets 429s).
    pub requests_per_minute: Option<NonZeroU32>,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            requests_per_minute: None,
        }
    }
}

/// Shared by every call to one provider.
pub struct Limiter {
    config: LimitConfig,
    slots: Semaphore,
    rpm: Option<DefaultDirectRateLimiter>,
    /// No call starts before this (set from rate-limit headers).
    paused_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("config", &self.config)
            .field("free_slots", &self.slots.available_permits())
            .finish()
    }
}

impl Limiter {
    pub fn new(config: LimitConfig) -> Self {
        let slots = config.max_concurrency.clamp(1, MAX_CONCURRENCY_LIMIT);
        Self {
            config,
            slots: Semaphore::new(slots),
            rpm: config
                .requests_per_minute
                .map(|n| RateLimiter::direct(Quota::per_minute(n).allow_burst(NonZeroU32::MIN))),
            paused_until: Mutex::new(None),
        }
    }

    /// No per-minute limit and [`MAX_CONCURRENCY_LIMIT`] slots, for tests and direct use.
    pub fn unlimited() -> Self {
        Self::new(LimitConfig {
            max_concurrency: MAX_CONCURRENCY_LIMIT,
            requests_per_minute: None,
        })
    }

    pub fn config(&self) -> LimitConfig {
        self.config
    }

    fn pause(&self) -> Option<Instant> {
        *self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for any header-imposed pause, a per-minute token and a free slot; the slot is
    /// released when the returned permit is dropped.
    pub(crate) async fn acquire(&self) -> Option<SemaphorePermit<'_>> {
        while let Some(until) = self.pause().filter(|t| *t > Instant::now()) {
            tracing::debug!(wait = ?(until - Instant::now()), "provider rate limit used up, waiting");
            tokio::time::sleep_until(until).await;
        }
        if let Some(rpm) = &self.rpm {
            rpm.until_ready().await;
        }
        // The semaphore is never closed, so this only fails if that changes; then run unlimited.
        self.slots.acquire().await.ok()
    }

    /// Reads the provider's rate-limit headers from a response; when a window is used up, later
    /// calls wait until it resets.
    pub fn observe(&self, headers: &HeaderMap, now: SystemTime) {
        let Some(wait) = exhausted_wait(headers, now) else {
            return;
        };
        let until = Instant::now() + wait.min(MAX_HEADER_WAIT);
        let mut guard = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none_or(|t| t < until) {
            *guard = Some(until);
        }
    }
}

/// (remaining, reset) header pairs: OpenAI's resets are durations (`6m0s`), Anthropic's are
/// RFC 3339 times.
const HEADER_PAIRS: [(&str, &str); 4] = [
    (
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ),
    ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    (
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ),
    (
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
    ),
];

/// The longest wait among used-up windows, if any.
pub fn exhausted_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    HEADER_PAIRS
        .iter()
        .filter(|(remaining, _)| get(remaining).and_then(|v| v.parse::<u64>().ok()) == Some(0))
        .filter_map(|(_, reset)| get(reset).and_then(|v| parse_reset(v, now)))
        .max()
}

/// Longest wait a reset header is read as before [`MAX_HEADER_WAIT`] caps the pause: numbers
/// from outside can be anything (`99999999999999999999h`), and must never overflow.
pub const MAX_RESET: Duration = Duration::from_secs(24 * 60 * 60);

/// A reset header: a Go-style duration (`1s`, `6m0s`, `12ms`, `1h2m3.5s`), bare seconds, or an
/// RFC 3339 time. Capped at [`MAX_RESET`]; unreadable values are `None`.
pub fn parse_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Some(d) = parse_go_duration(value) {
        return Some(d);
    }
    if let Ok(secs) = value.parse::<f64>() {
        return capped_secs(secs, MAX_RESET);
    }
    let when = chrono::DateTime::parse_from_rfc3339(value).ok()?;
    let now_ms = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let ahead_ms = when.timestamp_millis().saturating_sub(now_ms).max(0);
    Some(Duration::from_millis(ahead_ms.unsigned_abs()).min(MAX_RESET))
}

/// Parses the durations Go's `time.Duration` prints (`1h2m3.5s`, `6m0s`, `20ms`, `1.5µs`),
/// capped at [`MAX_RESET`]. Whole units are read by `humantime`; Go writes a fraction only on
/// the last unit, which is added here since `humantime` reads whole numbers only.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim().replace('µ', "u");
    // Where the number holding a decimal point starts, if there is one.
    let fraction_at = s.find('.').map(|dot| {
        // Past the last non-digit, which may be several bytes long (`ò.5s`).
        s[..dot]
            .char_indices()
            .rev()
            .find(|(_, c)| !c.is_ascii_digit())
            .map_or(0, |(i, c)| i + c.len_utf8())
    });
    let (whole, fraction) = match fraction_at {
        Some(at) => (&s[..at], Some(&s[at..])),
        None => (s.as_str(), None),
    };
    let mut total = Duration::ZERO;
    if !whole.is_empty() {
        // Go never puts spaces inside a duration; humantime would accept them.
        if whole.contains(char::is_whitespace) {
            return None;
        }
        total = match humantime::parse_duration(whole) {
            Ok(d) => d,
            Err(humantime::DurationError::NumberOverflow) => MAX_RESET,
            Err(_) => return None,
        };
    } else if fraction.is_none() {
        return None;
    }
    if let Some(f) = fraction {
        let unit_at = f.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = f[..unit_at].parse().ok()?;
        let scale = match &f[unit_at..] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total = total.saturating_add(capped_secs(n * scale, MAX_RESET)?);
    }
    Some(total.min(MAX_RESET))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Found by tests/proptest_lvlm.rs: a multi-byte character before the fraction's number.
    #[test]
    fn a_multibyte_character_before_a_fraction_is_no_panic() {
        assert_eq!(parse_go_duration("ò.5s"), None);
        assert_eq!(parse_go_duration("1mò.5s"), None);
        assert_eq!(parse_reset("ò.ોB/1", SystemTime::now()), None);
    }
    use std::sync::Arc;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn parses_go_durations_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01Z
        assert_eq!(parse_go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_go_duration("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(
            parse_go_duration("1h2m3.5s"),
            Some(Duration::from_millis(3_723_500))
        );
        assert_eq!(parse_go_duration("1.5µs"), Some(Duration::from_nanos(1500)));
        assert_eq!(parse_go_duration("20ms"), Some(Duration::from_millis(20)));
        for bad in ["", "s", "5x", "1..2s", "1 s", ".", "1.5", "1m 2s", "-1s"] {
            assert_eq!(parse_go_duration(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_reset("2026-01-01T00:00:30Z", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_reset("2025-12-31T23:00:00Z", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_reset("20", now), Some(Duration::from_secs(20)));
        assert_eq!(parse_reset("soon", now), None);
    }

    #[test]
    fn huge_reset_values_are_capped_not_a_panic() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        for huge in [
            "99999999999999999999h",
            "99999999999999999999.5s",
            "1e300",
            "9999-12-31T23:59:59Z",
            "2562047788015216h",
        ] {
            assert_eq!(parse_reset(huge, now), Some(MAX_RESET), "{huge:?}");
        }
        assert_eq!(
            parse_reset("0000-01-01T00:00:00Z", now),
            Some(Duration::ZERO)
        );
        // Even on a 200 with the window used up: a pause of at most MAX_HEADER_WAIT.
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "99999999999999999999h"),
        ]);
        assert_eq!(exhausted_wait(&h, now), Some(MAX_RESET));
        Limiter::unlimited().observe(&h, now);
    }

    #[test]
    fn only_used_up_windows_impose_a_wait() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "3"),
            ("x-ratelimit-reset-requests", "20s"),
        ]);
        assert_eq!(exhausted_wait(&h, now), None);
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "2s"),
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "6s"),
        ]);
        assert_eq!(exhausted_wait(&h, now), Some(Duration::from_secs(6)));
        let h = headers(&[
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", "2026-01-01T00:00:04Z"),
        ]);
        assert_eq!(exhausted_wait(&h, now), Some(Duration::from_secs(4)));
    }

    /// Runs `n` tasks that each hold a slot for `hold`; returns the most held at once.
    async fn run(limiter: Arc<Limiter>, n: usize, hold: Duration) -> usize {
        let active = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (limiter, active, peak) = (limiter.clone(), active.clone(), peak.clone());
                tokio::spawn(async move {
                    let _slot = limiter.acquire().await;
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(hold).await;
                    active.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        peak.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn thirty_two_calls_at_concurrency_32_overlap() {
        let limiter = Arc::new(Limiter::new(LimitConfig {
            max_concurrency: 32,
            requests_per_minute: None,
        }));
        let start = Instant::now();
        let peak = run(limiter, 32, Duration::from_secs(2)).await;
        assert_eq!(peak, 32, "all 32 calls must be in flight together");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_limit_queues_the_rest() {
        let limiter = Arc::new(Limiter::new(LimitConfig {
            max_concurrency: 2,
            requests_per_minute: None,
        }));
        let start = Instant::now();
        let peak = run(limiter, 6, Duration::from_secs(1)).await;
        assert_eq!(peak, 2);
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn requests_per_minute_spreads_calls() {
        // 1200 per minute = one every 50 ms; five calls need at least four gaps.
        let limiter = Limiter::new(LimitConfig {
            max_concurrency: 8,
            requests_per_minute: NonZeroU32::new(1200),
        });
        let start = std::time::Instant::now();
        for _ in 0..5 {
            drop(limiter.acquire().await);
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(190), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn used_up_header_window_pauses_later_calls() {
        let limiter = Limiter::unlimited();
        limiter.observe(
            &headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "1.5s"),
            ]),
            SystemTime::now(),
        );
        let start = Instant::now();
        drop(limiter.acquire().await);
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
        // A window that asks for an hour is capped.
        limiter.observe(
            &headers(&[
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "1h"),
            ]),
            SystemTime::now(),
        );
        let start = Instant::now();
        drop(limiter.acquire().await);
        assert_eq!(start.elapsed(), MAX_HEADER_WAIT);
    }
}
