//! Settings turned into the domain's parts: the maps, the model providers, the reasoner (an LVLM
//! with its strategy, or the baseline), the embedder, the prompt source and a match plan. Only
//! the command line knows about [`Settings`]; the parts take their own plain options.

use crate::agent::baseline::{baseline_point, BaselineReasoner};
use crate::agent::prompt::files::{PromptFiles, WithPrompts};
use crate::agent::prompt::PromptSource;
use crate::agent::reasoner::ReasonerOptions;
use crate::agent::strategy::{
    self, HintSource, Retrieval, StrategyError, StrategyKind, StrategyOptions,
};
use crate::agent::Reasoner;
use crate::browser::BrowserOptions;
use crate::config::Settings;
use crate::environment::CaptureOptions;
use crate::game::{pack, ChallengeKey, Map};
use crate::geo::LatLon;
use crate::index::embed::{BuiltinEmbedder, Embedder, HttpEmbedder};
use crate::index::ReferenceIndex;
use crate::lvlm::Provider;
use crate::session::MatchPlan;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// The configured model and the ensemble's extra models.
pub type Providers = (Arc<dyn Provider>, Vec<Arc<dyn Provider>>);

/// Every map (built in and packs under `game.maps_dir`) and the one `game.map` names.
pub(crate) fn load_maps(settings: &Settings) -> Result<(Vec<Arc<Map>>, Arc<Map>)> {
    let maps: Vec<Arc<Map>> = pack::load_all(&settings.game.maps_dir)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let map = pack::select(&maps, &settings.game.map)?.clone();
    Ok((maps, map))
}

/// A run or session argument: a path as given, else a name under the replay dir (or its `runs/`).
pub(crate) fn locate(settings: &Settings, target: &str) -> PathBuf {
    let direct = PathBuf::from(target);
    if direct.exists() {
        return direct;
    }
    let run = settings
        .replay
        .dir
        .join(crate::fleet::games::RUNS_DIR)
        .join(format!("{target}.json"));
    if run.is_file() {
        return run;
    }
    settings.replay.dir.join(target)
}

/// The configured model and the ensemble's extra models (`agent.ensemble_models`, each
/// `provider:name` or a name for the main provider), or `None` when no model is named (the
/// baseline reasoner plays).
pub(crate) fn build_providers(settings: &Settings) -> Result<Option<Providers>> {
    let Some(spec) = settings.provider_spec()? else {
        return Ok(None);
    };
    let main = crate::lvlm::build_provider(&spec)?;
    let extra = settings
        .agent
        .ensemble_models
        .iter()
        .map(|m| -> Result<Arc<dyn Provider>> {
            // Each extra model is resolved exactly as `model.name` would be (provider prefix,
            // its key and base URL), so an ensemble may mix providers.
            let mut one = settings.clone();
            one.model.name = Some(m.clone());
            let spec = one
                .provider_spec()?
                .with_context(|| format!("agent.ensemble_models: `{m}` names no model"))?;
            Ok(crate::lvlm::build_provider(&spec)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((main, extra)))
}

/// The configured reasoner: an LVLM with the configured strategy when a model is named, else the
/// baseline (said so once).
pub fn build_reasoner(settings: &Settings, map: &Map) -> Result<Arc<dyn Reasoner>> {
    build_reasoner_from(settings, map, None)
}

/// [`build_reasoner`], with `recorded` (a session's prompt set) in place of the configured prompts.
pub(crate) fn build_reasoner_from(
    settings: &Settings,
    map: &Map,
    recorded: Option<Arc<PromptFiles>>,
) -> Result<Arc<dyn Reasoner>> {
    let Some((provider, extra)) = build_providers(settings)? else {
        let hint = if settings.has_any_api_key() {
            " (an API key is set: add --model NAME to use it)"
        } else {
            " (add --model PROVIDER:NAME and set its API key, e.g. OPENAI_API_KEY, to use an LVLM)"
        };
        errln!("No model configured: playing with the built-in baseline reasoner, the map's expected-score optimum{hint}.");
        return Ok(Arc::new(BaselineReasoner::for_map(map)));
    };
    strategy_reasoner(
        settings,
        provider,
        extra,
        Some(map),
        baseline_point(map),
        Arc::new(strategy::NoHints),
        recorded,
    )
}

/// The configured model's reasoner with a person's `hints` (the interactive strategy), or `None`
/// when no model is named: the baseline cannot take hints.
pub(crate) fn build_reasoner_with_hints(
    settings: &Settings,
    map: &Map,
    hints: Arc<dyn HintSource>,
) -> Result<Option<Arc<dyn Reasoner>>> {
    let Some((provider, extra)) = build_providers(settings)? else {
        return Ok(None);
    };
    strategy_reasoner(
        settings,
        provider,
        extra,
        Some(map),
        baseline_point(map),
        hints,
        None,
    )
    .map(Some)
}

/// The shipped prompts are compiled in; a folder overrides them. Only the default folder may be
/// absent (running from elsewhere): a configured one that is missing is a mistake to report. A
/// folder is read once, here, the templates the strategy uses: the model gets that text and the
/// session records it. A folder whose texts are the shipped ones is the built-in set.
pub(crate) fn prompt_source(settings: &Settings) -> Result<PromptSource> {
    let default_dir = crate::config::AgentSettings::default().prompts_dir;
    let dir = &settings.agent.prompts_dir;
    if *dir == default_dir && !default_dir.is_dir() {
        return Ok(PromptSource::Builtin);
    }
    let set = PromptFiles::read(dir, settings.agent.strategy.template_names())?;
    Ok(if set.is_builtin() {
        PromptSource::Builtin
    } else {
        PromptSource::Files(Arc::new(set))
    })
}

/// The prompt set a recorded session (folder `dir`, manifest `m`) is continued or re-run with:
/// the one it recorded, unless `--prompts` (`agent.prompts_dir`) names another folder; `None`
/// when it recorded none (the built-in prompts) or another folder was named.
pub(crate) fn recorded_prompts(
    settings: &Settings,
    dir: &std::path::Path,
    m: &crate::replay::Manifest,
) -> Result<Option<Arc<PromptFiles>>> {
    let Some(info) = &m.prompts else {
        return Ok(None);
    };
    if settings.agent.prompts_dir != crate::config::AgentSettings::default().prompts_dir {
        return Ok(None);
    }
    let set = crate::replay::prompts::read(dir, info, settings.agent.strategy.template_names())?;
    Ok(Some(Arc::new(set)))
}

/// The configured embedder: the endpoint when `agent.embedding_url` is set, else the built-in
/// descriptor.
pub fn embedder(settings: &Settings) -> Result<Arc<dyn Embedder>> {
    Ok(
        match (
            &settings.agent.embedding_url,
            &settings.agent.embedding_model,
        ) {
            (Some(url), Some(model)) => Arc::new(HttpEmbedder::new(
                url,
                model,
                settings.model.api_key.clone(),
            )?),
            _ => Arc::new(BuiltinEmbedder),
        },
    )
}

/// The reasoner for `agent.strategy` over `provider`. `map` is the map played (its size weighs
/// the ensemble, its id is checked against a rag index); `hints` feeds the interactive strategy.
pub(crate) fn strategy_reasoner(
    settings: &Settings,
    provider: Arc<dyn Provider>,
    extra_providers: Vec<Arc<dyn Provider>>,
    map: Option<&Map>,
    fallback: LatLon,
    hints: Arc<dyn HintSource>,
    recorded: Option<Arc<PromptFiles>>,
) -> Result<Arc<dyn Reasoner>> {
    let kind = settings.agent.strategy;
    let retrieval = if kind == StrategyKind::Rag {
        let path = settings.agent.index.clone().ok_or(StrategyError::NoIndex)?;
        let index = ReferenceIndex::load(&path)?;
        Some(Retrieval {
            index: Arc::new(index),
            embedder: embedder(settings)?,
            path,
        })
    } else {
        None
    };
    let sopts = StrategyOptions {
        map_size_km: map.map_or(crate::game::WORLD_SIZE_KM, |m| m.size_km),
        played_map: map.map(|m| m.id.clone()),
        samples: settings.agent.samples,
        extra_providers,
        retrieval,
        rag_k: settings.agent.rag_k,
        hints,
    };
    let opts = ReasonerOptions {
        max_tokens: settings.model.max_tokens,
        temperature: settings.model.temperature,
        round_timeout: settings.round_timeout(),
    };
    let prompts = match recorded {
        Some(set) => PromptSource::Files(set),
        None => prompt_source(settings)?,
    };
    let reasoner = strategy::build(kind, provider, &prompts, fallback, opts, sopts)?;
    Ok(match prompts {
        PromptSource::Files(prompts) => Arc::new(WithPrompts {
            inner: reasoner,
            prompts,
        }),
        _ => reasoner,
    })
}

/// The capture options the settings describe.
pub(crate) fn capture_options(settings: &Settings) -> CaptureOptions {
    CaptureOptions {
        headings: settings.capture.headings,
        zoom_steps: settings.capture.zoom_steps,
        jpeg_quality: settings.capture.jpeg_quality,
    }
}

/// The challenge key `server.challenge_key` names, created on first use (see [`ChallengeKey`]).
pub(crate) fn challenge_key(settings: &Settings) -> anyhow::Result<ChallengeKey> {
    ChallengeKey::load_or_create(&settings.server.challenge_key)
        .context("set server.challenge_key (or GEOAGENT_SERVER__CHALLENGE_KEY) to a usable file")
}

/// The key a recorded session or run was played with, for resuming it: the public key when it
/// recorded none (played before keys existed), else the configured one if it is the same key.
pub(crate) fn recorded_key(
    settings: &Settings,
    key_id: Option<&str>,
    what: &str,
) -> anyhow::Result<ChallengeKey> {
    let Some(want) = key_id else {
        return Ok(ChallengeKey::PUBLIC);
    };
    let key = challenge_key(settings)?;
    anyhow::ensure!(
        key.fingerprint().as_deref() == Some(want),
        "{what} was played with challenge key {want}, but {} holds {}: resume it with the same key file (server.challenge_key)",
        settings.server.challenge_key.display(),
        key.fingerprint().unwrap_or_else(|| "no key".into())
    );
    Ok(key)
}

/// The strategy a recorded session or run was played with, for resuming it. The record may come
/// from anywhere: an unknown name is an error naming `what`, not a silent default.
pub(crate) fn recorded_strategy(recorded: &str, what: &str) -> anyhow::Result<StrategyKind> {
    StrategyKind::parse(recorded).ok_or_else(|| {
        anyhow::anyhow!(
            "{what} records strategy {recorded:?}, which this version does not know; choose one of: {}",
            strategy::NAMES.join(", ")
        )
    })
}

/// What a recorded session or run fixes for its continuation, read from its manifest or run
/// file (which may come from anyone).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Recorded<'a> {
    /// Rounds of a local-game challenge (`game.rounds`) and the record's name for them
    /// (`challenge.rounds`, `rounds`); `None` for a bench session, whose rounds are checked by
    /// [`crate::cli::bench::check_bench_rounds`].
    pub rounds: Option<(usize, &'static str)>,
    pub strategy: &'a str,
    /// `None` keeps the configured capture (a run file records none).
    pub capture: Option<&'a crate::replay::CaptureInfo>,
}

/// The settings a resumed session or run plays with: `settings` with the recorded rounds,
/// strategy and capture, through the same checks as the command line ([`Settings::validate`]),
/// so a tampered record (`zoom_steps = 4294967295`, `headings = 5000`, `rounds = 60`,
/// `jpeg_quality = 0`) is an error naming `what` (the file) and the record's field, never a run.
pub(crate) fn resumed_settings(
    settings: &Settings,
    recorded: Recorded<'_>,
    what: &str,
) -> Result<Settings> {
    let mut s = settings.clone();
    if let Some((r, _)) = recorded.rounds {
        s.game.rounds = r;
    }
    s.agent.strategy = recorded_strategy(recorded.strategy, what)?;
    if let Some(c) = recorded.capture {
        s.capture.headings = c.headings;
        s.capture.zoom_steps = c.zoom_steps;
        s.capture.jpeg_quality = c.jpeg_quality;
    }
    s.validate().map_err(|e| match e {
        crate::config::ConfigError::Invalid {
            key,
            value,
            problem,
        } => {
            // The record names its rounds its own way; the capture keys are spelled alike.
            let field = match (key, recorded.rounds) {
                ("game.rounds", Some((_, name))) => name,
                _ => key,
            };
            anyhow::anyhow!(
                "{what}: {field} = {}: {problem} (the same check as on the command line)",
                crate::text::line(&value, 40)
            )
        }
        other => {
            anyhow::Error::new(other).context(format!("{what}: a value geoagent does not accept"))
        }
    })?;
    Ok(s)
}

/// The match plan the settings describe, for `map` and `seed`, its places picked with `key`.
pub(crate) fn match_plan(
    settings: &Settings,
    maps: Vec<Arc<Map>>,
    map: Arc<Map>,
    seed: u64,
    key: ChallengeKey,
) -> MatchPlan {
    MatchPlan {
        maps,
        map,
        seed,
        key,
        rounds: settings.game.rounds,
        browser: browser_options(settings),
        capture: capture_options(settings),
        replay_root: settings.replay.dir.clone(),
        strategy: settings.agent.strategy.to_string(),
    }
}

/// The browser the settings describe (chromedriver or a Grid, Chromium, window, advertised address).
pub(crate) fn browser_options(settings: &Settings) -> BrowserOptions {
    BrowserOptions {
        chromedriver: settings.browser.chromedriver.clone(),
        chromium: settings.browser.chromium.clone(),
        webdriver_url: settings.browser.webdriver_url.clone(),
        // Checked when the settings were loaded.
        advertise: settings
            .browser
            .advertise
            .as_deref()
            .and_then(|a| crate::browser::Advertise::parse(a).ok()),
        headless: settings.browser.headless,
        viewport: (
            settings.browser.viewport_width,
            settings.browser.viewport_height,
        ),
    }
}

/// The configured seed, or a random one (printed by the caller, so the game can be shared).
pub(crate) fn seed_or_random(settings: &Settings) -> u64 {
    settings
        .game
        .seed
        .unwrap_or_else(|| rand::random::<u32>().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_strategy_is_checked_before_a_resume_uses_it() {
        assert_eq!(
            recorded_strategy("rag", "x").unwrap(),
            StrategyKind::Rag,
            "names written by this version read back"
        );
        let e = recorded_strategy("<script>", "run file /tmp/r.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("run file /tmp/r.json") && e.contains("ensemble"),
            "{e}"
        );
    }
}
