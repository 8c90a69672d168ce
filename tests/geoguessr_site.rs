//! geoguessr.com against a replica of the site on 127.0.0.1 (tests/common/geoguessr_site.rs), in
//! real Chromium: a classic game and a challenge end to end with the site's points, the fairness
//! fence (nothing the reasoner or the model server receives carries the answer; captures hold no
//! HUD or compass pixels), NMPZ, expired cookie, 429, a renamed selector and its override, a
//! refused duel, highscores into `stats`, and the cookie never written anywhere.

mod common;

use common::geoguessr_site::{self as site, Replica, COOKIE, HUD_RGB};
use common::openai_server::{OpenAiServer, ServerOptions};
use geoagent::agent::{Guess, Reasoner};
use geoagent::browser::geoguessr::settings::{GuessVia, SiteOptions};
use geoagent::browser::geoguessr::{NcfaCookie, SiteError};
use geoagent::config::Settings;
use geoagent::environment::{CaptureOptions, Observation};
use geoagent::session::site::{play_site, SiteGameSpec, SitePlan, SiteSessionError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One browser game at a time in this binary: the machine has 2 cores.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The trace-level log of this test binary, shared by its tests.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogWriter;
impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        LOG.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn trace_log() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        let sub = tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .finish();
        let _ = tracing::subscriber::set_global_default(sub);
    });
}

fn options(replica: &Replica) -> SiteOptions {
    SiteOptions {
        base_url: replica.base_url.clone(),
        round_pause: Duration::ZERO,
        game_pause: Duration::ZERO,
        max_games_per_hour: 100,
        // The replica turns 90°/s while a key is held, as the real site roughly does.
        turn_hold: Duration::from_millis(1000),
        ..SiteOptions::default()
    }
}

fn plan(replica: &Replica, replays: &Path, spec: SiteGameSpec, headings: usize) -> SitePlan {
    SitePlan {
        site: options(replica),
        cookie: NcfaCookie::new(COOKIE).unwrap(),
        browser: geoagent::browser::BrowserOptions::default(),
        capture: CaptureOptions {
            headings,
            ..CaptureOptions::default()
        },
        replay_root: replays.to_path_buf(),
        strategy: "cot".into(),
        spec,
        human_store: replays.join("humans.jsonl"),
    }
}

fn classic(forbid: [bool; 3]) -> SiteGameSpec {
    SiteGameSpec::New(geoagent::browser::geoguessr::api::NewGame {
        map: "world".into(),
        time_limit: 0,
        forbid_moving: forbid[0],
        forbid_zooming: forbid[1],
        forbid_rotating: forbid[2],
    })
}

/// Records every observation handed to the inner reasoner; runs `hook` before a round's guess.
struct Recording {
    inner: Arc<dyn Reasoner>,
    seen: Mutex<Vec<Observation>>,
    hook: Box<dyn Fn(usize) + Send + Sync>,
}

#[async_trait::async_trait]
impl Reasoner for Recording {
    fn name(&self) -> String {
        self.inner.name()
    }
    async fn guess(&self, obs: &Observation) -> Guess {
        self.seen.lock().unwrap().push(obs.clone());
        (self.hook)(obs.round);
        self.inner.guess(obs).await
    }
}

fn recording(
    inner: Arc<dyn Reasoner>,
    hook: impl Fn(usize) + Send + Sync + 'static,
) -> Arc<Recording> {
    Arc::new(Recording {
        inner,
        seen: Mutex::new(vec![]),
        hook: Box::new(hook),
    })
}

/// The baseline reasoner, expiring the replica's cookie while round 3 is being reasoned.
fn expiring_in_round_3(replica: &Arc<Replica>) -> Arc<Recording> {
    let r = replica.clone();
    recording(baseline(), move |round| {
        if round == 3 {
            r.expire_cookie();
        }
    })
}

fn baseline() -> Arc<dyn Reasoner> {
    Arc::new(geoagent::agent::baseline::BaselineReasoner::for_map(
        &geoagent::game::builtin::world(),
    ))
}

/// An LVLM reasoner (cot) talking to the scripted OpenAI-compatible server.
fn model(server: &OpenAiServer, dir: &Path) -> Arc<dyn Reasoner> {
    let file = dir.join("model.toml");
    std::fs::write(
        &file,
        format!(
            "[model]\nname = \"openai:vision-test\"\nbase_url = \"{}\"\napi_key = \"sk-test\"\ncache = false\n",
            server.base_url
        ),
    )
    .unwrap();
    let settings = Settings::load(Some(&file), &[], &[]).unwrap();
    geoagent::cli::wiring::build_reasoner(&settings, &geoagent::game::builtin::world()).unwrap()
}

/// Pixels of the HUD's and compass's colour in a JPEG (with JPEG's tolerance).
fn hud_pixels(jpeg: &[u8]) -> usize {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    img.pixels()
        .filter(|p| {
            let [r, g, b] = p.0;
            (r as i32 - HUD_RGB[0] as i32).abs() < 60
                && g < 90
                && (b as i32 - HUD_RGB[2] as i32).abs() < 60
        })
        .count()
}

#[test]
fn the_hud_detector_can_see_the_hud() {
    let mut img = image::RgbImage::from_pixel(200, 100, image::Rgb([90, 140, 200]));
    for x in 10..50 {
        for y in 10..40 {
            img.put_pixel(x, y, image::Rgb(HUD_RGB));
        }
    }
    let mut jpeg = vec![];
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&img)
        .unwrap();
    assert!(hud_pixels(&jpeg) > 500);
}

/// What would give round `p` away.
fn needles(p: &site::Place) -> Vec<String> {
    let mut v = vec![
        p.pano.clone(),
        p.pano.bytes().map(|b| format!("{b:02X}")).collect(),
        format!("\"{}\"", p.country),
        "streakLocationCode".into(),
        "panoId".into(),
    ];
    for d in 2..=5 {
        v.push(format!("{:.*}", d, p.lat));
        v.push(format!("{:.*}", d, p.lng));
    }
    v
}

fn find_leaks(what: &str, bytes: &[u8], places: &[site::Place]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = vec![];
    for p in places {
        for n in needles(p) {
            let hit = text
                .match_indices(n.as_str())
                .any(|(at, _)| !text[..at].ends_with(|c: char| c.is_ascii_digit()));
            if hit {
                out.push(format!("{n} in {what}"));
            }
        }
    }
    out
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A 5-round classic game with a model: the site's points, our own scores within 1 point, the
/// fence, no HUD pixels, and the cookie nowhere (trace log, replay, report).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_classic_game_plays_five_rounds_behind_the_fence() {
    common::require_browser();
    trace_log();
    let _one = BROWSER.lock().await;
    let replica = Replica::start().await;
    let server = OpenAiServer::start(ServerOptions::default()).await;
    let tmp = tempfile::tempdir().unwrap();
    let rec = recording(model(&server, tmp.path()), |_| {});
    let plan = plan(&replica, tmp.path(), classic([false; 3]), 4);
    let done = play_site(&plan, rec.clone()).await.unwrap();

    let token = done.record.game_token.to_string();
    assert_eq!(replica.games(), vec![token.clone()]);
    let site_points = replica.points_of(&token);
    assert_eq!(site_points.len(), 5);
    let ours: Vec<u32> = done.report.rounds.iter().map(|r| r.result.points).collect();
    assert_eq!(ours, site_points, "the recorded points are the site's");
    for c in &done.record.scores {
        assert!(
            c.own_points.is_some_and(|o| c.site_points.abs_diff(o) <= 1),
            "{c:?}"
        );
    }
    for (i, r) in done.report.rounds.iter().enumerate() {
        let a = replica.answer(&token, i + 1).unwrap();
        assert!(
            (r.result.truth.lat - a.lat).abs() < 1e-9 && (r.result.truth.lon - a.lng).abs() < 1e-9
        );
        assert_eq!(r.location_id.as_deref(), Some(a.pano.as_str()));
        assert_eq!(r.result.country.as_deref(), Some(a.country.as_str()));
        // The model answered Paris; the map click lands within a pixel of it.
        assert!(
            r.result.guess.distance_km(&geoagent::geo::LatLon {
                lat: 48.8566,
                lon: 2.3522
            }) < 60.0,
            "{:?}",
            r.result.guess
        );
    }

    // The fence: every byte handed to the reasoner and received by the model server.
    let places: Vec<site::Place> = (1..=5)
        .map(|r| replica.answer(&token, r).unwrap())
        .collect();
    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    let mut leaks = vec![];
    for obs in &seen {
        assert_eq!(obs.views.len(), 4, "four headings per round");
        leaks.extend(find_leaks(
            "observation",
            serde_json::to_string(obs).unwrap().as_bytes(),
            &places,
        ));
        for v in &obs.views {
            leaks.extend(find_leaks("view jpeg", &v.jpeg, &places));
            assert_eq!(
                hud_pixels(&v.jpeg),
                0,
                "HUD or compass pixels in round {} view {}",
                obs.round,
                v.heading
            );
        }
        // The view turned: the first and second captures differ.
        assert_ne!(
            obs.views[0].jpeg, obs.views[1].jpeg,
            "round {} did not turn",
            obs.round
        );
    }
    let reqs = server.requests();
    assert_eq!(reqs.len(), 5);
    start_view_labels(&reqs);
    for r in &reqs {
        leaks.extend(find_leaks(
            "model request",
            r.body.to_string().as_bytes(),
            &places,
        ));
        assert!(!r.body.to_string().contains(COOKIE));
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
    // The scan can see an answer: the replica's own state shows it.
    assert!(!find_leaks(
        "replica state",
        format!("{:.4}", places[0].lat).as_bytes(),
        &places
    )
    .is_empty());

    // The cookie: not in the trace log, the replay, or the report.
    let log = LOG.lock().unwrap().clone();
    assert!(log.len() > 1000, "the trace log is empty");
    assert!(
        !String::from_utf8_lossy(&log).contains(COOKIE),
        "the cookie is in the log"
    );
    let report = tmp.path().join("report.html");
    let built =
        geoagent::report::build(std::slice::from_ref(&done.report.replay_dir), &[]).unwrap();
    geoagent::report::write(&report, &built).unwrap();
    for f in files_under(tmp.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(COOKIE),
            "the cookie is in {}",
            f.display()
        );
    }
    let manifest = std::fs::read_to_string(done.report.replay_dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"geoguessr\""), "{manifest}");
    let sidecar = std::fs::read_to_string(done.report.replay_dir.join("geoguessr.json")).unwrap();
    assert!(sidecar.contains(&token));
}

/// A challenge in NMPZ guessed through the API: one view a round, the site's points, then all
/// three highscores pages stored as human results, and `stats` computes the win rate against
/// those players exactly as by hand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_stores_every_players_rounds_for_stats() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Replica::start().await;
    let challenge = replica.add_challenge([true, true, true], 60);
    let tmp = tempfile::tempdir().unwrap();
    let mut plan = plan(
        &replica,
        tmp.path(),
        SiteGameSpec::Challenge(geoagent::browser::geoguessr::Token::parse(&challenge).unwrap()),
        4,
    );
    plan.site.guess_via = GuessVia::Api;
    // Zoom steps asked for, but the challenge forbids zooming: still one view.
    plan.capture.zoom_steps = 2;
    let rec = recording(baseline(), |_| {});
    let done = play_site(&plan, rec.clone()).await.unwrap();
    assert!(
        rec.seen.lock().unwrap().iter().all(|o| o.views.len() == 1),
        "NMPZ is one view"
    );
    let token = done.record.game_token.to_string();
    let agent: Vec<u32> = done.report.rounds.iter().map(|r| r.result.points).collect();
    assert_eq!(agent, replica.points_of(&token));
    assert_eq!(done.report.challenge_id, challenge);
    assert_eq!(done.humans_stored, 60 * 5, "{:?}", done.highscores_problem);
    let pages = replica
        .log()
        .iter()
        .filter(|l| l.contains("/highscores/"))
        .count();
    assert_eq!(pages, 3, "61 entries in pages of 26");

    let mut opts =
        geoagent::stats::compare::StatsOptions::for_replays(vec![tmp.path().to_path_buf()]);
    opts.challenge = Some(challenge.clone());
    opts.human_store = plan.human_store.clone();
    let report = geoagent::stats::compare::build_report(&opts).unwrap();
    let pooled = report.players[0].versus[0].per_round.unwrap();
    let (mut w, mut t, mut l) = (0, 0, 0);
    for (_, pts) in replica.challenge_players(&challenge) {
        for (r, p) in pts.iter().enumerate() {
            match agent[r].cmp(p) {
                std::cmp::Ordering::Greater => w += 1,
                std::cmp::Ordering::Equal => t += 1,
                std::cmp::Ordering::Less => l += 1,
            }
        }
    }
    assert_eq!((pooled.wins, pooled.ties, pooled.losses), (w, t, l));
    // Without --challenge: the session names its challenge, whose people are in the store.
    opts.challenge = None;
    let report = geoagent::stats::compare::build_report(&opts).unwrap();
    let pooled = report.players[0].versus[0].per_round.unwrap();
    assert_eq!((pooled.wins, pooled.ties, pooled.losses), (w, t, l));

    // Every person's guess is kept beside the round's truth (the replica guesses 1° north).
    let stored = geoagent::humans::Store::open(&plan.human_store)
        .load()
        .unwrap();
    assert_eq!(stored.len(), 60 * 5);
    for h in &stored {
        let (t, g) = (h.truth.unwrap(), h.guess.expect("the person's guess"));
        assert!(
            (g.lat - (t.lat + 1.0)).abs() < 1e-9 && (g.lon - t.lon).abs() < 1e-9,
            "{h:?}"
        );
    }

    // Fetching again adds nothing twice.
    let api = geoagent::browser::geoguessr::api::Api::new(&plan.site, &plan.cookie).unwrap();
    let again = geoagent::session::site::store_highscores(
        &api,
        &geoagent::browser::geoguessr::Token::parse(&challenge).unwrap(),
        site::AGENT_ID,
        &plan.human_store,
    )
    .await
    .unwrap();
    assert_eq!(again, 0);
}

/// No move, no pan, zoom allowed: the start view plus one view zoomed in by small wheel steps,
/// both free of HUD pixels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_that_allows_zooming_adds_a_zoomed_view() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Replica::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut plan = plan(&replica, tmp.path(), classic([true, false, true]), 4);
    plan.site.guess_via = GuessVia::Api;
    plan.site.wheel_pause = Duration::from_millis(50);
    plan.capture.zoom_steps = 2;
    let rec = recording(baseline(), |_| {});
    play_site(&plan, rec.clone()).await.unwrap();
    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    for obs in &seen {
        assert_eq!(
            obs.views.len(),
            2,
            "no panning: the start view and the zoomed one"
        );
        let (start, zoomed) = (&obs.views[0], &obs.views[1]);
        assert_eq!((start.heading, zoomed.heading), (0.0, 0.0));
        assert!((zoomed.fov - 90.0 / 2.25).abs() < 1e-9, "{}", zoomed.fov);
        assert_eq!((start.width, start.height), (zoomed.width, zoomed.height));
        // The replica draws the same heading identically: only a zoom changes the pixels.
        assert_ne!(start.jpeg, zoomed.jpeg, "round {} did not zoom", obs.round);
        assert_eq!(
            hud_pixels(&zoomed.jpeg),
            0,
            "HUD pixels in round {}",
            obs.round
        );
    }
}

/// The cookie expires during round 3: a clear error, rounds 1 and 2 kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_cookie_stops_with_finished_rounds_kept() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Arc::new(Replica::start().await);
    let tmp = tempfile::tempdir().unwrap();
    let mut plan = plan(&replica, tmp.path(), classic([true, true, true]), 1);
    plan.site.guess_via = GuessVia::Api;
    let e = play_site(&plan, expiring_in_round_3(&replica))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SiteSessionError::Stopped { error, .. }
            if matches!(&**error, SiteSessionError::Round(r) if r.to_string().contains("_ncfa cookie has expired"))),
        "{e}"
    );
    let sessions = files_under(tmp.path());
    let rounds = sessions
        .iter()
        .find(|p| p.ends_with("rounds.jsonl"))
        .expect("rounds file");
    assert_eq!(std::fs::read_to_string(rounds).unwrap().lines().count(), 2);
}

/// 429s with a short Retry-After are waited out; a long one fails with a clear error.
#[tokio::test]
async fn rate_limits_are_waited_out_up_to_a_cap() {
    let replica = Replica::start().await;
    let mut opts = options(&replica);
    opts.max_retry_after = Duration::from_secs(5);
    let api = geoagent::browser::geoguessr::api::Api::new(&opts, &NcfaCookie::new(COOKIE).unwrap())
        .unwrap();
    replica.rate_limit(2, "1");
    let t0 = std::time::Instant::now();
    assert_eq!(api.profile().await.unwrap().id, site::AGENT_ID);
    assert!(
        t0.elapsed() >= Duration::from_secs(2),
        "both Retry-After waits were honoured"
    );
    replica.rate_limit(1, "3600");
    let e = api.profile().await.unwrap_err();
    assert!(matches!(e, SiteError::RateLimited { .. }), "{e}");
    assert!(e.to_string().contains("3600"), "{e}");
    // And a wrong cookie is the expired-cookie error, never echoing the cookie.
    let bad = geoagent::browser::geoguessr::api::Api::new(
        &opts,
        &NcfaCookie::new("not-the-cookie").unwrap(),
    )
    .unwrap();
    let e = bad.profile().await.unwrap_err();
    assert!(matches!(e, SiteError::CookieExpired), "{e}");
    assert!(!e.to_string().contains("not-the-cookie"));
    // Highscores before playing: told apart from an expired cookie.
    let c = replica.add_challenge([false; 3], 3);
    let e = api
        .highscores(&geoagent::browser::geoguessr::Token::parse(&c).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, SiteError::NotPlayed(_)), "{e}");
}

/// The site renames the Guess button: the error names the selector and its key; the override
/// in `[geoguessr.selectors]` fixes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_selector_is_named_and_an_override_fixes_it() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Replica::start().await;
    replica.rename_guess_button();
    let tmp = tempfile::tempdir().unwrap();
    let mut plan = plan(&replica, tmp.path(), classic([true, true, true]), 1);
    let e = play_site(&plan, baseline()).await.unwrap_err().to_string();
    assert!(e.contains("geoguessr.selectors.guess_button"), "{e}");
    assert!(e.contains("perform-guess"), "{e}");

    let file = tmp.path().join("fix.toml");
    std::fs::write(
        &file,
        "[geoguessr.selectors]\nguess_button = '[data-qa=\"perform-guess-v2\"]'\n",
    )
    .unwrap();
    let fixed = Settings::load(Some(&file), &[], &[])
        .unwrap()
        .site_options()
        .unwrap();
    plan.site.selectors = fixed.selectors;
    let done = play_site(&plan, baseline()).await.unwrap();
    assert_eq!(done.report.rounds.len(), 5);
}

/// Duels and other games against people are refused before anything runs.
#[test]
fn a_duel_is_refused_with_the_fair_play_message() {
    use clap::Parser;
    for url in [
        "https://www.geoguessr.com/duels/0d6c9a3e-1234",
        "https://www.geoguessr.com/battle-royale/abc",
        "https://www.geoguessr.com/team-duels/abc",
    ] {
        let cli = geoagent::cli::Cli::try_parse_from([
            "geoagent",
            "play",
            "--site",
            "geoguessr",
            "--challenge",
            url,
        ])
        .unwrap();
        let e = format!("{:#}", geoagent::cli::prepare(&cli, &[]).unwrap_err());
        assert!(e.contains("cheating") && e.contains("duels"), "{e}");
    }
}

/// `geoguessr check` and `humans import-highscores` through the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_import_highscores_from_the_command_line() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Replica::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("geoagent.toml");
    std::fs::write(
        &config,
        format!(
            "[geoguessr]\nbase_url = \"{}\"\n[server]\nhuman_results = \"{}\"\n",
            replica.base_url,
            tmp.path().join("humans.jsonl").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let base = replica.base_url.clone();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let config = config.clone();
        let cwd = tmp.path().to_path_buf();
        async move {
            let _ = base;
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
                    .args(&args)
                    .arg("--config")
                    .arg(&config)
                    .env("GEOGUESSR_NCFA", COOKIE)
                    .env("RUST_LOG", "geoagent=trace")
                    .current_dir(&cwd)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let out = run(&["geoguessr", "check", "--create-game"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok    cookie")
            && stdout.contains("ok    geoguessr.selectors.guess_button"),
        "{stdout}"
    );
    assert!(!stdout.contains(COOKIE) && !stderr.contains(COOKIE));
    replica.rename_guess_button();
    // The game made above (a second would wait for geoguessr.game_pause_secs).
    let url = format!(
        "{}/game/{}",
        replica.base_url,
        replica.games().pop().unwrap()
    );
    let out = run(&["geoguessr", "check", "--game", &url]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("MISS  geoguessr.selectors.guess_button"),
        "{stdout}"
    );

    // Three highscores pages saved from a browser.
    let pages: Vec<serde_json::Value> = (0..3)
        .map(|p| {
            let items: Vec<serde_json::Value> = (0..if p < 2 { 26 } else { 8 })
                .map(|i| {
                    let n = p * 26 + i;
                    serde_json::json!({"game": {"rounds": [{"lat": 1.0, "lng": 2.0}], "player": {"id": format!("id{n}"), "nick": format!("P{n}"),
                        "guesses": [{"roundScoreInPoints": n * 10, "distanceInMeters": 5.0, "time": 3}]}}})
                })
                .collect();
            serde_json::json!({"items": items, "paginationToken": if p < 2 { serde_json::json!(format!("t{p}")) } else { serde_json::Value::Null }})
        })
        .collect();
    let file = tmp.path().join("hs.json");
    std::fs::write(&file, serde_json::to_string(&pages).unwrap()).unwrap();
    let out = run(&[
        "humans",
        "import-highscores",
        file.to_str().unwrap(),
        "--challenge",
        "https://www.geoguessr.com/challenge/AbCdEf",
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("60 new round(s) of 60 player(s)"),
        "{stdout}"
    );
    let store = std::fs::read_to_string(tmp.path().join("humans.jsonl")).unwrap();
    assert_eq!(store.lines().count(), 60);
    assert!(store.contains("\"challenge_id\":\"AbCdEf\""));
}

/// The run stops in round 3 (the cookie expired); with a fresh cookie, `--resume` of its session
/// folder continues the same game token: rounds 1 and 2 kept, 3 to 5 played into the same replay,
/// no new game created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_game_resumes_the_same_token_into_the_same_replay() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Arc::new(Replica::start().await);
    let tmp = tempfile::tempdir().unwrap();
    let mut plan = plan(&replica, tmp.path(), classic([true, true, true]), 1);
    plan.site.guess_via = GuessVia::Api;
    play_site(&plan, expiring_in_round_3(&replica))
        .await
        .unwrap_err();
    let token = replica.games().pop().unwrap();
    assert_eq!(replica.points_of(&token).len(), 2);
    let rounds_file = files_under(tmp.path())
        .into_iter()
        .find(|p| p.ends_with("rounds.jsonl"))
        .unwrap();
    let session = rounds_file.parent().unwrap().to_path_buf();

    replica.renew_cookie();
    plan.spec = SiteGameSpec::Resume(session.clone());
    let rec = recording(baseline(), |_| {});
    let done = play_site(&plan, rec.clone()).await.unwrap();
    assert_eq!(replica.games(), vec![token.clone()], "no new game");
    assert_eq!(done.record.game_token.as_str(), token);
    assert_eq!(done.report.replay_dir, session);
    let seen: Vec<usize> = rec.seen.lock().unwrap().iter().map(|o| o.round).collect();
    assert_eq!(seen, vec![3, 4, 5], "only the open rounds are played");
    let rounds: Vec<usize> = done.report.rounds.iter().map(|r| r.round).collect();
    assert_eq!(rounds, vec![1, 2, 3, 4, 5]);
    let points: Vec<u32> = done.report.rounds.iter().map(|r| r.result.points).collect();
    assert_eq!(points, replica.points_of(&token));
    let replay = geoagent::replay::Replay::open(&session).unwrap();
    assert_eq!(
        replay.rounds.iter().map(|r| r.round).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let sidecar: geoagent::session::site::SiteRecord =
        serde_json::from_str(&std::fs::read_to_string(session.join("geoguessr.json")).unwrap())
            .unwrap();
    assert_eq!(
        sidecar.scores.iter().map(|c| c.round).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );

    // A finished game resumes to nothing to play, and another folder is refused by name.
    let again = play_site(&plan, baseline()).await.unwrap();
    assert_eq!(again.report.rounds.len(), 5);
    assert_eq!(replica.points_of(&token).len(), 5);
    plan.spec = SiteGameSpec::Resume(tmp.path().join("nope"));
    let e = play_site(&plan, baseline()).await.unwrap_err().to_string();
    assert!(e.contains("--resume") && e.contains("nope"), "{e}");
}

/// A reasoner that takes `slow` to answer round `round` (a model thinking too long).
struct SlowIn {
    round: usize,
    slow: Duration,
    inner: Arc<dyn Reasoner>,
}

#[async_trait::async_trait]
impl Reasoner for SlowIn {
    fn name(&self) -> String {
        self.inner.name()
    }
    async fn guess(&self, obs: &Observation) -> Guess {
        if obs.round == self.round {
            tokio::time::sleep(self.slow).await;
        }
        self.inner.guess(obs).await
    }
}

/// With a 12 s time limit, a model that would think 30 s in round 2 is cut off so the guess
/// reaches the site before the limit (the replica gives a timed-out round 0 points); the replay
/// says why round 2 is the baseline's point, and the sidecar holds the site's time per round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_limit_is_kept_by_guessing_in_time() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Replica::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let spec = SiteGameSpec::New(geoagent::browser::geoguessr::api::NewGame {
        map: "world".into(),
        time_limit: 12,
        forbid_moving: true,
        forbid_zooming: true,
        forbid_rotating: true,
    });
    let mut plan = plan(&replica, tmp.path(), spec, 1);
    plan.site.guess_via = GuessVia::Api;
    plan.site.time_limit_margin = Duration::from_secs(5);
    let slow = Arc::new(SlowIn {
        round: 2,
        slow: Duration::from_secs(30),
        inner: baseline(),
    });
    let done = play_site(&plan, slow).await.unwrap();
    let token = done.record.game_token.to_string();
    assert_eq!(replica.timed_out_of(&token), vec![false; 5]);
    assert!(replica.times_of(&token).iter().all(|t| *t < 12));
    for r in &done.report.rounds {
        match (&r.guess.source, r.round) {
            (geoagent::agent::GuessSource::Fallback { reason }, 2) => {
                assert!(reason.contains("time limit"), "{reason}")
            }
            (geoagent::agent::GuessSource::Baseline, n) if n != 2 => {}
            (s, n) => panic!("round {n}: {s:?}"),
        }
    }
    assert_eq!(done.record.time_limit_secs, 12);
    assert!(done
        .record
        .scores
        .iter()
        .all(|c| c.site_time_s.is_some() && !c.timed_out));
    let sidecar = std::fs::read_to_string(done.report.replay_dir.join("geoguessr.json")).unwrap();
    assert!(sidecar.contains("\"site_time_s\""), "{sidecar}");
}

/// `geoagent play --resume SESSION` (no --site needed: the session says geoguessr) continues a
/// stopped site game through the binary: the same token, all five rounds in the one replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn play_resume_continues_a_site_session_from_the_command_line() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Arc::new(Replica::start().await);
    let tmp = tempfile::tempdir().unwrap();
    let replays = tmp.path().join("replays");
    let mut plan = plan(&replica, &replays, classic([true, true, true]), 1);
    plan.site.guess_via = GuessVia::Api;
    let r2 = replica.clone();
    let stop = recording(baseline(), move |round| {
        if round == 2 {
            r2.expire_cookie();
        }
    });
    play_site(&plan, stop).await.unwrap_err();
    replica.renew_cookie();
    let token = replica.games().pop().unwrap();
    let session = files_under(&replays)
        .into_iter()
        .find(|p| p.ends_with("rounds.jsonl"))
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let config = tmp.path().join("geoagent.toml");
    std::fs::write(
        &config,
        format!(
            "[geoguessr]\nbase_url = \"{}\"\nguess_via = \"api\"\nround_pause_secs = 0.0\ngame_pause_secs = 0.0\n[replay]\ndir = \"{}\"\n[server]\nhuman_results = \"{}\"\n",
            replica.base_url,
            replays.display(),
            tmp.path().join("humans.jsonl").display()
        ),
    )
    .unwrap();
    // Another model is refused first, saying what to pass; the game is not touched.
    let scored = replica.points_of(&token).len();
    let (cwd, session_arg, config_arg) =
        (tmp.path().to_path_buf(), session.clone(), config.clone());
    let other = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
            .args(["play", "--model", "openai:m", "--resume"])
            .arg(&session_arg)
            .arg("--config")
            .arg(&config_arg)
            .env("GEOGUESSR_NCFA", COOKIE)
            .env("OPENAI_API_KEY", "sk-test-resume")
            .current_dir(&cwd)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(!other.status.success(), "{stderr}");
    let first = stderr
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("");
    assert!(
        first.contains("played by baseline, not openai:m") && first.contains("without --model"),
        "{stderr}"
    );
    assert!(!stderr.contains("stopped"), "{stderr}");
    assert_eq!(
        replica.points_of(&token).len(),
        scored,
        "the game was not touched"
    );
    let (cwd, session_arg) = (tmp.path().to_path_buf(), session.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
            .arg("play")
            .arg("--resume")
            .arg(&session_arg)
            .arg("--config")
            .arg(&config)
            .env("GEOGUESSR_NCFA", COOKIE)
            .current_dir(&cwd)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("GeoGuessr game {token}")),
        "{stdout}"
    );
    assert!(!stdout.contains(COOKIE) && !stderr.contains(COOKIE));
    assert_eq!(replica.games(), vec![token.clone()], "no new game");
    assert_eq!(replica.points_of(&token).len(), 5);
    let rounds = std::fs::read_to_string(session.join("rounds.jsonl")).unwrap();
    assert_eq!(rounds.lines().count(), 5);
}

/// The site opens each round facing a random way (the replica too): every view label the model
/// received is relative to the start view, and none names a compass direction (issue 22 item 5).
fn start_view_labels(reqs: &[common::openai_server::RecordedRequest]) {
    for r in reqs {
        let labels: Vec<&str> = r
            .text
            .lines()
            .filter(|l| {
                l.strip_prefix("View ")
                    .and_then(|rest| rest.split_once(':'))
                    .is_some_and(|(n, _)| n.parse::<usize>().is_ok())
            })
            .collect();
        assert_eq!(labels.len(), 4, "{}", r.text);
        assert!(
            labels[0].starts_with("View 1: start view (compass direction unknown"),
            "{labels:?}"
        );
        // How far each view is turned is what the page measured (drags are measured, not
        // assumed), so only its form is fixed: "start view +N°", N growing within a circle.
        let turned: Vec<f64> = labels[1..]
            .iter()
            .map(|l| {
                l.split_once("start view +")
                    .and_then(|(_, rest)| rest.split_once('°'))
                    .and_then(|(n, _)| n.parse().ok())
                    .unwrap_or_else(|| panic!("not a turned start view: {l}"))
            })
            .collect();
        assert!(
            turned.windows(2).all(|w| w[0] < w[1]) && turned[0] > 0.0 && turned[2] < 360.0,
            "{labels:?}"
        );
        for l in &labels {
            assert!(l.contains("start view"), "{l}");
            for word in ["north", "south", "east", "west", "heading"] {
                assert!(!l.contains(word), "{word} in {l}");
            }
        }
    }
}
