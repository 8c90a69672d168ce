//! `geoagent index build MAP... -o FILE`: the reference index for the rag strategy.

use super::args::{path, push, Overrides};
use super::wiring::embedder;
use super::Cli;
use crate::config::Settings;
use crate::game::{pack, Map};
use crate::index::embed::build_index;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Progress is printed every this many references, so big packs show life without flooding.
const PROGRESS_EVERY: usize = 500;

#[derive(Debug, Args)]
pub struct IndexArgs {
    #[command(subcommand)]
    pub command: IndexCommand,
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Embed every location of the given maps into a reference index file. Build it from other
    /// maps than the ones you will play: the rag strategy refuses an index containing the played map.
    Build(IndexBuildArgs),
}

#[derive(Debug, Args)]
pub struct IndexBuildArgs {
    /// Map ids ("world", or a pack under game.maps_dir) or map pack folders.
    #[arg(required = true, value_name = "MAP")]
    pub maps: Vec<String>,
    /// Index file to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Embedding endpoint (OpenAI-compatible, image input); default: the built-in descriptor.
    #[arg(long, value_name = "URL", requires = "embedding_model")]
    pub embedding_url: Option<String>,
    /// Embedding model name at --embedding-url.
    #[arg(long, value_name = "NAME", requires = "embedding_url")]
    pub embedding_model: Option<String>,
    /// Folder of map packs.
    #[arg(long, value_name = "DIR")]
    pub maps_dir: Option<PathBuf>,
}

/// What `index build` runs on.
#[derive(Debug)]
pub struct IndexRun {
    pub settings: Settings,
    pub maps: Vec<String>,
    pub output: PathBuf,
}

impl IndexArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<IndexRun> {
        let IndexCommand::Build(b) = &self.command;
        anyhow::ensure!(
            !b.maps.is_empty(),
            "`index build` needs at least one map: a map id (world, or a pack under game.maps_dir) or a pack folder"
        );
        let mut o: Overrides = vec![];
        push(&mut o, "agent.embedding_url", &b.embedding_url);
        push(&mut o, "agent.embedding_model", &b.embedding_model);
        push(&mut o, "game.maps_dir", &path(&b.maps_dir));
        Ok(IndexRun {
            settings: super::load_settings(cli, env, &o)?,
            maps: b.maps.clone(),
            output: b.output.clone(),
        })
    }
}

/// A map by pack folder or by id.
fn resolve_map(arg: &str, maps_dir: &Path) -> Result<Map> {
    let p = Path::new(arg);
    if p.join(pack::PACK_MANIFEST).is_file() {
        return Ok(pack::load_pack(p)?);
    }
    let all = pack::load_all(maps_dir)?;
    Ok(pack::select(&all, arg)?.clone())
}

/// Runs `geoagent index build`.
pub async fn run(r: &IndexRun) -> Result<ExitCode> {
    let settings = &r.settings;
    let maps = r
        .maps
        .iter()
        .map(|m| resolve_map(m, &settings.game.maps_dir))
        .collect::<Result<Vec<_>>>()?;
    let refs: Vec<&Map> = maps.iter().collect();
    let embedder = embedder(settings)?;
    let started = std::time::Instant::now();
    let total: usize = maps.iter().map(|m| m.locations.len()).sum();
    errln!(
        "Embedding {total} references from {} with {}...",
        maps.iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        embedder.name()
    );
    let index = build_index(&refs, embedder.as_ref(), |done, total| {
        if done % PROGRESS_EVERY == 0 {
            errln!("  {done}/{total}");
        }
    })
    .await?;
    index.save(&r.output)?;
    outln!(
        "Wrote {} references ({} dimensions, {}) from maps [{}] to {} in {:.1} s. Play other maps than these with --strategy rag --index {}.",
        index.len(),
        index.dim(),
        index.meta().embedder,
        index.meta().sources.join(", "),
        r.output.display(),
        started.elapsed().as_secs_f64(),
        r.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
