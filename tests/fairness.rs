//! Fairness: before a guess, nothing the browser loads (page, scripts, API answers, images) and
//! nothing on the page carries the answer: no coordinates, place or location id, no EXIF. After the
//! guess the same scan finds the truth, which shows the scan can see it.

mod common;

use geoagent::browser::local_game::LocalGame;
use geoagent::browser::{Browser, BrowserOptions};
use geoagent::environment::CaptureOptions;
use geoagent::environment::Environment;
use geoagent::game::{builtin, Challenge, Location};
use geoagent::geo::LatLon;
use geoagent::server::{start_local, AppState, AuditEntry};
use std::sync::Arc;

const SEED: u64 = 7;
const ROUNDS: usize = 3;

/// Strings that would give `loc` away: its id, the place's first part, and its coordinates written
/// with 3 to 6 decimals (fewer decimals collide with ordinary numbers in scripts and styles).
fn give_aways(loc: &Location) -> Vec<String> {
    let mut v = vec![loc.id.clone()];
    if let Some(p) = &loc.place {
        v.push(p.split(',').next().unwrap_or(p).trim().to_string());
    }
    for d in 3..=6 {
        v.push(format!("{:.*}", d, loc.pos.lat));
        v.push(format!("{:.*}", d, loc.pos.lon));
    }
    v
}

fn leaks(texts: &[(String, String)], loc: &Location) -> Vec<String> {
    let mut found = vec![];
    for needle in give_aways(loc) {
        for (what, text) in texts {
            // A coordinate must not be the tail of a longer number ("-68.133" is not "8.133").
            let hit = text
                .match_indices(needle.as_str())
                .find(|(at, _)| !text[..*at].ends_with(|c: char| c.is_ascii_digit()));
            if let Some((at, _)) = hit {
                let from = text[..at]
                    .char_indices()
                    .rev()
                    .nth(60)
                    .map_or(0, |(i, _)| i);
                let context: String = text[from..].chars().take(140).collect();
                found.push(format!("'{needle}' in {what}: …{context}…"));
            }
        }
    }
    found
}

/// The country outlines' SVG path data is the same static geometry every round (served from
/// /assets/ and scanned there); its thousands of numbers would only make chance matches.
fn without_path_data(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(" d=\"") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        rest = after.find('"').map_or("", |end| &after[end + 1..]);
    }
    out.push_str(rest);
    out
}

fn texts(log: &[AuditEntry]) -> Vec<(String, String)> {
    log.iter()
        .filter(|e| !e.content_type.starts_with("image/"))
        .map(|e| {
            (
                format!("{} {}", e.method, e.path),
                String::from_utf8_lossy(&e.body).into_owned(),
            )
        })
        .collect()
}

fn has_exif(jpeg: &[u8]) -> bool {
    const XMP: &[u8] = b"http://ns.adobe.com/xap/1.0/";
    jpeg.windows(6).any(|w| w == b"Exif\0\0") || jpeg.windows(XMP.len()).any(|w| w == XMP)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_before_the_guess_gives_the_answer_away() {
    common::require_browser();
    let map = Arc::new(builtin::world());
    let state = AppState::new(vec![map.clone()]);
    state.enable_audit();
    let server = start_local(state.clone()).await.unwrap();
    let challenge = Challenge::new(&map, SEED, ROUNDS);
    let url = format!(
        "{}/?seed={SEED}&rounds={ROUNDS}&map={}",
        server.url(),
        map.id
    );
    let browser = Browser::launch(&BrowserOptions::default()).await.unwrap();
    let mut game = match LocalGame::open(
        browser,
        &url,
        &map.name,
        map.view,
        CaptureOptions::default(),
    )
    .await
    {
        Ok(g) => g,
        Err((b, e)) => {
            b.close().await;
            panic!("{e}");
        }
    };
    let outcome = async {
        for (i, id) in challenge.location_ids.iter().enumerate() {
            let truth = map.location(id).unwrap();
            let obs = game.observe().await.map_err(|e| e.to_string())?;
            let mut seen = texts(&state.audit_log());
            let page = game.page_source().await.map_err(|e| e.to_string())?;
            seen.push(("the page's DOM".into(), without_path_data(&page)));
            let found = leaks(&seen, truth);
            if !found.is_empty() {
                return Err(format!(
                    "round {}: answer visible before the guess: {found:?}",
                    i + 1
                ));
            }
            for e in state
                .audit_log()
                .iter()
                .filter(|e| e.content_type.starts_with("image/"))
            {
                if has_exif(&e.body) {
                    return Err(format!("{} carries EXIF/XMP", e.path));
                }
            }
            for v in &obs.views {
                if has_exif(&v.jpeg) {
                    return Err("a captured view carries EXIF".into());
                }
            }
            let (result, _) = game
                .guess(LatLon::new(0.0, 0.0).unwrap())
                .await
                .map_err(|e| e.to_string())?;
            if result.truth.distance_km(&truth.pos) > 0.01 {
                return Err(format!(
                    "round {}: the page's truth {:?} is not the challenge's {}",
                    i + 1,
                    result.truth,
                    truth.id
                ));
            }
            // The scan is able to see the answer once it is public.
            let after = texts(&state.audit_log());
            if leaks(&after, truth).is_empty() {
                return Err(format!(
                    "round {}: the scan did not find the truth even after the guess",
                    i + 1
                ));
            }
        }
        Ok::<_, String>(())
    }
    .await;
    game.into_browser().close().await;
    server.shutdown().await.unwrap();
    outcome.unwrap();
}
