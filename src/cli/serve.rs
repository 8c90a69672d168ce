//! `geoagent serve`: hosts the local game for people, saving their rounds as human baselines and
//! showing finished replays.

use super::args::{check_challenge_rounds, push, Overrides};
use super::wiring::{challenge_key, load_maps, seed_or_random};
use super::Cli;
use crate::config::Settings;
use crate::server;
use anyhow::{Context, Result};
use clap::Args;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:8080.
    #[arg(long)]
    pub bind: Option<String>,
    /// Map the printed challenge link uses.
    #[arg(long)]
    pub map: Option<String>,
    /// Rounds of the printed challenge link.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Seed of the printed challenge link; random when absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A host name the server answers to besides its own addresses (repeatable), e.g. the
    /// machine's name for people on the LAN (`--allow-host mypc.local`); requests naming any
    /// other host are refused. Adds to server.allow_hosts.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_host: Vec<String>,
}

impl ServeArgs {
    pub(crate) fn prepare(&self, cli: &Cli, env: &[(String, String)]) -> Result<Settings> {
        check_challenge_rounds("--rounds", self.rounds)?;
        let mut o: Overrides = vec![];
        push(&mut o, "server.bind", &self.bind);
        push(&mut o, "game.map", &self.map);
        push(&mut o, "game.rounds", &self.rounds);
        push(&mut o, "game.seed", &self.seed);
        let mut settings = super::load_settings(cli, env, &o)?;
        for h in &self.allow_host {
            server::HostName::parse(h)
                .map_err(|why| anyhow::anyhow!("--allow-host `{h}`: {why}"))?;
            settings.server.allow_hosts.push(h.clone());
        }
        Ok(settings)
    }
}

/// Runs `geoagent serve` until Ctrl-C or SIGTERM.
pub async fn run(settings: &Settings) -> Result<ExitCode> {
    let (maps, map) = load_maps(settings)?;
    let key = challenge_key(settings)?;
    let listener = tokio::net::TcpListener::bind(&settings.server.bind)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (server.bind / --bind)",
                settings.server.bind
            )
        })?;
    let addr = listener.local_addr()?;
    let seed = seed_or_random(settings);
    outln!("Local game on http://{addr}/");
    if addr.ip().is_unspecified() {
        outln!(
            "People on your network open it by this machine's IP address (http://ADDRESS:{}/); to open it by a name, add --allow-host NAME. Requests naming any other host are refused.",
            addr.port()
        );
    }
    outln!(
        "Challenge {}-{seed}-{}: people play it at http://{addr}/?join&seed={seed}&rounds={}&map={}",
        map.id, settings.game.rounds, settings.game.rounds, map.id
    );
    outln!(
        "The agent plays the same rounds with: geoagent play --challenge {}-{seed}-{}",
        map.id,
        settings.game.rounds
    );
    outln!(
        "To watch the agent play and give it hints: geoagent play --assist --model NAME (it prints a private link to its assist page)"
    );
    outln!("Press Ctrl-C (or send SIGTERM) to stop.");
    let state = server::AppState::with_key(maps, key);
    let hosts = settings
        .server
        .allow_hosts
        .iter()
        .map(|h| {
            server::HostName::parse(h)
                .map_err(|why| anyhow::anyhow!("server.allow_hosts `{h}`: {why}"))
        })
        .collect::<Result<Vec<_>>>()?;
    state.allow_hosts(hosts);
    outln!(
        "Challenge places depend on the secret in {} (server.challenge_key): keep it private; `play` and `bench` read it too.",
        settings.server.challenge_key.display()
    );
    // Anyone who reaches the address may create games: limit them per client address.
    state.limit_creations(server::CreationLimit::default());
    outln!(
        "Rounds of people who enter a name are saved as human baselines in {} (compare with `geoagent stats REPLAYS --humans {}`).",
        settings.server.human_results.display(),
        settings.server.human_results.display()
    );
    state.on_round_completed(human_round_sink(crate::humans::Store::open(
        &settings.server.human_results,
    )));
    outln!(
        "Finished replays in {} are viewable at http://{addr}/replays (replay.dir).",
        settings.replay.dir.display()
    );
    // Ctrl-C or SIGTERM (a service manager, `kill`, a container stop) ends it the way they end
    // `play`: served requests finish, the process is gone within the stop grace, and the exit
    // code says which signal it was.
    let (stopped, stop) = tokio::sync::oneshot::channel();
    server::serve_with_replays(listener, state, settings.replay.dir.clone(), async move {
        let _ = stopped.send(crate::session::stop_requested().await);
    })
    .await?;
    Ok(match stop.await {
        Ok(signal) => ExitCode::from(signal.exit_code()),
        Err(_) => ExitCode::SUCCESS,
    })
}

/// Stores every round finished by a player who gave a name as a human baseline for that
/// challenge. Games without a name (the agent's, anonymous people) are not saved. A failed save
/// is logged, never turned into a failed guess.
pub fn human_round_sink(store: crate::humans::Store) -> server::RoundSink {
    Arc::new(move |c: &server::CompletedRound| {
        let Some(player) = c.player.clone() else {
            return;
        };
        let row = crate::humans::HumanRound {
            source: crate::humans::LOCAL_GAME_SOURCE.into(),
            challenge_id: c.challenge_id.clone(),
            round: c.round,
            location_id: Some(c.location_id.clone()),
            truth: Some(c.truth),
            player,
            points: c.points,
            distance_km: Some(c.distance_km),
            time_s: None,
            guess: Some(c.guess),
        };
        if let Err(e) = store.append(&row) {
            tracing::warn!(error = %e, "could not save a human result");
        }
    })
}
