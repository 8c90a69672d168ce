//! Files written whole or not at all: the one atomic-write helper every module that saves a
//! record uses (map packs, replays' manifests and re-scores, run files, the response cache, the
//! reference index), with the path named in every error.
//!
//! A crash or a full disk mid-write must leave the old content (or nothing), never half a file
//! that later fails to parse and takes the rest of a session with it.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder a file at `path` lives in (`.` for a bare file name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder (created if missing),
/// flushed to disk before it replaces `path`, so `path` holds either its old or its complete new
/// content. Errors name the path (through `fs-err`).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |tmp| std::fs::File::create(tmp)?.write_all(bytes)).map_err(|e| match e
    {
        FillError::Io(e) => e,
        FillError::Fill(e) => named(path, e, "writing"),
    })
}

/// Why [`write_atomic_with`] failed: the file system, or the writer's own error `E` (kept whole,
/// so a format error stays a format error).
#[derive(Debug)]
pub(crate) enum FillError<E> {
    /// Creating, flushing or replacing the file; the message names the path.
    Io(std::io::Error),
    /// `fill` failed; the old content is untouched.
    Fill(E),
}

fn named(path: &Path, e: std::io::Error, what: &str) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Like [`write_atomic`], with `fill` writing the content to the temporary file at the path it
/// is given (for writers that stream to a path, like the index's tensor file).
pub(crate) fn write_atomic_with<E>(
    path: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), FillError<E>> {
    let dir = parent_of(path);
    fs_err::create_dir_all(&dir).map_err(FillError::Io)?;
    let tmp = tempfile::NamedTempFile::new_in(&dir)
        .map_err(|e| FillError::Io(named(path, e, "creating a temporary file beside")))?;
    fill(tmp.path()).map_err(FillError::Fill)?;
    // `fill` may have written through its own handle: flush the file, not just ours.
    std::fs::File::open(tmp.path())
        .and_then(|f| f.sync_all())
        .map_err(|e| FillError::Io(named(path, e, "flushing")))?;
    tmp.persist(path)
        .map_err(|e| FillError::Io(named(path, e.error, "replacing")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two, longer");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.json")]);
    }

    #[test]
    fn a_failed_fill_keeps_the_old_content_and_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomic(&path, b"old").unwrap();
        match write_atomic_with(&path, |_| Err("bad tensor shape")) {
            Err(FillError::Fill(e)) => assert_eq!(e, "bad tensor shape"),
            other => panic!("the writer's error is kept whole: {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "the temporary file is gone");
    }

    #[test]
    fn an_unwritable_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let err = write_atomic(&blocker.join("f.json"), b"x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("file"), "{err}");
    }
}
