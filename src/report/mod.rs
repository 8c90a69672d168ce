//! `geoagent report`: an HTML report about a set of sessions, readable offline (no script, font,
//! image or style is fetched at view time): a summary table, a points histogram and a distance
//! CDF per player (SVG from [`charts`]), the accuracy-band table, a world map of every round's
//! truth, guess and the line between them ([`worldmap`]), win rates against people when human
//! results are given, and a card per round with its views and the model's answer ([`cards`]).
//!
//! Up to [`INLINE_MAX_ROUNDS`] rounds it is one self-contained file: every view downscaled into
//! the page as a data URL, every prompt and answer in full. Beyond that the rounds go on pages
//! beside it ([`pages`]): the main page stays a few MB and quick to write whatever the number of
//! rounds, with the best and worst rounds, links to every round in play order and by country.
//!
//! The statistics are the `stats` command's own ([`crate::stats::compare::build_report`]), so
//! the report and `geoagent stats` always agree. Every value from a replay is HTML-escaped by the
//! maud templates: a model answer containing `<script>` renders as text.

pub mod cards;
pub mod charts;
pub mod pages;
pub mod worldmap;

use crate::replay::catalog::{spend, Spend};
use crate::replay::{Replay, ReplayError, RoundRecord};
use crate::stats::compare::{build_report, round_label, CompareError, PlayerReport, StatsOptions};
use crate::stats::WinRate;
use base64::Engine as _;
use cards::{card, card_id, Detail, ViewShown};
use charts::{color_hex, ChartError, Series};
use maud::{html, Markup, PreEscaped};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Views are scaled to fit this width in the report: large enough to read signs, small enough
/// that a 100-round report with 4 views per round stays a few MB.
pub(crate) const VIEW_THUMB_WIDTH: u32 = 400;
/// And this height (views are 4:3 or 16:9).
pub(crate) const VIEW_THUMB_HEIGHT: u32 = 300;
/// JPEG quality of the downscaled views.
pub(crate) const VIEW_THUMB_QUALITY: u8 = 70;
/// Individual human players in the win-rate table besides the pooled comparison.
pub(crate) const TOP_HUMAN_PLAYERS: usize = 3;
/// Most rounds in a one-file report. A round's views as data URLs are ~80 KB, so 100 rounds
/// make a file of a few MB that any browser opens; more go on pages beside it ([`pages`]).
pub(crate) const INLINE_MAX_ROUNDS: usize = 100;

/// What goes into a report besides the sessions, and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Human result files, for win rates (as `stats --humans`).
    pub humans: Vec<PathBuf>,
    /// The GeoGuessr study data set folder (as `stats --human-dataset`).
    pub human_dataset: Option<PathBuf>,
    /// The folder the report is written to (for links from its pages to the sessions' views).
    pub out_dir: PathBuf,
    /// The report's file name.
    pub main_file: String,
    /// Most rounds in a one-file report ([`INLINE_MAX_ROUNDS`]).
    pub inline_max_rounds: usize,
}

impl ReportOptions {
    /// A report written to `output`.
    pub fn for_output(output: &Path) -> ReportOptions {
        let out_dir = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        ReportOptions {
            humans: vec![],
            human_dataset: None,
            out_dir,
            main_file: output.file_name().map_or_else(
                || "report.html".into(),
                |n| n.to_string_lossy().into_owned(),
            ),
            inline_max_rounds: INLINE_MAX_ROUNDS,
        }
    }

    /// The folder beside the report holding its pages and thumbnails: `<name>_files`.
    pub fn files_dir(&self) -> String {
        let stem = Path::new(&self.main_file)
            .file_stem()
            .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
        format!("{stem}_files")
    }
}

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("nothing to report: {0}")]
    NoInput(String),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Stats(#[from] CompareError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// A file or folder operation failed; the error names the path (`fs-err`).
    #[error(transparent)]
    Io(std::io::Error),
    #[error("{path} exists and was not written by `geoagent report` (no {marker} in it): move it away or pick another -o name; the report's pages go there")]
    NotOurs { path: String, marker: &'static str },
}

/// A built report.
#[derive(Debug, Clone)]
pub struct Report {
    pub html: String,
    /// The folder beside the report and the files in it (relative paths), for a paged report.
    pub files_dir: Option<String>,
    pub files: Vec<(String, Vec<u8>)>,
    pub sessions: usize,
    pub rounds: usize,
    /// Warnings worth telling the user (torn lines, missing views, human-import problems).
    pub notes: Vec<String>,
}

/// One player's rounds, as in `stats`: every session with the same reasoner and strategy.
struct Player<'a> {
    label: String,
    rounds: Vec<(&'a Replay, &'a RoundRecord)>,
    spend: Spend,
}

/// The players of `stats`: per round, since rounds a person helped with are a player of their own.
fn players(replays: &[Replay]) -> Vec<Player<'_>> {
    let mut out: Vec<Player> = Vec::new();
    for r in replays {
        for x in &r.rounds {
            let label = round_label(&r.manifest.reasoner, &r.manifest.strategy_label(), &x.guess);
            let i = match out.iter().position(|p| p.label == label) {
                Some(i) => i,
                None => {
                    out.push(Player {
                        label,
                        rounds: vec![],
                        spend: Spend::default(),
                    });
                    out.len() - 1
                }
            };
            let s = spend(std::slice::from_ref(x));
            let p = &mut out[i];
            p.spend.input_tokens += s.input_tokens;
            p.spend.output_tokens += s.output_tokens;
            if let Some(c) = s.cost_usd {
                *p.spend.cost_usd.get_or_insert(0.0) += c;
            }
            p.rounds.push((r, x));
        }
    }
    out
}

/// Reads the sessions in `dirs` (and human results in `humans`) and renders a report to be
/// written as `report.html` in the current folder.
pub fn build(dirs: &[PathBuf], humans: &[PathBuf]) -> Result<Report, ReportError> {
    build_with(
        dirs,
        &ReportOptions {
            humans: humans.to_vec(),
            ..ReportOptions::for_output(Path::new("report.html"))
        },
    )
}

/// Reads the sessions in `dirs` and renders the report `opts` describe.
pub fn build_with(dirs: &[PathBuf], opts: &ReportOptions) -> Result<Report, ReportError> {
    let humans = &opts.humans;
    if dirs.is_empty() {
        return Err(ReportError::NoInput(
            "no session given and none in the replays folder; pass session ids or --dir".into(),
        ));
    }
    // One unreadable session does not stop the report: it is left out with a note naming it.
    let sessions = crate::replay::catalog::read_sessions(dirs);
    let skipped = sessions.notes();
    let replays = sessions.readable;
    if replays.is_empty() {
        return Err(ReportError::NoInput(format!(
            "no readable session: {}",
            skipped.join("; ")
        )));
    }
    let dirs: Vec<PathBuf> = replays.iter().map(|r| r.dir.clone()).collect();
    let rounds: usize = replays.iter().map(|r| r.rounds.len()).sum();
    if rounds == 0 {
        return Err(ReportError::NoInput(format!(
            "the {} session(s) hold no finished round",
            replays.len()
        )));
    }
    let mut notes: Vec<String> = skipped;
    notes.extend(replays.iter().flat_map(|r| r.skipped.clone()));
    let stats = build_report(&StatsOptions {
        humans: humans.to_vec(),
        human_dataset: opts.human_dataset.clone(),
        top: TOP_HUMAN_PLAYERS,
        ..StatsOptions::for_replays(dirs)
    })?;
    notes.extend(stats.import_problems.iter().cloned());
    notes.extend(
        stats
            .notes
            .iter()
            .filter(|n| !notes.contains(n))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let players = players(&replays);
    let series = |f: &dyn Fn(&RoundRecord) -> f64| -> Vec<Series> {
        players
            .iter()
            .map(|p| Series {
                label: &p.label,
                values: p.rounds.iter().map(|(_, r)| f(r)).collect(),
            })
            .collect()
    };
    let histogram = charts::points_histogram(&series(&|r| f64::from(r.result.points)))?;
    let cdf = charts::distance_cdf(&series(&|r| r.result.distance_km))?;
    let colors: Vec<String> = (0..players.len()).map(color_hex).collect();
    let entries: Vec<pages::Entry> = players
        .iter()
        .enumerate()
        .flat_map(|(k, p)| {
            p.rounds.iter().map(move |&(rep, r)| pages::Entry {
                player: k,
                label: &p.label,
                rep,
                rec: r,
                country: crate::geo::reverse::country(r.result.truth)
                    .or_else(|| r.result.country.clone()),
            })
        })
        .collect();
    let files_dir = opts.files_dir();
    let (rounds_section, hrefs, files) = if rounds <= opts.inline_max_rounds {
        let cards = inline_cards(&entries, &colors, &mut notes);
        let hrefs = entries
            .iter()
            .map(|e| format!("#{}", card_id(e.rep, e.rec)))
            .collect();
        (cards, hrefs, None)
    } else {
        let place = pages::Place {
            out_dir: &opts.out_dir,
            files_dir: &files_dir,
            main_file: &opts.main_file,
        };
        let paged = pages::build(&entries, &colors, &place, &mut notes);
        (paged.section, paged.hrefs, Some(paged.files))
    };
    let pins: Vec<worldmap::Pin> = entries
        .iter()
        .zip(hrefs)
        .map(|(e, href)| worldmap::Pin {
            truth: e.rec.result.truth,
            guess: e.rec.result.guess,
            label: format!(
                "{} · round {} · {:.0} km · {} points",
                e.label, e.rec.round, e.rec.result.distance_km, e.rec.result.points
            ),
            player: e.player,
            href,
        })
        .collect();
    let stats_of = |label: &str| stats.players.iter().find(|s| s.label == label);
    let body = html! {
        h1 { "geoagent report" }
        p class="meta" {
            (replays.len()) " session(s), " (rounds) " round(s), generated "
            (chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")) " by geoagent " (env!("CARGO_PKG_VERSION"))
            @if stats.human_rounds > 0 { " · " (stats.human_rounds) " human round(s) from " (stats.human_players) " player(s)" }
        }
        h2 { "Summary" }
        table id="summary" {
            tr { th { "Player" } th { "Sessions" } th { "Rounds" } th { "Mean points [95% CI]" } th { "Median points" }
                 th { "Median distance" } th { "Country" } th { "Tokens / cost" } }
            @for (k, p) in players.iter().enumerate() {
                tr {
                    td { span class="swatch" style={ "background:" (colors[k]) } {} (p.label) }
                    @if let Some(s) = stats_of(&p.label) {
                        td { (s.sessions) } td { (s.summary.rounds) }
                        td { (format!("{:.0} [{:.0}, {:.0}]", s.summary.points_mean.estimate, s.summary.points_mean.low, s.summary.points_mean.high)) }
                        td { (format!("{:.0}", s.summary.points_median.estimate)) }
                        td { (format!("{:.0} km", s.summary.distance_median_km)) }
                        td { (format!("{:.0}% ({}/{})", 100.0 * s.summary.country.rate, s.summary.country.hits, s.summary.country.n)) }
                    } @else {
                        td colspan="6" { "no finished round" }
                    }
                    td { (spend_text(&p.spend)) }
                }
            }
        }
        h2 { "Accuracy bands" }
        (bands_table(&stats.players))
        @if !humans.is_empty() || opts.human_dataset.is_some() {
            h2 { "Win rate against people" }
            (versus_table(&stats.players))
            @if !stats.human_dataset_files.is_empty() {
                p class="meta" { "Human data set files read: "
                    @for (i, f) in stats.human_dataset_files.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (f.path) } " (" (f.mode) ", " (f.rounds) " rounds)"
                    }
                }
            }
        }
        h2 { "Charts" }
        div class="charts" {
            figure id="histogram" { (PreEscaped(histogram)) }
            figure id="cdf" { (PreEscaped(cdf)) }
        }
        h2 { "World map" }
        p class="meta" { "Green: truth. Coloured by player: guess, joined to its truth along the great circle. Click a point for its round." }
        (worldmap::render(&pins, &colors))
        @if !stats.comparisons.is_empty() {
            h2 { "Paired comparisons (same rounds)" }
            table id="paired" {
                tr { th { "A" } th { "B" } th { "Rounds" } th { "Mean difference A−B [95% CI]" } th { "Sign test p" } }
                @for c in &stats.comparisons {
                    tr { td { (c.a) } td { (c.b) } td { (c.rounds) }
                         td { (format!("{:+.0} [{:+.0}, {:+.0}]", c.points.mean_difference.estimate, c.points.mean_difference.low, c.points.mean_difference.high)) }
                         td { (format!("{:.3}", c.points.sign_test_p)) } }
                }
            }
        }
        @if !notes.is_empty() {
            h2 { "Notes" }
            ul id="notes" { @for n in &notes { li { (n) } } }
        }
        (rounds_section)
    };
    let html = cards::document("geoagent report", body);
    Ok(Report {
        html,
        files_dir: files.is_some().then_some(files_dir),
        files: files.unwrap_or_default(),
        sessions: replays.len(),
        rounds,
        notes,
    })
}

/// The rounds section of a one-file report: every card, views as data URLs.
fn inline_cards(entries: &[pages::Entry], colors: &[String], notes: &mut Vec<String>) -> Markup {
    let views: Vec<Vec<ViewShown>> = cards::par_map(entries, |e| {
        e.rec
            .views
            .iter()
            .map(|v| ViewShown {
                alt: ViewShown::alt_of(v),
                img: thumbnail_url(e.rep, v).map(Some),
                link: None,
            })
            .collect()
    });
    for v in views.iter().flatten() {
        if let Err(e) = &v.img {
            notes.push(format!("view not shown: {e}"));
        }
    }
    html! {
        h2 { "Rounds" }
        @for (e, v) in entries.iter().zip(&views) {
            (card(e.rep, e.rec, e.label, colors.get(e.player).map_or("#888", String::as_str), v, Detail::Full))
        }
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn spend_text(s: &Spend) -> String {
    let mut t = format!("{} in / {} out", s.input_tokens, s.output_tokens);
    if let Some(c) = s.cost_usd {
        t.push_str(&format!(" · ${c:.4}"));
    }
    t
}

fn bands_table(players: &[PlayerReport]) -> Markup {
    let labels: Vec<&str> = players
        .first()
        .map(|p| p.summary.bands.iter().map(|b| b.label.as_str()).collect())
        .unwrap_or_default();
    html! {
        table id="bands" {
            tr { th { "Player" } @for l in &labels { th { (l) } } }
            @for p in players {
                tr {
                    td { (p.label) }
                    @for b in &p.summary.bands { td { (pct(b.rate)) " (" (b.hits) "/" (b.n) ")" } }
                }
            }
        }
    }
}

fn rate_text(w: &Option<WinRate>) -> String {
    match w {
        Some(w) => format!(
            "{} [{}, {}] n={} ({}W {}T {}L)",
            pct(w.rate.estimate),
            pct(w.rate.low),
            pct(w.rate.high),
            w.rate.n,
            w.wins,
            w.ties,
            w.losses
        ),
        None => "–".into(),
    }
}

fn versus_table(players: &[PlayerReport]) -> Markup {
    html! {
        table id="versus" {
            tr { th { "Player" } th { "Against" } th { "Rounds matched" } th { "Per round [95% CI]" } th { "Per game [95% CI]" } }
            @for p in players {
                @for v in &p.versus {
                    tr { td { (p.label) } td { (v.opponent) } td { (v.rounds_matched) }
                         td { (rate_text(&v.per_round)) } td { (rate_text(&v.per_game)) } }
                }
                @if p.versus.is_empty() {
                    tr { td { (p.label) } td colspan="4" { "no human result on the same challenge and round" } }
                }
            }
        }
    }
}

/// A view as a downscaled JPEG data URL (a one-file report).
fn thumbnail_url(rep: &Replay, v: &crate::replay::ViewRecord) -> Result<String, String> {
    let jpeg = cards::thumbnail(
        rep,
        v,
        VIEW_THUMB_WIDTH,
        VIEW_THUMB_HEIGHT,
        VIEW_THUMB_QUALITY,
    )?;
    Ok(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(jpeg)
    ))
}

/// Writes the report to `path`, and a paged report's files into the folder beside it (named in
/// the report). Files go first, through a temporary folder, so the page never links to missing
/// files; the page goes through a temporary file, so a failed write leaves no half report. A
/// folder of that name is replaced only when an earlier report wrote it ([`pages::FILES_MARKER`]).
pub fn write(path: &Path, report: &Report) -> Result<(), ReportError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let ours = |dir: &Path| dir.join(pages::FILES_MARKER).is_file();
    let replace = |dir: &Path| -> Result<(), ReportError> {
        if !dir.exists() {
            return Ok(());
        }
        if !ours(dir) {
            return Err(ReportError::NotOurs {
                path: dir.display().to_string(),
                marker: pages::FILES_MARKER,
            });
        }
        fs_err::remove_dir_all(dir).map_err(ReportError::Io)
    };
    if let Some(name) = &report.files_dir {
        let dir = parent.join(name);
        let tmp = parent.join(format!("{name}.tmp"));
        replace(&tmp)?;
        for (rel, bytes) in &report.files {
            let f = tmp.join(rel);
            if let Some(d) = f.parent() {
                fs_err::create_dir_all(d).map_err(ReportError::Io)?;
            }
            fs_err::write(&f, bytes).map_err(ReportError::Io)?;
        }
        replace(&dir)?;
        fs_err::rename(&tmp, &dir).map_err(ReportError::Io)?;
    }
    let tmp = path.with_extension("html.tmp");
    fs_err::write(&tmp, report.html.as_bytes()).map_err(ReportError::Io)?;
    fs_err::rename(&tmp, path).map_err(ReportError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Exchange;
    use crate::environment::View;
    use crate::replay::tests::{manifest, record};
    use crate::replay::ReplayWriter;

    fn jpeg() -> Vec<u8> {
        let img = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 100, 50]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&img)
            .unwrap();
        out
    }

    #[test]
    fn report_escapes_answers_and_embeds_everything() {
        let root = tempfile::tempdir().unwrap();
        let mut m = manifest("s<1>");
        m.reasoner = "openai:<img src=x onerror=alert(1)>".into();
        let mut w = ReplayWriter::create(root.path(), &m).unwrap();
        let mut r = record(1);
        r.views = w
            .save_views(
                1,
                &[View {
                    heading: 0.0,
                    heading_ref: crate::environment::HeadingRef::Compass,
                    pitch: 0.0,
                    fov: 90.0,
                    width: 64,
                    height: 48,
                    jpeg: jpeg(),
                }],
            )
            .unwrap();
        r.guess.exchanges.push(Exchange {
            purpose: "answer".into(),
            prompt: "Where is this?".into(),
            raw: Some("<script>alert('x')</script> & more".into()),
            ..Default::default()
        });
        w.append(&r).unwrap();
        let rep = build(&[root.path().join("s<1>")], &[]).unwrap();
        let h = &rep.html;
        assert!(!h.contains("<script"), "a raw script tag got through");
        assert!(h.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; more"));
        assert!(!h.contains("<img src=x"));
        assert!(h.contains("data:image/jpeg;base64,"));
        assert!(!h.contains("http://") && !h.contains("https://") || only_namespace_urls(h));
        assert!(h.contains("id=\"worldmap\"") && h.contains("id=\"histogram\""));
        assert_eq!(rep.rounds, 1);
    }

    /// The only URLs allowed are XML namespace names, which browsers never fetch.
    fn only_namespace_urls(h: &str) -> bool {
        let mut rest = h;
        while let Some(i) = rest.find("http") {
            let tail = &rest[i..];
            if !tail.starts_with("http://www.w3.org/") {
                return false;
            }
            rest = &tail[4..];
        }
        true
    }

    #[test]
    fn empty_input_says_what_to_pass() {
        let e = build(&[], &[]).unwrap_err().to_string();
        assert!(e.contains("--dir"), "{e}");
        let root = tempfile::tempdir().unwrap();
        ReplayWriter::create(root.path(), &manifest("e")).unwrap();
        let e = build(&[root.path().join("e")], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no finished round"), "{e}");
    }
}
