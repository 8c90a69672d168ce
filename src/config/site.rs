//! The `[geoguessr]` section turned into the adapter's [`SiteOptions`] and the `_ncfa` cookie,
//! each value checked and every error naming its key (the cookie's value never appears).

use super::{ConfigError, Settings, MAX_TIMEOUT_SECS, NCFA_VAR};
use crate::browser::geoguessr::settings::SiteOptions;
use crate::browser::geoguessr::NcfaCookie;
use secrecy::ExposeSecret;
use std::time::Duration;

/// Longest pause between rounds or games accepted (s): a day; longer is a typo.
const MAX_PAUSE_SECS: f64 = 86_400.0;
/// Largest wheel notch accepted (px): ten ordinary notches; more is one jump, not a small step.
const MAX_WHEEL_STEP_PX: u32 = 1_000;
/// Longest pause between wheel notches (ms).
const MAX_WHEEL_PAUSE_MS: u64 = 10_000;

fn secs(key: &'static str, v: f64, min: f64, max: f64) -> Result<Duration, ConfigError> {
    if !(min..=max).contains(&v) {
        return Err(ConfigError::Invalid {
            key,
            value: v.to_string(),
            problem: format!("must be {min}..={max} seconds"),
        });
    }
    Duration::try_from_secs_f64(v).map_err(|e| ConfigError::Invalid {
        key,
        value: v.to_string(),
        problem: e.to_string(),
    })
}

impl Settings {
    /// The adapter's options from `[geoguessr]`.
    pub fn site_options(&self) -> Result<SiteOptions, ConfigError> {
        let g = &self.geoguessr;
        let bad = |key, value: String, problem: &str| ConfigError::Invalid {
            key,
            value,
            problem: problem.into(),
        };
        match url::Url::parse(&g.base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => {
                return Err(bad(
                    "geoguessr.base_url",
                    g.base_url.clone(),
                    "must be an http(s) URL such as https://www.geoguessr.com",
                ))
            }
        }
        for (key, sel) in g.selectors.named() {
            if sel.trim().is_empty() {
                return Err(bad(key, String::new(), "must not be empty"));
            }
        }
        if !(0.0..=50.0).contains(&g.pin_tolerance_px) {
            return Err(bad(
                "geoguessr.pin_tolerance_px",
                g.pin_tolerance_px.to_string(),
                "must be 0..=50 pixels",
            ));
        }
        if g.max_highscore_pages == 0 || g.max_games_per_hour == 0 {
            return Err(bad(
                "geoguessr.max_highscore_pages/max_games_per_hour",
                format!("{}/{}", g.max_highscore_pages, g.max_games_per_hour),
                "must be at least 1",
            ));
        }
        if g.turn_hold_ms == 0 || g.turn_hold_ms > 60_000 {
            return Err(bad(
                "geoguessr.turn_hold_ms",
                g.turn_hold_ms.to_string(),
                "must be 1..=60000",
            ));
        }
        if g.wheel_step_px == 0 || g.wheel_step_px > MAX_WHEEL_STEP_PX {
            return Err(bad(
                "geoguessr.wheel_step_px",
                g.wheel_step_px.to_string(),
                &format!("must be 1..={MAX_WHEEL_STEP_PX}"),
            ));
        }
        if g.wheel_pause_ms > MAX_WHEEL_PAUSE_MS {
            return Err(bad(
                "geoguessr.wheel_pause_ms",
                g.wheel_pause_ms.to_string(),
                &format!("must be 0..={MAX_WHEEL_PAUSE_MS}"),
            ));
        }
        if g.time_limit_secs > 3600 {
            return Err(bad(
                "geoguessr.time_limit_secs",
                g.time_limit_secs.to_string(),
                "must be 0 (none) to 3600",
            ));
        }
        Ok(SiteOptions {
            base_url: g.base_url.trim_end_matches('/').to_string(),
            endpoints: g.endpoints.clone(),
            selectors: g.selectors.clone(),
            guess_via: g.guess_via,
            request_timeout: secs(
                "geoguessr.request_timeout_secs",
                g.request_timeout_secs,
                0.1,
                MAX_TIMEOUT_SECS,
            )?,
            max_retry_after: secs(
                "geoguessr.max_retry_after_secs",
                g.max_retry_after_secs,
                0.0,
                MAX_TIMEOUT_SECS,
            )?,
            max_rate_limit_retries: g.max_rate_limit_retries,
            round_ready_timeout: secs(
                "geoguessr.round_ready_timeout_secs",
                g.round_ready_timeout_secs,
                0.1,
                MAX_TIMEOUT_SECS,
            )?,
            result_timeout: secs(
                "geoguessr.result_timeout_secs",
                g.result_timeout_secs,
                0.1,
                MAX_TIMEOUT_SECS,
            )?,
            turn_hold: Duration::from_millis(g.turn_hold_ms),
            turning: g.turning,
            wheel_step_px: g.wheel_step_px,
            wheel_pause: Duration::from_millis(g.wheel_pause_ms),
            round_pause: secs(
                "geoguessr.round_pause_secs",
                g.round_pause_secs,
                0.0,
                MAX_PAUSE_SECS,
            )?,
            game_pause: secs(
                "geoguessr.game_pause_secs",
                g.game_pause_secs,
                0.0,
                MAX_PAUSE_SECS,
            )?,
            max_games_per_hour: g.max_games_per_hour,
            max_highscore_pages: g.max_highscore_pages,
            highscores_limit: crate::browser::geoguessr::settings::DEFAULT_HIGHSCORES_LIMIT,
            pin_tolerance_px: g.pin_tolerance_px,
            time_limit_margin: secs(
                "geoguessr.time_limit_margin_secs",
                g.time_limit_margin_secs,
                0.0,
                MAX_PAUSE_SECS,
            )?,
        })
    }

    /// The `_ncfa` cookie: `GEOGUESSR_NCFA`, else `geoguessr.cookie`.
    pub(crate) fn ncfa_cookie(&self) -> Result<NcfaCookie, ConfigError> {
        let g = &self.geoguessr;
        let Some(secret) = g.env_cookie.as_ref().or(g.cookie.as_ref()) else {
            return Err(ConfigError::Invalid {
                key: "geoguessr.cookie",
                value: String::new(),
                problem: format!("not set: copy the _ncfa cookie from your browser (dev tools, geoguessr.com) into {NCFA_VAR} or geoguessr.cookie"),
            });
        };
        NcfaCookie::new(secret.expose_secret()).map_err(|e| ConfigError::Invalid {
            key: "geoguessr.cookie",
            value: "[redacted]".into(),
            problem: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build_and_bad_values_name_their_key() {
        let s = Settings::default();
        let o = s.site_options().unwrap();
        assert_eq!(o.base_url, "https://www.geoguessr.com");
        // The closed sets are typed where the file is read: a bad name names file, key and choices.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.toml");
        for (text, key, choices) in [
            (
                "guess_via = \"telepathy\"",
                "geoguessr.guess_via",
                "map, api",
            ),
            ("turning = \"wiggle\"", "geoguessr.turning", "drag, keys"),
        ] {
            std::fs::write(&file, format!("[geoguessr]\n{text}\n")).unwrap();
            let e = Settings::load(Some(&file), &[], &[])
                .unwrap_err()
                .to_string();
            assert!(e.contains(&file.display().to_string()), "{e}");
            assert!(e.contains(key) && e.contains(choices), "{e}");
        }
        std::fs::write(
            &file,
            "[geoguessr]\nguess_via = \"API\"\nturning = \"drag\"\n",
        )
        .unwrap();
        let o = Settings::load(Some(&file), &[], &[])
            .unwrap()
            .site_options()
            .unwrap();
        assert_eq!(
            (o.guess_via, o.turning),
            (
                crate::browser::geoguessr::settings::GuessVia::Api,
                crate::browser::geoguessr::turn::Turning::Drag
            )
        );
        let mut bad = Settings::default();
        bad.geoguessr.selectors.guess_button = " ".into();
        assert!(bad
            .site_options()
            .unwrap_err()
            .to_string()
            .contains("geoguessr.selectors.guess_button"));
        let mut bad = Settings::default();
        bad.geoguessr.round_pause_secs = -1.0;
        assert!(bad
            .site_options()
            .unwrap_err()
            .to_string()
            .contains("round_pause_secs"));
    }

    #[test]
    fn the_cookie_comes_from_the_environment_first_and_never_prints() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.toml");
        std::fs::write(&file, "[geoguessr]\ncookie = \"from-file-ncfa\"\n").unwrap();
        let s = Settings::load(Some(&file), &[], &[]).unwrap();
        assert_eq!(s.ncfa_cookie().unwrap().expose(), "from-file-ncfa");
        let env = vec![(NCFA_VAR.to_string(), "from-env-ncfa".to_string())];
        let s = Settings::load(Some(&file), &env, &[]).unwrap();
        assert_eq!(s.ncfa_cookie().unwrap().expose(), "from-env-ncfa");
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("from-env-ncfa") && !debug.contains("from-file-ncfa"),
            "{debug}"
        );
        assert!(Settings::default()
            .ncfa_cookie()
            .unwrap_err()
            .to_string()
            .contains(NCFA_VAR));
        // A broken file quoting the cookie's line never shows it.
        std::fs::write(&file, "[geoguessr]\ncookie = \"leaky-ncfa-value\" junk\n").unwrap();
        let e = Settings::load(Some(&file), &[], &[])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("leaky-ncfa-value"), "{e}");
    }
}
