//! Re-reasoning a recorded session: the recorded views of every round go to another reasoner (a
//! different model, prompt or strategy) without a browser, and the new guesses are scored against
//! the recorded truth with today's [`score`] and the recorded map size.
//!
//! Both sessions saw exactly the same pixels, which makes this the fairest comparison of two
//! models. The new session is an ordinary replay (environment `rerun`, `parent` = the old session
//! id, same challenge id so `stats` pairs the rounds), written round by round like `play` does.
//!
//! Fairness: the reasoner gets an [`Observation`] built only from the recorded views and their
//! metadata plus the map's public facts (name, guess-map area); the truth is read only after the
//! guess, to score it.

use super::{
    new_session_id, Manifest, Replay, ReplayError, ReplayWriter, RoundRecord, Timings,
    FORMAT_VERSION,
};
use crate::agent::Reasoner;
use crate::environment::{Observation, View};
use crate::game::{score, RoundResult};
use crate::geo::Bounds;
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;

/// The `environment` of a re-run session's manifest.
pub(crate) const RERUN_ENVIRONMENT: &str = "rerun";

#[derive(Debug, Error)]
pub enum RerunError {
    #[error("session {session} has no finished round to re-run")]
    NoRounds { session: String },
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

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

/// The new session's manifest: the parent's map, challenge and capture, the new reasoner.
pub(crate) fn child_manifest(parent: &Manifest, reasoner: &str, strategy: &str) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        session_id: new_session_id(),
        created: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        environment: RERUN_ENVIRONMENT.into(),
        map: parent.map.clone(),
        challenge: parent.challenge.clone(),
        reasoner: reasoner.into(),
        strategy: strategy.into(),
        capture: parent.capture.clone(),
        parent: Some(parent.session_id.clone()),
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
/// is not available). Each round is on disk as soon as it is scored.
pub async fn rerun(
    source: &Replay,
    reasoner: &dyn Reasoner,
    strategy: &str,
    map_view: Bounds,
    out_root: &Path,
) -> Result<RerunReport, RerunError> {
    if source.rounds.is_empty() {
        return Err(RerunError::NoRounds {
            session: source.manifest.session_id.clone(),
        });
    }
    // A missing or refused view (a name the writer does not produce, a file outside the session
    // folder, bytes that are not a JPEG) stops the re-run before anything is sent to a model or a
    // new session folder exists: a replay from someone else must not turn other files into
    // "images" for a provider.
    for v in source.rounds.iter().flat_map(|r| &r.views) {
        source.view_bytes(v)?;
    }
    let manifest = child_manifest(&source.manifest, &reasoner.name(), strategy);
    let mut writer = ReplayWriter::create(out_root, &manifest)?;
    let size_km = source.manifest.map.size_km;
    let mut rounds = Vec::with_capacity(source.rounds.len());
    for old in &source.rounds {
        let t0 = Instant::now();
        let obs = observation(source, old, map_view)?;
        let guess = reasoner.guess(&obs).await;
        let reason_ms = t0.elapsed().as_millis() as u64;
        let truth = old.result.truth;
        let distance_km = guess.pos.distance_km(&truth);
        let result = RoundResult {
            round: old.round,
            guess: guess.pos,
            truth,
            distance_km,
            points: score(distance_km, size_km),
            place: old.result.place.clone(),
            country: old.result.country.clone(),
        };
        let views = writer.save_views(old.round, &obs.views)?;
        let new = RoundRecord {
            round: old.round,
            location_id: old.location_id.clone(),
            views,
            guess,
            result,
            timings: Timings {
                capture_ms: 0,
                reason_ms,
                guess_ms: 0,
                total_ms: t0.elapsed().as_millis() as u64,
            },
            finished_at: chrono::Utc::now(),
        };
        writer.append(&new)?;
        rounds.push(RerunRound {
            old: old.clone(),
            new,
        });
    }
    Ok(RerunReport {
        parent: source.manifest.clone(),
        manifest,
        dir: writer.dir().to_path_buf(),
        rounds,
    })
}

impl RerunReport {
    /// Parent and re-run side by side, with totals.
    pub fn render(&self) -> String {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
            "Round".to_string(),
            "Truth".to_string(),
            format!("{} guess", self.parent.reasoner),
            "Points".to_string(),
            format!("{} guess", self.manifest.reasoner),
            "Points".to_string(),
            "Change".to_string(),
        ]);
        let (mut old_total, mut new_total) = (0i64, 0i64);
        for r in &self.rounds {
            let (o, n) = (
                i64::from(r.old.result.points),
                i64::from(r.new.result.points),
            );
            old_total += o;
            new_total += n;
            t.add_row(vec![
                r.new.round.to_string(),
                r.new.result.truth.to_string(),
                format!(
                    "{} ({:.1} km)",
                    r.old.result.guess, r.old.result.distance_km
                ),
                o.to_string(),
                format!(
                    "{} ({:.1} km)",
                    r.new.result.guess, r.new.result.distance_km
                ),
                n.to_string(),
                format!("{:+}", n - o),
            ]);
        }
        for col in [0, 3, 5, 6] {
            if let Some(c) = t.column_mut(col) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        format!(
            "{t}\nTotal {old_total} → {new_total} points ({:+}) over {} round(s) · same views, scored on map size {:.1} km\nNew session {} (parent {}): {}",
            new_total - old_total,
            self.rounds.len(),
            self.manifest.map.size_km,
            self.manifest.session_id,
            self.parent.session_id,
            self.dir.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{Guess, GuessSource};
    use crate::geo::LatLon;
    use crate::replay::tests::{manifest, record, tiny_jpeg};

    /// Guesses a fixed point and remembers what it was shown.
    struct Fixed {
        seen: std::sync::Mutex<Vec<(usize, usize, String)>>,
    }

    #[async_trait::async_trait]
    impl Reasoner for Fixed {
        fn name(&self) -> String {
            "fixed".into()
        }
        async fn guess(&self, obs: &Observation) -> Guess {
            self.seen.lock().unwrap().push((
                obs.round,
                obs.views.iter().map(|v| v.jpeg.len()).sum(),
                obs.map_name.clone(),
            ));
            Guess {
                pos: LatLon::new(0.0, 0.0).unwrap(),
                country: None,
                confidence: None,
                rationale: None,
                source: GuessSource::Model,
                notes: vec![],
                exchanges: vec![],
                usage: Default::default(),
                candidates: vec![],
                revisions: Vec::new(),
            }
        }
    }

    #[tokio::test]
    async fn rerun_feeds_recorded_views_and_scores_against_recorded_truth() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("p")).unwrap();
        let view = View {
            heading: 0.0,
            pitch: 0.0,
            fov: 90.0,
            width: 4,
            height: 2,
            jpeg: tiny_jpeg(9),
        };
        let mut r1 = record(1);
        r1.views = w.save_views(1, &[view]).unwrap();
        w.append(&r1).unwrap();
        let parent = Replay::open(&root.path().join("p")).unwrap();
        let out = tempfile::tempdir().unwrap();
        let fixed = Fixed {
            seen: Default::default(),
        };
        let rep = rerun(&parent, &fixed, "direct", Bounds::WORLD, out.path())
            .await
            .unwrap();
        assert_eq!(
            *fixed.seen.lock().unwrap(),
            vec![(1, tiny_jpeg(9).len(), "Synthetic World".to_string())]
        );
        let child = Replay::open(&rep.dir).unwrap();
        assert_eq!(child.manifest.parent.as_deref(), Some("p"));
        assert_eq!(child.manifest.environment, RERUN_ENVIRONMENT);
        assert_eq!(child.manifest.strategy, "direct");
        assert_eq!(child.manifest.challenge, parent.manifest.challenge);
        let truth = LatLon::new(1.0, 2.0).unwrap();
        let d = LatLon::new(0.0, 0.0).unwrap().distance_km(&truth);
        assert_eq!(child.rounds[0].result.points, score(d, 14916.862));
        assert!((child.rounds[0].result.distance_km - d).abs() < 1e-9);
        assert_eq!(
            child.view_bytes(&child.rounds[0].views[0]).unwrap(),
            tiny_jpeg(9)
        );
        assert!(rep.render().contains("-"));
    }

    #[tokio::test]
    async fn empty_or_viewless_sessions_say_why() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("e")).unwrap();
        let fixed = Fixed {
            seen: Default::default(),
        };
        let parent = Replay::open(&root.path().join("e")).unwrap();
        let e = rerun(&parent, &fixed, "cot", Bounds::WORLD, root.path())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no finished round"), "{e}");
        // A view file that is gone is named.
        let mut r = record(1);
        r.views = vec![crate::replay::ViewRecord {
            file: "views/r001_v0.jpg".into(),
            heading: 0.0,
            pitch: 0.0,
            fov: 90.0,
            width: 1,
            height: 1,
            bytes: 1,
        }];
        w.append(&r).unwrap();
        let parent = Replay::open(&root.path().join("e")).unwrap();
        let out = tempfile::tempdir().unwrap();
        let e = rerun(&parent, &fixed, "cot", Bounds::WORLD, out.path())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("r001_v0.jpg"), "{e}");
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    }
}
