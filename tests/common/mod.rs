//! Helpers shared by the integration tests (`mod common;`).
#![allow(dead_code)]

pub mod command;
pub mod fixture;
pub mod geoguessr_site;
pub mod grid;
pub mod openai_server;

/// Longest wait for killed browsers to be gone (a loaded machine reaps slowly).
const KILL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// Kills (SIGKILL) every Chromium started with a profile under `profile_root`, as a crash would,
/// and waits until none is left, so the kill has landed before the caller's next browser command.
pub async fn kill_chromium_of(profile_root: &str) {
    let status = std::process::Command::new("pkill")
        .args([
            "-KILL",
            "-f",
            "--",
            &format!("--user-data-dir={profile_root}"),
        ])
        .status()
        .expect("pkill runs");
    assert!(status.success(), "no Chromium was found to kill");
    let pattern = format!("--user-data-dir={profile_root}");
    let t0 = std::time::Instant::now();
    // pgrep exits 1 when nothing matches (zombies awaiting their parent's wait are not matched
    // by -f once their command line is gone).
    while std::process::Command::new("pgrep")
        .args(["-f", "--", &pattern])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("pgrep runs")
        .success()
    {
        assert!(
            t0.elapsed() < KILL_DEADLINE,
            "killed Chromium still running"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Browser tests need Debian's Chromium and chromedriver. Fail loudly (never skip) when they are
/// missing: CI installs them with `scripts/setup`.
pub fn require_browser() {
    let found = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .any(|p| std::path::Path::new(p).is_file())
        || std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|d| d.join("chromedriver").is_file())
        });
    assert!(
        found,
        "chromedriver is not installed: run scripts/setup (apt-get install -y chromium chromium-driver)"
    );
}
