//! The one round loop, over any [`Environment`]: observe → reason → guess → record, with the
//! round's timings, its replay record (views written and fsynced before its line), a progress
//! hook, and crash recovery for environments that support it ([`Environment::recover`]).
//!
//! A browser game plays its rounds in order through [`play_round`]; direct mode's workers each
//! call it with their own round's handle, concurrently, into one shared [`Recorder`].

use crate::agent::{GuessSource, Reasoner};
use crate::environment::{Environment, GuessTiming, Recovered};
use crate::replay::{ReplayError, ReplayWriter, RoundRecord, Timings};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use thiserror::Error;
use tracing::{info, info_span, warn, Instrument};

/// Called with every round as soon as it is recorded (progress display, run bookkeeping).
pub(crate) type RoundHook<'a> = &'a (dyn Fn(&RoundRecord) + Send + Sync);

/// Why a round was not recorded; `E` is the environment's error.
#[derive(Debug, Error)]
pub enum RoundError<E: std::error::Error + 'static> {
    /// The environment's error is in the message, not a `#[source]`: printed as a chain
    /// (`{:#}`) it would otherwise appear twice, and callers that print `{}` still see why.
    #[error("round {round} failed: {error}")]
    Env { round: usize, error: E },
    #[error("replay: {0}")]
    Replay(#[from] ReplayError),
    #[error("recording round {round} failed: {detail}")]
    Task { round: usize, detail: String },
    /// The provider rejected the API key: every later round would fail the same way, so the
    /// match stops here (finished rounds stay recorded; this one is not, so a resume replays it).
    #[error("round {round}: {detail}")]
    Auth { round: usize, detail: String },
}

impl<E: std::error::Error + 'static> RoundError<E> {
    /// True when the model's API key was rejected: stop the whole run, retrying cannot help.
    pub fn is_auth(&self) -> bool {
        matches!(self, RoundError::Auth { .. })
    }
}

/// Where finished rounds go: one session's replay writer, shared by rounds played at once.
/// Cheap to clone.
#[derive(Clone)]
pub(crate) struct Recorder {
    dir: PathBuf,
    writer: Arc<Mutex<ReplayWriter>>,
}

impl Recorder {
    pub fn new(writer: ReplayWriter) -> Recorder {
        Recorder {
            dir: writer.dir().to_path_buf(),
            writer: Arc::new(Mutex::new(writer)),
        }
    }

    /// Writes the round's views (each fsynced), then appends its line, off the async threads:
    /// a crash after this keeps the round, and a crash before it leaves no line (so the round is
    /// played again on resume).
    async fn record<E: std::error::Error + 'static>(
        &self,
        done: Done,
    ) -> Result<RoundRecord, RoundError<E>> {
        let (dir, writer, round) = (self.dir.clone(), self.writer.clone(), done.round);
        tokio::task::spawn_blocking(move || {
            let views = ReplayWriter::write_views(&dir, done.round, &done.obs_views)?;
            let record = RoundRecord {
                round: done.round,
                location_id: done.location_id,
                views,
                guess: done.guess,
                result: done.result,
                timings: Timings {
                    capture_ms: done.capture_ms,
                    reason_ms: done.reason_ms,
                    guess_ms: done.timing.guess_ms,
                    total_ms: done.started.elapsed().as_millis() as u64,
                },
                finished_at: chrono::Utc::now(),
            };
            // Appending cannot leave the writer inconsistent; a poisoned lock is still good.
            writer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&record)?;
            Ok::<_, ReplayError>(record)
        })
        .await
        .map_err(|e| RoundError::Task {
            round,
            detail: e.to_string(),
        })?
        .map_err(RoundError::Replay)
    }
}

/// A round whose guess the game has scored, before it is recorded.
struct Done {
    round: usize,
    obs_views: Vec<crate::environment::View>,
    capture_ms: u64,
    guess: crate::agent::Guess,
    reason_ms: u64,
    result: crate::game::RoundResult,
    timing: GuessTiming,
    location_id: Option<String>,
    started: Instant,
}

/// Plays round `round` of `env` (observe → reason → guess), records it with `recorder` and
/// calls `hook`. When the environment fails, it is asked to recover: it either plays the round
/// again or hands back the result the game already scored (nothing observed or reasoned is lost).
pub(crate) async fn play_round<E: Environment + ?Sized>(
    env: &mut E,
    round: usize,
    reasoner: &dyn Reasoner,
    recorder: &Recorder,
    hook: Option<RoundHook<'_>>,
) -> Result<RoundRecord, RoundError<E::Error>> {
    let done = play(env, round, reasoner)
        .instrument(info_span!("round", round))
        .await?;
    let record = recorder.record(done).await?;
    info!(
        round,
        points = record.result.points,
        distance_km = format!("{:.1}", record.result.distance_km),
        "round done"
    );
    if let Some(h) = hook {
        h(&record);
    }
    Ok(record)
}

async fn play<E: Environment + ?Sized>(
    env: &mut E,
    round: usize,
    reasoner: &dyn Reasoner,
) -> Result<Done, RoundError<E::Error>> {
    let failed = |error| RoundError::Env { round, error };
    let started = Instant::now();
    loop {
        let obs = match env.observe().await {
            Ok(obs) => obs,
            Err(e) => {
                // Nothing was guessed, so whatever the environment did, the round is played again.
                env.recover(round, false, e).await.map_err(failed)?;
                continue;
            }
        };
        let t1 = Instant::now();
        let guess = reasoner.guess(&obs).await;
        let reason_ms = t1.elapsed().as_millis() as u64;
        if let Some(detail) = guess.auth_failure() {
            return Err(RoundError::Auth {
                round,
                detail: detail.to_string(),
            });
        }
        if let GuessSource::Fallback { reason } = &guess.source {
            warn!(round, %reason, "model failed; using the baseline guess");
        }
        let (result, timing) = match env.guess(guess.pos).await {
            Ok(scored) => scored,
            Err(e) => match env.recover(round, true, e).await.map_err(failed)? {
                Recovered::Replay => continue,
                // The game scored the guess before the failure: keep the round.
                Recovered::Scored(result) => (result, GuessTiming::default()),
            },
        };
        return Ok(Done {
            round,
            capture_ms: obs.capture_ms,
            obs_views: obs.views,
            guess,
            reason_ms,
            result,
            timing,
            location_id: env.location_id(),
            started,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 22 item 7: a round error printed as a chain says its cause once.
    #[test]
    fn a_round_error_says_its_cause_once() {
        let e = RoundError::Env {
            round: 3,
            error: std::io::Error::other("the _ncfa cookie has expired"),
        };
        let chain = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(chain.matches("cookie has expired").count(), 1, "{chain}");
        assert!(chain.contains("round 3 failed"), "{chain}");
    }
}
