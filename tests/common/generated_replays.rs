//! Many finished sessions generated from the fixture session's first round line, each round
//! padded with a model answer the size of a real one: the viewer's load test
//! (tests/replay_api.rs) and its benchmark (benches/viewer_load.rs) read the same sessions.

use serde_json::Value;
use std::path::Path;

/// The session every generated one is copied from.
const FIXTURE: &str = "tests/fixtures/replays/20261123T115949Z-40e71c";
/// Bytes of the model answer each generated round carries: 1,000 sessions × 50 rounds then make
/// the ~145 MB issue 25 measured.
const ANSWER_BYTES: usize = 2_400;

/// Writes `sessions` finished sessions of `rounds` rounds under `root`; returns the bytes of
/// their `rounds.jsonl` files.
pub fn generate(root: &Path, sessions: usize, rounds: usize) -> u64 {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(src.join("manifest.json")).unwrap()).unwrap();
    let line: Value = serde_json::from_str(
        std::fs::read_to_string(src.join("rounds.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let answer = "The road signs are in Arabic and French; ".repeat(ANSWER_BYTES / 41);
    let mut total = 0;
    for s in 0..sessions {
        let id = format!("20261201T000000Z-{s:06x}");
        let dir = root.join(&id);
        std::fs::create_dir_all(dir.join("views")).unwrap();
        let mut m = manifest.clone();
        m["session_id"] = id.clone().into();
        m["challenge"]["id"] = format!("world-{s}-{rounds}").into();
        m["challenge"]["rounds"] = rounds.into();
        std::fs::write(dir.join("manifest.json"), m.to_string()).unwrap();
        let mut text = String::new();
        for r in 1..=rounds {
            let mut l = line.clone();
            l["round"] = r.into();
            l["result"]["round"] = r.into();
            l["result"]["points"] = ((s * 31 + r * 97) % 5001).into();
            l["location_id"] = format!("loc-{s}-{r}").into();
            for (i, v) in l["views"].as_array_mut().unwrap().iter_mut().enumerate() {
                v["file"] = format!("views/r{r:03}_v{i}.jpg").into();
            }
            l["guess"]["exchanges"] = serde_json::json!([{
                "purpose": "answer", "system": null, "prompt": "Where is this?", "images": 2,
                "raw": answer, "error": null,
                "usage": {"input_tokens": 1500, "output_tokens": 600},
                "attempts": 1, "elapsed_ms": 2000
            }]);
            text.push_str(&l.to_string());
            text.push('\n');
        }
        total += text.len() as u64;
        std::fs::write(dir.join("rounds.jsonl"), text).unwrap();
    }
    total
}
