//! geoguessr.com's clock and its failures, end to end: real Chromium, the replica of the site
//! (tests/common/geoguessr_site.rs, whose rounds start their clock when requested and whose
//! overdue rounds are booked as timed out, as the site's are) and a local model server. Every
//! check compares the replay with the replica's own record of what it scored: the same rounds,
//! the same points, nothing booked as a timeout that should not be, nothing twice.

mod common;

use common::geoguessr_site::{Fault, LateGuess, Replica, COOKIE};
use common::openai_server::{OpenAiServer, Reply, ServerOptions, DEFAULT_ANSWER};
use geoagent::agent::GuessSource;
use geoagent::replay::Replay;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default round pause is 3 s; the site sees at least this much of it between a guess and
/// the next round's start (the click's answer may reach the site a moment after the page
/// reported the click).
const ROUND_PAUSE_SEEN: Duration = Duration::from_millis(2500);

/// One busy browser game at a time in this binary: the machine has 2 cores.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// The games whose rounds are mostly a model that keeps the page waiting (to the limit, or
/// past it) take this lane instead, so their waits overlap a busy game rather than add to the
/// suite's time; one of them at a time.
static WAITING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A home for one run: the config pointing at the replica (everything else default) and the
/// replay folder.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(replica: &Replica, extra: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let replays = dir.path().join("replays");
        std::fs::write(
            dir.path().join("geoagent.toml"),
            format!(
                "[geoguessr]\nbase_url = \"{}\"\n{extra}\n[replay]\ndir = \"{}\"\n[server]\nhuman_results = \"{}\"\n",
                replica.base_url,
                replays.display(),
                dir.path().join("humans.jsonl").display()
            ),
        )
        .unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `geoagent ARGS --config HOME/geoagent.toml` with the cookie in the environment.
    async fn geoagent(&self, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"));
        cmd.args(args)
            .arg("--config")
            .arg(self.path().join("geoagent.toml"))
            .env("GEOGUESSR_NCFA", COOKIE)
            .env("OPENAI_API_KEY", "sk-test")
            .env("HOME", self.path())
            .env("TMPDIR", self.path())
            .current_dir(self.path())
            .stdin(std::process::Stdio::null());
        tokio::task::spawn_blocking(move || cmd.output().expect("run geoagent"))
            .await
            .unwrap()
    }

    /// The one session folder.
    fn session(&self) -> PathBuf {
        let root = self.path().join("replays");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("manifest.json").is_file())
            .collect();
        assert_eq!(found.len(), 1, "one session in {}", root.display());
        found.pop().unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `play --site geoguessr` with a model from `server`, then `extra` arguments.
fn play_args<'a>(server: &'a OpenAiServer, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "play",
        "--site",
        "geoguessr",
        "--model",
        "m",
        "--base-url",
        &server.base_url,
        "--no-cache",
    ];
    v.extend_from_slice(extra);
    v
}

/// The replay of `session` beside the replica's record of game `token`: every round the site
/// scored is in the replay once, with the site's points and guess. Returns the replay.
fn same_rounds_as_the_site(replica: &Replica, token: &str, session: &Path) -> Replay {
    let replay = Replay::open(session).unwrap();
    let lines = std::fs::read_to_string(session.join("rounds.jsonl")).unwrap();
    assert_eq!(
        lines.lines().count(),
        replay.rounds.len(),
        "a round recorded twice or a torn line:\n{lines}"
    );
    let site = replica.points_of(token);
    let rounds: Vec<usize> = replay.rounds.iter().map(|r| r.round).collect();
    assert_eq!(
        rounds,
        (1..=site.len()).collect::<Vec<_>>(),
        "the replay's rounds against the {} the site scored",
        site.len()
    );
    let points: Vec<u32> = replay.rounds.iter().map(|r| r.result.points).collect();
    assert_eq!(points, site, "the replay's points are the site's");
    let guesses = replica.guesses_of(token);
    for (r, (lat, lng)) in replay.rounds.iter().zip(guesses) {
        assert!(
            (r.result.guess.lat - lat).abs() < 1e-9 && (r.result.guess.lon - lng).abs() < 1e-9,
            "round {}: the replay's guess is not the one the site scored",
            r.round
        );
    }
    replay
}

/// Guesses posted to game `token` (by the page or the controller).
fn guesses_posted(replica: &Replica, token: &str) -> usize {
    let line = format!("POST /api/v3/games/{token}");
    replica.log().iter().filter(|l| **l == line).count()
}

/// The one game on the replica.
fn the_game(replica: &Replica) -> String {
    let games = replica.games();
    assert_eq!(games.len(), 1, "{games:?}");
    games[0].clone()
}

/// `play --site geoguessr --time-limit 20` with every other setting at its default (the 3 s
/// round pause, guesses by clicking the map, the 5 s margin): a 5-round game whose every round
/// the site scored in time with the model's own answer, no timeout booked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_s_limit_with_the_default_pause_loses_no_round() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Replica::start().await;
    let server = OpenAiServer::start(ServerOptions::default()).await;
    let home = Home::new(&replica, "");
    let out = home
        .geoagent(&play_args(&server, &["--time-limit", "20"]))
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let token = the_game(&replica);
    assert_eq!(
        replica.timed_out_of(&token),
        vec![false; 5],
        "{}",
        text(&out)
    );
    let replay = same_rounds_as_the_site(&replica, &token, &home.session());
    assert_eq!(replay.rounds.len(), 5);
    for r in &replay.rounds {
        assert_eq!(r.guess.source, GuessSource::Model, "round {}", r.round);
    }
    assert!(replica.times_of(&token).iter().all(|t| *t < 20));
    // The pause comes before the next round is asked for: the site saw it between a guess and
    // the next round's start, so it spent none of the next round's time.
    let gaps = replica.gaps_of(&token);
    assert_eq!(gaps.len(), 4);
    assert!(
        gaps.iter().all(|g| *g >= ROUND_PAUSE_SEEN),
        "rounds started {gaps:?} after the previous guess"
    );
}

/// A model that answers 3 s before the limit, by the site's clock of each round: with the
/// default margin it is cut off in time, the baseline's point lands before the limit, and the
/// site books no round as timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_answering_at_the_limit_less_3_s_still_gets_every_round_scored() {
    common::require_browser();
    let _one = WAITING.lock().await;
    let replica = Arc::new(Replica::start().await);
    let server = OpenAiServer::start(ServerOptions::default()).await;
    let r = replica.clone();
    server.set_default(move |_| {
        let at = r
            .games()
            .first()
            .and_then(|t| r.round_start(t, r.rounds_started(t)))
            .map(|start| start + Duration::from_secs(17));
        let wait = at.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
        });
        Reply::Delay(wait, Box::new(Reply::Text(DEFAULT_ANSWER.into())))
    });
    let home = Home::new(&replica, "");
    let out = home
        .geoagent(&play_args(&server, &["--time-limit", "20"]))
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let token = the_game(&replica);
    assert_eq!(
        replica.timed_out_of(&token),
        vec![false; 5],
        "{}",
        text(&out)
    );
    let replay = same_rounds_as_the_site(&replica, &token, &home.session());
    assert_eq!(replay.rounds.len(), 5);
    for r in &replay.rounds {
        match &r.guess.source {
            GuessSource::Fallback { reason } => assert!(reason.contains("time limit"), "{reason}"),
            s => panic!("round {}: {s:?}", r.round),
        }
    }
}

/// The site scores a guess and its answer is lost (a malformed body in round 2, a 500 in round
/// 4): every round is in the replay with the site's points, none twice, for a map click and an
/// API guess alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoiled_guess_answer_loses_no_round() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    for via in ["map", "api"] {
        let replica = Replica::start().await;
        replica.fail_guess_answer(2, Fault::Malformed);
        replica.fail_guess_answer(4, Fault::ServerError);
        let server = OpenAiServer::start(ServerOptions::default()).await;
        let home = Home::new(&replica, "round_pause_secs = 0.5");
        let out = home
            .geoagent(&play_args(
                &server,
                &["--guess-via", via, "--headings", "1"],
            ))
            .await;
        assert!(out.status.success(), "{via}: {}", text(&out));
        let token = the_game(&replica);
        let replay = same_rounds_as_the_site(&replica, &token, &home.session());
        assert_eq!(replay.rounds.len(), 5, "{via}");
        assert_eq!(
            server.requests().len(),
            5,
            "{via}: one model request a round"
        );
        assert_eq!(
            guesses_posted(&replica, &token),
            5,
            "{via}: a guess sent twice"
        );
    }
}

/// Reads of the game answered with a malformed body (3 after round 2's guess) or a 500 (3 after
/// round 4's): a read changes nothing, so it is made again, and the game goes on with every
/// round recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoiled_reads_are_read_again() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Replica::start().await;
    replica.fail_reads_after_guess(2, Fault::Malformed, 3);
    replica.fail_reads_after_guess(4, Fault::ServerError, 3);
    let server = OpenAiServer::start(ServerOptions::default()).await;
    let home = Home::new(&replica, "round_pause_secs = 0.5");
    let out = home
        .geoagent(&play_args(&server, &["--headings", "1"]))
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let token = the_game(&replica);
    let replay = same_rounds_as_the_site(&replica, &token, &home.session());
    assert_eq!(replay.rounds.len(), 5);
    assert_eq!(guesses_posted(&replica, &token), 5, "a guess sent twice");
}

/// A spoiled guess answer in round 3 while every read of the game fails for a while stops the
/// run; `play --resume` then records round 3 as the site scored it and plays 4 and 5: no round
/// skipped, none twice, no guess sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_a_spoiled_answer_resumes_without_gap_or_duplicate() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    for fault in [Fault::Malformed, Fault::ServerError] {
        let replica = Replica::start().await;
        // The site scores round 3's guess and then fails every read for a long while.
        replica.fail_guess_answer_and_reads(3, fault, 1000);
        let server = OpenAiServer::start(ServerOptions::default()).await;
        let home = Home::new(&replica, "round_pause_secs = 0.5\nguess_via = \"api\"");
        let out = home
            .geoagent(&play_args(&server, &["--headings", "1"]))
            .await;
        let token = the_game(&replica);
        assert!(!out.status.success(), "{fault:?}: {}", text(&out));
        assert_eq!(
            replica.points_of(&token).len(),
            3,
            "{fault:?}: {}",
            text(&out)
        );
        let session = home.session();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--resume") && stderr.contains(&*session.to_string_lossy()),
            "{fault:?}: {stderr}"
        );
        replica.fail_reads(fault, 0);
        let session_arg = session.to_string_lossy().to_string();
        let resumed = home
            .geoagent(&[
                "play",
                "--resume",
                &session_arg,
                "--model",
                "m",
                "--base-url",
                &server.base_url,
                "--no-cache",
            ])
            .await;
        assert!(resumed.status.success(), "{fault:?}: {}", text(&resumed));
        assert_eq!(replica.games(), vec![token.clone()], "no new game");
        let replay = same_rounds_as_the_site(&replica, &token, &session);
        assert_eq!(replay.rounds.len(), 5, "{fault:?}");
        assert_eq!(
            guesses_posted(&replica, &token),
            5,
            "{fault:?}: a guess sent twice"
        );
        // Round 3 is the model's guess, written ahead before the stop.
        assert_eq!(
            replay.rounds[2].guess.source,
            GuessSource::Model,
            "{fault:?}"
        );
    }
}

/// Issue 25 item 16: with a time limit and a margin of 0, a model that never answers in time
/// leaves the baseline's guess racing the page's own timeout. Whichever wins, and whether the
/// site refuses a late guess or books it, the game is played to the end and every round the
/// site scored is recorded once, with its points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guess_racing_the_pages_timeout_does_not_stop_the_game() {
    common::require_browser();
    let _one = WAITING.lock().await;
    for (late, via) in [(LateGuess::Refused, "map"), (LateGuess::Booked, "api")] {
        let replica = Replica::start().await;
        replica.set_late_guess(late);
        let server = OpenAiServer::start(ServerOptions::default()).await;
        server.set_default(|_| {
            Reply::Delay(
                Duration::from_secs(60),
                Box::new(Reply::Text(DEFAULT_ANSWER.into())),
            )
        });
        let home = Home::new(
            &replica,
            "time_limit_margin_secs = 0.0\nround_pause_secs = 0.5",
        );
        let out = home
            .geoagent(&play_args(
                &server,
                &["--time-limit", "10", "--guess-via", via, "--headings", "1"],
            ))
            .await;
        assert!(out.status.success(), "{late:?} {via}: {}", text(&out));
        let token = the_game(&replica);
        let replay = same_rounds_as_the_site(&replica, &token, &home.session());
        assert_eq!(replay.rounds.len(), 5, "{late:?} {via}");
    }
}
