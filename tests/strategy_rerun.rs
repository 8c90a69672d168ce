//! Issue 7's "Measure": the same recorded rounds (the committed fixture replay) re-run under each
//! strategy with `geoagent replay rerun`, against a scripted model on 127.0.0.1. Each strategy
//! must send the requests it promises (one for direct and cot, two turns for coarse-to-fine, one
//! per sample at spread temperatures for ensemble), aggregate as documented, and `geoagent stats`
//! must then print the comparison table with one row per strategy.

mod common;

use common::command::{run as geoagent, stdout_ok as ok};
use common::fixture::{copy_session as copy_fixture, FIXTURE_ID};
use common::openai_server::{OpenAiServer, RecordedRequest, Reply, ServerOptions};
use geoagent::geo::LatLon;
use geoagent::replay::{Replay, MANIFEST_FILE};
use std::path::Path;

const SAMPLES: usize = 3;

/// The scripted model: answers each strategy's question in the shape its prompt asks for.
fn answer(req: &RecordedRequest) -> Reply {
    let t = &req.text;
    if t.contains("\"candidates\"") {
        // coarse-to-fine, step 2: the conversation holds the step-1 ranking.
        return Reply::Text(
            "Inside Morocco, south of the Atlas.\n```json\n{\"lat\": 31.2, \"lon\": -7.4, \"country\": \"MA\"}\n```".into(),
        );
    }
    if t.contains("decide only the continent and the country") {
        return Reply::Text(
            "Arid, right-hand traffic.\n```json\n{\"candidates\": [{\"continent\": \"Africa\", \"country\": \"MA\", \"probability\": 0.6}, {\"continent\": \"Africa\", \"country\": \"TN\", \"probability\": 0.3}]}\n```".into(),
        );
    }
    // Ensemble samples differ by temperature: two agree on Morocco, the hottest one strays.
    let temp = req.body["temperature"].as_f64().unwrap_or(0.0);
    Reply::Text(if temp > 0.9 {
        r#"{"lat": 60.0, "lon": 100.0, "country": "RU"}"#.into()
    } else {
        format!(
            r#"{{"lat": {}, "lon": -7.0, "country": "MA"}}"#,
            31.0 + temp
        )
    })
}

fn session_with_strategy(root: &Path, strategy: &str) -> Replay {
    std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join(MANIFEST_FILE).is_file())
        .map(|p| Replay::open(&p).unwrap())
        .find(|r| r.manifest.strategy == strategy && r.manifest.parent.is_some())
        .unwrap_or_else(|| panic!("no rerun session with strategy {strategy}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replay_rerun_under_each_strategy_gives_the_comparison_table() {
    let llm = OpenAiServer::start(ServerOptions {
        api_key: Some("sk-test-strategies".into()),
    })
    .await;
    llm.set_default(answer);
    let tmp = tempfile::tempdir().unwrap();
    let parent = Replay::open(&copy_fixture(tmp.path())).unwrap();
    let rounds = parent.rounds.len();
    let root = tmp.path().to_str().unwrap().to_string();

    let mut first_prompts = Vec::new();
    for strategy in ["direct", "cot", "coarse-to-fine", "ensemble"] {
        let before = llm.requests().len();
        let (cwd, root, base) = (tmp.path().to_path_buf(), root.clone(), llm.base_url.clone());
        let samples = SAMPLES.to_string();
        let out = tokio::task::spawn_blocking(move || {
            geoagent(
                &cwd,
                &[
                    "replay",
                    "rerun",
                    FIXTURE_ID,
                    "--model",
                    "scripted-vl",
                    "--base-url",
                    &base,
                    "--strategy",
                    strategy,
                    "--dir",
                    &root,
                    "--samples",
                    &samples,
                ],
                &[
                    ("OPENAI_API_KEY", "sk-test-strategies"),
                    // Each strategy must really call the model, not find a cached answer.
                    ("GEOAGENT_MODEL__CACHE", "false"),
                ],
            )
        })
        .await
        .unwrap();
        ok(&out);
        let reqs: Vec<RecordedRequest> = llm.requests().split_off(before);
        let per_round = match strategy {
            "coarse-to-fine" => 2,
            "ensemble" => SAMPLES,
            _ => 1,
        };
        assert_eq!(reqs.len(), per_round * rounds, "{strategy}: requests");
        for r in &reqs {
            assert!(r.rejected.is_none(), "{strategy}: {:?}", r.rejected);
            assert_eq!(r.image_count, 2, "{strategy}: both recorded views sent");
        }
        first_prompts.push((strategy, reqs[0].text.clone()));

        let child = session_with_strategy(tmp.path(), strategy);
        assert_eq!(child.manifest.parent.as_deref(), Some(FIXTURE_ID));
        assert_eq!(
            child.rounds.len(),
            rounds,
            "{strategy}: every round recorded"
        );
        for rec in &child.rounds {
            let g = &rec.guess;
            assert_eq!(g.exchanges.len(), per_round, "{strategy}: exchanges kept");
            match strategy {
                "coarse-to-fine" => {
                    assert!((g.pos.lat - 31.2).abs() < 1e-9 && (g.pos.lon + 7.4).abs() < 1e-9);
                }
                "ensemble" => {
                    let mut temps: Vec<f64> = reqs
                        .iter()
                        .map(|r| r.body["temperature"].as_f64().unwrap())
                        .collect();
                    temps.sort_by(f64::total_cmp);
                    temps.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
                    assert_eq!(temps.len(), SAMPLES, "samples at distinct temperatures");
                    assert_eq!(g.candidates.len(), SAMPLES, "every candidate recorded");
                    // Expected-score aggregation stays with the two agreeing samples; a plain
                    // average would land ~2,600 km away, between Morocco and Siberia.
                    let morocco = LatLon::new(31.4, -7.0).unwrap();
                    assert!(
                        g.pos.distance_km(&morocco) < 100.0,
                        "ensemble chose {:?}",
                        g.pos
                    );
                }
                _ => assert!((g.pos.lon + 7.0).abs() < 1e-9, "{strategy}: {:?}", g.pos),
            }
        }
    }
    // Each strategy asked its own question.
    for (i, (a, pa)) in first_prompts.iter().enumerate() {
        for (b, pb) in &first_prompts[i + 1..] {
            if *a != "ensemble" && *b != "ensemble" {
                assert_ne!(pa, pb, "{a} and {b} sent the same prompt");
            }
        }
    }

    // The comparison table: one row per strategy over the same rounds.
    let cwd = tmp.path().to_path_buf();
    let table = tokio::task::spawn_blocking(move || ok(&geoagent(&cwd, &["stats", &root], &[])))
        .await
        .unwrap();
    for strategy in ["direct", "cot", "coarse-to-fine", "ensemble"] {
        let group = format!("openai:scripted-vl ({strategy}) — 1 session(s)");
        assert!(table.contains(&group), "no {strategy} group:\n{table}");
    }
}
