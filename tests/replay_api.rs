//! The replay viewer's JSON API (`/api/replays`, `/api/replays/{id}`) on a real server on
//! loopback: the same sessions as the HTML viewer (finished ones only, none of a challenge being
//! played), paged and bounded, with re-scored points where `rescored.json` exists.

mod common;

use geoagent::game::builtin;
use geoagent::replay::{rescore, Replay, ROUNDS_FILE};
use geoagent::server;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Copies the fixture session (challenge world-7-2, 2 rounds) to `root/name`, with `name` as its
/// session id and the challenge `challenge`.
fn copy_fixture(root: &Path, name: &str, challenge: (&str, u64)) -> PathBuf {
    common::fixture::copy_session_as(root, name, |m| {
        m["challenge"]["id"] = challenge.0.into();
        m["challenge"]["seed"] = challenge.1.into();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_api_lists_what_the_viewer_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    // Two finished sessions, one re-scored; one unfinished; one of a challenge being played.
    let done = copy_fixture(&root, "a-done", ("world-7-2", 7));
    copy_fixture(&root, "b-done", ("world-7-2", 7));
    let half = copy_fixture(&root, "c-half", ("world-7-2", 7));
    let text = std::fs::read_to_string(half.join(ROUNDS_FILE)).unwrap();
    std::fs::write(
        half.join(ROUNDS_FILE),
        text.lines().next().unwrap().to_string() + "\n",
    )
    .unwrap();
    copy_fixture(&root, "d-live", ("world-9-2", 9));
    let replay = Replay::open(&done).unwrap();
    let mut r = rescore::rescore(&replay).unwrap();
    r.rounds[0].points = r.rounds[0].recorded_points + 7;
    rescore::write(&done, &r).unwrap();

    let state = server::AppState::new(vec![Arc::new(builtin::world())]);
    // Someone is playing world-9-2 on this server right now.
    state.start_game_at("world", 9, 2, 0).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve_with_replays(
        listener,
        state,
        root.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = http.get(format!("{base}{path}")).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };

    let (status, list) = get("/api/replays".into()).await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["a-done", "b-done"], "{list}");
    assert_eq!(list["total"], 2);
    let a = &list["sessions"][0];
    let recorded = replay
        .rounds
        .iter()
        .map(|r| u64::from(r.result.points))
        .sum::<u64>();
    assert_eq!(a["recorded_total_points"], recorded);
    assert_eq!(a["total_points"], recorded + 7);
    assert_eq!(a["url"], "/api/replays/a-done");
    assert!(list["sessions"][1]["recorded_total_points"].is_null());

    // Paging: one session a page; a limit past the bound is cut to it.
    let (_, page) = get("/api/replays?offset=1&limit=1".into()).await;
    assert_eq!(page["sessions"][0]["session_id"], "b-done");
    assert_eq!(
        (page["offset"].as_u64(), page["limit"].as_u64()),
        (Some(1), Some(1))
    );
    let (_, big) = get("/api/replays?limit=100000".into()).await;
    assert_eq!(big["limit"], 2);
    // Issue 25 item 3: paging errors are JSON like every other API error (they were text/plain).
    for bad in [
        "/api/replays?limit=-1",
        "/api/replays?offset=x",
        "/api/replays/a-done?limit=1e3",
    ] {
        let r = http.get(format!("{base}{bad}")).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let kind = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("application/json"), "{bad}: {kind}");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("limit"),
            "{bad}: {body}"
        );
    }

    // One session: its rounds, re-scored beside recorded, with view URLs the viewer serves.
    let (status, s) = get("/api/replays/a-done".into()).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["total_rounds"], 2);
    let r1 = &s["rounds"][0];
    assert_eq!(r1["points"], u64::from(replay.rounds[0].result.points) + 7);
    assert_eq!(r1["recorded_points"], replay.rounds[0].result.points);
    assert!(s["rounds"][1]["recorded_points"].is_null());
    assert_eq!(r1["truth"]["lat"], replay.rounds[0].result.truth.lat);
    let view = r1["views"][0]["url"].as_str().unwrap().to_string();
    assert_eq!(view, "/replays/a-done/views/r001_v0.jpg");
    let img = http.get(format!("{base}{view}")).send().await.unwrap();
    assert_eq!(img.status(), 200);
    let (_, second) = get("/api/replays/a-done?offset=1&limit=1".into()).await;
    assert_eq!(second["rounds"].as_array().unwrap().len(), 1);
    assert_eq!(second["rounds"][0]["round"], 2);

    // Unfinished, being played, unknown or a path: not found, as JSON.
    for id in ["c-half", "d-live", "nope", "..%2Fa-done"] {
        let (status, body) = get(format!("/api/replays/{id}")).await;
        assert_eq!(status, 404, "{id}: {body}");
        assert!(body["error"].is_string(), "{id}: {body}");
    }

    // The viewer's index follows the folder: a session that goes is no longer listed, one that
    // finishes (its rounds file changes) is listed from then on.
    std::fs::remove_dir_all(root.join("b-done")).unwrap();
    let (_, list) = get("/api/replays".into()).await;
    assert_eq!(list["total"], 1, "{list}");
    let rounds = std::fs::read_to_string(done.join("rounds.jsonl")).unwrap();
    std::fs::write(half.join("rounds.jsonl"), rounds).unwrap();
    let (_, list) = get("/api/replays".into()).await;
    assert_eq!(list["total"], 2, "{list}");
    assert_eq!(list["sessions"][1]["session_id"], "c-half", "{list}");
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
