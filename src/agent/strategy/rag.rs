//! `rag` (Img2Loc): embeds the round's views, retrieves the k most and k least similar
//! geotagged references from a [`ReferenceIndex`](crate::index::ReferenceIndex), and puts their
//! coordinates into the prompt (`rag.md`) as positive and negative hints.
//!
//! Only coordinates and similarities reach the prompt, never reference ids or place names. The
//! index must come from other maps than the one played ([`super::build`] refuses otherwise). A
//! retrieval failure (an embedding endpoint down, an undecodable view) does not lose the round:
//! the model is asked without references and the guess notes why.

use super::{first_turn, round_vars, Dialogue, Retrieval};
use crate::agent::prompt::{PromptSource, PromptTemplate, TemplateKind};
use crate::agent::reasoner::ReasonerOptions;
use crate::agent::{Guess, Reasoner};
use crate::environment::Observation;
use crate::geo::LatLon;
use crate::index::embed::decode_views;
use crate::index::{Neighbour, Retrieved};
use crate::lvlm::Provider;
use std::sync::Arc;

/// What the prompt says in place of references when retrieval failed.
pub(crate) const NO_REFERENCES: &str = "(none available for this round)";

/// "1. 48.857, 2.352 (similarity 0.93)", one line per reference.
pub fn describe_neighbours(n: &[Neighbour]) -> String {
    if n.is_empty() {
        return NO_REFERENCES.to_string();
    }
    n.iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "{}. {:.3}, {:.3} (similarity {:.2})",
                i + 1,
                r.pos.lat,
                r.pos.lon,
                r.similarity
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The retrieval-augmented reasoner.
pub struct Rag {
    provider: Arc<dyn Provider>,
    answer: PromptTemplate,
    repair: PromptTemplate,
    fallback: LatLon,
    opts: ReasonerOptions,
    retrieval: Retrieval,
    k: usize,
}

impl Rag {
    pub fn new(
        provider: Arc<dyn Provider>,
        prompts: &PromptSource,
        fallback: LatLon,
        opts: ReasonerOptions,
        retrieval: Retrieval,
        k: usize,
    ) -> Result<Self, crate::agent::prompt::PromptError> {
        Ok(Self {
            provider,
            answer: prompts.template("rag", TemplateKind::Retrieval)?,
            repair: prompts.template("repair", TemplateKind::Repair)?,
            fallback,
            opts,
            retrieval,
            k,
        })
    }

    /// The k nearest and farthest references to the round's views.
    pub(crate) async fn retrieve(&self, obs: &Observation) -> Result<Retrieved, String> {
        let jpegs: Vec<Vec<u8>> = obs.views.iter().map(|v| v.jpeg.clone()).collect();
        let images = decode_views(&jpegs).map_err(|e| e.to_string())?;
        let q = self
            .retrieval
            .embedder
            .embed_images(&images)
            .await
            .map_err(|e| e.to_string())?;
        let index = self.retrieval.index.clone();
        let k = self.k;
        // A million-row scan takes tens of milliseconds of CPU: keep it off the async workers.
        tokio::task::spawn_blocking(move || index.search(&q, k))
            .await
            .map_err(|e| format!("the search task failed: {e}"))?
            .map_err(|e| e.to_string())
    }
}

#[async_trait::async_trait]
impl Reasoner for Rag {
    fn name(&self) -> String {
        self.provider.name()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        let mut d = Dialogue::new(self.provider.as_ref(), &self.opts);
        let vars = round_vars(obs);
        let found = match self.retrieve(obs).await {
            Ok(r) => {
                d.notes.push(format!(
                    "retrieved {} near and {} far references from {} ({} references)",
                    r.near.len(),
                    r.far.len(),
                    self.retrieval.path.display(),
                    self.retrieval.index.len()
                ));
                r
            }
            Err(e) => {
                tracing::warn!(error = %e, "retrieval failed; asking without references");
                d.notes
                    .push(format!("retrieval failed, asked without references: {e}"));
                Retrieved::default()
            }
        };
        let near = describe_neighbours(&found.near);
        let far = describe_neighbours(&found.far);
        let rendered = self.answer.render(
            &vars,
            &[
                ("near_references", near.as_str()),
                ("far_references", far.as_str()),
            ],
        );
        let mut req = d.request(rendered.system, vec![first_turn(rendered.user, obs)]);
        match d
            .ask_position("answer", &mut req, &self.repair, &vars)
            .await
        {
            Ok(a) => d.model_guess(a),
            Err(reason) => d.fallback(self.fallback, reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{obs, Scripted};
    use super::*;
    use crate::agent::GuessSource;
    use crate::index::embed::{BuiltinEmbedder, Embedder};
    use crate::index::{IndexMeta, ReferenceIndex};

    fn ll(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).expect("valid")
    }

    async fn retrieval() -> Retrieval {
        // The query views are plain sky blue: a sky-blue reference is nearest, a dark red one
        // farthest.
        let e = BuiltinEmbedder;
        let img = |rgb| image::RgbImage::from_pixel(16, 16, image::Rgb(rgb));
        let mut refs = Vec::new();
        for (rgb, pos) in [
            ([90, 140, 200], ll(60.0, 25.0)),
            ([100, 130, 190], ll(59.0, 18.0)),
            ([200, 30, 20], ll(-25.0, 135.0)),
            ([40, 120, 40], ll(0.0, 10.0)),
        ] {
            refs.push((e.embed_images(&[img(rgb)]).await.expect("embed"), pos));
        }
        let meta = IndexMeta {
            embedder: e.name(),
            sources: vec!["other".into()],
        };
        let dim = refs[0].0.len();
        Retrieval {
            index: Arc::new(ReferenceIndex::from_vectors(meta, dim, refs).expect("index")),
            embedder: Arc::new(e),
            path: "refs.safetensors".into(),
        }
    }

    #[tokio::test]
    async fn prompt_carries_near_and_far_coordinates() {
        let p = Scripted::texts(&[r#"{"lat": 60.2, "lon": 24.9, "country": "FI"}"#]);
        let rag = Rag::new(
            p.clone(),
            &PromptSource::Builtin,
            ll(10.0, 20.0),
            ReasonerOptions::default(),
            retrieval().await,
            2,
        )
        .expect("prompts");
        let g = rag.guess(&obs()).await;
        assert_eq!(g.source, GuessSource::Model);
        let prompt = &g.exchanges[0].prompt;
        let near_at = prompt.find("MOST similar").expect("near section");
        let far_at = prompt.find("LEAST similar").expect("far section");
        let near = &prompt[near_at..far_at];
        let far = &prompt[far_at..];
        assert!(
            near.contains("1. 60.000, 25.000 (similarity 1.00)"),
            "{near}"
        );
        assert!(near.contains("2. 59.000, 18.000"), "{near}");
        assert!(far.contains("1. -25.000, 135.000"), "{far}");
        assert!(
            g.notes[0].contains("retrieved 2 near and 2 far"),
            "{:?}",
            g.notes
        );
        assert_eq!(g.exchanges[0].images, 2);
    }

    #[tokio::test]
    async fn retrieval_failure_asks_without_references() {
        let p = Scripted::texts(&[r#"{"lat": 1, "lon": 2}"#]);
        let rag = Rag::new(
            p,
            &PromptSource::Builtin,
            ll(10.0, 20.0),
            ReasonerOptions::default(),
            retrieval().await,
            2,
        )
        .expect("prompts");
        let mut o = obs();
        o.views[0].jpeg = b"not a jpeg".to_vec();
        let g = rag.guess(&o).await;
        assert_eq!(g.source, GuessSource::Model);
        assert!(g.exchanges[0].prompt.contains(NO_REFERENCES));
        assert!(g.notes[0].contains("retrieval failed"), "{:?}", g.notes);
    }
}
