//! The prompt set of the user's own a session played with (`--prompts DIR`): its name and hash in
//! the manifest ([`PromptsInfo`]), its text in `prompts/<name>/` of the session folder, so
//! `replay rerun` and `play --resume` play it again when the user's folder has changed or gone.
//!
//! A session folder may come from anyone: the recorded name must be a plain name
//! ([`is_clean_name`]), only the template names a strategy reads are read, each through the
//! bounded reader of [`PromptFiles::read`], and the text must hash to the recorded hash.

use super::{ReplayError, MANIFEST_FILE};
use crate::agent::prompt::builtin_text;
use crate::agent::prompt::files::{self as prompt_files, is_clean_name, PromptFiles};
use fs_err as fs;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of a session that holds its prompt set.
pub const PROMPTS_DIR: &str = "prompts";
/// Hex digits of a SHA-256.
const SHA256_HEX_CHARS: usize = 64;

/// A session's prompt set, as its manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptsInfo {
    /// The user's folder's name (`my-prompts`), cleaned to a plain name.
    pub name: String,
    /// SHA-256 of the template names and texts ([`PromptFiles::sha256`]).
    pub sha256: String,
    /// The templates recorded, without `.md` (`cot`, `repair`).
    pub files: Vec<String>,
}

impl PromptsInfo {
    pub fn of(set: &PromptFiles) -> PromptsInfo {
        PromptsInfo {
            name: set.name().to_string(),
            sha256: set.sha256().to_string(),
            files: set.files().iter().map(|(n, _)| n.clone()).collect(),
        }
    }

    /// `name@hash8`, as tables show it.
    pub fn label(&self) -> String {
        prompt_files::label(&self.name, &self.sha256)
    }

    /// Checks the recorded name and hash (they name a folder and a player), or says what is wrong.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !is_clean_name(&self.name) {
            return Err(format!(
                "prompts.name {:?} is not a plain name (1 to {} of A-Z a-z 0-9 - _ .)",
                crate::text::line(&self.name, 60),
                prompt_files::MAX_NAME_CHARS
            ));
        }
        if self.sha256.len() != SHA256_HEX_CHARS
            || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(format!(
                "prompts.sha256 {:?} is not a SHA-256 in hex",
                crate::text::line(&self.sha256, 80)
            ));
        }
        Ok(())
    }
}

/// Where a session folder `dir` keeps the set `info` names.
pub fn folder(dir: &Path, info: &PromptsInfo) -> PathBuf {
    dir.join(PROMPTS_DIR).join(&info.name)
}

/// Writes `set` into `dir/prompts/<name>/`, each file fsynced (before the manifest that names it).
pub(crate) fn write(dir: &Path, set: &PromptFiles) -> Result<(), ReplayError> {
    let folder = dir.join(PROMPTS_DIR).join(set.name());
    fs::create_dir_all(&folder).map_err(ReplayError::Io)?;
    for (name, text) in set.files() {
        let mut f = fs::File::create(folder.join(format!("{name}.md"))).map_err(ReplayError::Io)?;
        f.write_all(text.as_bytes()).map_err(ReplayError::Io)?;
        f.sync_all().map_err(ReplayError::Io)?;
    }
    Ok(())
}

/// Reads back the prompt set the session in `dir` recorded as `info`, which must hold the
/// templates `needed` (those the re-run's strategy reads). Any problem is an error naming the file.
pub fn read(dir: &Path, info: &PromptsInfo, needed: &[&str]) -> Result<PromptFiles, ReplayError> {
    let manifest = dir.join(MANIFEST_FILE).display().to_string();
    let bad_manifest = |detail: String| ReplayError::Manifest {
        path: manifest.clone(),
        detail,
    };
    info.check().map_err(bad_manifest)?;
    let mut names: Vec<&str> = Vec::with_capacity(info.files.len());
    for f in &info.files {
        if builtin_text(f).is_none() || names.contains(&f.as_str()) {
            return Err(bad_manifest(format!(
                "prompts.files names {:?}, not one template of a strategy (or twice)",
                crate::text::line(f, 40)
            )));
        }
        names.push(f);
    }
    let folder = folder(dir, info);
    let refused = |path: &Path, detail: String| ReplayError::Prompts {
        path: path.display().to_string(),
        detail,
    };
    // Real folders, so a link cannot point the reader at files outside the session.
    for d in [dir.join(PROMPTS_DIR), folder.clone()] {
        match std::fs::symlink_metadata(&d) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(refused(&d, "not a folder (a link or a file)".into())),
            Err(e) => {
                return Err(refused(
                    &d,
                    format!("the recorded prompt set is missing: {e}"),
                ))
            }
        }
    }
    let read = PromptFiles::read(&folder, &names).map_err(|e| refused(&folder, e.to_string()))?;
    let set = PromptFiles::new(info.name.clone(), folder.clone(), read.files().to_vec());
    if set.sha256() != info.sha256 {
        return Err(refused(
            &folder,
            format!(
                "the recorded templates hash to {}, not to the {} the manifest records: they were changed after the session",
                &set.sha256()[..prompt_files::SHORT_HASH_CHARS],
                &info.sha256[..prompt_files::SHORT_HASH_CHARS]
            ),
        ));
    }
    if let Some(missing) = needed.iter().find(|n| set.text(n).is_none()) {
        return Err(refused(
            &folder,
            format!(
                "the session recorded {} of its prompt set, not {missing}.md, which this strategy reads: re-run with the session's strategy, or pass --prompts DIR",
                names.iter().map(|n| format!("{n}.md")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(set)
}
