//! `map import photos DIR`: every JPEG/PNG under a folder whose EXIF carries a GPS position
//! becomes a location. 2:1 or GPano-tagged images become panoramas, the rest single-photo rounds.
//!
//! The GPS position is read with `kamadak-exif` (a maintained, pure-Rust EXIF reader) from the
//! original file; the pack gets only the re-encoded pixels.

use super::{ImportError, ImportReport, Importer, NewLocation};
use crate::game::integrity;
use crate::geo::LatLon;
use exif::{In, Tag, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Folders nested deeper than this are not searched: deep enough for year/month/day layouts.
pub(crate) const MAX_FOLDER_DEPTH: usize = 8;

/// File extensions read as images (compared case-insensitively).
const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Imports every photo under `dir` (sorted by path, so re-runs are deterministic).
pub fn import_photos(dir: &Path, mut imp: Importer) -> Result<ImportReport, ImportError> {
    let mut files = Vec::new();
    let mut visited = HashSet::new();
    collect(dir, 0, &mut visited, &mut files)?;
    files.sort();
    for path in files {
        let rel = path.strip_prefix(dir).unwrap_or(&path);
        let source = rel.display().to_string();
        let id = match id_for(rel) {
            Ok(id) => id,
            Err(why) => {
                imp.problem(&source, why);
                continue;
            }
        };
        if !imp.claim(&source, &id) {
            continue;
        }
        let bytes = match integrity::read_limited(&path) {
            Ok(b) => b,
            Err(e) => {
                imp.problem(&source, e.to_string());
                continue;
            }
        };
        let pos = match gps_position(&bytes) {
            Ok(p) => p,
            Err(why) => {
                imp.problem(&source, why);
                continue;
            }
        };
        let c = NewLocation {
            id,
            pos,
            attribution: None,
            photo: None,
        };
        imp.add(&source, c, &path, &bytes)?;
    }
    Ok(imp.report)
}

/// Gathers image files under `dir`. Symlinked folders are followed, but each real folder is
/// walked once (`visited` holds canonical paths): a link back to a parent would otherwise make
/// the walk exponential in [`MAX_FOLDER_DEPTH`].
fn collect(
    dir: &Path,
    depth: usize,
    visited: &mut HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) -> Result<(), ImportError> {
    let io = |source| ImportError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if !visited.insert(std::fs::canonicalize(dir).map_err(io)?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            if depth < MAX_FOLDER_DEPTH {
                collect(&path, depth + 1, visited, out)?;
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// A location id from the photo's path inside the folder: `2024/IMG_0001.jpg` → `2024_IMG_0001`.
/// A path that is not valid UTF-8 is refused rather than made lossy: two such names would
/// otherwise collapse into the same id.
fn id_for(rel: &Path) -> Result<String, String> {
    let stem = rel.with_extension("");
    let parts = stem
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            format!(
                "the file name {rel:?} is not valid UTF-8, so no id can be made from it; rename the file"
            )
        })?;
    Ok(parts.join("_"))
}

/// The GPS position in a photo's EXIF, or why there is none.
pub fn gps_position(bytes: &[u8]) -> Result<LatLon, String> {
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(bytes))
        .map_err(|e| format!("no readable EXIF, so no GPS position ({e})"))?;
    let dms = |tag: Tag| -> Result<f64, String> {
        let f = exif
            .get_field(tag, In::PRIMARY)
            .ok_or_else(|| format!("EXIF has no {tag} (the photo was taken without GPS)"))?;
        match &f.value {
            Value::Rational(v) if !v.is_empty() => {
                let part = |i: usize| v.get(i).map_or(0.0, |r| r.to_f64());
                let deg = part(0) + part(1) / 60.0 + part(2) / 3600.0;
                if deg.is_finite() {
                    Ok(deg)
                } else {
                    Err(format!("EXIF {tag} is not a number (zero denominator)"))
                }
            }
            other => Err(format!("EXIF {tag} has an unexpected value {other:?}")),
        }
    };
    let reference = |tag: Tag| -> Option<u8> {
        match &exif.get_field(tag, In::PRIMARY)?.value {
            Value::Ascii(v) => v.first().and_then(|s| s.first()).copied(),
            _ => None,
        }
    };
    let mut lat = dms(Tag::GPSLatitude)?;
    let mut lon = dms(Tag::GPSLongitude)?;
    if matches!(reference(Tag::GPSLatitudeRef), Some(b'S' | b's')) {
        lat = -lat;
    }
    if matches!(reference(Tag::GPSLongitudeRef), Some(b'W' | b'w')) {
        lon = -lon;
    }
    LatLon::new(lat, lon).map_err(|e| format!("EXIF GPS position is invalid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_the_relative_path() {
        assert_eq!(
            id_for(Path::new("2024/IMG_0001.jpg")).unwrap(),
            "2024_IMG_0001"
        );
        assert_eq!(id_for(Path::new("a.PNG")).unwrap(), "a");
    }

    #[test]
    fn no_exif_is_a_clear_problem() {
        let e = gps_position(b"\xFF\xD8\xFF\xD9").unwrap_err();
        assert!(e.contains("no readable EXIF"), "{e}");
    }
}
