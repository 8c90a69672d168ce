//! The replay fixtures under `tests/fixtures/` and writable copies of them in temporary folders
//! (commands that write beside a session must never write into the checkout).

use geoagent::replay::{MANIFEST_FILE, ROUNDS_FILE};
use std::path::{Path, PathBuf};

/// The fixture session: challenge world-7-2 with the baseline, 2 rounds of 2 views (2026-11-23).
pub const FIXTURE_ID: &str = "20261123T115949Z-40e71c";

/// The folder of fixture sessions.
pub fn replays() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replays")
}

/// The fixture session's folder.
pub fn session() -> PathBuf {
    replays().join(FIXTURE_ID)
}

/// Copies the fixture session to `root/FIXTURE_ID` byte for byte.
pub fn copy_session(root: &Path) -> PathBuf {
    let dst = root.join(FIXTURE_ID);
    copy_tree(&session(), &dst);
    dst
}

/// Copies the fixture session to `root/name` with `name` as its session id and `edit` applied
/// to its manifest.
pub fn copy_session_as(
    root: &Path,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let src = session();
    let dst = root.join(name);
    copy_tree(&src.join("views"), &dst.join("views"));
    std::fs::copy(src.join(ROUNDS_FILE), dst.join(ROUNDS_FILE)).unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join(MANIFEST_FILE)).unwrap()).unwrap();
    m["session_id"] = name.into();
    edit(&mut m);
    std::fs::write(dst.join(MANIFEST_FILE), m.to_string()).unwrap();
    dst
}

/// Copies the folder `src` (files and folders below it) to `dst`.
pub fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}
