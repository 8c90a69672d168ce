//! The server's challenge key: a secret mixed into every challenge's choice of places, so the
//! public name `map-seed-rounds` (and the public binary) says nothing about where its rounds are.
//!
//! Without it anyone could compute a challenge's locations from its seed and look up the answers
//! while playing. The key is created on first use (32 random bytes, hex, mode 0600) in a file
//! beside the people's results; `serve`, `play` and `bench` read the same file, so an agent and the
//! people playing `world-7-5` on this machine get the same places. [`ChallengeKey::PUBLIC`] (no
//! secret) keeps the old, reproducible-by-anyone selection for tests and published datasets.

use rand::RngCore;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Bytes of key material.
pub(crate) const KEY_BYTES: usize = 32;
/// Largest key file read: the key is 64 hex digits and a newline; anything much bigger is not a
/// key file, and reading it whole would let a wrong path exhaust memory.
const MAX_KEY_FILE_BYTES: u64 = 1024;

/// Failures reading or creating a key file; each names the file.
#[derive(Debug, Error)]
pub enum KeyError {
    #[error("challenge key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("challenge key file {path} is not a key ({why}); delete it to make a new one (challenges already played then get new places)")]
    Format { path: PathBuf, why: &'static str },
}

/// The secret that turns a challenge's seed into places (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct ChallengeKey(Option<[u8; KEY_BYTES]>);

impl std::fmt::Debug for ChallengeKey {
    // Never print the key itself: with it the answers of every challenge can be computed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(_) => f.write_str("ChallengeKey(secret)"),
            None => f.write_str("ChallengeKey(public)"),
        }
    }
}

impl Default for ChallengeKey {
    fn default() -> Self {
        ChallengeKey::PUBLIC
    }
}

impl ChallengeKey {
    /// No secret: a challenge's places follow from its seed alone.
    pub(crate) const PUBLIC: ChallengeKey = ChallengeKey(None);

    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> ChallengeKey {
        ChallengeKey(Some(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> ChallengeKey {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        ChallengeKey(Some(bytes))
    }

    /// A short public name of the key (16 hex digits of a hash of it) that tells two keys apart
    /// without revealing either; `None` for the public key.
    pub fn fingerprint(&self) -> Option<String> {
        let key = self.0?;
        let mut h = Sha256::new();
        h.update(b"geoagent challenge key id\0");
        h.update(key);
        Some(hex::encode(&h.finalize()[..8]))
    }

    #[cfg(test)]
    pub(crate) fn is_secret(&self) -> bool {
        self.0.is_some()
    }

    /// The 32-byte seed of the random generator choosing the places of challenge
    /// (`map_id`, `seed`, `rounds`); `None` for the public key (the generator is seeded with
    /// `seed` itself, as before keys existed).
    pub(crate) fn rng_seed(&self, map_id: &str, seed: u64, rounds: usize) -> Option<[u8; 32]> {
        let key = self.0?;
        let mut h = Sha256::new();
        h.update(b"geoagent challenge v1\0");
        h.update(key);
        // Length-prefixed so no two (map, seed, rounds) triples hash the same input.
        h.update((map_id.len() as u64).to_le_bytes());
        h.update(map_id.as_bytes());
        h.update(seed.to_le_bytes());
        h.update((rounds as u64).to_le_bytes());
        Some(h.finalize().into())
    }

    /// Reads the key at `path`, creating it (mode 0600) when there is none yet. Two processes
    /// starting at once end up with the same key: the file appears whole or not at all.
    pub(crate) fn load_or_create(path: &Path) -> Result<ChallengeKey, KeyError> {
        match ChallengeKey::load(path) {
            Ok(key) => return Ok(key),
            Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let key = ChallengeKey::generate();
        let mut tmp = tempfile::Builder::new()
            .prefix(".server-secret.")
            .tempfile_in(dir)
            .map_err(io)?;
        // tempfile creates files readable by the owner only (0600), which is what a secret needs.
        writeln!(tmp, "{}", key.to_hex()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        match tmp.persist_noclobber(path) {
            Ok(_) => Ok(key),
            // Someone else created it first: theirs is the key.
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                ChallengeKey::load(path)
            }
            Err(e) => Err(io(e.error)),
        }
    }

    /// Reads the key at `path`.
    pub fn load(path: &Path) -> Result<ChallengeKey, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        file.take(MAX_KEY_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|_| KeyError::Format {
                path: path.to_path_buf(),
                why: "it is not text",
            })?;
        if text.len() as u64 > MAX_KEY_FILE_BYTES {
            return Err(KeyError::Format {
                path: path.to_path_buf(),
                why: "it is too large",
            });
        }
        ChallengeKey::from_hex(text.trim()).ok_or_else(|| KeyError::Format {
            path: path.to_path_buf(),
            why: "expected 64 hexadecimal digits",
        })
    }

    fn to_hex(&self) -> String {
        self.0.map(hex::encode).unwrap_or_default()
    }

    fn from_hex(s: &str) -> Option<ChallengeKey> {
        let mut bytes = [0u8; KEY_BYTES];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        Some(ChallengeKey(Some(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("server-secret");
        let a = ChallengeKey::load_or_create(&path).unwrap();
        let b = ChallengeKey::load_or_create(&path).unwrap();
        assert!(a.is_secret());
        assert_eq!(a, b);
        assert_ne!(a, ChallengeKey::generate());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        }
        // Only the key file is left behind (no temporary files).
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("server-secret")]);
    }

    #[test]
    fn bad_files_are_named_errors_not_new_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server-secret");
        for (content, why) in [
            (b"hello".to_vec(), "64 hexadecimal"),
            (vec![0xff, 0xfe, 0x00], "not text"),
            (vec![b'a'; 5000], "too large"),
            ("é".repeat(32).into_bytes(), "64 hexadecimal"),
        ] {
            std::fs::write(&path, &content).unwrap();
            let err = ChallengeKey::load_or_create(&path).unwrap_err().to_string();
            assert!(err.contains("server-secret") && err.contains(why), "{err}");
            // The bad file is left for the user to look at, not silently replaced.
            assert_eq!(std::fs::read(&path).unwrap(), content);
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ChallengeKey::from_bytes([0xab; KEY_BYTES]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }
}
