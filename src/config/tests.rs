//! The layers, their precedence, the errors that name their source, and secrets that never
//! print.

use super::*;
use crate::agent::strategy::StrategyKind;
use crate::lvlm::{ProviderKind, ReasoningEffort};
use secrecy::ExposeSecret;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn toml(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn defaults_without_any_layer() {
    let s = Settings::load(Some(toml("").path()), &[], &[]).unwrap();
    assert_eq!(s.game.rounds, 5);
    assert_eq!(s.game.map, "world");
    assert_eq!(s.capture.headings, 4);
    assert!(s.model_choice().unwrap().is_none());
}

#[test]
fn precedence_file_env_flags() {
    let f = toml("[game]\nrounds = 7\nmap = \"file-map\"\n[capture]\nheadings = 6\n");
    let e = env(&[
        ("GEOAGENT_GAME__ROUNDS", "9"),
        ("GEOAGENT_GAME__MAP", "env-map"),
    ]);
    let s = Settings::load(Some(f.path()), &e, &[("game.rounds", "3".into())]).unwrap();
    assert_eq!(s.game.rounds, 3, "flag beats env");
    assert_eq!(s.game.map, "env-map", "env beats file");
    assert_eq!(s.capture.headings, 6, "file beats default");
}

#[test]
fn openai_env_ranks_below_geoagent_env() {
    let e = env(&[
        ("OPENAI_API_KEY", "sk-openai"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
        ("GEOAGENT_MODEL__BASE_URL", "http://127.0.0.1:2/v1"),
    ]);
    let s = Settings::load(
        Some(toml("[model]\nbase_url = \"http://127.0.0.1:3/v1\"\napi_key = \"sk-file\"").path()),
        &e,
        &[("model.name", "gpt-4o".into())],
    )
    .unwrap();
    assert_eq!(
        s.api_key_for(ProviderKind::OpenAi).unwrap().expose_secret(),
        "sk-openai",
        "the provider variable beats the file"
    );
    assert_eq!(
        s.model_choice().unwrap().unwrap().base_url,
        "http://127.0.0.1:2/v1"
    );
    let s = Settings::load(
        Some(toml("[model]\napi_key = \"sk-file\"").path()),
        &env(&[
            ("OPENAI_API_KEY", "sk-openai"),
            ("GEOAGENT_MODEL__API_KEY", "sk-geo"),
        ]),
        &[],
    )
    .unwrap();
    assert_eq!(
        s.api_key_for(ProviderKind::OpenAi).unwrap().expose_secret(),
        "sk-geo"
    );
}

#[test]
fn each_provider_takes_its_own_key_and_base_url() {
    let e = env(&[
        ("OPENAI_API_KEY", "sk-openai"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
        ("ANTHROPIC_API_KEY", "sk-ant"),
        ("GOOGLE_API_KEY", "g-key"),
    ]);
    let load = |name: &str| {
        Settings::load(Some(toml("").path()), &e, &[("model.name", name.into())]).unwrap()
    };
    let s = load("anthropic:claude-sonnet-4-0");
    let c = s.model_choice().unwrap().unwrap();
    assert_eq!(c.kind, ProviderKind::Anthropic);
    assert_eq!(c.base_url, crate::lvlm::anthropic::ANTHROPIC_BASE_URL);
    assert_eq!(
        s.api_key_for(c.kind).unwrap().expose_secret(),
        "sk-ant",
        "never the OpenAI key"
    );
    let s = load("gemini:gemini-2.5-flash");
    assert_eq!(
        s.api_key_for(ProviderKind::Gemini).unwrap().expose_secret(),
        "g-key"
    );
    let s = load("ollama:llava:13b");
    let c = s.model_choice().unwrap().unwrap();
    assert_eq!(
        (c.kind, c.model.as_str()),
        (ProviderKind::Ollama, "llava:13b")
    );
    assert!(s.api_key_for(ProviderKind::Ollama).is_none());
    let s = load("openai-responses:o4-mini");
    let c = s.model_choice().unwrap().unwrap();
    assert_eq!(
        (c.kind, c.base_url.as_str()),
        (ProviderKind::OpenAiResponses, "http://127.0.0.1:1/v1")
    );
    let spec = s.provider_spec().unwrap().unwrap();
    assert!(format!("{spec:?}").contains("[redacted]"));
    assert!(!format!("{spec:?} {s:?}").contains("sk-openai"));
    assert!(!format!("{spec:?} {s:?}").contains("sk-ant"));
}

/// Issue 15: `--concurrency 64` must not be capped by the provider's default of 32, while a
/// limit the user wrote down stays and is reported as the cap.
#[test]
fn the_in_flight_limit_follows_the_requested_concurrency_unless_set_lower() {
    use crate::lvlm::limit::DEFAULT_MAX_CONCURRENCY;
    let named = [("model.name", "openai:m".to_string())];
    let mut s = Settings::load(None, &[], &named).unwrap();
    let got = s.follow_concurrency(64);
    assert_eq!((got.limit, got.capped()), (64, None));
    assert_eq!(
        s.provider_spec().unwrap().unwrap().limits.max_concurrency,
        64
    );
    // Few rounds at once keep the default, so ensemble samples are not squeezed.
    let mut s = Settings::load(None, &[], &named).unwrap();
    let got = s.follow_concurrency(2);
    assert_eq!((got.limit, got.capped()), (DEFAULT_MAX_CONCURRENCY, None));
    // Set by the user (file, variable or flag): kept, and reported when lower.
    let f = toml("[model]\nname = \"openai:m\"\nmax_concurrency = 8\n");
    let mut s = Settings::load(Some(f.path()), &[], &[]).unwrap();
    assert_eq!(s.follow_concurrency(64).capped(), Some(8));
    assert_eq!(
        s.provider_spec().unwrap().unwrap().limits.max_concurrency,
        8
    );
    let vars = env(&[("GEOAGENT_MODEL__MAX_CONCURRENCY", "100")]);
    let mut s = Settings::load(None, &vars, &named).unwrap();
    let got = s.follow_concurrency(64);
    assert_eq!((got.limit, got.capped()), (100, None));
}

#[test]
fn model_section_options_are_checked_and_reach_the_spec() {
    let f = toml(
        "[model]\nname = \"gpt-4o\"\nreasoning_effort = \"high\"\nmax_concurrency = 4\n\
         requests_per_minute = 60\ncache = false\nmax_image_side = 512\n\
         [model.prices.\"gpt-4o\"]\ninput_per_mtok = 1.0\noutput_per_mtok = 2.0\n",
    );
    let s = Settings::load(Some(f.path()), &[], &[]).unwrap();
    let spec = s.provider_spec().unwrap().unwrap();
    assert_eq!(spec.client.reasoning_effort, Some(ReasoningEffort::High));
    assert_eq!(spec.limits.max_concurrency, 4);
    assert_eq!(spec.limits.requests_per_minute.map(|n| n.get()), Some(60));
    assert_eq!(spec.cache_dir, None);
    assert_eq!(spec.image_budget.max_side, 512);
    assert_eq!(spec.prices.lookup("gpt-4o").unwrap().input_per_mtok, 1.0);
    for (toml_text, key) in [
        (
            "[model]\nreasoning_effort = \"max\"",
            "model.reasoning_effort",
        ),
        ("[model]\nmax_concurrency = 0", "model.max_concurrency"),
        ("[model]\nmax_image_side = 10", "model.max_image_side"),
        ("[model]\nthinking_budget = 5", "model.thinking_budget"),
        (
            "[model.prices.x]\ninput_per_mtok = -1.0\noutput_per_mtok = 1.0",
            "model.prices",
        ),
    ] {
        let err = Settings::load(Some(toml(toml_text).path()), &[], &[])
            .unwrap_err()
            .to_string();
        // Checked values start with their key; typed ones are named by the config reader.
        assert!(
            err.starts_with(key) || err.contains(&format!("for key `{key}`")),
            "{err}"
        );
    }
    let s = Settings::load(Some(toml("").path()), &[], &[]).unwrap();
    assert!(s.model.cache, "the cache is on by default");
}

#[test]
fn strategy_effort_and_detail_are_typed_where_they_are_read() {
    let f = toml(
        "[model]
name = \"gpt-4o\"
reasoning_effort = \"High\"
image_detail = \" low \"
[agent]
strategy = \"Coarse-To-Fine\"\n",
    );
    let s = Settings::load(Some(f.path()), &[], &[]).unwrap();
    assert_eq!(s.model.reasoning_effort, Some(ReasoningEffort::High));
    assert_eq!(s.model.image_detail, Some(crate::lvlm::ImageDetail::Low));
    assert_eq!(s.agent.strategy, StrategyKind::CoarseToFine);
    assert_eq!(
        s.provider_spec().unwrap().unwrap().client.image_detail,
        Some(crate::lvlm::ImageDetail::Low)
    );
    for (toml_text, key, choice) in [
        (
            "[agent]\nstrategy = \"gut\"",
            "agent.strategy",
            "coarse-to-fine",
        ),
        (
            "[model]\nimage_detail = \"max\"",
            "model.image_detail",
            "auto",
        ),
    ] {
        let f = toml(toml_text);
        let err = Settings::load(Some(f.path()), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(key) && err.contains(choice), "{err}");
        assert!(err.contains(&f.path().display().to_string()), "{err}");
    }
    let err = Settings::load(None, &[], &[("agent.strategy", "gut".to_string())])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("strategy") && err.contains("interactive"),
        "{err}"
    );
}

#[test]
fn unknown_key_in_file_names_file_and_key() {
    let f = toml("[game]\nrouds = 3\n");
    let err = Settings::load(Some(f.path()), &[], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains(&f.path().display().to_string()), "{err}");
    assert!(err.contains("rouds"), "{err}");
}

#[test]
fn unknown_env_key_is_an_error() {
    let err = Settings::load(
        Some(toml("").path()),
        &env(&[("GEOAGENT_GAME__ROUDS", "3")]),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("environment") && err.contains("rouds"),
        "{err}"
    );
}

#[test]
fn bad_values_name_the_key() {
    let err = Settings::load(Some(toml("[game]\nrounds = 0\n").path()), &[], &[]).unwrap_err();
    assert_eq!(err.to_string(), "game.rounds = 0: must be 1..=50");
    // The game server refuses more than its limit, so config does too (was 100 here).
    let err = Settings::load(Some(toml("[game]\nrounds = 60\n").path()), &[], &[]).unwrap_err();
    assert_eq!(err.to_string(), "game.rounds = 60: must be 1..=50");
    let err =
        Settings::load(Some(toml("[game]\nrounds = \"many\"\n").path()), &[], &[]).unwrap_err();
    assert!(err.to_string().contains("rounds"), "{err}");
    let err = Settings::load(
        Some(toml("").path()),
        &[],
        &[("model.name", "acme:x".into())],
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown provider 'acme'"), "{err}");
    let err = Settings::load(
        Some(toml("").path()),
        &[],
        &[("model.base_url", "ftp://x".into())],
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("model.base_url = ftp://x"),
        "{err}"
    );
}

#[test]
fn missing_explicit_file_is_an_error_but_default_file_is_optional() {
    let err = Settings::load(Some(Path::new("/nonexistent/geo.toml")), &[], &[]).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/geo.toml"), "{err}");
}

#[test]
fn model_choice_parses_provider_prefix() {
    let s = Settings::load(
        Some(toml("").path()),
        &[],
        &[("model.name", "openai:gpt-4o".into())],
    )
    .unwrap();
    let c = s.model_choice().unwrap().unwrap();
    assert_eq!(
        (c.provider.as_str(), c.model.as_str(), c.base_url.as_str()),
        ("openai", "gpt-4o", "https://api.openai.com/v1")
    );
    assert_eq!(c.kind, ProviderKind::OpenAi);
}

#[test]
fn api_key_never_prints() {
    let e = env(&[("OPENAI_API_KEY", "sk-secret-123")]);
    let s = Settings::load(Some(toml("").path()), &e, &[]).unwrap();
    assert!(!format!("{s:?}").contains("sk-secret-123"));
}

// Issue 13, item 2: the TOML parser quotes the line it could not read, and that line was the
// key's (`api_key = sk-...` without quotes printed the key).
#[test]
fn toml_error_on_the_api_key_line_does_not_print_the_key() {
    for text in [
        "[model]\napi_key = sk-live-SECRET123\n",
        "[model]\napi_key = \"sk-live-SECRET123\n",
        "[model]\nopenai_api_key = 'sk-live-SECRET123' x\n",
        "[model]\napi_key = [\"sk-live-SECRET123\"]\n",
        "[model]\ncookie = sk-live-SECRET123\n",
    ] {
        let f = toml(text);
        let err = Settings::load(Some(f.path()), &[], &[])
            .expect_err(text)
            .to_string();
        assert!(
            !err.contains("SECRET123"),
            "{text:?} printed the key: {err}"
        );
        assert!(err.contains(&f.path().display().to_string()), "{err}");
    }
    let err = Settings::load(
        Some(toml("").path()),
        &env(&[("GEOAGENT_MODEL__API_KEY", "123456789")]),
        &[],
    );
    if let Err(e) = err {
        assert!(!e.to_string().contains("123456789"), "{e}");
    }
}

// Issue 13, item 7: `request_timeout_secs = 1e20` passed validation and then panicked in
// `Duration::from_secs_f64`.
#[test]
fn the_panorama_wheel_step_is_checked_and_reaches_the_adapter() {
    for (text, want) in [
        (
            "[geoguessr]\nwheel_step_px = 0\n",
            "geoguessr.wheel_step_px = 0: must be 1..=1000",
        ),
        (
            "[geoguessr]\nwheel_step_px = 5000\n",
            "geoguessr.wheel_step_px = 5000: must be 1..=1000",
        ),
        (
            "[geoguessr]\nwheel_pause_ms = 60000\n",
            "geoguessr.wheel_pause_ms = 60000: must be 0..=10000",
        ),
    ] {
        let err = Settings::load(Some(toml(text).path()), &[], &[]).expect_err(text);
        assert_eq!(err.to_string(), want);
    }
    let s = Settings::load(
        Some(toml("[geoguessr]\nwheel_step_px = 120\nwheel_pause_ms = 0\n").path()),
        &[],
        &[],
    )
    .unwrap();
    let o = s.site_options().unwrap();
    assert_eq!((o.wheel_step_px, o.wheel_pause), (120, Duration::ZERO));
    let d = Settings::default().site_options().unwrap();
    assert_eq!(
        (d.wheel_step_px, d.wheel_pause),
        (100, Duration::from_millis(300))
    );
}

#[test]
fn huge_timeouts_are_rejected_with_the_key_and_range() {
    for (text, key) in [
        (
            "[model]\nrequest_timeout_secs = 1e20\n",
            "model.request_timeout_secs",
        ),
        (
            "[model]\nround_timeout_secs = 1e300\n",
            "model.round_timeout_secs",
        ),
        (
            "[model]\nrequest_timeout_secs = inf\n",
            "model.request_timeout_secs",
        ),
        (
            "[model]\nround_timeout_secs = nan\n",
            "model.round_timeout_secs",
        ),
        (
            "[model]\nrequest_timeout_secs = 86401\n",
            "model.request_timeout_secs",
        ),
    ] {
        let err = Settings::load(Some(toml(text).path()), &[], &[])
            .expect_err(text)
            .to_string();
        assert!(err.starts_with(key), "{err}");
        assert!(err.contains("at most 86400"), "{err}");
    }
    let s = Settings::load(
        Some(toml("[model]\nrequest_timeout_secs = 86400\n").path()),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(s.request_timeout(), Duration::from_secs(86_400));
    // Settings built by hand skip validation; the conversion still must not panic.
    let mut s = Settings::default();
    s.model.request_timeout_secs = 1e20;
    s.model.round_timeout_secs = f64::NAN;
    assert_eq!(s.request_timeout(), Duration::from_secs(86_400));
    assert_eq!(s.round_timeout(), Duration::from_secs(86_400));
}

// Issue 25, item 13: a syntax error inside an inline table printed the key on its line.
#[test]
fn an_inline_table_with_a_syntax_error_does_not_print_the_key() {
    for text in [
        "model = { api_key = \"sk-live-SECRET123\", name = }\n",
        "model = { name = \"openai:x\", api_key = \"sk-live-SECRET123\" x }\n",
        "model = {api_key=sk-live-SECRET123,name=\"x\"}\n",
        "[geoguessr]\nx = { cookie = 'sk-live-SECRET123', = }\n",
        "model = { api_key = \"\"\"sk-live-SECRET123\nmore\"\"\", name = }\n",
    ] {
        let f = toml(text);
        let err = Settings::load(Some(f.path()), &[], &[])
            .expect_err(text)
            .to_string();
        assert!(
            !err.contains("SECRET123"),
            "{text:?} printed the key: {err}"
        );
        assert!(err.contains(&f.path().display().to_string()), "{err}");
    }
}

// Issue 25, item 15: the `config` crate rounded floats into integer settings (`nan` became 0,
// "no limit") and took numbers as booleans; a timeout of 1e-10 s became a day.
#[test]
fn numbers_that_are_not_what_the_key_means_are_errors() {
    for (text, key, shown) in [
        (
            "[geoguessr]\ntime_limit_secs = nan\n",
            "geoguessr.time_limit_secs",
            "NaN",
        ),
        (
            "[geoguessr]\ntime_limit_secs = 2.7\n",
            "geoguessr.time_limit_secs",
            "2.7",
        ),
        (
            "[geoguessr]\nmax_rate_limit_retries = nan\n",
            "geoguessr.max_rate_limit_retries",
            "NaN",
        ),
        ("[game]\nrounds = 5.0\n", "game.rounds", "5"),
        ("[capture]\nzoom_steps = -1\n", "capture.zoom_steps", "-1"),
        (
            "[capture]\njpeg_quality = 300\n",
            "capture.jpeg_quality",
            "300",
        ),
        ("[browser]\nheadless = 1\n", "browser.headless", "1"),
        ("[model]\nmax_retries = 1e3\n", "model.max_retries", "1000"),
        (
            "[model]\nrequest_timeout_secs = 1e-10\n",
            "model.request_timeout_secs",
            "0.0000000001",
        ),
    ] {
        let err = Settings::load(Some(toml(text).path()), &[], &[])
            .expect_err(text)
            .to_string();
        assert!(err.contains(key), "{text:?}: {err}");
        assert!(err.contains(shown), "{text:?}: {err}");
    }
    // Whole numbers still read, from the file, the environment and flags alike.
    let s = Settings::load(
        Some(toml("[geoguessr]\ntime_limit_secs = 20\n[browser]\nheadless = false\n").path()),
        &env(&[("GEOAGENT_CAPTURE__HEADINGS", "3")]),
        &[("game.rounds", "7".into())],
    )
    .unwrap();
    assert_eq!(s.geoguessr.time_limit_secs, 20);
    assert!(!s.browser.headless);
    assert_eq!((s.capture.headings, s.game.rounds), (3, 7));
    let err = Settings::load(
        Some(toml("").path()),
        &env(&[("GEOAGENT_GAME__ROUNDS", "2.5")]),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("rounds") && err.contains("2.5"), "{err}");
}

/// Issue 13, "find the next ones": any config file and any `GEOAGENT_*` values give settings or
/// an error naming their source, never a panic and never a secret.
mod props {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "sk-PROPTEST-SECRET-9f3";

    const KEYS: [&str; 24] = [
        "game.map",
        "game.rounds",
        "game.seed",
        "game.maps_dir",
        "browser.headless",
        "browser.viewport_width",
        "browser.webdriver_url",
        "capture.headings",
        "capture.zoom_steps",
        "capture.jpeg_quality",
        "model.name",
        "model.base_url",
        "model.request_timeout_secs",
        "model.round_timeout_secs",
        "model.max_retries",
        "model.temperature",
        "model.image_detail",
        "model.reasoning_effort",
        "model.thinking_budget",
        "model.max_concurrency",
        "model.requests_per_minute",
        "model.max_image_side",
        "agent.strategy",
        "agent.samples",
    ];

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:e}")),
            Just("1e20".to_string()),
            Just("-0.0".to_string()),
            Just("nan".to_string()),
            Just("-inf".to_string()),
            any::<bool>().prop_map(|v| v.to_string()),
            "[a-zA-Z0-9:/._ -]{0,30}".prop_map(|s| format!("{s:?}")),
            "[a-z0-9]{1,12}",
            "\\PC{0,20}",
            Just("[1, 2]".to_string()),
            Just("{ a = 1 }".to_string()),
        ]
    }

    /// The error names its layer, its key, or the file.
    fn names_its_source(msg: &str, path: &str) -> bool {
        msg.contains(path)
            || msg.starts_with("environment variables")
            || msg.starts_with("command-line flags")
            || KEYS
                .iter()
                .any(|k| msg.contains(k.split('.').nth(1).unwrap_or(k)))
            || ["game.", "model.", "agent.", "capture.", "browser."]
                .iter()
                .any(|p| msg.starts_with(p))
    }

    fn check(result: Result<Settings, ConfigError>, path: &str) -> Result<(), TestCaseError> {
        match result {
            Ok(s) => {
                // Everything built from accepted settings must not panic either.
                let _ = s.request_timeout();
                let _ = s.round_timeout();
                let _ = s.model_choice();
                let _ = s.provider_spec();
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains(SECRET), "secret printed: {msg}");
                prop_assert!(names_its_source(&msg, path), "no source named: {msg}");
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_config_file(
            lines in proptest::collection::vec((proptest::sample::select(&KEYS[..]), value()), 0..6),
            key_line in prop_oneof![
                Just(format!("model.api_key = {SECRET}")),
                Just(format!("model.api_key = \"{SECRET}")),
                Just(format!("model.api_key = \"{SECRET}\"")),
                Just(format!("model.api_key = 1{SECRET}")),
            ],
            junk in "\\PC{0,40}",
        ) {
            let mut text: String = lines.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
            text.push_str(&key_line);
            text.push('\n');
            text.push_str(&junk);
            let f = toml(&text);
            let path = f.path().display().to_string();
            check(Settings::load(Some(f.path()), &[], &[]), &path)?;
        }

        #[test]
        fn any_environment(
            vars in proptest::collection::vec((proptest::sample::select(&KEYS[..]), value()), 0..6),
            key in prop_oneof![Just(SECRET.to_string()), Just(format!("{SECRET}\n")), Just("".to_string())],
        ) {
            let mut e: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (format!("GEOAGENT_{}", k.replace('.', "__").to_uppercase()), v.clone()))
                .collect();
            e.push(("GEOAGENT_MODEL__API_KEY".into(), key.clone()));
            e.push(("OPENAI_API_KEY".into(), key));
            let f = toml("");
            let path = f.path().display().to_string();
            check(Settings::load(Some(f.path()), &e, &[]), &path)?;
        }
    }
}
