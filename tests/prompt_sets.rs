//! A prompt set of the user's own, end to end (issue 24 item 4): `play --prompts DIR` against the
//! local game and a scripted model on 127.0.0.1 sends the model the user's text, the session
//! records it, `replay rerun` plays the recorded text after the user's folder is gone, and
//! `stats` names each prompt set as a player of its own.

mod common;

use common::command::stdout_ok as ok;
use common::openai_server::{OpenAiServer, RecordedRequest, ServerOptions};
use geoagent::replay::{Replay, MANIFEST_FILE};
use std::path::{Path, PathBuf};
use std::process::Output;

const KEY: &str = "sk-test-prompt-sets";
/// The system part of the user's `cot.md`: what the model must receive, byte for byte.
const SYSTEM: &str = "You are Mira, a careful geographer. Say which clues you used.";
/// The user part before `{{views}}`.
const USER_HEAD: &str = "Prompt set mira-v1. Where was this taken? Views:";
const REPAIR: &str = "Prompt set mira-v1 repair: {{problem}} Answer with JSON only.";

fn geoagent(cwd: &Path, args: &[&str]) -> Output {
    common::command::geoagent(cwd)
        .args(args)
        .env("HOME", cwd)
        .env("OPENAI_API_KEY", KEY)
        // Every run must reach the model, not the response cache.
        .env("GEOAGENT_MODEL__CACHE", "false")
        .output()
        .expect("run geoagent")
}

fn cot_text() -> String {
    format!("{SYSTEM}\n---user---\n{USER_HEAD}\n{{{{views}}}}\n")
}

fn sessions(root: &Path) -> Vec<Replay> {
    let mut v: Vec<Replay> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join(MANIFEST_FILE).is_file())
        .map(|p| Replay::open(&p).unwrap())
        .collect();
    v.sort_by_key(|r| r.manifest.created);
    v
}

/// The system message and the user text of a chat request, as the model received them.
fn parts(r: &RecordedRequest) -> (String, String) {
    let msgs = r.body["messages"].as_array().expect("messages");
    let text = |m: &serde_json::Value| match &m["content"] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    let system = msgs
        .iter()
        .find(|m| m["role"] == "system")
        .map(text)
        .unwrap_or_default();
    let user = msgs
        .iter()
        .find(|m| m["role"] == "user")
        .map(text)
        .unwrap_or_default();
    (system, user)
}

fn assert_got_user_prompts(reqs: &[RecordedRequest], what: &str) {
    assert!(!reqs.is_empty(), "{what}: no request");
    for r in reqs {
        assert!(r.rejected.is_none(), "{what}: {:?}", r.rejected);
        let (system, user) = parts(r);
        assert_eq!(system, SYSTEM, "{what}: the system prompt sent");
        assert!(
            user.starts_with(&format!("{USER_HEAD}\nView 1: heading 0°")),
            "{what}: the user prompt sent:\n{user}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_prompt_set_plays_is_recorded_reruns_without_its_folder_and_is_its_own_player() {
    common::require_browser();
    let llm = OpenAiServer::start(ServerOptions {
        api_key: Some(KEY.into()),
    })
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().to_path_buf();
    let mine = home.join("mira-v1");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("cot.md"), cot_text()).unwrap();
    std::fs::write(mine.join("repair.md"), REPAIR).unwrap();
    let replays = home.join("replays");
    let (root, base) = (replays.display().to_string(), llm.base_url.clone());
    let run = move |args: Vec<String>| {
        let home = home.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                geoagent(&home, &a)
            })
            .await
            .unwrap()
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    // 1. Played with the user's folder: the model gets the user's text.
    let out = run(s(&[
        "play",
        "--rounds",
        "2",
        "--seed",
        "5",
        "--model",
        "scripted-vl",
        "--base-url",
        &base,
        "--prompts",
        "mira-v1",
        "--replay-dir",
        &root,
    ]))
    .await;
    ok(&out);
    assert_got_user_prompts(&llm.requests(), "play");
    let played = sessions(&replays);
    assert_eq!(played.len(), 1);
    let parent = &played[0];
    assert_eq!(parent.rounds.len(), 2);
    let info = parent
        .manifest
        .prompts
        .clone()
        .expect("prompt set recorded");
    assert_eq!(info.name, "mira-v1");
    assert_eq!(
        parent.manifest.strategy, "cot",
        "strategy stays a plain name (resume parses it)"
    );
    assert_eq!(info.files, ["cot", "repair"]);
    // The recorded text is the user's file, byte for byte.
    let recorded = parent.dir.join("prompts/mira-v1");
    assert_eq!(
        std::fs::read_to_string(recorded.join("cot.md")).unwrap(),
        cot_text()
    );
    assert_eq!(
        std::fs::read_to_string(recorded.join("repair.md")).unwrap(),
        REPAIR
    );
    let label = format!("cot: mira-v1@{}", &info.sha256[..8]);

    // 2. The user's folder is gone: a re-run plays the recorded prompts, not the built-in ones.
    std::fs::remove_dir_all(tmp.path().join("mira-v1")).unwrap();
    let before = llm.requests().len();
    let id = parent.manifest.session_id.clone();
    let out = run(s(&[
        "replay",
        "rerun",
        &id,
        "--model",
        "scripted-vl",
        "--base-url",
        &base,
        "--dir",
        &root,
    ]))
    .await;
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&label),
        "the re-run says which prompts it plays:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reqs = llm.requests().split_off(before);
    assert_eq!(reqs.len(), 2, "one request per recorded round");
    assert_got_user_prompts(&reqs, "rerun");
    let child = sessions(&replays)
        .into_iter()
        .find(|r| r.manifest.parent.as_deref() == Some(id.as_str()))
        .expect("the re-run's session");
    assert_eq!(child.manifest.prompts.as_ref(), Some(&info));
    assert_eq!(
        std::fs::read_to_string(child.dir.join("prompts/mira-v1/cot.md")).unwrap(),
        cot_text(),
        "the re-run records the prompts it played"
    );

    // 3. The same model with the built-in prompts is another player.
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("agent_prompts");
    let before = llm.requests().len();
    let out = run(s(&[
        "replay",
        "rerun",
        &id,
        "--model",
        "scripted-vl",
        "--base-url",
        &base,
        "--dir",
        &root,
        "--prompts",
        shipped.to_str().unwrap(),
    ]))
    .await;
    ok(&out);
    for r in llm.requests().split_off(before) {
        assert_ne!(
            parts(&r).0,
            SYSTEM,
            "--prompts on a re-run replaces the recorded set"
        );
    }

    let out = run(s(&["stats", &root])).await;
    let table = ok(&out);
    let mine = format!("openai:scripted-vl ({label}) — 2 session(s)");
    let builtin = "openai:scripted-vl (cot) — 1 session(s)";
    assert!(table.contains(&mine), "no `{mine}` player:\n{table}");
    assert!(table.contains(builtin), "no `{builtin}` player:\n{table}");
}

#[test]
fn a_tampered_recorded_prompt_set_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/replays");
    let id = "20261123T115949Z-40e71c";
    let dir = home.join("replays").join(id);
    copy_dir(&src.join(id), &dir);
    // A recorded set whose text no longer matches its hash.
    let folder = dir.join("prompts/mira-v1");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("cot.md"), cot_text()).unwrap();
    std::fs::write(folder.join("repair.md"), REPAIR).unwrap();
    let mpath = dir.join(MANIFEST_FILE);
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&mpath).unwrap()).unwrap();
    m["prompts"] = serde_json::json!({"name": "mira-v1", "sha256": "ab".repeat(32), "files": ["cot", "repair"]});
    std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    let root = home.join("replays").display().to_string();
    let out = geoagent(
        home,
        &[
            "replay",
            "rerun",
            id,
            "--model",
            "scripted-vl",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--dir",
            &root,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("prompts/mira-v1") && err.contains("changed after the session"),
        "{err}"
    );
    // A name that would leave the session folder.
    m["prompts"]["name"] = serde_json::json!("../../etc");
    std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    let out = geoagent(
        home,
        &[
            "replay",
            "rerun",
            id,
            "--model",
            "scripted-vl",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--dir",
            &root,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("manifest.json") && err.contains("prompts.name"),
        "{err}"
    );
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).unwrap();
        }
    }
}
