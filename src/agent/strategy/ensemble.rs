//! `ensemble`: samples several answers (one model at a spread of temperatures, or several
//! models) concurrently with the `cot` prompt, and guesses the point that maximises expected
//! GeoGuessr points over the readable ones ([`best_expected_point`]), each counted once.
//!
//! Not their average: two answers in Portugal and two in Newfoundland average to the middle of
//! the Atlantic, which scores nothing whichever is right; the expected-score optimum sits on one
//! cluster. It also handles answers on both sides of the antimeridian (whose longitude average is
//! the wrong side of the Earth) and near a pole, because it works with great-circle distances.
//!
//! Every sample is recorded in [`Guess::candidates`], and every exchange in the guess with its
//! sample's label. A failed sample does not count; only when every sample failed does the round
//! fall back to the baseline point.

use crate::agent::baseline::{best_expected_point, expected_points};
use crate::agent::prompt::PromptSet;
use crate::agent::reasoner::{LvlmReasoner, ReasonerOptions};
use crate::agent::{Candidate, Guess, GuessSource, Reasoner};
use crate::environment::Observation;
use crate::geo::LatLon;
use crate::lvlm::{Provider, Usage};
use std::sync::Arc;

/// The lowest temperature sampled: near-greedy, the model's single most likely answer.
pub(crate) const MIN_TEMPERATURE: f32 = 0.2;
/// The highest: diverse enough to reach a runner-up country, below the 1.2+ range where vision
/// models start to ramble and break the JSON.
pub(crate) const MAX_TEMPERATURE: f32 = 1.0;

/// `n` temperatures evenly from [`MIN_TEMPERATURE`] to [`MAX_TEMPERATURE`]; one sample uses the
/// configured temperature (`None`: the provider's default).
pub(crate) fn temperature_schedule(n: usize, configured: Option<f32>) -> Vec<Option<f32>> {
    match n {
        0 => Vec::new(),
        1 => vec![configured],
        _ => (0..n)
            .map(|i| {
                let t = MIN_TEMPERATURE
                    + (MAX_TEMPERATURE - MIN_TEMPERATURE) * i as f32 / (n - 1) as f32;
                // Two decimals: labels and requests read "0.6", not "0.6000001".
                Some((t * 100.0).round() / 100.0)
            })
            .collect(),
    }
}

/// The point with the highest expected points when the truth is one of `candidates` (equal
/// weight each), on a map of `size_km`. `None` for no candidates.
pub fn aggregate(candidates: &[LatLon], size_km: f64) -> Option<LatLon> {
    let targets: Vec<(LatLon, f64)> = candidates.iter().map(|p| (*p, 1.0)).collect();
    best_expected_point(&targets, size_km)
}

struct Member {
    label: String,
    reasoner: Arc<LvlmReasoner>,
}

/// The ensemble reasoner.
pub struct Ensemble {
    members: Vec<Member>,
    fallback: LatLon,
    size_km: f64,
    name: String,
}

impl Ensemble {
    /// `samples` answers from each of `providers`, at [`temperature_schedule`].
    pub fn new(
        providers: &[Arc<dyn Provider>],
        prompts: PromptSet,
        fallback: LatLon,
        opts: ReasonerOptions,
        samples: usize,
        size_km: f64,
    ) -> Self {
        let mut members = Vec::new();
        for p in providers {
            for t in temperature_schedule(samples, opts.temperature) {
                let label = match t {
                    Some(t) => format!("{} t={t}", p.name()),
                    None => p.name(),
                };
                let o = ReasonerOptions {
                    temperature: t,
                    ..opts.clone()
                };
                members.push(Member {
                    label,
                    reasoner: Arc::new(LvlmReasoner::new(p.clone(), prompts.clone(), fallback, o)),
                });
            }
        }
        let name = if providers.len() == 1 {
            providers[0].name()
        } else {
            format!(
                "ensemble({})",
                providers
                    .iter()
                    .map(|p| p.name())
                    .collect::<Vec<_>>()
                    .join("+")
            )
        };
        Self {
            members,
            fallback,
            size_km,
            name,
        }
    }

    /// Labels of the samples, in order ("openai:gpt-4o t=0.2", ...).
    pub fn labels(&self) -> Vec<String> {
        self.members.iter().map(|m| m.label.clone()).collect()
    }
}

#[async_trait::async_trait]
impl Reasoner for Ensemble {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, m) in self.members.iter().enumerate() {
            let r = m.reasoner.clone();
            let o = obs.clone();
            tasks.spawn(async move { (i, r.guess(&o).await) });
        }
        let mut results: Vec<Option<Guess>> = vec![None; self.members.len()];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, g)) => results[i] = Some(g),
                // A sample's task can only end this way by panicking: a bug, reported as such.
                Err(e) => tracing::error!(error = %e, "an ensemble sample's task failed"),
            }
        }

        let mut candidates = Vec::new();
        let mut exchanges = Vec::new();
        let mut usage = Usage::default();
        let mut used: Vec<(LatLon, &Guess)> = Vec::new();
        let mut first_failure = None;
        for (m, g) in self.members.iter().zip(&results) {
            let Some(g) = g else {
                candidates.push(Candidate {
                    label: m.label.clone(),
                    pos: self.fallback,
                    country: None,
                    confidence: None,
                    source: GuessSource::Fallback {
                        reason: "the sample's task failed".into(),
                    },
                    used: false,
                });
                continue;
            };
            let ok = g.source == GuessSource::Model;
            if let (false, GuessSource::Fallback { reason }) = (ok, &g.source) {
                first_failure.get_or_insert_with(|| format!("{}: {reason}", m.label));
            }
            candidates.push(Candidate {
                label: m.label.clone(),
                pos: g.pos,
                country: g.country.clone(),
                confidence: g.confidence,
                source: g.source.clone(),
                used: ok,
            });
            for ex in &g.exchanges {
                let mut ex = ex.clone();
                ex.purpose = format!("{} [{}]", ex.purpose, m.label);
                exchanges.push(ex);
            }
            usage += g.usage;
            if ok {
                used.push((g.pos, g));
            }
        }

        let points: Vec<LatLon> = used.iter().map(|(p, _)| *p).collect();
        let Some(best) = aggregate(&points, self.size_km) else {
            let reason = format!(
                "all {} ensemble samples failed (first: {})",
                self.members.len(),
                first_failure.unwrap_or_else(|| "no sample finished".into())
            );
            tracing::warn!(%reason, "using the fallback guess");
            return Guess {
                pos: self.fallback,
                country: None,
                confidence: None,
                rationale: None,
                source: GuessSource::Fallback { reason },
                notes: Vec::new(),
                exchanges,
                usage,
                candidates,
                revisions: Vec::new(),
            };
        };
        // Country and rationale from the sample nearest the chosen point; confidence is the
        // share of samples agreeing on that country.
        let nearest = used
            .iter()
            .min_by(|a, b| a.0.distance_km(&best).total_cmp(&b.0.distance_km(&best)))
            .map(|(_, g)| *g);
        let country = nearest.and_then(|g| g.country.clone());
        let agreeing = country.as_ref().map(|c| {
            used.iter()
                .filter(|(_, g)| {
                    g.country
                        .as_ref()
                        .is_some_and(|o| o.eq_ignore_ascii_case(c))
                })
                .count()
        });
        let notes = vec![format!(
            "ensemble: {} of {} samples readable; chosen point's expected points over them {:.0}",
            used.len(),
            self.members.len(),
            expected_points(
                &best,
                &points.iter().map(|p| (*p, 1.0)).collect::<Vec<_>>(),
                self.size_km
            )
        )];
        Guess {
            pos: best,
            country,
            confidence: agreeing.map(|n| n as f64 / used.len() as f64),
            rationale: nearest.and_then(|g| g.rationale.clone()),
            source: GuessSource::Model,
            notes,
            exchanges,
            usage,
            candidates,
            revisions: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{obs, Scripted};
    use super::*;
    use crate::game::WORLD_SIZE_KM;
    use crate::lvlm::LvlmError;

    fn ll(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).expect("valid")
    }

    #[test]
    fn schedule_spreads_temperatures() {
        assert_eq!(
            temperature_schedule(5, None),
            [Some(0.2), Some(0.4), Some(0.6), Some(0.8), Some(1.0)]
        );
        assert_eq!(temperature_schedule(1, Some(0.3)), [Some(0.3)]);
        assert_eq!(temperature_schedule(1, None), [None]);
        assert!(temperature_schedule(0, None).is_empty());
    }

    #[test]
    fn two_clusters_choose_the_bigger_one_not_the_sea_between() {
        // Three answers around Lisbon, two around St. John's: the mean is mid-Atlantic.
        let c = [
            ll(38.7, -9.1),
            ll(38.9, -9.3),
            ll(39.2, -8.6),
            ll(47.5, -52.7),
            ll(47.6, -52.8),
        ];
        let best = aggregate(&c, WORLD_SIZE_KM).expect("point");
        assert!(best.distance_km(&ll(38.9, -9.0)) < 100.0, "{best:?}");
        let targets: Vec<_> = c.iter().map(|p| (*p, 1.0)).collect();
        let mean = ll(42.4, -26.5);
        assert!(
            expected_points(&best, &targets, WORLD_SIZE_KM)
                > expected_points(&mean, &targets, WORLD_SIZE_KM) + 500.0
        );
    }

    #[test]
    fn antimeridian_answers_stay_on_the_dateline_not_greenwich() {
        // Fiji-ish answers on both sides of ±180: the longitude average is near 0°.
        let c = [ll(-17.0, 179.5), ll(-17.2, -179.6), ll(-16.8, 179.9)];
        let best = aggregate(&c, WORLD_SIZE_KM).expect("point");
        assert!(best.lon.abs() > 179.0, "{best:?}");
        assert!(best.distance_km(&ll(-17.0, 180.0)) < 60.0, "{best:?}");
        // On a small map the search still reaches across the line (the window wraps).
        let best = aggregate(&c, 500.0).expect("point");
        assert!(best.distance_km(&ll(-17.0, 180.0)) < 60.0, "{best:?}");
    }

    #[test]
    fn polar_answers_meet_near_the_pole() {
        // Three answers ringed around a pole, 120° of longitude apart: averaging latitude and
        // longitude gives (88°N, 0°), on one of them; the expected-score optimum is the pole
        // (closer to all three than they are to each other).
        let c = [ll(88.0, 0.0), ll(88.0, 120.0), ll(88.0, -120.0)];
        let best = aggregate(&c, WORLD_SIZE_KM).expect("point");
        assert!(best.lat > 89.5, "{best:?}");
        let south = [ll(-89.0, 45.0), ll(-89.0, 165.0), ll(-89.0, -75.0)];
        let best = aggregate(&south, WORLD_SIZE_KM).expect("point");
        assert!(best.lat < -89.5, "{best:?}");
        // A single cluster near the pole stays on it (the search window stops at the pole).
        let near = [ll(89.9, 10.0), ll(89.8, 12.0)];
        let best = aggregate(&near, 1000.0).expect("point");
        assert!(best.distance_km(&ll(89.85, 11.0)) < 20.0, "{best:?}");
    }

    #[tokio::test]
    async fn samples_at_each_temperature_and_records_every_candidate() {
        let p = Scripted::new(vec![
            Ok(r#"{"lat": 38.7, "lon": -9.1, "country": "PT"}"#.into()),
            Ok(r#"{"lat": 38.8, "lon": -9.2, "country": "PT"}"#.into()),
            Ok(r#"{"lat": 47.5, "lon": -52.7, "country": "CA"}"#.into()),
            Err(LvlmError::Empty("down".into())),
        ]);
        let providers: Vec<Arc<dyn Provider>> = vec![p.clone()];
        let e = Ensemble::new(
            &providers,
            PromptSet::builtin("cot").expect("prompts"),
            ll(10.0, 20.0),
            ReasonerOptions::default(),
            4,
            WORLD_SIZE_KM,
        );
        let g = e.guess(&obs()).await;
        assert_eq!(g.source, GuessSource::Model);
        assert_eq!(g.candidates.len(), 4);
        assert_eq!(g.candidates.iter().filter(|c| c.used).count(), 3);
        assert!(g.pos.distance_km(&ll(38.75, -9.15)) < 50.0, "{:?}", g.pos);
        assert_eq!(g.country.as_deref(), Some("PT"));
        assert_eq!(g.confidence, Some(2.0 / 3.0));
        let mut temps: Vec<String> = p
            .seen()
            .iter()
            .map(|r| format!("{:?}", r.temperature))
            .collect();
        temps.sort();
        assert_eq!(
            temps,
            ["Some(0.2)", "Some(0.47)", "Some(0.73)", "Some(1.0)"]
        );
        assert!(g.exchanges.iter().all(|x| x.purpose.contains("t=")));
        assert_eq!(g.usage.input_tokens, 300);
    }

    #[tokio::test]
    async fn all_samples_failing_falls_back_with_the_reason() {
        let p = Scripted::new(vec![]);
        let providers: Vec<Arc<dyn Provider>> = vec![p];
        let e = Ensemble::new(
            &providers,
            PromptSet::builtin("direct").expect("prompts"),
            ll(10.0, 20.0),
            ReasonerOptions::default(),
            2,
            WORLD_SIZE_KM,
        );
        let g = e.guess(&obs()).await;
        assert!(
            matches!(&g.source, GuessSource::Fallback { reason } if reason.contains("all 2 ensemble samples failed")),
            "{:?}",
            g.source
        );
        assert_eq!(g.pos, ll(10.0, 20.0));
        assert_eq!(g.candidates.len(), 2);
        assert!(g.candidates.iter().all(|c| !c.used));
    }
}
