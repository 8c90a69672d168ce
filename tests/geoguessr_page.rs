//! The geoguessr.com game page however it is drawn (issue 22): default settings play a classic
//! game on the replica's untouched page with its guess map drawn as `<img>` tiles, one canvas
//! and a vector layer; the point the site received is where the click was meant (the drift is
//! recorded per round); no view handed to the reasoner is the loading screen or a blank canvas.

mod common;

use common::geoguessr_site::{MapRendering, PageOptions, Replica, COOKIE};
use geoagent::agent::{Guess, Reasoner};
use geoagent::browser::geoguessr::settings::SiteOptions;
use geoagent::browser::geoguessr::NcfaCookie;
use geoagent::environment::{CaptureOptions, Observation};
use geoagent::geo::LatLon;
use geoagent::session::site::{play_site, SiteGameSpec, SitePlan};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Far-apart places, one per round: the clicks cross the whole map.
const PLACES: [(f64, f64); 5] = [
    (-33.8688, 151.2093),
    (64.1466, -21.9426),
    (-12.0464, -77.0428),
    (48.8566, 2.3522),
    (35.6762, 139.6503),
];

/// Guesses round N's place in [`PLACES`] and keeps every observation.
struct Places {
    inner: Arc<dyn Reasoner>,
    seen: Mutex<Vec<Observation>>,
}

#[async_trait::async_trait]
impl Reasoner for Places {
    fn name(&self) -> String {
        "places".into()
    }
    async fn guess(&self, obs: &Observation) -> Guess {
        self.seen.lock().unwrap().push(obs.clone());
        let mut g = self.inner.guess(obs).await;
        let (lat, lon) = PLACES[(obs.round - 1) % PLACES.len()];
        g.pos = LatLon { lat, lon };
        g
    }
}

/// Share of a view's pixels in the replica panorama's saturated colours: the loading screen
/// (grey on dark grey) and an undrawn canvas have none.
fn coloured_share(jpeg: &[u8]) -> f64 {
    let img = image::load_from_memory(jpeg).unwrap().to_rgb8();
    let n = img.pixels().len() as f64;
    let coloured = img
        .pixels()
        .filter(|p| {
            let [r, g, b] = p.0;
            r.max(g).max(b) - r.min(g).min(b) > 80
        })
        .count();
    coloured as f64 / n
}

/// Plays one game with default settings on a replica whose guess map is drawn as `rendering`:
/// a new classic game, or (`challenge`) a challenge someone else made.
async fn play(rendering: MapRendering, challenge: bool) {
    let replica = Replica::start_with(PageOptions::drawn_as(rendering)).await;
    let tmp = tempfile::tempdir().unwrap();
    let reasoner = Arc::new(Places {
        inner: Arc::new(geoagent::agent::baseline::BaselineReasoner::for_map(
            &geoagent::game::builtin::world(),
        )),
        seen: Mutex::new(vec![]),
    });
    // Default settings but the pacing a test cannot wait for.
    let plan = SitePlan {
        site: SiteOptions {
            base_url: replica.base_url.clone(),
            round_pause: Duration::ZERO,
            game_pause: Duration::ZERO,
            max_games_per_hour: 100,
            ..SiteOptions::default()
        },
        cookie: NcfaCookie::new(COOKIE).unwrap(),
        browser: geoagent::browser::BrowserOptions::default(),
        capture: CaptureOptions {
            headings: 2,
            ..CaptureOptions::default()
        },
        replay_root: tmp.path().to_path_buf(),
        strategy: "cot".into(),
        spec: if challenge {
            let token = replica.add_challenge([false, true, false], 3);
            SiteGameSpec::Challenge(geoagent::browser::geoguessr::Token::parse(&token).unwrap())
        } else {
            SiteGameSpec::New(geoagent::browser::geoguessr::api::NewGame {
                map: "world".into(),
                time_limit: 0,
                forbid_moving: false,
                forbid_zooming: true,
                forbid_rotating: false,
            })
        },
        human_store: tmp.path().join("humans.jsonl"),
    };
    let done = play_site(&plan, reasoner.clone())
        .await
        .unwrap_or_else(|e| panic!("{rendering:?}: {e:#}"));
    let token = done.record.game_token.clone();
    assert_eq!(replica.points_of(token.as_str()).len(), 5, "{rendering:?}");
    let tolerance = SiteOptions::default().pin_tolerance_px;
    for (i, r) in done.report.rounds.iter().enumerate() {
        let (lat, lon) = PLACES[i];
        // The point the site received (the replica's own record) against the point meant.
        let km = r.result.guess.distance_km(&LatLon { lat, lon });
        let c = &done.record.scores[i];
        eprintln!(
            "{rendering:?} round {}: drift {:?} px, {km:.1} km",
            i + 1,
            c.click_drift_px
        );
        let px = c.click_drift_px.expect("a map guess records its drift");
        assert!(px <= tolerance, "{rendering:?} round {}: {c:?}", i + 1);
        // At the world map's zoom a pixel is at most ~80 km.
        assert!(km < 250.0, "{rendering:?} round {}: {km} km off", i + 1);
        assert!((c.click_drift_km.unwrap() - km).abs() < 1.0, "{c:?} {km}");
    }
    let seen = reasoner.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    for obs in &seen {
        for v in &obs.views {
            let share = coloured_share(&v.jpeg);
            if share <= 0.05 {
                // Kept for a person to look at (the temporary folder goes with the test).
                let keep = std::env::temp_dir()
                    .join(format!("geoguessr_page-{rendering:?}-{}.jpg", obs.round));
                let _ = std::fs::write(&keep, &v.jpeg);
                let img = image::load_from_memory(&v.jpeg).unwrap().to_rgb8();
                let n = img.pixels().len() as u64;
                let sum = img.pixels().fold([0u64; 3], |a, p| {
                    [
                        a[0] + p.0[0] as u64,
                        a[1] + p.0[1] as u64,
                        a[2] + p.0[2] as u64,
                    ]
                });
                eprintln!(
                    "the view is in {} (heading {}, {}x{}, mean rgb {:?})",
                    keep.display(),
                    v.heading,
                    v.width,
                    v.height,
                    sum.map(|c| c / n)
                );
            }
            assert!(
                share > 0.05,
                "{rendering:?} round {}: a view with {share:.3} of its pixels coloured is the loading screen or a blank canvas",
                obs.round
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_settings_play_a_game_and_a_challenge_in_every_guess_map_rendering() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    for r in MapRendering::ALL {
        play(r, false).await;
        play(r, true).await;
    }
}

/// One browser at a time in this binary: the machine has 2 cores.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the binary with `args` against `replica` (its config in `dir`), the cookie in the
/// environment.
async fn geoagent(replica: &Replica, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let config = dir.join("geoagent.toml");
    std::fs::write(
        &config,
        format!(
            "[geoguessr]\nbase_url = \"{}\"\ngame_pause_secs = 0\n[replay]\ndir = \"{}\"\n",
            replica.base_url,
            dir.join("replays").display()
        ),
    )
    .unwrap();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
            .args(&args)
            .arg("--config")
            .arg(&config)
            .env("GEOGUESSR_NCFA", COOKIE)
            .current_dir(&dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn games_created(replica: &Replica) -> usize {
    replica
        .log()
        .iter()
        .filter(|l| l.starts_with("POST /api/v3/games") && !l.starts_with("POST /api/v3/games/"))
        .count()
}

/// Every spelling of a value the report must not hold: the cookie, the game token, the
/// replica's places and the map's bounds (to 2–5 decimals), any `ll=` value.
fn forbidden(token: &str) -> Vec<String> {
    let mut out = vec![
        COOKIE.to_string(),
        token.to_string(),
        "\"lat\"".into(),
        "\"lng\"".into(),
    ];
    let mut numbers: Vec<f64> = common::geoguessr_site::places()
        .iter()
        .flat_map(|p| [p.lat, p.lng])
        .collect();
    numbers.extend([-54.85, 71.17, -123.12, 175.68]);
    for n in numbers {
        for d in 2..=5 {
            out.push(format!("{n:.d$}"));
        }
    }
    out
}

/// `geoguessr check` on the untouched replica: without `--create-game` or `--game` it creates no
/// game, checks the cookie and the map, and says the page was not checked and why; with
/// `--create-game` it creates exactly one, and every selector (the spinner too) and the guess
/// map's calibration are green; `--game` checks that game's page without creating another;
/// `--report` writes a bundle with the counts, hooks, prefixes, calibration and timings, and
/// none of the cookie, the token or a coordinate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_is_green_on_the_untouched_replica_and_makes_no_game_unless_asked() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Replica::start().await;
    let tmp = tempfile::tempdir().unwrap();

    let out = geoagent(&replica, tmp.path(), &["geoguessr", "check"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(games_created(&replica), 0, "{:?}", replica.log());
    assert!(replica.games().is_empty());
    assert!(
        stdout.contains("ok    cookie") && stdout.contains("ok    map"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-     geoguessr.selectors.spinner: not checked: no game page was opened")
            && stdout.contains("--create-game")
            && stdout.contains("-     guess map calibration: not checked"),
        "{stdout}"
    );

    let report = tmp.path().join("check.json");
    let out = geoagent(
        &replica,
        tmp.path(),
        &[
            "geoguessr",
            "check",
            "--create-game",
            "--report",
            report.to_str().unwrap(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(games_created(&replica), 1, "{:?}", replica.log());
    let token = replica.games().pop().unwrap();
    for key in [
        "panorama",
        "spinner",
        "guess_map",
        "map_view_link",
        "guess_pin",
        "guess_button",
        "hide",
    ] {
        assert!(
            stdout.contains(&format!("ok    geoguessr.selectors.{key} (")),
            "{key}: {stdout}"
        );
    }
    assert!(
        stdout.contains(
            "-     geoguessr.selectors.close_round_result: not checked: appears only after a guess"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    guess map calibration: scale from"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(&token) && !stdout.contains(COOKIE),
        "{stdout}"
    );
    // Nothing was guessed.
    assert!(replica.points_of(&token).is_empty());

    let bytes = std::fs::read(&report).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    // Shown with --nocapture: what a user would attach.
    eprintln!("{stdout}\n{text}");
    for bad in forbidden(&token) {
        assert!(!text.contains(&bad), "the report holds {bad:?}:\n{text}");
    }
    // A view link's `ll=` value never (the selector's `ll=\"` is no value).
    let ll = text
        .match_indices("ll=")
        .all(|(i, _)| text[i + 3..].starts_with("<redacted>") || text[i + 3..].starts_with("\\\""));
    assert!(ll, "{text}");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["game"], "created");
    let found = |key: &str| {
        v["selectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == format!("geoguessr.selectors.{key}"))
            .unwrap()["found"]
            .clone()
    };
    assert_eq!(found("guess_map"), 1, "{v:#}");
    assert!(found("spinner").as_u64().unwrap() >= 1, "{v:#}");
    assert_eq!(found("close_round_result"), serde_json::Value::Null);
    assert_eq!(v["page"]["data_qa"]["guess-map"], 1, "{v:#}");
    assert_eq!(v["page"]["data_qa"]["panorama"], 1, "{v:#}");
    // Hash suffixes cut: the replica's classes end in this start's salt.
    let prefixes = v["page"]["class_prefixes"].as_object().unwrap();
    assert!(prefixes.contains_key("guess-map_guessMap__"), "{v:#}");
    assert!(!text.contains(&replica.class_salt()), "{text}");
    let cal = &v["calibration_figures"];
    assert!(cal["pin_offset_px"].as_f64().unwrap() <= 3.0, "{cal}");
    assert!(cal["projection_error_px"].as_f64().unwrap() <= 3.0, "{cal}");
    assert_eq!(v["calibration"]["status"], "ok", "{v:#}");
    for t in [
        "cookie",
        "browser_launch",
        "page_open",
        "round_ready",
        "calibration",
    ] {
        assert!(v["timings_ms"][t].is_u64(), "{t}: {v:#}");
    }

    // The game given: its page checked, no other game made.
    let url = format!("{}/game/{token}", replica.base_url);
    let out = geoagent(
        &replica,
        tmp.path(),
        &["geoguessr", "check", "--game", &url],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ok    geoguessr.selectors.guess_button ("),
        "{stdout}"
    );
    assert_eq!(games_created(&replica), 1);
    let out = geoagent(
        &replica,
        tmp.path(),
        &["geoguessr", "check", "--game", &url, "--create-game"],
    )
    .await;
    assert!(!out.status.success());
    assert_eq!(games_created(&replica), 1);
}

/// A site that changed: the Guess button's hook renamed, the loading screen's class renamed,
/// the guess map without the logo link. `check` names each and the report shows the new
/// loading-screen class.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_what_changed_on_a_modified_replica() {
    common::require_browser();
    let _one = BROWSER.lock().await;
    let replica = Replica::start_with(PageOptions {
        spinner_classes: vec!["loading-screen_root".into()],
        logo_link: false,
        ..PageOptions::default()
    })
    .await;
    replica.rename_guess_button();
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("check.json");
    let out = geoagent(
        &replica,
        tmp.path(),
        &[
            "geoguessr",
            "check",
            "--create-game",
            "--report",
            report.to_str().unwrap(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    for key in ["guess_button", "spinner", "map_view_link"] {
        assert!(
            stdout.contains(&format!("MISS  geoguessr.selectors.{key} =")),
            "{key}: {stdout}"
        );
    }
    assert!(
        stdout.contains("classes seen only then:") && stdout.contains("loading-screen_root__"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL  guess map calibration"), "{stdout}");
    for key in ["panorama", "guess_map"] {
        assert!(
            stdout.contains(&format!("ok    geoguessr.selectors.{key} (")),
            "{key}: {stdout}"
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(v["page"]["data_qa"]["perform-guess-v2"], 1, "{v:#}");
    assert!(
        v["page"]["loading_only_class_prefixes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("loading-screen_root__")),
        "{v:#}"
    );
}
