//! README's "Usage by example" block, run (issue 24 item 5): every `cargo run --release -- ...`
//! line is read from README.md, so the block and this test cannot drift apart, and run with the
//! geoagent binary in a temporary folder (HOME too), against local model servers on 127.0.0.1
//! that speak each provider's API, the local game and real Chromium.
//!
//! Adjusted, and only so: round counts are cut where the command takes `--rounds` (2, or 1 for a
//! many-game or multi-call command; `bench` 20), `--assist` gets `--hint-window 0` (nobody types
//! hints here), `serve` binds a free port instead of 8080, a `--base-url` is pointed at the local
//! server, `SESSION` is the first session played, and `~/Pictures/trip` holds three photos with
//! GPS EXIF that the test writes. Providers get their base URL from `GEOAGENT_MODEL__BASE_URL`
//! (`OPENAI_BASE_URL` for OpenAI) and a test key.
//!
//! Skipped: none. No command in the block needs a paid account or a real site: a model name is
//! only a name to the local servers. A line this test does not know fails it, naming the line.

#[path = "common/anthropic_server.rs"]
mod anthropic_server;
mod common;
#[path = "common/gemini_server.rs"]
mod gemini_server;
mod map_common;
#[path = "common/ollama_server.rs"]
mod ollama_server;
#[path = "common/scripted_server.rs"]
mod scripted_server;

use common::openai_server::{OpenAiServer, ServerOptions};
use fantoccini::Locator;
use geoagent::browser::local_game::LocalGame;
use geoagent::browser::{Browser, BrowserOptions};
use geoagent::environment::{CaptureOptions, Environment};
use geoagent::geo::LatLon;
use geoagent::replay::{Replay, MANIFEST_FILE};
use scripted_server::ScriptedServer;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const OPENAI_KEY: &str = "sk-test-readme";
const ANTHROPIC_KEY: &str = "sk-ant-test-readme";
const GEMINI_KEY: &str = "gemini-test-readme";
/// How long `serve` may take to print its challenge link on a loaded machine (debug build).
const SERVE_WAIT: Duration = Duration::from_secs(60);
/// How long a person's rounds may take to reach `data/humans.jsonl` (saved off the request path).
const STORE_WAIT: Duration = Duration::from_secs(10);

/// The commands of README's "Usage by example" block, each as its arguments after `--`.
fn readme_commands() -> Vec<Vec<String>> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("\n## Usage by example\n")
        .nth(1)
        .expect("README has a \"Usage by example\" section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("the section opens with a ```sh block");
    let commands: Vec<Vec<String>> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let rest = l
                .strip_prefix("cargo run --release -- ")
                .unwrap_or_else(|| {
                    panic!("README usage line is not `cargo run --release -- ...`: {l}")
                });
            let without_comment = rest.split(" #").next().unwrap();
            without_comment
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    commands
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn set_flag(args: &mut Vec<String>, name: &str, value: &str) {
    match args.iter().position(|a| a == name) {
        Some(i) => args[i + 1] = value.to_string(),
        None => {
            args.push(name.to_string());
            args.push(value.to_string());
        }
    }
}

struct Servers {
    openai: OpenAiServer,
    anthropic: ScriptedServer,
    gemini: ScriptedServer,
    ollama: ScriptedServer,
}

impl Servers {
    /// Valid requests each server answered so far.
    fn answered(&self) -> [usize; 4] {
        let ok = |n: Vec<Option<String>>| n.iter().filter(|r| r.is_none()).count();
        [
            ok(self
                .openai
                .requests()
                .into_iter()
                .map(|r| r.rejected)
                .collect()),
            ok(self
                .anthropic
                .requests()
                .into_iter()
                .map(|r| r.rejected)
                .collect()),
            ok(self
                .gemini
                .requests()
                .into_iter()
                .map(|r| r.rejected)
                .collect()),
            ok(self
                .ollama
                .requests()
                .into_iter()
                .map(|r| r.rejected)
                .collect()),
        ]
    }

    fn rejected(&self) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        out.extend(
            self.openai
                .requests()
                .into_iter()
                .filter_map(|r| r.rejected),
        );
        for s in [&self.anthropic, &self.gemini, &self.ollama] {
            out.extend(s.requests().into_iter().filter_map(|r| r.rejected));
        }
        out
    }
}

fn command(home: &Path, args: &[String]) -> Command {
    let mut c = common::command::geoagent(home);
    c.args(args)
        .env("HOME", home)
        .env("GEOAGENT_MODEL__CACHE", "false");
    c
}

fn ok(o: &Output, line: &str) -> String {
    assert!(
        o.status.success(),
        "README: `{line}` failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sessions(root: &Path) -> Vec<Replay> {
    let mut v: Vec<Replay> = std::fs::read_dir(root)
        .map(|rd| {
            rd.map(|e| e.unwrap().path())
                .filter(|p| p.join(MANIFEST_FILE).is_file())
                .map(|p| Replay::open(&p).unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|r| r.manifest.created);
    v
}

/// Three phone photos with GPS EXIF in `~/Pictures/trip`.
fn photos(home: &Path) {
    use map_common::*;
    let dir = home.join("Pictures/trip");
    for (i, (lat, lon)) in [(46.0207, 7.7491), (-1.2921, 36.8219), (-33.8688, 151.2093)]
        .into_iter()
        .enumerate()
    {
        write(
            &dir.join(format!("p{i}.jpg")),
            &with_gps(&jpeg(&scene(320, 240, i as u32 + 1)), lat, lon),
        );
    }
}

/// A person plays the challenge link `serve` printed, in Chromium, as the README says people do.
async fn person_plays(link: &str, rounds: usize) {
    let browser = Browser::launch(&BrowserOptions::default()).await.unwrap();
    let mut person = LocalGame::open(
        browser,
        &format!("{link}&player=alice"),
        "World",
        geoagent::geo::Bounds::WORLD,
        CaptureOptions {
            headings: 1,
            ..CaptureOptions::default()
        },
    )
    .await
    .map_err(|(_, e)| e)
    .unwrap();
    let played = async {
        let client = person.browser().client();
        let start = Instant::now();
        let button = loop {
            match client.find(Locator::Css("#start-button")).await {
                Ok(b) if b.is_displayed().await.unwrap_or(false) => break b,
                _ if start.elapsed() > SERVE_WAIT => return Err("no start screen".to_string()),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        button.click().await.map_err(|e| e.to_string())?;
        for _ in 0..rounds {
            person.observe().await.map_err(|e| e.to_string())?;
            person
                .guess(LatLon::new(48.0, 10.0).unwrap())
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
    .await;
    person.into_browser().close().await;
    played.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_of_the_usage_block_runs() {
    common::require_browser();
    let servers = Servers {
        openai: OpenAiServer::start(ServerOptions {
            api_key: Some(OPENAI_KEY.into()),
        })
        .await,
        anthropic: anthropic_server::start(ANTHROPIC_KEY).await,
        gemini: gemini_server::start(GEMINI_KEY).await,
        ollama: ollama_server::start().await,
    };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().to_path_buf();
    photos(&home);
    let replays = home.join("replays");
    let mut first_session: Option<String> = None;
    let mut ran = Vec::new();

    for readme_args in readme_commands() {
        let line = readme_args.join(" ");
        let mut args = readme_args.clone();
        let model = flag(&args, "--model").map(str::to_string);
        let before_sessions = sessions(&replays).len();
        let before_calls = servers.answered();
        let sub: Vec<&str> = readme_args.iter().take(2).map(String::as_str).collect();
        // Which local server the command's model reaches, through which base URL.
        let (provider, base) = match model.as_deref().and_then(|m| m.split_once(':')) {
            Some(("anthropic", _)) => (1, format!("{}/v1", servers.anthropic.origin)),
            Some(("gemini", _)) => (2, format!("{}/v1beta", servers.gemini.origin)),
            Some(("ollama", _)) => (3, servers.ollama.origin.clone()),
            _ => (0, servers.openai.base_url.clone()),
        };
        if flag(&args, "--base-url").is_some() {
            set_flag(&mut args, "--base-url", &base);
        }
        let envs: Vec<(&str, String)> = match provider {
            0 => vec![
                ("OPENAI_API_KEY", OPENAI_KEY.into()),
                ("OPENAI_BASE_URL", base.to_string()),
            ],
            1 => vec![
                ("ANTHROPIC_API_KEY", ANTHROPIC_KEY.into()),
                ("GEOAGENT_MODEL__BASE_URL", base.to_string()),
            ],
            2 => vec![
                ("GEMINI_API_KEY", GEMINI_KEY.into()),
                ("GEOAGENT_MODEL__BASE_URL", base.to_string()),
            ],
            _ => vec![("GEOAGENT_MODEL__BASE_URL", base.to_string())],
        };
        match sub.as_slice() {
            ["serve", ..] => {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                set_flag(&mut args, "--bind", &format!("127.0.0.1:{port}"));
                let mut child = command(&home, &args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let (tx, rx) = std::sync::mpsc::channel();
                let stdout = child.stdout.take().unwrap();
                std::thread::spawn(move || {
                    for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                });
                let mut said = String::new();
                let deadline = Instant::now() + SERVE_WAIT;
                let link = loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let l = rx
                        .recv_timeout(left)
                        .unwrap_or_else(|_| panic!("`{line}` printed no people link:\n{said}"));
                    said.push_str(&l);
                    said.push('\n');
                    if let Some(i) = l.find("people play it at ") {
                        break l[i + "people play it at ".len()..].trim().to_string();
                    }
                };
                let seed = flag(&args, "--seed").unwrap();
                assert!(link.contains(&format!("seed={seed}")), "{link}");
                person_plays(&link, 5).await;
                // Stops the server this test started (its own child, by pid).
                child.kill().unwrap();
                child.wait().unwrap();
                let store = geoagent::humans::Store::open(&home.join("data/humans.jsonl"));
                let start = Instant::now();
                while store.load().map(|r| r.len()).unwrap_or(0) < 5 {
                    assert!(
                        start.elapsed() < STORE_WAIT,
                        "the person's rounds were not saved"
                    );
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                ran.push(line);
                continue;
            }
            ["play", ..] => {
                let has_rounds = args.iter().any(|a| a == "--rounds");
                if args.iter().any(|a| a == "--challenge") {
                    // The challenge fixes its rounds.
                } else if has_rounds {
                    set_flag(&mut args, "--rounds", "2");
                } else if args.iter().any(|a| a == "--games")
                    || matches!(
                        flag(&args, "--strategy"),
                        Some("ensemble" | "coarse-to-fine")
                    )
                {
                    set_flag(&mut args, "--rounds", "1");
                } else {
                    set_flag(&mut args, "--rounds", "2");
                }
                if args.iter().any(|a| a == "--assist") {
                    set_flag(&mut args, "--hint-window", "0");
                }
            }
            ["bench", ..] => set_flag(&mut args, "--rounds", "20"),
            ["replay", "rerun"] => {
                let id = first_session
                    .clone()
                    .expect("a session before `replay rerun`");
                assert_eq!(args[2], "SESSION", "{line}");
                args[2] = id;
            }
            ["replay", "list"] | ["stats", ..] | ["report", ..] | ["map", "import"] => {}
            _ => panic!("README usage line this test does not know how to run: {line}"),
        }
        let args: Vec<String> = args
            .into_iter()
            .map(|a| match a.strip_prefix("~/") {
                Some(rest) => home.join(rest).display().to_string(),
                None => a,
            })
            .collect();
        let home2 = home.clone();
        let out = tokio::task::spawn_blocking(move || {
            command(&home2, &args)
                .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
                .stdin(Stdio::null())
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let stdout = ok(&out, &line);

        // What each command promises, checked on what it left behind.
        let after = sessions(&replays);
        match readme_args[0].as_str() {
            "play" | "bench" => {
                assert!(
                    after.len() > before_sessions,
                    "`{line}` recorded no session"
                );
                let new = &after[before_sessions..];
                if let Some(m) = &model {
                    let calls = servers.answered()[provider] - before_calls[provider];
                    assert!(calls > 0, "`{line}`: the model {m} was never asked");
                    let name = m.split_once(':').map_or(m.as_str(), |(_, n)| n);
                    assert!(
                        new.iter().all(|r| r.manifest.reasoner.ends_with(name)),
                        "`{line}`: {:?}",
                        new.iter().map(|r| &r.manifest.reasoner).collect::<Vec<_>>()
                    );
                } else {
                    assert!(new.iter().all(|r| r.manifest.reasoner == "baseline"));
                }
                for r in new {
                    assert!(!r.rounds.is_empty(), "`{line}`: a session without rounds");
                }
                if let Some(s) = flag(&readme_args, "--strategy") {
                    assert!(new.iter().all(|r| r.manifest.strategy == s), "`{line}`");
                }
                if let Some(c) = flag(&readme_args, "--challenge") {
                    assert_eq!(new[0].manifest.challenge.id, c, "`{line}`");
                    assert_eq!(new[0].rounds.len(), 5);
                }
                if let (Some(h), Some(z)) = (
                    flag(&readme_args, "--headings"),
                    flag(&readme_args, "--zoom-steps"),
                ) {
                    let views = h.parse::<usize>().unwrap() + usize::from(z != "0");
                    assert!(
                        new[0].rounds.iter().all(|r| r.views.len() == views),
                        "`{line}`"
                    );
                }
                if let Some(g) = flag(&readme_args, "--games") {
                    assert_eq!(new.len(), g.parse::<usize>().unwrap(), "`{line}`");
                }
                if let Some(map) = flag(&readme_args, "--map") {
                    assert_eq!(new[0].manifest.map.id, map, "`{line}`");
                }
                first_session.get_or_insert_with(|| new[0].manifest.session_id.clone());
            }
            "replay" if readme_args[1] == "rerun" => {
                let id = first_session.as_deref().unwrap();
                assert!(
                    after
                        .iter()
                        .any(|r| r.manifest.parent.as_deref() == Some(id)
                            && r.manifest.reasoner == "openai:gpt-4.1"),
                    "`{line}` wrote no re-run session"
                );
            }
            "replay" => {
                let id = first_session.as_deref().unwrap();
                assert!(
                    stdout.contains(id),
                    "`{line}` does not list {id}:\n{stdout}"
                );
            }
            "stats" => {
                assert!(
                    stdout.contains("alice"),
                    "`{line}`: no win rate against the person who played:\n{stdout}"
                );
            }
            "report" => {
                let out = flag(&readme_args, "-o").unwrap();
                let html = std::fs::read_to_string(home.join(out)).unwrap();
                assert!(html.contains("<html"), "`{line}`");
            }
            "map" => {
                let pack = home.join(flag(&readme_args, "-o").unwrap());
                assert!(pack.is_dir(), "`{line}` wrote no pack");
            }
            _ => {}
        }
        ran.push(line);
    }
    assert!(
        servers.rejected().is_empty(),
        "a local model server refused a request: {:?}",
        servers.rejected()
    );
    eprintln!("ran {} README commands:\n{}", ran.len(), ran.join("\n"));
}

#[test]
fn the_usage_block_parses_and_every_line_is_a_geoagent_command() {
    use clap::Parser;
    let cmds = readme_commands();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    for c in &cmds {
        assert!(
            geoagent::cli::Cli::try_parse_from(
                std::iter::once("geoagent".to_string()).chain(c.iter().cloned())
            )
            .is_ok(),
            "{}: `{}` does not parse",
            path.display(),
            c.join(" ")
        );
    }
}
