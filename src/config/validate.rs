//! Checks of values that parse but make no sense, each naming its key and the allowed range.

use super::{ConfigError, Settings, MAX_HEADINGS, MAX_ROUNDS, MAX_TIMEOUT_SECS, MIN_TIMEOUT_SECS};
use crate::lvlm::image::MIN_IMAGE_SIDE;
use crate::lvlm::limit::MAX_CONCURRENCY_LIMIT;

impl Settings {
    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key, value: String, problem: &str| ConfigError::Invalid {
            key,
            value,
            problem: problem.into(),
        };
        if !(1..=MAX_ROUNDS).contains(&self.game.rounds) {
            return Err(bad(
                "game.rounds",
                self.game.rounds.to_string(),
                &format!("must be 1..={MAX_ROUNDS}"),
            ));
        }
        if !(1..=MAX_HEADINGS).contains(&self.capture.headings) {
            return Err(bad(
                "capture.headings",
                self.capture.headings.to_string(),
                &format!("must be 1..={MAX_HEADINGS}"),
            ));
        }
        if !(1..=100).contains(&self.capture.jpeg_quality) {
            return Err(bad(
                "capture.jpeg_quality",
                self.capture.jpeg_quality.to_string(),
                "must be 1..=100",
            ));
        }
        if self.capture.zoom_steps > 6 {
            return Err(bad(
                "capture.zoom_steps",
                self.capture.zoom_steps.to_string(),
                "must be 0..=6 (each step zooms 1.5x)",
            ));
        }
        if self.browser.viewport_width < 640 || self.browser.viewport_height < 480 {
            return Err(bad(
                "browser.viewport_width/height",
                format!(
                    "{}x{}",
                    self.browser.viewport_width, self.browser.viewport_height
                ),
                "must be at least 640x480",
            ));
        }
        for (key, v) in [
            (
                "model.request_timeout_secs",
                self.model.request_timeout_secs,
            ),
            ("model.round_timeout_secs", self.model.round_timeout_secs),
        ] {
            if !(v.is_finite() && (MIN_TIMEOUT_SECS..=MAX_TIMEOUT_SECS).contains(&v)) {
                return Err(bad(
                    key,
                    v.to_string(),
                    &format!("must be a number of seconds from {MIN_TIMEOUT_SECS} and at most {MAX_TIMEOUT_SECS} (a day)"),
                ));
            }
        }
        if let Some(t) = self.model.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(bad("model.temperature", t.to_string(), "must be 0..=2"));
            }
        }
        if let Some(b) = self.model.thinking_budget {
            if b < 1024 {
                return Err(bad(
                    "model.thinking_budget",
                    b.to_string(),
                    "must be at least 1024 tokens (Anthropic's minimum)",
                ));
            }
        }
        if let Some(n) = self
            .model
            .max_concurrency
            .filter(|n| !(1..=MAX_CONCURRENCY_LIMIT).contains(n))
        {
            return Err(bad(
                "model.max_concurrency",
                n.to_string(),
                &format!("must be 1..={MAX_CONCURRENCY_LIMIT}"),
            ));
        }
        if self.model.requests_per_minute == Some(0) {
            return Err(bad(
                "model.requests_per_minute",
                "0".into(),
                "must be above zero (leave it out for no limit)",
            ));
        }
        if self.model.max_image_side != 0 && self.model.max_image_side < MIN_IMAGE_SIDE {
            return Err(bad(
                "model.max_image_side",
                self.model.max_image_side.to_string(),
                &format!("must be 0 (no limit) or at least {MIN_IMAGE_SIDE} pixels"),
            ));
        }
        if !(1..=100).contains(&self.model.image_jpeg_quality) {
            return Err(bad(
                "model.image_jpeg_quality",
                self.model.image_jpeg_quality.to_string(),
                "must be 1..=100",
            ));
        }
        for (m, p) in &self.model.prices {
            if !p.is_valid() {
                return Err(bad(
                    "model.prices",
                    m.clone(),
                    "prices must be finite and not negative",
                ));
            }
        }
        if let Some(u) = &self.model.base_url {
            match url::Url::parse(u) {
                Ok(p) if p.scheme() == "http" || p.scheme() == "https" => {}
                _ => {
                    return Err(bad(
                        "model.base_url",
                        u.clone(),
                        "must be an http(s) URL such as https://api.openai.com/v1",
                    ))
                }
            }
        }
        if let Some(u) = &self.browser.webdriver_url {
            if url::Url::parse(u).is_err() {
                return Err(bad(
                    "browser.webdriver_url",
                    u.clone(),
                    "must be a URL such as http://127.0.0.1:4444",
                ));
            }
        }
        if let Some(a) = &self.browser.advertise {
            if let Err(why) = crate::browser::Advertise::parse(a) {
                return Err(bad("browser.advertise", a.clone(), &why));
            }
        }
        if !(1..=crate::agent::strategy::MAX_SAMPLES).contains(&self.agent.samples) {
            return Err(bad(
                "agent.samples",
                self.agent.samples.to_string(),
                &format!("must be 1..={}", crate::agent::strategy::MAX_SAMPLES),
            ));
        }
        if !(1..=crate::index::MAX_K).contains(&self.agent.rag_k) {
            return Err(bad(
                "agent.rag_k",
                self.agent.rag_k.to_string(),
                &format!("must be 1..={}", crate::index::MAX_K),
            ));
        }
        if self.agent.embedding_url.is_some() != self.agent.embedding_model.is_some() {
            return Err(bad(
                "agent.embedding_url/embedding_model",
                format!(
                    "{:?}/{:?}",
                    self.agent.embedding_url, self.agent.embedding_model
                ),
                "set both (an endpoint and its model) or neither (built-in descriptor)",
            ));
        }
        self.model_choice()?;
        self.site_options()?;
        Ok(())
    }
}
