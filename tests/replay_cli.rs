//! `geoagent replay ...` as a user runs it (the real binary): list/show/rescore text (insta
//! snapshots, times and temp paths filtered), `rerun` against the local OpenAI-compatible test
//! server, and the `/replays` viewer of `serve`.

mod common;

use common::command::{run as geoagent, stdout_ok};
use common::fixture::{copy_session as copy_fixture, copy_tree, FIXTURE_ID};
use common::openai_server::{OpenAiServer, Reply};
use geoagent::game::{builtin, score};
use geoagent::replay::{rescore, Replay, MANIFEST_FILE, ROUNDS_FILE};
use geoagent::server;
use std::path::Path;
use std::sync::Arc;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
    s.add_filter(r"/tmp/[^/\s]+", "[TMP]");
    s.add_filter(r"geoagent \d+\.\d+\.\d+", "geoagent [VERSION]");
    s
}

#[test]
fn list_show_and_rescore_text() {
    let dir = "tests/fixtures/replays";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = settings();
    s.bind(|| {
        insta::assert_snapshot!(
            "replay_list",
            stdout_ok(&geoagent(root, &["replay", "list", "--dir", dir], &[]))
        );
        insta::assert_snapshot!(
            "replay_show",
            stdout_ok(&geoagent(
                root,
                &["replay", "show", "20261123T1159", "--dir", dir],
                &[]
            ))
        );
        insta::assert_snapshot!(
            "replay_show_round",
            stdout_ok(&geoagent(
                root,
                &["replay", "show", FIXTURE_ID, "--round", "1", "--dir", dir],
                &[]
            ))
        );
        insta::assert_snapshot!(
            "replay_rescore_dry_run",
            stdout_ok(&geoagent(
                root,
                &["replay", "rescore", FIXTURE_ID, "--dry-run", "--dir", dir],
                &[]
            ))
        );
    });
    // Bad ids and rounds are named, with what to do.
    let o = geoagent(root, &["replay", "show", "nope", "--dir", dir], &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("no session `nope`") && err.contains("replay list"),
        "{err}"
    );
    let o = geoagent(
        root,
        &["replay", "show", FIXTURE_ID, "--round", "9", "--dir", dir],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("has no round 9 (it holds rounds 1, 2)"),
        "{err}"
    );
}

#[test]
fn rescore_writes_beside_and_keeps_the_rounds() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture(tmp.path());
    // Pretend an older build scored round 2 differently.
    let path = dir.join(ROUNDS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace("\"points\":1940", "\"points\":1900");
    assert_ne!(text, edited);
    std::fs::write(&path, &edited).unwrap();
    let out = stdout_ok(&geoagent(
        tmp.path(),
        &[
            "replay",
            "rescore",
            "2026",
            "--dir",
            tmp.path().to_str().unwrap(),
        ],
        &[],
    ));
    assert!(
        out.contains("round 2: 1412.5") && out.contains("1900 → 1940 points (+40)"),
        "{out}"
    );
    assert!(out.contains("1 of 2 round(s) changed"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        edited,
        "rounds.jsonl untouched"
    );
    let r = rescore::read(&dir).unwrap().expect("rescored.json written");
    assert_eq!(r.rounds[1].recorded_points, 1900);
    assert_eq!(r.rounds[1].points, 1940);
}

/// A geoguessr.com session whose map's scale the site did not give records no map size: what
/// needs one says it is unknown instead of scoring on the world's size.
#[test]
fn a_session_without_a_map_size_is_not_scored_on_an_assumed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture(tmp.path());
    let path = dir.join(MANIFEST_FILE);
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let session = m["session_id"].as_str().unwrap().to_string();
    m["map"].as_object_mut().unwrap().remove("size_km");
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let root = tmp.path().to_str().unwrap();
    for args in [
        &["replay", "rescore", "2026", "--dir", root][..],
        &[
            "replay", "rerun", "2026", "--model", "openai:m", "--dir", root,
        ][..],
    ] {
        let o = geoagent(tmp.path(), args, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}: {err}");
        assert!(
            err.contains(&format!("session {session}")) && err.contains("map's size is unknown"),
            "{args:?}: {err}"
        );
    }
    assert!(!dir.join("rescored.json").exists());
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "no re-run session"
    );
    let shown = stdout_ok(&geoagent(
        tmp.path(),
        &["replay", "show", "2026", "--dir", root],
        &[],
    ));
    assert!(shown.contains("size unknown"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_reasons_over_the_recorded_views_with_another_model() {
    let llm = OpenAiServer::start(common::openai_server::ServerOptions {
        api_key: Some("sk-test-rerun".into()),
    })
    .await;
    llm.push(Reply::Text(
        "Dry, flat, right-hand traffic.\n```json\n{\"lat\": 31.0, \"lon\": -7.0, \"country\": \"MA\", \"confidence\": 0.6, \"rationale\": \"<b>Atlas</b> foothills\"}\n```".into(),
    ));
    llm.push(Reply::Text("Somewhere hot: 34.0, 8.0".into()));
    let tmp = tempfile::tempdir().unwrap();
    let parent_dir = copy_fixture(tmp.path());
    let parent = Replay::open(&parent_dir).unwrap();
    let root = tmp.path().to_str().unwrap().to_string();
    let base = llm.base_url.clone();
    let cwd = tmp.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        geoagent(
            &cwd,
            &[
                "replay",
                "rerun",
                "2026",
                "--model",
                "scripted-vl",
                "--base-url",
                &base,
                "--strategy",
                "direct",
                "--dir",
                &root,
            ],
            &[("OPENAI_API_KEY", "sk-test-rerun")],
        )
    })
    .await
    .unwrap();
    let text = stdout_ok(&out);
    assert!(text.contains("Total 3110 →"), "{text}");

    // Exactly the recorded pixels went to the model, two views per round, nothing else.
    let reqs = llm.requests();
    assert_eq!(reqs.len(), 2, "one request per round");
    for (req, rec) in reqs.iter().zip(&parent.rounds) {
        assert!(req.rejected.is_none(), "{:?}", req.rejected);
        assert_eq!(req.image_count, 2);
        let sent: Vec<Vec<u8>> = data_urls(&req.body)
            .iter()
            .map(|u| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(u.trim_start_matches("data:image/jpeg;base64,"))
                    .unwrap()
            })
            .collect();
        let recorded: Vec<Vec<u8>> = rec
            .views
            .iter()
            .map(|v| parent.view_bytes(v).unwrap())
            .collect();
        assert_eq!(sent, recorded);
        let t = req.text.to_lowercase();
        for secret in [
            "ouarzazate",
            "tozeur",
            "30.9335",
            "33.9197",
            "morocco",
            "tunisia",
        ] {
            assert!(!t.contains(secret), "the prompt leaks {secret}");
        }
    }

    // The new session: linked to its parent, scored against the recorded truth.
    let child_dir = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join(MANIFEST_FILE).is_file() && !p.ends_with(FIXTURE_ID))
        .expect("a new session folder");
    let child = Replay::open(&child_dir).unwrap();
    assert_eq!(child.manifest.parent.as_deref(), Some(FIXTURE_ID));
    assert_eq!(
        child.manifest.environment,
        geoagent::environment::Kind::Rerun
    );
    assert_eq!(child.manifest.reasoner, "openai:scripted-vl");
    assert_eq!(child.manifest.strategy, "direct");
    assert_eq!(child.manifest.challenge, parent.manifest.challenge);
    assert_eq!(child.rounds.len(), 2);
    for (c, p) in child.rounds.iter().zip(&parent.rounds) {
        assert_eq!(c.result.truth, p.result.truth);
        assert_eq!(c.location_id, p.location_id);
        let d = c.guess.pos.distance_km(&p.result.truth);
        assert!((c.result.distance_km - d).abs() < 1e-9);
        assert_eq!(
            c.result.points,
            score(d, parent.manifest.map.size_km.unwrap())
        );
        assert_eq!(c.views.len(), 2);
    }
    assert!((child.rounds[0].guess.pos.lat - 31.0).abs() < 1e-9);
    assert!(child.rounds[0].result.points > parent.rounds[0].result.points);

    // `show` and `list` present it with its answer and parent.
    let dir_arg = tmp.path().to_str().unwrap();
    let id = child.manifest.session_id.clone();
    let shown = stdout_ok(&geoagent(
        tmp.path(),
        &["replay", "show", &id, "--round", "1", "--dir", dir_arg],
        &[],
    ));
    assert!(
        shown.contains("--- raw answer ---\nDry, flat, right-hand traffic."),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("re-run of session {FIXTURE_ID}")),
        "{shown}"
    );
    let listed = stdout_ok(&geoagent(
        tmp.path(),
        &["replay", "list", "--dir", dir_arg],
        &[],
    ));
    assert!(
        listed.contains("openai:scripted-vl") && listed.contains("(rerun)"),
        "{listed}"
    );
    assert!(listed.contains(" in / "), "tokens shown: {listed}");
}

/// The image data URLs of a Chat Completions request body.
fn data_urls(body: &serde_json::Value) -> Vec<String> {
    let mut out = vec![];
    for m in body["messages"].as_array().into_iter().flatten() {
        for part in m["content"].as_array().into_iter().flatten() {
            if let Some(u) = part["image_url"]["url"].as_str() {
                out.push(u.to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_shows_finished_sessions_and_hides_challenges_in_play() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_fixture(tmp.path());
    let state = server::AppState::new(vec![Arc::new(builtin::world())]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve_with_replays(
        listener,
        state.clone(),
        tmp.path().to_path_buf(),
        async {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let base = base.clone();
        async move { http.get(format!("{base}{path}")).send().await.unwrap() }
    };

    let list = get("/replays".into()).await.text().await.unwrap();
    assert!(list.contains(FIXTURE_ID), "{list}");
    let page = get(format!("/replays/{FIXTURE_ID}?round=2"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Tozeur, Tunisia") && page.contains("1940"),
        "{page}"
    );
    assert!(page.contains(&format!("/replays/{FIXTURE_ID}/views/r002_v0.jpg")));
    assert!(page.contains("?round=1"), "a link back to round 1");
    let img = get(format!("/replays/{FIXTURE_ID}/views/r002_v0.jpg")).await;
    assert_eq!(img.headers()["content-type"], "image/jpeg");
    assert_eq!(
        img.bytes().await.unwrap().to_vec(),
        std::fs::read(dir.join("views/r002_v0.jpg")).unwrap()
    );
    for bad in [
        format!("/replays/{FIXTURE_ID}/views/manifest.json"),
        format!("/replays/{FIXTURE_ID}/views/..%2Fmanifest.json"),
        "/replays/..%2F..%2Fetc".to_string(),
        format!("/replays/{FIXTURE_ID}?round=7"),
    ] {
        assert_eq!(get(bad.clone()).await.status(), 404, "{bad}");
    }

    // Someone starts the same challenge: its sessions disappear until the game is over.
    let r = http
        .post(format!("{base}/api/games"))
        .json(&serde_json::json!({"map": "world", "seed": 7, "rounds": 2}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let list = get("/replays".into()).await.text().await.unwrap();
    assert!(!list.contains(FIXTURE_ID), "{list}");
    assert_eq!(get(format!("/replays/{FIXTURE_ID}")).await.status(), 404);
    assert_eq!(
        get(format!("/replays/{FIXTURE_ID}/views/r001_v0.jpg"))
            .await
            .status(),
        404
    );

    let _ = stop.send(());
    task.await.unwrap().unwrap();

    // The server `play` starts for the agent has no viewer at all.
    let local = server::start_local(server::AppState::new(vec![Arc::new(builtin::world())]))
        .await
        .unwrap();
    let r = http
        .get(format!("{}/replays", local.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    local.shutdown().await.unwrap();
}

/// A replay written by the code of 2026-12-07 (`geoagent play --rounds 2 --seed 7 --headings 2` with
/// the baseline on the local game, `GEOAGENT_CAPTURE__JPEG_QUALITY=40` to keep the views small),
/// kept as written. Later changes to the manifest or the rounds must still read it: old replays are
/// the record of what was played.
const OLD_REPLAYS: &str = "tests/fixtures/old-replays/2026-12-07";
const OLD_ID: &str = "20261207T201150Z-5f11d8";

#[test]
fn a_replay_written_by_older_code_still_lists_shows_summarises_and_rescores() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&root.join(OLD_REPLAYS), tmp.path());
    let dir = tmp.path().to_str().unwrap();

    let list = stdout_ok(&geoagent(root, &["replay", "list", "--dir", dir], &[]));
    assert!(
        list.contains(OLD_ID) && list.contains("1 session(s)"),
        "{list}"
    );
    for want in ["world", "baseline", "2026-12-07 20:11"] {
        assert!(list.contains(want), "list lacks {want:?}:\n{list}");
    }

    let show = stdout_ok(&geoagent(
        root,
        &["replay", "show", OLD_ID, "--dir", dir],
        &[],
    ));
    for want in [
        "environment local-game",
        "challenge world-7-2 · 2 of 2 round(s)",
        "JPEG quality 40",
        "Alice Springs, Northern Territory, Australia",
        "Uyuni, Potosí, Bolivia",
        "14603.0 km",
        "10556.6 km",
        "Total 4 / 10000 points",
    ] {
        assert!(show.contains(want), "show lacks {want:?}:\n{show}");
    }
    let round = stdout_ok(&geoagent(
        root,
        &["replay", "show", OLD_ID, "--round", "2", "--dir", dir],
        &[],
    ));
    assert!(
        round.contains("r002_v0.jpg") && round.contains("r002_v1.jpg"),
        "{round}"
    );

    let stats = stdout_ok(&geoagent(root, &["stats", dir], &[]));
    for want in ["baseline — 1 session(s)", "12579.8 km", "AU", "BO"] {
        assert!(stats.contains(want), "stats lacks {want:?}:\n{stats}");
    }
    assert!(
        stats.contains("│ rounds ") && stats.contains("┆ 2 "),
        "{stats}"
    );

    let rescore = stdout_ok(&geoagent(
        root,
        &["replay", "rescore", OLD_ID, "--dir", dir],
        &[],
    ));
    assert!(
        rescore.contains("0 of 2 round(s) changed · total 4 → 4 points"),
        "{rescore}"
    );
    let written: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join(OLD_ID).join("rescored.json")).unwrap(),
    )
    .unwrap();
    let points: Vec<_> = written["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["recorded_points"].as_u64(), r["points"].as_u64()))
        .collect();
    assert_eq!(points, [(Some(0), Some(0)), (Some(4), Some(4))]);
    // The fixture itself is never written to.
    assert!(!root
        .join(OLD_REPLAYS)
        .join(OLD_ID)
        .join("rescored.json")
        .exists());
}
