//! Files written whole or not at all: the one atomic-write helper every module that saves a
//! record uses (map packs, replays' manifests and re-scores, run files, the response cache, the
//! reference index), with the path named in every error.
//!
//! A crash or a full disk mid-write must leave the old content (or nothing), never half a file
//! that later fails to parse and takes the rest of a session with it.
//!
//! Files read back may be someone else's (a shared replay, a copied cache): [`open_regular`]
//! and [`read_regular`] refuse anything but a regular file without blocking on it (a named pipe
//! opened for reading waits for a writer forever) and read at most a stated size.

use std::io::{Read as _, Write};
use std::os::unix::fs::OpenOptionsExt as _;
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

/// Opens `path` for reading only when it is a regular file (a symbolic link to one is fine); see
/// [`open_regular_with`].
pub(crate) fn open_regular(path: &Path) -> std::io::Result<fs_err::File> {
    open_regular_with(std::fs::OpenOptions::new().read(true), path)
}

/// Opens `path` with `options` only when it is a regular file. It is opened non-blocking and
/// checked on the open handle, so a named pipe or a device at `path` is refused at once instead
/// of waiting for a writer (or a reader), and no swap between a check and the open can slip one
/// in. Errors name the path and say what the file is.
pub(crate) fn open_regular_with(
    options: &mut std::fs::OpenOptions,
    path: &Path,
) -> std::io::Result<fs_err::File> {
    let file = options
        // Non-blocking only matters for the open itself (a FIFO's open waits for the other
        // end); reads and writes of a regular file ignore the flag.
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // A FIFO opened for writing without a reader, non-blocking.
            Some(code) if code == rustix::io::Errno::NXIO.raw_os_error() => std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{}: refused: a named pipe, not a regular file",
                    path.display()
                ),
            ),
            _ => named(path, e, "opening"),
        })?;
    let file = fs_err::File::from_parts(file, path);
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{}: refused: {}, not a regular file",
                path.display(),
                kind_name(kind)
            ),
        ));
    }
    Ok(file)
}

/// What a non-regular file is, for a message.
fn kind_name(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "a special file"
    }
}

/// The bytes of the regular file at `path` ([`open_regular`]), at most `max` of them: a larger
/// file is an error of kind [`std::io::ErrorKind::FileTooLarge`] naming the path and the bound,
/// after reading no more than `max + 1` bytes.
pub(crate) fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("{}: larger than the {max} bytes read", path.display()),
        )
    };
    // Refused before reading when its size already says so; the bounded read below still holds
    // for a file that grows while it is read.
    if file.metadata()?.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
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
    fn a_named_pipe_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("rounds.jsonl");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening a FIFO blocking would wait here forever (no writer, no reader).
        let err = read_regular(&fifo, 10).unwrap_err().to_string();
        assert!(
            err.contains("rounds.jsonl") && err.contains("named pipe"),
            "{err}"
        );
        let err = open_regular_with(std::fs::OpenOptions::new().append(true).create(true), &fifo)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rounds.jsonl") && err.contains("named pipe"),
            "{err}"
        );
        let err = read_regular(dir.path(), 10).unwrap_err().to_string();
        assert!(err.contains("a folder"), "{err}");
    }

    #[test]
    fn reads_at_most_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_regular(&path, 5).unwrap(), b"12345");
        let e = read_regular(&path, 4).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("f: larger than the 4 bytes"), "{e}");
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
