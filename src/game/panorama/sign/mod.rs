//! Road direction signs in the painted panoramas: what a sign says and how its face looks.
//!
//! This module owns [`SignContent`] (which real nearby places a sign at a location names, with
//! their distances, the arrow toward each and the sign's colours, all from
//! [`crate::geo::gazetteer`]) and the rendering of the sign face into a small texture the
//! painter draws as a roadside billboard.
//!
//! Text is shaped with `rustybuzz` (a port of HarfBuzz: Arabic joining, Indic reordering and
//! conjuncts, Thai mark placement) and rasterised with `ab_glyph_rasterizer`, from Noto fonts
//! embedded in the binary (`assets/fonts/`, SIL OFL 1.1). Bilingual signs show the local-script
//! name above the Latin one, as real bilingual signs do.
//!
//! Fairness: a sign names *other* places, never the location's own place (`Location::place`);
//! [`SignContent::for_location`] drops any destination whose name appears in it.

use crate::game::Location;
use crate::geo::gazetteer::{self, DistanceUnit};
use ab_glyph_rasterizer::{point, Point, Rasterizer};
use rustybuzz::ttf_parser::{GlyphId, OutlineBuilder};
use std::sync::OnceLock;
use tracing::warn;

/// Most destinations one sign lists: two keeps the text large enough to read in a 2048-pixel
/// panorama.
pub(crate) const MAX_DESTINATIONS: usize = 2;
/// Texture resolution of the sign face (texels per metre): about three texels per panorama
/// pixel at the sign's distance, so the box filter has detail to average.
const TEXELS_PER_M: f32 = 110.0;
/// Height of one text line's box (m). Larger than real rural signs (about 0.25 m) so the names
/// stay readable at the panorama's 5.7 pixels per degree.
const LINE_M: f32 = 0.40;
/// Font size (em, m) within a line box; Noto's ascender plus descender is about 1.3 em.
const EM_M: f32 = LINE_M / 1.3;
/// Where the baseline sits in a line box, from its top (share of the box).
const BASELINE_SHARE: f32 = 0.76;
/// Margin inside the sign's edge (m).
const PAD_M: f32 = 0.14;
/// Side of the arrow's square (m).
const ARROW_M: f32 = 0.42;
/// Gap between the names and the distance column (m).
const COLUMN_GAP_M: f32 = 0.3;
/// Space between two destinations (m).
const ROW_GAP_M: f32 = 0.12;
/// Widest sign face (m); longer names are set smaller to fit.
const MAX_WIDTH_M: f32 = 3.6;
/// The border line (m) and its distance from the edge (m).
const BORDER_M: f32 = 0.035;
const BORDER_INSET_M: f32 = 0.05;

/// Direction a destination's arrow points, seen by a driver heading north along the road.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrow {
    Ahead,
    Left,
    Right,
}

impl Arrow {
    /// The arrow for a destination at `bearing` (degrees from north) from a road running north:
    /// ahead within 45°, otherwise the side it lies on (places behind are reached by turning).
    pub(crate) fn for_bearing(bearing: f64) -> Arrow {
        let b = (bearing + 180.0).rem_euclid(360.0) - 180.0;
        if b.abs() <= 45.0 {
            Arrow::Ahead
        } else if b > 0.0 {
            Arrow::Right
        } else {
            Arrow::Left
        }
    }
}

/// One line of a sign: a place and how far it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// The name in the local script, printed above `name` (bilingual signs).
    pub local: Option<&'static str>,
    /// The name in Latin letters.
    pub name: &'static str,
    /// Straight-line great-circle distance (km), before rounding.
    pub km: f64,
    /// The figure printed: whole kilometres or miles.
    pub distance: u32,
    pub arrow: Arrow,
}

/// Background and text colour of a country's direction signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignStyle {
    pub background: [u8; 3],
    pub text: [u8; 3],
}

/// White on green: the common direction sign of the Americas, Oceania, Africa, the UK and India.
pub(crate) const GREEN: SignStyle = SignStyle {
    background: [0, 105, 72],
    text: [245, 245, 240],
};
/// White on blue: Italy, Switzerland, the Nordics, Russia, Greece, Turkey, Japan, Korea,
/// Thailand, the UAE.
pub(crate) const BLUE: SignStyle = SignStyle {
    background: [18, 70, 150],
    text: [245, 245, 240],
};
/// Black on white: French and Spanish ordinary roads.
pub(crate) const WHITE: SignStyle = SignStyle {
    background: [238, 238, 232],
    text: [20, 20, 20],
};
/// Black on yellow: German federal and state roads.
pub(crate) const YELLOW: SignStyle = SignStyle {
    background: [246, 196, 0],
    text: [20, 20, 20],
};

/// Countries whose ordinary-road direction signs are not white on green.
const SIGN_STYLES: &[(&str, SignStyle)] = &[
    ("AE", BLUE),
    ("CH", BLUE),
    ("DE", YELLOW),
    ("ES", WHITE),
    ("FI", BLUE),
    ("FR", WHITE),
    ("GR", BLUE),
    ("IT", BLUE),
    ("JP", BLUE),
    ("KR", BLUE),
    ("NO", BLUE),
    ("RU", BLUE),
    ("SE", BLUE),
    ("TH", BLUE),
    ("TR", BLUE),
];

/// Countries whose signs print the unit ("km") after the figure; elsewhere the figure stands
/// alone.
const UNIT_SHOWN: &[&str] = &["JP", "KR"];

/// The location's own town, lower case: `Location::place` up to its first comma.
pub(crate) fn answer_town(loc: &Location) -> String {
    let place = loc.place.as_deref().unwrap_or("");
    place.split(',').next().unwrap_or("").trim().to_lowercase()
}

/// Whether `name` and the answer's town are the same or one contains the other ("Lake
/// Tekapo" and "Tekapo"); empty names never match.
fn names_answer(name: &str, town: &str) -> bool {
    let n = name.trim().to_lowercase();
    !n.is_empty() && !town.is_empty() && (town.contains(&n) || n.contains(town))
}

/// The sign colours of `country`.
pub(crate) fn style_for(country: &str) -> SignStyle {
    SIGN_STYLES
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(country))
        .map_or(GREEN, |(_, s)| *s)
}

/// Everything one sign shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SignContent {
    pub destinations: Vec<Destination>,
    pub unit: DistanceUnit,
    /// Whether the figure is followed by the unit's symbol.
    pub unit_shown: bool,
    pub style: SignStyle,
}

impl SignContent {
    /// The sign at `loc`: up to [`MAX_DESTINATIONS`] gazetteer places in its country, nearest
    /// first; `None` when the country is unknown or no place is near enough.
    pub(crate) fn for_location(loc: &Location) -> Option<SignContent> {
        let country = loc.country.as_deref()?;
        // The answer's own place is its first component ("Suzdal" of "Suzdal, Vladimir Oblast,
        // Russia"); the region after it may be named, as real signs name regional capitals.
        let answer = answer_town(loc);
        let destinations: Vec<Destination> =
            gazetteer::nearby(loc.pos, country, gazetteer::MAX_SIGN_KM, usize::MAX)
                .into_iter()
                .filter(|(p, _)| {
                    // Never the answer's own name, in any spelling the sign might print.
                    let names = [Some(p.name), p.local, Some(p.geonames_name())];
                    !names.iter().flatten().any(|n| names_answer(n, &answer))
                })
                .take(MAX_DESTINATIONS)
                .map(|(p, km)| Destination {
                    local: p.local,
                    name: p.name,
                    km,
                    distance: gazetteer::sign_distance(km, gazetteer::distance_unit(country)),
                    arrow: Arrow::for_bearing(gazetteer::bearing_deg(loc.pos, p.pos())),
                })
                .collect();
        if destinations.is_empty() {
            return None;
        }
        Some(SignContent {
            destinations,
            unit: gazetteer::distance_unit(country),
            unit_shown: UNIT_SHOWN.iter().any(|c| c.eq_ignore_ascii_case(country)),
            style: style_for(country),
        })
    }

    /// The figure as printed for a destination.
    pub(crate) fn distance_text(&self, d: &Destination) -> String {
        match (self.unit_shown, self.unit) {
            (false, _) => d.distance.to_string(),
            (true, DistanceUnit::Kilometres) => format!("{}km", d.distance),
            (true, DistanceUnit::Miles) => format!("{}mi", d.distance),
        }
    }

    /// Every piece of text the sign prints, in reading order.
    pub fn texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.destinations {
            out.extend(d.local.map(str::to_string));
            out.push(d.name.to_string());
            out.push(self.distance_text(d));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Fonts

/// Which bundled font sets a piece of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Latin, Greek and Cyrillic (one font covers all three).
    Latin,
    Arabic,
    Devanagari,
    Thai,
    Kannada,
    Malayalam,
    Sinhala,
    /// Japanese kanji and Korean Hangul (a subset holding the gazetteer's characters only).
    Cjk,
}

const SCRIPTS: [Script; 8] = [
    Script::Latin,
    Script::Arabic,
    Script::Devanagari,
    Script::Thai,
    Script::Kannada,
    Script::Malayalam,
    Script::Sinhala,
    Script::Cjk,
];

/// The font files, in [`SCRIPTS`] order.
static FONT_DATA: [&[u8]; 8] = [
    include_bytes!("../../../../assets/fonts/NotoSans-Bold-subset.ttf"),
    include_bytes!("../../../../assets/fonts/NotoSansArabic-Bold.ttf"),
    include_bytes!("../../../../assets/fonts/NotoSansDevanagari-Bold.ttf"),
    include_bytes!("../../../../assets/fonts/NotoSansThai-Bold.ttf"),
    include_bytes!("../../../../assets/fonts/NotoSansKannada-Regular.ttf"),
    include_bytes!("../../../../assets/fonts/NotoSansMalayalam-Regular.ttf"),
    include_bytes!("../../../../assets/fonts/NotoSansSinhala-Regular.ttf"),
    include_bytes!("../../../../assets/fonts/NotoSansCJKjp-Bold-subset.otf"),
];

/// The script of `text`: the first character of a non-Latin script with a bundled font decides
/// (by the Unicode script property); Latin, Greek and Cyrillic share one font.
pub(crate) fn script_of(text: &str) -> Script {
    use unicode_script::{Script as U, UnicodeScript};
    for c in text.chars() {
        let s = match c.script() {
            U::Arabic => Script::Arabic,
            U::Devanagari => Script::Devanagari,
            U::Thai => Script::Thai,
            U::Kannada => Script::Kannada,
            U::Malayalam => Script::Malayalam,
            U::Sinhala => Script::Sinhala,
            U::Han | U::Hangul | U::Hiragana | U::Katakana => Script::Cjk,
            _ => continue,
        };
        return s;
    }
    Script::Latin
}

fn faces() -> &'static [Option<rustybuzz::Face<'static>>] {
    static FACES: OnceLock<Vec<Option<rustybuzz::Face<'static>>>> = OnceLock::new();
    FACES.get_or_init(|| {
        SCRIPTS
            .iter()
            .zip(FONT_DATA.iter())
            .map(|(script, data)| {
                let face = rustybuzz::Face::from_slice(data, 0);
                if face.is_none() {
                    warn!("the bundled font for {script:?} could not be read; its signs are left out (rebuild geoagent)");
                }
                face
            })
            .collect()
    })
}

fn face(script: Script) -> Option<&'static rustybuzz::Face<'static>> {
    let i = SCRIPTS.iter().position(|s| *s == script)?;
    faces().get(i)?.as_ref()
}

/// A shaped run: glyph ids with pen offsets, in font units.
struct Shaped {
    face: &'static rustybuzz::Face<'static>,
    /// (glyph, x, y offset) in font units from the run's origin on the baseline.
    glyphs: Vec<(u16, i32, i32)>,
    advance: i32,
    units_per_em: f32,
}

/// Shapes `text` with its script's font; `None` when the font is missing or lacks a glyph
/// (a `.notdef` box must never be painted).
fn shape(text: &str) -> Option<Shaped> {
    let face = face(script_of(text))?;
    let mut buf = rustybuzz::UnicodeBuffer::new();
    buf.push_str(text);
    buf.guess_segment_properties();
    let out = rustybuzz::shape(face, &[], buf);
    let mut glyphs = Vec::with_capacity(out.len());
    let mut pen = 0;
    for (info, pos) in out.glyph_infos().iter().zip(out.glyph_positions()) {
        let id = u16::try_from(info.glyph_id).ok()?;
        if id == 0 {
            return None;
        }
        glyphs.push((id, pen + pos.x_offset, pos.y_offset));
        pen += pos.x_advance;
    }
    Some(Shaped {
        face,
        glyphs,
        advance: pen,
        units_per_em: face.units_per_em() as f32,
    })
}

/// Whether every piece of `text` can be set with the bundled fonts.
pub fn renders(text: &str) -> bool {
    shape(text).is_some()
}

// ---------------------------------------------------------------------------------------------
// Rasterising

/// Feeds a glyph outline (font units, y up) into a rasteriser (pixels, y down).
struct Pen {
    raster: Rasterizer,
    scale: f32,
    /// Pixel position of the glyph origin inside the raster.
    ox: f32,
    oy: f32,
    start: Point,
    last: Point,
}

impl Pen {
    fn at(&self, x: f32, y: f32) -> Point {
        point(self.ox + x * self.scale, self.oy - y * self.scale)
    }
}

impl OutlineBuilder for Pen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.start = self.at(x, y);
        self.last = self.start;
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let p = self.at(x, y);
        self.raster.draw_line(self.last, p);
        self.last = p;
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (c, p) = (self.at(x1, y1), self.at(x, y));
        self.raster.draw_quad(self.last, c, p);
        self.last = p;
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (c1, c2, p) = (self.at(x1, y1), self.at(x2, y2), self.at(x, y));
        self.raster.draw_cubic(self.last, c1, c2, p);
        self.last = p;
    }
    fn close(&mut self) {
        if self.last != self.start {
            self.raster.draw_line(self.last, self.start);
        }
        self.last = self.start;
    }
}

/// A coverage map (0–1 per texel) the sign's ink is drawn into.
struct Ink {
    w: usize,
    h: usize,
    cov: Vec<f32>,
}

impl Ink {
    /// Draws a shaped run with its origin at pixel (`x`, `baseline`) and `em` pixels per em.
    fn text(&mut self, run: &Shaped, x: f32, baseline: f32, em: f32) {
        let scale = em / run.units_per_em;
        for &(id, gx, gy) in &run.glyphs {
            let gid = GlyphId(id);
            let Some(bb) = run.face.glyph_bounding_box(gid) else {
                continue; // a space
            };
            let ox = x + gx as f32 * scale;
            let oy = baseline - gy as f32 * scale;
            let x0 = (ox + f32::from(bb.x_min) * scale).floor() - 1.0;
            let x1 = (ox + f32::from(bb.x_max) * scale).ceil() + 1.0;
            let y0 = (oy - f32::from(bb.y_max) * scale).floor() - 1.0;
            let y1 = (oy - f32::from(bb.y_min) * scale).ceil() + 1.0;
            let (rw, rh) = ((x1 - x0) as usize, (y1 - y0) as usize);
            if rw == 0 || rh == 0 {
                continue;
            }
            let mut pen = Pen {
                raster: Rasterizer::new(rw, rh),
                scale,
                ox: ox - x0,
                oy: oy - y0,
                start: point(0.0, 0.0),
                last: point(0.0, 0.0),
            };
            if run.face.outline_glyph(gid, &mut pen).is_none() {
                continue;
            }
            self.blend(&pen.raster, x0 as i64, y0 as i64);
        }
    }

    /// A filled polygon (pixel coordinates).
    fn polygon(&mut self, pts: &[(f32, f32)]) {
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for &(x, y) in pts {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
        let (x0, y0) = (x0.floor() - 1.0, y0.floor() - 1.0);
        let (rw, rh) = (
            (x1.ceil() + 1.0 - x0) as usize,
            (y1.ceil() + 1.0 - y0) as usize,
        );
        let mut r = Rasterizer::new(rw, rh);
        for (i, &(ax, ay)) in pts.iter().enumerate() {
            let (bx, by) = pts[(i + 1) % pts.len()];
            r.draw_line(point(ax - x0, ay - y0), point(bx - x0, by - y0));
        }
        self.blend(&r, x0 as i64, y0 as i64);
    }

    fn blend(&mut self, r: &Rasterizer, x0: i64, y0: i64) {
        let (w, h) = (self.w as i64, self.h as i64);
        r.for_each_pixel_2d(|x, y, a| {
            let (tx, ty) = (x0 + i64::from(x), y0 + i64::from(y));
            if a > 0.0 && (0..w).contains(&tx) && (0..h).contains(&ty) {
                let c = &mut self.cov[(ty * w + tx) as usize];
                *c = c.max(a.min(1.0));
            }
        });
    }

    fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32) {
        self.polygon(&[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]);
    }
}

/// A rendered sign face: texels (row-major, top first) and its size in metres.
#[derive(Debug, Clone)]
pub(super) struct SignFace {
    w: usize,
    h: usize,
    texels: Vec<[f32; 3]>,
    pub width_m: f32,
    pub height_m: f32,
}

impl SignFace {
    /// The mean colour over a `fp`-metre square centred at (`u`, `v`) metres from the face's
    /// top-left corner (a box filter, so text never sparkles when the sign is small).
    pub fn sample(&self, u: f32, v: f32, fp: f32) -> [f32; 3] {
        let fp_t = (fp * TEXELS_PER_M).max(1.0);
        let n = (fp_t.ceil() as usize).clamp(1, 6);
        let step = fp_t / n as f32;
        let (cu, cv) = (u * TEXELS_PER_M, v * TEXELS_PER_M);
        let mut sum = [0.0f32; 3];
        for j in 0..n {
            for i in 0..n {
                let x = cu - fp_t * 0.5 + (i as f32 + 0.5) * step;
                let y = cv - fp_t * 0.5 + (j as f32 + 0.5) * step;
                let tx = (x.max(0.0) as usize).min(self.w - 1);
                let ty = (y.max(0.0) as usize).min(self.h - 1);
                let t = self.texels[ty * self.w + tx];
                sum = [sum[0] + t[0], sum[1] + t[1], sum[2] + t[2]];
            }
        }
        let k = 1.0 / (n * n) as f32;
        [sum[0] * k, sum[1] * k, sum[2] * k]
    }
}

/// One line of text on the sign, shaped, with its size factor.
struct LineRun {
    run: Shaped,
    /// Width (m) at full size.
    width_m: f32,
}

fn line_run(text: &str) -> Option<LineRun> {
    let run = shape(text)?;
    let width_m = run.advance as f32 / run.units_per_em * EM_M;
    Some(LineRun { run, width_m })
}

/// Renders `content` into a sign face; `None` when a name cannot be set with the bundled fonts
/// (then no sign is painted rather than a wrong one).
pub(super) fn render(content: &SignContent) -> Option<SignFace> {
    // Shape everything first to measure it.
    let mut rows = Vec::new();
    for d in &content.destinations {
        let mut names = Vec::new();
        if let Some(local) = d.local {
            names.push(line_run(local)?);
        }
        names.push(line_run(d.name)?);
        rows.push((names, line_run(&content.distance_text(d))?, d.arrow));
    }
    let names_w = rows
        .iter()
        .flat_map(|(n, _, _)| n.iter().map(|l| l.width_m))
        .fold(0.0f32, f32::max);
    let dist_w = rows
        .iter()
        .map(|(_, d, _)| d.width_m)
        .fold(0.0f32, f32::max);
    let natural = PAD_M * 3.0 + ARROW_M + names_w + COLUMN_GAP_M + dist_w;
    // Long names are set smaller rather than making the sign wider than a real one.
    let fit = (MAX_WIDTH_M / natural).min(1.0);
    let width_m = natural.min(MAX_WIDTH_M);
    let lines: usize = rows.iter().map(|(n, _, _)| n.len()).sum();
    let height_m = PAD_M * 2.0 + lines as f32 * LINE_M + (rows.len() - 1) as f32 * ROW_GAP_M;

    let t = TEXELS_PER_M;
    let (w, h) = (
        (width_m * t).ceil() as usize,
        (height_m * t).ceil() as usize,
    );
    let mut ink = Ink {
        w,
        h,
        cov: vec![0.0; w * h],
    };
    // Border: four bars inset from the edge.
    let (i0, b) = (BORDER_INSET_M * t, BORDER_M * t);
    let (wf, hf) = (w as f32, h as f32);
    ink.rect(i0, i0, wf - i0, i0 + b);
    ink.rect(i0, hf - i0 - b, wf - i0, hf - i0);
    ink.rect(i0, i0, i0 + b, hf - i0);
    ink.rect(wf - i0 - b, i0, wf - i0, hf - i0);

    let em = EM_M * t * fit;
    let mut top = PAD_M * t;
    for (names, dist, arrow) in &rows {
        let row_h = names.len() as f32 * LINE_M * t;
        let names_x = (PAD_M * 2.0 + ARROW_M) * t;
        arrow_shape(
            &mut ink,
            *arrow,
            PAD_M * t + ARROW_M * t * 0.5,
            top + row_h * 0.5,
            ARROW_M * t,
        );
        for (k, line) in names.iter().enumerate() {
            let baseline = top + (k as f32 + BASELINE_SHARE) * LINE_M * t;
            ink.text(&line.run, names_x, baseline, em);
        }
        // The figure lines up with the last (Latin) name line.
        let baseline = top + (names.len() as f32 - 1.0 + BASELINE_SHARE) * LINE_M * t;
        let dist_x = wf - PAD_M * t - dist.width_m * t * fit;
        ink.text(&dist.run, dist_x, baseline, em);
        top += row_h + ROW_GAP_M * t;
    }

    let bg = content.style.background.map(f32::from);
    let fg = content.style.text.map(f32::from);
    let texels = ink
        .cov
        .iter()
        .map(|&a| {
            [
                bg[0] + (fg[0] - bg[0]) * a,
                bg[1] + (fg[1] - bg[1]) * a,
                bg[2] + (fg[2] - bg[2]) * a,
            ]
        })
        .collect();
    Some(SignFace {
        w,
        h,
        texels,
        width_m: w as f32 / t,
        height_m: h as f32 / t,
    })
}

/// An arrow filling a `size`-pixel square centred at (`cx`, `cy`).
fn arrow_shape(ink: &mut Ink, arrow: Arrow, cx: f32, cy: f32, size: f32) {
    // Pointing up, in units of the square's side, y down.
    const UP: [(f32, f32); 7] = [
        (0.0, -0.5),
        (0.42, -0.04),
        (0.13, -0.04),
        (0.13, 0.5),
        (-0.13, 0.5),
        (-0.13, -0.04),
        (-0.42, -0.04),
    ];
    let pts: Vec<(f32, f32)> = UP
        .iter()
        .map(|&(x, y)| {
            let (x, y) = match arrow {
                Arrow::Ahead => (x, y),
                Arrow::Right => (-y, x),
                Arrow::Left => (y, -x),
            };
            (cx + x * size, cy + y * size)
        })
        .collect();
    ink.polygon(&pts);
}
#[cfg(test)]
mod tests;
