//! `geoagent ask IMAGE...`: reason about your own pictures (metadata stripped first), with a
//! person's hints on stdin for the interactive strategy.

use super::args::{push, Overrides, ReasoningArgs};
use super::wiring::{build_providers, strategy_reasoner};
use super::Cli;
use crate::agent::baseline::baseline_point;
use crate::agent::strategy::interactive::describe_guess;
use crate::agent::strategy::{HintSource, NoHints, ReaderHints, StrategyKind};
use crate::agent::GuessSource;
use crate::config::Settings;
use crate::environment::{Observation, View};
use crate::game::builtin;
use crate::geo::Bounds;
use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Longest side of a picture sent by `ask`: larger photos are scaled down, since vision models
/// downscale them anyway (OpenAI to 2048 px) and the upload would only be slower.
pub(crate) const ASK_MAX_SIDE: u32 = 2048;
/// How `ask` names the "map" in prompts: the pictures may be from anywhere.
pub(crate) const ASK_MAP_NAME: &str = "World (your own photos)";

#[derive(Debug, Args)]
pub struct AskArgs {
    /// Pictures of one place (JPEG or PNG); metadata is stripped before anything is sent.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Model as PROVIDER:NAME, as for `play` (required: `ask` has no baseline).
    #[arg(long)]
    pub model: Option<String>,
    #[command(flatten)]
    pub reasoning: ReasoningArgs,
    /// Print the whole guess (every exchange) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What `ask` runs on.
#[derive(Debug)]
pub struct AskRun {
    pub settings: Settings,
    pub images: Vec<PathBuf>,
    pub json: bool,
}

impl AskArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<AskRun> {
        let mut o: Overrides = vec![];
        push(&mut o, "model.name", &self.model);
        self.reasoning.overrides(&mut o);
        Ok(AskRun {
            settings: super::load_settings(cli, env, &o)?,
            images: self.images.clone(),
            json: self.json,
        })
    }
}

/// Reads a picture and re-encodes it as a plain JPEG: decoding drops EXIF/XMP (GPS included) and
/// every other metadata block, so nothing but pixels reaches the model.
pub(crate) fn clean_view(path: &Path, quality: u8) -> Result<View> {
    let bad = |detail: String| anyhow::anyhow!("{}: {detail}", path.display());
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

/// Runs `geoagent ask IMAGE...`.
pub async fn run(a: &AskRun) -> Result<ExitCode> {
    let settings = &a.settings;
    let (provider, extra) = build_providers(settings)?.context(
        "`ask` needs a model: pass --model NAME (and --base-url URL for a local server)",
    )?;
    let views = a
        .images
        .iter()
        .map(|p| clean_view(p, settings.capture.jpeg_quality))
        .collect::<Result<Vec<_>>>()?;
    let obs = Observation {
        round: 1,
        rounds: 1,
        views,
        map_view: Bounds::WORLD,
        map_name: ASK_MAP_NAME.into(),
        capture_ms: 0,
    };
    let hints: Arc<dyn HintSource> = if settings.agent.strategy == StrategyKind::Interactive {
        Arc::new(ReaderHints::new(
            tokio::io::BufReader::new(tokio::io::stdin()),
            Box::new(std::io::stdout()),
        ))
    } else {
        Arc::new(NoHints)
    };
    let world = builtin::world();
    let reasoner = strategy_reasoner(
        settings,
        provider,
        extra,
        None,
        baseline_point(&world),
        hints,
        None,
    )?;
    let guess = reasoner.guess(&obs).await;
    if a.json {
        match serde_json::to_string_pretty(&guess) {
            Ok(j) => outln!("{j}"),
            Err(e) => errln!("could not print the guess as JSON: {e}"),
        }
    } else {
        for c in &guess.candidates {
            outln!(
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
            outln!("  note: {n}");
        }
        outln!("Final guess: {}", describe_guess(&guess));
    }
    Ok(match guess.source {
        GuessSource::Fallback { .. } => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    })
}
