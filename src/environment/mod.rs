//! What the agent sees and where its guesses go: the `Environment` seam between playing a game
//! (in a browser) and reasoning about it.
//!
//! The reasoner only ever receives an [`Observation`]: pixels plus the map's public facts. Truth
//! arrives afterwards, in the [`RoundResult`] the environment returns for a guess.
//!
//! Implemented by the local game in headless Chromium (`browser::local_game`, above this module)
//! and by [`direct::DirectRound`], the same rounds rendered and scored without a browser (for
//! benchmarks and large runs). The one round loop over it is in `session::round`.

pub mod direct;

use crate::game::RoundResult;
use crate::geo::{Bounds, LatLon};
use serde::{Deserialize, Serialize};

/// Which environment played a session: the manifest's `environment`, written as the names
/// below since the first replays, so old sessions read unchanged. A name this build does not
/// know is refused where the manifest is read (a replay is someone else's file).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantNames,
)]
#[serde(try_from = "String", into = "&'static str")]
#[strum(serialize_all = "kebab-case")]
pub enum Kind {
    /// The local game in a browser (`play`).
    LocalGame,
    /// geoguessr.com (`play --site geoguessr`).
    Geoguessr,
    /// The local game's rounds rendered without a browser (`bench`).
    Direct,
    /// Re-reasoned from another session's recorded views (`replay rerun`).
    Rerun,
}

/// A manifest's `environment` that names no [`Kind`].
#[derive(Debug, thiserror::Error)]
#[error("environment: unknown kind {} (this build knows {})", crate::text::quote(.0, 40), <Kind as strum::VariantNames>::VARIANTS.join(", "))]
pub struct UnknownKind(String);

impl TryFrom<String> for Kind {
    type Error = UnknownKind;
    fn try_from(name: String) -> Result<Kind, UnknownKind> {
        name.parse().map_err(|_| UnknownKind(name))
    }
}

/// What a view's `heading` is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadingRef {
    /// A compass heading (0 = north, 90 = east): the local game knows its panorama's
    /// orientation. Also what replays from before this field meant.
    #[default]
    Compass,
    /// Degrees turned right from the round's start view, whose compass direction is unknown:
    /// geoguessr.com opens each round facing a random way, and the compass that would say which
    /// is hidden from the captures.
    Start,
}

impl HeadingRef {
    /// For `skip_serializing_if`: compass headings are what a record without the field means.
    pub fn is_compass(&self) -> bool {
        *self == HeadingRef::Compass
    }
}

/// One captured picture of the round's panorama.
#[derive(Clone, Serialize, Deserialize)]
pub struct View {
    /// Heading of the view's centre in degrees, measured as `heading_ref` says (a compass
    /// heading: 0 = north, 90 = east; or degrees right of the start view).
    pub heading: f64,
    /// What `heading` is measured from.
    #[serde(default, skip_serializing_if = "HeadingRef::is_compass")]
    pub heading_ref: HeadingRef,
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
            .field("heading_ref", &self.heading_ref)
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

/// What to capture each round.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Headings per round, evenly spread from 0° (north).
    pub headings: usize,
    /// Zoom steps for one extra zoomed-in view at heading 0; 0 = no zoomed view.
    pub zoom_steps: u32,
    /// JPEG quality of captured views (1–100).
    pub jpeg_quality: u8,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        CaptureOptions {
            headings: 4,
            zoom_steps: 0,
            jpeg_quality: 85,
        }
    }
}

/// Timings of the environment's side of a round.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct GuessTiming {
    /// Placing the marker, pressing Guess and reading the result.
    pub guess_ms: u64,
}

/// What an environment did about a failed round (see [`Environment::recover`]).
#[derive(Debug, Clone)]
pub enum Recovered {
    /// The game is back at the start of the round: play it again.
    Replay,
    /// The game had already scored the round's guess before the failure: this is its result.
    Scored(RoundResult),
}

/// A game the agent plays round by round.
///
/// One round is `observe` then `guess`; a caller that plays many rounds of a game calls them
/// alternately. An environment that can survive a crash (a browser relaunched, the same game
/// resumed) implements [`Environment::recover`].
#[async_trait::async_trait]
pub trait Environment: Send {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Prepares the current round and returns what the agent may see.
    async fn observe(&mut self) -> Result<Observation, Self::Error>;

    /// Submits a guess for the current round, returns the game's result and moves on.
    async fn guess(&mut self, at: LatLon) -> Result<(RoundResult, GuessTiming), Self::Error>;

    /// Called after `observe` or `guess` of `round` failed with `error`: bring the game back if
    /// possible. `guessed` says whether the guess may have reached the game. The default cannot
    /// recover and hands the error back.
    async fn recover(
        &mut self,
        round: usize,
        guessed: bool,
        error: Self::Error,
    ) -> Result<Recovered, Self::Error> {
        let _ = (round, guessed);
        Err(error)
    }

    /// The map's id of the location of the round just scored, when the environment knows it
    /// (public after the guess; recorded in the replay).
    fn location_id(&self) -> Option<String> {
        None
    }
}
