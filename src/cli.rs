//! The command line: flags are parsed by clap, turned into config overrides, merged with the
//! other layers once ([`Settings::load`]), and each command runs on the validated settings.

use crate::agent::baseline::{baseline_point, BaselineReasoner};
use crate::agent::Reasoner;
use crate::browser::local_game::CaptureOptions;
use crate::browser::BrowserOptions;
use crate::config::Settings;
use crate::game::{pack, server, Map};
use crate::lvlm::openai::{OpenAiClient, OpenAiConfig};
use crate::lvlm::retry::RetryPolicy;
use crate::lvlm::Provider;
use crate::session::{self, MatchPlan};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "geoagent",
    version,
    about = "Plays GeoGuessr-style games with vision-language models and measures them against people"
)]
pub struct Cli {
    /// Config file (default: ./geoagent.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Play a match in headless Chromium against the local game and print the score table.
    Play(Box<PlayArgs>),
    /// Host the local game for people to play in their own browser.
    Serve(ServeArgs),
    /// Summarise replays: points and distances with 95% intervals, accuracy bands, country
    /// accuracy, and win rates against human results on the same rounds.
    Stats(crate::stats::command::StatsArgs),
    /// Reference index for the rag strategy: `index build MAP... -o FILE`.
    Index(crate::agent::strategy::command::IndexArgs),
    /// Ask the model where your own pictures were taken; with `--strategy interactive`, add
    /// hints line by line on stdin and the model revises (empty line ends).
    Ask(crate::agent::strategy::command::AskArgs),
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Play a challenge people already played, by its id (MAP-SEED-ROUNDS, as `serve` and
    /// `stats` show it), so agent and humans saw the same rounds.
    #[arg(long, value_name = "ID", conflicts_with_all = ["rounds", "seed", "map"])]
    pub challenge: Option<String>,
    /// Rounds to play.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Challenge seed (same seed, same rounds); random when absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Map id: "world" (built in) or a pack under game.maps_dir.
    #[arg(long)]
    pub map: Option<String>,
    /// Model, e.g. gpt-4o or openai:gpt-4o. Without one the baseline reasoner plays.
    #[arg(long)]
    pub model: Option<String>,
    /// OpenAI-compatible API base URL (vLLM, llama.cpp, Ollama's /v1, ...).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Views captured per round, evenly spread from north.
    #[arg(long)]
    pub headings: Option<usize>,
    /// Add one zoomed-in view (this many 1.5x zoom steps); 0 = none.
    #[arg(long)]
    pub zoom_steps: Option<u32>,
    /// Reasoning strategy: direct, cot, coarse-to-fine, rag, ensemble or interactive.
    #[arg(long)]
    pub strategy: Option<String>,
    /// Reference index for --strategy rag (from `geoagent index build`).
    #[arg(long, value_name = "FILE")]
    pub index: Option<PathBuf>,
    /// Answers sampled per model by --strategy ensemble.
    #[arg(long)]
    pub samples: Option<usize>,
    /// Folder holding prompt templates.
    #[arg(long, value_name = "DIR")]
    pub prompts: Option<PathBuf>,
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long, value_name = "PATH")]
    pub chromedriver: Option<PathBuf>,
    #[arg(long, value_name = "PATH")]
    pub chromium: Option<PathBuf>,
    /// Use this WebDriver endpoint instead of starting chromedriver (e.g. a Selenium Grid).
    #[arg(long, value_name = "URL")]
    pub webdriver: Option<String>,
    /// Show the browser window (needs a display).
    #[arg(long)]
    pub headed: bool,
    /// Where session folders are written.
    #[arg(long, value_name = "DIR")]
    pub replay_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:8080.
    #[arg(long)]
    pub bind: Option<String>,
    /// Map the printed challenge link uses.
    #[arg(long)]
    pub map: Option<String>,
    #[arg(long)]
    pub rounds: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
}

fn push<T: ToString>(out: &mut Vec<(&'static str, String)>, key: &'static str, v: &Option<T>) {
    if let Some(v) = v {
        out.push((key, v.to_string()));
    }
}

fn path(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

/// Splits a challenge id `MAP-SEED-ROUNDS` (the map id may itself contain dashes).
pub fn parse_challenge_id(id: &str) -> Result<(String, u64, usize)> {
    let mut parts = id.rsplitn(3, '-');
    let (rounds, seed, map) = (parts.next(), parts.next(), parts.next());
    match (map, seed.and_then(|s| s.parse().ok()), rounds.and_then(|r| r.parse().ok())) {
        (Some(m), Some(s), Some(r)) if !m.is_empty() => Ok((m.to_string(), s, r)),
        _ => anyhow::bail!(
            "--challenge {id}: expected MAP-SEED-ROUNDS such as world-1234-5 (the id `serve` prints)"
        ),
    }
}

impl PlayArgs {
    fn overrides(&self) -> Result<Vec<(&'static str, String)>> {
        let mut o = vec![];
        if let Some(id) = &self.challenge {
            let (map, seed, rounds) = parse_challenge_id(id)?;
            o.push(("game.map", map));
            o.push(("game.seed", seed.to_string()));
            o.push(("game.rounds", rounds.to_string()));
        }
        push(&mut o, "game.rounds", &self.rounds);
        push(&mut o, "game.seed", &self.seed);
        push(&mut o, "game.map", &self.map);
        push(&mut o, "model.name", &self.model);
        push(&mut o, "model.base_url", &self.base_url);
        push(&mut o, "model.temperature", &self.temperature);
        push(&mut o, "capture.headings", &self.headings);
        push(&mut o, "capture.zoom_steps", &self.zoom_steps);
        push(&mut o, "agent.strategy", &self.strategy);
        push(&mut o, "agent.prompts_dir", &path(&self.prompts));
        push(&mut o, "agent.index", &path(&self.index));
        push(&mut o, "agent.samples", &self.samples);
        push(&mut o, "browser.chromedriver", &path(&self.chromedriver));
        push(&mut o, "browser.chromium", &path(&self.chromium));
        push(&mut o, "browser.webdriver_url", &self.webdriver);
        push(&mut o, "replay.dir", &path(&self.replay_dir));
        if self.headed {
            o.push(("browser.headless", "false".into()));
        }
        Ok(o)
    }
}

impl ServeArgs {
    fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut o = vec![];
        push(&mut o, "server.bind", &self.bind);
        push(&mut o, "game.map", &self.map);
        push(&mut o, "game.rounds", &self.rounds);
        push(&mut o, "game.seed", &self.seed);
        o
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let overrides = match &cli.command {
        Command::Play(a) => a.overrides()?,
        Command::Serve(a) => a.overrides(),
        // Reads files only: needs no settings, so a broken config does not block it.
        Command::Stats(a) => return Ok(crate::stats::command::command(a)?),
        Command::Index(a) => a.overrides(),
        Command::Ask(a) => a.overrides(),
    };
    let settings = Settings::load(cli.config.as_deref(), &env, &overrides)?;
    match cli.command {
        Command::Play(_) => play(&settings).await,
        Command::Serve(_) => serve(&settings).await,
        Command::Stats(_) => unreachable!("stats runs before the settings are loaded"),
        Command::Index(a) => Ok(crate::agent::strategy::command::index(&settings, &a).await?),
        Command::Ask(a) => {
            let providers = build_providers(&settings)?;
            Ok(crate::agent::strategy::command::ask(&settings, &a, providers).await?)
        }
    }
}

fn load_maps(settings: &Settings) -> Result<(Vec<Arc<Map>>, Arc<Map>)> {
    let maps: Vec<Arc<Map>> = pack::load_all(&settings.game.maps_dir)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let map = pack::select(&maps, &settings.game.map)?.clone();
    Ok((maps, map))
}

/// The configured model and the ensemble's extra models (`agent.ensemble_models`), or `None`
/// when no model is named (the baseline reasoner plays).
pub fn build_providers(
    settings: &Settings,
) -> Result<Option<crate::agent::strategy::command::Providers>> {
    let Some(choice) = settings.model_choice()? else {
        return Ok(None);
    };
    let make = |model: &str| -> Result<Arc<dyn Provider>> {
        Ok(Arc::new(OpenAiClient::new(OpenAiConfig {
            base_url: choice.base_url.clone(),
            model: model.to_string(),
            api_key: settings.model.api_key.clone(),
            request_timeout: settings.request_timeout(),
            retry: RetryPolicy {
                max_retries: settings.model.max_retries,
                ..RetryPolicy::default()
            },
            image_detail: settings.model.image_detail.clone(),
        })?))
    };
    let main = make(&choice.model)?;
    let extra = settings
        .agent
        .ensemble_models
        .iter()
        .map(|m| make(m.split_once(':').map_or(m.as_str(), |(_, name)| name)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((main, extra)))
}

/// The configured reasoner: an LVLM with the configured strategy when a model is named, else the
/// baseline (said so once).
pub fn build_reasoner(settings: &Settings, map: &Map) -> Result<Arc<dyn Reasoner>> {
    let Some((provider, extra)) = build_providers(settings)? else {
        let hint = if settings.model.api_key.is_some() {
            " (an API key is set: add --model NAME to use it)"
        } else {
            " (add --model NAME and set OPENAI_API_KEY to use an LVLM)"
        };
        eprintln!("No model configured: playing with the built-in baseline reasoner, the map's expected-score optimum{hint}.");
        return Ok(Arc::new(BaselineReasoner::for_map(map)));
    };
    Ok(crate::agent::strategy::command::strategy_reasoner(
        settings,
        provider,
        extra,
        Some(map),
        baseline_point(map),
        Arc::new(crate::agent::strategy::NoHints),
    )?)
}

async fn play(settings: &Settings) -> Result<ExitCode> {
    let (maps, map) = load_maps(settings)?;
    let reasoner = build_reasoner(settings, &map)?;
    let seed = settings
        .game
        .seed
        .unwrap_or_else(|| rand::random::<u32>().into());
    let plan = MatchPlan {
        maps,
        map: map.clone(),
        seed,
        rounds: settings.game.rounds,
        browser: BrowserOptions {
            chromedriver: settings.browser.chromedriver.clone(),
            chromium: settings.browser.chromium.clone(),
            webdriver_url: settings.browser.webdriver_url.clone(),
            headless: settings.browser.headless,
            viewport: (
                settings.browser.viewport_width,
                settings.browser.viewport_height,
            ),
        },
        capture: CaptureOptions {
            headings: settings.capture.headings,
            zoom_steps: settings.capture.zoom_steps,
            jpeg_quality: settings.capture.jpeg_quality,
        },
        replay_root: settings.replay.dir.clone(),
        strategy: settings.agent.strategy.clone(),
    };
    eprintln!(
        "Playing {} round(s) of {}{} with seed {seed} ({}); same rounds again: --seed {seed}",
        plan.rounds,
        map.name,
        if map.synthetic {
            " (synthetic imagery)"
        } else {
            ""
        },
        reasoner.name(),
    );
    let outcome = tokio::select! {
        r = session::play(&plan, reasoner) => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("Interrupted: the browser and server are stopped; finished rounds are in {}.", plan.replay_root.display());
            return Ok(ExitCode::from(130));
        }
    };
    let report = outcome.context("the match stopped; every finished round is in the replay")?;
    println!("{}", report.render());
    Ok(ExitCode::SUCCESS)
}

async fn serve(settings: &Settings) -> Result<ExitCode> {
    let (maps, map) = load_maps(settings)?;
    let listener = tokio::net::TcpListener::bind(&settings.server.bind)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (server.bind / --bind)",
                settings.server.bind
            )
        })?;
    let addr = listener.local_addr()?;
    let seed = settings
        .game
        .seed
        .unwrap_or_else(|| rand::random::<u32>().into());
    println!("Local game on http://{addr}/");
    println!(
        "Challenge {}-{seed}-{}: people play it at http://{addr}/?join&seed={seed}&rounds={}&map={}",
        map.id, settings.game.rounds, settings.game.rounds, map.id
    );
    println!(
        "The agent plays the same rounds with: geoagent play --challenge {}-{seed}-{}",
        map.id, settings.game.rounds
    );
    println!("Press Ctrl-C to stop.");
    let state = server::AppState::new(maps);
    println!(
        "Rounds of people who enter a name are saved as human baselines in {} (compare with `geoagent stats REPLAYS --humans {}`).",
        settings.server.human_results.display(),
        settings.server.human_results.display()
    );
    state.save_human_rounds_to(crate::humans::Store::open(&settings.server.human_results));
    server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_ids_split_from_the_right() {
        assert_eq!(
            parse_challenge_id("world-1234-5").unwrap(),
            ("world".into(), 1234, 5)
        );
        assert_eq!(
            parse_challenge_id("my-alps-map-7-3").unwrap(),
            ("my-alps-map".into(), 7, 3)
        );
        for bad in ["world-5", "world-x-5", "-1-5", "world-1-"] {
            let e = parse_challenge_id(bad).unwrap_err().to_string();
            assert!(e.contains("MAP-SEED-ROUNDS"), "{bad}: {e}");
        }
    }
}
