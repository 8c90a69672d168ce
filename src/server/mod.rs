//! The local game's web server: the page people and the agent play in, its JSON game API, the
//! panorama images and, for `geoagent serve`, the replay viewer it is handed.
//!
//! Layout: `state` owns the games in memory, the per-round opaque panorama tokens, the JPEG
//! cache and the record of completed rounds; `api` the JSON game API and panorama route;
//! `assets` the embedded page (`web/`); `audit` the optional record of every request and
//! response; `viewer` the replay viewer at `/replays`; `assist` the page where a person watches
//! the agent play and gives it hints (`play --assist`); `guard` who may drive a server at all
//! (Host, Origin and JSON checks in front of every route of every server started here).
//!
//! Fairness rule: no response for a round carries its answer (coordinates, place, country,
//! location id, image metadata) until that round's guess has been made. Panoramas are served
//! under a fresh random token per round and re-encoded from pixels, so neither the URL nor the
//! bytes say where they are. Nothing is fetched from anywhere else.

mod api;
mod assets;
pub mod assist;
mod audit;
mod guard;
mod limits;
mod state;
pub mod viewer;

pub use guard::HostName;
pub use limits::{CreationLimit, DEFAULT_CREATION_BURST};
pub use state::{AppState, AuditEntry, CompletedRound, RoundSink};

use axum::{
    middleware,
    routing::{get, post},
    Router,
};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Live games kept in memory; past this a finished or abandoned game makes room, else a new game
/// is refused. A game is a few hundred bytes, so this bounds memory while leaving room for many
/// people and agent runs on one server.
pub(crate) const MAX_LIVE_GAMES: usize = 1000;
/// A game nobody asked for in this long counts as abandoned and may make room in a full table: a
/// person takes a few minutes a round, and the page asks for the game at every round.
pub(crate) const ABANDONED_AFTER: Duration = Duration::from_secs(30 * 60);
/// JPEG quality of served panoramas: high enough that small text and road markings survive,
/// small enough (~0.3–0.6 MB for 2048×1024) to load instantly from localhost.
pub(crate) const JPEG_QUALITY: u8 = 85;
/// Most encoded panoramas kept in the cache, which holds every place of the maps served up to
/// this many: at ~0.5 MB each about 128 MB, while the built-in world (~90 places) fits whole,
/// so random seeds never repaint a place (a 64-entry cache did, endlessly, under a flood).
pub(crate) const MAX_CACHED_PANORAMAS: usize = 256;
/// Longest player name accepted: names appear in tables and replays, not essays.
pub(crate) const MAX_PLAYER_NAME_CHARS: usize = 64;
/// How long `LocalServer::shutdown` waits for open requests to finish before aborting them.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Failures starting or stopping the server.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("could not bind the local game server to {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The port asked for is taken. Only a fixed port can be: the game's own port is `0` (any
    /// free one) except with `--advertise HOST:PORT`, so that is the flag to change.
    #[error("could not bind the local game server to {addr}: port {port} is in use (another program, or another geoagent, listens there); choose a free port in --advertise HOST:PORT (browser.advertise), or leave the port out for any free one", port = addr.port())]
    PortInUse { addr: SocketAddr },
    #[error("the local game server stopped with an I/O error: {0}")]
    Serve(#[source] std::io::Error),
    #[error("the local game server task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// The router with every page, asset and API route, plus the audit recorder. A server for the
/// agent ([`AppState::for_agent`]) has no route to start a game or list maps.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*path}", get(assets::asset))
        .route("/api/games/{game_id}", get(api::get_game))
        .route("/api/games/{game_id}/guess", post(api::guess))
        .route("/pano/{file}", get(api::pano));
    if !state.creations_closed() {
        router = router
            .route("/api/maps", get(api::list_maps))
            .route("/api/games", post(api::create_game));
    }
    router
        .fallback(assets::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), audit::record))
        .with_state(state)
}

/// `router` behind the [`guard`] for a server listening on `listener`: only requests naming
/// this server's addresses (or `state`'s allowed hosts) reach it, and state changes only from
/// its own pages, as JSON.
fn guarded(router: Router, listener: &TcpListener, state: &AppState) -> std::io::Result<Router> {
    let bound = listener.local_addr()?;
    Ok(router.layer(guard::layer(guard::Reach::new(
        bound,
        state.allowed_hosts(),
    ))))
}

/// Serves `state` on `listener` until `shutdown` resolves, then finishes open requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = guarded(app(state.clone()), &listener, &state)?;
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Like [`serve`], plus the replay viewer (`/replays`) over the finished sessions in
/// `replays_dir`. Only `geoagent serve` mounts it: the server `play` starts for the agent's
/// browser never has it (see [`viewer`] for what it hides).
pub async fn serve_with_replays(
    listener: TcpListener,
    state: AppState,
    replays_dir: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let live = state.clone();
    let viewer = viewer::router(Arc::new(move || live.live_challenges()), replays_dir);
    let router = guarded(app(state.clone()).merge(viewer), &listener, &state)?;
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// A server running on 127.0.0.1 in the background; stops on `shutdown()` or when dropped.
pub struct LocalServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl LocalServer {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits (up to `SHUTDOWN_GRACE`) for open requests.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(r)) => r.map_err(ServerError::Serve),
            Ok(Err(e)) => Err(ServerError::Task(e)),
            Err(_) => {
                task.abort();
                Ok(())
            }
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts serving `state` on 127.0.0.1 at a free port.
pub async fn start_local(state: AppState) -> Result<LocalServer, ServerError> {
    start_local_on(state, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
}

/// Starts serving `state` on `bind` (port 0: a free one), e.g. every interface when browsers on
/// other machines play it.
pub(crate) async fn start_local_on(
    state: AppState,
    bind: SocketAddr,
) -> Result<LocalServer, ServerError> {
    start_local_with(state, bind, Router::new()).await
}

/// [`start_local_on`], with `extra` routes beside the game's (the assist page).
pub(crate) async fn start_local_with(
    state: AppState,
    bind: SocketAddr,
    extra: Router,
) -> Result<LocalServer, ServerError> {
    let bound = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::AddrInUse => ServerError::PortInUse { addr: bind },
        _ => ServerError::Bind { addr: bind, source },
    };
    let listener = TcpListener::bind(bind).await.map_err(bound)?;
    let addr = listener.local_addr().map_err(bound)?;
    let (tx, rx) = oneshot::channel::<()>();
    let router = guarded(app(state.clone()).merge(extra), &listener, &state).map_err(bound)?;
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            // A dropped sender also means stop.
            let _ = rx.await;
        })
        .await
    });
    tracing::info!("local game server listening on http://{addr}");
    Ok(LocalServer {
        addr,
        stop: Some(tx),
        task: Some(task),
    })
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
