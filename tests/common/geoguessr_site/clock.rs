//! The replica's round clock, as `../shared/GEOGUESSR.md` describes the site's:
//!
//! - round 1's clock starts with the game (created or joined); round N+1's starts when it is
//!   requested after round N was scored: a read of the game (`GET /api/v3/games/{t}`) or a load
//!   of the game page. A guess does not start the next round, and neither does the pause after
//!   it: the next round's `startTime` is the request's moment.
//! - a round whose time limit has passed without a guess is booked as timed out (0 points, the
//!   round counted) on the next read, page load or guess of the game, as the site does lazily;
//!   the page's own clock also posts a timeout when it runs out ([`super::page`]).
//! - a guess for a round already scored (its next round not requested yet) is refused with
//!   "round already guessed"; a `timedOut` post books the open round as timed out.
//! - what the site does with a guess that arrives after the deadline is not known: a start
//!   option ([`LateGuess`]) makes the replica refuse it or book it with 0 points.

use super::{Game, Guess};
use serde_json::Value;
use std::time::{Instant, SystemTime};

/// What the site does with a guess that arrives after its round's time limit (unknown: both are
/// played by the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LateGuess {
    /// The round is booked as timed out without a pin and the guess refused ("round already
    /// guessed").
    #[default]
    Refused,
    /// The guess is kept as the round's, with 0 points and `timedOut`.
    Booked,
}

/// When a round's clock started: this machine's monotonic clock (for the limit) and the wall
/// clock (for `startTime`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Start {
    pub at: Instant,
    pub wall: SystemTime,
}

impl Start {
    pub fn now() -> Start {
        Start {
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// `startTime` as the site writes it (seven fractional digits, explicit offset).
    pub fn json(&self) -> Value {
        use chrono::Timelike;
        let t: chrono::DateTime<chrono::Utc> = self.wall.into();
        Value::String(format!(
            "{}.{:07}+00:00",
            t.format("%Y-%m-%dT%H:%M:%S"),
            t.nanosecond() / 100
        ))
    }
}

/// Rounds whose clock has started.
pub(super) fn started(g: &Game) -> usize {
    g.starts.len()
}

/// A round is open: started and not guessed.
pub(super) fn open(g: &Game) -> bool {
    g.starts.len() > g.guesses.len()
}

/// A read or page load: books an overdue round as timed out, then starts the next round when
/// the last one was scored.
pub(super) fn on_request(g: &mut Game) {
    book_overdue(g);
    if !open(g) && g.guesses.len() < g.rounds.len() {
        g.starts.push(Start::now());
    }
}

/// The open round's time has run out.
pub(super) fn overdue(g: &Game) -> bool {
    open(g)
        && g.time_limit > 0
        && g.starts[g.guesses.len()].at.elapsed().as_secs_f64() > f64::from(g.time_limit)
}

/// Books the open round as timed out, without a pin, when its time has run out.
pub(super) fn book_overdue(g: &mut Game) {
    if overdue(g) {
        book_timeout(g, None);
    }
}

/// Books the open round as timed out: 0 points, with the pin when one was placed.
pub(super) fn book_timeout(g: &mut Game, pin: Option<(f64, f64)>) {
    let n = g.guesses.len();
    let p = &g.rounds[n];
    let (lat, lng) = pin.unwrap_or((0.0, 0.0));
    g.guesses.push(Guess {
        lat,
        lng,
        points: 0,
        meters: super::haversine_m((p.lat, p.lng), (lat, lng)),
        time: u64::from(g.time_limit),
        timed_out: true,
        at: Instant::now(),
    });
}

/// Seconds since the open round started.
pub(super) fn elapsed_s(g: &Game) -> f64 {
    g.starts
        .get(g.guesses.len())
        .map_or(0.0, |s| s.at.elapsed().as_secs_f64())
}
