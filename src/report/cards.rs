//! A round's card in the report: its views, truth, guess, distance and points (re-scored where
//! the session has a `rescored.json`), the model's rationale and answer; and the downscaled
//! JPEGs the views are shown as.

use crate::replay::{rescore, Replay, RoundRecord, ViewRecord};
use maud::{html, Markup};

/// Characters of a model answer or prompt on a card of a paged report: a long answer is rare,
/// and a thousand of them must not make the report huge (`replay show --round N` has it all).
pub(crate) const PAGED_TEXT_CHARS: usize = 4000;

/// The id of a round's card (the world map's and the best/worst lists' links point at it).
pub(crate) fn card_id(rep: &Replay, r: &RoundRecord) -> String {
    format!("s-{}-r{}", rep.manifest.session_id, r.round)
}

/// A view as a downscaled JPEG of at most `w`×`h` pixels.
pub fn thumbnail(
    rep: &Replay,
    v: &ViewRecord,
    w: u32,
    h: u32,
    quality: u8,
) -> Result<Vec<u8>, String> {
    let (_, img) = rep.view_checked(v).map_err(|e| e.to_string())?;
    let name = || rep.dir.join(&v.file).display().to_string();
    let img = img.thumbnail(w, h).to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&img)
        .map_err(|e| format!("{}: {e}", name()))?;
    Ok(out)
}

/// How one view appears on a card.
pub struct ViewShown {
    /// "heading 90°, fov 90°" (or "start view +90°, fov 90°" when the compass direction is
    /// unknown).
    pub alt: String,
    /// The image to show (a data URL or a path relative to the page), or why there is none.
    pub img: Result<Option<String>, String>,
    /// A link to the full-size view (the session's own file), when shown as a link.
    pub link: Option<String>,
}

impl ViewShown {
    pub(crate) fn alt_of(v: &ViewRecord) -> String {
        match v.heading_ref {
            crate::environment::HeadingRef::Compass => {
                format!("heading {:.0}°, fov {:.0}°", v.heading, v.fov)
            }
            crate::environment::HeadingRef::Start => {
                format!("start view +{:.0}°, fov {:.0}°", v.heading, v.fov)
            }
        }
    }
}

/// What the card says of the texts: everything (a self-contained report) or clipped texts
/// without the prompts (a paged one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Full,
    Clipped,
}

fn clip(s: &str, detail: Detail) -> String {
    match detail {
        Detail::Full => s.to_string(),
        Detail::Clipped if s.chars().count() <= PAGED_TEXT_CHARS => s.to_string(),
        Detail::Clipped => format!(
            "{}… (cut; `geoagent replay show` has it all)",
            s.chars().take(PAGED_TEXT_CHARS).collect::<String>()
        ),
    }
}

/// A guess position for the hints table; "(none)" when there was no readable answer.
fn pos_text(p: Option<crate::geo::LatLon>) -> String {
    p.map_or_else(|| "(none)".to_string(), |p| p.to_string())
}

/// A round's card.
pub fn card(
    rep: &Replay,
    r: &RoundRecord,
    label: &str,
    color: &str,
    views: &[ViewShown],
    detail: Detail,
) -> Markup {
    let m = &rep.manifest;
    let recorded = rescore::recorded_points(rep, r.round);
    html! {
        div class="card" id=(card_id(rep, r)) style={ "border-left-color:" (color) } {
            h3 { "Round " (r.round) " · " (label) }
            p class="meta" { "Session " (m.session_id) " · " (m.map.name) " · challenge " (m.challenge.id)
                @if let Some(p) = &m.parent { " · re-run of " (p) } }
            div class="views" {
                @for v in views {
                    @match (&v.img, &v.link) {
                        (Ok(Some(src)), Some(link)) => a href=(link) { img src=(src) alt=(v.alt) title=(v.alt) loading="lazy"; },
                        (Ok(Some(src)), None) => img src=(src) alt=(v.alt) title=(v.alt);,
                        (Ok(None), Some(link)) => a class="viewlink" href=(link) { "view: " (v.alt) },
                        (Ok(None), None) => span class="missing" { "(view not kept: " (v.alt) ")" },
                        (Err(_), _) => span class="missing" { "(view missing: " (v.alt) ")" },
                    }
                }
            }
            table class="result" {
                tr { th { "Truth" } td { (r.result.truth) @if let Some(p) = &r.result.place { " · " (p) } } }
                tr { th { "Guess" } td { (r.result.guess) " (" (r.guess.source) ")"
                    @if let Some(c) = &r.guess.country { " · country " (c) }
                    @if let Some(c) = r.guess.confidence { " · confidence " (format!("{c:.2}")) } } }
                tr { th { "Distance" } td { (format!("{:.1} km", r.result.distance_km)) } }
                tr { th { "Points" } td { (r.result.points)
                    @if let Some(p) = recorded { " (re-scored; recorded " (p) ")" } } }
            }
            @if let Some(rat) = &r.guess.rationale { p { b { "Rationale: " } (clip(rat, detail)) } }
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
                @if detail == Detail::Full {
                    details {
                        summary { "Prompt (" (e.purpose) ", " (e.images) " image(s))" }
                        @if let Some(s) = &e.system { pre { (s) } }
                        pre { (e.prompt) }
                    }
                }
                @if let Some(raw) = &e.raw { p { b { "Model answer (" (e.purpose) "):" } } pre class="answer" { (clip(raw, detail)) } }
                @if let Some(err) = &e.error { p { b { "Error (" (e.purpose) "): " } (clip(err, detail)) } }
            }
            @if detail == Detail::Clipped && !r.guess.exchanges.is_empty() {
                p class="meta" { "Prompts: geoagent replay show " (m.session_id) " --round " (r.round) }
            }
        }
    }
}

/// The report's style sheet (the main page and, for a paged report, every page beside it).
pub(crate) const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5rem auto;max-width:1200px;color:#222;padding:0 1rem}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .55rem;text-align:left;vertical-align:top}\
.meta{color:#666}.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em;border-radius:2px}\
.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts figure{margin:0}\
#worldmap{width:100%;height:auto;border:1px solid #bbb;background:#eaf2f8}\
.card{border:1px solid #ccc;border-left:6px solid #888;border-radius:4px;padding:.6rem 1rem;margin:1rem 0}\
.views img{max-width:32%;margin:.15rem;border:1px solid #999}.views .missing{color:#a00}.views .viewlink{margin-right:.8rem}\
nav.pages a{display:inline-block;margin:.1rem .5rem .1rem 0}\
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:.5rem;max-height:30rem;overflow:auto}";

/// A whole HTML document with the report's style.
pub fn document(title: &str, body: Markup) -> String {
    use maud::{PreEscaped, DOCTYPE};
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

/// Threads that downscale views at once: the work is CPU-bound JPEG decoding and encoding.
const MAX_THUMB_THREADS: usize = 8;

/// `f` over `items` on up to [`MAX_THUMB_THREADS`] threads (the machine's cores), in order.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THUMB_THREADS);
    if threads == 1 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                // A panic in image code is a bug; re-raise it rather than lose rounds silently.
                Err(e) => std::panic::resume_unwind(e),
            })
            .collect()
    })
}
