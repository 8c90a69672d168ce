//! A match a person watches and helps with (`play --assist`): the reasoner is wrapped so the
//! assist page sees each round's views before the model does and the guess before it is placed;
//! the round hook shows the score once the game has it. The hints themselves reach the model
//! through the interactive strategy, whose hint source is the same [`Assist`].

use crate::agent::{Guess, Reasoner};
use crate::environment::Observation;
use crate::server::assist::Assist;
use std::sync::Arc;

/// `inner`, with every round shown on the assist page.
pub(crate) struct Watched {
    pub inner: Arc<dyn Reasoner>,
    pub assist: Assist,
}

#[async_trait::async_trait]
impl Reasoner for Watched {
    /// The inner reasoner's: a watched session resumes as the same player.
    fn name(&self) -> String {
        self.inner.name()
    }

    fn prompts(&self) -> Option<std::sync::Arc<crate::agent::prompt::files::PromptFiles>> {
        self.inner.prompts()
    }

    async fn guess(&self, obs: &Observation) -> Guess {
        self.assist.observed(obs);
        let guess = self.inner.guess(obs).await;
        self.assist.placing(&guess);
        guess
    }
}
