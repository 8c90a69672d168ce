//! Flags several commands share, each defined once and flattened into its commands, so a
//! strategy compared by `replay rerun` or `bench` takes exactly the options it takes in `play`.

use clap::Args;
use std::path::PathBuf;

/// Config overrides as `(key, value)`, the shape [`crate::config::Settings::load`] takes.
pub(crate) type Overrides = Vec<(&'static str, String)>;

pub(crate) fn push<T: ToString>(out: &mut Overrides, key: &'static str, v: &Option<T>) {
    if let Some(v) = v {
        out.push((key, v.to_string()));
    }
}

/// clap's `ValueEnum` for the domain's closed sets, from the names strum gives them, so the
/// domain types carry no clap and a flag takes exactly the names config files take; their
/// flags parse with [`ClosedName`], so a flag also reads a name as config does (spaces around it
/// ignored).
macro_rules! value_enum {
    ($($t:ty),*) => {$(
        impl clap::ValueEnum for $t {
            fn value_variants<'a>() -> &'a [Self] {
                <$t as strum::VariantArray>::VARIANTS
            }
            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(clap::builder::PossibleValue::new(<&'static str>::from(*self)))
            }
        }
    )*};
}
value_enum!(
    crate::agent::strategy::StrategyKind,
    crate::lvlm::ReasoningEffort,
    crate::browser::geoguessr::settings::GuessVia
);

/// clap's enum parser on the name with the spaces around it taken off (`text::closed_name`
/// does the same for config files and environment variables), the choices still listed by
/// `--help` and in the error.
#[derive(Clone)]
pub struct ClosedName<E>(std::marker::PhantomData<E>);

impl<E> ClosedName<E> {
    pub fn new() -> Self {
        ClosedName(std::marker::PhantomData)
    }
}

impl<E> Default for ClosedName<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: clap::ValueEnum + Clone + Send + Sync + 'static> clap::builder::TypedValueParser
    for ClosedName<E>
{
    type Value = E;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<E, clap::Error> {
        let trimmed = value
            .to_str()
            .map_or(value, |v| std::ffi::OsStr::new(v.trim()));
        clap::builder::EnumValueParser::<E>::new().parse_ref(cmd, arg, trimmed)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            E::value_variants()
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value),
        ))
    }
}

pub(crate) fn path(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

/// How the model is asked: shared by `play`, `bench`, `replay rerun` and `ask`.
#[derive(Debug, Args)]
pub struct ReasoningArgs {
    /// API base URL: any OpenAI-compatible server (vLLM, llama.cpp, LM Studio, Ollama's /v1),
    /// or another endpoint of the named provider.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Reasoning effort for reasoning models.
    #[arg(long, value_name = "LEVEL", ignore_case = true, value_parser = ClosedName::<crate::lvlm::ReasoningEffort>::new())]
    pub reasoning_effort: Option<crate::lvlm::ReasoningEffort>,
    /// Always call the model, ignoring the response cache (answers are still not stored).
    #[arg(long)]
    pub no_cache: bool,
    /// Reasoning strategy.
    #[arg(long, alias = "prompt", value_name = "NAME", ignore_case = true, value_parser = ClosedName::<crate::agent::strategy::StrategyKind>::new())]
    pub strategy: Option<crate::agent::strategy::StrategyKind>,
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
    pub(crate) fn overrides(&self, o: &mut Overrides) {
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

/// What is played, by whom, seen how, recorded where: shared by `play` and `bench` (both have a
/// `--resume`, which takes the map, rounds and seed from the record instead).
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Map id: "world" (built in) or a pack under game.maps_dir.
    #[arg(long, conflicts_with = "resume")]
    pub map: Option<String>,
    /// Rounds to play (one challenge of this many rounds).
    #[arg(long, conflicts_with = "resume")]
    pub rounds: Option<usize>,
    /// Challenge seed (same seed, same rounds); random when absent.
    #[arg(long, conflicts_with = "resume")]
    pub seed: Option<u64>,
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
    /// Where session folders are written.
    #[arg(long, value_name = "DIR")]
    pub replay_dir: Option<PathBuf>,
}

impl MatchArgs {
    /// Overrides of everything but `--rounds`, whose limit depends on the command.
    pub(crate) fn overrides(&self, o: &mut Overrides) {
        push(o, "game.map", &self.map);
        push(o, "game.seed", &self.seed);
        push(o, "model.name", &self.model);
        self.reasoning.overrides(o);
        push(o, "capture.headings", &self.headings);
        push(o, "capture.zoom_steps", &self.zoom_steps);
        push(o, "replay.dir", &path(&self.replay_dir));
    }
}

/// Checks a challenge's round count given as `flag` against the game's limit
/// ([`crate::game::MAX_ROUNDS`]), naming the flag and the way to play more.
pub(crate) fn check_challenge_rounds(flag: &str, rounds: Option<usize>) -> anyhow::Result<()> {
    let max = crate::game::MAX_ROUNDS;
    match rounds {
        Some(r) if !(1..=max).contains(&r) => anyhow::bail!(
            "{flag} {r}: a challenge of the local game has 1 to {max} rounds; `geoagent bench --rounds N` plays more rounds in direct mode"
        ),
        _ => Ok(()),
    }
}
