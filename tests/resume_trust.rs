//! A session folder may come from anyone, and `bench --resume` / `play --resume` continue it with
//! what its manifest records. A tampered manifest (a trillion rounds, 4294967295 zoom steps, 5000
//! headings, 60 rounds of a local game limited to 50, JPEG quality 0) must end in an error naming
//! the field and the file, under a memory and time limit, with nothing played (issue 25, item 5).

use geoagent::replay::{MANIFEST_FILE, ROUNDS_FILE};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FIXTURE_ID: &str = "20261123T115949Z-40e71c";
/// Address space the child may use: far above what refusing a manifest needs, far below what
/// honouring a tampered one takes (the issue measured 24 TB and 23.5 GB).
const MEMORY_LIMIT_BYTES: u64 = 3_000_000_000;
/// A refusal is immediate; a debug build on a loaded machine still answers well within this.
const RUN_LIMIT: Duration = Duration::from_secs(90);
/// How often the test looks whether the child ended.
const POLL: Duration = Duration::from_millis(50);

/// Copies the fixture session to `root/name` with `edit` applied to its manifest.
fn session(root: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replays")
        .join(FIXTURE_ID);
    let dst = root.join(name);
    std::fs::create_dir_all(dst.join("views")).unwrap();
    for e in std::fs::read_dir(src.join("views")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join("views").join(e.file_name())).unwrap();
    }
    std::fs::copy(src.join(ROUNDS_FILE), dst.join(ROUNDS_FILE)).unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join(MANIFEST_FILE)).unwrap()).unwrap();
    m["session_id"] = name.into();
    // One round missing, so an accepted manifest would play.
    m["challenge"]["rounds"] = 3.into();
    edit(&mut m);
    std::fs::write(dst.join(MANIFEST_FILE), m.to_string()).unwrap();
    dst
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
    for (k, _) in std::env::vars() {
        if k.starts_with("GEOAGENT_") || k.starts_with("OPENAI_") {
            c.env_remove(k);
        }
    }
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
