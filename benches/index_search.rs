//! Reference-index benchmark: build, save, load and exact k-NN search over synthetic
//! references (1 million by default; `GEOAGENT_BENCH_REFS=N` to change), plus the built-in
//! descriptor's cost per reference panorama.
//!
//! `cargo bench --bench index_search` (release mode). Prints one line per measurement.

use geoagent::geo::LatLon;
use geoagent::index::descriptor::{describe_panorama, DESCRIPTOR_DIM, DESCRIPTOR_NAME};
use geoagent::index::{IndexMeta, ReferenceIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Default number of synthetic references: the scale the rag strategy must stay fast at.
const DEFAULT_REFS: usize = 1_000_000;
/// Queries timed; the median is reported.
const QUERIES: usize = 30;
/// Neighbours per side, the rag strategy's default.
const K: usize = 10;

fn main() {
    let n: usize = std::env::var("GEOAGENT_BENCH_REFS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_REFS);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let dim = DESCRIPTOR_DIM;

    let t = Instant::now();
    let refs: Vec<(Vec<f32>, LatLon)> = (0..n)
        .map(|_| {
            let v: Vec<f32> = (0..dim).map(|_| rng.random::<f32>() - 0.3).collect();
            let pos = LatLon::new(
                rng.random_range(-90.0..=90.0),
                rng.random_range(-180.0..=180.0),
            )
            .expect("valid");
            (v, pos)
        })
        .collect();
    let gen = t.elapsed();
    let t = Instant::now();
    let meta = IndexMeta {
        embedder: DESCRIPTOR_NAME.into(),
        sources: vec!["synthetic".into()],
    };
    let index = ReferenceIndex::from_vectors(meta, dim, refs).expect("index");
    let build = t.elapsed();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.safetensors");
    let t = Instant::now();
    index.save(&path).expect("save");
    let save = t.elapsed();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let t = Instant::now();
    let loaded = ReferenceIndex::load(&path).expect("load");
    let load = t.elapsed();
    assert_eq!(loaded.len(), n);
    drop(index);

    let mut times = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let q: Vec<f32> = (0..dim).map(|_| rng.random::<f32>() - 0.3).collect();
        let t = Instant::now();
        let r = loaded.search(&q, K).expect("search");
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(r.near.len(), K.min(n));
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];

    let loc = geoagent::game::builtin::world().locations[0].clone();
    let pano = geoagent::game::panorama::paint(&loc, 1024, 512);
    let t = Instant::now();
    const DESCRIBE_RUNS: u32 = 20;
    for _ in 0..DESCRIBE_RUNS {
        std::hint::black_box(describe_panorama(&pano));
    }
    let describe = t.elapsed().as_secs_f64() * 1000.0 / f64::from(DESCRIBE_RUNS);

    println!(
        "references: {n} x {dim} f32 ({:.0} MB file)",
        size as f64 / 1e6
    );
    println!(
        "generate random vectors: {:.2} s (not part of the index)",
        gen.as_secs_f64()
    );
    println!("build (normalise + pack): {:.2} s", build.as_secs_f64());
    println!("save (safetensors):       {:.2} s", save.as_secs_f64());
    println!("load:                     {:.2} s", load.as_secs_f64());
    println!(
        "search k={K} near + far, exact, {} threads: median {median:.1} ms/query (min {:.1}, max {:.1})",
        geoagent::index::SEARCH_THREADS,
        times[0],
        times[times.len() - 1]
    );
    println!("built-in descriptor of one 1024x512 panorama (4 slices): {describe:.2} ms");
}
