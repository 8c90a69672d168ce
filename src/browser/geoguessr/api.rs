//! The site's JSON API from Rust, with the `_ncfa` cookie in the `Cookie` header: profile check,
//! classic games (create, read, guess), challenges (join), highscores (all pages) and map facts.
//!
//! A 401 anywhere means the cookie expired ([`SiteError::CookieExpired`]); a 429 waits the
//! `Retry-After` the site asks for, up to a cap, a few times. Answer bodies never reach a log or
//! an error: states are parsed into answer-free types at once (see [`super::state`]).

use super::settings::SiteOptions;
use super::state::{self, GameState, MapFacts, Truth};
use super::{NcfaCookie, SiteError};
use reqwest::header::{HeaderMap, HeaderValue, COOKIE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tracing::{debug, instrument, warn};

/// Longest error body quoted in an error message (the site's messages are short; a page of HTML
/// from a proxy is not worth more).
const MAX_ERROR_BODY_CHARS: usize = 200;

/// What a new classic game is.
#[derive(Debug, Clone, PartialEq)]
pub struct NewGame {
    /// `world` or a map id.
    pub map: String,
    /// Seconds per round, 0 = none.
    pub time_limit: u32,
    pub forbid_moving: bool,
    pub forbid_zooming: bool,
    pub forbid_rotating: bool,
}

/// The signed-in player.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub id: String,
    pub nick: String,
}

/// A client of the site's API for one account.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    opts: SiteOptions,
}

impl Api {
    pub fn new(opts: &SiteOptions, cookie: &NcfaCookie) -> Result<Api, SiteError> {
        let mut headers = HeaderMap::new();
        let mut value =
            HeaderValue::from_str(&format!("_ncfa={}", cookie.expose())).map_err(|_| {
                SiteError::Config(
                    "the _ncfa cookie holds characters a cookie cannot (paste only its value)"
                        .into(),
                )
            })?;
        // Sensitive headers are left out of reqwest's and hyper's Debug output.
        value.set_sensitive(true);
        headers.insert(COOKIE, value);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(opts.request_timeout)
            .user_agent(concat!("geoagent/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SiteError::Config(format!("HTTP client: {e}")))?;
        Ok(Api {
            http,
            opts: opts.clone(),
        })
    }

    pub fn options(&self) -> &SiteOptions {
        &self.opts
    }

    /// Sends one request, waiting out 429s; returns the body of a 2xx answer.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, SiteError> {
        let what = format!("{method} {}", path_of(url));
        let mut retries = 0;
        loop {
            let mut req = self.http.request(method.clone(), url);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| SiteError::Network {
                what: what.clone(),
                detail: e.without_url().to_string(),
            })?;
            let status = resp.status();
            debug!(%what, %status, "site API");
            if status == StatusCode::UNAUTHORIZED {
                return Err(SiteError::CookieExpired);
            }
            if status == StatusCode::TOO_MANY_REQUESTS {
                let wait = retry_after(resp.headers()).unwrap_or(Duration::from_secs(5));
                if wait > self.opts.max_retry_after || retries >= self.opts.max_rate_limit_retries {
                    return Err(SiteError::RateLimited {
                        what,
                        wait_secs: wait.as_secs_f64(),
                    });
                }
                retries += 1;
                warn!(%what, wait_s = wait.as_secs_f64(), retries, "the site asks to slow down; waiting");
                tokio::time::sleep(wait).await;
                continue;
            }
            let bytes = resp.bytes().await.map_err(|e| SiteError::Network {
                what: what.clone(),
                detail: e.without_url().to_string(),
            })?;
            if !status.is_success() {
                let text: String = String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(MAX_ERROR_BODY_CHARS)
                    .collect();
                return Err(SiteError::Http {
                    what,
                    status: status.as_u16(),
                    detail: text,
                });
            }
            return Ok(bytes.to_vec());
        }
    }

    /// Checks the cookie: 401 = [`SiteError::CookieExpired`].
    #[instrument(skip(self))]
    pub async fn profile(&self) -> Result<Profile, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.profiles, "");
        let body = self.send(Method::GET, &url, None).await?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| json_err("profile", &e))?;
        let user = v.get("user").unwrap_or(&v);
        let s = |k: &str| {
            user.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        Ok(Profile {
            id: s("id"),
            nick: s("nick"),
        })
    }

    /// Creates a classic game; the state has round 1 in it.
    #[instrument(skip(self))]
    pub async fn create_game(&self, g: &NewGame) -> Result<GameState, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.games, "");
        let body = json!({
            "map": g.map, "type": "standard", "timeLimit": g.time_limit,
            "forbidMoving": g.forbid_moving, "forbidZooming": g.forbid_zooming,
            "forbidRotating": g.forbid_rotating,
        });
        let bytes = self.send(Method::POST, &url, Some(&body)).await?;
        state::parse_state(&bytes).map_err(SiteError::State)
    }

    /// Joins challenge `token`: the state of this account's game of it.
    #[instrument(skip(self))]
    pub async fn join_challenge(&self, token: &str) -> Result<GameState, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.challenge, token);
        let bytes = self.send(Method::POST, &url, Some(&json!({}))).await?;
        state::parse_state(&bytes).map_err(SiteError::State)
    }

    /// The game's state, without the answer.
    #[instrument(skip(self))]
    pub async fn game(&self, token: &str) -> Result<GameState, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.game, token);
        let bytes = self.send(Method::GET, &url, None).await?;
        state::parse_state(&bytes).map_err(SiteError::State)
    }

    /// The state and round `round`'s truth, which the site must already have scored.
    #[instrument(skip(self))]
    pub async fn truth(&self, token: &str, round: usize) -> Result<(GameState, Truth), SiteError> {
        let url = self.opts.url(&self.opts.endpoints.game, token);
        let bytes = self.send(Method::GET, &url, None).await?;
        state::truth_after_guess(&bytes, round).map_err(SiteError::State)
    }

    /// Posts the guess for the current round (`--guess-via api`).
    #[instrument(skip(self))]
    pub async fn guess(&self, token: &str, lat: f64, lng: f64) -> Result<GameState, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.game, token);
        let body =
            json!({"token": token, "lat": lat, "lng": lng, "timedOut": false, "stepsCount": 0});
        let bytes = self.send(Method::POST, &url, Some(&body)).await?;
        state::parse_state(&bytes).map_err(SiteError::State)
    }

    /// The map's public facts (its score scale).
    #[instrument(skip(self))]
    pub async fn map(&self, id: &str) -> Result<MapFacts, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.map, id);
        let bytes = self.send(Method::GET, &url, None).await?;
        serde_json::from_slice(&bytes).map_err(|e| json_err("map", &e))
    }

    /// Every page of challenge `token`'s highscores, as the site sent them (they hold the
    /// truths: the controller hands them to `humans` only after playing). 401/403 before this
    /// account played the challenge is [`SiteError::NotPlayed`].
    #[instrument(skip(self))]
    pub async fn highscores(&self, token: &str) -> Result<Vec<Value>, SiteError> {
        let base = self.opts.url(&self.opts.endpoints.highscores, token);
        let mut pages = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut url = url::Url::parse(&base)
                .map_err(|e| SiteError::Config(format!("geoguessr.base_url: {e}")))?;
            url.query_pairs_mut()
                .append_pair("friends", "false")
                .append_pair("limit", &self.opts.highscores_limit.to_string())
                .append_pair("minRounds", "5");
            if let Some(t) = &next {
                url.query_pairs_mut().append_pair("paginationToken", t);
            }
            let bytes = match self.send(Method::GET, url.as_str(), None).await {
                Ok(b) => b,
                Err(SiteError::CookieExpired) | Err(SiteError::Http { status: 403, .. }) => {
                    // 401/403 also answer "you have not played this challenge": tell them apart.
                    self.profile().await?;
                    return Err(SiteError::NotPlayed(token.to_string()));
                }
                Err(e) => return Err(e),
            };
            let page: Value =
                serde_json::from_slice(&bytes).map_err(|e| json_err("highscores", &e))?;
            next = page
                .get("paginationToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            pages.push(page);
            if next.is_none() {
                return Ok(pages);
            }
            if pages.len() as u32 >= self.opts.max_highscore_pages {
                warn!(
                    pages = pages.len(),
                    "highscores cut at geoguessr.max_highscore_pages"
                );
                return Ok(pages);
            }
        }
    }
}

fn json_err(what: &str, e: &serde_json::Error) -> SiteError {
    SiteError::State(state::StateProblem::Shape(format!(
        "{what}: {}",
        e.to_string().split(" at line").next().unwrap_or("")
    )))
}

/// The path of `url`, for messages (no query: a pagination token is nobody's business).
fn path_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110).
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return Duration::try_from_secs_f64(secs.max(0.0)).ok();
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
