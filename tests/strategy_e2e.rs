//! Every strategy end to end through the real OpenAI client against the scripted local
//! OpenAI-compatible server: the requests each one sends (prompts, turns, images, temperatures),
//! how it reads the answers, and that none of them loses a round when the model fails.

mod common;

use common::openai_server::{jpeg, OpenAiServer, Reply, ServerOptions};
use geoagent::agent::prompt::PromptSource;
use geoagent::agent::reasoner::ReasonerOptions;
use geoagent::agent::strategy::{
    self, ReaderHints, Retrieval, StrategyError, StrategyKind, StrategyOptions, NAMES,
};
use geoagent::agent::{GuessSource, Reasoner};
use geoagent::environment::{Observation, View};
use geoagent::geo::{Bounds, LatLon};
use geoagent::index::embed::{build_index, BuiltinEmbedder};
use geoagent::lvlm::openai::{OpenAiClient, OpenAiConfig};
use geoagent::lvlm::retry::RetryPolicy;
use geoagent::lvlm::Provider;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

fn ll(lat: f64, lon: f64) -> LatLon {
    LatLon::new(lat, lon).expect("valid")
}

const FALLBACK: (f64, f64) = (10.0, 20.0);

fn provider(server: &OpenAiServer) -> Arc<dyn Provider> {
    Arc::new(
        OpenAiClient::new(OpenAiConfig {
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
            ..OpenAiConfig::new(server.base_url.clone(), "vision-test")
        })
        .expect("client"),
    )
}

fn obs() -> Observation {
    let view = |heading, rgb| View {
        heading,
        heading_ref: geoagent::environment::HeadingRef::Compass,
        pitch: 0.0,
        fov: 90.0,
        width: 32,
        height: 16,
        jpeg: jpeg(32, 16, rgb),
    };
    Observation {
        round: 2,
        rounds: 5,
        views: vec![view(0.0, [110, 160, 220]), view(180.0, [60, 130, 60])],
        map_view: Bounds::WORLD,
        map_name: "Test map".into(),
        capture_ms: 1,
    }
}

async fn retrieval() -> Retrieval {
    let mut world = geoagent::game::builtin::world();
    world.locations.truncate(6);
    let index = build_index(&[&world], &BuiltinEmbedder, |_, _| {})
        .await
        .expect("index");
    Retrieval {
        index: Arc::new(index),
        embedder: Arc::new(BuiltinEmbedder),
        path: "refs.safetensors".into(),
    }
}

async fn build(name: &str, server: &OpenAiServer, sopts: StrategyOptions) -> Arc<dyn Reasoner> {
    strategy::build(
        name.parse().expect("a known strategy"),
        provider(server),
        &PromptSource::Builtin,
        ll(FALLBACK.0, FALLBACK.1),
        ReasonerOptions::default(),
        sopts,
    )
    .expect("strategy builds")
}

/// A wire message's text, whether its content is a string or an array of parts.
fn content_text(m: &Value) -> String {
    match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn messages(body: &Value) -> Vec<Value> {
    body["messages"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn direct_and_cot_send_their_prompt_sets() {
    let server = OpenAiServer::start(ServerOptions::default()).await;
    server.push(Reply::Text(
        r#"{"lat": 35.7, "lon": 139.7, "country": "JP"}"#.into(),
    ));
    let g = build("direct", &server, StrategyOptions::default())
        .await
        .guess(&obs())
        .await;
    assert_eq!((g.pos.lat, g.pos.lon), (35.7, 139.7));
    let g = build("cot", &server, StrategyOptions::default())
        .await
        .guess(&obs())
        .await;
    assert_eq!(
        g.country.as_deref(),
        Some("FR"),
        "the server's default answer"
    );
    let reqs = server.requests();
    assert!(reqs[0].text.contains("Answer with only this JSON object"));
    assert!(reqs[1].text.contains("1. Driving side"));
    assert!(reqs.iter().all(|r| r.image_count == 2));
}

#[tokio::test]
async fn coarse_to_fine_asks_twice_in_one_conversation() {
    let server = OpenAiServer::start(ServerOptions::default()).await;
    server.push(Reply::Text(
        "Left-hand traffic, red soil.\n```json\n{\"candidates\": [{\"continent\": \"Oceania\", \"country\": \"AU\", \"probability\": 0.55}, {\"continent\": \"Africa\", \"country\": \"ZA\", \"probability\": 0.3}]}\n```".into(),
    ));
    server.push(Reply::Text(
        "Western Australia wheatbelt.\n```json\n{\"lat\": -31.6, \"lon\": 117.3, \"country\": \"AU\", \"region\": \"Wheatbelt\"}\n```".into(),
    ));
    let g = build("coarse-to-fine", &server, StrategyOptions::default())
        .await
        .guess(&obs())
        .await;
    assert_eq!(g.source, GuessSource::Model);
    assert_eq!((g.pos.lat, g.pos.lon), (-31.6, 117.3));
    assert_eq!(g.exchanges.len(), 2);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[0].text.contains("\"probability\""));
    let second = messages(&reqs[1].body);
    // system, user (text + images), assistant (ranking), user (fine step)
    assert_eq!(second.len(), 4);
    assert_eq!(second[2]["role"], "assistant");
    let fine = &content_text(&second[3]);
    assert!(fine.contains("assume the place is in AU"), "{fine}");
    assert!(
        fine.contains("1. Oceania / AU (p = 0.55)\n2. Africa / ZA (p = 0.30)"),
        "{fine}"
    );
    assert_eq!(reqs[1].image_count, 2, "the views stay in the conversation");
}

#[tokio::test]
async fn rag_puts_retrieved_coordinates_in_the_prompt_and_refuses_the_played_map() {
    let server = OpenAiServer::start(ServerOptions::default()).await;
    let r = retrieval().await;
    let nearest = {
        let o = obs();
        let imgs = geoagent::index::embed::decode_views(
            &o.views.iter().map(|v| v.jpeg.clone()).collect::<Vec<_>>(),
        )
        .expect("decode");
        use geoagent::index::embed::Embedder;
        let q = BuiltinEmbedder.embed_images(&imgs).await.expect("embed");
        r.index.search(&q, 3).expect("search")
    };
    let sopts = StrategyOptions {
        retrieval: Some(r.clone()),
        rag_k: 3,
        played_map: Some("another-map".into()),
        ..StrategyOptions::default()
    };
    let g = build("rag", &server, sopts).await.guess(&obs()).await;
    assert_eq!(g.source, GuessSource::Model);
    let text = &server.requests()[0].text;
    let first = format!(
        "1. {:.3}, {:.3} (similarity",
        nearest.near[0].pos.lat, nearest.near[0].pos.lon
    );
    let far = format!(
        "1. {:.3}, {:.3} (similarity",
        nearest.far[0].pos.lat, nearest.far[0].pos.lon
    );
    let most = text.find("MOST similar").expect("near section");
    let least = text.find("LEAST similar").expect("far section");
    assert!(text[most..least].contains(&first), "{text}");
    assert!(text[least..].contains(&far), "{text}");
    // No place names or ids of references reach the model.
    for loc in geoagent::game::builtin::world().locations.iter().take(6) {
        assert!(!text.contains(&loc.id), "{}", loc.id);
    }

    // The index holds the map being played: refused.
    let sopts = StrategyOptions {
        retrieval: Some(r),
        played_map: Some("world".into()),
        ..StrategyOptions::default()
    };
    let err = strategy::build(
        StrategyKind::Rag,
        provider(&server),
        &PromptSource::Builtin,
        ll(0.0, 0.0),
        ReasonerOptions::default(),
        sopts,
    )
    .err()
    .expect("unfair index refused");
    assert!(matches!(err, StrategyError::UnfairIndex { .. }), "{err}");
    assert!(err.to_string().contains("\"world\""), "{err}");
    let err = strategy::build(
        StrategyKind::Rag,
        provider(&server),
        &PromptSource::Builtin,
        ll(0.0, 0.0),
        ReasonerOptions::default(),
        StrategyOptions::default(),
    )
    .err()
    .expect("no index");
    assert!(err.to_string().contains("index build"), "{err}");
}

#[tokio::test]
async fn ensemble_samples_temperatures_and_picks_the_expected_score_optimum() {
    let server = OpenAiServer::start(ServerOptions::default()).await;
    // Low temperatures answer Lisbon, the highest answers St. John's.
    server.set_default(|req| {
        let t = req.body["temperature"].as_f64().unwrap_or(-1.0);
        Reply::Text(if t > 0.9 {
            r#"{"lat": 47.56, "lon": -52.71, "country": "CA"}"#.into()
        } else {
            format!(
                r#"{{"lat": {}, "lon": -9.14, "country": "PT"}}"#,
                38.7 + t / 10.0
            )
        })
    });
    let sopts = StrategyOptions {
        samples: 3,
        ..StrategyOptions::default()
    };
    let g = build("ensemble", &server, sopts).await.guess(&obs()).await;
    assert_eq!(g.source, GuessSource::Model);
    assert_eq!(g.candidates.len(), 3);
    assert!(g.candidates.iter().all(|c| c.used));
    assert!(g.pos.distance_km(&ll(38.76, -9.14)) < 30.0, "{:?}", g.pos);
    assert_eq!(g.country.as_deref(), Some("PT"));
    let mut temps: Vec<f64> = server
        .requests()
        .iter()
        .map(|r| r.body["temperature"].as_f64().expect("temperature sent"))
        .collect();
    temps.sort_by(f64::total_cmp);
    let rounded: Vec<f64> = temps.iter().map(|t| (t * 100.0).round() / 100.0).collect();
    assert_eq!(rounded, [0.2, 0.6, 1.0]);
    // The candidates survive a replay round trip.
    let json = serde_json::to_string(&g).expect("serialise");
    let back: geoagent::agent::Guess = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back.candidates, g.candidates);
}

#[tokio::test]
async fn interactive_revises_with_a_scripted_persons_hints() {
    let server = OpenAiServer::start(ServerOptions::default()).await;
    server.push(Reply::Text(
        r#"{"lat": 52.5, "lon": 13.4, "country": "DE"}"#.into(),
    ));
    server.push(Reply::Text(
        r#"Dutch, then. {"lat": 52.37, "lon": 4.9, "country": "NL"}"#.into(),
    ));
    let hints = ReaderHints::new(
        &b"The licence plates are yellow\n\n"[..],
        Box::new(std::io::sink()),
    );
    let sopts = StrategyOptions {
        hints: Arc::new(hints),
        ..StrategyOptions::default()
    };
    let g = build("interactive", &server, sopts)
        .await
        .guess(&obs())
        .await;
    assert_eq!(g.country.as_deref(), Some("NL"));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let second = messages(&reqs[1].body);
    let last = content_text(second.last().expect("turns"));
    assert!(last.contains("- The licence plates are yellow"), "{last}");
    assert!(last.contains("52.5000, 13.4000 in DE"), "{last}");
    assert_eq!(g.exchanges[1].purpose, "revise 1");
}

#[tokio::test]
async fn no_strategy_loses_a_round_when_the_model_fails() {
    let server = OpenAiServer::start(ServerOptions::default()).await;
    server.set_default(|_| Reply::error(400, "model not available"));
    let r = retrieval().await;
    for name in NAMES {
        let sopts = StrategyOptions {
            retrieval: Some(r.clone()),
            samples: 2,
            hints: Arc::new(ReaderHints::new(
                &b"a hint\n"[..],
                Box::new(std::io::sink()),
            )),
            ..StrategyOptions::default()
        };
        let g = build(name, &server, sopts).await.guess(&obs()).await;
        match &g.source {
            GuessSource::Fallback { reason } => {
                assert!(
                    reason.contains("400") || reason.contains("failed"),
                    "{name}: {reason}"
                )
            }
            other => panic!("{name}: expected a fallback, got {other:?}"),
        }
        assert_eq!((g.pos.lat, g.pos.lon), FALLBACK, "{name}");
        assert!(
            !g.exchanges.is_empty(),
            "{name}: the failed call is recorded"
        );
        assert!(g.exchanges.iter().all(|e| e.error.is_some()), "{name}");
    }
}
