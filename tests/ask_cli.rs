//! `geoagent ask` as a person uses it: a spawned binary, pictures on disk (with GPS metadata
//! that must not reach the model), the scripted local model, and hints typed on stdin.

mod common;

use base64::Engine as _;
use common::openai_server::{OpenAiServer, Reply, ServerOptions};
use std::io::Write;
use std::process::{Command, Stdio};

/// A JPEG carrying an EXIF APP1 block with a recognisable marker standing in for GPS tags.
const MARKER: &[u8] = b"GPSLatitude=48.8584N-SECRET";

fn jpeg_with_exif(rgb: [u8; 3]) -> Vec<u8> {
    let plain = common::openai_server::jpeg(64, 32, rgb);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(MARKER);
    let len = u16::try_from(app1.len() + 2).expect("small");
    let mut out = plain[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

fn sent_images(server: &OpenAiServer) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for r in server.requests() {
        for m in r.body["messages"].as_array().into_iter().flatten() {
            for p in m["content"].as_array().into_iter().flatten() {
                if let Some(url) = p["image_url"]["url"].as_str() {
                    let b64 = url.trim_start_matches("data:image/jpeg;base64,");
                    out.push(
                        base64::engine::general_purpose::STANDARD
                            .decode(b64)
                            .expect("base64"),
                    );
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn interactive_ask_reads_hints_from_stdin_and_strips_metadata() {
    let server = OpenAiServer::start(ServerOptions::default()).await;
    server.push(Reply::Text(
        r#"{"lat": 40.42, "lon": -3.70, "country": "ES"}"#.into(),
    ));
    server.push(Reply::Text(
        r#"{"lat": 38.72, "lon": -9.14, "country": "PT"}"#.into(),
    ));
    server.push(Reply::Text(
        r#"{"lat": 41.15, "lon": -8.61, "country": "PT", "rationale": "Porto"}"#.into(),
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.jpg");
    let b = dir.path().join("b.jpg");
    std::fs::write(&a, jpeg_with_exif([200, 180, 150])).expect("write");
    std::fs::write(&b, jpeg_with_exif([90, 140, 200])).expect("write");
    assert!(std::fs::read(&a)
        .expect("read")
        .windows(MARKER.len())
        .any(|w| w == MARKER));

    let mut child = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .args([
            "ask",
            "--strategy",
            "interactive",
            "--model",
            "vision-test",
            "--base-url",
        ])
        .arg(&server.base_url)
        .arg(&a)
        .arg(&b)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn geoagent");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"The signs are in Portuguese\nFurther north, near Porto\n\n")
        .expect("write hints");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Guess: 40.4200, -3.7000 (ES)"), "{stdout}");
    assert!(
        stdout.contains("Revised guess 1: 38.7200, -9.1400 (PT)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Final guess: 41.1500, -8.6100 (PT) — Porto"),
        "{stdout}"
    );

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs[0].text.contains("View 1: direction unknown"),
        "{}",
        reqs[0].text
    );
    assert!(reqs[1].text.contains("- The signs are in Portuguese"));
    assert!(reqs[2].text.contains("- Further north, near Porto"));
    let images = sent_images(&server);
    assert!(!images.is_empty());
    for img in images {
        assert!(
            !img.windows(MARKER.len()).any(|w| w == MARKER),
            "metadata reached the model"
        );
        assert!(
            !img.windows(4).any(|w| w == b"Exif"),
            "an EXIF block was sent"
        );
    }
}

#[tokio::test]
async fn ask_without_a_model_or_with_a_bad_image_says_what_to_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("x.jpg");
    std::fs::write(&img, b"not an image").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(dir.path())
        .env_remove("GEOAGENT_MODEL__NAME")
        .args(["ask"])
        .arg(&img)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--model"));

    let server = OpenAiServer::start(ServerOptions::default()).await;
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(dir.path())
        .args(["ask", "--model", "m", "--base-url"])
        .arg(&server.base_url)
        .arg(&img)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("x.jpg") && err.contains("not a readable image"),
        "{err}"
    );
}
