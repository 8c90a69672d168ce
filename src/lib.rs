//! geoagent plays GeoGuessr-style games with vision-language models and measures them against
//! people.
//!
//! # Layout
//! - [`geo`]: coordinates and great-circle distances.
//! - [`game`]: maps, locations, scoring, seeded challenges, map packs, the built-in world, the
//!   synthetic panorama painter.
//! - [`environment`]: the seam between playing and reasoning: observations in, guesses out.
//! - [`browser`]: chromedriver, the WebDriver session and the page adapter for the local game.
//! - [`lvlm`]: the provider trait and the model APIs behind it.
//! - [`agent`]: prompts, reasoning strategies, answer parsing and the baseline guess.
//! - [`import`]: map packs from real imagery (photos with GPS, CSV datasets, Mapillary).
//! - [`index`]: the reference index (embeddings, storage, exact k-NN) for retrieval.
//! - [`replay`]: the on-disk record of every session; listing, showing, re-running, re-scoring.
//! - [`report`]: the HTML report of sessions (one file, or a main page with round pages beside it).
//! - [`server`]: the local game's web server and the replay viewer (HTML and JSON) it is handed.
//! - [`stats`], [`humans`]: statistics with confidence intervals, human results and win rates.
//! - [`session`]: one match from start to finish, tying the parts together.
//! - [`fleet`]: many rounds and games at once (bench in direct mode, parallel browser games),
//!   progress display and resume.
//! - [`net`]: HTTP retries (backoff, `Retry-After`, the server's `Date`) for every client.
//! - [`config`]: layered configuration.
//! - [`text`]: the one sanitiser for text from outside before it reaches a terminal, a prompt or
//!   a page.
//! - [`cli`]: the command line: every command's flags (the only place with clap), the wiring of
//!   settings into the domain modules, and the printing.
//!
//! # Layers
//! Dependencies point down this table: a module imports only from a lower row, or from its own
//! row when the two do not import each other. The rows are those of the project's design notes
//! (Modules), with `import` beside `agent` and `fsio` beside `game` and `geo`. `tests/module_graph.rs`
//! reads the table from here, so a new module is placed in exactly one spot.
//!
//! ```text
//! cli
//! config
//! fleet session
//! server
//! report stats
//! browser
//! replay humans
//! agent import
//! index lvlm
//! environment
//! game geo fsio text net
//! ```

pub mod agent;
pub mod browser;
pub mod cli;
pub mod config;
pub mod environment;
pub mod fleet;
pub mod fsio;
pub mod game;
pub mod geo;
pub mod humans;
pub mod import;
pub mod index;
pub mod lvlm;
pub mod net;
pub mod replay;
pub mod report;
pub mod server;
pub mod session;
pub mod stats;
pub mod text;
