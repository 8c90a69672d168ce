//! With a time limit, the reasoner must answer in time for the guess to reach the site before
//! the round's clock runs out; what it has not answered by then is replaced by the baseline's
//! point. The clock is the site's own (the open round's [`Deadline`], from its `startTime`), so
//! the browser starting, the pause, a reload and the capture all count, as they do on the site.

use crate::agent::baseline::BaselineReasoner;
use crate::agent::{Guess, GuessSource, Reasoner};
use crate::browser::geoguessr::clock::Deadline;
use crate::environment::Observation;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::warn;

/// `reasoner` held to a `limit_secs` round clock (none when 0), answering `margin` before the
/// site's `deadline` of the open round.
pub(super) fn with_time_limit(
    reasoner: Arc<dyn Reasoner>,
    limit_secs: u32,
    margin: Duration,
    deadline: Deadline,
) -> Arc<dyn Reasoner> {
    if limit_secs == 0 {
        return reasoner;
    }
    Arc::new(InTime {
        inner: reasoner,
        fallback: BaselineReasoner::for_map(&crate::game::builtin::world()),
        limit: Duration::from_secs(u64::from(limit_secs)),
        margin,
        deadline,
    })
}

/// A reasoner held to the round's time limit (see [`with_time_limit`]).
struct InTime {
    inner: Arc<dyn Reasoner>,
    fallback: BaselineReasoner,
    limit: Duration,
    margin: Duration,
    deadline: Deadline,
}

impl InTime {
    /// What is left for the model: up to `margin` before the site's deadline; without one
    /// (the site sent no `startTime`) the limit less the capture, counted from now.
    fn budget(&self, obs: &Observation) -> Duration {
        match self.deadline.get() {
            Some(at) => at
                .saturating_duration_since(Instant::now())
                .saturating_sub(self.margin),
            None => self
                .limit
                .saturating_sub(self.margin)
                .saturating_sub(Duration::from_millis(obs.capture_ms)),
        }
    }
}

#[async_trait::async_trait]
impl Reasoner for InTime {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn prompts(&self) -> Option<std::sync::Arc<crate::agent::prompt::files::PromptFiles>> {
        self.inner.prompts()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        let budget = self.budget(obs);
        match tokio::time::timeout(budget, self.inner.guess(obs)).await {
            Ok(g) => g,
            Err(_) => {
                let reason = format!(
                    "no answer within {:.1} s: what was left of the round's {} s time limit by the site's clock, less geoguessr.time_limit_margin_secs",
                    budget.as_secs_f64(),
                    self.limit.as_secs()
                );
                warn!(round = obs.round, %reason, "guessing the baseline point in time");
                let mut g = self.fallback.guess(obs).await;
                g.source = GuessSource::Fallback { reason };
                g
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Slow;

    #[async_trait::async_trait]
    impl Reasoner for Slow {
        fn name(&self) -> String {
            "slow".into()
        }
        async fn guess(&self, obs: &Observation) -> Guess {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            BaselineReasoner::for_map(&crate::game::builtin::world())
                .guess(obs)
                .await
        }
    }

    fn obs() -> Observation {
        Observation {
            round: 1,
            rounds: 5,
            views: vec![],
            map_view: crate::geo::Bounds::WORLD,
            map_name: "World".into(),
            capture_ms: 2000,
        }
    }

    /// The budget runs to the site's deadline less the margin, however long ago the round
    /// started; without a deadline, from now less the capture.
    #[tokio::test(start_paused = true)]
    async fn the_model_is_cut_off_by_the_sites_clock() {
        let deadline = Deadline::default();
        let r = with_time_limit(Arc::new(Slow), 20, Duration::from_secs(5), deadline.clone());
        deadline.set(Some(Instant::now() + Duration::from_secs(9)));
        let t0 = tokio::time::Instant::now();
        let g = r.guess(&obs()).await;
        assert_eq!(t0.elapsed(), Duration::from_secs(4));
        assert!(matches!(g.source, GuessSource::Fallback { .. }));
        deadline.set(Some(Instant::now()));
        let t0 = tokio::time::Instant::now();
        r.guess(&obs()).await;
        assert_eq!(t0.elapsed(), Duration::ZERO, "a round already over");
        deadline.set(None);
        let t0 = tokio::time::Instant::now();
        r.guess(&obs()).await;
        assert_eq!(t0.elapsed(), Duration::from_secs(13));
    }
}
