//! `coarse-to-fine`: two turns of one conversation. First the model ranks continents and
//! countries with probabilities (`coarse.md`, JSON `{"candidates": [...]}`), then it is told to
//! assume the most probable country and name the region and coordinates inside it (`fine.md`).
//! Both exchanges are recorded; the ranking is also kept in the guess's notes.
//!
//! An unreadable ranking does not lose the round: the second turn then asks for the spot inside
//! "the country you found most likely", and the guess notes that the ranking was unreadable.

use super::{first_turn, round_vars, turn, Dialogue};
use crate::agent::parse::json_objects;
use crate::agent::prompt::{PromptSource, PromptTemplate, TemplateKind};
use crate::agent::reasoner::ReasonerOptions;
use crate::agent::{Guess, Reasoner};
use crate::environment::Observation;
use crate::geo::LatLon;
use crate::lvlm::{Provider, Role};
use serde_json::Value;
use std::sync::Arc;

/// Countries listed back to the model in the second turn.
const MAX_LISTED: usize = 5;
/// What the second turn says when the first gave no readable ranking.
pub(crate) const UNKNOWN_COUNTRY: &str = "the country you found most likely";

/// One row of the coarse ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct CountryCandidate {
    pub continent: Option<String>,
    pub country: String,
    /// 0..=1 (percentages are scaled down); `None` when the model gave none.
    pub probability: Option<f64>,
}

/// Reads the coarse step's ranking, most probable first. Accepts `{"candidates": [...]}` (also
/// under `countries`/`ranking`), a bare list, or a single `{"country": ...}` object.
pub fn parse_ranking(text: &str) -> Vec<CountryCandidate> {
    let mut out = Vec::new();
    for obj in json_objects(text) {
        let list = ["candidates", "countries", "ranking"]
            .iter()
            .find_map(|k| obj.get(*k).and_then(Value::as_array).cloned());
        match list {
            Some(items) => out.extend(items.iter().filter_map(candidate)),
            None => out.extend(candidate(&obj)),
        }
        if !out.is_empty() {
            break;
        }
    }
    // Stable: equal probabilities keep the model's order.
    out.sort_by(|a, b| {
        b.probability
            .unwrap_or(0.0)
            .total_cmp(&a.probability.unwrap_or(0.0))
    });
    out
}

fn candidate(v: &Value) -> Option<CountryCandidate> {
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let country = text("country").or_else(|| text("name"))?;
    let probability = ["probability", "p", "confidence"]
        .iter()
        .find_map(|k| match v.get(*k) {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().trim_end_matches('%').trim().parse().ok(),
            _ => None,
        })
        .filter(|p| p.is_finite() && *p >= 0.0)
        .map(|p| if p > 1.0 { (p / 100.0).min(1.0) } else { p });
    Some(CountryCandidate {
        continent: text("continent"),
        country,
        probability,
    })
}

/// "1. Europe / FR (p = 0.60)" lines for the second turn and the notes.
pub fn describe_ranking(r: &[CountryCandidate]) -> String {
    r.iter()
        .take(MAX_LISTED)
        .enumerate()
        .map(|(i, c)| {
            let mut line = format!("{}. ", i + 1);
            if let Some(cont) = &c.continent {
                line.push_str(cont);
                line.push_str(" / ");
            }
            line.push_str(&c.country);
            if let Some(p) = c.probability {
                line.push_str(&format!(" (p = {p:.2})"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The coarse-to-fine reasoner.
pub struct CoarseToFine {
    provider: Arc<dyn Provider>,
    coarse: PromptTemplate,
    fine: PromptTemplate,
    repair: PromptTemplate,
    fallback: LatLon,
    opts: ReasonerOptions,
}

impl CoarseToFine {
    pub fn new(
        provider: Arc<dyn Provider>,
        prompts: &PromptSource,
        fallback: LatLon,
        opts: ReasonerOptions,
    ) -> Result<Self, crate::agent::prompt::PromptError> {
        Ok(Self {
            provider,
            coarse: prompts.template("coarse", TemplateKind::Answer)?,
            fine: prompts.template("fine", TemplateKind::Refine)?,
            repair: prompts.template("repair", TemplateKind::Repair)?,
            fallback,
            opts,
        })
    }
}

#[async_trait::async_trait]
impl Reasoner for CoarseToFine {
    fn name(&self) -> String {
        self.provider.name()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        let mut d = Dialogue::new(self.provider.as_ref(), &self.opts);
        let vars = round_vars(obs);
        let coarse = self.coarse.render(&vars, &[]);
        let mut req = d.request(coarse.system, vec![first_turn(coarse.user, obs)]);
        let ranking_text = match d.send("coarse", &req).await {
            Ok(t) => t,
            Err(reason) => return d.fallback(self.fallback, format!("coarse step: {reason}")),
        };
        req.messages.push(turn(Role::Assistant, &ranking_text));
        let ranking = parse_ranking(&ranking_text);
        let (country, listed) = match ranking.first() {
            Some(top) => {
                let listed = describe_ranking(&ranking);
                d.notes
                    .push(format!("coarse ranking: {}", listed.replace('\n', "; ")));
                (top.country.clone(), listed)
            }
            None => {
                d.notes.push(
                    "coarse step gave no readable country ranking; the fine step chose freely"
                        .into(),
                );
                (UNKNOWN_COUNTRY.to_string(), "(not readable)".to_string())
            }
        };
        let fine = self.fine.render(
            &vars,
            &[("country", &country), ("country_candidates", &listed)],
        );
        req.messages.push(turn(Role::User, &fine.user));
        if fine.system.is_some() {
            req.system = fine.system;
        }
        match d.ask_position("fine", &mut req, &self.repair, &vars).await {
            Ok(a) => {
                let mut g = d.model_guess(a);
                if g.country.is_none() && country != UNKNOWN_COUNTRY {
                    g.country = Some(country);
                }
                g
            }
            Err(reason) => d.fallback(self.fallback, format!("fine step: {reason}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{obs, Scripted};
    use super::*;
    use crate::agent::GuessSource;

    #[test]
    fn ranking_reads_sorts_and_scales() {
        let r = parse_ranking(
            "Clues...\n```json\n{\"candidates\": [{\"continent\": \"Europe\", \"country\": \"BE\", \"probability\": 0.2}, {\"continent\": \"Europe\", \"country\": \"FR\", \"probability\": \"60%\"}, {\"country\": \"\"}]}\n```",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].country, "FR");
        assert_eq!(r[0].probability, Some(0.6));
        assert_eq!(
            describe_ranking(&r),
            "1. Europe / FR (p = 0.60)\n2. Europe / BE (p = 0.20)"
        );
        let single = parse_ranking("{'country': 'Kenya', 'probability': 45}");
        assert_eq!(single[0].country, "Kenya");
        assert_eq!(single[0].probability, Some(0.45));
        assert!(parse_ranking("somewhere in Europe").is_empty());
    }

    #[tokio::test]
    async fn two_turns_and_the_fine_turn_names_the_top_country() {
        let p = Scripted::texts(&[
            r#"{"candidates": [{"continent": "Africa", "country": "KE", "probability": 0.7}, {"continent": "Africa", "country": "TZ", "probability": 0.2}]}"#,
            r#"Central highlands. {"lat": -0.5, "lon": 37.0}"#,
        ]);
        let r = CoarseToFine::new(
            p.clone(),
            &PromptSource::Builtin,
            LatLon::new(10.0, 20.0).expect("valid"),
            ReasonerOptions::default(),
        )
        .expect("prompts");
        let g = r.guess(&obs()).await;
        assert_eq!(g.source, GuessSource::Model);
        assert_eq!((g.pos.lat, g.pos.lon), (-0.5, 37.0));
        assert_eq!(g.country.as_deref(), Some("KE"));
        assert_eq!(
            g.exchanges
                .iter()
                .map(|e| e.purpose.as_str())
                .collect::<Vec<_>>(),
            ["coarse", "fine"]
        );
        assert_eq!(g.exchanges[0].images, 2);
        assert!(g.exchanges[1].prompt.contains("assume the place is in KE"));
        assert!(
            g.notes[0].contains("Africa / KE (p = 0.70)"),
            "{:?}",
            g.notes
        );
        let seen = p.seen();
        assert_eq!(seen[1].messages.len(), 3, "same conversation");
        assert_eq!(seen[1].messages[1].role, Role::Assistant);
    }

    #[tokio::test]
    async fn unreadable_ranking_still_guesses_and_model_failure_falls_back() {
        let p = Scripted::texts(&["No idea.", r#"{"lat": 1, "lon": 2}"#]);
        let fb = LatLon::new(10.0, 20.0).expect("valid");
        let r = CoarseToFine::new(p, &PromptSource::Builtin, fb, ReasonerOptions::default())
            .expect("prompts");
        let g = r.guess(&obs()).await;
        assert_eq!(g.source, GuessSource::Model);
        assert!(g.exchanges[1].prompt.contains(UNKNOWN_COUNTRY));
        assert!(g.notes[0].contains("no readable country ranking"));

        let p = Scripted::new(vec![]);
        let r = CoarseToFine::new(p, &PromptSource::Builtin, fb, ReasonerOptions::default())
            .expect("prompts");
        let g = r.guess(&obs()).await;
        assert!(
            matches!(&g.source, GuessSource::Fallback { reason } if reason.starts_with("coarse step")),
            "{:?}",
            g.source
        );
        assert_eq!(g.pos, fb);
    }
}
