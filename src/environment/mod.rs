//! What the agent sees and where its guesses go: the `Environment` seam between playing a game
//! (in a browser) and reasoning about it.
//!
//! The reasoner only ever receives an [`Observation`]: pixels plus the map's public facts. Truth
//! arrives afterwards, in the [`RoundResult`] the environment returns for a guess.
//!
//! Two environments implement it: the local game in headless Chromium
//! ([`crate::browser::local_game::LocalGame`]) and [`direct::DirectGame`], the same rounds
//! rendered and scored without a browser (for benchmarks and large runs).

pub mod direct;

use crate::game::RoundResult;
use crate::geo::{Bounds, LatLon};
use serde::{Deserialize, Serialize};

/// One captured picture of the round's panorama.
#[derive(Clone, Serialize, Deserialize)]
pub struct View {
    /// Compass heading of the view's centre in degrees (0 = north, 90 = east).
    pub heading: f64,
    pub pitch: f64,
    /// Horizontal field of view in degrees (smaller = zoomed in).
    pub fov: f64,
    pub width: u32,
    pub height: u32,
    /// JPEG bytes, exactly as captured (no metadata).
    #[serde(skip)]
    pub jpeg: Vec<u8>,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View")
            .field("heading", &self.heading)
            .field("pitch", &self.pitch)
            .field("fov", &self.fov)
            .field("size", &(self.width, self.height))
            .field("jpeg_bytes", &self.jpeg.len())
            .finish()
    }
}

/// Everything the agent may know about a round before it guesses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Observation {
    /// 1-based round number.
    pub round: usize,
    pub rounds: usize,
    pub views: Vec<View>,
    /// The guess map's visible area (public: the player sees the map).
    pub map_view: Bounds,
    pub map_name: String,
    /// Milliseconds spent capturing the views.
    pub capture_ms: u64,
}

/// Timings of the environment's side of a round.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct GuessTiming {
    /// Placing the marker, pressing Guess and reading the result.
    pub guess_ms: u64,
}

/// A game the agent plays round by round.
#[async_trait::async_trait]
pub trait Environment: Send {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Prepares the current round and returns what the agent may see.
    async fn observe(&mut self) -> Result<Observation, Self::Error>;

    /// Submits a guess for the current round, returns the game's result and moves on.
    async fn guess(&mut self, at: LatLon) -> Result<(RoundResult, GuessTiming), Self::Error>;
}
