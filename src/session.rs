//! One match from start to finish: start the local game server and a browser, play the rounds
//! (observe → reason → guess), record each round to the replay as it ends, and always shut
//! everything down, on success, on error and on cancellation (drop).

use crate::agent::{GuessSource, Reasoner};
use crate::browser::local_game::{CaptureOptions, LocalGame};
use crate::browser::{Browser, BrowserError, BrowserOptions, LaunchTiming};
use crate::environment::Environment;
use crate::game::server::{start_local, AppState, ServerError};
use crate::game::{Challenge, Map, RoundResult};
use crate::replay::{self, Manifest, ReplayError, ReplayWriter, RoundRecord, Timings};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;
use tracing::{info, info_span, warn, Instrument};

/// The truth is matched back to a map location within this distance (the page rounds to 6
/// decimals, ~0.1 m).
const LOCATION_MATCH_KM: f64 = 0.01;

#[derive(Debug, Error)]
pub enum SessionError {
    #[error("local game server: {0}")]
    Server(#[from] ServerError),
    #[error(transparent)]
    Browser(#[from] BrowserError),
    #[error("replay: {0}")]
    Replay(#[from] ReplayError),
    #[error("round {round} failed: {source}")]
    Round {
        round: usize,
        #[source]
        source: BrowserError,
    },
}

/// Everything needed to play one match.
#[derive(Clone)]
pub struct MatchPlan {
    /// Every map the server offers; `map` must be one of them.
    pub maps: Vec<Arc<Map>>,
    pub map: Arc<Map>,
    pub seed: u64,
    pub rounds: usize,
    pub browser: BrowserOptions,
    pub capture: CaptureOptions,
    pub replay_root: PathBuf,
    pub strategy: String,
}

/// What a finished (or interrupted) match produced.
#[derive(Debug, Clone)]
pub struct MatchReport {
    pub session_id: String,
    pub replay_dir: PathBuf,
    pub challenge_id: String,
    pub reasoner: String,
    pub map_name: String,
    pub rounds: Vec<RoundRecord>,
    pub launch: LaunchTiming,
}

impl MatchReport {
    pub fn total_points(&self) -> u64 {
        self.rounds.iter().map(|r| u64::from(r.result.points)).sum()
    }

    /// The per-round table and totals printed after `play`.
    pub fn render(&self) -> String {
        use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
            "Round",
            "Truth",
            "Guess",
            "Distance",
            "Points",
            "Guessed by",
        ]);
        for r in &self.rounds {
            let truth = match &r.result.place {
                Some(p) => format!("{p}\n{}", r.result.truth),
                None => r.result.truth.to_string(),
            };
            let by = match &r.guess.source {
                GuessSource::Model => "model".to_string(),
                GuessSource::Baseline => "baseline".to_string(),
                GuessSource::Fallback { reason } => format!("fallback: {reason}"),
            };
            t.add_row(vec![
                r.round.to_string(),
                truth,
                r.result.guess.to_string(),
                format!("{:.1} km", r.result.distance_km),
                r.result.points.to_string(),
                by,
            ]);
        }
        for col in [0, 3, 4] {
            if let Some(c) = t.column_mut(col) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        let n = self.rounds.len().max(1) as f64;
        let max = 5000 * self.rounds.len() as u64;
        format!(
            "{}\nTotal {} / {} points (mean {:.0} per round) · challenge {} · {}\nReplay: {}",
            t,
            self.total_points(),
            max,
            self.total_points() as f64 / n,
            self.challenge_id,
            self.reasoner,
            self.replay_dir.display()
        )
    }
}

/// Plays `plan` with `reasoner`. Finished rounds are on disk even when this returns an error.
pub async fn play(
    plan: &MatchPlan,
    reasoner: Arc<dyn Reasoner>,
) -> Result<MatchReport, SessionError> {
    let challenge = Challenge::new(&plan.map, plan.seed, plan.rounds);
    let span = info_span!("match", challenge = %challenge.id(), reasoner = %reasoner.name());
    async move {
        let server = start_local(AppState::new(plan.maps.clone())).await?;
        let url = format!(
            "{}/?seed={}&rounds={}&map={}",
            server.url(),
            plan.seed,
            plan.rounds,
            plan.map.id
        );
        let outcome = match Browser::launch(&plan.browser).await {
            Ok(browser) => {
                let launch = browser.timing;
                info!(?launch, "browser ready");
                match LocalGame::open(
                    browser,
                    &url,
                    &plan.map.name,
                    plan.map.view,
                    plan.capture.clone(),
                )
                .await
                {
                    Ok(mut game) => {
                        let r = play_rounds(plan, &challenge, &mut game, reasoner.as_ref(), launch)
                            .await;
                        game.into_browser().close().await;
                        r
                    }
                    Err((browser, e)) => {
                        browser.close().await;
                        Err(e.into())
                    }
                }
            }
            Err(e) => Err(e.into()),
        };
        if let Err(e) = server.shutdown().await {
            warn!(error = %e, "local game server did not stop cleanly");
        }
        outcome
    }
    .instrument(span)
    .await
}

async fn play_rounds(
    plan: &MatchPlan,
    challenge: &Challenge,
    env: &mut LocalGame,
    reasoner: &dyn Reasoner,
    launch: LaunchTiming,
) -> Result<MatchReport, SessionError> {
    let manifest = Manifest {
        format_version: replay::FORMAT_VERSION,
        session_id: replay::new_session_id(),
        created: chrono::Utc::now(),
        geoagent_version: env!("CARGO_PKG_VERSION").into(),
        environment: "local-game".into(),
        map: replay::MapInfo {
            id: plan.map.id.clone(),
            name: plan.map.name.clone(),
            size_km: plan.map.size_km,
            synthetic: plan.map.synthetic,
        },
        challenge: replay::ChallengeInfo {
            id: challenge.id(),
            seed: plan.seed,
            rounds: plan.rounds,
        },
        reasoner: reasoner.name(),
        strategy: plan.strategy.clone(),
        capture: replay::CaptureInfo {
            headings: plan.capture.headings,
            zoom_steps: plan.capture.zoom_steps,
            jpeg_quality: plan.capture.jpeg_quality,
        },
        parent: None,
    };
    let mut writer = ReplayWriter::create(&plan.replay_root, &manifest)?;
    let mut report = MatchReport {
        session_id: manifest.session_id.clone(),
        replay_dir: writer.dir().to_path_buf(),
        challenge_id: challenge.id(),
        reasoner: reasoner.name(),
        map_name: plan.map.name.clone(),
        rounds: Vec::with_capacity(plan.rounds),
        launch,
    };
    for round in 1..=plan.rounds {
        let span = info_span!("round", round);
        let record = async {
            let t0 = Instant::now();
            let obs = env
                .observe()
                .await
                .map_err(|source| SessionError::Round { round, source })?;
            let t1 = Instant::now();
            let guess = reasoner.guess(&obs).await;
            let reason_ms = t1.elapsed().as_millis() as u64;
            if let GuessSource::Fallback { reason } = &guess.source {
                warn!(%reason, "model failed; using the baseline guess");
            }
            let (mut result, timing) = env
                .guess(guess.pos)
                .await
                .map_err(|source| SessionError::Round { round, source })?;
            let location_id = annotate(&plan.map, &mut result);
            let views = writer.save_views(round, &obs.views)?;
            let record = RoundRecord {
                round,
                location_id,
                views,
                guess,
                result,
                timings: Timings {
                    capture_ms: obs.capture_ms,
                    reason_ms,
                    guess_ms: timing.guess_ms,
                    total_ms: t0.elapsed().as_millis() as u64,
                },
                finished_at: chrono::Utc::now(),
            };
            writer.append(&record)?;
            info!(
                points = record.result.points,
                distance_km = format!("{:.1}", record.result.distance_km),
                "round done"
            );
            Ok::<_, SessionError>(record)
        }
        .instrument(span)
        .await?;
        report.rounds.push(record);
    }
    Ok(report)
}

/// After the guess the truth is public: name the location it was, for the table and the replay.
fn annotate(map: &Map, result: &mut RoundResult) -> Option<String> {
    let loc = map
        .locations
        .iter()
        .min_by(|a, b| {
            a.pos
                .distance_km(&result.truth)
                .total_cmp(&b.pos.distance_km(&result.truth))
        })
        .filter(|l| l.pos.distance_km(&result.truth) <= LOCATION_MATCH_KM)?;
    result.place = loc.place.clone();
    result.country = loc.country.clone();
    Some(loc.id.clone())
}
