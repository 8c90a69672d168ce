//! Map packs: a documented folder format so real imagery can be played without code.
//!
//! ```text
//! maps/<pack>/manifest.json   {"format_version":1, "id":"...", "name":"...", "synthetic":false,
//!                              "size_km":null, "view":null, "attribution":"..."}
//! maps/<pack>/locations.csv   id,lat,lon,country,place,image
//! maps/<pack>/<image files>   equirectangular JPEG/PNG panoramas, paths relative to the pack
//! ```
//! `size_km` defaults to the locations' bounding-box diagonal (GeoGuessr's rule), `view` to the
//! whole world. An empty `image` cell means "paint a synthetic panorama".

use super::{Imagery, Location, Map};
use crate::geo::{Bounds, LatLon};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

pub const PACK_FORMAT_VERSION: u32 = 1;
pub const PACK_MANIFEST: &str = "manifest.json";
pub const PACK_LOCATIONS: &str = "locations.csv";
/// How many row problems an error lists before saying "and N more".
const MAX_LISTED_PROBLEMS: usize = 10;

#[derive(Debug, Error)]
pub enum PackError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Manifest { path: String, detail: String },
    #[error("{path}: {} bad row(s):\n{}", problems.len(), list(problems))]
    Rows { path: String, problems: Vec<String> },
    #[error("map '{id}' not found; available: {available}")]
    UnknownMap { id: String, available: String },
    #[error("map id '{id}' is used by both {first} and {second}")]
    DuplicateMap {
        id: String,
        first: String,
        second: String,
    },
}

fn list(problems: &[String]) -> String {
    let mut s: Vec<String> = problems
        .iter()
        .take(MAX_LISTED_PROBLEMS)
        .map(|p| format!("  {p}"))
        .collect();
    if problems.len() > MAX_LISTED_PROBLEMS {
        s.push(format!(
            "  ... and {} more",
            problems.len() - MAX_LISTED_PROBLEMS
        ));
    }
    s.join("\n")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackManifest {
    format_version: u32,
    id: String,
    name: String,
    #[serde(default)]
    synthetic: bool,
    #[serde(default)]
    size_km: Option<f64>,
    #[serde(default)]
    view: Option<Bounds>,
    #[serde(default)]
    attribution: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Row {
    id: String,
    lat: String,
    lon: String,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    place: Option<String>,
    #[serde(default)]
    image: Option<String>,
}

/// Reads one pack folder. Every bad row is reported (file and row number), not just the first.
pub fn load_pack(dir: &Path) -> Result<Map, PackError> {
    let mpath = dir.join(PACK_MANIFEST);
    let text = std::fs::read_to_string(&mpath).map_err(|source| PackError::Io {
        path: mpath.display().to_string(),
        source,
    })?;
    let m: PackManifest = serde_json::from_str(&text).map_err(|e| PackError::Manifest {
        path: mpath.display().to_string(),
        detail: e.to_string(),
    })?;
    let bad_manifest = |detail: String| PackError::Manifest {
        path: mpath.display().to_string(),
        detail,
    };
    if m.format_version > PACK_FORMAT_VERSION {
        return Err(bad_manifest(format!(
            "format_version {} is newer than this build reads ({PACK_FORMAT_VERSION})",
            m.format_version
        )));
    }
    if m.id.trim().is_empty()
        || !m
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad_manifest(format!(
            "id '{}' must be non-empty ASCII letters, digits, '-' or '_'",
            m.id
        )));
    }
    if let Some(s) = m.size_km {
        if !(s.is_finite() && s > 0.0) {
            return Err(bad_manifest(format!(
                "size_km {s} must be a positive number"
            )));
        }
    }

    let lpath = dir.join(PACK_LOCATIONS);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&lpath)
        .map_err(|e| PackError::Manifest {
            path: lpath.display().to_string(),
            detail: e.to_string(),
        })?;
    let mut locations = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        // Row 1 is the header, so data rows start at 2 as a spreadsheet shows them.
        let n = i + 2;
        match row
            .map_err(|e| e.to_string())
            .and_then(|r| location(dir, r, &mut seen))
        {
            Ok(loc) => locations.push(loc),
            Err(e) => problems.push(format!("row {n}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(PackError::Rows {
            path: lpath.display().to_string(),
            problems,
        });
    }
    if locations.is_empty() {
        return Err(PackError::Rows {
            path: lpath.display().to_string(),
            problems: vec!["no locations".into()],
        });
    }
    Ok(Map {
        id: m.id,
        name: m.name,
        synthetic: m.synthetic,
        size_km: m
            .size_km
            .unwrap_or_else(|| Map::size_from_locations(&locations)),
        view: m.view.unwrap_or(Bounds::WORLD),
        attribution: m.attribution,
        locations,
    })
}

fn location(dir: &Path, r: Row, seen: &mut HashSet<String>) -> Result<Location, String> {
    if r.id.is_empty() {
        return Err("id is empty".into());
    }
    if !seen.insert(r.id.clone()) {
        return Err(format!("duplicate id '{}'", r.id));
    }
    let num = |field: &str, v: &str| -> Result<f64, String> {
        v.parse::<f64>()
            .map_err(|_| format!("{field} '{v}' is not a number"))
    };
    let pos = LatLon::new(num("lat", &r.lat)?, num("lon", &r.lon)?).map_err(|e| e.to_string())?;
    let imagery = match r.image.as_deref().filter(|s| !s.is_empty()) {
        None => Imagery::Generated,
        Some(rel) => {
            let rel_path = PathBuf::from(rel);
            if rel_path.is_absolute()
                || rel_path
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_)))
            {
                return Err(format!(
                    "image '{rel}' must be a relative path inside the pack (no '..')"
                ));
            }
            let path = dir.join(&rel_path);
            if !path.is_file() {
                return Err(format!("image '{rel}' does not exist"));
            }
            Imagery::File { path }
        }
    };
    Ok(Location {
        id: r.id,
        pos,
        country: r
            .country
            .filter(|c| !c.is_empty())
            .map(|c| c.to_ascii_uppercase()),
        place: r.place.filter(|p| !p.is_empty()),
        imagery,
    })
}

/// The built-in world plus every pack under `maps_dir` (a missing folder is simply no packs).
pub fn load_all(maps_dir: &Path) -> Result<Vec<Map>, PackError> {
    let mut maps = vec![super::builtin::world()];
    let mut origin = vec![("built-in".to_string(), maps[0].id.clone())];
    let entries = match std::fs::read_dir(maps_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(maps),
        Err(source) => {
            return Err(PackError::Io {
                path: maps_dir.display().to_string(),
                source,
            })
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(PACK_MANIFEST).is_file())
        .collect();
    dirs.sort();
    for d in dirs {
        let map = load_pack(&d)?;
        if let Some((first, _)) = origin.iter().find(|(_, id)| *id == map.id) {
            return Err(PackError::DuplicateMap {
                id: map.id,
                first: first.clone(),
                second: d.display().to_string(),
            });
        }
        origin.push((d.display().to_string(), map.id.clone()));
        maps.push(map);
    }
    Ok(maps)
}

/// Picks a map by id, or says which ids exist. Works on `Map`s and on shared `Arc<Map>`s.
pub fn select<'a, M: std::borrow::Borrow<Map>>(
    maps: &'a [M],
    id: &str,
) -> Result<&'a M, PackError> {
    maps.iter()
        .find(|m| m.borrow().id == id)
        .ok_or_else(|| PackError::UnknownMap {
            id: id.into(),
            available: maps
                .iter()
                .map(|m| m.borrow().id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn pack(dir: &Path, manifest: &str, csv: &str) {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(PACK_MANIFEST), manifest).unwrap();
        fs::write(dir.join(PACK_LOCATIONS), csv).unwrap();
    }

    const MANIFEST: &str = r#"{"format_version":1,"id":"alps","name":"Alps","attribution":"test"}"#;

    #[test]
    fn loads_a_pack_with_images_and_generated_rows() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("alps");
        pack(&d, MANIFEST, "id,lat,lon,country,place,image\na,46.0,7.0,ch,Zermatt,img/a.jpg\nb,47.0,11.0,AT,Innsbruck,\n");
        fs::create_dir_all(d.join("img")).unwrap();
        fs::write(d.join("img/a.jpg"), b"x").unwrap();
        let m = load_pack(&d).unwrap();
        assert_eq!(m.id, "alps");
        assert_eq!(m.locations.len(), 2);
        assert_eq!(m.locations[0].country.as_deref(), Some("CH"));
        assert_eq!(
            m.locations[0].imagery,
            Imagery::File {
                path: d.join("img/a.jpg")
            }
        );
        assert_eq!(m.locations[1].imagery, Imagery::Generated);
        // Default size: the bounding-box diagonal.
        assert!((m.size_km - Map::size_from_locations(&m.locations)).abs() < 1e-9);
        assert!(m.size_km > 300.0 && m.size_km < 400.0, "{}", m.size_km);
    }

    #[test]
    fn every_bad_row_is_named() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("bad");
        pack(
            &d,
            MANIFEST,
            "id,lat,lon,country,place,image\na,46,7,,,\na,1,1,,,\nb,95,0,,,\nc,NaN,0,,,\nd,1,x,,,\ne,1,1,,,../escape.jpg\nf,1,1,,,missing.jpg\n",
        );
        let err = load_pack(&d).unwrap_err().to_string();
        for want in [
            "6 bad row(s)",
            "row 3: duplicate id 'a'",
            "row 4: latitude 95",
            "row 5: latitude NaN",
            "row 6: lon 'x' is not a number",
            "row 7: image '../escape.jpg' must be a relative path",
            "row 8: image 'missing.jpg' does not exist",
        ] {
            assert!(err.contains(want), "missing {want:?} in:\n{err}");
        }
        assert!(err.contains("locations.csv"));
    }

    #[test]
    fn bad_manifest_names_the_file() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("m");
        pack(
            &d,
            r#"{"format_version":1,"id":"m","name":"M","colour":"red"}"#,
            "id,lat,lon\na,1,1\n",
        );
        let err = load_pack(&d).unwrap_err().to_string();
        assert!(
            err.contains("manifest.json") && err.contains("colour"),
            "{err}"
        );
        pack(
            &d,
            r#"{"format_version":9,"id":"m","name":"M"}"#,
            "id,lat,lon\na,1,1\n",
        );
        assert!(load_pack(&d).unwrap_err().to_string().contains("newer"));
    }

    #[test]
    fn load_all_includes_builtin_and_rejects_duplicate_ids() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(load_all(&t.path().join("none")).unwrap().len(), 1);
        pack(&t.path().join("p1"), MANIFEST, "id,lat,lon\na,1,1\n");
        let maps = load_all(t.path()).unwrap();
        assert_eq!(maps.len(), 2);
        assert_eq!(select(&maps, "alps").unwrap().name, "Alps");
        let err = select(&maps, "nope").unwrap_err().to_string();
        assert!(err.contains("world") && err.contains("alps"), "{err}");
        pack(&t.path().join("p2"), MANIFEST, "id,lat,lon\na,1,1\n");
        assert!(load_all(t.path())
            .unwrap_err()
            .to_string()
            .contains("used by both"));
    }
}
