//! `play` stopped by a signal leaves nothing behind (issue 13, item 9): SIGTERM is handled like
//! Ctrl-C (finished rounds kept, browser and chromedriver stopped, profile removed), and after a
//! SIGKILL no Chromium of the killed run keeps running and its profile folder goes away.
//!
//! Each run gets a private TMPDIR, so its browser profiles (and so its Chromium processes, whose
//! command lines name the profile) are told apart from every other browser on the machine.

mod common;

use geoagent::replay::{Replay, ROUNDS_FILE};
use rustix::process::{kill_process, Pid, Signal};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Time for a debug build on a loaded 2-core machine to launch a browser and finish a round.
const FIRST_ROUND_LIMIT: Duration = Duration::from_secs(120);
/// How long geoagent may take to stop after SIGTERM.
const EXIT_LIMIT: Duration = Duration::from_secs(15);
/// How long the browsers may take to disappear after geoagent is gone.
const CLEANUP_LIMIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);

struct Run {
    home: tempfile::TempDir,
    child: Child,
}

impl Run {
    fn start(seed: &str) -> Run {
        common::require_browser();
        let home = tempfile::tempdir().unwrap();
        let tmp = home.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let replays = home.path().join("replays").display().to_string();
        let child = Command::new(env!("CARGO_BIN_EXE_geoagent"))
            .args([
                "play",
                "--rounds",
                "30",
                "--headings",
                "1",
                "--seed",
                seed,
                "--no-cache",
                "--replay-dir",
                &replays,
            ])
            .current_dir(home.path())
            .env("HOME", home.path())
            .env("TMPDIR", &tmp)
            .env_remove("OPENAI_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn geoagent");
        Run { home, child }
    }

    fn profiles(&self) -> PathBuf {
        self.home.path().join("tmp").join("geoagent-profiles")
    }

    fn session(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.home.path().join("replays"))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.join("manifest.json").is_file())
    }

    fn recorded(&self) -> usize {
        self.session()
            .and_then(|s| std::fs::read_to_string(s.join(ROUNDS_FILE)).ok())
            .map_or(0, |t| t.lines().filter(|l| l.ends_with('}')).count())
    }

    /// Waits for the first recorded round and for this run's Chromium to be up.
    fn wait_mid_match(&mut self) {
        let t0 = Instant::now();
        while self.recorded() < 1 || browsers_of(&self.profiles()).is_empty() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("geoagent ended ({status}) before the first round");
            }
            assert!(t0.elapsed() < FIRST_ROUND_LIMIT, "no round recorded");
            std::thread::sleep(POLL);
        }
    }

    fn signal(&self, sig: Signal) {
        // The child this test spawned and has not reaped yet.
        let pid = Pid::from_raw(self.child.id() as i32).expect("a child's pid");
        kill_process(pid, sig).expect("kill failed");
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // A failed assertion must not leave this test's browsers behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in browsers_of(&self.profiles()) {
            // Processes whose command line names this test's private folder.
            if let Some(pid) = Pid::from_raw(pid) {
                let _ = kill_process(pid, Signal::KILL);
            }
        }
    }
}

/// Every process: (pid, parent pid, command line).
fn processes() -> Vec<(i32, i32, String)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        let rest = &stat[stat.rfind(')')? + 2..];
        let ppid: i32 = rest.split(' ').nth(1)?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        Some((pid, ppid, cmdline))
    })
    .collect()
}

/// Processes whose command line names a profile under `root` (Chromium passes its
/// `--user-data-dir` to every helper process).
fn browsers_of(root: &Path) -> Vec<i32> {
    let needle = root.display().to_string();
    processes()
        .into_iter()
        .filter(|(_, _, cmd)| cmd.contains(&needle))
        .map(|(pid, _, _)| pid)
        .collect()
}

/// `pid`'s descendants that are chromedriver or Chromium.
fn browser_descendants(pid: i32) -> BTreeSet<i32> {
    let all = processes();
    let mut found = BTreeSet::from([pid]);
    loop {
        let before = found.len();
        for (p, pp, _) in &all {
            if found.contains(pp) {
                found.insert(*p);
            }
        }
        if found.len() == before {
            break;
        }
    }
    all.into_iter()
        .filter(|(p, _, cmd)| {
            found.contains(p) && (cmd.contains("chromedriver") || cmd.contains("chromium"))
        })
        .map(|(p, _, _)| p)
        .collect()
}

/// Which of `pids` still run the browser (a pid reused by something else does not count).
fn alive(pids: &BTreeSet<i32>) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|(p, _, cmd)| {
            pids.contains(p) && (cmd.contains("chromedriver") || cmd.contains("chromium"))
        })
        .map(|(p, _, _)| p)
        .collect()
}

fn profile_folders(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(root)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// Polls until nothing of the run is left, or fails naming what is.
fn assert_nothing_left(run: &Run, descendants: &BTreeSet<i32>) {
    let t0 = Instant::now();
    loop {
        let procs = browsers_of(&run.profiles());
        let orphans = alive(descendants);
        let folders = profile_folders(&run.profiles());
        if procs.is_empty() && orphans.is_empty() && folders.is_empty() {
            return;
        }
        assert!(
            t0.elapsed() < CLEANUP_LIMIT,
            "left behind after {CLEANUP_LIMIT:?}: browser processes {procs:?}, chromedriver/chromium descendants {orphans:?}, profile folders {folders:?}"
        );
        std::thread::sleep(POLL);
    }
}

#[test]
fn sigterm_stops_play_like_ctrl_c() {
    let mut run = Run::start("4242");
    run.wait_mid_match();
    let descendants = browser_descendants(run.child.id() as i32);
    assert!(
        descendants.len() >= 2,
        "chromedriver and Chromium run under geoagent: {descendants:?}"
    );
    run.signal(Signal::TERM);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = run.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < EXIT_LIMIT,
            "geoagent still running after SIGTERM"
        );
        std::thread::sleep(POLL);
    };
    assert_eq!(
        status.code(),
        Some(143),
        "SIGTERM is handled (exit 128 + 15), not fatal: {status}"
    );
    let session = run.session().expect("a session folder");
    let replay = Replay::open(&session).unwrap();
    assert!(
        !replay.rounds.is_empty() && replay.rounds.len() < 30,
        "the finished rounds are kept: {}",
        replay.rounds.len()
    );
    assert!(replay.skipped.is_empty(), "{:?}", replay.skipped);
    assert_nothing_left(&run, &descendants);
}

#[test]
fn sigkill_leaves_no_browser_running() {
    let mut run = Run::start("4243");
    run.wait_mid_match();
    let descendants = browser_descendants(run.child.id() as i32);
    assert!(
        descendants.len() >= 2,
        "chromedriver and Chromium run under geoagent: {descendants:?}"
    );
    run.signal(Signal::KILL);
    run.child.wait().unwrap();
    assert_nothing_left(&run, &descendants);
}

/// How long geoagent may take to end after a stop request whatever it is doing: its grace
/// (`session::STOP_GRACE`, 5 s) plus time for a debug build on a loaded machine to exit.
const GRACE_EXIT_LIMIT: Duration = Duration::from_secs(12);
/// A second signal ends geoagent at once: well under the grace.
const SECOND_SIGNAL_LIMIT: Duration = Duration::from_secs(3);
/// Time for a debug build on a loaded machine to start and reach its first view.
const START_LIMIT: Duration = Duration::from_secs(120);

/// `bench` of two rounds of `world` seed 77 in `home`, its views kept in `home/cache`.
fn bench_cmd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_geoagent"));
    c.args([
        "bench",
        "--map",
        "world",
        "--seed",
        "77",
        "--rounds",
        "2",
        "--headings",
        "1",
        "--no-cache",
        "--view-cache",
        "cache",
        "--replay-dir",
        "replays",
    ])
    .current_dir(home)
    .env("HOME", home)
    .env_remove("OPENAI_API_KEY")
    .env_remove("RUST_LOG")
    .stdin(Stdio::null())
    .stdout(Stdio::null());
    c
}

/// Every cached view file under `dir`.
fn cached_views(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(cached_views(&p));
        } else if p.extension().is_some_and(|x| x == "jpg") {
            out.push(p);
        }
    }
    out
}

/// A `bench` stuck in blocking work that never ends: its cached views were replaced by named
/// pipes, and reading one blocks until someone writes (nobody does). Returns the run, its stderr
/// lines and the pipe's write end (kept open so the read never sees an end of file).
fn stuck_bench(home: &Path) -> (Child, std::sync::mpsc::Receiver<String>, std::fs::File) {
    let cached = bench_cmd(home).stderr(Stdio::null()).status().unwrap();
    assert!(cached.success(), "the first bench fills the view cache");
    let views = cached_views(&home.join("cache"));
    assert!(!views.is_empty(), "views cached");
    let (opened_tx, opened) = std::sync::mpsc::channel();
    for v in views {
        std::fs::remove_file(&v).unwrap();
        assert!(Command::new("mkfifo").arg(&v).status().unwrap().success());
        let tx = opened_tx.clone();
        // Opening a pipe to write returns once a reader has opened it: geoagent, reading views.
        std::thread::spawn(move || {
            if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&v) {
                let _ = tx.send(f);
            }
        });
    }
    let mut child = bench_cmd(home).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(l);
        }
    });
    let writer = opened
        .recv_timeout(START_LIMIT)
        .expect("geoagent reads a cached view");
    // The view is read while geoagent starts listening for signals: wait until it catches
    // SIGTERM (before, the kernel's default would end it, which is not what is tested).
    let t0 = Instant::now();
    while !catches_sigterm(child.id()) {
        assert!(
            t0.elapsed() < START_LIMIT,
            "geoagent never listens for SIGTERM"
        );
        std::thread::sleep(POLL);
    }
    (child, lines, writer)
}

/// Whether process `pid` has a handler for SIGTERM (`SigCgt` in /proc, bit 15 - 1).
fn catches_sigterm(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let mask = s
                .lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&mask, 16).ok()
        })
        .is_some_and(|m| m & (1 << 14) != 0)
}

fn term(child: &Child) {
    let pid = Pid::from_raw(child.id() as i32).expect("a child's pid");
    kill_process(pid, Signal::TERM).expect("kill failed");
}

/// How long `child` took to end, or `None` if it still ran after `limit`.
fn ends_within(child: &mut Child, limit: Duration) -> Option<(Duration, std::process::ExitStatus)> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Some((t0.elapsed(), s));
        }
        std::thread::sleep(POLL);
    }
    None
}

/// Issue 25 item 14: a stop request ends geoagent within its grace even while blocking work
/// runs that cannot be cut short (here a view read that never returns; in the issue, renders of
/// `bench --resume`), and a second signal ends it at once. Before, it printed "Interrupted" and
/// then waited on that work for ever, and a second SIGTERM was ignored.
#[test]
fn sigterm_ends_bench_stuck_in_blocking_work() {
    let home = tempfile::tempdir().unwrap();
    let (mut child, _lines, _writer) = stuck_bench(home.path());
    term(&child);
    let ended = ends_within(&mut child, GRACE_EXIT_LIMIT);
    if ended.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (took, status) = ended.expect("geoagent still running after SIGTERM and its grace");
    assert_eq!(status.code(), Some(143), "{status}");
    assert!(
        took >= Duration::from_secs(4),
        "it waited for its grace: {took:?}"
    );

    // Again, with a second SIGTERM once the first is handled: no grace.
    let home = tempfile::tempdir().unwrap();
    let (mut child, lines, _writer) = stuck_bench(home.path());
    term(&child);
    let t0 = Instant::now();
    let mut seen = Vec::new();
    loop {
        match lines.recv_timeout(START_LIMIT.saturating_sub(t0.elapsed())) {
            Ok(l) if l.contains("Interrupted") => break,
            Ok(l) => seen.push(l),
            Err(e) => panic!(
                "no \"Interrupted\" after SIGTERM ({e}): {seen:?} {:?}",
                child.try_wait()
            ),
        }
    }
    term(&child);
    let ended = ends_within(&mut child, SECOND_SIGNAL_LIMIT);
    if ended.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (_, status) = ended.expect("geoagent still running after a second SIGTERM");
    assert_eq!(status.code(), Some(143), "{status}");
}

/// How long `serve` may take to stop after SIGTERM: it has nothing to finish but its open
/// requests, so well under the stop grace.
const SERVE_EXIT_LIMIT: Duration = Duration::from_secs(4);

/// `serve` ended only on Ctrl-C (issue 25): a SIGTERM from a service manager or `kill` killed it
/// without its shutdown, and with the kernel's status instead of an exit code. Now it stops the
/// way `play` does: promptly, with exit code 143.
#[test]
fn sigterm_ends_serve_promptly_with_its_exit_code() {
    use std::io::BufRead;
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(home.path())
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("Local game on ").map(str::to_string))
        .expect("serve printed its address");
    std::thread::spawn(move || lines.for_each(drop));
    // It serves, and listens for SIGTERM (before, the kernel's default ended it).
    let t0 = Instant::now();
    while !catches_sigterm(child.id()) {
        assert!(
            t0.elapsed() < START_LIMIT,
            "serve never listens for SIGTERM (at {url})"
        );
        std::thread::sleep(POLL);
    }
    term(&child);
    let ended = ends_within(&mut child, SERVE_EXIT_LIMIT);
    if ended.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (_, status) = ended.expect("serve still running after SIGTERM");
    assert_eq!(status.code(), Some(143), "{status}");
}
