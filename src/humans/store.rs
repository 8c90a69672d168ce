//! The crash- and concurrency-safe JSON-lines store of human rounds (`humans.jsonl`).

use super::*;

/// Human rounds kept as JSON lines in one file.
///
/// Concurrency: the file is opened with `O_APPEND`, each round is serialised into one buffer
/// ending in `\n` and written with a single `write_all` while holding an exclusive `flock`.
/// `O_APPEND` alone puts every write at the current end, but a long write may be split into
/// several `write(2)` calls, and another writer could land between them; the lock (advisory,
/// held only for that one write) rules that out, and readers take a shared lock so they never
/// see half a line. A writer killed mid-line leaves a torn last line: [`Store::load`] skips it
/// with a warning (the same rule as replays) and the next [`Store::append`] cuts it off before
/// writing, so it never glues onto a good line.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

/// Holds the file's lock (`flock` on Linux, through std) until dropped; the kernel releases it
/// on close as well.
struct FileLock<'a>(&'a File);

impl<'a> FileLock<'a> {
    fn new(file: &'a File, exclusive: bool) -> std::io::Result<FileLock<'a>> {
        if exclusive {
            file.lock()?;
        } else {
            file.lock_shared()?;
        }
        Ok(FileLock(file))
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        // A failed unlock leaves the lock to the close that follows.
        let _ = self.0.unlock();
    }
}

/// Bytes read per step when looking back for the last complete line.
const TAIL_CHUNK: usize = 4096;

/// If the file does not end in a newline (a writer died mid-line), truncates it after its last
/// complete line, so the next line starts clean instead of gluing onto the fragment.
fn cut_torn_tail(file: &File) -> std::io::Result<()> {
    use fs_err::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; TAIL_CHUNK];
    while end > 0 {
        let start = end.saturating_sub(TAIL_CHUNK as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if end == len && chunk.last() == Some(&b'\n') {
            return Ok(());
        }
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            return file.set_len(start + i as u64 + 1);
        }
        end = start;
    }
    file.set_len(0)
}

impl Store {
    /// The store in `data_dir` ([`STORE_FILE`]).
    #[cfg(test)]
    pub(crate) fn in_dir(data_dir: &Path) -> Store {
        Store {
            path: data_dir.join(STORE_FILE),
        }
    }

    /// A store at an explicit file path.
    pub fn open(path: &Path) -> Store {
        Store {
            path: path.to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one round as one line (see the type doc for why this is safe with many writers).
    pub fn append(&self, round: &HumanRound) -> Result<(), HumansError> {
        let line = self.line(round)?;
        self.write_locked(|_| Ok(line))
    }

    /// Appends the rounds the store does not hold yet (same challenge, round and player; a round
    /// repeated within `rounds` counts once) in one locked write and one `fsync`, and returns how
    /// many were added. The store is read under the same lock, so two imports at once cannot
    /// both add a round: a 20,000-player file is one write, not 100,000 open-lock-sync cycles.
    pub fn append_new(&self, rounds: Vec<HumanRound>) -> Result<usize, HumansError> {
        let mut added = 0;
        self.write_locked(|file| {
            let mut have: std::collections::HashSet<(String, usize, String)> = self
                .read_locked(file)?
                .into_iter()
                .map(|h| (h.challenge_id, h.round, h.player))
                .collect();
            let mut batch = Vec::new();
            for r in &rounds {
                if have.insert((r.challenge_id.clone(), r.round, r.player.clone())) {
                    batch.extend(self.line(r)?);
                    added += 1;
                }
            }
            Ok(batch)
        })?;
        Ok(added)
    }

    /// `round` as one JSON line.
    fn line(&self, round: &HumanRound) -> Result<Vec<u8>, HumansError> {
        let mut line = serde_json::to_vec(round).map_err(|e| HumansError::Format {
            path: self.path.display().to_string(),
            detail: e.to_string(),
        })?;
        line.push(b'\n');
        Ok(line)
    }

    /// Opens the store for appending under its exclusive lock, cuts a torn tail, and writes
    /// what `lines` returns for the file as it is (one `write_all`, one `fsync`; nothing when
    /// empty).
    fn write_locked(
        &self,
        lines: impl FnOnce(&File) -> Result<Vec<u8>, HumansError>,
    ) -> Result<(), HumansError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(HumansError::Io)?;
        }
        // Readable too: cutting a torn tail needs to look at the last bytes.
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(HumansError::Io)?;
        let _lock = FileLock::new(&file, true).map_err(HumansError::Io)?;
        cut_torn_tail(&file).map_err(HumansError::Io)?;
        let bytes = lines(&file)?;
        if bytes.is_empty() {
            return Ok(());
        }
        (&file).write_all(&bytes).map_err(HumansError::Io)?;
        file.sync_data().map_err(HumansError::Io)
    }

    /// Every stored round; a missing file is an empty store.
    pub fn load(&self) -> Result<Vec<HumanRound>, HumansError> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(HumansError::Io(e)),
        };
        let _lock = FileLock::new(&file, false).map_err(HumansError::Io)?;
        self.read_locked(&file)
    }

    /// Every round in `file`, whose lock the caller holds (a torn last line is skipped).
    fn read_locked(&self, file: &File) -> Result<Vec<HumanRound>, HumansError> {
        let mut bytes = Vec::new();
        (&*file).read_to_end(&mut bytes).map_err(HumansError::Io)?;
        // Split as bytes, so a line cut inside a multi-byte character is a torn line like any
        // other (the replays' rule), not an error for the whole store.
        let blank = |l: &[u8]| l.iter().all(u8::is_ascii_whitespace);
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let last = lines.iter().rposition(|l| !blank(l));
        let mut out = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            if blank(line) {
                continue;
            }
            let parsed = std::str::from_utf8(line)
                .map_err(|e| format!("not UTF-8 text ({e})"))
                .and_then(|t| serde_json::from_str::<HumanRound>(t).map_err(|e| e.to_string()));
            match parsed {
                Ok(r) => out.push(r),
                Err(e) if Some(i) == last => warn!(
                    "{} line {}: skipped torn last line ({e})",
                    self.path.display(),
                    i + 1
                ),
                Err(e) => {
                    return Err(HumansError::StoreLine {
                        path: self.path.display().to_string(),
                        line: i + 1,
                        detail: e,
                    })
                }
            }
        }
        Ok(out)
    }
}
