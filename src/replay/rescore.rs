//! Re-scoring a recorded session with today's code: the distance from the recorded guess to the
//! recorded truth (today's great-circle distance) and the points for it (today's [`score`] with
//! the manifest's map size).
//!
//! The recorded `rounds.jsonl` is never modified. The new values go to `rescored.json` beside it
//! (written atomically; a previous `rescored.json` is replaced, since it is derived data that
//! this command can always rebuild), holding both the recorded and the recomputed value of every
//! round, so nothing is lost and the difference is visible.
//!
//! Readers show today's values where the file exists ([`apply`]): `replay list`, `stats`,
//! `report` and the replay viewer. The file is untrusted like the rest of a shared replay: it is
//! used only when it names this session, each round only when its recorded values are that
//! round's (a round recorded after the re-scoring keeps its own) and its new values are possible
//! ones; otherwise a note says why it was ignored.

use super::{Replay, ReplayError};
use crate::game::{score, MAX_POINTS};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The file written beside `rounds.jsonl`.
pub(crate) const RESCORED_FILE: &str = "rescored.json";
/// A distance change below this (km) is rounding noise from an older formula's float order, not
/// a difference worth reporting.
pub(crate) const DISTANCE_TOLERANCE_KM: f64 = 0.001;
/// Largest `rescored.json` read: about 150 bytes a round, so this is ~100,000 rounds; anything
/// bigger was not written by `replay rescore`.
pub(crate) const MAX_RESCORED_BYTES: u64 = 16 * 1024 * 1024;
/// No two points on Earth are further apart (half the equator, with room for rounding).
const MAX_DISTANCE_KM: f64 = 20_040.0;

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
    pub(crate) fn recorded_total(&self) -> u64 {
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

/// Recomputes every round of `replay` (pure: writes nothing). Refused when the session's map
/// size is unknown: points cannot be computed without it, and the world's size in its place
/// would turn the site's points into made-up ones.
pub fn rescore(replay: &Replay) -> Result<Rescored, ReplayError> {
    let size = replay
        .manifest
        .map
        .known_size_km()
        .ok_or_else(|| ReplayError::MapSizeUnknown {
            session: super::clip_name(&replay.manifest.session_id),
        })?;
    Ok(Rescored {
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
    })
}

/// Writes `rescored.json` into the session folder atomically; returns its path.
pub fn write(dir: &Path, rescored: &Rescored) -> Result<PathBuf, ReplayError> {
    let path = dir.join(RESCORED_FILE);
    let json = serde_json::to_vec_pretty(rescored).map_err(|e| ReplayError::Manifest {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    crate::fsio::write_atomic(&path, &json).map_err(ReplayError::Io)?;
    Ok(path)
}

/// Reads a session's `rescored.json`, when there is one (at most [`MAX_RESCORED_BYTES`]).
pub fn read(dir: &Path) -> Result<Option<Rescored>, ReplayError> {
    let path = dir.join(RESCORED_FILE);
    // A regular file only: a named pipe here would hang every reader of the session.
    match crate::fsio::read_regular(&path, MAX_RESCORED_BYTES) {
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => Err(ReplayError::Manifest {
            path: path.display().to_string(),
            detail: format!("larger than the {MAX_RESCORED_BYTES} bytes `replay rescore` writes"),
        }),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ReplayError::Manifest {
                path: path.display().to_string(),
                detail: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReplayError::Io(e)),
    }
}

/// Shows `replay`'s re-scored points and distances where its `rescored.json` allows (see the
/// module docs): the rounds' `result` takes the new values and `replay.rescored` the file.
/// Returns a note for the user when the file exists but was ignored in whole or in part.
pub(crate) fn apply(replay: &mut Replay) -> Option<String> {
    let dir = replay.dir.display().to_string();
    let file = match read(&replay.dir) {
        Ok(None) => return None,
        Ok(Some(f)) => f,
        Err(e) => {
            return Some(format!(
                "{dir}: {RESCORED_FILE} ignored, recorded points shown: {e}"
            ))
        }
    };
    if file.session_id != replay.manifest.session_id {
        return Some(format!(
            "{dir}: {RESCORED_FILE} is for session {}, not {}: ignored, recorded points shown",
            super::clip_name(&file.session_id),
            replay.manifest.session_id
        ));
    }
    let mut used = Vec::new();
    let mut stale = Vec::new();
    for rec in &mut replay.rounds {
        let Some(r) = file.rounds.iter().find(|r| r.round == rec.round) else {
            continue;
        };
        let possible = r.points <= MAX_POINTS
            && r.distance_km.is_finite()
            && (0.0..=MAX_DISTANCE_KM).contains(&r.distance_km);
        let same_round = r.recorded_points == rec.result.points
            && (r.recorded_distance_km - rec.result.distance_km).abs() <= DISTANCE_TOLERANCE_KM;
        if possible && same_round {
            rec.result.points = r.points;
            rec.result.distance_km = r.distance_km;
            used.push(r.clone());
        } else {
            stale.push(rec.round.to_string());
        }
    }
    let note = (!stale.is_empty()).then(|| {
        format!(
            "{dir}: {RESCORED_FILE} does not match round(s) {} (recorded after it, or edited): their recorded points are shown; `geoagent replay rescore` rebuilds it",
            stale.join(", ")
        )
    });
    if !used.is_empty() {
        // Only the rounds shown re-scored, so their recorded values can be shown beside.
        replay.rescored = Some(Rescored {
            rounds: used,
            ..file
        });
    }
    note
}

/// The recorded points of round `round` when [`apply`] replaced them with different ones.
pub fn recorded_points(replay: &Replay, round: usize) -> Option<u32> {
    let r = replay
        .rescored
        .as_ref()?
        .rounds
        .iter()
        .find(|r| r.round == round)?;
    (r.recorded_points != r.points).then_some(r.recorded_points)
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

        let r = rescore(&replay).unwrap();
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

    #[test]
    fn rescore_refuses_a_session_whose_map_size_is_unknown() {
        let root = tempfile::tempdir().unwrap();
        let mut m = manifest("site-s");
        m.map.size_km = None;
        let mut w = ReplayWriter::create(root.path(), &m).unwrap();
        let mut r = record(1);
        r.result.truth = LatLon::new(1.0, 3.0).unwrap();
        r.result.points = 4321; // the site's own points
        w.append(&r).unwrap();
        let replay = Replay::open(&root.path().join("site-s")).unwrap();
        let e = rescore(&replay).unwrap_err().to_string();
        assert!(e.contains("session site-s"), "{e}");
        assert!(e.contains("size is unknown"), "{e}");
        // A size no map has is no size either: not a way to score every round 0.
        for bad in [0.0, -5.0, f64::NAN] {
            let mut replay = replay.clone();
            replay.manifest.map.size_km = Some(bad);
            assert!(rescore(&replay).is_err(), "{bad}");
        }
    }

    #[test]
    fn apply_shows_rescored_points_only_where_the_file_fits() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("s")).unwrap();
        let mut off = record(1);
        off.result.truth = LatLon::new(1.0, 3.0).unwrap();
        off.result.distance_km = 100.0;
        off.result.points = 4000;
        w.append(&off).unwrap();
        let dir = root.path().join("s");
        let mut rescored = rescore(&Replay::open(&dir).unwrap()).unwrap();
        // Round 2 is recorded after the re-scoring: it keeps its own values.
        w.append(&record(2)).unwrap();
        rescored.rounds.push(RescoredRound {
            round: 2,
            recorded_distance_km: 7.0,
            distance_km: 1.0,
            recorded_points: 1,
            points: 2,
        });
        write(&dir, &rescored).unwrap();
        let mut r = Replay::open(&dir).unwrap();
        assert_eq!(
            r.rounds[0].result.points, 4000,
            "open shows what was recorded"
        );
        let note = apply(&mut r).unwrap();
        assert!(note.contains("round(s) 2"), "{note}");
        let new = rescored.rounds[0].points;
        assert_ne!(new, 4000);
        assert_eq!(r.rounds[0].result.points, new);
        assert_eq!(r.rounds[1].result.points, 5000);
        assert_eq!(recorded_points(&r, 1), Some(4000));
        assert_eq!(recorded_points(&r, 2), None);

        // Impossible values, another session's file, or garbage: recorded points, and a note.
        let mut bad = rescored.clone();
        bad.rounds[0].points = 9999;
        write(&dir, &bad).unwrap();
        let mut r = Replay::open(&dir).unwrap();
        assert!(apply(&mut r).is_some());
        assert_eq!(
            (r.rounds[0].result.points, r.rescored.is_none()),
            (4000, true)
        );
        let mut other = rescored.clone();
        other.session_id = "x\u{1b}[31m".into();
        write(&dir, &other).unwrap();
        let mut r = Replay::open(&dir).unwrap();
        let note = apply(&mut r).unwrap();
        assert!(
            note.contains("for session x [31m") && !note.contains('\u{1b}'),
            "{note}"
        );
        assert_eq!(r.rounds[0].result.points, 4000);
        std::fs::write(dir.join(RESCORED_FILE), b"{").unwrap();
        let mut r = Replay::open(&dir).unwrap();
        assert!(apply(&mut r).unwrap().contains("ignored"));
    }
}
