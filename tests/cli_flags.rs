//! Every flag of every subcommand changes what its command runs on, so no accepted flag is
//! silently dropped again (issue 12: `bench --seed 99` was parsed and ignored).
//!
//! The clap command tree is walked and each argument must have a row in [`cases`]; a new flag
//! without a row fails [`every_flag_has_a_check`]. Each row parses the command line with and
//! without the flag through `cli::prepare` (pure: it only reads the config file given) and checks
//! the field the flag documents. A few behaviours are also checked by running the binary in a
//! temp folder.
//!
//! `prepare` is not `run`: a flag can reach the plan and still be dropped when the command runs
//! (issue 12's `bench --seed`). These flags are checked on what the command did, the binary run
//! and its replays read: `play --games --seed --rounds --headings --zoom-steps --replay-dir
//! --config` ([`play_runs_on_its_flags`]); `bench --seed --rounds --headings --replay-dir
//! --view-cache --no-view-cache` ([`bench_seed_picks_the_places_and_the_checkout_stays_clean`]);
//! `replay list/show/rescore --dir`, `show --round`, `stats REPLAY_DIR` (tests/replay_cli.rs);
//! `play --assist --hint-window` (tests/assist.rs); `play --site geoguessr` and its flags
//! (tests/geoguessr_site.rs). The others are checked here on the plan only (the model and
//! reasoning flags, browser paths, `--parallel`, `--resume`, `serve`, `report`, `map`, `index`,
//! `ask`, `humans`, `stats` options other than the folders).

mod common;

use clap::CommandFactory;
use geoagent::agent::strategy::StrategyKind;
use geoagent::cli::bench::ViewCacheChoice;
use geoagent::cli::map::MapAction;
use geoagent::cli::replay::ReplayAction;
use geoagent::cli::{log_filter, prepare, Cli, Prepared};
use geoagent::import::packs::ImportSource;
use geoagent::lvlm::ReasoningEffort;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Arguments every command line gets unless the row gives its own `--config`: an empty config
/// file, so a `geoagent.toml` in the working folder never leaks into the test.
fn empty_config() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("geoagent-cli-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let other = dir.join("other.toml");
    std::fs::write(&other, "[replay]\ndir = \"from-config\"\n").unwrap();
    empty
}

struct Parsed {
    cli: Cli,
    prepared: Prepared,
}

fn parse(line: &str) -> Parsed {
    use clap::Parser;
    let mut argv: Vec<String> = std::iter::once("geoagent".to_string())
        .chain(
            line.split_whitespace()
                .map(|s| s.replace("{other}", &other_config())),
        )
        .collect();
    if !line.contains("--config") {
        argv.push("--config".into());
        argv.push(empty_config().display().to_string());
    }
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let prepared = prepare(&cli, &[]).unwrap_or_else(|e| panic!("{argv:?}: {e:#}"));
    Parsed { cli, prepared }
}

fn other_config() -> String {
    empty_config()
        .with_file_name("other.toml")
        .display()
        .to_string()
}

type Check = Box<dyn Fn(&Parsed, &Parsed)>;

/// (subcommand path, argument id, command line without, command line with, check(without, with)).
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Check,
);

macro_rules! field {
    ($variant:ident, $p:expr) => {
        match &$p.prepared {
            Prepared::$variant(x) => x,
            other => panic!("expected {}, got {other:?}", stringify!($variant)),
        }
    };
}

/// Asserts that `get` differs between the two runs and equals `want` with the flag.
macro_rules! changes {
    ($variant:ident, |$x:ident| $get:expr, $want:expr) => {
        Box::new(|a: &Parsed, b: &Parsed| {
            let before = {
                let $x = field!($variant, a);
                format!("{:?}", $get)
            };
            let after = {
                let $x = field!($variant, b);
                format!("{:?}", $get)
            };
            assert_ne!(before, after, "the flag changed nothing");
            assert_eq!(after, format!("{:?}", $want));
        }) as Check
    };
}

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

fn reasoning_cases(cmd: &'static str, base: &'static str) -> Vec<Case> {
    // The same eight flags on every command that flattens ReasoningArgs; checked through the
    // settings they set. `ask` and `replay rerun` and `play`/`bench` all expose `.settings`.
    macro_rules! s {
        (|$s:ident| $get:expr, $want:expr) => {
            Box::new(|a: &Parsed, b: &Parsed| {
                let get = |x: &Parsed| {
                    let $s = settings_of(x);
                    format!("{:?}", $get)
                };
                assert_ne!(get(a), get(b), "the flag changed nothing");
                assert_eq!(get(b), format!("{:?}", $want));
            }) as Check
        };
    }
    let with = |f: &str| -> &'static str { Box::leak(format!("{base} {f}").into_boxed_str()) };
    vec![
        (
            cmd,
            "base_url",
            base,
            with("--base-url http://x/v1"),
            s!(|s| s.model.base_url, Some("http://x/v1")),
        ),
        (
            cmd,
            "reasoning_effort",
            base,
            with("--reasoning-effort low"),
            s!(|s| s.model.reasoning_effort, Some(ReasoningEffort::Low)),
        ),
        (
            cmd,
            "no_cache",
            base,
            with("--no-cache"),
            s!(|s| s.model.cache, false),
        ),
        (
            cmd,
            "strategy",
            base,
            with("--strategy direct"),
            s!(|s| s.agent.strategy, StrategyKind::Direct),
        ),
        (
            cmd,
            "index",
            base,
            with("--index i.st"),
            s!(|s| s.agent.index, Some(p("i.st"))),
        ),
        (
            cmd,
            "samples",
            base,
            with("--samples 9"),
            s!(|s| s.agent.samples, 9usize),
        ),
        (
            cmd,
            "prompts",
            base,
            with("--prompts pr"),
            s!(|s| s.agent.prompts_dir, p("pr")),
        ),
        (
            cmd,
            "temperature",
            base,
            with("--temperature 0.5"),
            s!(|s| s.model.temperature, Some(0.5f32)),
        ),
    ]
}

fn settings_of(x: &Parsed) -> &geoagent::config::Settings {
    match &x.prepared {
        Prepared::Play(r) => &r.settings,
        Prepared::Bench(r) => &r.settings,
        Prepared::Serve(s) => s,
        Prepared::Replay(r) => &r.settings,
        Prepared::Report(r) => &r.settings,
        Prepared::Index(r) => &r.settings,
        Prepared::Ask(r) => &r.settings,
        other => panic!("no settings in {other:?}"),
    }
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = vec![
        // Global flags, checked once on `play`.
        ("", "config", "play", "play --config {other}", changes!(Play, |r| r.settings.replay.dir, p("from-config"))),
        ("", "verbose", "play", "play -vv", Box::new(|a: &Parsed, b: &Parsed| {
            let f = |x: &Parsed| log_filter(x.cli.verbose, None).directives;
            assert_ne!(f(a), f(b));
            assert_eq!(f(b), "geoagent=debug");
        })),
        // play
        ("play", "challenge", "play", "play --challenge alps-7-3", changes!(Play, |r| (r.settings.game.map.clone(), r.settings.game.seed, r.settings.game.rounds), ("alps".to_string(), Some(7u64), 3usize))),
        ("play", "map", "play", "play --map alps", changes!(Play, |r| r.settings.game.map, "alps")),
        ("play", "rounds", "play", "play --rounds 7", changes!(Play, |r| r.settings.game.rounds, 7usize)),
        ("play", "seed", "play", "play --seed 99", changes!(Play, |r| r.settings.game.seed, Some(99u64))),
        ("play", "model", "play", "play --model openai:m", changes!(Play, |r| r.settings.model.name, Some("openai:m"))),
        ("play", "headings", "play", "play --headings 2", changes!(Play, |r| r.settings.capture.headings, 2usize)),
        ("play", "zoom_steps", "play", "play --zoom-steps 3", changes!(Play, |r| r.settings.capture.zoom_steps, 3u32)),
        ("play", "replay_dir", "play", "play --replay-dir rd", changes!(Play, |r| r.settings.replay.dir, p("rd"))),
        ("play", "chromedriver", "play", "play --chromedriver cd", changes!(Play, |r| r.settings.browser.chromedriver, Some(p("cd")))),
        ("play", "chromium", "play", "play --chromium cr", changes!(Play, |r| r.settings.browser.chromium, Some(p("cr")))),
        ("play", "webdriver", "play", "play --webdriver http://g:4444", changes!(Play, |r| r.settings.browser.webdriver_url, Some("http://g:4444"))),
        ("play", "advertise", "play", "play --advertise 10.0.0.5:8700", changes!(Play, |r| r.settings.browser.advertise, Some("10.0.0.5:8700"))),
        ("play", "headed", "play", "play --headed", changes!(Play, |r| r.settings.browser.headless, false)),
        ("play", "games", "play", "play --games 3", changes!(Play, |r| r.games, 3usize)),
        ("play", "parallel", "play", "play --parallel 2", changes!(Play, |r| r.parallel, Some(2usize))),
        ("play", "resume", "play", "play --resume run-1", changes!(Play, |r| r.resume, Some("run-1"))),
        // play --assist, --hint-window: behaviour in tests/assist.rs (a_person_helps_through_the_assist_link,
        // a scripted person in Chromium; assist_takes_only_the_interactive_strategy).
        ("play", "assist", "play", "play --assist", changes!(Play, |r| (r.assist, r.settings.agent.strategy), (Some(geoagent::server::assist::DEFAULT_HINT_WINDOW), geoagent::agent::strategy::StrategyKind::Interactive))),
        ("play", "hint_window", "play --assist", "play --assist --hint-window 0", changes!(Play, |r| r.assist, Some(std::time::Duration::ZERO))),
        // play --site geoguessr (behaviour: tests/geoguessr_site.rs)
        ("play", "site", "play", "play --site geoguessr", changes!(Play, |r| r.site, geoagent::cli::play::SiteArg::Geoguessr)),
        ("play", "no_move", "play --site geoguessr", "play --site geoguessr --no-move", changes!(Play, |r| r.settings.geoguessr.forbid_moving, true)),
        ("play", "nmpz", "play --site geoguessr", "play --site geoguessr --nmpz", changes!(Play, |r| (r.settings.geoguessr.forbid_moving, r.settings.geoguessr.forbid_zooming, r.settings.geoguessr.forbid_rotating), (true, true, true))),
        ("play", "time_limit", "play --site geoguessr", "play --site geoguessr --time-limit 60", changes!(Play, |r| r.settings.geoguessr.time_limit_secs, 60u32)),
        ("play", "guess_via", "play --site geoguessr", "play --site geoguessr --guess-via api", changes!(Play, |r| r.settings.geoguessr.guess_via, geoagent::browser::geoguessr::settings::GuessVia::Api)),
        // geoguessr, humans (behaviour: tests/geoguessr_site.rs)
        // check's behaviour (no game unless --create-game, the report's contents): tests/geoguessr_page.rs
        ("geoguessr check", "game", "geoguessr check", "geoguessr check --game http://x/game/AbC", changes!(GeoGuessr, |r| r.action, geoagent::cli::geoguessr::GeoGuessrAction::Check { game: Some("http://x/game/AbC".into()), create_game: false, report: None })),
        ("geoguessr check", "create_game", "geoguessr check", "geoguessr check --create-game", changes!(GeoGuessr, |r| r.action, geoagent::cli::geoguessr::GeoGuessrAction::Check { game: None, create_game: true, report: None })),
        ("geoguessr check", "report", "geoguessr check", "geoguessr check --report r.json", changes!(GeoGuessr, |r| r.action, geoagent::cli::geoguessr::GeoGuessrAction::Check { game: None, create_game: false, report: Some(p("r.json")) })),
        ("humans import-highscores", "file", "humans import-highscores a.json", "humans import-highscores b.json", changes!(Humans, |r| r.file, p("b.json"))),
        ("humans import-highscores", "challenge", "humans import-highscores a.json", "humans import-highscores a.json --challenge https://www.geoguessr.com/challenge/AbC", changes!(Humans, |r| r.challenge, Some("AbC"))),
        // bench
        ("bench", "map", "bench", "bench --map alps", changes!(Bench, |r| r.settings.game.map, "alps")),
        ("bench", "rounds", "bench", "bench --rounds 500", changes!(Bench, |r| r.rounds, 500usize)),
        ("bench", "seed", "bench", "bench --seed 99", changes!(Bench, |r| r.settings.game.seed, Some(99u64))),
        ("bench", "model", "bench", "bench --model openai:m", changes!(Bench, |r| r.settings.model.name, Some("openai:m"))),
        ("bench", "headings", "bench", "bench --headings 2", changes!(Bench, |r| r.settings.capture.headings, 2usize)),
        ("bench", "zoom_steps", "bench", "bench --zoom-steps 3", changes!(Bench, |r| r.settings.capture.zoom_steps, 3u32)),
        ("bench", "replay_dir", "bench", "bench --replay-dir rd", changes!(Bench, |r| r.settings.replay.dir, p("rd"))),
        ("bench", "concurrency", "bench", "bench --concurrency 3", changes!(Bench, |r| r.concurrency, 3usize)),
        ("bench", "resume", "bench", "bench --resume s1", changes!(Bench, |r| r.resume, Some("s1"))),
        ("bench", "view_cache", "bench", "bench --view-cache vc", changes!(Bench, |r| r.view_cache, ViewCacheChoice::Dir(p("vc")))),
        ("bench", "no_view_cache", "bench", "bench --no-view-cache", changes!(Bench, |r| r.view_cache, ViewCacheChoice::Off)),
        // serve
        ("serve", "bind", "serve", "serve --bind 0.0.0.0:9", changes!(Serve, |s| s.server.bind, "0.0.0.0:9")),
        ("serve", "map", "serve", "serve --map alps", changes!(Serve, |s| s.game.map, "alps")),
        ("serve", "rounds", "serve", "serve --rounds 7", changes!(Serve, |s| s.game.rounds, 7usize)),
        ("serve", "seed", "serve", "serve --seed 99", changes!(Serve, |s| s.game.seed, Some(99u64))),
        ("serve", "allow_host", "serve", "serve --allow-host geo.lan", changes!(Serve, |s| s.server.allow_hosts, vec!["geo.lan".to_string()])),
        // stats
        ("stats", "replays", "stats", "stats r1 r2", changes!(Stats, |r| r.options.replays, vec![p("r1"), p("r2")])),
        ("stats", "humans", "stats", "stats --humans h.csv", changes!(Stats, |r| r.options.humans, vec![p("h.csv")])),
        ("stats", "human_dataset", "stats", "stats --human-dataset d", changes!(Stats, |r| r.options.human_dataset, Some(p("d")))),
        ("stats", "reference", "stats --human-dataset d", "stats --human-dataset d --reference baseline", changes!(Stats, |r| r.options.reference, Some(geoagent::stats::compare::Reference::Baseline))),
        ("stats", "top", "stats", "stats --top 2", changes!(Stats, |r| r.options.top, 2usize)),
        ("stats", "challenge", "stats", "stats --challenge world-1-5", changes!(Stats, |r| r.options.challenge, Some("world-1-5"))),
        ("stats", "json", "stats", "stats --json", changes!(Stats, |r| r.json, true)),
        // replay
        ("replay", "dir", "replay list", "replay list --dir rd", changes!(Replay, |r| r.settings.replay.dir, p("rd"))),
        ("replay show", "id", "replay show a", "replay show b", changes!(Replay, |r| r.action, ReplayAction::Show { id: "b".into(), round: None })),
        ("replay show", "round", "replay show a", "replay show a --round 2", changes!(Replay, |r| r.action, ReplayAction::Show { id: "a".into(), round: Some(2) })),
        ("replay rerun", "id", "replay rerun a --model m", "replay rerun b --model m", changes!(Replay, |r| r.action, ReplayAction::Rerun { id: "b".into() })),
        ("replay rerun", "model", "replay rerun a --model m", "replay rerun a --model openai:n", changes!(Replay, |r| r.settings.model.name, Some("openai:n"))),
        ("replay rescore", "id", "replay rescore a", "replay rescore b", changes!(Replay, |r| r.action, ReplayAction::Rescore { id: "b".into(), write: true })),
        ("replay rescore", "dry_run", "replay rescore a", "replay rescore a --dry-run", changes!(Replay, |r| r.action, ReplayAction::Rescore { id: "a".into(), write: false })),
        // report
        ("report", "ids", "report", "report s1 s2", changes!(Report, |r| r.ids, vec!["s1", "s2"])),
        ("report", "dir", "report", "report --dir rd", changes!(Report, |r| r.settings.replay.dir, p("rd"))),
        ("report", "output", "report", "report -o out.html", changes!(Report, |r| r.output, p("out.html"))),
        ("report", "humans", "report", "report --humans h.csv", changes!(Report, |r| r.humans, vec![p("h.csv")])),
        ("report", "human_dataset", "report", "report --human-dataset hd", changes!(Report, |r| r.human_dataset, Some(p("hd")))),
        // map
        ("map info", "pack", "map info a", "map info b", changes!(Map, |m| m.action, MapAction::Info("b".into()))),
        ("map validate", "pack", "map validate", "map validate b", changes!(Map, |m| m.action, MapAction::Validate(Some("b".into())))),
        ("map import photos", "dir", "map import photos d1 -o o", "map import photos d2 -o o", import(|s| matches!(s, ImportSource::Photos { dir, .. } if dir == Path::new("d2")))),
        ("map import photos", "out", "map import photos d -o o1", "map import photos d -o o2", import(|s| matches!(s, ImportSource::Photos { out, .. } if out.out == Path::new("o2")))),
        ("map import photos", "name", "map import photos d -o o", "map import photos d -o o --name N", import(|s| matches!(s, ImportSource::Photos { out, .. } if out.name.as_deref() == Some("N")))),
        ("map import csv", "file", "map import csv f1 --images i -o o", "map import csv f2 --images i -o o", import(|s| matches!(s, ImportSource::Csv { file, .. } if file == Path::new("f2")))),
        ("map import csv", "images", "map import csv f --images i1 -o o", "map import csv f --images i2 -o o", import(|s| matches!(s, ImportSource::Csv { images, .. } if images == Path::new("i2")))),
        ("map import csv", "layout", "map import csv f --images i -o o", "map import csv f --images i -o o --layout osv5m", import(|s| matches!(s, ImportSource::Csv { layout: geoagent::import::csv::Layout::Osv5m, .. }))),
        ("map import csv", "out", "map import csv f --images i -o o1", "map import csv f --images i -o o2", import(|s| matches!(s, ImportSource::Csv { out, .. } if out.out == Path::new("o2")))),
        ("map import csv", "name", "map import csv f --images i -o o", "map import csv f --images i -o o --name N", import(|s| matches!(s, ImportSource::Csv { out, .. } if out.name.as_deref() == Some("N")))),
        ("map import mapillary", "bbox", "map import mapillary --country CH -o o", "map import mapillary --bbox 1,2,3,4 -o o", import(|s| matches!(s, ImportSource::Mapillary { bbox: Some(b), .. } if b == "1,2,3,4"))),
        ("map import mapillary", "country", "map import mapillary --bbox 1,2,3,4 -o o", "map import mapillary --country CH -o o", import(|s| matches!(s, ImportSource::Mapillary { country: Some(c), .. } if c == "CH"))),
        ("map import mapillary", "count", "map import mapillary --country CH -o o", "map import mapillary --country CH -o o --count 3", import(|s| matches!(s, ImportSource::Mapillary { count: 3, .. }))),
        ("map import mapillary", "token_env", "map import mapillary --country CH -o o", "map import mapillary --country CH -o o --token-env TK", import(|s| matches!(s, ImportSource::Mapillary { token_env, .. } if token_env == "TK"))),
        ("map import mapillary", "api_base", "map import mapillary --country CH -o o", "map import mapillary --country CH -o o --api-base http://m", import(|s| matches!(s, ImportSource::Mapillary { api_base, .. } if api_base == "http://m"))),
        ("map import mapillary", "seed", "map import mapillary --country CH -o o", "map import mapillary --country CH -o o --seed 5", import(|s| matches!(s, ImportSource::Mapillary { seed: 5, .. }))),
        ("map import mapillary", "out", "map import mapillary --country CH -o o1", "map import mapillary --country CH -o o2", import(|s| matches!(s, ImportSource::Mapillary { out, .. } if out.out == Path::new("o2")))),
        ("map import mapillary", "name", "map import mapillary --country CH -o o", "map import mapillary --country CH -o o --name N", import(|s| matches!(s, ImportSource::Mapillary { out, .. } if out.name.as_deref() == Some("N")))),
        // index
        ("index build", "maps", "index build a -o f", "index build a b -o f", changes!(Index, |r| r.maps, vec!["a", "b"])),
        ("index build", "output", "index build a -o f1", "index build a -o f2", changes!(Index, |r| r.output, p("f2"))),
        ("index build", "embedding_url", "index build a -o f", "index build a -o f --embedding-model e2 --embedding-url http://e", changes!(Index, |r| r.settings.agent.embedding_url, Some("http://e"))),
        ("index build", "embedding_model", "index build a -o f", "index build a -o f --embedding-url http://e --embedding-model e2", changes!(Index, |r| r.settings.agent.embedding_model, Some("e2"))),
        ("index build", "maps_dir", "index build a -o f", "index build a -o f --maps-dir md", changes!(Index, |r| r.settings.game.maps_dir, p("md"))),
        // ask
        ("ask", "images", "ask a.jpg", "ask a.jpg b.jpg", changes!(Ask, |r| r.images, vec![p("a.jpg"), p("b.jpg")])),
        ("ask", "model", "ask a.jpg", "ask a.jpg --model openai:m", changes!(Ask, |r| r.settings.model.name, Some("openai:m"))),
        ("ask", "json", "ask a.jpg", "ask a.jpg --json", changes!(Ask, |r| r.json, true)),
    ];
    v.extend(reasoning_cases("play", "play"));
    v.extend(reasoning_cases("bench", "bench"));
    v.extend(reasoning_cases("replay rerun", "replay rerun a --model m"));
    v.extend(reasoning_cases("ask", "ask a.jpg"));
    v
}

/// A check on the import source of a `map import ...` line: `ok` holds with the flag only.
fn import(ok: fn(&ImportSource) -> bool) -> Check {
    Box::new(move |a: &Parsed, b: &Parsed| {
        let source = |x: &Parsed| match &field!(Map, x).action {
            MapAction::Import(s) => s.clone(),
            other => panic!("expected an import, got {other:?}"),
        };
        assert!(
            !ok(&source(a)),
            "already so without the flag: {:?}",
            source(a)
        );
        assert!(ok(&source(b)), "the flag changed nothing: {:?}", source(b));
    })
}

/// Every argument of every (sub)command, as "path id", from the clap tree.
fn all_args() -> BTreeSet<(String, String)> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut BTreeSet<(String, String)>) {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            out.insert((path.to_string(), id.to_string()));
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let p = if path.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{path} {}", sub.get_name())
            };
            walk(sub, &p, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(&Cli::command(), "", &mut out);
    out
}

#[test]
fn every_flag_has_a_check() {
    let tree = all_args();
    let table: BTreeSet<(String, String)> = cases()
        .iter()
        .map(|(c, a, ..)| (c.to_string(), a.to_string()))
        .collect();
    let missing: Vec<_> = tree.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "arguments without a row in tests/cli_flags.rs (add one that checks what the flag changes): {missing:?}"
    );
    let stale: Vec<_> = table.difference(&tree).collect();
    assert!(
        stale.is_empty(),
        "rows for arguments that do not exist: {stale:?}"
    );
}

#[test]
fn every_flag_changes_what_its_command_runs_on() {
    for (cmd, arg, without, with, check) in cases() {
        let (a, b) = (parse(without), parse(with));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&a, &b)));
        assert!(
            r.is_ok(),
            "`{cmd}` argument `{arg}`: `{with}` vs `{without}`"
        );
    }
}

/// Issue 12: `play --rounds 60` passed config validation and every round then failed in the
/// game server; the one limit is checked when the flags are read, naming the flag.
#[test]
fn rounds_beyond_the_games_limit_are_refused_up_front() {
    use clap::Parser;
    let max = geoagent::game::MAX_ROUNDS;
    for line in [
        format!("play --rounds {}", max + 10),
        format!("serve --rounds {}", max + 10),
        format!("play --challenge world-1-{}", max + 10),
    ] {
        let mut argv: Vec<String> = std::iter::once("geoagent".to_string())
            .chain(line.split_whitespace().map(String::from))
            .collect();
        argv.extend(["--config".into(), empty_config().display().to_string()]);
        let cli = Cli::try_parse_from(&argv).unwrap();
        let err = format!("{:#}", prepare(&cli, &[]).unwrap_err());
        assert!(err.contains(&format!("1 to {max} rounds")), "{line}: {err}");
    }
    // A bench is one direct-mode session, not a challenge of the local game.
    assert_eq!(field!(Bench, parse("bench --rounds 500")).rounds, 500);
}

fn geoagent(cwd: &Path, args: &[&str]) -> std::process::Output {
    common::command::geoagent(cwd)
        .args(args)
        .env("HOME", cwd)
        .env("XDG_CACHE_HOME", cwd.join("cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run geoagent")
}

/// Entries of the checkout's response cache folder (none when it does not exist).
fn checkout_cache() -> BTreeSet<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".geoagent-cache");
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// Issue 12: `bench --seed 99` was ignored, so two runs played different challenges. Runs the
/// binary three times in a temp folder (seeds 99, 99, 100) and compares the places each run
/// played, read from its replay (not an id built from the seed): the same seed plays the same
/// places, another seed others. And nothing lands in the checkout's `.geoagent-cache`.
#[test]
fn bench_seed_picks_the_places_and_the_checkout_stays_clean() {
    let before = checkout_cache();
    let tmp = tempfile::tempdir().unwrap();
    let vc = tmp.path().join("vc");
    let places: Vec<Vec<(String, String)>> = ["99", "99", "100"]
        .iter()
        .enumerate()
        .map(|(i, seed)| {
            let dir = tmp.path().join(format!("r{i}"));
            let o = geoagent(
                tmp.path(),
                &[
                    "bench",
                    "--seed",
                    seed,
                    "--rounds",
                    "3",
                    "--headings",
                    "1",
                    if i == 0 {
                        "--view-cache"
                    } else {
                        "--no-view-cache"
                    },
                    if i == 0 {
                        vc.to_str().unwrap()
                    } else {
                        "--no-cache"
                    },
                    "--replay-dir",
                    &dir.to_string_lossy(),
                ],
            );
            assert!(
                o.status.success(),
                "{}\n{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            let sessions: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("manifest.json").is_file())
                .collect();
            assert_eq!(sessions.len(), 1, "one session in {}", dir.display());
            let replay = geoagent::replay::Replay::open(&sessions[0]).unwrap();
            // Bench plays rounds at once and records them as they finish: order by round.
            let mut rounds: Vec<_> = replay.rounds.iter().collect();
            rounds.sort_by_key(|r| r.round);
            let played: Vec<(String, String)> = rounds
                .iter()
                .map(|r| {
                    (
                        format!("{:.5}", r.result.truth.lat),
                        format!("{:.5}", r.result.truth.lon),
                    )
                })
                .collect();
            assert_eq!(played.len(), 3, "rounds recorded by run {i}");
            assert!(
                rounds.iter().all(|r| r.views.len() == 1),
                "--headings 1 gave views {:?}",
                rounds.iter().map(|r| r.views.len()).collect::<Vec<_>>()
            );
            played
        })
        .collect();
    assert_eq!(
        places[0], places[1],
        "seed 99 twice played different places"
    );
    assert_ne!(
        places[0], places[2],
        "seeds 99 and 100 played the same places"
    );
    assert_eq!(
        checkout_cache(),
        before,
        "running geoagent wrote into the checkout"
    );
    // --view-cache DIR filled DIR; --no-view-cache (the other runs) left the default one
    // ($XDG_CACHE_HOME/geoagent/views) alone.
    assert!(files_under(&vc) > 0, "--view-cache wrote nothing");
    assert_eq!(
        files_under(&tmp.path().join("cache")),
        0,
        "--no-view-cache wrote into the default cache"
    );
}

/// Regular files anywhere under `dir` (0 when it does not exist).
fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    if e.file_type().unwrap().is_dir() {
                        files_under(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The sessions a command wrote into `dir`, each opened as a replay, ordered by seed.
fn sessions_in(dir: &Path) -> Vec<geoagent::replay::Replay> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("manifest.json").is_file())
        .map(|p| geoagent::replay::Replay::open(&p).unwrap())
        .collect();
    out.sort_by_key(|r| r.manifest.challenge.seed);
    out
}

/// The places a session played (truths, by round).
fn places_of(r: &geoagent::replay::Replay) -> Vec<(String, String)> {
    let mut rounds: Vec<_> = r.rounds.iter().collect();
    rounds.sort_by_key(|r| r.round);
    rounds
        .iter()
        .map(|r| {
            (
                format!("{:.5}", r.result.truth.lat),
                format!("{:.5}", r.result.truth.lon),
            )
        })
        .collect()
}

/// Issue 23: the flag table above checks what `prepare` returns, but the original bug was a flag
/// parsed and then dropped in `run`. Here `play` runs in Chromium on the local game and the
/// replays it wrote are read: what was played, not what was planned. `--games 2 --seed 5` plays
/// seeds 5 and 6 (two sessions); a separate `--seed 6` run in the same folder (same challenge
/// key) plays the places of the second game and not those of the first; `--rounds`,
/// `--headings`, `--zoom-steps`, `--replay-dir` and `--config` show in the rounds and views
/// recorded. Each value is checked to differ from the default, so the flag is what made it.
#[test]
fn play_runs_on_its_flags() {
    common::require_browser();
    let defaults = parse("play");
    let d = settings_of(&defaults);
    assert_ne!(d.game.rounds, 2);
    assert_ne!(d.capture.headings, 3);
    assert_ne!(d.capture.zoom_steps, 1);
    assert_ne!(d.capture.jpeg_quality, 40);
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("cfg.toml");
    std::fs::write(&cfg, "[capture]\njpeg_quality = 40\n").unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let run = |args: &[&str]| {
        let o = geoagent(tmp.path(), args);
        assert!(
            o.status.success(),
            "{args:?}\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[
        "play",
        "--games",
        "2",
        "--seed",
        "5",
        "--rounds",
        "2",
        "--headings",
        "3",
        "--zoom-steps",
        "1",
        "--config",
        cfg.to_str().unwrap(),
        "--replay-dir",
        a.to_str().unwrap(),
    ]);
    run(&[
        "play",
        "--seed",
        "6",
        "--rounds",
        "2",
        "--replay-dir",
        b.to_str().unwrap(),
    ]);

    let games = sessions_in(&a);
    let seeds: Vec<u64> = games.iter().map(|r| r.manifest.challenge.seed).collect();
    assert_eq!(seeds, [5, 6], "--games 2 --seed 5 into --replay-dir");
    let alone = sessions_in(&b);
    assert_eq!(alone.len(), 1);
    assert_eq!(places_of(&games[0]).len(), 2, "--rounds 2");
    assert_eq!(
        places_of(&alone[0]),
        places_of(&games[1]),
        "seed 6 twice, other places"
    );
    assert_ne!(
        places_of(&games[0]),
        places_of(&games[1]),
        "seeds 5 and 6, same places"
    );
    for g in &games {
        assert_eq!(g.manifest.capture.jpeg_quality, 40, "--config");
        for r in &g.rounds {
            // Headings are what the page reports after turning (119.93 for 120): to 5 degrees.
            let wide: Vec<i64> = r
                .views
                .iter()
                .filter(|v| v.fov >= 89.0)
                .map(|v| (v.heading / 5.0).round() as i64 * 5)
                .collect();
            assert_eq!(
                wide,
                [0, 120, 240],
                "--headings 3 views of round {}",
                r.round
            );
            assert_eq!(
                r.views.iter().filter(|v| v.fov < 89.0).count(),
                1,
                "--zoom-steps 1: one zoomed view in round {}",
                r.round
            );
        }
    }
    // Without the flags, the defaults were played.
    let plain = &alone[0];
    assert_eq!(plain.rounds.len(), 2);
    assert_eq!(plain.manifest.capture.jpeg_quality, d.capture.jpeg_quality);
    for r in &plain.rounds {
        let want = d.capture.headings + usize::from(d.capture.zoom_steps > 0);
        assert_eq!(r.views.len(), want, "default views of round {}", r.round);
    }
}

/// Issue 13 item 12: an empty RUST_LOG hid every warning, an unparseable one too; both fall back
/// to the default filter, and the unparseable one is named on stderr.
#[test]
fn a_broken_rust_log_is_reported_and_replaced_by_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .current_dir(tmp.path())
        .args(["map", "ls"])
        .env("RUST_LOG", "geoagent=notalevel[[")
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("RUST_LOG") && err.contains("geoagent=warn"),
        "{err}"
    );
    for value in ["", "  "] {
        let f = log_filter(0, Some(value));
        assert_eq!(f.directives, "geoagent=warn");
        assert!(f.note.is_none());
    }
}
