//! One game on geoguessr.com as an [`Environment`], built around two facts about the site: a
//! read of the game (or a page load, or the Next button) after a guess opens the next round and
//! starts its clock, and only the game state says for sure what the site scored.
//!
//! So, per round:
//! - `observe`: wait out the pause after the last guess, then ask for the round (Next on the
//!   result screen, else a page load), read the state once (its `startTime` sets the round's
//!   [`clock::Deadline`]) and capture.
//! - `guess`: click the map (or post the guess); an API guess's answer holds the scored round
//!   and the page, which never saw that guess, is left at once so its own clock cannot post a
//!   timeout into a later round. A map guess's result, and the result after any failure, is read
//!   from the game state, after the pause when another round follows.
//! - `recover`: after any failure around a guess, the state is read first and a scored round is
//!   handed back to be recorded; a browser that died is replaced at the next `observe`.

use super::api::{Api, GameRead};
use super::clock::{self, Deadline};
use super::page::Page;
use super::settings::GuessVia;
use super::state::GameState;
use super::{NcfaCookie, ScoreCheck, SiteError, Token, SCORE_AGREEMENT_POINTS};
use crate::browser::{Browser, BrowserOptions};
use crate::environment::{CaptureOptions, Environment, GuessTiming, Observation, Recovered};
use crate::game::RoundResult;
use crate::geo::{Bounds, LatLon};
use crate::net::Transient;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How often the game state is polled while waiting for the site to score a map guess.
const RESULT_POLL: Duration = Duration::from_millis(250);
/// Browser relaunches per game after a crash, at most.
const MAX_RELAUNCHES: usize = 2;
/// Times a round's guess is made again after the site did not score it (a 5xx or a dropped
/// connection on the guess itself), at most: a site that keeps failing stops the run.
const MAX_RESENDS: usize = 2;
/// How long the result screen's Next button may take to show once the state says the round was
/// scored; past it the page is loaded again instead (the site opens the round either way).
const NEXT_BUTTON_WAIT: Duration = Duration::from_secs(3);

/// What the page shows, and what `observe` does first.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// The open round (or nothing left to play).
    Open,
    /// Ask for the next round, not before `not_before`: press Next when the page shows the result
    /// screen of a guess it made (`next_button`), else load the page.
    Request {
        not_before: Instant,
        next_button: bool,
    },
}

/// One game on geoguessr.com, played round by round.
pub struct SiteGame {
    api: Api,
    cookie: NcfaCookie,
    browser_opts: BrowserOptions,
    capture: CaptureOptions,
    /// `None` after a crash: the next `observe` starts another browser.
    page: Option<Page>,
    token: Token,
    state: GameState,
    /// The map's `maxErrorDistance` in km (our own scoring), when known.
    map_size_km: Option<f64>,
    /// Rounds scored so far.
    done: usize,
    location_id: Option<String>,
    relaunches: usize,
    resends: usize,
    /// Our score beside the site's, one per round.
    checks: Vec<ScoreCheck>,
    deadline: Deadline,
    next: Next,
    /// When this process first asked the site for the open round since the last one was scored:
    /// the site cannot have started its clock earlier.
    requested: Option<Instant>,
}

impl SiteGame {
    /// Opens game `state.token` in a new browser, ready for its next round. `requested` is when
    /// this process created the game, when it did (round 1's clock started then, at the
    /// earliest); `deadline` is where the open round's deadline is published.
    #[allow(clippy::too_many_arguments)]
    pub async fn open(
        api: Api,
        cookie: NcfaCookie,
        browser_opts: BrowserOptions,
        capture: CaptureOptions,
        state: GameState,
        map_size_km: Option<f64>,
        requested: Option<Instant>,
        deadline: Deadline,
    ) -> Result<SiteGame, SiteError> {
        let done = state.guessed();
        let mut game = SiteGame {
            api,
            cookie,
            browser_opts,
            capture,
            page: None,
            token: Token::parse(&state.token)?,
            state,
            map_size_km,
            done,
            location_id: None,
            relaunches: 0,
            resends: 0,
            checks: Vec::new(),
            deadline,
            next: Next::Open,
            requested,
        };
        game.page = Some(game.launch_page().await?);
        Ok(game)
    }

    async fn launch_page(&self) -> Result<Page, SiteError> {
        let browser = Browser::launch(&self.browser_opts).await?;
        Page::open(
            browser,
            self.api.options(),
            &self.cookie,
            self.token.as_str(),
        )
        .await
    }

    pub fn token(&self) -> &Token {
        &self.token
    }

    pub fn state(&self) -> &GameState {
        &self.state
    }

    /// Rounds the site has scored.
    pub fn rounds_done(&self) -> usize {
        self.done
    }

    /// Our score beside the site's, one per round scored in this process.
    pub fn checks(&self) -> &[ScoreCheck] {
        &self.checks
    }

    /// The browser, for tests that break it on purpose.
    pub fn page(&self) -> Option<&Page> {
        self.page.as_ref()
    }

    /// Closes the browser.
    pub async fn close(mut self) {
        if let Some(p) = self.page.take() {
            p.close().await;
        }
    }

    fn page_mut(&mut self) -> Result<&mut Page, SiteError> {
        self.page
            .as_mut()
            .ok_or_else(|| SiteError::Page("no browser".into()))
    }

    /// Waits out the pause after the last guess and asks the site for the next round (see
    /// [`Next`]); starts a browser when there is none.
    async fn request_round(&mut self) -> Result<(), SiteError> {
        let next = std::mem::replace(&mut self.next, Next::Open);
        let Next::Request {
            not_before,
            next_button,
        } = next
        else {
            if self.page.is_none() {
                self.page = Some(self.launch_page().await?);
            }
            return Ok(());
        };
        tokio::time::sleep_until(not_before.into()).await;
        self.requested.get_or_insert_with(Instant::now);
        if self.page.is_none() {
            self.page = Some(self.launch_page().await?);
            return Ok(());
        }
        let token = self.token.clone();
        let page = self.page_mut()?;
        if next_button {
            match tokio::time::timeout(NEXT_BUTTON_WAIT, page.next_round()).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => {
                    warn!(error = %e, "the result screen's Next failed; loading the game page instead")
                }
                Err(_) => {
                    warn!(wait = ?NEXT_BUTTON_WAIT, "no Next button on the result screen; loading the game page instead")
                }
            }
        }
        page.reload(token.as_str()).await
    }

    /// Leaves the game page (after an API guess the page never saw): a page left open keeps its
    /// own round clock, which posts a timeout when it runs out, and the site books that on
    /// whichever round is open by then.
    async fn leave_page(&mut self) {
        let Some(page) = &self.page else { return };
        if let Err(e) = page.browser().client().goto("about:blank").await {
            warn!(error = %e, "could not leave the game page; closing the browser");
            if let Some(p) = self.page.take() {
                p.close().await;
            }
        }
    }

    /// Reads the game and, when the site has scored round `round`, its result. With `poll` (a
    /// map guess may still be on its way) the read is repeated until
    /// `geoguessr.result_timeout_secs`. A read that finds the round scored opens the next one
    /// on the site: call this only when ready to play it.
    async fn read_scored(
        &mut self,
        round: usize,
        poll: bool,
    ) -> Result<Option<RoundResult>, SiteError> {
        let until = Instant::now() + self.api.options().result_timeout;
        loop {
            let asked = Instant::now();
            let read = self.api.read_game(&self.token).await?;
            if read.state.guessed() >= round {
                let result = self.score(read, round)?;
                if round < self.state.round_count {
                    self.requested = Some(asked);
                }
                return Ok(Some(result));
            }
            if !poll || Instant::now() >= until {
                return Ok(None);
            }
            tokio::time::sleep(RESULT_POLL).await;
        }
    }

    /// Round `round`'s result from a read that shows its guess scored; keeps one score check per
    /// round.
    fn score(&mut self, read: GameRead, round: usize) -> Result<RoundResult, SiteError> {
        let truth = read.truth(round)?;
        let st = read.state;
        let g = st.player.guesses[round - 1].clone();
        let guess = LatLon {
            lat: g.lat,
            lon: g.lng,
        };
        let truth_pos = LatLon {
            lat: truth.lat,
            lon: truth.lng,
        };
        let site = g.round_score_in_points;
        let own = self
            .map_size_km
            .map(|size| crate::game::score(guess.distance_km(&truth_pos), size));
        if let Some(own) = own.filter(|o| o.abs_diff(site) > SCORE_AGREEMENT_POINTS) {
            warn!(round, site, own, "the site's points differ from ours: is geoguessr's maxErrorDistance still the scale?");
        }
        if g.timed_out {
            warn!(
                round,
                "the site timed the round out before the guess arrived"
            );
        }
        self.checks.retain(|c| c.round != round);
        self.checks.push(ScoreCheck {
            round,
            site_points: site,
            own_points: own,
            site_time_s: g.time,
            timed_out: g.timed_out,
            click_drift_px: None,
            click_drift_km: None,
        });
        self.location_id = truth.pano_id.clone();
        self.state = st;
        self.done = round;
        self.resends = 0;
        self.requested = None;
        self.deadline.set(None);
        info!(round, points = site, "round scored by the site");
        Ok(RoundResult {
            round,
            guess,
            truth: truth_pos,
            distance_km: g.distance_in_meters / 1000.0,
            points: site,
            place: None,
            country: truth.country.clone(),
        })
    }
}

fn map_view(st: &GameState) -> Bounds {
    st.bounds.map_or(Bounds::WORLD, |b| Bounds {
        south: b.min.lat,
        west: b.min.lng,
        north: b.max.lat,
        east: b.max.lng,
    })
}

#[async_trait::async_trait]
impl Environment for SiteGame {
    type Error = SiteError;

    async fn observe(&mut self) -> Result<Observation, SiteError> {
        let round = self.done + 1;
        self.request_round().await?;
        let read = self.api.read_game(&self.token).await?;
        let st = read.state.clone();
        if st.finished() || st.guessed() != self.done {
            return Err(SiteError::Page(format!(
                "game {} is {} with {} round(s) scored; expected round {round} to be open",
                self.token,
                st.state,
                st.guessed()
            )));
        }
        let limit = Duration::from_secs(u64::from(st.time_limit));
        self.deadline.set(if st.time_limit > 0 {
            clock::deadline(limit, &read.clock(round), self.requested)
        } else {
            None
        });
        if let Some(left) = self
            .deadline
            .get()
            .map(|d| d.saturating_duration_since(Instant::now()))
        {
            info!(
                round,
                left_s = left.as_secs_f64(),
                "round open; time left by the site's clock"
            );
        }
        let t0 = Instant::now();
        let views_wanted = if st.forbid_rotating {
            1
        } else {
            self.capture.headings
        };
        let zoom = !st.forbid_zooming && self.capture.zoom_steps > 0;
        let (capture, zoom_steps) = (self.capture.clone(), self.capture.zoom_steps);
        // At most half of what is left of a timed round goes to measuring the drag's angle.
        let search_until = self
            .deadline
            .get()
            .map(|d| t0 + d.saturating_duration_since(t0) / 2);
        let views = self
            .page_mut()?
            .capture_round(
                views_wanted,
                if zoom { zoom_steps } else { 0 },
                capture.jpeg_quality,
                search_until,
            )
            .await?;
        let obs = Observation {
            round,
            rounds: st.round_count,
            views,
            map_view: map_view(&st),
            map_name: st.map_name.clone(),
            capture_ms: t0.elapsed().as_millis() as u64,
        };
        self.state = st;
        Ok(obs)
    }

    async fn guess(&mut self, at: LatLon) -> Result<(RoundResult, GuessTiming), SiteError> {
        let t0 = Instant::now();
        let round = self.done + 1;
        let last = round >= self.state.round_count;
        let via = self.api.options().guess_via;
        let pause = self.api.options().round_pause;
        let sent = match via {
            GuessVia::Map => self.page_mut()?.guess_on_map(at).await.map(|()| None),
            GuessVia::Api => {
                let answer = self.api.guess(&self.token, at.lat, at.lon).await;
                self.leave_page().await;
                answer.map(Some)
            }
        };
        let mut failure = None;
        match sent {
            Ok(Some(read)) => match self.score(read, round) {
                Ok(result) => {
                    self.next = Next::Request {
                        not_before: Instant::now() + pause,
                        next_button: false,
                    };
                    let guess_ms = t0.elapsed().as_millis() as u64;
                    return Ok((result, GuessTiming { guess_ms }));
                }
                Err(e) => {
                    warn!(round, error = %e, "the answer to the guess does not show it scored; reading the game");
                    failure = Some(e);
                }
            },
            Ok(None) => {}
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                warn!(round, error = %e, "the guess failed; reading the game to see whether the site scored it");
                failure = Some(e);
            }
        }
        // Reading the game after the guess opens the next round on the site: pause first.
        if !last {
            tokio::time::sleep(pause).await;
        }
        let scored = self.read_scored(round, failure.is_none()).await?;
        let Some(result) = scored else {
            // Not scored: the round is still open; the page shows it again for another try.
            self.next = Next::Request {
                not_before: Instant::now(),
                next_button: false,
            };
            return Err(failure.unwrap_or_else(|| {
                SiteError::Page(format!(
                    "the site did not score the guess of round {round} within geoguessr.result_timeout_secs ({:?})",
                    self.api.options().result_timeout
                ))
            }));
        };
        if via == GuessVia::Map && failure.is_none() {
            // How far the point the site received lies from the point meant: past the
            // tolerance the page switches to measuring its scale, then stops.
            if let Some(d) = self.page_mut()?.click_drift(round, at, result.guess) {
                if let Some(c) = self.checks.last_mut() {
                    (c.click_drift_px, c.click_drift_km) = (Some(d.px), Some(d.km));
                }
            }
        }
        self.next = Next::Request {
            not_before: Instant::now(),
            next_button: via == GuessVia::Map && failure.is_none(),
        };
        let guess_ms = t0.elapsed().as_millis() as u64;
        Ok((result, GuessTiming { guess_ms }))
    }

    async fn recover(
        &mut self,
        round: usize,
        guessed: bool,
        error: SiteError,
    ) -> Result<Recovered, SiteError> {
        if error.is_fatal() {
            return Err(error);
        }
        let crashed = matches!(error, SiteError::Browser(_));
        if crashed {
            if let Some(p) = self.page.take() {
                p.close().await;
            }
        }
        if guessed {
            // Whatever failed, what the site scored comes first.
            if let Some(result) = self.read_scored(round, false).await? {
                warn!(round, %error, "the round failed after the site scored it; keeping the site's result");
                self.next = Next::Request {
                    not_before: Instant::now(),
                    next_button: false,
                };
                return Ok(Recovered::Scored(result));
            }
        }
        if crashed && self.relaunches < MAX_RELAUNCHES {
            self.relaunches += 1;
            warn!(round, %error, relaunch = self.relaunches, token = %self.token, "browser failed; the next try opens the same game in a new one");
            return Ok(Recovered::Replay);
        }
        if guessed && error.is_transient() && self.resends < MAX_RESENDS {
            self.resends += 1;
            warn!(round, %error, resend = self.resends, "the site did not score the guess; playing the round again");
            return Ok(Recovered::Replay);
        }
        Err(error)
    }

    fn location_id(&self) -> Option<String> {
        self.location_id.clone()
    }
}
