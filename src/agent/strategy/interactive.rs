//! `interactive` (GaGA): after the model's guess a person may add clues or corrections ("the
//! signs are in Portuguese", "that is too far north"); the model revises in the same
//! conversation (`revise.md`), and the person may go on until they have nothing to add.
//!
//! Hints come from a [`HintSource`]: [`ReaderHints`] reads lines from any reader (the terminal in
//! `geoagent ask`, a byte buffer in tests); the assist page of the local game (`play --assist`)
//! is another; [`NoHints`] (unattended play) keeps the first guess. Every turn, hints included,
//! is an exchange in the replay, and each revision (its hints, who gave them and when, the guess
//! before and after) is in [`Guess::revisions`]. A revision that fails keeps the previous guess,
//! so hints can only help. Time spent waiting for a person does not count against the round's
//! model deadline.

use super::{first_turn, round_vars, turn, Dialogue};
use crate::agent::prompt::{PromptSource, PromptTemplate, PromptVars, TemplateKind};
use crate::agent::reasoner::ReasonerOptions;
use crate::agent::{Guess, GuessSource, Hint, Reasoner, Revision, MAX_HINT_CHARS};
use crate::environment::Observation;
use crate::geo::LatLon;
use crate::lvlm::{Provider, Role};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Most revisions per round: a person pasting a long text line by line cannot run up an
/// unbounded bill, and a dozen rounds of hints is more than any GaGA dialogue used.
pub(crate) const MAX_REVISIONS: usize = 12;
/// Who the terminal's hints are recorded as given by.
pub(crate) const TERMINAL_HINT_BY: &str = "terminal";

/// Where a person's hints come from.
#[async_trait::async_trait]
pub trait HintSource: Send + Sync {
    /// Shown the current guess (`revision` 0 is the first answer; its `exchanges` hold at most
    /// the latest answer, for showing the model's reasoning); returns the person's next hints,
    /// all answered by one revision, or none when they have nothing to add.
    async fn hints(&self, revision: usize, guess: &Guess) -> Vec<Hint>;
}

/// Nobody is watching: the first guess stands.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHints;

#[async_trait::async_trait]
impl HintSource for NoHints {
    async fn hints(&self, _revision: usize, _guess: &Guess) -> Vec<Hint> {
        Vec::new()
    }
}

/// One line describing a guess for a person: "48.8566, 2.3522 (FR, confidence 0.60) — reason".
pub(crate) fn describe_guess(g: &Guess) -> String {
    let mut s = format!("{:.4}, {:.4}", g.pos.lat, g.pos.lon);
    let mut extra = Vec::new();
    if let Some(c) = &g.country {
        extra.push(c.clone());
    }
    if let Some(c) = g.confidence {
        extra.push(format!("confidence {c:.2}"));
    }
    if let GuessSource::Fallback { reason } = &g.source {
        extra.push(format!("fallback: {reason}"));
    }
    if !extra.is_empty() {
        s.push_str(&format!(" ({})", extra.join(", ")));
    }
    if let Some(r) = &g.rationale {
        s.push_str(&format!(" — {r}"));
    }
    s
}

/// Hints read line by line from `reader` until an empty line or the end of input. Each guess is
/// written to `out` before the person is asked, so they see what they are correcting.
pub struct ReaderHints<R> {
    reader: tokio::sync::Mutex<R>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl<R: AsyncBufRead + Unpin + Send> ReaderHints<R> {
    pub fn new(reader: R, out: Box<dyn Write + Send>) -> Self {
        Self {
            reader: tokio::sync::Mutex::new(reader),
            out: Mutex::new(out),
        }
    }
}

#[async_trait::async_trait]
impl<R: AsyncBufRead + Unpin + Send> HintSource for ReaderHints<R> {
    async fn hints(&self, revision: usize, guess: &Guess) -> Vec<Hint> {
        {
            let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            let label = if revision == 0 {
                "Guess".to_string()
            } else {
                format!("Revised guess {revision}")
            };
            // The transcript is best effort: a closed terminal must not stop the dialogue.
            let _ = writeln!(out, "{label}: {}", describe_guess(guess));
            let _ = write!(out, "Hint or correction (empty line to finish): ");
            let _ = out.flush();
        }
        let read = read_bounded_line(&mut *self.reader.lock().await, MAX_HINT_LINE_BYTES).await;
        match read {
            Ok(None) | Err(_) => Vec::new(),
            Ok(Some(line)) => {
                if line.trim().chars().count() > MAX_HINT_CHARS {
                    let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = writeln!(
                        out,
                        "(that hint is longer than {MAX_HINT_CHARS} characters: only its first {MAX_HINT_CHARS} are used)"
                    );
                }
                Hint::new(&line, TERMINAL_HINT_BY).into_iter().collect()
            }
        }
    }
}

/// Bytes of one input line kept at most; the rest of a longer line is read and dropped, so
/// piped input without newlines cannot fill memory. Far above [`MAX_HINT_CHARS`] characters.
const MAX_HINT_LINE_BYTES: usize = 64 * 1024;

/// One line of `reader` (through its newline), keeping at most `max` bytes of it; `None` at the
/// end of input.
async fn read_bounded_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> std::io::Result<Option<String>> {
    let mut kept = Vec::new();
    let mut any = false;
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (used, end) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = max.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..used.min(room)]);
        reader.consume(used);
        if end {
            break;
        }
    }
    Ok(any.then(|| String::from_utf8_lossy(&kept).into_owned()))
}

/// The interactive reasoner.
pub struct Interactive {
    provider: Arc<dyn Provider>,
    answer: PromptTemplate,
    revise: PromptTemplate,
    repair: PromptTemplate,
    fallback: LatLon,
    opts: ReasonerOptions,
    hints: Arc<dyn HintSource>,
}

impl Interactive {
    pub fn new(
        provider: Arc<dyn Provider>,
        prompts: &PromptSource,
        fallback: LatLon,
        opts: ReasonerOptions,
        hints: Arc<dyn HintSource>,
    ) -> Result<Self, crate::agent::prompt::PromptError> {
        Ok(Self {
            provider,
            answer: prompts.template("cot", TemplateKind::Answer)?,
            revise: prompts.template("revise", TemplateKind::Revise)?,
            repair: prompts.template("repair", TemplateKind::Repair)?,
            fallback,
            opts,
            hints,
        })
    }
}

/// The guess so far, as the revise prompt quotes it.
fn previous_guess(current: Option<&(crate::agent::parse::ParsedAnswer, usize)>) -> String {
    match current {
        Some((a, _)) => {
            let mut s = format!("{:.4}, {:.4}", a.pos.lat, a.pos.lon);
            if let Some(c) = &a.country {
                s.push_str(&format!(" in {c}"));
            }
            s
        }
        None => "none yet (your answer could not be read)".into(),
    }
}

#[async_trait::async_trait]
impl Reasoner for Interactive {
    fn name(&self) -> String {
        self.provider.name()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        let mut d = Dialogue::new(self.provider.as_ref(), &self.opts);
        let vars = round_vars(obs);
        let first = self.answer.render(&vars, &[]);
        let mut req = d.request(first.system, vec![first_turn(first.user, obs)]);
        // The latest readable answer and the revision it came from.
        let mut current = None;
        let mut failure = None;
        match d
            .ask_position("answer", &mut req, &self.repair, &vars)
            .await
        {
            Ok(a) => current = Some((a, 0)),
            Err(reason) => failure = Some(reason),
        }
        let mut revisions: Vec<Revision> = Vec::new();
        for revision in 0..MAX_REVISIONS {
            let shown = snapshot(&current, failure.as_deref(), self.fallback, &d);
            let asked = tokio::time::Instant::now();
            let hints = self.hints.hints(revision, &shown).await;
            // The person's time is not the model's: the round's deadline moves by the wait.
            d.pause(asked.elapsed());
            if hints.is_empty() {
                break;
            }
            let before = current.as_ref().map(|(a, _)| a.pos);
            let rendered = self.revise.render(
                &PromptVars {
                    hints: hints.iter().map(|h| h.text.clone()).collect(),
                    ..vars.clone()
                },
                &[("previous_guess", &previous_guess(current.as_ref()))],
            );
            // After a failed answer the conversation may end on the user's turn; a model must
            // see alternating turns, so the failure is stated as the assistant's.
            if req.messages.last().is_some_and(|m| m.role == Role::User) {
                req.messages
                    .push(turn(Role::Assistant, "(no readable answer)"));
            }
            req.messages.push(turn(Role::User, &rendered.user));
            let purpose = format!("revise {}", revision + 1);
            match d
                .ask_position(&purpose, &mut req, &self.repair, &vars)
                .await
            {
                Ok(a) => {
                    revisions.push(Revision {
                        hints,
                        before,
                        after: Some(a.pos),
                        country: a.country.clone(),
                    });
                    current = Some((a, revision + 1));
                    failure = None;
                }
                Err(reason) => {
                    revisions.push(Revision {
                        hints,
                        before,
                        after: None,
                        country: None,
                    });
                    d.notes.push(format!(
                        "{purpose} failed, the previous guess stands: {reason}"
                    ));
                    if current.is_none() {
                        failure = Some(reason);
                    }
                }
            }
        }
        let given: Vec<&str> = revisions
            .iter()
            .flat_map(|r| r.hints.iter().map(|h| h.text.as_str()))
            .collect();
        if !given.is_empty() {
            d.notes.insert(
                0,
                format!(
                    "interactive: {} hint(s) from a person: {}",
                    given.len(),
                    given.join(" | ")
                ),
            );
        }
        let mut guess = match current {
            Some((a, _)) => d.model_guess(a),
            None => d.fallback(
                self.fallback,
                failure.unwrap_or_else(|| "no readable answer".into()),
            ),
        };
        guess.revisions = revisions;
        guess
    }
}

/// What the person is shown between turns: the current answer as a guess, with only the latest
/// exchange (the model's reasoning behind it; the final guess carries them all).
fn snapshot(
    current: &Option<(crate::agent::parse::ParsedAnswer, usize)>,
    failure: Option<&str>,
    fallback: LatLon,
    d: &Dialogue<'_>,
) -> Guess {
    let (pos, country, confidence, rationale, source) = match current {
        Some((a, _)) => (
            a.pos,
            a.country.clone(),
            a.confidence,
            a.rationale.clone(),
            GuessSource::Model,
        ),
        None => (
            fallback,
            None,
            None,
            None,
            GuessSource::Fallback {
                reason: failure.unwrap_or("no readable answer").to_string(),
            },
        ),
    };
    Guess {
        pos,
        country,
        confidence,
        rationale,
        source,
        notes: Vec::new(),
        exchanges: d.exchanges.last().cloned().into_iter().collect(),
        usage: Default::default(),
        candidates: Vec::new(),
        revisions: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{obs, Scripted};
    use super::*;

    /// A writer whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn reasoner(p: Arc<Scripted>, hints: Arc<dyn HintSource>) -> Interactive {
        Interactive::new(
            p,
            &PromptSource::Builtin,
            LatLon::new(10.0, 20.0).expect("valid"),
            ReasonerOptions::default(),
            hints,
        )
        .expect("prompts")
    }

    #[tokio::test]
    async fn a_long_hint_is_cut_with_a_notice_and_an_endless_line_is_bounded() {
        // 5,000 characters: cut to the limit, and the person is told.
        let long = format!("{}\nnext\n", "y".repeat(5_000));
        let transcript = Shared::default();
        let hints = ReaderHints::new(long.as_bytes(), Box::new(transcript.clone()));
        let g = Guess {
            pos: LatLon::new(0.0, 0.0).unwrap(),
            country: None,
            confidence: None,
            rationale: None,
            source: GuessSource::Model,
            notes: Vec::new(),
            exchanges: Vec::new(),
            usage: Default::default(),
            candidates: Vec::new(),
            revisions: Vec::new(),
        };
        let got = hints.hints(0, &g).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].text.chars().count(), MAX_HINT_CHARS);
        let said = String::from_utf8(transcript.0.lock().expect("lock").clone()).expect("utf8");
        assert!(said.contains("longer than 1000 characters"), "{said}");
        // The rest of that line was dropped: the next hint is the next line.
        assert_eq!(hints.hints(1, &g).await[0].text, "next");
        // No newline for 10 MB: at most MAX_HINT_LINE_BYTES are kept, then the end of input.
        let mut endless = std::io::Cursor::new(vec![b'z'; 10 * 1024 * 1024]);
        let line = read_bounded_line(&mut endless, MAX_HINT_LINE_BYTES)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line.len(), MAX_HINT_LINE_BYTES);
        assert_eq!(read_bounded_line(&mut endless, 10).await.unwrap(), None);
    }

    #[tokio::test]
    async fn scripted_person_corrects_twice_then_stops() {
        let p = Scripted::texts(&[
            r#"{"lat": 40.4, "lon": -3.7, "country": "ES"}"#,
            r#"Portuguese then. {"lat": 38.7, "lon": -9.1, "country": "PT"}"#,
            "I still think so.",
            r#"{"lat": 41.1, "lon": -8.6, "country": "PT"}"#,
        ]);
        let transcript = Shared::default();
        let hints = ReaderHints::new(
            &b"The signs are in Portuguese\n  further north, near Porto  \n\nignored\n"[..],
            Box::new(transcript.clone()),
        );
        let g = reasoner(p.clone(), Arc::new(hints)).guess(&obs()).await;
        assert_eq!(g.source, GuessSource::Model);
        assert_eq!((g.pos.lat, g.pos.lon), (41.1, -8.6));
        let purposes: Vec<_> = g.exchanges.iter().map(|e| e.purpose.as_str()).collect();
        assert_eq!(
            purposes,
            ["answer", "revise 1", "revise 2", "revise 2 repair"]
        );
        assert!(g.exchanges[1]
            .prompt
            .contains("- The signs are in Portuguese"));
        assert!(g.exchanges[1].prompt.contains("40.4000, -3.7000 in ES"));
        assert!(g.exchanges[2]
            .prompt
            .contains("- further north, near Porto"));
        assert!(
            g.notes[0].starts_with("interactive: 2 hint(s)"),
            "{:?}",
            g.notes
        );
        // Each revision is recorded: its hint, who gave it, the guess before and after.
        assert_eq!(g.revisions.len(), 2);
        assert!(g.assisted());
        let r = &g.revisions[0];
        assert_eq!(r.hints[0].text, "The signs are in Portuguese");
        assert_eq!(r.hints[0].by, TERMINAL_HINT_BY);
        assert_eq!(r.before.map(|p| (p.lat, p.lon)), Some((40.4, -3.7)));
        assert_eq!(r.after.map(|p| (p.lat, p.lon)), Some((38.7, -9.1)));
        assert_eq!(r.country.as_deref(), Some("PT"));
        assert_eq!(g.revisions[1].hints[0].text, "further north, near Porto");
        assert_eq!(
            g.revisions[1].after.map(|p| (p.lat, p.lon)),
            Some((41.1, -8.6))
        );
        assert_eq!(g.unassisted_pos().map(|p| p.lat), Some(40.4));
        let line = serde_json::to_string(&g).expect("json");
        let back: Guess = serde_json::from_str(&line).expect("reads back");
        assert_eq!(back.revisions, g.revisions);
        let text = String::from_utf8(transcript.0.lock().expect("lock").clone()).expect("utf8");
        assert!(text.contains("Guess: 40.4000, -3.7000 (ES)"), "{text}");
        assert!(
            text.contains("Revised guess 1: 38.7000, -9.1000 (PT)"),
            "{text}"
        );
        assert!(
            text.contains("Revised guess 2: 41.1000, -8.6000 (PT)"),
            "{text}"
        );
        // One conversation: the last request holds every turn, images only in the first.
        let last = p.seen().pop().expect("requests");
        assert_eq!(last.messages.len(), 7);
        let roles: Vec<Role> = last.messages.iter().map(|m| m.role).collect();
        assert!(roles.windows(2).all(|w| w[0] != w[1]), "{roles:?}");
    }

    #[tokio::test]
    async fn without_a_person_it_is_one_answer_and_failed_revisions_keep_the_guess() {
        let p = Scripted::texts(&[r#"{"lat": 1, "lon": 2}"#]);
        let g = reasoner(p, Arc::new(NoHints)).guess(&obs()).await;
        assert_eq!(g.exchanges.len(), 1);
        assert!(!g.assisted());
        assert!(!serde_json::to_string(&g)
            .expect("json")
            .contains("revisions"));
        assert_eq!((g.pos.lat, g.pos.lon), (1.0, 2.0));

        // The revision's call fails: the first guess stands, with a note.
        let p = Scripted::texts(&[r#"{"lat": 1, "lon": 2}"#]);
        let hints = ReaderHints::new(&b"it is in Chile\n"[..], Box::new(std::io::sink()));
        let g = reasoner(p, Arc::new(hints)).guess(&obs()).await;
        assert_eq!(g.source, GuessSource::Model);
        assert_eq!((g.pos.lat, g.pos.lon), (1.0, 2.0));
        assert!(
            g.notes.iter().any(|n| n.contains("revise 1 failed")),
            "{:?}",
            g.notes
        );
        assert_eq!(g.revisions.len(), 1);
        assert_eq!(
            g.revisions[0].after, None,
            "the failed revision changed nothing"
        );

        // The first answer fails, a hint rescues it.
        let p = Scripted::new(vec![
            Err(crate::lvlm::LvlmError::Empty("down".into())),
            Ok(r#"{"lat": -33.4, "lon": -70.6}"#.into()),
        ]);
        let hints = ReaderHints::new(&b"it is in Chile\n"[..], Box::new(std::io::sink()));
        let g = reasoner(p, Arc::new(hints)).guess(&obs()).await;
        assert_eq!(g.source, GuessSource::Model);
        assert_eq!(g.pos.lat, -33.4);
        assert!(g.exchanges[1].prompt.contains("none yet"));
    }
}
