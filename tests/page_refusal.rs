//! When the server refuses a request, the person sees why in the page (issue 12): real headless
//! Chromium opens a challenge link on a server whose game-creation limit is used up, presses
//! Start, and the page shows the server's own message (the 429's "try again in N s") in
//! `#error-message` and in `data-error`, the contract an agent reads.

mod common;

use fantoccini::Locator;
use geoagent::browser::{Browser, BrowserOptions};
use geoagent::game::builtin;
use geoagent::server::{start_local, AppState, CreationLimit};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the page may take to show its start screen or its error.
const PAGE_WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_game_shows_the_servers_reason_in_the_page() {
    common::require_browser();
    let state = AppState::new(vec![Arc::new(builtin::world())]);
    state.limit_creations(CreationLimit {
        per_minute: NonZeroU32::MIN,
        burst: NonZeroU32::MIN,
    });
    let server = start_local(state).await.unwrap();
    // The one game this address may start now.
    let first = reqwest::Client::new()
        .post(format!("{}/api/games", server.url()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);

    let browser = Browser::launch(&BrowserOptions::default()).await.unwrap();
    let outcome = async {
        let client = browser.client();
        client
            .goto(&format!(
                "{}/?join&seed=5&rounds=1&map=world&player=bob",
                server.url()
            ))
            .await
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        let button = loop {
            match client.find(Locator::Css("#start-button")).await {
                Ok(b) if b.is_displayed().await.unwrap_or(false) => break b,
                _ if start.elapsed() > PAGE_WAIT => return Err("no start screen".to_string()),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        button.click().await.map_err(|e| e.to_string())?;
        loop {
            let v = client
                .execute(
                    "return [document.body.dataset.state || '', document.body.dataset.error || '', \
                     (document.querySelector('#error-message') || {}).textContent || ''];",
                    vec![],
                )
                .await
                .map_err(|e| e.to_string())?;
            let parts: Vec<String> = v
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            if parts.first().map(String::as_str) == Some("error") {
                return Ok((parts[1].clone(), parts[2].clone()));
            }
            if start.elapsed() > PAGE_WAIT {
                return Err(format!("the page never showed an error: {parts:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    .await;
    browser.close().await;
    server.shutdown().await.unwrap();
    let (data_error, shown) = outcome.unwrap();
    assert!(
        data_error.contains("too many new games") && data_error.contains("try again in"),
        "data-error carries the server's reason: {data_error:?}"
    );
    assert_eq!(shown.trim(), data_error, "the person sees the same text");
}
