//! `map import csv FILE --images DIR --layout ...`: geotagged image datasets given as a CSV plus a
//! folder of images.
//!
//! Layouts (column names are matched case-insensitively; extra columns are ignored):
//! - `generic`: `id,lat,lon,path`, `path` relative to the images folder.
//! - `im2gps3k`: the Im2GPS3k test list as published with the ECCV'18 geo-estimation code
//!   (`im2gps3k_places365.csv`): `IMG_ID,AUTHOR,LAT,LON,...`; `IMG_ID` is the image's file name.
//! - `yfcc4k`: the YFCC4k list used by Img2Loc and G3: `IMG_ID,LAT,LON,...`; an `IMG_ID` without
//!   an extension means `<IMG_ID>.jpg`.
//! - `osv5m`: OpenStreetView-5M's `test.csv`: `id,latitude,longitude,...`, images `<id>.jpg`;
//!   its `creator_username` (when present) is kept as the CC BY-SA attribution.

use super::{inside, parse_pos, ImportError, ImportReport, Importer, NewLocation};
use crate::game::pack::quote;
use std::path::Path;

/// Columns of a header named in a "missing column" error (a hostile file may have thousands).
const MAX_LISTED_COLUMNS: usize = 20;

/// A published CSV layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Generic,
    Im2gps3k,
    Yfcc4k,
    Osv5m,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Generic => "generic",
            Layout::Im2gps3k => "im2gps3k",
            Layout::Yfcc4k => "yfcc4k",
            Layout::Osv5m => "osv5m",
        }
    }

    /// (id, lat, lon, image) column names; `None` image means "derived from the id".
    fn columns(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
    ) {
        match self {
            Layout::Generic => ("id", "lat", "lon", Some("path")),
            Layout::Im2gps3k | Layout::Yfcc4k => ("IMG_ID", "LAT", "LON", None),
            Layout::Osv5m => ("id", "latitude", "longitude", None),
        }
    }

    /// The image file name for a row without a path column.
    fn image_for(self, id: &str) -> String {
        match self {
            Layout::Yfcc4k | Layout::Osv5m if Path::new(id).extension().is_none() => {
                format!("{id}.jpg")
            }
            _ => id.to_string(),
        }
    }

    /// The location id: file names lose their extension (`123_abc.jpg` → `123_abc`).
    fn id_for(self, raw: &str) -> String {
        match self {
            Layout::Im2gps3k | Layout::Yfcc4k => Path::new(raw)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            _ => raw.to_string(),
        }
    }
}

/// The header's columns for a message: each quoted and cut, at most [`MAX_LISTED_COLUMNS`].
fn found_columns(header: &::csv::StringRecord) -> String {
    let mut out: Vec<String> = header.iter().take(MAX_LISTED_COLUMNS).map(quote).collect();
    if header.len() > MAX_LISTED_COLUMNS {
        out.push(format!("and {} more", header.len() - MAX_LISTED_COLUMNS));
    }
    out.join(", ")
}

/// Imports every row of `file`, images from `images`.
pub fn import_csv(
    file: &Path,
    images: &Path,
    layout: Layout,
    mut imp: Importer,
) -> Result<ImportReport, ImportError> {
    let csv_err = |detail: String| ImportError::Csv {
        path: file.to_path_buf(),
        detail,
    };
    if !images.is_dir() {
        return Err(ImportError::BadFlag {
            flag: "--images",
            detail: format!("{} is not a folder", images.display()),
        });
    }
    let mut reader = ::csv::ReaderBuilder::new()
        .trim(::csv::Trim::All)
        .flexible(true)
        .from_path(file)
        .map_err(|e| csv_err(e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| csv_err(e.to_string()))?
        .clone();
    let col = |name: &str| -> Result<usize, ImportError> {
        header
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
            .ok_or_else(|| ImportError::MissingColumn {
                path: file.to_path_buf(),
                column: name.into(),
                layout: layout.name().into(),
                found: found_columns(&header),
            })
    };
    let (id_c, lat_c, lon_c, img_c) = layout.columns();
    let (id_i, lat_i, lon_i) = (col(id_c)?, col(lat_c)?, col(lon_c)?);
    let img_i = img_c.map(col).transpose()?;
    let creator_i = match layout {
        Layout::Osv5m => col("creator_username").ok(),
        _ => None,
    };
    let fname = file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    for (i, rec) in reader.records().enumerate() {
        let source = format!("{fname} row {}", i + 2);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                imp.problem(&source, e.to_string());
                continue;
            }
        };
        let cell = |c: usize| rec.get(c).unwrap_or("");
        let raw_id = cell(id_i);
        let id = layout.id_for(raw_id);
        let pos = match parse_pos(cell(lat_i), cell(lon_i)) {
            Ok(p) => p,
            Err(e) => {
                imp.problem(&source, e);
                continue;
            }
        };
        let rel = match img_i {
            Some(c) => cell(c).to_string(),
            None => layout.image_for(raw_id),
        };
        let path = match inside(images, &rel) {
            Ok(p) => p,
            Err(e) => {
                imp.problem(&source, e);
                continue;
            }
        };
        if !imp.claim(&source, &id) {
            continue;
        }
        let attribution = creator_i
            .map(cell)
            .filter(|c| !c.is_empty())
            .map(|c| format!("{c} via OpenStreetView-5M / Mapillary, CC BY-SA 4.0"));
        let c = NewLocation {
            id,
            pos,
            attribution,
            photo: None,
        };
        imp.add_file(&source, c, &path)?;
    }
    Ok(imp.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_ids_and_images() {
        assert_eq!(Layout::Im2gps3k.id_for("1_a_2@N00.jpg"), "1_a_2@N00");
        assert_eq!(Layout::Im2gps3k.image_for("1_a.jpg"), "1_a.jpg");
        assert_eq!(Layout::Yfcc4k.image_for("25935894"), "25935894.jpg");
        assert_eq!(
            Layout::Osv5m.image_for("3859149887465501"),
            "3859149887465501.jpg"
        );
        assert_eq!(Layout::Osv5m.id_for("385"), "385");
    }
}
