//! Helpers shared by the integration tests (`mod common;`).
#![allow(dead_code)]

pub mod geoguessr_site;
pub mod grid;
pub mod openai_server;

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
