//! How many games each client may create: a per-address token bucket (`governor`'s GCRA), so
//! one client reaching a `serve` bound beyond loopback cannot flood it with games.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Games one address may create per minute once its burst is spent: a person starts a game
/// every few minutes; a script starting one a second is not a person.
pub(crate) const DEFAULT_CREATIONS_PER_MINUTE: u32 = 30;
/// Games one address may create at once: room for a classroom behind one NAT address.
pub const DEFAULT_CREATION_BURST: u32 = 30;
/// Client addresses remembered before forgetting the ones whose buckets are full again: bounds
/// the limiter's memory however many addresses a flood comes from.
const MAX_TRACKED_CLIENTS: usize = 10_000;

/// A creation budget per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreationLimit {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Default for CreationLimit {
    fn default() -> Self {
        CreationLimit {
            per_minute: NonZeroU32::new(DEFAULT_CREATIONS_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(DEFAULT_CREATION_BURST).unwrap_or(NonZeroU32::MIN),
        }
    }
}

pub(super) struct CreationLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl CreationLimiter {
    pub(super) fn new(limit: CreationLimit) -> Self {
        let quota = Quota::per_minute(limit.per_minute).allow_burst(limit.burst);
        CreationLimiter {
            limiter: RateLimiter::keyed(quota),
        }
    }

    /// `Ok` when `client` may create a game now, else how long until it may.
    pub(super) fn check(&self, client: IpAddr) -> Result<(), Duration> {
        if self.limiter.len() > MAX_TRACKED_CLIENTS {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_bucket() {
        let limit = CreationLimit {
            per_minute: NonZeroU32::new(1).unwrap(),
            burst: NonZeroU32::new(3).unwrap(),
        };
        let l = CreationLimiter::new(limit);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let wait = l.check(a).unwrap_err();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(
            l.check(b).is_ok(),
            "another address is not limited by the first"
        );
    }
}
