//! Replays are shared between people, so a session folder is hostile input. A crafted
//! `rounds.jsonl` (a view named `/etc/passwd` or `../../x`), a symlink out of the folder or a
//! view that is not a picture must never be read, served by the `/replays` viewer, or sent to a
//! model by `replay rerun`. And a session cut mid-write (even inside a multi-byte character) or
//! one broken session among many must not stop `replay show`, `stats` or `report`.

mod common;

use common::command::run as geoagent;
use common::fixture::copy_session_as;
use common::openai_server::{jpeg, OpenAiServer, Reply, ServerOptions};
use geoagent::game::builtin;
use geoagent::replay::{MANIFEST_FILE, ROUNDS_FILE};
use geoagent::server;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

/// What the file outside the session holds: a real JPEG, so only the path rules can stop it.
const OUTSIDE: &str = "outside.jpg";
const NOT_AN_IMAGE: &[u8] = b"private notes: not a picture at all";

/// Sets round 1's first view file name in `dir`'s rounds.jsonl.
fn set_first_view(dir: &Path, file: &str) {
    let path = dir.join(ROUNDS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["views"][0]["file"] = file.into();
    let out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

/// One crafted session per attack under `root` (each otherwise a finished, honest session),
/// with the name the viewer's URL would use for the crafted view, and whether the session's
/// other views are still readable (not when the whole `views` folder is a link out).
fn crafted_sessions(root: &Path) -> Vec<(String, &'static str, bool)> {
    let outside = root.parent().unwrap().join(OUTSIDE);
    std::fs::write(&outside, jpeg(8, 8, [200, 10, 10])).unwrap();
    let mut out = Vec::new();

    let d = copy_session_as(root, "abs-path", |_| {});
    set_first_view(&d, "/etc/passwd");
    out.push(("abs-path".to_string(), "passwd", true));

    let d = copy_session_as(root, "dot-dot", |_| {});
    set_first_view(&d, &format!("../../{OUTSIDE}"));
    out.push(("dot-dot".to_string(), OUTSIDE, true));

    let d = copy_session_as(root, "views-dot-dot", |_| {});
    set_first_view(&d, &format!("views/../../../{OUTSIDE}"));
    out.push(("views-dot-dot".to_string(), OUTSIDE, true));

    let d = copy_session_as(root, "symlink", |_| {});
    std::fs::remove_file(d.join("views/r001_v0.jpg")).unwrap();
    std::os::unix::fs::symlink(&outside, d.join("views/r001_v0.jpg")).unwrap();
    out.push(("symlink".to_string(), "r001_v0.jpg", true));

    let d = copy_session_as(root, "views-symlink", |_| {});
    let elsewhere = root.parent().unwrap().join("elsewhere");
    std::fs::rename(d.join("views"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, d.join("views")).unwrap();
    out.push(("views-symlink".to_string(), "r001_v0.jpg", false));

    let d = copy_session_as(root, "not-an-image", |_| {});
    std::fs::write(d.join("views/r001_v0.jpg"), NOT_AN_IMAGE).unwrap();
    out.push(("not-an-image".to_string(), "r001_v0.jpg", true));
    out
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn show_marks_crafted_views_as_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for (name, _, honest_ok) in crafted_sessions(&root) {
        let dir = root.join(&name);
        let o = geoagent(
            tmp.path(),
            &["replay", "show", dir.to_str().unwrap(), "--round", "1"],
            &[],
        );
        let (out, err) = text(&o);
        assert!(o.status.success(), "{name}: {out}\n{err}");
        let views: Vec<&str> = out
            .lines()
            .skip_while(|l| *l != "Views:")
            .skip(1)
            .take(2)
            .collect();
        assert!(
            views[0].contains("not shown") && views[0].contains("refused"),
            "{name}: the crafted view is marked: {views:?}"
        );
        assert_eq!(
            views[1].contains("views/r001_v1.jpg") && !views[1].contains("not shown"),
            honest_ok,
            "{name}: the honest view is listed: {views:?}"
        );
        if !passwd.is_empty() {
            assert!(!out.contains(passwd.lines().next().unwrap()), "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_sends_nothing_from_a_crafted_session() {
    let llm = OpenAiServer::start(ServerOptions {
        api_key: Some("sk-test-trust".into()),
    })
    .await;
    llm.set_default(|_| Reply::Text("{\"lat\": 1.0, \"lon\": 2.0}".into()));
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    let out_root = tmp.path().join("reruns");
    for (name, _, _) in crafted_sessions(&root) {
        let dir = root.join(&name);
        let base = llm.base_url.clone();
        let cwd = tmp.path().to_path_buf();
        let out_arg = out_root.to_str().unwrap().to_string();
        let o = tokio::task::spawn_blocking(move || {
            geoagent(
                &cwd,
                &[
                    "replay",
                    "rerun",
                    dir.to_str().unwrap(),
                    "--model",
                    "scripted-vl",
                    "--base-url",
                    &base,
                    "--strategy",
                    "direct",
                    "--no-cache",
                    "--dir",
                    &out_arg,
                ],
                &[("OPENAI_API_KEY", "sk-test-trust")],
            )
        })
        .await
        .unwrap();
        let (out, err) = text(&o);
        assert!(!o.status.success(), "{name} must be refused: {out}\n{err}");
        assert!(
            err.contains("r001_v0.jpg")
                || err.contains("/etc/passwd")
                || err.contains(OUTSIDE)
                || err.contains("views"),
            "{name}: the error names the view: {err}"
        );
        assert!(
            llm.requests().is_empty(),
            "{name}: nothing may reach the model provider"
        );
        assert!(
            !out_root.exists() || std::fs::read_dir(&out_root).unwrap().next().is_none(),
            "{name}: no new session is written"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_serves_no_crafted_view() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    let sessions = crafted_sessions(&root);
    let state = server::AppState::new(vec![Arc::new(builtin::world())]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve_with_replays(
        listener,
        state,
        root.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    for (name, file, honest_ok) in &sessions {
        // The session itself is listed and its honest view is served (the test can fail).
        let ok = http
            .get(format!("{base}/replays/{name}/views/r001_v1.jpg"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status() == 200, *honest_ok, "{name}: honest view");
        let r = http
            .get(format!("{base}/replays/{name}/views/{file}"))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.bytes().await.unwrap();
        assert_eq!(
            status, 404,
            "{name}: crafted view {file} must not be served"
        );
        assert!(
            !body.windows(NOT_AN_IMAGE.len()).any(|w| w == NOT_AN_IMAGE),
            "{name}"
        );
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

/// Appends a copy of the last round as round 3 whose place holds multi-byte characters, cut
/// inside one of them: what a crash in the middle of writing that line leaves.
fn tear_inside_a_character(dir: &Path) {
    let path = dir.join(ROUNDS_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    last["round"] = 3.into();
    last["result"]["round"] = 3.into();
    last["result"]["place"] = "Zürich 47°22′ — 東京".into();
    let line = last.to_string();
    let cut = line.find('東').unwrap() + 1;
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(&line.as_bytes()[..cut]);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the cut splits a character"
    );
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn a_line_cut_inside_a_character_is_a_torn_line() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    let dir = copy_session_as(&root, "torn", |_| {});
    tear_inside_a_character(&dir);
    let dir_arg = dir.to_str().unwrap();
    let o = geoagent(tmp.path(), &["replay", "show", dir_arg], &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("skipped torn last line") && out.contains("line 3"),
        "{out}"
    );
    let o = geoagent(tmp.path(), &["stats", dir_arg], &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stats: {out}\n{err}");
    let html = tmp.path().join("r.html");
    let o = geoagent(
        tmp.path(),
        &["report", dir_arg, "-o", html.to_str().unwrap()],
        &[],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "report: {out}\n{err}");
    assert!(out.contains("2 round(s)"), "{out}");
}

#[test]
fn one_broken_session_does_not_stop_stats_or_report() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    copy_session_as(&root, "a-good", |_| {});
    let bad = copy_session_as(&root, "b-bad", |_| {});
    // A line in the middle that is not JSON: corruption, not a crash.
    let path = bad.join(ROUNDS_FILE);
    let text_before = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{{oops\n{text_before}")).unwrap();
    let root_arg = root.to_str().unwrap();

    let o = geoagent(tmp.path(), &["stats", root_arg], &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "stats: {out}\n{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains("b-bad") && all.contains("line 1"),
        "the skipped session is named with why: {all}"
    );

    let html = tmp.path().join("r.html");
    let o = geoagent(
        tmp.path(),
        &["report", "--dir", root_arg, "-o", html.to_str().unwrap()],
        &[],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "report: {out}\n{err}");
    assert!(out.contains("Report of 1 session(s)"), "{out}");
    assert!(err.contains("b-bad") && err.contains("line 1"), "{err}");
}

/// What a crafted replay puts in every text field it controls: an escape sequence that would
/// retitle and clear a terminal, a bell, a bidi override, an invisible tag character and a soft
/// hyphen, and a value long enough to flood a screen.
fn hostile(word: &str) -> String {
    format!(
        "{word}\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{202E}{word}\u{E0041}\u{AD}{}",
        "x".repeat(5_000)
    )
}

/// Any character a terminal would obey rather than show: controls other than the line break
/// and every format character (bidi controls, tags, soft hyphens, zero-width characters).
fn first_hidden(s: &str) -> Option<(usize, char)> {
    s.char_indices().find(|&(_, c)| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}' | '\u{E0000}'..='\u{E007F}' | '\u{FEFF}')
    })
}

#[test]
fn what_a_crafted_replay_says_reaches_the_terminal_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    let dir = copy_session_as(&root, "crafted-text", |_| {});
    let path = dir.join(MANIFEST_FILE);
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["map"]["name"] = hostile("map").into();
    m["reasoner"] = hostile("model").into();
    std::fs::write(&path, m.to_string()).unwrap();
    let path = dir.join(ROUNDS_FILE);
    let text_before = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<serde_json::Value> = text_before
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for l in &mut lines {
        l["guess"]["rationale"] = hostile("why").into();
        l["guess"]["notes"] = serde_json::json!([hostile("note")]);
        l["result"]["place"] = hostile("place").into();
    }
    let out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    let root_arg = root.to_str().unwrap();

    for args in [
        vec!["replay", "list", "--dir", root_arg],
        vec!["replay", "show", "crafted-text", "--dir", root_arg],
        vec![
            "replay",
            "show",
            "crafted-text",
            "--round",
            "1",
            "--dir",
            root_arg,
        ],
        vec!["stats", root_arg],
    ] {
        let o = geoagent(tmp.path(), &args, &[]);
        let (out, err) = text(&o);
        for (stream, s) in [("stdout", &out), ("stderr", &err)] {
            if let Some((at, c)) = first_hidden(s) {
                panic!(
                    "{args:?} printed {c:?} on {stream} at byte {at}: {:?}",
                    &s[at.saturating_sub(40)..(at + 40).min(s.len())]
                );
            }
            assert!(
                s.lines().all(|l| l.chars().count() <= 2_000),
                "{args:?}: a 5,000-character value is printed whole on {stream}"
            );
        }
        assert!(!s_is_empty(&out), "{args:?} printed nothing: {err}");
    }
}

fn s_is_empty(s: &str) -> bool {
    s.trim().is_empty()
}

/// How long a listing of a few sessions may take on a loaded machine (a debug build); a reader
/// blocked on a named pipe never ends, so this only bounds the failure.
const LISTING_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// How often [`geoagent_within`] looks whether the process ended.
const POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Runs geoagent like [`geoagent`], killed and failed when it has not ended by `deadline`.
fn geoagent_within(cwd: &Path, args: &[&str], deadline: std::time::Duration) -> Output {
    let mut cmd = common::command::geoagent(cwd);
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run geoagent");
    let end = std::time::Instant::now() + deadline;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > end {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("geoagent {args:?} still running after {deadline:?} (blocked on a file?)");
        }
        std::thread::sleep(POLL);
    }
    child.wait_with_output().unwrap()
}

/// Issue 25: a named pipe at a session's `rounds.jsonl` hung `replay list` and `stats` (opening a
/// FIFO for reading waits for a writer). It is refused, named, and the other sessions are read.
#[test]
fn a_named_pipe_for_rounds_is_refused_and_the_rest_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    copy_session_as(&root, "a-good", |_| {});
    let bad = copy_session_as(&root, "b-fifo", |_| {});
    std::fs::remove_file(bad.join(ROUNDS_FILE)).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(bad.join(ROUNDS_FILE))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let root_arg = root.to_str().unwrap();
    for args in [
        vec!["replay", "list", "--dir", root_arg],
        vec!["stats", root_arg],
    ] {
        let o = geoagent_within(tmp.path(), &args, LISTING_DEADLINE);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{args:?}: {out}\n{err}");
        let all = format!("{out}{err}");
        assert!(
            all.contains("b-fifo/rounds.jsonl") && all.contains("named pipe"),
            "{args:?}: the refused file is named with why: {all}"
        );
        assert!(
            all.contains("a-good") || all.contains("1 session"),
            "{args:?}: the good session is still read: {all}"
        );
    }
}

/// Issue 25: `rounds.jsonl` was read whole whatever its size. One larger than the bound (sparse,
/// so the test writes nothing) is refused before it is read, naming the file.
#[test]
fn an_oversized_rounds_file_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("replays");
    copy_session_as(&root, "a-good", |_| {});
    let bad = copy_session_as(&root, "b-huge", |_| {});
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(bad.join(ROUNDS_FILE))
        .unwrap();
    // 256 MiB (the bound) and one byte more: the last line a hole of zeros.
    f.set_len(256 * 1024 * 1024 + 1).unwrap();
    let o = geoagent_within(
        tmp.path(),
        &["replay", "list", "--dir", root.to_str().unwrap()],
        LISTING_DEADLINE,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let all = format!("{out}{err}");
    assert!(
        all.contains("b-huge/rounds.jsonl") && all.contains("larger than the 268435456 bytes"),
        "the refused file is named with why: {all}"
    );
    assert!(all.contains("a-good"), "{all}");
}
