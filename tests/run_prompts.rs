//! A run (`play --games N`) records the prompt set its games are played with, and a `--resume`
//! with another set is refused before anything is played: a run is one player (issue 24).
//!
//! No browser is needed: the games fail at once on a chromedriver that does not exist, which
//! leaves a run file with every game to play, as a crash at the start would.

mod common;

use common::command::said;
use geoagent::fleet::games::{RunFile, RUNS_DIR};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Nothing listens here; the games never reach the model.
const NO_MODEL: &str = "http://127.0.0.1:9/v1";

fn geoagent(cwd: &Path, args: &[&str]) -> Output {
    common::command::geoagent(cwd)
        .args(args)
        .env("HOME", cwd)
        .env("OPENAI_API_KEY", "sk-test-run-prompts")
        .output()
        .expect("run geoagent")
}

fn prompt_set(home: &Path, name: &str, persona: &str) {
    let dir = home.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("cot.md"),
        format!("You are {persona}.\n---user---\nWhere was this taken?\n{{{{views}}}}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("repair.md"), "{{problem}} Answer with JSON only.").unwrap();
}

fn run_file(home: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(home.join("replays").join(RUNS_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// `play` (or `play --resume`) with the scripted model and a chromedriver that is not there.
fn play(home: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "play",
        "--model",
        "scripted-vl",
        "--base-url",
        NO_MODEL,
        "--replay-dir",
        "replays",
        "--chromedriver",
        "no-such-chromedriver",
    ];
    args.extend_from_slice(extra);
    geoagent(home, &args)
}

#[test]
fn a_run_records_its_prompt_set_and_refuses_to_resume_with_another() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    prompt_set(home, "mira-v1", "Mira");
    prompt_set(home, "other", "Otto");

    let out = play(
        home,
        &[
            "--games",
            "2",
            "--rounds",
            "1",
            "--seed",
            "3",
            "--prompts",
            "mira-v1",
        ],
    );
    assert!(
        !out.status.success(),
        "the games cannot start:\n{}",
        said(&out)
    );
    let path = run_file(home);
    let run = RunFile::load(&path).unwrap();
    let info = run
        .prompts
        .clone()
        .expect("the run file records the prompt set");
    assert_eq!(info.name, "mira-v1");
    assert_eq!(info.files, ["cot", "repair"]);
    let arg = path.display().to_string();

    // Another set: refused before anything is played, naming both.
    let out = play(home, &["--resume", &arg, "--prompts", "other"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", said(&out));
    assert!(
        err.contains(&format!("prompt set {}", info.label()))
            && err.contains("prompt set other@")
            && err.contains("a run keeps one prompt set")
            && !err.contains("Resuming run"),
        "not refused with the cause:\n{}",
        said(&out)
    );

    // No --prompts: the set the game sessions recorded plays on (as `--resume SESSION` does).
    let sessions: Vec<PathBuf> = std::fs::read_dir(home.join("replays"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    assert!(!sessions.is_empty(), "the failed games left no session");
    let out = play(home, &["--resume", &arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Resuming run") && !err.contains("a run keeps one prompt set"),
        "the recorded set was not taken up:\n{}",
        said(&out)
    );
    // With no session holding the set, the built-in prompts are refused.
    for s in &sessions {
        std::fs::remove_dir_all(s).unwrap();
    }
    let out = play(home, &["--resume", &arg]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("not the built-in prompts")
            && err.contains("--prompts"),
        "the built-in prompts were not refused:\n{}",
        said(&out)
    );

    // The same set goes on (to the missing chromedriver).
    let out = play(home, &["--resume", &arg, "--prompts", "mira-v1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Resuming run") && !err.contains("a run keeps one prompt set"),
        "the same set was refused:\n{}",
        said(&out)
    );
    // Nothing the refusals did changed the run's record.
    assert_eq!(RunFile::load(&path).unwrap().prompts, Some(info));
}

#[test]
fn a_run_file_from_before_prompt_sets_were_recorded_still_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    prompt_set(home, "other", "Otto");
    let out = play(home, &["--games", "2", "--rounds", "1", "--seed", "3"]);
    assert!(!out.status.success(), "{}", said(&out));
    let path = run_file(home);
    // As a version 1 build wrote it: no `prompts`, the set unknown.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["format_version"] = 1.into();
    assert!(v.as_object_mut().unwrap().remove("prompts").is_none());
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let run = RunFile::load(&path).unwrap();
    assert_eq!(run.prompts, None);

    let arg = path.display().to_string();
    let out = play(home, &["--resume", &arg, "--prompts", "other"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Resuming run") && !err.contains("a run keeps one prompt set"),
        "an old run file was refused:\n{}",
        said(&out)
    );
}
