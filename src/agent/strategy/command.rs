//! The command-line side of strategies: turning settings into a strategy reasoner
//! ([`strategy_reasoner`], used by `play`, `ask` and `replay rerun`), `geoagent index build`, and
//! `geoagent ask IMAGE...` (reason about local pictures, with a person's hints on stdin for the
//! interactive strategy).

use super::{build, HintSource, ReaderHints, Retrieval, StrategyError, StrategyOptions};
use crate::agent::baseline::baseline_point;
use crate::agent::prompt::PromptSource;
use crate::agent::reasoner::ReasonerOptions;
use crate::agent::strategy::interactive::describe_guess;
use crate::agent::{GuessSource, Reasoner};
use crate::config::Settings;
use crate::environment::{Observation, View};
use crate::game::{builtin, pack, Map};
use crate::geo::{Bounds, LatLon};
use crate::index::embed::{build_index, BuiltinEmbedder, EmbedError, Embedder, HttpEmbedder};
use crate::index::{IndexError, ReferenceIndex};
use crate::lvlm::Provider;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use thiserror::Error;

/// Longest side of a picture sent by `ask`: larger photos are scaled down, since vision models
/// downscale them anyway (OpenAI to 2048 px) and the upload would only be slower.
pub const ASK_MAX_SIDE: u32 = 2048;
/// How `ask` names the "map" in prompts: the pictures may be from anywhere.
pub const ASK_MAP_NAME: &str = "World (your own photos)";

/// The configured model and the ensemble's extra models.
pub type Providers = (Arc<dyn Provider>, Vec<Arc<dyn Provider>>);

/// Why a strategy command failed; names the flag, key or file to fix.
#[derive(Debug, Error)]
pub enum CommandError {
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error(transparent)]
    Pack(#[from] pack::PackError),
    #[error("{path}: {detail}")]
    Image { path: PathBuf, detail: String },
    #[error("`ask` needs a model: pass --model NAME (and --base-url URL for a local server)")]
    NoModel,
    #[error("`index build` needs at least one map: a map id (world, or a pack under game.maps_dir) or a pack folder")]
    NoMaps,
}

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
    #[arg(long, value_name = "NAME", requires = "embedding_url")]
    pub embedding_model: Option<String>,
    /// Folder of map packs.
    #[arg(long, value_name = "DIR")]
    pub maps_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// Pictures of one place (JPEG or PNG); metadata is stripped before anything is sent.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// direct, cot, coarse-to-fine, rag, ensemble or interactive.
    #[arg(long)]
    pub strategy: Option<String>,
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
    #[arg(long, value_name = "FILE")]
    pub index: Option<PathBuf>,
    #[arg(long)]
    pub samples: Option<usize>,
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Print the whole guess (every exchange) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn push<T: ToString>(out: &mut Vec<(&'static str, String)>, key: &'static str, v: &Option<T>) {
    if let Some(v) = v {
        out.push((key, v.to_string()));
    }
}

fn path(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

impl IndexArgs {
    /// Config overrides from the flags.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut o = vec![];
        let IndexCommand::Build(b) = &self.command;
        push(&mut o, "agent.embedding_url", &b.embedding_url);
        push(&mut o, "agent.embedding_model", &b.embedding_model);
        push(&mut o, "game.maps_dir", &path(&b.maps_dir));
        o
    }
}

impl AskArgs {
    /// Config overrides from the flags.
    pub fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut o = vec![];
        push(&mut o, "agent.strategy", &self.strategy);
        push(&mut o, "model.name", &self.model);
        push(&mut o, "model.base_url", &self.base_url);
        push(&mut o, "agent.prompts_dir", &path(&self.prompts));
        push(&mut o, "agent.index", &path(&self.index));
        push(&mut o, "agent.samples", &self.samples);
        push(&mut o, "model.temperature", &self.temperature);
        o
    }
}

/// The shipped prompts are compiled in; a folder overrides them. Only the default folder may be
/// absent (running from elsewhere): a configured one that is missing is a mistake to report.
pub fn prompt_source(settings: &Settings) -> PromptSource {
    let default_dir = crate::config::AgentSettings::default().prompts_dir;
    if settings.agent.prompts_dir == default_dir && !default_dir.is_dir() {
        PromptSource::Builtin
    } else {
        PromptSource::Dir(settings.agent.prompts_dir.clone())
    }
}

/// The configured embedder: the endpoint when `agent.embedding_url` is set, else the built-in
/// descriptor.
pub fn embedder(settings: &Settings) -> Result<Arc<dyn Embedder>, CommandError> {
    Ok(
        match (
            &settings.agent.embedding_url,
            &settings.agent.embedding_model,
        ) {
            (Some(url), Some(model)) => Arc::new(HttpEmbedder::new(
                url,
                model,
                settings.model.api_key.clone(),
            )?),
            _ => Arc::new(BuiltinEmbedder),
        },
    )
}

/// The reasoner for `agent.strategy` over `provider`. `map` is the map played (its size weighs
/// the ensemble, its id is checked against a rag index); `hints` feeds the interactive strategy.
pub fn strategy_reasoner(
    settings: &Settings,
    provider: Arc<dyn Provider>,
    extra_providers: Vec<Arc<dyn Provider>>,
    map: Option<&Map>,
    fallback: LatLon,
    hints: Arc<dyn HintSource>,
) -> Result<Arc<dyn Reasoner>, CommandError> {
    let name = settings.agent.strategy.as_str();
    let retrieval = if name == "rag" {
        let path = settings.agent.index.clone().ok_or(StrategyError::NoIndex)?;
        let index = ReferenceIndex::load(&path)?;
        Some(Retrieval {
            index: Arc::new(index),
            embedder: embedder(settings)?,
            path,
        })
    } else {
        None
    };
    let sopts = StrategyOptions {
        map_size_km: map.map_or(crate::game::WORLD_SIZE_KM, |m| m.size_km),
        played_map: map.map(|m| m.id.clone()),
        samples: settings.agent.samples,
        extra_providers,
        retrieval,
        rag_k: settings.agent.rag_k,
        hints,
    };
    let opts = ReasonerOptions {
        max_tokens: settings.model.max_tokens,
        temperature: settings.model.temperature,
        round_timeout: settings.round_timeout(),
    };
    Ok(build(
        name,
        provider,
        &prompt_source(settings),
        fallback,
        opts,
        sopts,
    )?)
}

/// A map by pack folder or by id.
fn resolve_map(arg: &str, maps_dir: &Path) -> Result<Map, CommandError> {
    let p = Path::new(arg);
    if p.join(pack::PACK_MANIFEST).is_file() {
        return Ok(pack::load_pack(p)?);
    }
    let all = pack::load_all(maps_dir)?;
    Ok(pack::select(&all, arg)?.clone())
}

/// `geoagent index build`.
pub async fn index(settings: &Settings, args: &IndexArgs) -> Result<ExitCode, CommandError> {
    let IndexCommand::Build(b) = &args.command;
    if b.maps.is_empty() {
        return Err(CommandError::NoMaps);
    }
    let maps = b
        .maps
        .iter()
        .map(|m| resolve_map(m, &settings.game.maps_dir))
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<&Map> = maps.iter().collect();
    let embedder = embedder(settings)?;
    let started = std::time::Instant::now();
    let total: usize = maps.iter().map(|m| m.locations.len()).sum();
    eprintln!(
        "Embedding {total} references from {} with {}...",
        maps.iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        embedder.name()
    );
    /// Progress is printed every this many references, so big packs show life without flooding.
    const PROGRESS_EVERY: usize = 500;
    let index = build_index(&refs, embedder.as_ref(), |done, total| {
        if done % PROGRESS_EVERY == 0 {
            eprintln!("  {done}/{total}");
        }
    })
    .await?;
    index.save(&b.output)?;
    println!(
        "Wrote {} references ({} dimensions, {}) from maps [{}] to {} in {:.1} s. Play other maps than these with --strategy rag --index {}.",
        index.len(),
        index.dim(),
        index.meta().embedder,
        index.meta().sources.join(", "),
        b.output.display(),
        started.elapsed().as_secs_f64(),
        b.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads a picture and re-encodes it as a plain JPEG: decoding drops EXIF/XMP (GPS included) and
/// every other metadata block, so nothing but pixels reaches the model.
pub fn clean_view(path: &Path, quality: u8) -> Result<View, CommandError> {
    let bad = |detail: String| CommandError::Image {
        path: path.to_path_buf(),
        detail,
    };
    let img = image::ImageReader::open(path)
        .map_err(|e| bad(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| bad(e.to_string()))?
        .decode()
        .map_err(|e| bad(format!("not a readable image: {e}")))?;
    let img = if img.width().max(img.height()) > ASK_MAX_SIDE {
        img.resize(
            ASK_MAX_SIDE,
            ASK_MAX_SIDE,
            image::imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    let rgb = img.to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
        .encode_image(&rgb)
        .map_err(|e| bad(format!("could not re-encode: {e}")))?;
    Ok(View {
        // Unknown for a photo: the prompt says "direction unknown" instead of inventing one.
        heading: f64::NAN,
        pitch: 0.0,
        fov: f64::NAN,
        width: rgb.width(),
        height: rgb.height(),
        jpeg,
    })
}

/// `geoagent ask IMAGE...`. `providers` is the configured model (and ensemble extras).
pub async fn ask(
    settings: &Settings,
    args: &AskArgs,
    providers: Option<Providers>,
) -> Result<ExitCode, CommandError> {
    let (provider, extra) = providers.ok_or(CommandError::NoModel)?;
    let views = args
        .images
        .iter()
        .map(|p| clean_view(p, settings.capture.jpeg_quality))
        .collect::<Result<Vec<_>, _>>()?;
    let obs = Observation {
        round: 1,
        rounds: 1,
        views,
        map_view: Bounds::WORLD,
        map_name: ASK_MAP_NAME.into(),
        capture_ms: 0,
    };
    let hints: Arc<dyn HintSource> = if settings.agent.strategy == "interactive" {
        Arc::new(ReaderHints::new(
            tokio::io::BufReader::new(tokio::io::stdin()),
            Box::new(std::io::stdout()),
        ))
    } else {
        Arc::new(super::NoHints)
    };
    let world = builtin::world();
    let reasoner = strategy_reasoner(
        settings,
        provider,
        extra,
        None,
        baseline_point(&world),
        hints,
    )?;
    let guess = reasoner.guess(&obs).await;
    if args.json {
        match serde_json::to_string_pretty(&guess) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("could not print the guess as JSON: {e}"),
        }
    } else {
        for c in &guess.candidates {
            println!(
                "  sample {}: {:.4}, {:.4}{}{}",
                c.label,
                c.pos.lat,
                c.pos.lon,
                c.country
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default(),
                if c.used { "" } else { " [failed, not counted]" }
            );
        }
        for n in &guess.notes {
            println!("  note: {n}");
        }
        println!("Final guess: {}", describe_guess(&guess));
    }
    Ok(match guess.source {
        GuessSource::Fallback { .. } => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    })
}
