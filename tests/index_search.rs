//! The reference index end to end: exact k-nearest and k-farthest against a brute-force sort on
//! a synthetic index big enough to use the parallel scan, a save/load round trip, the embedding
//! endpoint client against a local `/v1/embeddings` server, and `geoagent index build`.

use axum::routing::post;
use axum::{Json, Router};
use geoagent::geo::LatLon;
use geoagent::index::embed::{build_index, BuiltinEmbedder, Embedder, HttpEmbedder};
use geoagent::index::{IndexMeta, ReferenceIndex, PARALLEL_MIN_ROWS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

fn synthetic(n: usize, dim: usize, seed: u64) -> (ReferenceIndex, ChaCha8Rng) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let refs: Vec<(Vec<f32>, LatLon)> = (0..n)
        .map(|_| {
            let v = (0..dim).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
            let p = LatLon::new(
                rng.random_range(-90.0..=90.0),
                rng.random_range(-180.0..=180.0),
            )
            .expect("valid");
            (v, p)
        })
        .collect();
    let meta = IndexMeta {
        embedder: "test".into(),
        sources: vec!["synthetic".into()],
    };
    (
        ReferenceIndex::from_vectors(meta, dim, refs).expect("index"),
        rng,
    )
}

/// Every row's cosine similarity to `q`, sorted best first (ties by row), the slow obvious way.
fn brute_force(idx: &ReferenceIndex, q: &[f32]) -> Vec<(f32, usize)> {
    let qn: f32 = q.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut all: Vec<(f32, usize)> = (0..idx.len())
        .map(|i| {
            let s: f32 = idx.vector(i).iter().zip(q).map(|(a, b)| a * b).sum();
            (s / qn, i)
        })
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    all
}

#[test]
fn exact_knn_and_k_farthest_match_brute_force() {
    let n = PARALLEL_MIN_ROWS * 2 + 123; // parallel path, uneven chunks
    let (idx, mut rng) = synthetic(n, 37, 1);
    for k in [1, 5, 25] {
        for _ in 0..5 {
            let q: Vec<f32> = (0..37).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
            let got = idx.search(&q, k).expect("search");
            let all = brute_force(&idx, &q);
            let near: Vec<usize> = all.iter().take(k).map(|x| x.1).collect();
            let far: Vec<usize> = all.iter().rev().take(k).map(|x| x.1).collect();
            assert_eq!(got.near.iter().map(|x| x.row).collect::<Vec<_>>(), near);
            assert_eq!(got.far.iter().map(|x| x.row).collect::<Vec<_>>(), far);
            for (g, (s, _)) in got.near.iter().zip(&all) {
                assert!((g.similarity - s).abs() < 1e-4);
                assert_eq!(g.pos, idx.position(g.row));
            }
        }
    }
    // Small indexes take the single-threaded path and agree too.
    let (small, mut rng) = synthetic(50, 8, 2);
    let q: Vec<f32> = (0..8).map(|_| rng.random::<f32>()).collect();
    let all = brute_force(&small, &q);
    let got = small.search(&q, 3).expect("search");
    assert_eq!(
        got.near.iter().map(|x| x.row).collect::<Vec<_>>(),
        all.iter().take(3).map(|x| x.1).collect::<Vec<_>>()
    );
}

#[test]
fn saved_index_searches_the_same() {
    let (idx, mut rng) = synthetic(2000, 16, 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("i.safetensors");
    idx.save(&path).expect("save");
    let back = ReferenceIndex::load(&path).expect("load");
    let q: Vec<f32> = (0..16).map(|_| rng.random::<f32>() - 0.5).collect();
    assert_eq!(
        idx.search(&q, 10).expect("a"),
        back.search(&q, 10).expect("b")
    );
    assert_eq!(back.meta().sources, ["synthetic"]);
}

/// A local OpenAI-compatible embeddings server: each image's embedding is its mean colour (so
/// the vectors are real functions of the pixels it was sent), and every request is recorded.
async fn embedding_server() -> (String, Arc<Mutex<Vec<Value>>>, tokio::task::JoinHandle<()>) {
    use base64::Engine as _;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let app = Router::new().route(
        "/v1/embeddings",
        post(move |Json(body): Json<Value>| {
            let seen = s2.clone();
            async move {
                seen.lock().expect("lock").push(body.clone());
                let data: Vec<Value> = body["input"]
                    .as_array()
                    .expect("input array")
                    .iter()
                    .enumerate()
                    .map(|(i, url)| {
                        let b64 = url
                            .as_str()
                            .and_then(|u| u.strip_prefix("data:image/jpeg;base64,"))
                            .expect("jpeg data url");
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(b64)
                            .expect("base64");
                        let img = image::load_from_memory(&bytes).expect("jpeg").to_rgb8();
                        let n = f64::from(img.width() * img.height());
                        let mut m = [0f64; 3];
                        for p in img.pixels() {
                            for (mc, v) in m.iter_mut().zip(p.0) {
                                *mc += f64::from(v) / n;
                            }
                        }
                        json!({"object": "embedding", "index": i, "embedding": [m[0], m[1], m[2], 1.0]})
                    })
                    .collect();
                Json(json!({"object": "list", "data": data, "model": body["model"]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/v1"), seen, task)
}

#[tokio::test]
async fn embedding_endpoint_builds_an_index_of_a_map() {
    let (url, seen, _task) = embedding_server().await;
    let e = HttpEmbedder::new(&url, "clip-test", None).expect("client");
    assert_eq!(e.name(), "http:clip-test");
    let mut world = geoagent::game::builtin::world();
    world.locations.truncate(3);
    let idx = build_index(&[&world], &e, |_, _| {}).await.expect("build");
    assert_eq!(idx.len(), 3);
    assert_eq!(idx.dim(), 4);
    assert_eq!(idx.meta().embedder, "http:clip-test");
    assert_eq!(idx.meta().sources, ["world"]);
    let reqs = seen.lock().expect("lock").clone();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0]["model"], "clip-test");
    assert_eq!(
        reqs[0]["input"].as_array().map(Vec::len),
        Some(4),
        "four slices"
    );
    // A failing endpoint is an error naming it.
    let bad = HttpEmbedder::new("http://127.0.0.1:9/v1", "m", None).expect("client");
    let err = bad
        .embed_images(&[image::RgbImage::new(4, 4)])
        .await
        .expect_err("unreachable")
        .to_string();
    assert!(err.contains("127.0.0.1:9/v1/embeddings"), "{err}");
}

#[tokio::test]
async fn builtin_descriptor_retrieves_a_painted_place_from_its_own_views() {
    // Index part of the built-in world, then query with the slices of one indexed panorama:
    // the place itself must come back first.
    let mut world = geoagent::game::builtin::world();
    world.locations.truncate(12);
    let idx = build_index(&[&world], &BuiltinEmbedder, |_, _| {})
        .await
        .expect("build");
    let loc = &world.locations[5];
    let pano = geoagent::game::panorama::paint(loc, 1024, 512);
    let q = BuiltinEmbedder
        .embed_images(&geoagent::index::descriptor::panorama_slices(&pano))
        .await
        .expect("embed");
    let r = idx.search(&q, 3).expect("search");
    assert_eq!(r.near[0].pos, loc.pos);
    assert!(r.near[0].similarity > 0.999);
    assert!(r.far[0].similarity < r.near[2].similarity);
}

#[test]
fn index_build_command_records_its_source_maps() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A one-location map pack with a photographed (here: generated and saved) panorama.
    let pack = dir.path().join("mini");
    std::fs::create_dir_all(pack.join("img")).expect("mkdir");
    std::fs::write(
        pack.join("manifest.json"),
        r#"{"format_version": 1, "id": "mini", "name": "Mini", "synthetic": false, "size_km": null, "view": null, "attribution": null}"#,
    )
    .expect("manifest");
    image::RgbImage::from_fn(256, 128, |x, y| {
        image::Rgb([(x % 256) as u8, (y * 2) as u8, 90])
    })
    .save(pack.join("img").join("p1.jpg"))
    .expect("jpg");
    std::fs::write(
        pack.join("locations.csv"),
        "id,lat,lon,country,place,image\np1,46.02,7.75,CH,Zermatt,img/p1.jpg\np2,-33.9,18.4,ZA,Cape Town,img/p1.jpg\n",
    )
    .expect("csv");
    let out = dir.path().join("refs.safetensors");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(dir.path())
        .args(["index", "build"])
        .arg(&pack)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run geoagent");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("Wrote 2 references"), "{stdout}");
    let idx = ReferenceIndex::load(&out).expect("load");
    assert_eq!(idx.meta().sources, ["mini"]);
    assert_eq!(
        idx.meta().embedder,
        geoagent::index::descriptor::DESCRIPTOR_NAME
    );
    assert_eq!(idx.position(1), LatLon::new(-33.9, 18.4).expect("valid"));

    let run = std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(dir.path())
        .args(["index", "build", "no-such-map", "-o", "x.safetensors"])
        .output()
        .expect("run geoagent");
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("no-such-map"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
