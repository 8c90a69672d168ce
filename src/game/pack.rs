//! Map packs: a documented folder format so real imagery can be played without code.
//!
//! ```text
//! maps/<pack>/manifest.json   {"format_version":1, "id":"...", "name":"...", "synthetic":false,
//!                              "size_km":null, "view":null, "attribution":"..."}
//! maps/<pack>/locations.csv   id,lat,lon,country,place,image[,kind,exclude,attribution]
//! maps/<pack>/<image files>   JPEG/PNG images, paths relative to the pack
//! ```
//! `size_km` defaults to the locations' bounding-box diagonal (GeoGuessr's rule), `view` to the
//! whole world. An empty `image` cell means "paint a synthetic panorama".
//!
//! The last three columns are optional (packs written before them still load):
//! - `kind`: `panorama` (default: a 2:1 equirectangular 360° image) or `photo` (one ordinary
//!   photo, shown flat as a single view).
//! - `exclude`: empty, `0`, `false` or `no` keeps the location; anything else (`true`, or the
//!   reason, e.g. "street sign names the town") takes it out of play. Excluded rows stay in the
//!   file, so `map validate` can list them and the author can change their mind.
//! - `attribution`: the image's credit (author, source id, licence), e.g. for CC BY-SA imagery.
//!
//! Besides reading, this module writes packs for the importers ([`PackWriter`]): each image is
//! written to a temporary file and renamed into place, then its row is appended and synced, so an
//! interrupted import keeps every row it finished, and re-running an import keeps what is there.

use super::{Imagery, Location, Map};
use crate::geo::{Bounds, LatLon};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

pub(crate) const PACK_FORMAT_VERSION: u32 = 1;
pub const PACK_MANIFEST: &str = "manifest.json";
pub const PACK_LOCATIONS: &str = "locations.csv";
/// How many row problems an error lists before saying "and N more".
const MAX_LISTED_PROBLEMS: usize = 10;
/// Longest location id accepted, in bytes: ids become image file names, URLs and table cells, and
/// the longest ids of the published datasets (Flickr/Mapillary file names) are under 64.
pub(crate) const MAX_ID_BYTES: usize = 256;
/// Characters of a value from an input file quoted in a message: enough to recognise it, while a
/// 50 MB CSV cell does not flood the terminal.
pub(crate) const MAX_QUOTED_CHARS: usize = 80;

/// `v` in single quotes for a message, cut to [`MAX_QUOTED_CHARS`] (saying how long it really is),
/// through the one sanitiser so a hostile cell cannot rewrite the terminal.
pub fn quote(v: &str) -> String {
    crate::text::quote(v, MAX_QUOTED_CHARS)
}

/// Why `id` cannot be a location id, if it cannot: too long, or holding control characters
/// (line breaks would break every table and log line it appears in).
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "id {} is {} bytes, more than the {MAX_ID_BYTES} accepted",
            quote(id),
            id.len()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(format!("id {} holds control characters", quote(id)));
    }
    Ok(())
}

#[derive(Debug, Error)]
pub enum PackError {
    /// A file or folder operation failed; the error names the path (`fs-err`).
    #[error(transparent)]
    Io(std::io::Error),
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

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackManifest {
    pub format_version: u32,
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub synthetic: bool,
    #[serde(default)]
    pub size_km: Option<f64>,
    #[serde(default)]
    pub view: Option<Bounds>,
    #[serde(default)]
    pub attribution: Option<String>,
}

impl PackManifest {
    /// A manifest for a new pack of real imagery with default size and view.
    pub fn new(id: &str, name: &str, attribution: Option<String>) -> PackManifest {
        PackManifest {
            format_version: PACK_FORMAT_VERSION,
            id: id.into(),
            name: name.into(),
            synthetic: false,
            size_km: None,
            view: None,
            attribution,
        }
    }
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
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    exclude: Option<String>,
    #[serde(default)]
    attribution: Option<String>,
}

/// One location row of a pack, with the fields that do not reach the game.
#[derive(Debug, Clone, PartialEq)]
pub struct PackRow {
    /// The row number as a spreadsheet shows it (the header is row 1).
    pub row: usize,
    pub location: Location,
    /// Why the author took this location out of play; `None` = played.
    pub exclude: Option<String>,
    pub attribution: Option<String>,
}

/// Everything in a pack folder, excluded rows included.
#[derive(Debug, Clone)]
pub struct PackContents {
    pub dir: PathBuf,
    pub manifest: PackManifest,
    pub rows: Vec<PackRow>,
}

impl PackContents {
    /// The playable map: excluded rows left out. Errors when nothing is left to play.
    pub(crate) fn into_map(self) -> Result<Map, PackError> {
        let locations: Vec<Location> = self
            .rows
            .into_iter()
            .filter(|r| r.exclude.is_none())
            .map(|r| r.location)
            .collect();
        if locations.is_empty() {
            return Err(PackError::Rows {
                path: self.dir.join(PACK_LOCATIONS).display().to_string(),
                problems: vec!["no playable locations (every row is excluded)".into()],
            });
        }
        let m = self.manifest;
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
}

/// Reads one pack folder, leaving out the locations its author excluded. Every bad row is
/// reported (file and row number), not just the first.
pub fn load_pack(dir: &Path) -> Result<Map, PackError> {
    read_pack(dir)?.into_map()
}

/// Reads `manifest.json`, checking what can be checked without the rows.
pub fn read_manifest(dir: &Path) -> Result<PackManifest, PackError> {
    let mpath = dir.join(PACK_MANIFEST);
    let text = fs_err::read_to_string(&mpath).map_err(PackError::Io)?;
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
            "id {} must be non-empty ASCII letters, digits, '-' or '_'",
            quote(&m.id)
        )));
    }
    if let Some(s) = m.size_km {
        if !(s.is_finite() && s > 0.0) {
            return Err(bad_manifest(format!(
                "size_km {s} must be a positive number"
            )));
        }
    }

    Ok(m)
}

/// Reads a whole pack, excluded rows included (what `map info` and `map validate` look at).
pub fn read_pack(dir: &Path) -> Result<PackContents, PackError> {
    let manifest = read_manifest(dir)?;
    let lpath = dir.join(PACK_LOCATIONS);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&lpath)
        .map_err(|e| PackError::Manifest {
            path: lpath.display().to_string(),
            detail: e.to_string(),
        })?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        // Row 1 is the header, so data rows start at 2 as a spreadsheet shows them.
        let n = i + 2;
        match row
            .map_err(|e| e.to_string())
            .and_then(|r| pack_row(dir, n, r, &mut seen))
        {
            Ok(r) => rows.push(r),
            Err(e) => problems.push(format!("row {n}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(PackError::Rows {
            path: lpath.display().to_string(),
            problems,
        });
    }
    if rows.is_empty() {
        return Err(PackError::Rows {
            path: lpath.display().to_string(),
            problems: vec!["no locations".into()],
        });
    }
    Ok(PackContents {
        dir: dir.to_path_buf(),
        manifest,
        rows,
    })
}

/// The `exclude` cell: `None` keeps the location, `Some(reason)` takes it out of play.
fn exclude_reason(cell: Option<&str>) -> Option<String> {
    let v = cell.map(str::trim).filter(|v| !v.is_empty())?;
    match v.to_ascii_lowercase().as_str() {
        "0" | "false" | "no" => None,
        "1" | "true" | "yes" => Some("flagged by the author".into()),
        _ => Some(v.to_string()),
    }
}

fn pack_row(dir: &Path, n: usize, r: Row, seen: &mut HashSet<String>) -> Result<PackRow, String> {
    let exclude = exclude_reason(r.exclude.as_deref());
    let attribution = r.attribution.clone().filter(|a| !a.is_empty());
    Ok(PackRow {
        row: n,
        location: location(dir, r, seen)?,
        exclude,
        attribution,
    })
}

fn location(dir: &Path, r: Row, seen: &mut HashSet<String>) -> Result<Location, String> {
    if r.id.is_empty() {
        return Err("id is empty".into());
    }
    check_id(&r.id)?;
    if !seen.insert(r.id.clone()) {
        return Err(format!("duplicate id {}", quote(&r.id)));
    }
    let num = |field: &str, v: &str| -> Result<f64, String> {
        v.parse::<f64>()
            .map_err(|_| format!("{field} {} is not a number", quote(v)))
    };
    let pos = LatLon::new(num("lat", &r.lat)?, num("lon", &r.lon)?).map_err(|e| e.to_string())?;
    let photo = match r.kind.as_deref().map(str::trim).unwrap_or("") {
        "" | "panorama" => false,
        "photo" => true,
        other => {
            return Err(format!(
                "kind {} must be 'panorama' or 'photo' (or empty for panorama)",
                quote(other)
            ))
        }
    };
    let imagery = match r.image.as_deref().filter(|s| !s.is_empty()) {
        None if photo => return Err("kind 'photo' needs an image".into()),
        None => Imagery::Generated,
        Some(rel) => {
            let rel_path = PathBuf::from(rel);
            if rel_path.is_absolute()
                || rel_path
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_)))
            {
                return Err(format!(
                    "image {} must be a relative path inside the pack (no '..')",
                    quote(rel)
                ));
            }
            let path = dir.join(&rel_path);
            if !path.is_file() {
                return Err(format!("image {} does not exist", quote(rel)));
            }
            if photo {
                Imagery::Photo { path }
            } else {
                Imagery::File { path }
            }
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

/// Every column a pack's `locations.csv` can have, in the order [`PackWriter`] writes them.
pub const PACK_COLUMNS: [&str; 9] = [
    "id",
    "lat",
    "lon",
    "country",
    "place",
    "image",
    "kind",
    "exclude",
    "attribution",
];
/// Folder inside a pack that importers write images to.
pub(crate) const PACK_IMAGE_DIR: &str = "img";

/// One row an importer adds to a pack.
#[derive(Debug, Clone, PartialEq)]
pub struct PackRecord {
    pub id: String,
    pub pos: LatLon,
    pub country: Option<String>,
    pub place: Option<String>,
    /// Path relative to the pack, as [`PackWriter::write_image`] returns it.
    pub image: String,
    /// True for a single flat photo, false for a 360° panorama.
    pub photo: bool,
    pub exclude: Option<String>,
    pub attribution: Option<String>,
}

/// Adds locations to a new or existing pack, one durable row at a time.
#[derive(Debug)]
pub struct PackWriter {
    dir: PathBuf,
    manifest: PackManifest,
    ids: HashSet<String>,
    images: HashSet<String>,
    existing: usize,
}

/// Writes `bytes` to `path` through a temporary file in the same folder, so `path` is either
/// the old or the complete new content, never half of it.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PackError> {
    crate::fsio::write_atomic(path, bytes).map_err(PackError::Io)
}

impl PackWriter {
    /// Opens the pack at `dir`, creating it with `manifest` when it does not exist yet. An
    /// existing pack keeps its manifest and every row; its `locations.csv` is rewritten (once,
    /// atomically) only if it lacks some of [`PACK_COLUMNS`].
    pub fn open(dir: &Path, manifest: PackManifest) -> Result<PackWriter, PackError> {
        fs_err::create_dir_all(dir.join(PACK_IMAGE_DIR)).map_err(PackError::Io)?;
        let mpath = dir.join(PACK_MANIFEST);
        let manifest = if mpath.is_file() {
            read_manifest(dir)?
        } else {
            let text =
                serde_json::to_string_pretty(&manifest).map_err(|e| PackError::Manifest {
                    path: mpath.display().to_string(),
                    detail: e.to_string(),
                })?;
            write_atomic(&mpath, format!("{text}\n").as_bytes())?;
            manifest
        };
        let lpath = dir.join(PACK_LOCATIONS);
        let mut ids = HashSet::new();
        let mut images = HashSet::new();
        let mut existing = 0;
        if lpath.is_file() {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .flexible(true)
                .from_path(&lpath)
                .map_err(|e| PackError::Manifest {
                    path: lpath.display().to_string(),
                    detail: e.to_string(),
                })?;
            let header = reader
                .headers()
                .map_err(|e| PackError::Manifest {
                    path: lpath.display().to_string(),
                    detail: e.to_string(),
                })?
                .clone();
            let col = |name: &str| header.iter().position(|h| h == name);
            let mut records = Vec::new();
            for (i, rec) in reader.records().enumerate() {
                let rec = rec.map_err(|e| PackError::Rows {
                    path: lpath.display().to_string(),
                    problems: vec![format!("row {}: {e}", i + 2)],
                })?;
                let cell = |name: &str| col(name).and_then(|c| rec.get(c)).unwrap_or("");
                ids.insert(cell("id").to_string());
                if !cell("image").is_empty() {
                    images.insert(cell("image").to_string());
                }
                records.push(PACK_COLUMNS.map(|c| cell(c).to_string()));
            }
            existing = records.len();
            if header.iter().collect::<Vec<_>>() != PACK_COLUMNS {
                let mut w = csv::Writer::from_writer(Vec::new());
                let mut put = |r: &[String]| {
                    w.write_record(r).map_err(|e| PackError::Manifest {
                        path: lpath.display().to_string(),
                        detail: e.to_string(),
                    })
                };
                put(&PACK_COLUMNS.map(String::from))?;
                for r in &records {
                    put(r)?;
                }
                let bytes = w.into_inner().map_err(|e| PackError::Manifest {
                    path: lpath.display().to_string(),
                    detail: e.to_string(),
                })?;
                write_atomic(&lpath, &bytes)?;
            }
        } else {
            write_atomic(&lpath, format!("{}\n", PACK_COLUMNS.join(",")).as_bytes())?;
        }
        Ok(PackWriter {
            dir: dir.to_path_buf(),
            manifest,
            ids,
            images,
            existing,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &PackManifest {
        &self.manifest
    }

    /// Rows the pack had before this writer added any.
    pub fn existing_rows(&self) -> usize {
        self.existing
    }

    /// Whether the pack already has a row with this id.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Writes a (metadata-free) JPEG for location `id` under `img/` and returns its path relative
    /// to the pack. The file name comes from the id (never from the source file's name, which may
    /// name the place), made unique within the pack.
    pub fn write_image(&mut self, id: &str, jpeg: &[u8]) -> Result<String, PackError> {
        let stem: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        let mut rel = format!("{PACK_IMAGE_DIR}/{stem}.jpg");
        let mut k = 2;
        while self.images.contains(&rel) {
            rel = format!("{PACK_IMAGE_DIR}/{stem}-{k}.jpg");
            k += 1;
        }
        write_atomic(&self.dir.join(&rel), jpeg)?;
        self.images.insert(rel.clone());
        Ok(rel)
    }

    /// Appends one row and syncs it to disk. Refuses an id the pack already has.
    pub fn append(&mut self, r: &PackRecord) -> Result<(), PackError> {
        let lpath = self.dir.join(PACK_LOCATIONS);
        if self.ids.contains(&r.id) {
            return Err(PackError::Rows {
                path: lpath.display().to_string(),
                problems: vec![format!("duplicate id {}", quote(&r.id))],
            });
        }
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let record = [
            r.id.clone(),
            format!("{:.7}", r.pos.lat),
            format!("{:.7}", r.pos.lon),
            opt(&r.country),
            opt(&r.place),
            r.image.clone(),
            if r.photo { "photo" } else { "panorama" }.to_string(),
            opt(&r.exclude),
            opt(&r.attribution),
        ];
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        let csv_err = |detail: String| PackError::Manifest {
            path: lpath.display().to_string(),
            detail,
        };
        w.write_record(&record)
            .map_err(|e| csv_err(e.to_string()))?;
        let line = w.into_inner().map_err(|e| csv_err(e.to_string()))?;
        let mut f = fs_err::OpenOptions::new()
            .append(true)
            .open(&lpath)
            .map_err(PackError::Io)?;
        f.write_all(&line).map_err(PackError::Io)?;
        f.sync_data().map_err(PackError::Io)?;
        self.ids.insert(r.id.clone());
        Ok(())
    }
}

/// The built-in world plus every pack under `maps_dir` (a missing folder is simply no packs).
pub(crate) fn load_all(maps_dir: &Path) -> Result<Vec<Map>, PackError> {
    let mut maps = vec![super::builtin::world()];
    let mut origin = vec![("built-in".to_string(), maps[0].id.clone())];
    let entries = match fs_err::read_dir(maps_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(maps),
        Err(e) => return Err(PackError::Io(e)),
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
