//! A generated session of many rounds for the report's scale test and benchmark: real JPEG views
//! (800×600, textured like a photo so they neither compress nor decode trivially), truths spread
//! over the world, and each round with a model exchange of realistic length (system prompt,
//! prompt, answer, rationale). Views are hard links to a few distinct files, so 4,000 of them
//! cost no disk space yet are each a real, separate view file to the reader.

#![allow(dead_code)]

use geoagent::agent::{Exchange, Guess, GuessSource};
use geoagent::game::{score, RoundResult, WORLD_SIZE_KM};
use geoagent::geo::LatLon;
use geoagent::replay::*;
use std::path::{Path, PathBuf};

/// Distinct view images; each round's views are hard links to these.
const DISTINCT_VIEWS: usize = 8;

/// Places on land (lat, lon) the truths are spread around.
const PLACES: &[(f64, f64)] = &[
    (48.86, 2.35),
    (52.52, 13.40),
    (40.42, -3.70),
    (41.90, 12.50),
    (59.33, 18.07),
    (55.75, 37.62),
    (35.68, 139.69),
    (-33.87, 151.21),
    (-23.55, -46.63),
    (19.43, -99.13),
    (40.71, -74.01),
    (34.05, -118.24),
    (-1.29, 36.82),
    (-26.20, 28.05),
    (30.04, 31.24),
    (28.61, 77.21),
    (13.75, 100.50),
    (-6.21, 106.85),
    (45.50, -73.57),
    (-34.60, -58.38),
    (64.15, -21.94),
    (39.90, 116.40),
    (37.57, 126.98),
    (-41.29, 174.78),
];

/// A photo-like test image: gradients, stripes and noise.
fn view_jpeg(k: usize) -> Vec<u8> {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(k as u64 + 1);
    let img = image::RgbImage::from_fn(800, 600, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed & 0x3f) as f64;
        let (fx, fy) = (f64::from(x), f64::from(y));
        let sky = if y < 250 { 120.0 } else { 40.0 };
        let r = (sky + 60.0 * ((fx + k as f64 * 37.0) / 53.0).sin() + n).clamp(0.0, 255.0);
        let g = (90.0 + 50.0 * ((fy / 41.0).cos()) + n).clamp(0.0, 255.0);
        let b = (sky + 80.0 - fy / 6.0 + n).clamp(0.0, 255.0);
        image::Rgb([r as u8, g as u8, b as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&img)
        .unwrap();
    out
}

/// Writes a finished session of `rounds` rounds with `views` views each under `root`; returns
/// its folder.
pub fn session(root: &Path, id: &str, rounds: usize, views: usize) -> PathBuf {
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        session_id: id.into(),
        created: chrono::Utc::now(),
        geoagent_version: "test".into(),
        environment: geoagent::environment::Kind::Direct,
        map: MapInfo {
            id: "world".into(),
            name: "World".into(),
            size_km: Some(WORLD_SIZE_KM),
            synthetic: false,
        },
        challenge: ChallengeInfo {
            id: format!("world-1-{rounds}"),
            seed: 1,
            rounds,
            key_id: None,
        },
        reasoner: "openai:scale-test".into(),
        strategy: "cot".into(),
        capture: CaptureInfo {
            headings: views,
            zoom_steps: 0,
            jpeg_quality: 80,
        },
        parent: None,
        prompts: None,
    };
    let mut w = ReplayWriter::create(root, &manifest).unwrap();
    let dir = w.dir().to_path_buf();
    let sources: Vec<PathBuf> = (0..DISTINCT_VIEWS)
        .map(|k| {
            let p = root.join(format!("source-{k}.jpg"));
            std::fs::write(&p, view_jpeg(k)).unwrap();
            p
        })
        .collect();
    std::fs::create_dir_all(dir.join(VIEWS_DIR)).unwrap();
    let system = "You are an expert GeoGuessr player. ".repeat(20);
    let prompt = "Look at the views and say where they were taken: the country, the region, \
                  the coordinates as JSON {\"lat\", \"lon\", \"country\", \"confidence\", \
                  \"rationale\"}. Use road markings, signs, vegetation, architecture, the sun. "
        .repeat(6);
    for i in 0..rounds {
        let round = i + 1;
        let (plat, plon) = PLACES[i % PLACES.len()];
        let jitter = (i as f64 * 0.37).sin() * 0.5;
        let truth = LatLon::new(plat + jitter, plon - jitter).unwrap();
        // From spot on to another continent, spread over the rounds.
        let off = (i % 50) as f64 * (i % 7) as f64 * 0.9;
        // Longitudes wrap into [-180, 180).
        let lon = (plon + off + 180.0).rem_euclid(360.0) - 180.0;
        let guess = LatLon::new((plat + off / 3.0).clamp(-89.0, 89.0), lon).unwrap();
        let d = truth.distance_km(&guess);
        let mut view_records = Vec::new();
        for k in 0..views {
            let file = format!("{VIEWS_DIR}/r{round:03}_v{k}.jpg");
            let src = &sources[(i + k) % DISTINCT_VIEWS];
            std::fs::hard_link(src, dir.join(&file)).unwrap();
            view_records.push(ViewRecord {
                file,
                heading: 360.0 * k as f64 / views as f64,
                pitch: 0.0,
                fov: 90.0,
                width: 800,
                height: 600,
                bytes: std::fs::metadata(src).unwrap().len() as usize,
                heading_ref: geoagent::environment::HeadingRef::Compass,
            });
        }
        let answer = format!(
            "The road signs are in the local script, the vegetation and the light fit the \
             region; driving side and bollards agree. {}\n```json\n{{\"lat\": {:.4}, \"lon\": {:.4}, \
             \"country\": \"XX\", \"confidence\": 0.6, \"rationale\": \"signs and vegetation\"}}\n```",
            "More detail about the scene. ".repeat(12),
            guess.lat,
            guess.lon
        );
        w.append(&RoundRecord {
            round,
            location_id: Some(format!("loc{i}")),
            views: view_records,
            guess: Guess {
                pos: guess,
                country: Some("XX".into()),
                confidence: Some(0.6),
                rationale: Some(
                    "Signs, vegetation and road markings point to this region; the light \
                     and the architecture agree."
                        .into(),
                ),
                source: GuessSource::Model,
                notes: vec![],
                exchanges: vec![Exchange {
                    purpose: "answer".into(),
                    system: Some(system.clone()),
                    prompt: prompt.clone(),
                    images: views,
                    raw: Some(answer),
                    ..Default::default()
                }],
                usage: Default::default(),
                candidates: vec![],
                revisions: vec![],
            },
            result: RoundResult {
                round,
                guess,
                truth,
                distance_km: d,
                points: score(d, WORLD_SIZE_KM),
                place: None,
                country: None,
            },
            timings: Default::default(),
            finished_at: chrono::Utc::now(),
        })
        .unwrap();
    }
    for s in sources {
        std::fs::remove_file(s).unwrap();
    }
    dir
}
