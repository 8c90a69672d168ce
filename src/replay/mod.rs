//! The on-disk record of a session: `replays/<session-id>/` holds `manifest.json` (what was
//! played, by whom, with which settings), `rounds.jsonl` (one JSON line per finished round,
//! appended and fsynced as the round ends) and `views/` (the exact JPEGs the agent saw).
//!
//! A session killed mid-way leaves every finished round readable: a torn last line (cut anywhere,
//! even inside a multi-byte character) is skipped with a warning, never an error.
//!
//! Replays are shared between people, so a session folder is untrusted input: a view is read only
//! when its recorded name is one [`ReplayWriter`] writes (`views/r001_v0.jpg`), the file is a
//! regular file inside the session folder (no symlink out of it), and its bytes decode as a JPEG
//! ([`Replay::view_bytes`]). Nothing else in or outside the folder is ever read through a replay.

use crate::agent::Guess;
use crate::environment::{HeadingRef, View};
use crate::game::{integrity, RoundResult};
use fs_err::{self as fs, File, OpenOptions};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tracing::warn;

pub mod catalog;
pub mod prompts;
pub mod rerun;
pub mod rescore;

/// Version of the manifest and round-line layout. Readers accept this and older versions.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const ROUNDS_FILE: &str = "rounds.jsonl";
pub const VIEWS_DIR: &str = "views";
/// Largest view file read back. Views are screenshots of at most a few megabytes; anything bigger
/// is not one this program wrote.
pub(crate) const MAX_VIEW_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Largest `manifest.json` read. One this program writes is a few kilobytes (names, ids, a prompt
/// set's label); a manifest is someone else's file, and reading a crafted multi-gigabyte one
/// whole would exhaust memory before parsing could refuse it.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// Largest `rounds.jsonl` read. A round's line holds its views' metadata and every model
/// exchange whole (a reasoning model's answer can be tens of kilobytes, an ensemble keeps several),
/// so a 50-round game with long answers is a few megabytes and a bench of thousands of rounds
/// tens of megabytes; 256 MiB leaves room for ten times that while still refusing a crafted
/// multi-gigabyte file before it is read into memory.
pub(crate) const MAX_ROUNDS_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Most digits accepted in a view name's round and view numbers (`usize` has at most 20).
const MAX_VIEW_NAME_DIGITS: usize = 20;
/// Characters of a recorded file name quoted in an error (a crafted name can be megabytes).
const MAX_SHOWN_NAME_CHARS: usize = 80;
/// How long a writer waits for a session's lock before calling the session busy. A lock is
/// released when its file closes, but a child process this program forks at that moment
/// (chromedriver, the browser watchdog: `pre_exec` needs a fork) holds a copy of every open file
/// until it execs, so a game retried right after a failed attempt could find its own session
/// "busy" for a few milliseconds on a loaded machine. A real second writer holds it for a whole
/// game, far longer than this.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
/// Pause between tries while waiting for the lock.
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(25);

#[derive(Debug, Error)]
pub enum ReplayError {
    /// A file or folder operation failed; the error names the path (`fs-err`).
    #[error(transparent)]
    Io(std::io::Error),
    #[error("{path}: not a valid replay manifest: {detail}")]
    Manifest { path: String, detail: String },
    #[error("{path}: replay format_version {found} is newer than this build reads ({FORMAT_VERSION}); upgrade geoagent")]
    FutureVersion { path: String, found: u32 },
    #[error("{path}: refused view file `{file}`: {detail}")]
    View {
        path: String,
        file: String,
        detail: String,
    },
    /// Another process holds the session's writer lock (see [`ReplayWriter`]).
    #[error("{dir}: another geoagent is writing this session (resumed twice at once?); wait for it to end, one writer per session")]
    Busy { dir: String },
    #[error("{path}: refused recorded prompt set: {detail}")]
    Prompts { path: String, detail: String },
    /// Points need the map's size, which the session did not record (a geoguessr.com map whose
    /// scale the site did not give).
    #[error("session {session}: the map's size is unknown (the site did not give its scale), so no points can be computed for it; its recorded points are the site's own")]
    MapSizeUnknown { session: String },
    /// A session file this program did not write: larger than its bound.
    #[error("{path}: larger than the {max} bytes geoagent reads from a session's {file}; not one geoagent wrote")]
    TooLarge {
        path: String,
        file: &'static str,
        max: u64,
    },
    #[error("{path} line {line}: {detail}")]
    Round {
        path: String,
        line: usize,
        detail: String,
    },
}

/// What a session played and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub session_id: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub geoagent_version: String,
    /// What played the session (written as `local-game`, `geoguessr`, `direct` or `rerun`).
    pub environment: crate::environment::Kind,
    pub map: MapInfo,
    pub challenge: ChallengeInfo,
    /// "baseline" or "provider:model".
    pub reasoner: String,
    pub strategy: String,
    pub capture: CaptureInfo,
    /// The session this one re-ran, if any.
    #[serde(default)]
    pub parent: Option<String>,
    /// The user's own prompt set (`--prompts DIR`), its text in `prompts/<name>/`; absent for
    /// the built-in prompts (and in sessions from before prompt sets were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompts: Option<prompts::PromptsInfo>,
}

impl Manifest {
    /// The strategy as tables name it: `cot`, or `cot: my-prompts@3f2a9c01` with a prompt set of
    /// the user's own, so two prompt sets are two players.
    pub fn strategy_label(&self) -> String {
        match &self.prompts {
            Some(p) => format!("{}: {}", self.strategy, p.label()),
            None => self.strategy.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapInfo {
    pub id: String,
    pub name: String,
    /// The map's scoring scale (GeoGuessr's `maxErrorDistance`, in km): points are
    /// 5000·e^(−10·d/size). `None` (absent or `null`) when it is not known, as for a
    /// geoguessr.com map whose scale the site did not give; the recorded points are then the
    /// site's and none can be computed here. Sessions from before the field was optional carry
    /// a number, read unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_km: Option<f64>,
    pub synthetic: bool,
}

impl MapInfo {
    /// The map's size when it is a usable one (a positive, finite number): a replay is untrusted
    /// input, and a size of 0 or below would score every guess 0.
    pub fn known_size_km(&self) -> Option<f64> {
        self.size_km.filter(|s| s.is_finite() && *s > 0.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeInfo {
    pub id: String,
    pub seed: u64,
    pub rounds: usize,
    /// Fingerprint of the challenge key the places were picked with (not the key; absent for the
    /// public key and in sessions from before keys), so a resume can tell a changed key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
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
    /// What `heading` is measured from; absent = a compass heading (and in replays from before
    /// the field).
    #[serde(default, skip_serializing_if = "HeadingRef::is_compass")]
    pub heading_ref: HeadingRef,
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

/// Appends rounds of one session. It holds an exclusive lock (`flock`) on `rounds.jsonl` while
/// it lives, so a second process writing the same session (two resumes at once, a resume while
/// the first run still plays) is refused instead of playing every missing round again; the
/// kernel releases the lock when the process ends, however it ends.
pub struct ReplayWriter {
    dir: PathBuf,
    rounds: File,
}

impl ReplayWriter {
    /// Creates `root/<manifest.session_id>/` with its manifest.
    pub fn create(root: &Path, manifest: &Manifest) -> Result<ReplayWriter, ReplayError> {
        Self::create_with_prompts(root, manifest, None)
    }

    /// [`Self::create`], with the prompt set of the user's own the session plays with written
    /// into `prompts/` before the manifest that names it (`manifest.prompts` must describe it).
    pub fn create_with_prompts(
        root: &Path,
        manifest: &Manifest,
        prompts: Option<&crate::agent::prompt::files::PromptFiles>,
    ) -> Result<ReplayWriter, ReplayError> {
        let dir = root.join(&manifest.session_id);
        fs::create_dir_all(dir.join(VIEWS_DIR)).map_err(ReplayError::Io)?;
        if manifest.prompts.as_ref() != prompts.map(prompts::PromptsInfo::of).as_ref() {
            return Err(ReplayError::Manifest {
                path: dir.join(MANIFEST_FILE).display().to_string(),
                detail: "prompts does not describe the prompt set played with".into(),
            });
        }
        if let Some(set) = prompts {
            prompts::write(&dir, set)?;
        }
        let mpath = dir.join(MANIFEST_FILE);
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| ReplayError::Manifest {
            path: mpath.display().to_string(),
            detail: e.to_string(),
        })?;
        write_atomic(&mpath, &json)?;
        let rounds = Self::lock(&dir)?;
        Ok(ReplayWriter { dir, rounds })
    }

    /// Opens `dir`'s `rounds.jsonl` for appending and takes its writer lock, or says the session
    /// is busy.
    fn lock(dir: &Path) -> Result<File, ReplayError> {
        let rounds = crate::fsio::open_regular_with(
            std::fs::OpenOptions::new().create(true).append(true),
            &dir.join(ROUNDS_FILE),
        )
        .map_err(ReplayError::Io)?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match rounds.file().try_lock() {
                Ok(()) => return Ok(rounds),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(LOCK_RETRY);
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(ReplayError::Busy {
                        dir: dir.display().to_string(),
                    })
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(ReplayError::Io(e)),
            }
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the round's views (each fsynced), then returns their records for [`Self::append`].
    pub fn save_views(&self, round: usize, views: &[View]) -> Result<Vec<ViewRecord>, ReplayError> {
        Self::write_views(&self.dir, round, views)
    }

    /// Reopens an existing session folder to append more rounds (resume after a crash or
    /// Ctrl-C), and returns what is already recorded. A torn last line (a crash mid-write) is cut
    /// off first, so the next round starts on a fresh line and the file stays readable; a last
    /// line that is whole but lacks its newline is kept and terminated.
    pub(crate) fn reopen(dir: &Path) -> Result<(ReplayWriter, Replay), ReplayError> {
        let rpath = dir.join(ROUNDS_FILE);
        let mpath = dir.join(MANIFEST_FILE);
        if !mpath.is_file() {
            return Err(ReplayError::Manifest {
                path: mpath.display().to_string(),
                detail: "missing: not a session folder".into(),
            });
        }
        fs::create_dir_all(dir.join(VIEWS_DIR)).map_err(ReplayError::Io)?;
        // The lock first: the cut below must not race another writer's append.
        let rounds = Self::lock(dir)?;
        {
            let bytes = read_rounds_bytes(&rpath)?;
            let cut = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let tail = &bytes[cut..];
            if !tail.iter().all(u8::is_ascii_whitespace) {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&rpath)
                    .map_err(ReplayError::Io)?;
                if serde_json::from_slice::<RoundRecord>(tail).is_ok() {
                    drop(f);
                    let mut f = OpenOptions::new()
                        .append(true)
                        .open(&rpath)
                        .map_err(ReplayError::Io)?;
                    f.write_all(b"\n").map_err(ReplayError::Io)?;
                    f.sync_data().map_err(ReplayError::Io)?;
                } else {
                    warn!(
                        "{}: cutting a torn last line ({} bytes) before resuming",
                        rpath.display(),
                        tail.len()
                    );
                    f.set_len(cut as u64).map_err(ReplayError::Io)?;
                    f.sync_data().map_err(ReplayError::Io)?;
                }
            }
        }
        let replay = Replay::open(dir)?;
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
    pub(crate) fn write_views(
        dir: &Path,
        round: usize,
        views: &[View],
    ) -> Result<Vec<ViewRecord>, ReplayError> {
        views
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let rel = view_name(round, i);
                let path = dir.join(&rel);
                let mut f = File::create(&path).map_err(ReplayError::Io)?;
                f.write_all(&v.jpeg).map_err(ReplayError::Io)?;
                f.sync_all().map_err(ReplayError::Io)?;
                Ok(ViewRecord {
                    file: rel,
                    heading: v.heading,
                    pitch: v.pitch,
                    fov: v.fov,
                    width: v.width,
                    height: v.height,
                    bytes: v.jpeg.len(),
                    heading_ref: v.heading_ref,
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
        self.rounds.write_all(&line).map_err(ReplayError::Io)?;
        self.rounds.sync_data().map_err(ReplayError::Io)
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
    /// The session's `rescored.json` when its values replaced the recorded points and distances
    /// in `rounds` ([`rescore::apply`]; what `replay list`, `stats` and `report` show). `open`
    /// leaves it empty: resuming and re-running work on the recorded rounds.
    pub rescored: Option<rescore::Rescored>,
}

impl Replay {
    /// Reads a session folder. A torn final line is skipped with a warning; a bad line in the
    /// middle is an error naming the line (that is corruption, not a crash).
    pub fn open(dir: &Path) -> Result<Replay, ReplayError> {
        let mpath = dir.join(MANIFEST_FILE);
        let text = read_manifest_bytes(&mpath)?;
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
        if let Some(p) = &manifest.prompts {
            p.check().map_err(|detail| ReplayError::Manifest {
                path: mpath.display().to_string(),
                detail,
            })?;
        }

        let rpath = dir.join(ROUNDS_FILE);
        let bytes = read_rounds_bytes(&rpath)?;
        let (rounds, skipped) = parse_rounds(&rpath, &bytes)?;
        Ok(Replay {
            dir: dir.to_path_buf(),
            manifest,
            rounds,
            skipped,
            rescored: None,
        })
    }

    /// The round numbers already recorded (what a resumed run must not play again).
    #[cfg(test)]
    pub(crate) fn done_rounds(&self) -> std::collections::BTreeSet<usize> {
        self.rounds.iter().map(|r| r.round).collect()
    }

    /// Where a view's file is, after checking that the recorded name is one the writer produces
    /// and that the file is a regular file inside this session's folder (a crafted replay may
    /// name `/etc/passwd`, `../x`, or a symlink pointing out of the folder).
    pub(crate) fn view_path(&self, view: &ViewRecord) -> Result<PathBuf, ReplayError> {
        let refuse = |detail: String| ReplayError::View {
            path: self.dir.display().to_string(),
            file: clip_name(&view.file),
            detail,
        };
        if !is_view_name(&view.file) {
            return Err(refuse(format!(
                "not a view name this program writes (`{VIEWS_DIR}/r001_v0.jpg`)"
            )));
        }
        let views = self.dir.join(VIEWS_DIR);
        let path = self.dir.join(&view.file);
        for p in [&views, &path] {
            let meta = fs::symlink_metadata(p).map_err(ReplayError::Io)?;
            if meta.file_type().is_symlink() {
                return Err(refuse(format!("{} is a symbolic link", p.display())));
            }
        }
        if !fs::symlink_metadata(&path)
            .map_err(ReplayError::Io)?
            .is_file()
        {
            return Err(refuse("not a regular file".into()));
        }
        // Belt and braces: the resolved file must still be under the resolved session folder.
        let base = fs::canonicalize(&self.dir).map_err(ReplayError::Io)?;
        let real = fs::canonicalize(&path).map_err(ReplayError::Io)?;
        if !real.starts_with(&base) {
            return Err(refuse("resolves outside the session folder".into()));
        }
        Ok(path)
    }

    /// The recorded JPEG of a view: only a file [`Self::view_path`] accepts, at most
    /// [`MAX_VIEW_FILE_BYTES`], and only when it decodes as a JPEG, so no other bytes are ever
    /// served or sent to a model as a view.
    pub fn view_bytes(&self, view: &ViewRecord) -> Result<Vec<u8>, ReplayError> {
        self.view_checked(view).map(|(bytes, _)| bytes)
    }

    /// [`view_bytes`](Self::view_bytes) and the image they decode to: checking a view decodes
    /// it whole, so a caller that needs the pixels (the report's thumbnails) does not decode twice.
    pub(crate) fn view_checked(
        &self,
        view: &ViewRecord,
    ) -> Result<(Vec<u8>, image::DynamicImage), ReplayError> {
        let path = self.view_path(view)?;
        let file = crate::fsio::open_regular(&path).map_err(ReplayError::Io)?;
        let mut bytes = Vec::new();
        file.take(MAX_VIEW_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(ReplayError::Io)?;
        let refuse = |detail: String| ReplayError::View {
            path: self.dir.display().to_string(),
            file: clip_name(&view.file),
            detail,
        };
        if bytes.len() as u64 > MAX_VIEW_FILE_BYTES {
            return Err(refuse(format!(
                "larger than the {MAX_VIEW_FILE_BYTES} bytes a view may have"
            )));
        }
        if image::guess_format(&bytes).ok() != Some(image::ImageFormat::Jpeg) {
            return Err(refuse("not a JPEG image".into()));
        }
        let img = integrity::decode_clean(&path, &bytes).map_err(|e| refuse(e.to_string()))?;
        Ok((bytes, img))
    }
}

/// The bytes of the manifest at `path`, refused (naming the file) when it is not a regular file
/// or larger than [`MAX_MANIFEST_BYTES`]: at most that many bytes are ever read.
pub(crate) fn read_manifest_bytes(path: &Path) -> Result<Vec<u8>, ReplayError> {
    crate::fsio::read_regular(path, MAX_MANIFEST_BYTES).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            ReplayError::Manifest {
                path: path.display().to_string(),
                detail: format!(
                    "larger than the {MAX_MANIFEST_BYTES} bytes a manifest may have; not one geoagent wrote"
                ),
            }
        } else {
            ReplayError::Io(e)
        }
    })
}

/// The bytes of a session's `rounds.jsonl` at `path`, refused (naming the file) when it is not a
/// regular file (a named pipe there would hang every reader) or larger than
/// [`MAX_ROUNDS_FILE_BYTES`].
fn read_rounds_bytes(path: &Path) -> Result<Vec<u8>, ReplayError> {
    crate::fsio::read_regular(path, MAX_ROUNDS_FILE_BYTES).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            ReplayError::TooLarge {
                path: path.display().to_string(),
                file: ROUNDS_FILE,
                max: MAX_ROUNDS_FILE_BYTES,
            }
        } else {
            ReplayError::Io(e)
        }
    })
}

/// The name (relative to the session folder) of a round's `i`-th view: the only form
/// [`Replay::view_path`] accepts.
fn view_name(round: usize, i: usize) -> String {
    format!("{VIEWS_DIR}/r{round:03}_v{i}.jpg")
}

/// Whether `name` has exactly the form [`view_name`] writes: `views/r<3+ digits>_v<digits>.jpg`.
fn is_view_name(name: &str) -> bool {
    let digits = |s: &str, min: usize| {
        (min..=MAX_VIEW_NAME_DIGITS).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let Some(rest) = name
        .strip_prefix(VIEWS_DIR)
        .and_then(|r| r.strip_prefix("/r"))
        .and_then(|r| r.strip_suffix(".jpg"))
    else {
        return false;
    };
    rest.split_once("_v")
        .is_some_and(|(round, view)| digits(round, 3) && digits(view, 1))
}

/// A recorded name as shown in an error: one line, at most a screenful.
pub(crate) fn clip_name(name: &str) -> String {
    crate::text::line(name, MAX_SHOWN_NAME_CHARS)
}

/// Reads the rounds of `rounds.jsonl` from its bytes (`path` names it in messages). Lines are
/// split on `\n` as bytes, so a line cut inside a multi-byte character is just another torn line:
/// an unreadable LAST line (invalid UTF-8 or JSON) is skipped with a warning, an unreadable line
/// before it is an error naming the file and line (that is corruption, not a crash). A round
/// recorded twice (two processes that wrote one session before it was locked) is kept once, the
/// first record, and the dropped line is said in the notes, so nothing is counted twice.
pub(crate) fn parse_rounds(
    path: &Path,
    bytes: &[u8],
) -> Result<(Vec<RoundRecord>, Vec<String>), ReplayError> {
    let blank = |l: &[u8]| l.iter().all(u8::is_ascii_whitespace);
    let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    let last = lines.iter().rposition(|l| !blank(l));
    let mut rounds: Vec<RoundRecord> = Vec::new();
    let mut skipped = Vec::new();
    // Round number -> the line that recorded it first.
    let mut first_line = std::collections::HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        if blank(line) {
            continue;
        }
        let parsed = std::str::from_utf8(line)
            .map_err(|e| format!("not UTF-8 text ({e})"))
            .and_then(|text| serde_json::from_str::<RoundRecord>(text).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => match first_line.entry(r.round) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(i + 1);
                    rounds.push(r);
                }
                std::collections::hash_map::Entry::Occupied(o) => {
                    let why = format!(
                        "{} line {}: dropped a duplicate of round {} (kept line {})",
                        path.display(),
                        i + 1,
                        r.round,
                        o.get()
                    );
                    warn!("{why}");
                    skipped.push(why);
                }
            },
            Err(e) if Some(i) == last => {
                let why = format!(
                    "{} line {}: skipped torn last line ({e})",
                    path.display(),
                    i + 1
                );
                warn!("{why}");
                skipped.push(why);
            }
            Err(detail) => {
                return Err(ReplayError::Round {
                    path: path.display().to_string(),
                    line: i + 1,
                    detail,
                })
            }
        }
    }
    Ok((rounds, skipped))
}

/// A new session id: UTC time (sortable) plus a random suffix (unique across parallel runs).
pub(crate) fn new_session_id() -> String {
    let suffix: u32 = rand::random();
    format!(
        "{}-{:06x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        suffix & 0xff_ffff
    )
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReplayError> {
    crate::fsio::write_atomic(path, bytes).map_err(ReplayError::Io)
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
            environment: crate::environment::Kind::LocalGame,
            map: MapInfo {
                id: "world".into(),
                name: "Synthetic World".into(),
                size_km: Some(14916.862),
                synthetic: true,
            },
            challenge: ChallengeInfo {
                id: "world-1-2".into(),
                seed: 1,
                rounds: 2,
                key_id: None,
            },
            reasoner: "baseline".into(),
            strategy: "cot".into(),
            capture: CaptureInfo {
                headings: 1,
                zoom_steps: 0,
                jpeg_quality: 80,
            },
            parent: None,
            prompts: None,
        }
    }

    /// A small real JPEG (views must decode to be read back).
    pub(crate) fn tiny_jpeg(seed: u8) -> Vec<u8> {
        let img = image::RgbImage::from_fn(4, 2, |x, _| image::Rgb([seed, x as u8 * 40, 7]));
        integrity::encode_clean_jpeg(&img, 80).unwrap()
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
                revisions: Vec::new(),
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
    fn map_size_reads_old_numbers_unchanged_and_may_be_unknown() {
        let mut m = serde_json::to_value(manifest("s")).unwrap();
        let read = |v: &serde_json::Value| serde_json::from_value::<Manifest>(v.clone()).unwrap();
        assert_eq!(
            read(&m).map.size_km,
            Some(14916.862),
            "an old replay's number"
        );
        m["map"]["size_km"] = serde_json::Value::Null;
        assert_eq!(read(&m).map.known_size_km(), None);
        m["map"].as_object_mut().unwrap().remove("size_km");
        assert_eq!(read(&m).map.known_size_km(), None);
        // An unknown size is written as no field, not as the world's size.
        let mut unknown = manifest("s");
        unknown.map.size_km = None;
        let text = serde_json::to_string(&unknown).unwrap();
        assert!(!text.contains("size_km"), "{text}");
        for bad in [0.0, -1.0, f64::INFINITY] {
            unknown.map.size_km = Some(bad);
            assert_eq!(unknown.map.known_size_km(), None, "{bad}");
        }
    }

    /// Issue 23: the environment is a kind, written and read as the names every earlier build
    /// wrote (`local-game`, `geoguessr`, `direct`, `rerun`), and a name outside them is refused
    /// naming the file and the field, the name quoted on one line.
    #[test]
    fn environment_kinds_read_as_written_and_an_unknown_one_names_file_and_field() {
        use crate::environment::Kind;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("s");
        ReplayWriter::create(root.path(), &manifest("s")).unwrap();
        let path = dir.join(MANIFEST_FILE);
        let original: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        let write_env = |name: &str| {
            let mut m = original.clone();
            m["environment"] = name.into();
            fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
        };
        for (name, kind) in [
            ("local-game", Kind::LocalGame),
            ("geoguessr", Kind::Geoguessr),
            ("direct", Kind::Direct),
            ("rerun", Kind::Rerun),
        ] {
            write_env(name);
            let m = Replay::open(&dir).unwrap().manifest;
            assert_eq!(m.environment, kind, "{name}");
            assert_eq!(
                serde_json::to_value(&m).unwrap()["environment"],
                name,
                "written back as read"
            );
        }
        write_env("moon-base\x1b[2J");
        let e = Replay::open(&dir).unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains("environment: unknown kind 'moon-base"), "{e}");
        assert!(e.contains("local-game, geoguessr, direct, rerun"), "{e}");
        assert!(!e.contains('\x1b'), "{e}");
    }

    #[test]
    fn round_trip_with_views() {
        let root = tempfile::tempdir().unwrap();
        let m = manifest("s1");
        let mut w = ReplayWriter::create(root.path(), &m).unwrap();
        let view = View {
            heading: 90.0,
            heading_ref: crate::environment::HeadingRef::Compass,
            pitch: 0.0,
            fov: 90.0,
            width: 4,
            height: 2,
            jpeg: tiny_jpeg(1),
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
            tiny_jpeg(1)
        );
        assert!(back.skipped.is_empty());
    }

    #[test]
    fn only_names_the_writer_produces_are_views() {
        assert_eq!(view_name(1, 0), "views/r001_v0.jpg");
        assert_eq!(view_name(1234, 11), "views/r1234_v11.jpg");
        for ok in ["views/r001_v0.jpg", "views/r1234_v11.jpg"] {
            assert!(is_view_name(ok), "{ok}");
        }
        for bad in [
            "/etc/passwd",
            "../../x",
            "views/../../x.jpg",
            "views/r001_v0.jpg/..",
            "views/r01_v0.jpg",
            "views/r001_v.jpg",
            "views/r001_v0.png",
            "views//r001_v0.jpg",
            "./views/r001_v0.jpg",
            "views/r001_v0.jpg\0",
            "views/r+01_v0.jpg",
            "views/r001_v-1.jpg",
            "VIEWS/r001_v0.jpg",
            "",
        ] {
            assert!(!is_view_name(bad), "{bad}");
        }
        assert!(!is_view_name(&format!("views/r{}_v0.jpg", "1".repeat(21))));
    }

    /// Issue 25: a manifest is read with a bound, and a larger one is refused naming the file (it
    /// was read whole: a crafted 2 MB name opened, a multi-gigabyte one would exhaust memory).
    #[test]
    fn an_oversized_manifest_is_refused_naming_the_file() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("big")).unwrap();
        w.append(&record(1)).unwrap();
        let dir = root.path().join("big");
        let mpath = dir.join(MANIFEST_FILE);
        let mut m = manifest("big");
        // Under the bound: still a manifest.
        m.map.name = "n".repeat(100_000);
        std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(Replay::open(&dir).unwrap().manifest.map.name.len(), 100_000);
        m.map.name = "n".repeat(MAX_MANIFEST_BYTES as usize + 1);
        std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
        let e = Replay::open(&dir).unwrap_err().to_string();
        assert!(
            e.contains(&mpath.display().to_string()) && e.contains("larger than"),
            "{e}"
        );
        assert!(e.len() < 400, "{e}");
    }

    #[test]
    fn crafted_view_records_are_refused_and_named() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("c")).unwrap();
        let view = View {
            heading: 0.0,
            heading_ref: crate::environment::HeadingRef::Compass,
            pitch: 0.0,
            fov: 90.0,
            width: 4,
            height: 2,
            jpeg: tiny_jpeg(2),
        };
        let mut r = record(1);
        r.views = w.save_views(1, &[view.clone(), view]).unwrap();
        w.append(&r).unwrap();
        let dir = root.path().join("c");
        std::fs::write(root.path().join("outside.jpg"), tiny_jpeg(3)).unwrap();
        let back = Replay::open(&dir).unwrap();
        let mut v = back.rounds[0].views[0].clone();
        for name in ["/etc/passwd", "../outside.jpg", "views/../../outside.jpg"] {
            v.file = name.into();
            let e = back.view_bytes(&v).unwrap_err().to_string();
            assert!(e.contains("refused") && e.contains(name), "{e}");
        }
        // A huge crafted name is cut in the message.
        v.file = "a".repeat(100_000);
        assert!(back.view_bytes(&v).unwrap_err().to_string().len() < 400);
        // A symlink out of the folder, and a file that is not a JPEG.
        let v0 = &back.rounds[0].views[0];
        fs::remove_file(dir.join(&v0.file)).unwrap();
        std::os::unix::fs::symlink(root.path().join("outside.jpg"), dir.join(&v0.file)).unwrap();
        let e = back.view_bytes(v0).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        let v1 = &back.rounds[0].views[1];
        fs::write(dir.join(&v1.file), b"secret text").unwrap();
        let e = back.view_bytes(v1).unwrap_err().to_string();
        assert!(e.contains("not a JPEG"), "{e}");
        let mut cut = tiny_jpeg(4);
        cut.truncate(cut.len() - 2);
        fs::write(dir.join(&v1.file), cut).unwrap();
        let e = back.view_bytes(v1).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn a_last_line_cut_inside_a_character_is_torn_not_fatal() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("u")).unwrap();
        w.append(&record(1)).unwrap();
        let mut r2 = record(2);
        r2.result.place = Some("Zürich 47°22′".into());
        let line = serde_json::to_string(&r2).unwrap();
        let cut = line.find('ü').unwrap() + 1;
        let path = root.path().join("u").join(ROUNDS_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&line.as_bytes()[..cut]).unwrap();
        drop(f);
        let back = Replay::open(&root.path().join("u")).unwrap();
        assert_eq!(back.rounds.len(), 1);
        assert!(back.skipped[0].contains("line 2"), "{:?}", back.skipped);
        // Resuming cuts it and goes on (once the first writer is gone).
        drop(w);
        let (mut w, back) = ReplayWriter::reopen(&root.path().join("u")).unwrap();
        assert_eq!(back.rounds.len(), 1);
        w.append(&r2).unwrap();
        let back = Replay::open(&root.path().join("u")).unwrap();
        assert_eq!(
            back.rounds[1].result.place.as_deref(),
            Some("Zürich 47°22′")
        );
    }

    #[test]
    fn invalid_utf8_in_the_middle_names_file_and_line() {
        let root = tempfile::tempdir().unwrap();
        let mut w = ReplayWriter::create(root.path(), &manifest("m")).unwrap();
        w.append(&record(1)).unwrap();
        let path = root.path().join("m").join(ROUNDS_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"round\": \xff\xfe}\n").unwrap();
        drop(f);
        w.append(&record(3)).unwrap();
        let e = Replay::open(&root.path().join("m"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains(ROUNDS_FILE) && e.contains("UTF-8"),
            "{e}"
        );
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

    // Issue 25, item 6: two resumes of one session at once both played every missing round.
    #[test]
    fn a_session_has_one_writer_at_a_time() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("s7");
        let mut w = ReplayWriter::create(root.path(), &manifest("s7")).unwrap();
        w.append(&record(1)).unwrap();
        let err = ReplayWriter::reopen(&dir).err().expect("a second writer");
        assert!(matches!(err, ReplayError::Busy { .. }), "{err}");
        assert!(err.to_string().contains("s7"), "{err}");
        drop(w);
        let (mut w, back) = ReplayWriter::reopen(&dir).unwrap();
        assert_eq!(back.rounds.len(), 1);
        assert!(matches!(
            ReplayWriter::reopen(&dir).err(),
            Some(ReplayError::Busy { .. })
        ));
        w.append(&record(2)).unwrap();
        drop(w);
        assert_eq!(Replay::open(&dir).unwrap().rounds.len(), 2);
        let err = ReplayWriter::reopen(&root.path().join("nothing"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("not a session folder"), "{err}");
        assert!(!root.path().join("nothing").exists());
    }

    // CI: a pooled game retried right after its failed first attempt found its own session busy,
    // because a child forked at that moment still held a copy of the closed writer's file.
    #[test]
    fn a_lock_held_for_a_moment_by_a_copy_of_the_file_is_waited_for() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("s9");
        let w = ReplayWriter::create(root.path(), &manifest("s9")).unwrap();
        // A dup shares the lock as a forked child's copy does, until it is closed too.
        let copy = w.rounds.file().try_clone().unwrap();
        drop(w);
        let closer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(copy);
        });
        let started = std::time::Instant::now();
        let (_w, back) = ReplayWriter::reopen(&dir).expect("the lock, once the copy is closed");
        assert!(started.elapsed() >= std::time::Duration::from_millis(250));
        assert!(back.rounds.is_empty());
        closer.join().unwrap();
    }

    #[test]
    fn a_round_recorded_twice_is_read_once_and_said() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("s8");
        let mut w = ReplayWriter::create(root.path(), &manifest("s8")).unwrap();
        let mut late = record(1);
        late.result.points = 1;
        for r in [record(1), record(2), late, record(2)] {
            w.append(&r).unwrap();
        }
        drop(w);
        let back = Replay::open(&dir).unwrap();
        assert_eq!(
            back.rounds.iter().map(|r| r.round).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(back.rounds[0].result.points, record(1).result.points);
        assert_eq!(back.skipped.len(), 2, "{:?}", back.skipped);
        assert!(
            back.skipped[0].contains("line 3: dropped a duplicate of round 1 (kept line 1)"),
            "{:?}",
            back.skipped
        );
    }

    #[test]
    fn a_view_recorded_before_heading_ref_reads_as_a_compass_heading() {
        let old = r#"{"file":"views/r001_v0.jpg","heading":90.0,"pitch":0.0,"fov":90.0,"width":8,"height":6,"bytes":10}"#;
        let v: ViewRecord = serde_json::from_str(old).unwrap();
        assert_eq!(v.heading_ref, HeadingRef::Compass);
        // A compass view is written as before; a relative one says so and reads back.
        assert_eq!(serde_json::to_string(&v).unwrap(), old);
        let rel = ViewRecord {
            heading_ref: HeadingRef::Start,
            ..v
        };
        let text = serde_json::to_string(&rel).unwrap();
        assert!(text.contains(r#""heading_ref":"start""#), "{text}");
        assert_eq!(serde_json::from_str::<ViewRecord>(&text).unwrap(), rel);
    }

    #[test]
    fn session_ids_are_unique_and_sortable() {
        let a = new_session_id();
        let b = new_session_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), b.len());
    }
}
