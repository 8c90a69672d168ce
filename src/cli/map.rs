//! `geoagent map import|ls|info|validate`: the flags, and the printing of what
//! [`crate::import::packs`] does.
//!
//! Exit codes: 0 all good; 1 an error stopped the command, or `validate` found errors; 2 an
//! import finished but some inputs were skipped (each is listed with its file and row).

use super::Cli;
use crate::game::builtin;
use crate::game::pack;
use crate::import::csv::Layout;
use crate::import::mapillary::DEFAULT_API_BASE;
use crate::import::packs::{
    self, find, pack_dirs, validate_pack, Found, ImportSource, PackTarget, Summary,
};
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code of an import that skipped some inputs.
pub(crate) const EXIT_PARTIAL: u8 = 2;

/// Flags of `geoagent map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    #[command(subcommand)]
    pub command: MapCommand,
}

#[derive(Debug, Subcommand)]
pub enum MapCommand {
    /// Build or extend a map pack from real imagery.
    Import(ImportArgs),
    /// List the built-in map and every pack in the maps folder.
    Ls,
    /// Counts, countries and continents covered, and the map size used for scoring.
    Info {
        /// Pack id, "world", or a pack folder.
        pack: String,
    },
    /// Check packs (all when none is given): bad rows, unreadable or oversized images, leftover
    /// metadata, duplicate images (perceptual hash) and excluded locations. Exits 1 on errors.
    Validate {
        /// Pack id or folder.
        pack: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: ImportSourceArgs,
}

/// Where the pack goes and what it is called.
#[derive(Debug, Args)]
pub struct OutArgs {
    /// Pack folder to create or extend, e.g. maps/my-trip (its name becomes the map id).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Display name of a new pack (default: its id).
    #[arg(long)]
    pub name: Option<String>,
}

/// `--layout` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    /// id,lat,lon,path
    Generic,
    Im2gps3k,
    Yfcc4k,
    Osv5m,
}

impl From<LayoutArg> for Layout {
    fn from(l: LayoutArg) -> Layout {
        match l {
            LayoutArg::Generic => Layout::Generic,
            LayoutArg::Im2gps3k => Layout::Im2gps3k,
            LayoutArg::Yfcc4k => Layout::Yfcc4k,
            LayoutArg::Osv5m => Layout::Osv5m,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ImportSourceArgs {
    /// Photos with GPS in their EXIF (phone photos); 2:1 or GPano images become panoramas.
    Photos {
        /// Folder searched (with its sub-folders) for .jpg/.jpeg/.png files.
        dir: PathBuf,
        #[command(flatten)]
        out: OutArgs,
    },
    /// A CSV of geotagged images plus the folder holding them.
    Csv {
        file: PathBuf,
        /// Folder the CSV's image names are relative to.
        #[arg(long, value_name = "DIR")]
        images: PathBuf,
        /// Column layout: generic (id,lat,lon,path), im2gps3k, yfcc4k or osv5m.
        #[arg(long, value_enum, default_value = "generic")]
        layout: LayoutArg,
        #[command(flatten)]
        out: OutArgs,
    },
    /// 360° panoramas from Mapillary (CC BY-SA 4.0), with attribution.
    Mapillary {
        /// Area as W,S,E,N degrees, e.g. 7.70,45.98,7.80,46.05.
        #[arg(long, conflicts_with = "country", required_unless_present = "country")]
        bbox: Option<String>,
        /// ISO country code, e.g. CH: sampled inside its borders.
        #[arg(long)]
        country: Option<String>,
        /// New panoramas wanted.
        #[arg(long, default_value_t = 20)]
        count: usize,
        /// Environment variable holding the Mapillary client token.
        #[arg(long, default_value = "MAPILLARY_TOKEN", value_name = "VAR")]
        token_env: String,
        /// API base URL (for testing or a proxy).
        #[arg(long, default_value = DEFAULT_API_BASE, value_name = "URL")]
        api_base: String,
        /// Seed of the spatial sampling (same seed, same tiles).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        out: OutArgs,
    },
}

impl OutArgs {
    fn target(&self) -> PackTarget {
        PackTarget {
            out: self.out.clone(),
            name: self.name.clone(),
        }
    }
}

impl ImportSourceArgs {
    fn source(&self) -> ImportSource {
        match self {
            ImportSourceArgs::Photos { dir, out } => ImportSource::Photos {
                dir: dir.clone(),
                out: out.target(),
            },
            ImportSourceArgs::Csv {
                file,
                images,
                layout,
                out,
            } => ImportSource::Csv {
                file: file.clone(),
                images: images.clone(),
                layout: (*layout).into(),
                out: out.target(),
            },
            ImportSourceArgs::Mapillary {
                bbox,
                country,
                count,
                token_env,
                api_base,
                seed,
                out,
            } => ImportSource::Mapillary {
                bbox: bbox.clone(),
                country: country.clone(),
                count: *count,
                token_env: token_env.clone(),
                api_base: api_base.clone(),
                seed: *seed,
                out: out.target(),
            },
        }
    }
}

/// What a `map` subcommand does.
#[derive(Debug, Clone, PartialEq)]
pub enum MapAction {
    Import(ImportSource),
    Ls,
    Info(String),
    Validate(Option<String>),
}

/// What `map` runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct MapRun {
    /// Where packs are looked up by id (game.maps_dir).
    pub maps_dir: PathBuf,
    pub action: MapAction,
}

impl MapArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<MapRun> {
        let settings = super::load_settings(cli, env, &[])?;
        Ok(MapRun {
            maps_dir: settings.game.maps_dir,
            action: match &self.command {
                MapCommand::Import(a) => MapAction::Import(a.source.source()),
                MapCommand::Ls => MapAction::Ls,
                MapCommand::Info { pack } => MapAction::Info(pack.clone()),
                MapCommand::Validate { pack } => MapAction::Validate(pack.clone()),
            },
        })
    }
}

/// Runs `geoagent map ...`.
pub async fn run(m: &MapRun) -> Result<ExitCode> {
    let maps_dir = &m.maps_dir;
    match &m.action {
        MapAction::Import(source) => {
            let report = packs::import(source).await?;
            outln!("{report}");
            Ok(if report.problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_PARTIAL)
            })
        }
        MapAction::Ls => {
            out!("{}", packs::ls(maps_dir));
            Ok(ExitCode::SUCCESS)
        }
        MapAction::Info(p) => {
            let map = match find(p, maps_dir)? {
                Found::World => Summary::of_map(&builtin::world(), 0),
                Found::Dir(d) => Summary::of_pack(&pack::read_pack(&d)?),
            };
            out!("{map}");
            Ok(ExitCode::SUCCESS)
        }
        MapAction::Validate(p) => {
            let dirs = match p {
                Some(p) => match find(p, maps_dir)? {
                    Found::World => {
                        outln!("world: built in, nothing to validate");
                        return Ok(ExitCode::SUCCESS);
                    }
                    Found::Dir(d) => vec![d],
                },
                None => pack_dirs(maps_dir),
            };
            let mut failed = false;
            for d in dirs {
                let v = validate_pack(&d);
                failed |= !v.errors.is_empty();
                out!("{v}");
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
