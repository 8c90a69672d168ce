//! Helpers shared by the integration tests (`mod common;`).
#![allow(dead_code)]

pub mod geoguessr_site;
pub mod grid;
pub mod openai_server;

/// Kills (SIGKILL) every Chromium started with a profile under `profile_root`, as a crash would,
/// and waits briefly so the kill lands before the caller's next browser command.
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
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
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
