//! `geoagent report`: one self-contained HTML file about a set of sessions, readable offline
//! (no script, font, image or style is fetched at view time): a summary table, a points
//! histogram and a distance CDF per player (SVG from [`charts`]), the accuracy-band table, a
//! world map of every round's truth, guess and the line between them ([`worldmap`]), win rates
//! against people when human results are given, and a card per round with its views (downscaled
//! JPEGs as data URLs) and the model's full answer.
//!
//! The statistics are the `stats` command's own ([`crate::stats::compare::build_report`]), so
//! the report and `geoagent stats` always agree. Every value from a replay is HTML-escaped by the
//! maud templates: a model answer containing `<script>` renders as text.

pub mod charts;
pub mod worldmap;

use crate::agent::GuessSource;
use crate::replay::catalog::{spend, Spend};
use crate::replay::{Replay, ReplayError, RoundRecord};
use crate::stats::compare::{build_report, round_label, CommandError, PlayerReport, StatsOptions};
use crate::stats::WinRate;
use base64::Engine as _;
use charts::{color_hex, ChartError, Series};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Views are scaled to fit this width in the report: large enough to read signs, small enough
/// that a 100-round report with 4 views per round stays a few MB.
pub const VIEW_THUMB_WIDTH: u32 = 400;
/// And this height (views are 4:3 or 16:9).
pub const VIEW_THUMB_HEIGHT: u32 = 300;
/// JPEG quality of the downscaled views.
pub const VIEW_THUMB_QUALITY: u8 = 70;
/// Individual human players in the win-rate table besides the pooled comparison.
pub const TOP_HUMAN_PLAYERS: usize = 3;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("nothing to report: {0}")]
    NoInput(String),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Stats(#[from] CommandError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A built report.
#[derive(Debug, Clone)]
pub struct Report {
    pub html: String,
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
            let label = round_label(&r.manifest.reasoner, &r.manifest.strategy, &x.guess);
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

/// Reads the sessions in `dirs` (and human results in `humans`) and renders the report.
pub fn build(dirs: &[PathBuf], humans: &[PathBuf]) -> Result<Report, ReportError> {
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
    let pins: Vec<worldmap::Pin> = players
        .iter()
        .enumerate()
        .flat_map(|(k, p)| {
            p.rounds.iter().map(move |(rep, r)| worldmap::Pin {
                truth: r.result.truth,
                guess: r.result.guess,
                label: format!(
                    "{} · round {} · {:.0} km · {} points",
                    p.label, r.round, r.result.distance_km, r.result.points
                ),
                player: k,
                anchor: card_id(rep, r),
            })
        })
        .collect();
    let mut cards = Vec::with_capacity(rounds);
    for (k, p) in players.iter().enumerate() {
        for (rep, r) in &p.rounds {
            cards.push(card(rep, r, &p.label, &colors[k], &mut notes));
        }
    }
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
        @if !humans.is_empty() {
            h2 { "Win rate against people" }
            (versus_table(&stats.players))
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
        h2 { "Rounds" }
        @for c in &cards { (c) }
    };
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "geoagent report" }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string();
    Ok(Report {
        html,
        sessions: replays.len(),
        rounds,
        notes,
    })
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5rem auto;max-width:1200px;color:#222;padding:0 1rem}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .55rem;text-align:left;vertical-align:top}\
.meta{color:#666}.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em;border-radius:2px}\
.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts figure{margin:0}\
#worldmap{width:100%;height:auto;border:1px solid #bbb;background:#eaf2f8}\
.card{border:1px solid #ccc;border-left:6px solid #888;border-radius:4px;padding:.6rem 1rem;margin:1rem 0}\
.views img{max-width:32%;margin:.15rem;border:1px solid #999}.views .missing{color:#a00}\
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:.5rem;max-height:30rem;overflow:auto}";

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

fn card_id(rep: &Replay, r: &RoundRecord) -> String {
    format!("s-{}-r{}", rep.manifest.session_id, r.round)
}

/// A view as a downscaled JPEG data URL.
fn thumbnail(rep: &Replay, v: &crate::replay::ViewRecord) -> Result<String, String> {
    let bytes = rep.view_bytes(v).map_err(|e| e.to_string())?;
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
        .map_err(|e| format!("{}: {e}", rep.dir.join(&v.file).display()))?
        .thumbnail(VIEW_THUMB_WIDTH, VIEW_THUMB_HEIGHT)
        .to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, VIEW_THUMB_QUALITY)
        .encode_image(&img)
        .map_err(|e| format!("{}: {e}", rep.dir.join(&v.file).display()))?;
    Ok(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(out)
    ))
}

fn card(
    rep: &Replay,
    r: &RoundRecord,
    label: &str,
    color: &str,
    notes: &mut Vec<String>,
) -> Markup {
    let views: Vec<(String, Result<String, String>)> = r
        .views
        .iter()
        .map(|v| {
            (
                format!("heading {:.0}°, fov {:.0}°", v.heading, v.fov),
                thumbnail(rep, v),
            )
        })
        .collect();
    for (_, t) in &views {
        if let Err(e) = t {
            notes.push(format!("view not shown: {e}"));
        }
    }
    let source = match &r.guess.source {
        GuessSource::Model => "model".to_string(),
        GuessSource::Baseline => "baseline".to_string(),
        GuessSource::Fallback { reason } => format!("fallback: {reason}"),
    };
    let m = &rep.manifest;
    html! {
        div class="card" id=(card_id(rep, r)) style={ "border-left-color:" (color) } {
            h3 { "Round " (r.round) " · " (label) }
            p class="meta" { "Session " (m.session_id) " · " (m.map.name) " · challenge " (m.challenge.id)
                @if let Some(p) = &m.parent { " · re-run of " (p) } }
            div class="views" {
                @for (alt, t) in &views {
                    @match t {
                        Ok(url) => img src=(url) alt=(alt) title=(alt);,
                        Err(_) => span class="missing" { "(view missing: " (alt) ")" },
                    }
                }
            }
            table class="result" {
                tr { th { "Truth" } td { (r.result.truth) @if let Some(p) = &r.result.place { " · " (p) } } }
                tr { th { "Guess" } td { (r.result.guess) " (" (source) ")"
                    @if let Some(c) = &r.guess.country { " · country " (c) }
                    @if let Some(c) = r.guess.confidence { " · confidence " (format!("{c:.2}")) } } }
                tr { th { "Distance" } td { (format!("{:.1} km", r.result.distance_km)) } }
                tr { th { "Points" } td { (r.result.points) } }
            }
            @if let Some(rat) = &r.guess.rationale { p { b { "Rationale: " } (rat) } }
            @if r.guess.assisted() {
                table class="hints" {
                    tr { th { "Hint" } th { "By" } th { "At" } th { "Guess before → after" } }
                    @for v in &r.guess.revisions {
                        @for h in &v.hints {
                            tr { td { (h.text) } td { (h.by) } td { (h.at.format("%Y-%m-%d %H:%M:%S UTC")) }
                                 td { (pos_text(v.before)) " → " (pos_text(v.after)) } }
                        }
                    }
                }
            }
            @for note in &r.guess.notes { p class="meta" { "Parser: " (note) } }
            @for e in &r.guess.exchanges {
                details {
                    summary { "Prompt (" (e.purpose) ", " (e.images) " image(s))" }
                    @if let Some(s) = &e.system { pre { (s) } }
                    pre { (e.prompt) }
                }
                @if let Some(raw) = &e.raw { p { b { "Model answer (" (e.purpose) "):" } } pre class="answer" { (raw) } }
                @if let Some(err) = &e.error { p { b { "Error (" (e.purpose) "): " } (err) } }
            }
        }
    }
}

/// A guess position for the hints table; "(none)" when there was no readable answer.
fn pos_text(p: Option<crate::geo::LatLon>) -> String {
    p.map_or_else(|| "(none)".to_string(), |p| p.to_string())
}

/// Writes the report to `path` (through a temporary file, so a failed write leaves no half
/// report behind).
pub fn write(path: &Path, report: &Report) -> Result<(), ReportError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| ReportError::Io { path: p, source }
    };
    let tmp = path.with_extension("html.tmp");
    std::fs::write(&tmp, report.html.as_bytes()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
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
