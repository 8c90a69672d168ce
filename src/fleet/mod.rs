//! Many rounds and many games at once: what `geoagent bench` and `geoagent play --games N
//! --parallel P` run.
//!
//! - [`bench`]: one long challenge in direct mode (no browser), rounds played concurrently (at
//!   most `concurrency` in flight, each round's views written to disk as it ends), into one
//!   session folder; resumable.
//! - [`games`]: N browser games over a pool of P browsers and one shared local game server, with
//!   a run file listing the games (seed, session, status, failure reason); resumable.
//! - [`progress`]: the bar or log lines both show.
//!
//! Resume rests on the replay format: a round is done when its line is in `rounds.jsonl`
//! (fsynced as it ends), so a resumed run plays exactly the rounds without a line.

pub mod bench;
pub mod games;
pub mod progress;

use crate::environment::direct::DirectError;
use crate::replay::ReplayError;
use crate::session::round::RoundError;
use crate::session::SessionError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FleetError {
    #[error("replay: {0}")]
    Replay(#[from] ReplayError),
    #[error("direct mode: {0}")]
    Round(#[from] RoundError<DirectError>),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("run file {path}: {detail}")]
    RunFile { path: String, detail: String },
    #[error("cannot resume {what}: {detail}")]
    Resume { what: String, detail: String },
    #[error("a worker task failed: {0}")]
    Task(String),
}
