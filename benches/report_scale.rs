//! Issue 16 part 2's figure: wall time and size of `report` for one generated session of many
//! rounds (real 800×600 JPEG views, 4 a round), main page, round pages and thumbnails written.
//!
//! `cargo bench --bench report_scale -- [ROUNDS] [VIEWS] [REPEATS]` (defaults: 1000 rounds,
//! 4 views, 3 repeats; the session is generated once, outside the timing).

#[path = "../tests/report_gen/mod.rs"]
mod report_gen;

use geoagent::report::{self, ReportOptions};
use std::path::Path;
use std::time::Instant;

fn size_of(p: &Path) -> u64 {
    if p.is_dir() {
        std::fs::read_dir(p)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| size_of(&e.path())).sum())
            .unwrap_or(0)
    } else {
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(1000);
    let views = args.get(1).copied().unwrap_or(4);
    let repeats = args.get(2).copied().unwrap_or(3).max(1);
    let tmp = tempfile::tempdir().expect("temp folder");
    let t = Instant::now();
    let session = report_gen::session(&tmp.path().join("replays"), "bench", rounds, views);
    eprintln!(
        "generated {rounds} rounds × {views} views in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let output = tmp.path().join("out").join("report.html");
    std::fs::create_dir_all(output.parent().expect("parent")).expect("out folder");
    let mut times = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let rep = report::build_with(
            std::slice::from_ref(&session),
            &ReportOptions::for_output(&output),
        )
        .expect("report");
        report::write(&output, &rep).expect("write");
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let files = tmp.path().join("out").join("report_files");
    println!(
        "report of {rounds} rounds × {views} views: median {:.2} s (min {:.2}, max {:.2}, {repeats} runs); main page {:.2} MB, with pages and thumbnails {:.2} MB",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        size_of(&output) as f64 / 1e6,
        (size_of(&output) + size_of(&files)) as f64 / 1e6,
    );
}
