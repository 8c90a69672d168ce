//! Importers: turn real imagery into map packs (`geoagent map import ...`).
//!
//! - [`photos`]: a folder of photos whose EXIF carries GPS (phones write it).
//! - [`csv`]: CSV datasets, a generic `id,lat,lon,path` form and the published benchmark layouts
//!   (Im2GPS3k, YFCC4k, OpenStreetView-5M).
//! - [`mapillary`]: CC BY-SA 360° panoramas from the Mapillary Graph API, with attribution.
//! - [`packs`]: what the `map` command does with packs: import one from a source, list, describe
//!   and validate them (the command line itself is `cli::map`).
//!
//! Every importer goes through [`Importer::add`]: the image is read with the integrity checks
//! (size, declared dimensions, decodability), classified as panorama or single photo, re-encoded
//! from pixels only (no EXIF/XMP/IPTC ever lands in a pack) and appended to the pack as one
//! durable row. A bad row is reported with its file and row and skipped; the good rows import;
//! ids already in the pack are kept as they are, so re-running an import is safe.

pub mod csv;
pub mod mapillary;
pub mod packs;
pub mod photos;

use crate::game::integrity::{self, IntegrityError};
use crate::game::pack::{quote, PackError, PackRecord, PackWriter};
use crate::geo::{reverse, LatLon};
use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use thiserror::Error;

/// Longest side of an image stored in a pack. The game serves at most 4096 px wide; 8192 keeps
/// head-room for a future sharper viewer while keeping packs a sane size.
pub(crate) const PACK_MAX_SIDE_PX: u32 = 8192;
/// An image whose width/height is within this of 2.0 is taken as an equirectangular panorama
/// (stitchers round the height, e.g. 5760×2880 vs 5760×2881).
pub(crate) const EQUIRECT_ASPECT_TOLERANCE: f64 = 0.01;

/// Characters of one problem message kept (see [`Importer::problem`]).
pub(crate) const MAX_PROBLEM_CHARS: usize = 300;
/// Longest file-name component a dataset may name: what Linux and macOS file systems allow.
const MAX_NAME_BYTES: usize = 255;

/// A failure that stops an import as a whole (bad flags, unreadable inputs, the pack itself).
#[derive(Debug, Error)]
pub enum ImportError {
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {detail}")]
    Csv { path: PathBuf, detail: String },
    #[error(
        "{path}: no column '{column}', which the {layout} layout needs (columns found: {found})"
    )]
    MissingColumn {
        path: PathBuf,
        column: String,
        layout: String,
        found: String,
    },
    #[error(transparent)]
    Mapillary(#[from] mapillary::MapillaryError),
    #[error("{flag}: {detail}")]
    BadFlag { flag: &'static str, detail: String },
}

/// One input that could not be imported, with where it came from ("photos/x.jpg",
/// "data.csv row 7").
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub source: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Ids added by this run.
    pub imported: Vec<String>,
    /// Of those, how many are single photos (the rest are panoramas).
    pub photos: usize,
    /// Inputs whose id the pack already had: left untouched.
    pub kept: Vec<String>,
    /// Inputs that could not be imported, each with its file/row and reason.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} location(s) ({} panorama(s), {} single photo(s)); {} already in the pack \
             and kept; {} problem(s)",
            self.imported.len(),
            self.imported.len() - self.photos,
            self.photos,
            self.kept.len(),
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// One location to add: where its image is and what is known about it.
#[derive(Debug, Clone)]
pub struct NewLocation {
    pub id: String,
    pub pos: LatLon,
    pub attribution: Option<String>,
    /// `Some` forces the kind (Mapillary says `is_pano`); `None` decides from the image.
    pub photo: Option<bool>,
}

/// Adds images to a pack, remembering ids within the run to catch duplicates.
pub struct Importer {
    pub writer: PackWriter,
    pub report: ImportReport,
    /// Ids claimed in this run, each with the input that claimed it.
    seen: HashMap<String, String>,
}

impl Importer {
    pub fn new(writer: PackWriter) -> Importer {
        Importer {
            writer,
            report: ImportReport::default(),
            seen: HashMap::new(),
        }
    }

    /// Records a problem. The message is cut to [`MAX_PROBLEM_CHARS`]: values from the input are
    /// quoted short where the message is made, and this is the net for paths and errors that
    /// carry them whole.
    pub fn problem(&mut self, source: impl Into<String>, message: impl Into<String>) {
        let message = message.into();
        let message = match message.char_indices().nth(MAX_PROBLEM_CHARS) {
            Some((cut, _)) => format!("{}… ({} bytes)", &message[..cut], message.len()),
            None => message,
        };
        self.report.problems.push(Problem {
            source: source.into(),
            message,
        });
    }

    /// True (and recorded) when `id` is new in this run and the pack; otherwise records why not.
    /// Call before doing expensive work for a candidate.
    pub(crate) fn claim(&mut self, source: &str, id: &str) -> bool {
        if id.trim().is_empty() {
            self.problem(source, "empty id");
            return false;
        }
        if let Err(why) = crate::game::pack::check_id(id) {
            self.problem(source, why);
            return false;
        }
        if let Some(first) = self.seen.get(id) {
            let msg = format!("duplicate id {} (already taken by {first})", quote(id));
            self.problem(source, msg);
            return false;
        }
        self.seen.insert(id.to_string(), source.to_string());
        if self.writer.contains(id) {
            self.report.kept.push(id.to_string());
            return false;
        }
        true
    }

    /// Checks, cleans and stores one image (already read into `bytes`), then appends its row.
    /// Problems with this input are recorded and return `Ok(false)`; only pack failures are
    /// errors.
    pub fn add(
        &mut self,
        source: &str,
        c: NewLocation,
        image_path: &Path,
        bytes: &[u8],
    ) -> Result<bool, ImportError> {
        let img = match integrity::decode_strict(image_path, bytes) {
            Ok(img) => img,
            Err(e) => {
                self.problem(source, e.to_string());
                return Ok(false);
            }
        };
        let (w, h) = (img.width(), img.height());
        let photo = c.photo.unwrap_or_else(|| !is_equirectangular(w, h, bytes));
        let rgb = integrity::fit_within(img.to_rgb8(), PACK_MAX_SIDE_PX, PACK_MAX_SIDE_PX);
        let jpeg = match integrity::encode_clean_jpeg(&rgb, integrity::PACK_JPEG_QUALITY) {
            Ok(j) => j,
            Err(e) => {
                self.problem(source, e.to_string());
                return Ok(false);
            }
        };
        let image = self.writer.write_image(&c.id, &jpeg)?;
        let country = reverse::country(c.pos);
        let place = reverse::nearest_city(c.pos).map(|city| match &country {
            Some(cc) => format!("{}, {cc}", city.name),
            None => city.name,
        });
        self.writer.append(&PackRecord {
            id: c.id.clone(),
            pos: c.pos,
            country,
            place,
            image,
            photo,
            exclude: None,
            attribution: c.attribution,
        })?;
        if photo {
            self.report.photos += 1;
        }
        self.report.imported.push(c.id);
        Ok(true)
    }

    /// Reads `path` with the size limit, then [`Importer::add`]s it.
    pub(crate) fn add_file(
        &mut self,
        source: &str,
        c: NewLocation,
        path: &Path,
    ) -> Result<bool, ImportError> {
        match integrity::read_limited(path) {
            Ok(bytes) => self.add(source, c, path, &bytes),
            Err(e) => {
                self.problem(source, describe_read_error(path, e));
                Ok(false)
            }
        }
    }
}

fn describe_read_error(path: &Path, e: IntegrityError) -> String {
    match e {
        IntegrityError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            format!("{}: image file not found", path.display())
        }
        other => other.to_string(),
    }
}

/// A 360° equirectangular panorama: GPano XMP says so, or the image is 2:1.
pub(crate) fn is_equirectangular(width: u32, height: u32, bytes: &[u8]) -> bool {
    if integrity::is_gpano_equirectangular(bytes) {
        return true;
    }
    height > 0
        && (f64::from(width) / f64::from(height) - 2.0).abs() <= EQUIRECT_ASPECT_TOLERANCE * 2.0
}

/// Joins a dataset's relative image path onto its folder, refusing absolute paths and `..`
/// (an image outside the folder the user named is a mistake or an attack).
pub fn inside(dir: &Path, rel: &str) -> Result<PathBuf, String> {
    let p = Path::new(rel);
    if rel.is_empty() {
        return Err("image path is empty".into());
    }
    if p.is_absolute()
        || p.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        })
    {
        return Err(format!(
            "image path {} must be relative and stay inside {} (no '..' or absolute paths)",
            quote(rel),
            dir.display()
        ));
    }
    if p.components().any(|c| c.as_os_str().len() > MAX_NAME_BYTES) {
        return Err(format!(
            "image path {} has a name longer than {MAX_NAME_BYTES} bytes, which no file can have",
            quote(rel)
        ));
    }
    Ok(dir.join(p))
}

/// Parses a coordinate pair from text cells, naming the bad field.
pub(crate) fn parse_pos(lat: &str, lon: &str) -> Result<LatLon, String> {
    let num = |field: &str, v: &str| -> Result<f64, String> {
        let x: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("{field} {} is not a number", quote(v)))?;
        if x.is_finite() {
            Ok(x)
        } else {
            Err(format!("{field} {} is not a finite number", quote(v)))
        }
    };
    LatLon::new(num("latitude", lat)?, num("longitude", lon)?).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equirectangular_by_shape() {
        assert!(is_equirectangular(4096, 2048, b""));
        assert!(is_equirectangular(5760, 2881, b""));
        assert!(!is_equirectangular(4032, 3024, b""));
        assert!(!is_equirectangular(100, 0, b""));
    }

    #[test]
    fn inside_refuses_escapes() {
        let d = Path::new("/data/imgs");
        assert_eq!(inside(d, "a/b.jpg").unwrap(), d.join("a/b.jpg"));
        assert!(inside(d, "./a.jpg").is_ok());
        for bad in ["../x.jpg", "a/../../x.jpg", "/etc/passwd", ""] {
            assert!(inside(d, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parse_pos_names_the_field() {
        assert_eq!(
            parse_pos("48.1", "-2.5").unwrap(),
            LatLon::new(48.1, -2.5).unwrap()
        );
        assert!(parse_pos("NaN", "0")
            .unwrap_err()
            .contains("latitude 'NaN'"));
        assert!(parse_pos("1", "inf")
            .unwrap_err()
            .contains("longitude 'inf'"));
        assert!(parse_pos("91", "0").unwrap_err().contains("91"));
        assert!(parse_pos("1", "x")
            .unwrap_err()
            .contains("longitude 'x' is not a number"));
    }
}
