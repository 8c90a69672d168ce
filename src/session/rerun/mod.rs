//! Re-reasoning a recorded session (`replay rerun`) as a game like any other: the recorded views
//! of each round are the observations of an [`Environment`] ([`Recorded`]), and the one round
//! loop ([`super::round::play_round`]) plays it. A re-run therefore records, reports progress
//! and stops on a rejected API key exactly as `play` does.
//!
//! Both sessions saw exactly the same pixels, which makes this the fairest comparison of two
//! models. The new session is an ordinary replay (environment `rerun`, `parent` = the old session
//! id, same challenge id so `stats` pairs the rounds), scored against the recorded truth with
//! today's [`score`] and the recorded map size.
//!
//! Fairness: the reasoner gets an [`Observation`] built only from the recorded views and their
//! metadata plus the map's public facts (name, guess-map area); the truth is read only after the
//! guess, to score it.

use super::round::{play_round, Recorder, RoundError, RoundHook};
use crate::agent::Reasoner;
use crate::environment::{Environment, GuessTiming, Observation};
use crate::game::{score, RoundResult};
use crate::geo::{Bounds, LatLon};
use crate::replay::prompts::PromptsInfo;
use crate::replay::rerun::{child_manifest, observation};
use crate::replay::{Manifest, Replay, ReplayError, ReplayWriter, RoundRecord};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RerunError {
    #[error("session {session} has no finished round to re-run")]
    NoRounds { session: String },
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// A round could not be re-run; the rounds before it stay recorded. A rejected API key
    /// ([`RerunError::is_auth`]) lands here, as it does for `play`.
    #[error(transparent)]
    Round(#[from] RoundError<RecordedError>),
}

impl RerunError {
    /// The model's API key was rejected: the re-run stopped at the first round.
    pub fn is_auth(&self) -> bool {
        matches!(self, RerunError::Round(e) if e.is_auth())
    }
}

/// The map size a re-run of `source` scores on: the recorded one. A session without a known
/// size (a geoguessr.com map whose scale the site did not give) is refused before anything is
/// sent to a model, rather than scored on an assumed size beside the site's real points.
pub fn scoring_size_km(source: &Replay) -> Result<f64, RerunError> {
    source.manifest.map.known_size_km().ok_or_else(|| {
        RerunError::Replay(ReplayError::MapSizeUnknown {
            session: crate::replay::clip_name(&source.manifest.session_id),
        })
    })
}

/// Why the recorded game could not go on.
#[derive(Debug, Error)]
pub enum RecordedError {
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The round loop guessed without observing, or observed past the last round: a bug in the
    /// caller, said plainly rather than scored against the wrong truth.
    #[error("recorded game out of step: {0}")]
    OutOfStep(&'static str),
}

/// A recorded session played again: each `observe` hands out the next recorded round's views,
/// each `guess` is scored against that round's recorded truth.
pub struct Recorded<'a> {
    source: &'a Replay,
    map_view: Bounds,
    /// The map size the new guesses are scored on ([`scoring_size_km`]).
    size_km: f64,
    /// Index in `source.rounds` of the next round to observe.
    next: usize,
    /// The round observed and not yet guessed.
    current: Option<&'a RoundRecord>,
    /// The location id of the round last scored.
    last_location: Option<String>,
}

impl<'a> Recorded<'a> {
    pub fn new(source: &'a Replay, map_view: Bounds, size_km: f64) -> Recorded<'a> {
        Recorded {
            source,
            map_view,
            size_km,
            next: 0,
            current: None,
            last_location: None,
        }
    }
}

#[async_trait::async_trait]
impl Environment for Recorded<'_> {
    type Error = RecordedError;

    async fn observe(&mut self) -> Result<Observation, RecordedError> {
        let record = self
            .source
            .rounds
            .get(self.next)
            .ok_or(RecordedError::OutOfStep(
                "no recorded round left to observe",
            ))?;
        let mut obs = observation(self.source, record, self.map_view)?;
        // Reading files is not capturing: the re-run's own record says so.
        obs.capture_ms = 0;
        self.next += 1;
        self.current = Some(record);
        Ok(obs)
    }

    async fn guess(&mut self, at: LatLon) -> Result<(RoundResult, GuessTiming), RecordedError> {
        let old = self.current.take().ok_or(RecordedError::OutOfStep(
            "a guess before the round was observed",
        ))?;
        let truth = old.result.truth;
        let distance_km = at.distance_km(&truth);
        self.last_location = old.location_id.clone();
        let result = RoundResult {
            round: old.round,
            guess: at,
            truth,
            distance_km,
            points: score(distance_km, self.size_km),
            place: old.result.place.clone(),
            country: old.result.country.clone(),
        };
        Ok((result, GuessTiming::default()))
    }

    fn location_id(&self) -> Option<String> {
        self.last_location.clone()
    }
}

/// One round of the parent and of the re-run.
#[derive(Debug, Clone)]
pub struct RerunRound {
    pub old: RoundRecord,
    pub new: RoundRecord,
}

/// A finished re-run.
#[derive(Debug, Clone)]
pub struct RerunReport {
    pub parent: Manifest,
    pub manifest: Manifest,
    pub dir: PathBuf,
    pub rounds: Vec<RerunRound>,
}

/// Re-reasons every finished round of `source` with `reasoner` and writes the new session under
/// `out_root`. `map_view` is the guess map's area (the map's `view`; the whole world when the map
/// is not available). Each round is on disk as soon as it is scored; `hook` sees it then.
pub async fn rerun(
    source: &Replay,
    reasoner: &dyn Reasoner,
    strategy: &str,
    map_view: Bounds,
    out_root: &Path,
    hook: Option<RoundHook<'_>>,
) -> Result<RerunReport, RerunError> {
    if source.rounds.is_empty() {
        return Err(RerunError::NoRounds {
            session: source.manifest.session_id.clone(),
        });
    }
    let size_km = scoring_size_km(source)?;
    // A missing or refused view (a name the writer does not produce, a file outside the session
    // folder, bytes that are not a JPEG) stops the re-run before anything is sent to a model or a
    // new session folder exists: a replay from someone else must not turn other files into
    // "images" for a provider.
    for v in source.rounds.iter().flat_map(|r| &r.views) {
        source.view_bytes(v)?;
    }
    let prompts = reasoner.prompts();
    let manifest = child_manifest(
        &source.manifest,
        &reasoner.name(),
        strategy,
        prompts.as_deref().map(PromptsInfo::of),
    );
    let writer = ReplayWriter::create_with_prompts(out_root, &manifest, prompts.as_deref())?;
    let dir = writer.dir().to_path_buf();
    let recorder = Recorder::new(writer);
    let mut game = Recorded::new(source, map_view, size_km);
    let mut rounds = Vec::with_capacity(source.rounds.len());
    for old in &source.rounds {
        let new = play_round(&mut game, old.round, reasoner, &recorder, hook).await?;
        rounds.push(RerunRound {
            old: old.clone(),
            new,
        });
    }
    Ok(RerunReport {
        parent: source.manifest.clone(),
        manifest,
        dir,
        rounds,
    })
}

#[cfg(test)]
mod tests;
