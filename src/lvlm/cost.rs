//! Estimated cost: a price table (US dollars per million input / cached input / output tokens,
//! plus per image where a provider bills images separately) with defaults for well-known vision
//! models, overridable from `[model.prices]`, and the [`Priced`] layer that writes each call's
//! cost into its [`Usage`].
//!
//! Image tokens are already counted in the input tokens every listed provider reports, so the
//! defaults have `per_image = 0`.

use super::{LvlmError, Provider, Request, Response, Usage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One model's prices in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// Input tokens served from the provider's prompt cache; absent = the full input price.
    #[serde(default)]
    pub cached_input_per_mtok: Option<f64>,
    #[serde(default)]
    pub per_image: f64,
}

impl Price {
    const fn new(input: f64, cached: f64, output: f64) -> Self {
        Self {
            input_per_mtok: input,
            output_per_mtok: output,
            cached_input_per_mtok: Some(cached),
            per_image: 0.0,
        }
    }

    /// The cost of one call.
    pub fn cost(&self, usage: &Usage, images: usize) -> f64 {
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let fresh = usage.input_tokens - cached;
        let cached_rate = self.cached_input_per_mtok.unwrap_or(self.input_per_mtok);
        (fresh as f64 * self.input_per_mtok
            + cached as f64 * cached_rate
            + usage.output_tokens as f64 * self.output_per_mtok)
            / 1e6
            + images as f64 * self.per_image
    }

    /// Negative or non-finite prices are a configuration mistake.
    pub fn is_valid(&self) -> bool {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        ok(self.input_per_mtok)
            && ok(self.output_per_mtok)
            && ok(self.per_image)
            && self.cached_input_per_mtok.is_none_or(ok)
    }
}

/// List prices (USD per million tokens: input, cached input, output) as published by OpenAI,
/// Anthropic and Google, as known in mid-2025. They change: override any of them, or add models,
/// under `[model.prices."MODEL"]` in geoagent.toml. A model matches the longest entry its name
/// starts with, so dated snapshots (`gpt-4o-2024-08-06`) take their family's price. Gemini 2.5 Pro
/// is listed at its price for prompts up to 200k tokens, which covers every geoagent request.
pub(crate) const DEFAULT_PRICES: [(&str, Price); 20] = [
    ("gpt-4o", Price::new(2.50, 1.25, 10.00)),
    ("gpt-4o-mini", Price::new(0.15, 0.075, 0.60)),
    ("gpt-4.1", Price::new(2.00, 0.50, 8.00)),
    ("gpt-4.1-mini", Price::new(0.40, 0.10, 1.60)),
    ("gpt-4.1-nano", Price::new(0.10, 0.025, 0.40)),
    ("o3", Price::new(2.00, 0.50, 8.00)),
    ("o4-mini", Price::new(1.10, 0.275, 4.40)),
    ("gpt-5", Price::new(1.25, 0.125, 10.00)),
    ("gpt-5-mini", Price::new(0.25, 0.025, 2.00)),
    ("claude-sonnet-4", Price::new(3.00, 0.30, 15.00)),
    ("claude-3-7-sonnet", Price::new(3.00, 0.30, 15.00)),
    ("claude-3-5-sonnet", Price::new(3.00, 0.30, 15.00)),
    ("claude-3-5-haiku", Price::new(0.80, 0.08, 4.00)),
    ("claude-haiku-4-5", Price::new(1.00, 0.10, 5.00)),
    ("claude-opus-4", Price::new(15.00, 1.50, 75.00)),
    ("gemini-2.5-pro", Price::new(1.25, 0.31, 10.00)),
    ("gemini-2.5-flash", Price::new(0.30, 0.075, 2.50)),
    ("gemini-2.5-flash-lite", Price::new(0.10, 0.025, 0.40)),
    ("gemini-2.0-flash", Price::new(0.10, 0.025, 0.40)),
    ("gemini-2.0-flash-lite", Price::new(0.075, 0.075, 0.30)),
];

/// Prices by model-name prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    entries: BTreeMap<String, Price>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self {
            entries: DEFAULT_PRICES
                .iter()
                .map(|(m, p)| ((*m).to_string(), *p))
                .collect(),
        }
    }
}

impl PriceTable {
    /// The defaults with `overrides` replacing or adding entries.
    pub(crate) fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a String, &'a Price)>,
    ) -> Self {
        let mut t = Self::default();
        for (m, p) in overrides {
            t.entries.insert(m.trim().to_ascii_lowercase(), *p);
        }
        t
    }

    /// The price of `model`: the longest entry the name starts with (ignoring a `models/` or
    /// `provider/` prefix, as OpenRouter and Gemini write names).
    pub(crate) fn lookup(&self, model: &str) -> Option<Price> {
        let name = model.trim().to_ascii_lowercase();
        let name = name.rsplit('/').next().unwrap_or(&name);
        self.entries
            .iter()
            .filter(|(k, _)| name.starts_with(k.as_str()))
            .max_by_key(|(k, _)| k.len())
            .map(|(_, p)| *p)
    }
}

/// Writes each response's cost into its usage (`None` when the model has no price).
pub struct Priced {
    inner: Arc<dyn Provider>,
    price: Option<Price>,
}

impl Priced {
    pub fn new(inner: Arc<dyn Provider>, price: Option<Price>) -> Self {
        Self { inner, price }
    }
}

#[async_trait::async_trait]
impl Provider for Priced {
    fn name(&self) -> String {
        self.inner.name()
    }

    async fn complete(&self, req: &Request) -> Result<Response, LvlmError> {
        let mut resp = self.inner.complete(req).await?;
        resp.usage.cost_usd = self
            .price
            .map(|p| p.cost(&resp.usage, req.images().count()));
        Ok(resp)
    }
}

/// One line for the match summary: calls, tokens and estimated cost, from each exchange's usage
/// and whether it came from the cache. `None` when no model was called.
pub(crate) fn usage_summary<'a>(
    exchanges: impl IntoIterator<Item = (&'a Usage, bool)>,
) -> Option<String> {
    let (mut calls, mut cached, mut unpriced) = (0usize, 0usize, 0usize);
    let mut total = Usage::default();
    for (u, was_cached) in exchanges {
        calls += 1;
        if was_cached {
            cached += 1;
        }
        if u.cost_usd.is_none() && u.input_tokens + u.output_tokens > 0 {
            unpriced += 1;
        }
        total += *u;
    }
    if calls == 0 {
        return None;
    }
    let cached_note = if cached > 0 {
        format!(" ({cached} from the cache, free)")
    } else {
        String::new()
    };
    let cost = match (total.cost_usd, unpriced) {
        (Some(c), 0) => format!("estimated cost ${c:.4} at list prices"),
        (Some(c), n) => format!(
            "estimated cost ${c:.4} at list prices, plus {n} call(s) with no known price (add [model.prices])"
        ),
        (None, _) => "cost unknown: no price for this model (add it under [model.prices])".to_string(),
    };
    Some(format!(
        "Model: {calls} call(s){cached_note} · {} input + {} output tokens · {cost}",
        total.input_tokens, total.output_tokens
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_calls_tokens_cache_and_cost() {
        assert_eq!(usage_summary(std::iter::empty()), None);
        let paid = Usage {
            input_tokens: 1000,
            output_tokens: 200,
            cached_input_tokens: 0,
            cost_usd: Some(0.0045),
        };
        let free = Usage {
            cost_usd: Some(0.0),
            ..paid
        };
        let s = usage_summary([(&paid, false), (&free, true)]).expect("summary");
        assert!(s.contains("2 call(s) (1 from the cache, free)"), "{s}");
        assert!(s.contains("2000 input + 400 output tokens"), "{s}");
        assert!(s.contains("$0.0045"), "{s}");
        let unknown = Usage {
            cost_usd: None,
            ..paid
        };
        let s = usage_summary([(&unknown, false)]).expect("summary");
        assert!(s.contains("cost unknown"), "{s}");
    }

    #[test]
    fn longest_prefix_wins() {
        let t = PriceTable::default();
        assert_eq!(
            t.lookup("gpt-4o-mini-2024-07-18"),
            Some(DEFAULT_PRICES[1].1)
        );
        assert_eq!(t.lookup("gpt-4o-2024-08-06"), Some(DEFAULT_PRICES[0].1));
        assert_eq!(
            t.lookup("models/gemini-2.5-flash-lite"),
            Some(DEFAULT_PRICES[17].1)
        );
        assert_eq!(t.lookup("openai/gpt-4.1"), Some(DEFAULT_PRICES[2].1));
        assert_eq!(t.lookup("llava:13b"), None);
    }

    #[test]
    fn overrides_replace_and_add() {
        let cheap = Price {
            input_per_mtok: 0.0,
            output_per_mtok: 0.0,
            cached_input_per_mtok: None,
            per_image: 0.01,
        };
        let o: BTreeMap<String, Price> =
            [("gpt-4o".to_string(), cheap), ("LLaVA".to_string(), cheap)].into();
        let t = PriceTable::with_overrides(&o);
        assert_eq!(t.lookup("gpt-4o"), Some(cheap));
        assert_eq!(t.lookup("llava:13b"), Some(cheap));
        assert_eq!(t.lookup("gpt-4o-mini"), Some(DEFAULT_PRICES[1].1));
    }

    #[test]
    fn cost_counts_cached_output_and_images() {
        let p = Price {
            input_per_mtok: 2.0,
            output_per_mtok: 8.0,
            cached_input_per_mtok: Some(0.5),
            per_image: 0.001,
        };
        let u = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
            cached_input_tokens: 400_000,
            cost_usd: None,
        };
        // 600k fresh at 2 + 400k cached at 0.5 + 500k out at 8 + 2 images.
        let c = p.cost(&u, 2);
        assert!((c - (1.2 + 0.2 + 4.0 + 0.002)).abs() < 1e-9, "{c}");
        assert!(p.is_valid());
        assert!(!Price {
            input_per_mtok: -1.0,
            ..p
        }
        .is_valid());
    }
}
