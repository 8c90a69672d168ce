//! Re-scoring a recorded session with today's code: the distance from the recorded guess to the
//! recorded truth (today's great-circle distance) and the points for it (today's [`score`] with
//! the manifest's map size).
//!
//! The recorded `rounds.jsonl` is never modified. The new values go to `rescored.json` beside it
//! (written atomically; a previous `rescored.json` is replaced, since it is derived data that
//! this command can always rebuild), holding both the recorded and the recomputed value of every
//! round, so nothing is lost and the difference is visible.

use super::{Replay, ReplayError};
use crate::game::score;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The file written beside `rounds.jsonl`.
pub const RESCORED_FILE: &str = "rescored.json";
/// A distance change below this (km) is rounding noise from an older formula's float order, not
/// a difference worth reporting.
pub const DISTANCE_TOLERANCE_KM: f64 = 0.001;

/// One round, as recorded and as scored today.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescoredRound {
    pub round: usize,
    pub recorded_distance_km: f64,
    pub distance_km: f64,
    pub recorded_points: u32,
    pub points: u32,
}

impl RescoredRound {
    pub fn changed(&self) -> bool {
        self.points != self.recorded_points
            || (self.distance_km - self.recorded_distance_km).abs() > DISTANCE_TOLERANCE_KM
    }
}

/// The content of `rescored.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rescored {
    pub session_id: String,
    pub rescored_at: chrono::DateTime<chrono::Utc>,
    pub geoagent_version: String,
    pub map_size_km: f64,
    pub rounds: Vec<RescoredRound>,
}

impl Rescored {
    pub fn recorded_total(&self) -> u64 {
        self.rounds
            .iter()
            .map(|r| u64::from(r.recorded_points))
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.rounds.iter().map(|r| u64::from(r.points)).sum()
    }

    /// What changed, round by round, and the totals.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let changed: Vec<&RescoredRound> = self.rounds.iter().filter(|r| r.changed()).collect();
        for r in &changed {
            let _ = writeln!(
                out,
                "round {}: {:.3} km → {:.3} km, {} → {} points ({:+})",
                r.round,
                r.recorded_distance_km,
                r.distance_km,
                r.recorded_points,
                r.points,
                i64::from(r.points) - i64::from(r.recorded_points)
            );
        }
        let n = self.rounds.len().max(1) as f64;
        let _ = write!(
            out,
            "{} of {} round(s) changed · total {} → {} points · mean {:.1} → {:.1} (map size {:.3} km, geoagent {})",
            changed.len(),
            self.rounds.len(),
            self.recorded_total(),
            self.total(),
            self.recorded_total() as f64 / n,
            self.total() as f64 / n,
            self.map_size_km,
            self.geoagent_version
        );
        out
    }
}

/// Recomputes every round of `replay` (pure: writes nothing).
pub fn rescore(replay: &Replay) -> Rescored {
    let size = replay.manifest.map.size_km;
    Rescored {
        session_id: replay.manifest.session_id.clone(),
        rescored_at: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        map_size_km: size,
        rounds: replay
            .rounds
            .iter()
            .map(|r| {
                let d = r.result.guess.distance_km(&r.result.truth);
                RescoredRound {
                    round: r.round,
                    recorded_distance_km: r.result.distance_km,
                    distance_km: d,
                    recorded_points: r.result.points,
                    points: score(d, size),
                }
            })
            .collect(),
    }
}

/// Writes `rescored.json` into the session folder atomically; returns its path.
pub fn write(dir: &Path, rescored: &Rescored) -> Result<PathBuf, ReplayError> {
    let path = dir.join(RESCORED_FILE);
    let err = |source: std::io::Error, p: &Path| ReplayError::Io {
        path: p.display().to_string(),
        source,
    };
    let json = serde_json::to_vec_pretty(rescored).map_err(|e| ReplayError::Manifest {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    crate::fsio::write_atomic(&path, &json).map_err(|e| err(e, &path))?;
    Ok(path)
}

/// Reads a session's `rescored.json`, when there is one.
pub fn read(dir: &Path) -> Result<Option<Rescored>, ReplayError> {
    let path = dir.join(RESCORED_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ReplayError::Manifest {
                path: path.display().to_string(),
                detail: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReplayError::Io {
            path: path.display().to_string(),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::LatLon;
    use crate::replay::tests::{manifest, record};
    use crate::replay::{ReplayWriter, ROUNDS_FILE};

    #[test]
    fn rescore_recomputes_and_keeps_the_recorded_values() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("s")).unwrap();
        let same = record(1); // guess == truth, 5000 points: unchanged
        let mut off = record(2);
        off.result.truth = LatLon::new(1.0, 3.0).unwrap();
        off.result.distance_km = 100.0; // an old build's (wrong) figures
        off.result.points = 4000;
        w.append(&same).unwrap();
        w.append(&off).unwrap();
        let replay = Replay::open(&root.path().join("s")).unwrap();
        let before = std::fs::read(root.path().join("s").join(ROUNDS_FILE)).unwrap();

        let r = rescore(&replay);
        assert!(!r.rounds[0].changed());
        let d = LatLon::new(1.0, 2.0)
            .unwrap()
            .distance_km(&LatLon::new(1.0, 3.0).unwrap());
        assert!((r.rounds[1].distance_km - d).abs() < 1e-9);
        assert_eq!(r.rounds[1].points, score(d, 14916.862));
        assert_eq!(r.rounds[1].recorded_points, 4000);
        assert!(r.rounds[1].changed());
        let text = r.render();
        assert!(text.starts_with("round 2: 100.000 km"), "{text}");
        assert!(text.contains("1 of 2 round(s) changed"), "{text}");

        let path = write(&replay.dir, &r).unwrap();
        assert!(path.ends_with(RESCORED_FILE));
        // serde_json's default float parsing may differ in the last bit: compare what matters.
        let back = read(&replay.dir).unwrap().unwrap();
        assert_eq!(back.rounds.len(), 2);
        assert_eq!(back.rounds[1].points, r.rounds[1].points);
        assert!((back.rounds[1].distance_km - r.rounds[1].distance_km).abs() < 1e-9);
        assert_eq!(back.session_id, "s");
        assert_eq!(
            std::fs::read(root.path().join("s").join(ROUNDS_FILE)).unwrap(),
            before,
            "the recorded rounds are never rewritten"
        );
        assert_eq!(read(root.path()).unwrap(), None);
    }
}
