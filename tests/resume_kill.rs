//! Resume after a kill: the geoagent binary is SIGKILLed at a random point of a run, resumed, and
//! the session holds every round exactly once (issue 8). Each test prints its kill point;
//! `GEOAGENT_TEST_KILL_AT=N` replays one.

mod common;

use common::openai_server::{OpenAiServer, Reply, DEFAULT_ANSWER};
use geoagent::fleet::games::{GameStatus, RunFile, RUNS_DIR};
use geoagent::replay::{Replay, ROUNDS_FILE};
use rand::Rng;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Long enough for a debug build on a loaded 2-core machine to play 50 rounds many times over.
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// How often the test looks at the replay while the child runs.
const POLL: Duration = Duration::from_millis(20);

fn geoagent(args: &[&str], home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_geoagent"));
    // Run in the test's own folder: a relative path (the response cache, ./replays) must never
    // land in the checkout.
    c.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env_remove("OPENAI_API_KEY")
        .env("TMPDIR", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|s| s.lines().filter(|l| l.trim_end().ends_with('}')).count())
        .unwrap_or(0)
}

fn sessions(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("manifest.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Set to a number to replay a failed run's kill point (each test prints the one it drew).
const KILL_AT_VAR: &str = "GEOAGENT_TEST_KILL_AT";

/// The round count at which to kill: drawn from `range`, or `KILL_AT_VAR` when set, and printed
/// either way so a failure names the value that reproduces it.
fn kill_point(range: Range<usize>) -> usize {
    let at = match std::env::var(KILL_AT_VAR) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{KILL_AT_VAR}={v:?} is not a round count")),
        Err(_) => rand::rng().random_range(range),
    };
    eprintln!("kill point: {at} rounds (replay with {KILL_AT_VAR}={at})");
    at
}

/// Waits until `done()` says the kill point was reached, then SIGKILLs the child.
fn kill_when(child: &mut Child, what: &str, done: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !done() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before the kill point ({what})");
        }
        assert!(t0.elapsed() < RUN_LIMIT, "kill point never reached: {what}");
        std::thread::sleep(POLL);
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_killed_at_a_random_point_resumes_to_exactly_50_rounds() {
    let model = OpenAiServer::start(Default::default()).await;
    // A model that takes a while, so the run is still going when it is killed.
    model.set_default(|_| {
        Reply::Delay(
            Duration::from_millis(150),
            Box::new(Reply::Text(DEFAULT_ANSWER.into())),
        )
    });
    let home = tempfile::tempdir().unwrap();
    let replays = home.path().join("replays");
    let r = replays.display().to_string();
    let common_args = [
        "--model",
        "bench-model",
        "--base-url",
        &model.base_url,
        "--replay-dir",
        &r,
    ];
    let kill_at = kill_point(3..45);
    let mut args = vec![
        "bench",
        "--rounds",
        "50",
        "--concurrency",
        "4",
        "--headings",
        "1",
        "--seed",
        "77",
    ];
    args.extend(common_args);
    let mut child = geoagent(&args, home.path())
        .spawn()
        .expect("spawn geoagent");
    kill_when(&mut child, &format!("{kill_at} rounds"), || {
        sessions(&replays)
            .first()
            .is_some_and(|s| lines(&s.join(ROUNDS_FILE)) >= kill_at)
    });
    let session = sessions(&replays).pop().expect("a session folder");
    let before = Replay::open(&session).unwrap().rounds.len();
    assert!(before < 50, "killed before the end ({before} rounds)");

    let s = session.display().to_string();
    let mut args = vec!["bench", "--resume", &s, "--concurrency", "4"];
    args.extend(common_args);
    let status = geoagent(&args, home.path()).status().expect("resume");
    assert!(status.success(), "resume failed: {status}");

    assert_eq!(
        sessions(&replays).len(),
        1,
        "resume wrote into the same session"
    );
    let replay = Replay::open(&session).unwrap();
    let rounds: Vec<usize> = replay.rounds.iter().map(|r| r.round).collect();
    let distinct: BTreeSet<usize> = rounds.iter().copied().collect();
    assert_eq!(
        rounds.len(),
        50,
        "no round played twice (killed at {before})"
    );
    assert_eq!(distinct, (1..=50).collect(), "no round lost");
    assert!(replay.skipped.is_empty(), "{:?}", replay.skipped);
    assert_eq!(
        replay.manifest.environment,
        geoagent::environment::Kind::Direct
    );
    for r in &replay.rounds {
        assert_eq!(r.views.len(), 1);
        assert!(session.join(&r.views[0].file).is_file());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_run_killed_mid_way_resumes_every_game() {
    common::require_browser();
    let home = tempfile::tempdir().unwrap();
    let replays = home.path().join("replays");
    let r = replays.display().to_string();
    let args = [
        "play",
        "--games",
        "3",
        "--parallel",
        "2",
        "--rounds",
        "2",
        "--headings",
        "1",
        "--seed",
        "500",
        "--replay-dir",
        &r,
    ];
    let mut child = geoagent(&args, home.path())
        .spawn()
        .expect("spawn geoagent");
    let recorded = || -> usize {
        sessions(&replays)
            .iter()
            .map(|s| lines(&s.join(ROUNDS_FILE)))
            .sum()
    };
    let kill_at = kill_point(1..5);
    kill_when(&mut child, &format!("{kill_at} rounds"), || {
        recorded() >= kill_at
    });
    reap_browsers(home.path());
    let before = recorded();
    assert!(before < 6, "killed before the end");

    let runs: Vec<PathBuf> = std::fs::read_dir(replays.join(RUNS_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(runs.len(), 1, "one run file: {runs:?}");
    let run_id = RunFile::load(&runs[0]).unwrap().run_id;
    let status = geoagent(
        &["play", "--resume", &run_id, "--replay-dir", &r],
        home.path(),
    )
    .status()
    .expect("resume");
    assert!(status.success(), "resume failed: {status}");

    let run = RunFile::load(&runs[0]).unwrap();
    assert_eq!(run.games.len(), 3);
    let mut challenges = BTreeSet::new();
    for g in &run.games {
        assert_eq!(g.status, GameStatus::Done, "{g:?}");
        let replay = Replay::open(&replays.join(&g.session_id)).unwrap();
        let rounds: Vec<usize> = replay.rounds.iter().map(|r| r.round).collect();
        assert_eq!(rounds, vec![1, 2], "game {} (killed at {before})", g.index);
        assert_eq!(replay.manifest.challenge.seed, 500 + g.index as u64);
        challenges.insert(replay.manifest.challenge.id.clone());
    }
    assert_eq!(challenges.len(), 3, "each game its own challenge");
    assert_eq!(sessions(&replays).len(), 3, "no extra session folders");
}

/// A SIGKILLed geoagent cannot close its browsers; its chromedriver dies with it (parent-death
/// signal), and the Chromiums of this test's private profile folder are ended here.
fn reap_browsers(home: &Path) {
    let _ = Command::new("pkill")
        .args([
            "-KILL",
            "-f",
            "--",
            &format!(
                "--user-data-dir={}",
                home.join("geoagent-profiles").display()
            ),
        ])
        .status();
}
