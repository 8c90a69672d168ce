//! The on-disk record of a session: `replays/<session-id>/` holds `manifest.json` (what was
//! played, by whom, with which settings), `rounds.jsonl` (one JSON line per finished round,
//! appended and fsynced as the round ends) and `views/` (the exact JPEGs the agent saw).
//!
//! A session killed mid-way leaves every finished round readable: a torn last line is skipped
//! with a warning, never an error.

use crate::agent::Guess;
use crate::environment::View;
use crate::game::RoundResult;
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tracing::warn;

pub mod catalog;
pub mod rerun;
pub mod rescore;

/// Version of the manifest and round-line layout. Readers accept this and older versions.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const ROUNDS_FILE: &str = "rounds.jsonl";
pub const VIEWS_DIR: &str = "views";

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid replay manifest: {detail}")]
    Manifest { path: String, detail: String },
    #[error("{path}: replay format_version {found} is newer than this build reads ({FORMAT_VERSION}); upgrade geoagent")]
    FutureVersion { path: String, found: u32 },
    #[error("{path} line {line}: {detail}")]
    Round {
        path: String,
        line: usize,
        detail: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReplayError + '_ {
    move |source| ReplayError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What a session played and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub session_id: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub geoagent_version: String,
    /// "local-game" (browser) or "direct" (images without a browser).
    pub environment: String,
    pub map: MapInfo,
    pub challenge: ChallengeInfo,
    /// "baseline" or "provider:model".
    pub reasoner: String,
    pub strategy: String,
    pub capture: CaptureInfo,
    /// The session this one re-ran, if any.
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapInfo {
    pub id: String,
    pub name: String,
    pub size_km: f64,
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeInfo {
    pub id: String,
    pub seed: u64,
    pub rounds: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptureInfo {
    pub headings: usize,
    pub zoom_steps: u32,
    pub jpeg_quality: u8,
}

/// A view as recorded: its metadata and the file holding its pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewRecord {
    /// Relative to the session folder.
    pub file: String,
    pub heading: f64,
    pub pitch: f64,
    pub fov: f64,
    pub width: u32,
    pub height: u32,
    pub bytes: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub capture_ms: u64,
    pub reason_ms: u64,
    pub guess_ms: u64,
    pub total_ms: u64,
}

/// One finished round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub round: usize,
    /// The map's location id, when the environment can tell it (after the guess).
    pub location_id: Option<String>,
    pub views: Vec<ViewRecord>,
    pub guess: Guess,
    pub result: RoundResult,
    pub timings: Timings,
    pub finished_at: chrono::DateTime<chrono::Utc>,
}

/// Appends rounds of one session.
pub struct ReplayWriter {
    dir: PathBuf,
    rounds: File,
}

impl ReplayWriter {
    /// Creates `root/<manifest.session_id>/` with its manifest.
    pub fn create(root: &Path, manifest: &Manifest) -> Result<ReplayWriter, ReplayError> {
        let dir = root.join(&manifest.session_id);
        fs::create_dir_all(dir.join(VIEWS_DIR)).map_err(io(&dir))?;
        let mpath = dir.join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| ReplayError::Manifest {
            path: mpath.display().to_string(),
            detail: e.to_string(),
        })?;
        write_atomic(&mpath, &json)?;
        let rpath = dir.join(ROUNDS_FILE);
        let rounds = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&rpath)
            .map_err(io(&rpath))?;
        Ok(ReplayWriter { dir, rounds })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the round's views (each fsynced), then returns their records for [`Self::append`].
    pub fn save_views(&self, round: usize, views: &[View]) -> Result<Vec<ViewRecord>, ReplayError> {
        views
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let rel = format!("{VIEWS_DIR}/r{round:03}_v{i}.jpg");
                let path = self.dir.join(&rel);
                let mut f = File::create(&path).map_err(io(&path))?;
                f.write_all(&v.jpeg).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
                Ok(ViewRecord {
                    file: rel,
                    heading: v.heading,
                    pitch: v.pitch,
                    fov: v.fov,
                    width: v.width,
                    height: v.height,
                    bytes: v.jpeg.len(),
                })
            })
            .collect()
    }

    /// Reopens an existing session folder to append more rounds (resume after a crash or
    /// Ctrl-C), and returns what is already recorded. A torn last line (a crash mid-write) is cut
    /// off first, so the next round starts on a fresh line and the file stays readable; a last
    /// line that is whole but lacks its newline is kept and terminated.
    pub fn reopen(dir: &Path) -> Result<(ReplayWriter, Replay), ReplayError> {
        let rpath = dir.join(ROUNDS_FILE);
        if rpath.is_file() {
            let bytes = fs::read(&rpath).map_err(io(&rpath))?;
            let cut = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let tail = &bytes[cut..];
            if !tail.iter().all(u8::is_ascii_whitespace) {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&rpath)
                    .map_err(io(&rpath))?;
                if serde_json::from_slice::<RoundRecord>(tail).is_ok() {
                    drop(f);
                    let mut f = OpenOptions::new()
                        .append(true)
                        .open(&rpath)
                        .map_err(io(&rpath))?;
                    f.write_all(b"\n").map_err(io(&rpath))?;
                    f.sync_data().map_err(io(&rpath))?;
                } else {
                    warn!(
                        "{}: cutting a torn last line ({} bytes) before resuming",
                        rpath.display(),
                        tail.len()
                    );
                    f.set_len(cut as u64).map_err(io(&rpath))?;
                    f.sync_data().map_err(io(&rpath))?;
                }
            }
        }
        let replay = Replay::open(dir)?;
        fs::create_dir_all(dir.join(VIEWS_DIR)).map_err(io(dir))?;
        let rounds = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&rpath)
            .map_err(io(&rpath))?;
        Ok((
            ReplayWriter {
                dir: dir.to_path_buf(),
                rounds,
            },
            replay,
        ))
    }

    /// Writes a round's views into the session folder `dir` without holding the writer, so
    /// concurrent rounds write their images in parallel (see [`Self::save_views`]).
    pub fn write_views(
        dir: &Path,
        round: usize,
        views: &[View],
    ) -> Result<Vec<ViewRecord>, ReplayError> {
        views
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let rel = format!("{VIEWS_DIR}/r{round:03}_v{i}.jpg");
                let path = dir.join(&rel);
                let mut f = File::create(&path).map_err(io(&path))?;
                f.write_all(&v.jpeg).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
                Ok(ViewRecord {
                    file: rel,
                    heading: v.heading,
                    pitch: v.pitch,
                    fov: v.fov,
                    width: v.width,
                    height: v.height,
                    bytes: v.jpeg.len(),
                })
            })
            .collect()
    }

    /// Appends one round as a single line and fsyncs, so a crash after this keeps the round.
    pub fn append(&mut self, record: &RoundRecord) -> Result<(), ReplayError> {
        let path = self.dir.join(ROUNDS_FILE);
        let mut line = serde_json::to_vec(record).map_err(|e| ReplayError::Round {
            path: path.display().to_string(),
            line: record.round,
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        self.rounds.write_all(&line).map_err(io(&path))?;
        self.rounds.sync_data().map_err(io(&path))
    }
}

/// A session read back from disk.
#[derive(Debug, Clone)]
pub struct Replay {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub rounds: Vec<RoundRecord>,
    /// Lines that could not be read (a torn last line after a crash), with the reason.
    pub skipped: Vec<String>,
}

impl Replay {
    /// Reads a session folder. A torn final line is skipped with a warning; a bad line in the
    /// middle is an error naming the line (that is corruption, not a crash).
    pub fn open(dir: &Path) -> Result<Replay, ReplayError> {
        let mpath = dir.join(MANIFEST_FILE);
        let text = fs::read(&mpath).map_err(io(&mpath))?;
        let raw: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| ReplayError::Manifest {
                path: mpath.display().to_string(),
                detail: e.to_string(),
            })?;
        let version = raw["format_version"]
            .as_u64()
            .ok_or_else(|| ReplayError::Manifest {
                path: mpath.display().to_string(),
                detail: "format_version is missing".into(),
            })? as u32;
        if version > FORMAT_VERSION {
            return Err(ReplayError::FutureVersion {
                path: mpath.display().to_string(),
                found: version,
            });
        }
        let manifest: Manifest =
            serde_json::from_value(raw).map_err(|e| ReplayError::Manifest {
                path: mpath.display().to_string(),
                detail: e.to_string(),
            })?;

        let rpath = dir.join(ROUNDS_FILE);
        let file = File::open(&rpath).map_err(io(&rpath))?;
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(io(&rpath))?;
        let last = lines.iter().rposition(|l| !l.trim().is_empty());
        let mut rounds = Vec::new();
        let mut skipped = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<RoundRecord>(line) {
                Ok(r) => rounds.push(r),
                Err(e) if Some(i) == last => {
                    let why = format!(
                        "{} line {}: skipped torn last line ({e})",
                        rpath.display(),
                        i + 1
                    );
                    warn!("{why}");
                    skipped.push(why);
                }
                Err(e) => {
                    return Err(ReplayError::Round {
                        path: rpath.display().to_string(),
                        line: i + 1,
                        detail: e.to_string(),
                    })
                }
            }
        }
        Ok(Replay {
            dir: dir.to_path_buf(),
            manifest,
            rounds,
            skipped,
        })
    }

    /// The round numbers already recorded (what a resumed run must not play again).
    pub fn done_rounds(&self) -> std::collections::BTreeSet<usize> {
        self.rounds.iter().map(|r| r.round).collect()
    }

    /// The recorded JPEG of a view.
    pub fn view_bytes(&self, view: &ViewRecord) -> Result<Vec<u8>, ReplayError> {
        let path = self.dir.join(&view.file);
        fs::read(&path).map_err(io(&path))
    }
}

/// A new session id: UTC time (sortable) plus a random suffix (unique across parallel runs).
pub fn new_session_id() -> String {
    let suffix: u32 = rand::random();
    format!(
        "{}-{:06x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        suffix & 0xff_ffff
    )
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReplayError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::agent::GuessSource;
    use crate::geo::LatLon;
    use crate::lvlm::Usage;

    pub(crate) fn manifest(id: &str) -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            session_id: id.into(),
            created: chrono::Utc::now(),
            geoagent_version: "test".into(),
            environment: "local-game".into(),
            map: MapInfo {
                id: "world".into(),
                name: "Synthetic World".into(),
                size_km: 14916.862,
                synthetic: true,
            },
            challenge: ChallengeInfo {
                id: "world-1-2".into(),
                seed: 1,
                rounds: 2,
            },
            reasoner: "baseline".into(),
            strategy: "cot".into(),
            capture: CaptureInfo {
                headings: 1,
                zoom_steps: 0,
                jpeg_quality: 80,
            },
            parent: None,
        }
    }

    pub(crate) fn record(round: usize) -> RoundRecord {
        let p = LatLon::new(1.0, 2.0).unwrap();
        RoundRecord {
            round,
            location_id: Some(format!("loc{round}")),
            views: vec![],
            guess: Guess {
                pos: p,
                country: None,
                confidence: None,
                rationale: Some("x".into()),
                source: GuessSource::Fallback {
                    reason: "model timed out".into(),
                },
                notes: vec![],
                exchanges: vec![],
                usage: Usage::default(),
                candidates: vec![],
            },
            result: RoundResult {
                round,
                guess: p,
                truth: p,
                distance_km: 0.0,
                points: 5000,
                place: None,
                country: None,
            },
            timings: Timings::default(),
            finished_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn round_trip_with_views() {
        let root = tempfile::tempdir().unwrap();
        let m = manifest("s1");
        let mut w = ReplayWriter::create(root.path(), &m).unwrap();
        let view = View {
            heading: 90.0,
            pitch: 0.0,
            fov: 90.0,
            width: 2,
            height: 1,
            jpeg: vec![0xFF, 0xD8, 1, 2],
        };
        let mut r1 = record(1);
        r1.views = w.save_views(1, &[view]).unwrap();
        let r2 = record(2);
        w.append(&r1).unwrap();
        w.append(&r2).unwrap();
        let back = Replay::open(&root.path().join("s1")).unwrap();
        assert_eq!(back.manifest, m);
        assert_eq!(back.rounds, vec![r1, r2]);
        assert_eq!(
            back.view_bytes(&back.rounds[0].views[0]).unwrap(),
            vec![0xFF, 0xD8, 1, 2]
        );
        assert!(back.skipped.is_empty());
    }

    #[test]
    fn torn_last_line_is_skipped_not_fatal() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("s2")).unwrap();
        w.append(&record(1)).unwrap();
        let line = serde_json::to_string(&record(2)).unwrap();
        let path = root.path().join("s2").join(ROUNDS_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&line.as_bytes()[..line.len() / 2]).unwrap();
        let back = Replay::open(&root.path().join("s2")).unwrap();
        assert_eq!(back.rounds.len(), 1);
        assert_eq!(back.skipped.len(), 1);
        assert!(back.skipped[0].contains("line 2"), "{:?}", back.skipped);
    }

    #[test]
    fn corrupt_middle_line_names_the_line() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("s3")).unwrap();
        w.append(&record(1)).unwrap();
        let path = root.path().join("s3").join(ROUNDS_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{not json}\n").unwrap();
        drop(f);
        w.append(&record(3)).unwrap();
        let err = Replay::open(&root.path().join("s3"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn future_version_is_refused_clearly() {
        let root = tempfile::tempdir().unwrap();
        let mut m = manifest("s4");
        m.format_version = FORMAT_VERSION + 1;
        ReplayWriter::create(root.path(), &m).unwrap();
        let err = Replay::open(&root.path().join("s4"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("newer than this build reads"), "{err}");
    }

    #[test]
    fn reopen_cuts_a_torn_line_and_appends_after_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("s5");
        let mut w = ReplayWriter::create(root.path(), &manifest("s5")).unwrap();
        w.append(&record(1)).unwrap();
        drop(w);
        let line = serde_json::to_string(&record(2)).unwrap();
        let path = dir.join(ROUNDS_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&line.as_bytes()[..line.len() / 3]).unwrap();
        drop(f);
        let (mut w, back) = ReplayWriter::reopen(&dir).unwrap();
        assert_eq!(back.done_rounds().into_iter().collect::<Vec<_>>(), vec![1]);
        w.append(&record(2)).unwrap();
        let back = Replay::open(&dir).unwrap();
        assert_eq!(
            back.rounds.iter().map(|r| r.round).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(back.skipped.is_empty());
    }

    #[test]
    fn reopen_keeps_a_whole_line_without_newline() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("s6");
        ReplayWriter::create(root.path(), &manifest("s6")).unwrap();
        let line = serde_json::to_string(&record(1)).unwrap();
        fs::write(dir.join(ROUNDS_FILE), line).unwrap();
        let (mut w, back) = ReplayWriter::reopen(&dir).unwrap();
        assert_eq!(back.rounds.len(), 1);
        w.append(&record(2)).unwrap();
        assert_eq!(Replay::open(&dir).unwrap().rounds.len(), 2);
    }

    #[test]
    fn session_ids_are_unique_and_sortable() {
        let a = new_session_id();
        let b = new_session_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), b.len());
    }
}
