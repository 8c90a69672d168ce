//! `play` on a slow machine (issue 24): a chromedriver that takes 20 s to answer, and a machine
//! whose cores are busy, are waited for (with a message saying what for), not failed; a
//! chromedriver that cannot start fails at once with its own words.
//!
//! The slow and failing drivers are wrapper scripts around the real `/usr/bin/chromedriver`; the
//! load is busy loops bounded in time, killed with the test.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long the slow wrapper keeps chromedriver from answering: the old wait gave up after 15 s.
const DRIVER_DELAY_SECS: u32 = 20;
/// Busy loops stop by themselves after this, even if the test is killed before it kills them.
const LOAD_SECS: u32 = 240;

fn wrapper(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("chromedriver-wrapper");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// `geoagent play --rounds N` with the baseline reasoner in `dir` (its replays land there).
fn play(dir: &Path, rounds: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(dir)
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("GEMINI_API_KEY")
        .args(["play", "--rounds", rounds, "--seed", "5"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run geoagent")
}

fn said(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_chromedriver_answering_after_20_s_is_waited_for() {
    common::require_browser();
    let dir = tempfile::tempdir().unwrap();
    let driver = wrapper(
        dir.path(),
        &format!("sleep {DRIVER_DELAY_SECS}\nexec /usr/bin/chromedriver \"$@\""),
    );
    let start = Instant::now();
    let out = play(
        dir.path(),
        "1",
        &["--chromedriver", driver.to_str().unwrap()],
    );
    let text = said(&out);
    assert!(
        out.status.success(),
        "play failed with a slow driver:\n{text}"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(DRIVER_DELAY_SECS.into()),
        "the wrapper did not delay the driver:\n{text}"
    );
    assert!(
        text.contains("Waiting for chromedriver") && text.contains("chromedriver-wrapper"),
        "no message said what play was waiting for:\n{text}"
    );
}

#[test]
fn a_slow_chromium_is_waited_for_and_said() {
    common::require_browser();
    let dir = tempfile::tempdir().unwrap();
    let chromium = dir.path().join("chromium-wrapper");
    std::fs::write(
        &chromium,
        "#!/bin/sh\nsleep 8\nexec /usr/bin/chromium \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&chromium, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = play(dir.path(), "1", &["--chromium", chromium.to_str().unwrap()]);
    let text = said(&out);
    assert!(
        out.status.success(),
        "play failed with a slow Chromium:\n{text}"
    );
    assert!(
        text.contains("Waiting for Chromium to start"),
        "no message said play was waiting for Chromium:\n{text}"
    );
}

#[test]
fn a_chromedriver_that_cannot_start_fails_with_its_own_words() {
    common::require_browser();
    let dir = tempfile::tempdir().unwrap();
    let driver = wrapper(
        dir.path(),
        "echo 'chromedriver: error while loading shared libraries: libnss3.so: cannot open' >&2\nexit 127",
    );
    let start = Instant::now();
    let out = play(
        dir.path(),
        "1",
        &["--chromedriver", driver.to_str().unwrap()],
    );
    let text = said(&out);
    assert!(!out.status.success(), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exited before it was ready") && err.contains("libnss3.so: cannot open"),
        "the error does not give the cause:\n{text}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "an exited driver was waited for as if slow: {:?}\n{text}",
        start.elapsed()
    );
}

#[test]
fn a_port_in_use_is_named_as_the_cause() {
    common::require_browser();
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    // The wrapper moves chromedriver onto a port this test holds (its last --port wins).
    let driver = wrapper(
        dir.path(),
        &format!("exec /usr/bin/chromedriver \"$@\" --port={port}"),
    );
    let out = play(
        dir.path(),
        "1",
        &["--chromedriver", driver.to_str().unwrap()],
    );
    let text = said(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Address already in use"),
        "the error does not say the port is in use:\n{text}"
    );
}

/// The local game's own port, taken (issue 24): with `--advertise HOST:PORT` the game listens on
/// that port, and a taken one was reported as "could not bind the local game server to 127.0.0.1
/// (any port)", naming neither the port nor the flag. Now the error names the address, says the
/// port is in use and which flag sets it.
#[test]
fn a_taken_advertise_port_is_named_with_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    // Every IPv4 interface, as the game's fallback would bind: the port is taken for it either way.
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = play(
        dir.path(),
        "1",
        &["--advertise", &format!("127.0.0.1:{port}")],
    );
    let text = said(&out);
    assert!(!out.status.success(), "{text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(":{port}"))
            && err.contains(&format!("port {port} is in use"))
            && err.contains("--advertise"),
        "the error names the address, the port in use and the flag:\n{text}"
    );
}

/// Busy loops, one per core and one more, each ending by itself after [`LOAD_SECS`].
struct Load(Vec<std::process::Child>);

impl Load {
    fn start() -> Load {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Load(
            (0..=cores)
                .map(|_| {
                    Command::new("timeout")
                        .args([&LOAD_SECS.to_string(), "sh", "-c", "while :; do :; done"])
                        .spawn()
                        .expect("start a busy loop")
                })
                .collect(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn play_passes_with_every_core_busy() {
    common::require_browser();
    let dir = tempfile::tempdir().unwrap();
    let _load = Load::start();
    let out = play(dir.path(), "2", &["--headings", "1"]);
    assert!(
        out.status.success(),
        "play failed under load:\n{}",
        said(&out)
    );
}

/// How long the fake Grid below listens on nothing, then answers "not ready" with no nodes, as a
/// hub starts and its nodes register; short enough for a quick test, past the 3 s notice.
const GRID_DOWN_SECS: u64 = 2;
const GRID_STARTING_SECS: u64 = 5;
/// The fake Grid's words when asked for a session: no browser behind it, so the test ends there.
const FAKE_GRID_REFUSAL: &str = "fake grid: no browsers behind this test hub";

/// A Selenium Grid hub that is still starting: nothing listens on its port for
/// [`GRID_DOWN_SECS`], then `/status` says `ready: false` with no nodes until
/// [`GRID_STARTING_SECS`] more have passed, then `ready: true`. A session request is answered
/// with a WebDriver error, and its arrival time kept.
struct StartingGrid {
    url: String,
    ready_at: Instant,
    session_asked: std::sync::Arc<std::sync::Mutex<Option<Instant>>>,
}

impl StartingGrid {
    fn start() -> StartingGrid {
        use std::io::{Read, Write};
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t0 = Instant::now();
        let up_at = t0 + Duration::from_secs(GRID_DOWN_SECS);
        let ready_at = up_at + Duration::from_secs(GRID_STARTING_SECS);
        let session_asked = std::sync::Arc::new(std::sync::Mutex::new(None));
        let asked = session_asked.clone();
        std::thread::spawn(move || {
            std::thread::sleep(up_at - Instant::now());
            let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                // Headers, then the body its Content-Length announces.
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&req).to_string();
                let (code, body) = if text.starts_with("GET /status") {
                    let ready = Instant::now() >= ready_at;
                    let msg = if ready {
                        "Selenium Grid ready."
                    } else {
                        "Selenium Grid not ready."
                    };
                    (
                        200,
                        format!(r#"{{"value":{{"ready":{ready},"message":"{msg}","nodes":[]}}}}"#),
                    )
                } else if text.starts_with("POST /session") {
                    asked.lock().unwrap().get_or_insert(Instant::now());
                    (
                        500,
                        format!(
                            r#"{{"value":{{"error":"session not created","message":"{FAKE_GRID_REFUSAL}","stacktrace":""}}}}"#
                        ),
                    )
                } else {
                    (
                        404,
                        r#"{"value":{"error":"unknown command","message":"","stacktrace":""}}"#
                            .to_string(),
                    )
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        StartingGrid {
            url: format!("http://127.0.0.1:{port}"),
            ready_at,
            session_asked,
        }
    }
}

#[test]
fn a_grid_still_starting_is_waited_for_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let grid = StartingGrid::start();
    let out = play(dir.path(), "1", &["--webdriver", &grid.url]);
    let text = said(&out);
    let asked = *grid.session_asked.lock().unwrap();
    let asked = asked.unwrap_or_else(|| panic!("no session was asked for:\n{text}"));
    assert!(
        asked >= grid.ready_at,
        "a session was asked for {:?} before the Grid was ready:\n{text}",
        grid.ready_at - asked
    );
    assert!(
        text.contains("Waiting for the WebDriver endpoint at") && text.contains(&grid.url),
        "no message said what play was waiting for:\n{text}"
    );
    // It then fails with the Grid's own words, not a time-out.
    assert!(!out.status.success(), "{text}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(FAKE_GRID_REFUSAL),
        "the Grid's refusal is not the error:\n{text}"
    );
}
