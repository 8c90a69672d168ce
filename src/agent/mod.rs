//! Reasoning about where a round is: prompts, the model call, answer parsing and the baseline.
//!
//! A [`Reasoner`] turns an [`Observation`] into a [`Guess`] and never fails: when the model is
//! unreachable or its answer cannot be parsed even after a repair prompt, the guess falls back to
//! the map's baseline point and says why, so a round is never lost.

pub mod baseline;
pub mod parse;
pub mod prompt;
pub mod reasoner;
pub mod strategy;

use crate::environment::Observation;
use crate::geo::LatLon;
use crate::lvlm::Usage;
use serde::{Deserialize, Serialize};

/// Where a guess came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GuessSource {
    /// Parsed from the model's answer.
    Model,
    /// The baseline reasoner (no model configured).
    Baseline,
    /// The model failed; the baseline point was used instead, for `reason`.
    Fallback { reason: String },
}

/// How every table, card and page names a guess's source: `model`, `baseline`, or
/// `fallback: <reason>` (the reason is a provider's or parser's text: callers that print it to a
/// terminal or a page still clean or escape it).
impl std::fmt::Display for GuessSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuessSource::Model => f.write_str("model"),
            GuessSource::Baseline => f.write_str("baseline"),
            GuessSource::Fallback { reason } => write!(f, "fallback: {reason}"),
        }
    }
}

/// One request to the model and what came back, kept for the replay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// What this exchange was for: "answer", "repair", ...
    pub purpose: String,
    pub system: Option<String>,
    /// The text parts sent, in order.
    pub prompt: String,
    /// Number of images attached.
    pub images: usize,
    /// The model's raw text, when it answered.
    pub raw: Option<String>,
    /// The error, when it did not.
    pub error: Option<String>,
    pub usage: Usage,
    pub attempts: u32,
    pub elapsed_ms: u64,
    /// The model's visible reasoning (thinking blocks, reasoning summaries), when it gave any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Answered from the response cache: nothing was sent or paid.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
    /// JSON bytes sent to the provider (0 when cached or failed).
    #[serde(default)]
    pub request_bytes: u64,
    /// JPEG bytes attached after the image budget.
    #[serde(default)]
    pub image_bytes: u64,
    /// The provider rejected the API key ([`crate::lvlm::LvlmError::is_auth`]): every later
    /// call would fail too, so the round loop stops the match (see [`Guess::auth_failure`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auth_failed: bool,
}

/// The agent's answer for a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guess {
    pub pos: LatLon,
    /// ISO 3166-1 alpha-2 or a country name, as the model gave it.
    pub country: Option<String>,
    /// 0..=1 when the model gave one.
    pub confidence: Option<f64>,
    pub rationale: Option<String>,
    pub source: GuessSource,
    /// Fix-ups the parser made (e.g. "swapped latitude and longitude").
    pub notes: Vec<String>,
    pub exchanges: Vec<Exchange>,
    pub usage: Usage,
    /// Every answer a sampling strategy considered (the `ensemble` strategy), in sampling order;
    /// empty for single-answer strategies. Absent in replays written before strategies existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    /// A person's hints and the revisions they led to (the `interactive` strategy), in order;
    /// empty when nobody gave a hint. A round with any is an assisted round in `stats`. Absent in
    /// replays written before hints were recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<Revision>,
}

impl Guess {
    /// True when a person's hints went into this guess.
    pub fn assisted(&self) -> bool {
        !self.revisions.is_empty()
    }

    /// The model's own answer before any hint, for an assisted guess whose first answer was
    /// readable.
    pub fn unassisted_pos(&self) -> Option<LatLon> {
        self.revisions.first().and_then(|r| r.before)
    }

    /// Why the provider rejected the API key, when one of this guess's calls failed that way.
    /// The guess itself is the fallback point, but no later round can do better: callers stop
    /// the match with this message (it names the key's environment variable).
    pub fn auth_failure(&self) -> Option<&str> {
        self.exchanges.iter().find(|e| e.auth_failed).map(|e| {
            e.error
                .as_deref()
                .unwrap_or("the provider rejected the API key")
        })
    }
}

/// Longest hint kept, in characters: longer text is cut (a hint is a clue, not an essay, and
/// it goes into every later prompt of the round).
pub const MAX_HINT_CHARS: usize = 1000;
/// Longest name of who gave a hint, in characters.
pub(crate) const MAX_HINT_BY_CHARS: usize = 64;

/// A person's hint or correction during a round ("the signs are Cyrillic", "not Europe").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hint {
    pub text: String,
    /// Who gave it: the name typed on the assist page, or where it came from ("terminal").
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Hint {
    /// A hint from untrusted text: control characters become spaces, the text is trimmed and cut
    /// to [`MAX_HINT_CHARS`] (the name to [`MAX_HINT_BY_CHARS`]); `None` when nothing is left.
    pub fn new(text: &str, by: &str) -> Option<Hint> {
        let text = clean_text(text, MAX_HINT_CHARS);
        if text.is_empty() {
            return None;
        }
        let by = match clean_text(by, MAX_HINT_BY_CHARS) {
            b if b.is_empty() => "anonymous".to_string(),
            b => b,
        };
        Some(Hint {
            text,
            by,
            at: chrono::Utc::now(),
        })
    }
}

/// `s` on one line, trimmed, at most `max` characters, through the one sanitiser
/// ([`crate::text`]): control characters become spaces and every format character (bidi
/// controls, zero-width characters, soft hyphens, tag characters) goes. A hint is shown to a
/// model, a page and a terminal, and must carry nothing a person cannot see.
fn clean_text(s: &str, max: usize) -> String {
    crate::text::line_cut(s, max).0
}

/// One revision of a guess on a person's hints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// The hints this revision answered, in the order they were given.
    pub hints: Vec<Hint>,
    /// The guess the hints answered: for the first revision the model's own, unassisted answer;
    /// `None` when there was no readable answer yet.
    pub before: Option<LatLon>,
    /// The revised guess; `None` when the revision failed and the previous guess stood.
    pub after: Option<LatLon>,
    /// The revised guess's country, as the model gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// One sampled answer behind a combined guess.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Which sample: model and temperature ("openai:gpt-4o t=0.6").
    pub label: String,
    pub pos: LatLon,
    pub country: Option<String>,
    pub confidence: Option<f64>,
    /// `model`, or `fallback` with the reason this sample failed.
    pub source: GuessSource,
    /// Whether it counted in the aggregation (failed samples do not).
    pub used: bool,
}

/// Turns what the agent sees into a guess. Infallible by contract (see the module docs).
#[async_trait::async_trait]
pub trait Reasoner: Send + Sync {
    /// A short label for tables and replays ("baseline", "openai:gpt-4o").
    fn name(&self) -> String;
    /// The user's own prompt set it plays with, recorded with the session; `None` for the
    /// built-in prompts and reasoners without prompts. Decorators pass on their inner one's.
    fn prompts(&self) -> Option<std::sync::Arc<prompt::files::PromptFiles>> {
        None
    }
    async fn guess(&self, obs: &Observation) -> Guess;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_from_outside_are_one_bounded_line() {
        let h = Hint::new("  the signs\nare\u{7}Cyrillic \r\n", "  Ana\u{0} ").expect("hint");
        assert_eq!(h.text, "the signs are Cyrillic");
        assert_eq!(h.by, "Ana");
        assert!(Hint::new(" \n\t ", "Ana").is_none());
        let h = Hint::new("\u{202E}not\u{200B}Europe\u{1b}[2J", "\u{2066}Bo").expect("hint");
        assert_eq!((h.text.as_str(), h.by.as_str()), ("notEurope [2J", "Bo"));
        // Tag characters (U+E0000–E007F) spell text a person cannot see; soft hyphens and
        // other format characters hide in words. None of them is kept.
        let h = Hint::new(
            "Eu\u{AD}rope\u{E0041}\u{E0042}\u{2064}\u{180E}",
            "A\u{E007F}na",
        )
        .expect("hint");
        assert_eq!((h.text.as_str(), h.by.as_str()), ("Europe", "Ana"));
        assert!(Hint::new("\u{202E}\u{FEFF}\u{7}", "Ana").is_none());
        assert_eq!(Hint::new("x", "").expect("hint").by, "anonymous");
        let long = Hint::new(&"é".repeat(5000), &"n".repeat(500)).expect("hint");
        assert_eq!(long.text.chars().count(), MAX_HINT_CHARS);
        assert_eq!(long.by.chars().count(), MAX_HINT_BY_CHARS);
    }
}
