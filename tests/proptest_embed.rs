//! Property test over the embeddings client's reader of outside input (issue 13): whatever body
//! and status an OpenAI-compatible `/embeddings` server on loopback answers, `HttpEmbedder`
//! returns a finite vector or an error naming the URL, never panics, and never shows the API key
//! even when the server echoes it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use geoagent::index::embed::{Embedder, HttpEmbedder};
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const KEY: &str = "sk-embed-secret-0123456789";

type Reply = Arc<Mutex<(u16, Vec<u8>)>>;

async fn answer(State(reply): State<Reply>) -> (StatusCode, Vec<u8>) {
    let (status, body) = reply.lock().unwrap().clone();
    (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(0.0)),
        Just(json!(1e300)),
        Just(json!("0.5")),
        Just(Value::Null),
        Just(json!(KEY)),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let embedding = proptest::collection::vec(number(), 0..5);
    let item = prop_oneof![
        embedding.prop_map(|e| json!({"embedding": e})),
        Just(json!({"embedding": KEY})),
        Just(json!({})),
    ];
    prop_oneof![
        proptest::collection::vec(item, 0..3)
            .prop_map(|d| serde_json::to_vec(&json!({"data": d})).unwrap()),
        Just(serde_json::to_vec(&json!({"error": {"message": format!("bad key {KEY}")}})).unwrap()),
        proptest::collection::vec(any::<u8>(), 0..64),
        "\\PC{0,40}".prop_map(String::into_bytes),
    ]
}

#[test]
fn any_embeddings_answer_is_a_finite_vector_or_a_named_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reply: Reply = Arc::new(Mutex::new((200, Vec::new())));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/embeddings", post(answer))
        .with_state(reply.clone());
    rt.spawn(async move { axum::serve(listener, app).await });
    let embedder =
        HttpEmbedder::new(&base, "clip", Some(SecretString::from(KEY.to_string()))).unwrap();
    let image = image::RgbImage::from_pixel(8, 4, image::Rgb([90, 120, 30]));
    // A well-formed answer is read, so the property below is not met by refusing everything.
    *reply.lock().unwrap() = (200, br#"{"data":[{"embedding":[0.6,0.8]}]}"#.to_vec());
    let v = rt
        .block_on(embedder.embed_images(std::slice::from_ref(&image)))
        .unwrap();
    assert!(
        (v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6,
        "{v:?}"
    );

    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(
                prop_oneof![Just(200u16), Just(401), Just(429), Just(500)],
                body(),
            ),
            |(status, body)| {
                *reply.lock().unwrap() = (status, body);
                match rt.block_on(embedder.embed_images(std::slice::from_ref(&image))) {
                    Ok(v) => {
                        prop_assert!(!v.is_empty());
                        prop_assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        prop_assert!(msg.contains("/embeddings"), "no URL named: {msg}");
                        prop_assert!(!msg.contains(KEY), "key shown: {msg}");
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}
