//! The site's JSON API from Rust, with the `_ncfa` cookie in the `Cookie` header: profile check,
//! classic games (create, read, guess), challenges (join), highscores (all pages) and map facts.
//!
//! A 401 anywhere means the cookie expired ([`SiteError::CookieExpired`]); a 429 waits the
//! `Retry-After` the site asks for, up to a cap, a few times; a read that meets a dropped
//! connection or a 5xx is sent again ([`crate::net`]), a guess never is. Answer bodies never reach a log or
//! an error: states are parsed into answer-free types at once (see [`super::state`]).

use super::clock::ClockReading;
use super::settings::SiteOptions;
use super::state::{self, GameState, MapFacts, Truth};
use super::{NcfaCookie, SiteError, Token};
use crate::net::{self, RetryPolicy, Transient};
use reqwest::header::{HeaderMap, HeaderValue, COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime};
use tracing::{debug, instrument, warn};

/// Longest error body quoted in an error message (the site's messages are short; a page of HTML
/// from a proxy is not worth more).
const MAX_ERROR_BODY_CHARS: usize = 200;
/// Wait before retrying a 429 without `Retry-After`.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(5);
/// Reads (the game, the profile, a map, highscores pages) are sent again after a dropped
/// connection or a 5xx: they change nothing on the site, and one failed read must not end a run.
/// Three retries within about 4 s ride out a restarting proxy and stay short against a timed
/// round; a guess is never sent twice this way (see [`Api::guess`]).
const READ_RETRY: RetryPolicy = RetryPolicy {
    max_retries: 3,
    base_delay: Duration::from_millis(500),
    max_delay: Duration::from_secs(2),
};

impl Transient for SiteError {
    fn is_transient(&self) -> bool {
        match self {
            SiteError::Network { .. } => true,
            SiteError::Http { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }
}

/// Why a read failed, as [`Api::read_parsed`] retries it: what a retry may cure, plus an answer
/// that did not parse.
struct Unread(SiteError);

impl Transient for Unread {
    fn is_transient(&self) -> bool {
        self.0.is_transient() || matches!(self.0, SiteError::State(state::StateProblem::Shape(_)))
    }
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

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

/// A 2xx answer: its body and when it came.
struct Answer {
    body: Vec<u8>,
    server_now: Option<SystemTime>,
    received: Instant,
}

/// One read of a game: its state (no answer in it) and the clock of its open round. The body,
/// which holds the truths, stays inside: a round's truth comes out only through
/// [`GameRead::truth`], after its guess.
pub struct GameRead {
    pub state: GameState,
    body: Vec<u8>,
    server_now: Option<SystemTime>,
    received: Instant,
}

impl GameRead {
    fn new(a: Answer) -> Result<GameRead, SiteError> {
        Ok(GameRead {
            state: state::parse_state(&a.body).map_err(SiteError::State)?,
            body: a.body,
            server_now: a.server_now,
            received: a.received,
        })
    }

    /// Round `round`'s truth (1-based), only when this read shows the player's guess for it.
    pub(crate) fn truth(&self, round: usize) -> Result<Truth, SiteError> {
        state::truth_after_guess(&self.body, round)
            .map(|(_, t)| t)
            .map_err(SiteError::State)
    }

    /// What this read says about round `round`'s clock.
    pub fn clock(&self, round: usize) -> ClockReading {
        ClockReading {
            started: self.state.round_start(round),
            server_now: self.server_now,
            received: self.received,
        }
    }
}

impl std::fmt::Debug for GameRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GameRead")
            .field("state", &self.state)
            .field("body_bytes", &self.body.len())
            .finish()
    }
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

    /// Sends one request, waiting out 429s; returns a 2xx answer.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, SiteError> {
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
                let wait = net::retry_after(resp.headers()).unwrap_or(DEFAULT_RATE_LIMIT_WAIT);
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
            let server_now = net::server_date(resp.headers());
            let bytes = resp.bytes().await.map_err(|e| SiteError::Network {
                what: what.clone(),
                detail: e.without_url().to_string(),
            })?;
            let received = Instant::now();
            if !status.is_success() {
                let text =
                    crate::text::line(&String::from_utf8_lossy(&bytes), MAX_ERROR_BODY_CHARS);
                return Err(SiteError::Http {
                    what,
                    status: status.as_u16(),
                    detail: text,
                });
            }
            return Ok(Answer {
                body: bytes.to_vec(),
                server_now,
                received,
            });
        }
    }

    /// A GET, sent again after a dropped connection or a 5xx ([`READ_RETRY`]).
    async fn read(&self, url: &str) -> Result<Answer, SiteError> {
        self.read_parsed(url, Ok).await
    }

    /// A GET whose answer `parse` reads, sent again after a dropped connection, a 5xx or an
    /// answer that does not parse ([`READ_RETRY`]): a read changes nothing on the site, and a
    /// body cut short on the way reads whole the next time.
    async fn read_parsed<T>(
        &self,
        url: &str,
        parse: impl Fn(Answer) -> Result<T, SiteError>,
    ) -> Result<T, SiteError> {
        let parse = &parse;
        net::with_retries(&READ_RETRY, |attempt| async move {
            if attempt > 1 {
                warn!(path = %path_of(url), attempt, "reading the site again");
            }
            let answer = self.send(Method::GET, url, None).await.map_err(Unread)?;
            parse(answer).map_err(Unread)
        })
        .await
        .map(|(a, _)| a)
        .map_err(|e| e.last.0)
    }

    /// Checks the cookie: 401 = [`SiteError::CookieExpired`].
    #[instrument(skip(self))]
    pub async fn profile(&self) -> Result<Profile, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.profiles, "");
        let body = self.read(&url).await?.body;
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
        let a = self.send(Method::POST, &url, Some(&body)).await?;
        state::parse_state(&a.body).map_err(SiteError::State)
    }

    /// Joins challenge `token`: the state of this account's game of it.
    #[instrument(skip(self))]
    pub async fn join_challenge(&self, token: &Token) -> Result<GameState, SiteError> {
        let url = self
            .opts
            .url(&self.opts.endpoints.challenge, token.as_str());
        let a = self.send(Method::POST, &url, Some(&json!({}))).await?;
        state::parse_state(&a.body).map_err(SiteError::State)
    }

    /// The game's state, without the answer. After a guess this read is what opens the next
    /// round on the site and starts its clock: read only when ready to play it.
    #[instrument(skip(self))]
    pub async fn game(&self, token: &Token) -> Result<GameState, SiteError> {
        Ok(self.read_game(token).await?.state)
    }

    /// The game as [`Api::game`] reads it, with its open round's clock and (for rounds already
    /// guessed) their truths.
    #[instrument(skip(self))]
    pub async fn read_game(&self, token: &Token) -> Result<GameRead, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.game, token.as_str());
        self.read_parsed(&url, GameRead::new).await
    }

    /// Posts the guess for the open round (`--guess-via api`); the answer holds the scored
    /// round. Sent once: a guess is not a read, and whether a failed one was scored is for the
    /// game state to say.
    #[instrument(skip(self))]
    pub async fn guess(&self, token: &Token, lat: f64, lng: f64) -> Result<GameRead, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.game, token.as_str());
        let body = json!({"token": token.as_str(), "lat": lat, "lng": lng, "timedOut": false, "stepsCount": 0});
        GameRead::new(self.send(Method::POST, &url, Some(&body)).await?)
    }

    /// The map's public facts (its score scale).
    #[instrument(skip(self))]
    pub async fn map(&self, id: &Token) -> Result<MapFacts, SiteError> {
        let url = self.opts.url(&self.opts.endpoints.map, id.as_str());
        let body = self.read(&url).await?.body;
        serde_json::from_slice(&body).map_err(|e| json_err("map", &e))
    }

    /// Every page of challenge `token`'s highscores, as the site sent them (they hold the
    /// truths: the controller hands them to `humans` only after playing). 401/403 before this
    /// account played the challenge is [`SiteError::NotPlayed`].
    #[instrument(skip(self))]
    pub async fn highscores(&self, token: &Token) -> Result<Vec<Value>, SiteError> {
        let base = self
            .opts
            .url(&self.opts.endpoints.highscores, token.as_str());
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
            let bytes = match self.read(url.as_str()).await {
                Ok(a) => a.body,
                Err(SiteError::CookieExpired) | Err(SiteError::Http { status: 403, .. }) => {
                    // 401/403 also answer "you have not played this challenge": tell them apart.
                    self.profile().await?;
                    return Err(SiteError::NotPlayed(token.clone()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_retried_on_what_may_pass_only() {
        let http = |status| SiteError::Http {
            what: "GET /api/v3/games/x".into(),
            status,
            detail: String::new(),
        };
        for s in [500, 502, 503, 504, 408] {
            assert!(http(s).is_transient(), "{s}");
        }
        for s in [400, 403, 404] {
            assert!(!http(s).is_transient(), "{s}");
        }
        assert!(SiteError::Network {
            what: "GET /".into(),
            detail: "reset".into()
        }
        .is_transient());
        assert!(!SiteError::CookieExpired.is_transient());
        assert!(!SiteError::RateLimited {
            what: "GET /".into(),
            wait_secs: 9.0
        }
        .is_transient());
    }
}
