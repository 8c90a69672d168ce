//! A prompt set of the user's own (`--prompts DIR`): the template files a strategy reads, read
//! once into memory, with the folder's name and a SHA-256 of their text. The strategy is built
//! from this text (so the model gets exactly what is recorded, however the folder changes during
//! a run), the session records it in its folder, and `stats` names the player after it
//! (`cot: my-prompts@3f2a9c01`), so two prompt sets with the same model are two players.
//!
//! The same reader reads a set back from a session folder, which may come from anyone: only the
//! template names a strategy reads, regular files (no symlink), at most
//! [`MAX_TEMPLATE_BYTES`] each, valid UTF-8.

use super::{list_templates, PromptError};
use crate::agent::{Guess, Reasoner};
use crate::environment::Observation;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest template file read. The shipped ones are under 4 KB; a prompt of 256 KB already costs
/// about 64k tokens a round, and the cap keeps a hostile recorded set from exhausting memory.
pub const MAX_TEMPLATE_BYTES: u64 = 256 * 1024;
/// Longest prompt-set name kept: it is shown in every table row of its player.
pub const MAX_NAME_CHARS: usize = 40;
/// Hex digits of the hash shown in a player's name: 32 bits, so two sets of one name that differ
/// are told apart (a 4-digit hash collides for 1 pair in 65,536).
pub const SHORT_HASH_CHARS: usize = 8;
/// The name of a set whose folder has no usable name (`/`).
const FALLBACK_NAME: &str = "prompts";

/// The template files of one prompt set, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptFiles {
    name: String,
    dir: PathBuf,
    /// (template name without `.md`, text), sorted by name.
    files: Vec<(String, String)>,
    sha256: String,
}

impl PromptFiles {
    /// Reads the templates `names` (`cot` reads `cot.md`) from `dir`. A missing one is an error
    /// naming it and listing the folder's templates; so is a file that is not a regular file,
    /// larger than [`MAX_TEMPLATE_BYTES`] or not UTF-8.
    pub fn read(dir: &Path, names: &[&str]) -> Result<PromptFiles, PromptError> {
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            let path = dir.join(format!("{name}.md"));
            files.push(((*name).to_string(), read_bounded(&path, dir)?));
        }
        let name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .map_or_else(|| FALLBACK_NAME.to_string(), |n| clean_name(&n));
        Ok(Self::new(name, dir.to_path_buf(), files))
    }

    /// A set named `name` from texts already read; `dir` names its files in messages.
    pub fn new(name: String, dir: PathBuf, mut files: Vec<(String, String)>) -> PromptFiles {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files.dedup_by(|a, b| a.0 == b.0);
        let sha256 = hash(&files);
        PromptFiles {
            name,
            dir,
            files,
            sha256,
        }
    }

    /// The folder's name, cleaned to a short plain name (see [`clean_name`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the files were read from (for messages).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// SHA-256 of the names and texts, in hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// `name@hash8`: how tables name this set.
    pub fn label(&self) -> String {
        label(&self.name, &self.sha256)
    }

    /// The text of template `name`, when the set holds it.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }

    /// Every (template name, text), sorted by name.
    pub fn files(&self) -> &[(String, String)] {
        &self.files
    }

    /// Whether every template equals the shipped one of the same name: such a set is the
    /// built-in prompts, the same player as without `--prompts`.
    pub fn is_builtin(&self) -> bool {
        self.files
            .iter()
            .all(|(n, t)| super::builtin_text(n) == Some(t.as_str()))
    }
}

/// `name@hash8`, the prompt set's part of a player's name.
pub fn label(name: &str, sha256: &str) -> String {
    let short: String = sha256.chars().take(SHORT_HASH_CHARS).collect();
    format!("{name}@{short}")
}

/// Whether `name` is one [`clean_name`] could have produced: 1 to [`MAX_NAME_CHARS`] of ASCII
/// letters, digits, `-`, `_` and `.`, not `.` or `..` (it names a folder inside a session).
pub fn is_clean_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A folder name as a set name: other characters become `_`, cut to [`MAX_NAME_CHARS`].
fn clean_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME_CHARS)
        .collect();
    if is_clean_name(&name) {
        name
    } else {
        FALLBACK_NAME.to_string()
    }
}

/// Each file as its name, a NUL, its length and its bytes, so no two sets hash alike by moving
/// text from one file to the next.
fn hash(files: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (name, text) in files {
        h.update(name.as_bytes());
        h.update([0]);
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    hex::encode(h.finalize())
}

fn read_bounded(path: &Path, dir: &Path) -> Result<String, PromptError> {
    let refuse = |problem: String| PromptError::Refused {
        path: path.to_path_buf(),
        problem,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PromptError::Missing {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
                available: list_templates(dir),
            })
        }
        Err(source) => {
            return Err(PromptError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    if !meta.is_file() {
        return Err(refuse("not a regular file (a link or a folder)".into()));
    }
    if meta.len() > MAX_TEMPLATE_BYTES {
        return Err(refuse(format!(
            "{} bytes, more than the {MAX_TEMPLATE_BYTES} a template may have",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TEMPLATE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|source| PromptError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > MAX_TEMPLATE_BYTES {
        return Err(refuse(format!(
            "more than the {MAX_TEMPLATE_BYTES} bytes a template may have"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        refuse(format!(
            "not UTF-8 text (invalid byte at {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// `inner`, which plays with `prompts`: the session it plays records them.
pub struct WithPrompts {
    pub inner: Arc<dyn Reasoner>,
    pub prompts: Arc<PromptFiles>,
}

#[async_trait::async_trait]
impl Reasoner for WithPrompts {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn prompts(&self) -> Option<Arc<PromptFiles>> {
        Some(self.prompts.clone())
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        self.inner.guess(obs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &[u8]) {
        std::fs::write(dir.join(format!("{name}.md")), text).unwrap();
    }

    #[test]
    fn a_set_is_named_after_its_folder_and_hashed_over_names_and_text() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("my prompts\u{1b}[2J");
        std::fs::create_dir(&dir).unwrap();
        write(&dir, "cot", b"a {{views}}");
        write(&dir, "repair", b"b {{problem}}");
        let set = PromptFiles::read(&dir, &["cot", "repair"]).unwrap();
        assert_eq!(set.name(), "my_prompts__2J");
        assert_eq!(set.text("cot"), Some("a {{views}}"));
        assert!(!set.is_builtin());
        assert_eq!(
            set.label(),
            format!("my_prompts__2J@{}", &set.sha256()[..8])
        );
        // Moving text between files changes the hash.
        write(&dir, "cot", b"a {{views}}b");
        write(&dir, "repair", b" {{problem}}");
        let moved = PromptFiles::read(&dir, &["cot", "repair"]).unwrap();
        assert_ne!(moved.sha256(), set.sha256());
    }

    #[test]
    fn the_shipped_texts_are_the_builtin_set() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent_prompts");
        assert!(PromptFiles::read(&dir, &["cot", "repair", "fine"])
            .unwrap()
            .is_builtin());
    }

    #[test]
    fn hostile_files_are_refused_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(dir, "cot", &vec![b'x'; MAX_TEMPLATE_BYTES as usize + 1]);
        let e = PromptFiles::read(dir, &["cot"]).unwrap_err().to_string();
        assert!(e.contains("cot.md") && e.contains("bytes"), "{e}");
        write(dir, "cot", b"\xff\xfe {{views}}");
        let e = PromptFiles::read(dir, &["cot"]).unwrap_err().to_string();
        assert!(e.contains("cot.md") && e.contains("UTF-8"), "{e}");
        std::fs::remove_file(dir.join("cot.md")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("cot.md")).unwrap();
        let e = PromptFiles::read(dir, &["cot"]).unwrap_err().to_string();
        assert!(e.contains("cot.md") && e.contains("regular file"), "{e}");
        let e = PromptFiles::read(dir, &["direct"]).unwrap_err().to_string();
        assert!(
            e.contains("direct.md") && e.contains("does not exist"),
            "{e}"
        );
    }

    #[test]
    fn names_are_checked_before_they_name_a_folder() {
        for bad in ["", ".", "..", "a/b", "x".repeat(41).as_str(), "é"] {
            assert!(!is_clean_name(bad), "{bad}");
        }
        assert!(is_clean_name("my-prompts_v2.1"));
        assert_eq!(clean_name(".."), FALLBACK_NAME);
    }
}
