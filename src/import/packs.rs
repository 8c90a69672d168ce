//! What `geoagent map` does with packs, as plain functions: import one from a source
//! ([`import`]), list them ([`ls`]), describe one ([`Summary`]) and check them ([`validate_pack`]).
//! The flags and the printing are `cli::map`'s.

use super::csv::Layout;
use super::mapillary::{Area, MapillaryOptions};
use super::{ImportError, ImportReport, Importer};
use crate::game::integrity::{self, Metadata};
use crate::game::pack::{self, PackContents, PackError, PackManifest, PackWriter};
use crate::game::{builtin, Imagery, Location, Map};
use crate::geo::reverse;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PacksError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(
        "-o {0}: the folder name must be ASCII letters, digits, '-' or '_' (it becomes the map id)"
    )]
    BadOut(String),
    #[error("map '{0}' not found: give a pack id under the maps folder ({1}), 'world', or a pack folder")]
    NoSuchPack(String, String),
}

/// Where an imported pack goes and what it is called.
#[derive(Debug, Clone, PartialEq)]
pub struct PackTarget {
    /// Pack folder to create or extend (its name becomes the map id).
    pub out: PathBuf,
    /// Display name of a new pack (default: its id).
    pub name: Option<String>,
}

/// One import: a source of imagery and the pack it goes into.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportSource {
    /// Photos with GPS in their EXIF under `dir` (searched recursively).
    Photos { dir: PathBuf, out: PackTarget },
    /// A CSV of geotagged images; image names are relative to `images`.
    Csv {
        file: PathBuf,
        images: PathBuf,
        layout: Layout,
        out: PackTarget,
    },
    /// 360° panoramas from Mapillary inside a `bbox` (W,S,E,N) or a `country` (ISO code).
    Mapillary {
        bbox: Option<String>,
        country: Option<String>,
        /// New panoramas wanted.
        count: usize,
        /// Environment variable holding the Mapillary client token.
        token_env: String,
        api_base: String,
        /// Seed of the spatial sampling.
        seed: u64,
        out: PackTarget,
    },
}

/// Runs one import and returns what it did.
pub async fn import(source: &ImportSource) -> Result<ImportReport, PacksError> {
    let out = match source {
        ImportSource::Photos { out, .. }
        | ImportSource::Csv { out, .. }
        | ImportSource::Mapillary { out, .. } => out,
    };
    let id = out
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .ok_or_else(|| PacksError::BadOut(out.out.display().to_string()))?;
    let name = out.name.clone().unwrap_or_else(|| id.clone());
    let manifest = |attribution: Option<String>| PackManifest::new(&id, &name, attribution);
    match source {
        ImportSource::Photos { dir, .. } => {
            let w = PackWriter::open(&out.out, manifest(None))?;
            Ok(super::photos::import_photos(dir, Importer::new(w))?)
        }
        ImportSource::Csv {
            file,
            images,
            layout,
            ..
        } => {
            let attribution = match layout {
                Layout::Osv5m => {
                    Some("Imagery: OpenStreetView-5M (Mapillary contributors), CC BY-SA 4.0".into())
                }
                _ => None,
            };
            let w = PackWriter::open(&out.out, manifest(attribution))?;
            Ok(super::csv::import_csv(
                file,
                images,
                *layout,
                Importer::new(w),
            )?)
        }
        ImportSource::Mapillary {
            bbox,
            country,
            count,
            token_env,
            api_base,
            seed,
            ..
        } => {
            let area = match (bbox, country) {
                (Some(b), _) => Area::parse_bbox(b).map_err(ImportError::from)?,
                (None, Some(c)) => Area::Country(c.trim().to_ascii_uppercase()),
                (None, None) => {
                    return Err(ImportError::BadFlag {
                        flag: "--bbox/--country",
                        detail: "give one of them".into(),
                    }
                    .into())
                }
            };
            let token = std::env::var(token_env)
                .ok()
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    ImportError::from(super::mapillary::MapillaryError::NoToken {
                        var: token_env.clone(),
                    })
                })?;
            let opts = MapillaryOptions {
                api_base: api_base.clone(),
                token: SecretString::from(token),
                token_env: token_env.clone(),
                area,
                count: *count,
                seed: *seed,
            };
            let w = PackWriter::open(
                &out.out,
                manifest(Some(format!(
                    "Imagery © Mapillary contributors, {} (per-image credits in locations.csv)",
                    super::mapillary::LICENSE
                ))),
            )?;
            Ok(super::mapillary::import_mapillary(&opts, Importer::new(w)).await?)
        }
    }
}

/// A pack argument resolved: the built-in map or a pack folder.
pub enum Found {
    World,
    Dir(PathBuf),
}

/// Pack folders (holding a manifest) directly under `maps_dir`, sorted.
pub(crate) fn pack_dirs(maps_dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(maps_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join(pack::PACK_MANIFEST).is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// The map `pack` names: 'world', a pack folder, or a pack id under `maps_dir`.
pub fn find(pack: &str, maps_dir: &Path) -> Result<Found, PacksError> {
    if pack == builtin::world().id {
        return Ok(Found::World);
    }
    let as_path = PathBuf::from(pack);
    if as_path.join(pack::PACK_MANIFEST).is_file() {
        return Ok(Found::Dir(as_path));
    }
    for d in pack_dirs(maps_dir) {
        if pack::read_manifest(&d).is_ok_and(|m| m.id == pack) {
            return Ok(Found::Dir(d));
        }
    }
    Err(PacksError::NoSuchPack(
        pack.into(),
        maps_dir.display().to_string(),
    ))
}

/// What `info` and `ls` show about a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub id: String,
    pub name: String,
    pub synthetic: bool,
    pub attribution: Option<String>,
    pub playable: usize,
    pub excluded: usize,
    pub panoramas: usize,
    pub photos: usize,
    pub generated: usize,
    /// Scoring size and whether the manifest set it (else the bounding-box diagonal).
    pub size_km: f64,
    pub size_from_manifest: bool,
    /// Country code → playable locations (unknown at sea: "??").
    pub countries: BTreeMap<String, usize>,
    pub continents: BTreeMap<String, usize>,
}

impl Summary {
    /// (count, panoramas, photos, generated, per country, per continent).
    #[allow(clippy::type_complexity)]
    fn of_locations<'a>(
        locs: impl Iterator<Item = &'a Location>,
    ) -> (
        usize,
        usize,
        usize,
        usize,
        BTreeMap<String, usize>,
        BTreeMap<String, usize>,
    ) {
        let (mut n, mut pano, mut photo, mut gen) = (0, 0, 0, 0);
        let mut countries = BTreeMap::new();
        let mut continents = BTreeMap::new();
        for l in locs {
            n += 1;
            match l.imagery {
                Imagery::Generated => gen += 1,
                Imagery::File { .. } => pano += 1,
                Imagery::Photo { .. } => photo += 1,
            }
            let cc = l.country.clone().or_else(|| reverse::country(l.pos));
            let continent = cc
                .as_deref()
                .and_then(reverse::continent)
                .map_or("unknown".to_string(), |c| c.name().to_string());
            *countries
                .entry(cc.unwrap_or_else(|| "??".into()))
                .or_insert(0) += 1;
            *continents.entry(continent).or_insert(0) += 1;
        }
        (n, pano, photo, gen, countries, continents)
    }

    pub(crate) fn of_map(map: &Map, excluded: usize) -> Summary {
        let (playable, panoramas, photos, generated, countries, continents) =
            Self::of_locations(map.locations.iter());
        Summary {
            id: map.id.clone(),
            name: map.name.clone(),
            synthetic: map.synthetic,
            attribution: map.attribution.clone(),
            playable,
            excluded,
            panoramas,
            photos,
            generated,
            size_km: map.size_km,
            size_from_manifest: (map.size_km - Map::size_from_locations(&map.locations)).abs()
                > 1e-9,
            countries,
            continents,
        }
    }

    pub(crate) fn of_pack(p: &PackContents) -> Summary {
        let excluded = p.rows.iter().filter(|r| r.exclude.is_some()).count();
        let mut s = match p.clone().into_map() {
            Ok(m) => Summary::of_map(&m, excluded),
            // Everything excluded: still describe the pack.
            Err(_) => Summary {
                id: p.manifest.id.clone(),
                name: p.manifest.name.clone(),
                synthetic: p.manifest.synthetic,
                attribution: p.manifest.attribution.clone(),
                playable: 0,
                excluded,
                panoramas: 0,
                photos: 0,
                generated: 0,
                size_km: 0.0,
                size_from_manifest: false,
                countries: BTreeMap::new(),
                continents: BTreeMap::new(),
            },
        };
        s.size_from_manifest = p.manifest.size_km.is_some();
        s
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} ({}){}",
            self.name,
            self.id,
            if self.synthetic {
                ", synthetic imagery"
            } else {
                ""
            }
        )?;
        if let Some(a) = &self.attribution {
            writeln!(f, "  attribution: {a}")?;
        }
        writeln!(
            f,
            "  locations: {} playable ({} panoramas, {} single photos, {} generated), {} excluded",
            self.playable, self.panoramas, self.photos, self.generated, self.excluded
        )?;
        writeln!(
            f,
            "  map size for scoring: {:.1} km ({})",
            self.size_km,
            if self.size_from_manifest {
                "set in manifest.json"
            } else {
                "bounding-box diagonal of the locations"
            }
        )?;
        let list = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "  continents: {} ({})",
            self.continents.len(),
            list(&self.continents)
        )?;
        writeln!(
            f,
            "  countries: {} ({})",
            self.countries.len(),
            list(&self.countries)
        )
    }
}

/// The lines of `map ls`: the built-in map and every pack under `maps_dir`.
pub fn ls(maps_dir: &Path) -> String {
    let mut out = String::new();
    let world = Summary::of_map(&builtin::world(), 0);
    let line = |s: &Summary, at: &str| {
        format!(
            "{:<20} {:>5} locations  {:>3} countries  {:>3} continents  {:>9.1} km  {}{}\n",
            s.id,
            s.playable,
            s.countries.len(),
            s.continents.len(),
            s.size_km,
            at,
            if s.excluded > 0 {
                format!("  ({} excluded)", s.excluded)
            } else {
                String::new()
            }
        )
    };
    out.push_str(&line(&world, "built in"));
    for d in pack_dirs(maps_dir) {
        match pack::read_pack(&d) {
            Ok(p) => out.push_str(&line(&Summary::of_pack(&p), &d.display().to_string())),
            Err(e) => {
                let _ = writeln!(out, "{:<20} BROKEN: {e}", d.display());
            }
        }
    }
    out
}

/// What `validate` found in one pack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Validation {
    pub pack: String,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// (id, reason) of locations taken out of play.
    pub excluded: Vec<(String, String)>,
    /// Pairs of ids whose images look the same, with the hash distance in bits.
    pub duplicates: Vec<(String, String, u32)>,
}

impl std::fmt::Display for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.errors.is_empty() {
            "ok"
        } else {
            "ERRORS"
        };
        writeln!(
            f,
            "{}: {verdict} ({} error(s), {} warning(s), {} duplicate pair(s), {} excluded)",
            self.pack,
            self.errors.len(),
            self.warnings.len(),
            self.duplicates.len(),
            self.excluded.len()
        )?;
        for e in &self.errors {
            writeln!(f, "  error: {e}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        for (a, b, d) in &self.duplicates {
            writeln!(
                f,
                "  duplicate: '{a}' and '{b}' look like the same image (perceptual hash {d} bits apart); exclude one"
            )?;
        }
        for (id, why) in &self.excluded {
            writeln!(f, "  excluded: '{id}': {why}")?;
        }
        Ok(())
    }
}

/// Checks a pack folder: rows, images, metadata, duplicates, exclusions.
pub(crate) fn validate_pack(dir: &Path) -> Validation {
    let mut v = Validation {
        pack: dir.display().to_string(),
        ..Validation::default()
    };
    let contents = match pack::read_pack(dir) {
        Ok(c) => c,
        Err(e) => {
            v.errors.push(e.to_string());
            return v;
        }
    };
    if contents.rows.iter().all(|r| r.exclude.is_some()) {
        v.errors
            .push("no playable locations: every row is excluded".into());
    }
    let mut hashes = Vec::new();
    let mut positions: Vec<(String, crate::geo::LatLon)> = Vec::new();
    for r in &contents.rows {
        let id = &r.location.id;
        let at = format!("{} row {} ('{id}')", pack::PACK_LOCATIONS, r.row);
        if let Some(why) = &r.exclude {
            v.excluded.push((id.clone(), why.clone()));
        }
        if let Some((other, _)) = positions.iter().find(|(_, p)| *p == r.location.pos) {
            v.warnings
                .push(format!("{at}: same coordinates as '{other}'"));
        }
        positions.push((id.clone(), r.location.pos));
        if let (Some(cc), Some(found)) = (&r.location.country, reverse::country(r.location.pos)) {
            if *cc != found {
                v.warnings.push(format!(
                    "{at}: country column says {cc} but the coordinates are in {found}"
                ));
            }
        }
        let Some(path) = r.location.imagery.path() else {
            continue;
        };
        let bytes = match integrity::read_limited(path) {
            Ok(b) => b,
            Err(e) => {
                v.errors.push(format!("{at}: {e}"));
                continue;
            }
        };
        let meta = integrity::jpeg_metadata(&bytes);
        if !meta.is_empty() {
            let kinds: Vec<&str> = meta
                .iter()
                .map(|m| match m {
                    Metadata::Exif => "EXIF",
                    Metadata::Xmp => "XMP",
                    Metadata::Iptc => "IPTC",
                    Metadata::Comment => "comment",
                    Metadata::OtherApp(_) => "APPn",
                })
                .collect();
            v.warnings.push(format!(
                "{at}: the file carries {} metadata (stripped before serving, but anyone given the pack can read it; re-import to clean the file)",
                kinds.join("/")
            ));
        }
        let img = match integrity::decode_strict(path, &bytes) {
            Ok(i) => i,
            Err(e) => {
                v.errors.push(format!("{at}: {e}"));
                continue;
            }
        };
        let panorama = matches!(r.location.imagery, Imagery::File { .. });
        if panorama && !super::is_equirectangular(img.width(), img.height(), &bytes) {
            v.warnings.push(format!(
                "{at}: kind is panorama but the image is {}×{}, not 2:1; set kind to 'photo' if it is a single photo",
                img.width(),
                img.height()
            ));
        }
        hashes.push((id.clone(), integrity::perceptual_hash(&img)));
    }
    for i in 0..hashes.len() {
        for j in i + 1..hashes.len() {
            if integrity::is_duplicate(&hashes[i].1, &hashes[j].1) {
                v.duplicates.push((
                    hashes[i].0.clone(),
                    hashes[j].0.clone(),
                    hashes[i].1.dist(&hashes[j].1),
                ));
            }
        }
    }
    v
}
