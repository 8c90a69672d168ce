//! A report of many rounds, kept small and quick to write: the main page holds the summary,
//! charts and world map as always, the best and worst rounds, and links to every round; the
//! rounds themselves are on pages beside it (`<name>_files/rounds-001.html`, ...), in play order
//! and by country of the truth, each round's first view as a small thumbnail
//! (`<name>_files/t/NNNNN.jpg`) linking to the session's own full-size views.
//!
//! Only the first view of each round is decoded and downscaled: decoding every view is what made
//! a 1,000-round report take most of a minute, and the others stay one click away in the
//! session folder. Prompts are left out of these cards and long texts are cut
//! (`geoagent replay show` has them), so the pages grow with the rounds, not with what the
//! model wrote.

use super::cards::{self, card, card_id, Detail, ViewShown};
use crate::replay::{Replay, RoundRecord};
use maud::{html, Markup};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Rounds per page beside the report: a page of 100 cards with thumbnails opens quickly.
pub(crate) const ROUNDS_PER_PAGE: usize = 100;
/// Best rounds, and worst rounds, shown on the main page.
pub(crate) const BEST_WORST_SHOWN: usize = 10;
/// The thumbnail of a paged round: big enough to recognise the scene, ~4 KB (a thousand of
/// them are most of a large report).
pub(crate) const PAGED_THUMB_WIDTH: u32 = 240;
pub(crate) const PAGED_THUMB_HEIGHT: u32 = 180;
pub(crate) const PAGED_THUMB_QUALITY: u8 = 50;
/// The thumbnails' folder inside the files folder.
pub(crate) const THUMBS_DIR: &str = "t";
/// A file in every files folder this module writes: only a folder holding it is ever replaced.
pub(crate) const FILES_MARKER: &str = ".geoagent-report";

/// One round of the report, in play order (players, then their sessions and rounds).
pub struct Entry<'a> {
    pub player: usize,
    pub label: &'a str,
    pub rep: &'a Replay,
    pub rec: &'a RoundRecord,
    /// Country of the truth (ISO code or the map's name for it), for the filter by country.
    pub country: Option<String>,
}

/// What the paged layout produced.
pub struct Paged {
    /// Files to write into the files folder (relative paths), pages and thumbnails.
    pub files: Vec<(String, Vec<u8>)>,
    /// Per entry, the link from the main page to its card.
    pub hrefs: Vec<String>,
    /// The main page's rounds section.
    pub section: Markup,
}

/// Where the report goes: the folder of the main page and the files folder's name in it.
pub struct Place<'a> {
    pub out_dir: &'a Path,
    pub files_dir: &'a str,
    pub main_file: &'a str,
}

fn page_file(page: usize) -> String {
    format!("rounds-{:03}.html", page + 1)
}

fn country_file(k: usize) -> String {
    format!("country-{:03}.html", k + 1)
}

fn thumb_file(i: usize) -> String {
    format!("{THUMBS_DIR}/{i:05}.jpg")
}

/// Percent-encodes a path segment for a URL (everything but unreserved characters).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `p` as an absolute path with symbolic links resolved as far as it exists (the files folder
/// does not exist yet when the pages are made).
fn absolute(p: &Path) -> PathBuf {
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut existing = p.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(n) => {
                rest.push(n.to_owned());
                existing.pop();
            }
            None => break,
        }
    }
    let mut out = std::fs::canonicalize(&existing).unwrap_or(existing);
    out.extend(rest.iter().rev());
    out
}

/// A relative link from a page in the folder `from` to the file `to`, so the report and the
/// replays can move together.
pub(crate) fn link(from: &Path, to: &Path) -> String {
    let parts = |p: &Path| -> Vec<String> {
        absolute(p)
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect()
    };
    let (f, t) = (parts(from), parts(to));
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut segs: Vec<String> = std::iter::repeat_n("..".to_string(), f.len() - common).collect();
    segs.extend(t[common..].iter().map(|s| encode_segment(s)));
    segs.join("/")
}

/// The views of a card seen from a page in `page_dir`: the first as its thumbnail (`thumb`,
/// relative to that page) linking to the full view, the others as links to the session's files.
/// A view the replay does not accept (a crafted name) is never linked.
fn views_from(
    e: &Entry,
    page_dir: &Path,
    thumb: Option<&Result<String, String>>,
) -> Vec<ViewShown> {
    e.rec
        .views
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let alt = ViewShown::alt_of(v);
            let target = e.rep.view_path(v).ok().map(|p| link(page_dir, &p));
            let img = match (k, thumb) {
                (0, Some(Ok(src))) => Ok(Some(src.clone())),
                (0, Some(Err(why))) => Err(why.clone()),
                _ if target.is_none() => Err("refused".into()),
                _ => Ok(None),
            };
            ViewShown {
                alt,
                img,
                link: target,
            }
        })
        .collect()
}

/// Lays out `entries` as pages beside the main page; `notes` gets any view that could not be shown.
pub fn build(
    entries: &[Entry],
    colors: &[String],
    place: &Place,
    notes: &mut Vec<String>,
) -> Paged {
    let files_abs: PathBuf = place.out_dir.join(place.files_dir);
    // Thumbnails first, on every core: the only heavy work.
    let thumbs: Vec<Option<Result<Vec<u8>, String>>> = cards::par_map(entries, |e| {
        e.rec.views.first().map(|v| {
            cards::thumbnail(
                e.rep,
                v,
                PAGED_THUMB_WIDTH,
                PAGED_THUMB_HEIGHT,
                PAGED_THUMB_QUALITY,
            )
        })
    });
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    // Each entry's thumbnail as seen from a page in the files folder, and from the main page.
    let mut from_pages: Vec<Option<Result<String, String>>> = Vec::with_capacity(entries.len());
    let mut from_main: Vec<Option<Result<String, String>>> = Vec::with_capacity(entries.len());
    for (i, t) in thumbs.into_iter().enumerate() {
        match t {
            None => {
                from_pages.push(None);
                from_main.push(None);
            }
            Some(Ok(bytes)) => {
                let f = thumb_file(i);
                from_main.push(Some(Ok(format!("{}/{f}", encode_segment(place.files_dir)))));
                from_pages.push(Some(Ok(f.clone())));
                files.push((f, bytes));
            }
            Some(Err(why)) => {
                notes.push(format!("view not shown: {why}"));
                from_pages.push(Some(Err(why.clone())));
                from_main.push(Some(Err(why)));
            }
        }
    }
    let color = |e: &Entry| colors.get(e.player).cloned().unwrap_or_default();
    let pages = entries.len().div_ceil(ROUNDS_PER_PAGE).max(1);
    let back = html! { a href={ "../" (encode_segment(place.main_file)) } { "← report" } };
    let nav = |current: Option<usize>| {
        html! {
            nav class="pages" {
                (back)
                @for p in 0..pages {
                    @let first = p * ROUNDS_PER_PAGE + 1;
                    @let last = ((p + 1) * ROUNDS_PER_PAGE).min(entries.len());
                    @if Some(p) == current { b { (first) "–" (last) } }
                    @else { a href=(page_file(p)) { (first) "–" (last) } }
                }
            }
        }
    };
    for p in 0..pages {
        let range = p * ROUNDS_PER_PAGE..((p + 1) * ROUNDS_PER_PAGE).min(entries.len());
        let body = html! {
            (nav(Some(p)))
            h1 { "Rounds " (range.start + 1) "–" (range.end) " of " (entries.len()) }
            @for i in range.clone() {
                @let e = &entries[i];
                (card(e.rep, e.rec, e.label, &color(e), &views_from(e, &files_abs, from_pages[i].as_ref()), Detail::Clipped))
            }
            (nav(Some(p)))
        };
        files.push((
            page_file(p),
            cards::document(
                &format!("geoagent report: rounds {}–{}", range.start + 1, range.end),
                body,
            )
            .into_bytes(),
        ));
    }
    let page_of = |i: usize| i / ROUNDS_PER_PAGE;
    let hrefs: Vec<String> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "{}/{}#{}",
                encode_segment(place.files_dir),
                page_file(page_of(i)),
                card_id(e.rep, e.rec)
            )
        })
        .collect();

    // By country of the truth: a page per country listing its rounds, best first.
    let mut by_country: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        by_country
            .entry(e.country.clone().unwrap_or_else(|| "unknown".into()))
            .or_default()
            .push(i);
    }
    let mut countries: Vec<(String, Vec<usize>)> = by_country.into_iter().collect();
    countries.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let mean = |ix: &[usize]| {
        ix.iter()
            .map(|&i| f64::from(entries[i].rec.result.points))
            .sum::<f64>()
            / ix.len().max(1) as f64
    };
    for (k, (name, ix)) in countries.iter().enumerate() {
        let mut ix = ix.clone();
        ix.sort_by(|&a, &b| {
            entries[b]
                .rec
                .result
                .points
                .cmp(&entries[a].rec.result.points)
        });
        let body = html! {
            (nav(None))
            h1 { "Rounds in " (name) }
            p class="meta" { (ix.len()) " round(s), mean " (format!("{:.0}", mean(&ix))) " points; best first." }
            table class="country" {
                tr { th { "Player" } th { "Session" } th { "Round" } th { "Points" } th { "Distance" } th { "Guessed country" } }
                @for &i in &ix {
                    @let e = &entries[i];
                    tr {
                        td { (e.label) }
                        td { (e.rep.manifest.session_id) }
                        td { a href={ (page_file(page_of(i))) "#" (card_id(e.rep, e.rec)) } { "round " (e.rec.round) } }
                        td { (e.rec.result.points) }
                        td { (format!("{:.1} km", e.rec.result.distance_km)) }
                        td { (e.rec.guess.country.as_deref().unwrap_or("–")) }
                    }
                }
            }
        };
        files.push((
            country_file(k),
            cards::document(&format!("geoagent report: rounds in {name}"), body).into_bytes(),
        ));
    }

    // Best and worst on the main page.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&entries[a].rec.result, &entries[b].rec.result);
        y.points
            .cmp(&x.points)
            .then(x.distance_km.total_cmp(&y.distance_km))
    });
    let best: Vec<usize> = order.iter().copied().take(BEST_WORST_SHOWN).collect();
    let worst: Vec<usize> = order.iter().rev().copied().take(BEST_WORST_SHOWN).collect();
    let main_card = |i: usize| {
        let e = &entries[i];
        card(
            e.rep,
            e.rec,
            e.label,
            &color(e),
            &views_from(e, place.out_dir, from_main[i].as_ref()),
            Detail::Clipped,
        )
    };
    let files_dir = encode_segment(place.files_dir);
    let section = html! {
        h2 { "Rounds" }
        p class="meta" {
            (entries.len()) " rounds: every one is on the pages beside this report (" code { (place.files_dir) "/" }
            ", " (ROUNDS_PER_PAGE) " a page, in play order, and by country of the truth); the best and worst "
            (BEST_WORST_SHOWN) " are below. A thumbnail links to the session's full-size view."
        }
        nav class="pages" id="round-pages" {
            @for p in 0..pages {
                @let first = p * ROUNDS_PER_PAGE + 1;
                @let last = ((p + 1) * ROUNDS_PER_PAGE).min(entries.len());
                a href={ (files_dir) "/" (page_file(p)) } { "rounds " (first) "–" (last) }
            }
        }
        h3 { "By country" }
        table id="countries" {
            tr { th { "Country of the truth" } th { "Rounds" } th { "Mean points" } }
            @for (k, (name, ix)) in countries.iter().enumerate() {
                tr {
                    td { a href={ (files_dir) "/" (country_file(k)) } { (name) } }
                    td { (ix.len()) }
                    td { (format!("{:.0}", mean(ix))) }
                }
            }
        }
        h3 id="best" { "Best rounds" }
        @for &i in &best { (main_card(i)) }
        h3 id="worst" { "Worst rounds" }
        @for &i in &worst { (main_card(i)) }
    };
    files.push((
        FILES_MARKER.to_string(),
        b"written by geoagent report\n".to_vec(),
    ));
    Paged {
        files,
        hrefs,
        section,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_and_encoded() {
        let t = tempfile::tempdir().unwrap();
        // The files folder need not exist yet.
        let a = t.path().join("out dir").join("r_files");
        let b = t.path().join("replays").join("s#1").join("views");
        std::fs::create_dir_all(t.path().join("out dir")).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let v = b.join("r001_v0.jpg");
        std::fs::write(&v, b"x").unwrap();
        assert_eq!(link(&a, &v), "../../replays/s%231/views/r001_v0.jpg");
        assert_eq!(encode_segment("a b/é"), "a%20b%2F%C3%A9");
    }
}
