//! Issue 16 part 2: the report of a 1,000-round session stays small (at most 10 MB, main page,
//! pages and thumbnails together) and every round stays reachable from the main page: its round
//! pages (which hold every card, with a thumbnail file that exists) and its country pages. The
//! charts and the world map are on the main page as for a small report. Time is measured by
//! `cargo bench --bench report_scale`, not here.

#[path = "report_gen/mod.rs"]
mod report_gen;

use geoagent::report::{self, ReportOptions};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// Issue 16's size bound for a 1,000-round report.
const MAX_REPORT_BYTES: u64 = 10 * 1024 * 1024;

fn size_of(p: &Path) -> u64 {
    if p.is_dir() {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| size_of(&e.unwrap().path()))
            .sum()
    } else {
        std::fs::metadata(p).unwrap().len()
    }
}

/// Every `attr="..."` value in `html` whose value starts with `prefix`.
fn values<'a>(html: &'a str, attr: &str, prefix: &str) -> Vec<&'a str> {
    let pat = format!("{attr}=\"{prefix}");
    html.match_indices(&pat)
        .map(|(i, _)| {
            let start = i + attr.len() + 2;
            let end = html[start..].find('"').unwrap() + start;
            &html[start..end]
        })
        .collect()
}

#[test]
fn a_thousand_round_report_is_small_and_reaches_every_round() {
    let tmp = tempfile::tempdir().unwrap();
    let replays = tmp.path().join("replays");
    let session = report_gen::session(&replays, "scale", 1000, 4);
    let out_dir = tmp.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let output = out_dir.join("big.html");
    let rep = report::build_with(
        std::slice::from_ref(&session),
        &ReportOptions::for_output(&output),
    )
    .unwrap();
    report::write(&output, &rep).unwrap();
    assert_eq!(rep.rounds, 1000);
    assert!(
        rep.notes.iter().all(|n| !n.contains("view not shown")),
        "{:?}",
        rep.notes
    );

    let files = out_dir.join("big_files");
    let total = size_of(&output) + size_of(&files);
    assert!(
        total <= MAX_REPORT_BYTES,
        "report is {total} bytes (main page {}), over {MAX_REPORT_BYTES}",
        size_of(&output)
    );

    let main = std::fs::read_to_string(&output).unwrap();
    // Charts and world map as in a small report: one truth and one guess per round.
    for id in [
        "id=\"histogram\"",
        "id=\"cdf\"",
        "id=\"worldmap\"",
        "id=\"summary\"",
    ] {
        assert!(main.contains(id), "{id} missing");
    }
    assert_eq!(main.matches("class=\"truth\"").count(), 1000);
    assert!(!main.contains("<script"));

    // Every round's card is on exactly one round page linked from the main page.
    // Map pins link to a card on its page (`rounds-003.html#...`): the page is the part before `#`.
    let pages: BTreeSet<&str> = values(&main, "href", "big_files/rounds-")
        .into_iter()
        .map(|h| h.split('#').next().unwrap_or(h))
        .collect();
    assert_eq!(pages.len(), 10, "{pages:?}");
    let mut cards = Vec::new();
    for p in &pages {
        let html = std::fs::read_to_string(out_dir.join(p)).unwrap();
        cards.extend(
            values(&html, "id", "s-scale-r")
                .into_iter()
                .map(str::to_string),
        );
        for src in values(&html, "src", "t/") {
            assert!(files.join(src).is_file(), "{p}: thumbnail {src} missing");
        }
        // A thumbnail links to the session's own full-size view, relative to the page.
        let full = values(&html, "href", "../../replays/scale/views/");
        assert!(!full.is_empty(), "{p}: no link to a full view");
        for f in full {
            assert!(files.join(f).is_file(), "{p}: {f} does not reach the view");
        }
    }
    let want: BTreeSet<String> = (1..=1000).map(|r| format!("s-scale-r{r}")).collect();
    assert_eq!(cards.len(), 1000, "a card is on two pages");
    assert_eq!(cards.into_iter().collect::<BTreeSet<_>>(), want);

    // Every map pin links to its round's card on its page.
    let mut read: HashMap<String, String> = HashMap::new();
    let mut has_card = |page: &Path, id: &str| {
        let html = read
            .entry(page.display().to_string())
            .or_insert_with(|| std::fs::read_to_string(page).unwrap());
        html.contains(&format!("id=\"{id}\""))
    };
    let pins: Vec<&str> = values(&main, "href", "big_files/rounds-")
        .into_iter()
        .filter(|h| h.contains('#'))
        .collect();
    assert_eq!(pins.len(), 1000);
    for href in pins {
        let (page, id) = href.split_once('#').unwrap();
        assert!(has_card(&out_dir.join(page), id), "{href}");
    }

    // By country: the country pages together list every round once, each link reaching a card.
    let countries = values(&main, "href", "big_files/country-");
    assert!(countries.len() > 5, "{countries:?}");
    let mut listed = 0;
    for c in &countries {
        let html = std::fs::read_to_string(out_dir.join(c)).unwrap();
        // Links to a round's card carry its anchor; the rest is page navigation.
        let links: Vec<&str> = values(&html, "href", "rounds-")
            .into_iter()
            .filter(|l| l.contains('#'))
            .collect();
        listed += links.len();
        for l in links {
            let (page, id) = l.split_once('#').unwrap();
            assert!(has_card(&files.join(page), id), "{c}: {l}");
        }
    }
    assert_eq!(listed, 1000);

    // The best and the worst rounds come first, on the main page.
    let best_at = main.find("id=\"best\"").unwrap();
    let worst_at = main.find("id=\"worst\"").unwrap();
    let first_best = values(&main[best_at..], "id", "s-scale-r")[0];
    let first_worst = values(&main[worst_at..], "id", "s-scale-r")[0];
    let replay = geoagent::replay::Replay::open(&session).unwrap();
    let points = |id: &str| {
        let n: usize = id.trim_start_matches("s-scale-r").parse().unwrap();
        replay.rounds[n - 1].result.points
    };
    let max = replay.rounds.iter().map(|r| r.result.points).max().unwrap();
    let min = replay.rounds.iter().map(|r| r.result.points).min().unwrap();
    assert_eq!(points(first_best), max);
    assert_eq!(points(first_worst), min);

    // Writing again replaces the folder it wrote; a folder it did not write is left alone.
    report::write(&output, &rep).unwrap();
    let other = out_dir.join("mine.html");
    std::fs::create_dir_all(out_dir.join("mine_files")).unwrap();
    std::fs::write(out_dir.join("mine_files/keep.txt"), "mine").unwrap();
    let rep2 = report::build_with(&[session], &ReportOptions::for_output(&other)).unwrap();
    let e = report::write(&other, &rep2).unwrap_err().to_string();
    assert!(e.contains("not written by `geoagent report`"), "{e}");
    assert!(out_dir.join("mine_files/keep.txt").is_file());
}

#[test]
fn a_small_report_stays_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let session = report_gen::session(&tmp.path().join("replays"), "small", 5, 2);
    let output = tmp.path().join("small.html");
    let rep = report::build_with(&[session], &ReportOptions::for_output(&output)).unwrap();
    report::write(&output, &rep).unwrap();
    assert!(rep.files_dir.is_none());
    assert!(!tmp.path().join("small_files").exists());
    let html = std::fs::read_to_string(&output).unwrap();
    assert_eq!(html.matches("data:image/jpeg;base64,").count(), 10);
    assert!(html.contains("id=\"s-small-r5\""));
}
