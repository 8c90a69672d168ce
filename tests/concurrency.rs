//! `--concurrency N` means N (issue 15, item 2): the provider's in-flight limit follows the
//! requested concurrency unless the user set a lower one, and then the run says so. A local
//! model server counts the requests it is answering at once; it holds each until the expected
//! number arrived, so the count does not depend on how fast this machine paints views.

mod common;

use common::openai_server::OpenAiServer;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Long enough for every round of a run to reach the model on a loaded machine; a run that
/// never gets there only makes the test slower, never wrong.
const GATHER_WAIT: Duration = Duration::from_secs(90);

/// A map pack of three small panoramas, so views cost milliseconds and the test measures the
/// model calls only.
fn tiny_pack(home: &Path) {
    let dir = home.join("maps").join("tiny");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        r#"{"format_version":1,"id":"tiny","name":"Tiny","synthetic":false,"size_km":null,"view":null,"attribution":"test"}"#,
    )
    .unwrap();
    let mut csv = String::from("id,lat,lon,country,place,image\n");
    for (i, (lat, lon)) in [(48.85, 2.35), (52.52, 13.40), (41.90, 12.50)]
        .iter()
        .enumerate()
    {
        let img = image::RgbImage::from_fn(256, 128, |x, y| {
            image::Rgb([(x as u8).wrapping_mul(i as u8 + 1), y as u8, 90])
        });
        img.save(dir.join(format!("p{i}.jpg"))).unwrap();
        csv.push_str(&format!("p{i},{lat},{lon},,,p{i}.jpg\n"));
    }
    std::fs::write(dir.join("locations.csv"), csv).unwrap();
}

async fn bench(home: &Path, model: &OpenAiServer, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_geoagent"));
    cmd.args(["bench", "--map", "tiny", "--seed", "3", "--headings", "1"])
        .args(["--zoom-steps", "0", "--no-view-cache", "--no-cache"])
        .args(["--model", "m", "--base-url", &model.base_url])
        .args(["--replay-dir", &home.join("replays").display().to_string()])
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("TMPDIR", home)
        .env("OPENAI_API_KEY", "sk-test")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run geoagent"))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_above_the_default_provider_limit_is_what_the_model_sees() {
    let home = tempfile::tempdir().unwrap();
    tiny_pack(home.path());
    let model = OpenAiServer::start(Default::default()).await;
    // Above the provider default of 32, which used to cap it silently.
    model.hold_until_in_flight(40, GATHER_WAIT);
    let out = bench(
        home.path(),
        &model,
        &["--rounds", "40", "--concurrency", "40"],
        &[],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(model.max_in_flight(), 40, "{stderr}");
    assert!(!stderr.contains("Model calls in flight"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_limit_the_user_set_caps_the_run_and_is_printed() {
    let home = tempfile::tempdir().unwrap();
    tiny_pack(home.path());
    let model = OpenAiServer::start(Default::default()).await;
    model.hold_until_in_flight(10, Duration::from_millis(500));
    let out = bench(
        home.path(),
        &model,
        &["--rounds", "10", "--concurrency", "10"],
        &[("GEOAGENT_MODEL__MAX_CONCURRENCY", "4")],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        (1..=4).contains(&model.max_in_flight()),
        "{}: {stderr}",
        model.max_in_flight()
    );
    assert!(
        stderr.contains("Model calls in flight: at most 4") && stderr.contains("--concurrency 10"),
        "{stderr}"
    );
}
