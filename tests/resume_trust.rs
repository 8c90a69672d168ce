//! A session folder may come from anyone, and `bench --resume` / `play --resume` continue it with
//! what its manifest records. A tampered manifest (a trillion rounds, 4294967295 zoom steps, 5000
//! headings, 60 rounds of a local game limited to 50, JPEG quality 0) must end in an error naming
//! the field and the file, under a memory and time limit, with nothing played (issue 25, item 5).

mod common;

use geoagent::replay::{MANIFEST_FILE, ROUNDS_FILE};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Address space the child may use: far above what refusing a manifest needs, far below what
/// honouring a tampered one takes (the issue measured 24 TB and 23.5 GB).
const MEMORY_LIMIT_BYTES: u64 = 3_000_000_000;
/// A refusal is immediate; a debug build on a loaded machine still answers well within this.
const RUN_LIMIT: Duration = Duration::from_secs(90);
/// How often the test looks whether the child ended.
const POLL: Duration = Duration::from_millis(50);

/// Copies the fixture session to `root/name` with `edit` applied to its manifest.
fn session(root: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    common::fixture::copy_session_as(root, name, |m| {
        // One round missing, so an accepted manifest would play.
        m["challenge"]["rounds"] = 3.into();
        m["challenge"]["id"] = "world-7-3".into();
        edit(m);
    })
}

/// Runs the binary under the memory limit, killed at the time limit; (exit code, stderr).
fn geoagent(home: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut c = Command::new("prlimit");
    c.arg(format!("--as={MEMORY_LIMIT_BYTES}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_geoagent"))
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("TMPDIR", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    common::command::clean_env(&mut c);
    let mut child = c.spawn().expect("prlimit (util-linux) runs geoagent");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "geoagent {args:?} still running after {RUN_LIMIT:?}: the manifest was honoured"
            );
        }
        std::thread::sleep(POLL);
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.code(), err)
}

#[test]
fn tampered_manifests_are_refused_with_field_and_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    type Edit = fn(&mut serde_json::Value);
    let cases: &[(&str, &str, &str, Edit)] = &[
        ("bench", "direct", "challenge.rounds", |m| {
            m["challenge"]["rounds"] = 1_000_000_000_000u64.into()
        }),
        ("bench", "direct", "capture.zoom_steps", |m| {
            m["capture"]["zoom_steps"] = 4_294_967_295u64.into()
        }),
        ("bench", "direct", "capture.headings", |m| {
            m["capture"]["headings"] = 5000.into()
        }),
        ("bench", "direct", "capture.jpeg_quality", |m| {
            m["capture"]["jpeg_quality"] = 0.into()
        }),
        ("play", "local-game", "challenge.rounds", |m| {
            m["challenge"]["rounds"] = 60.into()
        }),
        ("play", "local-game", "capture.zoom_steps", |m| {
            m["capture"]["zoom_steps"] = 4_294_967_295u64.into()
        }),
        ("play", "local-game", "capture.headings", |m| {
            m["capture"]["headings"] = 5000.into()
        }),
        ("play", "local-game", "capture.jpeg_quality", |m| {
            m["capture"]["jpeg_quality"] = 0.into()
        }),
    ];
    for (i, (command, environment, field, edit)) in cases.iter().enumerate() {
        let dir = session(&root, &format!("s{i}"), |m| {
            m["environment"] = (*environment).into();
            edit(m);
        });
        let before = std::fs::read(dir.join(ROUNDS_FILE)).unwrap();
        let (code, err) = geoagent(tmp.path(), &[command, "--resume", dir.to_str().unwrap()]);
        let case = format!("{command} --resume with {field} tampered: exit {code:?}\n{err}");
        assert!(code.is_some_and(|c| c != 0), "{case}");
        assert!(err.contains(field), "the field is named: {case}");
        assert!(
            err.contains(&dir.join(MANIFEST_FILE).display().to_string()),
            "the file is named: {case}"
        );
        assert_eq!(
            std::fs::read(dir.join(ROUNDS_FILE)).unwrap(),
            before,
            "nothing played: {case}"
        );
    }
}

/// Rounds recorded in `dir`, by number, as the file holds them.
fn recorded_rounds(dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(dir.join(ROUNDS_FILE))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["round"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

// Issue 25, item 6: two resumes of one session at once both played every missing round.
#[test]
fn a_session_being_written_is_not_resumed_twice_and_duplicates_are_read_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    let dir = session(&root, "busy", |m| m["environment"] = "direct".into());
    let arg = dir.to_str().unwrap();
    // Another process's writer: the lock a running geoagent holds on the session.
    let held = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(ROUNDS_FILE))
        .unwrap();
    held.lock().unwrap();
    let (code, err) = geoagent(tmp.path(), &["bench", "--resume", arg]);
    assert!(code.is_some_and(|c| c != 0), "exit {code:?}\n{err}");
    assert!(err.contains("another geoagent is writing"), "{err}");
    assert!(err.contains(arg), "the session is named: {err}");
    assert_eq!(recorded_rounds(&dir), vec![1, 2], "nothing played");
    drop(held);
    let (code, err) = geoagent(tmp.path(), &["bench", "--resume", arg]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(recorded_rounds(&dir), vec![1, 2, 3]);

    // What an unlocked second writer left behind: round 2 twice.
    let text = std::fs::read_to_string(dir.join(ROUNDS_FILE)).unwrap();
    let second = text.lines().nth(1).unwrap().to_string();
    std::fs::write(dir.join(ROUNDS_FILE), format!("{text}{second}\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args(["replay", "show", arg])
        .current_dir(tmp.path())
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("line 4: dropped a duplicate of round 2 (kept line 2)"),
        "{shown}"
    );
    assert!(
        shown.contains("3 of 3 round(s)"),
        "round 2 is read once (not 4 rounds): {shown}"
    );
}
