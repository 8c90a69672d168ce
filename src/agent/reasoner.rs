//! The model-backed reasoner: renders the round's prompt, sends it with the view images to a
//! [`Provider`], parses the answer, asks once for a repair when it cannot be read, and falls back
//! to the baseline point (saying why) when the model fails, so a round is never lost.
//!
//! Every request is kept as an [`Exchange`] for the replay, whether it succeeded or not.

use super::parse::{parse_answer, ParseError, ParsedAnswer};
use super::prompt::{PromptSet, PromptVars, ViewInfo};
use super::{Exchange, Guess, GuessSource, Reasoner};
use crate::environment::Observation;
use crate::geo::LatLon;
use crate::lvlm::{LvlmError, Message, Part, Provider, Request, Role, Usage};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Room for the clue-by-clue reasoning (eight short paragraphs) plus the JSON answer; chain of
/// thought answers from current vision models run 400-1000 tokens.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 1500;
/// `None` sends no temperature, leaving the provider's default: reasoning models (o-series,
/// GPT-5) reject the field, and a fixed low value would silently differ between providers.
pub(crate) const DEFAULT_TEMPERATURE: Option<f32> = None;
/// A whole round (answer, retries, repair). Above the client's per-request timeout so one slow
/// call can still be retried, and short enough that a stuck provider cannot stall a match.
pub(crate) const DEFAULT_ROUND_TIMEOUT: Duration = Duration::from_secs(300);
/// A previous answer shorter than this cannot hold a description of the scene, so the repair
/// turn attaches the images again (see [`LvlmReasoner`]).
pub(crate) const REPAIR_RESEND_IMAGES_BELOW_CHARS: usize = 200;
/// How much of the unreadable answer the repair prompt may quote in `{{previous_answer}}`
/// (the full answer is already in the conversation).
pub(crate) const REPAIR_QUOTE_CHARS: usize = 400;

/// How the reasoner calls the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ReasonerOptions {
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// Limit for the whole round; past it the fallback point is used.
    pub round_timeout: Duration,
}

impl Default for ReasonerOptions {
    fn default() -> Self {
        Self {
            max_tokens: DEFAULT_MAX_TOKENS,
            temperature: DEFAULT_TEMPERATURE,
            round_timeout: DEFAULT_ROUND_TIMEOUT,
        }
    }
}

/// A [`Reasoner`] backed by a vision-language model.
///
/// Repair turns: when the first answer cannot be parsed, the conversation is replayed as
/// *original prompt text, the model's answer, the repair prompt*. The images are **not** sent
/// again when the answer is substantial: the model's own clue-by-clue text already carries what it
/// saw, the repair only asks it to restate its conclusion as JSON, and images are most of a
/// request's tokens and upload time. When the answer is too short to carry any reasoning (an
/// empty reply or a bare refusal, under [`REPAIR_RESEND_IMAGES_BELOW_CHARS`]) the images are
/// attached again, since otherwise the model would have nothing to base a guess on.
pub struct LvlmReasoner {
    provider: Arc<dyn Provider>,
    prompts: PromptSet,
    fallback: LatLon,
    opts: ReasonerOptions,
}

impl std::fmt::Debug for LvlmReasoner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LvlmReasoner")
            .field("provider", &self.provider.name())
            .field("fallback", &self.fallback)
            .field("opts", &self.opts)
            .finish()
    }
}

/// What a round has produced so far.
struct RoundLog {
    exchanges: Vec<Exchange>,
    usage: Usage,
}

impl LvlmReasoner {
    pub fn new(
        provider: Arc<dyn Provider>,
        prompts: PromptSet,
        fallback: LatLon,
        opts: ReasonerOptions,
    ) -> Self {
        Self {
            provider,
            prompts,
            fallback,
            opts,
        }
    }

    /// Sends one request before `deadline` and records it. Returns the model's text, or why not.
    async fn exchange(
        &self,
        purpose: &str,
        req: &Request,
        deadline: Instant,
        log: &mut RoundLog,
    ) -> Result<String, String> {
        let (ex, outcome) = send_recorded(
            self.provider.as_ref(),
            purpose,
            req,
            deadline,
            self.opts.round_timeout,
        )
        .await;
        log.usage += ex.usage;
        log.exchanges.push(ex);
        outcome
    }

    fn fallback(&self, reason: String, log: RoundLog) -> Guess {
        tracing::warn!(%reason, provider = %self.provider.name(), "using the fallback guess");
        Guess {
            pos: self.fallback,
            country: None,
            confidence: None,
            rationale: None,
            source: GuessSource::Fallback { reason },
            notes: Vec::new(),
            exchanges: log.exchanges,
            usage: log.usage,
            candidates: Vec::new(),
            revisions: Vec::new(),
        }
    }

    fn model_guess(a: ParsedAnswer, log: RoundLog, repaired: Option<&ParseError>) -> Guess {
        let mut notes = a.notes;
        if let Some(e) = repaired {
            notes.insert(0, format!("first answer unreadable ({e}); repaired"));
        }
        Guess {
            pos: a.pos,
            country: a.country,
            confidence: a.confidence,
            rationale: a.rationale,
            source: GuessSource::Model,
            notes,
            exchanges: log.exchanges,
            usage: log.usage,
            candidates: Vec::new(),
            revisions: Vec::new(),
        }
    }
}

/// Sends one request before `deadline` and records it as an [`Exchange`] (prompt, images, raw
/// answer or error, usage, cost, cache hit, bytes sent, visible reasoning). Returns the model's
/// text, or why there is none. Every strategy's model call goes through here, so every replay
/// records calls the same way.
pub(crate) async fn send_recorded(
    provider: &dyn Provider,
    purpose: &str,
    req: &Request,
    deadline: Instant,
    round_timeout: Duration,
) -> (Exchange, Result<String, String>) {
    let last = req.messages.last();
    let mut ex = Exchange {
        purpose: purpose.to_string(),
        system: req.system.clone(),
        prompt: last.map(Message::text).unwrap_or_default(),
        images: last.map_or(0, |m| {
            m.parts
                .iter()
                .filter(|p| matches!(p, Part::Image { .. }))
                .count()
        }),
        ..Exchange::default()
    };
    let started = Instant::now();
    let result = tokio::time::timeout_at(deadline, provider.complete(req)).await;
    ex.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let outcome = match result {
        Ok(Ok(resp)) => {
            ex.usage = resp.usage;
            ex.attempts = resp.attempts;
            ex.reasoning = resp.reasoning;
            ex.cached = resp.cached;
            ex.request_bytes = resp.request_bytes;
            ex.image_bytes = resp.image_bytes;
            ex.raw = Some(resp.text.clone());
            Ok(resp.text)
        }
        Ok(Err(e)) => {
            ex.attempts = match &e {
                LvlmError::Exhausted { attempts, .. } => *attempts,
                _ => 1,
            };
            ex.auth_failed = e.is_auth();
            Err(format!("model call failed: {e}"))
        }
        Err(_) => Err(format!(
            "the round's time limit of {round_timeout:?} ran out waiting for the model"
        )),
    };
    if let Err(msg) = &outcome {
        ex.error = Some(msg.clone());
    }
    (ex, outcome)
}

/// The last `limit` characters of `s` (answers end with their conclusion).
fn tail(s: &str, limit: usize) -> String {
    let count = s.chars().count();
    if count <= limit {
        return s.to_string();
    }
    let skip = count - limit;
    format!("…{}", s.chars().skip(skip).collect::<String>())
}

#[async_trait::async_trait]
impl Reasoner for LvlmReasoner {
    fn name(&self) -> String {
        self.provider.name()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        let deadline = Instant::now() + self.opts.round_timeout;
        let mut log = RoundLog {
            exchanges: Vec::new(),
            usage: Usage::default(),
        };
        let vars = PromptVars {
            round: obs.round,
            rounds: obs.rounds,
            map_name: obs.map_name.clone(),
            views: obs.views.iter().map(ViewInfo::from).collect(),
            hints: Vec::new(),
        };
        let rendered = self.prompts.answer.render(&vars, &[]);
        let images: Vec<Part> = obs
            .views
            .iter()
            .map(|v| Part::Image {
                jpeg: v.jpeg.clone(),
            })
            .collect();
        let mut parts = vec![Part::Text {
            text: rendered.user.clone(),
        }];
        parts.extend(images.iter().cloned());
        let mut req = Request {
            system: rendered.system.clone(),
            messages: vec![Message {
                role: Role::User,
                parts,
            }],
            max_tokens: self.opts.max_tokens,
            temperature: self.opts.temperature,
            ..Request::default()
        };

        let answer = match self.exchange("answer", &req, deadline, &mut log).await {
            Ok(text) => text,
            Err(reason) => return self.fallback(reason, log),
        };
        let problem = match parse_answer(&answer) {
            Ok(a) => return Self::model_guess(a, log, None),
            Err(e) => e,
        };
        tracing::info!(%problem, "answer unreadable, sending a repair prompt");

        let quoted = tail(answer.trim(), REPAIR_QUOTE_CHARS);
        let problem_text = problem.to_string();
        let repair = self.prompts.repair.render(
            &vars,
            &[
                ("previous_answer", quoted.as_str()),
                ("problem", problem_text.as_str()),
            ],
        );
        let mut repair_parts = vec![Part::Text { text: repair.user }];
        if answer.trim().chars().count() < REPAIR_RESEND_IMAGES_BELOW_CHARS {
            repair_parts.extend(images);
        }
        // The first user turn keeps only its text: the images are not sent twice.
        req.messages[0]
            .parts
            .retain(|p| matches!(p, Part::Text { .. }));
        req.messages.push(Message {
            role: Role::Assistant,
            parts: vec![Part::Text { text: answer }],
        });
        req.messages.push(Message {
            role: Role::User,
            parts: repair_parts,
        });
        if repair.system.is_some() {
            req.system = repair.system;
        }
        let repaired = match self.exchange("repair", &req, deadline, &mut log).await {
            Ok(text) => text,
            Err(reason) => {
                return self.fallback(
                    format!("first answer unreadable ({problem}); repair failed: {reason}"),
                    log,
                )
            }
        };
        match parse_answer(&repaired) {
            Ok(a) => Self::model_guess(a, log, Some(&problem)),
            Err(e) => self.fallback(
                format!("answer unreadable after a repair prompt: {e} (first answer: {problem})"),
                log,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::View;
    use crate::geo::Bounds;
    use crate::lvlm::Response;
    use std::sync::Mutex;

    /// A provider answering from a script and recording requests.
    struct Scripted {
        replies: Mutex<Vec<Result<String, LvlmError>>>,
        seen: Mutex<Vec<Request>>,
        delay: Duration,
    }

    impl Scripted {
        fn new(replies: Vec<Result<String, LvlmError>>) -> Arc<Self> {
            Arc::new(Self {
                replies: Mutex::new(replies.into_iter().rev().collect()),
                seen: Mutex::new(Vec::new()),
                delay: Duration::ZERO,
            })
        }
    }

    #[async_trait::async_trait]
    impl Provider for Scripted {
        fn name(&self) -> String {
            "scripted:test".into()
        }
        async fn complete(&self, req: &Request) -> Result<Response, LvlmError> {
            self.seen.lock().expect("lock").push(req.clone());
            tokio::time::sleep(self.delay).await;
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
                reasoning: Some("thought about it".into()),
                ..Response::default()
            })
        }
    }

    fn obs() -> Observation {
        let view = |heading| View {
            heading,
            heading_ref: crate::environment::HeadingRef::Compass,
            pitch: 0.0,
            fov: 90.0,
            width: 2,
            height: 2,
            jpeg: vec![0xff, 0xd8, 0xff, 0xd9],
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

    fn reasoner(p: Arc<Scripted>, opts: ReasonerOptions) -> LvlmReasoner {
        LvlmReasoner::new(
            p,
            PromptSet::builtin("cot").expect("builtin prompts"),
            LatLon::new(10.0, 20.0).expect("valid"),
            opts,
        )
    }

    fn image_count(m: &Message) -> usize {
        m.parts
            .iter()
            .filter(|p| matches!(p, Part::Image { .. }))
            .count()
    }

    #[tokio::test]
    async fn good_answer_sends_text_then_images() {
        let p = Scripted::new(vec![Ok(
            r#"{"lat": 1.5, "lon": 2.5, "country": "XX"}"#.into()
        )]);
        let g = reasoner(p.clone(), ReasonerOptions::default())
            .guess(&obs())
            .await;
        assert_eq!(g.source, GuessSource::Model);
        assert_eq!((g.pos.lat, g.pos.lon), (1.5, 2.5));
        assert_eq!(g.exchanges.len(), 1);
        assert_eq!(g.exchanges[0].images, 2);
        assert_eq!(
            g.exchanges[0].reasoning.as_deref(),
            Some("thought about it"),
            "visible reasoning lands in the replay"
        );
        assert!(g.exchanges[0]
            .prompt
            .contains("View 2: heading 180° (south)"));
        assert_eq!(g.usage.input_tokens, 100);
        let seen = p.seen.lock().expect("lock");
        let parts = &seen[0].messages[0].parts;
        assert!(matches!(parts[0], Part::Text { .. }));
        assert!(matches!(parts[1], Part::Image { .. }) && matches!(parts[2], Part::Image { .. }));
        assert!(seen[0]
            .system
            .as_deref()
            .is_some_and(|s| s.contains("synthetic")));
    }

    #[tokio::test]
    async fn long_unreadable_answer_is_repaired_without_images() {
        let essay = "The road signs look Scandinavian and the vegetation is boreal. ".repeat(5);
        let p = Scripted::new(vec![
            Ok(essay.clone()),
            Ok(r#"{"lat": 60.1, "lon": 24.9}"#.into()),
        ]);
        let g = reasoner(p.clone(), ReasonerOptions::default())
            .guess(&obs())
            .await;
        assert_eq!(g.source, GuessSource::Model);
        assert_eq!(g.exchanges.len(), 2);
        assert_eq!(g.exchanges[1].purpose, "repair");
        assert_eq!(g.exchanges[1].images, 0);
        assert!(g.exchanges[1].prompt.contains("could not be read"));
        assert!(g.notes[0].contains("repaired"), "{:?}", g.notes);
        assert_eq!(g.usage.input_tokens, 200);
        let seen = p.seen.lock().expect("lock");
        let convo = &seen[1].messages;
        assert_eq!(convo.len(), 3);
        assert_eq!(image_count(&convo[0]), 0, "images are not resent");
        assert_eq!(convo[1].role, Role::Assistant);
        assert_eq!(convo[1].parts, vec![Part::Text { text: essay }]);
    }

    #[tokio::test]
    async fn short_unreadable_answer_gets_images_again() {
        let p = Scripted::new(vec![
            Ok("I cannot tell.".into()),
            Ok("Final answer: 35.0 N, 139.0 E".into()),
        ]);
        let g = reasoner(p.clone(), ReasonerOptions::default())
            .guess(&obs())
            .await;
        assert_eq!(g.source, GuessSource::Model);
        assert_eq!(g.exchanges[1].images, 2);
        let seen = p.seen.lock().expect("lock");
        assert_eq!(image_count(&seen[1].messages[0]), 0);
        assert_eq!(image_count(&seen[1].messages[2]), 2);
    }

    #[tokio::test]
    async fn unreadable_twice_falls_back_with_both_reasons() {
        let p = Scripted::new(vec![
            Ok("Somewhere in Europe.".into()),
            Ok("Still Europe.".into()),
        ]);
        let g = reasoner(p, ReasonerOptions::default()).guess(&obs()).await;
        match &g.source {
            GuessSource::Fallback { reason } => {
                assert!(reason.contains("after a repair prompt"), "{reason}");
                assert!(reason.contains("no coordinates"), "{reason}");
            }
            other => panic!("expected fallback, got {other:?}"),
        }
        assert_eq!((g.pos.lat, g.pos.lon), (10.0, 20.0));
        assert_eq!(g.exchanges.len(), 2);
        assert_eq!(g.usage.output_tokens, 20);
    }

    #[tokio::test]
    async fn provider_error_falls_back_and_is_recorded() {
        let p = Scripted::new(vec![Err(LvlmError::Exhausted {
            attempts: 4,
            last: Box::new(LvlmError::Timeout(Duration::from_secs(1))),
        })]);
        let g = reasoner(p, ReasonerOptions::default()).guess(&obs()).await;
        assert!(
            matches!(&g.source, GuessSource::Fallback { reason } if reason.contains("gave up after 4"))
        );
        assert_eq!(g.exchanges.len(), 1);
        assert_eq!(g.exchanges[0].attempts, 4);
        assert!(g.exchanges[0].error.is_some() && g.exchanges[0].raw.is_none());
    }

    #[tokio::test]
    async fn rejected_key_is_marked_so_the_match_can_stop() {
        let p = Scripted::new(vec![Err(LvlmError::Auth {
            status: 401,
            key_vars: &["OPENAI_API_KEY"],
            body: "invalid key".into(),
        })]);
        let g = reasoner(p, ReasonerOptions::default()).guess(&obs()).await;
        let why = g.auth_failure().expect("auth failure is marked");
        assert!(why.contains("OPENAI_API_KEY"), "{why}");
        assert!(g.exchanges[0].auth_failed);
        let p = Scripted::new(vec![Err(LvlmError::Timeout(Duration::from_secs(1)))]);
        let g = reasoner(p, ReasonerOptions::default()).guess(&obs()).await;
        assert_eq!(g.auth_failure(), None, "other failures keep falling back");
    }

    #[tokio::test(start_paused = true)]
    async fn round_timeout_falls_back() {
        let p = Arc::new(Scripted {
            replies: Mutex::new(vec![Ok(r#"{"lat": 1, "lon": 2}"#.into())]),
            seen: Mutex::new(Vec::new()),
            delay: Duration::from_secs(100),
        });
        let opts = ReasonerOptions {
            round_timeout: Duration::from_secs(30),
            ..ReasonerOptions::default()
        };
        let g = reasoner(p, opts).guess(&obs()).await;
        assert!(
            matches!(&g.source, GuessSource::Fallback { reason } if reason.contains("time limit")),
            "{:?}",
            g.source
        );
        assert_eq!(g.exchanges.len(), 1);
        assert_eq!(g.exchanges[0].elapsed_ms, 30_000);
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abcdef", 3), "…def");
        assert_eq!(tail("abc", 3), "abc");
    }
}
