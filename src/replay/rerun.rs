//! What a re-run reads from a recorded session: the observation of a recorded round (its views
//! and the map's public facts, nothing from its result) and the new session's manifest. The
//! re-run itself is a game played by the round loop (`session::rerun`).

use super::{new_session_id, Manifest, Replay, ReplayError, RoundRecord, FORMAT_VERSION};
use crate::environment::{Observation, View};
use crate::geo::Bounds;

/// What the reasoner may know about a recorded round: its views (read from `views/`) and the
/// map's public facts. Nothing from the round's result.
pub fn observation(
    source: &Replay,
    record: &RoundRecord,
    map_view: Bounds,
) -> Result<Observation, ReplayError> {
    let views = record
        .views
        .iter()
        .map(|v| {
            Ok(View {
                heading: v.heading,
                heading_ref: v.heading_ref,
                pitch: v.pitch,
                fov: v.fov,
                width: v.width,
                height: v.height,
                jpeg: source.view_bytes(v)?,
            })
        })
        .collect::<Result<Vec<_>, ReplayError>>()?;
    Ok(Observation {
        round: record.round,
        rounds: source.manifest.challenge.rounds,
        views,
        map_view,
        map_name: source.manifest.map.name.clone(),
        capture_ms: record.timings.capture_ms,
    })
}

/// The new session's manifest: the parent's map, challenge and capture, the new reasoner and
/// its prompt set.
pub(crate) fn child_manifest(
    parent: &Manifest,
    reasoner: &str,
    strategy: &str,
    prompts: Option<super::prompts::PromptsInfo>,
) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        session_id: new_session_id(),
        created: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        environment: crate::environment::Kind::Rerun,
        map: parent.map.clone(),
        challenge: parent.challenge.clone(),
        reasoner: reasoner.into(),
        strategy: strategy.into(),
        capture: parent.capture.clone(),
        parent: Some(parent.session_id.clone()),
        prompts,
    }
}
