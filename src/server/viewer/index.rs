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
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
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

/// What reads one session into its summary (the real one is [`read`]; tests count calls).
type Reader = Arc<dyn Fn(&str, &Path) -> Option<Summary> + Send + Sync>;

struct Entry {
    stamp: Stamp,
    /// Filled once by whichever request reads the session first; `None` inside: the session
    /// could not be read (logged when it was tried). Read outside the map's lock (see [`Index`]).
    cell: Arc<OnceLock<Option<Arc<Summary>>>>,
}

/// The summaries of the sessions under one replays folder.
pub(super) struct Index {
    root: PathBuf,
    /// By folder name, so the list comes out in creation order (see `session_dirs`). The lock
    /// is held only to look entries up and put new (empty) ones in, never while a session is
    /// read: a slow or huge session delays only the requests that need it, and a session page
    /// is not held up by a rebuild of the list. Two requests that need the same changed session
    /// wait on its one cell instead of each reading it.
    entries: Mutex<BTreeMap<String, Entry>>,
    read: Reader,
}

impl Index {
    pub(super) fn new(root: PathBuf) -> Index {
        Index::with_reader(root, Arc::new(read))
    }

    fn with_reader(root: PathBuf, read: Reader) -> Index {
        Index {
            root,
            entries: Mutex::new(BTreeMap::new()),
            read,
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
        // `stat`s outside the lock, then one short lock to find (or make) each cell.
        let stamped: Vec<(String, PathBuf, Stamp)> = dirs
            .into_iter()
            .filter_map(|dir| {
                let name = folder_name(&dir)?;
                let stamp = Stamp::of(&dir);
                Some((name, dir, stamp))
            })
            .collect();
        let cells: Vec<_> = {
            let mut entries = self.lock();
            let seen: HashSet<&str> = stamped.iter().map(|(n, _, _)| n.as_str()).collect();
            entries.retain(|name, _| seen.contains(name.as_str()));
            stamped
                .into_iter()
                .map(|(name, dir, stamp)| {
                    let cell = cell_for(&mut entries, &name, stamp);
                    (name, dir, cell)
                })
                .collect()
        };
        cells
            .into_iter()
            .filter_map(|(name, dir, cell)| self.fill(&cell, &name, &dir))
            .collect()
    }

    /// The session in the folder named `id` directly under the replays folder (or the replays
    /// folder itself when it is one session), if it is readable.
    pub(super) fn get(&self, id: &str) -> Option<Arc<Summary>> {
        let dir = self.resolve(id)?;
        let stamp = Stamp::of(&dir);
        let cell = cell_for(&mut self.lock(), id, stamp);
        self.fill(&cell, id, &dir)
    }

    /// The summary in `cell`, reading the session first if nobody has (no lock held).
    fn fill(
        &self,
        cell: &OnceLock<Option<Arc<Summary>>>,
        name: &str,
        dir: &Path,
    ) -> Option<Arc<Summary>> {
        cell.get_or_init(|| (self.read)(name, dir).map(Arc::new))
            .clone()
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

/// The cell of session `name` as of `stamp`: the entry's own while its files are unchanged, a
/// new empty one (replacing it) when they changed.
fn cell_for(
    entries: &mut BTreeMap<String, Entry>,
    name: &str,
    stamp: Stamp,
) -> Arc<OnceLock<Option<Arc<Summary>>>> {
    if let Some(e) = entries.get(name) {
        if e.stamp == stamp {
            return e.cell.clone();
        }
    }
    let cell = Arc::new(OnceLock::new());
    entries.insert(
        name.to_string(),
        Entry {
            stamp,
            cell: cell.clone(),
        },
    );
    cell
}

/// Reads the session in `dir` (folder `name`) whole into its summary; an unreadable one is
/// logged and left out.
fn read(name: &str, dir: &Path) -> Option<Summary> {
    match super::open(dir) {
        Ok(r) => Some(Summary::of(name.to_string(), &r)),
        Err(e) => {
            tracing::warn!(
                "replay viewer: skipping unreadable session {}: {e}",
                dir.display()
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::tests::{manifest, record};
    use crate::replay::ReplayWriter;
    use std::collections::BTreeMap;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Longer than any of these reads takes; a wait past it is a request held up.
    const HELD_UP: Duration = Duration::from_secs(5);

    /// A finished session `id` (2 planned rounds) under `root`, with its writer.
    fn session(root: &Path, id: &str, rounds: usize) -> ReplayWriter {
        let mut w = ReplayWriter::create(root, &manifest(id)).unwrap();
        for n in 1..=rounds {
            w.append(&record(n)).unwrap();
        }
        w
    }

    /// Issue 25 item 3: a list that reads a session again holds no lock while it reads, so a
    /// request for another session is answered meanwhile (one lock was held over every read: a
    /// slow or huge session held up every viewer request behind it).
    #[test]
    fn a_session_being_read_holds_up_no_other_request() {
        let root = tempfile::tempdir().unwrap();
        session(root.path(), "a-slow", 2);
        session(root.path(), "b-fast", 2);
        let (started_tx, started) = mpsc::channel::<()>();
        let (open_tx, gate) = mpsc::channel::<()>();
        let (started_tx, gate) = (Mutex::new(started_tx), Mutex::new(gate));
        let index = Arc::new(Index::with_reader(
            root.path().to_path_buf(),
            Arc::new(move |name: &str, dir: &Path| {
                if name == "a-slow" {
                    let _ = started_tx.lock().unwrap().send(());
                    // Held until the test opens the gate (or gives up).
                    let _ = gate.lock().unwrap().recv_timeout(HELD_UP * 2);
                }
                read(name, dir)
            }),
        ));
        let lister = {
            let index = index.clone();
            std::thread::spawn(move || index.all())
        };
        started
            .recv_timeout(HELD_UP)
            .expect("the list reads a-slow");
        let (got_tx, got) = mpsc::channel();
        {
            let index = index.clone();
            std::thread::spawn(move || got_tx.send(index.get("b-fast")));
        }
        let fast = got.recv_timeout(HELD_UP);
        open_tx.send(()).unwrap();
        let fast = fast.expect("b-fast answered while a-slow was being read");
        assert_eq!(fast.unwrap().rounds, 2);
        let listed: Vec<String> = lister
            .join()
            .unwrap()
            .iter()
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(listed, ["a-slow", "b-fast"]);
    }

    /// A list reads only the sessions whose files changed since the last one: none when nothing
    /// changed, the one a round was appended to (and shows that round), the one that is new.
    #[test]
    fn only_changed_sessions_are_read_again() {
        let root = tempfile::tempdir().unwrap();
        session(root.path(), "a", 2);
        let mut b = session(root.path(), "b", 1);
        session(root.path(), "c", 2);
        let reads = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
        let counted = reads.clone();
        let index = Index::with_reader(
            root.path().to_path_buf(),
            Arc::new(move |name: &str, dir: &Path| {
                *counted.lock().unwrap().entry(name.to_string()).or_default() += 1;
                read(name, dir)
            }),
        );
        let take = || std::mem::take(&mut *reads.lock().unwrap());
        let rounds = |list: Vec<Arc<Summary>>| -> Vec<(String, usize)> {
            list.iter().map(|s| (s.name.clone(), s.rounds)).collect()
        };
        let first = rounds(index.all());
        assert_eq!(first, [("a".into(), 2), ("b".into(), 1), ("c".into(), 2)]);
        assert_eq!(take().len(), 3);
        assert_eq!(rounds(index.all()), first);
        assert!(take().is_empty(), "nothing changed, nothing read");
        assert!(index.get("a").is_some());
        assert!(
            take().is_empty(),
            "a session page reads no summary again either"
        );

        b.append(&record(2)).unwrap();
        session(root.path(), "d", 2);
        let next = rounds(index.all());
        assert_eq!(
            next,
            [
                ("a".into(), 2),
                ("b".into(), 2),
                ("c".into(), 2),
                ("d".into(), 2)
            ]
        );
        assert_eq!(take(), BTreeMap::from([("b".into(), 1), ("d".into(), 1)]));
        assert!(index.get("b").unwrap().finished);
    }
}
