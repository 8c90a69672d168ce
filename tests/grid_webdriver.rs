//! A Grid-style remote WebDriver endpoint: the test starts its own chromedriver on a free
//! 127.0.0.1 port (standing in for a Selenium Grid hub) and passes it to `geoagent play
//! --webdriver URL`; the match must run through that endpoint, not a chromedriver of its own.

mod common;

use geoagent::replay::Replay;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver answers /status within a second; generous for a loaded machine.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn play_uses_the_given_webdriver_endpoint() {
    common::require_browser();
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tmp.path().join("chromedriver.log");
    let driver = geoagent::browser::driver::locate(None).unwrap();
    let _grid = KillOnDrop(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let url = format!("http://127.0.0.1:{port}");
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed() < READY_TIMEOUT, "chromedriver never listened");
        std::thread::sleep(Duration::from_millis(20));
    }

    let replays = tmp.path().join("replays");
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args(["play", "--rounds", "1", "--headings", "1", "--seed", "9"])
        .arg("--webdriver")
        .arg(&url)
        .arg("--replay-dir")
        .arg(&replays)
        .arg("--chromedriver")
        .arg("/nonexistent/chromedriver")
        .current_dir(tmp.path())
        .env("TMPDIR", tmp.path())
        .env_remove("OPENAI_API_KEY")
        .output()
        .expect("run geoagent");
    assert!(
        out.status.success(),
        "play failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&log).expect("chromedriver log");
    assert!(
        log.contains("InitSession"),
        "the session was not created through the given endpoint"
    );
    let session = std::fs::read_dir(&replays)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("manifest.json").is_file())
        .expect("a session");
    assert_eq!(Replay::open(&session).unwrap().rounds.len(), 1);
}
