//! The viewer's index of sessions: one small summary per session folder (its manifest, whether it
//! is finished, where its rounds went, its points and the names of its views), read once and
//! read again only when one of the session's files changes size or modification time. A list
//! request then costs a directory listing and a few `stat`s per session, never a parse of every
//! round (1,000 sessions of 50 rounds took 1.2 s and 143 MB a request when it did).

use super::{at_live_place, Live};
use crate::geo::LatLon;
use crate::replay::catalog::session_dirs;
use crate::replay::rescore::{self, RESCORED_FILE};
use crate::replay::{Manifest, Replay, MANIFEST_FILE, ROUNDS_FILE};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// What the viewer needs of one session without reading its rounds again.
#[derive(Debug)]
pub(super) struct Summary {
    /// The session's folder name: its id in the viewer's URLs.
    pub(super) name: String,
    pub(super) dir: PathBuf,
    pub(super) manifest: Manifest,
    /// Every planned round is recorded and no line is torn.
    pub(super) finished: bool,
    /// Each round's location id and truth, to hide sessions that would spoil a live challenge.
    pub(super) places: Vec<(Option<String>, LatLon)>,
    pub(super) rounds: usize,
    /// Points as shown (re-scored where `rescored.json` allows) and as recorded.
    pub(super) total_points: u64,
    pub(super) recorded_total_points: u64,
    /// The recorded view files (`views/r001_v0.jpg`), by the name the viewer serves them under.
    views: HashSet<String>,
}

impl Summary {
    fn of(name: String, r: &Replay) -> Summary {
        let total_points = r.rounds.iter().map(|x| u64::from(x.result.points)).sum();
        let recorded_total_points = r
            .rounds
            .iter()
            .map(|x| u64::from(rescore::recorded_points(r, x.round).unwrap_or(x.result.points)))
            .sum();
        Summary {
            name,
            dir: r.dir.clone(),
            manifest: r.manifest.clone(),
            finished: r.skipped.is_empty() && r.rounds.len() >= r.manifest.challenge.rounds,
            places: r
                .rounds
                .iter()
                .map(|x| (x.location_id.clone(), x.result.truth))
                .collect(),
            rounds: r.rounds.len(),
            total_points,
            recorded_total_points,
            views: r
                .rounds
                .iter()
                .flat_map(|x| &x.views)
                .map(|v| v.file.clone())
                .collect(),
        }
    }

    /// Whether it may be shown while `live` is being played (see the viewer's module docs).
    pub(super) fn showable(&self, live: &Live) -> bool {
        self.finished
            && !live.challenges.contains(&self.manifest.challenge.id)
            && !self.places.iter().any(|(id, truth)| {
                at_live_place(live, &self.manifest.map.id, id.as_deref(), *truth)
            })
    }

    /// The recorded file of the view served as `views/{file}`, if the session recorded one.
    pub(super) fn view_file(&self, file: &str) -> Option<String> {
        let recorded = format!("{}/{file}", crate::replay::VIEWS_DIR);
        self.views.contains(&recorded).then_some(recorded)
    }

    /// The session as a [`Replay`] without its rounds: enough to read a view through
    /// [`Replay::view_bytes`], which checks the file.
    pub(super) fn shell(&self) -> Replay {
        Replay {
            dir: self.dir.clone(),
            manifest: self.manifest.clone(),
            rounds: Vec::new(),
            skipped: Vec::new(),
            rescored: None,
        }
    }
}

/// Size and modification time of a session's files; a change in any means read it again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp([Option<(u64, SystemTime)>; 3]);

impl Stamp {
    fn of(dir: &Path) -> Stamp {
        let file = |name: &str| {
            let m = std::fs::metadata(dir.join(name)).ok()?;
            Some((m.len(), m.modified().ok()?))
        };
        Stamp([file(MANIFEST_FILE), file(ROUNDS_FILE), file(RESCORED_FILE)])
    }
}

struct Entry {
    stamp: Stamp,
    /// `None`: the session could not be read (logged when it was tried).
    summary: Option<Arc<Summary>>,
}

/// The summaries of the sessions under one replays folder.
pub(super) struct Index {
    root: PathBuf,
    /// By folder name, so the list comes out in creation order (see `session_dirs`). One lock
    /// for reading and rebuilding: concurrent requests wait for one rebuild instead of each
    /// parsing the same sessions.
    entries: Mutex<BTreeMap<String, Entry>>,
}

impl Index {
    pub(super) fn new(root: PathBuf) -> Index {
        Index {
            root,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // Every update leaves the map consistent: a poisoned lock is still good.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every readable session, by folder name, after reading again those whose files changed.
    pub(super) fn all(&self) -> Vec<Arc<Summary>> {
        let dirs = match session_dirs(&self.root) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("replay viewer: {e}");
                Vec::new()
            }
        };
        let mut entries = self.lock();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for dir in dirs {
            let Some(name) = folder_name(&dir) else {
                continue;
            };
            if let Some(s) = refresh(&mut entries, &name, &dir) {
                out.push(s);
            }
            seen.insert(name);
        }
        entries.retain(|name, _| seen.contains(name));
        out
    }

    /// The session in the folder named `id` directly under the replays folder (or the replays
    /// folder itself when it is one session), if it is readable.
    pub(super) fn get(&self, id: &str) -> Option<Arc<Summary>> {
        let dir = self.resolve(id)?;
        refresh(&mut self.lock(), id, &dir)
    }

    fn resolve(&self, id: &str) -> Option<PathBuf> {
        if self.root.join(MANIFEST_FILE).is_file() {
            return (folder_name(&self.root).as_deref() == Some(id)).then(|| self.root.clone());
        }
        let plain = !id.is_empty() && id != "." && id != ".." && !id.contains(['/', '\\', '\0']);
        let dir = self.root.join(id);
        (plain && dir.join(MANIFEST_FILE).is_file()).then_some(dir)
    }
}

fn folder_name(dir: &Path) -> Option<String> {
    dir.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The summary of `dir`, read again when its files changed since the entry was made.
fn refresh(entries: &mut BTreeMap<String, Entry>, name: &str, dir: &Path) -> Option<Arc<Summary>> {
    let stamp = Stamp::of(dir);
    if let Some(e) = entries.get(name) {
        if e.stamp == stamp {
            return e.summary.clone();
        }
    }
    let summary = match super::open(dir) {
        Ok(r) => Some(Arc::new(Summary::of(name.to_string(), &r))),
        Err(e) => {
            tracing::warn!(
                "replay viewer: skipping unreadable session {}: {e}",
                dir.display()
            );
            None
        }
    };
    entries.insert(
        name.to_string(),
        Entry {
            stamp,
            summary: summary.clone(),
        },
    );
    summary
}
