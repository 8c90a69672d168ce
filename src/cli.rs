//! The command line: flags are parsed by clap, turned into config overrides, merged with the
//! other layers once ([`Settings::load`]), and each command runs on the validated settings.

use crate::agent::baseline::{baseline_point, BaselineReasoner};
use crate::agent::Reasoner;
use crate::browser::local_game::CaptureOptions;
use crate::browser::BrowserOptions;
use crate::config::Settings;
use crate::game::{pack, Map};
use crate::lvlm::Provider;
use crate::server;
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
    /// Play many rounds without a browser (direct mode: views rendered from the same panoramas,
    /// scored locally), many at once, into one replay session; resumable.
    Bench(Box<BenchArgs>),
    /// Summarise replays: points and distances with 95% intervals, accuracy bands, country
    /// accuracy, and win rates against human results on the same rounds.
    Stats(crate::stats::command::StatsArgs),
    /// Inspect, re-run and re-score recorded sessions (replays).
    Replay(ReplayArgs),
    /// Write one self-contained HTML report of sessions: tables, charts, a world map, rounds.
    Report(ReportArgs),
    /// Map packs: import real imagery (photos with GPS, CSV datasets, Mapillary), list packs,
    /// show one, validate them.
    Map(crate::game::import::command::MapArgs),
    /// Reference index for the rag strategy: `index build MAP... -o FILE`.
    Index(crate::agent::strategy::command::IndexArgs),
    /// Ask the model where your own pictures were taken; with `--strategy interactive`, add
    /// hints line by line on stdin and the model revises (empty line ends).
    Ask(crate::agent::strategy::command::AskArgs),
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Folder of session folders (replay.dir; default ./replays).
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ReplayCommand,
}

#[derive(Debug, Subcommand)]
pub enum ReplayCommand {
    /// Sessions with date, map, model, strategy, rounds, mean points, tokens/cost and parent.
    List,
    /// One session: every round in short, or with --round N its views, prompt, raw answer,
    /// parsed guess, truth, distance and points. ID: a session id, a unique prefix, or a folder.
    Show {
        id: String,
        #[arg(long, value_name = "N")]
        round: Option<usize>,
    },
    /// Re-reason the recorded views with another model or prompt (no browser), scored against
    /// the recorded truth; writes a new session whose parent is ID.
    Rerun(Box<RerunArgs>),
    /// Recompute distances and points with today's scoring code; prints the differences and
    /// writes them to rescored.json beside the (unchanged) rounds.jsonl.
    Rescore {
        id: String,
        /// Print only; do not write rescored.json.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct RerunArgs {
    pub id: String,
    /// Model as PROVIDER:NAME (openai:gpt-4o, anthropic:..., gemini:..., ollama:...).
    #[arg(long)]
    pub model: String,
    #[command(flatten)]
    pub reasoning: ReasoningArgs,
}

/// How the model is asked: shared by `play`, `bench` and `replay rerun`, so a strategy compared
/// by re-running a replay takes exactly the options it takes when playing.
#[derive(Debug, Args)]
pub struct ReasoningArgs {
    /// API base URL: any OpenAI-compatible server (vLLM, llama.cpp, LM Studio, Ollama's /v1),
    /// or another endpoint of the named provider.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Reasoning effort for reasoning models: minimal, low, medium or high.
    #[arg(long, value_name = "LEVEL")]
    pub reasoning_effort: Option<String>,
    /// Always call the model, ignoring the response cache (answers are still not stored).
    #[arg(long)]
    pub no_cache: bool,
    /// Reasoning strategy: direct, cot, coarse-to-fine, rag, ensemble or interactive.
    #[arg(long, alias = "prompt", value_name = "NAME")]
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
    /// Sampling temperature; absent = the provider's default (reasoning models reject one).
    #[arg(long)]
    pub temperature: Option<f32>,
}

impl ReasoningArgs {
    fn overrides(&self, o: &mut Vec<(&'static str, String)>) {
        push(o, "model.base_url", &self.base_url);
        push(o, "model.reasoning_effort", &self.reasoning_effort);
        if self.no_cache {
            o.push(("model.cache", "false".into()));
        }
        push(o, "model.temperature", &self.temperature);
        push(o, "agent.strategy", &self.strategy);
        push(o, "agent.prompts_dir", &path(&self.prompts));
        push(o, "agent.index", &path(&self.index));
        push(o, "agent.samples", &self.samples);
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Sessions (ids, unique prefixes or folders); all sessions in --dir when none is given.
    pub ids: Vec<String>,
    /// Folder of session folders (replay.dir; default ./replays).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
    /// Human results on the same challenges (as for `stats --humans`), for win rates. Repeatable.
    #[arg(long = "humans", value_name = "FILE")]
    pub humans: Vec<PathBuf>,
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
    /// Model as PROVIDER:NAME: openai:gpt-4o (or just gpt-4o), openai-responses:o4-mini,
    /// anthropic:claude-sonnet-4-0, gemini:gemini-2.5-flash, ollama:qwen2.5vl. Without one the
    /// baseline reasoner plays.
    #[arg(long)]
    pub model: Option<String>,
    /// Views captured per round, evenly spread from north.
    #[arg(long)]
    pub headings: Option<usize>,
    /// Add one zoomed-in view (this many 1.5x zoom steps); 0 = none.
    #[arg(long)]
    pub zoom_steps: Option<u32>,
    #[command(flatten)]
    pub reasoning: ReasoningArgs,
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
    /// Play this many games, each its own challenge (seeds SEED, SEED+1, ...), as one run.
    #[arg(long, value_name = "N", conflicts_with = "resume")]
    pub games: Option<usize>,
    /// Browser sessions at once (a pool reused between games).
    #[arg(long, value_name = "P")]
    pub parallel: Option<usize>,
    /// Continue a run (its id or runs/RUN.json) or a session folder after a crash or Ctrl-C.
    #[arg(long, value_name = "RUN_OR_SESSION", conflicts_with_all = ["challenge", "rounds", "seed", "map"])]
    pub resume: Option<String>,
}

/// Rounds of a bench when `--rounds` is not given.
pub const DEFAULT_BENCH_ROUNDS: usize = 100;
/// Rounds in flight at once when `--concurrency` is not given: enough to hide a few seconds of
/// model latency, few enough for any provider's rate limit.
pub const DEFAULT_BENCH_CONCURRENCY: usize = 16;
/// Most rounds one bench session may have (a typo guard, like `config::MAX_ROUNDS` for play).
pub const MAX_BENCH_ROUNDS: usize = 100_000;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Map id: "world" (built in) or a pack under game.maps_dir.
    #[arg(long)]
    pub map: Option<String>,
    /// Rounds to play (one challenge of this many rounds).
    #[arg(long, conflicts_with = "resume")]
    pub rounds: Option<usize>,
    /// Challenge seed; random when absent.
    #[arg(long, conflicts_with = "resume")]
    pub seed: Option<u64>,
    /// Rounds in flight at once.
    #[arg(long, value_name = "C")]
    pub concurrency: Option<usize>,
    /// Model as PROVIDER:NAME, as for `play`. Without one the baseline reasoner plays.
    #[arg(long)]
    pub model: Option<String>,
    /// Views per round, evenly spread from north.
    #[arg(long)]
    pub headings: Option<usize>,
    /// Add one zoomed-in view (this many 1.5x zoom steps); 0 = none.
    #[arg(long)]
    pub zoom_steps: Option<u32>,
    #[command(flatten)]
    pub reasoning: ReasoningArgs,
    /// Where the session folder is written.
    #[arg(long, value_name = "DIR")]
    pub replay_dir: Option<PathBuf>,
    /// Continue this session (folder or id under the replay dir) where it stopped.
    #[arg(long, value_name = "SESSION")]
    pub resume: Option<String>,
    /// Keep rendered views here between runs (default: ~/.cache/geoagent/views).
    #[arg(long, value_name = "DIR")]
    pub view_cache: Option<PathBuf>,
    /// Render every view afresh, keeping them in memory only.
    #[arg(long, conflicts_with = "view_cache")]
    pub no_view_cache: bool,
}

impl BenchArgs {
    fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut o = vec![];
        push(&mut o, "game.map", &self.map);
        push(&mut o, "model.name", &self.model);
        self.reasoning.overrides(&mut o);
        push(&mut o, "capture.headings", &self.headings);
        push(&mut o, "capture.zoom_steps", &self.zoom_steps);
        push(&mut o, "replay.dir", &path(&self.replay_dir));
        o
    }
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
        self.reasoning.overrides(&mut o);
        push(&mut o, "capture.headings", &self.headings);
        push(&mut o, "capture.zoom_steps", &self.zoom_steps);
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

impl ReplayArgs {
    fn overrides(&self) -> Vec<(&'static str, String)> {
        let mut o = vec![];
        push(&mut o, "replay.dir", &path(&self.dir));
        if let ReplayCommand::Rerun(r) = &self.command {
            o.push(("model.name", r.model.clone()));
            r.reasoning.overrides(&mut o);
        }
        o
    }
}

/// `geoagent replay ...`.
async fn replay_command(settings: &Settings, cmd: &ReplayCommand) -> Result<ExitCode> {
    use crate::replay::{catalog, rerun, rescore, Replay};
    let root = &settings.replay.dir;
    match cmd {
        ReplayCommand::List => {
            let rows = catalog::list(root)?;
            println!("{}", catalog::render_list(&rows, root));
        }
        ReplayCommand::Show { id, round } => {
            let replay = Replay::open(&catalog::resolve(root, id)?)?;
            println!("{}", catalog::render_show(&replay, *round)?);
        }
        ReplayCommand::Rescore { id, dry_run } => {
            let replay = Replay::open(&catalog::resolve(root, id)?)?;
            let r = rescore::rescore(&replay);
            println!("{}", r.render());
            if !dry_run {
                let path = rescore::write(&replay.dir, &r)?;
                println!("Written to {} (rounds.jsonl is unchanged)", path.display());
            }
        }
        ReplayCommand::Rerun(args) => {
            let source = Replay::open(&catalog::resolve(root, &args.id)?)?;
            let map = rerun_map(settings, &source.manifest)?;
            let reasoner = build_reasoner(settings, &map)?;
            eprintln!(
                "Re-running {} round(s) of session {} ({}) with {} ({})",
                source.rounds.len(),
                source.manifest.session_id,
                source.manifest.reasoner,
                reasoner.name(),
                settings.agent.strategy
            );
            let report = rerun::rerun(
                &source,
                reasoner.as_ref(),
                &settings.agent.strategy,
                map.view,
                root,
            )
            .await?;
            println!("{}", report.render());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The recorded session's map (for the guess map's area and the fallback point); when its pack
/// is not here, a map with the recorded facts, the whole world as view and no locations.
fn rerun_map(settings: &Settings, m: &crate::replay::Manifest) -> Result<Map> {
    let maps = pack::load_all(&settings.game.maps_dir)?;
    if let Some(found) = maps.into_iter().find(|x| x.id == m.map.id) {
        return Ok(found);
    }
    eprintln!(
        "Map '{}' is not under {} (game.maps_dir): the model is told the guess map shows the whole world, and a failed answer falls back to the map's centre.",
        m.map.id,
        settings.game.maps_dir.display()
    );
    Ok(Map {
        id: m.map.id.clone(),
        name: m.map.name.clone(),
        synthetic: m.map.synthetic,
        size_km: m.map.size_km,
        view: crate::geo::Bounds::WORLD,
        attribution: None,
        locations: vec![],
    })
}

/// `geoagent report`.
fn report_command(settings: &Settings, args: &ReportArgs) -> Result<ExitCode> {
    use crate::replay::catalog;
    let root = &settings.replay.dir;
    let dirs = if args.ids.is_empty() {
        catalog::session_dirs(root)?
    } else {
        args.ids
            .iter()
            .map(|id| catalog::resolve(root, id))
            .collect::<Result<Vec<_>, _>>()?
    };
    let report = crate::report::build(&dirs, &args.humans)?;
    crate::report::write(&args.output, &report)?;
    println!(
        "Report of {} session(s), {} round(s): {}",
        report.sessions,
        report.rounds,
        args.output.display()
    );
    for n in &report.notes {
        eprintln!("note: {n}");
    }
    Ok(ExitCode::SUCCESS)
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
        Command::Bench(a) => a.overrides(),
        // Reads files only: needs no settings, so a broken config does not block it.
        Command::Stats(a) => return Ok(crate::stats::command::command(a)?),
        Command::Replay(a) => a.overrides(),
        Command::Report(a) => {
            let mut o = vec![];
            push(&mut o, "replay.dir", &path(&a.dir));
            o
        }
        Command::Map(_) => Vec::new(),
        Command::Index(a) => a.overrides(),
        Command::Ask(a) => a.overrides(),
    };
    let settings = Settings::load(cli.config.as_deref(), &env, &overrides)?;
    match cli.command {
        Command::Play(a) => play(&settings, &a).await,
        Command::Bench(a) => bench(&settings, &a).await,
        Command::Serve(_) => serve(&settings).await,
        Command::Stats(_) => unreachable!("stats runs before the settings are loaded"),
        Command::Replay(a) => replay_command(&settings, &a.command).await,
        Command::Report(a) => report_command(&settings, &a),
        Command::Map(a) => {
            Ok(crate::game::import::command::run(&a, &settings.game.maps_dir).await?)
        }
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

/// The configured model and the ensemble's extra models (`agent.ensemble_models`, each
/// `provider:name` or a name for the main provider), or `None` when no model is named (the
/// baseline reasoner plays).
pub fn build_providers(
    settings: &Settings,
) -> Result<Option<crate::agent::strategy::command::Providers>> {
    let Some(spec) = settings.provider_spec()? else {
        return Ok(None);
    };
    let main = crate::lvlm::build_provider(&spec)?;
    let extra = settings
        .agent
        .ensemble_models
        .iter()
        .map(|m| -> Result<Arc<dyn Provider>> {
            // Each extra model is resolved exactly as `model.name` would be (provider prefix,
            // its key and base URL), so an ensemble may mix providers.
            let mut one = settings.clone();
            one.model.name = Some(m.clone());
            let spec = one
                .provider_spec()?
                .with_context(|| format!("agent.ensemble_models: `{m}` names no model"))?;
            Ok(crate::lvlm::build_provider(&spec)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((main, extra)))
}

/// The configured reasoner: an LVLM with the configured strategy when a model is named, else the
/// baseline (said so once).
pub fn build_reasoner(settings: &Settings, map: &Map) -> Result<Arc<dyn Reasoner>> {
    let Some((provider, extra)) = build_providers(settings)? else {
        let hint = if settings.has_any_api_key() {
            " (an API key is set: add --model NAME to use it)"
        } else {
            " (add --model PROVIDER:NAME and set its API key, e.g. OPENAI_API_KEY, to use an LVLM)"
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

/// The match plan the settings describe, for `map` and `seed`.
fn match_plan(settings: &Settings, maps: Vec<Arc<Map>>, map: Arc<Map>, seed: u64) -> MatchPlan {
    MatchPlan {
        maps,
        map,
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
    }
}

async fn play(settings: &Settings, args: &PlayArgs) -> Result<ExitCode> {
    if let Some(target) = &args.resume {
        return play_resume(settings, args, target).await;
    }
    let games = args.games.unwrap_or(1);
    let parallel = args.parallel.unwrap_or(1);
    anyhow::ensure!(games >= 1, "--games must be at least 1");
    anyhow::ensure!(parallel >= 1, "--parallel must be at least 1");
    let (maps, map) = load_maps(settings)?;
    let reasoner = build_reasoner(settings, &map)?;
    let seed = settings
        .game
        .seed
        .unwrap_or_else(|| rand::random::<u32>().into());
    let plan = match_plan(settings, maps, map.clone(), seed);
    if games > 1 || parallel > 1 {
        let run = crate::fleet::games::RunFile::new(&plan, games, parallel, &reasoner.name());
        let path = run.path_in(&settings.replay.dir);
        eprintln!(
            "Playing {games} game(s) of {} round(s) of {}, seeds {seed}.., {parallel} browser(s) at once ({}); resume with --resume {}",
            plan.rounds, map.name, reasoner.name(), run.run_id
        );
        return play_run(run, &path, &plan, parallel, reasoner).await;
    }
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
        stop = session::stop_requested() => {
            eprintln!("Interrupted: the browser and server are stopped; finished rounds are in {}.", plan.replay_root.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    let report = outcome.context("the match stopped; every finished round is in the replay")?;
    println!("{}", report.render());
    Ok(ExitCode::SUCCESS)
}

/// A run folder argument: a path as given, else a name under the replay dir (or its `runs/`).
fn locate(settings: &Settings, target: &str) -> PathBuf {
    let direct = PathBuf::from(target);
    if direct.exists() {
        return direct;
    }
    let run = settings
        .replay
        .dir
        .join(crate::fleet::games::RUNS_DIR)
        .join(format!("{target}.json"));
    if run.is_file() {
        return run;
    }
    settings.replay.dir.join(target)
}

async fn play_run(
    run: crate::fleet::games::RunFile,
    path: &std::path::Path,
    plan: &MatchPlan,
    parallel: usize,
    reasoner: Arc<dyn Reasoner>,
) -> Result<ExitCode> {
    let label = run.run_id.clone();
    let fut = crate::fleet::games::run(run, path, plan, parallel, reasoner, |total, done| {
        crate::fleet::progress::Progress::new(&label, total, done)
    });
    let (run, _pool) = tokio::select! {
        r = fut => r.with_context(|| format!("the run stopped; finished rounds are kept; continue with --resume {}", path.display()))?,
        stop = session::stop_requested() => {
            eprintln!("Interrupted: browsers and server are stopped; continue with: geoagent play --resume {}", path.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    println!("{}", run.render(path));
    Ok(if run.failed().next().is_some() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn play_resume(settings: &Settings, args: &PlayArgs, target: &str) -> Result<ExitCode> {
    let found = locate(settings, target);
    let (maps, _) = load_maps(settings)?;
    if found.is_file() {
        let run = crate::fleet::games::RunFile::load(&found)?;
        let map = pack::select(&maps, &run.map)?.clone();
        let mut s = settings.clone();
        s.game.rounds = run.rounds;
        s.agent.strategy = run.strategy.clone();
        let reasoner = build_reasoner(&s, &map)?;
        anyhow::ensure!(
            reasoner.name() == run.reasoner,
            "run {} was played by {}, not {}: resume it with the same --model",
            run.run_id,
            run.reasoner,
            reasoner.name()
        );
        let parallel = args.parallel.unwrap_or(run.parallel).max(1);
        let plan = match_plan(&s, maps, map, run.base_seed);
        eprintln!("Resuming run {} ({} games)", run.run_id, run.games.len());
        return play_run(run, &found, &plan, parallel, reasoner).await;
    }
    let replay = crate::replay::Replay::open(&found).with_context(|| {
        format!("--resume {target}: not a run file (runs/RUN.json) nor a session folder")
    })?;
    let m = replay.manifest;
    anyhow::ensure!(
        m.environment == "local-game",
        "--resume {target}: a `{}` session; continue it with `geoagent bench --resume`",
        m.environment
    );
    let map = pack::select(&maps, &m.map.id)?.clone();
    let mut s = settings.clone();
    s.game.rounds = m.challenge.rounds;
    s.agent.strategy = m.strategy.clone();
    s.capture.headings = m.capture.headings;
    s.capture.zoom_steps = m.capture.zoom_steps;
    s.capture.jpeg_quality = m.capture.jpeg_quality;
    let reasoner = build_reasoner(&s, &map)?;
    let plan = match_plan(&s, maps, map, m.challenge.seed);
    eprintln!(
        "Resuming {} ({} of {} rounds recorded)",
        found.display(),
        replay.rounds.len(),
        m.challenge.rounds
    );
    let outcome = tokio::select! {
        r = session::play_recorded(&plan, reasoner, session::Record::Resume(found.clone())) => r,
        stop = session::stop_requested() => {
            eprintln!("Interrupted; continue with: geoagent play --resume {}", found.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    let report = outcome.context("the match stopped; every finished round is in the replay")?;
    println!("{}", report.render());
    Ok(ExitCode::SUCCESS)
}

async fn bench(settings: &Settings, args: &BenchArgs) -> Result<ExitCode> {
    use crate::fleet::bench::{self as fb, BenchPlan};
    let (maps, _) = load_maps(settings)?;
    let mut s = settings.clone();
    let resume = match &args.resume {
        Some(t) => Some(fb::ResumeInfo::read(&locate(settings, t))?),
        None => None,
    };
    let (map_id, seed, rounds) = match &resume {
        Some(r) => {
            let m = &r.manifest;
            s.agent.strategy = m.strategy.clone();
            s.capture.headings = m.capture.headings;
            s.capture.zoom_steps = m.capture.zoom_steps;
            s.capture.jpeg_quality = m.capture.jpeg_quality;
            (m.map.id.clone(), m.challenge.seed, m.challenge.rounds)
        }
        None => (
            settings.game.map.clone(),
            settings
                .game
                .seed
                .unwrap_or_else(|| rand::random::<u32>().into()),
            args.rounds.unwrap_or(DEFAULT_BENCH_ROUNDS),
        ),
    };
    anyhow::ensure!(
        (1..=MAX_BENCH_ROUNDS).contains(&rounds),
        "--rounds {rounds}: must be between 1 and {MAX_BENCH_ROUNDS}"
    );
    let concurrency = args.concurrency.unwrap_or(DEFAULT_BENCH_CONCURRENCY);
    anyhow::ensure!(concurrency >= 1, "--concurrency must be at least 1");
    let map = pack::select(&maps, &map_id)?.clone();
    let reasoner = build_reasoner(&s, &map)?;
    let plan = BenchPlan {
        map: map.clone(),
        seed,
        rounds,
        concurrency,
        capture: CaptureOptions {
            headings: s.capture.headings,
            zoom_steps: s.capture.zoom_steps,
            jpeg_quality: s.capture.jpeg_quality,
        },
        replay_root: s.replay.dir.clone(),
        strategy: s.agent.strategy.clone(),
        view_cache: if args.no_view_cache {
            None
        } else {
            args.view_cache
                .clone()
                .or_else(crate::environment::direct::ViewCache::default_disk_dir)
        },
    };
    eprintln!(
        "Bench: {rounds} rounds of {} (direct mode), seed {seed}, {concurrency} at once ({})",
        map.name,
        reasoner.name()
    );
    let resume_dir = resume.as_ref().map(|r| r.dir.clone());
    let fut = fb::run(&plan, reasoner, resume_dir.as_deref(), |total, done| {
        crate::fleet::progress::Progress::new("bench", total, done)
    });
    let report = tokio::select! {
        r = fut => r.context("the bench stopped; recorded rounds are kept (continue with --resume SESSION)")?,
        stop = session::stop_requested() => {
            eprintln!("Interrupted; recorded rounds are kept: continue with geoagent bench --resume SESSION (the folder under {})", plan.replay_root.display());
            return Ok(ExitCode::from(stop.exit_code()));
        }
    };
    println!(
        "{} rounds recorded ({} played now) in {:.1} s, mean {:.0} points, challenge {}\nReplay: {}",
        report.rounds_recorded,
        report.rounds_played,
        report.wall.as_secs_f64(),
        report.mean_points,
        report.challenge_id,
        report.session_dir.display()
    );
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
    state.on_round_completed(human_round_sink(crate::humans::Store::open(
        &settings.server.human_results,
    )));
    println!(
        "Finished replays in {} are viewable at http://{addr}/replays (replay.dir).",
        settings.replay.dir.display()
    );
    server::serve_with_replays(listener, state, settings.replay.dir.clone(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Stores every round finished by a player who gave a name as a human baseline for that
/// challenge. Games without a name (the agent's, anonymous people) are not saved. A failed save
/// is logged, never turned into a failed guess.
pub fn human_round_sink(store: crate::humans::Store) -> server::RoundSink {
    Arc::new(move |c: &server::CompletedRound| {
        let Some(player) = c.player.clone() else {
            return;
        };
        let row = crate::humans::HumanRound {
            source: crate::humans::LOCAL_GAME_SOURCE.into(),
            challenge_id: c.challenge_id.clone(),
            round: c.round,
            location_id: Some(c.location_id.clone()),
            truth: Some(c.truth),
            player,
            points: c.points,
            distance_km: Some(c.distance_km),
            time_s: None,
        };
        if let Err(e) = store.append(&row) {
            tracing::warn!(error = %e, "could not save a human result");
        }
    })
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
