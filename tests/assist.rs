//! Watch and help (issue 16 part 1, the GaGA seed): `play --assist` prints a private link; a
//! scripted person opens it in real headless Chromium, waits for the round's views and the
//! model's answer, types a hint, sees the revised guess and presses Go; the next round they
//! only press Go. The local OpenAI-compatible server answers Paris until the hint is in the
//! prompt, then Moscow. The replay records the hint (text, who, when) and the guess before and
//! after; `stats` and the report keep assisted and unassisted rounds apart.

mod common;

use common::openai_server::{OpenAiServer, Reply, ServerOptions};
use fantoccini::{Client, Locator};
use geoagent::browser::{Browser, BrowserOptions};
use geoagent::replay::{Replay, RoundRecord, ROUNDS_FILE};
use geoagent::stats::compare::{build_report, StatsOptions, ASSISTED_SUFFIX, FIRST_ANSWERS_SUFFIX};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Generous: the machine may be busy compiling; nothing here measures time.
const WAIT: Duration = Duration::from_secs(120);
/// How often the person looks at the page again.
const POLL: Duration = Duration::from_millis(50);
const PARIS: &str = "Latin signs, French road markings.\n```json\n{\"lat\": 48.8566, \"lon\": 2.3522, \"country\": \"FR\", \"confidence\": 0.4, \"rationale\": \"French-looking signs\"}\n```";
const MOSCOW: &str = "Cyrillic signs then: Russia.\n```json\n{\"lat\": 55.7558, \"lon\": 37.6173, \"country\": \"RU\", \"confidence\": 0.7, \"rationale\": \"Cyrillic script\"}\n```";
/// The hint, with markup that must stay text everywhere.
const HINT: &str = "The signs are Cyrillic <img src=x onerror=alert(1)>";
const PERSON: &str = "Tester <b>";

/// Waits until `script` (a JS expression) is true on the page.
async fn until(client: &Client, what: &str, script: &str) {
    let start = Instant::now();
    loop {
        let v = client
            .execute(&format!("return Boolean({script});"), vec![])
            .await
            .unwrap_or_default();
        if v.as_bool() == Some(true) {
            return;
        }
        if start.elapsed() > WAIT {
            let status = client
                .execute("return document.body.innerText", vec![])
                .await
                .unwrap_or_default();
            panic!("waited too long for {what}; the page says:\n{status}");
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

/// What the person could see before a guess was placed: the page's text and the state it polls.
async fn seen(client: &Client, link: &str) -> Result<String, String> {
    let text = client
        .execute("return document.body.innerText", vec![])
        .await
        .map_err(|e| e.to_string())?;
    let state = reqwest::get(format!("{link}state"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!("{}\n{state}", text.as_str().unwrap_or_default()))
}

/// Sends `text` as a hint the way the page does, past the text box's own length limit (a
/// hostile page or a paste), and returns the message the page then shows.
async fn refused(client: &Client, text: &str) -> Result<String, String> {
    client
        .execute(
            "document.getElementById('hint-error').textContent = ''; \
             document.getElementById('hint-text').removeAttribute('maxlength'); \
             document.getElementById('hint-text').value = arguments[0];",
            vec![serde_json::json!(text)],
        )
        .await
        .map_err(|e| e.to_string())?;
    click(client, "#hint-send").await;
    until(
        client,
        "the page's refusal",
        "document.getElementById('hint-error').textContent !== ''",
    )
    .await;
    let msg = client
        .find(Locator::Css("#hint-error"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    Ok(msg)
}

/// The person's part: round 1 a hint, round 2 hostile hints (refused) and Go. Returns what the
/// page showed before each guess was placed.
async fn help(client: &Client, link: &str) -> Result<Vec<String>, String> {
    let mut before_guess = Vec::new();
    client.goto(link).await.map_err(|e| e.to_string())?;
    until(
        client,
        "round 1's views",
        "document.body.dataset.round === '1' && [...document.querySelectorAll('#views img')].length > 0 && [...document.querySelectorAll('#views img')].every(i => i.complete && i.naturalWidth > 0)",
    )
    .await;
    until(
        client,
        "the first answer",
        "document.body.dataset.phase === 'waiting' && document.querySelector('#answers .coords')",
    )
    .await;
    let first = client
        .find(Locator::Css("#answers .coords"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    if first != "48.8566, 2.3522" {
        return Err(format!("first answer shown as {first}"));
    }
    // The model's rationale and its reasoning are on the page.
    let why = client
        .execute(
            "return [document.querySelector('#answers .rationale').textContent, document.querySelector('#answers details pre').textContent]",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if why != serde_json::json!(["French-looking signs", PARIS]) {
        return Err(format!("reasoning shown as {why}"));
    }
    before_guess.push(seen(client, link).await?);
    let name = client
        .find(Locator::Css("#hint-by"))
        .await
        .map_err(|e| e.to_string())?;
    name.send_keys(PERSON).await.map_err(|e| e.to_string())?;
    let text = client
        .find(Locator::Css("#hint-text"))
        .await
        .map_err(|e| e.to_string())?;
    text.send_keys(HINT).await.map_err(|e| e.to_string())?;
    click(client, "#hint-send").await;
    until(
        client,
        "the revised guess",
        "[...document.querySelectorAll('#answers .coords')].some(e => e.textContent === '55.7558, 37.6173') && document.body.dataset.phase === 'waiting'",
    )
    .await;
    // The hint is shown as the text typed, never as markup.
    let shown = client
        .execute(
            "return [document.querySelector('#hints li .text').textContent, document.querySelectorAll('#hints img, #answers img').length]",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if shown != serde_json::json!([HINT, 0]) {
        return Err(format!("hint shown as {shown}"));
    }
    before_guess.push(seen(client, link).await?);
    click(client, "#go").await;
    until(
        client,
        "round 2's first answer",
        "document.body.dataset.round === '2' && document.body.dataset.phase === 'waiting'",
    )
    .await;
    before_guess.push(seen(client, link).await?);
    // Hostile hints get a clear refusal on the page, and never reach the model.
    let huge = "x".repeat(geoagent::agent::MAX_HINT_CHARS + 1);
    let msg = refused(client, &huge).await?;
    if !msg.contains("at most 1000 characters") {
        return Err(format!("a huge hint was answered {msg:?}"));
    }
    // Larger than any request the page sends: refused before it is read, with the same reason.
    let msg = refused(client, &"<b>x</b>".repeat(4000)).await?;
    if !msg.contains("at most 1000 characters") {
        return Err(format!("a 32 kB hint was answered {msg:?}"));
    }
    let msg = refused(client, "\u{7}\u{1b}\u{0}\u{8}\u{202E}").await?;
    if !msg.contains("empty") {
        return Err(format!("a hint of control characters was answered {msg:?}"));
    }
    let hints = client
        .execute(
            "return document.querySelectorAll('#hints li').length",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if hints != serde_json::json!(0) {
        return Err(format!("{hints} refused hints listed"));
    }
    click(client, "#go").await;
    until(
        client,
        "the end of the match",
        "document.body.dataset.phase === 'finished' && document.querySelectorAll('#past tbody tr').length === 2",
    )
    .await;
    Ok(before_guess)
}

/// `p` within a pixel of the guess map's click from `want` (a click is not exact).
fn near(p: geoagent::geo::LatLon, want: (f64, f64)) -> bool {
    const CLICK_DEGREES: f64 = 0.05;
    (p.lat - want.0).abs() < CLICK_DEGREES && (p.lon - want.1).abs() < CLICK_DEGREES
}

fn only_session(replays: &Path) -> PathBuf {
    let dirs = geoagent::replay::catalog::session_dirs(replays).unwrap();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_helps_through_the_assist_link() {
    common::require_browser();
    let model = OpenAiServer::start(ServerOptions::default()).await;
    model.set_default(|req| {
        Reply::Text(
            if req.text.contains("Cyrillic") {
                MOSCOW
            } else {
                PARIS
            }
            .to_string(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(dir.path())
        .env_remove("OPENAI_API_KEY")
        .args([
            "play",
            "--assist",
            "--hint-window",
            "600",
            "--rounds",
            "2",
            "--seed",
            "7",
            "--headings",
            "1",
            "--model",
            "vision-test",
            "--base-url",
            &model.base_url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn geoagent");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = String::new();
    let link = loop {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no assist link printed:\n{said}"))
            .unwrap()
            .unwrap_or_else(|| panic!("play ended before printing the link:\n{said}"));
        said.push_str(&line);
        said.push('\n');
        if let Some(l) = line.strip_prefix("Watch and help: ") {
            break l.trim().to_string();
        }
    };
    assert!(
        link.starts_with("http://127.0.0.1:") && link.contains("/assist/"),
        "{link}"
    );
    // Keep reading stderr so the process never blocks on a full pipe.
    let rest = tokio::spawn(async move {
        let mut out = String::new();
        while let Ok(Some(l)) = lines.next_line().await {
            out.push_str(&l);
            out.push('\n');
        }
        out
    });

    // Without the right token the page, its state, its views and its hint box are not there.
    let (origin, token) = link.split_once("/assist/").unwrap();
    let token = token.trim_end_matches('/');
    let http = reqwest::Client::new();
    for path in [
        "/assist/".to_string(),
        "/assist".to_string(),
        format!("/assist/{}/", "0".repeat(token.len())),
        format!("/assist/{}/state", &token[..token.len() - 1]),
        format!("/assist/{token}x/state"),
        format!("/assist/{}/views/1/0", token.to_uppercase()),
        format!("/{token}/state"),
    ] {
        let r = http.get(format!("{origin}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "GET {path}");
        // A refusal may echo the address asked for, never the real token.
        if !path.contains(token) {
            assert!(!r.text().await.unwrap().contains(token), "{path}");
        }
    }
    let r = http
        .post(format!("{origin}/assist/{}/hints", "f".repeat(token.len())))
        .json(&serde_json::json!({ "text": "not Europe" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The game's own page for people does not lead to it.
    let home = http.get(format!("{origin}/")).send().await.unwrap();
    assert!(!home.text().await.unwrap().contains(token));
    // Issue 25 item 2: nobody who reaches the port can start the live challenge from its seed
    // (then guess it to read each round's truth before the agent does): the server starts no
    // game but the agent's.
    for body in [
        serde_json::json!({"map": "world", "seed": 7, "rounds": 2}),
        serde_json::json!({}),
    ] {
        let r = http
            .post(format!("{origin}/api/games"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "POST /api/games {body}");
    }

    let person = Browser::launch(&BrowserOptions::default()).await.unwrap();
    let helped = help(person.client(), &link).await;
    person.close().await;
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("play ends after the last round")
        .unwrap();
    let stderr = rest.await.unwrap();
    let before_guess = helped.unwrap_or_else(|e| panic!("{e}\n{said}{stderr}"));
    assert!(status.success(), "{said}{stderr}");
    // play printed a line per round as well as the link.
    assert!(
        stderr.contains("round 1/2:") && stderr.contains("round 2/2:"),
        "{stderr}"
    );

    // The model saw the hint in the revision's prompt, and only there.
    let texts: Vec<String> = model.requests().into_iter().map(|r| r.text).collect();
    assert_eq!(texts.len(), 3, "answer, revision, round 2's answer");
    assert!(
        texts[1].contains("- The signs are Cyrillic <img"),
        "{}",
        texts[1]
    );
    assert!(!texts[2].contains("Cyrillic"));
    // Where the rounds were reached neither the model nor the page before the guess.
    let session = only_session(&dir.path().join("replays"));
    let replay = Replay::open(&session).unwrap();
    for r in &replay.rounds {
        let t = r.result.truth;
        let secret = [format!("{:.3}", t.lat), format!("{:.3}", t.lon)];
        let place = r.result.place.clone().filter(|p| p.len() > 3);
        for (what, text) in texts
            .iter()
            .map(|t| ("the model", t))
            .chain(before_guess.iter().map(|t| ("the page", t)))
        {
            assert!(
                !secret.iter().any(|s| text.contains(s.as_str())),
                "{what} saw round {}'s truth {t}:\n{text}",
                r.round
            );
            if let Some(p) = &place {
                assert!(!text.contains(p.as_str()), "{what} saw {p}:\n{text}");
            }
        }
    }

    // The replay: the hint, who gave it, when, the guess before and after.
    assert_eq!(replay.manifest.strategy, "interactive");
    let (r1, r2) = (&replay.rounds[0], &replay.rounds[1]);
    assert!(r1.guess.assisted() && !r2.guess.assisted());
    let rev = &r1.guess.revisions[0];
    assert_eq!(r1.guess.revisions.len(), 1);
    assert_eq!(rev.hints.len(), 1);
    assert_eq!(rev.hints[0].text, HINT);
    assert_eq!(rev.hints[0].by, PERSON);
    let age = chrono::Utc::now() - rev.hints[0].at;
    assert!(age.num_seconds() >= 0 && age.num_hours() < 1, "{age}");
    assert_eq!(rev.before.map(|p| (p.lat, p.lon)), Some((48.8566, 2.3522)));
    assert_eq!(rev.after.map(|p| (p.lat, p.lon)), Some((55.7558, 37.6173)));
    // Placed by clicking the guess map: within a pixel of the answer.
    assert!(
        near(r1.result.guess, (55.7558, 37.6173)),
        "the revised guess was placed: {}",
        r1.result.guess
    );
    assert!(
        near(r2.result.guess, (48.8566, 2.3522)),
        "{}",
        r2.result.guess
    );

    // Stats: assisted and unassisted rounds apart, and the hints' worth on the same rounds.
    let report =
        build_report(&StatsOptions::for_replays(vec![dir.path().join("replays")])).unwrap();
    let base = "openai:vision-test (interactive)";
    let want = [
        format!("{base}{ASSISTED_SUFFIX}"),
        format!("{base}{FIRST_ANSWERS_SUFFIX}"),
        base.to_string(),
    ];
    let got: Vec<(String, usize)> = report
        .players
        .iter()
        .map(|p| (p.label.clone(), p.summary.rounds))
        .collect();
    assert_eq!(got, want.map(|l| (l, 1)).to_vec());
    let pair = report
        .comparisons
        .iter()
        .find(|c| c.a.ends_with(ASSISTED_SUFFIX) && c.b.ends_with(FIRST_ANSWERS_SUFFIX))
        .expect("hints against first answers");
    assert_eq!(pair.rounds, 1);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(dir.path())
        .args(["stats", "replays"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("{base}{ASSISTED_SUFFIX}")), "{text}");
}

/// A session whose second round a person helped with, made from the committed fixture.
fn assisted_fixture(root: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replays/20261123T115949Z-40e71c");
    let dst = root.join("helped");
    std::fs::create_dir_all(dst.join("views")).unwrap();
    for e in std::fs::read_dir(src.join("views")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join("views").join(e.file_name())).unwrap();
    }
    std::fs::copy(src.join("manifest.json"), dst.join("manifest.json")).unwrap();
    let text = std::fs::read_to_string(src.join(ROUNDS_FILE)).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let mut r: RoundRecord = serde_json::from_str(line).unwrap();
        if i == 1 {
            r.guess.revisions = vec![geoagent::agent::Revision {
                hints: vec![geoagent::agent::Hint::new(
                    "<script>alert(1)</script> not Europe",
                    "Ana",
                )
                .unwrap()],
                before: Some(geoagent::geo::LatLon::new(0.0, 0.0).unwrap()),
                after: Some(r.guess.pos),
                country: None,
            }];
        }
        out.push_str(&serde_json::to_string(&r).unwrap());
        out.push('\n');
    }
    std::fs::write(dst.join(ROUNDS_FILE), out).unwrap();
    dst
}

#[test]
fn stats_and_report_keep_assisted_rounds_apart_and_escape_hints() {
    let root = tempfile::tempdir().unwrap();
    let dir = assisted_fixture(root.path());
    let report = build_report(&StatsOptions::for_replays(vec![dir.clone()])).unwrap();
    let labels: Vec<&str> = report.players.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert!(
        labels[0] == "baseline" && report.players[0].summary.rounds == 1,
        "{labels:?}"
    );
    assert_eq!(labels[1], format!("baseline{ASSISTED_SUFFIX}"));
    assert_eq!(labels[2], format!("baseline{FIRST_ANSWERS_SUFFIX}"));
    assert!(report
        .comparisons
        .iter()
        .any(|c| c.a == labels[1] && c.b == labels[2] && c.rounds == 1));

    let html = geoagent::report::build(&[dir], &[]).unwrap().html;
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; not Europe"));
    assert!(!html.contains("<script>alert(1)"));
    assert!(
        html.contains(&format!(
            "baseline{}",
            ASSISTED_SUFFIX.replace('\'', "&#39;")
        )) || html.contains(&format!("baseline{ASSISTED_SUFFIX}"))
    );
}

#[test]
fn assist_takes_only_the_interactive_strategy() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let cfg = empty.display().to_string();
    let parse = |extra: &[&str]| {
        let mut argv = vec!["geoagent", "play", "--assist", "--config", &cfg];
        argv.extend_from_slice(extra);
        let cli = geoagent::cli::Cli::try_parse_from(argv).unwrap();
        geoagent::cli::prepare(&cli, &[]).map(|_| ())
    };
    assert!(parse(&[]).is_ok());
    assert!(parse(&["--strategy", "interactive"]).is_ok());
    assert!(
        parse(&["--strategy", " Interactive"]).is_ok(),
        "read as config reads it"
    );
    let e = parse(&["--strategy", "cot"]).unwrap_err().to_string();
    assert!(
        e.contains("interactive") && e.contains("--strategy cot"),
        "{e}"
    );
    let e = parse(&["--hint-window=-1"]).unwrap_err().to_string();
    assert!(e.contains("--hint-window"), "{e}");
    let e = parse(&["--hint-window", "1e9"]).unwrap_err().to_string();
    assert!(e.contains("3600"), "{e}");
    assert!(
        geoagent::cli::Cli::try_parse_from(["geoagent", "play", "--hint-window", "5"]).is_err()
    );
    assert!(
        geoagent::cli::Cli::try_parse_from(["geoagent", "play", "--assist", "--games", "2"])
            .is_err()
    );
    // The page lives on loopback beside the local game: not with --advertise or geoguessr.com.
    assert!(geoagent::cli::Cli::try_parse_from([
        "geoagent",
        "play",
        "--assist",
        "--advertise",
        "10.0.0.5:8700"
    ])
    .is_err());
    let e = parse(&["--site", "geoguessr"]).unwrap_err().to_string();
    assert!(e.contains("--assist") && e.contains("geoguessr"), "{e}");
}
