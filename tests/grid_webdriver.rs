//! `play --webdriver` against a real Selenium Grid 4 (issue 15, item 1): a hub and two nodes on
//! 127.0.0.1 serving Debian's Chromium with one slot each.
//!
//! - more games than slots all complete: a finished game's idle browser never keeps a slot a
//!   waiting game needs, and waiting in the Grid's queue is not a session failure;
//! - a node killed mid-game: that game resumes on the other node, no round lost or doubled;
//! - the page URL the nodes open names the `--advertise` host (this machine's non-loopback
//!   address when it has one), and the local game listens there.
//!
//! Needs Java and the Selenium jar from `scripts/setup --grid`; fails (never skips) without them.

mod common;

use common::grid::Grid;
use common::openai_server::{OpenAiServer, Reply, DEFAULT_ANSWER};
use geoagent::replay::Replay;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A whole run of a few short games through the Grid, on a loaded 2-core machine.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// Each model answer takes this long in the node-failure test, so a game is surely mid-way when
/// the node dies (5 rounds ≥ 5 s) without making the test long.
const MODEL_DELAY: Duration = Duration::from_millis(1500);

fn geoagent(home: &Path, grid: &Grid, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_geoagent"));
    cmd.arg("play")
        .args(args)
        .args(["--webdriver", &grid.url, "--headings", "1"])
        .arg("--replay-dir")
        .arg(home.join("replays"))
        // Proves the Grid launched the browsers: there is no chromedriver of ours to start.
        .args(["--chromedriver", "/nonexistent/chromedriver"])
        .current_dir(home)
        .env("HOME", home)
        .env("TMPDIR", home)
        .env_remove("OPENAI_API_KEY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

fn finish(child: Child, grid: &Grid) -> Output {
    let t0 = Instant::now();
    let mut child = child;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t0.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "play did not finish in {RUN_TIMEOUT:?}\n{}\n{}",
                String::from_utf8_lossy(&out.stderr),
                grid.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every game session of a run: its recorded round numbers, in file order.
fn sessions(home: &Path) -> Vec<(PathBuf, Vec<usize>)> {
    // The replays folder appears with the first session.
    let Ok(entries) = std::fs::read_dir(home.join("replays")) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("manifest.json").is_file())
        // A session being written may not open yet; it shows up on the next look.
        .filter_map(|p| {
            let rounds = Replay::open(&p)
                .ok()?
                .rounds
                .iter()
                .map(|r| r.round)
                .collect();
            Some((p, rounds))
        })
        .collect();
    out.sort();
    out
}

/// This machine's first non-loopback IPv4 address, if it has one (no packet is sent: a UDP
/// socket only picks its source address on `connect`).
fn outward_ip() -> Option<String> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("10.255.255.255:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then(|| ip.to_string())
}

#[test]
fn more_games_than_grid_slots_all_complete_at_the_advertised_address() {
    common::require_browser();
    let home = tempfile::tempdir().unwrap();
    let grid = Grid::start(home.path(), &[1, 1]);
    let host = outward_ip().unwrap_or_else(|| "127.0.0.1".into());
    let child = geoagent(
        home.path(),
        &grid,
        &[
            "--games",
            "4",
            "--parallel",
            "4",
            "--rounds",
            "2",
            "--seed",
            "40",
        ],
    )
    .args(["--advertise", &host, "-v"])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let out = finish(child, &grid);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "every game must complete: {}\n{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout),
        grid.logs()
    );
    assert!(
        stderr.contains(&format!("browsers open the local game at http://{host}:")),
        "the nodes were sent to the advertised host: {stderr}"
    );
    let s = sessions(home.path());
    assert_eq!(s.len(), 4, "{s:?}");
    for (dir, rounds) in &s {
        assert_eq!(rounds, &vec![1, 2], "{}", dir.display());
    }
    // Every browser was closed at the end: the Grid has no session left.
    assert_eq!(grid.sessions(), 0, "{}", grid.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_on_a_killed_node_resumes_on_the_other_without_losing_a_round() {
    common::require_browser();
    let home = tempfile::tempdir().unwrap();
    let model = OpenAiServer::start(Default::default()).await;
    model.set_default(|_| Reply::Delay(MODEL_DELAY, Box::new(Reply::Text(DEFAULT_ANSWER.into()))));
    let home_path = home.path().to_path_buf();
    let base_url = model.base_url.clone();
    let (out, logs) = tokio::task::spawn_blocking(move || {
        let mut grid = Grid::start(&home_path, &[1, 1]);
        let child = geoagent(
            &home_path,
            &grid,
            &[
                "--games",
                "2",
                "--parallel",
                "2",
                "--rounds",
                "5",
                "--seed",
                "50",
            ],
        )
        .args(["--model", "m", "--base-url", &base_url, "--no-cache"])
        .env("OPENAI_API_KEY", "sk-test")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        // Both games hold a browser and have played a round: kill a busy node.
        let t0 = Instant::now();
        let victim = loop {
            let played = sessions(&home_path)
                .iter()
                .filter(|(_, r)| !r.is_empty())
                .count();
            if played == 2 && grid.sessions() == 2 {
                if let Some(i) = grid.busy_node() {
                    break i;
                }
            }
            assert!(
                t0.elapsed() < RUN_TIMEOUT,
                "games never started\n{}",
                grid.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        grid.kill_node(victim);
        let out = finish(child, &grid);
        (out, grid.logs())
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "both games must complete: {}\n{stderr}\n{logs}",
        String::from_utf8_lossy(&out.stdout)
    );
    let s = sessions(home.path());
    assert_eq!(s.len(), 2, "{s:?}");
    for (dir, rounds) in &s {
        assert_eq!(
            rounds,
            &vec![1, 2, 3, 4, 5],
            "every round once, in order: {}\n{stderr}",
            dir.display()
        );
    }
}
