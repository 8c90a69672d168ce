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
