//! Finding and describing recorded sessions: the sessions under a replays folder, resolving the
//! id a person types (a session id, a unique prefix of one, or a folder path) to a folder, and the
//! rows and spend that `geoagent replay list` and `replay show` draw (the text is drawn in
//! `cli::replay::tables`).
//!
//! Listing never fails because of one bad session: an unreadable folder is listed with the
//! reason, so nothing recorded is hidden. Sessions read here show re-scored points where a
//! `rescored.json` allows ([`super::rescore::apply`]).

use super::{Replay, ReplayError, RoundRecord, MANIFEST_FILE};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Candidates named in an "ambiguous id" error: enough to pick from, short enough to read.
const AMBIGUOUS_SHOWN: usize = 8;

#[derive(Debug, Error)]
pub enum CatalogError {
    /// A file or folder operation failed; the error names the path (`fs-err`).
    #[error(transparent)]
    Io(std::io::Error),
    #[error("no session `{id}` in {root} (neither a session id, a unique prefix of one, nor a folder holding {MANIFEST_FILE}); `geoagent replay list --dir {root}` shows the sessions")]
    NotFound { id: String, root: String },
    #[error("`{id}` matches {count} sessions in {root}: {candidates}; type more of the id")]
    Ambiguous {
        id: String,
        root: String,
        count: usize,
        candidates: String,
    },
    #[error("session {session} has no round {round} (it holds rounds {have})")]
    NoRound {
        session: String,
        round: usize,
        have: String,
    },
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// Session folders directly under `root` (those holding a manifest), sorted by name, which is
/// by creation time for ids from [`super::new_session_id`]. A missing `root` holds none.
pub fn session_dirs(root: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    if root.join(MANIFEST_FILE).is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    if !root.exists() {
        return Ok(vec![]);
    }
    let mut dirs: Vec<PathBuf> = fs_err::read_dir(root)
        .map_err(CatalogError::Io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(MANIFEST_FILE).is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Sessions read from disk: the readable ones, and each unreadable one with why.
#[derive(Debug, Default)]
pub struct Sessions {
    pub readable: Vec<Replay>,
    /// Session folders that could not be read (corrupt manifest, a bad line in the middle of
    /// `rounds.jsonl`, ...), each with its error.
    pub skipped: Vec<(PathBuf, ReplayError)>,
    /// What to know about re-scored points: sessions shown re-scored, `rescored.json` files
    /// (or rounds of them) ignored and why.
    pub rescore_notes: Vec<String>,
}

impl Sessions {
    /// One note per unreadable session, naming its folder and why, and the re-scoring notes,
    /// for commands to show.
    pub fn notes(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|(dir, e)| format!("skipped unreadable session {}: {e}", dir.display()))
            .chain(self.rescore_notes.iter().cloned())
            .collect()
    }
}

/// Opens a session with its re-scored points applied; notes say what was used or ignored.
pub(crate) fn open_rescored(dir: &Path, notes: &mut Vec<String>) -> Result<Replay, ReplayError> {
    let mut r = Replay::open(dir)?;
    notes.extend(super::rescore::apply(&mut r));
    if let Some(f) = &r.rescored {
        notes.push(format!(
            "session {}: points and distances of {} round(s) re-scored by geoagent {} on {} ({}); the recorded ones are in rounds.jsonl",
            r.manifest.session_id,
            f.rounds.len(),
            super::clip_name(&f.geoagent_version),
            f.rescored_at.format("%Y-%m-%d"),
            super::rescore::RESCORED_FILE
        ));
    }
    Ok(r)
}

/// Reads every session folder in `dirs`. One unreadable session never stops the others: it is
/// returned in [`Sessions::skipped`] (and logged) so `stats` and `report` go on with the rest.
pub(crate) fn read_sessions(dirs: &[PathBuf]) -> Sessions {
    let mut out = Sessions::default();
    for d in dirs {
        match open_rescored(d, &mut out.rescore_notes) {
            Ok(r) => out.readable.push(r),
            Err(e) => {
                tracing::warn!("skipping unreadable session {}: {e}", d.display());
                out.skipped.push((d.clone(), e));
            }
        }
    }
    out
}

/// Every session under `root` (see [`session_dirs`]), read with [`read_sessions`].
#[cfg(test)]
pub(crate) fn read_all(root: &Path) -> Result<Sessions, CatalogError> {
    Ok(read_sessions(&session_dirs(root)?))
}

/// The folder of the session `id` names: a folder path holding a manifest, or a session id or
/// unique id prefix under `root` (matched against folder names and manifest session ids).
pub fn resolve(root: &Path, id: &str) -> Result<PathBuf, CatalogError> {
    let as_path = Path::new(id);
    if as_path.join(MANIFEST_FILE).is_file() {
        return Ok(as_path.to_path_buf());
    }
    let not_found = || CatalogError::NotFound {
        id: id.to_string(),
        root: root.display().to_string(),
    };
    if id.is_empty() {
        return Err(not_found());
    }
    let mut exact = Vec::new();
    let mut prefixed = Vec::new();
    for dir in session_dirs(root)? {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let session_id = read_session_id(&dir).unwrap_or_else(|| name.clone());
        if name == id || session_id == id {
            exact.push(dir);
        } else if name.starts_with(id) || session_id.starts_with(id) {
            prefixed.push(dir);
        }
    }
    let found = if exact.is_empty() { prefixed } else { exact };
    match found.len() {
        0 => Err(not_found()),
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        count => Err(CatalogError::Ambiguous {
            id: id.to_string(),
            root: root.display().to_string(),
            count,
            candidates: found
                .iter()
                .take(AMBIGUOUS_SHOWN)
                .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// The manifest's session id without validating the rest (for matching ids only).
fn read_session_id(dir: &Path) -> Option<String> {
    let text = super::read_manifest_bytes(&dir.join(MANIFEST_FILE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    v["session_id"].as_str().map(str::to_string)
}

/// Tokens (and cost, when the provider reported one) spent by a session.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spend {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// In US dollars; `None` when no round recorded a cost.
    pub cost_usd: Option<f64>,
}

/// The cost a usage record carries, if any. Read from the serialized form so that replays (and
/// builds) whose `Usage` has a `cost_usd` or `cost` field are summed, and older ones read as none.
fn usage_cost(usage: &crate::lvlm::Usage) -> Option<f64> {
    let v = serde_json::to_value(usage).ok()?;
    ["cost_usd", "cost"]
        .iter()
        .find_map(|k| v.get(*k).and_then(serde_json::Value::as_f64))
}

/// What a session spent on the model, over all its rounds.
pub(crate) fn spend(rounds: &[RoundRecord]) -> Spend {
    let mut s = Spend::default();
    for r in rounds {
        s.input_tokens += r.guess.usage.input_tokens;
        s.output_tokens += r.guess.usage.output_tokens;
        if let Some(c) = usage_cost(&r.guess.usage) {
            *s.cost_usd.get_or_insert(0.0) += c;
        }
    }
    s
}

/// One row of `replay list`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub dir: PathBuf,
    pub id: String,
    /// The reason the session could not be read; the other fields are then empty.
    pub error: Option<String>,
    pub created: Option<chrono::DateTime<chrono::Utc>>,
    pub map: String,
    pub reasoner: String,
    pub strategy: String,
    /// `None` when the session could not be read.
    pub environment: Option<crate::environment::Kind>,
    pub rounds: usize,
    pub planned_rounds: usize,
    pub mean_points: Option<f64>,
    /// The recorded mean, when `mean_points` is re-scored and differs from it.
    pub recorded_mean_points: Option<f64>,
    pub spend: Spend,
    pub parent: Option<String>,
    /// Torn lines skipped while reading.
    pub skipped: usize,
}

impl SessionRow {
    pub(crate) fn from_replay(r: &Replay) -> SessionRow {
        let m = &r.manifest;
        let n = r.rounds.len();
        SessionRow {
            dir: r.dir.clone(),
            id: m.session_id.clone(),
            error: None,
            created: Some(m.created),
            map: m.map.id.clone(),
            reasoner: m.reasoner.clone(),
            strategy: m.strategy_label(),
            environment: Some(m.environment),
            rounds: n,
            planned_rounds: m.challenge.rounds,
            mean_points: (n > 0).then(|| mean_of(&r.rounds)),
            recorded_mean_points: recorded_mean(r),
            spend: spend(&r.rounds),
            parent: m.parent.clone(),
            skipped: r.skipped.len(),
        }
    }

    fn unreadable(dir: &Path, e: &ReplayError) -> SessionRow {
        SessionRow {
            dir: dir.to_path_buf(),
            id: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            error: Some(e.to_string()),
            created: None,
            map: String::new(),
            reasoner: String::new(),
            strategy: String::new(),
            environment: None,
            rounds: 0,
            planned_rounds: 0,
            mean_points: None,
            recorded_mean_points: None,
            spend: Spend::default(),
            parent: None,
            skipped: 0,
        }
    }
}

/// A session's recorded mean points, when it shows re-scored ones that differ.
pub(crate) fn recorded_mean(r: &Replay) -> Option<f64> {
    r.rescored.as_ref()?;
    let sum: u64 = r
        .rounds
        .iter()
        .map(|x| u64::from(super::rescore::recorded_points(r, x.round).unwrap_or(x.result.points)))
        .sum();
    let shown: u64 = r.rounds.iter().map(|x| u64::from(x.result.points)).sum();
    (sum != shown).then(|| sum as f64 / r.rounds.len().max(1) as f64)
}

fn mean_of(rounds: &[RoundRecord]) -> f64 {
    rounds
        .iter()
        .map(|x| f64::from(x.result.points))
        .sum::<f64>()
        / rounds.len().max(1) as f64
}

/// Every session under `root`, readable or not, oldest first, with re-scored points where a
/// `rescored.json` allows.
pub fn list(root: &Path) -> Result<Vec<SessionRow>, CatalogError> {
    let mut ignored = Vec::new();
    Ok(session_dirs(root)?
        .iter()
        .map(|d| match open_rescored(d, &mut ignored) {
            Ok(r) => SessionRow::from_replay(&r),
            Err(e) => SessionRow::unreadable(d, &e),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::replay::tables::{render_list, render_show, spend_cell};
    use crate::replay::tests::{manifest, record};
    use crate::replay::ReplayWriter;

    fn root_with(ids: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for id in ids {
            let mut w = ReplayWriter::create(root.path(), &manifest(id)).unwrap();
            w.append(&record(1)).unwrap();
        }
        root
    }

    #[test]
    fn resolves_ids_prefixes_and_paths() {
        let root = root_with(&["20260101T000000Z-aaaaaa", "20260101T000000Z-abbbbb"]);
        let r = root.path();
        assert!(resolve(r, "20260101T000000Z-aaaaaa")
            .unwrap()
            .ends_with("20260101T000000Z-aaaaaa"));
        assert!(resolve(r, "20260101T000000Z-ab")
            .unwrap()
            .ends_with("20260101T000000Z-abbbbb"));
        let full = r.join("20260101T000000Z-aaaaaa");
        assert_eq!(resolve(r, full.to_str().unwrap()).unwrap(), full);
        let amb = resolve(r, "20260101").unwrap_err().to_string();
        assert!(amb.contains("matches 2 sessions"), "{amb}");
        let none = resolve(r, "nope").unwrap_err().to_string();
        assert!(none.contains("replay list"), "{none}");
        assert!(resolve(r, "").is_err());
    }

    #[test]
    fn list_keeps_unreadable_sessions_visible() {
        let root = root_with(&["s1"]);
        let bad = root.path().join("s2");
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join(MANIFEST_FILE), b"{\"format_version\": 99}").unwrap();
        let rows = list(root.path()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].mean_points, Some(5000.0));
        assert!(rows[1].error.as_deref().unwrap().contains("newer"));
        let text = render_list(&rows, root.path());
        assert!(text.contains("unreadable"), "{text}");
    }

    #[test]
    fn list_and_read_show_rescored_points_beside_the_recorded_ones() {
        let root = root_with(&["s1"]);
        let dir = root.path().join("s1");
        let replay = Replay::open(&dir).unwrap();
        let mut r = crate::replay::rescore::rescore(&replay).unwrap();
        // As if today's formula gave 4321 for the recorded 5000.
        r.rounds[0].points = 4321;
        crate::replay::rescore::write(&dir, &r).unwrap();
        let rows = list(root.path()).unwrap();
        assert_eq!(rows[0].mean_points, Some(4321.0));
        assert_eq!(rows[0].recorded_mean_points, Some(5000.0));
        let text = render_list(&rows, root.path());
        assert!(
            text.contains("4321 *") && text.contains("(rec. 5000)"),
            "{text}"
        );
        assert!(text.contains("re-scored"), "{text}");
        let mut notes = Vec::new();
        let shown = open_rescored(&dir, &mut notes).unwrap();
        let table = render_show(&shown, None).unwrap();
        assert!(
            table.contains("4321 *") && table.contains("(rec. 5000)"),
            "{table}"
        );
        assert!(table.contains("re-scored"), "{table}");
        let one = render_show(&shown, Some(1)).unwrap();
        assert!(
            one.contains("points     4321 (re-scored") && one.contains("5000 as recorded"),
            "{one}"
        );
        assert!(
            notes.iter().any(|n| n.contains("re-scored by geoagent")),
            "{notes:?}"
        );
        let plain = render_show(&replay, None).unwrap();
        assert!(!plain.contains("re-scored"), "{plain}");
        let s = read_all(root.path()).unwrap();
        assert_eq!(s.readable[0].rounds[0].result.points, 4321);
        assert!(
            s.notes()
                .iter()
                .any(|n| n.contains("re-scored by geoagent")),
            "{:?}",
            s.notes()
        );
    }

    #[test]
    fn read_all_skips_an_unreadable_session_and_names_it() {
        let root = root_with(&["s1", "s3"]);
        let bad = root.path().join("s2");
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join(MANIFEST_FILE), b"{not json").unwrap();
        let s = read_all(root.path()).unwrap();
        assert_eq!(s.readable.len(), 2);
        assert_eq!(s.skipped.len(), 1);
        let notes = s.notes();
        assert!(
            notes[0].contains("s2") && notes[0].contains("manifest"),
            "{notes:?}"
        );
    }

    #[test]
    fn spend_sums_tokens_and_reads_a_cost_field_when_present() {
        let mut a = record(1);
        a.guess.usage.input_tokens = 10;
        a.guess.usage.output_tokens = 3;
        let s = spend(&[a.clone(), a]);
        assert_eq!((s.input_tokens, s.output_tokens, s.cost_usd), (20, 6, None));
        assert_eq!(spend_cell(&Spend::default()), "–");
        assert_eq!(
            spend_cell(&Spend {
                input_tokens: 1,
                output_tokens: 2,
                cost_usd: Some(0.5)
            }),
            "1 in / 2 out\n$0.5000"
        );
    }

    #[test]
    fn show_names_missing_rounds() {
        let root = root_with(&["s1"]);
        let r = Replay::open(&root.path().join("s1")).unwrap();
        let e = render_show(&r, Some(4)).unwrap_err().to_string();
        assert!(e.contains("no round 4") && e.contains("rounds 1"), "{e}");
        assert!(render_show(&r, Some(1))
            .unwrap()
            .contains("points     5000"));
    }
}
