//! Reasoning strategies from the seed papers, each a [`Reasoner`], chosen by [`StrategyKind`] with
//! [`build`] (the single entry point for `play`, `ask` and `replay rerun`):
//!
//! | name             | idea                                                                    |
//! |------------------|-------------------------------------------------------------------------|
//! | `direct`         | one question, JSON answer only (LLMGeo's zero-shot baseline)             |
//! | `cot`            | clue-by-clue chain of thought, then JSON (ETHAN-style; the default)      |
//! | `coarse-to-fine` | continent/country with probabilities, then the spot inside that country |
//! | `rag`            | Img2Loc: coordinates of the k most and k least similar references       |
//! | `ensemble`       | N samples, the point with the highest expected GeoGuessr score          |
//! | `interactive`    | GaGA: a person adds clues or corrections after each guess; model revises |
//!
//! Every strategy keeps the reasoner contract: it never fails. A model error, an unreadable
//! answer (after one repair turn), a retrieval failure or the round's time limit ends in a guess
//! that says why (the baseline point as a last resort), and every model exchange is recorded.

pub mod coarse_to_fine;
pub mod ensemble;
pub mod interactive;
pub mod rag;

use super::parse::{parse_answer, ParsedAnswer};
use super::prompt::{PromptError, PromptSource, PromptTemplate, PromptVars, ViewInfo};
use super::reasoner::{LvlmReasoner, ReasonerOptions};
use super::{Exchange, Guess, GuessSource, Reasoner};
use crate::environment::Observation;
use crate::geo::LatLon;
use crate::index::embed::Embedder;
use crate::index::ReferenceIndex;
use crate::lvlm::{Message, Part, Provider, Request, Role, Usage};
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;
use tokio::time::Instant;

pub use interactive::{HintSource, NoHints, ReaderHints};

/// Every strategy name, in the order the docs list them.
pub const NAMES: &[&str] = <StrategyKind as strum::VariantNames>::VARIANTS;

/// A reasoning strategy (`--strategy`, `agent.strategy`). Config and flags name it in text; it is
/// checked once, where the text is read, and matched as this type everywhere after.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::VariantArray,
)]
#[serde(try_from = "String", into = "&'static str")]
#[strum(serialize_all = "kebab-case", ascii_case_insensitive)]
pub enum StrategyKind {
    Direct,
    #[default]
    Cot,
    CoarseToFine,
    Rag,
    Ensemble,
    Interactive,
}

impl StrategyKind {
    /// The strategy called `name` (case and surrounding spaces ignored).
    pub fn parse(name: &str) -> Option<Self> {
        crate::text::closed_name(name).ok()
    }

    /// The templates (`cot` is `cot.md`) this strategy's [`build`] reads: what a prompt set of
    /// the user's must hold and what a session records of it.
    pub fn template_names(self) -> &'static [&'static str] {
        match self {
            Self::Direct => &["direct", "repair"],
            Self::Cot | Self::Ensemble => &["cot", "repair"],
            Self::CoarseToFine => &["coarse", "fine", "repair"],
            Self::Rag => &["rag", "repair"],
            Self::Interactive => &["cot", "revise", "repair"],
        }
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl TryFrom<String> for StrategyKind {
    type Error = crate::text::UnknownName;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        crate::text::closed_name(&name)
    }
}

/// Samples the ensemble draws from one model when not told otherwise: enough for two clusters to
/// show, few enough that a round costs five answers.
pub(crate) const DEFAULT_SAMPLES: usize = 5;
/// Most samples per model: each is a full model call with images.
pub(crate) const MAX_SAMPLES: usize = 20;
/// Neighbours retrieved on each side (near and far) by `rag`, as in Img2Loc's default.
pub(crate) const DEFAULT_RAG_K: usize = 10;

/// A strategy that cannot be set up; says which flag, key or file to fix.
#[derive(Debug, Error)]
pub enum StrategyError {
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error("the rag strategy needs a reference index: build one with `geoagent index build MAP... -o FILE` and pass --index FILE (agent.index)")]
    NoIndex,
    #[error("reference index {path} was built from map {map:?}, the map being played: the agent would retrieve the answers. Build an index from other maps (sources: {})", sources.join(", "))]
    UnfairIndex {
        path: PathBuf,
        map: String,
        sources: Vec<String>,
    },
    #[error("reference index {path} was embedded with {index}, but the configured embedder is {configured}; rebuild the index or configure the same embedder (agent.embedding_model)")]
    EmbedderMismatch {
        path: PathBuf,
        index: String,
        configured: String,
    },
    #[error("ensemble samples = {0}; use 1..={MAX_SAMPLES} (--samples / agent.samples)")]
    BadSamples(usize),
    #[error("rag k = {0}; use 1..={max} (agent.rag_k)", max = crate::index::MAX_K)]
    BadK(usize),
}

/// A loaded reference index and the embedder its vectors came from.
#[derive(Clone)]
pub struct Retrieval {
    pub index: Arc<ReferenceIndex>,
    pub embedder: Arc<dyn Embedder>,
    /// Where the index was read from, for messages.
    pub path: PathBuf,
}

impl std::fmt::Debug for Retrieval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retrieval")
            .field("path", &self.path)
            .field("references", &self.index.len())
            .field("embedder", &self.embedder.name())
            .finish()
    }
}

/// What strategies need beyond a provider and prompts. `Default` suits `cot`/`direct`.
#[derive(Clone)]
pub struct StrategyOptions {
    /// The played map's size (km) for expected-score aggregation (the world by default).
    pub map_size_km: f64,
    /// The played map's id, checked against a rag index's sources.
    pub played_map: Option<String>,
    /// Ensemble: samples per model.
    pub samples: usize,
    /// Ensemble: more models, each sampled like the main one.
    pub extra_providers: Vec<Arc<dyn Provider>>,
    /// Rag: the index and embedder.
    pub retrieval: Option<Retrieval>,
    /// Rag: neighbours on each side.
    pub rag_k: usize,
    /// Interactive: where a person's hints come from (none: the first guess stands).
    pub hints: Arc<dyn HintSource>,
}

impl Default for StrategyOptions {
    fn default() -> Self {
        Self {
            map_size_km: crate::game::WORLD_SIZE_KM,
            played_map: None,
            samples: DEFAULT_SAMPLES,
            extra_providers: Vec::new(),
            retrieval: None,
            rag_k: DEFAULT_RAG_K,
            hints: Arc::new(NoHints),
        }
    }
}

impl std::fmt::Debug for StrategyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StrategyOptions")
            .field("map_size_km", &self.map_size_km)
            .field("played_map", &self.played_map)
            .field("samples", &self.samples)
            .field(
                "extra_providers",
                &self
                    .extra_providers
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>(),
            )
            .field("retrieval", &self.retrieval)
            .field("rag_k", &self.rag_k)
            .finish()
    }
}

/// The reasoner for strategy `kind`. `fallback` is the point used when the model fails (the
/// map's baseline); `opts` set tokens, temperature and the round's time limit.
pub fn build(
    kind: StrategyKind,
    provider: Arc<dyn Provider>,
    prompts: &PromptSource,
    fallback: LatLon,
    opts: ReasonerOptions,
    sopts: StrategyOptions,
) -> Result<Arc<dyn Reasoner>, StrategyError> {
    Ok(match kind {
        StrategyKind::Direct | StrategyKind::Cot => Arc::new(LvlmReasoner::new(
            provider,
            prompts.set(kind.as_str())?,
            fallback,
            opts,
        )),
        StrategyKind::CoarseToFine => Arc::new(coarse_to_fine::CoarseToFine::new(
            provider, prompts, fallback, opts,
        )?),
        StrategyKind::Rag => {
            let retrieval = sopts.retrieval.ok_or(StrategyError::NoIndex)?;
            let meta = retrieval.index.meta();
            if let Some(map) = &sopts.played_map {
                if meta.sources.iter().any(|s| s == map) {
                    return Err(StrategyError::UnfairIndex {
                        path: retrieval.path.clone(),
                        map: map.clone(),
                        sources: meta.sources.clone(),
                    });
                }
            }
            if meta.embedder != retrieval.embedder.name() {
                return Err(StrategyError::EmbedderMismatch {
                    path: retrieval.path.clone(),
                    index: meta.embedder.clone(),
                    configured: retrieval.embedder.name(),
                });
            }
            if sopts.rag_k == 0 || sopts.rag_k > crate::index::MAX_K {
                return Err(StrategyError::BadK(sopts.rag_k));
            }
            Arc::new(rag::Rag::new(
                provider,
                prompts,
                fallback,
                opts,
                retrieval,
                sopts.rag_k,
            )?)
        }
        StrategyKind::Ensemble => {
            if sopts.samples == 0 || sopts.samples > MAX_SAMPLES {
                return Err(StrategyError::BadSamples(sopts.samples));
            }
            let mut providers = vec![provider];
            providers.extend(sopts.extra_providers);
            Arc::new(ensemble::Ensemble::new(
                &providers,
                prompts.set("cot")?,
                fallback,
                opts,
                sopts.samples,
                sopts.map_size_km,
            ))
        }
        StrategyKind::Interactive => Arc::new(interactive::Interactive::new(
            provider,
            prompts,
            fallback,
            opts,
            sopts.hints,
        )?),
    })
}

/// The variables every strategy's first prompt starts from.
pub(crate) fn round_vars(obs: &Observation) -> PromptVars {
    PromptVars {
        round: obs.round,
        rounds: obs.rounds,
        map_name: obs.map_name.clone(),
        views: obs.views.iter().map(ViewInfo::from).collect(),
        hints: Vec::new(),
    }
}

/// A text-only turn.
pub(crate) fn turn(role: Role, text: &str) -> Message {
    Message {
        role,
        parts: vec![Part::Text {
            text: text.to_string(),
        }],
    }
}

/// The first user turn: the prompt text, then the views.
pub(crate) fn first_turn(text: String, obs: &Observation) -> Message {
    let mut parts = vec![Part::Text { text }];
    parts.extend(obs.views.iter().map(|v| Part::Image {
        jpeg: v.jpeg.clone(),
    }));
    Message {
        role: Role::User,
        parts,
    }
}

/// One round's conversation with a model: sends requests before the round's deadline, records
/// every exchange and the token usage, and turns the outcome into a [`Guess`].
///
/// Unlike [`LvlmReasoner`]'s repair, the images stay in the first turn for every later turn:
/// these strategies ask the model to look again (inside a country, against a person's hint).
pub(crate) struct Dialogue<'a> {
    provider: &'a dyn Provider,
    opts: &'a ReasonerOptions,
    deadline: Instant,
    pub exchanges: Vec<Exchange>,
    pub usage: Usage,
    pub notes: Vec<String>,
}

impl<'a> Dialogue<'a> {
    pub fn new(provider: &'a dyn Provider, opts: &'a ReasonerOptions) -> Self {
        Self {
            provider,
            opts,
            deadline: Instant::now() + opts.round_timeout,
            exchanges: Vec::new(),
            usage: Usage::default(),
            notes: Vec::new(),
        }
    }

    /// Moves the round's deadline later by `waited`: time spent waiting for a person (the
    /// interactive strategy's hints) is not the model's.
    pub(crate) fn pause(&mut self, waited: std::time::Duration) {
        self.deadline += waited;
    }

    /// A request over `messages` with the reasoner's token and temperature settings.
    pub fn request(&self, system: Option<String>, messages: Vec<Message>) -> Request {
        Request {
            system,
            messages,
            max_tokens: self.opts.max_tokens,
            temperature: self.opts.temperature,
            ..Request::default()
        }
    }

    /// Sends `req` and records it as `purpose`. The model's text, or why there is none.
    pub async fn send(&mut self, purpose: &str, req: &Request) -> Result<String, String> {
        let (ex, outcome) = super::reasoner::send_recorded(
            self.provider,
            purpose,
            req,
            self.deadline,
            self.opts.round_timeout,
        )
        .await;
        self.usage += ex.usage;
        self.exchanges.push(ex);
        outcome
    }

    /// Sends `req` (the conversation so far, its last turn a question) and reads coordinates from
    /// the answer, with one repair turn when they cannot be read. On success the conversation in
    /// `req` ends with the model's readable answer, ready for a follow-up turn.
    pub(crate) async fn ask_position(
        &mut self,
        purpose: &str,
        req: &mut Request,
        repair: &PromptTemplate,
        vars: &PromptVars,
    ) -> Result<ParsedAnswer, String> {
        let answer = self.send(purpose, req).await?;
        req.messages.push(turn(Role::Assistant, &answer));
        let problem = match parse_answer(&answer) {
            Ok(a) => return Ok(a),
            Err(e) => e,
        };
        tracing::info!(%problem, purpose, "answer unreadable, sending a repair prompt");
        let problem_text = problem.to_string();
        let tail: String = {
            let chars: Vec<char> = answer.trim().chars().collect();
            let skip = chars
                .len()
                .saturating_sub(super::reasoner::REPAIR_QUOTE_CHARS);
            chars[skip..].iter().collect()
        };
        let rendered = repair.render(
            vars,
            &[
                ("previous_answer", tail.as_str()),
                ("problem", problem_text.as_str()),
            ],
        );
        req.messages.push(turn(Role::User, &rendered.user));
        let repaired = self
            .send(&format!("{purpose} repair"), req)
            .await
            .map_err(|reason| format!("answer unreadable ({problem}); repair failed: {reason}"))?;
        req.messages.push(turn(Role::Assistant, &repaired));
        match parse_answer(&repaired) {
            Ok(mut a) => {
                a.notes.insert(
                    0,
                    format!("{purpose}: first answer unreadable ({problem}); repaired"),
                );
                Ok(a)
            }
            Err(e) => Err(format!(
                "answer unreadable after a repair prompt: {e} (first answer: {problem})"
            )),
        }
    }

    /// The guess from a readable answer.
    pub(crate) fn model_guess(self, a: ParsedAnswer) -> Guess {
        let mut notes = self.notes;
        notes.extend(a.notes);
        Guess {
            pos: a.pos,
            country: a.country,
            confidence: a.confidence,
            rationale: a.rationale,
            source: GuessSource::Model,
            notes,
            exchanges: self.exchanges,
            usage: self.usage,
            candidates: Vec::new(),
            revisions: Vec::new(),
        }
    }

    /// The fallback guess at `pos`, saying why.
    pub fn fallback(self, pos: LatLon, reason: String) -> Guess {
        tracing::warn!(%reason, provider = %self.provider.name(), "using the fallback guess");
        Guess {
            pos,
            country: None,
            confidence: None,
            rationale: None,
            source: GuessSource::Fallback { reason },
            notes: self.notes,
            exchanges: self.exchanges,
            usage: self.usage,
            candidates: Vec::new(),
            revisions: Vec::new(),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A scripted in-process provider for the strategies' unit tests (the end-to-end tests use
    //! the local OpenAI-compatible server instead).
    use crate::environment::{Observation, View};
    use crate::geo::Bounds;
    use crate::lvlm::{LvlmError, Provider, Request, Response, Usage};
    use std::sync::{Arc, Mutex};

    pub struct Scripted {
        pub replies: Mutex<Vec<Result<String, LvlmError>>>,
        pub seen: Mutex<Vec<Request>>,
    }

    impl Scripted {
        pub fn new(replies: Vec<Result<String, LvlmError>>) -> Arc<Self> {
            Arc::new(Self {
                replies: Mutex::new(replies.into_iter().rev().collect()),
                seen: Mutex::new(Vec::new()),
            })
        }

        pub fn texts(replies: &[&str]) -> Arc<Self> {
            Self::new(replies.iter().map(|r| Ok(r.to_string())).collect())
        }

        pub fn seen(&self) -> Vec<Request> {
            self.seen.lock().expect("lock").clone()
        }
    }

    #[async_trait::async_trait]
    impl Provider for Scripted {
        fn name(&self) -> String {
            "scripted:test".into()
        }
        async fn complete(&self, req: &Request) -> Result<Response, LvlmError> {
            self.seen.lock().expect("lock").push(req.clone());
            let next = self.replies.lock().expect("lock").pop();
            let text = next.unwrap_or_else(|| Err(LvlmError::Empty("script ran out".into())))?;
            Ok(Response {
                text,
                model: "m".into(),
                usage: Usage {
                    input_tokens: 100,
                    output_tokens: 10,
                    ..Usage::default()
                },
                finish_reason: Some("stop".into()),
                attempts: 1,
                ..Response::default()
            })
        }
    }

    /// Two views of a one-colour picture.
    pub fn obs() -> Observation {
        let jpeg = {
            let img = image::RgbImage::from_pixel(8, 8, image::Rgb([90, 140, 200]));
            let mut out = std::io::Cursor::new(Vec::new());
            image::DynamicImage::ImageRgb8(img)
                .write_to(&mut out, image::ImageFormat::Jpeg)
                .expect("encode");
            out.into_inner()
        };
        let view = |heading| View {
            heading,
            heading_ref: crate::environment::HeadingRef::Compass,
            pitch: 0.0,
            fov: 90.0,
            width: 8,
            height: 8,
            jpeg: jpeg.clone(),
        };
        Observation {
            round: 1,
            rounds: 5,
            views: vec![view(0.0), view(180.0)],
            map_view: Bounds::WORLD,
            map_name: "World".into(),
            capture_ms: 5,
        }
    }
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    #[test]
    fn every_name_parses_to_its_kind_and_back() {
        for (name, &kind) in NAMES
            .iter()
            .zip(<StrategyKind as strum::VariantArray>::VARIANTS)
        {
            assert_eq!(StrategyKind::parse(name), Some(kind));
            assert_eq!(kind.to_string(), *name);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("{name:?}"));
            assert_eq!(serde_json::from_str::<StrategyKind>(&json).unwrap(), kind);
        }
        assert_eq!(
            StrategyKind::parse(" Coarse-To-Fine "),
            Some(StrategyKind::CoarseToFine)
        );
        assert_eq!(StrategyKind::default(), StrategyKind::Cot);
    }

    #[test]
    fn an_unknown_name_lists_the_choices() {
        let e = crate::text::closed_name::<StrategyKind>("gut-feeling").unwrap_err();
        assert!(e.to_string().contains("'gut-feeling'"), "{e}");
        assert!(e.to_string().contains("coarse-to-fine"), "{e}");
        let e = serde_json::from_str::<StrategyKind>("\"cott\"").unwrap_err();
        assert!(
            e.to_string().contains("cott") && e.to_string().contains("ensemble"),
            "{e}"
        );
    }
}
