//! Tests of `assist`.

use super::*;
use crate::agent::GuessSource;
use crate::environment::View;
use crate::geo::{Bounds, LatLon};

fn obs(round: usize) -> Observation {
    Observation {
        round,
        rounds: 2,
        views: vec![View {
            heading: 90.0,
            heading_ref: crate::environment::HeadingRef::Compass,
            pitch: 0.0,
            fov: 90.0,
            width: 2,
            height: 2,
            jpeg: vec![0xFF, 0xD8, 0xFF, 0xD9],
        }],
        map_view: Bounds::WORLD,
        map_name: "World".into(),
        capture_ms: 0,
    }
}

fn guess(lat: f64) -> Guess {
    Guess {
        pos: LatLon::new(lat, 2.0).unwrap(),
        country: Some("FR".into()),
        confidence: None,
        rationale: Some("<b>bold</b>".into()),
        source: GuessSource::Model,
        notes: vec![],
        exchanges: vec![],
        usage: Default::default(),
        candidates: vec![],
        revisions: vec![],
    }
}

/// Serves `a`'s routes on 127.0.0.1 and calls one.
async fn call(a: &Assist, method: &str, path: &str, body: &str) -> (StatusCode, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = a.router();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let r = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    server.abort();
    (status, text)
}

#[tokio::test]
async fn a_wrong_token_finds_nothing() {
    let a = Assist::new(Duration::ZERO);
    let p = a.path();
    assert_eq!(p.len(), "/assist//".len() + 2 * TOKEN_BYTES);
    assert_ne!(p, Assist::new(Duration::ZERO).path(), "fresh tokens");
    assert_eq!(call(&a, "GET", &p, "").await.0, StatusCode::OK);
    let wrong = format!("/assist/{}/", "0".repeat(2 * TOKEN_BYTES));
    for path in [
        wrong.clone(),
        format!("{wrong}state"),
        format!("{wrong}app.js"),
        "/assist/x/state".into(),
    ] {
        assert_eq!(call(&a, "GET", &path, "").await.0, StatusCode::NOT_FOUND);
    }
    a.observed(&obs(1));
    let (s, _) = call(&a, "POST", &format!("{wrong}hints"), r#"{"text":"x"}"#).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(a.board().hints.is_empty());
}

#[tokio::test]
async fn hints_are_checked_bounded_and_limited() {
    let a = Assist::new(Duration::ZERO);
    let p = a.path();
    // No round yet.
    let (s, _) = call(&a, "POST", &format!("{p}hints"), r#"{"text":"x"}"#).await;
    assert_eq!(s, StatusCode::CONFLICT);
    a.observed(&obs(1));
    for (body, want) in [
        ("not json", StatusCode::BAD_REQUEST),
        (r#"{"text":"  "}"#, StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(call(&a, "POST", &format!("{p}hints"), body).await.0, want);
    }
    let long = serde_json::json!({ "text": "x".repeat(crate::agent::MAX_HINT_CHARS + 1) });
    let (s, _) = call(&a, "POST", &format!("{p}hints"), &long.to_string()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let huge = "x".repeat(MAX_ASSIST_BODY_BYTES + 1);
    let (s, _) = call(&a, "POST", &format!("{p}hints"), &huge).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    let mut accepted = 0;
    let mut limited = false;
    for i in 0..HINT_BURST + 3 {
        let body = serde_json::json!({ "text": format!("<i>hint {i}</i>"), "by": "Ana" });
        match call(&a, "POST", &format!("{p}hints"), &body.to_string())
            .await
            .0
        {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => limited = true,
            other => panic!("{other}"),
        }
    }
    assert!(limited && accepted >= HINT_BURST as usize, "{accepted}");
    let (s, json) = call(&a, "GET", &format!("{p}state"), "").await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["hints"][0]["text"], "<i>hint 0</i>", "kept as text");
    assert_eq!(v["hints"][0]["by"], "Ana");
    assert_eq!(v["views"][0]["url"], "views/1/0");
}

#[tokio::test]
async fn a_round_waits_for_hints_then_for_go() {
    let a = Assist::new(Duration::from_secs(600));
    let p = a.path();
    a.observed(&obs(1));
    // A hint typed while the model thinks waits for its answer.
    let (s, _) = call(&a, "POST", &format!("{p}hints"), r#"{"text":"not Europe"}"#).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let got = a.hints(0, &guess(48.0)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].text, "not Europe");
    // The revised answer waits until the person presses go.
    let waiting = {
        let a = a.clone();
        tokio::spawn(async move { a.hints(1, &guess(-30.0)).await })
    };
    let start = Instant::now();
    while a.board().phase != Phase::Waiting {
        assert!(start.elapsed() < Duration::from_secs(10));
        tokio::task::yield_now().await;
    }
    assert!(!waiting.is_finished());
    let (_, json) = call(&a, "GET", &format!("{p}state"), "").await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["phase"], "waiting");
    assert_eq!(v["answers"][1]["lat"], -30.0);
    assert!(v["window_left_ms"].as_u64().unwrap() > 0);
    assert_eq!(
        call(&a, "POST", &format!("{p}go"), "").await.0,
        StatusCode::NO_CONTENT
    );
    assert!(waiting.await.unwrap().is_empty());
    assert_eq!(a.board().phase, Phase::Placing);
    // The views of a past round are gone.
    a.observed(&obs(2));
    assert_eq!(
        call(&a, "GET", &format!("{p}views/1/0"), "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&a, "GET", &format!("{p}views/2/0"), "").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_end_waits_for_an_open_page_only() {
    // Nobody opened the page: no wait at all (a paused clock would show any).
    let a = Assist::new(Duration::ZERO);
    a.observed(&obs(1));
    a.finished();
    tokio::time::timeout(
        Duration::from_secs(60),
        a.farewell(Duration::from_secs(3600)),
    )
    .await
    .expect("no wait without a page");
    // An open page that already saw the end: no wait either.
    let p = a.path();
    assert_eq!(
        call(&a, "GET", &format!("{p}state"), "").await.0,
        StatusCode::OK
    );
    tokio::time::timeout(
        Duration::from_secs(60),
        a.farewell(Duration::from_secs(3600)),
    )
    .await
    .expect("the page saw the end");
    // A page behind waits until it looks again.
    a.finished();
    let waiting = {
        let a = a.clone();
        tokio::spawn(async move { a.farewell(Duration::from_secs(3600)).await })
    };
    tokio::time::sleep(FAREWELL_POLL * 4).await;
    assert!(!waiting.is_finished(), "the page has not seen the end yet");
    let (_, json) = call(&a, "GET", &format!("{p}state"), "").await;
    assert!(json.contains("\"finished\""), "{json}");
    tokio::time::timeout(Duration::from_secs(60), waiting)
        .await
        .expect("ends once the page saw it")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_window_ends_the_wait() {
    let a = Assist::new(Duration::from_secs(5));
    a.observed(&obs(1));
    let t = Instant::now();
    assert!(a.hints(0, &guess(1.0)).await.is_empty());
    assert!(t.elapsed() >= Duration::from_secs(5));
    let zero = Assist::new(Duration::ZERO);
    zero.observed(&obs(1));
    assert!(zero.hints(0, &guess(1.0)).await.is_empty());
}

/// Issue 25 items 1 and 2 on the server `play --assist` starts (the agent's game and the assist
/// page on one loopback port), asked the way a hostile web page would: through a name rebound
/// to 127.0.0.1 (a foreign `Host`), with a cross-origin POST, with a `text/plain` body. Each is
/// refused and adds no hint; the page's own requests work. Nobody can start the agent's
/// challenge there from its seed: the server serves the page, its game and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assist_server_answers_only_its_own_page() {
    use crate::game::{builtin, ChallengeKey};
    use crate::server::{start_local_with, AppState};
    let a = Assist::new(Duration::ZERO);
    a.observed(&obs(1));
    let state = AppState::for_agent(vec![Arc::new(builtin::world())], ChallengeKey::PUBLIC);
    let game = state.start_game_at("world", 7, 2, 0).unwrap();
    let loopback = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
    let server = start_local_with(state, loopback, a.router()).await.unwrap();
    let base = server.url();
    let port = server.addr.port();
    let p = a.path();
    let http = reqwest::Client::new();
    let send = |req: reqwest::RequestBuilder| async move {
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.text().await.unwrap())
    };

    for path in [
        p.clone(),
        format!("{p}state"),
        format!("{p}views/1/0"),
        "/".into(),
    ] {
        let (s, body) = send(
            http.get(format!("{base}{path}"))
                .header("host", format!("evil.example:{port}")),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "GET {path}: {body}");
    }
    let hint = serde_json::json!({ "text": "it is Paris", "by": "mallory" }).to_string();
    let forged = [
        (
            "from another site",
            "https://evil.example",
            "application/json",
            StatusCode::FORBIDDEN,
        ),
        (
            "text/plain from another site",
            "https://evil.example",
            "text/plain",
            StatusCode::FORBIDDEN,
        ),
        (
            "text/plain from this origin",
            base.as_str(),
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (what, origin, content_type, want) in forged {
        for action in ["hints", "go"] {
            let (s, body) = send(
                http.post(format!("{base}{p}{action}"))
                    .header("origin", origin)
                    .header("content-type", content_type)
                    .body(hint.clone()),
            )
            .await;
            assert_eq!(s, want, "{action} {what}: {body}");
        }
    }
    let (s, body) = send(
        http.post(format!("{base}{p}hints"))
            .header("host", format!("evil.example:{port}"))
            .header("content-type", "application/json")
            .body(hint.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(
        a.board().hints.is_empty() && !a.board().go,
        "nothing forged got in"
    );

    // The page's own requests.
    let (s, body) = send(
        http.post(format!("{base}{p}hints"))
            .header("sec-fetch-site", "same-origin")
            .header("origin", base.as_str())
            .header("content-type", "application/json")
            .body(hint.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    assert_eq!(a.board().hints.len(), 1);

    // The agent's challenge cannot be started again here, from its seed or at all.
    let (s, body) = send(
        http.post(format!("{base}/api/games"))
            .json(&serde_json::json!({"map": "world", "seed": 7, "rounds": 2})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, _) = send(http.get(format!("{base}/api/maps"))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // What the agent's browser needs is there.
    let (s, body) = send(http.get(format!("{base}/api/games/{game}"))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _) = send(http.get(format!("{base}/"))).await;
    assert_eq!(s, StatusCode::OK);
    server.shutdown().await.unwrap();
}
