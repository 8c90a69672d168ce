//! A rejected API key stops the match (issue 13, item 10): `play` and `bench` exit non-zero at the
//! first 401/403 with an error naming the key's variable, and the rounds finished before it stay
//! in the replay. Before, every later round silently fell back to the baseline and exited 0.

mod common;

use common::openai_server::{OpenAiServer, Reply, DEFAULT_ANSWER};
use geoagent::replay::Replay;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The key the test hands geoagent; the server says it was revoked after the first round.
const KEY: &str = "sk-test-revoked-key";

fn run(args: &[&str], home: &Path, model: &OpenAiServer) -> Output {
    let replays = home.join("replays").display().to_string();
    let mut all = args.to_vec();
    all.extend([
        "--model",
        "auth-test-model",
        "--base-url",
        &model.base_url,
        "--headings",
        "1",
        "--no-cache",
        "--replay-dir",
        &replays,
    ]);
    Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args(&all)
        .current_dir(home)
        .env("HOME", home)
        .env("TMPDIR", home)
        .env("OPENAI_API_KEY", KEY)
        .stdin(Stdio::null())
        .output()
        .expect("run geoagent")
}

/// The first request gets an answer, every later one a 401 as OpenAI sends it.
async fn revoking_server() -> OpenAiServer {
    let model = OpenAiServer::start(Default::default()).await;
    model.push(Reply::Text(DEFAULT_ANSWER.into()));
    model.set_default(|_| Reply::Status {
        code: 401,
        retry_after: None,
        body: r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#.into(),
    });
    model
}

fn session(home: &Path) -> PathBuf {
    std::fs::read_dir(home.join("replays"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("manifest.json").is_file())
        .expect("a session folder")
}

/// `in_order`: the game plays its rounds in order (a bench plays rounds as their views are
/// ready, so its one finished round may be any of them).
fn check(out: &Output, home: &Path, model: &OpenAiServer, in_order: bool) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "an authentication failure must fail the command: {}\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("OPENAI_API_KEY"),
        "the error names the key's variable: {stderr}"
    );
    assert!(
        !stderr.contains(KEY),
        "the key itself is never printed: {stderr}"
    );
    let replay = Replay::open(&session(home)).unwrap();
    assert_eq!(
        replay.rounds.len(),
        1,
        "the round before the failure is kept, none after it"
    );
    if in_order {
        assert_eq!(replay.rounds[0].round, 1);
    }
    // Stopped at once: the rejected request is the last one (no further round asked the model).
    assert_eq!(
        model.requests().len(),
        2,
        "one answered request, one rejected, then nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_stops_at_a_rejected_key() {
    common::require_browser();
    let model = revoking_server().await;
    let home = tempfile::tempdir().unwrap();
    let out = run(
        &["play", "--rounds", "4", "--seed", "31"],
        home.path(),
        &model,
    );
    check(&out, home.path(), &model, true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_stops_at_a_rejected_key() {
    let model = revoking_server().await;
    let home = tempfile::tempdir().unwrap();
    let out = run(
        &[
            "bench",
            "--rounds",
            "4",
            "--concurrency",
            "1",
            "--seed",
            "31",
            "--no-view-cache",
        ],
        home.path(),
        &model,
    );
    check(&out, home.path(), &model, false);
}

/// Issue 23: `replay rerun` with a rejected key recorded a whole session of fallback guesses and
/// exited 0 (its loop never asked `auth_failure`). Now it is played by the same round loop as
/// `play`: the command fails naming the key's variable, the round before the failure is kept,
/// no later round asks the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rerun_stops_at_a_rejected_key() {
    let home = tempfile::tempdir().unwrap();
    let answering = OpenAiServer::start(Default::default()).await;
    answering.set_default(|_| Reply::Text(DEFAULT_ANSWER.into()));
    let out = run(
        &[
            "bench",
            "--rounds",
            "3",
            "--concurrency",
            "1",
            "--seed",
            "32",
            "--no-view-cache",
        ],
        home.path(),
        &answering,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parent = session(home.path());
    let parent_id = parent.file_name().unwrap().to_string_lossy().to_string();

    let model = revoking_server().await;
    let replays = home.path().join("replays").display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args(["replay", "rerun", &parent_id, "--model", "auth-test-model"])
        .args([
            "--base-url",
            &model.base_url,
            "--no-cache",
            "--dir",
            &replays,
        ])
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("TMPDIR", home.path())
        .env("OPENAI_API_KEY", KEY)
        .stdin(Stdio::null())
        .output()
        .expect("run geoagent");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the re-run must fail: {stderr}");
    assert!(stderr.contains("OPENAI_API_KEY"), "{stderr}");
    assert!(
        !stderr.contains(KEY),
        "the key itself is never printed: {stderr}"
    );
    let child = std::fs::read_dir(home.path().join("replays"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p != &parent && p.join("manifest.json").is_file())
        .expect("the re-run's session folder");
    let replay = Replay::open(&child).unwrap();
    assert_eq!(replay.manifest.parent.as_deref(), Some(parent_id.as_str()));
    assert_eq!(
        replay.rounds.len(),
        1,
        "one round kept, none after the failure"
    );
    assert_eq!(
        model.requests().len(),
        2,
        "one answered, one rejected, then nothing"
    );
}
