//! A timed round's clock as the site keeps it. The site starts round N's clock when the round is
//! requested (the game read, the page load or the Next click after a guess) and reports that
//! moment as the round's `startTime`; everything after it counts: the browser starting, the
//! pause between rounds, a reload, the capture, the model. [`Deadline`] turns one reading of the
//! state into the local instant at which the site stops taking a guess, without trusting that
//! this machine's wall clock agrees with the site's.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The `Date` header has whole seconds: the site's clock may be up to this much later than it
/// says, so the time already spent is read this much longer (the safe side).
const DATE_RESOLUTION: Duration = Duration::from_secs(1);

/// What one read of the game state tells about the open round's clock.
#[derive(Debug, Clone, Copy)]
pub struct ClockReading {
    /// The round's `startTime` (the site's clock).
    pub started: Option<chrono::DateTime<chrono::Utc>>,
    /// The site's clock when it answered (`Date`), if it said.
    pub server_now: Option<SystemTime>,
    /// This machine's monotonic clock when the answer arrived.
    pub received: Instant,
}

impl ClockReading {
    /// How much of the round had gone by when the answer arrived, by the site's own clock when
    /// it sent `Date`, else by this machine's wall clock (which may be off). `None` without a
    /// `startTime`.
    fn elapsed(&self) -> Option<Duration> {
        let started = self.started?;
        let now: chrono::DateTime<chrono::Utc> = match self.server_now {
            Some(t) => chrono::DateTime::<chrono::Utc>::from(t) + DATE_RESOLUTION,
            None => chrono::Utc::now(),
        };
        // A start after "now" (clocks of two of the site's machines disagree) is no time spent.
        Some(
            now.signed_duration_since(started)
                .to_std()
                .unwrap_or(Duration::ZERO),
        )
    }
}

/// When the site stops taking a guess for the open round of a game with a `limit`: the earlier
/// of what the site's `startTime` says (`reading`) and, when this process asked for the round
/// itself, the moment it asked (`requested`): the site cannot have started the clock before the
/// request left. `None` when neither is known.
pub fn deadline(
    limit: Duration,
    reading: &ClockReading,
    requested: Option<Instant>,
) -> Option<Instant> {
    let by_site = reading
        .elapsed()
        .and_then(|spent| reading.received.checked_add(limit.saturating_sub(spent)));
    let by_request = requested.and_then(|at| at.checked_add(limit));
    match (by_site, by_request) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The open round's deadline, shared between the game (which reads the site's state) and the
/// reasoner that must answer in time. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Deadline(Arc<Mutex<Option<Instant>>>);

impl Deadline {
    pub fn set(&self, at: Option<Instant>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    /// The instant the site stops taking a guess for the open round, when known.
    pub fn get(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64, millis: u32) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.timestamp_opt(secs, millis * 1_000_000).unwrap()
    }

    #[test]
    fn the_site_clock_counts_time_spent_before_the_read() {
        let received = Instant::now();
        // Started at 100.5 s; the site answered at "108 s" (Date, whole seconds), so really
        // between 108 and 109 s: up to 8.5 s are spent, 11.5 s of a 20 s limit are left.
        let r = ClockReading {
            started: Some(at(100, 500)),
            server_now: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(108)),
            received,
        };
        let d = deadline(Duration::from_secs(20), &r, None).unwrap();
        assert_eq!(d - received, Duration::from_millis(11_500));
        // A request sent later than the site says the round started does not move it later...
        let later = received + Duration::from_secs(1);
        assert_eq!(
            deadline(Duration::from_secs(20), &r, Some(later)),
            Some(received + Duration::from_millis(11_500))
        );
        // ...but an earlier one (the site's clock is behind ours) does.
        let earlier = received - Duration::from_secs(10);
        assert_eq!(
            deadline(Duration::from_secs(20), &r, Some(earlier)),
            Some(earlier + Duration::from_secs(20))
        );
    }

    #[test]
    fn a_round_over_its_limit_or_from_the_future_is_read_safely() {
        let received = Instant::now();
        let over = ClockReading {
            started: Some(at(100, 0)),
            server_now: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(500)),
            received,
        };
        assert_eq!(
            deadline(Duration::from_secs(20), &over, None),
            Some(received)
        );
        let future = ClockReading {
            started: Some(at(900, 0)),
            server_now: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(500)),
            received,
        };
        assert_eq!(
            deadline(Duration::from_secs(20), &future, None),
            Some(received + Duration::from_secs(20))
        );
        let nothing = ClockReading {
            started: None,
            server_now: None,
            received,
        };
        assert_eq!(deadline(Duration::from_secs(20), &nothing, None), None);
        // Extreme dates from outside do not panic.
        let far = ClockReading {
            started: Some(chrono::DateTime::<chrono::Utc>::MIN_UTC),
            server_now: Some(SystemTime::UNIX_EPOCH),
            received,
        };
        assert_eq!(
            deadline(Duration::from_secs(20), &far, None),
            Some(received)
        );
    }
}
